/* pkg/api/managed: server-side apply over associative lists, sets and
 * atomic lists, managedFields in upstream's form, Update ownership,
 * conflicts, and linear cost on big objects. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/managed.h"
#include "api/object.h"
#include "api/registry.h"
#include "test.h"

static const api_resource_t *res_of(const char *group, const char *plural) {
  api_registry_init();
  return api_registry_find(group, group[0] ? "v1" : "v1", plural);
}

/* Apply cfg (JSON text) as manager onto *live (replaced by the result). */
static int apply(const api_resource_t *res, cJSON **live, const char *cfg, const char *manager,
                 bool force, api_status_t *st) {
  cJSON *c = cJSON_Parse(cfg), *out = NULL;
  if (!c)
    return -1000;
  int r = api_managed_apply(res, *live, c, manager, force, &out, st);
  cJSON_Delete(c);
  if (r == 0) {
    cJSON_Delete(*live);
    *live = out;
  }
  return r;
}

static char *at(const cJSON *obj, const char *path) {
  const cJSON *v = obj_get(obj, path);
  return v ? cJSON_PrintUnformatted(v) : strdup("(none)");
}

#define ASSERT_AT(obj, path, want)                                                                 \
  do {                                                                                             \
    char *s_ = at(obj, path);                                                                      \
    ASSERT_EQ_STR(s_, want);                                                                       \
    free(s_);                                                                                      \
  } while (0)

static const cJSON *entry(const cJSON *obj, const char *manager, const char *op) {
  const cJSON *e;
  cJSON_ArrayForEach(e, obj_get(obj, "metadata.managedFields")) {
    if (!strcmp(obj_str(e, "manager"), manager) && !strcmp(obj_str(e, "operation"), op))
      return e;
  }
  return NULL;
}

static void test_service_port_removed(void) {
  const api_resource_t *svc = res_of("", "services");
  api_status_t st;
  cJSON *live = NULL;
  ASSERT_EQ_INT(apply(svc, &live, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
                      "\"spec\":{\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":81}]}}",
                      "kubectl", false, &st), 0);
  ASSERT_AT(entry(live, "kubectl", "Apply"), "fieldsV1",
            "{\"f:spec\":{\"f:ports\":{\"k:{\\\"port\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:name\":{},"
            "\"f:port\":{}},\"k:{\\\"port\\\":81,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:name\":{},\"f:port\":{}}}}}");
  ASSERT_EQ_INT(apply(svc, &live, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
                      "\"spec\":{\"ports\":[{\"name\":\"a\",\"port\":80}]}}", "kubectl", false, &st), 0);
  ASSERT_AT(live, "spec.ports", "[{\"name\":\"a\",\"port\":80}]");
  cJSON_Delete(live);
}

static void test_env_middle_removed(void) {
  const api_resource_t *dep = res_of("apps", "deployments");
  api_status_t st;
  cJSON *live = NULL;
  const char *fmt = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
                    "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\","
                    "\"env\":[%s]}]}}}}";
  char cfg[1024];
  snprintf(cfg, sizeof(cfg), fmt, "{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\"}");
  ASSERT_EQ_INT(apply(dep, &live, cfg, "kubectl", false, &st), 0);
  snprintf(cfg, sizeof(cfg), fmt, "{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"C\"}");
  ASSERT_EQ_INT(apply(dep, &live, cfg, "kubectl", false, &st), 0);
  ASSERT_AT(live, "spec.template.spec.containers", "[{\"name\":\"c\",\"image\":\"i\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"C\"}]}]");
  cJSON_Delete(live);
}

static void test_set_and_atomic(void) {
  const api_resource_t *dep = res_of("apps", "deployments");
  api_status_t st;
  cJSON *live = NULL;
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
                      "\"finalizers\":[\"a/x\",\"a/y\"]},\"spec\":{\"template\":{\"spec\":{\"containers\":"
                      "[{\"name\":\"c\",\"image\":\"i\",\"args\":[\"1\",\"2\"]}]}}}}", "m1", false, &st), 0);
  ASSERT_AT(entry(live, "m1", "Apply"), "fieldsV1.f:metadata",
            "{\"f:finalizers\":{\"v:\\\"a/x\\\"\":{},\"v:\\\"a/y\\\"\":{}}}");
  /* m2 adds a finalizer; m1 drops y and changes args (atomic: replaced whole) */
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
                      "\"finalizers\":[\"a/z\"]}}", "m2", false, &st), 0);
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
                      "\"finalizers\":[\"a/x\"]},\"spec\":{\"template\":{\"spec\":{\"containers\":"
                      "[{\"name\":\"c\",\"image\":\"i\",\"args\":[\"3\"]}]}}}}", "m1", false, &st), 0);
  ASSERT_AT(live, "metadata.finalizers", "[\"a/x\",\"a/z\"]");
  ASSERT_AT(live, "spec.template.spec.containers", "[{\"name\":\"c\",\"image\":\"i\",\"args\":[\"3\"]}]");
  cJSON_Delete(live);
}

static void test_conflict_message(void) {
  const api_resource_t *dep = res_of("apps", "deployments");
  api_status_t st;
  cJSON *live = NULL;
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
                      "\"spec\":{\"replicas\":1,\"paused\":true}}", "a", false, &st), 0);
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
                      "\"spec\":{\"replicas\":2}}", "b", false, &st), -EBUSY);
  ASSERT_EQ_INT(st.code, 409);
  ASSERT_EQ_STR(st.message, "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas");
  api_status_done(&st);
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
                      "\"spec\":{\"replicas\":2,\"paused\":false}}", "b", false, &st), -EBUSY);
  ASSERT_EQ_STR(st.message, "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.paused\n- .spec.replicas");
  api_status_done(&st);
  /* a null unsets the field; the applier owns it */
  cJSON *copy = cJSON_Duplicate(live, 1);
  ASSERT_EQ_INT(apply(dep, &copy, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
                      "\"spec\":{\"replicas\":1,\"paused\":true,\"minReadySeconds\":null}}", "a", false, &st), 0);
  ASSERT_AT(copy, "spec", "{\"replicas\":1,\"paused\":true}");
  ASSERT_AT(entry(copy, "a", "Apply"), "fieldsV1", "{\"f:spec\":{\"f:minReadySeconds\":{},\"f:paused\":{},\"f:replicas\":{}}}");
  cJSON_Delete(copy);
  /* force moves ownership */
  ASSERT_EQ_INT(apply(dep, &live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
                      "\"spec\":{\"replicas\":2}}", "b", true, &st), 0);
  ASSERT_AT(entry(live, "a", "Apply"), "fieldsV1", "{\"f:spec\":{\"f:paused\":{}}}");
  ASSERT_AT(entry(live, "b", "Apply"), "fieldsV1", "{\"f:spec\":{\"f:replicas\":{}}}");
  cJSON_Delete(live);
}

static void test_update_entry(void) {
  /* an Update on create records maps and new list items with "." */
  const api_resource_t *dep = res_of("apps", "deployments");
  cJSON *obj = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
                           "\"labels\":{\"app\":\"x\"}},\"spec\":{\"replicas\":1,\"template\":{\"spec\":"
                           "{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"ports\":[{\"containerPort\":80,"
                           "\"protocol\":\"TCP\"}]}]}}}}");
  api_managed_update(dep, obj, NULL, "kubectl-create", "");
  const cJSON *e = entry(obj, "kubectl-create", "Update");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_STR(obj_str(e, "apiVersion"), "apps/v1");
  ASSERT_AT(e, "fieldsV1",
            "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},\"f:spec\":{\"f:replicas\":{},\"f:template\":"
            "{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"c\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{},"
            "\"f:ports\":{\".\":{},\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
            "\"f:containerPort\":{},\"f:protocol\":{}}}}}}}}}");
  /* a second Update changing replicas takes it; an unchanged object records nothing */
  cJSON *next = cJSON_Duplicate(obj, 1);
  cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItem(next, "spec"), "replicas", cJSON_CreateNumber(3));
  api_managed_update(dep, next, obj, "kubectl-scale", "");
  ASSERT_AT(entry(next, "kubectl-scale", "Update"), "fieldsV1", "{\"f:spec\":{\"f:replicas\":{}}}");
  ASSERT_NULL(obj_get(entry(next, "kubectl-create", "Update"), "fieldsV1.f:spec.f:replicas"));
  cJSON *same = cJSON_Duplicate(next, 1);
  api_managed_update(dep, same, next, "nobody", "");
  ASSERT_NULL(entry(same, "nobody", "Update"));
  cJSON_Delete(obj);
  cJSON_Delete(next);
  cJSON_Delete(same);
}

static void test_cap_update_managers(void) {
  /* more than ten Update managers: the oldest fold into "ancient-changes" */
  const api_resource_t *cm = res_of("", "configmaps");
  cJSON *obj = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},\"data\":{}}");
  api_managed_update(cm, obj, NULL, "m00", "");
  for (int i = 1; i <= 11; i++) {
    cJSON *next = cJSON_Duplicate(obj, 1);
    char k[16], m[16];
    snprintf(k, sizeof(k), "k%02d", i);
    snprintf(m, sizeof(m), "m%02d", i);
    cJSON_AddStringToObject(cJSON_GetObjectItem(next, "data"), k, "v");
    api_managed_update(cm, next, obj, m, "");
    cJSON_Delete(obj);
    obj = next;
  }
  const cJSON *mf = obj_get(obj, "metadata.managedFields");
  ASSERT_EQ_INT(cJSON_GetArraySize(mf), 10);
  const cJSON *anc = entry(obj, "ancient-changes", "Update");
  ASSERT_NOT_NULL(anc);
  /* m00 (the create: data {} as a leaf), m01 and m02 are the oldest (same second: by name) */
  ASSERT_AT(anc, "fieldsV1", "{\"f:data\":{\".\":{},\"f:k01\":{},\"f:k02\":{}}}");
  ASSERT_NULL(entry(obj, "m02", "Update"));
  ASSERT_NOT_NULL(entry(obj, "m03", "Update"));
  ASSERT_NULL(entry(obj, "m01", "Update"));
  ASSERT_NOT_NULL(entry(obj, "m11", "Update"));
  cJSON_Delete(obj);
}

static void test_big_configmap_linear(void) {
  /* 40,000 keys (about 0.5 MB): create + apply in well under a second */
  const api_resource_t *cm = res_of("", "configmaps");
  enum { N = 40000 };
  cJSON *cfg = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"big\"}}");
  cJSON *data = cJSON_AddObjectToObject(cfg, "data");
  char k[32];
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof(k), "key-%d", i);
    cJSON_AddStringToObject(data, k, "value-value");
  }
  clock_t t0 = clock();
  cJSON *obj = cJSON_Duplicate(cfg, 1);
  api_managed_update(cm, obj, NULL, "kubectl-create", "");
  cJSON *live = NULL, *out = NULL;
  api_status_t st;
  ASSERT_EQ_INT(api_managed_apply(cm, obj, cfg, "kubectl", false, &out, &st), 0);
  live = out;
  cJSON_DeleteItemFromObjectCaseSensitive(data, "key-7");
  ASSERT_EQ_INT(api_managed_apply(cm, live, cfg, "kubectl", false, &out, &st), 0);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("# 40000-key ConfigMap create + 2 applies: %.0f ms\n", secs * 1000);
  /* key-7 is owned by kubectl-create too (Update): it stays */
  ASSERT_NOT_NULL(obj_get(out, "data.key-7"));
  ASSERT_TRUE(secs < 30);
  cJSON_Delete(cfg);
  cJSON_Delete(obj);
  cJSON_Delete(live);
  cJSON_Delete(out);
}

static void test_custom_resource_schema(void) {
  /* a custom resource is typed by its openAPIV3Schema: list-map keys with
   * defaults, sets, and struct fields that are not members */
  cJSON *js = cJSON_Parse(
      "{\"type\":\"object\",\"properties\":{\"apiVersion\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\"},"
      "\"metadata\":{\"type\":\"object\"},\"spec\":{\"type\":\"object\",\"properties\":{"
      "\"items\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"name\",\"zone\"],"
      "\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"zone\":{\"type\":\"string\",\"default\":\"z1\"},"
      "\"v\":{\"type\":\"integer\"}}}},"
      "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{\"type\":\"string\"}}}}}}");
  schema_resource_t s = {.group = "example.com", .version = "v1", .kind = "Db", .plural = "dbs", .json_schema = js};
  static const api_hooks_t hooks = {0};
  api_resource_t res = {.s = &s, .hooks = &hooks, .group_version = "example.com/v1"};
  api_status_t st;
  cJSON *live = NULL;
  ASSERT_EQ_INT(apply(&res, &live, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Db\",\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\"}},"
                      "\"spec\":{\"items\":[{\"name\":\"a\",\"v\":1},{\"name\":\"b\"}],\"tags\":[\"t1\",\"t2\"]}}", "kubectl", false, &st), 0);
  ASSERT_AT(entry(live, "kubectl", "Apply"), "fieldsV1",
            "{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:items\":{\"k:{\\\"name\\\":\\\"a\\\",\\\"zone\\\":\\\"z1\\\"}\":"
            "{\".\":{},\"f:name\":{},\"f:v\":{}},\"k:{\\\"name\\\":\\\"b\\\",\\\"zone\\\":\\\"z1\\\"}\":{\".\":{},\"f:name\":{}}},"
            "\"f:tags\":{\"v:\\\"t1\\\"\":{},\"v:\\\"t2\\\"\":{}}}}");
  ASSERT_EQ_INT(apply(&res, &live, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Db\",\"metadata\":{\"name\":\"x\"},"
                      "\"spec\":{\"items\":[{\"name\":\"a\",\"v\":2}],\"tags\":[\"t2\"]}}", "kubectl", false, &st), 0);
  ASSERT_AT(live, "spec", "{\"items\":[{\"name\":\"a\",\"v\":2}],\"tags\":[\"t2\"]}");
  ASSERT_NULL(obj_get(live, "metadata.labels"));
  cJSON_Delete(live);
  cJSON_Delete(js);
}

TEST_LIST = {
    TEST(test_custom_resource_schema),
    TEST(test_service_port_removed),
    TEST(test_env_middle_removed),
    TEST(test_set_and_atomic),
    TEST(test_conflict_message),
    TEST(test_update_entry),
    TEST(test_cap_update_managers),
    TEST(test_big_configmap_linear),
    {0},
};
TEST_MAIN()
