/* The proxy subresources: nodes/proxy (to the node's kubelet API over TLS
 * with the API server's kubelet client certificate, or another port of
 * the node), services/proxy (a ready endpoint of the service's port) and
 * pods/proxy (the pod's IP). The id is upstream's [scheme:]name[:port]
 * (SplitSchemeNamePort); the rest of the path and the query go on; plain
 * requests are relayed by http/forward.h, upgrades by http/tunnel.h.
 * https://kubernetes.io/docs/tasks/access-application-cluster/access-cluster-services/ */
#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "api/svcresolve.h"
#include "http/forward.h"
#include "http/tunnel.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char scheme[8]; /* "", "http" or "https" */
  char name[256];
  char port[64];
} proxy_id_t;

/* upstream's utilnet.SplitSchemeNamePort: name, name:port or
 * scheme:name:port with scheme "", http or https and a non-empty name. */
static bool split_id(const char *id, proxy_id_t *ret) {
  const char *c1 = strchr(id, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (c2 && strchr(c2 + 1, ':'))
    return false;
  proxy_id_t p;
  memset(&p, 0, sizeof(p));
  const char *name = id, *name_end = c1 ? c1 : id + strlen(id);
  if (c2) {
    size_t sl = (size_t)(c1 - id);
    if (sl >= sizeof(p.scheme))
      return false;
    memcpy(p.scheme, id, sl);
    name = c1 + 1;
    name_end = c2;
    snprintf(p.port, sizeof(p.port), "%s", c2 + 1);
  } else if (c1) {
    snprintf(p.port, sizeof(p.port), "%s", c1 + 1);
  }
  size_t nl = (size_t)(name_end - name);
  if (!nl || nl >= sizeof(p.name))
    return false;
  memcpy(p.name, name, nl);
  if (p.scheme[0] && strcmp(p.scheme, "http") && strcmp(p.scheme, "https"))
    return false;
  *ret = p;
  return true;
}

/* The proxied path of req: what follows …/<name>/proxy ("" when nothing),
 * with the segments counted as reqinfo.c counts them. */
static const char *tail_of(const char *path, bool namespaced) {
  int skip = 2 + (namespaced ? 2 : 0) + 3; /* api v1 [namespaces ns] res name proxy */
  const char *p = path;
  for (int i = 0; i < skip; i++) {
    while (*p == '/')
      p++;
    while (*p && *p != '/')
      p++;
  }
  return p;
}

/* Percent-encode what may not stand in a path (RFC 3986 3.3). */
void api__proxy_encode_path(buf_t *b, const char *s) {
  static const char ok[] = "-._~!$&'()*+,;=:@/";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr(ok, *p))
      buf_append(b, (const char *)p, 1);
    else
      buf_printf(b, "%%%02X", *p);
  }
}

static void proxy_failed(http_req_t *r, int err, const char *msg, void *data) {
  api_status_t st;
  api_status_init(&st, 500, "", "%s", msg);
  api__respond_status(r, &st);
}

/* The TLS client for a next hop: the kubelet one (with the API server's
 * kubelet client certificate) or the one without a certificate that
 * https services and pods get. NULL with st on failure. */
static http_tls_client_t *tls_for(api_server_t *srv, bool kubelet, api_status_t *st) {
  http_tls_client_t **slot = kubelet ? &srv->kubelet_tls : &srv->proxy_tls;
  if (*slot)
    return *slot;
  if (kubelet && !srv->kubelet_cert_pem) {
    api_status_init(st, 503, "ServiceUnavailable",
                    "the API server has no kubelet client "
                    "certificate");
    return NULL;
  }
  char err[256];
  if (http_tls_client_new(kubelet ? srv->kubelet_cert_pem : NULL,
                          kubelet ? srv->kubelet_key_pem : NULL, slot, err, sizeof(err)) < 0) {
    api_status_init(st, 500, "", "proxy client: %s", err);
    return NULL;
  }
  return *slot;
}

typedef struct {
  char host[64]; /* an address literal */
  int port;
  bool https;
  bool kubelet; /* the kubelet's port: present the kubelet client certificate */
} proxy_loc_t;

static int node_location(api_call_t *call, const proxy_id_t *id, proxy_loc_t *loc,
                         api_status_t *st) {
  cJSON *node = api__load_core(call->srv, "nodes", "", id->name);
  int ret = -EINVAL;
  if (!node) {
    api_status_not_found(st, "", "nodes", id->name);
    goto out;
  }
  const cJSON *kport = obj_get(node, "status.daemonEndpoints.kubeletEndpoint.Port");
  const char *addr = api__node_address(node);
  if (!addr) {
    api_status_init(st, 500, "", "node %s has no address", id->name);
    goto out;
  }
  snprintf(loc->host, sizeof(loc->host), "%s", addr);
  int kp = cJSON_IsNumber(kport) ? (int)kport->valuedouble : 0;
  int want = id->port[0] ? api__port_number(id->port) : kp;
  if (!want) {
    api_status_init(st, 500, "",
                    id->port[0] ? "invalid port %s for node %s"
                                : "node %s has no kubelet endpoint (address and port)",
                    id->port[0] ? id->port : id->name, id->name);
    goto out;
  }
  loc->port = want;
  if (want == kp) { /* the kubelet: https with the API server's client certificate */
    loc->https = true;
    loc->kubelet = true;
  } else {
    loc->https = !strcmp(id->scheme, "https");
  }
  ret = 0;
out:
  cJSON_Delete(node);
  return ret;
}

static int pod_ip(const cJSON *pod, char *out, size_t len) {
  const char *ip = obj_str(pod, "status.podIP");
  if (!ip || !ip[0])
    ip = obj_str(cJSON_GetArrayItem(obj_get(pod, "status.podIPs"), 0), "ip");
  if (!ip || !ip[0])
    return -ENOENT;
  snprintf(out, len, "%s", ip);
  return 0;
}

static int pod_location(api_call_t *call, const proxy_id_t *id, proxy_loc_t *loc,
                        api_status_t *st) {
  cJSON *pod = api__load_core(call->srv, "pods", call->ri.ns, id->name);
  int ret = -EINVAL;
  if (!pod) {
    api_status_not_found(st, "", "pods", id->name);
    goto out;
  }
  char port[64];
  snprintf(port, sizeof(port), "%s", id->port);
  if (!port[0]) { /* the first declared port of the first container declaring one */
    const cJSON *c;
    cJSON_ArrayForEach(c, obj_get(pod, "spec.containers")) {
      const cJSON *p0 = cJSON_GetArrayItem(obj_get(c, "ports"), 0);
      const cJSON *cp = p0 ? cJSON_GetObjectItem(p0, "containerPort") : NULL;
      if (cJSON_IsNumber(cp)) {
        snprintf(port, sizeof(port), "%d", (int)cp->valuedouble);
        break;
      }
    }
  }
  if (pod_ip(pod, loc->host, sizeof(loc->host)) < 0) {
    api_status_bad_request(st, "address not allowed"); /* upstream's IsProxyableIP("") */
    goto out;
  }
  loc->port = port[0] ? api__port_number(port) : 80;
  if (!loc->port) {
    api_status_init(st, 500, "", "error trying to reach service: dial tcp %s:%s: unknown port",
                    loc->host, port);
    goto out;
  }
  loc->https = !strcmp(id->scheme, "https");
  ret = 0;
out:
  cJSON_Delete(pod);
  return ret;
}

static int service_location(api_call_t *call, const proxy_id_t *id, proxy_loc_t *loc,
                            api_status_t *st) {
  if (api__service_resolve(call->srv, call->ri.ns, id->name, id->port, loc->host, sizeof(loc->host),
                           &loc->port, st) < 0)
    return -EINVAL;
  loc->https = !strcmp(id->scheme, "https");
  return 0;
}

bool api__proxy(api_call_t *call) {
  const char *resource = call->ri.resource;
  if (call->ri.group[0] || strcmp(call->ri.subresource, "proxy") ||
      (strcmp(resource, "nodes") && strcmp(resource, "services") && strcmp(resource, "pods")))
    return false;
  http_req_t *req = call->req;
  api_status_t st;
  memset(&st, 0, sizeof(st));
  buf_t target;
  buf_init(&target, 64 << 10);
  const char *verb = call->ri.verb;
  if (strcmp(verb, "get") && strcmp(verb, "create") && strcmp(verb, "update") &&
      strcmp(verb, "patch") && strcmp(verb, "delete")) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    goto fail;
  }
  bool is_node = !strcmp(resource, "nodes"), is_svc = !strcmp(resource, "services");
  proxy_id_t id;
  if (!split_id(call->ri.name, &id)) {
    api_status_bad_request(&st, "invalid %s request \"%s\"",
                           is_node  ? "node"
                           : is_svc ? "service"
                                    : "pod",
                           call->ri.name);
    goto fail;
  }
  proxy_loc_t loc;
  memset(&loc, 0, sizeof(loc));
  int e = is_node  ? node_location(call, &id, &loc, &st)
          : is_svc ? service_location(call, &id, &loc, &st)
                   : pod_location(call, &id, &loc, &st);
  if (e < 0)
    goto fail;
  const char *tail = tail_of(http_req_path(req), call->ri.ns[0] != '\0');
  const char *raw_query = http_req_raw_query(req);
  if (!tail[0]) {
    /* upstream redirects an empty path to one ending in '/' (issue 4958) */
    buf_t to;
    buf_init(&to, 64 << 10);
    api__proxy_encode_path(&to, http_req_path(req));
    buf_printf(&to, "/%s%s", raw_query[0] ? "?" : "", raw_query);
    http_req_add_header(req, "Location", to.data ? to.data : "/");
    http_respond(req, 301, "text/plain; charset=utf-8", "", 0);
    buf_done(&to);
    goto out;
  }
  api__proxy_encode_path(&target, tail);
  if (raw_query[0])
    buf_printf(&target, "?%s", raw_query);
  if (!target.data || target.len == target.limit) {
    api_status_bad_request(&st, "proxy path too long");
    goto fail;
  }
  http_tls_client_t *tls = loc.https ? tls_for(call->srv, loc.kubelet, &st) : NULL;
  if (loc.https && !tls)
    goto fail;
  http_req_long_running(req, false);
  if (http_req_header(req, "Upgrade")) {
    http_tunnel_opts_t o = {.host = loc.host,
                            .port = loc.port,
                            .tls = tls,
                            .target = target.data,
                            .fail = proxy_failed};
    e = http_tunnel_start(req, call->srv->loop, &o);
  } else {
    http_forward_opts_t o = {.host = loc.host,
                             .port = loc.port,
                             .tls = tls,
                             .target = target.data,
                             .fail = proxy_failed};
    e = http_forward_start(req, call->srv->loop, &o);
  }
  if (e == -EINVAL) {
    api_status_init(&st, 500, "",
                    "error trying to reach service: address %s is not an IP "
                    "address",
                    loc.host);
    goto fail;
  }
  if (e < 0) {
    api_status_bad_request(&st, "proxy request too long");
    goto fail;
  }
  goto out;
fail:
  api__respond_status(req, &st);
out:
  buf_done(&target);
  return true;
}
