/* pkg/net vxlan: MAC derivation and parsing, and (as root, in a network
 * namespace of the test's own) the device, its address and a peer's
 * neighbour, FDB entry and route, each checked by reading back what the
 * kernel holds. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <linux/rtnetlink.h>

#include "net/nl.h"
#include "net/rtnl.h"
#include "net/vxlan.h"
#include "test.h"

static struct in_addr ip4(const char *s) {
  struct in_addr a = {0};
  inet_pton(AF_INET, s, &a);
  return a;
}

static void test_mac(void) {
  uint8_t a[6], b[6], c[6];
  net_vxlan_mac_from_name("node-a", a);
  net_vxlan_mac_from_name("node-a", b);
  net_vxlan_mac_from_name("node-b", c);
  ASSERT_TRUE(memcmp(a, b, 6) == 0);
  ASSERT_TRUE(memcmp(a, c, 6) != 0);
  ASSERT_EQ_INT(a[0] & 0x03, 0x02); /* unicast, locally administered */
  ASSERT_EQ_INT(c[0] & 0x03, 0x02);
  char s[18];
  net_vxlan_mac_format(a, s, sizeof s);
  ASSERT_EQ_INT(strlen(s), 17);
  ASSERT_EQ_INT(net_vxlan_mac_parse(s, b), 0);
  ASSERT_TRUE(memcmp(a, b, 6) == 0);
  ASSERT_EQ_INT(net_vxlan_mac_parse("0a:1B:2c:3d:4e:5f", b), 0);
  ASSERT_EQ_INT(b[0], 0x0a);
  ASSERT_EQ_INT(b[1], 0x1b);
  ASSERT_EQ_INT(b[5], 0x5f);
  const char *bad[] = {"", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5f:", "0a:1b:2c:3d:4e:5fx",
                       "a:1b:2c:3d:4e:5f0", "zz:1b:2c:3d:4e:5f", NULL};
  for (int i = 0; bad[i]; i++)
    if (net_vxlan_mac_parse(bad[i], b) != -EINVAL)
      TEST_FAIL("\"%s\" parsed as a MAC", bad[i]);
  ASSERT_EQ_INT(net_vxlan_mac_parse(NULL, b), -EINVAL);
}

/* The IPv4 addresses of link name, as "a/p a/p ". */
static void addrs_of(const char *name, char *out, size_t len) {
  struct ifaddrs *ifa = NULL, *i;
  out[0] = 0;
  if (getifaddrs(&ifa) < 0)
    return;
  for (i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, name))
      continue;
    char a[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
    inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, m, sizeof m);
    size_t n = strlen(out);
    snprintf(out + n, len - n, "%s/%s ", a, m);
  }
  freeifaddrs(ifa);
}

/* What net_vxlan_walk reports, as text. */
typedef struct {
  char neigh[256], fdb[256], route[256];
  int n_neigh, n_fdb, n_route;
} seen_t;

static int seen_neigh(struct in_addr ip, const uint8_t mac[6], void *data) {
  seen_t *s = data;
  char a[INET_ADDRSTRLEN], m[18];
  size_t n = strlen(s->neigh);
  inet_ntop(AF_INET, &ip, a, sizeof a);
  net_vxlan_mac_format(mac, m, sizeof m);
  snprintf(s->neigh + n, sizeof s->neigh - n, "%s=%s ", a, m);
  s->n_neigh++;
  return 0;
}
static int seen_fdb(const uint8_t mac[6], struct in_addr dst, void *data) {
  seen_t *s = data;
  char a[INET_ADDRSTRLEN], m[18];
  size_t n = strlen(s->fdb);
  inet_ntop(AF_INET, &dst, a, sizeof a);
  net_vxlan_mac_format(mac, m, sizeof m);
  snprintf(s->fdb + n, sizeof s->fdb - n, "%s>%s ", m, a);
  s->n_fdb++;
  return 0;
}
static int seen_route(struct in_addr net, int prefix, struct in_addr gw, void *data) {
  seen_t *s = data;
  char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
  size_t n = strlen(s->route);
  inet_ntop(AF_INET, &net, a, sizeof a);
  inet_ntop(AF_INET, &gw, g, sizeof g);
  snprintf(s->route + n, sizeof s->route - n, "%s/%d via %s ", a, prefix, g);
  s->n_route++;
  return 0;
}

static void walk(nl_sock_t *s, int ifindex, seen_t *out) {
  char err[256];
  memset(out, 0, sizeof *out);
  net_vxlan_walk_t w = {seen_neigh, seen_fdb, seen_route};
  int rc = net_vxlan_walk(s, ifindex, &w, out, err, sizeof err);
  if (rc < 0)
    TEST_FAIL("walk: %d %s", rc, err);
}

static void test_kernel(void) {
  TEST_SKIP_UNDER_QEMU("translate rtnetlink neighbour and FDB dumps");
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  nl_sock_t *s;
  ASSERT_EQ_INT(nl_open(NETLINK_ROUTE, &s), 0);
  char err[256] = "";
  /* the underlay: a bridge with the node address (MTU 1500) */
  ASSERT_EQ_INT(rtnl_link_ensure(s, "k3cu0", "bridge", NULL, NULL, NULL, err, sizeof err), 1);
  int under = rtnl_link_index(s, "k3cu0", err, sizeof err);
  ASSERT_GE_INT(under, 1);
  ASSERT_EQ_INT(rtnl_link_up(s, under, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_addr4_ensure(s, under, ip4("172.31.251.1"), 24, RT_SCOPE_UNIVERSE, err,
                                  sizeof err), 0);

  net_vxlan_opts_t o = {.name = "flannel.1", .vni = 1, .port = 8472,
                        .local = ip4("172.31.251.1"), .underlay_ifindex = under,
                        .mtu = 1500 - NET_VXLAN_OVERHEAD};
  net_vxlan_mac_from_name("node-a", o.mac);
  net_vxlan_info_t in;
  ASSERT_EQ_INT(net_vxlan_info(s, "flannel.1", &in, err, sizeof err), -ENODEV);
  int idx = 0, idx2 = 0;
  if (net_vxlan_ensure(s, &o, &idx, err, sizeof err) < 0)
    TEST_FAIL("ensure: %s", err);
  ASSERT_GE_INT(idx, 1);
  ASSERT_EQ_INT(net_vxlan_info(s, "flannel.1", &in, err, sizeof err), 0);
  ASSERT_EQ_INT(in.ifindex, idx);
  ASSERT_EQ_INT(in.vni, 1);
  ASSERT_EQ_INT(in.port, 8472);
  ASSERT_EQ_INT(in.local.s_addr, ip4("172.31.251.1").s_addr);
  ASSERT_EQ_INT(in.underlay_ifindex, under);
  ASSERT_EQ_INT(in.mtu, 1450);
  ASSERT_TRUE(memcmp(in.mac, o.mac, 6) == 0);
  ASSERT_FALSE(in.learning);
  ASSERT_TRUE(in.up);
  /* again: the same device */
  ASSERT_EQ_INT(net_vxlan_ensure(s, &o, &idx2, err, sizeof err), 0);
  ASSERT_EQ_INT(idx2, idx);
  /* another MAC and MTU: changed in place */
  net_vxlan_mac_from_name("node-b", o.mac);
  o.mtu = 1400;
  ASSERT_EQ_INT(net_vxlan_ensure(s, &o, &idx2, err, sizeof err), 0);
  ASSERT_EQ_INT(idx2, idx);
  ASSERT_EQ_INT(net_vxlan_info(s, "flannel.1", &in, err, sizeof err), 0);
  ASSERT_TRUE(memcmp(in.mac, o.mac, 6) == 0);
  ASSERT_EQ_INT(in.mtu, 1400);
  /* another local address: made again */
  ASSERT_EQ_INT(rtnl_addr4_ensure(s, under, ip4("172.31.251.2"), 24, RT_SCOPE_UNIVERSE, err,
                                  sizeof err), 0);
  o.local = ip4("172.31.251.2");
  ASSERT_EQ_INT(net_vxlan_ensure(s, &o, &idx2, err, sizeof err), 0);
  ASSERT_NE_INT(idx2, idx);
  ASSERT_EQ_INT(net_vxlan_info(s, "flannel.1", &in, err, sizeof err), 0);
  ASSERT_EQ_INT(in.local.s_addr, ip4("172.31.251.2").s_addr);
  idx = idx2;
  /* a link of another kind is no VXLAN device */
  ASSERT_EQ_INT(net_vxlan_info(s, "k3cu0", &in, err, sizeof err), -EMEDIUMTYPE);
  ASSERT_CONTAINS(err, "not a VXLAN device");

  /* the address: exactly <pod net>.0/32 */
  char have[256];
  ASSERT_EQ_INT(net_vxlan_set_addr(s, idx, ip4("10.42.1.0"), err, sizeof err), 0);
  addrs_of("flannel.1", have, sizeof have);
  ASSERT_EQ_STR(have, "10.42.1.0/255.255.255.255 ");
  ASSERT_EQ_INT(net_vxlan_set_addr(s, idx, ip4("10.42.1.0"), err, sizeof err), 0);
  ASSERT_EQ_INT(net_vxlan_set_addr(s, idx, ip4("10.42.7.0"), err, sizeof err), 0);
  addrs_of("flannel.1", have, sizeof have);
  ASSERT_EQ_STR(have, "10.42.7.0/255.255.255.255 ");

  /* a peer */
  net_vxlan_peer_t p = {.pod_net = ip4("10.42.2.0"), .pod_prefix = 24,
                        .vtep_ip = ip4("10.42.2.0"), .public_ip = ip4("172.31.251.3")};
  ASSERT_EQ_INT(net_vxlan_mac_parse("0a:00:00:00:00:02", p.vtep_mac), 0);
  seen_t seen;
  walk(s, idx, &seen);
  ASSERT_EQ_INT(seen.n_neigh + seen.n_fdb + seen.n_route, 0);
  if (net_vxlan_peer_add(s, idx, &p, err, sizeof err) < 0)
    TEST_FAIL("peer add: %s", err);
  ASSERT_EQ_INT(net_vxlan_peer_add(s, idx, &p, err, sizeof err), 0); /* idempotent */
  walk(s, idx, &seen);
  ASSERT_EQ_STR(seen.neigh, "10.42.2.0=0a:00:00:00:00:02 ");
  ASSERT_EQ_STR(seen.fdb, "0a:00:00:00:00:02>172.31.251.3 ");
  ASSERT_EQ_STR(seen.route, "10.42.2.0/24 via 10.42.2.0 ");
  /* the peer moves to another public IP: the FDB entry is replaced */
  p.public_ip = ip4("172.31.251.4");
  ASSERT_EQ_INT(net_vxlan_peer_add(s, idx, &p, err, sizeof err), 0);
  walk(s, idx, &seen);
  ASSERT_EQ_STR(seen.fdb, "0a:00:00:00:00:02>172.31.251.4 ");
  ASSERT_EQ_INT(seen.n_neigh, 1);
  ASSERT_EQ_INT(seen.n_route, 1);
  /* a second peer, then the first removed: only the second is left */
  net_vxlan_peer_t q = {.pod_net = ip4("10.42.3.0"), .pod_prefix = 24,
                        .vtep_ip = ip4("10.42.3.0"), .public_ip = ip4("172.31.251.5")};
  ASSERT_EQ_INT(net_vxlan_mac_parse("0a:00:00:00:00:03", q.vtep_mac), 0);
  ASSERT_EQ_INT(net_vxlan_peer_add(s, idx, &q, err, sizeof err), 0);
  ASSERT_EQ_INT(net_vxlan_peer_del(s, idx, &p, err, sizeof err), 0);
  walk(s, idx, &seen);
  ASSERT_EQ_STR(seen.neigh, "10.42.3.0=0a:00:00:00:00:03 ");
  ASSERT_EQ_STR(seen.fdb, "0a:00:00:00:00:03>172.31.251.5 ");
  ASSERT_EQ_STR(seen.route, "10.42.3.0/24 via 10.42.3.0 ");
  ASSERT_EQ_INT(net_vxlan_peer_del(s, idx, &p, err, sizeof err), 0); /* gone already */
  ASSERT_EQ_INT(net_vxlan_peer_del(s, idx, &q, err, sizeof err), 0);
  walk(s, idx, &seen);
  ASSERT_EQ_INT(seen.n_neigh + seen.n_fdb + seen.n_route, 0);

  /* a bad route prefix is refused with a reason */
  q.pod_prefix = 33;
  ASSERT_TRUE(net_vxlan_peer_add(s, idx, &q, err, sizeof err) < 0);
  ASSERT_CONTAINS(err, "prefix");
  ASSERT_EQ_INT(rtnl_link_del(s, "flannel.1", err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_link_del(s, "k3cu0", err, sizeof err), 0);
  nl_close(s);
}

TEST_LIST = {TEST(test_mac), TEST(test_kernel), {0}};
TEST_MAIN()
