/* The node lifecycle controller (nodelifecycle.c), upstream's
 * node-lifecycle-controller with its NoExecute taint manager: a node whose
 * kubelet stops renewing its Lease (kube-node-lease) and posting status
 * for the grace period gets Ready=Unknown; nodes not Ready get the
 * node.kubernetes.io/not-ready or unreachable NoSchedule and NoExecute
 * taints (removed when Ready again); pods on a node with a NoExecute taint
 * they do not tolerate, or tolerate only for tolerationSeconds that have
 * passed, are deleted. Loop thread only.
 * https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_nodelifecycle controller_nodelifecycle_t;

/* pods: the shared v1 pods informer with the nodeName index (borrowed,
 * must outlive the controller). grace: --node-monitor-grace-period in
 * seconds (upstream 40). Makes and starts its own node and Lease
 * informers. Returns 0 or a negative errno. */
int controller_nodelifecycle_new(client_t *c, client_informer_t *pods, struct ev_loop *loop,
                                 double grace, controller_nodelifecycle_t **ret_nl);
/* Cancels its requests, stops its informers. Accepts NULL. */
void controller_nodelifecycle_free(controller_nodelifecycle_t *nl);
