/* Tests for pkg/api/auditpolicy.c: rule matching as upstream's policy
 * checker (first match wins; users, groups, verbs, resources with group,
 * subresource forms and names, namespaces, non-resource URLs with a
 * trailing *), omitStages merged from policy and rule, omitManagedFields
 * from the rule over the policy, and parse errors naming the field. */
#include <errno.h>

#include <cjson/cJSON.h>

#include "api/auditpolicy.h"
#include "test.h"

static audit_policy_t *load(const char *json) {
  cJSON *doc = cJSON_Parse(json);
  char err[256] = "";
  audit_policy_t *p = NULL;
  int r = audit_policy_parse(doc, &p, err, sizeof(err));
  cJSON_Delete(doc);
  if (r < 0)
    TEST_FAIL("parse: %s", err);
  return p;
}

static const char *const NOGROUPS[] = {"system:authenticated", NULL};
static const char *const OPS[] = {"ops", "system:authenticated", NULL};

static audit_attrs_t res(const char *verb, const char *group, const char *resource,
                         const char *sub, const char *ns, const char *name) {
  return (audit_attrs_t){.user = "alice", .groups = NOGROUPS, .verb = verb, .is_resource = true,
                         .group = group, .resource = resource, .subresource = sub,
                         .name = name, .ns = ns, .path = "/x"};
}

static const char POLICY[] =
    "{\"apiVersion\":\"audit.k8s.io/v1\",\"kind\":\"Policy\",\"omitStages\":[\"RequestReceived\"],"
    "\"omitManagedFields\":true,\"rules\":["
    "{\"level\":\"None\",\"users\":[\"system:kube-proxy\"]},"
    "{\"level\":\"None\",\"nonResourceURLs\":[\"/healthz*\",\"/version\"]},"
    "{\"level\":\"RequestResponse\",\"userGroups\":[\"ops\"],\"verbs\":[\"delete\"],"
    "\"omitManagedFields\":false,\"omitStages\":[\"ResponseStarted\"]},"
    "{\"level\":\"Request\",\"resources\":[{\"group\":\"\",\"resources\":[\"pods/log\",\"*/scale\"]}]},"
    "{\"level\":\"Metadata\",\"resources\":[{\"group\":\"apps\",\"resources\":[\"deployments\"],"
    "\"resourceNames\":[\"web\"]}]},"
    "{\"level\":\"None\",\"namespaces\":[\"kube-system\"]},"
    "{\"level\":\"Request\",\"resources\":[{\"group\":\"\",\"resources\":[\"*\"]}]},"
    "{\"level\":\"Metadata\"}]}";

static void test_first_match(void) {
  audit_policy_t *p = load(POLICY);
  audit_attrs_t a = res("get", "", "pods", "", "default", "p");
  audit_decision_t d = audit_policy_decide(p, &a);
  ASSERT_EQ_INT(d.level, AUDIT_REQUEST); /* group "" resources "*" */
  ASSERT_EQ_INT(d.omit_stages, AUDIT_STAGE_RECEIVED);
  ASSERT_TRUE(d.omit_managed_fields);
  a.user = "system:kube-proxy";
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_NONE);
  /* groups and verbs together; the rule's omitManagedFields wins */
  a = res("delete", "apps", "deployments", "", "default", "x");
  a.groups = OPS;
  d = audit_policy_decide(p, &a);
  ASSERT_EQ_INT(d.level, AUDIT_REQUEST_RESPONSE);
  ASSERT_EQ_INT(d.omit_stages, AUDIT_STAGE_RECEIVED | AUDIT_STAGE_STARTED);
  ASSERT_FALSE(d.omit_managed_fields);
  a.verb = "get"; /* no longer the ops rule; deployments "x" is not "web" */
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_METADATA);
  a.name = "web";
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_METADATA);
  a.ns = "kube-system";
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_METADATA); /* named rule first */
  a.name = "other";
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_NONE); /* namespaces rule */
  audit_policy_free(p);
}

static void test_subresources(void) {
  audit_policy_t *p = load(POLICY);
  audit_attrs_t a = res("get", "", "pods", "log", "default", "p");
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_REQUEST); /* pods/log */
  a = res("update", "apps", "deployments", "scale", "default", "d");
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_METADATA); /* the catch-all */
  a = res("update", "", "replicationcontrollers", "scale", "default", "d");
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_REQUEST); /* the rule for any scale subresource */
  a = res("get", "", "pods", "status", "default", "p");
  /* "*" is every resource but not subresources: falls to the catch-all */
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_METADATA);
  audit_policy_free(p);
}

static void test_nonresource(void) {
  audit_policy_t *p = load(POLICY);
  audit_attrs_t a = {.user = "bob", .groups = NOGROUPS, .verb = "get", .path = "/healthz/etcd"};
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_NONE);
  a.path = "/version";
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_NONE);
  a.path = "/metrics"; /* resource rules never match a path */
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_METADATA);
  audit_policy_free(p);
  audit_policy_t *all = audit_policy_all(AUDIT_METADATA);
  ASSERT_EQ_INT(audit_policy_decide(all, &a).level, AUDIT_METADATA);
  audit_policy_free(all);
  /* no rule matches: None */
  p = load("{\"apiVersion\":\"audit.k8s.io/v1\",\"kind\":\"Policy\",\"rules\":[{\"level\":"
           "\"Request\",\"verbs\":[\"create\"]}]}");
  ASSERT_EQ_INT(audit_policy_decide(p, &a).level, AUDIT_NONE);
  audit_policy_free(p);
}

static void test_errors(void) {
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{\"kind\":\"Policy\",\"apiVersion\":\"audit.k8s.io/v1beta1\",\"rules\":[]}",
       "apiVersion audit.k8s.io/v1"},
      {"{\"kind\":\"Policy\",\"apiVersion\":\"audit.k8s.io/v1\",\"rules\":[]}", "at least one rule"},
      {"{\"kind\":\"Policy\",\"apiVersion\":\"audit.k8s.io/v1\",\"rules\":[{\"level\":\"All\"}]}",
       "rules[0].level"},
      {"{\"kind\":\"Policy\",\"apiVersion\":\"audit.k8s.io/v1\",\"rules\":[{\"level\":\"None\","
       "\"omitStages\":[\"Later\"]}]}", "unknown stage \"Later\""},
      {"{\"kind\":\"Policy\",\"apiVersion\":\"audit.k8s.io/v1\",\"rules\":[{\"level\":\"None\","
       "\"users\":\"bob\"}]}", "rules[0].users"},
      {"{\"kind\":\"Policy\",\"apiVersion\":\"audit.k8s.io/v1\",\"rules\":[{\"level\":\"None\","
       "\"nonResourceURLs\":[\"/x\"],\"resources\":[{\"group\":\"\"}]}]}", "cannot be combined"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *doc = cJSON_Parse(cases[i].json);
    char err[256] = "";
    audit_policy_t *p = NULL;
    ASSERT_EQ_INT(audit_policy_parse(doc, &p, err, sizeof(err)), -EINVAL);
    ASSERT_CONTAINS(err, cases[i].msg);
    cJSON_Delete(doc);
  }
}

TEST_LIST = {
    TEST(test_first_match),
    TEST(test_subresources),
    TEST(test_nonresource),
    TEST(test_errors),
    {0},
};
TEST_MAIN()
