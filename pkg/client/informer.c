/* List+watch into a client_cache_t, with event handlers: client-go's
 * Reflector, DeltaFIFO and SharedIndexInformer folded into one loop-driven
 * state machine (LISTING -> WATCHING -> on end WATCHING again from the last
 * resourceVersion, on 410 LISTING, on errors a capped back-off first).
 * https://pkg.go.dev/k8s.io/client-go/tools/cache#SharedIndexInformer */
#include "client/informer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/backend.h"
#include "util/alloc.h"

#define MAX_HANDLERS 16
#define LIST_PAGE "500"
#define BACKOFF_MIN 0.8
#define BACKOFF_MAX 30.0
#define WATCH_TIMEOUT_MIN 300 /* seconds; upstream picks 5-10 minutes */

typedef struct {
  client_informer_handlers_t h;
  void *data;
} handler_t;

struct client_informer {
  client_t *c;
  char *group, *version, *resource, *ns;
  char *label_selector, *field_selector;
  client_cache_t *cache;
  handler_t handlers[MAX_HANDLERS];
  size_t n_handlers;
  char rv[32];
  char *continue_tok;
  bool started, synced, listing;
  client_req_t *req; /* the list or watch in flight */
  ev_timer retry;
  double backoff;
  void (*synced_cb)(void *data);
  void *synced_data;
  client_informer_stats_t stats;
  unsigned watch_seq;
};

static void do_list(client_informer_t *inf);
static void do_watch(client_informer_t *inf);

static client_ref_t ref_of(const client_informer_t *inf) {
  return (client_ref_t){.group = inf->group, .version = inf->version, .resource = inf->resource,
                        .ns = inf->ns};
}

int client_informer_new(client_t *c, const client_ref_t *ref, const char *label_selector,
                        const char *field_selector, size_t max_objects,
                        client_informer_t **ret_inf) {
  char path[1024];
  client_ref_t r = *ref;
  r.name = r.subresource = NULL;
  if (!c || client_ref_path(&r, path, sizeof(path)) < 0)
    return -EINVAL;
  client_informer_t *inf = xcalloc(1, sizeof(*inf));
  inf->c = c;
  inf->group = xstrdup(ref->group ? ref->group : "");
  inf->version = xstrdup(ref->version);
  inf->resource = xstrdup(ref->resource);
  inf->ns = xstrdup(ref->ns ? ref->ns : "");
  inf->label_selector = label_selector && label_selector[0] ? xstrdup(label_selector) : NULL;
  inf->field_selector = field_selector && field_selector[0] ? xstrdup(field_selector) : NULL;
  inf->cache = client_cache_new(max_objects);
  ev_timer_init(&inf->retry, NULL, 0, 0);
  *ret_inf = inf;
  return 0;
}

void client_informer_free(client_informer_t *inf) {
  if (!inf)
    return;
  client_req_cancel(inf->req);
  ev_timer_stop(inf->c->loop, &inf->retry);
  client_cache_free(inf->cache);
  free(inf->continue_tok);
  free(inf->group);
  free(inf->version);
  free(inf->resource);
  free(inf->ns);
  free(inf->label_selector);
  free(inf->field_selector);
  free(inf);
}

int client_informer_add_index(client_informer_t *inf, const char *name, client_index_fn fn) {
  if (inf->started)
    return -EBUSY;
  return client_cache_add_index(inf->cache, name, fn);
}

static void replay_add(const cJSON *obj, void *data) {
  handler_t *h = data;
  h->h.on_add(obj, h->data);
}

int client_informer_add_handlers(client_informer_t *inf, const client_informer_handlers_t *h,
                                 void *data) {
  if (inf->n_handlers >= MAX_HANDLERS)
    return -ENOSPC;
  handler_t *slot = &inf->handlers[inf->n_handlers++];
  slot->h = *h;
  slot->data = data;
  if (inf->synced && h->on_add)
    client_cache_foreach(inf->cache, replay_add, slot);
  return 0;
}

size_t client_informer_remove_handlers(client_informer_t *inf, void *data) {
  size_t kept = 0, n = inf->n_handlers;
  for (size_t i = 0; i < n; i++)
    if (inf->handlers[i].data != data)
      inf->handlers[kept++] = inf->handlers[i];
  inf->n_handlers = kept;
  return n - kept;
}

void client_informer_on_synced(client_informer_t *inf, void (*cb)(void *data), void *data) {
  inf->synced_cb = cb;
  inf->synced_data = data;
}

bool client_informer_synced(const client_informer_t *inf) { return inf->synced; }
const client_cache_t *client_informer_cache(const client_informer_t *inf) { return inf->cache; }
const char *client_informer_resource_version(const client_informer_t *inf) { return inf->rv; }
void client_informer_stats(const client_informer_t *inf, client_informer_stats_t *ret_stats) {
  *ret_stats = inf->stats;
}

const cJSON *client_informer_get(const client_informer_t *inf, const char *ns, const char *name) {
  char key[512];
  int n = ns && ns[0] ? snprintf(key, sizeof(key), "%s/%s", ns, name)
                      : snprintf(key, sizeof(key), "%s", name);
  if (n < 0 || (size_t)n >= sizeof(key))
    return NULL;
  return client_cache_get(inf->cache, key);
}

/* ---- events into the cache and out to the handlers ---- */

static const char *obj_rv(const cJSON *obj) {
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
  return cJSON_IsString(rv) ? rv->valuestring : NULL;
}

static void set_rv(client_informer_t *inf, const char *rv) {
  if (rv && rv[0] && strlen(rv) < sizeof(inf->rv))
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
}

/* Store obj (taken) and tell the handlers. With skip_same, an object whose
 * resourceVersion equals the cached one is not an event (relists). */
static void upsert(client_informer_t *inf, cJSON *obj, bool skip_same) {
  char key[512];
  /* No cached reader uses managedFields (they are the API's bookkeeping
   * for apply); dropping them, as upstream's controller manager and
   * scheduler informers do, saves about a third of a pod's memory. */
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
                                          "managedFields");
  if (client_cache_key(obj, key, sizeof(key)) < 0) {
    cJSON_Delete(obj);
    return;
  }
  const cJSON *cur = client_cache_get(inf->cache, key);
  if (skip_same && cur) {
    const char *a = obj_rv(cur), *b = obj_rv(obj);
    if (a && b && !strcmp(a, b)) {
      /* Same object: keep the cached one (handlers and callers may hold
       * it), only mark it as seen by this relist. */
      client_cache_touch(inf->cache, key);
      cJSON_Delete(obj);
      return;
    }
  }
  cJSON *old = NULL;
  if (client_cache_put(inf->cache, obj, &old) < 0)
    return; /* over the limit: the object is dropped (freed by put) */
  for (size_t i = 0; i < inf->n_handlers; i++) {
    handler_t *h = &inf->handlers[i];
    if (old && h->h.on_update)
      h->h.on_update(old, obj, h->data);
    else if (!old && h->h.on_add)
      h->h.on_add(obj, h->data);
  }
  cJSON_Delete(old);
}

static void notify_delete(const cJSON *obj, void *data) {
  client_informer_t *inf = data;
  for (size_t i = 0; i < inf->n_handlers; i++)
    if (inf->handlers[i].h.on_delete)
      inf->handlers[i].h.on_delete(obj, inf->handlers[i].data);
}

static void remove_obj(client_informer_t *inf, const cJSON *obj) {
  char key[512];
  if (client_cache_key(obj, key, sizeof(key)) < 0)
    return;
  cJSON *old = client_cache_remove(inf->cache, key);
  if (!old)
    return;
  notify_delete(old, inf); /* the cached copy: it has what handlers indexed */
  cJSON_Delete(old);
}

/* ---- retries ---- */

static void retry_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  client_informer_t *inf = (client_informer_t *)((char *)t - offsetof(client_informer_t, retry));
  if (inf->listing || !inf->synced)
    do_list(inf);
  else
    do_watch(inf);
}

static void retry_later(client_informer_t *inf) {
  inf->stats.errors++;
  inf->backoff = inf->backoff ? inf->backoff * 2 : BACKOFF_MIN;
  if (inf->backoff > BACKOFF_MAX)
    inf->backoff = BACKOFF_MAX;
  ev_timer_stop(inf->c->loop, &inf->retry);
  ev_timer_init(&inf->retry, retry_cb, inf->backoff, 0);
  ev_timer_start(inf->c->loop, &inf->retry);
}

/* ---- list ---- */

static void list_done(const client_result_t *res, void *data) {
  client_informer_t *inf = data;
  inf->req = NULL;
  if (res->code != 200 || !cJSON_IsObject(res->obj)) {
    if (client_result_gone(res)) { /* the continue token expired: start over */
      free(inf->continue_tok);
      inf->continue_tok = NULL;
      inf->stats.gone++;
    }
    retry_later(inf);
    return;
  }
  cJSON *items = cJSON_GetObjectItemCaseSensitive(res->obj, "items");
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(res->obj, "metadata");
  const cJSON *cont = cJSON_GetObjectItemCaseSensitive(md, "continue");
  const cJSON *lrv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
  /* Items of a list carry no kind/apiVersion: add them so handlers and
   * writers see complete objects. */
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(res->obj, "kind");
  const cJSON *api = cJSON_GetObjectItemCaseSensitive(res->obj, "apiVersion");
  char item_kind[128] = "";
  if (cJSON_IsString(kind) && strlen(kind->valuestring) > 4 &&
      strlen(kind->valuestring) < sizeof(item_kind))
    snprintf(item_kind, sizeof(item_kind), "%.*s", (int)strlen(kind->valuestring) - 4,
             kind->valuestring); /* "PodList" -> "Pod" */
  cJSON *it;
  while ((it = cJSON_DetachItemFromArray(items, 0))) {
    if (item_kind[0] && !cJSON_GetObjectItemCaseSensitive(it, "kind"))
      cJSON_AddStringToObject(it, "kind", item_kind);
    if (cJSON_IsString(api) && !cJSON_GetObjectItemCaseSensitive(it, "apiVersion"))
      cJSON_AddStringToObject(it, "apiVersion", api->valuestring);
    upsert(inf, it, true);
  }
  free(inf->continue_tok);
  inf->continue_tok = NULL;
  if (cJSON_IsString(cont) && cont->valuestring[0]) {
    inf->continue_tok = xstrdup(cont->valuestring);
    do_list(inf);
    return;
  }
  if (cJSON_IsString(lrv))
    set_rv(inf, lrv->valuestring);
  /* What the list did not return is gone. */
  client_cache_sweep(inf->cache, notify_delete, inf);
  inf->listing = false;
  inf->backoff = 0;
  bool first = !inf->synced;
  inf->synced = true;
  if (first && inf->synced_cb)
    inf->synced_cb(inf->synced_data);
  do_watch(inf);
}

static void do_list(client_informer_t *inf) {
  char q[4096] = "";
  if (!inf->continue_tok) {
    inf->stats.lists++;
    client_cache_epoch_begin(inf->cache);
  }
  inf->listing = true;
  client_query_add(q, sizeof(q), "limit", LIST_PAGE);
  if (inf->continue_tok && client_query_add(q, sizeof(q), "continue", inf->continue_tok) < 0) {
    free(inf->continue_tok);
    inf->continue_tok = NULL;
  }
  if (inf->label_selector)
    client_query_add(q, sizeof(q), "labelSelector", inf->label_selector);
  if (inf->field_selector)
    client_query_add(q, sizeof(q), "fieldSelector", inf->field_selector);
  client_ref_t ref = ref_of(inf);
  inf->req = client_list(inf->c, &ref, q, list_done, inf);
  if (!inf->req)
    retry_later(inf);
}

/* ---- watch ---- */

static void watch_event(const char *type, cJSON *obj, void *data) {
  client_informer_t *inf = data;
  if (!strcmp(type, "ERROR")) {
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(obj, "reason");
    bool gone = (cJSON_IsNumber(code) && code->valueint == 410) ||
                (cJSON_IsString(reason) && (!strcmp(reason->valuestring, "Expired") ||
                                            !strcmp(reason->valuestring, "Gone")));
    cJSON_Delete(obj);
    client_req_cancel(inf->req);
    inf->req = NULL;
    if (gone) {
      inf->stats.gone++;
      inf->rv[0] = '\0';
      free(inf->continue_tok);
      inf->continue_tok = NULL;
      do_list(inf);
    } else {
      retry_later(inf);
    }
    return;
  }
  set_rv(inf, obj_rv(obj));
  if (!strcmp(type, "BOOKMARK")) {
    cJSON_Delete(obj);
    return;
  }
  if (!strcmp(type, "DELETED")) {
    remove_obj(inf, obj);
    cJSON_Delete(obj);
    return;
  }
  upsert(inf, obj, false);
}

static void watch_done(const client_result_t *res, void *data) {
  client_informer_t *inf = data;
  inf->req = NULL;
  if (res->code == 200) { /* the server ended the stream (timeout): go on */
    inf->backoff = 0;
    do_watch(inf);
    return;
  }
  if (client_result_gone(res)) {
    inf->stats.gone++;
    inf->rv[0] = '\0';
    do_list(inf);
    return;
  }
  retry_later(inf);
}

static void do_watch(client_informer_t *inf) {
  char q[4096] = "", num[32];
  inf->stats.watches++;
  client_query_add(q, sizeof(q), "resourceVersion", inf->rv[0] ? inf->rv : "0");
  client_query_add(q, sizeof(q), "allowWatchBookmarks", "true");
  /* Spread the watches' renewals as upstream's reflector does. */
  snprintf(num, sizeof(num), "%u", WATCH_TIMEOUT_MIN + (inf->watch_seq++ * 37u) % 300u);
  client_query_add(q, sizeof(q), "timeoutSeconds", num);
  if (inf->label_selector)
    client_query_add(q, sizeof(q), "labelSelector", inf->label_selector);
  if (inf->field_selector)
    client_query_add(q, sizeof(q), "fieldSelector", inf->field_selector);
  client_ref_t ref = ref_of(inf);
  inf->req = client_watch(inf->c, &ref, q, watch_event, watch_done, inf);
  if (!inf->req)
    retry_later(inf);
}

void client_informer_start(client_informer_t *inf) {
  if (inf->started)
    return;
  inf->started = true;
  do_list(inf);
}
