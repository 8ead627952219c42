/* pkg/net podif: the links of a pod's attachment to the node's bridge, on
 * rtnetlink (nl.h, rtnl.h): the bridge with its gateway address, the veth
 * pair whose pod side is made inside the pod's network namespace, hairpin
 * mode on the bridge port, and the reads CHECK and IPAM reclaim need.
 * Calls block; they are for the short-lived CNI plugin process (one
 * thread). Errors: negative errno with "what: reason" in err. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/nl.h"

/* A NETLINK_ROUTE socket in the network namespace bound at path (the
 * calling thread's namespace is entered and left again). ret_fd, if not
 * NULL, gets an open descriptor of that namespace (caller closes).
 * -ENOENT when path does not exist (or is no namespace: -EINVAL). */
int net_podif_netns_open(const char *path, nl_sock_t **ret, int *ret_fd, char *err,
                         size_t errlen);

/* The host-side veth name for a container's interface: "veth" and 8 hex
 * digits of a hash of both (the same for every call with them). */
void net_podif_veth_name(const char *container_id, const char *ifname, char out[16]);

typedef struct {
  int index;
  int mtu;
  int master; /* bridge index, 0 if none */
  bool up;
  char mac[18];
} net_podif_link_t;

/* Read link name: 0, or -ENODEV. */
int net_podif_link(nl_sock_t *s, const char *name, net_podif_link_t *ret, char *err,
                   size_t errlen);

/* Make bridge name (if missing) with mtu (0: the kernel's), give it
 * gw/prefix, set it up. Returns its index or a negative errno. */
int net_podif_bridge(nl_sock_t *s, const char *name, int mtu, struct in_addr gw, int prefix,
                     char *err, size_t errlen);

/* Make the veth pair hostif (on the host, port of bridge master, hairpin
 * on, up) and podif (inside the namespace netns_fd, down), both with mtu
 * (0: the kernel's). A hostif left over by an earlier try is replaced. */
int net_podif_veth(nl_sock_t *s, const char *hostif, const char *podif, int netns_fd, int mtu,
                   int master, char *err, size_t errlen);

/* Has ifindex the address addr/prefix? 1 yes, 0 no, negative on error. */
int net_podif_has_addr4(nl_sock_t *s, int ifindex, struct in_addr addr, int prefix, char *err,
                        size_t errlen);

/* Call cb with the name of every link in the socket's namespace. */
typedef void (*net_podif_name_cb)(const char *name, void *data);
int net_podif_each_link(nl_sock_t *s, net_podif_name_cb cb, void *data, char *err,
                        size_t errlen);
