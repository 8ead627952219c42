/* Review APIs a client calls about itself: SelfSubjectAccessReview
 * (`kubectl auth can-i`) and SelfSubjectReview (`kubectl auth whoami`).
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
  bool self = !strcmp(ri->group, "authentication.k8s.io") &&
              !strcmp(ri->resource, "selfsubjectreviews");
  if (!access && !self)
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
  obj_set_str(obj, "apiVersion", access ? "authorization.k8s.io/v1" : "authentication.k8s.io/v1");
  obj_set_str(obj, "kind", access ? "SelfSubjectAccessReview" : "SelfSubjectReview");
  obj_meta(obj);
  if (access)
    access_review(call, obj);
  else
    self_review(call, obj);
  return true;
}
