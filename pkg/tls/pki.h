/* The cluster PKI of a k3c server, kept under <data-dir>/server/tls/ with
 * k3s's file names:
 *
 *   server-ca.crt / .key              signs serving certificates (10 years)
 *   client-ca.crt / .key              signs client certificates (10 years)
 *   request-header-ca.crt / .key      signs the front-proxy client (10 years)
 *   serving-kube-apiserver.crt / .key API serving cert, serverAuth (1 year)
 *   client-admin.crt / .key           CN=system:admin, O=system:masters, clientAuth
 *   client-kube-apiserver.crt / .key  the API server's kubelet client, clientAuth
 *   client-auth-proxy.crt / .key      CN=system:auth-proxy (request-header CA)
 *   service.key                       service-account token signing key
 *                                     (EC P-256, 0600, never replaced)
 *
 * Created on first start and reused after. A data dir of an older k3c has
 * one CA (server-ca.*, which signed everything) and no client-ca.*: it is
 * migrated by copying server-ca.* to client-ca.*, so every certificate and
 * token it handed out keeps working (docs/PKI.md). CAs are never replaced;
 * leaf certificates are re-issued when missing, broken, not signed by their
 * CA, without their extended key usage, within tls_cert_renew_at of expiry
 * (90 days), or (serving) when the wanted SANs change.
 * Library code: no logging; callers log the change bits. Not thread-safe
 * with respect to the files; call from one thread at start-up. */
#pragma once

#include <stddef.h>
#include <time.h>

#include "tls/cert.h"

#define TLS_PKI_CA_DAYS 3650
#define TLS_PKI_LEAF_DAYS 365
#define TLS_PKI_RENEW_DAYS 90

enum {
  TLS_PKI_CA_CREATED = 1 << 0, /* the server CA */
  TLS_PKI_SERVING_ISSUED = 1 << 1,
  TLS_PKI_ADMIN_ISSUED = 1 << 2,
  TLS_PKI_SA_KEY_CREATED = 1 << 3,
  TLS_PKI_CLIENT_CA_CREATED = 1 << 4,
  TLS_PKI_CLIENT_CA_MIGRATED = 1 << 5, /* copied from the old single CA */
  TLS_PKI_REQUEST_HEADER_CA_CREATED = 1 << 6,
  TLS_PKI_KUBELET_CLIENT_ISSUED = 1 << 7,
  TLS_PKI_AUTH_PROXY_ISSUED = 1 << 8,
};

/* One certificate and its key: paths and PEM contents, owned. */
typedef struct {
  char *cert_path, *key_path;
  char *cert_pem, *key_pem;
} tls_pki_pair_t;

typedef struct {
  char *dir; /* <data-dir>/server/tls */
  tls_pki_pair_t server_ca, client_ca, request_header_ca;
  tls_pki_pair_t serving;        /* serving-kube-apiserver */
  tls_pki_pair_t admin;          /* client-admin */
  tls_pki_pair_t kubelet_client; /* client-kube-apiserver */
  tls_pki_pair_t auth_proxy;     /* client-auth-proxy */
  char *sa_key_path;
  char *sa_key_pem;
  long leaf_seconds; /* opts->leaf_seconds, for tls_pki_issue */
} tls_pki_t;

typedef struct {
  const char *data_dir;
  const tls_san_t *serving_san; /* wanted SANs of the serving cert */
  time_t now;                   /* 0 = time(NULL); tests move the clock */
  long leaf_seconds;            /* > 0: leaves last this many seconds (tests) */
} tls_pki_opts_t;

/* Load or create every file. On success *pki is filled (free with
 * tls_pki_done) and *ret_changes (may be NULL) has TLS_PKI_* bits for what
 * was (re)generated. On failure pki is left empty-but-valid for done. */
int tls_pki_load(tls_pki_t *pki, const tls_pki_opts_t *opts, unsigned *ret_changes, char *err,
                 size_t errlen);
void tls_pki_done(tls_pki_t *pki);

/* Issue a key and certificate for spec (node client and serving
 * certificates): signed by the client CA when spec->usage is
 * TLS_USAGE_CLIENT, by the server CA when TLS_USAGE_SERVER (one of the two,
 * not both, not CA). spec->days defaults to a year when 0 (or
 * pki->leaf_seconds when set). */
int tls_pki_issue(const tls_pki_t *pki, const tls_cert_spec_t *spec, char **ret_cert_pem,
                  char **ret_key_pem, char *err, size_t errlen);

/* Build the serving certificate's SANs: localhost, kubernetes,
 * kubernetes.default, kubernetes.default.svc,
 * kubernetes.default.svc.cluster.local, hostname (if non-NULL), 127.0.0.1,
 * ::1, the first address of each network in service_cidr (comma-separated),
 * node_ips (or, when node_ips is NULL/empty, the host's non-loopback,
 * non-link-local addresses) and every extra name (IP-looking ones as IPs).
 * Lists are NULL-terminated and may be NULL. */
int tls_pki_serving_san(tls_san_t *san, const char *hostname, const char *const *extra,
                        const char *const *node_ips, const char *service_cidr, char *err,
                        size_t errlen);
