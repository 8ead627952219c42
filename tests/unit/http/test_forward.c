/* The reverse-proxy relay (pkg/http/forward.c): a TLS http_server whose
 * handler forwards to a backend thread speaking plain HTTP, and an
 * http_dial TLS client. Checks the forwarded head (method, target, body,
 * end-to-end fields on, hop-by-hop fields and credentials off, the
 * caller's extra fields in and a skipped prefix out), the three
 * ways an answer's body ends (Content-Length, chunked, the connection's
 * end) streamed back intact, a body the client reads slowly (the relay
 * must not hold it all), an unreachable next hop, and that no relay is
 * left behind. */
#include "http/dial.h"
#include "http/forward.h"
#include "http/server.h"
#include "test.h"
#include "tls/cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct ev_loop *loop;
static http_server_t *srv;
static int srv_port;
static int backend_port;
static http_tls_client_t *tls;

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

static void failed(http_req_t *r, int err, const char *msg, void *data) {
  http_respond(r, 502, "text/plain", msg, strlen(msg));
}

static void handler(http_req_t *r, void *data) {
  http_forward_opts_t o = {
      .host = "127.0.0.1",
      .port = backend_port,
      .target = "/next?x=1",
      .extra_fields = "X-Remote-User: alice\r\n", /* as the aggregator adds them */
      .skip_prefix = "X-Remote-",
      .fail = failed};
  if (http_forward_start(r, loop, &o) < 0)
    http_respond(r, 400, "text/plain", "no", 2);
}

/* ---- the backend: one connection, blocking, in a thread ---- */

typedef enum { B_LENGTH, B_CHUNKED, B_EOF } bmode_t;

typedef struct {
  bmode_t mode;
  int lfd;
  size_t size; /* body bytes to send */
  char head[8192];
  atomic_size_t written; /* body bytes the kernel took so far */
  atomic_bool done;
} backend_t;

static char pattern_at(size_t i) {
  return (char)((i * 7) % 251);
}

static void write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w <= 0)
      return;
    c += w;
    n -= (size_t)w;
  }
}

static void *backend_run(void *arg) {
  backend_t *b = arg;
  int fd = accept(b->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  size_t hl = 0;
  while (hl < sizeof(b->head) - 1) {
    if (read(fd, b->head + hl, 1) != 1)
      break;
    hl++;
    b->head[hl] = '\0';
    if (hl >= 4 && !memcmp(b->head + hl - 4, "\r\n\r\n", 4))
      break;
  }
  char *cl = strstr(b->head, "Content-Length: ");
  size_t body = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
  char sink[256];
  while (body) { /* the request's body, appended to head for the checks */
    ssize_t n = read(fd, sink, body < sizeof(sink) ? body : sizeof(sink));
    if (n <= 0)
      break;
    size_t room = sizeof(b->head) - 1 - hl;
    size_t k = (size_t)n < room ? (size_t)n : room;
    memcpy(b->head + hl, sink, k);
    hl += k;
    b->head[hl] = '\0';
    body -= (size_t)n;
  }
  char *data = malloc(b->size ? b->size : 1);
  for (size_t i = 0; i < b->size; i++)
    data[i] = pattern_at(i);
  char h[512];
  if (b->mode == B_LENGTH) {
    int n = snprintf(h, sizeof(h),
                     "HTTP/1.1 203 Non-Authoritative\r\nContent-Type: application/x-test\r\n"
                     "X-Backend: yes\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     b->size);
    write_all(fd, h, (size_t)n);
    for (size_t off = 0; off < b->size; off += 64 << 10) {
      size_t k = b->size - off < (64 << 10) ? b->size - off : (64 << 10);
      write_all(fd, data + off, k);
      atomic_fetch_add(&b->written, k);
    }
  } else if (b->mode == B_CHUNKED) {
    static const char ch[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n";
    write_all(fd, ch, sizeof(ch) - 1);
    for (size_t off = 0; off < b->size;) {
      size_t n = b->size - off < 1000 ? b->size - off : 1000;
      int k = snprintf(h, sizeof(h), "%zx\r\n", n);
      write_all(fd, h, (size_t)k);
      write_all(fd, data + off, n);
      write_all(fd, "\r\n", 2);
      off += n;
    }
    write_all(fd, "0\r\n\r\n", 5);
  } else {
    static const char eof[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    write_all(fd, eof, sizeof(eof) - 1);
    write_all(fd, data, b->size);
  }
  free(data);
  shutdown(fd, SHUT_WR);
  read(fd, sink, 1); /* until the relay closes */
  close(fd);
  atomic_store(&b->done, true);
  return NULL;
}

static pthread_t backend_start(backend_t *b) {
  backend_port = free_port();
  b->lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(b->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)backend_port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(b->lfd, (struct sockaddr *)&a, sizeof(a));
  listen(b->lfd, 4);
  pthread_t t;
  pthread_create(&t, NULL, backend_run, b);
  return t;
}

static void backend_join(backend_t *b, pthread_t t) {
  double end = ev_time() + 20;
  while (!atomic_load(&b->done) && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_TRUE(atomic_load(&b->done));
  pthread_join(t, NULL);
  close(b->lfd);
}

/* ---- the client: raw bytes after the head, de-chunked here ---- */

typedef struct {
  int status;
  char head[4096];
  buf_t raw;  /* what came after the head, for error bodies */
  buf_t body; /* the same de-chunked */
  http_chunked_t ch;
  bool body_done, closed;
} client_t;

static void c_head(http_dial_t *d, const http_response_t *resp, const char *raw, size_t len,
                   void *data) {
  client_t *c = data;
  c->status = resp->status;
  snprintf(c->head, sizeof(c->head), "%.*s", (int)len, raw);
}
static void c_data(http_dial_t *d, const char *bytes, size_t len, void *data) {
  client_t *c = data;
  if (c->raw.len < (1 << 20))
    buf_append(&c->raw, bytes, len);
  if (!c->body_done && http_chunked_decode(&c->ch, bytes, len, &c->body, &c->body_done) < 0)
    c->body_done = true;
}
static void c_close(http_dial_t *d, int err, void *data) {
  client_t *c = data;
  c->closed = true;
}
static const http_dial_cbs_t cbs = {c_head, c_data, c_close};

static const char req[] = "POST /t HTTP/1.1\r\nHost: x\r\nX-Test: kept\r\n"
                          "Authorization: Bearer secret\r\nImpersonate-User: eve\r\n"
                          "X-Remote-User: mallory\r\nx-remote-group: system:masters\r\n"
                          "Connection: keep-alive\r\nContent-Length: 5\r\n\r\nhello";

static void run_one(bmode_t mode, size_t size, bool slow_reader) {
  backend_t b = {.mode = mode, .size = size};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.raw, 2 << 20);
  buf_init(&c.body, 64 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(
      http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs, &c, &d), 0);
  double end = ev_time() + 10;
  while (!c.status && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.status, mode == B_LENGTH ? 203 : 200);
  if (slow_reader)
    http_dial_pause(d, true);
  if (slow_reader) {
    /* we stop reading: the relay's server side fills, the relay must
     * stop reading the backend rather than hold the whole body */
    double until = ev_time() + 0.7;
    while (ev_time() < until)
      ev_run(loop, EVRUN_ONCE);
    /* the backend is held back by TCP: the relay stopped reading it */
    ASSERT_TRUE(atomic_load(&b.written) < size / 2);
    http_dial_pause(d, false);
  }
  end = ev_time() + 30;
  while (!c.body_done && !c.closed && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_TRUE(c.body_done);
  ASSERT_EQ_INT(c.body.len, size);
  bool same = true;
  for (size_t i = 0; i < size && same; i++)
    same = c.body.data[i] == pattern_at(i);
  ASSERT_TRUE(same);
  /* the backend saw the request as forwarded */
  ASSERT_CONTAINS(b.head, "POST /next?x=1 HTTP/1.1\r\n");
  ASSERT_CONTAINS(b.head, "Host: 127.0.0.1:");
  ASSERT_CONTAINS(b.head, "X-Test: kept\r\n");
  ASSERT_CONTAINS(b.head, "X-Forwarded-For: 127.0.0.1\r\n");
  ASSERT_CONTAINS(b.head, "Connection: close\r\n");
  ASSERT_CONTAINS(b.head, "Content-Length: 5\r\n");
  ASSERT_CONTAINS(b.head, "\r\n\r\nhello");
  ASSERT_TRUE(strstr(b.head, "Authorization") == NULL);
  ASSERT_TRUE(strstr(b.head, "Impersonate") == NULL);
  /* the caller's fields in, the client's of the skipped prefix out */
  ASSERT_CONTAINS(b.head, "X-Remote-User: alice\r\n");
  ASSERT_TRUE(strstr(b.head, "mallory") == NULL);
  ASSERT_TRUE(strstr(b.head, "system:masters") == NULL);
  ASSERT_TRUE(strstr(b.head, "keep-alive") == NULL);
  if (mode == B_LENGTH) {
    ASSERT_CONTAINS(c.head, "X-Backend: yes\r\n");
    ASSERT_CONTAINS(c.head, "Content-Type: application/x-test\r\n");
    ASSERT_TRUE(strstr(c.head, "Keep-Alive") == NULL);
  }
  buf_done(&c.body);
  http_dial_close(d);
  end = ev_time() + 5;
  while (http_forward_count() && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(http_forward_count(), 0);
  backend_join(&b, t);
  buf_done(&c.raw);
}

static void test_content_length_body(void) {
  run_one(B_LENGTH, 100000, false);
}
static void test_chunked_body(void) {
  run_one(B_CHUNKED, 54321, false);
}
static void test_eof_body(void) {
  run_one(B_EOF, 77777, false);
}
static void test_slow_reader(void) {
  run_one(B_LENGTH, (size_t)24 << 20, true);
}

static void test_next_hop_unreachable(void) {
  backend_port = free_port(); /* nobody listens */
  client_t c = {0};
  buf_init(&c.raw, 1 << 20);
  buf_init(&c.body, 1 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(
      http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs, &c, &d), 0);
  double end = ev_time() + 10;
  while (!(c.status && strstr(c.raw.data ? c.raw.data : "", "refused")) && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.status, 502);
  ASSERT_CONTAINS(c.raw.data ? c.raw.data : "",
                  "error trying to reach service: dial tcp 127.0.0.1:");
  ASSERT_CONTAINS(c.raw.data ? c.raw.data : "", ": connect: connection refused");
  http_dial_close(d);
  buf_done(&c.raw);
  buf_done(&c.body);
  ASSERT_EQ_INT(http_forward_count(), 0);
}

static ev_timer ticker;
static void tick_cb(struct ev_loop *l, ev_timer *w, int revents) {}

static void test_setup_server(void) {
  loop = ev_default_loop(0);
  ev_timer_init(&ticker, tick_cb, 0.05, 0.05);
  ev_timer_start(loop, &ticker);
  char err[256], *key = NULL, *cert = NULL;
  ASSERT_EQ_INT(tls_key_generate(&key, err, sizeof(err)), 0);
  tls_cert_spec_t spec = {.cn = "localhost", .usage = TLS_USAGE_SERVER, .days = 1};
  ASSERT_EQ_INT(tls_cert_create(&spec, key, NULL, NULL, &cert, err, sizeof(err)), 0);
  srv_port = free_port();
  http_server_opts_t o = {
      .bind_address = "127.0.0.1", .port = srv_port, .cert_pem = cert, .key_pem = key};
  ASSERT_EQ_INT(http_server_start(loop, &o, handler, NULL, &srv, err, sizeof(err)), 0);
  ASSERT_EQ_INT(http_tls_client_new(NULL, NULL, &tls, err, sizeof(err)), 0);
  free(key);
  free(cert);
}

static void test_teardown_leaves_nothing(void) {
  double end = ev_time() + 0.1;
  while (ev_time() < end)
    ev_run(loop, EVRUN_NOWAIT), usleep(1000);
  http_server_stop(srv);
  http_tls_client_free(tls);
  ev_timer_stop(loop, &ticker);
  ev_loop_destroy(loop);
  ASSERT_EQ_INT(http_forward_count(), 0);
}

TEST_LIST = {
    TEST(test_setup_server),
    TEST(test_content_length_body),
    TEST(test_chunked_body),
    TEST(test_eof_body),
    TEST(test_slow_reader),
    TEST(test_next_hop_unreachable),
    TEST(test_teardown_leaves_nothing),
    {0},
};
TEST_MAIN()
