/* Keys, certificates and the subjectAltName writer (pkg/tls/cert.c). */
#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "tls/cert.h"

static void test_san_dedupe_and_validate(void) {
  tls_san_t s;
  tls_san_init(&s);
  ASSERT_EQ_INT(tls_san_add(&s, "Kubernetes"), 0);
  ASSERT_EQ_INT(tls_san_add(&s, "kubernetes"), 0);
  ASSERT_EQ_INT(tls_san_add(&s, "10.43.0.1"), 0);
  ASSERT_EQ_INT(tls_san_add(&s, "::1"), 0);
  ASSERT_EQ_INT(tls_san_add_ip(&s, "10.43.0.1"), 0);
  ASSERT_EQ_INT(tls_san_add(&s, "bad name"), -EINVAL);
  ASSERT_EQ_INT(tls_san_add_ip(&s, "host"), -EINVAL);
  ASSERT_EQ_INT(s.n_dns, 1);
  ASSERT_EQ_STR(s.dns[0], "kubernetes");
  ASSERT_EQ_INT(s.n_ips, 2);
  ASSERT_EQ_INT(s.ips[0].len, 4);
  ASSERT_EQ_INT(s.ips[1].len, 16);
  tls_san_done(&s);
}

static void test_san_encoding(void) {
  tls_san_t s;
  tls_san_init(&s);
  tls_san_add(&s, "b");
  tls_san_add(&s, "127.0.0.1");
  tls_san_add(&s, "a");
  unsigned char *der = NULL;
  size_t len = 0;
  ASSERT_EQ_INT(tls_san_encode(&s, &der, &len), 0);
  /* SEQUENCE { [2]"a" [2]"b" [7]7f000001 } */
  static const unsigned char want[] = {0x30, 0x0c, 0x82, 0x01, 'a', 0x82, 0x01, 'b',
                                       0x87, 0x04, 0x7f, 0x00, 0x00, 0x01};
  ASSERT_EQ_INT(len, sizeof(want));
  ASSERT_TRUE(!memcmp(der, want, len));
  free(der);
  tls_san_t empty;
  tls_san_init(&empty);
  ASSERT_EQ_INT(tls_san_encode(&empty, &der, &len), -EINVAL);
  tls_san_done(&s);
}

static void test_ca_and_leaf(void) {
  char err[256] = "";
  char *ca_key = NULL, *ca = NULL, *leaf = NULL, *leaf_key = NULL, *other = NULL, *other_key = NULL;
  ASSERT_EQ_INT(tls_key_generate(&ca_key, err, sizeof(err)), 0);
  ASSERT_CONTAINS(ca_key, "BEGIN EC PRIVATE KEY");
  tls_cert_spec_t cas = {.cn = "test-ca@1", .usage = TLS_USAGE_CA, .days = 3650};
  ASSERT_EQ_INT(tls_cert_create(&cas, ca_key, NULL, NULL, &ca, err, sizeof(err)), 0);
  tls_cert_info_t info;
  ASSERT_EQ_INT(tls_cert_info(ca, &info, err, sizeof(err)), 0);
  ASSERT_TRUE(info.is_ca);
  ASSERT_EQ_STR(info.cn, "test-ca@1");
  ASSERT_GE_INT(info.not_after - info.not_before, 3650LL * 86400);

  tls_san_t san;
  tls_san_init(&san);
  tls_san_add(&san, "localhost");
  tls_san_add(&san, "127.0.0.1");
  static const char *const orgs[] = {"system:masters", "team-a", NULL};
  tls_cert_spec_t ls = {.cn = "system:admin", .orgs = orgs, .usage = TLS_USAGE_CLIENT | TLS_USAGE_SERVER,
                        .san = &san, .days = 365};
  ASSERT_EQ_INT(tls_cert_issue(&ls, ca, ca_key, &leaf, &leaf_key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_verify(leaf, ca, 0), 0);
  ASSERT_EQ_INT(tls_cert_key_matches(leaf, leaf_key), 0);
  ASSERT_EQ_INT(tls_cert_key_matches(leaf, ca_key), -EKEYREJECTED);
  ASSERT_EQ_INT(tls_cert_san_matches(leaf, &san), 1);
  tls_san_add(&san, "extra");
  ASSERT_EQ_INT(tls_cert_san_matches(leaf, &san), 0);
  ASSERT_EQ_INT(tls_cert_info(leaf, &info, err, sizeof(err)), 0);
  ASSERT_FALSE(info.is_ca);
  ASSERT_EQ_STR(info.cn, "system:admin");
  /* Outside the validity window the chain does not verify. */
  ASSERT_EQ_INT(tls_cert_verify(leaf, ca, time(NULL) + 400L * 86400), -EKEYREJECTED);

  /* A certificate from another CA does not verify against this one. */
  tls_cert_spec_t os = {.cn = "other", .usage = TLS_USAGE_CA, .days = 1};
  ASSERT_EQ_INT(tls_key_generate(&other_key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_create(&os, other_key, NULL, NULL, &other, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_verify(leaf, other, 0), -EKEYREJECTED);

  char fp1[65], fp2[65];
  ASSERT_EQ_INT(tls_cert_fingerprint(ca, fp1), 0);
  ASSERT_EQ_INT(tls_cert_fingerprint(other, fp2), 0);
  ASSERT_EQ_INT(strlen(fp1), 64);
  ASSERT_TRUE(strcmp(fp1, fp2) != 0);

  ASSERT_EQ_INT(tls_cert_create(&ls, "not a key", NULL, NULL, &other, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "parse private key");
  tls_san_done(&san);
  free(ca_key); free(ca); free(leaf); free(leaf_key); free(other); free(other_key);
}

static void test_sha256_hex(void) {
  char hex[65];
  tls_sha256_hex("abc", 3, hex);
  ASSERT_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_LIST = {TEST(test_san_dedupe_and_validate), TEST(test_san_encoding), TEST(test_ca_and_leaf),
             TEST(test_sha256_hex), {0}};
TEST_MAIN()
