/* The kubelet's stats sampler: a timer on the agent loop, one
 * ListContainerStats call at a time (runtime.v1), the node from /proc,
 * both handed to agent_stats. */
#include "agent/sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/podspec.h"
#include "util/alloc.h"

struct agent_sampler {
  struct ev_loop *loop;
  cri_client_t *cri;
  ev_timer timer;
  bool busy, dead;
  agent_stats_t stats;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void copy(char *dst, size_t len, const char *src) {
  snprintf(dst, len, "%s", src ? src : "");
}

static void stats_cb(void *data, const cri_status_t *st, const cri_container_stats_t *items,
                     size_t n) {
  agent_sampler_t *s = data;
  s->busy = false;
  if (s->dead) {
    agent_stats_done(&s->stats);
    free(s);
    return;
  }
  agent_usage_t node;
  bool have_node = agent_stats_read_node(&node) == 0;
  if (st->code != CRI_OK) {
    agent_stats_update_failed(&s->stats, have_node ? &node : NULL, now_ns());
    return;
  }
  agent_stats_container_t *c = xcalloc(n ? n : 1, sizeof(*c));
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const cri_container_stats_t *x = &items[i];
    const char *uid = cri_map_get(x->labels, AGENT_LABEL_POD_UID);
    /* an exited container has no figures */
    if (!uid || (!x->cpu.usage_core_nano_seconds.set && !x->memory.working_set_bytes.set))
      continue;
    agent_stats_container_t *y = &c[m++];
    copy(y->id, sizeof(y->id), x->id);
    const char *cname = cri_map_get(x->labels, AGENT_LABEL_CONTAINER_NAME);
    copy(y->name, sizeof(y->name), cname ? cname : x->metadata.name);
    copy(y->pod, sizeof(y->pod), cri_map_get(x->labels, AGENT_LABEL_POD_NAME));
    copy(y->ns, sizeof(y->ns), cri_map_get(x->labels, AGENT_LABEL_POD_NAMESPACE));
    copy(y->uid, sizeof(y->uid), uid);
    if (x->cpu.usage_core_nano_seconds.set) {
      y->u.cpu.set = true;
      y->u.cpu.t_ns = x->cpu.timestamp;
      y->u.cpu.usage_core_ns = x->cpu.usage_core_nano_seconds.value;
    }
    agent_mem_sample_t *mm = &y->u.mem;
    mm->t_ns = x->memory.timestamp;
    mm->working_set_set = x->memory.working_set_bytes.set;
    mm->working_set = x->memory.working_set_bytes.value;
    mm->usage_set = x->memory.usage_bytes.set;
    mm->usage = x->memory.usage_bytes.value;
    mm->rss_set = x->memory.rss_bytes.set;
    mm->rss = x->memory.rss_bytes.value;
    mm->available_set = x->memory.available_bytes.set && x->memory.available_bytes.value;
    mm->available = x->memory.available_bytes.value;
  }
  agent_stats_update(&s->stats, have_node ? &node : NULL, c, m, now_ns());
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_sampler_t *s = (agent_sampler_t *)((char *)w - offsetof(agent_sampler_t, timer));
  if (s->busy)
    return;
  cri_kv_t managed = {AGENT_LABEL_MANAGED, "true"};
  cri_stats_filter_t f = {.id = "", .pod_sandbox_id = "", .label_selector = {&managed, 1}};
  s->busy = cri_list_container_stats(s->cri, &f, stats_cb, s) == 0;
}

agent_sampler_t *agent_sampler_new(struct ev_loop *loop, cri_client_t *cri, const char *node_name,
                                   double interval_s) {
  agent_sampler_t *s = xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->cri = cri;
  agent_stats_init(&s->stats, node_name, now_ns());
  ev_timer_init(&s->timer, tick, 0.0, interval_s > 0 ? interval_s : 10.0);
  ev_timer_start(loop, &s->timer);
  return s;
}

void agent_sampler_free(agent_sampler_t *s) {
  if (!s)
    return;
  ev_timer_stop(s->loop, &s->timer);
  if (s->busy) {
    s->dead = true;
    return;
  }
  agent_stats_done(&s->stats);
  free(s);
}

const agent_stats_t *agent_sampler_stats(const agent_sampler_t *s) { return &s->stats; }
