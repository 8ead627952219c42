/* The resource quota controller: status.hard (spec.hard) and status.used
 * of each ResourceQuota, recounted from the objects of its namespace by
 * the same evaluators the quota admission plugin charges with
 * (api/quota.h): pods and services from the shared informers, the other
 * counted kinds (configmaps, secrets, PVCs, count/<resource>.<group>, ...)
 * by a list per recount. The shape of upstream's resourcequota controller
 * (a recount on its resync period and on changes of pods and services).
 * https://kubernetes.io/docs/concepts/policy/resource-quotas/ */
#include "controller/resourcequota.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quota.h"
#include "controller/internal.h"
#include "json/util.h"
#include "util/alloc.h"

#define S controller__str
#define KINDS_MAX 32

typedef struct qsync qsync_t;

struct controller_quota {
  client_t *c;
  client_informer_t *quota_inf, *pod_inf, *svc_inf;
  controller_t *ctl;
  qsync_t *syncs;
  double resync;
};

typedef struct {
  char group[128], resource[128];
} kind_t;

struct qsync {
  controller_quota_t *qc;
  qsync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  controller_ops_t ops;
  cJSON *quota; /* a copy of the cached quota */
  cJSON *total; /* usage summed so far, masked to spec.hard */
  int err;
};

static void qsync_free(qsync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->qc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  cJSON_Delete(s->quota);
  cJSON_Delete(s->total);
  free(s->key);
  free(s);
}

static void qsync_end(void *p) {
  qsync_t *s = p;
  controller_t *ctl = s->qc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  bool again = s->quota != NULL;
  double resync = s->qc->resync;
  qsync_free(s);
  controller_done(ctl, key, err);
  if (again && err == 0)
    controller_enqueue_after(ctl, key, resync);
  free(key);
}

/* The kind a quota resource name counts. */
static bool kind_of(const char *name, kind_t *k) {
  memset(k, 0, sizeof(*k));
  if (!strncmp(name, "count/", 6)) {
    const char *r = name + 6, *dot = strchr(r, '.');
    if (dot) {
      snprintf(k->resource, sizeof(k->resource), "%.*s", (int)(dot - r), r);
      snprintf(k->group, sizeof(k->group), "%s", dot + 1);
    } else {
      snprintf(k->resource, sizeof(k->resource), "%s", r);
    }
    return k->resource[0] != '\0';
  }
  static const char *const core[] = {"pods", "services", "configmaps", "secrets",
                                     "persistentvolumeclaims", "replicationcontrollers",
                                     "resourcequotas"};
  for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
    if (api_quota_matches("", core[i], name)) {
      snprintf(k->resource, sizeof(k->resource), "%s", core[i]);
      return true;
    }
  return false;
}

/* The served version of the built-in groups (others: v1). */
static const char *version_of(const char *group) {
  return !strcmp(group, "autoscaling") ? "v2" : "v1";
}

static void add_usage(qsync_t *s, const kind_t *k, const cJSON *obj) {
  const cJSON *hard = json_get_path(s->quota, "spec.hard");
  cJSON *u = api_quota_usage(k->group, k->resource, obj), *masked = cJSON_CreateObject();
  const cJSON *v;
  cJSON_ArrayForEach(v, u) {
    kind_t vk;
    /* each name is counted from the kind it names only */
    if (cJSON_GetObjectItemCaseSensitive(hard, v->string) && kind_of(v->string, &vk)) {
      if (!strcmp(vk.group, k->group) && !strcmp(vk.resource, k->resource))
        cJSON_AddItemToObject(masked, v->string, cJSON_Duplicate(v, 1));
    }
  }
  if (api_quota_add(s->total, masked) < 0)
    s->err = -EINVAL;
  cJSON_Delete(masked);
  cJSON_Delete(u);
}

static void list_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  qsync_t *s = controller_op_owner(op);
  kind_t k;
  memset(&k, 0, sizeof(k));
  snprintf(k.resource, sizeof(k.resource), "%s", op->name);
  snprintf(k.group, sizeof(k.group), "%s", op->uid ? op->uid : "");
  if (res->code == 200) {
    const cJSON *it;
    cJSON_ArrayForEach(it, json_get_path(res->obj, "items"))
      add_usage(s, &k, it);
  } else if (res->code != 404) { /* 404: a kind this server does not serve counts 0 */
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static void status_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  qsync_t *s = controller_op_owner(op);
  if (res->code >= 300)
    s->err = -EAGAIN; /* 409: admission charged it meanwhile; recount */
  controller_op_finish(op);
}

static void write_status(void *p) {
  qsync_t *s = p;
  if (s->err < 0) {
    qsync_end(s);
    return;
  }
  const cJSON *hard = json_get_path(s->quota, "spec.hard"), *h;
  cJSON *used = cJSON_CreateObject();
  cJSON_ArrayForEach(h, hard) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->total, h->string);
    cJSON_AddStringToObject(used, h->string, cJSON_IsString(v) ? v->valuestring : "0");
  }
  const cJSON *cur_hard = json_get_path(s->quota, "status.hard");
  const cJSON *cur_used = json_get_path(s->quota, "status.used");
  if (json_equal(hard, cur_hard) && json_equal(used, cur_used)) {
    cJSON_Delete(used);
    qsync_end(s);
    return;
  }
  cJSON *obj = json_dup(s->quota);
  cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
  cJSON *status = cJSON_AddObjectToObject(obj, "status");
  cJSON_AddItemToObject(status, "hard", cJSON_Duplicate(hard, 1));
  cJSON_AddItemToObject(status, "used", used);
  if (!cJSON_GetObjectItemCaseSensitive(obj, "apiVersion"))
    cJSON_AddStringToObject(obj, "apiVersion", "v1");
  if (!cJSON_GetObjectItemCaseSensitive(obj, "kind"))
    cJSON_AddStringToObject(obj, "kind", "ResourceQuota");
  client_ref_t ref = {.version = "v1", .resource = "resourcequotas", .ns = s->ns, .name = s->name};
  controller_op_t *op = controller_op_new(&s->ops, 's', NULL, NULL);
  controller_op_track(op, client_update_status(s->qc->c, &ref, obj, status_done, op));
  cJSON_Delete(obj);
  controller_ops_after(&s->ops, qsync_end);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_quota_t *qc = data;
  qsync_t *s = xcalloc(1, sizeof(*s));
  s->qc = qc;
  s->key = xstrdup(key);
  s->next = qc->syncs;
  if (s->next)
    s->next->prev = s;
  qc->syncs = s;
  controller_ops_init(&s->ops, s, qsync_end);
  const cJSON *q = NULL;
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) == 0)
    q = client_informer_get(qc->quota_inf, s->ns, s->name);
  if (!q || json_get_path(q, "spec.scopes") || json_get_path(q, "spec.scopeSelector")) {
    qsync_end(s); /* gone, or scoped (not evaluated yet) */
    return;
  }
  s->quota = json_dup(q);
  s->total = cJSON_CreateObject();
  kind_t kinds[KINDS_MAX];
  int nk = 0;
  const cJSON *h;
  cJSON_ArrayForEach(h, json_get_path(q, "spec.hard")) {
    kind_t k;
    if (!kind_of(h->string, &k))
      continue;
    bool dup = false;
    for (int i = 0; i < nk; i++)
      dup |= !strcmp(kinds[i].group, k.group) && !strcmp(kinds[i].resource, k.resource);
    if (!dup && nk < KINDS_MAX)
      kinds[nk++] = k;
  }
  for (int i = 0; i < nk; i++) {
    const kind_t *k = &kinds[i];
    client_informer_t *inf = NULL;
    if (!k->group[0]) {
      if (!strcmp(k->resource, "pods"))
        inf = qc->pod_inf;
      else if (!strcmp(k->resource, "services"))
        inf = qc->svc_inf;
      else if (!strcmp(k->resource, "resourcequotas"))
        inf = qc->quota_inf;
    }
    if (inf) {
      size_t n = 0;
      const cJSON **objs = client_cache_by_index(client_informer_cache(inf),
                                                 CLIENT_INDEX_NAMESPACE, s->ns, &n);
      for (size_t j = 0; j < n; j++)
        add_usage(s, k, objs[j]);
      free(objs);
      continue;
    }
    client_ref_t ref = {.group = k->group, .version = version_of(k->group),
                        .resource = k->resource, .ns = s->ns};
    controller_op_t *op = controller_op_new(&s->ops, 'l', k->resource, k->group);
    controller_op_track(op, client_list(qc->c, &ref, NULL, list_done, op));
  }
  controller_ops_after(&s->ops, write_status);
}

/* ---- event handlers ---- */

static void enqueue_ns(controller_quota_t *qc, const cJSON *obj) {
  const char *ns = S(obj, "metadata.namespace");
  if (!ns)
    return;
  size_t n = 0;
  const cJSON **qs = client_cache_by_index(client_informer_cache(qc->quota_inf),
                                           CLIENT_INDEX_NAMESPACE, ns, &n);
  for (size_t i = 0; i < n; i++)
    controller_enqueue_obj(qc->ctl, qs[i]);
  free(qs);
}

static void obj_added(const cJSON *obj, void *data) { enqueue_ns(data, obj); }
static void obj_updated(const cJSON *old, const cJSON *obj, void *data) {
  enqueue_ns(data, obj);
}
static void quota_added(const cJSON *q, void *data) {
  controller_enqueue_obj(((controller_quota_t *)data)->ctl, q);
}
static void quota_updated(const cJSON *old, const cJSON *q, void *data) {
  /* the spec changed, or the status is not what was computed */
  if (!json_equal(json_get_path(old, "spec"), json_get_path(q, "spec")) ||
      !json_equal(json_get_path(q, "spec.hard"), json_get_path(q, "status.hard")))
    quota_added(q, data);
}

int controller_quota_new(client_t *c, client_informer_t *quota_inf, client_informer_t *pod_inf,
                         client_informer_t *svc_inf, double resync, struct ev_loop *loop,
                         controller_quota_t **ret_qc) {
  controller_quota_t *qc = xcalloc(1, sizeof(*qc));
  qc->c = c;
  qc->quota_inf = quota_inf;
  qc->pod_inf = pod_inf;
  qc->svc_inf = svc_inf;
  qc->resync = resync > 0 ? resync : 10;
  controller_opts_t o = {.name = "resourcequota-controller", .sync = reconcile, .data = qc};
  int r = controller_new(loop, &o, &qc->ctl);
  if (r < 0) {
    free(qc);
    return r;
  }
  controller_wait_for(qc->ctl, quota_inf);
  controller_wait_for(qc->ctl, pod_inf);
  controller_wait_for(qc->ctl, svc_inf);
  client_informer_handlers_t hq = {quota_added, quota_updated, NULL};
  client_informer_handlers_t ho = {obj_added, obj_updated, obj_added};
  client_informer_add_handlers(quota_inf, &hq, qc);
  client_informer_add_handlers(pod_inf, &ho, qc);
  client_informer_add_handlers(svc_inf, &ho, qc);
  controller_start(qc->ctl);
  *ret_qc = qc;
  return 0;
}

void controller_quota_free(controller_quota_t *qc) {
  if (!qc)
    return;
  while (qc->syncs)
    qsync_free(qc->syncs);
  controller_free(qc->ctl);
  free(qc);
}
