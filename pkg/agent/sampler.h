/* pkg/agent sampler: the kubelet's resource sampling on the agent's loop.
 * Every interval (10 s, as kubelet's cAdvisor housekeeping) it asks the
 * runtime for ListContainerStats of the containers k3c made and reads the
 * node's /proc/stat and /proc/meminfo, and feeds agent_stats (stats.h),
 * which keeps the latest figures and the CPU rates between the last two
 * samples. The first rates appear one interval after a container is seen.
 *
 * Threads: the loop it was made on. */
#pragma once

#include <ev.h>

#include "agent/stats.h"
#include "cri/cri.h"

typedef struct agent_sampler agent_sampler_t;

/* Sample through cri (which must outlive the sampler, or be freed first:
 * a pending call then ends cancelled) every interval_s seconds, the first
 * time at once. Returns the sampler (free with agent_sampler_free). */
agent_sampler_t *agent_sampler_new(struct ev_loop *loop, cri_client_t *cri, const char *node_name,
                                   double interval_s);
/* Accepts NULL. With a call in flight the sampler is freed when it ends. */
void agent_sampler_free(agent_sampler_t *s);
/* The latest figures (updated_ns 0 before the first sample). Borrowed:
 * valid until control returns to the loop. */
const agent_stats_t *agent_sampler_stats(const agent_sampler_t *s);
