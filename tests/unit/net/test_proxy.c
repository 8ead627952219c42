/* pkg/net proxy: the plan computed from Services and EndpointSlices (which
 * ports, which endpoints, what is skipped), and, as root in a network
 * namespace of the test's own, table ip k3c-proxy made from it, read back
 * from the kernel, replaced and removed. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <linux/netlink.h>

#include "net/conntrack.h"
#include "net/nl.h"
#include "net/proxy.h"
#include "test.h"

static const char *SVCS[] = {
    /* two ports, one of them a NodePort */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"type\":\"NodePort\","
    "\"clusterIP\":\"10.43.0.10\",\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\","
    "\"targetPort\":8080,\"nodePort\":30080},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}",
    /* no endpoints at all */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"empty\"},\"spec\":{\"clusterIP\":"
    "\"10.43.0.20\",\"ports\":[{\"port\":8080}]}}",
    /* skipped: headless, ExternalName, node-local DNS */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"headless\"},\"spec\":{\"clusterIP\":"
    "\"None\",\"ports\":[{\"port\":80}]}}",
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"ext\"},\"spec\":{\"type\":\"ExternalName\","
    "\"externalName\":\"example.com\"}}",
    "{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"kube-dns\",\"annotations\":"
    "{\"k3c.io/node-local\":\"true\"}},\"spec\":{\"clusterIP\":\"10.43.0.10\",\"ports\":"
    "[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}",
};

static const char *SLICES[] = {
    /* web: two slices; a not-ready endpoint; an endpoint with ready absent (ready) */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-a\",\"labels\":"
    "{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\",\"ports\":"
    "[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":5353,"
    "\"protocol\":\"UDP\"}],\"endpoints\":[{\"addresses\":[\"10.42.1.5\"],\"conditions\":"
    "{\"ready\":true}},{\"addresses\":[\"10.42.1.6\"],\"conditions\":{\"ready\":false}}]}",
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-b\",\"labels\":"
    "{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\",\"ports\":"
    "[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":[{\"addresses\":"
    "[\"10.42.0.7\"]}]}",
    /* same service name in another namespace: not web's */
    "{\"metadata\":{\"namespace\":\"other\",\"name\":\"web-x\",\"labels\":"
    "{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\",\"ports\":"
    "[{\"name\":\"http\",\"port\":9999,\"protocol\":\"TCP\"}],\"endpoints\":[{\"addresses\":"
    "[\"10.42.9.9\"]}]}",
    /* empty's only endpoint is not ready */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"empty-a\",\"labels\":"
    "{\"kubernetes.io/service-name\":\"empty\"}},\"addressType\":\"IPv4\",\"ports\":"
    "[{\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":[{\"addresses\":[\"10.42.2.2\"],"
    "\"conditions\":{\"ready\":false}}]}",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void make_plan(net_proxy_plan_t *plan, size_t n_slices) {
  cJSON *slices[N(SLICES)];
  for (size_t i = 0; i < N(SLICES); i++)
    slices[i] = cJSON_Parse(SLICES[i]);
  for (size_t i = 0; i < N(SVCS); i++) {
    cJSON *s = cJSON_Parse(SVCS[i]);
    if (!s)
      TEST_FAIL("bad fixture %zu", i);
    net_proxy_plan_add(plan, s, (const cJSON *const *)slices, n_slices);
    cJSON_Delete(s);
  }
  net_proxy_plan_sort(plan);
  for (size_t i = 0; i < N(SLICES); i++)
    cJSON_Delete(slices[i]);
}

static struct in_addr ip4(const char *s) {
  struct in_addr a = {0};
  inet_pton(AF_INET, s, &a);
  return a;
}

static void test_plan(void) {
  net_proxy_plan_t plan = {.cluster = ip4("10.42.0.0"), .cluster_prefix = 16};
  make_plan(&plan, N(SLICES));
  char *text = net_proxy_plan_text(&plan);
  ASSERT_EQ_STR(text, "default/empty:8080 tcp 10.43.0.20:8080 -> reject\n"
                      "default/web:dns udp 10.43.0.10:53 -> 10.42.1.5:5353\n"
                      "default/web:http tcp 10.43.0.10:80 nodePort 30080 -> 10.42.0.7:8080 "
                      "10.42.1.5:8080\n");
  free(text);
  net_proxy_plan_free(&plan);
  /* without slices: every port rejects */
  net_proxy_plan_t none = {.cluster_prefix = -1};
  make_plan(&none, 0);
  text = net_proxy_plan_text(&none);
  ASSERT_EQ_STR(text, "default/empty:8080 tcp 10.43.0.20:8080 -> reject\n"
                      "default/web:dns udp 10.43.0.10:53 -> reject\n"
                      "default/web:http tcp 10.43.0.10:80 nodePort 30080 -> reject\n");
  free(text);
  net_proxy_plan_free(&none);
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void test_kernel(void) {
  TEST_SKIP_UNDER_QEMU("speak NETLINK_NETFILTER (nf_tables)");
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  nl_sock_t *s;
  ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
  char err[256];
  static char have[16384];
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), -ENOENT);
  net_proxy_plan_t plan = {.cluster = ip4("10.42.0.0"), .cluster_prefix = 16};
  make_plan(&plan, N(SLICES));
  if (net_proxy_apply(s, &plan, err, sizeof err) < 0)
    TEST_FAIL("apply: %s", err);
  if (net_proxy_describe(s, have, sizeof have, err, sizeof err) < 0)
    TEST_FAIL("describe: %s", err);
  /* the ClusterIP of web:http jumps to its chain; two endpoints: one numgen mod 2, one plain */
  ASSERT_CONTAINS(have, "services: payload(16) ==10.43.0.10 meta(16) ==6 payload(th:2) ==80 "
                        "jump:svc-default/web:http");
  ASSERT_CONTAINS(have, "nodeports: meta(16) ==6 payload(th:2) ==30080 jump:svc-default/web:http");
  ASSERT_CONTAINS(have, "svc-default/web:http: payload(12) &255.255.0.0 !=10.42.0.0 "
                        "imm(0.64.0.0) meta-set(3)"); /* mark 0x4000 as 4 bytes */
  ASSERT_CONTAINS(have, "svc-default/web:http: numgen(2) ==0 imm(10.42.0.7) imm(8080) dnat");
  ASSERT_CONTAINS(have, "svc-default/web:http: imm(10.42.1.5) imm(8080) dnat");
  ASSERT_CONTAINS(have, "svc-default/web:dns: imm(10.42.1.5) imm(5353) dnat");
  ASSERT_CONTAINS(have, "prerouting: jump:services;prerouting: fib ==2 jump:nodeports");
  ASSERT_CONTAINS(have, "output: jump:services;output: fib ==2 jump:nodeports");
  ASSERT_CONTAINS(have, "postrouting: meta(5) !=1 meta(3) &16384 ==16384 masq");
  ASSERT_CONTAINS(have, "postrouting: payload(12) ==10.42.1.5 payload(16) ==10.42.1.5 meta(5) !=1 "
                        "ct &32 !=0 masq");
  ASSERT_CONTAINS(have, "no-endpoints: payload(16) ==10.43.0.20 meta(16) ==6 payload(th:2) "
                        "==8080 reject");
  ASSERT_EQ_INT(count(have, "reject"), 1);
  ASSERT_EQ_INT(count(have, "dnat"), 3);
  ASSERT_EQ_INT(count(have, "masq"), 3); /* mark + 2 distinct endpoint IPs (10.42.1.5 once) */
  ASSERT_EQ_INT(count(have, "filter-"), 3);
  net_proxy_plan_free(&plan);
  /* the slices gone: replaced, every port rejected, no dnat left */
  net_proxy_plan_t none = {.cluster_prefix = -1};
  make_plan(&none, 0);
  ASSERT_EQ_INT(net_proxy_apply(s, &none, err, sizeof err), 0);
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_EQ_INT(count(have, "dnat"), 0);
  ASSERT_EQ_INT(count(have, "reject"), 4); /* 3 ClusterIPs + web's NodePort */
  ASSERT_CONTAINS(have, "no-endpoints: fib ==2 meta(16) ==6 payload(th:2) ==30080 reject");
  net_proxy_plan_free(&none);
  ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), -ENOENT);
  ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
  nl_close(s);
}

/* 200 endpoints: all in the plan's text (changes are detected by it) and
 * in the kernel's table (one rule each). */
static void test_many(void) {
  TEST_SKIP_UNDER_QEMU("speak NETLINK_NETFILTER (nf_tables)");
  cJSON *svc = cJSON_Parse(SVCS[1]); /* default/empty, port 8080 */
  cJSON *slice = cJSON_Parse(SLICES[3]);
  cJSON *eps = cJSON_CreateArray();
  for (int i = 0; i < 200; i++) {
    char ip[32];
    snprintf(ip, sizeof ip, "10.42.%d.%d", 10 + i / 100, 1 + i % 100);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "addresses"), cJSON_CreateString(ip));
    cJSON_AddItemToArray(eps, e);
  }
  cJSON_ReplaceItemInObjectCaseSensitive(slice, "endpoints", eps);
  net_proxy_plan_t plan = {.cluster = ip4("10.42.0.0"), .cluster_prefix = 16};
  const cJSON *slices[] = {slice};
  net_proxy_plan_add(&plan, svc, slices, 1);
  net_proxy_plan_sort(&plan);
  cJSON_Delete(svc);
  cJSON_Delete(slice);
  ASSERT_EQ_INT((int)plan.n, 1);
  ASSERT_EQ_INT((int)plan.v[0].n_eps, 200);
  char *text = net_proxy_plan_text(&plan);
  ASSERT_CONTAINS(text, " 10.42.10.1:8080 ");
  ASSERT_CONTAINS(text, " 10.42.11.100:8080\n");
  free(text);
  if (geteuid() == 0) {
    ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0); /* a namespace of its own, whatever ran before */
    nl_sock_t *s;
    char err[256];
    static char have[1 << 17];
    ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
    if (net_proxy_apply(s, &plan, err, sizeof err) < 0)
      TEST_FAIL("apply: %s", err);
    ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
    ASSERT_EQ_INT(count(have, "dnat"), 200);
    ASSERT_CONTAINS(have, "numgen(200) ==0 imm(10.42.10.1) imm(8080) dnat");
    ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
    nl_close(s);
  }
  net_proxy_plan_free(&plan);
}

/* A UDP flow through a ClusterIP (from this namespace's own output hook,
 * to an endpoint on lo) leaves a conntrack entry NATed to the endpoint;
 * net_ct_delete_natted_to removes it, and only it. */
static void test_conntrack(void) {
  TEST_SKIP_UNDER_QEMU("speak NETLINK_NETFILTER (ctnetlink)");
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  if (system("ip link set lo up && ip route add 10.43.0.0/16 dev lo") != 0)
    TEST_SKIP("no ip program to set up lo");
  nl_sock_t *s;
  char err[256];
  ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
  net_proxy_plan_t plan = {.cluster_prefix = -1};
  plan.v = calloc(1, sizeof *plan.v);
  plan.n = 1;
  snprintf(plan.v[0].name, sizeof plan.v[0].name, "default/dns:53");
  plan.v[0].proto = IPPROTO_UDP;
  plan.v[0].cluster_ip = ip4("10.43.0.10");
  plan.v[0].port = 53;
  plan.v[0].eps = calloc(1, sizeof *plan.v[0].eps);
  plan.v[0].eps[0] = (net_proxy_ep_t){.ip = ip4("127.0.0.1"), .port = 5353};
  plan.v[0].n_eps = 1;
  if (net_proxy_apply(s, &plan, err, sizeof err) < 0)
    TEST_FAIL("apply: %s", err);
  net_proxy_plan_free(&plan);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = ip4("10.43.0.10")};
  ASSERT_EQ_INT((int)sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to), 1);
  /* another endpoint's flow, not to be touched */
  struct sockaddr_in direct = {.sin_family = AF_INET, .sin_port = htons(5353), .sin_addr = ip4("127.0.0.1")};
  int fd2 = socket(AF_INET, SOCK_DGRAM, 0);
  ssize_t sent = sendto(fd2, "y", 1, 0, (struct sockaddr *)&direct, sizeof direct);
  if (sent != 1)
    TEST_FAIL("sendto 127.0.0.1:5353: %s", strerror(errno));
  ASSERT_EQ_INT(net_ct_delete_natted_to(s, IPPROTO_UDP, ip4("127.0.0.2"), 5353, err, sizeof err), 0);
  ASSERT_EQ_INT(net_ct_delete_natted_to(s, IPPROTO_TCP, ip4("127.0.0.1"), 5353, err, sizeof err), 0);
  int r = net_ct_delete_natted_to(s, IPPROTO_UDP, ip4("127.0.0.1"), 5353, err, sizeof err);
  if (r < 0)
    TEST_FAIL("delete: %s", err);
  ASSERT_EQ_INT(r, 1); /* the flow to the ClusterIP, not the direct one */
  ASSERT_EQ_INT(net_ct_delete_natted_to(s, IPPROTO_UDP, ip4("127.0.0.1"), 5353, err, sizeof err), 0);
  close(fd);
  close(fd2);
  ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
  nl_close(s);
}

TEST_LIST = {TEST(test_plan), TEST(test_kernel), TEST(test_many), TEST(test_conntrack), {0}};
TEST_MAIN()
