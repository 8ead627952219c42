/* The small defaulting admission plugins of upstream's kube-apiserver:
 * DefaultTolerationSeconds (new pods tolerate node.kubernetes.io/not-ready
 * and unreachable NoExecute taints for 300 s, or the server's flags), DefaultStorageClass (a new
 * PVC without a class gets the default StorageClass) and DefaultIngressClass
 * (a new Ingress without a class gets the default IngressClass).
 * https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/object.h"

/* ---- DefaultTolerationSeconds ---- */

static bool tolerates(const cJSON *tols, const char *key) {
  const cJSON *t;
  cJSON_ArrayForEach(t, tols) {
    const char *k = obj_str(t, "key");
    const char *e = obj_str(t, "effect");
    if ((!k || !k[0] || !strcmp(k, key)) && (!e || !e[0] || !strcmp(e, "NoExecute")))
      return true;
  }
  return false;
}

static void default_toleration_seconds(api_admission_t *a) {
  static const char *const taints[] = {"node.kubernetes.io/not-ready",
                                       "node.kubernetes.io/unreachable"};
  cJSON *spec = obj_child_object(a->obj, "spec");
  bool need[2];
  const cJSON *tols = cJSON_GetObjectItemCaseSensitive(spec, "tolerations");
  for (size_t i = 0; i < 2; i++)
    need[i] = !tolerates(tols, taints[i]);
  for (size_t i = 0; i < 2; i++) {
    if (!need[i])
      continue;
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "key", taints[i]);
    cJSON_AddStringToObject(t, "operator", "Exists");
    cJSON_AddStringToObject(t, "effect", "NoExecute");
    cJSON_AddNumberToObject(t, "tolerationSeconds",
                            i == 0 ? a->srv->not_ready_toleration_seconds
                                   : a->srv->unreachable_toleration_seconds);
    cJSON_AddItemToArray(obj_child_array(spec, "tolerations"), t);
  }
}

/* ---- default classes ---- */

typedef struct {
  const char *annotation, *beta;
  cJSON *best; /* newest default (copy); ties: the smaller name */
} default_class_t;

static bool is_default(const cJSON *obj, const char *key) {
  const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(obj_get(obj, "metadata.annotations"), key)
                       : NULL;
  return cJSON_IsString(v) && !strcmp(v->valuestring, "true");
}

static bool default_cb(const cJSON *obj, void *data) {
  default_class_t *d = data;
  if (!is_default(obj, d->annotation) && !is_default(obj, d->beta))
    return true;
  const char *ts = obj_str(obj, "metadata.creationTimestamp");
  const char *name = obj_str(obj, "metadata.name");
  const char *bts = obj_str(d->best, "metadata.creationTimestamp");
  const char *bname = obj_str(d->best, "metadata.name");
  int c = d->best ? strcmp(ts ? ts : "", bts ? bts : "") : 1;
  if (c > 0 || (c == 0 && strcmp(name ? name : "", bname ? bname : "") < 0)) {
    cJSON_Delete(d->best);
    d->best = cJSON_Duplicate(obj, 1);
  }
  return true;
}

/* The name of the default class of res, copied into buf; false if none. */
static bool default_class(api_server_t *srv, const char *group, const char *kind,
                          const char *annotation, const char *beta, char *buf, size_t n) {
  default_class_t d = {.annotation = annotation, .beta = beta};
  api__admission_each(srv, api_registry_find_kind(group, kind), NULL, 0, default_cb, &d);
  const char *name = obj_str(d.best, "metadata.name");
  if (name)
    snprintf(buf, n, "%s", name);
  cJSON_Delete(d.best);
  return name != NULL;
}

static bool has_annotation(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj_get(obj, "metadata.annotations"), key) != NULL;
}

static void default_storage_class(api_admission_t *a) {
  cJSON *spec = obj_child_object(a->obj, "spec");
  if (cJSON_GetObjectItemCaseSensitive(spec, "storageClassName") ||
      has_annotation(a->obj, "volume.beta.kubernetes.io/storage-class"))
    return;
  char name[256];
  if (default_class(a->srv, "storage.k8s.io", "StorageClass",
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class", name, sizeof(name)))
    obj_set_str(spec, "storageClassName", name);
}

static void default_ingress_class(api_admission_t *a) {
  cJSON *spec = obj_child_object(a->obj, "spec");
  if (cJSON_GetObjectItemCaseSensitive(spec, "ingressClassName") ||
      has_annotation(a->obj, "kubernetes.io/ingress.class"))
    return;
  char name[256];
  if (default_class(a->srv, "networking.k8s.io", "IngressClass",
                    "ingressclass.kubernetes.io/is-default-class", NULL, name, sizeof(name)))
    obj_set_str(spec, "ingressClassName", name);
}

int api__admit_defaults(api_admission_t *a, api_status_t *st) {
  (void)st;
  if (a->old || a->sub[0])
    return 0; /* every one of these acts on creation only */
  if (api__admission_is(a, "", "Pod"))
    default_toleration_seconds(a);
  else if (api__admission_is(a, "", "PersistentVolumeClaim"))
    default_storage_class(a);
  else if (api__admission_is(a, "networking.k8s.io", "Ingress"))
    default_ingress_class(a);
  return 0;
}
