/* Tests for pkg/store when the backend fails a commit: the batch and every
 * write queued after it fail with -EIO, nothing of them becomes visible,
 * writes are refused until the queue drains, then writing resumes at the
 * next dense revision. The SQLite backend is wrapped to inject the fault. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>

#include "helpers.h"
#include "store/backend.h"

static store_backend_ops_t faulty;
static volatile int fail_commits; /* commits to fail from now on */

static volatile int fail_errno = -EIO; /* what the failed commits return */

static int faulty_commit(store_backend_t *b, const store_backend_row_t *rows, size_t n, char *err,
                         size_t errlen) {
  if (fail_commits > 0) {
    fail_commits--;
    snprintf(err, errlen, "injected: %s", strerror(-fail_errno));
    return fail_errno;
  }
  return store__sqlite_backend.commit(b, rows, n, err, errlen);
}

static void test_commit_failure(void) {
  t_setup();
  faulty = store__sqlite_backend;
  faulty.commit = faulty_commit;
  store__backend = &faulty;
  store_t *s = t_open();
  int64_t r1 = t_put(s, "/f/a", "before");

  t_result_t res[5] = {{0}};
  fail_commits = 1;
  char key[16];
  for (int i = 0; i < 5; i++) {
    snprintf(key, sizeof(key), "/f/%d", i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = "x", .len = 1};
    ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[i]), 0);
  }
  store_write_t up = {.op = STORE_OP_UPDATE, .key = "/f/a", .value = "lost", .len = 4};
  t_result_t ur = {0};
  ASSERT_EQ_INT(store_write(s, &up, t_done_cb, &ur), 0);
  t_run_until(&ur.done, 10);
  for (int i = 0; i < 5; i++) {
    ASSERT_TRUE(res[i].done);
    ASSERT_EQ_INT(res[i].err, -EIO);
    ASSERT_NULL(res[i].kv);
  }
  ASSERT_EQ_INT(ur.err, -EIO);
  /* nothing of the failed writes is visible, even to CAS */
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/f/0", 0, &kv), -ENOENT);
  ASSERT_EQ_INT(store_get_latest(s, "/f/0", &kv), -ENOENT);
  ASSERT_EQ_INT(store_get_latest(s, "/f/a", &kv), 0);
  ASSERT_EQ_STR(kv->value, "before");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_revision(s), r1);
  /* writing resumes at the next revision: no gap */
  ASSERT_EQ_INT(t_put(s, "/f/0", "after"), r1 + 1);
  store_close(s);
  /* and the database agrees */
  s = t_open();
  ASSERT_EQ_INT(store_revision(s), r1 + 1);
  ASSERT_EQ_INT(store_get(s, "/f/a", 0, &kv), 0);
  ASSERT_EQ_STR(kv->value, "before");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_count(s, "/f/"), 2);
  store_close(s);
  store__backend = &store__sqlite_backend;
  t_teardown();

}

/* Regression (issue #19): a full disk was answered "storage error:
 * Input/output error" and never logged. The failure's kind reaches every
 * write of the episode (and writes refused while it drains), and its reason
 * is kept with a count so the caller can log each failure once. */
static void test_disk_full_reported(void) {
  t_setup();
  faulty = store__sqlite_backend;
  faulty.commit = faulty_commit;
  store__backend = &faulty;
  store_t *s = t_open();
  uint64_t count = 7;
  ASSERT_EQ_STR(store_failure(s, &count), "");
  ASSERT_EQ_INT(count, 0);
  int64_t r1 = t_put(s, "/d/a", "before");

  fail_errno = -ENOSPC;
  fail_commits = 1;
  t_result_t res[3] = {{0}};
  char key[16];
  for (int i = 0; i < 3; i++) {
    snprintf(key, sizeof(key), "/d/%d", i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = "x", .len = 1};
    ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[i]), 0);
  }
  t_run_until(&res[0].done, 10);
  ASSERT_EQ_INT(res[0].err, -ENOSPC);
  ASSERT_EQ_STR(store_failure(s, &count), "injected: No space left on device");
  ASSERT_EQ_INT(count, 1);
  /* while the failed batch drains, new writes are refused with the same kind */
  if (!res[2].done) {
    store_write_t w = {.op = STORE_OP_CREATE, .key = "/d/refused", .value = "x", .len = 1};
    ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[1]) < 0 ? -ENOSPC : 0, -ENOSPC);
  }
  t_run_until(&res[2].done, 10);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ_INT(res[i].err, -ENOSPC);
  /* space is back: writing resumes at the next revision; the count stays */
  ASSERT_EQ_INT(t_put(s, "/d/0", "after"), r1 + 1);
  store_failure(s, &count);
  ASSERT_EQ_INT(count, 1);
  fail_errno = -EIO;
  fail_commits = 1;
  t_result_t again = {0};
  store_write_t w = {.op = STORE_OP_CREATE, .key = "/d/9", .value = "x", .len = 1};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &again), 0);
  t_run_until(&again.done, 10);
  ASSERT_EQ_INT(again.err, -EIO);
  char want[128]; /* the C library's own wording: glibc and musl differ */
  snprintf(want, sizeof(want), "injected: %s", strerror(EIO));
  ASSERT_EQ_STR(store_failure(s, &count), want);
  ASSERT_EQ_INT(count, 2);
  store_close(s);
  store__backend = &store__sqlite_backend;
  t_teardown();
}

/* The real SQLite backend under a file-size limit (a full disk as one file
 * sees it): the commit fails, nothing of it is stored, the reason names the
 * database and the SQLite code, and writing resumes once the limit is gone. */
static void test_sqlite_file_limit(void) {
  t_setup();
  store_t *s = t_open();
  t_put(s, "/l/a", "small");
  struct rlimit old, lim;
  ASSERT_EQ_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a kill */
  lim = old;
  lim.rlim_cur = 1024 * 1024;
  ASSERT_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
  size_t big = 2 * 1024 * 1024;
  char *v = malloc(big);
  memset(v, 'x', big);
  t_result_t res = {0};
  store_write_t w = {.op = STORE_OP_CREATE, .key = "/l/big", .value = v, .len = big};
  int sr = store_write(s, &w, t_done_cb, &res);
  if (sr == 0)
    t_run_until(&res.done, 20);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  free(v);
  ASSERT_EQ_INT(sr, 0);
  /* SQLite reports the EFBIG of a size limit as SQLITE_IOERR_WRITE */
  if (res.err != -ENOSPC && res.err != -EFBIG && res.err != -EIO)
    TEST_FAIL("err %d: %s", res.err, store_failure(s, NULL));
  uint64_t count = 0;
  const char *why = store_failure(s, &count);
  ASSERT_EQ_INT(count, 1);
  ASSERT_CONTAINS(why, tpath);
  ASSERT_CONTAINS(why, "SQLite code");
  /* the limit is gone: the store writes again */
  ASSERT_TRUE(t_put(s, "/l/b", "after") > 0);
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get_latest(s, "/l/big", &kv), -ENOENT);
  store_close(s);
  t_teardown();
}

static volatile int fail_compacts;

static int faulty_compact(store_backend_t *b, int64_t rev) {
  if (fail_compacts > 0) {
    fail_compacts--;
    return -ENOSPC;
  }
  return store__sqlite_backend.compact(b, rev);
}

/* A full disk during compaction: writes and reads go on, the history is
 * kept, and the next compaction finishes the job (#18). */
static void test_compaction_failure(void) {
  t_setup();
  faulty = store__sqlite_backend;
  faulty.compact = faulty_compact;
  store__backend = &faulty;
  store_t *s = t_open();
  for (int i = 0; i < 20; i++)
    t_put(s, "/c/a", "v");
  fail_compacts = 1;
  ASSERT_EQ_INT(store_compact(s, store_revision(s)), 0);
  double end = ev_time() + 20;
  while (store_compacting(s) && ev_time() < end) {
    ev_run(tloop, EVRUN_NOWAIT);
    usleep(1000);
  }
  ASSERT_FALSE(store_compacting(s));
  ASSERT_EQ_INT(fail_compacts, 0);
  int64_t rev = t_put(s, "/c/b", "still writing");
  ASSERT_TRUE(rev > 20);
  ASSERT_EQ_INT(store_compact(s, store_revision(s)), 0);
  ASSERT_TRUE(store_compacting(s)); /* retried, not forgotten */
  end = ev_time() + 20;
  while (store_compacting(s) && ev_time() < end) {
    ev_run(tloop, EVRUN_NOWAIT);
    usleep(1000);
  }
  store_close(s);
  store__backend = &store__sqlite_backend;
  store_backend_t *b = NULL;
  store_backend_stats_t st;
  char err[512];
  ASSERT_EQ_INT(store__sqlite_backend.open(tpath, &b, err, sizeof(err)), 0);
  ASSERT_EQ_INT(store__sqlite_backend.stats(b, &st), 0);
  ASSERT_EQ_INT(st.rows, 2);
  ASSERT_EQ_INT(st.compact_rev, rev);
  store__sqlite_backend.close(b);
  t_teardown();
}

TEST_LIST = {
    TEST(test_commit_failure),
    TEST(test_disk_full_reported),
    TEST(test_sqlite_file_limit),
    TEST(test_compaction_failure),
    {0},
};
TEST_MAIN()
