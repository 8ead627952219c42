/* pkg/client informer: a shared, indexed cache of one resource kind kept
 * current by list+watch through a client_t, with add/update/delete event
 * handlers. Lists page by 500; a watch resumes from the last
 * resourceVersion it saw (bookmarks included); a 410 Gone / Expired relists
 * and the handlers see the difference (adds, updates, deletes) as events.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 *
 * Threads: the loop of its client. Objects handed to handlers and returned
 * by the getters are borrowed from the cache: valid until the next event of
 * the informer (do not keep them across loop iterations; copy what must
 * outlive that). */
#pragma once

#include "client/cache.h"
#include "client/client.h"

typedef struct client_informer client_informer_t;

typedef struct {
  /* Each may be NULL. old is the cached object being replaced or removed. */
  void (*on_add)(const cJSON *obj, void *data);
  void (*on_update)(const cJSON *old, const cJSON *obj, void *data);
  void (*on_delete)(const cJSON *obj, void *data);
} client_informer_handlers_t;

/* An informer for ref's group/version/resource in ref->ns ("" or NULL: all
 * namespaces); ref->name/subresource are ignored. label_selector and
 * field_selector restrict what is cached (NULL: everything). max_objects:
 * hard limit on cached objects (0: the cache default). The client must
 * outlive the informer. Returns 0 or -EINVAL. */
int client_informer_new(client_t *c, const client_ref_t *ref, const char *label_selector,
                        const char *field_selector, size_t max_objects,
                        client_informer_t **ret_inf);
/* Stops list/watch and frees the cache. Accepts NULL. */
void client_informer_free(client_informer_t *inf);

/* Before start: an index (see cache.h for the ready-made ones). */
int client_informer_add_index(client_informer_t *inf, const char *name, client_index_fn fn);
/* Handlers (copied) run in the order added, at most 16. Adding after the
 * first sync replays the cached objects to the new handlers as adds. */
int client_informer_add_handlers(client_informer_t *inf, const client_informer_handlers_t *h,
                                 void *data);
/* Remove every handler added with data (a user of a shared informer that
 * stops before the informer does: the scheduler when it loses its lease).
 * Not from inside a handler of inf. Returns how many were removed. */
size_t client_informer_remove_handlers(client_informer_t *inf, void *data);
/* Start listing and watching. */
void client_informer_start(client_informer_t *inf);
/* Whether the first list has been stored (a controller waits for this). */
bool client_informer_synced(const client_informer_t *inf);
/* Called once, when the informer first synced (NULL: none). */
void client_informer_on_synced(client_informer_t *inf, void (*cb)(void *data), void *data);

const cJSON *client_informer_get(const client_informer_t *inf, const char *ns, const char *name);
/* The cache itself, for by-index reads and iteration (do not modify). */
const client_cache_t *client_informer_cache(const client_informer_t *inf);
/* The last resourceVersion seen ("" before the first list). */
const char *client_informer_resource_version(const client_informer_t *inf);

/* Counters for tests and metrics. */
typedef struct {
  unsigned lists;    /* lists started (1 + relists) */
  unsigned watches;  /* watches started */
  unsigned gone;     /* 410 Gone answers that caused a relist */
  unsigned errors;   /* failed requests retried after a back-off */
} client_informer_stats_t;
void client_informer_stats(const client_informer_t *inf, client_informer_stats_t *ret_stats);
