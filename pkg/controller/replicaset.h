/* The ReplicaSet controller, which also serves v1 ReplicationControllers
 * (replicaset.c). Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"
#include "controller/events.h"

typedef struct controller_replicaset controller_replicaset_t;

/* Reconcile the ReplicaSets of rs_inf (apps/v1 replicasets) against the
 * pods of pod_inf (v1 pods; both informers need the namespace index), writing
 * through c. Registers its handlers on both informers and starts; the
 * informers and the client must outlive it. */
int controller_replicaset_new(client_t *c, client_informer_t *rs_inf, client_informer_t *pod_inf,
                              struct ev_loop *loop, controller_replicaset_t **ret_rc);
/* The same for v1 ReplicationControllers (rc_inf: v1
 * replicationcontrollers; events from "replication-controller"). */
int controller_replicationcontroller_new(client_t *c, client_informer_t *rc_inf,
                                         client_informer_t *pod_inf, struct ev_loop *loop,
                                         controller_replicaset_t **ret_rc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_replicaset_free(controller_replicaset_t *rc);
