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

/* The CN of a certificate and whether it verifies against a CA. */
static int verifies(const char *cert, const char *ca) { return tls_cert_verify(cert, ca, 0); }

static unsigned usage_of(const char *cert) {
  tls_cert_info_t info;
  return tls_cert_info(cert, &info, NULL, 0) == 0 ? info.usage : 0xffff;
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
  ASSERT_EQ_INT(ch, TLS_PKI_CA_CREATED | TLS_PKI_CLIENT_CA_CREATED |
                        TLS_PKI_REQUEST_HEADER_CA_CREATED | TLS_PKI_SERVING_ISSUED |
                        TLS_PKI_ADMIN_ISSUED | TLS_PKI_KUBELET_CLIENT_ISSUED |
                        TLS_PKI_AUTH_PROXY_ISSUED | TLS_PKI_SA_KEY_CREATED);
  struct stat st;
  ASSERT_EQ_INT(stat(p.sa_key_path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  char *sa1 = strdup(p.sa_key_pem);
  const tls_pki_pair_t *cas[] = {&p.server_ca, &p.client_ca, &p.request_header_ca};
  for (size_t i = 0; i < 3; i++) {
    ASSERT_EQ_INT(stat(cas[i]->key_path, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ASSERT_EQ_INT(usage_of(cas[i]->cert_pem), TLS_USAGE_CA);
  }
  ASSERT_CONTAINS(p.server_ca.cert_path, "/server/tls/server-ca.crt");
  ASSERT_CONTAINS(p.client_ca.cert_path, "/server/tls/client-ca.crt");
  ASSERT_CONTAINS(p.request_header_ca.key_path, "/server/tls/request-header-ca.key");
  ASSERT_EQ_INT(stat(p.serving.key_path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  char *ca1 = strdup(p.server_ca.cert_pem), *serving1 = strdup(p.serving.cert_pem);
  tls_cert_info_t info;
  ASSERT_EQ_INT(tls_cert_info(p.server_ca.cert_pem, &info, NULL, 0), 0);
  ASSERT_TRUE(!strncmp(info.cn, "k3c-server-ca@", 14));
  ASSERT_EQ_INT(tls_cert_info(p.client_ca.cert_pem, &info, NULL, 0), 0);
  ASSERT_TRUE(!strncmp(info.cn, "k3c-client-ca@", 14));
  ASSERT_TRUE(strcmp(p.server_ca.cert_pem, p.client_ca.cert_pem) != 0);
  /* Each leaf: signed by its own CA only, with its usage. */
  ASSERT_EQ_INT(verifies(p.serving.cert_pem, p.server_ca.cert_pem), 0);
  ASSERT_EQ_INT(verifies(p.serving.cert_pem, p.client_ca.cert_pem), -EKEYREJECTED);
  ASSERT_EQ_INT(usage_of(p.serving.cert_pem), TLS_USAGE_SERVER);
  ASSERT_EQ_INT(verifies(p.admin.cert_pem, p.client_ca.cert_pem), 0);
  ASSERT_EQ_INT(verifies(p.admin.cert_pem, p.server_ca.cert_pem), -EKEYREJECTED);
  ASSERT_EQ_INT(usage_of(p.admin.cert_pem), TLS_USAGE_CLIENT);
  ASSERT_EQ_INT(verifies(p.kubelet_client.cert_pem, p.client_ca.cert_pem), 0);
  ASSERT_EQ_INT(tls_cert_info(p.kubelet_client.cert_pem, &info, NULL, 0), 0);
  ASSERT_EQ_STR(info.cn, "system:kube-apiserver");
  ASSERT_EQ_INT(verifies(p.auth_proxy.cert_pem, p.request_header_ca.cert_pem), 0);
  ASSERT_EQ_INT(verifies(p.auth_proxy.cert_pem, p.client_ca.cert_pem), -EKEYREJECTED);
  ASSERT_EQ_INT(usage_of(p.auth_proxy.cert_pem), TLS_USAGE_CLIENT);
  tls_pki_done(&p);

  /* Second start: nothing changes. */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, 0);
  ASSERT_EQ_STR(p.serving.cert_pem, serving1);
  ASSERT_EQ_STR(p.sa_key_pem, sa1); /* tokens signed before a restart stay valid */
  tls_pki_done(&p);

  /* New SAN: only the serving certificate is re-issued. */
  tls_san_add(&san, "api.example.com");
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_SERVING_ISSUED);
  ASSERT_EQ_STR(p.server_ca.cert_pem, ca1);
  ASSERT_EQ_INT(tls_cert_san_matches(p.serving.cert_pem, &san), 1);
  tls_pki_done(&p);

  /* 300 days later every leaf is within 90 days of expiry; the CAs stay. */
  o.now = time(NULL) + 300L * 86400;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_SERVING_ISSUED | TLS_PKI_ADMIN_ISSUED | TLS_PKI_KUBELET_CLIENT_ISSUED |
                        TLS_PKI_AUTH_PROXY_ISSUED);
  ASSERT_EQ_STR(p.server_ca.cert_pem, ca1);
  ASSERT_EQ_INT(tls_cert_info(p.serving.cert_pem, &info, NULL, 0), 0);
  ASSERT_GE_INT(info.not_after, o.now + 364L * 86400);
  tls_pki_done(&p);
  /* ... and 200 days after that start (the new leaves have 165 days left)
   * nothing is renewed: 90 days is the rule, not "once a start". */
  o.now = time(NULL) + 500L * 86400;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, 0);
  tls_pki_done(&p);

  /* A serving key that does not match its certificate is replaced. */
  o.now = 0;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0); /* back to now: re-issued */
  tls_pki_done(&p);
  char path[512];
  snprintf(path, sizeof(path), "%s/server/tls/client-admin.key", datadir());
  char *admin_key = slurp(path);
  snprintf(path, sizeof(path), "%s/server/tls/serving-kube-apiserver.key", datadir());
  ASSERT_EQ_INT(fs_write_atomic(path, admin_key, strlen(admin_key), 0600), 0);
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch & TLS_PKI_SERVING_ISSUED, TLS_PKI_SERVING_ISSUED);
  ASSERT_EQ_INT(tls_cert_key_matches(p.serving.cert_pem, p.serving.key_pem), 0);
  tls_pki_done(&p);

  /* An admin certificate without clientAuth (serverAuth only) is re-issued. */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  tls_cert_spec_t wrong = {.cn = "system:admin", .usage = TLS_USAGE_SERVER, .days = 365};
  char *wc = NULL, *wk = NULL;
  ASSERT_EQ_INT(tls_cert_issue(&wrong, p.client_ca.cert_pem, p.client_ca.key_pem, &wc, &wk, err,
                               sizeof(err)), 0);
  ASSERT_EQ_INT(fs_write_atomic(p.admin.key_path, wk, strlen(wk), 0600), 0);
  ASSERT_EQ_INT(fs_write_atomic(p.admin.cert_path, wc, strlen(wc), 0644), 0);
  tls_pki_done(&p);
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_ADMIN_ISSUED);
  ASSERT_EQ_INT(usage_of(p.admin.cert_pem), TLS_USAGE_CLIENT);
  free(wc);
  free(wk);
  tls_pki_done(&p);

  /* A missing CA key is an error, never a silent new CA. */
  const char *ca_names[] = {"server-ca", "client-ca", "request-header-ca"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof(path), "%s/server/tls/%s.key", datadir(), ca_names[i]);
    char *ca_key = slurp(path);
    unlink(path);
    ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), -ENOENT);
    ASSERT_CONTAINS(err, ca_names[i]);
    ASSERT_EQ_INT(fs_write_atomic(path, ca_key, strlen(ca_key), 0600), 0);
    free(ca_key);
  }

  /* A broken service-account key stops the start; it is not replaced. */
  snprintf(path, sizeof(path), "%s/server/tls/service.key", datadir());
  ASSERT_EQ_INT(fs_write_atomic(path, "garbage", 7, 0600), 0);
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "service.key");
  ASSERT_EQ_INT(fs_write_atomic(path, sa1, strlen(sa1), 0600), 0);

  /* Node certificates through the PKI: client ones by the client CA,
   * serving ones by the server CA, nothing else. */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  static const char *const node_orgs[] = {"system:nodes", NULL};
  tls_cert_spec_t spec = {.cn = "system:node:n1", .orgs = node_orgs, .usage = TLS_USAGE_CLIENT};
  char *cert = NULL, *key = NULL;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(verifies(cert, p.client_ca.cert_pem), 0);
  ASSERT_EQ_INT(verifies(cert, p.server_ca.cert_pem), -EKEYREJECTED);
  ASSERT_EQ_INT(usage_of(cert), TLS_USAGE_CLIENT);
  free(cert);
  free(key);
  spec.cn = "n1";
  spec.orgs = NULL;
  spec.usage = TLS_USAGE_SERVER;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(verifies(cert, p.server_ca.cert_pem), 0);
  ASSERT_EQ_INT(verifies(cert, p.client_ca.cert_pem), -EKEYREJECTED);
  ASSERT_EQ_INT(usage_of(cert), TLS_USAGE_SERVER);
  free(cert);
  free(key);
  cert = key = NULL;
  spec.usage = TLS_USAGE_CA;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), -EINVAL);
  spec.usage = TLS_USAGE_CLIENT | TLS_USAGE_SERVER;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), -EINVAL);
  tls_pki_done(&p);
  free(admin_key);
  free(ca1); free(serving1); free(sa1);
  tls_san_done(&san);
}

/* A data dir as an older k3c wrote it: server-ca.* signed everything, and
 * there is no client-ca.* or request-header-ca.*. */
static void test_migrate_single_ca(void) {
  char tmp[] = "/tmp/k3c-pki-old-XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(tmp));
  char tls[600], path[700], err[256] = "";
  snprintf(tls, sizeof(tls), "%s/server/tls", tmp);
  ASSERT_EQ_INT(fs_mkdir_p(tls, 0700), 0);
  tls_cert_spec_t cas = {.cn = "k3c-server-ca@1", .usage = TLS_USAGE_CA, .days = 3650};
  char *ca_key = NULL, *ca = NULL;
  ASSERT_EQ_INT(tls_key_generate(&ca_key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_create(&cas, ca_key, NULL, NULL, &ca, err, sizeof(err)), 0);
  static const char *const masters[] = {"system:masters", NULL};
  tls_cert_spec_t admin = {.cn = "system:admin", .orgs = masters, .usage = TLS_USAGE_CLIENT,
                           .days = 365};
  tls_cert_spec_t node = {.cn = "system:node:old", .usage = TLS_USAGE_CLIENT, .days = 365};
  char *ac = NULL, *ak = NULL, *nc = NULL, *nk = NULL;
  ASSERT_EQ_INT(tls_cert_issue(&admin, ca, ca_key, &ac, &ak, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_issue(&node, ca, ca_key, &nc, &nk, err, sizeof(err)), 0);
  struct { const char *name, *text; } files[] = {
      {"server-ca.crt", ca}, {"server-ca.key", ca_key}, {"client-admin.crt", ac},
      {"client-admin.key", ak}};
  for (size_t i = 0; i < 4; i++) {
    snprintf(path, sizeof(path), "%s/%s", tls, files[i].name);
    ASSERT_EQ_INT(fs_write_atomic(path, files[i].text, strlen(files[i].text), 0600), 0);
  }
  tls_san_t san;
  tls_san_init(&san);
  tls_san_add(&san, "localhost");
  tls_pki_opts_t o = {.data_dir = tmp, .serving_san = &san};
  tls_pki_t p;
  unsigned ch = 0;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch & (TLS_PKI_CA_CREATED | TLS_PKI_CLIENT_CA_CREATED | TLS_PKI_ADMIN_ISSUED), 0);
  ASSERT_EQ_INT(ch & TLS_PKI_CLIENT_CA_MIGRATED, TLS_PKI_CLIENT_CA_MIGRATED);
  ASSERT_EQ_INT(ch & TLS_PKI_REQUEST_HEADER_CA_CREATED, TLS_PKI_REQUEST_HEADER_CA_CREATED);
  ASSERT_EQ_STR(p.server_ca.cert_pem, ca); /* the token's hash stays */
  ASSERT_EQ_STR(p.client_ca.cert_pem, ca);
  ASSERT_EQ_STR(p.admin.cert_pem, ac);     /* the admin kubeconfig stays */
  ASSERT_EQ_INT(verifies(nc, p.client_ca.cert_pem), 0); /* joined nodes keep working */
  snprintf(path, sizeof(path), "%s/client-ca.key", tls);
  char *ck = slurp(path);
  ASSERT_EQ_STR(ck, ca_key);
  free(ck);
  tls_pki_done(&p);
  /* The next start finds the new layout: nothing more happens. */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, 0);
  tls_pki_done(&p);
  free(ca); free(ca_key); free(ac); free(ak); free(nc); free(nk);
  tls_san_done(&san);
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
  ASSERT_EQ_INT(system(cmd), 0);
}

/* K3C_CERT_LEAF_SECONDS's path: short leaves, renewed at a third of their
 * life before expiry. */
static void test_short_lived(void) {
  char tmp[] = "/tmp/k3c-pki-short-XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(tmp));
  char err[256] = "";
  tls_san_t san;
  tls_san_init(&san);
  tls_san_add(&san, "localhost");
  time_t t0 = time(NULL);
  tls_pki_opts_t o = {.data_dir = tmp, .serving_san = &san, .leaf_seconds = 120, .now = t0};
  tls_pki_t p;
  unsigned ch = 0;
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  tls_cert_info_t info;
  ASSERT_EQ_INT(tls_cert_info(p.admin.cert_pem, &info, NULL, 0), 0);
  ASSERT_EQ_INT(info.not_after, t0 + 120);
  ASSERT_EQ_INT(info.not_before, t0 - 30);
  ASSERT_EQ_INT(tls_cert_renew_at(&info), t0 + 70); /* 150 s of life, a third before */
  ASSERT_EQ_INT(tls_cert_info(p.server_ca.cert_pem, &info, NULL, 0), 0);
  ASSERT_GE_INT(info.not_after, t0 + 3649L * 86400); /* CAs are not short */
  static const char *const node_orgs[] = {"system:nodes", NULL};
  tls_cert_spec_t spec = {.cn = "system:node:n1", .orgs = node_orgs, .usage = TLS_USAGE_CLIENT};
  char *cert = NULL, *key = NULL;
  ASSERT_EQ_INT(tls_pki_issue(&p, &spec, &cert, &key, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_cert_info(cert, &info, NULL, 0), 0);
  ASSERT_TRUE(info.not_after - time(NULL) <= 121);
  free(cert);
  free(key);
  tls_pki_done(&p);
  o.now = t0 + 60; /* before the renewal time: kept */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, 0);
  tls_pki_done(&p);
  o.now = t0 + 71; /* after: every leaf */
  ASSERT_EQ_INT(tls_pki_load(&p, &o, &ch, err, sizeof(err)), 0);
  ASSERT_EQ_INT(ch, TLS_PKI_SERVING_ISSUED | TLS_PKI_ADMIN_ISSUED | TLS_PKI_KUBELET_CLIENT_ISSUED |
                        TLS_PKI_AUTH_PROXY_ISSUED);
  tls_pki_done(&p);
  /* A one-year leaf renews 90 days before its end. */
  tls_cert_info_t year = {.not_before = 1000, .not_after = 1000 + 365L * 86400};
  ASSERT_EQ_INT(tls_cert_renew_at(&year), 1000 + 275L * 86400);
  tls_san_done(&san);
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
  ASSERT_EQ_INT(system(cmd), 0);
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

TEST_LIST = {TEST(test_serving_san), TEST(test_create_reuse_reissue),
             TEST(test_migrate_single_ca), TEST(test_short_lived), TEST(test_token), TEST(test_cleanup), {0}};
TEST_MAIN()
