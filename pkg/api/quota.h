/* pkg/api/quota: what an object counts against a ResourceQuota (upstream's
 * quota evaluators in pkg/quota/v1/evaluator/core and the generic
 * count/<resource>.<group> one) and sums of such usages, shared by the
 * ResourceQuota admission plugin and the resource quota controller.
 * Usages are JSON objects of resource name -> canonical quantity string
 * ({"pods":"1","requests.cpu":"500m"}). Pure; callable from any thread.
 * https://kubernetes.io/docs/concepts/policy/resource-quotas/ */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The usage of obj, an object of group/resource ("" for core; "pods"),
 * as stored. Pods count their compute resources (containers summed, each
 * init container as a floor, plus overhead) unless Succeeded/Failed;
 * services count node ports and load balancers; PVCs their storage
 * request (also per storage class); everything counts as one
 * count/<resource>[.<group>] and the core legacy names (pods, services,
 * configmaps, secrets, persistentvolumeclaims, replicationcontrollers,
 * resourcequotas). Caller frees with cJSON_Delete. */
cJSON *api_quota_usage(const char *group, const char *resource, const cJSON *obj);

/* Whether a quota's resource name is one objects of group/resource are
 * counted under (upstream's evaluator MatchingResources). */
bool api_quota_matches(const char *group, const char *resource, const char *name);

/* total[k] += usage[k] for every k of usage (total takes new strings).
 * Returns 0 or -EINVAL when a value does not parse. */
int api_quota_add(cJSON *total, const cJSON *usage);

/* Compare two quantity strings by value: -1, 0, 1; -2 when one does not
 * parse. */
int api_quota_cmp(const char *a, const char *b);

/* Upstream's pod Constraints: for every name of required among cpu,
 * memory, requests.cpu, requests.memory, limits.cpu, limits.memory, the
 * containers (and init containers) that do not set it, as
 * "limits.cpu for: a,b; requests.memory for: a" (names sorted). NULL when
 * none is missing; else caller frees. */
char *api_quota_pod_missing(const cJSON *pod, const cJSON *required_names);
