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
#include <linux/rtnetlink.h>

#include "client/informer.h"
#include "json/util.h"
#include "net/conntrack.h"
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

static void add_ep(net_proxy_svc_t *sp, struct in_addr ip, uint16_t port) {
  for (size_t i = 0; i < sp->n_eps; i++)
    if (sp->eps[i].ip.s_addr == ip.s_addr && sp->eps[i].port == port)
      return;
  sp->eps = xrealloc(sp->eps, (sp->n_eps + 1) * sizeof *sp->eps);
  sp->eps[sp->n_eps++] = (net_proxy_ep_t){.ip = ip, .port = port};
}

/* The ready endpoints of one slice for the service port (name, proto). */
static void slice_eps(net_proxy_svc_t *sp, const cJSON *slice, const char *port_name) {
  const char *at = str(slice, "addressType");
  if (!at || strcmp(at, "IPv4"))
    return;
  int port = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(slice, "ports")) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
    if (same_str(cJSON_IsString(n) ? n->valuestring : NULL, port_name) &&
        proto_of(str(p, "protocol")) == sp->proto) {
      port = port_of(p, "port");
      break;
    }
  }
  if (!port)
    return;
  const cJSON *ep;
  cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(slice, "endpoints")) {
    if (cJSON_IsFalse(json_get_path(ep, "conditions.ready")))
      continue;
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ep, "addresses"), 0);
    struct in_addr ip;
    if (cJSON_IsString(a) && inet_pton(AF_INET, a->valuestring, &ip) == 1)
      add_ep(sp, ip, (uint16_t)port);
  }
}

static int ep_cmp(const void *x, const void *y) {
  const net_proxy_ep_t *a = x, *b = y;
  uint32_t ia = ntohl(a->ip.s_addr), ib = ntohl(b->ip.s_addr);
  return ia != ib ? (ia < ib ? -1 : 1) : (int)a->port - (int)b->port;
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
  bool nodeports = type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
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
    for (size_t i = 0; i < n_slices; i++) {
      const char *owner = meta_key(slices[i], "labels", LABEL_SERVICE);
      if (owner && !strcmp(owner, name) && same_str(str(slices[i], "metadata.namespace"), ns))
        slice_eps(sp, slices[i], pname);
    }
    if (sp->n_eps)
      qsort(sp->eps, sp->n_eps, sizeof *sp->eps, ep_cmp);
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
  for (size_t i = 0; i < plan->n; i++)
    free(plan->v[i].eps);
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

/* Every endpoint is in the text (it is what changes are detected by). */
char *net_proxy_plan_text(const net_proxy_plan_t *plan) {
  buf_t b = {0};
  put(&b, "");
  for (size_t i = 0; i < plan->n; i++) {
    const net_proxy_svc_t *sp = &plan->v[i];
    char part[256], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sp->cluster_ip, ip, sizeof ip);
    snprintf(part, sizeof part, "%s %s %s:%u", sp->name, proto_name(sp->proto), ip, sp->port);
    put(&b, part);
    if (sp->node_port) {
      snprintf(part, sizeof part, " nodePort %u", sp->node_port);
      put(&b, part);
    }
    put(&b, sp->n_eps ? " ->" : " -> reject");
    for (size_t j = 0; j < sp->n_eps; j++) {
      inet_ntop(AF_INET, &sp->eps[j].ip, ip, sizeof ip);
      snprintf(part, sizeof part, " %s:%u", ip, sp->eps[j].port);
      put(&b, part);
    }
    put(&b, "\n");
  }
  return b.s;
}

/* ---- the table ---- */

static void svc_chain_name(const net_proxy_svc_t *sp, char *out, size_t len) {
  snprintf(out, len, "svc-%s", sp->name);
}

/* meta l4proto <proto> th dport <port> */
static void match_port(nl_msg_t *m, uint8_t proto, uint16_t port) {
  uint16_t be = htons(port);
  nft_meta_load(m, NFT_META_L4PROTO);
  nft_cmp(m, NFT_CMP_EQ, &proto, 1);
  nft_payload(m, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
  nft_cmp(m, NFT_CMP_EQ, &be, 2);
}

static void fib_local(nl_msg_t *m) {
  size_t d, e = nft_expr_begin(m, "fib", &d);
  nl_put_be32(m, NFTA_FIB_DREG, NFT_REG_1);
  nl_put_be32(m, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nl_put_be32(m, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
  nft_expr_end(m, e, d);
  uint32_t local = RTN_LOCAL;
  nft_cmp(m, NFT_CMP_EQ, &local, 4);
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

/* ct status & dnat != 0: a connection the proxy (or another DNAT) rewrote */
static void ct_dnat(nl_msg_t *m) {
  size_t d, e = nft_expr_begin(m, "ct", &d);
  nl_put_be32(m, NFTA_CT_KEY, NFT_CT_STATUS);
  nl_put_be32(m, NFTA_CT_DREG, NFT_REG_1);
  nft_expr_end(m, e, d);
  uint32_t bit = 0x20 /* IPS_DST_NAT */, zero = 0;
  nft_bitwise(m, &bit, 4);
  nft_cmp(m, NFT_CMP_NEQ, &zero, 4);
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

static void svc_chain(nl_msg_t *m, const net_proxy_plan_t *plan, const net_proxy_svc_t *sp) {
  char ch[200];
  svc_chain_name(sp, ch, sizeof ch);
  nft_chain(m, T, ch, NULL, 0, 0);
  size_t r;
  if (plan->cluster_prefix >= 0) {
    uint32_t mark = NET_PROXY_MARK;
    r = nft_rule_begin(m, T, ch);
    nft_match_addr(m, 12, plan->cluster, plan->cluster_prefix, NFT_CMP_NEQ);
    nft_immediate(m, NFT_REG_1, &mark, 4);
    nft_meta_set(m, NFT_META_MARK);
    nft_rule_end(m, r);
  }
  for (size_t i = 0; i < sp->n_eps; i++) {
    r = nft_rule_begin(m, T, ch);
    if (i + 1 < sp->n_eps) {
      size_t d, e = nft_expr_begin(m, "numgen", &d);
      nl_put_be32(m, NFTA_NG_DREG, NFT_REG_1);
      nl_put_be32(m, NFTA_NG_MODULUS, (uint32_t)(sp->n_eps - i));
      nl_put_be32(m, NFTA_NG_TYPE, NFT_NG_RANDOM);
      nft_expr_end(m, e, d);
      uint32_t zero = 0;
      nft_cmp(m, NFT_CMP_EQ, &zero, 4);
    }
    dnat(m, &sp->eps[i]);
    nft_rule_end(m, r);
  }
}

static void reject_rule(nl_msg_t *m, const net_proxy_svc_t *sp, bool node_port) {
  size_t r = nft_rule_begin(m, T, "no-endpoints");
  if (node_port) {
    fib_local(m);
  } else {
    nft_match_addr(m, 16, sp->cluster_ip, 32, NFT_CMP_EQ);
  }
  match_port(m, sp->proto, node_port ? sp->node_port : sp->port);
  size_t d, e = nft_expr_begin(m, "reject", &d);
  nl_put_be32(m, NFTA_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
  nl_put_u8(m, NFTA_REJECT_ICMP_CODE, 3 /* port unreachable */);
  nft_expr_end(m, e, d);
  nft_rule_end(m, r);
}

int net_proxy_apply(nl_sock_t *s, const net_proxy_plan_t *plan, char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  nft_batch_begin(&m);
  nft_table_fresh(&m, T);
  nft_chain(&m, T, "services", NULL, 0, 0);
  nft_chain(&m, T, "nodeports", NULL, 0, 0);
  nft_chain(&m, T, "no-endpoints", NULL, 0, 0);
  for (size_t i = 0; i < plan->n; i++)
    if (plan->v[i].n_eps)
      svc_chain(&m, plan, &plan->v[i]);
  /* the hooks */
  nft_chain(&m, T, "prerouting", "nat", NF_INET_PRE_ROUTING, -100);
  nft_chain(&m, T, "output", "nat", NF_INET_LOCAL_OUT, -100);
  nft_chain(&m, T, "postrouting", "nat", NF_INET_POST_ROUTING, 100);
  const char *hooks[] = {"prerouting", "output"};
  for (size_t i = 0; i < 2; i++) {
    rule_jump(&m, hooks[i], "services", false);
    rule_jump(&m, hooks[i], "nodeports", true);
  }
  nft_chain(&m, T, "filter-input", "filter", NF_INET_LOCAL_IN, -10);
  nft_chain(&m, T, "filter-forward", "filter", NF_INET_FORWARD, -10);
  nft_chain(&m, T, "filter-output", "filter", NF_INET_LOCAL_OUT, -10);
  rule_jump(&m, "filter-input", "no-endpoints", false);
  rule_jump(&m, "filter-forward", "no-endpoints", false);
  rule_jump(&m, "filter-output", "no-endpoints", false);
  size_t r = nft_rule_begin(&m, T, "postrouting");
  uint32_t mark = NET_PROXY_MARK;
  not_loopback(&m);
  nft_meta_load(&m, NFT_META_MARK);
  nft_bitwise(&m, &mark, 4);
  nft_cmp(&m, NFT_CMP_EQ, &mark, 4);
  expr0(&m, "masq");
  nft_rule_end(&m, r);
  for (size_t i = 0; i < plan->n; i++) {
    const net_proxy_svc_t *sp = &plan->v[i];
    char ch[200];
    svc_chain_name(sp, ch, sizeof ch);
    if (!sp->n_eps) {
      reject_rule(&m, sp, false);
      if (sp->node_port)
        reject_rule(&m, sp, true);
      continue;
    }
    r = nft_rule_begin(&m, T, "services");
    nft_match_addr(&m, 16, sp->cluster_ip, 32, NFT_CMP_EQ);
    match_port(&m, sp->proto, sp->port);
    nft_verdict(&m, NFT_JUMP, ch);
    nft_rule_end(&m, r);
    if (sp->node_port) {
      r = nft_rule_begin(&m, T, "nodeports");
      match_port(&m, sp->proto, sp->node_port);
      nft_verdict(&m, NFT_JUMP, ch);
      nft_rule_end(&m, r);
    }
    /* hairpin: an endpoint reaching its own service */
    for (size_t j = 0; j < sp->n_eps; j++) {
      bool seen = false;
      for (size_t k = 0; k < i && !seen; k++)
        for (size_t l = 0; l < plan->v[k].n_eps && !seen; l++)
          seen = plan->v[k].eps[l].ip.s_addr == sp->eps[j].ip.s_addr;
      for (size_t l = 0; l < j && !seen; l++)
        seen = sp->eps[l].ip.s_addr == sp->eps[j].ip.s_addr;
      if (seen)
        continue;
      r = nft_rule_begin(&m, T, "postrouting");
      nft_match_addr(&m, 12, sp->eps[j].ip, 32, NFT_CMP_EQ);
      nft_match_addr(&m, 16, sp->eps[j].ip, 32, NFT_CMP_EQ);
      not_loopback(&m);
      ct_dnat(&m);
      expr0(&m, "masq");
      nft_rule_end(&m, r);
    }
  }
  nft_batch_end(&m);
  return nft_run(s, &m, NULL, NULL, "setting the service rules (table ip " T ")", err, errlen);
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
  struct in_addr cluster;
  int prefix;
  char *applied;      /* the plan text last applied, NULL before */
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
  net_proxy_plan_t plan = {.cluster = p->cluster, .cluster_prefix = p->prefix};
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
  if (net_proxy_apply(p->nl, &plan, err, sizeof err) < 0) {
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
    p->last_err[0] = 0;
    p->force = false;
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
static void resync_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  net_proxy_t *p = (net_proxy_t *)((char *)w - offsetof(net_proxy_t, resync));
  p->force = true;
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
  free(p->applied);
  free(p->udp);
  free(p);
}
