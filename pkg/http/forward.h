/* pkg/http forward: relay one ordinary (non-upgrade) request to a next hop
 * and stream its answer back, as a reverse proxy does: the API server's
 * nodes/proxy (to a kubelet over TLS), services/proxy and pods/proxy (to a
 * pod's address). The request's method, body and end-to-end header fields
 * go on (not the hop-by-hop ones of RFC 9110 7.6.1, nor Authorization and
 * Impersonate-*: the caller authenticated those, and upstream's apiserver
 * drops them too); the answer's status and end-to-end fields come back and
 * its body is streamed (chunked) without being kept, with back-pressure:
 * the next hop is not read while the client has a full queue.
 *
 * Threads: the loop of the server that carries the request. */
#pragma once

#include "http/dial.h"
#include "http/server.h"
#include "http/tunnel.h"

typedef struct {
  const char *host; /* next hop: an address literal */
  int port;
  http_tls_client_t *tls;   /* NULL: plain TCP; else must outlive the relay */
  const char *target;       /* path and query to request there */
  const char *host_header;  /* Host field to send; NULL: host:port */
  /* "Name: value\r\n" lines the caller adds to the head (NULL: none), and
   * a name prefix of the client's fields not to pass on (NULL: none): the
   * aggregator sends its own X-Remote-* and drops the client's. */
  const char *extra_fields;
  const char *skip_prefix;
  double timeout;           /* seconds to the response head; 0: 30 s */
  http_tunnel_fail_cb fail; /* could not reach it / no HTTP answer (msg as tunnel.h's) */
  void *fail_data;
} http_forward_opts_t;

/* Start relaying r. On 0 the relay owns r and finishes it (the next hop's
 * answer, or through o->fail); strings in o are copied. On a negative
 * errno (-EINVAL: host not an address or no fail callback; -E2BIG: head too
 * long) nothing happened and the caller still owns r. */
int http_forward_start(http_req_t *r, struct ev_loop *loop, const http_forward_opts_t *o);

/* Relays alive now (for tests: none may be left behind). */
unsigned http_forward_count(void);
