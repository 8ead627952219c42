/* mbedTLS server configuration for k3c's HTTPS listeners: TLS 1.2 (the
 * highest mbedTLS 2.28 speaks), ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305,
 * ALPN http/1.1, and optional client certificates verified against a CA.
 *
 * One conf is shared by every connection of a listener. It holds its own
 * DRBG, so all handshakes using it must run on one thread (the loop that
 * owns the listener). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <mbedtls/ssl.h>

typedef struct tls_server_conf tls_server_conf_t;

/* k3c's order of key-exchange groups, fastest first: x25519, P-256, P-384,
 * P-521 (Go's). mbedTLS's default order starts at P-521 and a TLS 1.2
 * server picks by its own order, so every kubectl handshake paid for the
 * costliest curve. Each TLS config k3c makes, server or client, applies it
 * after mbedtls_ssl_config_defaults. */
void tls_conf_groups(mbedtls_ssl_config *ssl);

/* cert_pem may hold a chain (leaf first). client_ca_pem NULL = do not ask
 * for client certificates. Returns 0 or a negative errno with a reason. */
int tls_server_conf_new(const char *cert_pem, const char *key_pem, const char *client_ca_pem,
                        tls_server_conf_t **ret_conf, char *err, size_t errlen);
void tls_server_conf_free(tls_server_conf_t *conf); /* accepts NULL */
/* Also accept client certificates signed by the front-proxy (request-
 * header) CA of API aggregation, one PEM certificate: they verify like the
 * others, and tls_peer_is_proxy tells them apart (the CA's subject must
 * differ from the client CA's). After tls_server_conf_new with a client
 * CA, before the first connection. 0, or -EINVAL with a reason. */
int tls_server_conf_add_proxy_ca(tls_server_conf_t *conf, const char *proxy_ca_pem, char *err,
                                 size_t errlen);
/* After a handshake whose certificate verified (tls_peer_identity): was it
 * issued by the front-proxy CA? */
bool tls_peer_is_proxy(const tls_server_conf_t *conf, const mbedtls_ssl_context *ssl);
const mbedtls_ssl_config *tls_server_conf_ssl(const tls_server_conf_t *conf);
/* Offer session tickets (RFC 5077; encrypted with a key of this conf, the
 * client identity inside) valid lifetime_s seconds, so a client that keeps
 * its session resumes without the asymmetric crypto of a full handshake.
 * Before the first connection. Returns 0 or a negative errno with a reason. */
int tls_server_conf_tickets(tls_server_conf_t *conf, unsigned lifetime_s, char *err, size_t errlen);

/* Replace the serving certificate and key (renewal): connections that
 * start their handshake afterwards get the new one; established ones keep
 * their session. On the conf's thread. 0, or -EINVAL with a reason (the
 * old pair stays). */
int tls_server_conf_set_cert(tls_server_conf_t *conf, const char *cert_pem, const char *key_pem,
                             char *err, size_t errlen);

/* After a completed handshake: the verified client certificate's subject CN
 * and O values. Returns 0 with *ret_cn = NULL when the client sent no
 * certificate; -EKEYREJECTED when it sent one that did not verify against
 * the client CA, has expired, or lacks extKeyUsage clientAuth (why, if
 * non-NULL, says which: "client certificate refused: ..."). On success
 * with a cert, *ret_cn and *ret_orgs (NULL-terminated, may be empty) are
 * malloc'd: free each org, the array and the CN. */
int tls_peer_identity(const mbedtls_ssl_context *ssl, char **ret_cn, char ***ret_orgs, char *why,
                      size_t whylen);
