/* pkg/client: the Kubernetes API client every controller, the scheduler and
 * the agent use. One interface, two backends: in-process (the server's own
 * API handler, same authn/admission/validation/resourceVersion checks as
 * HTTPS, no socket; inproc.c) and HTTPS (https.c, for an agent on another
 * machine). Design, limits and ownership: docs/CLIENT.md.
 *
 * Threads: a client belongs to the libev loop it was made with; every
 * function here must be called on that loop. Everything is asynchronous:
 * callbacks run later from the loop, never inside the call that started
 * the request. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct client client_t;
typedef struct client_req client_req_t;

/* What an object or collection is: group "" is the core group. ns "" or
 * NULL: cluster-scoped, or all namespaces for a list/watch. name NULL: the
 * collection. subresource: "status", "scale", ... or NULL. */
typedef struct {
  const char *group;
  const char *version;
  const char *resource;
  const char *ns;
  const char *name;
  const char *subresource;
} client_ref_t;

/* The answer to a request. code: the HTTP status, or 0 when the request
 * never got one (err is then a negative errno: -ECONNREFUSED, -ETIMEDOUT,
 * -E2BIG for a response over the body limit, -EPROTO for a malformed one).
 * For code >= 400, reason/message come from the Kubernetes Status body
 * ("NotFound", "AlreadyExists", "Conflict", ...; "" when the body is not a
 * Status). obj is the parsed body (NULL when it is not JSON); the callback
 * may keep it with client_result_take(). Everything is valid during the
 * callback only. */
typedef struct {
  int code;
  int err;
  const char *reason;
  const char *message;
  cJSON *obj;
  const char *body; /* the raw body ("" when none or streamed), body_len bytes */
  size_t body_len;
} client_result_t;

typedef void (*client_done_cb)(const client_result_t *res, void *data);

/* Take ownership of res->obj (caller frees with cJSON_Delete). */
cJSON *client_result_take(const client_result_t *res);

/* ---- construction (each backend has its own constructor) ---- */

/* In-process: requests go to handler(req, handler_data) through
 * http_req_local_new (the same function the HTTPS listener calls, e.g.
 * api_server_handle). user/groups: the identity the requests carry, as a
 * client certificate's CN and O would. */
#include "http/server.h"
int client_inproc_new(struct ev_loop *loop, http_handler_cb handler, void *handler_data,
                      const char *user, const char *const *groups, client_t **ret_client);

typedef struct {
  const char *server;      /* "https://10.0.0.1:6443" */
  const char *ca_pem;      /* trusted CA bundle (the cluster CA) */
  const char *cert_pem;    /* client certificate, may be NULL */
  const char *key_pem;     /* its key */
  const char *bearer;      /* or a bearer token, may be NULL */
  size_t max_body_bytes;   /* response bodies; default 16 MiB */
  double timeout;          /* seconds for a non-watch request; default 30 */
  int max_connections;     /* parallel connections; default 4 (+1 per watch) */
  /* Do not verify the server's certificate (ca_pem may then be NULL): the
   * API server calling kubelets, whose serving certificates are
   * self-signed, as upstream's default does. */
  bool insecure_skip_verify;
} client_https_opts_t;

/* HTTPS: an HTTP/1.1 client over mbedTLS. Returns 0 or a negative errno
 * with err. */
int client_https_new(struct ev_loop *loop, const client_https_opts_t *opts, client_t **ret_client,
                     char *err, size_t errlen);

/* Present a renewed client certificate and key on new connections (the
 * agent's renewal); open connections keep theirs. The client must have
 * been made with a certificate. On its loop. 0, or -EINVAL with err (the
 * old pair stays). */
int client_https_set_cert(client_t *c, const char *cert_pem, const char *key_pem, char *err,
                          size_t errlen);

/* Cancel every request (their callbacks are not called) and free.
 * Accepts NULL. */
void client_free(client_t *c);

/* The User-Agent sent (and the field manager the API derives from it):
 * "k3c-controller-manager" by default. Copied. */
void client_set_user_agent(client_t *c, const char *ua);

/* ---- verbs ----
 * Each returns a handle valid until its callback has returned or until
 * client_req_cancel(); NULL only when ref is malformed (then cb is not
 * called). query: extra raw query ("labelSelector=a%3Db&limit=500"), may be
 * NULL; build it with client_query_add. Bodies are borrowed (serialized
 * before the call returns). */
client_req_t *client_get(client_t *c, const client_ref_t *ref, const char *query, client_done_cb cb,
                         void *data);
client_req_t *client_list(client_t *c, const client_ref_t *ref, const char *query,
                          client_done_cb cb, void *data);
/* POST obj to the collection; with ref->name and ref->subresource set, to
 * that object's subresource (pods/x/binding, pods/x/eviction). */
client_req_t *client_create(client_t *c, const client_ref_t *ref, const cJSON *obj,
                            client_done_cb cb, void *data);
/* PUT of obj (its metadata.resourceVersion is the precondition). */
client_req_t *client_update(client_t *c, const client_ref_t *ref, const cJSON *obj,
                            client_done_cb cb, void *data);
/* PUT to the status subresource (ref->subresource is ignored). */
client_req_t *client_update_status(client_t *c, const client_ref_t *ref, const cJSON *obj,
                                   client_done_cb cb, void *data);

typedef enum {
  CLIENT_PATCH_MERGE,     /* application/merge-patch+json */
  CLIENT_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
  CLIENT_PATCH_JSON,      /* application/json-patch+json */
  CLIENT_PATCH_APPLY,     /* application/apply-patch+yaml (query: fieldManager=...) */
} client_patch_t;
client_req_t *client_patch(client_t *c, const client_ref_t *ref, client_patch_t type,
                           const cJSON *patch, const char *query, client_done_cb cb, void *data);
/* DELETE; options is a DeleteOptions object or NULL. */
client_req_t *client_delete(client_t *c, const client_ref_t *ref, const cJSON *options,
                            client_done_cb cb, void *data);

/* GET of a path outside the resource tree ("/version"); NULL for a path
 * that does not start with '/', has a query or is over 1 KiB. */
client_req_t *client_get_path(client_t *c, const char *path, client_done_cb cb, void *data);
/* PUT of a JSON body (not taken) to such a path; NULL as above. */
client_req_t *client_put_path(client_t *c, const char *path, const cJSON *body, client_done_cb cb,
                              void *data);

/* A watch: each event arrives at event_cb as (type "ADDED"|"MODIFIED"|
 * "DELETED"|"BOOKMARK"|"ERROR", object); the callback owns obj and frees it
 * with cJSON_Delete. When
 * the stream ends (server timeout, error, 410 before streaming) done_cb runs
 * once with the result of the request (code 200 for a stream that ended
 * normally). Events longer than 4 MiB end the watch with err -E2BIG. */
typedef void (*client_event_cb)(const char *type, cJSON *obj, void *data);
client_req_t *client_watch(client_t *c, const client_ref_t *ref, const char *query,
                           client_event_cb event_cb, client_done_cb done_cb, void *data);

/* A GET of target (path and raw query, "/containerLogs/ns/p/c?follow=true")
 * whose 2xx body is handed over as it arrives, to chunk_cb, without being
 * kept (a log stream), and once with len 0 when a 2xx head arrives (a
 * proxy can answer at once); the request has its own connection and no time
 * limit but an idle one of 20 minutes. done_cb runs once at the end: code
 * 2xx with the body already streamed, or another code with up to 64 KiB
 * of the body in res->body (errors: the kubelet answers text). NULL for a
 * target not starting with '/' or over 8 KiB. */
typedef void (*client_chunk_cb)(const char *bytes, size_t len, void *data);
client_req_t *client_stream(client_t *c, const char *target, client_chunk_cb chunk_cb,
                            client_done_cb done_cb, void *data);

/* Stop a request: no callback runs for it after this call. */
void client_req_cancel(client_req_t *r);

/* ---- helpers ---- */

/* Append "&name=value" (or "name=value" to an empty buffer) with value
 * percent-encoded to q of size qlen. Returns 0 or -E2BIG (q unchanged). */
int client_query_add(char *q, size_t qlen, const char *name, const char *value);

/* The request path of ref ("/apis/apps/v1/namespaces/ns/replicasets/x").
 * Returns 0 or -EINVAL/-E2BIG. */
int client_ref_path(const client_ref_t *ref, char *out, size_t outlen);

/* Whether res says the resource version was too old (410 Gone / Expired). */
bool client_result_gone(const client_result_t *res);
