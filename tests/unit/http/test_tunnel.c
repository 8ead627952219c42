/* The upgrade relay (pkg/http/tunnel.c) with its two halves, the server's
 * upgraded connection (pause/resume/drain in server.c) and the outgoing
 * connection (dial.c): a TLS http_server whose handler tunnels to a
 * backend thread speaking plain TCP, and an http_dial TLS client. Checks
 * the forwarded head, bytes in order both ways under back-pressure (the
 * backend does not read for a while: the client's own queue must stay
 * full), a non-101 answer passed back, nothing lost when either end closes
 * right after sending, an unreachable next hop, and the WebSocket
 * subprotocol translation (the kubelet's v5 as v4). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/dial.h"
#include "http/server.h"
#include "http/tunnel.h"
#include "test.h"
#include "tls/cert.h"

static struct ev_loop *loop;
static http_server_t *srv;
static int srv_port;
static int backend_port; /* where the handler tunnels to */
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

static const char *ws_protocol, *ws_protocol_reply; /* the rename test's */

static void handler(http_req_t *r, void *data) {
  http_tunnel_opts_t o = {.host = "127.0.0.1", .port = backend_port, .target = "/next?x=1",
                          .fail = failed, .ws_protocol = ws_protocol,
                          .ws_protocol_reply = ws_protocol_reply};
  if (http_tunnel_start(r, loop, &o) < 0)
    http_respond(r, 400, "text/plain", "no upgrade", 10);
}

/* ---- the backend: one connection, blocking, in a thread ---- */

typedef enum { B_ECHO, B_REFUSE, B_BYE, B_COUNT, B_WS, B_WS_NOPROTO } bmode_t;

typedef struct {
  bmode_t mode;
  int lfd;
  int delay_ms;   /* B_ECHO: read nothing this long after the head */
  int bye_mib;    /* B_BYE: MiB sent before closing (0: 1) */
  char head[4096];
  size_t counted; /* B_COUNT: bytes until EOF */
  atomic_bool done;
} backend_t;

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
  while (hl < sizeof(b->head) - 1) { /* byte by byte: nothing after the head is taken */
    if (read(fd, b->head + hl, 1) != 1)
      break;
    hl++;
    b->head[hl] = '\0';
    if (hl >= 4 && !memcmp(b->head + hl - 4, "\r\n\r\n", 4))
      break;
  }
  static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\n"
                           "Connection: Upgrade\r\n\r\n";
  static char buf[64 << 10];
  if (b->mode == B_WS || b->mode == B_WS_NOPROTO) {
    /* a 101 choosing a subprotocol (or none), bytes in the same write */
    const char *ws = b->mode == B_WS ? "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                       "Connection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n"
                                       "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\nhello"
                                     : "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                       "Connection: Upgrade\r\n\r\nhello";
    write_all(fd, ws, strlen(ws));
    read(fd, buf, 1); /* until the relay closes */
  } else if (b->mode == B_REFUSE) {
    static const char no[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/x-test\r\n"
                             "Content-Length: 5\r\n\r\nnope\n";
    write_all(fd, no, sizeof(no) - 1);
    read(fd, buf, 1); /* until the relay closes */
  } else if (b->mode == B_BYE) {
    write_all(fd, up, sizeof(up) - 1);
    for (size_t i = 0; i < sizeof(buf); i++)
      buf[i] = (char)(i % 253);
    for (int i = 0; i < 16 * (b->bye_mib ? b->bye_mib : 1); i++) /* then close at once */
      write_all(fd, buf, sizeof(buf));
  } else if (b->mode == B_COUNT) {
    write_all(fd, up, sizeof(up) - 1);
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      b->counted += (size_t)n;
  } else {
    write_all(fd, up, sizeof(up) - 1);
    usleep((useconds_t)b->delay_ms * 1000);
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      write_all(fd, buf, (size_t)n);
  }
  close(fd);
  atomic_store(&b->done, true);
  return NULL;
}

static pthread_t backend_start(backend_t *b) {
  backend_port = free_port();
  b->lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(b->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)backend_port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(b->lfd, (struct sockaddr *)&a, sizeof(a));
  listen(b->lfd, 4);
  pthread_t t;
  pthread_create(&t, NULL, backend_run, b);
  return t;
}

/* Run the loop until the backend thread is done (it may wait for bytes or
 * an EOF the loop has yet to send), then join it. */
static void backend_join(backend_t *b, pthread_t t) {
  double end = ev_time() + 20;
  while (!atomic_load(&b->done) && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_TRUE(atomic_load(&b->done));
  pthread_join(t, NULL);
  close(b->lfd);
}

/* ---- the client ---- */

typedef struct {
  int status;
  char head[2048];
  buf_t got;
  bool closed;
  int close_err;
  size_t sent, total; /* writing a pattern as the queue drains */
  long max_queued_early;
} client_t;

static char pattern_at(size_t i) { return (char)((i * 7) % 251); }

static void c_head(http_dial_t *d, const http_response_t *resp, const char *raw, size_t len,
                   void *data) {
  client_t *c = data;
  c->status = resp->status;
  snprintf(c->head, sizeof(c->head), "%.*s", (int)len, raw);
}
static void c_data(http_dial_t *d, const char *bytes, size_t len, void *data) {
  client_t *c = data;
  buf_append(&c->got, bytes, len);
}
static void c_close(http_dial_t *d, int err, void *data) {
  client_t *c = data;
  c->closed = true;
  c->close_err = err;
}

static const http_dial_cbs_t cbs = {c_head, c_data, c_close};
static const char req[] = "GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n"
                          "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                          "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"
                          "Authorization: Bearer secret\r\n\r\n";

static void run_until(bool *flag, double secs) {
  double end = ev_time() + secs;
  while (!*flag && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
}

static bool got_at_least(client_t *c, size_t n) { return c->got.len >= n; }

static void spin_for(double secs) {
  double end = ev_time() + secs;
  while (ev_time() < end)
    ev_run(loop, EVRUN_NOWAIT), usleep(1000);
}

static void test_echo_under_backpressure(void) {
  backend_t b = {.mode = B_ECHO, .delay_ms = 400};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.got, 64 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs,
                                &c, &d),
                0);
  bool have_head = false;
  double end = ev_time() + 5;
  while (!c.status && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  have_head = c.status == 101;
  ASSERT_TRUE(have_head);
  ASSERT_CONTAINS(c.head, "Upgrade: test");
  /* the head the backend got: method, target, negotiation headers, one
   * line per stream protocol, no credentials */
  ASSERT_CONTAINS(b.head, "GET /next?x=1 HTTP/1.1\r\n");
  ASSERT_CONTAINS(b.head, "Upgrade: test\r\n");
  ASSERT_CONTAINS(b.head, "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n");
  ASSERT_CONTAINS(b.head, "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n");
  ASSERT_TRUE(strstr(b.head, "Authorization") == NULL);
  /* 32 MiB at once; the backend reads nothing for 400 ms */
  size_t total = (size_t)32 << 20;
  char *p = malloc(total);
  for (size_t i = 0; i < total; i++)
    p[i] = pattern_at(i);
  ASSERT_GE_INT(http_dial_write(d, p, total), (long)total - (1 << 20));
  spin_for(0.25);
  /* back-pressure reached us: the relay holds a bounded amount, the rest
   * waits in our own queue */
  long q = http_dial_write(d, "", 0);
  ASSERT_GE_INT(q, (long)total / 2);
  end = ev_time() + 60;
  while (!got_at_least(&c, total) && !c.closed && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.got.len, total);
  ASSERT_TRUE(memcmp(c.got.data, p, total) == 0);
  free(p);
  http_dial_close(d);
  /* our close reaches the relay, which closes towards the backend */
  end = ev_time() + 5;
  while (http_tunnel_count() && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  backend_join(&b, t);
  buf_done(&c.got);
}

static void test_refused_upgrade_passed_back(void) {
  backend_t b = {.mode = B_REFUSE};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.got, 1 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs,
                                &c, &d),
                0);
  double end = ev_time() + 5;
  while (!(c.status && strstr(c.got.data ? c.got.data : "", "nope")) && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.status, 400);
  ASSERT_CONTAINS(c.head, "Content-Type: text/x-test");
  ASSERT_EQ_INT(c.got.len, 5);
  ASSERT_TRUE(!memcmp(c.got.data, "nope\n", 5));
  http_dial_close(d);
  backend_join(&b, t);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  buf_done(&c.got);
}

/* The subprotocol translation: the next hop is asked for ws_protocol and
 * the client told ws_protocol_reply, the rest of both heads untouched. */
static void rename_case(bmode_t mode) {
  static const char wreq[] = "GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: k==\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n";
  ws_protocol = "v4.channel.k8s.io";
  ws_protocol_reply = "v5.channel.k8s.io";
  backend_t b = {.mode = mode};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.got, 1 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, wreq, sizeof(wreq) - 1, 5,
                                &cbs, &c, &d),
                0);
  double end = ev_time() + 5;
  while (c.got.len < 5 && !c.closed && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ws_protocol = ws_protocol_reply = NULL;
  ASSERT_EQ_INT(c.status, 101);
  ASSERT_CONTAINS(b.head, "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n");
  ASSERT_TRUE(strstr(b.head, "v5.channel") == NULL);
  ASSERT_CONTAINS(b.head, "Sec-WebSocket-Key: k==\r\n");
  ASSERT_CONTAINS(c.head, "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n");
  ASSERT_TRUE(strstr(c.head, "v4.channel") == NULL);
  ASSERT_CONTAINS(c.head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
  if (mode == B_WS)
    ASSERT_CONTAINS(c.head, "Sec-WebSocket-Accept: abc=\r\n");
  ASSERT_TRUE(strlen(c.head) >= 4 && !strcmp(c.head + strlen(c.head) - 4, "\r\n\r\n"));
  ASSERT_EQ_INT(c.got.len, 5);
  ASSERT_TRUE(!memcmp(c.got.data, "hello", 5));
  http_dial_close(d);
  backend_join(&b, t);
  end = ev_time() + 5;
  while (http_tunnel_count() && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  buf_done(&c.got);
}

static void test_subprotocol_renamed(void) { rename_case(B_WS); }
static void test_subprotocol_added(void) { rename_case(B_WS_NOPROTO); }

static void test_backend_closes_after_sending(void) {
  backend_t b = {.mode = B_BYE};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.got, 4 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs,
                                &c, &d),
                0);
  run_until(&c.closed, 20);
  ASSERT_TRUE(c.closed);
  ASSERT_EQ_INT(c.close_err, 0);
  ASSERT_EQ_INT(c.status, 101);
  ASSERT_EQ_INT(c.got.len, 1 << 20); /* every byte before the close */
  bool same = true;
  for (size_t i = 0; i < c.got.len && same; i++)
    same = c.got.data[i] == (char)((i % (64 << 10)) % 253);
  ASSERT_TRUE(same);
  backend_join(&b, t);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  buf_done(&c.got);
}

/* The same while we do not read for a while: the relay stops reading the
 * backend (its EOF waits behind the data), and after we resume every byte
 * arrives before the close. */
static void test_backend_closes_while_client_slow(void) {
  backend_t b = {.mode = B_BYE, .bye_mib = 16};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.got, 32 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs,
                                &c, &d),
                0);
  double end = ev_time() + 5;
  while (!c.status && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.status, 101);
  http_dial_pause(d, true);
  spin_for(0.5);
  ASSERT_TRUE(c.got.len < ((size_t)16 << 20)); /* the pause held */
  http_dial_pause(d, false);
  run_until(&c.closed, 30);
  ASSERT_TRUE(c.closed);
  ASSERT_EQ_INT(c.close_err, 0);
  ASSERT_EQ_INT(c.got.len, (size_t)16 << 20);
  backend_join(&b, t);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  buf_done(&c.got);
}

static void test_client_closes_after_sending(void) {
  backend_t b = {.mode = B_COUNT};
  pthread_t t = backend_start(&b);
  client_t c = {0};
  buf_init(&c.got, 1 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs,
                                &c, &d),
                0);
  double end = ev_time() + 5;
  while (!c.status && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.status, 101);
  size_t total = (size_t)3 << 20;
  char *p = calloc(1, total);
  ASSERT_GE_INT(http_dial_write(d, p, total), 1);
  free(p);
  http_dial_close(d); /* flushes, then closes */
  end = ev_time() + 20;
  while (http_tunnel_count() && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  backend_join(&b, t);
  ASSERT_EQ_INT(b.counted, total);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  ASSERT_FALSE(c.closed); /* no callback after http_dial_close */
  buf_done(&c.got);
}

static void test_next_hop_unreachable(void) {
  backend_port = free_port(); /* nobody listens */
  client_t c = {0};
  buf_init(&c.got, 1 << 20);
  http_dial_t *d = NULL;
  ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", srv_port, tls, req, sizeof(req) - 1, 5, &cbs,
                                &c, &d),
                0);
  double end = ev_time() + 5;
  while (!strstr(c.got.data ? c.got.data : "", "refused") && ev_time() < end)
    ev_run(loop, EVRUN_ONCE);
  ASSERT_EQ_INT(c.status, 502);
  ASSERT_CONTAINS(c.got.data, "error dialing backend: dial tcp 127.0.0.1:");
  http_dial_close(d);
  ASSERT_EQ_INT(http_tunnel_count(), 0);
  buf_done(&c.got);
}

/* Session tickets: a server that issues them, a client certificate; the
 * second connection offers the kept ticket and the handler still sees the
 * client's identity (the kubelet authorizes the API server by it). */
static void whoami(http_req_t *r, void *data) {
  const char *cn = http_req_client_cn(r);
  http_respond(r, 200, "text/plain", cn ? cn : "-", strlen(cn ? cn : "-"));
}

static void test_session_resumption_keeps_identity(void) {
  char err[256], *ca_key = NULL, *ca = NULL, *skey = NULL, *scert = NULL, *ckey = NULL,
                 *ccert = NULL;
  ASSERT_EQ_INT(tls_key_generate(&ca_key, err, sizeof(err)), 0);
  tls_cert_spec_t cas = {.cn = "test-ca", .usage = TLS_USAGE_CA, .days = 1};
  ASSERT_EQ_INT(tls_cert_create(&cas, ca_key, NULL, NULL, &ca, err, sizeof(err)), 0);
  tls_cert_spec_t ss = {.cn = "localhost", .usage = TLS_USAGE_SERVER, .days = 1};
  ASSERT_EQ_INT(tls_cert_issue(&ss, ca, ca_key, &scert, &skey, err, sizeof(err)), 0);
  tls_cert_spec_t cs = {.cn = "system:kube-apiserver", .usage = TLS_USAGE_CLIENT, .days = 1};
  ASSERT_EQ_INT(tls_cert_issue(&cs, ca, ca_key, &ccert, &ckey, err, sizeof(err)), 0);
  int port = free_port();
  http_server_opts_t o = {.bind_address = "127.0.0.1", .port = port, .cert_pem = scert,
                          .key_pem = skey, .client_ca_pem = ca, .session_ticket_lifetime = 60};
  http_server_t *s2 = NULL;
  ASSERT_EQ_INT(http_server_start(loop, &o, whoami, NULL, &s2, err, sizeof(err)), 0);
  http_tls_client_t *t2 = NULL;
  ASSERT_EQ_INT(http_tls_client_new(ccert, ckey, &t2, err, sizeof(err)), 0);
  static const char get[] = "GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 2; i++) {
    client_t c = {0};
    buf_init(&c.got, 4096);
    http_dial_t *d = NULL;
    ASSERT_EQ_INT(http_dial_start(loop, "127.0.0.1", port, t2, get, sizeof(get) - 1, 5, &cbs, &c,
                                  &d),
                  0);
    run_until(&c.closed, 5);
    ASSERT_EQ_INT(c.status, 200);
    ASSERT_EQ_INT(c.got.len, strlen("system:kube-apiserver"));
    ASSERT_TRUE(!memcmp(c.got.data, "system:kube-apiserver", c.got.len));
    ASSERT_EQ_INT(http__tls_client_tickets(t2), 1); /* kept for (and after) the resumption */
    buf_done(&c.got);
  }
  http_server_stop(s2);
  http_tls_client_free(t2);
  free(ca_key), free(ca), free(skey), free(scert), free(ckey), free(ccert);
}

static void test_offers(void) {
  ASSERT_TRUE(http_tunnel_offers("v5.channel.k8s.io, v4.channel.k8s.io", "v4.channel.k8s.io"));
  ASSERT_TRUE(http_tunnel_offers("v4.channel.k8s.io", "v4.channel.k8s.io"));
  ASSERT_FALSE(http_tunnel_offers("v5.channel.k8s.io", "v4.channel.k8s.io"));
  ASSERT_FALSE(http_tunnel_offers("xv4.channel.k8s.io", "v4.channel.k8s.io"));
  ASSERT_FALSE(http_tunnel_offers(NULL, "v4.channel.k8s.io"));
}

static ev_timer ticker; /* bounds every ev_run(EVRUN_ONCE) wait */
static void tick_cb(struct ev_loop *l, ev_timer *w, int revents) {}

static void setup(void) {
  loop = ev_default_loop(0);
  ev_timer_init(&ticker, tick_cb, 0.05, 0.05);
  ev_timer_start(loop, &ticker);
  char err[256], *key = NULL, *cert = NULL;
  ASSERT_EQ_INT(tls_key_generate(&key, err, sizeof(err)), 0);
  tls_cert_spec_t spec = {.cn = "localhost", .usage = TLS_USAGE_SERVER, .days = 1};
  ASSERT_EQ_INT(tls_cert_create(&spec, key, NULL, NULL, &cert, err, sizeof(err)), 0);
  srv_port = free_port();
  http_server_opts_t o = {.bind_address = "127.0.0.1", .port = srv_port, .cert_pem = cert,
                          .key_pem = key};
  ASSERT_EQ_INT(http_server_start(loop, &o, handler, NULL, &srv, err, sizeof(err)), 0);
  ASSERT_EQ_INT(http_tls_client_new(NULL, NULL, &tls, err, sizeof(err)), 0);
  free(key);
  free(cert);
}

static void teardown(void) {
  spin_for(0.1);
  http_server_stop(srv);
  http_tls_client_free(tls);
  ev_timer_stop(loop, &ticker);
  ev_loop_destroy(loop);
}

/* Setup and teardown are tests of their own, first and last, so each check
 * above reports on its own line. */
static void test_setup_server(void) { setup(); }
static void test_teardown_leaves_nothing(void) {
  teardown();
  ASSERT_EQ_INT(http_tunnel_count(), 0);
}

TEST_LIST = {
    TEST(test_setup_server),
    TEST(test_offers),
    TEST(test_session_resumption_keeps_identity),
    TEST(test_echo_under_backpressure),
    TEST(test_refused_upgrade_passed_back),
    TEST(test_subprotocol_renamed),
    TEST(test_subprotocol_added),
    TEST(test_backend_closes_after_sending),
    TEST(test_backend_closes_while_client_slow),
    TEST(test_client_closes_after_sending),
    TEST(test_next_hop_unreachable),
    TEST(test_teardown_leaves_nothing),
    {0},
};
TEST_MAIN()
