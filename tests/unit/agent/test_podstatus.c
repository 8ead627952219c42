/* pkg/agent/podstatus.c: the pod status the kubelet reports from the
 * runtime's containers, checked against upstream's rules (getPhase,
 * convertToAPIContainerStatuses, the status package's conditions) on
 * hand-made container lists. */
#include "agent/podstatus.h"
#include "test.h"

#include "json/util.h"
#include <string.h>

#define T0 1800000000 /* 2027-01-15T08:00:00Z */
#define NS(s) ((int64_t)(s)*1000000000LL)

static cJSON *pod_of(const char *json) {
  cJSON *p = cJSON_Parse(json);
  if (!p)
    TEST_FAIL("bad test JSON: %s", json);
  return p;
}

/* Instance `attempt` of container name: created at T0 + 10*attempt,
 * started a second later, exited (when it did) four seconds after that. */
static agent_rt_container_t ctr(const char *name, uint32_t attempt, cri_container_state_t state,
                                int32_t exit_code) {
  agent_rt_container_t c;
  memset(&c, 0, sizeof(c));
  snprintf(c.id, sizeof(c.id), "%s%u", name, attempt);
  snprintf(c.sandbox_id, sizeof(c.sandbox_id), "sb0");
  snprintf(c.name, sizeof(c.name), "%s", name);
  snprintf(c.image_ref, sizeof(c.image_ref), "sha256:%s", name);
  c.attempt = attempt;
  c.state = state;
  c.created_at = NS(T0 + 10 * (int64_t)attempt);
  if (state != CRI_CONTAINER_CREATED)
    c.started_at = c.created_at + NS(1);
  if (state == CRI_CONTAINER_EXITED) {
    c.finished_at = c.started_at + NS(4);
    c.exit_code = exit_code;
  }
  return c;
}

static agent_rt_container_t init_ctr(const char *name, uint32_t attempt,
                                     cri_container_state_t state, int32_t exit_code) {
  agent_rt_container_t c = ctr(name, attempt, state, exit_code);
  c.init = true;
  return c;
}

static agent_podstatus_in_t in_of(const agent_rt_container_t *cs, size_t n) {
  agent_podstatus_in_t in = {
      .containers = cs,
      .n = n,
      .sandbox_ready = true,
      .pod_ip = "10.42.0.7",
      .host_ip = "192.168.1.10",
      .waiting = NULL,
      .now = T0 + 100,
  };
  return in;
}

static const char *str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static long long num(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsNumber(v) ? (long long)v->valuedouble : -12345;
}

static bool flag(const cJSON *obj, const char *path) {
  return cJSON_IsTrue(json_get_path(obj, path));
}

static const cJSON *cond_of(const cJSON *st, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "conditions")) {
    if (!strcmp(str(c, "type"), type))
      return c;
  }
  return NULL;
}

static const char *cond(const cJSON *st, const char *type, const char *field) {
  const cJSON *c = cond_of(st, type);
  return c ? str(c, field) : "(no condition)";
}

static const cJSON *cstatus(const cJSON *st, int i) {
  return cJSON_GetArrayItem(cJSON_GetObjectItem(st, "containerStatuses"), i);
}

static const cJSON *istatus(const cJSON *st, int i) {
  return cJSON_GetArrayItem(cJSON_GetObjectItem(st, "initContainerStatuses"), i);
}

#define POD(spec)                                                                                  \
  "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":" spec "}"
#define TWO                                                                                        \
  "{\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"},{\"name\":\"b\",\"image\":\"nginx\"}]"

static void test_time(void) {
  char ts[40];
  agent_podstatus_time(NS(T0) + 999999999, ts, sizeof(ts));
  ASSERT_EQ_STR(ts, "2027-01-15T08:00:00Z");
  agent_podstatus_time(NS(0), ts, sizeof(ts));
  ASSERT_EQ_STR(ts, "1970-01-01T00:00:00Z");
}

static void test_latest(void) {
  agent_rt_container_t cs[] = {
      ctr("a", 1, CRI_CONTAINER_EXITED, 1), ctr("a", 2, CRI_CONTAINER_RUNNING, 0),
      ctr("a", 0, CRI_CONTAINER_EXITED, 1), init_ctr("a", 5, CRI_CONTAINER_EXITED, 0),
      ctr("b", 0, CRI_CONTAINER_EXITED, 0), ctr("b", 0, CRI_CONTAINER_RUNNING, 0),
  };
  cs[5].created_at = cs[4].created_at + 1; /* same attempt: the newer wins */
  agent_podstatus_in_t in = in_of(cs, sizeof(cs) / sizeof(cs[0]));
  ASSERT_TRUE(agent_podstatus_latest(&in, "a", false) == &cs[1]);
  ASSERT_TRUE(agent_podstatus_latest(&in, "a", true) == &cs[3]);
  ASSERT_TRUE(agent_podstatus_latest(&in, "b", false) == &cs[5]);
  ASSERT_NULL(agent_podstatus_latest(&in, "b", true));
  ASSERT_NULL(agent_podstatus_latest(&in, "c", false));
}

static void test_backoff(void) {
  static const struct {
    uint32_t attempt;
    int64_t want;
  } cases[] = {{0, 0},   {1, 10},  {2, 20},  {3, 40},    {4, 80},
               {5, 160}, {6, 300}, {7, 300}, {100, 300}, {1000000u, 300}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    agent_rt_container_t c = ctr("a", cases[i].attempt, CRI_CONTAINER_EXITED, 1);
    int64_t got = agent_podstatus_backoff(&c);
    if (got != cases[i].want)
      TEST_FAIL("attempt %u: got %lld, want %lld", cases[i].attempt, (long long)got,
                (long long)cases[i].want);
  }
  /* ten minutes of running forgive the past exits */
  agent_rt_container_t c = ctr("a", 5, CRI_CONTAINER_EXITED, 1);
  c.finished_at = c.started_at + NS(600);
  ASSERT_EQ_INT(agent_podstatus_backoff(&c), 0);
  c.finished_at = c.started_at + NS(599);
  ASSERT_EQ_INT(agent_podstatus_backoff(&c), 160);
  /* never started (the start failed): the back-off still counts */
  c.started_at = 0;
  c.finished_at = NS(T0 + 1000);
  ASSERT_EQ_INT(agent_podstatus_backoff(&c), 160);
}

static void test_pending_nothing_yet(void) {
  cJSON *pod = pod_of(POD(TWO "}"));
  agent_podstatus_in_t in = in_of(NULL, 0);
  in.sandbox_ready = false;
  in.pod_ip = "";
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(cond(st, "PodReadyToStartContainers", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "True");
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Ready", "reason"), "ContainersNotReady");
  ASSERT_EQ_STR(cond(st, "Ready", "message"), "containers with unready status: [a b]");
  ASSERT_EQ_STR(cond(st, "ContainersReady", "message"), "containers with unready status: [a b]");
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(st, "containerStatuses")), 2);
  ASSERT_NULL(cJSON_GetObjectItem(st, "initContainerStatuses"));
  const cJSON *a = cstatus(st, 0);
  ASSERT_EQ_STR(str(a, "name"), "a");
  ASSERT_EQ_STR(str(a, "state.waiting.reason"), "ContainerCreating");
  ASSERT_EQ_STR(str(a, "image"), "busybox");
  ASSERT_EQ_STR(str(a, "imageID"), "");
  ASSERT_NULL(cJSON_GetObjectItem(a, "containerID"));
  ASSERT_EQ_INT(num(a, "restartCount"), 0);
  ASSERT_FALSE(flag(a, "ready"));
  ASSERT_FALSE(flag(a, "started"));
  ASSERT_NULL(json_get_path(a, "lastState.terminated"));
  ASSERT_NULL(cJSON_GetObjectItem(st, "podIP"));
  ASSERT_EQ_STR(str(st, "hostIP"), "192.168.1.10");
  ASSERT_EQ_STR(str(st, "startTime"), "2027-01-15T08:01:40Z");
  ASSERT_EQ_STR(str(st, "qosClass"), "BestEffort");
  /* a created, not yet started container waits too */
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_CREATED, 0)};
  in = in_of(cs, 1);
  cJSON_Delete(st);
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_EQ_STR(str(cstatus(st, 0), "containerID"), "containerd://a0");
  ASSERT_NOT_NULL(json_get_path(cstatus(st, 0), "state.waiting"));
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

static void test_running(void) {
  cJSON *pod = pod_of(POD(TWO "}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_RUNNING, 0),
                               ctr("b", 0, CRI_CONTAINER_RUNNING, 0)};
  agent_podstatus_in_t in = in_of(cs, 2);
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(cond(st, "PodReadyToStartContainers", "status"), "True");
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "True");
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "True");
  ASSERT_EQ_STR(cond(st, "ContainersReady", "status"), "True");
  ASSERT_NULL(cJSON_GetObjectItem(cond_of(st, "Ready"), "reason"));
  ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(cond_of(st, "Ready"), "lastProbeTime")));
  ASSERT_EQ_STR(cond(st, "Ready", "lastTransitionTime"), "2027-01-15T08:01:40Z");
  const cJSON *a = cstatus(st, 0);
  ASSERT_EQ_STR(str(a, "state.running.startedAt"), "2027-01-15T08:00:01Z");
  ASSERT_EQ_STR(str(a, "containerID"), "containerd://a0");
  ASSERT_EQ_STR(str(a, "imageID"), "sha256:a");
  ASSERT_EQ_STR(str(a, "image"), "busybox");
  ASSERT_TRUE(flag(a, "ready"));
  ASSERT_TRUE(flag(a, "started"));
  ASSERT_EQ_INT(num(a, "restartCount"), 0);
  ASSERT_NULL(json_get_path(a, "lastState.terminated"));
  ASSERT_EQ_STR(str(cstatus(st, 1), "name"), "b");
  ASSERT_EQ_STR(str(st, "podIP"), "10.42.0.7");
  ASSERT_EQ_STR(str(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "podIPs"), 0), "ip"), "10.42.0.7");
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(st, "podIPs")), 1);
  ASSERT_EQ_STR(str(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "hostIPs"), 0), "ip"),
                "192.168.1.10");
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

/* A restarted container: state of the newest, lastState of the one before. */
static void test_restarted_running(void) {
  cJSON *pod = pod_of(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_EXITED, 1),
                               ctr("a", 2, CRI_CONTAINER_RUNNING, 0),
                               ctr("a", 1, CRI_CONTAINER_EXITED, 137)};
  snprintf(cs[2].reason, sizeof(cs[2].reason), "OOMKilled");
  agent_podstatus_in_t in = in_of(cs, 3);
  cJSON *st = agent_podstatus_build(pod, &in);
  const cJSON *a = cstatus(st, 0);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_EQ_INT(num(a, "restartCount"), 2);
  ASSERT_EQ_STR(str(a, "containerID"), "containerd://a2");
  ASSERT_EQ_STR(str(a, "state.running.startedAt"), "2027-01-15T08:00:21Z");
  ASSERT_EQ_INT(num(a, "lastState.terminated.exitCode"), 137);
  ASSERT_EQ_STR(str(a, "lastState.terminated.reason"), "OOMKilled");
  ASSERT_EQ_STR(str(a, "lastState.terminated.containerID"), "containerd://a1");
  ASSERT_EQ_STR(str(a, "lastState.terminated.startedAt"), "2027-01-15T08:00:11Z");
  ASSERT_EQ_STR(str(a, "lastState.terminated.finishedAt"), "2027-01-15T08:00:15Z");
  ASSERT_TRUE(flag(a, "ready"));
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

static void test_succeeded(void) {
  static const char *const policies[] = {"Never", "OnFailure"};
  for (size_t i = 0; i < 2; i++) {
    char json[512];
    snprintf(json, sizeof(json),
             POD("{\"restartPolicy\":\"%s\",\"containers\":["
                 "{\"name\":\"a\",\"image\":\"busybox\"},"
                 "{\"name\":\"b\",\"image\":\"nginx\"}]}"),
             policies[i]);
    cJSON *pod = pod_of(json);
    agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_EXITED, 0),
                                 ctr("b", 0, CRI_CONTAINER_EXITED, 0)};
    agent_podstatus_in_t in = in_of(cs, 2);
    in.sandbox_ready = false; /* the sync stopped it */
    cJSON *st = agent_podstatus_build(pod, &in);
    if (strcmp(str(st, "phase"), "Succeeded"))
      TEST_FAIL("%s: phase %s, want Succeeded", policies[i], str(st, "phase"));
    ASSERT_TRUE(agent_podstatus_terminal(pod, &in));
    const cJSON *a = cstatus(st, 0);
    ASSERT_EQ_INT(num(a, "state.terminated.exitCode"), 0);
    ASSERT_EQ_STR(str(a, "state.terminated.reason"), "Completed");
    ASSERT_EQ_STR(str(a, "state.terminated.startedAt"), "2027-01-15T08:00:01Z");
    ASSERT_EQ_STR(str(a, "state.terminated.finishedAt"), "2027-01-15T08:00:05Z");
    ASSERT_EQ_STR(str(a, "state.terminated.containerID"), "containerd://a0");
    ASSERT_FALSE(flag(a, "ready"));
    ASSERT_FALSE(flag(a, "started"));
    ASSERT_EQ_STR(cond(st, "PodReadyToStartContainers", "status"), "False");
    ASSERT_EQ_STR(cond(st, "Initialized", "status"), "True");
    ASSERT_EQ_STR(cond(st, "Initialized", "reason"), "PodCompleted");
    ASSERT_EQ_STR(cond(st, "Ready", "status"), "False");
    ASSERT_EQ_STR(cond(st, "Ready", "reason"), "PodCompleted");
    ASSERT_EQ_STR(cond(st, "ContainersReady", "status"), "False");
    ASSERT_EQ_STR(cond(st, "ContainersReady", "reason"), "PodCompleted");
    cJSON_Delete(st);
    cJSON_Delete(pod);
  }
}

static void test_failed_never(void) {
  cJSON *pod = pod_of(POD("{\"restartPolicy\":\"Never\",\"containers\":["
                          "{\"name\":\"a\",\"image\":\"busybox\"},"
                          "{\"name\":\"b\",\"image\":\"nginx\"}]}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_EXITED, 0),
                               ctr("b", 0, CRI_CONTAINER_EXITED, 2)};
  agent_podstatus_in_t in = in_of(cs, 2);
  in.sandbox_ready = false;
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Failed");
  ASSERT_TRUE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(str(cstatus(st, 1), "state.terminated.reason"), "Error");
  ASSERT_EQ_INT(num(cstatus(st, 1), "state.terminated.exitCode"), 2);
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "True");
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Ready", "reason"), "PodFailed");
  ASSERT_EQ_STR(cond(st, "ContainersReady", "reason"), "PodFailed");
  ASSERT_EQ_STR(cond(st, "PodReadyToStartContainers", "status"), "False");
  cJSON_Delete(st);

  /* one still running: Running, whatever the other did */
  cs[0] = ctr("a", 0, CRI_CONTAINER_RUNNING, 0);
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(cond(st, "Ready", "message"), "containers with unready status: [b]");
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

/* The runtime's reason wins; without one the exit code decides. */
static void test_terminated_reason(void) {
  cJSON *pod = pod_of(POD("{\"restartPolicy\":\"Never\",\"containers\":["
                          "{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"x\"},"
                          "{\"name\":\"c\",\"image\":\"x\"}]}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_EXITED, 137),
                               ctr("b", 0, CRI_CONTAINER_EXITED, 1),
                               ctr("c", 0, CRI_CONTAINER_EXITED, 0)};
  snprintf(cs[0].reason, sizeof(cs[0].reason), "OOMKilled");
  snprintf(cs[0].message, sizeof(cs[0].message), "out of memory");
  agent_podstatus_in_t in = in_of(cs, 3);
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.terminated.reason"), "OOMKilled");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.terminated.message"), "out of memory");
  ASSERT_EQ_STR(str(cstatus(st, 1), "state.terminated.reason"), "Error");
  ASSERT_NULL(json_get_path(cstatus(st, 1), "state.terminated.message"));
  ASSERT_EQ_STR(str(cstatus(st, 2), "state.terminated.reason"), "Completed");
  ASSERT_EQ_STR(str(st, "phase"), "Failed");
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

/* Always: an exited container is restarted, so the pod stays Running. */
static void test_always_waiting_restart(void) {
  cJSON *pod = pod_of(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_EXITED, 1),
                               ctr("a", 1, CRI_CONTAINER_EXITED, 1)};
  cJSON *waiting =
      pod_of("{\"a\":{\"reason\":\"CrashLoopBackOff\","
             "\"message\":\"back-off 10s restarting failed container=a pod=p_d(u)\"}}");
  agent_podstatus_in_t in = in_of(cs, 2);
  in.waiting = waiting;
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  const cJSON *a = cstatus(st, 0);
  ASSERT_EQ_STR(str(a, "state.waiting.reason"), "CrashLoopBackOff");
  ASSERT_EQ_STR(str(a, "state.waiting.message"),
                "back-off 10s restarting failed container=a pod=p_d(u)");
  ASSERT_NULL(json_get_path(a, "state.terminated"));
  /* lastState is the exited latest, not the one before it */
  ASSERT_EQ_STR(str(a, "lastState.terminated.containerID"), "containerd://a1");
  ASSERT_EQ_INT(num(a, "lastState.terminated.exitCode"), 1);
  ASSERT_EQ_INT(num(a, "restartCount"), 1);
  ASSERT_EQ_STR(str(a, "containerID"), "containerd://a1");
  ASSERT_FALSE(flag(a, "ready"));
  ASSERT_EQ_STR(cond(st, "Ready", "message"), "containers with unready status: [a]");
  cJSON_Delete(st);

  /* exited without a waiting reason yet (the restart comes at once) */
  in.waiting = NULL;
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.terminated.reason"), "Error");
  ASSERT_EQ_STR(str(cstatus(st, 0), "lastState.terminated.containerID"), "containerd://a0");
  cJSON_Delete(st);

  /* Always with exit 0 restarts too */
  cs[1].exit_code = 0;
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  cJSON_Delete(st);
  cJSON_Delete(waiting);
  cJSON_Delete(pod);
}

static void test_onfailure_restart(void) {
  cJSON *pod = pod_of(POD("{\"restartPolicy\":\"OnFailure\",\"containers\":["
                          "{\"name\":\"a\",\"image\":\"busybox\"}]}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_EXITED, 3)};
  cJSON *waiting = pod_of("{\"a\":{\"reason\":\"CrashLoopBackOff\"}}");
  agent_podstatus_in_t in = in_of(cs, 1);
  in.waiting = waiting;
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.waiting.reason"), "CrashLoopBackOff");
  ASSERT_NULL(json_get_path(cstatus(st, 0), "state.waiting.message"));
  ASSERT_EQ_INT(num(cstatus(st, 0), "lastState.terminated.exitCode"), 3);
  ASSERT_EQ_INT(num(cstatus(st, 0), "restartCount"), 0);
  cJSON_Delete(st);
  cJSON_Delete(waiting);
  cJSON_Delete(pod);
}

/* An image that cannot be pulled: waiting with the sync's reason. */
static void test_waiting_reason(void) {
  cJSON *pod = pod_of(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"nope\"}]}"));
  cJSON *waiting = pod_of("{\"a\":{\"reason\":\"ErrImagePull\",\"message\":\"no such image\"}}");
  agent_podstatus_in_t in = in_of(NULL, 0);
  in.waiting = waiting;
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.waiting.reason"), "ErrImagePull");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.waiting.message"), "no such image");
  ASSERT_NULL(json_get_path(cstatus(st, 0), "lastState.terminated"));
  cJSON_Delete(st);
  cJSON_Delete(waiting);
  cJSON_Delete(pod);
}

#define INIT2                                                                                      \
  "\"initContainers\":[{\"name\":\"i1\",\"image\":\"busybox\"},{\"name\":\"i2\",\"image\":"        \
  "\"busybox\"}],"                                                                                 \
  "\"containers\":[{\"name\":\"a\",\"image\":\"nginx\"}]"

static void test_init_pending(void) {
  cJSON *pod = pod_of(POD("{" INIT2 "}"));
  agent_rt_container_t cs[] = {init_ctr("i1", 0, CRI_CONTAINER_RUNNING, 0)};
  agent_podstatus_in_t in = in_of(cs, 1);
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Initialized", "reason"), "ContainersNotInitialized");
  ASSERT_EQ_STR(cond(st, "Initialized", "message"), "containers with incomplete status: [i1 i2]");
  ASSERT_EQ_STR(cond(st, "Ready", "message"), "containers with unready status: [a]");
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(st, "initContainerStatuses")), 2);
  ASSERT_EQ_STR(str(istatus(st, 0), "name"), "i1");
  ASSERT_EQ_STR(str(istatus(st, 0), "state.running.startedAt"), "2027-01-15T08:00:01Z");
  ASSERT_FALSE(flag(istatus(st, 0), "ready"));
  ASSERT_EQ_STR(str(istatus(st, 1), "state.waiting.reason"), "PodInitializing");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.waiting.reason"), "PodInitializing");
  cJSON_Delete(st);

  /* i1 done: only i2 is incomplete */
  cs[0] = init_ctr("i1", 0, CRI_CONTAINER_EXITED, 0);
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_EQ_STR(cond(st, "Initialized", "message"), "containers with incomplete status: [i2]");
  ASSERT_EQ_STR(str(istatus(st, 0), "state.terminated.reason"), "Completed");
  ASSERT_TRUE(flag(istatus(st, 0), "ready"));
  cJSON_Delete(st);

  /* an init container that failed waits to run again (the pod may
   * restart it): Pending, not Failed */
  cs[0] = init_ctr("i1", 0, CRI_CONTAINER_EXITED, 1);
  cJSON *waiting = pod_of("{\"i1\":{\"reason\":\"CrashLoopBackOff\"}}");
  in.waiting = waiting;
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_FALSE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(str(istatus(st, 0), "state.waiting.reason"), "CrashLoopBackOff");
  ASSERT_EQ_INT(num(istatus(st, 0), "lastState.terminated.exitCode"), 1);
  cJSON_Delete(st);
  cJSON_Delete(waiting);
  cJSON_Delete(pod);
}

static void test_init_done(void) {
  cJSON *pod = pod_of(POD("{" INIT2 "}"));
  agent_rt_container_t cs[] = {init_ctr("i1", 0, CRI_CONTAINER_EXITED, 0),
                               init_ctr("i2", 0, CRI_CONTAINER_EXITED, 0)};
  agent_podstatus_in_t in = in_of(cs, 2);
  cJSON *st = agent_podstatus_build(pod, &in);
  /* upstream's default waiting reason in a pod with init containers is
   * PodInitializing until the container exists */
  ASSERT_EQ_STR(str(st, "phase"), "Pending");
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "True");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.waiting.reason"), "PodInitializing");
  cJSON_Delete(st);

  agent_rt_container_t cs3[] = {cs[0], cs[1], ctr("a", 0, CRI_CONTAINER_RUNNING, 0)};
  in = in_of(cs3, 3);
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Running");
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "True");
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "True");
  ASSERT_EQ_STR(str(istatus(st, 1), "state.terminated.reason"), "Completed");
  ASSERT_EQ_STR(str(istatus(st, 1), "containerID"), "containerd://i20");
  ASSERT_TRUE(flag(istatus(st, 1), "ready"));
  ASSERT_FALSE(flag(istatus(st, 1), "started"));
  ASSERT_TRUE(flag(cstatus(st, 0), "ready"));
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

static void test_init_failed_never(void) {
  cJSON *pod = pod_of(POD("{\"restartPolicy\":\"Never\"," INIT2 "}"));
  agent_rt_container_t cs[] = {init_ctr("i1", 0, CRI_CONTAINER_EXITED, 1)};
  agent_podstatus_in_t in = in_of(cs, 1);
  in.sandbox_ready = false;
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "phase"), "Failed");
  ASSERT_TRUE(agent_podstatus_terminal(pod, &in));
  ASSERT_EQ_STR(str(istatus(st, 0), "state.terminated.reason"), "Error");
  ASSERT_EQ_STR(str(cstatus(st, 0), "state.waiting.reason"), "PodInitializing");
  /* upstream: the init containers never completed, so not Initialized */
  ASSERT_EQ_STR(cond(st, "Initialized", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Initialized", "reason"), "ContainersNotInitialized");
  ASSERT_EQ_STR(cond(st, "Initialized", "message"), "containers with incomplete status: [i1 i2]");
  ASSERT_EQ_STR(cond(st, "Ready", "reason"), "PodFailed");
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

/* Conditions keep their lastTransitionTime while their status stays;
 * PodScheduled and other conditions not the kubelet's are kept. */
static void test_conditions_kept(void) {
  cJSON *pod = pod_of(
      "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":" TWO "},"
      "\"status\":{\"phase\":\"Running\",\"startTime\":\"2027-01-01T00:00:00Z\","
      "\"conditions\":["
      "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"2026-12-31T00:00:"
      "00Z\"},"
      "{\"type\":\"DisruptionTarget\",\"status\":\"False\",\"lastTransitionTime\":\"2026-12-31T00:"
      "00:01Z\"},"
      "{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2027-01-01T00:00:05Z\"},"
      "{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"2027-01-01T00:00:"
      "05Z\"},"
      "{\"type\":\"Initialized\",\"status\":\"True\",\"lastTransitionTime\":\"2027-01-01T00:00:"
      "02Z\"},"
      "{\"type\":\"PodReadyToStartContainers\",\"status\":\"True\",\"lastTransitionTime\":\"2027-"
      "01-01T00:00:01Z\"}]}}");
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_RUNNING, 0),
                               ctr("b", 0, CRI_CONTAINER_RUNNING, 0)};
  agent_podstatus_in_t in = in_of(cs, 2);
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(st, "conditions")), 6);
  ASSERT_EQ_STR(cond(st, "PodScheduled", "lastTransitionTime"), "2026-12-31T00:00:00Z");
  ASSERT_EQ_STR(cond(st, "DisruptionTarget", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Ready", "lastTransitionTime"), "2027-01-01T00:00:05Z");
  ASSERT_EQ_STR(cond(st, "ContainersReady", "lastTransitionTime"), "2027-01-01T00:00:05Z");
  ASSERT_EQ_STR(cond(st, "Initialized", "lastTransitionTime"), "2027-01-01T00:00:02Z");
  ASSERT_EQ_STR(cond(st, "PodReadyToStartContainers", "lastTransitionTime"),
                "2027-01-01T00:00:01Z");
  ASSERT_EQ_STR(str(st, "startTime"), "2027-01-01T00:00:00Z");
  cJSON_Delete(st);

  /* b exits: Ready turns False now, the others stay */
  cs[1] = ctr("b", 0, CRI_CONTAINER_EXITED, 1);
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Ready", "lastTransitionTime"), "2027-01-15T08:01:40Z");
  ASSERT_EQ_STR(cond(st, "ContainersReady", "lastTransitionTime"), "2027-01-15T08:01:40Z");
  ASSERT_EQ_STR(cond(st, "Initialized", "lastTransitionTime"), "2027-01-01T00:00:02Z");
  ASSERT_EQ_STR(cond(st, "PodScheduled", "lastTransitionTime"), "2026-12-31T00:00:00Z");
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(st, "conditions")), 6);
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

static void test_host_network(void) {
  cJSON *pod =
      pod_of(POD("{\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}"));
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_RUNNING, 0)};
  agent_podstatus_in_t in = in_of(cs, 1);
  in.pod_ip = ""; /* a host-network sandbox has none */
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "podIP"), "192.168.1.10");
  ASSERT_EQ_STR(str(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "podIPs"), 0), "ip"),
                "192.168.1.10");
  ASSERT_EQ_STR(str(st, "hostIP"), "192.168.1.10");
  cJSON_Delete(st);
  cJSON_Delete(pod);

  /* a pod IP already reported stays when the sync has none (stopped sandbox) */
  pod = pod_of(
      "{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]},"
      "\"status\":{\"podIP\":\"10.42.0.9\",\"podIPs\":[{\"ip\":\"10.42.0.9\"}]}}");
  st = agent_podstatus_build(pod, &in);
  ASSERT_EQ_STR(str(st, "podIP"), "10.42.0.9");
  cJSON_Delete(st);
  cJSON_Delete(pod);
}

static void test_qos(void) {
  static const struct {
    const char *containers;
    const char *want;
  } cases[] = {
      {"[{\"name\":\"a\",\"image\":\"x\"}]", "BestEffort"},
      {"[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"100m\","
       "\"memory\":\"64Mi\"}}}]",
       "Guaranteed"},
      {"[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]",
       "Burstable"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char json[512];
    snprintf(json, sizeof(json),
             "{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"containers\":%s},"
             "\"status\":{\"qosClass\":\"Stale\"}}",
             cases[i].containers);
    cJSON *pod = pod_of(json);
    agent_podstatus_in_t in = in_of(NULL, 0);
    cJSON *st = agent_podstatus_build(pod, &in);
    if (strcmp(str(st, "qosClass"), cases[i].want))
      TEST_FAIL("%s: qosClass %s, want %s", cases[i].containers, str(st, "qosClass"),
                cases[i].want);
    cJSON_Delete(st);
    cJSON_Delete(pod);
  }
}

/* Upstream never moves a pod out of Succeeded or Failed: once the
 * containers are gone (removed, the node restarted) the phase stays. */
static void test_terminal_phase_kept(void) {
  static const char *const phases[] = {"Succeeded", "Failed"};
  for (size_t i = 0; i < 2; i++) {
    char json[512];
    snprintf(json, sizeof(json),
             "{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"restartPolicy\":\"Never\","
             "\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]},\"status\":{\"phase\":\"%s\"}}",
             phases[i]);
    cJSON *pod = pod_of(json);
    agent_podstatus_in_t in = in_of(NULL, 0);
    in.sandbox_ready = false;
    cJSON *st = agent_podstatus_build(pod, &in);
    if (strcmp(str(st, "phase"), phases[i]))
      TEST_FAIL("phase %s became %s", phases[i], str(st, "phase"));
    ASSERT_EQ_STR(cond(st, "Ready", "status"), "False");
    cJSON_Delete(st);
    cJSON_Delete(pod);
  }
}

/* Probes: a readinessProbe without a result is not ready; the prober's
 * results decide; a startupProbe not yet passed is neither started nor
 * ready. */
static void test_probes(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\"},"
                      "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"busybox\","
                      "\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]}}},"
                      "{\"name\":\"b\",\"image\":\"busybox\",\"startupProbe\":{\"exec\":"
                      "{\"command\":[\"true\"]}}}]}}");
  agent_rt_container_t cs[] = {ctr("a", 0, CRI_CONTAINER_RUNNING, 0),
                               ctr("b", 0, CRI_CONTAINER_RUNNING, 0)};
  agent_podstatus_in_t in = in_of(cs, 2);
  cJSON *st = agent_podstatus_build(pod, &in);
  ASSERT_FALSE(flag(cstatus(st, 0), "ready"));
  ASSERT_TRUE(flag(cstatus(st, 0), "started"));
  ASSERT_FALSE(flag(cstatus(st, 1), "started"));
  ASSERT_FALSE(flag(cstatus(st, 1), "ready"));
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "False");
  ASSERT_EQ_STR(cond(st, "Ready", "message"), "containers with unready status: [a b]");
  cJSON_Delete(st);
  cJSON *probes = cJSON_Parse("{\"a0\":{\"ready\":true,\"started\":true},"
                              "\"b0\":{\"ready\":true,\"started\":true}}");
  in.probes = probes;
  st = agent_podstatus_build(pod, &in);
  ASSERT_TRUE(flag(cstatus(st, 0), "ready"));
  ASSERT_TRUE(flag(cstatus(st, 1), "started"));
  ASSERT_EQ_STR(cond(st, "Ready", "status"), "True");
  cJSON_Delete(st);
  cJSON_Delete(probes);
  cJSON_Delete(pod);
}

TEST_LIST = {
    TEST(test_time),
    TEST(test_latest),
    TEST(test_backoff),
    TEST(test_pending_nothing_yet),
    TEST(test_running),
    TEST(test_restarted_running),
    TEST(test_succeeded),
    TEST(test_failed_never),
    TEST(test_terminated_reason),
    TEST(test_always_waiting_restart),
    TEST(test_onfailure_restart),
    TEST(test_waiting_reason),
    TEST(test_init_pending),
    TEST(test_init_done),
    TEST(test_init_failed_never),
    TEST(test_conditions_kept),
    TEST(test_host_network),
    TEST(test_qos),
    TEST(test_terminal_phase_kept),
    TEST(test_probes),
    {0},
};
TEST_MAIN()
