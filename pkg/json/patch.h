/* pkg/json patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * Kubernetes strategic merge patch. CONTRACT header: pkg/api codes against it.
 * Pure functions over cJSON; callable from any thread. Error text names the
 * offending path or operation, ready for a 422/400 Status message. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* RFC 7386. Returns a new document (caller cJSON_Delete); original untouched. */
cJSON *json_merge_patch(const cJSON *original, const cJSON *patch);

/* RFC 6902: add, remove, replace, move, copy, test, with RFC 6901 pointers
 * ("~0", "~1", "-" for append). Returns 0 and a new document, or -EINVAL
 * with err ("test operation failed at /metadata/labels/a"). */
int json_patch_apply(const cJSON *original, const cJSON *ops, cJSON **ret_doc, char *err,
                     size_t errlen);

/* ---- strategic merge patch ----
 * https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
 * The patch knows list semantics from a schema, reached through these
 * callbacks; a NULL type (unknown schema, custom resources) falls back to
 * merge-patch semantics (lists replaced). */
typedef enum {
  SMP_LIST_REPLACE = 0, /* atomic list: patch replaces it */
  SMP_LIST_MERGE = 1,   /* patchStrategy: merge (with merge_key for objects) */
} smp_list_strategy_t;

typedef struct {
  smp_list_strategy_t list_strategy;
  const char *merge_key; /* patchMergeKey for lists of objects, else NULL */
  bool retain_keys;      /* patchStrategy includes retainKeys */
} smp_field_info_t;

typedef struct {
  /* The child type of field `name` of object type `type`, and the field's
   * patch info (zeroed when unknown). For lists and maps, the returned type
   * is the element type. Return NULL type when the child is not an object. */
  const void *(*field)(const void *type, const char *name, smp_field_info_t *ret_info);
} smp_schema_t;

/* Apply a strategic merge patch: directives $patch (merge, replace, delete),
 * $retainKeys, $setElementOrder/<list>, $deleteFromPrimitiveList/<list>,
 * null deletes a field. Returns 0 and a new document, or -EINVAL with err. */
int json_smp_apply(const cJSON *original, const cJSON *patch, const smp_schema_t *schema,
                   const void *root_type, cJSON **ret_doc, char *err, size_t errlen);
