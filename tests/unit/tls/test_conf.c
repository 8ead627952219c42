/* The listener's TLS configuration (pkg/tls/conf.c): which client
 * certificates tls_peer_identity accepts (the client CA, extKeyUsage
 * clientAuth) and why it refuses the others, and a serving certificate
 * swapped in by tls_server_conf_set_cert, and the front-proxy CA's
 * certificates told apart (tls_server_conf_add_proxy_ca). Handshakes run in memory over a
 * socketpair, both ends stepped in turn on this thread. */
#include "test.h"
#include "tls/cert.h"
#include "tls/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd_send(void *ctx, const unsigned char *buf, size_t len) {
  ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
  if (n < 0)
    return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
  return (int)n;
}

static int fd_recv(void *ctx, unsigned char *buf, size_t len) {
  ssize_t n = recv(*(int *)ctx, buf, len, 0);
  if (n < 0)
    return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
  return (int)n;
}

typedef struct {
  char *ca, *ca_key;
} ca_t;

static ca_t make_ca(const char *cn) {
  ca_t c = {0};
  char err[256];
  tls_cert_spec_t s = {.cn = cn, .usage = TLS_USAGE_CA, .days = 10};
  if (tls_key_generate(&c.ca_key, err, sizeof(err)) < 0 ||
      tls_cert_create(&s, c.ca_key, NULL, NULL, &c.ca, err, sizeof(err)) < 0)
    TEST_FAIL("CA: %s", err);
  return c;
}

static void leaf(const ca_t *ca, const char *cn, unsigned usage, char **cert, char **key) {
  char err[256];
  static const char *const orgs[] = {"system:masters", NULL};
  tls_cert_spec_t s = {.cn = cn, .orgs = orgs, .usage = usage, .days = 10};
  if (tls_cert_issue(&s, ca->ca, ca->ca_key, cert, key, err, sizeof(err)) < 0)
    TEST_FAIL("issue: %s", err);
}

typedef struct {
  int r;               /* tls_peer_identity's answer */
  char cn[128];        /* the client's identity, "" when none */
  char why[200];       /* the refusal */
  char server_cn[128]; /* the serving certificate the client saw */
  bool proxy;          /* tls_peer_is_proxy */
} result_t;

/* One handshake of a client presenting cert/key (NULL: none) to a server
 * using conf. */
static result_t shake(tls_server_conf_t *conf, const char *cert, const char *key) {
  result_t res = {.r = -999};
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
    TEST_FAIL("socketpair");
  mbedtls_ssl_context s, c;
  mbedtls_ssl_config cc;
  mbedtls_entropy_context ent;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt own;
  mbedtls_pk_context own_key;
  mbedtls_ssl_init(&s);
  mbedtls_ssl_init(&c);
  mbedtls_ssl_config_init(&cc);
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt_init(&own);
  mbedtls_pk_init(&own_key);
  mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
  mbedtls_ssl_config_defaults(&cc, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&cc, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_authmode(&cc, MBEDTLS_SSL_VERIFY_NONE);
  if (cert) {
    mbedtls_x509_crt_parse(&own, (const unsigned char *)cert, strlen(cert) + 1);
    mbedtls_pk_parse_key(&own_key, (const unsigned char *)key, strlen(key) + 1, NULL, 0);
    mbedtls_ssl_conf_own_cert(&cc, &own, &own_key);
  }
  mbedtls_ssl_setup(&c, &cc);
  mbedtls_ssl_setup(&s, tls_server_conf_ssl(conf));
  mbedtls_ssl_set_bio(&c, &sv[0], fd_send, fd_recv, NULL);
  mbedtls_ssl_set_bio(&s, &sv[1], fd_send, fd_recv, NULL);
  int rc = MBEDTLS_ERR_SSL_WANT_READ, rs = MBEDTLS_ERR_SSL_WANT_READ;
  for (int i = 0; i < 200 && (rc != 0 || rs != 0); i++) {
    if (rc != 0)
      rc = mbedtls_ssl_handshake(&c);
    if (rs != 0)
      rs = mbedtls_ssl_handshake(&s);
    if ((rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) ||
        (rs != 0 && rs != MBEDTLS_ERR_SSL_WANT_READ && rs != MBEDTLS_ERR_SSL_WANT_WRITE))
      TEST_FAIL("handshake: client -0x%04x server -0x%04x", (unsigned)-rc, (unsigned)-rs);
  }
  if (rc == 0 && rs == 0) {
    char *cn = NULL, **orgs = NULL;
    res.r = tls_peer_identity(&s, &cn, &orgs, res.why, sizeof(res.why));
    res.proxy = tls_peer_is_proxy(conf, &s);
    if (res.r == 0 && cn)
      snprintf(res.cn, sizeof(res.cn), "%s", cn);
    free(cn);
    for (size_t i = 0; orgs && orgs[i]; i++)
      free(orgs[i]);
    free(orgs);
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c);
    for (const mbedtls_x509_name *n = peer ? &peer->subject : NULL; n; n = n->next)
      if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
        snprintf(res.server_cn, sizeof(res.server_cn), "%.*s", (int)n->val.len, n->val.p);
  }
  mbedtls_ssl_free(&s);
  mbedtls_ssl_free(&c);
  mbedtls_ssl_config_free(&cc);
  mbedtls_x509_crt_free(&own);
  mbedtls_pk_free(&own_key);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  close(sv[0]);
  close(sv[1]);
  return res;
}

static void test_client_certificates(void) {
  ca_t server = make_ca("server-ca"), client = make_ca("client-ca");
  char *scert, *skey, *good, *good_key, *srv_only, *srv_only_key, *no_eku, *no_eku_key;
  char *foreign, *foreign_key, err[256];
  leaf(&server, "kube-apiserver", TLS_USAGE_SERVER, &scert, &skey);
  leaf(&client, "alice", TLS_USAGE_CLIENT, &good, &good_key);
  leaf(&client, "bob", TLS_USAGE_SERVER, &srv_only, &srv_only_key);
  leaf(&client, "carol", 0, &no_eku, &no_eku_key);
  leaf(&server, "mallory", TLS_USAGE_CLIENT, &foreign, &foreign_key);
  tls_server_conf_t *conf = NULL;
  ASSERT_EQ_INT(tls_server_conf_new(scert, skey, client.ca, &conf, err, sizeof(err)), 0);

  result_t r = shake(conf, good, good_key);
  ASSERT_EQ_INT(r.r, 0);
  ASSERT_EQ_STR(r.cn, "alice");
  ASSERT_EQ_STR(r.server_cn, "kube-apiserver");
  r = shake(conf, NULL, NULL);
  ASSERT_EQ_INT(r.r, 0);
  ASSERT_EQ_STR(r.cn, "");
  r = shake(conf, srv_only, srv_only_key);
  ASSERT_EQ_INT(r.r, -EKEYREJECTED);
  ASSERT_CONTAINS(r.why, "does not include clientAuth");
  r = shake(conf, no_eku, no_eku_key); /* mbedTLS alone would let it through */
  ASSERT_EQ_INT(r.r, -EKEYREJECTED);
  ASSERT_CONTAINS(r.why, "does not include clientAuth");
  r = shake(conf, foreign, foreign_key);
  ASSERT_EQ_INT(r.r, -EKEYREJECTED);
  ASSERT_CONTAINS(r.why, "not signed by the cluster's client CA");

  /* A renewed serving certificate is served from the next handshake on; a
   * pair that does not match is refused and the old one stays. */
  char *scert2, *skey2;
  leaf(&server, "kube-apiserver-renewed", TLS_USAGE_SERVER, &scert2, &skey2);
  ASSERT_EQ_INT(tls_server_conf_set_cert(conf, scert2, skey, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "does not match");
  ASSERT_EQ_STR(shake(conf, good, good_key).server_cn, "kube-apiserver");
  ASSERT_EQ_INT(tls_server_conf_set_cert(conf, scert2, skey2, err, sizeof(err)), 0);
  r = shake(conf, good, good_key);
  ASSERT_EQ_STR(r.server_cn, "kube-apiserver-renewed");
  ASSERT_EQ_STR(r.cn, "alice");
  tls_server_conf_free(conf);
  char *all[] = {server.ca, server.ca_key, client.ca, client.ca_key, scert,  skey,
                 good,      good_key,      srv_only,  srv_only_key,  no_eku, no_eku_key,
                 foreign,   foreign_key,   scert2,    skey2};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    free(all[i]);
}

/* The front-proxy CA: its certificates verify and are flagged; the client
 * CA's are not; a third CA's are still refused. */
static void test_front_proxy_ca(void) {
  ca_t server = make_ca("server-ca"), client = make_ca("client-ca"), proxy = make_ca("rh-ca");
  char *scert, *skey, *alice, *alice_key, *front, *front_key, *other, *other_key, err[256];
  leaf(&server, "kube-apiserver", TLS_USAGE_SERVER, &scert, &skey);
  leaf(&client, "alice", TLS_USAGE_CLIENT, &alice, &alice_key);
  leaf(&proxy, "system:auth-proxy", TLS_USAGE_CLIENT, &front, &front_key);
  leaf(&server, "mallory", TLS_USAGE_CLIENT, &other, &other_key);
  tls_server_conf_t *conf = NULL;
  ASSERT_EQ_INT(tls_server_conf_new(scert, skey, client.ca, &conf, err, sizeof(err)), 0);
  ASSERT_EQ_INT(tls_server_conf_add_proxy_ca(conf, "not a certificate", err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "front-proxy CA");
  result_t r = shake(conf, front, front_key);
  ASSERT_EQ_INT(r.r, -EKEYREJECTED); /* not yet added */
  ASSERT_EQ_INT(tls_server_conf_add_proxy_ca(conf, proxy.ca, err, sizeof(err)), 0);
  r = shake(conf, front, front_key);
  ASSERT_EQ_INT(r.r, 0);
  ASSERT_EQ_STR(r.cn, "system:auth-proxy");
  ASSERT_TRUE(r.proxy);
  r = shake(conf, alice, alice_key);
  ASSERT_EQ_INT(r.r, 0);
  ASSERT_EQ_STR(r.cn, "alice");
  ASSERT_TRUE(!r.proxy);
  r = shake(conf, other, other_key);
  ASSERT_EQ_INT(r.r, -EKEYREJECTED);
  r = shake(conf, NULL, NULL);
  ASSERT_TRUE(!r.proxy);
  tls_server_conf_free(conf);
  char *all[] = {server.ca,    server.ca_key, client.ca, client.ca_key, proxy.ca,
                 proxy.ca_key, scert,         skey,      alice,         alice_key,
                 front,        front_key,     other,     other_key};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    free(all[i]);
}

TEST_LIST = {TEST(test_client_certificates), TEST(test_front_proxy_ca), {0}};
TEST_MAIN()
