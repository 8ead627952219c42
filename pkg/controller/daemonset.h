/* The DaemonSet controller (daemonset.c). Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"
#include "controller/events.h"

typedef struct controller_daemonset controller_daemonset_t;

/* Reconcile the DaemonSets of ds_inf (apps/v1 daemonsets) against the nodes
 * of node_inf (v1 nodes), the pods of pod_inf (v1 pods) and the
 * ControllerRevisions of rev_inf (apps/v1 controllerrevisions), writing
 * through c. ds_inf, pod_inf and rev_inf need the namespace index. Registers
 * its handlers and starts; the informers and the client must outlive it. */
int controller_daemonset_new(client_t *c, client_informer_t *ds_inf, client_informer_t *node_inf,
                             client_informer_t *pod_inf, client_informer_t *rev_inf,
                             struct ev_loop *loop, controller_daemonset_t **ret_dc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_daemonset_free(controller_daemonset_t *dc);
