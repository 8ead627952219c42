/* Action subresources: pods/binding (the scheduler's bind), pods/eviction
 * (drain) and serviceaccounts/token (TokenRequest); and the create of a
 * CertificateSigningRequest, which records who asked.
 * https://kubernetes.io/docs/reference/kubernetes-api/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

static void evict_pod(api_call_t *call) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  store_kv_t *kv = NULL;
  cJSON *pod = NULL;
  if (api__load(call, &kv, &pod, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  /* PodDisruptionBudgets are not enforced yet: eviction deletes. */
  api__submit(call->srv, call->req, call->res, call->view, STORE_OP_DELETE,
              api_resource_key(call->res, call->ri.ns, call->ri.name), pod, kv->mod_rev, 201,
              API_REPLY_SUCCESS, false);
  store_kv_unref(kv);
}

static void issue_token(api_call_t *call, cJSON *tr) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  store_kv_t *kv = NULL;
  cJSON *sa = NULL;
  if (api__load(call, &kv, &sa, &st) < 0) {
    api__respond_status(call->req, &st);
    cJSON_Delete(tr);
    return;
  }
  const cJSON *exp = obj_get(tr, "spec.expirationSeconds");
  /* Range-check the double before converting it: upstream allows up to 2^32
   * seconds, which does not fit a 32-bit long (armhf). */
  double dsecs = cJSON_IsNumber(exp) ? exp->valuedouble : 3600;
  const char *why = dsecs < 600 ? "may not specify a duration less than 10 minutes"
                    : dsecs > 4294967296.0 ? "may not specify a duration larger than 2^32 seconds"
                                           : NULL;
  if (why) {
    api__cause_invalid(&st, "spec.expirationSeconds", why);
    api_status_invalid(&st, "authentication.k8s.io", "TokenRequest", call->ri.name);
    api__respond_status(call->req, &st);
    goto out;
  }
  int64_t secs = (int64_t)dsecs;
  unsigned char rnd[24];
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
    abort();
  char token[80] = "k3c-sa.";
  for (size_t i = 0; i < sizeof(rnd); i++)
    snprintf(token + 7 + 2 * i, sizeof(token) - 7 - 2 * i, "%02x", rnd[i]);
  char user[600], nsgroup[300];
  snprintf(user, sizeof(user), "system:serviceaccount:%s:%s", call->ri.ns, call->ri.name);
  snprintf(nsgroup, sizeof(nsgroup), "system:serviceaccounts:%s", call->ri.ns);
  const char *groups[] = {"system:serviceaccounts", nsgroup, NULL};
  time_t expires = time(NULL) + secs;
  api__token_add(call->srv, token, user, obj_str(sa, "metadata.uid"), groups, expires);
  obj_set_str(tr, "apiVersion", "authentication.k8s.io/v1");
  obj_set_str(tr, "kind", "TokenRequest");
  cJSON *meta = obj_meta(tr);
  obj_set_str(meta, "name", call->ri.name);
  obj_set_str(meta, "namespace", call->ri.ns);
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(tr, "spec");
  if (!spec)
    spec = cJSON_AddObjectToObject(tr, "spec");
  obj_set(spec, "expirationSeconds", cJSON_CreateNumber((double)secs));
  if (!cJSON_GetObjectItemCaseSensitive(spec, "audiences")) {
    cJSON *aud = cJSON_AddArrayToObject(spec, "audiences");
    cJSON_AddItemToArray(aud, cJSON_CreateString("https://kubernetes.default.svc.cluster.local"));
  }
  cJSON *status = cJSON_CreateObject();
  cJSON_AddStringToObject(status, "token", token);
  char ts[32];
  obj_time_format(expires, ts, sizeof(ts));
  cJSON_AddStringToObject(status, "expirationTimestamp", ts);
  obj_set(tr, "status", status);
  api__respond_obj(call->req, 201, tr);
  tr = NULL;
out:
  cJSON_Delete(tr);
  cJSON_Delete(sa);
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
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "extra"); /* no authenticator sets extra */
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
    issue_token(call, body);
    return true;
  }
  cJSON_Delete(body);
  return true;
}
