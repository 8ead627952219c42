/* pkg/api/qos.c: upstream's ComputePodQOS on pod specs, with the cases
 * the old text comparison got wrong (init containers, "1" == "1000m",
 * resources other than cpu and memory). */
#include <cjson/cJSON.h>

#include "api/qos.h"
#include "test.h"

static const char *qos(const char *spec_json) {
  cJSON *spec = cJSON_Parse(spec_json);
  if (!spec)
    TEST_FAIL("bad JSON %s", spec_json);
  const char *q = api_pod_qos(spec);
  cJSON_Delete(spec);
  return q;
}

#define LIM(c, m) "\"resources\":{\"limits\":{\"cpu\":\"" c "\",\"memory\":\"" m "\"}}"

static void test_classes(void) {
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\"}]}"), "BestEffort");
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\"," LIM("1", "64Mi") "}]}"), "Guaranteed");
  /* requests equal by value, not by text */
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\","
                    "\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"1000m\",\"memory\":\"67108864\"}}}]}"),
                "Guaranteed");
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\","
                    "\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"500m\"}}}]}"),
                "Burstable");
  /* an init container without limits makes it Burstable */
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\"," LIM("1", "64Mi") "}],"
                    "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}"),
                "Burstable");
  /* only cpu and memory count */
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":"
                    "{\"ephemeral-storage\":\"1Gi\"}}}]}"),
                "BestEffort");
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}]}"),
                "Burstable");
  /* zero requests do not count */
  ASSERT_EQ_STR(qos("{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"0\"}}}]}"),
                "BestEffort");
}

TEST_LIST = {
    TEST(test_classes),
    {0},
};
TEST_MAIN()
