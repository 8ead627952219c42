/* Tests for pkg/util/strmap.c: put/get/del agree with a reference array
 * through growth and backward-shift deletion; duplicates are reported;
 * 200,000 keys take linear time. */
#include <errno.h>
#include <time.h>

#include "test.h"
#include "util/strmap.h"

static void test_put_get_dup(void) {
  strmap_t m;
  strmap_init(&m);
  ASSERT_TRUE(strmap_get(&m, "a") == NULL);
  ASSERT_EQ_INT(strmap_put(&m, "a", (void *)1, NULL), 0);
  ASSERT_EQ_INT(strmap_put(&m, "b", (void *)2, NULL), 0);
  void *old = NULL;
  ASSERT_EQ_INT(strmap_put(&m, "a", (void *)3, &old), -EEXIST);
  ASSERT_TRUE(old == (void *)1);
  ASSERT_TRUE(strmap_get(&m, "a") == (void *)1);
  ASSERT_EQ_INT(strmap_set(&m, "a", (void *)4), 0);
  ASSERT_TRUE(strmap_get(&m, "a") == (void *)4);
  ASSERT_TRUE(strmap_has(&m, "b"));
  ASSERT_FALSE(strmap_has(&m, "c"));
  ASSERT_TRUE(strmap_has(&m, "")== false);
  ASSERT_EQ_INT(strmap_put(&m, "", (void *)5, NULL), 0);
  ASSERT_TRUE(strmap_get(&m, "") == (void *)5);
  ASSERT_EQ_INT(m.len, 3);
  strmap_done(&m);
  strmap_done(NULL);
}

#define N 5000
static void test_against_reference(void) {
  static char keys[N][16];
  static int present[N];
  strmap_t m;
  strmap_init(&m);
  unsigned seed = 12345;
  for (int i = 0; i < N; i++)
    snprintf(keys[i], sizeof(keys[i]), "k%d", i);
  for (int step = 0; step < 100000; step++) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)((seed >> 8) % N);
    int op = (int)((seed >> 4) % 3);
    if (op < 2) {
      int r = strmap_put(&m, keys[k], (void *)(size_t)(k + 1), NULL);
      ASSERT_EQ_INT(r, present[k] ? -EEXIST : 0);
      present[k] = 1;
    } else {
      void *v = strmap_del(&m, keys[k]);
      ASSERT_TRUE(v == (present[k] ? (void *)(size_t)(k + 1) : NULL));
      present[k] = 0;
    }
  }
  size_t count = 0;
  for (int i = 0; i < N; i++) {
    ASSERT_TRUE(strmap_get(&m, keys[i]) == (present[i] ? (void *)(size_t)(i + 1) : NULL));
    count += (size_t)present[i];
  }
  ASSERT_EQ_INT(m.len, count);
  strmap_done(&m);
}

static void test_many_keys_fast(void) {
  enum { M = 200000 };
  char(*keys)[16] = malloc(M * sizeof(*keys));
  ASSERT_TRUE(keys != NULL);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  strmap_t m;
  strmap_init(&m);
  for (int i = 0; i < M; i++) {
    snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
    ASSERT_EQ_INT(strmap_put(&m, keys[i], keys[i], NULL), 0);
  }
  for (int i = 0; i < M; i++)
    ASSERT_TRUE(strmap_get(&m, keys[i]) == keys[i]);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("# 200,000 puts and gets: %.3f s\n", s);
  ASSERT_TRUE(s < 2.0); /* linear: ~0.05 s; a list would take minutes */
  strmap_done(&m);
  free(keys);
}

TEST_LIST = {
    TEST(test_put_get_dup),
    TEST(test_against_reference),
    TEST(test_many_keys_fast),
    {0},
};
TEST_MAIN()
