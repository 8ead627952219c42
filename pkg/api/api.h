/* pkg/api: the Kubernetes API server. It authenticates a request, routes it
 * through the resource registry, authorizes it, decodes and admits the
 * object and reads or writes the store; watches stream store events.
 * Loop thread only: the server, its store and the HTTP server share one
 * libev loop. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/audit.h"
#include "http/server.h"
#include "store/store.h"

typedef struct api_server api_server_t;

typedef struct {
  const char *service_cidr;     /* "10.43.0.0/16": ClusterIPs come from here */
  const char *advertise_ip;     /* node IP for the kubernetes service endpoints */
  const char *cluster_dns;      /* kube-system/kube-dns's ClusterIP; NULL or "": no kube-dns */
  int advertise_port;           /* 6443 */
  const char *token_auth_file;  /* CSV "token,user,uid,\"group1,group2\"", may be NULL */
  int node_port_min, node_port_max; /* 30000..32767 */
  /* DefaultTolerationSeconds admission: tolerationSeconds of the
   * not-ready / unreachable NoExecute tolerations added to new pods (0: 300,
   * upstream's --default-not-ready-toleration-seconds and
   * --default-unreachable-toleration-seconds). */
  int not_ready_toleration_seconds, unreachable_toleration_seconds;
  /* The client certificate and key (PEM) pods/log presents to kubelets
   * (CN system:kube-apiserver, signed by the cluster CA); NULL: logs
   * answer 503. Copied. */
  const char *kubelet_client_cert_pem, *kubelet_client_key_pem;
  /* Service-account tokens: the ES256 signing key (PEM; NULL: a key made
   * for this process only), the issuers accepted (the first one signs;
   * NULL or empty: https://kubernetes.default.svc.cluster.local) and the
   * audiences the API accepts (NULL or empty: the first issuer). Lists are
   * NULL-terminated; all copied. */
  const char *service_account_key_pem;
  const char *const *service_account_issuers;
  const char *const *api_audiences;
  /* Requests without credentials (no client certificate, no Authorization
   * header) run as system:anonymous in group system:unauthenticated,
   * allowed what RBAC grants them; false: they get 401 (k3s's default). */
  bool anonymous_auth;
  /* API aggregation: the front-proxy client certificate and key presented
   * to extension API servers (signed by requestheader_ca_pem), that CA,
   * the client CA and the front-proxy certificate's CN, published in
   * kube-system/extension-apiserver-authentication. NULL: none (the CN
   * defaults to system:auth-proxy, k3s's). Copied. */
  const char *proxy_client_cert_pem, *proxy_client_key_pem;
  const char *requestheader_ca_pem, *client_ca_pem, *requestheader_allowed_name;
  /* The audit log (api/audit.h), or NULL / path NULL: none. */
  const api_audit_opts_t *audit;
} api_server_opts_t;

/* Create the API server over an open store. Loads allocator state from the
 * store. Returns 0 or a negative errno with err. */
int api_server_new(struct ev_loop *loop, store_t *store, const api_server_opts_t *opts,
                   api_server_t **ret_srv, char *err, size_t errlen);
/* Create what a fresh cluster needs (namespaces default, kube-system,
 * kube-public, kube-node-lease; the kubernetes Service and Endpoints; with
 * a cluster DNS the selector-less Service kube-system/kube-dns, annotated
 * k3c.io/node-local: "true" because every node's agent answers on its IP).
 * Asynchronous; safe to call on every start. Starts a 10 s timer that
 * re-creates those namespaces and the kubernetes Service and Endpoints when
 * they are deleted (stopped by api_server_free; it does not keep the loop
 * alive). */
void api_server_bootstrap(api_server_t *srv);
/* The http_handler_cb of the API: pass the api_server_t as data. */
void api_server_handle(http_req_t *req, void *data);
/* A handler for the non-resource paths under prefix ("/v1-k3c/encrypt/"),
 * run after authentication and RBAC (nonResourceURL, verb from the method)
 * for any method. It answers the request and returns true, or returns
 * false to leave it to the 404. At most 8 prefixes; prefix is copied. */
typedef bool (*api_route_cb)(http_req_t *req, const char *path, void *data);
int api_server_route(api_server_t *srv, const char *prefix, api_route_cb cb, void *data);
/* Stop watches and free. Call before closing the store. */
void api_server_free(api_server_t *srv);
