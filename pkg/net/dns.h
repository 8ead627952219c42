/* pkg/net dns: the node's cluster DNS server on libev, UDP and TCP
 * (RFC 1035 4.2, RFC 7766: length-prefixed, several queries per
 * connection, idle timeout, bounded connections). Names of the cluster
 * zone and the reverse names of the cluster's networks are answered from
 * dnszone (an ExternalName's CNAME followed by its target's A/AAAA, from
 * the zone or upstream, as CoreDNS answers); everything else is forwarded to the node's resolvers (the
 * nameservers of a resolv.conf) over UDP with a timeout and a retry on the
 * next server, over TCP when an answer comes back truncated, SERVFAIL when
 * every server failed; forwarded answers are cached (bounded, honouring
 * TTLs, negative answers by their SOA minimum, RFC 2308). Never blocks
 * the loop. docs/NETWORK.md describes it.
 *
 * Threads: the loop it was created on. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dnszone.h"

typedef struct dns_server dns_server_t;

typedef struct {
  const char *listen_ip;   /* IPv4 address to listen on (the cluster DNS IP) */
  int port;                /* 53; 0: any free port (tests; see dns_server_port) */
  const char *resolv_conf; /* where the upstream nameservers are: "/etc/resolv.conf" */
  int upstream_port;       /* port of those nameservers (0: 53; tests) */
  dns_zone_t zone;         /* caches borrowed, must outlive the server */
  double timeout;          /* seconds per upstream try (0: 2) */
  size_t cache_max;        /* cached answers (0: 1000) */
  int max_tcp;             /* TCP connections at once (0: 64) */
  double tcp_idle;         /* seconds a TCP connection may be idle (0: 10) */
  int max_pending;         /* forwarded queries in flight (0: 256) */
  /* Called (during dns_server_new) with a one-line message about the
   * resolv.conf the user should see: missing, no usable nameserver, a
   * nameserver skipped (IPv6, or the server itself: a loop). NULL: none. */
  void (*warn_cb)(const char *msg, void *data);
  void *warn_data;
} dns_server_opts_t;

/* Listen on UDP and TCP listen_ip:port and read the resolv.conf (a
 * missing or empty one leaves no upstreams: forwarded names get SERVFAIL;
 * a nameserver equal to listen_ip is a loop and is skipped; both are told
 * to warn_cb). Strings of o are copied. Returns 0 and *ret, or a negative
 * errno with a reason in err (the address is not local, the port is
 * taken, ...). */
int dns_server_new(struct ev_loop *loop, const dns_server_opts_t *o, dns_server_t **ret,
                   char *err, size_t errlen);
/* Close every socket, answer nothing more. Accepts NULL. */
void dns_server_free(dns_server_t *s);
/* Whether the zone's caches are filled (informers synced); until then
 * names of the zone get SERVFAIL, not a false NXDOMAIN (others are still
 * forwarded). A new server is ready. */
void dns_server_set_zone_ready(dns_server_t *s, bool ready);
/* The UDP/TCP port listened on. */
int dns_server_port(const dns_server_t *s);
/* The upstream servers read from the resolv.conf. */
size_t dns_server_upstreams(const dns_server_t *s);

typedef struct {
  unsigned queries;      /* queries read (UDP and TCP) */
  unsigned zone;         /* answered from the cluster zone */
  unsigned forwarded;    /* sent upstream (first tries) */
  unsigned retries;      /* sent to the next upstream after a timeout */
  unsigned upstream_tcp; /* retried over TCP after a truncated answer */
  unsigned cache_hits;
  unsigned servfail;     /* SERVFAIL answers we made */
  unsigned truncated;    /* UDP answers sent with TC */
  unsigned tcp_conns;    /* TCP connections accepted */
  size_t cached;         /* answers in the cache now */
} dns_server_stats_t;
void dns_server_stats(const dns_server_t *s, dns_server_stats_t *ret);

/* Put ip as a /32 on a link k3c owns ("k3c-dns0", a bridge without ports,
 * created and set up through rtnetlink), falling back to "lo" when the
 * bridge cannot be made, so that the server can bind it and pods reach it
 * through the host's routing. Writes the link used to ret_link. Returns 0
 * or a negative errno with the reason in err. Needs CAP_NET_ADMIN. */
int dns_address_ensure(const char *ip, char *ret_link, size_t linklen, char *err, size_t errlen);
