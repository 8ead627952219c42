/* Tests for agent_pvc_resolve (pkg/agent/pvc.c): a claim's volume becomes a
 * hostPath volume on the bound PV's path (hostPath with its type, local),
 * readOnly forced on its mounts, and the FailedMount messages for a
 * missing claim, an unbound one, an unknown PV and an unsupported source. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/pvc.h"
#include "json/util.h"
#include "test.h"

static cJSON *J(const char *s) {
  cJSON *j = cJSON_Parse(s);
  if (!j)
    TEST_FAIL("bad JSON in test: %s", s);
  return j;
}

static cJSON *pod(bool ro) {
  char buf[1024];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"},\"spec\":{"
           "\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":\"/d\"},"
           "{\"name\":\"e\",\"mountPath\":\"/e\"}]}],"
           "\"initContainers\":[{\"name\":\"i\",\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":\"/d\","
           "\"readOnly\":false}]}],"
           "\"volumes\":[{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"%s}},"
           "{\"name\":\"e\",\"emptyDir\":{}}]}}",
           ro ? ",\"readOnly\":true" : "");
  return J(buf);
}

static const char *CLAIMS =
    "{\"data\":{\"metadata\":{\"name\":\"data\"},\"spec\":{\"volumeName\":\"pv1\"},"
    "\"status\":{\"phase\":\"Bound\"}}}";

static void test_wanted(void) {
  cJSON *p = pod(false);
  ASSERT_TRUE(agent_pvc_wanted(p));
  cJSON *q = J("{\"spec\":{\"volumes\":[{\"name\":\"e\",\"emptyDir\":{}}]}}");
  ASSERT_FALSE(agent_pvc_wanted(q));
  cJSON_Delete(p);
  cJSON_Delete(q);
}

static void test_hostpath(void) {
  cJSON *p = pod(false), *c = J(CLAIMS);
  cJSON *v = J("{\"pv1\":{\"spec\":{\"hostPath\":{\"path\":\"/s/pvc-1_ns_data\","
               "\"type\":\"DirectoryOrCreate\"}}}}");
  char err[512] = "";
  ASSERT_EQ_INT(agent_pvc_resolve(p, c, v, err, sizeof(err)), 0);
  const cJSON *vol = cJSON_GetArrayItem(json_get_path(p, "spec.volumes"), 0);
  ASSERT_NULL(cJSON_GetObjectItem(vol, "persistentVolumeClaim"));
  ASSERT_EQ_STR(json_get_path(vol, "hostPath.path")->valuestring, "/s/pvc-1_ns_data");
  ASSERT_EQ_STR(json_get_path(vol, "hostPath.type")->valuestring, "DirectoryOrCreate");
  /* not readOnly: mounts untouched */
  const cJSON *m = cJSON_GetArrayItem(
      json_get_path(cJSON_GetArrayItem(json_get_path(p, "spec.containers"), 0), "volumeMounts"), 0);
  ASSERT_NULL(cJSON_GetObjectItem(m, "readOnly"));
  cJSON_Delete(p);
  cJSON_Delete(c);
  cJSON_Delete(v);
}

static void test_local_readonly(void) {
  cJSON *p = pod(true), *c = J(CLAIMS);
  cJSON *v = J("{\"pv1\":{\"spec\":{\"local\":{\"path\":\"/mnt/disk\"}}}}");
  char err[512] = "";
  ASSERT_EQ_INT(agent_pvc_resolve(p, c, v, err, sizeof(err)), 0);
  const cJSON *vol = cJSON_GetArrayItem(json_get_path(p, "spec.volumes"), 0);
  ASSERT_EQ_STR(json_get_path(vol, "hostPath.path")->valuestring, "/mnt/disk");
  ASSERT_NULL(json_get_path(vol, "hostPath.type"));
  const cJSON *ma = cJSON_GetArrayItem(
      json_get_path(cJSON_GetArrayItem(json_get_path(p, "spec.containers"), 0), "volumeMounts"), 0);
  const cJSON *me = cJSON_GetArrayItem(
      json_get_path(cJSON_GetArrayItem(json_get_path(p, "spec.containers"), 0), "volumeMounts"), 1);
  const cJSON *mi = cJSON_GetArrayItem(
      json_get_path(cJSON_GetArrayItem(json_get_path(p, "spec.initContainers"), 0), "volumeMounts"),
      0);
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(ma, "readOnly")));
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(mi, "readOnly"))); /* readOnly: false overridden */
  ASSERT_NULL(cJSON_GetObjectItem(me, "readOnly"));               /* another volume's mount */
  cJSON_Delete(p);
  cJSON_Delete(c);
  cJSON_Delete(v);
}

static void test_errors(void) {
  char err[512];
  cJSON *p = pod(false);
  ASSERT_EQ_INT(agent_pvc_resolve(p, NULL, NULL, err, sizeof(err)), -ENOENT);
  ASSERT_EQ_STR(err, "Unable to attach or mount volumes: unmounted volumes=[d]: error processing "
                     "PVC ns/data: failed to fetch PVC from API server: persistentvolumeclaims "
                     "\"data\" not found");
  cJSON *pending = J("{\"data\":{\"spec\":{},\"status\":{\"phase\":\"Pending\"}}}");
  ASSERT_EQ_INT(agent_pvc_resolve(p, pending, NULL, err, sizeof(err)), -EAGAIN);
  ASSERT_EQ_STR(err, "Unable to attach or mount volumes: unmounted volumes=[d]: error processing "
                     "PVC ns/data: PVC ns/data has non-bound phase (\"Pending\") or empty "
                     "pvc.Spec.VolumeName (\"\")");
  cJSON *c = J(CLAIMS);
  ASSERT_EQ_INT(agent_pvc_resolve(p, c, NULL, err, sizeof(err)), -EAGAIN);
  ASSERT_CONTAINS(err, "persistentvolumes \"pv1\" not found");
  cJSON *nfs = J("{\"pv1\":{\"spec\":{\"nfs\":{\"server\":\"x\",\"path\":\"/e\"}}}}");
  ASSERT_EQ_INT(agent_pvc_resolve(p, c, nfs, err, sizeof(err)), -ENOTSUP);
  ASSERT_CONTAINS(err, "only hostPath and local persistent volumes are supported");
  cJSON_Delete(nfs);
  cJSON_Delete(c);
  cJSON_Delete(pending);
  cJSON_Delete(p);
}

TEST_LIST = {TEST(test_wanted), TEST(test_hostpath), TEST(test_local_readonly), TEST(test_errors),
             {0}};
TEST_MAIN()
