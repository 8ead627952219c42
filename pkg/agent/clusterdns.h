/* pkg/agent clusterdns: the node's cluster DNS (pkg/net/dns.h) with its
 * inputs: informers on Services and EndpointSlices from the agent's
 * client, the --cluster-dns address put on k3c-dns0 (or lo), and the
 * upstream nameservers of --resolv-conf. docs/NETWORK.md describes it.
 *
 * Threads: the agent's loop. */
#pragma once

#include <ev.h>
#include <stddef.h>

#include "client/client.h"
#include "config/config.h"

typedef struct agent_clusterdns agent_clusterdns_t;

/* Start it for cfg (which, with c, must outlive it). Returns 0 and *ret, or
 * a negative errno with the reason in err (the address could not be set,
 * port 53 on it is taken, ...). Call only when config_cluster_dns_enabled. */
int agent_clusterdns_new(struct ev_loop *loop, client_t *c, const k3c_config_t *cfg,
                         agent_clusterdns_t **ret, char *err, size_t errlen);
/* Stop listening and watching. The address stays on its link (a restarted
 * agent reuses it). Accepts NULL. */
void agent_clusterdns_free(agent_clusterdns_t *d);
