/* pkg/client cache: the objects of one kind, by key "namespace/name" (or
 * "name" for cluster-scoped kinds), each stored once, with secondary
 * indexes (namespace, owner UID, spec.nodeName, labels, ...) that point at
 * the stored objects. The informer feeds it; controllers read it.
 * Pure data structure; single-threaded (the loop that owns the informer). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct client_cache client_cache_t;

/* The index values of one object, filled by an index function. */
typedef struct client_index_vals client_index_vals_t;
/* Add one value (copied; at most 64 values of 512 bytes each per object,
 * more are ignored). */
void client_index_vals_add(client_index_vals_t *v, const char *value);
typedef void (*client_index_fn)(const cJSON *obj, client_index_vals_t *out);

/* Ready-made index functions. */
void client_index_namespace(const cJSON *obj, client_index_vals_t *out); /* metadata.namespace */
void client_index_owner_uid(const cJSON *obj, client_index_vals_t *out); /* each ownerReferences[].uid */
void client_index_node_name(const cJSON *obj, client_index_vals_t *out); /* spec.nodeName, "" too */
void client_index_labels(const cJSON *obj, client_index_vals_t *out);    /* "key=value" each */
#define CLIENT_INDEX_NAMESPACE "namespace"
#define CLIENT_INDEX_OWNER "owner"
#define CLIENT_INDEX_NODE "nodeName"
#define CLIENT_INDEX_LABEL "label"

/* max_objects: hard limit on stored objects (0: 1,000,000). */
client_cache_t *client_cache_new(size_t max_objects);
/* Frees every stored object. Accepts NULL. */
void client_cache_free(client_cache_t *c);
/* Add an index before the first object is stored. Returns 0, -EBUSY when
 * objects are stored already, -EEXIST for a known name, -ENOSPC past 16. */
int client_cache_add_index(client_cache_t *c, const char *name, client_index_fn fn);

/* The key of obj ("ns/name" or "name") into out. Returns 0 or -EINVAL when
 * obj has no metadata.name, -E2BIG when it does not fit. */
int client_cache_key(const cJSON *obj, char *out, size_t outlen);

/* Store obj (takes ownership) under its key. *ret_old receives the object
 * it replaces (caller frees) or NULL. Returns 0, -EINVAL (no name; obj is
 * freed), -ENOSPC (limit reached; obj is freed). */
int client_cache_put(client_cache_t *c, cJSON *obj, cJSON **ret_old);
/* Remove by key; returns the removed object (caller frees) or NULL. */
cJSON *client_cache_remove(client_cache_t *c, const char *key);
/* Mark key's object as seen in the current epoch, keeping the object
 * itself (pointers to it stay valid). false when key is not cached. */
bool client_cache_touch(client_cache_t *c, const char *key);
/* Borrowed until the object is replaced or removed. */
const cJSON *client_cache_get(const client_cache_t *c, const char *key);
size_t client_cache_count(const client_cache_t *c);

/* The objects whose index has value: a new NULL-terminated array of
 * borrowed pointers (caller frees the array only), *ret_n their count.
 * Returns NULL for an unknown index. */
const cJSON **client_cache_by_index(const client_cache_t *c, const char *index, const char *value,
                                    size_t *ret_n);
/* Call cb for every object (it must not change the cache). */
void client_cache_foreach(const client_cache_t *c, void (*cb)(const cJSON *obj, void *data),
                          void *data);

/* Relisting: begin a new epoch; client_cache_put marks objects with the
 * current epoch; sweep removes the objects not put since the epoch began,
 * calling cb (may be NULL) for each before freeing it. */
void client_cache_epoch_begin(client_cache_t *c);
void client_cache_sweep(client_cache_t *c, void (*cb)(const cJSON *obj, void *data), void *data);
