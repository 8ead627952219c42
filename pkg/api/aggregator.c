/* API aggregation (kube-aggregator's part of kube-apiserver): a request
 * for /apis/<group>/<version>/... whose APIService names a service goes to
 * an endpoint of that service over TLS, as the front-proxy client with the
 * requester in X-Remote-User / X-Remote-Group / X-Remote-Extra-*; the
 * Available condition of those APIServices is kept by a small controller
 * that checks the service, its endpoints and the group/version's discovery
 * document (which discovery.c merges into /apis); the ConfigMap
 * kube-system/extension-apiserver-authentication tells extension servers
 * which CAs and headers to trust.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/configure-aggregation-layer/ */
#include "api/internal.h"
#include "api/object.h"
#include "api/svcresolve.h"
#include "http/dial.h"
#include "http/forward.h"
#include "http/tunnel.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/goerr.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGGR_MAX 32             /* aggregated APIServices followed */
#define TICK_SECONDS 2.0        /* how often the table is refreshed from the store */
#define PASSED_RECHECK 10.0     /* seconds between discovery checks while available */
#define CHECK_TIMEOUT 5.0       /* upstream's discovery client timeout */
#define FAILED_BACKOFF_MAX 30.0 /* a failing server is retried at 2, 4, 8 ... 30 s */
#define DISCOVERY_MAX (1 << 20)

typedef struct aggr_entry {
  struct api_aggr *owner;
  char name[320], group[256], version[64];
  char ns[64], svc[256];
  int port;
  int64_t mod_rev;        /* of the stored APIService last read */
  char *spec;             /* its spec, printed: a new one is checked at once */
  bool available;         /* the stored Available condition is True */
  bool seen;              /* found in this refresh */
  cJSON *resources;       /* the last discovery document (APIResourceList), or NULL */
  http_tls_client_t *tls; /* owned (relays hold their own references); NULL: see tls_error */
  char tls_error[200];
  char *tls_spec;           /* what tls was made from: insecure flag, service, caBundle */
  double next_check;        /* ev_now when the next check is due */
  double backoff;           /* after a failed discovery check, seconds to the next */
  int64_t svc_rev, eps_rev; /* mod_rev of the Service and Endpoints last checked */
  /* a discovery check in flight */
  http_dial_t *dial;
  int code;
  buf_t body;
  char url[512];
} aggr_entry_t;

struct api_aggr {
  api_server_t *srv;
  ev_timer timer;
  aggr_entry_t *items[AGGR_MAX];
  size_t n;
  char *proxy_cert, *proxy_key, *rh_ca, *client_ca, *allowed_name;
  int64_t cm_rev, role_rev; /* of the objects ensure_objects last found as wanted */
};

/* ---- the in-memory table ---- */

static aggr_entry_t *find_gv(struct api_aggr *a, const char *group, const char *version) {
  for (size_t i = 0; a && i < a->n; i++)
    if (!strcmp(a->items[i]->group, group) && !strcmp(a->items[i]->version, version))
      return a->items[i];
  return NULL;
}

static aggr_entry_t *find_name(struct api_aggr *a, const char *name) {
  for (size_t i = 0; i < a->n; i++)
    if (!strcmp(a->items[i]->name, name))
      return a->items[i];
  return NULL;
}

static void entry_free(aggr_entry_t *e) {
  if (e->dial)
    http_dial_close(e->dial);
  http_tls_client_free(e->tls);
  free(e->tls_spec);
  free(e->spec);
  buf_done(&e->body);
  cJSON_Delete(e->resources);
  free(e);
}

/* The TLS client for an APIService's spec: the front-proxy certificate,
 * and the service's certificate verified with caBundle for
 * <service>.<namespace>.svc unless insecureSkipTLSVerify. */
static http_tls_client_t *tls_of(struct api_aggr *a, const cJSON *spec, const char *ns,
                                 const char *svc, char *err, size_t errlen) {
  bool insecure = cJSON_IsTrue(obj_get(spec, "insecureSkipTLSVerify"));
  const char *b64 = obj_str(spec, "caBundle");
  unsigned char *ca = NULL;
  size_t ca_len = 0;
  if (!insecure && b64 && b64[0] && base64_decode(b64, strlen(b64), &ca, &ca_len) < 0) {
    snprintf(err, errlen, "spec.caBundle is not base64");
    return NULL;
  }
  char server_name[330];
  snprintf(server_name, sizeof(server_name), "%s.%s.svc", svc, ns);
  http_tls_client_t *t = NULL;
  int r;
  if (insecure)
    r = http_tls_client_new(a->proxy_cert, a->proxy_key, &t, err, errlen);
  else if (!ca_len) /* Go's TLS client then uses the system roots; k3c has none to offer */
    r = (snprintf(err, errlen, "x509: certificate signed by unknown authority"), -EINVAL);
  else
    r = http_tls_client_new_verify(a->proxy_cert, a->proxy_key, (const char *)ca, ca_len,
                                   server_name, &t, err, errlen);
  if (r < 0)
    t = NULL;
  free(ca);
  return t;
}

/* ---- service resolution (upstream's aggregator routing to endpoints) ---- */

typedef struct {
  char ip[64];
  int port;
} endpoint_t;

/* An endpoint of the entry's service, or -ENOENT with the condition's
 * reason and message (upstream's available controller's words). */
static int resolve(api_server_t *srv, const aggr_entry_t *e, endpoint_t *ret, const char **reason,
                   char *msg, size_t msglen) {
  char port[16], port_name[64];
  snprintf(port, sizeof(port), "%d", e->port);
  switch (api__service_endpoint(srv, e->ns, e->svc, port, ret->ip, sizeof(ret->ip), &ret->port,
                                port_name, sizeof(port_name))) {
  case API_SVC_OK:
    break;
  case API_SVC_NO_SERVICE:
    *reason = "ServiceNotFound";
    snprintf(msg, msglen, "service/%s in \"%s\" is not present", e->svc, e->ns);
    return -ENOENT;
  case API_SVC_NO_PORT:
    *reason = "ServicePortError";
    snprintf(msg, msglen, "service/%s in \"%s\" is not listening on port %d", e->svc, e->ns, e->port);
    return -ENOENT;
  case API_SVC_NO_ENDPOINTS:
    *reason = "EndpointsNotFound";
    snprintf(msg, msglen, "cannot find endpoints for service/%s in \"%s\"", e->svc, e->ns);
    return -ENOENT;
  case API_SVC_NO_ADDRESS:
    *reason = "MissingEndpoints";
    snprintf(msg, msglen, "endpoints for service/%s in \"%s\" have no addresses with port name \"%s\"",
             e->svc, e->ns, port_name);
    return -ENOENT;
  }
  /* an ExternalName service resolves to its name: dialled only when it is
   * an address (the loop cannot wait for a DNS lookup) */
  unsigned char addr[16];
  if (inet_pton(AF_INET, ret->ip, addr) != 1 && inet_pton(AF_INET6, ret->ip, addr) != 1) {
    *reason = "ServiceNotFound";
    snprintf(msg, msglen,
             "service/%s in \"%s\" is an ExternalName service for \"%s\": k3c follows those only when "
             "externalName is an IP address",
             e->svc, e->ns, ret->ip);
    return -ENOENT;
  }
  return 0;
}

static void url_of(const endpoint_t *ep, const char *path, char *out, size_t len) {
  bool v6 = strchr(ep->ip, ':') != NULL;
  snprintf(out, len, "https://%s%s%s:%d%.400s", v6 ? "[" : "", ep->ip, v6 ? "]" : "", ep->port, path);
}

/* ---- the Available condition ---- */

static const api_resource_t *apiservices(void) {
  return api_registry_find("apiregistration.k8s.io", "v1", "apiservices");
}

/* Write the condition if it differs from the stored one (upstream keeps
 * lastTransitionTime while the status stays). */
static void set_condition(struct api_aggr *a, aggr_entry_t *e, bool ok, const char *reason,
                          const char *message) {
  const api_resource_t *res = apiservices();
  char *key = api_resource_key(res, NULL, e->name);
  store_kv_t *kv = NULL;
  cJSON *obj = NULL;
  if (store_get_latest(a->srv->store, key, &kv) < 0 ||
      !(obj = cJSON_ParseWithLength(kv->value, kv->len)))
    goto out;
  const char *want = ok ? "True" : "False";
  cJSON *status = obj_child_object(obj, "status");
  cJSON *conds = obj_child_array(status, "conditions");
  cJSON *c = NULL, *it;
  cJSON_ArrayForEach(it, conds) {
    const char *type = obj_str(it, "type");
    if (type && !strcmp(type, "Available")) {
      c = it;
      break;
    }
  }
  const char *cs = obj_str(c, "status"), *cr = obj_str(c, "reason"), *cm = obj_str(c, "message");
  if (c && cs && cr && cm && !strcmp(cs, want) && !strcmp(cr, reason) && !strcmp(cm, message)) {
    e->available = ok;
    goto out;
  }
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  if (!c) {
    c = cJSON_CreateObject();
    cJSON_AddItemToArray(conds, c);
    obj_set_str(c, "type", "Available");
  }
  if (!cs || strcmp(cs, want)) {
    obj_set_str(c, "lastTransitionTime", now);
    log_info("api", "APIService %s: Available %s (%s): %s", e->name, want, reason, message);
  }
  obj_set_str(c, "status", want);
  obj_set_str(c, "reason", reason);
  obj_set_str(c, "message", message);
  e->available = ok;
  api__submit(a->srv, NULL, res, NULL, STORE_OP_UPDATE, key, obj, kv->mod_rev, 200,
              API_REPLY_OBJECT, false);
  key = NULL;
  obj = NULL;
out:
  cJSON_Delete(obj);
  store_kv_unref(kv);
  free(key);
}

static void check_done(aggr_entry_t *e, const char *failure) {
  struct api_aggr *a = e->owner;
  double now = ev_now(a->srv->loop);
  if (failure) {
    set_condition(a, e, false, "FailedDiscoveryCheck", failure);
    e->backoff = e->backoff ? e->backoff * 2 : TICK_SECONDS;
    if (e->backoff > FAILED_BACKOFF_MAX)
      e->backoff = FAILED_BACKOFF_MAX;
    e->next_check = now + e->backoff;
    return;
  }
  cJSON *doc = e->body.data ? cJSON_ParseWithLength(e->body.data, e->body.len) : NULL;
  if (cJSON_IsArray(obj_get(doc, "resources"))) {
    cJSON_Delete(e->resources);
    e->resources = doc;
  } else {
    cJSON_Delete(doc);
  }
  set_condition(a, e, true, "Passed", "all checks passed");
  e->backoff = 0;
  e->next_check = now + PASSED_RECHECK;
}

static void d_head(http_dial_t *d, const http_response_t *resp, const char *raw, size_t raw_len,
                   void *data) {
  aggr_entry_t *e = data;
  e->code = resp->status;
}

static void d_data(http_dial_t *d, const char *bytes, size_t len, void *data) {
  aggr_entry_t *e = data;
  buf_append(&e->body, bytes, len); /* beyond the limit the document is cut: not parsed */
}

static void d_close(http_dial_t *d, int err, void *data) {
  aggr_entry_t *e = data;
  e->dial = NULL;
  char msg[2048];
  if (err == -ETIMEDOUT) {
    snprintf(msg, sizeof(msg), "timed out waiting for %s", e->url);
  } else if ((err == -EKEYREJECTED || err == -ECONNABORTED) && !e->code) {
    /* the server's certificate is not signed by caBundle or not for
     * <service>.<namespace>.svc; or the peer does not speak TLS 1.2 */
    snprintf(msg, sizeof(msg), "failing or missing response from %s: Get \"%s\": %s", e->url,
             e->url,
             err == -EKEYREJECTED ? "tls: failed to verify certificate" : "tls: handshake failure");
  } else if (!e->code) {
    const char *path = strchr(e->url + 8, '/');
    int hl = path ? (int)(path - (e->url + 8)) : 0;
    char text[128];
    snprintf(msg, sizeof(msg), "failing or missing response from %s: Get \"%s\": dial tcp %.*s: %s",
             e->url, e->url, hl, e->url + 8, err == 0 ? "EOF" : goerr_dial(err, text, sizeof(text)));
  } else if (e->code < 200 || e->code >= 300) {
    snprintf(msg, sizeof(msg), "failing or missing response from %s: bad status from %s: %d",
             e->url, e->url, e->code);
  } else if (e->body.len == e->body.limit) {
    snprintf(msg, sizeof(msg),
             "failing or missing response from %s: discovery document over %d bytes", e->url,
             DISCOVERY_MAX);
  } else {
    check_done(e, NULL);
    return;
  }
  check_done(e, msg);
}

/* Check one aggregated APIService: service, port, endpoints, then (async)
 * a GET of its discovery document as system:kube-aggregator. */
static void check(struct api_aggr *a, aggr_entry_t *e) {
  endpoint_t ep;
  const char *reason = NULL;
  char msg[1200];
  if (resolve(a->srv, e, &ep, &reason, msg, sizeof(msg)) < 0) {
    set_condition(a, e, false, reason, msg);
    e->next_check = ev_now(a->srv->loop) + TICK_SECONDS;
    return;
  }
  char path[400];
  snprintf(path, sizeof(path), "/apis/%s/%s", e->group, e->version);
  url_of(&ep, path, e->url, sizeof(e->url));
  if (!e->tls) {
    snprintf(msg, sizeof(msg), "failing or missing response from %s: %s", e->url, e->tls_error);
    check_done(e, msg);
    return;
  }
  /* HTTP/1.0: the answer comes whole, without chunked coding, then EOF */
  char *head = xasprintf("GET %s HTTP/1.0\r\nHost: %s.%s.svc:%d\r\nAccept: application/json\r\n"
                         "User-Agent: k3c-aggregator\r\nX-Remote-User: system:kube-aggregator\r\n"
                         "X-Remote-Group: system:masters\r\n\r\n",
                         path, e->svc, e->ns, e->port);
  static const http_dial_cbs_t cbs = {.head = d_head, .data = d_data, .close = d_close};
  buf_done(&e->body);
  buf_init(&e->body, DISCOVERY_MAX);
  e->code = 0;
  int r = http_dial_start(a->srv->loop, ep.ip, ep.port, e->tls, head, strlen(head), CHECK_TIMEOUT,
                          &cbs, e, &e->dial);
  free(head);
  if (r < 0) {
    e->dial = NULL;
    snprintf(msg, sizeof(msg), "failing or missing response from %s: %s", e->url, strerror(-r));
    check_done(e, msg);
  }
}

/* Refresh the table from the stored APIServices. */
static void refresh(struct api_aggr *a) {
  const api_resource_t *res = apiservices();
  char *prefix = res ? api_resource_key(res, NULL, NULL) : NULL;
  store_list_t l = {0};
  if (!prefix || store_list(a->srv->store, &(store_list_opts_t){.prefix = prefix}, &l) < 0) {
    free(prefix);
    return;
  }
  free(prefix);
  for (size_t i = 0; i < a->n; i++)
    a->items[i]->seen = false;
  double now = ev_now(a->srv->loop);
  for (size_t i = 0; i < l.n; i++) {
    /* most are Local: without the word there is no spec.service to parse for */
    if (!memmem(l.items[i]->value, l.items[i]->len, "\"service\"", 9))
      continue;
    cJSON *obj = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
    const cJSON *spec = obj_get(obj, "spec");
    const cJSON *svc = obj_get(spec, "service");
    const char *name = obj_str(obj, "metadata.name"), *group = obj_str(spec, "group"),
               *version = obj_str(spec, "version"), *sns = obj_str(svc, "namespace"),
               *sname = obj_str(svc, "name");
    const cJSON *port = obj_get(svc, "port");
    if (!cJSON_IsObject(svc) || !name || !version || !sns || !sname) {
      cJSON_Delete(obj);
      continue;
    }
    aggr_entry_t *e = find_name(a, name);
    if (!e && a->n < AGGR_MAX) {
      e = xcalloc(1, sizeof(*e));
      e->owner = a;
      buf_init(&e->body, DISCOVERY_MAX);
      snprintf(e->name, sizeof(e->name), "%s", name);
      a->items[a->n++] = e;
    }
    if (!e) {
      cJSON_Delete(obj);
      continue;
    }
    e->seen = true;
    if (e->mod_rev != l.items[i]->mod_rev) {
      e->mod_rev = l.items[i]->mod_rev;
      snprintf(e->group, sizeof(e->group), "%s", group ? group : "");
      snprintf(e->version, sizeof(e->version), "%s", version);
      snprintf(e->ns, sizeof(e->ns), "%s", sns);
      snprintf(e->svc, sizeof(e->svc), "%s", sname);
      e->port = cJSON_IsNumber(port) ? (int)port->valuedouble : 443;
      e->available = false;
      const cJSON *c;
      cJSON_ArrayForEach(c, obj_get(obj, "status.conditions")) {
        const char *type = obj_str(c, "type"), *st = obj_str(c, "status");
        if (type && st && !strcmp(type, "Available"))
          e->available = !strcmp(st, "True");
      }
      const char *ca = obj_str(spec, "caBundle");
      char *tls_spec =
          xasprintf("%d|%s|%s|%s", cJSON_IsTrue(obj_get(spec, "insecureSkipTLSVerify")), sns, sname,
                    ca ? ca : "");
      if (!e->tls_spec || strcmp(e->tls_spec, tls_spec)) {
        e->tls_error[0] = '\0';
        http_tls_client_free(e->tls); /* relays still using it keep it alive */
        e->tls = tls_of(a, spec, sns, sname, e->tls_error, sizeof(e->tls_error));
        free(e->tls_spec);
        e->tls_spec = tls_spec;
      } else {
        free(tls_spec);
      }
      char *printed = cJSON_PrintUnformatted(spec);
      if ((!e->spec || strcmp(e->spec, printed)) && !e->dial)
        e->next_check = now; /* a changed spec is checked at once */
      free(e->spec);
      e->spec = printed;
    }
    cJSON_Delete(obj);
  }
  store_list_done(&l);
  for (size_t i = 0; i < a->n;) {
    if (a->items[i]->seen) {
      i++;
      continue;
    }
    entry_free(a->items[i]);
    a->items[i] = a->items[--a->n];
  }
}

static void ensure_objects(struct api_aggr *a, bool bootstrap);

/* The mod_rev of a stored core object, 0 when absent. */
static int64_t core_rev(api_server_t *srv, const char *resource, const char *ns, const char *name) {
  const api_resource_t *res = api_registry_find("", "v1", resource);
  char *key = res ? api_resource_key(res, ns, name) : NULL;
  store_kv_t *kv = NULL;
  int64_t rev = key && store_get(srv->store, key, 0, &kv) == 0 ? kv->mod_rev : 0;
  store_kv_unref(kv);
  free(key);
  return rev;
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  struct api_aggr *a = w->data;
  ensure_objects(a, false);
  api__apiservices_sync_crds(a->srv);
  refresh(a);
  double now = ev_now(loop);
  for (size_t i = 0; i < a->n; i++) {
    aggr_entry_t *e = a->items[i];
    if (e->dial)
      continue;
    /* a changed Service or Endpoints (the server's pod restarted) is
     * checked at once, as upstream's controller reacts to their events */
    int64_t sr = core_rev(a->srv, "services", e->ns, e->svc);
    int64_t er = core_rev(a->srv, "endpoints", e->ns, e->svc);
    if (sr != e->svc_rev || er != e->eps_rev) {
      e->svc_rev = sr;
      e->eps_rev = er;
      e->backoff = 0;
      e->next_check = now;
    }
    if (e->next_check <= now)
      check(a, e);
  }
}

/* ---- extension-apiserver-authentication ---- */

static void json_list1(buf_t *b, const char *s) {
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToArray(a, cJSON_CreateString(s));
  char *t = cJSON_PrintUnformatted(a);
  buf_append_str(b, t);
  free(t);
  cJSON_Delete(a);
}

/* What extension API servers read at start (upstream's cluster
 * authentication trust controller keeps the same ConfigMap). */
static cJSON *auth_configmap(struct api_aggr *a) {
  cJSON *cm = cJSON_CreateObject();
  cJSON_AddStringToObject(cm, "apiVersion", "v1");
  cJSON_AddStringToObject(cm, "kind", "ConfigMap");
  cJSON *md = cJSON_AddObjectToObject(cm, "metadata");
  cJSON_AddStringToObject(md, "name", "extension-apiserver-authentication");
  cJSON_AddStringToObject(md, "namespace", "kube-system");
  cJSON *data = cJSON_AddObjectToObject(cm, "data");
  if (a->client_ca)
    cJSON_AddStringToObject(data, "client-ca-file", a->client_ca);
  if (a->rh_ca) {
    buf_t b;
    buf_init(&b, 4096);
    json_list1(&b, a->allowed_name);
    cJSON_AddStringToObject(data, "requestheader-allowed-names", b.data);
    cJSON_AddStringToObject(data, "requestheader-client-ca-file", a->rh_ca);
    cJSON_AddStringToObject(data, "requestheader-extra-headers-prefix", "[\"X-Remote-Extra-\"]");
    cJSON_AddStringToObject(data, "requestheader-group-headers", "[\"X-Remote-Group\"]");
    cJSON_AddStringToObject(data, "requestheader-username-headers", "[\"X-Remote-User\"]");
    buf_done(&b);
  }
  return cm;
}

static void ensure(api_server_t *srv, const char *kind, const char *group, const char *ns,
                   cJSON *want, bool update) {
  const api_resource_t *res = api_registry_find_kind(group, kind);
  char *key = res ? api_resource_key(res, ns, obj_str(want, "metadata.name")) : NULL;
  store_kv_t *kv = NULL;
  cJSON *have = NULL;
  if (!key) {
    cJSON_Delete(want);
  } else if (store_get_latest(srv->store, key, &kv) < 0) {
    api__create(srv, NULL, res, NULL, ns, want, false);
  } else if (update && (have = cJSON_ParseWithLength(kv->value, kv->len)) &&
             !cJSON_Compare(obj_get(have, "data"), obj_get(want, "data"), true)) {
    obj_set(have, "data", cJSON_Duplicate(obj_get(want, "data"), true));
    api__submit(srv, NULL, res, NULL, STORE_OP_UPDATE, key, have, kv->mod_rev, 200,
                API_REPLY_OBJECT, false);
    key = NULL;
    have = NULL;
    cJSON_Delete(want);
  } else {
    cJSON_Delete(want);
  }
  cJSON_Delete(have);
  store_kv_unref(kv);
  free(key);
}

static int64_t stored_rev(api_server_t *srv, const char *group, const char *kind, const char *ns,
                          const char *name) {
  const api_resource_t *res = api_registry_find_kind(group, kind);
  char *key = res ? api_resource_key(res, ns, name) : NULL;
  store_kv_t *kv = NULL;
  int64_t rev = key && store_get_latest(srv->store, key, &kv) == 0 ? kv->mod_rev : 0;
  store_kv_unref(kv);
  free(key);
  return rev;
}

static void ensure_objects(struct api_aggr *a, bool bootstrap) {
  /* unchanged since they were last found right: nothing to build */
  int64_t cm_now =
      stored_rev(a->srv, "", "ConfigMap", "kube-system", "extension-apiserver-authentication");
  int64_t role_now = stored_rev(a->srv, "rbac.authorization.k8s.io", "Role", "kube-system",
                                "extension-apiserver-authentication-reader");
  if (cm_now && role_now && cm_now == a->cm_rev && role_now == a->role_rev)
    return;
  a->cm_rev = cm_now;
  a->role_rev = role_now;
  /* kube-system first (bootstrap creates it; a write to it may still be pending) */
  cJSON *ns = bootstrap ? NULL : api__load_core(a->srv, "namespaces", "", "kube-system");
  if (!bootstrap && !ns)
    return;
  cJSON_Delete(ns);
  ensure(a->srv, "ConfigMap", "", "kube-system", auth_configmap(a), true);
  cJSON *role = cJSON_Parse(
      "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":{"
      "\"name\":\"extension-apiserver-authentication-reader\",\"namespace\":\"kube-system\","
      "\"labels\":{\"kubernetes.io/bootstrapping\":\"rbac-defaults\"},\"annotations\":{"
      "\"rbac.authorization.kubernetes.io/autoupdate\":\"true\"}},\"rules\":[{\"apiGroups\":[\"\"],"
      "\"resources\":[\"configmaps\"],\"resourceNames\":[\"extension-apiserver-authentication\"],"
      "\"verbs\":[\"get\",\"list\",\"watch\"]}]}");
  ensure(a->srv, "Role", "rbac.authorization.k8s.io", "kube-system", role, false);
}

/* ---- proxying ---- */

/* An X-Remote-Extra- key as upstream escapes it: bytes that may not stand
 * in a field name, and '%', percent-encoded. */
static void extra_key(buf_t *b, const char *k) {
  static const char ok[] = "!#$&'*+-.^_`|~";
  for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr(ok, *p))
      buf_append(b, (const char *)p, 1);
    else
      buf_printf(b, "%%%02X", *p);
  }
}

/* A value may not carry CR or LF into the head. */
static bool field_safe(const char *s) {
  return !strpbrk(s, "\r\n");
}

static void respond_text(http_req_t *r, int code, const char *msg) {
  char body[600];
  int n = snprintf(body, sizeof(body), "%s\n", msg);
  http_req_add_header(r, "X-Content-Type-Options", "nosniff");
  http_respond(r, code, "text/plain; charset=utf-8", body,
               n < (int)sizeof(body) ? (size_t)n : sizeof(body) - 1);
}

/* The relay could not reach the extension server: 503 with the reason
 * (upstream's responder), and every APIService is checked again now. */
static void proxy_failed(http_req_t *r, int err, const char *msg, void *data) {
  struct api_aggr *a = data;
  for (size_t i = 0; i < a->n; i++)
    if (!a->items[i]->dial)
      a->items[i]->next_check = 0;
  respond_text(r, 503, msg);
}

bool api__aggregate(api_call_t *call) {
  struct api_aggr *a = call->srv->aggr;
  const char *path = http_req_path(call->req);
  if (!a || !a->n || strncmp(path, "/apis/", 6))
    return false;
  char group[256], version[64];
  const char *g = path + 6, *s1 = strchr(g, '/');
  if (!s1 || (size_t)(s1 - g) >= sizeof(group))
    return false;
  const char *v = s1 + 1, *s2 = strchr(v, '/');
  size_t vl = s2 ? (size_t)(s2 - v) : strlen(v);
  if (!vl || vl >= sizeof(version))
    return false;
  memcpy(group, g, (size_t)(s1 - g));
  group[s1 - g] = '\0';
  memcpy(version, v, vl);
  version[vl] = '\0';
  aggr_entry_t *e = find_gv(a, group, version);
  if (!e)
    return false;
  http_req_t *req = call->req;
  endpoint_t ep;
  const char *reason;
  char msg[600];
  if (!e->available || resolve(call->srv, e, &ep, &reason, msg, sizeof(msg)) < 0) {
    respond_text(req, 503, "service unavailable");
    return true;
  }
  if (!e->tls) {
    respond_text(req, 500, e->tls_error);
    return true;
  }
  buf_t fields, target;
  buf_init(&fields, 16 << 10);
  buf_init(&target, 64 << 10);
  const api_user_t *u = &call->user;
  bool ok = field_safe(u->name);
  buf_printf(&fields, "X-Remote-User: %s\r\n", u->name);
  for (size_t i = 0; u->groups[i]; i++) {
    ok = ok && field_safe(u->groups[i]);
    buf_printf(&fields, "X-Remote-Group: %s\r\n", u->groups[i]);
  }
  for (size_t i = 0; i < sizeof(u->extra) / sizeof(u->extra[0]) && u->extra[i].key; i++) {
    ok = ok && field_safe(u->extra[i].value);
    buf_append_str(&fields, "X-Remote-Extra-");
    extra_key(&fields, u->extra[i].key);
    buf_printf(&fields, ": %s\r\n", u->extra[i].value);
  }
  api__proxy_encode_path(&target, path);
  const char *q = http_req_raw_query(req);
  if (q[0])
    buf_printf(&target, "?%s", q);
  if (!ok || !fields.data || fields.len == fields.limit || !target.data ||
      target.len == target.limit) {
    respond_text(req, 400, "request too long for the aggregated API");
    goto out;
  }
  char host[340];
  snprintf(host, sizeof(host), "%s.%s.svc:%d", e->svc, e->ns, e->port);
  http_req_long_running(req, false);
  int r;
  if (http_req_header(req, "Upgrade")) { /* exec/attach-style streams of the extension's kinds */
    http_tunnel_opts_t o = {.host = ep.ip,
                            .port = ep.port,
                            .tls = e->tls,
                            .target = target.data,
                            .extra_fields = fields.data,
                            .fail = proxy_failed,
                            .fail_data = a};
    r = http_tunnel_start(req, call->srv->loop, &o);
  } else {
    http_forward_opts_t o = {.host = ep.ip,
                             .port = ep.port,
                             .tls = e->tls,
                             .target = target.data,
                             .host_header = host,
                             .extra_fields = fields.data,
                             .skip_prefix = "X-Remote-",
                             .fail = proxy_failed,
                             .fail_data = a};
    r = http_forward_start(req, call->srv->loop, &o);
  }
  if (r < 0)
    respond_text(req, r == -E2BIG ? 400 : 500,
                 r == -E2BIG ? "request too long for the aggregated API" : "service unavailable");
out:
  buf_done(&fields);
  buf_done(&target);
  return true;
}

/* ---- discovery ---- */

size_t api__aggregated_groups(api_server_t *srv, const char **out, size_t n, size_t max) {
  struct api_aggr *a = srv->aggr;
  for (size_t i = 0; a && i < a->n; i++) {
    const char *g = a->items[i]->group;
    bool seen = !g[0];
    for (size_t j = 0; j < n && !seen; j++)
      seen = !strcmp(out[j], g);
    if (!seen && n < max)
      out[n++] = g;
  }
  return n;
}

size_t api__aggregated_versions(api_server_t *srv, const char *group, const char **out, size_t n,
                                size_t max) {
  struct api_aggr *a = srv->aggr;
  for (size_t i = 0; a && i < a->n; i++) {
    if (strcmp(a->items[i]->group, group))
      continue;
    const char *v = a->items[i]->version;
    bool seen = false;
    for (size_t j = 0; j < n && !seen; j++)
      seen = !strcmp(out[j], v);
    if (!seen && n < max)
      out[n++] = v;
  }
  return n;
}

bool api__aggregated_resources(api_server_t *srv, const char *group, const char *version,
                               const cJSON **ret_list, bool *ret_current) {
  aggr_entry_t *e = find_gv(srv->aggr, group, version);
  if (!e)
    return false;
  *ret_list = e->resources;
  *ret_current = e->available && e->resources;
  return true;
}

const char *api__aggregator_allowed_name(api_server_t *srv) {
  return srv->aggr && srv->aggr->rh_ca ? srv->aggr->allowed_name : NULL;
}

/* ---- lifecycle ---- */

/* With the bootstrap objects (kube-system just written): the ConfigMap and
 * Role exist before the server answers, not a tick later. */
void api__aggregator_bootstrap(api_server_t *srv) {
  if (srv->aggr)
    ensure_objects(srv->aggr, true);
}

void api__aggregator_start(api_server_t *srv, const api_server_opts_t *opts) {
  struct api_aggr *a = xcalloc(1, sizeof(*a));
  a->srv = srv;
  if (opts->proxy_client_cert_pem && opts->proxy_client_key_pem) {
    a->proxy_cert = xstrdup(opts->proxy_client_cert_pem);
    a->proxy_key = xstrdup(opts->proxy_client_key_pem);
  }
  a->rh_ca = opts->requestheader_ca_pem ? xstrdup(opts->requestheader_ca_pem) : NULL;
  a->client_ca = opts->client_ca_pem ? xstrdup(opts->client_ca_pem) : NULL;
  a->allowed_name = xstrdup(opts->requestheader_allowed_name ? opts->requestheader_allowed_name
                                                             : "system:auth-proxy");
  ev_timer_init(&a->timer, tick_cb, 0.2, TICK_SECONDS);
  a->timer.data = a;
  ev_timer_start(srv->loop, &a->timer);
  ev_unref(srv->loop); /* the timer alone does not keep the loop running */
  srv->aggr = a;
}

void api__aggregator_stop(api_server_t *srv) {
  struct api_aggr *a = srv->aggr;
  if (!a)
    return;
  if (ev_is_active(&a->timer)) {
    ev_ref(srv->loop);
    ev_timer_stop(srv->loop, &a->timer);
  }
  for (size_t i = 0; i < a->n; i++)
    entry_free(a->items[i]);
  free(a->proxy_cert);
  free(a->proxy_key);
  free(a->rh_ca);
  free(a->client_ca);
  free(a->allowed_name);
  free(a);
  srv->aggr = NULL;
}
