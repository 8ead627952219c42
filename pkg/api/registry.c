/* Resource registry built from the generated schema rows (registry.h). */
#include "api/registry.h"

#include <string.h>

#include "util/alloc.h"

static api_resource_t *resources;
static size_t nresources;

void api_registry_init(void) {
  if (resources)
    return;
  resources = xcalloc(schema_nresources, sizeof(*resources));
  for (size_t i = 0; i < schema_nresources; i++) {
    const schema_resource_t *s = &schema_resources[i];
    api_resource_t *r = &resources[nresources++];
    r->s = s;
    r->hooks = api_kind_hooks(s->group, s->kind);
    r->group_version = s->group[0] ? xasprintf("%s/%s", s->group, s->version) : s->version;
    r->storage_group = s->group[0] ? s->group : "core";
    r->has_status = api_resource_has_subresource(r, "status");
    r->has_scale = api_resource_has_subresource(r, "scale");
  }
}

size_t api_registry_count(void) { return nresources; }

const api_resource_t *api_registry_at(size_t i) { return i < nresources ? &resources[i] : NULL; }

const api_resource_t *api_registry_find(const char *group, const char *version,
                                        const char *plural) {
  for (size_t i = 0; i < nresources; i++) {
    const schema_resource_t *s = resources[i].s;
    if (!strcmp(s->group, group) && !strcmp(s->version, version) && !strcmp(s->plural, plural))
      return &resources[i];
  }
  return NULL;
}

const api_resource_t *api_registry_find_kind(const char *group, const char *kind) {
  for (size_t i = 0; i < nresources; i++) {
    const schema_resource_t *s = resources[i].s;
    if (!strcmp(s->group, group) && !strcmp(s->kind, kind))
      return &resources[i];
  }
  return NULL;
}

bool api_registry_has_group_version(const char *group, const char *version) {
  for (size_t i = 0; i < nresources; i++)
    if (!strcmp(resources[i].s->group, group) && !strcmp(resources[i].s->version, version))
      return true;
  return false;
}

bool api_resource_has_subresource(const api_resource_t *r, const char *sub) {
  for (const char *const *p = r->s->subresources; p && *p; p++)
    if (!strcmp(*p, sub))
      return true;
  return false;
}

char *api_resource_key(const api_resource_t *r, const char *ns, const char *name) {
  const char *plural = r->s->plural;
  bool has_ns = r->s->namespaced && ns && ns[0];
  if (has_ns && name)
    return xasprintf("/registry/%s/%s/%s/%s", r->storage_group, plural, ns, name);
  if (has_ns)
    return xasprintf("/registry/%s/%s/%s/", r->storage_group, plural, ns);
  if (name)
    return xasprintf("/registry/%s/%s/%s", r->storage_group, plural, name);
  return xasprintf("/registry/%s/%s/", r->storage_group, plural);
}
