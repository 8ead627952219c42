/* The disruption controller (disruption.c), upstream's: the status of
 * each PodDisruptionBudget (expectedPods, currentHealthy, desiredHealthy,
 * disruptionsAllowed, disruptedPods, the DisruptionAllowed condition,
 * observedGeneration) from the ready pods its selector matches, which the
 * eviction API (pods/eviction) checks. Loop thread only.
 * https://kubernetes.io/docs/concepts/workloads/pods/disruptions/ */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_disruption controller_disruption_t;

/* pdb_inf: policy/v1 poddisruptionbudgets; pod_inf: v1 pods (both with the
 * namespace index; borrowed, must outlive the controller). */
int controller_disruption_new(client_t *c, client_informer_t *pdb_inf, client_informer_t *pod_inf,
                              struct ev_loop *loop, controller_disruption_t **ret_dc);
/* Cancels its requests. Accepts NULL. */
void controller_disruption_free(controller_disruption_t *dc);
