/* Tests for the Pod Security Standards evaluator of
 * pkg/api/admission_podsecurity.c: check order, upstream's wording and
 * plurals, the checks restricted overrides, and policy versions. */
#include <errno.h>

#include "api/admission.h"
#include "test.h"

/* Evaluate a pod given as JSON {"metadata":..,"spec":..}; returns the
 * detail ("" when allowed). Caller frees. */
static char *eval(const char *level, const char *version, const char *pod) {
  cJSON *p = cJSON_Parse(pod);
  char *detail = NULL;
  int r = api__podsecurity_evaluate(level, version, cJSON_GetObjectItem(p, "metadata"),
                                    cJSON_GetObjectItem(p, "spec"), &detail);
  cJSON_Delete(p);
  if (r == 0)
    return strdup("");
  if (r < 0)
    return strdup("<error>");
  return detail;
}

#define ASSERT_EVAL(level, version, pod, want)                                 \
  do {                                                                         \
    char *got_ = eval(level, version, pod);                                    \
    int ok_ = strcmp(got_, want) == 0;                                         \
    if (!ok_)                                                                  \
      printf("#   got  %s\n#   want %s\n", got_, want);                        \
    free(got_);                                                                \
    ASSERT_TRUE(ok_);                                                          \
  } while (0)

#define RESTRICTED_OK                                                          \
  "\"securityContext\":{\"runAsNonRoot\":true,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}"
#define CONTAINER_OK                                                           \
  "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]}}"

static void test_privileged_level(void) {
  ASSERT_EVAL("privileged", "latest",
              "{\"spec\":{\"hostPID\":true,\"containers\":[{\"name\":\"c\",\"securityContext\":{"
              "\"privileged\":true}}]}}",
              "");
  ASSERT_EVAL("strictest", "latest", "{\"spec\":{}}", "<error>");
  ASSERT_EVAL("baseline", "1.30", "{\"spec\":{}}", "<error>");
}

static void test_baseline(void) {
  ASSERT_EVAL("baseline", "latest",
              "{\"spec\":{\"hostNetwork\":true,\"hostIPC\":true,\"volumes\":[{\"name\":\"a\","
              "\"hostPath\":{\"path\":\"/\"}},{\"name\":\"b\",\"hostPath\":{\"path\":\"/x\"}}],"
              "\"initContainers\":[{\"name\":\"i\",\"securityContext\":{\"capabilities\":{\"add\":["
              "\"SYS_ADMIN\",\"CHOWN\"]}}}],"
              "\"containers\":[{\"name\":\"c\",\"ports\":[{\"hostPort\":80}],\"securityContext\":{"
              "\"privileged\":true,\"procMount\":\"Unmasked\"}},{\"name\":\"d\",\"securityContext\":"
              "{\"privileged\":true}}]}}",
              "non-default capabilities (container \"i\" must not include \"SYS_ADMIN\" in "
              "securityContext.capabilities.add), host namespaces (hostNetwork=true, hostIPC=true), "
              "hostPath volumes (volumes \"a\", \"b\"), hostPort (container \"c\" uses hostPort 80), "
              "privileged (containers \"c\", \"d\" must not set securityContext.privileged=true), "
              "procMount (container \"c\" must not set securityContext.procMount to \"Unmasked\")");
  ASSERT_EVAL("baseline", "latest",
              "{\"spec\":{\"securityContext\":{\"seLinuxOptions\":{\"type\":\"spc_t\",\"user\":\"u\"},"
              "\"sysctls\":[{\"name\":\"kernel.shm_rmid_forced\"},{\"name\":\"kernel.msgmax\"}],"
              "\"seccompProfile\":{\"type\":\"Unconfined\"}},\"containers\":[{\"name\":\"c\"}]}}",
              "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user "
              "may not be set), seccompProfile (pod must not set securityContext.seccompProfile.type "
              "to \"Unconfined\"), forbidden sysctls (kernel.msgmax)");
  ASSERT_EVAL("baseline", "latest",
              "{\"metadata\":{\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/c\":"
              "\"unconfined\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"securityContext\":{"
              "\"appArmorProfile\":{\"type\":\"Unconfined\"}}}]}}",
              "forbidden AppArmor profiles (container \"c\" and annotation must not set AppArmor "
              "profile type to \"Unconfined\", "
              "\"container.apparmor.security.beta.kubernetes.io/c=\"unconfined\"\")");
}

static void test_restricted(void) {
  ASSERT_EVAL("restricted", "latest",
              "{\"spec\":{" RESTRICTED_OK ",\"containers\":[{\"name\":\"c\"," CONTAINER_OK "}]}}", "");
  ASSERT_EVAL("restricted", "latest", "{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
              "allowPrivilegeEscalation != false (container \"c\" must set "
              "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
              "(container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot "
              "!= true (pod or container \"c\" must set securityContext.runAsNonRoot=true), "
              "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type "
              "to \"RuntimeDefault\" or \"Localhost\")");
  /* restricted replaces the baseline hostPath and capability checks */
  ASSERT_EVAL("restricted", "latest",
              "{\"spec\":{" RESTRICTED_OK ",\"volumes\":[{\"name\":\"h\",\"hostPath\":{}},{\"name\":"
              "\"n\",\"nfs\":{}},{\"name\":\"e\",\"emptyDir\":{}}],\"containers\":[{\"name\":\"c\","
              "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"runAsUser\":0,"
              "\"runAsNonRoot\":false,\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"NET_RAW\","
              "\"NET_BIND_SERVICE\"]}}}]}}",
              "unrestricted capabilities (container \"c\" must not include \"NET_RAW\" in "
              "securityContext.capabilities.add), restricted volume types (volumes \"h\", \"n\" use "
              "restricted volume types \"hostPath\", \"nfs\"), runAsNonRoot != true (container \"c\" "
              "must not set securityContext.runAsNonRoot=false), runAsUser=0 (container \"c\" must "
              "not set runAsUser=0)");
  /* Windows pods are exempt from the Linux-only checks from v1.25 */
  ASSERT_EVAL("restricted", "latest",
              "{\"spec\":{\"os\":{\"name\":\"windows\"},\"securityContext\":{\"runAsNonRoot\":true},"
              "\"containers\":[{\"name\":\"c\"}]}}",
              "");
}

static void test_versions(void) {
  const char *root = "{\"spec\":{" RESTRICTED_OK ",\"containers\":[{\"name\":\"c\","
                     "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"runAsUser\":0,"
                     "\"capabilities\":{\"drop\":[\"ALL\"]}}}]}}";
  ASSERT_EVAL("restricted", "v1.22", root, "");
  ASSERT_EVAL("restricted", "v1.23", root,
              "runAsUser=0 (container \"c\" must not set runAsUser=0)");
  /* capabilities and seccomp are restricted checks from 1.22 and 1.19 */
  ASSERT_EVAL("restricted", "v1.18",
              "{\"spec\":{\"securityContext\":{\"runAsNonRoot\":true},\"containers\":[{\"name\":\"c\","
              "\"securityContext\":{\"allowPrivilegeEscalation\":false}}]}}",
              "");
  /* before 1.19 baseline reads the seccomp annotations */
  ASSERT_EVAL("baseline", "v1.18",
              "{\"metadata\":{\"annotations\":{\"seccomp.security.alpha.kubernetes.io/pod\":"
              "\"unconfined\"}},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
              "seccompProfile (forbidden annotation "
              "seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")");
  const char *sysctl = "{\"spec\":{\"securityContext\":{\"sysctls\":[{\"name\":"
                       "\"net.ipv4.tcp_rmem\"}]},\"containers\":[{\"name\":\"c\"}]}}";
  ASSERT_EVAL("baseline", "v1.31", sysctl, "forbidden sysctls (net.ipv4.tcp_rmem)");
  ASSERT_EVAL("baseline", "v1.32", sysctl, "");
  ASSERT_EVAL("baseline", "v1.99", sysctl, "");
}

TEST_LIST = {TEST(test_privileged_level), TEST(test_baseline), TEST(test_restricted),
             TEST(test_versions), {0}};
TEST_MAIN()
