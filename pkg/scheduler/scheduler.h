/* pkg/scheduler: what `k3c server` runs as its kube-scheduler
 * ("default-scheduler"): it watches pods and nodes through informers,
 * places each pending pod (spec.schedulerName default-scheduler or empty,
 * no spec.nodeName) on the best feasible node and binds it through
 * pods/NAME/binding; a pod that fits nowhere gets PodScheduled=False
 * (Unschedulable), a FailedScheduling event in upstream's words, and may
 * preempt lower-priority pods. Design: docs/SCHEDULER.md.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/
 *
 * Threads: the loop of its client; every function on that loop. */
#pragma once

#include "client/client.h"
#include "client/informer.h"

#include <ev.h>

typedef struct scheduler scheduler_t;

/* Start scheduling through c (which must outlive the scheduler). pods: a
 * shared v1 pods informer with the nodeName index (client/cache.h), started
 * by its owner, which must outlive the scheduler; NULL: the scheduler makes
 * and starts its own. The node informer is its own. Returns 0 or a
 * negative errno. */
int scheduler_new(struct ev_loop *loop, client_t *c, client_informer_t *pods, scheduler_t **ret_s);
/* Give the scheduler the PersistentVolumeClaim, PersistentVolume and
 * StorageClass informers (borrowed: their owner starts them and outlives
 * the scheduler): from then on it runs the VolumeBinding filter and sets
 * the selected-node annotation of WaitForFirstConsumer claims
 * (scheduler/volumes.h). Once. */
void scheduler_set_volumes(scheduler_t *s, client_informer_t *pvcs, client_informer_t *pvs,
                           client_informer_t *classes);
/* Cancel the requests in flight, stop the informers (and remove the
 * handlers from a shared pods informer, which may go on), free. Accepts
 * NULL. */
void scheduler_free(scheduler_t *s);

typedef struct {
  unsigned attempts;      /* scheduling cycles run */
  unsigned bound;         /* bindings the API accepted */
  unsigned unschedulable; /* cycles that found no node */
  unsigned bind_errors;   /* bindings refused or failed */
  unsigned preemptions;   /* cycles that evicted victims */
  unsigned victims;       /* pods deleted to make room */
  double cycle_seconds;   /* CPU time spent in cycles (filters, scores, preemption, the
                           * binding request handed to the in-process API) */
  double bind_seconds;    /* of which in the binding request (the API's handler) */
} scheduler_stats_t;
void scheduler_stats(const scheduler_t *s, scheduler_stats_t *ret_stats);
