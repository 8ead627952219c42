/* pkg/net hostport: the hostPort mappings of the pods of this node (the
 * CNI portMappings capability) in an nf_tables table of their own, made
 * through nfnetlink (nft.h) as one atomic batch from the whole list each
 * time (the CNI plugin's leases hold the list, ipam.h):
 *
 *   table ip k3c-hostport
 *     prerouting, output (nat, dstnat -100): fib daddr type local jump hostports
 *     hostports: [ip daddr <hostIP>] meta l4proto <p> th dport <hostPort>
 *                dnat to <pod>:<containerPort>
 *     postrouting (nat, srcnat 100): per mapped pod
 *                ip saddr <pod> ip daddr <pod> masquerade   (a pod reaching its own hostPort)
 *                ip saddr 127.0.0.0/8 ip daddr <pod> masquerade (localhost:<hostPort>)
 *
 * An empty list removes the table. Blocking; the plugin process's. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>

#include "net/cnimsg.h"
#include "net/nl.h"

#define NET_HOSTPORT_TABLE "k3c-hostport"

typedef struct {
  struct in_addr pod;
  net_cni_port_t port;
} net_hostport_t;

/* Make the table hold exactly the n mappings of v (NETLINK_NETFILTER
 * socket). Returns 0 or a negative errno with a reason. */
int net_hostport_sync(nl_sock_t *nf, const net_hostport_t *v, size_t n, char *err,
                      size_t errlen);
