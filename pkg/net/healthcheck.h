/* pkg/net healthcheck: the service proxy's answer on a LoadBalancer's
 * spec.healthCheckNodePort (externalTrafficPolicy Local), as kube-proxy's:
 * HTTP on every address of the node at that port, 200 with
 *   {"service":{"namespace":..,"name":..},"localEndpoints":N,"serviceProxyHealthy":true}
 * when this node has N > 0 ready endpoints of the Service, else 503 with
 * N = 0, so that a load balancer outside sends traffic only to nodes that
 * will not drop it. Threads: one loop. */
#pragma once

#include <ev.h>

#include "net/proxy.h"

typedef struct net_hc net_hc_t;

net_hc_t *net_hc_new(struct ev_loop *loop);
/* Listen on the health check ports of plan's service ports and stop on
 * the others; the counts come from plan. A port that cannot be bound is
 * logged once and tried again at the next update. */
void net_hc_update(net_hc_t *h, const net_proxy_plan_t *plan);
/* The ports listened on now (for tests). */
size_t net_hc_count(const net_hc_t *h);
void net_hc_free(net_hc_t *h); /* accepts NULL; closes every socket */
