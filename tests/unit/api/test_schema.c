/* Tests for pkg/api/schema.c and the generated tables: look-ups, the
 * resource rows (columns, short names, subresources), strict validation
 * messages, and the strategic-merge-patch view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema.h"
#include "test.h"

static const schema_resource_t *res(const char *group, const char *plural) {
  for (size_t i = 0; i < schema_nresources; i++)
    if (strcmp(schema_resources[i].group, group) == 0 &&
        strcmp(schema_resources[i].plural, plural) == 0)
      return &schema_resources[i];
  return NULL;
}

static bool has(const char *const *list, const char *s) {
  for (; list && *list; list++)
    if (strcmp(*list, s) == 0)
      return true;
  return false;
}

static void test_type_and_field_lookup(void) {
  const schema_type_t *ps = schema_type_find("io.k8s.api.core.v1.PodSpec");
  ASSERT_NOT_NULL(ps);
  ASSERT_NULL(schema_type_find("io.k8s.api.core.v1.Nope"));
  const schema_field_t *c = schema_field_find(ps, "containers");
  ASSERT_NOT_NULL(c);
  ASSERT_EQ_INT(c->proto, 2);
  ASSERT_EQ_INT(c->container, SCHEMA_LIST);
  ASSERT_EQ_STR(c->merge_key, "name");
  ASSERT_TRUE(c->patch & SCHEMA_PATCH_MERGE);
  ASSERT_TRUE(c->required);
  ASSERT_EQ_STR(c->type->name, "io.k8s.api.core.v1.Container");
  const schema_field_t *v = schema_field_find(ps, "volumes");
  ASSERT_EQ_INT(v->patch, SCHEMA_PATCH_MERGE | SCHEMA_PATCH_RETAIN_KEYS);
  ASSERT_NULL(schema_field_find(ps, ""));
  /* Pointer-ness drives protobuf zero handling. */
  const schema_field_t *r =
      schema_field_find(schema_type_find("io.k8s.api.apps.v1.DeploymentSpec"), "replicas");
  ASSERT_TRUE(r->pointer);
  ASSERT_EQ_INT(r->kind, SCHEMA_INT32);
  /* Every object field's type resolves and every table is sorted. */
  const schema_type_t *meta = schema_type_find("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  ASSERT_EQ_INT(schema_field_find(meta, "creationTimestamp")->kind, SCHEMA_TIME);
  ASSERT_EQ_INT(schema_field_find(meta, "labels")->container, SCHEMA_MAP);
  /* Inline VolumeSource: Volume has emptyDir as a JSON field. */
  const schema_type_t *vol = schema_type_find("io.k8s.api.core.v1.Volume");
  ASSERT_NOT_NULL(schema_field_find(vol, "emptyDir"));
  ASSERT_NOT_NULL(schema_field_find(vol, "csi"));
  ASSERT_EQ_INT(schema_field_find(vol, "emptyDir")->proto, 0);
  /* Enums. */
  const schema_field_t *pp =
      schema_field_find(schema_type_find("io.k8s.api.core.v1.Container"), "imagePullPolicy");
  ASSERT_NOT_NULL(pp->enums);
  ASSERT_TRUE(has(pp->enums, "IfNotPresent"));
}

static void test_kinds(void) {
  ASSERT_EQ_STR(schema_type_for_kind("v1", "Pod")->name, "io.k8s.api.core.v1.Pod");
  ASSERT_EQ_STR(schema_type_for_kind("v1", "PodList")->name, "io.k8s.api.core.v1.PodList");
  ASSERT_EQ_STR(schema_type_for_kind("apps/v1", "Deployment")->name,
                "io.k8s.api.apps.v1.Deployment");
  ASSERT_EQ_STR(schema_type_for_kind("policy/v1", "Eviction")->name, "io.k8s.api.policy.v1.Eviction");
  ASSERT_EQ_STR(schema_type_for_kind("autoscaling/v1", "Scale")->name,
                "io.k8s.api.autoscaling.v1.Scale");
  ASSERT_NOT_NULL(schema_type_for_kind("authentication.k8s.io/v1", "TokenRequest"));
  ASSERT_NOT_NULL(schema_type_for_kind("authentication.k8s.io/v1", "SelfSubjectReview"));
  ASSERT_NOT_NULL(schema_type_for_kind("authorization.k8s.io/v1", "SelfSubjectAccessReview"));
  ASSERT_NOT_NULL(schema_type_for_kind("coordination.k8s.io/v1", "Lease"));
  ASSERT_NOT_NULL(schema_type_for_kind("batch/v1", "CronJob"));
  ASSERT_EQ_STR(schema_type_for_kind("apps/v1", "DeleteOptions")->name,
                "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
  ASSERT_NULL(schema_type_for_kind("apps/v1", "Pod"));
  ASSERT_NULL(schema_type_for_kind("v1", "Deployment"));
  /* Every kind has apiVersion and kind fields (JSON only). */
  const schema_field_t *av = schema_field_find(schema_type_for_kind("v1", "Pod"), "apiVersion");
  ASSERT_NOT_NULL(av);
  ASSERT_EQ_INT(av->proto, 0);
}

static void test_resources(void) {
  const schema_resource_t *pods = res("", "pods");
  ASSERT_NOT_NULL(pods);
  ASSERT_EQ_STR(pods->kind, "Pod");
  ASSERT_EQ_STR(pods->singular, "pod");
  ASSERT_TRUE(pods->namespaced);
  ASSERT_TRUE(has(pods->short_names, "po"));
  ASSERT_TRUE(has(pods->categories, "all"));
  static const char *const subs[] = {"status", "log", "exec", "attach", "portforward", "binding",
                                     "eviction", "proxy", "ephemeralcontainers", NULL};
  for (const char *const *s = subs; *s; s++)
    ASSERT_TRUE(has(pods->subresources, *s));
  ASSERT_EQ_INT(pods->verbs, SCHEMA_VERBS_ALL);
  ASSERT_EQ_INT(pods->ncolumns, 9);
  ASSERT_EQ_STR(pods->columns[0].name, "Name");
  ASSERT_EQ_STR(pods->columns[0].format, "name");
  ASSERT_EQ_STR(pods->columns[0].path, ".metadata.name");
  ASSERT_EQ_STR(pods->columns[1].name, "Ready");
  ASSERT_NULL(pods->columns[1].path); /* computed in C */
  ASSERT_EQ_STR(pods->columns[3].type, "integer");
  ASSERT_EQ_STR(pods->columns[4].name, "Age");
  ASSERT_EQ_STR(pods->columns[4].type, "date");
  ASSERT_EQ_STR(pods->columns[4].path, ".metadata.creationTimestamp");
  ASSERT_EQ_STR(pods->columns[7].name, "Nominated Node");
  ASSERT_EQ_INT(pods->columns[7].priority, 1);

  const schema_resource_t *ns = res("", "namespaces");
  ASSERT_FALSE(ns->namespaced);
  ASSERT_FALSE(ns->verbs & SCHEMA_VERB_DELETECOLLECTION);
  ASSERT_TRUE(has(ns->subresources, "finalize"));
  ASSERT_FALSE(res("", "nodes")->namespaced);
  ASSERT_EQ_INT(res("", "nodes")->ncolumns, 10);
  ASSERT_TRUE(has(res("", "services")->categories, "all"));
  ASSERT_TRUE(has(res("", "serviceaccounts")->subresources, "token"));
  ASSERT_TRUE(has(res("apps", "deployments")->subresources, "scale"));
  ASSERT_TRUE(has(res("apps", "deployments")->short_names, "deploy"));
  ASSERT_EQ_STR(res("coordination.k8s.io", "leases")->columns[1].path, ".spec.holderIdentity");
  ASSERT_EQ_STR(res("", "events")->columns[0].name, "Last Seen");
  static const char *const shorts[][2] = {{"namespaces", "ns"}, {"configmaps", "cm"},
                                          {"serviceaccounts", "sa"}, {"services", "svc"},
                                          {"nodes", "no"}, {"events", "ev"}, {"endpoints", "ep"}};
  for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++)
    ASSERT_TRUE(has(res("", shorts[i][0])->short_names, shorts[i][1]));
  /* Every resource's columns start with Name (events: Last Seen) and
   * include an Age column of type date, except create-only kinds. */
  for (size_t i = 0; i < schema_nresources; i++) {
    const schema_resource_t *r = &schema_resources[i];
    ASSERT_NOT_NULL(r->type);
    if (!(r->verbs & SCHEMA_VERB_LIST))
      continue;
    bool name = false;
    for (size_t j = 0; j < r->ncolumns; j++)
      name |= strcmp(r->columns[j].name, "Name") == 0;
    ASSERT_TRUE(name);
  }
}

/* ---- strict validation ---- */

typedef struct {
  int n;
  char msgs[8][256];
  bool unknown[8];
} probs_t;

static void collect(const char *path, bool unknown, const char *msg, void *data) {
  probs_t *p = data;
  if (p->n < 8) {
    snprintf(p->msgs[p->n], sizeof p->msgs[0], "%s", msg);
    p->unknown[p->n] = unknown;
  }
  p->n++;
}

static int check(const char *kind_av, const char *kind, const char *json, probs_t *p) {
  memset(p, 0, sizeof *p);
  cJSON *o = cJSON_Parse(json);
  int n = schema_check(schema_type_for_kind(kind_av, kind), o, collect, p);
  cJSON_Delete(o);
  return n;
}

static void test_check_valid_manifest(void) {
  probs_t p;
  int n = check("v1", "Pod",
                "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
                "\"labels\":{\"app\":\"x\"},\"creationTimestamp\":null},\"spec\":{\"containers\":"
                "[{\"name\":\"c\",\"image\":\"busybox\",\"command\":[\"sh\"],\"ports\":[{"
                "\"containerPort\":80}],\"resources\":{\"limits\":{\"cpu\":\"100m\",\"memory\":"
                "1024}},\"livenessProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":\"http\"},"
                "\"periodSeconds\":5},\"env\":[{\"name\":\"A\",\"valueFrom\":{\"fieldRef\":{"
                "\"fieldPath\":\"metadata.name\"}}}]}],\"volumes\":[{\"name\":\"v\",\"emptyDir\":"
                "{}},{\"name\":\"p\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{"
                "\"path\":\"t\"}}]}}],\"tolerations\":[{\"operator\":\"Exists\"}]}}",
                &p);
  if (n)
    printf("# %s\n", p.msgs[0]);
  ASSERT_EQ_INT(n, 0);
}

static void test_check_unknown_fields(void) {
  probs_t p;
  int n = check("apps/v1", "Deployment",
                "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"foo\":1,"
                "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"d\","
                "\"imagePullPolicyy\":\"Always\"}]}}},\"bar\":true}",
                &p);
  ASSERT_EQ_INT(n, 3);
  ASSERT_EQ_STR(p.msgs[0], "unknown field \"spec.foo\"");
  ASSERT_TRUE(p.unknown[0]);
  ASSERT_EQ_STR(p.msgs[1], "unknown field \"spec.template.spec.containers[1].imagePullPolicyy\"");
  ASSERT_EQ_STR(p.msgs[2], "unknown field \"bar\"");
}

static void test_check_types(void) {
  probs_t p;
  int n = check("apps/v1", "Deployment",
                "{\"spec\":{\"replicas\":\"string\",\"paused\":1,\"minReadySeconds\":1.5,"
                "\"selector\":{\"matchLabels\":{\"a\":3}},\"template\":{\"spec\":{\"containers\":"
                "{}}}}}",
                &p);
  ASSERT_EQ_INT(n, 5);
  ASSERT_EQ_STR(p.msgs[0], "spec.replicas: Invalid value: \"string\": spec.replicas in body must "
                           "be of type integer: \"string\"");
  ASSERT_FALSE(p.unknown[0]);
  ASSERT_EQ_STR(p.msgs[1], "spec.paused: Invalid value: \"integer\": spec.paused in body must be "
                           "of type boolean: \"integer\"");
  ASSERT_CONTAINS(p.msgs[2], "spec.minReadySeconds in body must be of type integer: \"number\"");
  ASSERT_CONTAINS(p.msgs[3], "spec.selector.matchLabels.a in body must be of type string");
  ASSERT_CONTAINS(p.msgs[4], "spec.template.spec.containers in body must be of type array");
  /* null is always acceptable (unset). */
  ASSERT_EQ_INT(check("v1", "ConfigMap", "{\"data\":null,\"metadata\":{\"labels\":null}}", &p), 0);
  /* Raw JSON accepts anything; quantities accept numbers. */
  ASSERT_EQ_INT(check("apps/v1", "ControllerRevision", "{\"data\":{\"any\":[1,{}]},\"revision\":2}",
                      &p),
                0);
  /* Not an object at all. */
  cJSON *arr = cJSON_Parse("[1]");
  ASSERT_EQ_INT(schema_check(schema_type_for_kind("v1", "Pod"), arr, NULL, NULL), 1);
  cJSON_Delete(arr);
}

/* Integers beyond int32/int64 fail as upstream's typed decoder fails
 * (regression: replicas 1.2e29 was stored). */
static void test_check_int_range(void) {
  probs_t p;
  int n = check("apps/v1", "Deployment",
                "{\"spec\":{\"replicas\":1.2e29,\"revisionHistoryLimit\":2147483647,"
                "\"progressDeadlineSeconds\":-2147483649,\"template\":{\"spec\":{"
                "\"activeDeadlineSeconds\":9.3e18,\"containers\":[{\"name\":\"c\",\"ports\":[{"
                "\"containerPort\":3000000000}]}]}}}}",
                &p);
  ASSERT_EQ_INT(n, 4);
  ASSERT_FALSE(p.unknown[0]);
  ASSERT_EQ_STR(p.msgs[0], "json: cannot unmarshal number 1.2e+29 into Go struct field "
                           "DeploymentSpec.spec.replicas of type int32");
  ASSERT_EQ_STR(p.msgs[1], "json: cannot unmarshal number -2147483649 into Go struct field "
                           "DeploymentSpec.spec.progressDeadlineSeconds of type int32");
  ASSERT_EQ_STR(p.msgs[2], "json: cannot unmarshal number 9300000000000000000 into Go struct field "
                           "PodSpec.spec.template.spec.activeDeadlineSeconds of type int64");
  ASSERT_EQ_STR(p.msgs[3], "json: cannot unmarshal number 3000000000 into Go struct field "
                           "ContainerPort.spec.template.spec.containers.ports.containerPort of type int32");
}

/* Bodies reach schema_check with duplicates already collapsed by the
 * decoders (json/strict.c, yaml/decode.c); a tree built elsewhere still
 * gets them reported. */
static void test_check_duplicate_field(void) {
  probs_t p;
  int n = check("v1", "ConfigMap", "{\"data\":{},\"data\":{}}", &p);
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_STR(p.msgs[0], "duplicate field \"data\"");
}

/* ---- strategic merge patch view ---- */

static void test_smp(void) {
  const schema_type_t *pod = schema_type_for_kind("v1", "Pod");
  smp_field_info_t info;
  const schema_type_t *spec = schema_smp.field(pod, "spec", &info);
  ASSERT_EQ_STR(spec->name, "io.k8s.api.core.v1.PodSpec");
  ASSERT_EQ_INT(info.list_strategy, SMP_LIST_REPLACE);
  const schema_type_t *ctr = schema_smp.field(spec, "containers", &info);
  ASSERT_EQ_STR(ctr->name, "io.k8s.api.core.v1.Container");
  ASSERT_EQ_INT(info.list_strategy, SMP_LIST_MERGE);
  ASSERT_EQ_STR(info.merge_key, "name");
  ASSERT_FALSE(info.retain_keys);
  schema_smp.field(spec, "volumes", &info);
  ASSERT_TRUE(info.retain_keys);
  ASSERT_EQ_STR(info.merge_key, "name");
  schema_smp.field(ctr, "ports", &info);
  ASSERT_EQ_STR(info.merge_key, "containerPort");
  schema_smp.field(ctr, "volumeMounts", &info);
  ASSERT_EQ_STR(info.merge_key, "mountPath");
  /* Primitive merge list: finalizers. */
  const schema_type_t *meta = schema_smp.field(pod, "metadata", &info);
  ASSERT_NULL(schema_smp.field(meta, "finalizers", &info));
  ASSERT_EQ_INT(info.list_strategy, SMP_LIST_MERGE);
  ASSERT_NULL(info.merge_key);
  /* Atomic list, map element type, unknown field. */
  schema_smp.field(ctr, "command", &info);
  ASSERT_EQ_INT(info.list_strategy, SMP_LIST_REPLACE);
  const schema_type_t *st = schema_smp.field(pod, "status", &info);
  schema_smp.field(st, "conditions", &info);
  ASSERT_EQ_STR(info.merge_key, "type");
  ASSERT_NULL(schema_smp.field(pod, "nope", &info));
  ASSERT_EQ_INT(info.list_strategy, SMP_LIST_REPLACE);
  /* Deployment strategy has retainKeys. */
  const schema_type_t *ds =
      schema_smp.field(schema_type_for_kind("apps/v1", "Deployment"), "spec", &info);
  schema_smp.field(ds, "strategy", &info);
  ASSERT_TRUE(info.retain_keys);
}

TEST_LIST = {
    TEST(test_type_and_field_lookup),
    TEST(test_kinds),
    TEST(test_resources),
    TEST(test_check_valid_manifest),
    TEST(test_check_unknown_fields),
    TEST(test_check_types),
    TEST(test_check_int_range), TEST(test_check_duplicate_field),
    TEST(test_smp),
    {0},
};
TEST_MAIN()
