/* The VXLAN device of the overlay and its static forwarding entries
 * (neighbours, FDB, onlink routes) through rtnetlink: see vxlan.h.
 * Attribute meanings: include/uapi/linux/if_link.h (IFLA_VXLAN_*) and
 * neighbour.h (NDA_*, NTF_SELF); RFC 7348 for the encapsulation. */
#include "net/vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "net/rtnl.h"

#define MAX_ADDRS 32

void net_vxlan_mac_from_name(const char *name, uint8_t mac[6]) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  for (int i = 0; i < 6; i++)
    mac[i] = (uint8_t)(h >> (8 * i));
  mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

int net_vxlan_mac_parse(const char *s, uint8_t mac[6]) {
  unsigned v[6];
  int end = 0;
  if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &end) != 6 ||
      s[end] || end != 17)
    return -EINVAL;
  for (int i = 0; i < 6; i++)
    mac[i] = (uint8_t)v[i];
  return 0;
}

void net_vxlan_mac_format(const uint8_t m[6], char *out, size_t outlen) {
  snprintf(out, outlen, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Send m, free it, and put "what: reason" into err on failure. */
static int run(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, const char *what, char *err,
               size_t errlen) {
  char why[200];
  int rc = nl_transact(s, m, cb, data, why, sizeof why);
  nl_msg_free(m);
  if (rc < 0 && err && errlen)
    snprintf(err, errlen, "%s: %s", what, why);
  return rc;
}

static void clear(char *err, size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
}

/* ---- the device ---- */

typedef struct {
  net_vxlan_info_t *info;
  bool found, is_vxlan;
} info_ctx_t;

static int info_cb(const struct nlmsghdr *h, void *data) {
  info_ctx_t *c = data;
  const struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1], *vx[IFLA_VXLAN_MAX + 1];
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
    return 0;
  const struct ifinfomsg *ifi = NLMSG_DATA(h);
  if (nl_msg_attrs(h, sizeof *ifi, tb, IFLA_MAX) < 0)
    return -EINVAL;
  net_vxlan_info_t *in = c->info;
  memset(in, 0, sizeof *in);
  c->found = true;
  in->ifindex = ifi->ifi_index;
  in->up = (ifi->ifi_flags & IFF_UP) != 0;
  in->mtu = (int)nl_attr_u32(tb[IFLA_MTU]);
  if (tb[IFLA_ADDRESS] && nl_attr_len(tb[IFLA_ADDRESS]) == 6)
    memcpy(in->mac, nl_attr_data(tb[IFLA_ADDRESS]), 6);
  if (!tb[IFLA_LINKINFO] ||
      nl_attr_parse(nl_attr_data(tb[IFLA_LINKINFO]), nl_attr_len(tb[IFLA_LINKINFO]), li,
                    IFLA_INFO_MAX) < 0)
    return 0;
  const char *kind = nl_attr_str(li[IFLA_INFO_KIND]);
  if (!kind || strcmp(kind, "vxlan"))
    return 0;
  c->is_vxlan = true;
  if (!li[IFLA_INFO_DATA] ||
      nl_attr_parse(nl_attr_data(li[IFLA_INFO_DATA]), nl_attr_len(li[IFLA_INFO_DATA]), vx,
                    IFLA_VXLAN_MAX) < 0)
    return 0;
  in->vni = nl_attr_u32(vx[IFLA_VXLAN_ID]);
  if (vx[IFLA_VXLAN_PORT] && nl_attr_len(vx[IFLA_VXLAN_PORT]) >= 2) {
    const uint8_t *p = nl_attr_data(vx[IFLA_VXLAN_PORT]);
    in->port = (uint16_t)(p[0] << 8 | p[1]);
  }
  if (vx[IFLA_VXLAN_LOCAL] && nl_attr_len(vx[IFLA_VXLAN_LOCAL]) == 4)
    memcpy(&in->local, nl_attr_data(vx[IFLA_VXLAN_LOCAL]), 4);
  in->underlay_ifindex = (int)nl_attr_u32(vx[IFLA_VXLAN_LINK]);
  in->learning = nl_attr_u8(vx[IFLA_VXLAN_LEARNING]) != 0;
  return 0;
}

int net_vxlan_info(nl_sock_t *s, const char *name, net_vxlan_info_t *ret, char *err,
                   size_t errlen) {
  if (strlen(name) >= IFNAMSIZ) {
    if (err && errlen)
      snprintf(err, errlen, "interface name \"%s\" is longer than %d characters", name,
               IFNAMSIZ - 1);
    return -EINVAL;
  }
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  nl_msg_begin(&m, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi);
  nl_put_str(&m, IFLA_IFNAME, name);
  net_vxlan_info_t in;
  info_ctx_t c = {.info = &in};
  char what[64];
  snprintf(what, sizeof what, "looking up link %s", name);
  int rc = run(s, &m, info_cb, &c, what, err, errlen);
  if (rc == -ENODEV || (rc == 0 && !c.found)) {
    if (err && errlen)
      snprintf(err, errlen, "%s: no such link", what);
    return -ENODEV;
  }
  if (rc < 0)
    return rc;
  if (!c.is_vxlan) {
    if (err && errlen)
      snprintf(err, errlen, "link %s exists and is not a VXLAN device", name);
    return -EMEDIUMTYPE;
  }
  *ret = in;
  return 0;
}

static void put_link(nl_msg_t *m, void *data) {
  const net_vxlan_opts_t *o = data;
  nl_put(m, IFLA_ADDRESS, o->mac, 6);
  if (o->mtu > 0)
    nl_put_u32(m, IFLA_MTU, (uint32_t)o->mtu);
}

static void put_info(nl_msg_t *m, void *data) {
  const net_vxlan_opts_t *o = data;
  nl_put_u32(m, IFLA_VXLAN_ID, o->vni);
  nl_put(m, IFLA_VXLAN_LOCAL, &o->local, sizeof o->local);
  nl_put_be16(m, IFLA_VXLAN_PORT, o->port);
  nl_put_u8(m, IFLA_VXLAN_LEARNING, 0);
  if (o->underlay_ifindex > 0)
    nl_put_u32(m, IFLA_VXLAN_LINK, (uint32_t)o->underlay_ifindex);
}

/* MTU and MAC of an existing link. */
static int set_mtu_mac(nl_sock_t *s, int ifindex, const net_vxlan_opts_t *o, char *err,
                       size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
  nl_msg_begin(&m, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
  put_link(&m, (void *)o);
  char what[80];
  snprintf(what, sizeof what, "setting MTU %d and the MAC of %s", o->mtu, o->name);
  return run(s, &m, NULL, NULL, what, err, errlen);
}

int net_vxlan_ensure(nl_sock_t *s, const net_vxlan_opts_t *o, int *ret_ifindex, char *err,
                     size_t errlen) {
  net_vxlan_info_t in;
  int rc = net_vxlan_info(s, o->name, &in, err, errlen);
  if (rc == 0 && (in.vni != o->vni || in.port != o->port || in.local.s_addr != o->local.s_addr ||
                  (o->underlay_ifindex > 0 && in.underlay_ifindex != o->underlay_ifindex) ||
                  in.learning))
    rc = -EMEDIUMTYPE; /* made for another node address or VNI: make it again */
  if (rc == -EMEDIUMTYPE) {
    if ((rc = rtnl_link_del(s, o->name, err, errlen)) < 0)
      return rc;
    rc = -ENODEV;
  }
  if (rc == -ENODEV) {
    clear(err, errlen);
    rc = rtnl_link_ensure(s, o->name, "vxlan", put_link, put_info, (void *)o, err, errlen);
    if (rc < 0)
      return rc;
    if ((rc = net_vxlan_info(s, o->name, &in, err, errlen)) < 0)
      return rc;
  } else if (rc < 0) {
    return rc;
  }
  if ((o->mtu > 0 && in.mtu != o->mtu) || memcmp(in.mac, o->mac, 6)) {
    if ((rc = set_mtu_mac(s, in.ifindex, o, err, errlen)) < 0)
      return rc;
  }
  if (!in.up && (rc = rtnl_link_up(s, in.ifindex, err, errlen)) < 0)
    return rc;
  *ret_ifindex = in.ifindex;
  return 0;
}

/* ---- its address ---- */

typedef struct {
  int ifindex;
  size_t n;
  struct in_addr addr[MAX_ADDRS];
  int prefix[MAX_ADDRS];
} addrs_t;

static int addr_cb(const struct nlmsghdr *h, void *data) {
  addrs_t *a = data;
  const struct nlattr *tb[IFA_MAX + 1];
  if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
    return 0;
  const struct ifaddrmsg *ifa = NLMSG_DATA(h);
  if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != a->ifindex || a->n == MAX_ADDRS)
    return 0;
  if (nl_msg_attrs(h, sizeof *ifa, tb, IFA_MAX) < 0)
    return -EINVAL;
  const struct nlattr *l = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (!l || nl_attr_len(l) != 4)
    return 0;
  memcpy(&a->addr[a->n], nl_attr_data(l), 4);
  a->prefix[a->n++] = ifa->ifa_prefixlen;
  return 0;
}

static int addr_del(nl_sock_t *s, int ifindex, struct in_addr addr, int prefix, char *err,
                    size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix,
                          .ifa_index = (unsigned)ifindex};
  nl_msg_begin(&m, RTM_DELADDR, NLM_F_ACK, &ifa, sizeof ifa);
  nl_put(&m, IFA_LOCAL, &addr, sizeof addr);
  char what[80], a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, a, sizeof a);
  snprintf(what, sizeof what, "removing address %s/%d from link %d", a, prefix, ifindex);
  int rc = run(s, &m, NULL, NULL, what, err, errlen);
  if (rc == -EADDRNOTAVAIL) {
    clear(err, errlen);
    return 0;
  }
  return rc;
}

int net_vxlan_set_addr(nl_sock_t *s, int ifindex, struct in_addr addr, char *err,
                       size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET};
  nl_msg_begin(&m, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
  addrs_t a = {.ifindex = ifindex};
  int rc = run(s, &m, addr_cb, &a, "listing addresses", err, errlen);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < a.n; i++)
    if ((a.addr[i].s_addr != addr.s_addr || a.prefix[i] != 32) &&
        (rc = addr_del(s, ifindex, a.addr[i], a.prefix[i], err, errlen)) < 0)
      return rc;
  return rtnl_addr4_ensure(s, ifindex, addr, 32, RT_SCOPE_UNIVERSE, err, errlen);
}

/* ---- peers ---- */

/* RTM_NEWNEIGH/RTM_DELNEIGH of an ARP entry (family AF_INET) or an FDB
 * entry (AF_BRIDGE, NTF_SELF: the VXLAN driver's own table). */
static int neigh(nl_sock_t *s, uint16_t type, uint8_t family, int ifindex, struct in_addr ip,
                 const uint8_t mac[6], const char *what, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ndmsg nd = {.ndm_family = family, .ndm_ifindex = ifindex, .ndm_state = NUD_PERMANENT,
                     .ndm_flags = family == AF_BRIDGE ? NTF_SELF : 0};
  uint16_t flags = type == RTM_NEWNEIGH ? NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK : NLM_F_ACK;
  nl_msg_begin(&m, type, flags, &nd, sizeof nd);
  if (family == AF_BRIDGE) {
    nl_put(&m, NDA_LLADDR, mac, 6);
    nl_put(&m, NDA_DST, &ip, sizeof ip);
  } else {
    nl_put(&m, NDA_DST, &ip, sizeof ip);
    if (type == RTM_NEWNEIGH)
      nl_put(&m, NDA_LLADDR, mac, 6);
  }
  int rc = run(s, &m, NULL, NULL, what, err, errlen);
  if (type == RTM_DELNEIGH && rc == -ENOENT) {
    clear(err, errlen);
    return 0;
  }
  return rc;
}

static void describe(char *out, size_t len, const char *verb, const char *entry,
                     const net_vxlan_peer_t *p) {
  char net[INET_ADDRSTRLEN], pub[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &p->pod_net, net, sizeof net);
  inet_ntop(AF_INET, &p->public_ip, pub, sizeof pub);
  snprintf(out, len, "%s the %s of peer %s/%d at %s", verb, entry, net, p->pod_prefix, pub);
}

int net_vxlan_peer_add(nl_sock_t *s, int ifindex, const net_vxlan_peer_t *p, char *err,
                       size_t errlen) {
  char what[160];
  int rc;
  describe(what, sizeof what, "setting", "neighbour", p);
  if ((rc = neigh(s, RTM_NEWNEIGH, AF_INET, ifindex, p->vtep_ip, p->vtep_mac, what, err,
                  errlen)) < 0)
    return rc;
  describe(what, sizeof what, "setting", "FDB entry", p);
  if ((rc = neigh(s, RTM_NEWNEIGH, AF_BRIDGE, ifindex, p->public_ip, p->vtep_mac, what, err,
                  errlen)) < 0)
    return rc;
  rtnl_route4_t r = {.dst = p->pod_net, .prefix = p->pod_prefix, .gw = p->vtep_ip,
                     .ifindex = ifindex, .onlink = true};
  return rtnl_route4_replace(s, &r, err, errlen);
}

int net_vxlan_peer_del(nl_sock_t *s, int ifindex, const net_vxlan_peer_t *p, char *err,
                       size_t errlen) {
  rtnl_route4_t r = {.dst = p->pod_net, .prefix = p->pod_prefix, .gw = p->vtep_ip,
                     .ifindex = ifindex, .onlink = true};
  int rc = rtnl_route4_del(s, &r, err, errlen);
  if (rc < 0)
    return rc;
  char what[160];
  describe(what, sizeof what, "removing", "FDB entry", p);
  if ((rc = neigh(s, RTM_DELNEIGH, AF_BRIDGE, ifindex, p->public_ip, p->vtep_mac, what, err,
                  errlen)) < 0)
    return rc;
  describe(what, sizeof what, "removing", "neighbour", p);
  return neigh(s, RTM_DELNEIGH, AF_INET, ifindex, p->vtep_ip, NULL, what, err, errlen);
}

int net_vxlan_neigh_del(nl_sock_t *s, int ifindex, struct in_addr ip, char *err, size_t errlen) {
  char what[80], a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &ip, a, sizeof a);
  snprintf(what, sizeof what, "removing neighbour %s", a);
  return neigh(s, RTM_DELNEIGH, AF_INET, ifindex, ip, NULL, what, err, errlen);
}

int net_vxlan_fdb_del(nl_sock_t *s, int ifindex, const uint8_t mac[6], struct in_addr dst,
                      char *err, size_t errlen) {
  char what[80], a[INET_ADDRSTRLEN], m[18];
  inet_ntop(AF_INET, &dst, a, sizeof a);
  net_vxlan_mac_format(mac, m, sizeof m);
  snprintf(what, sizeof what, "removing FDB entry %s dst %s", m, a);
  return neigh(s, RTM_DELNEIGH, AF_BRIDGE, ifindex, dst, mac, what, err, errlen);
}

/* ---- reading back ---- */

typedef struct {
  int ifindex;
  const net_vxlan_walk_t *w;
  void *data;
} walk_ctx_t;

static int neigh_cb(const struct nlmsghdr *h, void *data) {
  walk_ctx_t *c = data;
  const struct nlattr *tb[NDA_MAX + 1];
  if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ndmsg)))
    return 0;
  const struct ndmsg *nd = NLMSG_DATA(h);
  if (nd->ndm_ifindex != c->ifindex || nl_msg_attrs(h, sizeof *nd, tb, NDA_MAX) < 0)
    return 0;
  if (!tb[NDA_DST] || nl_attr_len(tb[NDA_DST]) != 4 || !tb[NDA_LLADDR] ||
      nl_attr_len(tb[NDA_LLADDR]) != 6)
    return 0;
  struct in_addr ip;
  memcpy(&ip, nl_attr_data(tb[NDA_DST]), 4);
  const uint8_t *mac = nl_attr_data(tb[NDA_LLADDR]);
  if (nd->ndm_family == AF_INET && (nd->ndm_state & NUD_PERMANENT) && c->w->neigh)
    return c->w->neigh(ip, mac, c->data);
  if (nd->ndm_family == AF_BRIDGE && c->w->fdb)
    return c->w->fdb(mac, ip, c->data);
  return 0;
}

static int route_cb(const struct nlmsghdr *h, void *data) {
  walk_ctx_t *c = data;
  const struct nlattr *tb[RTA_MAX + 1];
  if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
    return 0;
  const struct rtmsg *rt = NLMSG_DATA(h);
  if (rt->rtm_family != AF_INET || nl_msg_attrs(h, sizeof *rt, tb, RTA_MAX) < 0)
    return 0;
  uint32_t table = tb[RTA_TABLE] ? nl_attr_u32(tb[RTA_TABLE]) : rt->rtm_table;
  if (table != RT_TABLE_MAIN || (int)nl_attr_u32(tb[RTA_OIF]) != c->ifindex)
    return 0;
  struct in_addr net = {0}, gw = {0};
  if (tb[RTA_DST] && nl_attr_len(tb[RTA_DST]) == 4)
    memcpy(&net, nl_attr_data(tb[RTA_DST]), 4);
  if (tb[RTA_GATEWAY] && nl_attr_len(tb[RTA_GATEWAY]) == 4)
    memcpy(&gw, nl_attr_data(tb[RTA_GATEWAY]), 4);
  return c->w->route ? c->w->route(net, rt->rtm_dst_len, gw, c->data) : 0;
}

static int dump(nl_sock_t *s, uint16_t type, uint8_t family, nl_reply_cb cb, walk_ctx_t *c,
                const char *what, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  if (type == RTM_GETROUTE) {
    struct rtmsg rt = {.rtm_family = family};
    nl_msg_begin(&m, type, NLM_F_DUMP, &rt, sizeof rt);
  } else {
    struct ndmsg nd = {.ndm_family = family};
    nl_msg_begin(&m, type, NLM_F_DUMP, &nd, sizeof nd);
  }
  return run(s, &m, cb, c, what, err, errlen);
}

int net_vxlan_walk(nl_sock_t *s, int ifindex, const net_vxlan_walk_t *w, void *data, char *err,
                   size_t errlen) {
  walk_ctx_t c = {.ifindex = ifindex, .w = w, .data = data};
  int rc = 0;
  if (w->neigh)
    rc = dump(s, RTM_GETNEIGH, AF_INET, neigh_cb, &c, "listing neighbours", err, errlen);
  if (rc == 0 && w->fdb)
    rc = dump(s, RTM_GETNEIGH, AF_BRIDGE, neigh_cb, &c, "listing FDB entries", err, errlen);
  if (rc == 0 && w->route)
    rc = dump(s, RTM_GETROUTE, AF_INET, route_cb, &c, "listing routes", err, errlen);
  return rc;
}
