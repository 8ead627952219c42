/* The node agent: containerd, the pod network's CNI config, images without
 * a registry, the Node with its Lease and status, and the kubelet that
 * runs the node's pods; plus the `k3c agent` process around it.
 * https://kubernetes.io/docs/concepts/architecture/nodes/ */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/clusterdns.h"
#include "agent/cni.h"
#include "agent/containerd.h"
#include "agent/hollow.h"
#include "agent/host.h"
#include "agent/images.h"
#include "agent/join.h"
#include "agent/kubelet.h"
#include "agent/kubeletapi.h"
#include "agent/localpath.h"
#include "agent/node.h"
#include "agent/pause.h"
#include "agent/registries.h"
#include "scheduler/resource.h"
#include "agent/workers.h"
#include "client/informer.h"
#include "client/kubeconfig.h"
#include "cri/cri.h"
#include "json/util.h"
#include "net/overlay.h"
#include "net/netpol.h"
#include "net/proxy.h"
#include "tls/cert.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"

#define TICK_SECONDS 10.0
#define KUBELET_WORKERS 4
#define BRIDGE "cni0"

struct agent {
  struct ev_loop *loop;
  client_t *c;
  const k3c_config_t *cfg;
  bool control_plane;
  char *kubelet_version;
  char *dir, *images_dir, *socket, *node_name, *node_ip;
  char *last_node_warn; /* the last Node request failure logged */
  char pause_name[AGENT_PAUSE_NAME_MAX];
  agent_host_t host;
  agent_containerd_t *ctrd;
  cri_client_t *cri;       /* runtime status and version, on the loop */
  agent_workers_t *jobs;   /* one thread for image imports */
  agent_node_t *node;
  agent_kubelet_t *kubelet;
  agent_kubeletapi_t *api; /* :10250 */
  ev_timer tick;
  ev_timer recheck;        /* soon again while the runtime is not ready */
  bool runtime_up, runtime_ready, network_ready, imported, import_busy, status_busy;
  bool restarted;          /* containerd came back after a death */
  bool stopping;           /* agent_free runs */
  char runtime_version[128];
  client_informer_t *self; /* this Node, for the pod subnet the server assigns */
  agent_localpath_t *localpath; /* deleted local-path volumes' directories (localpath.h) */
  net_overlay_t *overlay;  /* flannel.1 and the other nodes' pod subnets; NULL: none */
  net_proxy_t *proxy;      /* the service proxy; NULL with --disable-kube-proxy */
  net_netpol_t *netpol;    /* NetworkPolicy enforcement; NULL with --disable-network-policy */
  agent_clusterdns_t *dns; /* NULL: --disable coredns, or it could not start */
  char subnet[64];         /* the pod subnet the CNI config has, "" before */
  bool own_cni;            /* k3c's CNI plugin (not --flannel-backend=none) */
  ev_tstamp started;
  char network_message[256];
  char images_sig[64];     /* what the images dir held at the last import */
};

/* ---- readiness ---- */

static void update_ready(agent_t *a) {
  if (!a->node)
    return;
  if (!a->runtime_up)
    agent_node_set_condition(a->node, "Ready", false, "KubeletNotReady",
                             "container runtime is down");
  else if (!a->runtime_ready || !a->network_ready)
    agent_node_set_condition(a->node, "Ready", false, "KubeletNotReady",
                             a->network_message[0] ? a->network_message
                                                   : "container runtime status check may not "
                                                     "have completed yet");
  else if (!a->imported)
    agent_node_set_condition(a->node, "Ready", false, "KubeletNotReady",
                             "importing the pause image");
  else
    agent_node_set_condition(a->node, "Ready", true, "KubeletReady",
                             "kubelet is posting ready status");
}

/* --node-external-ip: ExternalIP addresses, after the others (cJSON 1.7.15's
 * InsertItemInArray fails for an index inside the array). */
static void add_external_ips(const k3c_config_t *cfg, cJSON *st) {
  cJSON *addrs = cJSON_GetObjectItemCaseSensitive(st, "addresses");
  for (size_t i = 0; addrs && i < cfg->node_external_ip.n; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "ExternalIP");
    cJSON_AddStringToObject(e, "address", cfg->node_external_ip.v[i]);
    cJSON_AddItemToArray(addrs, e);
  }
}

static void post_status(agent_t *a) {
  char err[256];
  cJSON *st = agent_host_node_status(&a->host, a->node_ip, a->cfg->kube_reserved,
                                     a->cfg->system_reserved, a->runtime_version,
                                     a->kubelet_version, err, sizeof(err));
  if (st) {
    add_external_ips(a->cfg, st);
    cJSON *port = (cJSON *)json_get_path(st, "daemonEndpoints.kubeletEndpoint.Port");
    if (cJSON_IsNumber(port) && a->cfg->kubelet_port > 0)
      cJSON_SetNumberValue(port, a->cfg->kubelet_port);
    agent_node_set_status(a->node, st);
    if (a->kubelet)
      agent_kubelet_set_allocatable(a->kubelet, cJSON_GetObjectItemCaseSensitive(st, "allocatable"));
    cJSON_Delete(st);
  }
}

static void pressure(agent_t *a) {
  bool mem = false, disk = false, pid = false;
  agent_host_pressure(NULL, a->cfg->data_dir, &mem, &disk, &pid);
  agent_node_set_condition(a->node, "MemoryPressure", mem,
                           mem ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
                           mem ? "kubelet has insufficient memory available"
                               : "kubelet has sufficient memory available");
  agent_node_set_condition(a->node, "DiskPressure", disk,
                           disk ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
                           disk ? "kubelet has disk pressure" : "kubelet has no disk pressure");
  agent_node_set_condition(a->node, "PIDPressure", pid,
                           pid ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
                           pid ? "kubelet has insufficient PID available"
                               : "kubelet has sufficient PID available");
}

static void check_runtime(agent_t *a);

static void status_cb(void *data, const cri_status_t *st, const cri_runtime_status_t *resp) {
  agent_t *a = data;
  a->status_busy = false;
  if (a->stopping)
    return;
  if (st->code != CRI_OK) {
    a->runtime_ready = false;
    update_ready(a);
    return;
  }
  a->runtime_ready = a->network_ready = false;
  a->network_message[0] = 0;
  for (size_t i = 0; i < resp->n_conditions; i++) {
    const cri_condition_t *c = &resp->conditions[i];
    if (!strcmp(c->type, "RuntimeReady"))
      a->runtime_ready = c->status;
    else if (!strcmp(c->type, "NetworkReady")) {
      a->network_ready = c->status;
      if (!c->status)
        snprintf(a->network_message, sizeof(a->network_message),
                 "container runtime network not ready: NetworkReady=false reason:%.60s "
                 "message:%.120s",
                 c->reason, c->message);
    }
  }
  update_ready(a);
  if ((!a->runtime_ready || !a->network_ready) && !ev_is_active(&a->recheck)) {
    ev_timer_set(&a->recheck, 0.25, 0.0);
    ev_timer_start(a->loop, &a->recheck);
  }
}

static void recheck_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_t *a = (agent_t *)((char *)w - offsetof(agent_t, recheck));
  check_runtime(a);
}

static void version_cb(void *data, const cri_status_t *st, const cri_version_t *v) {
  agent_t *a = data;
  if (!v || a->stopping)
    return;
  char rv[128];
  snprintf(rv, sizeof(rv), "%.40s://%.80s", v->runtime_name, v->runtime_version);
  if (strcmp(rv, a->runtime_version)) {
    snprintf(a->runtime_version, sizeof(a->runtime_version), "%s", rv);
    post_status(a);
  }
}

static void check_runtime(agent_t *a) {
  if (!a->runtime_up || a->status_busy)
    return;
  a->status_busy = cri_status(a->cri, status_cb, a) == 0;
  if (!a->runtime_version[0])
    cri_version(a->cri, version_cb, a);
}

/* ---- images ---- */

typedef struct {
  agent_job_t job;
  agent_t *a;
  char *socket, *dir;
  size_t count;
  int err;
  char errmsg[512];
  char sig[64];
} import_t;

/* A signature of the tarballs in dir: names, sizes and mtimes hashed. */
static void images_sig(const char *dir, char *out, size_t len) {
  DIR *d = opendir(dir);
  unsigned long long h = 1469598103934665603ull;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t n = strlen(e->d_name);
      if (n < 4 || strcmp(e->d_name + n - 4, ".tar"))
        continue;
      char path[PATH_MAX];
      struct stat st;
      snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
      if (stat(path, &st) < 0)
        continue;
      unsigned long long x = (unsigned long long)st.st_size * 31 +
                             (unsigned long long)st.st_mtime;
      for (size_t i = 0; i < n; i++)
        x = x * 131 + (unsigned char)e->d_name[i];
      h ^= x * 1099511628211ull; /* order-independent: readdir order varies */
    }
    closedir(d);
  }
  snprintf(out, len, "%016llx", h);
}

static void import_run(agent_job_t *job, agent_runtime_t *rt) {
  import_t *j = (import_t *)job;
  j->err = agent_images_import_dir(j->socket, j->dir, NULL, &j->count, j->errmsg,
                                   sizeof(j->errmsg));
}

static void kubelet_start(agent_t *a);

static void import_done(agent_job_t *job, bool cancelled) {
  import_t *j = (import_t *)job;
  agent_t *a = j->a;
  if (!cancelled && !a->stopping) {
    a->import_busy = false;
    if (j->err < 0)
      log_warn("agent", "images in %s: %s", j->dir, j->errmsg);
    else
      log_info("agent", "imported %zu image(s) from %s", j->count, j->dir);
    /* A bad tarball does not keep the node down: the pause image is the
     * one that matters, and a failed import is tried again when the
     * directory changes. */
    snprintf(a->images_sig, sizeof(a->images_sig), "%s", j->sig);
    a->imported = true;
    kubelet_start(a);
    update_ready(a);
  }
  free(j->socket);
  free(j->dir);
  free(j);
}

static void import_images(agent_t *a) {
  char sig[64];
  images_sig(a->images_dir, sig, sizeof(sig));
  if (a->import_busy || !a->runtime_up || (a->imported && !strcmp(sig, a->images_sig)))
    return;
  import_t *j = xcalloc(1, sizeof(*j));
  j->job.run = import_run;
  j->job.done = import_done;
  j->a = a;
  j->socket = xstrdup(a->socket);
  j->dir = xstrdup(a->images_dir);
  snprintf(j->sig, sizeof(j->sig), "%s", sig);
  a->import_busy = true;
  agent_workers_submit(a->jobs, &j->job);
}

/* ---- the runtime ---- */

/* The kubernetes Service's ClusterIP: the first address of the IPv4
 * service CIDR, as the server allocates it. */
static bool kubernetes_service_ip(const char *cidr, char *buf, size_t n) {
  char net[INET_ADDRSTRLEN];
  const char *slash = cidr ? strchr(cidr, '/') : NULL;
  if (!slash || (size_t)(slash - cidr) >= sizeof(net))
    return false;
  memcpy(net, cidr, (size_t)(slash - cidr));
  net[slash - cidr] = 0;
  struct in_addr in;
  if (inet_pton(AF_INET, net, &in) != 1)
    return false;
  in.s_addr = htonl(ntohl(in.s_addr) + 1);
  return inet_ntop(AF_INET, &in, buf, (socklen_t)n) != NULL;
}

static void kubelet_start(agent_t *a) {
  if (a->kubelet || !a->runtime_up)
    return;
  char logs[PATH_MAX], pods[PATH_MAX], master[INET_ADDRSTRLEN];
  bool has_master = kubernetes_service_ip(a->cfg->service_cidr, master, sizeof(master));
  snprintf(logs, sizeof(logs), "%s/logs", a->dir);
  snprintf(pods, sizeof(pods), "%s/pods", a->dir);
  agent_logrotate_policy_t rot = {0, a->cfg->container_log_max_files};
  const char *ms = a->cfg->container_log_max_size ? a->cfg->container_log_max_size : "10Mi";
  cJSON *q = cJSON_CreateString(ms);
  if (scheduler_quantity_int(q, 1, &rot.max_size) < 0 || rot.max_size < 0) {
    log_error("agent", "--container-log-max-size %s: not a size (such as 10Mi); logs are not "
                       "rotated", ms);
    rot.max_size = 0;
  }
  cJSON_Delete(q);
  agent_kubelet_opts_t ko = {
      .socket_path = a->socket,
      .log_rotate = rot,
      .workers = KUBELET_WORKERS,
      .node = {.name = a->node_name,
               .host_ip = a->node_ip,
               .logs_dir = logs,
               .pods_dir = pods,
               .cgroup_root = a->cfg->cgroup_root,
               .cluster_dns = a->cfg->cluster_dns,
               .kubernetes_service_host = has_master ? master : NULL,
               .cluster_domain = "cluster.local",
               .memory_capacity = a->host.memory_bytes,
               .milli_cpu_capacity = (int64_t)a->host.cpus * 1000},
  };
  int r = agent_kubelet_new(a->loop, a->c, &ko, &a->kubelet);
  if (r < 0) {
    log_error("agent", "cannot start the pod workers: %s", strerror(-r));
    return;
  }
  agent_kubeletapi_set_kubelet(a->api, a->kubelet);
  log_info("agent", "running the pods of node %s", a->node_name);
  post_status(a); /* also tells the kubelet the node's allocatable */
}

static void runtime_cb(void *data, bool up) {
  agent_t *a = data;
  if (a->stopping)
    return;
  a->runtime_up = up;
  if (!up) {
    log_warn("agent", "containerd is down; it is restarted, the pods keep running");
    a->restarted = true;
    a->runtime_ready = false;
    a->runtime_version[0] = 0;
    update_ready(a);
    return;
  }
  log_info("agent", "containerd is up (socket %s)", a->socket);
  cri_client_reset(a->cri);
  agent_workers_reset(a->jobs);
  if (a->kubelet && a->restarted)
    agent_kubelet_runtime_restarted(a->kubelet);
  import_images(a);
  check_runtime(a);
}

/* ---- the pod network ---- */

static void write_cni(agent_t *a, const char *pod_cidr) {
  char sub[64], err[256], dir[PATH_MAX], ipam[PATH_MAX];
  if (!a->own_cni) /* --flannel-backend=none: the CNI the user installs */
    return;
  if (agent_cni_subnet(pod_cidr, a->cfg->cluster_cidr, sub, sizeof(sub), err, sizeof(err)) < 0) {
    log_error("agent", "pod subnet: %s", err);
    return;
  }
  if (!strcmp(sub, a->subnet))
    return;
  snprintf(dir, sizeof(dir), "%s/etc/cni/net.d", a->dir);
  snprintf(ipam, sizeof(ipam), "%s/cni/ipam", a->dir);
  int mtu = a->overlay ? net_overlay_mtu(a->overlay) : 0;
  if (agent_cni_write(dir, BRIDGE, sub, ipam, mtu, err, sizeof(err)) < 0) {
    log_error("agent", "pod network config: %s", err);
    return;
  }
  if (a->subnet[0])
    log_warn("agent", "pod subnet changed from %s to %s: pods started before keep their addresses",
             a->subnet, sub);
  else
    log_info("agent", "pod subnet %s (bridge %s)", sub, BRIDGE);
  snprintf(a->subnet, sizeof(a->subnet), "%s", sub);
}

static void self_added(const cJSON *node, void *data) {
  agent_localpath_node_seen(((agent_t *)data)->localpath, node);
  const cJSON *cidr = json_get_path(node, "spec.podCIDR");
  if (cJSON_IsString(cidr) && cidr->valuestring[0])
    write_cni(data, cidr->valuestring);
}
static void self_updated(const cJSON *old, const cJSON *node, void *data) {
  self_added(node, data);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_t *a = (agent_t *)((char *)w - offsetof(agent_t, tick));
  if (a->own_cni && !a->subnet[0] && ev_now(loop) - a->started > 20) {
    /* A server that assigns no pod subnets (no node IPAM): the first /24
     * of the cluster CIDR, fine for one node. */
    log_warn("agent", "the server gave node %s no spec.podCIDR in 20 s: using the first /24 of "
                      "%s",
             a->node_name, a->cfg->cluster_cidr);
    write_cni(a, NULL);
  }
  check_runtime(a);
  import_images(a);
  if (a->node)
    pressure(a);
}

/* A Node request failed: said once per kind of failure in a row, the node
 * retries by itself. */
static void node_warn(void *data, agent_node_t *n, const char *what, int code,
                      const char *message) {
  agent_t *a = data;
  char line[600];
  snprintf(line, sizeof(line), "%s: %d %s", what, code, message);
  if (a->last_node_warn && !strcmp(a->last_node_warn, line))
    return;
  free(a->last_node_warn);
  a->last_node_warn = xstrdup(line);
  log_warn("agent", "node %s: %s %s (%d %s); retrying", agent_node_name(n), what,
           code ? "refused" : "failed", code, message);
}

static void node_registered(void *data, agent_node_t *n) {
  log_info("agent", "node %s registered", agent_node_name(n));
}

/* ---- the kubelet API ---- */

/* A self-signed serving certificate for the node's names, as a kubelet
 * without --tls-cert-file makes (the API server does not verify it). */
static int self_signed(agent_t *a, char **ret_cert, char **ret_key, char *err, size_t errlen) {
  tls_san_t san;
  tls_san_init(&san);
  tls_san_add(&san, a->node_name);
  tls_san_add(&san, a->host.hostname);
  if (a->node_ip[0])
    tls_san_add(&san, a->node_ip);
  for (size_t i = 0; i < a->cfg->node_external_ip.n; i++)
    tls_san_add(&san, a->cfg->node_external_ip.v[i]);
  tls_san_add(&san, "127.0.0.1");
  char cn[300];
  snprintf(cn, sizeof(cn), "%s@%lld", a->node_name, (long long)time(NULL));
  tls_cert_spec_t spec = {.cn = cn, .usage = TLS_USAGE_SERVER, .san = &san, .days = 365};
  char *key = NULL, *cert = NULL;
  int r = tls_key_generate(&key, err, errlen);
  if (r == 0)
    r = tls_cert_create(&spec, key, NULL, NULL, &cert, err, errlen);
  tls_san_done(&san);
  if (r < 0) {
    free(key);
    return r;
  }
  *ret_cert = cert;
  *ret_key = key;
  return 0;
}

static int start_api(agent_t *a, const agent_opts_t *o, char *err, size_t errlen) {
  if (!o->client_ca_pem) {
    snprintf(err, errlen, "the kubelet API needs the cluster CA (to verify its clients)");
    return -EINVAL;
  }
  char *cert = NULL, *key = NULL, cerr[256];
  int r = 0;
  if (!o->serving_cert_pem && (r = self_signed(a, &cert, &key, cerr, sizeof(cerr))) < 0) {
    snprintf(err, errlen, "kubelet serving certificate: %s", cerr);
    return r;
  }
  agent_kubeletapi_opts_t ko = {
      .bind_address = "0.0.0.0",
      .port = a->cfg->kubelet_port,
      .cert_pem = cert ? cert : o->serving_cert_pem,
      .key_pem = key ? key : o->serving_key_pem,
      .client_ca_pem = o->client_ca_pem,
  };
  char herr[256];
  r = agent_kubeletapi_start(a->loop, &ko, &a->api, herr, sizeof(herr));
  free(cert);
  free(key);
  if (r < 0)
    snprintf(err, errlen, "kubelet API: %s", herr);
  else
    log_info("agent", "kubelet API on :%d", a->cfg->kubelet_port);
  return r;
}

int agent_set_serving_cert(agent_t *a, const char *cert_pem, const char *key_pem, char *err,
                           size_t errlen) {
  if (!a->api) {
    snprintf(err, errlen, "the kubelet API is not running");
    return -EINVAL;
  }
  return agent_kubeletapi_set_cert(a->api, cert_pem, key_pem, err, errlen);
}

/* ---- lifetime ---- */

/* Is there a registries file (1), none (0: like k3s, a missing file is no
 * mirrors), or a bad one (-errno, reason in err)? Logs what it holds. */
static int use_registries(const char *path, char *err, size_t errlen) {
  cJSON *reg = NULL;
  if (!path || !path[0] || (access(path, F_OK) < 0 && errno == ENOENT))
    return 0;
  int r = agent_registries_load(path, &reg, err, errlen);
  if (r < 0)
    return r;
  size_t rewrites = agent_registries_rewrites(reg);
  log_info("agent", "registries from %s: %d mirror(s), %d config(s)", path,
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(reg, "mirrors")),
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(reg, "configs")));
  if (rewrites)
    log_warn("agent", "%s: %zu rewrite rule(s) ignored: containerd 1.6 has no rewrites", path,
             rewrites);
  cJSON_Delete(reg);
  return 1;
}

int agent_new(struct ev_loop *loop, client_t *c, const agent_opts_t *o, agent_t **ret, char *err,
              size_t errlen) {
  const k3c_config_t *cfg = o->cfg;
  if (geteuid() != 0) {
    snprintf(err, errlen, "the node agent needs root (it runs containerd, mounts and cgroups): "
                          "run k3c as root%s",
             o->control_plane ? ", or pass --disable-agent to run the control plane only" : "");
    return -EPERM;
  }
  agent_t *a = xcalloc(1, sizeof(*a));
  int r;
  char sub[64], cni_dir[PATH_MAX], cni_bin[PATH_MAX], pause_tar[PATH_MAX];
  a->loop = loop;
  a->c = c;
  a->cfg = cfg;
  a->control_plane = o->control_plane;
  a->kubelet_version = xstrdup(o->kubelet_version ? o->kubelet_version : "");
  a->dir = xasprintf("%s/agent", cfg->data_dir);
  a->images_dir = xasprintf("%s/images", a->dir);
  ev_init(&a->tick, tick_cb);
  ev_init(&a->recheck, recheck_cb);
  a->tick.repeat = TICK_SECONDS;
  if ((r = fs_mkdir_p(a->images_dir, 0755)) < 0) {
    snprintf(err, errlen, "%s: %s", a->images_dir, strerror(-r));
    goto fail;
  }
  if ((r = agent_host_read(NULL, cfg->data_dir, &a->host)) < 0) {
    snprintf(err, errlen, "reading this machine's facts: %s", strerror(-r));
    goto fail;
  }
  char name[256];
  if ((r = agent_host_node_name(cfg->node_name, a->host.hostname, cfg->with_node_id,
                                cfg->data_dir, name, sizeof(name), err, errlen)) < 0)
    goto fail;
  a->node_name = xstrdup(name);
  for (size_t i = 0; i < cfg->node_external_ip.n; i++) {
    unsigned char buf[16];
    const char *ip = cfg->node_external_ip.v[i];
    if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1) {
      snprintf(err, errlen, "--node-external-ip %s: not an IPv4 or IPv6 address", ip);
      r = -EINVAL;
      goto fail;
    }
  }
  a->node_ip = xstrdup(cfg->node_ip.n ? cfg->node_ip.v[0] : a->host.node_ip);
  const char *backend = cfg->flannel_backend ? cfg->flannel_backend : "vxlan";
  if (strcmp(backend, "vxlan") && strcmp(backend, "none")) {
    snprintf(err, errlen, "--flannel-backend %s: k3c has the backends vxlan and none", backend);
    r = -EINVAL;
    goto fail;
  }
  /* The overlay first: a wrong --flannel-iface or --node-ip stops the
   * agent before it starts containerd or registers the Node. */
  if (strcmp(backend, "none")) {
    net_overlay_opts_t oo = {.node_name = a->node_name, .node_ip = a->node_ip,
                             .iface = cfg->flannel_iface, .cluster_cidr = cfg->cluster_cidr};
    char oerr[256];
    if ((r = net_overlay_new(loop, c, &oo, &a->overlay, oerr, sizeof(oerr))) < 0) {
      snprintf(err, errlen, "the pod network overlay (--flannel-backend=none turns it off): %s",
               oerr);
      goto fail;
    }
  }

  if (!cfg->disable_kube_proxy) {
    net_proxy_opts_t po = {.cluster_cidr = cfg->cluster_cidr, .node_name = a->node_name};
    char perr[256];
    if ((r = net_proxy_new(loop, c, &po, &a->proxy, perr, sizeof(perr))) < 0) {
      snprintf(err, errlen, "the service proxy (--disable-kube-proxy turns it off): %s", perr);
      goto fail;
    }
  }
  char nperr[256];
  if (!cfg->disable_network_policy &&
      (r = net_netpol_new(loop, c, a->node_name, &a->netpol, nperr, sizeof(nperr))) < 0) {
    snprintf(err, errlen, "network policies (--disable-network-policy turns them off): %s", nperr);
    goto fail;
  }

  /* The pod network (containerd reads it on every sandbox). */
  /* The pod network's config is written once the server has given the
   * Node its subnet (containerd picks it up); the cluster CIDR is
   * checked now. */
  snprintf(cni_dir, sizeof(cni_dir), "%s/etc/cni/net.d", a->dir);
  snprintf(cni_bin, sizeof(cni_bin), "%s/cni/bin", a->dir);
  if ((r = agent_cni_subnet(NULL, cfg->cluster_cidr, sub, sizeof(sub), err, errlen)) < 0)
    goto fail;
  /* --flannel-backend=none (as k3s): containerd's own dirs, for a CNI the
   * user installs there; else k3c's plugin, linked to this binary */
  a->own_cni = strcmp(backend, "none") != 0;
  if (!a->own_cni) { /* an earlier run's, not to be mistaken for the node's CNI */
    char stale[PATH_MAX + 20];
    snprintf(stale, sizeof(stale), "%s/10-k3c.conflist", cni_dir);
    unlink(stale);
  }
  if (a->own_cni && (r = agent_cni_bin_write(cni_bin, NULL, err, errlen)) < 0)
    goto fail;

  /* The pause image, imported with the air-gap images. */
  snprintf(pause_tar, sizeof(pause_tar), "%s/k3c-pause.tar", a->images_dir);
  if ((r = agent_pause_image_write(pause_tar, a->pause_name, err, errlen)) < 0)
    goto fail;

  if (cfg->container_runtime_endpoint && cfg->container_runtime_endpoint[0]) {
    const char *ep = cfg->container_runtime_endpoint;
    if (!strncmp(ep, "unix://", 7))
      ep += 7;
    a->socket = xstrdup(ep);
  } else {
    agent_containerd_opts_t co = {.data_dir = cfg->data_dir,
                                  .sandbox_image = a->pause_name,
                                  .cni_conf_dir = a->own_cni ? cni_dir : "/etc/cni/net.d",
                                  .cni_bin_dir = a->own_cni ? cni_bin : "/opt/cni/bin",
                                  .restrict_oom_score_adj = -1};
    if ((r = use_registries(cfg->private_registry, err, errlen)) < 0)
      goto fail;
    if (r > 0)
      co.registries_file = cfg->private_registry;
    if ((r = agent_containerd_start(loop, &co, runtime_cb, a, &a->ctrd, err, errlen)) < 0)
      goto fail;
    a->socket = xstrdup(agent_containerd_socket(a->ctrd));
  }
  if ((r = cri_client_new(loop, a->socket, &a->cri)) < 0 ||
      (r = agent_workers_new(loop, a->socket, 1, &a->jobs)) < 0) {
    snprintf(err, errlen, "CRI client for %s: %s", a->socket, strerror(-r));
    goto fail;
  }

  if (cfg->kubelet_port > 0 && (r = start_api(a, o, err, errlen)) < 0)
    goto fail;

  char lerr[256];
  cJSON *labels = agent_host_labels(a->node_name, o->control_plane, &cfg->node_label, lerr,
                                    sizeof(lerr));
  cJSON *taints = labels ? agent_host_taints(&cfg->node_taint, lerr, sizeof(lerr)) : NULL;
  cJSON *status = taints ? agent_host_node_status(&a->host, a->node_ip, cfg->kube_reserved,
                                                  cfg->system_reserved, "", a->kubelet_version,
                                                  lerr, sizeof(lerr))
                         : NULL;
  if (status)
    add_external_ips(cfg, status);
  if (!status) {
    snprintf(err, errlen, "%s", lerr);
    cJSON_Delete(labels);
    cJSON_Delete(taints);
    r = -EINVAL;
    goto fail;
  }
  agent_node_opts_t no = {.name = a->node_name, .labels = labels, .taints = taints,
                          .status = status, .lease_seconds = 10, .status_seconds = 10,
                          .warn = node_warn};
  r = agent_node_new(loop, c, &no, node_registered, a, &a->node);
  cJSON_Delete(labels);
  cJSON_Delete(taints);
  cJSON_Delete(status);
  if (r < 0) {
    snprintf(err, errlen, "node %s: %s", a->node_name, strerror(-r));
    goto fail;
  }
  char fs[300];
  snprintf(fs, sizeof(fs), "metadata.name=%s", a->node_name);
  client_ref_t nodes = {.version = "v1", .resource = "nodes"};
  if ((r = client_informer_new(c, &nodes, NULL, fs, 1, &a->self)) < 0) {
    snprintf(err, errlen, "watching node %s: %s", a->node_name, strerror(-r));
    goto fail;
  }
  a->localpath = agent_localpath_new(c, a->node_name);
  client_informer_handlers_t nh = {self_added, self_updated, NULL};
  client_informer_add_handlers(a->self, &nh, a);
  client_informer_start(a->self);
  if (config_cluster_dns_enabled(cfg) &&
      agent_clusterdns_new(loop, c, cfg, &a->dns, lerr, sizeof(lerr)) < 0)
    log_error("agent", "cluster DNS not started: %s", lerr);
  a->started = ev_now(loop);
  update_ready(a);
  pressure(a);
  ev_timer_again(loop, &a->tick);
  if (!a->ctrd)
    runtime_cb(a, true); /* someone else's runtime: up as far as we know */
  log_info("agent", "node %s (%s), pause image %s", a->node_name, a->node_ip, a->pause_name);
  *ret = a;
  return 0;
fail:
  agent_free(a);
  return r;
}

void agent_free(agent_t *a) {
  if (!a)
    return;
  /* Callbacks that still come (replies already read, imports finished,
   * containerd's exit) see stopping and touch nothing else. */
  a->stopping = true;
  ev_timer_stop(a->loop, &a->tick);
  ev_timer_stop(a->loop, &a->recheck);
  agent_kubeletapi_set_kubelet(a->api, NULL);
  agent_kubeletapi_stop(a->api);
  cri_client_free(a->cri);
  agent_kubelet_free(a->kubelet);
  agent_workers_free(a->jobs);
  client_informer_free(a->self);
  agent_localpath_free(a->localpath);
  net_overlay_free(a->overlay);
  net_proxy_free(a->proxy);
  net_netpol_free(a->netpol);
  agent_clusterdns_free(a->dns);
  agent_node_free(a->node);
  agent_containerd_stop(a->ctrd, 10);
  free(a->kubelet_version);
  free(a->dir);
  free(a->images_dir);
  free(a->socket);
  free(a->node_name);
  free(a->last_node_warn);
  free(a->node_ip);
  free(a);
}

/* ---- the `k3c agent` process ---- */

typedef struct {
  const k3c_config_t *cfg;
  const char *server;
  const char *ca_pem; /* the server CA, from the kubeconfig or the join */
  const char *client_ca_pem; /* verifies the kubelet API's clients */
  client_t *c;
  agent_hollow_t *h;
  agent_t *agent;
  ev_timer retry; /* asks /version again while the server does not answer */
  /* a joined node: its certificates, renewed by the renew timer */
  char node_name[300];
  agent_host_t host;
  const char *ips[65];
  agent_join_opts_t jo;
  agent_join_creds_t creds;
  bool joined;
  char *kc_client_ca; /* --kubeconfig: the client CA the server gave, owned */
  ev_timer renew;
  int status;
} run_t;

static void version_done(const client_result_t *res, void *data);

static void version_retry(struct ev_loop *loop, ev_timer *w, int revents) {
  run_t *run = (run_t *)((char *)w - offsetof(run_t, retry));
  client_get_path(run->c, "/version", version_done, run);
}

static int start_hollow(run_t *run, const char *version) {
  const k3c_config_t *cfg = run->cfg;
  agent_hollow_opts_t o = {
      .nodes = cfg->hollow,
      .prefix = cfg->hollow_prefix,
      .cpu = cfg->hollow_cpu,
      .memory = cfg->hollow_memory,
      .pods = cfg->hollow_pods,
      .lease_seconds = cfg->hollow_lease_seconds,
      .status_seconds = cfg->hollow_status_seconds,
      .kubelet_version = version,
  };
  int r = agent_hollow_new(ev_default_loop(0), run->c, &o, &run->h);
  if (r < 0) {
    log_error("agent", "cannot start hollow nodes: %s", strerror(-r));
    return r;
  }
  log_info("agent", "%d hollow node(s) %s0..%s%d for server %s (%s)", cfg->hollow,
           cfg->hollow_prefix, cfg->hollow_prefix, cfg->hollow - 1, run->server, version);
  return 0;
}

static void version_done(const client_result_t *res, void *data) {
  run_t *run = data;
  struct ev_loop *loop = ev_default_loop(0);
  const cJSON *gv = json_get_path(res->obj, "gitVersion");
  const char *v = cJSON_IsString(gv) ? gv->valuestring : NULL;
  if (res->code == 0 || res->code >= 500) { /* not up yet: as a kubelet, wait for it */
    log_warn("agent", "server %s: %s; retrying", run->server,
             res->err ? strerror(-res->err) : res->message ? res->message : "no answer");
    ev_timer_set(&run->retry, 2.0, 0.0);
    ev_timer_start(loop, &run->retry);
    return;
  }
  if (res->code != 200 || !v) {
    log_error("agent", "cannot read the server's version: %d %s", res->code,
              res->message ? res->message : "");
    run->status = 1;
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  int r;
  if (run->cfg->hollow > 0) {
    r = start_hollow(run, v);
  } else {
    char err[512];
    agent_opts_t o = {.cfg = run->cfg, .kubelet_version = v,
                      .client_ca_pem = run->client_ca_pem ? run->client_ca_pem : run->ca_pem,
                      .serving_cert_pem = run->joined ? run->creds.serving_cert_pem : NULL,
                      .serving_key_pem = run->joined ? run->creds.serving_key_pem : NULL};
    if ((r = agent_new(loop, run->c, &o, &run->agent, err, sizeof(err))) < 0)
      log_error("agent", "%s", err);
  }
  if (r < 0) {
    run->status = 1;
    ev_break(loop, EVBREAK_ALL);
  }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
  ev_break(loop, EVBREAK_ALL);
}

/* The token: --token, else the first line of --token-file. NULL if none. */
static char *read_token(const k3c_config_t *cfg, char *err, size_t errlen) {
  if (cfg->token && cfg->token[0])
    return xstrdup(cfg->token);
  if (!cfg->token_file || !cfg->token_file[0])
    return NULL;
  char *t = NULL;
  size_t len;
  int r = fs_read_file(cfg->token_file, 64 << 10, &t, &len);
  if (r < 0) {
    snprintf(err, errlen, "--token-file %s: %s", cfg->token_file, strerror(-r));
    return NULL;
  }
  t[strcspn(t, "\r\n")] = 0;
  return t;
}

/* Credentials by joining cfg->server (docs/JOIN.md): the saved ones when
 * they fit (renewed with their own client certificate when due), else a
 * join with the token, retried while the server cannot be reached. Fills
 * run->jo and run->creds. Returns 0, or the exit status. */
static int join_server(run_t *run) {
  const k3c_config_t *cfg = run->cfg;
  char err[768] = "", lerr[512] = "";
  char *token = read_token(cfg, err, sizeof(err));
  if (!token && err[0]) {
    log_error("agent", "%s", err);
    return 2;
  }
  char *name = run->node_name;
  size_t name_size = sizeof(run->node_name);
  memset(&run->host, 0, sizeof(run->host));
  if (cfg->hollow > 0 && !(cfg->node_name && cfg->node_name[0])) {
    snprintf(name, name_size, "%.200s0", cfg->hollow_prefix);
  } else {
    bool have_host = agent_host_read(NULL, cfg->data_dir, &run->host) == 0;
    if (agent_host_node_name(cfg->node_name, have_host ? run->host.hostname : NULL,
                             cfg->with_node_id, cfg->data_dir, name, name_size, lerr,
                             sizeof(lerr)) < 0)
      name[0] = 0;
  }
  if (!name[0]) {
    log_error("agent", "%s", lerr[0] ? lerr : "no node name: pass --node-name");
    free(token);
    return 1;
  }
  /* The serving certificate's IPs: --node-ip (or the host's) and --node-external-ip. */
  const char **all_ips = run->ips; /* NULL-terminated; more than 64 addresses are not kept */
  size_t nips = 0;
  for (size_t i = 0; i < cfg->node_ip.n && nips < 64; i++)
    all_ips[nips++] = cfg->node_ip.v[i];
  if (!cfg->node_ip.n && cfg->hollow <= 0 && run->host.node_ip[0])
    all_ips[nips++] = run->host.node_ip;
  for (size_t i = 0; i < cfg->node_external_ip.n && nips < 64; i++)
    all_ips[nips++] = cfg->node_external_ip.v[i];
  all_ips[nips] = NULL;
  agent_join_opts_t o = {.server = cfg->server, .token = token, .data_dir = cfg->data_dir,
                         .node_name = name, .node_ips = all_ips};
  agent_join_creds_t creds = {0};
  int r = agent_join_load(&o, &creds, lerr, sizeof(lerr));
  if (r == 0) {
    log_info("agent", "node %s: using the certificates in %s/agent", name, cfg->data_dir);
    if (creds.renew_at <= time(NULL)) {
      o.timeout = 10;
      r = agent_join_renew(&o, &creds, err, sizeof(err));
      o.timeout = 0;
      if (r == 0) {
        log_info("agent", "node %s: renewed its certificates with its client certificate", name);
      } else if (r == -EACCES && token) {
        log_warn("agent", "renewing the certificates of node %s: %s; joining again with the "
                          "token", name, err);
        agent_join_creds_done(&creds);
        r = -EKEYREJECTED;
      } else {
        log_warn("agent", "renewing the certificates of node %s: %s; using the current ones "
                          "and trying again later", name, err);
        r = 0;
      }
    }
  }
  if (r != 0) {
    if (r != -ENOENT && r != -EKEYREJECTED)
      log_info("agent", "%s; joining again", lerr);
    else if (r == -EKEYREJECTED && lerr[0])
      log_info("agent", "%s; joining again", lerr);
    if (!token) {
      log_error("agent", "k3c agent --server %s needs --token (K3C_TOKEN) or --token-file to "
                         "join: the server's %s/server/node-token",
                cfg->server, "<data-dir>");
      return 2;
    }
    double wait = 1.0;
    while ((r = agent_join_once(&o, &creds, err, sizeof(err))) == -EAGAIN) {
      /* as a kubelet, wait for the server */
      log_warn("agent", "joining %s: %s; retrying in %.0f s", cfg->server, err, wait);
      struct timespec ts = {.tv_sec = (time_t)wait};
      nanosleep(&ts, NULL);
      wait = wait * 2 > 30 ? 30 : wait * 2;
    }
    if (r < 0) {
      log_error("agent", "joining %s as node %s: %s", cfg->server, name, err);
      free(token);
      return 1;
    }
    if (!creds.pinned)
      log_warn("agent", "the token has no CA hash (K10...): trusting the CA %s sent; pass the "
                        "full token of %s to pin it", cfg->server, "<data-dir>/server/node-token");
    log_info("agent", "joined %s as node %s (certificates in %s/agent)", cfg->server, name,
             cfg->data_dir);
  }
  free(token);
  o.token = NULL; /* renewals need none */
  run->jo = o;
  run->creds = creds;
  run->joined = true;
  return 0;
}

/* The renew timer of a joined node: fetch new certificates with the
 * current client certificate and swap them into the API client and the
 * kubelet API; pods and open connections are untouched. The two GETs
 * block the loop (10 s at most each) once per renewal. */
static void renew_arm(run_t *run, double delay) {
  struct ev_loop *loop = ev_default_loop(0);
  ev_timer_stop(loop, &run->renew);
  ev_timer_set(&run->renew, delay > 1 ? delay : 1, 0.);
  ev_timer_start(loop, &run->renew);
}

static void renew_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  run_t *run = (run_t *)((char *)w - offsetof(run_t, renew));
  char err[768] = "";
  run->jo.timeout = 10;
  int r = agent_join_renew(&run->jo, &run->creds, err, sizeof(err));
  if (r < 0) {
    double left = (double)(run->creds.expires - time(NULL));
    double again = left > 600 ? 60 : left > 40 ? left / 4 : 10;
    log_warn("agent", "renewing the certificates of node %s: %s; trying again in %.0f s%s",
             run->jo.node_name, err, again,
             left <= 0 ? " (the client certificate has expired: restart the agent with the token)"
                       : "");
    renew_arm(run, again);
    return;
  }
  if (client_https_set_cert(run->c, run->creds.cert_pem, run->creds.key_pem, err,
                            sizeof(err)) < 0)
    log_error("agent", "using the renewed client certificate: %s", err);
  if (run->agent && run->creds.serving_cert_pem &&
      agent_set_serving_cert(run->agent, run->creds.serving_cert_pem, run->creds.serving_key_pem,
                             err, sizeof(err)) < 0)
    log_error("agent", "using the renewed serving certificate: %s", err);
  log_info("agent", "renewed the certificates of node %s (the client one is valid for %lld s; "
                    "next renewal in %lld s)",
           run->jo.node_name, (long long)(run->creds.expires - time(NULL)),
           (long long)(run->creds.renew_at - time(NULL)));
  renew_arm(run, (double)(run->creds.renew_at - time(NULL)));
}

/* With --kubeconfig the kubelet API still needs the client CA, which the
 * kubeconfig does not carry: ask the server for it with the kubeconfig's
 * certificate (waiting for the server as a join does). An older server
 * (one CA) or a kubeconfig without a certificate: the server CA stands in. */
static void kubeconfig_client_ca(run_t *run, const client_kubeconfig_t *k) {
  char err[512] = "";
  int r = -EINVAL;
  double wait = 1.0;
  if (k->cert && k->key) {
    while ((r = agent_join_client_ca(k->server, k->ca, k->cert, k->key, 10, &run->kc_client_ca,
                                     err, sizeof(err))) == -EAGAIN) {
      log_warn("agent", "the client CA of %s: %s; retrying in %.0f s", k->server, err, wait);
      struct timespec ts = {.tv_sec = (time_t)wait};
      nanosleep(&ts, NULL);
      wait = wait * 2 > 30 ? 30 : wait * 2;
    }
  }
  if (r == 0) {
    run->client_ca_pem = run->kc_client_ca;
    return;
  }
  log_warn("agent", "the kubelet API verifies its clients with the kubeconfig's CA (%s)",
           err[0] ? err : "the kubeconfig has no client certificate to ask for the client CA");
}

int agent_run(const k3c_config_t *cfg) {
  bool kubeconfig = cfg->kubeconfig && cfg->kubeconfig[0];
  if (!kubeconfig && (!cfg->server || !cfg->server[0])) {
    log_error("agent", "k3c agent needs a server to join: pass --server URL (K3C_URL) with "
                       "--token TOKEN (K3C_TOKEN) or --token-file FILE (the server's "
                       "<data-dir>/server/node-token), or --kubeconfig FILE");
    return 2;
  }
  if (!kubeconfig && cfg->hollow > 1) {
    /* one join gives one node's certificate; the Node authorizer lets it
     * register and heartbeat that node only */
    log_error("agent", "--hollow %d with --server: a join gives the certificate of one node "
                       "(%s0), which may not register the others; use --hollow 1 per agent, or "
                       "--kubeconfig with credentials that may write every Node (the admin's)",
              cfg->hollow, cfg->hollow_prefix);
    return 2;
  }
  if (cfg->hollow <= 0 && geteuid() != 0) {
    log_error("agent", "the node agent needs root (it runs containerd, mounts and cgroups): "
                       "run k3c agent as root");
    return 1;
  }
  client_kubeconfig_t k;
  memset(&k, 0, sizeof(k));
  char err[512];
  run_t *run = xcalloc(1, sizeof(*run)); /* big (the join state): on the heap */
  run->cfg = cfg;
  if (kubeconfig) {
    if (client_kubeconfig_load(cfg->kubeconfig, &k, err, sizeof(err)) < 0) {
      log_error("agent", "kubeconfig %s", err);
      client_kubeconfig_done(&k);
      free(run);
      return 2;
    }
    if (cfg->hollow <= 0)
      kubeconfig_client_ca(run, &k);
  } else {
    int st = join_server(run);
    if (st) {
      agent_join_creds_done(&run->creds);
      free(run);
      return st;
    }
    k.server = xstrdup(cfg->server);
    k.ca = xstrdup(run->creds.ca_pem);
    k.cert = xstrdup(run->creds.cert_pem);
    k.key = xstrdup(run->creds.key_pem);
  }
  signal(SIGPIPE, SIG_IGN);
  struct ev_loop *loop = ev_default_loop(0);
  run->server = k.server;
  run->ca_pem = k.ca;
  if (run->joined)
    run->client_ca_pem = run->creds.client_ca_pem;
  client_https_opts_t ho = {.server = k.server, .ca_pem = k.ca, .cert_pem = k.cert,
                            .key_pem = k.key, .bearer = k.token, .max_connections = 8};
  if (client_https_new(loop, &ho, &run->c, err, sizeof(err)) < 0) {
    log_error("agent", "client for %s: %s", k.server, err);
    client_kubeconfig_done(&k);
    agent_join_creds_done(&run->creds);
    free(run);
    return 1;
  }
  client_set_user_agent(run->c, cfg->hollow > 0 ? "k3c-hollow-kubelet" : "k3c-kubelet");
  ev_timer_init(&run->retry, version_retry, 2.0, 0.0);
  ev_timer_init(&run->renew, renew_cb, 1.0, 0.0);
  if (run->joined)
    renew_arm(run, (double)(run->creds.renew_at - time(NULL)));
  client_get_path(run->c, "/version", version_done, run);
  ev_signal sigterm, sigint;
  ev_signal_init(&sigterm, on_signal, SIGTERM);
  ev_signal_init(&sigint, on_signal, SIGINT);
  ev_signal_start(loop, &sigterm);
  ev_signal_start(loop, &sigint);
  ev_run(loop, 0);
  ev_signal_stop(loop, &sigterm);
  ev_signal_stop(loop, &sigint);
  ev_timer_stop(loop, &run->retry);
  ev_timer_stop(loop, &run->renew);
  agent_hollow_free(run->h);
  agent_free(run->agent);
  client_free(run->c);
  ev_loop_destroy(loop);
  client_kubeconfig_done(&k);
  agent_join_creds_done(&run->creds);
  free(run->kc_client_ca);
  int status = run->status;
  free(run);
  log_info("agent", "stopped");
  return status;
}
