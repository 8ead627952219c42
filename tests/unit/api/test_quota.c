/* Tests for pkg/api/quota.c: the usage of pods (containers summed, init
 * containers as a floor, overhead, finished pods holding only count/pods),
 * services (node ports, load balancers), PVCs (storage, per class) and
 * generic objects; which quota names a kind matches; sums in canonical
 * form; comparisons; and the pod constraints message. */
#include <string.h>

#include "api/quota.h"
#include "test.h"

static cJSON *parse(const char *s) {
  cJSON *j = cJSON_Parse(s);
  if (!j)
    TEST_FAIL("bad json: %s", s);
  return j;
}

static const char *get(const cJSON *u, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, k);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_pod_usage(void) {
  cJSON *pod = parse(
      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"100m\","
      "\"memory\":\"64Mi\"},\"limits\":{\"cpu\":\"200m\"}}},{\"name\":\"b\",\"resources\":{"
      "\"requests\":{\"cpu\":\"0.4\",\"memory\":\"64Mi\",\"hugepages-2Mi\":\"2Mi\"}}}],"
      "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}],"
      "\"overhead\":{\"memory\":\"1Mi\"}},\"status\":{\"phase\":\"Running\"}}");
  cJSON *u = api_quota_usage("", "pods", pod);
  ASSERT_EQ_STR(get(u, "pods"), "1");
  ASSERT_EQ_STR(get(u, "count/pods"), "1");
  ASSERT_EQ_STR(get(u, "requests.cpu"), "1"); /* the init container's 1 beats 500m */
  ASSERT_EQ_STR(get(u, "cpu"), "1");
  ASSERT_EQ_STR(get(u, "requests.memory"), "129Mi");
  ASSERT_EQ_STR(get(u, "limits.cpu"), "200m");
  ASSERT_EQ_STR(get(u, "limits.memory"), "(none)"); /* overhead only adds to set limits */
  ASSERT_EQ_STR(get(u, "requests.hugepages-2Mi"), "2Mi");
  cJSON_Delete(u);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(pod, "status"), "phase",
                            cJSON_CreateString("Failed"));
  u = api_quota_usage("", "pods", pod);
  ASSERT_EQ_STR(get(u, "count/pods"), "1");
  ASSERT_EQ_STR(get(u, "pods"), "(none)");
  ASSERT_EQ_STR(get(u, "requests.cpu"), "(none)");
  cJSON_Delete(u);
  cJSON_Delete(pod);
}

static void test_service_pvc_generic(void) {
  cJSON *svc = parse("{\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":1},{\"port\":2}]}}");
  cJSON *u = api_quota_usage("", "services", svc);
  ASSERT_EQ_STR(get(u, "services"), "1");
  ASSERT_EQ_STR(get(u, "services.nodeports"), "2");
  ASSERT_EQ_STR(get(u, "services.loadbalancers"), "1");
  cJSON_Delete(u);
  cJSON_AddFalseToObject(cJSON_GetObjectItem(svc, "spec"), "allocateLoadBalancerNodePorts");
  cJSON_AddNumberToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "spec"),
                                                                 "ports"), 0), "nodePort", 30001);
  u = api_quota_usage("", "services", svc);
  ASSERT_EQ_STR(get(u, "services.nodeports"), "1");
  cJSON_Delete(u);
  cJSON_Delete(svc);
  cJSON *pvc = parse("{\"spec\":{\"storageClassName\":\"fast\",\"resources\":{\"requests\":"
                     "{\"storage\":\"1Gi\"}}}}");
  u = api_quota_usage("", "persistentvolumeclaims", pvc);
  ASSERT_EQ_STR(get(u, "persistentvolumeclaims"), "1");
  ASSERT_EQ_STR(get(u, "requests.storage"), "1Gi");
  ASSERT_EQ_STR(get(u, "fast.storageclass.storage.k8s.io/requests.storage"), "1Gi");
  ASSERT_EQ_STR(get(u, "fast.storageclass.storage.k8s.io/persistentvolumeclaims"), "1");
  cJSON_Delete(u);
  cJSON_Delete(pvc);
  cJSON *d = parse("{}");
  u = api_quota_usage("apps", "deployments", d);
  ASSERT_EQ_STR(get(u, "count/deployments.apps"), "1");
  ASSERT_EQ_INT(cJSON_GetArraySize(u), 1);
  cJSON_Delete(u);
  u = api_quota_usage("", "configmaps", d);
  ASSERT_EQ_STR(get(u, "configmaps"), "1");
  ASSERT_EQ_STR(get(u, "count/configmaps"), "1");
  cJSON_Delete(u);
  cJSON_Delete(d);
}

static void test_matches(void) {
  ASSERT_TRUE(api_quota_matches("", "pods", "limits.memory"));
  ASSERT_TRUE(api_quota_matches("", "pods", "count/pods"));
  ASSERT_FALSE(api_quota_matches("", "pods", "services"));
  ASSERT_TRUE(api_quota_matches("", "services", "services.nodeports"));
  ASSERT_TRUE(api_quota_matches("apps", "deployments", "count/deployments.apps"));
  ASSERT_FALSE(api_quota_matches("apps", "deployments", "count/deployments"));
  ASSERT_FALSE(api_quota_matches("apps", "deployments", "pods"));
  ASSERT_TRUE(api_quota_matches("", "persistentvolumeclaims", "requests.storage"));
  ASSERT_FALSE(api_quota_matches("", "configmaps", "requests.storage"));
}

static void test_add_cmp(void) {
  cJSON *t = parse("{\"requests.cpu\":\"900m\",\"pods\":\"2\"}");
  cJSON *u = parse("{\"requests.cpu\":\"100m\",\"requests.memory\":\"512Mi\"}");
  ASSERT_EQ_INT(api_quota_add(t, u), 0);
  ASSERT_EQ_STR(get(t, "requests.cpu"), "1");
  ASSERT_EQ_STR(get(t, "requests.memory"), "512Mi");
  ASSERT_EQ_STR(get(t, "pods"), "2");
  ASSERT_EQ_INT(api_quota_cmp("1", "1000m"), 0);
  ASSERT_EQ_INT(api_quota_cmp("1Gi", "1G"), 1);
  ASSERT_EQ_INT(api_quota_cmp("3", "4"), -1);
  ASSERT_EQ_INT(api_quota_cmp("x", "4"), -2);
  cJSON_Delete(u);
  cJSON_Delete(t);
}

static void test_pod_missing(void) {
  cJSON *pod = parse("{\"spec\":{\"containers\":[{\"name\":\"b\",\"resources\":{\"requests\":"
                     "{\"cpu\":\"1\"}}},{\"name\":\"a\"}],\"initContainers\":[{\"name\":\"i\","
                     "\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"1\"}}}]}}");
  cJSON *req = parse("[\"pods\",\"requests.cpu\",\"limits.cpu\",\"count/pods\"]");
  char *m = api_quota_pod_missing(pod, req);
  ASSERT_NOT_NULL(m);
  ASSERT_EQ_STR(m, "limits.cpu for: a,b; requests.cpu for: a");
  free(m);
  cJSON_Delete(req);
  req = parse("[\"pods\"]");
  ASSERT_NULL(api_quota_pod_missing(pod, req));
  cJSON_Delete(req);
  cJSON_Delete(pod);
}

TEST_LIST = {
    TEST(test_pod_usage), TEST(test_service_pvc_generic), TEST(test_matches),
    TEST(test_add_cmp),   TEST(test_pod_missing),         {0},
};
TEST_MAIN()
