/* pkg/controller satoken: the legacy service-account token controller
 * (upstream's TokensController in kube-controller-manager). A Secret of
 * type kubernetes.io/service-account-token with the annotation
 * kubernetes.io/service-account.name gets the annotation
 * kubernetes.io/service-account.uid and data token (a JWT with the legacy
 * claims, no expiry, signed with the API's service-account key), ca.crt
 * (the cluster CA) and namespace. A Secret naming a ServiceAccount that
 * does not exist, or another one of that name (uid differs), is deleted.
 * Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_satoken controller_satoken_t;

/* serviceaccounts: a ServiceAccount informer (borrowed; c and it must
 * outlive the controller). The controller keeps its own informer of the
 * token Secrets, started here. key_pem: the signing key (the same as the
 * API server's, or tokens are refused); ca_pem: the cluster CA; both
 * copied. Returns 0 or a negative errno (-EINVAL for a key that does not
 * load or an empty ca_pem). */
int controller_satoken_new(client_t *c, client_informer_t *serviceaccounts, struct ev_loop *loop,
                           const char *key_pem, const char *ca_pem,
                           controller_satoken_t **ret_tc);
/* Cancels the requests in flight and stops its informer. Accepts NULL. */
void controller_satoken_free(controller_satoken_t *tc);
