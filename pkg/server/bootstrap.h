/* The join endpoints a k3c server serves beside the Kubernetes API, in
 * the shape k3s agents speak (docs/JOIN.md):
 *
 *   GET /cacerts                      the server CA bundle, no authentication
 *   GET /v1-k3s/client-ca.crt         the client CA (a verified client certificate or
 *                                     basic auth with the server's token secret)
 *   GET /v1-k3s/client-kubelet.crt    a node client certificate, the client CA, its key
 *   GET /v1-k3s/serving-kubelet.crt   a node serving certificate, the server CA, its key
 *
 * The certificate paths take basic auth "node:<token secret>", where the
 * secret is the server's or a valid bootstrap token "<id>.<secret>" (its
 * Secret in kube-system allows authentication and has not expired), or
 * (renewal, no token) the node's current client certificate
 * system:node:<k3s-Node-Name> in system:nodes, and the
 * headers k3s-Node-Name, k3s-Node-Password (and k3s-Node-IP for the
 * serving certificate). The first join of a name records a hash of its node
 * password in Secret kube-system/<name>.node-password.k3s; a later join of
 * that name with another password is refused (403).
 *
 * Threads: the server's loop; server_bootstrap_handle is the listener's
 * handler and passes every other request to the API handler. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"
#include "tls/pki.h"

typedef struct server_bootstrap server_bootstrap_t;

typedef struct {
  const tls_pki_t *pki;     /* borrowed; outlives the bootstrap (issues with its CA) */
  const char *token;        /* the server's token (full K10 token or bare secret); copied */
  http_handler_cb api;      /* the API's handler (api_server_handle) */
  void *api_data;           /* its data; outlives the bootstrap */
} server_bootstrap_opts_t;

/* Returns 0 and *ret, or -EINVAL when the token has no secret. */
int server_bootstrap_new(struct ev_loop *loop, const server_bootstrap_opts_t *o,
                         server_bootstrap_t **ret);
/* Answers 503 to the joins still waiting for the API, then frees. Call
 * before the listener and the API are stopped. Accepts NULL. */
void server_bootstrap_free(server_bootstrap_t *b);
/* The listener's handler; data is the server_bootstrap_t. */
void server_bootstrap_handle(http_req_t *req, void *data);

/* ---- pure parts (any thread) ---- */

/* Split an Authorization header "Basic base64(user:password)" (scheme
 * case-insensitive). Returns 0 and malloc'd *ret_user, *ret_password, or
 * -EINVAL when it is not well-formed basic auth. */
int server_bootstrap_basic_auth(const char *header, char **ret_user, char **ret_password);
/* Whether name is a DNS-1123 subdomain (what a Node's name must be):
 * at most 253 characters of lower-case alphanumerics, '-' and '.', each
 * dot-separated label starting and ending with an alphanumeric. */
bool server_bootstrap_node_name_valid(const char *name);
/* The hash of a node password kept in its Secret: "sha256$<salt>$<hex>"
 * with a fresh random salt. Caller frees. */
char *server_bootstrap_password_hash(const char *password);
/* Whether password matches a hash made by server_bootstrap_password_hash
 * (constant time in the password). */
bool server_bootstrap_password_check(const char *hash, const char *password);
