/* pkg/net rtnl: the rtnetlink operations k3c's node networking needs, on
 * nl.h: links (look up, create dummy/bridge/veth/vxlan through callers'
 * attributes, set up, MTU, delete), IPv4 addresses and routes. Each call
 * opens nothing: it takes a NETLINK_ROUTE socket from nl_open. Calls act in
 * the socket's network namespace. Errors: negative errno with the kernel's
 * reason in err. Idempotent where the name says "ensure". */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/nl.h"

/* Interface index of name, or -ENODEV. */
int rtnl_link_index(nl_sock_t *s, const char *name, char *err, size_t errlen);

/* Create link name of kind ("dummy", "bridge", "vxlan", ...) unless it
 * exists. put_info, if not NULL, adds attributes inside IFLA_INFO_DATA (for
 * vxlan: IFLA_VXLAN_ID, ...); put_link adds top-level IFLA_* attributes
 * (IFLA_MTU, IFLA_ADDRESS, ...). Returns 1 if created, 0 if it existed. */
typedef void (*rtnl_put_fn)(nl_msg_t *m, void *data);
int rtnl_link_ensure(nl_sock_t *s, const char *name, const char *kind, rtnl_put_fn put_link,
                     rtnl_put_fn put_info, void *data, char *err, size_t errlen);
/* Bring the link up (IFF_UP). */
int rtnl_link_up(nl_sock_t *s, int ifindex, char *err, size_t errlen);
/* Delete the link; 0 if it did not exist. */
int rtnl_link_del(nl_sock_t *s, const char *name, char *err, size_t errlen);

/* Add addr/prefix (IPv4) to ifindex unless present. scope: RT_SCOPE_*. */
int rtnl_addr4_ensure(nl_sock_t *s, int ifindex, struct in_addr addr, int prefix, int scope,
                      char *err, size_t errlen);

/* An IPv4 route in the main table. gw 0.0.0.0 = directly on ifindex;
 * onlink lets a gateway be off the link's subnets (VXLAN routes). */
typedef struct {
  struct in_addr dst;
  int prefix;
  struct in_addr gw;
  int ifindex;
  bool onlink;
} rtnl_route4_t;
/* Add or replace (NLM_F_REPLACE). */
int rtnl_route4_replace(nl_sock_t *s, const rtnl_route4_t *r, char *err, size_t errlen);
/* Delete; 0 if it did not exist. */
int rtnl_route4_del(nl_sock_t *s, const rtnl_route4_t *r, char *err, size_t errlen);
