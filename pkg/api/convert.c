/* Kinds served in more than one version with one stored form: the
 * conversions (autoscaling/v1 <-> v2 HorizontalPodAutoscaler,
 * events.k8s.io/v1 <-> v1 Event) and the request/response edges that apply
 * them. Everything else in pkg/api works on the stored form.
 * https://kubernetes.io/docs/reference/using-api/#api-versioning */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/convwebhook.h"
#include "api/crd.h"
#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"

/* ---- field moves ---- */

/* Move member from of src to member to of dst (dst created when needed). */
static void move(cJSON *src, const char *from, cJSON *dst, const char *to) {
  cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(src, from);
  if (v)
    obj_set(dst, to, v);
}

/* ---- HorizontalPodAutoscaler: autoscaling/v1 <-> autoscaling/v2 ---- */

/* [{"type":"Resource","resource":{"name":"cpu",<which>:{...,"averageUtilization":v}}}]:
 * a v2 metric list holding v1's one CPU figure (which: "target" or "current"). */
static cJSON *cpu_metrics(const char *which, double v) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "type", "Resource");
  cJSON *res = cJSON_AddObjectToObject(m, "resource");
  cJSON_AddStringToObject(res, "name", "cpu");
  cJSON *value = cJSON_AddObjectToObject(res, which);
  if (!strcmp(which, "target"))
    cJSON_AddStringToObject(value, "type", "Utilization");
  cJSON_AddNumberToObject(value, "averageUtilization", v);
  cJSON *metrics = cJSON_CreateArray();
  cJSON_AddItemToArray(metrics, m);
  return metrics;
}

static void hpa_to_v2(cJSON *obj) {
  obj_set_str(obj, "apiVersion", "autoscaling/v2");
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  cJSON *cpu = spec ? cJSON_DetachItemFromObjectCaseSensitive(spec, "targetCPUUtilizationPercentage")
                    : NULL;
  if (cJSON_IsNumber(cpu))
    obj_set(spec, "metrics", cpu_metrics("target", cpu->valuedouble));
  cJSON_Delete(cpu);
  cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
  cJSON *cur = status ? cJSON_DetachItemFromObjectCaseSensitive(status, "currentCPUUtilizationPercentage")
                      : NULL;
  if (cJSON_IsNumber(cur))
    obj_set(status, "currentMetrics", cpu_metrics("current", cur->valuedouble));
  cJSON_Delete(cur);
}

/* v2 -> v1 keeps the CPU utilization target, which is all v1 can say;
 * other metrics are not visible through v1. */
static void hpa_to_v1(cJSON *obj) {
  obj_set_str(obj, "apiVersion", "autoscaling/v1");
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (spec) {
    cJSON *metrics = cJSON_DetachItemFromObjectCaseSensitive(spec, "metrics");
    const cJSON *m;
    cJSON_ArrayForEach(m, metrics) {
      const char *name = obj_str(m, "resource.name"), *type = obj_str(m, "resource.target.type");
      const cJSON *u = obj_get(m, "resource.target.averageUtilization");
      if (name && !strcmp(name, "cpu") && type && !strcmp(type, "Utilization") && cJSON_IsNumber(u))
        obj_set(spec, "targetCPUUtilizationPercentage", cJSON_CreateNumber(u->valuedouble));
    }
    cJSON_Delete(metrics);
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "behavior");
  }
  cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
  if (status) {
    cJSON *metrics = cJSON_DetachItemFromObjectCaseSensitive(status, "currentMetrics");
    const cJSON *m;
    cJSON_ArrayForEach(m, metrics) {
      const char *name = obj_str(m, "resource.name");
      const cJSON *u = obj_get(m, "resource.current.averageUtilization");
      if (name && !strcmp(name, "cpu") && cJSON_IsNumber(u))
        obj_set(status, "currentCPUUtilizationPercentage", cJSON_CreateNumber(u->valuedouble));
    }
    cJSON_Delete(metrics);
    cJSON_DeleteItemFromObjectCaseSensitive(status, "conditions");
  }
}

const api_hooks_t api_kind_hpa_v1 = {.storage_version = "autoscaling/v2",
                                     .to_storage = hpa_to_v2,
                                     .from_storage = hpa_to_v1};

/* ---- Event: events.k8s.io/v1 <-> v1 ---- */

static const char *const event_renames[][2] = {
    /* events.k8s.io/v1 name, v1 name */
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"reportingController", "reportingComponent"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
};

void api__event_to_core(cJSON *obj) {
  obj_set_str(obj, "apiVersion", "v1");
  for (size_t i = 0; i < sizeof(event_renames) / sizeof(event_renames[0]); i++)
    move(obj, event_renames[i][0], obj, event_renames[i][1]);
}

void api__event_from_core(cJSON *obj) {
  obj_set_str(obj, "apiVersion", "events.k8s.io/v1");
  for (size_t i = 0; i < sizeof(event_renames) / sizeof(event_renames[0]); i++)
    move(obj, event_renames[i][1], obj, event_renames[i][0]);
}

/* ---- request and response edges ---- */

bool api__converts(const api_resource_t *view) {
  return view && view->storage && view->storage != view &&
         (view->hooks->to_storage || view->custom);
}

bool api__converts_by_webhook(const api_resource_t *view) {
  return api__converts(view) && view->custom && api__crd_conversion_webhook(view, NULL);
}

/* objs into apiVersion to: custom resources through their webhook
 * (strategy Webhook, one review for all) or by changing apiVersion only
 * (strategy None); built-in kinds through their hooks. */
static int convert_many(const api_resource_t *view, bool to_storage, cJSON **objs, size_t n,
                        bool list, api_status_t *st) {
  const char *to = to_storage ? view->storage->group_version : view->group_version;
  if (view->custom && api__crd_conversion_webhook(view, NULL)) {
    const cJSON *first = NULL;
    for (size_t i = 0; i < n && !first; i++)
      first = objs[i];
    if (!first)
      return 0;
    char gvk[512];
    const char *api = obj_str(first, "apiVersion"), *kind = obj_str(first, "kind");
    snprintf(gvk, sizeof(gvk), "%s, Kind=%s%s", api ? api : "", kind ? kind : "", list ? "List" : "");
    return api__conversion_webhook(view, objs, n, to, gvk, list, st);
  }
  for (size_t i = 0; i < n; i++) {
    if (!objs[i])
      continue;
    if (view->custom)
      obj_set_str(objs[i], "apiVersion", to);
    else if (to_storage)
      view->hooks->to_storage(objs[i]);
    else
      view->hooks->from_storage(objs[i]);
  }
  return 0;
}

int api__to_storage(const api_resource_t *view, cJSON *obj, api_status_t *st) {
  if (!api__converts(view))
    return 0;
  memset(st, 0, sizeof(*st));
  if (api__check_type(view, obj, st) < 0)
    return -1;
  if (view->hooks->validate) {
    view->hooks->validate(obj, NULL, st);
    if (st->causes) {
      api_status_invalid(st, view->s->group, view->s->kind, obj_str(obj, "metadata.name"));
      return -1;
    }
  }
  return convert_many(view, true, &obj, 1, false, st) < 0 ? -1 : 0;
}

int api__from_storage(const api_resource_t *view, cJSON *obj, api_status_t *st) {
  memset(st, 0, sizeof(*st));
  if (!api__converts(view) || !obj)
    return 0;
  return convert_many(view, false, &obj, 1, false, st) < 0 ? -1 : 0;
}

int api__from_storage_many(const api_resource_t *view, cJSON **objs, size_t n, api_status_t *st) {
  memset(st, 0, sizeof(*st));
  if (!api__converts(view))
    return 0;
  return convert_many(view, false, objs, n, true, st) < 0 ? -1 : 0;
}

char *api__view_bytes(const api_resource_t *view, const char *json, size_t len, size_t *ret_len,
                      api_status_t *st) {
  memset(st, 0, sizeof(*st));
  if (!api__converts(view))
    return NULL;
  cJSON *obj = cJSON_ParseWithLength(json, len);
  if (!obj)
    return NULL;
  if (convert_many(view, false, &obj, 1, false, st) < 0) {
    cJSON_Delete(obj);
    return NULL;
  }
  char *s = cJSON_PrintUnformatted(obj);
  cJSON_Delete(obj);
  *ret_len = strlen(s);
  return s;
}

void api__respond_view_obj(http_req_t *req, int code, const api_resource_t *view, cJSON *obj) {
  api_status_t st;
  if (api__from_storage(view, obj, &st) < 0) {
    cJSON_Delete(obj);
    api__respond_status(req, &st);
    return;
  }
  api__respond_obj(req, code, obj);
}

void api__respond_stored(http_req_t *req, int code, const api_resource_t *view, const char *json,
                         size_t len) {
  size_t n;
  api_status_t st;
  char *conv = api__view_bytes(view, json, len, &n, &st);
  if (st.code) {
    api__respond_status(req, &st);
    return;
  }
  api__audit_response_json(api__request_audit(req), code, conv ? conv : json, conv ? n : len);
  if (conv && api__respond_yaml(req, code, conv, n))
    free(conv);
  else if (conv)
    api__respond_json(req, code, "application/json", conv, n);
  else
    api__respond_bytes(req, code, json, len);
}

const api_resource_t *api__table_row(const api_resource_t *view) {
  /* custom versions keep their own printer columns */
  return api__converts(view) && !view->hooks->cell && !view->custom ? view->storage : view;
}

int api__table_add_stored(cJSON *table, const api_resource_t *view, cJSON *obj,
                          const char *include, api_status_t *st) {
  const api_resource_t *row = api__table_row(view);
  if (row == view && api__from_storage(view, obj, st) < 0)
    return -1;
  memset(st, 0, sizeof(*st));
  api__table_add_row(table, row, obj, include);
  return 0;
}
