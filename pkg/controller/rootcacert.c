/* The root CA publisher: reconcile(namespace) creates the ConfigMap
 * kube-root-ca.crt, or updates it when its data is not {ca.crt: CA} or its
 * description annotation is missing. Other namespaces' keys are untouched.
 * https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/ */
#include "controller/rootcacert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "controller/internal.h"
#include "util/alloc.h"

#define CA_KEY "ca.crt"
#define DESC_KEY "kubernetes.io/description"
#define DESC                                                                                      \
  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "      \
  "endpoints such as the internal service IPs or kubernetes.default.svc. No other usage is "     \
  "guaranteed across distributions of Kubernetes clusters."

typedef struct rsync rsync_t;

struct controller_rootcacert {
  client_t *c;
  client_informer_t *ns_inf, *cm_inf;
  controller_t *ctl;
  char *ca_pem;
  rsync_t *syncs;
};

/* One reconcile with its create or update in flight. */
struct rsync {
  controller_rootcacert_t *rc;
  rsync_t *prev, *next;
  char *key;
  client_req_t *req;
  bool update;
};

static void rsync_free(rsync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->rc->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  if (s->req)
    client_req_cancel(s->req);
  free(s->key);
  free(s);
}

/* Whether cm holds exactly the CA and the annotation. */
static bool current(const controller_rootcacert_t *rc, const cJSON *cm) {
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(cm, "data");
  const cJSON *ca = cJSON_GetObjectItemCaseSensitive(data, CA_KEY);
  /* The key has dots: not a controller__str path. */
  const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cm, "metadata"),
                                       "annotations"),
      DESC_KEY);
  return cJSON_GetArraySize(data) == 1 && cJSON_IsString(ca) &&
         !strcmp(ca->valuestring, rc->ca_pem) && cJSON_IsString(ann) && ann->valuestring[0];
}

static void write_done(const client_result_t *res, void *data) {
  rsync_t *s = data;
  controller_t *ctl = s->rc->ctl;
  int err = 0;
  /* A create's 409 (it exists: the cache will show it), 403 (the namespace
   * is terminating) and 404 need no retry; an update's 409 (a newer
   * version) does, from the cache. */
  if (res->code >= 300 && res->code != 403 && res->code != 404 && (s->update || res->code != 409))
    err = -EAGAIN;
  char *key = s->key;
  s->key = NULL;
  s->req = NULL;
  rsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_rootcacert_t *rc = data;
  const cJSON *ns = client_informer_get(rc->ns_inf, NULL, key);
  const cJSON *old = client_informer_get(rc->cm_inf, key, CONTROLLER_ROOTCACERT_NAME);
  if (!ns || controller__namespace_terminating(ns) || (old && current(rc, old))) {
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *cm;
  if (old) {
    /* Keep the metadata (resourceVersion is the update's precondition). */
    cm = cJSON_Duplicate(old, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(cm, "data");
  } else {
    cm = cJSON_CreateObject();
    cJSON_AddStringToObject(cm, "apiVersion", "v1");
    cJSON_AddStringToObject(cm, "kind", "ConfigMap");
    cJSON *md = cJSON_AddObjectToObject(cm, "metadata");
    cJSON_AddStringToObject(md, "name", CONTROLLER_ROOTCACERT_NAME);
    cJSON_AddStringToObject(md, "namespace", key);
  }
  cJSON_AddStringToObject(cJSON_AddObjectToObject(cm, "data"), CA_KEY, rc->ca_pem);
  cJSON *md = cJSON_GetObjectItemCaseSensitive(cm, "metadata");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
  if (!cJSON_IsObject(ann)) {
    cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
    ann = cJSON_AddObjectToObject(md, "annotations");
  }
  cJSON_DeleteItemFromObjectCaseSensitive(ann, DESC_KEY);
  cJSON_AddStringToObject(ann, DESC_KEY, DESC);

  rsync_t *s = xcalloc(1, sizeof(*s));
  s->rc = rc;
  s->key = xstrdup(key);
  s->update = old != NULL;
  client_ref_t ref = {.version = "v1", .resource = "configmaps", .ns = key};
  if (old) {
    ref.name = CONTROLLER_ROOTCACERT_NAME;
    s->req = client_update(rc->c, &ref, cm, write_done, s);
  } else {
    s->req = client_create(rc->c, &ref, cm, write_done, s);
  }
  cJSON_Delete(cm);
  if (!s->req) { /* a namespace name no ref accepts */
    free(s->key);
    free(s);
    controller_done(ctl, key, 0);
    return;
  }
  s->next = rc->syncs;
  if (s->next)
    s->next->prev = s;
  rc->syncs = s;
}

static void ns_added(const cJSON *ns, void *data) {
  controller_rootcacert_t *rc = data;
  const char *name = controller__str(ns, "metadata.name");
  if (name && !controller__namespace_terminating(ns))
    controller_enqueue(rc->ctl, name);
}
static void ns_updated(const cJSON *old, const cJSON *ns, void *data) { ns_added(ns, data); }

static void cm_changed(const cJSON *cm, void *data) {
  controller_rootcacert_t *rc = data;
  const char *ns = controller__str(cm, "metadata.namespace");
  if (ns)
    controller_enqueue(rc->ctl, ns);
}
static void cm_updated(const cJSON *old, const cJSON *cm, void *data) {
  controller_rootcacert_t *rc = data;
  if (!current(rc, cm))
    cm_changed(cm, data);
}

int controller_rootcacert_new(client_t *c, client_informer_t *namespaces, struct ev_loop *loop,
                              const char *ca_pem, controller_rootcacert_t **ret_rc) {
  if (!ca_pem || !ca_pem[0])
    return -EINVAL;
  controller_rootcacert_t *rc = xcalloc(1, sizeof(*rc));
  rc->c = c;
  rc->ns_inf = namespaces;
  rc->ca_pem = xstrdup(ca_pem);
  client_ref_t ref = {.version = "v1", .resource = "configmaps"};
  controller_opts_t o = {.name = "root-ca-cert-publisher", .sync = reconcile, .data = rc};
  int r;
  if ((r = client_informer_new(c, &ref, NULL, "metadata.name=" CONTROLLER_ROOTCACERT_NAME, 0,
                               &rc->cm_inf)) < 0 ||
      (r = controller_new(loop, &o, &rc->ctl)) < 0)
    goto fail;
  controller_wait_for(rc->ctl, namespaces);
  controller_wait_for(rc->ctl, rc->cm_inf);
  client_informer_handlers_t nh = {ns_added, ns_updated, NULL};
  client_informer_handlers_t ch = {NULL, cm_updated, cm_changed};
  if ((r = client_informer_add_handlers(namespaces, &nh, rc)) < 0 ||
      (r = client_informer_add_handlers(rc->cm_inf, &ch, rc)) < 0)
    goto fail;
  client_informer_start(rc->cm_inf);
  controller_start(rc->ctl);
  *ret_rc = rc;
  return 0;
fail:
  controller_rootcacert_free(rc);
  return r;
}

void controller_rootcacert_free(controller_rootcacert_t *rc) {
  if (!rc)
    return;
  while (rc->syncs)
    rsync_free(rc->syncs);
  controller_free(rc->ctl);
  client_informer_free(rc->cm_inf);
  free(rc->ca_pem);
  free(rc);
}
