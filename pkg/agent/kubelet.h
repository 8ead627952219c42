/* pkg/agent kubelet: the pods of one node, run in the container runtime.
 * On the agent's loop: an informer on the pods bound to the node (and on
 * the ConfigMaps and Secrets they name), a controller whose reconcile(key)
 * hands one pod at a time to a worker thread (podsync.h), then posts the
 * status, the events and, for a deleted pod whose containers are gone,
 * the final DELETE. A relist of the runtime's containers every second
 * (upstream's PLEG) notices exits; a sweep removes sandboxes no pod owns.
 * docs/AGENT.md describes it.
 *
 * Threads: the loop of its client, except the worker threads it owns. */
#pragma once

#include <ev.h>
#include <stdbool.h>

#include "agent/logrotate.h"
#include "agent/podspec.h"
#include "agent/stats.h"
#include "client/client.h"

typedef struct agent_kubelet agent_kubelet_t;

typedef struct {
  const char *socket_path;   /* the CRI socket */
  int workers;               /* threads running pod syncs: 4 */
  agent_podspec_node_t node; /* strings copied */
  agent_logrotate_policy_t log_rotate; /* max_size 0: no rotation (logrotate.h) */
} agent_kubelet_opts_t;

/* Start serving the node's pods through c (which must outlive it).
 * Returns 0 and *ret, or a negative errno. */
int agent_kubelet_new(struct ev_loop *loop, client_t *c, const agent_kubelet_opts_t *opts,
                      agent_kubelet_t **ret);
/* Stop: waits for the pod syncs running now; containers keep running (a
 * restarted agent adopts them). Accepts NULL. */
void agent_kubelet_free(agent_kubelet_t *k);
/* The runtime came up again after a restart: drop connections, sync every
 * pod. */
void agent_kubelet_runtime_restarted(agent_kubelet_t *k);
/* What the node offers pods (a ResourceList object, copied): a new pod
 * that does not fit beside the running ones is rejected (phase Failed,
 * reason OutOfcpu/OutOfmemory/OutOfpods...), as the kubelet's admission
 * does for pods that bypassed the scheduler. */
void agent_kubelet_set_allocatable(agent_kubelet_t *k, const cJSON *allocatable);
/* Pods synced, and pod syncs in flight (for tests and logs). */
void agent_kubelet_stats(const agent_kubelet_t *k, unsigned *ret_syncs, unsigned *ret_running);

/* ---- for the kubelet API (kubeletapi.h) ---- */
/* Pod ns/name of this node as the informer holds it, or NULL. Borrowed:
 * valid until control returns to the loop. */
const cJSON *agent_kubelet_pod(const agent_kubelet_t *k, const char *ns, const char *name);
/* This node's pods as a v1 PodList (caller frees with cJSON_Delete). */
cJSON *agent_kubelet_pod_list(const agent_kubelet_t *k);
/* The directory of the pods' log directories (<ns>_<pod>_<uid>/). */
const char *agent_kubelet_logs_dir(const agent_kubelet_t *k);
/* The latest resource figures of the node and its containers (sampled
 * every 10 s), or NULL. Borrowed: valid until control returns to the
 * loop. */
const agent_stats_t *agent_kubelet_usage(const agent_kubelet_t *k);

/* The kubelet's CRI client (exec, attach, port-forward sessions), on the
 * kubelet's loop; NULL before the runtime is connected. */
struct cri_client;
struct cri_client *agent_kubelet_cri(agent_kubelet_t *k);
