/* x-kubernetes-validations: the CEL rules of a CRD version's structural
 * schema (apiextensions-apiserver/pkg/apiserver/schema/cel), with
 * upstream's messages.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-rules
 *
 * A rule sees the value of the schema node it is declared on as `self`
 * (typed by that node's schema) and, on updates, the stored value there as
 * `oldSelf`: a rule that uses oldSelf (a transition rule) runs only where
 * an old value exists and correlates (object properties, map values,
 * items of x-kubernetes-list-type map lists by their keys), unless
 * optionalOldSelf makes oldSelf an optional value. Pure; any thread. */
#pragma once

#include <cjson/cJSON.h>

#include "api/status.h"

typedef struct crd_rules crd_rules_t;

/* Compiles every rule of schema, once per CRD version (rules that do not
 * compile are refused by crd_rules_check and left out here). NULL when
 * the schema has no rules. Borrows schema: it must outlive the result. */
crd_rules_t *crd_rules_new(const cJSON *schema);
void crd_rules_free(crd_rules_t *r); /* accepts NULL */

/* At CRD creation and update: each rule must compile to a bool, within
 * upstream's static cost limit for one rule (10,000,000), with a supported reason and a messageExpression
 * that compiles to a string. Adds causes under field (the schema's path,
 * "spec.versions[0].schema.openAPIV3Schema"); returns their number. */
int crd_rules_check(const cJSON *schema, const char *field, api_status_t *st);

/* Runs the rules on obj (old: the stored object on update, else NULL)
 * within upstream's cost budget for one object; one cause per failed
 * rule, at the path of the value (or the rule's fieldPath). Returns the
 * number of causes added. */
int crd_rules_validate(const crd_rules_t *r, const cJSON *obj, const cJSON *old, api_status_t *st);
