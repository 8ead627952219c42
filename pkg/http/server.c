/* The HTTPS server: a listener and its connections on one libev loop, TLS
 * through mbedTLS, HTTP/1.1 (RFC 9112) with keep-alive, in-order pipelining,
 * chunked bodies in both directions, limits and timeouts. The design is in
 * docs/HTTP.md: API calls never do socket I/O themselves; they queue bytes
 * and arm the watcher, and the connection's io callback does the work. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "http/dial.h"
#include "http/quota.h"
#include "http/parser.h"
#include "http/response.h"
#include "http/url.h"
#include "tls/conf.h"
#include "util/errbuf.h"
#include "util/alloc.h"
#include "util/offload.h"
#include "util/buf.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define READ_CHUNK 16384
#define WRITE_CHUNK 16384
#define OUT_LIMIT ((size_t)512 << 20)   /* hard cap on queued response bytes */
#define LINGER_SECONDS 2.0
#define HANDSHAKE_SECONDS 10.0
#define HANDSHAKE_GRACE 2.0 /* a handshake younger than this is not evicted */
#define HEADERS_EXTRA_MAX (64 << 10)
#define PIPELINE_BATCH 8 /* requests one connection may dispatch per loop iteration */
/* Requests one client (its user once known, else its address) may dispatch
 * per loop iteration over all its connections: one client with many
 * connections gets the same share of the loop as a client with one. */
#define CLIENT_BATCH 8

typedef struct conn conn_t;

typedef enum { REQ_RECEIVING, REQ_HANDLING, REQ_STREAMING } req_state_t;
typedef enum { CONN_HANDSHAKE, CONN_ACTIVE, CONN_LINGER } conn_state_t;

typedef struct {
  char *name;
  char *value;
} hdr_t;

struct http_req {
  int status;   /* of the response begun, 0 before */
  conn_t *conn; /* NULL once the client is gone */
  req_state_t state;
  char *method, *path, *raw_query;
  http_query_t query;
  bool query_ok;
  hdr_t *headers;
  size_t n_headers;
  buf_t body;
  bool chunked;
  uint64_t body_left; /* Content-Length bytes still to read */
  http_chunked_t chunk;
  char *cn;
  char **orgs; /* NULL-terminated, never NULL */
  char *cert_error; /* why the client certificate was refused, or NULL */
  char *proxy_cn;   /* a front-proxy certificate's CN (then cn is NULL), or NULL */
  char remote[64];
  int minor;
  bool keep_alive;
  bool is_head;
  bool gone;
  buf_t resp_headers;
  http_close_cb close_cb;
  void *close_data;
  http_drain_cb drain_cb;
  void *drain_data;
  bool drain_wanted;
  const char ***query_all; /* arrays handed out by http_req_query_all */
  size_t n_query_all;
  /* in-flight accounting (quota.h): what this request is counted against */
  http_client_t *in_addr;
  http_client_t *in_user;
  bool droppable; /* a stream the budget may cut (watches) */
  void *app;                 /* http_req_set_app */
  void (*app_free)(void *);
  /* in-process requests (http_req_local_new): no conn, output to the sink */
  bool local;
  const http_local_sink_t *sink; /* NULL once cancelled */
  void *sink_data;
};

struct conn {
  http_server_t *srv;
  conn_t *prev, *next;
  int fd;
  ev_io io;
  ev_timer timer;
  int io_events;
  conn_state_t state;
  mbedtls_ssl_context ssl;
  char remote[64];
  char *cn;
  char **orgs;
  char *cert_error; /* a refused client certificate: why (the request is anonymous) */
  char *proxy_cn;   /* a front-proxy certificate's CN (cn is NULL then) */
  buf_t in;
  size_t in_off;
  buf_t out;
  size_t out_off;
  http_req_t *cur;
  int busy;
  bool processing;
  bool read_paused;
  bool out_paused; /* pipelined requests wait: our output is above the mark */
  bool resume;     /* pipelined requests wait for the next loop iteration (fairness) */
  bool want_write; /* TLS needs the socket writable to progress */
  bool eof;
  bool want_close; /* close once the output is flushed */
  bool closing;    /* tear down now */
  http_client_t *addr; /* source address entry, always set */
  http_client_t *user; /* authenticated user entry; NULL = unauthenticated */
  bool anon;           /* handshake done without a client cert, no user yet (the pool) */
  double created;
  double req_start;  /* when the first byte of the current request arrived */
  double last_active;
  double deadline;
  double linger_until;
  /* upgraded connections */
  bool upgraded;
  http_upgrade_data_cb up_data;
  http_upgrade_close_cb up_close;
  void *up_ud;
  bool up_paused;                /* http_upgrade_pause: input waits in c->in */
  http_upgrade_drain_cb up_drain; /* once, when out_queued <= up_low */
  size_t up_low;
};

struct http_server {
  struct ev_loop *loop;
  int fd;
  ev_io accept_io;
  ev_timer accept_pause;
  tls_server_conf_t *tls;
  http_handler_cb handler;
  void *data;
  size_t max_header;
  size_t max_body;
  size_t offload_min;
  double idle_timeout;
  double request_timeout;
  http_quota_t lim;
  http_clients_t clients;
  int n_conns;
  int n_unauth;
  size_t out_total;  /* queued output of every connection */
  bool over_budget;
  ev_timer budget_timer; /* deferred budget enforcement and wake-ups */
  ev_timer resume_timer; /* next batch of pipelined requests (conn_t.resume) */
  conn_t *conns;
};

static void conn_update(conn_t *c);
static void conn_abort(conn_t *c);


static void conn_enter(conn_t *c) { c->busy++; }
static void conn_leave(conn_t *c) {
  if (--c->busy == 0)
    conn_update(c);
}

static bool handler_has(const conn_t *c) { return c->cur && c->cur->state != REQ_RECEIVING; }

/* ---- per-client accounting (quota.h) ---- */

/* Attribute c to an authenticated user (from its client cert or a token the
 * API accepted). Returns false if that user has too many connections. */
static bool conn_set_user(conn_t *c, const char *name) {
  http_server_t *s = c->srv;
  char key[320];
  snprintf(key, sizeof(key), "u:%s", name);
  if (c->user && !strcmp(c->user->key, key))
    return c->user->conns <= s->lim.max_conns_per_user;
  http_client_t *u = http_clients_get(&s->clients, key);
  u->conns++;
  if (c->user) {
    c->user->conns--;
    http_clients_release(&s->clients, c->user);
  } else if (c->anon) {
    s->n_unauth--;
    c->addr->unauth--;
    c->anon = false;
  }
  c->user = u;
  return u->conns <= s->lim.max_conns_per_user;
}

/* Stop counting r as in flight (finished, gone, or long-running). */
static void req_uncount(http_server_t *s, http_req_t *r) {
  if (r->in_addr) {
    r->in_addr->inflight--;
    http_clients_release(&s->clients, r->in_addr);
    r->in_addr = NULL;
  }
  if (r->in_user) {
    r->in_user->inflight--;
    http_clients_release(&s->clients, r->in_user);
    r->in_user = NULL;
  }
}

/* Close the oldest anonymous connection (of addr, or of anyone) that no
 * handler is working for and that is not a fresh handshake (which may yet
 * show a client certificate). Returns false if there is none. */
static bool evict_unauth(http_server_t *s, const http_client_t *addr, double now) {
  conn_t *victim = NULL;
  for (conn_t *c = s->conns; c; c = c->next) {
    if (c->closing || c->user || c->busy || handler_has(c) || c->upgraded)
      continue;
    if (c->state == CONN_HANDSHAKE && now - c->created < HANDSHAKE_GRACE)
      continue;
    if (addr && c->addr != addr)
      continue;
    if (!victim || c->created < victim->created)
      victim = c;
  }
  if (!victim)
    return false;
  conn_enter(victim);
  conn_abort(victim);
  conn_leave(victim);
  return true;
}

static const char too_many_body[] = "Too many requests, please try again later.\n";

static void respond_too_many(http_req_t *r) {
  /* As upstream's max-in-flight filter: plain text, retry after a second. */
  http_req_add_header(r, "Retry-After", "1");
  http_req_add_header(r, "X-Content-Type-Options", "nosniff");
  http_respond(r, 429, "text/plain; charset=utf-8", too_many_body, sizeof(too_many_body) - 1);
}

/* ---- requests ---- */

static void free_strv(char **v) {
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

static char **dup_strv(char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  char **out = xcalloc(n + 1, sizeof(*out));
  for (size_t i = 0; i < n; i++)
    out[i] = xstrdup(v[i]);
  return out;
}

static void req_free(http_req_t *r) {
  if (!r)
    return;
  /* first: the app's free may still look at the request */
  if (r->app && r->app_free)
    r->app_free(r->app);
  r->app = NULL;
  free(r->method);
  free(r->path);
  free(r->raw_query);
  http_query_done(&r->query);
  for (size_t i = 0; i < r->n_headers; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  buf_done(&r->body);
  free(r->cn);
  free_strv(r->orgs);
  free(r->cert_error);
  free(r->proxy_cn);
  buf_done(&r->resp_headers);
  for (size_t i = 0; i < r->n_query_all; i++)
    free(r->query_all[i]);
  free(r->query_all);
  if (r->app && r->app_free)
    r->app_free(r->app);
  free(r);
}

static void req_add_header(http_req_t *r, const char *name, size_t nlen, const char *value,
                           size_t vlen) {
  for (size_t i = 0; i < r->n_headers; i++) {
    if (strlen(r->headers[i].name) == nlen && !strncasecmp(r->headers[i].name, name, nlen)) {
      char *joined = xasprintf("%s, %.*s", r->headers[i].value, (int)vlen, value);
      free(r->headers[i].value);
      r->headers[i].value = joined;
      return;
    }
  }
  r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof(*r->headers));
  r->headers[r->n_headers].name = xstrndup(name, nlen);
  r->headers[r->n_headers].value = xstrndup(value, vlen);
  r->n_headers++;
}

/* Does a comma-separated header value contain token (case-insensitive)? */
static bool header_has_token(const char *value, const char *token) {
  if (!value)
    return false;
  size_t tl = strlen(token);
  const char *p = value;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    const char *te = e;
    while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
      te--;
    if ((size_t)(te - p) == tl && !strncasecmp(p, token, tl))
      return true;
    p = e;
  }
  return false;
}

/* Build a request from a parsed head. Returns 0 or an HTTP error status. */
static int req_new(conn_t *c, const http_head_t *h, http_req_t **ret) {
  http_server_t *s = c->srv;
  http_req_t *r = xcalloc(1, sizeof(*r));
  int status = 0;
  r->conn = c;
  r->state = REQ_RECEIVING;
  r->method = xstrndup(h->method, h->method_len);
  r->minor = h->minor_version;
  r->is_head = !strcmp(r->method, "HEAD");
  snprintf(r->remote, sizeof(r->remote), "%s", c->remote);
  r->cn = c->cn ? xstrdup(c->cn) : NULL;
  r->orgs = dup_strv(c->orgs);
  r->cert_error = c->cert_error ? xstrdup(c->cert_error) : NULL;
  r->proxy_cn = c->proxy_cn ? xstrdup(c->proxy_cn) : NULL;
  buf_init(&r->body, s->max_body);
  buf_init(&r->resp_headers, HEADERS_EXTRA_MAX);
  for (size_t i = 0; i < h->n_headers; i++)
    req_add_header(r, h->headers[i].name, h->headers[i].name_len, h->headers[i].value,
                   h->headers[i].value_len);
  if (http_target_split(h->target, h->target_len, &r->path, &r->raw_query) < 0) {
    status = 400;
    goto out;
  }
  r->query_ok = http_query_parse(r->raw_query, &r->query) == 0;

  const char *conn_hdr = http_req_header(r, "Connection");
  if (r->minor >= 1)
    r->keep_alive = !header_has_token(conn_hdr, "close");
  else
    r->keep_alive = header_has_token(conn_hdr, "keep-alive");

  const char *te = http_req_header(r, "Transfer-Encoding");
  const char *cl = http_req_header(r, "Content-Length");
  if (te) {
    /* Only "chunked" is supported, and it must be last (RFC 9112 6.3). */
    if (strcasecmp(te, "chunked") != 0) {
      status = 501;
      goto out;
    }
    if (cl) { /* both: a smuggling attempt; refuse and close */
      status = 400;
      goto out;
    }
    r->chunked = true;
  } else if (cl) {
    char *end = NULL;
    errno = 0;
    if (!*cl || *cl == '-' || *cl == '+') {
      status = 400;
      goto out;
    }
    unsigned long long v = strtoull(cl, &end, 10);
    if (errno || *end) {
      status = 400; /* includes "5, 5" from repeated fields */
      goto out;
    }
    if (v > s->max_body) {
      status = 413;
      goto out;
    }
    r->body_left = v;
  }
out:
  if (status) {
    r->conn = NULL;
    req_free(r);
    return status;
  }
  *ret = r;
  return 0;
}

/* Feed body bytes; returns bytes consumed, or a negative HTTP status. */
static long req_feed_body(http_req_t *r, const char *p, size_t len, bool *done) {
  if (r->chunked) {
    long n = http_chunked_decode(&r->chunk, p, len, &r->body, done);
    if (n == -E2BIG)
      return -413;
    if (n < 0)
      return -400;
    return n;
  }
  size_t n = len < r->body_left ? len : (size_t)r->body_left;
  if (n && buf_append(&r->body, p, n) < 0)
    return -413;
  r->body_left -= n;
  *done = r->body_left == 0;
  return (long)n;
}

/* ---- queued output ---- */

static size_t out_queued(const conn_t *c) { return c->out.len - c->out_off; }

static void budget_check_soon(http_server_t *s) {
  if (!ev_is_active(&s->budget_timer)) {
    ev_timer_set(&s->budget_timer, 0, 0);
    ev_timer_start(s->loop, &s->budget_timer);
  }
}

static int out_append(conn_t *c, const void *data, size_t len) {
  http_server_t *s = c->srv;
  if (c->out_off > 0 && c->out_off == c->out.len) {
    c->out_off = 0;
    buf_reset(&c->out);
  }
  int e = buf_append(&c->out, data, len);
  if (e == 0) {
    s->out_total += len;
    if (!s->over_budget && s->out_total > s->lim.out_budget)
      budget_check_soon(s); /* enforcement runs outside any handler's call */
  }
  return e;
}

/* May c produce more output now (parse its next request, feed a stream)? */
static bool may_produce(conn_t *c) {
  http_server_t *s = c->srv;
  bool was_over = s->over_budget;
  bool ok = http_quota_may_produce(&s->lim, out_queued(c), s->out_total, &s->over_budget);
  if (was_over != s->over_budget)
    budget_check_soon(s);
  return ok;
}

/* An error response produced by the server itself; the connection closes
 * after it (the request stream cannot be trusted to continue). */
static void conn_error(conn_t *c, int status) {
  char body[128];
  int n = snprintf(body, sizeof(body), "%d %s\n", status, http_status_reason(status));
  buf_t head;
  buf_init(&head, 1024);
  http_response_head_t h = {.status = status,
                            .minor_version = 1,
                            .content_type = "text/plain; charset=utf-8",
                            .content_length = n,
                            .close = true};
  http_response_head_write(&head, &h);
  out_append(c, head.data, head.len);
  out_append(c, body, (size_t)n);
  buf_done(&head);
  c->want_close = true;
}

/* ---- TLS socket I/O (mbedTLS BIO callbacks) ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  conn_t *c = ctx;
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return (int)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  if (errno == EPIPE || errno == ECONNRESET)
    return MBEDTLS_ERR_NET_CONN_RESET;
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  conn_t *c = ctx;
  ssize_t n = recv(c->fd, buf, len, 0);
  if (n >= 0)
    return (int)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return MBEDTLS_ERR_SSL_WANT_READ;
  if (errno == ECONNRESET)
    return MBEDTLS_ERR_NET_CONN_RESET;
  return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void conn_handshake(conn_t *c) {
  int r = mbedtls_ssl_handshake(&c->ssl);
  c->want_write = false;
  if (r == MBEDTLS_ERR_SSL_WANT_READ)
    return;
  if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
    c->want_write = true;
    return;
  }
  if (r != 0) {
    conn_abort(c);
    return;
  }
  char *cn = NULL;
  char **orgs = NULL;
  char why[160] = "";
  if (tls_peer_identity(&c->ssl, &cn, &orgs, why, sizeof(why)) < 0) {
    /* A certificate was offered but did not verify: the connection is
     * anonymous and the handler answers 401 saying why (the TLS alert
     * Go's VerifyClientCertIfGiven sends tells the user nothing). */
    c->cert_error = xstrdup(why);
    cn = NULL;
    orgs = NULL;
  }
  if (cn && tls_peer_is_proxy(c->srv->tls, &c->ssl)) {
    /* the front proxy speaks for others (X-Remote-User): it is no user
     * itself, for whoever reads http_req_client_cn */
    c->proxy_cn = cn;
    cn = NULL;
    free_strv(orgs);
    orgs = NULL;
    conn_set_user(c, c->proxy_cn);
    c->orgs = xcalloc(1, sizeof(char *));
    c->state = CONN_ACTIVE;
    c->last_active = ev_now(c->srv->loop);
    return;
  }
  c->cn = cn;
  c->orgs = orgs;
  if (cn && cn[0]) {
    conn_set_user(c, cn); /* over its limit: its requests get 429 */
  } else {
    c->anon = true;
    c->srv->n_unauth++;
    c->addr->unauth++;
  }
  c->state = CONN_ACTIVE;
  c->last_active = ev_now(c->srv->loop);
}

static void conn_read(conn_t *c) {
  http_server_t *s = c->srv;
  size_t high = s->max_header + READ_CHUNK;
  while (!c->closing && !c->eof) {
    if (c->in_off > 0) {
      memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
      c->in.len -= c->in_off;
      c->in.data[c->in.len] = '\0';
      c->in_off = 0;
    }
    if (c->in.len >= high) {
      c->read_paused = true;
      return;
    }
    char tmp[READ_CHUNK];
    int n = mbedtls_ssl_read(&c->ssl, (unsigned char *)tmp, sizeof(tmp));
    if (n > 0) {
      if (buf_append(&c->in, tmp, (size_t)n) < 0) {
        conn_abort(c);
        return;
      }
      c->last_active = ev_now(s->loop);
      continue;
    }
    if (n == MBEDTLS_ERR_SSL_WANT_READ)
      break;
    if (n == MBEDTLS_ERR_SSL_WANT_WRITE) {
      c->want_write = true;
      break;
    }
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_SSL_CONN_EOF) {
      c->eof = true;
      break;
    }
    conn_abort(c);
    return;
  }
  c->read_paused = false;
}

static void conn_write(conn_t *c) {
  bool progress = false;
  while (!c->closing && out_queued(c) > 0) {
    size_t n = out_queued(c);
    if (n > WRITE_CHUNK)
      n = WRITE_CHUNK;
    int w = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->out.data + c->out_off, n);
    if (w > 0) {
      c->out_off += (size_t)w;
      c->srv->out_total -= (size_t)w;
      progress = true;
      continue;
    }
    if (w == MBEDTLS_ERR_SSL_WANT_WRITE || w == MBEDTLS_ERR_SSL_WANT_READ)
      break;
    conn_abort(c);
    return;
  }
  if (c->out_off == c->out.len) {
    c->out_off = 0;
    if (c->out.cap > (256 << 10))
      buf_done(&c->out); /* give a big response's memory back */
    else
      buf_reset(&c->out);
  }
  if (progress)
    c->last_active = ev_now(c->srv->loop);
  if (c->upgraded && c->up_drain && out_queued(c) <= c->up_low && !c->closing) {
    http_upgrade_drain_cb cb = c->up_drain;
    c->up_drain = NULL;
    cb((http_upgrade_t *)c, c->up_ud);
  }
  http_req_t *r = c->cur;
  if (r && r->state == REQ_STREAMING && r->drain_wanted && r->drain_cb &&
      out_queued(c) <= c->srv->lim.conn_out_mark / 4 && may_produce(c)) {
    r->drain_wanted = false;
    r->drain_cb(r, r->drain_data);
  }
}

typedef struct {
  http_server_t *srv;
  http_req_t *req;
} offload_job_t;

static void run_offloaded(void *data) {
  offload_job_t *j = data;
  j->srv->handler(j->req, j->srv->data);
  free(j);
}

/* Hand a received request to the handler: big bodies on the offload
 * worker (the next request of the connection waits for this one either
 * way), the rest right here. */
static void dispatch(http_server_t *s, http_req_t *r) {
  if (s->offload_min && r->body.len >= s->offload_min) {
    offload_job_t *j = xcalloc(1, sizeof(*j));
    j->srv = s;
    j->req = r;
    offload_submit(run_offloaded, j);
    return;
  }
  s->handler(r, s->data); /* may finish r before returning */
}

/* Parse and dispatch buffered requests, one at a time, in order. */
static void conn_process(conn_t *c) {
  http_server_t *s = c->srv;
  if (c->processing)
    return;
  c->processing = true;
  int dispatched = 0;
  while (c->state == CONN_ACTIVE && !c->closing && !c->want_close) {
    size_t avail = c->in.len - c->in_off;
    const char *p = c->in.data + c->in_off;
    if (c->upgraded) {
      if (avail && c->up_data && !c->up_paused) {
        c->in_off += avail;
        c->up_data((http_upgrade_t *)c, p, avail, c->up_ud);
        continue;
      }
      break;
    }
    if (c->cur && c->cur->state != REQ_RECEIVING)
      break; /* the handler has it; the next request waits its turn */
    if (!c->cur) {
      if (avail == 0)
        break;
      if (!may_produce(c)) {
        c->out_paused = true; /* resumes when the client has read enough */
        break;
      }
      c->out_paused = false;
      http_client_t *flow = c->user ? c->user : c->addr;
      unsigned iter = ev_iteration(s->loop);
      if (flow->batch_iter != iter) {
        flow->batch_iter = iter;
        flow->batch_n = 0;
      }
      if (dispatched == PIPELINE_BATCH || flow->batch_n >= CLIENT_BATCH) {
        /* Let other connections and clients have the loop: a client that
         * pipelines thousands of requests, on one connection or many, gets
         * a batch per loop iteration. */
        c->resume = true;
        break;
      }
      if (c->req_start == 0)
        c->req_start = ev_now(s->loop);
      http_head_t head;
      long n = http_parse_head(p, avail, s->max_header, &head);
      if (n == 0) {
        if (c->eof)
          c->want_close = true;
        break;
      }
      if (n < 0) {
        conn_error(c, n == -EMSGSIZE ? 431 : n == -EPROTONOSUPPORT ? 505 : 400);
        break;
      }
      http_req_t *r = NULL;
      int status = req_new(c, &head, &r);
      c->in_off += (size_t)n;
      if (status) {
        conn_error(c, status);
        break;
      }
      c->cur = r;
      const char *expect = http_req_header(r, "Expect");
      if (expect && !strcasecmp(expect, "100-continue") && (r->chunked || r->body_left > 0) &&
          r->minor >= 1)
        out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
      continue;
    }
    http_req_t *r = c->cur;
    bool done = r->chunked ? false : r->body_left == 0;
    if (!done) {
      if (avail == 0) {
        if (c->eof)
          c->want_close = true;
        break;
      }
      long n = req_feed_body(r, p, avail, &done);
      if (n < 0) {
        c->cur = NULL;
        r->conn = NULL;
        req_free(r);
        conn_error(c, (int)-n);
        break;
      }
      c->in_off += (size_t)n;
      if (!done)
        continue;
    }
    r->state = REQ_HANDLING;
    c->req_start = 0;
    dispatched++;
    (c->user ? c->user : c->addr)->batch_n++;
    r->in_addr = c->addr;
    if (!http_quota_inflight_add(&s->lim, c->addr, false, false)) {
      respond_too_many(r);
      continue;
    }
    dispatch(s, r);
  }
  c->processing = false;
}

/* ---- connection lifetime ---- */

static void conn_free(conn_t *c) {
  http_server_t *s = c->srv;
  ev_io_stop(s->loop, &c->io);
  ev_timer_stop(s->loop, &c->timer);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->n_conns--;
  s->out_total -= out_queued(c);
  if (c->user) {
    c->user->conns--;
    http_clients_release(&s->clients, c->user);
  } else if (c->anon) {
    s->n_unauth--;
    c->addr->unauth--;
  }
  c->addr->conns--;
  http_clients_release(&s->clients, c->addr);
  mbedtls_ssl_free(&c->ssl);
  if (c->fd >= 0)
    close(c->fd);
  buf_done(&c->in);
  buf_done(&c->out);
  free(c->cn);
  free_strv(c->orgs);
  free(c->cert_error);
  free(c->proxy_cn);
  free(c);
}

/* Tear the connection down; the current request (if the handler has it)
 * becomes "gone" and its close callback runs. Frees c when not busy. */
static void conn_abort(conn_t *c) {
  if (c->closing)
    return;
  c->closing = true;
  conn_enter(c);
  http_req_t *r = c->cur;
  c->cur = NULL;
  if (r) {
    req_uncount(c->srv, r);
    r->conn = NULL;
    r->gone = true;
    if (r->state == REQ_RECEIVING) {
      req_free(r); /* the handler never saw it */
    } else if (r->close_cb) {
      http_close_cb cb = r->close_cb;
      r->close_cb = NULL;
      cb(r, r->close_data); /* may finish (and free) r */
    }
  }
  if (c->upgraded && c->up_close) {
    http_upgrade_close_cb cb = c->up_close;
    c->up_close = NULL;
    c->up_data = NULL;
    cb((http_upgrade_t *)c, c->up_ud);
  }
  conn_leave(c);
}

static void set_deadline(conn_t *c, double at) {
  http_server_t *s = c->srv;
  if (at == c->deadline && (at == 0) == !ev_is_active(&c->timer))
    return;
  ev_timer_stop(s->loop, &c->timer);
  c->deadline = at;
  if (at > 0) {
    double d = at - ev_now(s->loop);
    ev_timer_set(&c->timer, d > 0 ? d : 0, 0);
    ev_timer_start(s->loop, &c->timer);
  }
}

/* After any activity: free, start closing, or re-arm watchers and timers. */
static void conn_update(conn_t *c) {
  http_server_t *s = c->srv;
  if (c->closing) {
    conn_free(c);
    return;
  }
  double now = ev_now(s->loop);
  if (c->state == CONN_ACTIVE && out_queued(c) == 0) {
    bool handler_busy = c->cur && c->cur->state != REQ_RECEIVING;
    if (c->want_close || (c->eof && !handler_busy && !c->upgraded)) {
      /* Lingering close: say goodbye, stop sending, and read (and drop)
       * what the client still sends so our last response is not lost to a
       * reset. */
      mbedtls_ssl_close_notify(&c->ssl);
      shutdown(c->fd, SHUT_WR);
      c->state = CONN_LINGER;
      c->linger_until = now + LINGER_SECONDS;
    } else if (c->eof && (handler_busy || c->upgraded) &&
               !(c->upgraded && c->up_data && c->in.len > c->in_off)) {
      /* (an upgraded connection first hands over what the client sent
       * before its EOF, once its reader resumes) */
      conn_abort(c); /* the client left while we were answering */
      return;
    }
  }
  int ev = 0;
  if (c->state != CONN_ACTIVE || !c->read_paused)
    ev |= EV_READ;
  if (c->want_write || (c->state == CONN_ACTIVE && out_queued(c) > 0))
    ev |= EV_WRITE;
  if (c->eof && c->state == CONN_ACTIVE)
    ev &= ~EV_READ;
  if (ev != c->io_events || !ev_is_active(&c->io)) {
    ev_io_stop(s->loop, &c->io);
    ev_io_set(&c->io, c->fd, ev);
    c->io_events = ev;
    if (ev)
      ev_io_start(s->loop, &c->io);
  }
  /* (After the watcher update, which would clear a pending event.)
   * Reads paused on a full buffer that processing has since drained:
   * mbedTLS may hold decrypted bytes the socket will not signal again. */
  if (c->state == CONN_ACTIVE && c->read_paused && !c->eof && !c->resume &&
      !(c->cur && c->cur->state != REQ_RECEIVING) && c->in.len - c->in_off < s->max_header)
    ev_feed_event(s->loop, &c->io, EV_READ);
  if (c->resume && c->state != CONN_HANDSHAKE && !ev_is_active(&s->resume_timer)) {
    ev_timer_set(&s->resume_timer, 0, 0);
    ev_timer_start(s->loop, &s->resume_timer);
  }
  double at = 0;
  switch (c->state) {
  case CONN_HANDSHAKE:
    at = c->deadline; /* fixed at accept */
    break;
  case CONN_LINGER:
    at = c->linger_until;
    break;
  case CONN_ACTIVE:
    if (out_queued(c) > 0)
      at = c->last_active + s->idle_timeout; /* a client that stopped reading */
    else if (c->upgraded || (c->cur && c->cur->state != REQ_RECEIVING))
      at = 0; /* handler's business (watches last long) */
    else if (c->req_start > 0)
      at = c->req_start + s->request_timeout;
    else
      at = c->last_active + s->idle_timeout;
    if (!c->user && !c->upgraded && !handler_has(c)) {
      /* Anonymous connections live unauth_idle from their start, whatever
       * they do (health checks do not keep them), unless a handler is
       * answering them right now. */
      double cap = c->created + s->lim.unauth_idle;
      if (at == 0 || at > cap)
        at = cap;
    }
    break;
  }
  set_deadline(c, at);
}

static void conn_linger_read(conn_t *c) {
  char tmp[READ_CHUNK];
  /* Bounded: a client that sends as fast as we drop must not hold the loop
   * (mbedTLS may hold decrypted bytes: go on next loop iteration). */
  for (int i = 0; i < 64; i++) {
    int n = mbedtls_ssl_read(&c->ssl, (unsigned char *)tmp, sizeof(tmp));
    if (n > 0)
      continue;
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
      return;
    conn_abort(c); /* EOF or error: done */
    return;
  }
  c->resume = true; /* conn_update arms the resume timer */
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  conn_t *c = container_of(w, conn_t, io);
  conn_enter(c);
  if (c->state == CONN_HANDSHAKE)
    conn_handshake(c);
  if (c->state == CONN_ACTIVE) {
    size_t high = c->srv->max_header + READ_CHUNK;
    for (int round = 0; round < 16 && !c->closing; round++) {
      conn_read(c);
      conn_process(c);
      conn_write(c);
      /* Loop while processing freed input space and reads were paused
       * (mbedTLS may hold decrypted bytes the socket will not signal), or
       * while writing made room for the next pipelined request. */
      if (c->closing || handler_has(c))
        break;
      bool read_more = c->read_paused && c->in.len - c->in_off < high;
      bool parse_more = c->out_paused && !c->resume && c->in.len > c->in_off && may_produce(c);
      if (!read_more && !parse_more)
        break;
    }
  } else if (c->state == CONN_LINGER) {
    conn_linger_read(c);
  }
  conn_leave(c);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  conn_t *c = container_of(w, conn_t, timer);
  c->deadline = 0;
  conn_enter(c);
  conn_abort(c);
  conn_leave(c);
}

/* ---- listener ---- */

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    snprintf(out, outlen, "%s:%d", host, port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    snprintf(out, outlen, "[%s]:%d", host, port);
  } else {
    snprintf(out, outlen, "unknown");
  }
}

/* The host part of an address, as the per-address key ("a:10.0.0.1"). */
static void addr_key(const struct sockaddr_storage *ss, char *out, size_t outlen) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss->ss_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, host,
              sizeof(host));
  else if (ss->ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, host,
              sizeof(host));
  snprintf(out, outlen, "a:%s", host);
}

static void budget_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  http_server_t *s = container_of(w, http_server_t, budget_timer);
  http_quota_may_produce(&s->lim, 0, s->out_total, &s->over_budget);
  if (s->over_budget) {
    /* Cut the streams the budget may cut (watches: the client re-watches,
     * as after upstream drops a slow watcher), biggest backlog first,
     * until the total is back under 3/4 of the budget. Everyone else with a
     * backlog is paused by may_produce until then. */
    while (s->out_total > s->lim.out_budget / 4 * 3) {
      conn_t *victim = NULL;
      for (conn_t *c = s->conns; c; c = c->next) {
        if (c->closing || c->busy || !c->cur || !c->cur->droppable || out_queued(c) == 0)
          continue;
        if (!victim || out_queued(c) > out_queued(victim))
          victim = c;
      }
      if (!victim)
        break;
      conn_enter(victim);
      conn_abort(victim);
      conn_leave(victim);
    }
    http_quota_may_produce(&s->lim, 0, s->out_total, &s->over_budget);
  }
  if (!s->over_budget) {
    /* Wake what the budget paused. */
    for (conn_t *c = s->conns; c; c = c->next)
      if (c->state == CONN_ACTIVE && !c->closing &&
          (c->out_paused || (c->cur && c->cur->drain_wanted)))
        ev_feed_event(loop, &c->io, EV_WRITE);
  }
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  http_server_t *s = container_of(w, http_server_t, resume_timer);
  for (conn_t *c = s->conns; c; c = c->next) {
    if (!c->resume)
      continue;
    c->resume = false;
    if (!c->closing && c->state != CONN_HANDSHAKE)
      ev_feed_event(loop, &c->io, EV_READ); /* its io callback runs its next batch */
  }
}

static void accept_resume_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  http_server_t *s = container_of(w, http_server_t, accept_pause);
  ev_io_start(loop, &s->accept_io);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  http_server_t *s = container_of(w, http_server_t, accept_io);
  /* 16 at a time: each costs the first handshake step, and connections
   * already open should get the loop between bursts. */
  for (int i = 0; i < 16; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(s->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors: back off instead of spinning on a ready fd. */
        ev_io_stop(loop, &s->accept_io);
        ev_timer_set(&s->accept_pause, 0.5, 0);
        ev_timer_start(loop, &s->accept_pause);
      }
      return;
    }
    char key[INET6_ADDRSTRLEN + 8];
    addr_key(&ss, key, sizeof(key));
    http_client_t *addr = http_clients_get(&s->clients, key);
    http_admit_t adm = http_quota_admit(&s->lim, s->n_conns, s->n_unauth, addr);
    bool by_addr = adm == HTTP_ADMIT_ROOM_ADDR || adm == HTTP_ADMIT_TRIM_ADDR;
    bool evicted = adm != HTTP_ADMIT_OK && evict_unauth(s, by_addr ? addr : NULL, ev_now(loop));
    if ((adm == HTTP_ADMIT_ROOM_ADDR || adm == HTTP_ADMIT_ROOM_ANY) && !evicted) {
      /* Over a limit and nothing anonymous to make room: refuse before
       * spending a handshake on it. */
      close(fd);
      http_clients_release(&s->clients, addr);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_t *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->fd = fd;
    format_addr(&ss, c->remote, sizeof(c->remote));
    c->addr = addr;
    addr->conns++;
    c->created = ev_now(loop);
    buf_init(&c->in, s->max_header + 2 * READ_CHUNK);
    buf_init(&c->out, OUT_LIMIT);
    mbedtls_ssl_init(&c->ssl);
    if (mbedtls_ssl_setup(&c->ssl, tls_server_conf_ssl(s->tls)) != 0) {
      mbedtls_ssl_free(&c->ssl);
      close(fd);
      addr->conns--;
      http_clients_release(&s->clients, addr);
      free(c);
      continue;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
    ev_timer_init(&c->timer, conn_timer_cb, 0, 0);
    c->state = CONN_HANDSHAKE;
    c->next = s->conns;
    if (s->conns)
      s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    c->deadline = ev_now(loop) + HANDSHAKE_SECONDS;
    conn_enter(c);
    conn_handshake(c); /* the ClientHello is often already here */
    conn_leave(c);
  }
}

int http_server_start(struct ev_loop *loop, const http_server_opts_t *opts, http_handler_cb handler,
                      void *data, http_server_t **ret_server, char *err, size_t errlen) {
  int r = 0, fd = -1;
  tls_server_conf_t *tls = NULL;
  struct addrinfo hints = {0}, *ai = NULL;
  const char *bind_addr = opts->bind_address && *opts->bind_address ? opts->bind_address : "0.0.0.0";
  char port[16];
  snprintf(port, sizeof(port), "%d", opts->port);

  if ((r = tls_server_conf_new(opts->cert_pem, opts->key_pem, opts->client_ca_pem, &tls, err,
                               errlen)) < 0)
    goto out;
  if (opts->proxy_ca_pem && (r = tls_server_conf_add_proxy_ca(tls, opts->proxy_ca_pem, err,
                                                              errlen)) < 0)
    goto out;
  if (opts->session_ticket_lifetime &&
      (r = tls_server_conf_tickets(tls, opts->session_ticket_lifetime, err, errlen)) < 0)
    goto out;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  int g = getaddrinfo(bind_addr, port, &hints, &ai);
  if (g != 0) {
    errbuf_set(err, errlen, "bind address %s: %s", bind_addr, gai_strerror(g));
    r = -EINVAL;
    goto out;
  }
  fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r = -errno;
    errbuf_set(err, errlen, "socket: %s", strerror(errno));
    goto out;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ai->ai_family == AF_INET6) {
    int zero = 0; /* "::" serves IPv4 too */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  }
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    r = -errno;
    errbuf_set(err, errlen, "bind %s:%d: %s", bind_addr, opts->port, strerror(errno));
    goto out;
  }
  if (listen(fd, 511) < 0) {
    r = -errno;
    errbuf_set(err, errlen, "listen %s:%d: %s", bind_addr, opts->port, strerror(errno));
    goto out;
  }
  http_server_t *s = xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->fd = fd;
  s->tls = tls;
  s->handler = handler;
  s->data = data;
  s->max_header = opts->max_header_bytes ? opts->max_header_bytes : 64 << 10;
  s->max_body = opts->max_body_bytes ? opts->max_body_bytes : 3 << 20;
  s->offload_min = opts->offload_body_min;
  s->idle_timeout = opts->idle_timeout > 0 ? opts->idle_timeout : 120;
  s->request_timeout = opts->request_timeout > 0 ? opts->request_timeout : 60;
  s->lim = opts->limits;
  if (opts->max_connections > 0)
    s->lim.max_conns = opts->max_connections;
  http_quota_defaults(&s->lim);
  http_clients_init(&s->clients);
  ev_timer_init(&s->budget_timer, budget_cb, 0, 0);
  ev_timer_init(&s->resume_timer, resume_cb, 0, 0);
  ev_io_init(&s->accept_io, accept_cb, fd, EV_READ);
  ev_timer_init(&s->accept_pause, accept_resume_cb, 0.5, 0);
  ev_io_start(loop, &s->accept_io);
  *ret_server = s;
  fd = -1;
  tls = NULL;
out:
  if (ai)
    freeaddrinfo(ai);
  if (fd >= 0)
    close(fd);
  tls_server_conf_free(tls);
  return r;
}

void http_server_stop(http_server_t *s) {
  if (!s)
    return;
  ev_io_stop(s->loop, &s->accept_io);
  ev_timer_stop(s->loop, &s->accept_pause);
  ev_timer_stop(s->loop, &s->budget_timer);
  ev_timer_stop(s->loop, &s->resume_timer);
  close(s->fd);
  while (s->conns) {
    conn_t *c = s->conns;
    if (c->busy) {
      /* Only possible if called from inside a callback of this
       * connection; unlink it so the server can go. */
      c->closing = true;
      break;
    }
    if (c->state == CONN_ACTIVE)
      mbedtls_ssl_close_notify(&c->ssl);
    conn_enter(c);
    conn_abort(c);
    conn_leave(c);
  }
  tls_server_conf_free(s->tls);
  http_clients_done(&s->clients);
  /* the relays' next-hop connections closed by the aborts above may still
   * be flushing or lingering on this loop: end them too */
  http_dial_reap(s->loop);
  free(s);
}

/* ---- request accessors ---- */

const char *http_req_method(const http_req_t *r) { return r->method; }
const char *http_req_path(const http_req_t *r) { return r->path; }
const char *http_req_raw_query(const http_req_t *r) { return r->raw_query; }

const char *http_req_query(const http_req_t *r, const char *name) {
  return http_query_get(&r->query, name);
}

const char *const *http_req_query_all(const http_req_t *r, const char *name) {
  http_req_t *m = (http_req_t *)r; /* the cache is not part of the value */
  size_t n = 0;
  for (size_t i = 0; i < r->query.n; i++)
    if (!strcmp(r->query.v[i].name, name))
      n++;
  const char **v = xcalloc(n + 1, sizeof(*v));
  n = 0;
  for (size_t i = 0; i < r->query.n; i++)
    if (!strcmp(r->query.v[i].name, name))
      v[n++] = r->query.v[i].value;
  m->query_all = xrealloc(m->query_all, (m->n_query_all + 1) * sizeof(*m->query_all));
  m->query_all[m->n_query_all++] = v;
  return v;
}

const char *http_req_header(const http_req_t *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (!strcasecmp(r->headers[i].name, name))
      return r->headers[i].value;
  return NULL;
}

bool http_req_header_at(const http_req_t *r, size_t i, const char **ret_name,
                        const char **ret_value) {
  if (i >= r->n_headers)
    return false;
  *ret_name = r->headers[i].name;
  *ret_value = r->headers[i].value;
  return true;
}

const char *http_req_body(const http_req_t *r, size_t *ret_len) {
  if (ret_len)
    *ret_len = r->body.len;
  return r->body.data ? r->body.data : "";
}

const char *http_req_client_cn(const http_req_t *r) { return r->cn; }
const char *http_req_client_cert_error(const http_req_t *r) { return r->cert_error; }
const char *http_req_proxy_cn(const http_req_t *r) { return r->proxy_cn; }

int http_server_set_cert(http_server_t *s, const char *cert_pem, const char *key_pem, char *err,
                         size_t errlen) {
  return tls_server_conf_set_cert(s->tls, cert_pem, key_pem, err, errlen);
}
const char *const *http_req_client_orgs(const http_req_t *r) {
  return (const char *const *)r->orgs;
}
const char *http_req_remote_addr(const http_req_t *r) { return r->remote; }
bool http_req_gone(const http_req_t *r) { return r->gone; }

void http_req_set_app(http_req_t *r, void *data, void (*free_fn)(void *)) {
  if (r->app && r->app_free)
    r->app_free(r->app);
  r->app = data;
  r->app_free = free_fn;
}

void *http_req_app(const http_req_t *r) { return r->app; }

void http_req_on_close(http_req_t *r, http_close_cb cb, void *data) {
  r->close_cb = cb;
  r->close_data = data;
}

/* ---- responses ---- */

void http_req_add_header(http_req_t *r, const char *name, const char *value) {
  if (r->state == REQ_STREAMING)
    return;
  buf_printf(&r->resp_headers, "%s: %s\r\n", name, value);
}

/* The request is complete: detach it from the connection and free it. */
static void req_finish(http_req_t *r) {
  conn_t *c = r->conn;
  if (c) {
    req_uncount(c->srv, r);
    c->cur = NULL;
    if (!r->keep_alive)
      c->want_close = true;
    c->last_active = ev_now(c->srv->loop);
    conn_enter(c);
    req_free(r);
    conn_leave(c); /* arms EV_WRITE; the io callback sends and moves on */
    return;
  }
  req_free(r);
}

static void write_head(http_req_t *r, int status, const char *content_type, long long len) {
  conn_t *c = r->conn;
  buf_t head;
  buf_init(&head, HEADERS_EXTRA_MAX + 1024);
  bool close = !r->keep_alive || (len < 0 && r->minor == 0);
  http_response_head_t h = {.status = status,
                            .minor_version = r->minor,
                            .content_type = content_type,
                            .content_length = len,
                            .close = close,
                            .keep_alive_10 = !close && r->minor == 0,
                            .extra = r->resp_headers.data,
                            .extra_len = r->resp_headers.len};
  http_response_head_write(&head, &h);
  if (close)
    r->keep_alive = false;
  if (out_append(c, head.data, head.len) < 0)
    c->want_close = true;
  buf_done(&head);
}

int http_req_status(const http_req_t *r) { return r->status; }

void http_respond(http_req_t *r, int status, const char *content_type, const char *body,
                  size_t len) {
  conn_t *c = r->conn;
  if (r->state == REQ_HANDLING && !r->status)
    r->status = status;
  if (r->local && r->sink && r->state == REQ_HANDLING) {
    r->sink->head(r->sink_data, status, content_type, r->resp_headers.data ? r->resp_headers.data : "",
                  r->resp_headers.len);
    if (len && !http_status_bodyless(status))
      r->sink->body(r->sink_data, body, len);
    r->sink->end(r->sink_data);
  }
  if (c && r->state == REQ_HANDLING) {
    bool bodyless = http_status_bodyless(status);
    write_head(r, status, content_type, bodyless ? -1 : (long long)len);
    if (!r->is_head && !bodyless && len && out_append(c, body, len) < 0)
      c->want_close = true;
  }
  req_finish(r);
}

void http_respond_take(http_req_t *r, int status, const char *content_type, char *body,
                       size_t len) {
  http_respond(r, status, content_type, body, len);
  free(body);
}

void http_respond_textf(http_req_t *r, int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  http_respond(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

void http_stream_begin(http_req_t *r, int status, const char *content_type) {
  if (r->state == REQ_HANDLING && !r->status)
    r->status = status;
  if (r->local) {
    if (r->state != REQ_HANDLING)
      return;
    r->state = REQ_STREAMING;
    if (r->sink)
      r->sink->head(r->sink_data, status, content_type,
                    r->resp_headers.data ? r->resp_headers.data : "", r->resp_headers.len);
    return;
  }
  if (!r->conn || r->state != REQ_HANDLING)
    return;
  write_head(r, status, content_type, -1);
  r->state = REQ_STREAMING;
  conn_enter(r->conn);
  conn_leave(r->conn);
}

long http_stream_write(http_req_t *r, const char *data, size_t len) {
  conn_t *c = r->conn;
  if (r->local) {
    if (!r->sink)
      return -EPIPE;
    if (r->state != REQ_STREAMING)
      return -EINVAL;
    if (len)
      r->sink->body(r->sink_data, data, len);
    return 0; /* the sink takes everything at once: nothing stays queued */
  }
  if (!c || c->closing)
    return -EPIPE;
  if (r->state != REQ_STREAMING)
    return -EINVAL;
  if (len && !r->is_head) {
    int e;
    if (r->minor >= 1) {
      buf_t chunk;
      buf_init(&chunk, len + 32);
      e = http_chunk_write(&chunk, data, len);
      if (e == 0)
        e = out_append(c, chunk.data, chunk.len);
      buf_done(&chunk);
    } else {
      e = out_append(c, data, len);
    }
    if (e < 0) {
      /* The client is not reading at all: over half a GiB queued. */
      c->want_close = true;
      return -ENOBUFS;
    }
  }
  size_t q = out_queued(c);
  if (q > c->srv->lim.conn_out_mark / 4)
    r->drain_wanted = true;
  conn_enter(c);
  conn_leave(c);
  return (long)q;
}

void http_stream_on_drain(http_req_t *r, http_drain_cb cb, void *data) {
  r->drain_cb = cb;
  r->drain_data = data;
}

bool http_stream_writable(http_req_t *r) {
  conn_t *c = r->conn;
  if (r->local) /* the sink takes everything at once */
    return r->sink && r->state == REQ_STREAMING;
  if (!c || c->closing || r->state != REQ_STREAMING)
    return false;
  if (may_produce(c))
    return true;
  r->drain_wanted = true;
  return false;
}

/* ---- per-client limits ---- */

int http_req_set_user(http_req_t *r, const char *user, bool exempt) {
  conn_t *c = r->conn;
  if (!c || !user || !user[0])
    return 0;
  http_server_t *s = c->srv;
  if (!conn_set_user(c, user)) {
    r->keep_alive = false; /* make room: this connection goes after the answer */
    return -EBUSY;
  }
  if (!r->in_user && r->in_addr) { /* counted once, and not once long-running */
    r->in_user = c->user;
    if (!http_quota_inflight_add(&s->lim, c->user, true, exempt))
      return -EBUSY;
  }
  return 0;
}

void http_req_long_running(http_req_t *r, bool droppable) {
  if (r->conn)
    req_uncount(r->conn->srv, r);
  r->droppable = droppable;
}

void http_respond_too_many(http_req_t *r) { respond_too_many(r); }

void http_stream_end(http_req_t *r) {
  conn_t *c = r->conn;
  if (r->local && r->sink && r->state == REQ_STREAMING)
    r->sink->end(r->sink_data);
  if (c && r->state == REQ_STREAMING && !r->is_head && r->minor >= 1)
    out_append(c, "0\r\n\r\n", 5);
  req_finish(r);
}

/* ---- upgrades ---- */

static http_upgrade_t *upgrade(http_req_t *r, const char *head, size_t head_len,
                               http_upgrade_data_cb on_data, http_upgrade_close_cb on_close,
                               void *data) {
  conn_t *c = r->conn;
  if (c && r->state == REQ_HANDLING && !r->status)
    r->status = 101;
  if (!c || r->state != REQ_HANDLING) {
    if (r->local && r->sink) { /* no connection to take over */
      r->sink->head(r->sink_data, 400, NULL, "", 0);
      r->sink->end(r->sink_data);
    }
    req_finish(r);
    return NULL;
  }
  if (head) {
    out_append(c, head, head_len);
  } else {
    buf_t b;
    buf_init(&b, HEADERS_EXTRA_MAX + 1024);
    buf_append_str(&b, "HTTP/1.1 101 Switching Protocols\r\n");
    if (r->resp_headers.len)
      buf_append(&b, r->resp_headers.data, r->resp_headers.len);
    buf_append_str(&b, "\r\n");
    out_append(c, b.data, b.len);
    buf_done(&b);
  }
  c->upgraded = true;
  c->up_data = on_data;
  c->up_close = on_close;
  c->up_ud = data;
  r->keep_alive = true; /* the connection lives on */
  req_finish(r);
  return (http_upgrade_t *)c;
}

http_upgrade_t *http_req_upgrade(http_req_t *r, http_upgrade_data_cb on_data,
                                 http_upgrade_close_cb on_close, void *data) {
  return upgrade(r, NULL, 0, on_data, on_close, data);
}

http_upgrade_t *http_req_upgrade_head(http_req_t *r, const char *head, size_t len,
                                      http_upgrade_data_cb on_data, http_upgrade_close_cb on_close,
                                      void *data) {
  return upgrade(r, head, len, on_data, on_close, data);
}

void http_upgrade_pause(http_upgrade_t *u, bool paused) {
  conn_t *c = (conn_t *)u;
  if (c->up_paused == paused)
    return;
  c->up_paused = paused;
  if (paused || c->closing)
    return;
  /* Hand over what waited, on a later loop iteration (never inside the
   * caller's callback), and read the socket again. */
  ev_feed_event(c->srv->loop, &c->io, EV_READ);
}

void http_upgrade_on_drain(http_upgrade_t *u, size_t low_water, http_upgrade_drain_cb cb) {
  conn_t *c = (conn_t *)u;
  c->up_drain = cb;
  c->up_low = low_water;
  if (cb && out_queued(c) <= low_water)
    ev_feed_event(c->srv->loop, &c->io, EV_WRITE);
}

long http_upgrade_write(http_upgrade_t *u, const char *bytes, size_t len) {
  conn_t *c = (conn_t *)u;
  if (c->closing || c->want_close)
    return -EPIPE;
  if (out_append(c, bytes, len) < 0) {
    c->want_close = true;
    return -ENOBUFS;
  }
  conn_enter(c);
  conn_leave(c);
  return (long)out_queued(c);
}

void http_upgrade_close(http_upgrade_t *u) {
  conn_t *c = (conn_t *)u;
  c->up_close = NULL;
  c->up_data = NULL;
  c->up_drain = NULL; /* the owner is gone: no callback of any kind */
  c->want_close = true;
  conn_enter(c);
  conn_leave(c);
}

/* ---- in-process requests ---- */

http_req_t *http_req_local_new(const char *method, const char *target, const char *const *headers,
                               const char *body, size_t len, const char *cn,
                               const char *const *orgs, const http_local_sink_t *sink,
                               void *sink_data) {
  http_req_t *r = xcalloc(1, sizeof(*r));
  r->local = true;
  r->sink = sink;
  r->sink_data = sink_data;
  r->state = REQ_HANDLING;
  r->minor = 1;
  r->keep_alive = true;
  r->method = xstrdup(method);
  r->is_head = !strcmp(method, "HEAD");
  snprintf(r->remote, sizeof(r->remote), "@in-process");
  r->cn = cn ? xstrdup(cn) : NULL;
  r->orgs = dup_strv((char *const *)orgs);
  buf_init(&r->body, len + 1);
  buf_init(&r->resp_headers, HEADERS_EXTRA_MAX);
  if (len)
    buf_append(&r->body, body, len);
  for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    req_add_header(r, headers[i], strlen(headers[i]), headers[i + 1], strlen(headers[i + 1]));
  if (http_target_split(target, strlen(target), &r->path, &r->raw_query) < 0) {
    req_free(r);
    return NULL;
  }
  r->query_ok = http_query_parse(r->raw_query, &r->query) == 0;
  return r;
}

void http_req_local_cancel(http_req_t *r) {
  if (!r->local || r->gone)
    return;
  r->sink = NULL;
  r->gone = true;
  if (r->close_cb) {
    http_close_cb cb = r->close_cb;
    r->close_cb = NULL;
    cb(r, r->close_data); /* may finish (and free) r */
  }
}
