/* Tests for the pure parts of pkg/server/bootstrap.c: basic-auth parsing,
 * node-name validation (DNS-1123 subdomain) and the node-password hash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/bootstrap.h"
#include "test.h"

static void check_auth(const char *header, const char *user, const char *password) {
  char *u = NULL, *p = NULL;
  ASSERT_EQ_INT(server_bootstrap_basic_auth(header, &u, &p), 0);
  ASSERT_EQ_STR(u, user);
  ASSERT_EQ_STR(p, password);
  free(u);
  free(p);
}

static void test_basic_auth(void) {
  check_auth("Basic bm9kZTpzM2NyZXQ=", "node", "s3cret");      /* node:s3cret */
  check_auth("basic   bm9kZTpzM2NyZXQ=  ", "node", "s3cret");  /* scheme any case, spaces */
  check_auth("Basic bm9kZTphOmI=", "node", "a:b");              /* the password may hold ':' */
  check_auth("Basic Om5vdXNlcg==", "", "nouser");                /* ":nouser" */
  check_auth("Basic bm9kZTo=", "node", "");                     /* "node:" */
}

static void test_basic_auth_bad(void) {
  char *u = (char *)"untouched", *p = (char *)"untouched";
  const char *bad[] = {
      NULL, "", "Basic", "Basic ", "Bearer bm9kZTpzM2NyZXQ=", "Basicbm9kZTpzM2NyZXQ=",
      "Basic bm9kZXMzY3JldA==",   /* "nodes3cret": no colon */
      "Basic bm9kZTpzM2NyZXQ",    /* not padded */
      "Basic bm9k!TpzM2NyZXQ=",   /* not base64 */
      "Basic bm9kZTpz=2NyZXQ=",   /* '=' inside */
      "Basic bm9kZQA6eA==",       /* "node\0:x": a NUL */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    ASSERT_EQ_INT(server_bootstrap_basic_auth(bad[i], &u, &p), -EINVAL);
    ASSERT_EQ_STR(u, "untouched");
    ASSERT_EQ_STR(p, "untouched");
  }
}

static void test_node_name(void) {
  const char *good[] = {"a", "node-1", "n1.example.com", "0", "a-b.c-d", "x.y.z"};
  for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
    if (!server_bootstrap_node_name_valid(good[i]))
      TEST_FAIL("%s should be valid", good[i]);
  const char *bad[] = {NULL, "", "Node", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b",
                       "a.-b", "a-.b", "nöde", "a/b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    if (server_bootstrap_node_name_valid(bad[i]))
      TEST_FAIL("%s should be invalid", bad[i] ? bad[i] : "NULL");
  char name[300];
  memset(name, 'a', sizeof(name));
  name[253] = 0;
  ASSERT_TRUE(server_bootstrap_node_name_valid(name));
  name[253] = 'a';
  name[254] = 0;
  ASSERT_FALSE(server_bootstrap_node_name_valid(name));
}

static void test_password_hash(void) {
  char *h1 = server_bootstrap_password_hash("pw-one");
  char *h2 = server_bootstrap_password_hash("pw-one");
  ASSERT_TRUE(!strncmp(h1, "sha256$", 7));
  ASSERT_FALSE(strcmp(h1, h2) == 0); /* salted */
  ASSERT_TRUE(strstr(h1, "pw-one") == NULL);
  ASSERT_TRUE(server_bootstrap_password_check(h1, "pw-one"));
  ASSERT_TRUE(server_bootstrap_password_check(h2, "pw-one"));
  ASSERT_FALSE(server_bootstrap_password_check(h1, "pw-two"));
  ASSERT_FALSE(server_bootstrap_password_check(h1, "pw-on"));
  ASSERT_FALSE(server_bootstrap_password_check(h1, ""));
  ASSERT_FALSE(server_bootstrap_password_check("", "pw-one"));
  ASSERT_FALSE(server_bootstrap_password_check("sha256$$abc", "pw-one"));
  ASSERT_FALSE(server_bootstrap_password_check("plain", "plain"));
  ASSERT_FALSE(server_bootstrap_password_check(NULL, "pw-one"));
  free(h1);
  free(h2);
}

TEST_LIST = {
    TEST(test_basic_auth),
    TEST(test_basic_auth_bad),
    TEST(test_node_name),
    TEST(test_password_hash),
    {0},
};
TEST_MAIN()
