/* What a pod refers to (podrefs.h): the fields upstream's kubelet reads
 * ConfigMaps, Secrets and claims through, and that its Node authorizer's
 * graph follows (plugin/pkg/auth/authorizer/node/graph_populator.go). */
#include "api/podrefs.h"

#include <stdio.h>
#include <string.h>

#include "json/util.h"
#include "util/strmap.h"

typedef struct {
  cJSON *arr;
  strmap_t seen;
} names_t;

static void add(names_t *n, const char *name) {
  if (!name || !name[0] || strmap_has(&n->seen, name))
    return;
  cJSON *s = cJSON_CreateString(name);
  cJSON_AddItemToArray(n->arr, s);
  strmap_put(&n->seen, s->valuestring, s, NULL);
}

static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

void api_podrefs_of(const cJSON *pod, api_podrefs_t *refs) {
  static const char *const lists[] = {"spec.initContainers", "spec.containers",
                                      "spec.ephemeralContainers"};
  names_t cm, sec, pvc;
  names_t *all[] = {&cm, &sec, &pvc};
  for (size_t i = 0; i < 3; i++) {
    all[i]->arr = cJSON_CreateArray();
    strmap_init(&all[i]->seen);
  }
  for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      const cJSON *e;
      cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "envFrom")) {
        add(&cm, str(e, "configMapRef.name"));
        add(&sec, str(e, "secretRef.name"));
      }
      cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env")) {
        add(&cm, str(e, "valueFrom.configMapKeyRef.name"));
        add(&sec, str(e, "valueFrom.secretKeyRef.name"));
      }
    }
  }
  const char *pod_name = str(pod, "metadata.name");
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    add(&cm, str(v, "configMap.name"));
    add(&sec, str(v, "secret.secretName"));
    add(&pvc, str(v, "persistentVolumeClaim.claimName"));
    const char *vname = str(v, "name");
    if (json_get_path(v, "ephemeral") && pod_name && vname) {
      char claim[600];
      snprintf(claim, sizeof(claim), "%s-%s", pod_name, vname);
      add(&pvc, claim);
    }
    const cJSON *src;
    cJSON_ArrayForEach(src, json_get_path(v, "projected.sources")) {
      add(&cm, str(src, "configMap.name"));
      add(&sec, str(src, "secret.name"));
    }
  }
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.imagePullSecrets"))
    add(&sec, str(v, "name"));
  for (size_t i = 0; i < 3; i++)
    strmap_done(&all[i]->seen);
  refs->configmaps = cm.arr;
  refs->secrets = sec.arr;
  refs->claims = pvc.arr;
}

void api_podrefs_done(api_podrefs_t *refs) {
  cJSON_Delete(refs->configmaps);
  cJSON_Delete(refs->secrets);
  cJSON_Delete(refs->claims);
  refs->configmaps = refs->secrets = refs->claims = NULL;
}
