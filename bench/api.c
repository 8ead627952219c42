/* bench/api: latency and throughput of the Kubernetes API served by
 * `k3c server --disable-agent`, measured the way a client sees it: N
 * keep-alive HTTPS connections with the admin client certificate, each
 * issuing requests back-to-back (create, get and list of ConfigMaps, and
 * GET /version as the plain HTTP+TLS reference). Figures: docs/PERFORMANCE.md.
 *
 *   bench_api [-k k3c] [-t seconds] [-n max-requests] [-o objects]
 *             [-c 1,16,64] [-p version,create,get,list] [-s aes|chacha]
 *             [-d dir]
 *
 * The client is one thread and one libev loop with non-blocking mbedTLS
 * connections, so it uses at most one core and the server keeps the other. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "yaml/decode.h"

#define PAYLOAD_BYTES 1024
#define LIST_LIMIT 500
#define MAX_CLIENTS 256
#define RESPONSE_LIMIT (64u << 20)
#define STALL_SECONDS 30.0

/* ---- options and global state ---- */

static const char *opt_k3c = "build-release/k3c";
static double opt_seconds = 5;
static long opt_max = 200000;
static long opt_objects = 1000;
static int opt_clients[8] = {1, 16, 64};
static int opt_nclients = 3;
static const char *opt_dir;
static unsigned opt_ops = 0xf; /* bit per enum op */
static int opt_suite;            /* 0 = let the server choose */

static char dir[PATH_MAX];
static bool remove_dir;
static pid_t server_pid = -1;
static int port;
static char host_hdr[64];
static struct ev_loop *loop;
static char payload[PAYLOAD_BYTES + 1];

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_ssl_config ssl_conf;
static mbedtls_x509_crt ca_crt, client_crt;
static mbedtls_pk_context client_key;

static void stop_server(bool report);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_api: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (server_pid > 0) {
    fprintf(stderr, "bench_api: server log is in %s/server.log\n", dir);
    kill(server_pid, SIGKILL);
  }
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_self_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime+stime of the server from /proc/<pid>/stat (fields 14 and 15). */
static double cpu_server_s(void) {
  char path[64], text[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)server_pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  char *p = strrchr(text, ')');
  if (!p)
    return 0;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt
   * majflt cmajflt utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS or VmHWM of the server in KiB. */
static long server_mem_kib(const char *field) {
  char path[64], line[256];
  long v = -1;
  size_t flen = strlen(field);
  snprintf(path, sizeof(path), "/proc/%d/status", (int)server_pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f)) {
    if (!strncmp(line, field, flen) && line[flen] == ':') {
      v = strtol(line + flen + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

/* Open file descriptors of the server (connections that were not closed
 * show up here). */
static int server_fds(void) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)server_pid);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* ---- the server process ---- */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) < 0)
    die("cannot find a free port: %s", strerror(errno));
  close(fd);
  return ntohs(a.sin_port);
}

static void check_server_alive(const char *when) {
  int status;
  if (server_pid > 0 && waitpid(server_pid, &status, WNOHANG) == server_pid) {
    server_pid = -1;
    if (WIFSIGNALED(status))
      die("server died (signal %d) %s; log in %s/server.log", WTERMSIG(status), when, dir);
    die("server exited (status %d) %s; log in %s/server.log", WEXITSTATUS(status), when, dir);
  }
}

static void start_server(void) {
  char cfg[PATH_MAX + 16], logp[PATH_MAX + 16], kc[PATH_MAX + 16], portstr[16];
  snprintf(cfg, sizeof(cfg), "%s/config.yaml", dir);
  snprintf(logp, sizeof(logp), "%s/server.log", dir);
  snprintf(kc, sizeof(kc), "%s/kubeconfig.yaml", dir);
  FILE *f = fopen(cfg, "w");
  if (!f)
    die("cannot write %s: %s", cfg, strerror(errno));
  fputs("# empty: bench_api passes everything as flags\n", f);
  fclose(f);
  port = free_port();
  snprintf(portstr, sizeof(portstr), "%d", port);
  snprintf(host_hdr, sizeof(host_hdr), "127.0.0.1:%d", port);

  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    char *const argv[] = {(char *)opt_k3c, "server", "--disable-agent", "--config", cfg,
                          "--data-dir", dir, "--bind-address", "127.0.0.1",
                          "--https-listen-port", portstr, "--write-kubeconfig", kc, NULL};
    /* Keep the environment (ASAN_OPTIONS in the test suite) but not K3C_*
     * settings that could point the server somewhere else. */
    extern char **environ;
    size_t n = 0;
    while (environ[n])
      n++;
    char **envp = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0, j = 0; i < n; i++)
      if (strncmp(environ[i], "K3C_", 4) != 0)
        envp[j++] = environ[i];
    execve(opt_k3c, argv, envp);
    fprintf(stderr, "exec %s: %s\n", opt_k3c, strerror(errno));
    _exit(127);
  }
  server_pid = pid;
}

/* Wait until the listener accepts TCP connections (it opens after the
 * kubeconfig is written). Returns the seconds it took. */
static double wait_listening(double t0) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (;;) {
    check_server_alive("at start-up");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    if (r == 0)
      return now_s() - t0;
    if (now_s() - t0 > 30)
      die("server not listening on port %d after 30 s", port);
    usleep(2000);
  }
}

static void stop_server(bool report) {
  if (server_pid <= 0)
    return;
  kill(server_pid, SIGTERM);
  double t0 = now_s();
  int status = 0;
  for (;;) {
    pid_t r = waitpid(server_pid, &status, WNOHANG);
    if (r == server_pid)
      break;
    if (now_s() - t0 > 10) {
      kill(server_pid, SIGKILL);
      waitpid(server_pid, &status, 0);
      server_pid = -1;
      if (report)
        die("server did not stop within 10 s of SIGTERM (killed)");
      return;
    }
    usleep(10000);
  }
  server_pid = -1;
  if (!report)
    return;
  if (WIFSIGNALED(status))
    die("server died with signal %d on SIGTERM", WTERMSIG(status));
  if (WEXITSTATUS(status) != 0)
    die("server exited with status %d on SIGTERM", WEXITSTATUS(status));
  printf("server stopped cleanly in %.0f ms\n", (now_s() - t0) * 1000);
}

static void on_fatal_signal(int sig) {
  if (server_pid > 0)
    kill(server_pid, SIGKILL);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- TLS client configuration from the admin kubeconfig ---- */

static const char *kc_string(const cJSON *doc, const char *list, const char *entry,
                             const char *field) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, list);
  const cJSON *first = cJSON_GetArrayItem(arr, 0);
  const cJSON *obj = cJSON_GetObjectItemCaseSensitive(first, entry);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
  if (!cJSON_IsString(v))
    die("kubeconfig: no %s[0].%s.%s", list, entry, field);
  return v->valuestring;
}

/* base64 text -> NUL-terminated PEM; *ret_len counts the NUL (mbedTLS wants it). */
static unsigned char *b64_pem(const char *text, size_t *ret_len) {
  size_t n = 0, in = strlen(text);
  mbedtls_base64_decode(NULL, 0, &n, (const unsigned char *)text, in);
  unsigned char *out = xmalloc(n + 1);
  if (mbedtls_base64_decode(out, n, &n, (const unsigned char *)text, in) != 0)
    die("kubeconfig: bad base64");
  out[n] = '\0';
  *ret_len = n + 1;
  return out;
}

static void tls_setup(void) {
  char path[PATH_MAX + 32], err[256];
  snprintf(path, sizeof(path), "%s/kubeconfig.yaml", dir);
  FILE *f = fopen(path, "r");
  if (!f)
    die("cannot read %s: %s", path, strerror(errno));
  buf_t text;
  buf_init(&text, 1 << 20);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    if (buf_append(&text, chunk, n) < 0)
      die("kubeconfig too large");
  fclose(f);
  cJSON *doc = NULL;
  if (yaml_parse_one(text.data, text.len, &doc, err, sizeof(err)) < 0)
    die("kubeconfig: %s", err);
  buf_done(&text);

  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_ssl_config_init(&ssl_conf);
  mbedtls_x509_crt_init(&ca_crt);
  mbedtls_x509_crt_init(&client_crt);
  mbedtls_pk_init(&client_key);
  if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                            (const unsigned char *)"bench_api", 9) != 0)
    die("DRBG seed failed");
  size_t len;
  unsigned char *pem = b64_pem(kc_string(doc, "clusters", "cluster", "certificate-authority-data"),
                               &len);
  if (mbedtls_x509_crt_parse(&ca_crt, pem, len) != 0)
    die("kubeconfig: bad CA certificate");
  free(pem);
  pem = b64_pem(kc_string(doc, "users", "user", "client-certificate-data"), &len);
  if (mbedtls_x509_crt_parse(&client_crt, pem, len) != 0)
    die("kubeconfig: bad client certificate");
  free(pem);
  pem = b64_pem(kc_string(doc, "users", "user", "client-key-data"), &len);
  if (mbedtls_pk_parse_key(&client_key, pem, len, NULL, 0) != 0)
    die("kubeconfig: bad client key");
  free(pem);
  cJSON_Delete(doc);

  if (mbedtls_ssl_config_defaults(&ssl_conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) != 0)
    die("ssl config defaults failed");
  mbedtls_ssl_conf_authmode(&ssl_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&ssl_conf, &ca_crt, NULL);
  mbedtls_ssl_conf_rng(&ssl_conf, mbedtls_ctr_drbg_random, &drbg);
  if (mbedtls_ssl_conf_own_cert(&ssl_conf, &client_crt, &client_key) != 0)
    die("ssl own cert failed");
  static int suites[2];
  if (opt_suite) {
    suites[0] = opt_suite;
    mbedtls_ssl_conf_ciphersuites(&ssl_conf, suites);
  }
}

static void tls_teardown(void) {
  mbedtls_ssl_config_free(&ssl_conf);
  mbedtls_x509_crt_free(&ca_crt);
  mbedtls_x509_crt_free(&client_crt);
  mbedtls_pk_free(&client_key);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
}

/* ---- operations and phases ---- */

enum op { OP_VERSION, OP_CREATE, OP_GET, OP_LIST };
static const char *const op_names[] = {"version", "create", "get", "list"};

typedef struct {
  enum op op;
  const char *ns;
  const char *prefix; /* names of created objects: <prefix>-<seq> */
  long expect_items;  /* list: items per page */
  double deadline;
  long max;
  long issued, done, errors;
  double *lat; /* microseconds, one per finished request */
  int in_flight;
  char first_error[256];
} phase_t;

typedef struct conn {
  mbedtls_net_context net;
  mbedtls_ssl_context ssl;
  ev_io io;
  int events;
  bool writing;
  buf_t out;
  size_t out_off;
  buf_t in;
  buf_t body; /* de-chunked body */
  double t0;
  char name[64];
  phase_t *phase;
} conn_t;

static conn_t conns[MAX_CLIENTS];
static int in_flight_total; /* over every phase running at once */
static char negotiated[96];
static size_t list_page_bytes; /* body of the last list answer */
static int nconns;

/* Objects created successfully in the current round (for the GETs). */
static long *created;
static long ncreated, created_cap;
static long name_seq;
static long get_seq;

static void conn_open(conn_t *c) {
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", port);
  memset(c, 0, sizeof(*c));
  mbedtls_net_init(&c->net);
  mbedtls_ssl_init(&c->ssl);
  int r = mbedtls_net_connect(&c->net, "127.0.0.1", portstr, MBEDTLS_NET_PROTO_TCP);
  if (r != 0)
    die("connect 127.0.0.1:%d: mbedtls error -0x%04x", port, (unsigned)-r);
  int one = 1;
  setsockopt(c->net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (mbedtls_ssl_setup(&c->ssl, &ssl_conf) != 0 ||
      mbedtls_ssl_set_hostname(&c->ssl, "localhost") != 0)
    die("ssl setup failed");
  mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
  while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0) {
    if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
      die("TLS handshake: mbedtls error -0x%04x", (unsigned)-r);
  }
  mbedtls_net_set_nonblock(&c->net);
  snprintf(negotiated, sizeof(negotiated), "%s %s", mbedtls_ssl_get_version(&c->ssl),
           mbedtls_ssl_get_ciphersuite(&c->ssl));
  buf_init(&c->out, 1 << 20);
  buf_init(&c->in, RESPONSE_LIMIT);
  buf_init(&c->body, RESPONSE_LIMIT);
  c->events = 0;
}

static void conn_close(conn_t *c) {
  ev_io_stop(loop, &c->io);
  mbedtls_ssl_close_notify(&c->ssl);
  mbedtls_ssl_free(&c->ssl);
  mbedtls_net_free(&c->net);
  buf_done(&c->out);
  buf_done(&c->in);
  buf_done(&c->body);
}

static void conn_want(conn_t *c, int events) {
  if (c->events == events)
    return;
  ev_io_stop(loop, &c->io);
  ev_io_set(&c->io, c->net.fd, events);
  ev_io_start(loop, &c->io);
  c->events = events;
}

static void request_start(conn_t *c);
static void conn_write(conn_t *c);
static void conn_read(conn_t *c);

static void phase_fail(phase_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void phase_fail(phase_t *p, const char *fmt, ...) {
  p->errors++;
  if (p->first_error[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->first_error, sizeof(p->first_error), fmt, ap);
  va_end(ap);
}

static bool phase_continues(const phase_t *p) {
  return p->issued < p->max && now_s() < p->deadline;
}

static void request_start(conn_t *c) {
  phase_t *p = c->phase;
  buf_reset(&c->out);
  buf_reset(&c->in);
  buf_reset(&c->body);
  c->out_off = 0;
  c->name[0] = '\0';
  int r = 0;
  switch (p->op) {
  case OP_VERSION:
    r = buf_printf(&c->out, "GET /version HTTP/1.1\r\nHost: %s\r\nUser-Agent: k3c-bench\r\n"
                            "Accept: application/json\r\n\r\n", host_hdr);
    break;
  case OP_CREATE: {
    snprintf(c->name, sizeof(c->name), "%s-%ld", p->prefix, name_seq++);
    char body[PAYLOAD_BYTES + 256];
    int blen = snprintf(body, sizeof(body),
                        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                        "\"%s\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"payload\":\"%s\"}}",
                        c->name, payload);
    r = buf_printf(&c->out, "POST /api/v1/namespaces/%s/configmaps HTTP/1.1\r\nHost: %s\r\n"
                            "User-Agent: k3c-bench\r\nAccept: application/json\r\n"
                            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                   p->ns, host_hdr, blen, body);
    break;
  }
  case OP_GET:
    snprintf(c->name, sizeof(c->name), "%s-%ld", p->prefix, created[get_seq++ % ncreated]);
    r = buf_printf(&c->out, "GET /api/v1/namespaces/%s/configmaps/%s HTTP/1.1\r\nHost: %s\r\n"
                            "User-Agent: k3c-bench\r\nAccept: application/json\r\n\r\n",
                   p->ns, c->name, host_hdr);
    break;
  case OP_LIST:
    r = buf_printf(&c->out, "GET /api/v1/namespaces/%s/configmaps?limit=%d HTTP/1.1\r\n"
                            "Host: %s\r\nUser-Agent: k3c-bench\r\nAccept: application/json\r\n\r\n",
                   p->ns, LIST_LIMIT, host_hdr);
    break;
  }
  if (r < 0)
    die("request too large");
  p->issued++;
  p->in_flight++;
  in_flight_total++;
  c->writing = true;
  c->t0 = now_s();
  conn_write(c);
}

static void conn_error(conn_t *c, const char *what, int r) {
  die("connection %d: %s: mbedtls error -0x%04x (phase %s, %ld done)", (int)(c - conns), what,
      (unsigned)-r, op_names[c->phase->op], c->phase->done);
}

static void conn_write(conn_t *c) {
  while (c->out_off < c->out.len) {
    int r = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->out.data + c->out_off,
                              c->out.len - c->out_off);
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
      conn_want(c, EV_WRITE);
      return;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_READ) {
      conn_want(c, EV_READ);
      return;
    }
    if (r < 0)
      conn_error(c, "write", r);
    c->out_off += (size_t)r;
  }
  c->writing = false;
  conn_want(c, EV_READ);
}

static const char *find_header(const char *head, size_t head_len, const char *name) {
  size_t n = strlen(name);
  const char *p = memchr(head, '\n', head_len);
  const char *end = head + head_len;
  while (p && p + 1 < end) {
    p++;
    if ((size_t)(end - p) > n && !strncasecmp(p, name, n) && p[n] == ':') {
      p += n + 1;
      while (*p == ' ' || *p == '\t')
        p++;
      return p;
    }
    p = memchr(p, '\n', (size_t)(end - p));
  }
  return NULL;
}

/* 1 when a whole response is in c->in (status in *ret_status, body and length
 * in *ret_body, *ret_len), 0 when more bytes are needed, -1 when malformed. */
static int response_parse(conn_t *c, int *ret_status, const char **ret_body, size_t *ret_len) {
  const char *data = c->in.data;
  if (!data)
    return 0;
  const char *hend = strstr(data, "\r\n\r\n");
  if (!hend)
    return 0;
  size_t head_len = (size_t)(hend - data) + 4;
  int status = 0;
  if (sscanf(data, "HTTP/1.1 %d", &status) != 1)
    return -1;
  const char *cl = find_header(data, head_len, "Content-Length");
  const char *te = find_header(data, head_len, "Transfer-Encoding");
  size_t avail = c->in.len - head_len;
  if (te && !strncasecmp(te, "chunked", 7)) {
    const char *p = data + head_len, *end = data + c->in.len;
    buf_reset(&c->body);
    for (;;) {
      const char *eol = memchr(p, '\n', (size_t)(end - p));
      if (!eol)
        return 0;
      char *after;
      unsigned long size = strtoul(p, &after, 16);
      if (after == p)
        return -1;
      p = eol + 1;
      if (size == 0) {
        if (end - p < 2)
          return 0; /* no trailers expected: just the final CRLF */
        break;
      }
      if ((size_t)(end - p) < size + 2)
        return 0;
      if (buf_append(&c->body, p, size) < 0)
        return -1;
      p += size + 2;
    }
    *ret_status = status;
    *ret_body = c->body.data ? c->body.data : "";
    *ret_len = c->body.len;
    return 1;
  }
  if (!cl)
    return -1; /* keep-alive responses must be delimited */
  size_t want = strtoul(cl, NULL, 10);
  if (avail < want)
    return 0;
  if (avail > want)
    return -1; /* nothing else was asked for */
  *ret_status = status;
  *ret_body = data + head_len;
  *ret_len = want;
  return 1;
}

static long count_substr(const char *hay, const char *needle) {
  long n = 0;
  size_t len = strlen(needle);
  for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
    n++;
  return n;
}

static void request_done(conn_t *c, int status, const char *body, size_t len) {
  phase_t *p = c->phase;
  double us = (now_s() - c->t0) * 1e6;
  p->lat[p->done++] = us;
  p->in_flight--;
  in_flight_total--;
  char want[96];
  snprintf(want, sizeof(want), "\"name\":\"%s\"", c->name);
  switch (p->op) {
  case OP_VERSION:
    if (status != 200 || !strstr(body, "\"gitVersion\""))
      phase_fail(p, "GET /version: status %d", status);
    break;
  case OP_CREATE:
    if (status != 201 || !strstr(body, want)) {
      phase_fail(p, "create %s: status %d: %.120s", c->name, status, body);
    } else {
      if (ncreated == created_cap) {
        created_cap = created_cap ? created_cap * 2 : 1024;
        created = xrealloc(created, (size_t)created_cap * sizeof(*created));
      }
      created[ncreated++] = strtol(strrchr(c->name, '-') + 1, NULL, 10);
    }
    break;
  case OP_GET:
    if (status != 200 || !strstr(body, want))
      phase_fail(p, "get %s: status %d: %.120s", c->name, status, body);
    break;
  case OP_LIST: {
    list_page_bytes = len;
    long items = count_substr(body, "\"uid\":\"");
    bool more = strstr(body, "\"continue\":\"") && !strstr(body, "\"continue\":\"\"");
    if (status != 200 || items != p->expect_items || more != (opt_objects > LIST_LIMIT))
      phase_fail(p, "list: status %d, %ld items (want %ld), continue %s", status, items,
                 p->expect_items, more ? "set" : "unset");
    break;
  }
  }
  if (phase_continues(p))
    request_start(c);
  else
    ev_io_stop(loop, &c->io), c->events = 0;
  if (in_flight_total == 0)
    ev_break(loop, EVBREAK_ALL);
}

static void conn_read(conn_t *c) {
  for (;;) {
    if (c->in.cap - c->in.len < 16384 + 1) {
      /* grow by appending nothing-then-trimming: buf has no reserve call */
      size_t old = c->in.len;
      static char zeros[65536];
      if (buf_append(&c->in, zeros, sizeof(zeros)) < 0)
        die("response larger than %u bytes", RESPONSE_LIMIT);
      c->in.len = old;
      c->in.data[old] = '\0';
    }
    int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)c->in.data + c->in.len,
                             c->in.cap - c->in.len - 1);
    if (r == MBEDTLS_ERR_SSL_WANT_READ)
      break;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
      conn_want(c, EV_WRITE);
      return;
    }
    if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
      conn_error(c, "server closed the connection", r);
    if (r < 0)
      conn_error(c, "read", r);
    c->in.len += (size_t)r;
    c->in.data[c->in.len] = '\0';
  }
  int status = 0;
  const char *body = NULL;
  size_t len = 0;
  int done = response_parse(c, &status, &body, &len);
  if (done < 0)
    die("connection %d: malformed response: %.200s", (int)(c - conns), c->in.data);
  if (done == 1)
    request_done(c, status, body, len);
  else
    conn_want(c, EV_READ);
}

static void on_io(struct ev_loop *l, ev_io *w, int revents) {
  conn_t *c = w->data;
  if (c->writing)
    conn_write(c);
  else
    conn_read(c);
}

static void on_stall(struct ev_loop *l, ev_timer *w, int revents) {
  phase_t *p = w->data;
  die("stall: %d %s requests unanswered %.0f s after the phase ended (%ld done)", p->in_flight,
      op_names[p->op], STALL_SECONDS, p->done);
}

typedef struct {
  long requests, errors;
  double wall, p50, p99, max, srv_cpu, cli_cpu;
  long rss_kib;
} result_t;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double q) {
  if (n == 0)
    return 0;
  long i = (long)ceil(q * (double)n) - 1;
  if (i < 0)
    i = 0;
  return v[i];
}

static void phase_summary(phase_t *p, int clients, result_t *res) {
  qsort(p->lat, (size_t)p->done, sizeof(double), cmp_double);
  res->requests = p->done;
  res->errors = p->errors;
  res->p50 = pct(p->lat, p->done, 0.50);
  res->p99 = pct(p->lat, p->done, 0.99);
  res->max = p->done ? p->lat[p->done - 1] : 0;
  free(p->lat);
  p->lat = NULL;
  if (p->errors)
    fprintf(stderr, "bench_api: %s x%d: %ld errors, first: %s\n", op_names[p->op], clients,
            p->errors, p->first_error);
}

/* The side client: its own thread and a blocking connection (conns[0]),
 * so that its latencies are the server's and not the busy event loop's.
 * Only GETs; created[] is not written while it runs. */
static void *side_main(void *arg) {
  phase_t *p = arg;
  conn_t *c = &conns[0];
  mbedtls_net_set_block(&c->net);
  long seq = 0;
  while (phase_continues(p)) {
    snprintf(c->name, sizeof(c->name), "%s-%ld", p->prefix, created[seq++ % ncreated]);
    buf_reset(&c->out);
    buf_reset(&c->in);
    buf_printf(&c->out, "GET /api/v1/namespaces/%s/configmaps/%s HTTP/1.1\r\nHost: %s\r\n"
                        "User-Agent: k3c-bench\r\nAccept: application/json\r\n\r\n",
               p->ns, c->name, host_hdr);
    p->issued++;
    double t0 = now_s();
    size_t off = 0;
    while (off < c->out.len) {
      int r = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->out.data + off,
                                c->out.len - off);
      if (r <= 0)
        conn_error(c, "write", r);
      off += (size_t)r;
    }
    int status = 0, done = 0;
    const char *body = NULL;
    size_t len = 0;
    while (done == 0) {
      char tmp[16384];
      int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)tmp, sizeof(tmp));
      if (r <= 0)
        conn_error(c, "read", r);
      if (buf_append(&c->in, tmp, (size_t)r) < 0)
        die("response too large");
      done = response_parse(c, &status, &body, &len);
    }
    p->lat[p->done++] = (now_s() - t0) * 1e6;
    char want[96];
    snprintf(want, sizeof(want), "\"name\":\"%s\"", c->name);
    if (done < 0 || status != 200 || !strstr(body, want))
      phase_fail(p, "get %s: status %d", c->name, status);
  }
  mbedtls_net_set_nonblock(&c->net);
  return NULL;
}

/* Run phase p on connections 0..clients-1 for `seconds` (or p->max
 * requests). With side != NULL, connection 0 runs side instead, in its own
 * thread, at the same time as p runs on the others; its figures go to
 * *ret_side. */
static result_t run_phase(phase_t *p, int clients, double seconds, phase_t *side,
                          result_t *ret_side) {
  result_t res = {0};
  p->lat = xcalloc((size_t)p->max, sizeof(double));
  if (side)
    side->lat = xcalloc((size_t)side->max, sizeof(double));
  double cpu_srv0 = cpu_server_s(), cpu_cli0 = cpu_self_s();
  double t0 = now_s();
  p->deadline = t0 + seconds;
  if (side)
    side->deadline = p->deadline;
  ev_timer stall;
  ev_timer_init(&stall, on_stall, seconds + STALL_SECONDS, 0);
  stall.data = p;
  ev_timer_start(loop, &stall);
  pthread_t thread;
  if (side)
    conns[0].phase = side;
  if (side && pthread_create(&thread, NULL, side_main, side) != 0)
    die("cannot start the side client thread");
  for (int i = side ? 1 : 0; i < clients && phase_continues(p); i++) {
    conns[i].phase = p;
    request_start(&conns[i]);
  }
  if (in_flight_total > 0)
    ev_run(loop, 0);
  ev_timer_stop(loop, &stall);
  if (side)
    pthread_join(thread, NULL);
  res.wall = now_s() - t0;
  res.srv_cpu = cpu_server_s() - cpu_srv0;
  res.cli_cpu = cpu_self_s() - cpu_cli0;
  check_server_alive("during the benchmark");
  res.rss_kib = server_mem_kib("VmRSS");
  if (side) {
    *ret_side = res;
    phase_summary(side, 1, ret_side);
  }
  phase_summary(p, side ? clients - 1 : clients, &res);
  return res;
}

/* cpu = false for a side phase, whose CPU time is shared with the main one. */
static void print_row(int clients, const char *op, const result_t *r, bool cpu) {
  double n = r->requests ? (double)r->requests : 1;
  char srv[16] = "-", cli[16] = "-";
  if (cpu) {
    snprintf(srv, sizeof(srv), "%.0f", r->srv_cpu * 1e6 / n);
    snprintf(cli, sizeof(cli), "%.0f", r->cli_cpu * 1e6 / n);
  }
  printf("| %3d | %-7s | %8ld | %6ld | %8.0f | %7.2f | %7.2f | %7.2f | %7s | %7s | %6.1f |\n",
         clients, op, r->requests, r->errors, (double)r->requests / r->wall, r->p50 / 1000,
         r->p99 / 1000, r->max / 1000, srv, cli, (double)r->rss_kib / 1024);
  fflush(stdout);
}

static void send_simple(const char *method, const char *path, const char *body, int want) {
  /* One request on connection 0, polled (set-up only, not measured). */
  conn_t *c = &conns[0];
  buf_reset(&c->out);
  buf_reset(&c->in);
  c->out_off = 0;
  buf_printf(&c->out, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: k3c-bench\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, host_hdr, strlen(body), body);
  double t0 = now_s();
  while (c->out_off < c->out.len) {
    int r = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->out.data + c->out_off,
                              c->out.len - c->out_off);
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ)
      continue;
    if (r < 0)
      die("%s %s: write error -0x%04x", method, path, (unsigned)-r);
    c->out_off += (size_t)r;
  }
  int status = 0, done = 0;
  const char *rbody = NULL;
  size_t len;
  while (done == 0) {
    if (now_s() - t0 > 30)
      die("%s %s: no answer in 30 s", method, path);
    char tmp[16384];
    int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)tmp, sizeof(tmp));
    if (r == MBEDTLS_ERR_SSL_WANT_READ) {
      usleep(500);
      continue;
    }
    if (r <= 0)
      die("%s %s: read error -0x%04x", method, path, (unsigned)-r);
    buf_append(&c->in, tmp, (size_t)r);
    done = response_parse(c, &status, &rbody, &len);
  }
  if (done < 0 || status != want)
    die("%s %s: status %d, want %d: %.200s", method, path, status, want, rbody ? rbody : "");
}

static void open_clients(int n) {
  for (int i = 0; i < n; i++) {
    conn_open(&conns[i]);
    ev_io_init(&conns[i].io, on_io, conns[i].net.fd, 0);
    conns[i].io.data = &conns[i];
  }
  nconns = n;
}

static void close_clients(void) {
  for (int i = 0; i < nconns; i++)
    conn_close(&conns[i]);
  nconns = 0;
}

/* ---- main ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  return remove(path);
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_api [-k k3c-binary] [-t seconds-per-phase] [-n max-requests-per-phase]\n"
          "                 [-o objects-for-list] [-c 1,16,64] [-p version,create,get,list]\n"
          "                 [-s aes|chacha (offer one cipher suite)] [-d data-dir (kept)]\n"
          "get needs create in the same run.\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  int ch;
  while ((ch = getopt(argc, argv, "k:t:n:o:c:p:s:d:h")) != -1) {
    char *end;
    switch (ch) {
    case 'k':
      opt_k3c = optarg;
      break;
    case 't':
      opt_seconds = strtod(optarg, &end);
      if (*end || opt_seconds <= 0 || opt_seconds > 600)
        usage();
      break;
    case 'n':
      opt_max = strtol(optarg, &end, 10);
      if (*end || opt_max < 1 || opt_max > 10000000)
        usage();
      break;
    case 'o':
      opt_objects = strtol(optarg, &end, 10);
      if (*end || opt_objects < 1 || opt_objects > 100000)
        usage();
      break;
    case 'c': {
      opt_nclients = 0;
      char *p = optarg;
      while (*p && opt_nclients < 8) {
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > MAX_CLIENTS)
          usage();
        opt_clients[opt_nclients++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
          usage();
      }
      break;
    }
    case 'p': {
      opt_ops = 0;
      char *save = NULL;
      for (char *t = strtok_r(optarg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < 4 && strcmp(t, op_names[i]) != 0)
          i++;
        if (i == 4)
          usage();
        opt_ops |= 1u << i;
      }
      if ((opt_ops & (1u << OP_GET)) && !(opt_ops & (1u << OP_CREATE)))
        usage();
      break;
    }
    case 's':
      if (!strcmp(optarg, "aes"))
        opt_suite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
      else if (!strcmp(optarg, "chacha"))
        opt_suite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
      else
        usage();
      break;
    case 'd':
      opt_dir = optarg;
      break;
    default:
      usage();
    }
  }
  if (optind != argc)
    usage();
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_fatal_signal);
  signal(SIGTERM, on_fatal_signal);
  if (access(opt_k3c, X_OK) != 0)
    die("%s: %s (build it, or pass -k)", opt_k3c, strerror(errno));
  for (int i = 0; i < PAYLOAD_BYTES; i++)
    payload[i] = (char)('a' + i % 26);
  payload[PAYLOAD_BYTES] = '\0';
  if (opt_dir) {
    if (mkdir(opt_dir, 0700) < 0 && errno != EEXIST)
      die("mkdir %s: %s", opt_dir, strerror(errno));
    snprintf(dir, sizeof(dir), "%s", opt_dir);
  } else {
    snprintf(dir, sizeof(dir), "/tmp/k3c-bench-api.XXXXXX");
    if (!mkdtemp(dir))
      die("mkdtemp: %s", strerror(errno));
    remove_dir = true;
  }
  loop = EV_DEFAULT;

  double t0 = now_s();
  start_server();
  double ready = wait_listening(t0);
  long rss_start = server_mem_kib("VmRSS");
  usleep(50000); /* let the server drop wait_listening's probe connection */
  int fds_start = server_fds();
  tls_setup();
  printf("k3c API benchmark: %s, data dir %s, port %d\n", opt_k3c, dir, port);
  printf("phases of %.1f s or %ld requests; list of %ld ConfigMaps with limit=%d; "
         "ConfigMaps carry %d bytes of data\n",
         opt_seconds, opt_max, opt_objects, LIST_LIMIT, PAYLOAD_BYTES);
  printf("server listening after %.0f ms, RSS %.1f MiB\n", ready * 1000,
         (double)rss_start / 1024);

  /* Namespaces and the objects the lists read. */
  open_clients(1);
  send_simple("POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"bench\"}}", 201);
  send_simple("POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"benchlist\"}}", 201);
  close_clients();
  printf("TLS: %s\n", negotiated);
  int preload_clients = 16;
  open_clients(preload_clients);
  phase_t pre = {.op = OP_CREATE, .ns = "benchlist", .prefix = "l", .max = opt_objects};
  result_t pr = run_phase(&pre, preload_clients, 300, NULL, NULL);
  close_clients();
  if (pr.errors || pr.requests != opt_objects)
    die("preload failed: %ld of %ld created", pr.requests - pr.errors, opt_objects);
  ncreated = 0;
  long rss_loaded = server_mem_kib("VmRSS");
  printf("preloaded %ld ConfigMaps in %.2f s (16 clients), server RSS %.1f MiB\n\n", opt_objects,
         pr.wall, (double)rss_loaded / 1024);

  printf("| clients | op | requests | errors | req/s | p50 ms | p99 ms | max ms | "
         "server CPU us/req | client CPU us/req | server RSS MiB after |\n");
  printf("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  long total_errors = pr.errors;
  double handshake_ms[8];
  for (int k = 0; k < opt_nclients; k++) {
    int n = opt_clients[k];
    double tc = now_s();
    open_clients(n);
    double conn_ms = (now_s() - tc) * 1000;
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "c%d", n);
    ncreated = 0;
    get_seq = 0;
    phase_t phases[4] = {
        {.op = OP_VERSION, .max = opt_max},
        {.op = OP_CREATE, .ns = "bench", .prefix = prefix, .max = opt_max},
        {.op = OP_GET, .ns = "bench", .prefix = prefix, .max = opt_max},
        {.op = OP_LIST, .ns = "benchlist", .max = opt_max,
         .expect_items = opt_objects < LIST_LIMIT ? opt_objects : LIST_LIMIT},
    };
    for (int i = 0; i < 4; i++) {
      if (!(opt_ops & (1u << phases[i].op)))
        continue;
      if (phases[i].op == OP_GET && ncreated == 0)
        die("no objects were created with %d clients", n);
      result_t r = run_phase(&phases[i], n, opt_seconds, NULL, NULL);
      total_errors += r.errors;
      print_row(n, op_names[phases[i].op], &r, true);
    }
    /* Head-of-line blocking: one client's GETs while the others list. */
    if (n >= 2 && (opt_ops & (1u << OP_GET)) && (opt_ops & (1u << OP_LIST))) {
      phase_t list = phases[3], get = phases[2];
      list.issued = list.done = list.errors = 0;
      get.issued = get.done = get.errors = 0;
      list.first_error[0] = get.first_error[0] = '\0';
      result_t side;
      result_t r = run_phase(&list, n, opt_seconds, &get, &side);
      total_errors += r.errors + side.errors;
      print_row(n, "get+L", &side, false);
    }
    close_clients();
    handshake_ms[k] = conn_ms;
  }
  printf("\nTLS handshakes (client cert, ECDHE-ECDSA P-256, sequential):");
  for (int k = 0; k < opt_nclients; k++)
    printf(" %d in %.0f ms%s", opt_clients[k], handshake_ms[k], k + 1 < opt_nclients ? "," : "\n");
  if (list_page_bytes)
    printf("list page: %zu bytes of JSON\n", list_page_bytes);
  printf("server RSS: %.1f MiB at start, %.1f MiB after preload, %.1f MiB at end, "
         "peak %.1f MiB\n",
         (double)rss_start / 1024, (double)rss_loaded / 1024,
         (double)server_mem_kib("VmRSS") / 1024, (double)server_mem_kib("VmHWM") / 1024);
  /* Every client connection is closed by now; give the server a moment to
   * see the close_notify alerts, then compare its descriptors. */
  int fds_end = server_fds();
  for (int i = 0; i < 100 && fds_end > fds_start; i++) {
    usleep(10000);
    fds_end = server_fds();
  }
  printf("server file descriptors: %d at start, %d after all clients closed\n", fds_start,
         fds_end);
  if (fds_end > fds_start) {
    fprintf(stderr, "bench_api: the server kept %d descriptors open after the clients left\n",
            fds_end - fds_start);
    total_errors++;
  }
  stop_server(true);
  tls_teardown();
  free(created);
  if (remove_dir)
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (total_errors) {
    fprintf(stderr, "bench_api: %ld requests failed\n", total_errors);
    return 1;
  }
  return 0;
}
