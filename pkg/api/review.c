/* Review APIs a client calls about itself: SelfSubjectAccessReview
 * (`kubectl auth can-i`), SelfSubjectRulesReview (`kubectl auth can-i
 * --list`) and SelfSubjectReview (`kubectl auth whoami`).
 * https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/object.h"
#include "api/review.h"

static void copy_attr(char *dst, size_t n, const cJSON *attrs, const char *key) {
  const char *v = obj_str(attrs, key);
  snprintf(dst, n, "%s", v ? v : "");
}

static void access_review(api_call_t *call, cJSON *obj) {
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
  api_status_t st;
  memset(&st, 0, sizeof(st));
  bool allowed = api__authorize(&call->user, &ri, &st);
  cJSON *status = cJSON_CreateObject();
  cJSON_AddBoolToObject(status, "allowed", allowed);
  if (allowed)
    cJSON_AddStringToObject(status, "reason", "allowed by the system:masters group");
  api_status_done(&st);
  obj_set(obj, "status", status);
  api__respond_obj(call->req, 201, obj);
}

static cJSON *strings(const char *const *v) {
  cJSON *a = cJSON_CreateArray();
  for (; *v; v++)
    cJSON_AddItemToArray(a, cJSON_CreateString(*v));
  return a;
}

static cJSON *resource_rule(const char *const *verbs, const char *const *groups,
                            const char *const *resources) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddItemToObject(r, "verbs", strings(verbs));
  cJSON_AddItemToObject(r, "apiGroups", strings(groups));
  cJSON_AddItemToObject(r, "resources", strings(resources));
  return r;
}

static cJSON *non_resource_rule(const char *const *verbs, const char *const *urls) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddItemToObject(r, "verbs", strings(verbs));
  cJSON_AddItemToObject(r, "nonResourceURLs", strings(urls));
  return r;
}

/* The rules api__authorize applies, written out: everything for
 * system:masters; for everyone else the self reviews (upstream's
 * system:basic-user) and reads of the discovery, version and health
 * endpoints (system:discovery, system:public-info-viewer). */
static void rules_review(api_call_t *call, cJSON *obj) {
  static const char *const all[] = {"*", NULL};
  static const char *const create[] = {"create", NULL};
  static const char *const get[] = {"get", NULL};
  static const char *const authz[] = {"authorization.k8s.io", NULL};
  static const char *const authz_res[] = {"selfsubjectaccessreviews", "selfsubjectrulesreviews",
                                          NULL};
  static const char *const authn[] = {"authentication.k8s.io", NULL};
  static const char *const authn_res[] = {"selfsubjectreviews", NULL};
  static const char *const urls[] = {"/api",     "/api/*",  "/apis",   "/apis/*",
                                     "/healthz", "/livez",  "/readyz", "/version",
                                     "/version/", "/openapi", "/openapi/*", NULL};
  const char *ns = obj_str(obj, "spec.namespace");
  if (!ns || !ns[0]) {
    api_status_t st;
    cJSON_Delete(obj);
    api_status_bad_request(&st, "no namespace on request");
    api__respond_status(call->req, &st);
    return;
  }
  bool master = false;
  for (size_t i = 0; call->user.groups[i]; i++)
    master = master || !strcmp(call->user.groups[i], "system:masters");
  cJSON *status = cJSON_CreateObject();
  cJSON *rr = cJSON_AddArrayToObject(status, "resourceRules");
  cJSON *nrr = cJSON_AddArrayToObject(status, "nonResourceRules");
  if (master) {
    cJSON_AddItemToArray(rr, resource_rule(all, all, all));
    cJSON_AddItemToArray(nrr, non_resource_rule(all, all));
  } else {
    cJSON_AddItemToArray(rr, resource_rule(create, authz, authz_res));
    cJSON_AddItemToArray(rr, resource_rule(create, authn, authn_res));
    cJSON_AddItemToArray(nrr, non_resource_rule(get, urls));
  }
  cJSON_AddBoolToObject(status, "incomplete", false);
  obj_set(obj, "status", status);
  api__respond_obj(call->req, 201, obj);
}

static void self_review(api_call_t *call, cJSON *obj) {
  cJSON *status = cJSON_CreateObject();
  cJSON *ui = cJSON_AddObjectToObject(status, "userInfo");
  cJSON_AddStringToObject(ui, "username", call->user.name);
  if (call->user.uid[0])
    cJSON_AddStringToObject(ui, "uid", call->user.uid);
  cJSON *groups = cJSON_AddArrayToObject(ui, "groups");
  for (size_t i = 0; call->user.groups[i]; i++)
    cJSON_AddItemToArray(groups, cJSON_CreateString(call->user.groups[i]));
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
  if (!access && !rules && !self)
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
  obj_set_str(obj, "apiVersion", self ? "authentication.k8s.io/v1" : "authorization.k8s.io/v1");
  obj_set_str(obj, "kind", access  ? "SelfSubjectAccessReview"
                           : rules ? "SelfSubjectRulesReview"
                                   : "SelfSubjectReview");
  obj_meta(obj);
  if (access)
    access_review(call, obj);
  else if (rules)
    rules_review(call, obj);
  else
    self_review(call, obj);
  return true;
}
