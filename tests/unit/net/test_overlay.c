/* pkg/net overlay: the peer a Node object describes, from its podCIDR and
 * flannel annotations; every annotation comes from another node's agent
 * (or any user who may patch Nodes), so malformed ones must be refused,
 * not crash or program garbage. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/overlay.h"
#include "test.h"

/* A Node with podCIDR cidr and annotations type, data, pub (NULL: left out). */
static cJSON *node(const char *cidr, const char *type, const char *data, const char *pub) {
  cJSON *n = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(n, "metadata");
  cJSON_AddStringToObject(md, "name", "peer");
  cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
  if (type)
    cJSON_AddStringToObject(ann, "flannel.alpha.coreos.com/backend-type", type);
  if (data)
    cJSON_AddStringToObject(ann, "flannel.alpha.coreos.com/backend-data", data);
  if (pub)
    cJSON_AddStringToObject(ann, "flannel.alpha.coreos.com/public-ip", pub);
  cJSON *spec = cJSON_AddObjectToObject(n, "spec");
  if (cidr)
    cJSON_AddStringToObject(spec, "podCIDR", cidr);
  return n;
}

#define GOOD_DATA "{\"VNI\":1,\"VtepMAC\":\"0a:58:0a:2a:01:00\"}"

static void expect_ip(struct in_addr a, const char *want) {
  char s[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, s, sizeof s);
  ASSERT_EQ_STR(s, want);
}

static void test_good(void) {
  cJSON *n = node("10.42.1.0/24", "vxlan", GOOD_DATA, "172.31.250.11");
  net_vxlan_peer_t p;
  ASSERT_EQ_INT(net_overlay_peer_of(n, &p), 0);
  expect_ip(p.pod_net, "10.42.1.0");
  ASSERT_EQ_INT(p.pod_prefix, 24);
  expect_ip(p.vtep_ip, "10.42.1.0");
  expect_ip(p.public_ip, "172.31.250.11");
  char mac[18];
  net_vxlan_mac_format(p.vtep_mac, mac, sizeof mac);
  ASSERT_EQ_STR(mac, "0a:58:0a:2a:01:00");
  cJSON_Delete(n);
  /* a host address inside the CIDR: the network address is used */
  n = node("10.42.7.9/24", "vxlan", GOOD_DATA, "172.31.250.11");
  ASSERT_EQ_INT(net_overlay_peer_of(n, &p), 0);
  expect_ip(p.pod_net, "10.42.7.0");
  expect_ip(p.vtep_ip, "10.42.7.0");
  cJSON_Delete(n);
}

static void test_refused(void) {
  struct {
    const char *cidr, *type, *data, *pub, *why;
  } bad[] = {
      {NULL, "vxlan", GOOD_DATA, "172.31.250.11", "no podCIDR"},
      {"10.42.1.0/33", "vxlan", GOOD_DATA, "172.31.250.11", "prefix 33"},
      {"10.42.1.0", "vxlan", GOOD_DATA, "172.31.250.11", "no prefix"},
      {"10.42.1.0/24x", "vxlan", GOOD_DATA, "172.31.250.11", "trailing text"},
      {"fd00::/64", "vxlan", GOOD_DATA, "172.31.250.11", "IPv6"},
      {"10.42.1.0/24", NULL, GOOD_DATA, "172.31.250.11", "no backend-type"},
      {"10.42.1.0/24", "host-gw", GOOD_DATA, "172.31.250.11", "another backend"},
      {"10.42.1.0/24", "vxlan", NULL, "172.31.250.11", "no backend-data"},
      {"10.42.1.0/24", "vxlan", "{not json", "172.31.250.11", "backend-data not JSON"},
      {"10.42.1.0/24", "vxlan", "[1,2]", "172.31.250.11", "backend-data an array"},
      {"10.42.1.0/24", "vxlan", "{\"VNI\":2,\"VtepMAC\":\"0a:58:0a:2a:01:00\"}", "172.31.250.11",
       "VNI 2"},
      {"10.42.1.0/24", "vxlan", "{\"VNI\":\"1\",\"VtepMAC\":\"0a:58:0a:2a:01:00\"}",
       "172.31.250.11", "VNI a string"},
      {"10.42.1.0/24", "vxlan", "{\"VNI\":1}", "172.31.250.11", "no VtepMAC"},
      {"10.42.1.0/24", "vxlan", "{\"VNI\":1,\"VtepMAC\":\"0a:58:0a:2a:01\"}", "172.31.250.11",
       "short VtepMAC"},
      {"10.42.1.0/24", "vxlan", "{\"VNI\":1,\"VtepMAC\":7}", "172.31.250.11", "VtepMAC a number"},
      {"10.42.1.0/24", "vxlan", GOOD_DATA, NULL, "no public-ip"},
      {"10.42.1.0/24", "vxlan", GOOD_DATA, "172.31.250.300", "public-ip out of range"},
      {"10.42.1.0/24", "vxlan", GOOD_DATA, "", "public-ip empty"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *n = node(bad[i].cidr, bad[i].type, bad[i].data, bad[i].pub);
    net_vxlan_peer_t p;
    int r = net_overlay_peer_of(n, &p);
    cJSON_Delete(n);
    if (r != -EINVAL)
      TEST_FAIL("%s: accepted (%d)", bad[i].why, r);
  }
  /* annotations of the wrong JSON types */
  cJSON *n = node("10.42.1.0/24", "vxlan", GOOD_DATA, "172.31.250.11");
  cJSON *md = cJSON_GetObjectItem(n, "metadata");
  cJSON_ReplaceItemInObject(md, "annotations", cJSON_CreateString("x"));
  net_vxlan_peer_t p;
  ASSERT_EQ_INT(net_overlay_peer_of(n, &p), -EINVAL);
  cJSON_Delete(n);
  n = node("10.42.1.0/24", "vxlan", GOOD_DATA, NULL);
  cJSON_AddNumberToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(n, "metadata"), "annotations"),
                          "flannel.alpha.coreos.com/public-ip", 5);
  ASSERT_EQ_INT(net_overlay_peer_of(n, &p), -EINVAL);
  cJSON_Delete(n);
  n = cJSON_CreateNull();
  ASSERT_EQ_INT(net_overlay_peer_of(n, &p), -EINVAL);
  cJSON_Delete(n);
}

TEST_LIST = {TEST(test_good), TEST(test_refused), {0}};
TEST_MAIN()
