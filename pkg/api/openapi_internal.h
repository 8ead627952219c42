/* pkg/api/openapi internals: document builders over an explicit resource
 * list, so that runtime-registered resources (CRDs) can be served by passing
 * their rows along with the built-in ones. Pure; any thread. */
#pragma once

#include <cjson/cJSON.h>

#include "api/schema.h"

/* The OpenAPI 3.0 document of group/version over res[0..nres); NULL when no
 * resource of res is in that group-version. Caller cJSON_Delete()s. */
cJSON *schema__openapi_gv_doc(const schema_resource_t *const *res, size_t nres, const char *group,
                              const char *version);
/* The /openapi/v3 index for the group-versions of res, each with a hash of
 * its document. Caller frees. */
char *schema__openapi_root(const schema_resource_t *const *res, size_t nres, size_t *ret_len);
/* components.schemas entry of one type. Caller cJSON_Delete()s. */
cJSON *schema__openapi_type_schema(const schema_type_t *t);
