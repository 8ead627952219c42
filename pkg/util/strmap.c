/* String-keyed hash map (strmap.h): open addressing, linear probing,
 * backward-shift deletion, SipHash-1-3 (Aumasson & Bernstein,
 * https://www.aumasson.jp/siphash/siphash.pdf) under a random key. */
#include "util/strmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

static uint64_t sip_k0, sip_k1;
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_key_init(void) {
  uint64_t k[2] = {0, 0};
  if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
    /* No entropy yet (early boot): still unpredictable enough to a remote
     * client, which cannot see the clock or pid. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    k[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4full ^ (uintptr_t)&ts;
  }
  sip_k0 = k[0];
  sip_k1 = k[1];
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
  do {                                                                                             \
    v0 += v1;                                                                                      \
    v1 = ROTL(v1, 13);                                                                             \
    v1 ^= v0;                                                                                      \
    v0 = ROTL(v0, 32);                                                                             \
    v2 += v3;                                                                                      \
    v3 = ROTL(v3, 16);                                                                             \
    v3 ^= v2;                                                                                      \
    v0 += v3;                                                                                      \
    v3 = ROTL(v3, 21);                                                                             \
    v3 ^= v0;                                                                                      \
    v2 += v1;                                                                                      \
    v1 = ROTL(v1, 17);                                                                             \
    v1 ^= v2;                                                                                      \
    v2 = ROTL(v2, 32);                                                                             \
  } while (0)

size_t strmap_hash(const void *data, size_t len) {
  pthread_once(&sip_once, sip_key_init);
  const unsigned char *p = data;
  uint64_t v0 = 0x736f6d6570736575ull ^ sip_k0, v1 = 0x646f72616e646f6dull ^ sip_k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ sip_k0, v3 = 0x7465646279746573ull ^ sip_k1;
  size_t left = len;
  for (; left >= 8; left -= 8, p += 8) {
    uint64_t m = 0;
    for (int i = 0; i < 8; i++)
      m |= (uint64_t)p[i] << (8 * i);
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t i = 0; i < left; i++)
    b |= (uint64_t)p[i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return (size_t)(v0 ^ v1 ^ v2 ^ v3);
}

void strmap_init(strmap_t *m) { memset(m, 0, sizeof(*m)); }

void strmap_done(strmap_t *m) {
  if (!m)
    return;
  free(m->_slots);
  memset(m, 0, sizeof(*m));
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t find(const strmap_t *m, const char *key, size_t h) {
  size_t mask = m->_cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const strmap_slot_t *s = &m->_slots[i];
    if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
      return i;
  }
}

void *strmap_get(const strmap_t *m, const char *key) {
  if (!m->len)
    return NULL;
  size_t h = strmap_hash(key, strlen(key));
  const strmap_slot_t *s = &m->_slots[find(m, key, h)];
  return s->key ? s->value : NULL;
}

bool strmap_has(const strmap_t *m, const char *key) {
  if (!m->len)
    return false;
  size_t h = strmap_hash(key, strlen(key));
  return m->_slots[find(m, key, h)].key != NULL;
}

/* Keep the load factor at or below 1/2. */
static int grow(strmap_t *m) {
  if ((m->len + 1) * 2 <= m->_cap)
    return 0;
  if (m->len >= STRMAP_MAX_ENTRIES)
    return -E2BIG;
  size_t cap = m->_cap ? m->_cap * 2 : 16;
  strmap_slot_t *old = m->_slots;
  size_t oldcap = m->_cap;
  m->_slots = xcalloc(cap, sizeof(*m->_slots));
  m->_cap = cap;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].key)
      m->_slots[find(m, old[i].key, old[i].hash)] = old[i];
  free(old);
  return 0;
}

static int put(strmap_t *m, const char *key, void *value, void **ret_old, bool replace) {
  size_t h = strmap_hash(key, strlen(key));
  if (m->len) {
    strmap_slot_t *s = &m->_slots[find(m, key, h)];
    if (s->key) {
      if (replace) {
        s->value = value;
        return 0;
      }
      if (ret_old)
        *ret_old = s->value;
      return -EEXIST;
    }
  }
  int r = grow(m);
  if (r < 0)
    return r;
  m->_slots[find(m, key, h)] = (strmap_slot_t){.key = key, .value = value, .hash = h};
  m->len++;
  return 0;
}

int strmap_put(strmap_t *m, const char *key, void *value, void **ret_old) {
  return put(m, key, value, ret_old, false);
}

int strmap_set(strmap_t *m, const char *key, void *value) { return put(m, key, value, NULL, true); }

void *strmap_del(strmap_t *m, const char *key) {
  if (!m->len)
    return NULL;
  size_t mask = m->_cap - 1;
  size_t i = find(m, key, strmap_hash(key, strlen(key)));
  if (!m->_slots[i].key)
    return NULL;
  void *value = m->_slots[i].value;
  /* Backward-shift: move later entries of the run into the hole when their
   * home slot is not between the hole and themselves. */
  for (size_t j = (i + 1) & mask; m->_slots[j].key; j = (j + 1) & mask) {
    size_t home = m->_slots[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->_slots[i] = m->_slots[j];
      i = j;
    }
  }
  m->_slots[i] = (strmap_slot_t){0};
  m->len--;
  return value;
}
