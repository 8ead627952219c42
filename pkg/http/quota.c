/* Per-client accounting for the HTTPS server: a small hash table of source
 * addresses and authenticated users with their connection and in-flight
 * counts, and the admission and output-budget decisions built on them.
 * The limits play the part of upstream's --max-requests-inflight (429 with
 * Retry-After) per client rather than for the whole server. */
#include "http/quota.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void http_quota_defaults(http_quota_t *l) {
  if (l->max_conns <= 0)
    l->max_conns = HTTP_DEFAULT_MAX_CONNS;
  if (l->max_conns_per_addr <= 0)
    l->max_conns_per_addr = HTTP_DEFAULT_MAX_CONNS_PER_ADDR;
  if (l->max_conns_per_user <= 0)
    l->max_conns_per_user = HTTP_DEFAULT_MAX_CONNS_PER_USER;
  if (l->max_unauth <= 0)
    l->max_unauth = HTTP_DEFAULT_MAX_UNAUTH;
  if (l->max_unauth_per_addr <= 0)
    l->max_unauth_per_addr = HTTP_DEFAULT_MAX_UNAUTH_PER_ADDR;
  if (l->max_inflight_per_addr <= 0)
    l->max_inflight_per_addr = HTTP_DEFAULT_MAX_INFLIGHT_PER_ADDR;
  if (l->max_inflight_per_user <= 0)
    l->max_inflight_per_user = HTTP_DEFAULT_MAX_INFLIGHT_PER_USER;
  if (l->unauth_idle <= 0)
    l->unauth_idle = HTTP_DEFAULT_UNAUTH_IDLE;
  if (l->conn_out_mark == 0)
    l->conn_out_mark = HTTP_DEFAULT_CONN_OUT_MARK;
  if (l->out_budget == 0)
    l->out_budget = HTTP_DEFAULT_OUT_BUDGET;
}

/* FNV-1a */
static size_t hash_key(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return (size_t)h;
}

void http_clients_init(http_clients_t *t) {
  t->_n_slots = 256;
  t->_slots = xcalloc(t->_n_slots, sizeof(*t->_slots));
  t->n = 0;
}

void http_clients_done(http_clients_t *t) {
  for (size_t i = 0; t->_slots && i < t->_n_slots; i++) {
    http_client_t *e = t->_slots[i];
    while (e) {
      http_client_t *next = e->_next;
      free(e->key);
      free(e);
      e = next;
    }
  }
  free(t->_slots);
  t->_slots = NULL;
  t->_n_slots = 0;
  t->n = 0;
}

static void grow(http_clients_t *t) {
  size_t n = t->_n_slots * 2;
  http_client_t **slots = xcalloc(n, sizeof(*slots));
  for (size_t i = 0; i < t->_n_slots; i++) {
    http_client_t *e = t->_slots[i];
    while (e) {
      http_client_t *next = e->_next;
      size_t h = hash_key(e->key) & (n - 1);
      e->_next = slots[h];
      slots[h] = e;
      e = next;
    }
  }
  free(t->_slots);
  t->_slots = slots;
  t->_n_slots = n;
}

http_client_t *http_clients_get(http_clients_t *t, const char *key) {
  size_t h = hash_key(key) & (t->_n_slots - 1);
  for (http_client_t *e = t->_slots[h]; e; e = e->_next)
    if (!strcmp(e->key, key))
      return e;
  if (t->n + 1 > t->_n_slots) {
    grow(t);
    h = hash_key(key) & (t->_n_slots - 1);
  }
  http_client_t *e = xcalloc(1, sizeof(*e));
  e->key = xstrdup(key);
  e->_next = t->_slots[h];
  t->_slots[h] = e;
  t->n++;
  return e;
}

void http_clients_release(http_clients_t *t, http_client_t *e) {
  if (!e || e->conns > 0 || e->unauth > 0 || e->inflight > 0)
    return;
  size_t h = hash_key(e->key) & (t->_n_slots - 1);
  for (http_client_t **pp = &t->_slots[h]; *pp; pp = &(*pp)->_next) {
    if (*pp == e) {
      *pp = e->_next;
      free(e->key);
      free(e);
      t->n--;
      return;
    }
  }
}

http_admit_t http_quota_admit(const http_quota_t *l, int n_conns, int n_unauth,
                               const http_client_t *addr) {
  int a_conns = addr ? addr->conns : 0, a_unauth = addr ? addr->unauth : 0;
  if (a_conns >= l->max_conns_per_addr)
    return HTTP_ADMIT_ROOM_ADDR;
  if (n_conns >= l->max_conns)
    return HTTP_ADMIT_ROOM_ANY;
  if (a_unauth >= l->max_unauth_per_addr)
    return HTTP_ADMIT_TRIM_ADDR;
  if (n_unauth >= l->max_unauth)
    return HTTP_ADMIT_TRIM_ANY;
  return HTTP_ADMIT_OK;
}

bool http_quota_may_produce(const http_quota_t *l, size_t queued, size_t total, bool *over) {
  if (*over && total <= l->out_budget / 4 * 3)
    *over = false;
  else if (!*over && total > l->out_budget)
    *over = true;
  /* Over the budget a connection with nothing queued may still produce:
   * one answer to a client that reads keeps it served; the ones that do
   * not read are the ones holding the memory. */
  return queued < l->conn_out_mark && (!*over || queued == 0);
}

bool http_quota_inflight_add(const http_quota_t *l, http_client_t *e, bool by_user, bool exempt) {
  e->inflight++;
  int max = by_user ? l->max_inflight_per_user : l->max_inflight_per_addr;
  return exempt || e->inflight <= max;
}
