/* pkg/net conntrack: removing conntrack entries through ctnetlink
 * (NETLINK_NETFILTER), as `conntrack -D` does, for the service proxy: a
 * UDP flow DNATed to an endpoint that went away keeps its entry (and so
 * its endpoint) while the client keeps sending; deleting it makes the next
 * packet choose again. Blocking; the socket's network namespace. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "net/nl.h"

/* Delete every entry of protocol proto (IPPROTO_UDP, ...) whose reply
 * comes from ip:port (host order) while its original destination is
 * another address or port: the flows NATed to that endpoint. Returns the
 * number deleted, or a negative errno with the reason in err. */
int net_ct_delete_natted_to(nl_sock_t *s, uint8_t proto, struct in_addr ip, uint16_t port,
                            char *err, size_t errlen);
