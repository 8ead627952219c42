/* pkg/api/openapi: the OpenAPI v3 documents of the served resources
 * (/openapi/v3 and /openapi/v3/api[s]/<group>/<version>), built from the
 * schema tables. Follows the shape of upstream kube-apiserver's documents
 * (OpenAPI 3.0, x-kubernetes-* extensions) as far as kubectl 1.32 reads them:
 * explain walks components.schemas, apply/create look for the PATCH operation
 * with the object's GVK and a fieldValidation parameter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openapi_internal.h"
#include "api/schema_tables.h"
#include "util/alloc.h"

#define REF_PREFIX "#/components/schemas/"
#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

/* ---- the set of types a document needs ---- */

typedef struct {
  const schema_type_t **v;
  size_t n, cap;
} typeset_t;

static bool typeset_has(const typeset_t *s, const schema_type_t *t) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == t || strcmp(s->v[i]->name, t->name) == 0)
      return true;
  return false;
}

static void typeset_add(typeset_t *s, const schema_type_t *t) {
  if (!t || typeset_has(s, t))
    return;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->v = xrealloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = t;
  for (size_t i = 0; i < t->nfields; i++)
    if (t->fields[i].name[0] && t->fields[i].kind == SCHEMA_OBJECT)
      typeset_add(s, t->fields[i].type);
}

/* ---- schemas ---- */

static cJSON *gvk_obj(const char *group, const char *version, const char *kind) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "group", group);
  cJSON_AddStringToObject(o, "kind", kind);
  cJSON_AddStringToObject(o, "version", version);
  return o;
}

static cJSON *ref(const char *name) {
  cJSON *o = cJSON_CreateObject();
  char *r = xasprintf(REF_PREFIX "%s", name);
  cJSON_AddStringToObject(o, "$ref", r);
  free(r);
  return o;
}

static cJSON *scalar_schema(const schema_field_t *f) {
  cJSON *o = cJSON_CreateObject();
  switch (f->kind) {
  case SCHEMA_STRING:
  case SCHEMA_DURATION:
    cJSON_AddStringToObject(o, "type", "string");
    break;
  case SCHEMA_BOOL:
    cJSON_AddStringToObject(o, "type", "boolean");
    break;
  case SCHEMA_INT32:
  case SCHEMA_INT64:
    cJSON_AddStringToObject(o, "type", "integer");
    cJSON_AddStringToObject(o, "format", f->kind == SCHEMA_INT32 ? "int32" : "int64");
    break;
  case SCHEMA_DOUBLE:
    cJSON_AddStringToObject(o, "type", "number");
    cJSON_AddStringToObject(o, "format", "double");
    break;
  case SCHEMA_BYTES:
    cJSON_AddStringToObject(o, "type", "string");
    cJSON_AddStringToObject(o, "format", "byte");
    break;
  case SCHEMA_TIME:
  case SCHEMA_MICROTIME:
    cJSON_AddStringToObject(o, "type", "string");
    cJSON_AddStringToObject(o, "format", "date-time");
    break;
  case SCHEMA_QUANTITY:
  case SCHEMA_INT_OR_STRING:
    cJSON_AddStringToObject(o, "type", "string");
    cJSON_AddStringToObject(o, "format",
                            f->kind == SCHEMA_QUANTITY ? "quantity" : "int-or-string");
    cJSON_AddBoolToObject(o, "x-kubernetes-int-or-string", true);
    break;
  case SCHEMA_RAW:
    cJSON_AddStringToObject(o, "type", "object");
    cJSON_AddBoolToObject(o, "x-kubernetes-preserve-unknown-fields", true);
    break;
  case SCHEMA_OBJECT:
    cJSON_Delete(o);
    return ref(f->type->name);
  }
  if (f->enums) {
    cJSON *e = cJSON_AddArrayToObject(o, "enum");
    for (const char *const *p = f->enums; *p; p++)
      cJSON_AddItemToArray(e, cJSON_CreateString(*p));
  }
  return o;
}

static cJSON *field_schema(const schema_field_t *f) {
  cJSON *o;
  if (f->container == SCHEMA_LIST || f->container == SCHEMA_MAP) {
    o = cJSON_CreateObject();
    cJSON *items = scalar_schema(f);
    if (f->kind == SCHEMA_OBJECT) { /* upstream wraps element refs in allOf with a default */
      cJSON *w = cJSON_CreateObject();
      cJSON_AddItemToArray(cJSON_AddArrayToObject(w, "allOf"), items);
      cJSON_AddItemToObject(w, "default", cJSON_CreateObject());
      items = w;
    }
    if (f->container == SCHEMA_LIST) {
      cJSON_AddStringToObject(o, "type", "array");
      cJSON_AddItemToObject(o, "items", items);
    } else {
      cJSON_AddStringToObject(o, "type", "object");
      cJSON_AddItemToObject(o, "additionalProperties", items);
    }
  } else if (f->kind == SCHEMA_OBJECT) {
    o = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "allOf"), ref(f->type->name));
    if (!f->pointer)
      cJSON_AddItemToObject(o, "default", cJSON_CreateObject());
  } else {
    o = scalar_schema(f);
  }
  if (f->description)
    cJSON_AddStringToObject(o, "description", f->description);
  static const char *const list_types[] = {NULL, "atomic", "set", "map"};
  if (f->container == SCHEMA_LIST && f->list_type && f->list_type < 4)
    cJSON_AddStringToObject(o, "x-kubernetes-list-type", list_types[f->list_type]);
  if (f->map_keys) {
    cJSON *k = cJSON_AddArrayToObject(o, "x-kubernetes-list-map-keys");
    const char *s = f->map_keys;
    while (*s) {
      size_t n = strcspn(s, ",");
      char *one = xstrndup(s, n);
      cJSON_AddItemToArray(k, cJSON_CreateString(one));
      free(one);
      s += n + (s[n] == ',');
    }
  }
  if (f->merge_key)
    cJSON_AddStringToObject(o, "x-kubernetes-patch-merge-key", f->merge_key);
  if (f->patch) {
    const char *ps = (f->patch & SCHEMA_PATCH_MERGE) && (f->patch & SCHEMA_PATCH_RETAIN_KEYS)
                         ? "merge,retainKeys"
                     : (f->patch & SCHEMA_PATCH_MERGE) ? "merge"
                                                        : "retainKeys";
    cJSON_AddStringToObject(o, "x-kubernetes-patch-strategy", ps);
  }
  return o;
}

/* The GVKs a type is the schema of (from the kinds table). */
static void add_type_gvks(cJSON *o, const schema_type_t *t) {
  cJSON *arr = NULL;
  for (size_t i = 0; i < schema__nkinds; i++) {
    if (schema__kinds[i].type != t)
      continue;
    if (!arr)
      arr = cJSON_AddArrayToObject(o, "x-kubernetes-group-version-kind");
    const char *av = schema__kinds[i].api_version, *slash = strchr(av, '/');
    char *g = slash ? xstrndup(av, (size_t)(slash - av)) : xstrdup("");
    cJSON_AddItemToArray(arr, gvk_obj(g, slash ? slash + 1 : av, schema__kinds[i].kind));
    free(g);
  }
}

cJSON *schema__openapi_type_schema(const schema_type_t *t) {
  cJSON *o = cJSON_CreateObject();
  if (t->description)
    cJSON_AddStringToObject(o, "description", t->description);
  cJSON_AddStringToObject(o, "type", "object");
  cJSON *props = cJSON_AddObjectToObject(o, "properties");
  cJSON *req = NULL;
  for (size_t i = 0; i < t->nfields; i++) {
    const schema_field_t *f = &t->fields[i];
    if (!f->name[0])
      continue;
    cJSON_AddItemToObject(props, f->name, field_schema(f));
    if (f->required) {
      if (!req)
        req = cJSON_CreateArray();
      cJSON_AddItemToArray(req, cJSON_CreateString(f->name));
    }
  }
  if (req)
    cJSON_AddItemToObject(o, "required", req);
  if (t->preserve_unknown)
    cJSON_AddBoolToObject(o, "x-kubernetes-preserve-unknown-fields", true);
  add_type_gvks(o, t);
  return o;
}

/* ---- paths ---- */

static cJSON *param(const char *name, const char *in, const char *desc, bool required) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "name", name);
  cJSON_AddStringToObject(p, "in", in);
  cJSON_AddStringToObject(p, "description", desc);
  if (required)
    cJSON_AddBoolToObject(p, "required", true);
  cJSON *s = cJSON_AddObjectToObject(p, "schema");
  cJSON_AddStringToObject(s, "type", strcmp(name, "force") == 0 || strcmp(name, "watch") == 0
                                         ? "boolean"
                                         : "string");
  cJSON_AddBoolToObject(s, "uniqueItems", true);
  return p;
}

static void add_write_params(cJSON *params, bool patch) {
  cJSON_AddItemToArray(params, param("dryRun", "query", "All: do not persist the change.", false));
  cJSON_AddItemToArray(params,
                       param("fieldManager", "query", "Name of the actor making the change.",
                             patch));
  cJSON_AddItemToArray(
      params, param("fieldValidation", "query",
                    "Ignore, Warn or Strict: what to do with unknown or duplicate fields.", false));
  if (patch)
    cJSON_AddItemToArray(params,
                         param("force", "query", "Server-side apply: take over conflicting fields.",
                               false));
}

static cJSON *content(const char *const *types, const char *schema_name) {
  cJSON *c = cJSON_CreateObject();
  for (const char *const *t = types; *t; t++) {
    cJSON *m = cJSON_AddObjectToObject(c, *t);
    cJSON_AddItemToObject(m, "schema", ref(schema_name));
  }
  return c;
}

static const char *const resp_types[] = {"application/json", "application/yaml",
                                         "application/vnd.kubernetes.protobuf", NULL};
static const char *const body_types[] = {"*/*", NULL};
static const char *const patch_types[] = {
    "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
    "application/strategic-merge-patch+json", NULL};

/* Custom resources take no strategic merge patch; kubectl reads this list
 * to choose between SMP and merge patch for `apply`. */
static const char *const custom_patch_types[] = {
    "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml",
    NULL};

typedef struct {
  const char *group, *version, *kind; /* GVK of the operation */
  const char *schema;                 /* schema name of the object */
  const char *idbase;                 /* "CoreV1NamespacedPod" */
  bool custom;                        /* a custom resource (no SMP) */
} opctx_t;

static cJSON *operation(const opctx_t *c, const char *verb, const char *action, const char *desc,
                        const char *resp_schema, const char *body_schema, bool patch,
                        const char *code) {
  cJSON *op = cJSON_CreateObject();
  char *id = xasprintf("%s%s", verb, c->idbase);
  cJSON_AddStringToObject(op, "description", desc);
  cJSON_AddStringToObject(op, "operationId", id);
  free(id);
  cJSON *params = cJSON_AddArrayToObject(op, "parameters");
  if (body_schema)
    add_write_params(params, patch);
  if (body_schema) {
    cJSON *rb = cJSON_AddObjectToObject(op, "requestBody");
    const char *const *types = !patch ? body_types : c->custom ? custom_patch_types : patch_types;
    cJSON_AddItemToObject(rb, "content", content(types, body_schema));
    cJSON_AddBoolToObject(rb, "required", true);
  }
  cJSON *responses = cJSON_AddObjectToObject(op, "responses");
  cJSON *ok = cJSON_AddObjectToObject(responses, code);
  cJSON_AddStringToObject(ok, "description", "OK");
  cJSON_AddItemToObject(ok, "content", content(resp_types, resp_schema));
  cJSON_AddStringToObject(cJSON_AddObjectToObject(responses, "401"), "description",
                          "Unauthorized");
  cJSON_AddStringToObject(op, "x-kubernetes-action", action);
  cJSON_AddItemToObject(op, "x-kubernetes-group-version-kind",
                        gvk_obj(c->group, c->version, c->kind));
  return op;
}

static void path_params(cJSON *item, bool ns, bool name) {
  cJSON *p = cJSON_AddArrayToObject(item, "parameters");
  if (name)
    cJSON_AddItemToArray(p, param("name", "path", "Name of the object.", true));
  if (ns)
    cJSON_AddItemToArray(p, param("namespace", "path", "Namespace of the objects.", true));
  cJSON_AddItemToArray(p, param("pretty", "query", "Indent the output.", false));
}

static char *camel_group(const char *group) {
  if (!*group)
    return xstrdup("Core");
  size_t n = strcspn(group, ".");
  char *s = xstrndup(group, n);
  if (s[0] >= 'a' && s[0] <= 'z')
    s[0] = (char)(s[0] - 'a' + 'A');
  return s;
}

static void add_resource_paths(cJSON *paths, const schema_resource_t *r, typeset_t *types) {
  char *prefix = *r->group ? xasprintf("/apis/%s/%s", r->group, r->version)
                           : xasprintf("/api/%s", r->version);
  const char *nsseg = r->namespaced ? "/namespaces/{namespace}" : "";
  char *coll = xasprintf("%s%s/%s", prefix, nsseg, r->plural);
  char *item = xasprintf("%s/{name}", coll);
  char *g = camel_group(r->group);
  const char *type_name = r->type ? r->type->name : r->schema_name;
  char *list_name = xasprintf("%sList", type_name);
  const schema_type_t *list_t = r->type ? schema_type_find(list_name) : NULL;
  bool custom = !r->type;
  char *idbase = xasprintf("%s%c%s%s%s", g, r->version[0] - 'a' + 'A', r->version + 1,
                           r->namespaced ? "Namespaced" : "", r->kind);
  opctx_t c = {r->group, r->version, r->kind, type_name, idbase, custom};

  if (r->type)
    typeset_add(types, r->type);
  if (list_t)
    typeset_add(types, list_t);

  cJSON *pi = cJSON_CreateObject();
  if ((r->verbs & SCHEMA_VERB_LIST) && (list_t || custom))
    cJSON_AddItemToObject(pi, "get",
                          operation(&c, "list", "list", "List or watch objects.", list_name, NULL,
                                    false, "200"));
  if (r->verbs & SCHEMA_VERB_CREATE)
    cJSON_AddItemToObject(pi, "post",
                          operation(&c, "create", "post", "Create an object.", type_name,
                                    type_name, false, "201"));
  if (r->verbs & SCHEMA_VERB_DELETECOLLECTION)
    cJSON_AddItemToObject(pi, "delete",
                          operation(&c, "deletecollection", "deletecollection",
                                    "Delete a collection of objects.", META "Status", NULL, false,
                                    "200"));
  if (pi->child) {
    path_params(pi, r->namespaced, false);
    cJSON_AddItemToObject(paths, coll, pi);
  } else {
    cJSON_Delete(pi);
  }

  if (r->verbs & (SCHEMA_VERB_GET | SCHEMA_VERB_UPDATE | SCHEMA_VERB_PATCH | SCHEMA_VERB_DELETE)) {
    pi = cJSON_CreateObject();
    if (r->verbs & SCHEMA_VERB_GET)
      cJSON_AddItemToObject(pi, "get",
                            operation(&c, "read", "get", "Read an object.", type_name, NULL,
                                      false, "200"));
    if (r->verbs & SCHEMA_VERB_UPDATE)
      cJSON_AddItemToObject(pi, "put",
                            operation(&c, "replace", "put", "Replace an object.", type_name,
                                      type_name, false, "200"));
    if (r->verbs & SCHEMA_VERB_DELETE)
      cJSON_AddItemToObject(pi, "delete",
                            operation(&c, "delete", "delete", "Delete an object.", META "Status",
                                      NULL, false, "200"));
    if (r->verbs & SCHEMA_VERB_PATCH)
      cJSON_AddItemToObject(pi, "patch",
                            operation(&c, "patch", "patch", "Partially update an object.",
                                      type_name, META "Patch", true, "200"));
    path_params(pi, r->namespaced, true);
    cJSON_AddItemToObject(paths, item, pi);
  }

  if ((r->verbs & SCHEMA_VERB_LIST) && r->namespaced && (list_t || custom)) {
    char *all = xasprintf("%s/%s", prefix, r->plural);
    char *id = xasprintf("%s%c%s%sForAllNamespaces", g, r->version[0] - 'a' + 'A',
                         r->version + 1, r->kind);
    opctx_t ca = {r->group, r->version, r->kind, type_name, id, custom};
    pi = cJSON_CreateObject();
    cJSON_AddItemToObject(pi, "get",
                          operation(&ca, "list", "list", "List or watch objects of all namespaces.",
                                    list_name, NULL, false, "200"));
    path_params(pi, false, false);
    cJSON_AddItemToObject(paths, all, pi);
    free(all);
    free(id);
  }

  for (const char *const *s = r->subresources; s && *s; s++) {
    const schema_type_t *st = NULL;
    opctx_t sc = c;
    bool rw = false; /* get/put/patch, else post only */
    const char *st_name = NULL;
    if (strcmp(*s, "status") == 0 || strcmp(*s, "approval") == 0) {
      st = r->type, rw = true;
      st_name = type_name;
    } else if (strcmp(*s, "scale") == 0) {
      st = schema_type_for_kind("autoscaling/v1", "Scale"), rw = true;
      sc.group = "autoscaling", sc.version = "v1", sc.kind = "Scale";
    } else if (strcmp(*s, "eviction") == 0) {
      st = schema_type_for_kind("policy/v1", "Eviction");
      sc.group = "policy", sc.version = "v1", sc.kind = "Eviction";
    } else if (strcmp(*s, "binding") == 0) {
      st = schema_type_for_kind("v1", "Binding");
      sc.group = "", sc.version = "v1", sc.kind = "Binding";
    } else if (strcmp(*s, "token") == 0) {
      st = schema_type_for_kind("authentication.k8s.io/v1", "TokenRequest");
      sc.group = "authentication.k8s.io", sc.version = "v1", sc.kind = "TokenRequest";
    }
    if (st)
      st_name = st->name;
    if (!st_name)
      continue;
    if (st)
      typeset_add(types, st);
    char *sp = xasprintf("%s/%s", item, *s);
    char *sid = xasprintf("%s%c%s", idbase, (*s)[0] - 'a' + 'A', *s + 1);
    sc.idbase = sid;
    sc.schema = st_name;
    pi = cJSON_CreateObject();
    if (rw) {
      cJSON_AddItemToObject(pi, "get",
                            operation(&sc, "read", "get", "Read a subresource.", st_name, NULL,
                                      false, "200"));
      cJSON_AddItemToObject(pi, "put",
                            operation(&sc, "replace", "put", "Replace a subresource.", st_name,
                                      st_name, false, "200"));
      cJSON_AddItemToObject(pi, "patch",
                            operation(&sc, "patch", "patch", "Partially update a subresource.",
                                      st_name, META "Patch", true, "200"));
    } else {
      cJSON_AddItemToObject(pi, "post",
                            operation(&sc, "create", "post", "Create a subresource.", st_name,
                                      st_name, false, "201"));
    }
    path_params(pi, r->namespaced, true);
    cJSON_AddItemToObject(paths, sp, pi);
    free(sp);
    free(sid);
  }
  free(prefix);
  free(coll);
  free(item);
  free(g);
  free(list_name);
  free(idbase);
}

/* A custom resource's schema: its openAPIV3Schema with the standard object
 * fields and its group-version-kind, as apiextensions-apiserver publishes. */
static cJSON *custom_schema(const schema_resource_t *r) {
  cJSON *s = r->json_schema ? cJSON_Duplicate(r->json_schema, 1) : cJSON_CreateObject();
  if (!cJSON_GetObjectItemCaseSensitive(s, "type"))
    cJSON_AddStringToObject(s, "type", "object");
  cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
  if (!cJSON_IsObject(props)) {
    cJSON_DeleteItemFromObjectCaseSensitive(s, "properties");
    props = cJSON_AddObjectToObject(s, "properties");
  }
  static const char *const strs[] = {"apiVersion", "kind"};
  for (size_t i = 0; i < 2; i++) {
    if (!cJSON_GetObjectItemCaseSensitive(props, strs[i])) {
      cJSON *p = cJSON_AddObjectToObject(props, strs[i]);
      cJSON_AddStringToObject(p, "type", "string");
    }
  }
  if (!cJSON_GetObjectItemCaseSensitive(props, "metadata"))
    cJSON_AddItemToObject(props, "metadata", ref(META "ObjectMeta"));
  cJSON *gvks = cJSON_AddArrayToObject(s, "x-kubernetes-group-version-kind");
  cJSON_AddItemToArray(gvks, gvk_obj(r->group, r->version, r->kind));
  return s;
}

static cJSON *custom_list_schema(const schema_resource_t *r) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "type", "object");
  cJSON *props = cJSON_AddObjectToObject(s, "properties");
  cJSON *items = cJSON_AddObjectToObject(props, "items");
  cJSON_AddStringToObject(items, "type", "array");
  cJSON_AddItemToObject(items, "items", ref(r->schema_name));
  cJSON_AddItemToObject(props, "metadata", ref(META "ListMeta"));
  cJSON *req = cJSON_AddArrayToObject(s, "required");
  cJSON_AddItemToArray(req, cJSON_CreateString("items"));
  char *kind = xasprintf("%sList", r->kind);
  cJSON *gvks = cJSON_AddArrayToObject(s, "x-kubernetes-group-version-kind");
  cJSON_AddItemToArray(gvks, gvk_obj(r->group, r->version, kind));
  free(kind);
  return s;
}

cJSON *schema__openapi_gv_doc(const schema_resource_t *const *res, size_t nres, const char *group,
                              const char *version) {
  typeset_t types = {0};
  cJSON *doc = NULL;
  size_t served = 0;
  for (size_t i = 0; i < nres; i++)
    if (strcmp(res[i]->group, group) == 0 && strcmp(res[i]->version, version) == 0)
      served++;
  if (!served)
    return NULL;
  doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "openapi", "3.0.0");
  cJSON *info = cJSON_AddObjectToObject(doc, "info");
  cJSON_AddStringToObject(info, "title", "Kubernetes");
  cJSON_AddStringToObject(info, "version", "v1.32.0");
  cJSON *paths = cJSON_AddObjectToObject(doc, "paths");
  for (size_t i = 0; i < nres; i++)
    if (strcmp(res[i]->group, group) == 0 && strcmp(res[i]->version, version) == 0)
      add_resource_paths(paths, res[i], &types);
  typeset_add(&types, schema_type_find(META "Status"));
  typeset_add(&types, schema_type_find(META "DeleteOptions"));
  for (size_t i = 0; i < nres; i++) /* custom resources refer to the meta types */
    if (!res[i]->type && !strcmp(res[i]->group, group) && !strcmp(res[i]->version, version)) {
      typeset_add(&types, schema_type_find(META "ObjectMeta"));
      typeset_add(&types, schema_type_find(META "ListMeta"));
      break;
    }
  cJSON *schemas = cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "components"), "schemas");
  /* Emit in name order so the document (and its hash) is stable. */
  for (size_t i = 1; i < types.n; i++)
    for (size_t j = i; j > 0 && strcmp(types.v[j - 1]->name, types.v[j]->name) > 0; j--) {
      const schema_type_t *tmp = types.v[j];
      types.v[j] = types.v[j - 1];
      types.v[j - 1] = tmp;
    }
  for (size_t i = 0; i < types.n; i++)
    cJSON_AddItemToObject(schemas, types.v[i]->name, schema__openapi_type_schema(types.v[i]));
  for (size_t i = 0; i < nres; i++) {
    const schema_resource_t *r = res[i];
    if (r->type || !r->schema_name || strcmp(r->group, group) || strcmp(r->version, version))
      continue;
    cJSON_AddItemToObject(schemas, r->schema_name, custom_schema(r));
    char *list = xasprintf("%sList", r->schema_name);
    cJSON_AddItemToObject(schemas, list, custom_list_schema(r));
    free(list);
  }
  cJSON *patch = cJSON_CreateObject();
  cJSON_AddStringToObject(patch, "description", "A patch document: JSON patch, merge patch, "
                                                "strategic merge patch or apply configuration.");
  cJSON_AddStringToObject(patch, "type", "object");
  cJSON_AddItemToObject(schemas, META "Patch", patch);
  free(types.v);
  return doc;
}

static char *print_doc(cJSON *doc, size_t *ret_len) {
  char *s = cJSON_PrintUnformatted(doc);
  if (!s)
    abort(); /* cJSON fails only on allocation failure: the OOM policy */
  if (ret_len)
    *ret_len = strlen(s);
  return s;
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

char *schema__openapi_root(const schema_resource_t *const *res, size_t nres, size_t *ret_len) {
  cJSON *root = cJSON_CreateObject();
  cJSON *paths = cJSON_AddObjectToObject(root, "paths");
  for (size_t i = 0; i < nres; i++) {
    const schema_resource_t *r = res[i];
    char *key = *r->group ? xasprintf("apis/%s/%s", r->group, r->version)
                          : xasprintf("api/%s", r->version);
    if (!cJSON_GetObjectItemCaseSensitive(paths, key)) {
      cJSON *doc = schema__openapi_gv_doc(res, nres, r->group, r->version);
      char *text = print_doc(doc, NULL);
      char *url = xasprintf("/openapi/v3/%s?hash=%016llX", key, (unsigned long long)fnv1a(text));
      cJSON *e = cJSON_AddObjectToObject(paths, key);
      cJSON_AddStringToObject(e, "serverRelativeURL", url);
      free(url);
      free(text);
      cJSON_Delete(doc);
    }
    free(key);
  }
  char *s = print_doc(root, ret_len);
  cJSON_Delete(root);
  return s;
}

static const schema_resource_t **builtin(size_t *ret_n) {
  const schema_resource_t **v = xcalloc(schema_nresources ? schema_nresources : 1, sizeof *v);
  for (size_t i = 0; i < schema_nresources; i++)
    v[i] = &schema_resources[i];
  *ret_n = schema_nresources;
  return v;
}

char *schema_openapi_v3_root(size_t *ret_len) {
  size_t n;
  const schema_resource_t **v = builtin(&n);
  char *s = schema__openapi_root(v, n, ret_len);
  free(v);
  return s;
}

char *schema_openapi_v3_gv(const char *group, const char *version, size_t *ret_len) {
  size_t n;
  const schema_resource_t **v = builtin(&n);
  cJSON *doc = schema__openapi_gv_doc(v, n, group ? group : "", version ? version : "");
  free(v);
  if (!doc)
    return NULL;
  char *s = print_doc(doc, ret_len);
  cJSON_Delete(doc);
  return s;
}
