/* rtnetlink operations on nl.h: see rtnl.h. */
#include "net/rtnl.h"

#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

/* Run one message (already built in m) and free it. */
static int rtnl__run(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, const char *what,
                     char *err, size_t errlen) {
  char why[200];
  int rc = nl_transact(s, m, cb, data, why, sizeof why);
  nl_msg_free(m);
  if (rc < 0 && err && errlen)
    snprintf(err, errlen, "%s: %s", what, why);
  return rc;
}

static int rtnl__index_cb(const struct nlmsghdr *h, void *data) {
  if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
    *(int *)data = ((const struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
  return 0;
}

int rtnl_link_index(nl_sock_t *s, const char *name, char *err, size_t errlen) {
  if (strlen(name) >= IFNAMSIZ) {
    if (err && errlen)
      snprintf(err, errlen, "interface name \"%s\" is longer than %d characters", name, IFNAMSIZ - 1);
    return -EINVAL;
  }
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  nl_msg_begin(&m, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi);
  nl_put_str(&m, IFLA_IFNAME, name);
  int index = 0;
  char what[64];
  snprintf(what, sizeof what, "looking up link %s", name);
  int rc = rtnl__run(s, &m, rtnl__index_cb, &index, what, err, errlen);
  if (rc < 0)
    return rc;
  if (index <= 0) {
    if (err && errlen)
      snprintf(err, errlen, "%s: no such link", what);
    return -ENODEV;
  }
  return index;
}

int rtnl_link_ensure(nl_sock_t *s, const char *name, const char *kind, rtnl_put_fn put_link,
                     rtnl_put_fn put_info, void *data, char *err, size_t errlen) {
  int idx = rtnl_link_index(s, name, err, errlen);
  if (idx > 0)
    return 0;
  if (idx != -ENODEV)
    return idx;
  if (err && errlen)
    err[0] = '\0';
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  nl_msg_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &ifi, sizeof ifi);
  nl_put_str(&m, IFLA_IFNAME, name);
  if (put_link)
    put_link(&m, data);
  size_t li = nl_nest_begin(&m, IFLA_LINKINFO);
  nl_put_str(&m, IFLA_INFO_KIND, kind);
  if (put_info) {
    size_t d = nl_nest_begin(&m, IFLA_INFO_DATA);
    put_info(&m, data);
    nl_nest_end(&m, d);
  }
  nl_nest_end(&m, li);
  char what[96];
  snprintf(what, sizeof what, "creating %s link %s", kind, name);
  int rc = rtnl__run(s, &m, NULL, NULL, what, err, errlen);
  if (rc == -EEXIST) /* made meanwhile by someone else */
    return 0;
  return rc < 0 ? rc : 1;
}

int rtnl_link_up(nl_sock_t *s, int ifindex, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP,
                          .ifi_change = IFF_UP};
  nl_msg_begin(&m, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
  char what[64];
  snprintf(what, sizeof what, "setting link %d up", ifindex);
  return rtnl__run(s, &m, NULL, NULL, what, err, errlen);
}

int rtnl_link_del(nl_sock_t *s, const char *name, char *err, size_t errlen) {
  int idx = rtnl_link_index(s, name, err, errlen);
  if (idx == -ENODEV) {
    if (err && errlen)
      err[0] = '\0';
    return 0;
  }
  if (idx < 0)
    return idx;
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = idx};
  nl_msg_begin(&m, RTM_DELLINK, NLM_F_ACK, &ifi, sizeof ifi);
  char what[64];
  snprintf(what, sizeof what, "deleting link %s", name);
  int rc = rtnl__run(s, &m, NULL, NULL, what, err, errlen);
  return rc == -ENODEV ? 0 : rc;
}

int rtnl_addr4_ensure(nl_sock_t *s, int ifindex, struct in_addr addr, int prefix, int scope,
                      char *err, size_t errlen) {
  if (prefix < 0 || prefix > 32) {
    if (err && errlen)
      snprintf(err, errlen, "address prefix length %d is not in 0..32", prefix);
    return -EINVAL;
  }
  nl_msg_t m;
  nl_msg_init(&m);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix,
                          .ifa_scope = (unsigned char)scope, .ifa_index = (unsigned)ifindex};
  /* NLM_F_REPLACE makes an existing identical address a success */
  nl_msg_begin(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, &ifa, sizeof ifa);
  nl_put(&m, IFA_LOCAL, &addr, sizeof addr);
  nl_put(&m, IFA_ADDRESS, &addr, sizeof addr);
  char what[80], a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, a, sizeof a);
  snprintf(what, sizeof what, "adding address %s/%d to link %d", a, prefix, ifindex);
  return rtnl__run(s, &m, NULL, NULL, what, err, errlen);
}

/* RTM_NEWROUTE/RTM_DELROUTE for r. */
static int rtnl__route4(nl_sock_t *s, uint16_t type, uint16_t flags, const rtnl_route4_t *r,
                        char *err, size_t errlen) {
  if (r->prefix < 0 || r->prefix > 32) {
    if (err && errlen)
      snprintf(err, errlen, "route prefix length %d is not in 0..32", r->prefix);
    return -EINVAL;
  }
  nl_msg_t m;
  nl_msg_init(&m);
  struct rtmsg rtm = {.rtm_family = AF_INET, .rtm_dst_len = (unsigned char)r->prefix,
                      .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
                      .rtm_scope = r->gw.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
                      .rtm_type = RTN_UNICAST, .rtm_flags = r->onlink ? RTNH_F_ONLINK : 0};
  if (type == RTM_DELROUTE)
    rtm.rtm_scope = RT_SCOPE_NOWHERE, rtm.rtm_protocol = 0;
  nl_msg_begin(&m, type, (uint16_t)(flags | NLM_F_ACK), &rtm, sizeof rtm);
  nl_put(&m, RTA_DST, &r->dst, sizeof r->dst);
  if (r->gw.s_addr)
    nl_put(&m, RTA_GATEWAY, &r->gw, sizeof r->gw);
  if (r->ifindex > 0)
    nl_put_u32(&m, RTA_OIF, (uint32_t)r->ifindex);
  char what[96], d[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &r->dst, d, sizeof d);
  snprintf(what, sizeof what, "%s route %s/%d", type == RTM_DELROUTE ? "deleting" : "setting", d,
           r->prefix);
  return rtnl__run(s, &m, NULL, NULL, what, err, errlen);
}

int rtnl_route4_replace(nl_sock_t *s, const rtnl_route4_t *r, char *err, size_t errlen) {
  return rtnl__route4(s, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r, err, errlen);
}

int rtnl_route4_del(nl_sock_t *s, const rtnl_route4_t *r, char *err, size_t errlen) {
  int rc = rtnl__route4(s, RTM_DELROUTE, 0, r, err, errlen);
  if (rc == -ESRCH) {
    if (err && errlen)
      err[0] = '\0';
    return 0;
  }
  return rc;
}
