/* For tests/e2e/test_proxy.sh: one HTTPS request the way a pod's client
 * library makes it (busybox wget cannot handshake with k3c's ECDHE-ECDSA
 * suites): the server's certificate checked against the service account's
 * ca.crt for the name HOST, the token as a Bearer header. Run it in a pod's
 * network namespace (nsenter --net) so it uses the pod's path.
 *   tls_get CA_FILE HOST ADDRESS PORT TOKEN_FILE PATH [JSON_BODY]
 * Prints the status line and the body; exit 0 when a response came, 1 on a
 * connection, handshake or verification error (said on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

static int fail(const char *what, int r) {
  char buf[160];
  mbedtls_strerror(r, buf, sizeof buf);
  fprintf(stderr, "tls_get: %s: %s (-0x%04x)\n", what, buf, (unsigned)-r);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: tls_get CA_FILE HOST ADDRESS PORT TOKEN_FILE PATH [JSON_BODY]\n");
    return 2;
  }
  char token[8192] = "";
  FILE *f = fopen(argv[5], "r");
  if (!f || !fgets(token, sizeof token, f)) {
    fprintf(stderr, "tls_get: cannot read %s\n", argv[5]);
    return 1;
  }
  fclose(f);
  token[strcspn(token, "\r\n")] = 0;
  mbedtls_net_context net;
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_entropy_context ent;
  mbedtls_ctr_drbg_context rng;
  mbedtls_net_init(&net);
  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  mbedtls_x509_crt_init(&ca);
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&rng);
  int rc = 1, r;
  if ((r = mbedtls_ctr_drbg_seed(&rng, mbedtls_entropy_func, &ent, NULL, 0)) != 0) {
    rc = fail("seeding the RNG", r);
    goto out;
  }
  if ((r = mbedtls_x509_crt_parse_file(&ca, argv[1])) != 0) {
    rc = fail("reading the CA", r);
    goto out;
  }
  if ((r = mbedtls_net_connect(&net, argv[3], argv[4], MBEDTLS_NET_PROTO_TCP)) != 0) {
    rc = fail("connecting", r);
    goto out;
  }
  mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &rng);
  if ((r = mbedtls_ssl_setup(&ssl, &conf)) != 0 || (r = mbedtls_ssl_set_hostname(&ssl, argv[2])) != 0) {
    rc = fail("setting up TLS", r);
    goto out;
  }
  mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
  while ((r = mbedtls_ssl_handshake(&ssl)) != 0)
    if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
      rc = fail("the handshake (and the certificate's check for the name)", r);
      goto out;
    }
  static char req[16384];
  const char *body = argc == 8 ? argv[7] : NULL;
  int n;
  if (body)
    n = snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: "
                 "application/json\r\nConnection: close\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 argv[6], argv[2], token, strlen(body), body);
  else
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: "
                 "application/json\r\nConnection: close\r\n\r\n",
                 argv[6], argv[2], token);
  if (n < 0 || (size_t)n >= sizeof req) {
    fprintf(stderr, "tls_get: the request is too long\n");
    goto out;
  }
  for (int off = 0; off < n;) {
    r = mbedtls_ssl_write(&ssl, (const unsigned char *)req + off, (size_t)(n - off));
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ)
      continue;
    if (r < 0) {
      rc = fail("writing", r);
      goto out;
    }
    off += r;
  }
  unsigned char buf[4096];
  size_t total = 0;
  for (;;) {
    r = mbedtls_ssl_read(&ssl, buf, sizeof buf);
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (r <= 0)
      break;
    fwrite(buf, 1, (size_t)r, stdout);
    total += (size_t)r;
  }
  rc = total ? 0 : 1;
out:
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_x509_crt_free(&ca);
  mbedtls_ctr_drbg_free(&rng);
  mbedtls_entropy_free(&ent);
  mbedtls_net_free(&net);
  return rc;
}
