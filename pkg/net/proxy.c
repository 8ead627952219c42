/* The service proxy in nf_tables: see proxy.h. Service and EndpointSlice
 * fields: https://kubernetes.io/docs/reference/kubernetes-api/service-resources/ */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "client/informer.h"
#include "json/util.h"
#include "net/conntrack.h"
#include "net/healthcheck.h"
#include "net/nft.h"
#include "util/alloc.h"
#include "util/log.h"

#define T NET_PROXY_TABLE
#define LABEL_SERVICE "kubernetes.io/service-name"
#define NODE_LOCAL "k3c.io/node-local"
#define DEBOUNCE_SECONDS 0.1
#define RESYNC_SECONDS 30.0
#define RETRY_SECONDS 5.0
#define MAX_OBJECTS 20000

/* ---- the plan (pure) ---- */

static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* metadata.<map>[key]: keys have dots, so not through a path */
static const char *meta_key(const cJSON *o, const char *map, const char *key) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), map);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int proto_of(const char *p) {
  if (!p || !strcmp(p, "TCP"))
    return IPPROTO_TCP;
  if (!strcmp(p, "UDP"))
    return IPPROTO_UDP;
  if (!strcmp(p, "SCTP"))
    return IPPROTO_SCTP;
  return -1;
}

static const char *proto_name(int p) {
  return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "sctp";
}

static int port_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 65535 ? v->valueint : 0;
}

static bool same_str(const char *a, const char *b) {
  return !strcmp(a ? a : "", b ? b : "");
}

static void add_ep(net_proxy_ep_t **v, size_t *n, struct in_addr ip, uint16_t port) {
  for (size_t i = 0; i < *n; i++)
    if ((*v)[i].ip.s_addr == ip.s_addr && (*v)[i].port == port)
      return;
  *v = xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = (net_proxy_ep_t){.ip = ip, .port = port};
}

/* The endpoints of a service port by kind, before the fallback is chosen. */
typedef struct {
  net_proxy_ep_t *v[4]; /* ready, terminating-serving; local ready, local terminating-serving */
  size_t n[4];
} ep_sets_t;

/* The endpoints of one slice for the service port (name, proto). */
static void slice_eps(ep_sets_t *es, uint8_t proto, const cJSON *slice, const char *port_name,
                      const char *node) {
  const char *at = str(slice, "addressType");
  if (!at || strcmp(at, "IPv4"))
    return;
  int port = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(slice, "ports")) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
    if (same_str(cJSON_IsString(n) ? n->valuestring : NULL, port_name) &&
        proto_of(str(p, "protocol")) == proto) {
      port = port_of(p, "port");
      break;
    }
  }
  if (!port)
    return;
  const cJSON *ep;
  cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(slice, "endpoints")) {
    /* ready unset is ready; serving unset is ready's value */
    bool ready = !cJSON_IsFalse(json_get_path(ep, "conditions.ready"));
    const cJSON *sv = json_get_path(ep, "conditions.serving");
    bool serving = cJSON_IsBool(sv) ? cJSON_IsTrue(sv) : ready;
    bool terminating = cJSON_IsTrue(json_get_path(ep, "conditions.terminating"));
    int k = ready ? 0 : serving && terminating ? 1 : -1;
    if (k < 0)
      continue;
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ep, "addresses"), 0);
    struct in_addr ip;
    if (!cJSON_IsString(a) || inet_pton(AF_INET, a->valuestring, &ip) != 1)
      continue;
    add_ep(&es->v[k], &es->n[k], ip, (uint16_t)port);
    const char *on = str(ep, "nodeName");
    if (node && on && !strcmp(on, node))
      add_ep(&es->v[k + 2], &es->n[k + 2], ip, (uint16_t)port);
  }
}

static int ep_cmp(const void *x, const void *y) {
  const net_proxy_ep_t *a = x, *b = y;
  uint32_t ia = ntohl(a->ip.s_addr), ib = ntohl(b->ip.s_addr);
  return ia != ib ? (ia < ib ? -1 : 1) : (int)a->port - (int)b->port;
}

static int ip_cmp(const void *x, const void *y) {
  uint32_t a = ntohl(((const struct in_addr *)x)->s_addr),
           b = ntohl(((const struct in_addr *)y)->s_addr);
  return a < b ? -1 : a > b;
}

/* ready ones, else the terminating serving ones (the other freed) */
static void pick(net_proxy_ep_t **ready, size_t *n_ready, net_proxy_ep_t *term, size_t n_term,
                 net_proxy_ep_t **ret, size_t *ret_n) {
  if (*n_ready) {
    free(term);
    *ret = *ready;
    *ret_n = *n_ready;
  } else {
    free(*ready);
    *ret = term;
    *ret_n = n_term;
  }
  if (*ret_n)
    qsort(*ret, *ret_n, sizeof **ret, ep_cmp);
}

static void add_ext(net_proxy_svc_t *sp, const char *s) {
  struct in_addr ip;
  if (!s || inet_pton(AF_INET, s, &ip) != 1)
    return;
  for (size_t i = 0; i < sp->n_ext; i++)
    if (sp->ext[i].s_addr == ip.s_addr)
      return;
  sp->ext = xrealloc(sp->ext, (sp->n_ext + 1) * sizeof *sp->ext);
  sp->ext[sp->n_ext++] = ip;
}

void net_proxy_plan_add(net_proxy_plan_t *plan, const cJSON *svc, const cJSON *const *slices,
                        size_t n_slices) {
  const char *ns = str(svc, "metadata.namespace"), *name = str(svc, "metadata.name");
  const char *type = str(svc, "spec.type"), *cip = str(svc, "spec.clusterIP");
  const char *local = meta_key(svc, "annotations", NODE_LOCAL);
  struct in_addr vip;
  if (!ns || !name || (type && !strcmp(type, "ExternalName")) || (local && !strcmp(local, "true")))
    return;
  if (!cip || inet_pton(AF_INET, cip, &vip) != 1) /* "None" (headless), "", IPv6 */
    return;
  bool lb = type && !strcmp(type, "LoadBalancer");
  bool nodeports = lb || (type && !strcmp(type, "NodePort"));
  const char *aff = str(svc, "spec.sessionAffinity");
  const cJSON *tmo = json_get_path(svc, "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
  uint32_t affinity = 0;
  if (aff && !strcmp(aff, "ClientIP"))
    affinity = cJSON_IsNumber(tmo) && tmo->valuedouble >= 1 && tmo->valuedouble <= 86400
                   ? (uint32_t)tmo->valuedouble
                   : NET_PROXY_AFFINITY_DEFAULT;
  const char *etp = str(svc, "spec.externalTrafficPolicy");
  const char *itp = str(svc, "spec.internalTrafficPolicy");
  const cJSON *hc = json_get_path(svc, "spec.healthCheckNodePort");
  const cJSON *p;
  cJSON_ArrayForEach(p, json_get_path(svc, "spec.ports")) {
    int proto = proto_of(str(p, "protocol")), port = port_of(p, "port");
    const char *pname = str(p, "name");
    if (proto < 0 || !port)
      continue;
    plan->v = xrealloc(plan->v, (plan->n + 1) * sizeof *plan->v);
    net_proxy_svc_t *sp = &plan->v[plan->n++];
    memset(sp, 0, sizeof *sp);
    char pn[16];
    snprintf(pn, sizeof pn, "%d", port);
    /* names are DNS labels (63) and port names IANA names (15): never cut */
    snprintf(sp->name, sizeof sp->name, "%.63s/%.63s:%.15s", ns, name,
             pname && pname[0] ? pname : pn);
    sp->proto = (uint8_t)proto;
    sp->cluster_ip = vip;
    sp->port = (uint16_t)port;
    sp->node_port = nodeports ? (uint16_t)port_of(p, "nodePort") : 0;
    sp->affinity = affinity;
    const cJSON *e;
    if (lb)
      cJSON_ArrayForEach(e, json_get_path(svc, "status.loadBalancer.ingress")) add_ext(sp, str(e, "ip"));
    cJSON_ArrayForEach(e, json_get_path(svc, "spec.externalIPs")) {
      if (cJSON_IsString(e))
        add_ext(sp, e->valuestring);
    }
    if (sp->n_ext)
      qsort(sp->ext, sp->n_ext, sizeof *sp->ext, ip_cmp);
    sp->etp_local = (sp->node_port || sp->n_ext) && etp && !strcmp(etp, "Local");
    sp->itp_local = itp && !strcmp(itp, "Local");
    if (lb && sp->etp_local && cJSON_IsNumber(hc) && hc->valuedouble >= 1 && hc->valuedouble <= 65535)
      sp->hc_port = (uint16_t)hc->valueint;
    ep_sets_t es = {0};
    for (size_t i = 0; i < n_slices; i++) {
      const char *owner = meta_key(slices[i], "labels", LABEL_SERVICE);
      if (owner && !strcmp(owner, name) && same_str(str(slices[i], "metadata.namespace"), ns))
        slice_eps(&es, sp->proto, slices[i], pname, plan->node);
    }
    pick(&es.v[0], &es.n[0], es.v[1], es.n[1], &sp->eps, &sp->n_eps);
    pick(&es.v[2], &es.n[2], es.v[3], es.n[3], &sp->leps, &sp->n_leps);
  }
}

static int svc_cmp(const void *x, const void *y) {
  return strcmp(((const net_proxy_svc_t *)x)->name, ((const net_proxy_svc_t *)y)->name);
}

void net_proxy_plan_sort(net_proxy_plan_t *plan) {
  if (plan->n)
    qsort(plan->v, plan->n, sizeof *plan->v, svc_cmp);
}

void net_proxy_plan_free(net_proxy_plan_t *plan) {
  for (size_t i = 0; i < plan->n; i++) {
    free(plan->v[i].eps);
    free(plan->v[i].leps);
    free(plan->v[i].ext);
  }
  free(plan->v);
  plan->v = NULL;
  plan->n = 0;
}

typedef struct {
  char *s;
  size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s) {
  size_t l = strlen(s);
  if (b->len + l + 1 > b->cap) {
    b->cap = (b->len + l + 1) * 2;
    b->s = xrealloc(b->s, b->cap);
  }
  memcpy(b->s + b->len, s, l + 1);
  b->len += l;
}

static void put_eps(buf_t *b, const net_proxy_ep_t *v, size_t n) {
  char part[64], ip[INET_ADDRSTRLEN];
  for (size_t j = 0; j < n; j++) {
    inet_ntop(AF_INET, &v[j].ip, ip, sizeof ip);
    snprintf(part, sizeof part, " %s:%u", ip, v[j].port);
    put(b, part);
  }
}

/* One service port's line (without the newline) appended to b. */
static void svc_text(buf_t *b, const net_proxy_svc_t *sp) {
  char part[256], ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sp->cluster_ip, ip, sizeof ip);
  snprintf(part, sizeof part, "%s %s %s:%u", sp->name, proto_name(sp->proto), ip, sp->port);
  put(b, part);
  if (sp->node_port) {
    snprintf(part, sizeof part, " nodePort %u", sp->node_port);
    put(b, part);
  }
  for (size_t j = 0; j < sp->n_ext; j++) {
    inet_ntop(AF_INET, &sp->ext[j], ip, sizeof ip);
    put(b, j ? "," : " ext ");
    put(b, ip);
  }
  if (sp->affinity) {
    snprintf(part, sizeof part, " affinity %u", sp->affinity);
    put(b, part);
  }
  if (sp->etp_local)
    put(b, " etp-local");
  if (sp->itp_local)
    put(b, " itp-local");
  if (sp->hc_port) {
    snprintf(part, sizeof part, " hc %u", sp->hc_port);
    put(b, part);
  }
  put(b, sp->n_eps ? " ->" : " -> reject");
  put_eps(b, sp->eps, sp->n_eps);
  if (sp->n_leps && (sp->etp_local || sp->itp_local || sp->hc_port)) {
    put(b, " local");
    put_eps(b, sp->leps, sp->n_leps);
  }
}

/* Every endpoint is in the text (it is what changes are detected by). */
char *net_proxy_plan_text(const net_proxy_plan_t *plan) {
  buf_t b = {0};
  put(&b, "");
  for (size_t i = 0; i < plan->n; i++) {
    svc_text(&b, &plan->v[i]);
    put(&b, "\n");
  }
  return b.s;
}

static void *dup_mem(const void *p, size_t n) {
  if (!n)
    return NULL;
  void *q = xmalloc(n);
  memcpy(q, p, n);
  return q;
}

void net_proxy_plan_copy(const net_proxy_plan_t *plan, net_proxy_plan_t *ret) {
  *ret = *plan;
  ret->node = NULL;
  ret->v = dup_mem(plan->v, plan->n * sizeof *plan->v);
  for (size_t i = 0; i < plan->n; i++) {
    net_proxy_svc_t *sp = &ret->v[i];
    sp->eps = dup_mem(sp->eps, sp->n_eps * sizeof *sp->eps);
    sp->leps = dup_mem(sp->leps, sp->n_leps * sizeof *sp->leps);
    sp->ext = dup_mem(sp->ext, sp->n_ext * sizeof *sp->ext);
  }
}

/* ---- the table ---- */

#define R0 NFT_REG32_00
#define R1 NFT_REG32_01
#define R2 NFT_REG32_02
#define CH 232 /* chain and set names: "ep-" + service port + "-" + ip:port */

enum { MAP_SVC, MAP_NP, SET_REJ, SET_REJ_NP };
static const char *const SETS[] = {"services", "nodeports", "no-endpoints", "no-endpoint-nodeports"};

/* "<kind>-<service port>[-<ip>:<port>]" */
static void obj_name(char *out, const char *kind, const net_proxy_svc_t *sp,
                     const net_proxy_ep_t *ep) {
  char ip[INET_ADDRSTRLEN];
  if (ep) {
    inet_ntop(AF_INET, &ep->ip, ip, sizeof ip);
    snprintf(out, CH, "%s-%s-%s:%u", kind, sp->name, ip, ep->port);
  } else {
    snprintf(out, CH, "%s-%s", kind, sp->name);
  }
}

static void fib_type(nl_msg_t *m, uint32_t dir) {
  size_t d, e = nft_expr_begin(m, "fib", &d);
  nl_put_be32(m, NFTA_FIB_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nl_put_be32(m, NFTA_FIB_FLAGS, dir);
  nft_expr_end(m, e, d);
  uint32_t local = RTN_LOCAL;
  nft_cmp(m, NFT_CMP_EQ, &local, 4);
}

static void fib_local(nl_msg_t *m) {
  fib_type(m, NFTA_FIB_F_DADDR);
}

static void expr0(nl_msg_t *m, const char *name) {
  size_t d, e = nft_expr_begin(m, name, &d);
  nft_expr_end(m, e, d);
}

/* meta oif != lo (ifindex 1 in every namespace): nothing is masqueraded
 * towards the node itself (the kernel drops a masquerade out of lo). */
static void not_loopback(nl_msg_t *m) {
  uint32_t lo = 1;
  nft_meta_load(m, NFT_META_OIF);
  nft_cmp(m, NFT_CMP_NEQ, &lo, 4);
}

static void set_mark(nl_msg_t *m) {
  uint32_t mark = NET_PROXY_MARK;
  nft_immediate(m, NFT_REG_1, &mark, 4);
  nft_meta_set(m, NFT_META_MARK);
}

static void dnat(nl_msg_t *m, const net_proxy_ep_t *ep) {
  uint16_t port = htons(ep->port);
  nft_immediate(m, NFT_REG_1, &ep->ip, 4);
  nft_immediate(m, NFT_REG_2, &port, 2);
  size_t d, e = nft_expr_begin(m, "nat", &d);
  nl_put_be32(m, NFTA_NAT_TYPE, NFT_NAT_DNAT);
  nl_put_be32(m, NFTA_NAT_FAMILY, NFPROTO_IPV4);
  nl_put_be32(m, NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
  nl_put_be32(m, NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
  nft_expr_end(m, e, d);
}

static void rule_jump(nl_msg_t *m, const char *chain, const char *to, bool local) {
  size_t r = nft_rule_begin(m, T, chain);
  if (local)
    fib_local(m);
  nft_verdict(m, NFT_JUMP, to);
  nft_rule_end(m, r);
}

/* R0.. = ip daddr . l4proto . th dport (services), or l4proto . th dport */
static void load_key(nl_msg_t *m, bool with_daddr) {
  uint32_t r = R0;
  if (with_daddr)
    nft_payload_reg(m, r++, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
  nft_meta_load_reg(m, r++, NFT_META_L4PROTO);
  nft_payload_reg(m, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
}

/* The same keys as element bytes (each field padded to 4). */
static size_t key_of(uint8_t *k, const struct in_addr *ip, uint8_t proto, uint16_t port) {
  uint16_t be = htons(port);
  size_t o = 0;
  memset(k, 0, 12);
  if (ip) {
    memcpy(k, ip, 4);
    o = 4;
  }
  k[o] = proto;
  memcpy(k + o + 4, &be, 2);
  return o + 8;
}

/* Which chains a service port has: svc- when it has endpoints; loc- when
 * a Local policy needs it; ext- for externalTrafficPolicy Local. */
static bool has_loc(const net_proxy_svc_t *sp) {
  return sp->n_eps && (sp->itp_local || sp->etp_local);
}
static bool has_ext(const net_proxy_svc_t *sp) {
  return sp->n_eps && sp->etp_local;
}

typedef struct {
  char (*v)[CH];
  size_t n;
} names_t;

static void names_add(names_t *ns, const char *s) {
  for (size_t i = 0; i < ns->n; i++)
    if (!strcmp(ns->v[i], s))
      return;
  ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof *ns->v);
  snprintf(ns->v[ns->n++], CH, "%s", s);
}

static bool names_has(const names_t *ns, const char *s) {
  for (size_t i = 0; ns && i < ns->n; i++)
    if (!strcmp(ns->v[i], s))
      return true;
  return false;
}

/* The endpoints that get chains (and affinity sets): eps, and leps when used. */
static void ep_objs(const net_proxy_svc_t *sp, const char *kind, names_t *out) {
  char n[CH];
  for (size_t i = 0; i < sp->n_eps; i++) {
    obj_name(n, kind, sp, &sp->eps[i]);
    names_add(out, n);
  }
  for (size_t i = 0; has_loc(sp) && i < sp->n_leps; i++) {
    obj_name(n, kind, sp, &sp->leps[i]);
    names_add(out, n);
  }
}

static void svc_chains(const net_proxy_svc_t *sp, names_t *out) {
  char n[CH];
  if (!sp->n_eps)
    return;
  obj_name(n, "svc", sp, NULL);
  names_add(out, n);
  if (has_loc(sp)) {
    obj_name(n, "loc", sp, NULL);
    names_add(out, n);
  }
  if (has_ext(sp)) {
    obj_name(n, "ext", sp, NULL);
    names_add(out, n);
  }
  ep_objs(sp, "ep", out);
}

static void svc_sets(const net_proxy_svc_t *sp, names_t *out) {
  if (sp->affinity && sp->n_eps)
    ep_objs(sp, "aff", out);
}

/* Rules of chain ch choosing among v[0..n): an affinity entry first, else
 * at random; none: drop. */
static void dispatch(nl_msg_t *m, const char *ch, const net_proxy_svc_t *sp,
                     const net_proxy_ep_t *v, size_t n) {
  char to[CH], set[CH];
  size_t r;
  if (!n) {
    r = nft_rule_begin(m, T, ch);
    nft_verdict(m, NF_DROP, NULL);
    nft_rule_end(m, r);
    return;
  }
  for (size_t i = 0; sp->affinity && i < n; i++) {
    obj_name(set, "aff", sp, &v[i]);
    obj_name(to, "ep", sp, &v[i]);
    r = nft_rule_begin(m, T, ch);
    nft_payload_reg(m, R0, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
    nft_lookup(m, set, R0, -1);
    nft_verdict(m, NFT_GOTO, to);
    nft_rule_end(m, r);
  }
  for (size_t i = 0; i < n; i++) {
    obj_name(to, "ep", sp, &v[i]);
    r = nft_rule_begin(m, T, ch);
    if (i + 1 < n) {
      size_t d, e = nft_expr_begin(m, "numgen", &d);
      nl_put_be32(m, NFTA_NG_DREG, NFT_REG_1);
      nl_put_be32(m, NFTA_NG_MODULUS, (uint32_t)(n - i));
      nl_put_be32(m, NFTA_NG_TYPE, NFT_NG_RANDOM);
      nft_expr_end(m, e, d);
      uint32_t zero = 0;
      nft_cmp(m, NFT_CMP_EQ, &zero, 4);
    }
    nft_verdict(m, NFT_GOTO, to);
    nft_rule_end(m, r);
  }
}

static void ep_chain(nl_msg_t *m, const net_proxy_svc_t *sp, const net_proxy_ep_t *ep) {
  char ch[CH], set[CH];
  obj_name(ch, "ep", sp, ep);
  size_t r = nft_rule_begin(m, T, ch);
  nft_match_addr(m, 12, ep->ip, 32, NFT_CMP_EQ); /* hairpin: masqueraded */
  set_mark(m);
  nft_rule_end(m, r);
  if (sp->affinity) {
    obj_name(set, "aff", sp, ep);
    r = nft_rule_begin(m, T, ch);
    nft_payload_reg(m, R0, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
    nft_dynset_update(m, set, R0, (uint64_t)sp->affinity * 1000);
    nft_rule_end(m, r);
  }
  r = nft_rule_begin(m, T, ch);
  dnat(m, ep);
  nft_rule_end(m, r);
}

/* The rules of every chain of sp (the chains exist and are empty). */
static void svc_fill(nl_msg_t *m, const net_proxy_plan_t *plan, const net_proxy_svc_t *sp) {
  char ch[CH], to[CH];
  size_t r;
  if (!sp->n_eps)
    return;
  obj_name(ch, "svc", sp, NULL);
  if (plan->cluster_prefix >= 0) {
    r = nft_rule_begin(m, T, ch);
    nft_match_addr(m, 12, plan->cluster, plan->cluster_prefix, NFT_CMP_NEQ);
    set_mark(m);
    nft_rule_end(m, r);
  }
  dispatch(m, ch, sp, sp->eps, sp->n_eps);
  if (has_loc(sp)) {
    obj_name(ch, "loc", sp, NULL);
    dispatch(m, ch, sp, sp->leps, sp->n_leps);
  }
  if (has_ext(sp)) {
    /* pods and the node itself reach an external address through the
     * whole service (as kube-proxy short-circuits them); the rest keeps
     * its source address and goes to this node's endpoints only */
    obj_name(ch, "ext", sp, NULL);
    obj_name(to, "svc", sp, NULL);
    if (plan->cluster_prefix >= 0) {
      r = nft_rule_begin(m, T, ch);
      nft_match_addr(m, 12, plan->cluster, plan->cluster_prefix, NFT_CMP_EQ);
      nft_verdict(m, NFT_GOTO, to);
      nft_rule_end(m, r);
    }
    r = nft_rule_begin(m, T, ch);
    fib_type(m, NFTA_FIB_F_SADDR);
    set_mark(m);
    nft_verdict(m, NFT_GOTO, to);
    nft_rule_end(m, r);
    obj_name(to, "loc", sp, NULL);
    r = nft_rule_begin(m, T, ch);
    nft_verdict(m, NFT_GOTO, to);
    nft_rule_end(m, r);
  }
  for (size_t i = 0; i < sp->n_eps; i++)
    ep_chain(m, sp, &sp->eps[i]);
  for (size_t i = 0; has_loc(sp) && i < sp->n_leps; i++) {
    bool dup = false;
    for (size_t j = 0; j < sp->n_eps && !dup; j++)
      dup = !ep_cmp(&sp->eps[j], &sp->leps[i]);
    if (!dup)
      ep_chain(m, sp, &sp->leps[i]);
  }
}

/* ---- map and set elements ---- */

typedef struct {
  uint8_t set, klen;
  uint8_t key[12];
  uint32_t order;
  char chain[CH]; /* the verdict's chain (goto); "" in a plain set */
} elem_t;

typedef struct {
  elem_t *v;
  size_t n;
} elems_t;

static void elem_add(elems_t *es, int set, const uint8_t *key, size_t klen, const char *chain) {
  es->v = xrealloc(es->v, (es->n + 1) * sizeof *es->v);
  elem_t *e = &es->v[es->n];
  memset(e, 0, sizeof *e);
  e->set = (uint8_t)set;
  e->klen = (uint8_t)klen;
  memcpy(e->key, key, klen);
  e->order = (uint32_t)es->n++;
  snprintf(e->chain, sizeof e->chain, "%s", chain ? chain : "");
}

static int elem_key_cmp(const elem_t *a, const elem_t *b) {
  if (a->set != b->set)
    return (int)a->set - (int)b->set;
  return memcmp(a->key, b->key, sizeof a->key);
}

static int elem_cmp(const void *x, const void *y) {
  const elem_t *a = x, *b = y;
  int c = elem_key_cmp(a, b);
  return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* Every element of plan, sorted by (set, key); a key two services claim
 * (two load balancers' same address and port) goes to the first by name. */
static void plan_elems(const net_proxy_plan_t *plan, elems_t *out) {
  uint8_t k[12];
  char svc[CH], ext[CH], loc[CH];
  out->v = NULL;
  out->n = 0;
  for (size_t i = 0; i < plan->n; i++) {
    const net_proxy_svc_t *sp = &plan->v[i];
    size_t kl;
    if (!sp->n_eps) {
      kl = key_of(k, &sp->cluster_ip, sp->proto, sp->port);
      elem_add(out, SET_REJ, k, kl, NULL);
      for (size_t j = 0; j < sp->n_ext; j++) {
        kl = key_of(k, &sp->ext[j], sp->proto, sp->port);
        elem_add(out, SET_REJ, k, kl, NULL);
      }
      if (sp->node_port) {
        kl = key_of(k, NULL, sp->proto, sp->node_port);
        elem_add(out, SET_REJ_NP, k, kl, NULL);
      }
      continue;
    }
    obj_name(svc, "svc", sp, NULL);
    obj_name(loc, "loc", sp, NULL);
    obj_name(ext, "ext", sp, NULL);
    kl = key_of(k, &sp->cluster_ip, sp->proto, sp->port);
    elem_add(out, MAP_SVC, k, kl, sp->itp_local ? loc : svc);
    for (size_t j = 0; j < sp->n_ext; j++) {
      kl = key_of(k, &sp->ext[j], sp->proto, sp->port);
      elem_add(out, MAP_SVC, k, kl, sp->etp_local ? ext : svc);
    }
    if (sp->node_port) {
      kl = key_of(k, NULL, sp->proto, sp->node_port);
      elem_add(out, MAP_NP, k, kl, sp->etp_local ? ext : svc);
    }
  }
  if (out->n)
    qsort(out->v, out->n, sizeof *out->v, elem_cmp);
  size_t w = 0;
  for (size_t i = 0; i < out->n; i++)
    if (!w || elem_key_cmp(&out->v[w - 1], &out->v[i]))
      out->v[w++] = out->v[i];
  out->n = w;
}

static void elem_msg(nl_msg_t *m, int msg, const elem_t *e) {
  size_t l = nft_elems_begin(m, msg, T, SETS[e->set]);
  nft_elem(m, e->key, e->klen, NFT_GOTO, e->chain[0] ? e->chain : NULL);
  nft_elems_end(m, l);
}

/* Deletions (adds false) or additions from old to now. */
static void elems_diff(nl_msg_t *m, const elems_t *old, const elems_t *now, bool adds) {
  size_t i = 0, j = 0;
  while (i < old->n || j < now->n) {
    int c = i == old->n ? 1 : j == now->n ? -1 : elem_key_cmp(&old->v[i], &now->v[j]);
    if (c < 0) {
      if (!adds)
        elem_msg(m, NFT_MSG_DELSETELEM, &old->v[i]);
      i++;
    } else if (c > 0) {
      if (adds)
        elem_msg(m, NFT_MSG_NEWSETELEM, &now->v[j]);
      j++;
    } else {
      if (strcmp(old->v[i].chain, now->v[j].chain))
        elem_msg(m, adds ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, adds ? &now->v[j] : &old->v[i]);
      i++;
      j++;
    }
  }
}

/* ---- applying ---- */

/* The table's fixed part: maps, sets, hooks, the reject and masquerade rules. */
static void skeleton(nl_msg_t *m) {
  nft_table_fresh(m, T);
  nft_set_add(m, T, SETS[MAP_SVC], NFT_SET_MAP, 12, 1, 0);
  nft_set_add(m, T, SETS[MAP_NP], NFT_SET_MAP, 8, 1, 0);
  nft_set_add(m, T, SETS[SET_REJ], 0, 12, 0, 0);
  nft_set_add(m, T, SETS[SET_REJ_NP], 0, 8, 0, 0);
  nft_chain(m, T, "services", NULL, 0, 0);
  nft_chain(m, T, "nodeports", NULL, 0, 0);
  nft_chain(m, T, "no-endpoints", NULL, 0, 0);
  size_t r = nft_rule_begin(m, T, "services");
  load_key(m, true);
  nft_lookup(m, SETS[MAP_SVC], R0, NFT_REG_VERDICT);
  nft_rule_end(m, r);
  r = nft_rule_begin(m, T, "nodeports");
  load_key(m, false);
  nft_lookup(m, SETS[MAP_NP], R0, NFT_REG_VERDICT);
  nft_rule_end(m, r);
  for (int i = 0; i < 2; i++) {
    r = nft_rule_begin(m, T, "no-endpoints");
    if (i)
      fib_local(m);
    load_key(m, !i);
    nft_lookup(m, SETS[i ? SET_REJ_NP : SET_REJ], R0, -1);
    size_t d, e = nft_expr_begin(m, "reject", &d);
    nl_put_be32(m, NFTA_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
    nl_put_u8(m, NFTA_REJECT_ICMP_CODE, 3 /* port unreachable */);
    nft_expr_end(m, e, d);
    nft_rule_end(m, r);
  }
  nft_chain(m, T, "prerouting", "nat", NF_INET_PRE_ROUTING, -100);
  nft_chain(m, T, "output", "nat", NF_INET_LOCAL_OUT, -100);
  nft_chain(m, T, "postrouting", "nat", NF_INET_POST_ROUTING, 100);
  const char *hooks[] = {"prerouting", "output"};
  for (size_t i = 0; i < 2; i++) {
    rule_jump(m, hooks[i], "services", false);
    rule_jump(m, hooks[i], "nodeports", true);
  }
  nft_chain(m, T, "filter-input", "filter", NF_INET_LOCAL_IN, -10);
  nft_chain(m, T, "filter-forward", "filter", NF_INET_FORWARD, -10);
  nft_chain(m, T, "filter-output", "filter", NF_INET_LOCAL_OUT, -10);
  rule_jump(m, "filter-input", "no-endpoints", false);
  rule_jump(m, "filter-forward", "no-endpoints", false);
  rule_jump(m, "filter-output", "no-endpoints", false);
  r = nft_rule_begin(m, T, "postrouting");
  uint32_t mark = NET_PROXY_MARK;
  not_loopback(m);
  nft_meta_load(m, NFT_META_MARK);
  nft_bitwise(m, &mark, 4);
  nft_cmp(m, NFT_CMP_EQ, &mark, 4);
  expr0(m, "masq");
  nft_rule_end(m, r);
}

static const net_proxy_svc_t *find_svc(const net_proxy_plan_t *plan, const char *name) {
  if (!plan || !plan->n)
    return NULL;
  net_proxy_svc_t key;
  snprintf(key.name, sizeof key.name, "%s", name);
  return bsearch(&key, plan->v, plan->n, sizeof *plan->v, svc_cmp);
}

/* Whether a service port's rules differ between two plans. */
static bool svc_same(const net_proxy_plan_t *a, const net_proxy_svc_t *x, const net_proxy_plan_t *b,
                     const net_proxy_svc_t *y) {
  if (!x || !y || a->cluster_prefix != b->cluster_prefix ||
      (a->cluster_prefix >= 0 && a->cluster.s_addr != b->cluster.s_addr))
    return false;
  buf_t bx = {0}, by = {0};
  svc_text(&bx, x);
  svc_text(&by, y);
  bool same = !strcmp(bx.s, by.s);
  free(bx.s);
  free(by.s);
  return same;
}

int net_proxy_apply_diff(nl_sock_t *s, const net_proxy_plan_t *old, const net_proxy_plan_t *plan,
                         char *err, size_t errlen) {
  static const net_proxy_plan_t empty = {.cluster_prefix = -1};
  nl_msg_t m;
  nl_msg_init(&m);
  nft_batch_begin(&m);
  if (!old) {
    skeleton(&m);
    old = &empty;
  }
  elems_t eo, en;
  plan_elems(old, &eo);
  plan_elems(plan, &en);
  elems_diff(&m, &eo, &en, false);
  /* the chains of changed and removed service ports emptied, then those
   * that are no more deleted with the affinity sets no more used */
  for (size_t i = 0; i < old->n; i++) {
    const net_proxy_svc_t *o = &old->v[i], *n = find_svc(plan, o->name);
    if (svc_same(old, o, plan, n))
      continue;
    names_t oc = {0};
    svc_chains(o, &oc);
    for (size_t j = 0; j < oc.n; j++)
      nft_chain_flush(&m, T, oc.v[j]);
    free(oc.v);
  }
  for (size_t i = 0; i < old->n; i++) {
    const net_proxy_svc_t *o = &old->v[i], *n = find_svc(plan, o->name);
    if (svc_same(old, o, plan, n))
      continue;
    names_t oc = {0}, nc = {0}, os = {0}, nsets = {0};
    svc_chains(o, &oc);
    svc_sets(o, &os);
    if (n) {
      svc_chains(n, &nc);
      if (n->affinity == o->affinity)
        svc_sets(n, &nsets);
    }
    for (size_t j = 0; j < oc.n; j++)
      if (!names_has(&nc, oc.v[j]))
        nft_chain_del(&m, T, oc.v[j]);
    for (size_t j = 0; j < os.n; j++)
      if (!names_has(&nsets, os.v[j]))
        nft_set_del(&m, T, os.v[j]);
    free(oc.v);
    free(nc.v);
    free(os.v);
    free(nsets.v);
  }
  /* new and changed service ports: sets (kept ones exist), chains, rules */
  for (size_t i = 0; i < plan->n; i++) {
    const net_proxy_svc_t *n = &plan->v[i], *o = find_svc(old, n->name);
    if (svc_same(old, o, plan, n))
      continue;
    names_t nc = {0}, ns = {0}, kept = {0};
    svc_chains(n, &nc);
    svc_sets(n, &ns);
    if (o && o->affinity == n->affinity)
      svc_sets(o, &kept);
    for (size_t j = 0; j < ns.n; j++)
      if (!names_has(&kept, ns.v[j]))
        nft_set_add(&m, T, ns.v[j], NFT_SET_TIMEOUT | NFT_SET_EVAL, 4, 0,
                    (uint64_t)n->affinity * 1000);
    for (size_t j = 0; j < nc.n; j++)
      nft_chain(&m, T, nc.v[j], NULL, 0, 0);
    svc_fill(&m, plan, n);
    free(nc.v);
    free(ns.v);
    free(kept.v);
  }
  elems_diff(&m, &eo, &en, true);
  free(eo.v);
  free(en.v);
  nft_batch_end(&m);
  return nft_run(s, &m, NULL, NULL, "setting the service rules (table ip " T ")", err, errlen);
}

int net_proxy_apply(nl_sock_t *s, const net_proxy_plan_t *plan, char *err, size_t errlen) {
  return net_proxy_apply_diff(s, NULL, plan, err, errlen);
}

int net_proxy_remove(nl_sock_t *s, char *err, size_t errlen) {
  return nft_table_remove(s, T, err, errlen);
}

int net_proxy_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen) {
  return nft_describe(s, T, 1, out, outlen, err, errlen);
}

/* ---- the agent's side ---- */

struct net_proxy {
  struct ev_loop *loop;
  client_t *c;
  client_informer_t *svcs, *slices;
  nl_sock_t *nl;
  net_hc_t *hc; /* the health check ports */
  struct in_addr cluster;
  int prefix;
  char *node;         /* this node's name, NULL: none */
  char *applied;      /* the plan text last applied, NULL before */
  net_proxy_plan_t old; /* the plan last applied */
  bool full;          /* the next apply makes the table anew */
  net_proxy_ep_t *udp; /* the UDP endpoints applied */
  size_t n_udp;
  bool force;
  char last_err[256];
  ev_timer kick, resync;
};

typedef struct {
  const cJSON **v;
  size_t n, cap;
} objs_t;

static void collect(const cJSON *obj, void *data) {
  objs_t *o = data;
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 16;
    o->v = xrealloc(o->v, o->cap * sizeof *o->v);
  }
  o->v[o->n++] = obj;
}

static bool has_ep(const net_proxy_ep_t *v, size_t n, const net_proxy_ep_t *e) {
  for (size_t i = 0; i < n; i++)
    if (v[i].ip.s_addr == e->ip.s_addr && v[i].port == e->port)
      return true;
  return false;
}

/* UDP endpoints gone since the last apply: their conntrack entries
 * deleted, so clients still sending choose a live endpoint again. */
static void flush_udp(net_proxy_t *p, const net_proxy_plan_t *plan) {
  net_proxy_ep_t *now = NULL;
  size_t n = 0;
  for (size_t i = 0; i < plan->n; i++) {
    if (plan->v[i].proto != IPPROTO_UDP)
      continue;
    for (size_t j = 0; j < plan->v[i].n_eps; j++) {
      if (has_ep(now, n, &plan->v[i].eps[j]))
        continue;
      now = xrealloc(now, (n + 1) * sizeof *now);
      now[n++] = plan->v[i].eps[j];
    }
  }
  for (size_t i = 0; i < p->n_udp; i++) {
    if (has_ep(now, n, &p->udp[i]))
      continue;
    char err[256], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->udp[i].ip, ip, sizeof ip);
    int r = net_ct_delete_natted_to(p->nl, IPPROTO_UDP, p->udp[i].ip, p->udp[i].port, err,
                                    sizeof err);
    if (r < 0)
      log_warn("proxy", "UDP endpoint %s:%u removed: %s", ip, p->udp[i].port, err);
    else if (r > 0)
      log_info("proxy", "UDP endpoint %s:%u removed: %d conntrack entr%s deleted", ip,
               p->udp[i].port, r, r == 1 ? "y" : "ies");
  }
  free(p->udp);
  p->udp = now;
  p->n_udp = n;
}

static void reconcile(net_proxy_t *p) {
  if (!client_informer_synced(p->svcs) || !client_informer_synced(p->slices))
    return; /* an empty cache would drop every service */
  objs_t svcs = {0}, slices = {0};
  client_cache_foreach(client_informer_cache(p->svcs), collect, &svcs);
  client_cache_foreach(client_informer_cache(p->slices), collect, &slices);
  net_proxy_plan_t plan = {.cluster = p->cluster, .cluster_prefix = p->prefix, .node = p->node};
  for (size_t i = 0; i < svcs.n; i++)
    net_proxy_plan_add(&plan, svcs.v[i], slices.v, slices.n);
  net_proxy_plan_sort(&plan);
  free(svcs.v);
  free(slices.v);
  char *text = net_proxy_plan_text(&plan);
  if (!p->force && p->applied && !strcmp(text, p->applied)) {
    free(text);
    net_proxy_plan_free(&plan);
    return;
  }
  char err[256];
  if (net_proxy_apply_diff(p->nl, p->full ? NULL : &p->old, &plan, err, sizeof err) < 0) {
    p->full = true; /* the table is as before, or not there: made anew next time */
    if (strcmp(err, p->last_err))
      log_error("proxy", "%s; retrying", err);
    snprintf(p->last_err, sizeof p->last_err, "%s", err);
    free(text);
    ev_timer_stop(p->loop, &p->kick);
    ev_timer_set(&p->kick, RETRY_SECONDS, 0.0);
    ev_timer_start(p->loop, &p->kick);
  } else {
    if (!p->applied || strcmp(text, p->applied))
      log_info("proxy", "table ip " T ": %zu service port(s)", plan.n);
    free(p->applied);
    p->applied = text;
    flush_udp(p, &plan);
    net_proxy_plan_free(&p->old);
    net_proxy_plan_copy(&plan, &p->old);
    net_hc_update(p->hc, &plan);
    p->last_err[0] = 0;
    p->force = false;
    p->full = false;
  }
  net_proxy_plan_free(&plan);
}

static void kick(net_proxy_t *p) {
  if (!ev_is_active(&p->kick)) {
    ev_timer_set(&p->kick, DEBOUNCE_SECONDS, 0.0);
    ev_timer_start(p->loop, &p->kick);
  }
}
static void on_add(const cJSON *obj, void *data) {
  kick(data);
}
static void on_update(const cJSON *old, const cJSON *obj, void *data) {
  kick(data);
}
static void on_delete(const cJSON *obj, void *data) {
  kick(data);
}
static void on_synced(void *data) {
  kick(data);
}
static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  reconcile((net_proxy_t *)((char *)w - offsetof(net_proxy_t, kick)));
}
/* Whether table ip k3c-proxy is there (1), is not (0), or a negative errno. */
static int table_exists(nl_sock_t *s) {
  nl_msg_t m;
  nl_msg_init(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_GETTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_TABLE_NAME, T);
  int r = nft_run(s, &m, NULL, NULL, "looking up table ip " T, NULL, 0);
  return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

/* Rules removed by hand come back: a table that is gone is made anew. */
static void resync_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  net_proxy_t *p = (net_proxy_t *)((char *)w - offsetof(net_proxy_t, resync));
  if (p->applied && table_exists(p->nl) == 0) {
    log_warn("proxy", "table ip " T " is gone; making it anew");
    p->full = true;
    p->force = true;
  }
  if (p->applied)
    net_hc_update(p->hc, &p->old); /* a health check port that could not be bound */
  reconcile(p);
}

static int parse_cidr(const char *s, struct in_addr *net, int *prefix) {
  char a[INET_ADDRSTRLEN];
  unsigned bits;
  int end = 0;
  if (!s || sscanf(s, "%15[0-9.]/%2u%n", a, &bits, &end) != 2 || s[end] || bits > 32 ||
      inet_pton(AF_INET, a, net) != 1)
    return -EINVAL;
  *prefix = (int)bits;
  return 0;
}

static int watch(net_proxy_t *p, const char *group, const char *version, const char *resource,
                 client_informer_t **ret, char *err, size_t errlen) {
  client_ref_t ref = {.group = group, .version = version, .resource = resource};
  int r = client_informer_new(p->c, &ref, NULL, NULL, MAX_OBJECTS, ret);
  if (r < 0) {
    snprintf(err, errlen, "watching %s: %s", resource, strerror(-r));
    return r;
  }
  client_informer_handlers_t h = {on_add, on_update, on_delete};
  client_informer_add_handlers(*ret, &h, p);
  client_informer_on_synced(*ret, on_synced, p);
  return 0;
}

int net_proxy_new(struct ev_loop *loop, client_t *c, const net_proxy_opts_t *o,
                  net_proxy_t **ret, char *err, size_t errlen) {
  net_proxy_t *p = xcalloc(1, sizeof *p);
  int r;
  p->loop = loop;
  p->c = c;
  p->prefix = -1;
  p->full = true;
  p->old.cluster_prefix = -1;
  p->node = o->node_name && o->node_name[0] ? xstrdup(o->node_name) : NULL;
  p->hc = net_hc_new(loop);
  ev_init(&p->kick, kick_cb);
  ev_init(&p->resync, resync_cb);
  if (o->cluster_cidr && o->cluster_cidr[0] &&
      parse_cidr(o->cluster_cidr, &p->cluster, &p->prefix) < 0) {
    snprintf(err, errlen, "cluster CIDR %s is not an IPv4 CIDR", o->cluster_cidr);
    r = -EINVAL;
    goto fail;
  }
  if ((r = nl_open(NETLINK_NETFILTER, &p->nl)) < 0) {
    snprintf(err, errlen, "nfnetlink: %s", strerror(-r));
    goto fail;
  }
  if ((r = watch(p, "", "v1", "services", &p->svcs, err, errlen)) < 0 ||
      (r = watch(p, "discovery.k8s.io", "v1", "endpointslices", &p->slices, err, errlen)) < 0)
    goto fail;
  client_informer_start(p->svcs);
  client_informer_start(p->slices);
  ev_timer_set(&p->resync, RESYNC_SECONDS, RESYNC_SECONDS);
  ev_timer_start(loop, &p->resync);
  *ret = p;
  return 0;
fail:
  net_proxy_free(p);
  return r;
}

void net_proxy_free(net_proxy_t *p) {
  if (!p)
    return;
  ev_timer_stop(p->loop, &p->kick);
  ev_timer_stop(p->loop, &p->resync);
  client_informer_free(p->svcs);
  client_informer_free(p->slices);
  nl_close(p->nl);
  net_hc_free(p->hc);
  free(p->applied);
  net_proxy_plan_free(&p->old);
  free(p->node);
  free(p->udp);
  free(p);
}
