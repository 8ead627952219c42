/* Benchmark of server-side apply and managedFields (pkg/api/managed.c):
 * create (Update entry) and applies of a ConfigMap with 40,000 keys and of a
 * Deployment whose container has a 10,000-item env list, each also at twice
 * the size, so a linear cost shows as a steady "ms per MB".
 *   bash scripts/bench.sh managed        (or build-bench/bench/bench_managed) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/managed.h"
#include "api/registry.h"
#include "util/alloc.h"

/* CPU time of this thread: the figures hold on a busy machine too */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double mb_of(const cJSON *obj) {
  char *s = cJSON_PrintUnformatted(obj);
  double mb = strlen(s) / 1e6;
  free(s);
  return mb;
}

static cJSON *configmap(int n, int skip) {
  cJSON *o = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"big\"}}");
  cJSON *d = cJSON_AddObjectToObject(o, "data");
  char k[32];
  for (int i = 0; i < n; i++) {
    if (i == skip)
      continue;
    snprintf(k, sizeof(k), "key-%06d", i);
    cJSON_AddStringToObject(d, k, "value");
  }
  return o;
}

static cJSON *deployment(int n, int skip) {
  cJSON *o = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"big\"},"
                         "\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":"
                         "{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\","
                         "\"env\":[]}]}}}}");
  cJSON *env = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "template"), "spec"), "containers"), 0),
      "env");
  char k[32];
  for (int i = 0; i < n; i++) {
    if (i == skip)
      continue;
    snprintf(k, sizeof(k), "VAR_%06d", i);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", k);
    cJSON_AddStringToObject(e, "value", "value");
    cJSON_AddItemToArray(env, e);
  }
  return o;
}

static void run(const char *what, const api_resource_t *res, cJSON *(*make)(int, int), int n) {
  cJSON *cfg = make(n, -1), *cfg2 = make(n, n / 2);
  double mb = mb_of(cfg);
  double t0 = now_ms();
  cJSON *obj = cJSON_Duplicate(cfg, 1);
  api_managed_update(res, obj, NULL, "kubectl-create", "");
  double t1 = now_ms();
  cJSON *a = NULL, *b = NULL, *c = NULL;
  api_status_t st;
  if (api_managed_apply(res, NULL, cfg, "kubectl", false, &a, &st) < 0) {
    fprintf(stderr, "apply failed: %s\n", st.message);
    exit(1);
  }
  double t2 = now_ms();
  if (api_managed_apply(res, a, cfg, "kubectl", false, &b, &st) < 0)
    exit(1);
  double t3 = now_ms();
  if (api_managed_apply(res, b, cfg2, "kubectl", false, &c, &st) < 0)
    exit(1);
  double t4 = now_ms();
  printf("%-26s %6d items %6.2f MB | create+Update %7.1f ms | apply-create %7.1f ms | re-apply %7.1f ms "
         "| apply dropping 1 %7.1f ms | %6.1f ms/MB per step\n",
         what, n, mb, t1 - t0, t2 - t1, t3 - t2, t4 - t3, (t4 - t0) / 4 / mb);
  cJSON_Delete(cfg), cJSON_Delete(cfg2), cJSON_Delete(obj);
  cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(c);
}

int main(void) {
  alloc_install_cjson_hooks();
  api_registry_init();
  const api_resource_t *cm = api_registry_find("", "v1", "configmaps");
  const api_resource_t *dep = api_registry_find("apps", "v1", "deployments");
  run("ConfigMap data keys", cm, configmap, 40000);
  run("ConfigMap data keys", cm, configmap, 80000);
  run("Deployment env items", dep, deployment, 10000);
  run("Deployment env items", dep, deployment, 20000);
  return 0;
}
