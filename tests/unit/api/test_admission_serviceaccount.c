/* Tests for the ServiceAccount admission plugin's mutation of a pod spec
 * (pkg/api/admission_serviceaccount.c): the default ServiceAccount, the
 * projected volume's upstream shape, automountServiceAccountToken false on
 * the pod or the ServiceAccount, a container that mounts the path itself. */
#include "api/admission.h"
#include "test.h"

/* Admit spec (JSON) with sa (JSON or NULL) and suffix "abcde"; returns the
 * new spec as compact JSON (caller frees). */
static char *admit(const char *spec, const char *sa) {
  cJSON *s = cJSON_Parse(spec);
  cJSON *a = sa ? cJSON_Parse(sa) : NULL;
  api__serviceaccount_admit_spec(s, a, "abcde");
  char *out = cJSON_PrintUnformatted(s);
  cJSON_Delete(s);
  cJSON_Delete(a);
  return out;
}

#define MOUNT                                                                  \
  "{\"name\":\"kube-api-access-abcde\",\"readOnly\":true,\"mountPath\":"       \
  "\"/var/run/secrets/kubernetes.io/serviceaccount\"}"
#define VOLUME                                                                 \
  "{\"name\":\"kube-api-access-abcde\",\"projected\":{\"sources\":["           \
  "{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}}," \
  "{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":"         \
  "\"ca.crt\",\"path\":\"ca.crt\"}]}},"                                        \
  "{\"downwardAPI\":{\"items\":[{\"fieldRef\":{\"apiVersion\":\"v1\","         \
  "\"fieldPath\":\"metadata.namespace\"},\"path\":\"namespace\"}]}}],"         \
  "\"defaultMode\":420}}"

static void test_default_and_volume(void) {
  char *got = admit("{\"initContainers\":[{\"name\":\"i\"}],\"containers\":[{\"name\":\"c\","
                    "\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":\"/d\"}]}],\"volumes\":["
                    "{\"name\":\"d\",\"emptyDir\":{}}]}",
                    NULL);
  ASSERT_EQ_STR(got, "{\"initContainers\":[{\"name\":\"i\",\"volumeMounts\":[" MOUNT "]}],"
                     "\"containers\":[{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"d\","
                     "\"mountPath\":\"/d\"}," MOUNT "]}],\"volumes\":[{\"name\":\"d\","
                     "\"emptyDir\":{}}," VOLUME "],\"serviceAccountName\":\"default\"}");
  free(got);
}

static void test_named_account(void) {
  char *got = admit("{\"serviceAccountName\":\"robot\",\"containers\":[{\"name\":\"c\"}]}",
                    "{\"metadata\":{\"name\":\"robot\"}}");
  ASSERT_EQ_STR(got, "{\"serviceAccountName\":\"robot\",\"containers\":[{\"name\":\"c\","
                     "\"volumeMounts\":[" MOUNT "]}],\"volumes\":[" VOLUME "]}");
  free(got);
  /* the deprecated field alone names it too */
  got = admit("{\"serviceAccount\":\"robot\",\"containers\":[]}", NULL);
  ASSERT_EQ_STR(got, "{\"serviceAccount\":\"robot\",\"containers\":[],"
                     "\"serviceAccountName\":\"robot\"}");
  free(got);
}

static void test_automount_false(void) {
  char *got = admit("{\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"c\"}]}",
                    NULL);
  ASSERT_EQ_STR(got, "{\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"c\"}],"
                     "\"serviceAccountName\":\"default\"}");
  free(got);
  got = admit("{\"containers\":[{\"name\":\"c\"}]}", "{\"automountServiceAccountToken\":false}");
  ASSERT_EQ_STR(got, "{\"containers\":[{\"name\":\"c\"}],\"serviceAccountName\":\"default\"}");
  free(got);
  /* the pod's true wins over the ServiceAccount's false */
  got = admit("{\"automountServiceAccountToken\":true,\"containers\":[{\"name\":\"c\"}]}",
              "{\"automountServiceAccountToken\":false}");
  ASSERT_EQ_STR(got, "{\"automountServiceAccountToken\":true,\"containers\":[{\"name\":\"c\","
                     "\"volumeMounts\":[" MOUNT "]}],\"serviceAccountName\":\"default\","
                     "\"volumes\":[" VOLUME "]}");
  free(got);
}

static void test_existing_mount_kept(void) {
  /* a container with its own mount at the path keeps it; no volume when no
   * container needs one */
  const char *own = "{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"mine\",\"mountPath\":"
                    "\"/var/run/secrets/kubernetes.io/serviceaccount\"}]}";
  char spec[512];
  snprintf(spec, sizeof(spec), "{\"containers\":[%s]}", own);
  char *got = admit(spec, NULL);
  char want[1024];
  snprintf(want, sizeof(want), "{\"containers\":[%s],\"serviceAccountName\":\"default\"}", own);
  ASSERT_EQ_STR(got, want);
  free(got);
  /* with a second container that needs it: only that one gets the mount */
  snprintf(spec, sizeof(spec), "{\"containers\":[%s,{\"name\":\"d\"}]}", own);
  got = admit(spec, NULL);
  snprintf(want, sizeof(want),
           "{\"containers\":[%s,{\"name\":\"d\",\"volumeMounts\":[" MOUNT "]}],"
           "\"serviceAccountName\":\"default\",\"volumes\":[" VOLUME "]}",
           own);
  ASSERT_EQ_STR(got, want);
  free(got);
  /* an existing kube-api-access-* volume is reused, not added twice */
  got = admit("{\"containers\":[{\"name\":\"c\"}],\"volumes\":[{\"name\":"
              "\"kube-api-access-zzzzz\",\"emptyDir\":{}}]}",
              NULL);
  ASSERT_EQ_STR(got, "{\"containers\":[{\"name\":\"c\",\"volumeMounts\":[{\"name\":"
                     "\"kube-api-access-zzzzz\",\"readOnly\":true,\"mountPath\":"
                     "\"/var/run/secrets/kubernetes.io/serviceaccount\"}]}],\"volumes\":[{"
                     "\"name\":\"kube-api-access-zzzzz\",\"emptyDir\":{}}],"
                     "\"serviceAccountName\":\"default\"}");
  free(got);
}

TEST_LIST = {TEST(test_default_and_volume), TEST(test_named_account), TEST(test_automount_false),
             TEST(test_existing_mount_kept), {0}};
TEST_MAIN()
