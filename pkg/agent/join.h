/* Joining a server the k3s way (docs/JOIN.md): fetch the CA bundle from
 * <server>/cacerts, pin it by the token's K10 hash, then fetch the node's
 * client and serving certificates with basic auth "node:<secret>" and the
 * node's own password. What the server sends is kept under
 * <data-dir>/agent/ (0600) so a restarted agent needs no token:
 *
 *   server-ca.crt                          the pinned server CA (verifies the API)
 *   client-ca.crt                          the client CA (verifies kubelet API clients)
 *   client-kubelet.crt / .key              CN=system:node:<name>, O=system:nodes
 *   serving-kubelet.crt / .key             the node name and IPs
 *   node-password                          generated once, reused
 *
 * Before they expire the agent renews both certificates without the token:
 * the same GETs, authenticated by its current client certificate
 * (agent_join_renew). Library code: no logging; a call does blocking
 * network I/O and file writes. Any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct {
  const char *server;          /* "https://host:port" */
  const char *token;           /* K10<hash>::<user>:<secret> or a bare secret; may be NULL */
  const char *data_dir;
  const char *node_name;       /* the name the node registers with */
  const char *const *node_ips; /* for the serving certificate; NULL-terminated, may be NULL */
  double timeout;              /* seconds per request; 0 = 30 */
} agent_join_opts_t;

typedef struct {
  char *ca_pem, *cert_pem, *key_pem; /* the client's credentials, owned (ca: the server CA) */
  char *client_ca_pem;               /* the client CA, owned */
  char *serving_cert_pem, *serving_key_pem; /* the kubelet API's; NULL if none saved */
  time_t renew_at;                   /* when to renew (tls_cert_renew_at of the sooner) */
  time_t expires;                    /* the client certificate's notAfter */
  bool pinned;                       /* the CA was checked against a token hash */
} agent_join_creds_t;

/* The saved credentials, if they are there and fit: the client certificate
 * is signed by the saved client CA (an older agent dir without
 * client-ca.crt: the server CA), within its validity, for
 * system:node:<name>, its key matches, and (when o->token has a hash) the
 * server CA is the token's. Renewal may be due (renew_at <= now).
 * Returns 0 and fills *ret; -ENOENT when nothing is saved; another
 * negative errno with the reason in err when they do not fit. */
int agent_join_load(const agent_join_opts_t *o, agent_join_creds_t *ret, char *err,
                    size_t errlen);

/* One join attempt (needs o->token). Returns 0 with *ret filled and the
 * files written; -EAGAIN when the server cannot be reached or answers 5xx
 * (try again later); -EKEYREJECTED when the CA does not match the token's
 * hash (err names both hashes; nothing else was sent); -EACCES when the
 * server refuses the token (401) or the node password (403); other
 * negative errnos for local failures. err always says why. */
int agent_join_once(const agent_join_opts_t *o, agent_join_creds_t *ret, char *err,
                    size_t errlen);

/* Renew both certificates of a joined node without the token: the GETs of
 * agent_join_once over TLS verified with creds->ca_pem, authenticated by
 * the node's current client certificate (and its node password). On
 * success the files are rewritten and *creds updated; on failure *creds is
 * untouched. Return codes as agent_join_once (-EACCES: the server refused
 * the certificate; join again with a token). */
int agent_join_renew(const agent_join_opts_t *o, agent_join_creds_t *creds, char *err,
                     size_t errlen);

/* The server's client CA (GET /v1-k3s/client-ca.crt) for an agent started
 * with a kubeconfig: TLS verified with ca_pem, authenticated by the
 * kubeconfig's client certificate. 0 and *ret_pem (caller frees);
 * -ENOENT for a server without the path (an older k3c: one CA); -EAGAIN
 * when it cannot be reached or answers 5xx; -EACCES when refused. */
int agent_join_client_ca(const char *server, const char *ca_pem, const char *cert_pem,
                         const char *key_pem, double timeout, char **ret_pem, char *err,
                         size_t errlen);

void agent_join_creds_done(agent_join_creds_t *c); /* accepts NULL */

/* ---- pure parts ---- */

/* "https://host[:port]" or "https://[v6][:port]" (port 6443 by default, a
 * trailing '/' allowed) into malloc'd host and port. -EINVAL otherwise. */
int agent_join_split_url(const char *url, char **ret_host, char **ret_port);
/* Split the server's answer, a certificate PEM followed by its key PEM,
 * into malloc'd halves. -EINVAL when either is missing. */
int agent_join_split_pem(const char *body, char **ret_cert, char **ret_key);
/* Split a PEM chain into its first certificate and the rest (NULL when
 * there is no second certificate), malloc'd. -EINVAL without any. */
int agent_join_split_chain(const char *chain, char **ret_leaf, char **ret_rest);
/* The "Authorization: Basic ..." value for user and password; caller frees. */
char *agent_join_basic_auth(const char *user, const char *password);
