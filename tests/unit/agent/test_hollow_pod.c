/* pkg/agent/hollow_pod.c: the kubelet's status for pods on hollow nodes,
 * driven through time by feeding each computed status back as the pod's. */
#include <errno.h>
#include <string.h>

#include "agent/hollow_pod.h"
#include "json/util.h"
#include "test.h"

#define T0 1800000000 /* 2027-01-15T08:00:00Z */

static cJSON *pod_of(const char *json) {
  cJSON *p = cJSON_Parse(json);
  if (!p)
    TEST_FAIL("bad test JSON: %s", json);
  return p;
}

/* Compute the status at now and store it in the pod, as the API would. */
static double step(cJSON *pod, time_t now) {
  cJSON *st = NULL;
  double wake = -2;
  ASSERT_EQ_INT(agent_hollow_pod_status(pod, now, "10.244.0.1", "10.64.0.2", &st, &wake), 0);
  ASSERT_NOT_NULL(st);
  if (cJSON_GetObjectItem(pod, "status"))
    cJSON_ReplaceItemInObject(pod, "status", st);
  else
    cJSON_AddItemToObject(pod, "status", st);
  return wake;
}

static const char *str(const cJSON *pod, const char *path) {
  const cJSON *v = json_get_path(pod, path);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static const cJSON *cstatus(const cJSON *pod, int i) {
  return cJSON_GetArrayItem(json_get_path(pod, "status.containerStatuses"), i);
}

static const char *cond(const cJSON *pod, const char *type, const char *field) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    if (!strcmp(str(c, "type"), type))
      return str(c, field);
  }
  return "(none)";
}

static void test_exit_codes(void) {
  static const struct {
    const char *cmd;
    int code;
  } cases[] = {
      {"\"command\":[\"sh\",\"-c\",\"exit 1\"]", 1},
      {"\"command\":[\"/bin/sh\",\"-c\",\"exit\"]", 0},
      {"\"command\":[\"sh\"],\"args\":[\"-c\",\" exit  42 \"]", 42},
      {"\"args\":[\"/bin/bash\",\"-c\",\"exit 255\"]", 255},
      {"\"command\":[\"true\"]", 0},
      {"\"command\":[\"false\"]", 1},
      {"\"command\":[\"sh\",\"-c\",\"exit 256\"]", -1},
      {"\"command\":[\"sh\",\"-c\",\"exit 1; echo\"]", -1},
      {"\"command\":[\"sh\",\"-c\",\"exitx\"]", -1},
      {"\"command\":[\"sleep\",\"-c\",\"exit 1\"]", -1},
      {"\"command\":[\"exit\",\"1\"]", -1},
      {"\"image\":\"busybox\"", -1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char json[256];
    snprintf(json, sizeof(json), "{\"name\":\"c\",%s}", cases[i].cmd);
    cJSON *c = pod_of(json);
    int got = agent_hollow_container_exit(c);
    cJSON_Delete(c);
    if (got != cases[i].code)
      TEST_FAIL("%s: got %d, want %d", cases[i].cmd, got, cases[i].code);
  }
}

static void test_running(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\"},"
                      "\"spec\":{\"nodeName\":\"n\",\"initContainers\":[{\"name\":\"i\",\"image\":\"b\"}],"
                      "\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1.36\"},"
                      "{\"name\":\"b\",\"image\":\"nginx\"}]},"
                      "\"status\":{\"phase\":\"Pending\",\"qosClass\":\"BestEffort\"}}");
  ASSERT_EQ_INT(step(pod, T0) < 0, 1); /* never changes by itself */
  ASSERT_EQ_STR(str(pod, "status.phase"), "Running");
  ASSERT_EQ_STR(str(pod, "status.qosClass"), "BestEffort"); /* kept */
  ASSERT_EQ_STR(str(pod, "status.podIP"), "10.64.0.2");
  ASSERT_EQ_STR(str(pod, "status.hostIP"), "10.244.0.1");
  ASSERT_EQ_STR(str(pod, "status.startTime"), "2027-01-15T08:00:00Z");
  ASSERT_EQ_STR(cond(pod, "Ready", "status"), "True");
  ASSERT_EQ_STR(cond(pod, "ContainersReady", "status"), "True");
  ASSERT_EQ_STR(cond(pod, "PodReadyToStartContainers", "status"), "True");
  ASSERT_EQ_STR(cond(pod, "Initialized", "status"), "True");
  ASSERT_EQ_STR(cond(pod, "PodScheduled", "status"), "True");
  ASSERT_EQ_INT(cJSON_GetArraySize(json_get_path(pod, "status.containerStatuses")), 2);
  ASSERT_EQ_STR(str(cstatus(pod, 1), "name"), "b");
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(cstatus(pod, 0), "ready")));
  ASSERT_EQ_STR(str(cstatus(pod, 0), "state.running.startedAt"), "2027-01-15T08:00:00Z");
  ASSERT_TRUE(!strncmp(str(cstatus(pod, 0), "containerID"), "hollow://", 9));
  const cJSON *ics = cJSON_GetArrayItem(json_get_path(pod, "status.initContainerStatuses"), 0);
  ASSERT_EQ_STR(str(ics, "state.terminated.reason"), "Completed");

  /* The same pod later: nothing changes, so the agent writes nothing; the
   * IP it already has is kept even when another is offered. */
  cJSON *before = cJSON_Duplicate(cJSON_GetObjectItem(pod, "status"), 1);
  cJSON *st = NULL;
  double wake;
  ASSERT_EQ_INT(agent_hollow_pod_status(pod, T0 + 100, "10.244.0.1", "10.64.0.9", &st, &wake), 0);
  ASSERT_TRUE(json_equal(st, before));
  cJSON_Delete(st);
  cJSON_Delete(before);
  cJSON_Delete(pod);
}

static void test_exit_never(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},"
                      "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":["
                      "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"sh\",\"-c\",\"exit 2\"]},"
                      "{\"name\":\"b\",\"image\":\"x\",\"command\":[\"true\"]}]}}");
  ASSERT_EQ_INT(step(pod, T0) < 0, 1);
  ASSERT_EQ_STR(str(pod, "status.phase"), "Failed");
  ASSERT_EQ_INT(json_get_path(cstatus(pod, 0), "state.terminated.exitCode")->valueint, 2);
  ASSERT_EQ_STR(str(cstatus(pod, 0), "state.terminated.reason"), "Error");
  ASSERT_EQ_STR(str(cstatus(pod, 1), "state.terminated.reason"), "Completed");
  ASSERT_EQ_STR(cond(pod, "Ready", "status"), "False");
  ASSERT_EQ_STR(cond(pod, "Ready", "reason"), "PodFailed");
  ASSERT_EQ_STR(cond(pod, "PodReadyToStartContainers", "status"), "False");
  cJSON_Delete(pod);
}

static void test_run_seconds(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\","
                      "\"annotations\":{\"hollow.k3c.io/run-seconds\":\"5\"}},"
                      "\"spec\":{\"restartPolicy\":\"OnFailure\",\"containers\":["
                      "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"sh\",\"-c\",\"exit 0\"]},"
                      "{\"name\":\"b\",\"image\":\"x\"}]}}");
  double wake = step(pod, T0);
  ASSERT_EQ_INT((long long)wake, 5);
  ASSERT_EQ_STR(str(pod, "status.phase"), "Running");
  ASSERT_EQ_STR(cond(pod, "Ready", "status"), "True");
  wake = step(pod, T0 + 3);
  ASSERT_EQ_INT((long long)wake, 2);
  ASSERT_EQ_STR(str(pod, "status.phase"), "Running");
  wake = step(pod, T0 + 5);
  /* a exited 0 and stays so (OnFailure); b runs on: the pod is Running, not ready */
  ASSERT_EQ_INT(wake < 0, 1);
  ASSERT_EQ_STR(str(pod, "status.phase"), "Running");
  ASSERT_EQ_STR(str(cstatus(pod, 0), "state.terminated.finishedAt"), "2027-01-15T08:00:05Z");
  ASSERT_EQ_STR(cond(pod, "Ready", "status"), "False");
  ASSERT_EQ_STR(cond(pod, "Ready", "reason"), "ContainersNotReady");
  ASSERT_EQ_STR(cond(pod, "Ready", "message"), "containers with unready status: [a]");
  /* the Ready condition's transition time is when it changed, kept after */
  ASSERT_EQ_STR(cond(pod, "Ready", "lastTransitionTime"), "2027-01-15T08:00:05Z");
  ASSERT_EQ_STR(cond(pod, "PodScheduled", "lastTransitionTime"), "2027-01-15T08:00:00Z");
  cJSON_Delete(pod);
}

static void test_succeeded(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},"
                      "\"spec\":{\"restartPolicy\":\"OnFailure\",\"containers\":["
                      "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"sh\",\"-c\",\"exit 0\"]}]}}");
  step(pod, T0);
  ASSERT_EQ_STR(str(pod, "status.phase"), "Succeeded");
  ASSERT_EQ_STR(cond(pod, "Ready", "reason"), "PodCompleted");
  cJSON_Delete(pod);
}

static void test_crash_loop(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},"
                      "\"spec\":{\"containers\":["
                      "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"sh\",\"-c\",\"exit 3\"]}]}}");
  /* Always: exits, restarts at once (restartCount 1), exits again, then
   * waits 10 s in CrashLoopBackOff */
  double wake = step(pod, T0);
  ASSERT_EQ_INT((long long)wake, 10);
  const cJSON *cs = cstatus(pod, 0);
  ASSERT_EQ_STR(str(pod, "status.phase"), "Running");
  ASSERT_EQ_INT(cJSON_GetObjectItem(cs, "restartCount")->valueint, 1);
  ASSERT_EQ_STR(str(cs, "state.waiting.reason"), "CrashLoopBackOff");
  ASSERT_EQ_STR(str(cs, "state.waiting.message"),
                "back-off 10s restarting failed container=a pod=p_d(u)");
  ASSERT_EQ_INT(json_get_path(cs, "lastState.terminated.exitCode")->valueint, 3);
  /* after the back-off: restart 2 exits at once, next back-off 20 s */
  wake = step(pod, T0 + 10);
  cs = cstatus(pod, 0);
  ASSERT_EQ_INT(cJSON_GetObjectItem(cs, "restartCount")->valueint, 2);
  ASSERT_EQ_INT((long long)wake, 20);
  ASSERT_EQ_STR(str(cs, "state.waiting.message"),
                "back-off 20s restarting failed container=a pod=p_d(u)");
  /* before it is due nothing changes */
  wake = step(pod, T0 + 15);
  ASSERT_EQ_INT((long long)wake, 15);
  ASSERT_EQ_INT(cJSON_GetObjectItem(cstatus(pod, 0), "restartCount")->valueint, 2);
  /* the back-off is capped at 300 s */
  cJSON_ReplaceItemInObject((cJSON *)cstatus(pod, 0), "restartCount", cJSON_CreateNumber(9));
  wake = step(pod, T0 + 40);
  ASSERT_EQ_INT((long long)wake, 270); /* T0+10 + 300 */
  cJSON_Delete(pod);
}

static void test_no_containers(void) {
  cJSON *pod = pod_of("{\"metadata\":{\"name\":\"p\"},\"spec\":{}}");
  cJSON *st = NULL;
  double wake;
  ASSERT_EQ_INT(agent_hollow_pod_status(pod, T0, "a", "b", &st, &wake), -EINVAL);
  ASSERT_NULL(st);
  cJSON_Delete(pod);
}

TEST_LIST = {
    TEST(test_exit_codes), TEST(test_running),    TEST(test_exit_never),    TEST(test_run_seconds),
    TEST(test_succeeded),  TEST(test_crash_loop), TEST(test_no_containers), {0},
};
TEST_MAIN()
