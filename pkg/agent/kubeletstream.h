/* pkg/agent kubeletstream: the kubelet API's streaming endpoints
 * /exec/{ns}/{pod}/{container}, /attach/{ns}/{pod}/{container} and
 * /portForward/{ns}/{pod} (upstream's paths and query: command=...,
 * stdin, stdout, stderr, tty). Each asks the runtime (CRI Exec, Attach,
 * PortForward) for a session URL on containerd's streaming server and
 * relays the client's upgrade there (http/tunnel.h). A WebSocket upgrade
 * offering no protocol that server speaks (kubectl 1.32's
 * v5.channel.k8s.io, the SPDY/3.1+portforward.k8s.io tunnel) is refused
 * with 400 so that the client falls back to SPDY/3.1, which is relayed.
 * docs/AGENT.md.
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

/* Internal, for tests: does a WebSocket upgrade offering protocols
 * (Sec-WebSocket-Protocol) reach a protocol containerd's streaming server
 * speaks for this endpoint (port_forward or exec/attach)? */
bool agent__kubelet_stream_ws_ok(const char *protocols, bool port_forward);
