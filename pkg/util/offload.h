/* The loop lock and its worker: how code written for the one event loop
 * runs on a second thread, so that the CPU-heavy, pure parts of a big
 * request (decoding, validation, merging 3 MiB bodies) do not stall every
 * other client (docs/ARCHITECTURE.md, "Concurrency").
 *
 * The model is a big lock, as in libev's "thread locking example": one
 * mutex guards everything the loop owns. The loop thread holds it except
 * while it waits for events (ev_set_loop_release_cb). A task handed to
 * offload_submit runs on the worker thread holding the lock, so it may call
 * any loop code exactly as a loop callback could. Inside a task, code that
 * touches only memory the task owns (its request's body and trees,
 * constant tables, objects kept alive with offload_defer) brackets itself
 * with offload_unlock/offload_relock: the loop runs meanwhile. On the loop
 * thread those two calls do nothing, so the same code serves both.
 *
 * What may be done while unlocked: read the request's own bytes, build and
 * walk private cJSON trees, read constant schema tables and objects whose
 * freeing goes through offload_defer. Never: touch the store, the
 * registry's mutable rows, connections, watchers or any loop-owned list.
 * Tasks of offload_submit run in order on one worker. Those of
 * offload_submit_any run on a pool that grows to 16 threads while all of
 * its threads are busy, so a task waiting on the network in an unlocked
 * section (an admission webhook's call) holds up only itself: its peers
 * take the lock in turn and run meanwhile. Several tasks may be in
 * unlocked sections at once; each must still touch only its own memory. */
#pragma once

#include <ev.h>
#include <stdbool.h>

typedef void (*offload_task_cb)(void *data);

/* Take the lock for the calling (loop) thread, install the release and
 * acquire callbacks on loop and start the worker thread. Call once, on the
 * loop's thread, before ev_run. Returns 0 or -errno. */
int offload_start(struct ev_loop *loop);
/* Run every queued task, stop the worker and remove the callbacks; the
 * calling (loop) thread holds the lock again on return. Safe without a
 * start. */
void offload_stop(void);

/* Queue fn(data) to run on the worker holding the lock. Loop thread (or a
 * task) only. Without offload_start, fn runs at once. */
void offload_submit(offload_task_cb fn, void *data);

/* Queue fn(data) to run on a pool thread holding the lock, in no order
 * with other tasks: for requests whose unlocked sections may block (a
 * webhook call). Loop thread or a task. Without offload_start, fn runs at
 * once. */
void offload_submit_any(offload_task_cb fn, void *data);

/* Queue fn(data) to run on the worker without the lock: pure work on
 * memory the caller hands over (freeing a big tree the loop is done with).
 * Loop thread or a task. Without offload_start, fn runs at once. */
void offload_submit_pure(offload_task_cb fn, void *data);

/* Inside a task: release the lock for pure work / take it back. A no-op
 * pair elsewhere. Nesting is not allowed. */
void offload_unlock(void);
void offload_relock(void);

/* Run fn(data) once no task is in an unlocked section (at once when none
 * is): how the loop frees what unlocked code may still be reading (a CRD's
 * schema replaced meanwhile). Lock held; fn runs with the lock held. */
void offload_defer(offload_task_cb fn, void *data);

/* Is the calling thread running a task (the worker, lock held)? Code may
 * prepare work for unlocked sections only then. */
bool offload_in_task(void);

/* For tests and metrics: is a task between offload_unlock and
 * offload_relock now? Lock held. */
bool offload_unlocked_now(void);
