/* The node agent's cluster DNS: Service and EndpointSlice informers
 * feeding pkg/net's DNS server on --cluster-dns, as the kubelet's
 * clusterDNS points pods at it.
 * https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/ */
#include "agent/clusterdns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/informer.h"
#include "net/dns.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAX_OBJECTS 100000

struct agent_clusterdns {
  client_informer_t *services, *slices;
  dns_server_t *server;
};

/* The zone is answered once both caches hold their first list. */
static void synced_cb(void *data) {
  agent_clusterdns_t *d = data;
  if (client_informer_synced(d->services) && client_informer_synced(d->slices)) {
    dns_server_set_zone_ready(d->server, true);
    log_info("dns", "cluster.local answered from the Service and EndpointSlice caches");
  }
}

void agent_clusterdns_free(agent_clusterdns_t *d) {
  if (!d)
    return;
  dns_server_free(d->server);
  client_informer_free(d->services);
  client_informer_free(d->slices);
  free(d);
}

static void warn_cb(const char *msg, void *data) {
  (void)data;
  log_warn("dns", "%s", msg);
}

int agent_clusterdns_new(struct ev_loop *loop, client_t *c, const k3c_config_t *cfg,
                         agent_clusterdns_t **ret, char *err, size_t errlen) {
  agent_clusterdns_t *d = xcalloc(1, sizeof(*d));
  char link[32];
  client_ref_t svc = {.version = "v1", .resource = "services"};
  client_ref_t eps = {.group = "discovery.k8s.io", .version = "v1", .resource = "endpointslices"};
  int r = dns_address_ensure(cfg->cluster_dns, link, sizeof(link), err, errlen);
  if (r < 0)
    goto fail;
  if ((r = client_informer_new(c, &svc, NULL, NULL, MAX_OBJECTS, &d->services)) < 0 ||
      (r = client_informer_new(c, &eps, NULL, NULL, MAX_OBJECTS, &d->slices)) < 0 ||
      (r = client_informer_add_index(d->slices, CLIENT_INDEX_LABEL, client_index_labels)) < 0) {
    snprintf(err, errlen, "watching services and endpointslices: %s", strerror(-r));
    goto fail;
  }
  dns_server_opts_t o = {
      .listen_ip = cfg->cluster_dns,
      .port = 53,
      .resolv_conf = cfg->resolv_conf,
      .warn_cb = warn_cb,
      .zone = {.services = client_informer_cache(d->services),
               .slices = client_informer_cache(d->slices),
               .zone = "cluster.local",
               .ttl = 5,
               .serial = (uint32_t)time(NULL),
               .service_cidr = cfg->service_cidr,
               .cluster_cidr = cfg->cluster_cidr},
  };
  if ((r = dns_server_new(loop, &o, &d->server, err, errlen)) < 0)
    goto fail;
  dns_server_set_zone_ready(d->server, false);
  client_informer_on_synced(d->services, synced_cb, d);
  client_informer_on_synced(d->slices, synced_cb, d);
  client_informer_start(d->services);
  client_informer_start(d->slices);
  log_info("dns", "cluster DNS on %s:53 (UDP, TCP; link %s), %zu upstream nameserver(s) from %s",
           cfg->cluster_dns, link, dns_server_upstreams(d->server),
           cfg->resolv_conf ? cfg->resolv_conf : "/etc/resolv.conf");
  *ret = d;
  return 0;
fail:
  agent_clusterdns_free(d);
  return r;
}
