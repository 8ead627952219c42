/* Tests for pkg/scheduler/fit.c: nodeName, nodeSelector, required node
 * affinity (every operator, matchFields, ORed terms, empty terms), taints
 * against tolerations (upstream's ToleratesTaint table), unschedulable
 * nodes, and the reasons in upstream's wording. */
#include "scheduler/fit.h"
#include "sjson.h"
#include "test.h"

static cJSON *node(void) {
  return J("{'metadata':{'name':'n1','labels':{'zone':'a','disk':'ssd','cores':'8'}}}");
}

static void test_node_name(void) {
  cJSON *n = node();
  cJSON *p1 = J("{'spec':{'nodeName':'n1'}}"), *p2 = J("{'spec':{'nodeName':'n2'}}"),
        *p3 = J("{'spec':{}}");
  char why[128] = "";
  ASSERT_TRUE(scheduler_fit_node_name(p1, n, why, sizeof(why)));
  ASSERT_TRUE(scheduler_fit_node_name(p3, n, why, sizeof(why)));
  ASSERT_FALSE(scheduler_fit_node_name(p2, n, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) didn't match the requested node name");
  cJSON_Delete(n), cJSON_Delete(p1), cJSON_Delete(p2), cJSON_Delete(p3);
}

static void test_node_selector(void) {
  cJSON *n = node();
  cJSON *ok = J("{'spec':{'nodeSelector':{'zone':'a','disk':'ssd'}}}");
  cJSON *bad = J("{'spec':{'nodeSelector':{'zone':'a','disk':'hdd'}}}");
  cJSON *missing = J("{'spec':{'nodeSelector':{'gpu':'yes'}}}");
  char why[128] = "";
  ASSERT_TRUE(scheduler_fit_node_affinity(ok, n, why, sizeof(why)));
  ASSERT_FALSE(scheduler_fit_node_affinity(bad, n, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) didn't match Pod's node affinity/selector");
  ASSERT_FALSE(scheduler_fit_node_affinity(missing, n, NULL, 0));
  cJSON_Delete(n), cJSON_Delete(ok), cJSON_Delete(bad), cJSON_Delete(missing);
}

static bool req(const char *json, const char *value) {
  cJSON *r = J(json);
  bool b = scheduler_fit_requirement(r, value);
  cJSON_Delete(r);
  return b;
}

static void test_requirement_operators(void) {
  ASSERT_TRUE(req("{'key':'k','operator':'In','values':['a','b']}", "b"));
  ASSERT_FALSE(req("{'key':'k','operator':'In','values':['a','b']}", "c"));
  ASSERT_FALSE(req("{'key':'k','operator':'In','values':['a']}", NULL));
  ASSERT_TRUE(req("{'key':'k','operator':'NotIn','values':['a']}", "b"));
  ASSERT_TRUE(req("{'key':'k','operator':'NotIn','values':['a']}", NULL));
  ASSERT_FALSE(req("{'key':'k','operator':'NotIn','values':['a']}", "a"));
  ASSERT_TRUE(req("{'key':'k','operator':'Exists'}", ""));
  ASSERT_FALSE(req("{'key':'k','operator':'Exists'}", NULL));
  ASSERT_TRUE(req("{'key':'k','operator':'DoesNotExist'}", NULL));
  ASSERT_FALSE(req("{'key':'k','operator':'DoesNotExist'}", "x"));
  ASSERT_TRUE(req("{'key':'k','operator':'Gt','values':['7']}", "8"));
  ASSERT_FALSE(req("{'key':'k','operator':'Gt','values':['8']}", "8"));
  ASSERT_TRUE(req("{'key':'k','operator':'Lt','values':['9']}", "-3"));
  ASSERT_FALSE(req("{'key':'k','operator':'Lt','values':['9']}", "10"));
  /* Gt/Lt: a label or a value that is not an integer, or several values, match nothing. */
  ASSERT_FALSE(req("{'key':'k','operator':'Gt','values':['7']}", "8x"));
  ASSERT_FALSE(req("{'key':'k','operator':'Gt','values':['1.5']}", "8"));
  ASSERT_FALSE(req("{'key':'k','operator':'Gt','values':['1','2']}", "8"));
  ASSERT_FALSE(req("{'key':'k','operator':'Gt','values':['7']}", NULL));
  ASSERT_FALSE(req("{'key':'k','operator':'Like','values':['a']}", "a"));
}

static bool aff(const char *terms) {
  char buf[1024];
  snprintf(buf, sizeof(buf),
           "{'spec':{'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
           "{'nodeSelectorTerms':%s}}}}}",
           terms);
  cJSON *p = J(buf), *n = node();
  bool b = scheduler_fit_node_affinity(p, n, NULL, 0);
  cJSON_Delete(p), cJSON_Delete(n);
  return b;
}

static void test_required_affinity(void) {
  /* Expressions in a term are ANDed. */
  ASSERT_TRUE(aff("[{'matchExpressions':[{'key':'zone','operator':'In','values':['a']},"
                  "{'key':'cores','operator':'Gt','values':['4']}]}]"));
  ASSERT_FALSE(aff("[{'matchExpressions':[{'key':'zone','operator':'In','values':['a']},"
                   "{'key':'cores','operator':'Gt','values':['8']}]}]"));
  /* Terms are ORed. */
  ASSERT_TRUE(aff("[{'matchExpressions':[{'key':'zone','operator':'In','values':['b']}]},"
                  "{'matchExpressions':[{'key':'disk','operator':'Exists'}]}]"));
  /* An empty term matches nothing; no terms match nothing. */
  ASSERT_FALSE(aff("[{}]"));
  ASSERT_FALSE(aff("[]"));
  /* matchFields on metadata.name. */
  ASSERT_TRUE(aff("[{'matchFields':[{'key':'metadata.name','operator':'In','values':['n1']}]}]"));
  ASSERT_FALSE(
      aff("[{'matchFields':[{'key':'metadata.name','operator':'NotIn','values':['n1']}]}]"));
  ASSERT_FALSE(aff("[{'matchFields':[{'key':'metadata.uid','operator':'In','values':['n1']}]}]"));
  ASSERT_TRUE(aff("[{'matchFields':[{'key':'metadata.name','operator':'In','values':['n1']}],"
                  "'matchExpressions':[{'key':'zone','operator':'NotIn','values':['b']}]}]"));
  /* nodeSelector and affinity must both hold. */
  cJSON *p = J("{'spec':{'nodeSelector':{'zone':'b'},'affinity':{'nodeAffinity':{"
               "'requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':[{"
               "'matchExpressions':[{'key':'zone','operator':'Exists'}]}]}}}}}");
  cJSON *n = node();
  ASSERT_FALSE(scheduler_fit_node_affinity(p, n, NULL, 0));
  cJSON_Delete(p), cJSON_Delete(n);
}

static bool tol(const char *t, const char *taint) {
  cJSON *a = J(t), *b = J(taint);
  bool r = scheduler_fit_tolerates(a, b);
  cJSON_Delete(a), cJSON_Delete(b);
  return r;
}

static void test_tolerations(void) {
  const char *taint = "{'key':'dedicated','value':'gpu','effect':'NoSchedule'}";
  ASSERT_TRUE(
      tol("{'key':'dedicated','operator':'Equal','value':'gpu','effect':'NoSchedule'}", taint));
  ASSERT_TRUE(tol("{'key':'dedicated','value':'gpu'}", taint)); /* "" is Equal, any effect */
  ASSERT_FALSE(tol("{'key':'dedicated','value':'cpu'}", taint));
  ASSERT_FALSE(tol("{'key':'dedicated','value':'gpu','effect':'NoExecute'}", taint));
  ASSERT_TRUE(tol("{'key':'dedicated','operator':'Exists'}", taint));
  ASSERT_TRUE(tol("{'operator':'Exists'}", taint)); /* empty key + Exists: everything */
  ASSERT_TRUE(tol("{'operator':'Exists','effect':'NoSchedule'}", taint));
  ASSERT_FALSE(tol("{'operator':'Exists','effect':'NoExecute'}", taint));
  ASSERT_FALSE(tol("{'key':'other','operator':'Exists'}", taint));
  ASSERT_FALSE(tol("{'key':'dedicated','operator':'Bogus'}", taint));
  /* An empty value taint and an Equal toleration without value. */
  ASSERT_TRUE(tol("{'key':'k','effect':'NoSchedule'}", "{'key':'k','effect':'NoSchedule'}"));
}

static void test_taints(void) {
  cJSON *n = J("{'metadata':{'name':'n1'},'spec':{'taints':["
               "{'key':'soft','effect':'PreferNoSchedule'},"
               "{'key':'node-role.kubernetes.io/control-plane','effect':'NoSchedule'},"
               "{'key':'dedicated','value':'gpu','effect':'NoExecute'}]}}");
  cJSON *none = J("{'spec':{}}");
  char why[128] = "";
  ASSERT_FALSE(scheduler_fit_taints(none, n, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
  cJSON *one = J("{'spec':{'tolerations':[{'key':'node-role.kubernetes.io/control-plane',"
                 "'operator':'Exists','effect':'NoSchedule'}]}}");
  ASSERT_FALSE(scheduler_fit_taints(one, n, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) had untolerated taint {dedicated: gpu}");
  cJSON *all = J("{'spec':{'tolerations':[{'operator':'Exists'}]}}");
  ASSERT_TRUE(scheduler_fit_taints(all, n, why, sizeof(why)));
  cJSON *soft = J(
      "{'metadata':{'name':'n2'},'spec':{'taints':[{'key':'soft','effect':'PreferNoSchedule'}]}}");
  ASSERT_TRUE(scheduler_fit_taints(none, soft, NULL, 0));
  cJSON_Delete(n), cJSON_Delete(none), cJSON_Delete(one), cJSON_Delete(all), cJSON_Delete(soft);
}

static void test_unschedulable(void) {
  cJSON *n = J("{'metadata':{'name':'n1'},'spec':{'unschedulable':true}}");
  cJSON *p = J("{'spec':{}}");
  cJSON *t = J("{'spec':{'tolerations':[{'key':'node.kubernetes.io/unschedulable',"
               "'operator':'Exists','effect':'NoSchedule'}]}}");
  char why[128] = "";
  ASSERT_FALSE(scheduler_fit_unschedulable(p, n, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) were unschedulable");
  ASSERT_TRUE(scheduler_fit_unschedulable(t, n, why, sizeof(why)));
  /* scheduler_fit_node reports the first failing check in plugin order. */
  cJSON *p2 = J("{'spec':{'nodeName':'other','nodeSelector':{'x':'y'}}}");
  ASSERT_FALSE(scheduler_fit_node(p2, n, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) were unschedulable");
  cJSON *n2 = J("{'metadata':{'name':'n2','labels':{'x':'y'}},'spec':{}}");
  ASSERT_FALSE(scheduler_fit_node(p2, n2, why, sizeof(why)));
  ASSERT_EQ_STR(why, "node(s) didn't match the requested node name");
  ASSERT_TRUE(scheduler_fit_node(p, n2, why, sizeof(why)));
  cJSON_Delete(n), cJSON_Delete(p), cJSON_Delete(t), cJSON_Delete(p2), cJSON_Delete(n2);
}

TEST_LIST = {
    TEST(test_node_name),
    TEST(test_node_selector),
    TEST(test_requirement_operators),
    TEST(test_required_affinity),
    TEST(test_tolerations),
    TEST(test_taints),
    TEST(test_unschedulable),
    {0},
};
TEST_MAIN()
