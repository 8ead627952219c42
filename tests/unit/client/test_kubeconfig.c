/* pkg/client/kubeconfig.c: the current context's server, CA and
 * credentials from kubeconfig files written to a temp dir, inline
 * (*-data) and as file paths, and the messages for what is missing. */
#include "client/kubeconfig.h"
#include "test.h"
#include "util/fsutil.h"

#include <errno.h>
#include <mbedtls/base64.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CA "-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n"
#define CERT "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n"
#define KEY "-----BEGIN EC PRIVATE KEY-----\na2V5\n-----END EC PRIVATE KEY-----\n"

static char dir[256];
static int n_files;
static char files[16][300];

static void mk_dir(void) {
  const char *t = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/test_kubeconfig.XXXXXX", t && t[0] ? t : "/tmp");
  if (!mkdtemp(dir))
    TEST_FAIL("mkdtemp %s: %s", dir, strerror(errno));
  n_files = 0;
}

/* dir/name with text; returns its path (static storage). */
static const char *put(const char *name, const char *text) {
  if (n_files == 16)
    TEST_FAIL("too many files");
  char *p = files[n_files++];
  snprintf(p, sizeof(files[0]), "%s/%s", dir, name);
  int r = fs_write_atomic(p, text, strlen(text), 0600);
  if (r < 0)
    TEST_FAIL("writing %s: %s", p, strerror(-r));
  return p;
}

static void rm_dir(void) {
  for (int i = 0; i < n_files; i++)
    unlink(files[i]);
  rmdir(dir);
}

static const char *b64(const char *s) {
  static char out[4][512];
  static int i;
  char *o = out[i++ % 4];
  size_t n = 0;
  if (mbedtls_base64_encode((unsigned char *)o, sizeof(out[0]), &n, (const unsigned char *)s,
                            strlen(s)) != 0)
    TEST_FAIL("base64 of %s", s);
  return o;
}

/* Load the kubeconfig text (written as config.yaml): returns the result,
 * with k filled and the message in err. */
static int load(const char *yaml, client_kubeconfig_t *k, char *err, size_t errlen) {
  const char *path = put("config.yaml", yaml);
  memset(k, 0, sizeof(*k));
  err[0] = 0;
  return client_kubeconfig_load(path, k, err, errlen);
}

static void test_inline_data(void) {
  mk_dir();
  char yaml[4096], err[512];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: v1\nkind: Config\n"
           "clusters:\n- name: k3c\n  cluster:\n    server: https://10.0.0.1:6443\n"
           "    certificate-authority-data: %s\n"
           "users:\n- name: admin\n  user:\n    client-certificate-data: %s\n"
           "    client-key-data: %s\n"
           "contexts:\n- name: default\n  context:\n    cluster: k3c\n    user: admin\n"
           "current-context: default\n",
           b64(CA), b64(CERT), b64(KEY));
  client_kubeconfig_t k;
  int r = load(yaml, &k, err, sizeof(err));
  if (r != 0)
    TEST_FAIL("load: %d %s", r, err);
  ASSERT_EQ_STR(k.server, "https://10.0.0.1:6443");
  ASSERT_EQ_STR(k.ca, CA);
  ASSERT_EQ_STR(k.cert, CERT);
  ASSERT_EQ_STR(k.key, KEY);
  ASSERT_NULL(k.token);
  client_kubeconfig_done(&k);
  rm_dir();
}

/* File paths: absolute as they are, relative to the kubeconfig's
 * directory (not the working directory), as kubectl reads them. */
static void test_file_paths(void) {
  mk_dir();
  char yaml[4096], err[512];
  const char *ca = put("ca.crt", CA);
  put("client.crt", CERT);
  put("client.key", KEY);
  snprintf(yaml, sizeof(yaml),
           "clusters:\n- name: k3c\n  cluster:\n    server: https://h:6443\n"
           "    certificate-authority: %s\n"
           "users:\n- name: admin\n  user:\n    client-certificate: client.crt\n"
           "    client-key: ./client.key\n"
           "contexts:\n- name: default\n  context: {cluster: k3c, user: admin}\n"
           "current-context: default\n",
           ca);
  char cwd[4096];
  ASSERT_NOT_NULL(getcwd(cwd, sizeof(cwd)));
  ASSERT_EQ_INT(chdir("/"), 0);
  client_kubeconfig_t k;
  int r = load(yaml, &k, err, sizeof(err));
  ASSERT_EQ_INT(chdir(cwd), 0);
  if (r != 0)
    TEST_FAIL("load: %d %s", r, err);
  ASSERT_EQ_STR(k.ca, CA);
  ASSERT_EQ_STR(k.cert, CERT);
  ASSERT_EQ_STR(k.key, KEY);
  client_kubeconfig_done(&k);

  /* a file that is not there: named, with the kubeconfig */
  snprintf(yaml, sizeof(yaml),
           "clusters:\n- name: k3c\n  cluster:\n    server: https://h:6443\n"
           "    certificate-authority: missing-ca.crt\n"
           "users:\n- name: admin\n  user: {token: abc}\n");
  r = load(yaml, &k, err, sizeof(err));
  ASSERT_EQ_INT(r, -ENOENT);
  ASSERT_CONTAINS(err, files[n_files - 1]); /* the kubeconfig */
  char want[400];
  snprintf(want, sizeof(want), "certificate-authority %s/missing-ca.crt: ", dir);
  ASSERT_CONTAINS(err, want);
  client_kubeconfig_done(&k);
  rm_dir();
}

#define TWO_CONTEXTS                                                                               \
  "clusters:\n"                                                                                    \
  "- name: ca\n  cluster: {server: 'https://a:6443', certificate-authority-data: %s}\n"            \
  "- name: cb\n  cluster: {server: 'https://b:6443', certificate-authority-data: %s}\n"            \
  "users:\n- name: ua\n  user: {token: token-a}\n- name: ub\n  user: {token: token-b}\n"           \
  "contexts:\n- name: a\n  context: {cluster: ca, user: ua}\n"                                     \
  "- name: b\n  context: {cluster: cb, user: ub}\n"

static void test_current_context(void) {
  mk_dir();
  char yaml[4096], err[512];
  client_kubeconfig_t k;
  snprintf(yaml, sizeof(yaml), TWO_CONTEXTS "current-context: b\n", b64(CA), b64(CA));
  ASSERT_EQ_INT(load(yaml, &k, err, sizeof(err)), 0);
  ASSERT_EQ_STR(k.server, "https://b:6443");
  ASSERT_EQ_STR(k.token, "token-b");
  client_kubeconfig_done(&k);

  /* no current-context: the first context */
  snprintf(yaml, sizeof(yaml), TWO_CONTEXTS, b64(CA), b64(CA));
  ASSERT_EQ_INT(load(yaml, &k, err, sizeof(err)), 0);
  ASSERT_EQ_STR(k.server, "https://a:6443");
  ASSERT_EQ_STR(k.token, "token-a");
  client_kubeconfig_done(&k);

  /* a current-context that names no context is an error, not the first
   * cluster with the first user */
  snprintf(yaml, sizeof(yaml), TWO_CONTEXTS "current-context: c\n", b64(CA), b64(CA));
  ASSERT_EQ_INT(load(yaml, &k, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "no context named c");
  ASSERT_CONTAINS(err, "config.yaml");
  ASSERT_NULL(k.server);
  client_kubeconfig_done(&k);
  rm_dir();
}

static void test_missing(void) {
  static const struct {
    const char *yaml;
    const char *msg;
  } cases[] = {
      {"clusters:\n- name: c\n  cluster: {certificate-authority-data: %s}\n"
       "users:\n- name: u\n  user: {token: t}\n",
       "no cluster with a server"},
      {"clusters: []\nusers:\n- name: u\n  user: {token: t}\n# %s\n", "no cluster with a server"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: %s}\n"
       "users:\n- name: u\n  user: {token: t}\n"
       "contexts:\n- name: x\n  context: {cluster: other, user: u}\n",
       "no cluster with a server"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
       "users:\n- name: u\n  user: {token: t}\n# %s\n",
       "the cluster has no certificate-authority(-data)"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: %s}\n",
       "the user has neither a client certificate and key nor a token"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: %s}\n"
       "users:\n- name: u\n  user: {client-certificate-data: Y2VydA==}\n",
       "the user has neither a client certificate and key nor a token"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: %s}\n"
       "users:\n- name: u\n  user: {token: t}\n"
       "contexts:\n- name: x\n  context: {cluster: c, user: nobody}\n",
       "the user has neither"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: "
       "'!!!%s'}\nusers:\n- name: u\n  user: {token: t}\n",
       "certificate-authority-data is not base64"},
  };
  mk_dir();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char yaml[2048], err[512];
    snprintf(yaml, sizeof(yaml), cases[i].yaml, b64(CA));
    client_kubeconfig_t k;
    int r = load(yaml, &k, err, sizeof(err));
    client_kubeconfig_done(&k);
    if (r != -EINVAL || !strstr(err, cases[i].msg))
      TEST_FAIL("case %zu: got %d \"%s\", want -EINVAL \"%s\"", i, r, err, cases[i].msg);
    /* every message names the file */
    if (strncmp(err, files[n_files - 1], strlen(files[n_files - 1])))
      TEST_FAIL("case %zu: \"%s\" does not start with the path", i, err);
  }
  rm_dir();
}

static void test_token_user(void) {
  mk_dir();
  char yaml[2048], err[512];
  snprintf(yaml, sizeof(yaml),
           "clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n"
           "    certificate-authority-data: %s\n"
           "users:\n- name: node\n  user:\n    token: K10abc::server:secret\n"
           "contexts:\n- name: x\n  context: {cluster: c, user: node}\ncurrent-context: x\n",
           b64(CA));
  client_kubeconfig_t k;
  ASSERT_EQ_INT(load(yaml, &k, err, sizeof(err)), 0);
  ASSERT_EQ_STR(k.token, "K10abc::server:secret");
  ASSERT_NULL(k.cert);
  ASSERT_NULL(k.key);
  ASSERT_EQ_STR(k.ca, CA);
  client_kubeconfig_done(&k);
  rm_dir();
}

static void test_unreadable(void) {
  client_kubeconfig_t k;
  char err[512];
  memset(&k, 0, sizeof(k));
  ASSERT_EQ_INT(client_kubeconfig_load("/nonexistent/k3c/kubeconfig", &k, err, sizeof(err)),
                -ENOENT);
  ASSERT_CONTAINS(err, "/nonexistent/k3c/kubeconfig: ");
  client_kubeconfig_done(&k);

  mk_dir();
  ASSERT_TRUE(load("clusters: [\n  - {", &k, err, sizeof(err)) < 0);
  ASSERT_CONTAINS(err, "config.yaml: ");
  client_kubeconfig_done(&k);
  rm_dir();
}

TEST_LIST = {
    TEST(test_inline_data),
    TEST(test_file_paths),
    TEST(test_current_context),
    TEST(test_missing),
    TEST(test_token_user),
    TEST(test_unreadable),
    {0},
};
TEST_MAIN()
