/* pkg/net/dns.c on loopback with a fake upstream in the same loop: the
 * cluster zone over UDP and TCP (two queries on one connection),
 * forwarding with a retry on the next nameserver, the answer cache
 * (positive and negative), SERVFAIL when every upstream fails, a
 * resolv.conf loop refused, TC from upstream retried over TCP and
 * answers truncated to the client's UDP size, and hostile packets. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/cache.h"
#include "net/dns.h"
#include "test.h"

static struct ev_loop *loop;

/* ---- the fake upstream: 127.0.0.2:P drops everything, 127.0.0.3:P answers ---- */

typedef struct {
  int drop_fd, udp_fd, tcp_fd;
  ev_io drop_io, udp_io, tcp_io;
  int port;
  int dropped, udp, tcp;
} fake_t;
static fake_t fake;

typedef struct {
  int fd;
  ev_io io;
  uint8_t buf[600];
  size_t len;
} fake_conn_t;

/* Build the fake's answer to query q into out. */
static size_t fake_answer(const uint8_t *q, size_t n, bool over_tcp, uint8_t *out, size_t cap) {
  dns_query_t dq;
  if (dns_query_parse(q, n, &dq) < 0)
    return 0;
  dns_writer_t w;
  dns_writer_init(&w, out, cap);
  uint16_t flags = DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA;
  bool big = !strcmp(dq.qname, "big.example");
  if (big && !over_tcp)
    flags |= DNS_FLAG_TC;
  if (!strcmp(dq.qname, "missing.example"))
    flags |= DNS_RCODE_NXDOMAIN;
  dns_writer_header(&w, dq.h.id, flags);
  dns_writer_question_raw(&w, q, dq.question_end);
  uint8_t ip[4] = {192, 0, 2, 1};
  if (!strcmp(dq.qname, "ok.example")) {
    dns_writer_a(&w, DNS_SEC_ANSWER, "ok.example", 300, ip);
  } else if (big && over_tcp) {
    for (int i = 0; i < 40; i++) {
      ip[3] = (uint8_t)(10 + i);
      dns_writer_a(&w, DNS_SEC_ANSWER, "big.example", 300, ip);
    }
  } else if (!big) {
    dns_writer_soa(&w, DNS_SEC_AUTHORITY, "example", 60, "ns.example", "root.example", 1, 2, 3,
                   4, 30);
  }
  return dns_writer_finish(&w, false);
}

static void fake_drop_cb(struct ev_loop *l, ev_io *w, int revents) {
  uint8_t b[600];
  while (recv(fake.drop_fd, b, sizeof(b), 0) >= 0)
    fake.dropped++;
}

static void fake_udp_cb(struct ev_loop *l, ev_io *w, int revents) {
  uint8_t b[600], out[4096];
  struct sockaddr_in peer;
  socklen_t sl = sizeof(peer);
  ssize_t n;
  while ((n = recvfrom(fake.udp_fd, b, sizeof(b), 0, (struct sockaddr *)&peer, &sl)) >= 0) {
    fake.udp++;
    size_t len = fake_answer(b, (size_t)n, false, out, 512);
    if (len)
      sendto(fake.udp_fd, out, len, 0, (struct sockaddr *)&peer, sl);
  }
}

static void fake_conn_cb(struct ev_loop *l, ev_io *w, int revents) {
  fake_conn_t *c = (fake_conn_t *)((char *)w - offsetof(fake_conn_t, io));
  ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
  if (r > 0)
    c->len += (size_t)r;
  if (r > 0 && (c->len < 2 || c->len < 2 + (size_t)((c->buf[0] << 8) | c->buf[1])))
    return;
  if (r > 0) {
    uint8_t out[4096 + 2];
    size_t len = fake_answer(c->buf + 2, c->len - 2, true, out + 2, 4096);
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    fake.tcp++;
    if (write(c->fd, out, len + 2) < 0)
      fake.tcp = -100;
  }
  ev_io_stop(l, &c->io);
  close(c->fd);
  free(c);
}

static void fake_accept_cb(struct ev_loop *l, ev_io *w, int revents) {
  int fd = accept4(fake.tcp_fd, NULL, NULL, SOCK_NONBLOCK);
  if (fd < 0)
    return;
  fake_conn_t *c = calloc(1, sizeof(*c));
  c->fd = fd;
  ev_io_init(&c->io, fake_conn_cb, fd, EV_READ);
  ev_io_start(l, &c->io);
}

static int bound(int type, const char *ip, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    close(fd);
    return -1;
  }
  if (type == SOCK_STREAM)
    listen(fd, 8);
  return fd;
}

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t sl = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &sl);
  return ntohs(a.sin_port);
}

static int count_fds(void);
static int fds_before;

static void fake_start(void) {
  fds_before = count_fds();
  memset(&fake, 0, sizeof(fake));
  for (int attempt = 0; attempt < 20; attempt++) {
    fake.udp_fd = bound(SOCK_DGRAM, "127.0.0.3", 0);
    fake.port = port_of(fake.udp_fd);
    fake.tcp_fd = bound(SOCK_STREAM, "127.0.0.3", fake.port);
    fake.drop_fd = bound(SOCK_DGRAM, "127.0.0.2", fake.port);
    if (fake.tcp_fd >= 0 && fake.drop_fd >= 0)
      break;
    close(fake.udp_fd);
    if (fake.tcp_fd >= 0)
      close(fake.tcp_fd);
    if (fake.drop_fd >= 0)
      close(fake.drop_fd);
  }
  ASSERT_TRUE(fake.tcp_fd >= 0 && fake.drop_fd >= 0);
  ev_io_init(&fake.udp_io, fake_udp_cb, fake.udp_fd, EV_READ);
  ev_io_init(&fake.drop_io, fake_drop_cb, fake.drop_fd, EV_READ);
  ev_io_init(&fake.tcp_io, fake_accept_cb, fake.tcp_fd, EV_READ);
  ev_io_start(loop, &fake.udp_io);
  ev_io_start(loop, &fake.drop_io);
  ev_io_start(loop, &fake.tcp_io);
}

static void fake_stop(void) {
  ev_io_stop(loop, &fake.udp_io);
  ev_io_stop(loop, &fake.drop_io);
  ev_io_stop(loop, &fake.tcp_io);
  close(fake.udp_fd);
  close(fake.drop_fd);
  close(fake.tcp_fd);
}

/* ---- the server under test ---- */

static client_cache_t *svcs, *slices;
static dns_server_t *srv;
static char resolv[64];

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  while (d && readdir(d))
    n++;
  if (d)
    closedir(d);
  return n;
}

static char warnings[2048];
static void warn_cb(const char *msg, void *data) {
  size_t l = strlen(warnings);
  snprintf(warnings + l, sizeof(warnings) - l, "%s\n", msg);
  *(int *)data += 1;
}
static int nwarnings;

static double opt_idle;
static int opt_max_tcp;

static void server_start(const char *resolv_text, int port, int upstream_port) {
  warnings[0] = '\0';
  nwarnings = 0;
  snprintf(resolv, sizeof(resolv), "/tmp/test_dns_resolv.XXXXXX");
  int fd = mkstemp(resolv);
  ASSERT_TRUE(fd >= 0);
  ASSERT_EQ_INT(write(fd, resolv_text, strlen(resolv_text)), strlen(resolv_text));
  close(fd);
  svcs = client_cache_new(0);
  slices = client_cache_new(0);
  client_cache_add_index(slices, CLIENT_INDEX_LABEL, client_index_labels);
  cJSON *old = NULL;
  client_cache_put(svcs, cJSON_Parse("{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":"
                                     "\"default\"},\"spec\":{\"clusterIP\":\"10.43.0.1\"}}"),
                   &old);
  client_cache_put(svcs, cJSON_Parse("{\"metadata\":{\"name\":\"ext\",\"namespace\":"
                                     "\"default\"},\"spec\":{\"type\":\"ExternalName\","
                                     "\"externalName\":\"ok.example\"}}"),
                   &old);
  client_cache_put(svcs, cJSON_Parse("{\"metadata\":{\"name\":\"alias\",\"namespace\":"
                                     "\"default\"},\"spec\":{\"type\":\"ExternalName\","
                                     "\"externalName\":\"kubernetes.default.svc.cluster.local\"}}"),
                   &old);
  dns_server_opts_t o = {.listen_ip = "127.0.0.1",
                         .port = port,
                         .resolv_conf = resolv,
                         .upstream_port = upstream_port,
                         .timeout = 0.3,
                         .tcp_idle = opt_idle,
                         .warn_cb = warn_cb,
                         .warn_data = &nwarnings,
                         .max_tcp = opt_max_tcp,
                         .zone = {.services = svcs, .slices = slices, .zone = "cluster.local",
                                  .ttl = 5, .serial = 1, .service_cidr = "10.43.0.0/16",
                                  .cluster_cidr = "10.42.0.0/16"}};
  char err[256] = "";
  int r = dns_server_new(loop, &o, &srv, err, sizeof(err));
  if (r < 0)
    TEST_FAIL("dns_server_new: %s", err);
}

static void server_stop(void) {
  dns_server_free(srv);
  srv = NULL;
  client_cache_free(svcs);
  client_cache_free(slices);
  unlink(resolv);
}

/* ---- clients ---- */

static void io_break_cb(struct ev_loop *l, ev_io *w, int revents) { ev_break(l, EVBREAK_ONE); }
static void timer_break_cb(struct ev_loop *l, ev_timer *w, int revents) {
  *(bool *)w->data = true;
  ev_break(l, EVBREAK_ONE);
}

/* Run the loop until fd is readable; false after 3 s. */
static bool wait_readable(int fd) {
  ev_io io;
  ev_timer t;
  bool timed_out = false;
  ev_io_init(&io, io_break_cb, fd, EV_READ);
  ev_timer_init(&t, timer_break_cb, 3., 0.);
  t.data = &timed_out;
  ev_io_start(loop, &io);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  ev_io_stop(loop, &io);
  ev_timer_stop(loop, &t);
  /* What else is ready (the fake upstream's socket) is handled too, before
   * the test looks at the counters: on a loaded machine the server's
   * timeout and the fake's datagram can become ready in one iteration. */
  for (int i = 0; i < 4; i++)
    ev_run(loop, EVRUN_NOWAIT);
  return !timed_out;
}

static size_t query(uint8_t *buf, uint16_t id, const char *name, uint16_t type, uint16_t edns) {
  dns_writer_t w;
  dns_writer_init(&w, buf, 512);
  dns_writer_header(&w, id, DNS_FLAG_RD);
  dns_writer_question(&w, name, type, DNS_CLASS_IN);
  if (edns)
    dns_writer_opt(&w, edns);
  return dns_writer_finish(&w, false);
}

/* One UDP query; the answer into ans (its length returned, 0: none). */
static size_t udp_ask(const char *name, uint16_t type, uint16_t edns, uint8_t *ans) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)dns_server_port(srv))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  uint8_t q[512];
  size_t n = query(q, 0xbeef, name, type, edns);
  sendto(fd, q, n, 0, (struct sockaddr *)&a, sizeof(a));
  ssize_t r = -1;
  if (wait_readable(fd))
    r = recv(fd, ans, DNS_MSG_MAX, 0);
  close(fd);
  return r > 0 ? (size_t)r : 0;
}

static dns_header_t header(const uint8_t *ans, size_t n) {
  dns_header_t h = {0};
  if (dns_header_read(ans, n, &h) < 0)
    TEST_FAIL("no answer");
  return h;
}

static uint32_t first_ttl;
static int first_ttl_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  if (rr->section != DNS_SEC_ANSWER)
    return 0;
  first_ttl = rr->ttl;
  memcpy(data, p + rr->rdata_off, rr->rdlength < 4 ? rr->rdlength : 4);
  return 1;
}

static void test_zone_udp_tcp(void) {
  fake_start();
  server_start("nameserver 127.0.0.3\n", 0, fake.port);
  ASSERT_EQ_INT(nwarnings, 0);
  static uint8_t ans[DNS_MSG_MAX];
  size_t n = udp_ask("kubernetes.default.svc.cluster.local", DNS_TYPE_A, 1232, ans);
  dns_header_t h = header(ans, n);
  ASSERT_EQ_INT(h.id, 0xbeef);
  ASSERT_TRUE(h.flags & DNS_FLAG_AA);
  ASSERT_EQ_INT(DNS_RCODE(h.flags), 0);
  ASSERT_EQ_INT(h.ancount, 1);
  uint8_t ip[4] = {0};
  dns_msg_walk(ans, n, first_ttl_cb, ip);
  ASSERT_EQ_INT(ip[0], 10);
  ASSERT_EQ_INT(ip[3], 1);
  ASSERT_EQ_INT(first_ttl, 5);
  /* before the caches are filled the zone says SERVFAIL, not NXDOMAIN */
  dns_server_set_zone_ready(srv, false);
  n = udp_ask("kubernetes.default.svc.cluster.local", DNS_TYPE_A, 0, ans);
  ASSERT_EQ_INT(DNS_RCODE(header(ans, n).flags), DNS_RCODE_SERVFAIL);
  dns_server_set_zone_ready(srv, true);
  n = udp_ask("nothere.default.svc.cluster.local", DNS_TYPE_A, 0, ans);
  ASSERT_EQ_INT(DNS_RCODE(header(ans, n).flags), DNS_RCODE_NXDOMAIN);
  ASSERT_EQ_INT(header(ans, n).nscount, 1);

  /* two queries on one TCP connection, sent in one write */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)dns_server_port(srv))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  uint8_t q[1100];
  size_t l1 = query(q + 2, 1, "kubernetes.default.svc.cluster.local", DNS_TYPE_A, 0);
  q[0] = 0, q[1] = (uint8_t)l1;
  size_t l2 = query(q + 4 + l1, 2, "kubernetes.default.svc.cluster.local", DNS_TYPE_AAAA, 0);
  q[2 + l1] = 0, q[3 + l1] = (uint8_t)l2;
  ASSERT_EQ_INT(write(fd, q, 4 + l1 + l2), 4 + l1 + l2);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  size_t got = 0;
  int answers = 0;
  uint16_t ids[2] = {0};
  while (answers < 2 && wait_readable(fd)) {
    ssize_t r = read(fd, ans + got, DNS_MSG_MAX - got);
    if (r <= 0)
      break;
    got += (size_t)r;
    size_t off = 0;
    answers = 0;
    while (got - off >= 2 && got - off >= 2 + (size_t)((ans[off] << 8) | ans[off + 1])) {
      size_t len = (size_t)((ans[off] << 8) | ans[off + 1]);
      if (answers < 2)
        ids[answers] = header(ans + off + 2, len).id;
      answers++;
      off += 2 + len;
    }
  }
  ASSERT_EQ_INT(answers, 2);
  ASSERT_EQ_INT(ids[0], 1);
  ASSERT_EQ_INT(ids[1], 2);
  close(fd);
  dns_server_stats_t st;
  dns_server_stats(srv, &st);
  ASSERT_EQ_INT(st.zone, 4);
  ASSERT_EQ_INT(st.servfail, 1);
  ASSERT_EQ_INT(st.forwarded, 0);
  ASSERT_EQ_INT(st.tcp_conns, 1);
  server_stop();
  fake_stop();
  ASSERT_EQ_INT(count_fds(), fds_before);
}

static void test_forward_retry_cache(void) {
  fake_start();
  server_start("# comment\nsearch example\nnameserver 127.0.0.2\nnameserver 127.0.0.3\n", 0,
               fake.port);
  ASSERT_EQ_INT(dns_server_upstreams(srv), 2);
  static uint8_t ans[DNS_MSG_MAX];
  size_t n = udp_ask("ok.example", DNS_TYPE_A, 0, ans);
  dns_header_t h = header(ans, n);
  ASSERT_EQ_INT(h.id, 0xbeef);
  ASSERT_EQ_INT(DNS_RCODE(h.flags), 0);
  ASSERT_EQ_INT(h.ancount, 1);
  uint8_t ip[4] = {0};
  dns_msg_walk(ans, n, first_ttl_cb, ip);
  ASSERT_EQ_INT(ip[0], 192);
  ASSERT_EQ_INT(ip[3], 1);
  ASSERT_EQ_INT(first_ttl, 300);
  ASSERT_EQ_INT(fake.dropped, 1); /* the first server timed out */
  ASSERT_EQ_INT(fake.udp, 1);     /* the second answered */
  /* from the cache now: the upstreams see nothing */
  n = udp_ask("OK.example", DNS_TYPE_A, 0, ans);
  ASSERT_EQ_INT(header(ans, n).ancount, 1);
  dns_msg_walk(ans, n, first_ttl_cb, ip);
  ASSERT_TRUE(first_ttl <= 300 && first_ttl >= 298);
  ASSERT_EQ_INT(fake.udp, 1);
  ASSERT_EQ_INT(fake.dropped, 1);
  /* negative answers are cached by the SOA minimum too */
  n = udp_ask("missing.example", DNS_TYPE_A, 0, ans);
  ASSERT_EQ_INT(DNS_RCODE(header(ans, n).flags), DNS_RCODE_NXDOMAIN);
  int before = fake.udp + fake.dropped;
  n = udp_ask("missing.example", DNS_TYPE_A, 0, ans);
  ASSERT_EQ_INT(DNS_RCODE(header(ans, n).flags), DNS_RCODE_NXDOMAIN);
  ASSERT_EQ_INT(fake.udp + fake.dropped, before);
  dns_server_stats_t st;
  dns_server_stats(srv, &st);
  ASSERT_EQ_INT(st.forwarded, 2);
  ASSERT_EQ_INT(st.retries, 2);
  ASSERT_EQ_INT(st.cache_hits, 2);
  ASSERT_EQ_INT(st.cached, 2);
  ASSERT_EQ_INT(st.servfail, 0);
  server_stop();
  fake_stop();
  ASSERT_EQ_INT(count_fds(), fds_before);
}

typedef struct {
  char text[512];
} rr_text_t;
static int rr_text_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  rr_text_t *t = data;
  char rd[DNS_NAME_MAX] = "";
  size_t off = rr->rdata_off;
  if (rr->section != DNS_SEC_ANSWER)
    return 0;
  if (rr->type == DNS_TYPE_A)
    inet_ntop(AF_INET, p + rr->rdata_off, rd, sizeof(rd));
  else if (rr->type == DNS_TYPE_CNAME)
    dns_name_read(p, n, &off, rd, sizeof(rd), false);
  size_t l = strlen(t->text);
  snprintf(t->text + l, sizeof(t->text) - l, "%s%s", l ? " " : "", rd);
  return 0;
}

static void test_external_name_chased(void) {
  fake_start();
  server_start("nameserver 127.0.0.3\n", 0, fake.port);
  static uint8_t ans[DNS_MSG_MAX];
  /* outside the zone: our CNAME, then the upstream's A for the target */
  size_t n = udp_ask("ext.default.svc.cluster.local", DNS_TYPE_A, 1232, ans);
  rr_text_t t = {""};
  ASSERT_EQ_INT(dns_msg_walk(ans, n, rr_text_cb, &t), 0);
  ASSERT_EQ_STR(t.text, "ok.example 192.0.2.1");
  ASSERT_EQ_INT(DNS_RCODE(header(ans, n).flags), 0);
  ASSERT_EQ_INT(header(ans, n).id, 0xbeef);
  ASSERT_EQ_INT(fake.udp, 1);
  /* again: the target's answer comes from the cache */
  n = udp_ask("ext.default.svc.cluster.local", DNS_TYPE_A, 0, ans);
  t.text[0] = '\0';
  dns_msg_walk(ans, n, rr_text_cb, &t);
  ASSERT_EQ_STR(t.text, "ok.example 192.0.2.1");
  ASSERT_EQ_INT(fake.udp, 1);
  /* inside the zone: the target's records from the zone */
  n = udp_ask("alias.default.svc.cluster.local", DNS_TYPE_A, 0, ans);
  t.text[0] = '\0';
  dns_msg_walk(ans, n, rr_text_cb, &t);
  ASSERT_EQ_STR(t.text, "kubernetes.default.svc.cluster.local 10.43.0.1");
  /* a CNAME query gets the CNAME alone */
  n = udp_ask("ext.default.svc.cluster.local", DNS_TYPE_CNAME, 0, ans);
  t.text[0] = '\0';
  dns_msg_walk(ans, n, rr_text_cb, &t);
  ASSERT_EQ_STR(t.text, "ok.example");
  dns_server_stats_t st;
  dns_server_stats(srv, &st);
  ASSERT_EQ_INT(st.forwarded, 1);
  ASSERT_EQ_INT(st.cache_hits, 1);
  server_stop();
  fake_stop();
  ASSERT_EQ_INT(count_fds(), fds_before);
}

static void test_servfail_and_loop(void) {
  fake_start();
  server_start("nameserver 127.0.0.2\n", 0, fake.port);
  static uint8_t ans[DNS_MSG_MAX];
  size_t n = udp_ask("ok.example", DNS_TYPE_A, 1232, ans);
  dns_header_t h = header(ans, n);
  ASSERT_EQ_INT(DNS_RCODE(h.flags), DNS_RCODE_SERVFAIL);
  ASSERT_EQ_INT(h.id, 0xbeef);
  ASSERT_EQ_INT(fake.dropped, 1);
  dns_server_stats_t st;
  dns_server_stats(srv, &st);
  ASSERT_EQ_INT(st.servfail, 1);
  ASSERT_EQ_INT(st.cached, 0); /* failures are not cached */
  server_stop();

  /* a resolv.conf naming the server itself is a loop: refused */
  int probe = bound(SOCK_DGRAM, "127.0.0.1", 0), port = port_of(probe);
  close(probe);
  server_start("nameserver 127.0.0.1\nnameserver fd00::1\n", port, port);
  ASSERT_EQ_INT(dns_server_upstreams(srv), 0);
  ASSERT_EQ_INT(nwarnings, 3);
  ASSERT_CONTAINS(warnings, "nameserver 127.0.0.1 is the cluster DNS itself (a forwarding loop)");
  ASSERT_CONTAINS(warnings, "nameserver fd00::1 skipped: only IPv4");
  ASSERT_CONTAINS(warnings, "names no usable nameserver");
  n = udp_ask("ok.example", DNS_TYPE_A, 0, ans);
  ASSERT_EQ_INT(DNS_RCODE(header(ans, n).flags), DNS_RCODE_SERVFAIL);
  server_stop();
  fake_stop();
}

static int count_answers(const uint8_t *ans, size_t n) { return header(ans, n).ancount; }

static void test_truncated_upstream_tcp(void) {
  fake_start();
  server_start("nameserver 127.0.0.3\n", 0, fake.port);
  static uint8_t ans[DNS_MSG_MAX];
  /* upstream says TC over UDP: we ask it over TCP; the client's 4096 fits */
  size_t n = udp_ask("big.example", DNS_TYPE_A, 4096, ans);
  ASSERT_EQ_INT(count_answers(ans, n), 40);
  ASSERT_FALSE(header(ans, n).flags & DNS_FLAG_TC);
  ASSERT_EQ_INT(fake.udp, 1);
  ASSERT_EQ_INT(fake.tcp, 1);
  /* a client without EDNS (512 bytes) gets TC and no records; one asking
   * for 64 KiB gets at most our 1232 (the 40 records fit) */
  n = udp_ask("big.example", DNS_TYPE_A, 65535, ans);
  ASSERT_EQ_INT(count_answers(ans, n), 40);
  ASSERT_TRUE(n <= DNS_EDNS_SIZE);
  n = udp_ask("big.example", DNS_TYPE_A, 0, ans);
  ASSERT_TRUE(n <= 512);
  ASSERT_TRUE(header(ans, n).flags & DNS_FLAG_TC);
  ASSERT_EQ_INT(count_answers(ans, n), 0);
  dns_server_stats_t st;
  dns_server_stats(srv, &st);
  ASSERT_EQ_INT(st.upstream_tcp, 1);
  ASSERT_EQ_INT(st.truncated, 1);
  ASSERT_EQ_INT(st.cache_hits, 2);
  server_stop();
  fake_stop();
  ASSERT_EQ_INT(count_fds(), fds_before);
}

static void test_hostile(void) {
  fake_start();
  server_start("nameserver 127.0.0.3\n", 0, fake.port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)dns_server_port(srv))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  /* a header with no question: FORMERR */
  uint8_t hdr[12] = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  sendto(fd, hdr, sizeof(hdr), 0, (struct sockaddr *)&a, sizeof(a));
  uint8_t ans[600];
  ASSERT_TRUE(wait_readable(fd));
  ssize_t r = recv(fd, ans, sizeof(ans), 0);
  ASSERT_EQ_INT(r, 12);
  ASSERT_EQ_INT(DNS_RCODE(header(ans, (size_t)r).flags), DNS_RCODE_FORMERR);
  /* garbage, short packets and answers get nothing; the server lives on */
  uint8_t junk[5] = {1, 2, 3, 4, 5};
  sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&a, sizeof(a));
  uint8_t resp[12] = {0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  sendto(fd, resp, sizeof(resp), 0, (struct sockaddr *)&a, sizeof(a));
  close(fd);
  static uint8_t big[DNS_MSG_MAX];
  size_t n = udp_ask("kubernetes.default.svc.cluster.local", DNS_TYPE_A, 0, big);
  ASSERT_EQ_INT(count_answers(big, n), 1);
  /* a TCP client that sends a zero length is closed */
  int t = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ_INT(connect(t, (struct sockaddr *)&a, sizeof(a)), 0);
  uint8_t zero[2] = {0, 0};
  ASSERT_EQ_INT(write(t, zero, 2), 2);
  ASSERT_TRUE(wait_readable(t));
  ASSERT_EQ_INT(read(t, ans, sizeof(ans)), 0);
  close(t);
  server_stop();
  fake_stop();
}

static void test_tcp_limits(void) {
  opt_idle = 0.3;
  opt_max_tcp = 1;
  fake_start();
  server_start("nameserver 127.0.0.3\n", 0, fake.port);
  opt_idle = 0;
  opt_max_tcp = 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)dns_server_port(srv))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int c1 = socket(AF_INET, SOCK_STREAM, 0), c2 = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ_INT(connect(c1, (struct sockaddr *)&a, sizeof(a)), 0);
  uint8_t b[16];
  /* one connection at most: the second is accepted and closed at once */
  ASSERT_EQ_INT(connect(c2, (struct sockaddr *)&a, sizeof(a)), 0);
  ASSERT_TRUE(wait_readable(c2));
  ASSERT_EQ_INT(read(c2, b, sizeof(b)), 0);
  dns_server_stats_t st;
  dns_server_stats(srv, &st);
  ASSERT_EQ_INT(st.tcp_conns, 1);
  /* an idle connection is closed after tcp_idle */
  ev_tstamp t0 = ev_time();
  ASSERT_TRUE(wait_readable(c1));
  ASSERT_EQ_INT(read(c1, b, sizeof(b)), 0);
  ASSERT_TRUE(ev_time() - t0 >= 0.2);
  close(c1);
  close(c2);
  server_stop();
  fake_stop();
  ASSERT_EQ_INT(count_fds(), fds_before);
}

static void test_bad_listen(void) {
  dns_server_opts_t o = {.listen_ip = "not-an-ip", .resolv_conf = "/nonexistent"};
  char err[256] = "";
  dns_server_t *s = NULL;
  ASSERT_EQ_INT(dns_server_new(loop, &o, &s, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "not an IPv4 address");
  o.listen_ip = "192.0.2.77"; /* not local */
  ASSERT_TRUE(dns_server_new(loop, &o, &s, err, sizeof(err)) < 0);
  ASSERT_CONTAINS(err, "192.0.2.77");
  ASSERT_NULL(s);
}

TEST_LIST = {
    TEST(test_zone_udp_tcp),           TEST(test_forward_retry_cache), TEST(test_servfail_and_loop),
    TEST(test_truncated_upstream_tcp), TEST(test_hostile),             TEST(test_bad_listen),
    TEST(test_external_name_chased),   TEST(test_tcp_limits),
    {0},
};

static int run_tests(int argc, char **argv);
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return run_tests(argc, argv);
}
#define main run_tests
TEST_MAIN()
