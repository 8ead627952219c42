/* Tests for pkg/server/encryption.c: the EncryptionConfiguration file as
 * upstream writes it (aesgcm and identity providers, provider order means
 * enabled or not), refusals with their reasons, the round trip through
 * format, and the keyring built from it. */
#include <errno.h>

#include "server/encryption.h"
#include "test.h"

#define KEY32 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" /* 32 bytes */

static int parse(const char *json, server_enc_config_t *c, char *err) {
  return server_enc_config_parse(json, strlen(json), c, err, 256);
}

static void test_parse_enabled_and_disabled(void) {
  server_enc_config_t c;
  char err[256] = "";
  const char *on =
      "{\"kind\":\"EncryptionConfiguration\",\"apiVersion\":\"apiserver.config.k8s.io/v1\","
      "\"resources\":[{\"resources\":[\"secrets\",\"widgets.example.com\"],\"providers\":["
      "{\"aesgcm\":{\"keys\":[{\"name\":\"new\",\"secret\":\"" KEY32 "\"},"
      "{\"name\":\"old:2023-01-01T00:00:00Z\",\"secret\":\"MDEyMzQ1Njc4OWFiY2RlZg==\"}]}},"
      "{\"identity\":{}}]}]}";
  ASSERT_EQ_INT(parse(on, &c, err), 0);
  ASSERT_TRUE(c.enabled);
  ASSERT_EQ_INT(c.n_keys, 2);
  ASSERT_EQ_STR(c.keys[0].name, "new");
  ASSERT_EQ_INT(c.keys[0].len, 32);
  ASSERT_EQ_INT(c.keys[1].len, 16);
  ASSERT_EQ_INT(c.n_resources, 2);
  char prefix[256];
  server_enc_resource_prefix(c.resources[1], prefix, sizeof(prefix));
  ASSERT_EQ_STR(prefix, "/registry/example.com/widgets/");
  server_enc_resource_prefix("secrets", prefix, sizeof(prefix));
  ASSERT_EQ_STR(prefix, "/registry/core/secrets/");
  store_keyring_t *kr = server_enc_keyring(&c);
  ASSERT_EQ_STR(store_keyring_write_key(kr), "new");
  ASSERT_TRUE(store_keyring_covers(kr, "/registry/core/secrets/ns/x"));
  ASSERT_TRUE(store_keyring_covers(kr, "/registry/example.com/widgets/ns/x"));
  ASSERT_FALSE(store_keyring_covers(kr, "/registry/core/configmaps/ns/x"));
  store_keyring_unref(kr);

  /* the round trip keeps everything; disabled puts identity first */
  c.enabled = false;
  char *json = server_enc_config_format(&c);
  ASSERT_CONTAINS(json, "\"apiVersion\":\t\"apiserver.config.k8s.io/v1\"");
  ASSERT_TRUE(strstr(json, "identity") < strstr(json, "aesgcm"));
  server_enc_config_t back;
  ASSERT_EQ_INT(parse(json, &back, err), 0);
  free(json);
  ASSERT_FALSE(back.enabled);
  ASSERT_EQ_INT(back.n_keys, 2);
  ASSERT_EQ_STR(back.keys[1].name, "old:2023-01-01T00:00:00Z");
  ASSERT_TRUE(!memcmp(back.keys[0].key, c.keys[0].key, 32));
  kr = server_enc_keyring(&back);
  ASSERT_NULL(store_keyring_write_key(kr));
  store_keyring_unref(kr);
}

static void test_refusals(void) {
  server_enc_config_t c;
  char err[256];
  ASSERT_EQ_INT(parse("{", &c, err), -EINVAL);
  ASSERT_CONTAINS(err, "not valid JSON");
  ASSERT_EQ_INT(parse("{\"kind\":\"Other\"}", &c, err), -EINVAL);
  ASSERT_CONTAINS(err, "EncryptionConfiguration");
  ASSERT_EQ_INT(parse("{\"kind\":\"EncryptionConfiguration\",\"resources\":[{\"resources\":"
                      "[\"secrets\"],\"providers\":[{\"aescbc\":{\"keys\":[]}}]}]}", &c, err),
                -EINVAL);
  ASSERT_CONTAINS(err, "provider \"aescbc\" is not supported");
  ASSERT_EQ_INT(parse("{\"kind\":\"EncryptionConfiguration\",\"resources\":[{\"resources\":"
                      "[\"secrets\"],\"providers\":[{\"aesgcm\":{\"keys\":[{\"name\":\"k\","
                      "\"secret\":\"c2hvcnQ=\"}]}}]}]}", &c, err), -EINVAL);
  ASSERT_CONTAINS(err, "16, 24 or 32");
  ASSERT_EQ_INT(parse("{\"kind\":\"EncryptionConfiguration\",\"resources\":[{\"resources\":"
                      "[\"*.*\"],\"providers\":[{\"identity\":{}}]}]}", &c, err), -EINVAL);
  ASSERT_CONTAINS(err, "no wildcards");
  ASSERT_EQ_INT(parse("{\"kind\":\"EncryptionConfiguration\",\"resources\":[{\"resources\":"
                      "[\"secrets\"],\"providers\":[{\"aesgcm\":{\"keys\":[{\"name\":\"k\","
                      "\"secret\":\"" KEY32 "\"},{\"name\":\"k\",\"secret\":\"" KEY32
                      "\"}]}}]}]}", &c, err), -EINVAL);
  ASSERT_CONTAINS(err, "used twice");
}

TEST_LIST = {
    TEST(test_parse_enabled_and_disabled),
    TEST(test_refusals),
    {0},
};
TEST_MAIN()
