/* A Service to one of its endpoints, as upstream's endpoint service
 * resolver (k8s.io/apiserver/pkg/util/proxy ResolveEndpoint) does for
 * services/proxy, webhooks by service reference and conversion webhooks:
 * the service port named by number (or, for services/proxy, by name), then
 * a random subset of the service's Endpoints with addresses and a port of
 * that port's name, a random address of it. An ExternalName service
 * resolves to its external name. Loop lock held. */
#pragma once

#include <stddef.h>

#include "api/internal.h"

/* Why a service did not resolve. */
typedef enum {
  API_SVC_OK,
  API_SVC_NO_SERVICE,   /* no such Service (only looked up for a port number) */
  API_SVC_NO_PORT,      /* the Service has no port of that number */
  API_SVC_NO_ENDPOINTS, /* no Endpoints object */
  API_SVC_NO_ADDRESS,   /* no ready address with a port of that port's name */
} api_svc_result_t;

/* The resolution itself: host/ret_port on API_SVC_OK; port_name (may be
 * NULL) receives the service port's name, for callers' messages. */
api_svc_result_t api__service_endpoint(api_server_t *srv, const char *ns, const char *name,
                                       const char *port, char *host, size_t hostlen, int *ret_port,
                                       char *port_name, size_t port_name_len);

/* The same with services/proxy's Status on failure. port: a number
 * ("443") or a service port's name ("" for the unnamed one). Returns 0 with host/ret_port set, or a negative errno with st
 * filled with upstream's Status (404 `services "x" not found`, 503
 * `no endpoints available for service "x"`, 503 `no service port 8443
 * found for service "x"`). */
int api__service_resolve(api_server_t *srv, const char *ns, const char *name, const char *port,
                         char *host, size_t hostlen, int *ret_port, api_status_t *st);

/* The DNS name a service's serving certificate is checked against
 * ("<name>.<namespace>.svc"), into out. */
void api__service_dns_name(const char *ns, const char *name, char *out, size_t len);

/* A core/v1 object (resource "services", "endpoints", "nodes" ...) parsed
 * from the store, or NULL. ns "" or NULL for cluster-scoped ones. */
cJSON *api__load_core(api_server_t *srv, const char *resource, const char *ns, const char *name);

/* A decimal port 1..65535, else 0. */
int api__port_number(const char *s);
