/* Generic REST for every registered resource: get, list, create, update,
 * patch, delete, deletecollection, and the status and scale subresources.
 * Objects are stored as JSON with metadata.resourceVersion set to the
 * store revision of the write.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/crd.h"
#include "api/internal.h"
#include "api/managed.h"
#include "api/object.h"
#include "json/patch.h"
#include "json/selector.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "yaml/decode.h"

#define LIST_BYTES_MAX (256u * 1024 * 1024)

/* ---- errors ---- */

static void store_error(api_status_t *st, int err, const api_resource_t *res, const char *name) {
  const char *g = res->s->group, *p = res->s->plural;
  switch (err) {
  case -ENOENT:
    api_status_not_found(st, g, p, name);
    break;
  case -EEXIST:
    api_status_already_exists(st, g, p, name);
    break;
  case -ESTALE:
    api_status_conflict(st, g, p, name,
                        "the object has been modified; please apply your changes to the latest "
                        "version and try again");
    break;
  case -E2BIG:
    api_status_init(st, 413, "RequestEntityTooLarge", "Request entity too large: limit is %d",
                    STORE_VALUE_MAX);
    break;
  case -EOVERFLOW:
    api_status_gone(st, "The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter.");
    break;
  default:
    api_status_internal(st, "storage error: %s", strerror(-err));
  }
}

/* ---- body decoding ---- */

int api__decode_body(http_req_t *req, cJSON **ret_obj, api_status_t *st) {
  size_t len = 0;
  const char *body = http_req_body(req, &len);
  const char *ct = http_req_header(req, "Content-Type");
  char err[512] = "";
  cJSON *obj = NULL;
  if (!body || len == 0) {
    api_status_bad_request(st, "request body is empty: send the object as JSON, YAML or protobuf");
    return -EINVAL;
  }
  if (ct && !strncmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
    int r = schema_pb_decode_envelope((const uint8_t *)body, len, &obj, err, sizeof(err));
    if (r == -ENOTSUP) {
      api_status_init(st, 415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types "
                      "include: application/json, application/yaml (%s)",
                      err);
      return r;
    }
    if (r < 0) {
      api_status_bad_request(st, "unable to decode protobuf body: %s", err);
      return r;
    }
  } else if (ct && (!strncmp(ct, "application/yaml", 16) || !strncmp(ct, "application/apply-patch+yaml", 28))) {
    if (yaml_parse_one(body, len, &obj, err, sizeof(err)) < 0) {
      api_status_bad_request(st, "error converting YAML to JSON: yaml: %s", err);
      return -EINVAL;
    }
  } else if (ct && ct[0] && (strncmp(ct, "application/json", 16) || !strchr("; ", ct[16]))) {
    api_status_init(st, 415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json, application/yaml, application/vnd.kubernetes.protobuf");
    return -EINVAL;
  } else {
    obj = cJSON_ParseWithLength(body, len);
    if (!obj) {
      const char *at = cJSON_GetErrorPtr();
      long off = at && at >= body && at <= body + len ? (long)(at - body) : 0;
      api_status_bad_request(st, "couldn't get version/kind; json parse error: invalid JSON at byte %ld",
                             off);
      return -EINVAL;
    }
  }
  *ret_obj = obj;
  return 0;
}

/* ---- object preparation ---- */

typedef struct {
  const char *msgs[32];
  char paths[32][256];
  int n;
  bool unknown_only;
  int unknown, typed;
} problems_t;

static void on_problem(const char *path, bool unknown_field, const char *msg, void *data) {
  problems_t *p = data;
  if (unknown_field)
    p->unknown++;
  else
    p->typed++;
  if (p->n < 32) {
    snprintf(p->paths[p->n], sizeof(p->paths[0]), "%s", msg);
    p->n++;
  }
}

/* Schema check honouring fieldValidation (Strict, Warn, Ignore). Returns
 * -EINVAL and fills st when the request must fail. */
static int check_schema(http_req_t *req, const api_resource_t *res, const cJSON *obj,
                        api_status_t *st) {
  if (!res->s->type)
    return 0;
  problems_t p;
  memset(&p, 0, sizeof(p));
  schema_check(res->s->type, obj, on_problem, &p);
  if (p.n == 0)
    return 0;
  const char *mode = req ? http_req_query(req, "fieldValidation") : NULL;
  bool strict = mode && !strcmp(mode, "Strict");
  bool ignore = mode && !strcmp(mode, "Ignore");
  if (p.typed == 0 && !strict) {
    for (int i = 0; i < p.n && req && !ignore; i++) {
      char *w = xasprintf("299 - \"%s\"", p.paths[i]);
      http_req_add_header(req, "Warning", w);
      free(w);
    }
    return 0;
  }
  char msg[900] = "";
  size_t used = 0;
  for (int i = 0; i < p.n; i++) {
    int w = snprintf(msg + used, sizeof(msg) - used, "%s%s", i ? ", " : "", p.paths[i]);
    if (w < 0 || (size_t)w >= sizeof(msg) - used)
      break;
    used += (size_t)w;
  }
  if (strict)
    api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s",
                           res->s->kind, res->group_version, res->s->kind, msg);
  else
    api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: %s", res->s->kind,
                           res->group_version, res->s->kind, msg);
  return -EINVAL;
}

/* Check apiVersion/kind of a body against the resource and fill them in. */
static int check_type(const api_resource_t *res, cJSON *obj, api_status_t *st) {
  if (!cJSON_IsObject(obj)) {
    api_status_bad_request(st, "the request body must be a JSON object of kind %s", res->s->kind);
    return -EINVAL;
  }
  const char *av = obj_str(obj, "apiVersion");
  const char *kind = obj_str(obj, "kind");
  if (av && av[0] && strcmp(av, res->group_version)) {
    api_status_bad_request(st, "the API version in the data (%s) does not match the expected API "
                               "version (%s)",
                           av, res->group_version);
    return -EINVAL;
  }
  if (kind && kind[0] && strcmp(kind, res->s->kind)) {
    api_status_bad_request(st, "the kind in the data (%s) does not match the expected kind (%s)",
                           kind, res->s->kind);
    return -EINVAL;
  }
  obj_set_str(obj, "apiVersion", res->group_version);
  obj_set_str(obj, "kind", res->s->kind);
  return 0;
}

/* Keys of labels and annotations are qualified names; label values have a
 * shape of their own (upstream ValidateLabels, ValidateAnnotations). */
static void check_meta_map(const cJSON *map, const char *field, bool values, api_status_t *st) {
  const cJSON *e;
  if (!cJSON_IsObject(map))
    return;
  cJSON_ArrayForEach(e, map) {
    const char *bad = e->string;
    const char *why = obj_check_qualified_name(e->string);
    if (!why && values && cJSON_IsString(e)) {
      bad = e->valuestring;
      why = obj_check_label_value(e->valuestring);
    }
    if (why) {
      char *msg = xasprintf("Invalid value: \"%s\": %s", bad, why);
      api_status_add_cause(st, "FieldValueInvalid", field, msg);
      free(msg);
    }
  }
}

/* Upstream's metadata fields are omitempty: empty or null maps and lists are
 * never stored nor returned ({"labels":{}} in a patch is no change). */
static void drop_empty_meta(cJSON *obj) {
  static const char *const keys[] = {"labels", "annotations", "finalizers", "ownerReferences",
                                     "managedFields"};
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  if (!cJSON_IsObject(meta))
    return;
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, keys[i]);
    if (cJSON_IsNull(v) || ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child))
      cJSON_DeleteItemFromObjectCaseSensitive(meta, keys[i]);
  }
}

/* Defaults, validation and schema checks shared by create and update. */
static int admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
                 api_status_t *st) {
  if (res->hooks->defaults)
    res->hooks->defaults(obj);
  drop_empty_meta(obj);
  if (check_schema(req, res, obj, st) < 0)
    return -EINVAL;
  memset(st, 0, sizeof(*st));
  if (res->s->json_schema && api__crd_admit(req, res, obj, st) < 0)
    return -EINVAL;
  const char *name = obj_str(obj, "metadata.name");
  if (!old) {
    const char *why = res->hooks->check_name ? res->hooks->check_name(name)
                                             : obj_check_dns1123_subdomain(name);
    if (why) {
      char *msg = xasprintf("Invalid value: \"%s\": %s", name, why);
      api_status_add_cause(st, "FieldValueInvalid", "metadata.name", msg);
      free(msg);
    }
  }
  const cJSON *labels = obj_get(obj, "metadata.labels");
  if (labels && !cJSON_IsObject(labels))
    api_status_add_cause(st, "FieldValueInvalid", "metadata.labels", "Invalid value: must be a map of strings");
  check_meta_map(labels, "metadata.labels", true, st);
  check_meta_map(obj_get(obj, "metadata.annotations"), "metadata.annotations", false, st);
  if (res->hooks->validate)
    res->hooks->validate(obj, old, st);
  if (st->causes) {
    api_status_invalid(st, res->s->group, res->s->kind, name ? name : "");
    return -EINVAL;
  }
  return 0;
}

/* ---- writes ---- */

typedef struct {
  api_server_t *srv;
  http_req_t *req; /* NULL for internal writes */
  const api_resource_t *res;
  cJSON *obj;      /* what is stored */
  char *key;
  char name[256];
  int code;        /* HTTP status on success */
  api_reply_t reply;
  bool release_on_fail; /* run hooks->deleted(obj) if the write fails */
  bool deleting;
} write_ctx_t;

static void write_ctx_free(write_ctx_t *w) {
  cJSON_Delete(w->obj);
  free(w->key);
  free(w);
}

static char *encode_with_rev(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                             int *ret_err) {
  write_ctx_t *w = data;
  char rv[32];
  snprintf(rv, sizeof(rv), "%lld", (long long)rev);
  obj_set_str(obj_meta(w->obj), "resourceVersion", rv);
  char *s = cJSON_PrintUnformatted(w->obj);
  *ret_len = strlen(s);
  return s;
}

static cJSON *scale_of(const api_resource_t *res, const cJSON *obj);

static void write_done(int err, const store_kv_t *kv, void *data) {
  write_ctx_t *w = data;
  api_status_t st;
  if (err < 0) {
    if (w->release_on_fail && w->res->hooks->deleted)
      w->res->hooks->deleted(w->srv, w->obj);
    if (w->req) {
      store_error(&st, err, w->res, w->name);
      api__respond_status(w->req, &st);
    } else {
      log_error("api", "write of %s failed: %s", w->key, strerror(-err));
    }
    write_ctx_free(w);
    return;
  }
  if (w->deleting && w->res->hooks->deleted)
    w->res->hooks->deleted(w->srv, w->obj);
  if (w->req) {
    if (w->reply == API_REPLY_SCALE) {
      cJSON *stored = cJSON_ParseWithLength(kv->value, kv->len);
      api__respond_obj(w->req, w->code, scale_of(w->res, stored));
      cJSON_Delete(stored);
    } else if (w->reply == API_REPLY_SUCCESS) {
      api_status_init(&st, w->code, "", "%s", "");
      api__respond_status(w->req, &st);
    } else {
      api__respond_bytes(w->req, w->code, kv->value, kv->len);
    }
  }
  write_ctx_free(w);
}

void api__submit(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                 store_op_kind_t op, char *key, cJSON *obj, int64_t expected, int code,
                 api_reply_t reply, bool release_on_fail) {
  write_ctx_t *w = xcalloc(1, sizeof(*w));
  w->srv = srv;
  w->req = req;
  w->res = res;
  w->obj = obj;
  w->key = key;
  w->code = code;
  w->reply = reply;
  w->release_on_fail = release_on_fail;
  w->deleting = op == STORE_OP_DELETE;
  const char *name = obj_str(obj, "metadata.name");
  snprintf(w->name, sizeof(w->name), "%s", name ? name : "");
  int64_t ttl = 0;
  if (!strcmp(res->s->kind, "Event") && op == STORE_OP_CREATE)
    ttl = 3600; /* upstream --event-ttl default */
  store_write_t sw = {.op = op,
                      .key = key,
                      .expected_mod_rev = expected,
                      .value_cb = encode_with_rev,
                      .value_cb_data = w,
                      .ttl_seconds = ttl};
  int r = store_write(srv->store, &sw, write_done, w);
  if (r < 0)
    write_done(r, NULL, w);
}

static bool namespace_usable(api_server_t *srv, const char *ns, api_status_t *st) {
  const api_resource_t *nsres = api_registry_find_kind("", "Namespace");
  char *key = api_resource_key(nsres, NULL, ns);
  store_kv_t *kv = NULL;
  int r = store_get_latest(srv->store, key, &kv);
  free(key);
  if (r < 0) {
    api_status_not_found(st, "", "namespaces", ns);
    return false;
  }
  bool terminating = strstr(kv->value, "\"deletionTimestamp\"") != NULL;
  store_kv_unref(kv);
  if (terminating) {
    api_status_init(st, 403, "Forbidden",
                    "unable to create new content in namespace %s because it is being terminated",
                    ns);
    api_status_set_details(st, "", "namespaces", ns);
    return false;
  }
  return true;
}

void api__create(api_server_t *srv, http_req_t *req, const api_resource_t *res, const char *ns,
                 cJSON *obj, bool dry_run) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  if (check_type(res, obj, &st) < 0)
    goto fail;
  cJSON *meta = obj_meta(obj);
  const char *obj_ns = obj_str(obj, "metadata.namespace");
  if (res->s->namespaced) {
    if (obj_ns && obj_ns[0] && ns && ns[0] && strcmp(obj_ns, ns)) {
      api_status_bad_request(&st, "the namespace of the provided object does not match the "
                                  "namespace sent on the request");
      goto fail;
    }
    if (!ns || !ns[0])
      ns = obj_ns && obj_ns[0] ? obj_ns : "default";
    obj_set_str(meta, "namespace", ns);
    if (!namespace_usable(srv, ns, &st))
      goto fail;
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
  }
  const char *name = obj_str(obj, "metadata.name");
  const char *gen = obj_str(obj, "metadata.generateName");
  if ((!name || !name[0]) && gen && gen[0]) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", 58, gen);
    obj_random_suffix(buf, sizeof(buf));
    obj_set_str(meta, "name", buf);
    name = obj_str(obj, "metadata.name");
  }
  if (!name || !name[0]) {
    api_status_add_cause(&st, "FieldValueRequired", "metadata.name",
                         "Required value: name or generateName is required");
    api_status_invalid(&st, res->s->group, res->s->kind, "");
    goto fail;
  }
  char uid[40], now[32];
  obj_uuid(uid, sizeof(uid));
  obj_time_format(time(NULL), now, sizeof(now));
  obj_set_str(meta, "uid", uid);
  obj_set_str(meta, "creationTimestamp", now);
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "deletionTimestamp");
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "deletionGracePeriodSeconds");
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "selfLink");
  if (res->hooks->generation)
    obj_set(meta, "generation", cJSON_CreateNumber(1));
  else
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "generation");
  if (res->has_status && strcmp(res->s->kind, "Node") != 0)
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
  if (admit(req, res, obj, NULL, &st) < 0)
    goto fail;
  if (!dry_run && res->hooks->admit_create && res->hooks->admit_create(srv, obj, &st) < 0)
    goto fail;
  if (!obj_get(obj, "metadata.managedFields")) {
    char manager[128];
    api_managed_name(req ? http_req_query(req, "fieldManager") : "k3c",
                     req ? http_req_header(req, "User-Agent") : NULL, manager, sizeof(manager));
    api_managed_update(res, obj, NULL, manager, "");
  }
  if (dry_run) {
    api__respond_obj(req, 201, obj);
    return;
  }
  api__submit(srv, req, res, STORE_OP_CREATE, api_resource_key(res, ns, name), obj, 0, 201,
              API_REPLY_OBJECT, true);
  return;
fail:
  cJSON_Delete(obj);
  if (req)
    api__respond_status(req, &st);
  else {
    log_error("api", "bootstrap create of %s failed: %s", res->s->kind, st.message);
    api_status_done(&st);
  }
}

/* Carry over what a client may not change in an update. */
static void keep_system_fields(const api_resource_t *res, cJSON *obj, const cJSON *old,
                               const char *sub) {
  cJSON *meta = obj_meta(obj);
  const cJSON *om = cJSON_GetObjectItemCaseSensitive(old, "metadata");
  static const char *const keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                     "deletionGracePeriodSeconds", "namespace", "name"};
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(om, keep[i]);
    if (v)
      obj_set(meta, keep[i], cJSON_Duplicate(v, 1));
    else
      cJSON_DeleteItemFromObjectCaseSensitive(meta, keep[i]);
  }
  if (res->has_status) {
    const char *replace = sub && !strcmp(sub, "status") ? "spec" : "status";
    /* Main resource: status comes from the old object; status subresource:
     * everything but status does. */
    if (!strcmp(replace, "status")) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, "status");
      if (v)
        obj_set(obj, "status", cJSON_Duplicate(v, 1));
      else
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
    } else {
      cJSON *status = cJSON_DetachItemFromObjectCaseSensitive(obj, "status");
      cJSON *copy = cJSON_Duplicate(old, 1);
      cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
      if (status)
        cJSON_AddItemToObject(copy, "status", status);
      /* swap contents of obj with copy */
      cJSON *child = obj->child;
      obj->child = copy->child;
      copy->child = child;
      cJSON_Delete(copy);
      meta = obj_meta(obj);
    }
  }
}

/* metadata.generation: bumped when the spec changes; compared after the
 * defaults ran, so a patch that drops defaulted fields is no change. */
static void set_generation(const api_resource_t *res, cJSON *obj, const cJSON *old) {
  if (!res->hooks->generation)
    return;
  const cJSON *og = obj_get(old, "metadata.generation");
  double g = cJSON_IsNumber(og) ? og->valuedouble : 1;
  if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(obj, "spec"),
                     cJSON_GetObjectItemCaseSensitive(old, "spec"), 1))
    g += 1;
  obj_set(obj_meta(obj), "generation", cJSON_CreateNumber(g));
}

/* Whether two stored forms are the same, ignoring resourceVersion. */
static bool unchanged(cJSON *obj, const cJSON *old) {
  const char *orv = obj_str(old, "metadata.resourceVersion");
  cJSON *meta = obj_meta(obj);
  cJSON *saved = cJSON_DetachItemFromObjectCaseSensitive(meta, "resourceVersion");
  if (orv)
    cJSON_AddStringToObject(meta, "resourceVersion", orv);
  bool same = cJSON_Compare(obj, old, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
  if (saved)
    cJSON_AddItemToObject(meta, "resourceVersion", saved);
  return same;
}

/* The update path shared by PUT and PATCH: obj (taken) replaces old. */
static void update_object(api_call_t *call, cJSON *obj, const cJSON *old, const store_kv_t *oldkv,
                          bool as_scale, bool applied) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  const api_resource_t *res = call->res;
  http_req_t *req = call->req;
  if (check_type(res, obj, &st) < 0)
    goto fail;
  const char *name = obj_str(obj, "metadata.name");
  if (name && strcmp(name, call->ri.name)) {
    api_status_bad_request(&st, "the name of the object (%s) does not match the name on the URL (%s)",
                           name, call->ri.name);
    goto fail;
  }
  const char *ns = obj_str(obj, "metadata.namespace");
  if (res->s->namespaced && ns && ns[0] && strcmp(ns, call->ri.ns)) {
    api_status_bad_request(&st, "the namespace of the provided object does not match the namespace "
                                "sent on the request");
    goto fail;
  }
  const char *rv = obj_str(obj, "metadata.resourceVersion");
  char oldrv[32];
  snprintf(oldrv, sizeof(oldrv), "%lld", (long long)oldkv->mod_rev);
  if (rv && rv[0] && strcmp(rv, oldrv)) {
    store_error(&st, -ESTALE, res, call->ri.name);
    goto fail;
  }
  keep_system_fields(res, obj, old, as_scale ? NULL : call->ri.subresource);
  if (admit(req, res, obj, old, &st) < 0)
    goto fail;
  set_generation(res, obj, old);
  if (res->hooks->admit_update && res->hooks->admit_update(call->srv, obj, old, &st) < 0)
    goto fail;
  if (!applied) {
    char manager[128];
    api_managed_name(http_req_query(req, "fieldManager"), http_req_header(req, "User-Agent"),
                     manager, sizeof(manager));
    api_managed_update(res, obj, old, manager, as_scale ? "scale" : call->ri.subresource);
  }
  /* Removing the last finalizer of an object being deleted deletes it. */
  const cJSON *fin = obj_get(obj, "metadata.finalizers");
  bool finished = obj_get(obj, "metadata.deletionTimestamp") && cJSON_GetArraySize(fin) == 0;
  bool dry_run = http_req_query(req, "dryRun") != NULL;
  if (!finished && unchanged(obj, old)) {
    if (as_scale)
      api__respond_obj(req, 200, scale_of(res, old));
    else
      api__respond_bytes(req, 200, oldkv->value, oldkv->len);
    cJSON_Delete(obj);
    return;
  }
  if (dry_run) {
    if (as_scale) {
      api__respond_obj(req, 200, scale_of(res, obj));
      cJSON_Delete(obj);
    } else {
      api__respond_obj(req, 200, obj);
    }
    return;
  }
  char *key = api_resource_key(res, call->ri.ns, call->ri.name);
  api__submit(call->srv, req, res, finished ? STORE_OP_DELETE : STORE_OP_UPDATE, key, obj,
              oldkv->mod_rev, 200, as_scale ? API_REPLY_SCALE : API_REPLY_OBJECT, false);
  return;
fail:
  cJSON_Delete(obj);
  api__respond_status(req, &st);
}

/* ---- scale subresource ---- */

static cJSON *scale_of(const api_resource_t *res, const cJSON *obj) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "kind", "Scale");
  cJSON_AddStringToObject(s, "apiVersion", "autoscaling/v1");
  cJSON *m = cJSON_AddObjectToObject(s, "metadata");
  static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
                                     "creationTimestamp"};
  for (size_t i = 0; i < 5; i++) {
    const cJSON *v = obj_get(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), keep[i]);
    if (v)
      cJSON_AddItemToObject(m, keep[i], cJSON_Duplicate(v, 1));
  }
  const cJSON *want = obj_get(obj, "spec.replicas");
  cJSON *spec = cJSON_AddObjectToObject(s, "spec");
  cJSON_AddNumberToObject(spec, "replicas", cJSON_IsNumber(want) ? want->valuedouble : 1);
  cJSON *status = cJSON_AddObjectToObject(s, "status");
  const cJSON *have = obj_get(obj, "status.replicas");
  cJSON_AddNumberToObject(status, "replicas", cJSON_IsNumber(have) ? have->valuedouble : 0);
  const cJSON *sel = obj_get(obj, "spec.selector.matchLabels");
  if (!sel)
    sel = obj_get(obj, "spec.selector"); /* ReplicationController: a plain map */
  if (cJSON_IsObject(sel)) {
    buf_t b;
    buf_init(&b, 4096);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, sel) {
      if (cJSON_IsString(kv))
        buf_printf(&b, "%s%s=%s", b.len ? "," : "", kv->string, kv->valuestring);
    }
    char *text = buf_steal(&b, NULL);
    cJSON_AddStringToObject(status, "selector", text);
    free(text);
  }
  (void)res;
  return s;
}

/* Apply a Scale (JSON) to the object: only spec.replicas moves. */
static int apply_scale(cJSON *obj, const cJSON *scale, api_status_t *st) {
  const cJSON *r = obj_get(scale, "spec.replicas");
  if (!cJSON_IsNumber(r) || r->valuedouble < 0 || r->valuedouble != (double)(int)r->valuedouble) {
    api_status_add_cause(st, "FieldValueInvalid", "spec.replicas",
                         "Invalid value: must be greater than or equal to 0");
    api_status_invalid(st, "autoscaling", "Scale", obj_str(obj, "metadata.name"));
    return -EINVAL;
  }
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!spec)
    spec = cJSON_AddObjectToObject(obj, "spec");
  obj_set(spec, "replicas", cJSON_CreateNumber(r->valuedouble));
  return 0;
}

/* ---- handlers ---- */

static int load(api_call_t *call, bool latest, store_kv_t **ret_kv, cJSON **ret_obj,
                api_status_t *st) {
  char *key = api_resource_key(call->res, call->ri.ns, call->ri.name);
  store_kv_t *kv = NULL;
  int r = latest ? store_get_latest(call->srv->store, key, &kv)
                 : store_get(call->srv->store, key, 0, &kv);
  free(key);
  if (r < 0) {
    store_error(st, r, call->res, call->ri.name);
    return r;
  }
  if (ret_obj) {
    *ret_obj = cJSON_ParseWithLength(kv->value, kv->len);
    if (!*ret_obj) {
      store_kv_unref(kv);
      api_status_internal(st, "stored object %s is not valid JSON", call->ri.name);
      return -EIO;
    }
  }
  *ret_kv = kv;
  return 0;
}

int api__load(api_call_t *call, store_kv_t **ret_kv, cJSON **ret_obj, api_status_t *st) {
  return load(call, true, ret_kv, ret_obj, st);
}

static void handle_get(api_call_t *call) {
  api_status_t st;
  store_kv_t *kv = NULL;
  cJSON *obj = NULL;
  bool need_obj = call->want_table || !strcmp(call->ri.subresource, "scale");
  if (load(call, false, &kv, need_obj ? &obj : NULL, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  if (!strcmp(call->ri.subresource, "scale")) {
    api__respond_obj(call->req, 200, scale_of(call->res, obj));
  } else if (call->want_table) {
    cJSON *t = api__table_new(call->res, true);
    api__table_add_row(t, call->res, obj, http_req_query(call->req, "includeObject"));
    char rv[32];
    snprintf(rv, sizeof(rv), "%lld", (long long)kv->mod_rev);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(t, "metadata"), "resourceVersion", rv);
    char *body = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    http_respond_take(call->req, 200, "application/json;as=Table;v=v1;g=meta.k8s.io", body,
                      strlen(body));
  } else {
    api__respond_bytes(call->req, 200, kv->value, kv->len);
  }
  cJSON_Delete(obj);
  store_kv_unref(kv);
}

int api__selectors(api_call_t *call, label_selector_t **ret_ls, field_selector_t **ret_fs,
                   api_status_t *st) {
  char err[512];
  const char *ls = http_req_query(call->req, "labelSelector");
  const char *fs = http_req_query(call->req, "fieldSelector");
  *ret_ls = NULL;
  *ret_fs = NULL;
  if (ls && ls[0] && label_selector_parse(ls, ret_ls, err, sizeof(err)) < 0) {
    api_status_bad_request(st, "unable to parse requirement: %s", err);
    return -EINVAL;
  }
  if (fs && fs[0]) {
    if (field_selector_parse(fs, ret_fs, err, sizeof(err)) < 0) {
      label_selector_free(*ret_ls);
      *ret_ls = NULL;
      api_status_bad_request(st, "invalid field selector: %s", err);
      return -EINVAL;
    }
    for (size_t i = 0; i < field_selector_count(*ret_fs); i++) {
      const char *f = field_selector_field(*ret_fs, i);
      bool ok = !strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace");
      for (const char *const *p = call->res->hooks->selectable_fields; !ok && p && *p; p++)
        ok = !strcmp(*p, f);
      if (!ok) {
        api_status_bad_request(st, "field label not supported: %s", f);
        label_selector_free(*ret_ls);
        field_selector_free(*ret_fs);
        *ret_ls = NULL;
        *ret_fs = NULL;
        return -EINVAL;
      }
    }
  }
  return 0;
}

bool api__selected(const store_kv_t *kv, const label_selector_t *ls, const field_selector_t *fs,
                   cJSON **ret_obj) {
  *ret_obj = NULL;
  if ((!ls || label_selector_empty(ls)) && !fs)
    return true;
  cJSON *obj = cJSON_ParseWithLength(kv->value, kv->len);
  if (!obj)
    return false;
  bool ok = (!ls || label_selector_match(ls, obj_get(obj, "metadata.labels"))) &&
            (!fs || field_selector_match(fs, obj));
  *ret_obj = obj;
  return ok;
}

static void handle_list(api_call_t *call) {
  api_status_t st;
  label_selector_t *ls = NULL;
  field_selector_t *fs = NULL;
  cJSON *table = NULL;
  buf_t out;
  buf_init(&out, LIST_BYTES_MAX);
  if (api__selectors(call, &ls, &fs, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  const char *limit_s = http_req_query(call->req, "limit");
  long limit = limit_s ? strtol(limit_s, NULL, 10) : 0;
  if (limit < 0)
    limit = 0;
  const char *cont = http_req_query(call->req, "continue");
  int64_t at_rev = 0;
  const char *rv = http_req_query(call->req, "resourceVersion");
  const char *rvm = http_req_query(call->req, "resourceVersionMatch");
  if (rv && rv[0] && rvm && !strcmp(rvm, "Exact"))
    at_rev = strtoll(rv, NULL, 10);
  char *prefix = api_resource_key(call->res, call->ri.ns, NULL);
  const char *include = http_req_query(call->req, "includeObject");
  if (call->want_table)
    table = api__table_new(call->res, true);
  size_t count = 0;
  int64_t list_rev = 0;
  char *next = NULL;
  size_t remaining = 0;
  bool filtered = (ls && !label_selector_empty(ls)) || fs;
  char *tok = cont && cont[0] ? xstrdup(cont) : NULL;
  for (;;) {
    store_list_opts_t lo = {.prefix = prefix,
                            .rev = at_rev,
                            .limit = limit ? (size_t)limit - count : 0,
                            .continue_tok = tok};
    store_list_t l;
    int r = store_list(call->srv->store, &lo, &l);
    if (r < 0) {
      store_error(&st, r, call->res, "");
      if (r == -EINVAL)
        api_status_bad_request(&st, "invalid continue token");
      api__respond_status(call->req, &st);
      goto out;
    }
    list_rev = l.rev;
    at_rev = l.rev;
    for (size_t i = 0; i < l.n; i++) {
      cJSON *obj = NULL;
      if (!api__selected(l.items[i], ls, fs, &obj)) {
        cJSON_Delete(obj);
        continue;
      }
      count++;
      if (table) {
        if (!obj)
          obj = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
        if (obj)
          api__table_add_row(table, call->res, obj, include);
      } else {
        if (out.len)
          buf_append(&out, ",", 1);
        if (buf_append(&out, l.items[i]->value, l.items[i]->len) < 0) {
          cJSON_Delete(obj);
          store_list_done(&l);
          api_status_init(&st, 500, "InternalError",
                          "the list is larger than %u bytes; use limit and continue to page it",
                          LIST_BYTES_MAX);
          api__respond_status(call->req, &st);
          goto out;
        }
      }
      cJSON_Delete(obj);
    }
    free(tok);
    tok = l.continue_tok ? xstrdup(l.continue_tok) : NULL;
    remaining = l.remaining;
    store_list_done(&l);
    if (!tok || !limit || count >= (size_t)limit)
      break;
  }
  next = tok;
  tok = NULL;
  char rvs[32];
  snprintf(rvs, sizeof(rvs), "%lld", (long long)list_rev);
  if (table) {
    cJSON *m = cJSON_GetObjectItemCaseSensitive(table, "metadata");
    cJSON_AddStringToObject(m, "resourceVersion", rvs);
    if (next)
      cJSON_AddStringToObject(m, "continue", next);
    char *body = cJSON_PrintUnformatted(table);
    http_respond_take(call->req, 200, "application/json;as=Table;v=v1;g=meta.k8s.io", body,
                      strlen(body));
  } else {
    buf_t head;
    buf_init(&head, 4096);
    buf_printf(&head, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%s\"",
               call->res->s->kind, call->res->group_version, rvs);
    if (next) {
      cJSON *c = cJSON_CreateString(next);
      char *cs = cJSON_PrintUnformatted(c);
      buf_printf(&head, ",\"continue\":%s", cs);
      free(cs);
      cJSON_Delete(c);
      if (!filtered)
        buf_printf(&head, ",\"remainingItemCount\":%zu", remaining);
    }
    buf_append_str(&head, "},\"items\":[");
    size_t hlen, blen;
    char *h = buf_steal(&head, &hlen);
    char *b = buf_steal(&out, &blen);
    char *body = xmalloc(hlen + blen + 3);
    memcpy(body, h, hlen);
    memcpy(body + hlen, b, blen);
    memcpy(body + hlen + blen, "]}", 3);
    free(h);
    free(b);
    http_respond_take(call->req, 200, "application/json", body, hlen + blen + 2);
  }
out:
  free(tok);
  free(next);
  free(prefix);
  cJSON_Delete(table);
  buf_done(&out);
  label_selector_free(ls);
  field_selector_free(fs);
}

static bool dry_run_query(http_req_t *req) {
  const char *d = http_req_query(req, "dryRun");
  return d && !strcmp(d, "All");
}

static void handle_create(api_call_t *call) {
  api_status_t st;
  cJSON *obj = NULL;
  if (call->ri.subresource[0]) {
    api_status_init(&st, 405, "MethodNotAllowed", "the server does not allow this method on the "
                                                  "requested resource (post %s/%s)",
                    call->ri.resource, call->ri.subresource);
    api__respond_status(call->req, &st);
    return;
  }
  if (api__decode_body(call->req, &obj, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  api__create(call->srv, call->req, call->res, call->ri.ns, obj, dry_run_query(call->req));
}

static void handle_update(api_call_t *call) {
  api_status_t st;
  cJSON *obj = NULL, *old = NULL;
  store_kv_t *kv = NULL;
  if (api__decode_body(call->req, &obj, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  bool scale = !strcmp(call->ri.subresource, "scale");
  int r = load(call, true, &kv, &old, &st);
  if (r == -ENOENT && call->res->hooks->create_on_update && !call->ri.subresource[0]) {
    api_status_done(&st);
    api__create(call->srv, call->req, call->res, call->ri.ns, obj, dry_run_query(call->req));
    return;
  }
  if (r < 0) {
    cJSON_Delete(obj);
    api__respond_status(call->req, &st);
    return;
  }
  if (scale) {
    cJSON *next = cJSON_Duplicate(old, 1);
    memset(&st, 0, sizeof(st));
    if (apply_scale(next, obj, &st) < 0) {
      cJSON_Delete(next);
      api__respond_status(call->req, &st);
      goto out;
    }
    const char *srv_rv = obj_str(obj, "metadata.resourceVersion");
    if (srv_rv && srv_rv[0])
      obj_set_str(obj_meta(next), "resourceVersion", srv_rv);
    update_object(call, next, old, kv, true, false);
  } else {
    update_object(call, obj, old, kv, false, false);
    obj = NULL;
  }
out:
  cJSON_Delete(obj);
  cJSON_Delete(old);
  store_kv_unref(kv);
}

/* Apply the request's patch document to doc; returns a new document. */
static int apply_patch(api_call_t *call, const cJSON *doc, const schema_type_t *type,
                       cJSON **ret, api_status_t *st) {
  const char *ct = http_req_header(call->req, "Content-Type");
  size_t len = 0;
  const char *body = http_req_body(call->req, &len);
  char err[512] = "";
  cJSON *patch = NULL;
  int r = 0;
  if (!ct)
    ct = "";
  if (!strncmp(ct, "application/apply-patch+yaml", 28)) {
    if (yaml_parse_one(body ? body : "", len, &patch, err, sizeof(err)) < 0) {
      api_status_bad_request(st, "error decoding YAML: %s", err);
      return -EINVAL;
    }
  } else {
    patch = body ? cJSON_ParseWithLength(body, len) : NULL;
    if (!patch) {
      api_status_bad_request(st, "the patch body is not valid JSON");
      return -EINVAL;
    }
  }
  if (!strncmp(ct, "application/json-patch+json", 27)) {
    if (!cJSON_IsArray(patch)) {
      api_status_bad_request(st, "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
      r = -EINVAL;
    } else if (cJSON_GetArraySize(patch) > 10000) {
      /* upstream's bound: a patch of many operations is CPU a client could abuse */
      api_status_init(st, 422, "Invalid",
                      "The allowed maximum operations in a JSON patch is 10000, got %d",
                      cJSON_GetArraySize(patch));
      r = -EINVAL;
    } else if (json_patch_apply(doc, patch, ret, err, sizeof(err)) < 0) {
      api_status_init(st, 422, "Invalid", "the server rejected our request due to an error in our "
                                          "request: %s", err);
      r = -EINVAL;
    }
  } else if (!strncmp(ct, "application/merge-patch+json", 28)) {
    if (!cJSON_IsObject(patch)) {
      api_status_bad_request(st, "the merge patch must be a JSON object");
      r = -EINVAL;
    } else {
      *ret = json_merge_patch(doc, patch);
    }
  } else if (!strncmp(ct, "application/strategic-merge-patch+json", 38)) {
    if (!type) {
      api_status_init(st, 415, "UnsupportedMediaType",
                      "strategic merge patch is not supported for %s; use a merge patch",
                      call->res->s->kind);
      r = -EINVAL;
    } else if (!cJSON_IsObject(patch)) {
      api_status_bad_request(st, "the strategic merge patch must be a JSON object");
      r = -EINVAL;
    } else if (json_smp_apply(doc, patch, &schema_smp, type, ret, err, sizeof(err)) < 0) {
      api_status_init(st, 422, "Invalid", "the server rejected our request due to an error in our "
                                          "request: %s", err);
      r = -EINVAL;
    }
  } else {
    api_status_init(st, 415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml, application/strategic-merge-patch+json");
    r = -EINVAL;
  }
  cJSON_Delete(patch);
  return r;
}

/* PATCH with application/apply-patch+yaml: create or merge the applied
 * configuration under field ownership (managed.c). */
static void server_side_apply(api_call_t *call) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  const char *manager = http_req_query(call->req, "fieldManager");
  cJSON *cfg = NULL, *old = NULL, *next = NULL;
  store_kv_t *kv = NULL;
  if (!manager || !manager[0]) {
    api_status_add_cause(&st, "FieldValueRequired", "fieldManager", "Required value: is required for apply patch");
    api_status_invalid(&st, "meta.k8s.io", "PatchOptions", "");
    api__respond_status(call->req, &st);
    return;
  }
  if (api__decode_body(call->req, &cfg, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  if (!cJSON_IsObject(cfg) || !obj_str(cfg, "apiVersion") || !obj_str(cfg, "kind")) {
    cJSON_Delete(cfg);
    api_status_bad_request(&st, "the applied configuration must be an object with apiVersion and kind");
    api__respond_status(call->req, &st);
    return;
  }
  const char *name = obj_str(cfg, "metadata.name");
  if (name && strcmp(name, call->ri.name)) {
    cJSON_Delete(cfg);
    api_status_bad_request(&st, "the name of the object (%s) does not match the name on the URL (%s)",
                           name, call->ri.name);
    api__respond_status(call->req, &st);
    return;
  }
  bool force = api__query_bool(call->req, "force");
  int r = load(call, true, &kv, &old, &st);
  if (r < 0 && r != -ENOENT) {
    cJSON_Delete(cfg);
    api__respond_status(call->req, &st);
    return;
  }
  api_status_done(&st);
  memset(&st, 0, sizeof(st));
  if (r == -ENOENT) {
    cJSON *meta = obj_meta(cfg);
    if (!obj_str(cfg, "metadata.name"))
      obj_set_str(meta, "name", call->ri.name);
    if (api_managed_apply(call->res, NULL, cfg, manager, force, &next, &st) < 0) {
      api__respond_status(call->req, &st);
    } else {
      api__create(call->srv, call->req, call->res, call->ri.ns, next, dry_run_query(call->req));
      next = NULL;
    }
  } else if (api_managed_apply(call->res, old, cfg, manager, force, &next, &st) < 0) {
    api__respond_status(call->req, &st);
  } else {
    update_object(call, next, old, kv, false, true);
    next = NULL;
  }
  cJSON_Delete(cfg);
  cJSON_Delete(old);
  cJSON_Delete(next);
  store_kv_unref(kv);
}

static void handle_patch(api_call_t *call) {
  api_status_t st;
  cJSON *old = NULL, *next = NULL;
  store_kv_t *kv = NULL;
  bool scale = !strcmp(call->ri.subresource, "scale");
  const char *ct = http_req_header(call->req, "Content-Type");
  if (ct && !strncmp(ct, "application/apply-patch+yaml", 28) && !call->ri.subresource[0]) {
    server_side_apply(call);
    return;
  }
  int r = load(call, true, &kv, &old, &st);
  if (r < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  memset(&st, 0, sizeof(st));
  if (scale) {
    cJSON *s = scale_of(call->res, old);
    cJSON *patched = NULL;
    r = apply_patch(call, s, schema_type_find("io.k8s.api.autoscaling.v1.Scale"), &patched, &st);
    cJSON_Delete(s);
    if (r == 0) {
      next = cJSON_Duplicate(old, 1);
      r = apply_scale(next, patched, &st);
      cJSON_Delete(patched);
    }
  } else {
    r = apply_patch(call, old, call->res->s->type, &next, &st);
  }
  if (r < 0) {
    cJSON_Delete(next);
    api__respond_status(call->req, &st);
  } else {
    update_object(call, next, old, kv, scale, false);
  }
  cJSON_Delete(old);
  store_kv_unref(kv);
}

/* ---- delete ---- */

typedef struct {
  const char *propagation;
  const char *pre_uid;
  const char *pre_rv;
  bool dry_run;
  cJSON *doc;
} delete_opts_t;

static int delete_opts(http_req_t *req, delete_opts_t *o, api_status_t *st) {
  memset(o, 0, sizeof(*o));
  size_t len = 0;
  const char *body = http_req_body(req, &len);
  if (body && len) {
    o->doc = cJSON_ParseWithLength(body, len);
    if (!o->doc) {
      const char *ct = http_req_header(req, "Content-Type");
      if (ct && !strncmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
        char err[256];
        if (schema_pb_decode_envelope((const uint8_t *)body, len, &o->doc, err, sizeof(err)) < 0) {
          api_status_bad_request(st, "unable to decode DeleteOptions: %s", err);
          return -EINVAL;
        }
      } else {
        api_status_bad_request(st, "the body of a delete request must be DeleteOptions JSON");
        return -EINVAL;
      }
    }
    o->propagation = obj_str(o->doc, "propagationPolicy");
    o->pre_uid = obj_str(o->doc, "preconditions.uid");
    o->pre_rv = obj_str(o->doc, "preconditions.resourceVersion");
    const cJSON *dr = obj_get(o->doc, "dryRun");
    o->dry_run = cJSON_GetArraySize(dr) > 0;
  }
  if (!o->propagation)
    o->propagation = http_req_query(req, "propagationPolicy");
  if (dry_run_query(req))
    o->dry_run = true;
  if (o->propagation && strcmp(o->propagation, "Background") && strcmp(o->propagation, "Foreground") &&
      strcmp(o->propagation, "Orphan")) {
    api_status_add_cause(st, "FieldValueNotSupported", "propagationPolicy",
                         "Unsupported value: supported values: \"Foreground\", \"Background\", \"Orphan\"");
    api_status_invalid(st, "", "DeleteOptions", "");
    return -EINVAL;
  }
  return 0;
}

static void delete_namespace_contents(api_server_t *srv, const char *ns);

/* Delete one object: finalizers make it a graceful update. */
static void delete_one(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                       const store_kv_t *kv, const delete_opts_t *o) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  cJSON *obj = cJSON_ParseWithLength(kv->value, kv->len);
  const char *name = obj ? obj_str(obj, "metadata.name") : "";
  if (!obj) {
    api_status_internal(&st, "stored object is not valid JSON");
    goto fail;
  }
  if (o->pre_uid && strcmp(o->pre_uid, obj_str(obj, "metadata.uid") ? obj_str(obj, "metadata.uid") : "")) {
    char why[256];
    snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s",
             o->pre_uid, obj_str(obj, "metadata.uid"));
    api_status_conflict(&st, res->s->group, res->s->plural, name, why);
    goto fail;
  }
  char rv[32];
  snprintf(rv, sizeof(rv), "%lld", (long long)kv->mod_rev);
  if (o->pre_rv && strcmp(o->pre_rv, rv)) {
    char why[256];
    snprintf(why, sizeof(why), "Precondition failed: ResourceVersion in precondition: %s, "
             "ResourceVersion in object meta: %s", o->pre_rv, rv);
    api_status_conflict(&st, res->s->group, res->s->plural, name, why);
    goto fail;
  }
  if (o->dry_run) {
    api__respond_obj(req, 200, obj);
    return;
  }
  const cJSON *fin = obj_get(obj, "metadata.finalizers");
  bool is_ns = !strcmp(res->s->kind, "Namespace") && !res->s->group[0];
  char *key = api_resource_key(res, obj_str(obj, "metadata.namespace"), name);
  if (cJSON_GetArraySize(fin) > 0 || is_ns) {
    cJSON *meta = obj_meta(obj);
    if (!cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp")) {
      char now[32];
      obj_time_format(time(NULL), now, sizeof(now));
      obj_set_str(meta, "deletionTimestamp", now);
      obj_set(meta, "deletionGracePeriodSeconds", cJSON_CreateNumber(0));
    }
    if (is_ns) {
      cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
      if (!status)
        status = cJSON_AddObjectToObject(obj, "status");
      obj_set_str(status, "phase", "Terminating");
      /* The namespace's content goes first; the namespace record follows
       * in a later revision (store writes commit in submission order). */
      delete_namespace_contents(srv, name);
      if (cJSON_GetArraySize(fin) == 0) {
        api__submit(srv, req, res, STORE_OP_DELETE, key, obj, 0, 200, API_REPLY_OBJECT, false);
        return;
      }
    }
    api__submit(srv, req, res, STORE_OP_UPDATE, key, obj, kv->mod_rev, 202, API_REPLY_OBJECT, false);
    return;
  }
  api__submit(srv, req, res, STORE_OP_DELETE, key, obj, kv->mod_rev, 200, API_REPLY_OBJECT, false);
  return;
fail:
  cJSON_Delete(obj);
  if (req)
    api__respond_status(req, &st);
  else
    api_status_done(&st);
}

/* Whether an earlier row stores under the same keys (another version). */
static bool storage_seen(size_t upto, const api_resource_t *res) {
  for (size_t i = 0; i < upto; i++) {
    const api_resource_t *r = api_registry_at(i);
    if (r && !strcmp(r->storage_group, res->storage_group) && !strcmp(r->s->plural, res->s->plural))
      return true;
  }
  return false;
}

static void delete_namespace_contents(api_server_t *srv, const char *ns) {
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *res = api_registry_at(i);
    if (!res || !res->s->namespaced || storage_seen(i, res))
      continue;
    char *prefix = api_resource_key(res, ns, NULL);
    store_list_opts_t lo = {.prefix = prefix};
    store_list_t l;
    if (store_list(srv->store, &lo, &l) == 0) {
      for (size_t j = 0; j < l.n; j++) {
        char *key = xstrdup(l.items[j]->key);
        cJSON *obj = cJSON_ParseWithLength(l.items[j]->value, l.items[j]->len);
        if (!obj) {
          free(key);
          continue;
        }
        api__submit(srv, NULL, res, STORE_OP_DELETE, key, obj, 0, 200, API_REPLY_OBJECT, false);
      }
      store_list_done(&l);
    }
    free(prefix);
  }
}

static void handle_delete(api_call_t *call) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  delete_opts_t o;
  store_kv_t *kv = NULL;
  if (call->ri.subresource[0]) {
    api_status_init(&st, 405, "MethodNotAllowed", "the server does not allow this method on the "
                                                  "requested resource");
    api__respond_status(call->req, &st);
    return;
  }
  if (delete_opts(call->req, &o, &st) < 0) {
    api__respond_status(call->req, &st);
    cJSON_Delete(o.doc);
    return;
  }
  if (load(call, true, &kv, NULL, &st) < 0) {
    api__respond_status(call->req, &st);
    cJSON_Delete(o.doc);
    return;
  }
  delete_one(call->srv, call->req, call->res, kv, &o);
  store_kv_unref(kv);
  cJSON_Delete(o.doc);
}

static void handle_deletecollection(api_call_t *call) {
  api_status_t st;
  delete_opts_t o;
  label_selector_t *ls = NULL;
  field_selector_t *fs = NULL;
  memset(&st, 0, sizeof(st));
  if (delete_opts(call->req, &o, &st) < 0 || api__selectors(call, &ls, &fs, &st) < 0) {
    api__respond_status(call->req, &st);
    cJSON_Delete(o.doc);
    return;
  }
  char *prefix = api_resource_key(call->res, call->ri.ns, NULL);
  store_list_opts_t lo = {.prefix = prefix};
  store_list_t l;
  int r = store_list(call->srv->store, &lo, &l);
  cJSON *out = cJSON_CreateObject();
  char lk[160];
  snprintf(lk, sizeof(lk), "%sList", call->res->s->kind);
  cJSON_AddStringToObject(out, "kind", lk);
  cJSON_AddStringToObject(out, "apiVersion", call->res->group_version);
  cJSON_AddObjectToObject(out, "metadata");
  cJSON *items = cJSON_AddArrayToObject(out, "items");
  if (r == 0) {
    for (size_t i = 0; i < l.n; i++) {
      cJSON *obj = NULL;
      if (!api__selected(l.items[i], ls, fs, &obj)) {
        cJSON_Delete(obj);
        continue;
      }
      if (!obj)
        obj = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
      if (obj)
        cJSON_AddItemToArray(items, obj);
      if (!o.dry_run)
        delete_one(call->srv, NULL, call->res, l.items[i], &o);
    }
    store_list_done(&l);
  }
  free(prefix);
  label_selector_free(ls);
  field_selector_free(fs);
  cJSON_Delete(o.doc);
  api__respond_obj(call->req, 200, out);
}

void api__rest(api_call_t *call) {
  const char *verb = call->ri.verb;
  const char *sub = call->ri.subresource;
  api_status_t st;
  unsigned need = 0;
  if (!strcmp(verb, "get"))
    need = SCHEMA_VERB_GET;
  else if (!strcmp(verb, "list"))
    need = SCHEMA_VERB_LIST;
  else if (!strcmp(verb, "create"))
    need = SCHEMA_VERB_CREATE;
  else if (!strcmp(verb, "update"))
    need = SCHEMA_VERB_UPDATE;
  else if (!strcmp(verb, "patch"))
    need = SCHEMA_VERB_PATCH;
  else if (!strcmp(verb, "delete"))
    need = SCHEMA_VERB_DELETE;
  else if (!strcmp(verb, "deletecollection"))
    need = SCHEMA_VERB_DELETECOLLECTION;
  bool sub_ok = !sub[0] || ((!strcmp(sub, "status") || !strcmp(sub, "scale")) &&
                            api_resource_has_subresource(call->res, sub) &&
                            (need & (SCHEMA_VERB_GET | SCHEMA_VERB_UPDATE | SCHEMA_VERB_PATCH)));
  if (sub[0] && !api_resource_has_subresource(call->res, sub)) {
    api_status_not_found(&st, "", "", "");
    snprintf(st.message, sizeof(st.message), "the server could not find the requested resource");
    api__respond_status(call->req, &st);
    return;
  }
  if (!need || !(call->res->s->verbs & need) || !sub_ok) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(call->req, &st);
    return;
  }
  if (call->res->s->namespaced && !call->ri.ns[0] && strcmp(verb, "list") &&
      strcmp(verb, "deletecollection")) {
    api_status_not_found(&st, call->res->s->group, call->res->s->plural, call->ri.name);
    api__respond_status(call->req, &st);
    return;
  }
  switch (need) {
  case SCHEMA_VERB_GET:
    handle_get(call);
    break;
  case SCHEMA_VERB_LIST:
    handle_list(call);
    break;
  case SCHEMA_VERB_CREATE:
    handle_create(call);
    break;
  case SCHEMA_VERB_UPDATE:
    handle_update(call);
    break;
  case SCHEMA_VERB_PATCH:
    handle_patch(call);
    break;
  case SCHEMA_VERB_DELETE:
    handle_delete(call);
    break;
  default:
    handle_deletecollection(call);
  }
}
