/* Option table and loader for flags, K3C_* environment variables and
 * /etc/k3c/config.yaml. Names follow k3s where k3s has the option
 * (https://docs.k3s.io/cli/server), so users can carry their configs over. */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/fsutil.h"
#include "yaml/decode.h"

/* T_SECS: an integer number of seconds, "15" or upstream's "15s" */
typedef enum { T_STRING, T_INT, T_SECS, T_BOOL, T_LIST, T_MODE } opt_type_t;

typedef struct {
  const char *name;
  char short_name;
  const char *env;
  opt_type_t type;
  size_t offset;
  const char *def;
  unsigned cmds;
  const char *help;
  int min, max; /* T_INT range */
} opt_t;

#define ALL (CONFIG_CMD_SERVER | CONFIG_CMD_AGENT | CONFIG_CMD_TOKEN)
#define SRV CONFIG_CMD_SERVER
#define AGT CONFIG_CMD_AGENT
#define OFF(f) offsetof(k3c_config_t, f)

static const opt_t opts[] = {
    {"config", 'c', "K3C_CONFIG_FILE", T_STRING, OFF(config_file), CONFIG_DEFAULT_FILE, ALL,
     "config file (keys are the flag names)", 0, 0},
    {"debug", 0, "K3C_DEBUG", T_BOOL, OFF(debug), "false", ALL, "turn on debug logs", 0, 0},
    {"data-dir", 'd', "K3C_DATA_DIR", T_STRING, OFF(data_dir), "/var/lib/k3c", ALL,
     "folder to hold state", 0, 0},
    {"node-name", 0, "K3C_NODE_NAME", T_STRING, OFF(node_name), NULL, SRV | AGT,
     "node name (default: the host name)", 0, 0},
    {"node-ip", 'i', "K3C_NODE_IP", T_LIST, OFF(node_ip), NULL, SRV | AGT,
     "IP address(es) to advertise for the node", 0, 0},
    {"node-label", 0, NULL, T_LIST, OFF(node_label), NULL, SRV | AGT,
     "label key=value to register the node with (repeatable)", 0, 0},
    {"node-taint", 0, NULL, T_LIST, OFF(node_taint), NULL, SRV | AGT,
     "taint key=value:Effect or key:Effect to register the node with (repeatable)", 0, 0},
    {"node-external-ip", 0, "K3C_EXTERNAL_IP", T_LIST, OFF(node_external_ip), NULL, SRV | AGT,
     "external IP address(es) to advertise for the node", 0, 0},
    {"with-node-id", 0, NULL, T_BOOL, OFF(with_node_id), "false", SRV | AGT,
     "append an id to the node name (kept in <data-dir>/agent/node-id)", 0, 0},
    {"kube-reserved", 0, NULL, T_STRING, OFF(kube_reserved), "", SRV | AGT,
     "resources held back for Kubernetes daemons: cpu=100m,memory=256Mi,ephemeral-storage=1Gi",
     0, 0},
    {"system-reserved", 0, NULL, T_STRING, OFF(system_reserved), "", SRV | AGT,
     "resources held back for the operating system, same form as kube-reserved", 0, 0},
    {"container-log-max-size", 0, NULL, T_STRING, OFF(container_log_max_size), "10Mi",
     SRV | AGT, "a container's log file is rotated once it reaches this size (a quantity; 0: "
     "never)", 0, 0},
    {"container-log-max-files", 0, NULL, T_INT, OFF(container_log_max_files), "5", SRV | AGT,
     "log files kept per container, the current one included", 2, 1000},
    {"kubelet-port", 0, NULL, T_INT, OFF(kubelet_port), "10250", SRV | AGT,
     "HTTPS port of the kubelet API (logs); 0 disables it", 0, 65535},
    {"flannel-backend", 0, NULL, T_STRING, OFF(flannel_backend), "vxlan", SRV | AGT,
     "pod network between nodes: vxlan (the flannel.1 overlay) or none (bring your own CNI)",
     0, 0},
    {"flannel-iface", 0, NULL, T_STRING, OFF(flannel_iface), NULL, SRV | AGT,
     "interface whose IPv4 address carries the overlay (default: the node IP's)", 0, 0},
    {"private-registry", 0, NULL, T_STRING, OFF(private_registry), "/etc/k3c/registries.yaml",
     SRV | AGT, "registry mirrors and credentials for containerd, k3s's registries.yaml format "
     "(used when the file exists)", 0, 0},
    {"cgroup-root", 0, NULL, T_STRING, OFF(cgroup_root), "/", SRV | AGT,
     "cgroup under which pods' cgroups are made (<root>/kubepods)", 0, 0},
    {"token", 't', "K3C_TOKEN", T_STRING, OFF(token), NULL, ALL,
     "shared secret used to join a server or agent to a cluster", 0, 0},
    {"token-file", 0, "K3C_TOKEN_FILE", T_STRING, OFF(token_file), NULL, SRV | AGT,
     "file holding the token", 0, 0},
    {"bind-address", 0, NULL, T_STRING, OFF(bind_address), "0.0.0.0", SRV,
     "address the API server listens on", 0, 0},
    {"https-listen-port", 0, NULL, T_INT, OFF(https_listen_port), "6443", SRV,
     "HTTPS listen port of the API server", 1, 65535},
    {"tls-san", 0, NULL, T_LIST, OFF(tls_san), NULL, SRV,
     "extra host names or IPs for the serving certificate", 0, 0},
    {"write-kubeconfig", 'o', "K3C_KUBECONFIG_OUTPUT", T_STRING, OFF(write_kubeconfig),
     "/etc/k3c/k3c.yaml", SRV, "write the admin kubeconfig to this file", 0, 0},
    {"write-kubeconfig-mode", 0, "K3C_KUBECONFIG_MODE", T_MODE, OFF(write_kubeconfig_mode), "600",
     SRV, "octal file mode of the admin kubeconfig", 0, 0},
    {"disable-agent", 0, NULL, T_BOOL, OFF(disable_agent), "false", SRV,
     "do not run a local agent", 0, 0},
    {"cluster-cidr", 0, NULL, T_STRING, OFF(cluster_cidr), "10.42.0.0/16", SRV | AGT,
     "IPv4 network for pod IPs (an agent: the server's, for its masquerade rule)", 0, 0},
    {"service-cidr", 0, NULL, T_STRING, OFF(service_cidr), "10.43.0.0/16", SRV,
     "IPv4 network for service IPs", 0, 0},
    {"cluster-dns", 0, NULL, T_STRING, OFF(cluster_dns), "10.43.0.10", SRV | AGT,
     "IPv4 address of the cluster DNS service (the node's DNS server listens there; "
     "\"\" turns it off)", 0, 0},
    {"resolv-conf", 0, "K3C_RESOLV_CONF", T_STRING, OFF(resolv_conf), "/etc/resolv.conf",
     SRV | AGT, "resolv.conf whose nameservers the cluster DNS forwards other names to", 0, 0},
    {"disable", 0, NULL, T_LIST, OFF(disable), NULL, SRV,
     "do not deploy a packaged component: coredns (the cluster DNS), servicelb (the "
     "LoadBalancer service controller); repeatable or comma-separated",
     0, 0},
    {"datastore-endpoint", 0, "K3C_DATASTORE_ENDPOINT", T_STRING, OFF(datastore_endpoint), NULL,
     SRV, "datastore (default: SQLite under the data dir)", 0, 0},
    {"output-budget-mib", 0, NULL, T_INT, OFF(output_budget_mib), "64", SRV,
     "MiB of unsent responses all API connections may hold; over it, slow readers pause "
     "and the slowest watches are cut",
     1, 65536},
    {"disable-scheduler", 0, NULL, T_BOOL, OFF(disable_scheduler), "false", SRV,
     "do not run the scheduler", 0, 0},
    {"anonymous-auth", 0, NULL, T_BOOL, OFF(anonymous_auth), "false", SRV,
     "serve requests without credentials as system:anonymous (group system:unauthenticated), "
     "allowed what RBAC grants them; off, they get 401",
     0, 0},
    {"audit-log-path", 0, NULL, T_STRING, OFF(audit_log_path), NULL, SRV,
     "write audit.k8s.io/v1 events as JSON lines to this file (\"-\": standard output)", 0, 0},
    {"audit-policy-file", 0, NULL, T_STRING, OFF(audit_policy_file), NULL, SRV,
     "audit.k8s.io/v1 Policy (YAML or JSON) deciding each request's level (default: "
     "everything at Metadata)", 0, 0},
    {"audit-log-maxsize", 0, NULL, T_INT, OFF(audit_log_maxsize), "100", SRV,
     "megabytes of the audit log before it is rotated", 1, 1048576},
    {"audit-log-maxbackup", 0, NULL, T_INT, OFF(audit_log_maxbackup), "0", SRV,
     "rotated audit logs kept (0: all)", 0, 100000},
    {"audit-log-maxage", 0, NULL, T_INT, OFF(audit_log_maxage), "0", SRV,
     "days rotated audit logs are kept (0: no limit)", 0, 100000},
    {"secrets-encryption", 0, NULL, T_BOOL, OFF(secrets_encryption), "false", SRV,
     "encrypt Secrets at rest with AES-GCM (key in <data-dir>/server/cred/"
     "encryption-config.json; k3c secrets-encrypt manages it)", 0, 0},
    {"disable-kube-proxy", 0, NULL, T_BOOL, OFF(disable_kube_proxy), "false", SRV | AGT,
     "do not run the service proxy (table ip k3c-proxy)", 0, 0},
    {"disable-network-policy", 0, NULL, T_BOOL, OFF(disable_network_policy), "false", SRV | AGT,
     "do not enforce NetworkPolicies on this node (table ip k3c-netpol)", 0, 0},
    {"node-monitor-grace-period", 0, NULL, T_INT, OFF(node_monitor_grace_period), "40", SRV,
     "seconds a node may go without renewing its Lease or status before it is Unknown", 1, 86400},
    {"default-not-ready-toleration-seconds", 0, NULL, T_INT,
     OFF(default_not_ready_toleration_seconds), "300", SRV,
     "tolerationSeconds of the node.kubernetes.io/not-ready toleration added to new pods", 1,
     86400},
    {"default-unreachable-toleration-seconds", 0, NULL, T_INT,
     OFF(default_unreachable_toleration_seconds), "300", SRV,
     "tolerationSeconds of the node.kubernetes.io/unreachable toleration added to new pods", 1,
     86400},
    {"job-pod-failure-backoff", 0, NULL, T_INT, OFF(job_backoff_seconds), "10", SRV,
     "seconds before a Job replaces a failed pod, doubled per failure up to 6 minutes", 1, 360},
    {"max-endpoints-per-slice", 0, NULL, T_INT, OFF(max_endpoints_per_slice), "100", SRV,
     "endpoints in one EndpointSlice", 1, 1000},
    {"service-account-issuer", 0, NULL, T_LIST, OFF(service_account_issuer), NULL, SRV,
     "issuer (iss) of service-account tokens; repeatable: the first one signs, all are "
     "accepted (default https://kubernetes.default.svc.cluster.local)", 0, 0},
    {"api-audiences", 0, NULL, T_LIST, OFF(api_audiences), NULL, SRV,
     "audiences the API accepts in service-account tokens, and TokenRequest's default "
     "(default: the first --service-account-issuer)", 0, 0},
    {"leader-elect", 0, NULL, T_BOOL, OFF(leader_elect), "true", SRV,
     "run the controllers and the scheduler only while holding their Leases "
     "(kube-system/kube-controller-manager, kube-system/kube-scheduler); on unless "
     "--leader-elect=false", 0, 0},
    {"leader-elect-lease-duration", 0, NULL, T_SECS, OFF(leader_elect_lease_duration), "15", SRV,
     "seconds (15 or 15s) a candidate waits after the last renewal it saw before taking a "
     "Lease", 1, 3600},
    {"leader-elect-renew-deadline", 0, NULL, T_SECS, OFF(leader_elect_renew_deadline), "10", SRV,
     "seconds a leader tries to renew its Lease before it stops acting", 1, 3600},
    {"leader-elect-retry-period", 0, NULL, T_SECS, OFF(leader_elect_retry_period), "2", SRV,
     "seconds between attempts to acquire or renew a Lease", 1, 3600},
    {"server", 's', "K3C_URL", T_STRING, OFF(server), NULL, AGT,
     "server to connect to (https://host:6443)", 0, 0},
    {"container-runtime-endpoint", 0, NULL, T_STRING, OFF(container_runtime_endpoint), NULL, AGT,
     "use this containerd socket instead of starting one", 0, 0},
    {"kubeconfig", 0, "K3C_KUBECONFIG", T_STRING, OFF(kubeconfig), NULL, AGT,
     "kubeconfig file with the server and credentials to use (instead of --server/--token)", 0, 0},
    {"hollow", 0, NULL, T_INT, OFF(hollow), "0", AGT,
     "run N hollow nodes: registered, heartbeating, playing the kubelet without containers "
     "(docs/HOLLOW.md)",
     0, 10000},
    {"hollow-prefix", 0, NULL, T_STRING, OFF(hollow_prefix), "hollow-", AGT,
     "name prefix of the hollow nodes (prefix0, prefix1, ...)", 0, 0},
    {"hollow-cpu", 0, NULL, T_STRING, OFF(hollow_cpu), "4", AGT,
     "cpu capacity of each hollow node", 0, 0},
    {"hollow-memory", 0, NULL, T_STRING, OFF(hollow_memory), "8Gi", AGT,
     "memory capacity of each hollow node", 0, 0},
    {"hollow-pods", 0, NULL, T_INT, OFF(hollow_pods), "110", AGT,
     "pod capacity of each hollow node", 1, 100000},
    {"hollow-lease-seconds", 0, NULL, T_INT, OFF(hollow_lease_seconds), "10", AGT,
     "seconds between renewals of each hollow node's Lease", 1, 3600},
    {"hollow-status-seconds", 0, NULL, T_INT, OFF(hollow_status_seconds), "60", AGT,
     "seconds between node status posts of each hollow node", 1, 3600},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void *field(k3c_config_t *cfg, const opt_t *o) { return (char *)cfg + o->offset; }

static void list_clear(config_list_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static void list_add(config_list_t *l, const char *s, size_t len) {
  l->v = xrealloc(l->v, (l->n + 2) * sizeof(char *));
  l->v[l->n++] = xstrndup(s, len);
  l->v[l->n] = NULL;
}

/* Split "a,b" into the list; empty items are dropped. */
static void list_add_csv(config_list_t *l, const char *s) {
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    if (len)
      list_add(l, s, len);
    s += len + (comma ? 1 : 0);
  }
}

static int parse_bool(const char *s, bool *ret) {
  if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) {
    *ret = true;
    return 0;
  }
  if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) {
    *ret = false;
    return 0;
  }
  return -EINVAL;
}

/* Set one option from text. A list set from one source replaces what a
 * lower-precedence source gave (replace=true on the first value of a source). */
static int set_value(k3c_config_t *cfg, const opt_t *o, const char *val, bool replace,
                     const char *origin, char *err, size_t errlen) {
  void *f = field(cfg, o);
  char *end;
  switch (o->type) {
  case T_STRING:
    free(*(char **)f);
    *(char **)f = xstrdup(val);
    return 0;
  case T_BOOL:
    if (parse_bool(val, (bool *)f) == 0)
      return 0;
    snprintf(err, errlen, "%s: invalid value \"%s\" for %s: expected true or false", origin, val,
             o->name);
    return -EINVAL;
  case T_INT:
  case T_SECS: {
    errno = 0;
    long v = strtol(val, &end, 10);
    if (o->type == T_SECS && end != val && *end == 's')
      end++;
    if (errno || end == val || *end || v < o->min || v > o->max) {
      snprintf(err, errlen, "%s: invalid value \"%s\" for %s: expected an integer from %d to %d%s",
               origin, val, o->name, o->min, o->max,
               o->type == T_SECS ? " (seconds, such as 15 or 15s)" : "");
      return -EINVAL;
    }
    *(int *)f = (int)v;
    return 0;
  }
  case T_MODE: {
    errno = 0;
    long v = strtol(val, &end, 8);
    if (errno || end == val || *end || v < 0 || v > 07777) {
      snprintf(err, errlen, "%s: invalid value \"%s\" for %s: expected an octal file mode such as 644",
               origin, val, o->name);
      return -EINVAL;
    }
    *(int *)f = (int)v;
    return 0;
  }
  case T_LIST:
    if (replace)
      list_clear(f);
    list_add_csv(f, val);
    return 0;
  }
  return -EINVAL;
}

static const opt_t *find_long(const char *name, size_t len) {
  for (size_t i = 0; i < NOPTS; i++)
    if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
      return &opts[i];
  return NULL;
}

static const opt_t *find_short(char c) {
  for (size_t i = 0; i < NOPTS; i++)
    if (opts[i].short_name && opts[i].short_name == c)
      return &opts[i];
  return NULL;
}

static int apply_defaults(k3c_config_t *cfg, config_cmd_t cmd, char *err, size_t errlen) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (!opts[i].def)
      continue;
    int r = set_value(cfg, &opts[i], opts[i].def, true, "default", err, errlen);
    if (r < 0)
      return r;
  }
  return 0;
}

/* Render a YAML scalar as the text a flag would carry. */
static int scalar_text(const cJSON *v, char *out, size_t outlen) {
  if (cJSON_IsString(v))
    snprintf(out, outlen, "%s", v->valuestring);
  else if (cJSON_IsBool(v))
    snprintf(out, outlen, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
    snprintf(out, outlen, "%lld", (long long)v->valuedouble);
  else if (cJSON_IsNumber(v))
    snprintf(out, outlen, "%g", v->valuedouble);
  else
    return -EINVAL;
  return 0;
}

static int apply_file(k3c_config_t *cfg, config_cmd_t cmd, const char *path, bool must_exist,
                      char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  cJSON *doc = NULL;
  int r = fs_read_file(path, CONFIG_FILE_MAX, &text, &len);
  if (r == -ENOENT && !must_exist)
    return 0;
  if (r == -E2BIG) {
    snprintf(err, errlen, "config file %s: larger than %d bytes", path, CONFIG_FILE_MAX);
    return -EINVAL;
  }
  if (r < 0) {
    snprintf(err, errlen, "config file %s: %s", path, strerror(-r));
    return -EINVAL;
  }
  char yerr[256];
  if (yaml_parse_one(text, len, &doc, yerr, sizeof(yerr)) < 0) {
    snprintf(err, errlen, "config file %s: %s", path, yerr);
    r = -EINVAL;
    goto out;
  }
  if (cJSON_IsNull(doc))
    goto out;
  if (!cJSON_IsObject(doc)) {
    snprintf(err, errlen, "config file %s: expected a mapping of option names to values", path);
    r = -EINVAL;
    goto out;
  }
  char origin[PATH_MAX + 16];
  snprintf(origin, sizeof(origin), "config file %s", path);
  const cJSON *item;
  cJSON_ArrayForEach(item, doc) {
    const opt_t *o = find_long(item->string, strlen(item->string));
    if (!o || !(o->cmds & cmd) || !strcmp(o->name, "config")) {
      snprintf(err, errlen, "config file %s: unknown key \"%s\"%s", path, item->string,
               o ? " (not valid for this subcommand)" : "");
      r = -EINVAL;
      goto out;
    }
    char val[4096];
    if (o->type == T_LIST && cJSON_IsArray(item)) {
      list_clear(field(cfg, o));
      const cJSON *el;
      cJSON_ArrayForEach(el, item) {
        if (scalar_text(el, val, sizeof(val)) < 0) {
          snprintf(err, errlen, "config file %s: %s: list items must be scalars", path, o->name);
          r = -EINVAL;
          goto out;
        }
        list_add(field(cfg, o), val, strlen(val));
      }
      continue;
    }
    if (scalar_text(item, val, sizeof(val)) < 0) {
      snprintf(err, errlen, "config file %s: %s: expected a %s", path, o->name,
               o->type == T_LIST ? "string or a list of strings" : "single value");
      r = -EINVAL;
      goto out;
    }
    if ((r = set_value(cfg, o, val, true, origin, err, errlen)) < 0)
      goto out;
  }
out:
  cJSON_Delete(doc);
  free(text);
  return r;
}

static int apply_env(k3c_config_t *cfg, config_cmd_t cmd, char *err, size_t errlen) {
  for (size_t i = 0; i < NOPTS; i++) {
    const opt_t *o = &opts[i];
    if (!o->env || !(o->cmds & cmd) || !strcmp(o->name, "config"))
      continue;
    const char *v = getenv(o->env);
    if (!v || !*v)
      continue;
    int r = set_value(cfg, o, v, true, o->env, err, errlen);
    if (r < 0)
      return r;
  }
  return 0;
}

/* Resolve one argv element to an option and its value. */
static int next_flag(config_cmd_t cmd, int argc, char **argv, int *i, const opt_t **ret_opt,
                     const char **ret_val, char *err, size_t errlen) {
  const char *a = argv[*i];
  const opt_t *o = NULL;
  const char *val = NULL;
  if (!strcmp(a, "--help") || !strcmp(a, "-h"))
    return -EAGAIN;
  if (a[0] == '-' && a[1] == '-' && a[2]) {
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    o = find_long(name, eq ? (size_t)(eq - name) : strlen(name));
    if (eq)
      val = eq + 1;
  } else if (a[0] == '-' && a[1] && !a[2]) {
    o = find_short(a[1]);
  } else {
    snprintf(err, errlen, "unexpected argument \"%s\"", a);
    return -EINVAL;
  }
  if (!o || !(o->cmds & cmd)) {
    snprintf(err, errlen, "unknown flag %s", a);
    return -EINVAL;
  }
  if (!val) {
    if (o->type == T_BOOL) {
      val = "true";
    } else if (*i + 1 < argc) {
      val = argv[++*i];
    } else {
      snprintf(err, errlen, "flag %s needs a value", a);
      return -EINVAL;
    }
  }
  *ret_opt = o;
  *ret_val = val;
  return 0;
}

int config_load(k3c_config_t *cfg, config_cmd_t cmd, int argc, char **argv, char *err,
                size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  int r = apply_defaults(cfg, cmd, err, errlen);
  if (r < 0)
    return r;

  /* First pass: syntax check and find --config, so the file can sit below
   * the environment and the flags. */
  const char *file = NULL;
  for (int i = 0; i < argc; i++) {
    const opt_t *o;
    const char *val;
    if ((r = next_flag(cmd, argc, argv, &i, &o, &val, err, errlen)) < 0)
      return r;
    if (!strcmp(o->name, "config"))
      file = val;
  }
  bool must_exist = true;
  if (!file)
    file = getenv("K3C_CONFIG_FILE");
  if (!file || !*file) {
    file = CONFIG_DEFAULT_FILE;
    must_exist = false;
  }
  free(cfg->config_file);
  cfg->config_file = xstrdup(file);
  if ((r = apply_file(cfg, cmd, file, must_exist, err, errlen)) < 0)
    return r;
  if ((r = apply_env(cfg, cmd, err, errlen)) < 0)
    return r;

  /* Flags last. A repeated list flag accumulates; its first use replaces
   * whatever the file or environment said. */
  bool seen[NOPTS] = {false};
  for (int i = 0; i < argc; i++) {
    const opt_t *o;
    const char *val;
    if ((r = next_flag(cmd, argc, argv, &i, &o, &val, err, errlen)) < 0)
      return r;
    size_t idx = (size_t)(o - opts);
    char origin[128];
    snprintf(origin, sizeof(origin), "flag --%s", o->name);
    if ((r = set_value(cfg, o, val, !seen[idx], origin, err, errlen)) < 0)
      return r;
    seen[idx] = true;
  }
  for (size_t k = 0; k < cfg->disable.n; k++) {
    static const char *const known[] = {"coredns", "servicelb", "traefik", "local-storage",
                                        "metrics-server", "runtimes"};
    bool ok = false;
    for (size_t m = 0; m < sizeof(known) / sizeof(known[0]); m++)
      ok = ok || !strcmp(cfg->disable.v[k], known[m]);
    if (!ok) {
      snprintf(err, errlen, "invalid value \"%s\" for disable: expected coredns or servicelb "
               "(k3s's traefik, local-storage, metrics-server and runtimes are not packaged "
               "and need no disabling)",
               cfg->disable.v[k]);
      return -EINVAL;
    }
  }
  return 0;
}

void config_done(k3c_config_t *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < NOPTS; i++) {
    void *f = field(cfg, &opts[i]);
    if (opts[i].type == T_STRING) {
      free(*(char **)f);
      *(char **)f = NULL;
    } else if (opts[i].type == T_LIST) {
      list_clear(f);
    }
  }
}

void config_print_help(FILE *out, config_cmd_t cmd) {
  fprintf(out, "Options:\n");
  for (size_t i = 0; i < NOPTS; i++) {
    const opt_t *o = &opts[i];
    if (!(o->cmds & cmd))
      continue;
    char flag[64];
    if (o->short_name)
      snprintf(flag, sizeof(flag), "-%c, --%s", o->short_name, o->name);
    else
      snprintf(flag, sizeof(flag), "    --%s", o->name);
    const char *arg = o->type == T_BOOL   ? ""
                      : o->type == T_INT  ? " N"
                      : o->type == T_SECS ? " SECS"
                                          : " value";
    char left[96];
    snprintf(left, sizeof(left), "%s%s", flag, arg);
    fprintf(out, "  %-40s %s", left, o->help);
    if (o->def && o->def[0] && o->type != T_BOOL)
      fprintf(out, " (default: %s)", o->def);
    if (o->env)
      fprintf(out, " [$%s]", o->env);
    fputc('\n', out);
  }
}

bool config_disabled(const k3c_config_t *cfg, const char *component) {
  for (size_t i = 0; i < cfg->disable.n; i++)
    if (!strcmp(cfg->disable.v[i], component))
      return true;
  return false;
}

bool config_cluster_dns_enabled(const k3c_config_t *cfg) {
  if (!cfg->cluster_dns || !cfg->cluster_dns[0])
    return false;
  for (size_t i = 0; i < cfg->disable.n; i++)
    if (!strcmp(cfg->disable.v[i], "coredns"))
      return false;
  return true;
}
