/* Structural OpenAPI v3 schemas of CustomResourceDefinitions: defaulting,
 * pruning of unknown fields and validation of custom objects, with
 * apiextensions-apiserver's messages.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation
 * Pure; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/status.h"

/* Fill "default" values of absent properties, top-down (a default for an
 * object that is itself absent is applied, then its children's defaults). */
void crd_schema_default(const cJSON *schema, cJSON *obj);

/* Remove fields the schema does not declare (unless
 * x-kubernetes-preserve-unknown-fields). Each removed field's path is passed
 * to cb (for strict field validation or warnings). apiVersion, kind and
 * metadata at the root are kept. */
typedef void (*crd_unknown_cb)(const char *path, void *data);
void crd_schema_prune(const cJSON *schema, cJSON *obj, crd_unknown_cb cb, void *data);

/* The schema's "pattern" regular expressions, each compiled once (when a
 * CRD version is registered) and shared by every request validating
 * against that schema. */
typedef struct crd_patterns crd_patterns_t;

/* Compile every pattern in schema (NULL gives an empty set). Patterns that
 * do not compile (refused by crd_schema_check at creation) are left out
 * and not enforced. Borrows schema: it must outlive the result. */
crd_patterns_t *crd_patterns_new(const cJSON *schema);
void crd_patterns_free(crd_patterns_t *p); /* accepts NULL */

/* Matching all pattern-checked values of one object may take at most this
 * many NFA steps (~16 ns each at -O2, so ~1 s); the object is refused past
 * it. Ordinary patterns take a few steps per byte, so any object within
 * the 3 MiB request limit stays far below. */
#define CRD_PATTERN_BUDGET (64u << 20)

/* Validate obj (after defaulting and pruning) against schema, whose
 * compiled patterns are pats (from crd_patterns_new(schema); NULL skips
 * pattern checks); adds one cause per problem to st. Returns the number of
 * problems. */
int crd_schema_validate(const cJSON *schema, const crd_patterns_t *pats, const cJSON *obj,
                        api_status_t *st);

/* Check that a schema is one k3c can enforce (a structural schema: types
 * set, no unsupported keywords, patterns in RE2 syntax within
 * util/regex.h's limits); adds causes under field prefix. */
int crd_schema_check(const cJSON *schema, const char *field, api_status_t *st);
