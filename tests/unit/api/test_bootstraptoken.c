/* pkg/api/bootstraptoken.c: the token's shape, the Secret it is kept in, and
 * the checks the authenticator and the join endpoints make against it
 * (secret, expiry, usage, deletion, extra groups). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/bootstraptoken.h"
#include "test.h"

#define TOK "abcdef.0123456789abcdef"

static void test_split_generate(void) {
  char id[7], sec[17];
  ASSERT_TRUE(api_bootstrap_token_split(TOK, id, sec));
  ASSERT_EQ_STR(id, "abcdef");
  ASSERT_EQ_STR(sec, "0123456789abcdef");
  ASSERT_FALSE(api_bootstrap_token_split("ABCDEF.0123456789abcdef", id, sec)); /* upper case */
  ASSERT_FALSE(api_bootstrap_token_split("abcdef:0123456789abcdef", id, sec));
  ASSERT_FALSE(api_bootstrap_token_split("abcdef.0123456789abcde", id, sec));  /* short */
  ASSERT_FALSE(api_bootstrap_token_split("abcdef.0123456789abcdef0", id, sec));
  ASSERT_FALSE(api_bootstrap_token_split("", id, sec));
  ASSERT_FALSE(api_bootstrap_token_split(NULL, id, sec));
  char a[24], b[24];
  api_bootstrap_token_generate(a);
  api_bootstrap_token_generate(b);
  ASSERT_TRUE(api_bootstrap_token_split(a, id, sec));
  ASSERT_TRUE(api_bootstrap_token_split(b, id, sec));
  ASSERT_TRUE(strcmp(a, b) != 0);
}

static void test_groups_valid(void) {
  ASSERT_TRUE(api_bootstrap_group_valid("system:bootstrappers:k3c:default-node-token"));
  ASSERT_TRUE(api_bootstrap_group_valid("system:bootstrappers:a"));
  ASSERT_FALSE(api_bootstrap_group_valid("system:bootstrappers"));
  ASSERT_FALSE(api_bootstrap_group_valid("system:bootstrappers:"));
  ASSERT_FALSE(api_bootstrap_group_valid("system:masters"));
  ASSERT_FALSE(api_bootstrap_group_valid("system:bootstrappers:a-"));
  ASSERT_FALSE(api_bootstrap_group_valid("system:bootstrappers:A"));
  ASSERT_FALSE(api_bootstrap_group_valid(NULL));
}

static void add(const char *g, void *data) {
  char *out = data;
  size_t n = strlen(out);
  snprintf(out + n, 200 - n, "%s;", g);
}

static void test_secret_check(void) {
  char err[200] = "", why[200] = "";
  ASSERT_NULL(api_bootstrap_token_secret(TOK, 0, NULL, "authentication,bogus", NULL, err,
                                         sizeof(err)));
  ASSERT_CONTAINS(err, "unknown usage \"bogus\"");
  ASSERT_NULL(api_bootstrap_token_secret(TOK, 0, NULL, NULL, "system:masters", err, sizeof(err)));
  ASSERT_CONTAINS(err, "system:masters");
  ASSERT_NULL(api_bootstrap_token_secret("nope", 0, NULL, NULL, NULL, err, sizeof(err)));

  time_t now = 1800000000;
  cJSON *s = api_bootstrap_token_secret(TOK, now + 60, "for the fleet", NULL,
                                        "system:bootstrappers:k3c:default-node-token", err,
                                        sizeof(err));
  ASSERT_NOT_NULL(s);
  char *name = cJSON_PrintUnformatted(cJSON_GetObjectItem(s, "metadata"));
  ASSERT_CONTAINS(name, "\"name\":\"bootstrap-token-abcdef\"");
  ASSERT_CONTAINS(name, "\"namespace\":\"kube-system\"");
  free(name);
  ASSERT_EQ_STR(cJSON_GetObjectItem(s, "type")->valuestring, "bootstrap.kubernetes.io/token");
  char *v = api_bootstrap_token_data(s, "expiration");
  ASSERT_EQ_STR(v, "2027-01-15T08:01:00Z");
  free(v);
  v = api_bootstrap_token_data(s, "description");
  ASSERT_EQ_STR(v, "for the fleet");
  free(v);
  time_t exp = 0;
  ASSERT_EQ_INT(api_bootstrap_token_expiry(s, &exp), 0);
  ASSERT_EQ_INT((long)(exp - now), 60);

  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "authentication", now, why, sizeof(why)), 0);
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "signing", now, why, sizeof(why)), 0);
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "authentication", now + 60, why, sizeof(why)),
                -EACCES);
  ASSERT_CONTAINS(why, "expired");
  ASSERT_EQ_INT(api_bootstrap_token_check(s, "abcdef.0123456789abcdee", "authentication", now,
                                          why, sizeof(why)),
                -EACCES);
  ASSERT_CONTAINS(why, "secret is wrong");
  ASSERT_EQ_INT(api_bootstrap_token_check(s, "abcdeg.0123456789abcdef", "authentication", now,
                                          why, sizeof(why)),
                -EACCES);
  char groups[200] = "";
  api_bootstrap_token_groups(s, add, groups);
  ASSERT_EQ_STR(groups, "system:bootstrappers:k3c:default-node-token;");

  /* a deleting Secret, a wrong type, an expiration that does not parse */
  cJSON *meta = cJSON_GetObjectItem(s, "metadata");
  cJSON_AddStringToObject(meta, "deletionTimestamp", "2027-01-15T08:00:00Z");
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "authentication", now, why, sizeof(why)), -EACCES);
  ASSERT_CONTAINS(why, "being deleted");
  cJSON_DeleteItemFromObject(meta, "deletionTimestamp");
  cJSON_ReplaceItemInObject(s, "type", cJSON_CreateString("Opaque"));
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "authentication", now, why, sizeof(why)), -EACCES);
  ASSERT_CONTAINS(why, "not of type");
  cJSON_ReplaceItemInObject(s, "type", cJSON_CreateString("bootstrap.kubernetes.io/token"));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(s, "data"), "expiration",
                            cJSON_CreateString("dG9tb3Jyb3c=")); /* "tomorrow" */
  ASSERT_EQ_INT(api_bootstrap_token_expiry(s, &exp), -EINVAL);
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "authentication", now, why, sizeof(why)), -EACCES);
  ASSERT_CONTAINS(why, "does not parse");
  cJSON_Delete(s);

  /* usages limit what the token may do; no expiration is forever */
  s = api_bootstrap_token_secret(TOK, 0, NULL, "signing", NULL, err, sizeof(err));
  ASSERT_NOT_NULL(s);
  ASSERT_EQ_INT(api_bootstrap_token_expiry(s, &exp), 0);
  ASSERT_EQ_INT((int)exp, 0);
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "signing", now * 2, why, sizeof(why)), 0);
  ASSERT_EQ_INT(api_bootstrap_token_check(s, TOK, "authentication", now, why, sizeof(why)),
                -EACCES);
  ASSERT_CONTAINS(why, "not allowed for authentication");
  cJSON_Delete(s);
}

TEST_LIST = {
    TEST(test_split_generate),
    TEST(test_groups_valid),
    TEST(test_secret_check),
    {0},
};
TEST_MAIN()
