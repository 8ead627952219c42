/* Review APIs a client calls about itself: SelfSubjectAccessReview
 * (`kubectl auth can-i`), SelfSubjectRulesReview (`kubectl auth can-i
 * --list`) and SelfSubjectReview (`kubectl auth whoami`).
 * https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/object.h"
#include "api/rbac.h"
#include "api/review.h"

static void copy_attr(char *dst, size_t n, const cJSON *attrs, const char *key) {
  const char *v = obj_str(attrs, key);
  snprintf(dst, n, "%s", v ? v : "");
}

/* Is user allowed what spec asks? The answer goes into obj's status. */
static void access_review(api_call_t *call, cJSON *obj, const api_user_t *user) {
  const cJSON *ra = obj_get(obj, "spec.resourceAttributes");
  const cJSON *nra = obj_get(obj, "spec.nonResourceAttributes");
  api_reqinfo_t ri;
  memset(&ri, 0, sizeof(ri));
  char verb[64] = "";
  if (ra) {
    ri.is_resource = true;
    copy_attr(ri.ns, sizeof(ri.ns), ra, "namespace");
    copy_attr(ri.group, sizeof(ri.group), ra, "group");
    copy_attr(ri.resource, sizeof(ri.resource), ra, "resource");
    copy_attr(ri.subresource, sizeof(ri.subresource), ra, "subresource");
    copy_attr(ri.name, sizeof(ri.name), ra, "name");
    copy_attr(verb, sizeof(verb), ra, "verb");
  } else if (nra) {
    copy_attr(verb, sizeof(verb), nra, "verb");
  }
  ri.verb = verb;
  char path[1024] = "";
  if (!ra && nra)
    copy_attr(path, sizeof(path), nra, "path");
  char method[64];
  snprintf(method, sizeof(method), "%s", verb); /* non-resource verbs are lower-case methods */
  api_status_t st;
  memset(&st, 0, sizeof(st));
  bool allowed = api__authorize(call->srv, user, &ri, method, path, &st);
  cJSON *status = cJSON_CreateObject();
  cJSON_AddBoolToObject(status, "allowed", allowed);
  api_status_done(&st);
  obj_set(obj, "status", status);
  api__respond_obj(call->req, 201, obj);
}

/* SubjectAccessReview and LocalSubjectAccessReview: about the user and
 * groups the spec names (nothing is added to them, as upstream). */
static void subject_review(api_call_t *call, cJSON *obj, bool local) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  const char *name = obj_str(obj, "spec.user");
  const cJSON *groups = obj_get(obj, "spec.groups");
  if ((!name || !name[0]) && cJSON_GetArraySize(groups) == 0) {
    cJSON_Delete(obj);
    api_status_add_cause(&st, "FieldValueRequired", "spec.user",
                         "Invalid value: \"\": at least one of user or group must be specified");
    api_status_invalid(&st, "authorization.k8s.io", local ? "LocalSubjectAccessReview" : "SubjectAccessReview", "");
    api__respond_status(call->req, &st);
    return;
  }
  if (local) {
    cJSON *ra = (cJSON *)obj_get(obj, "spec.resourceAttributes");
    const char *ns = obj_str(ra, "namespace");
    if (cJSON_IsObject(ra) && (!ns || !ns[0])) {
      obj_set_str(ra, "namespace", call->ri.ns);
    } else if (ra && strcmp(ns, call->ri.ns)) {
      api_status_bad_request(&st, "spec.resourceAttributes.namespace must match metadata.namespace");
      cJSON_Delete(obj);
      api__respond_status(call->req, &st);
      return;
    }
    obj_set_str(obj_meta(obj), "namespace", call->ri.ns);
  }
  api_user_t u;
  memset(&u, 0, sizeof(u));
  snprintf(u.name, sizeof(u.name), "%s", name ? name : "");
  const char *uid = obj_str(obj, "spec.uid");
  snprintf(u.uid, sizeof(u.uid), "%s", uid ? uid : "");
  const cJSON *g;
  cJSON_ArrayForEach(g, groups) {
    if (cJSON_IsString(g))
      api__user_add_group(&u, g->valuestring);
  }
  access_review(call, obj, &u);
  api__user_done(&u);
}

static cJSON *strv_json(char *const *v) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; v && v[i]; i++)
    cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

/* The rules RBAC grants the user in spec.namespace (cluster-wide bindings
 * and those of the namespace), as upstream's SelfSubjectRulesReview lists
 * them; everything for system:masters. */
static void rules_review(api_call_t *call, cJSON *obj) {
  const char *ns = obj_str(obj, "spec.namespace");
  if (!ns || !ns[0]) {
    api_status_t st;
    cJSON_Delete(obj);
    api_status_bad_request(&st, "no namespace on request");
    api__respond_status(call->req, &st);
    return;
  }
  rbac_rules_t rules = {0};
  bool all = false;
  api__rbac_rules_of(call->srv, &call->user, ns, &rules, &all);
  cJSON *status = cJSON_CreateObject();
  cJSON *rr = cJSON_AddArrayToObject(status, "resourceRules");
  cJSON *nrr = cJSON_AddArrayToObject(status, "nonResourceRules");
  if (all) {
    char *star[] = {"*", NULL};
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "verbs", strv_json(star));
    cJSON_AddItemToObject(r, "apiGroups", strv_json(star));
    cJSON_AddItemToObject(r, "resources", strv_json(star));
    cJSON_AddItemToArray(rr, r);
    cJSON *n = cJSON_CreateObject();
    cJSON_AddItemToObject(n, "verbs", strv_json(star));
    cJSON_AddItemToObject(n, "nonResourceURLs", strv_json(star));
    cJSON_AddItemToArray(nrr, n);
  }
  for (size_t i = 0; i < rules.n; i++) {
    const rbac_rule_t *x = &rules.rules[i];
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "verbs", strv_json(x->verbs));
    if (x->urls[0]) {
      cJSON_AddItemToObject(r, "nonResourceURLs", strv_json(x->urls));
      cJSON_AddItemToArray(nrr, r);
      continue;
    }
    cJSON_AddItemToObject(r, "apiGroups", strv_json(x->groups));
    cJSON_AddItemToObject(r, "resources", strv_json(x->resources));
    if (x->names[0])
      cJSON_AddItemToObject(r, "resourceNames", strv_json(x->names));
    cJSON_AddItemToArray(rr, r);
  }
  rbac_rules_done(&rules);
  cJSON_AddBoolToObject(status, "incomplete", false);
  obj_set(obj, "status", status);
  api__respond_obj(call->req, 201, obj);
}

cJSON *api__user_info(const api_user_t *u) {
  cJSON *ui = cJSON_CreateObject();
  cJSON_AddStringToObject(ui, "username", u->name);
  if (u->uid[0])
    cJSON_AddStringToObject(ui, "uid", u->uid);
  cJSON *groups = cJSON_AddArrayToObject(ui, "groups");
  for (size_t i = 0; u->groups[i]; i++)
    cJSON_AddItemToArray(groups, cJSON_CreateString(u->groups[i]));
  if (u->extra[0].key) {
    cJSON *extra = cJSON_AddObjectToObject(ui, "extra");
    for (size_t i = 0; i < sizeof(u->extra) / sizeof(u->extra[0]) && u->extra[i].key; i++)
      cJSON_AddItemToObject(extra, u->extra[i].key,
                            cJSON_CreateStringArray((const char *const[]){u->extra[i].value}, 1));
  }
  return ui;
}

static void self_review(api_call_t *call, cJSON *obj) {
  cJSON *status = cJSON_CreateObject();
  cJSON_AddItemToObject(status, "userInfo", api__user_info(&call->user));
  obj_set(obj, "status", status);
  api__respond_obj(call->req, 201, obj);
}

bool api__review(api_call_t *call) {
  const api_reqinfo_t *ri = &call->ri;
  bool access = !strcmp(ri->group, "authorization.k8s.io") &&
                !strcmp(ri->resource, "selfsubjectaccessreviews");
  bool rules = !strcmp(ri->group, "authorization.k8s.io") &&
               !strcmp(ri->resource, "selfsubjectrulesreviews");
  bool self = !strcmp(ri->group, "authentication.k8s.io") &&
              !strcmp(ri->resource, "selfsubjectreviews");
  bool subject = !strcmp(ri->group, "authorization.k8s.io") &&
                 !strcmp(ri->resource, "subjectaccessreviews");
  bool local = !strcmp(ri->group, "authorization.k8s.io") &&
               !strcmp(ri->resource, "localsubjectaccessreviews");
  bool token = !strcmp(ri->group, "authentication.k8s.io") &&
               !strcmp(ri->resource, "tokenreviews");
  if (!access && !rules && !self && !subject && !local && !token)
    return false;
  api_status_t st;
  if (strcmp(ri->verb, "create") || ri->name[0]) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(call->req, &st);
    return true;
  }
  cJSON *obj = NULL;
  if (api__decode_body(call->req, &obj, &st) < 0) {
    api__respond_status(call->req, &st);
    return true;
  }
  if (!cJSON_IsObject(obj)) {
    cJSON_Delete(obj);
    api_status_bad_request(&st, "the request body must be a JSON object");
    api__respond_status(call->req, &st);
    return true;
  }
  obj_set_str(obj, "apiVersion",
              self || token ? "authentication.k8s.io/v1" : "authorization.k8s.io/v1");
  obj_set_str(obj, "kind", access    ? "SelfSubjectAccessReview"
                           : rules   ? "SelfSubjectRulesReview"
                           : subject ? "SubjectAccessReview"
                           : local   ? "LocalSubjectAccessReview"
                           : token   ? "TokenReview"
                                     : "SelfSubjectReview");
  obj_meta(obj);
  if (access)
    access_review(call, obj, &call->user);
  else if (subject || local)
    subject_review(call, obj, local);
  else if (rules)
    rules_review(call, obj);
  else if (token)
    api__satoken_review(call, obj);
  else
    self_review(call, obj);
  return true;
}
