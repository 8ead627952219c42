/* HTTPS client backend: HTTP/1.1 (RFC 9112) over TLS 1.2 (mbedTLS) on the
 * libev loop, for a `k3c agent` that talks to a server on another machine.
 * A few keep-alive connections serve ordinary requests one at a time each
 * (no pipelining); every watch gets its own connection, closed when the
 * watch ends. Responses are framed by Content-Length, chunked coding or
 * connection close; bodies stream to client.c, which bounds them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "client/backend.h"
#include "http/parser.h"
#include "tls/conf.h"
#include "util/alloc.h"

#define HEAD_MAX (64 << 10)
#define READ_CHUNK 16384
#define CONNECT_TIMEOUT 10.0
#define IDLE_TIMEOUT 60.0 /* below the server's 120 s keep-alive */
#define WATCH_IDLE_TIMEOUT 1200.0 /* no byte for this long: the watch is dead */

typedef struct hconn hconn_t;
typedef struct hreq hreq_t;

typedef struct {
  struct ev_loop *loop;
  char *host, *port;
  char *bearer;
  double timeout;
  int max_conns;
  mbedtls_ssl_config ssl;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca, cert;
  mbedtls_pk_context key;
  hconn_t *conns;
  int n_plain; /* connections for ordinary requests */
  hreq_t *pending, *pending_tail;   /* waiting for a connection */
  hreq_t *starting, *starting_tail; /* started by client_*(), picked up by kick */
  ev_timer kick;
} https_t;

struct hreq {
  client_req_t *r; /* NULL once cancelled */
  https_t *h;
  char *bytes;     /* the request: head and body */
  size_t len;
  bool watch, head_only;
  hconn_t *conn;
  hreq_t *next;    /* pending list */
};

typedef enum { C_CONNECTING, C_HANDSHAKE, C_READY } cstate_t;
typedef enum { R_IDLE, R_HEAD, R_LENGTH, R_CHUNKED, R_UNTIL_CLOSE } rstate_t;

struct hconn {
  https_t *h;
  hconn_t *prev, *next;
  int fd;
  ev_io io;
  ev_timer timer;
  mbedtls_ssl_context ssl;
  cstate_t state;
  bool watch;
  hreq_t *cur;
  buf_t out;
  size_t out_off;
  buf_t in; /* response head bytes */
  rstate_t rstate;
  uint64_t body_left;
  http_chunked_t chunk;
  bool keep_alive;
  int busy;      /* inside a callback of this connection */
  bool dead;     /* close once the callback returns */
};

static void conn_close(hconn_t *c, int err);
static void conn_update(hconn_t *c);
static void dispatch(https_t *h);

/* ---- requests ---- */

static void hreq_free(hreq_t *q) {
  if (!q)
    return;
  if (q->r)
    q->r->be_req = NULL;
  free(q->bytes);
  free(q);
}

/* End q with err (0: complete) and forget it. */
static void hreq_end(hreq_t *q, int err) {
  client_req_t *r = q->r;
  q->r = NULL;
  if (q->conn)
    q->conn->cur = NULL;
  q->conn = NULL;
  hreq_free(q);
  if (r) {
    r->be_req = NULL;
    client__deliver_end(r, err);
  }
}

/* ---- TLS over a non-blocking socket ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  hconn_t *c = ctx;
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return (int)n;
  return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_WRITE
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  hconn_t *c = ctx;
  ssize_t n = recv(c->fd, buf, len, 0);
  if (n >= 0)
    return (int)n;
  return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_READ
                                                 : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* ---- response parsing ---- */

static void response_done(hconn_t *c) {
  hreq_t *q = c->cur;
  c->rstate = R_IDLE;
  bool reuse = c->keep_alive && !c->watch;
  hreq_end(q, 0);
  if (!reuse)
    c->dead = true;
}

/* Parse the status line and the framing headers of a complete head
 * (http/parser: the same field rules as the server's requests). */
static int parse_head(hconn_t *c, const char *p, size_t len) {
  http_response_t resp;
  if (http_parse_response(p, len, len, &resp) <= 0)
    return -EPROTO;
  int code = resp.status;
  c->keep_alive = resp.minor_version >= 1;
  bool chunked = false, have_len = false;
  uint64_t clen = 0;
  const http_header_t *h = http_response_find(&resp, "Content-Length");
  if (h) {
    char num[32];
    if (h->value_len >= sizeof(num) || !h->value_len)
      return -EPROTO;
    memcpy(num, h->value, h->value_len);
    num[h->value_len] = '\0';
    char *e;
    errno = 0;
    clen = strtoull(num, &e, 10);
    if (errno || *e || num[0] == '-' || num[0] == '+')
      return -EPROTO;
    have_len = true;
  }
  if ((h = http_response_find(&resp, "Transfer-Encoding")))
    chunked = h->value_len >= 7 && !strncasecmp(h->value + h->value_len - 7, "chunked", 7);
  if ((h = http_response_find(&resp, "Connection"))) {
    if (h->value_len >= 5 && !strncasecmp(h->value, "close", 5))
      c->keep_alive = false;
    else if (h->value_len >= 10 && !strncasecmp(h->value, "keep-alive", 10))
      c->keep_alive = true;
  }
  client__deliver_head(c->cur->r, code);
  if (!c->cur || !c->cur->r)
    return -ECANCELED; /* the head's callback cancelled it (client_stream) */
  if (c->cur->head_only || code == 204 || code == 304 || (code >= 100 && code < 200)) {
    c->rstate = R_IDLE;
    return 1; /* complete */
  }
  if (chunked) {
    c->rstate = R_CHUNKED;
    memset(&c->chunk, 0, sizeof(c->chunk));
  } else if (have_len) {
    c->rstate = R_LENGTH;
    c->body_left = clen;
    if (!clen)
      return 1;
  } else {
    c->rstate = R_UNTIL_CLOSE;
    c->keep_alive = false;
  }
  return 0;
}

/* Feed response bytes. Returns 0, or a negative errno (close the conn). */
static int feed(hconn_t *c, const char *p, size_t len) {
  while (len && c->cur && c->cur->r) {
    if (c->rstate == R_HEAD) {
      size_t old = c->in.len;
      if (buf_append(&c->in, p, len) < 0)
        return -E2BIG;
      const char *end = NULL;
      for (size_t i = old >= 3 ? old - 3 : 0; i + 3 < c->in.len; i++) {
        if (!memcmp(c->in.data + i, "\r\n\r\n", 4)) {
          end = c->in.data + i + 4;
          break;
        }
      }
      if (!end)
        return 0;
      size_t head_len = (size_t)(end - c->in.data);
      size_t used = head_len - old; /* bytes of p in the head */
      int r = parse_head(c, c->in.data, head_len);
      buf_reset(&c->in);
      if (r < 0)
        return r;
      p += used;
      len -= used;
      if (r == 1) {
        response_done(c);
        return len ? -EPROTO : 0; /* no pipelining: nothing may follow */
      }
      continue;
    }
    if (c->rstate == R_LENGTH) {
      size_t n = len < c->body_left ? len : (size_t)c->body_left;
      client__deliver_body(c->cur->r, p, n);
      c->body_left -= n;
      p += n;
      len -= n;
      if (c->cur && c->cur->r && !c->body_left) {
        response_done(c);
        return len ? -EPROTO : 0;
      }
      continue;
    }
    if (c->rstate == R_CHUNKED) {
      buf_t out;
      buf_init(&out, len + 1);
      bool done = false;
      long n = http_chunked_decode(&c->chunk, p, len, &out, &done);
      if (n < 0) {
        buf_done(&out);
        return -EPROTO;
      }
      if (out.len)
        client__deliver_body(c->cur->r, out.data, out.len);
      buf_done(&out);
      p += n;
      len -= (size_t)n;
      if (done && c->cur && c->cur->r) {
        response_done(c);
        return len ? -EPROTO : 0;
      }
      continue;
    }
    if (c->rstate == R_UNTIL_CLOSE) {
      client__deliver_body(c->cur->r, p, len);
      return 0;
    }
    return -EPROTO; /* bytes with no request */
  }
  return 0;
}

/* ---- connection I/O ---- */

static void conn_unlink(hconn_t *c) {
  https_t *h = c->h;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  if (!c->watch)
    h->n_plain--;
}

static void conn_free(hconn_t *c) {
  ev_io_stop(c->h->loop, &c->io);
  ev_timer_stop(c->h->loop, &c->timer);
  if (c->fd >= 0)
    close(c->fd);
  mbedtls_ssl_free(&c->ssl);
  buf_done(&c->out);
  buf_done(&c->in);
  free(c);
}

/* Close now (or once the running callback returns); the current request
 * ends with err, or with success when the body ran until close. */
static void conn_close(hconn_t *c, int err) {
  if (c->cur) {
    hreq_t *q = c->cur;
    if (c->rstate == R_UNTIL_CLOSE && !err)
      hreq_end(q, 0);
    else
      hreq_end(q, err ? err : -ECONNRESET);
  }
  if (c->busy) {
    c->dead = true;
    return;
  }
  conn_unlink(c);
  conn_free(c);
}

static int write_out(hconn_t *c) {
  while (c->out_off < c->out.len) {
    int n = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->out.data + c->out_off,
                              c->out.len - c->out_off);
    if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ)
      return 0;
    if (n < 0)
      return -ECONNRESET;
    c->out_off += (size_t)n;
  }
  buf_reset(&c->out);
  c->out_off = 0;
  return 0;
}

static int read_in(hconn_t *c) {
  char tmp[READ_CHUNK];
  for (;;) {
    int n = mbedtls_ssl_read(&c->ssl, (unsigned char *)tmp, sizeof(tmp));
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
      return 0;
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
      return -EPIPE; /* orderly close */
    if (n < 0)
      return -ECONNRESET;
    if (!c->cur)
      return -EPROTO; /* the server talks out of turn (or closes an idle conn) */
    if (c->watch) { /* any byte proves the watch alive */
      ev_timer_stop(c->h->loop, &c->timer);
      ev_timer_set(&c->timer, WATCH_IDLE_TIMEOUT, 0);
      ev_timer_start(c->h->loop, &c->timer);
    }
    int e = feed(c, tmp, (size_t)n);
    if (e < 0)
      return e;
    if (c->dead || !c->cur)
      return 0;
  }
}

static void start_request(hconn_t *c, hreq_t *q) {
  c->cur = q;
  q->conn = c;
  c->rstate = R_HEAD;
  buf_reset(&c->in);
  buf_reset(&c->out);
  c->out_off = 0;
  buf_append(&c->out, q->bytes, q->len);
  ev_timer_stop(c->h->loop, &c->timer);
  ev_timer_set(&c->timer, q->watch ? WATCH_IDLE_TIMEOUT : c->h->timeout, 0);
  ev_timer_start(c->h->loop, &c->timer);
}

static void conn_step(hconn_t *c) {
  int e = 0;
  if (c->state == C_CONNECTING) {
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
      soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY)
      return;
    if (soerr) {
      conn_close(c, -soerr);
      return;
    }
    c->state = C_HANDSHAKE;
  }
  if (c->state == C_HANDSHAKE) {
    int m = mbedtls_ssl_handshake(&c->ssl);
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      return;
    if (m != 0) {
      conn_close(c, -ECONNREFUSED);
      return;
    }
    c->state = C_READY;
    if (c->cur) { /* the request waiting for this connection */
      ev_timer_stop(c->h->loop, &c->timer);
      ev_timer_set(&c->timer, c->cur->watch ? WATCH_IDLE_TIMEOUT : c->h->timeout, 0);
      ev_timer_start(c->h->loop, &c->timer);
    }
  }
  if ((e = write_out(c)) == 0 && c->cur)
    e = read_in(c);
  else if (e == 0 && !c->cur)
    e = read_in(c); /* an idle connection: only a close can arrive */
  if (e < 0) {
    conn_close(c, e == -EPIPE ? 0 : e);
    return;
  }
}

static void conn_update(hconn_t *c) {
  int ev = EV_READ;
  if (c->state == C_CONNECTING || c->out_off < c->out.len)
    ev |= EV_WRITE;
  if (c->state == C_HANDSHAKE)
    ev = EV_READ | EV_WRITE; /* simplest: either may unblock the handshake */
  if ((c->io.events & (EV_READ | EV_WRITE)) != ev || !ev_is_active(&c->io)) {
    ev_io_stop(c->h->loop, &c->io);
    ev_io_set(&c->io, c->fd, ev);
    ev_io_start(c->h->loop, &c->io);
  }
  if (!c->cur && !ev_is_active(&c->timer) && c->state == C_READY) {
    ev_timer_set(&c->timer, IDLE_TIMEOUT, 0);
    ev_timer_start(c->h->loop, &c->timer);
  }
}

/* One step with the connection marked busy. A callback that asked for the
 * connection to close gets it closed here: returns false, c is gone. */
static bool conn_step_busy(hconn_t *c) {
  https_t *h = c->h;
  c->busy++;
  conn_step(c);
  c->busy--;
  if (!c->dead)
    return true;
  c->dead = false;
  conn_close(c, -ECANCELED);
  dispatch(h);
  return false;
}

/* Run one step; if the connection is then free, hand it the next pending
 * request and step that too. */
static void conn_run(hconn_t *c) {
  https_t *h = c->h;
  if (!conn_step_busy(c))
    return;
  if (!c->cur && !c->watch && c->state == C_READY && h->pending) {
    hreq_t *q = h->pending;
    h->pending = q->next;
    if (!h->pending)
      h->pending_tail = NULL;
    start_request(c, q);
    if (!conn_step_busy(c))
      return;
  }
  conn_update(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  hconn_t *c = (hconn_t *)((char *)w - offsetof(hconn_t, io));
  conn_run(c);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  hconn_t *c = (hconn_t *)((char *)w - offsetof(hconn_t, timer));
  https_t *h = c->h;
  conn_close(c, c->cur ? -ETIMEDOUT : 0);
  dispatch(h);
}

static int conn_new(https_t *h, bool watch, hconn_t **ret) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  /* Numeric addresses resolve without blocking; a name may block the loop
   * briefly (the agent's server URL is normally an address). */
  int g = getaddrinfo(h->host, h->port, &hints, &ai);
  if (g != 0 || !ai)
    return -EHOSTUNREACH;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = -errno;
    freeaddrinfo(ai);
    return e;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (r < 0 && errno != EINPROGRESS) {
    int e = -errno;
    close(fd);
    return e;
  }
  hconn_t *c = xcalloc(1, sizeof(*c));
  c->h = h;
  c->fd = fd;
  c->watch = watch;
  c->state = C_CONNECTING;
  buf_init(&c->out, (size_t)64 << 20);
  buf_init(&c->in, HEAD_MAX);
  mbedtls_ssl_init(&c->ssl);
  if (mbedtls_ssl_setup(&c->ssl, &h->ssl) != 0) {
    mbedtls_ssl_free(&c->ssl);
    close(fd);
    buf_done(&c->out);
    buf_done(&c->in);
    free(c);
    return -ENOMEM;
  }
  /* DNS names are checked against the certificate; mbedTLS 2.28 cannot
   * check IP SANs, so for an address only the chain to the pinned cluster
   * CA is verified (docs/CLIENT.md). */
  struct in6_addr a6;
  struct in_addr a4;
  if (inet_pton(AF_INET, h->host, &a4) != 1 && inet_pton(AF_INET6, h->host, &a6) != 1)
    mbedtls_ssl_set_hostname(&c->ssl, h->host);
  mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
  ev_io_init(&c->io, io_cb, fd, EV_READ | EV_WRITE);
  ev_timer_init(&c->timer, timer_cb, CONNECT_TIMEOUT, 0);
  ev_io_start(h->loop, &c->io);
  ev_timer_start(h->loop, &c->timer);
  c->next = h->conns;
  if (c->next)
    c->next->prev = c;
  h->conns = c;
  if (!watch)
    h->n_plain++;
  *ret = c;
  return 0;
}

/* Give pending requests to idle connections, opening new ones up to the
 * limit. Errors end the request (from the loop: this runs in callbacks). */
static void dispatch(https_t *h) {
  while (h->pending) {
    hconn_t *idle = NULL;
    for (hconn_t *c = h->conns; c; c = c->next)
      if (!c->watch && !c->cur && c->state == C_READY && !c->dead && !c->busy)
        idle = c;
    if (!idle && h->n_plain >= h->max_conns) {
      /* all busy; a connecting one without a request takes the next */
      for (hconn_t *c = h->conns; c; c = c->next)
        if (!c->watch && !c->cur && c->state != C_READY)
          idle = c;
      if (!idle)
        return;
    }
    hreq_t *q = h->pending;
    h->pending = q->next;
    if (!h->pending)
      h->pending_tail = NULL;
    if (!idle) {
      int e = conn_new(h, false, &idle);
      if (e < 0) {
        hreq_end(q, e);
        continue;
      }
    }
    start_request(idle, q);
    if (idle->state == C_READY)
      conn_run(idle);
  }
}

/* ---- backend ---- */

/* Requests start from the loop, never inside the client_*() call. */
static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  https_t *h = (https_t *)((char *)w - offsetof(https_t, kick));
  while (h->starting) {
    hreq_t *q = h->starting;
    h->starting = q->next;
    if (!h->starting)
      h->starting_tail = NULL;
    q->next = NULL;
    if (q->watch) {
      hconn_t *c = NULL;
      int e = conn_new(h, true, &c);
      if (e < 0) {
        hreq_end(q, e);
        continue;
      }
      start_request(c, q);
      continue;
    }
    if (h->pending_tail)
      h->pending_tail->next = q;
    else
      h->pending = q;
    h->pending_tail = q;
  }
  dispatch(h);
}

/* Remove q from a singly linked list with a tail pointer. */
static bool list_remove(hreq_t **head, hreq_t **tail, hreq_t *q) {
  hreq_t *prev = NULL;
  for (hreq_t *p = *head; p; prev = p, p = p->next) {
    if (p != q)
      continue;
    if (prev)
      prev->next = p->next;
    else
      *head = p->next;
    if (*tail == p)
      *tail = prev;
    return true;
  }
  return false;
}

static int hs_start(client_t *cl, client_req_t *r, const char *method, const char *target,
                    const char *const *headers, const char *body, size_t len) {
  https_t *h = cl->be_data;
  buf_t b;
  buf_init(&b, len + 16384);
  buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n", method, target, h->host, h->port);
  for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    buf_printf(&b, "%s: %s\r\n", headers[i], headers[i + 1]);
  if (h->bearer)
    buf_printf(&b, "Authorization: Bearer %s\r\n", h->bearer);
  if (len || strcmp(method, "GET"))
    buf_printf(&b, "Content-Length: %zu\r\n", len);
  if (buf_append_str(&b, "\r\n") < 0 || buf_append(&b, body, len) < 0) {
    buf_done(&b);
    return -E2BIG;
  }
  hreq_t *q = xcalloc(1, sizeof(*q));
  q->h = h;
  q->r = r;
  q->watch = r->watch;
  q->head_only = !strcmp(method, "HEAD");
  q->bytes = buf_steal(&b, &q->len);
  r->be_req = q;
  if (h->starting_tail)
    h->starting_tail->next = q;
  else
    h->starting = q;
  h->starting_tail = q;
  if (!ev_is_active(&h->kick)) {
    ev_timer_set(&h->kick, 0, 0);
    ev_timer_start(h->loop, &h->kick);
  }
  return 0;
}

static void hs_cancel(client_t *cl, client_req_t *r) {
  https_t *h = cl->be_data;
  hreq_t *q = r->be_req;
  if (!q)
    return;
  r->be_req = NULL;
  q->r = NULL;
  if (q->conn) { /* on a connection: the response cannot be skipped */
    hconn_t *c = q->conn;
    q->conn = NULL;
    c->cur = NULL;
    hreq_free(q);
    if (c->busy)
      c->dead = true;
    else
      conn_close(c, 0);
    return;
  }
  if (list_remove(&h->pending, &h->pending_tail, q) ||
      list_remove(&h->starting, &h->starting_tail, q))
    hreq_free(q);
}

static void https_destroy(https_t *h) {
  while (h->conns) {
    hconn_t *c = h->conns;
    conn_unlink(c);
    conn_free(c);
  }
  while (h->pending) {
    hreq_t *q = h->pending;
    h->pending = q->next;
    hreq_free(q);
  }
  while (h->starting) {
    hreq_t *q = h->starting;
    h->starting = q->next;
    hreq_free(q);
  }
  ev_timer_stop(h->loop, &h->kick);
  mbedtls_ssl_config_free(&h->ssl);
  mbedtls_ctr_drbg_free(&h->drbg);
  mbedtls_entropy_free(&h->entropy);
  mbedtls_x509_crt_free(&h->ca);
  mbedtls_x509_crt_free(&h->cert);
  mbedtls_pk_free(&h->key);
  free(h->host);
  free(h->port);
  free(h->bearer);
  free(h);
}

/* Every request is cancelled already (client_free). */
static void hs_free(client_t *cl) { https_destroy(cl->be_data); }

static const client_backend_t https_backend = {hs_start, hs_cancel, hs_free};

static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    0,
};

/* "https://host:port" or "https://[v6]:port" into host and port. */
static int split_url(const char *url, char **ret_host, char **ret_port) {
  if (strncmp(url, "https://", 8))
    return -EINVAL;
  const char *p = url + 8, *end = p + strcspn(p, "/");
  const char *hs = p, *he, *port = "443";
  size_t plen = 3;
  if (*p == '[') {
    hs = p + 1;
    he = memchr(hs, ']', (size_t)(end - hs));
    if (!he)
      return -EINVAL;
    if (he + 1 < end && he[1] == ':') {
      port = he + 2;
      plen = (size_t)(end - port);
    }
  } else {
    he = memchr(p, ':', (size_t)(end - p));
    if (he) {
      port = he + 1;
      plen = (size_t)(end - port);
    } else {
      he = end;
    }
  }
  if (he == hs || !plen || plen > 5)
    return -EINVAL;
  *ret_host = xstrndup(hs, (size_t)(he - hs));
  *ret_port = xstrndup(port, plen);
  return 0;
}

int client_https_new(struct ev_loop *loop, const client_https_opts_t *o, client_t **ret_client,
                     char *err, size_t errlen) {
  static const unsigned char pers[] = "k3c-tls-client";
  https_t *h = xcalloc(1, sizeof(*h));
  const char *what = "";
  int m = 0;
  h->loop = loop;
  h->timeout = o->timeout > 0 ? o->timeout : 30.0;
  h->max_conns = o->max_connections > 0 ? o->max_connections : 4;
  h->bearer = o->bearer ? xstrdup(o->bearer) : NULL;
  ev_timer_init(&h->kick, kick_cb, 0, 0);
  mbedtls_ssl_config_init(&h->ssl);
  mbedtls_entropy_init(&h->entropy);
  mbedtls_ctr_drbg_init(&h->drbg);
  mbedtls_x509_crt_init(&h->ca);
  mbedtls_x509_crt_init(&h->cert);
  mbedtls_pk_init(&h->key);
  if (!o->server || split_url(o->server, &h->host, &h->port) < 0) {
    snprintf(err, errlen, "server URL must be https://host:port, not %s",
             o->server ? o->server : "(none)");
    https_destroy(h);
    return -EINVAL;
  }
  if (!o->ca_pem && !o->insecure_skip_verify) {
    snprintf(err, errlen, "a CA bundle is required");
    https_destroy(h);
    return -EINVAL;
  }
  if ((m = mbedtls_ctr_drbg_seed(&h->drbg, mbedtls_entropy_func, &h->entropy, pers,
                                 sizeof(pers) - 1)) != 0) {
    what = "seed DRBG";
    goto fail;
  }
  if (o->ca_pem && (m = mbedtls_x509_crt_parse(&h->ca, (const unsigned char *)o->ca_pem,
                                               strlen(o->ca_pem) + 1)) != 0) {
    what = "parse CA";
    goto fail;
  }
  if ((m = mbedtls_ssl_config_defaults(&h->ssl, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
    what = "TLS defaults";
    goto fail;
  }
  tls_conf_groups(&h->ssl);
  mbedtls_ssl_conf_rng(&h->ssl, mbedtls_ctr_drbg_random, &h->drbg);
  mbedtls_ssl_conf_min_version(&h->ssl, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&h->ssl, suites);
  mbedtls_ssl_conf_authmode(&h->ssl, o->insecure_skip_verify ? MBEDTLS_SSL_VERIFY_NONE
                                                             : MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&h->ssl, &h->ca, NULL);
  if (o->cert_pem && o->key_pem) {
    if ((m = mbedtls_x509_crt_parse(&h->cert, (const unsigned char *)o->cert_pem,
                                    strlen(o->cert_pem) + 1)) != 0) {
      what = "parse client certificate";
      goto fail;
    }
    if ((m = mbedtls_pk_parse_key(&h->key, (const unsigned char *)o->key_pem,
                                  strlen(o->key_pem) + 1, NULL, 0)) != 0) {
      what = "parse client key";
      goto fail;
    }
    if ((m = mbedtls_ssl_conf_own_cert(&h->ssl, &h->cert, &h->key)) != 0) {
      what = "client certificate/key";
      goto fail;
    }
  }
  client_t *c = client__new(loop, &https_backend, h);
  if (o->max_body_bytes)
    c->max_body = o->max_body_bytes;
  *ret_client = c;
  return 0;
fail: {
  char msg[160];
  mbedtls_strerror(m, msg, sizeof(msg));
  snprintf(err, errlen, "%s: %s (-0x%04x)", what, msg, (unsigned)-m);
}
  https_destroy(h);
  return -EINVAL;
}

int client_https_set_cert(client_t *c, const char *cert_pem, const char *key_pem, char *err,
                          size_t errlen) {
  if (!c || c->be != &https_backend) {
    snprintf(err, errlen, "not an HTTPS client");
    return -EINVAL;
  }
  https_t *h = c->be_data;
  if (!h->cert.raw.p) {
    snprintf(err, errlen, "the client has no certificate to replace");
    return -EINVAL;
  }
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_x509_crt_init(&cert);
  mbedtls_pk_init(&key);
  const char *what = "parse client certificate";
  int m = mbedtls_x509_crt_parse(&cert, (const unsigned char *)cert_pem, strlen(cert_pem) + 1);
  if (m == 0) {
    what = "parse client key";
    m = mbedtls_pk_parse_key(&key, (const unsigned char *)key_pem, strlen(key_pem) + 1, NULL, 0);
  }
  if (m == 0) {
    what = "client key does not match the certificate";
    m = mbedtls_pk_check_pair(&cert.pk, &key);
  }
  if (m != 0) {
    char msg[160];
    mbedtls_strerror(m, msg, sizeof(msg));
    snprintf(err, errlen, "%s: %s (-0x%04x)", what, msg, (unsigned)-m);
    mbedtls_x509_crt_free(&cert);
    mbedtls_pk_free(&key);
    return -EINVAL;
  }
  /* The config points at h->cert and h->key: swap their contents. New
   * handshakes present the new certificate; open connections keep theirs. */
  mbedtls_x509_crt_free(&h->cert);
  mbedtls_pk_free(&h->key);
  h->cert = cert;
  h->key = key;
  return 0;
}
