/* An audit.k8s.io/v1 Policy (auditpolicy.c): the level, omitted stages and
 * omitManagedFields of a request are the first matching rule's, as
 * upstream's policy checker decides them.
 * https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy
 * Pure: no I/O, any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef enum {
  AUDIT_NONE = 0,
  AUDIT_METADATA,
  AUDIT_REQUEST,
  AUDIT_REQUEST_RESPONSE,
} audit_level_t;

#define AUDIT_STAGE_RECEIVED 1u  /* RequestReceived */
#define AUDIT_STAGE_STARTED 2u   /* ResponseStarted */
#define AUDIT_STAGE_COMPLETE 4u  /* ResponseComplete */
#define AUDIT_STAGE_PANIC 8u     /* Panic */

typedef struct audit_policy audit_policy_t;

/* What is asked, as the audit policy sees a request. */
typedef struct {
  const char *user;
  const char *const *groups; /* NULL-terminated */
  const char *verb;          /* get, list, watch, create, update, patch, delete, ... */
  bool is_resource;
  const char *group, *resource, *subresource, *name, *ns; /* "" when absent */
  const char *path;          /* for non-resource requests */
} audit_attrs_t;

typedef struct {
  audit_level_t level;
  unsigned omit_stages; /* AUDIT_STAGE_* bits */
  bool omit_managed_fields;
} audit_decision_t;

/* Parse a Policy (the YAML or JSON document already decoded). -EINVAL with
 * the field at fault in err. The policy copies what it needs. */
int audit_policy_parse(const cJSON *doc, audit_policy_t **ret, char *err, size_t errlen);
/* A policy of one rule: everything at level. */
audit_policy_t *audit_policy_all(audit_level_t level);
void audit_policy_free(audit_policy_t *p); /* accepts NULL */

/* The first matching rule's decision; level None when no rule matches. */
audit_decision_t audit_policy_decide(const audit_policy_t *p, const audit_attrs_t *a);

const char *audit_level_name(audit_level_t l);
