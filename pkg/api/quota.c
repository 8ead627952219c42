/* Quota usage of objects (quota.h): upstream's core evaluators (pods,
 * services, persistentvolumeclaims) and the object-count one, and the
 * quantity sums the admission plugin and the controller compare. */
#include "api/quota.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/quantity.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/buf.h"

#define RL_MAX 32 /* distinct resource names per pod */

typedef struct {
  char name[128];
  quantity_t q;
} rl_item_t;

typedef struct {
  rl_item_t it[RL_MAX];
  int n;
} rl_t;

static const char *jstr(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int qparse(const cJSON *v, quantity_t *q) {
  const char *err;
  if (cJSON_IsString(v))
    return quantity_parse(v->valuestring, strlen(v->valuestring), q, &err);
  if (cJSON_IsNumber(v))
    return quantity_from_double(v->valuedouble, q, &err);
  return -EINVAL;
}

static void set_q(cJSON *u, const char *name, const quantity_t *q) {
  char buf[QUANTITY_STR_MAX];
  if (quantity_format(q, buf, sizeof(buf)) < 0)
    return;
  cJSON_DeleteItemFromObjectCaseSensitive(u, name);
  cJSON_AddStringToObject(u, name, buf);
}

static void set_one(cJSON *u, const char *name) {
  cJSON_DeleteItemFromObjectCaseSensitive(u, name);
  cJSON_AddStringToObject(u, name, "1");
}

static void set_int(cJSON *u, const char *name, int n) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%d", n);
  cJSON_DeleteItemFromObjectCaseSensitive(u, name);
  cJSON_AddStringToObject(u, name, buf);
}

static rl_item_t *rl_find(rl_t *rl, const char *name, bool add) {
  for (int i = 0; i < rl->n; i++)
    if (!strcmp(rl->it[i].name, name))
      return &rl->it[i];
  if (!add || rl->n == RL_MAX)
    return NULL;
  rl_item_t *it = &rl->it[rl->n++];
  snprintf(it->name, sizeof(it->name), "%s", name);
  memset(&it->q, 0, sizeof(it->q));
  return it;
}

/* rl[k] += list[k] (sum) or rl[k] = max(rl[k], list[k]). only_present: add
 * only to names rl has (upstream adds overhead to limits that are set). */
static void rl_merge(rl_t *rl, const cJSON *list, bool max, bool only_present) {
  const cJSON *v;
  cJSON_ArrayForEach(v, list) {
    quantity_t q;
    if (!v->string || qparse(v, &q) < 0)
      continue;
    rl_item_t *it = rl_find(rl, v->string, !only_present);
    if (!it)
      continue;
    if (max) {
      if (quantity_cmp(&q, &it->q) > 0)
        it->q = q;
    } else {
      quantity_add(&it->q, &q);
    }
  }
}

/* resourcehelper.PodRequests / PodLimits (without in-place resize). */
static void pod_resources(const cJSON *pod, const char *which, rl_t *out) {
  memset(out, 0, sizeof(*out));
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers"))
    rl_merge(out, json_get_path(json_get_path(c, "resources"), which), false, false);
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.initContainers"))
    rl_merge(out, json_get_path(json_get_path(c, "resources"), which), true, false);
  rl_merge(out, json_get_path(pod, "spec.overhead"), false, !strcmp(which, "limits"));
}

static bool has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* podComputeUsageHelper */
static void compute_usage(cJSON *u, rl_t *req, rl_t *lim) {
  set_one(u, "pods");
  static const char *const basic[] = {"cpu", "memory", "ephemeral-storage"};
  char name[160];
  for (size_t i = 0; i < 3; i++) {
    rl_item_t *r = rl_find(req, basic[i], false), *l = rl_find(lim, basic[i], false);
    if (r) {
      set_q(u, basic[i], &r->q);
      snprintf(name, sizeof(name), "requests.%s", basic[i]);
      set_q(u, name, &r->q);
    }
    if (l) {
      snprintf(name, sizeof(name), "limits.%s", basic[i]);
      set_q(u, name, &l->q);
    }
  }
  for (int i = 0; i < req->n; i++) {
    const char *rn = req->it[i].name;
    if (has_prefix(rn, "hugepages-")) {
      set_q(u, rn, &req->it[i].q);
      snprintf(name, sizeof(name), "requests.%s", rn);
      set_q(u, name, &req->it[i].q);
    } else if (strchr(rn, '/') && !has_prefix(rn, "kubernetes.io/") &&
               !has_prefix(rn, "requests.")) { /* extended resources */
      snprintf(name, sizeof(name), "requests.%s", rn);
      set_q(u, name, &req->it[i].q);
    }
  }
}

static bool pod_terminal(const cJSON *pod) {
  const char *phase = jstr(pod, "status.phase");
  return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

static void count_name(char *out, size_t len, const char *group, const char *resource) {
  if (group && *group)
    snprintf(out, len, "count/%s.%s", resource, group);
  else
    snprintf(out, len, "count/%s", resource);
}

static bool core_legacy(const char *resource) {
  static const char *const names[] = {"pods", "services", "configmaps", "secrets",
                                      "persistentvolumeclaims", "replicationcontrollers",
                                      "resourcequotas"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (!strcmp(resource, names[i]))
      return true;
  return false;
}

cJSON *api_quota_usage(const char *group, const char *resource, const cJSON *obj) {
  cJSON *u = cJSON_CreateObject();
  char name[400];
  count_name(name, sizeof(name), group, resource);
  set_one(u, name);
  bool core = !group || !*group;
  if (core && !strcmp(resource, "pods")) {
    if (pod_terminal(obj))
      return u; /* count/pods only: a finished pod holds no compute */
    rl_t req, lim;
    pod_resources(obj, "requests", &req);
    pod_resources(obj, "limits", &lim);
    compute_usage(u, &req, &lim);
    return u;
  }
  if (core && core_legacy(resource))
    set_one(u, resource);
  if (core && !strcmp(resource, "services")) {
    const char *type = jstr(obj, "spec.type");
    int ports = cJSON_GetArraySize(json_get_path(obj, "spec.ports"));
    if (type && !strcmp(type, "NodePort")) {
      set_int(u, "services.nodeports", ports);
    } else if (type && !strcmp(type, "LoadBalancer")) {
      if (cJSON_IsFalse(json_get_path(obj, "spec.allocateLoadBalancerNodePorts"))) {
        int n = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, json_get_path(obj, "spec.ports")) {
          const cJSON *np = cJSON_GetObjectItemCaseSensitive(p, "nodePort");
          n += cJSON_IsNumber(np) && np->valueint != 0;
        }
        set_int(u, "services.nodeports", n);
      } else {
        set_int(u, "services.nodeports", ports);
      }
      set_one(u, "services.loadbalancers");
    }
  }
  if (core && !strcmp(resource, "persistentvolumeclaims")) {
    const char *sc = jstr(obj, "spec.storageClassName");
    quantity_t q;
    bool has = qparse(json_get_path(obj, "spec.resources.requests.storage"), &q) == 0;
    if (has)
      set_q(u, "requests.storage", &q);
    if (sc && *sc) {
      snprintf(name, sizeof(name), "%s.storageclass.storage.k8s.io/persistentvolumeclaims", sc);
      set_one(u, name);
      if (has) {
        snprintf(name, sizeof(name), "%s.storageclass.storage.k8s.io/requests.storage", sc);
        set_q(u, name, &q);
      }
    }
  }
  return u;
}

bool api_quota_matches(const char *group, const char *resource, const char *name) {
  char cn[400];
  count_name(cn, sizeof(cn), group, resource);
  if (!strcmp(name, cn))
    return true;
  bool core = !group || !*group;
  if (!core)
    return false;
  if (!strcmp(resource, name) && core_legacy(resource))
    return true;
  if (!strcmp(resource, "pods"))
    return !strcmp(name, "cpu") || !strcmp(name, "memory") || !strcmp(name, "ephemeral-storage") ||
           has_prefix(name, "requests.") || has_prefix(name, "limits.") ||
           has_prefix(name, "hugepages-");
  if (!strcmp(resource, "services"))
    return !strcmp(name, "services.nodeports") || !strcmp(name, "services.loadbalancers");
  if (!strcmp(resource, "persistentvolumeclaims"))
    return !strcmp(name, "requests.storage") ||
           (strstr(name, ".storageclass.storage.k8s.io/") != NULL);
  return false;
}

int api_quota_add(cJSON *total, const cJSON *usage) {
  const cJSON *v;
  cJSON_ArrayForEach(v, usage) {
    quantity_t a, b;
    if (qparse(v, &b) < 0)
      return -EINVAL;
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(total, v->string);
    if (cur) {
      if (qparse(cur, &a) < 0)
        return -EINVAL;
      if (quantity_add(&a, &b) < 0)
        return -ERANGE;
    } else {
      a = b;
    }
    a.text[0] = '\0'; /* the sum's canonical form, not an operand's text */
    set_q(total, v->string, &a);
  }
  return 0;
}

int api_quota_cmp(const char *a, const char *b) {
  quantity_t qa, qb;
  const char *err;
  if (!a || !b || quantity_parse(a, strlen(a), &qa, &err) < 0 ||
      quantity_parse(b, strlen(b), &qb, &err) < 0)
    return -2;
  return quantity_cmp(&qa, &qb);
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char *api_quota_pod_missing(const cJSON *pod, const cJSON *required) {
  static const char *const validation[] = {"cpu", "limits.cpu", "limits.memory", "memory",
                                           "requests.cpu", "requests.memory"}; /* sorted */
  buf_t b;
  buf_init(&b, 64 << 10);
  for (size_t i = 0; i < 6; i++) {
    const char *rn = validation[i];
    bool wanted = false;
    const cJSON *r;
    cJSON_ArrayForEach(r, required) {
      if (cJSON_IsString(r) && !strcmp(r->valuestring, rn))
        wanted = true;
    }
    if (!wanted)
      continue;
    const char *names[256];
    size_t n = 0;
    const char *lists[] = {"spec.containers", "spec.initContainers"};
    for (size_t l = 0; l < 2; l++) {
      const cJSON *c;
      cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "resources");
        const char *base = strchr(rn, '.') ? strchr(rn, '.') + 1 : rn;
        const char *which = has_prefix(rn, "limits.") ? "limits" : "requests";
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(res, which), base);
        const char *cn = jstr(c, "name");
        if (!set && cn && n < 256)
          names[n++] = cn;
      }
    }
    if (!n)
      continue;
    qsort(names, n, sizeof(char *), str_cmp);
    buf_printf(&b, "%s%s for: ", b.len ? "; " : "", rn);
    for (size_t k = 0; k < n; k++)
      if (!k || strcmp(names[k], names[k - 1]))
        buf_printf(&b, "%s%s", k ? "," : "", names[k]);
  }
  if (!b.len) {
    buf_done(&b);
    return NULL;
  }
  char *out = xstrndup(b.data, b.len);
  buf_done(&b);
  return out;
}
