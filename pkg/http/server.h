/* pkg/http: an HTTP/1.1 server over TLS (mbedTLS) on a libev loop.
 * CONTRACT header: pkg/api codes against it.
 *
 * Keep-alive, pipelined requests served in order, chunked request bodies,
 * chunked streaming responses (watches, logs), hard limits on header and
 * body size (431/413), idle and header timeouts, many concurrent clients.
 * Client certificates are optional and verified against a CA when given.
 *
 * Threads: everything runs on the loop passed to http_server_start; every
 * function here must be called on that loop.
 *
 * Request lifetime: the handler is called once per request with a request
 * object. The handler (or anything later, e.g. a store callback) must finish
 * the request exactly once, with http_respond*() or http_stream_end(). The
 * request object stays valid until then, even if the client disconnects; in
 * that case http_req_gone() becomes true, the close callback runs (once),
 * and responding is a cheap no-op that frees it. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/quota.h"

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;

typedef void (*http_handler_cb)(http_req_t *req, void *data);
typedef void (*http_close_cb)(http_req_t *req, void *data);

typedef struct {
  const char *bind_address;  /* "0.0.0.0", "::", "127.0.0.1" */
  int port;
  const char *cert_pem;      /* serving chain, PEM */
  const char *key_pem;       /* its private key, PEM */
  const char *client_ca_pem; /* CA that signs client certs; NULL = no client certs */
  /* The front-proxy (request-header) CA of API aggregation: certificates it
   * signed verify too but are no user (http_req_client_cn NULL; their CN is
   * http_req_proxy_cn). NULL: none. Needs client_ca_pem. */
  const char *proxy_ca_pem;
  size_t max_header_bytes;   /* default 64 KiB */
  size_t max_body_bytes;     /* default 3 MiB (etcd's request limit + slack) */
  double idle_timeout;       /* seconds an idle keep-alive connection is kept; default 120 */
  double request_timeout;    /* seconds to receive a whole request; default 60 */
  int max_connections;       /* overrides limits.max_conns when > 0 */
  http_quota_t limits;      /* per-client and memory limits; zero fields = defaults */
  /* Requests with a body of at least this many bytes run their handler on
   * util/offload's worker (under the loop lock; the handler's pure parts
   * then leave the loop). 0: every handler runs on the loop. */
  size_t offload_body_min;
  /* Seconds the session tickets it issues are valid (tls_server_conf_tickets):
   * a client that keeps its session (http/dial.h) resumes cheaply. 0: none. */
  unsigned session_ticket_lifetime;
} http_server_opts_t;

/* Listen and serve. Returns 0 or a negative errno with a reason in err
 * ("bind 0.0.0.0:6443: Address already in use"). */
int http_server_start(struct ev_loop *loop, const http_server_opts_t *opts, http_handler_cb handler,
                      void *data, http_server_t **ret_server, char *err, size_t errlen);
/* Close the listener and every connection (close callbacks run). */
void http_server_stop(http_server_t *srv);
/* Serve a renewed certificate and key from now on (new handshakes); on the
 * loop. 0, or -EINVAL with a reason in err (the old pair stays). */
int http_server_set_cert(http_server_t *srv, const char *cert_pem, const char *key_pem, char *err,
                         size_t errlen);

/* ---- request accessors (valid until the request is finished) ---- */
const char *http_req_method(const http_req_t *r);   /* "GET" */
const char *http_req_path(const http_req_t *r);     /* percent-decoded path, no query */
const char *http_req_raw_query(const http_req_t *r); /* after '?', undecoded; "" if none */
/* First value of a query parameter, percent-decoded (a '+' is a space);
 * NULL if absent. Valid until the request is finished. */
const char *http_req_query(const http_req_t *r, const char *name);
/* All values of a repeated parameter (exec's command=...): NULL-terminated. */
const char *const *http_req_query_all(const http_req_t *r, const char *name);
/* Header value by case-insensitive name; NULL if absent. Repeated headers
 * are joined with ", ". */
const char *http_req_header(const http_req_t *r, const char *name);
/* The i-th header field as received (repeated ones joined): false past
 * the last. For relays that pass a request on (http/forward.h). */
bool http_req_header_at(const http_req_t *r, size_t i, const char **ret_name,
                        const char **ret_value);
const char *http_req_body(const http_req_t *r, size_t *ret_len);
/* Verified client certificate: subject CN and O values, or NULL/empty when
 * the client sent no certificate. Groups are NULL-terminated. */
const char *http_req_client_cn(const http_req_t *r);
const char *const *http_req_client_orgs(const http_req_t *r);
/* A client certificate that was offered and refused (not signed by the
 * client CA, expired, no extKeyUsage clientAuth): why, for the 401; NULL
 * otherwise. The request is then anonymous (CN NULL). */
const char *http_req_client_cert_error(const http_req_t *r);
/* The CN of a verified front-proxy certificate (http_server_opts_t
 * proxy_ca_pem), or NULL. */
const char *http_req_proxy_cn(const http_req_t *r);
const char *http_req_remote_addr(const http_req_t *r); /* "1.2.3.4:5678" */
bool http_req_gone(const http_req_t *r);

/* Data of the application riding on the request (the API's
 * authenticated user), freed with free_fn when the request is freed. */
void http_req_set_app(http_req_t *r, void *data, void (*free_fn)(void *));
void *http_req_app(const http_req_t *r);

/* The status of the response begun (http_respond, http_stream_begin), 0
 * before one; valid until the request is freed (also in the app's free). */
int http_req_status(const http_req_t *r);

/* Call cb once if the client disconnects before the request is finished. */
void http_req_on_close(http_req_t *r, http_close_cb cb, void *data);

/* ---- responses ---- */
/* Add a response header (before the response starts). */
void http_req_add_header(http_req_t *r, const char *name, const char *value);
/* Send a complete response; body is copied. Finishes the request. */
void http_respond(http_req_t *r, int status, const char *content_type, const char *body,
                  size_t len);
/* Same, taking ownership of a malloc'd body. */
void http_respond_take(http_req_t *r, int status, const char *content_type, char *body, size_t len);
/* Same, with a text/plain body formatted as printf (cut at 1 KiB): the
 * kubelet API's error answers. */
void http_respond_textf(http_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Start a chunked response. Data is queued; http_stream_write returns the
 * number of bytes queued but not yet sent (for back-pressure: pause the
 * producer when this exceeds a few hundred KiB; the drain callback says when
 * it falls below the low-water mark), or -EPIPE when the client is gone. */
void http_stream_begin(http_req_t *r, int status, const char *content_type);
long http_stream_write(http_req_t *r, const char *data, size_t len);
typedef void (*http_drain_cb)(http_req_t *req, void *data);
void http_stream_on_drain(http_req_t *r, http_drain_cb cb, void *data);
/* Send the final chunk and finish the request. */
void http_stream_end(http_req_t *r);
/* Should a producer that can make output at will (a list, a watch's initial
 * events) write its next piece now? False while the connection's queue is
 * above its mark or the server is over its output budget; the drain
 * callback then runs when it may go on. False too once the client is gone.
 * Always true for a local request while its sink is there. */
bool http_stream_writable(http_req_t *r);

/* ---- per-client limits (docs/SECURITY.md, "Connections and memory") ----
 * The server counts every request against its source address while a
 * handler has it; over the address's in-flight limit it answers 429 itself.
 * The API layer names the authenticated user of each request: */
/* user: the authenticated name (NULL/"" = anonymous: nothing happens).
 * The connection counts as that user's from now on (no longer in the small
 * anonymous pool with its short lifetime), and the request counts against
 * the user's in-flight limit unless exempt (system:masters, as upstream).
 * Returns 0, or -EBUSY when the user is over its in-flight or connection
 * limit: answer with http_respond_too_many. */
int http_req_set_user(http_req_t *r, const char *user, bool exempt);
/* The request will last (watch, log follow): stop counting it in flight.
 * droppable: a stream the server may cut when over its output budget, as
 * upstream drops slow watchers (the client re-watches). */
void http_req_long_running(http_req_t *r, bool droppable);
/* 429 "Too many requests, please try again later." with Retry-After: 1, as
 * upstream's max-in-flight filter answers. Finishes the request. */
void http_respond_too_many(http_req_t *r);

/* ---- connection take-over (WebSocket / SPDY upgrades) ----
 * exec, attach and port-forward answer "101 Switching Protocols" and then
 * speak their own framing over the same TLS connection. */
typedef struct http_upgrade http_upgrade_t;
typedef void (*http_upgrade_data_cb)(http_upgrade_t *u, const char *bytes, size_t len, void *data);
typedef void (*http_upgrade_close_cb)(http_upgrade_t *u, void *data);
/* Send "101 Switching Protocols" with the headers added by
 * http_req_add_header (Upgrade, Connection, Sec-WebSocket-Accept, ...) and
 * take over the connection. Finishes the request. Bytes the client already
 * sent after the request are delivered to on_data first (on a later loop
 * iteration, never inside this call). on_close runs once when the client
 * goes away, on an I/O error or at http_server_stop; u is invalid after it.
 * Returns NULL (request finished, nothing to free) if the client is gone. */
http_upgrade_t *http_req_upgrade(http_req_t *r, http_upgrade_data_cb on_data,
                                 http_upgrade_close_cb on_close, void *data);
/* The same, but what the client receives as the response head is head[0..len)
 * as given (a relay passes on the next hop's "101 Switching Protocols" head,
 * status line to the empty line); headers added before are not sent. */
http_upgrade_t *http_req_upgrade_head(http_req_t *r, const char *head, size_t len,
                                      http_upgrade_data_cb on_data, http_upgrade_close_cb on_close,
                                      void *data);
/* Queue bytes; returns bytes queued but not yet sent, or -EPIPE. */
long http_upgrade_write(http_upgrade_t *u, const char *bytes, size_t len);
/* Flow control for a relay. paused: on_data is not called; the server keeps
 * at most about 80 KiB of the client's bytes and then stops reading the
 * socket, so TCP pushes back on the client. Resuming hands over what waited
 * on a later loop iteration. A client EOF while paused is reported (on_close)
 * only after its last bytes were handed over. */
void http_upgrade_pause(http_upgrade_t *u, bool paused);
/* Call cb once (with the data given at the upgrade) when the bytes queued
 * for the client fall to low_water or below; at once, on a later loop
 * iteration, if they already are. cb NULL: forget a pending one. */
typedef void (*http_upgrade_drain_cb)(http_upgrade_t *u, void *data);
void http_upgrade_on_drain(http_upgrade_t *u, size_t low_water, http_upgrade_drain_cb cb);
/* Flush what is queued, then close. on_close is not called; u is invalid
 * after this call. */
void http_upgrade_close(http_upgrade_t *u);

/* ---- in-process requests ----
 * A request that no connection carries: pkg/client's in-process backend
 * builds one and passes it to the same handler the listener calls, so an
 * in-process call goes through exactly the code an HTTPS call does (authn,
 * routing, admission, storage) without a socket. What the handler sends
 * arrives at the sink: head once, body zero or more times (a whole body, or
 * one stream write each), then end once. The sink may be called from inside
 * the handler or later from any loop callback. */
typedef struct {
  /* status and content type; headers: the "Name: value\r\n" lines added. */
  void (*head)(void *data, int status, const char *content_type, const char *headers,
               size_t headers_len);
  void (*body)(void *data, const char *bytes, size_t len);
  void (*end)(void *data);
} http_local_sink_t;

/* A request for method and target ("/api/v1/pods?watch=true"); headers is a
 * NULL-terminated list of name, value pairs (may be NULL); body is copied;
 * cn/orgs are the identity a client certificate would carry. The request
 * belongs to the handler it is passed to, as any other. Returns NULL (-EINVAL)
 * for a malformed target. */
http_req_t *http_req_local_new(const char *method, const char *target, const char *const *headers,
                               const char *body, size_t len, const char *cn,
                               const char *const *orgs, const http_local_sink_t *sink,
                               void *sink_data);
/* The caller of a local request goes away: the sink is never called again,
 * http_req_gone() becomes true and the close callback (if any) runs now, as
 * for a client that disconnects. The request itself is freed when the
 * handler finishes it. */
void http_req_local_cancel(http_req_t *r);
