/* pkg/api qos: a pod's QoS class from its spec. Pure; any thread. */
#pragma once

#include <cjson/cJSON.h>

/* "Guaranteed", "Burstable" or "BestEffort" (static) for a PodSpec, as
 * upstream's ComputePodQOS: cpu and memory of containers and init
 * containers; Guaranteed when every container has both limits and the
 * summed requests (a missing one taking its limit) equal the summed
 * limits; BestEffort when none is requested or limited. */
const char *api_pod_qos(const cJSON *spec);
