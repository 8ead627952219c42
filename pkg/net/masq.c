/* The masquerade of pod traffic leaving the cluster, in an nf_tables table
 * of its own, through nfnetlink batches (nft.h): see masq.h. */
#include "net/masq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "net/nft.h"

#define CHAIN "postrouting"

int net_masq_ensure(nl_sock_t *s, struct in_addr cluster, int prefix, char *err, size_t errlen) {
  if (prefix < 0 || prefix > 32) {
    if (err && errlen)
      snprintf(err, errlen, "cluster CIDR prefix length %d is not in 0..32", prefix);
    return -EINVAL;
  }
  struct in_addr mc;
  inet_pton(AF_INET, "224.0.0.0", &mc);
  nl_msg_t m;
  nl_msg_init(&m);
  nft_batch_begin(&m);
  nft_table_fresh(&m, NET_MASQ_TABLE);
  nft_chain(&m, NET_MASQ_TABLE, CHAIN, "nat", NF_INET_POST_ROUTING, 100 /* srcnat */);
  size_t list = nft_rule_begin(&m, NET_MASQ_TABLE, CHAIN);
  nft_match_addr(&m, 12, cluster, prefix, NFT_CMP_EQ);  /* ip saddr in the cluster */
  nft_match_addr(&m, 16, cluster, prefix, NFT_CMP_NEQ); /* ip daddr not in it */
  nft_match_addr(&m, 16, mc, 4, NFT_CMP_NEQ);           /* nor multicast */
  size_t d, e = nft_expr_begin(&m, "masq", &d);
  nft_expr_end(&m, e, d);
  nft_rule_end(&m, list);
  nft_batch_end(&m);
  return nft_run(s, &m, NULL, NULL, "setting the masquerade rule (table ip " NET_MASQ_TABLE ")",
                 err, errlen);
}

int net_masq_remove(nl_sock_t *s, char *err, size_t errlen) {
  return nft_table_remove(s, NET_MASQ_TABLE, err, errlen);
}

int net_masq_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen) {
  return nft_describe(s, NET_MASQ_TABLE, 0, out, outlen, err, errlen);
}
