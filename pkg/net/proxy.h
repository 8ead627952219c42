/* pkg/net proxy: the service proxy (kube-proxy's job) in an nf_tables
 * table of k3c's own, "ip k3c-proxy", made through nfnetlink (nft.h). On
 * every agent, informers on Services and EndpointSlices
 * (discovery.k8s.io/v1) give the plan: for each Service port with a
 * ClusterIP (not headless, not ExternalName, not annotated
 * k3c.io/node-local "true", which the node-local DNS serves) the ready
 * endpoints (conditions.ready not false) of its slices (label
 * kubernetes.io/service-name, the port of the same name and protocol).
 * Only endpoints that are ready (conditions.ready not false) are used;
 * when a set has none, its serving endpoints that are terminating are
 * (upstream kube-proxy's fallback). The table:
 *   map services  (ip daddr . l4proto . th dport : verdict): the ClusterIPs,
 *     and status.loadBalancer.ingress[].ip and spec.externalIPs
 *   map nodeports (l4proto . th dport : verdict), for local addresses
 *   chain prerouting (nat, dstnat -100) and output (nat, -100): the two
 *     lookups (the second after fib daddr type local)
 *   chain svc-<ns>/<name>:<port> (all endpoints):
 *     ip saddr != <cluster CIDR> meta mark set 0x4000   (masqueraded below)
 *     [ip saddr @aff-<svc>-<ep> goto ep-<svc>-<ep>, each endpoint: ClientIP affinity]
 *     numgen random mod N == 0 goto ep-<svc>-<ep 0> ... ; goto ep-<svc>-<ep N-1>
 *     (each endpoint with probability 1/N, as kube-proxy's iptables mode)
 *   chain loc-<svc>: the same over this node's endpoints, no mark (drop
 *     when there is none): the ClusterIP with internalTrafficPolicy Local
 *   chain ext-<svc>, externalTrafficPolicy Local (NodePort, LB, external
 *     IPs): from the cluster CIDR goto svc-; from this node (fib saddr
 *     local) mark and goto svc-; else goto loc- (source address kept)
 *   chain ep-<svc>-<ip>:<port>: ip saddr <ip> mark (hairpin: an endpoint
 *     reaching itself), [update @aff-<svc>-<ep> { ip saddr } (timeout
 *     sessionAffinityConfig.clientIP.timeoutSeconds, 10800)], dnat
 *   chain postrouting (nat, srcnat 100):
 *     meta mark & 0x4000 == 0x4000 masquerade (not out of lo)
 *   sets no-endpoints / no-endpoint-nodeports and chain no-endpoints,
 *     jumped to from filter chains on input, forward, output (priority
 *     -10): a Service port without endpoints is rejected with icmp port
 *     unreachable (connection refused), on its ClusterIP, external
 *     addresses and its NodePort on a local address.
 * Changes are incremental, 100 ms after the last event: one batch (all
 * or nothing) deletes and adds the map elements that changed and replaces
 * the chains and affinity sets of the service ports that changed only;
 * the other services' rules and affinity state are not touched. The
 * first apply, and one after a failed batch, makes the table anew (it
 * replaces whatever a previous run left); every 30 s the table is looked
 * up and made anew if it is gone. The conntrack entries of UDP flows
 * NATed to an endpoint that left the plan are deleted (conntrack.h), so a
 * client that keeps sending picks a live endpoint. docs/NETWORK.md
 * describes it.
 *
 * Threads: the client's loop; netlink calls are made on it. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "net/nl.h"

#define NET_PROXY_TABLE "k3c-proxy"
#define NET_PROXY_MARK 0x4000u

typedef struct {
  struct in_addr ip;
  uint16_t port;
} net_proxy_ep_t;

#define NET_PROXY_AFFINITY_DEFAULT 10800 /* seconds, upstream's default */

typedef struct {
  char name[160];    /* "<ns>/<name>:<port name or number>" */
  uint8_t proto;     /* IPPROTO_TCP, _UDP, _SCTP */
  struct in_addr cluster_ip;
  uint16_t port;
  uint16_t node_port; /* 0: none */
  net_proxy_ep_t *eps; /* ready endpoints (else serving terminating ones), sorted */
  size_t n_eps;
  net_proxy_ep_t *leps; /* the same of this node (plan.node) only */
  size_t n_leps;
  struct in_addr *ext; /* load-balancer ingress IPs and externalIPs, sorted */
  size_t n_ext;
  uint32_t affinity;  /* sessionAffinity ClientIP: its timeout in seconds; 0: None */
  bool etp_local;     /* externalTrafficPolicy Local */
  bool itp_local;     /* internalTrafficPolicy Local */
  uint16_t hc_port;   /* healthCheckNodePort (eTP Local, LoadBalancer); 0: none */
} net_proxy_svc_t;

typedef struct {
  net_proxy_svc_t *v; /* sorted by name */
  size_t n;
  struct in_addr cluster; /* cluster CIDR: traffic from elsewhere is masqueraded */
  int cluster_prefix;     /* -1: none known (nothing masqueraded for that reason) */
  const char *node;       /* this node's name (endpoints' nodeName); NULL: none local */
} net_proxy_plan_t;

/* Add a Service's ports to plan, their endpoints from slices (all the
 * EndpointSlices to consider; those of other services are skipped). A
 * Service that is not proxied adds nothing. Pure: no kernel, any thread. */
void net_proxy_plan_add(net_proxy_plan_t *plan, const cJSON *svc, const cJSON *const *slices,
                        size_t n_slices);
/* Sort (call after the adds). */
void net_proxy_plan_sort(net_proxy_plan_t *plan);
void net_proxy_plan_free(net_proxy_plan_t *plan);
/* The plan as text, one line per service port:
 *   "<name> <proto> <clusterIP>:<port> [nodePort <n>] [ext <ip>,<ip>] [affinity <s>]
 *    [etp-local] [itp-local] [hc <port>] -> <ip:port> <ip:port> [local <ip:port> ...]"
 * or "... -> reject". Newly allocated. */
char *net_proxy_plan_text(const net_proxy_plan_t *plan);

/* Make table ip k3c-proxy from plan, replacing what it held, in one batch.
 * 0 or a negative errno with the kernel's reason in err. */
int net_proxy_apply(nl_sock_t *s, const net_proxy_plan_t *plan, char *err, size_t errlen);
/* Change the table from old (what was applied last; NULL: make it anew,
 * as net_proxy_apply) to plan, in one batch touching only what differs.
 * On failure the table is as it was. */
int net_proxy_apply_diff(nl_sock_t *s, const net_proxy_plan_t *old, const net_proxy_plan_t *plan,
                         char *err, size_t errlen);
/* A deep copy of plan into *ret (node not copied: NULL). */
void net_proxy_plan_copy(const net_proxy_plan_t *plan, net_proxy_plan_t *ret);
/* Delete the table; 0 if there was none. */
int net_proxy_remove(nl_sock_t *s, char *err, size_t errlen);
/* The table's rules as text ("chain: exprs;..."; nft.h), for tests. */
int net_proxy_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen);

typedef struct net_proxy net_proxy_t;
typedef struct {
  const char *cluster_cidr; /* "10.42.0.0/16"; NULL: no masquerade of outside traffic */
  const char *node_name;    /* this node (Local traffic policies); NULL: no local endpoints */
} net_proxy_opts_t;

/* Start the informers on c (which must outlive the proxy). Returns 0 and
 * *ret, or a negative errno with a reason in err. Needs CAP_NET_ADMIN. */
int net_proxy_new(struct ev_loop *loop, client_t *c, const net_proxy_opts_t *o,
                  net_proxy_t **ret, char *err, size_t errlen);
/* Stop watching; the table stays (services keep working while the agent
 * restarts). Accepts NULL. */
void net_proxy_free(net_proxy_t *p);
