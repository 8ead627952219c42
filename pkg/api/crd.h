/* CustomResourceDefinitions: turning each CRD into served registry rows the
 * moment it is stored, and removing them (and their objects) when it is
 * deleted. Loop thread only. */
#pragma once

#include "api/internal.h"

extern const api_hooks_t api_kind_crd;

/* Register the CRDs already stored and follow changes through a store
 * watch. Returns 0 or a negative errno with err. */
int api__crd_start(api_server_t *srv, char *err, size_t errlen);
void api__crd_stop(api_server_t *srv);

/* Defaulting, pruning, schema validation and x-kubernetes-validations rules
 * (old: the stored object on update, else NULL) of a custom object (admit.c
 * calls it for rows with a JSON schema). strict: unknown fields are errors
 * (fieldValidation=Strict), else they are dropped with a warning header.
 * Returns 0, or -EINVAL with st filled (422 Invalid or 400 strict). */
int api__crd_admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
                   api_status_t *st);

/* Add the Warning header of a deprecated custom resource version. */
void api__crd_warn(http_req_t *req, const api_resource_t *view);
/* The view's spec.conversion.webhook when its definition converts with
 * strategy Webhook (and the server it is served by), else NULL. The tree
 * lives until shutdown (old rows stay in the graveyard). */
const cJSON *api__crd_conversion_webhook(const api_resource_t *view, api_server_t **ret_srv);

/* For a custom row: the scale subresource's specReplicasPath,
 * statusReplicasPath and labelSelectorPath as dotted paths ("spec.replicas";
 * NULL when unset) and true; false for built-in rows. Borrowed from the row. */
bool api__crd_scale_paths(const api_resource_t *res, const char **ret_spec,
                          const char **ret_status, const char **ret_selector);

/* Kubernetes-aware version order (upstream CompareKubeAwareVersionStrings):
 * <0, 0, >0 as a has lower, equal or higher priority than b (v2 > v1 >
 * v1beta1 > v1alpha1 > other strings). */
int api__version_cmp(const char *a, const char *b);

/* A custom row's selectableFields as dotted paths ("spec.color"),
 * NULL-terminated; NULL for built-in rows or when there are none. */
const char *const *api__crd_selectable_fields(const api_resource_t *view);
