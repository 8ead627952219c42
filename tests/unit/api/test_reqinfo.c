/* Tests for pkg/api/reqinfo.c (URL -> RequestInfo), object.c (names, ages,
 * times) and status.c (upstream error wording). */
#include <string.h>
#include <errno.h>

#include "api/object.h"
#include "api/reqinfo.h"
#include "api/status.h"
#include "test.h"

static void test_core_paths(void) {
  api_reqinfo_t ri;
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces/dev/pods/web", false, &ri), 0);
  ASSERT_TRUE(ri.is_resource);
  ASSERT_EQ_STR(ri.group, "");
  ASSERT_EQ_STR(ri.version, "v1");
  ASSERT_EQ_STR(ri.ns, "dev");
  ASSERT_EQ_STR(ri.resource, "pods");
  ASSERT_EQ_STR(ri.name, "web");
  ASSERT_EQ_STR(ri.verb, "get");
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces/dev/pods/web/log", false, &ri), 0);
  ASSERT_EQ_STR(ri.subresource, "log");
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/pods", true, &ri), 0);
  ASSERT_EQ_STR(ri.verb, "watch");
  ASSERT_EQ_STR(ri.ns, "");
  ASSERT_EQ_INT(api_reqinfo_parse("DELETE", "/api/v1/namespaces/dev/configmaps", false, &ri), 0);
  ASSERT_EQ_STR(ri.verb, "deletecollection");
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1", false, &ri), 0);
  ASSERT_FALSE(ri.is_resource);
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/version", false, &ri), 0);
  ASSERT_FALSE(ri.is_resource);
}

static void test_namespace_paths(void) {
  api_reqinfo_t ri;
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces", false, &ri), 0);
  ASSERT_EQ_STR(ri.resource, "namespaces");
  ASSERT_EQ_STR(ri.verb, "list");
  ASSERT_EQ_INT(api_reqinfo_parse("DELETE", "/api/v1/namespaces/dev", false, &ri), 0);
  ASSERT_EQ_STR(ri.resource, "namespaces");
  ASSERT_EQ_STR(ri.name, "dev");
  ASSERT_EQ_STR(ri.ns, "dev");
  ASSERT_EQ_INT(api_reqinfo_parse("PUT", "/api/v1/namespaces/dev/status", false, &ri), 0);
  ASSERT_EQ_STR(ri.resource, "namespaces");
  ASSERT_EQ_STR(ri.name, "dev");
  ASSERT_EQ_STR(ri.subresource, "status");
  ASSERT_EQ_INT(api_reqinfo_parse("PUT", "/api/v1/namespaces/dev/finalize", false, &ri), 0);
  ASSERT_EQ_STR(ri.subresource, "finalize");
}

static void test_group_paths(void) {
  api_reqinfo_t ri;
  ASSERT_EQ_INT(api_reqinfo_parse("PATCH", "/apis/apps/v1/namespaces/a/deployments/d/scale", false, &ri), 0);
  ASSERT_EQ_STR(ri.group, "apps");
  ASSERT_EQ_STR(ri.resource, "deployments");
  ASSERT_EQ_STR(ri.subresource, "scale");
  ASSERT_EQ_STR(ri.verb, "patch");
  ASSERT_EQ_INT(api_reqinfo_parse("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", false, &ri), 0);
  ASSERT_EQ_STR(ri.verb, "create");
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/apis/apps", false, &ri), 0);
  ASSERT_FALSE(ri.is_resource);
  /* too deep */
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces/a/pods/b/c/d", false, &ri), -EINVAL);
}

/* regression: …/proxy/<path> was taken as the object itself (the
 * subresource was copied only for exactly three parts) */
static void test_proxy_paths(void) {
  api_reqinfo_t ri;
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/nodes/n1/proxy/stats/summary", false, &ri), 0);
  ASSERT_EQ_STR(ri.resource, "nodes");
  ASSERT_EQ_STR(ri.name, "n1");
  ASSERT_EQ_STR(ri.subresource, "proxy");
  ASSERT_EQ_STR(ri.verb, "get");
  /* deeper than the part limit, and a watch=true meant for the proxied path */
  ASSERT_EQ_INT(api_reqinfo_parse("POST", "/api/v1/namespaces/d/services/https:s:443/proxy/a/b/c/d/e/f/g",
                                  false, &ri), 0);
  ASSERT_EQ_STR(ri.ns, "d");
  ASSERT_EQ_STR(ri.name, "https:s:443");
  ASSERT_EQ_STR(ri.subresource, "proxy");
  ASSERT_EQ_STR(ri.verb, "create");
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces/d/pods/p/proxy/x", true, &ri), 0);
  ASSERT_EQ_STR(ri.verb, "get");
  /* only proxy may have more parts */
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces/d/pods/p/log/x", false, &ri), -EINVAL);
  ASSERT_EQ_INT(api_reqinfo_parse("GET", "/api/v1/namespaces/d/pods/p/log/1/2/3/4/5/6", false, &ri),
                -EINVAL);
}

static void test_names(void) {
  ASSERT_NULL(obj_check_dns1123_subdomain("my-app.example.com"));
  ASSERT_NOT_NULL(obj_check_dns1123_subdomain("My_App"));
  ASSERT_NOT_NULL(obj_check_dns1123_subdomain("-x"));
  ASSERT_NOT_NULL(obj_check_dns1123_subdomain("a..b"));
  ASSERT_NOT_NULL(obj_check_dns1123_subdomain(""));
  /* regression: a part longer than 63 characters is a valid subdomain
   * (upstream's regex has no per-part limit); 253 in all is the limit */
  char longpart[200];
  memset(longpart, 'a', 100);
  memcpy(longpart + 100, ".example.com", 13);
  ASSERT_NULL(obj_check_dns1123_subdomain(longpart));
  char toolong[300];
  memset(toolong, 'a', 254);
  toolong[254] = '\0';
  ASSERT_EQ_STR(obj_check_dns1123_subdomain(toolong), "must be no more than 253 characters");
  ASSERT_NOT_NULL(obj_check_dns1123_label(longpart));
  ASSERT_NULL(obj_check_dns1123_label("dev-1"));
  ASSERT_NOT_NULL(obj_check_dns1123_label("dev.1"));
  ASSERT_CONTAINS(obj_check_dns1123_label("Dev"), "a lowercase RFC 1123 label must consist of");
  ASSERT_NOT_NULL(obj_check_path_segment(".."));
  ASSERT_NULL(obj_check_path_segment("ok"));
}

static void test_human_duration(void) {
  char b[32];
  struct {
    long long s;
    const char *want;
  } cases[] = {{0, "0s"},       {45, "45s"},    {119, "119s"},   {120, "2m"},   {150, "2m30s"},
               {600, "10m"},    {10799, "179m"}, {10800, "3h"},   {11000, "3h3m"}, {86400, "24h"},
               {172800, "2d"},  {180000, "2d2h"}, {864000, "10d"}, {-5, "<invalid>"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    obj_human_duration(cases[i].s, b, sizeof(b));
    ASSERT_EQ_STR(b, cases[i].want);
  }
}

static void test_times_and_uids(void) {
  char b[40];
  obj_time_format(0, b, sizeof(b));
  ASSERT_EQ_STR(b, "1970-01-01T00:00:00Z");
  ASSERT_EQ_INT(obj_time_parse("2024-01-02T03:04:05Z"), 1704164645);
  ASSERT_EQ_INT(obj_time_parse("2024-01-02T03:04:05.123456Z"), 1704164645);
  ASSERT_EQ_INT(obj_time_parse("2024-01-02T05:04:05+02:00"), 1704164645);
  ASSERT_EQ_INT(obj_time_parse("yesterday"), -1);
  char u1[40], u2[40];
  obj_uuid(u1, sizeof(u1));
  obj_uuid(u2, sizeof(u2));
  ASSERT_EQ_INT(strlen(u1), 36);
  ASSERT_EQ_INT(u1[14], '4');
  ASSERT_TRUE(strcmp(u1, u2) != 0);
  char name[32] = "web-";
  obj_random_suffix(name, sizeof(name));
  ASSERT_EQ_INT(strlen(name), 9);
}

static void test_status_wording(void) {
  api_status_t st;
  api_status_not_found(&st, "", "configmaps", "nope");
  ASSERT_EQ_INT(st.code, 404);
  ASSERT_EQ_STR(st.message, "configmaps \"nope\" not found");
  char *json = api_status_json(&st, NULL);
  ASSERT_CONTAINS(json, "\"reason\":\"NotFound\"");
  ASSERT_CONTAINS(json, "\"details\":{\"name\":\"nope\",\"kind\":\"configmaps\"}");
  free(json);
  api_status_done(&st);
  api_status_already_exists(&st, "apps", "deployments", "d");
  ASSERT_EQ_STR(st.message, "deployments.apps \"d\" already exists");
  api_status_done(&st);
  memset(&st, 0, sizeof(st));
  api_status_add_cause(&st, "FieldValueRequired", "spec.containers[0].image", "Required value");
  api_status_add_cause(&st, "FieldValueRequired", "spec.containers[1].image", "Required value");
  api_status_invalid(&st, "", "Pod", "p");
  ASSERT_EQ_INT(st.code, 422);
  ASSERT_EQ_STR(st.message, "Pod \"p\" is invalid: [spec.containers[0].image: Required value, "
                            "spec.containers[1].image: Required value]");
  json = api_status_json(&st, NULL);
  ASSERT_CONTAINS(json, "\"field\":\"spec.containers[1].image\"");
  free(json);
  api_status_done(&st);
}

/* Methods the API has no verb for (issue #19): the verb is empty, so the
 * dispatcher answers 405; the path is still classified. Non-resource paths
 * stay non-resource whatever the method. */
static void test_unknown_methods(void) {
  api_reqinfo_t ri;
  const char *const methods[] = {"OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get", ""};
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    ASSERT_EQ_INT(api_reqinfo_parse(methods[i], "/api/v1/namespaces/d/configmaps", false, &ri), 0);
    ASSERT_TRUE(ri.is_resource);
    ASSERT_EQ_STR(ri.verb, "");
    ASSERT_EQ_INT(api_reqinfo_parse(methods[i], "/version", false, &ri), 0);
    ASSERT_FALSE(ri.is_resource);
  }
  ASSERT_EQ_INT(api_reqinfo_parse("POST", "/api", false, &ri), 0);
  ASSERT_FALSE(ri.is_resource);
  ASSERT_EQ_INT(api_reqinfo_parse("DELETE", "/apis/apps/v1", false, &ri), 0);
  ASSERT_FALSE(ri.is_resource);
  ASSERT_EQ_INT(api_reqinfo_parse("PUT", "/openapi/v3", false, &ri), 0);
  ASSERT_FALSE(ri.is_resource);
  /* a watch=true on a write is not a watch */
  ASSERT_EQ_INT(api_reqinfo_parse("DELETE", "/api/v1/namespaces/d/configmaps", true, &ri), 0);
  ASSERT_EQ_STR(ri.verb, "deletecollection");
}

TEST_LIST = {TEST(test_unknown_methods), TEST(test_core_paths),     TEST(test_namespace_paths), TEST(test_group_paths), TEST(test_proxy_paths),
             TEST(test_names),          TEST(test_human_duration),  TEST(test_times_and_uids),
             TEST(test_status_wording), {0}};
TEST_MAIN()
