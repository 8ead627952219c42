/* The ReplicaSet controller (and, with a label-map selector, the
 * ReplicationController one): keeps spec.replicas active pods matching the
 * selector, adopting matching orphans and releasing owned pods that stopped
 * matching (ownerReferences), creating in slow-start batches and deleting
 * the least valuable pods first, with upstream's expectations so that a
 * cache that has not yet seen its own writes never causes extra pods, and
 * the status counts and ReplicaFailure condition upstream reports.
 * https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/ */
#include "controller/replicaset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/selector.h"
#include "json/util.h"
#include "util/alloc.h"

#define BURST 500 /* upstream's burstReplicas */

/* ---- small JSON readers ---- */

static double jnum(const cJSON *obj, const char *path, double dflt) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The ownerReference with controller: true, or NULL. */
static const cJSON *controller_ref(const cJSON *obj) {
  const cJSON *r;
  cJSON_ArrayForEach(r, json_get_path(obj, "metadata.ownerReferences")) {
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller")))
      return r;
  }
  return NULL;
}

static bool pod_active(const cJSON *pod) {
  const char *phase = json_str(pod, "status.phase");
  if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
    return false;
  return !json_get_path(pod, "metadata.deletionTimestamp");
}

static bool pod_ready(const cJSON *pod) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = json_str(c, "type"), *s = json_str(c, "status");
    if (t && s && !strcmp(t, "Ready"))
      return !strcmp(s, "True");
  }
  return false;
}

static time_t parse_time(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
    return 0;
  return timegm(&tm);
}

/* Ready for at least min_ready seconds (upstream's IsPodAvailable). */
static bool pod_available(const cJSON *pod, double min_ready, time_t now) {
  if (!pod_ready(pod))
    return false;
  if (min_ready <= 0)
    return true;
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = json_str(c, "type");
    if (t && !strcmp(t, "Ready")) {
      time_t since = parse_time(json_str(c, "lastTransitionTime"));
      return since && (double)(now - since) >= min_ready;
    }
  }
  return false;
}

/* ---- the controller ---- */

typedef struct sync sync_t;

/* What differs between ReplicaSets and ReplicationControllers. */
typedef struct {
  const char *group, *resource, *kind, *api_version, *component;
  bool map_selector; /* spec.selector is a plain label map (v1 RC) */
} kind_t;

static const kind_t kind_rs = {"apps", "replicasets", "ReplicaSet", "apps/v1",
                               "replicaset-controller", false};
static const kind_t kind_rc = {"", "replicationcontrollers", "ReplicationController", "v1",
                               "replication-controller", true};

struct controller_replicaset {
  const kind_t *k;
  client_t *c;
  client_informer_t *rs_inf, *pod_inf;
  controller_t *ctl;
  controller_recorder_t *rec;
  controller_expectations_t *exps;
  sync_t *syncs; /* reconciles in flight */
};

typedef struct {
  char *name, *uid;
  bool assigned, ready, fully_labeled, available;
  int phase_rank; /* Pending 0, Unknown 1, Running 2 */
  time_t created;
  int restarts;
} pod_t;

struct sync {
  controller_replicaset_t *rc;
  sync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  cJSON *rs;     /* a copy: the cache may change while requests run */
  pod_t *pods;   /* the active pods this ReplicaSet owns */
  size_t n_pods, cap_pods;
  controller_ops_t ops; /* the requests in flight */
  int err;
  char errmsg[1024];
  bool create_failed;
  int to_create, created_ok, batch;
};

/* ---- event handlers: which ReplicaSets a pod change concerns ---- */

static void key_of(const char *ns, const char *name, char *out, size_t len) {
  snprintf(out, len, "%s/%s", ns, name);
}

/* The ReplicaSet key a pod's controllerRef points at, if it is one of ours. */
static bool owner_key(controller_replicaset_t *rc, const cJSON *pod, char *key, size_t len) {
  const cJSON *ref = controller_ref(pod);
  const char *kind = json_str(ref, "kind"), *name = json_str(ref, "name"), *uid = json_str(ref, "uid");
  const char *ns = json_str(pod, "metadata.namespace");
  if (!ref || !kind || strcmp(kind, rc->k->kind) || !name || !ns)
    return false;
  const cJSON *rs = client_informer_get(rc->rs_inf, ns, name);
  const char *rs_uid = json_str(rs, "metadata.uid");
  if (!rs || !uid || !rs_uid || strcmp(uid, rs_uid))
    return false;
  key_of(ns, name, key, len);
  return true;
}

/* The selector of a ReplicaSet (a LabelSelector) or of a
 * ReplicationController (a label map). */
static int selector_of(const kind_t *k, const cJSON *obj, label_selector_t **ret, char *err,
                       size_t errlen) {
  const cJSON *sel = json_get_path(obj, "spec.selector");
  if (!k->map_selector)
    return label_selector_from_json(sel, ret, err, errlen);
  if (!cJSON_IsObject(sel) || !sel->child)
    return label_selector_from_json(NULL, ret, err, errlen); /* selects nothing */
  cJSON *m = cJSON_CreateObject();
  cJSON_AddItemToObject(m, "matchLabels", cJSON_Duplicate(sel, 1));
  int r = label_selector_from_json(m, ret, err, errlen);
  cJSON_Delete(m);
  return r;
}

/* An orphan may be adopted by any ReplicaSet whose selector matches it. */
static void enqueue_matching(controller_replicaset_t *rc, const cJSON *pod) {
  const char *ns = json_str(pod, "metadata.namespace");
  size_t n = 0;
  const cJSON **sets =
      client_cache_by_index(client_informer_cache(rc->rs_inf), CLIENT_INDEX_NAMESPACE, ns ? ns : "", &n);
  const cJSON *labels = json_get_path(pod, "metadata.labels");
  for (size_t i = 0; i < n; i++) {
    label_selector_t *sel = NULL;
    char err[256];
    if (selector_of(rc->k, sets[i], &sel, err, sizeof(err)) < 0)
      continue;
    if (!label_selector_empty(sel) && label_selector_match(sel, labels))
      controller_enqueue_obj(rc->ctl, sets[i]);
    label_selector_free(sel);
  }
  free(sets);
}

static void pod_added(const cJSON *pod, void *data) {
  controller_replicaset_t *rc = data;
  char key[600];
  if (json_get_path(pod, "metadata.deletionTimestamp")) {
    if (owner_key(rc, pod, key, sizeof(key))) {
      controller_expectations_observe_del(rc->exps, key, json_str(pod, "metadata.uid"));
      controller_enqueue(rc->ctl, key);
    }
    return;
  }
  if (owner_key(rc, pod, key, sizeof(key))) {
    controller_expectations_observe_add(rc->exps, key);
    controller_enqueue(rc->ctl, key);
    return;
  }
  if (!controller_ref(pod))
    enqueue_matching(rc, pod);
}

static void pod_updated(const cJSON *old, const cJSON *pod, void *data) {
  controller_replicaset_t *rc = data;
  char key[600], okey[600];
  const char *a = json_str(old, "metadata.resourceVersion"), *b = json_str(pod, "metadata.resourceVersion");
  if (a && b && !strcmp(a, b))
    return; /* a relist of the same object */
  bool now_deleting = json_get_path(pod, "metadata.deletionTimestamp") != NULL;
  bool was_deleting = json_get_path(old, "metadata.deletionTimestamp") != NULL;
  bool has = owner_key(rc, pod, key, sizeof(key));
  if (has && now_deleting && !was_deleting)
    controller_expectations_observe_del(rc->exps, key, json_str(pod, "metadata.uid"));
  if (owner_key(rc, old, okey, sizeof(okey)) && (!has || strcmp(okey, key)))
    controller_enqueue(rc->ctl, okey); /* released or moved */
  if (has)
    controller_enqueue(rc->ctl, key);
  else if (!controller_ref(pod) && !now_deleting)
    enqueue_matching(rc, pod);
}

static void pod_deleted(const cJSON *pod, void *data) {
  controller_replicaset_t *rc = data;
  char key[600];
  if (owner_key(rc, pod, key, sizeof(key))) {
    controller_expectations_observe_del(rc->exps, key, json_str(pod, "metadata.uid"));
    controller_enqueue(rc->ctl, key);
  }
}

static void rs_added(const cJSON *rs, void *data) {
  controller_enqueue_obj(((controller_replicaset_t *)data)->ctl, rs);
}
static void rs_updated(const cJSON *old, const cJSON *rs, void *data) {
  controller_enqueue_obj(((controller_replicaset_t *)data)->ctl, rs);
}
static void rs_deleted(const cJSON *rs, void *data) {
  controller_enqueue_obj(((controller_replicaset_t *)data)->ctl, rs);
}

/* ---- one reconcile ---- */

static void sync_free(sync_t *s) {
  controller_replicaset_t *rc = s->rc;
  if (s->prev)
    s->prev->next = s->next;
  else
    rc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  for (size_t i = 0; i < s->n_pods; i++) {
    free(s->pods[i].name);
    free(s->pods[i].uid);
  }
  free(s->pods);
  cJSON_Delete(s->rs);
  free(s->key);
  free(s);
}

static void sync_end(sync_t *s) {
  controller_t *ctl = s->rc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  sync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void sync_end_cb(void *s) { sync_end(s); }

static void pods_add(sync_t *s, const cJSON *pod, const label_selector_t *tmpl, double min_ready,
                     time_t now) {
  if (s->n_pods == s->cap_pods) {
    s->cap_pods = s->cap_pods ? s->cap_pods * 2 : 16;
    s->pods = xrealloc(s->pods, s->cap_pods * sizeof(*s->pods));
  }
  pod_t *p = &s->pods[s->n_pods++];
  memset(p, 0, sizeof(*p));
  p->name = xstrdup(json_str(pod, "metadata.name"));
  p->uid = xstrdup(json_str(pod, "metadata.uid") ? json_str(pod, "metadata.uid") : "");
  const char *node = json_str(pod, "spec.nodeName");
  p->assigned = node && node[0];
  p->ready = pod_ready(pod);
  p->available = pod_available(pod, min_ready, now);
  p->fully_labeled = label_selector_match(tmpl, json_get_path(pod, "metadata.labels"));
  const char *phase = json_str(pod, "status.phase");
  p->phase_rank = !phase || !strcmp(phase, "Pending") ? 0 : !strcmp(phase, "Unknown") ? 1 : 2;
  p->created = parse_time(json_str(pod, "metadata.creationTimestamp"));
  const cJSON *cs;
  cJSON_ArrayForEach(cs, json_get_path(pod, "status.containerStatuses"))
    p->restarts += (int)jnum(cs, "restartCount", 0);
}

static void manage(sync_t *s);
static void write_status(sync_t *s);

/* A selector of the template's labels: pods that have all of them are
 * "fully labeled". */
static label_selector_t *template_selector(const cJSON *rs) {
  label_selector_t *sel = NULL;
  char err[256];
  cJSON *m = cJSON_CreateObject();
  const cJSON *tl = json_get_path(rs, "spec.template.metadata.labels");
  cJSON_AddItemToObject(m, "matchLabels", tl ? cJSON_Duplicate(tl, 1) : cJSON_CreateObject());
  label_selector_from_json(m, &sel, err, sizeof(err));
  cJSON_Delete(m);
  return sel;
}

/* ---- adoption and release ---- */

static void manage_cb(void *s) { manage(s); }
static void write_status_cb(void *s) { write_status(s); }

static void claim_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  sync_t *s = controller_op_owner(op);
  bool adopt = op->name != NULL;
  if (adopt && res->code == 200) {
    /* Adopted: it counts as ours now (upstream's ClaimPods result). */
    label_selector_t *tmpl = template_selector(s->rs);
    pods_add(s, res->obj, tmpl, jnum(s->rs, "spec.minReadySeconds", 0), time(NULL));
    label_selector_free(tmpl);
  } else if (res->code != 200 && res->code != 404 && res->code != 422) {
    s->err = -EAGAIN; /* retried with back-off */
  }
  controller_op_finish(op);
}

static void patch_owner(sync_t *s, const cJSON *pod, bool adopt) {
  controller_replicaset_t *rc = s->rc;
  controller_op_t *op =
      controller_op_new(&s->ops, 0, adopt ? json_str(pod, "metadata.name") : NULL, NULL);
  cJSON *p = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(p, "metadata");
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  cJSON *r = cJSON_CreateObject();
  if (adopt) {
    cJSON_AddStringToObject(r, "apiVersion", rc->k->api_version);
    cJSON_AddStringToObject(r, "kind", rc->k->kind);
    cJSON_AddStringToObject(r, "name", json_str(s->rs, "metadata.name"));
    cJSON_AddStringToObject(r, "uid", json_str(s->rs, "metadata.uid"));
    cJSON_AddTrueToObject(r, "controller");
    cJSON_AddTrueToObject(r, "blockOwnerDeletion");
  } else {
    cJSON_AddStringToObject(r, "$patch", "delete");
    cJSON_AddStringToObject(r, "uid", json_str(s->rs, "metadata.uid"));
  }
  cJSON_AddItemToArray(refs, r);
  /* The pod's uid makes the patch fail if the pod was replaced meanwhile. */
  cJSON_AddStringToObject(md, "uid", json_str(pod, "metadata.uid"));
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns,
                      .name = json_str(pod, "metadata.name")};
  controller_op_track(op, client_patch(rc->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, claim_done, op));
  cJSON_Delete(p);
}

/* ---- scaling ---- */

static int rank_cmp(const void *a, const void *b) {
  const pod_t *x = a, *y = b;
  /* The pod to delete first sorts first (upstream's ActivePodsWithRanks). */
  if (x->assigned != y->assigned)
    return x->assigned ? 1 : -1;
  if (x->phase_rank != y->phase_rank)
    return x->phase_rank - y->phase_rank;
  if (x->ready != y->ready)
    return x->ready ? 1 : -1;
  if (x->restarts != y->restarts)
    return y->restarts - x->restarts;
  if (x->created != y->created)
    return x->created > y->created ? -1 : 1;
  return strcmp(x->name, y->name);
}

static void create_batch(sync_t *s);

static void create_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  sync_t *s = controller_op_owner(op);
  controller_replicaset_t *rc = s->rc;
  if (res->code == 201 || res->code == 200) {
    s->created_ok++;
    controller_recorder_eventf(rc->rec, s->rs, "Normal", "SuccessfulCreate", "Created pod: %s",
                               json_str(res->obj, "metadata.name") ? json_str(res->obj, "metadata.name")
                                                               : "");
  } else {
    controller_expectations_observe_add(rc->exps, s->key); /* it will never be seen */
    if (!s->create_failed) {
      s->create_failed = true;
      snprintf(s->errmsg, sizeof(s->errmsg), "%s",
               res->message && res->message[0] ? res->message : "request failed");
      controller_recorder_eventf(rc->rec, s->rs, "Warning", "FailedCreate", "Error creating: %s",
                                 s->errmsg);
    }
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

/* A batch answered: the next one, or (after a failure) give up the rest
 * for this sync. The pods not attempted will never be seen, so they stop
 * being expected (else the next syncs would wait 5 minutes for them). */
static void create_next(void *p) {
  sync_t *s = p;
  if (!s->create_failed && s->to_create > 0) {
    create_batch(s);
    return;
  }
  for (; s->to_create > 0; s->to_create--)
    controller_expectations_observe_add(s->rc->exps, s->key);
  write_status(s);
}

/* Create the next slow-start batch (1, 2, 4, ...), as upstream does so that
 * a template the API refuses fails once, not 500 times. */
static void create_batch(sync_t *s) {
  controller_replicaset_t *rc = s->rc;
  int n = s->batch < s->to_create ? s->batch : s->to_create;
  s->to_create -= n;
  s->batch *= 2;
  const cJSON *tmpl = json_get_path(s->rs, "spec.template");
  for (int i = 0; i < n; i++) {
    cJSON *pod = cJSON_CreateObject();
    cJSON_AddStringToObject(pod, "apiVersion", "v1");
    cJSON_AddStringToObject(pod, "kind", "Pod");
    cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
    char gen[300];
    snprintf(gen, sizeof(gen), "%s-", s->name);
    cJSON_AddStringToObject(md, "generateName", gen);
    cJSON_AddStringToObject(md, "namespace", s->ns);
    static const char *const copy[] = {"labels", "annotations", "finalizers"};
    for (size_t k = 0; k < 3; k++) {
      const cJSON *v = json_get_path(cJSON_GetObjectItemCaseSensitive(tmpl, "metadata"), copy[k]);
      if (v)
        cJSON_AddItemToObject(md, copy[k], cJSON_Duplicate(v, 1));
    }
    cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "apiVersion", rc->k->api_version);
    cJSON_AddStringToObject(r, "kind", rc->k->kind);
    cJSON_AddStringToObject(r, "name", s->name);
    cJSON_AddStringToObject(r, "uid", json_str(s->rs, "metadata.uid"));
    cJSON_AddTrueToObject(r, "controller");
    cJSON_AddTrueToObject(r, "blockOwnerDeletion");
    cJSON_AddItemToArray(refs, r);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(tmpl, "spec");
    cJSON_AddItemToObject(pod, "spec", spec ? cJSON_Duplicate(spec, 1) : cJSON_CreateObject());
    controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
    client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns};
    if (controller_op_track(op, client_create(rc->c, &ref, pod, create_done, op)) < 0)
      controller_expectations_observe_add(rc->exps, s->key);
    cJSON_Delete(pod);
  }
  if (controller_ops_pending(&s->ops) == 0) { /* nothing could be started */
    for (; s->to_create > 0; s->to_create--)
      controller_expectations_observe_add(rc->exps, s->key);
    write_status(s);
    return;
  }
  controller_ops_after(&s->ops, create_next);
}

static void delete_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  sync_t *s = controller_op_owner(op);
  controller_replicaset_t *rc = s->rc;
  if (res->code == 200 || res->code == 202) {
    controller_recorder_eventf(rc->rec, s->rs, "Normal", "SuccessfulDelete", "Deleted pod: %s",
                               op->name);
  } else {
    controller_expectations_observe_del(rc->exps, s->key, op->uid);
    if (res->code != 404) {
      controller_recorder_eventf(rc->rec, s->rs, "Warning", "FailedDelete", "Error deleting: %s",
                                 res->message && res->message[0] ? res->message : "request failed");
      s->err = -EAGAIN;
    }
  }
  controller_op_finish(op);
}

static void manage(sync_t *s) {
  controller_replicaset_t *rc = s->rc;
  double now = ev_now(controller_loop(rc->ctl));
  if (s->err || json_get_path(s->rs, "metadata.deletionTimestamp") ||
      !controller_expectations_satisfied(rc->exps, s->key, now)) {
    write_status(s);
    return;
  }
  int want = (int)jnum(s->rs, "spec.replicas", 1);
  int diff = (int)s->n_pods - want;
  if (diff < 0) {
    int n = -diff > BURST ? BURST : -diff;
    controller_expectations_expect_adds(rc->exps, s->key, n, now);
    s->to_create = n;
    s->batch = 1;
    create_batch(s);
    return;
  }
  if (diff > 0) {
    int n = diff > BURST ? BURST : diff;
    qsort(s->pods, s->n_pods, sizeof(*s->pods), rank_cmp);
    const char **uids = xcalloc((size_t)n, sizeof(*uids));
    for (int i = 0; i < n; i++)
      uids[i] = s->pods[i].uid;
    controller_expectations_expect_dels(rc->exps, s->key, uids, (size_t)n, now);
    free(uids);
    for (int i = 0; i < n; i++) {
      controller_op_t *op = controller_op_new(&s->ops, 0, s->pods[i].name, s->pods[i].uid);
      client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = s->pods[i].name};
      if (controller_op_track(op, client_delete(rc->c, &ref, NULL, delete_done, op)) < 0)
        controller_expectations_observe_del(rc->exps, s->key, s->pods[i].uid);
    }
    controller_ops_after(&s->ops, write_status_cb);
    return;
  }
  write_status(s);
}

/* ---- status ---- */

static void status_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  sync_t *s = controller_op_owner(op);
  if (res->code != 200 && res->code != 404)
    s->err = -EAGAIN;
  controller_op_finish(op); /* the set's end: sync_end */
}

static void write_status(sync_t *s) {
  controller_replicaset_t *rc = s->rc;
  int ready = 0, available = 0, labeled = 0;
  for (size_t i = 0; i < s->n_pods; i++) {
    ready += s->pods[i].ready;
    available += s->pods[i].available;
    labeled += s->pods[i].fully_labeled;
  }
  const cJSON *old = json_get_path(s->rs, "status");
  cJSON *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(st, "replicas", (double)s->n_pods);
  cJSON_AddNumberToObject(st, "fullyLabeledReplicas", labeled);
  cJSON_AddNumberToObject(st, "readyReplicas", ready);
  cJSON_AddNumberToObject(st, "availableReplicas", available);
  cJSON_AddNumberToObject(st, "observedGeneration", jnum(s->rs, "metadata.generation", 1));
  /* ReplicaFailure: set when creating or deleting failed in this sync,
   * removed once a sync manages without error (upstream calculateStatus). */
  const cJSON *old_conds = json_get_path(s->rs, "status.conditions");
  const cJSON *old_fail = NULL, *c;
  cJSON_ArrayForEach(c, old_conds) {
    const char *t = json_str(c, "type");
    if (t && !strcmp(t, "ReplicaFailure"))
      old_fail = c;
  }
  if (s->create_failed) {
    cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
    cJSON *f = old_fail ? cJSON_Duplicate(old_fail, 1) : cJSON_CreateObject();
    if (!old_fail) {
      char ts[32];
      time_t t = time(NULL);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
      cJSON_AddStringToObject(f, "type", "ReplicaFailure");
      cJSON_AddStringToObject(f, "status", "True");
      cJSON_AddStringToObject(f, "lastTransitionTime", ts);
    }
    cJSON_DeleteItemFromObject(f, "reason");
    cJSON_DeleteItemFromObject(f, "message");
    cJSON_AddStringToObject(f, "reason", "FailedCreate");
    cJSON_AddStringToObject(f, "message", s->errmsg);
    cJSON_AddItemToArray(conds, f);
  } else if (old_fail && !s->err) {
    cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
    cJSON_ArrayForEach(c, old_conds) {
      const char *t = json_str(c, "type");
      if (!t || strcmp(t, "ReplicaFailure"))
        cJSON_AddItemToArray(conds, cJSON_Duplicate(c, 1));
    }
  } else if (old_conds) {
    cJSON_AddItemToObject(st, "conditions", cJSON_Duplicate(old_conds, 1));
  }
  /* An empty status field is absent upstream ("readyReplicas" omitted at 0). */
  static const char *const counts[] = {"fullyLabeledReplicas", "readyReplicas",
                                       "availableReplicas"};
  for (size_t i = 0; i < 3; i++)
    if (jnum(st, counts[i], 0) == 0)
      cJSON_DeleteItemFromObject(st, counts[i]);
  if (!cJSON_GetArraySize(cJSON_GetObjectItem(st, "conditions")))
    cJSON_DeleteItemFromObject(st, "conditions");

  double min_ready = jnum(s->rs, "spec.minReadySeconds", 0);
  if (min_ready > 0 && ready > available)
    controller_enqueue_after(rc->ctl, s->key, min_ready); /* availability is time-based */

  if (json_equal(st, old)) {
    cJSON_Delete(st);
    sync_end(s);
    return;
  }
  /* A merge patch of the whole status: null removes what we do not set. */
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
    const char *name = item->string;
    cJSON_AddItemToObject(ps, name, item);
  }
  cJSON_Delete(st);
  controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
  client_ref_t ref = {.group = rc->k->group, .version = "v1", .resource = rc->k->resource, .ns = s->ns,
                      .name = s->name, .subresource = "status"};
  int r = controller_op_track(op, client_patch(rc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, status_done, op));
  cJSON_Delete(p);
  if (r < 0) {
    s->err = r;
    sync_end(s);
  }
}

/* ---- reconcile(key) ---- */

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_replicaset_t *rc = data;
  sync_t *s = xcalloc(1, sizeof(*s));
  s->rc = rc;
  s->key = xstrdup(key);
  s->next = rc->syncs;
  if (s->next)
    s->next->prev = s;
  rc->syncs = s;
  controller_ops_init(&s->ops, s, sync_end_cb);
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) < 0) {
    sync_end(s);
    return;
  }
  const cJSON *rs = client_informer_get(rc->rs_inf, s->ns, s->name);
  if (!rs) {
    controller_expectations_delete(rc->exps, key);
    sync_end(s);
    return;
  }
  s->rs = cJSON_Duplicate(rs, 1);
  const char *uid = json_str(rs, "metadata.uid");
  bool deleting = json_get_path(rs, "metadata.deletionTimestamp") != NULL;
  label_selector_t *sel = NULL, *tmpl = NULL;
  char err[256];
  if (selector_of(rc->k, rs, &sel, err, sizeof(err)) < 0 ||
      label_selector_empty(sel)) {
    /* upstream: an invalid or empty selector matches nothing */
    label_selector_free(sel);
    write_status(s);
    return;
  }
  tmpl = template_selector(rs);
  double min_ready = jnum(rs, "spec.minReadySeconds", 0);
  time_t now = time(NULL);

  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(rc->pod_inf), CLIENT_INDEX_NAMESPACE, s->ns, &n);
  for (size_t i = 0; i < n; i++) {
    const cJSON *pod = pods[i];
    if (!pod_active(pod))
      continue;
    const cJSON *ref = controller_ref(pod);
    bool match = label_selector_match(sel, json_get_path(pod, "metadata.labels"));
    if (ref) {
      const char *ruid = json_str(ref, "uid");
      if (!ruid || !uid || strcmp(ruid, uid))
        continue; /* someone else's */
      if (match)
        pods_add(s, pod, tmpl, min_ready, now);
      else if (!deleting)
        patch_owner(s, pod, false); /* release */
    } else if (match && !deleting) {
      patch_owner(s, pod, true); /* adopt */
    }
  }
  free(pods);
  label_selector_free(sel);
  label_selector_free(tmpl);
  controller_ops_after(&s->ops, manage_cb);
}

/* ---- lifetime ---- */

static int start(const kind_t *k, client_t *c, client_informer_t *rs_inf,
                 client_informer_t *pod_inf, struct ev_loop *loop, controller_replicaset_t **ret_rc) {
  controller_replicaset_t *rc = xcalloc(1, sizeof(*rc));
  rc->k = k;
  rc->c = c;
  rc->rs_inf = rs_inf;
  rc->pod_inf = pod_inf;
  controller_opts_t o = {.name = k->component, .sync = reconcile, .data = rc};
  int r = controller_new(loop, &o, &rc->ctl);
  if (r < 0) {
    free(rc);
    return r;
  }
  rc->rec = controller_recorder_new(c, k->component);
  rc->exps = controller_expectations_new();
  controller_wait_for(rc->ctl, rs_inf);
  controller_wait_for(rc->ctl, pod_inf);
  client_informer_handlers_t rh = {rs_added, rs_updated, rs_deleted};
  client_informer_handlers_t ph = {pod_added, pod_updated, pod_deleted};
  client_informer_add_handlers(rs_inf, &rh, rc);
  client_informer_add_handlers(pod_inf, &ph, rc);
  controller_start(rc->ctl);
  *ret_rc = rc;
  return 0;
}

int controller_replicaset_new(client_t *c, client_informer_t *rs_inf, client_informer_t *pod_inf,
                              struct ev_loop *loop, controller_replicaset_t **ret_rc) {
  return start(&kind_rs, c, rs_inf, pod_inf, loop, ret_rc);
}

int controller_replicationcontroller_new(client_t *c, client_informer_t *rc_inf,
                                         client_informer_t *pod_inf, struct ev_loop *loop,
                                         controller_replicaset_t **ret_rc) {
  return start(&kind_rc, c, rc_inf, pod_inf, loop, ret_rc);
}

void controller_replicaset_free(controller_replicaset_t *rc) {
  if (!rc)
    return;
  while (rc->syncs)
    sync_free(rc->syncs); /* cancels their requests: no callback follows */
  controller_free(rc->ctl);
  controller_recorder_free(rc->rec);
  controller_expectations_free(rc->exps);
  free(rc);
}
