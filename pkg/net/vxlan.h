/* pkg/net vxlan: the overlay's kernel side, on rtnl.h: the VXLAN device
 * (flannel.1 in flannel's vxlan backend) and what makes a peer node
 * reachable through it:
 *   neighbour  <peer's flannel.1 address>  lladdr <peer's VTEP MAC>  (ARP)
 *   FDB        <peer's VTEP MAC>  dst <peer's public IP>  (AF_BRIDGE, self)
 *   route      <peer's pod CIDR> via <peer's flannel.1 address> onlink
 * all NUD_PERMANENT, made by this code and never learnt (nolearning).
 * https://www.kernel.org/doc/html/latest/networking/vxlan.html
 *
 * Calls act in the socket's network namespace, block (netlink requests
 * are applied synchronously) and return 0 or a negative errno with the
 * kernel's reason in err (may be NULL). Removals of what is already gone
 * succeed. Any thread that owns the socket. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/nl.h"

#define NET_VXLAN_OVERHEAD 50 /* outer IPv4 20 + UDP 8 + VXLAN 8 + Ethernet 14 */

typedef struct {
  const char *name;      /* "flannel.1" */
  uint32_t vni;          /* 1 */
  uint16_t port;         /* 8472 */
  struct in_addr local;  /* the node's public IP: the outer source */
  int underlay_ifindex;  /* the interface that carries it (IFLA_VXLAN_LINK); 0: none */
  int mtu;               /* the device's MTU (the underlay's minus NET_VXLAN_OVERHEAD) */
  uint8_t mac[6];        /* the VTEP MAC: keep it stable (net_vxlan_mac_from_name) */
} net_vxlan_opts_t;

/* What the kernel holds for a VXLAN link. */
typedef struct {
  int ifindex;
  uint32_t vni;
  uint16_t port;
  struct in_addr local;
  int underlay_ifindex;
  int mtu;
  uint8_t mac[6];
  bool learning;
  bool up;
} net_vxlan_info_t;

/* A locally administered unicast MAC derived from name (a node name):
 * the same name always gives the same MAC, so a restarted agent keeps the
 * one its peers have programmed. */
void net_vxlan_mac_from_name(const char *name, uint8_t ret_mac[6]);
/* "aa:bb:cc:dd:ee:ff" into mac; -EINVAL if s is not one. */
int net_vxlan_mac_parse(const char *s, uint8_t ret_mac[6]);
/* mac as "aa:bb:cc:dd:ee:ff" (out: at least 18 bytes). */
void net_vxlan_mac_format(const uint8_t mac[6], char *out, size_t outlen);

/* Make the device as o says and bring it up: created if missing; an
 * existing one of another kind or with another VNI, port, local address
 * or underlay is deleted and made again; MTU and MAC are set if they
 * differ. *ret_ifindex: its index (on success). */
int net_vxlan_ensure(nl_sock_t *s, const net_vxlan_opts_t *o, int *ret_ifindex, char *err,
                     size_t errlen);
/* The link's VXLAN facts; -ENODEV if missing, -EMEDIUMTYPE if it is not
 * a VXLAN link. */
int net_vxlan_info(nl_sock_t *s, const char *name, net_vxlan_info_t *ret, char *err,
                   size_t errlen);

/* Give the device exactly the IPv4 address addr/32 (flannel gives it the
 * pod CIDR's network address): added, and other IPv4 addresses removed. */
int net_vxlan_set_addr(nl_sock_t *s, int ifindex, struct in_addr addr, char *err,
                       size_t errlen);

/* One peer node as the device sees it. */
typedef struct {
  struct in_addr pod_net;  /* its pod CIDR */
  int pod_prefix;
  struct in_addr vtep_ip;  /* its flannel.1 address (the pod CIDR's .0) */
  uint8_t vtep_mac[6];
  struct in_addr public_ip;
} net_vxlan_peer_t;

/* Program neighbour, FDB entry and route of p on ifindex (replacing what
 * was there for the same keys). */
int net_vxlan_peer_add(nl_sock_t *s, int ifindex, const net_vxlan_peer_t *p, char *err,
                       size_t errlen);
/* Remove them (each may already be gone). */
int net_vxlan_peer_del(nl_sock_t *s, int ifindex, const net_vxlan_peer_t *p, char *err,
                       size_t errlen);

/* Single entries, for removing leftovers found by net_vxlan_walk. */
int net_vxlan_neigh_del(nl_sock_t *s, int ifindex, struct in_addr ip, char *err, size_t errlen);
int net_vxlan_fdb_del(nl_sock_t *s, int ifindex, const uint8_t mac[6], struct in_addr dst,
                      char *err, size_t errlen);

/* What is programmed on ifindex, for cleaning up after a restart and for
 * tests: each callback runs once per entry; return 0 to go on. */
typedef struct {
  int (*neigh)(struct in_addr ip, const uint8_t mac[6], void *data);   /* permanent only */
  int (*fdb)(const uint8_t mac[6], struct in_addr dst, void *data);    /* with a dst */
  int (*route)(struct in_addr net, int prefix, struct in_addr gw, void *data); /* main table */
} net_vxlan_walk_t;
int net_vxlan_walk(nl_sock_t *s, int ifindex, const net_vxlan_walk_t *w, void *data, char *err,
                   size_t errlen);
