/* The namespace controller: a Namespace being deleted (Terminating) has its
 * content deleted through the API, every namespaced resource the server
 * serves by one deletecollection (so finalizers and pods' grace periods are
 * honoured as for any delete); what remains is counted into upstream's
 * status conditions and looked at again a little later; once nothing is
 * left, "kubernetes" leaves spec.finalizers through /finalize and the API
 * removes the namespace. Upstream's pkg/controller/namespace/deletion.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/ */
#include "controller/namespace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/registry.h"
#include "controller/controller.h"
#include "controller/internal.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/buf.h"

#define FINALIZER "kubernetes"
#define RETRY_SECONDS 1.0 /* content remains: look again (upstream estimates from grace periods) */

enum { OP_DELETE, OP_COUNT, OP_WRITE };

typedef struct nsync nsync_t;

struct controller_namespace {
  client_t *c;
  client_informer_t *ns_inf;
  controller_t *ctl;
  nsync_t *syncs;
};

/* One reconcile: deletes, then counts, then a status write or /finalize. */
struct nsync {
  controller_namespace_t *nc;
  nsync_t *prev, *next;
  char *name;
  controller_ops_t ops;
  int err;
  long remaining;           /* objects left */
  buf_t kinds;              /* "pods. has 2 resource instances, ..." */
  cJSON *finalizers;        /* finalizer -> count */
  char failed[256];         /* a delete that failed: its reason */
};

static void nsync_free(nsync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->nc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  buf_done(&s->kinds);
  cJSON_Delete(s->finalizers);
  free(s->name);
  free(s);
}

static void nsync_end(void *p) {
  nsync_t *s = p;
  controller_t *ctl = s->nc->ctl;
  char *key = xstrdup(s->name);
  int err = s->err;
  bool again = s->remaining > 0 && !err;
  nsync_free(s);
  controller_done(ctl, key, err);
  if (again)
    controller_enqueue_after(ctl, key, RETRY_SECONDS);
  free(key);
}

/* The rows whose content a namespace holds: namespaced, stored under their
 * own keys, deletable by collection. */
static bool content_row(const api_resource_t *r) {
  return r && !r->removed && r->s->namespaced && r->storage == r &&
         (r->s->verbs & SCHEMA_VERB_DELETECOLLECTION);
}

static client_ref_t ref_of(const api_resource_t *r, const char *ns) {
  client_ref_t ref = {.group = r->s->group, .version = r->s->version, .resource = r->s->plural,
                      .ns = ns};
  return ref;
}

static void op_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  nsync_t *s = controller_op_owner(op);
  if (op->kind == OP_DELETE) {
    /* 404/405: nothing there or nothing to delete that way */
    if (res->code >= 300 && res->code != 404 && res->code != 405 && !s->failed[0])
      snprintf(s->failed, sizeof(s->failed), "%s: %d %.150s", op->name, res->code,
               res->message ? res->message : "");
  } else if (op->kind == OP_COUNT) {
    const cJSON *it;
    long n = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res->obj, "items")) {
      n++;
      const cJSON *f;
      cJSON_ArrayForEach(f, json_get_path(it, "metadata.finalizers")) {
        if (!cJSON_IsString(f))
          continue;
        cJSON *cnt = cJSON_GetObjectItemCaseSensitive(s->finalizers, f->valuestring);
        if (cnt)
          cJSON_SetNumberValue(cnt, cnt->valuedouble + 1);
        else
          cJSON_AddNumberToObject(s->finalizers, f->valuestring, 1);
      }
    }
    if (res->code >= 300 && res->code != 404)
      s->err = -EAGAIN;
    if (n > 0) {
      buf_printf(&s->kinds, "%s%s.%s has %ld resource instances", s->kinds.len ? ", " : "",
                 op->name, op->uid ? op->uid : "", n);
      s->remaining += n;
    }
  } else if (res->code >= 300 && res->code != 404 && res->code != 409) {
    s->err = -EAGAIN;
  }
  controller_op_finish(op);
}

static cJSON *condition(const char *type, bool on, const char *reason, const char *message) {
  char now[32];
  controller__now(now, sizeof(now));
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "type", type);
  cJSON_AddStringToObject(c, "status", on ? "True" : "False");
  cJSON_AddStringToObject(c, "lastTransitionTime", now);
  cJSON_AddStringToObject(c, "reason", reason);
  cJSON_AddStringToObject(c, "message", message);
  return c;
}

/* Upstream's five deletion conditions, as a status merge patch. */
static cJSON *status_patch(nsync_t *s) {
  cJSON *p = cJSON_CreateObject();
  cJSON *st = cJSON_AddObjectToObject(p, "status");
  cJSON_AddStringToObject(st, "phase", "Terminating");
  cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
  cJSON_AddItemToArray(conds, condition("NamespaceDeletionDiscoveryFailure", false,
                                        "ResourcesDiscovered",
                                        "All resources successfully discovered"));
  cJSON_AddItemToArray(conds, condition("NamespaceDeletionGroupVersionParsingFailure", false,
                                        "ParsedGroupVersions",
                                        "All legacy kube types successfully parsed"));
  char msg[600];
  if (s->failed[0]) {
    snprintf(msg, sizeof(msg), "Failed to delete all resource types, 1 remaining: %s", s->failed);
    cJSON_AddItemToArray(conds, condition("NamespaceDeletionContentFailure", true,
                                          "ContentDeletionFailed", msg));
  } else {
    cJSON_AddItemToArray(conds, condition("NamespaceDeletionContentFailure", false,
                                          "ContentDeleted",
                                          "All content successfully deleted, may be waiting on "
                                          "finalization"));
  }
  if (s->remaining > 0) {
    snprintf(msg, sizeof(msg), "Some resources are remaining: %.500s",
             s->kinds.data ? s->kinds.data : "");
    cJSON_AddItemToArray(conds,
                         condition("NamespaceContentRemaining", true, "SomeResourcesRemain", msg));
  } else {
    cJSON_AddItemToArray(conds, condition("NamespaceContentRemaining", false, "ContentRemoved",
                                          "All content successfully removed"));
  }
  if (cJSON_GetArraySize(s->finalizers) > 0) {
    buf_t b;
    buf_init(&b, 4096);
    const cJSON *f;
    cJSON_ArrayForEach(f, s->finalizers)
      buf_printf(&b, "%s%s in %d resource instances", b.len ? ", " : "", f->string,
                 (int)f->valuedouble);
    snprintf(msg, sizeof(msg), "Some content in the namespace has finalizers remaining: %.500s",
             b.data ? b.data : "");
    buf_done(&b);
    cJSON_AddItemToArray(conds, condition("NamespaceFinalizersRemaining", true,
                                          "SomeFinalizersRemain", msg));
  } else {
    cJSON_AddItemToArray(conds, condition("NamespaceFinalizersRemaining", false,
                                          "ContentHasNoFinalizers",
                                          "All content-preserving finalizers finished"));
  }
  return p;
}

/* Step 3: content left: say so in the status; none: /finalize. */
static void conclude(void *p) {
  nsync_t *s = p;
  const cJSON *ns = client_informer_get(s->nc->ns_inf, NULL, s->name);
  if (!ns || s->err) {
    nsync_end(s);
    return;
  }
  client_ref_t ref = {.version = "v1", .resource = "namespaces", .name = s->name,
                      .subresource = "status"};
  controller_op_t *op = controller_op_new(&s->ops, OP_WRITE, NULL, NULL);
  if (s->remaining > 0 || s->failed[0]) {
    cJSON *patch = status_patch(s);
    controller_op_track(op, client_patch(s->nc->c, &ref, CLIENT_PATCH_MERGE, patch, NULL, op_done,
                                         op));
    cJSON_Delete(patch);
  } else {
    cJSON *obj = cJSON_Duplicate(ns, 1);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    cJSON *fin = cJSON_GetObjectItemCaseSensitive(spec, "finalizers");
    for (int i = cJSON_GetArraySize(fin) - 1; i >= 0; i--) {
      const cJSON *f = cJSON_GetArrayItem(fin, i);
      if (cJSON_IsString(f) && !strcmp(f->valuestring, FINALIZER))
        cJSON_DeleteItemFromArray(fin, i);
    }
    ref.subresource = "finalize";
    controller_op_track(op, client_update(s->nc->c, &ref, obj, op_done, op));
    cJSON_Delete(obj);
  }
  controller_ops_after(&s->ops, nsync_end);
}

/* Step 2: count what is left of every kind. */
static void count(void *p) {
  nsync_t *s = p;
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *r = api_registry_at(i);
    if (!content_row(r))
      continue;
    client_ref_t ref = ref_of(r, s->name);
    controller_op_t *op = controller_op_new(&s->ops, OP_COUNT, r->s->plural, r->s->group);
    controller_op_track(op, client_list(s->nc->c, &ref, NULL, op_done, op));
  }
  controller_ops_after(&s->ops, conclude);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_namespace_t *nc = data;
  const cJSON *ns = client_informer_get(nc->ns_inf, NULL, key);
  bool ours = false;
  const cJSON *f;
  cJSON_ArrayForEach(f, json_get_path(ns, "spec.finalizers"))
    ours = ours || (cJSON_IsString(f) && !strcmp(f->valuestring, FINALIZER));
  if (!ns || !controller__namespace_terminating(ns) || !ours) {
    controller_done(ctl, key, 0);
    return;
  }
  nsync_t *s = xcalloc(1, sizeof(*s));
  s->nc = nc;
  s->name = xstrdup(key);
  s->finalizers = cJSON_CreateObject();
  buf_init(&s->kinds, 4096);
  s->next = nc->syncs;
  if (s->next)
    s->next->prev = s;
  nc->syncs = s;
  controller_ops_init(&s->ops, s, nsync_end);
  /* Step 1: one deletecollection per kind (background propagation, as
   * upstream's deleter asks). */
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(opts, "propagationPolicy", "Background");
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *r = api_registry_at(i);
    if (!content_row(r))
      continue;
    client_ref_t ref = ref_of(r, key);
    controller_op_t *op = controller_op_new(&s->ops, OP_DELETE, r->s->plural, NULL);
    controller_op_track(op, client_delete(nc->c, &ref, opts, op_done, op));
  }
  cJSON_Delete(opts);
  controller_ops_after(&s->ops, count);
}

static void ns_changed(const cJSON *ns, void *data) {
  controller_namespace_t *nc = data;
  if (controller__namespace_terminating(ns))
    controller_enqueue(nc->ctl, controller__str(ns, "metadata.name"));
}
static void ns_updated(const cJSON *old, const cJSON *ns, void *data) { ns_changed(ns, data); }

int controller_namespace_new(client_t *c, client_informer_t *namespaces, struct ev_loop *loop,
                             controller_namespace_t **ret_nc) {
  controller_namespace_t *nc = xcalloc(1, sizeof(*nc));
  nc->c = c;
  nc->ns_inf = namespaces;
  controller_opts_t o = {.name = "namespace-controller", .sync = reconcile, .data = nc};
  int r = controller_new(loop, &o, &nc->ctl);
  if (r < 0) {
    free(nc);
    return r;
  }
  controller_wait_for(nc->ctl, namespaces);
  client_informer_handlers_t h = {ns_changed, ns_updated, NULL};
  if ((r = client_informer_add_handlers(namespaces, &h, nc)) < 0) {
    controller_namespace_free(nc);
    return r;
  }
  controller_start(nc->ctl);
  *ret_nc = nc;
  return 0;
}

void controller_namespace_free(controller_namespace_t *nc) {
  if (!nc)
    return;
  while (nc->syncs)
    nsync_free(nc->syncs);
  controller_free(nc->ctl);
  free(nc);
}
