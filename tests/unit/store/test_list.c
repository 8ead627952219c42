/* A list page costs O(page) (#18): remainingItemCount is counted from the
 * index (live counts per skip-list span) instead of walking the rest, and
 * stays exact at the revision of the first page while keys change. */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"

#define N 100000
#define PAGE 500

static store_t *s;

static void fill(int n) {
  static t_result_t res[1000];
  char key[64];
  for (int base = 0; base < n; base += 1000) {
    for (int i = 0; i < 1000; i++) {
      snprintf(key, sizeof(key), "/registry/core/configmaps/default/cm-%06d", base + i);
      res[i] = (t_result_t){0};
      store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = "{}", .len = 2};
      ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[i]), 0);
    }
    for (int i = 0; i < 1000; i++) {
      t_run_until(&res[i].done, 60);
      ASSERT_EQ_INT(res[i].err, 0);
      store_kv_unref(res[i].kv);
    }
  }
}

/* Time of 10 pages starting after page `first` (best of 5 runs). */
static double ten_pages(char **toks, int first) {
  double best = 1e9;
  for (int run = 0; run < 5; run++) {
    double t0 = ev_time();
    for (int p = first; p < first + 10; p++) {
      store_list_opts_t o = {.prefix = "/registry/core/configmaps/", .limit = PAGE,
                             .continue_tok = toks[p]};
      store_list_t l;
      ASSERT_EQ_INT(store_list(s, &o, &l), 0);
      ASSERT_EQ_INT(l.n, PAGE);
      store_list_done(&l);
    }
    double t = ev_time() - t0;
    if (t < best)
      best = t;
  }
  return best;
}

static void test_paging_cost_flat(void) {
  static char *toks[N / PAGE + 1];
  t_setup();
  s = t_open();
  fill(N);
  t_put(s, "/registry/core/configmaps0", "outside the prefix");
  t_put(s, "/registry/core/configmapr", "outside the prefix");
  /* Page through everything; every page's remaining count is exact. */
  int pages = 0;
  char *tok = NULL;
  bool exact = true;
  for (;;) {
    store_list_opts_t o = {.prefix = "/registry/core/configmaps/", .limit = PAGE,
                           .continue_tok = tok};
    store_list_t l;
    ASSERT_EQ_INT(store_list(s, &o, &l), 0);
    toks[pages] = tok;
    pages++;
    size_t want = N - (size_t)pages * PAGE;
    if (l.remaining != want) {
      printf("# page %d: remaining %zu, want %zu\n", pages, l.remaining, want);
      exact = false;
    }
    tok = l.continue_tok ? strdup(l.continue_tok) : NULL;
    store_list_done(&l);
    if (!tok)
      break;
  }
  ASSERT_EQ_INT(pages, N / PAGE);
  ASSERT_TRUE(exact);
  ASSERT_EQ_INT(store_count(s, "/registry/core/configmaps/"), N);
  double first = ten_pages(toks, 0), last = ten_pages(toks, pages - 10);
  printf("# 10 pages of %d of %d keys: first %.3f ms, last %.3f ms\n", PAGE, N, first * 1e3,
         last * 1e3);
  /* Walking the rest would make the first pages ~200x the last ones. */
  ASSERT_TRUE(last <= 3 * first);
  ASSERT_TRUE(first <= 3 * last);
  for (int p = 0; p < pages; p++)
    free(toks[p]);
  store_close(s);
  t_teardown();
}

/* The remaining count is the one at the first page's revision, while keys
 * after the page are created and deleted meanwhile. */
static void test_remaining_at_revision(void) {
  char key[64];
  t_setup();
  s = t_open();
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "/p/k%02d", i);
    t_put(s, key, "v");
  }
  store_list_opts_t o = {.prefix = "/p/", .limit = 5};
  store_list_t l;
  ASSERT_EQ_INT(store_list(s, &o, &l), 0);
  ASSERT_EQ_INT(l.remaining, 15);
  char *tok = strdup(l.continue_tok);
  store_list_done(&l);
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/p/k10", NULL, 0, 0, NULL), 0);
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/p/k02", NULL, 0, 0, NULL), 0); /* before the cursor */
  t_put(s, "/p/k15", "updated");
  t_put(s, "/p/k99", "new");
  t_put(s, "/p/k10", "recreated");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/p/k11", NULL, 0, 0, NULL), 0);
  o.continue_tok = tok;
  ASSERT_EQ_INT(store_list(s, &o, &l), 0);
  ASSERT_EQ_INT(l.n, 5);
  ASSERT_EQ_STR(l.items[0]->key, "/p/k05");
  ASSERT_EQ_INT(l.remaining, 10); /* k10..k19 at the first page's revision */
  store_list_done(&l);
  free(tok);
  /* And now: k05..k19 without k11, plus k99; k02 gone. */
  o.continue_tok = NULL;
  ASSERT_EQ_INT(store_list(s, &o, &l), 0);
  ASSERT_EQ_INT(l.remaining, 14);
  store_list_done(&l);
  ASSERT_EQ_INT(store_count(s, "/p/"), 19);
  store_close(s);
  t_teardown();
}

TEST_LIST = {
    TEST(test_paging_cost_flat),
    TEST(test_remaining_at_revision),
    {0},
};
TEST_MAIN()
