/* Allocation of Service ClusterIPs (from --service-cidr) and NodePorts
 * (30000-32767), as bitmaps rebuilt from stored Services at start-up.
 * Errors use upstream wording ("provided IP is already allocated"). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/ipalloc.h"
#include "api/object.h"
#include "util/alloc.h"

struct api_ipalloc {
  uint32_t base; /* network address, host order */
  uint32_t size; /* addresses in the range */
  uint32_t cursor;
  unsigned char *bits;
};

static bool bit_get(const unsigned char *b, uint32_t i) { return b[i / 8] & (1u << (i % 8)); }
static void bit_set(unsigned char *b, uint32_t i, bool v) {
  if (v)
    b[i / 8] |= (unsigned char)(1u << (i % 8));
  else
    b[i / 8] &= (unsigned char)~(1u << (i % 8));
}

int api__ipalloc_new(api_server_t *srv, char *err, size_t errlen) {
  char net[64];
  snprintf(net, sizeof(net), "%s", srv->service_cidr);
  char *slash = strchr(net, '/');
  long bits = slash ? strtol(slash + 1, NULL, 10) : -1;
  if (slash)
    *slash = '\0';
  struct in_addr a;
  if (!slash || inet_pton(AF_INET, net, &a) != 1 || bits < 12 || bits > 28) {
    snprintf(err, errlen, "service CIDR \"%s\" is not an IPv4 network from /12 to /28",
             srv->service_cidr);
    return -EINVAL;
  }
  api_ipalloc_t *ip = xcalloc(1, sizeof(*ip));
  ip->size = 1u << (32 - bits);
  ip->base = ntohl(a.s_addr) & ~(ip->size - 1);
  ip->bits = xcalloc(ip->size / 8, 1);
  bit_set(ip->bits, 0, true);            /* network address */
  bit_set(ip->bits, ip->size - 1, true); /* broadcast */
  ip->cursor = ip->size > 64 ? 16 : 1;   /* leave the low addresses for fixed IPs */
  srv->ips = ip;
  int nports = srv->node_port_max - srv->node_port_min + 1;
  srv->node_ports = xcalloc((size_t)nports / 8 + 1, 1);
  return 0;
}

void api__ipalloc_free(api_server_t *srv) {
  if (srv->ips)
    free(srv->ips->bits);
  free(srv->ips);
  srv->ips = NULL;
  free(srv->node_ports);
  srv->node_ports = NULL;
}

static int ip_index(const api_ipalloc_t *ip, const char *s, uint32_t *ret) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1)
    return -EINVAL;
  uint32_t v = ntohl(a.s_addr);
  if (v < ip->base || v - ip->base >= ip->size)
    return -ERANGE;
  *ret = v - ip->base;
  return 0;
}

int api_ipalloc_claim(api_server_t *srv, const char *want, char *out, size_t outlen) {
  api_ipalloc_t *ip = srv->ips;
  uint32_t idx;
  if (want && want[0]) {
    int r = ip_index(ip, want, &idx);
    if (r < 0)
      return r;
    if (bit_get(ip->bits, idx))
      return -EEXIST;
  } else {
    uint32_t n = 0;
    idx = ip->cursor;
    while (n < ip->size && bit_get(ip->bits, idx)) {
      idx = (idx + 1) % ip->size;
      n++;
    }
    if (n == ip->size)
      return -ENOSPC;
    ip->cursor = (idx + 1) % ip->size;
  }
  bit_set(ip->bits, idx, true);
  struct in_addr a = {.s_addr = htonl(ip->base + idx)};
  inet_ntop(AF_INET, &a, out, (socklen_t)outlen);
  return 0;
}

void api_ipalloc_release(api_server_t *srv, const char *addr) {
  uint32_t idx;
  if (addr && ip_index(srv->ips, addr, &idx) == 0 && idx != 0 && idx != srv->ips->size - 1)
    bit_set(srv->ips->bits, idx, false);
}

int api_nodeport_claim(api_server_t *srv, int want, int *ret_port) {
  int n = srv->node_port_max - srv->node_port_min + 1;
  if (want) {
    if (want < srv->node_port_min || want > srv->node_port_max)
      return -ERANGE;
    if (bit_get(srv->node_ports, (uint32_t)(want - srv->node_port_min)))
      return -EEXIST;
    bit_set(srv->node_ports, (uint32_t)(want - srv->node_port_min), true);
    *ret_port = want;
    return 0;
  }
  int start = (int)((unsigned)rand() % (unsigned)n);
  for (int i = 0; i < n; i++) {
    int idx = (start + i) % n;
    if (!bit_get(srv->node_ports, (uint32_t)idx)) {
      bit_set(srv->node_ports, (uint32_t)idx, true);
      *ret_port = srv->node_port_min + idx;
      return 0;
    }
  }
  return -ENOSPC;
}

void api_nodeport_release(api_server_t *srv, int port) {
  if (port >= srv->node_port_min && port <= srv->node_port_max)
    bit_set(srv->node_ports, (uint32_t)(port - srv->node_port_min), false);
}

void api__ipalloc_load(api_server_t *srv) {
  const api_resource_t *res = api_registry_find_kind("", "Service");
  if (!res)
    return;
  char *prefix = api_resource_key(res, NULL, NULL);
  store_list_opts_t lo = {.prefix = prefix};
  store_list_t l;
  if (store_list(srv->store, &lo, &l) == 0) {
    for (size_t i = 0; i < l.n; i++) {
      cJSON *svc = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
      const cJSON *ipj;
      char buf[64];
      cJSON_ArrayForEach(ipj, obj_get(svc, "spec.clusterIPs")) {
        if (cJSON_IsString(ipj))
          api_ipalloc_claim(srv, ipj->valuestring, buf, sizeof(buf));
      }
      const cJSON *p;
      cJSON_ArrayForEach(p, obj_get(svc, "spec.ports")) {
        const cJSON *np = obj_get(p, "nodePort");
        int got;
        if (cJSON_IsNumber(np))
          api_nodeport_claim(srv, np->valueint, &got);
      }
      const cJSON *hc = obj_get(svc, "spec.healthCheckNodePort");
      int got;
      if (cJSON_IsNumber(hc) && hc->valueint > 0)
        api_nodeport_claim(srv, hc->valueint, &got);
      cJSON_Delete(svc);
    }
    store_list_done(&l);
  }
  free(prefix);
}
