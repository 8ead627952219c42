/* pkg/store internal: the event window and watch fan-out ("hub").
 *
 * The window is a ring of the last N committed events, one per revision with
 * no gaps, so event r sits at a fixed offset from the oldest. A watcher is a
 * cursor (the last revision it was given) into that shared ring: nothing is
 * copied per watcher, so a slow watcher costs no memory of its own. It is cut
 * off with -ENOBUFS when it has more than queue_max undelivered events, or
 * when the window must drop an event it has not yet seen. Delivery runs from
 * a zero-delay timer on the loop, never inside a store_* call.
 * Loop thread only. */
#pragma once

#include <ev.h>

#include "store/store.h"

typedef struct {
  store_event_kind_t kind;
  store_kv_t *kv;   /* owned reference; rev = kv->mod_rev */
  store_kv_t *prev; /* owned reference or NULL */
  bool created;
} store__event_t;

typedef struct {
  struct ev_loop *loop;
  store__event_t *ring;
  size_t cap, head, count;
  int64_t first_rev; /* revision of the oldest event; the window's start */
  size_t queue_max;
  struct store_watch *watchers; /* doubly linked */
  ev_timer pump;
  bool pumping;
} store__hub_t;

/* Empty window just after revision rev. */
void store__hub_init(store__hub_t *h, struct ev_loop *loop, size_t cap, size_t queue_max,
                     int64_t rev);
/* Stop delivery, free every watcher without calling it, drop the events. */
void store__hub_done(store__hub_t *h);

static inline int64_t store__hub_last_rev(const store__hub_t *h) {
  return h->first_rev + (int64_t)h->count - 1;
}
/* The event at rev, or NULL outside the window. */
const store__event_t *store__hub_get(const store__hub_t *h, int64_t rev);
static inline bool store__hub_full(const store__hub_t *h) { return h->count == h->cap; }
/* Append the event of the next revision (takes the references in ev). The
 * window must not be full. */
void store__hub_append(store__hub_t *h, const store__event_t *ev);
/* Remove the oldest event and hand its references to the caller; watchers
 * that still needed it are cut off. Returns false when empty. */
bool store__hub_drop(store__hub_t *h, store__event_t *ret_ev);

int store__hub_watch(store__hub_t *h, const char *prefix, int64_t after_rev, store_event_cb cb,
                     store_watch_error_cb err_cb, void *data, store_watch_t **ret_watch);
