/* pkg/net masq: the masquerade of pod traffic leaving the cluster, as
 * flannel sets it up beside its overlay, in an nf_tables table of k3c's
 * own (ip k3c-overlay, chain postrouting: type nat, hook postrouting,
 * priority srcnat 100) with one rule:
 *   ip saddr <cluster CIDR> ip daddr != <cluster CIDR> ip daddr != 224.0.0.0/4 masquerade
 * so pod-to-pod traffic across nodes keeps the sending pod's address and
 * everything else leaving the cluster takes the node's. With it the CNI
 * bridge plugin's own ipMasq (which masquerades all but the node's own pod
 * subnet) is turned off. Made through nfnetlink (nl.h), no nft program.
 * https://wiki.nftables.org/wiki-nftables/index.php/Performing_Network_Address_Translation_(NAT)
 *
 * Calls act in the socket's (NETLINK_NETFILTER) network namespace, block,
 * and return 0 or a negative errno with the kernel's reason in err. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>

#include "net/nl.h"

#define NET_MASQ_TABLE "k3c-overlay"

/* Make the table, chain and rule for cluster (network address, prefix
 * 0..32), replacing whatever the table held, in one atomic batch. */
int net_masq_ensure(nl_sock_t *s, struct in_addr cluster, int prefix, char *err, size_t errlen);
/* Delete the table; 0 if there was none. */
int net_masq_remove(nl_sock_t *s, char *err, size_t errlen);
/* The table's rules as text, for tests: each rule's expressions separated
 * by spaces ("payload(12) &255.255.0.0 ==10.42.0.0 ... masq"), rules by
 * ";". -ENOENT when the table does not exist. */
int net_masq_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen);
