/* Tests for pkg/json/mergepatch.c: every example of RFC 7386 appendix A,
 * plus the original-is-untouched and null-pruning rules. */
#include "jtest.h"
#include "json/patch.h"

/* Apply patch text to doc text and compare with want text. */
static void check(const char *doc, const char *patch, const char *want) {
  cJSON *d = J(doc), *p = J(patch);
  cJSON *before = cJSON_Duplicate(d, true);
  cJSON *got = json_merge_patch(d, p);
  bool untouched = json_equal(d, before);
  cJSON_Delete(d);
  cJSON_Delete(p);
  cJSON_Delete(before);
  if (!untouched) {
    cJSON_Delete(got);
    TEST_FAIL("original was modified");
  }
  cJSON *w = J(want);
  bool ok = json_equal(got, w);
  if (!ok) {
    char *g = cJSON_PrintUnformatted(got);
    printf("#   doc %s patch %s\n#   got %s want %s\n", doc, patch, g, want);
    cJSON_free(g);
  }
  cJSON_Delete(w);
  cJSON_Delete(got);
  ASSERT_TRUE(ok);
}

static void test_rfc7386_replace_member(void) {
  check("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
}
static void test_rfc7386_add_member(void) {
  check("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
}
static void test_rfc7386_null_removes(void) {
  check("{\"a\":\"b\"}", "{\"a\":null}", "{}");
  check("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
}
static void test_rfc7386_arrays_replaced(void) {
  check("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
  check("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
  check("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
  check("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
}
static void test_rfc7386_nested(void) {
  check("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
  check("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}
static void test_rfc7386_non_object_patch(void) {
  check("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
  check("{\"a\":\"foo\"}", "null", "null");
  check("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
}
static void test_rfc7386_keeps_unpatched_null(void) {
  check("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
}
static void test_rfc7386_non_object_target(void) {
  check("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
  check("{\"a\":\"x\"}", "{\"a\":{\"b\":null,\"c\":1}}", "{\"a\":{\"c\":1}}");
}
static void test_kubectl_label_and_scale(void) {
  /* kubectl label / scale send merge patches */
  check("{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"replicas\":1}}",
        "{\"metadata\":{\"labels\":{\"b\":\"2\",\"a\":null}},\"spec\":{\"replicas\":3}}",
        "{\"metadata\":{\"name\":\"x\",\"labels\":{\"b\":\"2\"}},\"spec\":{\"replicas\":3}}");
}
static void test_new_array_objects_pruned(void) {
  /* nulls in objects of an inserted array mean "absent" (evanphx prunes them) */
  check("{}", "{\"a\":[{\"x\":null,\"y\":1},null]}", "{\"a\":[{\"y\":1},null]}");
}
static void test_key_order_preserved(void) {
  cJSON *d = J("{\"a\":1,\"b\":2,\"c\":3}"), *p = J("{\"b\":20,\"d\":4}");
  cJSON *got = json_merge_patch(d, p);
  char *s = cJSON_PrintUnformatted(got);
  bool ok = strcmp(s, "{\"a\":1,\"b\":20,\"c\":3,\"d\":4}") == 0;
  cJSON_free(s);
  cJSON_Delete(d);
  cJSON_Delete(p);
  cJSON_Delete(got);
  ASSERT_TRUE(ok);
}

TEST_LIST = {
    TEST(test_rfc7386_replace_member),
    TEST(test_rfc7386_add_member),
    TEST(test_rfc7386_null_removes),
    TEST(test_rfc7386_arrays_replaced),
    TEST(test_rfc7386_nested),
    TEST(test_rfc7386_non_object_patch),
    TEST(test_rfc7386_keeps_unpatched_null),
    TEST(test_rfc7386_non_object_target),
    TEST(test_kubectl_label_and_scale),
    TEST(test_new_array_objects_pruned),
    TEST(test_key_order_preserved),
    {0},
};
TEST_MAIN()
