/* pkg/controller namespace: deletes the content of a Terminating namespace
 * through the API (finalizers and grace periods honoured), reports what
 * remains in upstream's status conditions, and lets the namespace go by
 * removing "kubernetes" from spec.finalizers (/finalize) once it is empty
 * (upstream's namespace controller). Loop thread only; in-process only: the
 * kinds to delete come from the API server's registry. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_namespace controller_namespace_t;

/* namespaces: a Namespace informer (borrowed; c and it must outlive the
 * controller). Returns 0 or a negative errno. */
int controller_namespace_new(client_t *c, client_informer_t *namespaces, struct ev_loop *loop,
                             controller_namespace_t **ret_nc);
/* Cancels the requests in flight. Accepts NULL. */
void controller_namespace_free(controller_namespace_t *nc);
