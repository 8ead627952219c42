/* Tests for pkg/api/openapi.c: the /openapi/v3 index and the per
 * group-version documents kubectl 1.32 reads (explain, apply/create
 * validation). With OPENAPI_DUMP_DIR set, the documents are also written
 * there (root.json, api_v1.json, apis_apps_v1.json, ...) for a manual check
 * with real kubectl (see docs/SCHEMA.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema.h"
#include "test.h"

static cJSON *gv(const char *group, const char *version) {
  size_t n = 0;
  char *s = schema_openapi_v3_gv(group, version, &n);
  if (!s)
    return NULL;
  cJSON *o = cJSON_ParseWithLength(s, n);
  free(s);
  return o;
}

static cJSON *at(cJSON *o, const char *const *path) {
  for (; o && *path; path++)
    o = cJSON_GetObjectItemCaseSensitive(o, *path);
  return o;
}
#define AT(o, ...) at(o, (const char *const[]){__VA_ARGS__, NULL})

static void test_root(void) {
  size_t n = 0;
  char *s = schema_openapi_v3_root(&n);
  ASSERT_NOT_NULL(s);
  ASSERT_EQ_INT(strlen(s), n);
  cJSON *o = cJSON_Parse(s);
  free(s);
  const char *u1 = cJSON_GetStringValue(AT(o, "paths", "api/v1", "serverRelativeURL"));
  const char *u2 = cJSON_GetStringValue(AT(o, "paths", "apis/apps/v1", "serverRelativeURL"));
  int ok1 = u1 && strncmp(u1, "/openapi/v3/api/v1?hash=", 24) == 0 && strlen(u1) == 24 + 16;
  int ok2 = u2 && strncmp(u2, "/openapi/v3/apis/apps/v1?hash=", 30) == 0;
  int ok3 = AT(o, "paths", "apis/coordination.k8s.io/v1") && AT(o, "paths", "apis/batch/v1") &&
            AT(o, "paths", "apis/authorization.k8s.io/v1");
  int distinct = u1 && u2 && strcmp(strchr(u1, '='), strchr(u2, '=')) != 0;
  /* Stable: the same text twice. */
  char *again = schema_openapi_v3_root(NULL);
  char *first = cJSON_PrintUnformatted(o);
  cJSON *o2 = cJSON_Parse(again);
  char *second = cJSON_PrintUnformatted(o2);
  int stable = strcmp(first, second) == 0;
  free(again);
  free(first);
  free(second);
  cJSON_Delete(o2);
  cJSON_Delete(o);
  ASSERT_TRUE(ok1);
  ASSERT_TRUE(ok2);
  ASSERT_TRUE(ok3);
  ASSERT_TRUE(distinct);
  ASSERT_TRUE(stable);
  ASSERT_NULL(schema_openapi_v3_gv("nope.example.com", "v1", NULL));
  ASSERT_NULL(schema_openapi_v3_gv("", "v2", NULL));
}

static bool has_param(cJSON *op, const char *name) {
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItem(op, "parameters")) {
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
    if (n && strcmp(n, name) == 0)
      return true;
  }
  return false;
}

static void test_core_paths(void) {
  cJSON *d = gv("", "v1");
  ASSERT_NOT_NULL(d);
  cJSON *patch = AT(d, "paths", "/api/v1/namespaces/{namespace}/pods/{name}", "patch");
  int ok_patch = patch && has_param(patch, "fieldValidation");
  const char *k = cJSON_GetStringValue(AT(patch, "x-kubernetes-group-version-kind", "kind"));
  const char *g = cJSON_GetStringValue(AT(patch, "x-kubernetes-group-version-kind", "group"));
  int ok_gvk = k && strcmp(k, "Pod") == 0 && g && !*g;
  int ok_smp = AT(patch, "requestBody", "content", "application/strategic-merge-patch+json") != NULL;
  int ok_coll = AT(d, "paths", "/api/v1/namespaces/{namespace}/pods", "post") &&
                AT(d, "paths", "/api/v1/namespaces/{namespace}/pods", "get") &&
                AT(d, "paths", "/api/v1/namespaces/{namespace}/pods", "delete") &&
                AT(d, "paths", "/api/v1/pods", "get");
  int ok_item = AT(d, "paths", "/api/v1/namespaces/{namespace}/pods/{name}", "get") &&
                AT(d, "paths", "/api/v1/namespaces/{namespace}/pods/{name}", "put") &&
                AT(d, "paths", "/api/v1/namespaces/{namespace}/pods/{name}", "delete");
  int ok_status = AT(d, "paths", "/api/v1/namespaces/{namespace}/pods/{name}/status", "patch") != NULL;
  const char *ek = cJSON_GetStringValue(
      AT(d, "paths", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post",
         "x-kubernetes-group-version-kind", "kind"));
  int ok_evict = ek && strcmp(ek, "Eviction") == 0;
  int ok_cluster = AT(d, "paths", "/api/v1/nodes/{name}", "patch") &&
                   !AT(d, "paths", "/api/v1/namespaces/{namespace}/nodes");
  int ok_ns_nodc = AT(d, "paths", "/api/v1/namespaces", "get") &&
                   !AT(d, "paths", "/api/v1/namespaces", "delete");
  cJSON_Delete(d);
  ASSERT_TRUE(ok_patch);
  ASSERT_TRUE(ok_gvk);
  ASSERT_TRUE(ok_smp);
  ASSERT_TRUE(ok_coll);
  ASSERT_TRUE(ok_item);
  ASSERT_TRUE(ok_status);
  ASSERT_TRUE(ok_evict);
  ASSERT_TRUE(ok_cluster);
  ASSERT_TRUE(ok_ns_nodc);
}

static void test_schemas(void) {
  cJSON *d = gv("", "v1");
  ASSERT_NOT_NULL(d);
  cJSON *schemas = AT(d, "components", "schemas");
  cJSON *pod = cJSON_GetObjectItem(schemas, "io.k8s.api.core.v1.Pod");
  cJSON *gvk = cJSON_GetArrayItem(cJSON_GetObjectItem(pod, "x-kubernetes-group-version-kind"), 0);
  int ok_gvk = gvk && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(gvk, "kind")), "Pod") == 0 &&
               strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(gvk, "version")), "v1") == 0;
  const char *spec_ref =
      cJSON_GetStringValue(cJSON_GetArrayItem(AT(pod, "properties", "spec", "allOf"), 0)->child);
  int ok_ref = spec_ref && strcmp(spec_ref, "#/components/schemas/io.k8s.api.core.v1.PodSpec") == 0;
  cJSON *ctrs = AT(schemas, "io.k8s.api.core.v1.PodSpec", "properties", "containers");
  int ok_list = ctrs && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ctrs, "type")), "array") == 0 &&
                strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ctrs, "x-kubernetes-patch-merge-key")),
                       "name") == 0 &&
                strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ctrs, "x-kubernetes-patch-strategy")),
                       "merge") == 0 &&
                strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ctrs, "x-kubernetes-list-type")),
                       "map") == 0;
  cJSON *req = AT(schemas, "io.k8s.api.core.v1.PodSpec", "required");
  int ok_req = req && strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(req, 0)), "containers") == 0;
  cJSON *tp = AT(schemas, "io.k8s.api.core.v1.ServicePort", "properties", "targetPort");
  int ok_ios = cJSON_IsTrue(cJSON_GetObjectItem(tp, "x-kubernetes-int-or-string"));
  cJSON *lim = AT(schemas, "io.k8s.api.core.v1.ResourceRequirements", "properties", "limits",
                  "additionalProperties");
  int ok_q = cJSON_IsTrue(cJSON_GetObjectItem(lim, "x-kubernetes-int-or-string"));
  cJSON *ct = AT(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "properties",
                 "creationTimestamp");
  int ok_time = ct && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ct, "format")), "date-time") == 0;
  cJSON *en = AT(schemas, "io.k8s.api.core.v1.Container", "properties", "imagePullPolicy", "enum");
  int ok_enum = cJSON_GetArraySize(en) == 3;
  int ok_vol = AT(schemas, "io.k8s.api.core.v1.Volume", "properties", "emptyDir") &&
               !AT(schemas, "io.k8s.api.core.v1.Volume", "properties", "");
  int ok_list_kind = cJSON_GetObjectItem(schemas, "io.k8s.api.core.v1.PodList") &&
                     cJSON_GetObjectItem(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Status") &&
                     cJSON_GetObjectItem(schemas, "io.k8s.api.policy.v1.Eviction");
  /* Every $ref points at a schema in the document. */
  char *text = cJSON_PrintUnformatted(d);
  int dangling = 0;
  for (char *p = text; (p = strstr(p, "\"$ref\":\"#/components/schemas/")); p++) {
    char name[256];
    p += strlen("\"$ref\":\"#/components/schemas/");
    size_t n = strcspn(p, "\"");
    snprintf(name, sizeof name, "%.*s", (int)n, p);
    if (!cJSON_GetObjectItemCaseSensitive(schemas, name)) {
      printf("# dangling %s\n", name);
      dangling++;
    }
  }
  free(text);
  cJSON_Delete(d);
  ASSERT_TRUE(ok_gvk);
  ASSERT_TRUE(ok_ref);
  ASSERT_TRUE(ok_list);
  ASSERT_TRUE(ok_req);
  ASSERT_TRUE(ok_ios);
  ASSERT_TRUE(ok_q);
  ASSERT_TRUE(ok_time);
  ASSERT_TRUE(ok_enum);
  ASSERT_TRUE(ok_vol);
  ASSERT_TRUE(ok_list_kind);
  ASSERT_EQ_INT(dangling, 0);
}

static void test_apps_scale(void) {
  cJSON *d = gv("apps", "v1");
  ASSERT_NOT_NULL(d);
  cJSON *sp = AT(d, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch");
  const char *k = cJSON_GetStringValue(AT(sp, "x-kubernetes-group-version-kind", "kind"));
  const char *g = cJSON_GetStringValue(AT(sp, "x-kubernetes-group-version-kind", "group"));
  int ok = k && strcmp(k, "Scale") == 0 && g && strcmp(g, "autoscaling") == 0;
  int has_scale = AT(d, "components", "schemas", "io.k8s.api.autoscaling.v1.Scale") != NULL;
  int has_strategy = AT(d, "components", "schemas", "io.k8s.api.apps.v1.DeploymentStrategy",
                        "properties", "rollingUpdate") != NULL;
  cJSON_Delete(d);
  ASSERT_TRUE(ok);
  ASSERT_TRUE(has_scale);
  ASSERT_TRUE(has_strategy);
}

static int dump(const char *dir, const char *name, char *text) {
  char path[1024];
  int ok = 0;
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  FILE *f = fopen(path, "w");
  if (f && text) {
    ok = fputs(text, f) >= 0;
  }
  if (f)
    ok &= fclose(f) == 0;
  free(text);
  return ok;
}

static void test_dump_for_kubectl(void) {
  char tmp[64];
  const char *dir = getenv("OPENAPI_DUMP_DIR");
  if (!dir) {
    snprintf(tmp, sizeof tmp, "/tmp/k3c-openapi-XXXXXX");
    dir = mkdtemp(tmp);
    ASSERT_NOT_NULL(dir);
  }
  int written = dump(dir, "root", schema_openapi_v3_root(NULL));
  for (size_t i = 0; i < schema_nresources; i++) {
    const schema_resource_t *r = &schema_resources[i];
    char name[256];
    if (*r->group)
      snprintf(name, sizeof name, "apis_%s_%s", r->group, r->version);
    else
      snprintf(name, sizeof name, "api_%s", r->version);
    written += dump(dir, name, schema_openapi_v3_gv(r->group, r->version, NULL));
  }
  if (!getenv("OPENAPI_DUMP_DIR")) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ASSERT_EQ_INT(system(cmd), 0);
  }
  ASSERT_EQ_INT(written, (int)schema_nresources + 1);
}

TEST_LIST = {
    TEST(test_root),
    TEST(test_core_paths),
    TEST(test_schemas),
    TEST(test_apps_scale),
    TEST(test_dump_for_kubectl),
    {0},
};
TEST_MAIN()
