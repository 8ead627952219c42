/* pkg/agent podstatus: the pod status a kubelet reports, from what the
 * runtime shows of the pod's containers: phase, conditions, container
 * statuses (state, lastState, restartCount, ready, started, imageID,
 * containerID), IPs, startTime and QoS class, as upstream computes them.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/
 *
 * Pure functions; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/runtime.h"

/* What the pod sync saw and decided. */
typedef struct {
  const agent_rt_container_t *containers; /* every instance of the pod's containers */
  size_t n;
  bool sandbox_ready;
  const char *pod_ip;  /* "" when none yet */
  const char *host_ip;
  /* Containers that are not running for a reason the sync decided:
   * object name -> {"reason": ..., "message": ...} (CrashLoopBackOff,
   * ErrImagePull, ...). May be NULL. */
  const cJSON *waiting;
  /* Probe results (prober.h): container id -> {"ready": bool, "started":
   * bool}. A running container with a readinessProbe (startupProbe) and
   * no result yet is not ready (started). May be NULL. */
  const cJSON *probes;
  time_t now;
} agent_podstatus_in_t;

/* The newest instance named name (init or not) in in, or NULL. */
const agent_rt_container_t *agent_podstatus_latest(const agent_podstatus_in_t *in,
                                                   const char *name, bool init);

/* The seconds a restart of c must wait (upstream's CrashLoopBackOff: none
 * after the first exit, then 10 s doubling to 300 s; none again after 10
 * minutes of running). */
int64_t agent_podstatus_backoff(const agent_rt_container_t *c);

/* Whether the pod's containers are all terminated for good (phase
 * Succeeded or Failed): no restart will come. */
bool agent_podstatus_terminal(const cJSON *pod, const agent_podstatus_in_t *in);

/* The new status (caller frees): pod's current status with the fields
 * above replaced; conditions keep their lastTransitionTime while their
 * status stays, and a pod already Succeeded or Failed keeps its phase. */
cJSON *agent_podstatus_build(const cJSON *pod, const agent_podstatus_in_t *in);

/* RFC 3339 of ns nanoseconds since the epoch, in out (>= 32 bytes). */
void agent_podstatus_time(int64_t ns, char *out, size_t len);
