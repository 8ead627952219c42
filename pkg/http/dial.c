/* Outgoing relay connections: connect (non-blocking), optional TLS 1.2
 * client handshake (mbedTLS), one request head out, one response head in
 * (RFC 9112 section 4, parsed by http/parser), then raw bytes both ways
 * with bounded queues and pause/drain flow control. */
#include "http/dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "tls/conf.h"
#include "util/alloc.h"
#include "util/buf.h"

#define HEAD_MAX (64 << 10)
#define OUT_MAX ((size_t)64 << 20)
#define READ_CHUNK (64 << 10)
#define READ_ROUNDS 16     /* reads per wake-up, so one stream cannot hold the loop */
#define FLUSH_TIMEOUT 30.0 /* seconds http_dial_close waits for the peer to read */
#define LINGER_SECONDS 2.0

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define SESSIONS 8 /* peers whose TLS session is kept for resumption */

typedef struct {
  char peer[64]; /* "host:port"; "" = free */
  mbedtls_ssl_session s;
  unsigned used; /* for least-recently-used replacement */
} session_t;

struct http_tls_client {
  session_t sessions[SESSIONS];
  unsigned clock;
  mbedtls_ssl_config ssl;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_x509_crt ca;
  char *server_name; /* verify: the name the server's certificate must have */
  unsigned refs;     /* the creator's and one per connection */
};

/* D_LINGER: after a user close, our FIN is sent and what the peer still
 * sends is read and dropped, so that closing with unread bytes does not
 * reset the connection and lose our last bytes at the peer. */
typedef enum { D_CONNECTING, D_HANDSHAKE, D_HEAD, D_RAW, D_LINGER } dstate_t;

struct http_dial {
  struct ev_loop *loop;
  int fd;
  ev_io io;
  ev_timer timer;
  int io_events;
  dstate_t state;
  bool tls;
  http_tls_client_t *tc;
  char peer[64];
  mbedtls_ssl_context ssl;
  http_dial_cbs_t cbs;
  void *data;
  buf_t in;  /* the response head while it arrives */
  buf_t out;
  size_t out_off;
  bool paused;
  bool eof;         /* the peer's EOF seen (reported once the output is flushed) */
  bool user_closed; /* http_dial_close: flush, then free */
  bool quiet;       /* the close callback ran or the user closed: no callbacks */
  bool dead;        /* the socket is done (error, EOF reported, timeout): free */
  int busy;         /* inside our own io callback */
  http_dial_drain_cb drain;
  size_t low;
  /* closed by the user, still flushing or lingering: on the orphans list
   * so that http_dial_reap can end it when its loop's owner stops */
  bool orphan;
  http_dial_t *oprev, *onext;
};

static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;
static http_dial_t *orphans;

static void orphan_add(http_dial_t *d) {
  pthread_mutex_lock(&orphans_lock);
  d->orphan = true;
  d->oprev = NULL;
  d->onext = orphans;
  if (orphans)
    orphans->oprev = d;
  orphans = d;
  pthread_mutex_unlock(&orphans_lock);
}

static void orphan_del(http_dial_t *d) {
  if (!d->orphan)
    return;
  pthread_mutex_lock(&orphans_lock);
  if (d->oprev)
    d->oprev->onext = d->onext;
  else
    orphans = d->onext;
  if (d->onext)
    d->onext->oprev = d->oprev;
  d->orphan = false;
  pthread_mutex_unlock(&orphans_lock);
}

static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    0,
};

int http_tls_client_new(const char *cert_pem, const char *key_pem, http_tls_client_t **ret,
                        char *err, size_t errlen) {
  static const unsigned char pers[] = "k3c-http-dial";
  http_tls_client_t *t = xcalloc(1, sizeof(*t));
  t->refs = 1;
  mbedtls_ssl_config_init(&t->ssl);
  mbedtls_entropy_init(&t->entropy);
  mbedtls_ctr_drbg_init(&t->drbg);
  mbedtls_x509_crt_init(&t->cert);
  mbedtls_pk_init(&t->key);
  mbedtls_x509_crt_init(&t->ca);
  for (size_t i = 0; i < SESSIONS; i++)
    mbedtls_ssl_session_init(&t->sessions[i].s);
  const char *what = "seed DRBG";
  int m = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, pers,
                                sizeof(pers) - 1);
  if (m)
    goto fail;
  what = "TLS defaults";
  if ((m = mbedtls_ssl_config_defaults(&t->ssl, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT)))
    goto fail;
  tls_conf_groups(&t->ssl);
  mbedtls_ssl_conf_rng(&t->ssl, mbedtls_ctr_drbg_random, &t->drbg);
  mbedtls_ssl_conf_min_version(&t->ssl, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&t->ssl, suites);
  mbedtls_ssl_conf_authmode(&t->ssl, MBEDTLS_SSL_VERIFY_NONE);
  if (cert_pem && key_pem) {
    what = "parse client certificate";
    if ((m = mbedtls_x509_crt_parse(&t->cert, (const unsigned char *)cert_pem,
                                    strlen(cert_pem) + 1)))
      goto fail;
    what = "parse client key";
    if ((m = mbedtls_pk_parse_key(&t->key, (const unsigned char *)key_pem, strlen(key_pem) + 1,
                                  NULL, 0)))
      goto fail;
    what = "client certificate/key";
    if ((m = mbedtls_ssl_conf_own_cert(&t->ssl, &t->cert, &t->key)))
      goto fail;
  }
  *ret = t;
  return 0;
fail: {
  char msg[160];
  mbedtls_strerror(m, msg, sizeof(msg));
  snprintf(err, errlen, "%s: %s (-0x%04x)", what, msg, (unsigned)-m);
}
  http_tls_client_free(t);
  return -EINVAL;
}

int http_tls_client_new_verify(const char *cert_pem, const char *key_pem, const char *ca_pem,
                               size_t ca_len, const char *server_name, http_tls_client_t **ret,
                               char *err, size_t errlen) {
  http_tls_client_t *t = NULL;
  int r = http_tls_client_new(cert_pem, key_pem, &t, err, errlen);
  if (r < 0)
    return r;
  /* mbedTLS reads PEM only when the bytes end in NUL */
  unsigned char *pem = xmalloc(ca_len + 1);
  memcpy(pem, ca_pem, ca_len);
  pem[ca_len] = '\0';
  int m = mbedtls_x509_crt_parse(&t->ca, pem, ca_len + 1);
  free(pem);
  if (m < 0 || !t->ca.version) { /* > 0: some certificates did not parse, the others did */
    char msg[160];
    mbedtls_strerror(m, msg, sizeof(msg));
    snprintf(err, errlen, "parse CA bundle: %s (-0x%04x)", msg, (unsigned)-m);
    http_tls_client_free(t);
    return -EINVAL;
  }
  mbedtls_ssl_conf_ca_chain(&t->ssl, &t->ca, NULL);
  mbedtls_ssl_conf_authmode(&t->ssl, MBEDTLS_SSL_VERIFY_REQUIRED);
  t->server_name = xstrdup(server_name);
  *ret = t;
  return 0;
}

void http_tls_client_free(http_tls_client_t *t) {
  if (!t || --t->refs > 0)
    return;
  mbedtls_ssl_config_free(&t->ssl);
  mbedtls_ctr_drbg_free(&t->drbg);
  mbedtls_entropy_free(&t->entropy);
  mbedtls_x509_crt_free(&t->cert);
  mbedtls_pk_free(&t->key);
  mbedtls_x509_crt_free(&t->ca);
  free(t->server_name);
  for (size_t i = 0; i < SESSIONS; i++)
    mbedtls_ssl_session_free(&t->sessions[i].s);
  free(t);
}

unsigned http__tls_client_tickets(const http_tls_client_t *t) {
  unsigned n = 0;
  for (size_t i = 0; i < SESSIONS; i++)
    n += t->sessions[i].peer[0] && t->sessions[i].s.ticket != NULL;
  return n;
}

/* The kept session of peer, or NULL. */
static session_t *session_find(http_tls_client_t *t, const char *peer) {
  for (size_t i = 0; i < SESSIONS; i++)
    if (t->sessions[i].peer[0] && !strcmp(t->sessions[i].peer, peer))
      return &t->sessions[i];
  return NULL;
}

/* Keep the session of a completed handshake (a ticket the server gave, or
 * its id) for the next connection to the same peer. */
static void session_keep(http_tls_client_t *t, const char *peer, const mbedtls_ssl_context *ssl) {
  session_t *e = session_find(t, peer);
  if (!e) { /* a free entry, else the least recently used */
    e = &t->sessions[0];
    for (size_t i = 0; i < SESSIONS; i++) {
      if (!t->sessions[i].peer[0]) {
        e = &t->sessions[i];
        break;
      }
      if (t->sessions[i].used < e->used)
        e = &t->sessions[i];
    }
  }
  mbedtls_ssl_session_free(&e->s);
  mbedtls_ssl_session_init(&e->s);
  if (mbedtls_ssl_get_session(ssl, &e->s) != 0) {
    e->peer[0] = '\0';
    return;
  }
  snprintf(e->peer, sizeof(e->peer), "%s", peer);
  e->used = ++t->clock;
}

/* ---- socket I/O ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  http_dial_t *d = ctx;
  ssize_t n = send(d->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return (int)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                               : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  http_dial_t *d = ctx;
  ssize_t n = recv(d->fd, buf, len, 0);
  if (n >= 0)
    return (int)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return MBEDTLS_ERR_SSL_WANT_READ;
  return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* > 0 bytes, 0 EOF, -EAGAIN, or another negative errno. */
static long sock_read(http_dial_t *d, char *buf, size_t len) {
  if (d->tls) {
    int n = mbedtls_ssl_read(&d->ssl, (unsigned char *)buf, len);
    if (n > 0)
      return n;
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
      return -EAGAIN;
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
      return 0;
    return -ECONNRESET;
  }
  ssize_t n = recv(d->fd, buf, len, 0);
  if (n >= 0)
    return (long)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return -EAGAIN;
  return -errno;
}

static long sock_write(http_dial_t *d, const char *buf, size_t len) {
  if (d->tls) {
    int n = mbedtls_ssl_write(&d->ssl, (const unsigned char *)buf, len);
    if (n >= 0)
      return n;
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
      return -EAGAIN;
    return -ECONNRESET;
  }
  ssize_t n = send(d->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return (long)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return -EAGAIN;
  return -errno;
}

/* ---- lifetime ---- */

static size_t out_queued(const http_dial_t *d) { return d->out.len - d->out_off; }

static void dial_free(http_dial_t *d) {
  orphan_del(d);
  ev_io_stop(d->loop, &d->io);
  ev_timer_stop(d->loop, &d->timer);
  if (d->tls)
    mbedtls_ssl_free(&d->ssl);
  http_tls_client_free(d->tc); /* the connection's reference */
  if (d->fd >= 0)
    close(d->fd);
  buf_done(&d->in);
  buf_done(&d->out);
  free(d);
}

/* End with err: the close callback (unless the user closed), then free
 * (now, or when our callback returns). */
static void dial_fail(http_dial_t *d, int err) {
  d->dead = true;
  d->out_off = d->out.len; /* nothing more is sent */
  if (!d->quiet) {
    d->quiet = true;
    if (d->cbs.close)
      d->cbs.close(d, err, d->data);
  }
}

static void update(http_dial_t *d) {
  int ev = 0;
  if (d->state == D_LINGER) {
    ev = EV_READ;
  } else if (d->state == D_CONNECTING) {
    ev = EV_WRITE;
  } else if (d->state == D_HANDSHAKE) {
    ev = EV_READ | EV_WRITE;
  } else {
    if (!d->paused && !d->eof && !d->quiet)
      ev |= EV_READ;
    if (out_queued(d) > 0)
      ev |= EV_WRITE;
  }
  if (ev != d->io_events || ev_is_active(&d->io) != (ev != 0)) {
    ev_io_stop(d->loop, &d->io);
    d->io_events = ev;
    if (ev) {
      ev_io_set(&d->io, d->fd, ev);
      ev_io_start(d->loop, &d->io);
    }
  }
}

static void flush(http_dial_t *d) {
  while (out_queued(d) > 0 && !d->dead) {
    size_t n = out_queued(d);
    if (n > READ_CHUNK)
      n = READ_CHUNK;
    long w = sock_write(d, d->out.data + d->out_off, n);
    if (w == -EAGAIN)
      break;
    if (w < 0) {
      dial_fail(d, (int)w);
      return;
    }
    d->out_off += (size_t)w;
  }
  if (d->out_off == d->out.len) {
    d->out_off = 0;
    if (d->out.cap > (256 << 10))
      buf_done(&d->out);
    else
      buf_reset(&d->out);
  }
  if (d->drain && !d->quiet && out_queued(d) <= d->low) {
    http_dial_drain_cb cb = d->drain;
    d->drain = NULL;
    cb(d, d->data);
  }
}

/* Bytes arrived in state D_HEAD (in d->in): parse the head once complete. */
static void take_head(http_dial_t *d) {
  http_response_t resp;
  long n = http_parse_response(d->in.data, d->in.len, HEAD_MAX, &resp);
  if (n == 0)
    return;
  if (n < 0) {
    dial_fail(d, -EPROTO);
    return;
  }
  d->state = D_RAW;
  ev_timer_stop(d->loop, &d->timer);
  if (d->cbs.head)
    d->cbs.head(d, &resp, d->in.data, (size_t)n, d->data);
  if (!d->quiet && (size_t)n < d->in.len && d->cbs.data)
    d->cbs.data(d, d->in.data + n, d->in.len - (size_t)n, d->data);
  buf_done(&d->in);
}

static void do_read(http_dial_t *d) {
  char tmp[READ_CHUNK];
  for (int round = 0; round < READ_ROUNDS && !d->quiet && !d->eof; round++) {
    if (d->state == D_RAW && d->paused)
      return;
    long n = sock_read(d, tmp, sizeof(tmp));
    if (n == -EAGAIN)
      return;
    if (n < 0) {
      dial_fail(d, (int)n);
      return;
    }
    if (n == 0) {
      d->eof = true;
      if (d->state == D_HEAD)
        dial_fail(d, -EPROTO); /* closed before a whole head */
      return;
    }
    if (d->state == D_HEAD) {
      if (buf_append(&d->in, tmp, (size_t)n) < 0) {
        dial_fail(d, -EPROTO);
        return;
      }
      take_head(d);
    } else if (d->cbs.data) {
      d->cbs.data(d, tmp, (size_t)n, d->data);
    }
  }
  /* More may be buffered in mbedTLS or the socket: come back next round. */
  if (!d->quiet && !d->eof && !(d->state == D_RAW && d->paused))
    ev_feed_event(d->loop, &d->io, EV_READ);
}

static void handshake(http_dial_t *d) {
  int r = mbedtls_ssl_handshake(&d->ssl);
  if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
    return;
  if (r != 0) {
    session_t *e = session_find(d->tc, d->peer);
    if (e)
      e->peer[0] = '\0'; /* do not offer it again */
    /* a verifying client says whether it was the certificate */
    dial_fail(d, d->tc->server_name && mbedtls_ssl_get_verify_result(&d->ssl) != 0 ? -EKEYREJECTED
                                                                                    : -ECONNABORTED);
    return;
  }
  session_keep(d->tc, d->peer, &d->ssl);
  d->state = D_HEAD;
}

/* A user close whose output is out: say goodbye and linger. */
static void linger_start(http_dial_t *d) {
  if (d->tls)
    mbedtls_ssl_close_notify(&d->ssl);
  shutdown(d->fd, SHUT_WR);
  d->state = D_LINGER;
  ev_timer_stop(d->loop, &d->timer);
  ev_timer_set(&d->timer, LINGER_SECONDS, 0);
  ev_timer_start(d->loop, &d->timer);
}

/* Read and drop until EOF; true when done. */
static bool linger_read(http_dial_t *d) {
  char tmp[16 << 10];
  for (int i = 0; i < 64; i++) {
    ssize_t n = recv(d->fd, tmp, sizeof(tmp), 0);
    if (n > 0)
      continue;
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
  }
  return false;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  http_dial_t *d = container_of(w, http_dial_t, io);
  if (d->state == D_LINGER) {
    if (linger_read(d))
      dial_free(d);
    return;
  }
  d->busy++;
  if (d->state == D_CONNECTING && !d->dead) {
    int e = 0;
    socklen_t el = sizeof(e);
    if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
      e = errno;
    if (e)
      dial_fail(d, -e);
    else if (revents & EV_WRITE)
      d->state = d->tls ? D_HANDSHAKE : D_HEAD;
  }
  if (d->state == D_HANDSHAKE && !d->dead)
    handshake(d);
  if ((d->state == D_HEAD || d->state == D_RAW) && !d->dead) {
    flush(d);
    if (!d->quiet && !d->dead)
      do_read(d);
    if (!d->dead)
      flush(d);
  }
  /* The peer's EOF ends the connection once our output is out. */
  if (d->eof && !d->dead && out_queued(d) == 0)
    dial_fail(d, 0);
  d->busy--;
  if (d->dead) {
    dial_free(d);
    return;
  }
  if (d->user_closed && out_queued(d) == 0)
    linger_start(d);
  update(d);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  http_dial_t *d = container_of(w, http_dial_t, timer);
  /* connect, handshake and head took too long, or a closing flush did */
  d->busy++;
  dial_fail(d, -ETIMEDOUT);
  d->busy--;
  dial_free(d);
}

int http_dial_start(struct ev_loop *loop, const char *host, int port, http_tls_client_t *tls,
                    const char *req, size_t len, double timeout, const http_dial_cbs_t *cbs,
                    void *data, http_dial_t **ret) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t sl;
  struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)&ss;
  if (port < 1 || port > 65535)
    return -EINVAL;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    sl = sizeof(*a4);
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    sl = sizeof(*a6);
  } else {
    return -EINVAL;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
    int e = -errno;
    close(fd);
    return e;
  }
  http_dial_t *d = xcalloc(1, sizeof(*d));
  d->loop = loop;
  d->fd = fd;
  d->cbs = *cbs;
  d->data = data;
  d->state = D_CONNECTING;
  buf_init(&d->in, HEAD_MAX + READ_CHUNK);
  buf_init(&d->out, OUT_MAX);
  buf_append(&d->out, req, len);
  if (tls) {
    d->tls = true;
    mbedtls_ssl_init(&d->ssl);
    if (mbedtls_ssl_setup(&d->ssl, &tls->ssl) != 0) {
      d->tls = false;
      mbedtls_ssl_free(&d->ssl);
      dial_free(d);
      return -ENOMEM;
    }
    mbedtls_ssl_set_bio(&d->ssl, d, bio_send, bio_recv, NULL);
    if (tls->server_name && mbedtls_ssl_set_hostname(&d->ssl, tls->server_name) != 0) {
      d->tls = false;
      mbedtls_ssl_free(&d->ssl);
      dial_free(d);
      return -ENOMEM;
    }
    d->tc = tls;
    tls->refs++;
    snprintf(d->peer, sizeof(d->peer), "%.45s:%d", host, port);
    session_t *e = session_find(tls, d->peer);
    if (e) {
      e->used = ++tls->clock;
      mbedtls_ssl_set_session(&d->ssl, &e->s); /* a failure only means a full handshake */
    }
  }
  ev_io_init(&d->io, io_cb, fd, 0);
  ev_timer_init(&d->timer, timer_cb, timeout > 0 ? timeout : 10.0, 0);
  ev_timer_start(loop, &d->timer);
  update(d);
  *ret = d;
  return 0;
}

long http_dial_write(http_dial_t *d, const char *bytes, size_t len) {
  if (d->quiet || d->dead)
    return -EPIPE;
  if (d->out_off > 0 && d->out_off == d->out.len) {
    d->out_off = 0;
    buf_reset(&d->out);
  }
  if (buf_append(&d->out, bytes, len) < 0)
    return -ENOBUFS;
  if (!d->busy)
    update(d);
  return (long)out_queued(d);
}

void http_dial_pause(http_dial_t *d, bool paused) {
  if (d->paused == paused)
    return;
  d->paused = paused;
  if (!d->busy)
    update(d);
  if (!paused && d->state == D_RAW && !d->quiet)
    ev_feed_event(d->loop, &d->io, EV_READ); /* mbedTLS may hold bytes */
}

void http_dial_on_drain(http_dial_t *d, size_t low_water, http_dial_drain_cb cb) {
  d->drain = cb;
  d->low = low_water;
  if (cb && out_queued(d) <= low_water && !d->quiet)
    ev_feed_event(d->loop, &d->io, EV_WRITE);
}

void http_dial_close(http_dial_t *d) {
  d->quiet = true;
  d->user_closed = true;
  d->drain = NULL;
  if (d->state != D_HEAD && d->state != D_RAW)
    d->dead = true; /* not connected yet: nothing worth flushing */
  if (!d->dead && !d->orphan)
    orphan_add(d); /* lives on to flush and linger, unless freed below */
  if (d->busy)
    return; /* io_cb frees it, or flushes and lingers */
  if (d->dead) {
    dial_free(d);
    return;
  }
  if (out_queued(d) == 0) {
    linger_start(d);
    update(d);
    return;
  }
  ev_timer_stop(d->loop, &d->timer);
  ev_timer_set(&d->timer, FLUSH_TIMEOUT, 0);
  ev_timer_start(d->loop, &d->timer);
  update(d);
}

void http_dial_reap(struct ev_loop *loop) {
  for (;;) {
    http_dial_t *d;
    pthread_mutex_lock(&orphans_lock);
    for (d = orphans; d && d->loop != loop; d = d->onext)
      ;
    pthread_mutex_unlock(&orphans_lock);
    if (!d)
      return;
    dial_free(d);
  }
}
