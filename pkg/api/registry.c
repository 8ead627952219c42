/* Resource registry built from the generated schema rows (registry.h). */
#include "api/registry.h"

#include <string.h>

#include "util/alloc.h"

/* Rows are allocated one by one so that pointers to them stay valid when
 * custom resources are added. */
static api_resource_t **resources;
static size_t nresources, capacity;

static api_resource_t *append(void) {
  if (nresources == capacity) {
    capacity = capacity ? capacity * 2 : 64;
    resources = xrealloc(resources, capacity * sizeof(*resources));
  }
  api_resource_t *r = xcalloc(1, sizeof(*r));
  resources[nresources++] = r;
  return r;
}

void api_registry_init(void) {
  if (resources)
    return;
  for (size_t i = 0; i < schema_nresources; i++) {
    const schema_resource_t *s = &schema_resources[i];
    api_resource_t *r = append();
    r->s = s;
    r->hooks = api_kind_hooks(s->group, s->version, s->kind);
    r->group_version = s->group[0] ? xasprintf("%s/%s", s->group, s->version) : s->version;
    r->storage_group = s->group[0] ? s->group : "core";
    r->has_status = api_resource_has_subresource(r, "status");
    r->has_scale = api_resource_has_subresource(r, "scale");
    r->storage = r;
  }
  /* Rows stored in another version's form share that row's keys. */
  for (size_t i = 0; i < nresources; i++) {
    api_resource_t *r = resources[i];
    const char *sv = r->hooks->storage_version;
    for (size_t j = 0; sv && j < nresources; j++) {
      api_resource_t *o = resources[j];
      if (o != r && !strcmp(o->group_version, sv) && !strcmp(o->s->kind, r->s->kind) &&
          !o->hooks->storage_version) {
        r->storage = o;
        r->storage_group = o->storage_group;
      }
    }
  }
}

api_resource_t *api_registry_add(const char *group, const char *version, const char *plural) {
  for (size_t i = 0; i < nresources; i++) {
    api_resource_t *r = resources[i];
    if (r->custom && !strcmp(r->s->group, group) && !strcmp(r->s->version, version) &&
        !strcmp(r->s->plural, plural))
      return r;
  }
  return append();
}

api_resource_t *api_registry_row(size_t i) { return i < nresources ? resources[i] : NULL; }

/* Live rows only: a removed custom resource is invisible everywhere. */
size_t api_registry_count(void) { return nresources; }

const api_resource_t *api_registry_at(size_t i) {
  return i < nresources && !resources[i]->removed && resources[i]->s ? resources[i] : NULL;
}

const api_resource_t *api_registry_find(const char *group, const char *version,
                                        const char *plural) {
  for (size_t i = 0; i < nresources; i++) {
    const api_resource_t *r = api_registry_at(i);
    if (r && !strcmp(r->s->group, group) && !strcmp(r->s->version, version) &&
        !strcmp(r->s->plural, plural))
      return r;
  }
  return NULL;
}

const api_resource_t *api_registry_find_kind(const char *group, const char *kind) {
  for (size_t i = 0; i < nresources; i++) {
    const api_resource_t *r = api_registry_at(i);
    if (r && !strcmp(r->s->group, group) && !strcmp(r->s->kind, kind))
      return r;
  }
  return NULL;
}

bool api_registry_has_group_version(const char *group, const char *version) {
  for (size_t i = 0; i < nresources; i++) {
    const api_resource_t *r = api_registry_at(i);
    if (r && !strcmp(r->s->group, group) && !strcmp(r->s->version, version))
      return true;
  }
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
