/* pkg/http: per-client accounting and the limits the HTTPS server enforces
 * against hostile or careless clients (docs/SECURITY.md, "Connections and
 * memory"). Pure bookkeeping: no sockets, no loop, so it is unit-tested on
 * its own (tests/unit/http/test_quota.c). server.c owns the only instance.
 * Not thread-safe; the server calls it from its loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The limits; 0 in any field of http_server_opts_t means the default here. */
#define HTTP_DEFAULT_MAX_CONNS 2048
#define HTTP_DEFAULT_MAX_CONNS_PER_ADDR 1024
#define HTTP_DEFAULT_MAX_CONNS_PER_USER 1024
#define HTTP_DEFAULT_MAX_UNAUTH 128
#define HTTP_DEFAULT_MAX_UNAUTH_PER_ADDR 32
#define HTTP_DEFAULT_MAX_INFLIGHT_PER_ADDR 400
#define HTTP_DEFAULT_MAX_INFLIGHT_PER_USER 200
#define HTTP_DEFAULT_UNAUTH_IDLE 10.0                   /* seconds */
#define HTTP_DEFAULT_CONN_OUT_MARK ((size_t)256 << 10)  /* per connection */
#define HTTP_DEFAULT_OUT_BUDGET ((size_t)64 << 20)      /* server-wide */

typedef struct {
  int max_conns;
  int max_conns_per_addr;
  int max_conns_per_user;
  int max_unauth;          /* connections without a client cert or accepted token */
  int max_unauth_per_addr;
  int max_inflight_per_addr; /* requests being handled; watches and upgrades excluded */
  int max_inflight_per_user;
  double unauth_idle;      /* lifetime of an idle unauthenticated connection */
  size_t conn_out_mark;    /* queued output above which a connection stops producing */
  size_t out_budget;       /* all connections' queued output above which everyone pauses */
} http_quota_t;

/* Fill zero fields with the defaults above. */
void http_quota_defaults(http_quota_t *l);

/* One source address ("a:10.0.0.1") or one authenticated user ("u:alice"). */
typedef struct http_client {
  char *key;
  int conns;    /* connections attributed to it */
  int unauth;   /* of which unauthenticated (address entries only) */
  int inflight; /* requests in a handler, long-running ones excluded */
  /* Requests dispatched in loop iteration batch_iter (server.c: a client's
   * connections share one batch per iteration). */
  unsigned batch_iter;
  int batch_n;
  struct http_client *_next;
} http_client_t;

typedef struct {
  http_client_t **_slots;
  size_t _n_slots;
  size_t n; /* entries */
} http_clients_t;

void http_clients_init(http_clients_t *t);
/* Free every entry (entries still referenced by connections become invalid). */
void http_clients_done(http_clients_t *t);
/* Find the entry for key, creating it with zero counts. Never NULL. */
http_client_t *http_clients_get(http_clients_t *t, const char *key);
/* Free e if all its counts are zero (call after decrementing). */
void http_clients_release(http_clients_t *t, http_client_t *e);

typedef enum {
  HTTP_ADMIT_OK,
  HTTP_ADMIT_TRIM_ADDR, /* anonymous pool full: close an idle anonymous connection of this
                           address if there is one, then accept */
  HTTP_ADMIT_TRIM_ANY,  /* the same, of any address */
  HTTP_ADMIT_ROOM_ADDR, /* connection limit of the address: accept only if an idle anonymous
                           connection of it can be closed */
  HTTP_ADMIT_ROOM_ANY,  /* server connection limit: the same, of any address */
} http_admit_t;

/* A new (so far anonymous) connection from addr arrives while the server
 * has n_conns connections, n_unauth of them anonymous. Authenticated
 * connections are never closed to make room, so a flood of anonymous ones
 * cannot lock out clients that have proven who they are; the anonymous
 * pool is soft (a burst of handshakes is not refused) but trimmed oldest
 * first. */
http_admit_t http_quota_admit(const http_quota_t *l, int n_conns, int n_unauth,
                              const http_client_t *addr);

/* Count one more request in flight against e (an address entry, or a user
 * entry when by_user) and say whether it may be served: false when that
 * takes e over its limit (the caller answers 429 and, when the request is
 * finished, decrements as for any other). exempt: system:masters, whose
 * requests are counted but never refused, as upstream's max-in-flight
 * filter lets them through. */
bool http_quota_inflight_add(const http_quota_t *l, http_client_t *e, bool by_user, bool exempt);

/* May a connection with `queued` bytes of unsent output produce more (parse
 * its next pipelined request, or give a stream its next chunk), when all
 * connections together hold `total`? Only below the per-connection mark;
 * and once the total is over the budget, only connections with nothing
 * queued, until the total falls to 3/4 of the budget (`*over` keeps that
 * state between calls). */
bool http_quota_may_produce(const http_quota_t *l, size_t queued, size_t total, bool *over);
