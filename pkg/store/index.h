/* pkg/store internal: the in-memory index. Keys in byte order (a skip
 * list) for prefix lists and continue tokens; each key carries its version
 * chain back to the compacted revision (reads at older revisions) and its
 * newest uncommitted version (CAS against writes still in flight).
 * Loop thread only. Not a public header: only pkg/store sources include it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE__INDEX_MAX_LEVEL 20

/* One committed version of a key. A tombstone records a delete at
 * kv->mod_rev; its kv holds the object's final state. */
typedef struct store__ver {
  struct store__ver *older;
  store_kv_t *kv; /* owned reference */
  bool tomb;
} store__ver_t;

typedef struct store__node {
  char *key;            /* points into this allocation */
  store__ver_t *chain;  /* committed versions, newest first */
  store_kv_t *pending;  /* newest uncommitted version (owned ref), or NULL */
  int64_t pending_rev;  /* revision of that write */
  bool pending_tomb;
  size_t ttl_slot;      /* position in the TTL heap + 1; 0 = not in it */
  bool live;            /* weight: the newest committed version is not a tombstone */
  int level;
  /* Per level: the next node, and the number of live nodes in
   * (this, next] (to the end of the list when next is NULL), so the live
   * keys of a range are counted in O(log n) (an indexable skip list). */
  struct store__level {
    struct store__node *next;
    size_t width;
  } lv[];
} store__node_t;

typedef struct {
  store__node_t *head; /* sentinel, no key */
  int level;
  size_t nodes;
  size_t live; /* live nodes in all */
  uint32_t rng;
} store__index_t;

void store__index_init(store__index_t *idx);
/* Free every node and drop every reference. */
void store__index_done(store__index_t *idx);
store__node_t *store__index_find(store__index_t *idx, const char *key);
/* Find key or insert an empty node for it. */
store__node_t *store__index_get(store__index_t *idx, const char *key);
/* First node whose key is >= key (NULL at the end). */
store__node_t *store__index_seek(store__index_t *idx, const char *key);
static inline store__node_t *store__index_next(const store__node_t *n) { return n->lv[0].next; }
/* Remove and free the node if nothing refers to it any more (no versions,
 * nothing pending, not in the TTL heap). Returns true if it was freed. */
bool store__index_release(store__index_t *idx, store__node_t *n);

/* The committed version visible at rev (possibly a tombstone), or NULL. */
const store__ver_t *store__node_at(const store__node_t *n, int64_t rev);
/* Visible live value at rev, or NULL (absent or deleted). */
store_kv_t *store__node_live_at(const store__node_t *n, int64_t rev);
/* Newest committed live value, or NULL. */
store_kv_t *store__node_current(const store__node_t *n);
/* Newest value including pending writes, or NULL when absent/deleted. */
store_kv_t *store__node_latest(const store__node_t *n);
/* Push a committed version (takes the reference) and update the node's
 * weight in the live counts. */
void store__index_push(store__index_t *idx, store__node_t *n, store_kv_t *kv, bool tomb);
/* Keys currently live with key > after (or all when after is NULL) that
 * start with prefix: O(log n), nothing walked. */
size_t store__index_count(store__index_t *idx, const char *prefix, const char *after);
/* Drop versions no read at a revision >= compacted can see. */
void store__node_trim(store__node_t *n, int64_t compacted);
