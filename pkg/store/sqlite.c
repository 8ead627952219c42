/* SQLite backend for pkg/store (see backend.h): one table of rows, one row
 * per revision, WAL journal with synchronous=FULL so a committed transaction
 * survives power loss, and an exclusive lock so two processes never share a
 * database. Schema and durability choices are explained in docs/STORE.md. */
#include <errno.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "store/backend.h"
#include "util/alloc.h"
#include "util/fsutil.h"

#define SCHEMA_VERSION 1
/* Less free space than this after a failed write counts as a full disk. */
#define DISK_FULL_BYTES (256u * 1024)

struct store_backend {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *insert;
};

static const char schema_sql[] =
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE kv (rev INTEGER PRIMARY KEY, key TEXT NOT NULL,"
    " create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL, deleted INTEGER NOT NULL,"
    " lease INTEGER NOT NULL, value BLOB NOT NULL);"
    "CREATE INDEX kv_key ON kv (key, rev);"
    "INSERT INTO meta VALUES ('schema', 1), ('compact_rev', 1);";

/* Map an SQLite failure at open time to an errno and a sentence. */
static int open_error(struct store_backend *b, int rc, const char *what, char *err, size_t errlen) {
  const char *msg = b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc);
  int sys = b->db ? sqlite3_system_errno(b->db) : 0;
  switch (rc & 0xff) {
  case SQLITE_NOTADB:
  case SQLITE_CORRUPT:
    snprintf(err, errlen, "database %s is corrupt (%s: %s); restore it from a backup or move it away",
             b->path, what, msg);
    return -EIO;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    snprintf(err, errlen, "database %s is in use by another process (%s: %s)", b->path, what, msg);
    return -EBUSY;
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_CANTOPEN:
  case SQLITE_AUTH:
    snprintf(err, errlen, "database %s cannot be opened for writing (%s: %s%s%s)", b->path, what,
             msg, sys ? ": " : "", sys ? strerror(sys) : "");
    return sys == ENOENT ? -ENOENT : sys == EROFS ? -EROFS : -EACCES;
  case SQLITE_FULL:
    snprintf(err, errlen, "database %s: disk full (%s)", b->path, what);
    return -ENOSPC;
  default:
    snprintf(err, errlen, "database %s: %s failed: %s%s%s", b->path, what, msg, sys ? ": " : "",
             sys ? strerror(sys) : "");
    return -EIO;
  }
}

static void backend_close(store_backend_t *b) {
  if (!b)
    return;
  sqlite3_finalize(b->insert);
  sqlite3_close(b->db);
  free(b->path);
  free(b);
}

/* Run one statement that returns at most one integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *ret, int *ret_rc) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    goto out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *ret = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    *ret = 0;
    rc = SQLITE_OK;
  }
out:
  sqlite3_finalize(st);
  *ret_rc = rc;
  return rc == SQLITE_OK ? 0 : -EIO;
}

static int backend_open(const char *path, store_backend_t **ret_backend, char *err, size_t errlen) {
  struct store_backend *b = xcalloc(1, sizeof(*b));
  char *dir = NULL;
  int64_t n = 0, version = 0;
  int rc, r;

  b->path = xstrdup(path);
  dir = xstrdup(path);
  r = fs_mkdir_p(dirname(dir), 0700);
  if (r < 0) {
    snprintf(err, errlen, "database %s: cannot create its directory: %s", path, strerror(-r));
    goto out;
  }
  rc = sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "open", err, errlen);
    goto out;
  }
  sqlite3_extended_result_codes(b->db, 1);
  /* Exclusive locking before the first WAL access: no shared memory file,
   * and a second process opening the same file fails instead of diverging
   * from our in-memory state. */
  rc = sqlite3_exec(b->db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                           " PRAGMA synchronous=FULL;", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "setting WAL mode", err, errlen);
    goto out;
  }
  rc = sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "locking", err, errlen);
    goto out;
  }
  if (query_int(b->db, "SELECT count(*) FROM sqlite_master", &n, &rc) < 0) {
    r = open_error(b, rc, "reading the schema", err, errlen);
    goto rollback;
  }
  if (n == 0) {
    rc = sqlite3_exec(b->db, schema_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      r = open_error(b, rc, "creating the schema", err, errlen);
      goto rollback;
    }
  } else {
    if (query_int(b->db, "SELECT value FROM meta WHERE name = 'schema'", &version, &rc) < 0 ||
        version != SCHEMA_VERSION ||
        sqlite3_exec(b->db, "SELECT rev, key, create_rev, prev_rev, deleted, lease, value FROM kv"
                            " LIMIT 0", NULL, NULL, NULL) != SQLITE_OK) {
      if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
        r = open_error(b, rc, "reading the schema", err, errlen);
      } else {
        snprintf(err, errlen, "database %s has an unknown schema (want k3c store schema %d, found %lld)"
                 "; it was not written by this version of k3c", path, SCHEMA_VERSION,
                 (long long)version);
        r = -EPROTO;
      }
      goto rollback;
    }
  }
  rc = sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "committing the schema", err, errlen);
    goto rollback;
  }
  rc = sqlite3_prepare_v3(b->db, "INSERT INTO kv VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1,
                          SQLITE_PREPARE_PERSISTENT, &b->insert, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "preparing statements", err, errlen);
    goto out;
  }
  *ret_backend = b;
  b = NULL;
  r = 0;
  goto out;
rollback:
  sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
out:
  free(dir);
  backend_close(b);
  return r;
}

static int backend_load(store_backend_t *b, store_backend_load_cb cb, void *data, int64_t *ret_rev,
                        int64_t *ret_compact_rev, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int64_t max_rev = 0, compact_rev = 0;
  int rc, r = 0;

  /* The newest row of each key; live keys only. */
  rc = sqlite3_prepare_v2(b->db,
                          "SELECT rev, key, create_rev, prev_rev, lease, value FROM kv"
                          " WHERE rev IN (SELECT max(rev) FROM kv GROUP BY key) AND deleted = 0",
                          -1, &st, NULL);
  if (rc != SQLITE_OK)
    return open_error(b, rc, "loading keys", err, errlen);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store_backend_row_t row = {
        .rev = sqlite3_column_int64(st, 0),
        .key = (const char *)sqlite3_column_text(st, 1),
        .create_rev = sqlite3_column_int64(st, 2),
        .prev_rev = sqlite3_column_int64(st, 3),
        .lease_expires = sqlite3_column_int64(st, 4),
        .value = sqlite3_column_blob(st, 5),
        .len = (size_t)sqlite3_column_bytes(st, 5),
    };
    if (!row.key || !row.key[0] || row.rev <= 0 || row.create_rev <= 0 ||
        row.create_rev > row.rev) {
      snprintf(err, errlen, "database %s is corrupt: bad row at revision %lld", b->path,
               (long long)row.rev);
      r = -EIO;
      goto out;
    }
    if (!row.value)
      row.value = "";
    r = cb(&row, data);
    if (r < 0) {
      snprintf(err, errlen, "database %s: loading key %s failed: %s", b->path, row.key,
               strerror(-r));
      goto out;
    }
  }
  if (rc != SQLITE_DONE) {
    r = open_error(b, rc, "loading keys", err, errlen);
    goto out;
  }
  if (query_int(b->db, "SELECT max(rev) FROM kv", &max_rev, &rc) < 0 ||
      query_int(b->db, "SELECT value FROM meta WHERE name = 'compact_rev'", &compact_rev, &rc) < 0) {
    r = open_error(b, rc, "loading the revision", err, errlen);
    goto out;
  }
  if (compact_rev < 1) {
    snprintf(err, errlen, "database %s is corrupt: compacted revision %lld", b->path,
             (long long)compact_rev);
    r = -EIO;
    goto out;
  }
  *ret_rev = max_rev > compact_rev ? max_rev : compact_rev;
  *ret_compact_rev = compact_rev;
out:
  sqlite3_finalize(st);
  return r;
}

/* Whether the database's file system has (almost) no space left for us:
 * an fsync or a write can fail with a plain I/O error on a full disk. */
static bool disk_full(const struct store_backend *b) {
  char *dir = xstrdup(b->path);
  struct statvfs v;
  bool full = statvfs(dirname(dir), &v) == 0 &&
              (unsigned long long)v.f_bavail * v.f_frsize < DISK_FULL_BYTES;
  free(dir);
  return full;
}

/* Map a failed write to an errno and a reason naming the database, the
 * SQLite code and the system errno, read before anything else runs on db. */
static int write_error(struct store_backend *b, int rc, const char *what, char *err,
                       size_t errlen) {
  int sys = sqlite3_system_errno(b->db);
  const char *msg = sqlite3_errmsg(b->db);
  int r = -EIO;
  if ((rc & 0xff) == SQLITE_FULL || sys == ENOSPC || ((rc & 0xff) == SQLITE_IOERR && disk_full(b)))
    r = -ENOSPC;
  else if (sys == EDQUOT || sys == EFBIG || sys == EROFS)
    r = -sys;
  else if ((rc & 0xff) == SQLITE_READONLY)
    r = -EROFS;
  snprintf(err, errlen, "database %s: %s failed: %s (SQLite code %d: %s%s%s)", b->path, what,
           r == -ENOSPC ? "disk full" : msg, rc, sqlite3_errstr(rc),
           sys ? "; errno " : "", sys ? strerror(sys) : "");
  return r;
}

static int backend_commit(store_backend_t *b, const store_backend_row_t *rows, size_t n,
                          char *err, size_t errlen) {
  sqlite3_stmt *st = b->insert;
  int rc, r;
  if ((rc = sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
    return write_error(b, rc, "beginning a transaction", err, errlen);
  for (size_t i = 0; i < n; i++) {
    const store_backend_row_t *row = &rows[i];
    sqlite3_bind_int64(st, 1, row->rev);
    sqlite3_bind_text(st, 2, row->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, row->create_rev);
    sqlite3_bind_int64(st, 4, row->prev_rev);
    sqlite3_bind_int(st, 5, row->deleted ? 1 : 0);
    sqlite3_bind_int64(st, 6, row->lease_expires);
    sqlite3_bind_blob64(st, 7, row->value, row->len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
      r = write_error(b, rc, "inserting a row", err, errlen);
      sqlite3_reset(st);
      goto fail;
    }
    sqlite3_reset(st);
  }
  sqlite3_clear_bindings(st);
  if ((rc = sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    r = write_error(b, rc, "committing", err, errlen);
    goto fail;
  }
  return 0;
fail:
  sqlite3_clear_bindings(st);
  /* A failed COMMIT may already have rolled back; ROLLBACK is then a no-op
   * error we ignore. Either way nothing of this batch is in the database. */
  sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
  return r;
}

static int backend_compact(store_backend_t *b, int64_t rev) {
  sqlite3_stmt *del = NULL, *meta = NULL;
  int r = -EIO;
  if (sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return -EIO;
  if (sqlite3_prepare_v2(b->db,
                         "DELETE FROM kv WHERE rev <= ?1 AND (deleted = 1 OR EXISTS"
                         " (SELECT 1 FROM kv AS n WHERE n.key = kv.key AND n.rev > kv.rev"
                         " AND n.rev <= ?1))",
                         -1, &del, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(b->db,
                         "UPDATE meta SET value = max(value, ?1) WHERE name = 'compact_rev'", -1,
                         &meta, NULL) != SQLITE_OK)
    goto out;
  sqlite3_bind_int64(del, 1, rev);
  sqlite3_bind_int64(meta, 1, rev);
  if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(meta) != SQLITE_DONE)
    goto out;
  if (sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    goto out;
  r = 0;
out:
  if (r < 0)
    sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_finalize(del);
  sqlite3_finalize(meta);
  return r;
}

const store_backend_ops_t store__sqlite_backend = {
    .name = "sqlite",
    .open = backend_open,
    .load = backend_load,
    .commit = backend_commit,
    .compact = backend_compact,
    .close = backend_close,
};
