/* The token cleaner: reconcile(kube-system/bootstrap-token-<id>) deletes the
 * Secret when its expiration has passed, with its uid as precondition so a
 * new token of that id is kept, and otherwise looks again at the expiry.
 * A Secret whose expiration does not parse is left alone (the
 * authenticator refuses it), as upstream does.
 * https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/#enabling-bootstrap-token-authentication */
#include "controller/tokencleaner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/bootstraptoken.h"
#include "client/informer.h"
#include "controller/controller.h"
#include "controller/internal.h"
#include "util/alloc.h"

typedef struct tsync tsync_t;

struct controller_tokencleaner {
  client_t *c;
  client_informer_t *inf;
  controller_t *ctl;
  tsync_t *syncs;
};

/* One delete in flight. */
struct tsync {
  controller_tokencleaner_t *tc;
  tsync_t *prev, *next;
  char *key;
  client_req_t *req;
};

static void tsync_free(tsync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->tc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  if (s->req)
    client_req_cancel(s->req);
  free(s->key);
  free(s);
}

static void delete_done(const client_result_t *res, void *data) {
  tsync_t *s = data;
  controller_t *ctl = s->tc->ctl;
  /* 404: gone already; 409: the uid precondition failed, a new token. */
  int err = res->code >= 300 && res->code != 404 && res->code != 409 ? -EAGAIN : 0;
  char *key = s->key;
  s->key = NULL;
  s->req = NULL;
  tsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_tokencleaner_t *tc = data;
  char ns[256], name[256];
  const cJSON *secret = NULL;
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) == 0)
    secret = client_informer_get(tc->inf, ns, name);
  time_t exp = 0;
  if (!secret || controller__str(secret, "metadata.deletionTimestamp") ||
      api_bootstrap_token_expiry(secret, &exp) < 0 || !exp) {
    controller_done(ctl, key, 0);
    return;
  }
  time_t now = time(NULL);
  if (exp > now) {
    controller_enqueue_after(ctl, key, (double)(exp - now) + 0.5);
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
                          controller__str(secret, "metadata.uid"));
  tsync_t *s = xcalloc(1, sizeof(*s));
  s->tc = tc;
  s->key = xstrdup(key);
  client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = ns, .name = name};
  s->req = client_delete(tc->c, &ref, opts, delete_done, s);
  cJSON_Delete(opts);
  if (!s->req) {
    free(s->key);
    free(s);
    controller_done(ctl, key, 0);
    return;
  }
  s->next = tc->syncs;
  if (s->next)
    s->next->prev = s;
  tc->syncs = s;
}

static void changed(const cJSON *secret, void *data) {
  controller_enqueue_obj(((controller_tokencleaner_t *)data)->ctl, secret);
}
static void updated(const cJSON *old, const cJSON *secret, void *data) { changed(secret, data); }

int controller_tokencleaner_new(client_t *c, struct ev_loop *loop,
                                controller_tokencleaner_t **ret_tc) {
  controller_tokencleaner_t *tc = xcalloc(1, sizeof(*tc));
  tc->c = c;
  client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = API_BOOTSTRAP_TOKEN_NS};
  controller_opts_t o = {.name = "token-cleaner", .sync = reconcile, .data = tc};
  client_informer_handlers_t h = {changed, updated, NULL};
  int r;
  if ((r = client_informer_new(c, &ref, NULL, "type=" API_BOOTSTRAP_TOKEN_TYPE, 0, &tc->inf)) < 0 ||
      (r = controller_new(loop, &o, &tc->ctl)) < 0 ||
      (r = client_informer_add_handlers(tc->inf, &h, tc)) < 0)
    goto fail;
  controller_wait_for(tc->ctl, tc->inf);
  client_informer_start(tc->inf);
  controller_start(tc->ctl);
  *ret_tc = tc;
  return 0;
fail:
  controller_tokencleaner_free(tc);
  return r;
}

void controller_tokencleaner_free(controller_tokencleaner_t *tc) {
  if (!tc)
    return;
  while (tc->syncs)
    tsync_free(tc->syncs);
  controller_free(tc->ctl);
  client_informer_free(tc->inf);
  free(tc);
}
