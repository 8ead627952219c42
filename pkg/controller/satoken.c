/* The legacy service-account token controller: reconcile(ns/name of a
 * kubernetes.io/service-account-token Secret) fills it with a signed token,
 * the CA and the namespace, or deletes it when its ServiceAccount is
 * missing (checked with a live GET before deleting: the cache may lag).
 * https://kubernetes.io/docs/concepts/configuration/secret/#serviceaccount-token-secrets */
#include "controller/satoken.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/satoken.h"
#include "controller/controller.h"
#include "controller/internal.h"
#include "tls/jwt.h"
#include "util/alloc.h"
#include "util/base64.h"

#define TOKEN_TYPE "kubernetes.io/service-account-token"
#define ANN_NAME "kubernetes.io/service-account.name"
#define ANN_UID "kubernetes.io/service-account.uid"

typedef struct tsync tsync_t;

struct controller_satoken {
  client_t *c;
  client_informer_t *sa_inf, *sec_inf;
  controller_t *ctl;
  tls_jwt_key_t *key;
  char *ca_b64;
  tsync_t *syncs;
};

/* One reconcile with its request in flight. */
struct tsync {
  controller_satoken_t *tc;
  tsync_t *prev, *next;
  char *key;
  char *secret_uid; /* the precondition of a delete */
  client_req_t *req;
  enum { T_GET_SA, T_DELETE, T_UPDATE } step;
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
  free(s->secret_uid);
  free(s);
}

static tsync_t *tsync_new(controller_satoken_t *tc, const char *key, int step) {
  tsync_t *s = xcalloc(1, sizeof(*s));
  s->tc = tc;
  s->key = xstrdup(key);
  s->step = step;
  s->next = tc->syncs;
  if (s->next)
    s->next->prev = s;
  tc->syncs = s;
  return s;
}

/* The value of an annotation (keys have dots: no controller__str path). */
static const char *annotation(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
                                       "annotations"),
      key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *data_of(const cJSON *secret, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(secret, "data"), key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool str_eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static void finish(tsync_t *s, int err) {
  controller_t *ctl = s->tc->ctl;
  char *key = s->key;
  s->key = NULL;
  s->req = NULL;
  tsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void delete_done(const client_result_t *res, void *data) {
  tsync_t *s = data;
  /* 404: gone already; 409: the uid precondition failed (another Secret
   * of that name now): neither needs a retry. */
  finish(s, res->code >= 300 && res->code != 404 && res->code != 409 ? -EAGAIN : 0);
}

static void delete_secret(controller_satoken_t *tc, tsync_t *s, const char *ns, const char *name) {
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
                          s->secret_uid ? s->secret_uid : "");
  client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = ns, .name = name};
  s->step = T_DELETE;
  s->req = client_delete(tc->c, &ref, opts, delete_done, s);
  cJSON_Delete(opts);
  if (!s->req)
    finish(s, 0);
}

static void get_sa_done(const client_result_t *res, void *data) {
  tsync_t *s = data;
  controller_satoken_t *tc = s->tc;
  s->req = NULL;
  if (res->code == 404) {
    char ns[256], name[256];
    if (controller_key_split(s->key, ns, sizeof(ns), name, sizeof(name)) < 0) {
      finish(s, 0);
      return;
    }
    delete_secret(tc, s, ns, name);
    return;
  }
  /* It exists (the cache has not seen it yet) or the GET failed: look
   * again in a moment. */
  controller_enqueue_after(tc->ctl, s->key, 1.0);
  finish(s, res->code >= 300 ? -EAGAIN : 0);
}

static void update_done(const client_result_t *res, void *data) {
  tsync_t *s = data;
  /* 409: a newer version, reconciled again from the cache; 404: gone. */
  finish(s, res->code >= 300 && res->code != 404 ? -EAGAIN : 0);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_satoken_t *tc = data;
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *secret = client_informer_get(tc->sec_inf, ns, name);
  const char *type = controller__str(secret, "type");
  const char *sa_name = annotation(secret, ANN_NAME);
  if (!secret || !str_eq(type, TOKEN_TYPE) || !sa_name || !sa_name[0] ||
      controller__str(secret, "metadata.deletionTimestamp")) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *sa = client_informer_get(tc->sa_inf, ns, sa_name);
  const char *sa_uid = controller__str(sa, "metadata.uid");
  const char *want_uid = annotation(secret, ANN_UID);
  const char *secret_uid = controller__str(secret, "metadata.uid");
  if (!secret_uid)
    secret_uid = "";
  tsync_t *s;
  if (!sa || !sa_uid) {
    s = tsync_new(tc, key, T_GET_SA);
    s->secret_uid = xstrdup(secret_uid);
    client_ref_t ref = {.version = "v1", .resource = "serviceaccounts", .ns = ns, .name = sa_name};
    s->req = client_get(tc->c, &ref, NULL, get_sa_done, s);
    if (!s->req)
      finish(s, 0);
    return;
  }
  if (want_uid && want_uid[0] && strcmp(want_uid, sa_uid)) {
    /* made for an earlier ServiceAccount of this name */
    s = tsync_new(tc, key, T_DELETE);
    s->secret_uid = xstrdup(secret_uid);
    delete_secret(tc, s, ns, name);
    return;
  }
  char *ns_b64 = base64_encode(ns, strlen(ns));
  const char *tok = data_of(secret, "token");
  bool filled = str_eq(want_uid, sa_uid) && tok && tok[0] &&
                str_eq(data_of(secret, "ca.crt"), tc->ca_b64) &&
                str_eq(data_of(secret, "namespace"), ns_b64);
  if (filled) {
    free(ns_b64);
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *upd = cJSON_Duplicate(secret, 1);
  cJSON *md = cJSON_GetObjectItemCaseSensitive(upd, "metadata");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
  cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_UID);
  cJSON_AddStringToObject(ann, ANN_UID, sa_uid);
  cJSON *d = cJSON_GetObjectItemCaseSensitive(upd, "data");
  if (!cJSON_IsObject(d)) {
    cJSON_DeleteItemFromObjectCaseSensitive(upd, "data");
    d = cJSON_AddObjectToObject(upd, "data");
  }
  if (!tok || !tok[0]) {
    /* A token already handed out stays; only a missing one is made. */
    cJSON *claims = api_satoken_legacy_claims(ns, name, sa_name, sa_uid);
    char *jwt = NULL;
    int r = tls_jwt_sign(tc->key, claims, &jwt, NULL, 0);
    cJSON_Delete(claims);
    if (r < 0) {
      cJSON_Delete(upd);
      free(ns_b64);
      controller_done(ctl, key, r);
      return;
    }
    char *b = base64_encode(jwt, strlen(jwt));
    free(jwt);
    cJSON_DeleteItemFromObjectCaseSensitive(d, "token");
    cJSON_AddStringToObject(d, "token", b);
    free(b);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(d, "ca.crt");
  cJSON_AddStringToObject(d, "ca.crt", tc->ca_b64);
  cJSON_DeleteItemFromObjectCaseSensitive(d, "namespace");
  cJSON_AddStringToObject(d, "namespace", ns_b64);
  free(ns_b64);
  s = tsync_new(tc, key, T_UPDATE);
  client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = ns, .name = name};
  s->req = client_update(tc->c, &ref, upd, update_done, s);
  cJSON_Delete(upd);
  if (!s->req)
    finish(s, 0);
}

static void secret_added(const cJSON *obj, void *data) {
  controller_satoken_t *tc = data;
  controller_enqueue_obj(tc->ctl, obj);
}
static void secret_updated(const cJSON *old, const cJSON *obj, void *data) {
  secret_added(obj, data);
}

typedef struct {
  controller_satoken_t *tc;
  const char *ns, *name;
} sa_match_t;

static void enqueue_if_of(const cJSON *secret, void *data) {
  sa_match_t *m = data;
  if (str_eq(controller__str(secret, "metadata.namespace"), m->ns) &&
      str_eq(annotation(secret, ANN_NAME), m->name))
    controller_enqueue_obj(m->tc->ctl, secret);
}

/* A ServiceAccount gone: its token Secrets are looked at again, which
 * deletes them when it is really gone. */
static void sa_deleted(const cJSON *sa, void *data) {
  controller_satoken_t *tc = data;
  sa_match_t m = {tc, controller__str(sa, "metadata.namespace"),
                  controller__str(sa, "metadata.name")};
  if (m.ns && m.name)
    client_cache_foreach(client_informer_cache(tc->sec_inf), enqueue_if_of, &m);
}

int controller_satoken_new(client_t *c, client_informer_t *serviceaccounts, struct ev_loop *loop,
                           const char *key_pem, const char *ca_pem,
                           controller_satoken_t **ret_tc) {
  if (!ca_pem || !ca_pem[0] || !key_pem)
    return -EINVAL;
  controller_satoken_t *tc = xcalloc(1, sizeof(*tc));
  tc->c = c;
  tc->sa_inf = serviceaccounts;
  tc->ca_b64 = base64_encode(ca_pem, strlen(ca_pem));
  int r;
  if ((r = tls_jwt_key_load(key_pem, &tc->key, NULL, 0)) < 0)
    goto fail;
  client_ref_t ref = {.version = "v1", .resource = "secrets"};
  controller_opts_t o = {.name = "serviceaccount-token-controller", .sync = reconcile,
                         .data = tc};
  if ((r = client_informer_new(c, &ref, NULL, "type=" TOKEN_TYPE, 0, &tc->sec_inf)) < 0 ||
      (r = controller_new(loop, &o, &tc->ctl)) < 0)
    goto fail;
  controller_wait_for(tc->ctl, serviceaccounts);
  controller_wait_for(tc->ctl, tc->sec_inf);
  client_informer_handlers_t sh = {secret_added, secret_updated, NULL};
  client_informer_handlers_t ah = {NULL, NULL, sa_deleted};
  if ((r = client_informer_add_handlers(tc->sec_inf, &sh, tc)) < 0 ||
      (r = client_informer_add_handlers(serviceaccounts, &ah, tc)) < 0)
    goto fail;
  client_informer_start(tc->sec_inf);
  controller_start(tc->ctl);
  *ret_tc = tc;
  return 0;
fail:
  controller_satoken_free(tc);
  return r;
}

void controller_satoken_free(controller_satoken_t *tc) {
  if (!tc)
    return;
  while (tc->syncs)
    tsync_free(tc->syncs);
  controller_free(tc->ctl);
  client_informer_free(tc->sec_inf);
  tls_jwt_key_free(tc->key);
  free(tc->ca_b64);
  free(tc);
}
