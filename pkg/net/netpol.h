/* pkg/net netpol: NetworkPolicy (networking.k8s.io/v1) enforcement on a
 * node, in an nf_tables table of k3c's own, "ip k3c-netpol", made through
 * nfnetlink (nft.h): the kube-router way k3s does it, for the pods of this
 * node, with peers anywhere in the cluster matched by their pod IPs.
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/
 *
 * The plan (pure, netpol_plan.c), from every NetworkPolicy, Pod and
 * Namespace of the informer caches and this node's name:
 *   - a policy selects the pods of its namespace that match spec.podSelector
 *     ({} all); policyTypes default to Ingress, plus Egress when
 *     spec.egress has a rule. A pod selected by a policy of a type is
 *     isolated for that direction: only what some such policy's rules
 *     allow gets through (the policies add up), an empty rule list allows
 *     nothing (default deny), a rule {} everything.
 *   - a peer: podSelector (pods of the policy's namespace), namespaceSelector
 *     (all pods of the matching namespaces), both (matching pods of matching
 *     namespaces), or ipBlock (cidr minus except, as CIDR pieces). No
 *     from/to: every peer. Pods count as peers with a status.podIP, not
 *     hostNetwork, not Succeeded/Failed.
 *   - ports: protocol (TCP default, UDP, SCTP), port by number (endPort:
 *     a range) or by name, resolved per pod against its containers' ports
 *     (ingress: the selected pod's, egress: the peer's); no port: all ports
 *     of the protocol; no ports: everything.
 *   - a selector or CIDR that does not parse allows nothing (fail closed).
 * The table:
 *   chain egress  (filter, hook forward, priority 0) and
 *   chain ingress (filter, hook forward, priority 1):
 *     ct state established,related accept
 *     ip saddr (egress) / daddr (ingress) <isolated local pod> jump pod-out:<ip> / pod-in:<ip>
 *   chain pod-in:<ip>: jump in:<ns>/<policy> ... ; drop     (pod-out: likewise)
 *   chain in:<ns>/<policy>: one rule per allowed (peer, port):
 *     [ip saddr @<set> | ip saddr <cidr>] [meta l4proto <p> [th dport <n>[-<m>]]]
 *     [ip daddr <pod> (a named port resolved for that pod)] accept
 *   set in:<ns>/<policy>:<rule>[:<port>]: the peer pods' IPs (type ipv4_addr)
 * Traffic from the node itself (kubelet probes) takes the output hook, not
 * forward, and is never filtered; traffic of pods on other nodes arrives
 * over flannel.1 and is forwarded to cni0, the same-node pods' is bridged
 * on cni0 and seen by forward through br_netfilter (bridge-nf-call-iptables).
 * A change of the plan's chains rebuilds the table in one atomic batch; a
 * change of only the peer sets' contents flushes and refills those sets
 * (one batch). Both come 100 ms after the last event, and every 30 s the
 * table is rebuilt (it comes back if deleted by hand).
 *
 * Threads: the plan functions are pure (any thread); the table functions
 * block on netlink; the agent's side runs on the client's loop. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "net/nl.h"

#define NET_NETPOL_TABLE "k3c-netpol"

typedef struct {
  uint8_t proto;     /* 0: any protocol (and port); IPPROTO_TCP, _UDP, _SCTP */
  uint16_t port, end; /* 0: every port of proto; end == port: one port */
} net_netpol_port_t;

enum { NET_NETPOL_ANY, NET_NETPOL_SET, NET_NETPOL_CIDR };

/* One allowed (peer, port): one rule ending in accept. */
typedef struct {
  int kind;               /* NET_NETPOL_ANY, _SET, _CIDR */
  size_t set;             /* _SET: index in plan->sets */
  struct in_addr net;     /* _CIDR */
  int prefix;
  net_netpol_port_t port;
  struct in_addr pod;     /* s_addr != 0: only for this local pod (a named ingress port) */
} net_netpol_match_t;

typedef struct {
  char name[240]; /* "in:<ns>/<name>" or "out:<ns>/<name>" */
  bool egress;
  net_netpol_match_t *v;
  size_t n;
} net_netpol_chain_t;

typedef struct {
  char name[256];      /* "<chain>:<rule>[:<port name>/<number>]" */
  struct in_addr *ips; /* sorted, distinct */
  size_t n;
} net_netpol_set_t;

typedef struct {
  struct in_addr ip;
  char name[160];      /* "<ns>/<name>" */
  size_t *in, n_in;    /* chains (indexes) of the policies isolating it for ingress */
  size_t *out, n_out;  /* and for egress */
} net_netpol_pod_t;

typedef struct {
  net_netpol_pod_t *pods; /* this node's pods selected by some policy, sorted by IP */
  size_t n_pods;
  net_netpol_chain_t *chains; /* sorted by name */
  size_t n_chains;
  net_netpol_set_t *sets;
  size_t n_sets;
} net_netpol_plan_t;

/* Build plan (zeroed by the caller) from the policies, every pod of the
 * cluster and the namespaces (borrowed), for the pods whose spec.nodeName
 * is node. Pure. */
void net_netpol_plan_build(net_netpol_plan_t *plan, const char *node,
                           const cJSON *const *policies, size_t n_policies,
                           const cJSON *const *pods, size_t n_pods, const cJSON *const *namespaces,
                           size_t n_namespaces);
void net_netpol_plan_free(net_netpol_plan_t *plan);
/* The plan as text: the pods and chains ("pod <ip> <ns/name> in: <chains>
 * out: <chains>", "chain <name>", "  <peer> <port> [pod <ip>]"), then,
 * when with_sets, the sets ("set <name>: <ip> ..."), lines ending in \n.
 * Newly allocated. */
char *net_netpol_plan_text(const net_netpol_plan_t *plan, bool with_sets);

/* ipBlock: cidr minus the except CIDRs, as the fewest CIDRs covering the
 * rest, in address order, into out (at most max; returns how many, or
 * -EINVAL when a CIDR does not parse or is not IPv4, -E2BIG past max).
 * Excepts outside cidr are ignored, as upstream's validation rejects them. */
int net_netpol_cidr_minus(const char *cidr, const char *const *except, size_t n_except,
                          struct in_addr *out_net, int *out_prefix, size_t max);

/* Make table ip k3c-netpol from plan, replacing what it held, in one batch.
 * 0 or a negative errno with the kernel's reason in err. */
int net_netpol_apply(nl_sock_t *s, const net_netpol_plan_t *plan, char *err, size_t errlen);
/* Replace the elements of the plan's sets whose index is marked in
 * changed[] (one per set), in one batch; the table and sets must exist as
 * apply made them. */
int net_netpol_update_sets(nl_sock_t *s, const net_netpol_plan_t *plan, const bool *changed,
                           char *err, size_t errlen);
/* Delete the table; 0 if there was none. */
int net_netpol_remove(nl_sock_t *s, char *err, size_t errlen);
/* The table's rules as text ("chain: exprs;...", nft.h), for tests. */
int net_netpol_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen);
/* The elements of one set as "ip ip ..." (kernel order), for tests. */
int net_netpol_describe_set(nl_sock_t *s, const char *set, char *out, size_t outlen, char *err,
                            size_t errlen);

typedef struct net_netpol net_netpol_t;

/* Start the informers (networkpolicies, pods, namespaces) on c, which must
 * outlive it, enforcing for node's pods. Returns 0 and *ret, or a negative
 * errno with a reason in err. Needs CAP_NET_ADMIN. */
int net_netpol_new(struct ev_loop *loop, client_t *c, const char *node, net_netpol_t **ret,
                   char *err, size_t errlen);
/* Stop watching; the table stays (policies hold while the agent
 * restarts). Accepts NULL. */
void net_netpol_free(net_netpol_t *p);
