/* pkg/store watch fan-out: the shared event window and cursor-based
 * watchers (etcd watch semantics: ordered, no gaps, no duplicates, previous
 * value included; the Kubernetes watch cache's "too old resource version"
 * becomes -EOVERFLOW, a too-slow consumer -ENOBUFS). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/watch.h"
#include "util/alloc.h"

struct store_watch {
  store__hub_t *hub;
  struct store_watch *prev, *next;
  char *prefix;
  size_t plen;
  int64_t cursor;  /* last revision delivered (or skipped as not matching) */
  size_t pending;  /* matching events after cursor */
  bool paused;
  bool stopped;    /* stopped while the pump runs; freed by the pump */
  int failed;      /* negative errno once cut off; reported by the pump */
  store_event_cb cb;
  store_watch_error_cb err_cb;
  void *data;
};

static bool matches(const store_watch_t *w, const store_kv_t *kv) {
  return strncmp(kv->key, w->prefix, w->plen) == 0;
}

static void kick(store__hub_t *h) {
  if (!ev_is_active(&h->pump) && !h->pumping)
    ev_timer_start(h->loop, &h->pump);
}

static void unlink_watch(store_watch_t *w) {
  store__hub_t *h = w->hub;
  if (w->prev)
    w->prev->next = w->next;
  else
    h->watchers = w->next;
  if (w->next)
    w->next->prev = w->prev;
  w->prev = w->next = NULL;
}

static void free_watch(store_watch_t *w) {
  free(w->prefix);
  free(w);
}

static void fail(store_watch_t *w, int err) {
  if (w->failed || w->stopped)
    return;
  w->failed = err;
  kick(w->hub);
}

static bool wants_delivery(const store__hub_t *h, const store_watch_t *w) {
  return !w->paused && !w->stopped && !w->failed && w->cursor < store__hub_last_rev(h);
}

static void pump_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  store__hub_t *h = (store__hub_t *)((char *)t - offsetof(store__hub_t, pump));
  h->pumping = true;
  store_watch_t *w = h->watchers;
  while (w) {
    if (w->stopped || w->failed) {
      store_watch_t *next = w->next;
      unlink_watch(w);
      if (w->failed && !w->stopped && w->err_cb)
        w->err_cb(w, w->failed, w->cursor, w->data);
      free_watch(w);
      w = next;
      continue;
    }
    while (wants_delivery(h, w)) {
      const store__event_t *e = store__hub_get(h, w->cursor + 1);
      w->cursor++;
      if (!e || !matches(w, e->kv))
        continue;
      w->pending--;
      store_event_t ev = {.kind = e->kind, .kv = e->kv, .prev = e->prev, .created = e->created};
      w->cb(w, &ev, w->data);
    }
    /* Stopped by its own callback: the loop above left it for the next
     * turn of this while, which frees it. */
    if (w->stopped || w->failed)
      continue;
    w = w->next;
  }
  h->pumping = false;
  /* A callback may have unpaused a watcher we already passed. */
  for (w = h->watchers; w; w = w->next)
    if (wants_delivery(h, w) || w->failed || w->stopped) {
      kick(h);
      break;
    }
}

void store__hub_init(store__hub_t *h, struct ev_loop *loop, size_t cap, size_t queue_max,
                     int64_t rev) {
  memset(h, 0, sizeof(*h));
  h->loop = loop;
  h->cap = cap ? cap : 1;
  h->ring = xcalloc(h->cap, sizeof(*h->ring));
  h->queue_max = queue_max;
  h->first_rev = rev + 1;
  ev_timer_init(&h->pump, pump_cb, 0., 0.);
}

void store__hub_done(store__hub_t *h) {
  if (!h->ring)
    return;
  ev_timer_stop(h->loop, &h->pump);
  while (h->watchers) {
    store_watch_t *w = h->watchers;
    unlink_watch(w);
    free_watch(w);
  }
  store__event_t e;
  while (store__hub_drop(h, &e)) {
    store_kv_unref(e.kv);
    store_kv_unref(e.prev);
  }
  free(h->ring);
  h->ring = NULL;
}

const store__event_t *store__hub_get(const store__hub_t *h, int64_t rev) {
  if (rev < h->first_rev || rev > store__hub_last_rev(h))
    return NULL;
  size_t off = (size_t)(rev - h->first_rev);
  return &h->ring[(h->head + off) % h->cap];
}

void store__hub_append(store__hub_t *h, const store__event_t *ev) {
  h->ring[(h->head + h->count) % h->cap] = *ev;
  h->count++;
  int64_t rev = ev->kv->mod_rev;
  bool work = false;
  for (store_watch_t *w = h->watchers; w; w = w->next) {
    if (w->stopped || w->failed || rev <= w->cursor || !matches(w, ev->kv))
      continue;
    if (++w->pending > h->queue_max)
      fail(w, -ENOBUFS);
    else if (!w->paused)
      work = true;
  }
  if (work)
    kick(h);
}

bool store__hub_drop(store__hub_t *h, store__event_t *ret_ev) {
  if (h->count == 0)
    return false;
  store__event_t *e = &h->ring[h->head];
  int64_t rev = h->first_rev;
  for (store_watch_t *w = h->watchers; w; w = w->next) {
    if (w->stopped || w->failed || w->cursor >= rev)
      continue;
    if (matches(w, e->kv))
      fail(w, -ENOBUFS);
    else
      w->cursor = rev;
  }
  *ret_ev = *e;
  memset(e, 0, sizeof(*e));
  h->head = (h->head + 1) % h->cap;
  h->count--;
  h->first_rev++;
  return true;
}

int store__hub_watch(store__hub_t *h, const char *prefix, int64_t after_rev, store_event_cb cb,
                     store_watch_error_cb err_cb, void *data, store_watch_t **ret_watch) {
  int64_t last = store__hub_last_rev(h);
  if (!cb || !prefix)
    return -EINVAL;
  if (after_rev == 0)
    after_rev = last;
  if (after_rev < h->first_rev - 1)
    return -EOVERFLOW;
  store_watch_t *w = xcalloc(1, sizeof(*w));
  w->hub = h;
  w->prefix = xstrdup(prefix);
  w->plen = strlen(prefix);
  w->cursor = after_rev;
  w->cb = cb;
  w->err_cb = err_cb;
  w->data = data;
  /* A start in the future (up to INT64_MAX) is a cursor past the window:
   * nothing is pending and events arrive once revisions pass it. Count only
   * inside the window, so after_rev + 1 is never computed at INT64_MAX. */
  for (int64_t r = after_rev; r < last; r++) {
    const store__event_t *e = store__hub_get(h, r + 1);
    if (e && matches(w, e->kv))
      w->pending++;
  }
  w->next = h->watchers;
  if (w->next)
    w->next->prev = w;
  h->watchers = w;
  if (w->cursor < last)
    kick(h);
  *ret_watch = w;
  return 0;
}

void store_watch_stop(store_watch_t *w) {
  if (!w)
    return;
  if (w->hub->pumping) {
    w->stopped = true;
    return;
  }
  unlink_watch(w);
  free_watch(w);
}

void store_watch_pause(store_watch_t *w, bool paused) {
  w->paused = paused;
  if (!paused && wants_delivery(w->hub, w))
    kick(w->hub);
}
