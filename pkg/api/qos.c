/* The QoS class of a pod (upstream's ComputePodQOS), shared by the API's
 * status.qosClass default and the node agent's cgroups and OOM scores.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/ */
#include "api/qos.h"

#include <stdbool.h>
#include <string.h>

#include "api/object.h"
#include "util/quantity.h"

/* A resource quantity of a ResourceList entry; false when absent or not a
 * positive quantity (upstream counts only those). */
static bool positive_quantity(const cJSON *list, const char *name, quantity_t *ret) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(list, name);
  const char *why;
  if (cJSON_IsString(v)) {
    if (quantity_parse(v->valuestring, strlen(v->valuestring), ret, &why) < 0)
      return false;
  } else if (!cJSON_IsNumber(v) || quantity_from_double(v->valuedouble, ret, &why) < 0) {
    return false;
  }
  return quantity_sign(ret) > 0;
}

/* upstream's ComputePodQOS: over containers and init containers, only cpu
 * and memory; Guaranteed when every container has both limits and the
 * summed requests equal the summed limits (a missing request defaults to
 * its limit), BestEffort when nothing is requested or limited. */
const char *api_pod_qos(const cJSON *spec) {
  static const char *const lists[] = {"containers", "initContainers"};
  static const char *const names[] = {"cpu", "memory"};
  quantity_t req[2], lim[2];
  bool has_req[2] = {false, false}, has_lim[2] = {false, false}, guaranteed = true;
  memset(req, 0, sizeof(req));
  memset(lim, 0, sizeof(lim));
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l])) {
      const cJSON *rq = obj_get(c, "resources.requests"), *lm = obj_get(c, "resources.limits");
      for (size_t i = 0; i < 2; i++) {
        quantity_t q, lq;
        bool got_lim = positive_quantity(lm, names[i], &lq);
        bool got_req = cJSON_GetObjectItemCaseSensitive(rq, names[i])
                           ? positive_quantity(rq, names[i], &q)
                           : (got_lim && (q = lq, true));
        if (got_req && (!has_req[i] ? (req[i] = q, 0) : quantity_add(&req[i], &q)) == 0)
          has_req[i] = true;
        if (got_lim && (!has_lim[i] ? (lim[i] = lq, 0) : quantity_add(&lim[i], &lq)) == 0)
          has_lim[i] = true;
        if (!got_lim)
          guaranteed = false;
      }
    }
  }
  if (!has_req[0] && !has_req[1] && !has_lim[0] && !has_lim[1])
    return "BestEffort";
  for (size_t i = 0; i < 2 && guaranteed; i++)
    if (has_req[i] != has_lim[i] || (has_req[i] && quantity_cmp(&req[i], &lim[i]) != 0))
      guaranteed = false;
  return guaranteed ? "Guaranteed" : "Burstable";
}

