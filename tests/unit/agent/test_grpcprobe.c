/* Tests for pkg/agent/grpcprobe.c: the HealthCheckRequest/Response codec,
 * then real checks on the loop against tests/e2e/grpc_health (an h2c
 * health server): SERVING, NOT_SERVING with upstream's wording, the
 * service name sent, a refused connection and a server that never
 * answers (the deadline). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <ev.h>

#include "agent/grpcprobe.h"
#include "test.h"

static void test_request(void) {
  uint8_t b[1040];
  ASSERT_EQ_INT(agent_grpcprobe_request("", b, sizeof(b)), 5);
  ASSERT_EQ_INT(b[4], 0);
  ASSERT_EQ_INT(agent_grpcprobe_request(NULL, b, sizeof(b)), 5);
  ASSERT_EQ_INT(agent_grpcprobe_request("web", b, sizeof(b)), 10);
  static const uint8_t want[] = {0, 0, 0, 0, 5, 0x0a, 3, 'w', 'e', 'b'};
  ASSERT_TRUE(memcmp(b, want, sizeof(want)) == 0);
  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = 0;
  int n = agent_grpcprobe_request(longname, b, sizeof(b));
  ASSERT_EQ_INT(n, 5 + 3 + 299);
  ASSERT_EQ_INT(b[6], 0x80 | (299 & 0x7f));
  ASSERT_EQ_INT(b[7], 299 >> 7);
  ASSERT_EQ_INT(agent_grpcprobe_request("web", b, 8), -ENOSPC);
}

static void test_response(void) {
  int st = -1;
  static const uint8_t serving[] = {0, 0, 0, 0, 2, 0x08, 1};
  ASSERT_EQ_INT(agent_grpcprobe_response(serving, sizeof(serving), &st), 0);
  ASSERT_EQ_INT(st, AGENT_GRPC_SERVING);
  static const uint8_t empty[] = {0, 0, 0, 0, 0};
  ASSERT_EQ_INT(agent_grpcprobe_response(empty, sizeof(empty), &st), 0);
  ASSERT_EQ_INT(st, AGENT_GRPC_UNKNOWN);
  /* an unknown string field before the status is skipped */
  static const uint8_t extra[] = {0, 0, 0, 0, 5, 0x12, 1, 'x', 0x08, 2};
  ASSERT_EQ_INT(agent_grpcprobe_response(extra, sizeof(extra), &st), 0);
  ASSERT_EQ_INT(st, AGENT_GRPC_NOT_SERVING);
  static const uint8_t compressed[] = {1, 0, 0, 0, 2, 0x08, 1};
  ASSERT_EQ_INT(agent_grpcprobe_response(compressed, sizeof(compressed), &st), -EPROTO);
  static const uint8_t short_len[] = {0, 0, 0, 0, 9, 0x08, 1};
  ASSERT_EQ_INT(agent_grpcprobe_response(short_len, sizeof(short_len), &st), -EPROTO);
  static const uint8_t cut[] = {0, 0, 0, 0, 1, 0x08};
  ASSERT_EQ_INT(agent_grpcprobe_response(cut, sizeof(cut), &st), -EPROTO);
  ASSERT_EQ_STR(agent_grpcprobe_status_name(2), "NOT_SERVING");
}

/* ---- live ---- */

static struct {
  bool done, ok;
  char why[512];
} got;

static void cb(void *data, bool ok, const char *why) {
  got.done = true;
  got.ok = ok;
  snprintf(got.why, sizeof(got.why), "%s", why);
}

static void check(struct ev_loop *loop, int port, const char *service, double timeout) {
  memset(&got, 0, sizeof(got));
  agent_grpcprobe_t *g = agent_grpcprobe_start(loop, "127.0.0.1", port, service, timeout, cb, NULL);
  if (!g)
    TEST_FAIL("agent_grpcprobe_start: %s", strerror(errno));
  ASSERT_FALSE(got.done); /* never inside the call */
  while (!got.done)
    ev_run(loop, EVRUN_ONCE);
}

static int free_port(int *ret_fd) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  if (ret_fd)
    *ret_fd = fd;
  else
    close(fd);
  return ntohs(sa.sin_port);
}

static void put(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  fputs(s, f);
  fclose(f);
}

static void test_live(void) {
  TEST_SKIP_UNDER_QEMU("start the helper server, a binary of the target architecture, without binfmt_misc");
  if (access(GRPC_HEALTH, X_OK) < 0)
    TEST_SKIP("tests/e2e/grpc_health is not built");
  char dir[] = "/tmp/k3c-grpcprobe-XXXXXX", state[128], logf[160], portstr[16];
  ASSERT_NOT_NULL(mkdtemp(dir));
  snprintf(state, sizeof(state), "%s/state", dir);
  snprintf(logf, sizeof(logf), "%s/state.log", dir);
  int port = free_port(NULL);
  snprintf(portstr, sizeof(portstr), "%d", port);
  put(state, "SERVING\n");
  pid_t pid = fork();
  if (pid == 0) {
    execl(GRPC_HEALTH, GRPC_HEALTH, portstr, state, "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  struct ev_loop *loop = ev_loop_new(0);
  /* wait for the listener */
  for (int i = 0; i < 100; i++) {
    check(loop, port, "", 1.0);
    if (got.ok || !strstr(got.why, "failed to connect"))
      break;
    usleep(50000);
  }
  ASSERT_TRUE(got.ok);
  check(loop, port, "my.Service", 1.0);
  ASSERT_TRUE(got.ok);
  put(state, "NOT_SERVING\n");
  check(loop, port, "", 1.0);
  ASSERT_FALSE(got.ok);
  ASSERT_EQ_STR(got.why, "service unhealthy (responded with \"NOT_SERVING\")");
  FILE *f = fopen(logf, "r");
  char line[256], all[2048] = "";
  while (f && fgets(line, sizeof(line), f))
    strncat(all, line, sizeof(all) - strlen(all) - 1);
  if (f)
    fclose(f);
  ASSERT_CONTAINS(all, "service=my.Service\n");
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  /* nothing listens: refused */
  check(loop, port, "", 1.0);
  ASSERT_FALSE(got.ok);
  ASSERT_CONTAINS(got.why, "timeout: failed to connect service \"127.0.0.1:");
  ASSERT_CONTAINS(got.why, "Connection refused");
  /* a listener that never answers: the deadline */
  int lfd;
  int p2 = free_port(&lfd);
  listen(lfd, 4);
  check(loop, p2, "", 0.3);
  ASSERT_FALSE(got.ok);
  ASSERT_EQ_STR(got.why, "timeout: health rpc did not complete within 0.3s");
  close(lfd);
  ev_loop_destroy(loop);
  unlink(state);
  unlink(logf);
  rmdir(dir);
}

TEST_LIST = {TEST(test_request), TEST(test_response), TEST(test_live), {0}};
TEST_MAIN()
