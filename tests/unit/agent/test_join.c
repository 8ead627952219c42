/* Tests for pkg/agent/join.c without a server: the server URL, the split
 * of the server's certificate-and-key answer, the basic-auth header, and
 * which saved credentials agent_join_load accepts (none, a good set, a set
 * for another node name, for another CA than the token's, a key that does
 * not match). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/join.h"
#include "tls/cert.h"
#include "tls/token.h"
#include "util/fsutil.h"
#include "test.h"

static void check_url(const char *url, const char *host, const char *port) {
  char *h = NULL, *p = NULL;
  ASSERT_EQ_INT(agent_join_split_url(url, &h, &p), 0);
  ASSERT_EQ_STR(h, host);
  ASSERT_EQ_STR(p, port);
  free(h);
  free(p);
}

static void test_split_url(void) {
  check_url("https://10.0.0.1:6443", "10.0.0.1", "6443");
  check_url("https://server.example:9345/", "server.example", "9345");
  check_url("https://server.example", "server.example", "6443");
  check_url("https://[fd00::1]:6443", "fd00::1", "6443");
  check_url("https://[fd00::1]", "fd00::1", "6443");
  const char *bad[] = {NULL, "", "http://a:1", "https://", "https://:6443", "https://a:",
                       "https://a:0", "https://a:65536", "https://a:12x", "https://a/path",
                       "https://[fd00::1", "https://[]:1", "https://a:1/x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    char *h = NULL, *p = NULL;
    if (agent_join_split_url(bad[i], &h, &p) != -EINVAL)
      TEST_FAIL("%s should be refused", bad[i] ? bad[i] : "NULL");
    ASSERT_NULL(h);
  }
}

#define CERT(x) "-----BEGIN CERTIFICATE-----\n" x "\n-----END CERTIFICATE-----\n"
#define KEY "-----BEGIN EC PRIVATE KEY-----\nKKKK\n-----END EC PRIVATE KEY-----\n"

static void test_split_pem(void) {
  char *c = NULL, *k = NULL;
  ASSERT_EQ_INT(agent_join_split_pem(CERT("AAAA") KEY, &c, &k), 0);
  ASSERT_EQ_STR(c, CERT("AAAA"));
  ASSERT_EQ_STR(k, KEY);
  free(c);
  free(k);
  /* a chain before the key stays with the certificate */
  ASSERT_EQ_INT(agent_join_split_pem(CERT("AAAA") CERT("BBBB") KEY, &c, &k), 0);
  ASSERT_EQ_STR(c, CERT("AAAA") CERT("BBBB"));
  ASSERT_EQ_STR(k, KEY);
  free(c);
  free(k);
  c = k = NULL;
  ASSERT_EQ_INT(agent_join_split_pem(CERT("AAAA"), &c, &k), -EINVAL);
  ASSERT_EQ_INT(agent_join_split_pem(KEY, &c, &k), -EINVAL);
  ASSERT_EQ_INT(agent_join_split_pem("unauthorized\n", &c, &k), -EINVAL);
  ASSERT_EQ_INT(agent_join_split_pem(NULL, &c, &k), -EINVAL);
  ASSERT_NULL(c);
  ASSERT_NULL(k);
}

static void test_split_chain(void) {
  const char *chain = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"
                      "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n";
  char *leaf = NULL, *rest = NULL;
  ASSERT_EQ_INT(agent_join_split_chain(chain, &leaf, &rest), 0);
  ASSERT_EQ_STR(leaf, "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n");
  ASSERT_EQ_STR(rest, "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n");
  free(leaf);
  free(rest);
  ASSERT_EQ_INT(agent_join_split_chain("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----",
                                       &leaf, &rest), 0);
  ASSERT_NULL(rest);
  free(leaf);
  ASSERT_EQ_INT(agent_join_split_chain("no pem", &leaf, &rest), -EINVAL);
  ASSERT_EQ_INT(agent_join_split_chain(NULL, &leaf, &rest), -EINVAL);
}

static void test_basic_auth(void) {
  char *a = agent_join_basic_auth("node", "s3cret");
  ASSERT_EQ_STR(a, "Basic bm9kZTpzM2NyZXQ=");
  free(a);
}

/* ---- saved credentials ---- */

static char dir[256];
static char *ca, *ca_key, *other_ca, *other_key;

static void save(const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof(p), "%s/agent/%s", dir, name);
  if (fs_write_atomic(p, text, strlen(text), 0600) < 0)
    TEST_FAIL("write %s", p);
}

static void make_cas(void) {
  if (ca)
    return;
  char err[256];
  tls_cert_spec_t s = {.cn = "k3c-ca", .usage = TLS_USAGE_CA, .days = 10};
  if (tls_key_generate(&ca_key, err, sizeof(err)) < 0 ||
      tls_cert_create(&s, ca_key, NULL, NULL, &ca, err, sizeof(err)) < 0 ||
      tls_key_generate(&other_key, err, sizeof(err)) < 0 ||
      tls_cert_create(&s, other_key, NULL, NULL, &other_ca, err, sizeof(err)) < 0)
    TEST_FAIL("CA: %s", err);
}

static void save_set(const char *signer, const char *signer_key, const char *cn) {
  static const char *const orgs[] = {"system:nodes", NULL};
  tls_cert_spec_t s = {.cn = cn, .orgs = orgs, .usage = TLS_USAGE_CLIENT, .days = 10};
  char *cert = NULL, *key = NULL, err[256];
  if (tls_cert_issue(&s, signer, signer_key, &cert, &key, err, sizeof(err)) < 0)
    TEST_FAIL("issue: %s", err);
  save("server-ca.crt", ca);
  save("client-kubelet.crt", cert);
  save("client-kubelet.key", key);
  free(cert);
  free(key);
}

static void test_load(void) {
  make_cas();
  snprintf(dir, sizeof(dir), "/tmp/k3c-test-join-%d", (int)getpid());
  char sub[300];
  snprintf(sub, sizeof(sub), "%s/agent", dir);
  ASSERT_EQ_INT(fs_mkdir_p(sub, 0700), 0);
  char hash[65], token[200];
  tls_token_ca_hash(ca, hash);
  snprintf(token, sizeof(token), "K10%s::server:abc", hash);
  agent_join_opts_t o = {.server = "https://127.0.0.1:6443", .token = token, .data_dir = dir,
                         .node_name = "n1"};
  agent_join_creds_t c = {0};
  char err[256] = "";

  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), -ENOENT);
  ASSERT_NULL(c.cert_pem);

  save_set(ca, ca_key, "system:node:n1");
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
  ASSERT_EQ_STR(c.ca_pem, ca);
  ASSERT_NOT_NULL(c.cert_pem);
  ASSERT_NOT_NULL(c.key_pem);
  agent_join_creds_done(&c);
  o.token = NULL; /* a restart without the token */
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
  agent_join_creds_done(&c);
  o.token = "abc"; /* a bare secret pins nothing */
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
  agent_join_creds_done(&c);

  o.token = token;
  o.node_name = "n2"; /* renamed node: join again */
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), -EKEYREJECTED);
  ASSERT_CONTAINS(err, "system:node:n1");
  o.node_name = "n1";

  char other_hash[65], other_token[200];
  tls_token_ca_hash(other_ca, other_hash);
  snprintf(other_token, sizeof(other_token), "K10%s::server:abc", other_hash);
  o.token = other_token; /* a token of another cluster */
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), -EKEYREJECTED);
  ASSERT_CONTAINS(err, "token");
  o.token = token;

  save_set(other_ca, other_key, "system:node:n1"); /* not signed by the saved CA */
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), -EKEYREJECTED);

  save_set(ca, ca_key, "system:node:n1");
  save("client-kubelet.key", other_key); /* not the certificate's key */
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), -EKEYREJECTED);
  ASSERT_NULL(c.cert_pem);

  /* The two-CA layout: the client certificate is signed by client-ca.crt,
   * not by the server CA the token pins. No serving pair: renewal is due. */
  save_set(other_ca, other_key, "system:node:n1");
  save("client-ca.crt", other_ca);
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
  ASSERT_EQ_STR(c.ca_pem, ca);
  ASSERT_EQ_STR(c.client_ca_pem, other_ca);
  ASSERT_NULL(c.serving_cert_pem);
  ASSERT_TRUE(c.renew_at <= time(NULL));
  ASSERT_TRUE(c.expires > time(NULL) + 9 * 86400);
  agent_join_creds_done(&c);
  /* With a serving pair by the server CA: renewal when tls_cert_renew_at says. */
  {
    tls_cert_spec_t ss = {.cn = "n1", .usage = TLS_USAGE_SERVER, .days = 10};
    char *sc = NULL, *sk = NULL;
    ASSERT_EQ_INT(tls_cert_issue(&ss, ca, ca_key, &sc, &sk, err, sizeof(err)), 0);
    save("serving-kubelet.crt", sc);
    save("serving-kubelet.key", sk);
    ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
    ASSERT_EQ_STR(c.serving_cert_pem, sc);
    tls_cert_info_t ci;
    ASSERT_EQ_INT(tls_cert_info(c.cert_pem, &ci, NULL, 0), 0);
    ASSERT_TRUE(c.renew_at > time(NULL));
    ASSERT_TRUE(c.renew_at <= tls_cert_renew_at(&ci));
    agent_join_creds_done(&c);
    free(sc);
    free(sk);
  }
  /* A renewal cut between the certificate and the key's rename: the
   * .next key fits the certificate and is taken (and renamed). */
  {
    static const char *const orgs[] = {"system:nodes", NULL};
    tls_cert_spec_t cs = {.cn = "system:node:n1", .orgs = orgs, .usage = TLS_USAGE_CLIENT,
                          .days = 10};
    char *nc = NULL, *nk = NULL;
    ASSERT_EQ_INT(tls_cert_issue(&cs, other_ca, other_key, &nc, &nk, err, sizeof(err)), 0);
    save("client-kubelet.key.next", nk);
    save("client-kubelet.crt", nc);
    ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
    ASSERT_EQ_STR(c.key_pem, nk);
    agent_join_creds_done(&c);
    char p2[400];
    snprintf(p2, sizeof(p2), "%s/agent/client-kubelet.key.next", dir);
    ASSERT_EQ_INT(access(p2, F_OK), -1);
    ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), 0);
    ASSERT_EQ_STR(c.key_pem, nk);
    agent_join_creds_done(&c);
    free(nc);
    free(nk);
  }
  /* Signed by the server CA while client-ca.crt names another: refused. */
  save_set(ca, ca_key, "system:node:n1");
  ASSERT_EQ_INT(agent_join_load(&o, &c, err, sizeof(err)), -EKEYREJECTED);
  ASSERT_CONTAINS(err, "client CA");

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ASSERT_EQ_INT(system(cmd), 0);
  free(ca);
  free(ca_key);
  free(other_ca);
  free(other_key);
  ca = ca_key = other_ca = other_key = NULL;
}

TEST_LIST = {
    TEST(test_split_url),
    TEST(test_split_pem),
    TEST(test_split_chain),
    TEST(test_basic_auth),
    TEST(test_load),
    {0},
};
TEST_MAIN()
