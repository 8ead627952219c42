/* The loop lock, its ordered worker and the pool (offload.h). The lock is a
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
#define POOL_MAX 16             /* threads for offload_submit_any's tasks */

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

/* the task queues, under their own mutex (workers wait on them unlocked):
 * the ordered worker's, and the pool's */
typedef struct {
  pthread_cond_t cv;
  task_t *head, **tail;
} queue_t;

static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static queue_t q_ordered = {PTHREAD_COND_INITIALIZER, NULL, &q_ordered.head};
static queue_t q_any = {PTHREAD_COND_INITIALIZER, NULL, &q_any.head};
static bool stopping;
/* the pool, under qmu */
static pthread_t pool[POOL_MAX];
static int pool_n, pool_idle;

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

/* Take q's next task, waiting for one; NULL once stopping and q is empty.
 * idle, if not NULL, counts this thread as waiting meanwhile. */
static task_t *queue_take(queue_t *q, int *idle) {
  pthread_mutex_lock(&qmu);
  if (idle)
    (*idle)++;
  while (!q->head && !stopping)
    pthread_cond_wait(&q->cv, &qmu);
  if (idle)
    (*idle)--;
  task_t *t = q->head;
  if (t) {
    q->head = t->next;
    if (!q->head)
      q->tail = &q->head;
  }
  pthread_mutex_unlock(&qmu);
  return t;
}

static void run_task(task_t *t) {
  if (t->pure) {
    t->fn(t->data);
    free(t);
    return;
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

static void *worker_main(void *arg) {
  queue_t *q = arg;
  task_t *t;
  while ((t = queue_take(q, q == &q_any ? &pool_idle : NULL)))
    run_task(t);
  return NULL;
}

/* A thread for worker_main(q) with every signal blocked (signals are the
 * loop's). 0 or a positive errno. */
static int spawn(pthread_t *th, queue_t *q) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, WORKER_STACK);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(th, &attr, worker_main, q);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return r;
}

int offload_start(struct ev_loop *loop) {
  if (started)
    return -EALREADY;
  the_loop = loop;
  lock_take(false);
  ev_async_init(&wake, wake_cb);
  ev_async_start(loop, &wake);
  ev_unref(loop); /* the wake-up watcher alone does not keep ev_run going */
  stopping = false;
  int r = spawn(&worker, &q_ordered);
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
  pthread_cond_broadcast(&q_ordered.cv);
  pthread_cond_broadcast(&q_any.cv);
  int n = pool_n;
  pthread_mutex_unlock(&qmu);
  lock_give(); /* the workers may need it to finish what is queued */
  pthread_join(worker, NULL);
  for (int i = 0; i < n; i++)
    pthread_join(pool[i], NULL);
  pool_n = pool_idle = 0;
  lock_take(false);
  ev_set_loop_release_cb(the_loop, NULL, NULL);
  ev_ref(the_loop);
  ev_async_stop(the_loop, &wake);
  run_deferred();
  started = false;
  lock_give(); /* no lock without a worker: the loop runs alone again */
}

static void submit(offload_task_cb fn, void *data, bool pure, queue_t *q) {
  if (!started) {
    fn(data);
    return;
  }
  task_t *t = xcalloc(1, sizeof(*t));
  t->fn = fn;
  t->data = data;
  t->pure = pure;
  pthread_mutex_lock(&qmu);
  *q->tail = t;
  q->tail = &t->next;
  /* the pool grows while every one of its threads is busy (a task in a
   * webhook call holds its thread for up to the call's timeout) */
  if (q == &q_any && pool_idle == 0 && pool_n < POOL_MAX && spawn(&pool[pool_n], q) == 0)
    pool_n++;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&qmu);
}

void offload_submit(offload_task_cb fn, void *data) { submit(fn, data, false, &q_ordered); }

void offload_submit_pure(offload_task_cb fn, void *data) { submit(fn, data, true, &q_ordered); }

void offload_submit_any(offload_task_cb fn, void *data) { submit(fn, data, false, &q_any); }

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
