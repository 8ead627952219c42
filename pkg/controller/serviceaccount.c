/* The ServiceAccount controller: reconcile(namespace) creates the
 * ServiceAccount "default" in it when the cache has none and the namespace
 * is not terminating. The key is the namespace's name.
 * https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts */
#include "controller/serviceaccount.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "controller/internal.h"
#include "util/alloc.h"

#define DEFAULT_SA "default"

typedef struct ssync ssync_t;

struct controller_serviceaccount {
  client_t *c;
  client_informer_t *ns_inf, *sa_inf;
  controller_t *ctl;
  ssync_t *syncs;
};

/* One reconcile with its create in flight. */
struct ssync {
  controller_serviceaccount_t *sc;
  ssync_t *prev, *next;
  char *key;
  client_req_t *req;
};

static void ssync_free(ssync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->sc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  if (s->req)
    client_req_cancel(s->req);
  free(s->key);
  free(s);
}

static void create_done(const client_result_t *res, void *data) {
  ssync_t *s = data;
  controller_t *ctl = s->sc->ctl;
  /* 409: it exists already (the cache will show it); 403: the namespace
   * began terminating; 404: it is gone. None of them is worth a retry. */
  int err = (res->code >= 300 && res->code != 409 && res->code != 403 && res->code != 404)
                ? -EAGAIN
                : 0;
  char *key = s->key;
  s->key = NULL;
  s->req = NULL;
  ssync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_serviceaccount_t *sc = data;
  const cJSON *ns = client_informer_get(sc->ns_inf, NULL, key);
  if (!ns || controller__namespace_terminating(ns) ||
      client_informer_get(sc->sa_inf, key, DEFAULT_SA)) {
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *sa = cJSON_CreateObject();
  cJSON_AddStringToObject(sa, "apiVersion", "v1");
  cJSON_AddStringToObject(sa, "kind", "ServiceAccount");
  cJSON *md = cJSON_AddObjectToObject(sa, "metadata");
  cJSON_AddStringToObject(md, "name", DEFAULT_SA);
  cJSON_AddStringToObject(md, "namespace", key);
  ssync_t *s = xcalloc(1, sizeof(*s));
  s->sc = sc;
  s->key = xstrdup(key);
  client_ref_t ref = {.version = "v1", .resource = "serviceaccounts", .ns = key};
  s->req = client_create(sc->c, &ref, sa, create_done, s);
  cJSON_Delete(sa);
  if (!s->req) { /* a namespace name no ref accepts: nothing to create */
    free(s->key);
    free(s);
    controller_done(ctl, key, 0);
    return;
  }
  s->next = sc->syncs;
  if (s->next)
    s->next->prev = s;
  sc->syncs = s;
}

static void ns_added(const cJSON *ns, void *data) {
  controller_serviceaccount_t *sc = data;
  const char *name = controller__str(ns, "metadata.name");
  if (name && !controller__namespace_terminating(ns))
    controller_enqueue(sc->ctl, name);
}
static void ns_updated(const cJSON *old, const cJSON *ns, void *data) { ns_added(ns, data); }

static void sa_deleted(const cJSON *sa, void *data) {
  controller_serviceaccount_t *sc = data;
  const char *name = controller__str(sa, "metadata.name");
  const char *ns = controller__str(sa, "metadata.namespace");
  if (name && ns && !strcmp(name, DEFAULT_SA))
    controller_enqueue(sc->ctl, ns);
}

int controller_serviceaccount_new(client_t *c, client_informer_t *namespaces,
                                  client_informer_t *serviceaccounts, struct ev_loop *loop,
                                  controller_serviceaccount_t **ret_sc) {
  controller_serviceaccount_t *sc = xcalloc(1, sizeof(*sc));
  sc->c = c;
  sc->ns_inf = namespaces;
  sc->sa_inf = serviceaccounts;
  controller_opts_t o = {.name = "serviceaccount-controller", .sync = reconcile, .data = sc};
  int r = controller_new(loop, &o, &sc->ctl);
  if (r < 0) {
    free(sc);
    return r;
  }
  controller_wait_for(sc->ctl, namespaces);
  controller_wait_for(sc->ctl, serviceaccounts);
  client_informer_handlers_t nh = {ns_added, ns_updated, NULL};
  client_informer_handlers_t sh = {NULL, NULL, sa_deleted};
  if ((r = client_informer_add_handlers(namespaces, &nh, sc)) < 0 ||
      (r = client_informer_add_handlers(serviceaccounts, &sh, sc)) < 0) {
    controller_serviceaccount_free(sc);
    return r;
  }
  controller_start(sc->ctl);
  *ret_sc = sc;
  return 0;
}

void controller_serviceaccount_free(controller_serviceaccount_t *sc) {
  if (!sc)
    return;
  while (sc->syncs)
    ssync_free(sc->syncs);
  controller_free(sc->ctl);
  free(sc);
}
