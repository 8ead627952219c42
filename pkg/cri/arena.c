/* pkg/cri/arena: the memory of one decoded response, freed in one call
 * after its callback ran (h2o's mem pool, in small). A response is at most
 * CRI_MSG_MAX bytes, and what is decoded from it is a small multiple. */
#include <stdlib.h>
#include <string.h>

#include "cri/internal.h"
#include "util/alloc.h"

#define CHUNK_MIN 4096

struct cri__arena_chunk {
  cri__arena_chunk_t *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void *cri__arena_alloc(cri__arena_t *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  cri__arena_chunk_t *k = a->head;
  if (!k || k->cap - k->used < n) {
    size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
    k = xmalloc(sizeof *k + cap);
    k->used = 0;
    k->cap = cap;
    k->next = a->head;
    a->head = k;
  }
  void *p = k->data + k->used;
  k->used += n;
  memset(p, 0, n);
  return p;
}

char *cri__arena_strn(cri__arena_t *a, const void *p, size_t n) {
  char *s = cri__arena_alloc(a, n + 1);
  if (n)
    memcpy(s, p, n);
  return s;
}

void cri__arena_done(cri__arena_t *a) {
  while (a->head) {
    cri__arena_chunk_t *k = a->head;
    a->head = k->next;
    free(k);
  }
}
