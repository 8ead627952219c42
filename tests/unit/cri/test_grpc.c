/* Unit tests for pkg/cri's gRPC client against a fake gRPC server (an
 * nghttp2 server session on the same loop, on a unix socket): request
 * headers, responses, grpc-status and percent-encoded grpc-message,
 * trailers-only answers, HTTP errors, deadlines, dropped connections and
 * reconnecting, oversized and malformed replies, cancellation on free. */
#include <errno.h>
#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cri/cri.h"
#include "proto/proto.h"
#include "test.h"

typedef enum {
  MODE_OK,            /* a VersionResponse */
  MODE_ERROR,         /* grpc-status 5 with a percent-encoded message */
  MODE_TRAILERS_ONLY, /* one HEADERS frame: :status 200, grpc-status 12 */
  MODE_HANG,          /* never answer */
  MODE_CLOSE,         /* close the connection on the request */
  MODE_HTTP404,       /* :status 404, no grpc-status */
  MODE_BIG,           /* a message above CRI_MSG_MAX */
  MODE_GARBAGE,       /* status OK, body not protobuf */
  MODE_NO_TRAILERS,   /* data then end of stream without grpc-status */
  MODE_STATS,         /* a ListContainerStatsResponse of two containers */
} mode_t_;

static struct ev_loop *loop;
static char sock_path[108];
static int listen_fd = -1;
static ev_io listen_io;
static mode_t_ mode;
static int accepted;

/* what the server saw */
static char seen_path[256], seen_ct[64], seen_te[32], seen_timeout[32];

typedef struct {
  int fd;
  ev_io io;
  nghttp2_session *h2;
  uint8_t *body; /* response body being sent */
  size_t body_len, body_off;
} sconn_t;

static sconn_t *conns[16];

static void sconn_close(sconn_t *k) {
  for (int i = 0; i < 16; i++)
    if (conns[i] == k)
      conns[i] = NULL;
  ev_io_stop(loop, &k->io);
  nghttp2_session_del(k->h2);
  close(k->fd);
  free(k->body);
  free(k);
}

static ssize_t s_send(nghttp2_session *s, const uint8_t *d, size_t n, int fl, void *ud) {
  sconn_t *k = ud;
  ssize_t r = send(k->fd, d, n, MSG_NOSIGNAL);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return NGHTTP2_ERR_WOULDBLOCK;
  return r < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : r;
}

static int s_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                    const uint8_t *value, size_t vl, uint8_t flags, void *ud) {
  char *dst = NULL;
  size_t room = 0;
  if (nl == 5 && !memcmp(name, ":path", 5))
    dst = seen_path, room = sizeof seen_path;
  else if (nl == 12 && !memcmp(name, "content-type", 12))
    dst = seen_ct, room = sizeof seen_ct;
  else if (nl == 2 && !memcmp(name, "te", 2))
    dst = seen_te, room = sizeof seen_te;
  else if (nl == 12 && !memcmp(name, "grpc-timeout", 12))
    dst = seen_timeout, room = sizeof seen_timeout;
  if (dst)
    snprintf(dst, room, "%.*s", (int)vl, (const char *)value);
  return 0;
}

#define NV(n, v)                                                                               \
  { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

static ssize_t s_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                      nghttp2_data_source *src, void *ud) {
  sconn_t *k = ud;
  size_t n = k->body_len - k->body_off;
  if (n > len)
    n = len;
  memcpy(buf, k->body + k->body_off, n);
  k->body_off += n;
  if (k->body_off == k->body_len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (mode != MODE_NO_TRAILERS) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_nv tr[] = {NV("grpc-status", "0")};
      nghttp2_submit_trailer(s, sid, tr, 1);
    }
  }
  return (ssize_t)n;
}

static void respond_body(sconn_t *k, int32_t sid, const uint8_t *msg, size_t len) {
  free(k->body);
  k->body = malloc(len + 5);
  k->body[0] = 0;
  k->body[1] = (uint8_t)(len >> 24);
  k->body[2] = (uint8_t)(len >> 16);
  k->body[3] = (uint8_t)(len >> 8);
  k->body[4] = (uint8_t)len;
  memcpy(k->body + 5, msg, len);
  k->body_len = len + 5;
  k->body_off = 0;
  nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
  nghttp2_data_provider prd = {.read_callback = s_body};
  nghttp2_submit_response(k->h2, sid, h, 2, &prd);
}

static bool close_after;

static void answer(sconn_t *k, int32_t sid) {
  switch (mode) {
  case MODE_OK:
  case MODE_NO_TRAILERS: {
    proto_writer_t w;
    proto_writer_init(&w, 1024);
    proto_put_string(&w, 1, "0.1.0");
    proto_put_string(&w, 2, "fake");
    proto_put_string(&w, 3, "9.9");
    proto_put_string(&w, 4, "v1");
    proto_put_varint(&w, 99, 7); /* unknown field: skipped */
    respond_body(k, sid, proto_writer_data(&w), proto_writer_len(&w));
    proto_writer_done(&w);
    break;
  }
  case MODE_STATS: {
    /* ContainerStats{attributes{id, metadata{name, attempt}, labels}, cpu{timestamp,
     * usage_core_nano_seconds}, memory{timestamp, working_set_bytes, usage_bytes,
     * rss_bytes = 0}}, then one with attributes only (an exited container) */
    proto_writer_t w;
    proto_writer_init(&w, 4096);
    size_t st = proto_msg_begin(&w, 1);
    size_t at = proto_msg_begin(&w, 1);
    proto_put_string(&w, 1, "c1");
    size_t md = proto_msg_begin(&w, 2);
    proto_put_string(&w, 1, "spin");
    proto_put_varint(&w, 2, 3);
    proto_msg_end(&w, md);
    proto_put_map_str(&w, 3, "io.kubernetes.pod.uid", "u-1");
    proto_put_map_str(&w, 4, "note", "a");
    proto_msg_end(&w, at);
    size_t cpu = proto_msg_begin(&w, 2);
    proto_put_int64(&w, 1, 1700000000123456789LL);
    size_t v = proto_msg_begin(&w, 2);
    proto_put_varint(&w, 1, 987654321012ULL);
    proto_msg_end(&w, v);
    proto_msg_end(&w, cpu);
    size_t mem = proto_msg_begin(&w, 3);
    proto_put_int64(&w, 1, 1700000000223456789LL);
    v = proto_msg_begin(&w, 2);
    proto_put_varint(&w, 1, 4096);
    proto_msg_end(&w, v);
    v = proto_msg_begin(&w, 4);
    proto_put_varint(&w, 1, 8192);
    proto_msg_end(&w, v);
    v = proto_msg_begin(&w, 5); /* a wrapper holding 0: set, value 0 */
    proto_msg_end(&w, v);
    proto_msg_end(&w, mem);
    size_t wl = proto_msg_begin(&w, 4); /* writable layer: skipped */
    proto_put_int64(&w, 1, 5);
    proto_msg_end(&w, wl);
    proto_msg_end(&w, st);
    st = proto_msg_begin(&w, 1);
    at = proto_msg_begin(&w, 1);
    proto_put_string(&w, 1, "c2");
    proto_msg_end(&w, at);
    proto_msg_end(&w, st);
    respond_body(k, sid, proto_writer_data(&w), proto_writer_len(&w));
    proto_writer_done(&w);
    break;
  }
  case MODE_GARBAGE:
    respond_body(k, sid, (const uint8_t[]){0x0a, 0x05, 0x61, 0x62}, 4); /* length past the end */
    break;
  case MODE_BIG: {
    size_t n = CRI_MSG_MAX + 100;
    uint8_t *big = calloc(1, n);
    respond_body(k, sid, big, n);
    free(big);
    break;
  }
  case MODE_ERROR: {
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_submit_headers(k->h2, NGHTTP2_FLAG_NONE, sid, NULL, h, 2, NULL);
    nghttp2_nv tr[] = {NV("grpc-status", "5"),
                       NV("grpc-message", "container \"x\" not found%3A 100%25 sure")};
    nghttp2_submit_headers(k->h2, NGHTTP2_FLAG_END_STREAM, sid, NULL, tr, 2, NULL);
    break;
  }
  case MODE_TRAILERS_ONLY: {
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                      NV("grpc-status", "12"), NV("grpc-message", "unknown method")};
    nghttp2_submit_headers(k->h2, NGHTTP2_FLAG_END_STREAM, sid, NULL, h, 4, NULL);
    break;
  }
  case MODE_HTTP404: {
    nghttp2_nv h[] = {NV(":status", "404")};
    nghttp2_submit_headers(k->h2, NGHTTP2_FLAG_END_STREAM, sid, NULL, h, 1, NULL);
    break;
  }
  case MODE_CLOSE:
    close_after = true;
    break;
  case MODE_HANG:
    break;
  }
}

static int s_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    answer(ud, f->hd.stream_id);
  return 0;
}

/* Send what fits; wait for EV_WRITE for the rest (client and server share
 * the loop, so the server must never block). */
static void s_flush(sconn_t *k) {
  if (nghttp2_session_send(k->h2) < 0) {
    sconn_close(k);
    return;
  }
  int ev = EV_READ | (nghttp2_session_want_write(k->h2) ? EV_WRITE : 0);
  if (ev != k->io.events) {
    ev_io_stop(loop, &k->io);
    ev_io_set(&k->io, k->fd, ev);
    ev_io_start(loop, &k->io);
  }
}

static void s_io(struct ev_loop *l, ev_io *w, int revents) {
  sconn_t *k = (sconn_t *)((char *)w - offsetof(sconn_t, io));
  if (revents & EV_READ) {
    uint8_t buf[65536];
    ssize_t n = recv(k->fd, buf, sizeof buf, 0);
    if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
      sconn_close(k);
      return;
    }
    close_after = false;
    if (n > 0 && (nghttp2_session_mem_recv(k->h2, buf, (size_t)n) < 0 || close_after)) {
      sconn_close(k);
      return;
    }
  }
  s_flush(k);
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return;
  accepted++;
  sconn_t *k = calloc(1, sizeof *k);
  k->fd = fd;
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, s_send);
  nghttp2_session_callbacks_set_on_header_callback(cb, s_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, s_frame);
  nghttp2_session_server_new(&k->h2, cb, k);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, iv, 1);
  ev_io_init(&k->io, s_io, fd, EV_READ);
  ev_io_start(loop, &k->io);
  s_flush(k);
  for (int i = 0; i < 16; i++)
    if (!conns[i]) {
      conns[i] = k;
      break;
    }
}

static void server_start(void) {
  snprintf(sock_path, sizeof sock_path, "/tmp/k3c-test-grpc-%d.sock", (int)getpid());
  unlink(sock_path);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(listen_fd, 16) < 0)
    abort();
  ev_io_init(&listen_io, on_accept, listen_fd, EV_READ);
  ev_io_start(loop, &listen_io);
}

static void server_stop(void) {
  for (int i = 0; i < 16; i++)
    if (conns[i])
      sconn_close(conns[i]);
  ev_io_stop(loop, &listen_io);
  close(listen_fd);
  unlink(sock_path);
}

/* --- client side --- */

static struct {
  bool done;
  cri_code_t code;
  char msg[512];
  char name[64], api[16];
} got;

static void version_cb(void *data, const cri_status_t *st, const cri_version_t *v) {
  got.done = true;
  got.code = st->code;
  snprintf(got.msg, sizeof got.msg, "%s", st->message);
  if (v) {
    snprintf(got.name, sizeof got.name, "%s", v->runtime_name);
    snprintf(got.api, sizeof got.api, "%s", v->runtime_api_version);
  }
}

static void run_until_done(void) {
  ev_tstamp end = ev_time() + 20;
  while (!got.done && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_TRUE(got.done);
}

/* One Version call in the given mode; returns the client for more. */
static cri_client_t *version_call(cri_client_t *c, mode_t_ m) {
  memset(&got, 0, sizeof got);
  mode = m;
  if (!c)
    ASSERT_EQ_INT(cri_client_new(loop, sock_path, &c), 0);
  ASSERT_EQ_INT(cri_version(c, version_cb, NULL), 0);
  ASSERT_FALSE(got.done); /* never from inside the call */
  run_until_done();
  return c;
}

static void test_ok_and_request_headers(void) {
  cri_client_t *c = version_call(NULL, MODE_OK);
  ASSERT_EQ_INT(got.code, CRI_OK);
  ASSERT_EQ_STR(got.msg, "");
  ASSERT_EQ_STR(got.name, "fake");
  ASSERT_EQ_STR(got.api, "v1");
  ASSERT_EQ_STR(seen_path, "/runtime.v1.RuntimeService/Version");
  ASSERT_EQ_STR(seen_ct, "application/grpc");
  ASSERT_EQ_STR(seen_te, "trailers");
  ASSERT_EQ_STR(seen_timeout, "120000m");
  ASSERT_EQ_INT(cri_client_pending(c), 0);
  cri_client_free(c);
}

static struct {
  bool done;
  cri_code_t code;
  size_t n;
  cri_container_stats_t a, b;
  char id[16], name[16], uid[16], id2[16];
} gs;

static void stats_cb(void *data, const cri_status_t *st, const cri_container_stats_t *items,
                     size_t n) {
  gs.done = true;
  gs.code = st->code;
  gs.n = n;
  if (n >= 2) { /* copy what the test reads: the strings live in the arena */
    gs.a = items[0];
    gs.b = items[1];
    snprintf(gs.id, sizeof gs.id, "%s", items[0].id);
    snprintf(gs.name, sizeof gs.name, "%s", items[0].metadata.name);
    const char *uid = cri_map_get(items[0].labels, "io.kubernetes.pod.uid");
    snprintf(gs.uid, sizeof gs.uid, "%s", uid ? uid : "(none)");
    snprintf(gs.id2, sizeof gs.id2, "%s", items[1].id);
  }
}

static void test_list_container_stats(void) {
  cri_client_t *c = NULL;
  memset(&gs, 0, sizeof gs);
  mode = MODE_STATS;
  ASSERT_EQ_INT(cri_client_new(loop, sock_path, &c), 0);
  cri_kv_t sel = {"io.k3c.managed", "true"};
  cri_stats_filter_t f = {.id = "", .pod_sandbox_id = "", .label_selector = {&sel, 1}};
  ASSERT_EQ_INT(cri_list_container_stats(c, &f, stats_cb, NULL), 0);
  ev_tstamp end = ev_time() + 20;
  while (!gs.done && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_TRUE(gs.done);
  ASSERT_EQ_STR(seen_path, "/runtime.v1.RuntimeService/ListContainerStats");
  ASSERT_EQ_INT(gs.code, CRI_OK);
  ASSERT_EQ_INT(gs.n, 2);
  ASSERT_EQ_STR(gs.id, "c1");
  ASSERT_EQ_STR(gs.name, "spin");
  ASSERT_EQ_INT(gs.a.metadata.attempt, 3);
  ASSERT_EQ_STR(gs.uid, "u-1");
  ASSERT_EQ_INT(gs.a.cpu.timestamp, 1700000000123456789LL);
  ASSERT_TRUE(gs.a.cpu.usage_core_nano_seconds.set);
  ASSERT_EQ_INT(gs.a.cpu.usage_core_nano_seconds.value, 987654321012LL);
  ASSERT_FALSE(gs.a.cpu.usage_nano_cores.set);
  ASSERT_EQ_INT(gs.a.memory.timestamp, 1700000000223456789LL);
  ASSERT_TRUE(gs.a.memory.working_set_bytes.set);
  ASSERT_EQ_INT(gs.a.memory.working_set_bytes.value, 4096);
  ASSERT_EQ_INT(gs.a.memory.usage_bytes.value, 8192);
  ASSERT_TRUE(gs.a.memory.rss_bytes.set);
  ASSERT_EQ_INT(gs.a.memory.rss_bytes.value, 0);
  ASSERT_FALSE(gs.a.memory.available_bytes.set);
  ASSERT_EQ_STR(gs.id2, "c2");
  ASSERT_FALSE(gs.b.cpu.usage_core_nano_seconds.set);
  ASSERT_FALSE(gs.b.memory.working_set_bytes.set);
  /* ContainerStats needs an id */
  ASSERT_EQ_INT(cri_container_stats(c, "", stats_cb, NULL), -EINVAL);
  cri_client_free(c);
}

static void test_error_status_and_message(void) {
  cri_client_t *c = version_call(NULL, MODE_ERROR);
  ASSERT_EQ_INT(got.code, CRI_NOT_FOUND);
  ASSERT_EQ_STR(got.msg, "container \"x\" not found: 100% sure");
  cri_status_t st = {got.code, got.msg};
  ASSERT_EQ_INT(cri_status_errno(&st), -ENOENT);
  ASSERT_EQ_STR(cri_code_name(CRI_NOT_FOUND), "NotFound");
  /* the same connection serves the next call */
  int before = accepted;
  version_call(c, MODE_OK);
  ASSERT_EQ_INT(got.code, CRI_OK);
  ASSERT_EQ_INT(accepted, before);
  cri_client_free(c);
}

static void test_trailers_only(void) {
  cri_client_t *c = version_call(NULL, MODE_TRAILERS_ONLY);
  ASSERT_EQ_INT(got.code, CRI_UNIMPLEMENTED);
  ASSERT_EQ_STR(got.msg, "unknown method");
  cri_client_free(c);
}

static void test_http_status_without_grpc_status(void) {
  cri_client_t *c = version_call(NULL, MODE_HTTP404);
  ASSERT_EQ_INT(got.code, CRI_UNIMPLEMENTED);
  ASSERT_CONTAINS(got.msg, "404");
  cri_client_free(c);
}

static void test_missing_trailers(void) {
  cri_client_t *c = version_call(NULL, MODE_NO_TRAILERS);
  ASSERT_EQ_INT(got.code, CRI_INTERNAL);
  ASSERT_CONTAINS(got.msg, "trailers");
  cri_client_free(c);
}

static void test_deadline(void) {
  cri_client_t *c;
  ASSERT_EQ_INT(cri_client_new(loop, sock_path, &c), 0);
  cri_client_set_timeout(c, 200);
  ev_tstamp t0 = ev_time();
  version_call(c, MODE_HANG);
  ASSERT_EQ_INT(got.code, CRI_DEADLINE_EXCEEDED);
  ASSERT_EQ_STR(got.msg, "context deadline exceeded");
  ASSERT_EQ_STR(seen_timeout, "200m");
  ASSERT_TRUE(ev_time() - t0 >= 0.19 && ev_time() - t0 < 5);
  /* the connection survives a cancelled stream */
  version_call(c, MODE_OK);
  ASSERT_EQ_INT(got.code, CRI_OK);
  cri_client_free(c);
}

static void test_dropped_connection_then_reconnect(void) {
  int before = accepted;
  cri_client_t *c = version_call(NULL, MODE_CLOSE);
  ASSERT_EQ_INT(got.code, CRI_UNAVAILABLE);
  ASSERT_CONTAINS(got.msg, "closed");
  version_call(c, MODE_OK); /* connects again by itself */
  ASSERT_EQ_INT(got.code, CRI_OK);
  ASSERT_EQ_INT(accepted, before + 2);
  /* reset drops the connection; the next call makes a new one */
  cri_client_reset(c);
  version_call(c, MODE_OK);
  ASSERT_EQ_INT(got.code, CRI_OK);
  ASSERT_EQ_INT(accepted, before + 3);
  cri_client_free(c);
}

static void test_no_socket(void) {
  cri_client_t *c;
  memset(&got, 0, sizeof got);
  ASSERT_EQ_INT(cri_client_new(loop, "/tmp/k3c-test-grpc-none/x.sock", &c), 0);
  ASSERT_EQ_INT(cri_version(c, version_cb, NULL), 0);
  ASSERT_FALSE(got.done);
  run_until_done();
  ASSERT_EQ_INT(got.code, CRI_UNAVAILABLE);
  ASSERT_CONTAINS(got.msg, "dial unix /tmp/k3c-test-grpc-none/x.sock: connect:");
  cri_client_free(c);
  /* a path too long for a unix socket is refused up front */
  char longp[200];
  memset(longp, 'a', sizeof longp - 1);
  longp[sizeof longp - 1] = 0;
  ASSERT_EQ_INT(cri_client_new(loop, longp, &c), -EINVAL);
}

static void test_oversized_reply(void) {
  cri_client_t *c = version_call(NULL, MODE_BIG);
  ASSERT_EQ_INT(got.code, CRI_RESOURCE_EXHAUSTED);
  ASSERT_CONTAINS(got.msg, "larger than max");
  cri_client_free(c);
}

static void test_malformed_reply(void) {
  cri_client_t *c = version_call(NULL, MODE_GARBAGE);
  ASSERT_EQ_INT(got.code, CRI_INTERNAL);
  ASSERT_CONTAINS(got.msg, "unmarshal");
  cri_client_free(c);
}

static void test_free_cancels_pending(void) {
  cri_client_t *c;
  memset(&got, 0, sizeof got);
  mode = MODE_HANG;
  ASSERT_EQ_INT(cri_client_new(loop, sock_path, &c), 0);
  ASSERT_EQ_INT(cri_version(c, version_cb, NULL), 0);
  for (int i = 0; i < 20; i++)
    ev_run(loop, EVRUN_NOWAIT);
  ASSERT_FALSE(got.done);
  ASSERT_EQ_INT(cri_client_pending(c), 1);
  cri_client_free(c);
  ASSERT_TRUE(got.done); /* before cri_client_free returned */
  ASSERT_EQ_INT(got.code, CRI_CANCELLED);
}

static void test_required_arguments(void) {
  cri_client_t *c;
  ASSERT_EQ_INT(cri_client_new(loop, sock_path, &c), 0);
  ASSERT_EQ_INT(cri_start_container(c, "", NULL, NULL), -EINVAL);
  ASSERT_EQ_INT(cri_image_status(c, NULL, NULL, NULL), -EINVAL);
  ASSERT_EQ_INT(cri_client_pending(c), 0);
  cri_client_free(c);
}

TEST_LIST = {
    TEST(test_ok_and_request_headers),
    TEST(test_list_container_stats),
    TEST(test_error_status_and_message),
    TEST(test_trailers_only),
    TEST(test_http_status_without_grpc_status),
    TEST(test_missing_trailers),
    TEST(test_deadline),
    TEST(test_dropped_connection_then_reconnect),
    TEST(test_no_socket),
    TEST(test_oversized_reply),
    TEST(test_malformed_reply),
    TEST(test_free_cancels_pending),
    TEST(test_required_arguments),
    {0},
};

static void setup(void) __attribute__((constructor));
static void setup(void) {
  signal(SIGPIPE, SIG_IGN);
  loop = ev_default_loop(0);
  server_start();
}

static void teardown(void) __attribute__((destructor));
static void teardown(void) { server_stop(); }

TEST_MAIN()
