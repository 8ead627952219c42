/* The Node authorizer and NodeRestriction (upstream's plugin/pkg/auth/
 * authorizer/node and plugin/pkg/admission/noderestriction): a kubelet's
 * credentials (user system:node:<name> in group system:nodes) read only the
 * Secrets, ConfigMaps, PersistentVolumeClaims and PersistentVolumes of pods
 * bound to that node, request tokens only for their ServiceAccounts, and
 * write only their own Node, node Lease and the pods bound to them. The
 * relation is read from the stored pods of the object's namespace at request
 * time (no graph kept): cheap at edge scale, linear in the namespace's pods.
 * Everything else a node may do is the system:node ClusterRole's (RBAC).
 * https://kubernetes.io/docs/reference/access-authn-authz/node/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/internal.h"
#include "api/podrefs.h"
#include "api/registry.h"
#include "json/util.h"

#define NODE_PREFIX "system:node:"
#define NODE_LEASE_NS "kube-node-lease"

/* The node a request speaks for, or NULL when the user is not a node. */
static const char *node_of(const api_user_t *u) {
  if (!u || strncmp(u->name, NODE_PREFIX, sizeof(NODE_PREFIX) - 1) || !u->name[sizeof(NODE_PREFIX) - 1])
    return NULL;
  for (size_t i = 0; u->groups[i]; i++)
    if (!strcmp(u->groups[i], "system:nodes"))
      return u->name + sizeof(NODE_PREFIX) - 1;
  return NULL;
}

static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool on_node(const cJSON *pod, const char *node) {
  const char *n = str(pod, "spec.nodeName");
  return n && !strcmp(n, node);
}

static bool has_name(const cJSON *names, const char *name) {
  const cJSON *n;
  cJSON_ArrayForEach(n, names)
    if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
      return true;
  return false;
}

typedef struct {
  api_server_t *srv;
  const char *node, *resource, *name;
  bool found;
} relation_t;

/* The stored core/v1 object, parsed (caller frees), or NULL. */
static cJSON *load(api_server_t *srv, const char *resource, const char *ns, const char *name) {
  const api_resource_t *res = api_registry_find("", "v1", resource);
  char *key = res ? api_resource_key(res, ns, name) : NULL;
  store_kv_t *kv = NULL;
  int r = key ? store_get_latest(srv->store, key, &kv) : -ENOENT;
  free(key);
  if (r < 0)
    return NULL;
  cJSON *o = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  return o;
}

/* Whether the PVC ns/claim is bound to the PV pv. */
static bool claim_bound_to(api_server_t *srv, const char *ns, const char *claim, const char *pv) {
  cJSON *o = load(srv, "persistentvolumeclaims", ns, claim);
  const char *vol = str(o, "spec.volumeName");
  bool bound = vol && !strcmp(vol, pv);
  cJSON_Delete(o);
  return bound;
}

static bool relation_cb(const cJSON *pod, void *data) {
  relation_t *r = data;
  if (!on_node(pod, r->node))
    return true;
  if (!strcmp(r->resource, "serviceaccounts")) {
    const char *sa = str(pod, "spec.serviceAccountName");
    r->found = !strcmp(sa && sa[0] ? sa : "default", r->name);
    return !r->found;
  }
  api_podrefs_t refs;
  api_podrefs_of(pod, &refs);
  if (!strcmp(r->resource, "secrets"))
    r->found = has_name(refs.secrets, r->name);
  else if (!strcmp(r->resource, "configmaps"))
    r->found = has_name(refs.configmaps, r->name);
  else if (!strcmp(r->resource, "persistentvolumeclaims"))
    r->found = has_name(refs.claims, r->name);
  else if (!strcmp(r->resource, "persistentvolumes")) {
    const cJSON *c;
    cJSON_ArrayForEach(c, refs.claims) {
      if (claim_bound_to(r->srv, str(pod, "metadata.namespace"), c->valuestring, r->name)) {
        r->found = true;
        break;
      }
    }
  }
  api_podrefs_done(&refs);
  return !r->found;
}

/* Whether a pod bound to node (in ns; any namespace for a PV) relates to
 * resource/name. */
static bool related(api_server_t *srv, const char *node, const char *ns, const char *resource,
                    const char *name) {
  relation_t r = {srv, node, resource, name, false};
  api__admission_each(srv, api_registry_find("", "v1", "pods"), ns, 0, relation_cb, &r);
  return r.found;
}

/* The stored object's spec.nodeName is node. */
static bool stored_on_node(api_server_t *srv, const char *resource, const char *ns,
                           const char *name, const char *node) {
  cJSON *o = load(srv, resource, ns, name);
  bool yes = on_node(o, node);
  cJSON_Delete(o);
  return yes;
}

/* 403 in RBAC's words with the Node authorizer's reason appended. */
static int deny_authz(const api_user_t *u, const api_reqinfo_t *ri, const char *name,
                      const char *reason, api_status_t *st) {
  char res[200], subject[600], where[300] = "at the cluster scope";
  snprintf(res, sizeof(res), "%s%s%s", ri->resource, ri->subresource[0] ? "/" : "",
           ri->subresource);
  if (name && name[0])
    snprintf(subject, sizeof(subject), "%s \"%s\"", ri->resource, name);
  else
    snprintf(subject, sizeof(subject), "%s", ri->resource);
  if (ri->ns[0])
    snprintf(where, sizeof(where), "in the namespace \"%s\"", ri->ns);
  api_status_init(st, 403, "Forbidden",
                  "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s: "
                  "%s",
                  subject, u->name, ri->verb, res, ri->group, where, reason);
  api_status_set_details(st, ri->group, ri->resource, name ? name : "");
  return -EPERM;
}

/* 403 as NodeRestriction's admission writes it: `<res> "<name>" is forbidden: <why>`. */
static int deny_restriction(const api_reqinfo_t *ri, const char *why, api_status_t *st) {
  const char *gr = ri->group[0] ? "." : "";
  api_status_init(st, 403, "Forbidden", "%s%s%s \"%s\" is forbidden: %s", ri->resource, gr,
                  ri->group, ri->name, why);
  api_status_set_details(st, ri->group, ri->resource, ri->name);
  return -EPERM;
}

static bool is_read(const char *verb) {
  return !strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch");
}

int api__node_authorize(api_server_t *srv, const api_user_t *user, const api_reqinfo_t *ri,
                        http_req_t *req, api_status_t *st) {
  const char *node = node_of(user);
  if (!node || !ri->is_resource)
    return 0;
  const char *verb = ri->verb;
  char why[400];
  if (!ri->group[0] && !ri->subresource[0] &&
      (!strcmp(ri->resource, "secrets") || !strcmp(ri->resource, "configmaps") ||
       !strcmp(ri->resource, "persistentvolumeclaims") ||
       !strcmp(ri->resource, "persistentvolumes"))) {
    if (!is_read(verb))
      return 0; /* RBAC: the system:node role writes none of these */
    /* One object: get by name, or list/watch with metadata.name=<name>
     * (how a kubelet watches what its pods use). */
    const char *name = ri->name;
    char one[300] = "";
    if (!name[0]) {
      const char *fs = req ? http_req_query(req, "fieldSelector") : NULL;
      if (fs && !strncmp(fs, "metadata.name=", 14) && fs[14] && !strchr(fs + 14, ','))
        snprintf(one, sizeof(one), "%s", fs + 14);
      name = one;
    }
    bool cluster = !strcmp(ri->resource, "persistentvolumes");
    if (!name[0] || (!cluster && !ri->ns[0]))
      return deny_authz(user, ri, NULL, "can only read individual resources of this type", st);
    if (!related(srv, node, cluster ? NULL : ri->ns, ri->resource, name)) {
      snprintf(why, sizeof(why), "no relationship found between node '%s' and this object", node);
      return deny_authz(user, ri, name, why, st);
    }
    return 1;
  }
  if (!ri->group[0] && !strcmp(ri->resource, "serviceaccounts") &&
      !strcmp(ri->subresource, "token")) {
    if (strcmp(verb, "create"))
      return 0;
    if (!related(srv, node, ri->ns, "serviceaccounts", ri->name)) {
      snprintf(why, sizeof(why), "no relationship found between node '%s' and this object", node);
      return deny_authz(user, ri, ri->name, why, st);
    }
    return 1;
  }
  if (!ri->group[0] && !strcmp(ri->resource, "nodes") && ri->name[0] && !is_read(verb) &&
      strcmp(ri->name, node)) {
    snprintf(why, sizeof(why), "node \"%s\" is not allowed to modify node \"%s\"", node, ri->name);
    return deny_restriction(ri, why, st);
  }
  if (!strcmp(ri->group, "coordination.k8s.io") && !strcmp(ri->resource, "leases") &&
      !strcmp(ri->ns, NODE_LEASE_NS) && ri->name[0] && strcmp(ri->name, node))
    return deny_restriction(ri, "can only access node lease with the same name as the requesting "
                                "node", st);
  if (!ri->group[0] && !strcmp(ri->resource, "pods") && ri->name[0] && !is_read(verb)) {
    const char *what = NULL;
    if (!strcmp(ri->subresource, "status"))
      what = "update pod status for pods";
    else if (!strcmp(ri->subresource, "eviction"))
      what = "evict pods";
    else if (!ri->subresource[0] && !strcmp(verb, "delete"))
      what = "delete pods";
    if (what && !stored_on_node(srv, "pods", ri->ns, ri->name, node)) {
      snprintf(why, sizeof(why), "node \"%s\" can only %s with spec.nodeName set to itself", node,
               what);
      return deny_restriction(ri, why, st);
    }
  }
  return 0;
}

/* NodeRestriction on creates, where the name is the body's: a node creates
 * only its own Node and node Lease, and no pods (k3c has no mirror pods). */
int api__validate_noderestriction(api_admission_t *a, api_status_t *st) {
  const char *node = a->req && !a->old ? node_of(http_req_app(a->req)) : NULL;
  if (!node || a->sub[0])
    return 0;
  const char *name = str(a->obj, "metadata.name");
  char why[400] = "";
  if (api__admission_is(a, "", "Node") && name && strcmp(name, node))
    snprintf(why, sizeof(why), "node \"%s\" is not allowed to modify node \"%s\"", node, name);
  else if (api__admission_is(a, "coordination.k8s.io", "Lease") &&
           !strcmp(str(a->obj, "metadata.namespace") ? str(a->obj, "metadata.namespace") : "",
                   NODE_LEASE_NS) &&
           name && strcmp(name, node))
    snprintf(why, sizeof(why),
             "can only access node lease with the same name as the requesting node");
  else if (api__admission_is(a, "", "Pod"))
    snprintf(why, sizeof(why),
             "pod does not have \"kubernetes.io/config.mirror\" annotation, node \"%s\" can only "
             "create mirror pods",
             node);
  if (!why[0])
    return 0;
  api__admission_forbidden(a, st, why);
  return -EPERM;
}
