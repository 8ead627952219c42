/* pkg/agent pvc: persistentVolumeClaim volumes on the node. The kubelet
 * reads the pod's claims and their volumes with GETs (what the node's RBAC
 * role allows: get on persistentvolumeclaims and persistentvolumes), then
 * the pod handed to the workers has each such volume resolved to a
 * hostPath volume on the bound PV's path (hostPath or local source; a
 * hostPath PV keeps its type, so local-path's DirectoryOrCreate makes the
 * directory), the claim's readOnly forced on every mount of it. A claim
 * that is missing or not bound yet leaves the pod ContainerCreating with a
 * FailedMount event. (The directory of a deleted local-path volume is
 * removed by the PV binder on the server's host: controller/pvbinder.h.)
 * https://kubernetes.io/docs/concepts/storage/persistent-volumes/#claims-as-volumes
 *
 * Threads: the fetch on the kubelet's loop; agent_pvc_resolve is
 * pure (any thread). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "client/client.h"

/* Whether pod has a persistentVolumeClaim volume. */
bool agent_pvc_wanted(const cJSON *pod);

/* Resolve pod's persistentVolumeClaim volumes in place (pod is the
 * worker's copy). claims: claim name -> PVC object; volumes: PV name -> PV
 * object (either NULL for none). Returns 0; -ENOENT (claim missing),
 * -EAGAIN (claim not bound, or its PV not known yet) or -ENOTSUP (a PV
 * source other than hostPath/local) with the FailedMount message in err
 * (upstream's "Unable to attach or mount volumes: unmounted volumes=[x]...").
 * On error pod is left partly resolved: do not run it. */
int agent_pvc_resolve(cJSON *pod, const cJSON *claims, const cJSON *volumes, char *err,
                      size_t errlen);

/* ---- the GETs ---- */
typedef struct agent_pvc_fetch agent_pvc_fetch_t;
/* claims/volumes: new objects (name -> object) the callback owns; a
 * request that failed leaves its name out. */
typedef void (*agent_pvc_done_cb)(cJSON *claims, cJSON *volumes, void *data);
/* GET every claim of pod, then the PV of each bound one; cb runs once,
 * later (never inside this call). */
agent_pvc_fetch_t *agent_pvc_fetch_start(struct ev_loop *loop, client_t *c, const cJSON *pod,
                                         agent_pvc_done_cb cb, void *data);
/* Stop: cb does not run. Accepts NULL. */
void agent_pvc_fetch_cancel(agent_pvc_fetch_t *f);
