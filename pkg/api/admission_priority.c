/* Priority admission: a new pod's priorityClassName is resolved to
 * spec.priority and spec.preemptionPolicy from its PriorityClass (the
 * globalDefault class when none is named, priority 0 when there is none);
 * an unknown class and a priority the pod sets itself differently are
 * refused; updates keep what creation resolved; only one PriorityClass may
 * be the global default. Wording of plugin/pkg/admission/priority.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/object.h"
#include "util/alloc.h"

static const api_resource_t *priorityclasses(void) {
  return api_registry_find_kind("scheduling.k8s.io", "PriorityClass");
}

typedef struct {
  cJSON *best; /* the default class (copy), lowest value among several */
} default_t;

static bool default_cb(const cJSON *pc, void *data) {
  default_t *d = data;
  if (!cJSON_IsTrue(obj_get(pc, "globalDefault")))
    return true;
  const cJSON *v = obj_get(pc, "value"), *bv = obj_get(d->best, "value");
  if (!d->best || (cJSON_IsNumber(v) && cJSON_IsNumber(bv) && v->valuedouble < bv->valuedouble)) {
    cJSON_Delete(d->best);
    d->best = cJSON_Duplicate(pc, 1);
  }
  return true;
}

/* The global default PriorityClass (new object) or NULL. */
static cJSON *default_class(api_server_t *srv) {
  default_t d = {0};
  api__admission_each(srv, priorityclasses(), NULL, 0, default_cb, &d);
  return d.best;
}

static cJSON *find_class(api_server_t *srv, const char *name) {
  char *key = api_resource_key(priorityclasses(), NULL, name);
  store_kv_t *kv = NULL;
  int r = store_get_latest(srv->store, key, &kv);
  free(key);
  if (r < 0)
    return NULL;
  cJSON *pc = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  return pc;
}

static int admit_pod_create(api_admission_t *a, api_status_t *st) {
  cJSON *spec = obj_child_object(a->obj, "spec");
  const char *name = obj_str(spec, "priorityClassName");
  cJSON *pc = NULL;
  double priority = 0;
  const char *policy = "PreemptLowerPriority";
  if (!name || !name[0]) {
    pc = default_class(a->srv);
    if (pc)
      obj_set_str(spec, "priorityClassName", obj_str(pc, "metadata.name"));
  } else {
    pc = find_class(a->srv, name);
    if (!pc) {
      char *why = xasprintf("no PriorityClass with name %s was found", name);
      api__admission_forbidden(a, st, why);
      free(why);
      return -EPERM;
    }
  }
  if (pc) {
    const cJSON *v = obj_get(pc, "value");
    priority = cJSON_IsNumber(v) ? v->valuedouble : 0;
    policy = obj_str(pc, "preemptionPolicy");
  }
  int r = 0;
  const cJSON *have = obj_get(spec, "priority");
  if (cJSON_IsNumber(have) && have->valuedouble != priority) {
    char *why = xasprintf("the integer value of priority (%.0f) must not be provided in pod spec; "
                          "priority admission controller computed %.0f from the given "
                          "PriorityClass name",
                          have->valuedouble, priority);
    api__admission_forbidden(a, st, why);
    free(why);
    r = -EPERM;
    goto out;
  }
  obj_set(spec, "priority", cJSON_CreateNumber(priority));
  if (policy) {
    const char *want = obj_str(spec, "preemptionPolicy");
    if (want && strcmp(want, policy)) {
      char *why = xasprintf("the string value of PreemptionPolicy (%s) must not be provided in pod "
                            "spec; priority admission controller computed %s from the given "
                            "PriorityClass name",
                            want, policy);
      api__admission_forbidden(a, st, why);
      free(why);
      r = -EPERM;
      goto out;
    }
    obj_set_str(spec, "preemptionPolicy", policy);
  }
out:
  cJSON_Delete(pc);
  return r;
}

/* What creation resolved stays when an update leaves it out. */
static void admit_pod_update(api_admission_t *a) {
  cJSON *spec = obj_child_object(a->obj, "spec");
  static const char *const keep[] = {"priority", "preemptionPolicy"};
  for (size_t i = 0; i < 2; i++) {
    const cJSON *old = obj_get(a->old, i ? "spec.preemptionPolicy" : "spec.priority");
    if (old && !cJSON_GetObjectItemCaseSensitive(spec, keep[i]))
      obj_set(spec, keep[i], cJSON_Duplicate(old, 1));
  }
}

int api__admit_priority(api_admission_t *a, api_status_t *st) {
  if (a->sub[0] || !api__admission_is(a, "", "Pod"))
    return 0;
  if (a->old) {
    admit_pod_update(a);
    return 0;
  }
  return admit_pod_create(a, st);
}

int api__validate_priority(api_admission_t *a, api_status_t *st) {
  if (a->sub[0] || !api__admission_is(a, "scheduling.k8s.io", "PriorityClass"))
    return 0;
  if (!cJSON_IsTrue(obj_get(a->obj, "globalDefault")))
    return 0;
  cJSON *dpc = default_class(a->srv);
  const char *dname = obj_str(dpc, "metadata.name");
  const char *name = obj_str(a->obj, "metadata.name");
  int r = 0;
  if (dname && (!a->old || !name || strcmp(dname, name))) {
    char *why = xasprintf("PriorityClass %s is already marked as default. Only one default can "
                          "exist",
                          dname);
    api__admission_forbidden(a, st, why);
    free(why);
    r = -EPERM;
  }
  cJSON_Delete(dpc);
  return r;
}
