/* pkg/controller nodeipam: each Node gets its own pod subnet, a /24 of
 * --cluster-cidr in spec.podCIDR/podCIDRs, as kube-controller-manager's
 * node IPAM does with --allocate-node-cidrs (k3s's default). The agent's
 * pod network takes its addresses from it. A Node that has one keeps it;
 * when the range is used up the Node gets none and a CIDRNotAvailable
 * event. Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_nodeipam controller_nodeipam_t;

/* cluster_cidr: an IPv4 CIDR of /8../24 ("10.42.0.0/16"). Returns 0, or
 * -EINVAL for another one. */
int controller_nodeipam_new(client_t *c, client_informer_t *nodes, struct ev_loop *loop,
                            const char *cluster_cidr, controller_nodeipam_t **ret);
void controller_nodeipam_free(controller_nodeipam_t *n); /* accepts NULL */
