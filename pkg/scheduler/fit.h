/* pkg/scheduler fit: whether a pod may run on a node by the node's own
 * properties (its name, labels, taints, unschedulable flag), the checks of
 * kube-scheduler's NodeName, NodeAffinity, TaintToleration and
 * NodeUnschedulable filter plugins, with their reasons in upstream's words.
 * The DaemonSet controller uses the same functions.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
 * https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
 *
 * Pure functions over borrowed cJSON Pod and Node objects; callable from
 * any thread. A function that says "does not fit" writes the reason
 * (NUL-terminated, truncated to reasonlen) to reason when it is not NULL. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Upstream's reasons, word for word. */
#define SCHEDULER_REASON_NODE_NAME "node(s) didn't match the requested node name"
#define SCHEDULER_REASON_NODE_AFFINITY "node(s) didn't match Pod's node affinity/selector"
#define SCHEDULER_REASON_UNSCHEDULABLE "node(s) were unschedulable"
/* "node(s) had untolerated taint {key: value}" is built per taint. */

#define SCHEDULER_TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"
#define SCHEDULER_TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define SCHEDULER_TAINT_UNREACHABLE "node.kubernetes.io/unreachable"

/* spec.nodeName is empty or names node. */
bool scheduler_fit_node_name(const cJSON *pod, const cJSON *node, char *reason, size_t reasonlen);

/* spec.nodeSelector (every label equal) and
 * spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
 * (the terms ORed; in a term, every matchExpression on labels and every
 * matchField on metadata.name ANDed) hold for node. */
bool scheduler_fit_node_affinity(const cJSON *pod, const cJSON *node, char *reason,
                                 size_t reasonlen);

/* One NodeSelectorTerm ({matchExpressions, matchFields}) against node. An
 * empty term matches nothing, as upstream. */
bool scheduler_fit_node_selector_term(const cJSON *term, const cJSON *node);

/* One NodeSelectorRequirement {key, operator, values} against a value
 * (NULL when the label is absent): In, NotIn, Exists, DoesNotExist, Gt, Lt
 * (Gt/Lt: one integer value, compared with the label as an integer). */
bool scheduler_fit_requirement(const cJSON *req, const char *value);

/* Whether toleration tolerates taint (upstream's ToleratesTaint: an empty
 * effect matches every effect, an empty key with Exists every key,
 * operator "" is Equal). */
bool scheduler_fit_tolerates(const cJSON *toleration, const cJSON *taint);
/* Whether one of the pod's spec.tolerations tolerates taint. */
bool scheduler_fit_pod_tolerates(const cJSON *pod, const cJSON *taint);

/* Every NoSchedule and NoExecute taint of node is tolerated by the pod
 * (PreferNoSchedule taints only score). The reason names the first
 * untolerated one: "node(s) had untolerated taint {key: value}". */
bool scheduler_fit_taints(const cJSON *pod, const cJSON *node, char *reason, size_t reasonlen);

/* spec.unschedulable is not set, or the pod tolerates the
 * node.kubernetes.io/unschedulable:NoSchedule taint. */
bool scheduler_fit_unschedulable(const cJSON *pod, const cJSON *node, char *reason,
                                 size_t reasonlen);

/* The four checks above in upstream's plugin order (NodeUnschedulable,
 * NodeName, TaintToleration, NodeAffinity); the reason is the first
 * failing one's. */
bool scheduler_fit_node(const cJSON *pod, const cJSON *node, char *reason, size_t reasonlen);
