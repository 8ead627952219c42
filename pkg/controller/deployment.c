/* The Deployment controller: owns one ReplicaSet per pod template (named
 * <deployment>-<pod-template-hash>), rolls from the old ones to the new one
 * with RollingUpdate (maxSurge/maxUnavailable, counts or percentages) or
 * Recreate, keeps the deployment.kubernetes.io/revision, desired-replicas
 * and max-replicas annotations kubectl's rollout commands read, prunes old
 * ReplicaSets beyond revisionHistoryLimit and reports status with the
 * Available and Progressing conditions (progressDeadlineSeconds), the shape
 * of upstream's pkg/controller/deployment.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/ */
#include "controller/deployment.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/internal.h"
#include "json/selector.h"
#include "json/util.h"
#include "util/alloc.h"

#define HASH_LABEL "pod-template-hash"
#define REV_ANN "deployment.kubernetes.io/revision"
#define DESIRED_ANN "deployment.kubernetes.io/desired-replicas"
#define MAX_ANN "deployment.kubernetes.io/max-replicas"
#define MAX_RS 256 /* ReplicaSets looked at per Deployment */

#define S controller__str
#define N controller__num

typedef struct dsync dsync_t;

struct controller_deployment {
  client_t *c;
  client_informer_t *d_inf, *rs_inf;
  controller_t *ctl;
  controller_recorder_t *rec;
  dsync_t *syncs;
};

struct dsync {
  controller_deployment_t *dc;
  dsync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  cJSON *d;
  cJSON *rss[MAX_RS]; /* copies of the owned ReplicaSets */
  size_t n_rss;
  controller_ops_t ops; /* the requests in flight */
  int err;
  cJSON *new_rs;           /* borrowed from rss[] (or the created one) */
  bool created_new;
  char created_name[300];
};

/* ---- helpers ---- */

static long replicas_of(const cJSON *o) { return (long)N(o, "spec.replicas", 1); }
static long status_of(const cJSON *o, const char *f) {
  char path[64];
  snprintf(path, sizeof(path), "status.%s", f);
  return (long)N(o, path, 0);
}

/* Available pods of a ReplicaSet for scale-down decisions: its status lags
 * its spec, and pods above spec.replicas are about to be deleted, so they
 * never count (else a stale status lets two scale-downs in a row go below
 * replicas - maxUnavailable). */
static long avail_of(const cJSON *rs) {
  long a = status_of(rs, "availableReplicas"), r = replicas_of(rs);
  return a < r ? a : r;
}

static long revision_of(const cJSON *rs) {
  const cJSON *a = json_get_path(rs, "metadata.annotations");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, REV_ANN);
  return cJSON_IsString(v) ? strtol(v->valuestring, NULL, 10) : 0;
}

/* An int-or-percent field against total: percentages round up for surge
 * and down for unavailable, as upstream's GetScaledValueFromIntOrPercent. */
static long int_or_percent(const cJSON *v, long total, bool round_up, long dflt) {
  if (cJSON_IsNumber(v))
    return (long)v->valuedouble;
  if (cJSON_IsString(v)) {
    char *end;
    double p = strtod(v->valuestring, &end);
    if (*end == '%') {
      double x = p * (double)total / 100.0;
      return (long)(round_up ? ceil(x) : floor(x));
    }
    return (long)p;
  }
  return dflt;
}

static bool is_recreate(const cJSON *d) {
  const char *t = S(d, "spec.strategy.type");
  return t && !strcmp(t, "Recreate");
}

static void surge_unavail(const cJSON *d, long *ret_surge, long *ret_unavail) {
  long replicas = replicas_of(d);
  if (is_recreate(d)) {
    *ret_surge = 0;
    *ret_unavail = replicas;
    return;
  }
  const cJSON *ru = json_get_path(d, "spec.strategy.rollingUpdate");
  cJSON *dflt = cJSON_CreateString("25%");
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(ru, "maxSurge");
  const cJSON *mu = cJSON_GetObjectItemCaseSensitive(ru, "maxUnavailable");
  long surge = int_or_percent(ms ? ms : dflt, replicas, true, 0);
  long unavail = int_or_percent(mu ? mu : dflt, replicas, false, 0);
  cJSON_Delete(dflt);
  if (surge == 0 && unavail == 0)
    unavail = 1; /* upstream: both zero would deadlock; it forces 1 unavailable */
  if (unavail > replicas)
    unavail = replicas;
  *ret_surge = surge;
  *ret_unavail = unavail;
}

/* The template without the pod-template-hash label, for comparing. */
static cJSON *template_sans_hash(const cJSON *rs) {
  cJSON *t = cJSON_Duplicate(json_get_path(rs, "spec.template"), 1);
  cJSON *md = cJSON_GetObjectItemCaseSensitive(t, "metadata");
  cJSON *labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
  cJSON_DeleteItemFromObjectCaseSensitive(labels, HASH_LABEL);
  if (labels && !labels->child)
    cJSON_DeleteItemFromObjectCaseSensitive(md, "labels");
  json_prune_nulls(t); /* "creationTimestamp": null (kubectl sends it) equals absent */
  return t;
}

/* The pod-template-hash of the Deployment's template and collision count. */
static void template_hash(const cJSON *d, char *out, size_t len) {
  controller__template_hash(json_get_path(d, "spec.template"),
                            (long)N(d, "status.collisionCount", 0), out, len);
}

/* ---- requests of one sync ---- */

/* Start tracking a request of s (NULL: a malformed ref, the sync fails). */
static void track(dsync_t *s, client_req_t *r, controller_op_t *op) {
  if (controller_op_track(op, r) < 0)
    s->err = -EINVAL;
}

static controller_op_t *new_op(dsync_t *s) { return controller_op_new(&s->ops, 0, NULL, NULL); }

static void dsync_free(dsync_t *s) {
  controller_deployment_t *dc = s->dc;
  if (s->prev)
    s->prev->next = s->next;
  else
    dc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops); /* their callbacks will not run */
  for (size_t i = 0; i < s->n_rss; i++)
    cJSON_Delete(s->rss[i]);
  cJSON_Delete(s->d);
  free(s->key);
  free(s);
}

static void dsync_end(dsync_t *s) {
  controller_t *ctl = s->dc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  dsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void dsync_end_cb(void *s) { dsync_end(s); }

static void generic_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  dsync_t *s = controller_op_owner(op);
  if (res->code >= 300 && res->code != 404)
    s->err = -EAGAIN;
  controller_op_finish(op);
}

/* ---- scaling a ReplicaSet ---- */

static void scale_rs(dsync_t *s, cJSON *rs, long to, long desired, long max_replicas) {
  controller_deployment_t *dc = s->dc;
  long from = replicas_of(rs);
  char dv[32], mv[32];
  snprintf(dv, sizeof(dv), "%ld", desired);
  snprintf(mv, sizeof(mv), "%ld", max_replicas);
  const cJSON *ann = json_get_path(rs, "metadata.annotations");
  const cJSON *d_ann = cJSON_GetObjectItemCaseSensitive(ann, DESIRED_ANN);
  const cJSON *m_ann = cJSON_GetObjectItemCaseSensitive(ann, MAX_ANN);
  bool ann_same = cJSON_IsString(d_ann) && !strcmp(d_ann->valuestring, dv) && cJSON_IsString(m_ann) &&
                  !strcmp(m_ann->valuestring, mv);
  if (from == to && ann_same)
    return;
  cJSON *p = cJSON_CreateObject();
  cJSON *a = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
  cJSON_AddStringToObject(a, DESIRED_ANN, dv);
  cJSON_AddStringToObject(a, MAX_ANN, mv);
  cJSON_AddNumberToObject(cJSON_AddObjectToObject(p, "spec"), "replicas", (double)to);
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "replicasets", .ns = s->ns,
                      .name = S(rs, "metadata.name")};
  controller_op_t *op = new_op(s);
  track(s, client_patch(dc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, generic_done, op), op);
  cJSON_Delete(p);
  /* The copy follows, so the status written at the end counts the new size. */
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(rs, "spec");
  if (spec)
    cJSON_ReplaceItemInObject(spec, "replicas", cJSON_CreateNumber((double)to));
  if (from != to)
    controller_recorder_eventf(dc->rec, s->d, "Normal", "ScalingReplicaSet",
                               "Scaled %s replica set %s to %ld from %ld", to > from ? "up" : "down",
                               S(rs, "metadata.name"), to, from);
}

/* ---- status ---- */

static void set_condition(cJSON *conds, const cJSON *old_conds, const char *type, const char *status,
                          const char *reason, const char *message, bool touch) {
  char now[32];
  controller__now(now, sizeof(now));
  const cJSON *old = NULL, *c;
  cJSON_ArrayForEach(c, old_conds) {
    const char *t = S(c, "type");
    if (t && !strcmp(t, type))
      old = c;
  }
  cJSON *n = cJSON_CreateObject();
  cJSON_AddStringToObject(n, "type", type);
  cJSON_AddStringToObject(n, "status", status);
  const char *os = S(old, "status"), *orr = S(old, "reason"), *om = S(old, "message");
  bool same_status = os && !strcmp(os, status);
  bool same = same_status && orr && !strcmp(orr, reason) && om && !strcmp(om, message);
  const char *lut = S(old, "lastUpdateTime"), *ltt = S(old, "lastTransitionTime");
  cJSON_AddStringToObject(n, "lastUpdateTime", same && !touch && lut ? lut : now);
  cJSON_AddStringToObject(n, "lastTransitionTime", same_status && ltt ? ltt : now);
  cJSON_AddStringToObject(n, "reason", reason);
  cJSON_AddStringToObject(n, "message", message);
  cJSON_AddItemToArray(conds, n);
}

static void status_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  dsync_t *s = controller_op_owner(op);
  if (res->code != 200 && res->code != 404)
    s->err = -EAGAIN;
  controller_op_finish(op);
}

static void write_status(dsync_t *s) {
  controller_deployment_t *dc = s->dc;
  const cJSON *d = s->d;
  long want = replicas_of(d), surge, unavail;
  surge_unavail(d, &surge, &unavail);
  long total = 0, spec_total = 0, ready = 0, avail = 0, updated = 0, old_pods = 0;
  for (size_t i = 0; i < s->n_rss; i++) {
    const cJSON *rs = s->rss[i];
    total += status_of(rs, "replicas");
    spec_total += replicas_of(rs);
    ready += status_of(rs, "readyReplicas");
    avail += status_of(rs, "availableReplicas");
    if (rs == s->new_rs)
      updated = status_of(rs, "replicas");
    else
      old_pods += status_of(rs, "replicas");
  }
  const cJSON *old = json_get_path(d, "status");
  const cJSON *old_conds = json_get_path(d, "status.conditions");
  cJSON *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(st, "observedGeneration", N(d, "metadata.generation", 1));
  cJSON_AddNumberToObject(st, "replicas", (double)total);
  cJSON_AddNumberToObject(st, "updatedReplicas", (double)updated);
  cJSON_AddNumberToObject(st, "readyReplicas", (double)ready);
  cJSON_AddNumberToObject(st, "availableReplicas", (double)avail);
  long unavailable = spec_total - avail;
  cJSON_AddNumberToObject(st, "unavailableReplicas", (double)(unavailable > 0 ? unavailable : 0));
  const cJSON *cc = json_get_path(d, "status.collisionCount");
  if (cc)
    cJSON_AddItemToObject(st, "collisionCount", cJSON_Duplicate(cc, 1));
  cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
  if (avail >= want - unavail)
    set_condition(conds, old_conds, "Available", "True", "MinimumReplicasAvailable",
                  "Deployment has minimum availability.", false);
  else
    set_condition(conds, old_conds, "Available", "False", "MinimumReplicasUnavailable",
                  "Deployment does not have minimum availability.", false);
  /* Progressing */
  char msg[512];
  const char *nname = s->new_rs ? S(s->new_rs, "metadata.name") : NULL;
  double deadline = N(d, "spec.progressDeadlineSeconds", 600);
  bool paused = cJSON_IsTrue(json_get_path(d, "spec.paused"));
  const cJSON *oprog = NULL, *c;
  cJSON_ArrayForEach(c, old_conds) {
    const char *t = S(c, "type");
    if (t && !strcmp(t, "Progressing"))
      oprog = c;
  }
  bool complete = s->new_rs && updated == want && replicas_of(s->new_rs) == want &&
                  status_of(s->new_rs, "availableReplicas") >= want && old_pods == 0 && total == want;
  if (paused) {
    set_condition(conds, old_conds, "Progressing", "Unknown", "DeploymentPaused",
                  "Deployment is paused", false);
  } else if (s->created_new) {
    snprintf(msg, sizeof(msg), "Created new replica set \"%s\"", s->created_name);
    set_condition(conds, old_conds, "Progressing", "True", "NewReplicaSetCreated", msg, true);
  } else if (nname && complete) {
    snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has successfully progressed.", nname);
    set_condition(conds, old_conds, "Progressing", "True", "NewReplicaSetAvailable", msg, false);
  } else if (nname) {
    const char *oreason = S(oprog, "reason");
    bool changed = !json_equal(json_get_path(old, "updatedReplicas"),
                               cJSON_GetObjectItem(st, "updatedReplicas")) ||
                   !json_equal(json_get_path(old, "availableReplicas"),
                               cJSON_GetObjectItem(st, "availableReplicas")) ||
                   !json_equal(json_get_path(old, "replicas"), cJSON_GetObjectItem(st, "replicas"));
    time_t last = controller__time(S(oprog, "lastUpdateTime"));
    if (!oprog) {
      snprintf(msg, sizeof(msg), "Found new replica set \"%s\"", nname);
      set_condition(conds, old_conds, "Progressing", "True", "FoundNewReplicaSet", msg, true);
    } else if (changed) {
      snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.", nname);
      set_condition(conds, old_conds, "Progressing", "True", "ReplicaSetUpdated", msg, true);
    } else if (oreason && strcmp(oreason, "ProgressDeadlineExceeded") && last &&
               (double)(time(NULL) - last) > deadline) {
      snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has timed out progressing.", nname);
      set_condition(conds, old_conds, "Progressing", "False", "ProgressDeadlineExceeded", msg, false);
    } else {
      cJSON_AddItemToArray(conds, cJSON_Duplicate(oprog, 1));
    }
    if (!complete && last)
      controller_enqueue_after(dc->ctl, s->key, deadline + 1); /* look at the deadline */
  } else if (oprog) {
    cJSON_AddItemToArray(conds, cJSON_Duplicate(oprog, 1));
  }
  /* Zero counts are omitted, as upstream's omitempty does. */
  static const char *const counts[] = {"replicas", "updatedReplicas", "readyReplicas",
                                       "availableReplicas", "unavailableReplicas"};
  for (size_t i = 0; i < 5; i++)
    if (N(st, counts[i], 0) == 0)
      cJSON_DeleteItemFromObject(st, counts[i]);
  if (json_equal(st, old)) {
    cJSON_Delete(st);
    controller_ops_after(&s->ops, dsync_end_cb);
    return;
  }
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
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "deployments", .ns = s->ns,
                      .name = s->name, .subresource = "status"};
  controller_op_t *op = new_op(s);
  track(s, client_patch(dc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, status_done, op), op);
  cJSON_Delete(p);
  controller_ops_after(&s->ops, dsync_end_cb);
}

/* ---- the deployment's own revision annotation ---- */

static void sync_revision_annotation(dsync_t *s) {
  if (!s->new_rs)
    return;
  long rev = revision_of(s->new_rs);
  const cJSON *a = json_get_path(s->d, "metadata.annotations");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, REV_ANN);
  char want[32];
  snprintf(want, sizeof(want), "%ld", rev);
  if (!rev || (cJSON_IsString(v) && !strcmp(v->valuestring, want)))
    return;
  cJSON *p = cJSON_CreateObject();
  cJSON *an = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
  cJSON_AddStringToObject(an, REV_ANN, want);
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "deployments", .ns = s->ns,
                      .name = s->name};
  controller_op_t *op = new_op(s);
  track(s, client_patch(s->dc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, generic_done, op), op);
  cJSON_Delete(p);
}

/* ---- clean-up of old ReplicaSets (revisionHistoryLimit) ---- */

static int by_revision(const void *a, const void *b) {
  long x = revision_of(*(cJSON *const *)a), y = revision_of(*(cJSON *const *)b);
  return x < y ? -1 : x > y;
}

static void cleanup_old(dsync_t *s) {
  long limit = (long)N(s->d, "spec.revisionHistoryLimit", 10);
  cJSON *dead[MAX_RS];
  size_t n = 0;
  for (size_t i = 0; i < s->n_rss; i++) {
    cJSON *rs = s->rss[i];
    if (rs == s->new_rs || replicas_of(rs) || status_of(rs, "replicas") ||
        json_get_path(rs, "metadata.deletionTimestamp"))
      continue;
    dead[n++] = rs;
  }
  if ((long)n <= limit)
    return;
  qsort(dead, n, sizeof(*dead), by_revision);
  for (size_t i = 0; i < n - (size_t)limit; i++) {
    client_ref_t ref = {.group = "apps", .version = "v1", .resource = "replicasets", .ns = s->ns,
                        .name = S(dead[i], "metadata.name")};
    controller_op_t *op = new_op(s);
    track(s, client_delete(s->dc->c, &ref, NULL, generic_done, op), op);
  }
}

/* ---- rollout ---- */

static long max_old_revision(const dsync_t *s) {
  long m = 0;
  for (size_t i = 0; i < s->n_rss; i++)
    if (s->rss[i] != s->new_rs && revision_of(s->rss[i]) > m)
      m = revision_of(s->rss[i]);
  return m;
}

static void create_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  dsync_t *s = controller_op_owner(op);
  if (res->code == 201) {
    s->created_new = true;
    long n = (long)N(res->obj, "spec.replicas", 0);
    const char *name = S(res->obj, "metadata.name");
    snprintf(s->created_name, sizeof(s->created_name), "%s", name ? name : "");
    if (n > 0)
      controller_recorder_eventf(s->dc->rec, s->d, "Normal", "ScalingReplicaSet",
                                 "Scaled up replica set %s to %ld", s->created_name, n);
    if (s->n_rss < MAX_RS) {
      cJSON *rs = client_result_take(res);
      s->rss[s->n_rss++] = rs;
      s->new_rs = rs;
    }
  } else if (res->code == 409) {
    /* A ReplicaSet of that name with another template: count the collision
     * so the next hash differs (upstream's status.collisionCount). */
    long cc = (long)N(s->d, "status.collisionCount", 0) + 1;
    cJSON *st = cJSON_GetObjectItemCaseSensitive(s->d, "status");
    if (!st)
      st = cJSON_AddObjectToObject(s->d, "status");
    cJSON_DeleteItemFromObjectCaseSensitive(st, "collisionCount");
    cJSON_AddNumberToObject(st, "collisionCount", (double)cc);
    cJSON_DeleteItemFromObjectCaseSensitive(st, "observedGeneration"); /* force a write */
    s->err = -EAGAIN;
  } else {
    controller_recorder_eventf(s->dc->rec, s->d, "Warning", "FailedCreate", "%s",
                               res->message && res->message[0] ? res->message : "create failed");
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static void create_new_rs(dsync_t *s, long replicas) {
  controller_deployment_t *dc = s->dc;
  const cJSON *d = s->d;
  char hash[16];
  template_hash(d, hash, sizeof(hash));
  long surge, unavail;
  surge_unavail(d, &surge, &unavail);
  cJSON *rs = cJSON_CreateObject();
  cJSON_AddStringToObject(rs, "apiVersion", "apps/v1");
  cJSON_AddStringToObject(rs, "kind", "ReplicaSet");
  cJSON *md = cJSON_AddObjectToObject(rs, "metadata");
  char name[300];
  snprintf(name, sizeof(name), "%s-%s", s->name, hash);
  cJSON_AddStringToObject(md, "name", name);
  cJSON_AddStringToObject(md, "namespace", s->ns);
  cJSON *tmpl = cJSON_Duplicate(json_get_path(d, "spec.template"), 1);
  cJSON *tmd = cJSON_GetObjectItemCaseSensitive(tmpl, "metadata");
  if (!tmd)
    tmd = cJSON_AddObjectToObject(tmpl, "metadata");
  cJSON *tl = cJSON_GetObjectItemCaseSensitive(tmd, "labels");
  if (!tl)
    tl = cJSON_AddObjectToObject(tmd, "labels");
  cJSON_DeleteItemFromObjectCaseSensitive(tl, HASH_LABEL);
  cJSON_AddStringToObject(tl, HASH_LABEL, hash);
  cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(tl, 1));
  cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
  const cJSON *da;
  cJSON_ArrayForEach(da, json_get_path(d, "metadata.annotations")) {
    /* upstream copies the deployment's annotations except its own
     * bookkeeping and kubectl's last-applied configuration */
    if (!da->string || !strncmp(da->string, "deployment.kubernetes.io/", 25) ||
        !strcmp(da->string, "kubectl.kubernetes.io/last-applied-configuration"))
      continue;
    cJSON_AddItemToObject(ann, da->string, cJSON_Duplicate(da, 1));
  }
  char v[32];
  snprintf(v, sizeof(v), "%ld", replicas_of(d));
  cJSON_AddStringToObject(ann, DESIRED_ANN, v);
  snprintf(v, sizeof(v), "%ld", replicas_of(d) + surge);
  cJSON_AddStringToObject(ann, MAX_ANN, v);
  snprintf(v, sizeof(v), "%ld", max_old_revision(s) + 1);
  cJSON_AddStringToObject(ann, REV_ANN, v);
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  cJSON_AddItemToArray(refs, controller__owner_ref(d, "apps/v1", "Deployment"));
  cJSON *spec = cJSON_AddObjectToObject(rs, "spec");
  cJSON_AddNumberToObject(spec, "replicas", (double)replicas);
  double mrs = N(d, "spec.minReadySeconds", 0);
  if (mrs > 0)
    cJSON_AddNumberToObject(spec, "minReadySeconds", mrs);
  cJSON *sel = cJSON_Duplicate(json_get_path(d, "spec.selector"), 1);
  cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
  if (!ml)
    ml = cJSON_AddObjectToObject(sel, "matchLabels");
  cJSON_AddStringToObject(ml, HASH_LABEL, hash);
  cJSON_AddItemToObject(spec, "selector", sel);
  cJSON_AddItemToObject(spec, "template", tmpl);
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "replicasets", .ns = s->ns};
  controller_op_t *op = new_op(s);
  track(s, client_create(dc->c, &ref, rs, create_done, op), op);
  cJSON_Delete(rs);
}

static int by_age(const void *a, const void *b) {
  const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
  time_t tx = controller__time(S(x, "metadata.creationTimestamp"));
  time_t ty = controller__time(S(y, "metadata.creationTimestamp"));
  if (tx != ty)
    return tx < ty ? -1 : 1;
  return strcmp(S(x, "metadata.name"), S(y, "metadata.name"));
}

/* One step of a rolling update (upstream's rolloutRolling). */
static void roll(dsync_t *s) {
  const cJSON *d = s->d;
  long want = replicas_of(d), surge, unavail;
  surge_unavail(d, &surge, &unavail);
  cJSON *olds[MAX_RS];
  size_t n_old = 0;
  long spec_total = 0;
  for (size_t i = 0; i < s->n_rss; i++) {
    spec_total += replicas_of(s->rss[i]);
    if (s->rss[i] != s->new_rs)
      olds[n_old++] = s->rss[i];
  }
  qsort(olds, n_old, sizeof(*olds), by_age);
  cJSON *nrs = s->new_rs;
  long cur = replicas_of(nrs);
  /* scale the new ReplicaSet up within maxSurge, or down to replicas */
  if (cur > want) {
    scale_rs(s, nrs, want, want, want + surge);
    return;
  }
  if (cur < want) {
    long room = want + surge - spec_total;
    if (room > 0) {
      long to = cur + (room < want - cur ? room : want - cur);
      scale_rs(s, nrs, to, want, want + surge);
      return;
    }
  } else {
    scale_rs(s, nrs, cur, want, want + surge); /* annotations only */
  }
  /* scale old ones down without going under replicas - maxUnavailable */
  long min_avail = want - unavail;
  long new_unavail = replicas_of(nrs) - avail_of(nrs);
  long max_down = spec_total - min_avail - new_unavail;
  if (max_down <= 0)
    return;
  /* first the old pods that are not available anyway */
  long cleaned = 0;
  for (size_t i = 0; i < n_old && cleaned < max_down; i++) {
    long r = replicas_of(olds[i]);
    long unhealthy = r - avail_of(olds[i]);
    if (r == 0 || unhealthy <= 0)
      continue;
    long down = unhealthy < max_down - cleaned ? unhealthy : max_down - cleaned;
    scale_rs(s, olds[i], r - down, want, want + surge);
    cleaned += down;
  }
  if (cleaned)
    return;
  long avail = 0;
  for (size_t i = 0; i < s->n_rss; i++)
    avail += avail_of(s->rss[i]);
  long total_down = avail - min_avail;
  for (size_t i = 0; i < n_old && total_down > 0; i++) {
    long r = replicas_of(olds[i]);
    if (!r)
      continue;
    long down = r < total_down ? r : total_down;
    scale_rs(s, olds[i], r - down, want, want + surge);
    total_down -= down;
  }
}

static void recreate(dsync_t *s) {
  long want = replicas_of(s->d);
  bool old_active = false;
  for (size_t i = 0; i < s->n_rss; i++) {
    cJSON *rs = s->rss[i];
    if (rs == s->new_rs)
      continue;
    if (replicas_of(rs)) {
      scale_rs(s, rs, 0, want, want);
      old_active = true;
    } else if (status_of(rs, "replicas")) {
      old_active = true; /* wait for its pods to go */
    }
  }
  if (old_active)
    return;
  if (!s->new_rs) {
    create_new_rs(s, want);
    return;
  }
  scale_rs(s, s->new_rs, want, want, want);
}

static void find_new(dsync_t *s) {
  cJSON *tmpl = cJSON_Duplicate(json_get_path(s->d, "spec.template"), 1);
  json_prune_nulls(tmpl);
  s->new_rs = NULL;
  /* the oldest ReplicaSet with the template is the new one (upstream FindNewReplicaSet) */
  cJSON *cands[MAX_RS];
  size_t n = 0;
  for (size_t i = 0; i < s->n_rss; i++)
    cands[n++] = s->rss[i];
  qsort(cands, n, sizeof(*cands), by_age);
  for (size_t i = 0; i < n && !s->new_rs; i++) {
    cJSON *t = template_sans_hash(cands[i]);
    if (json_equal(t, tmpl))
      s->new_rs = cands[i];
    cJSON_Delete(t);
  }
  cJSON_Delete(tmpl);
}

/* The new ReplicaSet's revision must be the highest (a rollback to an old
 * template makes its ReplicaSet new again). */
static void bump_revision(dsync_t *s) {
  long max_old = max_old_revision(s);
  if (!s->new_rs || revision_of(s->new_rs) > max_old)
    return;
  char v[32];
  snprintf(v, sizeof(v), "%ld", max_old + 1);
  cJSON *p = cJSON_CreateObject();
  cJSON *an = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
  cJSON_AddStringToObject(an, REV_ANN, v);
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "replicasets", .ns = s->ns,
                      .name = S(s->new_rs, "metadata.name")};
  controller_op_t *op = new_op(s);
  track(s, client_patch(s->dc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, generic_done, op), op);
  cJSON_Delete(p);
  cJSON *md = cJSON_GetObjectItemCaseSensitive(s->new_rs, "metadata");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
  if (!ann)
    ann = cJSON_AddObjectToObject(md, "annotations");
  cJSON_DeleteItemFromObjectCaseSensitive(ann, REV_ANN);
  cJSON_AddStringToObject(ann, REV_ANN, v);
}

static void after_create_cb(void *p) {
  dsync_t *s = p;
  if (s->err) {
    write_status(s);
    return;
  }
  sync_revision_annotation(s);
  write_status(s);
}

static void rollout_cb(void *p) {
  dsync_t *s = p;
  if (s->err) { /* a claim failed: try again later */
    write_status(s);
    return;
  }
  find_new(s);
  if (cJSON_IsTrue(json_get_path(s->d, "spec.paused")) ||
      json_get_path(s->d, "metadata.deletionTimestamp")) {
    write_status(s);
    return;
  }
  if (is_recreate(s->d)) {
    recreate(s);
  } else if (!s->new_rs) {
    long want = replicas_of(s->d), surge, unavail, total = 0;
    surge_unavail(s->d, &surge, &unavail);
    for (size_t i = 0; i < s->n_rss; i++)
      total += replicas_of(s->rss[i]);
    long n = want + surge - total;
    if (n > want)
      n = want;
    if (n < 0)
      n = 0;
    create_new_rs(s, n);
  } else {
    bump_revision(s);
    roll(s);
    cleanup_old(s);
  }
  controller_ops_after(&s->ops, after_create_cb);
}

/* ---- claiming ReplicaSets ---- */

static void claim_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  dsync_t *s = controller_op_owner(op);
  if (res->code == 200 && res->obj) {
    const char *uid = S(s->d, "metadata.uid");
    if (controller__owned_by(res->obj, "Deployment", uid) && s->n_rss < MAX_RS)
      s->rss[s->n_rss++] = client_result_take(res);
  } else if (res->code != 404 && res->code != 422) {
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static void claim(dsync_t *s, const cJSON *rs, bool adopt) {
  cJSON *p = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(p, "metadata");
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  if (adopt) {
    cJSON_AddItemToArray(refs, controller__owner_ref(s->d, "apps/v1", "Deployment"));
  } else {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "$patch", "delete");
    cJSON_AddStringToObject(r, "uid", S(s->d, "metadata.uid"));
    cJSON_AddItemToArray(refs, r);
  }
  cJSON_AddStringToObject(md, "uid", S(rs, "metadata.uid"));
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "replicasets", .ns = s->ns,
                      .name = S(rs, "metadata.name")};
  controller_op_t *op = new_op(s);
  track(s, client_patch(s->dc->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, claim_done, op), op);
  cJSON_Delete(p);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_deployment_t *dc = data;
  dsync_t *s = xcalloc(1, sizeof(*s));
  s->dc = dc;
  s->key = xstrdup(key);
  s->next = dc->syncs;
  if (s->next)
    s->next->prev = s;
  dc->syncs = s;
  controller_ops_init(&s->ops, s, dsync_end_cb);
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) < 0) {
    dsync_end(s);
    return;
  }
  const cJSON *d = client_informer_get(dc->d_inf, s->ns, s->name);
  if (!d) {
    dsync_end(s);
    return;
  }
  s->d = cJSON_Duplicate(d, 1);
  const char *uid = S(d, "metadata.uid");
  label_selector_t *sel = NULL;
  char err[256];
  if (label_selector_from_json(json_get_path(d, "spec.selector"), &sel, err, sizeof(err)) < 0 ||
      label_selector_empty(sel)) {
    label_selector_free(sel);
    dsync_end(s); /* upstream: a Deployment selecting everything is ignored */
    return;
  }
  bool deleting = json_get_path(d, "metadata.deletionTimestamp") != NULL;
  size_t n = 0;
  const cJSON **sets =
      client_cache_by_index(client_informer_cache(dc->rs_inf), CLIENT_INDEX_NAMESPACE, s->ns, &n);
  for (size_t i = 0; i < n; i++) {
    const cJSON *rs = sets[i];
    const cJSON *ref = controller__ref(rs);
    bool match = label_selector_match(sel, json_get_path(rs, "metadata.labels"));
    if (ref) {
      if (!controller__owned_by(rs, "Deployment", uid))
        continue;
      if (match) {
        if (s->n_rss < MAX_RS)
          s->rss[s->n_rss++] = cJSON_Duplicate(rs, 1);
      } else if (!deleting) {
        claim(s, rs, false);
      }
    } else if (match && !deleting && !json_get_path(rs, "metadata.deletionTimestamp")) {
      claim(s, rs, true);
    }
  }
  free(sets);
  label_selector_free(sel);
  controller_ops_after(&s->ops, rollout_cb);
}

/* ---- handlers ---- */

static void enqueue_owner(controller_deployment_t *dc, const cJSON *rs) {
  const cJSON *ref = controller__ref(rs);
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *ns = S(rs, "metadata.namespace");
  if (ref) {
    if (kind && name && ns && !strcmp(kind, "Deployment")) {
      char key[600];
      snprintf(key, sizeof(key), "%s/%s", ns, name);
      controller_enqueue(dc->ctl, key);
    }
    return;
  }
  /* an orphan: every Deployment of the namespace whose selector matches */
  size_t n = 0;
  const cJSON **ds = client_cache_by_index(client_informer_cache(dc->d_inf), CLIENT_INDEX_NAMESPACE,
                                           ns ? ns : "", &n);
  for (size_t i = 0; i < n; i++) {
    label_selector_t *sel = NULL;
    char err[256];
    if (label_selector_from_json(json_get_path(ds[i], "spec.selector"), &sel, err, sizeof(err)) == 0 &&
        !label_selector_empty(sel) && label_selector_match(sel, json_get_path(rs, "metadata.labels")))
      controller_enqueue_obj(dc->ctl, ds[i]);
    label_selector_free(sel);
  }
  free(ds);
}

static void rs_added(const cJSON *rs, void *data) { enqueue_owner(data, rs); }
static void rs_updated(const cJSON *old, const cJSON *rs, void *data) {
  const char *a = S(old, "metadata.resourceVersion"), *b = S(rs, "metadata.resourceVersion");
  if (a && b && !strcmp(a, b))
    return;
  const cJSON *oref = controller__ref(old), *nref = controller__ref(rs);
  if (!json_equal(oref, nref))
    enqueue_owner(data, old);
  enqueue_owner(data, rs);
}
static void rs_deleted(const cJSON *rs, void *data) { enqueue_owner(data, rs); }
static void d_added(const cJSON *d, void *data) {
  controller_enqueue_obj(((controller_deployment_t *)data)->ctl, d);
}
static void d_updated(const cJSON *old, const cJSON *d, void *data) {
  controller_enqueue_obj(((controller_deployment_t *)data)->ctl, d);
}
static void d_deleted(const cJSON *d, void *data) {
  controller_enqueue_obj(((controller_deployment_t *)data)->ctl, d);
}

int controller_deployment_new(client_t *c, client_informer_t *d_inf, client_informer_t *rs_inf,
                              struct ev_loop *loop, controller_deployment_t **ret_dc) {
  controller_deployment_t *dc = xcalloc(1, sizeof(*dc));
  dc->c = c;
  dc->d_inf = d_inf;
  dc->rs_inf = rs_inf;
  controller_opts_t o = {.name = "deployment-controller", .sync = reconcile, .data = dc};
  int r = controller_new(loop, &o, &dc->ctl);
  if (r < 0) {
    free(dc);
    return r;
  }
  dc->rec = controller_recorder_new(c, "deployment-controller");
  controller_wait_for(dc->ctl, d_inf);
  controller_wait_for(dc->ctl, rs_inf);
  client_informer_handlers_t dh = {d_added, d_updated, d_deleted};
  client_informer_handlers_t rh = {rs_added, rs_updated, rs_deleted};
  client_informer_add_handlers(d_inf, &dh, dc);
  client_informer_add_handlers(rs_inf, &rh, dc);
  controller_start(dc->ctl);
  *ret_dc = dc;
  return 0;
}

void controller_deployment_free(controller_deployment_t *dc) {
  if (!dc)
    return;
  while (dc->syncs)
    dsync_free(dc->syncs);
  controller_free(dc->ctl);
  controller_recorder_free(dc->rec);
  free(dc);
}
