/* pkg/agent/cni.c: the node's pod subnet and the CNI config list
 * containerd reads (k3c's own plugin) and the plugin links in its bin dir. */
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
  ASSERT_EQ_INT(agent_cni_write(conf, "k3c0", "10.42.0.0/24", ipam, 0, err, sizeof(err)), 0);
  cJSON *doc = read_conf(dir);
  ASSERT_EQ_STR(str(doc, "cniVersion"), "1.0.0");
  ASSERT_EQ_STR(str(doc, "name"), "k3c");
  const cJSON *plugins = cJSON_GetObjectItem(doc, "plugins");
  ASSERT_EQ_INT(cJSON_GetArraySize(plugins), 1);
  const cJSON *br = cJSON_GetArrayItem(plugins, 0);
  ASSERT_EQ_STR(str(br, "type"), "k3c-cni");
  ASSERT_EQ_STR(str(br, "bridge"), "k3c0");
  ASSERT_NULL(cJSON_GetObjectItem(br, "mtu")); /* 0: the kernel's default */
  ASSERT_EQ_STR(str(br, "ipam.type"), "k3c");
  ASSERT_EQ_STR(str(br, "ipam.dataDir"), ipam);
  ASSERT_EQ_STR(str(br, "ipam.subnet"), "10.42.0.0/24");
  ASSERT_TRUE(cJSON_IsTrue(json_get_path(br, "capabilities.portMappings")));
  cJSON_Delete(doc);

  char p[400];
  struct stat sb;
  snprintf(p, sizeof(p), "%s/10-k3c.conflist", conf);
  ASSERT_EQ_INT(stat(p, &sb), 0);
  ASSERT_EQ_INT(sb.st_mode & 0777, 0644);

  /* written again (a new subnet, the overlay's MTU): replaced, nothing
   * else left in the dir */
  ASSERT_EQ_INT(agent_cni_write(conf, "k3c0", "10.42.9.0/24", ipam, 1450, err, sizeof(err)), 0);
  doc = read_conf(dir);
  br = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "plugins"), 0);
  const cJSON *mtu = json_get_path(br, "mtu");
  ASSERT_TRUE(cJSON_IsNumber(mtu));
  ASSERT_EQ_INT(mtu->valueint, 1450);
  ASSERT_EQ_STR(str(br, "ipam.subnet"), "10.42.9.0/24");
  cJSON_Delete(doc);
  rm_conf(dir);
  ASSERT_EQ_INT(access(dir, F_OK), -1); /* only the conflist was there */
}

/* The bin dir: k3c-cni and loopback link to the binary, replaced when it
 * moved; a bin dir that cannot be made is an error naming it. */
static void test_bin(void) {
  char dir[256], bin[300], p[400], got[400], err[512] = "";
  tmpdir(dir, sizeof(dir));
  snprintf(bin, sizeof(bin), "%s/bin", dir);
  ASSERT_EQ_INT(agent_cni_bin_write(bin, "/old/k3c", err, sizeof(err)), 0);
  ASSERT_EQ_INT(agent_cni_bin_write(bin, "/usr/local/bin/k3c", err, sizeof(err)), 0);
  static const char *const names[] = {"k3c-cni", "loopback"};
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof(p), "%s/%s", bin, names[i]);
    ssize_t n = readlink(p, got, sizeof(got) - 1);
    ASSERT_TRUE(n > 0);
    got[n] = 0;
    ASSERT_EQ_STR(got, "/usr/local/bin/k3c");
    ASSERT_EQ_INT(unlink(p), 0);
  }
  ASSERT_EQ_INT(rmdir(bin), 0); /* nothing else (no temporary links) left */
  /* NULL: this process's own binary */
  ASSERT_EQ_INT(agent_cni_bin_write(bin, NULL, err, sizeof(err)), 0);
  char self[400];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_TRUE(n > 0);
  self[n] = 0;
  snprintf(p, sizeof(p), "%s/k3c-cni", bin);
  n = readlink(p, got, sizeof(got) - 1);
  ASSERT_TRUE(n > 0);
  got[n] = 0;
  ASSERT_EQ_STR(got, self);
  unlink(p);
  snprintf(p, sizeof(p), "%s/loopback", bin);
  unlink(p);
  rmdir(bin);
  snprintf(p, sizeof(p), "%s/file", dir);
  ASSERT_EQ_INT(fs_write_atomic(p, "x", 1, 0644), 0);
  snprintf(bin, sizeof(bin), "%s/file/bin", dir);
  ASSERT_TRUE(agent_cni_bin_write(bin, "/k3c", err, sizeof(err)) < 0);
  ASSERT_CONTAINS(err, bin);
  rm_conf(dir);
  ASSERT_EQ_INT(access(dir, F_OK), -1);
}

/* Names and paths come out as JSON strings, whatever they hold. */
static void test_write_escapes(void) {
  char dir[256], conf[300], ipam[300], err[512] = "";
  tmpdir(dir, sizeof(dir));
  snprintf(conf, sizeof(conf), "%s/net.d", dir);
  snprintf(ipam, sizeof(ipam), "%s/we\"ird\\dir", dir);
  ASSERT_EQ_INT(agent_cni_write(conf, "k3c0", "10.42.0.0/24", ipam, 0, err, sizeof(err)), 0);
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
  int r = agent_cni_write(conf, "k3c0", "10.42.0.0/24", "/tmp/ipam", 0, err, sizeof(err));
  ASSERT_TRUE(r < 0);
  ASSERT_CONTAINS(err, conf);
  rm_conf(dir);
}

TEST_LIST = {
    TEST(test_subnet),        TEST(test_subnet_rejected), TEST(test_write),
    TEST(test_write_escapes), TEST(test_write_error),     TEST(test_bin), {0},
};
TEST_MAIN()
