/* What admission webhooks and ValidatingAdmissionPolicies share about one
 * request: its attributes, matching by rules ("operations, apiGroups,
 * apiVersions, resources, scope"), namespaceSelector and objectSelector as
 * upstream's pkg/admission/plugin/webhook/predicates, and the
 * admission.k8s.io/v1 AdmissionRequest (the webhook's review body, the
 * policy's `request` variable). Loop lock held. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/internal.h"

typedef struct {
  api_server_t *srv;
  http_req_t *req;
  const api_resource_t *res;
  const char *op;   /* CREATE, UPDATE, DELETE */
  const char *sub;  /* "" for the main resource */
  cJSON *obj;       /* NULL on delete */
  const cJSON *old; /* NULL on create */
  bool dry_run;
  cJSON *ns_obj;    /* the object's namespace (owned), loaded once */
  bool ns_loaded;
  bool name_unknown; /* before the body is read: resourceNames pass */
} api_adm_attrs_t;

/* Fill at for one write (obj NULL on delete, old NULL on create). */
void api__adm_attrs_init(api_adm_attrs_t *at, api_server_t *srv, http_req_t *req,
                         const api_resource_t *res, const char *sub, cJSON *obj, const cJSON *old,
                         bool deleting);
void api__adm_attrs_done(api_adm_attrs_t *at);

/* The object the request is about: obj, or old on delete. */
const cJSON *api__adm_object(const api_adm_attrs_t *at);

/* The namespace object of a namespaced request (NULL for cluster-scoped
 * ones or when it does not exist); borrowed from at. */
const cJSON *api__adm_namespace(api_adm_attrs_t *at);

/* Whether one rule (RuleWithOperations or NamedRuleWithOperations, whose
 * resourceNames must then contain the object's name) matches. */
bool api__adm_rule_matches(const cJSON *rule, const api_adm_attrs_t *at);

/* Whether any rule of the list matches (an absent list matches nothing). */
bool api__adm_rules_match(const cJSON *rules, const api_adm_attrs_t *at);

/* namespaceSelector and objectSelector as upstream applies them: the
 * namespace's labels (a Namespace's own labels), cluster-scoped objects
 * always pass the namespace selector; the object selector passes if obj or
 * old has matching labels. NULL or {} selects everything. */
bool api__adm_selectors_match(const cJSON *nsel, const cJSON *osel, api_adm_attrs_t *at);

/* The AdmissionRequest of the request, with uid (caller frees). */
cJSON *api__adm_request(const api_adm_attrs_t *at, const char *uid);
