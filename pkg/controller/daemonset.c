/* The DaemonSet controller: one pod per eligible node (nodeSelector,
 * required node affinity, taints against the template's tolerations plus
 * the ones every daemon pod gets), created with a required node affinity on
 * metadata.name for the scheduler to bind, rolled by RollingUpdate
 * (maxUnavailable, maxSurge) or OnDelete, with ControllerRevisions, the
 * controller-revision-hash label and the status upstream reports, in the
 * shape of upstream's pkg/controller/daemon.
 * https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/
 * https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/ */
#include "controller/daemonset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/internal.h"
#include "json/selector.h"
#include "json/util.h"
#include "scheduler/fit.h"
#include "util/alloc.h"
#include "util/strmap.h"

#define S controller__str
#define N controller__num
#define HASH_LABEL "controller-revision-hash"
#define BURST 250              /* upstream's BurstReplicas for daemon sets */

/* ---- the controller ---- */

typedef struct sync sync_t;

struct controller_daemonset {
  client_t *c;
  client_informer_t *ds_inf, *node_inf, *pod_inf, *rev_inf;
  controller_t *ctl;
  controller_recorder_t *rec;
  controller_expectations_t *exps;
  sync_t *syncs;
};

enum { OP_CREATE, OP_DELETE, OP_REV, OP_REV_DELETE, OP_STATUS };

struct sync {
  controller_daemonset_t *dc;
  sync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  cJSON *ds;        /* a copy */
  cJSON *pod_tmpl;  /* the pod every node gets, before its node affinity */
  char hash[16];
  controller_ops_t ops; /* the requests in flight */
  char **creates;   /* node names */
  size_t n_creates, next_create;
  int batch;
  bool create_failed, collision;
  cJSON *status;    /* computed at the start; written last */
  int err;
};

/* ---- small readers ---- */

static bool pod_ready(const cJSON *pod) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = S(c, "type"), *st = S(c, "status");
    if (t && st && !strcmp(t, "Ready"))
      return !strcmp(st, "True");
  }
  return false;
}

static bool pod_available(const cJSON *pod, double min_ready, time_t now) {
  if (!pod_ready(pod))
    return false;
  if (min_ready <= 0)
    return true;
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = S(c, "type");
    if (t && !strcmp(t, "Ready")) {
      time_t since = controller__time(S(c, "lastTransitionTime"));
      return since && (double)(now - since) >= min_ready;
    }
  }
  return false;
}

static const char *pod_hash(const cJSON *pod) {
  const cJSON *l = json_get_path(pod, "metadata.labels");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(l, HASH_LABEL);
  return cJSON_IsString(h) ? h->valuestring : "";
}

/* The node a daemon pod is for: spec.nodeName, else the metadata.name its
 * required node affinity names (upstream's GetTargetNodeName). */
static const char *target_node(const cJSON *pod) {
  const char *n = S(pod, "spec.nodeName");
  if (n && n[0])
    return n;
  const cJSON *terms = json_get_path(
      pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
  const cJSON *t, *f;
  cJSON_ArrayForEach(t, terms) {
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(t, "matchFields")) {
      const char *key = S(f, "key"), *op = S(f, "operator");
      const cJSON *vals = cJSON_GetObjectItemCaseSensitive(f, "values");
      if (key && op && !strcmp(key, "metadata.name") && !strcmp(op, "In") &&
          cJSON_GetArraySize(vals) == 1 && cJSON_IsString(vals->child))
        return vals->child->valuestring;
    }
  }
  return NULL;
}

/* ---- the pod every node gets ---- */

static void add_toleration(cJSON *tols, const char *key, const char *effect) {
  const cJSON *t;
  cJSON_ArrayForEach(t, tols) {
    const char *k = S(t, "key"), *op = S(t, "operator"), *e = S(t, "effect");
    if (k && op && e && !strcmp(k, key) && !strcmp(op, "Exists") && !strcmp(e, effect))
      return;
  }
  cJSON *n = cJSON_CreateObject();
  cJSON_AddStringToObject(n, "key", key);
  cJSON_AddStringToObject(n, "operator", "Exists");
  cJSON_AddStringToObject(n, "effect", effect);
  cJSON_AddItemToArray(tols, n);
}

/* The template with the labels and tolerations of a daemon pod (upstream's
 * CreatePodTemplate + AddOrUpdateDaemonPodTolerations), as a Pod. */
static cJSON *daemon_pod(const cJSON *ds, const char *hash) {
  const cJSON *tmpl = json_get_path(ds, "spec.template");
  cJSON *pod = cJSON_CreateObject();
  cJSON_AddStringToObject(pod, "apiVersion", "v1");
  cJSON_AddStringToObject(pod, "kind", "Pod");
  cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
  const cJSON *tmd = cJSON_GetObjectItemCaseSensitive(tmpl, "metadata");
  static const char *const copy[] = {"labels", "annotations", "finalizers"};
  for (size_t k = 0; k < 3; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(tmd, copy[k]);
    if (v)
      cJSON_AddItemToObject(md, copy[k], cJSON_Duplicate(v, 1));
  }
  cJSON *labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
  if (!cJSON_IsObject(labels)) {
    cJSON_DeleteItemFromObjectCaseSensitive(md, "labels");
    labels = cJSON_AddObjectToObject(md, "labels");
  }
  cJSON_DeleteItemFromObjectCaseSensitive(labels, HASH_LABEL);
  cJSON_AddStringToObject(labels, HASH_LABEL, hash);
  const cJSON *tspec = cJSON_GetObjectItemCaseSensitive(tmpl, "spec");
  cJSON *spec = tspec ? cJSON_Duplicate(tspec, 1) : cJSON_CreateObject();
  cJSON_AddItemToObject(pod, "spec", spec);
  cJSON *tols = cJSON_GetObjectItemCaseSensitive(spec, "tolerations");
  if (!cJSON_IsArray(tols)) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "tolerations");
    tols = cJSON_AddArrayToObject(spec, "tolerations");
  }
  add_toleration(tols, "node.kubernetes.io/not-ready", "NoExecute");
  add_toleration(tols, "node.kubernetes.io/unreachable", "NoExecute");
  add_toleration(tols, "node.kubernetes.io/disk-pressure", "NoSchedule");
  add_toleration(tols, "node.kubernetes.io/memory-pressure", "NoSchedule");
  add_toleration(tols, "node.kubernetes.io/pid-pressure", "NoSchedule");
  add_toleration(tols, "node.kubernetes.io/unschedulable", "NoSchedule");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "hostNetwork")))
    add_toleration(tols, "node.kubernetes.io/network-unavailable", "NoSchedule");
  return pod;
}

/* ---- placement: the scheduler's own checks (pkg/scheduler/fit.h) ---- */

/* Upstream's NodeShouldRunDaemonPod: run = the pod fits the node (name,
 * selector and affinity, NoSchedule/NoExecute taints); cont = a pod there
 * may keep running (only untolerated NoExecute taints evict it). */
static void node_should(const cJSON *pod, const cJSON *node, bool *run, bool *cont) {
  *run = *cont = false;
  if (!scheduler_fit_node_name(pod, node, NULL, 0) ||
      !scheduler_fit_node_affinity(pod, node, NULL, 0))
    return;
  *run = *cont = true;
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(node, "spec.taints")) {
    const char *e = S(t, "effect");
    if (!e || (strcmp(e, "NoSchedule") && strcmp(e, "NoExecute")))
      continue;
    if (scheduler_fit_pod_tolerates(pod, t))
      continue;
    *run = false;
    if (!strcmp(e, "NoExecute"))
      *cont = false;
  }
}

/* ControllerRevision data: the patch that puts this template back
 * (upstream's getPatch), compared to find the current revision. */
static cJSON *revision_data(const cJSON *ds) {
  cJSON *d = cJSON_CreateObject();
  const cJSON *t = json_get_path(ds, "spec.template");
  cJSON *tmpl = t ? cJSON_Duplicate(t, 1) : cJSON_CreateObject();
  json_prune_nulls(tmpl);
  cJSON_AddStringToObject(tmpl, "$patch", "replace");
  cJSON_AddItemToObject(cJSON_AddObjectToObject(d, "spec"), "template", tmpl);
  return d;
}

/* ---- event handlers ---- */

static bool owner_key(controller_daemonset_t *dc, const cJSON *obj, char *key, size_t len) {
  const cJSON *ref = controller__ref(obj);
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *uid = S(ref, "uid");
  const char *ns = S(obj, "metadata.namespace");
  if (!ref || !kind || strcmp(kind, "DaemonSet") || !name || !ns || !uid)
    return false;
  const cJSON *ds = client_informer_get(dc->ds_inf, ns, name);
  const char *ds_uid = S(ds, "metadata.uid");
  if (!ds_uid || strcmp(uid, ds_uid))
    return false;
  snprintf(key, len, "%s/%s", ns, name);
  return true;
}

static void observe_add(controller_daemonset_t *dc, const char *key) {
  controller_expectations_observe_add(dc->exps, key);
}

static void observe_del(controller_daemonset_t *dc, const char *key, const char *uid) {
  if (uid)
    controller_expectations_observe_del(dc->exps, key, uid);
}

static void pod_added(const cJSON *pod, void *data) {
  controller_daemonset_t *dc = data;
  char key[600];
  if (!owner_key(dc, pod, key, sizeof(key)))
    return;
  if (json_get_path(pod, "metadata.deletionTimestamp"))
    observe_del(dc, key, S(pod, "metadata.uid"));
  else
    observe_add(dc, key);
  controller_enqueue(dc->ctl, key);
}

static void pod_updated(const cJSON *old, const cJSON *pod, void *data) {
  controller_daemonset_t *dc = data;
  char key[600];
  const char *a = S(old, "metadata.resourceVersion"), *b = S(pod, "metadata.resourceVersion");
  if (a && b && !strcmp(a, b))
    return;
  if (!owner_key(dc, pod, key, sizeof(key)))
    return;
  if (json_get_path(pod, "metadata.deletionTimestamp") &&
      !json_get_path(old, "metadata.deletionTimestamp"))
    observe_del(dc, key, S(pod, "metadata.uid"));
  controller_enqueue(dc->ctl, key);
}

static void pod_deleted(const cJSON *pod, void *data) {
  controller_daemonset_t *dc = data;
  char key[600];
  if (!owner_key(dc, pod, key, sizeof(key)))
    return;
  observe_del(dc, key, S(pod, "metadata.uid"));
  controller_enqueue(dc->ctl, key);
}

static void enqueue_one(const cJSON *ds, void *data) {
  controller_enqueue_obj(((controller_daemonset_t *)data)->ctl, ds);
}

static void enqueue_all(controller_daemonset_t *dc) {
  client_cache_foreach(client_informer_cache(dc->ds_inf), enqueue_one, dc);
}

static void node_added(const cJSON *node, void *data) { enqueue_all(data); }
static void node_deleted(const cJSON *node, void *data) { enqueue_all(data); }
/* Only what placement reads: heartbeats do not requeue every DaemonSet. */
static void node_updated(const cJSON *old, const cJSON *node, void *data) {
  static const char *const paths[] = {"metadata.labels", "spec.taints", "spec.unschedulable",
                                      "metadata.name"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    if (!json_equal(json_get_path(old, paths[i]), json_get_path(node, paths[i]))) {
      enqueue_all(data);
      return;
    }
  }
}

static void ds_added(const cJSON *ds, void *data) { enqueue_one(ds, data); }
static void ds_updated(const cJSON *old, const cJSON *ds, void *data) { enqueue_one(ds, data); }
static void ds_deleted(const cJSON *ds, void *data) { enqueue_one(ds, data); }

static void rev_changed(const cJSON *rev, void *data) {
  char key[600];
  if (owner_key(data, rev, key, sizeof(key)))
    controller_enqueue(((controller_daemonset_t *)data)->ctl, key);
}
static void rev_updated(const cJSON *old, const cJSON *rev, void *data) { rev_changed(rev, data); }

/* ---- one reconcile: the requests ---- */

static void sync_free(sync_t *s) {
  controller_daemonset_t *dc = s->dc;
  if (s->prev)
    s->prev->next = s->next;
  else
    dc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  for (size_t i = 0; i < s->n_creates; i++)
    free(s->creates[i]);
  free(s->creates);
  cJSON_Delete(s->status);
  cJSON_Delete(s->pod_tmpl);
  cJSON_Delete(s->ds);
  free(s->key);
  free(s);
}

static void sync_end(void *owner) {
  sync_t *s = owner;
  controller_t *ctl = s->dc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  sync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void write_status(sync_t *s);
static void create_batch(sync_t *s);

/* Every request of a step answered: the next creation batch, else the
 * status. */
static void step_done(void *owner) {
  sync_t *s = owner;
  if (!s->create_failed && s->next_create < s->n_creates)
    create_batch(s);
  else
    write_status(s);
}

static void op_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  sync_t *s = controller_op_owner(op);
  controller_daemonset_t *dc = s->dc;
  bool ok = res->code >= 200 && res->code < 300;
  switch (op->kind) {
  case OP_CREATE:
    if (ok) {
      controller_recorder_eventf(dc->rec, s->ds, "Normal", "SuccessfulCreate", "Created pod: %s",
                                 S(res->obj, "metadata.name") ? S(res->obj, "metadata.name") : "");
    } else {
      observe_add(dc, s->key); /* it will never be seen */
      if (!s->create_failed)
        controller_recorder_eventf(dc->rec, s->ds, "Warning", "FailedCreate", "Error creating: %s",
                                   res->message && res->message[0] ? res->message : "request failed");
      s->create_failed = true;
      s->err = -EAGAIN;
    }
    break;
  case OP_DELETE:
    if (ok) {
      controller_recorder_eventf(dc->rec, s->ds, "Normal", "SuccessfulDelete", "Deleted pod: %s",
                                 op->name);
    } else {
      observe_del(dc, s->key, op->uid);
      if (res->code != 404) {
        controller_recorder_eventf(dc->rec, s->ds, "Warning", "FailedDelete", "Error deleting: %s",
                                   res->message && res->message[0] ? res->message : "request failed");
        s->err = -EAGAIN;
      }
    }
    break;
  case OP_REV:
    if (res->code == 409) /* a revision of that name holds another template */
      s->collision = true;
    else if (!ok)
      s->err = -EAGAIN;
    break;
  case OP_REV_DELETE:
    if (!ok && res->code != 404)
      s->err = -EAGAIN;
    break;
  case OP_STATUS:
    if (res->code != 200 && res->code != 404)
      s->err = -EAGAIN;
    break;
  }
  controller_op_finish(op); /* the last one runs the next step (the status's: sync_end) */
}

static void delete_pod(sync_t *s, const char *name, const char *uid) {
  controller_op_t *op = controller_op_new(&s->ops, OP_DELETE, name, uid);
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = name};
  if (controller_op_track(op, client_delete(s->dc->c, &ref, NULL, op_done, op)) < 0)
    observe_del(s->dc, s->key, uid);
}

/* The pod for node: the daemon pod with a required node affinity on its
 * name (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity). */
static cJSON *pod_for(sync_t *s, const char *node) {
  cJSON *pod = cJSON_Duplicate(s->pod_tmpl, 1);
  cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
  char gen[300];
  snprintf(gen, sizeof(gen), "%s-", s->name);
  cJSON_AddStringToObject(md, "generateName", gen);
  cJSON_AddStringToObject(md, "namespace", s->ns);
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  cJSON_AddItemToArray(refs, controller__owner_ref(s->ds, "apps/v1", "DaemonSet"));
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
  cJSON *aff = cJSON_GetObjectItemCaseSensitive(spec, "affinity");
  if (!cJSON_IsObject(aff)) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "affinity");
    aff = cJSON_AddObjectToObject(spec, "affinity");
  }
  cJSON *na = cJSON_GetObjectItemCaseSensitive(aff, "nodeAffinity");
  if (!cJSON_IsObject(na)) {
    cJSON_DeleteItemFromObjectCaseSensitive(aff, "nodeAffinity");
    na = cJSON_AddObjectToObject(aff, "nodeAffinity");
  }
  const char *req_name = "requiredDuringSchedulingIgnoredDuringExecution";
  cJSON *req = cJSON_GetObjectItemCaseSensitive(na, req_name);
  if (!cJSON_IsObject(req)) {
    cJSON_DeleteItemFromObjectCaseSensitive(na, req_name);
    req = cJSON_AddObjectToObject(na, req_name);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(req, "nodeSelectorTerms");
  cJSON *terms = cJSON_AddArrayToObject(req, "nodeSelectorTerms");
  cJSON *term = cJSON_CreateObject();
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "key", "metadata.name");
  cJSON_AddStringToObject(f, "operator", "In");
  cJSON *vals = cJSON_AddArrayToObject(f, "values");
  cJSON_AddItemToArray(vals, cJSON_CreateString(node));
  cJSON_AddItemToArray(cJSON_AddArrayToObject(term, "matchFields"), f);
  cJSON_AddItemToArray(terms, term);
  return pod;
}

/* Creations in slow-start batches (1, 2, 4, ...), as upstream does, so a
 * template the API refuses fails once, not once per node. */
static void create_batch(sync_t *s) {
  controller_daemonset_t *dc = s->dc;
  size_t n = (size_t)s->batch;
  s->batch *= 2;
  for (size_t i = 0; i < n && s->next_create < s->n_creates; i++) {
    cJSON *pod = pod_for(s, s->creates[s->next_create++]);
    controller_op_t *op = controller_op_new(&s->ops, OP_CREATE, NULL, NULL);
    client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns};
    if (controller_op_track(op, client_create(dc->c, &ref, pod, op_done, op)) < 0)
      observe_add(dc, s->key);
    cJSON_Delete(pod);
  }
  if (controller_ops_pending(&s->ops) == 0) { /* nothing could start */
    while (s->next_create < s->n_creates) {
      s->next_create++;
      observe_add(dc, s->key);
    }
    write_status(s);
    return;
  }
  controller_ops_after(&s->ops, step_done);
}

static void write_status(sync_t *s) {
  controller_daemonset_t *dc = s->dc;
  cJSON *st = s->status;
  s->status = NULL;
  if (!st || json_get_path(s->ds, "metadata.deletionTimestamp")) {
    cJSON_Delete(st);
    sync_end(s);
    return;
  }
  if (s->collision) {
    double cc = N(s->ds, "status.collisionCount", 0) + 1;
    cJSON_DeleteItemFromObjectCaseSensitive(st, "collisionCount");
    cJSON_AddNumberToObject(st, "collisionCount", cc);
    s->err = -EAGAIN; /* again with the new hash */
  }
  const cJSON *old = json_get_path(s->ds, "status");
  if (json_equal(st, old)) {
    cJSON_Delete(st);
    sync_end(s);
    return;
  }
  /* A merge patch of the whole status: null removes what is no longer set. */
  cJSON *p = cJSON_CreateObject();
  cJSON *ps = cJSON_AddObjectToObject(p, "status");
  const cJSON *f;
  cJSON_ArrayForEach(f, old) {
    if (f->string && !cJSON_GetObjectItemCaseSensitive(st, f->string))
      cJSON_AddNullToObject(ps, f->string);
  }
  cJSON *item;
  while ((item = st->child)) {
    cJSON_DetachItemViaPointer(st, item);
    cJSON_AddItemToObject(ps, item->string, item);
  }
  cJSON_Delete(st);
  controller_op_t *op = controller_op_new(&s->ops, OP_STATUS, NULL, NULL);
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "daemonsets", .ns = s->ns,
                      .name = s->name, .subresource = "status"};
  int r = controller_op_track(op, client_patch(dc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, op_done, op));
  cJSON_Delete(p);
  if (r < 0) {
    s->err = -EINVAL;
    sync_end(s);
  }
}

/* ---- one reconcile: deciding ---- */

typedef struct {
  const cJSON *pod;
  bool deleting, failed, ready, available, updated;
  time_t created;
} dpod_t;

typedef struct {
  const cJSON *node;
  const char *name;
  dpod_t *pods;
  size_t n, cap;
  bool run, cont;
} dnode_t;

/* Oldest first; running before pending on a tie (upstream's
 * podByCreationTimestampAndPhase). */
static int pod_age_cmp(const void *a, const void *b) {
  const dpod_t *x = a, *y = b;
  if (x->created != y->created)
    return x->created < y->created ? -1 : 1;
  const char *nx = S(x->pod, "metadata.name"), *ny = S(y->pod, "metadata.name");
  return strcmp(nx ? nx : "", ny ? ny : "");
}

static void node_add_pod(dnode_t *n, const cJSON *pod, const char *hash, double min_ready,
                         time_t now) {
  if (n->n == n->cap) {
    n->cap = n->cap ? n->cap * 2 : 2;
    n->pods = xrealloc(n->pods, n->cap * sizeof(*n->pods));
  }
  dpod_t *p = &n->pods[n->n++];
  memset(p, 0, sizeof(*p));
  p->pod = pod;
  p->deleting = json_get_path(pod, "metadata.deletionTimestamp") != NULL;
  const char *phase = S(pod, "status.phase");
  p->failed = phase && !strcmp(phase, "Failed");
  p->ready = pod_ready(pod);
  p->available = pod_available(pod, min_ready, now);
  p->updated = !strcmp(pod_hash(pod), hash);
  p->created = controller__time(S(pod, "metadata.creationTimestamp"));
}

static void want_create(sync_t *s, const char *node) {
  s->creates = xrealloc(s->creates, (s->n_creates + 1) * sizeof(*s->creates));
  s->creates[s->n_creates++] = xstrdup(node);
}

typedef struct {
  const cJSON **pods;
  size_t n, cap;
} podlist_t;

static void del_add(podlist_t *l, const cJSON *pod) {
  for (size_t i = 0; i < l->n; i++)
    if (l->pods[i] == pod)
      return;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 8;
    l->pods = xrealloc(l->pods, l->cap * sizeof(*l->pods));
  }
  l->pods[l->n++] = pod;
}

/* A count or percentage of total (upstream's GetScaledValueFromIntOrPercent,
 * rounding up). */
static int scaled(const cJSON *v, int total, int dflt) {
  if (cJSON_IsNumber(v))
    return v->valueint;
  if (cJSON_IsString(v)) {
    char *end;
    double pct = strtod(v->valuestring, &end);
    if (end != v->valuestring && *end == '%')
      return (int)ceil(pct * total / 100.0);
  }
  return dflt;
}

/* The new and the old pod of a node, both not being deleted; false when
 * there is more than one of either (the manage step cleans up first). */
static bool updated_pods(const dnode_t *n, const dpod_t **ret_new, const dpod_t **ret_old) {
  const dpod_t *nw = NULL, *old = NULL;
  for (size_t i = 0; i < n->n; i++) {
    const dpod_t *p = &n->pods[i];
    if (p->deleting)
      continue;
    if (p->updated) {
      if (nw)
        return false;
      nw = p;
    } else {
      if (old)
        return false;
      old = p;
    }
  }
  *ret_new = nw;
  *ret_old = old;
  return true;
}

/* Upstream's rollingUpdate: old pods to delete and nodes to surge onto. */
static void rolling_update(sync_t *s, dnode_t *nodes, size_t n_nodes, int desired, podlist_t *del) {
  const cJSON *ru = json_get_path(s->ds, "spec.updateStrategy.rollingUpdate");
  int max_surge = scaled(cJSON_GetObjectItemCaseSensitive(ru, "maxSurge"), desired, 0);
  int max_unavail = scaled(cJSON_GetObjectItemCaseSensitive(ru, "maxUnavailable"), desired, 1);
  if (max_surge <= 0 && max_unavail <= 0)
    max_unavail = 1;
  if (max_surge <= 0) {
    int unavailable = 0;
    podlist_t cand = {0};
    for (size_t i = 0; i < n_nodes; i++) {
      const dpod_t *nw, *old;
      if (nodes[i].n == 0)
        continue;
      if (!updated_pods(&nodes[i], &nw, &old)) {
        unavailable++;
        continue;
      }
      if ((!nw && !old) || (nw && old)) {
        unavailable++;
      } else if (nw) {
        if (!nw->available)
          unavailable++;
      } else if (!old->available) {
        del_add(del, old->pod); /* not serving: replace it at once */
      } else if (unavailable < max_unavail) {
        del_add(&cand, old->pod);
      }
    }
    int room = max_unavail - unavailable;
    for (size_t i = 0; room > 0 && i < cand.n; i++, room--)
      del_add(del, cand.pods[i]);
    free(cand.pods);
    return;
  }
  int surge = 0;
  size_t n_cand = 0;
  const char **cand = xcalloc(n_nodes ? n_nodes : 1, sizeof(*cand));
  for (size_t i = 0; i < n_nodes; i++) {
    const dpod_t *nw, *old;
    if (nodes[i].n == 0)
      continue;
    if (!updated_pods(&nodes[i], &nw, &old)) {
      surge++;
      continue;
    }
    if (!old)
      continue;
    if (!nw) {
      if (!old->available && nodes[i].run)
        want_create(s, nodes[i].name); /* an unavailable old pod may be replaced now */
      else if (old->available && nodes[i].run && surge < max_surge)
        cand[n_cand++] = nodes[i].name;
      continue;
    }
    if (!nw->available)
      surge++;
    else
      del_add(del, old->pod); /* the new one serves: the old one goes */
  }
  for (size_t i = 0; i < n_cand && surge < max_surge; i++, surge++)
    want_create(s, cand[i]);
  free(cand);
}

/* ControllerRevisions: the current one (created or given the highest
 * revision number) and old ones past revisionHistoryLimit deleted. Sets
 * s->hash. */
static void revisions(sync_t *s, const char *uid, const cJSON **pods, size_t n_pods) {
  controller_daemonset_t *dc = s->dc;
  size_t n = 0;
  const cJSON **revs =
      client_cache_by_index(client_informer_cache(dc->rev_inf), CLIENT_INDEX_NAMESPACE, s->ns, &n);
  cJSON *data = revision_data(s->ds);
  const cJSON *cur = NULL;
  double max_rev = 0;
  const cJSON **owned = xcalloc(n ? n : 1, sizeof(*owned));
  size_t n_owned = 0;
  for (size_t i = 0; i < n; i++) {
    if (!controller__owned_by(revs[i], "DaemonSet", uid))
      continue;
    owned[n_owned++] = revs[i];
    double r = N(revs[i], "revision", 0);
    if (r > max_rev)
      max_rev = r;
    cJSON *d = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(revs[i], "data"), 1);
    json_prune_nulls(d);
    if (!cur && json_equal(d, data))
      cur = revs[i];
    cJSON_Delete(d);
  }
  const char *have = NULL;
  const cJSON *hl = cur ? cJSON_GetObjectItemCaseSensitive(json_get_path(cur, "metadata.labels"),
                                                           HASH_LABEL)
                        : NULL;
  have = cJSON_IsString(hl) ? hl->valuestring : NULL;
  if (have)
    snprintf(s->hash, sizeof(s->hash), "%s", have);
  else
    controller__template_hash(json_get_path(s->ds, "spec.template"),
                              (long)N(s->ds, "status.collisionCount", 0), s->hash, sizeof(s->hash));
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "controllerrevisions",
                      .ns = s->ns};
  if (!cur) {
    cJSON *cr = cJSON_CreateObject();
    cJSON_AddStringToObject(cr, "apiVersion", "apps/v1");
    cJSON_AddStringToObject(cr, "kind", "ControllerRevision");
    cJSON *md = cJSON_AddObjectToObject(cr, "metadata");
    char name[300];
    snprintf(name, sizeof(name), "%.223s-%s", s->name, s->hash);
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", s->ns);
    const cJSON *tl = json_get_path(s->ds, "spec.template.metadata.labels");
    cJSON *labels = cJSON_IsObject(tl) ? cJSON_Duplicate(tl, 1) : cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(labels, HASH_LABEL);
    cJSON_AddStringToObject(labels, HASH_LABEL, s->hash);
    cJSON_AddItemToObject(md, "labels", labels);
    const cJSON *ann = json_get_path(s->ds, "metadata.annotations");
    if (cJSON_IsObject(ann))
      cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(ann, 1));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"),
                         controller__owner_ref(s->ds, "apps/v1", "DaemonSet"));
    cJSON_AddItemToObject(cr, "data", data);
    data = NULL;
    cJSON_AddNumberToObject(cr, "revision", max_rev + 1);
    controller_op_t *op = controller_op_new(&s->ops, OP_REV, NULL, NULL);
    controller_op_track(op, client_create(dc->c, &ref, cr, op_done, op));
    cJSON_Delete(cr);
  } else if (N(cur, "revision", 0) < max_rev) {
    /* the template came back (rollout undo): it is the newest revision again */
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "revision", max_rev + 1);
    ref.name = S(cur, "metadata.name");
    controller_op_t *op = controller_op_new(&s->ops, OP_REV, NULL, NULL);
    controller_op_track(op, client_patch(dc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, op_done, op));
    cJSON_Delete(p);
    ref.name = NULL;
  }
  cJSON_Delete(data);
  /* history past the limit, oldest first, unless a live pod still uses it */
  double limit = N(s->ds, "spec.revisionHistoryLimit", 10);
  size_t old = n_owned - (cur ? 1 : 0);
  while (old > (size_t)(limit < 0 ? 0 : limit)) {
    const cJSON *low = NULL;
    for (size_t i = 0; i < n_owned; i++) {
      if (!owned[i] || owned[i] == cur)
        continue;
      if (!low || N(owned[i], "revision", 0) < N(low, "revision", 0))
        low = owned[i];
    }
    if (!low)
      break;
    for (size_t i = 0; i < n_owned; i++)
      if (owned[i] == low)
        owned[i] = NULL;
    old--;
    const cJSON *lh = cJSON_GetObjectItemCaseSensitive(json_get_path(low, "metadata.labels"),
                                                       HASH_LABEL);
    bool used = false;
    for (size_t i = 0; i < n_pods && !used; i++)
      used = cJSON_IsString(lh) && !strcmp(pod_hash(pods[i]), lh->valuestring);
    if (used)
      continue;
    ref.name = S(low, "metadata.name");
    controller_op_t *op = controller_op_new(&s->ops, OP_REV_DELETE, NULL, NULL);
    controller_op_track(op, client_delete(dc->c, &ref, NULL, op_done, op));
  }
  free(owned);
  free(revs);
}

typedef struct {
  sync_t *s;
  dnode_t *nodes;
  size_t k, max;
  strmap_t *by_name;
} walk_t;

static void walk_node(const cJSON *node, void *data) {
  walk_t *w = data;
  const char *name = S(node, "metadata.name");
  if (!name || w->k >= w->max)
    return;
  dnode_t *n = &w->nodes[w->k];
  n->node = node;
  n->name = name;
  node_should(w->s->pod_tmpl, node, &n->run, &n->cont);
  if (strmap_put(w->by_name, name, n, NULL) == 0)
    w->k++;
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_daemonset_t *dc = data;
  sync_t *s = xcalloc(1, sizeof(*s));
  s->dc = dc;
  s->key = xstrdup(key);
  s->batch = 1;
  controller_ops_init(&s->ops, s, sync_end);
  s->next = dc->syncs;
  if (s->next)
    s->next->prev = s;
  dc->syncs = s;
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) < 0) {
    sync_end(s);
    return;
  }
  const cJSON *ds = client_informer_get(dc->ds_inf, s->ns, s->name);
  if (!ds) {
    controller_expectations_delete(dc->exps, key);
    sync_end(s);
    return;
  }
  s->ds = cJSON_Duplicate(ds, 1);
  if (json_get_path(ds, "metadata.deletionTimestamp")) {
    sync_end(s); /* the garbage collector takes its pods */
    return;
  }
  const char *uid = S(ds, "metadata.uid");
  label_selector_t *sel = NULL;
  char err[256];
  if (!uid || label_selector_from_json(json_get_path(ds, "spec.selector"), &sel, err, sizeof(err)) < 0 ||
      label_selector_empty(sel)) {
    label_selector_free(sel);
    sync_end(s); /* an invalid or empty selector selects nothing */
    return;
  }
  double min_ready = N(ds, "spec.minReadySeconds", 0);
  time_t now = time(NULL);
  double lnow = ev_now(controller_loop(ctl));

  /* the pods it owns that its selector matches, by node */
  size_t n_all = 0;
  const cJSON **all =
      client_cache_by_index(client_informer_cache(dc->pod_inf), CLIENT_INDEX_NAMESPACE, s->ns, &n_all);
  const cJSON **own = xcalloc(n_all ? n_all : 1, sizeof(*own));
  size_t n_own = 0;
  for (size_t i = 0; i < n_all; i++) {
    if (!controller__owned_by(all[i], "DaemonSet", uid) ||
        !label_selector_match(sel, json_get_path(all[i], "metadata.labels")))
      continue;
    const char *phase = S(all[i], "status.phase");
    bool terminal = phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"));
    if (terminal && json_get_path(all[i], "metadata.deletionTimestamp"))
      continue;
    own[n_own++] = all[i];
  }
  free(all);
  label_selector_free(sel);

  revisions(s, uid, own, n_own);
  s->pod_tmpl = daemon_pod(ds, s->hash);

  size_t n_nodes = client_cache_count(client_informer_cache(dc->node_inf));
  dnode_t *nodes = xcalloc(n_nodes ? n_nodes : 1, sizeof(*nodes));
  strmap_t by_name;
  strmap_init(&by_name);
  walk_t w = {s, nodes, 0, n_nodes, &by_name};
  client_cache_foreach(client_informer_cache(dc->node_inf), walk_node, &w);
  n_nodes = w.k;
  podlist_t del = {0};
  for (size_t i = 0; i < n_own; i++) {
    const char *target = target_node(own[i]);
    dnode_t *n = target ? strmap_get(&by_name, target) : NULL;
    if (n) {
      node_add_pod(n, own[i], s->hash, min_ready, now);
    } else if (!S(own[i], "spec.nodeName") && !json_get_path(own[i], "metadata.deletionTimestamp")) {
      del_add(&del, own[i]); /* an unbound pod for a node that is gone */
    }
  }

  /* status, from what the caches say now (upstream's updateDaemonSetStatus) */
  int desired = 0, current = 0, miss = 0, ready = 0, available = 0, updated = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    dnode_t *n = &nodes[i];
    if (n->n > 1)
      qsort(n->pods, n->n, sizeof(*n->pods), pod_age_cmp);
    if (!n->run) {
      miss += n->n > 0;
      continue;
    }
    desired++;
    if (n->n == 0)
      continue;
    current++;
    ready += n->pods[0].ready;
    available += n->pods[0].available;
    updated += n->pods[0].updated;
  }
  cJSON *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(st, "currentNumberScheduled", current);
  cJSON_AddNumberToObject(st, "numberMisscheduled", miss);
  cJSON_AddNumberToObject(st, "desiredNumberScheduled", desired);
  cJSON_AddNumberToObject(st, "numberReady", ready);
  cJSON_AddNumberToObject(st, "observedGeneration", N(ds, "metadata.generation", 1));
  if (updated)
    cJSON_AddNumberToObject(st, "updatedNumberScheduled", updated);
  if (available)
    cJSON_AddNumberToObject(st, "numberAvailable", available);
  if (desired - available > 0)
    cJSON_AddNumberToObject(st, "numberUnavailable", desired - available);
  const cJSON *cc = json_get_path(ds, "status.collisionCount");
  if (cc)
    cJSON_AddItemToObject(st, "collisionCount", cJSON_Duplicate(cc, 1));
  const cJSON *conds = json_get_path(ds, "status.conditions");
  if (conds)
    cJSON_AddItemToObject(st, "conditions", cJSON_Duplicate(conds, 1));
  s->status = st;
  if (min_ready > 0 && ready > available)
    controller_enqueue_after(ctl, key, min_ready);

  if (controller_expectations_satisfied(dc->exps, key, lnow)) {
    /* manage: upstream's podsShouldBeOnNode for every node */
    bool surge = scaled(json_get_path(ds, "spec.updateStrategy.rollingUpdate.maxSurge"), desired, 0) > 0;
    const char *strategy = S(ds, "spec.updateStrategy.type");
    bool rolling = !strategy || !strcmp(strategy, "RollingUpdate");
    surge = surge && rolling;
    for (size_t i = 0; i < n_nodes; i++) {
      dnode_t *n = &nodes[i];
      if (n->run && n->n == 0) {
        want_create(s, n->name);
      } else if (n->cont) {
        const dpod_t *running[n->n ? n->n : 1];
        size_t n_run = 0;
        for (size_t j = 0; j < n->n; j++) {
          const dpod_t *p = &n->pods[j];
          if (p->deleting)
            continue;
          if (p->failed) {
            controller_recorder_eventf(dc->rec, s->ds, "Warning", "FailedDaemonPod",
                                       "Found failed daemon pod %s/%s on node %s, will try to kill it",
                                       s->ns, S(p->pod, "metadata.name"), n->name);
            del_add(&del, p->pod);
            continue;
          }
          running[n_run++] = p;
        }
        if (surge && n_run > 1) {
          /* one old and one new pod may share a node while the new one
           * becomes available */
          const dpod_t *new_p = NULL, *old_p = NULL;
          for (size_t j = 0; j < n_run; j++) {
            if (running[j]->updated && !new_p)
              new_p = running[j];
            else if (!running[j]->updated && !old_p)
              old_p = running[j];
            else
              del_add(&del, running[j]->pod);
          }
          if (new_p && old_p && (!old_p->ready || new_p->available))
            del_add(&del, old_p->pod);
        } else {
          for (size_t j = 1; j < n_run; j++)
            del_add(&del, running[j]->pod); /* the oldest stays */
        }
      } else {
        for (size_t j = 0; j < n->n; j++)
          if (!n->pods[j].deleting)
            del_add(&del, n->pods[j].pod);
      }
    }
    if (rolling && s->n_creates == 0 && del.n == 0)
      rolling_update(s, nodes, n_nodes, desired, &del);
    for (size_t i = BURST; i < s->n_creates; i++)
      free(s->creates[i]);
    if (s->n_creates > BURST)
      s->n_creates = BURST; /* the rest next time */
    size_t n_del = del.n > BURST ? BURST : del.n;
    controller_expectations_expect_adds(dc->exps, key, (int)s->n_creates, lnow);
    const char **uids = xcalloc(n_del ? n_del : 1, sizeof(*uids));
    size_t n_uids = 0;
    for (size_t i = 0; i < n_del; i++)
      if (S(del.pods[i], "metadata.uid"))
        uids[n_uids++] = S(del.pods[i], "metadata.uid");
    if (n_uids)
      controller_expectations_expect_dels(dc->exps, key, uids, n_uids, lnow);
    free(uids);
    for (size_t i = 0; i < n_del; i++)
      delete_pod(s, S(del.pods[i], "metadata.name"), S(del.pods[i], "metadata.uid"));
  }
  free(del.pods);
  for (size_t i = 0; i < n_nodes; i++)
    free(nodes[i].pods);
  free(nodes);
  free(own);
  strmap_done(&by_name);
  controller_ops_after(&s->ops, step_done);
}

/* ---- lifetime ---- */

int controller_daemonset_new(client_t *c, client_informer_t *ds_inf, client_informer_t *node_inf,
                             client_informer_t *pod_inf, client_informer_t *rev_inf,
                             struct ev_loop *loop, controller_daemonset_t **ret_dc) {
  controller_daemonset_t *dc = xcalloc(1, sizeof(*dc));
  dc->c = c;
  dc->ds_inf = ds_inf;
  dc->node_inf = node_inf;
  dc->pod_inf = pod_inf;
  dc->rev_inf = rev_inf;
  dc->exps = controller_expectations_new();
  controller_opts_t o = {.name = "daemonset-controller", .workers = 2, .sync = reconcile,
                         .data = dc};
  int r = controller_new(loop, &o, &dc->ctl);
  if (r < 0) {
    controller_expectations_free(dc->exps);
    free(dc);
    return r;
  }
  dc->rec = controller_recorder_new(c, "daemonset-controller");
  controller_wait_for(dc->ctl, ds_inf);
  controller_wait_for(dc->ctl, node_inf);
  controller_wait_for(dc->ctl, pod_inf);
  controller_wait_for(dc->ctl, rev_inf);
  client_informer_handlers_t dh = {ds_added, ds_updated, ds_deleted};
  client_informer_handlers_t nh = {node_added, node_updated, node_deleted};
  client_informer_handlers_t ph = {pod_added, pod_updated, pod_deleted};
  client_informer_handlers_t rh = {rev_changed, rev_updated, rev_changed};
  client_informer_add_handlers(ds_inf, &dh, dc);
  client_informer_add_handlers(node_inf, &nh, dc);
  client_informer_add_handlers(pod_inf, &ph, dc);
  client_informer_add_handlers(rev_inf, &rh, dc);
  controller_start(dc->ctl);
  *ret_dc = dc;
  return 0;
}

void controller_daemonset_free(controller_daemonset_t *dc) {
  if (!dc)
    return;
  while (dc->syncs)
    sync_free(dc->syncs); /* cancels their requests: no callback follows */
  controller_free(dc->ctl);
  controller_recorder_free(dc->rec);
  controller_expectations_free(dc->exps);
  free(dc);
}
