/* The grpc probe: one grpc.health.v1.Health/Check call over h2c on the
 * kubelet's loop, with nghttp2 for the framing (grpcprobe.h).
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md */
#include "agent/grpcprobe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"

#define BODY_MAX 4096
#define OUT_MAX 16384

int agent_grpcprobe_request(const char *service, uint8_t *out, size_t len) {
  size_t n = service ? strlen(service) : 0;
  if (n > 1024)
    return -ENOSPC;
  /* field 1 (service), wire type 2; a varint length of at most 2 bytes */
  size_t pb = n ? 1 + (n < 128 ? 1 : 2) + n : 0;
  if (len < 5 + pb)
    return -ENOSPC;
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = (uint8_t)(pb >> 8);
  out[4] = (uint8_t)pb;
  size_t i = 5;
  if (n) {
    out[i++] = 0x0a;
    if (n < 128) {
      out[i++] = (uint8_t)n;
    } else {
      out[i++] = (uint8_t)(0x80 | (n & 0x7f));
      out[i++] = (uint8_t)(n >> 7);
    }
    memcpy(out + i, service, n);
    i += n;
  }
  return (int)i;
}

static int varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= len)
      return -EPROTO;
    uint8_t b = p[(*pos)++];
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *ret = v;
      return 0;
    }
  }
  return -EPROTO;
}

int agent_grpcprobe_response(const uint8_t *body, size_t len, int *ret_status) {
  if (len < 5 || body[0] != 0)
    return -EPROTO;
  size_t mlen = ((size_t)body[1] << 24) | ((size_t)body[2] << 16) | ((size_t)body[3] << 8) | body[4];
  if (mlen != len - 5)
    return -EPROTO;
  const uint8_t *m = body + 5;
  size_t pos = 0;
  int status = AGENT_GRPC_UNKNOWN; /* proto3: an absent field is 0 */
  while (pos < mlen) {
    uint64_t key, v;
    if (varint(m, mlen, &pos, &key) < 0)
      return -EPROTO;
    switch (key & 7) {
    case 0:
      if (varint(m, mlen, &pos, &v) < 0)
        return -EPROTO;
      if (key >> 3 == 1)
        status = (int)v;
      break;
    case 2:
      if (varint(m, mlen, &pos, &v) < 0 || v > mlen - pos)
        return -EPROTO;
      pos += v;
      break;
    case 1:
      if (mlen - pos < 8)
        return -EPROTO;
      pos += 8;
      break;
    case 5:
      if (mlen - pos < 4)
        return -EPROTO;
      pos += 4;
      break;
    default:
      return -EPROTO;
    }
  }
  *ret_status = status;
  return 0;
}

const char *agent_grpcprobe_status_name(int status) {
  switch (status) {
  case AGENT_GRPC_SERVING:
    return "SERVING";
  case AGENT_GRPC_NOT_SERVING:
    return "NOT_SERVING";
  case AGENT_GRPC_SERVICE_UNKNOWN:
    return "SERVICE_UNKNOWN";
  default:
    return "UNKNOWN";
  }
}

/* ---- the call ---- */

struct agent_grpcprobe {
  struct ev_loop *loop;
  ev_io io;
  ev_timer deadline, later;
  int fd;
  bool connected, done;
  char target[80];
  double timeout;
  nghttp2_session *h2;
  int32_t sid;
  uint8_t req[1040];
  size_t req_len, req_off;
  uint8_t out[OUT_MAX];
  size_t out_len;
  uint8_t body[BODY_MAX];
  size_t body_len;
  int http_status, grpc_status;
  char grpc_message[256];
  char why[512];
  bool ok;
  agent_grpcprobe_cb cb;
  void *data;
};

static void free_probe(agent_grpcprobe_t *g) {
  ev_io_stop(g->loop, &g->io);
  ev_timer_stop(g->loop, &g->deadline);
  ev_timer_stop(g->loop, &g->later);
  if (g->fd >= 0)
    close(g->fd);
  if (g->h2)
    nghttp2_session_del(g->h2);
  free(g);
}

void agent_grpcprobe_cancel(agent_grpcprobe_t *g) {
  if (g)
    free_probe(g);
}

/* Report once from the loop and free. */
static void finish(agent_grpcprobe_t *g, bool ok, const char *why) {
  if (g->done)
    return;
  g->done = true;
  g->ok = ok;
  snprintf(g->why, sizeof(g->why), "%s", why);
  ev_io_stop(g->loop, &g->io);
  ev_timer_stop(g->loop, &g->deadline);
  ev_timer_set(&g->later, 0, 0);
  ev_timer_start(g->loop, &g->later);
}

static void later_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_grpcprobe_t *g = (agent_grpcprobe_t *)((char *)w - offsetof(agent_grpcprobe_t, later));
  agent_grpcprobe_cb cb = g->cb;
  void *data = g->data;
  char why[512];
  bool ok = g->ok;
  snprintf(why, sizeof(why), "%s", g->why);
  free_probe(g);
  cb(data, ok, why);
}

static ssize_t read_req(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *ud) {
  agent_grpcprobe_t *g = ud;
  size_t n = g->req_len - g->req_off;
  if (n > len)
    n = len;
  memcpy(buf, g->req + g->req_off, n);
  g->req_off += n;
  if (g->req_off == g->req_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* A short decimal header value; -1 when it is not one. */
static int atoi_n(const uint8_t *v, size_t n) {
  int x = 0;
  if (n == 0 || n > 6)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
  agent_grpcprobe_t *g = ud;
  if (nlen == 7 && !memcmp(name, ":status", 7))
    g->http_status = atoi_n(value, vlen);
  else if (nlen == 11 && !memcmp(name, "grpc-status", 11))
    g->grpc_status = atoi_n(value, vlen);
  else if (nlen == 12 && !memcmp(name, "grpc-message", 12))
    snprintf(g->grpc_message, sizeof(g->grpc_message), "%.*s", (int)vlen, (const char *)value);
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                   size_t len, void *ud) {
  agent_grpcprobe_t *g = ud;
  if (len > BODY_MAX - g->body_len)
    len = BODY_MAX - g->body_len;
  memcpy(g->body + g->body_len, data, len);
  g->body_len += len;
  return 0;
}

static const char *code_name(int c) {
  static const char *const names[] = {
      "OK",           "Canceled",          "Unknown",           "InvalidArgument",
      "DeadlineExceeded", "NotFound",      "AlreadyExists",     "PermissionDenied",
      "ResourceExhausted", "FailedPrecondition", "Aborted",     "OutOfRange",
      "Unimplemented", "Internal",         "Unavailable",       "DataLoss",
      "Unauthenticated"};
  return c >= 0 && c < 17 ? names[c] : "Unknown";
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud) {
  agent_grpcprobe_t *g = ud;
  char why[512];
  if (sid != g->sid)
    return 0;
  if (g->grpc_status > 0) {
    snprintf(why, sizeof(why), "rpc error: code = %s desc = %s", code_name(g->grpc_status),
             g->grpc_message);
    finish(g, false, why);
    return 0;
  }
  int st = 0;
  if (g->http_status != 200 || error_code || g->grpc_status < 0 ||
      agent_grpcprobe_response(g->body, g->body_len, &st) < 0) {
    snprintf(why, sizeof(why), "rpc error: code = Unavailable desc = %s",
             g->http_status != 200 ? "unexpected HTTP status" : "malformed health response");
    finish(g, false, why);
    return 0;
  }
  if (st != AGENT_GRPC_SERVING) {
    snprintf(why, sizeof(why), "service unhealthy (responded with \"%s\")",
             agent_grpcprobe_status_name(st));
    finish(g, false, why);
    return 0;
  }
  finish(g, true, "");
  return 0;
}

/* What nghttp2 wants sent, into out, then to the socket. */
static int flush(agent_grpcprobe_t *g) {
  for (;;) {
    if (g->out_len == 0) {
      const uint8_t *p;
      ssize_t n = nghttp2_session_mem_send(g->h2, &p);
      if (n < 0)
        return -EPROTO;
      if (n == 0)
        break;
      if ((size_t)n > OUT_MAX)
        return -E2BIG;
      memcpy(g->out, p, (size_t)n);
      g->out_len = (size_t)n;
    }
    ssize_t w = write(g->fd, g->out, g->out_len);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      return -errno;
    }
    memmove(g->out, g->out + w, g->out_len - (size_t)w);
    g->out_len -= (size_t)w;
  }
  int ev = EV_READ | (g->out_len ? EV_WRITE : 0);
  ev_io_stop(g->loop, &g->io);
  ev_io_set(&g->io, g->fd, ev);
  ev_io_start(g->loop, &g->io);
  return 0;
}

static int begin(agent_grpcprobe_t *g) {
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    return -ENOMEM;
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  int r = nghttp2_session_client_new(&g->h2, cbs, g);
  nghttp2_session_callbacks_del(cbs);
  if (r != 0)
    return -ENOMEM;
  nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, NULL, 0);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv hdrs[] = {
      NV(":method", "POST"),      NV(":scheme", "http"),
      NV(":path", AGENT_GRPC_HEALTH_PATH), NV(":authority", g->target),
      NV("content-type", "application/grpc"), NV("te", "trailers"),
      NV("user-agent", "kube-probe/1.32"),
  };
#undef NV
  nghttp2_data_provider dp = {.read_callback = read_req};
  g->sid = nghttp2_submit_request(g->h2, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &dp, NULL);
  return g->sid < 0 ? -EPROTO : flush(g);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  agent_grpcprobe_t *g = (agent_grpcprobe_t *)((char *)w - offsetof(agent_grpcprobe_t, io));
  char why[512];
  if (!g->connected) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      snprintf(why, sizeof(why), "timeout: failed to connect service \"%s\" within %gs: %s",
               g->target, g->timeout, strerror(err));
      finish(g, false, why);
      return;
    }
    g->connected = true;
    if (begin(g) < 0)
      finish(g, false, "rpc error: code = Internal desc = cannot start the call");
    return;
  }
  if (revents & EV_READ) {
    uint8_t buf[8192];
    ssize_t n = read(g->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      finish(g, false, "rpc error: code = Unavailable desc = connection closed before the answer");
      return;
    }
    if (n > 0 && nghttp2_session_mem_recv(g->h2, buf, (size_t)n) < 0) {
      finish(g, false, "rpc error: code = Internal desc = HTTP/2 protocol error");
      return;
    }
    if (g->done)
      return;
  }
  if (flush(g) < 0)
    finish(g, false, "rpc error: code = Unavailable desc = write failed");
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_grpcprobe_t *g = (agent_grpcprobe_t *)((char *)w - offsetof(agent_grpcprobe_t, deadline));
  char why[512];
  if (!g->connected)
    snprintf(why, sizeof(why),
             "timeout: failed to connect service \"%s\" within %gs: context deadline exceeded",
             g->target, g->timeout);
  else
    snprintf(why, sizeof(why), "timeout: health rpc did not complete within %gs", g->timeout);
  finish(g, false, why);
}

agent_grpcprobe_t *agent_grpcprobe_start(struct ev_loop *loop, const char *ip, int port,
                                         const char *service, double timeout,
                                         agent_grpcprobe_cb cb, void *data) {
  agent_grpcprobe_t *g = xcalloc(1, sizeof(*g));
  g->loop = loop;
  g->fd = -1;
  g->cb = cb;
  g->data = data;
  g->timeout = timeout;
  g->grpc_status = -1;
  snprintf(g->target, sizeof(g->target), "%s:%d", ip, port);
  ev_timer_init(&g->later, later_cb, 0, 0);
  ev_timer_init(&g->deadline, deadline_cb, timeout, 0);
  ev_io_init(&g->io, io_cb, -1, EV_WRITE);
  int n = agent_grpcprobe_request(service, g->req, sizeof(g->req));
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (n < 0) {
    finish(g, false, "the grpc probe's service name is too long");
    return g;
  }
  g->req_len = (size_t)n;
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
    finish(g, false, port <= 0 || port > 65535 ? "the grpc probe's port is not valid"
                                               : "the pod has no IPv4 address yet");
    return g;
  }
  g->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (g->fd < 0) {
    free_probe(g);
    return NULL;
  }
  if (connect(g->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
    char why[512];
    snprintf(why, sizeof(why), "timeout: failed to connect service \"%s\" within %gs: %s",
             g->target, timeout, strerror(errno));
    finish(g, false, why);
    return g;
  }
  ev_io_set(&g->io, g->fd, EV_WRITE);
  ev_io_start(loop, &g->io);
  ev_timer_start(loop, &g->deadline);
  return g;
}
