/* The ClusterRole aggregation controller: a ClusterRole with an
 * aggregationRule gets, as its rules, the rules of every ClusterRole its
 * clusterRoleSelectors match (by name order, duplicates dropped), written
 * back to the object as upstream's clusterrole-aggregation-controller does
 * (the API's RBAC authorizer already grants the union at once, authz.c).
 * https://kubernetes.io/docs/reference/access-authn-authz/rbac/#aggregated-clusterroles
 * Threads: the client's loop. */
#pragma once

#include <ev.h>

#include "client/client.h"
#include "client/informer.h"

typedef struct controller_aggregation controller_aggregation_t;

/* roles: a ClusterRole informer (not owned; started by the caller). */
int controller_aggregation_new(client_t *c, client_informer_t *roles, struct ev_loop *loop,
                               controller_aggregation_t **ret);
void controller_aggregation_free(controller_aggregation_t *a);
