/* pkg/cri/grpc: gRPC calls over HTTP/2 on a unix socket, on a libev loop.
 * Implements the client side of https://github.com/grpc/grpc/blob/master/
 * doc/PROTOCOL-HTTP2.md: POST to /<service>/<method> with content-type
 * application/grpc and te: trailers, length-prefixed messages, grpc-status
 * and grpc-message in trailers (or a trailers-only response), grpc-timeout.
 * nghttp2 does the framing and HPACK; this file owns the socket. */
#include <errno.h>
#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cri/internal.h"
#include "util/alloc.h"
#include "util/buf.h"

/* A streamed response (containerd's Write) may hold many small messages. */
#define STREAM_MSGS_MAX 65536
#define STREAM_RESP_MAX (64u * 1024 * 1024)
#define GRPC_MESSAGE_MAX 4096
#define WINDOW_SIZE (4 * 1024 * 1024)

typedef struct cri_conn cri_conn_t;
typedef struct cri_call cri_call_t;

struct cri_conn {
  cri_client_t *c;
  int fd;
  ev_io io;
  int io_events;
  nghttp2_session *h2;
  bool goaway; /* no new streams here */
  size_t nstreams;
  cri_conn_t *next; /* the client's list of connections */
};

struct cri_call {
  cri_client_t *c;
  cri_conn_t *conn; /* NULL once finished or before connecting */
  int32_t sid;
  ev_timer timer;
  /* request: a framed buffer, or a pull source */
  uint8_t *req;
  size_t req_len, req_off;
  cri__pull_cb pull;
  void *pull_data;
  /* response */
  buf_t resp;
  size_t max_msgs;
  int http_status;
  int grpc_status; /* -1 until the trailers say */
  char *grpc_message;
  /* result */
  bool done;
  cri_code_t code;
  char *msg;
  cri__reply_cb cb;
  void *data;
  cri_call_t *prev, *next; /* in c->calls, then in c->done */
};

struct cri_client {
  struct ev_loop *loop;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  int64_t timeout_ms;
  cri_conn_t *conns; /* the first, when not going away, takes new calls */
  cri_call_t *calls; /* in flight */
  cri_call_t *done_head, *done_tail;
  size_t pending;
  ev_timer pump; /* delivers finished calls' callbacks from the loop */
  bool in_pump, closing;
};

static void conn_flush(cri_conn_t *k);
static void conn_close(cri_conn_t *k, const char *why);

/* --- status helpers --- */

int cri_status_errno(const cri_status_t *st) {
  switch (st->code) {
  case CRI_OK:
    return 0;
  case CRI_NOT_FOUND:
    return -ENOENT;
  case CRI_ALREADY_EXISTS:
    return -EEXIST;
  case CRI_DEADLINE_EXCEEDED:
    return -ETIMEDOUT;
  case CRI_UNAVAILABLE:
    return -ECONNREFUSED;
  case CRI_CANCELLED:
    return -ECANCELED;
  case CRI_INVALID_ARGUMENT:
    return -EINVAL;
  case CRI_UNIMPLEMENTED:
    return -ENOSYS;
  case CRI_RESOURCE_EXHAUSTED:
    return -E2BIG;
  default:
    return -EIO;
  }
}

const char *cri_code_name(cri_code_t code) {
  static const char *const names[] = {
      "OK",           "Canceled",     "Unknown",          "InvalidArgument", "DeadlineExceeded",
      "NotFound",     "AlreadyExists", "PermissionDenied", "ResourceExhausted",
      "FailedPrecondition", "Aborted", "OutOfRange",      "Unimplemented",   "Internal",
      "Unavailable",  "DataLoss",     "Unauthenticated"};
  return (unsigned)code < sizeof names / sizeof names[0] ? names[code] : "Unknown";
}

void cri__frame_prefix(uint8_t out[5], size_t len) {
  out[0] = 0;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
}

static int hexval(uint8_t ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  ch |= 32;
  return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* grpc-message is percent-encoded (PROTOCOL-HTTP2.md "Responses"); kept
 * to GRPC_MESSAGE_MAX bytes. */
static char *percent_decode(const uint8_t *v, size_t n) {
  if (n > GRPC_MESSAGE_MAX)
    n = GRPC_MESSAGE_MAX;
  char *out = xmalloc(n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (v[i] == '%' && i + 2 < n && (hi = hexval(v[i + 1])) >= 0 && (lo = hexval(v[i + 2])) >= 0) {
      *o++ = (char)(hi << 4 | lo);
      i += 2;
    } else {
      *o++ = (char)v[i];
    }
  }
  *o = 0;
  return out;
}

/* gRPC's mapping of an HTTP status without grpc-status (http-grpc-status-mapping.md). */
static cri_code_t http_to_code(int status) {
  switch (status) {
  case 400:
    return CRI_INTERNAL;
  case 401:
    return CRI_UNAUTHENTICATED;
  case 403:
    return CRI_PERMISSION_DENIED;
  case 404:
    return CRI_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return CRI_UNAVAILABLE;
  default:
    return CRI_UNKNOWN;
  }
}

/* --- finishing and delivering calls --- */

static void list_unlink(cri_client_t *c, cri_call_t *x) {
  if (x->prev)
    x->prev->next = x->next;
  else
    c->calls = x->next;
  if (x->next)
    x->next->prev = x->prev;
  x->prev = x->next = NULL;
}

/* Record the result once; the callback runs later from the pump. With
 * reset, the stream (if any) is cancelled with RST_STREAM. */
static void finish(cri_call_t *x, cri_code_t code, const char *msg, bool reset) {
  cri_client_t *c = x->c;
  if (x->done)
    return;
  x->done = true;
  x->code = code;
  x->msg = xstrdup(msg ? msg : "");
  ev_timer_stop(c->loop, &x->timer);
  cri_conn_t *k = x->conn;
  if (k) {
    if (x->sid > 0) {
      nghttp2_session_set_stream_user_data(k->h2, x->sid, NULL);
      if (reset)
        nghttp2_submit_rst_stream(k->h2, NGHTTP2_FLAG_NONE, x->sid, NGHTTP2_CANCEL);
    }
    k->nstreams--;
    x->conn = NULL;
  }
  list_unlink(c, x);
  if (c->done_tail)
    c->done_tail->next = x;
  else
    c->done_head = x;
  x->prev = c->done_tail;
  c->done_tail = x;
  if (!ev_is_active(&c->pump))
    ev_timer_start(c->loop, &c->pump);
}

static void call_free(cri_call_t *x) {
  free(x->req);
  buf_done(&x->resp);
  free(x->grpc_message);
  free(x->msg);
  free(x);
}

/* Split the response body into messages; on success returns the count. */
static int split_messages(cri_call_t *x, cri__msg_t **ret, char *err, size_t errlen) {
  const uint8_t *p = (const uint8_t *)x->resp.data, *end = p + x->resp.len;
  size_t n = 0, cap = 0;
  cri__msg_t *v = NULL;
  while (p < end) {
    if (end - p < 5) {
      snprintf(err, errlen, "grpc: truncated message prefix");
      goto bad;
    }
    if (p[0] != 0) {
      snprintf(err, errlen, "grpc: compressed message received without a negotiated encoding");
      goto bad;
    }
    size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    p += 5;
    if (len > (size_t)(end - p)) {
      snprintf(err, errlen, "grpc: truncated message");
      goto bad;
    }
    if (n == x->max_msgs) {
      snprintf(err, errlen, "grpc: more response messages than expected");
      goto bad;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      v = xrealloc(v, cap * sizeof *v);
    }
    v[n].data = p;
    v[n].len = len;
    n++;
    p += len;
  }
  *ret = v;
  return (int)n;
bad:
  free(v);
  return -EBADMSG;
}

static void deliver(cri_call_t *x) {
  cri_status_t st = {x->code, x->msg};
  cri__msg_t *msgs = NULL;
  int n = 0;
  if (x->code == CRI_OK) {
    char err[128];
    n = split_messages(x, &msgs, err, sizeof err);
    if (n < 0) {
      st.code = CRI_INTERNAL;
      st.message = err;
      n = 0;
      x->cb(x->data, &st, NULL, 0);
      return;
    }
  }
  x->cb(x->data, &st, msgs, (size_t)n);
  free(msgs);
}

static void client_destroy(cri_client_t *c);

static void pump_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  cri_client_t *c = (cri_client_t *)((char *)w - offsetof(cri_client_t, pump));
  /* Only what was finished when the pump started: a callback that retries
   * at once must not keep this loop spinning. */
  cri_call_t *last = c->done_tail;
  c->in_pump = true;
  while (c->done_head) {
    cri_call_t *x = c->done_head;
    c->done_head = x->next;
    if (!c->done_head)
      c->done_tail = NULL;
    else
      c->done_head->prev = NULL;
    c->pending--;
    bool was_last = x == last;
    deliver(x);
    call_free(x);
    if (was_last && !c->closing)
      break;
  }
  c->in_pump = false;
  if (c->closing) {
    client_destroy(c);
    return;
  }
  if (c->done_head && !ev_is_active(&c->pump))
    ev_timer_start(loop, &c->pump);
}

/* --- nghttp2 callbacks --- */

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud) {
  cri_conn_t *k = ud;
  ssize_t n = send(k->fd, data, len, MSG_NOSIGNAL);
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return NGHTTP2_ERR_WOULDBLOCK;
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
  if (f->hd.type != NGHTTP2_HEADERS)
    return 0;
  cri_call_t *x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (!x)
    return 0;
  if (nlen == 7 && !memcmp(name, ":status", 7)) {
    x->http_status = 0;
    for (size_t i = 0; i < vlen && i < 3; i++)
      x->http_status = x->http_status * 10 + (value[i] - '0');
  } else if (nlen == 11 && !memcmp(name, "grpc-status", 11)) {
    int v = 0;
    bool ok = vlen > 0 && vlen <= 3;
    for (size_t i = 0; ok && i < vlen; i++) {
      if (value[i] < '0' || value[i] > '9')
        ok = false;
      else
        v = v * 10 + (value[i] - '0');
    }
    x->grpc_status = ok && v <= CRI_UNAUTHENTICATED ? v : CRI_UNKNOWN;
  } else if (nlen == 12 && !memcmp(name, "grpc-message", 12)) {
    free(x->grpc_message);
    x->grpc_message = percent_decode(value, vlen);
  }
  return 0;
}

static int data_cb(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
                   void *ud) {
  cri_call_t *x = nghttp2_session_get_stream_user_data(s, sid);
  if (!x)
    return 0;
  if (buf_append(&x->resp, data, len) < 0) {
    char m[128];
    snprintf(m, sizeof m, "grpc: received message larger than max (%zu vs. %zu)",
             x->resp.len + len, x->resp.limit);
    finish(x, CRI_RESOURCE_EXHAUSTED, m, true);
  }
  return 0;
}

static int frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  cri_conn_t *k = ud;
  if (f->hd.type == NGHTTP2_GOAWAY)
    k->goaway = true; /* streams above last_stream_id close with REFUSED_STREAM */
  return 0;
}

static int stream_close_cb(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud) {
  cri_call_t *x = nghttp2_session_get_stream_user_data(s, sid);
  if (!x)
    return 0;
  char m[160];
  if (x->grpc_status >= 0) {
    finish(x, (cri_code_t)x->grpc_status, x->grpc_message ? x->grpc_message : "", false);
  } else if (error_code != NGHTTP2_NO_ERROR) {
    snprintf(m, sizeof m, "stream terminated by RST_STREAM with error code: %s",
             nghttp2_http2_strerror(error_code));
    finish(x,
           error_code == NGHTTP2_REFUSED_STREAM ? CRI_UNAVAILABLE
           : error_code == NGHTTP2_CANCEL       ? CRI_CANCELLED
                                                : CRI_INTERNAL,
           m, false);
  } else if (x->http_status != 200) {
    snprintf(m, sizeof m, "unexpected HTTP status code received from server: %d",
             x->http_status);
    finish(x, http_to_code(x->http_status), m, false);
  } else {
    finish(x, CRI_INTERNAL, "server closed the stream without sending trailers", false);
  }
  return 0;
}

static ssize_t body_read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud) {
  cri_call_t *x = nghttp2_session_get_stream_user_data(s, sid);
  if (!x)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* finished: the stream goes */
  if (x->pull) {
    ssize_t n = x->pull(x->pull_data, buf, len);
    if (n < 0) {
      finish(x, CRI_INTERNAL, "request body could not be produced", false);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (n == 0)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
  }
  size_t n = x->req_len - x->req_off;
  if (n > len)
    n = len;
  memcpy(buf, x->req + x->req_off, n);
  x->req_off += n;
  if (x->req_off == x->req_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* --- connections --- */

static void conn_set_events(cri_conn_t *k, int ev) {
  if (k->io_events == ev)
    return;
  ev_io_stop(k->c->loop, &k->io);
  ev_io_set(&k->io, k->fd, ev);
  ev_io_start(k->c->loop, &k->io);
  k->io_events = ev;
}

static void conn_unlink(cri_conn_t *k) {
  for (cri_conn_t **pp = &k->c->conns; *pp; pp = &(*pp)->next)
    if (*pp == k) {
      *pp = k->next;
      break;
    }
}

/* Fail every call on k with UNAVAILABLE and free the connection. */
static void conn_close(cri_conn_t *k, const char *why) {
  cri_client_t *c = k->c;
  for (cri_call_t *x = c->calls, *nx; x; x = nx) {
    nx = x->next;
    if (x->conn == k)
      finish(x, CRI_UNAVAILABLE, why, false);
  }
  conn_unlink(k);
  ev_io_stop(c->loop, &k->io);
  nghttp2_session_del(k->h2);
  close(k->fd);
  free(k);
}

/* Send what nghttp2 has queued; close the connection when it is done. */
static void conn_flush(cri_conn_t *k) {
  int rv = nghttp2_session_send(k->h2);
  if (rv < 0) {
    char m[128];
    snprintf(m, sizeof m, "connection error: %s", nghttp2_strerror(rv));
    conn_close(k, m);
    return;
  }
  if (!nghttp2_session_want_read(k->h2) && !nghttp2_session_want_write(k->h2)) {
    conn_close(k, "connection closed by the server");
    return;
  }
  if (k->goaway && k->nstreams == 0) {
    conn_close(k, "connection closed by the server");
    return;
  }
  conn_set_events(k, EV_READ | (nghttp2_session_want_write(k->h2) ? EV_WRITE : 0));
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  cri_conn_t *k = (cri_conn_t *)((char *)w - offsetof(cri_conn_t, io));
  if (revents & EV_READ) {
    uint8_t buf[16384];
    for (;;) {
      ssize_t n = recv(k->fd, buf, sizeof buf, 0);
      if (n > 0) {
        ssize_t r = nghttp2_session_mem_recv(k->h2, buf, (size_t)n);
        if (r < 0) {
          char m[128];
          snprintf(m, sizeof m, "connection error: %s", nghttp2_strerror((int)r));
          conn_close(k, m);
          return;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0 && errno == EINTR)
        continue;
      conn_close(k, n == 0 ? "connection closed by the server" : "connection error: read failed");
      return;
    }
  }
  conn_flush(k);
}

static int conn_open(cri_client_t *c, cri_conn_t **ret, char *err, size_t errlen) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    snprintf(err, errlen, "connection error: dial unix %s: connect: %s", c->path, strerror(e));
    if (fd >= 0)
      close(fd);
    return -e;
  }
  cri_conn_t *k = xcalloc(1, sizeof *k);
  k->c = c;
  k->fd = fd;
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    abort(); /* out of memory: alloc.h's policy */
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
  int rv = nghttp2_session_client_new(&k->h2, cbs, k);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0)
    abort();
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_SIZE},
  };
  nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
  nghttp2_session_set_local_window_size(k->h2, NGHTTP2_FLAG_NONE, 0, 4 * WINDOW_SIZE);
  ev_io_init(&k->io, conn_io_cb, fd, EV_READ);
  k->io_events = EV_READ;
  ev_io_start(c->loop, &k->io);
  k->next = c->conns;
  c->conns = k;
  *ret = k;
  return 0;
}

/* --- calls --- */

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  cri_call_t *x = (cri_call_t *)((char *)w - offsetof(cri_call_t, timer));
  cri_conn_t *k = x->conn;
  finish(x, CRI_DEADLINE_EXCEEDED, "context deadline exceeded", true);
  if (k)
    conn_flush(k);
}

/* grpc-timeout: at most 8 digits and a unit. */
static void fmt_timeout(char *out, size_t n, int64_t ms) {
  if (ms <= 99999999)
    snprintf(out, n, "%lldm", (long long)ms);
  else if (ms / 1000 <= 99999999)
    snprintf(out, n, "%lldS", (long long)(ms / 1000));
  else
    snprintf(out, n, "%lldM", (long long)(ms / 60000));
}

#define NV(n, v, vl)                                                                           \
  (nghttp2_nv) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE }

static int start(cri_client_t *c, const cri__call_opts_t *o, cri_call_t *x) {
  int64_t tmo = o->timeout_ms ? o->timeout_ms : c->timeout_ms;
  x->c = c;
  x->sid = -1;
  x->grpc_status = -1;
  x->max_msgs = o->max_msgs ? o->max_msgs : 1;
  buf_init(&x->resp, x->max_msgs == 1 ? CRI_MSG_MAX + 5 : STREAM_RESP_MAX);
  ev_timer_init(&x->timer, timeout_cb, tmo > 0 ? (double)tmo / 1000.0 : 0, 0);
  x->next = c->calls;
  if (c->calls)
    c->calls->prev = x;
  c->calls = x;
  c->pending++;
  if (tmo > 0)
    ev_timer_start(c->loop, &x->timer);

  cri_conn_t *k = c->conns && !c->conns->goaway ? c->conns : NULL;
  char err[256];
  if (!k && conn_open(c, &k, err, sizeof err) < 0) {
    finish(x, CRI_UNAVAILABLE, err, false);
    return 0;
  }
  char tbuf[24];
  fmt_timeout(tbuf, sizeof tbuf, tmo);
  nghttp2_nv nva[10];
  size_t n = 0;
  nva[n++] = NV(":method", "POST", 4);
  nva[n++] = NV(":scheme", "http", 4);
  nva[n++] = NV(":path", o->path, strlen(o->path));
  nva[n++] = NV(":authority", "localhost", 9);
  nva[n++] = NV("content-type", "application/grpc", 16);
  nva[n++] = NV("te", "trailers", 8);
  nva[n++] = NV("user-agent", "k3c-cri/1", 9);
  if (tmo > 0)
    nva[n++] = NV("grpc-timeout", tbuf, strlen(tbuf));
  if (o->ns)
    nva[n++] = NV("containerd-namespace", o->ns, strlen(o->ns));
  if (o->lease)
    nva[n++] = NV("containerd-lease", o->lease, strlen(o->lease));
  nghttp2_data_provider prd = {.source.ptr = NULL, .read_callback = body_read_cb};
  int32_t sid = nghttp2_submit_request(k->h2, NULL, nva, n, &prd, x);
  if (sid < 0) {
    snprintf(err, sizeof err, "grpc: cannot start a stream: %s", nghttp2_strerror(sid));
    finish(x, CRI_UNAVAILABLE, err, false);
    return 0;
  }
  x->sid = sid;
  x->conn = k;
  k->nstreams++;
  conn_flush(k);
  return 0;
}

int cri__call(cri_client_t *c, const cri__call_opts_t *o, const proto_writer_t *req,
              cri__reply_cb cb, void *data) {
  int r = proto_writer_error(req);
  if (r < 0)
    return r;
  size_t len = proto_writer_len(req);
  if (len > CRI_MSG_MAX)
    return -E2BIG;
  cri_call_t *x = xcalloc(1, sizeof *x);
  x->req = xmalloc(len + 5);
  cri__frame_prefix(x->req, len);
  if (len)
    memcpy(x->req + 5, proto_writer_data(req), len);
  x->req_len = len + 5;
  x->cb = cb;
  x->data = data;
  return start(c, o, x);
}

int cri__call_stream(cri_client_t *c, const cri__call_opts_t *o, cri__pull_cb pull,
                     void *pull_data, cri__reply_cb cb, void *data) {
  cri_call_t *x = xcalloc(1, sizeof *x);
  x->pull = pull;
  x->pull_data = pull_data;
  x->cb = cb;
  x->data = data;
  return start(c, o, x);
}

/* --- client --- */

int cri_client_new(struct ev_loop *loop, const char *socket_path, cri_client_t **ret_client) {
  if (!socket_path || !*socket_path ||
      strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return -EINVAL;
  cri_client_t *c = xcalloc(1, sizeof *c);
  c->loop = loop;
  memcpy(c->path, socket_path, strlen(socket_path) + 1);
  c->timeout_ms = CRI_TIMEOUT_DEFAULT_MS;
  ev_timer_init(&c->pump, pump_cb, 0, 0);
  *ret_client = c;
  return 0;
}

void cri_client_set_timeout(cri_client_t *c, int64_t timeout_ms) {
  if (timeout_ms > 0)
    c->timeout_ms = timeout_ms;
}

size_t cri_client_pending(const cri_client_t *c) { return c->pending; }

int64_t cri__timeout(const cri_client_t *c) { return c->timeout_ms; }

void cri_client_reset(cri_client_t *c) {
  while (c->conns)
    conn_close(c->conns, "connection reset by the client");
}

static void client_destroy(cri_client_t *c) {
  ev_timer_stop(c->loop, &c->pump);
  free(c);
}

void cri_client_free(cri_client_t *c) {
  if (!c)
    return;
  while (c->calls)
    finish(c->calls, CRI_CANCELLED, "grpc: the client connection is closing", true);
  while (c->conns)
    conn_close(c->conns, "grpc: the client connection is closing");
  if (c->in_pump) { /* pump_cb delivers the rest and frees the client */
    c->closing = true;
    return;
  }
  c->in_pump = true;
  while (c->done_head) {
    cri_call_t *x = c->done_head;
    c->done_head = x->next;
    if (!c->done_head)
      c->done_tail = NULL;
    c->pending--;
    deliver(x);
    call_free(x);
  }
  client_destroy(c);
}
