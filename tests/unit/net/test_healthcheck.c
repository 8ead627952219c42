/* pkg/net healthcheck: a plan's health check port answers 200 with the
 * local endpoint count, 503 with none; a port no longer in the plan is
 * closed; a client that sends nothing is dropped at the timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "net/healthcheck.h"
#include "test.h"

static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t l = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &l) < 0)
    TEST_FAIL("free port: %s", strerror(errno));
  close(fd);
  return ntohs(a.sin_port);
}

/* GET / on 127.0.0.1:port, the loop run until the answer is in; its text
 * into out ("" when the connection was refused). */
static void get(struct ev_loop *loop, uint16_t port, char *out, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  out[0] = 0;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return;
  }
  const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ_INT((int)write(fd, req, strlen(req)), (int)strlen(req));
  size_t got = 0;
  for (int i = 0; i < 200; i++) {
    ev_run(loop, EVRUN_NOWAIT);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10) == 1) {
      ssize_t r = read(fd, out + got, len - 1 - got);
      if (r <= 0)
        break;
      got += (size_t)r;
      out[got] = 0;
    }
  }
  close(fd);
}

static void test_answers(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  net_hc_t *h = net_hc_new(loop);
  uint16_t port = free_port();
  net_proxy_ep_t eps[2] = {{.port = 80}, {.port = 80}};
  net_proxy_svc_t svc = {.name = "default/lb:http", .hc_port = port, .leps = eps, .n_leps = 2,
                         .etp_local = true};
  net_proxy_plan_t plan = {.v = &svc, .n = 1, .cluster_prefix = -1};
  net_hc_update(h, &plan);
  ASSERT_EQ_INT((int)net_hc_count(h), 1);
  char out[1024];
  get(loop, port, out, sizeof out);
  ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_CONTAINS(out, "Content-Type: application/json\r\n");
  ASSERT_CONTAINS(out, "\r\n\r\n{\"service\":{\"namespace\":\"default\",\"name\":\"lb\"},"
                       "\"localEndpoints\":2,\"serviceProxyHealthy\":true}");
  svc.n_leps = 0;
  net_hc_update(h, &plan);
  get(loop, port, out, sizeof out);
  ASSERT_CONTAINS(out, "HTTP/1.1 503 Service Unavailable\r\n");
  ASSERT_CONTAINS(out, "\"localEndpoints\":0,");
  /* gone from the plan: the port is closed */
  net_proxy_plan_t none = {.cluster_prefix = -1};
  net_hc_update(h, &none);
  ASSERT_EQ_INT((int)net_hc_count(h), 0);
  get(loop, port, out, sizeof out);
  ASSERT_EQ_STR(out, "");
  /* a client that connects and stays silent is freed with the rest */
  net_hc_update(h, &plan);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  for (int i = 0; i < 5; i++)
    ev_run(loop, EVRUN_NOWAIT);
  net_hc_free(h);
  close(fd);
  ev_loop_destroy(loop);
}

TEST_LIST = {TEST(test_answers), {0}};
TEST_MAIN()
