/* pkg/agent hollow nodes: `k3c agent --hollow N`, a kubemark-like agent
 * with no containers. It registers N Nodes, renews a Lease per node in
 * kube-node-lease, posts their status, and plays the kubelet on the pods
 * bound to them (status from hollow_pod.h; graceful deletion finished with
 * a DELETE of grace period 0). One pod informer serves every node.
 * Written on pkg/client's HTTPS backend and informers (docs/CLIENT.md).
 * Conventions and limits: docs/HOLLOW.md.
 *
 * Threads: one libev loop; every function on the loop of the client. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "config/config.h"

typedef struct agent_hollow agent_hollow_t;

typedef struct {
  int nodes;              /* how many (names prefix0 .. prefix(N-1)) */
  const char *prefix;     /* "hollow-" */
  const char *cpu;        /* capacity = allocatable: "4" */
  const char *memory;     /* "8Gi" */
  int pods;               /* 110 */
  double lease_seconds;   /* Lease renewal period: 10 */
  double status_seconds;  /* node status post period: 60 */
  const char *kubelet_version; /* status.nodeInfo.kubeletVersion */
} agent_hollow_opts_t;

/* Register the nodes and start serving their pods through c (which must
 * outlive the agent). Strings in opts are copied. Returns 0 or -EINVAL. */
int agent_hollow_new(struct ev_loop *loop, client_t *c, const agent_hollow_opts_t *opts,
                     agent_hollow_t **ret_agent);
/* Stop (requests in flight are cancelled; nodes and leases stay, as a
 * stopped kubelet leaves them). Accepts NULL. */
void agent_hollow_free(agent_hollow_t *h);
