/* pkg/agent podspec: what a kubelet sends the container runtime for a pod,
 * computed from the Pod object alone (and the ConfigMaps and Secrets it
 * names): the CRI PodSandboxConfig and ContainerConfig, the environment,
 * resources as cgroup settings, the QoS class.
 * https://kubernetes.io/docs/concepts/workloads/pods/
 *
 * Pure functions; any thread. Strings in the configs are borrowed from the
 * pod and env arguments or live in an agent_podspec_mem_t: keep the pod,
 * the env array and the mem until the CRI call that uses a config has been
 * started (cri.h encodes requests before returning). docs/CRI.md ("Pod to
 * CRI") lists what is translated and what is not yet. */
#pragma once

#include <cjson/cJSON.h>
#include <stdint.h>

#include "cri/cri.h"

/* Labels k3c (like the kubelet) puts on every sandbox and container: they
 * say which pod and container a CRI object belongs to after a restart. */
#define AGENT_LABEL_POD_NAME "io.kubernetes.pod.name"
#define AGENT_LABEL_POD_NAMESPACE "io.kubernetes.pod.namespace"
#define AGENT_LABEL_POD_UID "io.kubernetes.pod.uid"
#define AGENT_LABEL_CONTAINER_NAME "io.kubernetes.container.name"
#define AGENT_LABEL_MANAGED "io.k3c.managed" /* "true" on everything k3c made */
#define AGENT_LABEL_INIT "io.k3c.init"       /* "true" on init containers */

/* Memory the configs point into: start it zeroed ({0}); one mem may serve
 * many configs. Free everything with agent_podspec_mem_done (accepts a
 * zeroed or NULL mem; the mem may be reused afterwards). */
typedef struct {
  void **_v;
  size_t _n, _cap;
  /* the mounts with a subPath (or expanded subPathExpr) of the container
   * configs made: [{"name": mount's volume, "volume": its host directory,
   * "subPath": ...}], for agent/subpath.h before the container is created */
  cJSON *subpaths;
} agent_podspec_mem_t;
void agent_podspec_mem_done(agent_podspec_mem_t *m);

/* The node a pod runs on, as podspec needs it. */
typedef struct {
  const char *name;           /* the Node's name */
  const char *host_ip;        /* status.hostIP */
  const char *logs_dir;       /* pod log directories go under it */
  const char *pods_dir;       /* per-pod state (emptyDir volumes) under <pods_dir>/<uid>/ */
  const char *cgroup_root;    /* "/" (pods under <root>/kubepods/...) */
  const char *cluster_dns;    /* NULL: no cluster DNS (pods get the host's resolv.conf) */
  const char *cluster_domain; /* "cluster.local" */
  const char *kubernetes_service_host; /* the kubernetes Service's ClusterIP, NULL: none */
  int64_t memory_capacity;    /* bytes, for oom_score_adj of Burstable pods */
  int64_t milli_cpu_capacity; /* for resourceFieldRef limits.cpu without a limit */
} agent_podspec_node_t;

/* The ConfigMaps and Secrets of the pod's namespace that it refers to:
 * objects keyed by name, each the whole API object (NULL: none known);
 * the tokens of its projected serviceAccountToken sources, keyed by
 * agent_satokens_source_key (NULL: none yet), and why one is missing. */
typedef struct {
  const cJSON *configmaps;
  const cJSON *secrets;
  const cJSON *tokens;
  const char *token_err;
} agent_podspec_refs_t;

/* The status of the pod's container (or init or ephemeral container)
 * called name, from status.containerStatuses and the like; NULL if it has
 * none yet. Borrowed pointer into pod. */
const cJSON *agent_podspec_container_status(const cJSON *pod, const char *name);

/* "Guaranteed", "Burstable" or "BestEffort" (upstream's ComputePodQOS over
 * containers and init containers, cpu and memory only, a missing request
 * defaulting to the limit). Computed from the spec every time, so it does
 * not depend on the status.qosClass the API server wrote. Static string. */
const char *agent_podspec_qos(const cJSON *pod);

/* The names of the ConfigMaps and Secrets the pod's containers and init
 * containers refer to (env valueFrom, envFrom; volumes of type configMap,
 * secret and projected; spec.imagePullSecrets too, which the caller needs
 * for pulls), each once, in order of first use: two new arrays of strings
 * (caller frees both with cJSON_Delete). Either ret_* may be NULL. */
void agent_podspec_ref_names(const cJSON *pod, cJSON **ret_configmaps, cJSON **ret_secrets);

/* The environment of container (an element of the pod's containers or
 * initContainers) as a new array of {"name","value"} (caller frees), in
 * upstream's order and with $(VAR) references expanded: envFrom first,
 * then env (later entries win); value, valueFrom fieldRef (metadata.name,
 * .namespace, .uid, .labels['k'], .annotations['k'], spec.nodeName,
 * spec.serviceAccountName, status.hostIP(s), status.podIP(s)),
 * resourceFieldRef (limits/requests cpu, memory, ephemeral-storage with
 * divisor; a missing limit gives the node's capacity), configMapKeyRef,
 * secretKeyRef (base64 data decoded), optional refs skipped.
 * Returns 0, or -ENOENT when a non-optional reference is missing, with the
 * kubelet's message in err (`configmap "x" not found`, `couldn't find key
 * k in ConfigMap ns/x`, `secret "x" not found`, `couldn't find key k in
 * Secret ns/x`): the pod then waits with reason CreateContainerConfigError.
 * -EINVAL with a reason for a malformed reference (unsupported fieldPath
 * or resource, bad quantity or base64). pod_ip may be NULL (""). envFrom
 * keys that are not valid variable names are skipped. A name set twice
 * keeps its first position and takes the later value. With
 * node->kubernetes_service_host, the kubelet's variables of the default
 * namespace's kubernetes Service come first (KUBERNETES_SERVICE_HOST,
 * KUBERNETES_SERVICE_PORT=443, _PORT_HTTPS, KUBERNETES_PORT=tcp://IP:443
 * and KUBERNETES_PORT_443_TCP{,_PROTO,_PORT,_ADDR}), the pod's own
 * variables overriding them. *ret_env is written only on success. */
int agent_podspec_env(const cJSON *pod, const cJSON *container, const agent_podspec_refs_t *refs,
                      const agent_podspec_node_t *node, const char *pod_ip, cJSON **ret_env,
                      char *err, size_t errlen);

/* The PodSandboxConfig of attempt `attempt` of pod: metadata, hostname,
 * log_directory <logs_dir>/<ns>_<name>_<uid>, DNS (cluster DNS for
 * dnsPolicy ClusterFirst, host's for Default or hostNetwork ClusterFirst,
 * spec.dnsConfig merged, None), hostPort port mappings, labels (the pod's
 * plus AGENT_LABEL_*), annotations, cgroup_parent
 * <cgroup_root>/kubepods[/burstable|/besteffort]/pod<uid>, namespace
 * options (hostNetwork, hostPID, hostIPC), run_as_user/group,
 * supplemental groups (fsGroup first), sysctls, privileged when any
 * container is. Every container port is a port mapping (host_port 0 for
 * those without hostPort, as upstream; the runtime maps only the others).
 * dns_config NULL means the host's resolv.conf (the runtime copies it).
 * Returns 0, or -EINVAL with a reason in err. *ret is filled only on
 * success. */
int agent_podspec_sandbox(const cJSON *pod, uint32_t attempt, const agent_podspec_node_t *node,
                          agent_podspec_mem_t *mem, cri_sandbox_config_t *ret, char *err,
                          size_t errlen);

/* The ContainerConfig of attempt `attempt` (= the restart count) of
 * container: metadata, image, command/args with $(VAR) from env (an array
 * from agent_podspec_env), working_dir, envs, mounts (volumeMounts of
 * emptyDir and hostPath volumes; the host directory of an emptyDir is
 * <pods_dir>/<uid>/volumes/kubernetes.io~empty-dir/<name>, created by the
 * caller: see agent_podspec_dirs), labels, annotations, log_path
 * <name>/<attempt>.log, stdin/tty, resources (cpu shares from the request,
 * quota from the limit over a 100 ms period, memory limit,
 * oom_score_adj by QoS as upstream), capabilities, privileged,
 * readonly_rootfs, no_new_privs (allowPrivilegeEscalation false),
 * run_as_user/group (container over pod securityContext), namespace
 * options (pid per container unless shareProcessNamespace), upstream's
 * masked and read-only /proc paths. image is the container's image as
 * written: a caller that resolved it (an image id) may replace ret->image.
 * Returns 0; -EINVAL with a reason in err (`volume "x" not found`, a bad
 * subPath, runAsUser 0 with runAsNonRoot); -ENOTSUP with a reason for a
 * volume type k3c cannot mount yet (`volume type configMap of "x" is not
 * supported yet`). *ret is filled only on success. */
int agent_podspec_container(const cJSON *pod, const cJSON *container, uint32_t attempt,
                            const cJSON *env, const agent_podspec_node_t *node,
                            agent_podspec_mem_t *mem, cri_container_config_t *ret, char *err,
                            size_t errlen);

/* Directories the caller creates (mode 0755, parents too) before the
 * containers of pod start: a new array of path strings (caller frees): the
 * pod's log directory and one per container, <pods_dir>/<uid>, each
 * emptyDir volume's directory, hostPath volumes of type DirectoryOrCreate. */
cJSON *agent_podspec_dirs(const cJSON *pod, const agent_podspec_node_t *node);

/* The host directory of volume name of the given type ("emptyDir",
 * "configMap", "secret", "downwardAPI", "projected"):
 * <pods_dir>/<uid>/volumes/kubernetes.io~<plugin>/<name>, as upstream lays
 * them out. Returns 0, -ENOTSUP for another type, -ENAMETOOLONG. */
int agent_podspec_volume_dir(const cJSON *pod, const agent_podspec_node_t *node, const char *type,
                             const char *name, char *out, size_t len);

/* The value of a downward API fieldRef ({"fieldPath": "metadata.name"},
 * labels and annotations as key="value" lines) of pod, as env and
 * downwardAPI volumes show it: a new string in *ret (caller frees).
 * Returns 0, or -EINVAL with a reason for an unsupported fieldPath. */
int agent_podspec_field(const cJSON *pod, const agent_podspec_node_t *node, const char *pod_ip,
                        const cJSON *field_ref, char **ret, char *err, size_t errlen);

/* How long a stopping container may take: the pod's
 * terminationGracePeriodSeconds (default 30), or the deletion's
 * metadata.deletionGracePeriodSeconds when set; never negative. Upstream's
 * kubelet gives a container at least 2 s after its preStop hook: that
 * floor is the caller's. */
int64_t agent_podspec_grace_seconds(const cJSON *pod);
