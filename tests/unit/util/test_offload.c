/* util/offload: tasks run on the worker holding the loop lock, the loop
 * runs while a task is unlocked and not while it holds the lock, deferred
 * frees wait for unlocked tasks, stop runs what is queued, and a pool task
 * waiting unlocked holds up neither the pool's other tasks nor the ordered
 * worker's. */
#include "util/offload.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "test.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void spin(double seconds) {
  double end = now_s() + seconds;
  while (now_s() < end) {
  }
}

/* a 2 ms loop timer counting its runs and the longest gap between them */
static atomic_int ticks;
static double last_tick, max_gap;
static bool measure_gap;

/* A task ends the loop through this flag: ev_break from another thread can
 * be lost (libev resets its break flag around the poll, when built with
 * assertions). */
static atomic_int stop_loop;

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)w;
  (void)revents;
  if (atomic_load(&stop_loop))
    ev_break(loop, EVBREAK_ALL);
  double t = now_s();
  if (measure_gap && last_tick > 0 && t - last_tick > max_gap)
    max_gap = t - last_tick;
  last_tick = t;
  atomic_fetch_add(&ticks, 1);
}

static void inline_task(void *data) { (*(int *)data)++; }

static void test_without_start_runs_inline(void) {
  int n = 0;
  offload_submit(inline_task, &n);
  ASSERT_EQ_INT(n, 1);
  ASSERT_FALSE(offload_in_task());
  offload_unlock(); /* no-ops outside a task */
  offload_relock();
  offload_defer(inline_task, &n);
  ASSERT_EQ_INT(n, 2);
}

typedef struct {
  struct ev_loop *loop;
  int ticks_locked_before, ticks_locked_after;
  int ticks_unlocked_before, ticks_unlocked_after;
  double gap_unlocked;
  bool in_task, in_task_unlocked;
} probe_t;

static void probe_task(void *data) {
  probe_t *p = data;
  p->in_task = offload_in_task();
  /* holding the lock: the loop cannot run its timer */
  p->ticks_locked_before = atomic_load(&ticks);
  spin(0.1);
  p->ticks_locked_after = atomic_load(&ticks);
  offload_unlock();
  p->in_task_unlocked = offload_in_task();
  p->ticks_unlocked_before = atomic_load(&ticks);
  spin(0.3);
  p->ticks_unlocked_after = atomic_load(&ticks);
  offload_relock();
  p->gap_unlocked = max_gap;
  atomic_store(&stop_loop, 1);
}

static void test_lock_excludes_the_loop_and_unlock_frees_it(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer t;
  ev_timer_init(&t, tick_cb, 0.002, 0.002);
  ev_timer_start(loop, &t);
  atomic_store(&ticks, 0);
  last_tick = 0;
  max_gap = 0;
  measure_gap = false;
  ASSERT_EQ_INT(offload_start(loop), 0);
  probe_t p = {.loop = loop};
  offload_submit(probe_task, &p);
  atomic_store(&stop_loop, 0);
  ev_run(loop, 0);
  offload_stop();
  ev_timer_stop(loop, &t);
  ev_loop_destroy(loop);
  ASSERT_TRUE(p.in_task);
  ASSERT_FALSE(p.in_task_unlocked);
  /* 100 ms holding the lock: not one tick */
  ASSERT_EQ_INT(p.ticks_locked_after, p.ticks_locked_before);
  /* 300 ms unlocked: a 2 ms timer runs many times (150 on an idle machine) */
  int during = p.ticks_unlocked_after - p.ticks_unlocked_before;
  printf("# %d ticks of a 2 ms timer during 300 ms of unlocked work\n", during);
  ASSERT_TRUE(during >= 20);
}

static void gap_task(void *data) {
  probe_t *p = data;
  measure_gap = true; /* lock held: the loop reads it under the lock */
  offload_unlock();
  spin(0.3);
  offload_relock();
  measure_gap = false;
  p->gap_unlocked = max_gap;
  atomic_store(&stop_loop, 1);
}

static void test_loop_keeps_its_pace_while_unlocked(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer t;
  ev_timer_init(&t, tick_cb, 0.002, 0.002);
  ev_timer_start(loop, &t);
  last_tick = 0;
  max_gap = 0;
  ASSERT_EQ_INT(offload_start(loop), 0);
  probe_t p = {.loop = loop};
  offload_submit(gap_task, &p);
  atomic_store(&stop_loop, 0);
  ev_run(loop, 0);
  offload_stop();
  ev_timer_stop(loop, &t);
  ev_loop_destroy(loop);
  printf("# longest gap between 2 ms ticks during 300 ms of unlocked work: %.1f ms\n",
         p.gap_unlocked * 1e3);
  /* the work itself lasts 300 ms; a loop that waited for it would show that */
  ASSERT_TRUE(p.gap_unlocked < t_time_limit(0.15));
}

/* offload_defer from the loop while a task is unlocked */
static atomic_int deferred_ran, defer_asked;
static void deferred_cb(void *data) {
  (void)data;
  atomic_store(&deferred_ran, 1);
}

static void defer_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)w;
  (void)revents;
  if (atomic_load(&stop_loop))
    ev_break(loop, EVBREAK_ALL);
  /* only once the task is in its unlocked section (before that a defer
   * runs at once, which is right but not what this test is about; under
   * qemu the timer often fires first) */
  if (!atomic_load(&defer_asked) && offload_unlocked_now()) {
    offload_defer(deferred_cb, NULL); /* a task is unlocked: must wait */
    atomic_store(&defer_asked, 1);
  }
}

typedef struct {
  struct ev_loop *loop;
  int ran_while_unlocked, ran_after_relock;
  bool unlocked_seen;
} defer_probe_t;

static void defer_task(void *data) {
  defer_probe_t *p = data;
  offload_unlock();
  double give_up = now_s() + 5;
  while (!atomic_load(&defer_asked) && now_s() < give_up) {
  }
  spin(0.01);
  p->ran_while_unlocked = atomic_load(&deferred_ran);
  offload_relock();
  p->ran_after_relock = atomic_load(&deferred_ran);
  atomic_store(&stop_loop, 1);
}

static void test_defer_waits_for_unlocked_tasks(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer t;
  ev_timer_init(&t, defer_timer_cb, 0.002, 0.002);
  ev_timer_start(loop, &t);
  atomic_store(&deferred_ran, 0);
  atomic_store(&defer_asked, 0);
  ASSERT_EQ_INT(offload_start(loop), 0);
  defer_probe_t p = {.loop = loop};
  offload_submit(defer_task, &p);
  atomic_store(&stop_loop, 0);
  ev_run(loop, 0);
  offload_stop();
  ev_timer_stop(loop, &t);
  ev_loop_destroy(loop);
  ASSERT_EQ_INT(atomic_load(&defer_asked), 1);
  ASSERT_EQ_INT(p.ran_while_unlocked, 0);
  ASSERT_EQ_INT(p.ran_after_relock, 1);
}

static atomic_int pure_ran;
static void pure_task(void *data) {
  (void)data;
  atomic_store(&pure_ran, 1);
}

static void test_pure_task_runs_while_the_loop_holds_the_lock(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  atomic_store(&pure_ran, 0);
  ASSERT_EQ_INT(offload_start(loop), 0); /* this thread holds the lock now */
  offload_submit_pure(pure_task, NULL);
  double give_up = now_s() + 10;
  while (!atomic_load(&pure_ran) && now_s() < give_up) {
  }
  int ran = atomic_load(&pure_ran);
  offload_stop();
  ev_loop_destroy(loop);
  ASSERT_EQ_INT(ran, 1);
}

static int order[8], norder;
static void order_task(void *data) { order[norder++] = (int)(long)data; }

static void test_stop_runs_what_is_queued_in_order(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  norder = 0;
  ASSERT_EQ_INT(offload_start(loop), 0);
  ASSERT_EQ_INT(offload_start(loop), -EALREADY);
  for (long i = 1; i <= 5; i++)
    offload_submit(order_task, (void *)i);
  offload_stop();
  offload_stop(); /* twice is fine */
  ev_loop_destroy(loop);
  ASSERT_EQ_INT(norder, 5);
  for (int i = 0; i < 5; i++)
    ASSERT_EQ_INT(order[i], i + 1);
}

/* Pool tasks: one waits unlocked (a webhook call) until a gate opens; the
 * gate is opened by a second pool task and an ordered one, which must run
 * meanwhile. On a single worker the first would wait out its 5 s. */
static atomic_int gate, behind_ran, ordered_ran;
static double blocked_for;

static void blocking_task(void *data) {
  (void)data;
  double t0 = now_s();
  offload_unlock();
  while (!atomic_load(&gate) && now_s() - t0 < 5) {
  }
  offload_relock();
  blocked_for = now_s() - t0;
  atomic_store(&stop_loop, 1);
}

static void behind_task(void *data) {
  (void)data;
  atomic_store(&behind_ran, 1);
  if (atomic_load(&ordered_ran))
    atomic_store(&gate, 1);
}

static void ordered_task(void *data) {
  (void)data;
  atomic_store(&ordered_ran, 1);
  if (atomic_load(&behind_ran))
    atomic_store(&gate, 1);
}

/* the loop submits the other two once the first task is unlocked */
static atomic_int others_submitted;
static void submit_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)w;
  (void)revents;
  if (atomic_load(&stop_loop))
    ev_break(loop, EVBREAK_ALL);
  if (!atomic_load(&others_submitted) && offload_unlocked_now()) {
    offload_submit_any(behind_task, NULL);
    offload_submit(ordered_task, NULL);
    atomic_store(&others_submitted, 1);
  }
}

static void test_pool_task_waiting_unlocked_holds_up_no_other(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer t;
  ev_timer_init(&t, submit_timer_cb, 0.002, 0.002);
  ev_timer_start(loop, &t);
  atomic_store(&others_submitted, 0);
  atomic_store(&gate, 0);
  atomic_store(&behind_ran, 0);
  atomic_store(&ordered_ran, 0);
  blocked_for = 0;
  ASSERT_EQ_INT(offload_start(loop), 0);
  offload_submit_any(blocking_task, NULL);
  atomic_store(&stop_loop, 0);
  ev_run(loop, 0);
  offload_stop();
  ev_timer_stop(loop, &t);
  ev_loop_destroy(loop);
  printf("# the blocked pool task waited %.3f s for the others\n", blocked_for);
  ASSERT_EQ_INT(atomic_load(&others_submitted), 1);
  ASSERT_EQ_INT(atomic_load(&behind_ran), 1);
  ASSERT_EQ_INT(atomic_load(&ordered_ran), 1);
  ASSERT_EQ_INT(atomic_load(&gate), 1);
  ASSERT_TRUE(blocked_for < t_time_limit(2.0));
}

TEST_LIST = {
    TEST(test_without_start_runs_inline),
    TEST(test_lock_excludes_the_loop_and_unlock_frees_it),
    TEST(test_loop_keeps_its_pace_while_unlocked),
    TEST(test_defer_waits_for_unlocked_tasks),
    TEST(test_pure_task_runs_while_the_loop_holds_the_lock),
    TEST(test_stop_runs_what_is_queued_in_order),
    TEST(test_pool_task_waiting_unlocked_holds_up_no_other),
    {0},
};
TEST_MAIN()
