/* nf_tables messages through nfnetlink: see nft.h. */
#include "net/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

void nft_begin(nl_msg_t *m, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id) {
  struct nfgenmsg g = {.nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(res_id)};
  nl_msg_begin(m, type, flags, &g, sizeof g);
}

void nft_batch_begin(nl_msg_t *m) {
  nft_begin(m, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
}
void nft_batch_end(nl_msg_t *m) {
  nft_begin(m, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
}

void nft_put_data(nl_msg_t *m, uint16_t type, const void *v, size_t len) {
  size_t d = nl_nest_begin(m, type);
  nl_put(m, NFTA_DATA_VALUE, v, len);
  nl_nest_end(m, d);
}

void nft_table_fresh(nl_msg_t *m, const char *table) {
  for (int i = 0; i < 2; i++) {
    nft_begin(m, NET_NFT(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
    nl_put_str(m, NFTA_TABLE_NAME, table);
    if (i == 0) {
      nft_begin(m, NET_NFT(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
      nl_put_str(m, NFTA_TABLE_NAME, table);
    }
  }
}

void nft_chain(nl_msg_t *m, const char *table, const char *chain, const char *type, int hook,
               int priority) {
  nft_begin(m, NET_NFT(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_CHAIN_TABLE, table);
  nl_put_str(m, NFTA_CHAIN_NAME, chain);
  if (!type)
    return;
  size_t h = nl_nest_begin(m, NFTA_CHAIN_HOOK);
  nl_put_be32(m, NFTA_HOOK_HOOKNUM, (uint32_t)hook);
  nl_put_be32(m, NFTA_HOOK_PRIORITY, (uint32_t)priority);
  nl_nest_end(m, h);
  nl_put_be32(m, NFTA_CHAIN_POLICY, NF_ACCEPT);
  nl_put_str(m, NFTA_CHAIN_TYPE, type);
}

size_t nft_rule_begin(nl_msg_t *m, const char *table, const char *chain) {
  nft_begin(m, NET_NFT(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_IPV4,
            0);
  nl_put_str(m, NFTA_RULE_TABLE, table);
  nl_put_str(m, NFTA_RULE_CHAIN, chain);
  return nl_nest_begin(m, NFTA_RULE_EXPRESSIONS);
}
void nft_rule_end(nl_msg_t *m, size_t list) {
  nl_nest_end(m, list);
}

size_t nft_expr_begin(nl_msg_t *m, const char *name, size_t *data) {
  size_t e = nl_nest_begin(m, NFTA_LIST_ELEM);
  nl_put_str(m, NFTA_EXPR_NAME, name);
  *data = nl_nest_begin(m, NFTA_EXPR_DATA);
  return e;
}
void nft_expr_end(nl_msg_t *m, size_t e, size_t data) {
  nl_nest_end(m, data);
  nl_nest_end(m, e);
}

void nft_payload(nl_msg_t *m, uint32_t base, uint32_t offset, uint32_t len) {
  size_t d, e = nft_expr_begin(m, "payload", &d);
  nl_put_be32(m, NFTA_PAYLOAD_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_PAYLOAD_BASE, base);
  nl_put_be32(m, NFTA_PAYLOAD_OFFSET, offset);
  nl_put_be32(m, NFTA_PAYLOAD_LEN, len);
  nft_expr_end(m, e, d);
}

void nft_bitwise(nl_msg_t *m, const void *mask, size_t len) {
  static const uint8_t zero[16];
  size_t d, e = nft_expr_begin(m, "bitwise", &d);
  nl_put_be32(m, NFTA_BITWISE_SREG, NFT_REG_1);
  nl_put_be32(m, NFTA_BITWISE_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_BITWISE_LEN, (uint32_t)len);
  nft_put_data(m, NFTA_BITWISE_MASK, mask, len);
  nft_put_data(m, NFTA_BITWISE_XOR, zero, len);
  nft_expr_end(m, e, d);
}

void nft_cmp(nl_msg_t *m, uint32_t op, const void *value, size_t len) {
  size_t d, e = nft_expr_begin(m, "cmp", &d);
  nl_put_be32(m, NFTA_CMP_SREG, NFT_REG_1);
  nl_put_be32(m, NFTA_CMP_OP, op);
  nft_put_data(m, NFTA_CMP_DATA, value, len);
  nft_expr_end(m, e, d);
}

void nft_match_addr(nl_msg_t *m, uint32_t offset, struct in_addr net, int prefix, uint32_t op) {
  struct in_addr mask = {prefix > 0 ? htonl(~0u << (32 - (prefix > 32 ? 32 : prefix))) : 0};
  struct in_addr value = {net.s_addr & mask.s_addr};
  nft_payload(m, NFT_PAYLOAD_NETWORK_HEADER, offset, 4);
  if (prefix < 32)
    nft_bitwise(m, &mask, 4);
  nft_cmp(m, op, &value, 4);
}

void nft_meta_load(nl_msg_t *m, uint32_t key) {
  size_t d, e = nft_expr_begin(m, "meta", &d);
  nl_put_be32(m, NFTA_META_KEY, key);
  nl_put_be32(m, NFTA_META_DREG, NFT_REG_1);
  nft_expr_end(m, e, d);
}

void nft_meta_set(nl_msg_t *m, uint32_t key) {
  size_t d, e = nft_expr_begin(m, "meta", &d);
  nl_put_be32(m, NFTA_META_KEY, key);
  nl_put_be32(m, NFTA_META_SREG, NFT_REG_1);
  nft_expr_end(m, e, d);
}

void nft_immediate(nl_msg_t *m, uint32_t reg, const void *v, size_t len) {
  size_t d, e = nft_expr_begin(m, "immediate", &d);
  nl_put_be32(m, NFTA_IMMEDIATE_DREG, reg);
  nft_put_data(m, NFTA_IMMEDIATE_DATA, v, len);
  nft_expr_end(m, e, d);
}

void nft_verdict(nl_msg_t *m, int code, const char *chain) {
  size_t d, e = nft_expr_begin(m, "immediate", &d);
  nl_put_be32(m, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
  size_t data = nl_nest_begin(m, NFTA_IMMEDIATE_DATA);
  size_t v = nl_nest_begin(m, NFTA_DATA_VERDICT);
  nl_put_be32(m, NFTA_VERDICT_CODE, (uint32_t)code);
  if (chain)
    nl_put_str(m, NFTA_VERDICT_CHAIN, chain);
  nl_nest_end(m, v);
  nl_nest_end(m, data);
  nft_expr_end(m, e, d);
}

void nft_payload_reg(nl_msg_t *m, uint32_t dreg, uint32_t base, uint32_t offset, uint32_t len) {
  size_t d, e = nft_expr_begin(m, "payload", &d);
  nl_put_be32(m, NFTA_PAYLOAD_DREG, dreg);
  nl_put_be32(m, NFTA_PAYLOAD_BASE, base);
  nl_put_be32(m, NFTA_PAYLOAD_OFFSET, offset);
  nl_put_be32(m, NFTA_PAYLOAD_LEN, len);
  nft_expr_end(m, e, d);
}

void nft_meta_load_reg(nl_msg_t *m, uint32_t dreg, uint32_t key) {
  size_t d, e = nft_expr_begin(m, "meta", &d);
  nl_put_be32(m, NFTA_META_KEY, key);
  nl_put_be32(m, NFTA_META_DREG, dreg);
  nft_expr_end(m, e, d);
}

/* NFTA_SET_ID names a set within one transaction; any distinct value does */
static uint32_t next_set_id;

void nft_set_add(nl_msg_t *m, const char *table, const char *set, uint32_t flags, uint32_t key_len,
                 int verdict_map, uint64_t timeout_ms) {
  nft_begin(m, NET_NFT(NFT_MSG_NEWSET), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_SET_TABLE, table);
  nl_put_str(m, NFTA_SET_NAME, set);
  nl_put_be32(m, NFTA_SET_FLAGS, flags);
  nl_put_be32(m, NFTA_SET_KEY_TYPE, 0);
  nl_put_be32(m, NFTA_SET_KEY_LEN, key_len);
  if (verdict_map)
    nl_put_be32(m, NFTA_SET_DATA_TYPE, NFT_DATA_VERDICT);
  if (timeout_ms)
    nl_put_be64(m, NFTA_SET_TIMEOUT, timeout_ms);
  nl_put_be32(m, NFTA_SET_ID, ++next_set_id);
}

void nft_set_del(nl_msg_t *m, const char *table, const char *set) {
  nft_begin(m, NET_NFT(NFT_MSG_DELSET), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_SET_TABLE, table);
  nl_put_str(m, NFTA_SET_NAME, set);
}

void nft_chain_flush(nl_msg_t *m, const char *table, const char *chain) {
  nft_begin(m, NET_NFT(NFT_MSG_DELRULE), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_RULE_TABLE, table);
  nl_put_str(m, NFTA_RULE_CHAIN, chain);
}

void nft_chain_del(nl_msg_t *m, const char *table, const char *chain) {
  nft_begin(m, NET_NFT(NFT_MSG_DELCHAIN), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_CHAIN_TABLE, table);
  nl_put_str(m, NFTA_CHAIN_NAME, chain);
}

size_t nft_elems_begin(nl_msg_t *m, int msg, const char *table, const char *set) {
  nft_begin(m, NET_NFT(msg), (msg == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0) | NLM_F_ACK,
            NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_SET_ELEM_LIST_TABLE, table);
  nl_put_str(m, NFTA_SET_ELEM_LIST_SET, set);
  return nl_nest_begin(m, NFTA_SET_ELEM_LIST_ELEMENTS);
}

void nft_elem(nl_msg_t *m, const void *key, size_t key_len, int code, const char *chain) {
  size_t e = nl_nest_begin(m, NFTA_LIST_ELEM);
  nft_put_data(m, NFTA_SET_ELEM_KEY, key, key_len);
  if (chain) {
    size_t data = nl_nest_begin(m, NFTA_SET_ELEM_DATA);
    size_t v = nl_nest_begin(m, NFTA_DATA_VERDICT);
    nl_put_be32(m, NFTA_VERDICT_CODE, (uint32_t)code);
    nl_put_str(m, NFTA_VERDICT_CHAIN, chain);
    nl_nest_end(m, v);
    nl_nest_end(m, data);
  }
  nl_nest_end(m, e);
}

void nft_elems_end(nl_msg_t *m, size_t list) {
  nl_nest_end(m, list);
}

void nft_lookup(nl_msg_t *m, const char *set, uint32_t sreg, int dreg) {
  size_t d, e = nft_expr_begin(m, "lookup", &d);
  nl_put_str(m, NFTA_LOOKUP_SET, set);
  nl_put_be32(m, NFTA_LOOKUP_SREG, sreg);
  if (dreg >= 0)
    nl_put_be32(m, NFTA_LOOKUP_DREG, (uint32_t)dreg);
  nft_expr_end(m, e, d);
}

void nft_dynset_update(nl_msg_t *m, const char *set, uint32_t sreg, uint64_t timeout_ms) {
  size_t d, e = nft_expr_begin(m, "dynset", &d);
  nl_put_str(m, NFTA_DYNSET_SET_NAME, set);
  nl_put_be32(m, NFTA_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
  nl_put_be32(m, NFTA_DYNSET_SREG_KEY, sreg);
  if (timeout_ms)
    nl_put_be64(m, NFTA_DYNSET_TIMEOUT, timeout_ms);
  nft_expr_end(m, e, d);
}

int nft_run(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, const char *what, char *err,
            size_t errlen) {
  char why[200];
  int rc = nl_transact(s, m, cb, data, why, sizeof why);
  nl_msg_free(m);
  if (rc < 0 && err && errlen)
    snprintf(err, errlen, "%s: %s", what, why);
  return rc;
}

int nft_table_remove(nl_sock_t *s, const char *table, char *err, size_t errlen) {
  nl_msg_t m;
  char what[128];
  snprintf(what, sizeof what, "deleting table ip %.64s", table);
  nl_msg_init(&m);
  nft_batch_begin(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_TABLE_NAME, table);
  nft_batch_end(&m);
  int rc = nft_run(s, &m, NULL, NULL, what, err, errlen);
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
  const char *table;
  int with_chain;
  bool payload; /* the last load was a payload (cmp data is packet bytes) */
} describe_t;

static void add(describe_t *d, const char *s) {
  if (d->used + 1 < d->len) {
    int n = snprintf(d->out + d->used, d->len - d->used, "%s", s);
    if (n > 0)
      d->used += (size_t)n < d->len - d->used ? (size_t)n : d->len - d->used - 1;
  }
}

/* The value inside an nft_data nest as text: an IPv4 address (4 bytes of
 * packet), a big-endian number (1-2 bytes), a host u32 (4 bytes of meta). */
static void data_text(const struct nlattr *nest, bool packet, char *out, size_t len) {
  const struct nlattr *tb[NFTA_DATA_MAX + 1];
  snprintf(out, len, "?");
  if (!nest || nl_attr_parse(nl_attr_data(nest), nl_attr_len(nest), tb, NFTA_DATA_MAX) < 0)
    return;
  if (tb[NFTA_DATA_VERDICT]) {
    const struct nlattr *v[NFTA_VERDICT_MAX + 1];
    if (nl_attr_parse(nl_attr_data(tb[NFTA_DATA_VERDICT]), nl_attr_len(tb[NFTA_DATA_VERDICT]), v,
                      NFTA_VERDICT_MAX) < 0)
      return;
    int code = (int)nl_attr_be32(v[NFTA_VERDICT_CODE]);
    const char *chain = nl_attr_str(v[NFTA_VERDICT_CHAIN]);
    snprintf(out, len, "%s%s%s",
             code == NFT_JUMP   ? "jump"
             : code == NFT_GOTO ? "goto"
             : code == NF_ACCEPT ? "accept"
             : code == NF_DROP  ? "drop"
                                : "verdict",
             chain ? ":" : "", chain ? chain : "");
    return;
  }
  const struct nlattr *a = tb[NFTA_DATA_VALUE];
  if (!a)
    return;
  const uint8_t *p = nl_attr_data(a);
  size_t n = nl_attr_len(a);
  if (n == 4 && packet) {
    inet_ntop(AF_INET, p, out, (socklen_t)len);
  } else if (n == 1) {
    snprintf(out, len, "%u", p[0]);
  } else if (n == 2) {
    snprintf(out, len, "%u", (unsigned)(p[0] << 8 | p[1]));
  } else if (n == 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    snprintf(out, len, "%u", v);
  }
}

static void describe_expr(describe_t *d, const struct nlattr *elem) {
  const struct nlattr *e[NFTA_EXPR_MAX + 1], *a[16 + 1];
  char buf[320], v[260];
  if (nl_attr_parse(nl_attr_data(elem), nl_attr_len(elem), e, NFTA_EXPR_MAX) < 0)
    return;
  const char *name = nl_attr_str(e[NFTA_EXPR_NAME]);
  if (!name)
    return;
  bool have = e[NFTA_EXPR_DATA] &&
              nl_attr_parse(nl_attr_data(e[NFTA_EXPR_DATA]), nl_attr_len(e[NFTA_EXPR_DATA]), a,
                            16) == 0;
  if (d->used && d->out[d->used - 1] != ';' && d->out[d->used - 1] != ' ')
    add(d, " ");
  if (have && !strcmp(name, "payload")) {
    d->payload = true;
    snprintf(buf, sizeof buf, "payload(%s%u)",
             nl_attr_be32(a[NFTA_PAYLOAD_BASE]) == NFT_PAYLOAD_TRANSPORT_HEADER ? "th:" : "",
             nl_attr_be32(a[NFTA_PAYLOAD_OFFSET]));
  } else if (have && !strcmp(name, "bitwise")) {
    data_text(a[NFTA_BITWISE_MASK], d->payload, v, sizeof v);
    snprintf(buf, sizeof buf, "&%s", v);
  } else if (have && !strcmp(name, "cmp")) {
    data_text(a[NFTA_CMP_DATA], d->payload, v, sizeof v);
    snprintf(buf, sizeof buf, "%s%s", nl_attr_be32(a[NFTA_CMP_OP]) == NFT_CMP_EQ ? "==" : "!=",
             v);
  } else if (have && !strcmp(name, "meta")) {
    d->payload = false;
    snprintf(buf, sizeof buf, "meta%s(%u)", a[NFTA_META_SREG] ? "-set" : "",
             nl_attr_be32(a[NFTA_META_KEY]));
  } else if (have && !strcmp(name, "numgen")) {
    d->payload = false;
    snprintf(buf, sizeof buf, "numgen(%u)", nl_attr_be32(a[NFTA_NG_MODULUS]));
  } else if (have && !strcmp(name, "fib")) {
    d->payload = false;
    snprintf(buf, sizeof buf, "fib");
  } else if (have && !strcmp(name, "immediate")) {
    bool verdict = nl_attr_be32(a[NFTA_IMMEDIATE_DREG]) == NFT_REG_VERDICT;
    data_text(a[NFTA_IMMEDIATE_DATA], true, v, sizeof v);
    snprintf(buf, sizeof buf, verdict ? "%s" : "imm(%s)", v);
  } else if (have && !strcmp(name, "lookup")) {
    const char *set = nl_attr_str(a[NFTA_LOOKUP_SET]);
    snprintf(buf, sizeof buf, a[NFTA_LOOKUP_DREG] ? "vmap(@%.250s)" : "@%.250s", set ? set : "?");
  } else if (have && !strcmp(name, "dynset")) {
    const char *set = nl_attr_str(a[NFTA_DYNSET_SET_NAME]);
    snprintf(buf, sizeof buf, "update(@%.250s)", set ? set : "?");
  } else if (have && !strcmp(name, "nat")) {
    snprintf(buf, sizeof buf, "%s",
             nl_attr_be32(a[NFTA_NAT_TYPE]) == NFT_NAT_DNAT ? "dnat" : "snat");
  } else {
    snprintf(buf, sizeof buf, "%s", name);
  }
  add(d, buf);
}

static int rule_cb(const struct nlmsghdr *h, void *data) {
  describe_t *d = data;
  const struct nlattr *tb[NFTA_RULE_MAX + 1];
  if (h->nlmsg_type != NET_NFT(NFT_MSG_NEWRULE) ||
      nl_msg_attrs(h, sizeof(struct nfgenmsg), tb, NFTA_RULE_MAX) < 0)
    return 0;
  const char *table = nl_attr_str(tb[NFTA_RULE_TABLE]);
  const char *chain = nl_attr_str(tb[NFTA_RULE_CHAIN]);
  if (!table || strcmp(table, d->table) || !tb[NFTA_RULE_EXPRESSIONS])
    return 0;
  if (d->rules++)
    add(d, ";");
  if (d->with_chain && chain) {
    add(d, chain);
    add(d, ": ");
  }
  d->payload = false;
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

int nft_describe(nl_sock_t *s, const char *table, int with_chain, char *out, size_t outlen,
                 char *err, size_t errlen) {
  nl_msg_t m;
  char what[128];
  snprintf(what, sizeof what, "looking up table ip %.64s", table);
  nl_msg_init(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_GETTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_TABLE_NAME, table);
  int rc = nft_run(s, &m, NULL, NULL, what, err, errlen);
  if (rc < 0)
    return rc;
  describe_t d = {.out = out, .len = outlen, .table = table, .with_chain = with_chain};
  if (outlen)
    out[0] = 0;
  snprintf(what, sizeof what, "listing the rules of ip %.64s", table);
  nl_msg_init(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_GETRULE), NLM_F_DUMP, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_RULE_TABLE, table);
  return nft_run(s, &m, rule_cb, &d, what, err, errlen);
}

/* ---- reading back set elements ---- */

static void elem_text(describe_t *d, const struct nlattr *elem) {
  const struct nlattr *e[NFTA_SET_ELEM_MAX + 1], *k[NFTA_DATA_MAX + 1];
  char buf[64], v[200];
  if (nl_attr_parse(nl_attr_data(elem), nl_attr_len(elem), e, NFTA_SET_ELEM_MAX) < 0 ||
      !e[NFTA_SET_ELEM_KEY] ||
      nl_attr_parse(nl_attr_data(e[NFTA_SET_ELEM_KEY]), nl_attr_len(e[NFTA_SET_ELEM_KEY]), k,
                    NFTA_DATA_MAX) < 0 ||
      !k[NFTA_DATA_VALUE])
    return;
  const uint8_t *p = nl_attr_data(k[NFTA_DATA_VALUE]);
  size_t n = nl_attr_len(k[NFTA_DATA_VALUE]);
  if (d->rules++)
    add(d, ";");
  for (size_t o = 0; o + 4 <= n; o += 4) {
    if (o)
      add(d, " . ");
    if (o == 0 && (n == 12 || n == 4))
      inet_ntop(AF_INET, p, buf, sizeof buf);
    else if (o + 4 < n)
      snprintf(buf, sizeof buf, "%u", p[o]); /* a protocol number */
    else
      snprintf(buf, sizeof buf, "%u", (unsigned)(p[o] << 8 | p[o + 1])); /* a port */
    add(d, buf);
  }
  if (e[NFTA_SET_ELEM_DATA]) {
    data_text(e[NFTA_SET_ELEM_DATA], false, v, sizeof v);
    add(d, " : ");
    add(d, v);
  }
}

static int elems_cb(const struct nlmsghdr *h, void *data) {
  describe_t *d = data;
  const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1];
  if (h->nlmsg_type != NET_NFT(NFT_MSG_NEWSETELEM) ||
      nl_msg_attrs(h, sizeof(struct nfgenmsg), tb, NFTA_SET_ELEM_LIST_MAX) < 0 ||
      !tb[NFTA_SET_ELEM_LIST_ELEMENTS])
    return 0;
  const struct nlattr *list = tb[NFTA_SET_ELEM_LIST_ELEMENTS];
  const char *p = nl_attr_data(list);
  size_t left = nl_attr_len(list);
  while (left >= sizeof(struct nlattr)) {
    const struct nlattr *a = (const struct nlattr *)p;
    if (a->nla_len < sizeof(struct nlattr) || a->nla_len > left)
      break;
    if ((a->nla_type & NLA_TYPE_MASK) == NFTA_LIST_ELEM)
      elem_text(d, a);
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= left)
      break;
    p += step;
    left -= step;
  }
  return 0;
}

int nft_describe_elems(nl_sock_t *s, const char *table, const char *set, char *out, size_t outlen,
                       char *err, size_t errlen) {
  nl_msg_t m;
  char what[200];
  describe_t d = {.out = out, .len = outlen, .table = table};
  if (outlen)
    out[0] = 0;
  snprintf(what, sizeof what, "listing the elements of set %.64s of ip %.64s", set, table);
  nl_msg_init(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_GETSETELEM), NLM_F_DUMP, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_SET_ELEM_LIST_TABLE, table);
  nl_put_str(&m, NFTA_SET_ELEM_LIST_SET, set);
  return nft_run(s, &m, elems_cb, &d, what, err, errlen);
}
