/* A small TCP throughput and latency meter for bench/overlay.sh (busybox has
 * no iperf): one side serves, the other measures.
 *
 *   netpair serve PORT CONNS          answer CONNS connections, then exit
 *   netpair stream HOST PORT SECONDS  send for SECONDS; prints Mbit/s
 *   netpair rr HOST PORT ROUNDS       1-byte request/response ROUNDS times;
 *                                     prints the round trip's p50/p99/mean
 *   netpair conn HOST PORT SECONDS    new connections one after another for
 *                                     SECONDS (connect, 1 byte each way, close
 *                                     with a reset: no TIME_WAIT); prints the
 *                                     rate (bench/svc.sh)
 * With CONNS 0, serve answers connections until it is killed.
 *
 * A connection starts with one byte: 'S' (stream: the server counts what
 * it reads until EOF, then answers the count as 8 bytes) or 'R' (echo each
 * byte) or 'C' (answer one byte, close). Every socket has 30 s send/receive timeouts, so nothing hangs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (128 * 1024)
#define TIMEOUT_S 30
#define MAX_ROUNDS 1000000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void timeouts(int fd) {
  struct timeval tv = {.tv_sec = TIMEOUT_S};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/* A non-negative decimal within [lo, hi], else -1. */
static long number(const char *s, long lo, long hi) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  return errno || end == s || *end || v < lo || v > hi ? -1 : v;
}

static void serve_one(int c, char *buf) {
  char mode;
  timeouts(c);
  if (read_all(c, &mode, 1) < 0)
    return;
  if (mode == 'S') {
    uint64_t total = 0;
    ssize_t r;
    while ((r = read(c, buf, BUF)) > 0 || (r < 0 && errno == EINTR))
      if (r > 0)
        total += (uint64_t)r;
    (void)write_all(c, &total, sizeof total);
  } else if (mode == 'C') {
    (void)write_all(c, &mode, 1);
  } else if (mode == 'R') {
    char b;
    while (read_all(c, &b, 1) == 0 && write_all(c, &b, 1) == 0) {
    }
  }
}

static int serve(long port, long conns) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) {
    perror("netpair serve");
    return 1;
  }
  char *buf = malloc(BUF);
  if (!buf)
    return 1;
  printf("listening on %ld\n", port);
  fflush(stdout);
  for (long i = 0; !conns || i < conns; i++) {
    int c = accept(s, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) {
        i--;
        continue;
      }
      perror("netpair accept");
      break;
    }
    int nd = 1;
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
    serve_one(c, buf);
    close(c);
  }
  free(buf);
  close(s);
  return 0;
}

static int dial(const char *host, long port, char mode) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "netpair: %s is not an IPv4 address\n", host);
    return -1;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0), nd = 1;
  if (s < 0)
    return -1;
  timeouts(s);
  (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0 || write_all(s, &mode, 1) < 0) {
    fprintf(stderr, "netpair: connecting to %s:%ld: %s\n", host, port, strerror(errno));
    close(s);
    return -1;
  }
  return s;
}

static int stream(const char *host, long port, long seconds) {
  int s = dial(host, port, 'S');
  if (s < 0)
    return 1;
  char *buf = calloc(1, BUF);
  if (!buf)
    return 1;
  uint64_t sent = 0, got = 0;
  double t0 = now(), end = t0 + (double)seconds;
  while (now() < end) {
    if (write_all(s, buf, BUF) < 0) {
      perror("netpair stream");
      free(buf);
      close(s);
      return 1;
    }
    sent += BUF;
  }
  shutdown(s, SHUT_WR);
  int r = read_all(s, &got, sizeof got);
  double t = now() - t0;
  free(buf);
  close(s);
  if (r < 0 || got != sent) {
    fprintf(stderr, "netpair stream: sent %llu bytes, the server counted %llu\n",
            (unsigned long long)sent, (unsigned long long)got);
    return 1;
  }
  printf("bytes=%llu seconds=%.3f mbit_s=%.1f\n", (unsigned long long)sent, t,
         (double)sent * 8 / t / 1e6);
  return 0;
}

static int conn(const char *host, long port, long seconds) {
  long n = 0;
  double t0 = now(), end = t0 + (double)seconds;
  while (now() < end) {
    int s = dial(host, port, 'C');
    char b;
    if (s < 0 || read_all(s, &b, 1) < 0) {
      fprintf(stderr, "netpair conn: connection %ld failed\n", n + 1);
      if (s >= 0)
        close(s);
      return 1;
    }
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    n++;
  }
  double t = now() - t0;
  printf("conns=%ld seconds=%.3f conn_s=%.0f\n", n, t, (double)n / t);
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int rr(const char *host, long port, long rounds) {
  int s = dial(host, port, 'R');
  if (s < 0)
    return 1;
  double *lat = malloc((size_t)rounds * sizeof *lat), sum = 0;
  if (!lat)
    return 1;
  char b = 'x';
  for (long i = 0; i < rounds; i++) {
    double t = now();
    if (write_all(s, &b, 1) < 0 || read_all(s, &b, 1) < 0) {
      perror("netpair rr");
      free(lat);
      close(s);
      return 1;
    }
    lat[i] = (now() - t) * 1e6;
    sum += lat[i];
  }
  close(s);
  qsort(lat, (size_t)rounds, sizeof *lat, cmp);
  printf("rounds=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", rounds, lat[rounds / 2],
         lat[(size_t)((double)rounds * 0.99)], sum / (double)rounds);
  free(lat);
  return 0;
}

int main(int argc, char **argv) {
  long a, b;
  if (argc == 4 && !strcmp(argv[1], "serve") && (a = number(argv[2], 1, 65535)) > 0 &&
      (b = number(argv[3], 0, 1000)) >= 0)
    return serve(a, b);
  if (argc == 5 && !strcmp(argv[1], "stream") && (a = number(argv[3], 1, 65535)) > 0 &&
      (b = number(argv[4], 1, 600)) > 0)
    return stream(argv[2], a, b);
  if (argc == 5 && !strcmp(argv[1], "conn") && (a = number(argv[3], 1, 65535)) > 0 &&
      (b = number(argv[4], 1, 600)) > 0)
    return conn(argv[2], a, b);
  if (argc == 5 && !strcmp(argv[1], "rr") && (a = number(argv[3], 1, 65535)) > 0 &&
      (b = number(argv[4], 1, MAX_ROUNDS)) > 0)
    return rr(argv[2], a, b);
  fprintf(stderr, "usage: netpair serve PORT CONNS | stream HOST PORT SECONDS | rr HOST PORT "
                  "ROUNDS | conn HOST PORT SECONDS\n");
  return 2;
}
