/* pkg/agent/prober.c against sockets on 127.0.0.1: httpGet readiness (a
 * 200 and a 500 path, a named port, a header sent), tcpSocket liveness to
 * a closed port stopping the container after failureThreshold, startup
 * gating readiness, the results podstatus reads, and forgetting a pod;
 * httpGet scheme HTTPS against a TLS server with a self-signed certificate
 * (not verified, as upstream). */
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "agent/prober.h"
#include "tls/cert.h"
#include "tls/conf.h"
#include "test.h"

static struct ev_loop *loop;
static int changes, kills, unhealthy;
static char last_request[2048];
static bool saw_header, saw_host_port;
static int server_port;

static void changed(void *data, const char *key) { changes++; }
static void event(void *data, const char *key, const char *type, const char *reason,
                  const char *message) {
  if (!strcmp(reason, "Killing"))
    kills++;
  if (!strcmp(reason, "Unhealthy"))
    unhealthy++;
  if (getenv("PROBE_DEBUG"))
    printf("# event %s: %s\n", reason, message);
}

/* A tiny HTTP server: /ok answers 200, anything else 500. */
static int listen_fd = -1;
static ev_io accept_w;

static void accept_cb(struct ev_loop *l, ev_io *w, int revents) {
  int fd = accept(listen_fd, NULL, NULL);
  if (fd < 0)
    return;
  char buf[2048];
  ssize_t n = read(fd, buf, sizeof(buf) - 1); /* the request fits one read on loopback */
  buf[n > 0 ? n : 0] = 0;
  snprintf(last_request, sizeof(last_request), "%s", buf);
  char host[64];
  snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", server_port);
  if (!strncmp(buf, "GET /ok ", 8) && strstr(buf, "X-Probe: yes\r\n"))
    saw_header = true;
  if (strstr(buf, host))
    saw_host_port = true;
  const char *resp = !strncmp(buf, "GET /ok ", 8) ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                                                   : "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";
  if (write(fd, resp, strlen(resp)) < 0)
    perror("write");
  close(fd);
}

static int start_server(void) {
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 16) < 0 ||
      getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0)
    return -1;
  ev_io_init(&accept_w, accept_cb, listen_fd, EV_READ);
  ev_io_start(loop, &accept_w);
  return ntohs(sa.sin_port);
}

/* A port nothing listens on. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

static void run_for(double seconds) {
  ev_tstamp end = ev_time() + seconds;
  while (ev_time() < end)
    ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(2000);
}

static bool result_is(agent_prober_t *p, const char *cid, const char *field, bool want) {
  cJSON *r = agent_prober_results(p, "u1");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, cid);
  bool ok = e && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(e, field)) &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, field)) == want;
  cJSON_Delete(r);
  return ok;
}

static agent_rt_container_t running(const char *id, const char *name) {
  agent_rt_container_t c;
  memset(&c, 0, sizeof(c));
  snprintf(c.id, sizeof(c.id), "%s", id);
  snprintf(c.name, sizeof(c.name), "%s", name);
  c.state = CRI_CONTAINER_RUNNING;
  return c;
}

static void test_http_tcp_startup(void) {
  loop = ev_loop_new(EVFLAG_AUTO);
  int port = start_server(), dead = closed_port();
  server_port = port;
  ASSERT_TRUE(port > 0);
  cri_client_t *cri = NULL;
  ASSERT_EQ_INT(cri_client_new(loop, "/nonexistent/k3c-test.sock", &cri), 0);
  agent_prober_cbs_t cbs = {changed, event, NULL};
  agent_prober_t *p = agent_prober_new(loop, cri, &cbs);
  char text[2048];
  snprintf(text, sizeof(text),
           "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"},"
           "\"spec\":{\"terminationGracePeriodSeconds\":1,\"containers\":["
           "{\"name\":\"good\",\"ports\":[{\"name\":\"web\",\"containerPort\":%d}],"
           " \"readinessProbe\":{\"httpGet\":{\"path\":\"/ok\",\"port\":\"web\","
           "  \"httpHeaders\":[{\"name\":\"X-Probe\",\"value\":\"yes\"}]},\"periodSeconds\":1}},"
           "{\"name\":\"bad\",\"readinessProbe\":{\"httpGet\":{\"path\":\"/fail\",\"port\":%d},"
           " \"periodSeconds\":1}},"
           "{\"name\":\"dead\",\"livenessProbe\":{\"tcpSocket\":{\"port\":%d},\"periodSeconds\":1,"
           " \"failureThreshold\":2}},"
           "{\"name\":\"slow\",\"startupProbe\":{\"tcpSocket\":{\"port\":%d},\"periodSeconds\":1,"
           " \"failureThreshold\":100},"
           " \"readinessProbe\":{\"tcpSocket\":{\"port\":%d},\"periodSeconds\":1}}]}}",
           port, port, dead, dead, port);
  cJSON *pod = cJSON_Parse(text);
  ASSERT_NOT_NULL(pod);
  agent_rt_container_t cs[4] = {running("c-good", "good"), running("c-bad", "bad"),
                                running("c-dead", "dead"), running("c-slow", "slow")};
  agent_prober_update(p, pod, "127.0.0.1", cs, 4);
  /* Before any result: readiness false, startup not started. */
  ASSERT_TRUE(result_is(p, "c-good", "ready", false));
  ASSERT_TRUE(result_is(p, "c-slow", "started", false));
  run_for(3.5);
  ASSERT_TRUE(result_is(p, "c-good", "ready", true));
  ASSERT_TRUE(saw_header);
  ASSERT_TRUE(saw_host_port);
  ASSERT_CONTAINS(last_request, "User-Agent: kube-probe/");
  ASSERT_TRUE(result_is(p, "c-bad", "ready", false));
  /* The liveness probe failed twice: the container is stopped, its probes gone. */
  ASSERT_EQ_INT(kills, 1);
  cJSON *r = agent_prober_results(p, "u1");
  ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(r, "c-dead"));
  cJSON_Delete(r);
  /* Startup never succeeds: not started, and not ready though its
   * readiness target answers. */
  ASSERT_TRUE(result_is(p, "c-slow", "started", false));
  ASSERT_TRUE(result_is(p, "c-slow", "ready", false));
  ASSERT_TRUE(unhealthy >= 4);
  ASSERT_TRUE(changes >= 2);
  /* The same container after the kill is not probed again; a new one is. */
  agent_prober_update(p, pod, "127.0.0.1", cs, 4);
  r = agent_prober_results(p, "u1");
  ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(r, "c-dead"));
  cJSON_Delete(r);
  /* A container that stopped running loses its probes. */
  cs[0].state = CRI_CONTAINER_EXITED;
  agent_prober_update(p, pod, "127.0.0.1", cs, 4);
  r = agent_prober_results(p, "u1");
  ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(r, "c-good"));
  ASSERT_NOT_NULL(cJSON_GetObjectItemCaseSensitive(r, "c-bad"));
  cJSON_Delete(r);
  agent_prober_forget(p, "u1");
  r = agent_prober_results(p, "u1");
  ASSERT_EQ_INT(cJSON_GetArraySize(r), 0);
  cJSON_Delete(r);
  agent_prober_free(p);
  cri_client_free(cri);
  cJSON_Delete(pod);
  ev_io_stop(loop, &accept_w);
  close(listen_fd);
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
}

/* A TLS server in a child process: /ok answers 200, anything else 500. */
static void tls_serve(int lfd, const char *cert, const char *key) {
  tls_server_conf_t *conf = NULL;
  char err[256];
  if (tls_server_conf_new(cert, key, NULL, &conf, err, sizeof(err)) < 0)
    _exit(3);
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      continue;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl);
    mbedtls_net_context net = {fd};
    if (mbedtls_ssl_setup(&ssl, tls_server_conf_ssl(conf)) == 0) {
      mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
      unsigned char buf[2048];
      if (mbedtls_ssl_handshake(&ssl) == 0) {
        int n = mbedtls_ssl_read(&ssl, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        const char *resp = !strncmp((char *)buf, "GET /ok ", 8)
                               ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                               : "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";
        mbedtls_ssl_write(&ssl, (const unsigned char *)resp, strlen(resp));
        mbedtls_ssl_close_notify(&ssl);
      }
    }
    mbedtls_ssl_free(&ssl);
    close(fd);
  }
}

static void test_https(void) {
  char *key = NULL, *cert = NULL, err[256];
  ASSERT_EQ_INT(tls_key_generate(&key, err, sizeof(err)), 0);
  tls_cert_spec_t spec = {.cn = "probe-test", .usage = TLS_USAGE_SERVER, .days = 1};
  ASSERT_EQ_INT(tls_cert_create(&spec, key, NULL, NULL, &cert, err, sizeof(err)), 0);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  ASSERT_EQ_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  getsockname(lfd, (struct sockaddr *)&sa, &len);
  ASSERT_EQ_INT(listen(lfd, 8), 0);
  int tls_port = ntohs(sa.sin_port);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0)
    tls_serve(lfd, cert, key);
  close(lfd);
  loop = ev_loop_new(EVFLAG_AUTO);
  int http_port = start_server();
  cri_client_t *cri = NULL;
  ASSERT_EQ_INT(cri_client_new(loop, "/nonexistent/k3c-test.sock", &cri), 0);
  agent_prober_cbs_t cbs = {changed, event, NULL};
  agent_prober_t *p = agent_prober_new(loop, cri, &cbs);
  char text[2048];
  snprintf(text, sizeof(text),
           "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"},"
           "\"spec\":{\"containers\":["
           "{\"name\":\"s\",\"readinessProbe\":{\"httpGet\":{\"path\":\"/ok\",\"port\":%d,"
           "  \"scheme\":\"HTTPS\"},\"periodSeconds\":1}},"
           "{\"name\":\"f\",\"readinessProbe\":{\"httpGet\":{\"path\":\"/fail\",\"port\":%d,"
           "  \"scheme\":\"HTTPS\"},\"periodSeconds\":1}},"
           "{\"name\":\"plain\",\"readinessProbe\":{\"httpGet\":{\"path\":\"/ok\",\"port\":%d,"
           "  \"scheme\":\"HTTPS\"},\"periodSeconds\":1}}]}}",
           tls_port, tls_port, http_port);
  cJSON *pod = cJSON_Parse(text);
  ASSERT_NOT_NULL(pod);
  agent_rt_container_t cs[3] = {running("c-s", "s"), running("c-f", "f"), running("c-p", "plain")};
  agent_prober_update(p, pod, "127.0.0.1", cs, 3);
  run_for(2.5);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  ASSERT_TRUE(result_is(p, "c-s", "ready", true));
  ASSERT_TRUE(result_is(p, "c-f", "ready", false));
  ASSERT_TRUE(result_is(p, "c-p", "ready", false)); /* an HTTP server does not speak TLS */
  agent_prober_free(p);
  cri_client_free(cri);
  cJSON_Delete(pod);
  ev_io_stop(loop, &accept_w);
  close(listen_fd);
  ev_loop_destroy(loop);
  free(key);
  free(cert);
}

TEST_LIST = {
    TEST(test_http_tcp_startup),
    TEST(test_https),
    {0},
};
TEST_MAIN()
