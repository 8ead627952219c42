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
} store_backend_row_t;

/* Called once per live key by load, in any order. Return 0 or a negative
 * errno to abort loading. */
typedef int (*store_backend_load_cb)(const store_backend_row_t *row, void *data);

typedef struct {
  const char *name;
  /* Open or create the log at path. On failure returns a negative errno and
   * writes a readable reason (with the path) to err. */
  int (*open)(const char *path, store_backend_t **ret_backend, char *err, size_t errlen);
  /* Report the newest version of every live key, then the newest revision
   * ever written and the compacted revision. Errors as for open. */
  int (*load)(store_backend_t *b, store_backend_load_cb cb, void *data, int64_t *ret_rev,
              int64_t *ret_compact_rev, char *err, size_t errlen);
  /* Append rows atomically: all or none are durable when this returns
   * (0), or none (negative errno). Rows come in revision order. On failure
   * err gets a reason with the path and the backend's own codes; the errno
   * says what kind: -ENOSPC disk full, -EDQUOT quota exceeded, -EFBIG file
   * size limit, -EROFS read-only, -EIO any other I/O or database error. */
  int (*commit)(store_backend_t *b, const store_backend_row_t *rows, size_t n, char *err,
                size_t errlen);
  /* Forget history at and below rev: rows superseded at or below rev and
   * tombstones at or below rev. The newest version of live keys stays. */
  int (*compact)(store_backend_t *b, int64_t rev);
  /* Close; accepts NULL. */
  void (*close)(store_backend_t *b);
} store_backend_ops_t;

/* The SQLite backend (sqlite.c). */
extern const store_backend_ops_t store__sqlite_backend;

/* The backend store_open uses. Until store_options_t grows an endpoint
 * (etcd://, postgres://), this is the SQLite backend; tests point it at a
 * fault-injecting wrapper. Set only while no store is open. */
extern const store_backend_ops_t *store__backend;
