/* pkg/agent/workers.c: jobs run on the worker threads and come back on
 * the loop exactly once, also when the pool is freed with jobs queued.
 * The jobs never call the runtime, so the socket path leads nowhere. */
#include "agent/workers.h"
#include "test.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define NOWHERE "/nonexistent/k3c-test-workers.sock"
#define N_JOBS 64

typedef struct {
  agent_job_t job; /* first: the pool hands this back */
  int id;
  atomic_int ran;
  int done, cancelled;
  pthread_t run_thread, done_thread;
  int order;    /* when run, among all jobs */
  bool block;   /* wait at the gate before returning */
  int resubmit; /* done submits the job again this many times */
} tjob_t;

/* What the jobs share with the test. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool gate_open;
  int blocked; /* blocking jobs now waiting at the gate */
  int ran;
  int done;
  int want_done;
  struct ev_loop *loop;
  agent_workers_t *w;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void reset_globals(struct ev_loop *loop) {
  pthread_mutex_lock(&g.mu);
  g.gate_open = false;
  g.blocked = g.ran = g.done = g.want_done = 0;
  g.loop = loop;
  g.w = NULL;
  pthread_mutex_unlock(&g.mu);
}

static void job_run(agent_job_t *job, agent_runtime_t *rt) {
  tjob_t *j = (tjob_t *)job;
  j->run_thread = pthread_self();
  atomic_fetch_add(&j->ran, 1);
  pthread_mutex_lock(&g.mu);
  j->order = g.ran++;
  if (j->block) {
    g.blocked++;
    pthread_cond_broadcast(&g.cv);
    while (!g.gate_open)
      pthread_cond_wait(&g.cv, &g.mu);
  }
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  (void)rt;
}

static void job_done(agent_job_t *job, bool cancelled) {
  tjob_t *j = (tjob_t *)job;
  j->done++;
  j->cancelled += cancelled;
  j->done_thread = pthread_self();
  if (!cancelled && j->resubmit > 0) {
    j->resubmit--;
    atomic_store(&j->ran, 0);
    agent_workers_submit(g.w, &j->job);
    return;
  }
  if (++g.done == g.want_done && g.loop)
    ev_break(g.loop, EVBREAK_ALL);
}

static void jobs_init(tjob_t *jobs, int n) {
  memset(jobs, 0, sizeof(*jobs) * (size_t)n);
  for (int i = 0; i < n; i++) {
    jobs[i].job.run = job_run;
    jobs[i].job.done = job_done;
    jobs[i].id = i;
    atomic_init(&jobs[i].ran, 0);
  }
}

static bool timed_out;
static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  timed_out = true;
  ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until every wanted job is back (10 s at most). */
static void run_until_done(struct ev_loop *loop) {
  ev_timer t;
  timed_out = false;
  ev_timer_init(&t, timeout_cb, t_time_limit(10), 0);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  ev_timer_stop(loop, &t);
  if (timed_out)
    TEST_FAIL("timed out: %d of %d jobs back", g.done, g.want_done);
}

/* Wait (10 s at most) until cond holds, under g.mu. */
#define WAIT_FOR(cond)                                                                             \
  do {                                                                                             \
    struct timespec dl_;                                                                           \
    clock_gettime(CLOCK_REALTIME, &dl_);                                                           \
    dl_.tv_sec += 10;                                                                              \
    pthread_mutex_lock(&g.mu);                                                                     \
    int r_ = 0;                                                                                    \
    while (!(cond) && r_ == 0)                                                                     \
      r_ = pthread_cond_timedwait(&g.cv, &g.mu, &dl_);                                             \
    bool ok_ = (cond);                                                                             \
    pthread_mutex_unlock(&g.mu);                                                                   \
    if (!ok_)                                                                                      \
      TEST_FAIL("timed out waiting for %s", #cond);                                                \
  } while (0)

static void test_bad_sizes(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  agent_workers_t *w = (agent_workers_t *)&w;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 0, &w), -EINVAL);
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 65, &w), -EINVAL);
  ASSERT_TRUE(w == (agent_workers_t *)&w); /* untouched */
  agent_workers_free(NULL);
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
}

static void test_all_back_once(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  static tjob_t jobs[N_JOBS];
  reset_globals(loop);
  jobs_init(jobs, N_JOBS);
  agent_workers_t *w = NULL;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 3, &w), 0);
  g.w = w;
  g.want_done = N_JOBS;
  for (int i = 0; i < N_JOBS; i++)
    agent_workers_submit(w, &jobs[i].job);
  ASSERT_EQ_INT(agent_workers_pending(w), N_JOBS);
  run_until_done(loop);
  ASSERT_EQ_INT(agent_workers_pending(w), 0);
  pthread_t self = pthread_self();
  for (int i = 0; i < N_JOBS; i++) {
    if (atomic_load(&jobs[i].ran) != 1 || jobs[i].done != 1 || jobs[i].cancelled)
      TEST_FAIL("job %d: ran %d, done %d, cancelled %d", i, atomic_load(&jobs[i].ran), jobs[i].done,
                jobs[i].cancelled);
    ASSERT_TRUE(pthread_equal(jobs[i].done_thread, self));
    ASSERT_FALSE(pthread_equal(jobs[i].run_thread, self));
  }
  agent_workers_free(w);
  for (int i = 0; i < N_JOBS; i++)
    ASSERT_EQ_INT(jobs[i].done, 1);             /* free hands nothing back twice */
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0); /* nothing left on the loop */
  ev_loop_destroy(loop);
}

/* One thread runs the jobs in the order they were submitted. */
static void test_order(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  static tjob_t jobs[16];
  reset_globals(loop);
  jobs_init(jobs, 16);
  agent_workers_t *w = NULL;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 1, &w), 0);
  g.w = w;
  g.want_done = 16;
  for (int i = 0; i < 16; i++)
    agent_workers_submit(w, &jobs[i].job);
  run_until_done(loop);
  for (int i = 0; i < 16; i++)
    ASSERT_EQ_INT(jobs[i].order, i);
  agent_workers_free(w);
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
}

/* done may submit again (the kubelet re-syncs a pod that way). */
static void test_resubmit_from_done(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  static tjob_t jobs[4];
  reset_globals(loop);
  jobs_init(jobs, 4);
  agent_workers_t *w = NULL;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 2, &w), 0);
  g.w = w;
  g.want_done = 4;
  for (int i = 0; i < 4; i++) {
    jobs[i].resubmit = 5;
    agent_workers_submit(w, &jobs[i].job);
  }
  run_until_done(loop);
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ_INT(jobs[i].done, 6);
    ASSERT_EQ_INT(jobs[i].resubmit, 0);
  }
  ASSERT_EQ_INT(g.ran, 24);
  ASSERT_EQ_INT(agent_workers_pending(w), 0);
  agent_workers_free(w);
  ev_loop_destroy(loop);
}

static void *open_gate_later(void *arg) {
  (void)arg;
  struct timespec d = {0, 200 * 1000 * 1000};
  nanosleep(&d, NULL);
  pthread_mutex_lock(&g.mu);
  g.gate_open = true;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  return NULL;
}

/* Freed while 3 jobs run and 5 wait: the running ones finish and come
 * back done(false), the waiting ones come back done(true) unrun. */
static void test_free_cancels_queued(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  static tjob_t jobs[8];
  reset_globals(loop);
  jobs_init(jobs, 8);
  agent_workers_t *w = NULL;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 3, &w), 0);
  g.w = w;
  for (int i = 0; i < 3; i++) {
    jobs[i].block = true;
    agent_workers_submit(w, &jobs[i].job);
  }
  WAIT_FOR(g.blocked == 3); /* every thread is busy now */
  for (int i = 3; i < 8; i++)
    agent_workers_submit(w, &jobs[i].job);
  ASSERT_EQ_INT(agent_workers_pending(w), 8);
  pthread_t opener;
  ASSERT_EQ_INT(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
  agent_workers_free(w); /* waits for the three, then hands all back */
  pthread_join(opener, NULL);
  pthread_t self = pthread_self();
  for (int i = 0; i < 8; i++) {
    bool queued = i >= 3;
    if (jobs[i].done != 1 || jobs[i].cancelled != queued || atomic_load(&jobs[i].ran) != !queued)
      TEST_FAIL("job %d: ran %d, done %d, cancelled %d", i, atomic_load(&jobs[i].ran), jobs[i].done,
                jobs[i].cancelled);
    ASSERT_TRUE(pthread_equal(jobs[i].done_thread, self));
  }
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
}

/* Jobs that finished before the loop ran again are handed back by free. */
static void test_free_delivers_finished(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  static tjob_t jobs[5];
  reset_globals(loop);
  jobs_init(jobs, 5);
  agent_workers_t *w = NULL;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 2, &w), 0);
  g.w = w;
  for (int i = 0; i < 5; i++)
    agent_workers_submit(w, &jobs[i].job);
  WAIT_FOR(g.ran == 5);
  agent_workers_free(w);
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ_INT(jobs[i].done, 1);
    ASSERT_EQ_INT(jobs[i].cancelled, 0);
  }
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
}

/* A reset (the runtime restarted) between and during jobs breaks
 * nothing. */
static void test_reset(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  static tjob_t jobs[20];
  reset_globals(loop);
  jobs_init(jobs, 20);
  agent_workers_t *w = NULL;
  ASSERT_EQ_INT(agent_workers_new(loop, NOWHERE, 3, &w), 0);
  g.w = w;
  agent_workers_reset(w); /* before any job */
  g.want_done = 10;
  for (int i = 0; i < 10; i++) {
    agent_workers_submit(w, &jobs[i].job);
    if (i == 4)
      agent_workers_reset(w);
  }
  run_until_done(loop);
  agent_workers_reset(w);
  agent_workers_reset(w);
  g.want_done = 20;
  for (int i = 10; i < 20; i++)
    agent_workers_submit(w, &jobs[i].job);
  run_until_done(loop);
  for (int i = 0; i < 20; i++) {
    ASSERT_EQ_INT(atomic_load(&jobs[i].ran), 1);
    ASSERT_EQ_INT(jobs[i].done, 1);
  }
  agent_workers_free(w);
  ASSERT_EQ_INT(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
}

TEST_LIST = {
    TEST(test_bad_sizes),
    TEST(test_all_back_once),
    TEST(test_order),
    TEST(test_resubmit_from_done),
    TEST(test_free_cancels_queued),
    TEST(test_free_delivers_finished),
    TEST(test_reset),
    {0},
};
TEST_MAIN()
