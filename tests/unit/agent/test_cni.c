/* pkg/agent/cni.c: the node's pod subnet and the CNI config list
 * containerd reads (bridge, host-local, portmap). */
#include "agent/cni.h"
#include "test.h"
#include "util/fsutil.h"

#include "json/util.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_subnet(void) {
  static const struct {
    const char *pod, *cluster, *want;
  } cases[] = {
      {NULL, "10.42.0.0/16", "10.42.0.0/24"},
      {"", "10.42.0.0/16", "10.42.0.0/24"},
      {NULL, "10.42.7.9/16", "10.42.0.0/24"}, /* host bits ignored */
      {NULL, "10.42.5.0/24", "10.42.5.0/24"},
      {NULL, "172.16.0.0/12", "172.16.0.0/24"},
      {NULL, "0.0.0.0/0", "0.0.0.0/24"},
      {"10.42.3.0/24", "10.42.0.0/16", "10.42.3.0/24"}, /* the Node's podCIDR wins */
      {"10.42.3.0/24", "garbage", "10.42.3.0/24"},
      {"10.42.4.0/25", NULL, "10.42.4.0/25"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char got[64], err[256] = "";
    int r = agent_cni_subnet(cases[i].pod, cases[i].cluster, got, sizeof(got), err, sizeof(err));
    if (r != 0 || strcmp(got, cases[i].want))
      TEST_FAIL("%s, %s: got %d \"%s\" (%s), want \"%s\"", cases[i].pod ? cases[i].pod : "NULL",
                cases[i].cluster ? cases[i].cluster : "NULL", r, r ? "" : got, err, cases[i].want);
  }
}

static void test_subnet_rejected(void) {
  static const struct {
    const char *pod, *cluster, *msg;
  } cases[] = {
      {NULL, "10.42.0.0/25", "cluster CIDR 10.42.0.0/25 is smaller than one node's /24"},
      {NULL, "10.42.0.0/32", "smaller than one node's /24"},
      {NULL, "banana", "banana is not an IPv4 CIDR (such as 10.42.0.0/16)"},
      {NULL, "10.42.0.0", "10.42.0.0 is not an IPv4 CIDR"},
      {NULL, "10.42.0.0/33", "is not an IPv4 CIDR"},
      {NULL, "10.42.0.0/", "is not an IPv4 CIDR"},
      {NULL, "300.42.0.0/16", "300.42.0.0/16 is not an IPv4 CIDR"},
      {NULL, "10.42.0/16", "is not an IPv4 CIDR"},
      {NULL, "10.42.0.0/16x", "10.42.0.0/16x is not an IPv4 CIDR"},
      {NULL, "10.42.0.0/16 ", "is not an IPv4 CIDR"},
      {NULL, "fd00::/48", "fd00::/48 is not an IPv4 CIDR"},
      {NULL, "", " is not an IPv4 CIDR"},
      {NULL, NULL, "(none) is not an IPv4 CIDR"},
      {"nope", "10.42.0.0/16", "nope is not an IPv4 CIDR"}, /* a bad podCIDR is not skipped */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char got[64] = "untouched", err[256] = "";
    int r = agent_cni_subnet(cases[i].pod, cases[i].cluster, got, sizeof(got), err, sizeof(err));
    if (r != -EINVAL)
      TEST_FAIL("%s: got %d \"%s\", want -EINVAL", cases[i].cluster ? cases[i].cluster : "NULL", r,
                got);
    ASSERT_EQ_STR(got, "untouched");
    ASSERT_CONTAINS(err, cases[i].msg);
  }
}

/* A fresh directory under TMPDIR, and its removal (two levels deep). */
static void tmpdir(char *dir, size_t len) {
  const char *t = getenv("TMPDIR");
  snprintf(dir, len, "%s/test_cni.XXXXXX", t && t[0] ? t : "/tmp");
  if (!mkdtemp(dir))
    TEST_FAIL("mkdtemp %s: %s", dir, strerror(errno));
}

static void rm_conf(const char *dir) {
  char p[4200];
  snprintf(p, sizeof(p), "%s/net.d/10-k3c.conflist", dir);
  unlink(p);
  snprintf(p, sizeof(p), "%s/net.d", dir);
  rmdir(p);
  snprintf(p, sizeof(p), "%s/file", dir);
  unlink(p);
  rmdir(dir);
}

static cJSON *read_conf(const char *dir) {
  char p[4200], *text = NULL;
  size_t len = 0;
  snprintf(p, sizeof(p), "%s/net.d/10-k3c.conflist", dir);
  int r = fs_read_file(p, 1 << 16, &text, &len);
  if (r < 0)
    TEST_FAIL("reading %s: %s", p, strerror(-r));
  cJSON *doc = cJSON_Parse(text);
  if (!doc) {
    printf("#   %s\n", text);
    free(text);
    TEST_FAIL("%s is not JSON", p);
  }
  free(text);
  return doc;
}

static const char *str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_write(void) {
  char dir[256], conf[300], ipam[300], err[512] = "";
  tmpdir(dir, sizeof(dir));
  snprintf(conf, sizeof(conf), "%s/net.d", dir); /* made on the way */
  snprintf(ipam, sizeof(ipam), "%s/ipam", dir);
  ASSERT_EQ_INT(agent_cni_write(conf, "k3c0", "10.42.0.0/24", ipam, 0, true, err, sizeof(err)), 0);
  cJSON *doc = read_conf(dir);
  ASSERT_EQ_STR(str(doc, "cniVersion"), "1.0.0");
  ASSERT_EQ_STR(str(doc, "name"), "k3c");
  const cJSON *plugins = cJSON_GetObjectItem(doc, "plugins");
  ASSERT_EQ_INT(cJSON_GetArraySize(plugins), 2);
  const cJSON *br = cJSON_GetArrayItem(plugins, 0);
  ASSERT_EQ_STR(str(br, "type"), "bridge");
  ASSERT_EQ_STR(str(br, "bridge"), "k3c0");
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(br, "isGateway")));
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(br, "ipMasq")));
  ASSERT_NULL(cJSON_GetObjectItem(br, "mtu")); /* 0: the plugin's default */
  ASSERT_EQ_STR(str(br, "ipam.type"), "host-local");
  ASSERT_EQ_STR(str(br, "ipam.dataDir"), ipam);
  const cJSON *range =
      cJSON_GetArrayItem(cJSON_GetArrayItem(json_get_path(br, "ipam.ranges"), 0), 0);
  ASSERT_EQ_STR(str(range, "subnet"), "10.42.0.0/24");
  ASSERT_EQ_STR(str(cJSON_GetArrayItem(json_get_path(br, "ipam.routes"), 0), "dst"), "0.0.0.0/0");
  const cJSON *pm = cJSON_GetArrayItem(plugins, 1);
  ASSERT_EQ_STR(str(pm, "type"), "portmap");
  ASSERT_TRUE(cJSON_IsTrue(json_get_path(pm, "capabilities.portMappings")));
  cJSON_Delete(doc);

  char p[400];
  struct stat sb;
  snprintf(p, sizeof(p), "%s/10-k3c.conflist", conf);
  ASSERT_EQ_INT(stat(p, &sb), 0);
  ASSERT_EQ_INT(sb.st_mode & 0777, 0644);

  /* written again (a new subnet, the overlay's MTU): replaced, nothing
   * else left in the dir */
  ASSERT_EQ_INT(agent_cni_write(conf, "k3c0", "10.42.9.0/24", ipam, 1450, false, err, sizeof(err)), 0);
  doc = read_conf(dir);
  const cJSON *mtu = json_get_path(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "plugins"), 0), "mtu");
  ASSERT_TRUE(cJSON_IsNumber(mtu));
  ASSERT_EQ_INT(mtu->valueint, 1450);
  /* the overlay masquerades: the bridge plugin does not */
  ASSERT_TRUE(cJSON_IsFalse(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "plugins"), 0), "ipMasq")));
  range = cJSON_GetArrayItem(
      cJSON_GetArrayItem(
          json_get_path(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "plugins"), 0), "ipam.ranges"),
          0),
      0);
  ASSERT_EQ_STR(str(range, "subnet"), "10.42.9.0/24");
  cJSON_Delete(doc);
  rm_conf(dir);
  ASSERT_EQ_INT(access(dir, F_OK), -1); /* only the conflist was there */
}

/* Names and paths come out as JSON strings, whatever they hold. */
static void test_write_escapes(void) {
  char dir[256], conf[300], ipam[300], err[512] = "";
  tmpdir(dir, sizeof(dir));
  snprintf(conf, sizeof(conf), "%s/net.d", dir);
  snprintf(ipam, sizeof(ipam), "%s/we\"ird\\dir", dir);
  ASSERT_EQ_INT(agent_cni_write(conf, "k3c0", "10.42.0.0/24", ipam, 0, true, err, sizeof(err)), 0);
  cJSON *doc = read_conf(dir);
  ASSERT_EQ_STR(str(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "plugins"), 0), "ipam.dataDir"),
                ipam);
  cJSON_Delete(doc);
  rm_conf(dir);
}

static void test_write_error(void) {
  char dir[256], conf[320], err[512] = "";
  tmpdir(dir, sizeof(dir));
  char file[300];
  snprintf(file, sizeof(file), "%s/file", dir);
  ASSERT_EQ_INT(fs_write_atomic(file, "x", 1, 0644), 0);
  snprintf(conf, sizeof(conf), "%s/net.d", file); /* under a regular file */
  int r = agent_cni_write(conf, "k3c0", "10.42.0.0/24", "/tmp/ipam", 0, true, err, sizeof(err));
  ASSERT_TRUE(r < 0);
  ASSERT_CONTAINS(err, conf);
  rm_conf(dir);
}

TEST_LIST = {
    TEST(test_subnet),        TEST(test_subnet_rejected), TEST(test_write),
    TEST(test_write_escapes), TEST(test_write_error),     {0},
};
TEST_MAIN()
