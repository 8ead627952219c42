/* The cluster.local zone answered from Service and EndpointSlice caches,
 * after the Kubernetes DNS-Based Service Discovery specification
 * (https://github.com/kubernetes/dns/blob/master/docs/specification.md)
 * and CoreDNS's kubernetes plugin for the parts the spec leaves open
 * (pod records, SOA fields, SRV weights). */
#include "net/dnszone.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json/util.h"

#define MAX_LABELS 8
#define SERVICE_NAME_LABEL "kubernetes.io/service-name"

static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct {
  const dns_zone_t *z;
  const char *qname; /* the owner of answers: the question's spelling */
  uint16_t qtype;
  dns_writer_t *w;
  int answers;
} ans_t;

static int soa_in(ans_t *a, dns_section_t sec, const char *owner) {
  char mname[300], rname[300];
  snprintf(mname, sizeof(mname), "ns.dns.%s", a->z->zone);
  snprintf(rname, sizeof(rname), "hostmaster.%s", a->z->zone);
  return dns_writer_soa(a->w, sec, owner, a->z->ttl, mname, rname, a->z->serial, 7200, 1800,
                        86400, a->z->ttl) == 0;
}
static void soa(ans_t *a, const char *owner) { soa_in(a, DNS_SEC_AUTHORITY, owner); }

/* Finish: NOERROR with answers, else NODATA (exists) or NXDOMAIN, with SOA. */
static int finish(ans_t *a, bool exists) {
  if (a->answers > 0)
    return DNS_RCODE_NOERROR;
  soa(a, a->z->zone);
  return exists ? DNS_RCODE_NOERROR : DNS_RCODE_NXDOMAIN;
}

/* An address record for ip at name in section s when qtype asks for its
 * family (A, AAAA or ANY). Returns 1 when written. */
static int put_addr(ans_t *a, dns_section_t s, const char *name, const char *ip) {
  uint8_t b[16];
  uint16_t t = a->qtype;
  if (s != DNS_SEC_ANSWER)
    t = DNS_TYPE_ANY;
  if (ip && (t == DNS_TYPE_A || t == DNS_TYPE_ANY) && inet_pton(AF_INET, ip, b) == 1)
    return dns_writer_a(a->w, s, name, a->z->ttl, b) == 0;
  if (ip && (t == DNS_TYPE_AAAA || t == DNS_TYPE_ANY) && inet_pton(AF_INET6, ip, b) == 1)
    return dns_writer_aaaa(a->w, s, name, a->z->ttl, b) == 0;
  return 0;
}

static bool is_headless(const cJSON *svc) {
  const char *cip = str(svc, "spec.clusterIP");
  return cip && !strcmp(cip, "None");
}

static bool is_external(const cJSON *svc) {
  const char *t = str(svc, "spec.type");
  return t && !strcmp(t, "ExternalName");
}

static const cJSON *find_service(const dns_zone_t *z, const char *ns, const char *name) {
  char key[300];
  if (snprintf(key, sizeof(key), "%s/%s", ns, name) >= (int)sizeof(key))
    return NULL;
  return client_cache_get(z->services, key);
}

/* "10-1-2-3" from "10.1.2.3" (IPv6: ':' to '-'). */
static void dashed(const char *ip, char *out, size_t len) {
  snprintf(out, len, "%s", ip);
  for (char *c = out; *c; c++)
    if (*c == '.' || *c == ':')
      *c = '-';
}

/* One endpoint address of a service's slices. */
typedef struct {
  const char *ip;
  const char *hostname; /* NULL: none */
  const cJSON *slice;
} ep_t;
typedef void (*ep_fn)(const ep_t *e, void *data);

/* Call fn for every ready (or, with publishNotReadyAddresses, every)
 * endpoint address of svc's slices. */
static void each_endpoint(const dns_zone_t *z, const cJSON *svc, ep_fn fn, void *data) {
  const char *ns = str(svc, "metadata.namespace"), *name = str(svc, "metadata.name");
  if (!ns || !name || !z->slices)
    return;
  bool all = cJSON_IsTrue(json_get_path(svc, "spec.publishNotReadyAddresses"));
  char val[300];
  if (snprintf(val, sizeof(val), SERVICE_NAME_LABEL "=%s", name) >= (int)sizeof(val))
    return;
  size_t n = 0;
  const cJSON **slices = client_cache_by_index(z->slices, CLIENT_INDEX_LABEL, val, &n);
  for (size_t i = 0; slices && i < n; i++) {
    const char *sns = str(slices[i], "metadata.namespace");
    const char *type = str(slices[i], "addressType");
    if (!sns || strcmp(sns, ns) || (type && strcmp(type, "IPv4") && strcmp(type, "IPv6")))
      continue; /* FQDN slices hold names, not addresses */
    const cJSON *ep;
    cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(slices[i], "endpoints")) {
      const cJSON *ready = json_get_path(ep, "conditions.ready");
      if (!all && cJSON_IsFalse(ready)) /* absent (null) means ready */
        continue;
      ep_t e = {.hostname = str(ep, "hostname"), .slice = slices[i]};
      const cJSON *addr;
      cJSON_ArrayForEach(addr, cJSON_GetObjectItemCaseSensitive(ep, "addresses")) {
        if (!cJSON_IsString(addr))
          continue;
        e.ip = addr->valuestring;
        fn(&e, data);
      }
    }
  }
  free(slices);
}

static void svc_fqdn(const dns_zone_t *z, const cJSON *svc, char *out, size_t len) {
  snprintf(out, len, "%s.%s.svc.%s", str(svc, "metadata.name"), str(svc, "metadata.namespace"),
           z->zone);
}

static void ep_fqdn(const dns_zone_t *z, const cJSON *svc, const ep_t *e, char *out, size_t len) {
  char host[80];
  if (e->hostname && e->hostname[0])
    snprintf(host, sizeof(host), "%s", e->hostname);
  else
    dashed(e->ip, host, sizeof(host));
  snprintf(out, len, "%s.%s.%s.svc.%s", host, str(svc, "metadata.name"),
           str(svc, "metadata.namespace"), z->zone);
}

/* ---- <svc>.<ns>.svc ---- */

typedef struct {
  ans_t *a;
  const cJSON *svc;
  const char *host;  /* endpoint filter (hostname or dashed ip), NULL: all */
  bool found;
  /* SRV */
  const char *port, *proto;
  int pass;          /* 0: count, 1: SRV answers, 2: additional A */
  int count;
} ep_ctx_t;

static void ep_addr_cb(const ep_t *e, void *data) {
  ep_ctx_t *c = data;
  if (c->host) {
    char d[80];
    dashed(e->ip, d, sizeof(d));
    if (!(e->hostname && !strcasecmp(e->hostname, c->host)) && strcasecmp(d, c->host))
      return;
  }
  c->found = true;
  c->a->answers += put_addr(c->a, DNS_SEC_ANSWER, c->a->qname, e->ip);
}

static bool port_match(const cJSON *p, const char *name, const char *proto) {
  const char *pn = str(p, "name"), *pp = str(p, "protocol");
  if (!pp)
    pp = "TCP";
  return (!name || (pn && !strcasecmp(pn, name))) && (!proto || !strcasecmp(pp, proto));
}

static void ep_srv_cb(const ep_t *e, void *data) {
  ep_ctx_t *c = data;
  const cJSON *p;
  char target[400];
  ep_fqdn(c->a->z, c->svc, e, target, sizeof(target));
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(e->slice, "ports")) {
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(p, "port");
    if (!port_match(p, c->port, c->proto) || !cJSON_IsNumber(num))
      continue;
    c->found = true;
    if (c->pass == 0) {
      c->count++;
    } else if (c->pass == 1) {
      uint16_t weight = (uint16_t)(c->count ? 100 / c->count : 100);
      if (c->a->qtype == DNS_TYPE_SRV || c->a->qtype == DNS_TYPE_ANY)
        c->a->answers += dns_writer_srv(c->a->w, DNS_SEC_ANSWER, c->a->qname, c->a->z->ttl, 0,
                                        weight ? weight : 1, (uint16_t)num->valueint,
                                        target) == 0;
    } else {
      put_addr(c->a, DNS_SEC_ADDITIONAL, target, e->ip);
      return; /* one address record per endpoint address */
    }
  }
}

/* The cluster IPs of a service (clusterIPs, else clusterIP). */
static void each_cluster_ip(const cJSON *svc, void (*fn)(const char *ip, void *data), void *data) {
  const cJSON *ips = json_get_path(svc, "spec.clusterIPs"), *ip;
  if (cJSON_IsArray(ips) && cJSON_GetArraySize(ips) > 0) {
    cJSON_ArrayForEach(ip, ips) if (cJSON_IsString(ip)) fn(ip->valuestring, data);
    return;
  }
  const char *one = str(svc, "spec.clusterIP");
  if (one && one[0] && strcmp(one, "None"))
    fn(one, data);
}

typedef struct {
  ans_t *a;
  dns_section_t s;
  const char *name;
} cip_ctx_t;
static void cip_cb(const char *ip, void *data) {
  cip_ctx_t *c = data;
  int n = put_addr(c->a, c->s, c->name, ip);
  if (c->s == DNS_SEC_ANSWER)
    c->a->answers += n;
}

/* SRV answers for svc: port/proto NULL for every port (the service name
 * itself). Returns whether a port matched. */
static bool srv(ans_t *a, const cJSON *svc, const char *port, const char *proto) {
  char fqdn[400];
  svc_fqdn(a->z, svc, fqdn, sizeof(fqdn));
  if (is_headless(svc)) {
    ep_ctx_t c = {.a = a, .svc = svc, .port = port, .proto = proto};
    each_endpoint(a->z, svc, ep_srv_cb, &c);
    if (!c.found || (a->qtype != DNS_TYPE_SRV && a->qtype != DNS_TYPE_ANY))
      return c.found;
    c.pass = 1;
    each_endpoint(a->z, svc, ep_srv_cb, &c);
    c.pass = 2;
    each_endpoint(a->z, svc, ep_srv_cb, &c);
    return true;
  }
  bool found = false;
  const cJSON *p;
  cJSON_ArrayForEach(p, json_get_path(svc, "spec.ports")) {
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(p, "port");
    if (!port_match(p, port, proto) || !cJSON_IsNumber(num))
      continue;
    if (!port && !str(p, "name") && cJSON_GetArraySize(json_get_path(svc, "spec.ports")) > 1)
      continue;
    found = true;
    if (a->qtype == DNS_TYPE_SRV || a->qtype == DNS_TYPE_ANY)
      a->answers += dns_writer_srv(a->w, DNS_SEC_ANSWER, a->qname, a->z->ttl, 0, 100,
                                   (uint16_t)num->valueint, fqdn) == 0;
  }
  if (found && (a->qtype == DNS_TYPE_SRV || a->qtype == DNS_TYPE_ANY)) {
    cip_ctx_t c = {a, DNS_SEC_ADDITIONAL, fqdn};
    each_cluster_ip(svc, cip_cb, &c);
  }
  return found;
}

static int service(ans_t *a, const char *ns, const char *name) {
  const cJSON *svc = find_service(a->z, ns, name);
  if (!svc)
    return finish(a, false);
  if (is_external(svc)) {
    const char *ext = str(svc, "spec.externalName");
    char target[300];
    snprintf(target, sizeof(target), "%s", ext ? ext : "");
    size_t l = strlen(target);
    if (l && target[l - 1] == '.')
      target[l - 1] = '\0';
    if (target[0])
      a->answers += dns_writer_name_rr(a->w, DNS_SEC_ANSWER, a->qname, DNS_TYPE_CNAME,
                                       a->z->ttl, target) == 0;
    return finish(a, true);
  }
  if (a->qtype == DNS_TYPE_SRV) {
    srv(a, svc, NULL, NULL);
    return finish(a, true);
  }
  if (is_headless(svc)) {
    ep_ctx_t c = {.a = a, .svc = svc};
    each_endpoint(a->z, svc, ep_addr_cb, &c);
  } else {
    cip_ctx_t c = {a, DNS_SEC_ANSWER, a->qname};
    each_cluster_ip(svc, cip_cb, &c);
  }
  return finish(a, true);
}

static int endpoint_host(ans_t *a, const char *host, const char *ns, const char *name) {
  const cJSON *svc = find_service(a->z, ns, name);
  if (!svc || !is_headless(svc))
    return finish(a, false);
  ep_ctx_t c = {.a = a, .svc = svc, .host = host};
  each_endpoint(a->z, svc, ep_addr_cb, &c);
  return finish(a, c.found);
}

typedef struct {
  const char *ns;
  bool found;
} ns_ctx_t;
static void ns_cb(const cJSON *obj, void *data) {
  ns_ctx_t *c = data;
  const char *ns = str(obj, "metadata.namespace");
  if (ns && !strcmp(ns, c->ns))
    c->found = true;
}

static bool namespace_exists(const dns_zone_t *z, const char *ns) {
  ns_ctx_t c = {ns, false};
  client_cache_foreach(z->services, ns_cb, &c);
  return c.found;
}

/* "10-1-2-3" to "10.1.2.3"; false when it is not a dashed IPv4 address. */
static bool undash4(const char *label, char *out, size_t len) {
  uint8_t b[4];
  snprintf(out, len, "%s", label);
  for (char *c = out; *c; c++)
    if (*c == '-')
      *c = '.';
  return inet_pton(AF_INET, out, b) == 1;
}

/* ---- reverse ---- */

/* "4.3.2.10.in-addr.arpa" (lowercase) to "10.2.3.4". */
static bool reverse4(const char *name, char *out, size_t len) {
  static const char suffix[] = ".in-addr.arpa";
  size_t n = strlen(name), sl = sizeof(suffix) - 1;
  if (n <= sl || n - sl > 15 || strcasecmp(name + n - sl, suffix))
    return false;
  char tmp[16];
  memcpy(tmp, name, n - sl);
  tmp[n - sl] = '\0';
  char *parts[4];
  int k = 0;
  for (char *save = NULL, *t = strtok_r(tmp, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
    if (k == 4)
      return false;
    parts[k++] = t;
  }
  if (k != 4)
    return false;
  snprintf(out, len, "%s.%s.%s.%s", parts[3], parts[2], parts[1], parts[0]);
  uint8_t b[4];
  return inet_pton(AF_INET, out, b) == 1 && strlen(out) == n - sl;
}

static bool in_cidr(const char *ip, const char *cidr) {
  char net[64];
  if (!cidr || snprintf(net, sizeof(net), "%s", cidr) >= (int)sizeof(net))
    return false;
  char *slash = strchr(net, '/');
  int prefix = 32;
  if (slash) {
    *slash = '\0';
    char *end;
    long v = strtol(slash + 1, &end, 10);
    prefix = *end || end == slash + 1 ? -1 : (int)v; /* checked below */
  }
  struct in_addr a, n;
  if (prefix < 0 || prefix > 32 || inet_pton(AF_INET, ip, &a) != 1 ||
      inet_pton(AF_INET, net, &n) != 1)
    return false;
  uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
  return (a.s_addr & mask) == (n.s_addr & mask);
}

typedef struct {
  const dns_zone_t *z;
  const char *ip;
  char target[400]; /* the first name found */
  bool found;
  const cJSON *svc;
} ptr_ctx_t;

static void ptr_cip_cb(const char *ip, void *data) {
  ptr_ctx_t *c = data;
  if (!c->found && !strcmp(ip, c->ip)) {
    c->found = true;
    svc_fqdn(c->z, c->svc, c->target, sizeof(c->target));
  }
}
static void ptr_ep_cb(const ep_t *e, void *data) {
  ptr_ctx_t *c = data;
  if (!c->found && !strcmp(e->ip, c->ip)) {
    c->found = true;
    ep_fqdn(c->z, c->svc, e, c->target, sizeof(c->target));
  }
}
static void ptr_svc_cb(const cJSON *svc, void *data) {
  ptr_ctx_t *c = data;
  if (c->found || is_external(svc) || !str(svc, "metadata.name") ||
      !str(svc, "metadata.namespace"))
    return;
  c->svc = svc;
  if (is_headless(svc))
    each_endpoint(c->z, svc, ptr_ep_cb, c);
  else
    each_cluster_ip(svc, ptr_cip_cb, c);
}

static bool lookup_ptr(const dns_zone_t *z, const char *ip, ptr_ctx_t *c) {
  memset(c, 0, sizeof(*c));
  c->z = z;
  c->ip = ip;
  client_cache_foreach(z->services, ptr_svc_cb, c);
  return c->found;
}

/* ---- entry points ---- */

/* The name relative to the zone into rel ("" for the apex); false when
 * qname is outside the zone. */
static bool relative(const dns_zone_t *z, const char *qname, char *rel, size_t len) {
  size_t n = strlen(qname), zl = strlen(z->zone);
  if (n == zl && !strcasecmp(qname, z->zone)) {
    rel[0] = '\0';
    return true;
  }
  if (n <= zl + 1 || qname[n - zl - 1] != '.' || strcasecmp(qname + n - zl, z->zone) ||
      n - zl > len)
    return false;
  for (size_t i = 0; i < n - zl - 1; i++)
    rel[i] = (char)(qname[i] >= 'A' && qname[i] <= 'Z' ? qname[i] + 32 : qname[i]);
  rel[n - zl - 1] = '\0';
  return true;
}

bool dns_zone_owns(const dns_zone_t *z, const char *qname, uint16_t qtype) {
  (void)qtype;
  char rel[DNS_NAME_MAX], ip[64];
  if (relative(z, qname, rel, sizeof(rel)))
    return true;
  if (!reverse4(qname, ip, sizeof(ip)))
    return false;
  if (in_cidr(ip, z->service_cidr) || in_cidr(ip, z->cluster_cidr))
    return true;
  ptr_ctx_t c;
  return lookup_ptr(z, ip, &c);
}

int dns_zone_answer(const dns_zone_t *z, const char *qname, uint16_t qtype, dns_writer_t *w) {
  ans_t a = {.z = z, .qname = qname, .qtype = qtype, .w = w};
  char rel[DNS_NAME_MAX], ip[64];
  if (!relative(z, qname, rel, sizeof(rel))) {
    if (!reverse4(qname, ip, sizeof(ip))) {
      soa(&a, z->zone);
      return DNS_RCODE_NXDOMAIN;
    }
    ptr_ctx_t c;
    if (!lookup_ptr(z, ip, &c)) {
      soa(&a, "in-addr.arpa");
      return DNS_RCODE_NXDOMAIN;
    }
    if (qtype == DNS_TYPE_PTR || qtype == DNS_TYPE_ANY)
      a.answers += dns_writer_name_rr(w, DNS_SEC_ANSWER, qname, DNS_TYPE_PTR, z->ttl,
                                      c.target) == 0;
    else
      soa(&a, "in-addr.arpa");
    return DNS_RCODE_NOERROR;
  }
  char *l[MAX_LABELS];
  int n = 0;
  if (rel[0]) {
    for (char *save = NULL, *t = strtok_r(rel, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
      if (n == MAX_LABELS)
        return finish(&a, false);
      l[n++] = t;
    }
  }
  if (n == 0) {
    char ns[300];
    snprintf(ns, sizeof(ns), "ns.dns.%s", z->zone);
    if (qtype == DNS_TYPE_SOA || qtype == DNS_TYPE_ANY)
      a.answers += soa_in(&a, DNS_SEC_ANSWER, qname);
    if (qtype == DNS_TYPE_NS || qtype == DNS_TYPE_ANY)
      a.answers += dns_writer_name_rr(w, DNS_SEC_ANSWER, qname, DNS_TYPE_NS, z->ttl, ns) == 0;
    return finish(&a, true);
  }
  const char *top = l[n - 1];
  if (n == 1) {
    if (!strcmp(top, "dns-version")) {
      if (qtype == DNS_TYPE_TXT || qtype == DNS_TYPE_ANY)
        a.answers += dns_writer_txt(w, DNS_SEC_ANSWER, qname, z->ttl, "1.1.0") == 0;
      return finish(&a, true);
    }
    return finish(&a, !strcmp(top, "svc") || !strcmp(top, "pod"));
  }
  if (!strcmp(top, "svc")) {
    if (n == 2)
      return finish(&a, namespace_exists(z, l[0]));
    if (n == 3)
      return service(&a, l[1], l[0]);
    if (n == 4)
      return endpoint_host(&a, l[0], l[2], l[1]);
    if (n == 5 && l[0][0] == '_' && l[1][0] == '_') {
      const cJSON *svc = find_service(z, l[3], l[2]);
      bool found = svc && !is_external(svc) && srv(&a, svc, l[0] + 1, l[1] + 1);
      return finish(&a, found);
    }
    return finish(&a, false);
  }
  if (!strcmp(top, "pod")) {
    if (n == 2)
      return finish(&a, namespace_exists(z, l[0]));
    if (n == 3 && undash4(l[0], ip, sizeof(ip))) {
      a.answers += put_addr(&a, DNS_SEC_ANSWER, qname, ip);
      return finish(&a, true);
    }
  }
  return finish(&a, false);
}
