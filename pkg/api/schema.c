/* pkg/api/schema: look-ups over the generated type tables, strict field
 * validation of JSON objects against them, and the strategic-merge-patch view
 * of the schema. Implements Kubernetes' strict field validation
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation)
 * and the patchStrategy/patchMergeKey metadata of the API types. */
#include "api/schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema_tables.h"
#include "util/strmap.h"

static int type_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const schema_type_t *)elem)->name);
}

const schema_type_t *schema_type_find(const char *name) {
  if (!name)
    return NULL;
  return bsearch(name, schema__types, schema__ntypes, sizeof(schema_type_t), type_cmp);
}

const schema_field_t *schema_field_find(const schema_type_t *t, const char *name) {
  if (!t || !name || !*name)
    return NULL;
  for (size_t i = 0; i < t->nfields; i++)
    if (strcmp(t->fields[i].name, name) == 0)
      return &t->fields[i];
  return NULL;
}

const schema_type_t *schema_type_for_kind(const char *api_version, const char *kind) {
  if (!api_version || !kind)
    return NULL;
  for (size_t i = 0; i < schema__nkinds; i++)
    if (strcmp(schema__kinds[i].kind, kind) == 0 &&
        strcmp(schema__kinds[i].api_version, api_version) == 0)
      return schema__kinds[i].type;
  /* meta.k8s.io kinds that every group-version also serves. */
  if (strcmp(kind, "DeleteOptions") == 0 || strcmp(kind, "Status") == 0)
    return schema_type_for_kind("v1", kind);
  return NULL;
}

/* ---- strategic merge patch ---- */

static const void *smp_field(const void *type, const char *name, smp_field_info_t *ret_info) {
  const schema_field_t *f = schema_field_find(type, name);
  smp_field_info_t info = {0};
  if (f) {
    if (f->container == SCHEMA_LIST && (f->patch & SCHEMA_PATCH_MERGE)) {
      info.list_strategy = SMP_LIST_MERGE;
      info.merge_key = f->merge_key;
    }
    info.retain_keys = (f->patch & SCHEMA_PATCH_RETAIN_KEYS) != 0;
  }
  if (ret_info)
    *ret_info = info;
  return f && f->kind == SCHEMA_OBJECT ? f->type : NULL;
}

const smp_schema_t schema_smp = {.field = smp_field};

/* ---- strict validation ---- */

typedef struct {
  schema_problem_cb cb;
  void *data;
  int n;
  char path[1024];
} check_t;

static const char *json_type_name(const cJSON *v) {
  if (cJSON_IsString(v))
    return "string";
  if (cJSON_IsNumber(v))
    return fabs(v->valuedouble - trunc(v->valuedouble)) == 0 ? "integer" : "number";
  if (cJSON_IsBool(v))
    return "boolean";
  if (cJSON_IsArray(v))
    return "array";
  if (cJSON_IsObject(v))
    return "object";
  return "null";
}

static void problem(check_t *c, bool unknown, const char *a, const char *b) {
  char msg[3200];
  if (unknown)
    snprintf(msg, sizeof msg, "unknown field \"%s\"", c->path);
  else
    snprintf(msg, sizeof msg, "%s: Invalid value: \"%s\": %s in body must be of type %s: \"%s\"",
             c->path, a, c->path, b, a);
  c->n++;
  if (c->cb)
    c->cb(c->path, unknown, msg, c->data);
}

static void check_object(check_t *c, const schema_type_t *t, const cJSON *obj, int depth);

/* Is v acceptable as one value of kind k? Returns the wanted type name when not. */
static const char *scalar_mismatch(schema_kind_t k, const cJSON *v) {
  switch (k) {
  case SCHEMA_STRING:
  case SCHEMA_BYTES:
  case SCHEMA_TIME:
  case SCHEMA_MICROTIME:
  case SCHEMA_DURATION:
    return cJSON_IsString(v) ? NULL : "string";
  case SCHEMA_BOOL:
    return cJSON_IsBool(v) ? NULL : "boolean";
  case SCHEMA_INT32:
  case SCHEMA_INT64:
    return cJSON_IsNumber(v) && strcmp(json_type_name(v), "integer") == 0 ? NULL : "integer";
  case SCHEMA_DOUBLE:
    return cJSON_IsNumber(v) ? NULL : "number";
  case SCHEMA_QUANTITY:
  case SCHEMA_INT_OR_STRING:
    return cJSON_IsString(v) || cJSON_IsNumber(v) ? NULL : "string";
  case SCHEMA_OBJECT:
    return cJSON_IsObject(v) ? NULL : "object";
  case SCHEMA_RAW:
    return NULL;
  }
  return NULL;
}

/* Append to the path; returns the old length to restore. */
static size_t path_push(check_t *c, const char *fmt, const char *s, int idx) {
  size_t old = strlen(c->path);
  size_t room = sizeof c->path - old;
  if (idx >= 0)
    snprintf(c->path + old, room, "[%d]", idx);
  else
    snprintf(c->path + old, room, fmt, old ? "." : "", s);
  return old;
}

/* A float64 as Go's encoding/json writes it (shortest digits; exponent form
 * below 1e-6 and from 1e21): the number upstream's decoder quotes. */
static void go_float(double f, char *out, size_t n) {
  char e[40];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(e, sizeof(e), "%.*e", prec - 1, f);
    if (strtod(e, NULL) == f)
      break;
  }
  snprintf(e, sizeof(e), "%.*e", prec - 1, f);
  double a = fabs(f);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    /* C's %e already has Go's two-digit exponent; Go trims "e-07" to "e-7" */
    char *x = strchr(e, 'e');
    if (x && x[1] == '-' && x[2] == '0' && x[3] && !x[4])
      memmove(x + 2, x + 3, 2);
    snprintf(out, n, "%s", e);
    return;
  }
  /* digits and decimal exponent from the %e form, laid out in fixed notation */
  char digits[24];
  size_t nd = 0;
  const char *p = e;
  bool neg = *p == '-';
  if (neg)
    p++;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9' && nd < sizeof(digits) - 1)
      digits[nd++] = *p;
  digits[nd] = '\0';
  int ex = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
  while (nd > 1 && digits[nd - 1] == '0')
    digits[--nd] = '\0';
  char buf[64]; /* |f| in [1e-6, 1e21): sign, "0.", 6 zeros and 23 digits, or 22 digits, "." and 23 */
  size_t o = 0;
  if (neg)
    buf[o++] = '-';
  if (ex < 0) {
    buf[o++] = '0';
    buf[o++] = '.';
    for (int i = -1; i > ex; i--)
      buf[o++] = '0';
    for (size_t i = 0; i < nd; i++)
      buf[o++] = digits[i];
  } else {
    for (int i = 0; i <= ex; i++)
      buf[o++] = (size_t)i < nd ? digits[i] : '0';
    if ((size_t)ex + 1 < nd) {
      buf[o++] = '.';
      for (size_t i = (size_t)ex + 1; i < nd; i++)
        buf[o++] = digits[i];
    }
  }
  buf[o] = '\0';
  snprintf(out, n, "%s", buf);
}

/* Duplicate keys (in structs and in maps): upstream rejects them in strict
 * mode too. seen holds the keys met so far in this object (borrowed), so
 * a 40,000-key map costs 40,000 lookups, not 800 million comparisons. */
static void check_duplicate(check_t *c, strmap_t *seen, const cJSON *e, bool report) {
  if (!e->string || strmap_put(seen, e->string, (void *)e, NULL) != -EEXIST || !report)
    return;
  char msg[1100 + 24];
  snprintf(msg, sizeof msg, "duplicate field \"%s\"", c->path);
  c->n++;
  if (c->cb)
    c->cb(c->path, true, msg, c->data);
}

/* An integral number outside int32/int64: upstream's typed decoder fails
 * with "json: cannot unmarshal number 1.2e+29 into Go struct field
 * DeploymentSpec.spec.replicas of type int32" (struct: the Go type holding
 * the field; path: JSON names without list indices). */
static bool out_of_range(check_t *c, const schema_type_t *parent, const schema_field_t *f,
                         const cJSON *v) {
  if (!cJSON_IsNumber(v) || (f->kind != SCHEMA_INT32 && f->kind != SCHEMA_INT64))
    return false;
  double d = v->valuedouble;
  bool bad = f->kind == SCHEMA_INT32 ? d < -2147483648.0 || d > 2147483647.0
                                     : d < -9223372036854775808.0 || d >= 9223372036854775808.0;
  if (!bad)
    return false;
  char num[64], path[1024];
  go_float(d, num, sizeof(num));
  size_t o = 0;
  for (const char *p = c->path; *p && o < sizeof(path) - 1; p++) {
    if (*p == '[') {
      while (*p && *p != ']')
        p++;
      if (!*p)
        break;
      continue;
    }
    path[o++] = *p;
  }
  path[o] = '\0';
  const char *sname = parent && parent->name ? strrchr(parent->name, '.') : NULL;
  sname = sname ? sname + 1 : parent && parent->name ? parent->name : "";
  char msg[1200];
  snprintf(msg, sizeof msg, "json: cannot unmarshal number %s into Go struct field %s.%s of type %s", num,
           sname, path, f->kind == SCHEMA_INT32 ? "int32" : "int64");
  c->n++;
  if (c->cb)
    c->cb(c->path, false, msg, c->data);
  return true;
}

static void check_value(check_t *c, const schema_type_t *parent, const schema_field_t *f,
                        const cJSON *v, int depth) {
  if (cJSON_IsNull(v))
    return;
  const char *want = scalar_mismatch(f->kind, v);
  if (want) {
    problem(c, false, json_type_name(v), want);
    return;
  }
  if (out_of_range(c, parent, f, v))
    return;
  if (f->kind == SCHEMA_OBJECT && f->type)
    check_object(c, f->type, v, depth + 1);
}

static void check_field(check_t *c, const schema_type_t *parent, const schema_field_t *f,
                        const cJSON *v, int depth) {
  if (cJSON_IsNull(v))
    return;
  if (f->container == SCHEMA_LIST) {
    if (!cJSON_IsArray(v)) {
      problem(c, false, json_type_name(v), "array");
      return;
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
      size_t old = path_push(c, NULL, NULL, i);
      check_value(c, parent, f, e, depth);
      c->path[old] = 0;
    }
  } else if (f->container == SCHEMA_MAP) {
    if (!cJSON_IsObject(v)) {
      problem(c, false, json_type_name(v), "object");
      return;
    }
    strmap_t seen;
    strmap_init(&seen);
    for (const cJSON *e = v->child; e; e = e->next) {
      size_t old = path_push(c, "%s%s", e->string ? e->string : "", -1);
      check_duplicate(c, &seen, e, true);
      check_value(c, parent, f, e, depth);
      c->path[old] = 0;
    }
    strmap_done(&seen);
  } else {
    check_value(c, parent, f, v, depth);
  }
}

static void check_object(check_t *c, const schema_type_t *t, const cJSON *obj, int depth) {
  if (depth > 64 || !cJSON_IsObject(obj))
    return;
  strmap_t seen;
  strmap_init(&seen);
  for (const cJSON *e = obj->child; e; e = e->next) {
    const char *name = e->string ? e->string : "";
    size_t old = path_push(c, "%s%s", name, -1);
    const schema_field_t *f = schema_field_find(t, name);
    check_duplicate(c, &seen, e, f != NULL);
    if (!f) {
      if (!t->preserve_unknown)
        problem(c, true, NULL, NULL);
    } else {
      check_field(c, t, f, e, depth);
    }
    c->path[old] = 0;
  }
  strmap_done(&seen);
}

int schema_check(const schema_type_t *t, const cJSON *obj, schema_problem_cb cb, void *data) {
  check_t c = {.cb = cb, .data = data};
  if (!t)
    return 0;
  if (!cJSON_IsObject(obj)) {
    c.n++;
    if (cb)
      cb("", false, "body must be a JSON object", data);
    return c.n;
  }
  check_object(&c, t, obj, 0);
  return c.n;
}
