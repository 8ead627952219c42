/* The kubelet's token manager for projected serviceAccountToken sources:
 * TokenRequests bound to the pod, kept per pod and (audience, lifetime),
 * refreshed at 80% of their lifetime or after 24 h, retried with back-off.
 * https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/ */
#include "agent/satokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/object.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/errbuf.h"

#define TICK_SECONDS 2.0
#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 300.0
#define REFRESH_MAX (24 * 3600.0)
#define DEFAULT_EXPIRATION 3600

typedef struct entry {
  struct entry *next;
  agent_satokens_t *t;
  char *pod_key, *ns, *name, *uid, *sa, *audience; /* audience "" : the API's default */
  long exp_seconds;
  char key[320];
  char *token;
  double refresh_at, next_try, backoff;
  char err[512];
  client_req_t *req;
  bool seen;
} entry_t;

struct agent_satokens {
  struct ev_loop *loop;
  client_t *c;
  agent_satokens_changed_cb cb;
  void *data;
  ev_timer tick;
  entry_t *entries;
  unsigned n;
};

static long expiration_of(const cJSON *source) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(source, "expirationSeconds");
  return cJSON_IsNumber(e) && e->valuedouble > 0 && e->valuedouble < 1e9 ? (long)e->valuedouble
                                                                        : DEFAULT_EXPIRATION;
}

void agent_satokens_source_key(const cJSON *source, char *buf, size_t n) {
  const char *aud = json_str(source, "audience");
  int r = snprintf(buf, n, "%ld/%.256s", expiration_of(source), aud ? aud : "");
  if (r < 0 && n)
    buf[0] = 0;
}

static void entry_free(entry_t *e) {
  if (e->req)
    client_req_cancel(e->req);
  free(e->pod_key);
  free(e->ns);
  free(e->name);
  free(e->uid);
  free(e->sa);
  free(e->audience);
  free(e->token);
  free(e);
}

static void req_done(const client_result_t *res, void *data) {
  entry_t *e = data;
  agent_satokens_t *t = e->t;
  e->req = NULL;
  double now = ev_now(t->loop);
  const char *tok = json_str(res->obj, "status.token");
  if ((res->code == 200 || res->code == 201) && tok && tok[0]) {
    free(e->token);
    e->token = xstrdup(tok);
    e->err[0] = 0;
    e->backoff = 0;
    /* 80% of the lifetime the API granted (it may shorten or extend the
     * one asked for), at most 24 h. */
    const char *exp = json_str(res->obj, "status.expirationTimestamp");
    double ttl = (double)e->exp_seconds;
    time_t at = exp ? obj_time_parse(exp) : -1;
    if (at > 0 && (double)at > now)
      ttl = (double)at - now;
    double in = 0.8 * ttl;
    e->refresh_at = now + (in < REFRESH_MAX ? in : REFRESH_MAX);
    t->cb(e->pod_key, t->data);
    return;
  }
  if (res->code)
    errbuf_set(e->err, sizeof(e->err), "failed to fetch token: %s",
               res->message && res->message[0] ? res->message : "request refused");
  else
    errbuf_set(e->err, sizeof(e->err), "failed to fetch token: %s", strerror(-res->err));
  e->backoff = e->backoff ? e->backoff * 2 : BACKOFF_MIN;
  if (e->backoff > BACKOFF_MAX)
    e->backoff = BACKOFF_MAX;
  e->next_try = now + e->backoff;
}

static void request(entry_t *e) {
  cJSON *tr = cJSON_CreateObject();
  cJSON_AddStringToObject(tr, "apiVersion", "authentication.k8s.io/v1");
  cJSON_AddStringToObject(tr, "kind", "TokenRequest");
  cJSON *spec = cJSON_AddObjectToObject(tr, "spec");
  if (e->audience[0])
    cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "audiences"),
                         cJSON_CreateString(e->audience));
  cJSON_AddNumberToObject(spec, "expirationSeconds", (double)e->exp_seconds);
  cJSON *ref = cJSON_AddObjectToObject(spec, "boundObjectRef");
  cJSON_AddStringToObject(ref, "kind", "Pod");
  cJSON_AddStringToObject(ref, "apiVersion", "v1");
  cJSON_AddStringToObject(ref, "name", e->name);
  cJSON_AddStringToObject(ref, "uid", e->uid);
  client_ref_t r = {.version = "v1", .resource = "serviceaccounts", .ns = e->ns, .name = e->sa,
                    .subresource = "token"};
  e->req = client_create(e->t->c, &r, tr, req_done, e);
  cJSON_Delete(tr);
  if (!e->req) {
    errbuf_set(e->err, sizeof(e->err), "failed to fetch token: bad ServiceAccount name %s",
               e->sa);
    e->next_try = ev_now(e->t->loop) + BACKOFF_MAX;
  }
}

static void maybe_request(entry_t *e, double now) {
  if (e->req || now < e->next_try || (e->token && now < e->refresh_at))
    return;
  request(e);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  agent_satokens_t *t = (agent_satokens_t *)((char *)w - offsetof(agent_satokens_t, tick));
  double now = ev_now(loop);
  for (entry_t *e = t->entries; e; e = e->next)
    maybe_request(e, now);
}

agent_satokens_t *agent_satokens_new(struct ev_loop *loop, client_t *c,
                                     agent_satokens_changed_cb cb, void *data) {
  agent_satokens_t *t = xcalloc(1, sizeof(*t));
  t->loop = loop;
  t->c = c;
  t->cb = cb;
  t->data = data;
  ev_timer_init(&t->tick, tick_cb, TICK_SECONDS, TICK_SECONDS);
  ev_timer_start(loop, &t->tick);
  return t;
}

void agent_satokens_free(agent_satokens_t *t) {
  if (!t)
    return;
  ev_timer_stop(t->loop, &t->tick);
  while (t->entries) {
    entry_t *e = t->entries;
    t->entries = e->next;
    entry_free(e);
  }
  free(t);
}

/* Remove the entries of pod_key that match (all, or the unseen ones). */
static void sweep(agent_satokens_t *t, const char *pod_key, bool all) {
  for (entry_t **pe = &t->entries; *pe;) {
    entry_t *e = *pe;
    if (!strcmp(e->pod_key, pod_key) && (all || !e->seen)) {
      *pe = e->next;
      entry_free(e);
      t->n--;
    } else {
      pe = &e->next;
    }
  }
}

void agent_satokens_drop(agent_satokens_t *t, const char *pod_key) {
  if (t && pod_key)
    sweep(t, pod_key, true);
}

unsigned agent_satokens_count(const agent_satokens_t *t) { return t ? t->n : 0; }

cJSON *agent_satokens_for_pod(agent_satokens_t *t, const char *pod_key, const cJSON *pod,
                              char *err, size_t errlen) {
  cJSON *out = cJSON_CreateObject();
  const char *uid = json_str(pod, "metadata.uid"), *ns = json_str(pod, "metadata.namespace");
  const char *name = json_str(pod, "metadata.name");
  const char *sa = json_str(pod, "spec.serviceAccountName");
  if (!sa || !sa[0])
    sa = "default";
  if (!uid || !ns || !name) {
    agent_satokens_drop(t, pod_key);
    return out;
  }
  for (entry_t *e = t->entries; e; e = e->next)
    if (!strcmp(e->pod_key, pod_key))
      e->seen = false;
  double now = ev_now(t->loop);
  unsigned n = 0;
  const cJSON *vol, *src;
  cJSON_ArrayForEach(vol, json_get_path(pod, "spec.volumes")) {
    cJSON_ArrayForEach(src, json_get_path(vol, "projected.sources")) {
      const cJSON *s = cJSON_GetObjectItemCaseSensitive(src, "serviceAccountToken");
      if (!s)
        continue;
      char key[320];
      agent_satokens_source_key(s, key, sizeof(key));
      entry_t *e = t->entries;
      while (e && (strcmp(e->pod_key, pod_key) || strcmp(e->key, key) || strcmp(e->uid, uid)))
        e = e->next;
      if (!e) {
        if (n >= AGENT_SATOKENS_PER_POD) {
          errbuf_set(err, errlen, "more than %d serviceAccountToken sources in one pod",
                     AGENT_SATOKENS_PER_POD);
          continue;
        }
        const char *aud = json_str(s, "audience");
        e = xcalloc(1, sizeof(*e));
        e->t = t;
        e->pod_key = xstrdup(pod_key);
        e->ns = xstrdup(ns);
        e->name = xstrdup(name);
        e->uid = xstrdup(uid);
        e->sa = xstrdup(sa);
        e->audience = xstrdup(aud ? aud : "");
        e->exp_seconds = expiration_of(s);
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->next = t->entries;
        t->entries = e;
        t->n++;
      }
      if (!e->seen)
        n++;
      e->seen = true;
      maybe_request(e, now);
      if (e->token) {
        if (!cJSON_GetObjectItemCaseSensitive(out, key))
          cJSON_AddStringToObject(out, key, e->token);
      } else if (e->err[0]) {
        errbuf_set(err, errlen, "%s", e->err);
      }
    }
  }
  sweep(t, pod_key, false);
  return out;
}
