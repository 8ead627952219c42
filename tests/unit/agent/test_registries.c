/* Unit tests for pkg/agent/registries.c (k3s's registries.yaml to
 * containerd 1.6's CRI registry tables) and pkg/util/toml.c's escaping.
 * tests/e2e/test_registries.sh has containerd itself read the output. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/registries.h"
#include "test.h"
#include "util/buf.h"
#include "util/toml.h"

static char err[512];

/* Parse text and render it; returns the TOML (caller frees) or NULL. */
static char *render(const char *text) {
  cJSON *reg = NULL;
  if (agent_registries_parse(text, strlen(text), "r.yaml", &reg, err, sizeof err) < 0)
    return NULL;
  buf_t b;
  buf_init(&b, 1 << 20);
  int r = agent_registries_toml(reg, &b);
  cJSON_Delete(reg);
  if (r < 0) {
    buf_done(&b);
    return NULL;
  }
  return buf_steal(&b, NULL);
}

/* The error text of a file that must fail with -EINVAL. */
static const char *parse_err(const char *text) {
  cJSON *reg = NULL;
  err[0] = 0;
  int r = agent_registries_parse(text, strlen(text), "r.yaml", &reg, err, sizeof err);
  if (r != -EINVAL) {
    cJSON_Delete(reg);
    snprintf(err, sizeof err, "(parse returned %d, not -EINVAL)", r);
  }
  return err;
}

static void test_full_file(void) {
  const char *yaml = "mirrors:\n"
                     "  docker.io:\n"
                     "    endpoint:\n"
                     "      - \"https://mirror.example:5000\"\n"
                     "      - http://10.0.0.5:5000\n"
                     "    rewrite:\n"
                     "      \"^rancher/(.*)\": \"mirrorproject/rancher-images/$1\"\n"
                     "  \"*\":\n"
                     "    endpoint: [\"https://all.example\"]\n"
                     "configs:\n"
                     "  \"mirror.example:5000\":\n"
                     "    auth:\n"
                     "      username: xxxxxx\n"
                     "      password: \"0123\"\n"
                     "    tls:\n"
                     "      cert_file: /etc/ssl/c.pem\n"
                     "      key_file: /etc/ssl/k.pem\n"
                     "      ca_file: /etc/ssl/ca.pem\n"
                     "      insecure_skip_verify: true\n"
                     "  registry.example:\n"
                     "    auth:\n"
                     "      identitytoken: tok\n"
                     "      auth: dXNlcjpwYXNz\n";
  cJSON *reg = NULL;
  ASSERT_EQ_INT(agent_registries_parse(yaml, strlen(yaml), "r.yaml", &reg, err, sizeof err), 0);
  ASSERT_EQ_INT(agent_registries_rewrites(reg), 1);
  cJSON_Delete(reg);
  char *t = render(yaml);
  ASSERT_NOT_NULL(t);
  ASSERT_CONTAINS(t, "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n"
                     "  endpoint = [\"https://mirror.example:5000\", \"http://10.0.0.5:5000\"]\n");
  ASSERT_CONTAINS(t, "[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"*\"]\n"
                     "  endpoint = [\"https://all.example\"]\n");
  ASSERT_CONTAINS(t, "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs."
                     "\"mirror.example:5000\".auth]\n"
                     "  username = \"xxxxxx\"\n  password = \"0123\"\n");
  ASSERT_CONTAINS(t, "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs."
                     "\"mirror.example:5000\".tls]\n"
                     "  cert_file = \"/etc/ssl/c.pem\"\n  key_file = \"/etc/ssl/k.pem\"\n"
                     "  ca_file = \"/etc/ssl/ca.pem\"\n  insecure_skip_verify = true\n");
  ASSERT_CONTAINS(t, "registry.configs.\"registry.example\".auth]\n"
                     "  auth = \"dXNlcjpwYXNz\"\n  identitytoken = \"tok\"\n");
  ASSERT_TRUE(!strstr(t, "registry.configs.\"registry.example\".tls]"));
  ASSERT_TRUE(!strstr(t, "rewrite") && !strstr(t, "mirrorproject")); /* not in containerd 1.6 */
  free(t);
}

static void test_empty_and_nulls(void) {
  /* an empty file, a comment-only file, empty sections: no tables */
  const char *empties[] = {"", "# nothing yet\n", "mirrors:\nconfigs:\n", "mirrors: {}\n", "~\n"};
  for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
    char *t = render(empties[i]);
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_STR(t, "");
    free(t);
  }
  /* null values (k3s's docs show "cert_file:" with a comment) are absent */
  char *t = render("mirrors:\n  a.example:\n    endpoint:\n"
                   "configs:\n  a.example:\n    auth:\n      username: u\n      password:\n"
                   "    tls:\n      cert_file:\n      insecure_skip_verify: false\n");
  ASSERT_NOT_NULL(t);
  ASSERT_CONTAINS(t, "mirrors.\"a.example\"]\n  endpoint = []\n");
  ASSERT_CONTAINS(t, "configs.\"a.example\".auth]\n  username = \"u\"\n");
  ASSERT_TRUE(!strstr(t, "password") && !strstr(t, "cert_file"));
  ASSERT_CONTAINS(t, "configs.\"a.example\".tls]\n  insecure_skip_verify = false\n");
  free(t);
}

static void test_endpoints(void) {
  /* no scheme: kept, containerd picks one (http for localhost, else https) */
  char *t = render("mirrors:\n  docker.io:\n    endpoint: [\"mirror.example:5000\"]\n");
  ASSERT_NOT_NULL(t);
  ASSERT_CONTAINS(t, "endpoint = [\"mirror.example:5000\"]");
  free(t);
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    endpoint: [\"ftp://x\"]\n"),
                  "r.yaml: mirrors.\"docker.io\": endpoint \"ftp://x\" must be an http:// or "
                  "https:// URL with a host");
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    endpoint: [\"https://\"]\n"),
                  "with a host");
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    endpoint: [\"\"]\n"), "is not a URL");
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    endpoint: https://m.example\n"),
                  "r.yaml: mirrors.\"docker.io\": \"endpoint\" must be a list of URLs (got a "
                  "string");
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    endpoint: [5000]\n"),
                  "each endpoint must be a string (got a number)");
}

static void test_unknown_keys(void) {
  ASSERT_EQ_STR(parse_err("mirror:\n  docker.io: {}\n"),
                "r.yaml: unknown key \"mirror\" (known: mirrors, configs)");
  ASSERT_EQ_STR(parse_err("mirrors:\n  docker.io:\n    endpoints: [\"https://m\"]\n"),
                "r.yaml: mirrors.\"docker.io\": unknown key \"endpoints\" (known: endpoint, "
                "rewrite)");
  ASSERT_EQ_STR(parse_err("configs:\n  m:5000:\n    tsl: {}\n"),
                "r.yaml: configs.\"m:5000\": unknown key \"tsl\" (known: auth, tls)");
  ASSERT_EQ_STR(parse_err("configs:\n  m:5000:\n    auth:\n      user: u\n"),
                "r.yaml: configs.\"m:5000\".auth: unknown key \"user\" (known: username, "
                "password, auth, identitytoken)");
  ASSERT_EQ_STR(parse_err("configs:\n  m:5000:\n    tls:\n      insecure: true\n"),
                "r.yaml: configs.\"m:5000\".tls: unknown key \"insecure\" (known: cert_file, "
                "key_file, ca_file, insecure_skip_verify)");
}

static void test_bad_types(void) {
  ASSERT_EQ_STR(parse_err("- mirrors\n"), "r.yaml: must be a mapping (got a list)");
  ASSERT_EQ_STR(parse_err("mirrors: [docker.io]\n"),
                "r.yaml: mirrors: must be a mapping (got a list)");
  ASSERT_EQ_STR(parse_err("mirrors:\n  docker.io: https://m\n"),
                "r.yaml: mirrors.\"docker.io\": must be a mapping (got a string)");
  /* numbers where strings belong would lose their text: refused */
  ASSERT_EQ_STR(parse_err("configs:\n  m:\n    auth:\n      password: 0123\n"),
                "r.yaml: configs.\"m\".auth: \"password\" must be a string (got a number; "
                "quote it)");
  ASSERT_EQ_STR(parse_err("configs:\n  m:\n    auth:\n      username: yes\n"),
                "r.yaml: configs.\"m\".auth: \"username\" must be a string (got a boolean; "
                "quote it)");
  ASSERT_EQ_STR(parse_err("configs:\n  m:\n    tls:\n      insecure_skip_verify: \"true\"\n"),
                "r.yaml: configs.\"m\".tls: \"insecure_skip_verify\" must be true or false (got "
                "a string)");
  ASSERT_EQ_STR(parse_err("configs:\n  m:\n    tls: [a]\n"),
                "r.yaml: configs.\"m\".tls: must be a mapping (got a list)");
  ASSERT_CONTAINS(parse_err("mirrors:\n  \"\":\n    endpoint: []\n"), "a registry name is empty");
  /* YAML syntax errors name the file and the place */
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io: [\n"), "r.yaml: line ");
}

static void test_rewrites(void) {
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    rewrite:\n      \"(a\": b\n"),
                  "r.yaml: mirrors.\"docker.io\".rewrite: pattern \"(a\" is not a valid regexp");
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    rewrite:\n      \"^a\": 1\n"),
                  "the replacement of \"^a\" must be a string (got a number)");
  ASSERT_CONTAINS(parse_err("mirrors:\n  docker.io:\n    rewrite: [a]\n"),
                  "mirrors.\"docker.io\".rewrite: must be a mapping");
  cJSON *reg = NULL;
  const char *y = "mirrors:\n  a:\n    rewrite: {\"^x\": y, \"^z\": w}\n  b:\n    rewrite:\n";
  ASSERT_EQ_INT(agent_registries_parse(y, strlen(y), NULL, &reg, err, sizeof err), 0);
  ASSERT_EQ_INT(agent_registries_rewrites(reg), 2);
  cJSON_Delete(reg);
}

static void test_escaping(void) {
  /* names and values with quotes, backslashes and control characters */
  char *t = render("mirrors:\n  \"we\\\"ird\\\\reg\":\n    endpoint: [\"https://h/a\\\"b\"]\n"
                   "configs:\n  \"h\":\n    auth:\n"
                   "      password: \"p\\\\w\\n\\t\\r\\b\\f\\x01\\x1f\\x7f\\u00e9\"\n");
  ASSERT_NOT_NULL(t);
  ASSERT_CONTAINS(t, "registry.mirrors.\"we\\\"ird\\\\reg\"]\n");
  ASSERT_CONTAINS(t, "endpoint = [\"https://h/a\\\"b\"]");
  ASSERT_CONTAINS(t, "password = \"p\\\\w\\n\\t\\r\\b\\f\\u0001\\u001F\\u007F\xc3\xa9\"\n");
  free(t);

  buf_t b;
  buf_init(&b, 64);
  ASSERT_EQ_INT(toml_append_str(&b, ""), 0);
  ASSERT_EQ_STR(b.data, "\"\"");
  buf_reset(&b);
  ASSERT_EQ_INT(toml_append_str(&b, "plain/path:1"), 0);
  ASSERT_EQ_STR(b.data, "\"plain/path:1\"");
  /* the buffer's limit is reported */
  buf_reset(&b);
  char big[100];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  ASSERT_EQ_INT(toml_append_str(&b, big), -E2BIG);
  buf_done(&b);
}

static void test_load(void) {
  char path[64], missing[80];
  snprintf(path, sizeof path, "/tmp/k3c-test-registries-XXXXXX");
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  const char *y = "mirrors:\n  docker.io:\n    endpoint: [\"https://m\"]\n  bad: 1\n";
  ASSERT_EQ_INT(write(fd, y, strlen(y)), (long long)strlen(y));
  close(fd);
  cJSON *reg = NULL;
  ASSERT_EQ_INT(agent_registries_load(path, &reg, err, sizeof err), -EINVAL);
  char want[160];
  snprintf(want, sizeof want, "%s: mirrors.\"bad\": must be a mapping (got a number)", path);
  ASSERT_EQ_STR(err, want);
  snprintf(missing, sizeof missing, "%s.missing", path);
  ASSERT_EQ_INT(agent_registries_load(missing, &reg, err, sizeof err), -ENOENT);
  ASSERT_CONTAINS(err, missing);
  unlink(path);
}

TEST_LIST = {
    TEST(test_full_file),   TEST(test_empty_and_nulls), TEST(test_endpoints),
    TEST(test_unknown_keys), TEST(test_bad_types),      TEST(test_rewrites),
    TEST(test_escaping),    TEST(test_load),            {0},
};
TEST_MAIN()
