/* The StatefulSet controller (statefulset.c). Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_statefulset controller_statefulset_t;

/* Reconcile the StatefulSets of set_inf (apps/v1 statefulsets) against the
 * pods of pod_inf (v1 pods), their ControllerRevisions (rev_inf, apps/v1
 * controllerrevisions, owner index) and PersistentVolumeClaims (pvc_inf,
 * v1 persistentvolumeclaims); all with the namespace index. Registers its
 * handlers and starts; the informers and the client must outlive it. */
int controller_statefulset_new(client_t *c, client_informer_t *set_inf, client_informer_t *pod_inf,
                               client_informer_t *rev_inf, client_informer_t *pvc_inf,
                               struct ev_loop *loop, controller_statefulset_t **ret_sc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_statefulset_free(controller_statefulset_t *sc);
