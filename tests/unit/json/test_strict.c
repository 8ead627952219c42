/* Tests for pkg/json/strict.c: the request-body decoder. Duplicate keys
 * (last wins, reported once by path, linear on 40,000 keys), UTF-8
 * replacement, \u0000 refusal, trailing data, Go's syntax error wording,
 * number range and nesting depth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jtest.h"
#include "json/strict.h"
#include "util/buf.h"

/* Decode text (its strlen); returns the tree or NULL, fills res. */
static cJSON *dec(const char *text, json_strict_result_t *res) {
  cJSON *doc = NULL;
  if (json_strict_parse(text, strlen(text), &doc, res) < 0)
    return NULL;
  return doc;
}

/* Decoding text must fail with exactly msg. */
static void fails(const char *text, json_strict_err_t kind, const char *msg) {
  json_strict_result_t res;
  cJSON *doc = dec(text, &res);
  if (doc) {
    cJSON_Delete(doc);
    json_strict_result_done(&res);
    TEST_FAIL("decoded, should fail: %s", text);
  }
  ASSERT_EQ_INT(res.kind, kind);
  ASSERT_EQ_STR(res.err, msg);
  json_strict_result_done(&res);
}

static void test_plain_documents(void) {
  json_strict_result_t res;
  cJSON *d = dec(" {\"a\":[1,-2.5e3,true,false,null,\"s\\n\\\"\\u00e9\\ud83d\\ude00\"],\"b\":{}} \n", &res);
  ASSERT_NOT_NULL(d);
  ASSERT_JSON_EQ(d, "{\"a\":[1,-2500,true,false,null,\"s\\n\\\"\xc3\xa9\xf0\x9f\x98\x80\"],\"b\":{}}");
  ASSERT_EQ_INT(res.ndups, 0);
  ASSERT_EQ_INT(res.replaced, 0);
  /* cJSON's list invariants hold (prev of the first is the last). */
  cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "a");
  ASSERT_EQ_INT(cJSON_GetArraySize(a), 6);
  ASSERT_TRUE(a->child->prev == cJSON_GetArrayItem(a, 5));
  cJSON_AddItemToArray(a, cJSON_CreateNumber(7)); /* appending after our links works */
  ASSERT_EQ_INT(cJSON_GetArraySize(a), 7);
  cJSON_Delete(d);
  json_strict_result_done(&res);
  d = dec("\"top\"", &res);
  ASSERT_TRUE(cJSON_IsString(d) && !strcmp(d->valuestring, "top"));
  cJSON_Delete(d);
}

static void test_duplicates_last_wins(void) {
  json_strict_result_t res;
  cJSON *d = dec("{\"metadata\":{\"name\":\"a\",\"x\":1,\"name\":\"b\",\"name\":\"c\"},"
                 "\"spec\":{\"containers\":[{\"name\":\"c\",\"name\":\"d\"}]},\"kind\":\"A\",\"kind\":\"B\"}",
                 &res);
  ASSERT_NOT_NULL(d);
  ASSERT_JSON_EQ(d, "{\"metadata\":{\"name\":\"c\",\"x\":1},\"spec\":{\"containers\":[{\"name\":\"d\"}]},"
                    "\"kind\":\"B\"}");
  /* the one remaining item sits where the first was */
  ASSERT_EQ_STR(cJSON_GetObjectItemCaseSensitive(d, "metadata")->child->string, "name");
  ASSERT_EQ_INT(res.ndups, 3);
  ASSERT_EQ_INT(res.ndup_keys, 4);
  ASSERT_EQ_STR(res.dups[0], "metadata.name");
  ASSERT_EQ_STR(res.dups[1], "spec.containers[0].name");
  ASSERT_EQ_STR(res.dups[2], "kind");
  cJSON_Delete(d);
  json_strict_result_done(&res);
}

static void test_duplicates_in_big_object(void) {
  /* past SMALL_OBJECT members the hash set finds them */
  json_strict_result_t res;
  cJSON *d = dec("{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,"
                 "\"k10\":10,\"k1\":11,\"k10\":12,\"k11\":13}",
                 &res);
  ASSERT_NOT_NULL(d);
  ASSERT_EQ_INT(cJSON_GetArraySize(d), 11);
  ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(d, "k1")->valueint, 11);
  ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(d, "k10")->valueint, 12);
  ASSERT_EQ_INT(res.ndups, 2);
  ASSERT_EQ_STR(res.dups[0], "k1");
  ASSERT_EQ_STR(res.dups[1], "k10");
  cJSON_Delete(d);
  json_strict_result_done(&res);
}

/* 40,000 distinct keys and then 40,000 duplicates decode in linear time
 * (a pairwise comparison would be 1.6e9 string compares). */
static void test_duplicates_linear(void) {
  buf_t b;
  buf_init(&b, 8u << 20);
  buf_append_str(&b, "{");
  for (int i = 0; i < 40000; i++)
    buf_printf(&b, "%s\"key-%d\":%d", i ? "," : "", i, i);
  for (int i = 0; i < 40000; i++)
    buf_printf(&b, ",\"key-%d\":0", i);
  buf_append_str(&b, "}");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  json_strict_result_t res;
  cJSON *d = NULL;
  int r = json_strict_parse(b.data, b.len, &d, &res);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("# 80000 members, 40000 duplicates: %.3f s\n", secs);
  ASSERT_EQ_INT(r, 0);
  ASSERT_EQ_INT(cJSON_GetArraySize(d), 40000);
  ASSERT_EQ_INT(res.ndups, JSON_STRICT_MAX_DUPS);
  ASSERT_EQ_INT(res.ndup_keys, 40000);
  ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(d, "key-39999")->valueint, 0);
  ASSERT_TRUE(secs < 15.0); /* ~0.1 s unloaded; pairwise would take minutes */
  cJSON_Delete(d);
  json_strict_result_done(&res);
  buf_done(&b);
}

/* Trees built by other decoders (protobuf maps) are collapsed the same way,
 * in linear time. */
static void test_dedup_trees(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON *m = cJSON_AddObjectToObject(o, "m");
  char key[32];
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < 40000; i++) {
      snprintf(key, sizeof(key), "k%d", i);
      cJSON_AddItemToObject(m, key, cJSON_CreateNumber(pass));
    }
  cJSON_AddItemToObject(o, "x", cJSON_CreateNumber(1));
  cJSON_AddItemToObject(o, "x", cJSON_CreateString("last"));
  ASSERT_EQ_INT((int)json_strict_dedup(o), 40001);
  ASSERT_EQ_INT(cJSON_GetArraySize(o), 2);
  ASSERT_EQ_INT(cJSON_GetArraySize(m), 40000);
  ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(m, "k39999")->valueint, 1);
  ASSERT_EQ_STR(cJSON_GetObjectItemCaseSensitive(o, "x")->valuestring, "last");
  cJSON_Delete(o);
  o = J("{\"a\":{\"x\":1},\"b\":[{\"y\":1}]}");
  cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(o, "a"), "x", cJSON_CreateNumber(2));
  cJSON_AddItemToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "b"), 0), "y",
                        cJSON_CreateNumber(3));
  ASSERT_EQ_INT((int)json_strict_dedup(o), 2);
  ASSERT_JSON_EQ(o, "{\"a\":{\"x\":2},\"b\":[{\"y\":3}]}");
  cJSON_Delete(o);
}

static void test_invalid_utf8_replaced(void) {
  json_strict_result_t res;
  /* a lone continuation byte, a truncated sequence, an overlong, a UTF-8
   * encoded surrogate (3 bytes, 3 replacements, as Go), and in a key */
  cJSON *d = dec("{\"x\":\"a\x80" "b\xe2\x82\",\"y\":\"\xc0\xaf\",\"z\":\"\xed\xa0\x80\",\"k\xff\":1}", &res);
  ASSERT_NOT_NULL(d);
  ASSERT_EQ_STR(cJSON_GetObjectItemCaseSensitive(d, "x")->valuestring, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
  ASSERT_EQ_STR(cJSON_GetObjectItemCaseSensitive(d, "y")->valuestring, "\xef\xbf\xbd\xef\xbf\xbd");
  ASSERT_EQ_STR(cJSON_GetObjectItemCaseSensitive(d, "z")->valuestring,
                "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  ASSERT_NOT_NULL(cJSON_GetObjectItemCaseSensitive(d, "k\xef\xbf\xbd"));
  ASSERT_EQ_INT(res.replaced, 9);
  cJSON_Delete(d);
  json_strict_result_done(&res);
  /* lone surrogates in escapes: U+FFFD; a following escape is read on its own */
  d = dec("[\"\\ud800\",\"\\udc00x\",\"\\ud800\\u0041\"]", &res);
  ASSERT_NOT_NULL(d);
  ASSERT_EQ_STR(cJSON_GetArrayItem(d, 0)->valuestring, "\xef\xbf\xbd");
  ASSERT_EQ_STR(cJSON_GetArrayItem(d, 1)->valuestring, "\xef\xbf\xbdx");
  ASSERT_EQ_STR(cJSON_GetArrayItem(d, 2)->valuestring, "\xef\xbf\xbd" "A");
  cJSON_Delete(d);
  /* the sanitizer used for messages follows the same rule */
  char *s = json_utf8_sanitize("ok\xff\xc3\xa9", 5);
  ASSERT_EQ_STR(s, "ok\xef\xbf\xbd\xc3\xa9");
  free(s);
}

static void test_nul_refused(void) {
  json_strict_result_t res;
  ASSERT_NULL(dec("{\"data\":{\"x\":\"a\\u0000b\"}}", &res));
  ASSERT_EQ_INT(res.kind, JSON_STRICT_ERR_NUL);
  ASSERT_EQ_STR(res.err_path, "data.x");
  ASSERT_CONTAINS(res.err, "NUL");
  ASSERT_EQ_INT(res.err_offset, 15);
  json_strict_result_done(&res);
  ASSERT_NULL(dec("{\"metadata\":{\"na\\u0000me\":\"x\"}}", &res));
  ASSERT_EQ_INT(res.kind, JSON_STRICT_ERR_NUL);
  /* a raw NUL byte is a control character: Go's syntax error */
  cJSON *d = NULL;
  ASSERT_EQ_INT(json_strict_parse("\"a\0b\"", 5, &d, &res), -EINVAL);
  ASSERT_EQ_STR(res.err, "invalid character '\\x00' in string literal");
}

static void test_trailing_and_syntax(void) {
  fails("{\"a\":1} {\"b\":2}", JSON_STRICT_ERR_SYNTAX, "invalid character '{' after top-level value");
  fails("{} x", JSON_STRICT_ERR_SYNTAX, "invalid character 'x' after top-level value");
  fails("{\"a\":1", JSON_STRICT_ERR_SYNTAX, "unexpected end of JSON input");
  fails("", JSON_STRICT_ERR_SYNTAX, "unexpected end of JSON input");
  fails("{\"a\" 1}", JSON_STRICT_ERR_SYNTAX, "invalid character '1' after object key");
  fails("{\"a\":1 \"b\":2}", JSON_STRICT_ERR_SYNTAX, "invalid character '\"' after object key:value pair");
  fails("[1 2]", JSON_STRICT_ERR_SYNTAX, "invalid character '2' after array element");
  fails("{a:1}", JSON_STRICT_ERR_SYNTAX, "invalid character 'a' looking for beginning of object key string");
  fails("{\"a\":1,}", JSON_STRICT_ERR_SYNTAX, "invalid character '}' looking for beginning of object key string");
  fails("[1,]", JSON_STRICT_ERR_SYNTAX, "invalid character ']' looking for beginning of value");
  fails("{\"a\":'x'}", JSON_STRICT_ERR_SYNTAX, "invalid character '\\'' looking for beginning of value");
  fails("\"a\nb\"", JSON_STRICT_ERR_SYNTAX, "invalid character '\\n' in string literal");
  fails("\"\\x\"", JSON_STRICT_ERR_SYNTAX, "invalid character 'x' in string escape code");
  fails("\"\\u12g4\"", JSON_STRICT_ERR_SYNTAX, "invalid character 'g' in \\u hexadecimal character escape");
  fails("tru", JSON_STRICT_ERR_SYNTAX, "unexpected end of JSON input");
  fails("nul1", JSON_STRICT_ERR_SYNTAX, "invalid character '1' in literal null (expecting 'l')");
  fails("-x", JSON_STRICT_ERR_SYNTAX, "invalid character 'x' in numeric literal");
  fails("1.x", JSON_STRICT_ERR_SYNTAX, "invalid character 'x' after decimal point in numeric literal");
  fails("1ex", JSON_STRICT_ERR_SYNTAX, "invalid character 'x' in exponent of numeric literal");
  fails("01", JSON_STRICT_ERR_SYNTAX, "invalid character '1' after top-level value");
  fails("\xff", JSON_STRICT_ERR_SYNTAX, "invalid character '\xc3\xbf' looking for beginning of value");
}

static void test_numbers(void) {
  json_strict_result_t res;
  cJSON *d = dec("[1.2e29,-0,9007199254740993,1e-400]", &res);
  ASSERT_NOT_NULL(d);
  ASSERT_TRUE(cJSON_GetArrayItem(d, 0)->valuedouble == 1.2e29);
  ASSERT_TRUE(cJSON_GetArrayItem(d, 3)->valuedouble == 0);
  cJSON_Delete(d);
  fails("{\"a\":1e400}", JSON_STRICT_ERR_NUMBER, "json: cannot unmarshal number 1e400 into Go value of type float64");
  fails("-1e400", JSON_STRICT_ERR_NUMBER, "json: cannot unmarshal number -1e400 into Go value of type float64");
}

static void test_depth(void) {
  buf_t b;
  buf_init(&b, 1 << 20);
  for (int i = 0; i < JSON_STRICT_MAX_DEPTH; i++)
    buf_append_str(&b, "[");
  for (int i = 0; i < JSON_STRICT_MAX_DEPTH; i++)
    buf_append_str(&b, "]");
  json_strict_result_t res;
  cJSON *d = NULL;
  ASSERT_EQ_INT(json_strict_parse(b.data, b.len, &d, &res), 0);
  cJSON_Delete(d);
  buf_reset(&b);
  for (int i = 0; i <= JSON_STRICT_MAX_DEPTH; i++)
    buf_append_str(&b, "{\"a\":");
  ASSERT_EQ_INT(json_strict_parse(b.data, b.len, &d, &res), -EINVAL);
  ASSERT_EQ_INT(res.kind, JSON_STRICT_ERR_DEPTH);
  ASSERT_EQ_STR(res.err, "invalid character '{' exceeded max depth");
  buf_done(&b);
}

TEST_LIST = {
    TEST(test_plain_documents),      TEST(test_duplicates_last_wins), TEST(test_duplicates_in_big_object),
    TEST(test_duplicates_linear),    TEST(test_dedup_trees),    TEST(test_invalid_utf8_replaced), TEST(test_nul_refused),
    TEST(test_trailing_and_syntax),  TEST(test_numbers),               TEST(test_depth),
    {0}};

TEST_MAIN()
