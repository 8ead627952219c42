/* The resource quota controller (resourcequota.c): status.hard and
 * status.used of every ResourceQuota. Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_quota controller_quota_t;

/* Keep the status of the ResourceQuotas of quota_inf (v1 resourcequotas)
 * from the pods of pod_inf and services of svc_inf (both v1, with the
 * namespace index, as quota_inf) and, for the other counted kinds, lists
 * through c; every quota is recounted every resync seconds (0: 10) and when
 * its namespace's pods or services change. Registers its handlers and
 * starts; informers and client must outlive it. */
int controller_quota_new(client_t *c, client_informer_t *quota_inf, client_informer_t *pod_inf,
                         client_informer_t *svc_inf, double resync, struct ev_loop *loop,
                         controller_quota_t **ret_qc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_quota_free(controller_quota_t *qc);
