/* pkg/net proxy: the service proxy (kube-proxy's job) in an nf_tables
 * table of k3c's own, "ip k3c-proxy", made through nfnetlink (nft.h). On
 * every agent, informers on Services and EndpointSlices
 * (discovery.k8s.io/v1) give the plan: for each Service port with a
 * ClusterIP (not headless, not ExternalName, not annotated
 * k3c.io/node-local "true", which the node-local DNS serves) the ready
 * endpoints (conditions.ready not false) of its slices (label
 * kubernetes.io/service-name, the port of the same name and protocol).
 * The table:
 *   chain prerouting (nat, dstnat -100) and output (nat, -100):
 *     jump services; fib daddr type local jump nodeports
 *   chain services:  ip daddr <clusterIP> meta l4proto <p> th dport <port> jump <svc chain>
 *   chain nodeports: meta l4proto <p> th dport <nodePort> jump <svc chain>
 *   chain <svc chain> ("svc-<ns>/<name>:<port>"), N ready endpoints:
 *     ip saddr != <cluster CIDR> meta mark set 0x4000   (masqueraded below)
 *     numgen random mod N   == 0 dnat to <ep 0>
 *     numgen random mod N-1 == 0 dnat to <ep 1> ... ; dnat to <ep N-1>
 *     (each endpoint with probability 1/N, as kube-proxy's iptables mode)
 *   chain postrouting (nat, srcnat 100):
 *     meta mark & 0x4000 == 0x4000 masquerade  (from outside the cluster CIDR)
 *     ip saddr <ep> ip daddr <ep> masquerade    (hairpin: a pod reaching itself)
 *   chain no-endpoints, jumped to from filter chains on input, forward,
 *     output (priority -10): a Service port without ready endpoints
 *     rejected with icmp port unreachable (connection refused), for its
 *     ClusterIP and its NodePort on a local address.
 * Every change rebuilds the whole table in one atomic batch (the kernel
 * applies all or nothing; established connections keep their conntrack
 * NAT), 100 ms after the last event, and again every 30 s (rules removed
 * by hand come back; the first one after start replaces whatever a
 * previous run left). The conntrack entries of UDP flows NATed to an
 * endpoint that left the plan are deleted (conntrack.h), so a client that
 * keeps sending picks a live endpoint. docs/NETWORK.md describes it.
 *
 * Threads: the client's loop; netlink calls are made on it. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <netinet/in.h>
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

typedef struct {
  char name[160];    /* "<ns>/<name>:<port name or number>" */
  uint8_t proto;     /* IPPROTO_TCP, _UDP, _SCTP */
  struct in_addr cluster_ip;
  uint16_t port;
  uint16_t node_port; /* 0: none */
  net_proxy_ep_t *eps; /* ready endpoints, sorted */
  size_t n_eps;
} net_proxy_svc_t;

typedef struct {
  net_proxy_svc_t *v; /* sorted by name */
  size_t n;
  struct in_addr cluster; /* cluster CIDR: traffic from elsewhere is masqueraded */
  int cluster_prefix;     /* -1: none known (nothing masqueraded for that reason) */
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
 *   "<name> <proto> <clusterIP>:<port> [nodePort <n>] -> <ip:port> <ip:port>" or "-> reject"
 * Newly allocated. */
char *net_proxy_plan_text(const net_proxy_plan_t *plan);

/* Make table ip k3c-proxy from plan, replacing what it held, in one batch.
 * 0 or a negative errno with the kernel's reason in err. */
int net_proxy_apply(nl_sock_t *s, const net_proxy_plan_t *plan, char *err, size_t errlen);
/* Delete the table; 0 if there was none. */
int net_proxy_remove(nl_sock_t *s, char *err, size_t errlen);
/* The table's rules as text ("chain: exprs;..."; nft.h), for tests. */
int net_proxy_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen);

typedef struct net_proxy net_proxy_t;
typedef struct {
  const char *cluster_cidr; /* "10.42.0.0/16"; NULL: no masquerade of outside traffic */
} net_proxy_opts_t;

/* Start the informers on c (which must outlive the proxy). Returns 0 and
 * *ret, or a negative errno with a reason in err. Needs CAP_NET_ADMIN. */
int net_proxy_new(struct ev_loop *loop, client_t *c, const net_proxy_opts_t *o,
                  net_proxy_t **ret, char *err, size_t errlen);
/* Stop watching; the table stays (services keep working while the agent
 * restarts). Accepts NULL. */
void net_proxy_free(net_proxy_t *p);
