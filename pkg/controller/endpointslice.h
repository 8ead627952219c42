/* The EndpointSlice controller (endpointslice.c): discovery.k8s.io/v1
 * EndpointSlices for every Service with a selector, and the mirroring of
 * selector-less Services' Endpoints. Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

#define CONTROLLER_ENDPOINTSLICE_MANAGER "endpointslice-controller.k8s.io"
#define CONTROLLER_ENDPOINTSLICE_MIRROR_MANAGER "endpointslicemirroring-controller.k8s.io"
#define CONTROLLER_ENDPOINTSLICE_DEFAULT_MAX 100 /* upstream's --max-endpoints-per-slice */

typedef struct controller_endpointslice controller_endpointslice_t;

/* Keep the EndpointSlices (eps_inf: discovery.k8s.io/v1 endpointslices)
 * of each Service of svc_inf with a selector from the pods of pod_inf, with
 * zones from the nodes of node_inf (v1 nodes), and mirror the Endpoints of
 * ep_inf (v1 endpoints) of Services without one (upstream's
 * endpointslicemirroring controller). The namespaced informers need the
 * namespace index. max_per_slice: endpoints per slice (1..1000; 0: 100).
 * Registers its handlers and starts; informers and client must outlive it. */
int controller_endpointslice_new(client_t *c, client_informer_t *svc_inf,
                                 client_informer_t *pod_inf, client_informer_t *eps_inf,
                                 client_informer_t *node_inf, client_informer_t *ep_inf,
                                 int max_per_slice, struct ev_loop *loop,
                                 controller_endpointslice_t **ret_ec);
/* Endpoints per slice from now on (1..1000). */
void controller_endpointslice_set_max(controller_endpointslice_t *ec, int max_per_slice);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_endpointslice_free(controller_endpointslice_t *ec);
