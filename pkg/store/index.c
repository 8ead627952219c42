/* pkg/store in-memory index: a skip list of keys (byte order, as etcd
 * ranges) with per-key version chains, so a list at an older revision (the
 * second page of a paginated list) is answered from memory. */
#include <stdlib.h>
#include <string.h>

#include "store/index.h"
#include "util/alloc.h"

static store__node_t *node_new(const char *key, int level) {
  size_t klen = key ? strlen(key) : 0;
  store__node_t *n = xcalloc(1, sizeof(*n) + (size_t)level * sizeof(n->lv[0]) + klen + 1);
  n->level = level;
  n->key = (char *)&n->lv[level];
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
  store__node_t *n = idx->head->lv[0].next;
  while (n) {
    store__node_t *next = n->lv[0].next;
    node_free(n);
    n = next;
  }
  free(idx->head);
  idx->head = NULL;
}

/* Fill update[] with the last node before key on every level, and rank[]
 * (optional) with the live nodes up to and including it. */
static store__node_t *find_prev(store__index_t *idx, const char *key, store__node_t **update,
                                size_t *rank) {
  store__node_t *x = idx->head;
  size_t r = 0;
  for (int i = idx->level - 1; i >= 0; i--) {
    while (x->lv[i].next && strcmp(x->lv[i].next->key, key) < 0) {
      r += x->lv[i].width;
      x = x->lv[i].next;
    }
    if (update)
      update[i] = x;
    if (rank)
      rank[i] = r;
  }
  return x->lv[0].next;
}

store__node_t *store__index_seek(store__index_t *idx, const char *key) {
  return find_prev(idx, key, NULL, NULL);
}

store__node_t *store__index_find(store__index_t *idx, const char *key) {
  store__node_t *n = find_prev(idx, key, NULL, NULL);
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
  size_t rank[STORE__INDEX_MAX_LEVEL];
  store__node_t *n = find_prev(idx, key, update, rank);
  if (n && strcmp(n->key, key) == 0)
    return n;
  int level = random_level(idx);
  for (int i = idx->level; i < level; i++) {
    update[i] = idx->head;
    rank[i] = 0;
    idx->head->lv[i].width = idx->live; /* an unused level spans everything */
  }
  if (level > idx->level)
    idx->level = level;
  n = node_new(key, level);
  /* The new node has weight 0: spans above it are unchanged; at its own
   * levels, the span of update[i] is split at it. */
  for (int i = 0; i < level; i++) {
    size_t before = rank[0] - rank[i]; /* live nodes in (update[i], n) */
    n->lv[i].next = update[i]->lv[i].next;
    n->lv[i].width = update[i]->lv[i].width - before;
    update[i]->lv[i].next = n;
    update[i]->lv[i].width = before;
  }
  idx->nodes++;
  return n;
}

/* Set the node's weight (live or not) and every span that covers it. */
static void set_live(store__index_t *idx, store__node_t *n, bool live) {
  if (n->live == live)
    return;
  store__node_t *update[STORE__INDEX_MAX_LEVEL];
  find_prev(idx, n->key, update, NULL);
  for (int i = 0; i < idx->level; i++) {
    if (live)
      update[i]->lv[i].width++;
    else
      update[i]->lv[i].width--;
  }
  n->live = live;
  if (live)
    idx->live++;
  else
    idx->live--;
}

bool store__index_release(store__index_t *idx, store__node_t *n) {
  if (n->chain || n->pending || n->ttl_slot)
    return false;
  store__node_t *update[STORE__INDEX_MAX_LEVEL];
  set_live(idx, n, false);
  store__node_t *found = find_prev(idx, n->key, update, NULL);
  if (found != n)
    return false;
  for (int i = 0; i < n->level; i++) {
    update[i]->lv[i].width += n->lv[i].width;
    update[i]->lv[i].next = n->lv[i].next;
  }
  while (idx->level > 1 && !idx->head->lv[idx->level - 1].next)
    idx->level--;
  idx->nodes--;
  node_free(n);
  return true;
}

/* Live nodes with a key < key (or <= key when inclusive). */
static size_t rank_of(store__index_t *idx, const char *key, bool inclusive) {
  size_t rank[STORE__INDEX_MAX_LEVEL];
  store__node_t *n = find_prev(idx, key, NULL, rank);
  size_t r = rank[0];
  if (inclusive && n && n->live && strcmp(n->key, key) == 0)
    r++;
  return r;
}

size_t store__index_count(store__index_t *idx, const char *prefix, const char *after) {
  size_t plen = strlen(prefix);
  size_t lo = rank_of(idx, prefix, false);
  if (after && strncmp(after, prefix, plen) == 0)
    lo = rank_of(idx, after, true);
  /* The first key after every key with this prefix: the prefix with its
   * last byte below 0xff incremented (none: to the end). */
  char *end = xstrdup(prefix);
  size_t elen = plen;
  while (elen > 0 && (unsigned char)end[elen - 1] == 0xff)
    elen--;
  size_t hi = idx->live;
  if (elen > 0) {
    end[elen - 1] = (char)((unsigned char)end[elen - 1] + 1);
    end[elen] = '\0';
    hi = rank_of(idx, end, false);
  }
  free(end);
  return hi > lo ? hi - lo : 0;
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

void store__index_push(store__index_t *idx, store__node_t *n, store_kv_t *kv, bool tomb) {
  store__ver_t *v = xmalloc(sizeof(*v));
  v->older = n->chain;
  v->kv = kv;
  v->tomb = tomb;
  n->chain = v;
  set_live(idx, n, !tomb);
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
