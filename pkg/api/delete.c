/* Deletion: DeleteOptions (preconditions, propagationPolicy, dryRun),
 * finalizers, namespaces (Terminating until the namespace controller has
 * removed their content and emptied spec.finalizers), and
 * deletecollection.
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/vap.h"
#include "api/webhook.h"
#include "api/object.h"
#include "json/strict.h"
#include "util/alloc.h"

/* ---- delete ---- */

typedef struct {
  const char *propagation;
  bool orphan_dependents; /* the deprecated DeleteOptions.orphanDependents */
  const char *pre_uid;
  const char *pre_rv;
  bool dry_run;
  bool has_grace; /* gracePeriodSeconds given */
  long long grace;
  cJSON *doc;
} delete_opts_t;

static int delete_opts(http_req_t *req, delete_opts_t *o, api_status_t *st) {
  memset(o, 0, sizeof(*o));
  size_t len = 0;
  const char *body = http_req_body(req, &len);
  if (body && len) {
    json_strict_result_t jr;
    if (json_strict_parse(body, len, &o->doc, &jr) < 0)
      o->doc = NULL; /* protobuf, or refused below */
    json_strict_result_done(&jr);
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
    o->orphan_dependents = cJSON_IsTrue(obj_get(o->doc, "orphanDependents"));
    o->pre_uid = obj_str(o->doc, "preconditions.uid");
    o->pre_rv = obj_str(o->doc, "preconditions.resourceVersion");
    const cJSON *dr = obj_get(o->doc, "dryRun");
    o->dry_run = cJSON_GetArraySize(dr) > 0;
  }
  const cJSON *gp = obj_get(o->doc, "gracePeriodSeconds");
  if (cJSON_IsNumber(gp)) {
    o->has_grace = true;
    o->grace = (long long)gp->valuedouble;
  } else if (http_req_query(req, "gracePeriodSeconds")) {
    o->has_grace = true; /* its syntax was checked with the query options */
    o->grace = strtoll(http_req_query(req, "gracePeriodSeconds"), NULL, 10);
  }
  if (!o->propagation)
    o->propagation = http_req_query(req, "propagationPolicy");
  if (api__dry_run(req))
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


static bool protected_namespace(const api_resource_t *res, const char *name) {
  static const char *const keep[] = {"default", "kube-system", "kube-public"};
  if (strcmp(res->s->kind, "Namespace") || res->s->group[0] || !name)
    return false;
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
    if (!strcmp(name, keep[i]))
      return true;
  return false;
}

/* Orphan and Foreground propagation keep an object with the orphan or
 * foregroundDeletion finalizer until the garbage collector
 * (pkg/controller/gc.c) has dealt with its dependents, as upstream does;
 * only for the kinds the collector follows as owners (elsewhere nothing
 * would remove the finalizer), which are deleted at once otherwise. */
static const char *gc_finalizer(const api_resource_t *res, const delete_opts_t *o) {
  static const char *const owners[][2] = {
      {"apps", "Deployment"}, {"apps", "ReplicaSet"}, {"", "ReplicationController"},
      {"batch", "Job"}, {"batch", "CronJob"}, {"apps", "StatefulSet"}, {"apps", "DaemonSet"}};
  const char *p = o->propagation;
  if (!p && o->orphan_dependents)
    p = "Orphan";
  if (!p || !strcmp(p, "Background"))
    return NULL;
  for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++)
    if (!strcmp(res->s->group, owners[i][0]) && !strcmp(res->s->kind, owners[i][1]))
      return !strcmp(p, "Orphan") ? "orphan" : "foregroundDeletion";
  return NULL;
}

static void add_finalizer(cJSON *obj, const char *f) {
  cJSON *meta = obj_meta(obj);
  cJSON *list = cJSON_GetObjectItemCaseSensitive(meta, "finalizers");
  if (!cJSON_IsArray(list)) {
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "finalizers");
    list = cJSON_AddArrayToObject(meta, "finalizers");
  }
  const cJSON *v;
  cJSON_ArrayForEach(v, list) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, f))
      return;
  }
  cJSON_AddItemToArray(list, cJSON_CreateString(f));
}

/* Whether a kubelet would finish a graceful deletion on node: its Lease in
 * kube-node-lease was renewed within its duration. k3c differs from
 * upstream here: a pod bound to a node nothing runs on (a Node object
 * written by hand) is deleted at once, not left Terminating forever. */
static bool node_has_kubelet(api_server_t *srv, const char *node) {
  const api_resource_t *lr = api_registry_find("coordination.k8s.io", "v1", "leases");
  if (!lr || !node || !node[0])
    return false;
  char *key = api_resource_key(lr, "kube-node-lease", node);
  store_kv_t *kv = NULL;
  bool live = false;
  if (store_get_latest(srv->store, key, &kv) == 0 && kv) {
    cJSON *lease = cJSON_ParseWithLength(kv->value, kv->len);
    const cJSON *d = obj_get(lease, "spec.leaseDurationSeconds");
    time_t renew = obj_time_parse(obj_str(lease, "spec.renewTime"));
    live = renew > 0 && (double)time(NULL) <= (double)renew + (cJSON_IsNumber(d) ? d->valuedouble : 40);
    cJSON_Delete(lease);
    store_kv_unref(kv);
  }
  free(key);
  return live;
}

typedef enum { GRACE_NONE, GRACE_START, GRACE_PENDING } grace_t;

/* Graceful pod deletion, as upstream's podStrategy.CheckGracefulDelete
 * and rest.BeforeDelete decide it: a pod bound to a node and not finished
 * gets deletionTimestamp = now + its grace period (the request's
 * gracePeriodSeconds, else spec.terminationGracePeriodSeconds) and
 * deletionGracePeriodSeconds, and stays until its kubelet deletes it with
 * grace period 0; a second delete may only shorten the period. */
static grace_t pod_grace(api_server_t *srv, const api_resource_t *res, cJSON *obj,
                         const delete_opts_t *o) {
  if (res->s->group[0] || strcmp(res->s->kind, "Pod"))
    return GRACE_NONE;
  cJSON *meta = obj_meta(obj);
  const char *ts = obj_str(obj, "metadata.deletionTimestamp");
  if (ts) {
    const cJSON *cur = obj_get(obj, "metadata.deletionGracePeriodSeconds");
    long long period = cJSON_IsNumber(cur) ? (long long)cur->valuedouble : 0;
    if (period == 0)
      return GRACE_NONE; /* a deletion that did not complete: finish it */
    if (!o->has_grace || o->grace >= period)
      return GRACE_PENDING;
    long long grace = o->grace < 0 ? 1 : o->grace;
    if (grace == 0)
      return GRACE_NONE;
    char when[32];
    obj_time_format(obj_time_parse(ts) - (time_t)period + (time_t)grace, when, sizeof(when));
    obj_set_str(meta, "deletionTimestamp", when);
    obj_set(meta, "deletionGracePeriodSeconds", cJSON_CreateNumber((double)grace));
    return GRACE_START;
  }
  long long period = 0;
  const cJSON *tg = obj_get(obj, "spec.terminationGracePeriodSeconds");
  if (o->has_grace)
    period = o->grace;
  else if (cJSON_IsNumber(tg))
    period = (long long)tg->valuedouble;
  const char *node = obj_str(obj, "spec.nodeName");
  const char *phase = obj_str(obj, "status.phase");
  if (!node || !node[0] || (phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"))))
    period = 0;
  if (period < 0)
    period = 1;
  if (period == 0 || !node_has_kubelet(srv, node))
    return GRACE_NONE;
  char when[32];
  obj_time_format(time(NULL) + (time_t)period, when, sizeof(when));
  obj_set_str(meta, "deletionTimestamp", when);
  obj_set(meta, "deletionGracePeriodSeconds", cJSON_CreateNumber((double)period));
  return GRACE_START;
}

/* Delete one object: finalizers make it a graceful update. */
static void delete_one(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                       const api_resource_t *view,
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
  if (protected_namespace(res, name)) {
    /* upstream's NamespaceLifecycle admission keeps these */
    api_status_init(&st, 403, "Forbidden",
                    "namespaces \"%s\" is forbidden: this namespace may not be deleted", name);
    api_status_set_details(&st, "", "namespaces", name);
    goto fail;
  }
  if (!strcmp(res->s->group, "scheduling.k8s.io") && !strcmp(res->s->kind, "PriorityClass") &&
      name && (!strcmp(name, "system-node-critical") || !strcmp(name, "system-cluster-critical"))) {
    /* upstream's priorityclass registry keeps the system classes */
    api_status_init(&st, 403, "Forbidden",
                    "priorityclasses.scheduling.k8s.io \"%s\" is forbidden: this is a system "
                    "priority class and cannot be deleted",
                    name);
    api_status_set_details(&st, "scheduling.k8s.io", "priorityclasses", name);
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
  if (api__policies_delete(srv, req, res, obj, "", &st) < 0 ||
      api__webhooks_delete(srv, req, res, obj, "", &st) < 0)
    goto fail;
  if (o->dry_run) {
    cJSON *reply = api__deleted_reply(res, obj);
    if (reply) {
      cJSON_Delete(obj);
      api__respond_obj(req, 200, reply);
    } else {
      api__respond_view_obj(req, 200, view, obj);
    }
    return;
  }
  const char *gcf = gc_finalizer(res, o);
  if (gcf)
    add_finalizer(obj, gcf);
  const cJSON *fin = obj_get(obj, "metadata.finalizers");
  bool is_ns = !strcmp(res->s->kind, "Namespace") && !res->s->group[0];
  grace_t grace = pod_grace(srv, res, obj, o);
  if (grace == GRACE_PENDING) { /* nothing changes: the object as it is */
    if (req) {
      api__respond_view_obj(req, 200, view, obj);
    } else {
      cJSON_Delete(obj);
    }
    return;
  }
  char *key = api_resource_key(res, obj_str(obj, "metadata.namespace"), name);
  if (grace == GRACE_START) {
    /* upstream answers 200 with the pod, not 202 */
    api__submit(srv, req, res, view, STORE_OP_UPDATE, key, obj, kv->mod_rev, 200,
                API_REPLY_OBJECT, false);
    return;
  }
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
      /* The namespace controller deletes the content, then empties
       * spec.finalizers through /finalize, which removes the record. With
       * no finalizers at all the record goes now, as upstream. */
      if (cJSON_GetArraySize(fin) == 0 && cJSON_GetArraySize(obj_get(obj, "spec.finalizers")) == 0) {
        api__submit(srv, req, res, view, STORE_OP_DELETE, key, obj, kv->mod_rev, 200,
                    API_REPLY_OBJECT, false);
        return;
      }
      api__submit(srv, req, res, view, STORE_OP_UPDATE, key, obj, kv->mod_rev, 200,
                  API_REPLY_OBJECT, false);
      return;
    }
    api__submit(srv, req, res, view, STORE_OP_UPDATE, key, obj, kv->mod_rev, 202, API_REPLY_OBJECT, false);
    return;
  }
  api__submit(srv, req, res, view, STORE_OP_DELETE, key, obj, kv->mod_rev, 200, API_REPLY_DELETED,
              false);
  return;
fail:
  cJSON_Delete(obj);
  if (req)
    api__respond_status(req, &st);
  else
    api_status_done(&st);
}

void api__delete(api_call_t *call) {
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
  if (api__load(call, &kv, NULL, &st) < 0) {
    api__respond_status(call->req, &st);
    cJSON_Delete(o.doc);
    return;
  }
  delete_one(call->srv, call->req, call->res, call->view, kv, &o);
  store_kv_unref(kv);
  cJSON_Delete(o.doc);
}

void api__deletecollection(api_call_t *call) {
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
  snprintf(lk, sizeof(lk), "%sList", call->view->s->kind);
  cJSON_AddStringToObject(out, "kind", lk);
  cJSON_AddStringToObject(out, "apiVersion", call->view->group_version);
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
      if (obj) {
        api_status_t cst;
        if (api__from_storage(call->view, obj, &cst) < 0)
          api_status_done(&cst); /* the item shows the stored form */
        cJSON_AddItemToArray(items, obj);
      }
      if (!o.dry_run)
        delete_one(call->srv, NULL, call->res, NULL, l.items[i], &o);
    }
    store_list_done(&l);
  }
  free(prefix);
  label_selector_free(ls);
  field_selector_free(fs);
  cJSON_Delete(o.doc);
  api__respond_obj(call->req, 200, out);
}

