/* pkg/agent hollow pods: the status a kubelet would post for a pod on a
 * hollow node (one that runs no containers), computed from the pod itself
 * and the time, so the agent keeps no per-pod state: the posted status is
 * the state. Conventions (docs/HOLLOW.md): a container whose command and
 * args end in a shell script `exit N` (["sh","-c","exit 1"]) or that is
 * ["true"] / ["false"] exits with that code, after the pod's annotation
 * hollow.k3c.io/run-seconds (default 0) of running; restartPolicy decides
 * whether it restarts (the first restart at once, then upstream's
 * CrashLoopBackOff 10 s doubling to 300 s). Other containers run forever.
 * Init containers are shown terminated Completed.
 * Pure functions; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <time.h>

#define HOLLOW_RUN_SECONDS_ANNOTATION "hollow.k3c.io/run-seconds"

/* The exit code a container asks for (0..255), or -1 when it runs until
 * deleted. */
int agent_hollow_container_exit(const cJSON *container);

/* The pod status a kubelet would post at time now: a new object (caller
 * frees with cJSON_Delete) built from pod's current status, with phase,
 * conditions, hostIP(s), podIP(s), startTime, initContainerStatuses and
 * containerStatuses set; other fields of the current status are kept.
 * host_ip: the node's address; pod_ip: the address to give when the pod has
 * none yet. *ret_wake: seconds after now when the status changes by itself
 * (a container exits or leaves back-off), or -1 for never. Returns 0, or
 * -EINVAL when pod has no spec.containers. */
int agent_hollow_pod_status(const cJSON *pod, time_t now, const char *host_ip, const char *pod_ip,
                            cJSON **ret_status, double *ret_wake);
