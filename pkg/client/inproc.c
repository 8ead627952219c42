/* In-process client backend: each request becomes an http_req_local_new
 * request handed to the API's own handler, so the server's controllers go
 * through the same authentication, admission, validation, defaulting and
 * resourceVersion checks as kubectl, without TLS or sockets. What the
 * handler answers is queued and delivered from an ev_check watcher (after
 * each poll; an ev_idle keeps the poll from blocking while answers wait),
 * so a callback never runs inside the call that started its request (and
 * never inside a store or watch callback of the API). An idle watcher alone
 * starved under load: with HTTPS connections always pending, answers and
 * watch events to the in-process informers waited hundreds of ms. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/backend.h"
#include "util/alloc.h"

typedef enum { ITEM_HEAD, ITEM_BODY, ITEM_END } item_kind_t;

typedef struct item {
  struct item *next;
  item_kind_t kind;
  int code;
  size_t len;
  char data[];
} item_t;

typedef struct ipreq ipreq_t;

typedef struct {
  struct ev_loop *loop;
  http_handler_cb handler;
  void *handler_data;
  char *user;
  char **groups;
  ev_check check; /* delivers */
  ev_idle idle;   /* keeps the loop from blocking while items wait */
  ipreq_t *ready, *ready_tail; /* requests with queued items */
} inproc_t;

struct ipreq {
  inproc_t *ip;
  client_req_t *r;    /* NULL once cancelled */
  http_req_t *hreq;   /* NULL once the handler finished it */
  item_t *items, *items_tail;
  bool queued;        /* on the ready list */
  bool delivering;    /* check_cb is delivering its items */
  ipreq_t *next_ready;
};

static void ready_push(inproc_t *ip, ipreq_t *q) {
  if (q->queued)
    return;
  q->queued = true;
  q->next_ready = NULL;
  if (ip->ready_tail)
    ip->ready_tail->next_ready = q;
  else
    ip->ready = q;
  ip->ready_tail = q;
  if (!ev_is_active(&ip->check)) {
    ev_check_start(ip->loop, &ip->check);
    ev_idle_start(ip->loop, &ip->idle);
  }
}

static void item_push(ipreq_t *q, item_kind_t kind, int code, const char *data, size_t len) {
  item_t *it = xmalloc(sizeof(*it) + len + 1);
  it->next = NULL;
  it->kind = kind;
  it->code = code;
  it->len = len;
  if (len)
    memcpy(it->data, data, len);
  it->data[len] = '\0';
  if (q->items_tail)
    q->items_tail->next = it;
  else
    q->items = it;
  q->items_tail = it;
  ready_push(q->ip, q);
}

static void items_free(ipreq_t *q) {
  item_t *it = q->items;
  while (it) {
    item_t *next = it->next;
    free(it);
    it = next;
  }
  q->items = q->items_tail = NULL;
}

/* ---- the sink the API writes to ---- */

static void sink_head(void *data, int status, const char *content_type, const char *headers,
                      size_t headers_len) {
  item_push(data, ITEM_HEAD, status, NULL, 0);
}

static void sink_body(void *data, const char *bytes, size_t len) {
  item_push(data, ITEM_BODY, 0, bytes, len);
}

static void sink_end(void *data) {
  ipreq_t *q = data;
  q->hreq = NULL; /* the http layer frees it right after this */
  item_push(q, ITEM_END, 0, NULL, 0);
}

static const http_local_sink_t sink = {sink_head, sink_body, sink_end};

static void ready_remove(inproc_t *ip, ipreq_t *q) {
  if (!q->queued)
    return;
  ipreq_t *prev = NULL;
  for (ipreq_t *p = ip->ready; p; prev = p, p = p->next_ready) {
    if (p != q)
      continue;
    if (prev)
      prev->next_ready = p->next_ready;
    else
      ip->ready = p->next_ready;
    if (ip->ready_tail == p)
      ip->ready_tail = prev;
    break;
  }
  q->queued = false;
}

/* q is freed once neither the client request, nor the handler, nor a
 * running delivery refers to it. */
static void maybe_free(ipreq_t *q) {
  if (q->r || q->hreq || q->delivering)
    return;
  ready_remove(q->ip, q);
  items_free(q);
  free(q);
}

/* Deliver queued items in order, request by request. Callbacks may start,
 * cancel or answer requests meanwhile: the ready list is read from its head
 * each time, and a bounded number of requests is served per round so the
 * loop's other watchers keep running. */
static void check_cb(struct ev_loop *loop, ev_check *w, int revents) {
  inproc_t *ip = (inproc_t *)((char *)w - offsetof(inproc_t, check));
  for (int budget = 256; ip->ready && budget > 0; budget--) {
    ipreq_t *q = ip->ready;
    ip->ready = q->next_ready;
    if (!ip->ready)
      ip->ready_tail = NULL;
    q->queued = false;
    q->next_ready = NULL;
    q->delivering = true;
    while (q->r && q->items) {
      item_t *it = q->items;
      q->items = it->next;
      if (!q->items)
        q->items_tail = NULL;
      client_req_t *r = q->r;
      if (it->kind == ITEM_HEAD) {
        client__deliver_head(r, it->code);
      } else if (it->kind == ITEM_BODY) {
        client__deliver_body(r, it->data, it->len);
      } else {
        q->r = NULL;
        r->be_req = NULL;
        client__deliver_end(r, 0);
      }
      free(it);
    }
    q->delivering = false;
    maybe_free(q);
  }
  if (!ip->ready) {
    ev_check_stop(loop, w);
    ev_idle_stop(loop, &ip->idle);
  }
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {}

/* ---- backend ---- */

static int ip_start(client_t *c, client_req_t *r, const char *method, const char *target,
                    const char *const *headers, const char *body, size_t len) {
  inproc_t *ip = c->be_data;
  ipreq_t *q = xcalloc(1, sizeof(*q));
  q->ip = ip;
  q->r = r;
  http_req_t *h = http_req_local_new(method, target, headers, body, len, ip->user,
                                     (const char *const *)ip->groups, &sink, q);
  if (!h) {
    free(q);
    return -EINVAL;
  }
  q->hreq = h;
  r->be_req = q;
  ip->handler(h, ip->handler_data); /* may answer (queue) before returning */
  return 0;
}

static void ip_cancel(client_t *c, client_req_t *r) {
  ipreq_t *q = r->be_req;
  if (!q)
    return;
  r->be_req = NULL;
  q->r = NULL;
  items_free(q);
  http_req_t *h = q->hreq;
  if (h) {
    /* The handler still holds the request (a pending write or a watch):
     * detach the sink; a watch stops now through its close callback. */
    q->hreq = NULL;
    http_req_local_cancel(h);
  }
  maybe_free(q);
}

static void ip_free(client_t *c) {
  inproc_t *ip = c->be_data;
  ev_check_stop(ip->loop, &ip->check);
  ev_idle_stop(ip->loop, &ip->idle);
  free(ip->user);
  for (char **g = ip->groups; g && *g; g++)
    free(*g);
  free(ip->groups);
  free(ip);
}

static const client_backend_t inproc_backend = {ip_start, ip_cancel, ip_free};

int client_inproc_new(struct ev_loop *loop, http_handler_cb handler, void *handler_data,
                      const char *user, const char *const *groups, client_t **ret_client) {
  if (!handler || !user)
    return -EINVAL;
  inproc_t *ip = xcalloc(1, sizeof(*ip));
  ip->loop = loop;
  ip->handler = handler;
  ip->handler_data = handler_data;
  ip->user = xstrdup(user);
  size_t n = 0;
  while (groups && groups[n])
    n++;
  ip->groups = xcalloc(n + 1, sizeof(*ip->groups));
  for (size_t i = 0; i < n; i++)
    ip->groups[i] = xstrdup(groups[i]);
  ev_check_init(&ip->check, check_cb);
  ev_idle_init(&ip->idle, idle_cb);
  *ret_client = client__new(loop, &inproc_backend, ip);
  return 0;
}
