/* pkg/agent prober: the kubelet's container probes. For each running
 * container with a startupProbe, livenessProbe or readinessProbe, the
 * probe runs every periodSeconds after initialDelaySeconds: exec (CRI
 * ExecSync, exit 0), tcpSocket (a connect), httpGet (a status 200..399
 * from GET over HTTP, or HTTPS without certificate verification as
 * upstream) or grpc (grpc.health.v1.Health/Check answering SERVING, over
 * h2c: grpcprobe.h), each within timeoutSeconds; successThreshold /
 * failureThreshold results in a row flip it. Readiness and startup
 * results go into the pod status (podstatus.h "probes"); a liveness (or
 * startup) failure stops the container, which then restarts under its
 * restartPolicy with the usual back-off. Unhealthy events with upstream's
 * wording. https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
 *
 * Threads: the kubelet's loop. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>

#include "agent/runtime.h"
#include "cri/cri.h"

typedef struct agent_prober agent_prober_t;

typedef struct {
  /* A result changed the pod's readiness or startup: resync it. */
  void (*changed)(void *data, const char *pod_key);
  /* An event about the pod at pod_key. */
  void (*event)(void *data, const char *pod_key, const char *type, const char *reason,
                const char *message);
  void *data;
} agent_prober_cbs_t;

/* cri: the loop's asynchronous client (borrowed, outlives the prober). */
agent_prober_t *agent_prober_new(struct ev_loop *loop, cri_client_t *cri,
                                 const agent_prober_cbs_t *cbs);
void agent_prober_free(agent_prober_t *p); /* accepts NULL */

/* After a sync: probe the running containers of pod (cs, n: what the
 * runtime showed) at pod_ip (host_ip for hostNetwork), stop probing the
 * others of that pod. */
void agent_prober_update(agent_prober_t *p, const cJSON *pod, const char *pod_ip,
                         const agent_rt_container_t *cs, size_t n);
/* The pod is gone: stop its probes. */
void agent_prober_forget(agent_prober_t *p, const char *uid);
/* Results for podstatus: a new object container id -> {"ready","started"}
 * for the probed containers of pod uid (caller frees). */
cJSON *agent_prober_results(const agent_prober_t *p, const char *uid);
