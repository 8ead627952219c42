/* Tests for pkg/json/mergepatch.c: every example of RFC 7386 appendix A,
 * plus the original-is-untouched and null-pruning rules. */
#include <time.h>

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

/* Issue #19: each patch key was looked up (and replaced) by a linear scan
 * of the target, so patching a 100,000-key map took ~10^10 comparisons.
 * Now O(n): ~0.1 s at -O2, a few seconds under ASan (its allocator). */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_SLOW 15.0
#else
#define BIG_SLOW 1.5
#endif
static cJSON *big_map(int n, const char *val, int null_every) {
  cJSON *data = cJSON_CreateObject();
  for (int i = 0; i < n; i++) {
    char k[32];
    snprintf(k, sizeof(k), "k%d", i);
    if (null_every && i % null_every == 0)
      cJSON_AddNullToObject(data, k);
    else
      cJSON_AddStringToObject(data, k, val);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "data", data);
  return o;
}

static double big_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void big_check(const cJSON *got, int n) {
  const cJSON *data = cJSON_GetObjectItem(got, "data");
  ASSERT_EQ_INT(cJSON_GetArraySize(data), n - n / 10 + n / 2 - n / 20);
  ASSERT_TRUE(cJSON_GetObjectItem(data, "k0") == NULL);      /* nulled */
  ASSERT_EQ_STR(cJSON_GetObjectItem(data, "k1")->valuestring, "new");
  ASSERT_EQ_STR(data->child->string, "k1");                  /* order kept */
  ASSERT_EQ_STR(cJSON_GetObjectItem(data, "k149999")->valuestring, "new");
}

static void test_many_keys_linear(void) {
  enum { N = 100000 };
  cJSON *orig = big_map(N, "old", 0);
  cJSON *patch = big_map(N + N / 2, "new", 10); /* every 10th key nulled, N/2 new keys */
  double t0 = big_now();
  cJSON *got = json_merge_patch(orig, patch);
  double dt = big_now() - t0;
  printf("# %d-key map, %d-key patch: %.3f s\n", N, N + N / 2, dt);
  ASSERT_TRUE(got != NULL);
  big_check(got, N);
  cJSON_Delete(got);
  cJSON_Delete(orig);
  cJSON_Delete(patch);
  ASSERT_TRUE(dt < t_time_limit(BIG_SLOW));
}

TEST_LIST = {
    TEST(test_many_keys_linear),
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
