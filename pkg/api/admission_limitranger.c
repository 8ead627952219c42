/* LimitRanger admission: the LimitRanges of a namespace give new pods'
 * containers their default limits and requests (recorded in the
 * kubernetes.io/limit-ranger annotation), and bound containers, pods and
 * PersistentVolumeClaims by min, max and maxLimitRequestRatio, in the
 * wording of plugin/pkg/admission/limitranger. Also the LimitRange item
 * defaults (SetDefaults_LimitRangeItem).
 * https://kubernetes.io/docs/concepts/policy/limit-range/
 *
 * Messages print quantities in their canonical form (quantity.c, upstream's
 * String()); comparisons use values rounded up to milli-units, as
 * upstream's MilliValue. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/object.h"
#include "util/quantity.h"
#include "util/alloc.h"
#include "util/buf.h"

#define LR_ERRORS_MAX 32

/* ---- quantities (minimal: value only) ---- */

static int quantity_value(const cJSON *v, long double *ret) {
  if (cJSON_IsNumber(v)) {
    *ret = v->valuedouble;
    return 0;
  }
  if (!cJSON_IsString(v) || !v->valuestring[0])
    return -EINVAL;
  char *end;
  long double x = strtold(v->valuestring, &end);
  if (end == v->valuestring)
    return -EINVAL;
  static const struct {
    const char *suffix;
    long double mult;
  } suffixes[] = {{"", 1},           {"n", 1e-9L},      {"u", 1e-6L},     {"m", 1e-3L},
                  {"k", 1e3L},       {"M", 1e6L},       {"G", 1e9L},      {"T", 1e12L},
                  {"P", 1e15L},      {"E", 1e18L},      {"Ki", 1024.0L},  {"Mi", 1048576.0L},
                  {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
                  {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
  for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
    if (!strcmp(end, suffixes[i].suffix)) {
      *ret = x * suffixes[i].mult;
      return 0;
    }
  /* strtold already took a decimal exponent ("1e3"). */
  return -EINVAL;
}

/* Upstream's String() of a quantity; its text as written if it does not
 * parse (validation refuses such objects before they are stored). */
static void quantity_text(const cJSON *v, char *buf, size_t n) {
  quantity_t q;
  const char *err = NULL;
  int r = -EINVAL;
  if (cJSON_IsString(v))
    r = quantity_parse(v->valuestring, strlen(v->valuestring), &q, &err);
  else if (cJSON_IsNumber(v))
    r = quantity_from_double(v->valuedouble, &q, &err);
  if (r == 0 && quantity_format(&q, buf, n) >= 0)
    return;
  if (cJSON_IsString(v))
    snprintf(buf, n, "%s", v->valuestring);
  else
    snprintf(buf, n, "0");
}

/* MilliValue (rounded up), saturating. */
static long double milli(const cJSON *v) {
  long double x = 0;
  if (!v || quantity_value(v, &x) < 0)
    return 0;
  return ceill(x * 1000.0L);
}

/* ---- LimitRange defaults ---- */

static void copy_missing(cJSON *to, const cJSON *from) {
  const cJSON *kv;
  cJSON_ArrayForEach(kv, from) {
    if (!cJSON_GetObjectItemCaseSensitive(to, kv->string))
      cJSON_AddItemToObject(to, kv->string, cJSON_Duplicate(kv, 1));
  }
}

void api__limitrange_defaults(cJSON *obj) {
  cJSON *l;
  cJSON_ArrayForEach(l, obj_get(obj, "spec.limits")) {
    const char *type = obj_str(l, "type");
    if (!type || strcmp(type, "Container"))
      continue;
    /* default limit from max; default request from the default limit,
     * then from min (SetDefaults_LimitRangeItem) */
    cJSON *def = obj_child_object(l, "default");
    cJSON *req = obj_child_object(l, "defaultRequest");
    copy_missing(def, cJSON_GetObjectItemCaseSensitive(l, "max"));
    copy_missing(req, def);
    copy_missing(req, cJSON_GetObjectItemCaseSensitive(l, "min"));
    if (!def->child)
      cJSON_DeleteItemFromObjectCaseSensitive(l, "default");
    if (!req->child)
      cJSON_DeleteItemFromObjectCaseSensitive(l, "defaultRequest");
  }
}

/* ---- the namespace's LimitRanges ---- */

typedef struct {
  cJSON *items; /* copies */
} ranges_t;

static bool range_cb(const cJSON *lr, void *data) {
  ranges_t *r = data;
  cJSON_AddItemToArray(r->items, cJSON_Duplicate(lr, 1));
  return cJSON_GetArraySize(r->items) < 256;
}

static cJSON *ranges_of(api_admission_t *a) {
  ranges_t r = {.items = cJSON_CreateArray()};
  const char *ns = obj_str(a->obj, "metadata.namespace");
  if (ns && ns[0])
    api__admission_each(a->srv, api_registry_find_kind("", "LimitRange"), ns, 0, range_cb, &r);
  return r.items;
}

/* Whether this request is one LimitRanger acts on. */
static bool supported(const api_admission_t *a) {
  if (a->sub[0])
    return false;
  if (api__admission_is(a, "", "Pod"))
    return !a->old; /* containers cannot change in an update */
  return api__admission_is(a, "", "PersistentVolumeClaim");
}

/* ---- mutation: container defaults ---- */

/* Fill what a container lacks from defaults; note it in b. */
static void merge_container(cJSON *c, const cJSON *limits, const cJSON *requests, const char *what,
                            buf_t *b) {
  cJSON *res = obj_child_object(c, "resources");
  cJSON *have_l = obj_child_object(res, "limits");
  cJSON *have_r = obj_child_object(res, "requests");
  const char *set_r[64], *set_l[64];
  int nr = 0, nl = 0;
  const cJSON *kv;
  cJSON_ArrayForEach(kv, limits) {
    if (!cJSON_GetObjectItemCaseSensitive(have_l, kv->string) && nl < 64) {
      cJSON_AddItemToObject(have_l, kv->string, cJSON_Duplicate(kv, 1));
      set_l[nl++] = kv->string;
    }
  }
  cJSON_ArrayForEach(kv, requests) {
    if (!cJSON_GetObjectItemCaseSensitive(have_r, kv->string) && nr < 64) {
      cJSON_AddItemToObject(have_r, kv->string, cJSON_Duplicate(kv, 1));
      set_r[nr++] = kv->string;
    }
  }
  const char *name = obj_str(c, "name");
  for (int pass = 0; pass < 2; pass++) {
    const char **set = pass ? set_l : set_r;
    int n = pass ? nl : nr;
    if (!n)
      continue;
    for (int i = 1; i < n; i++) /* sort.Strings */
      for (int j = i; j > 0 && strcmp(set[j - 1], set[j]) > 0; j--) {
        const char *t = set[j];
        set[j] = set[j - 1];
        set[j - 1] = t;
      }
    if (b->len)
      buf_append_str(b, "; ");
    for (int i = 0; i < n; i++)
      buf_printf(b, "%s%s", i ? ", " : "", set[i]);
    buf_printf(b, " %s for %s %s", pass ? "limit" : "request", what, name ? name : "");
  }
  if (!have_l->child)
    cJSON_DeleteItemFromObjectCaseSensitive(res, "limits");
  if (!have_r->child)
    cJSON_DeleteItemFromObjectCaseSensitive(res, "requests");
}

/* What SetDefaults_Pod does before admission upstream: a limit without a
 * request is also the request. */
static void requests_from_limits(cJSON *c) {
  cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "resources");
  const cJSON *lim = cJSON_GetObjectItemCaseSensitive(res, "limits");
  if (!cJSON_IsObject(lim) || !lim->child)
    return;
  copy_missing(obj_child_object(res, "requests"), lim);
}

static void mutate_pod(cJSON *pod, const cJSON *lr) {
  cJSON *limits = cJSON_CreateObject(), *requests = cJSON_CreateObject();
  const cJSON *l;
  cJSON_ArrayForEach(l, obj_get(lr, "spec.limits")) {
    const char *type = obj_str(l, "type");
    if (!type || strcmp(type, "Container"))
      continue;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj_get(l, "defaultRequest")) {
      cJSON_DeleteItemFromObjectCaseSensitive(requests, kv->string);
      cJSON_AddItemToObject(requests, kv->string, cJSON_Duplicate(kv, 1));
    }
    cJSON_ArrayForEach(kv, obj_get(l, "default")) {
      cJSON_DeleteItemFromObjectCaseSensitive(limits, kv->string);
      cJSON_AddItemToObject(limits, kv->string, cJSON_Duplicate(kv, 1));
    }
  }
  buf_t b;
  buf_init(&b, 65536);
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
  static const char *const lists[] = {"containers", "initContainers"};
  static const char *const what[] = {"container", "init container"};
  for (size_t i = 0; i < 2; i++) {
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i])) {
      if (!cJSON_IsObject(c))
        continue;
      requests_from_limits(c);
      if (limits->child || requests->child)
        merge_container(c, limits, requests, what[i], &b);
    }
  }
  if (b.len) {
    char *val = xasprintf("LimitRanger plugin set: %s", b.data);
    obj_set_str(obj_child_object(obj_meta(pod), "annotations"), "kubernetes.io/limit-ranger", val);
    free(val);
  }
  buf_done(&b);
  cJSON_Delete(limits);
  cJSON_Delete(requests);
}

int api__admit_limitranger(api_admission_t *a, api_status_t *st) {
  (void)st;
  if (!supported(a) || !api__admission_is(a, "", "Pod"))
    return 0;
  cJSON *ranges = ranges_of(a);
  const cJSON *lr;
  cJSON_ArrayForEach(lr, ranges) mutate_pod(a->obj, lr);
  cJSON_Delete(ranges);
  return 0;
}

/* ---- validation ---- */

typedef struct {
  char *v[LR_ERRORS_MAX];
  int n;
} errors_t;

static void err_add(errors_t *e, char *msg) {
  if (e->n < LR_ERRORS_MAX)
    e->v[e->n++] = msg;
  else
    free(msg);
}

static void min_constraint(errors_t *e, const char *type, const char *name, const cJSON *enforced,
                           const cJSON *requests, const cJSON *limits) {
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(requests, name);
  const cJSON *lim = cJSON_GetObjectItemCaseSensitive(limits, name);
  char es[128], qs[128];
  quantity_text(enforced, es, sizeof(es));
  if (!req) {
    err_add(e, xasprintf("minimum %s usage per %s is %s.  No request is specified", name, type, es));
  } else if (milli(req) < milli(enforced)) {
    quantity_text(req, qs, sizeof(qs));
    err_add(e, xasprintf("minimum %s usage per %s is %s, but request is %s", name, type, es, qs));
  } else if (lim && milli(lim) < milli(enforced)) {
    quantity_text(lim, qs, sizeof(qs));
    err_add(e, xasprintf("minimum %s usage per %s is %s, but limit is %s", name, type, es, qs));
  }
}

static void max_constraint(errors_t *e, const char *type, const char *name, const cJSON *enforced,
                           const cJSON *requests, const cJSON *limits) {
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(requests, name);
  const cJSON *lim = cJSON_GetObjectItemCaseSensitive(limits, name);
  char es[128], qs[128];
  quantity_text(enforced, es, sizeof(es));
  if (!lim) {
    err_add(e, xasprintf("maximum %s usage per %s is %s.  No limit is specified", name, type, es));
  } else if (milli(lim) > milli(enforced)) {
    quantity_text(lim, qs, sizeof(qs));
    err_add(e, xasprintf("maximum %s usage per %s is %s, but limit is %s", name, type, es, qs));
  } else if (req && milli(req) > milli(enforced)) {
    quantity_text(req, qs, sizeof(qs));
    err_add(e, xasprintf("maximum %s usage per %s is %s, but request is %s", name, type, es, qs));
  }
}

/* PVCs: max applies to the request only. */
static void max_request_constraint(errors_t *e, const char *type, const char *name,
                                   const cJSON *enforced, const cJSON *requests) {
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(requests, name);
  char es[128], qs[128];
  quantity_text(enforced, es, sizeof(es));
  if (!req) {
    err_add(e, xasprintf("maximum %s usage per %s is %s.  No request is specified", name, type, es));
  } else if (milli(req) > milli(enforced)) {
    quantity_text(req, qs, sizeof(qs));
    err_add(e, xasprintf("maximum %s usage per %s is %s, but request is %s", name, type, es, qs));
  }
}

static void ratio_constraint(errors_t *e, const char *type, const char *name, const cJSON *enforced,
                             const cJSON *requests, const cJSON *limits) {
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(requests, name);
  const cJSON *lim = cJSON_GetObjectItemCaseSensitive(limits, name);
  char es[128];
  quantity_text(enforced, es, sizeof(es));
  long double r = milli(req), l = milli(lim);
  if (!req || r == 0) {
    err_add(e, xasprintf("%s max limit to request ratio per %s is %s, but no request is specified "
                         "or request is 0",
                         name, type, es));
    return;
  }
  if (!lim || l == 0) {
    err_add(e, xasprintf("%s max limit to request ratio per %s is %s, but no limit is specified or "
                         "limit is 0",
                         name, type, es));
    return;
  }
  double observed = (double)(l / r);
  if ((long double)observed * 1000.0L > milli(enforced))
    err_add(e, xasprintf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name,
                         type, es, observed));
}

/* One container (or the pod's sums) against one LimitRange item. */
static void check_item(errors_t *e, const cJSON *item, const char *type, const cJSON *requests,
                       const cJSON *limits) {
  const cJSON *kv;
  cJSON_ArrayForEach(kv, obj_get(item, "min")) min_constraint(e, type, kv->string, kv, requests,
                                                              limits);
  cJSON_ArrayForEach(kv, obj_get(item, "max")) max_constraint(e, type, kv->string, kv, requests,
                                                              limits);
  cJSON_ArrayForEach(kv, obj_get(item, "maxLimitRequestRatio"))
      ratio_constraint(e, type, kv->string, kv, requests, limits);
}

/* The pod's effective requests or limits: the sum over containers, and at
 * least the largest init container (upstream podRequests/podLimits, without
 * sidecars or overhead). Values are numbers in base units. */
static cJSON *pod_totals(const cJSON *spec, const char *which) {
  cJSON *sum = cJSON_CreateObject();
  const cJSON *c, *kv;
  cJSON_ArrayForEach(c, obj_get(spec, "containers")) {
    cJSON_ArrayForEach(kv, obj_get(c, which)) {
      long double v = 0;
      quantity_value(kv, &v);
      cJSON *have = cJSON_GetObjectItemCaseSensitive(sum, kv->string);
      if (have)
        cJSON_SetNumberValue(have, have->valuedouble + (double)v);
      else
        cJSON_AddNumberToObject(sum, kv->string, (double)v);
    }
  }
  cJSON_ArrayForEach(c, obj_get(spec, "initContainers")) {
    cJSON_ArrayForEach(kv, obj_get(c, which)) {
      long double v = 0;
      quantity_value(kv, &v);
      cJSON *have = cJSON_GetObjectItemCaseSensitive(sum, kv->string);
      if (!have)
        cJSON_AddNumberToObject(sum, kv->string, (double)v);
      else if (have->valuedouble < (double)v)
        cJSON_SetNumberValue(have, (double)v);
    }
  }
  /* A total prints as upstream's quantity of base units: cpu in m. */
  cJSON *out = cJSON_CreateObject();
  cJSON_ArrayForEach(kv, sum) {
    char text[64];
    double v = kv->valuedouble;
    if (!strcmp(kv->string, "cpu") && v != (double)(long long)v)
      snprintf(text, sizeof(text), "%.0fm", ceil(v * 1000));
    else
      snprintf(text, sizeof(text), "%.0f", ceil(v));
    cJSON_AddStringToObject(out, kv->string, text);
  }
  cJSON_Delete(sum);
  return out;
}

static void validate_pod(errors_t *e, const cJSON *pod, const cJSON *lr) {
  const cJSON *spec = obj_get(pod, "spec");
  const cJSON *item;
  cJSON_ArrayForEach(item, obj_get(lr, "spec.limits")) {
    const char *type = obj_str(item, "type");
    if (!type)
      continue;
    if (!strcmp(type, "Container")) {
      static const char *const lists[] = {"containers", "initContainers"};
      for (size_t i = 0; i < 2; i++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, obj_get(spec, lists[i])) check_item(
            e, item, type, obj_get(c, "resources.requests"), obj_get(c, "resources.limits"));
      }
    } else if (!strcmp(type, "Pod")) {
      cJSON *req = pod_totals(spec, "resources.requests");
      cJSON *lim = pod_totals(spec, "resources.limits");
      check_item(e, item, type, req, lim);
      cJSON_Delete(req);
      cJSON_Delete(lim);
    }
  }
}

static void validate_pvc(errors_t *e, const cJSON *pvc, const cJSON *lr) {
  const cJSON *requests = obj_get(pvc, "spec.resources.requests");
  const cJSON *item;
  cJSON_ArrayForEach(item, obj_get(lr, "spec.limits")) {
    const char *type = obj_str(item, "type");
    if (!type || strcmp(type, "PersistentVolumeClaim"))
      continue;
    const cJSON *kv;
    cJSON *none = cJSON_CreateObject();
    cJSON_ArrayForEach(kv, obj_get(item, "min")) min_constraint(e, type, kv->string, kv, requests,
                                                                none);
    cJSON_ArrayForEach(kv, obj_get(item, "max")) max_request_constraint(e, type, kv->string, kv,
                                                                        requests);
    cJSON_Delete(none);
  }
}

int api__validate_limitranger(api_admission_t *a, api_status_t *st) {
  if (!supported(a))
    return 0;
  bool pod = api__admission_is(a, "", "Pod");
  cJSON *ranges = ranges_of(a);
  int r = 0;
  const cJSON *lr;
  cJSON_ArrayForEach(lr, ranges) {
    errors_t e = {0};
    if (pod)
      validate_pod(&e, a->obj, lr);
    else
      validate_pvc(&e, a->obj, lr);
    if (e.n) {
      /* utilerrors.NewAggregate: one message, or [a, b] */
      buf_t b;
      buf_init(&b, 65536);
      if (e.n > 1)
        buf_append_str(&b, "[");
      for (int i = 0; i < e.n; i++) {
        buf_printf(&b, "%s%s", i ? ", " : "", e.v[i]);
        free(e.v[i]);
      }
      if (e.n > 1)
        buf_append_str(&b, "]");
      api__admission_forbidden(a, st, b.data);
      buf_done(&b);
      r = -EPERM;
      break;
    }
  }
  cJSON_Delete(ranges);
  return r;
}
