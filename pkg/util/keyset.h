/* Hash index of the members of one cJSON object by key, so decoders find a
 * repeated key in constant time instead of scanning the members (a body of
 * 40,000 keys would be 8e8 string compares). The index borrows the items:
 * it holds pointers into the object and must be updated (keyset_put) when
 * an indexed item is replaced, and dropped with the object. Pure; any
 * thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct {
  cJSON **slots; /* open addressing; NULL = empty */
  size_t cap;    /* 0 or a power of two */
  size_t n;
} keyset_t;

/* Objects with up to this many members are cheaper to scan than to index. */
#define KEYSET_SMALL 8

/* keyset_t ks = {0} is an empty set; keyset_done releases it (not the items). */
void keyset_done(keyset_t *ks);
/* The member of obj named key, or NULL. Indexes obj (members: its member
 * count so far) once it has more than KEYSET_SMALL members; after that every
 * member added to obj must also be given to keyset_put. */
cJSON *keyset_find(keyset_t *ks, const cJSON *obj, size_t members, const char *key);
/* Index item (its ->string is the key), replacing an entry of the same key.
 * No-op while the set is not built yet (small objects). */
void keyset_put(keyset_t *ks, cJSON *item);
