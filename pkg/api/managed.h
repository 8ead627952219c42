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

/* Record an Update by manager on obj (old is NULL on create) as upstream's
 * field manager does: managedFields sent in obj are the starting point
 * unless empty, undecodable or a subresource ([] and [{}] clear them); the
 * fields whose value the request added or changed become the manager's
 * Update entry (apiVersion, subresource, time) and no one else's; removed
 * fields leave every entry; an object nobody tracked stays untracked.
 * subresource is "", "status" or "scale". */
void api_managed_update(const api_resource_t *res, cJSON *obj, const cJSON *old,
                        const char *manager, const char *subresource);

/* JSON equality in linear time (cJSON_Compare looks every key of an object
 * up by a linear search: quadratic on a 40,000-key ConfigMap). Numbers
 * compare exactly, object key order is ignored. */
bool api_managed_equal(const cJSON *a, const cJSON *b);

/* Server-side apply of cfg (the applied configuration) by manager onto live
 * (NULL when the object does not exist yet), as structured-merge-diff:
 * merge (associative lists by their list-map keys, defaults included; sets;
 * atomic lists, maps and structs replaced whole), then remove what manager
 * applied before, left out now and nobody else manages. On success
 * *ret_obj (caller frees) is the new object with managedFields updated.
 * A field owned by another manager whose value cfg changes is a conflict
 * unless force: returns -EBUSY with st a 409 Conflict in upstream's words;
 * -EINVAL with st 400 (managedFields in cfg) or 500 (a list item without
 * its keys). Linear in the sizes of live and cfg. */
int api_managed_apply(const api_resource_t *res, const cJSON *live, const cJSON *cfg,
                      const char *manager, bool force, cJSON **ret_obj, api_status_t *st);
