/* Request attributes and matching shared by admission webhooks and
 * ValidatingAdmissionPolicies (admmatch.h). */
#include "api/admmatch.h"

#include "api/object.h"
#include "json/selector.h"

#include <stdlib.h>
#include <string.h>

void api__adm_attrs_init(api_adm_attrs_t *at, api_server_t *srv, http_req_t *req,
                         const api_resource_t *res, const char *sub, cJSON *obj, const cJSON *old,
                         bool deleting) {
  *at = (api_adm_attrs_t){.srv = srv,
                          .req = req,
                          .res = res,
                          .op = deleting ? "DELETE" : old ? "UPDATE" : "CREATE",
                          .sub = sub ? sub : "",
                          .obj = obj,
                          .old = old,
                          .dry_run = req && http_req_query(req, "dryRun") != NULL};
}

void api__adm_attrs_done(api_adm_attrs_t *at) {
  cJSON_Delete(at->ns_obj);
  at->ns_obj = NULL;
}

static bool list_has(const cJSON *list, const char *want) {
  const cJSON *v;
  cJSON_ArrayForEach(v, list) {
    if (cJSON_IsString(v) && (!strcmp(v->valuestring, "*") || !strcmp(v->valuestring, want)))
      return true;
  }
  return false;
}

/* Resource forms: "pods", "pods/status", "*" (every main resource), "pods/" + "*" (every
 * subresource of pods), "*" + "/scale", "*" + "/" + "*". */
static bool resource_matches(const cJSON *list, const char *plural, const char *sub) {
  const cJSON *v;
  cJSON_ArrayForEach(v, list) {
    if (!cJSON_IsString(v))
      continue;
    const char *s = v->valuestring, *slash = strchr(s, '/');
    size_t rl = slash ? (size_t)(slash - s) : strlen(s);
    bool res_ok = (rl == 1 && s[0] == '*') || (rl == strlen(plural) && !strncmp(s, plural, rl));
    if (!res_ok)
      continue;
    if (!slash ? !sub[0] : (!strcmp(slash + 1, "*") ? sub[0] != '\0' : !strcmp(slash + 1, sub)))
      return true;
  }
  return false;
}

bool api__adm_rule_matches(const cJSON *rule, const api_adm_attrs_t *at) {
  const schema_resource_t *s = at->res->s;
  const cJSON *names = cJSON_GetObjectItemCaseSensitive(rule, "resourceNames");
  if (cJSON_GetArraySize(names) > 0 && !at->name_unknown) {
    const char *name = obj_str(api__adm_object(at), "metadata.name");
    bool found = false;
    const cJSON *n;
    cJSON_ArrayForEach(n, names) {
      if (cJSON_IsString(n) && name && !strcmp(n->valuestring, name))
        found = true;
    }
    if (!found)
      return false;
  }
  if (!list_has(cJSON_GetObjectItemCaseSensitive(rule, "operations"), at->op) ||
      !list_has(cJSON_GetObjectItemCaseSensitive(rule, "apiGroups"), s->group) ||
      !list_has(cJSON_GetObjectItemCaseSensitive(rule, "apiVersions"), s->version) ||
      !resource_matches(cJSON_GetObjectItemCaseSensitive(rule, "resources"), s->plural, at->sub))
    return false;
  const char *scope = obj_str(rule, "scope");
  if (scope && !strcmp(scope, "Cluster"))
    return !s->namespaced;
  if (scope && !strcmp(scope, "Namespaced"))
    return s->namespaced;
  return true;
}

const cJSON *api__adm_object(const api_adm_attrs_t *at) {
  return at->obj ? at->obj : at->old;
}

const cJSON *api__adm_namespace(api_adm_attrs_t *at) {
  if (at->ns_loaded)
    return at->ns_obj;
  at->ns_loaded = true;
  const char *ns = obj_str(api__adm_object(at), "metadata.namespace");
  const api_resource_t *nsres = api_registry_find_kind("", "Namespace");
  if (!ns || !ns[0] || !nsres || !at->res->s->namespaced)
    return NULL;
  char *key = api_resource_key(nsres, NULL, ns);
  store_kv_t *kv = NULL;
  if (store_get_latest(at->srv->store, key, &kv) == 0) {
    at->ns_obj = cJSON_ParseWithLength(kv->value, kv->len);
    store_kv_unref(kv);
  }
  free(key);
  return at->ns_obj;
}

static bool selector_matches(const cJSON *sel_json, const cJSON *labels) {
  if (!sel_json || (cJSON_IsObject(sel_json) && !sel_json->child))
    return true;
  label_selector_t *sel = NULL;
  char err[256];
  if (label_selector_from_json(sel_json, &sel, err, sizeof(err)) < 0)
    return false;
  bool m = label_selector_match(sel, labels);
  label_selector_free(sel);
  return m;
}

bool api__adm_rules_match(const cJSON *rules, const api_adm_attrs_t *at) {
  const cJSON *rule;
  cJSON_ArrayForEach(rule, rules) {
    if (api__adm_rule_matches(rule, at))
      return true;
  }
  return false;
}

bool api__adm_selectors_match(const cJSON *nsel, const cJSON *osel, api_adm_attrs_t *at) {
  const schema_resource_t *s = at->res->s;
  bool is_ns = !s->group[0] && !strcmp(s->kind, "Namespace");
  if (is_ns) {
    if (!selector_matches(nsel, obj_get(api__adm_object(at), "metadata.labels")))
      return false;
  } else if (s->namespaced) {
    if (!selector_matches(nsel, obj_get(api__adm_namespace(at), "metadata.labels")))
      return false;
  }
  return selector_matches(osel, at->obj ? obj_get(at->obj, "metadata.labels") : NULL) ||
         (at->old && selector_matches(osel, obj_get(at->old, "metadata.labels")));
}

static cJSON *gvk(const char *g, const char *v, const char *kname, const char *kval) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "group", g);
  cJSON_AddStringToObject(o, "version", v);
  cJSON_AddStringToObject(o, kname, kval);
  return o;
}

cJSON *api__adm_request(const api_adm_attrs_t *at, const char *uid) {
  const schema_resource_t *s = at->res->s;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "uid", uid);
  cJSON_AddItemToObject(r, "kind", gvk(s->group, s->version, "kind", s->kind));
  cJSON_AddItemToObject(r, "resource", gvk(s->group, s->version, "resource", s->plural));
  if (at->sub[0])
    cJSON_AddStringToObject(r, "subResource", at->sub);
  cJSON_AddItemToObject(r, "requestKind", gvk(s->group, s->version, "kind", s->kind));
  cJSON_AddItemToObject(r, "requestResource", gvk(s->group, s->version, "resource", s->plural));
  if (at->sub[0])
    cJSON_AddStringToObject(r, "requestSubResource", at->sub);
  const char *name = obj_str(api__adm_object(at), "metadata.name");
  const char *ns = obj_str(api__adm_object(at), "metadata.namespace");
  if (name && name[0])
    cJSON_AddStringToObject(r, "name", name);
  if (ns && ns[0])
    cJSON_AddStringToObject(r, "namespace", ns);
  cJSON_AddStringToObject(r, "operation", at->op);
  const api_user_t *u = at->req ? http_req_app(at->req) : NULL;
  cJSON_AddItemToObject(r, "userInfo", u ? api__user_info(u) : cJSON_CreateObject());
  cJSON_AddItemToObject(r, "object", at->obj ? cJSON_Duplicate(at->obj, 1) : cJSON_CreateNull());
  cJSON_AddItemToObject(r, "oldObject", at->old ? cJSON_Duplicate(at->old, 1) : cJSON_CreateNull());
  cJSON_AddBoolToObject(r, "dryRun", at->dry_run);
  cJSON *opts = cJSON_AddObjectToObject(r, "options");
  cJSON_AddStringToObject(opts, "apiVersion", "meta.k8s.io/v1");
  cJSON_AddStringToObject(opts, "kind",
                          !strcmp(at->op, "CREATE")   ? "CreateOptions"
                          : !strcmp(at->op, "UPDATE") ? "UpdateOptions"
                                                      : "DeleteOptions");
  if (at->dry_run) {
    cJSON *dr = cJSON_AddArrayToObject(opts, "dryRun");
    cJSON_AddItemToArray(dr, cJSON_CreateString("All"));
  }
  const char *fm = at->req ? http_req_query(at->req, "fieldManager") : NULL;
  if (fm && strcmp(at->op, "DELETE"))
    cJSON_AddStringToObject(opts, "fieldManager", fm);
  return r;
}

