/* pkg/agent cni: the pod network containerd's CRI plugin sets up for each
 * sandbox, as a CNI config list in the conf dir it reads and the plugin
 * in the bin dir it runs plugins from: k3c's own (pkg/net/cniplugin.h), one
 * bridge per node, pod addresses from the node's /24 of the cluster CIDR,
 * host ports in nftables. The pod workers only see the sandbox's IP. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The node's pod subnet: pod_cidr when set (the Node's spec.podCIDR),
 * else the first /24 of cluster_cidr ("10.42.0.0/16" -> "10.42.0.0/24").
 * Returns 0, or -EINVAL for a CIDR that is not IPv4 with a reason. */
int agent_cni_subnet(const char *pod_cidr, const char *cluster_cidr, char *ret, size_t retlen,
                     char *err, size_t errlen);

/* The plugin type of the config (the name containerd runs). */
#define AGENT_CNI_TYPE "k3c-cni"

/* Write <conf_dir>/10-k3c.conflist (atomically) for k3c's plugin: bridge
 * named bridge, addresses of subnet with the leases under ipam_dir, the
 * portMappings capability. mtu: of the bridge and the pods' interfaces (the
 * overlay's, so that pod packets fit the VXLAN encapsulation); 0: the
 * kernel's default (1500). Returns 0 or a negative errno with a reason. */
int agent_cni_write(const char *conf_dir, const char *bridge, const char *subnet,
                    const char *ipam_dir, int mtu, char *err, size_t errlen);

/* Make bin_dir hold k3c-cni and loopback as symbolic links to exe (NULL:
 * this process's binary), the names containerd executes. Returns 0 or a
 * negative errno with a reason. */
int agent_cni_bin_write(const char *bin_dir, const char *exe, char *err, size_t errlen);
