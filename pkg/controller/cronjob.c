/* The CronJob controller: creates a Job named <cronjob>-<minutes since the
 * epoch> from spec.jobTemplate at each time spec.schedule names (in
 * spec.timeZone), honouring concurrencyPolicy (Allow, Forbid, Replace),
 * startingDeadlineSeconds, suspend and upstream's "too many missed start
 * times" rule, keeps status.active/lastScheduleTime/lastSuccessfulTime, and
 * deletes finished Jobs beyond successfulJobsHistoryLimit and
 * failedJobsHistoryLimit; the shape of upstream's cronjob_controllerv2.go.
 * https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ */
#include "controller/cronjob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/cron.h"
#include "controller/events.h"
#include "controller/internal.h"
#include "controller/job.h"
#include "json/util.h"
#include "util/alloc.h"

#define S controller__str
#define N controller__num

#define SCHEDULED_ANN "batch.kubernetes.io/cronjob-scheduled-timestamp"
#define MAX_JOBS 1024  /* children looked at per CronJob */
#define NEXT_DELTA 0.1 /* upstream's nextScheduleDelta */

typedef struct csync csync_t;

struct controller_cronjob {
  client_t *c;
  client_informer_t *cj_inf, *job_inf;
  controller_t *ctl;
  controller_recorder_t *rec;
  csync_t *syncs;
};

struct csync {
  controller_cronjob_t *cc;
  csync_t *prev, *next;
  char *key;
  char ns[256], name[256];
  cJSON *cj;
  cJSON *written; /* the status as read */
  cJSON *jobs[MAX_JOBS]; /* copies of the Jobs it controls */
  size_t n_jobs;
  controller_ops_t ops;
  int err;
  controller_cron_t sched;
  bool parsed;
  time_t now;
  time_t scheduled; /* the start being made, 0 none */
  double requeue;   /* seconds, < 0: none */
};

/* ---- sync lifetime ---- */

static void csync_free(csync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->cc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  for (size_t i = 0; i < s->n_jobs; i++)
    cJSON_Delete(s->jobs[i]);
  cJSON_Delete(s->cj);
  cJSON_Delete(s->written);
  free(s->key);
  free(s);
}

static void csync_end(void *p) {
  csync_t *s = p;
  controller_t *ctl = s->cc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  double requeue = s->requeue;
  csync_free(s);
  if (requeue >= 0)
    controller_enqueue_after(ctl, key, requeue > 0 ? requeue : 0.001);
  controller_done(ctl, key, err);
  free(key);
}

/* ---- status helpers ---- */

static cJSON *status_of(csync_t *s) {
  cJSON *st = cJSON_GetObjectItemCaseSensitive(s->cj, "status");
  if (!cJSON_IsObject(st)) {
    cJSON_DeleteItemFromObjectCaseSensitive(s->cj, "status");
    st = cJSON_AddObjectToObject(s->cj, "status");
  }
  return st;
}

static void set_item(cJSON *obj, const char *name, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(obj, name))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, name, v);
  else
    cJSON_AddItemToObject(obj, name, v);
}

static void fmt_utc(time_t t, char *out, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool in_active(csync_t *s, const char *uid) {
  const cJSON *r;
  cJSON_ArrayForEach(r, json_get_path(s->cj, "status.active")) {
    const char *u = S(r, "uid");
    if (u && uid && !strcmp(u, uid))
      return true;
  }
  return false;
}

static bool in_active_by_name(csync_t *s, const char *name) {
  const cJSON *r;
  cJSON_ArrayForEach(r, json_get_path(s->cj, "status.active")) {
    const char *n = S(r, "name");
    if (n && !strcmp(n, name))
      return true;
  }
  return false;
}

static void active_remove(csync_t *s, const char *uid) {
  cJSON *act = cJSON_GetObjectItemCaseSensitive(status_of(s), "active");
  for (cJSON *r = act ? act->child : NULL, *next; r; r = next) {
    next = r->next;
    const char *u = S(r, "uid");
    if (u && uid && !strcmp(u, uid))
      cJSON_Delete(cJSON_DetachItemViaPointer(act, r));
  }
  if (act && !act->child)
    cJSON_DeleteItemFromObjectCaseSensitive(status_of(s), "active");
}

static void active_add(csync_t *s, const cJSON *job) {
  cJSON *st = status_of(s);
  cJSON *act = cJSON_GetObjectItemCaseSensitive(st, "active");
  if (!cJSON_IsArray(act)) {
    cJSON_DeleteItemFromObjectCaseSensitive(st, "active");
    act = cJSON_AddArrayToObject(st, "active");
  }
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "kind", "Job");
  cJSON_AddStringToObject(r, "namespace", s->ns);
  cJSON_AddStringToObject(r, "name", S(job, "metadata.name") ? S(job, "metadata.name") : "");
  cJSON_AddStringToObject(r, "uid", S(job, "metadata.uid") ? S(job, "metadata.uid") : "");
  cJSON_AddStringToObject(r, "apiVersion", "batch/v1");
  if (S(job, "metadata.resourceVersion"))
    cJSON_AddStringToObject(r, "resourceVersion", S(job, "metadata.resourceVersion"));
  cJSON_AddItemToArray(act, r);
}

/* ---- schedule arithmetic (upstream's mostRecentScheduleTime) ---- */

enum { MISSED_NONE, MISSED_FEW, MISSED_MANY };

static const char *zone_of(const csync_t *s) { return S(s->cj, "spec.timeZone"); }

/* The most recent unmet start time in (earliest, now], 0 if none; -1 when
 * the schedule is invalid (two starts less than a second apart). */
static time_t most_recent(csync_t *s, bool with_deadline, time_t *ret_earliest, int *ret_missed) {
  time_t earliest = controller__time(S(s->cj, "metadata.creationTimestamp"));
  const char *last = S(s->cj, "status.lastScheduleTime");
  if (last)
    earliest = controller__time(last);
  const cJSON *sds = json_get_path(s->cj, "spec.startingDeadlineSeconds");
  if (with_deadline && cJSON_IsNumber(sds)) {
    time_t dl = s->now - (time_t)sds->valuedouble;
    if (dl > earliest)
      earliest = dl;
  }
  *ret_earliest = earliest;
  *ret_missed = MISSED_NONE;
  const char *tz = zone_of(s);
  time_t t1 = controller_cron_next(&s->sched, earliest, tz);
  if (t1 < 0 || s->now < t1)
    return 0;
  time_t t2 = controller_cron_next(&s->sched, t1, tz);
  if (t2 < 0 || s->now < t2)
    return t1;
  long between = (long)(t2 - t1);
  if (between < 1)
    return -1;
  long missed = (long)(s->now - t1) / between + 1;
  time_t recent = 0;
  time_t t = controller_cron_next(&s->sched, t1 + (missed - 2) * between, tz);
  for (int guard = 0; t > 0 && t <= s->now && guard < 100000; guard++) {
    recent = t;
    t = controller_cron_next(&s->sched, t, tz);
  }
  *ret_missed = missed > 100 ? MISSED_MANY : missed > 0 ? MISSED_FEW : MISSED_NONE;
  return recent;
}

/* Seconds until the next start after the most recent one (for requeue). */
static double next_in(csync_t *s) {
  time_t earliest;
  int missed;
  time_t recent = most_recent(s, false, &earliest, &missed);
  time_t from = recent < 0 ? s->now : recent ? recent : missed == MISSED_NONE ? earliest : s->now;
  time_t next = controller_cron_next(&s->sched, from, zone_of(s));
  if (next < 0)
    return -1;
  return (double)(next - s->now) + NEXT_DELTA;
}

/* ---- the steps ---- */

static void step_status(void *p);

static void status_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  csync_t *s = controller_op_owner(op);
  if (res->code != 200 && res->code != 404)
    s->err = -EAGAIN;
  controller_op_finish(op);
}

static void step_status(void *p) {
  csync_t *s = p;
  if (!json_equal(json_get_path(s->cj, "status"), s->written)) {
    client_ref_t ref = {.group = "batch", .version = "v1", .resource = "cronjobs", .ns = s->ns,
                        .name = s->name};
    controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
    if (controller_op_track(op, client_update_status(s->cc->c, &ref, s->cj, status_done, op)) < 0)
      s->err = -EINVAL;
  }
  controller_ops_after(&s->ops, csync_end);
}

static void delete_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  csync_t *s = controller_op_owner(op);
  if (res->code == 200 || res->code == 202 || res->code == 404) {
    active_remove(s, op->uid);
    controller_recorder_eventf(s->cc->rec, s->cj, "Normal", "SuccessfulDelete", "Deleted job %s", op->name);
  } else {
    controller_recorder_eventf(s->cc->rec, s->cj, "Warning", "FailedDelete", "Deleted job: %s",
                               res->message && res->message[0] ? res->message : "request failed");
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

/* upstream's deleteJob: background propagation, then out of the active list. */
static void delete_job(csync_t *s, const char *name, const char *uid) {
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(opts, "propagationPolicy", "Background");
  client_ref_t ref = {.group = "batch", .version = "v1", .resource = "jobs", .ns = s->ns, .name = name};
  controller_op_t *op = controller_op_new(&s->ops, 0, name, uid);
  if (controller_op_track(op, client_delete(s->cc->c, &ref, opts, delete_done, op)) < 0)
    s->err = -EINVAL;
  cJSON_Delete(opts);
}

static time_t start_time(const cJSON *job) { return controller__time(S(job, "status.startTime")); }

/* Oldest first; Jobs not started yet last (upstream's byJobStartTime). */
static int by_start(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  time_t tx = start_time(x), ty = start_time(y);
  if (!tx && ty)
    return 1;
  if (tx && !ty)
    return -1;
  if (tx != ty)
    return tx < ty ? -1 : 1;
  return strcmp(S(x, "metadata.name"), S(y, "metadata.name"));
}

/* History limits (upstream's cleanupFinishedJobs), then the status. */
static void step_cleanup(void *p) {
  csync_t *s = p;
  static const struct {
    const char *limit, *cond;
  } kinds[] = {{"spec.successfulJobsHistoryLimit", "Complete"}, {"spec.failedJobsHistoryLimit", "Failed"}};
  if (!json_get_path(s->cj, "metadata.deletionTimestamp")) {
    for (int k = 0; k < 2; k++) {
      const cJSON *lim = json_get_path(s->cj, kinds[k].limit);
      if (!cJSON_IsNumber(lim))
        continue;
      cJSON *list[MAX_JOBS];
      size_t n = 0;
      for (size_t i = 0; i < s->n_jobs; i++)
        if (controller__job_condition(s->jobs[i], kinds[k].cond) &&
            !json_get_path(s->jobs[i], "metadata.deletionTimestamp"))
          list[n++] = s->jobs[i];
      long keep = (long)lim->valuedouble;
      if ((long)n <= keep)
        continue;
      qsort(list, n, sizeof(*list), by_start);
      for (size_t i = 0; i < n - (size_t)keep; i++)
        delete_job(s, S(list[i], "metadata.name"), S(list[i], "metadata.uid"));
    }
  }
  controller_ops_after(&s->ops, step_status);
}

static void created(csync_t *s, const cJSON *job) {
  active_add(s, job);
  char ts[32];
  fmt_utc(s->scheduled, ts, sizeof(ts));
  set_item(status_of(s), "lastScheduleTime", cJSON_CreateString(ts));
}

static void get_existing_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  csync_t *s = controller_op_owner(op);
  if (res->code == 200 && res->obj) {
    /* ours but not in the active list: a status write was lost */
    if (controller__owned_by(res->obj, "CronJob", S(s->cj, "metadata.uid")) &&
        !in_active(s, S(res->obj, "metadata.uid")))
      created(s, res->obj);
  } else {
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static void create_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  csync_t *s = controller_op_owner(op);
  if (res->code == 201 && res->obj) {
    controller_recorder_eventf(s->cc->rec, s->cj, "Normal", "SuccessfulCreate", "Created job %s",
                               S(res->obj, "metadata.name"));
    created(s, res->obj);
  } else if (res->code == 409) {
    client_ref_t ref = {.group = "batch", .version = "v1", .resource = "jobs", .ns = s->ns,
                        .name = op->name};
    controller_op_t *get = controller_op_new(&s->ops, 0, NULL, NULL);
    if (controller_op_track(get, client_get(s->cc->c, &ref, NULL, get_existing_done, get)) < 0)
      s->err = -EINVAL;
  } else {
    controller_recorder_eventf(s->cc->rec, s->cj, "Warning", "FailedCreate", "Error creating job: %s",
                               res->message && res->message[0] ? res->message : "request failed");
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

/* The scheduled time in the CronJob's zone as RFC 3339 ("Z" at offset 0). */
static void fmt_zoned(csync_t *s, time_t t, char *out, size_t len) {
  const char *tz = zone_of(s);
  if (!tz || !strcmp(tz, "UTC")) {
    fmt_utc(t, out, len);
    return;
  }
  struct tm loc;
  if (controller_cron_localtime(t, tz, &loc) < 0) {
    fmt_utc(t, out, len);
    return;
  }
  long off = loc.tm_gmtoff;
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &loc);
  /* "%.19s": base is "YYYY-MM-DDTHH:MM:SS"; offsets are under 100 hours */
  int hh = (int)(labs(off) / 3600 % 100), mm = (int)(labs(off) % 3600 / 60);
  if (off == 0)
    snprintf(out, len, "%.19sZ", base);
  else
    snprintf(out, len, "%.19s%c%02d:%02d", base, off < 0 ? '-' : '+', hh, mm);
}

static void step_create(void *p) {
  csync_t *s = p;
  if (s->err) {
    step_cleanup(s);
    return;
  }
  const cJSON *jt = json_get_path(s->cj, "spec.jobTemplate");
  cJSON *job = cJSON_CreateObject();
  cJSON_AddStringToObject(job, "apiVersion", "batch/v1");
  cJSON_AddStringToObject(job, "kind", "Job");
  cJSON *md = cJSON_AddObjectToObject(job, "metadata");
  char name[320];
  snprintf(name, sizeof(name), "%s-%lld", s->name, (long long)(s->scheduled / 60));
  cJSON_AddStringToObject(md, "name", name);
  cJSON_AddStringToObject(md, "namespace", s->ns);
  const cJSON *labels = json_get_path(jt, "metadata.labels");
  if (labels)
    cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, 1));
  const cJSON *ann = json_get_path(jt, "metadata.annotations");
  cJSON *a = ann ? cJSON_Duplicate(ann, 1) : cJSON_CreateObject();
  char ts[48];
  fmt_zoned(s, s->scheduled, ts, sizeof(ts));
  set_item(a, SCHEDULED_ANN, cJSON_CreateString(ts));
  cJSON_AddItemToObject(md, "annotations", a);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"),
                       controller__owner_ref(s->cj, "batch/v1", "CronJob"));
  const cJSON *spec = json_get_path(jt, "spec");
  cJSON_AddItemToObject(job, "spec", spec ? cJSON_Duplicate(spec, 1) : cJSON_CreateObject());
  client_ref_t ref = {.group = "batch", .version = "v1", .resource = "jobs", .ns = s->ns};
  controller_op_t *op = controller_op_new(&s->ops, 0, name, NULL);
  if (controller_op_track(op, client_create(s->cc->c, &ref, job, create_done, op)) < 0)
    s->err = -EINVAL;
  cJSON_Delete(job);
  controller_ops_after(&s->ops, step_cleanup);
}

/* Decide whether a start is due (upstream's syncCronJob after the
 * active-list bookkeeping). */
static void step_schedule(void *p) {
  csync_t *s = p;
  controller_recorder_t *rec = s->cc->rec;
  if (s->err || json_get_path(s->cj, "metadata.deletionTimestamp")) {
    step_cleanup(s);
    return;
  }
  const char *tz = zone_of(s);
  if (tz && !controller_cron_zone_known(tz)) {
    controller_recorder_eventf(rec, s->cj, "Warning", "UnknownTimeZone",
                               "invalid timeZone: \"%s\": unknown time zone %s", tz, tz);
    step_cleanup(s);
    return;
  }
  if (cJSON_IsTrue(json_get_path(s->cj, "spec.suspend"))) {
    step_cleanup(s);
    return;
  }
  const char *spec = S(s->cj, "spec.schedule");
  char err[256];
  if (controller_cron_parse(spec ? spec : "", &s->sched, err, sizeof(err)) < 0) {
    controller_recorder_eventf(rec, s->cj, "Warning", "UnparseableSchedule",
                               "unparseable schedule: \"%s\" : %s", spec ? spec : "", err);
    step_cleanup(s);
    return;
  }
  s->parsed = true;
  time_t earliest;
  int missed;
  time_t recent = most_recent(s, true, &earliest, &missed);
  if (recent < 0) {
    controller_recorder_eventf(rec, s->cj, "Warning", "InvalidSchedule",
                               "invalid schedule: %s : time difference between two schedules is "
                               "less than 1 second",
                               spec);
    step_cleanup(s);
    return;
  }
  s->requeue = next_in(s);
  if (recent == 0 || recent > s->now) {
    step_cleanup(s);
    return;
  }
  if (missed == MISSED_MANY)
    controller_recorder_eventf(rec, s->cj, "Warning", "TooManyMissedTimes",
                               "too many missed start times. Set or decrease "
                               ".spec.startingDeadlineSeconds or check clock skew");
  const cJSON *sds = json_get_path(s->cj, "spec.startingDeadlineSeconds");
  if (cJSON_IsNumber(sds) && recent + (time_t)sds->valuedouble < s->now) {
    char when[64];
    struct tm tm;
    gmtime_r(&recent, &tm);
    strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    controller_recorder_eventf(rec, s->cj, "Warning", "MissSchedule",
                               "Missed scheduled time to start a job: %s", when);
    step_cleanup(s);
    return;
  }
  char name[320];
  snprintf(name, sizeof(name), "%s-%lld", s->name, (long long)(recent / 60));
  const char *last = S(s->cj, "status.lastScheduleTime");
  if (in_active_by_name(s, name) || (last && controller__time(last) == recent)) {
    step_cleanup(s); /* already started */
    return;
  }
  const char *policy = S(s->cj, "spec.concurrencyPolicy");
  int n_active = cJSON_GetArraySize(json_get_path(s->cj, "status.active"));
  if (policy && !strcmp(policy, "Forbid") && n_active > 0) {
    controller_recorder_eventf(rec, s->cj, "Normal", "JobAlreadyActive",
                               "Not starting job because prior execution is running and "
                               "concurrency policy is Forbid");
    step_cleanup(s);
    return;
  }
  s->scheduled = recent;
  if (policy && !strcmp(policy, "Replace")) {
    const cJSON *r;
    cJSON_ArrayForEach(r, json_get_path(s->cj, "status.active")) {
      if (S(r, "name"))
        delete_job(s, S(r, "name"), S(r, "uid"));
    }
  }
  controller_ops_after(&s->ops, step_create);
}

static void missing_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  csync_t *s = controller_op_owner(op);
  if (res->code == 404) {
    controller_recorder_eventf(s->cc->rec, s->cj, "Normal", "MissingJob", "Active job went missing: %s",
                               op->name);
    active_remove(s, op->uid);
  } else if (res->code != 200) {
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static const char *finished_type(const cJSON *job) {
  return controller__job_condition(job, "Complete") ? "Complete"
         : controller__job_condition(job, "Failed") ? "Failed"
                                                    : NULL;
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_cronjob_t *cc = data;
  csync_t *s = xcalloc(1, sizeof(*s));
  s->cc = cc;
  s->key = xstrdup(key);
  s->requeue = -1;
  s->next = cc->syncs;
  if (s->next)
    s->next->prev = s;
  cc->syncs = s;
  controller_ops_init(&s->ops, s, csync_end);
  s->now = time(NULL);
  const cJSON *cj = NULL;
  if (controller_key_split(key, s->ns, sizeof(s->ns), s->name, sizeof(s->name)) == 0)
    cj = client_informer_get(cc->cj_inf, s->ns, s->name);
  if (!cj) {
    csync_end(s);
    return;
  }
  s->cj = cJSON_Duplicate(cj, 1);
  s->written = cJSON_Duplicate(json_get_path(cj, "status"), 1);
  const char *uid = S(cj, "metadata.uid");
  size_t n = 0;
  const cJSON **jobs = client_cache_by_index(client_informer_cache(cc->job_inf), CLIENT_INDEX_OWNER,
                                             uid ? uid : "", &n);
  for (size_t i = 0; i < n && s->n_jobs < MAX_JOBS; i++)
    if (controller__owned_by(jobs[i], "CronJob", uid) &&
        !strcmp(S(jobs[i], "metadata.namespace") ? S(jobs[i], "metadata.namespace") : "", s->ns))
      s->jobs[s->n_jobs++] = cJSON_Duplicate(jobs[i], 1);
  free(jobs);
  cJSON *st = status_of(s);
  for (size_t i = 0; i < s->n_jobs; i++) {
    const cJSON *j = s->jobs[i];
    const char *juid = S(j, "metadata.uid"), *jname = S(j, "metadata.name");
    bool found = in_active(s, juid);
    const char *fin = finished_type(j);
    if (!found && !fin) {
      controller_recorder_eventf(cc->rec, s->cj, "Warning", "UnexpectedJob",
                                 "Saw a job that the controller did not create or forgot: %s", jname);
    } else if (found && fin) {
      active_remove(s, juid);
      controller_recorder_eventf(cc->rec, s->cj, "Normal", "SawCompletedJob",
                                 "Saw completed job: %s, condition: %s", jname, fin);
    } else if (controller__job_condition(j, "Complete")) {
      const char *ct = S(j, "status.completionTime");
      const char *lst = S(st, "lastSuccessfulTime");
      if (ct && (!lst || controller__time(ct) > controller__time(lst)))
        set_item(st, "lastSuccessfulTime", cJSON_CreateString(ct));
    }
  }
  /* Active Jobs the cache does not have: ask the API before dropping them */
  const cJSON *r;
  cJSON_ArrayForEach(r, json_get_path(s->cj, "status.active")) {
    bool child = false;
    for (size_t i = 0; i < s->n_jobs && !child; i++)
      child = S(r, "uid") && S(s->jobs[i], "metadata.uid") &&
              !strcmp(S(r, "uid"), S(s->jobs[i], "metadata.uid"));
    if (child || !S(r, "name"))
      continue;
    client_ref_t ref = {.group = "batch", .version = "v1", .resource = "jobs", .ns = s->ns,
                        .name = S(r, "name")};
    controller_op_t *op = controller_op_new(&s->ops, 0, S(r, "name"), S(r, "uid"));
    if (controller_op_track(op, client_get(cc->c, &ref, NULL, missing_done, op)) < 0)
      s->err = -EINVAL;
  }
  controller_ops_after(&s->ops, step_schedule);
}

/* ---- handlers ---- */

static void job_event(const cJSON *job, void *data) {
  controller_cronjob_t *cc = data;
  const cJSON *ref = controller__ref(job);
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *ns = S(job, "metadata.namespace");
  if (!ref || !kind || strcmp(kind, "CronJob") || !name || !ns)
    return;
  char key[600];
  snprintf(key, sizeof(key), "%s/%s", ns, name);
  controller_enqueue(cc->ctl, key);
}
static void job_updated(const cJSON *old, const cJSON *job, void *data) {
  const char *a = S(old, "metadata.resourceVersion"), *b = S(job, "metadata.resourceVersion");
  if (a && b && !strcmp(a, b))
    return;
  job_event(job, data);
}
static void cj_event(const cJSON *cj, void *data) {
  controller_enqueue_obj(((controller_cronjob_t *)data)->ctl, cj);
}
static void cj_updated(const cJSON *old, const cJSON *cj, void *data) { cj_event(cj, data); }

int controller_cronjob_new(client_t *c, client_informer_t *cj_inf, client_informer_t *job_inf,
                           struct ev_loop *loop, controller_cronjob_t **ret_cc) {
  controller_cronjob_t *cc = xcalloc(1, sizeof(*cc));
  cc->c = c;
  cc->cj_inf = cj_inf;
  cc->job_inf = job_inf;
  controller_opts_t o = {.name = "cronjob-controller", .sync = reconcile, .data = cc};
  int r = controller_new(loop, &o, &cc->ctl);
  if (r < 0) {
    free(cc);
    return r;
  }
  cc->rec = controller_recorder_new(c, "cronjob-controller");
  controller_wait_for(cc->ctl, cj_inf);
  controller_wait_for(cc->ctl, job_inf);
  client_informer_handlers_t ch = {cj_event, cj_updated, cj_event};
  client_informer_handlers_t jh = {job_event, job_updated, job_event};
  client_informer_add_handlers(cj_inf, &ch, cc);
  client_informer_add_handlers(job_inf, &jh, cc);
  controller_start(cc->ctl);
  *ret_cc = cc;
  return 0;
}

void controller_cronjob_free(controller_cronjob_t *cc) {
  if (!cc)
    return;
  while (cc->syncs)
    csync_free(cc->syncs);
  controller_free(cc->ctl);
  controller_recorder_free(cc->rec);
  free(cc);
}
