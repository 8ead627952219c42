/* The Job controller: runs pods from a Job's template until
 * spec.completions of them succeeded (NonIndexed, or Indexed with one pod
 * per completion index), at most spec.parallelism at once, replacing failed
 * pods after a doubling back-off until spec.backoffLimit, failing the Job
 * past spec.activeDeadlineSeconds, deleting its pods while spec.suspend.
 * Finished pods are counted through the batch.kubernetes.io/job-tracking
 * finalizer and status.uncountedTerminatedPods, so a pod is counted once
 * even when the controller restarts or the pod is deleted, and the 1.32
 * terminal conditions come in two steps (FailureTarget then Failed,
 * SuccessCriteriaMet then Complete) once no pod is still terminating.
 * The shape of upstream's pkg/controller/job.
 * https://kubernetes.io/docs/concepts/workloads/controllers/job/ */
#include "controller/job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/events.h"
#include "controller/internal.h"
#include "json/selector.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/strmap.h"

#define S controller__str
#define N controller__num

#define TRACKING "batch.kubernetes.io/job-tracking"
#define INDEX_KEY "batch.kubernetes.io/job-completion-index"
#define MAX_PER_SYNC 500      /* upstream's MaxPodCreateDeletePerSync */
#define MAX_UNCOUNTED 500     /* upstream's MaxUncountedPods */
#define MAX_COMPLETIONS 100000 /* upstream's limit for Indexed Jobs */
#define ORPHAN_PREFIX "pod:"  /* queue keys of pods whose finalizer has no Job left */

enum { P_PENDING, P_RUNNING, P_SUCCEEDED, P_FAILED, P_UNKNOWN };
/* The terminal condition a sync is working towards. */
enum { F_NONE, F_FAILURE_TARGET, F_FAILED, F_SUCCESS_MET, F_COMPLETE };

typedef struct {
  char *key; /* the map's key */
  int failures;
  double last_failure;
} backoff_t;

typedef struct jsync jsync_t;

struct controller_job {
  client_t *c;
  client_informer_t *job_inf, *pod_inf;
  controller_t *ctl;
  controller_recorder_t *rec;
  controller_expectations_t *exps;     /* pod creations and deletions */
  controller_expectations_t *fin_exps; /* tracking finalizers being removed */
  strmap_t backoffs;                   /* key -> backoff_t */
  double backoff_base, backoff_max;
  jsync_t *syncs;
};

typedef struct {
  char *name, *uid;
  int phase, index, restarts;
  bool ready, finalizer, deleting, assigned;
  bool rm, rm_ok; /* its finalizer is removed in this sync; that worked */
  double finished; /* when it finished (seconds since the epoch) */
  time_t created;
} jpod_t;

struct jsync {
  controller_job_t *jc;
  jsync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  cJSON *job;     /* our copy; its status is edited, then written */
  cJSON *written; /* the status the API has (as far as we know) */
  jpod_t *pods;
  size_t n_pods, cap_pods;
  controller_ops_t ops;
  int err;
  char errmsg[512];
  bool satisfied, manage_called, finishing, reached_max, finished_now, create_failed;
  int active, terminating, ready, succeeded, failed;
  int deleted, deleted_ready;
  int fin;
  char fin_reason[64], fin_msg[160];
  backoff_t newb;
  unsigned char *succ; /* Indexed: succeeded indexes (completions bytes) */
  int completions;     /* -1: unset */
  int *to_create;      /* indexes (or -1) still to create, slow-start batches */
  size_t n_create, create_pos, batch;
};

/* ---- small helpers ---- */

static bool has_finalizer(const cJSON *obj, const char *f) {
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(obj, "metadata.finalizers")) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, f))
      return true;
  }
  return false;
}

static const cJSON *find_condition(const cJSON *job, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(job, "status.conditions")) {
    const char *t = S(c, "type");
    if (t && !strcmp(t, type))
      return c;
  }
  return NULL;
}

bool controller__job_condition(const cJSON *job, const char *type) {
  const char *st = S(find_condition(job, type), "status");
  return st && !strcmp(st, "True");
}

bool controller__job_finished(const cJSON *job) {
  return controller__job_condition(job, "Complete") || controller__job_condition(job, "Failed");
}

static bool suspended(const cJSON *job) { return cJSON_IsTrue(json_get_path(job, "spec.suspend")); }

static bool indexed(const cJSON *job) {
  const char *m = S(job, "spec.completionMode");
  return m && !strcmp(m, "Indexed");
}

static cJSON *child(cJSON *obj, const char *name) {
  cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!cJSON_IsObject(c)) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
    c = cJSON_AddObjectToObject(obj, name);
  }
  return c;
}

static void set_item(cJSON *obj, const char *name, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(obj, name))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, name, v);
  else
    cJSON_AddItemToObject(obj, name, v);
}

/* A count: omitted at 0 when the field is omitempty upstream. */
static void set_count(cJSON *st, const char *name, int n, bool omit_zero) {
  if (omit_zero && n == 0)
    cJSON_DeleteItemFromObjectCaseSensitive(st, name);
  else
    set_item(st, name, cJSON_CreateNumber(n));
}

static cJSON *status_of(jsync_t *s) { return child(s->job, "status"); }

static bool uid_in(const cJSON *arr, const char *uid) {
  const cJSON *v;
  cJSON_ArrayForEach(v, arr) {
    if (cJSON_IsString(v) && uid && !strcmp(v->valuestring, uid))
      return true;
  }
  return false;
}

static cJSON *uncounted(jsync_t *s, const char *which) {
  cJSON *u = child(status_of(s), "uncountedTerminatedPods");
  cJSON *a = cJSON_GetObjectItemCaseSensitive(u, which);
  if (!cJSON_IsArray(a)) {
    cJSON_DeleteItemFromObjectCaseSensitive(u, which);
    a = cJSON_AddArrayToObject(u, which);
  }
  return a;
}

/* Empty uncounted lists are omitted (omitempty), the object stays. */
static void uncounted_tidy(jsync_t *s) {
  cJSON *u = child(status_of(s), "uncountedTerminatedPods");
  static const char *const lists[] = {"succeeded", "failed"};
  for (int i = 0; i < 2; i++) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(u, lists[i]);
    if (a && cJSON_GetArraySize(a) == 0)
      cJSON_DeleteItemFromObjectCaseSensitive(u, lists[i]);
  }
}

static double parse_time(const char *s) { return (double)controller__time(s); }

/* upstream's ensureJobConditionStatus: returns whether it changed. */
static bool ensure_condition(jsync_t *s, const char *type, const char *status, const char *reason,
                             const char *message) {
  cJSON *st = status_of(s);
  cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
  cJSON *old = NULL, *c;
  cJSON_ArrayForEach(c, conds) {
    const char *t = S(c, "type");
    if (t && !strcmp(t, type))
      old = c;
  }
  if (old) {
    const char *os = S(old, "status"), *orr = S(old, "reason"), *om = S(old, "message");
    if (os && !strcmp(os, status) && !strcmp(orr ? orr : "", reason) && !strcmp(om ? om : "", message))
      return false;
  } else if (!strcmp(status, "False")) {
    return false;
  }
  char now[32];
  controller__now(now, sizeof(now));
  cJSON *n = cJSON_CreateObject();
  cJSON_AddStringToObject(n, "type", type);
  cJSON_AddStringToObject(n, "status", status);
  cJSON_AddStringToObject(n, "lastProbeTime", now);
  cJSON_AddStringToObject(n, "lastTransitionTime", now);
  if (reason[0])
    cJSON_AddStringToObject(n, "reason", reason);
  if (message[0])
    cJSON_AddStringToObject(n, "message", message);
  if (old) {
    cJSON_ReplaceItemViaPointer(conds, old, n);
  } else {
    if (!cJSON_IsArray(conds)) {
      cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
      conds = cJSON_AddArrayToObject(st, "conditions");
    }
    cJSON_AddItemToArray(conds, n);
  }
  return true;
}

/* ---- pods of a sync ---- */

static int completion_index(const cJSON *pod) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(json_get_path(pod, "metadata.annotations"),
                                                    INDEX_KEY);
  if (!cJSON_IsString(a) || !a->valuestring[0])
    return -1;
  char *end;
  long i = strtol(a->valuestring, &end, 10);
  if (*end || i < 0 || i > MAX_COMPLETIONS)
    return -1;
  return (int)i;
}

static bool pod_ready(const cJSON *pod) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = S(c, "type"), *st = S(c, "status");
    if (t && st && !strcmp(t, "Ready"))
      return !strcmp(st, "True");
  }
  return false;
}

/* When a pod finished: its last container end, else its deletion, else now. */
static double finish_time(const cJSON *pod) {
  double best = 0;
  static const char *const lists[] = {"status.containerStatuses", "status.initContainerStatuses"};
  for (int i = 0; i < 2; i++) {
    const cJSON *cs;
    cJSON_ArrayForEach(cs, json_get_path(pod, lists[i])) {
      double t = parse_time(S(cs, "state.terminated.finishedAt"));
      if (t > best)
        best = t;
    }
  }
  if (!best)
    best = parse_time(S(pod, "metadata.deletionTimestamp"));
  return best ? best : (double)time(NULL);
}

static void pods_add(jsync_t *s, const cJSON *pod) {
  if (s->n_pods == s->cap_pods) {
    s->cap_pods = s->cap_pods ? s->cap_pods * 2 : 16;
    s->pods = xrealloc(s->pods, s->cap_pods * sizeof(*s->pods));
  }
  jpod_t *p = &s->pods[s->n_pods++];
  memset(p, 0, sizeof(*p));
  p->name = xstrdup(S(pod, "metadata.name") ? S(pod, "metadata.name") : "");
  p->uid = xstrdup(S(pod, "metadata.uid") ? S(pod, "metadata.uid") : "");
  const char *ph = S(pod, "status.phase");
  p->phase = !ph || !strcmp(ph, "Pending") ? P_PENDING
             : !strcmp(ph, "Running")      ? P_RUNNING
             : !strcmp(ph, "Succeeded")    ? P_SUCCEEDED
             : !strcmp(ph, "Failed")       ? P_FAILED
                                           : P_UNKNOWN;
  p->index = completion_index(pod);
  p->ready = pod_ready(pod);
  p->finalizer = has_finalizer(pod, TRACKING);
  p->deleting = json_get_path(pod, "metadata.deletionTimestamp") != NULL;
  const char *node = S(pod, "spec.nodeName");
  p->assigned = node && node[0];
  p->created = controller__time(S(pod, "metadata.creationTimestamp"));
  const cJSON *cs;
  cJSON_ArrayForEach(cs, json_get_path(pod, "status.containerStatuses"))
    p->restarts += (int)N(cs, "restartCount", 0);
  cJSON_ArrayForEach(cs, json_get_path(pod, "status.initContainerStatuses"))
    p->restarts += (int)N(cs, "restartCount", 0);
  if (p->phase == P_SUCCEEDED || p->phase == P_FAILED || p->deleting)
    p->finished = finish_time(pod);
}

static bool pod_active(const jpod_t *p) {
  return p->phase != P_SUCCEEDED && p->phase != P_FAILED && !p->deleting;
}

/* upstream's isPodFailed with podReplacementPolicy TerminatingOrFailed:
 * a deleted pod that did not succeed counts as failed. */
static bool pod_failed(const jsync_t *s, const jpod_t *p) {
  if (p->phase == P_FAILED)
    return true;
  const char *prp = S(s->job, "spec.podReplacementPolicy");
  if ((prp && !strcmp(prp, "Failed")) || json_get_path(s->job, "spec.podFailurePolicy"))
    return false;
  return p->deleting && p->phase != P_SUCCEEDED;
}

static bool valid_index(const jsync_t *s, const jpod_t *p) {
  return !indexed(s->job) || (p->index >= 0 && p->index < s->completions);
}

/* ---- sync lifetime ---- */

static void jsync_free(jsync_t *s) {
  controller_job_t *jc = s->jc;
  if (s->prev)
    s->prev->next = s->next;
  else
    jc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  for (size_t i = 0; i < s->n_pods; i++) {
    free(s->pods[i].name);
    free(s->pods[i].uid);
  }
  free(s->pods);
  free(s->succ);
  free(s->to_create);
  cJSON_Delete(s->job);
  cJSON_Delete(s->written);
  free(s->key);
  free(s);
}

static void jsync_end(void *p) {
  jsync_t *s = p;
  controller_t *ctl = s->jc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  jsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static jsync_t *jsync_new(controller_job_t *jc, const char *key) {
  jsync_t *s = xcalloc(1, sizeof(*s));
  s->jc = jc;
  s->key = xstrdup(key);
  s->next = jc->syncs;
  if (s->next)
    s->next->prev = s;
  jc->syncs = s;
  controller_ops_init(&s->ops, s, jsync_end);
  return s;
}

static void request_failed(jsync_t *s, const client_result_t *res) {
  if (!s->err)
    snprintf(s->errmsg, sizeof(s->errmsg), "%s", res->message && res->message[0] ? res->message : "request failed");
  s->err = -EAGAIN; /* retried with back-off */
}

/* ---- back-off records (upstream's backoffStore) ---- */

static backoff_t *backoff_get(controller_job_t *jc, const char *key) {
  return strmap_get(&jc->backoffs, key);
}

static void backoff_forget(controller_job_t *jc, const char *key) {
  backoff_t *b = strmap_del(&jc->backoffs, key);
  if (b) {
    free(b->key);
    free(b);
  }
}

static void backoff_store(controller_job_t *jc, const char *key, const backoff_t *nb) {
  backoff_t *b = backoff_get(jc, key);
  if (!b) {
    if (nb->failures == 0 || jc->backoffs.len >= 65536)
      return;
    b = xcalloc(1, sizeof(*b));
    b->key = xstrdup(key);
    if (strmap_put(&jc->backoffs, b->key, b, NULL) < 0) {
      free(b->key);
      free(b);
      return;
    }
  }
  b->failures = nb->failures;
  b->last_failure = nb->last_failure;
}

static int by_finish(const void *a, const void *b) {
  double x = (*(const jpod_t *const *)a)->finished, y = (*(const jpod_t *const *)b)->finished;
  return x < y ? -1 : x > y;
}

/* The record after this sync's newly finished pods (upstream's
 * newBackoffRecord): failures since the last success and the last one's
 * time. */
static void backoff_next(jsync_t *s, jpod_t **succ, size_t n_succ, jpod_t **fail, size_t n_fail) {
  const backoff_t *old = backoff_get(s->jc, s->key);
  s->newb.failures = old ? old->failures : 0;
  s->newb.last_failure = old ? old->last_failure : 0;
  qsort(succ, n_succ, sizeof(*succ), by_finish);
  qsort(fail, n_fail, sizeof(*fail), by_finish);
  if (n_succ == 0) {
    if (n_fail) {
      s->newb.failures += (int)n_fail;
      s->newb.last_failure = fail[n_fail - 1]->finished;
    }
    return;
  }
  s->newb.failures = 0;
  s->newb.last_failure = 0;
  double last_success = succ[n_succ - 1]->finished;
  for (size_t i = n_fail; i-- > 0;) {
    if (fail[i]->finished <= last_success)
      break;
    if (!s->newb.last_failure)
      s->newb.last_failure = fail[i]->finished;
    s->newb.failures++;
  }
}

static double backoff_remaining(const jsync_t *s) {
  if (s->newb.failures == 0)
    return 0;
  double d = s->jc->backoff_base;
  for (int i = 1; i < s->newb.failures; i++) {
    d *= 2;
    if (d >= s->jc->backoff_max) {
      d = s->jc->backoff_max;
      break;
    }
  }
  double since = (double)time(NULL) - s->newb.last_failure;
  return d < since ? 0 : d - since;
}

/* ---- Indexed completion ---- */

/* "1,3-5" into the bitmap (indexes >= completions are ignored). */
static void indexes_parse(unsigned char *bits, int completions, const char *str) {
  const char *p = str;
  while (p && *p) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p)
      return;
    if (*end == '-') {
      p = end + 1;
      b = strtol(p, &end, 10);
      if (end == p)
        return;
    }
    for (long i = a < 0 ? 0 : a; i <= b && i < completions; i++)
      bits[i] = 1;
    p = *end == ',' ? end + 1 : NULL;
    if (*end && *end != ',')
      return;
  }
}

static int indexes_total(const unsigned char *bits, int completions) {
  int n = 0;
  for (int i = 0; i < completions; i++)
    n += bits[i];
  return n;
}

/* The bitmap as upstream's ordered intervals ("0-2,4"). */
static char *indexes_format(const unsigned char *bits, int completions) {
  size_t cap = 64, len = 0;
  char *out = xmalloc(cap);
  out[0] = '\0';
  for (int i = 0; i < completions;) {
    if (!bits[i]) {
      i++;
      continue;
    }
    int j = i;
    while (j + 1 < completions && bits[j + 1])
      j++;
    char part[32];
    int n = j > i ? snprintf(part, sizeof(part), "%s%d-%d", len ? "," : "", i, j)
                  : snprintf(part, sizeof(part), "%s%d", len ? "," : "", i);
    if (len + (size_t)n + 1 > cap) {
      cap = (len + (size_t)n + 1) * 2;
      out = xrealloc(out, cap);
    }
    memcpy(out + len, part, (size_t)n + 1);
    len += (size_t)n;
    i = j + 1;
  }
  return out;
}

/* ---- writing the status ---- */

static void step_remove_finalizers(void *p);
static void step_finish(void *p);
static void step_final(void *p);

static void status_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  jsync_t *s = controller_op_owner(op);
  if (res->code == 200 && res->obj) {
    cJSON_Delete(s->job);
    s->job = client_result_take(res); /* the new resourceVersion for the next write */
    cJSON_Delete(s->written);
    s->written = cJSON_Duplicate(json_get_path(s->job, "status"), 1);
  } else if (res->code != 404) {
    request_failed(s, res);
  } else {
    s->err = 0; /* the Job is gone: nothing more to do */
  }
  controller_op_finish(op);
}

/* PUT the status when it differs from what the API has (upstream's
 * UpdateStatus with the Job's resourceVersion: a stale copy conflicts).
 * Returns whether a write started. */
static bool flush(jsync_t *s) {
  uncounted_tidy(s);
  if (json_equal(json_get_path(s->job, "status"), s->written))
    return false;
  client_ref_t ref = {.group = "batch", .version = "v1", .resource = "jobs", .ns = s->ns,
                      .name = s->name};
  controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
  if (controller_op_track(op, client_update_status(s->jc->c, &ref, s->job, status_done, op)) < 0) {
    s->err = -EINVAL;
    return false;
  }
  return true;
}

/* ---- counting finished pods (upstream's trackJobStatusAndRemoveFinalizers) ---- */

static bool expected_rm(const jsync_t *s, const jpod_t *p) {
  return controller_expectations_expects_del(s->jc->fin_exps, s->key, p->uid);
}

/* Move uncounted pods whose finalizer is gone into the counters. */
static void clean_uncounted(jsync_t *s) {
  static const char *const lists[] = {"succeeded", "failed"};
  for (int l = 0; l < 2; l++) {
    cJSON *arr = uncounted(s, lists[l]);
    int moved = 0;
    for (cJSON *v = arr->child, *next; v; v = next) {
      next = v->next;
      bool still = false;
      for (size_t i = 0; i < s->n_pods && cJSON_IsString(v); i++) {
        const jpod_t *p = &s->pods[i];
        if (!strcmp(p->uid, v->valuestring) && p->finalizer && !expected_rm(s, p))
          still = true;
      }
      if (!still) {
        cJSON_Delete(cJSON_DetachItemViaPointer(arr, v));
        moved++;
      }
    }
    if (moved) {
      cJSON *st = status_of(s);
      int n = (int)N(st, lists[l], 0) + moved;
      if (!indexed(s->job) || l == 1)
        set_count(st, lists[l], n, true);
    }
  }
}

/* Put finished pods into uncountedTerminatedPods, pick the pods whose
 * finalizer goes, record the interim condition, flush. */
static void track(jsync_t *s) {
  bool deleting = json_get_path(s->job, "metadata.deletionTimestamp") != NULL;
  clean_uncounted(s);
  cJSON *us = uncounted(s, "succeeded"), *uf = uncounted(s, "failed");
  bool success_fin = s->fin == F_SUCCESS_MET || s->fin == F_COMPLETE;
  for (size_t i = 0; i < s->n_pods; i++) {
    jpod_t *p = &s->pods[i];
    if (!p->finalizer || expected_rm(s, p))
      continue; /* counted in an earlier sync */
    bool failed = pod_failed(s, p);
    if (!(deleting || s->fin != F_NONE || p->phase == P_SUCCEEDED || failed))
      continue; /* still running: its finalizer stays */
    p->rm = true;
    if (p->phase == P_SUCCEEDED && !uid_in(uf, p->uid)) {
      if (indexed(s->job)) {
        if (p->index >= 0 && p->index < s->completions)
          s->succ[p->index] = 1;
      } else if (!uid_in(us, p->uid)) {
        cJSON_AddItemToArray(us, cJSON_CreateString(p->uid));
      }
    } else if (failed || (s->fin != F_NONE && !success_fin)) {
      /* when the Job is finishing every pod not succeeded counts as failed */
      if (!uid_in(uf, p->uid) && valid_index(s, p))
        cJSON_AddItemToArray(uf, cJSON_CreateString(p->uid));
    }
    if (cJSON_GetArraySize(us) + cJSON_GetArraySize(uf) >= MAX_UNCOUNTED) {
      s->reached_max = true; /* the rest in the next sync: status stays small */
      break;
    }
  }
  cJSON *st = status_of(s);
  if (indexed(s->job)) {
    char *str = indexes_format(s->succ, s->completions);
    if (str[0])
      set_item(st, "completedIndexes", cJSON_CreateString(str));
    else
      cJSON_DeleteItemFromObjectCaseSensitive(st, "completedIndexes");
    free(str);
    set_count(st, "succeeded", indexes_total(s->succ, s->completions), true);
  }
  if (s->fin == F_FAILURE_TARGET) {
    ensure_condition(s, "FailureTarget", "True", s->fin_reason, s->fin_msg);
    s->fin = F_FAILED; /* written once the pods are counted */
  }
  if (s->fin == F_SUCCESS_MET) {
    if (!controller__job_condition(s->job, "SuccessCriteriaMet"))
      ensure_condition(s, "SuccessCriteriaMet", "True", s->fin_reason, s->fin_msg);
    s->fin = F_COMPLETE;
  }
  flush(s);
  controller_ops_after(&s->ops, step_remove_finalizers);
}

static void finalizer_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  jsync_t *s = controller_op_owner(op);
  jpod_t *p = &s->pods[op->n];
  if (res->code == 200 || res->code == 404) {
    p->rm_ok = true;
    if (res->code == 404)
      controller_expectations_observe_del(s->jc->fin_exps, s->key, p->uid);
  } else {
    controller_expectations_observe_del(s->jc->fin_exps, s->key, p->uid); /* no update follows */
    request_failed(s, res);
  }
  controller_op_finish(op);
}

/* The patch upstream sends to drop the tracking finalizer. */
static cJSON *finalizer_patch(void) {
  cJSON *p = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(p, "metadata");
  cJSON *l = cJSON_AddArrayToObject(md, "$deleteFromPrimitiveList/finalizers");
  cJSON_AddItemToArray(l, cJSON_CreateString(TRACKING));
  return p;
}

static void step_remove_finalizers(void *arg) {
  jsync_t *s = arg;
  if (s->err) { /* the status did not get written: count again next time */
    jsync_end(s);
    return;
  }
  backoff_store(s->jc, s->key, &s->newb);
  const char **uids = xcalloc(s->n_pods + 1, sizeof(*uids));
  size_t n = 0;
  for (size_t i = 0; i < s->n_pods; i++)
    if (s->pods[i].rm)
      uids[n++] = s->pods[i].uid;
  controller_expectations_expect_dels(s->jc->fin_exps, s->key, uids, n,
                                      ev_now(controller_loop(s->jc->ctl)));
  free(uids);
  cJSON *patch = finalizer_patch();
  for (size_t i = 0; i < s->n_pods; i++) {
    if (!s->pods[i].rm)
      continue;
    client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = s->pods[i].name};
    controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
    op->n = (long)i;
    if (controller_op_track(op, client_patch(s->jc->c, &ref, CLIENT_PATCH_STRATEGIC, patch, NULL,
                                             finalizer_done, op)) < 0)
      controller_expectations_observe_del(s->jc->fin_exps, s->key, s->pods[i].uid);
  }
  cJSON_Delete(patch);
  controller_ops_after(&s->ops, step_finish);
}

/* Count what lost its finalizer; finish the Job when nothing is left
 * uncounted or terminating (upstream's enactJobFinished). */
static void step_finish(void *arg) {
  jsync_t *s = arg;
  for (size_t i = 0; i < s->n_pods; i++)
    if (s->pods[i].rm_ok)
      s->pods[i].finalizer = false;
  clean_uncounted(s);
  if (!s->reached_max && (s->fin == F_FAILED || s->fin == F_COMPLETE)) {
    int left = cJSON_GetArraySize(uncounted(s, "succeeded")) + cJSON_GetArraySize(uncounted(s, "failed"));
    if (left == 0 && s->terminating == 0) {
      bool complete = s->fin == F_COMPLETE;
      ensure_condition(s, complete ? "Complete" : "Failed", "True", s->fin_reason, s->fin_msg);
      if (complete) {
        char now[32];
        controller__now(now, sizeof(now));
        set_item(status_of(s), "completionTime", cJSON_CreateString(now));
      }
      s->finished_now = true;
    }
  }
  flush(s);
  controller_ops_after(&s->ops, step_final);
}

static void step_final(void *arg) {
  jsync_t *s = arg;
  if (s->finished_now && !s->err) {
    controller_recorder_t *rec = s->jc->rec;
    if (s->fin == F_COMPLETE) {
      if (s->completions >= 0 && (int)N(s->job, "status.succeeded", 0) > s->completions)
        controller_recorder_eventf(rec, s->job, "Warning", "TooManySucceededPods",
                                   "Too many succeeded pods running after completion count reached");
      controller_recorder_eventf(rec, s->job, "Normal", "Completed", "Job completed");
    } else {
      controller_recorder_eventf(rec, s->job, "Warning", s->fin_reason, "%s", s->fin_msg);
    }
    backoff_forget(s->jc, s->key);
  }
  jsync_end(s);
}

/* ---- creating and deleting pods (upstream's manageJob) ---- */

static void step_managed(void *p);

static void delete_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  jsync_t *s = controller_op_owner(op);
  jpod_t *p = &s->pods[op->n];
  if (op->kind == 1) { /* the finalizer is off: now the DELETE */
    if (res->code != 200 && res->code != 404) {
      controller_expectations_observe_del(s->jc->exps, s->key, p->uid);
      request_failed(s, res);
    } else {
      p->finalizer = false; /* not counted: the pod was removed on purpose */
      client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = p->name};
      controller_op_t *del = controller_op_new(&s->ops, 2, NULL, NULL);
      del->n = op->n;
      if (controller_op_track(del, client_delete(s->jc->c, &ref, NULL, delete_done, del)) < 0)
        controller_expectations_observe_del(s->jc->exps, s->key, p->uid);
    }
    controller_op_finish(op);
    return;
  }
  if (res->code == 200 || res->code == 202) {
    s->deleted++;
    s->deleted_ready += p->ready;
    p->deleting = true;
    controller_recorder_eventf(s->jc->rec, s->job, "Normal", "SuccessfulDelete", "Deleted pod: %s",
                               p->name);
  } else {
    controller_expectations_observe_del(s->jc->exps, s->key, p->uid);
    if (res->code == 404) {
      s->deleted++; /* gone already */
      s->deleted_ready += p->ready;
    } else {
      controller_recorder_eventf(s->jc->rec, s->job, "Warning", "FailedDelete", "Error deleting: %s",
                                 res->message && res->message[0] ? res->message : "request failed");
      request_failed(s, res);
    }
  }
  controller_op_finish(op);
}

/* Delete pods (indexes into s->pods). with_finalizer: first drop the
 * tracking finalizer (upstream's deleteJobPods), else keep it so that the
 * pods are counted as failed (deleteActivePods). */
static void delete_pods(jsync_t *s, const size_t *which, size_t n, bool drop_finalizer) {
  const char **uids = xcalloc(n + 1, sizeof(*uids));
  for (size_t i = 0; i < n; i++)
    uids[i] = s->pods[which[i]].uid;
  if (drop_finalizer)
    controller_expectations_expect_dels(s->jc->exps, s->key, uids, n,
                                        ev_now(controller_loop(s->jc->ctl)));
  free(uids);
  cJSON *patch = finalizer_patch();
  for (size_t i = 0; i < n; i++) {
    jpod_t *p = &s->pods[which[i]];
    client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = p->name};
    bool patch_first = drop_finalizer && p->finalizer;
    controller_op_t *op = controller_op_new(&s->ops, patch_first ? 1 : 2, NULL, NULL);
    op->n = (long)which[i];
    client_req_t *r = patch_first ? client_patch(s->jc->c, &ref, CLIENT_PATCH_STRATEGIC, patch, NULL,
                                                 delete_done, op)
                                  : client_delete(s->jc->c, &ref, NULL, delete_done, op);
    if (controller_op_track(op, r) < 0 && drop_finalizer)
      controller_expectations_observe_del(s->jc->exps, s->key, p->uid);
  }
  cJSON_Delete(patch);
}

/* Which active pods to delete first (upstream's ActivePods order: not
 * ready, unscheduled, pending before the others; newest first). */
static const jsync_t *rank_sync;
static int rank_cmp(const void *a, const void *b) {
  const jpod_t *x = &rank_sync->pods[*(const size_t *)a], *y = &rank_sync->pods[*(const size_t *)b];
  if (x->assigned != y->assigned)
    return x->assigned ? 1 : -1;
  int rx = x->phase == P_PENDING ? 0 : x->phase == P_UNKNOWN ? 1 : 2;
  int ry = y->phase == P_PENDING ? 0 : y->phase == P_UNKNOWN ? 1 : 2;
  if (rx != ry)
    return rx - ry;
  if (x->ready != y->ready)
    return x->ready ? 1 : -1;
  if (x->restarts != y->restarts)
    return y->restarts - x->restarts;
  if (x->created != y->created)
    return x->created > y->created ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* The active pods to remove: for Indexed Jobs first those with a repeated
 * or invalid index, then by rank, at least rm_at_least. */
static size_t pods_for_removal(jsync_t *s, size_t rm_at_least, size_t *out) {
  size_t n = 0, n_left = 0;
  size_t *left = xcalloc(s->n_pods + 1, sizeof(*left));
  unsigned char *seen = indexed(s->job) ? xcalloc((size_t)s->completions + 1, 1) : NULL;
  for (size_t i = 0; i < s->n_pods; i++) {
    jpod_t *p = &s->pods[i];
    if (!pod_active(p))
      continue;
    if (seen) {
      if (!valid_index(s, p) || seen[p->index]) {
        out[n++] = i;
        continue;
      }
      seen[p->index] = 1;
    }
    left[n_left++] = i;
  }
  if (n < rm_at_least) {
    rank_sync = s;
    qsort(left, n_left, sizeof(*left), rank_cmp);
    for (size_t i = 0; i < n_left && n < rm_at_least; i++)
      out[n++] = left[i];
  }
  free(left);
  free(seen);
  return n;
}

static void create_batch(jsync_t *s);

static void create_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  jsync_t *s = controller_op_owner(op);
  if (res->code == 201 || res->code == 200) {
    const char *name = S(res->obj, "metadata.name");
    controller_recorder_eventf(s->jc->rec, s->job, "Normal", "SuccessfulCreate", "Created pod: %s",
                               name ? name : "");
  } else {
    controller_expectations_observe_add(s->jc->exps, s->key); /* never coming */
    s->active--;
    if (!s->create_failed)
      controller_recorder_eventf(s->jc->rec, s->job, "Warning", "FailedCreate", "Error creating: %s",
                                 res->message && res->message[0] ? res->message : "request failed");
    s->create_failed = true;
    request_failed(s, res);
  }
  controller_op_finish(op);
}

/* A batch answered: the next one, or after a failure give up the rest. */
static void create_next(void *p) {
  jsync_t *s = p;
  if (!s->create_failed && s->create_pos < s->n_create) {
    create_batch(s);
    return;
  }
  for (; s->create_pos < s->n_create; s->create_pos++) {
    controller_expectations_observe_add(s->jc->exps, s->key);
    s->active--;
  }
  step_managed(s);
}

/* The pod for completion index idx (-1: NonIndexed) from the template. */
static cJSON *pod_from_template(jsync_t *s, int idx) {
  const cJSON *tmpl = json_get_path(s->job, "spec.template");
  const cJSON *tmd = cJSON_GetObjectItemCaseSensitive(tmpl, "metadata");
  cJSON *pod = cJSON_CreateObject();
  cJSON_AddStringToObject(pod, "apiVersion", "v1");
  cJSON_AddStringToObject(pod, "kind", "Pod");
  cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
  char gen[300];
  if (idx >= 0)
    snprintf(gen, sizeof(gen), "%s-%d-", s->name, idx);
  else
    snprintf(gen, sizeof(gen), "%s-", s->name);
  cJSON_AddStringToObject(md, "generateName", gen);
  cJSON_AddStringToObject(md, "namespace", s->ns);
  static const char *const copy[] = {"labels", "annotations"};
  for (size_t k = 0; k < 2; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(tmd, copy[k]);
    cJSON_AddItemToObject(md, copy[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
  }
  cJSON *fins = cJSON_AddArrayToObject(md, "finalizers");
  const cJSON *f;
  cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(tmd, "finalizers")) {
    if (cJSON_IsString(f) && strcmp(f->valuestring, TRACKING))
      cJSON_AddItemToArray(fins, cJSON_Duplicate(f, 1));
  }
  cJSON_AddItemToArray(fins, cJSON_CreateString(TRACKING));
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  cJSON_AddItemToArray(refs, controller__owner_ref(s->job, "batch/v1", "Job"));
  const cJSON *tspec = cJSON_GetObjectItemCaseSensitive(tmpl, "spec");
  cJSON *spec = tspec ? cJSON_Duplicate(tspec, 1) : cJSON_CreateObject();
  cJSON_AddItemToObject(pod, "spec", spec);
  if (idx >= 0) {
    char v[16];
    snprintf(v, sizeof(v), "%d", idx);
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
    cJSON *lab = cJSON_GetObjectItemCaseSensitive(md, "labels");
    set_item(ann, INDEX_KEY, cJSON_CreateString(v));
    set_item(lab, INDEX_KEY, cJSON_CreateString(v));
    char host[320];
    snprintf(host, sizeof(host), "%s-%d", s->name, idx);
    set_item(spec, "hostname", cJSON_CreateString(host));
    /* JOB_COMPLETION_INDEX from the annotation, for every container that
     * does not set it (upstream's addCompletionIndexEnvVariables). */
    static const char *const lists[] = {"initContainers", "containers"};
    for (int l = 0; l < 2; l++) {
      cJSON *c;
      cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l])) {
        cJSON *env = cJSON_GetObjectItemCaseSensitive(c, "env");
        bool has = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, env) {
          const char *n = S(e, "name");
          if (n && !strcmp(n, "JOB_COMPLETION_INDEX"))
            has = true;
        }
        if (has)
          continue;
        if (!cJSON_IsArray(env)) {
          cJSON_DeleteItemFromObjectCaseSensitive(c, "env");
          env = cJSON_AddArrayToObject(c, "env");
        }
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "name", "JOB_COMPLETION_INDEX");
        cJSON *fr = cJSON_AddObjectToObject(cJSON_AddObjectToObject(ev, "valueFrom"), "fieldRef");
        cJSON_AddStringToObject(fr, "apiVersion", "v1");
        cJSON_AddStringToObject(fr, "fieldPath", "metadata.annotations['" INDEX_KEY "']");
        cJSON_AddItemToArray(env, ev);
      }
    }
  }
  return pod;
}

/* Create the next slow-start batch (1, 2, 4, ...), as upstream does. */
static void create_batch(jsync_t *s) {
  size_t n = s->batch < s->n_create - s->create_pos ? s->batch : s->n_create - s->create_pos;
  s->batch *= 2;
  for (size_t i = 0; i < n; i++) {
    cJSON *pod = pod_from_template(s, s->to_create[s->create_pos++]);
    client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns};
    controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
    if (controller_op_track(op, client_create(s->jc->c, &ref, pod, create_done, op)) < 0) {
      controller_expectations_observe_add(s->jc->exps, s->key);
      s->active--;
      s->create_failed = true;
    }
    cJSON_Delete(pod);
  }
  controller_ops_after(&s->ops, create_next);
}

/* The lowest indexes neither succeeded nor held by an active pod. */
static size_t pending_indexes(jsync_t *s, size_t want, int *out) {
  unsigned char *held = xcalloc((size_t)s->completions + 1, 1);
  for (size_t i = 0; i < s->n_pods; i++) {
    const jpod_t *p = &s->pods[i];
    if (pod_active(p) && valid_index(s, p))
      held[p->index] = 1;
  }
  size_t n = 0;
  for (int i = 0; i < s->completions && n < want; i++)
    if (!s->succ[i] && !held[i])
      out[n++] = i;
  free(held);
  return n;
}

static void manage(jsync_t *s) {
  s->manage_called = true;
  size_t *which = xcalloc(s->n_pods + 1, sizeof(*which));
  if (suspended(s->job)) {
    size_t n = pods_for_removal(s, (size_t)s->active, which);
    delete_pods(s, which, n, true);
    free(which);
    controller_ops_after(&s->ops, step_managed);
    return;
  }
  int parallelism = (int)N(s->job, "spec.parallelism", 1);
  int want;
  if (s->completions < 0) {
    want = s->succeeded > 0 ? s->active : parallelism;
  } else {
    want = s->completions - s->succeeded;
    if (want > parallelism)
      want = parallelism;
    if (want < 0)
      want = 0;
  }
  int rm_at_least = s->active - want > 0 ? s->active - want : 0;
  size_t n = pods_for_removal(s, (size_t)rm_at_least, which);
  if (n > MAX_PER_SYNC)
    n = MAX_PER_SYNC;
  if (n > 0) { /* deleting takes precedence over creating in one sync */
    delete_pods(s, which, n, true);
    free(which);
    controller_ops_after(&s->ops, step_managed);
    return;
  }
  free(which);
  const char *prp = S(s->job, "spec.podReplacementPolicy");
  int terminating = prp && !strcmp(prp, "Failed") ? s->terminating : 0;
  int diff = want - terminating - s->active;
  if (diff > 0) {
    double wait = backoff_remaining(s);
    if (wait > 0) {
      controller_enqueue_after(s->jc->ctl, s->key, wait);
      step_managed(s);
      return;
    }
    if (diff > MAX_PER_SYNC)
      diff = MAX_PER_SYNC;
    s->to_create = xcalloc((size_t)diff, sizeof(*s->to_create));
    if (indexed(s->job)) {
      s->n_create = pending_indexes(s, (size_t)diff, s->to_create);
    } else {
      s->n_create = (size_t)diff;
      for (int i = 0; i < diff; i++)
        s->to_create[i] = -1;
    }
    if (s->n_create) {
      controller_expectations_expect_adds(s->jc->exps, s->key, (int)s->n_create,
                                          ev_now(controller_loop(s->jc->ctl)));
      s->active += (int)s->n_create;
      s->batch = 1;
      create_batch(s);
      return;
    }
  }
  step_managed(s);
}

/* After manageJob (or the deletion of a finishing Job's pods). */
static void step_managed(void *arg) {
  jsync_t *s = arg;
  controller_job_t *jc = s->jc;
  if (s->finishing) {
    int active_before = s->active;
    if (s->deleted != active_before || !s->satisfied)
      s->fin = F_NONE; /* pods left, or some not seen yet: not finished yet */
    s->active -= s->deleted;
    s->terminating += s->deleted;
    s->ready -= s->deleted_ready;
  } else {
    if (s->manage_called && s->deleted) {
      s->active -= s->deleted;
      s->terminating += s->deleted;
      s->ready -= s->deleted_ready;
    }
    bool complete = s->completions < 0 ? s->succeeded > 0 && s->active == 0
                                       : s->succeeded >= s->completions && s->active == 0;
    if (complete) {
      s->fin = F_SUCCESS_MET;
      snprintf(s->fin_reason, sizeof(s->fin_reason), "CompletionsReached");
      snprintf(s->fin_msg, sizeof(s->fin_msg), "Reached expected number of succeeded pods");
    } else if (s->manage_called) {
      if (suspended(s->job)) {
        if (ensure_condition(s, "Suspended", "True", "JobSuspended", "Job suspended"))
          controller_recorder_eventf(jc->rec, s->job, "Normal", "Suspended", "Job suspended");
      } else if (ensure_condition(s, "Suspended", "False", "JobResumed", "Job resumed")) {
        controller_recorder_eventf(jc->rec, s->job, "Normal", "Resumed", "Job resumed");
        char now[32];
        controller__now(now, sizeof(now));
        set_item(status_of(s), "startTime", cJSON_CreateString(now));
      }
    }
  }
  cJSON *st = status_of(s);
  set_count(st, "active", s->active < 0 ? 0 : s->active, true);
  set_count(st, "ready", s->ready < 0 ? 0 : s->ready, false);
  set_count(st, "terminating", s->terminating, false);
  track(s);
}

/* ---- one reconcile ---- */

static bool past_backoff_on_failure(const jsync_t *s) {
  const char *rp = S(s->job, "spec.template.spec.restartPolicy");
  if (!rp || strcmp(rp, "OnFailure"))
    return false;
  int restarts = 0;
  for (size_t i = 0; i < s->n_pods; i++)
    if (s->pods[i].phase == P_RUNNING || s->pods[i].phase == P_PENDING)
      restarts += s->pods[i].restarts;
  int limit = (int)N(s->job, "spec.backoffLimit", 6);
  return limit == 0 ? restarts > 0 : restarts >= limit;
}

static void set_fin(jsync_t *s, int fin, const char *reason, const char *msg) {
  s->fin = fin;
  snprintf(s->fin_reason, sizeof(s->fin_reason), "%s", reason ? reason : "");
  snprintf(s->fin_msg, sizeof(s->fin_msg), "%s", msg ? msg : "");
}

/* Counting (upstream's syncJob after getPodsForJob). */
static void step_count(void *arg) {
  jsync_t *s = arg;
  controller_job_t *jc = s->jc;
  if (s->err) {
    jsync_end(s);
    return;
  }
  cJSON *job = s->job;
  cJSON *st = status_of(s);
  child(st, "uncountedTerminatedPods");
  const cJSON *comp = json_get_path(job, "spec.completions");
  s->completions = cJSON_IsNumber(comp) ? (int)comp->valuedouble : -1;
  if (s->completions > MAX_COMPLETIONS)
    s->completions = MAX_COMPLETIONS;
  if (indexed(job) && s->completions < 0)
    s->completions = 0;
  cJSON *us = uncounted(s, "succeeded"), *uf = uncounted(s, "failed");
  jpod_t **new_s = xcalloc(s->n_pods + 1, sizeof(*new_s)), **new_f = xcalloc(s->n_pods + 1, sizeof(*new_f));
  size_t n_s = 0, n_f = 0;
  for (size_t i = 0; i < s->n_pods; i++) {
    jpod_t *p = &s->pods[i];
    if (pod_active(p)) {
      s->active++;
      s->ready += p->ready;
    } else if (p->deleting && p->phase != P_SUCCEEDED && p->phase != P_FAILED) {
      s->terminating++;
    }
    if (!p->finalizer || expected_rm(s, p) || !valid_index(s, p))
      continue;
    if (p->phase == P_SUCCEEDED && !uid_in(us, p->uid))
      new_s[n_s++] = p;
    else if (pod_failed(s, p) && !uid_in(uf, p->uid))
      new_f[n_f++] = p;
  }
  s->succeeded = (int)N(st, "succeeded", 0) + (int)n_s + cJSON_GetArraySize(us);
  s->failed = (int)N(st, "failed", 0) + (int)n_f + cJSON_GetArraySize(uf);
  if (!json_get_path(job, "status.startTime") && !suspended(job)) {
    char now[32];
    controller__now(now, sizeof(now));
    set_item(st, "startTime", cJSON_CreateString(now));
  }
  backoff_next(s, new_s, n_s, new_f, n_f);
  free(new_s);
  free(new_f);

  int limit = (int)N(job, "spec.backoffLimit", 6);
  const cJSON *ads = json_get_path(job, "spec.activeDeadlineSeconds");
  double started = parse_time(S(job, "status.startTime"));
  if (controller__job_condition(job, "SuccessCriteriaMet")) {
    const cJSON *c = find_condition(job, "SuccessCriteriaMet");
    set_fin(s, F_SUCCESS_MET, S(c, "reason"), S(c, "message"));
  } else if (controller__job_condition(job, "FailureTarget")) {
    const cJSON *c = find_condition(job, "FailureTarget");
    set_fin(s, F_FAILED, S(c, "reason"), S(c, "message"));
  } else if (s->failed > limit || past_backoff_on_failure(s)) {
    set_fin(s, F_FAILURE_TARGET, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  } else if (cJSON_IsNumber(ads) && started && !suspended(job) &&
             (double)time(NULL) - started >= ads->valuedouble) {
    set_fin(s, F_FAILURE_TARGET, "DeadlineExceeded", "Job was active longer than specified deadline");
  } else if (cJSON_IsNumber(ads) && started && !suspended(job)) {
    controller_enqueue_after(jc->ctl, s->key, ads->valuedouble - ((double)time(NULL) - started) + 0.5);
  }
  if (indexed(job)) {
    s->succ = xcalloc((size_t)s->completions + 1, 1);
    indexes_parse(s->succ, s->completions, S(job, "status.completedIndexes"));
    for (size_t i = 0; i < s->n_pods; i++) {
      const jpod_t *p = &s->pods[i];
      if (p->phase == P_SUCCEEDED && p->finalizer && valid_index(s, p))
        s->succ[p->index] = 1;
    }
    s->succeeded = indexes_total(s->succ, s->completions);
  }
  if (s->fin != F_NONE) { /* finishing: the active pods go (their finalizers stay) */
    s->finishing = true;
    size_t *which = xcalloc(s->n_pods + 1, sizeof(*which));
    size_t n = 0;
    for (size_t i = 0; i < s->n_pods; i++)
      if (pod_active(&s->pods[i]))
        which[n++] = i;
    delete_pods(s, which, n, false);
    free(which);
    controller_ops_after(&s->ops, step_managed);
    return;
  }
  if (s->satisfied && !json_get_path(job, "metadata.deletionTimestamp")) {
    manage(s);
    return;
  }
  step_managed(s);
}

/* ---- adoption and release (upstream's ClaimPods, finalizer included) ---- */

static void claim_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  jsync_t *s = controller_op_owner(op);
  if (op->kind == 1 && res->code == 200 && res->obj)
    pods_add(s, res->obj); /* adopted: ours in this sync already */
  else if (res->code != 200 && res->code != 404 && res->code != 422)
    request_failed(s, res);
  controller_op_finish(op);
}

static void claim(jsync_t *s, const cJSON *pod, bool adopt) {
  cJSON *p = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(p, "metadata");
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  if (adopt) {
    cJSON_AddItemToArray(refs, controller__owner_ref(s->job, "batch/v1", "Job"));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "finalizers"), cJSON_CreateString(TRACKING));
  } else {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "$patch", "delete");
    cJSON_AddStringToObject(r, "uid", S(s->job, "metadata.uid"));
    cJSON_AddItemToArray(refs, r);
  }
  cJSON_AddStringToObject(md, "uid", S(pod, "metadata.uid"));
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = s->ns, .name = S(pod, "metadata.name")};
  controller_op_t *op = controller_op_new(&s->ops, adopt ? 1 : 0, NULL, NULL);
  controller_op_track(op, client_patch(s->jc->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, claim_done, op));
  cJSON_Delete(p);
}

/* A pod whose tracking finalizer no Job will remove (its Job is gone or
 * finished): drop it (upstream's orphan pod clean-up). */
static void orphan_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  jsync_t *s = controller_op_owner(op);
  if (res->code != 200 && res->code != 404)
    request_failed(s, res);
  controller_op_finish(op);
}

static bool finalizer_orphaned(controller_job_t *jc, const cJSON *pod) {
  if (!has_finalizer(pod, TRACKING))
    return false;
  const cJSON *ref = controller__ref(pod);
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *uid = S(ref, "uid");
  if (!ref || !kind || strcmp(kind, "Job") || !name)
    return true;
  const cJSON *job = client_informer_get(jc->job_inf, S(pod, "metadata.namespace"), name);
  const char *juid = S(job, "metadata.uid");
  if (!job || !juid || !uid || strcmp(juid, uid))
    return true;
  /* a finished Job counts no more pods */
  return controller__job_finished(job) &&
         (json_get_path(pod, "metadata.deletionTimestamp") ||
          !strcmp(S(pod, "status.phase") ? S(pod, "status.phase") : "", "Succeeded") ||
          !strcmp(S(pod, "status.phase") ? S(pod, "status.phase") : "", "Failed"));
}

static void sync_orphan(jsync_t *s, const char *podkey) {
  char ns[256], name[256];
  if (controller_key_split(podkey, ns, sizeof(ns), name, sizeof(name)) < 0) {
    jsync_end(s);
    return;
  }
  const cJSON *pod = client_informer_get(s->jc->pod_inf, ns, name);
  if (!pod || !finalizer_orphaned(s->jc, pod)) {
    jsync_end(s);
    return;
  }
  cJSON *patch = finalizer_patch();
  cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(patch, "metadata"), "uid",
                          S(pod, "metadata.uid"));
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = ns, .name = name};
  controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
  controller_op_track(op, client_patch(s->jc->c, &ref, CLIENT_PATCH_STRATEGIC, patch, NULL, orphan_done, op));
  cJSON_Delete(patch);
  controller_ops_after(&s->ops, jsync_end);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_job_t *jc = data;
  jsync_t *s = jsync_new(jc, key);
  if (!strncmp(key, ORPHAN_PREFIX, strlen(ORPHAN_PREFIX))) {
    sync_orphan(s, key + strlen(ORPHAN_PREFIX));
    return;
  }
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) < 0) {
    jsync_end(s);
    return;
  }
  const cJSON *job = client_informer_get(jc->job_inf, s->ns, s->name);
  if (!job) {
    controller_expectations_delete(jc->exps, key);
    controller_expectations_delete(jc->fin_exps, key);
    backoff_forget(jc, key);
    jsync_end(s);
    return;
  }
  const char *mb = S(job, "spec.managedBy");
  if (mb && strcmp(mb, "kubernetes.io/job-controller")) {
    jsync_end(s); /* another controller's */
    return;
  }
  if (controller__job_finished(job)) {
    backoff_forget(jc, key);
    jsync_end(s);
    return;
  }
  const char *cm = S(job, "spec.completionMode");
  if (cm && strcmp(cm, "NonIndexed") && strcmp(cm, "Indexed")) {
    controller_recorder_eventf(jc->rec, job, "Warning", "UnknownCompletionMode",
                               "Skipped Job sync because completion mode is unknown");
    jsync_end(s);
    return;
  }
  s->job = cJSON_Duplicate(job, 1);
  s->written = cJSON_Duplicate(json_get_path(job, "status"), 1);
  /* expectations first: a pod seen after this check waits for the next sync */
  s->satisfied = controller_expectations_satisfied(jc->exps, key, ev_now(controller_loop(ctl)));
  const char *uid = S(job, "metadata.uid");
  bool deleting = json_get_path(job, "metadata.deletionTimestamp") != NULL;
  label_selector_t *sel = NULL;
  char err[256];
  if (label_selector_from_json(json_get_path(job, "spec.selector"), &sel, err, sizeof(err)) < 0) {
    label_selector_free(sel);
    jsync_end(s);
    return;
  }
  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(jc->pod_inf), CLIENT_INDEX_NAMESPACE, s->ns, &n);
  for (size_t i = 0; i < n; i++) {
    const cJSON *pod = pods[i];
    const cJSON *ref = controller__ref(pod);
    bool match = !label_selector_empty(sel) &&
                 label_selector_match(sel, json_get_path(pod, "metadata.labels"));
    if (ref) {
      const char *ruid = S(ref, "uid");
      if (!ruid || !uid || strcmp(ruid, uid))
        continue; /* someone else's */
      if (match || deleting)
        pods_add(s, pod);
      else
        claim(s, pod, false); /* release */
    } else if (match && !deleting && !json_get_path(pod, "metadata.deletionTimestamp")) {
      const char *ph = S(pod, "status.phase");
      if (!ph || (strcmp(ph, "Succeeded") && strcmp(ph, "Failed")))
        claim(s, pod, true); /* adopt */
    }
  }
  free(pods);
  label_selector_free(sel);
  controller_ops_after(&s->ops, step_count);
}

/* ---- event handlers ---- */

/* The key of the Job a pod's controllerRef names, if it is cached. */
static bool owner_key(controller_job_t *jc, const cJSON *pod, char *key, size_t len) {
  const cJSON *ref = controller__ref(pod);
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *uid = S(ref, "uid");
  const char *ns = S(pod, "metadata.namespace");
  if (!ref || !kind || strcmp(kind, "Job") || !name || !ns)
    return false;
  const cJSON *job = client_informer_get(jc->job_inf, ns, name);
  const char *juid = S(job, "metadata.uid");
  if (!job || !uid || !juid || strcmp(uid, juid))
    return false;
  snprintf(key, len, "%s/%s", ns, name);
  return true;
}

static void enqueue_orphan(controller_job_t *jc, const cJSON *pod) {
  if (!finalizer_orphaned(jc, pod))
    return;
  char key[600];
  snprintf(key, sizeof(key), ORPHAN_PREFIX "%s/%s", S(pod, "metadata.namespace"),
           S(pod, "metadata.name"));
  controller_enqueue(jc->ctl, key);
}

static void enqueue_matching(controller_job_t *jc, const cJSON *pod) {
  const char *ns = S(pod, "metadata.namespace");
  size_t n = 0;
  const cJSON **jobs = client_cache_by_index(client_informer_cache(jc->job_inf),
                                             CLIENT_INDEX_NAMESPACE, ns ? ns : "", &n);
  for (size_t i = 0; i < n; i++) {
    label_selector_t *sel = NULL;
    char err[256];
    if (label_selector_from_json(json_get_path(jobs[i], "spec.selector"), &sel, err, sizeof(err)) == 0 &&
        !label_selector_empty(sel) && label_selector_match(sel, json_get_path(pod, "metadata.labels")))
      controller_enqueue_obj(jc->ctl, jobs[i]);
    label_selector_free(sel);
  }
  free(jobs);
}

static void pod_deleted(const cJSON *pod, void *data) {
  controller_job_t *jc = data;
  char key[600];
  if (owner_key(jc, pod, key, sizeof(key))) {
    controller_expectations_observe_del(jc->exps, key, S(pod, "metadata.uid"));
    controller_expectations_observe_del(jc->fin_exps, key, S(pod, "metadata.uid"));
    controller_enqueue(jc->ctl, key);
  }
}

static void pod_added(const cJSON *pod, void *data) {
  controller_job_t *jc = data;
  char key[600];
  enqueue_orphan(jc, pod);
  if (json_get_path(pod, "metadata.deletionTimestamp")) {
    if (owner_key(jc, pod, key, sizeof(key))) {
      controller_expectations_observe_del(jc->exps, key, S(pod, "metadata.uid"));
      controller_enqueue(jc->ctl, key);
    }
    return;
  }
  if (owner_key(jc, pod, key, sizeof(key))) {
    controller_expectations_observe_add(jc->exps, key);
    controller_enqueue(jc->ctl, key);
  } else if (!controller__ref(pod)) {
    enqueue_matching(jc, pod);
  }
}

static void pod_updated(const cJSON *old, const cJSON *pod, void *data) {
  controller_job_t *jc = data;
  const char *a = S(old, "metadata.resourceVersion"), *b = S(pod, "metadata.resourceVersion");
  if (a && b && !strcmp(a, b))
    return;
  enqueue_orphan(jc, pod);
  char key[600], okey[600];
  bool has = owner_key(jc, pod, key, sizeof(key));
  if (has && has_finalizer(old, TRACKING) && !has_finalizer(pod, TRACKING))
    controller_expectations_observe_del(jc->fin_exps, key, S(pod, "metadata.uid"));
  if (has && json_get_path(pod, "metadata.deletionTimestamp") &&
      !json_get_path(old, "metadata.deletionTimestamp"))
    controller_expectations_observe_del(jc->exps, key, S(pod, "metadata.uid"));
  if (owner_key(jc, old, okey, sizeof(okey)) && (!has || strcmp(okey, key)))
    controller_enqueue(jc->ctl, okey);
  if (has)
    controller_enqueue(jc->ctl, key);
  else if (!controller__ref(pod) && !json_get_path(pod, "metadata.deletionTimestamp"))
    enqueue_matching(jc, pod);
}

static void job_changed(const cJSON *job, void *data) {
  controller_enqueue_obj(((controller_job_t *)data)->ctl, job);
}
static void job_updated(const cJSON *old, const cJSON *job, void *data) { job_changed(job, data); }

/* ---- lifetime ---- */

int controller_job_new(client_t *c, client_informer_t *job_inf, client_informer_t *pod_inf,
                       struct ev_loop *loop, controller_job_t **ret_jc) {
  controller_job_t *jc = xcalloc(1, sizeof(*jc));
  jc->c = c;
  jc->job_inf = job_inf;
  jc->pod_inf = pod_inf;
  jc->backoff_base = 10;
  jc->backoff_max = 360;
  strmap_init(&jc->backoffs);
  /* upstream's job queue retries failed syncs from 10 s doubling to 6 min */
  controller_opts_t o = {.name = "job-controller", .sync = reconcile, .data = jc};
  int r = controller_new(loop, &o, &jc->ctl);
  if (r < 0) {
    free(jc);
    return r;
  }
  jc->rec = controller_recorder_new(c, "job-controller");
  jc->exps = controller_expectations_new();
  jc->fin_exps = controller_expectations_new();
  controller_wait_for(jc->ctl, job_inf);
  controller_wait_for(jc->ctl, pod_inf);
  client_informer_handlers_t jh = {job_changed, job_updated, job_changed};
  client_informer_handlers_t ph = {pod_added, pod_updated, pod_deleted};
  client_informer_add_handlers(job_inf, &jh, jc);
  client_informer_add_handlers(pod_inf, &ph, jc);
  controller_start(jc->ctl);
  *ret_jc = jc;
  return 0;
}

void controller_job_set_backoff(controller_job_t *jc, double base, double max) {
  if (base > 0)
    jc->backoff_base = base;
  if (max > 0)
    jc->backoff_max = max;
}

void controller_job_free(controller_job_t *jc) {
  if (!jc)
    return;
  while (jc->syncs)
    jsync_free(jc->syncs);
  controller_free(jc->ctl);
  controller_recorder_free(jc->rec);
  controller_expectations_free(jc->exps);
  controller_expectations_free(jc->fin_exps);
  for (size_t i = 0; i < jc->backoffs._cap; i++) {
    backoff_t *b = jc->backoffs._slots[i].key ? jc->backoffs._slots[i].value : NULL;
    if (b) {
      free(b->key);
      free(b);
    }
  }
  strmap_done(&jc->backoffs);
  free(jc);
}
