/* The CronJob controller (cronjob.c). Loop thread only. */
#pragma once

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_cronjob controller_cronjob_t;

/* Reconcile the CronJobs of cj_inf (batch/v1 cronjobs) against the Jobs of
 * job_inf (batch/v1 jobs, with the owner index). Registers its handlers
 * and starts; the informers and the client must outlive it. */
int controller_cronjob_new(client_t *c, client_informer_t *cj_inf, client_informer_t *job_inf,
                           struct ev_loop *loop, controller_cronjob_t **ret_cc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_cronjob_free(controller_cronjob_t *cc);
