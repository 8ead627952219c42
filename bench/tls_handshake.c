/* The server's cost of one TLS handshake with k3c's listener configuration
 * (pkg/tls/conf.c), by key-exchange group order, side by side in one run:
 * mbedTLS's default order (P-521 first: what k3c used before
 * tls_conf_groups, and what any client offering P-521 got) next to k3c's
 * (x25519 first), with and without a client certificate.
 *
 * Client and server run in this one thread over in-memory pipes, stepped in
 * turn, so the figure is the server's CPU time (CLOCK_THREAD_CPUTIME_ID
 * around its steps only), not scheduling noise. The client is mbedTLS
 * offering every group, as kubectl and OpenSSL clients offer several.
 *
 *   bench/tls_handshake [N]     N handshakes per row (default 200, at most
 *                               10000; each row also stops after 20 s) */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "tls/cert.h"
#include "tls/conf.h"
#include "util/alloc.h"

typedef struct {
  unsigned char buf[1 << 16];
  size_t len;
} pipe_t;

/* One side's ends: it writes to out and reads from in. */
typedef struct {
  pipe_t *out, *in;
} ends_t;

static pipe_t c2s, s2c;

static int pipe_send(void *ctx, const unsigned char *b, size_t n) {
  pipe_t *p = ((ends_t *)ctx)->out;
  if (n > sizeof(p->buf) - p->len)
    n = sizeof(p->buf) - p->len;
  if (!n)
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  memcpy(p->buf + p->len, b, n);
  p->len += n;
  return (int)n;
}

static int pipe_recv(void *ctx, unsigned char *b, size_t n) {
  pipe_t *p = ((ends_t *)ctx)->in;
  if (!p->len)
    return MBEDTLS_ERR_SSL_WANT_READ;
  if (n > p->len)
    n = p->len;
  memcpy(b, p->buf, n);
  memmove(p->buf, p->buf + n, p->len - n);
  p->len -= n;
  return (int)n;
}

static void die(const char *what, int r) {
  fprintf(stderr, "tls_handshake: %s failed (%d / -0x%04x)\n", what, r, (unsigned)-r);
  exit(1);
}

static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One handshake; returns the server's CPU seconds. */
static double handshake(const mbedtls_ssl_config *server, const mbedtls_ssl_config *client) {
  mbedtls_ssl_context s, c;
  mbedtls_ssl_init(&s);
  mbedtls_ssl_init(&c);
  int r;
  if ((r = mbedtls_ssl_setup(&s, server)) || (r = mbedtls_ssl_setup(&c, client)) ||
      (r = mbedtls_ssl_set_hostname(&c, "localhost")))
    die("ssl setup", r);
  c2s.len = s2c.len = 0;
  ends_t se = {&s2c, &c2s}, ce = {&c2s, &s2c};
  mbedtls_ssl_set_bio(&s, &se, pipe_send, pipe_recv, NULL);
  mbedtls_ssl_set_bio(&c, &ce, pipe_send, pipe_recv, NULL);
  double cpu = 0;
  bool s_done = false, c_done = false;
  for (int steps = 0; !(s_done && c_done); steps++) {
    if (steps > 1000)
      die("handshake (no progress)", 0);
    if (!c_done) {
      r = mbedtls_ssl_handshake(&c);
      if (r == 0)
        c_done = true;
      else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
        die("client handshake", r);
    }
    if (!s_done) {
      double t0 = thread_cpu();
      r = mbedtls_ssl_handshake(&s);
      cpu += thread_cpu() - t0;
      if (r == 0)
        s_done = true;
      else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
        die("server handshake", r);
    }
  }
  mbedtls_ssl_free(&s);
  mbedtls_ssl_free(&c);
  return cpu;
}

typedef struct {
  char *cert, *key;
} pair_t;

static pair_t issue(const char *cn, unsigned usage, const char *const *orgs, const tls_san_t *san,
                    const pair_t *ca) {
  char err[256];
  tls_cert_spec_t spec = {.cn = cn, .orgs = orgs, .usage = usage, .san = san, .days = 1};
  pair_t p = {0};
  int r = ca ? tls_cert_issue(&spec, ca->cert, ca->key, &p.cert, &p.key, err, sizeof(err))
             : (tls_key_generate(&p.key, err, sizeof(err)) ?: tls_cert_create(&spec, p.key, NULL, NULL, &p.cert, err, sizeof(err)));
  if (r) {
    fprintf(stderr, "tls_handshake: certificate %s: %s\n", cn, err);
    exit(1);
  }
  return p;
}

/* A client like kubectl's: verifies the server, offers every group. */
static void client_conf(mbedtls_ssl_config *c, mbedtls_x509_crt *ca, mbedtls_x509_crt *crt,
                        mbedtls_pk_context *key, mbedtls_ctr_drbg_context *drbg) {
  int r;
  mbedtls_ssl_config_init(c);
  if ((r = mbedtls_ssl_config_defaults(c, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT)))
    die("client defaults", r);
  tls_conf_groups(c);
  mbedtls_ssl_conf_rng(c, mbedtls_ctr_drbg_random, drbg);
  mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(c, ca, NULL);
  if (crt && (r = mbedtls_ssl_conf_own_cert(c, crt, key)))
    die("client certificate", r);
}

static void row(const char *label, const mbedtls_ssl_config *server, const mbedtls_ssl_config *client,
                long n) {
  double *t = xcalloc((size_t)n, sizeof(*t));
  double start = mono();
  long done = 0;
  while (done < n && mono() - start < 20)
    t[done++] = handshake(server, client);
  double wall = mono() - start;
  qsort(t, (size_t)done, sizeof(*t), cmp_double);
  printf("%-44s %6.2f %6.2f %8.0f %6ld\n", label, t[done / 2] * 1e3, t[done * 9 / 10] * 1e3,
         done / wall, done);
  fflush(stdout);
  free(t);
}

int main(int argc, char **argv) {
  char *end = NULL;
  long n = argc > 1 ? strtol(argv[1], &end, 10) : 200;
  if (n < 1 || n > 10000 || (end && *end)) {
    fprintf(stderr, "usage: tls_handshake [N]  (1..10000 handshakes per row)\n");
    return 2;
  }
  tls_san_t san;
  tls_san_init(&san);
  tls_san_add(&san, "localhost");
  static const char *const masters[] = {"system:masters", NULL};
  pair_t ca = issue("k3c-bench-ca", TLS_USAGE_CA, NULL, NULL, NULL);
  pair_t srv = issue("kube-apiserver", TLS_USAGE_SERVER, NULL, &san, &ca);
  pair_t adm = issue("admin", TLS_USAGE_CLIENT, masters, NULL, &ca);
  tls_san_done(&san);

  char err[256];
  tls_server_conf_t *sc;
  if (tls_server_conf_new(srv.cert, srv.key, ca.cert, &sc, err, sizeof(err))) {
    fprintf(stderr, "tls_handshake: server conf: %s\n", err);
    return 1;
  }
  /* The bench switches the listener conf's group order between rows. */
  mbedtls_ssl_config *server = (mbedtls_ssl_config *)tls_server_conf_ssl(sc);

  mbedtls_entropy_context ent;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt ca_crt, adm_crt;
  mbedtls_pk_context adm_key;
  mbedtls_x509_crt_init(&ca_crt);
  mbedtls_x509_crt_init(&adm_crt);
  mbedtls_pk_init(&adm_key);
  int r;
  if ((r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0)) ||
      (r = mbedtls_x509_crt_parse(&ca_crt, (const unsigned char *)ca.cert, strlen(ca.cert) + 1)) ||
      (r = mbedtls_x509_crt_parse(&adm_crt, (const unsigned char *)adm.cert, strlen(adm.cert) + 1)) ||
      (r = mbedtls_pk_parse_key(&adm_key, (const unsigned char *)adm.key, strlen(adm.key) + 1, NULL, 0)))
    die("client set-up", r);
  mbedtls_ssl_config with_cert, anonymous;
  client_conf(&with_cert, &ca_crt, &adm_crt, &adm_key, &drbg);
  client_conf(&anonymous, &ca_crt, NULL, NULL, &drbg);

  static const mbedtls_ecp_group_id p256_first[] = {MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_NONE};
  printf("TLS 1.2 handshake, server CPU per handshake (ECDSA P-256 certificates, %ld per row)\n", n);
  printf("%-44s %6s %6s %8s %6s\n", "server group order / client", "p50 ms", "p90 ms", "per s", "n");
  mbedtls_ssl_conf_curves(server, mbedtls_ecp_grp_id_list());
  row("mbedTLS default (P-521 first) / cert", server, &with_cert, n);
  row("mbedTLS default (P-521 first) / anonymous", server, &anonymous, n);
  mbedtls_ssl_conf_curves(server, p256_first);
  row("P-256 / cert", server, &with_cert, n);
  tls_conf_groups(server);
  row("k3c (x25519 first) / cert", server, &with_cert, n);
  row("k3c (x25519 first) / anonymous", server, &anonymous, n);

  mbedtls_ssl_config_free(&with_cert);
  mbedtls_ssl_config_free(&anonymous);
  mbedtls_x509_crt_free(&ca_crt);
  mbedtls_x509_crt_free(&adm_crt);
  mbedtls_pk_free(&adm_key);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  tls_server_conf_free(sc);
  free(ca.cert), free(ca.key), free(srv.cert), free(srv.key), free(adm.cert), free(adm.key);
  return 0;
}
