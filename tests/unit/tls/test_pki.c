/* PKI files: creation, reuse, re-issue on SAN change and near expiry
 * (pkg/tls/pki.c), and join tokens (pkg/tls/token.c). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "tls/pki.h"
#include "tls/token.h"
#include "util/fsutil.h"

static char tmpl[] = "/tmp/k3c-pki-test-XXXXXX";
static const char *dir;

static const char *datadir(void) {
  if (!dir)
    dir = mkdtemp(tmpl);
  return dir;
}

static char *slurp(const char *path) {
  char *d = NULL;
  size_t n;
  return fs_read_file(path, 1 << 20, &d, &n) == 0 ? d : NULL;
}

static void test_serving_san(void) {
  tls_san_t s;
  tls_san_init(&s);
  static const char *const extra[] = {"api.example.com", "192.0.2.9", NULL};
  static const char *const nodes[] = {"10.0.0.5", NULL};
  char err[128];
  ASSERT_EQ_INT(tls_pki_serving_san(&s, "Node-1", extra, nodes, "10.43.0.0/16,fd00:43::/112", err, sizeof(err)), 0);
  tls_san_t want;
  tls_san_init(&want);
  const char *names[] = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                         "kubernetes.default.svc.cluster.local", "node-1", "api.example.com",
                         "127.0.0.1", "::1", "10.43.0.1", "fd00:43::1", "10.0.0.5", "192.0.2.9", NULL};
  for (const char **n = names; *n; n++)
    tls_san_add(&want, *n);
  ASSERT_EQ_INT(s.n_dns, want.n_dns);
  ASSERT_EQ_INT(s.n_ips, want.n_ips);
  unsigned char *a, *b;
  size_t al, bl;
  tls_san_encode(&s, &a, &al);
  tls_san_encode(&want, &b, &bl);
  ASSERT_TRUE(al == bl && !memcmp(a, b, al));
  free(a);
  free(b);
  tls_san_done(&s);
  tls_san_done(&want);
  tls_san_init(&s);
  ASSERT_EQ_INT(tls_pki_serving_san(&s, NULL, NULL, NULL, "bogus", err, sizeof(err)), -EINVAL);
  tls_san_done(&s);
  tls_san_init(&s);
  static const char *const bad[] = {"not an ip", NULL};
  ASSERT_EQ_INT(tls_pki_serving_san(&s, NULL, NULL, bad, NULL, err, sizeof(err)), -EINVAL);
  tls_san_done(&s);
}

static void test_create_reuse_reissue(void) {
  char err[256] = "";
  tls_san_t san;
  tls_san_init(&san);
  tls_san_add(&san, "localhost");
  tls_pki_opts_t o = {.data_dir = datadir(), .serving_san = &san};
  tls_pki_t p;
  unsigned ch = 0;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_CA_CREATED | TLS_PKI_SERVING_ISSUED | TLS_PKI_ADMIN_ISSUED |
                        TLS_PKI_SA_KEY_CREATED);
  struct stat st;
  ASSERT_EQ_INT(stat(p.sa_key_path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  char *sa1 = strdup(p.sa_key_pem);
  ASSERT_EQ_INT(stat(p.ca_key_path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  ASSERT_EQ_INT(stat(p.serving_key_path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  char *ca1 = strdup(p.ca_cert_pem), *serving1 = strdup(p.serving_cert_pem);
  tls_cert_info_t info;
  ASSERT_EQ_INT(tls_cert_info(p.ca_cert_pem, &info, NULL, 0), 0);
  ASSERT_TRUE(!strncmp(info.cn, "k3c-server-ca@", 14));
  ASSERT_EQ_INT(tls_cert_verify(p.admin_cert_pem, p.ca_cert_pem, 0), 0);
  tls_pki_done(&p);

  /* Second start: nothing changes. */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, 0);
  ASSERT_EQ_STR(p.serving_cert_pem, serving1);
  ASSERT_EQ_STR(p.sa_key_pem, sa1); /* tokens signed before a restart stay valid */
  tls_pki_done(&p);

  /* New SAN: only the serving certificate is re-issued. */
  tls_san_add(&san, "api.example.com");
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_SERVING_ISSUED);
  ASSERT_EQ_STR(p.ca_cert_pem, ca1);
  ASSERT_EQ_INT(tls_cert_san_matches(p.serving_cert_pem, &san), 1);
  tls_pki_done(&p);

  /* 300 days later both leaves are within 90 days of expiry. */
  o.now = time(NULL) + 300L * 86400;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_SERVING_ISSUED | TLS_PKI_ADMIN_ISSUED);
  ASSERT_EQ_STR(p.ca_cert_pem, ca1);
  ASSERT_EQ_INT(tls_cert_info(p.serving_cert_pem, &info, NULL, 0), 0);
  ASSERT_GE_INT(info.not_after, o.now + 364L * 86400);
  tls_pki_done(&p);

  /* A serving key that does not match its certificate is replaced. */
  o.now = 0;
  char path[512];
  snprintf(path, sizeof(path), "%s/server/tls/client-admin.key", datadir());
  char *admin_key = slurp(path);
  snprintf(path, sizeof(path), "%s/server/tls/serving-kube-apiserver.key", datadir());
  ASSERT_EQ_INT(fs_write_atomic(path, admin_key, strlen(admin_key), 0600), 0);
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch & TLS_PKI_SERVING_ISSUED, TLS_PKI_SERVING_ISSUED);
  ASSERT_EQ_INT(tls_cert_key_matches(p.serving_cert_pem, p.serving_key_pem), 0);
  tls_pki_done(&p);

  /* A missing CA key is an error, never a silent new CA. */
  snprintf(path, sizeof(path), "%s/server/tls/server-ca.key", datadir());
  char *ca_key = slurp(path);
  unlink(path);
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), -ENOENT);
  ASSERT_CONTAINS(err, "server-ca.key");
  ASSERT_EQ_INT(fs_write_atomic(path, ca_key, strlen(ca_key), 0600), 0);

  /* A broken service-account key stops the start; it is not replaced. */
  snprintf(path, sizeof(path), "%s/server/tls/service.key", datadir());
  ASSERT_EQ_INT(fs_write_atomic(path, "garbage", 7, 0600), 0);
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "service.key");
  ASSERT_EQ_INT(fs_write_atomic(path, sa1, strlen(sa1), 0600), 0);

  /* Issue a node certificate through the PKI. */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  static const char *const node_orgs[] = {"system:nodes", NULL};
  tls_cert_spec_t spec = {.cn = "system:node:n1", .orgs = node_orgs, .usage = TLS_USAGE_CLIENT};
  char *cert = NULL, *key = NULL;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_verify(cert, p.ca_cert_pem, 0), 0);
  spec.usage = TLS_USAGE_CA;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), -EINVAL);
  tls_pki_done(&p);
  free(cert); free(key); free(ca_key); free(admin_key);
  free(ca1); free(serving1); free(sa1);
  tls_san_done(&san);
}

static void test_token(void) {
  char err[256] = "", *tok = NULL, *tok2 = NULL, *hash = NULL, *user = NULL, *secret = NULL;
  const char *ca = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
  ASSERT_EQ_INT(tls_token_ensure(datadir(), ca, NULL, &tok, err, sizeof(err)), 0);
  char h[65];
  tls_token_ca_hash(ca, h);
  ASSERT_EQ_INT(tls_token_parse(tok, &hash, &user, &secret), 0);
  ASSERT_EQ_STR(hash, h);
  ASSERT_EQ_STR(user, "server");
  ASSERT_EQ_INT(strlen(secret), 32);
  ASSERT_EQ_INT(tls_token_ensure(datadir(), ca, NULL, &tok2, err, sizeof(err)), 0);
  ASSERT_EQ_STR(tok2, tok); /* the secret is kept */
  free(tok2);
  ASSERT_EQ_INT(tls_token_ensure(datadir(), ca, "K10aa::server:mysecret", &tok2, err, sizeof(err)), 0);
  ASSERT_CONTAINS(tok2, "::server:mysecret");
  char path[512];
  snprintf(path, sizeof(path), "%s/server/node-token", datadir());
  struct stat st;
  ASSERT_EQ_INT(stat(path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  free(hash); free(user); free(secret);
  ASSERT_EQ_INT(tls_token_parse("bare", &hash, &user, &secret), 0);
  ASSERT_NULL(hash);
  ASSERT_EQ_STR(secret, "bare");
  free(secret);
  ASSERT_EQ_INT(tls_token_parse("K10ab12::abcdef.0123456789abcdef", &hash, &user, &secret), 0);
  ASSERT_EQ_STR(hash, "ab12");
  ASSERT_NULL(user);
  ASSERT_EQ_STR(secret, "abcdef.0123456789abcdef"); /* a bootstrap token */
  free(hash);
  free(secret);
  ASSERT_EQ_INT(tls_token_parse("K10::abcdef.0123456789abcdef", NULL, NULL, NULL), -EINVAL);
  ASSERT_EQ_INT(tls_token_parse("K10abc", NULL, NULL, NULL), -EINVAL);
  ASSERT_EQ_INT(tls_token_parse("", NULL, NULL, NULL), -EINVAL);
  free(tok);
  free(tok2);
}

static void test_cleanup(void) {
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", datadir());
  ASSERT_EQ_INT(system(cmd), 0);
}

TEST_LIST = {TEST(test_serving_san), TEST(test_create_reuse_reissue), TEST(test_token), TEST(test_cleanup), {0}};
TEST_MAIN()
