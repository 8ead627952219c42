/* The cluster PKI of a k3c server, kept under <data-dir>/server/tls/:
 *
 *   server-ca.crt / server-ca.key                   cluster CA (10 years)
 *   serving-kube-apiserver.crt / .key               API serving cert (1 year)
 *   client-admin.crt / client-admin.key             CN=system:admin, O=system:masters
 *   service.key                                     service-account token signing key
 *                                                   (EC P-256, 0600, never replaced)
 *
 * Created on first start and reused after. The CA is never replaced; leaf
 * certificates are re-issued when missing, broken, not signed by the CA,
 * within 90 days of expiry, or (serving) when the wanted SANs change.
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
  TLS_PKI_CA_CREATED = 1 << 0,
  TLS_PKI_SERVING_ISSUED = 1 << 1,
  TLS_PKI_ADMIN_ISSUED = 1 << 2,
  TLS_PKI_SA_KEY_CREATED = 1 << 3,
};

typedef struct {
  char *dir; /* <data-dir>/server/tls */
  char *ca_cert_path, *ca_key_path;
  char *serving_cert_path, *serving_key_path;
  char *admin_cert_path, *admin_key_path;
  char *sa_key_path;
  /* PEM contents, owned */
  char *ca_cert_pem, *ca_key_pem;
  char *serving_cert_pem, *serving_key_pem;
  char *admin_cert_pem, *admin_key_pem;
  char *sa_key_pem;
} tls_pki_t;

typedef struct {
  const char *data_dir;
  const tls_san_t *serving_san; /* wanted SANs of the serving cert */
  time_t now;                   /* 0 = time(NULL); tests move the clock */
} tls_pki_opts_t;

/* Load or create every file. On success *pki is filled (free with
 * tls_pki_done) and *ret_changes (may be NULL) has TLS_PKI_* bits for what
 * was (re)generated. On failure pki is left empty-but-valid for done. */
int tls_pki_load(tls_pki_t *pki, const tls_pki_opts_t *opts, unsigned *ret_changes, char *err,
                 size_t errlen);
void tls_pki_done(tls_pki_t *pki);

/* Issue a key and certificate signed by the cluster CA (node client and
 * serving certificates). spec->days defaults to a year when 0. */
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
