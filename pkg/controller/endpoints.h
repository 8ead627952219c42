/* The Endpoints controller (endpoints.c) and the pod/service rules it shares
 * with the EndpointSlice controller (endpointslice.c). Loop thread only for
 * the controller; the builders and predicates are pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "client/informer.h"
#include "controller/controller.h"

#define CONTROLLER_ENDPOINTS_MAX 1000 /* upstream's maxCapacity of one Endpoints */

typedef struct controller_endpoints controller_endpoints_t;

/* Keep an Endpoints object for each Service of svc_inf (v1 services) that
 * has a selector, from the pods of pod_inf (v1 pods); ep_inf: v1 endpoints.
 * All three need the namespace index. Registers its handlers and starts;
 * the informers and the client must outlive it. */
int controller_endpoints_new(client_t *c, client_informer_t *svc_inf, client_informer_t *pod_inf,
                             client_informer_t *ep_inf, struct ev_loop *loop,
                             controller_endpoints_t **ret_ec);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_endpoints_free(controller_endpoints_t *ec);

/* ---- pure pieces (also used by endpointslice.c) ---- */

/* Whether svc has a non-empty spec.selector and is not ExternalName: the
 * services whose endpoints the controllers manage. */
bool controller__service_managed(const cJSON *svc);
/* Whether every key=value of svc's spec.selector is among labels. */
bool controller__service_selects(const cJSON *svc, const cJSON *labels);
/* The Ready condition is True. */
bool controller__pod_ready(const cJSON *pod);
/* Upstream's ShouldPodBeInEndpoints: not Succeeded/Failed, has an IP, and
 * not being deleted unless include_terminating. */
bool controller__pod_in_endpoints(const cJSON *pod, bool include_terminating);
/* The pod's IPv4 address (status.podIP or podIPs[]), NULL when none. */
const char *controller__pod_ipv4(const cJSON *pod);
/* Upstream's FindPort: the container port a service port's targetPort
 * names (by name and protocol) or numbers; -1 when a name is not found. */
int controller__pod_find_port(const cJSON *pod, const cJSON *svc_port);
/* Whether the pod's hostname goes into endpoints of svc
 * (spec.hostname set and spec.subdomain == the service's name). */
bool controller__pod_sets_hostname(const cJSON *pod, const cJSON *svc);

/* The subsets of svc's Endpoints from candidate pods (pods of its
 * namespace its selector matches; others are not checked): addresses for
 * ready pods (every pod with publishNotReadyAddresses), notReadyAddresses
 * for the rest, ports resolved per pod, repacked as upstream (ports with
 * the same set of addresses share a subset, addresses sorted by IP).
 * Past max addresses they are truncated as upstream does (ready ones
 * first) and *ret_truncated is set. Returns a new array (caller frees with
 * cJSON_Delete); empty when no pod qualifies. */
cJSON *controller_endpoints_subsets(const cJSON *svc, const cJSON *const *pods, size_t n,
                                    size_t max, bool *ret_truncated);
