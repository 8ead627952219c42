/* pkg/agent/stats: CPU rates from cumulative samples (counter resets,
 * missing samples), /proc parsing, the Summary JSON and the
 * /metrics/resource text. */
#include "agent/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define S 1000000000LL

static agent_cpu_sample_t cs(int64_t t, uint64_t u) { return (agent_cpu_sample_t){true, t, u}; }

static void test_rate(void) {
  agent_cpu_sample_t a = cs(100 * S, 5 * S), b = cs(110 * S, 10 * S);
  uint64_t r = 0;
  ASSERT_EQ_INT(agent_stats_rate(&a, &b, &r), 0);
  ASSERT_EQ_INT(r, 500000000); /* 5 s of CPU over 10 s: half a core */
  b = cs(102 * S, 5 * S + 4 * S);
  ASSERT_EQ_INT(agent_stats_rate(&a, &b, &r), 0);
  ASSERT_EQ_INT(r, 2000000000); /* two cores busy */
  b = cs(110 * S, 5 * S);
  ASSERT_EQ_INT(agent_stats_rate(&a, &b, &r), 0);
  ASSERT_EQ_INT(r, 0);
}

static void test_rate_reset_and_missing(void) {
  uint64_t r = 77;
  agent_cpu_sample_t a = cs(100 * S, 50 * S), b = cs(110 * S, 1 * S);
  ASSERT_EQ_INT(agent_stats_rate(&a, &b, &r), -ERANGE);
  agent_cpu_sample_t none = {0};
  ASSERT_EQ_INT(agent_stats_rate(&none, &b, &r), -ENODATA);
  ASSERT_EQ_INT(agent_stats_rate(&a, &none, &r), -ENODATA);
  ASSERT_EQ_INT(agent_stats_rate(NULL, &b, &r), -ENODATA);
  b = cs(100 * S, 60 * S); /* the clock did not move */
  ASSERT_EQ_INT(agent_stats_rate(&a, &b, &r), -ENODATA);
  b = cs(90 * S, 60 * S);
  ASSERT_EQ_INT(agent_stats_rate(&a, &b, &r), -ENODATA);
  ASSERT_EQ_INT(r, 77); /* untouched on failure */
}

static void test_proc_stat(void) {
  const char *text = "cpu  100 20 30 4000 50 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\n";
  agent_cpu_sample_t c = {0};
  ASSERT_EQ_INT(agent_stats_parse_proc_stat(text, 100, 5 * S, &c), 0);
  ASSERT_TRUE(c.set);
  ASSERT_EQ_INT(c.t_ns, 5 * S);
  /* user+nice+system+irq+softirq+steal = 100+20+30+6+7+8 = 171 ticks */
  ASSERT_EQ_INT(c.usage_core_ns, 1710000000);
  ASSERT_EQ_INT(agent_stats_parse_proc_stat("intr 1\n", 100, 0, &c), -EBADMSG);
  ASSERT_EQ_INT(agent_stats_parse_proc_stat("cpu  1 2\n", 100, 0, &c), -EBADMSG);
  /* the "cpu " line need not be first */
  ASSERT_EQ_INT(agent_stats_parse_proc_stat("x 1\ncpu  1 0 0 9\n", 250, 0, &c), 0);
  ASSERT_EQ_INT(c.usage_core_ns, 4000000);
}

static void test_meminfo(void) {
  const char *text = "MemTotal:        1000 kB\nMemFree:          100 kB\n"
                     "MemAvailable:     400 kB\nBuffers: 1 kB\nAnonPages:        250 kB\n";
  agent_mem_sample_t m = {0};
  ASSERT_EQ_INT(agent_stats_parse_meminfo(text, 7, &m), 0);
  ASSERT_TRUE(m.working_set_set && m.usage_set && m.available_set && m.rss_set);
  ASSERT_EQ_INT(m.working_set, 600 * 1024);
  ASSERT_EQ_INT(m.usage, 900 * 1024);
  ASSERT_EQ_INT(m.available, 400 * 1024);
  ASSERT_EQ_INT(m.rss, 250 * 1024);
  ASSERT_EQ_INT(agent_stats_parse_meminfo("MemTotal: 5 kB\n", 0, &m), -EBADMSG);
}

static void test_read_node(void) {
  agent_usage_t u;
  ASSERT_EQ_INT(agent_stats_read_node(&u), 0);
  ASSERT_TRUE(u.cpu.set);
  ASSERT_TRUE(u.cpu.usage_core_ns > 0);
  ASSERT_TRUE(u.mem.working_set > 0);
}

static agent_stats_container_t *containers(int64_t t, uint64_t busy_cpu, uint64_t idle_cpu,
                                           size_t *n) {
  agent_stats_container_t *c = calloc(3, sizeof(*c));
  static const char *const names[] = {"burn", "idle", "side"};
  static const char *const pods[] = {"busy", "quiet", "busy"};
  static const char *const uids[] = {"u-1", "u-2", "u-1"};
  uint64_t cpu[] = {busy_cpu, idle_cpu, 1 * S};
  for (int i = 0; i < 3; i++) {
    snprintf(c[i].id, sizeof(c[i].id), "id-%d", i);
    snprintf(c[i].name, sizeof(c[i].name), "%s", names[i]);
    snprintf(c[i].pod, sizeof(c[i].pod), "%s", pods[i]);
    snprintf(c[i].ns, sizeof(c[i].ns), "default");
    snprintf(c[i].uid, sizeof(c[i].uid), "%s", uids[i]);
    c[i].u.cpu = cs(t, cpu[i]);
    c[i].u.mem.t_ns = t;
    c[i].u.mem.working_set_set = true;
    c[i].u.mem.working_set = (uint64_t)(i + 1) << 20;
  }
  *n = 3;
  return c;
}

static agent_usage_t node_at(int64_t t, uint64_t cpu) {
  agent_usage_t u = {0};
  u.cpu = cs(t, cpu);
  u.mem.t_ns = t;
  u.mem.working_set_set = true;
  u.mem.working_set = 512 << 20;
  return u;
}

static void test_update_and_summary(void) {
  agent_stats_t s;
  agent_stats_init(&s, "n1", 1 * S);
  size_t n;
  agent_stats_container_t *c;
  agent_usage_t node = node_at(100 * S, 1000 * S);
  c = containers(100 * S, 10 * S, 1 * S, &n);
  agent_stats_update(&s, &node, c, n, 100 * S);
  ASSERT_FALSE(s.c[0].u.rate_set); /* one sample: no rate yet */
  ASSERT_FALSE(s.node.rate_set);
  node = node_at(110 * S, 1015 * S);
  c = containers(110 * S, 19 * S, 1 * S + 1000000, &n);
  agent_stats_update(&s, &node, c, n, 110 * S);
  ASSERT_TRUE(s.c[0].u.rate_set);
  ASSERT_EQ_INT(s.c[0].u.nano_cores, 900000000);
  ASSERT_EQ_INT(s.c[1].u.nano_cores, 100000);
  ASSERT_EQ_INT(s.node.nano_cores, 1500000000);
  ASSERT_EQ_INT(s.c[0].start_ns, 100 * S); /* first seen, kept */

  cJSON *sum = agent_stats_summary(&s);
  char *text = cJSON_PrintUnformatted(sum);
  ASSERT_CONTAINS(text, "\"node\":{\"nodeName\":\"n1\",\"startTime\":\"1970-01-01T00:00:01Z\"");
  ASSERT_CONTAINS(text, "\"cpu\":{\"time\":\"1970-01-01T00:01:50Z\",\"usageNanoCores\":1500000000,"
                        "\"usageCoreNanoSeconds\":1015000000000}");
  ASSERT_CONTAINS(text, "\"workingSetBytes\":536870912");
  cJSON *pods = cJSON_GetObjectItem(sum, "pods");
  ASSERT_EQ_INT(cJSON_GetArraySize(pods), 2);
  cJSON *busy = cJSON_GetArrayItem(pods, 0);
  ASSERT_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(busy, "podRef"), "name")->valuestring,
                "busy");
  ASSERT_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(busy, "podRef"), "uid")->valuestring,
                "u-1");
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(busy, "containers")), 2);
  /* the pod sums its containers: burn 0.9 cores + side 0 */
  cJSON *pcpu = cJSON_GetObjectItem(busy, "cpu");
  ASSERT_EQ_INT(cJSON_GetObjectItem(pcpu, "usageNanoCores")->valuedouble, 900000000);
  ASSERT_EQ_INT(cJSON_GetObjectItem(pcpu, "usageCoreNanoSeconds")->valuedouble, 20 * S);
  ASSERT_EQ_INT(
      cJSON_GetObjectItem(cJSON_GetObjectItem(busy, "memory"), "workingSetBytes")->valuedouble,
      (1 << 20) + (3 << 20));
  free(text);
  cJSON_Delete(sum);

  /* a restarted container (counter down) loses its rate for one round */
  node = node_at(120 * S, 1020 * S);
  c = containers(120 * S, 2 * S, 1 * S + 2000000, &n);
  agent_stats_update(&s, &node, c, n, 120 * S);
  ASSERT_FALSE(s.c[0].u.rate_set);
  ASSERT_TRUE(s.c[1].u.rate_set);
  sum = agent_stats_summary(&s);
  text = cJSON_PrintUnformatted(sum);
  ASSERT_CONTAINS(text, "{\"name\":\"burn\",\"startTime\":\"1970-01-01T00:01:40Z\",\"cpu\":{"
                        "\"time\":\"1970-01-01T00:02:00Z\",\"usageCoreNanoSeconds\":2000000000}");
  free(text);
  cJSON_Delete(sum);
  agent_stats_done(&s);
}

static void test_prometheus(void) {
  agent_stats_t s;
  agent_stats_init(&s, "n1", 0);
  size_t n;
  agent_usage_t node = node_at(100 * S, 1000 * S + 500000000);
  agent_stats_container_t *c = containers(100 * S, 10 * S, 1 * S, &n);
  snprintf(c[1].pod, sizeof(c[1].pod), "we\"ird");
  agent_stats_update(&s, &node, c, n, 100 * S);
  buf_t b;
  buf_init(&b, 1 << 20);
  ASSERT_EQ_INT(agent_stats_prometheus(&s, &b), 0);
  ASSERT_CONTAINS(b.data, "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time "
                          "consumed by the container in core-seconds\n"
                          "# TYPE container_cpu_usage_seconds_total counter\n"
                          "container_cpu_usage_seconds_total{container=\"burn\",namespace="
                          "\"default\",pod=\"busy\"} 10 100000\n");
  ASSERT_CONTAINS(b.data, "pod=\"we\\\"ird\"} 1 100000\n");
  ASSERT_CONTAINS(b.data, "container_memory_working_set_bytes{container=\"idle\",namespace="
                          "\"default\",pod=\"we\\\"ird\"} 2097152 100000\n");
  ASSERT_CONTAINS(b.data, "# TYPE node_cpu_usage_seconds_total counter\n"
                          "node_cpu_usage_seconds_total 1000.5 100000\n");
  ASSERT_CONTAINS(b.data, "node_memory_working_set_bytes 536870912 100000\n");
  ASSERT_CONTAINS(b.data, "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"busy\"} 11 "
                          "100000\n");
  ASSERT_CONTAINS(b.data, "pod_memory_working_set_bytes{namespace=\"default\",pod=\"busy\"} "
                          "4194304 100000\n");
  ASSERT_CONTAINS(b.data, "# TYPE scrape_error gauge\nscrape_error 0\n");
  agent_stats_update_failed(&s, NULL, 110 * S);
  buf_reset(&b);
  ASSERT_EQ_INT(agent_stats_prometheus(&s, &b), 0);
  ASSERT_CONTAINS(b.data, "scrape_error 1\n");
  buf_done(&b);
  /* a limit too small for the text: -ENOBUFS, not a cut document */
  buf_init(&b, 64);
  ASSERT_EQ_INT(agent_stats_prometheus(&s, &b), -ENOBUFS);
  buf_done(&b);
  agent_stats_done(&s);
}

static void test_empty_summary(void) {
  agent_stats_t s;
  agent_stats_init(&s, "lonely", 0);
  agent_usage_t node = node_at(5 * S, 3 * S);
  agent_stats_update(&s, &node, calloc(1, sizeof(agent_stats_container_t)), 0, 5 * S);
  cJSON *sum = agent_stats_summary(&s);
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(sum, "pods")), 0);
  ASSERT_NOT_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "node"), "memory"));
  cJSON_Delete(sum);
  agent_stats_done(&s);
}

TEST_LIST = {
    TEST(test_rate),
    TEST(test_rate_reset_and_missing),
    TEST(test_proc_stat),
    TEST(test_meminfo),
    TEST(test_read_node),
    TEST(test_update_and_summary),
    TEST(test_prometheus),
    TEST(test_empty_summary),
    {0},
};

TEST_MAIN()
