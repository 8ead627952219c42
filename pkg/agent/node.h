/* pkg/agent node: one Node kept by an agent, as a kubelet keeps its own:
 * registered (a 409 adopts the existing object and adds the registration
 * labels it lacks), its Lease in kube-node-lease renewed (created on 404,
 * owned by the Node), its status posted every status_seconds and at once
 * when it changes, registered again when it is deleted (404 on status).
 * Shared by the real agent (one node) and hollow nodes (N of them), on
 * pkg/client with any backend.
 *
 * Threads: one libev loop, the client's; every function on that loop. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>

#include "client/client.h"

#define AGENT_NODE_LEASE_DURATION 40 /* upstream's kubelet: nodeLeaseDurationSeconds */

typedef struct agent_node agent_node_t;

/* cb runs on the loop each time the node is (re-)registered (uid known);
 * it must not free n (the node's first status post and Lease renewal are
 * already started when it runs). */
typedef void (*agent_node_cb)(void *data, agent_node_t *n);
/* A request failed: what is "registering", "status", "lease" or "labels";
 * code the HTTP status (0: none, message then says why). For the caller to
 * log; the node retries by itself (registration on the next status tick). */
typedef void (*agent_node_warn_cb)(void *data, agent_node_t *n, const char *what, int code,
                                   const char *message);

typedef struct {
  const char *name;
  const cJSON *labels;      /* object, copied: registration labels */
  const cJSON *annotations; /* object, copied, may be NULL */
  const cJSON *taints;      /* array, copied, may be NULL: spec.taints at registration */
  const cJSON *status;      /* copied: capacity, allocatable, addresses, daemonEndpoints,
                               nodeInfo; conditions are agent_node's own */
  double lease_seconds;     /* Lease renewal period; <= 0: 10 */
  double status_seconds;    /* status post period; <= 0: 10 */
  agent_node_warn_cb warn;  /* may be NULL; gets the cb's data */
} agent_node_opts_t;

/* Start registering o->name through c (which must outlive the node).
 * Everything in o is copied. cb may be NULL; it and warn get data. Returns
 * 0 with *ret (free with agent_node_free), or -EINVAL (no name, labels not
 * an object, taints not an array). No callback runs inside this call. */
int agent_node_new(struct ev_loop *loop, client_t *c, const agent_node_opts_t *o,
                   agent_node_cb cb, void *data, agent_node_t **ret);
/* Stop: requests in flight are cancelled (their callbacks do not run); the
 * Node and Lease stay, as a stopped kubelet leaves them. Accepts NULL. */
void agent_node_free(agent_node_t *n);

/* Replace the status (copied; its "conditions" are ignored) and post it
 * at once when it differs from the last one. */
void agent_node_set_status(agent_node_t *n, const cJSON *status);

/* type "Ready", "MemoryPressure", "DiskPressure", "PIDPressure" (others are
 * ignored); posts at once when status or reason changed; lastTransitionTime
 * moves only when status changes. reason NULL: upstream's reason for
 * that status (below), with its message when message is NULL too; message
 * NULL with a reason of the caller's: "". Defaults: Ready
 * False/KubeletNotReady until set, pressures False with upstream's reasons
 * (KubeletHasSufficientMemory, KubeletHasNoDiskPressure,
 * KubeletHasSufficientPID; true ones KubeletHasInsufficientMemory,
 * KubeletHasDiskPressure, KubeletHasInsufficientPID). A change made before
 * registration goes with the first post. */
void agent_node_set_condition(agent_node_t *n, const char *type, bool status,
                              const char *reason, const char *message);

const char *agent_node_name(const agent_node_t *n);
/* The Node's metadata.uid; NULL until registered (and again after the Node
 * was found deleted, until it is registered anew). Valid until the next
 * loop iteration that may re-register it. */
const char *agent_node_uid(const agent_node_t *n);
/* Whether the node is registered (its uid known and its status posting). */
bool agent_node_registered(const agent_node_t *n);
