/* Tests for pkg/yaml/encode.c: the YAML the API server answers with for
 * Accept: application/yaml (sorted keys, sequences under their key,
 * strings that would read as other types quoted) and that it reads back
 * as the same JSON through pkg/yaml/decode.c. */
#include <errno.h>

#include "test.h"
#include "yaml/decode.h"
#include "yaml/encode.h"

static char *emit(const char *json) {
  cJSON *doc = cJSON_Parse(json);
  char *text = NULL;
  size_t len = 0;
  int r = doc ? yaml_emit_json(doc, &text, &len) : -EINVAL;
  cJSON_Delete(doc);
  return r == 0 ? text : NULL;
}

#define ASSERT_EMITS(json, want)                                               \
  do {                                                                         \
    char *got_ = emit(json);                                                   \
    ASSERT_TRUE(got_ != NULL);                                                 \
    ASSERT_EQ_STR(got_, want);                                                 \
    free(got_);                                                                \
  } while (0)

static void test_shape(void) {
  ASSERT_EMITS("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"spec\":{\"containers\":[{\"name\":\"c\","
               "\"image\":\"nginx\"}]},\"metadata\":{\"labels\":{}}}",
               "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {}\nspec:\n  containers:\n"
               "  - image: nginx\n    name: c\n");
  ASSERT_EMITS("{\"a\":[]}", "a: []\n");
}

static void test_scalars(void) {
  ASSERT_EMITS("{\"num\":3,\"f\":1.5,\"b\":true,\"z\":null}", "b: true\nf: 1.5\nnum: 3\nz: null\n");
  /* keys too: go-yaml v2 reads a plain n as false */
  ASSERT_EMITS("{\"n\":1}", "\"n\": 1\n");
  /* strings that a plain scalar would turn into numbers, booleans, null or
   * timestamps are double-quoted, as go-yaml v2 writes them */
  ASSERT_EMITS("{\"rv\":\"12345\",\"t\":\"true\",\"y\":\"yes\",\"e\":\"\",\"ts\":"
               "\"2024-01-02T03:04:05Z\",\"x\":\"0x1f\",\"plain\":\"nginx:1.25\"}",
               "e: \"\"\nplain: nginx:1.25\nrv: \"12345\"\nt: \"true\"\nts: \"2024-01-02T03:04:05Z\"\n"
               "x: \"0x1f\"\n\"y\": \"yes\"\n");
  ASSERT_EMITS("{\"cpu\":\"500m\",\"mem\":\"1Gi\"}", "cpu: 500m\nmem: 1Gi\n");
}

static void test_round_trip(void) {
  const char *json = "{\"a\":{\"b\":[1,\"2\",{\"c\":\"multi\\nline\\n\"}],\"d\":\"it's: tricky\","
                     "\"e\":\"*star\",\"f\":\"null\",\"g\":-7}}";
  char *text = emit(json);
  ASSERT_TRUE(text != NULL);
  cJSON *back = NULL;
  char err[256];
  ASSERT_EQ_INT(yaml_parse_one(text, strlen(text), &back, err, sizeof(err)), 0);
  cJSON *want = cJSON_Parse(json);
  ASSERT_TRUE(cJSON_Compare(back, want, 1));
  cJSON_Delete(back);
  cJSON_Delete(want);
  free(text);
}

TEST_LIST = {TEST(test_shape), TEST(test_scalars), TEST(test_round_trip), {0}};
TEST_MAIN()
