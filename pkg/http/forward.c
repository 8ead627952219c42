/* Reverse-proxy relay of one ordinary request (RFC 9110 7.6: hop-by-hop
 * fields are not passed on; RFC 9112 6: the answer's body ends at its
 * Content-Length, its last chunk, or the connection's end). The request
 * is sent with Connection: close, so one connection carries one answer. */
#include "http/forward.h"

#include "http/parser.h"
#include "http/response.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/goerr.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_OUT_MAX (64 << 10)
#define DEFAULT_TIMEOUT 30.0

typedef enum { F_DIALING, F_BODY } fstate_t;

typedef struct {
  struct ev_loop *loop;
  fstate_t state;
  http_req_t *req;
  http_dial_t *d;
  http_tunnel_fail_cb fail;
  void *fail_data;
  char where[80];
  bool chunked;
  http_chunked_t ch;
  long long left; /* Content-Length bytes still to come; -1: until EOF */
} fwd_t;

static atomic_uint n_forwards;

unsigned http_forward_count(void) {
  return atomic_load(&n_forwards);
}

static void fwd_free(fwd_t *f) {
  free(f);
  atomic_fetch_sub(&n_forwards, 1);
}

/* Fields that describe one connection, not the message (RFC 9110 7.6.1),
 * and what the caller consumed itself. */
static bool skipped_request_field(const char *name) {
  static const char *const names[] = {"Host",
                                      "Connection",
                                      "Keep-Alive",
                                      "Proxy-Connection",
                                      "Proxy-Authorization",
                                      "Transfer-Encoding",
                                      "Content-Length",
                                      "TE",
                                      "Trailer",
                                      "Upgrade",
                                      "Authorization",
                                      "Expect",
                                      NULL};
  for (size_t i = 0; names[i]; i++)
    if (!strcasecmp(name, names[i]))
      return true;
  return !strncasecmp(name, "Impersonate-", 12);
}

static bool skipped_response_field(const char *name, size_t len) {
  static const char *const names[] = {
      "Connection",   "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Content-Length",
      "Content-Type", "TE",         "Trailer",          "Upgrade",           NULL};
  for (size_t i = 0; names[i]; i++)
    if (strlen(names[i]) == len && !strncasecmp(name, names[i], len))
      return true;
  return false;
}

/* Finish the client's response (it was begun) and the connection. */
static void finish(fwd_t *f) {
  http_req_t *r = f->req;
  f->req = NULL;
  if (r) {
    http_req_on_close(r, NULL, NULL);
    http_stream_end(r);
  }
  if (f->d)
    http_dial_close(f->d);
  fwd_free(f);
}

static void req_gone(http_req_t *r, void *data) {
  fwd_t *f = data;
  f->req = NULL;
  if (f->state == F_BODY)
    http_stream_end(r); /* gone: only frees the request */
  else
    http_respond(r, 500, NULL, "", 0);
  if (f->d)
    http_dial_close(f->d);
  fwd_free(f);
}

static void drained(http_req_t *r, void *data) {
  fwd_t *f = data;
  if (f->d)
    http_dial_pause(f->d, false);
}

static void d_head(http_dial_t *d, const http_response_t *resp, const char *raw, size_t raw_len,
                   void *data) {
  fwd_t *f = data;
  http_req_t *r = f->req;
  char *ctype = NULL;
  for (size_t i = 0; i < resp->n_headers; i++) {
    const http_header_t *h = &resp->headers[i];
    if (skipped_response_field(h->name, h->name_len))
      continue;
    char *n = xstrndup(h->name, h->name_len), *v = xstrndup(h->value, h->value_len);
    http_req_add_header(r, n, v);
    free(n);
    free(v);
  }
  const http_header_t *ct = http_response_find(resp, "Content-Type");
  if (ct)
    ctype = xstrndup(ct->value, ct->value_len);
  const http_header_t *te = http_response_find(resp, "Transfer-Encoding");
  const http_header_t *cl = http_response_find(resp, "Content-Length");
  f->left = -1;
  if (te && te->value_len >= 7 && !strncasecmp(te->value + te->value_len - 7, "chunked", 7)) {
    f->chunked = true;
  } else if (cl) {
    char num[24];
    size_t n = cl->value_len < sizeof(num) - 1 ? cl->value_len : sizeof(num) - 1;
    memcpy(num, cl->value, n);
    num[n] = '\0';
    f->left = strtoll(num, NULL, 10);
    if (f->left < 0)
      f->left = 0;
  }
  bool head_only = !strcmp(http_req_method(r), "HEAD");
  if (http_status_bodyless(resp->status) || head_only || f->left == 0) {
    f->req = NULL;
    http_req_on_close(r, NULL, NULL);
    http_respond(r, resp->status, ctype, "", 0);
    free(ctype);
    http_dial_close(d);
    f->d = NULL;
    fwd_free(f);
    return;
  }
  f->state = F_BODY;
  http_stream_begin(r, resp->status, ctype ? ctype : "");
  free(ctype);
  http_stream_on_drain(r, drained, f);
}

static void d_data(http_dial_t *d, const char *bytes, size_t len, void *data) {
  fwd_t *f = data;
  if (f->state != F_BODY || !f->req)
    return;
  bool done = false;
  long q = 0;
  if (f->chunked) {
    buf_t out;
    buf_init(&out, len + 1);
    if (http_chunked_decode(&f->ch, bytes, len, &out, &done) < 0)
      done = true; /* malformed: end what the client got */
    if (out.len)
      q = http_stream_write(f->req, out.data, out.len);
    buf_done(&out);
  } else {
    size_t n = f->left >= 0 && (unsigned long long)f->left < len ? (size_t)f->left : len;
    q = http_stream_write(f->req, bytes, n);
    if (f->left >= 0) {
      f->left -= (long long)n;
      done = f->left == 0;
    }
  }
  if (q < 0 || done) {
    finish(f);
    return;
  }
  if (!http_stream_writable(f->req))
    http_dial_pause(d, true); /* drained() resumes */
}

/* What Go says for a failed dial or a broken exchange (upstream's
 * message); buf holds it when no constant does. */
static const char *dial_error(int err, char *buf, size_t len) {
  switch (err) {
  case -EPROTO:
    return "malformed HTTP response";
  case 0:
    return "EOF";
  case -ECONNRESET:
    return "read: connection reset by peer";
  case -ECONNABORTED:
    return "tls: handshake failed";
  case -EKEYREJECTED:
    return "tls: failed to verify certificate";
  default:
    return goerr_dial(err, buf, len);
  }
}

static void d_close(http_dial_t *d, int err, void *data) {
  fwd_t *f = data;
  f->d = NULL;
  if (f->state == F_BODY) {
    finish(f); /* the body ended with the connection (or it broke: the client sees the end) */
    return;
  }
  char msg[300], text[128];
  snprintf(msg, sizeof(msg), "error trying to reach service: dial %s: %s", f->where,
           dial_error(err, text, sizeof(text)));
  http_req_t *r = f->req;
  f->req = NULL;
  http_req_on_close(r, NULL, NULL);
  http_tunnel_fail_cb fail = f->fail;
  void *fd = f->fail_data;
  fwd_free(f);
  fail(r, err ? err : -ECONNRESET, msg, fd);
}

int http_forward_start(http_req_t *r, struct ev_loop *loop, const http_forward_opts_t *o) {
  if (!o->fail)
    return -EINVAL;
  bool v6 = strchr(o->host, ':') != NULL;
  size_t body_len = 0;
  const char *body = http_req_body(r, &body_len);
  const char *method = http_req_method(r);
  buf_t head;
  buf_init(&head, HEAD_OUT_MAX + body_len);
  if (o->host_header)
    buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, o->target, o->host_header);
  else
    buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n", method, o->target, v6 ? "[" : "",
               o->host, v6 ? "]" : "", o->port);
  const char *name, *value;
  for (size_t i = 0; http_req_header_at(r, i, &name, &value); i++)
    if (!skipped_request_field(name) &&
        !(o->skip_prefix && !strncasecmp(name, o->skip_prefix, strlen(o->skip_prefix))))
      buf_printf(&head, "%s: %s\r\n", name, value);
  if (o->extra_fields)
    buf_append_str(&head, o->extra_fields);
  /* where the request came from, as Go's ReverseProxy adds it */
  char ip[64];
  snprintf(ip, sizeof(ip), "%s", http_req_remote_addr(r));
  char *colon = strrchr(ip, ':');
  if (colon)
    *colon = '\0';
  if (ip[0] == '[') {
    memmove(ip, ip + 1, strlen(ip));
    char *rb = strchr(ip, ']');
    if (rb)
      *rb = '\0';
  }
  const char *xff = http_req_header(r, "X-Forwarded-For");
  if (ip[0] && !xff)
    buf_printf(&head, "X-Forwarded-For: %s\r\n", ip);
  if (body_len || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH"))
    buf_printf(&head, "Content-Length: %zu\r\n", body_len);
  buf_append_str(&head, "Connection: close\r\n\r\n");
  if (head.len > HEAD_OUT_MAX || buf_append(&head, body, body_len) < 0) {
    buf_done(&head);
    return -E2BIG;
  }
  fwd_t *f = xcalloc(1, sizeof(*f));
  f->loop = loop;
  f->req = r;
  f->fail = o->fail;
  f->fail_data = o->fail_data;
  snprintf(f->where, sizeof(f->where), "tcp %s%.50s%s:%d", v6 ? "[" : "", o->host, v6 ? "]" : "",
           o->port);
  static const http_dial_cbs_t cbs = {.head = d_head, .data = d_data, .close = d_close};
  atomic_fetch_add(&n_forwards, 1);
  int e = http_dial_start(loop, o->host, o->port, o->tls, head.data, head.len,
                          o->timeout > 0 ? o->timeout : DEFAULT_TIMEOUT, &cbs, f, &f->d);
  buf_done(&head);
  if (e == -EINVAL) {
    fwd_free(f);
    return e;
  }
  if (e < 0) {
    char msg[300], text[128];
    snprintf(msg, sizeof(msg), "error trying to reach service: dial %s: %s", f->where,
             dial_error(e, text, sizeof(text)));
    fwd_free(f);
    o->fail(r, e, msg, o->fail_data);
    return 0;
  }
  http_req_on_close(r, req_gone, f);
  return 0;
}
