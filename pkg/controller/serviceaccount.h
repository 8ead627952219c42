/* pkg/controller serviceaccount: every namespace has a ServiceAccount
 * named "default", created when the namespace appears and again when it
 * is deleted, except in a namespace being terminated (upstream's
 * serviceaccount controller in kube-controller-manager). Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_serviceaccount controller_serviceaccount_t;

/* namespaces: a Namespace informer; serviceaccounts: a ServiceAccount
 * informer of all namespaces (it may be restricted to
 * metadata.name=default). Both borrowed: c and they must outlive the
 * controller, which adds handlers to them. Returns 0 or a negative errno. */
int controller_serviceaccount_new(client_t *c, client_informer_t *namespaces,
                                  client_informer_t *serviceaccounts, struct ev_loop *loop,
                                  controller_serviceaccount_t **ret_sc);
/* Cancels the requests in flight. Accepts NULL. */
void controller_serviceaccount_free(controller_serviceaccount_t *sc);
