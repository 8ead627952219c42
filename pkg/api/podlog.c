/* The pods/log subresource: the API server finds the pod's node, reads its
 * kubelet endpoint (status.daemonEndpoints.kubeletEndpoint.Port and an
 * address, InternalIP first) and streams the kubelet's containerLogs
 * answer through, with upstream's errors for an ambiguous or unknown
 * container. https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#read-log-of-the-specified-pod */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "client/client.h"
#include "util/alloc.h"
#include "util/buf.h"

#define QUEUE_LIMIT ((long)8 << 20) /* unsent bytes a reader may hold before it is cut */

typedef struct {
  api_server_t *srv;
  http_req_t *req;   /* NULL once finished */
  client_t *c;
  client_req_t *creq; /* NULL once done */
  bool begun;
  ev_timer reap;      /* frees the client outside its callbacks */
  char url[300];
} plog_t;

static void reap_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  plog_t *p = (plog_t *)((char *)w - offsetof(plog_t, reap));
  client_free(p->c);
  free(p);
}

/* Finish the client side and free p soon. */
static void plog_done(plog_t *p) {
  if (p->creq) {
    client_req_cancel(p->creq);
    p->creq = NULL;
  }
  ev_timer_set(&p->reap, 0, 0);
  ev_timer_start(p->srv->loop, &p->reap);
}

static void on_close(http_req_t *r, void *data) {
  plog_t *p = data;
  p->req = NULL;
  http_stream_end(r); /* the client is gone: this only frees the request */
  plog_done(p);
}

static void on_chunk(const char *bytes, size_t len, void *data) {
  plog_t *p = data;
  if (!p->req)
    return;
  if (!p->begun) {
    http_stream_begin(p->req, 200, "text/plain");
    p->begun = true;
  }
  if (!len)
    return;
  long q = http_stream_write(p->req, bytes, len);
  if (q < 0 || q > QUEUE_LIMIT) {
    /* gone, or reading far slower than the kubelet sends: end here rather
     * than hold the rest in memory */
    http_req_t *r = p->req;
    p->req = NULL;
    http_stream_end(r);
    plog_done(p);
  }
}

static void on_done(const client_result_t *res, void *data) {
  plog_t *p = data;
  p->creq = NULL;
  http_req_t *r = p->req;
  p->req = NULL;
  if (!r) {
    plog_done(p);
    return;
  }
  if (p->begun) {
    http_stream_end(r);
  } else if (res->code >= 200 && res->code < 300) {
    http_respond(r, 200, "text/plain", "", 0);
  } else {
    api_status_t st;
    if (res->code == 0) {
      api_status_init(&st, 500, "", "Get \"%s\": %s", p->url, strerror(-res->err));
    } else {
      size_t n = res->body_len;
      while (n && (res->body[n - 1] == '\n' || res->body[n - 1] == '\r'))
        n--;
      const char *reason = res->code == 400   ? "BadRequest"
                           : res->code == 401 ? "Unauthorized"
                           : res->code == 403 ? "Forbidden"
                           : res->code == 404 ? "NotFound"
                           : res->code == 503 ? "ServiceUnavailable"
                                              : "InternalError";
      api_status_init(&st, res->code, reason, "%.*s", (int)(n > 900 ? 900 : n), res->body);
    }
    http_req_on_close(r, NULL, NULL);
    api__respond_status(r, &st);
  }
  plog_done(p);
}

/* "[a b c]" of the names in list (Go's fmt of a string slice). */
void api__container_names(const cJSON *list, char *out, size_t len) {
  buf_t b;
  buf_init(&b, len > 1 ? len - 1 : 0);
  buf_append_str(&b, "[");
  const cJSON *c;
  bool first = true;
  cJSON_ArrayForEach(c, list) {
    const char *n = obj_str(c, "name");
    if (!n)
      continue;
    if (!first)
      buf_append_str(&b, " ");
    buf_append_str(&b, n);
    first = false;
  }
  buf_append_str(&b, "]");
  snprintf(out, len, "%s", b.data ? b.data : "[]");
  buf_done(&b);
}

bool api__pod_has_container(const cJSON *pod, const char *name) {
  static const char *const lists[] = {"spec.containers", "spec.initContainers",
                                      "spec.ephemeralContainers"};
  for (size_t i = 0; i < 3; i++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, obj_get(pod, lists[i])) {
      const char *n = obj_str(c, "name");
      if (n && !strcmp(n, name))
        return true;
    }
  }
  return false;
}

/* The kubelet's address on node: InternalIP, else ExternalIP, else
 * Hostname. */
const char *api__node_address(const cJSON *node) {
  static const char *const order[] = {"InternalIP", "ExternalIP", "Hostname"};
  for (size_t i = 0; i < 3; i++) {
    const cJSON *a;
    cJSON_ArrayForEach(a, obj_get(node, "status.addresses")) {
      const char *t = obj_str(a, "type"), *v = obj_str(a, "address");
      if (t && v && v[0] && !strcmp(t, order[i]))
        return v;
    }
  }
  return NULL;
}

int api__kubelet_url(const cJSON *node, char *url, size_t len) {
  const cJSON *port = obj_get(node, "status.daemonEndpoints.kubeletEndpoint.Port");
  const char *addr = api__node_address(node);
  if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 || !addr)
    return -ENOENT;
  bool v6 = strchr(addr, ':') != NULL;
  int n = snprintf(url, len, "https://%s%.100s%s:%d", v6 ? "[" : "", addr, v6 ? "]" : "",
                   (int)port->valuedouble);
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *const PASSED[] = {"follow",  "previous",   "timestamps", "tailLines",
                                     "sinceSeconds", "sinceTime", "limitBytes", NULL};

/* PodLogOptions validation, as upstream's. Returns 0 or -EINVAL with st. */
static int check_options(http_req_t *req, api_status_t *st) {
  static const char *const positive[] = {"tailLines", "sinceSeconds", "limitBytes"};
  for (size_t i = 0; i < 3; i++) {
    const char *v = http_req_query(req, positive[i]);
    if (!v)
      continue;
    char *e;
    errno = 0;
    long long x = strtoll(v, &e, 10);
    if (errno || !*v || *e) {
      api_status_bad_request(st, "strconv.ParseInt: parsing \"%.100s\": invalid syntax", v);
      return -EINVAL;
    }
    bool bad = i == 0 ? x < 0 : x < 1;
    if (bad) {
      api__cause_invalid(st, positive[i], i == 0 ? "must be greater than or equal to 0"
                                                  : "must be greater than 0");
      api_status_invalid(st, "", "PodLogOptions", "");
      return -EINVAL;
    }
  }
  if (http_req_query(req, "sinceSeconds") && http_req_query(req, "sinceTime")) {
    api__cause_invalid(st, "sinceSeconds", "at most one of `sinceTime` or `sinceSeconds` may be "
                                            "specified");
    api_status_invalid(st, "", "PodLogOptions", "");
    return -EINVAL;
  }
  return 0;
}

bool api__pod_log(api_call_t *call) {
  if (call->ri.group[0] || strcmp(call->ri.resource, "pods") ||
      strcmp(call->ri.subresource, "log"))
    return false;
  api_status_t st;
  memset(&st, 0, sizeof(st));
  store_kv_t *kv = NULL, *nkv = NULL;
  cJSON *pod = NULL, *node = NULL;
  char *nkey = NULL;
  if (strcmp(call->ri.verb, "get")) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    goto fail;
  }
  if (check_options(call->req, &st) < 0 || api__load(call, &kv, &pod, &st) < 0)
    goto fail;
  const char *name = call->ri.name;
  const char *container = http_req_query(call->req, "container");
  if (!container || !container[0]) {
    const cJSON *cs = obj_get(pod, "spec.containers");
    if (cJSON_GetArraySize(cs) == 1) {
      container = obj_str(cJSON_GetArrayItem(cs, 0), "name");
    } else {
      char list[1024], init[1024];
      api__container_names(cs, list, sizeof(list));
      const cJSON *ics = obj_get(pod, "spec.initContainers");
      if (cJSON_GetArraySize(ics) > 0) {
        api__container_names(ics, init, sizeof(init));
        api_status_bad_request(&st, "a container name must be specified for pod %s, choose one "
                                    "of: %s or one of the init containers: %s",
                               name, list, init);
      } else {
        api_status_bad_request(&st, "a container name must be specified for pod %s, choose one "
                                    "of: %s",
                               name, list);
      }
      goto fail;
    }
  }
  if (!container || !api__pod_has_container(pod, container)) {
    api_status_bad_request(&st, "container %s is not valid for pod %s", container ? container : "",
                           name);
    goto fail;
  }
  const char *node_name = obj_str(pod, "spec.nodeName");
  if (!node_name || !node_name[0]) { /* not scheduled: no log yet, as upstream */
    http_respond(call->req, 200, "text/plain", "", 0);
    goto out;
  }
  const api_resource_t *nres = api_registry_find("", "v1", "nodes");
  nkey = nres ? api_resource_key(nres, NULL, node_name) : NULL;
  if (!nkey || store_get(call->srv->store, nkey, 0, &nkv) < 0 ||
      !(node = cJSON_ParseWithLength(nkv->value, nkv->len))) {
    api_status_not_found(&st, "", "nodes", node_name);
    goto fail;
  }
  char url[300];
  if (api__kubelet_url(node, url, sizeof(url)) < 0) {
    api_status_init(&st, 500, "", "node %s has no kubelet endpoint (address and port)", node_name);
    goto fail;
  }
  if (!call->srv->kubelet_cert_pem) {
    api_status_init(&st, 503, "ServiceUnavailable", "the API server has no kubelet client "
                                                    "certificate");
    goto fail;
  }
  char query[4096] = "";
  for (size_t i = 0; PASSED[i]; i++) {
    const char *v = http_req_query(call->req, PASSED[i]);
    if (v && client_query_add(query, sizeof(query), PASSED[i], v) < 0) {
      api_status_bad_request(&st, "log options too long");
      goto fail;
    }
  }
  char path[5400];
  snprintf(path, sizeof(path), "/containerLogs/%.253s/%.253s/%.253s%s%s", call->ri.ns, name,
           container, query[0] ? "?" : "", query);
  plog_t *p = xcalloc(1, sizeof(*p));
  p->srv = call->srv;
  p->req = call->req;
  ev_init(&p->reap, reap_cb);
  memcpy(p->url, url, sizeof(p->url));
  char err[256];
  client_https_opts_t ho = {.server = p->url, .cert_pem = call->srv->kubelet_cert_pem,
                            .key_pem = call->srv->kubelet_key_pem, .insecure_skip_verify = true,
                            .max_connections = 1};
  if (client_https_new(call->srv->loop, &ho, &p->c, err, sizeof(err)) < 0) {
    free(p);
    api_status_init(&st, 500, "", "kubelet client for %s: %s", node_name, err);
    goto fail;
  }
  client_set_user_agent(p->c, "k3c-apiserver");
  p->creq = client_stream(p->c, path, on_chunk, on_done, p);
  if (!p->creq) {
    client_free(p->c);
    free(p);
    api_status_bad_request(&st, "log request too long");
    goto fail;
  }
  if (api__query_bool(call->req, "follow"))
    http_req_long_running(call->req, false);
  http_req_on_close(call->req, on_close, p);
  goto out;
fail:
  api__respond_status(call->req, &st);
out:
  cJSON_Delete(pod);
  cJSON_Delete(node);
  store_kv_unref(kv);
  store_kv_unref(nkv);
  free(nkey);
  return true;
}
