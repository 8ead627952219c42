/* Upgrade relays: the client's upgrade request goes on to the next hop;
 * its 101 head comes back verbatim and bytes are copied both ways with
 * bounded queues (RFC 9110 7.8 Upgrade; RFC 6455 and SPDY/3.1 streams are
 * never parsed here). */
#include "http/tunnel.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/response.h"
#include "util/alloc.h"
#include "util/buf.h"

#define BODY_MAX (64 << 10)
#define IDLE_DEFAULT (4 * 3600.0)

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef enum { T_DIALING, T_ERROR_BODY, T_RELAY } tstate_t;

typedef struct {
  struct ev_loop *loop;
  tstate_t state;
  http_req_t *req; /* until it is finished */
  http_upgrade_t *u;
  http_dial_t *d;
  http_tunnel_fail_cb fail;
  void *fail_data;
  char where[80]; /* "tcp 10.0.0.1:10250" for messages */
  char *ws_reply; /* the subprotocol the 101 says to the client, or NULL */
  /* a non-101 answer */
  int status;
  char *ctype;
  buf_t body;
  long long body_left; /* -1: until EOF */
  bool chunked;
  http_chunked_t ch;
  /* idle timeout */
  ev_timer idle;
  double idle_s, last;
} tun_t;

static atomic_uint n_tunnels;

unsigned http_tunnel_count(void) { return atomic_load(&n_tunnels); }

static void tun_free(tun_t *t) {
  ev_timer_stop(t->loop, &t->idle);
  free(t->ctype);
  free(t->ws_reply);
  buf_done(&t->body);
  free(t);
  atomic_fetch_sub(&n_tunnels, 1);
}

bool http_tunnel_offers(const char *header, const char *proto) {
  if (!header)
    return false;
  size_t pl = strlen(proto);
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    const char *te = e;
    while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
      te--;
    if ((size_t)(te - p) == pl && !strncmp(p, proto, pl))
      return true;
    p = e;
  }
  return false;
}

/* ---- the relay ---- */

static void touch(tun_t *t) { t->last = ev_now(t->loop); }

static void u_drained(http_upgrade_t *u, void *data) {
  tun_t *t = data;
  http_dial_pause(t->d, false);
}

static void d_drained(http_dial_t *d, void *data) {
  tun_t *t = data;
  http_upgrade_pause(t->u, false);
}

/* client -> next hop */
static void u_data(http_upgrade_t *u, const char *bytes, size_t len, void *data) {
  tun_t *t = data;
  touch(t);
  long q = http_dial_write(t->d, bytes, len);
  if (q < 0) {
    http_dial_close(t->d);
    http_upgrade_close(u);
    tun_free(t);
    return;
  }
  if ((size_t)q > HTTP_TUNNEL_HIGH_WATER) {
    http_upgrade_pause(u, true);
    http_dial_on_drain(t->d, HTTP_TUNNEL_LOW_WATER, d_drained);
  }
}

/* The client went away: what it sent is queued already; flush and close. */
static void u_close(http_upgrade_t *u, void *data) {
  tun_t *t = data;
  http_dial_close(t->d);
  tun_free(t);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  tun_t *t = container_of(w, tun_t, idle);
  double left = t->last + t->idle_s - ev_now(loop);
  if (left > 0) {
    ev_timer_set(w, left, 0);
    ev_timer_start(loop, w);
    return;
  }
  http_dial_close(t->d);
  http_upgrade_close(t->u);
  tun_free(t);
}

/* ---- the next hop ---- */

static void req_gone(http_req_t *r, void *data) {
  tun_t *t = data;
  t->req = NULL;
  http_respond(r, 500, NULL, "", 0); /* gone: only frees the request */
  http_dial_close(t->d);
  tun_free(t);
}

static void finish_error(tun_t *t) {
  http_req_t *r = t->req;
  t->req = NULL;
  http_req_on_close(r, NULL, NULL);
  http_respond(r, t->status, t->ctype ? t->ctype : "text/plain; charset=utf-8",
               t->body.data ? t->body.data : "", t->body.len);
  http_dial_close(t->d);
  tun_free(t);
}

/* The next hop's 101 head with its Sec-WebSocket-Protocol value replaced
 * by proto (the field added before the empty line when it had none). */
static void rename_protocol(buf_t *out, const http_response_t *resp, const char *raw,
                            size_t raw_len, const char *proto) {
  const http_header_t *h = http_response_find(resp, "Sec-WebSocket-Protocol");
  if (h) {
    size_t at = (size_t)(h->value - raw), end = at + h->value_len;
    buf_append(out, raw, at);
    buf_append_str(out, proto);
    buf_append(out, raw + end, raw_len - end);
    return;
  }
  size_t body = raw_len >= 2 ? raw_len - 2 : 0; /* before the final CRLF */
  buf_append(out, raw, body);
  buf_printf(out, "Sec-WebSocket-Protocol: %s\r\n", proto);
  buf_append(out, raw + body, raw_len - body);
}

static void d_head(http_dial_t *d, const http_response_t *resp, const char *raw, size_t raw_len,
                   void *data) {
  tun_t *t = data;
  if (resp->status == 101) {
    http_req_t *r = t->req;
    t->req = NULL;
    http_req_on_close(r, NULL, NULL);
    buf_t renamed;
    buf_init(&renamed, raw_len + (t->ws_reply ? strlen(t->ws_reply) : 0) + 64);
    if (t->ws_reply) {
      rename_protocol(&renamed, resp, raw, raw_len, t->ws_reply);
      raw = renamed.data;
      raw_len = renamed.len;
    }
    t->u = http_req_upgrade_head(r, raw, raw_len, u_data, u_close, t);
    buf_done(&renamed);
    if (!t->u) { /* the client left meanwhile */
      http_dial_close(d);
      tun_free(t);
      return;
    }
    t->state = T_RELAY;
    touch(t);
    ev_timer_set(&t->idle, t->idle_s, 0);
    ev_timer_start(t->loop, &t->idle);
    return;
  }
  /* Another answer: pass status, type and body back. */
  t->state = T_ERROR_BODY;
  t->status = resp->status;
  const http_header_t *ct = http_response_find(resp, "Content-Type");
  if (ct)
    t->ctype = xstrndup(ct->value, ct->value_len);
  const http_header_t *te = http_response_find(resp, "Transfer-Encoding");
  const http_header_t *cl = http_response_find(resp, "Content-Length");
  t->body_left = -1;
  if (te && te->value_len >= 7 && !strncasecmp(te->value + te->value_len - 7, "chunked", 7)) {
    t->chunked = true;
  } else if (cl) {
    char num[24];
    size_t n = cl->value_len < sizeof(num) - 1 ? cl->value_len : sizeof(num) - 1;
    memcpy(num, cl->value, n);
    num[n] = '\0';
    t->body_left = strtoll(num, NULL, 10);
    if (t->body_left < 0)
      t->body_left = 0;
  }
  if (t->body_left == 0 || http_status_bodyless(resp->status))
    finish_error(t);
}

static void d_data(http_dial_t *d, const char *bytes, size_t len, void *data) {
  tun_t *t = data;
  if (t->state == T_RELAY) {
    touch(t);
    long q = http_upgrade_write(t->u, bytes, len);
    if (q < 0) {
      http_dial_close(d);
      http_upgrade_close(t->u);
      tun_free(t);
      return;
    }
    if ((size_t)q > HTTP_TUNNEL_HIGH_WATER) {
      http_dial_pause(d, true);
      http_upgrade_on_drain(t->u, HTTP_TUNNEL_LOW_WATER, u_drained);
    }
    return;
  }
  if (t->state != T_ERROR_BODY)
    return;
  bool done = false;
  if (t->chunked) {
    if (http_chunked_decode(&t->ch, bytes, len, &t->body, &done) < 0)
      done = true; /* malformed or over the limit: send what we have */
  } else {
    size_t n = t->body_left >= 0 && (unsigned long long)t->body_left < len ? (size_t)t->body_left
                                                                            : len;
    size_t room = t->body.limit - t->body.len;
    buf_append(&t->body, bytes, n < room ? n : room);
    if (t->body_left >= 0) {
      t->body_left -= (long long)n;
      done = t->body_left == 0;
    }
    if (t->body.len == t->body.limit)
      done = true;
  }
  if (done)
    finish_error(t);
}

static void d_close(http_dial_t *d, int err, void *data) {
  tun_t *t = data;
  t->d = NULL;
  if (t->state == T_RELAY) {
    http_upgrade_close(t->u); /* flushes what the next hop sent */
    tun_free(t);
    return;
  }
  if (t->state == T_ERROR_BODY) {
    /* the body ended with the connection (or the connection broke) */
    http_req_t *r = t->req;
    t->req = NULL;
    http_req_on_close(r, NULL, NULL);
    http_respond(r, t->status, t->ctype ? t->ctype : "text/plain; charset=utf-8",
                 t->body.data ? t->body.data : "", t->body.len);
    tun_free(t);
    return;
  }
  char msg[300];
  const char *what = err == -ETIMEDOUT ? "i/o timeout"
                     : err == -EPROTO   ? "malformed HTTP response"
                     : err == 0         ? "EOF"
                                        : strerror(-err);
  snprintf(msg, sizeof(msg), "error dialing backend: dial %s: %s", t->where, what);
  http_req_t *r = t->req;
  t->req = NULL;
  http_req_on_close(r, NULL, NULL);
  http_tunnel_fail_cb fail = t->fail;
  void *fd = t->fail_data;
  tun_free(t);
  fail(r, err ? err : -ECONNRESET, msg, fd);
}

/* ---- start ---- */

static const char *const PASSED[] = {"Upgrade",
                                     "Connection",
                                     "Sec-WebSocket-Key",
                                     "Sec-WebSocket-Version",
                                     "Sec-WebSocket-Protocol",
                                     "Origin",
                                     "User-Agent",
                                     NULL};

int http_tunnel_start(http_req_t *r, struct ev_loop *loop, const http_tunnel_opts_t *o) {
  if (!http_req_header(r, "Upgrade") || !o->fail)
    return -EINVAL;
  bool v6 = strchr(o->host, ':') != NULL;
  buf_t head;
  buf_init(&head, 32 << 10);
  buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n", http_req_method(r), o->target,
             v6 ? "[" : "", o->host, v6 ? "]" : "", o->port);
  for (size_t i = 0; PASSED[i]; i++) {
    const char *v = http_req_header(r, PASSED[i]);
    if (o->ws_protocol && !strcmp(PASSED[i], "Sec-WebSocket-Protocol"))
      v = o->ws_protocol;
    if (v)
      buf_printf(&head, "%s: %s\r\n", PASSED[i], v);
  }
  /* One line per offered stream protocol: the server joined repeated
   * fields with ", ", and the streaming servers match whole values. */
  const char *xs = http_req_header(r, "X-Stream-Protocol-Version");
  for (const char *p = xs; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *e = p;
    while (*e && *e != ',' && *e != ' ')
      e++;
    if (e > p)
      buf_printf(&head, "X-Stream-Protocol-Version: %.*s\r\n", (int)(e - p), p);
    p = e;
  }
  if (o->extra_fields)
    buf_append_str(&head, o->extra_fields);
  if (buf_append_str(&head, "\r\n") < 0) {
    buf_done(&head);
    return -E2BIG;
  }
  tun_t *t = xcalloc(1, sizeof(*t));
  t->loop = loop;
  t->req = r;
  t->fail = o->fail;
  t->fail_data = o->fail_data;
  t->ws_reply = o->ws_protocol_reply ? xstrdup(o->ws_protocol_reply) : NULL;
  t->idle_s = o->idle_timeout > 0 ? o->idle_timeout : IDLE_DEFAULT;
  buf_init(&t->body, BODY_MAX);
  ev_init(&t->idle, idle_cb);
  snprintf(t->where, sizeof(t->where), "tcp %s%.50s%s:%d", v6 ? "[" : "", o->host, v6 ? "]" : "",
           o->port);
  static const http_dial_cbs_t cbs = {.head = d_head, .data = d_data, .close = d_close};
  atomic_fetch_add(&n_tunnels, 1);
  int e = http_dial_start(loop, o->host, o->port, o->tls, head.data, head.len, o->connect_timeout,
                          &cbs, t, &t->d);
  buf_done(&head);
  if (e == -EINVAL) {
    tun_free(t);
    return e;
  }
  if (e < 0) { /* refused at once (a local port): the same answer as later */
    char msg[300];
    snprintf(msg, sizeof(msg), "error dialing backend: dial %s: %s", t->where, strerror(-e));
    tun_free(t);
    o->fail(r, e, msg, o->fail_data);
    return 0;
  }
  http_req_on_close(r, req_gone, t);
  return 0;
}
