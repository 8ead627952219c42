/* pkg/client work queue: the keys controllers reconcile, deduplicated (a key
 * waits at most once; a key added while it is being processed is processed
 * again after), with delayed adds and per-key exponential retry back-off,
 * like upstream's client-go workqueue with its default per-item limiter
 * (5 ms doubling per failure, capped at 1000 s).
 * https://pkg.go.dev/k8s.io/client-go/util/workqueue
 *
 * Pure: time is passed in (seconds, any monotonic clock); the caller
 * (pkg/controller) arms a timer for client_workqueue_next_deadline().
 * Single-threaded. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct client_workqueue client_workqueue_t;

/* base_delay/max_delay: the retry back-off (0: 0.005 s and 1000 s).
 * max_keys: hard limit on the keys known (queued, processing, waiting or
 * remembered for their failures); 0: 1,000,000. */
client_workqueue_t *client_workqueue_new(double base_delay, double max_delay, size_t max_keys);
void client_workqueue_free(client_workqueue_t *q); /* accepts NULL */

/* Queue key (copied) now. Returns 1 when queued, 0 when it already waits
 * (or is marked to run again after its processing), -ENOSPC at max_keys. */
int client_workqueue_add(client_workqueue_t *q, const char *key);
/* Queue key at time at (absolute); an earlier pending time wins. */
int client_workqueue_add_after(client_workqueue_t *q, const char *key, double at);
/* Queue key after its back-off (base * 2^failures, capped) from now, and
 * count one more failure. */
int client_workqueue_add_rate_limited(client_workqueue_t *q, const char *key, double now);
/* Forget key's failures (after a successful reconcile). */
void client_workqueue_forget(client_workqueue_t *q, const char *key);
int client_workqueue_failures(const client_workqueue_t *q, const char *key);
/* The back-off the next add_rate_limited of key would wait. */
double client_workqueue_backoff(const client_workqueue_t *q, const char *key);

/* Move the delayed keys whose time has come into the queue. Returns the
 * next pending time, or 0 when nothing is delayed. */
double client_workqueue_promote(client_workqueue_t *q, double now);
double client_workqueue_next_deadline(const client_workqueue_t *q);

/* Take the next queued key (FIFO), marking it processing. Borrowed string,
 * valid until client_workqueue_done for it. NULL when none is queued. */
const char *client_workqueue_get(client_workqueue_t *q);
/* Processing of key ended; if it was added meanwhile it is queued again. */
void client_workqueue_done(client_workqueue_t *q, const char *key);

size_t client_workqueue_len(const client_workqueue_t *q);        /* queued now */
size_t client_workqueue_processing(const client_workqueue_t *q); /* taken, not done */
size_t client_workqueue_delayed(const client_workqueue_t *q);    /* waiting for a time */
