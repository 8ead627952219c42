/* Structural schema enforcement for custom resources (crdschema.h).
 * Keywords: type, nullable, properties, additionalProperties, items,
 * required, enum, pattern (RE2 syntax, linear-time util/regex.h), minimum, maximum,
 * exclusiveMinimum/Maximum, minLength, maxLength, minItems, maxItems,
 * default, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
 * x-kubernetes-embedded-resource, x-kubernetes-list-type set/map uniqueness. */
#include "api/crdschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/regex.h"
#include "json/util.h"
#include "util/strmap.h"

#define MAX_DEPTH 64

static const cJSON *kw(const cJSON *schema, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(schema, name);
}

static bool preserves(const cJSON *schema) {
  return cJSON_IsTrue(kw(schema, "x-kubernetes-preserve-unknown-fields")) ||
         cJSON_IsTrue(kw(schema, "x-kubernetes-embedded-resource"));
}

static void child_path(char *out, size_t n, const char *base, const char *key) {
  if (base[0])
    snprintf(out, n, "%s.%s", base, key);
  else
    snprintf(out, n, "%s", key);
}

/* Key lookups in one object, many times: a hash index (json/util.h) when
 * the object is big, so an object of K keys against P properties costs
 * O(K + P), not O(K * P). Small objects keep the plain scan. */
#define INDEX_MIN 16

typedef struct {
  const cJSON *obj;
  strmap_t idx;
  bool indexed;
} keys_t;

static void keys_init(keys_t *k, const cJSON *obj) {
  k->obj = obj;
  k->indexed = false;
  int n = 0;
  for (const cJSON *c = obj ? obj->child : NULL; c && n < INDEX_MIN; c = c->next)
    n++;
  if (n >= INDEX_MIN) {
    json_index_init(&k->idx, obj);
    k->indexed = true;
  }
}

static cJSON *keys_get(const keys_t *k, const char *key) {
  if (!k->obj || !key)
    return NULL;
  return k->indexed ? json_index_get(&k->idx, key) : cJSON_GetObjectItemCaseSensitive(k->obj, key);
}

static void keys_done(keys_t *k) {
  if (k->indexed)
    json_index_done(&k->idx);
}

/* ---- defaulting ---- */

static void apply_defaults(const cJSON *schema, cJSON *obj, int depth) {
  if (!schema || depth > MAX_DEPTH)
    return;
  if (cJSON_IsObject(obj)) {
    const cJSON *props = kw(schema, "properties");
    const cJSON *p;
    keys_t have;
    keys_init(&have, obj);
    cJSON_ArrayForEach(p, props) {
      const cJSON *def = kw(p, "default");
      cJSON *child = keys_get(&have, p->string);
      if (def && !child) {
        child = cJSON_Duplicate(def, 1);
        cJSON_AddItemToObject(obj, p->string, child);
      }
      if (child)
        apply_defaults(p, child, depth + 1);
    }
    keys_done(&have);
    const cJSON *ap = kw(schema, "additionalProperties");
    if (cJSON_IsObject(ap)) {
      cJSON *c;
      cJSON_ArrayForEach(c, obj) apply_defaults(ap, c, depth + 1);
    }
  } else if (cJSON_IsArray(obj)) {
    const cJSON *items = kw(schema, "items");
    cJSON *c;
    cJSON_ArrayForEach(c, obj) apply_defaults(items, c, depth + 1);
  }
}

void crd_schema_default(const cJSON *schema, cJSON *obj) { apply_defaults(schema, obj, 0); }

/* ---- pruning ---- */

static void prune(const cJSON *schema, cJSON *obj, const char *path, bool root, crd_unknown_cb cb,
                  void *data, int depth) {
  if (!schema || depth > MAX_DEPTH)
    return;
  char sub[1024];
  if (cJSON_IsObject(obj)) {
    const cJSON *props = kw(schema, "properties");
    const cJSON *ap = kw(schema, "additionalProperties");
    bool keep_all = preserves(schema) || cJSON_IsTrue(ap) || (cJSON_IsObject(ap) && !props);
    keys_t pk;
    keys_init(&pk, props);
    cJSON *c = obj->child;
    while (c) {
      cJSON *next = c->next;
      child_path(sub, sizeof(sub), path, c->string);
      const cJSON *ps = keys_get(&pk, c->string);
      bool meta = root && (!strcmp(c->string, "apiVersion") || !strcmp(c->string, "kind") ||
                           !strcmp(c->string, "metadata"));
      if (meta) {
        /* metadata is validated as ObjectMeta elsewhere */
      } else if (ps) {
        prune(ps, c, sub, false, cb, data, depth + 1);
      } else if (cJSON_IsObject(ap)) {
        prune(ap, c, sub, false, cb, data, depth + 1);
      } else if (!keep_all) {
        if (cb)
          cb(sub, data);
        cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
      }
      c = next;
    }
    keys_done(&pk);
  } else if (cJSON_IsArray(obj)) {
    const cJSON *items = kw(schema, "items");
    int i = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, obj) {
      snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
      prune(items, c, sub, false, cb, data, depth + 1);
    }
  }
}

void crd_schema_prune(const cJSON *schema, cJSON *obj, crd_unknown_cb cb, void *data) {
  prune(schema, obj, "", true, cb, data, 0);
}

/* ---- patterns ---- */

struct crd_patterns {
  strmap_t by_text; /* pattern text (borrowed from the schema) -> regex_prog_t */
};

static void patterns_collect(crd_patterns_t *ps, const cJSON *schema, int depth) {
  if (!cJSON_IsObject(schema) || depth > MAX_DEPTH)
    return;
  const cJSON *pat = kw(schema, "pattern");
  if (cJSON_IsString(pat) && !strmap_has(&ps->by_text, pat->valuestring)) {
    regex_prog_t *re = NULL;
    char err[256];
    if (regex_prog_compile(pat->valuestring, &re, err, sizeof(err)) == 0 &&
        strmap_put(&ps->by_text, pat->valuestring, re, NULL) < 0)
      regex_prog_free(re);
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, kw(schema, "properties")) patterns_collect(ps, c, depth + 1);
  patterns_collect(ps, kw(schema, "items"), depth + 1);
  patterns_collect(ps, kw(schema, "additionalProperties"), depth + 1);
}

crd_patterns_t *crd_patterns_new(const cJSON *schema) {
  crd_patterns_t *ps = xcalloc(1, sizeof(*ps));
  strmap_init(&ps->by_text);
  patterns_collect(ps, schema, 0);
  return ps;
}

void crd_patterns_free(crd_patterns_t *ps) {
  if (!ps)
    return;
  for (size_t i = 0; i < ps->by_text._cap; i++)
    if (ps->by_text._slots[i].key)
      regex_prog_free(ps->by_text._slots[i].value);
  strmap_done(&ps->by_text);
  free(ps);
}

/* ---- validation ---- */

typedef struct {
  api_status_t *st;
  const crd_patterns_t *pats;
  uint64_t budget; /* NFA steps left for this object's pattern checks */
  bool over;       /* budget ran out: reported once, no more pattern checks */
} vctx_t;

static const char *json_type(const cJSON *v) {
  if (cJSON_IsString(v))
    return "string";
  if (cJSON_IsBool(v))
    return "boolean";
  if (cJSON_IsNumber(v))
    return v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15 ? "integer"
                                                                                  : "number";
  if (cJSON_IsArray(v))
    return "array";
  if (cJSON_IsObject(v))
    return "object";
  return "null";
}

/* The value as upstream prints it in messages: strings quoted, others bare. */
static void value_text(const cJSON *v, char *out, size_t n) {
  if (cJSON_IsString(v)) {
    snprintf(out, n, "\"%s\"", v->valuestring);
    return;
  }
  char *s = cJSON_PrintUnformatted(v);
  snprintf(out, n, "%s", s ? s : "null");
  free(s);
}

static bool type_ok(const char *want, const cJSON *v, const cJSON *schema) {
  const char *have = json_type(v);
  if (cJSON_IsTrue(kw(schema, "x-kubernetes-int-or-string")))
    return !strcmp(have, "integer") || !strcmp(have, "string");
  if (!want)
    return true;
  if (!strcmp(want, "number"))
    return !strcmp(have, "number") || !strcmp(have, "integer");
  return !strcmp(want, have);
}

static int validate(const cJSON *schema, const cJSON *v, const char *path, vctx_t *x, int depth);

static int problem(api_status_t *st, const char *reason, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int problem(api_status_t *st, const char *reason, const char *path, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  api_status_add_cause(st, reason, path[0] ? path : "<root>", msg);
  return 1;
}

static int validate_number(const cJSON *schema, const cJSON *v, const char *path, api_status_t *st) {
  int n = 0;
  char val[64];
  value_text(v, val, sizeof(val));
  const cJSON *min = kw(schema, "minimum"), *max = kw(schema, "maximum");
  bool xmin = cJSON_IsTrue(kw(schema, "exclusiveMinimum"));
  bool xmax = cJSON_IsTrue(kw(schema, "exclusiveMaximum"));
  if (cJSON_IsNumber(min) && (xmin ? v->valuedouble <= min->valuedouble : v->valuedouble < min->valuedouble))
    n += problem(st, "FieldValueInvalid", path, "Invalid value: %s: %s in body should be greater than %s%g",
                 val, path, xmin ? "" : "or equal to ", min->valuedouble);
  if (cJSON_IsNumber(max) && (xmax ? v->valuedouble >= max->valuedouble : v->valuedouble > max->valuedouble))
    n += problem(st, "FieldValueInvalid", path, "Invalid value: %s: %s in body should be less than %s%g",
                 val, path, xmax ? "" : "or equal to ", max->valuedouble);
  return n;
}

static int validate_string(const cJSON *schema, const cJSON *v, const char *path, vctx_t *x) {
  api_status_t *st = x->st;
  int n = 0;
  size_t len = strlen(v->valuestring);
  const cJSON *minl = kw(schema, "minLength"), *maxl = kw(schema, "maxLength");
  if (cJSON_IsNumber(minl) && (double)len < minl->valuedouble)
    n += problem(st, "FieldValueInvalid", path, "Invalid value: \"%s\": %s in body should be at least %d chars long",
                 v->valuestring, path, minl->valueint);
  if (cJSON_IsNumber(maxl) && (double)len > maxl->valuedouble)
    n += problem(st, "FieldValueTooLong", path, "Too long: may not be more than %d bytes", maxl->valueint);
  const cJSON *pat = kw(schema, "pattern");
  const regex_prog_t *re = cJSON_IsString(pat) && x->pats && !x->over
                               ? strmap_get(&x->pats->by_text, pat->valuestring)
                               : NULL;
  if (re) {
    int m = regex_prog_match(re, v->valuestring, len, &x->budget);
    if (m == 0)
      n += problem(st, "FieldValueInvalid", path, "Invalid value: \"%s\": %s in body should match '%s'",
                   v->valuestring, path, pat->valuestring);
    else if (m < 0) {
      x->over = true;
      n += problem(st, "FieldValueInvalid", path,
                   "Invalid value: %s: matching the object's strings against the schema's patterns "
                   "takes more than %u steps; use shorter values or simpler patterns",
                   path, (unsigned)CRD_PATTERN_BUDGET);
    }
  }
  return n;
}

/* ---- x-kubernetes-list-type set and map: unique items / keys ---- */

/* A value as Go's %#v prints it inside interface{} (strings quoted,
 * objects as map[string]interface {}{...} with sorted keys). */
static void go_value(buf_t *b, const cJSON *v, int depth) {
  if (depth > 8) {
    buf_append_str(b, "...");
  } else if (cJSON_IsString(v)) {
    buf_printf(b, "\"%s\"", v->valuestring);
  } else if (cJSON_IsObject(v)) {
    const cJSON *keys[64];
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
      if (n >= 64)
        break;
      int i = n++;
      while (i > 0 && strcmp(keys[i - 1]->string, c->string) > 0) {
        keys[i] = keys[i - 1];
        i--;
      }
      keys[i] = c;
    }
    buf_append_str(b, "map[string]interface {}{");
    for (int i = 0; i < n; i++) {
      buf_printf(b, "%s\"%s\":", i ? ", " : "", keys[i]->string);
      go_value(b, keys[i], depth + 1);
    }
    buf_append_str(b, "}");
  } else if (cJSON_IsArray(v)) {
    buf_append_str(b, "[]interface {}{");
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
      if (i++)
        buf_append_str(b, ", ");
      go_value(b, c, depth + 1);
    }
    buf_append_str(b, "}");
  } else {
    char text[128];
    value_text(v, text, sizeof(text));
    buf_append_str(b, text);
  }
}

/* Indices of second appearances (upstream validateListSet reports each
 * value once, at its first repeat). keys[i] NULL stands for "no key". */
static int list_duplicates(const cJSON *const *keys, int n, const char *path, bool as_map,
                           const char *key_field, api_status_t *st) {
  int found = 0;
  for (int i = 1; i < n; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++) {
      bool same = (!keys[i] && !keys[j]) || (keys[i] && keys[j] && cJSON_Compare(keys[i], keys[j], 1));
      if (same)
        seen++;
    }
    if (seen != 1)
      continue;
    char sub[1024];
    snprintf(sub, sizeof(sub), "%s[%d]", path, i);
    buf_t b;
    buf_init(&b, 4096);
    buf_append_str(&b, "Duplicate value: ");
    if (as_map && key_field) {
      buf_append_str(&b, "map[string]interface {}{");
      if (keys[i]) {
        buf_printf(&b, "\"%s\":", key_field);
        go_value(&b, keys[i], 0);
      }
      buf_append_str(&b, "}");
    } else if (!keys[i]) {
      buf_append_str(&b, "map[string]interface {}{}");
    } else if (cJSON_IsObject(keys[i]) || cJSON_IsArray(keys[i])) {
      go_value(&b, keys[i], 0);
    } else {
      char text[512];
      value_text(keys[i], text, sizeof(text));
      buf_append_str(&b, text);
    }
    api_status_add_cause(st, "FieldValueDuplicate", sub, b.data);
    buf_done(&b);
    found++;
  }
  return found;
}

static int validate_list_type(const cJSON *schema, const cJSON *v, const char *path,
                              api_status_t *st) {
  const cJSON *lt = kw(schema, "x-kubernetes-list-type");
  int n = cJSON_GetArraySize(v);
  if (!cJSON_IsString(lt) || n <= 1 || n > 4096)
    return 0;
  const cJSON **keys = xcalloc((size_t)n, sizeof(*keys));
  cJSON **owned = xcalloc((size_t)n, sizeof(*owned));
  int r = 0, i = 0;
  const cJSON *c;
  if (!strcmp(lt->valuestring, "set")) {
    cJSON_ArrayForEach(c, v) keys[i++] = c;
    r = list_duplicates(keys, n, path, false, NULL, st);
  } else if (!strcmp(lt->valuestring, "map")) {
    const cJSON *mk = kw(schema, "x-kubernetes-list-map-keys");
    int nk = cJSON_GetArraySize(mk);
    cJSON_ArrayForEach(c, v) {
      if (nk == 1) {
        const cJSON *k0 = cJSON_GetArrayItem(mk, 0);
        keys[i] = cJSON_IsString(k0) ? cJSON_GetObjectItemCaseSensitive(c, k0->valuestring) : NULL;
      } else {
        /* several key fields: the object of the present ones */
        cJSON *key = cJSON_CreateObject();
        const cJSON *k;
        cJSON_ArrayForEach(k, mk) {
          const cJSON *kv = cJSON_IsString(k) ? cJSON_GetObjectItemCaseSensitive(c, k->valuestring)
                                              : NULL;
          if (kv)
            cJSON_AddItemToObject(key, k->valuestring, cJSON_Duplicate(kv, 1));
        }
        owned[i] = key;
        keys[i] = key;
      }
      i++;
    }
    const cJSON *k0 = cJSON_GetArrayItem(mk, 0);
    r = list_duplicates(keys, n, path, nk == 1, nk == 1 && cJSON_IsString(k0) ? k0->valuestring : NULL,
                        st);
  }
  for (i = 0; i < n; i++)
    cJSON_Delete(owned[i]);
  free(owned);
  free(keys);
  return r;
}

static int validate(const cJSON *schema, const cJSON *v, const char *path, vctx_t *x, int depth) {
  if (!schema || depth > MAX_DEPTH)
    return 0;
  api_status_t *st = x->st;
  int n = 0;
  char val[512], sub[1024];
  if (cJSON_IsNull(v)) {
    if (cJSON_IsTrue(kw(schema, "nullable")))
      return 0;
    const cJSON *t = kw(schema, "type");
    return problem(st, "FieldValueTypeInvalid", path, "Invalid value: \"null\": %s in body must be of type %s: \"null\"",
                   path, cJSON_IsString(t) ? t->valuestring : "object");
  }
  const cJSON *t = kw(schema, "type");
  const char *want = cJSON_IsString(t) ? t->valuestring : NULL;
  if (!type_ok(want, v, schema)) {
    value_text(v, val, sizeof(val));
    return problem(st, "FieldValueTypeInvalid", path, "Invalid value: \"%s\": %s in body must be of type %s: %s",
                   json_type(v), path, want ? want : "int-or-string", val);
  }
  const cJSON *en = kw(schema, "enum");
  if (cJSON_IsArray(en)) {
    bool found = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, en) found |= cJSON_Compare(e, v, 1);
    if (!found) {
      char list[512] = "";
      size_t used = 0;
      cJSON_ArrayForEach(e, en) {
        char one[128];
        value_text(e, one, sizeof(one));
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", one);
        if (w < 0 || (size_t)w >= sizeof(list) - used)
          break;
        used += (size_t)w;
      }
      value_text(v, val, sizeof(val));
      n += problem(st, "FieldValueNotSupported", path, "Unsupported value: %s: supported values: %s", val, list);
    }
  }
  if (cJSON_IsNumber(v))
    n += validate_number(schema, v, path, st);
  if (cJSON_IsString(v))
    n += validate_string(schema, v, path, x);
  if (cJSON_IsArray(v)) {
    int count = cJSON_GetArraySize(v);
    const cJSON *mi = kw(schema, "minItems"), *ma = kw(schema, "maxItems");
    if (cJSON_IsNumber(mi) && count < mi->valueint)
      n += problem(st, "FieldValueInvalid", path, "Invalid value: %d: %s in body should have at least %d items",
                   count, path, mi->valueint);
    if (cJSON_IsNumber(ma) && count > ma->valueint)
      n += problem(st, "FieldValueTooMany", path, "Too many: %d: must have at most %d items", count, ma->valueint);
    const cJSON *items = kw(schema, "items");
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
      snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
      n += validate(items, c, sub, x, depth + 1);
    }
    n += validate_list_type(schema, v, path, st);
  }
  if (cJSON_IsObject(v)) {
    const cJSON *req;
    keys_t have, pk;
    keys_init(&have, v);
    cJSON_ArrayForEach(req, kw(schema, "required")) {
      if (cJSON_IsString(req) && !keys_get(&have, req->valuestring)) {
        child_path(sub, sizeof(sub), path, req->valuestring);
        n += problem(st, "FieldValueRequired", sub, "Required value");
      }
    }
    keys_done(&have);
    const cJSON *props = kw(schema, "properties");
    const cJSON *ap = kw(schema, "additionalProperties");
    keys_init(&pk, props);
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
      if (depth == 0 && (!strcmp(c->string, "apiVersion") || !strcmp(c->string, "kind") ||
                         !strcmp(c->string, "metadata")))
        continue;
      child_path(sub, sizeof(sub), path, c->string);
      const cJSON *ps = keys_get(&pk, c->string);
      if (ps)
        n += validate(ps, c, sub, x, depth + 1);
      else if (cJSON_IsObject(ap))
        n += validate(ap, c, sub, x, depth + 1);
    }
    keys_done(&pk);
  }
  return n;
}

int crd_schema_validate(const cJSON *schema, const crd_patterns_t *pats, const cJSON *obj,
                        api_status_t *st) {
  vctx_t x = {.st = st, .pats = pats, .budget = CRD_PATTERN_BUDGET};
  return validate(schema, obj, "", &x, 0);
}

static int check(const cJSON *schema, const char *field, api_status_t *st, int depth) {
  if (depth > MAX_DEPTH)
    return problem(st, "FieldValueInvalid", field, "Invalid value: the schema nests too deeply");
  if (!cJSON_IsObject(schema))
    return problem(st, "FieldValueInvalid", field, "Invalid value: must be an object");
  int n = 0;
  char sub[1024];
  const cJSON *t = kw(schema, "type");
  bool untyped_ok = preserves(schema) || cJSON_IsTrue(kw(schema, "x-kubernetes-int-or-string"));
  if (!t && !untyped_ok && depth > 0) {
    snprintf(sub, sizeof(sub), "%s.type", field);
    n += problem(st, "FieldValueRequired", sub, "Required value: must not be empty for specified object fields");
  }
  const cJSON *pat = kw(schema, "pattern");
  if (cJSON_IsString(pat)) {
    regex_prog_t *re = NULL;
    char why[256];
    if (regex_prog_compile(pat->valuestring, &re, why, sizeof(why)) < 0) {
      snprintf(sub, sizeof(sub), "%s.pattern", field);
      n += problem(st, "FieldValueInvalid", sub,
                   "Invalid value: \"%s\": must be a valid regular expression, but isn't: %s",
                   pat->valuestring, why);
    }
    regex_prog_free(re);
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, kw(schema, "properties")) {
    snprintf(sub, sizeof(sub), "%s.properties[%s]", field, c->string);
    n += check(c, sub, st, depth + 1);
  }
  const cJSON *items = kw(schema, "items");
  if (items) {
    snprintf(sub, sizeof(sub), "%s.items", field);
    n += check(items, sub, st, depth + 1);
  }
  const cJSON *ap = kw(schema, "additionalProperties");
  if (cJSON_IsObject(ap)) {
    snprintf(sub, sizeof(sub), "%s.additionalProperties", field);
    n += check(ap, sub, st, depth + 1);
  }
  return n;
}

int crd_schema_check(const cJSON *schema, const char *field, api_status_t *st) {
  return check(schema, field, st, 0);
}
