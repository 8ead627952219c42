/* The interface between client.c (verbs, response assembly, watch line
 * splitting) and a transport backend (inproc.c, https.c). Not for other
 * components. Loop thread only.
 *
 * A backend starts a request and later reports, in this order and never
 * from inside start(): client__deliver_head once, client__deliver_body zero
 * or more times, client__deliver_end once. After deliver_end, or after
 * cancel() returns, the backend never touches the request again. */
#pragma once

#include <stdbool.h>

#include "client/client.h"
#include "util/buf.h"

typedef struct {
  /* headers: NULL-terminated name, value pairs. Returns 0 or a negative
   * errno (then nothing will be delivered). */
  int (*start)(client_t *c, client_req_t *r, const char *method, const char *target,
               const char *const *headers, const char *body, size_t len);
  /* Forget r: deliver nothing more for it. */
  void (*cancel)(client_t *c, client_req_t *r);
  /* Release the backend (every request is already cancelled). */
  void (*free)(client_t *c);
} client_backend_t;

struct client {
  struct ev_loop *loop;
  const client_backend_t *be;
  void *be_data;
  char *user_agent;
  size_t max_body;
  client_req_t *reqs; /* live requests */
};

struct client_req {
  client_t *c;
  client_req_t *prev, *next;
  bool watch;
  client_done_cb done_cb;
  client_event_cb event_cb;
  client_chunk_cb chunk_cb; /* client_stream: raw body chunks */
  bool raw;                 /* client_stream (watch is set too: own connection) */
  void *data;
  int code;
  buf_t body;       /* the whole body, or the current partial watch line */
  int busy;         /* inside a user callback */
  bool cancelled;   /* free when the callback returns */
  void *be_req;     /* the backend's state for this request */
};

/* Make the generic part of a client (the backend fills be/be_data). */
client_t *client__new(struct ev_loop *loop, const client_backend_t *be, void *be_data);

void client__deliver_head(client_req_t *r, int code);
void client__deliver_body(client_req_t *r, const char *data, size_t len);
/* err 0: the response is complete; else a negative errno. */
void client__deliver_end(client_req_t *r, int err);
