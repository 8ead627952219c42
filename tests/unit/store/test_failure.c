/* Tests for pkg/store when the backend fails a commit: the batch and every
 * write queued after it fail with -EIO, nothing of them becomes visible,
 * writes are refused until the queue drains, then writing resumes at the
 * next dense revision. The SQLite backend is wrapped to inject the fault. */
#include <errno.h>

#include "helpers.h"
#include "store/backend.h"

static store_backend_ops_t faulty;
static volatile int fail_commits; /* commits to fail from now on */

static int faulty_commit(store_backend_t *b, const store_backend_row_t *rows, size_t n) {
  if (fail_commits > 0) {
    fail_commits--;
    return -EIO;
  }
  return store__sqlite_backend.commit(b, rows, n);
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

TEST_LIST = {
    TEST(test_commit_failure),
    {0},
};
TEST_MAIN()
