/* pkg/api/fieldset: set algebra, FieldsV1 parsing and upstream's key order,
 * Go-style value text, and linear cost on big sets. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/fieldset.h"
#include "test.h"

static api_fieldset_t *parse(const char *json) {
  cJSON *j = cJSON_Parse(json);
  api_fieldset_t *s = NULL;
  char err[256];
  int r = api_fieldset_from_json(j, &s, err, sizeof(err));
  cJSON_Delete(j);
  return r == 0 ? s : NULL;
}

static char *text(const api_fieldset_t *s) {
  cJSON *j = api_fieldset_to_json(s);
  char *t = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return t;
}

#define ASSERT_SET(s, want)                                                                        \
  do {                                                                                             \
    char *t_ = text(s);                                                                            \
    ASSERT_EQ_STR(t_, want);                                                                       \
    free(t_);                                                                                      \
  } while (0)

static void test_roundtrip_order(void) {
  /* keys come back in upstream's order: ".", f: by name, k:, v: */
  api_fieldset_t *s = parse("{\"v:\\\"b\\\"\":{},\"v:\\\"a\\\"\":{},\"k:{\\\"protocol\\\":\\\"TCP\\\","
                            "\\\"port\\\":80}\":{\".\":{},\"f:port\":{}},\"f:z\":{},\"f:a\":{\"f:x\":{}}}");
  ASSERT_NOT_NULL(s);
  ASSERT_SET(s, "{\"f:a\":{\"f:x\":{}},\"f:z\":{},\"k:{\\\"port\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":"
                "{\".\":{},\"f:port\":{}},\"v:\\\"a\\\"\":{},\"v:\\\"b\\\"\":{}}");
  api_fieldset_free(s);
}

static void test_key_order_numeric(void) {
  /* keys of the same fields sort by value (numbers numerically) */
  api_fieldset_t *s = parse("{\"k:{\\\"containerPort\\\":8080}\":{},\"k:{\\\"containerPort\\\":80}\":{},"
                            "\"k:{\\\"containerPort\\\":443}\":{}}");
  ASSERT_SET(s, "{\"k:{\\\"containerPort\\\":80}\":{},\"k:{\\\"containerPort\\\":443}\":{},"
                "\"k:{\\\"containerPort\\\":8080}\":{}}");
  api_fieldset_free(s);
}

static void test_union_subtract_intersect(void) {
  api_fieldset_t *a = parse("{\"f:spec\":{\"f:replicas\":{},\"f:paused\":{}},\"f:metadata\":{\"f:labels\":{\"f:a\":{}}}}");
  api_fieldset_t *b = parse("{\"f:spec\":{\"f:replicas\":{},\"f:strategy\":{}}}");
  api_fieldset_t *i = api_fieldset_intersect(a, b);
  ASSERT_SET(i, "{\"f:spec\":{\"f:replicas\":{}}}");
  api_fieldset_t *u = api_fieldset_copy(a);
  api_fieldset_union(u, b);
  ASSERT_SET(u, "{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:paused\":{},\"f:replicas\":{},\"f:strategy\":{}}}");
  api_fieldset_subtract(a, b);
  ASSERT_SET(a, "{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:paused\":{}}}");
  api_fieldset_t *c = parse("{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:paused\":{}}}");
  api_fieldset_subtract(a, c);
  ASSERT_TRUE(api_fieldset_empty(a));
  ASSERT_SET(a, "{}");
  api_fieldset_free(a);
  api_fieldset_free(b);
  api_fieldset_free(c);
  api_fieldset_free(i);
  api_fieldset_free(u);
}

static void test_member_with_children(void) {
  /* removing an item's children keeps the item itself (".") */
  api_fieldset_t *a = parse("{\"k:{\\\"name\\\":\\\"a\\\"}\":{\".\":{},\"f:name\":{},\"f:value\":{}}}");
  api_fieldset_t *b = parse("{\"k:{\\\"name\\\":\\\"a\\\"}\":{\"f:name\":{},\"f:value\":{}}}");
  api_fieldset_subtract(a, b);
  ASSERT_SET(a, "{\"k:{\\\"name\\\":\\\"a\\\"}\":{}}");
  api_fieldset_free(a);
  api_fieldset_free(b);
}

static void test_canonical_keys(void) {
  /* a client's key text is brought to upstream's form, so equal keys meet */
  api_fieldset_t *a = parse("{\"k:{\\\"protocol\\\":\\\"TCP\\\", \\\"port\\\":80}\":{}}");
  api_fieldset_t *b = parse("{\"k:{\\\"port\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{}}");
  api_fieldset_subtract(a, b);
  ASSERT_TRUE(api_fieldset_empty(a));
  api_fieldset_free(a);
  api_fieldset_free(b);
}

static void test_go_values(void) {
  buf_t b;
  buf_init(&b, 4096);
  cJSON *v = cJSON_Parse("{\"b\":\"<a&b>\",\"a\":[1,2.5,true,null],\"c\":1e21}");
  ASSERT_EQ_INT(api_fieldset_write_value(&b, v), 0);
  ASSERT_EQ_STR(b.data, "{\"a\":[1,2.5,true,null],\"b\":\"\\u003ca\\u0026b\\u003e\",\"c\":1e+21}");
  cJSON_Delete(v);
  buf_done(&b);
  cJSON *n = cJSON_CreateNumber(3), *s = cJSON_CreateString("a"), *t = cJSON_CreateTrue();
  ASSERT_TRUE(api_fieldset_value_cmp(n, s) < 0);
  ASSERT_TRUE(api_fieldset_value_cmp(s, t) < 0);
  ASSERT_EQ_INT(api_fieldset_value_cmp(s, s), 0);
  cJSON_Delete(n), cJSON_Delete(s), cJSON_Delete(t);
  ASSERT_TRUE(api_fieldset_pe_cmp("f:z", "k:{\"a\":1}") < 0);
  ASSERT_TRUE(api_fieldset_pe_cmp("k:{\"a\":2}", "k:{\"a\":10}") < 0);
  ASSERT_TRUE(api_fieldset_pe_cmp("k:{\"a\":1}", "v:1") < 0);
}

static void test_pe_text(void) {
  buf_t b;
  buf_init(&b, 4096);
  api_fieldset_pe_text(&b, "f:spec");
  api_fieldset_pe_text(&b, "k:{\"name\":\"nginx\",\"port\":80}");
  api_fieldset_pe_text(&b, "v:\"x\"");
  ASSERT_EQ_STR(b.data, ".spec[name=\"nginx\",port=80][=\"x\"]");
  buf_done(&b);
}

static void test_bad_key(void) {
  cJSON *j = cJSON_Parse("{\"k:{not json\":{}}");
  api_fieldset_t *s = NULL;
  char err[256];
  ASSERT_EQ_INT(api_fieldset_from_json(j, &s, err, sizeof(err)), -22);
  ASSERT_NULL(s);
  cJSON_Delete(j);
  /* unknown prefixes are skipped, as upstream */
  api_fieldset_t *u = parse("{\"x:y\":{},\"f:a\":{}}");
  ASSERT_SET(u, "{\"f:a\":{}}");
  api_fieldset_free(u);
}

static void test_linear(void) {
  /* 200,000 children: union, subtract and look-ups stay fast (hash index) */
  enum { N = 200000 };
  api_fieldset_t *a = api_fieldset_new(), *b = api_fieldset_new();
  char pe[32];
  clock_t t0 = clock();
  for (int i = 0; i < N; i++) {
    int n = snprintf(pe, sizeof(pe), "f:k%d", i);
    api_fieldset_set_member(api_fieldset_child(a, pe, (size_t)n, true), true);
    if (i % 2)
      api_fieldset_set_member(api_fieldset_child(b, pe, (size_t)n, true), true);
  }
  api_fieldset_t *c = api_fieldset_copy(a);
  api_fieldset_subtract(c, b);
  ASSERT_EQ_INT((long)api_fieldset_count(c) >= N / 2, 1);
  ASSERT_TRUE(api_fieldset_get(c, "f:k2", 4) != NULL);
  ASSERT_NULL(api_fieldset_get(c, "f:k3", 4));
  api_fieldset_union(c, b);
  api_fieldset_t *i = api_fieldset_intersect(a, c);
  cJSON *j = api_fieldset_to_json(i);
  ASSERT_EQ_INT(cJSON_GetArraySize(j), N);
  cJSON_Delete(j);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("# 200000-child sets: %.0f ms\n", secs * 1000);
  ASSERT_TRUE(secs < 20); /* quadratic would be hours */
  api_fieldset_free(a), api_fieldset_free(b), api_fieldset_free(c), api_fieldset_free(i);
}

TEST_LIST = {
    TEST(test_roundtrip_order),
    TEST(test_key_order_numeric),
    TEST(test_union_subtract_intersect),
    TEST(test_member_with_children),
    TEST(test_canonical_keys),
    TEST(test_go_values),
    TEST(test_pe_text),
    TEST(test_bad_key),
    TEST(test_linear),
    {0},
};
TEST_MAIN()
