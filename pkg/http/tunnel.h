/* pkg/http tunnel: relay one upgraded request (exec, attach, port-forward)
 * to the next hop without looking inside the stream. The client's upgrade
 * request is sent on (its method and target as the caller rewrites them,
 * and the headers that negotiate the stream: Upgrade, Connection,
 * Sec-WebSocket-Key/-Version/-Protocol, X-Stream-Protocol-Version, Origin);
 * the next hop's answer comes back as it is (but for an optional
 * subprotocol rename, below): a "101 Switching Protocols" head, after
 * which bytes are copied both ways, or any other status with
 * its body (at most 64 KiB). Both the API server (to the kubelet) and the
 * kubelet (to containerd's streaming server) use it. docs/AGENT.md.
 *
 * Flow control: a side whose peer has more than 256 KiB queued is not read
 * until that queue falls to 64 KiB, so memory per tunnel stays bounded
 * whatever the speeds. Either side ending ends both (queued bytes are
 * flushed first), as does the idle timeout.
 *
 * Threads: the loop of the server that carries the request. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/dial.h"
#include "http/server.h"

#define HTTP_TUNNEL_HIGH_WATER ((size_t)256 << 10)
#define HTTP_TUNNEL_LOW_WATER ((size_t)64 << 10)

/* Called when the next hop could not be reached or did not answer with an
 * HTTP head: msg is upstream's wording ("error dialing backend: dial tcp
 * 10.0.0.1:10250: connect: connection refused"). The callee must finish r
 * (http_respond...). */
typedef void (*http_tunnel_fail_cb)(http_req_t *r, int err, const char *msg, void *data);

typedef struct {
  const char *host;       /* next hop: an address literal */
  int port;
  http_tls_client_t *tls; /* NULL: plain TCP; else must outlive the tunnel */
  const char *target;     /* path and query to request there */
  double idle_timeout;    /* seconds without a byte either way; 0: 4 hours (upstream's) */
  double connect_timeout; /* to the next hop's response head; 0: 10 s */
  http_tunnel_fail_cb fail;
  void *fail_data;        /* must outlive the tunnel's connect phase */
  /* A WebSocket subprotocol translation (NULL: none): ws_protocol is sent
   * to the next hop as the Sec-WebSocket-Protocol instead of the client's
   * offer, and a 101 answer goes back saying ws_protocol_reply instead of
   * what the next hop chose. For protocols whose frames are the same both
   * ways on this stream (the kubelet's v5.channel.k8s.io without stdin). */
  const char *ws_protocol;
  const char *ws_protocol_reply;
  /* "Name: value\r\n" lines the caller adds to the upgrade request (NULL:
   * none): the aggregator's X-Remote-* (the client's are never passed). */
  const char *extra_fields;
} http_tunnel_opts_t;

/* Start relaying r (a request carrying an Upgrade header). On 0 the tunnel
 * owns r and finishes it (101 and the relay, the next hop's error answer,
 * or through o->fail); strings in o are copied. On a negative errno
 * (-EINVAL: host not an address, or no Upgrade header) nothing happened and
 * the caller still owns r. */
int http_tunnel_start(http_req_t *r, struct ev_loop *loop, const http_tunnel_opts_t *o);

/* Does the client's Sec-WebSocket-Protocol header (comma-separated) offer
 * proto? (case-sensitive, as RFC 6455 subprotocols are) */
bool http_tunnel_offers(const char *header, const char *proto);

/* Tunnels alive now (for tests: none may be left behind). */
unsigned http_tunnel_count(void);
