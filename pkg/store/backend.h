/* pkg/store backend interface: the durable log under the in-memory store.
 *
 * A backend persists rows (one row = one revision of one key) and gives them
 * back at start-up. It knows nothing about watches, CAS or memory; pkg/store
 * does all of that. SQLite is the only backend today (sqlite.c); an etcd or
 * PostgreSQL backend implements the same five operations and nothing in
 * pkg/api changes.
 *
 * Threads: open and load run on the loop thread inside store_open, before the
 * writer thread starts; commit and compact run on the writer thread only;
 * close runs on the loop thread after the writer thread has been joined. A
 * backend therefore never sees two calls at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_backend store_backend_t;

/* Revisions handled per compaction transaction (each deletes at most twice
 * as many rows: the superseded version and a tombstone). */
#define STORE_COMPACT_SLICE 500

typedef struct store_backend_stats {
  int64_t file_bytes; /* the database file */
  int64_t wal_bytes;  /* its -wal file (0 if absent) */
  int64_t live_bytes; /* pages in use: (page count - free pages) * page size */
  int64_t free_bytes; /* free pages not yet returned to the file system */
  int64_t rows;       /* rows (revisions) kept */
  int64_t compact_rev;
  int auto_vacuum;    /* 0 none, 1 full, 2 incremental */
} store_backend_stats_t;

/* One revision of one key. Borrowed: valid for the duration of the call. */
typedef struct {
  int64_t rev;           /* the write's revision (unique, increasing) */
  const char *key;
  const char *value;     /* for a delete: the object's final state */
  size_t len;
  int64_t create_rev;
  int64_t prev_rev;      /* mod_rev of the version this one replaces, 0 if none */
  int64_t lease_expires; /* unix seconds, 0 = none */
  bool deleted;
  bool history;          /* load: a row of the history after *ret_start */
} store_backend_row_t;

/* Called by load: first once per key live at the history start (any
 * order, row->history false), then once per row after it in revision
 * order (row->history true, tombstones included). Return 0 or a negative
 * errno to abort loading. */
typedef int (*store_backend_load_cb)(const store_backend_row_t *row, void *data);

typedef struct {
  const char *name;
  /* Open or create the log at path. On failure returns a negative errno and
   * writes a readable reason (with the path) to err. */
  int (*open)(const char *path, store_backend_t **ret_backend, char *err, size_t errlen);
  /* Report the state at a start revision (every key live then), then up
   * to `history` rows after it, in revision order, so the store can rebuild
   * its event window; then the newest revision ever written, the compacted
   * revision and the start (= the newest revision when history is 0, or
   * when the rows after the start are not dense). Errors as for open. */
  int (*load)(store_backend_t *b, int64_t history, store_backend_load_cb cb, void *data,
              int64_t *ret_rev, int64_t *ret_compact_rev, int64_t *ret_start, char *err,
              size_t errlen);
  /* Append rows atomically: all or none are durable when this returns
   * (0), or none (negative errno). Rows come in revision order. On failure
   * err gets a reason with the path and the backend's own codes; the errno
   * says what kind: -ENOSPC disk full, -EDQUOT quota exceeded, -EFBIG file
   * size limit, -EROFS read-only, -EIO any other I/O or database error. */
  int (*commit)(store_backend_t *b, const store_backend_row_t *rows, size_t n, char *err,
                size_t errlen);
  /* Forget history at and below rev: rows superseded at or below rev and
   * tombstones at or below rev. The newest version of live keys stays.
   * Bounded work per call: one call does one slice (a transaction of at
   * most STORE_COMPACT_SLICE revisions, or one incremental-vacuum step, or
   * the final WAL checkpoint) and returns 1 when more is left (call again,
   * with the same or a newer rev, after other work), 0 when the file holds
   * no more history and free pages than allowed, or a negative errno. */
  int (*compact)(store_backend_t *b, int64_t rev);
  /* Sizes for `k3c datastore status` (optional; NULL if unknown). */
  int (*stats)(store_backend_t *b, struct store_backend_stats *ret);
  /* Rebuild the file without free pages (VACUUM); blocks for a time that
   * grows with the live data (optional). */
  int (*defrag)(store_backend_t *b, char *err, size_t errlen);
  /* Rewrite stored values (every revision, tombstones too) of keys under
   * prefix, in one transaction of at most STORE_COMPACT_SLICE rows after
   * *cursor (a revision; 0 to start), for encryption at rest: fn gets each
   * value and returns 0 with a malloc'd replacement (*ret, *ret_len), 0
   * with *ret NULL to keep it, or a negative errno to stop. Advances
   * *cursor, adds to *ret_rewritten and *ret_examined; when *cursor is 0
   * also sets *ret_total to the rows under prefix. Deleted contents are
   * overwritten (secure_delete) and the WAL is truncated at the end, so no
   * old form stays in the files. Returns 1 when more rows are left, 0
   * when done, or a negative errno (the slice is rolled back). Optional. */
  int (*reseal)(store_backend_t *b, const char *prefix, int64_t *cursor,
                int (*fn)(const char *key, const char *value, size_t len, char **ret,
                          size_t *ret_len, void *data),
                void *data, int64_t *ret_rewritten, int64_t *ret_examined, int64_t *ret_total);
  /* Close; accepts NULL. */
  void (*close)(store_backend_t *b);
} store_backend_ops_t;

/* The SQLite backend (sqlite.c). */
extern const store_backend_ops_t store__sqlite_backend;

/* The backend store_open uses. Until store_options_t grows an endpoint
 * (etcd://, postgres://), this is the SQLite backend; tests point it at a
 * fault-injecting wrapper. Set only while no store is open. */
extern const store_backend_ops_t *store__backend;
