/* Per-object watches of what the node's pods use (refs.h): one informer of
 * a single name per object, counted by the pods that name it; each pod's
 * current set is kept so that a change of its spec (or its end) releases
 * exactly what it stopped using.
 * https://kubernetes.io/docs/reference/access-authn-authz/node/ */
#include "agent/refs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/informer.h"
#include "util/alloc.h"
#include "util/strmap.h"

typedef struct watch watch_t;

struct agent_refs {
  client_t *c;
  char *resource;
  agent_refs_changed_cb cb;
  void *data;
  strmap_t watches; /* "ns/name" -> watch_t */
  cJSON *owners;    /* pod key -> array of the "ns/name" it uses */
  watch_t *all;     /* every watch, for freeing */
};

struct watch {
  agent_refs_t *r;
  watch_t *prev, *next;
  char *key; /* "ns/name", the map's key */
  char *ns, *name;
  unsigned users;
  client_informer_t *inf;
};

static void notify(watch_t *w) { w->r->cb(w->ns, w->name, w->r->data); }
static void on_add(const cJSON *obj, void *data) { notify(data); }
static void on_update(const cJSON *old, const cJSON *obj, void *data) { notify(data); }
static void on_delete(const cJSON *obj, void *data) { notify(data); }
static void on_synced(void *data) { notify(data); }

static void watch_free(watch_t *w) {
  if (w->prev)
    w->prev->next = w->next;
  else if (w->r->all == w)
    w->r->all = w->next;
  if (w->next)
    w->next->prev = w->prev;
  client_informer_free(w->inf);
  free(w->key);
  free(w->ns);
  free(w->name);
  free(w);
}

static void watch_ref(agent_refs_t *r, const char *ns, const char *name) {
  char key[600];
  snprintf(key, sizeof(key), "%s/%s", ns, name);
  watch_t *w = strmap_get(&r->watches, key);
  if (w) {
    w->users++;
    return;
  }
  w = xcalloc(1, sizeof(*w));
  w->r = r;
  w->key = xstrdup(key);
  w->ns = xstrdup(ns);
  w->name = xstrdup(name);
  w->users = 1;
  char fs[400];
  snprintf(fs, sizeof(fs), "metadata.name=%s", name);
  client_ref_t ref = {.version = "v1", .resource = r->resource, .ns = ns};
  client_informer_handlers_t h = {on_add, on_update, on_delete};
  if (client_informer_new(r->c, &ref, NULL, fs, 1, &w->inf) < 0 ||
      client_informer_add_handlers(w->inf, &h, w) < 0 ||
      strmap_put(&r->watches, w->key, w, NULL) < 0) {
    watch_free(w); /* a name no request accepts: it stays absent, unsynced */
    return;
  }
  w->next = r->all;
  if (w->next)
    w->next->prev = w;
  r->all = w;
  client_informer_on_synced(w->inf, on_synced, w);
  client_informer_start(w->inf);
}

static void watch_unref(agent_refs_t *r, const char *key) {
  watch_t *w = strmap_get(&r->watches, key);
  if (!w || --w->users > 0)
    return;
  strmap_del(&r->watches, key);
  watch_free(w);
}

int agent_refs_new(client_t *c, const char *resource, agent_refs_changed_cb cb, void *data,
                   agent_refs_t **ret_refs) {
  if (!c || !resource || !cb)
    return -EINVAL;
  agent_refs_t *r = xcalloc(1, sizeof(*r));
  r->c = c;
  r->resource = xstrdup(resource);
  r->cb = cb;
  r->data = data;
  strmap_init(&r->watches);
  r->owners = cJSON_CreateObject();
  *ret_refs = r;
  return 0;
}

static void release(agent_refs_t *r, const cJSON *uses) {
  const cJSON *u;
  cJSON_ArrayForEach(u, uses)
    watch_unref(r, u->valuestring);
}

void agent_refs_set(agent_refs_t *r, const char *owner, const char *ns, const cJSON *names) {
  cJSON *uses = cJSON_CreateArray();
  const cJSON *n;
  cJSON_ArrayForEach(n, names) {
    if (!cJSON_IsString(n) || !n->valuestring[0])
      continue;
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", ns, n->valuestring);
    cJSON_AddItemToArray(uses, cJSON_CreateString(key));
    watch_ref(r, ns, n->valuestring); /* before the release: no restart for kept names */
  }
  cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(r->owners, owner);
  release(r, old);
  cJSON_Delete(old);
  cJSON_AddItemToObject(r->owners, owner, uses);
}

void agent_refs_drop(agent_refs_t *r, const char *owner) {
  cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(r->owners, owner);
  release(r, old);
  cJSON_Delete(old);
}

const cJSON *agent_refs_get(const agent_refs_t *r, const char *ns, const char *name,
                            bool *ret_synced) {
  char key[600];
  snprintf(key, sizeof(key), "%s/%s", ns, name);
  watch_t *w = strmap_get(&r->watches, key);
  if (ret_synced)
    *ret_synced = w && client_informer_synced(w->inf);
  return w ? client_informer_get(w->inf, ns, name) : NULL;
}

unsigned agent_refs_count(const agent_refs_t *r) { return (unsigned)r->watches.len; }

void agent_refs_free(agent_refs_t *r) {
  if (!r)
    return;
  while (r->all)
    watch_free(r->all);
  cJSON_Delete(r->owners);
  strmap_done(&r->watches);
  free(r->resource);
  free(r);
}
