/* pkg/net overlay: the agent's side of the pod network between nodes, as
 * flannel's vxlan backend with the kube subnet manager does it. On start
 * it makes the VXLAN device flannel.1 (VNI 1, UDP 8472, local = the node's
 * public IP, MTU = the underlay's - 50, a MAC derived from the node name);
 * then, from an informer on Nodes:
 *   - this Node: flannel.1 gets <spec.podCIDR network>/32, and the Node is
 *     annotated (merge patch) with flannel's names:
 *       flannel.alpha.coreos.com/backend-type         "vxlan"
 *       flannel.alpha.coreos.com/backend-data         {"VNI":1,"VtepMAC":"..."}
 *       flannel.alpha.coreos.com/public-ip            "<public IP>"
 *       flannel.alpha.coreos.com/kube-subnet-manager  "true"
 *   - every other Node with a podCIDR and those annotations: neighbour,
 *     FDB entry and route (vxlan.h); a Node deleted or changed has its
 *     entries removed or replaced at once, no restart. Entries on flannel.1
 *     that no Node accounts for (a Node deleted while this agent was down)
 *     are removed after the first list. Everything is programmed again
 *     every 30 s, so entries removed by hand come back.
 * It also sets the masquerade of pod traffic leaving the cluster CIDR
 * (masq.h), so pod-to-pod traffic across nodes keeps its source address.
 * Stopping leaves the device, its entries and the masquerade in place (pods keep talking
 * while the agent restarts). docs/NETWORK.md describes it.
 *
 * Threads: the client's loop. Netlink calls are made on it (each is a
 * quick, synchronous kernel request). */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <stddef.h>

#include "client/client.h"
#include "net/vxlan.h"

#define NET_OVERLAY_DEVICE "flannel.1"
#define NET_OVERLAY_VNI 1
#define NET_OVERLAY_PORT 8472

typedef struct net_overlay net_overlay_t;

typedef struct {
  const char *node_name; /* this Node */
  const char *node_ip;   /* its address: the public IP unless iface is set */
  const char *iface;     /* --flannel-iface: the interface whose first IPv4 address is the
                            public IP (NULL or "": the one that has node_ip) */
  const char *cluster_cidr; /* pod traffic from it to elsewhere is masqueraded (masq.h);
                               NULL: no masquerade rule */
} net_overlay_opts_t;

/* Find the public IP and its interface, make the device and start the
 * informer on c (which must outlive the overlay). Returns 0 and *ret, or
 * a negative errno with a reason for the user in err (no such interface,
 * no address, the kernel refused the device). Needs CAP_NET_ADMIN. */
int net_overlay_new(struct ev_loop *loop, client_t *c, const net_overlay_opts_t *o,
                    net_overlay_t **ret, char *err, size_t errlen);
/* Stop watching; the kernel state stays. Accepts NULL. */
void net_overlay_free(net_overlay_t *ov);

/* The peer a Node object describes: its spec.podCIDR (network address
 * and prefix; vtep_ip is the network address) and its flannel
 * annotations (backend-type "vxlan", backend-data with VNI 1 and a
 * VtepMAC, public-ip). -EINVAL, *ret unspecified, when any is missing or
 * malformed (a Node that has not published them yet). Any thread. */
int net_overlay_peer_of(const cJSON *node, net_vxlan_peer_t *ret);

/* For tests and status: the public IP in use ("a.b.c.d") and how many
 * peers are programmed now. */
const char *net_overlay_public_ip(const net_overlay_t *ov);
/* flannel.1's MTU: the most a pod's interface may have. */
int net_overlay_mtu(const net_overlay_t *ov);
size_t net_overlay_peers(const net_overlay_t *ov);
