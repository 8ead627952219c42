/* pkg/net cniplugin: k3c's built-in CNI plugin, the program containerd's
 * CRI plugin runs for every pod sandbox as <bin_dir>/<type> with the CNI_*
 * environment and the network config on stdin (CNI spec 1.0.0, "Execution
 * Protocol"). The k3c binary is that program when it is called as k3c-cni
 * or loopback (symbolic links in the agent's CNI bin dir), or as `k3c cni`.
 *
 *   type k3c-cni   a veth pair per pod: the pod side (CNI_IFNAME) in the
 *                  sandbox's network namespace with an address of the node's
 *                  subnet (ipam.h) and a default route via the gateway, the
 *                  host side a hairpin port of the bridge (podif.h), hostPort
 *                  mappings in nftables (hostport.h)
 *   type loopback  lo up in the sandbox (containerd asks for it itself)
 *
 * ADD, DEL (idempotent: a missing namespace, lease or link is no error),
 * CHECK (the interface, its address and the host port) and VERSION.
 * Everything that changes state runs under the IPAM directory's lock. */
#pragma once

#include <stddef.h>

#include "net/cnimsg.h"

/* Run one request. *ret_out: what to print on stdout (the result, the
 * error JSON, or NULL for nothing); caller frees. Returns the process's
 * exit code: 0, or 1 with the error JSON in *ret_out. */
int net_cni_run(const net_cni_env_t *env, const char *conf, size_t conflen, char **ret_out);

/* The whole program: reads the environment and stdin (at most 1 MiB),
 * prints, returns the exit code. */
int net_cni_main(void);
