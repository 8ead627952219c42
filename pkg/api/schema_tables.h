/* pkg/api/schema_tables: the generated tables behind schema.h that only the
 * schema, protobuf and OpenAPI modules use. Immutable; any thread. */
#pragma once

#include "api/schema.h"

/* All types, sorted by OpenAPI name (schema_type_find bisects). */
extern const schema_type_t schema__types[];
extern const size_t schema__ntypes;

/* Every apiVersion/kind with a schema, sorted by (apiVersion, kind). */
typedef struct {
  const char *api_version;
  const char *kind;
  const schema_type_t *type;
} schema_kind_entry_t;
extern const schema_kind_entry_t schema__kinds[];
extern const size_t schema__nkinds;
