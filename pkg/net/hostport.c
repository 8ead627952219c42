/* hostPort DNAT rules in table ip k3c-hostport, rebuilt whole in one
 * nfnetlink batch: see hostport.h. */
#include "net/hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include "net/nft.h"

#define T NET_HOSTPORT_TABLE

static void expr0(nl_msg_t *m, const char *name) {
  size_t d, e = nft_expr_begin(m, name, &d);
  nft_expr_end(m, e, d);
}

/* fib daddr type local */
static void fib_local(nl_msg_t *m) {
  size_t d, e = nft_expr_begin(m, "fib", &d);
  nl_put_be32(m, NFTA_FIB_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nl_put_be32(m, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
  nft_expr_end(m, e, d);
  uint32_t local = RTN_LOCAL;
  nft_cmp(m, NFT_CMP_EQ, &local, 4);
}

static void mapping_rule(nl_msg_t *m, const net_hostport_t *h) {
  size_t r = nft_rule_begin(m, T, "hostports");
  if (h->port.host_ip.s_addr)
    nft_match_addr(m, 16, h->port.host_ip, 32, NFT_CMP_EQ);
  uint8_t proto = h->port.proto;
  uint16_t dport = htons(h->port.host_port), to = htons(h->port.container_port);
  nft_meta_load(m, NFT_META_L4PROTO);
  nft_cmp(m, NFT_CMP_EQ, &proto, 1);
  nft_payload(m, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
  nft_cmp(m, NFT_CMP_EQ, &dport, 2);
  nft_immediate(m, NFT_REG_1, &h->pod, 4);
  nft_immediate(m, NFT_REG_2, &to, 2);
  size_t d, e = nft_expr_begin(m, "nat", &d);
  nl_put_be32(m, NFTA_NAT_TYPE, NFT_NAT_DNAT);
  nl_put_be32(m, NFTA_NAT_FAMILY, NFPROTO_IPV4);
  nl_put_be32(m, NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
  nl_put_be32(m, NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
  nft_expr_end(m, e, d);
  nft_rule_end(m, r);
}

static void masq_rule(nl_msg_t *m, struct in_addr src, int prefix, struct in_addr pod) {
  size_t r = nft_rule_begin(m, T, "postrouting");
  nft_match_addr(m, 12, src, prefix, NFT_CMP_EQ);
  nft_match_addr(m, 16, pod, 32, NFT_CMP_EQ);
  expr0(m, "masq");
  nft_rule_end(m, r);
}

int net_hostport_sync(nl_sock_t *nf, const net_hostport_t *v, size_t n, char *err,
                      size_t errlen) {
  if (!n)
    return nft_table_remove(nf, T, err, errlen);
  nl_msg_t m;
  nl_msg_init(&m);
  nft_batch_begin(&m);
  nft_table_fresh(&m, T);
  nft_chain(&m, T, "hostports", NULL, 0, 0);
  nft_chain(&m, T, "prerouting", "nat", NF_INET_PRE_ROUTING, -100);
  nft_chain(&m, T, "output", "nat", NF_INET_LOCAL_OUT, -100);
  nft_chain(&m, T, "postrouting", "nat", NF_INET_POST_ROUTING, 100);
  static const char *const hooks[] = {"prerouting", "output"};
  for (int i = 0; i < 2; i++) {
    size_t r = nft_rule_begin(&m, T, hooks[i]);
    fib_local(&m);
    nft_verdict(&m, NFT_JUMP, "hostports");
    nft_rule_end(&m, r);
  }
  struct in_addr lo;
  inet_pton(AF_INET, "127.0.0.0", &lo);
  for (size_t i = 0; i < n; i++) {
    mapping_rule(&m, &v[i]);
    bool seen = false; /* one pair of masquerade rules per pod */
    for (size_t j = 0; j < i && !seen; j++)
      seen = v[j].pod.s_addr == v[i].pod.s_addr;
    if (!seen) {
      masq_rule(&m, v[i].pod, 32, v[i].pod);
      masq_rule(&m, lo, 8, v[i].pod);
    }
  }
  nft_batch_end(&m);
  return nft_run(nf, &m, NULL, NULL, "setting the hostPort rules (table ip " T ")", err, errlen);
}
