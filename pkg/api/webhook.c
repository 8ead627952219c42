/* Admission webhooks called by URL (webhook.h). Matching follows upstream's
 * pkg/admission/plugin/webhook (rules, namespaceSelector, objectSelector);
 * the wire format is admission.k8s.io/v1 AdmissionReview. */
#include "api/webhook.h"

#include "api/object.h"
#include "api/webhook_call.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/offload.h"

#include "json/patch.h"
#include "json/selector.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "admissionregistration.k8s.io"
#define MAX_CONFIGS 1000

static bool any_of(api_server_t *srv, const char *kind) {
  const api_resource_t *res = api_registry_find_kind(GROUP, kind);
  if (!res)
    return false;
  char *prefix = api_resource_key(res, NULL, NULL);
  store_list_opts_t lo = {.prefix = prefix, .limit = 1};
  store_list_t l;
  bool any = false;
  if (store_list(srv->store, &lo, &l) == 0) {
    any = l.n > 0;
    store_list_done(&l);
  }
  free(prefix);
  return any;
}

bool api__webhooks_any(api_server_t *srv) {
  return any_of(srv, "MutatingWebhookConfiguration") ||
         any_of(srv, "ValidatingWebhookConfiguration");
}

/* What one request is, for matching and for the review. */
typedef struct {
  api_server_t *srv;
  http_req_t *req;
  const api_resource_t *res;
  const char *op; /* CREATE, UPDATE, DELETE */
  const char *sub;
  cJSON *obj;       /* NULL on delete */
  const cJSON *old; /* NULL on create */
  bool dry_run;
  cJSON *ns_labels; /* the namespace's labels (owned), loaded once */
  bool ns_loaded;
} attrs_t;

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

static bool rule_matches(const cJSON *rule, const attrs_t *at) {
  const schema_resource_t *s = at->res->s;
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

static const cJSON *the_object(const attrs_t *at) {
  return at->obj ? at->obj : at->old;
}

static const cJSON *namespace_labels(attrs_t *at) {
  if (at->ns_loaded)
    return at->ns_labels;
  at->ns_loaded = true;
  const char *ns = obj_str(the_object(at), "metadata.namespace");
  const api_resource_t *nsres = api_registry_find_kind("", "Namespace");
  if (!ns || !ns[0] || !nsres)
    return NULL;
  char *key = api_resource_key(nsres, NULL, ns);
  store_kv_t *kv = NULL;
  if (store_get_latest(at->srv->store, key, &kv) == 0) {
    cJSON *nsobj = cJSON_ParseWithLength(kv->value, kv->len);
    cJSON *labels = cJSON_DetachItemViaPointer(
        obj_meta(nsobj), cJSON_GetObjectItemCaseSensitive(obj_meta(nsobj), "labels"));
    at->ns_labels = labels;
    cJSON_Delete(nsobj);
    store_kv_unref(kv);
  }
  free(key);
  return at->ns_labels;
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

static bool hook_matches(const cJSON *hook, attrs_t *at) {
  bool any = false;
  const cJSON *rule;
  cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(hook, "rules")) {
    if (rule_matches(rule, at)) {
      any = true;
      break;
    }
  }
  if (!any)
    return false;
  const cJSON *nsel = cJSON_GetObjectItemCaseSensitive(hook, "namespaceSelector");
  const schema_resource_t *s = at->res->s;
  bool is_ns = !s->group[0] && !strcmp(s->kind, "Namespace");
  if (is_ns) {
    if (!selector_matches(nsel, obj_get(the_object(at), "metadata.labels")))
      return false;
  } else if (s->namespaced) {
    if (!selector_matches(nsel, namespace_labels(at)))
      return false;
  }
  const cJSON *osel = cJSON_GetObjectItemCaseSensitive(hook, "objectSelector");
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

static cJSON *review_tree(const attrs_t *at, const char *uid) {
  const schema_resource_t *s = at->res->s;
  cJSON *review = cJSON_CreateObject();
  cJSON_AddStringToObject(review, "apiVersion", "admission.k8s.io/v1");
  cJSON_AddStringToObject(review, "kind", "AdmissionReview");
  cJSON *r = cJSON_AddObjectToObject(review, "request");
  cJSON_AddStringToObject(r, "uid", uid);
  cJSON_AddItemToObject(r, "kind", gvk(s->group, s->version, "kind", s->kind));
  cJSON_AddItemToObject(r, "resource", gvk(s->group, s->version, "resource", s->plural));
  if (at->sub[0])
    cJSON_AddStringToObject(r, "subResource", at->sub);
  cJSON_AddItemToObject(r, "requestKind", gvk(s->group, s->version, "kind", s->kind));
  cJSON_AddItemToObject(r, "requestResource", gvk(s->group, s->version, "resource", s->plural));
  if (at->sub[0])
    cJSON_AddStringToObject(r, "requestSubResource", at->sub);
  const char *name = obj_str(the_object(at), "metadata.name");
  const char *ns = obj_str(the_object(at), "metadata.namespace");
  if (name && name[0])
    cJSON_AddStringToObject(r, "name", name);
  if (ns && ns[0])
    cJSON_AddStringToObject(r, "namespace", ns);
  cJSON_AddStringToObject(r, "operation", at->op);
  const api_user_t *u = http_req_app(at->req);
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
  const char *fm = http_req_query(at->req, "fieldManager");
  if (fm && strcmp(at->op, "DELETE"))
    cJSON_AddStringToObject(opts, "fieldManager", fm);
  return review;
}

/* upstream's "Internal error occurred: ..." for a failed call */
static void call_failed(api_status_t *st, const char *name, const char *why) {
  api_status_internal(st, "Internal error occurred: failed calling webhook \"%s\": %s", name, why);
  cJSON *causes = cJSON_CreateArray();
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "message", st->message + strlen("Internal error occurred: "));
  cJSON_AddItemToArray(causes, c);
  cJSON_Delete(st->causes);
  st->causes = causes;
}

/* A denial: upstream's webhookerrors.ToStatusErr. */
static void denied(api_status_t *st, const char *name, const cJSON *status) {
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
  int c = cJSON_IsNumber(code) ? (int)code->valuedouble : 0;
  if (c < 400 || c > 599)
    c = 400;
  const char *reason = obj_str(status, "reason");
  const char *msg = obj_str(status, "message");
  /* st keeps a pointer to its reason: the known ones, as static strings */
  static const char *const known[] = {"Forbidden", "BadRequest", "Invalid",        "Unauthorized",
                                      "NotFound",  "Conflict",   "TooManyRequests"};
  const char *r = "";
  for (size_t i = 0; reason && i < sizeof(known) / sizeof(known[0]); i++)
    if (!strcmp(reason, known[i]))
      r = known[i];
  if (msg && msg[0])
    api_status_init(st, c, r, "admission webhook \"%s\" denied the request: %s", name, msg);
  else if (reason && reason[0])
    api_status_init(st, c, r, "admission webhook \"%s\" denied the request: %s", name, reason);
  else
    api_status_init(st, c, r, "admission webhook \"%s\" denied the request without explanation",
                    name);
}

/* Call one webhook. Returns 0 (allowed; *ret_patch set for a mutating
 * webhook's patch, caller frees), 1 (a call failure ignored under
 * failurePolicy Ignore), or -EPERM with st filled. */
static int call_hook(attrs_t *at, const cJSON *hook, bool mutating, cJSON **ret_patch,
                     api_status_t *st) {
  const char *name = obj_str(hook, "name");
  const char *fp = obj_str(hook, "failurePolicy");
  bool ignore = fp && !strcmp(fp, "Ignore");
  const char *se = obj_str(hook, "sideEffects");
  if (at->dry_run && (!se || (strcmp(se, "None") && strcmp(se, "NoneOnDryRun")))) {
    api_status_bad_request(st, "admission webhook \"%s\" does not support dry run", name);
    return -EPERM;
  }
  const char *url = obj_str(hook, "clientConfig.url");
  char why[1200];
  if (!url) {
    snprintf(why, sizeof(why),
             "failed to call webhook: clientConfig.service is not supported by "
             "k3c yet; use clientConfig.url");
    goto call_error;
  }
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(hook, "timeoutSeconds");
  int timeout = cJSON_IsNumber(to) ? (int)to->valuedouble : 10;
  if (timeout < 1 || timeout > 30)
    timeout = 10;
  unsigned char *ca = NULL;
  size_t ca_len = 0;
  const char *ca_b64 = obj_str(hook, "clientConfig.caBundle");
  if (ca_b64 && ca_b64[0] && base64_decode(ca_b64, strlen(ca_b64), &ca, &ca_len) < 0) {
    snprintf(why, sizeof(why), "failed to call webhook: clientConfig.caBundle is not base64");
    goto call_error;
  }
  char uid[40];
  obj_uuid(uid, sizeof(uid));
  cJSON *review = review_tree(at, uid);
  char *full_url = xasprintf("%s?timeout=%ds", url, timeout);
  api_webhook_resp_t resp;
  char err[800] = "";
  cJSON *doc = NULL;
  /* encoding, the call and decoding: only this request's own memory is
   * used meanwhile */
  offload_unlock();
  char *body = cJSON_PrintUnformatted(review);
  cJSON_Delete(review);
  int r =
      api__webhook_post(full_url, ca, ca_len, body, strlen(body), timeout, &resp, err, sizeof(err));
  if (r == 0 && resp.code >= 200 && resp.code < 300)
    doc = cJSON_ParseWithLength(resp.body, resp.len);
  free(body);
  offload_relock();
  free(ca);
  if (r < 0) {
    snprintf(why, sizeof(why), "failed to call webhook: Post \"%s\": %s", full_url, err);
    free(full_url);
    goto call_error;
  }
  free(full_url);
  if (resp.code < 200 || resp.code >= 300) {
    snprintf(why, sizeof(why),
             "failed to call webhook: the server responded with the status code "
             "%d but did not return more information",
             resp.code);
    free(resp.body);
    goto call_error;
  }
  free(resp.body);
  const cJSON *response = cJSON_GetObjectItemCaseSensitive(doc, "response");
  const char *ruid = obj_str(response, "uid");
  const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(response, "allowed");
  if (!cJSON_IsObject(response)) {
    snprintf(why, sizeof(why), "received invalid webhook response: expected response, got none");
    cJSON_Delete(doc);
    goto call_error;
  }
  if (!ruid || strcmp(ruid, uid)) {
    snprintf(why, sizeof(why),
             "received invalid webhook response: expected response.uid=\"%s\", "
             "got \"%s\"",
             uid, ruid ? ruid : "");
    cJSON_Delete(doc);
    goto call_error;
  }
  const cJSON *w;
  cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(response, "warnings")) {
    if (cJSON_IsString(w) && w->valuestring[0])
      api__add_warning(at->req, w->valuestring);
  }
  if (!cJSON_IsTrue(allowed)) {
    denied(st, name, cJSON_GetObjectItemCaseSensitive(response, "status"));
    cJSON_Delete(doc);
    return -EPERM;
  }
  const char *patch = obj_str(response, "patch");
  const char *pt = obj_str(response, "patchType");
  if (mutating && patch && patch[0]) {
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    cJSON *ops = NULL;
    if (!pt || strcmp(pt, "JSONPatch")) {
      snprintf(why, sizeof(why),
               "received invalid webhook response: patchType \"%s\" is not "
               "supported (only JSONPatch)",
               pt ? pt : "");
      cJSON_Delete(doc);
      goto call_error;
    }
    if (base64_decode(patch, strlen(patch), &raw, &rawlen) < 0 ||
        !(ops = cJSON_ParseWithLength((const char *)raw, rawlen)) || !cJSON_IsArray(ops)) {
      free(raw);
      cJSON_Delete(ops);
      snprintf(why, sizeof(why),
               "received invalid webhook response: patch is not a base64 JSON "
               "array of operations");
      cJSON_Delete(doc);
      goto call_error;
    }
    free(raw);
    *ret_patch = ops;
  }
  cJSON_Delete(doc);
  return 0;
call_error:
  if (ignore) {
    log_warn("api", "failed calling webhook \"%s\" (failurePolicy Ignore): %s", name, why);
    return 1;
  }
  call_failed(st, name, why);
  return -EPERM;
}

/* Apply a webhook's patch to at->obj in place. */
static int apply_patch(attrs_t *at, const char *name, const cJSON *ops, api_status_t *st) {
  cJSON *doc = NULL;
  char err[512];
  if (json_patch_apply(at->obj, ops, &doc, err, sizeof(err)) < 0 || !cJSON_IsObject(doc)) {
    cJSON_Delete(doc);
    api_status_internal(st,
                        "Internal error occurred: JSON patch from webhook \"%s\" could not "
                        "be applied: %s",
                        name, err);
    return -EPERM;
  }
  cJSON *tmp = at->obj->child;
  at->obj->child = doc->child;
  doc->child = tmp;
  cJSON_Delete(doc);
  return 0;
}

/* Every webhook of the configurations of kind, in order. */
static int run_kind(attrs_t *at, const char *kind, bool mutating, api_status_t *st) {
  const api_resource_t *cres = api_registry_find_kind(GROUP, kind);
  if (!cres)
    return 0;
  /* the configurations are read first: the store may change while a call
   * runs unlocked */
  char *prefix = api_resource_key(cres, NULL, NULL);
  store_list_opts_t lo = {.prefix = prefix, .limit = MAX_CONFIGS};
  store_list_t l;
  cJSON *configs = cJSON_CreateArray();
  if (store_list(at->srv->store, &lo, &l) == 0) {
    for (size_t i = 0; i < l.n; i++) {
      cJSON *c = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
      if (c)
        cJSON_AddItemToArray(configs, c);
    }
    store_list_done(&l);
  }
  free(prefix);
  int r = 0;
  const cJSON *config;
  cJSON_ArrayForEach(config, configs) {
    const cJSON *hook;
    cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(config, "webhooks")) {
      if (!hook_matches(hook, at))
        continue;
      cJSON *patch = NULL;
      int c = call_hook(at, hook, mutating, &patch, st);
      if (c < 0) {
        r = c;
        goto out;
      }
      if (patch && at->obj) {
        c = apply_patch(at, obj_str(hook, "name"), patch, st);
        cJSON_Delete(patch);
        if (c < 0) {
          r = c;
          goto out;
        }
      } else {
        cJSON_Delete(patch);
      }
    }
  }
out:
  cJSON_Delete(configs);
  return r;
}

static bool skipped(const api_resource_t *res) {
  return !strcmp(res->s->group, GROUP) && (!strcmp(res->s->kind, "MutatingWebhookConfiguration") ||
                                           !strcmp(res->s->kind, "ValidatingWebhookConfiguration"));
}

static int run(api_admission_t *a, bool mutating, api_status_t *st) {
  if (!a->req || skipped(a->res))
    return 0;
  attrs_t at = {.srv = a->srv,
                .req = a->req,
                .res = a->res,
                .op = a->old ? "UPDATE" : "CREATE",
                .sub = a->sub ? a->sub : "",
                .obj = a->obj,
                .old = a->old,
                .dry_run = http_req_query(a->req, "dryRun") != NULL};
  int r =
      run_kind(&at, mutating ? "MutatingWebhookConfiguration" : "ValidatingWebhookConfiguration",
               mutating, st);
  cJSON_Delete(at.ns_labels);
  return r;
}

int api__admit_webhooks(api_admission_t *a, api_status_t *st) {
  return run(a, true, st);
}
int api__validate_webhooks(api_admission_t *a, api_status_t *st) {
  return run(a, false, st);
}

int api__webhooks_delete(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                         const cJSON *old, const char *sub, api_status_t *st) {
  if (!req || skipped(res))
    return 0;
  attrs_t at = {.srv = srv,
                .req = req,
                .res = res,
                .op = "DELETE",
                .sub = sub ? sub : "",
                .old = old,
                .dry_run = http_req_query(req, "dryRun") != NULL};
  int r = run_kind(&at, "MutatingWebhookConfiguration", true, st);
  if (r == 0)
    r = run_kind(&at, "ValidatingWebhookConfiguration", false, st);
  cJSON_Delete(at.ns_labels);
  return r;
}
