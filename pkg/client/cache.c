/* The informer's object cache: one hash table from key to entry (each
 * object stored once, as parsed JSON) and per index a hash table from value
 * to the entries that have it, the shape of upstream's client-go
 * ThreadSafeStore with its Indexers.
 * https://pkg.go.dev/k8s.io/client-go/tools/cache#Indexer */
#include "client/cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define MAX_INDEXES 16
#define MAX_VALS 64
#define MAX_VAL_LEN 512

/* ---- a string-keyed open-addressing hash table ---- */

#define TOMB ((void *)1)

typedef struct {
  char *key; /* NULL: empty; TOMB: deleted */
  void *val;
} slot_t;

typedef struct {
  slot_t *slots;
  size_t cap, n, used; /* used counts tombstones too */
} map_t;

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static slot_t *map_find(const map_t *m, const char *key) {
  if (!m->cap)
    return NULL;
  size_t i = hash(key) & (m->cap - 1);
  for (;;) {
    slot_t *s = &m->slots[i];
    if (!s->key)
      return NULL;
    if (s->key != TOMB && !strcmp(s->key, key))
      return s;
    i = (i + 1) & (m->cap - 1);
  }
}

static void map_grow(map_t *m) {
  /* Rehash to a load of at most one half; tombstones are dropped, so a
   * table of mostly tombstones keeps (or shrinks to) its live size. */
  size_t cap = 16;
  while ((m->n + 1) * 2 >= cap)
    cap *= 2;
  slot_t *old = m->slots;
  size_t ocap = m->cap;
  m->slots = xcalloc(cap, sizeof(*m->slots));
  m->cap = cap;
  m->used = m->n;
  for (size_t i = 0; i < ocap; i++) {
    if (!old[i].key || old[i].key == TOMB)
      continue;
    size_t j = hash(old[i].key) & (cap - 1);
    while (m->slots[j].key)
      j = (j + 1) & (cap - 1);
    m->slots[j] = old[i];
  }
  free(old);
}

/* Insert key (copied) -> val; key must not be present. */
static slot_t *map_insert(map_t *m, const char *key, void *val) {
  if ((m->used + 1) * 10 >= m->cap * 7)
    map_grow(m);
  size_t i = hash(key) & (m->cap - 1);
  while (m->slots[i].key && m->slots[i].key != TOMB)
    i = (i + 1) & (m->cap - 1);
  if (!m->slots[i].key)
    m->used++;
  m->slots[i].key = xstrdup(key);
  m->slots[i].val = val;
  m->n++;
  return &m->slots[i];
}

static void map_erase(map_t *m, slot_t *s) {
  free(s->key);
  s->key = TOMB;
  s->val = NULL;
  m->n--;
}

static void map_done(map_t *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key && m->slots[i].key != TOMB)
      free(m->slots[i].key);
  free(m->slots);
  memset(m, 0, sizeof(*m));
}

/* ---- cache ---- */

typedef struct {
  cJSON *obj;
  unsigned epoch;
} entry_t;

typedef struct {
  entry_t **v;
  size_t n, cap;
} bucket_t;

typedef struct {
  char *name;
  client_index_fn fn;
  map_t values; /* value -> bucket_t* */
} index_t;

struct client_cache {
  map_t objects; /* key -> entry_t* */
  index_t indexes[MAX_INDEXES];
  size_t n_indexes;
  size_t max_objects;
  unsigned epoch;
};

struct client_index_vals {
  char v[MAX_VALS][MAX_VAL_LEN];
  size_t n;
};

void client_index_vals_add(client_index_vals_t *v, const char *value) {
  if (v->n >= MAX_VALS || strlen(value) >= MAX_VAL_LEN)
    return;
  for (size_t i = 0; i < v->n; i++)
    if (!strcmp(v->v[i], value))
      return; /* each value once: a bucket holds an entry at most once */
  snprintf(v->v[v->n++], MAX_VAL_LEN, "%s", value);
}

static const char *str_at(const cJSON *obj, const char *a, const char *b) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, a);
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, b);
  return cJSON_IsString(s) ? s->valuestring : NULL;
}

void client_index_namespace(const cJSON *obj, client_index_vals_t *out) {
  const char *ns = str_at(obj, "metadata", "namespace");
  client_index_vals_add(out, ns ? ns : "");
}

void client_index_owner_uid(const cJSON *obj, client_index_vals_t *out) {
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences");
  const cJSON *r;
  cJSON_ArrayForEach(r, refs) {
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(r, "uid");
    if (cJSON_IsString(uid))
      client_index_vals_add(out, uid->valuestring);
  }
}

void client_index_node_name(const cJSON *obj, client_index_vals_t *out) {
  const char *n = str_at(obj, "spec", "nodeName");
  client_index_vals_add(out, n ? n : "");
}

void client_index_labels(const cJSON *obj, client_index_vals_t *out) {
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
  const cJSON *l;
  char kv[MAX_VAL_LEN];
  cJSON_ArrayForEach(l, labels) {
    if (!cJSON_IsString(l) || !l->string)
      continue;
    int n = snprintf(kv, sizeof(kv), "%s=%s", l->string, l->valuestring);
    if (n > 0 && (size_t)n < sizeof(kv))
      client_index_vals_add(out, kv);
  }
}

client_cache_t *client_cache_new(size_t max_objects) {
  client_cache_t *c = xcalloc(1, sizeof(*c));
  c->max_objects = max_objects ? max_objects : 1000000;
  return c;
}

static void bucket_free(bucket_t *b) {
  if (!b)
    return;
  free(b->v);
  free(b);
}

void client_cache_free(client_cache_t *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->objects.cap; i++) {
    slot_t *s = &c->objects.slots[i];
    if (s->key && s->key != TOMB) {
      entry_t *e = s->val;
      cJSON_Delete(e->obj);
      free(e);
    }
  }
  map_done(&c->objects);
  for (size_t i = 0; i < c->n_indexes; i++) {
    index_t *ix = &c->indexes[i];
    for (size_t j = 0; j < ix->values.cap; j++) {
      slot_t *s = &ix->values.slots[j];
      if (s->key && s->key != TOMB)
        bucket_free(s->val);
    }
    map_done(&ix->values);
    free(ix->name);
  }
  free(c);
}

int client_cache_add_index(client_cache_t *c, const char *name, client_index_fn fn) {
  if (c->objects.n)
    return -EBUSY;
  for (size_t i = 0; i < c->n_indexes; i++)
    if (!strcmp(c->indexes[i].name, name))
      return -EEXIST;
  if (c->n_indexes >= MAX_INDEXES)
    return -ENOSPC;
  index_t *ix = &c->indexes[c->n_indexes++];
  ix->name = xstrdup(name);
  ix->fn = fn;
  return 0;
}

int client_cache_key(const cJSON *obj, char *out, size_t outlen) {
  const char *name = str_at(obj, "metadata", "name");
  const char *ns = str_at(obj, "metadata", "namespace");
  if (!name || !name[0])
    return -EINVAL;
  int n = ns && ns[0] ? snprintf(out, outlen, "%s/%s", ns, name) : snprintf(out, outlen, "%s", name);
  return n < 0 || (size_t)n >= outlen ? -E2BIG : 0;
}

static void index_link(index_t *ix, const char *value, entry_t *e) {
  slot_t *s = map_find(&ix->values, value);
  bucket_t *b = s ? s->val : NULL;
  if (!b) {
    b = xcalloc(1, sizeof(*b));
    map_insert(&ix->values, value, b);
  }
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 4;
    b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
  }
  b->v[b->n++] = e;
}

static void index_unlink(index_t *ix, const char *value, entry_t *e) {
  slot_t *s = map_find(&ix->values, value);
  if (!s)
    return;
  bucket_t *b = s->val;
  for (size_t i = 0; i < b->n; i++) {
    if (b->v[i] == e) {
      b->v[i] = b->v[--b->n];
      break;
    }
  }
  if (!b->n) {
    bucket_free(b);
    map_erase(&ix->values, s);
  }
}

/* Link (add true) or unlink e under every index value of obj. */
static void index_all(client_cache_t *c, entry_t *e, const cJSON *obj, bool add) {
  if (!c->n_indexes)
    return;
  client_index_vals_t *vals = xmalloc(sizeof(*vals));
  for (size_t i = 0; i < c->n_indexes; i++) {
    vals->n = 0;
    c->indexes[i].fn(obj, vals);
    for (size_t j = 0; j < vals->n; j++) {
      if (add)
        index_link(&c->indexes[i], vals->v[j], e);
      else
        index_unlink(&c->indexes[i], vals->v[j], e);
    }
  }
  free(vals);
}

int client_cache_put(client_cache_t *c, cJSON *obj, cJSON **ret_old) {
  char key[512];
  if (client_cache_key(obj, key, sizeof(key)) < 0) {
    cJSON_Delete(obj);
    return -EINVAL;
  }
  slot_t *s = map_find(&c->objects, key);
  cJSON *old = NULL;
  if (s) {
    entry_t *e = s->val;
    old = e->obj;
    index_all(c, e, old, false);
    e->obj = obj;
    e->epoch = c->epoch;
    index_all(c, e, obj, true);
  } else {
    if (c->objects.n >= c->max_objects) {
      cJSON_Delete(obj);
      return -ENOSPC;
    }
    entry_t *e = xcalloc(1, sizeof(*e));
    e->obj = obj;
    e->epoch = c->epoch;
    map_insert(&c->objects, key, e);
    index_all(c, e, obj, true);
  }
  if (ret_old)
    *ret_old = old;
  else
    cJSON_Delete(old);
  return 0;
}

bool client_cache_touch(client_cache_t *c, const char *key) {
  slot_t *s = map_find(&c->objects, key);
  if (!s)
    return false;
  ((entry_t *)s->val)->epoch = c->epoch;
  return true;
}

cJSON *client_cache_remove(client_cache_t *c, const char *key) {
  slot_t *s = map_find(&c->objects, key);
  if (!s)
    return NULL;
  entry_t *e = s->val;
  cJSON *obj = e->obj;
  index_all(c, e, obj, false);
  map_erase(&c->objects, s);
  free(e);
  return obj;
}

const cJSON *client_cache_get(const client_cache_t *c, const char *key) {
  slot_t *s = map_find(&c->objects, key);
  return s ? ((entry_t *)s->val)->obj : NULL;
}

size_t client_cache_count(const client_cache_t *c) { return c->objects.n; }

const cJSON **client_cache_by_index(const client_cache_t *c, const char *index, const char *value,
                                    size_t *ret_n) {
  const index_t *ix = NULL;
  for (size_t i = 0; i < c->n_indexes; i++)
    if (!strcmp(c->indexes[i].name, index))
      ix = &c->indexes[i];
  if (!ix)
    return NULL;
  slot_t *s = map_find(&ix->values, value);
  bucket_t *b = s ? s->val : NULL;
  size_t n = b ? b->n : 0;
  const cJSON **out = xcalloc(n + 1, sizeof(*out));
  for (size_t i = 0; i < n; i++)
    out[i] = b->v[i]->obj;
  if (ret_n)
    *ret_n = n;
  return out;
}

void client_cache_foreach(const client_cache_t *c, void (*cb)(const cJSON *obj, void *data),
                          void *data) {
  for (size_t i = 0; i < c->objects.cap; i++) {
    slot_t *s = &c->objects.slots[i];
    if (s->key && s->key != TOMB)
      cb(((entry_t *)s->val)->obj, data);
  }
}

void client_cache_epoch_begin(client_cache_t *c) { c->epoch++; }

void client_cache_sweep(client_cache_t *c, void (*cb)(const cJSON *obj, void *data), void *data) {
  for (size_t i = 0; i < c->objects.cap; i++) {
    slot_t *s = &c->objects.slots[i];
    if (!s->key || s->key == TOMB)
      continue;
    entry_t *e = s->val;
    if (e->epoch == c->epoch)
      continue;
    cJSON *obj = e->obj;
    index_all(c, e, obj, false);
    map_erase(&c->objects, s); /* a tombstone: the scan can go on */
    free(e);
    if (cb)
      cb(obj, data);
    cJSON_Delete(obj);
  }
}
