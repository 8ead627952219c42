/* pkg/agent stats: the node's and its containers' resource usage as the
 * kubelet reports it, from cumulative samples: CPU rates from two samples
 * of a cumulative counter (usageNanoCores), memory as the runtime and
 * /proc/meminfo give it, and the two encodings the kubelet API serves:
 * the Summary API JSON (/stats/summary, k8s.io/kubelet/pkg/apis/stats/
 * v1alpha1) and the Prometheus text of /metrics/resource.
 * https://kubernetes.io/docs/reference/instrumentation/node-metrics/
 *
 * Pure computation: no I/O except agent_stats_read_node, no loop; the
 * sampler (sampler.h) feeds it. Not thread-safe: one owner. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* A cumulative CPU counter read at t_ns (ns since the epoch). */
typedef struct {
  bool set;
  int64_t t_ns;
  uint64_t usage_core_ns; /* CPU time used on all cores since the start */
} agent_cpu_sample_t;

/* The average rate in nanocores (1e9 = one core busy) between prev and
 * cur: 0 and *ret when both are set and cur is later; -ENODATA when a
 * sample is missing or the time did not move; -ERANGE when the counter
 * went down (a restarted container or a reset): no rate until the next
 * pair. */
int agent_stats_rate(const agent_cpu_sample_t *prev, const agent_cpu_sample_t *cur,
                     uint64_t *ret_nano_cores);

/* Memory figures; a zero *_set means unknown (left out of the output). */
typedef struct {
  int64_t t_ns;
  bool working_set_set, usage_set, rss_set, available_set;
  uint64_t working_set, usage, rss, available;
} agent_mem_sample_t;

/* CPU and memory of one object (node, pod or container). */
typedef struct {
  agent_cpu_sample_t cpu;
  bool rate_set;
  uint64_t nano_cores;
  agent_mem_sample_t mem;
} agent_usage_t;

#define AGENT_STATS_NAME_MAX 254

typedef struct {
  char id[72];
  char name[AGENT_STATS_NAME_MAX];       /* the pod's container name */
  char pod[AGENT_STATS_NAME_MAX];
  char ns[AGENT_STATS_NAME_MAX];
  char uid[64];
  int64_t start_ns; /* first seen, for startTime */
  agent_usage_t u;
} agent_stats_container_t;

/* The node's CPU counter from the text of /proc/stat (its "cpu " line:
 * user+nice+system+irq+softirq+steal, in ticks of ticks_per_s), at t_ns.
 * Returns 0 or -EBADMSG. */
int agent_stats_parse_proc_stat(const char *text, long ticks_per_s, int64_t t_ns,
                                agent_cpu_sample_t *ret);
/* The node's memory from the text of /proc/meminfo: working set =
 * MemTotal - MemAvailable, usage = MemTotal - MemFree, rss = AnonPages,
 * available = MemAvailable (kubelet's cAdvisor uses the root cgroup's
 * usage minus inactive_file; on the root these agree to within the
 * kernel's own memory). Returns 0 or -EBADMSG. */
int agent_stats_parse_meminfo(const char *text, int64_t t_ns, agent_mem_sample_t *ret);
/* Both from /proc/stat and /proc/meminfo now. Returns 0 or -errno. */
int agent_stats_read_node(agent_usage_t *ret);

/* The latest figures of a node. */
typedef struct {
  char node_name[AGENT_STATS_NAME_MAX];
  int64_t node_start_ns; /* the node agent's start, for startTime */
  agent_usage_t node;
  agent_stats_container_t *c; /* containers, in pod order of the last update */
  size_t n;
  int64_t updated_ns; /* 0 before the first update */
  bool scrape_error;  /* the last runtime sample failed */
} agent_stats_t;

void agent_stats_init(agent_stats_t *s, const char *node_name, int64_t start_ns);
void agent_stats_done(agent_stats_t *s);
/* Take a new sample: node usage and the containers (takes ownership of
 * the array, allocated with malloc, their u.cpu/u.mem filled, rate_set
 * false). Each rate comes from the previous sample of the same id (or of
 * the node); a container seen for the first time has none yet. */
void agent_stats_update(agent_stats_t *s, const agent_usage_t *node, agent_stats_container_t *c,
                        size_t n, int64_t now_ns);
/* The runtime could not be asked: keep the node, mark scrape_error. */
void agent_stats_update_failed(agent_stats_t *s, const agent_usage_t *node, int64_t now_ns);

/* The Summary JSON (caller frees with cJSON_Delete): node{nodeName,
 * startTime, cpu, memory}, pods[{podRef{name,namespace,uid}, startTime,
 * cpu, memory, containers[{name, startTime, cpu, memory}]}]. A pod's
 * figures are the sums of its containers'. */
cJSON *agent_stats_summary(const agent_stats_t *s);
/* The /metrics/resource text (Prometheus exposition format 0.0.4) into
 * out. Returns 0 or -ENOBUFS when out's limit is reached. */
int agent_stats_prometheus(const agent_stats_t *s, buf_t *out);

/* "2026-12-02T13:23:14Z" for t_ns into out (at least 21 bytes). */
void agent_stats_time(int64_t t_ns, char *out, size_t len);
