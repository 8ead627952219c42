/* pkg/controller rootcacert: every namespace has a ConfigMap
 * "kube-root-ca.crt" whose data is exactly {ca.crt: the cluster CA PEM},
 * created when missing and put back when edited (upstream's
 * root-ca-cert-publisher in kube-controller-manager). Pods read it to
 * verify the API server. Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_rootcacert controller_rootcacert_t;

#define CONTROLLER_ROOTCACERT_NAME "kube-root-ca.crt"

/* namespaces: a Namespace informer (borrowed; c and it must outlive the
 * controller). The controller keeps its own informer of the ConfigMaps
 * named kube-root-ca.crt, started here. ca_pem: copied. Returns 0 or a
 * negative errno (-EINVAL for an empty ca_pem). */
int controller_rootcacert_new(client_t *c, client_informer_t *namespaces, struct ev_loop *loop,
                              const char *ca_pem, controller_rootcacert_t **ret_rc);
/* Cancels the requests in flight and stops its informer. Accepts NULL. */
void controller_rootcacert_free(controller_rootcacert_t *rc);
