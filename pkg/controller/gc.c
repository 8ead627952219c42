/* The garbage collector, for the owner kinds the controllers manage
 * (the manager registers them: Deployments, ReplicaSets, ReplicationControllers,
 * Jobs, CronJobs, StatefulSets) and their dependents among the cached kinds
 * (ReplicaSets, Jobs, ControllerRevisions, pods): a dependent whose owners are
 * all gone is deleted (background propagation); an owner being deleted
 * with the "orphan" finalizer first has its dependents' ownerReferences
 * removed, with "foregroundDeletion" first has its dependents deleted;
 * then the finalizer is removed and the API finishes the deletion.
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/ */
#include "controller/gc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "json/util.h"
#include "util/alloc.h"

#define S controller__str
#define MAX_KINDS 16

typedef struct {
  client_informer_t *inf;
  const char *group, *resource, *kind;
  bool owner, dependent;
} gkind_t;

typedef struct gsync gsync_t;

typedef struct {
  controller_gc_t *gc;
  size_t kind;
} hctx_t;

struct controller_gc {
  client_t *c;
  controller_t *ctl;
  gkind_t kinds[MAX_KINDS];
  hctx_t ctx[MAX_KINDS]; /* handler data, one per kind */
  size_t n_kinds;
  gsync_t *syncs;
};

/* Keys of the queue: "<kind index>|<namespace>/<name>" of an object to look
 * at: an owner being deleted, or a dependent whose owner went away. */

typedef struct {
  gsync_t *s;
  client_req_t *self;
} gop_t;

struct gsync {
  controller_gc_t *gc;
  gsync_t *prev, *next;
  char *key;
  gop_t **ops;
  size_t n_ops, cap_ops;
  int err;
  void (*then)(gsync_t *);
  size_t kind;
  cJSON *obj;
};

static void gsync_free(gsync_t *s) {
  controller_gc_t *gc = s->gc;
  if (s->prev)
    s->prev->next = s->next;
  else
    gc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  for (size_t i = 0; i < s->n_ops; i++) {
    client_req_cancel(s->ops[i]->self);
    free(s->ops[i]);
  }
  free(s->ops);
  cJSON_Delete(s->obj);
  free(s->key);
  free(s);
}

static void gsync_end(gsync_t *s) {
  controller_t *ctl = s->gc->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  gsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void op_done(const client_result_t *res, void *data) {
  gop_t *op = data;
  gsync_t *s = op->s;
  if (res->code >= 300 && res->code != 404) /* 409: changed meanwhile, look again */
    s->err = -EAGAIN;
  for (size_t i = 0; i < s->n_ops; i++) {
    if (s->ops[i] == op) {
      s->ops[i] = s->ops[--s->n_ops];
      break;
    }
  }
  free(op);
  if (s->n_ops == 0) {
    void (*then)(gsync_t *) = s->then;
    s->then = NULL;
    if (then)
      then(s);
    else
      gsync_end(s);
  }
}

static void track(gsync_t *s, gop_t *op, client_req_t *r) {
  if (!r) {
    free(op);
    s->err = -EINVAL;
    return;
  }
  op->self = r;
  if (s->n_ops == s->cap_ops) {
    s->cap_ops = s->cap_ops ? s->cap_ops * 2 : 8;
    s->ops = xrealloc(s->ops, s->cap_ops * sizeof(*s->ops));
  }
  s->ops[s->n_ops++] = op;
}

static gop_t *new_op(gsync_t *s) {
  gop_t *op = xcalloc(1, sizeof(*op));
  op->s = s;
  return op;
}

static client_ref_t ref_of(const gkind_t *k, const cJSON *obj) {
  return (client_ref_t){.group = k->group, .version = "v1", .resource = k->resource,
                        .ns = S(obj, "metadata.namespace"), .name = S(obj, "metadata.name")};
}

static bool has_finalizer(const cJSON *obj, const char *f) {
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(obj, "metadata.finalizers")) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, f))
      return true;
  }
  return false;
}

/* Whether the owner an ownerReference names still exists (same uid) in the
 * cache of its kind. Unknown kinds count as existing: k3c cannot tell. */
static bool owner_exists(controller_gc_t *gc, const cJSON *ref, const char *ns) {
  const char *kind = S(ref, "kind"), *name = S(ref, "name"), *uid = S(ref, "uid");
  for (size_t i = 0; i < gc->n_kinds; i++) {
    gkind_t *k = &gc->kinds[i];
    if (!k->owner || !kind || strcmp(k->kind, kind))
      continue;
    const cJSON *o = client_informer_get(k->inf, ns, name ? name : "");
    const char *ouid = S(o, "metadata.uid");
    return o && uid && ouid && !strcmp(uid, ouid);
  }
  return true;
}

/* The dependents (among the cached dependent kinds) of owner uid: calls cb
 * for each with its kind. */
static void each_dependent(controller_gc_t *gc, const char *uid,
                           void (*cb)(gsync_t *s, gkind_t *k, const cJSON *dep), gsync_t *s) {
  for (size_t i = 0; i < gc->n_kinds; i++) {
    gkind_t *k = &gc->kinds[i];
    if (!k->dependent)
      continue;
    size_t n = 0;
    const cJSON **deps =
        client_cache_by_index(client_informer_cache(k->inf), CLIENT_INDEX_OWNER, uid, &n);
    for (size_t j = 0; j < n; j++)
      cb(s, k, deps[j]);
    free(deps);
  }
}

/* ---- orphaning and foreground deletion ---- */

static void remove_finalizer(gsync_t *s, const char *f) {
  gkind_t *k = &s->gc->kinds[s->kind];
  cJSON *p = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(p, "metadata");
  cJSON *list = cJSON_AddArrayToObject(md, "finalizers");
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(s->obj, "metadata.finalizers")) {
    if (cJSON_IsString(v) && strcmp(v->valuestring, f))
      cJSON_AddItemToArray(list, cJSON_CreateString(v->valuestring));
  }
  /* the resourceVersion makes this a compare-and-swap of the list */
  const char *rv = S(s->obj, "metadata.resourceVersion");
  if (rv)
    cJSON_AddStringToObject(md, "resourceVersion", rv);
  client_ref_t ref = ref_of(k, s->obj);
  gop_t *op = new_op(s);
  track(s, op, client_patch(s->gc->c, &ref, CLIENT_PATCH_MERGE, p, NULL, op_done, op));
  cJSON_Delete(p);
}

static void orphan_one(gsync_t *s, gkind_t *k, const cJSON *dep) {
  cJSON *p = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(p, "metadata");
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "$patch", "delete");
  cJSON_AddStringToObject(r, "uid", S(s->obj, "metadata.uid"));
  cJSON_AddItemToArray(refs, r);
  cJSON_AddStringToObject(md, "uid", S(dep, "metadata.uid"));
  client_ref_t ref = ref_of(k, dep);
  gop_t *op = new_op(s);
  track(s, op, client_patch(s->gc->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, op_done, op));
  cJSON_Delete(p);
}

static void delete_one(gsync_t *s, gkind_t *k, const cJSON *dep, const char *policy) {
  if (json_get_path(dep, "metadata.deletionTimestamp"))
    return; /* already going */
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "DeleteOptions");
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "propagationPolicy", policy);
  cJSON *pre = cJSON_AddObjectToObject(o, "preconditions");
  cJSON_AddStringToObject(pre, "uid", S(dep, "metadata.uid"));
  client_ref_t ref = ref_of(k, dep);
  gop_t *op = new_op(s);
  track(s, op, client_delete(s->gc->c, &ref, o, op_done, op));
  cJSON_Delete(o);
}

static void foreground_one(gsync_t *s, gkind_t *k, const cJSON *dep) {
  delete_one(s, k, dep, "Foreground");
}

static size_t count_dependents(controller_gc_t *gc, const char *uid) {
  size_t total = 0;
  for (size_t i = 0; i < gc->n_kinds; i++) {
    if (!gc->kinds[i].dependent)
      continue;
    size_t n = 0;
    free(client_cache_by_index(client_informer_cache(gc->kinds[i].inf), CLIENT_INDEX_OWNER, uid,
                               &n));
    total += n;
  }
  return total;
}

static void after_orphan(gsync_t *s) {
  if (s->err) {
    gsync_end(s);
    return;
  }
  remove_finalizer(s, "orphan");
  if (!s->n_ops)
    gsync_end(s);
}

/* ---- reconcile ---- */

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_gc_t *gc = data;
  gsync_t *s = xcalloc(1, sizeof(*s));
  s->gc = gc;
  s->key = xstrdup(key);
  s->next = gc->syncs;
  if (s->next)
    s->next->prev = s;
  gc->syncs = s;
  char *bar = strchr(key, '|');
  char ns[256], name[256];
  s->kind = (size_t)strtoul(key, NULL, 10);
  if (!bar || s->kind >= gc->n_kinds ||
      controller_key_split(bar + 1, ns, sizeof(ns), name, sizeof(name)) < 0) {
    gsync_end(s);
    return;
  }
  gkind_t *k = &gc->kinds[s->kind];
  const cJSON *obj = client_informer_get(k->inf, ns, name);
  if (!obj) {
    gsync_end(s);
    return;
  }
  s->obj = cJSON_Duplicate(obj, 1);
  const char *uid = S(obj, "metadata.uid");
  bool deleting = json_get_path(obj, "metadata.deletionTimestamp") != NULL;
  if (k->owner && deleting && uid && has_finalizer(obj, "orphan")) {
    each_dependent(gc, uid, orphan_one, s);
    if (s->n_ops) {
      s->then = after_orphan;
      return;
    }
    after_orphan(s);
    return;
  }
  if (k->owner && deleting && uid && has_finalizer(obj, "foregroundDeletion")) {
    each_dependent(gc, uid, foreground_one, s);
    if (!s->n_ops && count_dependents(gc, uid) == 0)
      remove_finalizer(s, "foregroundDeletion"); /* nothing left: finish */
    if (!s->n_ops)
      gsync_end(s);
    return;
  }
  if (k->dependent) {
    /* A dependent whose owners are all gone goes too (background). */
    const cJSON *refs = json_get_path(obj, "metadata.ownerReferences"), *r;
    int n = 0, gone = 0;
    cJSON_ArrayForEach(r, refs) {
      n++;
      if (!owner_exists(gc, r, ns))
        gone++;
    }
    if (n && gone == n)
      delete_one(s, k, obj, "Background");
  }
  if (!s->n_ops)
    gsync_end(s);
}

/* ---- handlers ---- */

static void enqueue(controller_gc_t *gc, size_t kind, const cJSON *obj) {
  char key[600], k[520];
  if (client_cache_key(obj, k, sizeof(k)) < 0)
    return;
  snprintf(key, sizeof(key), "%zu|%s", kind, k);
  controller_enqueue(gc->ctl, key);
}

/* An owner is gone or going: look at it (finalizers) and at its dependents. */
static void owner_changed(controller_gc_t *gc, size_t kind, const cJSON *obj) {
  const char *uid = S(obj, "metadata.uid");
  if (gc->kinds[kind].owner && json_get_path(obj, "metadata.deletionTimestamp"))
    enqueue(gc, kind, obj);
  if (!uid)
    return;
  for (size_t i = 0; i < gc->n_kinds; i++) {
    if (!gc->kinds[i].dependent)
      continue;
    size_t n = 0;
    const cJSON **deps =
        client_cache_by_index(client_informer_cache(gc->kinds[i].inf), CLIENT_INDEX_OWNER, uid, &n);
    for (size_t j = 0; j < n; j++)
      enqueue(gc, i, deps[j]);
    free(deps);
  }
}

static void on_add(const cJSON *obj, void *data) {
  hctx_t *h = data;
  if (h->gc->kinds[h->kind].dependent && json_get_path(obj, "metadata.ownerReferences"))
    enqueue(h->gc, h->kind, obj); /* its owner may be gone already */
  if (h->gc->kinds[h->kind].owner && json_get_path(obj, "metadata.deletionTimestamp"))
    enqueue(h->gc, h->kind, obj);
}

static void on_update(const cJSON *old, const cJSON *obj, void *data) {
  hctx_t *h = data;
  controller_gc_t *gc = h->gc;
  if (gc->kinds[h->kind].owner && json_get_path(obj, "metadata.deletionTimestamp"))
    owner_changed(gc, h->kind, obj);
  if (gc->kinds[h->kind].dependent &&
      !json_equal(json_get_path(old, "metadata.ownerReferences"),
                  json_get_path(obj, "metadata.ownerReferences")))
    enqueue(gc, h->kind, obj);
}

static void requeue_owners(controller_gc_t *gc, const cJSON *dep) {
  const cJSON *r;
  const char *ns = S(dep, "metadata.namespace");
  cJSON_ArrayForEach(r, json_get_path(dep, "metadata.ownerReferences")) {
    const char *kind = S(r, "kind"), *name = S(r, "name");
    for (size_t i = 0; i < gc->n_kinds; i++) {
      if (!gc->kinds[i].owner || !kind || !name || strcmp(gc->kinds[i].kind, kind))
        continue;
      const cJSON *o = client_informer_get(gc->kinds[i].inf, ns, name);
      if (o && has_finalizer(o, "foregroundDeletion"))
        enqueue(gc, i, o);
    }
  }
}

static void on_delete(const cJSON *obj, void *data) {
  hctx_t *h = data;
  controller_gc_t *gc = h->gc;
  if (gc->kinds[h->kind].owner)
    owner_changed(gc, h->kind, obj);
  if (gc->kinds[h->kind].dependent)
    requeue_owners(gc, obj);
}

int controller_gc_new(client_t *c, struct ev_loop *loop, controller_gc_t **ret_gc) {
  controller_gc_t *gc = xcalloc(1, sizeof(*gc));
  gc->c = c;
  controller_opts_t o = {.name = "garbage-collector", .sync = reconcile, .data = gc};
  int r = controller_new(loop, &o, &gc->ctl);
  if (r < 0) {
    free(gc);
    return r;
  }
  *ret_gc = gc;
  return 0;
}

int controller_gc_add(controller_gc_t *gc, client_informer_t *inf, const char *group,
                      const char *resource, const char *kind, bool owner, bool dependent) {
  if (gc->n_kinds >= MAX_KINDS)
    return -ENOSPC;
  size_t i = gc->n_kinds++;
  gc->kinds[i] = (gkind_t){inf, group, resource, kind, owner, dependent};
  gc->ctx[i] = (hctx_t){gc, i};
  client_informer_handlers_t hs = {on_add, on_update, on_delete};
  controller_wait_for(gc->ctl, inf);
  return client_informer_add_handlers(inf, &hs, &gc->ctx[i]);
}

void controller_gc_start(controller_gc_t *gc) { controller_start(gc->ctl); }

void controller_gc_free(controller_gc_t *gc) {
  if (!gc)
    return;
  while (gc->syncs)
    gsync_free(gc->syncs);
  controller_free(gc->ctl);
  free(gc);
}
