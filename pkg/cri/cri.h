/* CRI client: the Kubernetes Container Runtime Interface (runtime.v1
 * RuntimeService and ImageService) over gRPC to containerd's unix socket.
 *
 * gRPC runs over HTTP/2 (nghttp2) on the caller's libev loop, never
 * blocking it. Every RPC is asynchronous: it returns at once and its
 * callback runs later on the loop, exactly once, with a status and (on
 * success) the response. docs/CRI.md describes the design.
 *
 * Threads: a client belongs to one loop; call it only from that loop's
 * thread. A thread that owns a private loop may wait for a call by running
 * ev_run(loop, EVRUN_ONCE) until the callback has run.
 *
 * Memory: requests are encoded before the RPC function returns, so the
 * caller keeps ownership of every request struct and may free it at once.
 * A response and everything it points to is valid only while the callback
 * runs; copy what must be kept. Callbacks never run from inside an RPC
 * function, and may start new calls or free the client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* --- status --- */

/* gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
typedef enum {
  CRI_OK = 0,
  CRI_CANCELLED = 1,
  CRI_UNKNOWN = 2,
  CRI_INVALID_ARGUMENT = 3,
  CRI_DEADLINE_EXCEEDED = 4,
  CRI_NOT_FOUND = 5,
  CRI_ALREADY_EXISTS = 6,
  CRI_PERMISSION_DENIED = 7,
  CRI_RESOURCE_EXHAUSTED = 8,
  CRI_FAILED_PRECONDITION = 9,
  CRI_ABORTED = 10,
  CRI_OUT_OF_RANGE = 11,
  CRI_UNIMPLEMENTED = 12,
  CRI_INTERNAL = 13,
  CRI_UNAVAILABLE = 14,
  CRI_DATA_LOSS = 15,
  CRI_UNAUTHENTICATED = 16,
} cri_code_t;

/* The outcome of a call. Errors of the runtime come from its grpc-status
 * and grpc-message trailers (message kept as sent, percent-decoding
 * undone); local failures use the same codes: UNAVAILABLE when the socket
 * cannot be reached or the connection drops, DEADLINE_EXCEEDED when the
 * deadline passes, CANCELLED when the client is freed, INTERNAL for a
 * reply that is not valid gRPC or protobuf, RESOURCE_EXHAUSTED for a reply
 * above CRI_MSG_MAX. message is never NULL ("" on success). */
typedef struct {
  cri_code_t code;
  const char *message;
} cri_status_t;

/* The status as a negative errno (0 for CRI_OK): NOT_FOUND -ENOENT,
 * ALREADY_EXISTS -EEXIST, DEADLINE_EXCEEDED -ETIMEDOUT, UNAVAILABLE
 * -ECONNREFUSED, CANCELLED -ECANCELED, INVALID_ARGUMENT -EINVAL,
 * UNIMPLEMENTED -ENOSYS, RESOURCE_EXHAUSTED -E2BIG, others -EIO. */
int cri_status_errno(const cri_status_t *st);
/* "OK", "NotFound", ... as grpc-go names the codes. */
const char *cri_code_name(cri_code_t code);

/* --- client --- */

typedef struct cri_client cri_client_t;

/* Largest message accepted from the runtime (and the request size limit). */
#define CRI_MSG_MAX (16u * 1024 * 1024)
/* Deadline of a call unless the RPC needs longer (see each function). */
#define CRI_TIMEOUT_DEFAULT_MS 120000

/* A client for the gRPC server on the unix socket at socket_path. It
 * connects on the first call and again after the connection is lost (the
 * runtime restarted), so it may be created before the runtime is up.
 * Returns 0 and *ret_client (free with cri_client_free), or -EINVAL for a
 * path too long for a unix socket. */
int cri_client_new(struct ev_loop *loop, const char *socket_path, cri_client_t **ret_client);

/* Complete every pending call with CRI_CANCELLED (their callbacks run
 * before this returns and must not use the client), close the connection
 * and free the client. Accepts NULL. */
void cri_client_free(cri_client_t *c);

/* Drop the current connection (pending calls complete with UNAVAILABLE);
 * the next call connects afresh. For a supervisor that restarted the
 * runtime and knows the old socket is gone. */
void cri_client_reset(cri_client_t *c);

/* Deadline for calls started from now on (milliseconds, > 0). */
void cri_client_set_timeout(cri_client_t *c, int64_t timeout_ms);

/* Calls in flight (started, callback not yet run). */
size_t cri_client_pending(const cri_client_t *c);

/* --- common message pieces (runtime.v1) --- */

typedef struct {
  const char *key, *value;
} cri_kv_t;

/* map<string,string> and repeated string: n entries of v. */
typedef struct {
  const cri_kv_t *v;
  size_t n;
} cri_map_t;

typedef struct {
  const char *const *v;
  size_t n;
} cri_strv_t;

/* The value of key in m (a label or annotation map), or NULL. */
const char *cri_map_get(cri_map_t m, const char *key);

typedef enum { CRI_NS_POD = 0, CRI_NS_CONTAINER = 1, CRI_NS_NODE = 2, CRI_NS_TARGET = 3 } cri_ns_mode_t;
typedef enum { CRI_SANDBOX_READY = 0, CRI_SANDBOX_NOTREADY = 1 } cri_sandbox_state_t;
typedef enum {
  CRI_CONTAINER_CREATED = 0,
  CRI_CONTAINER_RUNNING = 1,
  CRI_CONTAINER_EXITED = 2,
  CRI_CONTAINER_UNKNOWN = 3,
} cri_container_state_t;
typedef enum { CRI_PROTO_TCP = 0, CRI_PROTO_UDP = 1, CRI_PROTO_SCTP = 2 } cri_protocol_t;

typedef struct {
  cri_ns_mode_t network, pid, ipc;
  const char *target_id;
} cri_ns_options_t;

/* An optional int64 (Int64Value): absent unless set. */
typedef struct {
  bool set;
  int64_t value;
} cri_opt_int64_t;

typedef struct {
  const char *name, *uid, *namespace_;
  uint32_t attempt;
} cri_sandbox_metadata_t;

typedef struct {
  cri_protocol_t protocol;
  int32_t container_port, host_port;
  const char *host_ip;
} cri_port_mapping_t;

typedef struct {
  cri_strv_t servers, searches, options;
} cri_dns_config_t;

typedef struct {
  cri_sandbox_metadata_t metadata;
  const char *hostname;
  const char *log_directory;
  const cri_dns_config_t *dns_config; /* NULL: the runtime's default */
  const cri_port_mapping_t *port_mappings;
  size_t n_port_mappings;
  cri_map_t labels, annotations;
  struct {
    const char *cgroup_parent;
    cri_ns_options_t namespace_options;
    cri_opt_int64_t run_as_user, run_as_group;
    bool readonly_rootfs, privileged;
    const int64_t *supplemental_groups;
    size_t n_supplemental_groups;
    cri_map_t sysctls;
  } lnx; /* LinuxPodSandboxConfig / LinuxContainerConfig ("linux" is a GNU C macro) */
} cri_sandbox_config_t;

typedef struct {
  const char *id;
  cri_sandbox_metadata_t metadata;
  cri_sandbox_state_t state;
  int64_t created_at; /* nanoseconds since the epoch */
  cri_map_t labels, annotations;
  const char *runtime_handler;
} cri_sandbox_t;

typedef struct {
  const char *id;
  cri_sandbox_metadata_t metadata;
  cri_sandbox_state_t state;
  int64_t created_at;
  const char *ip;           /* "" without a pod network (host network) */
  cri_strv_t additional_ips;
  cri_ns_options_t namespace_options;
  cri_map_t labels, annotations;
  const char *runtime_handler;
} cri_sandbox_status_t;

typedef struct {
  const char *id;              /* "" for any */
  bool has_state;
  cri_sandbox_state_t state;
  cri_map_t label_selector;
} cri_sandbox_filter_t;

typedef struct {
  const char *name;
  uint32_t attempt;
} cri_container_metadata_t;

typedef enum {
  CRI_PROPAGATION_PRIVATE = 0,
  CRI_PROPAGATION_HOST_TO_CONTAINER = 1,
  CRI_PROPAGATION_BIDIRECTIONAL = 2,
} cri_propagation_t;

typedef struct {
  const char *container_path, *host_path;
  bool readonly, selinux_relabel;
  cri_propagation_t propagation;
} cri_mount_t;

typedef struct {
  int64_t cpu_period, cpu_quota, cpu_shares, memory_limit_in_bytes, oom_score_adj;
  const char *cpuset_cpus, *cpuset_mems;
} cri_resources_t;

typedef struct {
  cri_container_metadata_t metadata;
  const char *image;
  cri_strv_t command, args;
  const char *working_dir;
  const cri_kv_t *envs;
  size_t n_envs;
  const cri_mount_t *mounts;
  size_t n_mounts;
  cri_map_t labels, annotations;
  const char *log_path; /* relative to the sandbox's log_directory */
  bool stdin_, stdin_once, tty;
  struct {
    const cri_resources_t *resources; /* NULL: none */
    cri_strv_t add_capabilities, drop_capabilities;
    bool privileged, readonly_rootfs, no_new_privs;
    cri_ns_options_t namespace_options;
    cri_opt_int64_t run_as_user, run_as_group;
    const char *run_as_username;
    const int64_t *supplemental_groups;
    size_t n_supplemental_groups;
    cri_strv_t masked_paths, readonly_paths;
  } lnx; /* LinuxPodSandboxConfig / LinuxContainerConfig ("linux" is a GNU C macro) */
} cri_container_config_t;

typedef struct {
  const char *id, *pod_sandbox_id;
  cri_container_metadata_t metadata;
  const char *image, *image_ref;
  cri_container_state_t state;
  int64_t created_at;
  cri_map_t labels, annotations;
} cri_container_t;

typedef struct {
  const char *id;
  cri_container_metadata_t metadata;
  cri_container_state_t state;
  int64_t created_at, started_at, finished_at; /* nanoseconds; 0 when not yet */
  int32_t exit_code;
  const char *image, *image_ref, *reason, *message;
  cri_map_t labels, annotations;
  const char *log_path;
} cri_container_status_t;

typedef struct {
  const char *id, *pod_sandbox_id; /* "" for any */
  bool has_state;
  cri_container_state_t state;
  cri_map_t label_selector;
} cri_container_filter_t;

typedef struct {
  const char *id;
  cri_strv_t repo_tags, repo_digests;
  uint64_t size;
  cri_opt_int64_t uid;
  const char *username;
  bool pinned;
} cri_image_t;

typedef struct {
  const char *username, *password, *auth, *server_address, *identity_token, *registry_token;
} cri_auth_t;

typedef struct {
  int64_t timestamp;
  const char *mountpoint;
  uint64_t used_bytes, inodes_used;
} cri_fs_usage_t;

typedef struct {
  const char *version, *runtime_name, *runtime_version, *runtime_api_version;
} cri_version_t;

typedef struct {
  const char *type;
  bool status;
  const char *reason, *message;
} cri_condition_t;

typedef struct {
  const cri_condition_t *conditions;
  size_t n_conditions;
} cri_runtime_status_t;

typedef struct {
  const uint8_t *stdout_, *stderr_;
  size_t stdout_len, stderr_len;
  int32_t exit_code;
} cri_exec_result_t;

/* An optional uint64 (UInt64Value): absent unless set. */
typedef struct {
  bool set;
  uint64_t value;
} cri_opt_uint64_t;

/* ContainerStats: the runtime's resource usage of one container. The
 * runtime fills what its cgroups give (containerd 1.6 on cgroup v1:
 * cpu.usage_core_nano_seconds, memory working_set/usage/rss, no
 * usage_nano_cores); absent values have set false. Timestamps are
 * nanoseconds since the epoch. */
typedef struct {
  const char *id;
  cri_container_metadata_t metadata;
  cri_map_t labels, annotations;
  struct {
    int64_t timestamp;
    cri_opt_uint64_t usage_core_nano_seconds, usage_nano_cores;
  } cpu;
  struct {
    int64_t timestamp;
    cri_opt_uint64_t working_set_bytes, available_bytes, usage_bytes, rss_bytes, page_faults,
        major_page_faults;
  } memory;
} cri_container_stats_t;

typedef struct {
  const char *id, *pod_sandbox_id; /* "" for any */
  cri_map_t label_selector;
} cri_stats_filter_t;

/* --- callbacks: resp is NULL unless st->code == CRI_OK --- */

typedef void (*cri_done_cb)(void *data, const cri_status_t *st);
/* A created id (sandbox, container) or an image reference. */
typedef void (*cri_id_cb)(void *data, const cri_status_t *st, const char *id);
typedef void (*cri_version_cb)(void *data, const cri_status_t *st, const cri_version_t *resp);
typedef void (*cri_status_cb)(void *data, const cri_status_t *st, const cri_runtime_status_t *resp);
typedef void (*cri_sandbox_status_cb)(void *data, const cri_status_t *st,
                                      const cri_sandbox_status_t *resp);
typedef void (*cri_sandbox_list_cb)(void *data, const cri_status_t *st, const cri_sandbox_t *items,
                                    size_t n);
typedef void (*cri_container_list_cb)(void *data, const cri_status_t *st,
                                      const cri_container_t *items, size_t n);
typedef void (*cri_container_status_cb)(void *data, const cri_status_t *st,
                                        const cri_container_status_t *resp);
typedef void (*cri_container_stats_cb)(void *data, const cri_status_t *st,
                                       const cri_container_stats_t *items, size_t n);
typedef void (*cri_exec_cb)(void *data, const cri_status_t *st, const cri_exec_result_t *resp);
typedef void (*cri_image_list_cb)(void *data, const cri_status_t *st, const cri_image_t *items,
                                  size_t n);
/* image is NULL (with CRI_OK) when the runtime does not have it. */
typedef void (*cri_image_status_cb)(void *data, const cri_status_t *st, const cri_image_t *image);
typedef void (*cri_fs_info_cb)(void *data, const cri_status_t *st, const cri_fs_usage_t *image_fs,
                               size_t n_image_fs, const cri_fs_usage_t *container_fs,
                               size_t n_container_fs);

/* --- RuntimeService ---
 * Each returns 0 when the call started (cb will run exactly once), or a
 * negative errno when it did not (cb never runs): -E2BIG for a request
 * above CRI_MSG_MAX, -EINVAL for a missing required argument. */

int cri_version(cri_client_t *c, cri_version_cb cb, void *data);
int cri_status(cri_client_t *c, cri_status_cb cb, void *data);
/* runtime_handler may be NULL (the default runtime). */
int cri_run_pod_sandbox(cri_client_t *c, const cri_sandbox_config_t *config,
                        const char *runtime_handler, cri_id_cb cb, void *data);
int cri_stop_pod_sandbox(cri_client_t *c, const char *sandbox_id, cri_done_cb cb, void *data);
int cri_remove_pod_sandbox(cri_client_t *c, const char *sandbox_id, cri_done_cb cb, void *data);
int cri_pod_sandbox_status(cri_client_t *c, const char *sandbox_id, cri_sandbox_status_cb cb,
                           void *data);
/* filter may be NULL (every sandbox). */
int cri_list_pod_sandbox(cri_client_t *c, const cri_sandbox_filter_t *filter,
                         cri_sandbox_list_cb cb, void *data);
int cri_create_container(cri_client_t *c, const char *sandbox_id,
                         const cri_container_config_t *config,
                         const cri_sandbox_config_t *sandbox_config, cri_id_cb cb, void *data);
int cri_start_container(cri_client_t *c, const char *container_id, cri_done_cb cb, void *data);
/* SIGTERM, then SIGKILL after timeout_s; the deadline is extended by it. */
int cri_stop_container(cri_client_t *c, const char *container_id, int64_t timeout_s,
                       cri_done_cb cb, void *data);
int cri_remove_container(cri_client_t *c, const char *container_id, cri_done_cb cb, void *data);
/* Ask the runtime to reopen the container's log file at its log_path (the
 * kubelet's log rotation renamed the old one); the container must run. */
int cri_reopen_container_log(cri_client_t *c, const char *container_id, cri_done_cb cb,
                             void *data);
int cri_list_containers(cri_client_t *c, const cri_container_filter_t *filter,
                        cri_container_list_cb cb, void *data);
int cri_container_status(cri_client_t *c, const char *container_id, cri_container_status_cb cb,
                         void *data);
/* Run cmd in the container and collect its output (at most CRI_MSG_MAX in
 * all). timeout_s > 0 is the runtime's limit (exit code then nonzero) and
 * extends the call's deadline; 0 leaves the runtime's limit off and the
 * client's deadline on. */
int cri_exec_sync(cri_client_t *c, const char *container_id, cri_strv_t cmd, int64_t timeout_s,
                  cri_exec_cb cb, void *data);

/* ContainerStats of one container (n is 1), or ListContainerStats of
 * those filter selects (NULL: every container). */
int cri_container_stats(cri_client_t *c, const char *container_id, cri_container_stats_cb cb,
                        void *data);
int cri_list_container_stats(cri_client_t *c, const cri_stats_filter_t *filter,
                             cri_container_stats_cb cb, void *data);

/* Streaming calls: the runtime answers with the URL of a one-time session
 * on its streaming server ("http://127.0.0.1:10010/exec/<token>"), passed
 * to cb as its id; the caller connects there (kubectl's WebSocket or SPDY
 * upgrade, relayed) within the runtime's token lifetime (a minute). */
typedef struct {
  bool tty, stdin_, stdout_, stderr_;
} cri_stream_flags_t;
int cri_exec(cri_client_t *c, const char *container_id, cri_strv_t cmd,
             const cri_stream_flags_t *f, cri_id_cb cb, void *data);
int cri_attach(cri_client_t *c, const char *container_id, const cri_stream_flags_t *f,
               cri_id_cb cb, void *data);
/* ports may be empty (n 0): the client names them per stream. */
int cri_port_forward(cri_client_t *c, const char *sandbox_id, const int32_t *ports, size_t n,
                     cri_id_cb cb, void *data);

/* --- ImageService --- */

/* auth and sandbox_config may be NULL. Deadline: 30 minutes. */
int cri_pull_image(cri_client_t *c, const char *image, const cri_auth_t *auth,
                   const cri_sandbox_config_t *sandbox_config, cri_id_cb cb, void *data);
/* image may be NULL (every image). */
int cri_list_images(cri_client_t *c, const char *image, cri_image_list_cb cb, void *data);
int cri_image_status(cri_client_t *c, const char *image, cri_image_status_cb cb, void *data);
int cri_remove_image(cri_client_t *c, const char *image, cri_done_cb cb, void *data);
int cri_image_fs_info(cri_client_t *c, cri_fs_info_cb cb, void *data);

/* --- images without a registry (containerd's own services) --- */

/* Import the images of an image tarball (an uncompressed tar) into
 * containerd's k8s.io namespace through its leases, content, snapshots,
 * diff and images services on socket_path, unpacking each layer into
 * snapshotter (NULL: overlayfs), and wait until CRI lists them. Two
 * formats, told apart by their members (pkg/cri/archive.h): an OCI image
 * layout (oci-layout, index.json, blobs/sha256/...), each manifest of
 * index.json imported under its io.containerd.image.name annotation; or a
 * docker-archive (`docker save`: manifest.json, config JSON, layer tars),
 * each entry imported under every RepoTag, normalised as docker does
 * ("busybox:1.36" -> "docker.io/library/busybox:1.36"), with a schema 2
 * manifest written for it. A tarball with both (Docker 25+) is read as OCI.
 * Blobs and snapshots already present are reused; layers are read 1 MiB at
 * a time. Blocks the calling thread (it runs a private loop): call it from
 * a thread that may wait, not from the agent's loop. Returns 0 and
 * *ret_count (names imported; may be NULL), or a negative errno with a
 * reason in err. */
int cri_image_import(const char *socket_path, const char *tar_path, const char *snapshotter,
                     size_t *ret_count, char *err, size_t errlen);
