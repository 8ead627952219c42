/* ClusterRole aggregation (clusterroleaggregation.h): reconcile(name) of
 * an aggregating role computes the union of the matching roles' rules and
 * updates the role when its stored rules differ. Any ClusterRole change
 * requeues every aggregating role (there are few). */
#include "controller/clusterroleaggregation.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/cache.h"
#include "controller/controller.h"
#include "controller/internal.h"
#include "json/selector.h"
#include "json/util.h"
#include "util/alloc.h"

struct controller_aggregation {
  client_t *c;
  client_informer_t *roles;
  controller_t *ctl;
  controller_ops_t ops;
  char *key;
  bool busy;
  int err;
};

typedef struct {
  const cJSON **v;
  size_t n;
} roles_t;

static void collect(const cJSON *obj, void *data) {
  roles_t *r = data;
  r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
  r->v[r->n++] = obj;
}

static int by_name(const void *a, const void *b) {
  const char *x = controller__str(*(const cJSON *const *)a, "metadata.name");
  const char *y = controller__str(*(const cJSON *const *)b, "metadata.name");
  return strcmp(x ? x : "", y ? y : "");
}

static bool has_rule(const cJSON *rules, const cJSON *rule) {
  const cJSON *e;
  cJSON_ArrayForEach(e, rules) if (cJSON_Compare(e, rule, true)) return true;
  return false;
}

/* The rules aggregation gives role (a new array). */
static cJSON *union_of(controller_aggregation_t *a, const cJSON *role) {
  roles_t all = {0};
  client_cache_foreach(client_informer_cache(a->roles), collect, &all);
  if (all.n > 1)
    qsort(all.v, all.n, sizeof(*all.v), by_name);
  cJSON *rules = cJSON_CreateArray();
  const cJSON *sel;
  cJSON_ArrayForEach(sel, json_get_path(role, "aggregationRule.clusterRoleSelectors")) {
    label_selector_t *ls = NULL;
    char err[256];
    if (label_selector_from_json(sel, &ls, err, sizeof(err)) < 0)
      continue;
    for (size_t i = 0; i < all.n; i++) {
      if (all.v[i] == role || !label_selector_match(ls, json_get_path(all.v[i], "metadata.labels")))
        continue;
      const cJSON *r;
      cJSON_ArrayForEach(r, json_get_path(all.v[i], "rules")) {
        if (!has_rule(rules, r))
          cJSON_AddItemToArray(rules, cJSON_Duplicate(r, 1));
      }
    }
    label_selector_free(ls);
  }
  free(all.v);
  return rules;
}

static void sync_end(void *p) {
  controller_aggregation_t *a = p;
  char *key = a->key;
  int err = a->err;
  a->key = NULL;
  a->busy = false;
  controller_ops_done(&a->ops);
  controller_done(a->ctl, key, err);
  free(key);
}

static void update_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  controller_aggregation_t *a = controller_op_owner(op);
  if (res->code >= 300 && res->code != 404)
    a->err = -EAGAIN; /* a conflict or a failure: again after the back-off */
  controller_op_finish(op);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_aggregation_t *a = data;
  const cJSON *role = client_informer_get(a->roles, "", key);
  if (!role || !cJSON_IsArray(json_get_path(role, "aggregationRule.clusterRoleSelectors"))) {
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *rules = union_of(a, role);
  const cJSON *have = json_get_path(role, "rules");
  if (have && cJSON_Compare(have, rules, true)) {
    cJSON_Delete(rules);
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *next = cJSON_Duplicate(role, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(next, "rules");
  cJSON_AddItemToObject(next, "rules", rules);
  a->key = xstrdup(key);
  a->busy = true;
  a->err = 0;
  controller_ops_init(&a->ops, a, sync_end);
  client_ref_t ref = {.group = "rbac.authorization.k8s.io", .version = "v1",
                      .resource = "clusterroles", .name = key};
  controller_op_t *op = controller_op_new(&a->ops, 0, NULL, NULL);
  controller_op_track(op, client_update(a->c, &ref, next, update_done, op));
  cJSON_Delete(next);
  controller_ops_after(&a->ops, sync_end);
}

/* Any ClusterRole may feed any aggregating one: requeue them all. */
static void requeue_aggregating(const cJSON *obj, void *data) {
  controller_aggregation_t *a = data;
  if (json_get_path(obj, "aggregationRule"))
    controller_enqueue(a->ctl, controller__str(obj, "metadata.name"));
}

static void changed(const cJSON *obj, void *data) {
  controller_aggregation_t *a = data;
  client_cache_foreach(client_informer_cache(a->roles), requeue_aggregating, a);
  (void)obj;
}
static void updated(const cJSON *old, const cJSON *obj, void *data) { changed(obj, data); }

int controller_aggregation_new(client_t *c, client_informer_t *roles, struct ev_loop *loop,
                               controller_aggregation_t **ret) {
  controller_aggregation_t *a = xcalloc(1, sizeof(*a));
  a->c = c;
  a->roles = roles;
  /* one reconcile at a time: a single op set */
  controller_opts_t o = {.name = "clusterrole-aggregation-controller", .workers = 1,
                         .sync = reconcile, .data = a};
  int r = controller_new(loop, &o, &a->ctl);
  if (r < 0) {
    free(a);
    return r;
  }
  controller_wait_for(a->ctl, roles);
  client_informer_handlers_t h = {changed, updated, changed};
  client_informer_add_handlers(roles, &h, a);
  controller_start(a->ctl);
  *ret = a;
  return 0;
}

void controller_aggregation_free(controller_aggregation_t *a) {
  if (!a)
    return;
  if (a->busy)
    controller_ops_done(&a->ops);
  controller_free(a->ctl);
  free(a->key);
  free(a);
}
