/* conntrack entries deleted through ctnetlink: see conntrack.h. Attribute
 * meanings: include/uapi/linux/netfilter/nfnetlink_conntrack.h. */
#include "net/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "util/alloc.h"

#define CT(t) ((uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | (t)))

typedef struct {
  struct in_addr src, dst;
  uint16_t sport, dport; /* network order */
  uint8_t proto;
} tuple_t;

static int parse_tuple(const struct nlattr *nest, tuple_t *t) {
  const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];
  memset(t, 0, sizeof *t);
  if (!nest || nl_attr_parse(nl_attr_data(nest), nl_attr_len(nest), tb, CTA_TUPLE_MAX) < 0 ||
      !tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO] ||
      nl_attr_parse(nl_attr_data(tb[CTA_TUPLE_IP]), nl_attr_len(tb[CTA_TUPLE_IP]), ip,
                    CTA_IP_MAX) < 0 ||
      nl_attr_parse(nl_attr_data(tb[CTA_TUPLE_PROTO]), nl_attr_len(tb[CTA_TUPLE_PROTO]), pr,
                    CTA_PROTO_MAX) < 0)
    return -EINVAL;
  if (!ip[CTA_IP_V4_SRC] || nl_attr_len(ip[CTA_IP_V4_SRC]) != 4 || !ip[CTA_IP_V4_DST] ||
      nl_attr_len(ip[CTA_IP_V4_DST]) != 4 || !pr[CTA_PROTO_NUM])
    return -EINVAL;
  memcpy(&t->src, nl_attr_data(ip[CTA_IP_V4_SRC]), 4);
  memcpy(&t->dst, nl_attr_data(ip[CTA_IP_V4_DST]), 4);
  t->proto = nl_attr_u8(pr[CTA_PROTO_NUM]);
  if (pr[CTA_PROTO_SRC_PORT] && nl_attr_len(pr[CTA_PROTO_SRC_PORT]) == 2)
    memcpy(&t->sport, nl_attr_data(pr[CTA_PROTO_SRC_PORT]), 2);
  if (pr[CTA_PROTO_DST_PORT] && nl_attr_len(pr[CTA_PROTO_DST_PORT]) == 2)
    memcpy(&t->dport, nl_attr_data(pr[CTA_PROTO_DST_PORT]), 2);
  return 0;
}

typedef struct {
  uint8_t proto;
  struct in_addr ip;
  uint16_t port; /* network order */
  tuple_t *found;
  size_t n;
} match_t;

static int entry_cb(const struct nlmsghdr *h, void *data) {
  match_t *m = data;
  const struct nlattr *tb[CTA_MAX + 1];
  tuple_t o, r;
  if (h->nlmsg_type != CT(IPCTNL_MSG_CT_NEW) ||
      nl_msg_attrs(h, sizeof(struct nfgenmsg), tb, CTA_MAX) < 0 ||
      parse_tuple(tb[CTA_TUPLE_ORIG], &o) < 0 || parse_tuple(tb[CTA_TUPLE_REPLY], &r) < 0)
    return 0;
  if (o.proto != m->proto || r.src.s_addr != m->ip.s_addr || r.sport != m->port ||
      (o.dst.s_addr == m->ip.s_addr && o.dport == m->port))
    return 0;
  m->found = xrealloc(m->found, (m->n + 1) * sizeof *m->found);
  m->found[m->n++] = o;
  return 0;
}

static void put_tuple(nl_msg_t *msg, const tuple_t *t) {
  size_t tu = nl_nest_begin(msg, CTA_TUPLE_ORIG);
  size_t ip = nl_nest_begin(msg, CTA_TUPLE_IP);
  nl_put(msg, CTA_IP_V4_SRC, &t->src, 4);
  nl_put(msg, CTA_IP_V4_DST, &t->dst, 4);
  nl_nest_end(msg, ip);
  size_t pr = nl_nest_begin(msg, CTA_TUPLE_PROTO);
  nl_put_u8(msg, CTA_PROTO_NUM, t->proto);
  nl_put(msg, CTA_PROTO_SRC_PORT, &t->sport, 2);
  nl_put(msg, CTA_PROTO_DST_PORT, &t->dport, 2);
  nl_nest_end(msg, pr);
  nl_nest_end(msg, tu);
}

int net_ct_delete_natted_to(nl_sock_t *s, uint8_t proto, struct in_addr ip, uint16_t port,
                            char *err, size_t errlen) {
  struct nfgenmsg g = {.nfgen_family = AF_INET, .version = NFNETLINK_V0};
  match_t m = {.proto = proto, .ip = ip, .port = htons(port)};
  char why[200];
  nl_msg_t msg;
  nl_msg_init(&msg);
  nl_msg_begin(&msg, CT(IPCTNL_MSG_CT_GET), NLM_F_DUMP, &g, sizeof g);
  int r = nl_transact(s, &msg, entry_cb, &m, why, sizeof why);
  nl_msg_free(&msg);
  if (r < 0) {
    snprintf(err, errlen, "listing conntrack entries: %s", why);
    free(m.found);
    return r;
  }
  int deleted = 0;
  for (size_t i = 0; i < m.n; i++) {
    nl_msg_init(&msg);
    nl_msg_begin(&msg, CT(IPCTNL_MSG_CT_DELETE), NLM_F_ACK, &g, sizeof g);
    put_tuple(&msg, &m.found[i]);
    r = nl_transact(s, &msg, NULL, NULL, why, sizeof why);
    nl_msg_free(&msg);
    if (r == 0)
      deleted++;
    else if (r != -ENOENT) { /* gone meanwhile: fine */
      snprintf(err, errlen, "deleting a conntrack entry: %s", why);
      free(m.found);
      return r;
    }
  }
  free(m.found);
  return deleted;
}
