/* API server entry: routing of every HTTP request (health, version,
 * discovery, OpenAPI, resources), response helpers and cluster bootstrap.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/ */
#include "api/api.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/crd.h"
#include "api/internal.h"
#include "api/openapi_internal.h"
#include "api/audit.h"
#include "api/promstats.h"
#include "api/object.h"
#include "api/review.h"
#include "api/webhook.h"
#include "http/dial.h"
#include "http/url.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/offload.h"
#include "version.h"

int api_server_new(struct ev_loop *loop, store_t *store, const api_server_opts_t *opts,
                   api_server_t **ret_srv, char *err, size_t errlen) {
  api_registry_init();
  api_server_t *srv = xcalloc(1, sizeof(*srv));
  srv->loop = loop;
  srv->store = store;
  srv->service_cidr = xstrdup(opts->service_cidr ? opts->service_cidr : "10.43.0.0/16");
  srv->advertise_ip = xstrdup(opts->advertise_ip ? opts->advertise_ip : "127.0.0.1");
  srv->cluster_dns = opts->cluster_dns && opts->cluster_dns[0] ? xstrdup(opts->cluster_dns) : NULL;
  srv->advertise_port = opts->advertise_port ? opts->advertise_port : 6443;
  srv->anonymous_auth = opts->anonymous_auth;
  srv->node_port_min = opts->node_port_min ? opts->node_port_min : 30000;
  srv->node_port_max = opts->node_port_max ? opts->node_port_max : 32767;
  srv->not_ready_toleration_seconds =
      opts->not_ready_toleration_seconds > 0 ? opts->not_ready_toleration_seconds : 300;
  srv->unreachable_toleration_seconds =
      opts->unreachable_toleration_seconds > 0 ? opts->unreachable_toleration_seconds : 300;
  if (opts->kubelet_client_cert_pem && opts->kubelet_client_key_pem) {
    srv->kubelet_cert_pem = xstrdup(opts->kubelet_client_cert_pem);
    srv->kubelet_key_pem = xstrdup(opts->kubelet_client_key_pem);
  }
  ev_timer_init(&srv->reconcile, NULL, 0, 0);
  int r = api__ipalloc_new(srv, err, errlen);
  if (r == 0)
    r = api__satoken_init(srv, opts, err, errlen);
  if (r == 0 && opts->token_auth_file)
    r = api__tokens_load(srv, opts->token_auth_file, err, errlen);
  if (r < 0) {
    api_server_free(srv);
    return r;
  }
  api__ipalloc_load(srv);
  if ((r = api__crd_start(srv, err, errlen)) < 0) {
    api_server_free(srv);
    return r;
  }
  srv->prom = api__promstats_new();
  if (opts->audit && opts->audit->path && opts->audit->path[0] &&
      (r = api__audit_new(opts->audit, &srv->audit, err, errlen)) < 0) {
    api_server_free(srv);
    return r;
  }
  api_server_route(srv, "/metrics", api__promstats_serve, srv);
  api__aggregator_start(srv, opts);
  if ((r = api__rbac_start(srv)) < 0) {
    snprintf(err, errlen, "watching RBAC objects: %s", strerror(-r));
    api_server_free(srv);
    return r;
  }
  *ret_srv = srv;
  return 0;
}

void api_server_free(api_server_t *srv) {
  if (!srv)
    return;
  if (ev_is_active(&srv->reconcile)) {
    ev_ref(srv->loop); /* balance the ev_unref of api_server_bootstrap */
    ev_timer_stop(srv->loop, &srv->reconcile);
  }
  api__watches_stop_all(srv);
  api__aggregator_stop(srv);
  api__metrics_free(srv);
  api__promstats_detach(srv);
  api__promstats_free(srv->prom);
  api__audit_free(srv->audit); /* after every request is freed: the HTTP server stops first */
  api__crd_stop(srv);
  api__rbac_stop(srv);
  api__tokens_free(srv);
  api__satoken_done(srv);
  api__ipalloc_free(srv);
  free(srv->service_cidr);
  free(srv->kubelet_cert_pem);
  free(srv->kubelet_key_pem);
  http_tls_client_free(srv->kubelet_tls);
  http_tls_client_free(srv->proxy_tls);
  free(srv->advertise_ip);
  free(srv->cluster_dns);
  free(srv);
}

/* ---- responses ---- */

void api__respond_json(http_req_t *req, int code, const char *ctype, char *body, size_t len) {
  body = xrealloc(body, len + 2);
  body[len] = '\n';
  body[len + 1] = '\0';
  http_respond_take(req, code, ctype, body, len + 1);
}

void api__respond_status(http_req_t *req, api_status_t *st) {
  size_t len;
  char *body = api_status_json(st, &len);
  api__audit_response_json(api__request_audit(req), st->code, body, len);
  if (st->code == 401)
    http_req_add_header(req, "WWW-Authenticate", "Basic realm=\"kubernetes-master\"");
  api__respond_json(req, st->code, "application/json", body, len);
  api_status_done(st);
}

void api__respond_obj(http_req_t *req, int code, cJSON *obj) {
  char *body = cJSON_PrintUnformatted(obj);
  cJSON_Delete(obj);
  api__audit_response_json(api__request_audit(req), code, body, strlen(body));
  if (api__respond_yaml(req, code, body, strlen(body)))
    free(body);
  else
    api__respond_json(req, code, "application/json", body, strlen(body));
}

void api__respond_bytes(http_req_t *req, int code, const char *json, size_t len) {
  api__audit_response_json(api__request_audit(req), code, json, len);
  if (api__respond_yaml(req, code, json, len))
    return;
  char *body = xmalloc(len + 1);
  memcpy(body, json, len);
  api__respond_json(req, code, "application/json", body, len);
}

bool api__wants_table(http_req_t *req) {
  const char *accept = http_req_header(req, "Accept");
  return accept && strstr(accept, "as=Table") && strstr(accept, "g=meta.k8s.io");
}

bool api__query_bool(http_req_t *req, const char *name) {
  /* runtime.Convert_Slice_string_To_bool: only absent, "0" and "false"
   * (any case) are false; "" ("?watch") and any other value are true. */
  const char *v = http_req_query(req, name);
  return v && strcmp(v, "0") && strcasecmp(v, "false");
}

/* ---- non-resource endpoints ---- */

static void serve_version(http_req_t *req) {
  char *body = xasprintf("{\"major\":\"%s\",\"minor\":\"%s\",\"gitVersion\":\"%s\","
                         "\"gitCommit\":\"%s\",\"gitTreeState\":\"clean\","
                         "\"buildDate\":\"%s\",\"goVersion\":\"n/a (C)\",\"compiler\":\"gcc\","
                         "\"platform\":\"linux/%s\"}",
                         K3C_KUBE_MAJOR, K3C_KUBE_MINOR, K3C_VERSION, K3C_GIT_COMMIT,
                         "1970-01-01T00:00:00Z",
#if defined(__x86_64__)
                         "amd64"
#elif defined(__aarch64__)
                         "arm64"
#elif defined(__arm__)
                         "arm"
#else
                         "unknown"
#endif
  );
  http_respond_take(req, 200, "application/json", body, strlen(body));
}

static bool is_health(const char *path) {
  static const char *const roots[] = {"/healthz", "/livez", "/readyz"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(roots[i]);
    if (!strncmp(path, roots[i], n) && (path[n] == '\0' || path[n] == '/'))
      return true;
  }
  return false;
}

/* The served rows (built-in and custom) as the OpenAPI builders take them. */
static const schema_resource_t **served_rows(size_t *ret_n) {
  size_t n = 0, total = api_registry_count();
  const schema_resource_t **v = xcalloc(total ? total : 1, sizeof(*v));
  for (size_t i = 0; i < total; i++) {
    const api_resource_t *r = api_registry_at(i);
    if (r)
      v[n++] = r->s;
  }
  *ret_n = n;
  return v;
}

static char *openapi_gv(const char *group, const char *version, size_t *ret_len) {
  size_t n;
  const schema_resource_t **rows = served_rows(&n);
  cJSON *doc = schema__openapi_gv_doc(rows, n, group, version);
  free(rows);
  if (!doc)
    return NULL;
  char *s = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  *ret_len = strlen(s);
  return s;
}

/* /openapi/v2 is published empty: kubectl reads the v3 documents, and
 * only falls back to v2 for kinds v3 does not have; finding nothing there
 * it skips client-side validation and reports the unknown kind itself
 * ("no matches for kind ... in version ..."), as against upstream. */
static void serve_openapi_v2(http_req_t *req) {
  const char *accept = http_req_header(req, "Accept");
  if (accept && strstr(accept, "protobuf")) {
    /* gnostic openapi_v2.Document {1 swagger, 2 info {1 title, 2 version}} */
    static const char doc[] = "\x0a\x03" "2.0"
                              "\x12\x15"
                              "\x0a\x0a" "Kubernetes"
                              "\x12\x07" "v1.32.4";
    http_respond(req, 200, "application/octet-stream", doc,
                 sizeof(doc) - 1);
    return;
  }
  static const char json[] =
      "{\"swagger\":\"2.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\"v1.32.4\"},"
      "\"paths\":{},\"definitions\":{}}";
  http_respond(req, 200, "application/json", json, sizeof(json) - 1);
}

static void serve_openapi(http_req_t *req, const char *path) {
  size_t len = 0;
  char *doc = NULL;
  api_status_t st;
  if (!strcmp(path, "/openapi/v2") || !strcmp(path, "/openapi/v2/")) {
    serve_openapi_v2(req);
    return;
  }
  if (!strcmp(path, "/openapi/v3") || !strcmp(path, "/openapi/v3/")) {
    size_t n;
    const schema_resource_t **rows = served_rows(&n);
    doc = schema__openapi_root(rows, n, &len);
    free(rows);
  } else if (!strncmp(path, "/openapi/v3/api/", 16)) {
    doc = openapi_gv("", path + 16, &len);
  } else if (!strncmp(path, "/openapi/v3/apis/", 17)) {
    char group[128];
    const char *gv = path + 17;
    const char *slash = strchr(gv, '/');
    if (slash && (size_t)(slash - gv) < sizeof(group)) {
      memcpy(group, gv, (size_t)(slash - gv));
      group[slash - gv] = '\0';
      doc = openapi_gv(group, slash + 1, &len);
    }
  }
  if (!doc) {
    /* kubectl tolerates a missing /openapi/v2 and uses v3. */
    api_status_not_found(&st, "", "", "");
    snprintf(st.message, sizeof(st.message), "the server could not find the requested resource");
    api__respond_status(req, &st);
    return;
  }
  http_respond_take(req, 200, "application/json", doc, len);
}

/* Version, health, discovery and OpenAPI documents are read-only: upstream
 * serves them from GET routes, and go-restful's answer to another method
 * becomes this Status through the apiserver's ServiceErrorHandler. The
 * health endpoints (plain handlers upstream, limited to get by RBAC for
 * anonymous users) answer the same here, for everyone. */
static bool nonresource_method_ok(http_req_t *req, const char *method) {
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
    return true;
  api_status_t st;
  api_status_init(&st, 405, "MethodNotAllowed",
                  "the server does not allow this method on the requested resource");
  http_req_add_header(req, "Allow", "GET, HEAD");
  api__respond_status(req, &st);
  return false;
}

/* A path this server answers outside the resource tree (may be 404 below). */
static bool is_nonresource(const char *path) {
  static const char *const roots[] = {"/api", "/apis", "/openapi", "/version"};
  for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
    size_t n = strlen(roots[i]);
    if (!strncmp(path, roots[i], n) && (path[n] == '\0' || path[n] == '/'))
      return true;
  }
  return is_health(path);
}

int api_server_route(api_server_t *srv, const char *prefix, api_route_cb cb, void *data) {
  if (srv->n_routes == sizeof(srv->routes) / sizeof(srv->routes[0]))
    return -ENOSPC;
  if (strlen(prefix) >= sizeof(srv->routes[0].prefix))
    return -EINVAL;
  snprintf(srv->routes[srv->n_routes].prefix, sizeof(srv->routes[0].prefix), "%s", prefix);
  srv->routes[srv->n_routes].cb = cb;
  srv->routes[srv->n_routes].data = data;
  srv->n_routes++;
  return 0;
}

/* A write while webhook configurations exist runs on the offload worker,
 * whose webhook calls release the loop lock (webhook.h). */
static bool is_write(const char *verb) {
  return !strcmp(verb, "create") || !strcmp(verb, "update") || !strcmp(verb, "patch") ||
         !strcmp(verb, "delete");
}

static void rest_task(void *data) {
  api_call_t *call = data;
  api__rest(call);
  api__user_free(call->requester);
  api__user_done(&call->user);
  free(call);
}

void api_server_handle(http_req_t *req, void *data) {
  api_server_t *srv = data;
  const char *path = http_req_path(req);
  const char *method = http_req_method(req);
  api_status_t st;
  char qerr[256];

  /* Refuse the whole request when any parameter does not decode: serving
   * it with parameters dropped turned a selected DELETE into "delete all"
   * and a dry run into a real write. */
  if (http_query_check(http_req_raw_query(req), qerr, sizeof(qerr)) < 0) {
    api_status_bad_request(&st, "%s", qerr);
    api__respond_status(req, &st);
    return;
  }
  if (!strcmp(path, "/version") || !strcmp(path, "/version/") || is_health(path)) {
    if (!nonresource_method_ok(req, method))
      return;
  }
  if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
    serve_version(req);
    return;
  }
  if (api__health(req, path))
    return;
  api_call_t call;
  memset(&call, 0, sizeof(call));
  call.srv = srv;
  call.req = req;
  char why[512] = "";
  if (!api__authenticate(srv, req, &call.user, why, sizeof(why))) {
    /* The client hears only "Unauthorized"; the reason is for the operator
     * (kube-apiserver logs it too, at a verbose level). */
    const char *cert_error = http_req_client_cert_error(req);
    if (cert_error) {
      /* A certificate from another CA or for another use is an operator's
       * mistake worth a clear answer: the message says which. */
      char msg[300];
      snprintf(msg, sizeof(msg), "Unauthorized: %s", cert_error);
      log_info("api", "%s from %s", cert_error, http_req_remote_addr(req));
      api_status_init(&st, 401, "Unauthorized", "%s", msg);
    } else {
      if (why[0])
        log_debug("api", "bearer token refused: %s", why);
      api_status_init(&st, 401, "Unauthorized", "Unauthorized");
    }
    api__respond_status(req, &st);
    return;
  }
  /* the audit log names the requester as user and the impersonated one
   * as impersonatedUser */
  if (http_req_header(req, "Impersonate-User") || http_req_header(req, "Impersonate-Group") ||
      http_req_header(req, "Impersonate-Uid"))
    call.requester = api__user_dup(&call.user);
  if (api__impersonate(srv, req, &call.user, &st) < 0) {
    api__respond_status(req, &st);
    goto out;
  }
  bool masters = false;
  for (size_t i = 0; call.user.groups[i]; i++)
    masters = masters || !strcmp(call.user.groups[i], "system:masters");
  /* An anonymous user stays in the small anonymous connection pool. */
  bool anonymous = !strcmp(call.user.name, "system:anonymous") && !call.user.groups[1] &&
                   call.user.groups[0] && !strcmp(call.user.groups[0], "system:unauthenticated");
  if (http_req_set_user(req, anonymous ? NULL : call.user.name, masters) < 0) {
    http_respond_too_many(req);
    goto out;
  }
  /* OIDC discovery: for every authenticated client, outside RBAC (upstream
   * grants it to all service accounts, k3c to everyone who has logged in). */
  if (api__satoken_discovery(srv, req, path))
    goto out;
  bool watch = api__query_bool(req, "watch");
  if (api_reqinfo_parse(method, path, watch, &call.ri) < 0) {
    api_status_not_found(&st, "", "", "");
    snprintf(st.message, sizeof(st.message), "the server could not find the requested resource");
    api__respond_status(req, &st);
    goto out;
  }
  /* the user rides on the request for escalation checks; /metrics counts it */
  api__promstats_begin(srv, req, &call.user, call.requester, &call.ri, method);
  int node_decision = api__node_authorize(srv, &call.user, &call.ri, req, &st);
  if (node_decision < 0 ||
      (node_decision == 0 && !api__authorize(srv, &call.user, &call.ri, method, path, &st))) {
    api__audit_decision(api__request_audit(req), false, st.message);
    api__respond_status(req, &st);
    goto out;
  }
  api__audit_decision(api__request_audit(req), true,
                      node_decision > 0 ? "Node: allowed"
                      : masters         ? "RBAC: allowed (group system:masters)"
                                        : "RBAC: allowed");
  if (!call.ri.is_resource && is_nonresource(path) && !nonresource_method_ok(req, method))
    goto out;
  if (api__aggregate(&call))
    goto out;
  if (!strncmp(path, "/openapi/", 9)) {
    serve_openapi(req, path);
    goto out;
  }
  for (size_t i = 0; !call.ri.is_resource && i < srv->n_routes; i++)
    if (!strncmp(path, srv->routes[i].prefix, strlen(srv->routes[i].prefix)) &&
        srv->routes[i].cb(req, path, srv->routes[i].data))
      goto out;
  if (!call.ri.is_resource) {
    if (!api__discovery(srv, req)) {
      api_status_not_found(&st, "", "", "");
      snprintf(st.message, sizeof(st.message), "the server could not find the requested resource");
      api__respond_status(req, &st);
    }
    goto out;
  }
  if (api__review(&call))
    goto out;
  call.view = api_registry_find(call.ri.group, call.ri.version, call.ri.resource);
  call.res = call.view ? call.view->storage : NULL;
  if (!call.res) {
    api_status_not_found(&st, "", "", "");
    snprintf(st.message, sizeof(st.message), "the server could not find the requested resource");
    api__respond_status(req, &st);
    goto out;
  }
  api__crd_warn(req, call.view);
  call.want_table = api__wants_table(req);
  if (api__action(&call) || api__pod_log(&call) || api__metrics(&call) ||
      api__pod_stream(&call) || api__proxy(&call))
    goto out;
  if (api__params_check(&call, &st) < 0) {
    api__respond_status(req, &st);
    goto out;
  }
  /* watches of such views stay on the loop: their events are converted
   * on the worker, in order (watch.c) */
  bool by_webhook = api__converts_by_webhook(call.view) && strcmp(call.ri.verb, "watch");
  /* admission webhooks and conversion webhooks are called with the loop
   * lock released, from the offload pool: a slow webhook holds up only the
   * requests that wait for it */
  if (!offload_in_task() &&
      (by_webhook || (is_write(call.ri.verb) && api__webhooks_any(srv) &&
                      api__webhooks_may_match(srv, call.res, call.ri.subresource, call.ri.verb,
                                              call.ri.ns)))) {
    api_call_t *task = xmalloc(sizeof(*task));
    *task = call;
    memset(&call.user, 0, sizeof(call.user)); /* the task owns them now */
    call.requester = NULL;
    offload_submit_any(rest_task, task);
    goto out;
  }
  if (!strcmp(call.ri.verb, "watch"))
    api__watch(&call);
  else
    api__rest(&call);
out:
  api__user_free(call.requester);
  api__user_done(&call.user);
}

/* ---- bootstrap ---- */

static void bootstrap_create(api_server_t *srv, const char *group, const char *kind,
                             const char *ns, const char *json) {
  const api_resource_t *res = api_registry_find_kind(group, kind);
  cJSON *obj = cJSON_Parse(json);
  if (!res || !obj) {
    log_error("api", "bootstrap: cannot build %s %s", kind, json);
    cJSON_Delete(obj);
    return;
  }
  char *key = api_resource_key(res, ns, obj_str(obj, "metadata.name"));
  store_kv_t *kv = NULL;
  if (store_get_latest(srv->store, key, &kv) == 0) {
    store_kv_unref(kv);
    cJSON_Delete(obj);
  } else {
    api__create(srv, NULL, res, NULL, ns, obj, false);
  }
  free(key);
}

/* The kubernetes Service, its Endpoints and EndpointSlice in default, as
 * upstream's apiserver keeps them: created when missing. */
static void bootstrap_kubernetes_service(api_server_t *srv) {
  char first_ip[64];
  snprintf(first_ip, sizeof(first_ip), "%s", srv->service_cidr);
  char *slash = strchr(first_ip, '/');
  if (slash)
    *slash = '\0';
  char *last = strrchr(first_ip, '.');
  if (last)
    snprintf(last, sizeof(first_ip) - (size_t)(last - first_ip), ".1");
  char *svc = xasprintf(
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"kubernetes\","
      "\"namespace\":\"default\",\"labels\":{\"component\":\"apiserver\",\"provider\":"
      "\"kubernetes\"}},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"%s\",\"ports\":[{"
      "\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":%d}]}}",
      first_ip, srv->advertise_port);
  bootstrap_create(srv, "", "Service", "default", svc);
  free(svc);
  char *ep = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":"
                       "\"kubernetes\",\"namespace\":\"default\",\"labels\":{"
                       "\"endpointslice.kubernetes.io/skip-mirror\":\"true\"}},\"subsets\":[{"
                       "\"addresses\":[{\"ip\":\"%s\"}],\"ports\":[{\"name\":\"https\","
                       "\"port\":%d,\"protocol\":\"TCP\"}]}]}",
                       srv->advertise_ip, srv->advertise_port);
  bootstrap_create(srv, "", "Endpoints", "default", ep);
  free(ep);
  /* and its EndpointSlice (upstream's apiserver writes both): the service
   * proxy reads slices, so pods reach kubernetes.default.svc; not for a
   * loopback address (no pod reaches the node's, and slices refuse it) */
  if (!strncmp(srv->advertise_ip, "127.", 4) || !strcmp(srv->advertise_ip, "::1"))
    return;
  char *slice = xasprintf(
      "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
      "\"name\":\"kubernetes\",\"namespace\":\"default\",\"labels\":{"
      "\"kubernetes.io/service-name\":\"kubernetes\"}},\"addressType\":\"%s\",\"endpoints\":[{"
      "\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true}}],\"ports\":[{\"name\":\"https\","
      "\"port\":%d,\"protocol\":\"TCP\"}]}",
      strchr(srv->advertise_ip, ':') ? "IPv6" : "IPv4", srv->advertise_ip, srv->advertise_port);
  bootstrap_create(srv, "discovery.k8s.io", "EndpointSlice", "default", slice);
  free(slice);
}

/* kube-system/kube-dns as k3s's CoreDNS manifest has it (ports, labels,
 * the ClusterIP --cluster-dns; not its prometheus.io annotations: nothing
 * serves 9153 yet), but without a selector: no pod serves
 * it, every node's agent answers on that address itself (pkg/net/dns.h),
 * and the annotation tells the service proxy to leave it alone. */
static void bootstrap_dns_service(api_server_t *srv) {
  if (!srv->cluster_dns)
    return;
  char *svc = xasprintf(
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"kube-dns\","
      "\"namespace\":\"kube-system\",\"labels\":{\"k8s-app\":\"kube-dns\","
      "\"kubernetes.io/cluster-service\":\"true\",\"kubernetes.io/name\":\"k3c-dns\"},"
      "\"annotations\":{\"k3c.io/node-local\":\"true\"}},\"spec\":{\"type\":\"ClusterIP\","
      "\"clusterIP\":\"%s\",\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\","
      "\"targetPort\":53},{\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\","
      "\"targetPort\":53},{\"name\":\"metrics\",\"port\":9153,\"protocol\":\"TCP\","
      "\"targetPort\":9153}]}}",
      srv->cluster_dns);
  bootstrap_create(srv, "", "Service", "kube-system", svc);
  free(svc);
}

static void bootstrap_namespaces(api_server_t *srv) {
  static const char *const namespaces[] = {"default", "kube-system", "kube-public",
                                           "kube-node-lease"};
  for (size_t i = 0; i < 4; i++) {
    char *json = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                           "\"metadata\":{\"name\":\"%s\"}}",
                           namespaces[i]);
    bootstrap_create(srv, "", "Namespace", NULL, json);
    free(json);
  }
}

/* The system PriorityClasses, as upstream's scheduling post-start hook
 * keeps them. */
static void bootstrap_priority_classes(api_server_t *srv) {
  static const struct {
    const char *name;
    long value;
    const char *description;
  } classes[] = {{"system-node-critical", 2000001000,
                  "Used for system critical pods that must not be moved from their current node."},
                 {"system-cluster-critical", 2000000000,
                  "Used for system critical pods that must run in the cluster, but can be moved "
                  "to another node if necessary."}};
  for (size_t i = 0; i < 2; i++) {
    char *json = xasprintf("{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
                           "\"metadata\":{\"name\":\"%s\"},\"value\":%ld,\"description\":\"%s\"}",
                           classes[i].name, classes[i].value, classes[i].description);
    bootstrap_create(srv, "scheduling.k8s.io", "PriorityClass", NULL, json);
    free(json);
  }
}

/* Whether namespace default is stored and not being deleted. */
static bool default_namespace_ready(api_server_t *srv) {
  char *key = api_resource_key(api_registry_find_kind("", "Namespace"), NULL, "default");
  store_kv_t *kv = NULL;
  int r = store_get_latest(srv->store, key, &kv);
  free(key);
  if (r < 0)
    return false;
  bool ready = !strstr(kv->value, "\"deletionTimestamp\"");
  store_kv_unref(kv);
  return ready;
}

/* Every 10 s, as upstream's apiserver does for its system namespaces and
 * the kubernetes Service: a few in-memory reads when nothing is missing.
 * A namespace re-created now is stored later (group commit): the Service
 * follows on the next tick. */
static void reconcile_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  api_server_t *srv = (api_server_t *)((char *)w - offsetof(api_server_t, reconcile));
  bootstrap_namespaces(srv);
  bootstrap_priority_classes(srv);
  if (default_namespace_ready(srv))
    bootstrap_kubernetes_service(srv);
  bootstrap_dns_service(srv);
}

void api_server_bootstrap(api_server_t *srv) {
  api__rbac_bootstrap(srv);
  bootstrap_namespaces(srv);
  bootstrap_priority_classes(srv);
  bootstrap_kubernetes_service(srv);
  bootstrap_dns_service(srv);
  api__apiservices_bootstrap(srv);
  api__aggregator_bootstrap(srv);
  if (!ev_is_active(&srv->reconcile)) {
    ev_timer_init(&srv->reconcile, reconcile_cb, 10., 10.);
    ev_timer_start(srv->loop, &srv->reconcile);
    ev_unref(srv->loop); /* the timer alone does not keep the loop running */
  }
}
