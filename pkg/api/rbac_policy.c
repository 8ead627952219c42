/* The default RBAC policy, created at start and reconciled as upstream's
 * apiserver does: a missing role or binding is created; an existing one
 * whose rbac.authorization.kubernetes.io/autoupdate annotation is not
 * "false" gets the default rules and subjects it lacks (what users added
 * stays). admin, edit and view aggregate the system:aggregate-to-* roles
 * by label (authz.c applies aggregationRule).
 * https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/log.h"
#include "yaml/decode.h"

/* The facts of the policy: which roles grant what, who is bound. Rules
 * are k3c's own listing of upstream's default permissions. */
static const char policy[] =
    "clusterroles:\n"
    "- name: cluster-admin\n"
    "  rules:\n"
    "  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n"
    "  - {nonResourceURLs: ['*'], verbs: ['*']}\n"
    "- name: system:discovery\n"
    "  rules:\n"
    "  - {nonResourceURLs: [/api, /api/*, /apis, /apis/*, /healthz, /livez, /openapi, /openapi/*,\n"
    "      /readyz, /version, /version/], verbs: [get]}\n"
    "- name: system:auth-delegator\n"
    "  rules:\n"
    "  - {apiGroups: [authentication.k8s.io], resources: [tokenreviews], verbs: [create]}\n"
    "  - {apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews], verbs: [create]}\n"
    "- name: system:public-info-viewer\n"
    "  rules:\n"
    "  - {nonResourceURLs: [/healthz, /livez, /readyz, /version, /version/], verbs: [get]}\n"
    "- name: system:basic-user\n"
    "  rules:\n"
    "  - {apiGroups: [authorization.k8s.io], resources: [selfsubjectaccessreviews,\n"
    "      selfsubjectrulesreviews], verbs: [create]}\n"
    "  - {apiGroups: [authentication.k8s.io], resources: [selfsubjectreviews], verbs: [create]}\n"
    "- name: system:service-account-issuer-discovery\n"
    "  rules:\n"
    "  - {nonResourceURLs: [/.well-known/openid-configuration, /.well-known/openid-configuration/,\n"
    "      /openid/v1/jwks, /openid/v1/jwks/], verbs: [get]}\n"
    "- name: system:monitoring\n"
    "  rules:\n"
    "  - {nonResourceURLs: [/healthz, /healthz/*, /livez, /livez/*, /readyz, /readyz/*,\n"
    "      /metrics, /metrics/slis], verbs: [get]}\n"
    "- name: admin\n"
    "  aggregate: rbac.authorization.k8s.io/aggregate-to-admin\n"
    "- name: edit\n"
    "  aggregate: rbac.authorization.k8s.io/aggregate-to-edit\n"
    "  labels: {rbac.authorization.k8s.io/aggregate-to-admin: 'true'}\n"
    "- name: view\n"
    "  aggregate: rbac.authorization.k8s.io/aggregate-to-view\n"
    "  labels: {rbac.authorization.k8s.io/aggregate-to-edit: 'true'}\n"
    "- name: system:aggregate-to-admin\n"
    "  labels: {rbac.authorization.k8s.io/aggregate-to-admin: 'true'}\n"
    "  rules:\n"
    "  - {apiGroups: [authorization.k8s.io], resources: [localsubjectaccessreviews], verbs: [create]}\n"
    "  - {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings, roles],\n"
    "     verbs: [create, delete, deletecollection, get, list, patch, update, watch]}\n"
    "- name: system:aggregate-to-edit\n"
    "  labels: {rbac.authorization.k8s.io/aggregate-to-edit: 'true'}\n"
    "  rules:\n"
    "  - {apiGroups: [''], resources: [pods/attach, pods/exec, pods/portforward, pods/proxy, secrets,\n"
    "      services/proxy], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}\n"
    "  - {apiGroups: [''], resources: [pods, pods/attach, pods/exec, pods/portforward, pods/proxy],\n"
    "     verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [''], resources: [pods/eviction], verbs: [create]}\n"
    "  - {apiGroups: [''], resources: [configmaps, events, persistentvolumeclaims,\n"
    "      replicationcontrollers, replicationcontrollers/scale, secrets, serviceaccounts, services,\n"
    "      services/proxy], verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}\n"
    "  - {apiGroups: [apps], resources: [daemonsets, deployments, deployments/rollback,\n"
    "      deployments/scale, replicasets, replicasets/scale, statefulsets, statefulsets/scale],\n"
    "     verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [autoscaling], resources: [horizontalpodautoscalers],\n"
    "     verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [batch], resources: [cronjobs, jobs],\n"
    "     verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [policy], resources: [poddisruptionbudgets],\n"
    "     verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [networking.k8s.io], resources: [ingresses, networkpolicies],\n"
    "     verbs: [create, delete, deletecollection, patch, update]}\n"
    "  - {apiGroups: [coordination.k8s.io], resources: [leases],\n"
    "     verbs: [create, delete, deletecollection, get, list, patch, update, watch]}\n"
    /* what metrics-server's manifest adds, so `kubectl top` works for view/edit/admin */
    "- name: system:aggregated-metrics-reader\n"
    "  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true',\n"
    "    rbac.authorization.k8s.io/aggregate-to-edit: 'true',\n"
    "    rbac.authorization.k8s.io/aggregate-to-admin: 'true'}\n"
    "  rules:\n"
    "  - {apiGroups: [metrics.k8s.io], resources: [pods, nodes], verbs: [get, list, watch]}\n"
    "- name: system:aggregate-to-view\n"
    "  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}\n"
    "  rules:\n"
    "  - {apiGroups: [''], resources: [configmaps, endpoints, persistentvolumeclaims,\n"
    "      persistentvolumeclaims/status, pods, replicationcontrollers, replicationcontrollers/scale,\n"
    "      serviceaccounts, services, services/status], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [bindings, events, limitranges, namespaces/status, pods/log,\n"
    "      pods/status, replicationcontrollers/status, resourcequotas, resourcequotas/status],\n"
    "     verbs: [get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [namespaces], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [apps], resources: [controllerrevisions, daemonsets, daemonsets/status,\n"
    "      deployments, deployments/scale, deployments/status, replicasets, replicasets/scale,\n"
    "      replicasets/status, statefulsets, statefulsets/scale, statefulsets/status],\n"
    "     verbs: [get, list, watch]}\n"
    "  - {apiGroups: [autoscaling], resources: [horizontalpodautoscalers,\n"
    "      horizontalpodautoscalers/status], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [batch], resources: [cronjobs, cronjobs/status, jobs, jobs/status],\n"
    "     verbs: [get, list, watch]}\n"
    "  - {apiGroups: [policy], resources: [poddisruptionbudgets, poddisruptionbudgets/status],\n"
    "     verbs: [get, list, watch]}\n"
    "  - {apiGroups: [networking.k8s.io], resources: [ingresses, ingresses/status, networkpolicies],\n"
    "     verbs: [get, list, watch]}\n"
    "- name: system:kube-scheduler\n"
    "  rules:\n"
    "  - {apiGroups: ['', events.k8s.io], resources: [events], verbs: [create, patch, update]}\n"
    "  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [create, get, update]}\n"
    "  - {apiGroups: [''], resources: [nodes, pods, namespaces, persistentvolumeclaims,\n"
    "      persistentvolumes, replicationcontrollers, services], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [pods], verbs: [delete]}\n"
    "  - {apiGroups: [''], resources: [bindings, pods/binding], verbs: [create]}\n"
    "  - {apiGroups: [''], resources: [pods/status], verbs: [patch, update]}\n"
    "  - {apiGroups: [apps], resources: [replicasets, statefulsets], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [policy], resources: [poddisruptionbudgets], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [storage.k8s.io], resources: [csidrivers, csinodes, csistoragecapacities,\n"
    "      storageclasses], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [authentication.k8s.io], resources: [tokenreviews], verbs: [create]}\n"
    "  - {apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews], verbs: [create]}\n"
    "- name: system:kube-controller-manager\n"
    "  rules:\n"
    "  - {apiGroups: ['', events.k8s.io], resources: [events], verbs: [create, patch, update]}\n"
    "  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [create, get, update]}\n"
    "  - {apiGroups: [''], resources: [secrets, serviceaccounts], verbs: [create]}\n"
    "  - {apiGroups: [''], resources: [secrets, serviceaccounts], verbs: [delete, get, update]}\n"
    "  - {apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}\n"
    "  - {apiGroups: ['*'], resources: ['*'], verbs: [list, watch]}\n"
    "  - {apiGroups: [authentication.k8s.io], resources: [tokenreviews], verbs: [create]}\n"
    "  - {apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews], verbs: [create]}\n"
    "- name: system:node\n"
    "  rules:\n"
    "  - {apiGroups: [authentication.k8s.io], resources: [tokenreviews], verbs: [create]}\n"
    "  - {apiGroups: [authorization.k8s.io], resources: [localsubjectaccessreviews,\n"
    "      subjectaccessreviews], verbs: [create]}\n"
    "  - {apiGroups: [''], resources: [services], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [nodes], verbs: [create, get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [nodes/status], verbs: [get, patch, update]}\n"
    "  - {apiGroups: [''], resources: [nodes], verbs: [delete, patch, update]}\n"
    "  - {apiGroups: ['', events.k8s.io], resources: [events], verbs: [create, patch, update]}\n"
    "  - {apiGroups: [''], resources: [pods], verbs: [get, list, watch]}\n"
    "  - {apiGroups: [''], resources: [pods], verbs: [create, delete]}\n"
    "  - {apiGroups: [''], resources: [pods/status], verbs: [patch, update]}\n"
    "  - {apiGroups: [''], resources: [pods/eviction], verbs: [create]}\n"
    /* configmaps, secrets, persistentvolumeclaims, persistentvolumes and
     * serviceaccounts/token: the Node authorizer's, by relation to the
     * node's pods (authz_node.c) */
    "  - {apiGroups: [''], resources: [endpoints], verbs: [get]}\n"
    "  - {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests],\n"
    "     verbs: [create, get, list, watch]}\n"
    "  - {apiGroups: [coordination.k8s.io], resources: [leases],\n"
    "     verbs: [create, delete, get, patch, update]}\n"
    "  - {apiGroups: [storage.k8s.io], resources: [volumeattachments, csidrivers], verbs: [get]}\n"
    "  - {apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}\n"
    "  - {apiGroups: [''], resources: [persistentvolumeclaims/status],\n"
    "     verbs: [get, patch, update]}\n"
    "  - {apiGroups: [node.k8s.io], resources: [runtimeclasses], verbs: [get, list, watch]}\n"
    /* what the agents' NetworkPolicy enforcement reads (pkg/net/netpol.h;
     * k3s gives its agents' kube-router the same through its own user) */
    "- name: system:k3c-network-policy\n"
    "  rules:\n"
    "  - {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [list, watch]}\n"
    "  - {apiGroups: [''], resources: [namespaces, pods], verbs: [list, watch]}\n"
    "- name: system:node-proxier\n"
    "  rules:\n"
    "  - {apiGroups: [''], resources: [endpoints, services], verbs: [list, watch]}\n"
    "  - {apiGroups: [''], resources: [nodes], verbs: [get, list, watch]}\n"
    "  - {apiGroups: ['', events.k8s.io], resources: [events], verbs: [create, patch, update]}\n"
    "  - {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}\n"
    "clusterrolebindings:\n"
    "- {name: cluster-admin, role: cluster-admin, groups: [system:masters]}\n"
    "- {name: system:discovery, role: system:discovery, groups: [system:authenticated]}\n"
    "- {name: system:basic-user, role: system:basic-user, groups: [system:authenticated]}\n"
    "- {name: system:public-info-viewer, role: system:public-info-viewer,\n"
    "   groups: [system:authenticated, system:unauthenticated]}\n"
    "- {name: system:service-account-issuer-discovery, role: system:service-account-issuer-discovery,\n"
    "   groups: [system:serviceaccounts]}\n"
    "- {name: system:monitoring, role: system:monitoring, groups: [system:monitoring]}\n"
    "- {name: system:kube-scheduler, role: system:kube-scheduler, users: [system:kube-scheduler]}\n"
    "- {name: system:kube-controller-manager, role: system:kube-controller-manager,\n"
    "   users: [system:kube-controller-manager]}\n"
    /* k3c's service proxy runs in the agent with the node's credentials
     * (pkg/net/proxy.h), not as system:kube-proxy; the cluster DNS
     * watches Services and EndpointSlices the same way */
    "- {name: system:node-proxier, role: system:node-proxier, users: [system:kube-proxy],\n"
    "   groups: [system:nodes]}\n"
    /* Upstream binds system:node to no one: its Node authorizer grants the
     * rules. k3c's Node authorizer (authz_node.c) decides the objects that
     * relate to a node's pods and the writes to its own objects, and leaves
     * the rest of the role to RBAC, so the role is bound to system:nodes. */
    "- {name: system:node, role: system:node, groups: [system:nodes]}\n"
    "- {name: system:k3c-network-policy, role: system:k3c-network-policy, groups: [system:nodes]}\n";

static cJSON *meta_of(const char *name, const cJSON *labels) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "name", name);
  cJSON *l = labels ? cJSON_Duplicate(labels, 1) : cJSON_CreateObject();
  cJSON_AddStringToObject(l, "kubernetes.io/bootstrapping", "rbac-defaults");
  cJSON_AddItemToObject(m, "labels", l);
  cJSON *a = cJSON_AddObjectToObject(m, "annotations");
  cJSON_AddStringToObject(a, "rbac.authorization.kubernetes.io/autoupdate", "true");
  return m;
}

static cJSON *role_of(const cJSON *def) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "apiVersion", "rbac.authorization.k8s.io/v1");
  cJSON_AddStringToObject(o, "kind", "ClusterRole");
  cJSON_AddItemToObject(o, "metadata", meta_of(obj_str(def, "name"), obj_get(def, "labels")));
  const char *agg = obj_str(def, "aggregate");
  if (agg) {
    cJSON *ar = cJSON_AddObjectToObject(o, "aggregationRule");
    cJSON *sels = cJSON_AddArrayToObject(ar, "clusterRoleSelectors");
    cJSON *sel = cJSON_CreateObject();
    cJSON *ml = cJSON_AddObjectToObject(sel, "matchLabels");
    cJSON_AddStringToObject(ml, agg, "true");
    cJSON_AddItemToArray(sels, sel);
    cJSON_AddArrayToObject(o, "rules");
  } else {
    const cJSON *rules = obj_get(def, "rules");
    cJSON_AddItemToObject(o, "rules", rules ? cJSON_Duplicate(rules, 1) : cJSON_CreateArray());
  }
  return o;
}

static cJSON *binding_of(const cJSON *def) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "apiVersion", "rbac.authorization.k8s.io/v1");
  cJSON_AddStringToObject(o, "kind", "ClusterRoleBinding");
  cJSON_AddItemToObject(o, "metadata", meta_of(obj_str(def, "name"), NULL));
  cJSON *ref = cJSON_AddObjectToObject(o, "roleRef");
  cJSON_AddStringToObject(ref, "apiGroup", "rbac.authorization.k8s.io");
  cJSON_AddStringToObject(ref, "kind", "ClusterRole");
  cJSON_AddStringToObject(ref, "name", obj_str(def, "role"));
  cJSON *subjects = cJSON_AddArrayToObject(o, "subjects");
  static const char *const kinds[2][2] = {{"groups", "Group"}, {"users", "User"}};
  for (size_t k = 0; k < 2; k++) {
    const cJSON *v;
    cJSON_ArrayForEach(v, obj_get(def, kinds[k][0])) {
      cJSON *s = cJSON_CreateObject();
      cJSON_AddStringToObject(s, "apiGroup", "rbac.authorization.k8s.io");
      cJSON_AddStringToObject(s, "kind", kinds[k][1]);
      cJSON_AddStringToObject(s, "name", v->valuestring);
      cJSON_AddItemToArray(subjects, s);
    }
  }
  return o;
}

static bool contains_equal(const cJSON *array, const cJSON *item) {
  const cJSON *e;
  cJSON_ArrayForEach(e, array) if (cJSON_Compare(e, item, true)) return true;
  return false;
}

/* Add what the default has and the stored object lacks (rules of a role,
 * subjects of a binding); true when something was added. */
static bool union_into(cJSON *stored, const cJSON *def, const char *field) {
  cJSON *have = cJSON_GetObjectItemCaseSensitive(stored, field);
  if (!cJSON_IsArray(have)) {
    cJSON_DeleteItemFromObjectCaseSensitive(stored, field);
    have = cJSON_AddArrayToObject(stored, field);
  }
  bool added = false;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(def, field)) {
    if (!contains_equal(have, e)) {
      cJSON_AddItemToArray(have, cJSON_Duplicate(e, 1));
      added = true;
    }
  }
  return added;
}

static void reconcile(api_server_t *srv, const char *kind, cJSON *def) {
  const api_resource_t *res = api_registry_find_kind("rbac.authorization.k8s.io", kind);
  if (!res) {
    cJSON_Delete(def);
    return;
  }
  const char *name = obj_str(def, "metadata.name");
  char *key = api_resource_key(res, NULL, name);
  store_kv_t *kv = NULL;
  if (store_get_latest(srv->store, key, &kv) < 0) {
    free(key);
    api__create(srv, NULL, res, NULL, NULL, def, false);
    return;
  }
  cJSON *stored = cJSON_ParseWithLength(kv->value, kv->len);
  const cJSON *au = cJSON_GetObjectItemCaseSensitive(obj_get(stored, "metadata.annotations"),
                                                     "rbac.authorization.kubernetes.io/autoupdate");
  bool keep = cJSON_IsString(au) && !strcmp(au->valuestring, "false");
  bool changed = false;
  if (stored && !keep) {
    if (!strcmp(kind, "ClusterRole") && !obj_get(def, "aggregationRule"))
      changed = union_into(stored, def, "rules");
    else if (!strcmp(kind, "ClusterRoleBinding"))
      changed = union_into(stored, def, "subjects");
  }
  if (changed) {
    api__submit(srv, NULL, res, NULL, STORE_OP_UPDATE, key, stored, kv->mod_rev, 200,
                API_REPLY_OBJECT, false);
    key = NULL;
    stored = NULL;
  }
  cJSON_Delete(stored);
  free(key);
  store_kv_unref(kv);
  cJSON_Delete(def);
}

void api__rbac_bootstrap(api_server_t *srv) {
  cJSON *doc = NULL;
  char err[256];
  if (yaml_parse_one(policy, sizeof(policy) - 1, &doc, err, sizeof(err)) < 0) {
    log_error("api", "the default RBAC policy does not parse: %s", err);
    return;
  }
  const cJSON *d;
  cJSON_ArrayForEach(d, obj_get(doc, "clusterroles")) reconcile(srv, "ClusterRole", role_of(d));
  cJSON_ArrayForEach(d, obj_get(doc, "clusterrolebindings"))
      reconcile(srv, "ClusterRoleBinding", binding_of(d));
  cJSON_Delete(doc);
}
