/* The disruption controller (disruption.h): PodDisruptionBudget status
 * from the pods its selector matches, as upstream's
 * pkg/controller/disruption computes it. Where k3c differs: expectedPods is
 * the number of matching pods also for percentages and maxUnavailable
 * (upstream asks the pods' controllers for their scale). */
#include "controller/disruption.h"

#include "controller/internal.h"
#include "util/alloc.h"

#include "json/selector.h"
#include "json/util.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "disruption-controller"
#define DELETION_TIMEOUT 120 /* seconds a disrupted pod is not counted healthy */

typedef struct op op_t;
struct op {
  controller_disruption_t *dc;
  client_req_t *req;
  op_t *prev, *next;
  char *key;
};

struct controller_disruption {
  client_t *c;
  client_informer_t *pdbs, *pods;
  controller_t *ctl;
  op_t *ops;
};

static void op_unlink(op_t *o) {
  if (o->prev)
    o->prev->next = o->next;
  else
    o->dc->ops = o->next;
  if (o->next)
    o->next->prev = o->prev;
  free(o->key);
  free(o);
}

static void status_done(const client_result_t *res, void *data) {
  op_t *o = data;
  controller_disruption_t *dc = o->dc;
  char *key = xstrdup(o->key);
  op_unlink(o);
  controller_done(dc->ctl, key, res->code == 200 ? 0 : -EAGAIN);
  free(key);
}

static bool pod_ready(const cJSON *pod) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = controller__str(c, "type"), *s = controller__str(c, "status");
    if (t && s && !strcmp(t, "Ready"))
      return !strcmp(s, "True");
  }
  return false;
}

/* An IntOrString against total (percentages round up, as upstream's
 * GetScaledValueFromIntOrPercent(..., true)). */
static int scaled(const cJSON *v, int total) {
  if (cJSON_IsNumber(v))
    return v->valueint;
  if (cJSON_IsString(v)) {
    char *end;
    double pct = strtod(v->valuestring, &end);
    if (*end == '%')
      return (int)ceil(pct * total / 100.0);
    return (int)pct;
  }
  return 0;
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_disruption_t *dc = data;
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *pdb = client_informer_get(dc->pdbs, ns, name);
  if (!pdb) {
    controller_done(ctl, key, 0);
    return;
  }
  label_selector_t *sel = NULL;
  char err[128];
  const cJSON *js = json_get_path(pdb, "spec.selector");
  if (cJSON_IsObject(js))
    label_selector_from_json(js, &sel, err, sizeof(err));
  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(dc->pods), CLIENT_INDEX_NAMESPACE, ns, &n);
  time_t now = time(NULL);
  const cJSON *disrupted = json_get_path(pdb, "status.disruptedPods");
  cJSON *keep = cJSON_CreateObject();
  int expected = 0, healthy = 0;
  for (size_t i = 0; pods && sel && i < n; i++) {
    /* v1: an empty selector matches every pod in the namespace */
    if (!label_selector_match(sel, json_get_path(pods[i], "metadata.labels")))
      continue;
    expected++;
    if (json_get_path(pods[i], "metadata.deletionTimestamp"))
      continue;
    const char *pname = controller__str(pods[i], "metadata.name");
    const cJSON *when = pname ? cJSON_GetObjectItemCaseSensitive(disrupted, pname) : NULL;
    if (cJSON_IsString(when) && now - controller__time(when->valuestring) < DELETION_TIMEOUT) {
      cJSON_AddStringToObject(keep, pname, when->valuestring);
      continue; /* being evicted: not healthy */
    }
    if (pod_ready(pods[i]))
      healthy++;
  }
  free(pods);
  label_selector_free(sel);
  const cJSON *min = json_get_path(pdb, "spec.minAvailable");
  const cJSON *max = json_get_path(pdb, "spec.maxUnavailable");
  int desired = 0;
  if (max)
    desired = expected - scaled(max, expected);
  else if (min)
    desired = scaled(min, expected);
  if (desired < 0)
    desired = 0;
  int allowed = healthy - desired > 0 ? healthy - desired : 0;

  cJSON *st = cJSON_CreateObject();
  double gen = controller__num(pdb, "metadata.generation", 0);
  cJSON_AddNumberToObject(st, "observedGeneration", gen);
  if (keep->child)
    cJSON_AddItemToObject(st, "disruptedPods", keep);
  else
    cJSON_Delete(keep);
  cJSON_AddNumberToObject(st, "disruptionsAllowed", allowed);
  cJSON_AddNumberToObject(st, "currentHealthy", healthy);
  cJSON_AddNumberToObject(st, "desiredHealthy", desired);
  cJSON_AddNumberToObject(st, "expectedPods", expected);
  /* The condition keeps its transition time while its status holds. */
  const char *cstatus = allowed > 0 ? "True" : "False";
  const cJSON *old_c = NULL, *c;
  cJSON_ArrayForEach(c, json_get_path(pdb, "status.conditions")) {
    const char *t = controller__str(c, "type");
    if (t && !strcmp(t, "DisruptionAllowed"))
      old_c = c;
  }
  const char *old_s = controller__str(old_c, "status"),
             *old_t = controller__str(old_c, "lastTransitionTime");
  char ts[32];
  controller__now(ts, sizeof(ts));
  cJSON *cond = cJSON_CreateObject();
  cJSON_AddStringToObject(cond, "type", "DisruptionAllowed");
  cJSON_AddStringToObject(cond, "status", cstatus);
  cJSON_AddNumberToObject(cond, "observedGeneration", gen);
  cJSON_AddStringToObject(cond, "lastTransitionTime",
                          old_s && !strcmp(old_s, cstatus) && old_t ? old_t : ts);
  cJSON_AddStringToObject(cond, "reason", allowed > 0 ? "SufficientPods" : "InsufficientPods");
  cJSON_AddStringToObject(cond, "message", "");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(st, "conditions"), cond);

  if (json_equal(st, json_get_path(pdb, "status"))) {
    cJSON_Delete(st);
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *obj = json_dup(pdb);
  cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
  cJSON_AddItemToObject(obj, "status", st);
  client_ref_t ref = {.group = "policy",
                      .version = "v1",
                      .resource = "poddisruptionbudgets",
                      .ns = ns,
                      .name = name};
  op_t *o = xcalloc(1, sizeof(*o));
  o->dc = dc;
  o->key = xstrdup(key);
  o->next = dc->ops;
  if (dc->ops)
    dc->ops->prev = o;
  dc->ops = o;
  o->req = client_update_status(dc->c, &ref, obj, status_done, o);
  cJSON_Delete(obj);
  if (!o->req) {
    op_unlink(o);
    controller_done(ctl, key, 0);
  }
}

/* A pod change enqueues the budgets of its namespace that select it. */
static void pod_changed(controller_disruption_t *dc, const cJSON *pod) {
  const char *ns = controller__str(pod, "metadata.namespace");
  if (!ns)
    return;
  size_t n = 0;
  const cJSON **pdbs =
      client_cache_by_index(client_informer_cache(dc->pdbs), CLIENT_INDEX_NAMESPACE, ns, &n);
  for (size_t i = 0; pdbs && i < n; i++) {
    label_selector_t *sel = NULL;
    char err[128];
    const cJSON *js = json_get_path(pdbs[i], "spec.selector");
    if (cJSON_IsObject(js) && label_selector_from_json(js, &sel, err, sizeof(err)) == 0 &&
        label_selector_match(sel, json_get_path(pod, "metadata.labels")))
      controller_enqueue_obj(dc->ctl, pdbs[i]);
    label_selector_free(sel);
  }
  free(pdbs);
}

static void pod_added(const cJSON *obj, void *data) {
  pod_changed(data, obj);
}
static void pod_updated(const cJSON *old, const cJSON *obj, void *data) {
  pod_changed(data, old);
  pod_changed(data, obj);
}
static void pdb_added(const cJSON *obj, void *data) {
  controller_disruption_t *dc = data;
  controller_enqueue_obj(dc->ctl, obj);
}
static void pdb_updated(const cJSON *old, const cJSON *obj, void *data) {
  pdb_added(obj, data);
}

int controller_disruption_new(client_t *c, client_informer_t *pdb_inf, client_informer_t *pod_inf,
                              struct ev_loop *loop, controller_disruption_t **ret_dc) {
  controller_disruption_t *dc = xcalloc(1, sizeof(*dc));
  dc->c = c;
  dc->pdbs = pdb_inf;
  dc->pods = pod_inf;
  controller_opts_t o = {.name = COMPONENT, .sync = reconcile, .data = dc};
  int r = controller_new(loop, &o, &dc->ctl);
  if (r < 0) {
    free(dc);
    return r;
  }
  controller_wait_for(dc->ctl, pdb_inf);
  controller_wait_for(dc->ctl, pod_inf);
  client_informer_handlers_t dh = {pdb_added, pdb_updated, NULL};
  client_informer_handlers_t ph = {pod_added, pod_updated, pod_added};
  client_informer_add_handlers(pdb_inf, &dh, dc);
  client_informer_add_handlers(pod_inf, &ph, dc);
  controller_start(dc->ctl);
  *ret_dc = dc;
  return 0;
}

void controller_disruption_free(controller_disruption_t *dc) {
  if (!dc)
    return;
  while (dc->ops) {
    op_t *o = dc->ops;
    client_req_cancel(o->req);
    op_unlink(o);
  }
  controller_free(dc->ctl);
  free(dc);
}
