/* ValidatingAdmissionPolicy evaluation (vap.h). Policies and bindings are
 * read from the store per request and their expressions compiled then:
 * a handful of short expressions compile in microseconds. */
#include "api/vap.h"

#include "api/admmatch.h"
#include "api/audit.h"
#include "api/object.h"
#include "cel/value.h"
#include "json/selector.h"
#include "util/alloc.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "admissionregistration.k8s.io"
#define MAX_BINDINGS 1000
#define MAX_PARAMS 1000

/* ---- environment and compiling ---- */

static cel_env_t *env_new(bool has_params, api_vap_expr_t what) {
  bool authz = what == API_VAP_VALIDATION || what == API_VAP_MATCH || what == API_VAP_VARIABLE;
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES | (authz ? CEL_LIB_AUTHZ : 0));
  if (authz)
    cel_env_declare(env, "authorizer", cel_type_dyn());
  cel_env_declare(env, "object", cel_type_dyn());
  cel_env_declare(env, "oldObject", cel_type_dyn());
  cel_env_declare(env, "request", cel_type_object_dyn());
  cel_env_declare(env, "namespaceObject", cel_type_dyn());
  if (has_params)
    cel_env_declare(env, "params", cel_type_dyn());
  if (what != API_VAP_MATCH)
    cel_env_declare(env, "variables", cel_type_object_dyn());
  return env;
}

const cel_env_t *api__vap_env(bool has_params, api_vap_expr_t what) {
  /* built once each (registering the libraries parses hundreds of
   * signatures) and shared: an environment is immutable once made */
  static cel_env_t *envs[2][API_VAP_AUDIT + 1];
  cel_env_t **e = &envs[has_params][what];
  if (!*e)
    *e = env_new(has_params, what);
  return *e;
}

static cel_result_t result_of(api_vap_expr_t what) {
  switch (what) {
  case API_VAP_VALIDATION:
  case API_VAP_MATCH:
    return CEL_RESULT_BOOL;
  case API_VAP_MESSAGE:
    return CEL_RESULT_STRING;
  default:
    return CEL_RESULT_ANY;
  }
}

cel_program_t *api__vap_compile(const cel_env_t *env, const char *expr, api_vap_expr_t what,
                                const char *field, api_status_t *st) {
  cel_error_t err;
  cel_program_t *p = cel_compile(env, expr, result_of(what), &err);
  if (!p && st) {
    char *msg = xasprintf("Invalid value: \"%s\": compilation failed: %s", expr, err.message);
    api_status_add_cause(st, "FieldValueInvalid", field, msg);
    free(msg);
  }
  return p;
}

/* ---- one evaluation ---- */

typedef enum { ACT_DENY = 1, ACT_WARN = 2, ACT_AUDIT = 4 } action_t;

typedef struct {
  api_adm_attrs_t *at;
  const cJSON *policy, *binding;
  const char *pname, *bname;
  unsigned actions;
  bool fail_closed;       /* failurePolicy Fail */
  cJSON *request;         /* the AdmissionRequest (owned) */
  /* the first denial */
  bool denied;
  char message[900];
  const char *reason;
  cJSON *audit_failures;  /* for the Audit action (owned) */
} run_t;

static const char *known_reason(const char *r) {
  static const char *const known[] = {"Unauthorized", "Forbidden", "Invalid",
                                      "RequestEntityTooLarge"};
  for (size_t i = 0; r && i < sizeof(known) / sizeof(known[0]); i++)
    if (!strcmp(r, known[i]))
      return known[i];
  return "Invalid";
}

/* A failed validation (or an error under failurePolicy Fail), enforced
 * as the binding's actions say. */
static void failure(run_t *r, const char *msg, const char *reason, int index) {
  if (r->actions & ACT_DENY && !r->denied) {
    r->denied = true;
    snprintf(r->message, sizeof(r->message), "%s", msg);
    r->reason = known_reason(reason);
  }
  if (r->actions & ACT_WARN) {
    char *w = xasprintf("Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s",
                        r->pname, r->bname, msg);
    api__add_warning(r->at->req, w);
    free(w);
  }
  if (r->actions & ACT_AUDIT) {
    if (!r->audit_failures)
      r->audit_failures = cJSON_CreateArray();
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "message", msg);
    cJSON_AddStringToObject(f, "policy", r->pname);
    cJSON_AddStringToObject(f, "binding", r->bname);
    cJSON_AddNumberToObject(f, "expressionIndex", index);
    cJSON *acts = cJSON_AddArrayToObject(f, "validationActions");
    if (r->actions & ACT_DENY)
      cJSON_AddItemToArray(acts, cJSON_CreateString("Deny"));
    if (r->actions & ACT_WARN)
      cJSON_AddItemToArray(acts, cJSON_CreateString("Warn"));
    cJSON_AddItemToArray(acts, cJSON_CreateString("Audit"));
    cJSON_AddItemToArray(r->audit_failures, f);
  }
}

/* An error of the policy or its evaluation: failurePolicy decides. */
static void error_failure(run_t *r, const char *msg) {
  if (r->fail_closed)
    failure(r, msg, "Invalid", -1);
  else
    log_debug("api", "ValidatingAdmissionPolicy '%s' (failurePolicy Ignore): %s", r->pname, msg);
}

/* authorizer checks: the request's user, through RBAC */
static int authz_check(void *ctx, const cel_authz_query_t *q, bool *ret_allowed, char *reason,
                       size_t reason_len) {
  api_adm_attrs_t *at = ctx;
  const api_user_t *u = at->req ? http_req_app(at->req) : NULL;
  if (!u) {
    snprintf(reason, reason_len, "no user to authorize");
    return -1;
  }
  api_reqinfo_t ri = {.is_resource = q->path == NULL, .verb = q->verb};
  snprintf(ri.group, sizeof(ri.group), "%s", q->group);
  snprintf(ri.resource, sizeof(ri.resource), "%s", q->resource);
  snprintf(ri.subresource, sizeof(ri.subresource), "%s", q->subresource);
  snprintf(ri.ns, sizeof(ri.ns), "%s", q->namespace_);
  snprintf(ri.name, sizeof(ri.name), "%s", q->name);
  api_status_t st;
  memset(&st, 0, sizeof(st));
  *ret_allowed = api__authorize(at->srv, u, &ri, q->verb, q->path ? q->path : "", &st);
  snprintf(reason, reason_len, "%s", *ret_allowed ? "" : st.message);
  api_status_done(&st);
  return 0;
}

static void bind_common(api_adm_attrs_t *at, const cJSON *request, cel_activation_t *act,
                        const cJSON *params, bool has_params) {
  cel_activation_set_authorizer(act, "authorizer", authz_check, at);
  cel_activation_set_json(act, "object", at->obj);
  cel_activation_set_json(act, "oldObject", at->old);
  cel_activation_set_json(act, "request", request);
  cel_activation_set_json(act, "namespaceObject", api__adm_namespace(at));
  if (has_params)
    cel_activation_set_json(act, "params", params);
}

int api__adm_match_conditions(api_adm_attrs_t *at, const cJSON *request, const cJSON *conds,
                              const cJSON *params, bool has_params, uint64_t *budget, char *err,
                              size_t errlen) {
  if (!cJSON_GetArraySize(conds))
    return 1;
  const cel_env_t *env = api__vap_env(has_params, API_VAP_MATCH);
  cel_activation_t *act = cel_activation_new();
  bind_common(at, request, act, params, has_params);
  int ret = 1;
  const cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    const char *expr = obj_str(c, "expression");
    const char *name = obj_str(c, "name");
    cel_error_t cerr;
    cel_program_t *p = cel_compile(env, expr ? expr : "", CEL_RESULT_BOOL, &cerr);
    bool v = false;
    uint64_t used = 0;
    int e = p ? cel_eval_bool(p, act, *budget, &used, &v, &cerr) : -EINVAL;
    cel_program_free(p);
    *budget = used > *budget ? 0 : *budget - used;
    if (e < 0) {
      snprintf(err, errlen, "failed to evaluate match condition '%.200s': %.700s", name ? name : "",
               cerr.message);
      ret = -1;
      break;
    }
    if (!v) {
      ret = 0;
      break;
    }
  }
  cel_activation_free(act);
  return ret;
}

/* The policy's matchConditions: 1 all true, 0 one false (skip), -1 an
 * error (recorded as failurePolicy says). */
static int match_conditions(run_t *r, const cJSON *params, bool has_params, uint64_t *budget) {
  char msg[1000];
  int m = api__adm_match_conditions(r->at, r->request, obj_get(r->policy, "spec.matchConditions"),
                                    params, has_params, budget, msg, sizeof(msg));
  if (m < 0)
    error_failure(r, msg);
  return m;
}

/* The variables of the policy, in order, as a map name -> value (an error
 * value for one that failed: it fails only the expressions that use it). */
static cel_value_t *variables(run_t *r, const cel_env_t *env, cel_activation_t *act,
                              uint64_t *budget) {
  cel_value_t *vars = cel_map_new(4);
  cel_activation_set_value(act, "variables", vars);
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(r->policy, "spec.variables")) {
    const char *name = obj_str(v, "name"), *expr = obj_str(v, "expression");
    if (!name)
      continue;
    cel_error_t err;
    cel_program_t *p = cel_compile(env, expr ? expr : "", CEL_RESULT_ANY, &err);
    cel_value_t *val = NULL;
    uint64_t used = 0;
    if (!p || cel_eval(p, act, *budget, &used, &val, &err) < 0)
      val = cel_errorf("%s", err.message);
    cel_program_free(p);
    *budget = used > *budget ? 0 : *budget - used;
    /* a new map each time: values are immutable once bound */
    cel_value_t *next = cel_map_new(cel_map_len(vars) + 1);
    for (size_t i = 0; i < cel_map_len(vars); i++) {
      cel_value_t *k, *x;
      cel_map_entry(vars, i, &k, &x);
      cel_map_put(next, cel_value_ref(k), cel_value_ref(x));
    }
    cel_map_put(next, cel_stringz(name), val);
    cel_value_unref(vars);
    vars = next;
    cel_activation_set_value(act, "variables", vars);
  }
  return vars;
}

/* The failure message of validation v that evaluated to false. */
static void failure_message(const cJSON *v, const cel_env_t *msg_env, cel_activation_t *act,
                            uint64_t *budget, char *out, size_t len) {
  const char *mexpr = obj_str(v, "messageExpression");
  if (mexpr && mexpr[0]) {
    cel_error_t err;
    cel_program_t *p = cel_compile(msg_env, mexpr, CEL_RESULT_STRING, &err);
    char *s = NULL;
    uint64_t used = 0;
    int e = p ? cel_eval_string(p, act, *budget, &used, &s, &err) : -EINVAL;
    cel_program_free(p);
    *budget = used > *budget ? 0 : *budget - used;
    /* upstream falls back to message when the result is empty, blank or
     * has line breaks */
    if (e == 0 && s && s[strspn(s, " \t")] && !strpbrk(s, "\r\n")) {
      snprintf(out, len, "%s", s);
      free(s);
      return;
    }
    free(s);
  }
  const char *msg = obj_str(v, "message");
  if (msg && msg[0])
    snprintf(out, len, "%s", msg);
  else
    snprintf(out, len, "failed expression: %s", obj_str(v, "expression"));
}

/* One evaluation of the policy with one parameter object (or none). */
static void evaluate(run_t *r, const cJSON *params, bool has_params) {
  uint64_t budget = CEL_RUNTIME_BUDGET;
  if (match_conditions(r, params, has_params, &budget) <= 0)
    return;
  const cel_env_t *env = api__vap_env(has_params, API_VAP_VALIDATION);
  cel_activation_t *act = cel_activation_new();
  bind_common(r->at, r->request, act, params, has_params);
  cel_value_t *vars = variables(r, env, act, &budget);
  int i = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(r->policy, "spec.validations")) {
    const char *expr = obj_str(v, "expression");
    cel_error_t err;
    cel_program_t *p = cel_compile(env, expr ? expr : "", CEL_RESULT_BOOL, &err);
    bool ok = false;
    uint64_t used = 0;
    int e = p ? cel_eval_bool(p, act, budget, &used, &ok, &err) : -EINVAL;
    cel_program_free(p);
    budget = used > budget ? 0 : budget - used;
    char msg[900];
    if (e == -E2BIG) {
      error_failure(r, "validation failed due to running out of cost budget, no further validation "
                       "rules will be run");
      break;
    } else if (e < 0) {
      snprintf(msg, sizeof(msg), "expression '%.300s' resulted in error: %.500s", expr ? expr : "",
               err.message);
      error_failure(r, msg);
    } else if (!ok) {
      failure_message(v, env, act, &budget, msg, sizeof(msg));
      failure(r, msg, obj_str(v, "reason"), i);
    }
    i++;
  }
  cel_value_unref(vars);
  cel_activation_free(act);
}

/* ---- matching, parameters ---- */

/* MatchResources: resourceRules (a binding's may be empty: no constraint),
 * excludeResourceRules, selectors. */
static bool resources_match(const cJSON *mr, api_adm_attrs_t *at, bool rules_required) {
  if (!mr)
    return !rules_required;
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(mr, "resourceRules");
  if ((rules_required || cJSON_GetArraySize(rules) > 0) && !api__adm_rules_match(rules, at))
    return false;
  if (api__adm_rules_match(cJSON_GetObjectItemCaseSensitive(mr, "excludeResourceRules"), at))
    return false;
  return api__adm_selectors_match(cJSON_GetObjectItemCaseSensitive(mr, "namespaceSelector"),
                                  cJSON_GetObjectItemCaseSensitive(mr, "objectSelector"), at);
}

static cJSON *get_object(api_server_t *srv, const api_resource_t *res, const char *ns,
                         const char *name) {
  char *key = api_resource_key(res, ns, name);
  store_kv_t *kv = NULL;
  cJSON *o = NULL;
  if (store_get_latest(srv->store, key, &kv) == 0) {
    o = cJSON_ParseWithLength(kv->value, kv->len);
    store_kv_unref(kv);
  }
  free(key);
  return o;
}

typedef struct {
  label_selector_t *sel;
  cJSON *out;
} collect_t;

static bool collect(const cJSON *obj, void *data) {
  collect_t *c = data;
  if (label_selector_match(c->sel, obj_get(obj, "metadata.labels")))
    cJSON_AddItemToArray(c->out, cJSON_Duplicate(obj, 1));
  return cJSON_GetArraySize(c->out) < MAX_PARAMS;
}

/* The parameter objects of a binding, or NULL with a failure recorded. */
static cJSON *params_of(run_t *r, const cJSON *kind_ref) {
  api_adm_attrs_t *at = r->at;
  const char *apiv = obj_str(kind_ref, "apiVersion"), *kind = obj_str(kind_ref, "kind");
  const char *slash = apiv ? strchr(apiv, '/') : NULL;
  char group[256] = "";
  const char *version = apiv ? apiv : "";
  if (slash) {
    snprintf(group, sizeof(group), "%.*s", (int)(slash - apiv), apiv);
    version = slash + 1;
  }
  const api_resource_t *pres = NULL;
  for (size_t i = 0; kind && i < api_registry_count(); i++) {
    const api_resource_t *x = api_registry_at(i);
    if (x && !strcmp(x->s->group, group) && !strcmp(x->s->version, version) &&
        !strcmp(x->s->kind, kind))
      pres = x;
  }
  char msg[600];
  if (!pres) {
    snprintf(msg, sizeof(msg), "failed to configure policy: failed to find resource referenced by paramKind: '%s, Kind=%s'",
             apiv ? apiv : "", kind ? kind : "");
    error_failure(r, msg);
    return NULL;
  }
  const cJSON *ref = obj_get(r->binding, "spec.paramRef");
  const char *pname = obj_str(ref, "name"), *pns = obj_str(ref, "namespace");
  const char *req_ns = obj_str(api__adm_object(at), "metadata.namespace");
  const char *ns = NULL;
  if (pres->s->namespaced) {
    ns = pns && pns[0] ? pns : req_ns;
    if (!ns || !ns[0]) {
      error_failure(r, "failed to configure binding: cannot use namespaced paramRef in policy binding that matches cluster-scoped resources");
      return NULL;
    }
  }
  cJSON *out = cJSON_CreateArray();
  if (pname && pname[0]) {
    cJSON *o = get_object(at->srv, pres, ns, pname);
    if (o)
      cJSON_AddItemToArray(out, o);
  } else {
    collect_t c = {.out = out};
    char err[256];
    /* validation requires name or selector; a null selector selects nothing */
    if (label_selector_from_json(cJSON_GetObjectItemCaseSensitive(ref, "selector"), &c.sel, err,
                                 sizeof(err)) < 0) {
      cJSON_Delete(out);
      snprintf(msg, sizeof(msg), "failed to configure binding: %s", err);
      error_failure(r, msg);
      return NULL;
    }
    api__admission_each(at->srv, pres, ns, MAX_PARAMS * 4, collect, &c);
    label_selector_free(c.sel);
  }
  if (cJSON_GetArraySize(out) == 0) {
    const char *nf = obj_str(ref, "parameterNotFoundAction");
    cJSON_Delete(out);
    if (nf && !strcmp(nf, "Allow"))
      return NULL;
    error_failure(r, "no params found for policy binding with `Deny` parameterNotFoundAction");
    return NULL;
  }
  return out;
}

/* ---- the plugin ---- */

static bool is_policy_kind(const api_resource_t *res) {
  return !strcmp(res->s->group, GROUP) && (!strcmp(res->s->kind, "ValidatingAdmissionPolicy") ||
                                           !strcmp(res->s->kind, "ValidatingAdmissionPolicyBinding"));
}

static bool collect_all(const cJSON *obj, void *data) {
  cJSON_AddItemToArray(data, cJSON_Duplicate(obj, 1));
  return true;
}

static unsigned actions_of(const cJSON *binding) {
  unsigned a = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, obj_get(binding, "spec.validationActions")) {
    const char *s = cJSON_IsString(x) ? x->valuestring : "";
    a |= !strcmp(s, "Deny") ? ACT_DENY : !strcmp(s, "Warn") ? ACT_WARN : !strcmp(s, "Audit") ? ACT_AUDIT : 0;
  }
  return a;
}

static int run(api_adm_attrs_t *at, api_status_t *st) {
  const api_resource_t *bres = api_registry_find_kind(GROUP, "ValidatingAdmissionPolicyBinding");
  const api_resource_t *pres = api_registry_find_kind(GROUP, "ValidatingAdmissionPolicy");
  if (!at->req || !bres || !pres || is_policy_kind(at->res))
    return 0;
  cJSON *bindings = cJSON_CreateArray();
  api__admission_each(at->srv, bres, NULL, MAX_BINDINGS, collect_all, bindings);
  int ret = 0;
  cJSON *audit = NULL;
  const cJSON *b;
  cJSON_ArrayForEach(b, bindings) {
    const char *pname = obj_str(b, "spec.policyName");
    cJSON *policy = pname ? get_object(at->srv, pres, NULL, pname) : NULL;
    if (!policy)
      continue; /* a binding of a policy that does not exist is ignored */
    run_t r = {.at = at, .policy = policy, .binding = b, .pname = pname,
               .bname = obj_str(b, "metadata.name"), .actions = actions_of(b)};
    const char *fp = obj_str(policy, "spec.failurePolicy");
    r.fail_closed = !fp || strcmp(fp, "Ignore");
    if (!resources_match(obj_get(policy, "spec.matchConstraints"), at, true) ||
        !resources_match(obj_get(b, "spec.matchResources"), at, false)) {
      cJSON_Delete(policy);
      continue;
    }
    char uid[40];
    obj_uuid(uid, sizeof(uid));
    r.request = api__adm_request(at, uid);
    const cJSON *kind_ref = obj_get(policy, "spec.paramKind");
    if (kind_ref && obj_get(b, "spec.paramRef")) {
      cJSON *params = params_of(&r, kind_ref);
      const cJSON *p;
      cJSON_ArrayForEach(p, params) {
        evaluate(&r, p, true);
        if (r.denied)
          break;
      }
      cJSON_Delete(params);
    } else {
      /* paramKind without paramRef: params is null */
      evaluate(&r, NULL, kind_ref != NULL);
    }
    if (r.audit_failures) {
      if (!audit)
        audit = cJSON_CreateArray();
      cJSON *f;
      while ((f = cJSON_DetachItemFromArray(r.audit_failures, 0)))
        cJSON_AddItemToArray(audit, f);
      cJSON_Delete(r.audit_failures);
    }
    cJSON_Delete(r.request);
    if (r.denied) {
      char msg[1024];
      snprintf(msg, sizeof(msg), "ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s",
               r.pname, r.bname, r.message);
      api_admission_t a = {.srv = at->srv, .req = at->req, .res = at->res, .obj = at->obj ? at->obj : (cJSON *)at->old};
      api__admission_forbidden(&a, st, msg);
      st->reason = r.reason;
      st->code = !strcmp(r.reason, "Forbidden") ? 403 : !strcmp(r.reason, "Unauthorized") ? 401
                 : !strcmp(r.reason, "RequestEntityTooLarge") ? 413 : 422;
      cJSON_Delete(st->causes);
      st->causes = cJSON_CreateArray();
      cJSON *c = cJSON_CreateObject();
      cJSON_AddStringToObject(c, "message", msg);
      cJSON_AddItemToArray(st->causes, c);
      ret = -EPERM;
    }
    cJSON_Delete(policy);
    if (ret < 0)
      break;
  }
  if (audit) {
    char *text = cJSON_PrintUnformatted(audit);
    api__audit_annotate(api__request_audit(at->req), "validation.policy.admission.k8s.io/validation_failure", text);
    free(text);
    cJSON_Delete(audit);
  }
  cJSON_Delete(bindings);
  return ret;
}

int api__validate_policies(api_admission_t *a, api_status_t *st) {
  api_adm_attrs_t at;
  api__adm_attrs_init(&at, a->srv, a->req, a->res, a->sub, a->obj, a->old, false);
  int r = run(&at, st);
  api__adm_attrs_done(&at);
  return r;
}

int api__policies_delete(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                         const cJSON *old, const char *sub, api_status_t *st) {
  api_adm_attrs_t at;
  api__adm_attrs_init(&at, srv, req, res, sub, NULL, old, true);
  int r = run(&at, st);
  api__adm_attrs_done(&at);
  return r;
}
