/* pkg/controller servicelb: k3s's ServiceLB without its pods. A Service of
 * type LoadBalancer with no spec.loadBalancerClass is answered on the
 * addresses of the serving nodes at its ports (every agent's service
 * proxy matches status.loadBalancer.ingress; net/proxy.h), and this
 * controller writes those addresses into status.loadBalancer.ingress:
 * the nodes labelled svccontroller.k3s.cattle.io/enablelb=true when any
 * node has that label, else every node; Ready nodes only; each node's
 * ExternalIP, else its InternalIP; sorted. Nodes coming and going update
 * it. Two such Services wanting the same port and protocol: the older one
 * (creationTimestamp, then namespace/name) has it, the later one stays
 * pending (no ingress) with a PortInUse warning event until the port is
 * free. `--disable servicelb` does not start it.
 * https://docs.k3s.io/networking/networking-services#service-load-balancer
 * Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

#define CONTROLLER_SERVICELB_LABEL "svccontroller.k3s.cattle.io/enablelb"

typedef struct controller_servicelb controller_servicelb_t;

/* services, nodes: shared informers (borrowed, outlive the controller).
 * Returns 0 or a negative errno. */
int controller_servicelb_new(client_t *c, client_informer_t *services, client_informer_t *nodes,
                             struct ev_loop *loop, controller_servicelb_t **ret);
void controller_servicelb_free(controller_servicelb_t *s); /* accepts NULL */
