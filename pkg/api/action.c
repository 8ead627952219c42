/* Action subresources: pods/binding (the scheduler's bind), pods/eviction
 * (drain) and serviceaccounts/token (TokenRequest); and the create of a
 * CertificateSigningRequest, which records who asked.
 * https://kubernetes.io/docs/reference/kubernetes-api/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/admission.h"
#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "api/review.h"
#include "util/alloc.h"

static void bind_pod(api_call_t *call, cJSON *binding) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  const char *node = obj_str(binding, "target.name");
  if (!node || !node[0]) {
    api__cause_required(&st, "target.name");
    api_status_invalid(&st, "", "Binding", call->ri.name);
    api__respond_status(call->req, &st);
    return;
  }
  store_kv_t *kv = NULL;
  cJSON *pod = NULL;
  if (api__load(call, &kv, &pod, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  const char *bound = obj_str(pod, "spec.nodeName");
  if (bound && bound[0]) {
    char why[512];
    snprintf(why, sizeof(why), "pod %s is already assigned to node \"%s\"", call->ri.name, bound);
    api_status_conflict(&st, "", "pods/binding", call->ri.name, why);
    api__respond_status(call->req, &st);
  } else if (obj_get(pod, "metadata.deletionTimestamp")) {
    api_status_conflict(&st, "", "pods/binding", call->ri.name, "pod is being deleted");
    api__respond_status(call->req, &st);
  } else {
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
    obj_set_str(spec, "nodeName", node);
    cJSON *conds = obj_child_array(obj_child_object(pod, "status"), "conditions");
    /* One PodScheduled condition: a False one from an unschedulable cycle
     * becomes True, as upstream's UpdatePodCondition. */
    for (int i = cJSON_GetArraySize(conds) - 1; i >= 0; i--) {
      const char *t = obj_str(cJSON_GetArrayItem(conds, i), "type");
      if (t && !strcmp(t, "PodScheduled"))
        cJSON_DeleteItemFromArray(conds, i);
    }
    char now[32];
    obj_time_format(time(NULL), now, sizeof(now));
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "PodScheduled");
    cJSON_AddStringToObject(c, "status", "True");
    cJSON_AddNullToObject(c, "lastProbeTime");
    cJSON_AddStringToObject(c, "lastTransitionTime", now);
    cJSON_AddItemToArray(conds, c);
    api__submit(call->srv, call->req, call->res, call->view, STORE_OP_UPDATE,
                api_resource_key(call->res, call->ri.ns, call->ri.name), pod, kv->mod_rev, 201,
                API_REPLY_SUCCESS, false);
    pod = NULL;
  }
  cJSON_Delete(pod);
  store_kv_unref(kv);
}

/* ---- eviction: PodDisruptionBudgets (upstream's EvictionREST) ---- */

typedef struct {
  const cJSON *pod;
  cJSON *pdbs[2];
  int n;
} pdb_find_t;

static bool pdb_match_cb(const cJSON *pdb, void *data) {
  pdb_find_t *f = data;
  label_selector_t *sel = NULL;
  char err[128];
  const cJSON *js = obj_get(pdb, "spec.selector");
  /* A nil or empty selector matches nothing here, as upstream. */
  if (!cJSON_IsObject(js) || label_selector_from_json(js, &sel, err, sizeof(err)) < 0)
    return true;
  bool m = !label_selector_empty(sel) && label_selector_match(sel, obj_get(f->pod, "metadata.labels"));
  label_selector_free(sel);
  if (m && f->n < 2)
    f->pdbs[f->n++] = cJSON_Duplicate(pdb, 1);
  return f->n < 2;
}

static bool pod_ready(const cJSON *pod) {
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(pod, "status.conditions")) {
    const char *t = obj_str(c, "type"), *s = obj_str(c, "status");
    if (t && s && !strcmp(t, "Ready"))
      return !strcmp(s, "True");
  }
  return false;
}

static double num(const cJSON *o, const char *path) {
  const cJSON *v = obj_get(o, path);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The evictions already granted on pdb's current revision. */
static int *pdb_pending(api_server_t *srv, const char *key, int64_t rev, bool create) {
  for (size_t i = 0; i < 16; i++)
    if (!strcmp(srv->pdb_pending[i].key, key)) {
      if (srv->pdb_pending[i].rev != rev) {
        srv->pdb_pending[i].rev = rev;
        srv->pdb_pending[i].n = 0;
      }
      return &srv->pdb_pending[i].n;
    }
  if (!create)
    return NULL;
  size_t i = srv->pdb_pending_next++ % 16;
  snprintf(srv->pdb_pending[i].key, sizeof(srv->pdb_pending[i].key), "%s", key);
  srv->pdb_pending[i].rev = rev;
  srv->pdb_pending[i].n = 0;
  return &srv->pdb_pending[i].n;
}

#define PDB_VIOLATION "Cannot evict pod as it would violate the pod's disruption budget."

/* 0: the eviction may go on (pdb's decremented status submitted unless
 * dry_run); -1 with st filled: refused. */
static int pdb_check_and_decrement(api_call_t *call, cJSON *pdb, bool dry_run, api_status_t *st) {
  const char *name = obj_str(pdb, "metadata.name");
  if (num(pdb, "status.observedGeneration") < num(pdb, "metadata.generation")) {
    api_status_init(st, 429, "TooManyRequests", "%s", PDB_VIOLATION);
    st->retry_after = 10;
    char why[512];
    snprintf(why, sizeof(why), "The disruption budget %s is still being processed by the server.", name);
    api_status_add_cause(st, "DisruptionBudget", NULL, why);
    return -1;
  }
  const char *rvs = obj_str(pdb, "metadata.resourceVersion");
  int64_t rev = rvs ? strtoll(rvs, NULL, 10) : 0;
  char key[320];
  snprintf(key, sizeof(key), "%s/%s", call->ri.ns, name);
  int *pending = pdb_pending(call->srv, key, rev, false);
  double allowed = num(pdb, "status.disruptionsAllowed") - (pending ? *pending : 0);
  if (num(pdb, "status.disruptionsAllowed") < 0) {
    api_status_init(st, 403, "Forbidden",
                    "poddisruptionbudgets.policy \"%s\" is forbidden: pdb disruptions allowed is negative",
                    name);
    api_status_set_details(st, "policy", "poddisruptionbudgets", name);
    return -1;
  }
  if (allowed <= 0) {
    api_status_init(st, 429, "TooManyRequests", "%s", PDB_VIOLATION);
    char why[512];
    snprintf(why, sizeof(why), "The disruption budget %s needs %d healthy pods and has %d currently",
             name, (int)num(pdb, "status.desiredHealthy"), (int)num(pdb, "status.currentHealthy"));
    api_status_add_cause(st, "DisruptionBudget", NULL, why);
    return -1;
  }
  if (dry_run)
    return 0;
  /* Store the decrement and the disrupted pod, guarded by the revision the
   * decision was made on; until it is stored, pending counts it. */
  cJSON *status = obj_child_object(pdb, "status");
  obj_set(status, "disruptionsAllowed", cJSON_CreateNumber(num(pdb, "status.disruptionsAllowed") - 1));
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  obj_set_str(obj_child_object(status, "disruptedPods"), call->ri.name, now);
  const api_resource_t *res = api_registry_find_kind("policy", "PodDisruptionBudget");
  int *p = pdb_pending(call->srv, key, rev, true);
  (*p)++;
  api__submit(call->srv, NULL, res, NULL, STORE_OP_UPDATE, api_resource_key(res, call->ri.ns, name),
              cJSON_Duplicate(pdb, 1), rev, 200, API_REPLY_OBJECT, false);
  return 0;
}

static void evict_pod(api_call_t *call) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  store_kv_t *kv = NULL;
  cJSON *pod = NULL;
  pdb_find_t f = {0};
  if (api__load(call, &kv, &pod, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  /* A pod that is not running (or already going) has caused its
   * disruption: it is deleted whatever the budgets say (canIgnorePDB). */
  const char *phase = obj_str(pod, "status.phase");
  bool ignore = !phase || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
                !strcmp(phase, "Pending") || obj_get(pod, "metadata.deletionTimestamp");
  if (!ignore) {
    f.pod = pod;
    api__admission_each(call->srv, api_registry_find_kind("policy", "PodDisruptionBudget"),
                        call->ri.ns, 0, pdb_match_cb, &f);
  }
  if (f.n > 1) {
    api_status_internal(&st, "This pod has more than one PodDisruptionBudget, which the eviction "
                             "subresource does not support.");
    goto refuse;
  }
  if (f.n == 1) {
    cJSON *pdb = f.pdbs[0];
    const char *policy = obj_str(pdb, "spec.unhealthyPodEvictionPolicy");
    bool skip = false;
    if (!pod_ready(pod)) {
      /* An unready pod does not count as healthy: evicting it does not
       * take from the budget while the budget is met. */
      skip = (policy && !strcmp(policy, "AlwaysAllow")) ||
             (num(pdb, "status.currentHealthy") >= num(pdb, "status.desiredHealthy") &&
              num(pdb, "status.desiredHealthy") > 0);
    }
    if (!skip && pdb_check_and_decrement(call, pdb, api__dry_run(call->req), &st) < 0)
      goto refuse;
  }
  for (int i = 0; i < f.n; i++)
    cJSON_Delete(f.pdbs[i]);
  api__submit(call->srv, call->req, call->res, call->view, STORE_OP_DELETE,
              api_resource_key(call->res, call->ri.ns, call->ri.name), pod, kv->mod_rev, 201,
              API_REPLY_SUCCESS, false);
  store_kv_unref(kv);
  return;
refuse:
  for (int i = 0; i < f.n; i++)
    cJSON_Delete(f.pdbs[i]);
  api__respond_status(call->req, &st);
  cJSON_Delete(pod);
  store_kv_unref(kv);
}

/* POST …/certificatesigningrequests: spec.username, uid, groups and extra
 * are the requesting user's, whatever the client sent (upstream
 * csrStrategy.PrepareForCreate). */
static bool create_csr(api_call_t *call) {
  if (strcmp(call->ri.group, "certificates.k8s.io") ||
      strcmp(call->ri.resource, "certificatesigningrequests") || strcmp(call->ri.verb, "create") ||
      call->ri.subresource[0])
    return false;
  api_status_t st;
  cJSON *obj = NULL;
  if (api__decode_body(call->req, &obj, &st) < 0) {
    api__respond_status(call->req, &st);
    return true;
  }
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (cJSON_IsObject(spec)) {
    const api_user_t *u = &call->user;
    obj_set_str(spec, "username", u->name);
    if (u->uid[0])
      obj_set_str(spec, "uid", u->uid);
    else
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "uid");
    cJSON *groups = cJSON_CreateArray();
    for (size_t i = 0; u->groups[i]; i++)
      cJSON_AddItemToArray(groups, cJSON_CreateString(u->groups[i]));
    obj_set(spec, "groups", groups);
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "extra");
    if (u->extra[0].key) {
      cJSON *extra = cJSON_AddObjectToObject(spec, "extra");
      for (size_t i = 0; i < sizeof(u->extra) / sizeof(u->extra[0]) && u->extra[i].key; i++)
        cJSON_AddItemToObject(extra, u->extra[i].key,
                              cJSON_CreateStringArray((const char *const[]){u->extra[i].value}, 1));
    }
  }
  api__create(call->srv, call->req, call->res, call->view, call->ri.ns, obj, api__dry_run(call->req));
  return true;
}

bool api__action(api_call_t *call) {
  if (create_csr(call))
    return true;
  const char *sub = call->ri.subresource;
  bool core = !call->ri.group[0];
  /* POST …/pods/<name>/binding, or the older …/bindings with the pod in metadata.name. */
  bool binding = core && ((!strcmp(call->ri.resource, "pods") && !strcmp(sub, "binding")) ||
                          (!strcmp(call->ri.resource, "bindings") && !call->ri.name[0]));
  bool eviction = core && !strcmp(call->ri.resource, "pods") && !strcmp(sub, "eviction");
  bool token = core && !strcmp(call->ri.resource, "serviceaccounts") && !strcmp(sub, "token");
  if (!binding && !eviction && !token)
    return false;
  api_status_t st;
  if (strcmp(call->ri.verb, "create")) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(call->req, &st);
    return true;
  }
  cJSON *body = NULL;
  if (api__decode_body(call->req, &body, &st) < 0) {
    api__respond_status(call->req, &st);
    return true;
  }
  if (binding && !strcmp(call->ri.resource, "bindings")) {
    /* Address the pod named in the Binding. */
    const char *pod = obj_str(body, "metadata.name");
    snprintf(call->ri.name, sizeof(call->ri.name), "%s", pod ? pod : "");
    call->res = api_registry_find("", "v1", "pods");
    if (!pod || !pod[0] || !call->res) {
      cJSON_Delete(body);
      api_status_bad_request(&st, "a Binding needs metadata.name (the pod to bind)");
      api__respond_status(call->req, &st);
      return true;
    }
  }
  if (binding)
    bind_pod(call, body);
  else if (eviction)
    evict_pod(call);
  else {
    api__satoken_issue(call, body);
    return true;
  }
  cJSON_Delete(body);
  return true;
}
