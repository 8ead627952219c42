/* pkg/agent cni: the pod network containerd's CRI plugin sets up for each
 * sandbox, as a CNI config list in the conf dir it reads. Until k3c's own
 * overlay (docs/AGENT.md "Network") this is Debian's bridge and host-local
 * plugins: one bridge per node, pod addresses from the node's /24 of the
 * cluster CIDR, masquerade to the outside, host ports through portmap.
 * Replacing it touches nothing but this file: the pod workers only see the
 * sandbox's IP. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The node's pod subnet: pod_cidr when set (the Node's spec.podCIDR),
 * else the first /24 of cluster_cidr ("10.42.0.0/16" -> "10.42.0.0/24").
 * Returns 0, or -EINVAL for a CIDR that is not IPv4 with a reason. */
int agent_cni_subnet(const char *pod_cidr, const char *cluster_cidr, char *ret, size_t retlen,
                     char *err, size_t errlen);

/* Write <conf_dir>/10-k3c.conflist (atomically) for a bridge named bridge
 * with subnet; host-local keeps its leases under ipam_dir. mtu: of the
 * bridge and the pods' interfaces (the overlay's, so that pod packets fit
 * the VXLAN encapsulation); 0: the plugin's default (1500). ip_masq: the
 * bridge plugin masquerades what leaves the node's subnet (off when the
 * overlay masquerades only what leaves the cluster, pkg/net/masq.h).
 * Returns 0 or a negative errno with a reason. */
int agent_cni_write(const char *conf_dir, const char *bridge, const char *subnet,
                    const char *ipam_dir, int mtu, bool ip_masq, char *err, size_t errlen);
