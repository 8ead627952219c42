/* CustomResourceDefinition behaviour: validation of the definition,
 * Established/NamesAccepted status, serving every served version as a
 * registry row (discovery, REST, Table columns, OpenAPI follow from the
 * row) and deleting the custom objects with their definition.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/ */
#include "api/crd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/crdrules.h"
#include "api/crdschema.h"
#include "api/kinds.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/offload.h"
#include "util/log.h"

#define CRD_PREFIX "/registry/apiextensions.k8s.io/customresourcedefinitions/"

/* Everything a custom row owns. */
typedef struct crd_row {
  schema_resource_t s;
  char *group, *version, *kind, *plural, *singular, *schema_name;
  char **short_names, **categories, **subresources;
  schema_column_t *columns;
  cJSON *schema;
  crd_patterns_t *patterns; /* schema's patterns, compiled once for every request */
  crd_rules_t *rules;       /* its x-kubernetes-validations, compiled once */
  char *crd_name;
  char *warning;      /* deprecation warning of this version, or NULL */
  char *scale_paths[3]; /* specReplicasPath, statusReplicasPath, labelSelectorPath */
  char **selectable;    /* selectableFields as dotted paths, NULL-terminated, or NULL */
  cJSON *conv_webhook;  /* spec.conversion.webhook under strategy Webhook, else NULL */
  api_server_t *srv;
  struct crd_row *graveyard_next;
} crd_row_t;

/* Old row data stays alive until shutdown: in-flight writes may still
 * point at it. Definitions change rarely, so this stays small. */
static crd_row_t *graveyard;

static void row_free(crd_row_t *c) {
  if (!c)
    return;
  free(c->group);
  free(c->version);
  free(c->kind);
  free(c->plural);
  free(c->singular);
  free(c->schema_name);
  for (char **p = c->short_names; p && *p; p++)
    free(*p);
  free(c->short_names);
  for (char **p = c->categories; p && *p; p++)
    free(*p);
  free(c->categories);
  free(c->subresources);
  for (size_t i = 0; i < c->s.ncolumns; i++) {
    free((char *)c->columns[i].name);
    free((char *)c->columns[i].type);
    free((char *)c->columns[i].description);
    free((char *)c->columns[i].path);
  }
  free(c->columns);
  crd_patterns_free(c->patterns);
  crd_rules_free(c->rules);
  cJSON_Delete(c->schema);
  free(c->crd_name);
  free(c->warning);
  for (size_t i = 0; i < 3; i++)
    free(c->scale_paths[i]);
  for (char **p = c->selectable; p && *p; p++)
    free(*p);
  free(c->selectable);
  cJSON_Delete(c->conv_webhook);
  free(c);
}

/* Kubernetes-aware version order (upstream CompareKubeAwareVersionStrings):
 * v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything not of that shape,
 * which compare alphabetically. */
static bool kube_version(const char *v, long *major, int *stability, long *minor) {
  if (v[0] != 'v' || v[1] < '1' || v[1] > '9')
    return false;
  char *end;
  *major = strtol(v + 1, &end, 10);
  *stability = 3;
  *minor = 0;
  if (!*end)
    return true;
  if (!strncmp(end, "beta", 4))
    *stability = 2, end += 4;
  else if (!strncmp(end, "alpha", 5))
    *stability = 1, end += 5;
  else
    return false;
  if (*end < '1' || *end > '9')
    return false;
  *minor = strtol(end, &end, 10);
  return !*end;
}

int api__version_cmp(const char *a, const char *b) {
  long ma, mia, mb, mib;
  int sa, sb;
  bool ka = kube_version(a, &ma, &sa, &mia), kb = kube_version(b, &mb, &sb, &mib);
  if (ka != kb)
    return ka ? 1 : -1;
  if (!ka)
    return -strcmp(a, b) < 0 ? -1 : -strcmp(a, b) > 0;
  if (ma != mb)
    return ma < mb ? -1 : 1;
  if (sa != sb)
    return sa < sb ? -1 : 1;
  return mia < mib ? -1 : mia > mib;
}

/* The Warning a deprecated version answers with (upstream's
 * deprecationWarning, or "<group>/<version> <Kind> is deprecated" naming
 * the newest served non-deprecated later version). */
static char *deprecation_warning(const cJSON *crd, const cJSON *ver) {
  if (!cJSON_IsTrue(obj_get(ver, "deprecated")))
    return NULL;
  const char *text = obj_str(ver, "deprecationWarning");
  if (text)
    return xstrdup(text);
  const char *group = obj_str(crd, "spec.group"), *kind = obj_str(crd, "spec.names.kind");
  const char *name = obj_str(ver, "name");
  const char *best = NULL;
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(crd, "spec.versions")) {
    const char *vn = obj_str(v, "name");
    if (!vn || !cJSON_IsTrue(obj_get(v, "served")) || cJSON_IsTrue(obj_get(v, "deprecated")))
      continue;
    if (api__version_cmp(name, vn) < 0 && (!best || api__version_cmp(vn, best) > 0))
      best = vn;
  }
  if (best)
    return xasprintf("%s/%s %s is deprecated; use %s/%s %s", group, name, kind, group, best, kind);
  return xasprintf("%s/%s %s is deprecated", group, name, kind);
}

static char **strv_from(const cJSON *arr) {
  int n = cJSON_GetArraySize(arr);
  if (n <= 0)
    return NULL;
  char **v = xcalloc((size_t)n + 1, sizeof(char *));
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (cJSON_IsString(e))
      v[i++] = xstrdup(e->valuestring);
  }
  return v;
}

static void add_column(crd_row_t *c, size_t *n, const char *name, const char *type,
                       const char *format, const char *desc, int priority, const char *path) {
  schema_column_t *col = &c->columns[(*n)++];
  col->name = xstrdup(name);
  col->type = xstrdup(type ? type : "string");
  col->format = format;
  col->description = xstrdup(desc ? desc : "");
  col->priority = priority;
  col->path = xstrdup(path);
}

/* "com.example" + v1 + Kind -> "com.example.v1.Kind" (reversed group, as upstream). */
static char *schema_name_of(const char *group, const char *version, const char *kind) {
  char rev[512] = "";
  char g[256];
  snprintf(g, sizeof(g), "%s", group);
  size_t used = 0;
  for (char *dot = strrchr(g, '.');; dot = strrchr(g, '.')) {
    const char *part = dot ? dot + 1 : g;
    int w = snprintf(rev + used, sizeof(rev) - used, "%s%s", used ? "." : "", part);
    if (w > 0)
      used += (size_t)w;
    if (!dot || used >= sizeof(rev))
      break;
    *dot = '\0';
  }
  return xasprintf("%s.%s.%s", rev, version, kind);
}

static crd_row_t *row_build(const cJSON *crd, const cJSON *ver) {
  crd_row_t *c = xcalloc(1, sizeof(*c));
  const cJSON *names = obj_get(crd, "spec.names");
  c->group = xstrdup(obj_str(crd, "spec.group"));
  c->version = xstrdup(obj_str(ver, "name"));
  c->kind = xstrdup(obj_str(names, "kind"));
  c->plural = xstrdup(obj_str(names, "plural"));
  const char *singular = obj_str(names, "singular");
  if (singular && singular[0]) {
    c->singular = xstrdup(singular);
  } else {
    c->singular = xstrdup(c->kind);
    for (char *p = c->singular; *p; p++)
      if (*p >= 'A' && *p <= 'Z')
        *p = (char)(*p - 'A' + 'a');
  }
  c->short_names = strv_from(obj_get(names, "shortNames"));
  c->categories = strv_from(obj_get(names, "categories"));
  c->subresources = xcalloc(3, sizeof(char *));
  size_t nsub = 0;
  if (obj_get(ver, "subresources.status"))
    c->subresources[nsub++] = "status";
  if (obj_get(ver, "subresources.scale"))
    c->subresources[nsub++] = "scale";
  const cJSON *schema = obj_get(ver, "schema.openAPIV3Schema");
  c->schema = schema ? cJSON_Duplicate(schema, 1) : NULL;
  c->patterns = crd_patterns_new(c->schema);
  c->rules = crd_rules_new(c->schema);
  c->schema_name = schema_name_of(c->group, c->version, c->kind);
  c->crd_name = xstrdup(obj_str(crd, "metadata.name"));
  c->warning = deprecation_warning(crd, ver);
  const char *strategy = obj_str(crd, "spec.conversion.strategy");
  const cJSON *hook = obj_get(crd, "spec.conversion.webhook");
  if (strategy && !strcmp(strategy, "Webhook") && hook)
    c->conv_webhook = cJSON_Duplicate(hook, 1);
  static const char *const scale_keys[] = {"specReplicasPath", "statusReplicasPath",
                                           "labelSelectorPath"};
  for (size_t i = 0; i < 3; i++) {
    const char *p = obj_str(obj_get(ver, "subresources.scale"), scale_keys[i]);
    c->scale_paths[i] = p && p[0] == '.' && p[1] ? xstrdup(p + 1) : NULL;
  }
  const cJSON *sf = obj_get(ver, "selectableFields");
  int nsf = cJSON_GetArraySize(sf);
  if (nsf > 0) {
    c->selectable = xcalloc((size_t)nsf + 1, sizeof(char *));
    int k = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, sf) {
      const char *jp = obj_str(f, "jsonPath");
      if (jp && jp[0] == '.' && jp[1])
        c->selectable[k++] = xstrdup(jp + 1);
    }
  }

  const cJSON *cols = obj_get(ver, "additionalPrinterColumns");
  size_t want = (size_t)cJSON_GetArraySize(cols) + 2;
  c->columns = xcalloc(want, sizeof(schema_column_t));
  size_t n = 0;
  add_column(c, &n, "Name", "string", "name", "Name must be unique within a namespace.", 0,
             ".metadata.name");
  const cJSON *col;
  cJSON_ArrayForEach(col, cols) {
    const char *name = obj_str(col, "name"), *path = obj_str(col, "jsonPath");
    if (!name || !path)
      continue;
    const cJSON *prio = obj_get(col, "priority");
    add_column(c, &n, name, obj_str(col, "type"), "", obj_str(col, "description"),
               cJSON_IsNumber(prio) ? prio->valueint : 0, path);
  }
  if (n == 1)
    add_column(c, &n, "Age", "date", "",
               "CreationTimestamp is a timestamp representing the server time when this object was "
               "created.",
               0, ".metadata.creationTimestamp");

  c->s.group = c->group;
  c->s.version = c->version;
  c->s.kind = c->kind;
  c->s.plural = c->plural;
  c->s.singular = c->singular;
  c->s.short_names = (const char *const *)c->short_names;
  c->s.categories = (const char *const *)c->categories;
  const char *scope = obj_str(crd, "spec.scope");
  c->s.namespaced = !scope || strcmp(scope, "Cluster") != 0;
  c->s.verbs = SCHEMA_VERBS_ALL;
  c->s.subresources = (const char *const *)c->subresources;
  c->s.type = NULL;
  c->s.columns = c->columns;
  c->s.ncolumns = n;
  c->s.json_schema = c->schema;
  c->s.schema_name = c->schema_name;
  return c;
}

static const api_hooks_t custom_hooks = {.generation = true};

static void watches_of_removed(api_server_t *srv) { api__watches_stop_removed(srv); }

/* Serve the versions of crd; rows of versions no longer served go away. */
static void crd_register(api_server_t *srv, const cJSON *crd) {
  const char *name = obj_str(crd, "metadata.name");
  const char *group = obj_str(crd, "spec.group");
  const char *plural = obj_str(crd, "spec.names.plural");
  if (!name || !group || !plural)
    return;
  for (size_t i = 0; i < api_registry_count(); i++) {
    api_resource_t *r = (api_resource_t *)api_registry_at(i);
    crd_row_t *c = r ? r->custom : NULL;
    if (!c || strcmp(c->crd_name, name))
      continue;
    bool served = false;
    const cJSON *v;
    cJSON_ArrayForEach(v, obj_get(crd, "spec.versions")) {
      const char *vn = obj_str(v, "name");
      served |= vn && !strcmp(vn, c->version) && cJSON_IsTrue(obj_get(v, "served"));
    }
    if (!served || strcmp(c->plural, plural) || strcmp(c->group, group))
      r->removed = true;
  }
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(crd, "spec.versions")) {
    if (!cJSON_IsTrue(obj_get(v, "served")) || !obj_str(v, "name"))
      continue;
    api_resource_t *r = api_registry_add(group, obj_str(v, "name"), plural);
    crd_row_t *old = r->custom;
    crd_row_t *c = row_build(crd, v);
    c->srv = srv;
    r->s = &c->s;
    r->custom = c;
    r->hooks = &custom_hooks;
    /* an offloaded request may be reading the old string right now */
    offload_defer(free, (char *)r->group_version);
    r->group_version = xasprintf("%s/%s", c->group, c->version);
    r->storage_group = c->group;
    r->has_status = api_resource_has_subresource(r, "status");
    r->has_scale = api_resource_has_subresource(r, "scale");
    r->removed = false;
    r->storage = r;
    if (old) {
      old->graveyard_next = graveyard;
      graveyard = old;
    }
  }
  /* Every served version reads and writes the storage version's objects
   * (conversion None: only apiVersion changes, convert.c). */
  const char *storage_version = NULL;
  cJSON_ArrayForEach(v, obj_get(crd, "spec.versions")) {
    if (cJSON_IsTrue(obj_get(v, "storage")))
      storage_version = obj_str(v, "name");
  }
  const api_resource_t *storage =
      storage_version ? api_registry_find(group, storage_version, plural) : NULL;
  if (storage && storage->removed)
    storage = NULL;
  for (size_t i = 0; i < api_registry_count(); i++) {
    api_resource_t *r = (api_resource_t *)api_registry_at(i);
    crd_row_t *c = r ? r->custom : NULL;
    if (c && !strcmp(c->crd_name, name))
      r->storage = storage ? storage : r;
  }
  watches_of_removed(srv);
}

const cJSON *api__crd_conversion_webhook(const api_resource_t *view, api_server_t **ret_srv) {
  const crd_row_t *c = view ? view->custom : NULL;
  if (!c || !c->conv_webhook)
    return NULL;
  if (ret_srv)
    *ret_srv = c->srv;
  return c->conv_webhook;
}

void api__crd_warn(http_req_t *req, const api_resource_t *view) {
  const crd_row_t *c = view ? view->custom : NULL;
  if (c && c->warning)
    api__add_warning(req, c->warning);
}

const char *const *api__crd_selectable_fields(const api_resource_t *view) {
  const crd_row_t *c = view ? view->custom : NULL;
  return c ? (const char *const *)c->selectable : NULL;
}

bool api__crd_scale_paths(const api_resource_t *res, const char **ret_spec,
                          const char **ret_status, const char **ret_selector) {
  const crd_row_t *c = res ? res->custom : NULL;
  if (!c)
    return false;
  *ret_spec = c->scale_paths[0];
  *ret_status = c->scale_paths[1];
  *ret_selector = c->scale_paths[2];
  return true;
}

static void crd_unregister(api_server_t *srv, const cJSON *crd) {
  const char *name = obj_str(crd, "metadata.name");
  if (!name)
    return;
  char *prefix = NULL;
  for (size_t i = 0; i < api_registry_count(); i++) {
    api_resource_t *r = (api_resource_t *)api_registry_at(i);
    crd_row_t *c = r ? r->custom : NULL;
    if (!c || strcmp(c->crd_name, name))
      continue;
    r->removed = true;
    if (!prefix)
      prefix = xasprintf("/registry/%s/%s/", c->group, c->plural);
  }
  watches_of_removed(srv);
  if (!prefix)
    return;
  /* The definition's objects go with it. */
  store_list_opts_t lo = {.prefix = prefix};
  store_list_t l;
  if (store_list(srv->store, &lo, &l) == 0) {
    for (size_t i = 0; i < l.n; i++) {
      store_write_t w = {.op = STORE_OP_DELETE, .key = l.items[i]->key, .value = l.items[i]->value,
                         .len = l.items[i]->len};
      int r = store_write(srv->store, &w, NULL, NULL);
      if (r < 0)
        log_warn("api", "deleting %s with its definition %s: %s", l.items[i]->key, name,
                 strerror(-r));
    }
    if (l.n)
      log_info("api", "deleted %zu objects of %s", l.n, name);
    store_list_done(&l);
  }
  free(prefix);
}

static void on_crd_event(store_watch_t *w, const store_event_t *ev, void *data) {
  api_server_t *srv = data;
  cJSON *crd = cJSON_ParseWithLength(ev->kv->value, ev->kv->len);
  if (!crd)
    return;
  if (ev->kind == STORE_EVENT_DELETE)
    crd_unregister(srv, crd);
  else
    crd_register(srv, crd);
  cJSON_Delete(crd);
}

static void on_crd_error(store_watch_t *w, int err, int64_t last_rev, void *data) {
  api_server_t *srv = data;
  srv->crd_watch = NULL;
  /* Catch up from the current state and follow again. */
  log_warn("api", "CRD watch ended (%s); reloading definitions", strerror(-err));
  char msg[256];
  if (api__crd_start(srv, msg, sizeof(msg)) < 0)
    log_error("api", "CRD watch: %s", msg);
}

int api__crd_start(api_server_t *srv, char *err, size_t errlen) {
  store_list_opts_t lo = {.prefix = CRD_PREFIX};
  store_list_t l;
  int r = store_list(srv->store, &lo, &l);
  if (r < 0) {
    snprintf(err, errlen, "listing CustomResourceDefinitions: %s", strerror(-r));
    return r;
  }
  for (size_t i = 0; i < l.n; i++) {
    cJSON *crd = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
    if (crd)
      crd_register(srv, crd);
    cJSON_Delete(crd);
  }
  int64_t rev = l.rev;
  store_list_done(&l);
  r = store_watch_start(srv->store, CRD_PREFIX, rev, on_crd_event, on_crd_error, srv,
                        &srv->crd_watch);
  if (r < 0) {
    snprintf(err, errlen, "watching CustomResourceDefinitions: %s", strerror(-r));
    return r;
  }
  return 0;
}

void api__crd_stop(api_server_t *srv) {
  if (srv->crd_watch)
    store_watch_stop(srv->crd_watch);
  srv->crd_watch = NULL;
  while (graveyard) {
    crd_row_t *next = graveyard->graveyard_next;
    row_free(graveyard);
    graveyard = next;
  }
  for (size_t i = 0; i < api_registry_count(); i++) {
    api_resource_t *r = (api_resource_t *)api_registry_row(i);
    if (r && r->custom) {
      row_free(r->custom);
      r->custom = NULL;
      r->s = NULL;
      free((char *)r->group_version);
      r->group_version = NULL;
      r->removed = true;
    }
  }
}

/* ---- the CustomResourceDefinition kind ---- */

static void set_condition(cJSON *conds, const char *type, const char *reason, const char *msg,
                          const char *now) {
  cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    const char *t = obj_str(c, "type");
    if (t && !strcmp(t, type))
      return;
  }
  c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "type", type);
  cJSON_AddStringToObject(c, "status", "True");
  cJSON_AddStringToObject(c, "lastTransitionTime", now);
  cJSON_AddStringToObject(c, "reason", reason);
  cJSON_AddStringToObject(c, "message", msg);
  cJSON_AddItemToArray(conds, c);
}

/* k3c accepts names and establishes the API at once (upstream's naming and
 * establishing controllers do this a moment after creation). */
static void crd_defaults(cJSON *obj) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!cJSON_IsObject(spec))
    return;
  cJSON *names = cJSON_GetObjectItemCaseSensitive(spec, "names");
  if (cJSON_IsObject(names)) {
    const char *kind = obj_str(names, "kind");
    if (!obj_str(names, "singular") && kind) {
      char *s = xstrdup(kind);
      for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
          *p = (char)(*p - 'A' + 'a');
      cJSON_AddStringToObject(names, "singular", s);
      free(s);
    }
    if (!obj_str(names, "listKind") && kind) {
      char *lk = xasprintf("%sList", kind);
      cJSON_AddStringToObject(names, "listKind", lk);
      free(lk);
    }
  }
  cJSON *conv = cJSON_GetObjectItemCaseSensitive(spec, "conversion");
  if (!conv) {
    conv = cJSON_AddObjectToObject(spec, "conversion");
    cJSON_AddStringToObject(conv, "strategy", "None");
  }
  cJSON *status = obj_child_object(obj, "status");
  if (names)
    obj_set(status, "acceptedNames", cJSON_Duplicate(names, 1));
  cJSON *conds = obj_child_array(status, "conditions");
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  set_condition(conds, "NamesAccepted", "NoConflicts", "no conflicts found", now);
  set_condition(conds, "Established", "InitialNamesAccepted", "the initial names have been accepted",
                now);
  cJSON *stored = cJSON_CreateArray();
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(obj, "spec.versions")) {
    if (cJSON_IsTrue(obj_get(v, "storage")) && obj_str(v, "name"))
      cJSON_AddItemToArray(stored, cJSON_CreateString(obj_str(v, "name")));
  }
  obj_set(status, "storedVersions", stored);
}

/* spec.conversion, as upstream's validateCustomResourceConversion (its
 * field paths are the internal type's: webhookClientConfig). */
static void crd_validate_conversion(const cJSON *conv, api_status_t *st) {
  if (!conv)
    return;
  const char *strategy = obj_str(conv, "strategy");
  const cJSON *hook = cJSON_GetObjectItemCaseSensitive(conv, "webhook");
  const cJSON *cc = cJSON_GetObjectItemCaseSensitive(hook, "clientConfig");
  if (!strategy || !strategy[0]) {
    api__cause_required(st, "spec.conversion.strategy");
  } else if (strcmp(strategy, "None") && strcmp(strategy, "Webhook")) {
    api__cause(st, "FieldValueNotSupported", "spec.conversion.strategy",
               "Unsupported value: \"%s\": supported values: \"None\", \"Webhook\"", strategy);
  } else if (!strcmp(strategy, "None")) {
    if (cc)
      api__cause(st, "FieldValueForbidden", "spec.conversion.webhookClientConfig",
                 "Forbidden: should not be set when strategy is not set to Webhook");
    return;
  }
  if (!strategy || strcmp(strategy, "Webhook"))
    return;
  if (!cJSON_IsObject(cc)) {
    api__cause(st, "FieldValueRequired", "spec.conversion.webhookClientConfig",
               "Required value: required when strategy is set to Webhook");
  } else {
    const char *url = obj_str(cc, "url");
    const cJSON *svc = cJSON_GetObjectItemCaseSensitive(cc, "service");
    if (!url == !svc)
      api__cause(st, "FieldValueRequired", "spec.conversion.webhookClientConfig",
                 "Required value: exactly one of url or service is required");
    else if (url && strncmp(url, "https://", 8))
      api__cause(st, "FieldValueInvalid", "spec.conversion.webhookClientConfig.url",
                 "Invalid value: \"%s\": 'https' is the only allowed URL scheme", url);
    else if (url && !url[8])
      api__cause(st, "FieldValueInvalid", "spec.conversion.webhookClientConfig.url",
                 "Invalid value: \"%s\": host must be specified", url);
    else if (svc && (!obj_str(svc, "name") || !obj_str(svc, "name")[0]))
      api__cause_required(st, "spec.conversion.webhookClientConfig.service.name");
    else if (svc && (!obj_str(svc, "namespace") || !obj_str(svc, "namespace")[0]))
      api__cause_required(st, "spec.conversion.webhookClientConfig.service.namespace");
  }
  const cJSON *versions = cJSON_GetObjectItemCaseSensitive(hook, "conversionReviewVersions");
  if (cJSON_GetArraySize(versions) == 0) {
    api__cause_required(st, "spec.conversion.conversionReviewVersions");
    return;
  }
  bool v1 = false;
  const cJSON *v;
  cJSON_ArrayForEach(v, versions) v1 |= cJSON_IsString(v) && !strcmp(v->valuestring, "v1");
  if (!v1) {
    char *shown = cJSON_PrintUnformatted(versions);
    /* Go prints a []string as [a b] */
    for (char *p = shown, *q = shown;; p++) {
      if (*p != '"')
        *q++ = *p == ',' ? ' ' : *p;
      if (!*p)
        break;
    }
    api__cause(st, "FieldValueInvalid", "spec.conversion.conversionReviewVersions",
               "Invalid value: %s: must include at least one of v1, v1beta1", shown);
    free(shown);
  }
}

static void crd_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *group = obj_str(obj, "spec.group");
  const char *plural = obj_str(obj, "spec.names.plural");
  const char *kind = obj_str(obj, "spec.names.kind");
  const char *name = obj_str(obj, "metadata.name");
  if (!group || !group[0])
    api__cause_required(st, "spec.group");
  else if (!strchr(group, '.'))
    api__cause(st, "FieldValueInvalid", "spec.group",
               "Invalid value: \"%s\": should be a domain with at least one dot", group);
  if (!plural || !plural[0])
    api__cause_required(st, "spec.names.plural");
  else if (obj_check_dns1123_label(plural))
    api__cause(st, "FieldValueInvalid", "spec.names.plural", "Invalid value: \"%s\": %s", plural,
               obj_check_dns1123_label(plural));
  if (!kind || !kind[0])
    api__cause_required(st, "spec.names.kind");
  if (group && plural && name) {
    char want[512];
    snprintf(want, sizeof(want), "%s.%s", plural, group);
    if (strcmp(want, name))
      api__cause(st, "FieldValueInvalid", "metadata.name",
                 "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group", name);
  }
  const char *scope = obj_str(obj, "spec.scope");
  if (!scope || (strcmp(scope, "Namespaced") && strcmp(scope, "Cluster")))
    api__cause(st, "FieldValueNotSupported", "spec.scope",
               "Unsupported value: \"%s\": supported values: \"Cluster\", \"Namespaced\"",
               scope ? scope : "");
  const cJSON *versions = obj_get(obj, "spec.versions");
  if (cJSON_GetArraySize(versions) == 0)
    api__cause(st, "FieldValueInvalid", "spec.versions", "Invalid value: must have exactly one version marked as storage version");
  int storage = 0, i = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, versions) {
    char field[128];
    if (cJSON_IsTrue(obj_get(v, "storage")))
      storage++;
    const char *vn = obj_str(v, "name");
    if (!vn || obj_check_dns1123_label(vn)) {
      snprintf(field, sizeof(field), "spec.versions[%d].name", i);
      api__cause(st, "FieldValueInvalid", field, "Invalid value: \"%s\": must be a DNS-1035 label", vn ? vn : "");
    }
    const cJSON *schema = obj_get(v, "schema.openAPIV3Schema");
    snprintf(field, sizeof(field), "spec.versions[%d].schema.openAPIV3Schema", i);
    if (!schema)
      api__cause_required(st, field);
    else if (crd_schema_check(schema, field, st) == 0)
      crd_rules_check(schema, field, st);
    i++;
  }
  if (cJSON_GetArraySize(versions) > 0 && storage != 1)
    api__cause(st, "FieldValueInvalid", "spec.versions",
               "Invalid value: must have exactly one version marked as storage version");
  crd_validate_conversion(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "spec"), "conversion"), st);
  if (old) {
    const char *oscope = obj_str(old, "spec.scope");
    if (oscope && scope && strcmp(oscope, scope))
      api__cause(st, "FieldValueInvalid", "spec.scope", "Invalid value: \"%s\": field is immutable", scope);
    const char *ogroup = obj_str(old, "spec.group");
    if (ogroup && group && strcmp(ogroup, group))
      api__cause(st, "FieldValueInvalid", "spec.group", "Invalid value: \"%s\": field is immutable", group);
  }
}

const api_hooks_t api_kind_crd = {.defaults = crd_defaults, .validate = crd_validate};

/* ---- custom objects ---- */

typedef struct {
  char fields[16][256];
  int n, total;
} unknown_t;

static void on_unknown(const char *path, void *data) {
  unknown_t *u = data;
  if (u->n < 16)
    snprintf(u->fields[u->n++], sizeof(u->fields[0]), "%s", path);
  u->total++;
}

int api__crd_admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
                   api_status_t *st) {
  const cJSON *schema = res->s->json_schema;
  if (!schema)
    return 0;
  unknown_t u;
  memset(&u, 0, sizeof(u));
  crd_schema_prune(schema, obj, on_unknown, &u);
  const char *mode = req ? http_req_query(req, "fieldValidation") : NULL;
  if (u.total && mode && !strcmp(mode, "Strict")) {
    char list[1024] = "";
    size_t used = 0;
    for (int i = 0; i < u.n; i++) {
      int w = snprintf(list + used, sizeof(list) - used, "%sunknown field \"%s\"", i ? ", " : "",
                       u.fields[i]);
      if (w < 0 || (size_t)w >= sizeof(list) - used)
        break;
      used += (size_t)w;
    }
    api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s",
                           res->s->kind, res->group_version, res->s->kind, list);
    return -EINVAL;
  }
  for (int i = 0; i < u.n && req && !(mode && !strcmp(mode, "Ignore")); i++) {
    char *w = xasprintf("unknown field \"%s\"", u.fields[i]);
    api__add_warning(req, w);
    free(w);
  }
  crd_schema_default(schema, obj);
  const crd_row_t *row = res->custom;
  const crd_patterns_t *pats = row && row->schema == schema ? row->patterns : NULL;
  if (crd_schema_validate(schema, pats, obj, st) > 0 ||
      (row && row->schema == schema && crd_rules_validate(row->rules, obj, old, st) > 0)) {
    api_status_invalid(st, res->s->group, res->s->kind, obj_str(obj, "metadata.name"));
    return -EINVAL;
  }
  return 0;
}
