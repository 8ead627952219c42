/* Tests for pkg/scheduler/resource.c: quantities as integers (suffixes,
 * rounding up, clamping), pod requests (containers' sum, init containers'
 * max, sidecars, overhead, extended resources) and node allocatable. */
#include "scheduler/resource.h"
#include "sjson.h"
#include "test.h"

static int64_t q(const char *s, int64_t scale) {
  cJSON *v = cJSON_CreateString(s);
  int64_t out = -1;
  if (scheduler_quantity_int(v, scale, &out) < 0)
    out = -2;
  cJSON_Delete(v);
  return out;
}

static void test_quantity(void) {
  ASSERT_EQ_INT(q("100m", 1000), 100);
  ASSERT_EQ_INT(q("2", 1000), 2000);
  ASSERT_EQ_INT(q("1.5", 1000), 1500);
  ASSERT_EQ_INT(q("1n", 1000), 1); /* rounded up */
  ASSERT_EQ_INT(q("1Gi", 1), 1073741824);
  ASSERT_EQ_INT(q("128Mi", 1), 134217728);
  ASSERT_EQ_INT(q("1k", 1), 1000);
  ASSERT_EQ_INT(q("1e3", 1), 1000);
  ASSERT_EQ_INT(q("500m", 1), 1);
  ASSERT_EQ_INT(q("0", 1000), 0);
  ASSERT_EQ_INT(q("9E", 1000), INT64_MAX); /* clamped */
  ASSERT_EQ_INT(q("abc", 1), -2);
  cJSON *n = cJSON_CreateNumber(4);
  int64_t v = 0;
  ASSERT_EQ_INT(scheduler_quantity_int(n, 1000, &v), 0);
  ASSERT_EQ_INT(v, 4000);
  cJSON_Delete(n);
}

static void test_pod_requests(void) {
  cJSON *p =
      J("{'spec':{'containers':["
        "{'name':'a','resources':{'requests':{'cpu':'100m','memory':'64Mi'}}},"
        "{'name':'b','resources':{'requests':{'cpu':'200m','nvidia.com/gpu':'1'}}}],"
        "'initContainers':[{'name':'i','resources':{'requests':{'cpu':'1','memory':'1Mi'}}}],"
        "'overhead':{'cpu':'10m'}}}");
  scheduler_resources_t r;
  scheduler_resources_pod(p, &r);
  ASSERT_EQ_INT(r.milli_cpu, 1010); /* max(300m, 1) + 10m */
  ASSERT_EQ_INT(r.memory, 64 << 20);
  ASSERT_EQ_INT(r.pods, 1);
  ASSERT_EQ_INT(scheduler_resources_get(&r, "nvidia.com/gpu"), 1);
  ASSERT_EQ_INT(scheduler_resources_get(&r, "cpu"), 1010);
  cJSON_Delete(p);
  /* A sidecar (restartPolicy Always) adds to the sum and to later init containers. */
  p = J("{'spec':{'containers':[{'name':'a','resources':{'requests':{'cpu':'100m'}}}],"
        "'initContainers':[{'name':'s','restartPolicy':'Always','resources':{'requests':{'cpu':'"
        "200m'}}},"
        "{'name':'i','resources':{'requests':{'cpu':'250m'}}}]}}");
  scheduler_resources_pod(p, &r);
  ASSERT_EQ_INT(r.milli_cpu, 450); /* max(100+200, 250+200) */
  cJSON_Delete(p);
  p = J("{'spec':{'containers':[{'name':'a'}]}}");
  scheduler_resources_pod(p, &r);
  ASSERT_EQ_INT(r.milli_cpu, 0);
  ASSERT_EQ_INT(r.pods, 1);
  cJSON_Delete(p);
}

static void test_node_and_arith(void) {
  cJSON *n = J("{'status':{'capacity':{'cpu':'8'},'allocatable':{'cpu':'4','memory':'8Gi',"
               "'pods':'110','ephemeral-storage':'10Gi','example.com/dongle':'2'}}}");
  scheduler_resources_t a, b;
  scheduler_resources_node(n, &a);
  ASSERT_EQ_INT(a.milli_cpu, 4000);
  ASSERT_EQ_INT(a.pods, 110);
  ASSERT_EQ_INT(a.ephemeral, 10LL << 30);
  ASSERT_EQ_INT(scheduler_resources_get(&a, "example.com/dongle"), 2);
  b = a;
  scheduler_resources_add(&b, &a);
  ASSERT_EQ_INT(b.milli_cpu, 8000);
  ASSERT_EQ_INT(scheduler_resources_get(&b, "example.com/dongle"), 4);
  scheduler_resources_sub(&b, &a);
  ASSERT_EQ_INT(b.memory, 8LL << 30);
  ASSERT_EQ_INT(scheduler_resources_get(&b, "example.com/dongle"), 2);
  cJSON_Delete(n);
  /* capacity when allocatable is absent */
  n = J("{'status':{'capacity':{'cpu':'8'}}}");
  scheduler_resources_node(n, &a);
  ASSERT_EQ_INT(a.milli_cpu, 8000);
  cJSON_Delete(n);
}

TEST_LIST = {TEST(test_quantity), TEST(test_pod_requests), TEST(test_node_and_arith), {0}};
TEST_MAIN()
