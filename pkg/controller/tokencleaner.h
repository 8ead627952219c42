/* pkg/controller tokencleaner: bootstrap-token Secrets in kube-system are
 * deleted once their expiration has passed (upstream's tokencleaner in
 * kube-controller-manager). The authenticator and the join endpoints refuse
 * an expired token by themselves; this keeps `k3c token list` and the
 * datastore free of dead ones. Loop thread only. */
#pragma once

#include <ev.h>

#include "client/client.h"

typedef struct controller_tokencleaner controller_tokencleaner_t;

/* Keeps its own informer of the bootstrap-token Secrets, started here; c
 * must outlive the controller. Returns 0 or a negative errno. */
int controller_tokencleaner_new(client_t *c, struct ev_loop *loop,
                                controller_tokencleaner_t **ret_tc);
/* Cancels the requests in flight and stops its informer. Accepts NULL. */
void controller_tokencleaner_free(controller_tokencleaner_t *tc);
