/* Key index for cJSON objects (keyset.h): FNV-1a, linear probing, load at
 * most one half. */
#include "util/keyset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static uint64_t hash_key(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static cJSON **slot_of(const keyset_t *ks, const char *key) {
  size_t i = (size_t)hash_key(key) & (ks->cap - 1);
  while (ks->slots[i] && strcmp(ks->slots[i]->string, key))
    i = (i + 1) & (ks->cap - 1);
  return &ks->slots[i];
}

static void insert(keyset_t *ks, cJSON *item) {
  if ((ks->n + 1) * 2 > ks->cap) {
    keyset_t bigger = {.cap = ks->cap ? ks->cap * 2 : 32};
    bigger.slots = xcalloc(bigger.cap, sizeof(cJSON *));
    for (size_t i = 0; i < ks->cap; i++)
      if (ks->slots[i])
        *slot_of(&bigger, ks->slots[i]->string) = ks->slots[i];
    bigger.n = ks->n;
    free(ks->slots);
    *ks = bigger;
  }
  cJSON **s = slot_of(ks, item->string);
  if (!*s)
    ks->n++;
  *s = item;
}

void keyset_done(keyset_t *ks) {
  free(ks->slots);
  memset(ks, 0, sizeof(*ks));
}

cJSON *keyset_find(keyset_t *ks, const cJSON *obj, size_t members, const char *key) {
  if (!ks->cap && members > KEYSET_SMALL)
    for (cJSON *c = obj->child; c; c = c->next)
      if (c->string)
        insert(ks, c);
  if (ks->cap)
    return *slot_of(ks, key);
  for (cJSON *c = obj->child; c; c = c->next)
    if (c->string && !strcmp(c->string, key))
      return c;
  return NULL;
}

void keyset_put(keyset_t *ks, cJSON *item) {
  if (ks->cap && item->string)
    insert(ks, item);
}
