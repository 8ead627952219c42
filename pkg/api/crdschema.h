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

/* Validate obj (after defaulting and pruning); adds one cause per problem
 * to st. Returns the number of problems. */
int crd_schema_validate(const cJSON *schema, const cJSON *obj, api_status_t *st);

/* Check that a schema is one k3c can enforce (a structural schema: types
 * set, no unsupported keywords); adds causes under field prefix. */
int crd_schema_check(const cJSON *schema, const char *field, api_status_t *st);
