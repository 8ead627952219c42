/* pkg/store disk space: compaction in bounded slices between writes, free
 * pages returned to the file system (auto_vacuum=INCREMENTAL), the WAL
 * truncated, and old databases converted once. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "helpers.h"
#include "store/backend.h"
#include "util/alloc.h"

static int64_t fsize(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int64_t wal_size(void) {
  char p[400];
  snprintf(p, sizeof(p), "%s-wal", tpath);
  return fsize(p);
}

static store_backend_stats_t backend_stats(void) {
  store_backend_t *b = NULL;
  store_backend_stats_t st = {0};
  char err[512];
  if (store__sqlite_backend.open(tpath, &b, err, sizeof(err)) < 0)
    TEST_FAIL("backend open: %s", err);
  if (store__sqlite_backend.stats(b, &st) < 0)
    TEST_FAIL("backend stats");
  store__sqlite_backend.close(b);
  return st;
}

static void wait_compaction(store_t *s) {
  double end = ev_time() + 60;
  while (store_compacting(s) && ev_time() < end) {
    ev_run(tloop, EVRUN_NOWAIT);
    usleep(1000);
  }
  if (store_compacting(s))
    TEST_FAIL("compaction did not finish in 60 s");
}

#define KEYS 200
#define ROUNDS 100

/* Update every key ROUNDS times with many writes in flight. */
static void churn(store_t *s, const char *val) {
  static t_result_t res[KEYS];
  char key[64];
  for (int round = 0; round < ROUNDS; round++) {
    for (int k = 0; k < KEYS; k++) {
      snprintf(key, sizeof(key), "/registry/k/%03d", k);
      res[k] = (t_result_t){0};
      store_write_t w = {.op = round == 0 ? STORE_OP_CREATE : STORE_OP_UPDATE, .key = key,
                         .value = val, .len = strlen(val)};
      ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[k]), 0);
    }
    for (int k = 0; k < KEYS; k++) {
      t_run_until(&res[k].done, 30);
      ASSERT_EQ_INT(res[k].err, 0);
      store_kv_unref(res[k].kv);
    }
  }
}

static void test_compaction_returns_space(void) {
  static char val[1025];
  memset(val, 'v', 1024);
  t_setup();
  store_options_t o = {.path = tpath, .compact_interval_ms = -1, .watch_window = 1000};
  store_t *s = t_open_opts(&o);
  churn(s, val);
  int64_t before = fsize(tpath) + wal_size();
  printf("# after %d updates: file %lld + WAL %lld bytes\n", KEYS * ROUNDS,
         (long long)fsize(tpath), (long long)wal_size());
  ASSERT_TRUE(before > 10 * 1024 * 1024);
  ASSERT_TRUE(wal_size() <= 64 * 1024 * 1024);

  ASSERT_EQ_INT(store_compact(s, store_revision(s)), 0);
  ASSERT_TRUE(store_compacting(s));
  /* A write submitted now is committed between two slices, long before
   * the compaction of ~20,000 revisions is over. */
  t_result_t res = {0};
  store_write_t w = {.op = STORE_OP_CREATE, .key = "/registry/x", .value = "x", .len = 1};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res), 0);
  t_run_until(&res.done, 30);
  ASSERT_EQ_INT(res.err, 0);
  ASSERT_TRUE(store_compacting(s));
  store_kv_unref(res.kv);
  wait_compaction(s);
  int64_t file = fsize(tpath), wal = wal_size();
  store_close(s);
  store_backend_stats_t st = backend_stats();
  printf("# after compaction: file %lld + WAL %lld bytes, live %lld, free %lld, rows %lld\n",
         (long long)file, (long long)wal, (long long)st.live_bytes, (long long)st.free_bytes,
         (long long)st.rows);
  ASSERT_EQ_INT(st.rows, KEYS + 1);
  ASSERT_EQ_INT(st.auto_vacuum, 2);
  ASSERT_TRUE(file + wal <= 2 * st.live_bytes + 8 * 1024 * 1024);
  ASSERT_TRUE(file < before / 4);
  ASSERT_EQ_INT(wal, 0);

  /* Everything live is still there. */
  s = t_open();
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/registry/k/123", 0, &kv), 0);
  ASSERT_EQ_INT(kv->len, 1024);
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_count(s, "/registry/"), KEYS + 1);
  store_close(s);
  t_teardown();
}

/* Slice by slice, compaction deletes exactly the rows one DELETE of
 * "superseded at or below rev, and tombstones at or below rev" would. */
static void test_compaction_slices_exact(void) {
  enum { N = 3000 };
  static int hkey[N + 2];
  static bool hdel[N + 2];
  char key[64], val[64];
  t_setup();
  store_t *s = t_open();
  unsigned seed = 7;
  bool live[50] = {0};
  for (int i = 0; i < N; i++) {
    seed = seed * 1103515245 + 12345;
    int k = (int)((seed >> 8) % 50);
    snprintf(key, sizeof(key), "/k/%02d", k);
    snprintf(val, sizeof(val), "v%d", i);
    int64_t rev;
    if (live[k] && (seed >> 20) % 4 == 0) {
      store_kv_t *kv = NULL;
      ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, key, NULL, 0, 0, &kv), 0);
      rev = kv->mod_rev;
      store_kv_unref(kv);
      live[k] = false;
    } else {
      rev = t_put(s, key, val);
      live[k] = true;
    }
    ASSERT_TRUE(rev >= 2 && rev <= N + 1);
    hkey[rev] = k;
    hdel[rev] = !live[k];
  }
  int64_t cut = store_revision(s) - 700;
  /* The expected survivors: later than cut, or the newest version at or
   * below cut of a key that was not deleted then. */
  char *want = xcalloc(1, 16 * N), *p = want;
  for (int64_t rev = 2; rev <= store_revision(s); rev++) {
    bool keep = rev > cut;
    if (!keep && !hdel[rev]) {
      keep = true;
      for (int64_t n = rev + 1; n <= cut; n++)
        if (hkey[n] == hkey[rev])
          keep = false;
    }
    if (keep)
      p += snprintf(p, (size_t)(want + 16 * N - p), "%s%lld", p == want ? "" : ",", (long long)rev);
  }
  ASSERT_EQ_INT(store_compact(s, cut), 0);
  ASSERT_EQ_INT(store_compacted_revision(s), cut);
  wait_compaction(s);
  store_close(s);
  sqlite3 *db;
  sqlite3_stmt *st;
  ASSERT_EQ_INT(sqlite3_open(tpath, &db), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT group_concat(rev) FROM (SELECT rev FROM kv"
                                       " ORDER BY rev)", -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  const char *got = (const char *)sqlite3_column_text(st, 0);
  if (!got || strcmp(got, want) != 0)
    TEST_FAIL("rows after compaction differ:\n# got  %.200s\n# want %.200s", got ? got : "",
              want);
  sqlite3_finalize(st);
  sqlite3_close(db);
  free(want);
  t_teardown();
}

/* A database from before auto_vacuum is converted once at open. */
static void test_old_database_converted(void) {
  t_setup();
  store_t *s = t_open();
  t_put(s, "/a", "1");
  store_close(s);
  sqlite3 *db;
  ASSERT_EQ_INT(sqlite3_open(tpath, &db), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_exec(db, "PRAGMA auto_vacuum=NONE; VACUUM;", NULL, NULL, NULL),
                SQLITE_OK);
  sqlite3_close(db);
  s = t_open();
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/a", 0, &kv), 0);
  store_kv_unref(kv);
  store_close(s);
  ASSERT_EQ_INT(backend_stats().auto_vacuum, 2);
  t_teardown();
}

TEST_LIST = {
    TEST(test_compaction_returns_space),
    TEST(test_compaction_slices_exact),
    TEST(test_old_database_converted),
    {0},
};
TEST_MAIN()
