/* ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding: upstream's
 * defaults (pkg/apis/admissionregistration/v1 defaults.go), the validation
 * users meet (pkg/apis/admissionregistration/validation), CEL expressions
 * compiled at write time so a broken one is refused then, and the table
 * cells. The evaluation is vap.c's. */
#include "api/kinds.h"
#include "api/object.h"
#include "api/vap.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void match_resources_defaults(cJSON *mr) {
  if (!cJSON_IsObject(mr))
    return;
  obj_set_default(mr, "matchPolicy", cJSON_CreateString("Equivalent"));
  obj_set_default(mr, "namespaceSelector", cJSON_CreateObject());
  obj_set_default(mr, "objectSelector", cJSON_CreateObject());
  static const char *const lists[] = {"resourceRules", "excludeResourceRules"};
  for (size_t i = 0; i < 2; i++) {
    cJSON *rule;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(mr, lists[i]))
      obj_set_default(rule, "scope", cJSON_CreateString("*"));
  }
}

static void policy_defaults(cJSON *obj) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  obj_set_default(spec, "failurePolicy", cJSON_CreateString("Fail"));
  match_resources_defaults(cJSON_GetObjectItemCaseSensitive(spec, "matchConstraints"));
}

static void binding_defaults(cJSON *obj) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  match_resources_defaults(cJSON_GetObjectItemCaseSensitive(spec, "matchResources"));
  obj_set_default(cJSON_GetObjectItemCaseSensitive(spec, "paramRef"), "parameterNotFoundAction",
              cJSON_CreateString("Deny"));
}

static void unsupported(api_status_t *st, const char *field, const char *v, const char *supported) {
  api__cause(st, "FieldValueNotSupported", field, "Unsupported value: \"%.200s\": supported values: %s",
             v ? v : "", supported);
}

static bool cel_ident(const char *s) {
  if (!s || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return false;
  for (const char *p = s; *p; p++)
    if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      return false;
  return true;
}

/* Compiles the expression at obj[key] (required) in env for what. */
static void check_expr(const cJSON *obj, const char *key, const cel_env_t *env, api_vap_expr_t what,
                       const char *field, api_status_t *st) {
  const char *expr = obj_str(obj, key);
  char f[256];
  snprintf(f, sizeof(f), "%s.%s", field, key);
  if (!expr || !expr[strspn(expr, " \t\r\n")]) {
    api__cause(st, "FieldValueRequired", f, "Required value: %s is not specified", key);
    return;
  }
  cel_program_free(api__vap_compile(env, expr, what, f, st));
}

static void policy_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  (void)old;
  const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  const char *fp = obj_str(spec, "failurePolicy");
  if (fp && strcmp(fp, "Fail") && strcmp(fp, "Ignore"))
    unsupported(st, "spec.failurePolicy", fp, "\"Fail\", \"Ignore\"");
  const cJSON *mc = cJSON_GetObjectItemCaseSensitive(spec, "matchConstraints");
  if (!mc)
    api__cause_required(st, "spec.matchConstraints");
  else if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(mc, "resourceRules")))
    api__cause_required(st, "spec.matchConstraints.resourceRules");
  const cJSON *pk = cJSON_GetObjectItemCaseSensitive(spec, "paramKind");
  if (pk) {
    if (!obj_str(pk, "kind") || !obj_str(pk, "kind")[0])
      api__cause_required(st, "spec.paramKind.kind");
    if (!obj_str(pk, "apiVersion") || !obj_str(pk, "apiVersion")[0])
      api__cause_required(st, "spec.paramKind.apiVersion");
  }
  const cJSON *vals = cJSON_GetObjectItemCaseSensitive(spec, "validations");
  const cJSON *audits = cJSON_GetObjectItemCaseSensitive(spec, "auditAnnotations");
  if (!cJSON_GetArraySize(vals) && !cJSON_GetArraySize(audits))
    api__cause(st, "FieldValueRequired", "spec.validations",
               "Required value: validations or auditAnnotations must contain at least one item");
  bool params = pk != NULL;
  const cel_env_t *match_env = api__vap_env(params, API_VAP_MATCH);
  const cel_env_t *env = api__vap_env(params, API_VAP_VALIDATION);
  char f[128];
  int i = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(spec, "matchConditions")) {
    snprintf(f, sizeof(f), "spec.matchConditions[%d]", i++);
    const char *name = obj_str(x, "name");
    if (!name || !name[0]) {
      char nf[160];
      snprintf(nf, sizeof(nf), "%s.name", f);
      api__cause_required(st, nf);
    }
    check_expr(x, "expression", match_env, API_VAP_MATCH, f, st);
  }
  i = 0;
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(spec, "variables")) {
    snprintf(f, sizeof(f), "spec.variables[%d]", i++);
    const char *name = obj_str(x, "name");
    char nf[160];
    snprintf(nf, sizeof(nf), "%s.name", f);
    if (!name || !name[0])
      api__cause_required(st, nf);
    else if (!cel_ident(name))
      api__cause(st, "FieldValueInvalid", nf, "Invalid value: \"%.200s\": name is not a valid CEL identifier", name);
    check_expr(x, "expression", env, API_VAP_VARIABLE, f, st);
  }
  i = 0;
  cJSON_ArrayForEach(x, vals) {
    snprintf(f, sizeof(f), "spec.validations[%d]", i++);
    check_expr(x, "expression", env, API_VAP_VALIDATION, f, st);
    const char *msg = obj_str(x, "message");
    char mf[160];
    snprintf(mf, sizeof(mf), "%s.message", f);
    if (msg && strpbrk(msg, "\r\n"))
      api__cause(st, "FieldValueInvalid", mf, "Invalid value: \"%.200s\": message must not contain line breaks", msg);
    const char *expr = obj_str(x, "expression");
    if (expr && strpbrk(expr, "\r\n") && (!msg || !msg[0]))
      api__cause(st, "FieldValueRequired", mf, "Required value: message must be specified if expression contains line breaks");
    const char *mexpr = obj_str(x, "messageExpression");
    if (mexpr && mexpr[0]) {
      snprintf(mf, sizeof(mf), "%s.messageExpression", f);
      cel_program_free(api__vap_compile(env, mexpr, API_VAP_MESSAGE, mf, st));
    }
    const char *reason = obj_str(x, "reason");
    if (reason && strcmp(reason, "Unauthorized") && strcmp(reason, "Forbidden") &&
        strcmp(reason, "Invalid") && strcmp(reason, "RequestEntityTooLarge")) {
      snprintf(mf, sizeof(mf), "%s.reason", f);
      unsupported(st, mf, reason, "\"Forbidden\", \"Invalid\", \"RequestEntityTooLarge\", \"Unauthorized\"");
    }
  }
  i = 0;
  cJSON_ArrayForEach(x, audits) {
    snprintf(f, sizeof(f), "spec.auditAnnotations[%d]", i++);
    const char *key = obj_str(x, "key");
    if (!key || !key[0]) {
      char kf[160];
      snprintf(kf, sizeof(kf), "%s.key", f);
      api__cause_required(st, kf);
    }
    check_expr(x, "valueExpression", env, API_VAP_AUDIT, f, st);
  }
}

static void binding_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  (void)old;
  const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  const char *policy = obj_str(spec, "policyName");
  if (!policy || !policy[0])
    api__cause_required(st, "spec.policyName");
  const cJSON *acts = cJSON_GetObjectItemCaseSensitive(spec, "validationActions");
  if (!cJSON_GetArraySize(acts))
    api__cause(st, "FieldValueRequired", "spec.validationActions",
               "Required value: at least one validation action is required");
  bool deny = false, warn = false;
  int i = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, acts) {
    char f[96];
    snprintf(f, sizeof(f), "spec.validationActions[%d]", i);
    const char *s = cJSON_IsString(a) ? a->valuestring : "";
    if (strcmp(s, "Deny") && strcmp(s, "Warn") && strcmp(s, "Audit"))
      unsupported(st, f, s, "\"Audit\", \"Deny\", \"Warn\"");
    for (int j = 0; j < i; j++) {
      const cJSON *o = cJSON_GetArrayItem(acts, j);
      if (cJSON_IsString(o) && !strcmp(o->valuestring, s)) {
        api__cause(st, "FieldValueDuplicate", f, "Duplicate value: \"%.100s\"", s);
        break;
      }
    }
    deny |= !strcmp(s, "Deny");
    warn |= !strcmp(s, "Warn");
    i++;
  }
  if (deny && warn)
    api__cause(st, "FieldValueInvalid", "spec.validationActions",
               "Invalid value: []string{\"Deny\", \"Warn\"}: must not contain both Deny and Warn "
               "(repeating the same validation failure information in the API response and headers "
               "serves no purpose)");
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(spec, "paramRef");
  if (ref) {
    const char *name = obj_str(ref, "name");
    bool has_sel = cJSON_GetObjectItemCaseSensitive(ref, "selector") != NULL;
    if (name && name[0] && has_sel)
      api__cause(st, "FieldValueForbidden", "spec.paramRef.name",
                 "Forbidden: name and selector are mutually exclusive");
    if ((!name || !name[0]) && !has_sel)
      api__cause(st, "FieldValueRequired", "spec.paramRef",
                 "Required value: one of name or selector must be specified");
    const char *nf = obj_str(ref, "parameterNotFoundAction");
    if (nf && strcmp(nf, "Allow") && strcmp(nf, "Deny"))
      unsupported(st, "spec.paramRef.parameterNotFoundAction", nf, "\"Allow\", \"Deny\"");
  }
}

static cJSON *policy_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Validations"))
    return cJSON_CreateNumber(cJSON_GetArraySize(obj_get(obj, "spec.validations")));
  const char *v = obj_str(obj, "spec.paramKind.apiVersion"), *k = obj_str(obj, "spec.paramKind.kind");
  if (!v && !k)
    return cJSON_CreateString("<unset>");
  char *s = xasprintf("%s/%s", v ? v : "", k ? k : "");
  cJSON *c = cJSON_CreateString(s);
  free(s);
  return c;
}

static cJSON *binding_cell(const char *col, const cJSON *obj) {
  (void)col;
  const cJSON *ref = obj_get(obj, "spec.paramRef");
  if (!ref)
    return cJSON_CreateString("<unset>");
  const char *ns = obj_str(ref, "namespace"), *name = obj_str(ref, "name");
  char *s = xasprintf("%s/%s", ns && ns[0] ? ns : "*", name && name[0] ? name : "*");
  cJSON *c = cJSON_CreateString(s);
  free(s);
  return c;
}

const api_hooks_t api_kind_vap = {
    .defaults = policy_defaults, .validate = policy_validate, .cell = policy_cell, .generation = true};
const api_hooks_t api_kind_vapb = {
    .defaults = binding_defaults, .validate = binding_validate, .cell = binding_cell, .generation = true};
