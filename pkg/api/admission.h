/* The built-in admission chain (upstream's compiled-in admission plugins):
 * the mutating plugins run on every create and update before the kind's
 * defaults and validation, the validating ones after them, each in
 * upstream's order, before the object is stored (dry runs included). One file per plugin:
 * admission_<plugin>.c. Loop thread only.
 * https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/ */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/internal.h"

/* What a plugin sees of one request. */
typedef struct {
  api_server_t *srv;
  http_req_t *req;           /* NULL for internal writes (bootstrap) */
  const api_resource_t *res; /* the stored row */
  cJSON *obj;                /* the object to store; plugins may change it */
  const cJSON *old;          /* the stored object on update, NULL on create */
  const char *sub;           /* subresource ("" for the main resource) */
} api_admission_t;

/* Run the mutating / validating plugins. Return 0, or -EPERM with st
 * filled (the request is refused). Warnings go to the response as Warning
 * headers. */
int api__admission_mutate(api_admission_t *a, api_status_t *st);
int api__admission_validate(api_admission_t *a, api_status_t *st);

/* A Forbidden Status as upstream's admission.NewForbidden writes it:
 * `<plural> "<name>" is forbidden: <why>`. */
void api__admission_forbidden(const api_admission_t *a, api_status_t *st, const char *why);

/* Add a Warning header (no-op for internal writes). */
void api__admission_warn(const api_admission_t *a, const char *text);

/* Parse every stored object under the list prefix of res in ns (NULL or ""
 * for all / cluster-scoped) and call cb(obj, data) for each; stops when cb
 * returns false. At most max objects are visited. */
void api__admission_each(api_server_t *srv, const api_resource_t *res, const char *ns, size_t max,
                         bool (*cb)(const cJSON *obj, void *data), void *data);

/* Whether the request is for group/kind (the stored row's). */
bool api__admission_is(const api_admission_t *a, const char *group, const char *kind);

/* ---- plugins (admission_<name>.c) ---- */
/* Mutating. */
int api__admit_limitranger(api_admission_t *a, api_status_t *st);
int api__admit_serviceaccount(api_admission_t *a, api_status_t *st);
int api__admit_priority(api_admission_t *a, api_status_t *st);
int api__admit_defaults(api_admission_t *a, api_status_t *st); /* DefaultTolerationSeconds,
                                                                   DefaultStorageClass,
                                                                   StorageObjectInUseProtection,
                                                                   DefaultIngressClass */
/* Validating. */
int api__validate_limitranger(api_admission_t *a, api_status_t *st);
int api__validate_podsecurity(api_admission_t *a, api_status_t *st);
int api__validate_priority(api_admission_t *a, api_status_t *st);
/* NodeRestriction on creates by a node (authz_node.c). */
int api__validate_noderestriction(api_admission_t *a, api_status_t *st);
/* Last: it charges the quotas of what the others let through. */
int api__validate_resourcequota(api_admission_t *a, api_status_t *st);

/* Where the ServiceAccount plugin mounts the kube-api-access volume. */
#define API_SA_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"

/* The ServiceAccount plugin's mutation of a new pod's spec, in place:
 * serviceAccountName defaults to "default"; unless
 * automountServiceAccountToken is false on spec, or unset there and false
 * on sa (the pod's ServiceAccount, NULL when it does not exist), every
 * container and init container that does not mount API_SA_MOUNT_PATH gets
 * a read-only mount of the projected volume "kube-api-access-<suffix>"
 * (5 characters of suffix; an existing kube-api-access-* volume is reused),
 * added to spec.volumes when some container needs it. Pure. */
void api__serviceaccount_admit_spec(cJSON *spec, const cJSON *sa, const char *suffix);

/* LimitRange item defaults (SetDefaults_LimitRangeItem): a Container item's
 * default limit from max, its default request from the default limit, then
 * from min. In place. */
void api__limitrange_defaults(cJSON *obj);

/* Evaluate a pod's metadata and spec against a Pod Security Standard level
 * ("privileged", "baseline", "restricted") at a policy version ("latest",
 * "v1.30"). Returns 0 when allowed; 1 with *ret_detail (caller frees) in
 * upstream's words ("privileged (container \"c\" must not set ...), ...");
 * -EINVAL for an unknown level or version. Pure. */
int api__podsecurity_evaluate(const char *level, const char *version, const cJSON *meta,
                              const cJSON *spec, char **ret_detail);

/* RBAC escalation prevention (authz.c): a Role or ClusterRole only with
 * rules its author holds (or the escalate verb), a binding only to a role
 * whose rules its author holds (or the bind verb). */
int api__validate_rbac(api_admission_t *a, api_status_t *st);
