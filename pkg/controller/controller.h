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

/* ---- the requests of one reconcile ----
 * A reconcile usually issues several client requests at once and goes on
 * when all of them have answered. controller_ops_t keeps that bookkeeping:
 * each request carries a controller_op_t; its callback ends with
 * controller_op_finish(op), and when the last request of the set has
 * finished the step given to controller_ops_after runs (or, with none, the
 * set's end callback, which normally ends the reconcile). Freeing the owner
 * calls controller_ops_done, which cancels what is still in flight: no
 * callback of those requests runs afterwards. Embedded in its owner. */
typedef void (*controller_step_cb)(void *owner);

typedef struct controller_ops controller_ops_t;

typedef struct {
  controller_ops_t *set;
  client_req_t *req;
  int kind;        /* the caller's tag */
  char *name, *uid; /* the caller's copies (owned; freed with the op), may be NULL */
  long n;          /* the caller's number */
} controller_op_t;

struct controller_ops {
  void *_owner;
  controller_step_cb _end, _then;
  controller_op_t **_ops;
  size_t _n, _cap;
};

/* owner: handed to the steps; end: runs when the last request finishes and
 * no step is waiting (may be NULL). */
void controller_ops_init(controller_ops_t *ops, void *owner, controller_step_cb end);
/* Cancel the requests in flight (their callbacks never run) and free their
 * records. The set may be initialised again afterwards. */
void controller_ops_done(controller_ops_t *ops);
/* A record for a request about to start (name, uid copied; may be NULL). */
controller_op_t *controller_op_new(controller_ops_t *ops, int kind, const char *name,
                                   const char *uid);
/* Track the request started for op. req NULL (a malformed ref: the verb
 * calls nothing back): op is freed and -EINVAL returned. Returns 0. */
int controller_op_track(controller_op_t *op, client_req_t *req);
/* From op's callback, as its last use of op: frees op; when it was the
 * last request in flight, runs the waiting step (or end). The owner may be
 * freed by that step, so the caller must not touch it afterwards. */
void controller_op_finish(controller_op_t *op);
/* Run then(owner) once no request is in flight: now if none is. */
void controller_ops_after(controller_ops_t *ops, controller_step_cb then);
size_t controller_ops_pending(const controller_ops_t *ops);
/* The owner given to controller_ops_init. */
static inline void *controller_op_owner(const controller_op_t *op) { return op->set->_owner; }

/* ---- expectations ----
 * Upstream's ControllerExpectations: the creations and deletions a
 * controller issued that its informer has not shown yet, per key. While
 * some are outstanding (and for at most 5 minutes) the controller must not
 * count again, or a cache that lags its own writes causes extra pods.
 * Time is a parameter (seconds, the loop's ev_now). At most 65,536 keys
 * (further expectations are not recorded, so those keys count as
 * satisfied). */
typedef struct controller_expectations controller_expectations_t;

controller_expectations_t *controller_expectations_new(void);
void controller_expectations_free(controller_expectations_t *e); /* accepts NULL */
/* Expect n creations for key (replacing what was expected). */
void controller_expectations_expect_adds(controller_expectations_t *e, const char *key, int n,
                                         double now);
/* Expect the uids (copied) to go for key, besides those still expected. */
void controller_expectations_expect_dels(controller_expectations_t *e, const char *key,
                                         const char *const *uids, size_t n, double now);
/* One expected creation seen (or never coming: a create failed). */
void controller_expectations_observe_add(controller_expectations_t *e, const char *key);
/* The deletion of uid seen (or never coming). */
void controller_expectations_observe_del(controller_expectations_t *e, const char *key,
                                         const char *uid);
/* Whether uid's deletion is still expected for key. */
bool controller_expectations_expects_del(const controller_expectations_t *e, const char *key,
                                         const char *uid);
/* Nothing outstanding for key, or its expectations are older than 5
 * minutes (then they are dropped). */
bool controller_expectations_satisfied(controller_expectations_t *e, const char *key, double now);
/* Forget key (its object is gone). */
void controller_expectations_delete(controller_expectations_t *e, const char *key);
