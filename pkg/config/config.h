/* Configuration shared by every k3c subcommand.
 *
 * One table (config.c) describes each option once: its flag name, its K3C_*
 * environment variable, its type, default, help text and the subcommands it
 * applies to. Values come from, lowest to highest precedence:
 *   defaults < config file (/etc/k3c/config.yaml) < environment < flags.
 * Config file keys are the flag names ("data-dir: /srv/k3c"). Unknown keys,
 * unknown flags and bad values are errors that name the culprit.
 * Not thread-safe; load once at start-up, then treat as read-only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
  CONFIG_CMD_SERVER = 1 << 0,
  CONFIG_CMD_AGENT = 1 << 1,
  CONFIG_CMD_TOKEN = 1 << 2,
} config_cmd_t;

typedef struct {
  char **v; /* NULL-terminated */
  size_t n;
} config_list_t;

typedef struct {
  /* all subcommands */
  char *config_file;
  bool debug;
  char *data_dir;
  char *node_name;
  config_list_t node_ip;
  config_list_t node_label;  /* "k=v" registration labels */
  config_list_t node_taint;  /* "k=v:Effect" / "k:Effect" registration taints */
  config_list_t node_external_ip; /* ExternalIP addresses of the Node */
  bool with_node_id;         /* "-<id>" after the node name (<data-dir>/agent/node-id) */
  char *kube_reserved;       /* "cpu=100m,memory=256Mi,ephemeral-storage=1Gi" or "" */
  char *system_reserved;
  char *cgroup_root;         /* pods' cgroups under <root>/kubepods */
  char *private_registry;    /* registries.yaml; used only when it exists */
  char *token;
  char *token_file;
  char *flannel_backend;     /* "vxlan" (the overlay, pkg/net/overlay.h) or "none" */
  char *flannel_iface;       /* the overlay's interface; NULL: the node IP's */
  /* server */
  char *bind_address;
  int https_listen_port;
  int kubelet_port; /* the kubelet API (logs); 0: off */
  char *container_log_max_size; /* "10Mi": rotate a container's log at this size; "0": never */
  int container_log_max_files;  /* files kept per container attempt, the current included */
  config_list_t tls_san;
  char *write_kubeconfig;
  int write_kubeconfig_mode;
  bool disable_agent;
  char *cluster_cidr;
  char *service_cidr;
  char *cluster_dns;            /* "" or NULL: no cluster DNS */
  char *resolv_conf;            /* the cluster DNS's upstream nameservers */
  config_list_t disable;        /* packaged components not to run ("coredns") */
  char *datastore_endpoint;
  int output_budget_mib; /* unsent response bytes all connections may hold */
  bool disable_scheduler;
  bool anonymous_auth; /* requests without credentials are system:anonymous */
  bool secrets_encryption; /* seal Secrets at rest (pkg/server/encryption.h) */
  char *audit_log_path;    /* NULL: no audit log (pkg/api/audit.h) */
  char *audit_policy_file;
  int audit_log_maxsize, audit_log_maxbackup, audit_log_maxage;
  bool disable_kube_proxy; /* no service proxy on this node's agent */
  bool disable_network_policy; /* no NetworkPolicy enforcement on this node's agent */
  int node_monitor_grace_period;            /* seconds without a heartbeat before Unknown */
  int default_not_ready_toleration_seconds; /* DefaultTolerationSeconds admission */
  int default_unreachable_toleration_seconds;
  int job_backoff_seconds; /* the Job controller's first pod failure back-off */
  int max_endpoints_per_slice; /* the EndpointSlice controller's endpoints per slice */
  config_list_t service_account_issuer; /* iss of service-account tokens; first signs */
  config_list_t api_audiences;          /* audiences the API accepts */
  bool leader_elect;               /* controllers and scheduler act only while holding a Lease */
  int leader_elect_lease_duration; /* seconds */
  int leader_elect_renew_deadline; /* seconds */
  int leader_elect_retry_period;   /* seconds */
  /* agent */
  char *server;
  char *container_runtime_endpoint;
  char *kubeconfig;      /* agent credentials from a kubeconfig file */
  /* hollow agent (pkg/agent/hollow.h): N fake nodes, no containers */
  int hollow;            /* 0: a real agent */
  char *hollow_prefix;
  char *hollow_cpu;
  char *hollow_memory;
  int hollow_pods;
  int hollow_lease_seconds;
  int hollow_status_seconds;
} k3c_config_t;

#define CONFIG_DEFAULT_FILE "/etc/k3c/config.yaml"
#define CONFIG_FILE_MAX (1024 * 1024)

/* Fill cfg for subcommand cmd from defaults, the config file, the process
 * environment and argv (argv[0] is the first flag, not the program name).
 * The file is --config/-c, else $K3C_CONFIG_FILE, else CONFIG_DEFAULT_FILE
 * (only the default may be missing). Returns 0, or -EINVAL with a one-line
 * reason in err. On failure cfg is left initialised and may be freed.
 * "--help"/"-h" returns -EAGAIN so the caller can print usage. */
int config_load(k3c_config_t *cfg, config_cmd_t cmd, int argc, char **argv, char *err,
                size_t errlen);

/* Release every string the config owns. Accepts a zeroed or loaded config. */
void config_done(k3c_config_t *cfg);

/* Whether --disable names component ("servicelb"). */
bool config_disabled(const k3c_config_t *cfg, const char *component);
/* Whether the cluster DNS runs: --cluster-dns is set and --disable does
 * not name coredns. */
bool config_cluster_dns_enabled(const k3c_config_t *cfg);

/* Print the options that apply to cmd, with env names and defaults. */
void config_print_help(FILE *out, config_cmd_t cmd);
