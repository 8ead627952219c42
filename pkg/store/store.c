/* pkg/store: the revisioned, watchable key-value store under the Kubernetes
 * API (etcd v3 semantics: one global revision, per-key create/mod revision,
 * CAS on mod revision, watch from a revision, compaction, TTL keys). State
 * lives in memory on the loop thread; one writer thread group-commits the
 * log to a backend (sqlite.c). Design notes: docs/STORE.md. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/backend.h"
#include "store/index.h"
#include "store/seal.h"
#include "store/store.h"
#include "store/token.h"
#include "store/watch.h"
#include "util/alloc.h"
#include "util/log.h"

#define DEFAULT_WINDOW 10000
#define DEFAULT_QUEUE_MAX 10000
#define DEFAULT_COMPACT_MS (5 * 60 * 1000)
#define BATCH_MAX_ROWS 4096
#define BATCH_MAX_BYTES (16u << 20)

enum { REQ_WRITE, REQ_COMPACT, REQ_RESEAL };

/* One write (or compaction) travelling loop -> writer thread -> loop. */
typedef struct req {
  struct req *next;
  int kind;
  int err;
  store_kv_t *kv; /* owned reference */
  bool tomb;
  int64_t prev_rev;
  int64_t compact_rev;
  size_t bytes;
  store_done_cb cb;
  void *data;
  char *disk; /* the sealed form written instead of kv->value, or NULL */
  size_t disk_len;
  /* REQ_RESEAL */
  store_keyring_t *kr;
  char *prefix;
  int64_t cursor;
  store_reseal_cb reseal_cb;
} req_t;

typedef struct {
  req_t *head, **tail;
} req_list_t;

typedef struct {
  int64_t expires;
  store__node_t *node;
} ttl_entry_t;

struct store {
  struct ev_loop *loop;
  const store_backend_ops_t *ops;
  store_backend_t *backend;
  store__index_t idx;
  store__hub_t hub;
  int64_t next_rev;   /* revision the next write gets */
  size_t inflight;    /* writes submitted, callback not yet run */
  size_t inflight_bytes;
  bool failed;        /* a commit failed; refuse writes until inflight drains */
  int fail_err;       /* its errno (-ENOSPC, -EIO, ...) */
  char fail_reason[STORE_REASON_MAX]; /* its reason, copied from the writer */
  uint64_t failures;  /* failed commits since open (episodes, not writes) */
  bool closing;

  /* writer thread; everything below mu is shared with it */
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  req_list_t submit;  /* loop -> writer */
  req_list_t done;    /* writer -> loop */
  bool stop;
  bool writer_failed; /* the writer fails every batch until the loop resets it */
  int writer_err;     /* the errno those batches fail with */
  char writer_reason[STORE_REASON_MAX];
  uint64_t writer_failures;
  ev_async async;
  /* Writes submitted during one loop iteration are handed to the writer
   * together (before the loop blocks, or after a batch of acks whose
   * callbacks submitted more), so closed-loop clients form full batches. */
  req_list_t local;
  ev_prepare flush;

  /* TTL: a min-heap of nodes by expiry */
  ttl_entry_t *heap;
  size_t heap_n, heap_cap;
  ev_timer ttl_timer;
  ev_timer compact_timer;
  int64_t db_compacted;
  size_t compacting;    /* compaction requests not yet finished */
  double compact_every; /* seconds */

  store_keyring_t *keyring; /* encryption at rest, or NULL */
  char path[4096];          /* the database file */
  bool resealing;
  /* reseal progress, written by the writer under mu */
  int64_t reseal_done, reseal_examined, reseal_total;
  int reseal_err;
};

const store_backend_ops_t *store__backend = &store__sqlite_backend;

/* ---- kv ---- */

static store_kv_t *kv_new(const char *key, char *value, size_t len, int64_t create_rev,
                          int64_t mod_rev, int64_t lease) {
  size_t klen = strlen(key);
  store_kv_t *kv = xmalloc(sizeof(*kv) + klen + 1);
  char *k = (char *)(kv + 1);
  memcpy(k, key, klen + 1);
  kv->key = k;
  kv->value = value;
  kv->len = len;
  kv->create_rev = create_rev;
  kv->mod_rev = mod_rev;
  kv->lease_expires = lease;
  kv->_refs = 1;
  return kv;
}

store_kv_t *store_kv_ref(store_kv_t *kv) {
  if (kv)
    kv->_refs++;
  return kv;
}

void store_kv_unref(store_kv_t *kv) {
  if (!kv || --kv->_refs > 0)
    return;
  free((char *)kv->value);
  free(kv);
}

/* Copy bytes into a NUL-terminated heap buffer. */
static char *copy_value(const char *v, size_t len) {
  char *p = xmalloc(len + 1);
  if (len)
    memcpy(p, v, len);
  p[len] = '\0';
  return p;
}

/* ---- libev helpers: background watchers do not keep the loop alive ---- */

static void timer_set(struct store *s, ev_timer *t, double after) {
  if (ev_is_active(t)) {
    ev_ref(s->loop);
    ev_timer_stop(s->loop, t);
  }
  ev_timer_set(t, after < 0 ? 0 : after, 0.);
  ev_timer_start(s->loop, t);
  ev_unref(s->loop);
}

static void timer_clear(struct store *s, ev_timer *t) {
  if (ev_is_active(t)) {
    ev_ref(s->loop);
    ev_timer_stop(s->loop, t);
  }
}

/* ---- TTL heap ---- */

static void heap_swap(struct store *s, size_t a, size_t b) {
  ttl_entry_t t = s->heap[a];
  s->heap[a] = s->heap[b];
  s->heap[b] = t;
  s->heap[a].node->ttl_slot = a + 1;
  s->heap[b].node->ttl_slot = b + 1;
}

static void heap_fix(struct store *s, size_t i) {
  while (i > 0 && s->heap[(i - 1) / 2].expires > s->heap[i].expires) {
    heap_swap(s, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->heap_n && s->heap[l].expires < s->heap[m].expires)
      m = l;
    if (r < s->heap_n && s->heap[r].expires < s->heap[m].expires)
      m = r;
    if (m == i)
      return;
    heap_swap(s, i, m);
    i = m;
  }
}

static void ttl_arm(struct store *s) {
  if (s->heap_n == 0 || s->closing) {
    timer_clear(s, &s->ttl_timer);
    return;
  }
  double now = ev_now(s->loop);
  timer_set(s, &s->ttl_timer, (double)s->heap[0].expires - now);
}

static void heap_remove(struct store *s, store__node_t *n) {
  if (!n->ttl_slot)
    return;
  size_t i = n->ttl_slot - 1;
  n->ttl_slot = 0;
  s->heap_n--;
  if (i != s->heap_n) {
    s->heap[i] = s->heap[s->heap_n];
    s->heap[i].node->ttl_slot = i + 1;
    heap_fix(s, i);
  }
}

static void heap_set(struct store *s, store__node_t *n, int64_t expires) {
  if (expires == 0) {
    heap_remove(s, n);
    return;
  }
  if (!n->ttl_slot) {
    if (s->heap_n == s->heap_cap) {
      s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
      s->heap = xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
    }
    s->heap[s->heap_n].node = n;
    n->ttl_slot = ++s->heap_n;
  }
  s->heap[n->ttl_slot - 1].expires = expires;
  heap_fix(s, n->ttl_slot - 1);
}

/* ---- writer thread ---- */

static void list_init(req_list_t *l) {
  l->head = NULL;
  l->tail = &l->head;
}

static void list_push(req_list_t *l, req_t *r) {
  r->next = NULL;
  *l->tail = r;
  l->tail = &r->next;
}

/* Reseal (writer thread): a row not in the form the keyring writes now is
 * opened with whichever key sealed it and sealed again (or stored plain). */
static int reseal_row(const char *key, const char *value, size_t len, char **ret, size_t *ret_len,
                      void *data) {
  const store_keyring_t *kr = data;
  char *plain = NULL;
  size_t plen = 0;
  bool current = true;
  *ret = NULL;
  int r = store_keyring_open(kr, key, value, len, &plain, &plen, &current);
  if (r < 0 || current) {
    free(plain);
    return r;
  }
  const char *src = plain ? plain : value;
  size_t slen = plain ? plen : len;
  r = store_keyring_seal(kr, key, src, slen, ret, ret_len);
  if (r == 0 && !*ret) { /* writes are plaintext now */
    *ret = plain ? plain : copy_value(value, len);
    *ret_len = slen;
    plain = NULL;
  }
  free(plain);
  return r;
}

static void *writer_main(void *arg) {
  struct store *s = arg;
  store_backend_row_t *rows = NULL;
  size_t rows_cap = 0;

  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->submit.head && !s->stop)
      pthread_cond_wait(&s->cond, &s->mu);
    if (!s->submit.head)
      break;
    /* Group commit: everything queued while the last transaction was in
     * flight goes into this one (bounded). A compaction runs alone. */
    req_t *batch = s->submit.head, *last = batch;
    size_t n = 1, bytes = batch->bytes;
    if (batch->kind == REQ_WRITE)
      while (last->next && last->next->kind == REQ_WRITE && n < BATCH_MAX_ROWS &&
             bytes < BATCH_MAX_BYTES) {
        last = last->next;
        bytes += last->bytes;
        n++;
      }
    s->submit.head = last->next;
    if (!s->submit.head)
      s->submit.tail = &s->submit.head;
    last->next = NULL;
    bool failed = s->writer_failed;
    int err = failed ? s->writer_err : -EIO;
    pthread_mutex_unlock(&s->mu);
    char why[STORE_REASON_MAX] = "";

    if (batch->kind == REQ_COMPACT) {
      if (!failed)
        err = s->ops->compact(s->backend, batch->compact_rev);
      if (err > 0) {
        /* One slice done, more to do: queue the rest behind the writes
         * that came in meanwhile, so no write waits for a whole
         * compaction. At close the rest is left for the next start. */
        pthread_mutex_lock(&s->mu);
        if (!s->stop) {
          list_push(&s->submit, batch);
          continue;
        }
        pthread_mutex_unlock(&s->mu);
        err = 0;
      }
    } else if (batch->kind == REQ_RESEAL) {
      int64_t done = 0, examined = 0, total = -1;
      err = s->ops->reseal ? s->ops->reseal(s->backend, batch->prefix, &batch->cursor, reseal_row,
                                            batch->kr, &done, &examined, &total)
                           : -EOPNOTSUPP;
      pthread_mutex_lock(&s->mu);
      if (total >= 0)
        s->reseal_total = total;
      s->reseal_done += done;
      s->reseal_examined += examined;
      if (err > 0 && !s->stop) {
        list_push(&s->submit, batch);
        continue;
      }
      pthread_mutex_unlock(&s->mu);
      if (err > 0)
        err = -ESHUTDOWN;
    } else if (!failed) {
      if (n > rows_cap) {
        rows_cap = n;
        rows = xrealloc(rows, rows_cap * sizeof(*rows));
      }
      size_t i = 0;
      for (req_t *r = batch; r; r = r->next, i++) {
        const store_kv_t *kv = r->kv;
        rows[i] = (store_backend_row_t){
            .rev = kv->mod_rev, .key = kv->key, .value = r->disk ? r->disk : kv->value,
            .len = r->disk ? r->disk_len : kv->len,
            .create_rev = kv->create_rev, .prev_rev = r->prev_rev,
            .lease_expires = kv->lease_expires, .deleted = r->tomb};
      }
      err = s->ops->commit(s->backend, rows, n, why, sizeof(why));
      if (err < 0 && !why[0])
        snprintf(why, sizeof(why), "database commit failed: %s", strerror(-err));
    }

    pthread_mutex_lock(&s->mu);
    if (err < 0 && batch->kind == REQ_WRITE && !failed) {
      /* The first failed batch of an episode: its reason is the one to report. */
      s->writer_err = err;
      snprintf(s->writer_reason, sizeof(s->writer_reason), "%s", why);
      s->writer_failures++;
    }
    if (err < 0 && batch->kind == REQ_WRITE)
      s->writer_failed = true;
    for (req_t *r = batch, *next; r; r = next) {
      next = r->next;
      r->err = err;
      list_push(&s->done, r);
    }
    ev_async_send(s->loop, &s->async);
  }
  pthread_mutex_unlock(&s->mu);
  free(rows);
  return NULL;
}

/* ---- applying committed writes (loop thread) ---- */

/* The event at the window's start leaves: the versions it superseded become
 * unreadable (the compacted revision moves to it). */
static void drop_oldest(struct store *s) {
  store__event_t e;
  if (!store__hub_drop(&s->hub, &e))
    return;
  store__node_t *n = store__index_find(&s->idx, e.kv->key);
  if (n) {
    store__node_trim(n, e.kv->mod_rev);
    store__index_release(&s->idx, n);
  }
  store_kv_unref(e.kv);
  store_kv_unref(e.prev);
}

static void apply(struct store *s, req_t *r) {
  store_kv_t *kv = r->kv;
  store__node_t *n = store__index_get(&s->idx, kv->key);
  store_kv_t *prev = store__node_current(n);
  store__event_t ev = {.kind = r->tomb ? STORE_EVENT_DELETE : STORE_EVENT_PUT,
                       .kv = store_kv_ref(kv), .prev = store_kv_ref(prev),
                       .created = !r->tomb && !prev};
  store__index_push(&s->idx, n, store_kv_ref(kv), r->tomb);
  if (n->pending && n->pending_rev == kv->mod_rev) {
    store_kv_unref(n->pending);
    n->pending = NULL;
  }
  bool had_ttl = n->ttl_slot != 0;
  heap_set(s, n, r->tomb ? 0 : kv->lease_expires);
  if (had_ttl || n->ttl_slot)
    ttl_arm(s);
  while (store__hub_full(&s->hub))
    drop_oldest(s);
  store__hub_append(&s->hub, &ev);
}

static void forget(struct store *s, req_t *r) {
  store__node_t *n = store__index_find(&s->idx, r->kv->key);
  if (n && n->pending && n->pending_rev == r->kv->mod_rev) {
    store_kv_unref(n->pending);
    n->pending = NULL;
    store__index_release(&s->idx, n);
  }
}

static void finish(struct store *s, req_t *r) {
  if (r->kind == REQ_WRITE) {
    if (r->err == 0)
      apply(s, r);
    else {
      forget(s, r);
      s->failed = true;
    }
    s->inflight--;
    s->inflight_bytes -= r->bytes;
    if (s->inflight == 0 && !s->closing)
      ev_unref(s->loop);
    if (r->cb)
      r->cb(r->err, r->err ? NULL : r->kv, r->data);
    store_kv_unref(r->kv);
    free(r->disk);
  } else if (r->kind == REQ_RESEAL) {
    s->resealing = false;
    pthread_mutex_lock(&s->mu);
    s->reseal_err = r->err;
    pthread_mutex_unlock(&s->mu);
    if (r->reseal_cb)
      r->reseal_cb(r->err, r->data);
    store_keyring_unref(r->kr);
    free(r->prefix);
  } else if (r->kind == REQ_COMPACT) {
    s->compacting--;
    if (r->err < 0) {
      /* The history stays (reads are unaffected); the next compaction
       * (timer or store_compact) starts again where the backend stopped. */
      log_warn("store", "compaction to revision %lld failed: %s; retrying at the next one",
               (long long)r->compact_rev, strerror(-r->err));
      if (s->db_compacted == r->compact_rev)
        s->db_compacted = 0;
    }
  }
  free(r);
}

static void flush(struct store *s);

static void drain_done(struct store *s) {
  pthread_mutex_lock(&s->mu);
  req_t *r = s->done.head;
  list_init(&s->done);
  if (s->writer_failures != s->failures) {
    s->failures = s->writer_failures;
    s->fail_err = s->writer_err;
    snprintf(s->fail_reason, sizeof(s->fail_reason), "%s", s->writer_reason);
  }
  pthread_mutex_unlock(&s->mu);
  while (r) {
    req_t *next = r->next;
    finish(s, r);
    r = next;
  }
  flush(s);
  if (s->failed && s->inflight == 0) {
    /* Everything after the failed batch has failed too and nothing is in
     * flight: take up writing again after the last committed revision, so
     * revisions stay dense. */
    s->failed = false;
    s->next_rev = store__hub_last_rev(&s->hub) + 1;
    pthread_mutex_lock(&s->mu);
    s->writer_failed = false;
    pthread_mutex_unlock(&s->mu);
  }
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  drain_done((struct store *)((char *)w - offsetof(struct store, async)));
}

static void enqueue(struct store *s, req_t *r) { list_push(&s->local, r); }

static void flush(struct store *s) {
  if (!s->local.head)
    return;
  pthread_mutex_lock(&s->mu);
  *s->submit.tail = s->local.head;
  s->submit.tail = s->local.tail;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->mu);
  list_init(&s->local);
}

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
  flush((struct store *)((char *)w - offsetof(struct store, flush)));
}

/* ---- writes ---- */

int store_write(store_t *s, const store_write_t *w, store_done_cb cb, void *data) {
  if (s->closing)
    return -ESHUTDOWN;
  if (s->failed)
    return s->fail_err < 0 ? s->fail_err : -EIO;
  if (!w || !w->key || !w->key[0] || w->ttl_seconds < 0 ||
      (w->op != STORE_OP_CREATE && w->op != STORE_OP_UPDATE && w->op != STORE_OP_DELETE))
    return -EINVAL;
  if (!w->value_cb && w->len > STORE_VALUE_MAX)
    return -E2BIG;
  if (s->inflight_bytes > STORE_INFLIGHT_MAX)
    return -EAGAIN;

  store__node_t *n = store__index_find(&s->idx, w->key);
  store_kv_t *latest = n ? store__node_latest(n) : NULL;
  if (w->op == STORE_OP_CREATE && latest)
    return -EEXIST;
  if (w->op != STORE_OP_CREATE && !latest)
    return -ENOENT;
  if (w->op != STORE_OP_CREATE && w->expected_mod_rev && latest->mod_rev != w->expected_mod_rev)
    return -ESTALE;

  int64_t rev = s->next_rev;
  char *value;
  size_t len;
  if (w->value_cb) {
    int err = 0;
    len = 0;
    value = w->value_cb(rev, latest, w->value_cb_data, &len, &err);
    if (!value)
      return err < 0 ? err : -EINVAL;
    if (len > STORE_VALUE_MAX) {
      free(value);
      return -E2BIG;
    }
    value = xrealloc(value, len + 1);
    value[len] = '\0';
  } else if (w->op == STORE_OP_DELETE && !w->value) {
    len = latest->len;
    value = copy_value(latest->value, len);
  } else {
    len = w->value ? w->len : 0;
    value = copy_value(w->value, len);
  }

  char *disk = NULL;
  size_t disk_len = 0;
  if (store_keyring_seal(s->keyring, w->key, value, len, &disk, &disk_len) < 0) {
    free(value);
    return -EIO;
  }

  bool tomb = w->op == STORE_OP_DELETE;
  int64_t lease = 0;
  if (!tomb && w->ttl_seconds > 0)
    lease = (int64_t)ev_now(s->loop) + w->ttl_seconds;
  store_kv_t *kv = kv_new(w->key, value, len, latest ? latest->create_rev : rev, rev, lease);
  s->next_rev++;

  if (!n)
    n = store__index_get(&s->idx, w->key);
  store_kv_unref(n->pending);
  n->pending = store_kv_ref(kv);
  n->pending_rev = rev;
  n->pending_tomb = tomb;

  req_t *r = xcalloc(1, sizeof(*r));
  r->kind = REQ_WRITE;
  r->kv = kv;
  r->disk = disk;
  r->disk_len = disk_len;
  r->tomb = tomb;
  r->prev_rev = latest ? latest->mod_rev : 0;
  r->bytes = len + strlen(w->key) + 64;
  r->cb = cb;
  r->data = data;
  if (s->inflight++ == 0)
    ev_ref(s->loop);
  s->inflight_bytes += r->bytes;
  enqueue(s, r);
  return 0;
}

/* ---- reads ---- */

int64_t store_revision(const store_t *s) { return store__hub_last_rev(&s->hub); }

int64_t store_size_bytes(const store_t *s) {
  struct stat st;
  int64_t n = 0;
  char wal[4200];
  if (stat(s->path, &st) == 0)
    n += (int64_t)st.st_size;
  snprintf(wal, sizeof(wal), "%s-wal", s->path);
  if (stat(wal, &st) == 0)
    n += (int64_t)st.st_size;
  return n;
}

int64_t store_compacted_revision(const store_t *s) { return s->hub.first_rev - 1; }

const char *store_failure(const store_t *s, uint64_t *ret_count) {
  if (ret_count)
    *ret_count = s->failures;
  return s->fail_reason;
}

/* Check a read revision; 0 means current. */
static int read_rev(const store_t *s, int64_t rev, int64_t *ret_rev) {
  int64_t cur = store_revision(s);
  if (rev == 0)
    rev = cur;
  if (rev < 0 || rev > cur)
    return -EINVAL;
  if (rev < store_compacted_revision(s))
    return -EOVERFLOW;
  *ret_rev = rev;
  return 0;
}

int store_get(store_t *s, const char *key, int64_t rev, store_kv_t **ret_kv) {
  if (!key || !key[0])
    return -EINVAL;
  int r = read_rev(s, rev, &rev);
  if (r < 0)
    return r;
  store__node_t *n = store__index_find(&s->idx, key);
  store_kv_t *kv = n ? store__node_live_at(n, rev) : NULL;
  if (!kv)
    return -ENOENT;
  *ret_kv = store_kv_ref(kv);
  return 0;
}

int store_get_latest(store_t *s, const char *key, store_kv_t **ret_kv) {
  if (!key || !key[0])
    return -EINVAL;
  store__node_t *n = store__index_find(&s->idx, key);
  store_kv_t *kv = n ? store__node_latest(n) : NULL;
  if (!kv)
    return -ENOENT;
  *ret_kv = store_kv_ref(kv);
  return 0;
}

/* Live keys under prefix after `after` at revision rev: the count now
 * (O(log n), index.c) minus what the events since rev added: +1 for a
 * create, -1 for a delete. O(log n + events since rev), and the events
 * since rev are bounded by the window. */
static size_t count_at(struct store *s, const char *prefix, const char *after, int64_t rev) {
  int64_t count = (int64_t)store__index_count(&s->idx, prefix, after);
  size_t plen = strlen(prefix);
  for (int64_t r = rev + 1; r <= store_revision(s); r++) {
    const store__event_t *e = store__hub_get(&s->hub, r);
    if (!e || strncmp(e->kv->key, prefix, plen) != 0 || strcmp(e->kv->key, after) <= 0)
      continue;
    if (e->kind == STORE_EVENT_DELETE)
      count++;
    else if (e->created)
      count--;
  }
  return count > 0 ? (size_t)count : 0;
}

int store_list(store_t *s, const store_list_opts_t *o, store_list_t *ret_list) {
  char *after = NULL;
  int64_t rev = o ? o->rev : 0;
  store_list_t l = {0};
  size_t cap = 0, plen;
  int r;

  if (!o || !o->prefix)
    return -EINVAL;
  plen = strlen(o->prefix);
  if (o->continue_tok) {
    int64_t tok_rev;
    r = store__token_decode(o->continue_tok, &tok_rev, &after);
    if (r < 0)
      goto out;
    if ((rev && rev != tok_rev) || strncmp(after, o->prefix, plen) != 0) {
      r = -EINVAL;
      goto out;
    }
    rev = tok_rev;
  }
  r = read_rev(s, rev, &rev);
  if (r < 0)
    goto out;
  l.rev = rev;
  store__node_t *n = store__index_seek(&s->idx, after ? after : o->prefix);
  if (n && after && strcmp(n->key, after) == 0)
    n = store__index_next(n);
  for (; n && strncmp(n->key, o->prefix, plen) == 0; n = store__index_next(n)) {
    if (o->limit && l.n == o->limit)
      break;
    store_kv_t *kv = store__node_live_at(n, rev);
    if (!kv)
      continue;
    if (l.n == cap) {
      cap = cap ? cap * 2 : 16;
      l.items = xrealloc(l.items, cap * sizeof(*l.items));
    }
    l.items[l.n++] = store_kv_ref(kv);
  }
  /* A page costs O(page): the rest is counted, not walked. */
  if (n && strncmp(n->key, o->prefix, plen) == 0)
    l.remaining = count_at(s, o->prefix, l.items[l.n - 1]->key, rev);
  if (l.remaining)
    l.continue_tok = store__token_encode(rev, l.items[l.n - 1]->key);
  *ret_list = l;
  r = 0;
out:
  free(after);
  return r;
}

void store_list_done(store_list_t *l) {
  if (!l)
    return;
  for (size_t i = 0; i < l->n; i++)
    store_kv_unref(l->items[i]);
  free(l->items);
  free(l->continue_tok);
  memset(l, 0, sizeof(*l));
}

size_t store_count(store_t *s, const char *prefix) {
  return store__index_count(&s->idx, prefix, NULL);
}

/* ---- watch ---- */

int store_watch_start(store_t *s, const char *prefix, int64_t after_rev, store_event_cb cb,
                      store_watch_error_cb err_cb, void *data, store_watch_t **ret_watch) {
  if (after_rev < 0)
    return -EINVAL;
  return store__hub_watch(&s->hub, prefix, after_rev, cb, err_cb, data, ret_watch);
}

/* ---- compaction and TTL ---- */

static void compact_db(struct store *s) {
  int64_t rev = store_compacted_revision(s);
  if (rev <= s->db_compacted)
    return;
  req_t *r = xcalloc(1, sizeof(*r));
  r->kind = REQ_COMPACT;
  r->compact_rev = rev;
  s->db_compacted = rev;
  s->compacting++;
  enqueue(s, r);
}

int store_compact(store_t *s, int64_t rev) {
  if (rev < 0)
    return -EINVAL;
  if (rev > store_revision(s))
    rev = store_revision(s);
  while (s->hub.count && s->hub.first_rev <= rev)
    drop_oldest(s);
  if (!s->closing)
    compact_db(s);
  return 0;
}

bool store_compacting(const store_t *s) { return s->compacting != 0; }

static void compact_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct store *s = (struct store *)((char *)t - offsetof(struct store, compact_timer));
  ev_ref(loop); /* the timer stopped itself; balance its ev_unref */
  compact_db(s);
  timer_set(s, t, s->compact_every);
}

typedef struct {
  struct store *s;
  char key[];
} ttl_job_t;

static void ttl_done(int err, const store_kv_t *kv, void *data) {
  ttl_job_t *job = data;
  struct store *s = job->s;
  store__node_t *n = err ? store__index_find(&s->idx, job->key) : NULL;
  store_kv_t *cur = n ? store__node_current(n) : NULL;
  if (cur && cur->lease_expires && !n->ttl_slot && !s->closing) {
    /* The delete failed: try again in a second. */
    heap_set(s, n, (int64_t)ev_now(s->loop) + 1);
    ttl_arm(s);
  }
  free(job);
}

static void ttl_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct store *s = (struct store *)((char *)t - offsetof(struct store, ttl_timer));
  ev_ref(loop);
  double now = ev_now(loop);
  int64_t retry = (int64_t)now + 1;
  while (s->heap_n && (double)s->heap[0].expires <= now) {
    store__node_t *n = s->heap[0].node;
    store_kv_t *cur = store__node_current(n);
    heap_remove(s, n);
    if (!cur || n->pending) /* a newer write decides the key's fate */
      continue;
    size_t klen = strlen(n->key);
    ttl_job_t *job = xmalloc(sizeof(*job) + klen + 1);
    job->s = s;
    memcpy(job->key, n->key, klen + 1);
    store_write_t w = {.op = STORE_OP_DELETE, .key = n->key, .expected_mod_rev = cur->mod_rev};
    if (store_write(s, &w, ttl_done, job) < 0) {
      free(job);
      heap_set(s, n, retry);
    }
  }
  ttl_arm(s);
}

/* ---- open and close ---- */

/* Loading: rows of the state at the history start go straight into the
 * index; history rows are kept in revision order until the event window
 * exists, then applied as if just committed. */
typedef struct {
  struct store *s;
  req_t *hist;
  size_t n, cap;
  char why[STORE_REASON_MAX]; /* a value that does not open */
} load_ctx_t;

static int load_row(const store_backend_row_t *row, void *data) {
  load_ctx_t *c = data;
  struct store *s = c->s;
  char *plain = NULL;
  size_t plen = 0;
  int r = store_keyring_open(s->keyring, row->key, row->value, row->len, &plain, &plen, NULL);
  if (r < 0) {
    char name[STORE_SEAL_NAME_MAX + 2];
    store_keyring_envelope_name(row->value, row->len, name, sizeof(name));
    snprintf(c->why, sizeof(c->why),
             "%s at revision %lld is encrypted with key \"%s\", which %s", row->key,
             (long long)row->rev, name,
             r == -ENOKEY ? "the encryption configuration does not have (start with "
                            "--secrets-encryption and the configuration that has it)"
                          : "does not open it (wrong key or damaged value)");
    return r;
  }
  if (!plain) {
    plain = copy_value(row->value, row->len);
    plen = row->len;
  }
  store_kv_t *kv = kv_new(row->key, plain, plen, row->create_rev, row->rev, row->lease_expires);
  if (row->history) {
    if (c->n == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 256;
      c->hist = xrealloc(c->hist, c->cap * sizeof(*c->hist));
    }
    c->hist[c->n++] = (req_t){.kind = REQ_WRITE, .kv = kv, .tomb = row->deleted,
                              .prev_rev = row->prev_rev};
    return 0;
  }
  store__node_t *n = store__index_get(&s->idx, row->key);
  if (n->chain) {
    store_kv_unref(kv);
    return -EEXIST;
  }
  store__index_push(&s->idx, n, kv, false);
  heap_set(s, n, row->lease_expires);
  return 0;
}

static void load_ctx_done(load_ctx_t *c) {
  for (size_t i = 0; i < c->n; i++)
    store_kv_unref(c->hist[i].kv);
  free(c->hist);
}

int store_open(struct ev_loop *loop, const store_options_t *opts, store_t **ret_store, char *err,
               size_t errlen) {
  struct store *s = NULL;
  int64_t rev = 0, compact_rev = 0;
  int r;

  if (err && errlen)
    err[0] = '\0';
  if (!loop || !opts || !opts->path || !opts->path[0]) {
    snprintf(err, errlen, "store: no database path given");
    return -EINVAL;
  }
  s = xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->ops = store__backend;
  snprintf(s->path, sizeof(s->path), "%s", opts->path);
  store__index_init(&s->idx);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  list_init(&s->submit);
  list_init(&s->done);
  list_init(&s->local);
  ev_async_init(&s->async, async_cb);
  ev_prepare_init(&s->flush, flush_cb);
  ev_timer_init(&s->ttl_timer, ttl_timer_cb, 0., 0.);
  ev_timer_init(&s->compact_timer, compact_timer_cb, 0., 0.);

  r = s->ops->open(opts->path, &s->backend, err, errlen);
  if (r < 0)
    goto fail;
  /* The event window is rebuilt from the rows kept until compaction, so
   * a watch from shortly before a restart resumes instead of 410. */
  size_t window = opts->watch_window ? opts->watch_window : DEFAULT_WINDOW;
  load_ctx_t lc = {.s = s};
  int64_t start = 0;
  s->keyring = store_keyring_ref(opts->keyring);
  r = s->ops->load(s->backend, (int64_t)window, load_row, &lc, &rev, &compact_rev, &start, err,
                   errlen);
  if (r < 0 && lc.why[0])
    snprintf(err, errlen, "database %s: %s", opts->path, lc.why);
  if (r == 0 && lc.n != (size_t)(rev - start)) {
    snprintf(err, errlen, "store: the backend gave %zu history rows for revisions %lld..%lld",
             lc.n, (long long)start + 1, (long long)rev);
    r = -EIO;
  }
  for (size_t i = 0; r == 0 && i < lc.n; i++)
    if (lc.hist[i].kv->mod_rev != start + 1 + (int64_t)i) {
      snprintf(err, errlen, "store: history row %lld out of order", (long long)lc.hist[i].kv->mod_rev);
      r = -EIO;
    }
  s->next_rev = rev + 1;
  s->db_compacted = compact_rev;
  store__hub_init(&s->hub, loop, window,
                  opts->watcher_queue_max ? opts->watcher_queue_max : DEFAULT_QUEUE_MAX,
                  r == 0 ? start : rev);
  for (size_t i = 0; r == 0 && i < lc.n; i++)
    apply(s, &lc.hist[i]);
  load_ctx_done(&lc);
  if (r < 0)
    goto fail;

  /* The writer thread takes no signals: they belong to the loop thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r = -pthread_create(&s->thread, NULL, writer_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r < 0) {
    snprintf(err, errlen, "store: cannot start the writer thread: %s", strerror(-r));
    goto fail;
  }
  s->thread_started = true;
  ev_async_start(loop, &s->async);
  ev_unref(loop); /* only in-flight writes keep the loop alive */
  ev_prepare_start(loop, &s->flush);
  ev_unref(loop);
  ttl_arm(s);
  if (opts->compact_interval_ms >= 0) {
    double every = (double)(opts->compact_interval_ms ? opts->compact_interval_ms
                                                      : DEFAULT_COMPACT_MS) / 1000.;
    s->compact_every = every;
    timer_set(s, &s->compact_timer, every);
  }
  *ret_store = s;
  return 0;
fail:
  store__hub_done(&s->hub);
  store__index_done(&s->idx);
  free(s->heap);
  s->ops->close(s->backend);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cond);
  store_keyring_unref(s->keyring);
  free(s);
  return r;
}

void store_close(store_t *s) {
  if (!s)
    return;
  s->closing = true;
  timer_clear(s, &s->ttl_timer);
  timer_clear(s, &s->compact_timer);
  if (s->thread_started) {
    flush(s);
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL); /* the writer drains its queue first */
    size_t inflight = s->inflight;
    drain_done(s);
    if (inflight)
      ev_unref(s->loop); /* finish() keeps the ref while closing */
    ev_ref(s->loop);
    ev_async_stop(s->loop, &s->async);
    ev_ref(s->loop);
    ev_prepare_stop(s->loop, &s->flush);
  }
  store__hub_done(&s->hub);
  for (size_t i = 0; i < s->heap_n; i++)
    s->heap[i].node->ttl_slot = 0;
  free(s->heap);
  store__index_done(&s->idx);
  s->ops->close(s->backend);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cond);
  store_keyring_unref(s->keyring);
  free(s);
}

/* ---- encryption at rest ---- */

void store_keyring_use(store_t *s, store_keyring_t *kr) {
  store_keyring_t *old = s->keyring;
  s->keyring = store_keyring_ref(kr);
  store_keyring_unref(old);
}

int store_reseal(store_t *s, const char *prefix, store_reseal_cb cb, void *data) {
  if (s->closing)
    return -ESHUTDOWN;
  if (!prefix || !prefix[0])
    return -EINVAL;
  if (s->resealing)
    return -EBUSY;
  if (!s->ops->reseal)
    return -EOPNOTSUPP;
  req_t *r = xcalloc(1, sizeof(*r));
  r->kind = REQ_RESEAL;
  r->kr = s->keyring ? store_keyring_ref(s->keyring) : store_keyring_new();
  r->prefix = xstrdup(prefix);
  r->reseal_cb = cb;
  r->data = data;
  s->resealing = true;
  pthread_mutex_lock(&s->mu);
  s->reseal_done = s->reseal_examined = s->reseal_total = 0;
  s->reseal_err = 0;
  pthread_mutex_unlock(&s->mu);
  enqueue(s, r);
  return 0;
}

void store_reseal_progress(store_t *s, store_reseal_progress_t *ret) {
  pthread_mutex_lock(&s->mu);
  *ret = (store_reseal_progress_t){.running = s->resealing, .rewritten = s->reseal_done,
                                   .examined = s->reseal_examined, .total = s->reseal_total,
                                   .err = s->reseal_err};
  pthread_mutex_unlock(&s->mu);
}
