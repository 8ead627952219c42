/* The pod worker threads: a mutex-guarded queue in, a queue out, and an
 * ev_async that wakes the loop to hand finished jobs back. */
#include "agent/workers.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/alloc.h"

#define STACK_SIZE (512u * 1024)

typedef struct {
  agent_workers_t *w;
  pthread_t tid;
  bool started;
  agent_runtime_t *rt;
  unsigned reset_seen;
} worker_t;

struct agent_workers {
  struct ev_loop *loop;
  ev_async wake;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  agent_job_t *in_head, *in_tail, *out_head, *out_tail;
  bool stopping;
  unsigned reset_gen;
  unsigned pending;
  int n;
  worker_t *t;
};

static void push(agent_job_t **head, agent_job_t **tail, agent_job_t *j) {
  j->_next = NULL;
  if (*tail)
    (*tail)->_next = j;
  else
    *head = j;
  *tail = j;
}

static agent_job_t *pop(agent_job_t **head, agent_job_t **tail) {
  agent_job_t *j = *head;
  if (j && !(*head = j->_next))
    *tail = NULL;
  return j;
}

static void *worker_main(void *arg) {
  worker_t *t = arg;
  agent_workers_t *w = t->w;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->stopping && !w->in_head)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->stopping)
      break;
    agent_job_t *j = pop(&w->in_head, &w->in_tail);
    bool reset = t->reset_seen != w->reset_gen;
    t->reset_seen = w->reset_gen;
    pthread_mutex_unlock(&w->mu);
    if (reset)
      agent_runtime_reset(t->rt);
    j->run(j, t->rt);
    pthread_mutex_lock(&w->mu);
    push(&w->out_head, &w->out_tail, j);
    ev_async_send(w->loop, &w->wake);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* On the loop: hand back what finished. */
static void drain(agent_workers_t *w, bool cancelled_in) {
  for (;;) {
    pthread_mutex_lock(&w->mu);
    agent_job_t *j = pop(&w->out_head, &w->out_tail);
    bool cancelled = false;
    if (!j && cancelled_in) {
      j = pop(&w->in_head, &w->in_tail);
      cancelled = j != NULL;
    }
    if (j)
      w->pending--;
    pthread_mutex_unlock(&w->mu);
    if (!j)
      return;
    j->done(j, cancelled);
  }
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents) {
  agent_workers_t *w = (agent_workers_t *)((char *)a - offsetof(agent_workers_t, wake));
  drain(w, false);
}

int agent_workers_new(struct ev_loop *loop, const char *socket_path, int n,
                      agent_workers_t **ret) {
  if (n < 1 || n > 64)
    return -EINVAL;
  agent_workers_t *w = xcalloc(1, sizeof(*w));
  w->loop = loop;
  w->n = n;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  ev_async_init(&w->wake, wake_cb);
  ev_async_start(loop, &w->wake);
  w->t = xcalloc((size_t)n, sizeof(*w->t));
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, STACK_SIZE);
  int r = 0;
  for (int i = 0; i < n && r == 0; i++) {
    worker_t *t = &w->t[i];
    t->w = w;
    if ((r = agent_runtime_new(socket_path, &t->rt)) < 0)
      break;
    if ((r = -pthread_create(&t->tid, &attr, worker_main, t)) == 0)
      t->started = true;
  }
  pthread_attr_destroy(&attr);
  if (r < 0) {
    agent_workers_free(w);
    return r;
  }
  *ret = w;
  return 0;
}

void agent_workers_free(agent_workers_t *w) {
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  w->stopping = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  for (int i = 0; i < w->n; i++)
    if (w->t[i].started)
      pthread_join(w->t[i].tid, NULL);
  drain(w, true);
  for (int i = 0; i < w->n; i++)
    agent_runtime_free(w->t[i].rt);
  ev_async_stop(w->loop, &w->wake);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w->t);
  free(w);
}

void agent_workers_submit(agent_workers_t *w, agent_job_t *job) {
  pthread_mutex_lock(&w->mu);
  push(&w->in_head, &w->in_tail, job);
  w->pending++;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

void agent_workers_reset(agent_workers_t *w) {
  pthread_mutex_lock(&w->mu);
  w->reset_gen++;
  pthread_mutex_unlock(&w->mu);
}

unsigned agent_workers_pending(const agent_workers_t *w) { return w->pending; }
