/* api/rbac: rule matching as upstream's RBAC authorizer does it, subjects,
 * and the escalation coverage check with upstream's compact rule text. */
#include "api/rbac.h"

#include "test.h"

static rbac_rules_t rules_of(const char *json) {
  rbac_rules_t r = {0};
  cJSON *a = cJSON_Parse(json);
  rbac_rules_add_json(&r, a);
  cJSON_Delete(a);
  return r;
}

static bool allows(const char *json, rbac_attrs_t at) {
  rbac_rules_t r = rules_of(json);
  bool ok = rbac_rules_allow(&r, &at);
  rbac_rules_done(&r);
  return ok;
}

#define RES(v, g, res, sub, nm) \
  ((rbac_attrs_t){.is_resource = true, .verb = v, .group = g, .resource = res, .subresource = sub, .name = nm, .ns = "dev"})
#define URL(v, p) ((rbac_attrs_t){.is_resource = false, .verb = v, .path = p})

static void test_verbs_groups_resources(void) {
  const char *r = "[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\",\"list\"]}]";
  ASSERT_TRUE(allows(r, RES("get", "", "pods", "", "")));
  ASSERT_TRUE(allows(r, RES("list", "", "pods", "", "")));
  ASSERT_FALSE(allows(r, RES("delete", "", "pods", "", "")));
  ASSERT_FALSE(allows(r, RES("get", "apps", "pods", "", "")));
  ASSERT_FALSE(allows(r, RES("get", "", "services", "", "")));
  ASSERT_FALSE(allows(r, RES("get", "", "pods", "log", ""))); /* a subresource is its own */
  ASSERT_TRUE(allows("[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}]",
                     RES("escalate", "rbac.authorization.k8s.io", "roles", "", "x")));
}

static void test_subresources(void) {
  ASSERT_TRUE(allows("[{\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"],\"verbs\":[\"get\"]}]",
                     RES("get", "", "pods", "log", "p")));
  ASSERT_TRUE(allows("[{\"apiGroups\":[\"\"],\"resources\":[\"*/status\"],\"verbs\":[\"get\"]}]",
                     RES("get", "", "services", "status", "")));
  ASSERT_FALSE(allows("[{\"apiGroups\":[\"\"],\"resources\":[\"*/status\"],\"verbs\":[\"get\"]}]",
                      RES("get", "", "services", "", "")));
}

static void test_resource_names(void) {
  const char *r = "[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"a\"],"
                  "\"verbs\":[\"get\"]}]";
  ASSERT_TRUE(allows(r, RES("get", "", "configmaps", "", "a")));
  ASSERT_FALSE(allows(r, RES("get", "", "configmaps", "", "b")));
  ASSERT_FALSE(allows(r, RES("get", "", "configmaps", "", ""))); /* a list names nothing */
}

static void test_non_resource_urls(void) {
  const char *r = "[{\"nonResourceURLs\":[\"/healthz\",\"/apis/*\"],\"verbs\":[\"get\"]}]";
  ASSERT_TRUE(allows(r, URL("get", "/healthz")));
  ASSERT_TRUE(allows(r, URL("get", "/apis/apps/v1")));
  ASSERT_FALSE(allows(r, URL("get", "/metrics")));
  ASSERT_FALSE(allows(r, URL("post", "/healthz")));
  /* URL rules never grant resources and resource rules never grant URLs */
  ASSERT_FALSE(allows(r, RES("get", "", "healthz", "", "")));
  ASSERT_FALSE(allows("[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}]",
                      URL("get", "/metrics")));
}

static void test_subjects(void) {
  const char *groups[] = {"devs", "system:authenticated", NULL};
  rbac_user_t alice = {.name = "alice", .groups = groups};
  const char *sag[] = {NULL};
  rbac_user_t bot = {.name = "system:serviceaccount:dev:bot", .groups = sag};
  cJSON *u = cJSON_Parse("{\"kind\":\"User\",\"name\":\"alice\"}");
  cJSON *g = cJSON_Parse("{\"kind\":\"Group\",\"name\":\"devs\"}");
  cJSON *sa = cJSON_Parse("{\"kind\":\"ServiceAccount\",\"name\":\"bot\"}");
  cJSON *sa2 = cJSON_Parse("{\"kind\":\"ServiceAccount\",\"name\":\"bot\",\"namespace\":\"prod\"}");
  ASSERT_TRUE(rbac_subject_matches(u, &alice, "dev"));
  ASSERT_TRUE(rbac_subject_matches(g, &alice, "dev"));
  ASSERT_FALSE(rbac_subject_matches(u, &bot, "dev"));
  ASSERT_TRUE(rbac_subject_matches(sa, &bot, "dev"));  /* namespace from the binding */
  ASSERT_FALSE(rbac_subject_matches(sa, &bot, "prod"));
  ASSERT_FALSE(rbac_subject_matches(sa2, &bot, "dev"));
  cJSON_Delete(u);
  cJSON_Delete(g);
  cJSON_Delete(sa);
  cJSON_Delete(sa2);
}

static void test_escalation_coverage(void) {
  rbac_rules_t held = rules_of("[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"services\"],"
                               "\"verbs\":[\"get\",\"list\"]},"
                               "{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments/*\"],"
                               "\"verbs\":[\"*\"]}]");
  rbac_rules_t ok = rules_of("[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]},"
                             "{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments/scale\"],"
                             "\"verbs\":[\"update\"]}]");
  ASSERT_EQ_INT(rbac_rules_uncovered(&held, &ok, NULL), 0);
  rbac_rules_t more = rules_of("[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"secrets\"],"
                               "\"verbs\":[\"get\",\"delete\"]}]");
  buf_t b;
  buf_init(&b, 1 << 16);
  ASSERT_EQ_INT(rbac_rules_uncovered(&held, &more, &b), 2);
  ASSERT_EQ_STR(b.data, "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n"
                        "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}");
  buf_done(&b);
  rbac_rules_t all = rules_of("[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}]");
  buf_init(&b, 1 << 16);
  ASSERT_EQ_INT(rbac_rules_uncovered(&held, &all, &b), 1);
  ASSERT_EQ_STR(b.data, "{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}");
  ASSERT_EQ_INT(rbac_rules_uncovered(&all, &more, NULL), 0);
  buf_done(&b);
  rbac_rules_done(&held);
  rbac_rules_done(&ok);
  rbac_rules_done(&more);
  rbac_rules_done(&all);
}

TEST_LIST = {
    TEST(test_verbs_groups_resources),
    TEST(test_subresources),
    TEST(test_resource_names),
    TEST(test_non_resource_urls),
    TEST(test_subjects),
    TEST(test_escalation_coverage),
    {0},
};
TEST_MAIN()
