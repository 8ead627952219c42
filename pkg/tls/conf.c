/* mbedTLS server contexts for the HTTPS listeners (RFC 5246 TLS 1.2,
 * RFC 5289/7905 ECDHE-ECDSA AEAD suites, RFC 7301 ALPN) and extraction of
 * the client identity from a verified certificate (Kubernetes x509 authn:
 * CN = user, O = groups). */
#include "tls/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "util/alloc.h"

struct tls_server_conf {
  mbedtls_ssl_config ssl;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt chain;
  mbedtls_x509_crt ca;
  mbedtls_pk_context key;
  mbedtls_ssl_ticket_context ticket;
  unsigned char *proxy_dn; /* subject (DER) of the front-proxy CA, or NULL */
  size_t proxy_dn_len;
};

/* ChaCha20-Poly1305 first: mbedTLS 2.28's GCM is software-only, and the
 * Raspberry Pi 3/4 cores have no AES instructions; bench/api measured list
 * pages ~1.5x cheaper with it (docs/PERFORMANCE.md). */
static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    0,
};

static const char *alpn[] = {"http/1.1", NULL};

static const mbedtls_ecp_group_id groups[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_SECP521R1,  MBEDTLS_ECP_DP_NONE,
};

void tls_conf_groups(mbedtls_ssl_config *ssl) { mbedtls_ssl_conf_curves(ssl, groups); }

static void set_mbed_err(char *err, size_t errlen, const char *what, int code) {
  if (!err || !errlen)
    return;
  char msg[160];
  mbedtls_strerror(code, msg, sizeof(msg));
  snprintf(err, errlen, "%s: %s (-0x%04x)", what, msg, (unsigned)-code);
}

void tls_server_conf_free(tls_server_conf_t *c) {
  if (!c)
    return;
  mbedtls_ssl_config_free(&c->ssl);
  mbedtls_ctr_drbg_free(&c->drbg);
  mbedtls_entropy_free(&c->entropy);
  mbedtls_x509_crt_free(&c->chain);
  mbedtls_x509_crt_free(&c->ca);
  mbedtls_pk_free(&c->key);
  mbedtls_ssl_ticket_free(&c->ticket);
  free(c->proxy_dn);
  free(c);
}

int tls_server_conf_new(const char *cert_pem, const char *key_pem, const char *client_ca_pem,
                        tls_server_conf_t **ret_conf, char *err, size_t errlen) {
  static const unsigned char pers[] = "k3c-tls-server";
  tls_server_conf_t *c = xcalloc(1, sizeof(*c));
  const char *what = "";
  int m;
  mbedtls_ssl_config_init(&c->ssl);
  mbedtls_entropy_init(&c->entropy);
  mbedtls_ctr_drbg_init(&c->drbg);
  mbedtls_x509_crt_init(&c->chain);
  mbedtls_x509_crt_init(&c->ca);
  mbedtls_pk_init(&c->key);
  mbedtls_ssl_ticket_init(&c->ticket);

  if ((m = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, pers,
                                 sizeof(pers) - 1)) != 0) {
    what = "seed DRBG";
    goto fail;
  }
  if ((m = mbedtls_x509_crt_parse(&c->chain, (const unsigned char *)cert_pem,
                                  strlen(cert_pem) + 1)) != 0) {
    what = "parse serving certificate";
    goto fail;
  }
  if ((m = mbedtls_pk_parse_key(&c->key, (const unsigned char *)key_pem, strlen(key_pem) + 1,
                                NULL, 0)) != 0) {
    what = "parse serving key";
    goto fail;
  }
  if ((m = mbedtls_ssl_config_defaults(&c->ssl, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
    what = "TLS defaults";
    goto fail;
  }
  tls_conf_groups(&c->ssl);
  mbedtls_ssl_conf_rng(&c->ssl, mbedtls_ctr_drbg_random, &c->drbg);
  mbedtls_ssl_conf_min_version(&c->ssl, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&c->ssl, suites);
  mbedtls_ssl_conf_renegotiation(&c->ssl, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  if ((m = mbedtls_ssl_conf_alpn_protocols(&c->ssl, alpn)) != 0) {
    what = "ALPN";
    goto fail;
  }
  if ((m = mbedtls_ssl_conf_own_cert(&c->ssl, &c->chain, &c->key)) != 0) {
    what = "serving certificate/key";
    goto fail;
  }
  if (client_ca_pem) {
    if ((m = mbedtls_x509_crt_parse(&c->ca, (const unsigned char *)client_ca_pem,
                                    strlen(client_ca_pem) + 1)) != 0) {
      what = "parse client CA";
      goto fail;
    }
    mbedtls_ssl_conf_ca_chain(&c->ssl, &c->ca, NULL);
    /* Optional: anonymous clients get through with no identity and the API
     * layer answers 401; a certificate that fails to verify is rejected
     * after the handshake (tls_peer_identity). */
    mbedtls_ssl_conf_authmode(&c->ssl, MBEDTLS_SSL_VERIFY_OPTIONAL);
  } else {
    mbedtls_ssl_conf_authmode(&c->ssl, MBEDTLS_SSL_VERIFY_NONE);
  }
  *ret_conf = c;
  return 0;
fail:
  set_mbed_err(err, errlen, what, m);
  tls_server_conf_free(c);
  return -EINVAL;
}

int tls_server_conf_add_proxy_ca(tls_server_conf_t *c, const char *proxy_ca_pem, char *err,
                                 size_t errlen) {
  mbedtls_x509_crt ca;
  mbedtls_x509_crt_init(&ca);
  int m = mbedtls_x509_crt_parse(&ca, (const unsigned char *)proxy_ca_pem, strlen(proxy_ca_pem) + 1);
  if (m != 0 || ca.next || !c->ca.version) {
    mbedtls_x509_crt_free(&ca);
    set_mbed_err(err, errlen, "parse front-proxy CA (one certificate, after a client CA)", m);
    return -EINVAL;
  }
  c->proxy_dn = xmalloc(ca.subject_raw.len);
  memcpy(c->proxy_dn, ca.subject_raw.p, ca.subject_raw.len);
  c->proxy_dn_len = ca.subject_raw.len;
  mbedtls_x509_crt_free(&ca);
  /* the chain the config already points at grows by one */
  if ((m = mbedtls_x509_crt_parse(&c->ca, (const unsigned char *)proxy_ca_pem,
                                  strlen(proxy_ca_pem) + 1)) != 0) {
    set_mbed_err(err, errlen, "parse front-proxy CA", m);
    return -EINVAL;
  }
  return 0;
}

bool tls_peer_is_proxy(const tls_server_conf_t *c, const mbedtls_ssl_context *ssl) {
  const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(ssl);
  return c->proxy_dn && peer && peer->issuer_raw.len == c->proxy_dn_len &&
         !memcmp(peer->issuer_raw.p, c->proxy_dn, c->proxy_dn_len);
}

const mbedtls_ssl_config *tls_server_conf_ssl(const tls_server_conf_t *conf) { return &conf->ssl; }

int tls_server_conf_tickets(tls_server_conf_t *c, unsigned lifetime_s, char *err, size_t errlen) {
  int m = mbedtls_ssl_ticket_setup(&c->ticket, mbedtls_ctr_drbg_random, &c->drbg,
                                   MBEDTLS_CIPHER_AES_256_GCM, lifetime_s);
  if (m != 0) {
    set_mbed_err(err, errlen, "session tickets", m);
    return -EINVAL;
  }
  mbedtls_ssl_conf_session_tickets_cb(&c->ssl, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                      &c->ticket);
  return 0;
}

int tls_server_conf_set_cert(tls_server_conf_t *c, const char *cert_pem, const char *key_pem,
                             char *err, size_t errlen) {
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  mbedtls_x509_crt_init(&chain);
  mbedtls_pk_init(&key);
  int m = mbedtls_x509_crt_parse(&chain, (const unsigned char *)cert_pem, strlen(cert_pem) + 1);
  if (m != 0) {
    set_mbed_err(err, errlen, "parse serving certificate", m);
    goto fail;
  }
  if ((m = mbedtls_pk_parse_key(&key, (const unsigned char *)key_pem, strlen(key_pem) + 1, NULL,
                                0)) != 0) {
    set_mbed_err(err, errlen, "parse serving key", m);
    goto fail;
  }
  if ((m = mbedtls_pk_check_pair(&chain.pk, &key)) != 0) {
    set_mbed_err(err, errlen, "serving key does not match the certificate", m);
    goto fail;
  }
  /* The config points at c->chain and c->key: swap the contents in place
   * (nothing points at the head structures themselves). */
  mbedtls_x509_crt_free(&c->chain);
  mbedtls_pk_free(&c->key);
  c->chain = chain;
  c->key = key;
  return 0;
fail:
  mbedtls_x509_crt_free(&chain);
  mbedtls_pk_free(&key);
  return -EINVAL;
}

/* Why a client certificate was refused, from mbedTLS's verify flags. */
static void refusal(uint32_t flags, char *why, size_t whylen) {
  const char *what = "it did not verify";
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
    what = "it is not signed by the cluster's client CA";
  else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
    what = "it has expired";
  else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
    what = "it is not valid yet";
  else if (flags & MBEDTLS_X509_BADCERT_EXT_KEY_USAGE)
    what = "its extended key usage does not include clientAuth";
  else if (flags & MBEDTLS_X509_BADCERT_KEY_USAGE)
    what = "its key usage does not allow digitalSignature";
  if (why && whylen)
    snprintf(why, whylen, "client certificate refused: %s", what);
}

int tls_peer_identity(const mbedtls_ssl_context *ssl, char **ret_cn, char ***ret_orgs, char *why,
                      size_t whylen) {
  const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(ssl);
  if (!peer) {
    *ret_cn = NULL;
    *ret_orgs = NULL;
    return 0;
  }
  uint32_t flags = mbedtls_ssl_get_verify_result(ssl);
  if (flags != 0) {
    refusal(flags, why, whylen);
    return -EKEYREJECTED;
  }
  /* mbedTLS lets a certificate without extKeyUsage through; k3c wants
   * clientAuth spelled out (every certificate k3c issues has it). */
  if (!(peer->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
      mbedtls_x509_crt_check_extended_key_usage(peer, MBEDTLS_OID_CLIENT_AUTH,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
    refusal(MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, why, whylen);
    return -EKEYREJECTED;
  }
  char *cn = NULL;
  char **orgs = xcalloc(1, sizeof(*orgs));
  size_t n = 0;
  for (const mbedtls_x509_name *nm = &peer->subject; nm; nm = nm->next) {
    if (!nm->oid.p)
      continue;
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &nm->oid) == 0) {
      free(cn);
      cn = xstrndup((const char *)nm->val.p, nm->val.len);
    } else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &nm->oid) == 0) {
      orgs = xrealloc(orgs, (n + 2) * sizeof(*orgs));
      orgs[n++] = xstrndup((const char *)nm->val.p, nm->val.len);
      orgs[n] = NULL;
    }
  }
  *ret_cn = cn ? cn : xstrdup("");
  *ret_orgs = orgs;
  return 0;
}
