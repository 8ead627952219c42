/* pkg/json/util: small cJSON helpers shared by the patch and selector code and
 * useful to callers: deep equality, dotted-path lookup, null pruning.
 * Pure functions; callable from any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/strmap.h"

/* Deep equality as JSON defines it: objects compare as unordered key sets,
 * arrays element-wise, numbers by value (1 == 1.0), true/false by value.
 * Two NULL pointers are equal; NULL never equals a value. */
bool json_equal(const cJSON *a, const cJSON *b);

/* The value at dotted path "metadata.labels.app" in obj, or NULL when any
 * step is missing or not an object. Borrowed pointer into obj. */
const cJSON *json_get_path(const cJSON *obj, const char *path);

/* The string at dotted path in obj (json_get_path), or NULL when it is
 * missing or not a string. Borrowed pointer into obj. */
const char *json_str(const cJSON *obj, const char *path);

/* Deep copy; never NULL for a non-NULL input (aborts on OOM like xmalloc).
 * Caller frees with cJSON_Delete. */
cJSON *json_dup(const cJSON *v);

/* Remove null members from every object inside v, recursively (arrays are
 * walked, their null elements kept). Used where a merge patch inserts a new
 * value: nulls there mean "absent". */
void json_prune_nulls(cJSON *v);

/* Compact text of v for error messages, truncated to fit out (always
 * NUL-terminated). Returns out. */
const char *json_brief(const cJSON *v, char *out, size_t outlen);

/* Key index of one object, for code that looks up, replaces or deletes
 * many keys of the same object: cJSON does each by a linear scan, which
 * made patches of a 40,000-key map quadratic. The index maps each key
 * (its first occurrence) to its item; keys are borrowed from the items.
 * Use json_index_set / json_index_del to change obj so the index stays
 * true; json_index_done frees it (not obj). */
void json_index_init(strmap_t *idx, const cJSON *obj);
#define json_index_done strmap_done
static inline cJSON *json_index_get(const strmap_t *idx, const char *key) {
  return strmap_get(idx, key);
}
/* Set obj[key] = value (takes ownership), replacing the item in place. */
void json_index_set(cJSON *obj, strmap_t *idx, const char *key, cJSON *value);
/* Delete obj[key] if present. */
void json_index_del(cJSON *obj, strmap_t *idx, const char *key);
