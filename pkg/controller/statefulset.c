/* The StatefulSet controller: pods with stable names <set>-<ordinal>,
 * hostnames and PersistentVolumeClaims <claim>-<set>-<ordinal> from
 * volumeClaimTemplates; OrderedReady creates in ordinal order, each pod
 * only once the one before is Running and Ready, and deletes in reverse,
 * Parallel does both at once; template versions are ControllerRevisions
 * (<set>-<hash>, the pods' controller-revision-hash label) and a
 * RollingUpdate replaces pods from the highest ordinal down to
 * spec.updateStrategy.rollingUpdate.partition, one at a time; status as
 * `kubectl rollout status sts/x` reads it. The shape of upstream's
 * stateful_set_control.go.
 * https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/ */
#include "controller/statefulset.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/events.h"
#include "controller/internal.h"
#include "json/selector.h"
#include "json/util.h"
#include "util/alloc.h"

#define S controller__str
#define N controller__num

#define REV_LABEL "controller-revision-hash"
#define NAME_LABEL "statefulset.kubernetes.io/pod-name"
#define INDEX_LABEL "apps.kubernetes.io/pod-index"
#define MAX_REPLICAS 10000 /* ordinals looked at per set */
#define MAX_REVS 256

typedef struct ssync ssync_t;

struct controller_statefulset {
  client_t *c;
  client_informer_t *set_inf, *pod_inf, *rev_inf, *pvc_inf;
  controller_t *ctl;
  controller_recorder_t *rec;
  ssync_t *syncs;
};

typedef struct {
  char *name, *uid, *rev;
  int ord;
  bool ready, running, failed, terminating, available;
} spod_t;

struct ssync {
  controller_statefulset_t *sc;
  ssync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  cJSON *set;
  spod_t *pods;
  size_t n_pods;
  cJSON *revs[MAX_REVS]; /* copies of its ControllerRevisions */
  size_t n_revs;
  char cur_rev[320], upd_rev[320];
  cJSON *cur_tmpl, *upd_tmpl; /* borrowed from revs[] or the set */
  controller_ops_t ops;
  int err;
  int created, deleted;
};

/* ---- helpers ---- */

static int replicas_of(const cJSON *set) { return (int)N(set, "spec.replicas", 1); }
static int start_of(const cJSON *set) { return (int)N(set, "spec.ordinals.start", 0); }

static bool parallel(const cJSON *set) {
  const char *p = S(set, "spec.podManagementPolicy");
  return p && !strcmp(p, "Parallel");
}

static bool rolling(const cJSON *set) {
  const char *t = S(set, "spec.updateStrategy.type");
  return !t || !strcmp(t, "RollingUpdate");
}

static bool pod_cond(const cJSON *pod, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = S(c, "type"), *st = S(c, "status");
    if (t && st && !strcmp(t, type))
      return !strcmp(st, "True");
  }
  return false;
}

/* The ordinal of "<set>-<n>", -1 if the name is not one of the set's. */
static int ordinal_of(const char *set, const char *pod) {
  size_t n = strlen(set);
  if (!pod || strncmp(pod, set, n) || pod[n] != '-' || !pod[n + 1])
    return -1;
  char *end;
  long o = strtol(pod + n + 1, &end, 10);
  if (*end || o < 0 || o > INT32_MAX)
    return -1;
  return (int)o;
}

static const spod_t *pod_at(const ssync_t *s, int ord) {
  for (size_t i = 0; i < s->n_pods; i++)
    if (s->pods[i].ord == ord)
      return &s->pods[i];
  return NULL;
}

static bool healthy(const spod_t *p) { return p->running && p->ready && !p->terminating; }

/* The template as stored in a ControllerRevision's data (upstream stores a
 * patch {"spec":{"template":...,"$patch":"replace"}}). */
static const cJSON *rev_template(const cJSON *rev) {
  return json_get_path(rev, "data.spec.template");
}

/* <set>-<hash of the template and collisionCount>, in upstream's alphabet
 * (FNV-1a 32; the value is k3c's own). */
static void revision_name(const cJSON *set, char *out, size_t len) {
  cJSON *t = cJSON_Duplicate(json_get_path(set, "spec.template"), 1);
  json_prune_nulls(t);
  char *text = cJSON_PrintUnformatted(t);
  cJSON_Delete(t);
  uint32_t h = 2166136261u;
  for (const char *p = text; p && *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  free(text);
  long cc = (long)N(set, "status.collisionCount", 0);
  for (long i = 0; i < cc; i++)
    h = (h ^ 0x5a) * 16777619u;
  static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
  char dec[16], hash[16];
  snprintf(dec, sizeof(dec), "%u", h);
  size_t i = 0;
  for (; dec[i]; i++)
    hash[i] = alnum[(unsigned char)dec[i] % (sizeof(alnum) - 1)];
  hash[i] = '\0';
  snprintf(out, len, "%s-%s", S(set, "metadata.name"), hash);
}

static cJSON *rev_by_name(ssync_t *s, const char *name) {
  for (size_t i = 0; i < s->n_revs; i++) {
    const char *n = S(s->revs[i], "metadata.name");
    if (n && !strcmp(n, name))
      return s->revs[i];
  }
  return NULL;
}

/* ---- sync lifetime ---- */

static void ssync_free(ssync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->sc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  for (size_t i = 0; i < s->n_pods; i++) {
    free(s->pods[i].name);
    free(s->pods[i].uid);
    free(s->pods[i].rev);
  }
  free(s->pods);
  for (size_t i = 0; i < s->n_revs; i++)
    cJSON_Delete(s->revs[i]);
  cJSON_Delete(s->set);
  free(s->key);
  free(s);
}

static void ssync_end(void *p) {
  ssync_t *s = p;
  controller_t *ctl = s->sc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  ssync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void generic_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  ssync_t *s = controller_op_owner(op);
  if (res->code >= 300 && res->code != 404 && res->code != 409)
    s->err = -EAGAIN;
  controller_op_finish(op);
}

/* ---- status ---- */

static void step_status(void *p) {
  ssync_t *s = p;
  cJSON *set = s->set;
  int replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  for (size_t i = 0; i < s->n_pods; i++) {
    const spod_t *pd = &s->pods[i];
    if (pd->terminating)
      continue;
    replicas++;
    ready += pd->ready && pd->running;
    available += pd->available;
    current += pd->rev && !strcmp(pd->rev, s->cur_rev);
    updated += pd->rev && !strcmp(pd->rev, s->upd_rev);
  }
  const char *cur = s->cur_rev;
  int want = replicas_of(set);
  if (rolling(set) && updated == want && ready == want && replicas == want) {
    current = updated; /* the rolling update is complete (upstream's completeRollingUpdate) */
    cur = s->upd_rev;
  }
  const cJSON *old = json_get_path(set, "status");
  cJSON *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(st, "observedGeneration", N(set, "metadata.generation", 1));
  cJSON_AddNumberToObject(st, "replicas", replicas);
  if (ready)
    cJSON_AddNumberToObject(st, "readyReplicas", ready);
  if (current)
    cJSON_AddNumberToObject(st, "currentReplicas", current);
  if (updated)
    cJSON_AddNumberToObject(st, "updatedReplicas", updated);
  cJSON_AddStringToObject(st, "currentRevision", cur);
  cJSON_AddStringToObject(st, "updateRevision", s->upd_rev);
  cJSON_AddNumberToObject(st, "collisionCount", N(set, "status.collisionCount", 0));
  cJSON_AddNumberToObject(st, "availableReplicas", available);
  if (json_equal(st, old)) {
    cJSON_Delete(st);
    controller_ops_after(&s->ops, ssync_end);
    return;
  }
  cJSON *patch = cJSON_CreateObject();
  cJSON *ps = cJSON_AddObjectToObject(patch, "status");
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
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "statefulsets", .ns = s->ns,
                      .name = s->name, .subresource = "status"};
  controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
  if (controller_op_track(op, client_patch(s->sc->c, &ref, CLIENT_PATCH_MERGE, patch, NULL,
                                           generic_done, op)) < 0)
    s->err = -EINVAL;
  cJSON_Delete(patch);
  controller_ops_after(&s->ops, ssync_end);
}

/* Old revisions beyond revisionHistoryLimit that no pod uses go, oldest first. */
static int by_revision(const void *a, const void *b) {
  double x = N(*(cJSON *const *)a, "revision", 0), y = N(*(cJSON *const *)b, "revision", 0);
  return x < y ? -1 : x > y;
}

static void truncate_history(ssync_t *s) {
  cJSON *old[MAX_REVS];
  size_t n = 0;
  for (size_t i = 0; i < s->n_revs; i++) {
    const char *name = S(s->revs[i], "metadata.name");
    if (!name || !strcmp(name, s->cur_rev) || !strcmp(name, s->upd_rev))
      continue;
    bool used = false;
    for (size_t p = 0; p < s->n_pods && !used; p++)
      used = s->pods[p].rev && !strcmp(s->pods[p].rev, name);
    if (!used)
      old[n++] = s->revs[i];
  }
  long limit = (long)N(s->set, "spec.revisionHistoryLimit", 10);
  if ((long)n <= limit)
    return;
  qsort(old, n, sizeof(*old), by_revision);
  for (size_t i = 0; i < n - (size_t)limit; i++) {
    client_ref_t ref = {.group = "apps", .version = "v1", .resource = "controllerrevisions",
                        .ns = s->ns, .name = S(old[i], "metadata.name")};
    controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
    controller_op_track(op, client_delete(s->sc->c, &ref, NULL, generic_done, op));
  }
}

/* ---- pods and claims ---- */

static void pod_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  ssync_t *s = controller_op_owner(op);
  const char *verb = op->kind == 1 ? "create" : "delete";
  if (res->code < 300) {
    controller_recorder_eventf(s->sc->rec, s->set, "Normal", op->kind == 1 ? "SuccessfulCreate" : "SuccessfulDelete",
                               "%s Pod %s in StatefulSet %s successful", verb, op->name, s->name);
  } else if (res->code != 409 && res->code != 404) {
    controller_recorder_eventf(s->sc->rec, s->set, "Warning", op->kind == 1 ? "FailedCreate" : "FailedDelete",
                               "%s Pod %s in StatefulSet %s failed error: %s", verb, op->name, s->name,
                               res->message && res->message[0] ? res->message : "request failed");
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static void claim_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  ssync_t *s = controller_op_owner(op);
  if (res->code < 300) {
    controller_recorder_eventf(s->sc->rec, s->set, "Normal", "SuccessfulCreate",
                               "create Claim %s Pod %s in StatefulSet %s success", op->uid, op->name,
                               s->name);
  } else if (res->code != 409) {
    controller_recorder_eventf(s->sc->rec, s->set, "Warning", "FailedCreate",
                               "create Claim %s for Pod %s in StatefulSet %s failed error: %s", op->uid,
                               op->name, s->name,
                               res->message && res->message[0] ? res->message : "request failed");
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

/* The claims of the pod <set>-<ord> that do not exist yet. */
static void create_claims(ssync_t *s, const char *pod) {
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(s->set, "spec.volumeClaimTemplates")) {
    const char *cname = S(t, "metadata.name");
    if (!cname)
      continue;
    char name[600];
    snprintf(name, sizeof(name), "%s-%s", cname, pod);
    if (client_informer_get(s->sc->pvc_inf, s->ns, name))
      continue;
    cJSON *pvc = cJSON_CreateObject();
    cJSON_AddStringToObject(pvc, "apiVersion", "v1");
    cJSON_AddStringToObject(pvc, "kind", "PersistentVolumeClaim");
    cJSON *md = cJSON_AddObjectToObject(pvc, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", s->ns);
    /* the template's labels and the set's selector labels (upstream getPersistentVolumeClaims) */
    cJSON *labels = cJSON_Duplicate(json_get_path(t, "metadata.labels"), 1);
    if (!labels)
      labels = cJSON_CreateObject();
    const cJSON *ml;
    cJSON_ArrayForEach(ml, json_get_path(s->set, "spec.selector.matchLabels")) {
      cJSON_DeleteItemFromObjectCaseSensitive(labels, ml->string);
      cJSON_AddItemToObject(labels, ml->string, cJSON_Duplicate(ml, 1));
    }
    cJSON_AddItemToObject(md, "labels", labels);
    const cJSON *ann = json_get_path(t, "metadata.annotations");
    if (ann)
      cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(ann, 1));
    const cJSON *spec = json_get_path(t, "spec");
    cJSON_AddItemToObject(pvc, "spec", spec ? cJSON_Duplicate(spec, 1) : cJSON_CreateObject());
    client_ref_t ref = {.version = "v1", .resource = "persistentvolumeclaims", .ns = s->ns};
    controller_op_t *op = controller_op_new(&s->ops, 0, pod, name); /* uid: the claim's name */
    controller_op_track(op, client_create(s->sc->c, &ref, pvc, claim_done, op));
    cJSON_Delete(pvc);
  }
}

/* The pod <set>-<ord> from the template of revision rev. */
static void create_pod(ssync_t *s, int ord, const cJSON *tmpl, const char *rev) {
  char name[320], idx[16];
  snprintf(name, sizeof(name), "%s-%d", s->name, ord);
  snprintf(idx, sizeof(idx), "%d", ord);
  create_claims(s, name);
  cJSON *pod = cJSON_CreateObject();
  cJSON_AddStringToObject(pod, "apiVersion", "v1");
  cJSON_AddStringToObject(pod, "kind", "Pod");
  cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
  cJSON_AddStringToObject(md, "name", name);
  cJSON_AddStringToObject(md, "namespace", s->ns);
  cJSON *labels = cJSON_Duplicate(json_get_path(tmpl, "metadata.labels"), 1);
  if (!labels)
    labels = cJSON_CreateObject();
  static const char *const own[] = {REV_LABEL, NAME_LABEL, INDEX_LABEL};
  const char *vals[] = {rev, name, idx};
  for (int i = 0; i < 3; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(labels, own[i]);
    cJSON_AddStringToObject(labels, own[i], vals[i]);
  }
  cJSON_AddItemToObject(md, "labels", labels);
  const cJSON *ann = json_get_path(tmpl, "metadata.annotations");
  if (ann)
    cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(ann, 1));
  cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"),
                       controller__owner_ref(s->set, "apps/v1", "StatefulSet"));
  const cJSON *tspec = json_get_path(tmpl, "spec");
  cJSON *spec = tspec ? cJSON_Duplicate(tspec, 1) : cJSON_CreateObject();
  cJSON_AddItemToObject(pod, "spec", spec);
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "hostname");
  cJSON_AddStringToObject(spec, "hostname", name);
  const char *svc = S(s->set, "spec.serviceName");
  if (svc && svc[0]) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "subdomain");
    cJSON_AddStringToObject(spec, "subdomain", svc);
  }
  /* each claim template becomes the volume of its name (upstream updateStorage) */
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(s->set, "spec.volumeClaimTemplates")) {
    const char *cname = S(t, "metadata.name");
    if (!cname)
      continue;
    cJSON *vols = cJSON_GetObjectItemCaseSensitive(spec, "volumes");
    if (!cJSON_IsArray(vols)) {
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "volumes");
      vols = cJSON_AddArrayToObject(spec, "volumes");
    }
    for (cJSON *v = vols->child, *next; v; v = next) {
      next = v->next;
      const char *vn = S(v, "name");
      if (vn && !strcmp(vn, cname))
        cJSON_Delete(cJSON_DetachItemViaPointer(vols, v));
    }
    char claim[600];
    snprintf(claim, sizeof(claim), "%s-%s", cname, name);
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "name", cname);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(v, "persistentVolumeClaim"), "claimName", claim);
    cJSON_AddItemToArray(vols, v);
  }
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns};
  controller_op_t *op = controller_op_new(&s->ops, 1, name, NULL);
  controller_op_track(op, client_create(s->sc->c, &ref, pod, pod_done, op));
  cJSON_Delete(pod);
  s->created++;
}

static void delete_pod(ssync_t *s, const spod_t *p) {
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", p->uid);
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = p->name};
  controller_op_t *op = controller_op_new(&s->ops, 2, p->name, NULL);
  controller_op_track(op, client_delete(s->sc->c, &ref, opts, pod_done, op));
  cJSON_Delete(opts);
  s->deleted++;
}

/* The template for a missing pod of ordinal ord (upstream
 * newVersionedStatefulSetPod): the current revision below the partition
 * (or, without one, below status.currentReplicas), else the update one. */
static void template_for(ssync_t *s, int ord, const cJSON **ret_tmpl, const char **ret_rev) {
  const cJSON *part = json_get_path(s->set, "spec.updateStrategy.rollingUpdate.partition");
  int cur_replicas = (int)N(s->set, "status.currentReplicas", 0);
  int rel = ord - start_of(s->set);
  bool use_current = strcmp(s->cur_rev, s->upd_rev) &&
                     ((rolling(s->set) && cJSON_IsNumber(part) && part->valueint > 0)
                          ? rel < part->valueint
                          : !rolling(s->set) && rel < cur_replicas);
  if (use_current && s->cur_tmpl) {
    *ret_tmpl = s->cur_tmpl;
    *ret_rev = s->cur_rev;
  } else {
    *ret_tmpl = s->upd_tmpl;
    *ret_rev = s->upd_rev;
  }
}

/* One round of upstream's updateStatefulSet (monotonic unless Parallel). */
static void step_pods(void *arg) {
  ssync_t *s = arg;
  if (s->err || json_get_path(s->set, "metadata.deletionTimestamp")) {
    step_status(s);
    return;
  }
  bool mono = !parallel(s->set);
  int want = replicas_of(s->set), start = start_of(s->set);
  if (want > MAX_REPLICAS)
    want = MAX_REPLICAS;
  bool blocked = false;
  /* failed pods are deleted to be recreated; missing ones are created */
  for (int i = 0; i < want && !blocked; i++) {
    int ord = start + i;
    const spod_t *p = pod_at(s, ord);
    if (p && p->failed && !p->terminating) {
      delete_pod(s, p);
      if (mono)
        blocked = true;
      continue;
    }
    if (!p) {
      const cJSON *tmpl;
      const char *rev;
      template_for(s, ord, &tmpl, &rev);
      create_pod(s, ord, tmpl, rev);
      if (mono)
        blocked = true;
      continue;
    }
    if (p->terminating && mono)
      blocked = true; /* wait for it to go, then recreate */
    else if (!healthy(p) && mono)
      blocked = true; /* the next one waits for this one */
  }
  /* condemned pods (ordinals past replicas), highest first; in OrderedReady
   * mode only once every replica is healthy (the loop above), one at a time,
   * each waited for */
  for (int ord = INT32_MAX; !blocked;) {
    int best = -1;
    for (size_t i = 0; i < s->n_pods; i++) {
      int o = s->pods[i].ord;
      if ((o < start || o >= start + want) && o < ord && o > best)
        best = o;
    }
    if (best < 0)
      break;
    ord = best;
    const spod_t *p = pod_at(s, best);
    if (p->terminating) {
      if (mono)
        blocked = true;
      continue;
    }
    delete_pod(s, p);
    if (mono)
      blocked = true;
  }
  /* RollingUpdate: from the highest ordinal down to the partition, one at a time */
  if (!blocked && s->deleted == 0 && s->created == 0 && rolling(s->set)) {
    int part = (int)N(s->set, "spec.updateStrategy.rollingUpdate.partition", 0);
    for (int i = want - 1; i >= part; i--) {
      const spod_t *p = pod_at(s, start + i);
      if (!p)
        continue;
      if (!p->terminating && (!p->rev || strcmp(p->rev, s->upd_rev))) {
        delete_pod(s, p);
        break;
      }
      if (!healthy(p))
        break; /* wait until the replaced pod is ready */
    }
  }
  truncate_history(s);
  controller_ops_after(&s->ops, step_status);
}

/* ---- revisions ---- */

static void rev_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  ssync_t *s = controller_op_owner(op);
  if (res->code == 201 && res->obj && s->n_revs < MAX_REVS) {
    s->revs[s->n_revs++] = client_result_take(res);
    s->upd_tmpl = (cJSON *)rev_template(s->revs[s->n_revs - 1]);
  } else if (res->code == 409) {
    /* a revision of that name with another template: count the collision */
    cJSON *st = cJSON_GetObjectItemCaseSensitive(s->set, "status");
    if (!st)
      st = cJSON_AddObjectToObject(s->set, "status");
    double cc = N(s->set, "status.collisionCount", 0) + 1;
    cJSON_DeleteItemFromObjectCaseSensitive(st, "collisionCount");
    cJSON_AddNumberToObject(st, "collisionCount", cc);
    s->err = -EAGAIN;
  } else {
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static void create_revision(ssync_t *s) {
  double max = 0;
  for (size_t i = 0; i < s->n_revs; i++)
    if (N(s->revs[i], "revision", 0) > max)
      max = N(s->revs[i], "revision", 0);
  cJSON *rev = cJSON_CreateObject();
  cJSON_AddStringToObject(rev, "apiVersion", "apps/v1");
  cJSON_AddStringToObject(rev, "kind", "ControllerRevision");
  cJSON *md = cJSON_AddObjectToObject(rev, "metadata");
  cJSON_AddStringToObject(md, "name", s->upd_rev);
  cJSON_AddStringToObject(md, "namespace", s->ns);
  cJSON *labels = cJSON_Duplicate(json_get_path(s->set, "spec.template.metadata.labels"), 1);
  if (!labels)
    labels = cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(labels, REV_LABEL);
  cJSON_AddStringToObject(labels, REV_LABEL, s->upd_rev);
  cJSON_AddItemToObject(md, "labels", labels);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"),
                       controller__owner_ref(s->set, "apps/v1", "StatefulSet"));
  cJSON *tspec = cJSON_AddObjectToObject(cJSON_AddObjectToObject(rev, "data"), "spec");
  cJSON *tmpl = cJSON_Duplicate(json_get_path(s->set, "spec.template"), 1);
  cJSON_AddStringToObject(tmpl, "$patch", "replace");
  cJSON_AddItemToObject(tspec, "template", tmpl);
  cJSON_AddNumberToObject(rev, "revision", max + 1);
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "controllerrevisions", .ns = s->ns};
  controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
  if (controller_op_track(op, client_create(s->sc->c, &ref, rev, rev_done, op)) < 0)
    s->err = -EINVAL;
  cJSON_Delete(rev);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_statefulset_t *sc = data;
  ssync_t *s = xcalloc(1, sizeof(*s));
  s->sc = sc;
  s->key = xstrdup(key);
  s->next = sc->syncs;
  if (s->next)
    s->next->prev = s;
  sc->syncs = s;
  controller_ops_init(&s->ops, s, ssync_end);
  const cJSON *set = NULL;
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) == 0)
    set = client_informer_get(sc->set_inf, s->ns, s->name);
  if (!set) {
    ssync_end(s);
    return;
  }
  s->set = cJSON_Duplicate(set, 1);
  const char *uid = S(set, "metadata.uid");
  label_selector_t *sel = NULL;
  char err[256];
  if (label_selector_from_json(json_get_path(set, "spec.selector"), &sel, err, sizeof(err)) < 0 ||
      label_selector_empty(sel)) {
    label_selector_free(sel);
    ssync_end(s); /* upstream: an invalid or empty selector selects nothing */
    return;
  }
  /* its pods: controlled by it, matching, named <set>-<ordinal> */
  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(sc->pod_inf), CLIENT_INDEX_NAMESPACE, s->ns, &n);
  s->pods = xcalloc(n + 1, sizeof(*s->pods));
  double min_ready = N(set, "spec.minReadySeconds", 0);
  time_t now = time(NULL);
  for (size_t i = 0; i < n; i++) {
    const cJSON *pod = pods[i];
    int ord = ordinal_of(s->name, S(pod, "metadata.name"));
    if (ord < 0 || !controller__owned_by(pod, "StatefulSet", uid) ||
        !label_selector_match(sel, json_get_path(pod, "metadata.labels")))
      continue;
    spod_t *p = &s->pods[s->n_pods++];
    p->name = xstrdup(S(pod, "metadata.name"));
    p->uid = xstrdup(S(pod, "metadata.uid") ? S(pod, "metadata.uid") : "");
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(json_get_path(pod, "metadata.labels"), REV_LABEL);
    p->rev = cJSON_IsString(rl) ? xstrdup(rl->valuestring) : NULL;
    p->ord = ord;
    const char *phase = S(pod, "status.phase");
    p->running = phase && !strcmp(phase, "Running");
    p->failed = phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"));
    p->ready = pod_cond(pod, "Ready");
    p->terminating = json_get_path(pod, "metadata.deletionTimestamp") != NULL;
    p->available = p->running && p->ready;
    if (p->available && min_ready > 0) {
      const cJSON *c;
      cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
        const char *t = S(c, "type");
        if (t && !strcmp(t, "Ready"))
          p->available = (double)(now - controller__time(S(c, "lastTransitionTime"))) >= min_ready;
      }
      if (!p->available)
        controller_enqueue_after(ctl, key, min_ready);
    }
  }
  free(pods);
  label_selector_free(sel);
  /* its revisions */
  const cJSON **revs = client_cache_by_index(client_informer_cache(sc->rev_inf), CLIENT_INDEX_OWNER,
                                             uid ? uid : "", &n);
  for (size_t i = 0; i < n && s->n_revs < MAX_REVS; i++)
    if (controller__owned_by(revs[i], "StatefulSet", uid))
      s->revs[s->n_revs++] = cJSON_Duplicate(revs[i], 1);
  free(revs);
  revision_name(s->set, s->upd_rev, sizeof(s->upd_rev));
  const char *cur = S(set, "status.currentRevision");
  const cJSON *cur_rev = cur ? rev_by_name(s, cur) : NULL;
  snprintf(s->cur_rev, sizeof(s->cur_rev), "%s", cur_rev ? cur : s->upd_rev);
  s->cur_tmpl = cur_rev ? (cJSON *)rev_template(cur_rev) : NULL;
  const cJSON *upd = rev_by_name(s, s->upd_rev);
  if (upd && !json_get_path(set, "metadata.deletionTimestamp")) {
    s->upd_tmpl = (cJSON *)rev_template(upd);
  } else if (!json_get_path(set, "metadata.deletionTimestamp")) {
    s->upd_tmpl = (cJSON *)json_get_path(s->set, "spec.template");
    create_revision(s);
  }
  if (!s->cur_tmpl)
    s->cur_tmpl = s->upd_tmpl;
  controller_ops_after(&s->ops, step_pods);
}

/* ---- handlers ---- */

static void owner_event(const cJSON *obj, void *data) {
  controller_statefulset_t *sc = data;
  const cJSON *ref = controller__ref(obj);
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *ns = S(obj, "metadata.namespace");
  if (!ref || !kind || strcmp(kind, "StatefulSet") || !name || !ns)
    return;
  char key[600];
  snprintf(key, sizeof(key), "%s/%s", ns, name);
  controller_enqueue(sc->ctl, key);
}
static void owner_updated(const cJSON *old, const cJSON *obj, void *data) {
  const char *a = S(old, "metadata.resourceVersion"), *b = S(obj, "metadata.resourceVersion");
  if (a && b && !strcmp(a, b))
    return;
  owner_event(obj, data);
}
static void set_event(const cJSON *set, void *data) {
  controller_enqueue_obj(((controller_statefulset_t *)data)->ctl, set);
}
static void set_updated(const cJSON *old, const cJSON *set, void *data) { set_event(set, data); }

int controller_statefulset_new(client_t *c, client_informer_t *set_inf, client_informer_t *pod_inf,
                               client_informer_t *rev_inf, client_informer_t *pvc_inf,
                               struct ev_loop *loop, controller_statefulset_t **ret_sc) {
  controller_statefulset_t *sc = xcalloc(1, sizeof(*sc));
  sc->c = c;
  sc->set_inf = set_inf;
  sc->pod_inf = pod_inf;
  sc->rev_inf = rev_inf;
  sc->pvc_inf = pvc_inf;
  controller_opts_t o = {.name = "statefulset-controller", .sync = reconcile, .data = sc};
  int r = controller_new(loop, &o, &sc->ctl);
  if (r < 0) {
    free(sc);
    return r;
  }
  sc->rec = controller_recorder_new(c, "statefulset-controller");
  controller_wait_for(sc->ctl, set_inf);
  controller_wait_for(sc->ctl, pod_inf);
  controller_wait_for(sc->ctl, rev_inf);
  controller_wait_for(sc->ctl, pvc_inf);
  client_informer_handlers_t sh = {set_event, set_updated, set_event};
  client_informer_handlers_t oh = {owner_event, owner_updated, owner_event};
  client_informer_add_handlers(set_inf, &sh, sc);
  client_informer_add_handlers(pod_inf, &oh, sc);
  client_informer_add_handlers(rev_inf, &oh, sc);
  controller_start(sc->ctl);
  *ret_sc = sc;
  return 0;
}

void controller_statefulset_free(controller_statefulset_t *sc) {
  if (!sc)
    return;
  while (sc->syncs)
    ssync_free(sc->syncs);
  controller_free(sc->ctl);
  controller_recorder_free(sc->rec);
  free(sc);
}
