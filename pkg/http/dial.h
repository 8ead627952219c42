/* pkg/http dial: one outgoing HTTP/1.1 connection for a relay (plain TCP
 * or TLS): it sends a request head the caller wrote, parses the response
 * head (http_parse_response), and from then on hands raw bytes both ways
 * with flow control (pause, drain). Used by pkg/http/tunnel to reach the
 * kubelet (TLS) and containerd's streaming server (plain TCP).
 *
 * Threads: everything runs on the loop given to http_dial_start; call these
 * functions only on that loop. Callbacks never run inside a function of
 * this module called by the user, and may call any of them (close too). */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/parser.h"

/* A TLS client configuration shared by many connections (one DRBG: one
 * loop). The server's certificate is not verified (the caller reaches an
 * address it read from its own store, as the API server reaches kubelets;
 * docs/AGENT.md says why); the client certificate is presented. */
typedef struct http_tls_client http_tls_client_t;
/* cert_pem/key_pem may be NULL (no client certificate). Returns 0 and
 * *ret, or -EINVAL with a reason in err. */
int http_tls_client_new(const char *cert_pem, const char *key_pem, http_tls_client_t **ret,
                        char *err, size_t errlen);
/* As http_tls_client_new, but the server's certificate must verify: it is
 * signed by a certificate of ca_pem (ca_len bytes of PEM, need not end in
 * NUL) and names server_name (a DNS SAN; not NULL), as Go's TLS client
 * checks an aggregated API server (kube-aggregator's <service>.<ns>.svc).
 * A connection whose server certificate fails verification ends with
 * -EKEYREJECTED (another failed handshake: -ECONNABORTED). */
int http_tls_client_new_verify(const char *cert_pem, const char *key_pem, const char *ca_pem,
                               size_t ca_len, const char *server_name, http_tls_client_t **ret,
                               char *err, size_t errlen);
/* Drop the creator's reference (accepts NULL): each connection holds its
 * own until it ends, so the client may be freed while relays still use
 * it (the aggregator replaces an APIService's when its caBundle changes);
 * it goes with the last of them. On its loop's thread. */
void http_tls_client_free(http_tls_client_t *t);
/* The client keeps the TLS session of each of its last 8 peers (host:port)
 * and offers it on the next connection there: with a server that issues
 * session tickets (http_server_opts_t.session_ticket_lifetime) that
 * connection resumes without a full handshake. Internal, for tests: the
 * peers whose kept session holds a ticket. */
unsigned http__tls_client_tickets(const http_tls_client_t *t);

typedef struct http_dial http_dial_t;

typedef struct {
  /* The response head arrived: resp (fields point into raw) and its bytes,
   * status line to the empty line, valid during the call. Bytes after the
   * head follow through data. */
  void (*head)(http_dial_t *d, const http_response_t *resp, const char *raw, size_t raw_len,
               void *data);
  /* Bytes after the head, as they arrive (not while paused). */
  void (*data)(http_dial_t *d, const char *bytes, size_t len, void *data);
  /* The connection ended: err 0 for the peer's EOF, else a negative errno
   * (-ECONNREFUSED, -ETIMEDOUT for connect/TLS/head taking over the
   * timeout, -EPROTO for a malformed head, ...). Runs once, never after
   * http_dial_close; d is invalid after it. */
  void (*close)(http_dial_t *d, int err, void *data);
} http_dial_cbs_t;

typedef void (*http_dial_drain_cb)(http_dial_t *d, void *data);

/* Connect to host (an IPv4 or IPv6 address literal) and port, over TLS
 * when tls is not NULL (it must outlive the connection), send req[0..len)
 * (copied) and wait for the response head, at most timeout seconds for all
 * of that (0: 10 s). Returns 0 and *ret (callbacks follow, later), or a
 * negative errno (-EINVAL for a host that is not an address). */
int http_dial_start(struct ev_loop *loop, const char *host, int port, http_tls_client_t *tls,
                    const char *req, size_t len, double timeout, const http_dial_cbs_t *cbs,
                    void *data, http_dial_t **ret);
/* Queue bytes for the peer. Returns the bytes queued but not yet sent, or
 * -EPIPE once closed / -ENOBUFS over the hard limit (64 MiB). */
long http_dial_write(http_dial_t *d, const char *bytes, size_t len);
/* paused: stop reading (TCP pushes back on the peer); resuming delivers
 * what mbedTLS holds on a later loop iteration. */
void http_dial_pause(http_dial_t *d, bool paused);
/* Call cb once when the queued output falls to low_water or below (on a
 * later loop iteration if it already has). cb NULL: forget it. */
void http_dial_on_drain(http_dial_t *d, size_t low_water, http_dial_drain_cb cb);
/* Flush what is queued (at most 30 s more), then close: FIN, and what the
 * peer still sends is read and dropped for up to 2 s, so that our last
 * bytes are not lost to a reset. No callback runs after this call; d is
 * invalid after it. */
void http_dial_close(http_dial_t *d);
/* End at once every connection of loop that was closed with
 * http_dial_close and is still flushing or lingering (its loop's owner
 * stops; http_server_stop calls it). Only on loop's thread. */
void http_dial_reap(struct ev_loop *loop);
