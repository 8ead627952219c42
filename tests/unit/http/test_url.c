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

/* Regression (issue #19): one bad escape made the server parse no
 * parameters at all, so a DELETE lost its labelSelector and deleted
 * everything, and dryRun=All was dropped. The check names the fault in
 * Go's url.ParseQuery wording, and parse refuses exactly what check does. */
static void test_query_check(void) {
  char err[256];
  http_query_t q;
  ASSERT_EQ_INT(http_query_check("labelSelector=app%3Dweb&limit=500&watch", err, sizeof(err)), 0);
  ASSERT_EQ_INT(http_query_check("", err, sizeof(err)), 0);
  ASSERT_EQ_INT(http_query_check("a=%41%2f%C3%A9+b", err, sizeof(err)), 0);

  ASSERT_EQ_INT(http_query_check("labelSelector=app%3Dnone&x=%zz", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "invalid URL escape \"%zz\"");
  ASSERT_EQ_INT(http_query_parse("labelSelector=app%3Dnone&x=%zz", &q), -EINVAL);
  ASSERT_EQ_INT(q.n, 0);
  ASSERT_EQ_INT(http_query_check("a=%4", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "invalid URL escape \"%4\"");
  ASSERT_EQ_INT(http_query_check("a=%", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "invalid URL escape \"%\"");
  ASSERT_EQ_INT(http_query_check("a=%\x01\x02", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "invalid URL escape \"%\\x01\\x02\"");
  ASSERT_EQ_INT(http_query_check("%zz=1", err, sizeof(err)), -EINVAL); /* in a name too */

  ASSERT_EQ_INT(http_query_check("dryRun=All&x=%00", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "query parameter \"x\": %00 (a NUL byte) is not supported in query values");
  ASSERT_EQ_INT(http_query_parse("dryRun=All&x=%00", &q), -EINVAL);
  ASSERT_EQ_INT(http_query_check("labelSelector=a%00b&limit=1", err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "\"labelSelector\"");

  /* Go drops a pair with ';' (golang.org/issue/25192); k3c refuses the request. */
  ASSERT_EQ_INT(http_query_check("labelSelector=a;b", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "invalid semicolon separator in query");
  ASSERT_EQ_INT(http_query_parse("labelSelector=a;b", &q), -EINVAL);
  ASSERT_EQ_INT(http_query_parse("labelSelector=a%3Bb", &q), 0); /* escaped is fine */
  ASSERT_EQ_STR(http_query_get(&q, "labelSelector"), "a;b");
  http_query_done(&q);
}

TEST_LIST = {TEST(test_decode), TEST(test_query), TEST(test_query_check), TEST(test_target), {0}};
TEST_MAIN()
