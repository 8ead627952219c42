/* The Job controller (job.c) and the TTL-after-finished controller
 * (ttlafterfinished.c). Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_job controller_job_t;

/* Reconcile the Jobs of job_inf (batch/v1 jobs) against the pods of pod_inf
 * (v1 pods); both informers need the namespace index. Registers its
 * handlers and starts; the informers and the client must outlive it. */
int controller_job_new(client_t *c, client_informer_t *job_inf, client_informer_t *pod_inf,
                       struct ev_loop *loop, controller_job_t **ret_jc);
/* The pod failure back-off: base seconds (upstream 10), doubled per failure
 * since the last success, capped at max (360). For tests. */
void controller_job_set_backoff(controller_job_t *jc, double base, double max);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_job_free(controller_job_t *jc);

typedef struct controller_ttl controller_ttl_t;

/* Delete finished Jobs of job_inf once spec.ttlSecondsAfterFinished has
 * passed since they finished (foreground propagation, as upstream). */
int controller_ttl_new(client_t *c, client_informer_t *job_inf, struct ev_loop *loop,
                       controller_ttl_t **ret_tc);
void controller_ttl_free(controller_ttl_t *tc);

/* Shared with the CronJob controller: whether a Job has the condition
 * type ("Complete", "Failed", ...) with status True, and whether it is
 * finished (Complete or Failed true). */
bool controller__job_condition(const cJSON *job, const char *type);
bool controller__job_finished(const cJSON *job);
