/* pkg/controller manager: what `k3c server` runs as its
 * kube-controller-manager: the shared informers (one per kind, shared by
 * every controller that reads the kind) and the controllers on them.
 * Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_manager controller_manager_t;

/* Start the informers and controllers over c (which must outlive the
 * manager). Returns 0 or a negative errno. */
int controller_manager_start(struct ev_loop *loop, client_t *c, controller_manager_t **ret_mgr);
/* The shared pod informer (namespace, owner and nodeName indexes), for the
 * scheduler and other in-process users; borrowed, valid until the manager
 * is freed. */
client_informer_t *controller_manager_pods(const controller_manager_t *mgr);
/* The shared Node informer; borrowed, as the pods'. */
client_informer_t *controller_manager_nodes(const controller_manager_t *mgr);
/* The shared PersistentVolumeClaim, PersistentVolume and StorageClass
 * informers (for the PV binder and the scheduler); borrowed, as the pods'. */
client_informer_t *controller_manager_pvcs(const controller_manager_t *mgr);
client_informer_t *controller_manager_pvs(const controller_manager_t *mgr);
client_informer_t *controller_manager_storageclasses(const controller_manager_t *mgr);
/* The shared Namespace informer; borrowed, as the pods'. */
client_informer_t *controller_manager_namespaces(const controller_manager_t *mgr);
/* The shared Service informer; borrowed, as the pods'. */
client_informer_t *controller_manager_services(const controller_manager_t *mgr);
/* The shared ServiceAccount informer; borrowed, as the pods'. */
client_informer_t *controller_manager_serviceaccounts(const controller_manager_t *mgr);
/* The Job controller's pod failure back-off (seconds; tests shorten it). */
void controller_manager_set_job_backoff(controller_manager_t *mgr, double base, double max);
/* Endpoints per EndpointSlice (1..1000; upstream's --max-endpoints-per-slice). */
void controller_manager_set_max_endpoints_per_slice(controller_manager_t *mgr, int max);
/* Stop every controller, then the informers. Accepts NULL. */
void controller_manager_free(controller_manager_t *mgr);
