/* pkg/controller event recorder: what a controller did, as core/v1 Events
 * that `kubectl describe` and `kubectl get events` show, with upstream's
 * reasons and wording. Repeats of the same (object, type, reason, message)
 * increase count and lastTimestamp of one Event instead of making new
 * ones, as client-go's EventCorrelator does; at most 4096 distinct events
 * are remembered (the oldest is forgotten first).
 * https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 *
 * Threads: the loop of its client. Writes are asynchronous and best effort:
 * a failed write is dropped (as upstream's recorder does after retries). */
#pragma once

#include <cjson/cJSON.h>

#include "client/client.h"

typedef struct controller_recorder controller_recorder_t;

/* component: source.component and reportingComponent
 * ("replicaset-controller"). The client must outlive the recorder. */
controller_recorder_t *controller_recorder_new(client_t *c, const char *component);
/* Cancels writes in flight. Accepts NULL. */
void controller_recorder_free(controller_recorder_t *rec);

/* Record an event about obj (borrowed; its kind, apiVersion, metadata
 * name/namespace/uid/resourceVersion are copied). type: "Normal" or
 * "Warning". */
void controller_recorder_eventf(controller_recorder_t *rec, const cJSON *obj, const char *type,
                                const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Counters for tests: events created, and repeats folded into a count. */
void controller_recorder_stats(const controller_recorder_t *rec, unsigned *ret_created,
                               unsigned *ret_repeats);
