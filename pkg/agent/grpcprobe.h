/* pkg/agent grpcprobe: the kubelet's grpc probe, a grpc.health.v1.Health/
 * Check call over cleartext HTTP/2 (h2c with prior knowledge, as upstream's
 * probe dials without TLS) to ip:port with the probe's service name; the
 * probe succeeds when the answer is SERVING. Upstream's failure wording
 * (pkg/probe/grpc). https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 *
 * Threads: the loop given (the kubelet's); the pure codec functions on any. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_GRPC_HEALTH_PATH "/grpc.health.v1.Health/Check"

/* HealthCheckResponse.ServingStatus */
enum { AGENT_GRPC_UNKNOWN = 0, AGENT_GRPC_SERVING = 1, AGENT_GRPC_NOT_SERVING = 2,
       AGENT_GRPC_SERVICE_UNKNOWN = 3 };

/* The gRPC message of a HealthCheckRequest{service}: the 5-byte prefix
 * (uncompressed, big-endian length) and the protobuf. Returns its length,
 * or -ENOSPC when it does not fit len (a service name over 1 KiB never
 * does with out of 1040 bytes). */
int agent_grpcprobe_request(const char *service, uint8_t *out, size_t len);
/* The status of a HealthCheckResponse gRPC message (prefix included) in
 * body. Returns 0 with *ret_status, or -EPROTO for a malformed or
 * compressed message. */
int agent_grpcprobe_response(const uint8_t *body, size_t len, int *ret_status);
/* "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN" (static). */
const char *agent_grpcprobe_status_name(int status);

typedef struct agent_grpcprobe agent_grpcprobe_t;
/* ok, or why not in upstream's words; the probe is freed after cb returns. */
typedef void (*agent_grpcprobe_cb)(void *data, bool ok, const char *why);
/* Start one check (IPv4 ip); cb runs once, later, never inside this call.
 * NULL (cb does not run) only when out of sockets: why then holds the reason. */
agent_grpcprobe_t *agent_grpcprobe_start(struct ev_loop *loop, const char *ip, int port,
                                         const char *service, double timeout,
                                         agent_grpcprobe_cb cb, void *data);
/* Stop a check in flight: cb does not run. Accepts NULL. */
void agent_grpcprobe_cancel(agent_grpcprobe_t *g);
