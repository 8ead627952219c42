/* pkg/net proxy: the plan computed from Services and EndpointSlices (which
 * ports, which endpoints, what is skipped), and, as root in a network
 * namespace of the test's own, table ip k3c-proxy made from it, read back
 * from the kernel, replaced and removed. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "net/conntrack.h"
#include "net/nft.h"
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
  /* the ClusterIPs and the NodePort in verdict maps, to the services' chains */
  ASSERT_CONTAINS(have, "services: payload(16) meta(16) payload(th:2) vmap(@services)");
  ASSERT_CONTAINS(have, "nodeports: meta(16) payload(th:2) vmap(@nodeports)");
  ASSERT_CONTAINS(have, "prerouting: jump:services;prerouting: fib ==2 jump:nodeports");
  ASSERT_CONTAINS(have, "output: jump:services;output: fib ==2 jump:nodeports");
  ASSERT_CONTAINS(have, "svc-default/web:http: payload(12) &255.255.0.0 !=10.42.0.0 "
                        "imm(0.64.0.0) meta-set(3)"); /* mark 0x4000 as 4 bytes */
  /* two endpoints: one numgen mod 2, one plain, each to its own chain */
  ASSERT_CONTAINS(have, "svc-default/web:http: numgen(2) ==0 goto:ep-default/web:http-10.42.0.7:8080;"
                        "svc-default/web:http: goto:ep-default/web:http-10.42.1.5:8080");
  ASSERT_CONTAINS(have, "ep-default/web:http-10.42.1.5:8080: payload(12) ==10.42.1.5 "
                        "imm(0.64.0.0) meta-set(3)"); /* hairpin */
  ASSERT_CONTAINS(have, "ep-default/web:http-10.42.1.5:8080: imm(10.42.1.5) imm(8080) dnat");
  ASSERT_CONTAINS(have, "ep-default/web:dns-10.42.1.5:5353: imm(10.42.1.5) imm(5353) dnat");
  ASSERT_CONTAINS(have, "postrouting: meta(5) !=1 meta(3) &16384 ==16384 masq");
  ASSERT_CONTAINS(have, "no-endpoints: payload(16) meta(16) payload(th:2) @no-endpoints "
                        "reject;no-endpoints: fib ==2 meta(16) payload(th:2) "
                        "@no-endpoint-nodeports reject");
  ASSERT_EQ_INT(count(have, "reject"), 2);
  ASSERT_EQ_INT(count(have, "dnat"), 3);
  ASSERT_EQ_INT(count(have, "masq"), 1);
  ASSERT_EQ_INT(count(have, "filter-"), 3);
  if (nft_describe_elems(s, NET_PROXY_TABLE, "services", have, sizeof have, err, sizeof err) < 0)
    TEST_FAIL("elements: %s", err);
  ASSERT_CONTAINS(have, "10.43.0.10 . 6 . 80 : goto:svc-default/web:http");
  ASSERT_CONTAINS(have, "10.43.0.10 . 17 . 53 : goto:svc-default/web:dns");
  ASSERT_EQ_INT(count(have, ";"), 1); /* in the map's order */
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "nodeports", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_EQ_STR(have, "6 . 30080 : goto:svc-default/web:http");
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "no-endpoints", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_EQ_STR(have, "10.43.0.20 . 6 . 8080");
  /* the slices gone, as a change from the plan applied: every port
   * rejected, no chain of a service left */
  net_proxy_plan_t none = {.cluster_prefix = -1};
  make_plan(&none, 0);
  if (net_proxy_apply_diff(s, &plan, &none, err, sizeof err) < 0)
    TEST_FAIL("apply the change: %s", err);
  net_proxy_plan_free(&plan);
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_EQ_INT(count(have, "dnat"), 0);
  ASSERT_EQ_INT(count(have, "svc-"), 0);
  ASSERT_EQ_INT(count(have, "ep-"), 0);
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "services", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_EQ_STR(have, "");
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "no-endpoints", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_EQ_INT(count(have, ";"), 2); /* 3 ClusterIPs */
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "no-endpoint-nodeports", have, sizeof have,
                                   err, sizeof err), 0);
  ASSERT_EQ_STR(have, "6 . 30080");
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
    ASSERT_CONTAINS(have, "numgen(200) ==0 goto:ep-default/empty:8080-10.42.10.1:8080");
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


/* A LoadBalancer with both Local policies, ClientIP affinity and a
 * healthCheckNodePort; its slice has endpoints on this node (n1) and
 * another, a terminating one still serving and one no longer serving. */
static const char *LB_SVC =
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\","
    "\"clusterIP\":\"10.43.0.30\",\"externalTrafficPolicy\":\"Local\",\"internalTrafficPolicy\":"
    "\"Local\",\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":"
    "{\"timeoutSeconds\":60}},\"healthCheckNodePort\":32000,\"ports\":[{\"port\":80,\"nodePort\":"
    "30081,\"protocol\":\"TCP\"}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":"
    "\"192.168.5.2\"},{\"ip\":\"192.168.5.1\"}]}}}";
static const char *LB_SLICE =
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"lb-a\",\"labels\":"
    "{\"kubernetes.io/service-name\":\"lb\"}},\"addressType\":\"IPv4\",\"ports\":"
    "[{\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":["
    "{\"addresses\":[\"10.42.1.1\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":true}},"
    "{\"addresses\":[\"10.42.2.1\"],\"nodeName\":\"n2\"},"
    "{\"addresses\":[\"10.42.1.2\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":false,"
    "\"serving\":true,\"terminating\":true}},"
    "{\"addresses\":[\"10.42.1.3\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":false,"
    "\"serving\":false,\"terminating\":true}}]}";

static void lb_plan(net_proxy_plan_t *plan, bool only_terminating) {
  cJSON *svc = cJSON_Parse(LB_SVC), *slice = cJSON_Parse(LB_SLICE);
  if (only_terminating) { /* the ready ones gone */
    cJSON *eps = cJSON_GetObjectItemCaseSensitive(slice, "endpoints");
    cJSON_DeleteItemFromArray(eps, 0);
    cJSON_DeleteItemFromArray(eps, 0);
  }
  const cJSON *slices[] = {slice};
  net_proxy_plan_add(plan, svc, slices, 1);
  net_proxy_plan_sort(plan);
  cJSON_Delete(svc);
  cJSON_Delete(slice);
}

static void test_plan_policies(void) {
  net_proxy_plan_t plan = {.cluster = ip4("10.42.0.0"), .cluster_prefix = 16, .node = "n1"};
  lb_plan(&plan, false);
  char *text = net_proxy_plan_text(&plan);
  ASSERT_EQ_STR(text, "default/lb:80 tcp 10.43.0.30:80 nodePort 30081 ext 192.168.5.1,192.168.5.2 "
                      "affinity 60 etp-local itp-local hc 32000 -> 10.42.1.1:8080 10.42.2.1:8080 "
                      "local 10.42.1.1:8080\n");
  free(text);
  net_proxy_plan_free(&plan);
  /* no ready endpoint: the terminating one that still serves */
  net_proxy_plan_t term = {.cluster_prefix = -1, .node = "n1"};
  lb_plan(&term, true);
  text = net_proxy_plan_text(&term);
  ASSERT_CONTAINS(text, "-> 10.42.1.2:8080 local 10.42.1.2:8080\n");
  free(text);
  net_proxy_plan_free(&term);
  /* another node: no local endpoint; affinity default; loadBalancer
   * ingress of a ClusterIP service ignored */
  cJSON *svc = cJSON_Parse(LB_SVC);
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(svc, "spec"),
                                          "sessionAffinityConfig");
  net_proxy_plan_t other = {.cluster_prefix = -1, .node = "n3"};
  cJSON *slice = cJSON_Parse(LB_SLICE);
  const cJSON *slices[] = {slice};
  net_proxy_plan_add(&other, svc, slices, 1);
  cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(svc, "spec"), "type",
                                         cJSON_CreateString("ClusterIP"));
  cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(svc, "metadata"), "name",
                                         cJSON_CreateString("lc"));
  net_proxy_plan_add(&other, svc, slices, 1);
  net_proxy_plan_sort(&other);
  text = net_proxy_plan_text(&other);
  ASSERT_EQ_STR(text, "default/lb:80 tcp 10.43.0.30:80 nodePort 30081 ext 192.168.5.1,192.168.5.2 "
                      "affinity 10800 etp-local itp-local hc 32000 -> 10.42.1.1:8080 10.42.2.1:8080\n"
                      "default/lc:80 tcp 10.43.0.30:80 affinity 10800 itp-local -> reject\n");
  free(text);
  net_proxy_plan_free(&other);
  cJSON_Delete(svc);
  cJSON_Delete(slice);
}

/* The rule handles of chain, as text (a rule replaced gets a new one). */
typedef struct {
  const char *chain;
  char out[1024];
  size_t used;
} handles_t;

static int handle_cb(const struct nlmsghdr *h, void *data) {
  handles_t *hs = data;
  const struct nlattr *tb[NFTA_RULE_MAX + 1];
  if (h->nlmsg_type != NET_NFT(NFT_MSG_NEWRULE) ||
      nl_msg_attrs(h, sizeof(struct nfgenmsg), tb, NFTA_RULE_MAX) < 0)
    return 0;
  const char *chain = nl_attr_str(tb[NFTA_RULE_CHAIN]);
  if (chain && !strcmp(chain, hs->chain) && hs->used < sizeof hs->out - 24)
    hs->used += (size_t)snprintf(hs->out + hs->used, sizeof hs->out - hs->used, "%llu ",
                                 (unsigned long long)nl_attr_u64(tb[NFTA_RULE_HANDLE]));
  return 0;
}

static void handles(nl_sock_t *s, const char *chain, handles_t *hs) {
  char err[256];
  memset(hs, 0, sizeof *hs);
  hs->chain = chain;
  nl_msg_t m;
  nl_msg_init(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_GETRULE), NLM_F_DUMP, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_RULE_TABLE, NET_PROXY_TABLE);
  if (nft_run(s, &m, handle_cb, hs, "rules", err, sizeof err) < 0)
    TEST_FAIL("dump: %s", err);
}

/* A change to one service port replaces its own chains only: web's rules
 * keep their handles while empty gets endpoints, and the LB's affinity
 * sets, Local chains and external addresses are in the table. */
static void test_incremental(void) {
  TEST_SKIP_UNDER_QEMU("speak NETLINK_NETFILTER (nf_tables)");
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  nl_sock_t *s;
  char err[256];
  static char have[16384];
  ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
  net_proxy_plan_t a = {.cluster = ip4("10.42.0.0"), .cluster_prefix = 16, .node = "n1"};
  make_plan(&a, N(SLICES));
  lb_plan(&a, false);
  if (net_proxy_apply(s, &a, err, sizeof err) < 0)
    TEST_FAIL("apply: %s", err);
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_CONTAINS(have, "loc-default/lb:80: payload(12) @aff-default/lb:80-10.42.1.1:8080 "
                        "goto:ep-default/lb:80-10.42.1.1:8080;loc-default/lb:80: "
                        "goto:ep-default/lb:80-10.42.1.1:8080");
  ASSERT_CONTAINS(have, "ep-default/lb:80-10.42.2.1:8080: payload(12) "
                        "update(@aff-default/lb:80-10.42.2.1:8080)");
  ASSERT_CONTAINS(have, "ext-default/lb:80: payload(12) &255.255.0.0 ==10.42.0.0 "
                        "goto:svc-default/lb:80;ext-default/lb:80: fib ==2 imm(0.64.0.0) "
                        "meta-set(3) goto:svc-default/lb:80;ext-default/lb:80: goto:loc-default/lb:80");
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "services", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_CONTAINS(have, "10.43.0.30 . 6 . 80 : goto:loc-default/lb:80");
  ASSERT_CONTAINS(have, "192.168.5.1 . 6 . 80 : goto:ext-default/lb:80");
  ASSERT_CONTAINS(have, "192.168.5.2 . 6 . 80 : goto:ext-default/lb:80");
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "nodeports", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_CONTAINS(have, "6 . 30081 : goto:ext-default/lb:80");
  handles_t h1, h2, h3, h4;
  handles(s, "svc-default/web:http", &h1);
  handles(s, "ep-default/lb:80-10.42.1.1:8080", &h2);
  if (!h1.used || !h2.used)
    TEST_FAIL("no rules in web's or lb's chains");
  /* empty (plan.v[0]) gets an endpoint */
  net_proxy_plan_t b;
  net_proxy_plan_copy(&a, &b);
  ASSERT_EQ_STR(b.v[0].name, "default/empty:8080");
  b.v[0].eps = malloc(sizeof *b.v[0].eps);
  b.v[0].eps[0] = (net_proxy_ep_t){.ip = ip4("10.42.3.3"), .port = 8080};
  b.v[0].n_eps = 1;
  if (net_proxy_apply_diff(s, &a, &b, err, sizeof err) < 0)
    TEST_FAIL("apply the change: %s", err);
  handles(s, "svc-default/web:http", &h3);
  handles(s, "ep-default/lb:80-10.42.1.1:8080", &h4);
  ASSERT_EQ_STR(h3.out, h1.out);
  ASSERT_EQ_STR(h4.out, h2.out);
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "services", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_CONTAINS(have, "10.43.0.20 . 6 . 8080 : goto:svc-default/empty:8080");
  ASSERT_EQ_INT(nft_describe_elems(s, NET_PROXY_TABLE, "no-endpoints", have, sizeof have, err,
                                   sizeof err), 0);
  ASSERT_EQ_STR(have, "");
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_CONTAINS(have, "ep-default/empty:8080-10.42.3.3:8080: imm(10.42.3.3) imm(8080) dnat");
  /* the LB loses its ready endpoints: its chains change (the terminating
   * one serves), web's do not */
  net_proxy_plan_t c = {.cluster = ip4("10.42.0.0"), .cluster_prefix = 16, .node = "n1"};
  make_plan(&c, N(SLICES));
  lb_plan(&c, true);
  c.v[0].eps = malloc(sizeof *c.v[0].eps);
  c.v[0].eps[0] = (net_proxy_ep_t){.ip = ip4("10.42.3.3"), .port = 8080};
  c.v[0].n_eps = 1;
  if (net_proxy_apply_diff(s, &b, &c, err, sizeof err) < 0)
    TEST_FAIL("apply the second change: %s", err);
  handles(s, "svc-default/web:http", &h3);
  ASSERT_EQ_STR(h3.out, h1.out);
  handles(s, "ep-default/lb:80-10.42.1.1:8080", &h4);
  ASSERT_EQ_STR(h4.out, ""); /* gone */
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_CONTAINS(have, "ep-default/lb:80-10.42.1.2:8080: imm(10.42.1.2) imm(8080) dnat");
  ASSERT_EQ_INT(count(have, "10.42.1.1"), 0);
  ASSERT_EQ_INT(count(have, "10.42.2.1"), 0);
  /* back to a: everything as first applied */
  if (net_proxy_apply_diff(s, &c, &a, err, sizeof err) < 0)
    TEST_FAIL("apply the way back: %s", err);
  ASSERT_EQ_INT(net_proxy_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_EQ_INT(count(have, "10.42.3.3"), 0);
  ASSERT_EQ_INT(count(have, "10.42.1.2"), 0);
  ASSERT_CONTAINS(have, "ep-default/lb:80-10.42.1.1:8080: imm(10.42.1.1) imm(8080) dnat");
  net_proxy_plan_free(&a);
  net_proxy_plan_free(&b);
  net_proxy_plan_free(&c);
  ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
  nl_close(s);
}

/* ClientIP affinity with real packets: UDP from new sockets (new flows,
 * new source ports) to a ClusterIP with two endpoints on lo all reach
 * the same endpoint, and the client's address is in that endpoint's set;
 * without affinity both are reached. */
static int udp_rounds(nl_sock_t *s, bool affinity, int *ret_a, int *ret_b, char *err, size_t errlen) {
  net_proxy_plan_t plan = {.cluster_prefix = -1};
  plan.v = calloc(1, sizeof *plan.v);
  plan.n = 1;
  snprintf(plan.v[0].name, sizeof plan.v[0].name, "default/aff:53");
  plan.v[0].proto = IPPROTO_UDP;
  plan.v[0].cluster_ip = ip4("10.43.0.11");
  plan.v[0].port = 53;
  plan.v[0].affinity = affinity ? 60 : 0;
  plan.v[0].eps = calloc(2, sizeof *plan.v[0].eps);
  plan.v[0].eps[0] = (net_proxy_ep_t){.ip = ip4("127.0.0.1"), .port = 5301};
  plan.v[0].eps[1] = (net_proxy_ep_t){.ip = ip4("127.0.0.1"), .port = 5302};
  plan.v[0].n_eps = 2;
  int r = net_proxy_apply(s, &plan, err, errlen);
  net_proxy_plan_free(&plan);
  if (r < 0)
    return r;
  int rx[2];
  for (int i = 0; i < 2; i++) {
    rx[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(5301 + i),
                             .sin_addr = ip4("127.0.0.1")};
    if (bind(rx[i], (struct sockaddr *)&at, sizeof at) < 0)
      TEST_FAIL("bind 127.0.0.1:%d: %s", 5301 + i, strerror(errno));
  }
  for (int i = 0; i < 20; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53),
                             .sin_addr = ip4("10.43.0.11")};
    if (sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to) != 1)
      TEST_FAIL("sendto: %s", strerror(errno));
    close(fd);
  }
  usleep(50000);
  int got[2] = {0, 0};
  char b;
  for (int i = 0; i < 2; i++) {
    while (recv(rx[i], &b, 1, 0) == 1)
      got[i]++;
    close(rx[i]);
  }
  *ret_a = got[0];
  *ret_b = got[1];
  return 0;
}

static void test_affinity(void) {
  TEST_SKIP_UNDER_QEMU("speak NETLINK_NETFILTER (nf_tables)");
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  if (system("ip link set lo up && ip route add 10.43.0.0/16 dev lo src 127.0.0.1") != 0)
    TEST_SKIP("no ip program to set up lo");
  nl_sock_t *s;
  char err[256];
  static char have[4096];
  ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
  int a, b;
  if (udp_rounds(s, false, &a, &b, err, sizeof err) < 0)
    TEST_FAIL("apply: %s", err);
  ASSERT_EQ_INT(a + b, 20);
  if (a == 0 || b == 0) /* all 20 on one: 1 in 2^19 by chance */
    TEST_FAIL("without affinity both endpoints get datagrams: %d and %d", a, b);
  ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
  if (udp_rounds(s, true, &a, &b, err, sizeof err) < 0)
    TEST_FAIL("apply: %s", err);
  ASSERT_EQ_INT(a + b, 20);
  if (a && b)
    TEST_FAIL("with ClientIP affinity one endpoint gets all 20: %d and %d", a, b);
  char set[128];
  snprintf(set, sizeof set, "aff-default/aff:53-127.0.0.1:%d", a ? 5301 : 5302);
  if (nft_describe_elems(s, NET_PROXY_TABLE, set, have, sizeof have, err, sizeof err) < 0)
    TEST_FAIL("elements: %s", err);
  ASSERT_EQ_STR(have, "127.0.0.1");
  ASSERT_EQ_INT(net_proxy_remove(s, err, sizeof err), 0);
  nl_close(s);
}

TEST_LIST = {TEST(test_plan), TEST(test_kernel), TEST(test_many), TEST(test_conntrack),
             TEST(test_plan_policies), TEST(test_incremental), TEST(test_affinity), {0}};
TEST_MAIN()
