/* Admission webhooks called by URL (webhook.h). Matching follows upstream's
 * pkg/admission/plugin/webhook (rules, namespaceSelector, objectSelector);
 * the wire format is admission.k8s.io/v1 AdmissionReview. */
#include "api/webhook.h"

#include "api/admmatch.h"
#include "api/object.h"
#include "api/svcresolve.h"
#include "api/vap.h"
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

int api__webhook_target(api_server_t *srv, const cJSON *cc, int timeout, char *url, char *shown,
                        size_t len, char server_name[600], char *why, size_t whylen) {
  const char *u = obj_str(cc, "url");
  server_name[0] = 0;
  if (u) {
    snprintf(url, len, "%s?timeout=%ds", u, timeout);
    snprintf(shown, len, "%s", url);
    return 0;
  }
  /* a service reference: the URL names an endpoint, the certificate must
   * be the service's; errors name the service's URL, as upstream's dialer
   * does */
  const cJSON *svc = cJSON_GetObjectItemCaseSensitive(cc, "service");
  const char *sns = obj_str(svc, "namespace"), *sname = obj_str(svc, "name");
  const char *spath = obj_str(svc, "path");
  const cJSON *sport = cJSON_GetObjectItemCaseSensitive(svc, "port");
  int port = cJSON_IsNumber(sport) ? (int)sport->valuedouble : 443;
  api__service_dns_name(sns ? sns : "", sname ? sname : "", server_name, 600);
  snprintf(shown, len, "https://%s:%d%s?timeout=%ds", server_name, port, spath ? spath : "", timeout);
  char portstr[16], host[256];
  snprintf(portstr, sizeof(portstr), "%d", port);
  int eport = 0;
  api_status_t rst;
  memset(&rst, 0, sizeof(rst));
  int r = api__service_resolve(srv, sns, sname, portstr, host, sizeof(host), &eport, &rst);
  if (r < 0)
    snprintf(why, whylen, "failed to call webhook: Post \"%.500s\": %.500s", shown, rst.message);
  else
    snprintf(url, len, strchr(host, ':') ? "https://[%s]:%d%s?timeout=%ds" : "https://%s:%d%s?timeout=%ds",
             host, eport, spath ? spath : "", timeout);
  api_status_done(&rst);
  return r < 0 ? r : 0;
}

/* Call one webhook. Returns 0 (allowed; *ret_patch set for a mutating
 * webhook's patch, caller frees), 1 (a call failure ignored under
 * failurePolicy Ignore), or -EPERM with st filled. */
static int call_hook(api_adm_attrs_t *at, const cJSON *hook, bool mutating, cJSON **ret_patch,
                     api_status_t *st) {
  const char *name = obj_str(hook, "name");
  const char *fp = obj_str(hook, "failurePolicy");
  bool ignore = fp && !strcmp(fp, "Ignore");
  const char *se = obj_str(hook, "sideEffects");
  if (at->dry_run && (!se || (strcmp(se, "None") && strcmp(se, "NoneOnDryRun")))) {
    api_status_bad_request(st, "admission webhook \"%s\" does not support dry run", name);
    return -EPERM;
  }
  char why[1200];
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(hook, "timeoutSeconds");
  int timeout = cJSON_IsNumber(to) ? (int)to->valuedouble : 10;
  if (timeout < 1 || timeout > 30)
    timeout = 10;
  char full_url[1100], shown[1100], server_name[600];
  if (api__webhook_target(at->srv, cJSON_GetObjectItemCaseSensitive(hook, "clientConfig"), timeout,
                          full_url, shown, sizeof(shown), server_name, why, sizeof(why)) < 0)
    goto call_error;
  const char *sni = server_name[0] ? server_name : NULL;
  unsigned char *ca = NULL;
  size_t ca_len = 0;
  const char *ca_b64 = obj_str(hook, "clientConfig.caBundle");
  if (ca_b64 && ca_b64[0] && base64_decode(ca_b64, strlen(ca_b64), &ca, &ca_len) < 0) {
    snprintf(why, sizeof(why), "failed to call webhook: clientConfig.caBundle is not base64");
    goto call_error;
  }
  char uid[40];
  obj_uuid(uid, sizeof(uid));
  cJSON *review = cJSON_CreateObject();
  cJSON_AddStringToObject(review, "apiVersion", "admission.k8s.io/v1");
  cJSON_AddStringToObject(review, "kind", "AdmissionReview");
  cJSON_AddItemToObject(review, "request", api__adm_request(at, uid));
  api_webhook_resp_t resp;
  char err[800] = "";
  cJSON *doc = NULL;
  /* encoding, the call and decoding: only this request's own memory is
   * used meanwhile */
  offload_unlock();
  char *body = cJSON_PrintUnformatted(review);
  cJSON_Delete(review);
  int r =
      api__webhook_post(full_url, sni, ca, ca_len, body, strlen(body), timeout, &resp, err, sizeof(err));
  if (r == 0 && resp.code >= 200 && resp.code < 300)
    doc = cJSON_ParseWithLength(resp.body, resp.len);
  free(body);
  offload_relock();
  free(ca);
  if (r < 0) {
    snprintf(why, sizeof(why), "failed to call webhook: Post \"%.500s\": %.600s", shown, err);
    goto call_error;
  }
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
static int apply_patch(api_adm_attrs_t *at, const char *name, const cJSON *ops, api_status_t *st) {
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

/* The configurations of kind, read from the store (first: the store may
 * change while a call runs unlocked). */
static cJSON *configs_of(api_adm_attrs_t *at, const char *kind) {
  cJSON *configs = cJSON_CreateArray();
  const api_resource_t *cres = api_registry_find_kind(GROUP, kind);
  if (!cres)
    return configs;
  char *prefix = api_resource_key(cres, NULL, NULL);
  store_list_opts_t lo = {.prefix = prefix, .limit = MAX_CONFIGS};
  store_list_t l;
  if (store_list(at->srv->store, &lo, &l) == 0) {
    for (size_t i = 0; i < l.n; i++) {
      cJSON *c = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
      if (c)
        cJSON_AddItemToArray(configs, c);
    }
    store_list_done(&l);
  }
  free(prefix);
  return configs;
}

/* One webhook, if it applies to the request: its call, and a mutating
 * one's patch applied. *changed: the patch changed the object. 1 if it was
 * called (a failure under failurePolicy Ignore included), 0 if it does not
 * apply, or -EPERM with st set. */
static int run_hook(api_adm_attrs_t *at, const cJSON *hook, bool mutating, bool *changed,
                    api_status_t *st) {
  *changed = false;
  if (!api__adm_rules_match(cJSON_GetObjectItemCaseSensitive(hook, "rules"), at) ||
      !api__adm_selectors_match(cJSON_GetObjectItemCaseSensitive(hook, "namespaceSelector"),
                                cJSON_GetObjectItemCaseSensitive(hook, "objectSelector"), at))
    return 0;
  const cJSON *conds = cJSON_GetObjectItemCaseSensitive(hook, "matchConditions");
  if (cJSON_GetArraySize(conds) > 0) {
    cJSON *request = api__adm_request(at, "");
    uint64_t budget = CEL_RUNTIME_BUDGET;
    char why[1000];
    int m = api__adm_match_conditions(at, request, conds, NULL, false, &budget, why, sizeof(why));
    cJSON_Delete(request);
    if (m == 0)
      return 0;
    if (m < 0) {
      const char *fp = obj_str(hook, "failurePolicy");
      if (fp && !strcmp(fp, "Ignore"))
        return 0;
      call_failed(st, obj_str(hook, "name"), why);
      return -EPERM;
    }
  }
  cJSON *patch = NULL;
  int c = call_hook(at, hook, mutating, &patch, st);
  if (c < 0)
    return c;
  if (patch && at->obj) {
    cJSON *before = cJSON_Duplicate(at->obj, true);
    c = apply_patch(at, obj_str(hook, "name"), patch, st);
    *changed = c == 0 && !cJSON_Compare(before, at->obj, true);
    cJSON_Delete(before);
  }
  cJSON_Delete(patch);
  return c < 0 ? c : 1;
}

static bool if_needed(const cJSON *hook) {
  const char *rp = obj_str(hook, "reinvocationPolicy");
  return rp && !strcmp(rp, "IfNeeded");
}

/* Every webhook of the configurations of kind, in order (configurations by
 * name, as the store lists them). Mutating webhooks with reinvocationPolicy
 * IfNeeded are called once more, after the others, when a webhook after
 * them changed the object (upstream's reinvocation; the in-tree mutations
 * k3c runs do not depend on what webhooks add, so only webhooks run again). */
static int run_kind(api_adm_attrs_t *at, const char *kind, bool mutating, api_status_t *st) {
  cJSON *configs = configs_of(at, kind);
  int n_hooks = 0;
  const cJSON *config, *hook;
  cJSON_ArrayForEach(config, configs) {
    n_hooks += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(config, "webhooks"));
  }
  /* by ordinal: which webhooks the first round called, and the last one
   * whose patch changed the object; the second round calls the IfNeeded
   * webhooks called before that change */
  bool *called = xcalloc((size_t)n_hooks + 1, sizeof(*called));
  int last_change = -1, r = 0;
  for (int round = 0; round < 2 && r >= 0 && (round == 0 || last_change > 0); round++) {
    int i = 0;
    cJSON_ArrayForEach(config, configs) {
      cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(config, "webhooks")) {
        int k = i++;
        if (round == 1 && !(mutating && called[k] && k < last_change && if_needed(hook)))
          continue;
        bool changed;
        if ((r = run_hook(at, hook, mutating, &changed, st)) < 0)
          goto out;
        if (round == 0) {
          called[k] = r == 1;
          if (changed)
            last_change = k;
        }
      }
    }
  }
  r = 0;
out:
  free(called);
  cJSON_Delete(configs);
  return r;
}

static bool skipped(const api_resource_t *res);

/* Whether hook's rules, and but for a Namespace its namespaceSelector,
 * select at under one of the operations ops (NULL-ended, at most two). */
static bool hook_may_match(const cJSON *hook, api_adm_attrs_t *at, const char *const *ops,
                           bool is_ns) {
  for (size_t o = 0; o < 2 && ops[o]; o++) {
    at->op = ops[o];
    if (api__adm_rules_match(cJSON_GetObjectItemCaseSensitive(hook, "rules"), at) &&
        (is_ns || api__adm_selectors_match(
                      cJSON_GetObjectItemCaseSensitive(hook, "namespaceSelector"), NULL, at)))
      return true;
  }
  return false;
}

bool api__webhooks_may_match(api_server_t *srv, const api_resource_t *res, const char *sub,
                             const char *verb, const char *ns) {
  static const char *const kinds[] = {"MutatingWebhookConfiguration",
                                      "ValidatingWebhookConfiguration"};
  const char *ops[2] = {NULL, NULL}; /* a patch or an update may create */
  if (!strcmp(verb, "create"))
    ops[0] = "CREATE";
  else if (!strcmp(verb, "update") || !strcmp(verb, "patch"))
    ops[0] = "UPDATE", ops[1] = "CREATE";
  else if (!strcmp(verb, "delete"))
    ops[0] = "DELETE";
  if (!res || !ops[0] || skipped(res))
    return false;
  bool is_ns = !res->s->group[0] && !strcmp(res->s->kind, "Namespace");
  cJSON *stub = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(stub, "metadata");
  cJSON_AddStringToObject(md, "namespace", ns ? ns : "");
  api_adm_attrs_t at;
  api__adm_attrs_init(&at, srv, NULL, res, sub, stub, NULL, false);
  at.name_unknown = true;
  bool may = false;
  for (size_t k = 0; k < 2 && !may; k++) {
    cJSON *configs = configs_of(&at, kinds[k]);
    const cJSON *config, *hook;
    cJSON_ArrayForEach(config, configs) {
      cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(config, "webhooks")) {
        may = may || hook_may_match(hook, &at, ops, is_ns);
      }
    }
    cJSON_Delete(configs);
  }
  api__adm_attrs_done(&at);
  cJSON_Delete(stub);
  return may;
}

static bool skipped(const api_resource_t *res) {
  return !strcmp(res->s->group, GROUP) && (!strcmp(res->s->kind, "MutatingWebhookConfiguration") ||
                                           !strcmp(res->s->kind, "ValidatingWebhookConfiguration"));
}

static int run(api_admission_t *a, bool mutating, api_status_t *st) {
  if (!a->req || skipped(a->res))
    return 0;
  api_adm_attrs_t at;
  api__adm_attrs_init(&at, a->srv, a->req, a->res, a->sub, a->obj, a->old, false);
  int r =
      run_kind(&at, mutating ? "MutatingWebhookConfiguration" : "ValidatingWebhookConfiguration",
               mutating, st);
  api__adm_attrs_done(&at);
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
  api_adm_attrs_t at;
  api__adm_attrs_init(&at, srv, req, res, sub, NULL, old, true);
  int r = run_kind(&at, "MutatingWebhookConfiguration", true, st);
  if (r == 0)
    r = run_kind(&at, "ValidatingWebhookConfiguration", false, st);
  api__adm_attrs_done(&at);
  return r;
}
