/* The reconcile loop of a controller: informers feed a work queue, a check
 * watcher (after the next poll; an idle watcher keeps that poll from
 * blocking) hands queued keys to sync() while fewer than `workers` run, a
 * timer wakes the queue's delayed keys. An idle watcher alone ran only when
 * nothing else was pending, so under API load keys waited.
 * https://kubernetes.io/docs/concepts/architecture/controller/ */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/strmap.h"

#define MAX_WAIT 8

struct controller {
  struct ev_loop *loop;
  char *name;
  int workers, running;
  controller_sync_cb sync;
  void *data;
  client_workqueue_t *q;
  client_informer_t *wait[MAX_WAIT];
  size_t n_wait;
  bool started;
  ev_check kick;
  ev_idle spin; /* keeps the loop from blocking while a kick waits */
  ev_timer delay;
};

static void kick(controller_t *ctl);

static bool synced(const controller_t *ctl) {
  for (size_t i = 0; i < ctl->n_wait; i++)
    if (!client_informer_synced(ctl->wait[i]))
      return false;
  return true;
}

static void arm_delay(controller_t *ctl) {
  double next = client_workqueue_promote(ctl->q, ev_now(ctl->loop));
  ev_timer_stop(ctl->loop, &ctl->delay);
  if (next > 0) {
    double in = next - ev_now(ctl->loop);
    ev_timer_set(&ctl->delay, in > 0 ? in : 0, 0);
    ev_timer_start(ctl->loop, &ctl->delay);
  }
}

static void dispatch(controller_t *ctl) {
  struct ev_loop *loop = ctl->loop;
  ev_check_stop(loop, &ctl->kick);
  ev_idle_stop(loop, &ctl->spin);
  if (!ctl->started)
    return;
  if (!synced(ctl)) { /* look again soon: informers sync from the loop */
    ev_timer_stop(loop, &ctl->delay);
    ev_timer_set(&ctl->delay, 0.05, 0);
    ev_timer_start(loop, &ctl->delay);
    return;
  }
  arm_delay(ctl);
  while (ctl->running < ctl->workers) {
    const char *key = client_workqueue_get(ctl->q);
    if (!key)
      break;
    ctl->running++;
    ctl->sync(ctl, key, ctl->data); /* may call controller_done before returning */
  }
}

static void kick_cb(struct ev_loop *loop, ev_check *w, int revents) {
  dispatch((controller_t *)((char *)w - offsetof(controller_t, kick)));
}

static void spin_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  dispatch((controller_t *)((char *)w - offsetof(controller_t, spin)));
}

static void delay_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  controller_t *ctl = (controller_t *)((char *)w - offsetof(controller_t, delay));
  kick(ctl);
}

static void kick(controller_t *ctl) {
  if (ctl->started && !ev_is_active(&ctl->kick)) {
    ev_check_start(ctl->loop, &ctl->kick);
    ev_idle_start(ctl->loop, &ctl->spin);
  }
}

int controller_new(struct ev_loop *loop, const controller_opts_t *opts, controller_t **ret_ctl) {
  if (!opts->sync || !opts->name)
    return -EINVAL;
  controller_t *ctl = xcalloc(1, sizeof(*ctl));
  ctl->loop = loop;
  ctl->name = xstrdup(opts->name);
  ctl->workers = opts->workers > 0 ? opts->workers : 5;
  ctl->sync = opts->sync;
  ctl->data = opts->data;
  ctl->q = client_workqueue_new(opts->base_delay, opts->max_delay, opts->max_keys);
  ev_check_init(&ctl->kick, kick_cb);
  ev_idle_init(&ctl->spin, spin_cb);
  ev_timer_init(&ctl->delay, delay_cb, 0, 0);
  *ret_ctl = ctl;
  return 0;
}

void controller_free(controller_t *ctl) {
  if (!ctl)
    return;
  ev_check_stop(ctl->loop, &ctl->kick);
  ev_idle_stop(ctl->loop, &ctl->spin);
  ev_timer_stop(ctl->loop, &ctl->delay);
  client_workqueue_free(ctl->q);
  free(ctl->name);
  free(ctl);
}

int controller_wait_for(controller_t *ctl, client_informer_t *inf) {
  if (ctl->n_wait >= MAX_WAIT)
    return -ENOSPC;
  ctl->wait[ctl->n_wait++] = inf;
  return 0;
}

void controller_start(controller_t *ctl) {
  ctl->started = true;
  kick(ctl);
}

void controller_enqueue(controller_t *ctl, const char *key) {
  if (client_workqueue_add(ctl->q, key) > 0)
    kick(ctl);
}

void controller_enqueue_obj(controller_t *ctl, const cJSON *obj) {
  char key[512];
  if (client_cache_key(obj, key, sizeof(key)) == 0)
    controller_enqueue(ctl, key);
}

void controller_enqueue_after(controller_t *ctl, const char *key, double seconds) {
  if (seconds <= 0) {
    controller_enqueue(ctl, key);
    return;
  }
  client_workqueue_add_after(ctl->q, key, ev_now(ctl->loop) + seconds);
  arm_delay(ctl);
}

void controller_done(controller_t *ctl, const char *key, int err) {
  char *k = xstrdup(key); /* key may be the queue's own string */
  if (err < 0)
    client_workqueue_add_rate_limited(ctl->q, k, ev_now(ctl->loop));
  else
    client_workqueue_forget(ctl->q, k);
  client_workqueue_done(ctl->q, k);
  free(k);
  if (ctl->running > 0)
    ctl->running--;
  arm_delay(ctl);
  kick(ctl);
}

const char *controller_name(const controller_t *ctl) { return ctl->name; }
struct ev_loop *controller_loop(const controller_t *ctl) { return ctl->loop; }
const client_workqueue_t *controller_queue(const controller_t *ctl) { return ctl->q; }

int controller_key_split(const char *key, char *ns, size_t nslen, char *name, size_t namelen) {
  const char *slash = strchr(key, '/');
  int a, b;
  if (slash) {
    a = snprintf(ns, nslen, "%.*s", (int)(slash - key), key);
    b = snprintf(name, namelen, "%s", slash + 1);
  } else {
    a = snprintf(ns, nslen, "%s", "");
    b = snprintf(name, namelen, "%s", key);
  }
  if (a < 0 || (size_t)a >= nslen || b < 0 || (size_t)b >= namelen || !name[0])
    return -EINVAL;
  return 0;
}

/* ---- the requests of one reconcile ---- */

void controller_ops_init(controller_ops_t *ops, void *owner, controller_step_cb end) {
  memset(ops, 0, sizeof(*ops));
  ops->_owner = owner;
  ops->_end = end;
}

static void op_free(controller_op_t *op) {
  free(op->name);
  free(op->uid);
  free(op);
}

void controller_ops_done(controller_ops_t *ops) {
  for (size_t i = 0; i < ops->_n; i++) {
    client_req_cancel(ops->_ops[i]->req); /* no callback follows: free it here */
    op_free(ops->_ops[i]);
  }
  free(ops->_ops);
  ops->_ops = NULL;
  ops->_n = ops->_cap = 0;
  ops->_then = NULL;
}

controller_op_t *controller_op_new(controller_ops_t *ops, int kind, const char *name,
                                   const char *uid) {
  controller_op_t *op = xcalloc(1, sizeof(*op));
  op->set = ops;
  op->kind = kind;
  op->name = name ? xstrdup(name) : NULL;
  op->uid = uid ? xstrdup(uid) : NULL;
  return op;
}

int controller_op_track(controller_op_t *op, client_req_t *req) {
  if (!req) {
    op_free(op);
    return -EINVAL;
  }
  controller_ops_t *ops = op->set;
  op->req = req;
  if (ops->_n == ops->_cap) {
    ops->_cap = ops->_cap ? ops->_cap * 2 : 8;
    ops->_ops = xrealloc(ops->_ops, ops->_cap * sizeof(*ops->_ops));
  }
  ops->_ops[ops->_n++] = op;
  return 0;
}

void controller_op_finish(controller_op_t *op) {
  controller_ops_t *ops = op->set;
  for (size_t i = 0; i < ops->_n; i++) {
    if (ops->_ops[i] == op) {
      ops->_ops[i] = ops->_ops[--ops->_n];
      break;
    }
  }
  op_free(op);
  if (ops->_n)
    return;
  controller_step_cb then = ops->_then ? ops->_then : ops->_end;
  ops->_then = NULL;
  if (then)
    then(ops->_owner); /* may free the owner, and ops with it */
}

void controller_ops_after(controller_ops_t *ops, controller_step_cb then) {
  if (ops->_n == 0) {
    then(ops->_owner);
    return;
  }
  ops->_then = then;
}

size_t controller_ops_pending(const controller_ops_t *ops) { return ops->_n; }

/* ---- expectations ---- */

#define EXP_MAX_KEYS 65536
#define EXP_TTL 300.0 /* upstream's ExpectationsTimeout */

typedef struct {
  char *key; /* the map's key */
  int adds;
  char **dels; /* uids whose deletion is expected */
  size_t n_dels;
  double at;
} exp_t;

struct controller_expectations {
  strmap_t map; /* key -> exp_t */
};

controller_expectations_t *controller_expectations_new(void) {
  controller_expectations_t *e = xcalloc(1, sizeof(*e));
  strmap_init(&e->map);
  return e;
}

static void exp_clear(exp_t *x) {
  for (size_t i = 0; i < x->n_dels; i++)
    free(x->dels[i]);
  free(x->dels);
  x->dels = NULL;
  x->n_dels = 0;
  x->adds = 0;
}

static void exp_free(exp_t *x) {
  exp_clear(x);
  free(x->key);
  free(x);
}

void controller_expectations_free(controller_expectations_t *e) {
  if (!e)
    return;
  for (size_t i = 0; i < e->map._cap; i++)
    if (e->map._slots[i].key)
      exp_free(e->map._slots[i].value);
  strmap_done(&e->map);
  free(e);
}

static exp_t *exp_get(controller_expectations_t *e, const char *key, double now) {
  exp_t *x = strmap_get(&e->map, key);
  if (x)
    return x;
  if (e->map.len >= EXP_MAX_KEYS)
    return NULL;
  x = xcalloc(1, sizeof(*x));
  x->key = xstrdup(key);
  x->at = now;
  if (strmap_put(&e->map, x->key, x, NULL) < 0) {
    exp_free(x);
    return NULL;
  }
  return x;
}

void controller_expectations_expect_adds(controller_expectations_t *e, const char *key, int n,
                                         double now) {
  exp_t *x = exp_get(e, key, now);
  if (!x)
    return;
  x->adds = n;
  x->at = now;
}

void controller_expectations_expect_dels(controller_expectations_t *e, const char *key,
                                         const char *const *uids, size_t n, double now) {
  exp_t *x = exp_get(e, key, now);
  if (!x)
    return;
  x->dels = xrealloc(x->dels, (x->n_dels + n + 1) * sizeof(*x->dels));
  for (size_t i = 0; i < n; i++)
    if (uids[i] && !controller_expectations_expects_del(e, key, uids[i]))
      x->dels[x->n_dels++] = xstrdup(uids[i]);
  x->at = now;
}

void controller_expectations_observe_add(controller_expectations_t *e, const char *key) {
  exp_t *x = strmap_get(&e->map, key);
  if (x && x->adds > 0)
    x->adds--;
}

void controller_expectations_observe_del(controller_expectations_t *e, const char *key,
                                         const char *uid) {
  exp_t *x = strmap_get(&e->map, key);
  if (!x || !uid)
    return;
  for (size_t i = 0; i < x->n_dels; i++) {
    if (!strcmp(x->dels[i], uid)) {
      free(x->dels[i]);
      x->dels[i] = x->dels[--x->n_dels];
      return;
    }
  }
}

bool controller_expectations_expects_del(const controller_expectations_t *e, const char *key,
                                         const char *uid) {
  const exp_t *x = strmap_get(&e->map, key);
  for (size_t i = 0; x && uid && i < x->n_dels; i++)
    if (!strcmp(x->dels[i], uid))
      return true;
  return false;
}

bool controller_expectations_satisfied(controller_expectations_t *e, const char *key, double now) {
  exp_t *x = strmap_get(&e->map, key);
  if (!x)
    return true;
  if ((x->adds <= 0 && x->n_dels == 0) || now - x->at > EXP_TTL) {
    exp_clear(x);
    return true;
  }
  return false;
}

void controller_expectations_delete(controller_expectations_t *e, const char *key) {
  exp_t *x = strmap_del(&e->map, key);
  if (x)
    exp_free(x);
}
