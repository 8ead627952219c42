/* pkg/net dnszone: the answers of the cluster zone (cluster.local) from
 * the Services and EndpointSlices (discovery.k8s.io/v1) of informer
 * caches, as the Kubernetes DNS specification and CoreDNS's kubernetes
 * plugin (with "pods insecure") answer them:
 *   <svc>.<ns>.svc.<zone>             A/AAAA: the ClusterIP; headless: the
 *                                     ready endpoint addresses; ExternalName:
 *                                     CNAME to spec.externalName
 *   <host>.<svc>.<ns>.svc.<zone>      A/AAAA of a headless endpoint, by its
 *                                     hostname or its dashed address
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV (ClusterIP: to the service
 *                                     name; headless: one per endpoint)
 *   <a-b-c-d>.<ns>.pod.<zone>         A a.b.c.d
 *   <d.c.b.a>.in-addr.arpa            PTR of ClusterIPs and headless
 *                                     endpoint addresses
 * A name that does not exist is NXDOMAIN, an existing name without records
 * of the type NOERROR with no answer; both carry the zone's SOA in the
 * authority section. https://github.com/kubernetes/dns/blob/master/docs/specification.md
 * Pure functions over the caches; single-threaded (the caches' loop). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client/cache.h"
#include "net/dnsmsg.h"

/* The EndpointSlices cache must have a CLIENT_INDEX_LABEL index (the
 * slices of a service are found by kubernetes.io/service-name). */
typedef struct {
  const client_cache_t *services;
  const client_cache_t *slices;
  const char *zone;        /* "cluster.local" (no final dot) */
  uint32_t ttl;            /* of every record, CoreDNS's 5 */
  uint32_t serial;         /* the SOA serial */
  /* IPv4 networks whose reverse names are ours ("10.43.0.0/16"); a PTR
   * query in them that matches nothing is NXDOMAIN, outside them
   * dns_zone_owns says false unless a service or endpoint has the address. */
  const char *service_cidr, *cluster_cidr;
} dns_zone_t;

/* Whether qname (presentation form, no final dot) is ours to answer:
 * inside the zone, or a PTR name of our networks or of a known address. */
bool dns_zone_owns(const dns_zone_t *z, const char *qname, uint16_t qtype);

/* Write the answer to (qname, qtype) into w, which holds the header and
 * question already: answer records, the SOA in authority for negative
 * answers, A records of SRV targets in additional. Returns the rcode
 * (DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN). w->truncated tells whether
 * records were left out. */
int dns_zone_answer(const dns_zone_t *z, const char *qname, uint16_t qtype, dns_writer_t *w);
