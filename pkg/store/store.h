/* pkg/store: a revisioned, watchable key-value store (etcd semantics, k3c's
 * own implementation). CONTRACT header: callers in pkg/api code against it.
 *
 * Model (as etcd v3): one global revision, +1 per successful write. Each key
 * has create_rev and mod_rev. Values are opaque bytes (k3c stores object
 * JSON). Keys are paths: /registry/<group>/<resource>/<ns>/<name>.
 *
 * Threads: every function here is called on the loop thread given to
 * store_open, and every callback runs on that loop. Reads are synchronous and
 * served from memory. Writes are asynchronous: the callback runs only after
 * the write's SQLite transaction is durable (group commit: many writes per
 * transaction on a writer thread). A write's revision is assigned when it is
 * submitted; compare-and-swap checks run at submission against the latest
 * state, including writes not yet committed.
 *
 * Errors are negative errno values:
 *   -ENOENT    key absent (get, update, delete)
 *   -EEXIST    key present (create)
 *   -ESTALE    compare-and-swap failed: mod_rev differs from expected
 *   -EOVERFLOW revision compacted (watch/get/list at an old revision, expired
 *              continue token): the API answers 410 Gone
 *   -EINVAL    bad argument (bad continue token, empty key)
 *   -E2BIG     value larger than STORE_VALUE_MAX
 *   -EIO       the database failed; the write is not durable
 *   -ENOSPC    (write) the database's disk is full; not durable. Also
 *              -EDQUOT (quota), -EFBIG (file size limit), -EROFS: the
 *              kind of failure as the backend saw it; store_failure says
 *              more (path, SQLite code, errno)
 *   -ENOBUFS   (watch) the watcher fell too far behind and was cut off
 *
 * Additions by the store implementation (meaning of the above unchanged):
 *   -EINVAL    also for a read revision newer than store_revision()
 *   -EAGAIN    (write) more than STORE_INFLIGHT_MAX bytes of writes are
 *              waiting for the disk; retry later (the API answers 429)
 *   -ESHUTDOWN (write) store_close has begun (e.g. from a done callback
 *              running inside store_close)
 *   store_open: -EIO corrupt database, -EACCES/-EROFS/-ENOENT cannot open
 *              for writing, -EBUSY used by another process, -EPROTO unknown
 *              schema; err says which, with the path.
 * store_close must not be called from inside a store callback. After
 * store_close, watch handles are gone: do not call store_watch_stop.
 * A revision is dense: if a commit fails (-EIO, -ENOSPC, ...), the writes
 * after it fail too, with the same error, and the next write reuses the
 * first failed revision.
 */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_VALUE_MAX (3 * 1024 * 1024) /* etcd's default request limit is 1.5 MiB */
/* Addition: bytes of submitted-but-uncommitted writes before -EAGAIN. */
#define STORE_INFLIGHT_MAX ((size_t)64 * 1024 * 1024)

typedef struct store store_t;
typedef struct store_keyring store_keyring_t; /* store/seal.h */

/* One version of one key. Immutable and reference-counted: share it freely
 * on the loop thread; store_kv_unref when done. */
typedef struct store_kv {
  const char *key;
  const char *value; /* NUL-terminated for convenience; len excludes the NUL */
  size_t len;
  int64_t create_rev;
  int64_t mod_rev;
  int64_t lease_expires; /* unix seconds, 0 = no TTL */
  int _refs;
} store_kv_t;

store_kv_t *store_kv_ref(store_kv_t *kv);
void store_kv_unref(store_kv_t *kv); /* accepts NULL */

typedef struct {
  const char *path;             /* SQLite file, e.g. <data-dir>/server/db/state.db */
  size_t watch_window;          /* events kept for watches (default 10000) */
  size_t watcher_queue_max;     /* undelivered events per watcher before cut-off (default 10000) */
  int64_t compact_interval_ms;  /* 0 = default (5 min); <0 disables automatic compaction */
  /* Encryption at rest (store/seal.h), or NULL. Values of the keys it
   * covers are sealed when written to the backend and opened when loaded;
   * memory, reads and watches see plaintext. The store takes a reference.
   * A sealed value it cannot open fails store_open (-ENOKEY: no key of that
   * name; -EBADMSG: the key does not open it), naming the key. */
  store_keyring_t *keyring;
} store_options_t;

/* Open or create the database and load current state into memory.
 * On failure returns a negative errno and writes a readable reason to err
 * (e.g. "database /x/state.db is corrupt: ..."). */
int store_open(struct ev_loop *loop, const store_options_t *opts, store_t **ret_store, char *err,
               size_t errlen);
/* Wait for pending writes to become durable, stop the writer thread, close.
 * Active watchers get no further events (their error callback is not called). */
void store_close(store_t *s);

int64_t store_revision(const store_t *s);           /* latest committed revision */
/* Addition: bytes of the database file and its WAL on disk (stat). */
int64_t store_size_bytes(const store_t *s);

#define STORE_REASON_MAX 512
/* The reason of the last failed commit, with the database path and the
 * backend's codes ("database /x/state.db: committing failed: disk full
 * (SQLite code 13: ...; errno No space left on device)"), or "" if none
 * failed; *ret_count (optional) is how many commits have failed since
 * open, so a caller can log each failure once. The string is owned by the
 * store and valid until the next loop iteration. */
const char *store_failure(const store_t *s, uint64_t *ret_count);
int64_t store_compacted_revision(const store_t *s); /* oldest revision still readable */

/* ---- reads (committed state only) ---- */

/* Current value (rev 0) or the value at a past revision. *ret_kv is a new
 * reference. */
int store_get(store_t *s, const char *key, int64_t rev, store_kv_t **ret_kv);

typedef struct {
  const char *prefix;       /* required, e.g. "/registry/core/pods/default/" */
  int64_t rev;              /* 0 = current committed revision */
  size_t limit;             /* 0 = no limit */
  const char *continue_tok; /* from a previous page, or NULL */
} store_list_opts_t;

typedef struct {
  store_kv_t **items; /* new references, in key order */
  size_t n;
  int64_t rev;        /* revision the list is consistent at */
  char *continue_tok; /* NULL when this was the last page; else pass it back */
  size_t remaining;   /* items after this page (exact) */
} store_list_t;

/* List keys under a prefix at one consistent revision. A continue token
 * pins the revision of the first page; if that revision has been compacted
 * meanwhile, returns -EOVERFLOW. Callers may filter and then request more
 * pages (the API layer does, for label selectors). */
int store_list(store_t *s, const store_list_opts_t *opts, store_list_t *ret_list);
void store_list_done(store_list_t *l);

/* Number of keys under a prefix (current state). */
size_t store_count(store_t *s, const char *prefix);

/* ---- writes ---- */

typedef enum { STORE_OP_CREATE, STORE_OP_UPDATE, STORE_OP_DELETE } store_op_kind_t;

/* Called synchronously during submission with the revision the write will
 * get, to produce the bytes to store (the API layer writes the revision into
 * metadata.resourceVersion). Returns malloc'd bytes the store takes, or NULL
 * with *ret_err set to fail the write. For DELETE, the bytes become the value
 * watchers see in the DELETED event (the object's final state). */
typedef char *(*store_value_cb)(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                                int *ret_err);

typedef struct {
  store_op_kind_t op;
  const char *key;
  int64_t expected_mod_rev; /* UPDATE/DELETE: 0 = unconditional; else CAS */
  const char *value;        /* used when value_cb is NULL (copied) */
  size_t len;
  store_value_cb value_cb;  /* optional, see above */
  void *value_cb_data;
  int64_t ttl_seconds;      /* 0 = none; the key is deleted after it expires */
} store_write_t;

/* Done callback: err 0 and kv = the new version (for DELETE: the tombstone
 * value, mod_rev = delete revision), or err < 0 and kv NULL. kv is borrowed
 * for the duration of the callback (store_kv_ref to keep it). */
typedef void (*store_done_cb)(int err, const store_kv_t *kv, void *data);

/* Submit a write. Argument and CAS errors are returned immediately (the
 * callback is not called); on 0 the callback runs exactly once, later, after
 * the transaction is durable or has failed with -EIO. */
int store_write(store_t *s, const store_write_t *w, store_done_cb cb, void *data);

/* Latest value including writes not yet committed, for read-modify-write
 * paths that must CAS against the newest state. New reference. */
int store_get_latest(store_t *s, const char *key, store_kv_t **ret_kv);

/* ---- watch ---- */

typedef enum { STORE_EVENT_PUT, STORE_EVENT_DELETE } store_event_kind_t;

typedef struct {
  store_event_kind_t kind;
  const store_kv_t *kv;   /* PUT: new version; DELETE: tombstone (mod_rev = delete rev) */
  const store_kv_t *prev; /* previous version, NULL on create */
  bool created;           /* PUT that created the key */
} store_event_t;

typedef struct store_watch store_watch_t;
/* Events arrive in revision order, no gaps, no duplicates. */
typedef void (*store_event_cb)(store_watch_t *w, const store_event_t *ev, void *data);
/* The watch ended: -EOVERFLOW (start revision compacted) or -ENOBUFS (too
 * slow). The watch is already stopped; do not call store_watch_stop. */
typedef void (*store_watch_error_cb)(store_watch_t *w, int err, int64_t last_rev, void *data);

/* Watch keys under prefix, delivering every event with revision > after_rev
 * (after_rev 0 = from now on). Returns -EOVERFLOW at once if after_rev is
 * older than the compacted revision. Events for after_rev < current are
 * replayed from the window before live events, from the loop, not from
 * inside this call. An after_rev beyond the current revision (up to
 * INT64_MAX) is valid: the watch waits until revisions pass it. -EINVAL for
 * a negative after_rev. */
int store_watch_start(store_t *s, const char *prefix, int64_t after_rev, store_event_cb cb,
                      store_watch_error_cb err_cb, void *data, store_watch_t **ret_watch);
void store_watch_stop(store_watch_t *w);

/* Pause/resume delivery (for HTTP back-pressure); paused watchers still
 * accumulate up to watcher_queue_max events before being cut off. */
void store_watch_pause(store_watch_t *w, bool paused);

/* ---- encryption at rest ---- */

/* Seal writes submitted from now on with this keyring (a new reference is
 * taken; NULL: no sealing). Writes already submitted keep the keyring they
 * were sealed with, so a swap must keep the old keys readable until a
 * reseal has finished. */
void store_keyring_use(store_t *s, store_keyring_t *kr);

/* Rewrite on disk every stored revision under prefix that is not in the
 * current keyring's write form (another key, or plaintext while a key is
 * active, or sealed while writes are plaintext), on the writer thread in
 * slices between write batches, one transaction per slice. Revisions,
 * memory and watches do not change. A crash leaves each row in its old or
 * its new form, both readable with the keyring used. cb (optional) runs on
 * the loop with 0 or a negative errno when it ends (-ESHUTDOWN if the store
 * closed first). -EBUSY one is running, -EOPNOTSUPP the backend cannot. */
typedef void (*store_reseal_cb)(int err, void *data);
int store_reseal(store_t *s, const char *prefix, store_reseal_cb cb, void *data);

typedef struct {
  bool running;
  int64_t rewritten; /* rows rewritten so far */
  int64_t examined;  /* rows looked at so far */
  int64_t total;     /* rows under the prefix when it started */
  int err;           /* of the last finished reseal */
} store_reseal_progress_t;
void store_reseal_progress(store_t *s, store_reseal_progress_t *ret);

/* Drop history at and below rev (bounded by the current revision). In
 * memory at once; on disk in bounded slices on the writer thread between
 * write batches, then free pages are returned to the file system in small
 * incremental-vacuum steps and the WAL is checkpointed and truncated
 * (docs/STORE.md "Disk space"). */
int store_compact(store_t *s, int64_t rev);
/* Addition: whether a compaction started by store_compact or the timer is
 * still running on disk. */
bool store_compacting(const store_t *s);
