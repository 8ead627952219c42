/* The kubelet's resource figures: CPU rates from cumulative counters, the
 * node's usage from /proc, and the Summary API JSON and /metrics/resource
 * Prometheus text built from the latest sample.
 * https://kubernetes.io/docs/reference/instrumentation/node-metrics/
 * https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include "agent/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

int agent_stats_rate(const agent_cpu_sample_t *prev, const agent_cpu_sample_t *cur,
                     uint64_t *ret_nano_cores) {
  if (!prev || !cur || !prev->set || !cur->set || cur->t_ns <= prev->t_ns)
    return -ENODATA;
  if (cur->usage_core_ns < prev->usage_core_ns)
    return -ERANGE;
  /* (du / dt) * 1e9 without overflow: du fits a double exactly enough
   * (53 bits of ns is 104 days of one core per sample interval) */
  double du = (double)(cur->usage_core_ns - prev->usage_core_ns);
  double dt = (double)(cur->t_ns - prev->t_ns);
  double r = du / dt * 1e9;
  *ret_nano_cores = r < 0 ? 0 : (uint64_t)(r + 0.5);
  return 0;
}

/* ---- the node from /proc ---- */

int agent_stats_parse_proc_stat(const char *text, long ticks_per_s, int64_t t_ns,
                                agent_cpu_sample_t *ret) {
  if (!text || ticks_per_s <= 0)
    return -EBADMSG;
  const char *p = text;
  while (p && strncmp(p, "cpu ", 4)) {
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  if (!p)
    return -EBADMSG;
  p += 4;
  /* user nice system idle iowait irq softirq steal [guest guest_nice]:
   * guest time is already counted in user and nice */
  unsigned long long v[8] = {0};
  int n = 0;
  while (n < 8) {
    while (*p == ' ')
      p++;
    if (*p < '0' || *p > '9')
      break;
    char *e;
    errno = 0;
    v[n] = strtoull(p, &e, 10);
    if (errno)
      return -EBADMSG;
    p = e;
    n++;
  }
  if (n < 4)
    return -EBADMSG;
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  ret->set = true;
  ret->t_ns = t_ns;
  ret->usage_core_ns = (uint64_t)(busy / (unsigned long long)ticks_per_s) * 1000000000ull +
                       (uint64_t)(busy % (unsigned long long)ticks_per_s) * 1000000000ull /
                           (uint64_t)ticks_per_s;
  return 0;
}

/* The value in kB of "Key:" in meminfo, in bytes; false when absent. */
static bool meminfo_value(const char *text, const char *key, uint64_t *ret) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, key, kl) && p[kl] == ':') {
      char *e;
      errno = 0;
      unsigned long long kb = strtoull(p + kl + 1, &e, 10);
      if (errno || e == p + kl + 1)
        return false;
      *ret = (uint64_t)kb * 1024;
      return true;
    }
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return false;
}

int agent_stats_parse_meminfo(const char *text, int64_t t_ns, agent_mem_sample_t *ret) {
  uint64_t total, avail, mfree, anon;
  if (!text || !meminfo_value(text, "MemTotal", &total) ||
      !meminfo_value(text, "MemAvailable", &avail) || !meminfo_value(text, "MemFree", &mfree))
    return -EBADMSG;
  agent_mem_sample_t m = {.t_ns = t_ns};
  m.working_set_set = m.usage_set = m.available_set = true;
  m.working_set = total > avail ? total - avail : 0;
  m.usage = total > mfree ? total - mfree : 0;
  m.available = avail;
  if (meminfo_value(text, "AnonPages", &anon)) {
    m.rss_set = true;
    m.rss = anon;
  }
  *ret = m;
  return 0;
}

static int read_text(const char *path, char *out, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t got = 0;
  while (got + 1 < len) {
    ssize_t n = read(fd, out + got, len - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  out[got] = '\0';
  return 0;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int agent_stats_read_node(agent_usage_t *ret) {
  char *text = xmalloc(64 << 10);
  agent_usage_t u = {0};
  int64_t t = now_ns();
  long hz = sysconf(_SC_CLK_TCK);
  int r = read_text("/proc/stat", text, 64 << 10);
  if (r == 0)
    r = agent_stats_parse_proc_stat(text, hz > 0 ? hz : 100, t, &u.cpu);
  if (r == 0 && (r = read_text("/proc/meminfo", text, 64 << 10)) == 0)
    r = agent_stats_parse_meminfo(text, t, &u.mem);
  free(text);
  if (r == 0)
    *ret = u;
  return r;
}

/* ---- samples over time ---- */

void agent_stats_init(agent_stats_t *s, const char *node_name, int64_t start_ns) {
  memset(s, 0, sizeof(*s));
  snprintf(s->node_name, sizeof(s->node_name), "%s", node_name ? node_name : "");
  s->node_start_ns = start_ns;
}

void agent_stats_done(agent_stats_t *s) {
  free(s->c);
  s->c = NULL;
  s->n = 0;
}

static void rate_from(agent_usage_t *cur, const agent_usage_t *prev) {
  cur->rate_set = agent_stats_rate(&prev->cpu, &cur->cpu, &cur->nano_cores) == 0;
}

static const agent_stats_container_t *find(const agent_stats_t *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->c[i].id, id))
      return &s->c[i];
  return NULL;
}

void agent_stats_update(agent_stats_t *s, const agent_usage_t *node, agent_stats_container_t *c,
                        size_t n, int64_t now) {
  if (node) {
    agent_usage_t u = *node;
    rate_from(&u, &s->node);
    s->node = u;
  }
  for (size_t i = 0; i < n; i++) {
    const agent_stats_container_t *old = find(s, c[i].id);
    c[i].u.rate_set = false;
    if (old) {
      rate_from(&c[i].u, &old->u);
      c[i].start_ns = old->start_ns;
    } else if (!c[i].start_ns) {
      c[i].start_ns = now;
    }
  }
  free(s->c);
  s->c = c;
  s->n = n;
  s->updated_ns = now;
  s->scrape_error = false;
}

void agent_stats_update_failed(agent_stats_t *s, const agent_usage_t *node, int64_t now) {
  if (node) {
    agent_usage_t u = *node;
    rate_from(&u, &s->node);
    s->node = u;
  }
  s->updated_ns = now;
  s->scrape_error = true;
}

/* ---- encodings ---- */

void agent_stats_time(int64_t t_ns, char *out, size_t len) {
  time_t t = (time_t)(t_ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  if (strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && len)
    out[0] = '\0';
}

static void add_time(cJSON *o, const char *key, int64_t t_ns) {
  char ts[40];
  agent_stats_time(t_ns, ts, sizeof(ts));
  cJSON_AddStringToObject(o, key, ts);
}

static cJSON *cpu_json(const agent_usage_t *u) {
  cJSON *o = cJSON_CreateObject();
  add_time(o, "time", u->cpu.t_ns);
  if (u->rate_set)
    cJSON_AddNumberToObject(o, "usageNanoCores", (double)u->nano_cores);
  if (u->cpu.set)
    cJSON_AddNumberToObject(o, "usageCoreNanoSeconds", (double)u->cpu.usage_core_ns);
  return o;
}

static cJSON *mem_json(const agent_usage_t *u) {
  const agent_mem_sample_t *m = &u->mem;
  cJSON *o = cJSON_CreateObject();
  add_time(o, "time", m->t_ns);
  if (m->available_set)
    cJSON_AddNumberToObject(o, "availableBytes", (double)m->available);
  if (m->usage_set)
    cJSON_AddNumberToObject(o, "usageBytes", (double)m->usage);
  if (m->working_set_set)
    cJSON_AddNumberToObject(o, "workingSetBytes", (double)m->working_set);
  if (m->rss_set)
    cJSON_AddNumberToObject(o, "rssBytes", (double)m->rss);
  return o;
}

static void add_usage(cJSON *o, const agent_usage_t *u) {
  if (u->cpu.set)
    cJSON_AddItemToObject(o, "cpu", cpu_json(u));
  if (u->mem.working_set_set || u->mem.usage_set)
    cJSON_AddItemToObject(o, "memory", mem_json(u));
}

/* Add c's usage into the pod's sum p. */
static void sum_into(agent_usage_t *p, const agent_usage_t *c) {
  if (c->cpu.set) {
    p->cpu.usage_core_ns += c->cpu.usage_core_ns;
    if (!p->cpu.set || c->cpu.t_ns > p->cpu.t_ns)
      p->cpu.t_ns = c->cpu.t_ns;
    p->cpu.set = true;
  }
  if (c->rate_set) {
    p->nano_cores += c->nano_cores;
    p->rate_set = true;
  }
  const agent_mem_sample_t *m = &c->mem;
  agent_mem_sample_t *pm = &p->mem;
  if (m->t_ns > pm->t_ns)
    pm->t_ns = m->t_ns;
  if (m->working_set_set)
    pm->working_set += m->working_set, pm->working_set_set = true;
  if (m->usage_set)
    pm->usage += m->usage, pm->usage_set = true;
  if (m->rss_set)
    pm->rss += m->rss, pm->rss_set = true;
}

/* The pods of s: for each distinct uid, the index of its first container
 * and the sum. Containers of one pod need not be adjacent. */
typedef struct {
  size_t first;
  agent_usage_t sum;
  int64_t start_ns;
} pod_t;

static size_t pods_of(const agent_stats_t *s, pod_t **ret) {
  pod_t *p = xcalloc(s->n ? s->n : 1, sizeof(*p));
  size_t np = 0;
  for (size_t i = 0; i < s->n; i++) {
    size_t j = 0;
    while (j < np && strcmp(s->c[p[j].first].uid, s->c[i].uid))
      j++;
    if (j == np) {
      p[np].first = i;
      p[np].start_ns = s->c[i].start_ns;
      np++;
    }
    sum_into(&p[j].sum, &s->c[i].u);
    if (s->c[i].start_ns < p[j].start_ns)
      p[j].start_ns = s->c[i].start_ns;
  }
  *ret = p;
  return np;
}

cJSON *agent_stats_summary(const agent_stats_t *s) {
  cJSON *root = cJSON_CreateObject();
  cJSON *node = cJSON_AddObjectToObject(root, "node");
  cJSON_AddStringToObject(node, "nodeName", s->node_name);
  add_time(node, "startTime", s->node_start_ns);
  add_usage(node, &s->node);
  cJSON *pods = cJSON_AddArrayToObject(root, "pods");
  pod_t *p;
  size_t np = pods_of(s, &p);
  for (size_t j = 0; j < np; j++) {
    const agent_stats_container_t *f = &s->c[p[j].first];
    cJSON *po = cJSON_CreateObject();
    cJSON *ref = cJSON_AddObjectToObject(po, "podRef");
    cJSON_AddStringToObject(ref, "name", f->pod);
    cJSON_AddStringToObject(ref, "namespace", f->ns);
    cJSON_AddStringToObject(ref, "uid", f->uid);
    add_time(po, "startTime", p[j].start_ns);
    cJSON *cs = cJSON_AddArrayToObject(po, "containers");
    for (size_t i = p[j].first; i < s->n; i++) {
      if (strcmp(s->c[i].uid, f->uid))
        continue;
      cJSON *co = cJSON_CreateObject();
      cJSON_AddStringToObject(co, "name", s->c[i].name);
      add_time(co, "startTime", s->c[i].start_ns);
      add_usage(co, &s->c[i].u);
      cJSON_AddItemToArray(cs, co);
    }
    add_usage(po, &p[j].sum);
    cJSON_AddItemToArray(pods, po);
  }
  free(p);
  return root;
}

/* A label value with \, " and newline escaped. */
static int put_label(buf_t *b, const char *name, const char *v, bool comma) {
  int r = buf_printf(b, "%s%s=\"", comma ? "," : "", name);
  for (; r == 0 && *v; v++) {
    if (*v == '\\' || *v == '"')
      r = buf_printf(b, "\\%c", *v);
    else if (*v == '\n')
      r = buf_append_str(b, "\\n");
    else
      r = buf_append(b, v, 1);
  }
  return r ? r : buf_append_str(b, "\"");
}

static int header(buf_t *b, const char *name, const char *help, const char *type) {
  return buf_printf(b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample line: name{labels} value timestamp_ms. */
static int sample(buf_t *b, const char *name, const agent_stats_container_t *c, bool with_c,
                  double value, int64_t t_ns) {
  int r = buf_append_str(b, name);
  if (r == 0 && c) {
    r = buf_append_str(b, "{");
    if (r == 0 && with_c)
      r = put_label(b, "container", c->name, false);
    if (r == 0)
      r = put_label(b, "namespace", c->ns, with_c);
    if (r == 0)
      r = put_label(b, "pod", c->pod, true);
    if (r == 0)
      r = buf_append_str(b, "}");
  }
  if (r == 0)
    r = buf_printf(b, " %.9g %" PRId64 "\n", value, t_ns / 1000000);
  return r;
}

int agent_stats_prometheus(const agent_stats_t *s, buf_t *out) {
  int r = 0;
  pod_t *p;
  size_t np = pods_of(s, &p);
#define TRY(x)                                                                                    \
  do {                                                                                            \
    if (r == 0)                                                                                   \
      r = (x);                                                                                    \
  } while (0)
  TRY(header(out, "container_cpu_usage_seconds_total",
             "Cumulative cpu time consumed by the container in core-seconds", "counter"));
  for (size_t i = 0; i < s->n; i++)
    if (s->c[i].u.cpu.set)
      TRY(sample(out, "container_cpu_usage_seconds_total", &s->c[i], true,
                 (double)s->c[i].u.cpu.usage_core_ns / 1e9, s->c[i].u.cpu.t_ns));
  TRY(header(out, "container_memory_working_set_bytes",
             "Current working set of the container in bytes", "gauge"));
  for (size_t i = 0; i < s->n; i++)
    if (s->c[i].u.mem.working_set_set)
      TRY(sample(out, "container_memory_working_set_bytes", &s->c[i], true,
                 (double)s->c[i].u.mem.working_set, s->c[i].u.mem.t_ns));
  if (s->node.cpu.set) {
    TRY(header(out, "node_cpu_usage_seconds_total",
               "Cumulative cpu time consumed by the node in core-seconds", "counter"));
    TRY(sample(out, "node_cpu_usage_seconds_total", NULL, false,
               (double)s->node.cpu.usage_core_ns / 1e9, s->node.cpu.t_ns));
  }
  if (s->node.mem.working_set_set) {
    TRY(header(out, "node_memory_working_set_bytes", "Current working set of the node in bytes",
               "gauge"));
    TRY(sample(out, "node_memory_working_set_bytes", NULL, false,
               (double)s->node.mem.working_set, s->node.mem.t_ns));
  }
  TRY(header(out, "pod_cpu_usage_seconds_total",
             "Cumulative cpu time consumed by the pod in core-seconds", "counter"));
  for (size_t j = 0; j < np; j++)
    if (p[j].sum.cpu.set)
      TRY(sample(out, "pod_cpu_usage_seconds_total", &s->c[p[j].first], false,
                 (double)p[j].sum.cpu.usage_core_ns / 1e9, p[j].sum.cpu.t_ns));
  TRY(header(out, "pod_memory_working_set_bytes", "Current working set of the pod in bytes",
             "gauge"));
  for (size_t j = 0; j < np; j++)
    if (p[j].sum.mem.working_set_set)
      TRY(sample(out, "pod_memory_working_set_bytes", &s->c[p[j].first], false,
                 (double)p[j].sum.mem.working_set, p[j].sum.mem.t_ns));
  TRY(header(out, "scrape_error",
             "1 if there was an error while getting container metrics, 0 otherwise", "gauge"));
  TRY(buf_printf(out, "scrape_error %d\n", s->scrape_error ? 1 : 0));
#undef TRY
  free(p);
  return r < 0 ? -ENOBUFS : 0;
}
