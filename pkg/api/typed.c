/* Typed values of the schema that upstream normalizes while decoding a
 * body into its Go structs: every field of type resource.Quantity is
 * parsed and rewritten to Quantity.String()'s canonical text, so what is
 * stored (and what kubectl describe parses later) is always well formed.
 * https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/ */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "util/quantity.h"
#include "api/schema.h"
#include "api/schema_tables.h"
#include "util/alloc.h"

typedef struct {
  char path[512];
  const char *err;
  char bad_path[512];
} walk_t;

static size_t push(walk_t *w, const char *name, int idx) {
  size_t old = strlen(w->path);
  if (idx >= 0)
    snprintf(w->path + old, sizeof(w->path) - old, "[%d]", idx);
  else
    snprintf(w->path + old, sizeof(w->path) - old, "%s%s", old ? "." : "", name);
  return old;
}

/* Canonicalize one quantity value in place; false (w->err set) if bad. */
static bool fix_quantity(walk_t *w, cJSON *v) {
  quantity_t q;
  const char *err = NULL;
  int r;
  if (cJSON_IsString(v))
    r = quantity_parse(v->valuestring, strlen(v->valuestring), &q, &err);
  else if (cJSON_IsNumber(v))
    r = quantity_from_double(v->valuedouble, &q, &err);
  else
    return true; /* null (unset) or a type mismatch schema_check reports */
  if (r < 0) {
    w->err = err;
    snprintf(w->bad_path, sizeof(w->bad_path), "%s", w->path);
    return false;
  }
  char text[QUANTITY_STR_MAX];
  if (quantity_format(&q, text, sizeof(text)) < 0)
    return true; /* cannot happen: QUANTITY_STR_MAX holds every form */
  if (cJSON_IsString(v) && !strcmp(v->valuestring, text))
    return true;
  /* Turn v into the string in place: it keeps its key and its place. */
  cJSON *s = cJSON_CreateString(text);
  if (cJSON_IsString(v))
    cJSON_free(v->valuestring);
  v->type = cJSON_String | (v->type & cJSON_StringIsConst);
  v->valuestring = s->valuestring;
  v->valuedouble = 0;
  v->valueint = 0;
  s->valuestring = NULL;
  cJSON_Delete(s);
  return true;
}

static bool walk_object(walk_t *w, const schema_type_t *t, cJSON *obj, int depth);

static bool walk_value(walk_t *w, const schema_field_t *f, cJSON *v, int depth) {
  if (f->kind == SCHEMA_QUANTITY)
    return fix_quantity(w, v);
  if (f->kind == SCHEMA_OBJECT && f->type)
    return walk_object(w, f->type, v, depth + 1);
  return true;
}

static bool walk_field(walk_t *w, const schema_field_t *f, cJSON *v, int depth) {
  if (f->container == SCHEMA_LIST) {
    if (!cJSON_IsArray(v))
      return true;
    int i = 0;
    for (cJSON *e = v->child; e; e = e->next, i++) {
      size_t old = push(w, NULL, i);
      bool ok = walk_value(w, f, e, depth);
      w->path[old] = 0;
      if (!ok)
        return false;
    }
    return true;
  }
  if (f->container == SCHEMA_MAP) {
    if (!cJSON_IsObject(v))
      return true;
    for (cJSON *e = v->child; e; e = e->next) {
      size_t old = push(w, e->string ? e->string : "", -1);
      bool ok = walk_value(w, f, e, depth);
      w->path[old] = 0;
      if (!ok)
        return false;
    }
    return true;
  }
  return walk_value(w, f, v, depth);
}

/* Which types (transitively) hold a quantity, so walks skip the rest:
 * computed once over all types as a fixed point (types can be recursive,
 * JSONSchemaProps). Any thread: the loop's and offloaded requests'. */
static unsigned char *quantity_memo; /* per index of schema__types: 1 = no, 2 = yes */
static pthread_once_t quantity_once = PTHREAD_ONCE_INIT;

static void quantity_memo_build(void) {
  unsigned char *memo = xcalloc(schema__ntypes ? schema__ntypes : 1, 1);
  for (size_t i = 0; i < schema__ntypes; i++)
    memo[i] = 1;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < schema__ntypes; i++) {
      if (memo[i] == 2)
        continue;
      const schema_type_t *ty = &schema__types[i];
      for (size_t j = 0; j < ty->nfields; j++) {
        const schema_field_t *f = &ty->fields[j];
        if (f->kind == SCHEMA_QUANTITY ||
            (f->kind == SCHEMA_OBJECT && f->type && memo[f->type - schema__types] == 2)) {
          memo[i] = 2;
          changed = true;
          break;
        }
      }
    }
  }
  quantity_memo = memo;
}

static bool has_quantity(const schema_type_t *t) {
  if (!t)
    return false;
  pthread_once(&quantity_once, quantity_memo_build);
  if (t < schema__types || t >= schema__types + schema__ntypes)
    return true; /* not from the tables: walk it */
  return quantity_memo[t - schema__types] == 2;
}

static bool walk_object(walk_t *w, const schema_type_t *t, cJSON *obj, int depth) {
  if (depth > 64 || !cJSON_IsObject(obj))
    return true;
  for (cJSON *e = obj->child; e; e = e->next) {
    const schema_field_t *f = e->string ? schema_field_find(t, e->string) : NULL;
    if (!f || (f->kind == SCHEMA_OBJECT && !has_quantity(f->type)))
      continue;
    size_t old = push(w, e->string, -1);
    bool ok = walk_field(w, f, e, depth);
    w->path[old] = 0;
    if (!ok)
      return false;
  }
  return true;
}

int api__typed_canonicalize(const api_resource_t *res, cJSON *obj, api_status_t *st) {
  if (!res->s->type)
    return 0;
  walk_t w;
  memset(&w, 0, sizeof(w));
  if (walk_object(&w, res->s->type, obj, 0))
    return 0;
  /* Upstream fails while decoding the body: a BadRequest whose message
   * has no field (transformDecodeError); the cause says where. */
  api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: %s", res->s->kind,
                         res->s->version, res->s->kind, w.err);
  api_status_add_cause(st, "FieldValueInvalid", w.bad_path, w.err);
  return -EINVAL;
}
