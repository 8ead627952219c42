/* A tiny gRPC health server for the grpc probe tests: grpc.health.v1.Health/
 * Check over h2c (HTTP/2 with prior knowledge) on 127.0.0.1 or 0.0.0.0.
 *
 *   grpc_health PORT STATE_FILE [ADDR]
 *
 * Each Check answers SERVING when STATE_FILE holds "SERVING", NOT_SERVING
 * otherwise (and when it is missing), and appends "service=<name>" to
 * STATE_FILE.log, so a test can flip the answer and see what was asked.
 * One connection at a time; runs until killed. Test code only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *state_file;

typedef struct {
  int fd;
  int32_t sid;
  uint8_t req[2048];
  size_t req_len;
  uint8_t resp[16];
  size_t resp_len, resp_off;
} conn_t;

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud) {
  conn_t *c = ud;
  ssize_t n = write(c->fd, data, len);
  return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                   size_t len, void *ud) {
  conn_t *c = ud;
  if (len > sizeof(c->req) - c->req_len)
    len = sizeof(c->req) - c->req_len;
  memcpy(c->req + c->req_len, data, len);
  c->req_len += len;
  return 0;
}

static ssize_t read_resp(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  conn_t *c = ud;
  size_t n = c->resp_len - c->resp_off;
  if (n > len)
    n = len;
  memcpy(buf, c->resp + c->resp_off, n);
  c->resp_off += n;
  if (c->resp_off == c->resp_len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv trailers[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0}};
    nghttp2_submit_trailer(s, sid, trailers, 1);
  }
  return (ssize_t)n;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  conn_t *c = ud;
  if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
      (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS))
    return 0;
  /* the request: 5-byte prefix, then field 1 (service) when set */
  char service[1100] = "";
  if (c->req_len > 7 && c->req[5] == 0x0a) {
    size_t n = c->req[6] & 0x7f, off = 7;
    if (c->req[6] & 0x80) {
      n |= (size_t)c->req[7] << 7;
      off = 8;
    }
    if (off + n <= c->req_len && n < sizeof(service))
      memcpy(service, c->req + off, n), service[n] = 0;
  }
  char log[4200];
  snprintf(log, sizeof(log), "%s.log", state_file);
  FILE *lf = fopen(log, "a");
  if (lf) {
    fprintf(lf, "service=%s\n", service);
    fclose(lf);
  }
  char st[32] = "";
  FILE *sf = fopen(state_file, "r");
  if (sf) {
    if (!fgets(st, sizeof(st), sf))
      st[0] = 0;
    fclose(sf);
  }
  int serving = !strncmp(st, "SERVING", 7);
  /* HealthCheckResponse{status: 1 SERVING | 2 NOT_SERVING} */
  uint8_t r[] = {0, 0, 0, 0, 2, 0x08, serving ? 1 : 2};
  memcpy(c->resp, r, sizeof(r));
  c->resp_len = sizeof(r);
  c->resp_off = 0;
  nghttp2_nv hdrs[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                       {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0}};
  nghttp2_data_provider dp = {.read_callback = read_resp};
  nghttp2_submit_response(s, f->hd.stream_id, hdrs, 2, &dp);
  c->req_len = 0;
  return 0;
}

static void serve(int fd) {
  conn_t c = {.fd = fd};
  nghttp2_session_callbacks *cbs;
  nghttp2_session *s;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
  nghttp2_session_server_new(&s, cbs, &c);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
  nghttp2_session_send(s);
  uint8_t buf[8192];
  while (nghttp2_session_want_read(s) || nghttp2_session_want_write(s)) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0)
      break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0 || nghttp2_session_mem_recv(s, buf, (size_t)n) < 0 || nghttp2_session_send(s) != 0)
      break;
  }
  nghttp2_session_del(s);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT STATE_FILE [ADDR]\n", argv[0]);
    return 2;
  }
  state_file = argv[2];
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)strtol(argv[1], NULL, 10))};
  inet_pton(AF_INET, argc > 3 ? argv[3] : "0.0.0.0", &sa.sin_addr);
  if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 8) < 0) {
    perror("grpc_health: bind");
    return 1;
  }
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0 && errno == EINTR)
      continue;
    if (fd < 0)
      return 1;
    serve(fd);
  }
}
