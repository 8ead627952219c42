/* pkg/scheduler volumes: the scheduler's VolumeBinding filter and its
 * PreBind step, for the volumes k3c has (PVCs of static volumes and of
 * local-path, a WaitForFirstConsumer class). Upstream:
 * pkg/scheduler/framework/plugins/volumebinding.
 *
 * - A pod whose claim does not exist is unschedulable
 *   (`persistentvolumeclaim "x" not found`); one whose claim is unbound and
 *   of an Immediate class (or no class) waits for the binder ("pod has
 *   unbound immediate PersistentVolumeClaims").
 * - A claim bound to a volume with spec.nodeAffinity (local, hostPath
 *   volumes) allows only the nodes that affinity selects ("node(s) had
 *   volume node affinity conflict").
 * - An unbound WaitForFirstConsumer claim allows every node; when the pod
 *   is bound, scheduler_volumes_prebind annotates the claim with
 *   volume.kubernetes.io/selected-node, which the provisioner acts on.
 *
 * Threads: the scheduler's loop. The informers are borrowed (their owner
 * starts them and outlives this). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "client/client.h"
#include "client/informer.h"

#define SCHEDULER_REASON_VOLUME_AFFINITY "node(s) had volume node affinity conflict"
#define SCHEDULER_REASON_UNBOUND_IMMEDIATE "pod has unbound immediate PersistentVolumeClaims"

typedef struct scheduler_volumes scheduler_volumes_t;

scheduler_volumes_t *scheduler_volumes_new(client_t *c, client_informer_t *pvcs,
                                           client_informer_t *pvs, client_informer_t *classes);
/* Cancel the annotation requests in flight and free. Accepts NULL. */
void scheduler_volumes_free(scheduler_volumes_t *v);

/* Whether pod has a persistentVolumeClaim volume (the filter is a no-op
 * otherwise). */
bool scheduler_volumes_wanted(const cJSON *pod);

/* The VolumeBinding filter for pod on node. false: why holds the reason
 * and *ret_unresolvable whether preemption cannot help (always true here:
 * evicting pods frees no volume). */
bool scheduler_volumes_filter(const scheduler_volumes_t *v, const cJSON *pod, const cJSON *node,
                              char *why, size_t len, bool *ret_unresolvable);

/* pod goes to node_name: its unbound WaitForFirstConsumer claims get the
 * selected-node annotation (a merge patch each; failures are logged, the
 * binder then waits as upstream's would until the pod is scheduled again). */
void scheduler_volumes_prebind(scheduler_volumes_t *v, const cJSON *pod, const char *node_name);
