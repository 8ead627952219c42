/* Field ownership (metadata.managedFields, FieldsV1) and server-side apply.
 * https://kubernetes.io/docs/reference/using-api/server-side-apply/
 * Pure functions over cJSON; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/registry.h"
#include "api/status.h"

/* The field manager of a request: fieldManager, else the User-Agent's
 * product ("kubectl/v1.32.4 ..." -> "kubectl"), else "unknown". */
void api_managed_name(const char *field_manager, const char *user_agent, char *out, size_t n);

/* Record an Update by manager on obj (old is NULL on create): fields whose
 * value changed become the manager's, and no one else's. subresource is ""
 * or "status". */
void api_managed_update(const api_resource_t *res, cJSON *obj, const cJSON *old,
                        const char *manager, const char *subresource);

/* Server-side apply of cfg (the applied configuration) by manager onto live
 * (NULL when the object does not exist yet). On success *ret_obj is the new
 * object with managedFields updated. A field owned by another manager whose
 * value cfg changes is a conflict unless force: returns -EBUSY with st a 409
 * Conflict listing them, as upstream. */
int api_managed_apply(const api_resource_t *res, const cJSON *live, const cJSON *cfg,
                      const char *manager, bool force, cJSON **ret_obj, api_status_t *st);
