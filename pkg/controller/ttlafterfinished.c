/* The TTL-after-finished controller: a Job with
 * spec.ttlSecondsAfterFinished is deleted (foreground propagation, so its
 * pods go first, as upstream) that many seconds after it finished
 * (completionTime, or the Complete/Failed condition's transition time).
 * https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/internal.h"
#include "controller/job.h"
#include "json/util.h"
#include "util/alloc.h"

#define S controller__str

typedef struct tsync tsync_t;

struct controller_ttl {
  client_t *c;
  client_informer_t *job_inf;
  controller_t *ctl;
  tsync_t *syncs;
};

struct tsync {
  controller_ttl_t *tc;
  tsync_t *prev, *next;
  char *key;
  controller_ops_t ops;
  int err;
};

static void tsync_free(tsync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->tc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  free(s->key);
  free(s);
}

static void tsync_end(void *p) {
  tsync_t *s = p;
  controller_t *ctl = s->tc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  tsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

/* When the Job finished, 0 if it has not. */
static time_t finished_at(const cJSON *job) {
  if (!controller__job_finished(job))
    return 0;
  time_t t = controller__time(S(job, "status.completionTime"));
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(job, "status.conditions")) {
    const char *type = S(c, "type"), *st = S(c, "status");
    if (type && st && !strcmp(st, "True") && (!strcmp(type, "Complete") || !strcmp(type, "Failed"))) {
      time_t ct = controller__time(S(c, "lastTransitionTime"));
      if (ct > t)
        t = ct;
    }
  }
  return t ? t : time(NULL);
}

static void delete_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  tsync_t *s = controller_op_owner(op);
  if (res->code >= 300 && res->code != 404 && res->code != 409)
    s->err = -EAGAIN; /* 409: the uid precondition failed, a new Job of that name */
  controller_op_finish(op);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_ttl_t *tc = data;
  tsync_t *s = xcalloc(1, sizeof(*s));
  s->tc = tc;
  s->key = xstrdup(key);
  s->next = tc->syncs;
  if (s->next)
    s->next->prev = s;
  tc->syncs = s;
  controller_ops_init(&s->ops, s, tsync_end);
  char ns[256], name[256];
  const cJSON *job = NULL;
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) == 0)
    job = client_informer_get(tc->job_inf, ns, name);
  const cJSON *ttl = json_get_path(job, "spec.ttlSecondsAfterFinished");
  time_t fin = finished_at(job);
  if (!job || !cJSON_IsNumber(ttl) || !fin || json_get_path(job, "metadata.deletionTimestamp")) {
    tsync_end(s);
    return;
  }
  double left = (double)fin + ttl->valuedouble - (double)time(NULL);
  if (left > 0) {
    controller_enqueue_after(ctl, key, left + 0.2);
    tsync_end(s);
    return;
  }
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(opts, "propagationPolicy", "Foreground");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
                          S(job, "metadata.uid"));
  client_ref_t ref = {.group = "batch", .version = "v1", .resource = "jobs", .ns = ns, .name = name};
  controller_op_t *op = controller_op_new(&s->ops, 0, NULL, NULL);
  controller_op_track(op, client_delete(tc->c, &ref, opts, delete_done, op));
  cJSON_Delete(opts);
  controller_ops_after(&s->ops, tsync_end);
}

static void job_changed(const cJSON *job, void *data) {
  if (cJSON_IsNumber(json_get_path(job, "spec.ttlSecondsAfterFinished")) &&
      controller__job_finished(job))
    controller_enqueue_obj(((controller_ttl_t *)data)->ctl, job);
}
static void job_updated(const cJSON *old, const cJSON *job, void *data) { job_changed(job, data); }

int controller_ttl_new(client_t *c, client_informer_t *job_inf, struct ev_loop *loop,
                       controller_ttl_t **ret_tc) {
  controller_ttl_t *tc = xcalloc(1, sizeof(*tc));
  tc->c = c;
  tc->job_inf = job_inf;
  controller_opts_t o = {.name = "ttl-after-finished-controller", .sync = reconcile, .data = tc};
  int r = controller_new(loop, &o, &tc->ctl);
  if (r < 0) {
    free(tc);
    return r;
  }
  controller_wait_for(tc->ctl, job_inf);
  client_informer_handlers_t h = {job_changed, job_updated, NULL};
  client_informer_add_handlers(job_inf, &h, tc);
  controller_start(tc->ctl);
  *ret_tc = tc;
  return 0;
}

void controller_ttl_free(controller_ttl_t *tc) {
  if (!tc)
    return;
  while (tc->syncs)
    tsync_free(tc->syncs);
  controller_free(tc->ctl);
  free(tc);
}
