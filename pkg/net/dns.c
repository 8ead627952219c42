/* The node's cluster DNS server: UDP and TCP listeners (RFC 1035 4.2,
 * RFC 7766), the cluster zone from dnszone, a forwarder to the node's
 * resolvers with retry, TCP fallback on TC and SERVFAIL, and an answer
 * cache that honours TTLs and negative caching (RFC 2308 section 5). */
#include "net/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/rtnl.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/strmap.h"

#define MAX_UPSTREAMS 3 /* as resolv.conf's MAXNS */
#define TCP_OUT_MAX (256 * 1024)
#define CACHE_TTL_MAX 3600
#define CACHE_NEG_TTL_MAX 1800
#define UDP_BATCH 64

#define container_of(p, type, field) ((type *)((char *)(p) - offsetof(type, field)))

typedef struct tcp_conn tcp_conn_t;
typedef struct pending pending_t;
typedef struct entry entry_t;

struct tcp_conn {
  dns_server_t *s;
  int fd;
  ev_io rio, wio;
  ev_timer idle;
  uint8_t *in; /* 2 + DNS_MSG_MAX */
  size_t inlen;
  buf_t out;
  size_t outoff;
  tcp_conn_t *prev, *next;
};

/* Where an answer goes. */
typedef struct {
  tcp_conn_t *conn; /* NULL: UDP to peer */
  struct sockaddr_in peer;
  uint16_t udp_size;
  bool gone;        /* the TCP client closed: answer nobody */
} dest_t;

struct pending {
  dns_server_t *s;
  pending_t *prev, *next;
  dest_t dest;
  uint16_t client_id, up_id;
  uint8_t *query; /* the query sent upstream (the client's, or a chase's) */
  size_t qlen;
  uint8_t *orig;  /* a chase: the client's query, whose answer starts with a CNAME */
  size_t olen;
  char target[DNS_NAME_MAX]; /* a chase: the CNAME's target */
  char key[DNS_NAME_MAX + 32];
  int server;     /* index of the upstream being tried */
  int tries;
  int fd;         /* upstream socket (UDP, or TCP when tcp) */
  bool tcp;
  ev_io io;
  ev_timer timer;
  uint8_t *tbuf;  /* TCP: outgoing then incoming */
  size_t tlen, toff;
};

struct entry {
  char *key;
  uint8_t *msg;
  size_t len;
  ev_tstamp stored, expires;
  entry_t *older, *newer;
};

struct dns_server {
  struct ev_loop *loop;
  dns_server_opts_t o;
  char listen_ip[64];
  int port;
  int udp_fd, tcp_fd;
  ev_io udp_io, tcp_io;
  struct sockaddr_in up[MAX_UPSTREAMS];
  int nup;
  tcp_conn_t *conns;
  int nconns;
  pending_t *pending;
  int npending;
  strmap_t cache;
  entry_t *oldest, *newest;
  size_t ncache;
  bool zone_ready;
  dns_server_stats_t st;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

static uint16_t random_id(void) {
  uint16_t v;
  if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
    struct timespec ts; /* no entropy yet (early boot): still vary */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = (uint16_t)(ts.tv_nsec ^ (ts.tv_nsec >> 16) ^ getpid());
  }
  return v;
}

/* ---- the cache ---- */

static void cache_unlink(dns_server_t *s, entry_t *e) {
  if (e->older)
    e->older->newer = e->newer;
  else
    s->oldest = e->newer;
  if (e->newer)
    e->newer->older = e->older;
  else
    s->newest = e->older;
  strmap_del(&s->cache, e->key);
  free(e->key);
  free(e->msg);
  free(e);
  s->ncache--;
}

typedef struct {
  uint32_t min, neg;
  bool any;
  int rcode;
  bool soa;
} ttl_ctx_t;

static int ttl_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  (void)n;
  ttl_ctx_t *c = data;
  if (rr->type == DNS_TYPE_OPT)
    return 0;
  if (c->rcode == DNS_RCODE_NOERROR && rr->section == DNS_SEC_ANSWER) {
    if (!c->any || rr->ttl < c->min)
      c->min = rr->ttl;
    c->any = true;
  } else if (rr->section == DNS_SEC_AUTHORITY && rr->type == DNS_TYPE_SOA && !c->soa &&
             rr->rdlength >= 22) {
    uint32_t minimum = ((uint32_t)p[rr->rdata_off + rr->rdlength - 4] << 24) |
                       ((uint32_t)p[rr->rdata_off + rr->rdlength - 3] << 16) |
                       ((uint32_t)p[rr->rdata_off + rr->rdlength - 2] << 8) |
                       p[rr->rdata_off + rr->rdlength - 1];
    c->neg = minimum < rr->ttl ? minimum : rr->ttl;
    c->soa = true;
  }
  return 0;
}

/* How long msg may be cached: the least answer TTL, or for NXDOMAIN and
 * NODATA the SOA's min(TTL, minimum); 0 when it must not be. */
static uint32_t cache_ttl(const uint8_t *msg, size_t len) {
  dns_header_t h;
  if (dns_header_read(msg, len, &h) < 0 || (h.flags & DNS_FLAG_TC))
    return 0;
  ttl_ctx_t c = {.rcode = DNS_RCODE(h.flags)};
  if ((c.rcode != DNS_RCODE_NOERROR && c.rcode != DNS_RCODE_NXDOMAIN) ||
      dns_msg_walk(msg, len, ttl_cb, &c) != 0)
    return 0;
  if (c.any)
    return c.min > CACHE_TTL_MAX ? CACHE_TTL_MAX : c.min;
  if (c.soa)
    return c.neg > CACHE_NEG_TTL_MAX ? CACHE_NEG_TTL_MAX : c.neg;
  return 0;
}

static void cache_put(dns_server_t *s, const char *key, const uint8_t *msg, size_t len) {
  uint32_t ttl = cache_ttl(msg, len);
  if (ttl == 0)
    return;
  entry_t *old = strmap_get(&s->cache, key);
  if (old)
    cache_unlink(s, old);
  while (s->ncache >= s->o.cache_max && s->oldest)
    cache_unlink(s, s->oldest);
  entry_t *e = xcalloc(1, sizeof(*e));
  e->key = xstrdup(key);
  e->msg = xmalloc(len);
  memcpy(e->msg, msg, len);
  e->len = len;
  e->stored = ev_now(s->loop);
  e->expires = e->stored + ttl;
  e->older = s->newest;
  if (s->newest)
    s->newest->newer = e;
  else
    s->oldest = e;
  s->newest = e;
  strmap_set(&s->cache, e->key, e);
  s->ncache++;
}

typedef struct {
  uint32_t age;
} age_ctx_t;
static int age_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  (void)n;
  age_ctx_t *c = data;
  if (rr->type != DNS_TYPE_OPT)
    put32((uint8_t *)p + rr->ttl_off, rr->ttl > c->age ? rr->ttl - c->age : 0);
  return 0;
}

/* A copy of the cached answer with TTLs aged (caller frees), or NULL. */
static uint8_t *cache_get(dns_server_t *s, const char *key, size_t *ret_len) {
  entry_t *e = strmap_get(&s->cache, key);
  if (!e)
    return NULL;
  ev_tstamp now = ev_now(s->loop);
  if (now >= e->expires) {
    cache_unlink(s, e);
    return NULL;
  }
  uint8_t *m = xmalloc(e->len);
  memcpy(m, e->msg, e->len);
  age_ctx_t c = {(uint32_t)(now - e->stored)};
  dns_msg_walk(m, e->len, age_cb, &c);
  *ret_len = e->len;
  return m;
}

static void cache_key(const dns_query_t *q, char *out, size_t len) {
  char lower[DNS_NAME_MAX];
  size_t i = 0;
  for (; q->qname[i] && i + 1 < sizeof(lower); i++)
    lower[i] = (char)(q->qname[i] >= 'A' && q->qname[i] <= 'Z' ? q->qname[i] + 32 : q->qname[i]);
  lower[i] = '\0';
  snprintf(out, len, "%s|%u|%u", lower, q->qtype, q->qclass);
}

/* ---- answering ---- */

static void conn_close(tcp_conn_t *c);

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  tcp_conn_t *c = container_of(w, tcp_conn_t, wio);
  while (c->outoff < c->out.len) {
    ssize_t r = write(c->fd, c->out.data + c->outoff, c->out.len - c->outoff);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (r <= 0) {
      conn_close(c);
      return;
    }
    c->outoff += (size_t)r;
  }
  buf_reset(&c->out);
  c->outoff = 0;
  ev_io_stop(c->s->loop, &c->wio);
}

/* Send msg (its id already set) to d. UDP answers over the client's size
 * go as header + question with TC, so that the client asks over TCP. */
static void send_answer(dns_server_t *s, const dest_t *d, uint8_t *msg, size_t len) {
  if (d->conn) {
    uint8_t l[2];
    put16(l, (uint16_t)len);
    if (buf_append(&d->conn->out, l, 2) < 0 || buf_append(&d->conn->out, msg, len) < 0) {
      conn_close(d->conn); /* a client that does not read its answers */
      return;
    }
    ev_io_start(s->loop, &d->conn->wio);
    conn_write_cb(s->loop, &d->conn->wio, EV_WRITE);
    return;
  }
  if (len > d->udp_size) {
    dns_query_t q;
    if (dns_query_parse(msg, len, &q) < 0 || q.question_end > d->udp_size)
      return;
    put16(msg + 2, (uint16_t)(get16(msg + 2) | DNS_FLAG_TC));
    put16(msg + 6, 0);
    put16(msg + 8, 0);
    put16(msg + 10, 0);
    len = q.question_end;
    s->st.truncated++;
  }
  sendto(s->udp_fd, msg, len, 0, (const struct sockaddr *)&d->peer, sizeof(d->peer));
}

/* An answer we make ourselves: header, the client's question, rcode. */
static void send_rcode(dns_server_t *s, const dest_t *d, const uint8_t *pkt, const dns_query_t *q,
                       int rcode) {
  uint8_t buf[DNS_MSG_MAX];
  dns_writer_t w;
  dns_writer_init(&w, buf, sizeof(buf));
  dns_writer_header(&w, q->h.id,
                    (uint16_t)(DNS_FLAG_QR | (q->h.flags & DNS_FLAG_RD) | DNS_FLAG_RA | rcode));
  dns_writer_question_raw(&w, pkt, q->question_end);
  if (q->edns)
    dns_writer_opt(&w, DNS_EDNS_SIZE);
  size_t len = dns_writer_finish(&w, false);
  if (rcode == DNS_RCODE_SERVFAIL)
    s->st.servfail++;
  send_answer(s, d, buf, len);
}

static void chase(dns_server_t *s, const dest_t *d, const uint8_t *pkt, const dns_query_t *q,
                  const char *target);
static bool cname_only(const uint8_t *m, size_t n, char *target, size_t len);

static void answer_zone(dns_server_t *s, const dest_t *d, const uint8_t *pkt,
                        const dns_query_t *q) {
  uint8_t buf[DNS_MSG_MAX];
  dns_writer_t w;
  dns_writer_init(&w, buf, d->conn ? DNS_MSG_MAX : d->udp_size);
  w.reserve = q->edns ? DNS_OPT_LEN : 0;
  dns_writer_header(&w, q->h.id,
                    (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA | (q->h.flags & DNS_FLAG_RD) |
                               DNS_FLAG_RA));
  if (dns_writer_question_raw(&w, pkt, q->question_end) < 0)
    return;
  int rcode = dns_zone_answer(&s->o.zone, q->qname, q->qtype, &w);
  char target[DNS_NAME_MAX];
  if ((q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_AAAA) && rcode == DNS_RCODE_NOERROR &&
      cname_only(buf, dns_writer_finish(&w, false), target, sizeof(target))) {
    /* an ExternalName: its target's addresses follow the CNAME, from the
     * zone (one level) or from upstream */
    if (dns_zone_owns(&s->o.zone, target, q->qtype)) {
      rcode = dns_zone_answer(&s->o.zone, target, q->qtype, &w);
    } else {
      s->st.zone++;
      chase(s, d, pkt, q, target);
      return;
    }
  }
  if (q->edns)
    dns_writer_opt(&w, DNS_EDNS_SIZE);
  size_t len = dns_writer_finish(&w, true);
  put16(buf + 2, (uint16_t)((get16(buf + 2) & ~0xf) | rcode));
  if (w.truncated)
    s->st.truncated++;
  s->st.zone++;
  send_answer(s, d, buf, len);
}

/* ---- ExternalName targets outside the zone ---- */

typedef struct {
  int answers;
  bool cname;
  char target[DNS_NAME_MAX];
} cname_ctx_t;
static int cname_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  cname_ctx_t *c = data;
  if (rr->section != DNS_SEC_ANSWER)
    return 0;
  c->answers++;
  size_t off = rr->rdata_off;
  c->cname = rr->type == DNS_TYPE_CNAME &&
             dns_name_read(p, n, &off, c->target, sizeof(c->target), true) == 0;
  return 0;
}

/* The target when the answer in m is exactly one CNAME. */
static bool cname_only(const uint8_t *m, size_t n, char *target, size_t len) {
  cname_ctx_t c = {0};
  if (dns_msg_walk(m, n, cname_cb, &c) != 0 || c.answers != 1 || !c.cname)
    return false;
  snprintf(target, len, "%s", c.target);
  return true;
}

typedef struct {
  dns_writer_t *w;
} copy_ctx_t;
/* Copy the upstream's A, AAAA and CNAME answers behind our CNAME. */
static int copy_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  copy_ctx_t *c = data;
  char owner[DNS_NAME_MAX], rd[DNS_NAME_MAX];
  size_t off = rr->name_off, roff = rr->rdata_off;
  if (rr->section != DNS_SEC_ANSWER || dns_name_read(p, n, &off, owner, sizeof(owner), false) < 0)
    return 0;
  if (rr->type == DNS_TYPE_A && rr->rdlength == 4)
    dns_writer_a(c->w, DNS_SEC_ANSWER, owner, rr->ttl, p + rr->rdata_off);
  else if (rr->type == DNS_TYPE_AAAA && rr->rdlength == 16)
    dns_writer_aaaa(c->w, DNS_SEC_ANSWER, owner, rr->ttl, p + rr->rdata_off);
  else if (rr->type == DNS_TYPE_CNAME && dns_name_read(p, n, &roff, rd, sizeof(rd), false) == 0)
    dns_writer_name_rr(c->w, DNS_SEC_ANSWER, owner, DNS_TYPE_CNAME, rr->ttl, rd);
  return 0;
}

/* The answer to the client's query orig: our CNAME to target, then what
 * the upstream answered for target (up NULL: the CNAME alone), as CoreDNS
 * answers ExternalName services. */
static void send_chased(dns_server_t *s, const dest_t *d, const uint8_t *orig, size_t olen,
                        const char *target, const uint8_t *up, size_t ulen) {
  dns_query_t q;
  if (dns_query_parse(orig, olen, &q) < 0)
    return;
  uint8_t buf[DNS_MSG_MAX];
  dns_writer_t w;
  dns_writer_init(&w, buf, d->conn ? DNS_MSG_MAX : d->udp_size);
  w.reserve = q.edns ? DNS_OPT_LEN : 0;
  int rcode = up ? DNS_RCODE(get16(up + 2)) : DNS_RCODE_NOERROR;
  if (rcode != DNS_RCODE_NXDOMAIN)
    rcode = DNS_RCODE_NOERROR;
  dns_writer_header(&w, q.h.id,
                    (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA | (q.h.flags & DNS_FLAG_RD) | DNS_FLAG_RA |
                               rcode));
  if (dns_writer_question_raw(&w, orig, q.question_end) < 0)
    return;
  dns_writer_name_rr(&w, DNS_SEC_ANSWER, q.qname, DNS_TYPE_CNAME, s->o.zone.ttl, target);
  if (up) {
    copy_ctx_t c = {&w};
    dns_msg_walk(up, ulen, copy_cb, &c);
  }
  if (q.edns)
    dns_writer_opt(&w, DNS_EDNS_SIZE);
  size_t len = dns_writer_finish(&w, true);
  if (w.truncated)
    s->st.truncated++;
  send_answer(s, d, buf, len);
}

/* ---- forwarding ---- */

static void pending_free(pending_t *p) {
  dns_server_t *s = p->s;
  ev_timer_stop(s->loop, &p->timer);
  ev_io_stop(s->loop, &p->io);
  if (p->fd >= 0)
    close(p->fd);
  if (p->prev)
    p->prev->next = p->next;
  else
    s->pending = p->next;
  if (p->next)
    p->next->prev = p->prev;
  s->npending--;
  free(p->query);
  free(p->orig);
  free(p->tbuf);
  free(p);
}

/* The upstream's answer (or NULL: all failed) goes to the client. */
static void pending_done(pending_t *p, uint8_t *msg, size_t len) {
  dns_server_t *s = p->s;
  if (p->orig) {
    if (msg)
      cache_put(s, p->key, msg, len);
    if (!p->dest.gone)
      send_chased(s, &p->dest, p->orig, p->olen, p->target, msg, len);
  } else if (msg) {
    cache_put(s, p->key, msg, len);
    put16(msg, p->client_id);
    if (!p->dest.gone)
      send_answer(s, &p->dest, msg, len);
  } else {
    dns_query_t q;
    if (!p->dest.gone && dns_query_parse(p->query, p->qlen, &q) == 0) {
      q.h.id = p->client_id;
      send_rcode(s, &p->dest, p->query, &q, DNS_RCODE_SERVFAIL);
    }
  }
  pending_free(p);
}

static void up_cb(struct ev_loop *loop, ev_io *w, int revents);
static int try_upstream(pending_t *p);

/* The current upstream failed: the next one, or SERVFAIL. */
static void next_upstream(pending_t *p) {
  ev_timer_stop(p->s->loop, &p->timer);
  ev_io_stop(p->s->loop, &p->io);
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  p->tcp = false;
  free(p->tbuf);
  p->tbuf = NULL;
  for (;;) {
    if (++p->tries >= p->s->nup) {
      pending_done(p, NULL, 0);
      return;
    }
    p->server = (p->server + 1) % p->s->nup;
    p->s->st.retries++;
    if (try_upstream(p) == 0)
      return;
  }
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  next_upstream(container_of(w, pending_t, timer));
}

/* Whether msg answers p's question (same id, QR, same question). */
static bool answers(const pending_t *p, const uint8_t *msg, size_t len) {
  dns_query_t a, q;
  if (dns_query_parse(msg, len, &a) < 0 || dns_query_parse(p->query, p->qlen, &q) < 0)
    return false;
  return a.h.id == p->up_id && (a.h.flags & DNS_FLAG_QR) && a.qtype == q.qtype &&
         a.qclass == q.qclass && dns_name_equal(a.qname, q.qname);
}

static int start_tcp(pending_t *p) {
  dns_server_t *s = p->s;
  ev_io_stop(s->loop, &p->io);
  close(p->fd);
  p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0)
    return -errno;
  if (connect(p->fd, (const struct sockaddr *)&s->up[p->server], sizeof(s->up[0])) < 0 &&
      errno != EINPROGRESS)
    return -errno;
  p->tcp = true;
  p->tbuf = xmalloc(2 + DNS_MSG_MAX);
  put16(p->tbuf, (uint16_t)p->qlen);
  memcpy(p->tbuf + 2, p->query, p->qlen);
  put16(p->tbuf + 2, p->up_id);
  p->tlen = 2 + p->qlen;
  p->toff = 0;
  s->st.upstream_tcp++;
  ev_io_set(&p->io, p->fd, EV_WRITE);
  ev_io_start(s->loop, &p->io);
  /* the UDP try's timer is still running: libev's set is only for a
   * stopped watcher */
  ev_timer_stop(s->loop, &p->timer);
  ev_timer_set(&p->timer, s->o.timeout, 0.);
  ev_timer_start(s->loop, &p->timer);
  return 0;
}

/* TCP: write the query, then read the 2-byte length and the answer. */
static void up_tcp(pending_t *p, int revents) {
  dns_server_t *s = p->s;
  if (revents & EV_WRITE) {
    ssize_t r = write(p->fd, p->tbuf + p->toff, p->tlen - p->toff);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (r <= 0) {
      next_upstream(p);
      return;
    }
    p->toff += (size_t)r;
    if (p->toff == p->tlen) {
      ev_io_stop(s->loop, &p->io);
      ev_io_set(&p->io, p->fd, EV_READ);
      ev_io_start(s->loop, &p->io);
      p->toff = 0;
    }
    return;
  }
  size_t want = p->toff < 2 ? 2 : 2 + (size_t)get16(p->tbuf);
  ssize_t r = read(p->fd, p->tbuf + p->toff, want - p->toff);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r <= 0) {
    next_upstream(p);
    return;
  }
  p->toff += (size_t)r;
  if (p->toff < 2 || p->toff < 2 + (size_t)get16(p->tbuf))
    return;
  size_t len = get16(p->tbuf);
  if (!answers(p, p->tbuf + 2, len)) {
    next_upstream(p);
    return;
  }
  uint8_t *msg = xmalloc(len ? len : 1);
  memcpy(msg, p->tbuf + 2, len);
  pending_done(p, msg, len);
  free(msg);
}

static void up_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  pending_t *p = container_of(w, pending_t, io);
  if (p->tcp) {
    up_tcp(p, revents);
    return;
  }
  uint8_t buf[DNS_MSG_MAX];
  ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n < 0) { /* ICMP unreachable and the like */
    next_upstream(p);
    return;
  }
  if (!answers(p, buf, (size_t)n))
    return; /* not ours: keep waiting */
  if (get16(buf + 2) & DNS_FLAG_TC) {
    if (start_tcp(p) < 0)
      next_upstream(p);
    return;
  }
  pending_done(p, buf, (size_t)n);
}

/* Send the query to upstream p->server over UDP. */
static int try_upstream(pending_t *p) {
  dns_server_t *s = p->s;
  p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0)
    return -errno;
  /* a connected socket of its own: a random source port, and answers
   * from anyone but the server are not even read */
  if (connect(p->fd, (const struct sockaddr *)&s->up[p->server], sizeof(s->up[0])) < 0) {
    int e = -errno;
    close(p->fd);
    p->fd = -1;
    return e;
  }
  p->up_id = random_id();
  put16(p->query, p->up_id);
  if (send(p->fd, p->query, p->qlen, 0) < 0) {
    int e = -errno;
    close(p->fd);
    p->fd = -1;
    return e;
  }
  ev_io_set(&p->io, p->fd, EV_READ);
  ev_io_start(s->loop, &p->io);
  ev_timer_stop(s->loop, &p->timer);
  ev_timer_set(&p->timer, s->o.timeout, 0.);
  ev_timer_start(s->loop, &p->timer);
  return 0;
}

/* Send pkt (whose parsed form is q) upstream; the answer goes to d. With
 * orig, pkt asks for target on behalf of the client's query orig. */
static void forward(dns_server_t *s, const dest_t *d, const uint8_t *pkt, size_t n,
                    const dns_query_t *q, const char *key, const uint8_t *orig, size_t olen,
                    const char *target) {
  if (s->nup == 0 || s->npending >= s->o.max_pending) {
    if (orig)
      send_chased(s, d, orig, olen, target, NULL, 0);
    else
      send_rcode(s, d, pkt, q, DNS_RCODE_SERVFAIL);
    return;
  }
  pending_t *p = xcalloc(1, sizeof(*p));
  p->s = s;
  p->dest = *d;
  p->client_id = q->h.id;
  p->query = xmalloc(n);
  memcpy(p->query, pkt, n);
  p->qlen = n;
  p->fd = -1;
  snprintf(p->key, sizeof(p->key), "%s", key);
  if (orig) {
    p->orig = xmalloc(olen);
    memcpy(p->orig, orig, olen);
    p->olen = olen;
    snprintf(p->target, sizeof(p->target), "%s", target);
  }
  ev_init(&p->io, up_cb);
  ev_init(&p->timer, timeout_cb);
  p->next = s->pending;
  if (s->pending)
    s->pending->prev = p;
  s->pending = p;
  s->npending++;
  s->st.forwarded++;
  p->tries = 0;
  p->server = 0;
  if (try_upstream(p) < 0)
    next_upstream(p);
}

static void cache_key(const dns_query_t *q, char *out, size_t len);

/* Ask for target (q's type) for the client's query pkt: from the cache,
 * else upstream; the client gets our CNAME and the target's records. */
static void chase(dns_server_t *s, const dest_t *d, const uint8_t *pkt, const dns_query_t *q,
                  const char *target) {
  /* the header and question (at most 12 + 255 + 4 bytes) are all
   * send_chased needs, and an OPT record to say the client speaks EDNS */
  size_t olen = q->question_end;
  uint8_t orig[512], up[512];
  if (olen + DNS_OPT_LEN > sizeof(orig))
    return;
  memcpy(orig, pkt, olen);
  put16(orig + 6, 0); /* an, ns, ar: the copy ends after the question */
  put16(orig + 8, 0);
  put16(orig + 10, 0);
  if (q->edns) { /* keep "the client speaks EDNS" for the answer */
    static const uint8_t opt[DNS_OPT_LEN] = {0, 0, DNS_TYPE_OPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    memcpy(orig + olen, opt, sizeof(opt));
    put16(orig + 3 + olen, q->udp_size);
    olen += sizeof(opt);
    put16(orig + 10, 1);
  }
  dns_writer_t w;
  dns_writer_init(&w, up, 512);
  dns_writer_header(&w, 0, DNS_FLAG_RD);
  if (dns_writer_question(&w, target, q->qtype, DNS_CLASS_IN) < 0) {
    send_chased(s, d, orig, olen, target, NULL, 0);
    return;
  }
  size_t n = dns_writer_finish(&w, false);
  dns_query_t tq;
  if (dns_query_parse(up, n, &tq) < 0) {
    send_chased(s, d, orig, olen, target, NULL, 0);
    return;
  }
  char key[DNS_NAME_MAX + 32];
  cache_key(&tq, key, sizeof(key));
  size_t len;
  uint8_t *hit = cache_get(s, key, &len);
  if (hit) {
    s->st.cache_hits++;
    send_chased(s, d, orig, olen, target, hit, len);
    free(hit);
    return;
  }
  forward(s, d, up, n, &tq, key, orig, olen, target);
}

/* One query from a client. */
static void handle(dns_server_t *s, dest_t *d, const uint8_t *pkt, size_t n) {
  dns_query_t q;
  s->st.queries++;
  if (dns_query_parse(pkt, n, &q) < 0) {
    dns_header_t h;
    if (dns_header_read(pkt, n, &h) == 0 && !(h.flags & DNS_FLAG_QR)) {
      uint8_t buf[DNS_HEADER_LEN];
      memset(buf, 0, sizeof(buf));
      put16(buf, h.id);
      put16(buf + 2, (uint16_t)(DNS_FLAG_QR | (h.flags & DNS_FLAG_RD) | DNS_RCODE_FORMERR));
      send_answer(s, d, buf, sizeof(buf));
    }
    return;
  }
  if (q.h.flags & DNS_FLAG_QR)
    return; /* an answer sent to us: never answer answers */
  if (!d->conn) /* no bigger than we advertise: large UDP answers fragment (DNS flag day 2020) */
    d->udp_size = q.udp_size < DNS_EDNS_SIZE ? q.udp_size : DNS_EDNS_SIZE;
  if (DNS_OPCODE(q.h.flags) != 0) {
    send_rcode(s, d, pkt, &q, DNS_RCODE_NOTIMP);
    return;
  }
  if ((q.qclass == DNS_CLASS_IN || q.qclass == DNS_TYPE_ANY) &&
      dns_zone_owns(&s->o.zone, q.qname, q.qtype)) {
    if (s->zone_ready)
      answer_zone(s, d, pkt, &q);
    else
      send_rcode(s, d, pkt, &q, DNS_RCODE_SERVFAIL); /* the caches are not filled yet */
    return;
  }
  char key[DNS_NAME_MAX + 32];
  cache_key(&q, key, sizeof(key));
  size_t len;
  uint8_t *hit = cache_get(s, key, &len);
  if (hit) {
    s->st.cache_hits++;
    put16(hit, q.h.id);
    send_answer(s, d, hit, len);
    free(hit);
    return;
  }
  forward(s, d, pkt, n, &q, key, NULL, 0, NULL);
}

static void udp_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  dns_server_t *s = container_of(w, dns_server_t, udp_io);
  uint8_t buf[DNS_MSG_MAX];
  for (int i = 0; i < UDP_BATCH; i++) {
    dest_t d = {0};
    socklen_t sl = sizeof(d.peer);
    ssize_t n = recvfrom(s->udp_fd, buf, sizeof(buf), 0, (struct sockaddr *)&d.peer, &sl);
    if (n < 0)
      return;
    d.udp_size = DNS_UDP_MIN;
    handle(s, &d, buf, (size_t)n);
  }
}

/* ---- TCP clients ---- */

static void conn_close(tcp_conn_t *c) {
  dns_server_t *s = c->s;
  for (pending_t *p = s->pending; p; p = p->next)
    if (p->dest.conn == c)
      p->dest.conn = NULL, p->dest.gone = true;
  ev_io_stop(s->loop, &c->rio);
  ev_io_stop(s->loop, &c->wio);
  ev_timer_stop(s->loop, &c->idle);
  close(c->fd);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->nconns--;
  buf_done(&c->out);
  free(c->in);
  free(c);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  conn_close(container_of(w, tcp_conn_t, idle));
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)revents;
  tcp_conn_t *c = container_of(w, tcp_conn_t, rio);
  ssize_t r = read(c->fd, c->in + c->inlen, 2 + DNS_MSG_MAX - c->inlen);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r <= 0) {
    conn_close(c);
    return;
  }
  c->inlen += (size_t)r;
  ev_timer_again(loop, &c->idle);
  size_t off = 0;
  while (c->inlen - off >= 2) {
    size_t len = get16(c->in + off);
    if (len == 0) {
      conn_close(c);
      return;
    }
    if (c->inlen - off < 2 + len)
      break;
    dest_t d = {.conn = c, .udp_size = DNS_MSG_MAX};
    dns_server_t *s = c->s;
    unsigned accepted = s->st.tcp_conns;
    int before = s->nconns;
    handle(s, &d, c->in + off + 2, len);
    if (s->nconns != before || s->st.tcp_conns != accepted)
      return; /* handle closed this connection (its output overflowed) */
    off += 2 + len;
  }
  memmove(c->in, c->in + off, c->inlen - off);
  c->inlen -= off;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)revents;
  dns_server_t *s = container_of(w, dns_server_t, tcp_io);
  for (;;) {
    int fd = accept4(s->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    if (s->nconns >= s->o.max_tcp) {
      close(fd); /* bounded: the client retries */
      continue;
    }
    tcp_conn_t *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->fd = fd;
    c->in = xmalloc(2 + DNS_MSG_MAX);
    buf_init(&c->out, TCP_OUT_MAX);
    ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
    ev_init(&c->idle, idle_cb);
    c->idle.repeat = s->o.tcp_idle;
    ev_io_start(loop, &c->rio);
    ev_timer_again(loop, &c->idle);
    c->next = s->conns;
    if (s->conns)
      s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->st.tcp_conns++;
  }
}

/* ---- setup ---- */

/* Tell the caller about a resolv.conf it should look at. */
static void warn(dns_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(dns_server_t *s, const char *fmt, ...) {
  if (!s->o.warn_cb)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  s->o.warn_cb(msg, s->o.warn_data);
}

static void read_resolv_conf(dns_server_t *s, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    warn(s, "%s: %s: names outside the cluster will get SERVFAIL", path,
             strerror(errno));
    return;
  }
  char line[512];
  while (fgets(line, sizeof(line), f)) {
    char ip[64];
    if (sscanf(line, " nameserver %63s", ip) != 1)
      continue;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)(s->o.upstream_port ? s->o.upstream_port
                                                                            : 53))};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
      warn(s, "%s: nameserver %s skipped: only IPv4 nameservers are used", path, ip);
      continue;
    }
    if (!strcmp(ip, s->listen_ip) && (s->o.upstream_port ? s->o.upstream_port : 53) == s->port) {
      warn(s, "%s: nameserver %s is the cluster DNS itself (a forwarding loop): skipped; "
                      "pass --resolv-conf with the node's real resolvers",
               path, ip);
      continue;
    }
    if (s->nup == MAX_UPSTREAMS)
      break;
    s->up[s->nup++] = a;
  }
  fclose(f);
  if (s->nup == 0)
    warn(s, "%s names no usable nameserver: names outside the cluster will get SERVFAIL",
             path);
}

static int listen_on(dns_server_t *s, int type, struct sockaddr_in *a, char *err, size_t errlen) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -errno;
  }
  /* TCP only: on UDP it would let a second server share the port silently */
  if (type == SOCK_STREAM)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
      (type == SOCK_STREAM && listen(fd, 64) < 0)) {
    int e = errno;
    snprintf(err, errlen, "%s %s:%d: %s", type == SOCK_STREAM ? "TCP" : "UDP", s->listen_ip,
             ntohs(a->sin_port), strerror(e));
    close(fd);
    return -e;
  }
  socklen_t sl = sizeof(*a);
  getsockname(fd, (struct sockaddr *)a, &sl);
  return fd;
}

int dns_server_new(struct ev_loop *loop, const dns_server_opts_t *o, dns_server_t **ret,
                   char *err, size_t errlen) {
  dns_server_t *s = xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->o = *o;
  s->udp_fd = s->tcp_fd = -1;
  s->zone_ready = true;
  strmap_init(&s->cache);
  if (!s->o.timeout)
    s->o.timeout = 2;
  if (!s->o.cache_max)
    s->o.cache_max = 1000;
  if (!s->o.max_tcp)
    s->o.max_tcp = 64;
  if (!s->o.tcp_idle)
    s->o.tcp_idle = 10;
  if (!s->o.max_pending)
    s->o.max_pending = 256;
  snprintf(s->listen_ip, sizeof(s->listen_ip), "%s", o->listen_ip ? o->listen_ip : "");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
  int r;
  if (inet_pton(AF_INET, s->listen_ip, &a.sin_addr) != 1) {
    snprintf(err, errlen, "cluster DNS address \"%s\" is not an IPv4 address", s->listen_ip);
    r = -EINVAL;
    goto fail;
  }
  if ((r = s->udp_fd = listen_on(s, SOCK_DGRAM, &a, err, errlen)) < 0)
    goto fail;
  s->port = ntohs(a.sin_port);
  if ((r = s->tcp_fd = listen_on(s, SOCK_STREAM, &a, err, errlen)) < 0)
    goto fail;
  read_resolv_conf(s, o->resolv_conf ? o->resolv_conf : "/etc/resolv.conf");
  ev_io_init(&s->udp_io, udp_cb, s->udp_fd, EV_READ);
  ev_io_init(&s->tcp_io, accept_cb, s->tcp_fd, EV_READ);
  ev_io_start(loop, &s->udp_io);
  ev_io_start(loop, &s->tcp_io);
  *ret = s;
  return 0;
fail:
  dns_server_free(s);
  return r;
}

void dns_server_free(dns_server_t *s) {
  if (!s)
    return;
  while (s->pending)
    pending_free(s->pending);
  while (s->conns)
    conn_close(s->conns);
  while (s->oldest)
    cache_unlink(s, s->oldest);
  strmap_done(&s->cache);
  ev_io_stop(s->loop, &s->udp_io);
  ev_io_stop(s->loop, &s->tcp_io);
  if (s->udp_fd >= 0)
    close(s->udp_fd);
  if (s->tcp_fd >= 0)
    close(s->tcp_fd);
  free(s);
}

int dns_server_port(const dns_server_t *s) { return s->port; }
void dns_server_set_zone_ready(dns_server_t *s, bool ready) { s->zone_ready = ready; }
size_t dns_server_upstreams(const dns_server_t *s) { return (size_t)s->nup; }

void dns_server_stats(const dns_server_t *s, dns_server_stats_t *ret) {
  *ret = s->st;
  ret->cached = s->ncache;
}

/* ---- the listen address ---- */

#define DNS_LINK "k3c-dns0"

int dns_address_ensure(const char *ip, char *ret_link, size_t linklen, char *err,
                       size_t errlen) {
  struct in_addr addr;
  if (inet_pton(AF_INET, ip, &addr) != 1) {
    snprintf(err, errlen, "cluster DNS address \"%s\" is not an IPv4 address", ip);
    return -EINVAL;
  }
  nl_sock_t *nl = NULL;
  int r = nl_open(NETLINK_ROUTE, &nl);
  if (r < 0) {
    snprintf(err, errlen, "netlink: %s", strerror(-r));
    return r;
  }
  const char *link = DNS_LINK;
  char lerr[256] = "";
  int idx = -1;
  if ((r = rtnl_link_ensure(nl, DNS_LINK, "bridge", NULL, NULL, NULL, lerr, sizeof(lerr))) < 0 ||
      (idx = rtnl_link_index(nl, DNS_LINK, lerr, sizeof(lerr))) < 0 ||
      (r = rtnl_link_up(nl, idx, lerr, sizeof(lerr))) < 0) {
    link = "lo"; /* no bridge support: the loopback device carries it */
    idx = rtnl_link_index(nl, "lo", err, errlen);
    if (idx < 0) {
      r = idx;
      goto out;
    }
  }
  if ((r = rtnl_addr4_ensure(nl, idx, addr, 32, RT_SCOPE_UNIVERSE, err,
                             errlen)) < 0)
    goto out;
  snprintf(ret_link, linklen, "%s", link);
  r = 0;
out:
  nl_close(nl);
  return r;
}
