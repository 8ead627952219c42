/* A hash map from NUL-terminated string keys to pointers, for the per-request
 * lookups that cJSON only offers as linear scans (duplicate keys, YAML
 * anchors, merge keys), so hostile bodies with many keys stay O(n).
 *
 * Open addressing with linear probing over a power-of-two table, hashed
 * with SipHash-1-3 under a per-process random key, so colliding keys cannot
 * be precomputed. Keys are borrowed: the caller keeps each key alive and
 * unchanged while it is in the map. The table grows to at most
 * STRMAP_MAX_ENTRIES entries; puts past that fail with -E2BIG.
 * Not synchronized: one map per thread at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define STRMAP_MAX_ENTRIES (16u << 20)

typedef struct {
  const char *key;
  void *value;
  size_t hash;
} strmap_slot_t;

typedef struct {
  strmap_slot_t *_slots; /* NULL until the first put */
  size_t _cap;           /* power of two, or 0 */
  size_t len;
} strmap_t;

void strmap_init(strmap_t *m);
/* Free the table (not the keys or values). Accepts NULL; the map may be
 * reused after strmap_init. */
void strmap_done(strmap_t *m);

/* The value stored under key, or NULL if absent. */
void *strmap_get(const strmap_t *m, const char *key);
bool strmap_has(const strmap_t *m, const char *key);

/* Store value under key (borrowed). If key is present already, leaves the
 * map unchanged, writes its value to *ret_old (when not NULL) and returns
 * -EEXIST. Returns 0, or -E2BIG past STRMAP_MAX_ENTRIES. */
int strmap_put(strmap_t *m, const char *key, void *value, void **ret_old);

/* Replace (or add) key's value; returns 0 or -E2BIG. */
int strmap_set(strmap_t *m, const char *key, void *value);

/* Remove key; returns its value, or NULL if absent. */
void *strmap_del(strmap_t *m, const char *key);

/* SipHash-1-3 of len bytes under the process key (exposed for sets keyed
 * by something other than a C string). */
size_t strmap_hash(const void *data, size_t len);
