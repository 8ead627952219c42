/* pkg/net nl: netlink sockets and messages, the one layer under k3c's
 * rtnetlink (links, addresses, routes, neighbours, FDB: rtnl.h) and
 * nfnetlink (nf_tables, conntrack) code. No libmnl: messages are built in a
 * growing buffer, attributes nested by offset, and a transaction sends one
 * buffer (one message or a batch) and reads every reply the kernel queued.
 *
 * Netlink requests are processed synchronously inside send, so after
 * nl_transact returns the kernel has applied (or refused) everything sent.
 * Calls block; use them from the loop only for small, quick changes, or
 * from a worker thread. A socket belongs to one thread at a time.
 * https://docs.kernel.org/userspace-api/netlink/intro.html */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nl_sock nl_sock_t;

/* Open a netlink socket of protocol (NETLINK_ROUTE, NETLINK_NETFILTER) in
 * the calling thread's network namespace. Returns 0 or a negative errno. */
int nl_open(int protocol, nl_sock_t **ret);
void nl_close(nl_sock_t *s); /* accepts NULL */

/* One or more messages being built. err is sticky: the first allocation
 * failure (-ENOMEM) or oversized attribute (-EMSGSIZE); nl_transact
 * returns it without sending. */
typedef struct {
  char *buf;
  size_t len, cap;
  size_t cur; /* offset of the message being built */
  int err;
} nl_msg_t;

void nl_msg_init(nl_msg_t *m);
void nl_msg_free(nl_msg_t *m);
/* Empty the buffer for reuse (keeps the allocation, clears err). */
void nl_msg_reset(nl_msg_t *m);

/* Start a message: its header (type, flags; NLM_F_REQUEST is added) followed
 * by hdrlen bytes of family header (struct ifinfomsg, nfgenmsg, ...; may be
 * NULL for zeros). Attributes put next belong to it. Returns the family
 * header inside the buffer (valid until the next put), or NULL on err. */
void *nl_msg_begin(nl_msg_t *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdrlen);

void nl_put(nl_msg_t *m, uint16_t type, const void *data, size_t len);
void nl_put_u8(nl_msg_t *m, uint16_t type, uint8_t v);
void nl_put_u16(nl_msg_t *m, uint16_t type, uint16_t v);
void nl_put_u32(nl_msg_t *m, uint16_t type, uint32_t v);
void nl_put_u64(nl_msg_t *m, uint16_t type, uint64_t v);
void nl_put_be16(nl_msg_t *m, uint16_t type, uint16_t host_order);
void nl_put_be32(nl_msg_t *m, uint16_t type, uint32_t host_order);
void nl_put_be64(nl_msg_t *m, uint16_t type, uint64_t host_order);
void nl_put_str(nl_msg_t *m, uint16_t type, const char *s); /* with its NUL */
/* Nested attributes: put between begin and end; NLA_F_NESTED is set. */
size_t nl_nest_begin(nl_msg_t *m, uint16_t type);
void nl_nest_end(nl_msg_t *m, size_t nest);

/* Replies: called for each message that is not an ack, error or done
 * (dump entries, echoed objects). Return 0 to go on, negative to stop the
 * transaction with that error. */
typedef int (*nl_reply_cb)(const struct nlmsghdr *h, void *data);

/* Send every message in m (sequence numbers assigned here) and read the
 * replies until each message that asked for them (NLM_F_ACK, NLM_F_DUMP)
 * has its ack, error or NLMSG_DONE. Returns 0, or the first error: the
 * kernel's negative errno, with its extended-ack text (or strerror) in err,
 * or -ETIMEDOUT when a reply is missing after 5 s. */
int nl_transact(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, char *err, size_t errlen);

/* ---- parsing ---- */
/* Index the attributes in [start, start+len) by type into tb[0..max]
 * (NULL where absent; types above max ignored; the last of a repeated type
 * wins). Returns 0, or -EINVAL for a truncated attribute. */
int nl_attr_parse(const void *start, size_t len, const struct nlattr **tb, int max);
/* The attributes after a message's family header of hdrlen bytes. */
int nl_msg_attrs(const struct nlmsghdr *h, size_t hdrlen, const struct nlattr **tb, int max);
const void *nl_attr_data(const struct nlattr *a);
size_t nl_attr_len(const struct nlattr *a);
uint8_t nl_attr_u8(const struct nlattr *a);   /* 0 if too short */
uint16_t nl_attr_u16(const struct nlattr *a);
uint32_t nl_attr_u32(const struct nlattr *a);
uint64_t nl_attr_u64(const struct nlattr *a);
uint32_t nl_attr_be32(const struct nlattr *a); /* host order */
/* The attribute as a string if it is NUL-terminated inside its payload,
 * else NULL. */
const char *nl_attr_str(const struct nlattr *a);
