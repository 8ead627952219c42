/* pkg/net nft: the nf_tables message helpers shared by k3c's own tables
 * (masq.h, proxy.h), on top of nl.h. Messages and attributes:
 * include/uapi/linux/netfilter/nf_tables.h; expressions as nft(8) lists
 * them: https://wiki.nftables.org/wiki-nftables/index.php/Main_Page
 *
 * A batch is NFNL_MSG_BATCH_BEGIN, the changes, NFNL_MSG_BATCH_END: the
 * kernel applies all of it or none. Register values compared with cmp are
 * raw bytes: addresses and ports in network order, meta/numgen/fib
 * results in host order. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "net/nl.h"

/* nfnetlink message type of an NFT_MSG_* */
#define NET_NFT(t) ((uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | (t)))

/* Start a message with its nfgenmsg header. */
void nft_begin(nl_msg_t *m, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id);
void nft_batch_begin(nl_msg_t *m);
void nft_batch_end(nl_msg_t *m);
/* An nft_data nest holding value. */
void nft_put_data(nl_msg_t *m, uint16_t type, const void *v, size_t len);

/* Table family ip: make it empty whether or not it existed (add, delete, add). */
void nft_table_fresh(nl_msg_t *m, const char *table);
/* A base chain (type "nat"/"filter", hook NF_INET_*, priority, policy accept),
 * or a regular chain when type is NULL. */
void nft_chain(nl_msg_t *m, const char *table, const char *chain, const char *type, int hook,
               int priority);
/* A rule appended to chain: begin returns the expression list nest; put
 * expressions, then end it. */
size_t nft_rule_begin(nl_msg_t *m, const char *table, const char *chain);
void nft_rule_end(nl_msg_t *m, size_t list);

/* Expressions. */
size_t nft_expr_begin(nl_msg_t *m, const char *name, size_t *data);
void nft_expr_end(nl_msg_t *m, size_t e, size_t data);
/* reg1 = len bytes at offset of base (NFT_PAYLOAD_NETWORK_HEADER, _TRANSPORT_HEADER) */
void nft_payload(nl_msg_t *m, uint32_t base, uint32_t offset, uint32_t len);
/* reg1 = reg1 & mask (len bytes) */
void nft_bitwise(nl_msg_t *m, const void *mask, size_t len);
/* reg1 op value (NFT_CMP_EQ, NFT_CMP_NEQ) */
void nft_cmp(nl_msg_t *m, uint32_t op, const void *value, size_t len);
/* ip saddr (offset 12) / daddr (16) masked by prefix, compared with net */
void nft_match_addr(nl_msg_t *m, uint32_t offset, struct in_addr net, int prefix, uint32_t op);
/* reg1 = meta key (NFT_META_*) */
void nft_meta_load(nl_msg_t *m, uint32_t key);
/* meta key = reg1 */
void nft_meta_set(nl_msg_t *m, uint32_t key);
/* reg = value */
void nft_immediate(nl_msg_t *m, uint32_t reg, const void *v, size_t len);
/* verdict: NF_ACCEPT, NF_DROP, NFT_JUMP/NFT_GOTO (chain) */
void nft_verdict(nl_msg_t *m, int code, const char *chain);

/* Send m (freed here); err gets "what: reason". 0 or a negative errno. */
int nft_run(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, const char *what, char *err,
            size_t errlen);
/* Delete table (family ip); 0 if there was none. */
int nft_table_remove(nl_sock_t *s, const char *table, char *err, size_t errlen);

/* The rules of table as text, for tests: each rule is "chain: expr expr
 * ..." when with_chain, else just the expressions; rules separated by ";".
 * Expressions: payload(offset), &mask, ==value/!=value (an IPv4 address
 * for 4 bytes, a number for 1-2 bytes in network order, a host u32 for
 * meta/numgen results otherwise), meta(key), numgen(mod), fib, imm(value:
 * 4 bytes shown as an IPv4 address, 2 as a big-endian number),
 * jump:chain, @set (a lookup), nat(dnat|snat), masq, reject. -ENOENT when the table does
 * not exist. */
int nft_describe(nl_sock_t *s, const char *table, int with_chain, char *out, size_t outlen,
                 char *err, size_t errlen);
