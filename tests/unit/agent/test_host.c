/* Tests for pkg/agent/host.c over a fake root (proc/meminfo, etc/os-release,
 * proc/net/route, ...): the facts read, the default route's interface,
 * capacity and allocatable with reserved lists (and bad ones), pressure
 * thresholds, registration labels and taints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/host.h"
#include "json/util.h"
#include "test.h"

static char root[256];

static void put(const char *path, const char *text) {
  char p[512];
  snprintf(p, sizeof(p), "%s%s", root, path);
  /* make the parent folders */
  for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    mkdir(p, 0755);
    *s = '/';
  }
  FILE *f = fopen(p, "w");
  if (!f)
    TEST_FAIL("cannot write %s", p);
  fputs(text, f);
  fclose(f);
}

static void make_root(void) {
  snprintf(root, sizeof(root), "/tmp/k3c-test-host-XXXXXX");
  if (!mkdtemp(root))
    TEST_FAIL("mkdtemp");
  put("/proc/meminfo", "MemTotal:       16318976 kB\n"
                       "MemFree:         1000000 kB\n"
                       "MemAvailable:    8000000 kB\n");
  put("/etc/os-release", "NAME=\"Debian GNU/Linux\"\n"
                         "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
                         "ID=debian\n");
  put("/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
  put("/proc/sys/kernel/random/boot_id", "b0b0b0b0-1111-2222-3333-444455556666\n");
  put("/proc/sys/kernel/hostname", "Box-One\n");
  put("/proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
  put("/proc/sys/kernel/pid_max", "4194304\n");
  put("/proc/loadavg", "0.10 0.20 0.30 2/345 6789\n");
  put("/proc/net/route",
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
      "eth0\t00000000\t010011AC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n");
}

static void rm_root(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", root);
}

static const char *s(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_read(void) {
  make_root();
  agent_host_t h;
  ASSERT_EQ_INT(agent_host_read(root, root, &h), 0);
  ASSERT_EQ_STR(h.hostname, "box-one");
  ASSERT_EQ_INT(h.memory_bytes, 16318976ull * 1024);
  ASSERT_TRUE(h.storage_bytes > 0);
  ASSERT_GE_INT(h.cpus, 1);
  ASSERT_EQ_STR(h.kernel, "6.1.0-13-amd64");
  ASSERT_EQ_STR(h.os_image, "Debian GNU/Linux 12 (bookworm)");
  ASSERT_EQ_STR(h.machine_id, "0123456789abcdef0123456789abcdef");
  ASSERT_EQ_STR(h.boot_id, "b0b0b0b0-1111-2222-3333-444455556666");
  /* no DMI in the fake root: the machine-id */
  ASSERT_EQ_STR(h.system_uuid, "0123456789abcdef0123456789abcdef");
  ASSERT_NOT_NULL(h.arch);
  /* eth0 of the fake route table does not exist here (or has another
   * address): whatever it is, an IPv4 */
  ASSERT_TRUE(strchr(h.node_ip, '.') != NULL);
  put("/sys/class/dmi/id/product_uuid", "4C4C4544-0000-1111-2222-333344445555\n");
  ASSERT_EQ_INT(agent_host_read(root, root, &h), 0);
  ASSERT_EQ_STR(h.system_uuid, "4C4C4544-0000-1111-2222-333344445555");
  /* no os-release at all: "Linux"; no meminfo: an error */
  char p[512];
  snprintf(p, sizeof(p), "%s/etc/os-release", root);
  unlink(p);
  ASSERT_EQ_INT(agent_host_read(root, root, &h), 0);
  ASSERT_EQ_STR(h.os_image, "Linux");
  snprintf(p, sizeof(p), "%s/proc/meminfo", root);
  unlink(p);
  agent_host_t before = h;
  ASSERT_TRUE(agent_host_read(root, root, &h) < 0);
  ASSERT_EQ_STR(h.hostname, before.hostname); /* untouched on failure */
  rm_root();
}

static void test_default_iface(void) {
  make_root();
  char iface[32];
  ASSERT_EQ_INT(agent_host_default_iface(root, iface, sizeof(iface)), 0);
  ASSERT_EQ_STR(iface, "eth0"); /* lowest metric of the two defaults */
  put("/proc/net/route",
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n");
  ASSERT_EQ_INT(agent_host_default_iface(root, iface, sizeof(iface)), -ENOENT);
  /* no default route: the loopback address */
  agent_host_t h;
  ASSERT_EQ_INT(agent_host_read(root, root, &h), 0);
  ASSERT_EQ_STR(h.node_ip, "127.0.0.1");
  char p[512];
  snprintf(p, sizeof(p), "%s/proc/net/route", root);
  unlink(p);
  ASSERT_EQ_INT(agent_host_default_iface(root, iface, sizeof(iface)), -ENOENT);
  rm_root();
}

static agent_host_t fake_host(void) {
  agent_host_t h;
  memset(&h, 0, sizeof(h));
  snprintf(h.hostname, sizeof(h.hostname), "box");
  h.cpus = 4;
  h.memory_bytes = 16ull << 30;
  h.storage_bytes = 100ull << 30;
  snprintf(h.kernel, sizeof(h.kernel), "6.1.0");
  snprintf(h.os_image, sizeof(h.os_image), "Debian GNU/Linux 12 (bookworm)");
  snprintf(h.machine_id, sizeof(h.machine_id), "mid");
  snprintf(h.boot_id, sizeof(h.boot_id), "bid");
  snprintf(h.system_uuid, sizeof(h.system_uuid), "uuid");
  h.arch = "arm64";
  snprintf(h.node_ip, sizeof(h.node_ip), "192.168.1.5");
  return h;
}

static void test_node_status(void) {
  agent_host_t h = fake_host();
  char err[256] = "";
  cJSON *st = agent_host_node_status(&h, NULL, "", NULL, "containerd://1.6.20~ds1", "v1.29.0",
                                     err, sizeof(err));
  ASSERT_NOT_NULL(st);
  ASSERT_EQ_STR(s(st, "capacity.cpu"), "4");
  ASSERT_EQ_STR(s(st, "capacity.memory"), "16Gi");
  ASSERT_EQ_STR(s(st, "capacity.ephemeral-storage"), "100Gi");
  ASSERT_EQ_STR(s(st, "capacity.pods"), "110");
  ASSERT_TRUE(json_equal(json_get_path(st, "capacity"), json_get_path(st, "allocatable")));
  const cJSON *addrs = json_get_path(st, "addresses");
  ASSERT_EQ_INT(cJSON_GetArraySize(addrs), 2);
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(addrs, 0), "type"), "InternalIP");
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(addrs, 0), "address"), "192.168.1.5");
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(addrs, 1), "type"), "Hostname");
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(addrs, 1), "address"), "box");
  ASSERT_EQ_INT(json_get_path(st, "daemonEndpoints.kubeletEndpoint.Port")->valueint, 10250);
  ASSERT_EQ_STR(s(st, "nodeInfo.containerRuntimeVersion"), "containerd://1.6.20~ds1");
  ASSERT_EQ_STR(s(st, "nodeInfo.kubeletVersion"), "v1.29.0");
  ASSERT_EQ_STR(s(st, "nodeInfo.kubeProxyVersion"), "v1.29.0");
  ASSERT_EQ_STR(s(st, "nodeInfo.operatingSystem"), "linux");
  ASSERT_EQ_STR(s(st, "nodeInfo.architecture"), "arm64");
  ASSERT_EQ_STR(s(st, "nodeInfo.osImage"), "Debian GNU/Linux 12 (bookworm)");
  ASSERT_EQ_STR(s(st, "nodeInfo.kernelVersion"), "6.1.0");
  ASSERT_EQ_STR(s(st, "nodeInfo.machineID"), "mid");
  ASSERT_EQ_STR(s(st, "nodeInfo.systemUUID"), "uuid");
  ASSERT_EQ_STR(s(st, "nodeInfo.bootID"), "bid");
  ASSERT_NULL(json_get_path(st, "conditions"));
  cJSON_Delete(st);

  /* an explicit node IP wins */
  st = agent_host_node_status(&h, "10.0.0.9", NULL, NULL, "", "", err, sizeof(err));
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(json_get_path(st, "addresses"), 0), "address"), "10.0.0.9");
  cJSON_Delete(st);
}

static void test_reserved(void) {
  agent_host_t h = fake_host();
  char err[256] = "";
  cJSON *st = agent_host_node_status(&h, NULL, "cpu=100m,memory=256Mi,ephemeral-storage=1Gi",
                                     "cpu=0.5,memory=1Gi", "", "", err, sizeof(err));
  ASSERT_NOT_NULL(st);
  ASSERT_EQ_STR(s(st, "capacity.cpu"), "4");
  ASSERT_EQ_STR(s(st, "allocatable.cpu"), "3400m");
  ASSERT_EQ_STR(s(st, "allocatable.memory"), "15104Mi"); /* 16Gi - 1Gi - 256Mi */
  ASSERT_EQ_STR(s(st, "allocatable.ephemeral-storage"), "99Gi");
  ASSERT_EQ_STR(s(st, "allocatable.pods"), "110");
  cJSON_Delete(st);

  /* whole CPUs print without a suffix; odd byte counts plain; pid ignored */
  st = agent_host_node_status(&h, NULL, "cpu=1, memory=1000", "pid=100", "", "", err,
                              sizeof(err));
  ASSERT_NOT_NULL(st);
  ASSERT_EQ_STR(s(st, "allocatable.cpu"), "3");
  ASSERT_EQ_STR(s(st, "allocatable.memory"), "17179868184");
  cJSON_Delete(st);

  /* more reserved than there is: zero, never negative */
  st = agent_host_node_status(&h, NULL, "cpu=8,memory=1Ti", NULL, "", "", err, sizeof(err));
  ASSERT_EQ_STR(s(st, "allocatable.cpu"), "0");
  ASSERT_EQ_STR(s(st, "allocatable.memory"), "0");
  cJSON_Delete(st);

  /* bad lists: NULL and a reason naming the list and the entry */
  static const struct {
    const char *kube, *sys, *want;
  } bad[] = {
      {"cpu", NULL, "kube-reserved: \"cpu\" is not name=quantity"},
      {"=1", NULL, "kube-reserved"},
      {NULL, "gpu=1", "system-reserved: unknown resource \"gpu\""},
      {"cpu=abc", NULL, "kube-reserved: cpu=\"abc\""},
      {"memory=-1Gi", NULL, "must not be negative"},
      {"cpu=1,cpu=2", NULL, "cpu given twice"},
      {"memory=1Zi", NULL, "memory=\"1Zi\""},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = 0;
    st = agent_host_node_status(&h, NULL, bad[i].kube, bad[i].sys, "", "", err, sizeof(err));
    if (st)
      TEST_FAIL("reserved %s / %s accepted", bad[i].kube ? bad[i].kube : "",
                bad[i].sys ? bad[i].sys : "");
    ASSERT_CONTAINS(err, bad[i].want);
  }
}

static void test_pressure(void) {
  make_root();
  bool mem = true, disk = true, pid = true;
  agent_host_pressure(root, root, &mem, &disk, &pid);
  ASSERT_FALSE(mem);
  ASSERT_FALSE(pid);
  (void)disk; /* the real file system of /tmp: not asserted */
  put("/proc/meminfo", "MemTotal:       16318976 kB\nMemAvailable:      50000 kB\n");
  put("/proc/loadavg", "0.10 0.20 0.30 2/3900000 6789\n");
  agent_host_pressure(root, root, &mem, NULL, &pid);
  ASSERT_TRUE(mem);
  ASSERT_TRUE(pid);
  /* exactly 90% is not over it; unreadable files are no pressure */
  put("/proc/sys/kernel/pid_max", "1000\n");
  put("/proc/loadavg", "0.10 0.20 0.30 2/900 6789\n");
  agent_host_pressure(root, root, NULL, NULL, &pid);
  ASSERT_FALSE(pid);
  char p[512];
  snprintf(p, sizeof(p), "%s/proc/meminfo", root);
  unlink(p);
  agent_host_pressure(root, root, &mem, NULL, NULL);
  ASSERT_FALSE(mem);
  rm_root();
}

/* A label's value (labels have dots and slashes: no json paths). */
static const char *lv(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_labels(void) {
  char err[256] = "";
  cJSON *l = agent_host_labels("box", false, NULL, err, sizeof(err));
  ASSERT_NOT_NULL(l);
  ASSERT_EQ_STR(lv(l, "kubernetes.io/hostname"), "box");
  ASSERT_EQ_STR(lv(l, "kubernetes.io/os"), "linux");
  ASSERT_EQ_STR(lv(l, "beta.kubernetes.io/os"), "linux");
  ASSERT_EQ_STR(lv(l, "kubernetes.io/arch"), lv(l, "beta.kubernetes.io/arch"));
  ASSERT_EQ_STR(lv(l, "node.kubernetes.io/instance-type"), "k3c");
  ASSERT_NULL(cJSON_GetObjectItem(l, "node-role.kubernetes.io/control-plane"));
  ASSERT_EQ_INT(cJSON_GetArraySize(l), 6);
  cJSON_Delete(l);

  char *v[] = {"zone=a", "example.com/tier=web", "empty=", "kubernetes.io/os=plan9", NULL};
  config_list_t list = {v, 4};
  l = agent_host_labels("box", true, &list, err, sizeof(err));
  ASSERT_NOT_NULL(l);
  ASSERT_EQ_STR(lv(l, "node-role.kubernetes.io/control-plane"), "true");
  ASSERT_EQ_STR(lv(l, "node-role.kubernetes.io/master"), "true");
  ASSERT_EQ_STR(lv(l, "zone"), "a");
  ASSERT_EQ_STR(lv(l, "example.com/tier"), "web");
  ASSERT_EQ_STR(lv(l, "empty"), "");
  ASSERT_EQ_STR(lv(l, "kubernetes.io/os"), "plan9"); /* the user's entry wins */
  ASSERT_EQ_INT(cJSON_GetArraySize(l), 11);
  cJSON_Delete(l);

  static const char *const bad[] = {"novalue", "=x", "a=b=c", "-a=b", "a=-b", "Ex.com/a=b",
                                    "a/b/c=d", "/a=b", "a=b c"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *one[] = {(char *)bad[i], NULL};
    config_list_t bl = {one, 1};
    err[0] = 0;
    l = agent_host_labels("box", false, &bl, err, sizeof(err));
    if (l)
      TEST_FAIL("label %s accepted", bad[i]);
    ASSERT_CONTAINS(err, bad[i]);
    ASSERT_CONTAINS(err, "node-label");
  }
}

static void test_taints(void) {
  char err[256] = "";
  cJSON *t = agent_host_taints(NULL, err, sizeof(err));
  ASSERT_TRUE(cJSON_IsArray(t));
  ASSERT_EQ_INT(cJSON_GetArraySize(t), 0);
  cJSON_Delete(t);

  char *v[] = {"dedicated=gpu:NoSchedule", "example.com/spot:PreferNoSchedule",
               "drain=:NoExecute", NULL};
  config_list_t list = {v, 3};
  t = agent_host_taints(&list, err, sizeof(err));
  ASSERT_NOT_NULL(t);
  ASSERT_EQ_INT(cJSON_GetArraySize(t), 3);
  const cJSON *a = cJSON_GetArrayItem(t, 0);
  ASSERT_EQ_STR(s(a, "key"), "dedicated");
  ASSERT_EQ_STR(s(a, "value"), "gpu");
  ASSERT_EQ_STR(s(a, "effect"), "NoSchedule");
  a = cJSON_GetArrayItem(t, 1);
  ASSERT_EQ_STR(s(a, "key"), "example.com/spot");
  ASSERT_NULL(cJSON_GetObjectItem(a, "value"));
  ASSERT_EQ_STR(s(a, "effect"), "PreferNoSchedule");
  a = cJSON_GetArrayItem(t, 2);
  ASSERT_EQ_STR(s(a, "key"), "drain");
  ASSERT_NULL(cJSON_GetObjectItem(a, "value"));
  ASSERT_EQ_STR(s(a, "effect"), "NoExecute");
  cJSON_Delete(t);

  static const struct {
    const char *entry, *want;
  } bad[] = {
      {"a=b", "Effect one of NoSchedule, PreferNoSchedule, NoExecute"},
      {"a=b:NoWay", "Effect one of"},
      {"a=b:noschedule", "Effect one of"},
      {":NoSchedule", "the key must be"},
      {"a=b c:NoSchedule", "the key must be"},
      {"-a:NoSchedule", "the key must be"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *one[] = {(char *)bad[i].entry, NULL};
    config_list_t bl = {one, 1};
    err[0] = 0;
    t = agent_host_taints(&bl, err, sizeof(err));
    if (t)
      TEST_FAIL("taint %s accepted", bad[i].entry);
    ASSERT_CONTAINS(err, bad[i].entry);
    ASSERT_CONTAINS(err, bad[i].want);
  }
}

/* --node-name / host name, lower-cased, and --with-node-id's id kept once. */
static void test_node_name(void) {
  char dir[] = "/tmp/k3c-test-nodename-XXXXXX", name[256], again[256], err[300] = "";
  if (!mkdtemp(dir))
    TEST_FAIL("mkdtemp");
  ASSERT_EQ_INT(agent_host_node_name(NULL, "Pi-Kitchen", false, dir, name, sizeof(name), err,
                                     sizeof(err)), 0);
  ASSERT_EQ_STR(name, "pi-kitchen");
  ASSERT_EQ_INT(agent_host_node_name("edge-1", "ignored", false, dir, name, sizeof(name), err,
                                     sizeof(err)), 0);
  ASSERT_EQ_STR(name, "edge-1");
  ASSERT_EQ_INT(agent_host_node_name(NULL, "pi", true, dir, name, sizeof(name), err, sizeof(err)),
                0);
  ASSERT_EQ_INT((int)strlen(name), 11); /* "pi-" and 8 hex digits */
  ASSERT_TRUE(!strncmp(name, "pi-", 3) && strspn(name + 3, "0123456789abcdef") == 8);
  ASSERT_EQ_INT(agent_host_node_name(NULL, "pi", true, dir, again, sizeof(again), err,
                                     sizeof(err)), 0);
  ASSERT_EQ_STR(again, name); /* the id is kept in <data-dir>/agent/node-id */
  char path[400];
  snprintf(path, sizeof(path), "%s/agent/node-id", dir);
  struct stat st;
  ASSERT_EQ_INT(stat(path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  FILE *f = fopen(path, "w");
  fputs("not-an-id\n", f);
  fclose(f);
  ASSERT_EQ_INT(agent_host_node_name(NULL, "pi", true, dir, name, sizeof(name), err, sizeof(err)),
                -EINVAL);
  ASSERT_CONTAINS(err, "8-hex-digit node id");
  ASSERT_EQ_INT(agent_host_node_name(NULL, "bad_name!", false, dir, name, sizeof(name), err,
                                     sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "not a DNS-1123 subdomain");
  ASSERT_EQ_INT(agent_host_node_name(NULL, NULL, false, dir, name, sizeof(name), err, sizeof(err)),
                -EINVAL);
  ASSERT_CONTAINS(err, "--node-name");
  unlink(path);
  snprintf(path, sizeof(path), "%s/agent", dir);
  rmdir(path);
  rmdir(dir);
}

TEST_LIST = {
    TEST(test_read),     TEST(test_default_iface), TEST(test_node_status), TEST(test_reserved),
    TEST(test_pressure), TEST(test_labels),        TEST(test_taints),      TEST(test_node_name),
    {0},
};

TEST_MAIN()
