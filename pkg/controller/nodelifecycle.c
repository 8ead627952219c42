/* The node lifecycle controller (nodelifecycle.h): node health from Lease
 * renewals and status heartbeats, the not-ready / unreachable taints, and
 * eviction of pods whose toleration of a NoExecute taint ran out (the shape
 * of upstream's pkg/controller/nodelifecycle and tainteviction).
 * https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
 */
#include "controller/nodelifecycle.h"

#include "controller/events.h"
#include "controller/internal.h"
#include "scheduler/fit.h"
#include "util/alloc.h"
#include "util/strmap.h"

#include "json/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "node-controller"
#define NOT_READY "node.kubernetes.io/not-ready"
#define UNREACHABLE "node.kubernetes.io/unreachable"

typedef struct {
  char *name;
  double probe; /* when a heartbeat was last seen (loop time) */
  char lease_renew[48];
  char heartbeat[48];
} health_t;

typedef struct op op_t;
struct op {
  controller_nodelifecycle_t *nl;
  client_req_t *req;
  op_t *prev, *next;
};

struct controller_nodelifecycle {
  struct ev_loop *loop;
  client_t *c;
  client_informer_t *pods, *nodes, *leases;
  controller_t *ctl;
  controller_recorder_t *rec;
  strmap_t health;  /* node name -> health_t */
  strmap_t evicted; /* "ns/name/uid" being deleted -> (void *)1, key owned */
  ev_timer tick;
  double grace;
  op_t *ops;
};

static double now_mono(controller_nodelifecycle_t *nl) {
  return ev_now(nl->loop);
}

static const char *str(const cJSON *o, const char *path) {
  return controller__str(o, path);
}

static const cJSON *condition(const cJSON *node, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(node, "status.conditions")) {
    const char *t = str(c, "type");
    if (t && !strcmp(t, type))
      return c;
  }
  return NULL;
}

static health_t *health(controller_nodelifecycle_t *nl, const char *name) {
  health_t *h = strmap_get(&nl->health, name);
  if (h)
    return h;
  h = xcalloc(1, sizeof(*h));
  h->name = xstrdup(name);
  h->probe = now_mono(nl);
  if (strmap_put(&nl->health, h->name, h, NULL) < 0) {
    free(h->name);
    free(h);
    return NULL;
  }
  return h;
}

/* ---- requests ---- */

static void op_done(const client_result_t *res, void *data) {
  op_t *o = data;
  controller_nodelifecycle_t *nl = o->nl;
  if (o->prev)
    o->prev->next = o->next;
  else
    nl->ops = o->next;
  if (o->next)
    o->next->prev = o->prev;
  free(o);
}

static op_t *op_new(controller_nodelifecycle_t *nl) {
  op_t *o = xcalloc(1, sizeof(*o));
  o->nl = nl;
  o->next = nl->ops;
  if (nl->ops)
    nl->ops->prev = o;
  nl->ops = o;
  return o;
}

static void track(op_t *o, client_req_t *req) {
  if (req)
    o->req = req;
  else
    op_done(NULL, o);
}

/* ---- informer handlers ---- */

static void node_seen(controller_nodelifecycle_t *nl, const cJSON *node) {
  const char *name = str(node, "metadata.name");
  health_t *h = name ? health(nl, name) : NULL;
  if (!h)
    return;
  const char *hb = str(condition(node, "Ready"), "lastHeartbeatTime");
  if (hb && strcmp(hb, h->heartbeat)) {
    snprintf(h->heartbeat, sizeof(h->heartbeat), "%s", hb);
    h->probe = now_mono(nl);
  }
  controller_enqueue(nl->ctl, name);
}

static void node_added(const cJSON *obj, void *data) {
  node_seen(data, obj);
}
static void node_updated(const cJSON *old, const cJSON *obj, void *data) {
  node_seen(data, obj);
}
static void node_deleted(const cJSON *obj, void *data) {
  controller_nodelifecycle_t *nl = data;
  const char *name = str(obj, "metadata.name");
  health_t *h = name ? strmap_del(&nl->health, name) : NULL;
  if (h) {
    free(h->name);
    free(h);
  }
}

static void lease_seen(controller_nodelifecycle_t *nl, const cJSON *lease) {
  const char *name = str(lease, "metadata.name");
  const char *renew = str(lease, "spec.renewTime");
  health_t *h = name ? health(nl, name) : NULL;
  if (!h || !renew || !strcmp(renew, h->lease_renew))
    return;
  snprintf(h->lease_renew, sizeof(h->lease_renew), "%s", renew);
  h->probe = now_mono(nl);
}

static void lease_added(const cJSON *obj, void *data) {
  lease_seen(data, obj);
}
static void lease_updated(const cJSON *old, const cJSON *obj, void *data) {
  lease_seen(data, obj);
}

/* A pod that lands on a tainted node is looked at at once. */
static void pod_seen(const cJSON *old, const cJSON *obj, void *data) {
  controller_nodelifecycle_t *nl = data;
  const char *node = str(obj, "spec.nodeName");
  if (node && node[0] && (!old || !str(old, "spec.nodeName") || !str(old, "spec.nodeName")[0]))
    controller_enqueue(nl->ctl, node);
}
static void pod_added(const cJSON *obj, void *data) {
  pod_seen(NULL, obj, data);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  controller_nodelifecycle_t *nl =
      (controller_nodelifecycle_t *)((char *)w - offsetof(controller_nodelifecycle_t, tick));
  for (size_t i = 0; i < nl->health._cap; i++)
    if (nl->health._slots[i].key)
      controller_enqueue(nl->ctl, nl->health._slots[i].key);
}

/* ---- reconcile one node ---- */

static void mark_unknown(controller_nodelifecycle_t *nl, const cJSON *node) {
  static const char *const types[] = {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"};
  char now[32];
  controller__now(now, sizeof(now));
  cJSON *p = cJSON_CreateObject();
  cJSON *conds = cJSON_AddArrayToObject(cJSON_AddObjectToObject(p, "status"), "conditions");
  for (size_t i = 0; i < 4; i++) {
    const cJSON *cur = condition(node, types[i]);
    if (!cur && i > 0)
      continue;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", types[i]);
    cJSON_AddStringToObject(c, "status", "Unknown");
    /* upstream's words (node_lifecycle_controller.go) */
    cJSON_AddStringToObject(c, "reason", cur ? "NodeStatusUnknown" : "NodeStatusNeverUpdated");
    cJSON_AddStringToObject(c, "message",
                            cur ? "Kubelet stopped posting node status."
                                : "Kubelet never posted node status.");
    const char *hb = str(cur, "lastHeartbeatTime");
    cJSON_AddStringToObject(c, "lastHeartbeatTime", hb ? hb : now);
    cJSON_AddStringToObject(c, "lastTransitionTime", now);
    cJSON_AddItemToArray(conds, c);
  }
  client_ref_t ref = {.version = "v1",
                      .resource = "nodes",
                      .name = str(node, "metadata.name"),
                      .subresource = "status"};
  op_t *o = op_new(nl);
  track(o, client_patch(nl->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, op_done, o));
  cJSON_Delete(p);
}

/* upstream's MarkPodsNotReady: the pods of a node that went Unknown are
 * not Ready any more (a status patch of their Ready condition, an event). */
static void mark_pods_not_ready(controller_nodelifecycle_t *nl, const char *node) {
  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(nl->pods), CLIENT_INDEX_NODE, node, &n);
  char now[32];
  controller__now(now, sizeof(now));
  for (size_t i = 0; pods && i < n; i++) {
    const cJSON *c, *ready = NULL;
    cJSON_ArrayForEach(c, json_get_path(pods[i], "status.conditions")) {
      const char *t = str(c, "type");
      if (t && !strcmp(t, "Ready"))
        ready = c;
    }
    const char *st = str(ready, "status");
    if (!st || strcmp(st, "True"))
      continue;
    cJSON *cond = json_dup(ready);
    cJSON_ReplaceItemInObjectCaseSensitive(cond, "status", cJSON_CreateString("False"));
    cJSON_DeleteItemFromObjectCaseSensitive(cond, "lastTransitionTime");
    cJSON_AddStringToObject(cond, "lastTransitionTime", now);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(p, "status"), "conditions"),
                         cond);
    client_ref_t ref = {.version = "v1",
                        .resource = "pods",
                        .ns = str(pods[i], "metadata.namespace"),
                        .name = str(pods[i], "metadata.name"),
                        .subresource = "status"};
    op_t *o = op_new(nl);
    track(o, client_patch(nl->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, op_done, o));
    cJSON_Delete(p);
    controller_recorder_eventf(nl->rec, pods[i], "Warning", "NodeNotReady", "Node is not ready");
  }
  free(pods);
}

static bool has_taint(const cJSON *node, const char *key, const char *effect) {
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(node, "spec.taints")) {
    const char *k = str(t, "key"), *e = str(t, "effect");
    if (k && e && !strcmp(k, key) && !strcmp(e, effect))
      return true;
  }
  return false;
}

/* Make the node's not-ready/unreachable taints what ready says. */
static void set_taints(controller_nodelifecycle_t *nl, const cJSON *node, const char *ready) {
  const char *want = !ready                      ? NULL
                     : !strcmp(ready, "False")   ? NOT_READY
                     : !strcmp(ready, "Unknown") ? UNREACHABLE
                                                 : NULL;
  static const char *const keys[] = {NOT_READY, UNREACHABLE};
  bool ok = true;
  for (size_t i = 0; i < 2; i++) {
    bool on = want && !strcmp(want, keys[i]);
    ok = ok && has_taint(node, keys[i], "NoSchedule") == on &&
         has_taint(node, keys[i], "NoExecute") == on;
  }
  if (ok)
    return;
  cJSON *taints = cJSON_CreateArray();
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(node, "spec.taints")) {
    const char *k = str(t, "key");
    if (k && (!strcmp(k, NOT_READY) || !strcmp(k, UNREACHABLE)))
      continue;
    cJSON_AddItemToArray(taints, json_dup(t));
  }
  if (want) {
    char now[32];
    controller__now(now, sizeof(now));
    cJSON *ns = cJSON_CreateObject();
    cJSON_AddStringToObject(ns, "key", want);
    cJSON_AddStringToObject(ns, "effect", "NoSchedule");
    cJSON_AddItemToArray(taints, ns);
    cJSON *ne = cJSON_CreateObject();
    cJSON_AddStringToObject(ne, "key", want);
    cJSON_AddStringToObject(ne, "effect", "NoExecute");
    cJSON_AddStringToObject(ne, "timeAdded", now);
    cJSON_AddItemToArray(taints, ne);
  }
  /* A merge patch guarded by the resourceVersion: a concurrent change
   * (kubectl taint, cordon) makes it fail and the next tick retries. */
  cJSON *p = cJSON_CreateObject();
  const char *rv = str(node, "metadata.resourceVersion");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "metadata"), "resourceVersion", rv ? rv : "");
  cJSON_AddItemToObject(cJSON_AddObjectToObject(p, "spec"), "taints", taints);
  client_ref_t ref = {.version = "v1", .resource = "nodes", .name = str(node, "metadata.name")};
  op_t *o = op_new(nl);
  track(o, client_patch(nl->c, &ref, CLIENT_PATCH_MERGE, p, NULL, op_done, o));
  cJSON_Delete(p);
}

/* Seconds until pod must go for the NoExecute taints of node: 0 now,
 * -1 never (upstream's getMinTolerationTime over the used tolerations). */
static double evict_in(const cJSON *pod, const cJSON *node, time_t now) {
  double when = -1;
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(node, "spec.taints")) {
    const char *e = str(t, "effect");
    if (!e || strcmp(e, "NoExecute"))
      continue;
    bool tolerated = false;
    double best = -1; /* the longest tolerationSeconds among matching tolerations; -1 forever */
    bool forever = false;
    const cJSON *tol;
    cJSON_ArrayForEach(tol, json_get_path(pod, "spec.tolerations")) {
      if (!scheduler_fit_tolerates(tol, t))
        continue;
      tolerated = true;
      const cJSON *secs = cJSON_GetObjectItemCaseSensitive(tol, "tolerationSeconds");
      if (!cJSON_IsNumber(secs))
        forever = true;
      else if (secs->valuedouble > best)
        best = secs->valuedouble;
    }
    if (!tolerated)
      return 0;
    if (forever)
      continue;
    time_t added = controller__time(str(t, "timeAdded"));
    double left = (added ? (double)added : (double)now) + (best < 0 ? 0 : best) - (double)now;
    if (left < 0)
      left = 0;
    if (when < 0 || left < when)
      when = left;
  }
  return when;
}

static void evict(controller_nodelifecycle_t *nl, const cJSON *pod) {
  const char *ns = str(pod, "metadata.namespace"), *name = str(pod, "metadata.name");
  const char *uid = str(pod, "metadata.uid");
  if (!ns || !name || !uid)
    return;
  char *key = xasprintf("%s/%s/%s", ns, name, uid);
  if (strmap_has(&nl->evicted, key) || strmap_put(&nl->evicted, key, (void *)1, NULL) < 0) {
    free(key);
    return;
  }
  controller_recorder_eventf(nl->rec, pod, "Normal", "TaintManagerEviction",
                             "Marking for deletion Pod %s/%s", ns, name);
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", uid);
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = ns, .name = name};
  op_t *o = op_new(nl);
  track(o, client_delete(nl->c, &ref, opts, op_done, o));
  cJSON_Delete(opts);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_nodelifecycle_t *nl = data;
  const cJSON *node = client_informer_get(nl->nodes, NULL, key);
  health_t *h = node ? health(nl, key) : NULL;
  if (!node || !h) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *ready = condition(node, "Ready");
  const char *status = str(ready, "status");
  double silent = now_mono(nl) - h->probe;
  if (silent > nl->grace && (!status || strcmp(status, "Unknown"))) {
    mark_unknown(nl, node);
    status = "Unknown"; /* what the patch makes it */
    controller_recorder_eventf(nl->rec, node, "Normal", "NodeNotReady",
                               "Node %s status is now: NodeNotReady", key);
    mark_pods_not_ready(nl, key);
  }
  set_taints(nl, node, status);

  /* Taint manager: pods on the node against its NoExecute taints (the
   * ones already there; a taint being added is seen on the next event). */
  double next = -1;
  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(nl->pods), CLIENT_INDEX_NODE, key, &n);
  time_t now = time(NULL);
  for (size_t i = 0; pods && i < n; i++) {
    if (json_get_path(pods[i], "metadata.deletionTimestamp"))
      continue;
    double in = evict_in(pods[i], node, now);
    if (in == 0)
      evict(nl, pods[i]);
    else if (in > 0 && (next < 0 || in < next))
      next = in;
  }
  free(pods);
  if (next > 0)
    controller_enqueue_after(ctl, key, next + 0.05);
  controller_done(ctl, key, 0);
}

/* ---- lifetime ---- */

int controller_nodelifecycle_new(client_t *c, client_informer_t *pods, struct ev_loop *loop,
                                 double grace, controller_nodelifecycle_t **ret_nl) {
  controller_nodelifecycle_t *nl = xcalloc(1, sizeof(*nl));
  nl->loop = loop;
  nl->c = c;
  nl->pods = pods;
  nl->grace = grace > 0 ? grace : 40;
  strmap_init(&nl->health);
  strmap_init(&nl->evicted);
  client_ref_t nref = {.version = "v1", .resource = "nodes"};
  client_ref_t lref = {.group = "coordination.k8s.io",
                       .version = "v1",
                       .resource = "leases",
                       .ns = "kube-node-lease"};
  controller_opts_t o = {.name = COMPONENT, .sync = reconcile, .data = nl};
  int r;
  if ((r = client_informer_new(c, &nref, NULL, NULL, 0, &nl->nodes)) < 0 ||
      (r = client_informer_new(c, &lref, NULL, NULL, 0, &nl->leases)) < 0 ||
      (r = controller_new(loop, &o, &nl->ctl)) < 0)
    goto fail;
  nl->rec = controller_recorder_new(c, COMPONENT);
  controller_wait_for(nl->ctl, nl->nodes);
  controller_wait_for(nl->ctl, nl->leases);
  controller_wait_for(nl->ctl, pods);
  client_informer_handlers_t nh = {node_added, node_updated, node_deleted};
  client_informer_handlers_t lh = {lease_added, lease_updated, NULL};
  client_informer_handlers_t ph = {pod_added, pod_seen, NULL};
  client_informer_add_handlers(nl->nodes, &nh, nl);
  client_informer_add_handlers(nl->leases, &lh, nl);
  client_informer_add_handlers(pods, &ph, nl);
  controller_start(nl->ctl);
  /* upstream's --node-monitor-period is 5 s; shorter with a short grace */
  double period = nl->grace / 4 < 5 ? nl->grace / 4 : 5;
  if (period < 0.2)
    period = 0.2;
  ev_timer_init(&nl->tick, tick_cb, period, period);
  ev_timer_start(loop, &nl->tick);
  client_informer_start(nl->nodes);
  client_informer_start(nl->leases);
  *ret_nl = nl;
  return 0;
fail:
  controller_nodelifecycle_free(nl);
  return r;
}

void controller_nodelifecycle_free(controller_nodelifecycle_t *nl) {
  if (!nl)
    return;
  ev_timer_stop(nl->loop, &nl->tick);
  while (nl->ops) {
    op_t *o = nl->ops;
    client_req_cancel(o->req);
    nl->ops = o->next;
    free(o);
  }
  controller_free(nl->ctl);
  controller_recorder_free(nl->rec);
  client_informer_free(nl->leases);
  client_informer_free(nl->nodes);
  for (size_t i = 0; i < nl->health._cap; i++) {
    health_t *h = nl->health._slots[i].key ? nl->health._slots[i].value : NULL;
    if (h) {
      free(h->name);
      free(h);
    }
  }
  strmap_done(&nl->health);
  for (size_t i = 0; i < nl->evicted._cap; i++)
    free((char *)nl->evicted._slots[i].key);
  strmap_done(&nl->evicted);
  free(nl);
}
