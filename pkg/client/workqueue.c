/* The controllers' work queue: a FIFO of unique keys, a processing set, a
 * min-heap of delayed keys and per-key failure counts, one record per key
 * in a hash table. The semantics are client-go's workqueue: a key is never
 * processed by two workers at once, adds while processing mark it dirty.
 * https://pkg.go.dev/k8s.io/client-go/util/workqueue */
#include "client/workqueue.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

typedef struct item {
  char *key;
  struct item *hnext;   /* hash chain */
  struct item *qnext;   /* FIFO */
  bool queued, processing, dirty;
  double delay_at;      /* 0: not delayed */
  int failures;
  unsigned heap_refs;   /* heap entries pointing here, live or superseded */
} item_t;

typedef struct {
  double at;
  item_t *it;
} delayed_t;

struct client_workqueue {
  item_t **table;
  size_t cap, n;
  item_t *head, *tail;
  size_t queued, processing;
  delayed_t *heap;
  size_t heap_n, heap_cap;
  double base, max;
  size_t max_keys;
};

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

client_workqueue_t *client_workqueue_new(double base_delay, double max_delay, size_t max_keys) {
  client_workqueue_t *q = xcalloc(1, sizeof(*q));
  q->base = base_delay > 0 ? base_delay : 0.005;
  q->max = max_delay > 0 ? max_delay : 1000.0;
  q->max_keys = max_keys ? max_keys : 1000000;
  q->cap = 64;
  q->table = xcalloc(q->cap, sizeof(*q->table));
  return q;
}

void client_workqueue_free(client_workqueue_t *q) {
  if (!q)
    return;
  for (size_t i = 0; i < q->cap; i++) {
    item_t *it = q->table[i];
    while (it) {
      item_t *next = it->hnext;
      free(it->key);
      free(it);
      it = next;
    }
  }
  free(q->table);
  free(q->heap);
  free(q);
}

static item_t *find(const client_workqueue_t *q, const char *key) {
  for (item_t *it = q->table[hash(key) & (q->cap - 1)]; it; it = it->hnext)
    if (!strcmp(it->key, key))
      return it;
  return NULL;
}

static void grow(client_workqueue_t *q) {
  size_t cap = q->cap * 2;
  item_t **t = xcalloc(cap, sizeof(*t));
  for (size_t i = 0; i < q->cap; i++) {
    item_t *it = q->table[i];
    while (it) {
      item_t *next = it->hnext;
      size_t j = hash(it->key) & (cap - 1);
      it->hnext = t[j];
      t[j] = it;
      it = next;
    }
  }
  free(q->table);
  q->table = t;
  q->cap = cap;
}

static item_t *get_or_make(client_workqueue_t *q, const char *key) {
  item_t *it = find(q, key);
  if (it)
    return it;
  if (q->n >= q->max_keys)
    return NULL;
  if (q->n * 2 >= q->cap)
    grow(q);
  it = xcalloc(1, sizeof(*it));
  it->key = xstrdup(key);
  size_t j = hash(key) & (q->cap - 1);
  it->hnext = q->table[j];
  q->table[j] = it;
  q->n++;
  return it;
}

/* Drop the record when nothing refers to it any more. */
static void maybe_drop(client_workqueue_t *q, item_t *it) {
  if (it->queued || it->processing || it->dirty || it->delay_at > 0 || it->failures ||
      it->heap_refs)
    return;
  item_t **pp = &q->table[hash(it->key) & (q->cap - 1)];
  while (*pp != it)
    pp = &(*pp)->hnext;
  *pp = it->hnext;
  q->n--;
  free(it->key);
  free(it);
}

static void enqueue(client_workqueue_t *q, item_t *it) {
  it->queued = true;
  it->qnext = NULL;
  if (q->tail)
    q->tail->qnext = it;
  else
    q->head = it;
  q->tail = it;
  q->queued++;
}

/* Queue (or mark dirty) it now. */
static int add_now(client_workqueue_t *q, item_t *it) {
  if (it->queued || it->dirty)
    return 0;
  if (it->processing) {
    it->dirty = true; /* run again once the current processing ends */
    return 1;
  }
  enqueue(q, it);
  return 1;
}

int client_workqueue_add(client_workqueue_t *q, const char *key) {
  item_t *it = get_or_make(q, key);
  if (!it)
    return -ENOSPC;
  return add_now(q, it);
}

static void heap_swap(client_workqueue_t *q, size_t a, size_t b) {
  delayed_t t = q->heap[a];
  q->heap[a] = q->heap[b];
  q->heap[b] = t;
}

static void heap_push(client_workqueue_t *q, double at, item_t *it) {
  if (q->heap_n == q->heap_cap) {
    q->heap_cap = q->heap_cap ? q->heap_cap * 2 : 16;
    q->heap = xrealloc(q->heap, q->heap_cap * sizeof(*q->heap));
  }
  size_t i = q->heap_n++;
  q->heap[i] = (delayed_t){at, it};
  it->heap_refs++;
  while (i && q->heap[(i - 1) / 2].at > q->heap[i].at) {
    heap_swap(q, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

/* Remove the top entry; its item is dropped if nothing else needs it. */
static void heap_pop(client_workqueue_t *q) {
  item_t *top = q->heap[0].it;
  top->heap_refs--;
  q->heap[0] = q->heap[--q->heap_n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->heap_n && q->heap[l].at < q->heap[m].at)
      m = l;
    if (r < q->heap_n && q->heap[r].at < q->heap[m].at)
      m = r;
    if (m == i)
      break;
    heap_swap(q, i, m);
    i = m;
  }
  maybe_drop(q, top);
}

int client_workqueue_add_after(client_workqueue_t *q, const char *key, double at) {
  item_t *it = get_or_make(q, key);
  if (!it)
    return -ENOSPC;
  if (it->delay_at > 0 && it->delay_at <= at)
    return 0; /* an earlier time is already pending */
  /* Each item has at most one live heap entry: the one whose time equals
   * delay_at. A superseded entry stays in the heap and is skipped. */
  it->delay_at = at;
  heap_push(q, at, it);
  return 1;
}

double client_workqueue_backoff(const client_workqueue_t *q, const char *key) {
  const item_t *it = find(q, key);
  int f = it ? it->failures : 0;
  double d = q->base * ldexp(1.0, f > 60 ? 60 : f);
  return d > q->max ? q->max : d;
}

int client_workqueue_add_rate_limited(client_workqueue_t *q, const char *key, double now) {
  double d = client_workqueue_backoff(q, key);
  item_t *it = get_or_make(q, key);
  if (!it)
    return -ENOSPC;
  if (it->failures < 1000)
    it->failures++;
  return client_workqueue_add_after(q, key, now + d);
}

void client_workqueue_forget(client_workqueue_t *q, const char *key) {
  item_t *it = find(q, key);
  if (!it)
    return;
  it->failures = 0;
  maybe_drop(q, it);
}

int client_workqueue_failures(const client_workqueue_t *q, const char *key) {
  const item_t *it = find(q, key);
  return it ? it->failures : 0;
}

/* The heap's top, skipping (popping) superseded entries. */
static delayed_t *heap_top(client_workqueue_t *q) {
  while (q->heap_n) {
    delayed_t *d = &q->heap[0];
    if (d->it->delay_at == d->at)
      return d;
    heap_pop(q);
  }
  return NULL;
}

double client_workqueue_promote(client_workqueue_t *q, double now) {
  delayed_t *d;
  while ((d = heap_top(q)) && d->at <= now) {
    item_t *it = d->it;
    it->delay_at = 0;
    add_now(q, it); /* queued before the pop, so the pop cannot drop it */
    heap_pop(q);
  }
  d = heap_top(q);
  return d ? d->at : 0;
}

double client_workqueue_next_deadline(const client_workqueue_t *q) {
  return client_workqueue_promote((client_workqueue_t *)q, -INFINITY);
}

const char *client_workqueue_get(client_workqueue_t *q) {
  item_t *it = q->head;
  if (!it)
    return NULL;
  q->head = it->qnext;
  if (!q->head)
    q->tail = NULL;
  it->qnext = NULL;
  it->queued = false;
  q->queued--;
  it->processing = true;
  q->processing++;
  return it->key;
}

void client_workqueue_done(client_workqueue_t *q, const char *key) {
  item_t *it = find(q, key);
  if (!it || !it->processing)
    return;
  it->processing = false;
  q->processing--;
  if (it->dirty) {
    it->dirty = false;
    enqueue(q, it);
  }
  maybe_drop(q, it);
}

size_t client_workqueue_len(const client_workqueue_t *q) { return q->queued; }
size_t client_workqueue_processing(const client_workqueue_t *q) { return q->processing; }

size_t client_workqueue_delayed(const client_workqueue_t *q) {
  size_t n = 0;
  for (size_t i = 0; i < q->heap_n; i++)
    if (q->heap[i].it->delay_at == q->heap[i].at)
      n++;
  return n;
}
