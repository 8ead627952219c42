/* NetworkPolicy → the rules of this node's pods (see netpol.h): which
 * local pods a policy isolates, which peers (pod IP sets, CIDR pieces) and
 * ports its rules allow. Pure. Field meanings:
 * https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/ */
#include "net/netpol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/selector.h"
#include "json/util.h"
#include "util/alloc.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"
#define MAX_PIECES 256 /* CIDR pieces of one ipBlock */

static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *field(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

typedef struct {
  struct in_addr ip;
  const char *ns, *name;
  const cJSON *pod, *labels;
} peer_t;

typedef struct {
  const char *name;
  cJSON *labels; /* owned: the namespace's, plus kubernetes.io/metadata.name */
} ns_t;

typedef struct {
  net_netpol_pod_t p;
  const peer_t *peer;
} local_t;

typedef struct {
  net_netpol_plan_t *plan;
  peer_t *peers;
  size_t n_peers;
  ns_t *nss;
  size_t n_nss;
  local_t *locals;
  size_t n_locals;
} ctx_t;

static bool pod_eligible(const cJSON *pod, struct in_addr *ip) {
  const char *phase = str(pod, "status.phase"), *pip = str(pod, "status.podIP");
  if (cJSON_IsTrue(json_get_path(pod, "spec.hostNetwork")))
    return false;
  if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
    return false;
  return pip && inet_pton(AF_INET, pip, ip) == 1 && ip->s_addr != 0;
}

static const cJSON *ns_labels(const ctx_t *c, const char *ns) {
  for (size_t i = 0; i < c->n_nss; i++)
    if (!strcmp(c->nss[i].name, ns))
      return c->nss[i].labels;
  return NULL;
}

/* ---- sets and matches ---- */

static size_t add_set(ctx_t *c, const char *name) {
  net_netpol_plan_t *pl = c->plan;
  pl->sets = xrealloc(pl->sets, (pl->n_sets + 1) * sizeof *pl->sets);
  net_netpol_set_t *s = &pl->sets[pl->n_sets];
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%.255s", name);
  return pl->n_sets++;
}

static void set_add_ip(net_netpol_set_t *s, struct in_addr ip) {
  for (size_t i = 0; i < s->n; i++)
    if (s->ips[i].s_addr == ip.s_addr)
      return;
  s->ips = xrealloc(s->ips, (s->n + 1) * sizeof *s->ips);
  s->ips[s->n++] = ip;
}

static int ip_cmp(const void *x, const void *y) {
  uint32_t a = ntohl(((const struct in_addr *)x)->s_addr), b = ntohl(((const struct in_addr *)y)->s_addr);
  return a < b ? -1 : a > b;
}

static void add_match(net_netpol_chain_t *ch, const net_netpol_match_t *m) {
  ch->v = xrealloc(ch->v, (ch->n + 1) * sizeof *ch->v);
  ch->v[ch->n++] = *m;
}

/* ---- CIDRs ---- */

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

static uint32_t mask_of(int prefix) {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~0u << (32 - prefix);
}

typedef struct {
  const uint32_t *en;
  const int *ep;
  size_t n;
  struct in_addr *out;
  int *out_prefix;
  size_t used, max;
  bool full;
} minus_t;

static void minus(minus_t *m, uint32_t net, int prefix) {
  bool split = false;
  for (size_t i = 0; i < m->n; i++) {
    if (m->ep[i] <= prefix) {
      if ((net & mask_of(m->ep[i])) == m->en[i])
        return; /* all of the block is excepted */
    } else if ((m->en[i] & mask_of(prefix)) == net) {
      split = true; /* part of it */
    }
  }
  if (split && prefix < 32) {
    minus(m, net, prefix + 1);
    minus(m, net | (1u << (31 - prefix)), prefix + 1);
    return;
  }
  if (m->used == m->max) {
    m->full = true;
    return;
  }
  m->out[m->used].s_addr = htonl(net);
  m->out_prefix[m->used++] = prefix;
}

int net_netpol_cidr_minus(const char *cidr, const char *const *except, size_t n_except,
                          struct in_addr *out_net, int *out_prefix, size_t max) {
  struct in_addr a;
  int p;
  if (parse_cidr(cidr, &a, &p) < 0)
    return -EINVAL;
  uint32_t *en = xcalloc(n_except + 1, sizeof *en);
  int *ep = xcalloc(n_except + 1, sizeof *ep);
  for (size_t i = 0; i < n_except; i++) {
    struct in_addr e;
    if (parse_cidr(except[i], &e, &ep[i]) < 0) {
      free(en);
      free(ep);
      return -EINVAL;
    }
    en[i] = ntohl(e.s_addr) & mask_of(ep[i]);
  }
  minus_t m = {.en = en, .ep = ep, .n = n_except, .out = out_net, .out_prefix = out_prefix,
               .max = max};
  minus(&m, ntohl(a.s_addr) & mask_of(p), p);
  free(en);
  free(ep);
  return m.full ? -E2BIG : (int)m.used;
}

/* ---- ports ---- */

static int proto_of(const char *p) {
  if (!p || !strcmp(p, "TCP"))
    return IPPROTO_TCP;
  if (!strcmp(p, "UDP"))
    return IPPROTO_UDP;
  if (!strcmp(p, "SCTP"))
    return IPPROTO_SCTP;
  return -1;
}

static int number(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 65535 &&
                 v->valuedouble == (double)v->valueint
             ? v->valueint
             : 0;
}

/* The number of the container port named name with protocol proto, 0 if
 * the pod has none. */
static uint16_t named_port(const cJSON *pod, const char *name, int proto) {
  const cJSON *ctr, *p;
  cJSON_ArrayForEach(ctr, json_get_path(pod, "spec.containers")) {
    cJSON_ArrayForEach(p, field(ctr, "ports")) {
      const cJSON *n = field(p, "name");
      if (cJSON_IsString(n) && !strcmp(n->valuestring, name) &&
          proto_of(str(p, "protocol")) == proto)
        return (uint16_t)number(field(p, "containerPort"));
    }
  }
  return 0;
}

/* ---- rules ---- */

typedef struct {
  ctx_t *c;
  net_netpol_chain_t *ch;
  size_t chain_index, rule;
  bool any;
  bool has_pods;   /* a pod peer (podSelector/namespaceSelector), matching some pods or none */
  size_t *pods;    /* peer indexes */
  size_t n_pods;
  struct in_addr cidr[MAX_PIECES];
  int cidr_prefix[MAX_PIECES];
  size_t n_cidr;
  long set;        /* the rule's set of its pod peers, -1 before it is made */
} rule_t;

static bool selector(const cJSON *json, label_selector_t **ret) {
  char err[128];
  return label_selector_from_json(json, ret, err, sizeof err) == 0;
}

static void peer_pods(rule_t *r, const char *policy_ns, const cJSON *ps, const cJSON *nss) {
  label_selector_t *pod_sel = NULL, *ns_sel = NULL;
  if ((ps && !selector(ps, &pod_sel)) || (nss && !selector(nss, &ns_sel)))
    goto out;
  for (size_t i = 0; i < r->c->n_peers; i++) {
    const peer_t *pe = &r->c->peers[i];
    if (ns_sel ? !label_selector_match(ns_sel, ns_labels(r->c, pe->ns)) : strcmp(pe->ns, policy_ns))
      continue;
    if (pod_sel && !label_selector_match(pod_sel, pe->labels))
      continue;
    bool seen = false;
    for (size_t j = 0; j < r->n_pods && !seen; j++)
      seen = r->pods[j] == i;
    if (!seen) {
      r->pods = xrealloc(r->pods, (r->n_pods + 1) * sizeof *r->pods);
      r->pods[r->n_pods++] = i;
    }
  }
out:
  label_selector_free(pod_sel);
  label_selector_free(ns_sel);
}

static void ip_block(rule_t *r, const cJSON *ipb) {
  const cJSON *ex = field(ipb, "except"), *e;
  size_t n = 0, k = 0;
  cJSON_ArrayForEach(e, ex) n++;
  const char **v = xcalloc(n + 1, sizeof *v);
  cJSON_ArrayForEach(e, ex) {
    if (!cJSON_IsString(e))
      goto out; /* fail closed */
    v[k++] = e->valuestring;
  }
  int got = net_netpol_cidr_minus(str(ipb, "cidr"), v, k, r->cidr + r->n_cidr,
                                  r->cidr_prefix + r->n_cidr, MAX_PIECES - r->n_cidr);
  if (got > 0)
    r->n_cidr += (size_t)got;
out:
  free(v);
}

static size_t rule_set(rule_t *r) {
  if (r->set < 0) {
    char name[256];
    snprintf(name, sizeof name, "%s:%zu", r->ch->name, r->rule);
    r->set = (long)add_set(r->c, name);
    net_netpol_set_t *s = &r->c->plan->sets[r->set];
    for (size_t i = 0; i < r->n_pods; i++)
      set_add_ip(s, r->c->peers[r->pods[i]].ip);
  }
  return (size_t)r->set;
}

/* The rule's peers with port, for every pod of the chain or only pod. */
static void peers_with(rule_t *r, net_netpol_port_t port, struct in_addr pod) {
  net_netpol_match_t m = {.port = port, .pod = pod};
  if (r->any) {
    m.kind = NET_NETPOL_ANY;
    add_match(r->ch, &m);
    return;
  }
  if (r->has_pods) {
    m.kind = NET_NETPOL_SET;
    m.set = rule_set(r);
    add_match(r->ch, &m);
  }
  for (size_t i = 0; i < r->n_cidr; i++) {
    m.kind = NET_NETPOL_CIDR;
    m.set = 0;
    m.net = r->cidr[i];
    m.prefix = r->cidr_prefix[i];
    add_match(r->ch, &m);
  }
}

/* An egress port by name: resolved on each destination pod, one set per
 * number. */
static void egress_named(rule_t *r, const char *name, int proto) {
  size_t n = r->any ? r->c->n_peers : r->n_pods;
  for (size_t i = 0; i < n; i++) {
    const peer_t *pe = &r->c->peers[r->any ? i : r->pods[i]];
    uint16_t num = named_port(pe->pod, name, proto);
    if (!num)
      continue;
    char sname[512];
    snprintf(sname, sizeof sname, "%s:%zu:%.15s/%s/%u", r->ch->name, r->rule, name,
             proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "sctp", num);
    size_t s = r->c->plan->n_sets;
    for (size_t j = 0; j < r->c->plan->n_sets; j++)
      if (!strcmp(r->c->plan->sets[j].name, sname))
        s = j;
    if (s == r->c->plan->n_sets) {
      s = add_set(r->c, sname);
      net_netpol_match_t m = {.kind = NET_NETPOL_SET, .set = s,
                              .port = {.proto = (uint8_t)proto, .port = num, .end = num}};
      add_match(r->ch, &m);
    }
    set_add_ip(&r->c->plan->sets[s], pe->ip);
  }
}

static void compile_rule(ctx_t *c, net_netpol_chain_t *ch, size_t chain_index, size_t rule_no,
                         const cJSON *rule, const char *policy_ns, const local_t *const *sel,
                         size_t n_sel) {
  rule_t *r = xcalloc(1, sizeof *r);
  r->c = c;
  r->ch = ch;
  r->chain_index = chain_index;
  r->rule = rule_no;
  r->set = -1;
  const cJSON *peers = field(rule, ch->egress ? "to" : "from"), *pe;
  r->any = cJSON_GetArraySize(peers) == 0;
  cJSON_ArrayForEach(pe, peers) {
    const cJSON *ps = field(pe, "podSelector"), *nss = field(pe, "namespaceSelector");
    const cJSON *ipb = field(pe, "ipBlock");
    if (cJSON_IsNull(ps))
      ps = NULL;
    if (cJSON_IsNull(nss))
      nss = NULL;
    if (ipb && !cJSON_IsNull(ipb)) {
      if (!ps && !nss) /* exclusive with the selectors; both: invalid, nothing */
        ip_block(r, ipb);
    } else if (ps || nss) {
      r->has_pods = true;
      peer_pods(r, policy_ns, ps, nss);
    }
  }
  const cJSON *ports = field(rule, "ports"), *p;
  if (cJSON_GetArraySize(ports) == 0) {
    peers_with(r, (net_netpol_port_t){0}, (struct in_addr){0});
    goto out;
  }
  cJSON_ArrayForEach(p, ports) {
    int proto = proto_of(str(p, "protocol"));
    const cJSON *port = field(p, "port"), *endp = field(p, "endPort");
    if (proto < 0)
      continue;
    net_netpol_port_t np = {.proto = (uint8_t)proto};
    if (cJSON_IsString(port)) {
      if (ch->egress) {
        egress_named(r, port->valuestring, proto);
        continue;
      }
      for (size_t i = 0; i < n_sel; i++) {
        uint16_t num = named_port(sel[i]->peer->pod, port->valuestring, proto);
        if (num) {
          np.port = np.end = num;
          peers_with(r, np, sel[i]->p.ip);
        }
      }
      continue;
    }
    if (port && !cJSON_IsNull(port)) {
      if (!(np.port = (uint16_t)number(port)))
        continue; /* not a port: nothing */
      np.end = np.port;
      if (endp && !cJSON_IsNull(endp)) {
        int e = number(endp);
        if (e < np.port)
          continue;
        np.end = (uint16_t)e;
      }
    }
    peers_with(r, np, (struct in_addr){0});
  }
out:
  free(r->pods);
  free(r);
}

static void add_chain_to(size_t **v, size_t *n, size_t chain) {
  *v = xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = chain;
}

static void compile_policy(ctx_t *c, const cJSON *pol) {
  const char *ns = str(pol, "metadata.namespace"), *name = str(pol, "metadata.name");
  const cJSON *spec = field(pol, "spec");
  if (!ns || !name || !spec)
    return;
  const cJSON *ps = field(spec, "podSelector");
  label_selector_t *sel = NULL;
  cJSON *all = NULL;
  if (!ps || cJSON_IsNull(ps))
    ps = all = cJSON_CreateObject();
  bool ok = selector(ps, &sel);
  cJSON_Delete(all);
  if (!ok)
    return;
  const local_t **chosen = xcalloc(c->n_locals + 1, sizeof *chosen);
  size_t n = 0;
  for (size_t i = 0; i < c->n_locals; i++)
    if (!strcmp(c->locals[i].peer->ns, ns) && label_selector_match(sel, c->locals[i].peer->labels))
      chosen[n++] = &c->locals[i];
  label_selector_free(sel);
  bool types[2] = {false, false}; /* ingress, egress */
  const cJSON *t, *pt = field(spec, "policyTypes");
  if (cJSON_GetArraySize(pt) == 0) {
    types[0] = true;
    types[1] = cJSON_GetArraySize(field(spec, "egress")) > 0;
  }
  cJSON_ArrayForEach(t, pt) {
    if (cJSON_IsString(t) && !strcmp(t->valuestring, "Ingress"))
      types[0] = true;
    if (cJSON_IsString(t) && !strcmp(t->valuestring, "Egress"))
      types[1] = true;
  }
  net_netpol_plan_t *pl = c->plan;
  for (int d = 0; d < 2 && n; d++) {
    if (!types[d])
      continue;
    pl->chains = xrealloc(pl->chains, (pl->n_chains + 1) * sizeof *pl->chains);
    size_t ci = pl->n_chains++;
    net_netpol_chain_t *ch = &pl->chains[ci];
    memset(ch, 0, sizeof *ch);
    ch->egress = d == 1;
    snprintf(ch->name, sizeof ch->name, "%s:%.63s/%.160s", d ? "out" : "in", ns, name);
    const cJSON *rule;
    size_t k = 0;
    cJSON_ArrayForEach(rule, field(spec, d ? "egress" : "ingress")) {
      compile_rule(c, &pl->chains[ci], ci, k++, rule, ns, chosen, n);
    }
    for (size_t i = 0; i < n; i++) {
      net_netpol_pod_t *pp = &((local_t *)chosen[i])->p;
      if (d)
        add_chain_to(&pp->out, &pp->n_out, ci);
      else
        add_chain_to(&pp->in, &pp->n_in, ci);
    }
  }
  free(chosen);
}

static int policy_cmp(const void *x, const void *y) {
  const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
  const char *na = str(a, "metadata.namespace"), *nb = str(b, "metadata.namespace");
  int r = strcmp(na ? na : "", nb ? nb : "");
  if (r)
    return r;
  na = str(a, "metadata.name");
  nb = str(b, "metadata.name");
  return strcmp(na ? na : "", nb ? nb : "");
}

static int pod_cmp(const void *x, const void *y) {
  return ip_cmp(&((const net_netpol_pod_t *)x)->ip, &((const net_netpol_pod_t *)y)->ip);
}

void net_netpol_plan_build(net_netpol_plan_t *plan, const char *node,
                           const cJSON *const *policies, size_t n_policies,
                           const cJSON *const *pods, size_t n_pods, const cJSON *const *namespaces,
                           size_t n_namespaces) {
  ctx_t c = {.plan = plan};
  c.nss = xcalloc(n_namespaces + 1, sizeof *c.nss);
  for (size_t i = 0; i < n_namespaces; i++) {
    const char *name = str(namespaces[i], "metadata.name");
    if (!name)
      continue;
    const cJSON *l = json_get_path(namespaces[i], "metadata.labels");
    cJSON *labels = cJSON_IsObject(l) ? cJSON_Duplicate(l, 1) : cJSON_CreateObject();
    if (!cJSON_GetObjectItemCaseSensitive(labels, NS_NAME_LABEL))
      cJSON_AddStringToObject(labels, NS_NAME_LABEL, name); /* the API server sets it */
    c.nss[c.n_nss++] = (ns_t){.name = name, .labels = labels};
  }
  c.peers = xcalloc(n_pods + 1, sizeof *c.peers);
  c.locals = xcalloc(n_pods + 1, sizeof *c.locals);
  for (size_t i = 0; i < n_pods; i++) {
    peer_t pe = {.pod = pods[i], .ns = str(pods[i], "metadata.namespace"),
                 .name = str(pods[i], "metadata.name"),
                 .labels = json_get_path(pods[i], "metadata.labels")};
    if (!pe.ns || !pe.name || !pod_eligible(pods[i], &pe.ip))
      continue;
    c.peers[c.n_peers++] = pe;
  }
  for (size_t i = 0; i < c.n_peers; i++) {
    const char *on = str(c.peers[i].pod, "spec.nodeName");
    if (!node || !on || strcmp(on, node))
      continue;
    local_t *l = &c.locals[c.n_locals++];
    l->peer = &c.peers[i];
    l->p.ip = c.peers[i].ip;
    snprintf(l->p.name, sizeof l->p.name, "%.63s/%.90s", c.peers[i].ns, c.peers[i].name);
  }
  const cJSON **sorted = xcalloc(n_policies + 1, sizeof *sorted);
  if (n_policies) {
    memcpy(sorted, policies, n_policies * sizeof *sorted);
    qsort(sorted, n_policies, sizeof *sorted, policy_cmp);
  }
  for (size_t i = 0; i < n_policies; i++)
    compile_policy(&c, sorted[i]);
  free(sorted);
  for (size_t i = 0; i < c.n_locals; i++) {
    if (!c.locals[i].p.n_in && !c.locals[i].p.n_out)
      continue;
    plan->pods = xrealloc(plan->pods, (plan->n_pods + 1) * sizeof *plan->pods);
    plan->pods[plan->n_pods++] = c.locals[i].p;
  }
  if (plan->n_pods)
    qsort(plan->pods, plan->n_pods, sizeof *plan->pods, pod_cmp);
  for (size_t i = 0; i < plan->n_sets; i++)
    if (plan->sets[i].n)
      qsort(plan->sets[i].ips, plan->sets[i].n, sizeof *plan->sets[i].ips, ip_cmp);
  for (size_t i = 0; i < c.n_nss; i++)
    cJSON_Delete(c.nss[i].labels);
  free(c.nss);
  free(c.peers);
  free(c.locals);
}

void net_netpol_plan_free(net_netpol_plan_t *plan) {
  for (size_t i = 0; i < plan->n_pods; i++) {
    free(plan->pods[i].in);
    free(plan->pods[i].out);
  }
  for (size_t i = 0; i < plan->n_chains; i++)
    free(plan->chains[i].v);
  for (size_t i = 0; i < plan->n_sets; i++)
    free(plan->sets[i].ips);
  free(plan->pods);
  free(plan->chains);
  free(plan->sets);
  memset(plan, 0, sizeof *plan);
}

/* ---- text ---- */

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

static void put_chains(buf_t *b, const net_netpol_plan_t *pl, const size_t *v, size_t n) {
  if (!n)
    put(b, " -");
  for (size_t i = 0; i < n; i++) {
    put(b, " ");
    put(b, pl->chains[v[i]].name);
  }
}

char *net_netpol_plan_text(const net_netpol_plan_t *plan, bool with_sets) {
  buf_t b = {0};
  char ip[INET_ADDRSTRLEN], part[320];
  put(&b, "");
  for (size_t i = 0; i < plan->n_pods; i++) {
    const net_netpol_pod_t *p = &plan->pods[i];
    inet_ntop(AF_INET, &p->ip, ip, sizeof ip);
    snprintf(part, sizeof part, "pod %s %s in:", ip, p->name);
    put(&b, part);
    put_chains(&b, plan, p->in, p->n_in);
    put(&b, " out:");
    put_chains(&b, plan, p->out, p->n_out);
    put(&b, "\n");
  }
  for (size_t i = 0; i < plan->n_chains; i++) {
    const net_netpol_chain_t *ch = &plan->chains[i];
    put(&b, "chain ");
    put(&b, ch->name);
    put(&b, "\n");
    for (size_t j = 0; j < ch->n; j++) {
      const net_netpol_match_t *m = &ch->v[j];
      put(&b, "  ");
      if (m->kind == NET_NETPOL_ANY) {
        put(&b, "any");
      } else if (m->kind == NET_NETPOL_SET) {
        put(&b, "@");
        put(&b, plan->sets[m->set].name);
      } else {
        inet_ntop(AF_INET, &m->net, ip, sizeof ip);
        snprintf(part, sizeof part, "%s/%d", ip, m->prefix);
        put(&b, part);
      }
      const net_netpol_port_t *pt = &m->port;
      if (!pt->proto)
        put(&b, " all");
      else {
        put(&b, pt->proto == IPPROTO_TCP ? " tcp" : pt->proto == IPPROTO_UDP ? " udp" : " sctp");
        if (pt->port && pt->end != pt->port)
          snprintf(part, sizeof part, " %u-%u", pt->port, pt->end);
        else if (pt->port)
          snprintf(part, sizeof part, " %u", pt->port);
        else
          snprintf(part, sizeof part, " *");
        put(&b, part);
      }
      if (m->pod.s_addr) {
        inet_ntop(AF_INET, &m->pod, ip, sizeof ip);
        put(&b, " pod ");
        put(&b, ip);
      }
      put(&b, "\n");
    }
  }
  for (size_t i = 0; with_sets && i < plan->n_sets; i++) {
    put(&b, "set ");
    put(&b, plan->sets[i].name);
    put(&b, ":");
    for (size_t j = 0; j < plan->sets[i].n; j++) {
      inet_ntop(AF_INET, &plan->sets[i].ips[j], ip, sizeof ip);
      put(&b, " ");
      put(&b, ip);
    }
    put(&b, "\n");
  }
  return b.s;
}
