/* Node-property fit checks of kube-scheduler's NodeName, NodeAffinity,
 * TaintToleration and NodeUnschedulable filters (fit.h), over cJSON Pods
 * and Nodes, with upstream's reasons.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/ */
#include "scheduler/fit.h"

#include "json/util.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *item_str(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool set_reason(char *reason, size_t reasonlen, const char *text) {
  if (reason && reasonlen)
    snprintf(reason, reasonlen, "%s", text);
  return false;
}

bool scheduler_fit_node_name(const cJSON *pod, const cJSON *node, char *reason, size_t reasonlen) {
  const char *want = str(pod, "spec.nodeName");
  const char *name = str(node, "metadata.name");
  if (!want || !want[0] || (name && !strcmp(want, name)))
    return true;
  return set_reason(reason, reasonlen, SCHEDULER_REASON_NODE_NAME);
}

/* Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits only. */
static int parse_int64(const char *s, int64_t *ret) {
  if (!s || !*s)
    return -EINVAL;
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  if (!*p)
    return -EINVAL;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9')
      return -EINVAL;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *ret = v;
  return 0;
}

static bool values_contain(const cJSON *values, const char *value) {
  const cJSON *v;
  cJSON_ArrayForEach(v, values) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, value))
      return true;
  }
  return false;
}

bool scheduler_fit_requirement(const cJSON *req, const char *value) {
  const char *op = item_str(req, "operator");
  const cJSON *values = cJSON_GetObjectItemCaseSensitive(req, "values");
  if (!op)
    return false;
  if (!strcmp(op, "In"))
    return value && values_contain(values, value);
  if (!strcmp(op, "NotIn"))
    return !value || !values_contain(values, value);
  if (!strcmp(op, "Exists"))
    return value != NULL;
  if (!strcmp(op, "DoesNotExist"))
    return value == NULL;
  if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
    int64_t want, have;
    const cJSON *v0 = cJSON_GetArrayItem(values, 0);
    if (!value || cJSON_GetArraySize(values) != 1 || !cJSON_IsString(v0) ||
        parse_int64(v0->valuestring, &want) < 0 || parse_int64(value, &have) < 0)
      return false;
    return op[0] == 'G' ? have > want : have < want;
  }
  return false;
}

bool scheduler_fit_node_selector_term(const cJSON *term, const cJSON *node) {
  const cJSON *exprs = cJSON_GetObjectItemCaseSensitive(term, "matchExpressions");
  const cJSON *fields = cJSON_GetObjectItemCaseSensitive(term, "matchFields");
  if (cJSON_GetArraySize(exprs) == 0 && cJSON_GetArraySize(fields) == 0)
    return false;
  const cJSON *labels = json_get_path(node, "metadata.labels");
  const cJSON *r;
  cJSON_ArrayForEach(r, exprs) {
    const char *key = item_str(r, "key");
    if (!key)
      return false;
    if (!scheduler_fit_requirement(r, item_str(labels, key)))
      return false;
  }
  cJSON_ArrayForEach(r, fields) {
    const char *key = item_str(r, "key");
    const char *op = item_str(r, "operator");
    /* Only metadata.name is a node field selector key, with In/NotIn. */
    if (!key || strcmp(key, "metadata.name") || !op || (strcmp(op, "In") && strcmp(op, "NotIn")))
      return false;
    if (!scheduler_fit_requirement(r, str(node, "metadata.name")))
      return false;
  }
  return true;
}

bool scheduler_fit_node_affinity(const cJSON *pod, const cJSON *node, char *reason,
                                 size_t reasonlen) {
  const cJSON *sel = json_get_path(pod, "spec.nodeSelector");
  const cJSON *labels = json_get_path(node, "metadata.labels");
  const cJSON *kv;
  cJSON_ArrayForEach(kv, sel) {
    const char *have = item_str(labels, kv->string);
    if (!cJSON_IsString(kv) || !have || strcmp(have, kv->valuestring))
      return set_reason(reason, reasonlen, SCHEDULER_REASON_NODE_AFFINITY);
  }
  const cJSON *required = json_get_path(
      pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  if (!cJSON_IsObject(required))
    return true;
  const cJSON *term;
  cJSON_ArrayForEach(term, cJSON_GetObjectItemCaseSensitive(required, "nodeSelectorTerms")) {
    if (scheduler_fit_node_selector_term(term, node))
      return true;
  }
  return set_reason(reason, reasonlen, SCHEDULER_REASON_NODE_AFFINITY);
}

bool scheduler_fit_tolerates(const cJSON *tol, const cJSON *taint) {
  const char *teffect = item_str(tol, "effect"), *effect = item_str(taint, "effect");
  const char *tkey = item_str(tol, "key"), *key = item_str(taint, "key");
  const char *op = item_str(tol, "operator");
  if (teffect && teffect[0] && (!effect || strcmp(teffect, effect)))
    return false;
  if (tkey && tkey[0] && (!key || strcmp(tkey, key)))
    return false;
  if (!op || !op[0] || !strcmp(op, "Equal")) {
    const char *tvalue = item_str(tol, "value"), *value = item_str(taint, "value");
    return !strcmp(tvalue ? tvalue : "", value ? value : "");
  }
  return !strcmp(op, "Exists");
}

bool scheduler_fit_pod_tolerates(const cJSON *pod, const cJSON *taint) {
  const cJSON *tol;
  cJSON_ArrayForEach(tol, json_get_path(pod, "spec.tolerations")) {
    if (scheduler_fit_tolerates(tol, taint))
      return true;
  }
  return false;
}

bool scheduler_fit_taints(const cJSON *pod, const cJSON *node, char *reason, size_t reasonlen) {
  const cJSON *taint;
  cJSON_ArrayForEach(taint, json_get_path(node, "spec.taints")) {
    const char *effect = item_str(taint, "effect");
    if (!effect || (strcmp(effect, "NoSchedule") && strcmp(effect, "NoExecute")))
      continue;
    if (scheduler_fit_pod_tolerates(pod, taint))
      continue;
    if (reason && reasonlen) {
      const char *key = item_str(taint, "key"), *value = item_str(taint, "value");
      snprintf(reason, reasonlen, "node(s) had untolerated taint {%s: %s}", key ? key : "",
               value ? value : "");
    }
    return false;
  }
  return true;
}

bool scheduler_fit_unschedulable(const cJSON *pod, const cJSON *node, char *reason,
                                 size_t reasonlen) {
  if (!cJSON_IsTrue(json_get_path(node, "spec.unschedulable")))
    return true;
  cJSON *taint = cJSON_CreateObject();
  cJSON_AddStringToObject(taint, "key", SCHEDULER_TAINT_UNSCHEDULABLE);
  cJSON_AddStringToObject(taint, "effect", "NoSchedule");
  bool ok = scheduler_fit_pod_tolerates(pod, taint);
  cJSON_Delete(taint);
  return ok ? true : set_reason(reason, reasonlen, SCHEDULER_REASON_UNSCHEDULABLE);
}

bool scheduler_fit_node(const cJSON *pod, const cJSON *node, char *reason, size_t reasonlen) {
  return scheduler_fit_unschedulable(pod, node, reason, reasonlen) &&
         scheduler_fit_node_name(pod, node, reason, reasonlen) &&
         scheduler_fit_taints(pod, node, reason, reasonlen) &&
         scheduler_fit_node_affinity(pod, node, reason, reasonlen);
}
