/* apiregistration.k8s.io/v1 APIService: the aggregation layer's records.
 * The server creates a Local APIService for each built-in group/version
 * it serves (as upstream's autoregister controller does), with upstream's
 * priorities; users may create others that name a service, whose
 * requests aggregator.c proxies and whose Available condition it keeps.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/configure-aggregation-layer/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "util/alloc.h"

/* groupPriorityMinimum and versionPriority of upstream kube-apiserver's
 * built-in group/versions (its apiVersionPriorities table); others get
 * the last row. */
static const struct {
  const char *group, *version;
  int group_min, version_prio;
} PRIORITIES[] = {
    {"", "v1", 18000, 1},
    {"apiregistration.k8s.io", "v1", 18000, 15},
    {"apps", "v1", 17800, 15},
    {"events.k8s.io", "v1", 17750, 15},
    {"authentication.k8s.io", "v1", 17700, 15},
    {"authorization.k8s.io", "v1", 17600, 15},
    {"autoscaling", "v2", 17500, 30},
    {"autoscaling", "v1", 17500, 15},
    {"batch", "v1", 17400, 15},
    {"certificates.k8s.io", "v1", 17300, 15},
    {"networking.k8s.io", "v1", 17200, 15},
    {"policy", "v1", 17100, 15},
    {"rbac.authorization.k8s.io", "v1", 17000, 15},
    {"storage.k8s.io", "v1", 16800, 15},
    {"apiextensions.k8s.io", "v1", 16700, 15},
    {"admissionregistration.k8s.io", "v1", 16700, 15},
    {"scheduling.k8s.io", "v1", 16600, 15},
    {"coordination.k8s.io", "v1", 16500, 15},
    {"node.k8s.io", "v1", 16300, 15},
    {"discovery.k8s.io", "v1", 16200, 15},
    {"flowcontrol.apiserver.k8s.io", "v1", 16100, 21},
    /* metrics-server's own manifest registers v1beta1.metrics.k8s.io so */
    {"metrics.k8s.io", "v1beta1", 100, 100},
    {NULL, NULL, 1000, 15},
};

/* ---- status ---- */

static void set_available(cJSON *obj, bool ok, const char *reason, const char *message) {
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  cJSON *status = cJSON_CreateObject();
  cJSON *conds = cJSON_AddArrayToObject(status, "conditions");
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "type", "Available");
  cJSON_AddStringToObject(c, "status", ok ? "True" : "False");
  cJSON_AddStringToObject(c, "lastTransitionTime", now);
  cJSON_AddStringToObject(c, "reason", reason);
  cJSON_AddStringToObject(c, "message", message);
  cJSON_AddItemToArray(conds, c);
  obj_set(obj, "status", status);
}

/* The Available condition follows spec.service: none means the group is
 * served here; with a service, aggregator.c's checks decide (no condition
 * until then, as upstream's controller has not run). */
static int apiservice_admit(api_server_t *srv, cJSON *obj, api_status_t *st) {
  if (cJSON_IsObject(obj_get(obj, "spec.service")))
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
  else
    set_available(obj, true, "Local", "Local APIServices are always available");
  return 0;
}

static int apiservice_admit_update(api_server_t *srv, cJSON *obj, const cJSON *old,
                                   api_status_t *st) {
  bool was_local = !cJSON_IsObject(obj_get(old, "spec.service"));
  bool local = !cJSON_IsObject(obj_get(obj, "spec.service"));
  if (was_local != local)
    return apiservice_admit(srv, obj, st);
  return 0;
}

/* ---- validation (upstream's ValidateAPIService) ---- */

static void apiservice_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *name = obj_str(obj, "metadata.name");
  const char *group = obj_str(obj, "spec.group"), *version = obj_str(obj, "spec.version");
  if (!group)
    group = "";
  if (!version || !version[0]) {
    api__cause_required(st, "spec.version");
  } else if (name) {
    char want[600];
    snprintf(want, sizeof(want), "%s.%s", version, group);
    if (strcmp(name, want))
      api__cause(st, "FieldValueInvalid", "metadata.name",
                 "Invalid value: \"%s\": must be `spec.version+\".\"+spec.group`", name);
  }
  if (!group[0] && version && strcmp(version, "v1"))
    api__cause(st, "FieldValueRequired", "spec.group",
               "Required value: only v1 may have an empty group and it better be legacy kube");
  const cJSON *gpm = obj_get(obj, "spec.groupPriorityMinimum");
  const cJSON *vp = obj_get(obj, "spec.versionPriority");
  double g = cJSON_IsNumber(gpm) ? gpm->valuedouble : 0, v = cJSON_IsNumber(vp) ? vp->valuedouble : 0;
  if (g <= 0 || g > 20000)
    api__cause(st, "FieldValueInvalid", "spec.groupPriorityMinimum",
               "Invalid value: %d: must be positive and less than 20000", (int)g);
  if (v <= 0 || v > 1000)
    api__cause(st, "FieldValueInvalid", "spec.versionPriority",
               "Invalid value: %d: must be positive and less than 1000", (int)v);
  const cJSON *svc = obj_get(obj, "spec.service");
  const char *ca = obj_str(obj, "spec.caBundle");
  if (cJSON_IsTrue(obj_get(obj, "spec.insecureSkipTLSVerify")) && ca && ca[0])
    api__cause(st, "FieldValueInvalid", "spec.insecureSkipTLSVerify",
               "Invalid value: true: may not be true if caBundle is present");
  if (cJSON_IsObject(svc)) {
    const char *sn = obj_str(svc, "name"), *sns = obj_str(svc, "namespace");
    if (!sn || !sn[0])
      api__cause_required(st, "spec.service.name");
    if (!sns || !sns[0])
      api__cause_required(st, "spec.service.namespace");
    const cJSON *port = obj_get(svc, "port");
    if (port && (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535))
      api__cause(st, "FieldValueInvalid", "spec.service.port",
                 "Invalid value: %d: must be a valid port number",
                 cJSON_IsNumber(port) ? (int)port->valuedouble : 0);
  }
}

static void apiservice_defaults(cJSON *obj) {
  cJSON *svc = (cJSON *)obj_get(obj, "spec.service");
  if (cJSON_IsObject(svc) && !cJSON_GetObjectItemCaseSensitive(svc, "port"))
    cJSON_AddNumberToObject(svc, "port", 443);
}

/* version.group, a DNS subdomain, or "v1." for the legacy group (as
 * upstream's ValidateAPIServiceName allows). */
static const char *apiservice_name(const char *name) {
  return name && !strcmp(name, "v1.") ? NULL : obj_check_dns1123_subdomain(name);
}

/* ---- table ---- */

static cJSON *apiservice_cell(const char *col, const cJSON *obj) {
  char buf[600];
  if (!strcmp(col, "Service")) {
    const cJSON *svc = obj_get(obj, "spec.service");
    if (!cJSON_IsObject(svc))
      return cJSON_CreateString("Local");
    snprintf(buf, sizeof(buf), "%s/%s", obj_str(svc, "namespace") ? obj_str(svc, "namespace") : "",
             obj_str(svc, "name") ? obj_str(svc, "name") : "");
    return cJSON_CreateString(buf);
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(obj, "status.conditions")) {
    const char *type = obj_str(c, "type"), *status = obj_str(c, "status");
    if (!type || strcmp(type, "Available") || !status)
      continue;
    if (!strcmp(status, "True"))
      return cJSON_CreateString("True");
    const char *reason = obj_str(c, "reason");
    snprintf(buf, sizeof(buf), "%s (%s)", status, reason ? reason : "");
    return cJSON_CreateString(buf);
  }
  return cJSON_CreateString("Unknown");
}

const api_hooks_t api_kind_apiservice = {.defaults = apiservice_defaults,
                                         .validate = apiservice_validate,
                                         .cell = apiservice_cell,
                                         .admit_create = apiservice_admit,
                                         .admit_update = apiservice_admit_update,
                                         .check_name = apiservice_name};

/* ---- the local APIServices ---- */

static cJSON *local_apiservice(const char *name, const char *group, const char *version,
                               const char *managed, int group_min, int version_prio) {
  cJSON *obj = cJSON_CreateObject();
  cJSON_AddStringToObject(obj, "apiVersion", "apiregistration.k8s.io/v1");
  cJSON_AddStringToObject(obj, "kind", "APIService");
  cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
  cJSON_AddStringToObject(md, "name", name);
  cJSON *labels = cJSON_AddObjectToObject(md, "labels");
  cJSON_AddStringToObject(labels, "kube-aggregator.kubernetes.io/automanaged", managed);
  cJSON *spec = cJSON_AddObjectToObject(obj, "spec");
  cJSON_AddStringToObject(spec, "group", group);
  cJSON_AddStringToObject(spec, "version", version);
  cJSON_AddNumberToObject(spec, "groupPriorityMinimum", group_min);
  cJSON_AddNumberToObject(spec, "versionPriority", version_prio);
  return obj;
}

/* Is group/version served by a live custom resource row? */
static bool crd_serves(const char *group, const char *version) {
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *r = api_registry_at(i);
    if (r && r->custom && !strcmp(r->s->group, group) && !strcmp(r->s->version, version))
      return true;
  }
  return false;
}

void api__apiservices_sync_crds(api_server_t *srv) {
  const api_resource_t *res = api_registry_find("apiregistration.k8s.io", "v1", "apiservices");
  if (!res)
    return;
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *r = api_registry_at(i);
    if (!r || !r->custom)
      continue;
    char name[600];
    snprintf(name, sizeof(name), "%s.%s", r->s->version, r->s->group);
    char *key = api_resource_key(res, NULL, name);
    store_kv_t *kv = NULL;
    if (store_get_latest(srv->store, key, &kv) == 0) /* one there (maybe a user's): kept */
      store_kv_unref(kv);
    else /* upstream's crdRegistrationController priorities */
      api__create(srv, NULL, res, res, NULL,
                  local_apiservice(name, r->s->group, r->s->version, "true", 1000, 100), false);
    free(key);
  }
  char *prefix = api_resource_key(res, NULL, NULL);
  store_list_t l = {0};
  int e = store_list(srv->store, &(store_list_opts_t){.prefix = prefix}, &l);
  free(prefix);
  if (e < 0)
    return;
  for (size_t i = 0; i < l.n; i++) {
    const store_kv_t *kv = l.items[i];
    static const char mark[] = "\"kube-aggregator.kubernetes.io/automanaged\":\"true\"";
    if (!memmem(kv->value, kv->len, mark, sizeof(mark) - 1))
      continue;
    cJSON *obj = cJSON_ParseWithLength(kv->value, kv->len);
    const cJSON *managed = cJSON_GetObjectItemCaseSensitive(
        obj_get(obj, "metadata.labels"), "kube-aggregator.kubernetes.io/automanaged");
    const char *group = obj_str(obj, "spec.group"), *version = obj_str(obj, "spec.version");
    if (cJSON_IsString(managed) && !strcmp(managed->valuestring, "true") && group && version &&
        !cJSON_IsObject(obj_get(obj, "spec.service")) && !crd_serves(group, version)) {
      api__submit(srv, NULL, res, NULL, STORE_OP_DELETE, xstrdup(kv->key), obj, kv->mod_rev, 200,
                  API_REPLY_DELETED, false);
      obj = NULL;
    }
    cJSON_Delete(obj);
  }
  store_list_done(&l);
}

void api__apiservices_bootstrap(api_server_t *srv) {
  const api_resource_t *res = api_registry_find("apiregistration.k8s.io", "v1", "apiservices");
  if (!res)
    return;
  char seen[64][96];
  size_t n_seen = 0;
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *r = api_registry_at(i);
    if (!r || r->custom)
      continue;
    const char *group = r->s->group, *version = r->s->version;
    char name[96];
    snprintf(name, sizeof(name), "%s.%s", version, group);
    bool dup = false;
    for (size_t k = 0; k < n_seen && !dup; k++)
      dup = !strcmp(seen[k], name);
    if (dup || n_seen == 64)
      continue;
    snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
    size_t p = 0;
    while (PRIORITIES[p].group &&
           (strcmp(PRIORITIES[p].group, group) || strcmp(PRIORITIES[p].version, version)))
      p++;
    char *key = api_resource_key(res, NULL, name);
    store_kv_t *kv = NULL;
    if (store_get_latest(srv->store, key, &kv) == 0) {
      store_kv_unref(kv);
      free(key);
      continue;
    }
    free(key);
    api__create(srv, NULL, res, res, NULL,
                local_apiservice(name, group, version, "onstart", PRIORITIES[p].group_min,
                                 PRIORITIES[p].version_prio),
                false);
  }
}
