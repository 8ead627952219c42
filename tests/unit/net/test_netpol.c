/* pkg/net netpol: ipBlock pieces (cidr minus except), the plan compiled
 * from NetworkPolicies, Pods and Namespaces (which local pods are
 * isolated, which peers and ports each rule allows, named ports resolved
 * per pod, policyTypes defaults), and, as root in a network namespace of
 * the test's own, table ip k3c-netpol made from it, its sets refilled, read
 * back and removed. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <linux/netlink.h>

#include "net/netpol.h"
#include "net/nl.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *pieces(const char *cidr, const char *const *ex, size_t n) {
  struct in_addr net[64];
  int prefix[64];
  int got = net_netpol_cidr_minus(cidr, ex, n, net, prefix, 64);
  static char out[2048];
  if (got < 0) {
    snprintf(out, sizeof out, "error %d", got);
    return out;
  }
  out[0] = 0;
  for (int i = 0; i < got; i++) {
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &net[i], ip, sizeof ip);
    snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s/%d", i ? " " : "", ip, prefix[i]);
  }
  return out;
}

static void test_cidr_minus(void) {
  const char *one[] = {"10.1.0.0/16"};
  ASSERT_EQ_STR(pieces("10.0.0.0/8", one, 1),
                "10.0.0.0/16 10.2.0.0/15 10.4.0.0/14 10.8.0.0/13 10.16.0.0/12 10.32.0.0/11 "
                "10.64.0.0/10 10.128.0.0/9");
  ASSERT_EQ_STR(pieces("10.0.0.0/8", NULL, 0), "10.0.0.0/8");
  /* host bits are masked off; an except elsewhere changes nothing */
  const char *away[] = {"192.168.0.0/16"};
  ASSERT_EQ_STR(pieces("172.16.5.9/30", away, 1), "172.16.5.8/30");
  /* an except covering the block leaves nothing */
  const char *all[] = {"0.0.0.0/0"};
  ASSERT_EQ_STR(pieces("10.0.0.0/24", all, 1), "");
  /* two excepts, one a single address */
  const char *two[] = {"10.0.0.0/26", "10.0.0.255/32"};
  ASSERT_EQ_STR(pieces("10.0.0.0/24", two, 2),
                "10.0.0.64/26 10.0.0.128/26 10.0.0.192/27 10.0.0.224/28 10.0.0.240/29 "
                "10.0.0.248/30 10.0.0.252/31 10.0.0.254/32");
  ASSERT_EQ_STR(pieces("0.0.0.0/0", NULL, 0), "0.0.0.0/0");
  const char *bad[] = {"10.0.0.0/33"};
  ASSERT_EQ_STR(pieces("10.0.0.0/8", bad, 1), "error -22");
  ASSERT_EQ_STR(pieces("fd00::/8", NULL, 0), "error -22");
  ASSERT_EQ_STR(pieces("10.0.0.0", NULL, 0), "error -22");
  /* more pieces than room */
  struct in_addr net[2];
  int prefix[2];
  ASSERT_EQ_INT(net_netpol_cidr_minus("10.0.0.0/8", one, 1, net, prefix, 2), -E2BIG);
}

static const char *NSS[] = {
    "{\"metadata\":{\"name\":\"default\",\"labels\":{\"team\":\"a\"}}}",
    "{\"metadata\":{\"name\":\"other\",\"labels\":{\"team\":\"b\"}}}",
    "{\"metadata\":{\"name\":\"bare\"}}",
};

#define POD(ns, name, labels, node, ip, extra)                                                  \
  "{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"labels\":" labels "},"      \
  "\"spec\":{\"nodeName\":\"" node "\"" extra "},\"status\":{\"phase\":\"Running\","             \
  "\"podIP\":\"" ip "\"}}"
#define PORTS(...) ",\"containers\":[{\"name\":\"c\",\"ports\":[" __VA_ARGS__ "]}]"

static const char *PODS[] = {
    POD("default", "a1", "{\"app\":\"a\"}", "n1", "10.42.1.5",
        PORTS("{\"name\":\"http\",\"containerPort\":8080},"
              "{\"name\":\"dns\",\"containerPort\":5353,\"protocol\":\"UDP\"}")),
    POD("default", "b2", "{\"app\":\"b\"}", "n2", "10.42.2.5",
        PORTS("{\"name\":\"http\",\"containerPort\":9090}")),
    POD("other", "c1", "{\"app\":\"c\"}", "n1", "10.42.1.6", ""),
    POD("bare", "d2", "{\"app\":\"b\"}", "n2", "10.42.2.7",
        PORTS("{\"name\":\"http\",\"containerPort\":8080}")),
    /* not peers: host network, finished, no IP yet */
    POD("default", "host", "{\"app\":\"b\"}", "n1", "172.31.0.1", ",\"hostNetwork\":true"),
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"done\",\"labels\":{\"app\":\"b\"}},"
    "\"spec\":{\"nodeName\":\"n2\"},\"status\":{\"phase\":\"Succeeded\",\"podIP\":\"10.42.2.9\"}}",
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"new\",\"labels\":{\"app\":\"b\"}},"
    "\"spec\":{\"nodeName\":\"n2\"},\"status\":{\"phase\":\"Pending\"}}",
};

static const char *POLICIES[] = {
    /* default deny of ingress for every pod of default */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"deny\"},\"spec\":{\"podSelector\":{},"
    "\"policyTypes\":[\"Ingress\"]}}",
    /* a: from app=b pods of default on TCP 80, from namespaces team=b on the
     * named port http (resolved on a1: 8080), from an ipBlock on UDP
     * 1000-2000 */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"allow\"},\"spec\":{\"podSelector\":"
    "{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
    "{\"app\":\"b\"}}}],\"ports\":[{\"port\":80}]},{\"from\":[{\"namespaceSelector\":"
    "{\"matchExpressions\":[{\"key\":\"team\",\"operator\":\"In\",\"values\":[\"b\"]}]}}],"
    "\"ports\":[{\"port\":\"http\"},{\"port\":\"dns\",\"protocol\":\"UDP\"},{\"port\":\"nope\"}]},"
    "{\"from\":[{\"ipBlock\":{\"cidr\":\"192.168.0.0/23\",\"except\":[\"192.168.1.0/24\"]}}],"
    "\"ports\":[{\"protocol\":\"UDP\",\"port\":1000,\"endPort\":2000}]}]}}",
    /* other: egress only through its rules (policyTypes defaulted from
     * egress); the named port http of pods of any namespace labelled
     * kubernetes.io/metadata.name (bare has no labels: the API server's
     * label is assumed); everything to app=b of default; ingress: a rule {}
     * allows all */
    "{\"metadata\":{\"namespace\":\"other\",\"name\":\"out\"},\"spec\":{\"podSelector\":{},"
    "\"ingress\":[{}],\"egress\":[{\"to\":[{\"namespaceSelector\":{\"matchExpressions\":[{\"key\":"
    "\"kubernetes.io/metadata.name\",\"operator\":\"Exists\"}]}}],\"ports\":[{\"port\":\"http\"}]},"
    "{\"to\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},\"namespaceSelector\":"
    "{\"matchLabels\":{\"team\":\"a\"}}}]},{\"ports\":[{\"protocol\":\"SCTP\"}]}]}}",
    /* selects no pod on n1: nothing of it in the plan */
    "{\"metadata\":{\"namespace\":\"bare\",\"name\":\"none\"},\"spec\":{\"podSelector\":{},"
    "\"policyTypes\":[\"Ingress\",\"Egress\"]}}",
    /* a selector that does not parse allows nothing (fail closed) */
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"zbad\"},\"spec\":{\"podSelector\":"
    "{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{\"from\":[{\"podSelector\":"
    "{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Bogus\"}]}}]}]}}",
};

typedef struct {
  cJSON *v[16];
  size_t n;
} objs_t;

static void parse_all(objs_t *o, const char *const *src, size_t n) {
  o->n = 0;
  for (size_t i = 0; i < n; i++) {
    o->v[o->n] = cJSON_Parse(src[i]);
    if (!o->v[o->n])
      TEST_FAIL("bad fixture %zu: %s", i, src[i]);
    o->n++;
  }
}

static void free_all(objs_t *o) {
  for (size_t i = 0; i < o->n; i++)
    cJSON_Delete(o->v[i]);
}

static void build(net_netpol_plan_t *plan, const char *node, objs_t *pols, objs_t *pods,
                  objs_t *nss) {
  net_netpol_plan_build(plan, node, (const cJSON *const *)pols->v, pols->n,
                        (const cJSON *const *)pods->v, pods->n, (const cJSON *const *)nss->v,
                        nss->n);
}

static void test_plan(void) {
  objs_t pols, pods, nss;
  parse_all(&pols, POLICIES, N(POLICIES));
  parse_all(&pods, PODS, N(PODS));
  parse_all(&nss, NSS, N(NSS));
  net_netpol_plan_t plan = {0};
  build(&plan, "n1", &pols, &pods, &nss);
  char *text = net_netpol_plan_text(&plan, true);
  ASSERT_EQ_STR(text,
                "pod 10.42.1.5 default/a1 in: in:default/allow in:default/deny in:default/zbad "
                "out: -\n"
                "pod 10.42.1.6 other/c1 in: in:other/out out: out:other/out\n"
                "chain in:default/allow\n"
                "  @in:default/allow:0 tcp 80\n"
                "  @in:default/allow:1 tcp 8080 pod 10.42.1.5\n"
                "  @in:default/allow:1 udp 5353 pod 10.42.1.5\n"
                "  192.168.0.0/24 udp 1000-2000\n"
                "chain in:default/deny\n"
                "chain in:default/zbad\n"
                "  @in:default/zbad:0 all\n"
                "chain in:other/out\n"
                "  any all\n"
                "chain out:other/out\n"
                "  @out:other/out:0:http/tcp/8080 tcp 8080\n"
                "  @out:other/out:0:http/tcp/9090 tcp 9090\n"
                "  @out:other/out:1 all\n"
                "  any sctp *\n"
                "set in:default/allow:0: 10.42.2.5\n"
                "set in:default/allow:1: 10.42.1.6\n"
                "set in:default/zbad:0:\n"
                "set out:other/out:0:http/tcp/8080: 10.42.1.5 10.42.2.7\n"
                "set out:other/out:0:http/tcp/9090: 10.42.2.5\n"
                "set out:other/out:1: 10.42.2.5\n");
  free(text);
  /* without sets: the structure only (what a full rebuild is decided on) */
  text = net_netpol_plan_text(&plan, false);
  ASSERT_TRUE(strstr(text, "set ") == NULL);
  ASSERT_CONTAINS(text, "chain out:other/out\n");
  free(text);
  net_netpol_plan_free(&plan);
  /* node n2: b2 and d2; bare/none isolates d2 both ways with no rules */
  build(&plan, "n2", &pols, &pods, &nss);
  text = net_netpol_plan_text(&plan, true);
  ASSERT_EQ_STR(text, "pod 10.42.2.5 default/b2 in: in:default/deny out: -\n"
                      "pod 10.42.2.7 bare/d2 in: in:bare/none out: out:bare/none\n"
                      "chain in:bare/none\n"
                      "chain out:bare/none\n"
                      "chain in:default/deny\n");
  free(text);
  net_netpol_plan_free(&plan);
  /* no policies (the agent's empty caches give NULL lists): nothing isolated */
  net_netpol_plan_build(&plan, "n1", NULL, 0, (const cJSON *const *)pods.v, pods.n, NULL, 0);
  text = net_netpol_plan_text(&plan, true);
  ASSERT_EQ_STR(text, "");
  free(text);
  net_netpol_plan_free(&plan);
  net_netpol_plan_build(&plan, "n1", NULL, 0, NULL, 0, NULL, 0);
  ASSERT_EQ_INT((int)plan.n_pods + (int)plan.n_chains + (int)plan.n_sets, 0);
  net_netpol_plan_free(&plan);
  free_all(&pols);
  free_all(&pods);
  free_all(&nss);
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
  objs_t pols, pods, nss;
  parse_all(&pols, POLICIES, N(POLICIES));
  parse_all(&pods, PODS, N(PODS));
  parse_all(&nss, NSS, N(NSS));
  net_netpol_plan_t plan = {0};
  build(&plan, "n1", &pols, &pods, &nss);
  nl_sock_t *s;
  ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
  char err[256];
  static char have[16384];
  ASSERT_EQ_INT(net_netpol_describe(s, have, sizeof have, err, sizeof err), -ENOENT);
  if (net_netpol_apply(s, &plan, err, sizeof err) < 0)
    TEST_FAIL("apply: %s", err);
  if (net_netpol_describe(s, have, sizeof have, err, sizeof err) < 0)
    TEST_FAIL("describe: %s", err);
  /* the hooks: established first, then a jump per isolated pod */
  ASSERT_CONTAINS(have, "ingress: ct &6 !=0 accept;ingress: payload(16) ==10.42.1.5 "
                        "jump:pod-in:10.42.1.5;ingress: payload(16) ==10.42.1.6 "
                        "jump:pod-in:10.42.1.6");
  ASSERT_CONTAINS(have, "egress: ct &6 !=0 accept;egress: payload(12) ==10.42.1.6 "
                        "jump:pod-out:10.42.1.6");
  ASSERT_CONTAINS(have, "pod-in:10.42.1.5: jump:in:default/allow;pod-in:10.42.1.5: "
                        "jump:in:default/deny;pod-in:10.42.1.5: jump:in:default/zbad;"
                        "pod-in:10.42.1.5: drop");
  ASSERT_CONTAINS(have, "in:default/allow: payload(12) @in:default/allow:0 meta(16) ==6 "
                        "payload(th:2) ==80 accept");
  ASSERT_CONTAINS(have, "in:default/allow: payload(12) @in:default/allow:1 meta(16) ==17 "
                        "payload(th:2) ==5353 payload(16) ==10.42.1.5 accept");
  /* a port range: >= and <= show as != in the describe's two-way view */
  ASSERT_CONTAINS(have, "in:default/allow: payload(12) &255.255.255.0 ==192.168.0.0 meta(16) "
                        "==17 payload(th:2)");
  ASSERT_CONTAINS(have, "in:other/out: accept");
  ASSERT_CONTAINS(have, "out:other/out: payload(16) @out:other/out:1 accept");
  ASSERT_CONTAINS(have, "out:other/out: meta(16) ==132 accept");
  ASSERT_EQ_INT(count(have, " drop"), 3); /* a1 in, c1 in, c1 out */
  char elems[1024];
  ASSERT_EQ_INT(net_netpol_describe_set(s, "out:other/out:0:http/tcp/8080", elems, sizeof elems,
                                        err, sizeof err), 0);
  ASSERT_TRUE(!strcmp(elems, "10.42.1.5 10.42.2.7") || !strcmp(elems, "10.42.2.7 10.42.1.5"));
  ASSERT_EQ_INT(net_netpol_describe_set(s, "in:default/zbad:0", elems, sizeof elems, err,
                                        sizeof err), 0);
  ASSERT_EQ_STR(elems, "");
  /* the sets refilled in place: allow:0 gets two addresses, zbad:0 one */
  net_netpol_set_t *s0 = &plan.sets[0];
  ASSERT_EQ_STR(s0->name, "in:default/allow:0");
  s0->ips = realloc(s0->ips, 2 * sizeof *s0->ips);
  inet_pton(AF_INET, "10.42.3.3", &s0->ips[1]);
  s0->n = 2;
  bool changed[16] = {true, false, false};
  ASSERT_EQ_STR(plan.sets[2].name, "in:default/zbad:0");
  changed[2] = true;
  plan.sets[2].ips = malloc(sizeof *plan.sets[2].ips);
  inet_pton(AF_INET, "10.42.9.9", &plan.sets[2].ips[0]);
  plan.sets[2].n = 1;
  if (net_netpol_update_sets(s, &plan, changed, err, sizeof err) < 0)
    TEST_FAIL("update sets: %s", err);
  ASSERT_EQ_INT(net_netpol_describe_set(s, "in:default/allow:0", elems, sizeof elems, err,
                                        sizeof err), 0);
  ASSERT_TRUE(!strcmp(elems, "10.42.2.5 10.42.3.3") || !strcmp(elems, "10.42.3.3 10.42.2.5"));
  ASSERT_EQ_INT(net_netpol_describe_set(s, "in:default/zbad:0", elems, sizeof elems, err,
                                        sizeof err), 0);
  ASSERT_EQ_STR(elems, "10.42.9.9");
  /* emptied */
  plan.sets[2].n = 0;
  ASSERT_EQ_INT(net_netpol_update_sets(s, &plan, changed, err, sizeof err), 0);
  ASSERT_EQ_INT(net_netpol_describe_set(s, "in:default/zbad:0", elems, sizeof elems, err,
                                        sizeof err), 0);
  ASSERT_EQ_STR(elems, "");
  net_netpol_plan_free(&plan);
  /* replaced by an empty plan: only the established rules stay */
  ASSERT_EQ_INT(net_netpol_apply(s, &plan, err, sizeof err), 0);
  ASSERT_EQ_INT(net_netpol_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_EQ_INT(count(have, ";"), 1);
  ASSERT_EQ_INT(count(have, "ct &6 !=0 accept"), 2);
  ASSERT_EQ_INT(net_netpol_remove(s, err, sizeof err), 0);
  ASSERT_EQ_INT(net_netpol_describe(s, have, sizeof have, err, sizeof err), -ENOENT);
  ASSERT_EQ_INT(net_netpol_remove(s, err, sizeof err), 0);
  nl_close(s);
  free_all(&pols);
  free_all(&pods);
  free_all(&nss);
}

TEST_LIST = {TEST(test_cidr_minus), TEST(test_plan), TEST(test_kernel), {0}};
TEST_MAIN()
