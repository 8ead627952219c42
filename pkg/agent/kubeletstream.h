/* pkg/agent kubeletstream: the kubelet API's streaming endpoints
 * /exec/{ns}/{pod}/{container}, /attach/{ns}/{pod}/{container} and
 * /portForward/{ns}/{pod} (upstream's paths and query: command=...,
 * stdin, stdout, stderr, tty). Each asks the runtime (CRI Exec, Attach,
 * PortForward) for a session URL on containerd's streaming server and
 * relays the client's upgrade there (http/tunnel.h). kubectl 1.32's
 * WebSocket v5.channel.k8s.io for an exec without stdin is relayed as
 * v4.channel.k8s.io, which containerd speaks and whose frames are the
 * same when there is no stdin to close; any other WebSocket upgrade
 * offering no protocol that server speaks (v5 with stdin or for attach,
 * the SPDY/3.1+portforward.k8s.io tunnel) is refused with 400 so that the
 * client falls back to SPDY/3.1, which is relayed. docs/AGENT.md.
 *
 * Threads: the loop of the kubelet API (that of the kubelet's CRI client). */
#pragma once

#include <ev.h>
#include <stdbool.h>

#include "agent/kubelet.h"
#include "http/server.h"

/* Serve r if its path is a streaming endpoint (true: r is taken care of);
 * false: not one of ours, r untouched. k may be NULL (answers 503). The
 * caller has authorized the client already. */
bool agent__kubelet_stream(agent_kubelet_t *k, struct ev_loop *loop, http_req_t *r);

/* Internal, for tests: what becomes of a WebSocket upgrade offering
 * protocols (Sec-WebSocket-Protocol) to an endpoint, with stdin or not. */
typedef enum { AGENT_STREAM_EXEC, AGENT_STREAM_ATTACH, AGENT_STREAM_PORTFORWARD } agent_stream_kind_t;
typedef enum {
  AGENT_WS_RELAY,     /* containerd speaks one of them: relayed as it is */
  AGENT_WS_V5_AS_V4,  /* exec, v5.channel.k8s.io without stdin: relayed as v4 */
  AGENT_WS_REFUSE,    /* 400: the client falls back to SPDY/3.1 */
} agent_ws_choice_t;
agent_ws_choice_t agent__kubelet_stream_ws_choice(const char *protocols, agent_stream_kind_t kind,
                                                  bool stdin_);
