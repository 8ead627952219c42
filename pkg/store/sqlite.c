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
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "store/backend.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"

#define SCHEMA_VERSION 1
/* Less free space than this after a failed write counts as a full disk. */
#define DISK_FULL_BYTES (256u * 1024)
/* WAL sizing (docs/STORE.md "Disk space"): checkpoint every ~4 MiB of WAL
 * (SQLite's default of 1000 pages), and cut the file back to 4 MiB when
 * it is reset, so a burst of large batches does not leave a big WAL. */
#define WAL_AUTOCHECKPOINT_PAGES 1000
#define WAL_SIZE_LIMIT (4 * 1024 * 1024)
/* Free pages returned to the file system per incremental_vacuum step
 * (1 MiB at 4 KiB pages), and free pages left alone (they are reused by
 * the next writes, and moving them costs WAL writes). */
#define VACUUM_STEP_PAGES 256
#define VACUUM_KEEP_PAGES 64

struct store_backend {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *insert;
  int64_t compact_done; /* meta compact_rev: history below it is deleted */
  bool maint_dirty;     /* a compaction slice or vacuum step ran since the last checkpoint */
};

static const char schema_sql[] =
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE kv (rev INTEGER PRIMARY KEY, key TEXT NOT NULL,"
    " create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL, deleted INTEGER NOT NULL,"
    " lease INTEGER NOT NULL, value BLOB NOT NULL);"
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
  /* auto_vacuum=INCREMENTAL takes effect on a new database (before its
   * first table); an older file is converted below with one VACUUM. */
  char pragmas[256];
  snprintf(pragmas, sizeof(pragmas),
           "PRAGMA locking_mode=EXCLUSIVE; PRAGMA auto_vacuum=INCREMENTAL;"
           " PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=%d;"
           " PRAGMA journal_size_limit=%d;", WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT);
  rc = sqlite3_exec(b->db, pragmas, NULL, NULL, NULL);
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
  /* No (key, rev) index: every write would dirty a random index page (4 KiB
   * through the WAL and again at the checkpoint for a 1 KiB update, +40%
   * bytes written, measured). Compaction goes by rev and prev_rev, and the
   * one query by key, at load, scans the table once. Older k3c databases
   * lose the index here; an older k3c still reads the file. */
  rc = sqlite3_exec(b->db, "DROP INDEX IF EXISTS kv_key", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "updating the schema", err, errlen);
    goto rollback;
  }
  rc = sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    r = open_error(b, rc, "committing the schema", err, errlen);
    goto rollback;
  }
  int64_t av = 2;
  if (n != 0 && query_int(b->db, "PRAGMA auto_vacuum", &av, &rc) == 0 && av != 2) {
    /* Once per database written before auto_vacuum: rebuild it so freed
     * pages can be given back while the server runs. Needs free space
     * about the size of the live data; on failure the store still works,
     * only without shrinking. */
    log_info("store", "database %s: converting to auto_vacuum=incremental (one VACUUM)", path);
    rc = sqlite3_exec(b->db, "VACUUM", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
      log_warn("store", "database %s: VACUUM failed (%s); the file will not shrink until it "
               "succeeds (k3c datastore defrag)", path, sqlite3_errmsg(b->db));
    else
      sqlite3_exec(b->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  }
  if (query_int(b->db, "SELECT value FROM meta WHERE name = 'compact_rev'", &b->compact_done,
                &rc) < 0) {
    r = open_error(b, rc, "reading the compacted revision", err, errlen);
    goto out;
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

static int load_rows(struct store_backend *b, sqlite3_stmt *st, bool history,
                     store_backend_load_cb cb, void *data, char *err, size_t errlen) {
  int rc, r;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store_backend_row_t row = {
        .rev = sqlite3_column_int64(st, 0),
        .key = (const char *)sqlite3_column_text(st, 1),
        .create_rev = sqlite3_column_int64(st, 2),
        .prev_rev = sqlite3_column_int64(st, 3),
        .lease_expires = sqlite3_column_int64(st, 4),
        .value = sqlite3_column_blob(st, 5),
        .len = (size_t)sqlite3_column_bytes(st, 5),
        .deleted = sqlite3_column_int(st, 6) != 0,
        .history = history,
    };
    if (!row.key || !row.key[0] || row.rev <= 0 || row.create_rev <= 0 ||
        row.create_rev > row.rev || row.prev_rev < 0 || row.prev_rev >= row.rev) {
      snprintf(err, errlen, "database %s is corrupt: bad row at revision %lld", b->path,
               (long long)row.rev);
      return -EIO;
    }
    if (!row.value)
      row.value = "";
    r = cb(&row, data);
    if (r < 0) {
      snprintf(err, errlen, "database %s: loading key %s at revision %lld failed: %s", b->path,
               row.key, (long long)row.rev, strerror(-r));
      return r;
    }
  }
  if (rc != SQLITE_DONE)
    return open_error(b, rc, "loading keys", err, errlen);
  return 0;
}

static int backend_load(store_backend_t *b, int64_t history, store_backend_load_cb cb, void *data,
                        int64_t *ret_rev, int64_t *ret_compact_rev, int64_t *ret_start, char *err,
                        size_t errlen) {
  sqlite3_stmt *st = NULL;
  int64_t max_rev = 0, compact_rev = 0, start, after = 0;
  int rc, r = 0;

  if (query_int(b->db, "SELECT max(rev) FROM kv", &max_rev, &rc) < 0 ||
      query_int(b->db, "SELECT value FROM meta WHERE name = 'compact_rev'", &compact_rev, &rc) < 0)
    return open_error(b, rc, "loading the revision", err, errlen);
  if (compact_rev < 1) {
    snprintf(err, errlen, "database %s is corrupt: compacted revision %lld", b->path,
             (long long)compact_rev);
    return -EIO;
  }
  if (max_rev < compact_rev)
    max_rev = compact_rev;
  /* History: the rows after start, kept until compaction. Revisions are
   * dense (one per write), so a count short of the span means rows are
   * missing (a database from elsewhere): then no history, as before. */
  start = max_rev - (history > 0 ? history : 0);
  if (start < compact_rev)
    start = compact_rev;
  if (start < max_rev) {
    sqlite3_stmt *cnt = NULL;
    rc = sqlite3_prepare_v2(b->db, "SELECT count(*) FROM kv WHERE rev > ?1", -1, &cnt, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(cnt, 1, start);
      rc = sqlite3_step(cnt);
      after = rc == SQLITE_ROW ? sqlite3_column_int64(cnt, 0) : 0;
      rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
    }
    sqlite3_finalize(cnt);
    if (rc != SQLITE_OK)
      return open_error(b, rc, "loading the history", err, errlen);
    if (after != max_rev - start) {
      log_warn("store", "database %s: revisions after %lld are not dense (%lld rows for %lld);"
               " starting without watch history", b->path, (long long)start, (long long)after,
               (long long)(max_rev - start));
      start = max_rev;
    }
  }
  /* The newest row of each key at start; live keys only. */
  rc = sqlite3_prepare_v2(b->db,
                          "SELECT rev, key, create_rev, prev_rev, lease, value, deleted FROM kv"
                          " WHERE rev IN (SELECT max(rev) FROM kv WHERE rev <= ?1 GROUP BY key)"
                          " AND deleted = 0",
                          -1, &st, NULL);
  if (rc != SQLITE_OK)
    return open_error(b, rc, "loading keys", err, errlen);
  sqlite3_bind_int64(st, 1, start);
  if ((r = load_rows(b, st, false, cb, data, err, errlen)) < 0)
    goto out;
  sqlite3_finalize(st);
  rc = sqlite3_prepare_v2(b->db,
                          "SELECT rev, key, create_rev, prev_rev, lease, value, deleted FROM kv"
                          " WHERE rev > ?1 ORDER BY rev", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return open_error(b, rc, "loading the history", err, errlen);
  sqlite3_bind_int64(st, 1, start);
  if ((r = load_rows(b, st, true, cb, data, err, errlen)) < 0)
    goto out;
  *ret_rev = max_rev;
  *ret_compact_rev = compact_rev;
  *ret_start = start;
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

/* One compaction transaction: the revisions (lo, hi] are looked at; the
 * version each of them superseded (its prev_rev) and the tombstones among
 * them are deleted. A version is superseded at or below rev exactly when a
 * newer row at or below rev names it as prev_rev, so walking the revisions
 * once, slice by slice, deletes the same rows as one big DELETE would, with
 * no transaction (and no WAL) growing with the size of the history. */
static int compact_slice(struct store_backend *b, int64_t lo, int64_t hi) {
  sqlite3_stmt *prev = NULL, *tomb = NULL, *meta = NULL;
  int r = -EIO;
  if (sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return -EIO;
  if (sqlite3_prepare_v2(b->db,
                         "DELETE FROM kv WHERE rev IN (SELECT prev_rev FROM kv WHERE rev > ?1"
                         " AND rev <= ?2 AND prev_rev > 0)", -1, &prev, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(b->db, "DELETE FROM kv WHERE rev > ?1 AND rev <= ?2 AND deleted = 1", -1,
                         &tomb, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(b->db,
                         "UPDATE meta SET value = max(value, ?1) WHERE name = 'compact_rev'", -1,
                         &meta, NULL) != SQLITE_OK)
    goto out;
  sqlite3_bind_int64(prev, 1, lo);
  sqlite3_bind_int64(prev, 2, hi);
  sqlite3_bind_int64(tomb, 1, lo);
  sqlite3_bind_int64(tomb, 2, hi);
  sqlite3_bind_int64(meta, 1, hi);
  if (sqlite3_step(prev) != SQLITE_DONE || sqlite3_step(tomb) != SQLITE_DONE ||
      sqlite3_step(meta) != SQLITE_DONE)
    goto out;
  if (sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    goto out;
  b->compact_done = hi;
  r = 0;
out:
  if (r < 0)
    sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_finalize(prev);
  sqlite3_finalize(tomb);
  sqlite3_finalize(meta);
  return r;
}

static int backend_compact(store_backend_t *b, int64_t rev) {
  int64_t freelist = 0;
  int rc;
  if (b->compact_done < rev) {
    int64_t hi = rev - b->compact_done > STORE_COMPACT_SLICE ? b->compact_done + STORE_COMPACT_SLICE
                                                            : rev;
    int r = compact_slice(b, b->compact_done, hi);
    if (r < 0)
      return r;
    b->maint_dirty = true;
    return 1;
  }
  if (query_int(b->db, "PRAGMA freelist_count", &freelist, &rc) < 0)
    return -EIO;
  if (freelist > VACUUM_KEEP_PAGES) {
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", VACUUM_STEP_PAGES);
    if (sqlite3_exec(b->db, sql, NULL, NULL, NULL) != SQLITE_OK)
      return -EIO;
    int64_t after = freelist;
    if (query_int(b->db, "PRAGMA freelist_count", &after, &rc) < 0)
      return -EIO;
    b->maint_dirty = true;
    if (after < freelist) /* not an old file without auto_vacuum */
      return 1;
  }
  /* Copy the WAL into the database and cut it to zero bytes. No reader
   * can hold it (exclusive lock), so this completes. */
  rc = sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  b->maint_dirty = false;
  return rc == SQLITE_OK ? 0 : -EIO;
}

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int backend_stats(store_backend_t *b, store_backend_stats_t *ret) {
  int64_t page_size = 0, pages = 0, freelist = 0, rows = 0, av = 0;
  int rc;
  if (query_int(b->db, "PRAGMA page_size", &page_size, &rc) < 0 ||
      query_int(b->db, "PRAGMA page_count", &pages, &rc) < 0 ||
      query_int(b->db, "PRAGMA freelist_count", &freelist, &rc) < 0 ||
      query_int(b->db, "PRAGMA auto_vacuum", &av, &rc) < 0 ||
      query_int(b->db, "SELECT count(*) FROM kv", &rows, &rc) < 0)
    return -EIO;
  char *wal = xasprintf("%s-wal", b->path);
  *ret = (store_backend_stats_t){
      .file_bytes = file_size(b->path), .wal_bytes = file_size(wal),
      .live_bytes = (pages - freelist) * page_size, .free_bytes = freelist * page_size,
      .rows = rows, .compact_rev = b->compact_done, .auto_vacuum = (int)av};
  free(wal);
  return 0;
}

static int backend_defrag(store_backend_t *b, char *err, size_t errlen) {
  int rc = sqlite3_exec(b->db, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return write_error(b, rc, "VACUUM", err, errlen);
  rc = sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  if (rc != SQLITE_OK)
    return write_error(b, rc, "checkpointing the WAL", err, errlen);
  return 0;
}

/* Encryption at rest (backend.h reseal): one slice of rows under prefix,
 * read first and rewritten afterwards in the same transaction. */
typedef struct {
  int64_t rev;
  char *key;
  char *value;
  size_t len;
} reseal_row_t;

static int backend_reseal(store_backend_t *b, const char *prefix, int64_t *cursor,
                          int (*fn)(const char *key, const char *value, size_t len, char **ret,
                                    size_t *ret_len, void *data),
                          void *data, int64_t *ret_rewritten, int64_t *ret_examined,
                          int64_t *ret_total) {
  sqlite3_stmt *sel = NULL, *upd = NULL;
  reseal_row_t *rows = NULL;
  size_t n = 0;
  int r = -EIO;
  /* Keys are compared as text: [prefix, prefix with its last byte + 1). */
  size_t pl = strlen(prefix);
  char *end = xstrdup(prefix);
  if (pl)
    end[pl - 1]++;
  if (sqlite3_exec(b->db, "PRAGMA secure_delete=ON; BEGIN IMMEDIATE", NULL, NULL, NULL) !=
      SQLITE_OK)
    goto out;
  if (*cursor == 0) {
    sqlite3_stmt *cnt = NULL;
    if (sqlite3_prepare_v2(b->db, "SELECT count(*) FROM kv WHERE key >= ?1 AND key < ?2", -1,
                           &cnt, NULL) != SQLITE_OK)
      goto out;
    sqlite3_bind_text(cnt, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(cnt, 2, end, -1, SQLITE_STATIC);
    if (sqlite3_step(cnt) == SQLITE_ROW)
      *ret_total = sqlite3_column_int64(cnt, 0);
    sqlite3_finalize(cnt);
  }
  if (sqlite3_prepare_v2(b->db,
                         "SELECT rev, key, value FROM kv WHERE rev > ?1 AND key >= ?2 AND key < ?3"
                         " ORDER BY rev LIMIT ?4", -1, &sel, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(b->db, "UPDATE kv SET value = ?1 WHERE rev = ?2", -1, &upd, NULL) !=
          SQLITE_OK)
    goto out;
  sqlite3_bind_int64(sel, 1, *cursor);
  sqlite3_bind_text(sel, 2, prefix, -1, SQLITE_STATIC);
  sqlite3_bind_text(sel, 3, end, -1, SQLITE_STATIC);
  sqlite3_bind_int(sel, 4, STORE_COMPACT_SLICE);
  rows = xcalloc(STORE_COMPACT_SLICE, sizeof(*rows));
  int rc;
  while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
    reseal_row_t *row = &rows[n++];
    row->rev = sqlite3_column_int64(sel, 0);
    row->key = xstrdup((const char *)sqlite3_column_text(sel, 1));
    row->len = (size_t)sqlite3_column_bytes(sel, 2);
    row->value = xmalloc(row->len + 1);
    if (row->len)
      memcpy(row->value, sqlite3_column_blob(sel, 2), row->len);
    row->value[row->len] = '\0';
  }
  if (rc != SQLITE_DONE)
    goto out;
  int64_t rewritten = 0;
  for (size_t i = 0; i < n; i++) {
    char *nv = NULL;
    size_t nl = 0;
    r = fn(rows[i].key, rows[i].value, rows[i].len, &nv, &nl, data);
    if (r < 0)
      goto out;
    r = -EIO;
    if (!nv)
      continue;
    sqlite3_reset(upd);
    sqlite3_bind_blob(upd, 1, nv, (int)nl, free);
    sqlite3_bind_int64(upd, 2, rows[i].rev);
    if (sqlite3_step(upd) != SQLITE_DONE)
      goto out;
    rewritten++;
  }
  if (sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    goto out;
  if (n)
    *cursor = rows[n - 1].rev;
  *ret_rewritten += rewritten;
  *ret_examined += (int64_t)n;
  if (n < STORE_COMPACT_SLICE) {
    /* Done: old page contents went with secure_delete; the WAL still has
     * the old forms until it is copied back and cut. */
    rc = sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    r = rc == SQLITE_OK ? 0 : -EIO;
  } else
    r = 1;
out:
  if (r < 0)
    sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_exec(b->db, "PRAGMA secure_delete=OFF", NULL, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    free(rows[i].key);
    free(rows[i].value);
  }
  free(rows);
  free(end);
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  return r;
}

const store_backend_ops_t store__sqlite_backend = {
    .name = "sqlite",
    .open = backend_open,
    .load = backend_load,
    .commit = backend_commit,
    .compact = backend_compact,
    .stats = backend_stats,
    .defrag = backend_defrag,
    .reseal = backend_reseal,
    .close = backend_close,
};
