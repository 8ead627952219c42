/* ValidatingAdmissionPolicy: CEL validations of writes, evaluated in the
 * server (k8s.io/apiserver/pkg/admission/plugin/policy/validating).
 * https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
 *
 * Every ValidatingAdmissionPolicyBinding whose policy exists and matches
 * the request (the policy's matchConstraints, then the binding's
 * matchResources) evaluates the policy once per parameter object (none
 * without paramKind): matchConditions first (one false skips), then
 * variables (each one's value or error, in order) and validations with the
 * variables object, oldObject, request, params, namespaceObject and
 * variables. A failed validation is enforced as the binding's
 * validationActions say: Deny refuses the write with upstream's Status
 * (reason and code from the validation's reason, Invalid by default), Warn
 * adds a Warning header, Audit an audit annotation. Errors (evaluation,
 * missing parameters, a parameter kind that is not served) follow the
 * policy's failurePolicy. The policy and binding kinds themselves and
 * internal writes are never validated, as upstream. Loop lock held. */
#pragma once

#include "api/admission.h"
#include "api/admmatch.h"
#include "cel/cel.h"

/* The validating admission plugin (before the validating webhooks, as
 * upstream); create and update. */
int api__validate_policies(api_admission_t *a, api_status_t *st);

/* A DELETE of old (operations DELETE; object is null). 0 or -EPERM. */
int api__policies_delete(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                         const cJSON *old, const char *sub, api_status_t *st);

/* What an expression of a policy is, for its environment and the type it
 * must evaluate to. */
typedef enum {
  API_VAP_VALIDATION,   /* bool */
  API_VAP_MESSAGE,      /* messageExpression: string */
  API_VAP_MATCH,        /* matchCondition: bool, no variables */
  API_VAP_VARIABLE,     /* any */
  API_VAP_AUDIT,        /* auditAnnotation valueExpression: string or null */
} api_vap_expr_t;

/* The CEL environment of a policy's expressions (with params when
 * has_params): made on first use and shared, never freed. Loop lock held. */
const cel_env_t *api__vap_env(bool has_params, api_vap_expr_t what);

/* Compile expr for what; on an error adds upstream's cause at field
 * ("Invalid value: \"<expr>\": compilation failed: ERROR: ...") and returns
 * NULL. Caller frees the program (before env). */
cel_program_t *api__vap_compile(const cel_env_t *env, const char *expr, api_vap_expr_t what,
                                const char *field, api_status_t *st);

/* matchConditions (a webhook's or a policy's) for the request: 1 all
 * true, 0 one is false (skip), -1 an evaluation error (err says which).
 * request: the AdmissionRequest (api__adm_request). budget: the cost left,
 * decremented. */
int api__adm_match_conditions(api_adm_attrs_t *at, const cJSON *request, const cJSON *conds,
                              const cJSON *params, bool has_params, uint64_t *budget, char *err,
                              size_t errlen);
