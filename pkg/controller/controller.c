/* The reconcile loop of a controller: informers feed a work queue, an idle
 * watcher hands queued keys to sync() while fewer than `workers` run, a
 * timer wakes the queue's delayed keys.
 * https://kubernetes.io/docs/concepts/architecture/controller/ */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

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
  ev_idle kick;
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

static void kick_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  controller_t *ctl = (controller_t *)((char *)w - offsetof(controller_t, kick));
  ev_idle_stop(loop, w);
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

static void delay_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  controller_t *ctl = (controller_t *)((char *)w - offsetof(controller_t, delay));
  kick(ctl);
}

static void kick(controller_t *ctl) {
  if (ctl->started && !ev_is_active(&ctl->kick))
    ev_idle_start(ctl->loop, &ctl->kick);
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
  ev_idle_init(&ctl->kick, kick_cb);
  ev_timer_init(&ctl->delay, delay_cb, 0, 0);
  *ret_ctl = ctl;
  return 0;
}

void controller_free(controller_t *ctl) {
  if (!ctl)
    return;
  ev_idle_stop(ctl->loop, &ctl->kick);
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
