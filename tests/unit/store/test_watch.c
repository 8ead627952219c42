/* Tests for pkg/store/watch.c through the public API: ordering, no gaps or
 * duplicates, previous values, replay from a revision, compacted start
 * (-EOVERFLOW), slow watchers cut off (-ENOBUFS) and resumed, stop from
 * inside a callback, pause/resume. */
#include <errno.h>

#include "helpers.h"

#define MAXEV 256

typedef struct {
  int n;
  int64_t revs[MAXEV];
  store_event_kind_t kinds[MAXEV];
  char values[MAXEV][32];
  char prevs[MAXEV][32];
  bool created[MAXEV];
  int err;
  int64_t err_rev;
  bool errored;
  int stop_after; /* stop from inside the callback after this many events */
  bool in_start;  /* set while store_watch_start runs */
} rec_t;

static void rec_cb(store_watch_t *w, const store_event_t *ev, void *data) {
  rec_t *r = data;
  if (r->in_start)
    TEST_FAIL("event delivered inside store_watch_start");
  if (r->n < MAXEV) {
    r->revs[r->n] = ev->kv->mod_rev;
    r->kinds[r->n] = ev->kind;
    snprintf(r->values[r->n], sizeof(r->values[0]), "%s", ev->kv->value);
    snprintf(r->prevs[r->n], sizeof(r->prevs[0]), "%s", ev->prev ? ev->prev->value : "-");
    r->created[r->n] = ev->created;
  }
  r->n++;
  if (r->stop_after && r->n == r->stop_after)
    store_watch_stop(w);
}

static void rec_err(store_watch_t *w, int err, int64_t last_rev, void *data) {
  rec_t *r = data;
  r->err = err;
  r->err_rev = last_rev;
  r->errored = true;
}

static store_watch_t *watch(store_t *s, const char *prefix, int64_t after, rec_t *r) {
  store_watch_t *w = NULL;
  r->in_start = true;
  int e = store_watch_start(s, prefix, after, rec_cb, rec_err, r, &w);
  r->in_start = false;
  if (e != 0)
    TEST_FAIL("store_watch_start: %d", e);
  return w;
}

/* Run the loop until r has n events. */
static void wait_events(rec_t *r, int n) {
  double end = ev_time() + 10;
  while (r->n < n && !r->errored && ev_time() < end)
    ev_run(tloop, EVRUN_ONCE);
  if (r->n < n)
    TEST_FAIL("got %d events, want %d", r->n, n);
}

static void test_watch_live(void) {
  t_setup();
  store_t *s = t_open();
  rec_t a = {0}, other = {0};
  store_watch_t *w = watch(s, "/w/", 0, &a);
  store_watch_t *wo = watch(s, "/other/", 0, &other);
  int64_t r1 = t_put(s, "/w/x", "v1");
  t_put(s, "/unrelated", "u");
  t_put(s, "/w/x", "v2");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/w/x", NULL, 0, 0, NULL), 0);
  wait_events(&a, 3);
  ASSERT_EQ_INT(a.n, 3);
  ASSERT_EQ_INT(a.revs[0], r1);
  ASSERT_EQ_INT(a.revs[1], r1 + 2);
  ASSERT_EQ_INT(a.revs[2], r1 + 3);
  ASSERT_TRUE(a.created[0]);
  ASSERT_FALSE(a.created[1]);
  ASSERT_EQ_INT(a.kinds[0], STORE_EVENT_PUT);
  ASSERT_EQ_INT(a.kinds[2], STORE_EVENT_DELETE);
  ASSERT_EQ_STR(a.prevs[0], "-");
  ASSERT_EQ_STR(a.prevs[1], "v1");
  ASSERT_EQ_STR(a.values[2], "v2"); /* delete carries the final state */
  ASSERT_EQ_STR(a.prevs[2], "v2");  /* and the previous version */
  ASSERT_EQ_INT(other.n, 0);
  store_watch_stop(w);
  store_watch_stop(wo);
  t_put(s, "/w/y", "after stop");
  ev_run(tloop, 0);
  ASSERT_EQ_INT(a.n, 3);
  store_close(s);
  t_teardown();
}

static void test_watch_replay(void) {
  t_setup();
  store_t *s = t_open();
  int64_t start = store_revision(s);
  char key[32];
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "/r/%d", i % 3);
    t_put(s, key, key);
  }
  rec_t a = {0}, b = {0};
  watch(s, "/r/", start + 5, &a); /* replay from the window */
  watch(s, "/r/1", start, &b);
  ASSERT_EQ_INT(a.n, 0); /* nothing inside the call */
  t_put(s, "/r/2", "live");
  wait_events(&a, 16);
  wait_events(&b, 7); /* i % 3 == 1 for i < 20 */
  ASSERT_EQ_INT(a.n, 16);
  for (int i = 0; i < a.n; i++) /* ordered, no gaps, no duplicates */
    ASSERT_EQ_INT(a.revs[i], start + 6 + i);
  ASSERT_EQ_STR(a.values[15], "live");
  for (int i = 1; i < b.n; i++)
    ASSERT_EQ_INT(b.revs[i], b.revs[i - 1] + 3);
  /* a watch from the future starts after that revision */
  rec_t f = {0};
  watch(s, "/r/", store_revision(s) + 2, &f);
  t_put(s, "/r/0", "f1");
  t_put(s, "/r/0", "f2");
  t_put(s, "/r/0", "f3");
  wait_events(&f, 1);
  ASSERT_EQ_INT(f.n, 1);
  ASSERT_EQ_STR(f.values[0], "f3");
  store_close(s); /* closes active watchers without calling them */
  ASSERT_FALSE(a.errored);
  t_teardown();
}

static void test_watch_compacted(void) {
  t_setup();
  store_t *s = t_open();
  int64_t r1 = t_put(s, "/c/a", "1");
  t_put(s, "/c/a", "2");
  int64_t r3 = t_put(s, "/c/a", "3");
  ASSERT_EQ_INT(store_compact(s, r3 - 1), 0);
  store_watch_t *w = NULL;
  rec_t a = {0};
  ASSERT_EQ_INT(store_watch_start(s, "/c/", r1, rec_cb, rec_err, &a, &w), -EOVERFLOW);
  ASSERT_EQ_INT(store_watch_start(s, "/c/", -1, rec_cb, rec_err, &a, &w), -EINVAL);
  /* from the compacted revision itself is fine: the next event is kept */
  w = watch(s, "/c/", r3 - 1, &a);
  wait_events(&a, 1);
  ASSERT_EQ_INT(a.revs[0], r3);
  store_watch_stop(w);
  /* the bounded window compacts by itself */
  store_close(s);
  store_options_t o = {.path = tpath, .watch_window = 4, .compact_interval_ms = -1};
  s = t_open_opts(&o);
  int64_t base = store_revision(s);
  for (int i = 0; i < 6; i++)
    t_put(s, "/c/b", "x");
  ASSERT_EQ_INT(store_compacted_revision(s), base + 2);
  ASSERT_EQ_INT(store_watch_start(s, "/c/", base + 1, rec_cb, rec_err, &a, &w), -EOVERFLOW);
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/c/b", base + 1, &kv), -EOVERFLOW);
  ASSERT_EQ_INT(store_get(s, "/c/b", base + 2, &kv), 0);
  store_kv_unref(kv);
  store_close(s);
  t_teardown();
}

static void test_watch_slow(void) {
  t_setup();
  store_options_t o = {.path = tpath, .watcher_queue_max = 5, .compact_interval_ms = -1};
  store_t *s = t_open_opts(&o);
  rec_t slow = {0}, fast = {0};
  store_watch_t *w = watch(s, "/s/", 0, &slow);
  watch(s, "/s/", 0, &fast);
  int64_t first = t_put(s, "/s/a", "0");
  wait_events(&slow, 1);
  store_watch_pause(w, true);
  for (int i = 1; i <= 8; i++)
    t_put(s, "/s/a", "n");
  double end = ev_time() + 5;
  while (!slow.errored && ev_time() < end)
    ev_run(tloop, EVRUN_ONCE);
  ASSERT_TRUE(slow.errored);
  ASSERT_EQ_INT(slow.err, -ENOBUFS);
  ASSERT_EQ_INT(slow.err_rev, first); /* resume point: last delivered */
  ASSERT_EQ_INT(slow.n, 1);
  wait_events(&fast, 9);
  ASSERT_FALSE(fast.errored); /* the fast one is unaffected */
  /* resume from the last revision: everything since, in order */
  rec_t again = {0};
  watch(s, "/s/", slow.err_rev, &again);
  wait_events(&again, 8);
  for (int i = 0; i < again.n; i++)
    ASSERT_EQ_INT(again.revs[i], first + 1 + i);
  store_close(s);

  /* a paused watcher whose events leave the window is cut off too */
  o = (store_options_t){.path = tpath, .watch_window = 3, .compact_interval_ms = -1};
  s = t_open_opts(&o);
  rec_t p = {0}, q = {0};
  w = watch(s, "/s/", 0, &p);
  store_watch_pause(w, true);
  watch(s, "/t/", 0, &q); /* sees no matching event leave: not cut off */
  for (int i = 0; i < 5; i++)
    t_put(s, "/s/b", "x");
  end = ev_time() + 5;
  while (!p.errored && ev_time() < end)
    ev_run(tloop, EVRUN_ONCE);
  ASSERT_EQ_INT(p.err, -ENOBUFS);
  ASSERT_FALSE(q.errored);
  t_put(s, "/t/x", "y");
  wait_events(&q, 1);
  store_close(s);
  t_teardown();
}

static void test_watch_pause_resume(void) {
  t_setup();
  store_t *s = t_open();
  rec_t a = {0};
  store_watch_t *w = watch(s, "/p/", 0, &a);
  store_watch_pause(w, true);
  t_put(s, "/p/1", "a");
  t_put(s, "/p/2", "b");
  ev_run(tloop, 0);
  ASSERT_EQ_INT(a.n, 0);
  store_watch_pause(w, false);
  wait_events(&a, 2);
  ASSERT_EQ_STR(a.values[1], "b");
  store_watch_stop(w);
  store_close(s);
  t_teardown();
}

static void test_watch_stop_in_callback(void) {
  t_setup();
  store_t *s = t_open();
  rec_t a = {.stop_after = 2}, b = {0};
  watch(s, "/x/", 0, &a);
  store_watch_t *wb = watch(s, "/x/", 0, &b);
  for (int i = 0; i < 5; i++)
    t_put(s, "/x/k", "v");
  wait_events(&b, 5);
  ASSERT_EQ_INT(a.n, 2); /* nothing after it stopped itself */
  ASSERT_FALSE(a.errored);
  store_watch_stop(wb);
  store_close(s);
  t_teardown();
}

/* Many watchers, many writes: every watcher sees every matching event
 * exactly once, in order. */
static void test_watch_many(void) {
  t_setup();
  store_t *s = t_open();
  enum { W = 50, N = 100 };
  static rec_t r[W];
  char prefix[32], key[32];
  for (int i = 0; i < W; i++) {
    r[i] = (rec_t){0};
    snprintf(prefix, sizeof(prefix), "/m/%d/", i % 5);
    watch(s, prefix, 0, &r[i]);
  }
  static t_result_t res[N];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "/m/%d/k%d", i % 5, i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = key, .len = strlen(key)};
    res[i] = (t_result_t){0};
    ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[i]), 0);
  }
  ev_run(tloop, 0);
  for (int i = 0; i < N; i++)
    store_kv_unref(res[i].kv);
  for (int i = 0; i < W; i++) {
    ASSERT_EQ_INT(r[i].n, N / 5);
    for (int j = 1; j < r[i].n; j++)
      ASSERT_EQ_INT(r[i].revs[j], r[i].revs[j - 1] + 5);
  }
  store_close(s);
  t_teardown();
}

/* Regression (issue #19): a start revision at INT64_MAX made the pending
 * count compute after_rev + 1 (signed overflow) and read events outside the
 * window (NULL dereference). A start in the future is valid and quiet; one
 * a few revisions ahead gets exactly the events after it. */
static void test_watch_future_start(void) {
  t_setup();
  store_t *s = t_open();
  int64_t now = t_put(s, "/f/a", "v0");
  t_put(s, "/f/a", "v1");
  rec_t far = {0}, near = {0}, neg = {0};
  store_watch_t *wf = watch(s, "/f/", INT64_MAX, &far);
  store_watch_t *wn = watch(s, "/f/", now + 3, &near);
  store_watch_t *wx = NULL;
  ASSERT_EQ_INT(store_watch_start(s, "/f/", -1, rec_cb, rec_err, &neg, &wx), -EINVAL);
  ASSERT_EQ_INT(store_watch_start(s, "/f/", INT64_MIN, rec_cb, rec_err, &neg, &wx), -EINVAL);
  for (int i = 0; i < 4; i++)
    t_put(s, "/f/a", "v");
  wait_events(&near, 2); /* now+4, now+5 */
  for (int i = 0; i < 20; i++)
    ev_run(tloop, EVRUN_NOWAIT);
  ASSERT_EQ_INT(near.n, 2);
  ASSERT_EQ_INT(near.revs[0], now + 4);
  ASSERT_EQ_INT(near.revs[1], now + 5);
  ASSERT_EQ_INT(far.n, 0);
  ASSERT_FALSE(far.errored);
  ASSERT_EQ_INT(neg.n, 0);
  store_watch_stop(wf);
  store_watch_stop(wn);
  store_close(s);
  t_teardown();
}

/* The event window is rebuilt from the database at open: a watch from a
 * revision taken before a restart gets every event after it, with kinds,
 * values and previous values as before the restart, then live events. A
 * revision older than the reloaded window is compacted (-EOVERFLOW). */
static void test_watch_after_restart(void) {
  t_setup();
  store_options_t o = {.path = tpath, .compact_interval_ms = -1, .watch_window = 50};
  store_t *s = t_open_opts(&o);
  char val[32];
  for (int i = 0; i < 100; i++) { /* older than the window of 50 */
    snprintf(val, sizeof(val), "old%d", i);
    t_put(s, "/w/old", val);
  }
  t_put(s, "/w/a", "a1");
  int64_t from = t_put(s, "/w/b", "b1");
  t_put(s, "/w/a", "a2");
  t_put(s, "/other/x", "x");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/w/b", NULL, 0, 0, NULL), 0);
  t_put(s, "/w/b", "b2");
  int64_t last = store_revision(s);
  store_close(s);

  s = t_open_opts(&o);
  ASSERT_EQ_INT(store_revision(s), last);
  ASSERT_EQ_INT(store_compacted_revision(s), last - 50);
  rec_t a = {0}, old = {0};
  store_watch_t *w = watch(s, "/w/", from, &a);
  wait_events(&a, 3);
  ASSERT_EQ_INT(a.n, 3);
  ASSERT_EQ_INT(a.revs[0], from + 1);
  ASSERT_EQ_INT(a.kinds[0], STORE_EVENT_PUT);
  ASSERT_EQ_STR(a.values[0], "a2");
  ASSERT_EQ_STR(a.prevs[0], "a1");
  ASSERT_EQ_INT(a.revs[1], from + 3);
  ASSERT_EQ_INT(a.kinds[1], STORE_EVENT_DELETE);
  ASSERT_EQ_STR(a.values[1], "b1");
  ASSERT_EQ_INT(a.revs[2], from + 4);
  ASSERT_TRUE(a.created[2]);
  ASSERT_EQ_STR(a.values[2], "b2");
  ASSERT_EQ_STR(a.prevs[2], "-");
  /* reads at revisions before the restart work too */
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/w/b", from, &kv), 0);
  ASSERT_EQ_STR(kv->value, "b1");
  store_kv_unref(kv);
  /* live events follow */
  t_put(s, "/w/c", "c1");
  wait_events(&a, 4);
  ASSERT_EQ_INT(a.revs[3], last + 1);
  store_watch_stop(w);
  store_watch_t *wo = NULL;
  ASSERT_EQ_INT(store_watch_start(s, "/w/", last - 60, rec_cb, rec_err, &old, &wo), -EOVERFLOW);
  store_close(s);
  t_teardown();
}

TEST_LIST = {
    TEST(test_watch_live),
    TEST(test_watch_replay),
    TEST(test_watch_compacted),
    TEST(test_watch_slow),
    TEST(test_watch_pause_resume),
    TEST(test_watch_stop_in_callback),
    TEST(test_watch_many),
    TEST(test_watch_future_start),
    TEST(test_watch_after_restart),
    {0},
};
TEST_MAIN()
