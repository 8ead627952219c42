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

/* Defaulting, pruning and schema validation of a custom object (rest.c
 * calls it for rows with a JSON schema). strict: unknown fields are errors
 * (fieldValidation=Strict), else they are dropped with a warning header.
 * Returns 0, or -EINVAL with st filled (422 Invalid or 400 strict). */
int api__crd_admit(http_req_t *req, const api_resource_t *res, cJSON *obj, api_status_t *st);
