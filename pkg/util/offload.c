/* The loop lock and its one worker thread (offload.h). The lock is a
 * mutex-and-condition "held" flag rather than a bare mutex so that the
 * worker has priority: the loop re-takes it after every poll, and a bare
 * mutex would let it win every race and starve the worker. */
#include "util/offload.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include "util/alloc.h"

#define WORKER_STACK (8u << 20) /* decoders recurse to their depth limits */

typedef struct task {
  offload_task_cb fn;
  void *data;
  bool pure; /* runs without the lock */
  struct task *next;
} task_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool held;
static int worker_waiting;

/* the task queue, under its own mutex: the worker waits on it unlocked */
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER;
static task_t *qhead, **qtail = &qhead;
static bool stopping;

/* under the loop lock */
static struct ev_loop *the_loop;
static ev_async wake;
static pthread_t worker;
static bool started;
static int unlocked;     /* tasks between offload_unlock and offload_relock */
static task_t *deferred; /* offload_defer's, run when unlocked drops to 0 */

static __thread bool in_task;    /* this thread runs a task and holds the lock */
static __thread bool in_unlocked; /* ... and has released it for pure work */

static void lock_take(bool is_worker) {
  pthread_mutex_lock(&mu);
  if (is_worker) {
    worker_waiting++;
    while (held)
      pthread_cond_wait(&cv, &mu);
    worker_waiting--;
  } else {
    while (held || worker_waiting)
      pthread_cond_wait(&cv, &mu);
  }
  held = true;
  pthread_mutex_unlock(&mu);
}

static void lock_give(void) {
  pthread_mutex_lock(&mu);
  held = false;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void loop_release(struct ev_loop *loop) {
  (void)loop;
  lock_give();
}

static void loop_acquire(struct ev_loop *loop) {
  (void)loop;
  lock_take(false);
}

/* The loop only needs to wake: whatever a task changed (watchers, timers)
 * is picked up by the next iteration. */
static void wake_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static void run_deferred(void) {
  while (deferred && unlocked == 0) {
    task_t *t = deferred;
    deferred = t->next;
    t->fn(t->data);
    free(t);
  }
}

static void *worker_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&qmu);
    while (!qhead && !stopping)
      pthread_cond_wait(&qcv, &qmu);
    task_t *t = qhead;
    if (t) {
      qhead = t->next;
      if (!qhead)
        qtail = &qhead;
    }
    pthread_mutex_unlock(&qmu);
    if (!t)
      break;
    if (t->pure) {
      t->fn(t->data);
      free(t);
      continue;
    }
    lock_take(true);
    in_task = true;
    t->fn(t->data);
    in_task = false;
    run_deferred();
    lock_give();
    ev_async_send(the_loop, &wake);
    free(t);
  }
  return NULL;
}

int offload_start(struct ev_loop *loop) {
  if (started)
    return -EALREADY;
  the_loop = loop;
  lock_take(false);
  ev_async_init(&wake, wake_cb);
  ev_async_start(loop, &wake);
  ev_unref(loop); /* the wake-up watcher alone does not keep ev_run going */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, WORKER_STACK);
  /* signals are the loop's: the worker blocks them all */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  stopping = false;
  int r = pthread_create(&worker, &attr, worker_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    ev_ref(loop);
    ev_async_stop(loop, &wake);
    lock_give();
    return -r;
  }
  ev_set_loop_release_cb(loop, loop_release, loop_acquire);
  started = true;
  return 0;
}

void offload_stop(void) {
  if (!started)
    return;
  pthread_mutex_lock(&qmu);
  stopping = true;
  pthread_cond_signal(&qcv);
  pthread_mutex_unlock(&qmu);
  lock_give(); /* the worker may need it to finish what is queued */
  pthread_join(worker, NULL);
  lock_take(false);
  ev_set_loop_release_cb(the_loop, NULL, NULL);
  ev_ref(the_loop);
  ev_async_stop(the_loop, &wake);
  run_deferred();
  started = false;
  lock_give(); /* no lock without a worker: the loop runs alone again */
}

static void submit(offload_task_cb fn, void *data, bool pure) {
  if (!started) {
    fn(data);
    return;
  }
  task_t *t = xcalloc(1, sizeof(*t));
  t->fn = fn;
  t->data = data;
  t->pure = pure;
  pthread_mutex_lock(&qmu);
  *qtail = t;
  qtail = &t->next;
  pthread_cond_signal(&qcv);
  pthread_mutex_unlock(&qmu);
}

void offload_submit(offload_task_cb fn, void *data) { submit(fn, data, false); }

void offload_submit_pure(offload_task_cb fn, void *data) { submit(fn, data, true); }

void offload_unlock(void) {
  if (!in_task || in_unlocked)
    return;
  in_unlocked = true;
  unlocked++;
  lock_give();
  ev_async_send(the_loop, &wake); /* what the task did so far is the loop's to act on */
}

void offload_relock(void) {
  if (!in_task || !in_unlocked)
    return;
  /* After a long burst of pure work this thread is the first the kernel
   * preempts on a busy machine; let that happen now, not while the loop
   * waits for the lock. */
  sched_yield();
  lock_take(true);
  in_unlocked = false;
  unlocked--;
  run_deferred();
}

void offload_defer(offload_task_cb fn, void *data) {
  if (unlocked == 0) {
    fn(data);
    return;
  }
  task_t *t = xcalloc(1, sizeof(*t));
  t->fn = fn;
  t->data = data;
  t->next = deferred;
  deferred = t;
}

bool offload_in_task(void) { return in_task && !in_unlocked; }

bool offload_unlocked_now(void) { return unlocked > 0; }
