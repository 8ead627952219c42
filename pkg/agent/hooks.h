/* pkg/agent hooks: a container's lifecycle handler (postStart, preStop) run
 * as upstream's kubelet runs it: exec (CRI ExecSync in the container),
 * httpGet (HTTP GET to host, by default the pod's IP, port by number or
 * by the container's port name; a status of 200-399 passes) or sleep.
 * The failure message is upstream's ("Exec lifecycle hook ([sh -c exit 1])
 * for Container \"c\" in Pod \"p_ns(uid)\" failed - error: ..., message:
 * \"...\"", "HTTP lifecycle hook (/path) for Container ..."). docs/AGENT.md.
 *
 * Threads: a pod worker (blocking; rt belongs to the calling thread). */
#pragma once

#include "agent/runtime.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  agent_runtime_t *rt;
  const cJSON *container; /* its spec (ports for a named httpGet port) */
  const char *cid;        /* runtime id of the running container */
  const char *pod_ip;     /* httpGet's default host; may be "" */
  const char *pod_ref;    /* "name_ns(uid)" for messages */
  double timeout;         /* seconds; <= 0: the runtime client's deadline (exec), 60 s else */
} agent_hook_ctx_t;

/* Run handler (a LifecycleHandler object). Returns 0, or a negative errno
 * with upstream's message in msg (-ENOTSUP for a handler of no known kind,
 * -ETIMEDOUT when it took longer than the timeout). */
int agent_hook_run(const agent_hook_ctx_t *x, const cJSON *handler, char *msg, size_t msglen);
