/* API discovery: /api, /apis, /apis/<g>, /api/v1, /apis/<g>/<v>, in the
 * legacy form and the aggregated form (apidiscovery.k8s.io/v2) that kubectl
 * 1.32 asks for first. Generated from the registry, so custom resources
 * appear the same way; aggregated APIServices add their groups, and their
 * resources as their server's own discovery document last listed them
 * (aggregator.c fetches it with each availability check).
 * https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crd.h"
#include "api/internal.h"
#include "api/object.h"
#include "util/alloc.h"

typedef struct {
  const char *name;
  const char *group, *version, *kind; /* NULL = the parent's */
  const char *verbs[6];
} subres_t;

static const subres_t subresources[] = {
    {"status", NULL, NULL, NULL, {"get", "patch", "update"}},
    {"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}},
    {"log", "", "v1", "Pod", {"get"}},
    {"exec", "", "v1", "PodExecOptions", {"create", "get"}},
    {"attach", "", "v1", "PodAttachOptions", {"create", "get"}},
    {"portforward", "", "v1", "PodPortForwardOptions", {"create", "get"}},
    {"proxy", NULL, NULL, NULL, {"create", "delete", "get", "patch", "update"}},
    {"binding", "", "v1", "Binding", {"create"}},
    {"eviction", "policy", "v1", "Eviction", {"create"}},
    {"ephemeralcontainers", NULL, NULL, NULL, {"get", "patch", "update"}},
    {"resize", NULL, NULL, NULL, {"get", "patch", "update"}},
    {"token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}},
    {"finalize", NULL, NULL, NULL, {"update"}},
    {"approval", NULL, NULL, NULL, {"get", "patch", "update"}},
};

static const subres_t *subres_find(const char *name) {
  for (size_t i = 0; i < sizeof(subresources) / sizeof(subresources[0]); i++)
    if (!strcmp(subresources[i].name, name))
      return &subresources[i];
  return NULL;
}

static cJSON *verbs_json(unsigned verbs) {
  static const char *const names[] = {"get",   "list",   "watch",  "create",
                                      "update", "patch", "delete", "deletecollection"};
  cJSON *a = cJSON_CreateArray();
  /* upstream order: create delete deletecollection get list patch update watch */
  static const int order[] = {3, 6, 7, 0, 1, 5, 4, 2};
  for (size_t i = 0; i < 8; i++)
    if (verbs & (1u << order[i]))
      cJSON_AddItemToArray(a, cJSON_CreateString(names[order[i]]));
  return a;
}

static cJSON *strings_json(const char *const *list) {
  cJSON *a = cJSON_CreateArray();
  for (; list && *list; list++)
    cJSON_AddItemToArray(a, cJSON_CreateString(*list));
  return a;
}

static bool wants_aggregated(http_req_t *req) {
  const char *accept = http_req_header(req, "Accept");
  return accept && strstr(accept, "as=APIGroupDiscoveryList") &&
         strstr(accept, "g=apidiscovery.k8s.io;v=v2;");
}

/* ---- legacy ---- */

static cJSON *resource_list(const char *group, const char *version) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "APIResourceList");
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  char *gv = group[0] ? xasprintf("%s/%s", group, version) : xstrdup(version);
  cJSON_AddStringToObject(o, "groupVersion", gv);
  free(gv);
  cJSON *items = cJSON_AddArrayToObject(o, "resources");
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *row = api_registry_at(i);
    const schema_resource_t *s = row ? row->s : NULL;
    if (!s || strcmp(s->group, group) || strcmp(s->version, version))
      continue;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", s->plural);
    cJSON_AddStringToObject(r, "singularName", s->singular);
    cJSON_AddBoolToObject(r, "namespaced", s->namespaced);
    cJSON_AddStringToObject(r, "kind", s->kind);
    cJSON_AddItemToObject(r, "verbs", verbs_json(s->verbs));
    if (s->short_names && s->short_names[0])
      cJSON_AddItemToObject(r, "shortNames", strings_json(s->short_names));
    if (s->categories && s->categories[0])
      cJSON_AddItemToObject(r, "categories", strings_json(s->categories));
    cJSON_AddItemToArray(items, r);
    for (const char *const *sub = s->subresources; sub && *sub; sub++) {
      const subres_t *info = subres_find(*sub);
      cJSON *sr = cJSON_CreateObject();
      char *name = xasprintf("%s/%s", s->plural, *sub);
      cJSON_AddStringToObject(sr, "name", name);
      free(name);
      cJSON_AddStringToObject(sr, "singularName", "");
      cJSON_AddBoolToObject(sr, "namespaced", s->namespaced);
      if (info && info->group) {
        if (info->group[0])
          cJSON_AddStringToObject(sr, "group", info->group);
        cJSON_AddStringToObject(sr, "version", info->version);
      }
      cJSON_AddStringToObject(sr, "kind", info && info->kind ? info->kind : s->kind);
      cJSON_AddItemToObject(sr, "verbs", strings_json(info ? info->verbs : NULL));
      cJSON_AddItemToArray(items, sr);
    }
  }
  return o;
}

/* Distinct groups in registry order, then the aggregated ones; core ("")
 * excluded. */
static size_t groups(api_server_t *srv, const char **out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *row = api_registry_at(i);
    const char *g = row ? row->s->group : "";
    if (!g[0])
      continue;
    bool seen = false;
    for (size_t j = 0; j < n && !seen; j++)
      seen = !strcmp(out[j], g);
    if (!seen && n < max)
      out[n++] = g;
  }
  return api__aggregated_groups(srv, out, n, max);
}

static size_t versions_of(api_server_t *srv, const char *group, const char **out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *row = api_registry_at(i);
    const schema_resource_t *s = row ? row->s : NULL;
    if (!s || strcmp(s->group, group))
      continue;
    bool seen = false;
    for (size_t j = 0; j < n && !seen; j++)
      seen = !strcmp(out[j], s->version);
    if (!seen && n < max)
      out[n++] = s->version;
  }
  n = api__aggregated_versions(srv, group, out, n, max);
  /* highest priority first, as upstream lists them (the first is preferred) */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && api__version_cmp(out[j - 1], out[j]) < 0; j--) {
      const char *t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return n;
}

static cJSON *group_json(api_server_t *srv, const char *group) {
  const char *versions[8];
  size_t nv = versions_of(srv, group, versions, 8);
  cJSON *g = cJSON_CreateObject();
  cJSON_AddStringToObject(g, "name", group);
  cJSON *vs = cJSON_AddArrayToObject(g, "versions");
  for (size_t i = 0; i < nv; i++) {
    cJSON *v = cJSON_CreateObject();
    char *gv = xasprintf("%s/%s", group, versions[i]);
    cJSON_AddStringToObject(v, "groupVersion", gv);
    cJSON_AddStringToObject(v, "version", versions[i]);
    cJSON_AddItemToArray(vs, v);
    if (i == 0)
      cJSON_AddItemToObject(g, "preferredVersion", cJSON_Duplicate(v, 1));
    free(gv);
  }
  return g;
}

/* ---- aggregated (apidiscovery.k8s.io/v2) ---- */

/* An aggregated server's APIResourceList as v2 resources: "a/b" entries
 * are subresources of a. */
static cJSON *converted_resources(const cJSON *list, const char *group, const char *version) {
  cJSON *rs = cJSON_CreateArray();
  const cJSON *r;
  cJSON_ArrayForEach(r, obj_get(list, "resources")) {
    const char *name = obj_str(r, "name"), *kind = obj_str(r, "kind");
    if (!name || !kind || strchr(name, '/'))
      continue;
    const char *rg = obj_str(r, "group"), *rv = obj_str(r, "version");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "resource", name);
    cJSON_AddItemToObject(o, "responseKind", obj_gvk(rg ? rg : group, rv ? rv : version, kind));
    cJSON_AddStringToObject(o, "scope",
                            cJSON_IsTrue(obj_get(r, "namespaced")) ? "Namespaced" : "Cluster");
    const char *singular = obj_str(r, "singularName");
    cJSON_AddStringToObject(o, "singularResource", singular ? singular : "");
    static const char *const lists[] = {"verbs", "shortNames", "categories"};
    for (size_t i = 0; i < 3; i++)
      if (cJSON_IsArray(obj_get(r, lists[i])) && (i == 0 || cJSON_GetArraySize(obj_get(r, lists[i]))))
        cJSON_AddItemToObject(o, lists[i], cJSON_Duplicate(obj_get(r, lists[i]), true));
    if (!cJSON_GetObjectItem(o, "verbs"))
      cJSON_AddArrayToObject(o, "verbs");
    size_t nl = strlen(name);
    const cJSON *sr;
    cJSON *subs = NULL;
    cJSON_ArrayForEach(sr, obj_get(list, "resources")) {
      const char *sn = obj_str(sr, "name"), *sk = obj_str(sr, "kind");
      if (!sn || strncmp(sn, name, nl) || sn[nl] != '/' || !sn[nl + 1])
        continue;
      if (!subs)
        subs = cJSON_AddArrayToObject(o, "subresources");
      cJSON *s = cJSON_CreateObject();
      cJSON_AddStringToObject(s, "subresource", sn + nl + 1);
      const char *sg = obj_str(sr, "group"), *sv = obj_str(sr, "version");
      cJSON_AddItemToObject(s, "responseKind",
                            obj_gvk(sg ? sg : group, sv ? sv : version, sk ? sk : kind));
      const cJSON *verbs = obj_get(sr, "verbs");
      cJSON_AddItemToObject(s, "verbs",
                            cJSON_IsArray(verbs) ? cJSON_Duplicate(verbs, true) : cJSON_CreateArray());
      cJSON_AddItemToArray(subs, s);
    }
    cJSON_AddItemToArray(rs, o);
  }
  return rs;
}

static cJSON *aggregated_group(api_server_t *srv, const char *group) {
  const char *versions[8];
  size_t nv = group[0] ? versions_of(srv, group, versions, 8) : 1;
  if (!group[0])
    versions[0] = "v1";
  cJSON *item = cJSON_CreateObject();
  cJSON *meta = cJSON_AddObjectToObject(item, "metadata");
  cJSON_AddStringToObject(meta, "name", group);
  cJSON *vs = cJSON_AddArrayToObject(item, "versions");
  for (size_t v = 0; v < nv; v++) {
    cJSON *ver = cJSON_CreateObject();
    cJSON_AddStringToObject(ver, "version", versions[v]);
    const cJSON *served = NULL;
    bool current = false;
    if (group[0] && api__aggregated_resources(srv, group, versions[v], &served, &current)) {
      /* what the extension server last said; Stale while it is not
       * available (upstream keeps the last document too) */
      cJSON_AddItemToObject(ver, "resources",
                            served ? converted_resources(served, group, versions[v])
                                   : cJSON_CreateArray());
      cJSON_AddStringToObject(ver, "freshness", current ? "Current" : "Stale");
      cJSON_AddItemToArray(vs, ver);
      continue;
    }
    cJSON *rs = cJSON_AddArrayToObject(ver, "resources");
    for (size_t i = 0; i < api_registry_count(); i++) {
      const api_resource_t *row = api_registry_at(i);
      const schema_resource_t *s = row ? row->s : NULL;
      if (!s || strcmp(s->group, group) || strcmp(s->version, versions[v]))
        continue;
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "resource", s->plural);
      cJSON_AddItemToObject(r, "responseKind", obj_gvk(s->group, s->version, s->kind));
      cJSON_AddStringToObject(r, "scope", s->namespaced ? "Namespaced" : "Cluster");
      cJSON_AddStringToObject(r, "singularResource", s->singular);
      cJSON_AddItemToObject(r, "verbs", verbs_json(s->verbs));
      if (s->short_names && s->short_names[0])
        cJSON_AddItemToObject(r, "shortNames", strings_json(s->short_names));
      if (s->categories && s->categories[0])
        cJSON_AddItemToObject(r, "categories", strings_json(s->categories));
      if (s->subresources && s->subresources[0]) {
        cJSON *subs = cJSON_AddArrayToObject(r, "subresources");
        for (const char *const *sub = s->subresources; *sub; sub++) {
          const subres_t *info = subres_find(*sub);
          cJSON *sr = cJSON_CreateObject();
          cJSON_AddStringToObject(sr, "subresource", *sub);
          if (info && info->group)
            cJSON_AddItemToObject(sr, "responseKind",
                                  obj_gvk(info->group, info->version, info->kind));
          else
            cJSON_AddItemToObject(sr, "responseKind", obj_gvk(s->group, s->version, s->kind));
          cJSON_AddItemToObject(sr, "verbs", strings_json(info ? info->verbs : NULL));
          cJSON_AddItemToArray(subs, sr);
        }
      }
      cJSON_AddItemToArray(rs, r);
    }
    cJSON_AddStringToObject(ver, "freshness", "Current");
    cJSON_AddItemToArray(vs, ver);
  }
  return item;
}

static void respond_aggregated(api_server_t *srv, http_req_t *req, bool core) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "APIGroupDiscoveryList");
  cJSON_AddStringToObject(o, "apiVersion", "apidiscovery.k8s.io/v2");
  cJSON_AddObjectToObject(o, "metadata");
  cJSON *items = cJSON_AddArrayToObject(o, "items");
  if (core) {
    cJSON_AddItemToArray(items, aggregated_group(srv, ""));
  } else {
    const char *gs[64];
    size_t n = groups(srv, gs, 64);
    for (size_t i = 0; i < n; i++)
      cJSON_AddItemToArray(items, aggregated_group(srv, gs[i]));
  }
  char *body = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  http_req_add_header(req, "Vary", "Accept");
  api__respond_json(req, 200, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                    body, strlen(body));
}

bool api__discovery(api_server_t *srv, http_req_t *req) {
  const char *path = http_req_path(req);
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  char p[512];
  if (len >= sizeof(p))
    return false;
  memcpy(p, path, len);
  p[len] = '\0';

  if (!strcmp(p, "/api")) {
    if (wants_aggregated(req)) {
      respond_aggregated(srv, req, true);
      return true;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "APIVersions");
    cJSON *vs = cJSON_AddArrayToObject(o, "versions");
    cJSON_AddItemToArray(vs, cJSON_CreateString("v1"));
    cJSON *addrs = cJSON_AddArrayToObject(o, "serverAddressByClientCIDRs");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "clientCIDR", "0.0.0.0/0");
    char addr[128];
    snprintf(addr, sizeof(addr), "%s:%d", srv->advertise_ip, srv->advertise_port);
    cJSON_AddStringToObject(a, "serverAddress", addr);
    cJSON_AddItemToArray(addrs, a);
    api__respond_obj(req, 200, o);
    return true;
  }
  if (!strcmp(p, "/apis")) {
    if (wants_aggregated(req)) {
      respond_aggregated(srv, req, false);
      return true;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "APIGroupList");
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON *gl = cJSON_AddArrayToObject(o, "groups");
    const char *gs[64];
    size_t n = groups(srv, gs, 64);
    for (size_t i = 0; i < n; i++)
      cJSON_AddItemToArray(gl, group_json(srv, gs[i]));
    api__respond_obj(req, 200, o);
    return true;
  }
  if (!strcmp(p, "/api/v1")) {
    api__respond_obj(req, 200, resource_list("", "v1"));
    return true;
  }
  if (!strncmp(p, "/apis/", 6)) {
    char group[128], version[64] = "";
    const char *g = p + 6;
    const char *slash = strchr(g, '/');
    size_t glen = slash ? (size_t)(slash - g) : strlen(g);
    if (glen == 0 || glen >= sizeof(group))
      return false;
    memcpy(group, g, glen);
    group[glen] = '\0';
    if (slash) {
      if (strchr(slash + 1, '/') || strlen(slash + 1) >= sizeof(version))
        return false;
      snprintf(version, sizeof(version), "%s", slash + 1);
    }
    if (!version[0]) {
      const char *vs[8];
      if (versions_of(srv, group, vs, 8) == 0)
        return false;
      cJSON *o = group_json(srv, group);
      cJSON_AddStringToObject(o, "kind", "APIGroup");
      cJSON_AddStringToObject(o, "apiVersion", "v1");
      api__respond_obj(req, 200, o);
      return true;
    }
    if (!api_registry_has_group_version(group, version))
      return false;
    api__respond_obj(req, 200, resource_list(group, version));
    return true;
  }
  return false;
}
