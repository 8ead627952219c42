/* The RBAC authorizer of the API server: Roles, ClusterRoles and their
 * bindings as stored, compiled into a snapshot that is rebuilt when any
 * RBAC object changes (a store watch marks it stale), and upstream's
 * Forbidden messages. system:masters is allowed everything, as upstream's
 * privileged-group authorizer does before RBAC.
 * https://kubernetes.io/docs/reference/access-authn-authz/rbac/ */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/internal.h"
#include "api/object.h"
#include "api/rbac.h"
#include "json/selector.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/strmap.h"

#define RBAC_PREFIX "/registry/rbac.authorization.k8s.io/"

typedef struct {
  char *ns;        /* "" for a ClusterRoleBinding */
  char *role_key;  /* "ns/name" of a Role, "/name" of a ClusterRole */
  cJSON *subjects; /* owned copy */
} binding_t;

typedef struct {
  rbac_rules_t rules;
} role_t;

struct api_rbac {
  store_watch_t *watch;
  bool stale;
  binding_t *bindings;
  size_t nbindings;
  strmap_t roles; /* role key -> role_t (keys owned by the roles' entries) */
  char **role_keys;
  size_t nroles;
};

static void snapshot_clear(api_rbac_t *a) {
  for (size_t i = 0; i < a->nbindings; i++) {
    free(a->bindings[i].ns);
    free(a->bindings[i].role_key);
    cJSON_Delete(a->bindings[i].subjects);
  }
  free(a->bindings);
  a->bindings = NULL;
  a->nbindings = 0;
  for (size_t i = 0; i < a->nroles; i++) {
    role_t *r = strmap_get(&a->roles, a->role_keys[i]);
    if (r) {
      rbac_rules_done(&r->rules);
      free(r);
    }
    free(a->role_keys[i]);
  }
  free(a->role_keys);
  a->role_keys = NULL;
  a->nroles = 0;
  strmap_done(&a->roles);
  strmap_init(&a->roles);
}

/* Every stored object under one resource of the RBAC group. */
static int each(api_server_t *srv, const char *resource, void (*fn)(api_rbac_t *, cJSON *)) {
  char *prefix = xasprintf(RBAC_PREFIX "%s/", resource);
  store_list_opts_t lo = {.prefix = prefix};
  store_list_t l;
  int r = store_list(srv->store, &lo, &l);
  free(prefix);
  if (r < 0)
    return r;
  for (size_t i = 0; i < l.n; i++) {
    cJSON *obj = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
    if (obj)
      fn(srv->rbac, obj);
    cJSON_Delete(obj);
  }
  store_list_done(&l);
  return 0;
}

static void add_role(api_rbac_t *a, cJSON *obj) {
  const char *ns = obj_str(obj, "metadata.namespace");
  const char *name = obj_str(obj, "metadata.name");
  if (!name)
    return;
  char *key = xasprintf("%s/%s", ns ? ns : "", name);
  role_t *r = xcalloc(1, sizeof(*r));
  rbac_rules_add_json(&r->rules, obj_get(obj, "rules"));
  if (strmap_put(&a->roles, key, r, NULL) < 0) {
    rbac_rules_done(&r->rules);
    free(r);
    free(key);
    return;
  }
  a->role_keys = xrealloc(a->role_keys, (a->nroles + 1) * sizeof(*a->role_keys));
  a->role_keys[a->nroles++] = key;
}

static void add_binding(api_rbac_t *a, cJSON *obj) {
  const char *ns = obj_str(obj, "metadata.namespace");
  const char *kind = obj_str(obj, "roleRef.kind");
  const char *name = obj_str(obj, "roleRef.name");
  if (!kind || !name)
    return;
  a->bindings = xrealloc(a->bindings, (a->nbindings + 1) * sizeof(*a->bindings));
  binding_t *b = &a->bindings[a->nbindings++];
  b->ns = xstrdup(ns ? ns : "");
  bool cluster_role = !strcmp(kind, "ClusterRole");
  b->role_key = xasprintf("%s/%s", cluster_role ? "" : b->ns, name);
  const cJSON *subjects = obj_get(obj, "subjects");
  b->subjects = subjects ? cJSON_Duplicate(subjects, 1) : cJSON_CreateArray();
}

/* aggregationRule: a ClusterRole's rules include those of every
 * ClusterRole its selectors match (upstream's aggregation controller
 * writes them into the object; authorizing from the union directly has no
 * lag). Cluster roles are kept parsed while the snapshot is built. */
static cJSON *building_roles;

static void keep_cluster_role(api_rbac_t *a, cJSON *obj) {
  add_role(a, obj);
  cJSON_AddItemToArray(building_roles, cJSON_Duplicate(obj, 1));
}

static void aggregate(api_rbac_t *a) {
  const cJSON *agg;
  cJSON_ArrayForEach(agg, building_roles) {
    const cJSON *sels = obj_get(agg, "aggregationRule.clusterRoleSelectors");
    if (!cJSON_IsArray(sels))
      continue;
    char *key = xasprintf("/%s", obj_str(agg, "metadata.name"));
    role_t *target = strmap_get(&a->roles, key);
    free(key);
    if (!target)
      continue;
    const cJSON *sel;
    cJSON_ArrayForEach(sel, sels) {
      label_selector_t *ls = NULL;
      char err[256];
      if (label_selector_from_json(sel, &ls, err, sizeof(err)) < 0)
        continue;
      const cJSON *other;
      cJSON_ArrayForEach(other, building_roles) {
        if (other == agg || !label_selector_match(ls, obj_get(other, "metadata.labels")))
          continue;
        rbac_rules_add_json(&target->rules, obj_get(other, "rules"));
      }
      label_selector_free(ls);
    }
  }
}

static int snapshot_build(api_server_t *srv) {
  api_rbac_t *a = srv->rbac;
  snapshot_clear(a);
  int r;
  building_roles = cJSON_CreateArray();
  r = each(srv, "clusterroles", keep_cluster_role);
  if (r == 0)
    aggregate(a);
  cJSON_Delete(building_roles);
  building_roles = NULL;
  if (r < 0 || (r = each(srv, "roles", add_role)) < 0 ||
      (r = each(srv, "clusterrolebindings", add_binding)) < 0 ||
      (r = each(srv, "rolebindings", add_binding)) < 0)
    return r;
  a->stale = false;
  return 0;
}

static void on_event(store_watch_t *w, const store_event_t *ev, void *data) {
  (void)w;
  (void)ev;
  ((api_server_t *)data)->rbac->stale = true;
}

static void on_error(store_watch_t *w, int err, int64_t last_rev, void *data);

static int watch_start(api_server_t *srv) {
  return store_watch_start(srv->store, RBAC_PREFIX, store_revision(srv->store), on_event, on_error,
                           srv, &srv->rbac->watch);
}

static void on_error(store_watch_t *w, int err, int64_t last_rev, void *data) {
  (void)w;
  (void)err;
  (void)last_rev;
  api_server_t *srv = data;
  srv->rbac->watch = NULL;
  srv->rbac->stale = true;
  if (watch_start(srv) < 0)
    srv->rbac->watch = NULL; /* rebuilt on every request until a watch starts */
}

int api__rbac_start(api_server_t *srv) {
  srv->rbac = xcalloc(1, sizeof(*srv->rbac));
  strmap_init(&srv->rbac->roles);
  srv->rbac->stale = true;
  return watch_start(srv);
}

void api__rbac_stop(api_server_t *srv) {
  if (!srv->rbac)
    return;
  if (srv->rbac->watch)
    store_watch_stop(srv->rbac->watch);
  snapshot_clear(srv->rbac);
  strmap_done(&srv->rbac->roles);
  free(srv->rbac);
  srv->rbac = NULL;
}

/* ---- decisions ---- */

static bool is_master(const api_user_t *user) {
  for (size_t i = 0; user->groups[i]; i++)
    if (!strcmp(user->groups[i], "system:masters"))
      return true;
  return false;
}

static bool fresh(api_server_t *srv) {
  api_rbac_t *a = srv->rbac;
  if (!a)
    return false;
  if ((a->stale || !a->watch) && snapshot_build(srv) < 0) {
    log_error("api", "RBAC: cannot read roles and bindings from the datastore");
    return false;
  }
  return true;
}

/* The role of binding b when it applies to u in namespace ns (a
 * RoleBinding grants in its own namespace only), else NULL. */
static role_t *applying(api_rbac_t *a, const binding_t *b, const rbac_user_t *u, const char *ns) {
  if (b->ns[0] && strcmp(b->ns, ns ? ns : ""))
    return NULL;
  const cJSON *s;
  cJSON_ArrayForEach(s, b->subjects) {
    if (rbac_subject_matches(s, u, b->ns))
      return strmap_get(&a->roles, b->role_key);
  }
  return NULL;
}

bool api__rbac_allows(api_server_t *srv, const api_user_t *user, const rbac_attrs_t *at) {
  if (is_master(user))
    return true;
  if (!fresh(srv))
    return false;
  api_rbac_t *a = srv->rbac;
  rbac_user_t u = {.name = user->name, .groups = (const char *const *)user->groups};
  for (size_t i = 0; i < a->nbindings; i++) {
    role_t *r = applying(a, &a->bindings[i], &u, at->ns);
    if (r && rbac_rules_allow(&r->rules, at))
      return true;
  }
  return false;
}

/* The rules user holds where ns applies (cluster-wide bindings and those
 * of ns), appended to out: escalation checks and rules reviews. */
void api__rbac_rules_of(api_server_t *srv, const api_user_t *user, const char *ns,
                        rbac_rules_t *out, bool *ret_all) {
  *ret_all = is_master(user);
  if (*ret_all || !fresh(srv))
    return;
  api_rbac_t *a = srv->rbac;
  rbac_user_t u = {.name = user->name, .groups = (const char *const *)user->groups};
  for (size_t i = 0; i < a->nbindings; i++) {
    role_t *r = applying(a, &a->bindings[i], &u, ns);
    if (!r)
      continue;
    rbac_rules_add(out, &r->rules);
  }
}

/* ---- the authorizer of every request ---- */

static void lower(char *out, size_t n, const char *s) {
  size_t i = 0;
  for (; s && s[i] && i + 1 < n; i++)
    out[i] = (char)tolower((unsigned char)s[i]);
  out[i] = '\0';
}

bool api__authorize(api_server_t *srv, const api_user_t *user, const api_reqinfo_t *ri,
                    const char *method, const char *path, api_status_t *st) {
  char verb[16];
  lower(verb, sizeof(verb), method);
  rbac_attrs_t at = {.is_resource = ri->is_resource,
                     .verb = ri->is_resource ? ri->verb : verb,
                     .group = ri->group,
                     .resource = ri->resource,
                     .subresource = ri->subresource,
                     .name = ri->name,
                     .ns = ri->ns,
                     .path = path};
  if (api__rbac_allows(srv, user, &at))
    return true;
  if (!ri->is_resource) {
    api_status_init(st, 403, "Forbidden", "forbidden: User \"%s\" cannot %s path \"%s\"", user->name,
                    verb, path);
    return false;
  }
  char res[300];
  if (ri->subresource[0])
    snprintf(res, sizeof(res), "%s/%s", ri->resource, ri->subresource);
  else
    snprintf(res, sizeof(res), "%s", ri->resource);
  char where[400] = "at the cluster scope";
  if (ri->ns[0])
    snprintf(where, sizeof(where), "in the namespace \"%s\"", ri->ns);
  char subject[600];
  const char *gr = ri->group[0] ? "." : "";
  if (ri->name[0])
    snprintf(subject, sizeof(subject), "%s%s%s \"%s\"", ri->resource, gr, ri->group, ri->name);
  else
    snprintf(subject, sizeof(subject), "%s%s%s", ri->resource, gr, ri->group);
  api_status_init(st, 403, "Forbidden",
                  "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s",
                  subject, user->name, ri->verb, res, ri->group, where);
  api_status_set_details(st, ri->group, ri->resource, ri->name);
  return false;
}

/* ---- impersonation ---- */

/* May user impersonate this one (verb impersonate on res)? */
static bool may_impersonate(api_server_t *srv, const api_user_t *user, const char *group,
                            const char *res, const char *ns, const char *name, api_status_t *st) {
  api_reqinfo_t ri;
  memset(&ri, 0, sizeof(ri));
  ri.is_resource = true;
  ri.verb = "impersonate";
  snprintf(ri.group, sizeof(ri.group), "%s", group);
  snprintf(ri.resource, sizeof(ri.resource), "%s", res);
  snprintf(ri.ns, sizeof(ri.ns), "%s", ns);
  snprintf(ri.name, sizeof(ri.name), "%s", name);
  return api__authorize(srv, user, &ri, "POST", "", st);
}

static const char *as_of(http_req_t *req);
static int impersonate(api_server_t *srv, api_user_t *user, const char *as,
                       const char *const *groups, const char *uid, api_status_t *st);

int api__impersonate(api_server_t *srv, http_req_t *req, api_user_t *user, api_status_t *st) {
  /* repeated headers arrive joined with ", " (pkg/http) */
  const char *joined = http_req_header(req, "Impersonate-Group");
  char *gcopy = joined ? xstrdup(joined) : NULL;
  const char *groups[16] = {NULL};
  size_t ng = 0;
  for (char *p = gcopy; p && *p && ng + 1 < 16;) {
    char *sep = strstr(p, ", ");
    if (sep)
      *sep = '\0';
    groups[ng++] = p;
    p = sep ? sep + 2 : NULL;
  }
  int r = impersonate(srv, user, as_of(req), groups, http_req_header(req, "Impersonate-Uid"), st);
  free(gcopy);
  return r;
}

static const char *as_of(http_req_t *req) { return http_req_header(req, "Impersonate-User"); }

static int impersonate(api_server_t *srv, api_user_t *user, const char *as,
                       const char *const *groups, const char *uid, api_status_t *st) {
  if (!as || !as[0]) {
    if (groups[0] || uid) {
      api_status_bad_request(st, "requested %s without impersonating a user",
                             groups[0] ? "group" : "uid");
      return -EINVAL;
    }
    return 0;
  }
  /* system:serviceaccount:<ns>:<name> is the serviceaccounts resource */
  const char *sa = "system:serviceaccount:";
  char ns[256] = "", name[256] = "";
  bool is_sa = !strncmp(as, sa, strlen(sa)) && strchr(as + strlen(sa), ':');
  if (is_sa) {
    const char *rest = as + strlen(sa);
    const char *colon = strchr(rest, ':');
    snprintf(ns, sizeof(ns), "%.*s", (int)(colon - rest), rest);
    snprintf(name, sizeof(name), "%s", colon + 1);
    if (!may_impersonate(srv, user, "", "serviceaccounts", ns, name, st))
      return -EPERM;
  } else if (!may_impersonate(srv, user, "", "users", "", as, st)) {
    return -EPERM;
  }
  for (size_t i = 0; groups[i]; i++)
    if (!may_impersonate(srv, user, "", "groups", "", groups[i], st))
      return -EPERM;
  if (uid && !may_impersonate(srv, user, "authentication.k8s.io", "uids", "", uid, st))
    return -EPERM;
  api_user_t next;
  memset(&next, 0, sizeof(next));
  snprintf(next.name, sizeof(next.name), "%s", as);
  snprintf(next.uid, sizeof(next.uid), "%s", uid ? uid : "");
  for (size_t i = 0; groups[i]; i++)
    api__user_add_group(&next, groups[i]);
  if (is_sa) {
    char g[300];
    api__user_add_group(&next, "system:serviceaccounts");
    snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
    api__user_add_group(&next, g);
  }
  if (strcmp(as, "system:anonymous"))
    api__user_add_group(&next, "system:authenticated");
  else
    api__user_add_group(&next, "system:unauthenticated");
  api__user_done(user);
  *user = next;
  return 0;
}

/* ---- escalation prevention (a validating admission plugin) ---- */

static bool user_may(api_server_t *srv, const api_user_t *u, const char *verb, const char *res,
                     const char *ns, const char *name) {
  rbac_attrs_t at = {.is_resource = true, .verb = verb, .group = "rbac.authorization.k8s.io",
                     .resource = res, .subresource = "", .name = name, .ns = ns};
  return api__rbac_allows(srv, u, &at);
}

/* Go's %q of a []string, for "(groups=[...])" */
static void groups_text(buf_t *b, const api_user_t *u) {
  buf_append_str(b, "[");
  for (size_t i = 0; u->groups[i]; i++)
    buf_printf(b, "%s\"%s\"", i ? " " : "", u->groups[i]);
  buf_append_str(b, "]");
}

/* The rules a role or binding would grant, the user's rules where it
 * applies: refused unless the user holds them all. */
static int confirm_no_escalation(api_admission_t *a, const api_user_t *u, const char *ns,
                                 const rbac_rules_t *want, api_status_t *st) {
  rbac_rules_t held = {0};
  bool all = false;
  api__rbac_rules_of(a->srv, u, ns, &held, &all);
  buf_t missing;
  buf_init(&missing, 1u << 20);
  size_t n = all ? 0 : rbac_rules_uncovered(&held, want, &missing);
  rbac_rules_done(&held);
  int r = 0;
  if (n) {
    buf_t why;
    buf_init(&why, 1u << 20);
    buf_printf(&why, "user \"%s\" (groups=", u->name);
    groups_text(&why, u);
    buf_printf(&why, ") is attempting to grant RBAC permissions not currently held:\n%s",
               missing.data ? missing.data : "");
    api__admission_forbidden(a, st, why.data);
    buf_done(&why);
    r = -EPERM;
  }
  buf_done(&missing);
  return r;
}

int api__validate_rbac(api_admission_t *a, api_status_t *st) {
  if (strcmp(a->res->s->group, "rbac.authorization.k8s.io") || a->sub[0] || !a->req)
    return 0;
  const api_user_t *u = http_req_app(a->req);
  if (!u)
    return 0;
  const char *kind = a->res->s->kind;
  const char *ns = obj_str(a->obj, "metadata.namespace");
  const char *name = obj_str(a->obj, "metadata.name");
  ns = ns ? ns : "";
  name = name ? name : "";
  rbac_rules_t want = {0};
  int r = 0;
  if (!strcmp(kind, "Role") || !strcmp(kind, "ClusterRole")) {
    const char *plural = !strcmp(kind, "Role") ? "roles" : "clusterroles";
    if (user_may(a->srv, u, "escalate", plural, ns, name))
      return 0;
    if (obj_get(a->obj, "aggregationRule")) {
      /* aggregating may gather anything: only for who may do everything */
      cJSON *all = cJSON_Parse("[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
                               "{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]");
      rbac_rules_add_json(&want, all);
      cJSON_Delete(all);
    } else {
      rbac_rules_add_json(&want, obj_get(a->obj, "rules"));
    }
    r = confirm_no_escalation(a, u, ns, &want, st);
  } else if (!strcmp(kind, "RoleBinding") || !strcmp(kind, "ClusterRoleBinding")) {
    const char *rk = obj_str(a->obj, "roleRef.kind");
    const char *rn = obj_str(a->obj, "roleRef.name");
    if (!rk || !rn)
      return 0; /* validation answers */
    bool cluster = !strcmp(rk, "ClusterRole");
    if (user_may(a->srv, u, "bind", cluster ? "clusterroles" : "roles", ns, rn))
      return 0;
    api_rbac_t *rb = fresh(a->srv) ? a->srv->rbac : NULL;
    char *key = xasprintf("%s/%s", cluster ? "" : ns, rn);
    role_t *role = rb ? strmap_get(&rb->roles, key) : NULL;
    free(key);
    if (!role)
      return 0; /* binding a role that does not exist grants nothing yet */
    r = confirm_no_escalation(a, u, ns, &role->rules, st);
    return r;
  }
  rbac_rules_done(&want);
  return r;
}
