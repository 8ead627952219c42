/* The reference side of bench/stream.sh's exec latency, with no API
 * server, kubelet or relay in between:
 *   default: CRI ExecSync of `true` in one container straight to
 *            containerd (which starts it with runc exec);
 *   -w:      CRI Exec of `true` for a streaming URL, then a plain-TCP
 *            WebSocket (v4.channel.k8s.io) to containerd's streaming
 *            server there, timed until its exit status arrives on the error
 *            channel: the path a relayed exec takes, minus k3c.
 * Prints "cri_exec n=N p50_ms=... p90_ms=... failed=F" (-w:
 * "cri_exec_stream ..." with the same fields and up101_p50_ms, the part
 * until containerd's 101).
 *
 *   cri_exec -s SOCKET -c CONTAINER_ID [-n N] [-w]
 *
 * Needs access to containerd's socket (root). */
#include <arpa/inet.h>
#include <ev.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cri/cri.h"

typedef struct {
  bool done, ok;
  char url[512];
} call_t;

static void exec_cb(void *data, const cri_status_t *st, const cri_exec_result_t *resp) {
  call_t *c = data;
  c->done = true;
  c->ok = st->code == CRI_OK && resp && resp->exit_code == 0;
}

static void url_cb(void *data, const cri_status_t *st, const char *url) {
  call_t *c = data;
  c->done = true;
  c->ok = st->code == CRI_OK && url && strlen(url) < sizeof(c->url);
  if (c->ok)
    snprintf(c->url, sizeof(c->url), "%s", url);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* A WebSocket exec session at url ("http://ADDR:PORT/PATH", IPv4): true
 * when the error channel said Success before the server closed. *up is
 * the time of the 101. Blocking, 10 s bound per read. */
static bool ws_session(const char *url, double *up) {
  char host[64];
  int port;
  int off = 0;
  if (sscanf(url, "http://%63[0-9.]:%d%n", host, &port, &off) != 2 || url[off] != '/')
    return false;
  const char *path = url + off;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
    return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool ok = false;
  char req[1024];
  int rl = snprintf(req, sizeof(req),
                    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n",
                    path, host, port);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || write(fd, req, (size_t)rl) != rl)
    goto out;
  static char buf[1 << 16];
  size_t len = 0;
  char *body = NULL;
  while (!body) {
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0)
      goto out;
    len += (size_t)n;
    buf[len] = '\0';
    body = strstr(buf, "\r\n\r\n");
  }
  *up = ev_time();
  if (strncmp(buf, "HTTP/1.1 101", 12))
    goto out;
  size_t pos = (size_t)(body + 4 - buf);
  for (;;) { /* server frames: unmasked; small ones only here */
    while (len - pos >= 2) {
      size_t pl = buf[pos + 1] & 127, hl = 2;
      if (pl == 126) {
        if (len - pos < 4)
          break;
        pl = ((size_t)(unsigned char)buf[pos + 2] << 8) | (unsigned char)buf[pos + 3];
        hl = 4;
      } else if (pl == 127) {
        goto out;
      }
      if (len - pos < hl + pl)
        break;
      int op = buf[pos] & 15;
      const char *p = buf + pos + hl;
      if (op == 8)
        goto out; /* the server's close: done */
      if (op == 2 && pl >= 1 && p[0] == 3 && memmem(p, pl, "Success", 7))
        ok = true;
      pos += hl + pl;
    }
    if (pos == len)
      pos = len = 0;
    if (len == sizeof(buf) - 1)
      goto out;
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0)
      goto out;
    len += (size_t)n;
  }
out:
  close(fd);
  return ok;
}

int main(int argc, char **argv) {
  const char *sock = NULL, *cid = NULL;
  int n = 30, opt;
  bool stream = false;
  while ((opt = getopt(argc, argv, "s:c:n:w")) != -1) {
    if (opt == 's')
      sock = optarg;
    else if (opt == 'c')
      cid = optarg;
    else if (opt == 'n')
      n = (int)strtol(optarg, NULL, 10);
    else if (opt == 'w')
      stream = true;
  }
  if (!sock || !cid || n < 1 || n > 10000) {
    fprintf(stderr, "usage: cri_exec -s SOCKET -c CONTAINER_ID [-n N] [-w]\n");
    return 2;
  }
  struct ev_loop *loop = ev_default_loop(0);
  cri_client_t *cli = NULL;
  if (cri_client_new(loop, sock, &cli) < 0) {
    fprintf(stderr, "cri_exec: cannot use %s\n", sock);
    return 1;
  }
  static const char *const cmd[] = {"true"};
  double *ms = calloc((size_t)n, sizeof(*ms));
  double *ups = calloc((size_t)n, sizeof(*ups));
  int failed = 0;
  for (int i = 0; i <= n; i++) { /* the first call warms the connection */
    call_t c = {false, false, ""};
    double t = ev_time(), up = t;
    cri_stream_flags_t fl = {.stdout_ = true, .stderr_ = true};
    int e = stream ? cri_exec(cli, cid, (cri_strv_t){cmd, 1}, &fl, url_cb, &c)
                   : cri_exec_sync(cli, cid, (cri_strv_t){cmd, 1}, 10, exec_cb, &c);
    if (e < 0) {
      failed++;
      continue;
    }
    while (!c.done)
      ev_run(loop, EVRUN_ONCE);
    if (c.ok && stream)
      c.ok = ws_session(c.url, &up);
    if (!c.ok)
      failed++;
    if (i) {
      ms[i - 1] = (ev_time() - t) * 1000;
      ups[i - 1] = (up - t) * 1000;
    }
  }
  qsort(ms, (size_t)n, sizeof(*ms), cmp);
  qsort(ups, (size_t)n, sizeof(*ups), cmp);
  if (stream)
    printf("cri_exec_stream n=%d p50_ms=%.1f p90_ms=%.1f up101_p50_ms=%.1f failed=%d\n", n,
           ms[n / 2], ms[n * 9 / 10], ups[n / 2], failed);
  else
    printf("cri_exec n=%d p50_ms=%.1f p90_ms=%.1f failed=%d\n", n, ms[n / 2], ms[n * 9 / 10],
           failed);
  free(ms);
  free(ups);
  cri_client_free(cli);
  return failed ? 1 : 0;
}
