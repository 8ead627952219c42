/* Percent-decoding, query strings and request targets (pkg/http/url.c). */
#include <errno.h>
#include <stdlib.h>

#include "http/url.h"
#include "test.h"

static void test_decode(void) {
  char *s = NULL;
  ASSERT_EQ_INT(http_url_decode("a%3Db+c%2f", 10, true, &s), 0);
  ASSERT_EQ_STR(s, "a=b c/");
  free(s);
  ASSERT_EQ_INT(http_url_decode("a+b", 3, false, &s), 0);
  ASSERT_EQ_STR(s, "a+b");
  free(s);
  ASSERT_EQ_INT(http_url_decode("%4", 2, true, &s), -EINVAL);
  ASSERT_EQ_INT(http_url_decode("%zz", 3, true, &s), -EINVAL);
  ASSERT_EQ_INT(http_url_decode("a%00b", 5, true, &s), -EINVAL);
}

static void test_query(void) {
  http_query_t q;
  ASSERT_EQ_INT(http_query_parse("labelSelector=app%3Dweb&limit=500&&command=ls&command=%2F&watch", &q), 0);
  ASSERT_EQ_INT(q.n, 5);
  ASSERT_EQ_STR(http_query_get(&q, "labelSelector"), "app=web");
  ASSERT_EQ_STR(http_query_get(&q, "limit"), "500");
  ASSERT_EQ_STR(http_query_get(&q, "command"), "ls");
  ASSERT_EQ_STR(q.v[3].value, "/");
  ASSERT_EQ_STR(http_query_get(&q, "watch"), "");
  ASSERT_NULL(http_query_get(&q, "missing"));
  http_query_done(&q);
  ASSERT_EQ_INT(http_query_parse("", &q), 0);
  ASSERT_EQ_INT(q.n, 0);
  ASSERT_EQ_INT(http_query_parse("a=%G1", &q), -EINVAL);
  ASSERT_EQ_INT(q.n, 0);
}

static void test_target(void) {
  char *path = NULL, *query = NULL;
  ASSERT_EQ_INT(http_target_split("/api/v1/namespaces/a%20b/pods?limit=1", 37, &path, &query), 0);
  ASSERT_EQ_STR(path, "/api/v1/namespaces/a b/pods");
  ASSERT_EQ_STR(query, "limit=1");
  free(path);
  free(query);
  const char *abs = "https://host:6443/version?timeout=32s";
  ASSERT_EQ_INT(http_target_split(abs, strlen(abs), &path, &query), 0);
  ASSERT_EQ_STR(path, "/version");
  ASSERT_EQ_STR(query, "timeout=32s");
  free(path);
  free(query);
  ASSERT_EQ_INT(http_target_split("/version", 8, &path, &query), 0);
  ASSERT_EQ_STR(query, "");
  free(path);
  free(query);
  ASSERT_EQ_INT(http_target_split("version", 7, &path, &query), -EINVAL);
  ASSERT_EQ_INT(http_target_split("/a%zz", 5, &path, &query), -EINVAL);
}

TEST_LIST = {TEST(test_decode), TEST(test_query), TEST(test_target), {0}};
TEST_MAIN()
