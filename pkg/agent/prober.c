/* Container probes on the kubelet's loop: one timer per probe, exec over
 * the loop's asynchronous CRI client, tcpSocket and httpGet as
 * non-blocking sockets, results counted against the thresholds.
 * https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/ */
#include "agent/prober.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "agent/grpcprobe.h"
#include "agent/podspec.h"
#include "json/util.h"
#include "tls/conf.h"
#include "util/alloc.h"
#include "util/goerr.h"

typedef enum { STARTUP, LIVENESS, READINESS } kind_t;
static const char *const KIND_NAME[] = {"Startup", "Liveness", "Readiness"};
static const char *const KIND_FIELD[] = {"startupProbe", "livenessProbe", "readinessProbe"};

typedef struct probe probe_t;
struct probe {
  agent_prober_t *p; /* NULL once the prober is gone */
  probe_t *prev, *next;
  kind_t kind;
  char uid[128], key[600], cid[AGENT_RT_ID_MAX], cname[256], ip[64];
  cJSON *spec;
  int64_t grace;
  int port; /* tcpSocket/httpGet */
  double period, timeout;
  int success_th, failure_th, successes, failures;
  bool result, decided;
  bool exec_busy, dead;
  ev_timer timer, deadline;
  ev_io io;
  int fd;
  bool sent, connected;
  mbedtls_ssl_context *ssl; /* httpGet scheme HTTPS */
  agent_grpcprobe_t *grpc; /* a grpc check in flight */
  char buf[512];
  size_t len;
};

struct agent_prober {
  struct ev_loop *loop;
  cri_client_t *cri;
  agent_prober_cbs_t cbs;
  probe_t *probes;
  cJSON *killed; /* container ids stopped for a failed probe: not probed again */
  /* HTTPS probes: made on first use; no certificate verification, as
   * upstream's prober (InsecureSkipVerify) */
  bool tls_ready;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config tls;
};

static double num(const cJSON *obj, const char *field, double dflt, double min) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
  double d = cJSON_IsNumber(v) ? v->valuedouble : dflt;
  return d < min ? min : d;
}

static void close_socket(probe_t *pr) {
  if (pr->ssl) {
    mbedtls_ssl_free(pr->ssl);
    free(pr->ssl);
    pr->ssl = NULL;
  }
  if (pr->fd >= 0) {
    if (pr->p)
      ev_io_stop(pr->p->loop, &pr->io);
    close(pr->fd);
    pr->fd = -1;
  }
  if (pr->p)
    ev_timer_stop(pr->p->loop, &pr->deadline);
}

/* Unlink and free, or leave to the exec callback that still has it. */
static void probe_free(probe_t *pr) {
  agent_prober_t *p = pr->p;
  if (p) {
    ev_timer_stop(p->loop, &pr->timer);
    close_socket(pr);
    if (pr->prev)
      pr->prev->next = pr->next;
    else
      p->probes = pr->next;
    if (pr->next)
      pr->next->prev = pr->prev;
  }
  agent_grpcprobe_cancel(pr->grpc);
  pr->grpc = NULL;
  pr->p = NULL;
  pr->dead = true;
  if (pr->exec_busy)
    return;
  cJSON_Delete(pr->spec);
  free(pr);
}

static probe_t *find(agent_prober_t *p, const char *cid, kind_t kind) {
  for (probe_t *pr = p->probes; pr; pr = pr->next)
    if (pr->kind == kind && !strcmp(pr->cid, cid))
      return pr;
  return NULL;
}

/* The startup probe of the container has not succeeded yet. */
static bool starting(agent_prober_t *p, const char *cid) {
  probe_t *s = find(p, cid, STARTUP);
  return s && !s->result;
}

static void noop_done(void *data, const cri_status_t *st) {}

/* ---- results ---- */

static void result(probe_t *pr, bool ok, const char *why) {
  agent_prober_t *p = pr->p;
  if (!p)
    return;
  if (ok) {
    pr->failures = 0;
    pr->successes++;
    if ((!pr->result || !pr->decided) && pr->successes >= pr->success_th) {
      pr->result = pr->decided = true;
      p->cbs.changed(p->cbs.data, pr->key);
    }
  } else {
    pr->successes = 0;
    pr->failures++;
    char msg[768];
    snprintf(msg, sizeof(msg), "%s probe failed: %s", KIND_NAME[pr->kind], why);
    p->cbs.event(p->cbs.data, pr->key, "Warning", "Unhealthy", msg);
    if ((pr->result || !pr->decided) && pr->failures >= pr->failure_th) {
      pr->result = false;
      pr->decided = true;
      if (pr->kind == READINESS) {
        p->cbs.changed(p->cbs.data, pr->key);
      } else {
        snprintf(msg, sizeof(msg), "Container %s failed %s probe, will be restarted", pr->cname,
                 pr->kind == LIVENESS ? "liveness" : "startup");
        p->cbs.event(p->cbs.data, pr->key, "Normal", "Killing", msg);
        cri_stop_container(p->cri, pr->cid, pr->grace, noop_done, NULL);
        if (!cJSON_GetObjectItemCaseSensitive(p->killed, pr->cid))
          cJSON_AddTrueToObject(p->killed, pr->cid);
        /* The container's next instance gets new probes after its sync. */
        char key[600];
        snprintf(key, sizeof(key), "%s", pr->key);
        for (probe_t *q = p->probes, *next; q; q = next) {
          next = q->next;
          if (!strcmp(q->cid, pr->cid) && q != pr)
            probe_free(q);
        }
        probe_free(pr);
        p->cbs.changed(p->cbs.data, key);
        return;
      }
    }
  }
  ev_timer_set(&pr->timer, pr->period, 0.0);
  ev_timer_start(p->loop, &pr->timer);
}

/* ---- exec ---- */

static void exec_done(void *data, const cri_status_t *st, const cri_exec_result_t *resp) {
  probe_t *pr = data;
  pr->exec_busy = false;
  if (pr->dead) {
    probe_free(pr);
    return;
  }
  if (st->code != CRI_OK) {
    result(pr, false, st->message[0] ? st->message : cri_code_name(st->code));
    return;
  }
  if (resp->exit_code == 0) {
    result(pr, true, "");
    return;
  }
  char why[512];
  int n = snprintf(why, sizeof(why), "command exited with %d", (int)resp->exit_code);
  size_t out = resp->stdout_len ? resp->stdout_len : resp->stderr_len;
  const uint8_t *text = resp->stdout_len ? resp->stdout_ : resp->stderr_;
  if (out && n > 0 && (size_t)n < sizeof(why) - 3)
    snprintf(why + n, sizeof(why) - (size_t)n, ": %.*s", (int)(out > 200 ? 200 : out),
             (const char *)text);
  result(pr, false, why);
}

static void run_exec(probe_t *pr) {
  const cJSON *cmd = json_get_path(pr->spec, "exec.command");
  int n = cJSON_GetArraySize(cmd);
  const char **argv = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*argv));
  int i = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, cmd) argv[i++] = cJSON_IsString(a) ? a->valuestring : "";
  cri_strv_t v = {argv, (size_t)n};
  int r = n > 0 ? cri_exec_sync(pr->p->cri, pr->cid, v, (int64_t)pr->timeout, exec_done, pr)
                : -EINVAL;
  free(argv);
  if (r == 0)
    pr->exec_busy = true;
  else
    result(pr, false, n > 0 ? strerror(-r) : "the exec probe has no command");
}

/* ---- tcpSocket and httpGet ---- */

/* The action's port: a number, or the name of one of the container's
 * ports (resolved when the probe is made). */
static int probe_port(const cJSON *container, const cJSON *port) {
  if (cJSON_IsNumber(port))
    return (int)port->valuedouble;
  if (!cJSON_IsString(port))
    return -1;
  const cJSON *cp;
  cJSON_ArrayForEach(cp, cJSON_GetObjectItemCaseSensitive(container, "ports")) {
    const char *name = json_str(cp, "name");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(cp, "containerPort");
    if (name && !strcmp(name, port->valuestring) && cJSON_IsNumber(num))
      return (int)num->valuedouble;
  }
  return -1;
}

/* A tcpSocket or httpGet probe that got no answer, in upstream's words:
 * Go's error, behind `Get "URL": ` for httpGet ("Get
 * \"http://10.42.0.5:8080/healthz\": dial tcp 10.42.0.5:8080: connect:
 * connection refused"). */
static void io_fail(probe_t *pr, const char *reason) {
  char why[1024];
  const cJSON *http = cJSON_GetObjectItemCaseSensitive(pr->spec, "httpGet");
  if (http) {
    const char *scheme = json_str(http, "scheme"), *path = json_str(http, "path");
    snprintf(why, sizeof(why), "Get \"%s://%s:%d%s\": %s", scheme && !strcmp(scheme, "HTTPS") ? "https" : "http",
             pr->ip, pr->port, path ? path : "", reason);
  } else {
    snprintf(why, sizeof(why), "%s", reason);
  }
  close_socket(pr);
  result(pr, false, why);
}

static void dial_fail(probe_t *pr, int err) {
  char why[300];
  goerr_dial_msg(why, sizeof(why), pr->ip, pr->port, err);
  io_fail(pr, why);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  ssize_t n = write(*(int *)ctx, buf, len);
  if (n >= 0)
    return (int)n;
  return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_WRITE
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  ssize_t n = read(*(int *)ctx, buf, len);
  if (n >= 0)
    return (int)n;
  return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_READ
                                                 : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* A TLS session on pr's connected socket (the prober's shared config). */
static int tls_begin(probe_t *pr) {
  agent_prober_t *p = pr->p;
  if (!p->tls_ready) {
    static const char pers[] = "k3c-prober";
    mbedtls_entropy_init(&p->entropy);
    mbedtls_ctr_drbg_init(&p->drbg);
    mbedtls_ssl_config_init(&p->tls);
    p->tls_ready = true;
    if (mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func, &p->entropy,
                              (const unsigned char *)pers, sizeof(pers) - 1) != 0 ||
        mbedtls_ssl_config_defaults(&p->tls, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
      return -EIO;
    tls_conf_groups(&p->tls);
    mbedtls_ssl_conf_rng(&p->tls, mbedtls_ctr_drbg_random, &p->drbg);
    mbedtls_ssl_conf_authmode(&p->tls, MBEDTLS_SSL_VERIFY_NONE);
  }
  pr->ssl = xcalloc(1, sizeof(*pr->ssl));
  mbedtls_ssl_init(pr->ssl);
  if (mbedtls_ssl_setup(pr->ssl, &p->tls) != 0)
    return -EIO;
  mbedtls_ssl_set_bio(pr->ssl, &pr->fd, bio_send, bio_recv, NULL);
  return 0;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  probe_t *pr = (probe_t *)((char *)w - offsetof(probe_t, io));
  bool http = cJSON_GetObjectItemCaseSensitive(pr->spec, "httpGet") != NULL;
  if (!pr->sent) {
    if (!pr->connected) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        dial_fail(pr, -err);
        return;
      }
      pr->connected = true;
      if (!http) {
        close_socket(pr);
        result(pr, true, "");
        return;
      }
      const char *scheme = json_str(pr->spec, "httpGet.scheme");
      if (scheme && !strcmp(scheme, "HTTPS") && tls_begin(pr) < 0) {
        io_fail(pr, "tls: cannot set up TLS");
        return;
      }
    }
    if (pr->ssl) {
      int m = mbedtls_ssl_handshake(pr->ssl);
      if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE) {
        ev_io_stop(loop, &pr->io);
        ev_io_set(&pr->io, pr->fd, m == MBEDTLS_ERR_SSL_WANT_READ ? EV_READ : EV_WRITE);
        ev_io_start(loop, &pr->io);
        return;
      }
      if (m != 0) {
        char e[128], why[160];
        mbedtls_strerror(m, e, sizeof(e));
        snprintf(why, sizeof(why), "tls: %s", e);
        io_fail(pr, why);
        return;
      }
    }
    const char *path = json_str(pr->spec, "httpGet.path");
    char req[1536];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.32\r\n"
                     "Accept: */*\r\n",
                     path && path[0] ? path : "/", pr->ip, pr->port);
    const cJSON *h;
    cJSON_ArrayForEach(h, json_get_path(pr->spec, "httpGet.httpHeaders")) {
      const char *hn = json_str(h, "name"), *hv = json_str(h, "value");
      if (hn && hv && n > 0 && (size_t)n < sizeof(req))
        n += snprintf(req + n, sizeof(req) - (size_t)n, "%s: %s\r\n", hn, hv);
    }
    if (n > 0 && (size_t)n < sizeof(req))
      n += snprintf(req + n, sizeof(req) - (size_t)n, "Connection: close\r\n\r\n");
    if (n <= 0 || (size_t)n >= sizeof(req) ||
        (pr->ssl ? mbedtls_ssl_write(pr->ssl, (const unsigned char *)req, (size_t)n)
                 : write(pr->fd, req, (size_t)n)) != n) {
      io_fail(pr, "write: broken pipe");
      return;
    }
    pr->sent = true;
    ev_io_stop(loop, &pr->io);
    ev_io_set(&pr->io, pr->fd, EV_READ);
    ev_io_start(loop, &pr->io);
    return;
  }
  ssize_t got;
  if (pr->ssl) {
    int m = mbedtls_ssl_read(pr->ssl, (unsigned char *)pr->buf + pr->len,
                             sizeof(pr->buf) - 1 - pr->len);
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      return;
    got = m == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 0 : m;
    if (got < 0)
      errno = EPROTO;
  } else {
    got = read(pr->fd, pr->buf + pr->len, sizeof(pr->buf) - 1 - pr->len);
  }
  if (got > 0)
    pr->len += (size_t)got;
  pr->buf[pr->len] = 0;
  char *eol = strstr(pr->buf, "\r\n");
  if (!eol && got > 0 && pr->len < sizeof(pr->buf) - 1)
    return;
  int code = 0;
  if (sscanf(pr->buf, "HTTP/%*d.%*d %d", &code) != 1) {
    char why[160];
    if (got < 0)
      snprintf(why, sizeof(why), "read: %s", errno == ECONNRESET ? "connection reset by peer" : strerror(errno));
    else
      snprintf(why, sizeof(why), "%s", pr->len ? "malformed HTTP response" : "EOF");
    io_fail(pr, why);
    return;
  }
  close_socket(pr);
  if (code >= 200 && code < 400) {
    result(pr, true, "");
  } else {
    char why[64];
    snprintf(why, sizeof(why), "HTTP probe failed with statuscode: %d", code);
    result(pr, false, why);
  }
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  probe_t *pr = (probe_t *)((char *)w - offsetof(probe_t, deadline));
  if (cJSON_GetObjectItemCaseSensitive(pr->spec, "httpGet"))
    io_fail(pr, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
  else
    dial_fail(pr, -ETIMEDOUT);
}

static void run_socket(probe_t *pr, const cJSON *action) {
  int port = pr->port;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)(port > 0 ? port : 0));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, pr->ip, &sa.sin_addr) != 1) {
    result(pr, false, port <= 0 ? "the probe's port is not a number or a port of the container"
                                : "the pod has no IPv4 address yet");
    return;
  }
  pr->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (pr->fd < 0) {
    result(pr, false, strerror(errno));
    return;
  }
  pr->sent = false;
  pr->connected = false;
  pr->len = 0;
  pr->buf[0] = 0;
  if (connect(pr->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
    dial_fail(pr, -errno);
    return;
  }
  ev_io_init(&pr->io, io_cb, pr->fd, EV_WRITE);
  ev_io_start(pr->p->loop, &pr->io);
  ev_timer_set(&pr->deadline, pr->timeout, 0.0);
  ev_timer_start(pr->p->loop, &pr->deadline);
}

static void grpc_done(void *data, bool ok, const char *why) {
  probe_t *pr = data;
  pr->grpc = NULL;
  result(pr, ok, why);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  probe_t *pr = (probe_t *)((char *)w - offsetof(probe_t, timer));
  if (pr->kind != STARTUP && starting(pr->p, pr->cid)) {
    ev_timer_set(&pr->timer, 1.0, 0.0);
    ev_timer_start(loop, &pr->timer);
    return;
  }
  const cJSON *action;
  if (cJSON_GetObjectItemCaseSensitive(pr->spec, "exec"))
    run_exec(pr);
  else if ((action = cJSON_GetObjectItemCaseSensitive(pr->spec, "tcpSocket")) ||
           (action = cJSON_GetObjectItemCaseSensitive(pr->spec, "httpGet"))) {
    const char *scheme = json_str(action, "scheme");
    if (scheme && strcmp(scheme, "HTTP") && strcmp(scheme, "HTTPS"))
      result(pr, false, "the httpGet probe's scheme must be HTTP or HTTPS");
    else
      run_socket(pr, action);
  } else if ((action = cJSON_GetObjectItemCaseSensitive(pr->spec, "grpc"))) {
    pr->grpc = agent_grpcprobe_start(loop, pr->ip, pr->port, json_str(action, "service"),
                                     pr->timeout, grpc_done, pr);
    if (!pr->grpc)
      result(pr, false, strerror(errno));
  } else
    result(pr, false, "the probe has no exec, httpGet, tcpSocket or grpc action");
}

/* ---- tracking ---- */

static void add(agent_prober_t *p, const cJSON *pod, const cJSON *spec, kind_t kind,
                const agent_rt_container_t *c, const char *ip) {
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(spec, KIND_FIELD[kind]);
  if (!cJSON_IsObject(ps) || find(p, c->id, kind) ||
      cJSON_GetObjectItemCaseSensitive(p->killed, c->id))
    return;
  probe_t *pr = xcalloc(1, sizeof(*pr));
  pr->p = p;
  pr->kind = kind;
  pr->fd = -1;
  snprintf(pr->uid, sizeof(pr->uid), "%s", json_str(pod, "metadata.uid"));
  snprintf(pr->key, sizeof(pr->key), "%s/%s", json_str(pod, "metadata.namespace"),
           json_str(pod, "metadata.name"));
  snprintf(pr->cid, sizeof(pr->cid), "%s", c->id);
  snprintf(pr->cname, sizeof(pr->cname), "%s", c->name);
  snprintf(pr->ip, sizeof(pr->ip), "%s", ip ? ip : "");
  pr->spec = cJSON_Duplicate(ps, 1);
  const cJSON *action = cJSON_GetObjectItemCaseSensitive(ps, "tcpSocket");
  if (!action)
    action = cJSON_GetObjectItemCaseSensitive(ps, "httpGet");
  if (!action)
    action = cJSON_GetObjectItemCaseSensitive(ps, "grpc"); /* port: a number only */
  pr->port = action ? probe_port(spec, cJSON_GetObjectItemCaseSensitive(action, "port")) : 0;
  pr->grace = agent_podspec_grace_seconds(pod);
  const cJSON *pg = cJSON_GetObjectItemCaseSensitive(ps, "terminationGracePeriodSeconds");
  if (kind != READINESS && cJSON_IsNumber(pg) && pg->valuedouble >= 0)
    pr->grace = (int64_t)pg->valuedouble; /* the probe's own, as upstream */
  pr->period = num(ps, "periodSeconds", 10, 1);
  pr->timeout = num(ps, "timeoutSeconds", 1, 1);
  pr->success_th = (int)num(ps, "successThreshold", 1, 1);
  pr->failure_th = (int)num(ps, "failureThreshold", 3, 1);
  pr->result = kind == LIVENESS; /* alive until shown otherwise; not ready, not started */
  double delay = num(ps, "initialDelaySeconds", 0, 0);
  double ran = c->started_at ? (double)(time(NULL) - (time_t)(c->started_at / 1000000000LL)) : 0;
  double first = delay - ran > 0 ? delay - ran : 0;
  ev_timer_init(&pr->timer, timer_cb, first, 0.0);
  ev_timer_init(&pr->deadline, deadline_cb, pr->timeout, 0.0);
  pr->next = p->probes;
  if (pr->next)
    pr->next->prev = pr;
  p->probes = pr;
  ev_timer_start(p->loop, &pr->timer);
}

void agent_prober_update(agent_prober_t *p, const cJSON *pod, const char *pod_ip,
                         const agent_rt_container_t *cs, size_t n) {
  const char *uid = json_str(pod, "metadata.uid");
  if (!uid)
    return;
  /* Probes of containers no longer running go. */
  for (probe_t *pr = p->probes, *next; pr; pr = next) {
    next = pr->next;
    if (strcmp(pr->uid, uid))
      continue;
    bool running = false;
    for (size_t i = 0; i < n && !running; i++)
      running = cs[i].state == CRI_CONTAINER_RUNNING && !strcmp(cs[i].id, pr->cid);
    if (!running)
      probe_free(pr);
  }
  /* Killed containers that have exited need no more remembering. */
  for (cJSON *k = p->killed ? p->killed->child : NULL, *next; k; k = next) {
    next = k->next;
    bool gone = true;
    for (size_t i = 0; i < n && gone; i++)
      gone = !(cs[i].state == CRI_CONTAINER_RUNNING && !strcmp(cs[i].id, k->string));
    bool ours = false;
    for (size_t i = 0; i < n && !ours; i++)
      ours = !strcmp(cs[i].id, k->string);
    if (gone && ours)
      cJSON_DeleteItemFromObjectCaseSensitive(p->killed, k->string);
  }
  if (json_get_path(pod, "metadata.deletionTimestamp"))
    return;
  for (size_t i = 0; i < n; i++) {
    if (cs[i].state != CRI_CONTAINER_RUNNING || cs[i].init)
      continue;
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers")) {
      const char *name = json_str(c, "name");
      if (!name || strcmp(name, cs[i].name))
        continue;
      for (int k = STARTUP; k <= READINESS; k++)
        add(p, pod, c, (kind_t)k, &cs[i], pod_ip);
    }
  }
}

void agent_prober_forget(agent_prober_t *p, const char *uid) {
  for (probe_t *pr = p->probes, *next; pr; pr = next) {
    next = pr->next;
    if (!strcmp(pr->uid, uid))
      probe_free(pr);
  }
}

cJSON *agent_prober_results(const agent_prober_t *p, const char *uid) {
  cJSON *out = cJSON_CreateObject();
  for (const probe_t *pr = p->probes; pr; pr = pr->next) {
    if (strcmp(pr->uid, uid))
      continue;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(out, pr->cid);
    if (!e) {
      e = cJSON_AddObjectToObject(out, pr->cid);
      cJSON_AddBoolToObject(e, "ready", true);
      cJSON_AddBoolToObject(e, "started", true);
    }
    if (pr->kind == READINESS && !pr->result)
      cJSON_ReplaceItemInObjectCaseSensitive(e, "ready", cJSON_CreateFalse());
    if (pr->kind == STARTUP && !pr->result) {
      cJSON_ReplaceItemInObjectCaseSensitive(e, "started", cJSON_CreateFalse());
      cJSON_ReplaceItemInObjectCaseSensitive(e, "ready", cJSON_CreateFalse());
    }
  }
  return out;
}

agent_prober_t *agent_prober_new(struct ev_loop *loop, cri_client_t *cri,
                                 const agent_prober_cbs_t *cbs) {
  agent_prober_t *p = xcalloc(1, sizeof(*p));
  p->loop = loop;
  p->cri = cri;
  p->cbs = *cbs;
  p->killed = cJSON_CreateObject();
  return p;
}

void agent_prober_free(agent_prober_t *p) {
  if (!p)
    return;
  while (p->probes)
    probe_free(p->probes);
  cJSON_Delete(p->killed);
  if (p->tls_ready) {
    mbedtls_ssl_config_free(&p->tls);
    mbedtls_ctr_drbg_free(&p->drbg);
    mbedtls_entropy_free(&p->entropy);
  }
  free(p);
}
