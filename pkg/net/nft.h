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

/* Registers by number for concatenations: NFT_REG32_00.. hold 4 bytes
 * each (a shorter load is zero-padded by the kernel). */
void nft_payload_reg(nl_msg_t *m, uint32_t dreg, uint32_t base, uint32_t offset, uint32_t len);
void nft_meta_load_reg(nl_msg_t *m, uint32_t dreg, uint32_t key);

/* Sets and maps (NFT_MSG_NEWSET): key_len bytes of key (a concatenation
 * takes 4 bytes per field); flags NFT_SET_MAP with verdict_map for a
 * verdict map; NFT_SET_TIMEOUT|NFT_SET_EVAL for a set filled from the
 * packet path (dynset) whose elements expire after timeout_ms (0: none).
 * Creating one that exists is not an error. */
void nft_set_add(nl_msg_t *m, const char *table, const char *set, uint32_t flags, uint32_t key_len,
                 int verdict_map, uint64_t timeout_ms);
void nft_set_del(nl_msg_t *m, const char *table, const char *set);
/* Every rule of chain deleted (flush), and the chain itself (empty and
 * unreferenced by then, within the same batch). */
void nft_chain_flush(nl_msg_t *m, const char *table, const char *chain);
void nft_chain_del(nl_msg_t *m, const char *table, const char *chain);
/* Elements: begin with NFT_MSG_NEWSETELEM or NFT_MSG_DELSETELEM, one
 * nft_elem per element (chain: the verdict's chain of a verdict map
 * element, code NFT_JUMP/NFT_GOTO; NULL for a plain set), then end. */
size_t nft_elems_begin(nl_msg_t *m, int msg, const char *table, const char *set);
void nft_elem(nl_msg_t *m, const void *key, size_t key_len, int code, const char *chain);
void nft_elems_end(nl_msg_t *m, size_t list);
/* Expressions on sets: the key at sreg looked up in set (dreg
 * NFT_REG_VERDICT for a verdict map, -1 for a plain set's match); the key
 * at sreg added to set or its timeout refreshed (timeout_ms, 0: the set's). */
void nft_lookup(nl_msg_t *m, const char *set, uint32_t sreg, int dreg);
void nft_dynset_update(nl_msg_t *m, const char *set, uint32_t sreg, uint64_t timeout_ms);

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
 * jump:chain, @set (a lookup), vmap(@set), update(@set) (dynset), nat(dnat|snat), masq,
 * reject, drop. -ENOENT when the table does
 * not exist. */
int nft_describe(nl_sock_t *s, const char *table, int with_chain, char *out, size_t outlen,
                 char *err, size_t errlen);
/* The elements of set in table as text, for tests: "key : verdict" (or
 * just the key) separated by ";", a key's 4-byte fields joined by " . "
 * (12 bytes: address . protocol . port; 8: protocol . port; 4: address). */
int nft_describe_elems(nl_sock_t *s, const char *table, const char *set, char *out, size_t outlen,
                       char *err, size_t errlen);
