/* The pods/exec, pods/attach and pods/portforward subresources: the API
 * server checks the options, finds the pod's kubelet (as pods/log does)
 * and relays the client's upgrade (WebSocket or SPDY/3.1) to the kubelet's
 * /exec, /attach or /portForward with its own client certificate; the
 * stream itself is never parsed here (http/tunnel.h, docs/AGENT.md).
 * https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/ ("connect") */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "client/client.h"
#include "http/tunnel.h"
#include "util/alloc.h"

static void dial_failed(http_req_t *r, int err, const char *msg, void *data) {
  api_status_t st;
  api_status_init(&st, 500, "", "%s", msg);
  api__respond_status(r, &st);
}

/* Add name=1 to q when the client asked for it (upstream's streamParams). */
static int flag(http_req_t *req, char *q, size_t qlen, const char *ours, const char *kubelets) {
  if (!api__query_bool(req, ours))
    return 0;
  return client_query_add(q, qlen, kubelets, "1");
}

bool api__pod_stream(api_call_t *call) {
  if (call->ri.group[0] || strcmp(call->ri.resource, "pods"))
    return false;
  const char *sub = call->ri.subresource;
  bool is_exec = !strcmp(sub, "exec"), is_attach = !strcmp(sub, "attach"),
       is_pf = !strcmp(sub, "portforward");
  if (!is_exec && !is_attach && !is_pf)
    return false;
  api_status_t st;
  memset(&st, 0, sizeof(st));
  store_kv_t *kv = NULL, *nkv = NULL;
  cJSON *pod = NULL, *node = NULL;
  char *nkey = NULL;
  http_req_t *req = call->req;
  if (strcmp(call->ri.verb, "get") && strcmp(call->ri.verb, "create")) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    goto fail;
  }
  if (!http_req_header(req, "Upgrade")) {
    api_status_bad_request(&st, "Upgrade request required");
    goto fail;
  }
  if (api__load(call, &kv, &pod, &st) < 0)
    goto fail;
  const char *name = call->ri.name;
  const char *phase = obj_str(pod, "status.phase");
  if (!is_pf && phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
    api_status_bad_request(&st, "cannot %s into a container in a completed pod; current phase is "
                                "%s",
                           is_exec ? "exec" : "attach", phase);
    goto fail;
  }
  char q[8192] = "";
  char path[9000];
  const char *container = NULL;
  if (!is_pf) {
    container = http_req_query(req, "container");
    if (!container || !container[0]) {
      const cJSON *cs = obj_get(pod, "spec.containers");
      if (cJSON_GetArraySize(cs) == 1) {
        container = obj_str(cJSON_GetArrayItem(cs, 0), "name");
      } else {
        char list[1024];
        api__container_names(cs, list, sizeof(list));
        api_status_bad_request(&st, "a container name must be specified for pod %s, choose one "
                                    "of: %s",
                               name, list);
        goto fail;
      }
    }
    if (!container || !api__pod_has_container(pod, container)) {
      api_status_bad_request(&st, "container %s is not valid for pod %s",
                             container ? container : "", name);
      goto fail;
    }
    if (!api__query_bool(req, "stdin") && !api__query_bool(req, "stdout") &&
        !api__query_bool(req, "stderr")) {
      api_status_bad_request(&st, "you must specify at least one of stdin, stdout, or stderr");
      goto fail;
    }
    const char *const *cmd = is_exec ? http_req_query_all(req, "command") : NULL;
    if (is_exec && (!cmd || !cmd[0])) {
      api_status_bad_request(&st, "you must specify at least 1 command");
      goto fail;
    }
    int e = 0;
    for (size_t i = 0; cmd && cmd[i] && e == 0; i++)
      e = client_query_add(q, sizeof(q), "command", cmd[i]);
    if (e == 0)
      e = flag(req, q, sizeof(q), "stdin", "input");
    if (e == 0)
      e = flag(req, q, sizeof(q), "stdout", "output");
    if (e == 0)
      e = flag(req, q, sizeof(q), "stderr", "error");
    if (e == 0)
      e = flag(req, q, sizeof(q), "tty", "tty");
    if (e < 0) {
      api_status_bad_request(&st, "command too long");
      goto fail;
    }
    snprintf(path, sizeof(path), "/%s/%.253s/%.253s/%.253s%s%s", is_exec ? "exec" : "attach",
             call->ri.ns, name, container, q[0] ? "?" : "", q);
  } else {
    const char *const *ports = http_req_query_all(req, "ports");
    for (size_t i = 0; ports && ports[i]; i++)
      if (client_query_add(q, sizeof(q), "port", ports[i]) < 0) {
        api_status_bad_request(&st, "too many ports");
        goto fail;
      }
    snprintf(path, sizeof(path), "/portForward/%.253s/%.253s%s%s", call->ri.ns, name,
             q[0] ? "?" : "", q);
  }
  const char *node_name = obj_str(pod, "spec.nodeName");
  if (!node_name || !node_name[0]) {
    api_status_bad_request(&st, "pod %s does not have a host assigned", name);
    goto fail;
  }
  const api_resource_t *nres = api_registry_find("", "v1", "nodes");
  nkey = nres ? api_resource_key(nres, NULL, node_name) : NULL;
  if (!nkey || store_get(call->srv->store, nkey, 0, &nkv) < 0 ||
      !(node = cJSON_ParseWithLength(nkv->value, nkv->len))) {
    api_status_not_found(&st, "", "nodes", node_name);
    goto fail;
  }
  const cJSON *port = obj_get(node, "status.daemonEndpoints.kubeletEndpoint.Port");
  const char *addr = api__node_address(node);
  if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 || !addr) {
    api_status_init(&st, 500, "", "node %s has no kubelet endpoint (address and port)", node_name);
    goto fail;
  }
  if (!call->srv->kubelet_cert_pem) {
    api_status_init(&st, 503, "ServiceUnavailable", "the API server has no kubelet client "
                                                    "certificate");
    goto fail;
  }
  if (!call->srv->kubelet_tls) {
    char err[256];
    if (http_tls_client_new(call->srv->kubelet_cert_pem, call->srv->kubelet_key_pem,
                            &call->srv->kubelet_tls, err, sizeof(err)) < 0) {
      api_status_init(&st, 500, "", "kubelet client: %s", err);
      goto fail;
    }
  }
  http_tunnel_opts_t o = {.host = addr,
                          .port = (int)port->valuedouble,
                          .tls = call->srv->kubelet_tls,
                          .target = path,
                          .fail = dial_failed};
  http_req_long_running(req, false);
  if (http_tunnel_start(req, call->srv->loop, &o) < 0) {
    api_status_init(&st, 500, "", "error dialing backend: node %s's address %s is not an IP "
                                  "address",
                    node_name, addr);
    goto fail;
  }
  goto out;
fail:
  api__respond_status(req, &st);
out:
  cJSON_Delete(pod);
  cJSON_Delete(node);
  store_kv_unref(kv);
  store_kv_unref(nkv);
  free(nkey);
  return true;
}
