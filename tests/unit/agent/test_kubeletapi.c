/* Tests for pkg/agent/kubeletapi.c's choice of the log file from a pod's
 * status: running, restarted, waiting to restart (CrashLoopBackOff), never
 * started, terminated, and upstream's messages when there is no log. */
#include <string.h>

#include "agent/kubeletapi.h"
#include "test.h"

static long pick(const char *status, bool previous, char *msg) {
  char json[2048];
  snprintf(json, sizeof(json),
           "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
           "\"status\":%s}",
           status);
  cJSON *pod = cJSON_Parse(json);
  msg[0] = 0;
  long a = agent__kubeletapi_attempt(pod, "c", previous, msg, 512);
  cJSON_Delete(pod);
  return a;
}

#define CS(x) "{\"containerStatuses\":[{\"name\":\"c\"," x "}]}"

static void test_running(void) {
  char msg[512];
  ASSERT_EQ_INT(pick(CS("\"restartCount\":0,\"state\":{\"running\":{}}"), false, msg), 0);
  ASSERT_EQ_INT(pick(CS("\"restartCount\":0,\"state\":{\"running\":{}}"), true, msg), -1);
  ASSERT_EQ_STR(msg, "previous terminated container \"c\" in pod \"p\" not found");
  const char *restarted = CS("\"restartCount\":2,\"state\":{\"running\":{}},"
                             "\"lastState\":{\"terminated\":{\"containerID\":\"containerd://1\"}}");
  ASSERT_EQ_INT(pick(restarted, false, msg), 2);
  ASSERT_EQ_INT(pick(restarted, true, msg), 1);
}

static void test_waiting(void) {
  char msg[512];
  /* between restarts the last run is both the current log and the previous */
  const char *backoff = CS("\"restartCount\":3,\"state\":{\"waiting\":{\"reason\":"
                           "\"CrashLoopBackOff\"}},\"lastState\":{\"terminated\":"
                           "{\"containerID\":\"containerd://9\"}}");
  ASSERT_EQ_INT(pick(backoff, false, msg), 3);
  ASSERT_EQ_INT(pick(backoff, true, msg), 3);
  ASSERT_EQ_INT(pick(CS("\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}"), false, msg),
                -1);
  ASSERT_EQ_STR(msg, "container \"c\" in pod \"p\" is waiting to start: ContainerCreating");
  ASSERT_EQ_INT(pick(CS("\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}"), false, msg), -1);
  ASSERT_EQ_STR(msg, "container \"c\" in pod \"p\" is waiting to start: image can't be pulled");
  ASSERT_EQ_INT(pick(CS("\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}"), false, msg),
                -1);
  ASSERT_EQ_STR(msg, "container \"c\" in pod \"p\" is waiting to start: trying and failing to "
                     "pull image");
  /* no status yet: what the kubelet posts first */
  ASSERT_EQ_INT(pick("{}", false, msg), -1);
  ASSERT_EQ_STR(msg, "container \"c\" in pod \"p\" is waiting to start: ContainerCreating");
}

static void test_terminated(void) {
  char msg[512];
  const char *done = CS("\"restartCount\":1,\"state\":{\"terminated\":{\"containerID\":"
                        "\"containerd://2\"}},\"lastState\":{\"terminated\":{\"containerID\":"
                        "\"containerd://1\"}}");
  ASSERT_EQ_INT(pick(done, false, msg), 1);
  ASSERT_EQ_INT(pick(done, true, msg), 0);
  ASSERT_EQ_INT(pick(CS("\"state\":{\"terminated\":{\"exitCode\":1}}"), false, msg), -1);
  ASSERT_EQ_STR(msg, "container \"c\" in pod \"p\" is terminated");
}

TEST_LIST = {TEST(test_running), TEST(test_waiting), TEST(test_terminated), {0}};

TEST_MAIN()
