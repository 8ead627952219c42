/* Tests for pkg/client/workqueue.c: deduplication, processing/dirty
 * semantics, delayed adds and the per-key exponential back-off. */
#include <errno.h>
#include <math.h>

#include "client/workqueue.h"
#include "test.h"

static void test_dedup_fifo(void) {
  client_workqueue_t *q = client_workqueue_new(0, 0, 0);
  ASSERT_EQ_INT(client_workqueue_add(q, "a"), 1);
  ASSERT_EQ_INT(client_workqueue_add(q, "b"), 1);
  ASSERT_EQ_INT(client_workqueue_add(q, "a"), 0);
  ASSERT_EQ_INT(client_workqueue_len(q), 2);
  ASSERT_EQ_STR(client_workqueue_get(q), "a");
  ASSERT_EQ_STR(client_workqueue_get(q), "b");
  ASSERT_NULL(client_workqueue_get(q));
  ASSERT_EQ_INT(client_workqueue_processing(q), 2);
  client_workqueue_done(q, "a");
  client_workqueue_done(q, "b");
  ASSERT_EQ_INT(client_workqueue_processing(q), 0);
  ASSERT_EQ_INT(client_workqueue_len(q), 0);
  client_workqueue_free(q);
}

/* A key added while it is processed runs again after, never in parallel. */
static void test_dirty_while_processing(void) {
  client_workqueue_t *q = client_workqueue_new(0, 0, 0);
  client_workqueue_add(q, "k");
  ASSERT_EQ_STR(client_workqueue_get(q), "k");
  ASSERT_EQ_INT(client_workqueue_add(q, "k"), 1);
  ASSERT_EQ_INT(client_workqueue_add(q, "k"), 0);
  ASSERT_NULL(client_workqueue_get(q)); /* not handed out twice */
  client_workqueue_done(q, "k");
  ASSERT_EQ_INT(client_workqueue_len(q), 1);
  ASSERT_EQ_STR(client_workqueue_get(q), "k");
  client_workqueue_done(q, "k");
  ASSERT_NULL(client_workqueue_get(q));
  client_workqueue_free(q);
}

static void test_backoff_exponential_capped(void) {
  client_workqueue_t *q = client_workqueue_new(0, 0, 0);
  ASSERT_TRUE(fabs(client_workqueue_backoff(q, "x") - 0.005) < 1e-9);
  for (int i = 0; i < 5; i++)
    client_workqueue_add_rate_limited(q, "x", 0);
  ASSERT_EQ_INT(client_workqueue_failures(q, "x"), 5);
  ASSERT_TRUE(fabs(client_workqueue_backoff(q, "x") - 0.005 * 32) < 1e-9);
  for (int i = 0; i < 40; i++)
    client_workqueue_add_rate_limited(q, "x", 0);
  ASSERT_TRUE(client_workqueue_backoff(q, "x") == 1000.0);
  client_workqueue_forget(q, "x");
  ASSERT_EQ_INT(client_workqueue_failures(q, "x"), 0);
  ASSERT_TRUE(fabs(client_workqueue_backoff(q, "x") - 0.005) < 1e-9);
  client_workqueue_free(q);
}

static void test_delayed(void) {
  client_workqueue_t *q = client_workqueue_new(0, 0, 0);
  client_workqueue_add_after(q, "late", 10.0);
  client_workqueue_add_after(q, "early", 5.0);
  ASSERT_EQ_INT(client_workqueue_delayed(q), 2);
  ASSERT_TRUE(client_workqueue_next_deadline(q) == 5.0);
  ASSERT_TRUE(client_workqueue_promote(q, 4.0) == 5.0);
  ASSERT_NULL(client_workqueue_get(q));
  ASSERT_TRUE(client_workqueue_promote(q, 5.0) == 10.0);
  ASSERT_EQ_STR(client_workqueue_get(q), "early");
  /* an earlier time replaces a later one; a later one does not */
  ASSERT_EQ_INT(client_workqueue_add_after(q, "late", 7.0), 1);
  ASSERT_EQ_INT(client_workqueue_add_after(q, "late", 9.0), 0);
  ASSERT_EQ_INT(client_workqueue_delayed(q), 1);
  ASSERT_TRUE(client_workqueue_promote(q, 7.0) == 0);
  ASSERT_EQ_STR(client_workqueue_get(q), "late");
  ASSERT_EQ_INT(client_workqueue_delayed(q), 0);
  client_workqueue_done(q, "late");
  client_workqueue_done(q, "early");
  client_workqueue_free(q);
}

/* A rate-limited retry of a key that is queued meanwhile runs once now and
 * once more at its time: the delayed entry survives the key's processing. */
static void test_retry_and_add(void) {
  client_workqueue_t *q = client_workqueue_new(1.0, 8.0, 0);
  client_workqueue_add_rate_limited(q, "k", 100.0); /* at 101 */
  client_workqueue_add(q, "k");
  ASSERT_EQ_STR(client_workqueue_get(q), "k");
  client_workqueue_done(q, "k");
  ASSERT_TRUE(client_workqueue_promote(q, 100.5) == 101.0);
  ASSERT_NULL(client_workqueue_get(q));
  client_workqueue_promote(q, 101.0);
  ASSERT_EQ_STR(client_workqueue_get(q), "k");
  client_workqueue_done(q, "k");
  client_workqueue_free(q);
}

static void test_limit(void) {
  client_workqueue_t *q = client_workqueue_new(0, 0, 2);
  ASSERT_EQ_INT(client_workqueue_add(q, "a"), 1);
  ASSERT_EQ_INT(client_workqueue_add(q, "b"), 1);
  ASSERT_EQ_INT(client_workqueue_add(q, "c"), -ENOSPC);
  ASSERT_EQ_INT(client_workqueue_add(q, "a"), 0);
  /* keys that are done and have no failures are forgotten: room again */
  client_workqueue_get(q);
  client_workqueue_done(q, "a");
  ASSERT_EQ_INT(client_workqueue_add(q, "c"), 1);
  client_workqueue_free(q);
}

static void test_many_keys(void) {
  client_workqueue_t *q = client_workqueue_new(0, 0, 0);
  char key[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "ns/k%d", i);
    ASSERT_EQ_INT(client_workqueue_add_after(q, key, (double)(5000 - i)), 1);
  }
  ASSERT_EQ_INT(client_workqueue_delayed(q), 5000);
  client_workqueue_promote(q, 1e9);
  ASSERT_EQ_INT(client_workqueue_len(q), 5000);
  /* earliest first: k4999 was due at 1 */
  ASSERT_EQ_STR(client_workqueue_get(q), "ns/k4999");
  client_workqueue_free(q);
}

TEST_LIST = {
    TEST(test_dedup_fifo),
    TEST(test_dirty_while_processing),
    TEST(test_backoff_exponential_capped),
    TEST(test_delayed),
    TEST(test_retry_and_add),
    TEST(test_limit),
    TEST(test_many_keys),
    {0},
};
TEST_MAIN()
