/* The masquerade of pod traffic leaving the cluster, in an nf_tables table
 * of its own, through nfnetlink batches: see masq.h. Message and attribute
 * meanings: include/uapi/linux/netfilter/nf_tables.h. */
#include "net/masq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#define CHAIN "postrouting"
#define NFT(t) ((uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | (t)))

static void begin(nl_msg_t *m, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id) {
  struct nfgenmsg g = {.nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(res_id)};
  nl_msg_begin(m, type, flags, &g, sizeof g);
}

static void put_data(nl_msg_t *m, uint16_t type, const void *v, size_t len) {
  size_t d = nl_nest_begin(m, type);
  nl_put(m, NFTA_DATA_VALUE, v, len);
  nl_nest_end(m, d);
}

/* One expression of the rule: its name and its attributes. */
static size_t expr_begin(nl_msg_t *m, const char *name, size_t *data) {
  size_t e = nl_nest_begin(m, NFTA_LIST_ELEM);
  nl_put_str(m, NFTA_EXPR_NAME, name);
  *data = nl_nest_begin(m, NFTA_EXPR_DATA);
  return e;
}
static void expr_end(nl_msg_t *m, size_t e, size_t data) {
  nl_nest_end(m, data);
  nl_nest_end(m, e);
}

/* reg1 = the IPv4 header's 4 bytes at offset; reg1 &= mask; compare with
 * value (op NFT_CMP_EQ or NFT_CMP_NEQ). */
static void match_addr(nl_msg_t *m, uint32_t offset, struct in_addr mask, struct in_addr value,
                       uint32_t op) {
  size_t d, e = expr_begin(m, "payload", &d);
  nl_put_be32(m, NFTA_PAYLOAD_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
  nl_put_be32(m, NFTA_PAYLOAD_OFFSET, offset);
  nl_put_be32(m, NFTA_PAYLOAD_LEN, 4);
  expr_end(m, e, d);
  struct in_addr zero = {0};
  e = expr_begin(m, "bitwise", &d);
  nl_put_be32(m, NFTA_BITWISE_SREG, NFT_REG_1);
  nl_put_be32(m, NFTA_BITWISE_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_BITWISE_LEN, 4);
  put_data(m, NFTA_BITWISE_MASK, &mask, 4);
  put_data(m, NFTA_BITWISE_XOR, &zero, 4);
  expr_end(m, e, d);
  e = expr_begin(m, "cmp", &d);
  nl_put_be32(m, NFTA_CMP_SREG, NFT_REG_1);
  nl_put_be32(m, NFTA_CMP_OP, op);
  put_data(m, NFTA_CMP_DATA, &value, 4);
  expr_end(m, e, d);
}

static int run(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, const char *what, char *err,
               size_t errlen) {
  char why[200];
  int rc = nl_transact(s, m, cb, data, why, sizeof why);
  nl_msg_free(m);
  if (rc < 0 && err && errlen)
    snprintf(err, errlen, "%s: %s", what, why);
  return rc;
}

int net_masq_ensure(nl_sock_t *s, struct in_addr cluster, int prefix, char *err, size_t errlen) {
  if (prefix < 0 || prefix > 32) {
    if (err && errlen)
      snprintf(err, errlen, "cluster CIDR prefix length %d is not in 0..32", prefix);
    return -EINVAL;
  }
  struct in_addr mask = {prefix ? htonl(~0u << (32 - prefix)) : 0};
  struct in_addr net = {cluster.s_addr & mask.s_addr};
  struct in_addr mc_mask, mc;
  inet_pton(AF_INET, "240.0.0.0", &mc_mask);
  inet_pton(AF_INET, "224.0.0.0", &mc);
  nl_msg_t m;
  nl_msg_init(&m);
  begin(&m, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  /* add, delete, add: the table afresh whether or not it was there */
  for (int i = 0; i < 2; i++) {
    begin(&m, NFT(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
    nl_put_str(&m, NFTA_TABLE_NAME, NET_MASQ_TABLE);
    if (i == 0) {
      begin(&m, NFT(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
      nl_put_str(&m, NFTA_TABLE_NAME, NET_MASQ_TABLE);
    }
  }
  begin(&m, NFT(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_CHAIN_TABLE, NET_MASQ_TABLE);
  nl_put_str(&m, NFTA_CHAIN_NAME, CHAIN);
  size_t h = nl_nest_begin(&m, NFTA_CHAIN_HOOK);
  nl_put_be32(&m, NFTA_HOOK_HOOKNUM, NF_INET_POST_ROUTING);
  nl_put_be32(&m, NFTA_HOOK_PRIORITY, 100); /* srcnat */
  nl_nest_end(&m, h);
  nl_put_be32(&m, NFTA_CHAIN_POLICY, NF_ACCEPT);
  nl_put_str(&m, NFTA_CHAIN_TYPE, "nat");
  begin(&m, NFT(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_RULE_TABLE, NET_MASQ_TABLE);
  nl_put_str(&m, NFTA_RULE_CHAIN, CHAIN);
  size_t list = nl_nest_begin(&m, NFTA_RULE_EXPRESSIONS);
  match_addr(&m, 12, mask, net, NFT_CMP_EQ);      /* ip saddr in the cluster */
  match_addr(&m, 16, mask, net, NFT_CMP_NEQ);     /* ip daddr not in it */
  match_addr(&m, 16, mc_mask, mc, NFT_CMP_NEQ);   /* nor multicast */
  size_t d, e = expr_begin(&m, "masq", &d);
  expr_end(&m, e, d);
  nl_nest_end(&m, list);
  begin(&m, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  return run(s, &m, NULL, NULL, "setting the masquerade rule (table ip " NET_MASQ_TABLE ")", err,
             errlen);
}

int net_masq_remove(nl_sock_t *s, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  begin(&m, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  begin(&m, NFT(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_TABLE_NAME, NET_MASQ_TABLE);
  begin(&m, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  int rc = run(s, &m, NULL, NULL, "deleting table ip " NET_MASQ_TABLE, err, errlen);
  if (rc == -ENOENT) {
    if (err && errlen)
      err[0] = 0;
    return 0;
  }
  return rc;
}

/* ---- reading back ---- */

typedef struct {
  char *out;
  size_t len, used;
  int rules;
} describe_t;

static void add(describe_t *d, const char *s) {
  if (d->used < d->len) {
    int n = snprintf(d->out + d->used, d->len - d->used, "%s", s);
    if (n > 0)
      d->used += (size_t)n < d->len - d->used ? (size_t)n : d->len - d->used - 1;
  }
}

/* The IPv4 address inside an nft_data nest, as text. */
static void data_ip(const struct nlattr *nest, char *out, size_t len) {
  const struct nlattr *tb[NFTA_DATA_MAX + 1];
  snprintf(out, len, "?");
  if (!nest || nl_attr_parse(nl_attr_data(nest), nl_attr_len(nest), tb, NFTA_DATA_MAX) < 0 ||
      !tb[NFTA_DATA_VALUE] || nl_attr_len(tb[NFTA_DATA_VALUE]) != 4)
    return;
  inet_ntop(AF_INET, nl_attr_data(tb[NFTA_DATA_VALUE]), out, (socklen_t)len);
}

static void describe_expr(describe_t *d, const struct nlattr *elem) {
  const struct nlattr *e[NFTA_EXPR_MAX + 1], *a[16 + 1];
  char buf[64], ip[INET_ADDRSTRLEN];
  if (nl_attr_parse(nl_attr_data(elem), nl_attr_len(elem), e, NFTA_EXPR_MAX) < 0)
    return;
  const char *name = nl_attr_str(e[NFTA_EXPR_NAME]);
  if (!name)
    return;
  bool have = e[NFTA_EXPR_DATA] &&
              nl_attr_parse(nl_attr_data(e[NFTA_EXPR_DATA]), nl_attr_len(e[NFTA_EXPR_DATA]), a,
                            16) == 0;
  if (d->used && d->out[d->used - 1] != ';')
    add(d, " ");
  if (have && !strcmp(name, "payload")) {
    snprintf(buf, sizeof buf, "payload(%u)", nl_attr_be32(a[NFTA_PAYLOAD_OFFSET]));
  } else if (have && !strcmp(name, "bitwise")) {
    data_ip(a[NFTA_BITWISE_MASK], ip, sizeof ip);
    snprintf(buf, sizeof buf, "&%s", ip);
  } else if (have && !strcmp(name, "cmp")) {
    data_ip(a[NFTA_CMP_DATA], ip, sizeof ip);
    snprintf(buf, sizeof buf, "%s%s", nl_attr_be32(a[NFTA_CMP_OP]) == NFT_CMP_EQ ? "==" : "!=",
             ip);
  } else {
    snprintf(buf, sizeof buf, "%s", name);
  }
  add(d, buf);
}

static int rule_cb(const struct nlmsghdr *h, void *data) {
  describe_t *d = data;
  const struct nlattr *tb[NFTA_RULE_MAX + 1];
  if (h->nlmsg_type != NFT(NFT_MSG_NEWRULE) ||
      nl_msg_attrs(h, sizeof(struct nfgenmsg), tb, NFTA_RULE_MAX) < 0)
    return 0;
  const char *table = nl_attr_str(tb[NFTA_RULE_TABLE]);
  if (!table || strcmp(table, NET_MASQ_TABLE) || !tb[NFTA_RULE_EXPRESSIONS])
    return 0;
  if (d->rules++)
    add(d, ";");
  const struct nlattr *list = tb[NFTA_RULE_EXPRESSIONS];
  const char *p = nl_attr_data(list);
  size_t left = nl_attr_len(list);
  while (left >= sizeof(struct nlattr)) {
    const struct nlattr *a = (const struct nlattr *)p;
    if (a->nla_len < sizeof(struct nlattr) || a->nla_len > left)
      break;
    if ((a->nla_type & NLA_TYPE_MASK) == NFTA_LIST_ELEM)
      describe_expr(d, a);
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= left)
      break;
    p += step;
    left -= step;
  }
  return 0;
}

int net_masq_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  begin(&m, NFT(NFT_MSG_GETTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_TABLE_NAME, NET_MASQ_TABLE);
  int rc = run(s, &m, NULL, NULL, "looking up table ip " NET_MASQ_TABLE, err, errlen);
  if (rc < 0)
    return rc;
  describe_t d = {.out = out, .len = outlen};
  if (outlen)
    out[0] = 0;
  nl_msg_init(&m);
  begin(&m, NFT(NFT_MSG_GETRULE), NLM_F_DUMP, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_RULE_TABLE, NET_MASQ_TABLE);
  return run(s, &m, rule_cb, &d, "listing the rules of ip " NET_MASQ_TABLE, err, errlen);
}
