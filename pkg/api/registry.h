/* The resource registry: every served resource, as data. Rows come from the
 * generated schema (schema.h) joined with the C hooks of kinds.c; custom
 * resources will be added at run time through the same row type, so
 * discovery, CRUD, Table output and OpenAPI stay generic.
 * Loop thread only (the table is built once at start-up). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/schema.h"
#include "api/status.h"

typedef struct api_server api_server_t;
typedef struct api_resource api_resource_t;

/* Per-kind behaviour. Every hook is optional. */
typedef struct {
  /* Fill upstream defaults into a new or updated object (in place). */
  void (*defaults)(cJSON *obj);
  /* An update's consequences, before defaults and validation (upstream's
   * PrepareForUpdate): fields the new object no longer needs. */
  void (*prepare_update)(cJSON *obj, const cJSON *old);
  /* An update through subresource sub ("status", "approval"...; NULL for
   * the object itself), after the generic carry-over of what the request
   * may not change: what the kind's strategy for that subresource puts back
   * from old, and refuses (a cause in st for each refusal). */
  void (*update_subresource)(cJSON *obj, const cJSON *old, const char *sub, api_status_t *st);
  /* Add a cause to st for each problem; old is NULL on create. */
  void (*validate)(const cJSON *obj, const cJSON *old, api_status_t *st);
  /* Computed Table cell for a column whose schema path is NULL. */
  cJSON *(*cell)(const char *column, const cJSON *obj);
  /* Field selector fields beyond metadata.name and metadata.namespace. */
  const char *const *selectable_fields;
  /* Before a create is stored (allocations). Return 0 or fill st. */
  int (*admit_create)(api_server_t *srv, cJSON *obj, api_status_t *st);
  /* Before an update is stored (old is the stored object). */
  int (*admit_update)(api_server_t *srv, cJSON *obj, const cJSON *old, api_status_t *st);
  /* After the object is gone (release allocations). */
  void (*deleted)(api_server_t *srv, const cJSON *obj);
  /* Whether metadata.generation is kept (bumped when spec changes). */
  bool generation;
  /* Kinds served in more than one version keep one stored form: the
   * group/version that is stored ("autoscaling/v2"), and conversions of an
   * object, in place, to it and back (convert.c). NULL: stored as itself. */
  const char *storage_version;
  void (*to_storage)(cJSON *obj);
  void (*from_storage)(cJSON *obj);
  /* PUT of an absent object creates it (upstream AllowCreateOnUpdate). */
  bool create_on_update;
  /* Name rule: obj_check_dns1123_label for namespaces, services...; NULL
   * means a DNS-1123 subdomain. */
  const char *(*check_name)(const char *name);
} api_hooks_t;

struct api_resource {
  const schema_resource_t *s;
  bool removed;       /* a custom resource whose definition was deleted */
  void *custom;       /* owned data of a custom resource row (crd.c) */
  const api_hooks_t *hooks; /* never NULL (an empty table when the kind has none) */
  const char *group_version; /* "v1" or "apps/v1" */
  const char *storage_group; /* "core" for "", else the group */
  const api_resource_t *storage; /* the row whose form is stored (itself for most) */
  bool has_status;
  bool has_scale;
};

/* Build the table from the generated schema. Idempotent. */
void api_registry_init(void);
size_t api_registry_count(void);
/* The i-th live row, or NULL when it is a removed custom resource. */
const api_resource_t *api_registry_at(size_t i);
/* The i-th row, removed or not (for owners of custom rows). */
api_resource_t *api_registry_row(size_t i);
/* By group, version and plural (or a subresource-less path segment). */
const api_resource_t *api_registry_find(const char *group, const char *version,
                                        const char *plural);
/* By group and kind, any served version. */
const api_resource_t *api_registry_find_kind(const char *group, const char *kind);
/* Whether a group/version is served at all. */
bool api_registry_has_group_version(const char *group, const char *version);
bool api_resource_has_subresource(const api_resource_t *r, const char *sub);

/* Storage key of an object or prefix of a list. ns may be NULL/"" for
 * cluster-scoped resources and for all-namespaces lists; name may be NULL
 * for a list prefix (ends with '/'). Caller frees. */
char *api_resource_key(const api_resource_t *r, const char *ns, const char *name);

/* Add a row for a custom resource (crd.c). Rows are never freed while the
 * server runs (requests and watches hold pointers to them): a deleted CRD's
 * row is marked removed and reused if the same group/version/plural comes
 * back. Returns the row to fill. */
api_resource_t *api_registry_add(const char *group, const char *version, const char *plural);

/* The hooks of a kind (kinds.c); never NULL. */
const api_hooks_t *api_kind_hooks(const char *group, const char *version, const char *kind);
