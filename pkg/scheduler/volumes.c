/* The VolumeBinding filter and PreBind step of the scheduler for claims of
 * static and local-path volumes (volumes.h).
 * https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode */
#include "scheduler/volumes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/util.h"
#include "scheduler/fit.h"
#include "util/alloc.h"
#include "util/log.h"

#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define REQS_MAX 256

struct scheduler_volumes {
  client_t *c;
  client_informer_t *pvcs, *pvs, *classes;
  client_req_t *reqs[REQS_MAX]; /* annotations in flight */
};

static const char *str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

scheduler_volumes_t *scheduler_volumes_new(client_t *c, client_informer_t *pvcs,
                                           client_informer_t *pvs, client_informer_t *classes) {
  scheduler_volumes_t *v = xcalloc(1, sizeof(*v));
  v->c = c;
  v->pvcs = pvcs;
  v->pvs = pvs;
  v->classes = classes;
  return v;
}

void scheduler_volumes_free(scheduler_volumes_t *v) {
  if (!v)
    return;
  for (size_t i = 0; i < REQS_MAX; i++)
    if (v->reqs[i])
      client_req_cancel(v->reqs[i]);
  free(v);
}

bool scheduler_volumes_wanted(const cJSON *pod) {
  const cJSON *vol;
  cJSON_ArrayForEach(vol, json_get_path(pod, "spec.volumes")) {
    if (str(vol, "persistentVolumeClaim.claimName"))
      return true;
  }
  return false;
}

static const char *class_of(const cJSON *pvc) {
  const char *sc = str(pvc, "spec.storageClassName");
  if (!sc) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(json_get_path(pvc, "metadata.annotations"),
                                                      "volume.beta.kubernetes.io/storage-class");
    sc = cJSON_IsString(a) ? a->valuestring : NULL;
  }
  return sc ? sc : "";
}

static bool wait_for_consumer(const scheduler_volumes_t *v, const cJSON *pvc) {
  const char *cn = class_of(pvc);
  const cJSON *cls = cn[0] ? client_informer_get(v->classes, NULL, cn) : NULL;
  const char *mode = str(cls, "volumeBindingMode");
  return mode && !strcmp(mode, "WaitForFirstConsumer");
}

bool scheduler_volumes_filter(const scheduler_volumes_t *v, const cJSON *pod, const cJSON *node,
                              char *why, size_t len, bool *ret_unresolvable) {
  const char *ns = str(pod, "metadata.namespace");
  const cJSON *vol;
  *ret_unresolvable = true;
  cJSON_ArrayForEach(vol, json_get_path(pod, "spec.volumes")) {
    const char *cn = str(vol, "persistentVolumeClaim.claimName");
    if (!cn)
      continue;
    const cJSON *pvc = client_informer_get(v->pvcs, ns ? ns : "", cn);
    if (!pvc) {
      snprintf(why, len, "persistentvolumeclaim \"%s\" not found", cn);
      return false;
    }
    if (json_get_path(pvc, "metadata.deletionTimestamp")) {
      snprintf(why, len, "persistentvolumeclaim \"%s\" is being deleted", cn);
      return false;
    }
    const char *vn = str(pvc, "spec.volumeName");
    if (!vn || !vn[0]) {
      if (wait_for_consumer(v, pvc))
        continue; /* provisioned for the node chosen */
      snprintf(why, len, "%s", SCHEDULER_REASON_UNBOUND_IMMEDIATE);
      return false;
    }
    const cJSON *pv = client_informer_get(v->pvs, NULL, vn);
    if (!pv) {
      snprintf(why, len, "persistentvolume \"%s\" not found", vn);
      return false;
    }
    const cJSON *terms = json_get_path(pv, "spec.nodeAffinity.required.nodeSelectorTerms");
    if (!terms)
      continue;
    bool any = false;
    const cJSON *t;
    cJSON_ArrayForEach(t, terms) {
      if ((any = scheduler_fit_node_selector_term(t, node)))
        break;
    }
    if (!any) {
      snprintf(why, len, "%s", SCHEDULER_REASON_VOLUME_AFFINITY);
      return false;
    }
  }
  return true;
}

static void patch_done(const client_result_t *res, void *data) {
  client_req_t **slot = data;
  *slot = NULL;
  if (res->code >= 300 && res->code != 404)
    log_warn("scheduler", "setting %s on a claim: %d %s", ANN_SELECTED_NODE, res->code,
             res->message ? res->message : "");
}

void scheduler_volumes_prebind(scheduler_volumes_t *v, const cJSON *pod, const char *node_name) {
  const char *ns = str(pod, "metadata.namespace");
  const cJSON *vol;
  cJSON_ArrayForEach(vol, json_get_path(pod, "spec.volumes")) {
    const char *cn = str(vol, "persistentVolumeClaim.claimName");
    const cJSON *pvc = cn ? client_informer_get(v->pvcs, ns ? ns : "", cn) : NULL;
    if (!pvc || str(pvc, "spec.volumeName") || !wait_for_consumer(v, pvc))
      continue;
    const cJSON *anns = json_get_path(pvc, "metadata.annotations");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(anns, ANN_SELECTED_NODE);
    const char *have = cJSON_IsString(a) ? a->valuestring : NULL;
    if (have && !strcmp(have, node_name))
      continue;
    size_t slot = 0;
    while (slot < REQS_MAX && v->reqs[slot])
      slot++;
    if (slot == REQS_MAX) {
      log_warn("scheduler", "claim %s/%s: too many annotations in flight", ns, cn);
      continue;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(p, "metadata");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), ANN_SELECTED_NODE,
                            node_name);
    /* guarded by the claim's uid: a new claim of that name is not ours */
    const char *uid = str(pvc, "metadata.uid");
    if (uid)
      cJSON_AddStringToObject(md, "uid", uid);
    client_ref_t ref = {.version = "v1", .resource = "persistentvolumeclaims", .ns = ns, .name = cn};
    v->reqs[slot] = client_patch(v->c, &ref, CLIENT_PATCH_MERGE, p, NULL, patch_done, &v->reqs[slot]);
    cJSON_Delete(p);
  }
}
