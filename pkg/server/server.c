/* The server process: prepares the data dir, the cluster PKI, the join
 * token and the admin kubeconfig, then serves the Kubernetes API over HTTPS
 * on one libev loop until SIGTERM or SIGINT (docs/PKI.md, docs/HTTP.md). */
#include "server/server.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/host.h"
#include "api/api.h"
#include "client/client.h"
#include "http/server.h"
#include "store/store.h"
#include "server/bootstrap.h"
#include "server/control.h"
#include "server/encryption.h"
#include "server/kubeconfig.h"
#include "tls/pki.h"
#include "tls/token.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/offload.h"
#include "version.h"

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
  log_info("server", "received signal %d, shutting down", w->signum);
  ev_break(loop, EVBREAK_ALL);
}

static bool release_finished;

static void released(void *data) {
  release_finished = true;
  ev_break(data, EVBREAK_ALL);
}

static void release_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  log_warn("server", "releasing the leader election Leases took too long; stopping anyway");
  ev_break(loop, EVBREAK_ALL);
}

static bool is_wildcard(const char *addr) {
  return !addr || !*addr || !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::");
}

/* URL for local clients: loopback unless bound to one specific address. */
static char *local_url(const k3c_config_t *cfg) {
  const char *host = is_wildcard(cfg->bind_address) ? "127.0.0.1" : cfg->bind_address;
  if (strchr(host, ':'))
    return xasprintf("https://[%s]:%d", host, cfg->https_listen_port);
  return xasprintf("https://%s:%d", host, cfg->https_listen_port);
}

static int setup_pki(const k3c_config_t *cfg, tls_pki_t *pki) {
  char err[512] = "";
  char host[256] = "";
  tls_san_t san;
  tls_san_init(&san);
  if (gethostname(host, sizeof(host) - 1) < 0)
    host[0] = '\0';
  int r = tls_pki_serving_san(&san, host, (const char *const *)cfg->tls_san.v,
                              (const char *const *)cfg->node_ip.v, cfg->service_cidr, err,
                              sizeof(err));
  if (r == 0 && !is_wildcard(cfg->bind_address))
    tls_san_add(&san, cfg->bind_address);
  if (r < 0) {
    log_error("server", "serving certificate names: %s", err);
    goto out;
  }
  unsigned changes = 0;
  tls_pki_opts_t opts = {.data_dir = cfg->data_dir, .serving_san = &san};
  /* Hidden, for tests: leaf certificates that last this many seconds. */
  const char *life = getenv("K3C_CERT_LEAF_SECONDS");
  if (life && *life) {
    char *end = NULL;
    long v = strtol(life, &end, 10);
    if (*end || v < 60) {
      log_error("server", "K3C_CERT_LEAF_SECONDS=%s: give a number of seconds, at least 60", life);
      r = -EINVAL;
      goto out;
    }
    opts.leaf_seconds = v;
    log_warn("server", "leaf certificates last %ld s (K3C_CERT_LEAF_SECONDS, for tests)", v);
  }
  r = tls_pki_load(pki, &opts, &changes, err, sizeof(err));
  if (r < 0) {
    log_error("server", "certificates: %s", err);
    goto out;
  }
  if (changes & TLS_PKI_CLIENT_CA_MIGRATED)
    log_info("server", "single-CA data dir of an older k3c: %s is now the client CA too (%s)",
             pki->server_ca.cert_path, pki->client_ca.cert_path);
  if (changes & TLS_PKI_CLIENT_CA_CREATED)
    log_info("server", "created client CA %s", pki->client_ca.cert_path);
  if (changes & TLS_PKI_REQUEST_HEADER_CA_CREATED)
    log_info("server", "created request-header CA %s", pki->request_header_ca.cert_path);
  if (changes & TLS_PKI_CA_CREATED)
    log_info("server", "created server CA %s", pki->server_ca.cert_path);
  else
    log_info("server", "using server CA %s", pki->server_ca.cert_path);
  if (changes & TLS_PKI_SERVING_ISSUED)
    log_info("server", "issued serving certificate %s (%zu DNS names, %zu IPs)",
             pki->serving.cert_path, san.n_dns, san.n_ips);
  if (changes & TLS_PKI_ADMIN_ISSUED)
    log_info("server", "issued admin client certificate %s", pki->admin.cert_path);
  if (changes & TLS_PKI_KUBELET_CLIENT_ISSUED)
    log_info("server", "issued kubelet client certificate %s", pki->kubelet_client.cert_path);
  if (changes & TLS_PKI_AUTH_PROXY_ISSUED)
    log_info("server", "issued front-proxy client certificate %s", pki->auth_proxy.cert_path);
  if (changes & TLS_PKI_SA_KEY_CREATED)
    log_info("server", "created service-account signing key %s", pki->sa_key_path);
out:
  tls_san_done(&san);
  return r;
}

int server_run(const k3c_config_t *cfg) {
  int status = 1, r;
  char err[512] = "";
  char *token = NULL, *url = NULL, *dir = NULL;
  tls_pki_t pki = {0};
  http_server_t *http = NULL;
  store_t *store = NULL;
  server_enc_t *enc = NULL;
  store_keyring_t *keyring = NULL;
  api_server_t *api = NULL;
  server_bootstrap_t *boot = NULL;
  server_control_t *control = NULL;
  client_t *agent_client = NULL;
  agent_t *agent = NULL;
  char *db_dir = NULL, *db_path = NULL, *tokens_path = NULL;
  char *kubelet_client_cert = NULL, *kubelet_client_key = NULL;
  char *kubelet_serving_cert = NULL, *kubelet_serving_key = NULL;
  struct ev_loop *loop = EV_DEFAULT;
  ev_signal sigterm, sigint;
  ev_signal_init(&sigterm, on_signal, SIGTERM);
  ev_signal_init(&sigint, on_signal, SIGINT);
  signal(SIGPIPE, SIG_IGN);

  log_info("server", "k3c server starting, data dir %s", cfg->data_dir);
  dir = xasprintf("%s/server", cfg->data_dir);
  if ((r = fs_mkdir_p(dir, 0700)) < 0) {
    log_error("server", "cannot create data dir %s: %s", dir, strerror(-r));
    goto out;
  }
  if (setup_pki(cfg, &pki) < 0)
    goto out;

  if ((r = tls_token_ensure(cfg->data_dir, pki.server_ca.cert_pem, cfg->token, &token, err,
                            sizeof(err))) < 0) {
    log_error("server", "node token: %s", err);
    goto out;
  }
  log_info("server", "node token is in %s/node-token", dir);

  url = local_url(cfg);
  if (cfg->write_kubeconfig && *cfg->write_kubeconfig) {
    if ((r = server_kubeconfig_write(cfg->write_kubeconfig, (mode_t)cfg->write_kubeconfig_mode, url,
                                     pki.server_ca.cert_pem, pki.admin.cert_pem,
                                     pki.admin.key_pem)) < 0) {
      log_error("server", "write kubeconfig %s: %s", cfg->write_kubeconfig, strerror(-r));
      goto out;
    }
    log_info("server", "wrote kubeconfig %s (mode %04o)", cfg->write_kubeconfig,
             (unsigned)cfg->write_kubeconfig_mode);
  }

  db_dir = xasprintf("%s/db", dir);
  db_path = xasprintf("%s/state.db", db_dir);
  if ((r = fs_mkdir_p(db_dir, 0700)) < 0) {
    log_error("server", "cannot create %s: %s", db_dir, strerror(-r));
    goto out;
  }
  if ((r = server_enc_open(cfg->data_dir, cfg->secrets_encryption, &enc, &keyring, err,
                           sizeof(err))) < 0) {
    log_error("server", "secrets encryption: %s", err);
    goto out;
  }
  store_options_t sopts = {.path = db_path, .keyring = keyring};
  r = store_open(loop, &sopts, &store, err, sizeof(err));
  store_keyring_unref(keyring);
  if (r < 0) {
    log_error("server", "datastore: %s", err);
    goto out;
  }
  log_info("server", "datastore %s at revision %lld", db_path, (long long)store_revision(store));
  tokens_path = xasprintf("%s/tokens.csv", dir);
  /* pods/log's client certificate for the kubelets is the PKI's
   * client-kube-apiserver; this node's kubelet serving certificate is
   * issued by the server CA at each start. */
  kubelet_client_cert = xstrdup(pki.kubelet_client.cert_pem);
  kubelet_client_key = xstrdup(pki.kubelet_client.key_pem);
  if (!cfg->disable_agent && cfg->kubelet_port > 0) {
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0)
      host[0] = '\0';
    tls_san_t ksan;
    tls_san_init(&ksan);
    tls_san_add(&ksan, "localhost");
    tls_san_add(&ksan, "127.0.0.1");
    if (host[0])
      tls_san_add(&ksan, host);
    if (cfg->node_name && cfg->node_name[0])
      tls_san_add(&ksan, cfg->node_name);
    for (size_t i = 0; i < cfg->node_ip.n; i++)
      tls_san_add(&ksan, cfg->node_ip.v[i]);
    tls_cert_spec_t kss = {.cn = host[0] ? host : "k3c-kubelet", .usage = TLS_USAGE_SERVER,
                           .san = &ksan};
    r = tls_pki_issue(&pki, &kss, &kubelet_serving_cert, &kubelet_serving_key, err, sizeof(err));
    tls_san_done(&ksan);
    if (r < 0) {
      log_error("server", "kubelet serving certificate: %s", err);
      goto out;
    }
  }
  api_audit_opts_t audit = {.path = cfg->audit_log_path, .policy_file = cfg->audit_policy_file,
                            .max_size_mb = cfg->audit_log_maxsize,
                            .max_backups = cfg->audit_log_maxbackup,
                            .max_age_days = cfg->audit_log_maxage};
  api_server_opts_t aopts = {
      .kubelet_client_cert_pem = kubelet_client_cert,
      .kubelet_client_key_pem = kubelet_client_key,
      .proxy_client_cert_pem = pki.auth_proxy.cert_pem,
      .proxy_client_key_pem = pki.auth_proxy.key_pem,
      .requestheader_ca_pem = pki.request_header_ca.cert_pem,
      .client_ca_pem = pki.client_ca.cert_pem,
      .requestheader_allowed_name = "system:auth-proxy", /* tls/pki.c's CN, k3s's */
      .service_cidr = cfg->service_cidr,
      .advertise_ip = cfg->node_ip.n ? cfg->node_ip.v[0] : "127.0.0.1",
      .cluster_dns = config_cluster_dns_enabled(cfg) ? cfg->cluster_dns : NULL,
      .advertise_port = cfg->https_listen_port,
      .token_auth_file = tokens_path,
      .not_ready_toleration_seconds = cfg->default_not_ready_toleration_seconds,
      .unreachable_toleration_seconds = cfg->default_unreachable_toleration_seconds,
      .service_account_key_pem = pki.sa_key_pem,
      .service_account_issuers = (const char *const *)cfg->service_account_issuer.v,
      .api_audiences = (const char *const *)cfg->api_audiences.v,
      .anonymous_auth = cfg->anonymous_auth,
      .audit = &audit,
  };
  if ((r = api_server_new(loop, store, &aopts, &api, err, sizeof(err))) < 0) {
    log_error("server", "API server: %s", err);
    goto out;
  }
  api_server_bootstrap(api);
  server_enc_start(enc, store, api);

  http_server_opts_t opts = {
      .bind_address = cfg->bind_address,
      .port = cfg->https_listen_port,
      .cert_pem = pki.serving.cert_pem,
      .key_pem = pki.serving.key_pem,
      .client_ca_pem = pki.client_ca.cert_pem,
      .proxy_ca_pem = pki.request_header_ca.cert_pem, /* API aggregation's front proxies */
      .limits = {.out_budget = (size_t)cfg->output_budget_mib << 20},
      /* bodies this big take tens of ms of decoding and validation:
       * their handlers run on the offload worker (util/offload.h) */
      .offload_body_min = 64 << 10,
  };
  /* The join endpoints (/cacerts, /v1-k3s/...) answer before the API. */
  server_bootstrap_opts_t bo = {.pki = &pki, .token = token, .api = api_server_handle,
                                .api_data = api};
  if ((r = server_bootstrap_new(loop, &bo, &boot)) < 0) {
    log_error("server", "join endpoints: %s", strerror(-r));
    goto out;
  }
  if ((r = http_server_start(loop, &opts, server_bootstrap_handle, boot, &http, err,
                             sizeof(err))) < 0) {
    log_error("server", "HTTPS listener: %s", err);
    goto out;
  }
  /* The controllers and the scheduler call the API in-process, as
   * kube-controller-manager and kube-scheduler would over HTTPS
   * (docs/CLIENT.md), each while it holds its Lease (--leader-elect). */
  char storage_dir[4096];
  if (snprintf(storage_dir, sizeof(storage_dir), "%s/storage", cfg->data_dir) >=
      (int)sizeof(storage_dir)) {
    log_error("server", "--data-dir %s: too long", cfg->data_dir);
    goto out;
  }
  server_control_opts_t co = {
      .api = api_server_handle,
      .api_data = api,
      .ca_pem = pki.server_ca.cert_pem,
      .sa_key_pem = pki.sa_key_pem,
      .cluster_cidr = cfg->cluster_cidr,
      .storage_dir = storage_dir,
      .node_monitor_grace_period = cfg->node_monitor_grace_period,
      .job_backoff_seconds = cfg->job_backoff_seconds,
      .max_endpoints_per_slice = cfg->max_endpoints_per_slice,
      .disable_scheduler = cfg->disable_scheduler,
      .disable_servicelb = config_disabled(cfg, "servicelb"),
      .leader_elect = cfg->leader_elect,
      .lease_duration = cfg->leader_elect_lease_duration,
      .renew_deadline = cfg->leader_elect_renew_deadline,
      .retry_period = cfg->leader_elect_retry_period,
  };
  if ((r = server_control_start(loop, &co, &control, err, sizeof(err))) < 0) {
    log_error("server", "%s", err);
    goto out;
  }
  /* This node's agent, in-process too (as k3s runs its kubelet). */
  if (!cfg->disable_agent) {
    /* As a joined agent: system:node:<its name> in system:nodes, so the
     * Node authorizer holds it to its own node's objects too. */
    static const char *const agent_groups[] = {"system:nodes", NULL};
    agent_host_t host;
    char node_name[256], node_user[300];
    if (agent_host_read(NULL, cfg->data_dir, &host) < 0 ||
        agent_host_node_name(cfg->node_name, host.hostname, cfg->with_node_id, cfg->data_dir,
                             node_name, sizeof(node_name), err, sizeof(err)) < 0) {
      log_error("server", "node agent: %s", err[0] ? err : "cannot read this machine's facts");
      goto out;
    }
    snprintf(node_user, sizeof(node_user), "system:node:%s", node_name);
    agent_opts_t ao = {.cfg = cfg, .control_plane = true, .kubelet_version = K3C_VERSION,
                       .client_ca_pem = pki.client_ca.cert_pem,
                       .serving_cert_pem = kubelet_serving_cert,
                       .serving_key_pem = kubelet_serving_key};
    if ((r = client_inproc_new(loop, api_server_handle, api, node_user, agent_groups,
                               &agent_client)) < 0 ||
        (r = agent_new(loop, agent_client, &ao, &agent, err, sizeof(err))) < 0) {
      log_error("server", "node agent: %s", r == -ENOMEM ? strerror(-r) : err);
      goto out;
    }
    client_set_user_agent(agent_client, "k3c-kubelet");
  }
  log_info("server", "serving HTTPS on %s:%d (kubectl: %s)",
           cfg->bind_address ? cfg->bind_address : "0.0.0.0", cfg->https_listen_port, url);

  ev_signal_start(loop, &sigterm);
  ev_signal_start(loop, &sigint);
  if ((r = offload_start(loop)) < 0) {
    log_error("server", "starting the request worker thread: %s", strerror(-r));
    goto out;
  }
  ev_run(loop, 0);
  /* Stop acting and hand the Leases back before the loop ends, so that
   * another server takes over at once (upstream's ReleaseOnCancel). */
  ev_timer release_timeout;
  ev_timer_init(&release_timeout, release_timeout_cb, 5., 0.);
  ev_timer_start(loop, &release_timeout);
  server_control_stop(control, released, loop);
  if (!release_finished)
    ev_run(loop, 0);
  ev_timer_stop(loop, &release_timeout);
  offload_stop();
  ev_signal_stop(loop, &sigterm);
  ev_signal_stop(loop, &sigint);
  log_info("server", "stopped");
  status = 0;
out:
  agent_free(agent);
  client_free(agent_client);
  server_control_free(control);
  server_bootstrap_free(boot);
  http_server_stop(http);
  api_server_free(api);
  store_close(store);
  server_enc_free(enc);
  free(db_dir);
  free(db_path);
  free(tokens_path);
  free(kubelet_client_cert);
  free(kubelet_client_key);
  free(kubelet_serving_cert);
  free(kubelet_serving_key);
  tls_pki_done(&pki);
  free(token);
  free(url);
  free(dir);
  ev_loop_destroy(loop);
  return status;
}
