/* RBAC's rules as data: parsing PolicyRules, matching a request's
 * attributes against them, matching binding subjects against a user, and
 * the coverage check behind escalation prevention ("a user may grant only
 * what it holds"), with upstream's compact rule text for messages.
 * https://kubernetes.io/docs/reference/access-authn-authz/rbac/
 * Pure: no store, no loop; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* One PolicyRule; every list NULL-terminated (empty list = one NULL). */
typedef struct {
  char **verbs, **groups, **resources, **names, **urls;
} rbac_rule_t;

typedef struct {
  rbac_rule_t *rules;
  size_t n;
} rbac_rules_t;

/* What a request asks (upstream's authorizer.Attributes). Strings borrowed. */
typedef struct {
  bool is_resource;
  const char *verb;        /* get list watch create ... ; non-resource: the lower-cased method */
  const char *group;       /* "" for core */
  const char *resource;    /* plural */
  const char *subresource; /* "" when none */
  const char *name;        /* "" when none */
  const char *ns;          /* "" for cluster-scoped */
  const char *path;        /* non-resource requests */
} rbac_attrs_t;

typedef struct {
  const char *name;
  const char *const *groups; /* NULL-terminated */
} rbac_user_t;

/* Append the PolicyRules of a JSON array to rules (items that are not
 * objects are skipped). Accepts NULL. */
void rbac_rules_add_json(rbac_rules_t *rules, const cJSON *array);
/* Append copies of more's rules to rules. */
void rbac_rules_add(rbac_rules_t *rules, const rbac_rules_t *more);
void rbac_rules_done(rbac_rules_t *rules);

bool rbac_rule_allows(const rbac_rule_t *r, const rbac_attrs_t *a);
bool rbac_rules_allow(const rbac_rules_t *rules, const rbac_attrs_t *a);

/* Does a binding subject ({kind, name, namespace}) name this user? A
 * ServiceAccount subject without a namespace takes the binding's. */
bool rbac_subject_matches(const cJSON *subject, const rbac_user_t *u, const char *binding_ns);

/* Escalation check: the rules of `want` that `held` does not cover, as
 * upstream's message lists them ("{APIGroups:[\"\"], Resources:[\"pods\"],
 * Verbs:[\"get\"]}" lines, broken down per verb/resource and compacted),
 * appended to missing. Returns the number of missing rules (0: covered). */
size_t rbac_rules_uncovered(const rbac_rules_t *held, const rbac_rules_t *want, buf_t *missing);
