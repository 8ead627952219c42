/* pkg/net cnimsg: the CNI plugin's request parsing (environment, network
 * config, runtimeConfig.portMappings, prevResult), its errors with the
 * spec's codes, and the result, error and version JSON. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json/util.h"
#include "net/cnimsg.h"
#include "test.h"

static const char *ip(struct in_addr a, char *buf) {
  inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
  return buf;
}

static net_cni_env_t env(const char *cmd) {
  return (net_cni_env_t){cmd, "c0ffee", "/var/run/netns/cni-1", "eth0", NULL, "/opt/cni/bin"};
}

#define CONF(extra)                                                                       \
  "{\"cniVersion\":\"1.0.0\",\"name\":\"k3c\",\"type\":\"k3c-cni\",\"bridge\":\"cni0\"," \
  "\"mtu\":1450,\"ipam\":{\"type\":\"k3c\",\"subnet\":\"10.42.3.7/24\","                 \
  "\"dataDir\":\"/var/lib/k3c/agent/cni/ipam\"}" extra "}"

static void test_parse_add(void) {
  net_cni_env_t e = env("ADD");
  const char *conf = CONF(",\"runtimeConfig\":{\"portMappings\":["
                          "{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"},"
                          "{\"hostPort\":0,\"containerPort\":81,\"protocol\":\"tcp\"},"
                          "{\"hostPort\":53,\"containerPort\":5353,\"protocol\":\"udp\","
                          "\"hostIP\":\"127.0.0.1\"},"
                          "{\"hostPort\":54,\"containerPort\":54,\"hostIP\":\"::1\"},"
                          /* containerd 1.6 (go-cni) sends Go's field names */
                          "{\"HostPort\":9000,\"ContainerPort\":90,\"Protocol\":\"sctp\","
                          "\"HostIP\":\"\"}]}");
  net_cni_req_t *q = calloc(1, sizeof *q);
  net_cni_err_t er = {0};
  char b[INET_ADDRSTRLEN];
  int r = net_cni_parse(&e, conf, strlen(conf), q, &er);
  if (r < 0)
    TEST_FAIL("parse: %d %s: %s", er.code, er.msg, er.details);
  ASSERT_EQ_INT(q->cmd, NET_CNI_ADD);
  ASSERT_EQ_STR(q->version, "1.0.0");
  ASSERT_EQ_STR(q->name, "k3c");
  ASSERT_EQ_STR(q->type, "k3c-cni");
  ASSERT_EQ_STR(q->container_id, "c0ffee");
  ASSERT_EQ_STR(q->netns, "/var/run/netns/cni-1");
  ASSERT_EQ_STR(q->ifname, "eth0");
  ASSERT_EQ_STR(q->bridge, "cni0");
  ASSERT_EQ_INT(q->mtu, 1450);
  ASSERT_EQ_STR(ip(q->subnet, b), "10.42.3.0"); /* host bits dropped */
  ASSERT_EQ_INT(q->prefix, 24);
  ASSERT_EQ_STR(ip(q->gateway, b), "10.42.3.1");
  ASSERT_EQ_STR(q->data_dir, "/var/lib/k3c/agent/cni/ipam");
  /* hostPort 0 and the IPv6 hostIP are not mapped */
  ASSERT_EQ_INT(q->nports, 3);
  ASSERT_EQ_INT(q->ports[2].host_port, 9000);
  ASSERT_EQ_INT(q->ports[2].container_port, 90);
  ASSERT_EQ_INT(q->ports[2].proto, IPPROTO_SCTP);
  ASSERT_EQ_INT(q->ports[2].host_ip.s_addr, 0);
  ASSERT_EQ_INT(q->ports[0].host_port, 8080);
  ASSERT_EQ_INT(q->ports[0].container_port, 80);
  ASSERT_EQ_INT(q->ports[0].proto, IPPROTO_TCP);
  ASSERT_EQ_INT(q->ports[0].host_ip.s_addr, 0);
  ASSERT_EQ_INT(q->ports[1].proto, IPPROTO_UDP);
  ASSERT_EQ_STR(ip(q->ports[1].host_ip, b), "127.0.0.1");
  ASSERT_EQ_INT(q->prev_addr.s_addr, 0);
  /* not NUL-terminated: only conflen bytes are read */
  char *cut = strdup(conf);
  cut[strlen(conf) - 1] = 'x';
  ASSERT_EQ_INT(net_cni_parse(&e, cut, strlen(conf) - 1, q, &er), -EINVAL);
  ASSERT_EQ_INT(er.code, NET_CNI_E_DECODE);
  free(cut);
  free(q);
}

static void test_parse_other(void) {
  net_cni_req_t *q = calloc(1, sizeof *q);
  net_cni_err_t er = {0};
  char b[INET_ADDRSTRLEN];
  /* DEL without a namespace is fine (the runtime may have none left) */
  net_cni_env_t e = env("DEL");
  e.netns = NULL;
  const char *conf = CONF("");
  ASSERT_EQ_INT(net_cni_parse(&e, conf, strlen(conf), q, &er), 0);
  ASSERT_EQ_INT(q->cmd, NET_CNI_DEL);
  ASSERT_EQ_STR(q->netns, "");
  /* DEL ignores runtimeConfig (the lease has the mappings): a bad one does
   * not make the sandbox undeletable */
  const char *badports =
      CONF(",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":1,\"containerPort\":0}]}");
  ASSERT_EQ_INT(net_cni_parse(&e, badports, strlen(badports), q, &er), 0);
  ASSERT_EQ_INT(q->nports, 0);
  /* CHECK with 0.4.0 and prevResult: its address */
  e = env("CHECK");
  const char *chk = "{\"cniVersion\":\"0.4.0\",\"name\":\"k3c\",\"type\":\"k3c-cni\","
                    "\"ipam\":{\"subnet\":\"10.42.0.0/24\",\"dataDir\":\"/x\"},"
                    "\"prevResult\":{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\","
                    "\"address\":\"10.42.0.9/24\",\"interface\":2}]}}";
  ASSERT_EQ_INT(net_cni_parse(&e, chk, strlen(chk), q, &er), 0);
  ASSERT_EQ_INT(q->cmd, NET_CNI_CHECK);
  ASSERT_EQ_STR(q->version, "0.4.0");
  ASSERT_EQ_STR(ip(q->prev_addr, b), "10.42.0.9");
  ASSERT_EQ_INT(q->prev_prefix, 24);
  ASSERT_EQ_STR(q->bridge, "cni0"); /* the default */
  ASSERT_EQ_INT(q->mtu, 0);
  /* containerd's own loopback network (0.3.1) */
  e = env("ADD");
  e.ifname = "lo";
  const char *lo = "{\"cniVersion\":\"0.3.1\",\"name\":\"cni-loopback\",\"type\":\"loopback\"}";
  ASSERT_EQ_INT(net_cni_parse(&e, lo, strlen(lo), q, &er), 0);
  ASSERT_EQ_STR(q->type, "loopback");
  ASSERT_EQ_STR(q->ifname, "lo");
  /* VERSION needs neither environment nor config */
  net_cni_env_t v = {.command = "VERSION"};
  ASSERT_EQ_INT(net_cni_parse(&v, NULL, 0, q, &er), 0);
  ASSERT_EQ_INT(q->cmd, NET_CNI_VERSION);
  free(q);
}

/* Each broken request gets the spec's code and a reason. */
static void test_parse_errors(void) {
  static const struct {
    const char *cmd, *netns, *ifname, *conf;
    int code;
    const char *version, *details;
  } cases[] = {
      {NULL, "/n", "eth0", CONF(""), 4, "", "CNI_COMMAND is not set"},
      {"ADDX", "/n", "eth0", CONF(""), 4, "", "CNI_COMMAND \"ADDX\" is not ADD, DEL, CHECK"},
      {"ADD", NULL, "eth0", CONF(""), 4, "", "CNI_NETNS is not set"},
      {"CHECK", "", "eth0", CONF(""), 4, "", "CNI_NETNS is not set"},
      {"ADD", "/n", NULL, CONF(""), 4, "", "CNI_IFNAME is not set"},
      {"ADD", "/n", "eth0/1", CONF(""), 4, "", "CNI_IFNAME \"eth0/1\" is not an interface"},
      {"ADD", "/n", "eth0123456789012", CONF(""), 4, "", "CNI_IFNAME is longer than 15"},
      {"ADD", "/n", "eth0", "{nope", 6, "", "not a JSON object"},
      {"ADD", "/n", "eth0", "[1]", 6, "", "not a JSON object"},
      {"ADD", "/n", "eth0", "{\"cniVersion\":\"0.2.0\",\"name\":\"k\",\"type\":\"loopback\"}", 1,
       "", "cniVersion \"0.2.0\" is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0"},
      {"ADD", "/n", "eth0", "{\"name\":\"k\",\"type\":\"loopback\"}", 1, "", "cniVersion \"\""},
      {"CHECK", "/n", "eth0", "{\"cniVersion\":\"0.3.1\",\"name\":\"k\",\"type\":\"loopback\"}",
       1, "0.3.1", "CHECK needs cniVersion 0.4.0 or later"},
      {"ADD", "/n", "eth0", "{\"cniVersion\":1,\"name\":\"k\"}", 2, "", "\"cniVersion\" must be a string"},
      {"ADD", "/n", "eth0", "{\"cniVersion\":\"1.0.0\",\"type\":\"loopback\"}", 7, "1.0.0",
       "\"name\" is required"},
      {"ADD", "/n", "eth0", "{\"cniVersion\":\"1.0.0\",\"name\":\"k\",\"type\":\"bridge\"}", 7,
       "1.0.0", "plugin type \"bridge\""},
      {"ADD", "/n", "eth0", "{\"cniVersion\":\"1.0.0\",\"name\":\"k\",\"type\":\"k3c-cni\"}", 7,
       "1.0.0", "\"ipam\" with \"subnet\" and \"dataDir\" is required"},
      {"ADD", "/n", "eth0",
       "{\"cniVersion\":\"1.0.0\",\"name\":\"k\",\"type\":\"k3c-cni\",\"ipam\":{\"subnet\":"
       "\"10.42.0.0/31\",\"dataDir\":\"/x\"}}",
       7, "1.0.0", "ipam subnet \"10.42.0.0/31\" is not an IPv4 CIDR of prefix length 8..30"},
      {"ADD", "/n", "eth0",
       "{\"cniVersion\":\"1.0.0\",\"name\":\"k\",\"type\":\"k3c-cni\",\"ipam\":{\"subnet\":"
       "\"10.42.0.0/24\",\"dataDir\":\"rel\"}}",
       7, "1.0.0", "dataDir must be an absolute path"},
      {"ADD", "/n", "eth0",
       "{\"cniVersion\":\"1.0.0\",\"name\":\"k\",\"type\":\"k3c-cni\",\"ipam\":{\"type\":"
       "\"host-local\",\"subnet\":\"10.42.0.0/24\",\"dataDir\":\"/x\"}}",
       7, "1.0.0", "ipam type \"host-local\": this plugin has its own IPAM"},
      {"ADD", "/n", "eth0",
       "{\"cniVersion\":\"1.0.0\",\"name\":\"k\",\"type\":\"k3c-cni\",\"mtu\":20,\"ipam\":{"
       "\"subnet\":\"10.42.0.0/24\",\"dataDir\":\"/x\"}}",
       7, "1.0.0", "\"mtu\" must be a number in 68..65535"},
      {"ADD", "/n", "eth0",
       CONF(",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":1,\"containerPort\":70000}]}"),
       7, "1.0.0", "hostPort and containerPort in 1..65535"},
      {"ADD", "/n", "eth0",
       CONF(",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":1,\"containerPort\":1,"
            "\"protocol\":\"icmp\"}]}"),
       7, "1.0.0", "protocol \"icmp\": tcp, udp or sctp"},
      {"ADD", "/n", "eth0", CONF(",\"runtimeConfig\":{\"portMappings\":{}}"), 2, "1.0.0",
       "portMappings must be a list"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    net_cni_env_t e = {.command = cases[i].cmd, .container_id = "c0ffee", .netns = cases[i].netns, .ifname = cases[i].ifname};
    net_cni_req_t *q = calloc(1, sizeof *q);
    snprintf(q->version, sizeof q->version, "junk");
    net_cni_err_t er = {0};
    int r = net_cni_parse(&e, cases[i].conf, strlen(cases[i].conf), q, &er);
    if (r != -EINVAL || er.code != cases[i].code || !strstr(er.details, cases[i].details) ||
        strcmp(q->version, cases[i].version))
      TEST_FAIL("case %zu: got %d code %d version \"%s\" \"%s\", want code %d version \"%s\" \"%s\"",
                i, r, er.code, q->version, er.details, cases[i].code, cases[i].version,
                cases[i].details);
    ASSERT_TRUE(er.msg[0] != 0);
    free(q);
  }
  /* 64 mappings is the limit */
  char big[8192];
  size_t used = (size_t)snprintf(big, sizeof big, "%s", CONF(",\"runtimeConfig\":{\"portMappings\":["));
  used--; /* drop the closing brace of CONF */
  for (int i = 1; i <= 65; i++)
    used += (size_t)snprintf(big + used, sizeof big - used,
                             "%s{\"hostPort\":%d,\"containerPort\":80}", i > 1 ? "," : "", i);
  snprintf(big + used, sizeof big - used, "]}}");
  net_cni_env_t e = env("ADD");
  net_cni_req_t *q = calloc(1, sizeof *q);
  net_cni_err_t er = {0};
  ASSERT_EQ_INT(net_cni_parse(&e, big, strlen(big), q, &er), -EINVAL);
  ASSERT_CONTAINS(er.details, "more than 64 port mappings");
  free(q);
}

static void test_result_json(void) {
  net_cni_result_t r = {.nifaces = 3, .prefix = 24, .ip_iface = 2};
  inet_pton(AF_INET, "10.42.0.5", &r.addr);
  inet_pton(AF_INET, "10.42.0.1", &r.gateway);
  snprintf(r.ifaces[0].name, 16, "cni0");
  snprintf(r.ifaces[0].mac, 18, "02:00:00:00:00:01");
  snprintf(r.ifaces[1].name, 16, "veth1234");
  snprintf(r.ifaces[2].name, 16, "eth0");
  snprintf(r.ifaces[2].mac, 18, "02:00:00:00:00:03");
  r.ifaces[2].sandbox = "/var/run/netns/cni-1";
  char *s = net_cni_result_json("1.0.0", &r);
  ASSERT_EQ_STR(s, "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\",\"mac\":"
                   "\"02:00:00:00:00:01\"},{\"name\":\"veth1234\"},{\"name\":\"eth0\",\"mac\":"
                   "\"02:00:00:00:00:03\",\"sandbox\":\"/var/run/netns/cni-1\"}],\"ips\":[{"
                   "\"address\":\"10.42.0.5/24\",\"gateway\":\"10.42.0.1\",\"interface\":2}],"
                   "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.42.0.1\"}],\"dns\":{}}");
  free(s);
  /* before 1.0.0 an IP says its version */
  s = net_cni_result_json("0.4.0", &r);
  cJSON *doc = cJSON_Parse(s);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "cniVersion")), "0.4.0");
  const cJSON *ip0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "ips"), 0);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ip0, "version")), "4");
  cJSON_Delete(doc);
  free(s);
  /* loopback: no gateway, no route */
  net_cni_result_t lo = {.nifaces = 1, .prefix = 8};
  inet_pton(AF_INET, "127.0.0.1", &lo.addr);
  snprintf(lo.ifaces[0].name, 16, "lo");
  s = net_cni_result_json("", &lo);
  ASSERT_EQ_STR(s, "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\"}],\"ips\":[{"
                   "\"address\":\"127.0.0.1/8\",\"interface\":0}],\"routes\":[],\"dns\":{}}");
  free(s);
}

static void test_error_version_json(void) {
  net_cni_err_t e;
  net_cni_fail(&e, 7, "invalid network config", "subnet %s too small", "10.0.0.0/31");
  char *s = net_cni_error_json("0.4.0", &e);
  ASSERT_EQ_STR(s, "{\"cniVersion\":\"0.4.0\",\"code\":7,\"msg\":\"invalid network config\","
                   "\"details\":\"subnet 10.0.0.0/31 too small\"}");
  free(s);
  net_cni_fail(&e, 11, "try again later", "%s", "");
  s = net_cni_error_json("", &e); /* no details: the optional field is left out */
  ASSERT_EQ_STR(s, "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"try again later\"}");
  free(s);
  s = net_cni_version_json();
  ASSERT_EQ_STR(s, "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\","
                   "\"0.4.0\",\"1.0.0\"]}");
  free(s);
  ASSERT_TRUE(net_cni_version_supported("0.4.0"));
  ASSERT_FALSE(net_cni_version_supported("1.1.0"));
  ASSERT_FALSE(net_cni_version_supported(""));
}

static void test_ports_text(void) {
  net_cni_port_t p[3] = {{8080, 80, IPPROTO_TCP, {0}}, {53, 5353, IPPROTO_UDP, {0}},
                         {9, 9, IPPROTO_SCTP, {0}}};
  inet_pton(AF_INET, "127.0.0.1", &p[1].host_ip);
  char text[256];
  net_cni_ports_format(p, 3, text, sizeof text);
  ASSERT_EQ_STR(text, "tcp/8080/80/0.0.0.0 udp/53/5353/127.0.0.1 sctp/9/9/0.0.0.0");
  net_cni_port_t back[4];
  size_t n = 0;
  ASSERT_EQ_INT(net_cni_ports_parse(text, back, 4, &n), 0);
  ASSERT_EQ_INT(n, 3);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ_INT(back[i].host_port, p[i].host_port);
    ASSERT_EQ_INT(back[i].container_port, p[i].container_port);
    ASSERT_EQ_INT(back[i].proto, p[i].proto);
    ASSERT_EQ_INT(back[i].host_ip.s_addr, p[i].host_ip.s_addr);
  }
  ASSERT_EQ_INT(net_cni_ports_parse(text, back, 2, &n), -EINVAL); /* over max */
  ASSERT_EQ_INT(net_cni_ports_parse("", back, 2, &n), 0);
  ASSERT_EQ_INT(n, 0);
  static const char *const bad[] = {"tcp/0/80/0.0.0.0", "icmp/1/1/0.0.0.0", "tcp/1/1/1.2.3",
                                    "tcp/1/1", "tcp/1/70000/0.0.0.0", "tcp/1/1/0.0.0.0x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (net_cni_ports_parse(bad[i], back, 4, &n) != -EINVAL)
      TEST_FAIL("\"%s\" parsed", bad[i]);
  /* too small a buffer: whole entries only */
  net_cni_ports_format(p, 3, text, 30);
  ASSERT_EQ_STR(text, "tcp/8080/80/0.0.0.0");
}

TEST_LIST = {
    TEST(test_parse_add),   TEST(test_parse_other),        TEST(test_parse_errors),
    TEST(test_result_json), TEST(test_error_version_json), TEST(test_ports_text),
    {0},
};
TEST_MAIN()
