/* Generic REST for every registered resource: the verb dispatcher, get,
 * create, update, patch (JSON, merge, strategic merge) and server-side
 * apply, with the status and scale subresources. Lists are in list.c,
 * deletion in delete.c, admission in admit.c, store writes in write.c.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/admission.h"
#include "api/crd.h"
#include "api/internal.h"
#include "api/kinds.h"
#include "api/managed.h"
#include "api/object.h"
#include "json/patch.h"
#include "json/selector.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/offload.h"
#include "yaml/decode.h"

static bool namespace_usable(api_server_t *srv, const char *ns, const api_resource_t *res,
                             const char *name, api_status_t *st) {
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
    /* upstream's NamespaceLifecycle: admission.NewForbidden with the cause */
    api_status_init(st, 403, "Forbidden",
                    "%s%s%s \"%s\" is forbidden: unable to create new content in namespace %s "
                    "because it is being terminated",
                    res->s->plural, res->s->group[0] ? "." : "", res->s->group, name ? name : "",
                    ns);
    api_status_set_details(st, res->s->group, res->s->plural, name ? name : "");
    api__cause(st, "NamespaceTerminating", "metadata.namespace",
               "namespace %s is being terminated", ns);
    return false;
  }
  return true;
}

/* A dry-run create of a name that exists fails as the real one would. */
static bool dry_run_exists(api_server_t *srv, const api_resource_t *res, const char *ns,
                           const char *name, api_status_t *st) {
  char *key = api_resource_key(res, res->s->namespaced ? ns : NULL, name);
  store_kv_t *kv = NULL;
  int r = store_get_latest(srv->store, key, &kv);
  free(key);
  if (r < 0)
    return false;
  store_kv_unref(kv);
  api__store_error(st, -EEXIST, res, name);
  return true;
}

/* Prepare obj (taken) for storage and submit the create. The name and
 * namespace the store key is made of are copied out of obj once they are
 * known: admission may replace or delete metadata items, so no pointer into
 * obj's items is kept across it, and the stored object is given exactly the
 * name its key holds. */
void api__create(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                 const api_resource_t *view, const char *url_ns, cJSON *obj, bool dry_run) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  char *ns = NULL, *name = NULL;
  if (api__check_type(res, obj, &st) < 0)
    goto fail;
  cJSON *meta = obj_meta(obj);
  if (res->s->namespaced) {
    const char *obj_ns = obj_str(obj, "metadata.namespace");
    if (obj_ns && obj_ns[0] && url_ns && url_ns[0] && strcmp(obj_ns, url_ns)) {
      api_status_bad_request(&st, "the namespace of the provided object does not match the "
                                  "namespace sent on the request");
      goto fail;
    }
    ns = xstrdup(url_ns && url_ns[0] ? url_ns : obj_ns && obj_ns[0] ? obj_ns : "default");
    obj_set_str(meta, "namespace", ns);
    if (!namespace_usable(srv, ns, res, obj_str(obj, "metadata.name"), &st))
      goto fail;
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
  }
  const char *body_name = obj_str(obj, "metadata.name");
  const char *gen = obj_str(obj, "metadata.generateName");
  if ((!body_name || !body_name[0]) && gen && gen[0]) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", 58, gen);
    obj_random_suffix(buf, sizeof(buf));
    obj_set_str(meta, "name", buf);
    body_name = obj_str(obj, "metadata.name");
  }
  if (!body_name || !body_name[0]) {
    api_status_add_cause(&st, "FieldValueRequired", "metadata.name",
                         "Required value: name or generateName is required");
    api_status_invalid(&st, res->s->group, res->s->kind, "");
    goto fail;
  }
  name = xstrdup(body_name);
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
  api_admission_t adm = {.srv = srv, .req = req, .res = res, .obj = obj, .sub = ""};
  if (api__admission_mutate(&adm, &st) < 0 || api__admit(req, res, obj, NULL, &st) < 0 ||
      api__admission_validate(&adm, &st) < 0)
    goto fail;
  if (dry_run && dry_run_exists(srv, res, ns, name, &st))
    goto fail;
  /* A dry run goes through the allocations too; they are shown, not kept. */
  srv->dry_run = dry_run;
  int admitted = res->hooks->admit_create ? res->hooks->admit_create(srv, obj, &st) : 0;
  srv->dry_run = false;
  if (admitted < 0)
    goto fail;
  /* The stored object carries the name and namespace of its key. */
  meta = obj_meta(obj);
  obj_set_str(meta, "name", name);
  if (ns)
    obj_set_str(meta, "namespace", ns);
  if (!obj_get(obj, "metadata.managedFields")) {
    char manager[128];
    api_managed_name(req ? http_req_query(req, "fieldManager") : "k3c",
                     req ? http_req_header(req, "User-Agent") : NULL, manager, sizeof(manager));
    offload_unlock();
    api_managed_update(res, obj, NULL, manager, "");
    offload_relock();
  }
  if (dry_run) {
    api__respond_view_obj(req, 201, view, obj);
    goto out;
  }
  api__submit(srv, req, res, view, STORE_OP_CREATE, api_resource_key(res, ns, name), obj, 0, 201,
              API_REPLY_OBJECT, true);
  goto out;
fail:
  api__tree_free(obj);
  if (req)
    api__respond_status(req, &st);
  else {
    log_error("api", "bootstrap create of %s failed: %s", res->s->kind, st.message);
    api_status_done(&st);
  }
out:
  free(ns);
  free(name);
}

/* The update path shared by PUT and PATCH: obj (taken) replaces old. */
static void update_object(api_call_t *call, cJSON *obj, const cJSON *old, const store_kv_t *oldkv,
                          bool as_scale, bool applied) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  const api_resource_t *res = call->res;
  http_req_t *req = call->req;
  if (api__check_type(res, obj, &st) < 0)
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
    api__store_error(&st, -ESTALE, res, call->ri.name);
    goto fail;
  }
  api__keep_system_fields(res, obj, old, as_scale ? NULL : call->ri.subresource);
  if (res->hooks->update_subresource) {
    res->hooks->update_subresource(obj, old, as_scale ? "scale" : call->ri.subresource, &st);
    if (st.causes) {
      api_status_invalid(&st, res->s->group, res->s->kind, call->ri.name);
      goto fail;
    }
  }
  api_admission_t adm = {.srv = call->srv, .req = req, .res = res, .obj = obj, .old = old,
                         .sub = as_scale ? "scale" : call->ri.subresource};
  if (api__admission_mutate(&adm, &st) < 0 || api__admit(req, res, obj, old, &st) < 0 ||
      api__admission_validate(&adm, &st) < 0)
    goto fail;
  api__set_generation(res, obj, old);
  bool dry_run = http_req_query(req, "dryRun") != NULL;
  call->srv->dry_run = dry_run; /* allocations shown, not kept */
  int admitted = res->hooks->admit_update ? res->hooks->admit_update(call->srv, obj, old, &st) : 0;
  call->srv->dry_run = false;
  if (admitted < 0)
    goto fail;
  if (!applied) {
    char manager[128];
    api_managed_name(http_req_query(req, "fieldManager"), http_req_header(req, "User-Agent"),
                     manager, sizeof(manager));
    offload_unlock();
    api_managed_update(res, obj, old, manager, as_scale ? "scale" : call->ri.subresource);
    offload_relock();
  }
  /* Removing the last finalizer of an object being deleted deletes it (a
   * namespace's spec.finalizers count too: the namespace controller empties
   * them through /finalize once the content is gone). */
  const cJSON *fin = obj_get(obj, "metadata.finalizers");
  bool is_ns = !strcmp(res->s->kind, "Namespace") && !res->s->group[0];
  bool finished = obj_get(obj, "metadata.deletionTimestamp") && cJSON_GetArraySize(fin) == 0 &&
                  (!is_ns || cJSON_GetArraySize(obj_get(obj, "spec.finalizers")) == 0);
  offload_unlock();
  bool unchanged = !finished && api__unchanged(obj, old);
  offload_relock();
  if (unchanged) {
    if (as_scale)
      api__respond_obj(req, 200, api__scale_of(res, old));
    else
      api__respond_stored(req, 200, call->view, oldkv->value, oldkv->len);
    api__tree_free(obj);
    return;
  }
  if (dry_run) {
    if (as_scale) {
      api__respond_obj(req, 200, api__scale_of(res, obj));
      cJSON_Delete(obj);
    } else {
      api__respond_view_obj(req, 200, call->view, obj);
    }
    return;
  }
  char *key = api_resource_key(res, call->ri.ns, call->ri.name);
  api__submit(call->srv, req, res, call->view, finished ? STORE_OP_DELETE : STORE_OP_UPDATE, key, obj,
              oldkv->mod_rev, 200, as_scale ? API_REPLY_SCALE : API_REPLY_OBJECT, false);
  return;
fail:
  api__tree_free(obj);
  api__respond_status(req, &st);
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
    api__store_error(st, r, call->res, call->ri.name);
    return r;
  }
  if (ret_obj) {
    offload_unlock(); /* kv is referenced and its bytes never change */
    *ret_obj = cJSON_ParseWithLength(kv->value, kv->len);
    offload_relock();
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
    api__respond_obj(call->req, 200, api__scale_of(call->res, obj));
  } else if (call->want_table) {
    cJSON *t = api__table_new(api__table_row(call->view), true);
    if (api__table_add_stored(t, call->view, obj, http_req_query(call->req, "includeObject"), &st) < 0) {
      cJSON_Delete(t);
      cJSON_Delete(obj);
      store_kv_unref(kv);
      api__respond_status(call->req, &st);
      return;
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%lld", (long long)kv->mod_rev);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(t, "metadata"), "resourceVersion", rv);
    char *body = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    api__respond_json(call->req, 200, "application/json;as=Table;v=v1;g=meta.k8s.io", body,
                      strlen(body));
  } else {
    api__respond_stored(call->req, 200, call->view, kv->value, kv->len);
  }
  cJSON_Delete(obj);
  store_kv_unref(kv);
}

bool api__dry_run(http_req_t *req) {
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
  if (api__decode_body_as(call->req, call->view, &obj, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  if (api__to_storage(call->view, obj, &st) < 0) {
    cJSON_Delete(obj);
    api__respond_status(call->req, &st);
    return;
  }
  api__create(call->srv, call->req, call->res, call->view, call->ri.ns, obj,
              api__dry_run(call->req));
}

static void handle_update(api_call_t *call) {
  api_status_t st;
  cJSON *obj = NULL, *old = NULL;
  store_kv_t *kv = NULL;
  if (api__decode_body_as(call->req, call->view, &obj, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  bool scale = !strcmp(call->ri.subresource, "scale");
  if (!scale && api__to_storage(call->view, obj, &st) < 0) {
    cJSON_Delete(obj);
    api__respond_status(call->req, &st);
    return;
  }
  int r = api__load(call, &kv, &old, &st);
  if (r == -ENOENT && call->res->hooks->create_on_update && !call->ri.subresource[0]) {
    api_status_done(&st);
    api__create(call->srv, call->req, call->res, call->view, call->ri.ns, obj,
                api__dry_run(call->req));
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
    if (api__scale_apply(call->res, next, obj, &st) < 0) {
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
  api__tree_free(obj);
  api__tree_free(old);
  store_kv_unref(kv);
}

static int apply_patch_doc(api_call_t *call, const cJSON *doc, const schema_type_t *type,
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
    if (api__decode_patch(call->req, body ? body : "", body ? len : 0, &patch, st) < 0)
      return -EINVAL;
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

/* Apply the request's patch document to doc; returns a new document.
 * Reads only the request's bytes, doc and constant schema tables: the
 * loop runs meanwhile for an offloaded request. */
static int apply_patch(api_call_t *call, const cJSON *doc, const schema_type_t *type,
                       cJSON **ret, api_status_t *st) {
  offload_unlock();
  int r = apply_patch_doc(call, doc, type, ret, st);
  offload_relock();
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
  if (api__decode_body_as(call->req, call->view, &cfg, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  if (api__to_storage(call->view, cfg, &st) < 0) {
    cJSON_Delete(cfg);
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
    /* the message is built before cfg (which holds name) is freed */
    api_status_bad_request(&st, "the name of the object (%s) does not match the name on the URL (%s)",
                           name, call->ri.name);
    cJSON_Delete(cfg);
    api__respond_status(call->req, &st);
    return;
  }
  bool force = api__query_bool(call->req, "force");
  int r = api__load(call, &kv, &old, &st);
  if (r < 0 && r != -ENOENT) {
    cJSON_Delete(cfg);
    api__respond_status(call->req, &st);
    return;
  }
  api_status_done(&st);
  memset(&st, 0, sizeof(st));
  bool create = r == -ENOENT;
  if (create && !obj_str(cfg, "metadata.name"))
    obj_set_str(obj_meta(cfg), "name", call->ri.name);
  offload_unlock();
  r = api_managed_apply(call->res, create ? NULL : old, cfg, manager, force, &next, &st);
  offload_relock();
  if (r < 0) {
    api__respond_status(call->req, &st);
  } else if (create) {
    api__create(call->srv, call->req, call->res, call->view, call->ri.ns, next,
                api__dry_run(call->req));
    next = NULL;
  } else {
    update_object(call, next, old, kv, false, true);
    next = NULL;
  }
  api__tree_free(cfg);
  api__tree_free(old);
  api__tree_free(next);
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
  int r = api__load(call, &kv, &old, &st);
  if (r < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  memset(&st, 0, sizeof(st));
  if (scale) {
    cJSON *s = api__scale_of(call->res, old);
    cJSON *patched = NULL;
    r = apply_patch(call, s, schema_type_find("io.k8s.api.autoscaling.v1.Scale"), &patched, &st);
    cJSON_Delete(s);
    if (r == 0) {
      next = cJSON_Duplicate(old, 1);
      r = api__scale_apply(call->res, next, patched, &st);
      cJSON_Delete(patched);
    }
  } else if (api__converts(call->view)) {
    /* The patch speaks the client's version: apply it to that view. */
    cJSON *view = cJSON_Duplicate(old, 1);
    r = api__from_storage(call->view, view, &st);
    if (r == 0)
      r = apply_patch(call, view, call->view->s->type, &next, &st);
    cJSON_Delete(view);
    if (r == 0)
      r = api__to_storage(call->view, next, &st);
  } else {
    r = apply_patch(call, old, call->res->s->type, &next, &st);
  }
  if (r < 0) {
    api__tree_free(next);
    api__respond_status(call->req, &st);
  } else {
    update_object(call, next, old, kv, scale, false);
  }
  api__tree_free(old);
  store_kv_unref(kv);
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
  bool sub_ok = !sub[0] ||
                ((!strcmp(sub, "status") || !strcmp(sub, "scale") || !strcmp(sub, "approval")) &&
                 api_resource_has_subresource(call->res, sub) &&
                 (need & (SCHEMA_VERB_GET | SCHEMA_VERB_UPDATE | SCHEMA_VERB_PATCH))) ||
                /* a namespace's spec.finalizers: PUT only, as upstream */
                (!strcmp(sub, "finalize") && api_resource_has_subresource(call->res, sub) &&
                 need == SCHEMA_VERB_UPDATE);
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
    api__list(call);
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
    api__delete(call);
    break;
  default:
    api__deletecollection(call);
  }
}
