/* pkg/store in-memory index: a skip list of keys (byte order, as etcd
 * ranges) with per-key version chains, so a list at an older revision (the
 * second page of a paginated list) is answered from memory. */
#include <stdlib.h>
#include <string.h>

#include "store/index.h"
#include "util/alloc.h"

static store__node_t *node_new(const char *key, int level) {
  size_t klen = key ? strlen(key) : 0;
  store__node_t *n = xcalloc(1, sizeof(*n) + (size_t)level * sizeof(n->next[0]) + klen + 1);
  n->level = level;
  n->key = (char *)&n->next[level];
  if (key)
    memcpy(n->key, key, klen + 1);
  return n;
}

static void node_free(store__node_t *n) {
  store__ver_t *v = n->chain;
  while (v) {
    store__ver_t *older = v->older;
    store_kv_unref(v->kv);
    free(v);
    v = older;
  }
  store_kv_unref(n->pending);
  free(n);
}

void store__index_init(store__index_t *idx) {
  memset(idx, 0, sizeof(*idx));
  idx->head = node_new(NULL, STORE__INDEX_MAX_LEVEL);
  idx->level = 1;
  idx->rng = 0x9e3779b9u;
}

void store__index_done(store__index_t *idx) {
  if (!idx->head)
    return;
  store__node_t *n = idx->head->next[0];
  while (n) {
    store__node_t *next = n->next[0];
    node_free(n);
    n = next;
  }
  free(idx->head);
  idx->head = NULL;
}

/* Fill update[] with the last node before key on every level. */
static store__node_t *find_prev(store__index_t *idx, const char *key,
                                store__node_t **update) {
  store__node_t *x = idx->head;
  for (int i = idx->level - 1; i >= 0; i--) {
    while (x->next[i] && strcmp(x->next[i]->key, key) < 0)
      x = x->next[i];
    if (update)
      update[i] = x;
  }
  return x->next[0];
}

store__node_t *store__index_seek(store__index_t *idx, const char *key) {
  return find_prev(idx, key, NULL);
}

store__node_t *store__index_find(store__index_t *idx, const char *key) {
  store__node_t *n = find_prev(idx, key, NULL);
  return n && strcmp(n->key, key) == 0 ? n : NULL;
}

static int random_level(store__index_t *idx) {
  int level = 1;
  for (;;) {
    uint32_t x = idx->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    idx->rng = x;
    if ((x & 3) != 0 || level >= STORE__INDEX_MAX_LEVEL) /* p = 1/4 */
      return level;
    level++;
  }
}

store__node_t *store__index_get(store__index_t *idx, const char *key) {
  store__node_t *update[STORE__INDEX_MAX_LEVEL];
  store__node_t *n = find_prev(idx, key, update);
  if (n && strcmp(n->key, key) == 0)
    return n;
  int level = random_level(idx);
  for (int i = idx->level; i < level; i++)
    update[i] = idx->head;
  if (level > idx->level)
    idx->level = level;
  n = node_new(key, level);
  for (int i = 0; i < level; i++) {
    n->next[i] = update[i]->next[i];
    update[i]->next[i] = n;
  }
  idx->nodes++;
  return n;
}

bool store__index_release(store__index_t *idx, store__node_t *n) {
  if (n->chain || n->pending || n->ttl_slot)
    return false;
  store__node_t *update[STORE__INDEX_MAX_LEVEL];
  store__node_t *found = find_prev(idx, n->key, update);
  if (found != n)
    return false;
  for (int i = 0; i < n->level; i++)
    update[i]->next[i] = n->next[i];
  while (idx->level > 1 && !idx->head->next[idx->level - 1])
    idx->level--;
  idx->nodes--;
  node_free(n);
  return true;
}

const store__ver_t *store__node_at(const store__node_t *n, int64_t rev) {
  for (const store__ver_t *v = n->chain; v; v = v->older)
    if (v->kv->mod_rev <= rev)
      return v;
  return NULL;
}

store_kv_t *store__node_live_at(const store__node_t *n, int64_t rev) {
  const store__ver_t *v = store__node_at(n, rev);
  return v && !v->tomb ? v->kv : NULL;
}

store_kv_t *store__node_current(const store__node_t *n) {
  return n->chain && !n->chain->tomb ? n->chain->kv : NULL;
}

store_kv_t *store__node_latest(const store__node_t *n) {
  if (n->pending)
    return n->pending_tomb ? NULL : n->pending;
  return store__node_current(n);
}

void store__node_push(store__node_t *n, store_kv_t *kv, bool tomb) {
  store__ver_t *v = xmalloc(sizeof(*v));
  v->older = n->chain;
  v->kv = kv;
  v->tomb = tomb;
  n->chain = v;
}

void store__node_trim(store__node_t *n, int64_t compacted) {
  /* A version superseded at or below the compacted revision is invisible
   * to every allowed read; so is a tombstone at or below it with nothing
   * older left to hide. */
  store__ver_t **link = &n->chain;
  while (*link && (*link)->kv->mod_rev > compacted)
    link = &(*link)->older;
  /* *link is the version visible at `compacted`: keep it unless it is a
   * tombstone; drop everything older. */
  store__ver_t *v = *link;
  if (!v)
    return;
  store__ver_t *drop = v->older;
  v->older = NULL;
  if (v->tomb) {
    *link = NULL;
    v->older = drop;
    drop = v;
  }
  while (drop) {
    store__ver_t *older = drop->older;
    store_kv_unref(drop->kv);
    free(drop);
    drop = older;
  }
}
