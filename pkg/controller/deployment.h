/* The Deployment controller (deployment.c). Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"
#include "controller/events.h"

typedef struct controller_deployment controller_deployment_t;

/* Reconcile the Deployments of d_inf (apps/v1 deployments) through their
 * ReplicaSets in rs_inf (both with the namespace index), writing through
 * c. Registers its handlers and starts; the informers and the client must
 * outlive it. */
int controller_deployment_new(client_t *c, client_informer_t *d_inf, client_informer_t *rs_inf,
                              struct ev_loop *loop, controller_deployment_t **ret_dc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_deployment_free(controller_deployment_t *dc);
