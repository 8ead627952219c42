/* ServiceAccount admission (mutating, upstream's plugin/pkg/admission/
 * serviceaccount): a new pod runs as "default" unless it names a
 * ServiceAccount, and, unless automountServiceAccountToken is false on the
 * pod or its ServiceAccount, gets the projected volume "kube-api-access-xxxxx"
 * (bound token, kube-root-ca.crt, namespace) mounted read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container that
 * does not mount that path already. Unlike upstream, a pod whose
 * ServiceAccount does not exist yet is not refused (docs/PKI.md).
 * https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/object.h"

#define VOLUME_PREFIX "kube-api-access-"

static bool mounts_path(const cJSON *container) {
  const cJSON *m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(container, "volumeMounts")) {
    const char *p = obj_str(m, "mountPath");
    if (p && !strcmp(p, API_SA_MOUNT_PATH))
      return true;
  }
  return false;
}

static cJSON *token_volume(const char *name) {
  cJSON *v = cJSON_CreateObject();
  cJSON_AddStringToObject(v, "name", name);
  cJSON *proj = cJSON_AddObjectToObject(v, "projected");
  cJSON *sources = cJSON_AddArrayToObject(proj, "sources");
  cJSON *s = cJSON_CreateObject();
  cJSON *tok = cJSON_AddObjectToObject(s, "serviceAccountToken");
  cJSON_AddNumberToObject(tok, "expirationSeconds", 3607);
  cJSON_AddStringToObject(tok, "path", "token");
  cJSON_AddItemToArray(sources, s);
  s = cJSON_CreateObject();
  cJSON *cm = cJSON_AddObjectToObject(s, "configMap");
  cJSON_AddStringToObject(cm, "name", "kube-root-ca.crt");
  cJSON *item = cJSON_CreateObject();
  cJSON_AddStringToObject(item, "key", "ca.crt");
  cJSON_AddStringToObject(item, "path", "ca.crt");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(cm, "items"), item);
  cJSON_AddItemToArray(sources, s);
  s = cJSON_CreateObject();
  cJSON *dw = cJSON_AddObjectToObject(s, "downwardAPI");
  item = cJSON_CreateObject();
  cJSON *ref = cJSON_AddObjectToObject(item, "fieldRef");
  cJSON_AddStringToObject(ref, "apiVersion", "v1");
  cJSON_AddStringToObject(ref, "fieldPath", "metadata.namespace");
  cJSON_AddStringToObject(item, "path", "namespace");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(dw, "items"), item);
  cJSON_AddItemToArray(sources, s);
  cJSON_AddNumberToObject(proj, "defaultMode", 420);
  return v;
}

void api__serviceaccount_admit_spec(cJSON *spec, const cJSON *sa, const char *suffix) {
  const char *name = obj_str(spec, "serviceAccountName");
  if (!name || !name[0])
    name = obj_str(spec, "serviceAccount");
  if (!name || !name[0])
    name = "default";
  obj_set_str(spec, "serviceAccountName", name);
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(spec, "automountServiceAccountToken");
  if (!cJSON_IsBool(am))
    am = cJSON_GetObjectItemCaseSensitive(sa, "automountServiceAccountToken");
  if (cJSON_IsFalse(am))
    return;
  /* An existing kube-api-access-* volume is reused (upstream). */
  char vname[64] = "";
  const cJSON *v;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes")) {
    const char *n = obj_str(v, "name");
    if (n && !strncmp(n, VOLUME_PREFIX, strlen(VOLUME_PREFIX)) && strlen(n) < sizeof(vname)) {
      snprintf(vname, sizeof(vname), "%s", n);
      break;
    }
  }
  bool have = vname[0] != 0;
  if (!have) {
    int n = snprintf(vname, sizeof(vname), "%s%.5s", VOLUME_PREFIX, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= sizeof(vname))
      return;
  }
  bool needed = false;
  static const char *const lists[] = {"initContainers", "containers"};
  for (size_t i = 0; i < 2; i++) {
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i])) {
      if (!cJSON_IsObject(c) || mounts_path(c))
        continue;
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "name", vname);
      cJSON_AddBoolToObject(m, "readOnly", true);
      cJSON_AddStringToObject(m, "mountPath", API_SA_MOUNT_PATH);
      cJSON_AddItemToArray(obj_child_array(c, "volumeMounts"), m);
      needed = true;
    }
  }
  if (needed && !have)
    cJSON_AddItemToArray(obj_child_array(spec, "volumes"), token_volume(vname));
}

static cJSON *find_sa(api_server_t *srv, const char *ns, const char *name) {
  const api_resource_t *res = api_registry_find_kind("", "ServiceAccount");
  if (!res || !ns)
    return NULL;
  char *key = api_resource_key(res, ns, name);
  store_kv_t *kv = NULL;
  int r = store_get_latest(srv->store, key, &kv);
  free(key);
  if (r < 0)
    return NULL;
  cJSON *sa = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  return sa;
}

int api__admit_serviceaccount(api_admission_t *a, api_status_t *st) {
  (void)st;
  if (a->sub[0] || a->old || !api__admission_is(a, "", "Pod"))
    return 0;
  /* Mirror pods (static pods the kubelet reports) are left alone. */
  const cJSON *anns = obj_get(a->obj, "metadata.annotations");
  if (cJSON_GetObjectItemCaseSensitive(anns, "kubernetes.io/config.mirror"))
    return 0;
  cJSON *spec = obj_child_object(a->obj, "spec");
  const char *name = obj_str(spec, "serviceAccountName");
  if (!name || !name[0])
    name = obj_str(spec, "serviceAccount");
  cJSON *sa = find_sa(a->srv, obj_str(a->obj, "metadata.namespace"),
                      name && name[0] ? name : "default");
  char suffix[8] = "";
  obj_random_suffix(suffix, sizeof(suffix));
  api__serviceaccount_admit_spec(spec, sa, suffix);
  cJSON_Delete(sa);
  return 0;
}
