/* pkg/agent host: facts about the machine a real node agent runs on, and
 * the Node objects built from them: capacity and allocatable (capacity less
 * --kube-reserved and --system-reserved), addresses, nodeInfo, the kubelet's
 * eviction-threshold pressure readings, registration labels and taints.
 *
 * Every function is pure but for reading files (and gethostname, sysconf,
 * uname, statvfs, getifaddrs). Files are read under a root prefix ("" for
 * the real machine, a fake tree in unit tests). Callable from any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config/config.h"

#define AGENT_HOST_PODS 110 /* upstream's kubelet --max-pods default */
#define AGENT_HOST_KUBELET_PORT 10250

typedef struct {
  char hostname[256];      /* lower-cased, as the kubelet's default node name */
  int cpus;                /* online CPUs */
  uint64_t memory_bytes;   /* MemTotal */
  uint64_t storage_bytes;  /* size of the file system holding data_dir */
  char kernel[128];        /* uname release */
  char os_image[256];      /* PRETTY_NAME of /etc/os-release, "Linux" without one */
  char machine_id[64];     /* /etc/machine-id, "" when absent */
  char boot_id[64];        /* /proc/sys/kernel/random/boot_id, "" when absent */
  char system_uuid[64];    /* DMI product_uuid when readable, else machine_id */
  const char *arch;        /* "amd64", "arm64", "arm" (static) */
  char node_ip[48];        /* IPv4 of the default route's interface, or 127.0.0.1 */
} agent_host_t;

/* Read the facts. root: prefix of every file read ("" or NULL: "/");
 * data_dir: the folder whose file system is the ephemeral storage (not
 * prefixed). Returns 0 with *ret filled, or a negative errno when
 * <root>/proc/meminfo has no MemTotal or statvfs(data_dir) fails. */
/* The Go architecture name of this build: "amd64", "arm64", "arm". */
const char *agent_host_arch(void);

int agent_host_read(const char *root, const char *data_dir, agent_host_t *ret);

/* The name of the interface of the IPv4 default route in <root>/proc/net/route
 * (the one with the lowest metric). Returns 0 with ret_iface (NUL-terminated,
 * at most len-1 bytes), -ENOENT when there is no default route, or another
 * negative errno when the file cannot be read. */
int agent_host_default_iface(const char *root, char *ret_iface, size_t len);

/* The node status object agent_node_opts_t.status wants: capacity (cpu,
 * memory, ephemeral-storage, pods=110), allocatable (capacity less both
 * reserved lists, never below zero), addresses (InternalIP node_ip,
 * Hostname), daemonEndpoints.kubeletEndpoint.Port 10250 and nodeInfo.
 * node_ip NULL: h->node_ip. kube_reserved, system_reserved: "" or NULL, or
 * "cpu=100m,memory=256Mi,ephemeral-storage=1Gi" (pid=N is accepted and
 * ignored, as it has no allocatable).
 * Returns a new object (caller frees with cJSON_Delete), or NULL with a
 * reason in err when a reserved list is malformed. */
cJSON *agent_host_node_status(const agent_host_t *h, const char *node_ip,
                              const char *kube_reserved, const char *system_reserved,
                              const char *runtime_version, const char *kubelet_version,
                              char *err, size_t errlen);

/* The kubelet's default hard eviction thresholds, read now:
 * memory.available < 100Mi (MemAvailable of <root>/proc/meminfo), nodefs
 * available < 10% (statvfs(data_dir)), PIDs in use (<root>/proc/loadavg)
 * > 90% of <root>/proc/sys/kernel/pid_max. A reading that cannot be made
 * counts as no pressure. Each out-parameter may be NULL. */
void agent_host_pressure(const char *root, const char *data_dir, bool *mem, bool *disk, bool *pid);

/* The node's name, as the kubelet makes it: --node-name, else the host
 * name, lower-cased; with --with-node-id "-" and an 8-hex-digit id kept in
 * <data_dir>/agent/node-id (made once, 0600) appended, as k3s does. Returns
 * 0 with the name in ret, or a negative errno with a reason in err (no
 * name, an id file that cannot be made, a name that is not a DNS-1123
 * subdomain). */
int agent_host_node_name(const char *configured, const char *hostname, bool with_id,
                         const char *data_dir, char *ret, size_t n, char *err, size_t errlen);

/* The labels a node registers with: kubernetes.io/hostname=node_name,
 * kubernetes.io/os, kubernetes.io/arch and their beta.kubernetes.io twins,
 * node.kubernetes.io/instance-type=k3c, node-role.kubernetes.io/control-plane
 * and node-role.kubernetes.io/master ("true") when control_plane, then each
 * "key=value" of node_labels (may be NULL; later entries win). Returns a new
 * object (caller frees), or NULL with a message naming the bad entry. */
cJSON *agent_host_labels(const char *node_name, bool control_plane,
                         const config_list_t *node_labels, char *err, size_t errlen);

/* spec.taints from "key=value:Effect" / "key:Effect" entries (may be NULL:
 * an empty array), Effect one of NoSchedule, PreferNoSchedule, NoExecute.
 * Returns a new array (caller frees), or NULL with a message naming the bad
 * entry. */
cJSON *agent_host_taints(const config_list_t *node_taints, char *err, size_t errlen);
