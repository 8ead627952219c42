/* pkg/agent workers: a few threads that run pod syncs against the
 * container runtime, each with its own blocking runtime client
 * (runtime.h), so a slow CRI call (a sandbox's CNI set-up, a container's
 * grace period) never blocks the agent's loop or the other pods.
 *
 * A job is submitted on the loop, run on some worker thread, and handed
 * back on the loop (done), exactly once. Jobs run in submission order,
 * several at a time. */
#pragma once

#include <stdbool.h>

#include "agent/runtime.h"

struct ev_loop;

typedef struct agent_job agent_job_t;
struct agent_job {
  /* On a worker thread: the work. Must not touch loop-owned state. */
  void (*run)(agent_job_t *job, agent_runtime_t *rt);
  /* On the loop: the result is in; the owner frees the job. cancelled:
   * the pool was freed before run was called. */
  void (*done)(agent_job_t *job, bool cancelled);
  agent_job_t *_next;
};

typedef struct agent_workers agent_workers_t;

/* n threads (1..64) with clients for the runtime at socket_path; results
 * are delivered on loop. Returns 0 and *ret, or a negative errno. Loop
 * thread only. */
int agent_workers_new(struct ev_loop *loop, const char *socket_path, int n,
                      agent_workers_t **ret);
/* Waits for the jobs running now, then calls done(cancelled=true) for the
 * ones never run and done(false) for finished ones. Accepts NULL. */
void agent_workers_free(agent_workers_t *w);
void agent_workers_submit(agent_workers_t *w, agent_job_t *job);
/* The runtime restarted: each thread drops its connection before its next
 * job. */
void agent_workers_reset(agent_workers_t *w);
/* Jobs submitted and not yet handed back. */
unsigned agent_workers_pending(const agent_workers_t *w);
