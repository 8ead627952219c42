/* The bridge and veth links of a pod's network attachment, on rtnetlink:
 * see podif.h. Veth peers: drivers/net/veth.c (VETH_INFO_PEER carries an
 * ifinfomsg and the peer's attributes); bridge port flags:
 * net/bridge/br_netlink.c (IFLA_PROTINFO of an AF_BRIDGE RTM_SETLINK). */
#include "net/podif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net/rtnl.h"

int net_podif_netns_open(const char *path, nl_sock_t **ret, int *ret_fd, char *err,
                         size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC), self = -1, r;
  nl_sock_t *s = NULL;
  if (fd < 0) {
    r = -errno;
    snprintf(err, errlen, "network namespace %s: %s", path, strerror(errno));
    return r;
  }
  self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    r = -errno;
    snprintf(err, errlen, "/proc/self/ns/net: %s", strerror(errno));
    goto out;
  }
  if (setns(fd, CLONE_NEWNET) < 0) {
    r = -errno;
    snprintf(err, errlen, "entering network namespace %s: %s", path, strerror(errno));
    if (r == -EINVAL || r == -EBADF)
      r = -EINVAL;
    goto out;
  }
  r = nl_open(NETLINK_ROUTE, &s);
  if (setns(self, CLONE_NEWNET) < 0) { /* cannot happen: our own namespace */
    r = -errno;
    nl_close(s);
    s = NULL;
    snprintf(err, errlen, "returning to the host network namespace: %s", strerror(errno));
    goto out;
  }
  if (r < 0) {
    snprintf(err, errlen, "netlink socket in %s: %s", path, strerror(-r));
    goto out;
  }
  *ret = s;
  if (ret_fd) {
    *ret_fd = fd;
    fd = -1;
  }
out:
  if (fd >= 0)
    close(fd);
  if (self >= 0)
    close(self);
  return r;
}

void net_podif_veth_name(const char *container_id, const char *ifname, char out[16]) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = container_id; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  h = (h ^ '/') * 16777619u;
  for (const char *p = ifname; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  snprintf(out, 16, "veth%08x", h);
}

typedef struct {
  net_podif_link_t *l;
  bool found;
} link_read_t;

static int link_cb(const struct nlmsghdr *h, void *data) {
  link_read_t *lr = data;
  if (h->nlmsg_type != RTM_NEWLINK)
    return 0;
  const struct ifinfomsg *ifi = NLMSG_DATA(h);
  const struct nlattr *tb[IFLA_MAX + 1];
  if (nl_msg_attrs(h, sizeof *ifi, tb, IFLA_MAX) < 0)
    return 0;
  net_podif_link_t *l = lr->l;
  memset(l, 0, sizeof *l);
  l->index = ifi->ifi_index;
  l->up = (ifi->ifi_flags & IFF_UP) != 0;
  l->mtu = (int)nl_attr_u32(tb[IFLA_MTU]);
  l->master = (int)nl_attr_u32(tb[IFLA_MASTER]);
  if (tb[IFLA_ADDRESS] && nl_attr_len(tb[IFLA_ADDRESS]) == 6) {
    const uint8_t *m = nl_attr_data(tb[IFLA_ADDRESS]);
    snprintf(l->mac, sizeof l->mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
             m[5]);
  }
  lr->found = true;
  return 0;
}

int net_podif_link(nl_sock_t *s, const char *name, net_podif_link_t *ret, char *err,
                   size_t errlen) {
  if (strlen(name) >= IFNAMSIZ) {
    snprintf(err, errlen, "interface name \"%s\" is longer than %d characters", name,
             IFNAMSIZ - 1);
    return -EINVAL;
  }
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  nl_msg_begin(&m, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi);
  nl_put_str(&m, IFLA_IFNAME, name);
  net_podif_link_t l;
  link_read_t lr = {&l, false};
  char why[200];
  int r = nl_transact(s, &m, link_cb, &lr, why, sizeof why);
  nl_msg_free(&m);
  if (r == -ENODEV || (r == 0 && !lr.found)) {
    snprintf(err, errlen, "link %s: no such link", name);
    return -ENODEV;
  }
  if (r < 0) {
    snprintf(err, errlen, "looking up link %s: %s", name, why);
    return r;
  }
  *ret = l;
  return 0;
}

static void put_mtu(nl_msg_t *m, void *data) {
  int mtu = *(int *)data;
  if (mtu > 0)
    nl_put_u32(m, IFLA_MTU, (uint32_t)mtu);
}

int net_podif_bridge(nl_sock_t *s, const char *name, int mtu, struct in_addr gw, int prefix,
                     char *err, size_t errlen) {
  int r = rtnl_link_ensure(s, name, "bridge", put_mtu, NULL, &mtu, err, errlen);
  if (r < 0)
    return r;
  int idx = rtnl_link_index(s, name, err, errlen);
  if (idx < 0)
    return idx;
  if ((r = rtnl_addr4_ensure(s, idx, gw, prefix, RT_SCOPE_UNIVERSE, err, errlen)) < 0 ||
      (r = rtnl_link_up(s, idx, err, errlen)) < 0)
    return r;
  return idx;
}

static int hairpin(nl_sock_t *s, int ifindex, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_BRIDGE, .ifi_index = ifindex};
  nl_msg_begin(&m, RTM_SETLINK, NLM_F_ACK, &ifi, sizeof ifi);
  size_t p = nl_nest_begin(&m, IFLA_PROTINFO);
  nl_put_u8(&m, IFLA_BRPORT_MODE, 1); /* hairpin: a pod reaches itself through a Service */
  nl_nest_end(&m, p);
  char why[200];
  int r = nl_transact(s, &m, NULL, NULL, why, sizeof why);
  nl_msg_free(&m);
  if (r < 0)
    snprintf(err, errlen, "setting hairpin mode on bridge port %d: %s", ifindex, why);
  return r;
}

int net_podif_veth(nl_sock_t *s, const char *hostif, const char *podif, int netns_fd, int mtu,
                   int master, char *err, size_t errlen) {
  int r = rtnl_link_del(s, hostif, err, errlen); /* left by an ADD that failed half-way */
  if (r < 0)
    return r;
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  nl_msg_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &ifi, sizeof ifi);
  nl_put_str(&m, IFLA_IFNAME, hostif);
  if (mtu > 0)
    nl_put_u32(&m, IFLA_MTU, (uint32_t)mtu);
  if (master > 0)
    nl_put_u32(&m, IFLA_MASTER, (uint32_t)master);
  size_t li = nl_nest_begin(&m, IFLA_LINKINFO);
  nl_put_str(&m, IFLA_INFO_KIND, "veth");
  size_t d = nl_nest_begin(&m, IFLA_INFO_DATA);
  /* the peer: an ifinfomsg, then its attributes, all inside VETH_INFO_PEER */
  struct ifinfomsg peer = {.ifi_family = AF_UNSPEC};
  size_t pe = m.len;
  nl_put(&m, VETH_INFO_PEER, &peer, sizeof peer);
  nl_put_str(&m, IFLA_IFNAME, podif);
  nl_put_u32(&m, IFLA_NET_NS_FD, (uint32_t)netns_fd);
  if (mtu > 0)
    nl_put_u32(&m, IFLA_MTU, (uint32_t)mtu);
  nl_nest_end(&m, pe);
  nl_nest_end(&m, d);
  nl_nest_end(&m, li);
  char why[200];
  r = nl_transact(s, &m, NULL, NULL, why, sizeof why);
  nl_msg_free(&m);
  if (r < 0) {
    snprintf(err, errlen, "creating veth %s with peer %s in the pod's namespace: %s", hostif,
             podif, why);
    return r;
  }
  int idx = rtnl_link_index(s, hostif, err, errlen);
  if (idx < 0)
    return idx;
  if ((r = hairpin(s, idx, err, errlen)) < 0 || (r = rtnl_link_up(s, idx, err, errlen)) < 0) {
    char ignore[64];
    rtnl_link_del(s, hostif, ignore, sizeof ignore);
    return r;
  }
  return 0;
}

typedef struct {
  int ifindex;
  struct in_addr addr;
  int prefix;
  bool found;
} addr_find_t;

static int addr_cb(const struct nlmsghdr *h, void *data) {
  addr_find_t *f = data;
  if (h->nlmsg_type != RTM_NEWADDR)
    return 0;
  const struct ifaddrmsg *ifa = NLMSG_DATA(h);
  const struct nlattr *tb[IFA_MAX + 1];
  if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != f->ifindex ||
      ifa->ifa_prefixlen != f->prefix || nl_msg_attrs(h, sizeof *ifa, tb, IFA_MAX) < 0)
    return 0;
  const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (a && nl_attr_len(a) == 4 && !memcmp(nl_attr_data(a), &f->addr, 4))
    f->found = true;
  return 0;
}

int net_podif_has_addr4(nl_sock_t *s, int ifindex, struct in_addr addr, int prefix, char *err,
                        size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET};
  nl_msg_begin(&m, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
  addr_find_t f = {ifindex, addr, prefix, false};
  char why[200];
  int r = nl_transact(s, &m, addr_cb, &f, why, sizeof why);
  nl_msg_free(&m);
  if (r < 0) {
    snprintf(err, errlen, "listing addresses: %s", why);
    return r;
  }
  return f.found;
}

typedef struct {
  net_podif_name_cb cb;
  void *data;
} names_t;

static int names_cb(const struct nlmsghdr *h, void *data) {
  names_t *n = data;
  const struct nlattr *tb[IFLA_MAX + 1];
  if (h->nlmsg_type != RTM_NEWLINK ||
      nl_msg_attrs(h, sizeof(struct ifinfomsg), tb, IFLA_MAX) < 0)
    return 0;
  const char *name = nl_attr_str(tb[IFLA_IFNAME]);
  if (name)
    n->cb(name, n->data);
  return 0;
}

int net_podif_each_link(nl_sock_t *s, net_podif_name_cb cb, void *data, char *err,
                        size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  nl_msg_begin(&m, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi);
  names_t n = {cb, data};
  char why[200];
  int r = nl_transact(s, &m, names_cb, &n, why, sizeof why);
  nl_msg_free(&m);
  if (r < 0)
    snprintf(err, errlen, "listing links: %s", why);
  return r;
}
