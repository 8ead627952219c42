/* pkg/controller: the controller skeleton every controller is written in
 * (upstream's "informer + work queue + reconcile(key)"), the event
 * recorder (events.h) and the controllers, one file per kind.
 * Design: docs/CLIENT.md.
 *
 * A controller owns a work queue of keys ("namespace/name"). Informer
 * handlers enqueue keys; once every informer the controller waits for has
 * synced, up to `workers` keys are reconciled at once: sync(key) starts the
 * work (usually asynchronous client calls) and ends it with
 * controller_done(key, err). err < 0 requeues the key after its back-off
 * (5 ms doubling to 1000 s); 0 forgets its failures. A key is never
 * reconciled twice at once; keys added meanwhile run again after.
 *
 * Threads: one libev loop; every function on that loop. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>

#include "client/informer.h"
#include "client/workqueue.h"

typedef struct controller controller_t;

/* key: borrowed, valid until controller_done for it. */
typedef void (*controller_sync_cb)(controller_t *ctl, const char *key, void *data);

typedef struct {
  const char *name;   /* "replicaset-controller" (copied) */
  int workers;        /* concurrent reconciles; default 5 (upstream's --concurrent-*-syncs) */
  double base_delay;  /* retry back-off; 0: 0.005 s */
  double max_delay;   /* 0: 1000 s */
  size_t max_keys;    /* work queue limit; 0: 1,000,000 */
  controller_sync_cb sync;
  void *data;
} controller_opts_t;

int controller_new(struct ev_loop *loop, const controller_opts_t *opts, controller_t **ret_ctl);
/* Stop and free; a reconcile still running must not call controller_done
 * afterwards (its owner cancels its requests first). Accepts NULL. */
void controller_free(controller_t *ctl);

/* Reconcile only once inf has synced (up to 8 informers). */
int controller_wait_for(controller_t *ctl, client_informer_t *inf);
/* Begin reconciling (when the informers are synced). */
void controller_start(controller_t *ctl);

void controller_enqueue(controller_t *ctl, const char *key);
/* The key of obj ("ns/name"). */
void controller_enqueue_obj(controller_t *ctl, const cJSON *obj);
void controller_enqueue_after(controller_t *ctl, const char *key, double seconds);
void controller_done(controller_t *ctl, const char *key, int err);

const char *controller_name(const controller_t *ctl);
struct ev_loop *controller_loop(const controller_t *ctl);
/* The queue, for tests and metrics (read only). */
const client_workqueue_t *controller_queue(const controller_t *ctl);

/* Split "ns/name" into its parts (ns "" for cluster-scoped keys). Returns
 * 0 or -EINVAL. */
int controller_key_split(const char *key, char *ns, size_t nslen, char *name, size_t namelen);
