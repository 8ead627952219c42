/* NetworkPolicy enforcement in nf_tables (see netpol.h): the table made
 * from a plan (netpol_plan.c), its peer sets, and the agent's informers on
 * NetworkPolicies, Pods and Namespaces. Sets and lookups:
 * https://wiki.nftables.org/wiki-nftables/index.php/Sets */
#include "net/netpol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "client/informer.h"
#include "net/nft.h"
#include "util/alloc.h"
#include "util/log.h"

#define T NET_NETPOL_TABLE
#define DEBOUNCE_SECONDS 0.1
#define RESYNC_SECONDS 30.0
#define RETRY_SECONDS 5.0
#define MAX_OBJECTS 20000
#define ELEMS_PER_MSG 1000 /* an attribute nest holds 64 KiB */
#define TYPE_IPV4_ADDR 7   /* nft's ipv4_addr data type */
#define CT_ESTABLISHED_RELATED 6u /* NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | ..(IP_CT_RELATED) */

/* ---- the table ---- */

static void pod_chain_name(const net_netpol_pod_t *p, bool egress, char *out, size_t len) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &p->ip, ip, sizeof ip);
  snprintf(out, len, "pod-%s:%s", egress ? "out" : "in", ip);
}

static void new_set(nl_msg_t *m, const char *name, uint32_t id) {
  nft_begin(m, NET_NFT(NFT_MSG_NEWSET), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
  nl_put_str(m, NFTA_SET_TABLE, T);
  nl_put_str(m, NFTA_SET_NAME, name);
  nl_put_be32(m, NFTA_SET_FLAGS, 0);
  nl_put_be32(m, NFTA_SET_KEY_TYPE, TYPE_IPV4_ADDR);
  nl_put_be32(m, NFTA_SET_KEY_LEN, 4);
  nl_put_be32(m, NFTA_SET_ID, id);
}

/* id: the set's NFTA_SET_ID when it is made in the same batch, else 0 */
static void set_elems(nl_msg_t *m, const net_netpol_set_t *s, uint32_t id) {
  for (size_t at = 0; at < s->n; at += ELEMS_PER_MSG) {
    nft_begin(m, NET_NFT(NFT_MSG_NEWSETELEM), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
    nl_put_str(m, NFTA_SET_ELEM_LIST_TABLE, T);
    nl_put_str(m, NFTA_SET_ELEM_LIST_SET, s->name);
    if (id)
      nl_put_be32(m, NFTA_SET_ELEM_LIST_SET_ID, id);
    size_t list = nl_nest_begin(m, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (size_t i = at; i < s->n && i < at + ELEMS_PER_MSG; i++) {
      size_t e = nl_nest_begin(m, NFTA_LIST_ELEM);
      nft_put_data(m, NFTA_SET_ELEM_KEY, &s->ips[i], 4);
      nl_nest_end(m, e);
    }
    nl_nest_end(m, list);
  }
}

/* ct state established,related */
static void ct_established(nl_msg_t *m) {
  size_t d, e = nft_expr_begin(m, "ct", &d);
  nl_put_be32(m, NFTA_CT_KEY, NFT_CT_STATE);
  nl_put_be32(m, NFTA_CT_DREG, NFT_REG_1);
  nft_expr_end(m, e, d);
  uint32_t bits = CT_ESTABLISHED_RELATED, zero = 0;
  nft_bitwise(m, &bits, 4);
  nft_cmp(m, NFT_CMP_NEQ, &zero, 4);
}

static void lookup(nl_msg_t *m, const char *set, uint32_t id) {
  size_t d, e = nft_expr_begin(m, "lookup", &d);
  nl_put_str(m, NFTA_LOOKUP_SET, set);
  nl_put_be32(m, NFTA_LOOKUP_SET_ID, id);
  nl_put_be32(m, NFTA_LOOKUP_SREG, NFT_REG_1);
  nft_expr_end(m, e, d);
}

static void match_port(nl_msg_t *m, const net_netpol_port_t *p) {
  if (!p->proto)
    return;
  nft_meta_load(m, NFT_META_L4PROTO);
  nft_cmp(m, NFT_CMP_EQ, &p->proto, 1);
  if (!p->port)
    return;
  uint16_t lo = htons(p->port), hi = htons(p->end);
  nft_payload(m, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
  if (p->end == p->port) {
    nft_cmp(m, NFT_CMP_EQ, &lo, 2);
  } else {
    nft_cmp(m, NFT_CMP_GTE, &lo, 2); /* network order compares as numbers */
    nft_cmp(m, NFT_CMP_LTE, &hi, 2);
  }
}

static void policy_chain(nl_msg_t *m, const net_netpol_plan_t *plan, const net_netpol_chain_t *ch) {
  /* the peer is the source of ingress, the destination of egress */
  uint32_t peer_at = ch->egress ? 16 : 12, pod_at = ch->egress ? 12 : 16;
  for (size_t i = 0; i < ch->n; i++) {
    const net_netpol_match_t *mt = &ch->v[i];
    size_t r = nft_rule_begin(m, T, ch->name);
    if (mt->kind == NET_NETPOL_SET) {
      nft_payload(m, NFT_PAYLOAD_NETWORK_HEADER, peer_at, 4);
      lookup(m, plan->sets[mt->set].name, (uint32_t)mt->set + 1);
    } else if (mt->kind == NET_NETPOL_CIDR) {
      nft_match_addr(m, peer_at, mt->net, mt->prefix, NFT_CMP_EQ);
    }
    match_port(m, &mt->port);
    if (mt->pod.s_addr)
      nft_match_addr(m, pod_at, mt->pod, 32, NFT_CMP_EQ);
    nft_verdict(m, NF_ACCEPT, NULL);
    nft_rule_end(m, r);
  }
}

int net_netpol_apply(nl_sock_t *s, const net_netpol_plan_t *plan, char *err, size_t errlen) {
  nl_msg_t m;
  char ch[256];
  nl_msg_init(&m);
  nft_batch_begin(&m);
  nft_table_fresh(&m, T);
  for (size_t i = 0; i < plan->n_sets; i++) {
    new_set(&m, plan->sets[i].name, (uint32_t)i + 1);
    set_elems(&m, &plan->sets[i], (uint32_t)i + 1);
  }
  for (size_t i = 0; i < plan->n_chains; i++) {
    nft_chain(&m, T, plan->chains[i].name, NULL, 0, 0);
    policy_chain(&m, plan, &plan->chains[i]);
  }
  for (size_t i = 0; i < plan->n_pods; i++) {
    const net_netpol_pod_t *p = &plan->pods[i];
    for (int egress = 0; egress < 2; egress++) {
      const size_t *v = egress ? p->out : p->in;
      size_t n = egress ? p->n_out : p->n_in;
      if (!n)
        continue;
      pod_chain_name(p, egress, ch, sizeof ch);
      nft_chain(&m, T, ch, NULL, 0, 0);
      for (size_t j = 0; j < n; j++) {
        size_t r = nft_rule_begin(&m, T, ch);
        nft_verdict(&m, NFT_JUMP, plan->chains[v[j]].name);
        nft_rule_end(&m, r);
      }
      size_t r = nft_rule_begin(&m, T, ch);
      nft_verdict(&m, NF_DROP, NULL);
      nft_rule_end(&m, r);
    }
  }
  /* the hooks: egress first (the sending pod's policies), then ingress */
  nft_chain(&m, T, "egress", "filter", NF_INET_FORWARD, 0);
  nft_chain(&m, T, "ingress", "filter", NF_INET_FORWARD, 1);
  for (int egress = 0; egress < 2; egress++) {
    const char *base = egress ? "egress" : "ingress";
    size_t r = nft_rule_begin(&m, T, base);
    ct_established(&m);
    nft_verdict(&m, NF_ACCEPT, NULL);
    nft_rule_end(&m, r);
    for (size_t i = 0; i < plan->n_pods; i++) {
      const net_netpol_pod_t *p = &plan->pods[i];
      if (!(egress ? p->n_out : p->n_in))
        continue;
      pod_chain_name(p, egress, ch, sizeof ch);
      r = nft_rule_begin(&m, T, base);
      nft_match_addr(&m, egress ? 12 : 16, p->ip, 32, NFT_CMP_EQ);
      nft_verdict(&m, NFT_JUMP, ch);
      nft_rule_end(&m, r);
    }
  }
  nft_batch_end(&m);
  return nft_run(s, &m, NULL, NULL, "setting the network policy rules (table ip " T ")", err,
                 errlen);
}

int net_netpol_update_sets(nl_sock_t *s, const net_netpol_plan_t *plan, const bool *changed,
                           char *err, size_t errlen) {
  nl_msg_t m;
  nl_msg_init(&m);
  nft_batch_begin(&m);
  for (size_t i = 0; i < plan->n_sets; i++) {
    if (!changed[i])
      continue;
    /* no elements: the whole set flushed */
    nft_begin(&m, NET_NFT(NFT_MSG_DELSETELEM), NLM_F_ACK, NFPROTO_IPV4, 0);
    nl_put_str(&m, NFTA_SET_ELEM_LIST_TABLE, T);
    nl_put_str(&m, NFTA_SET_ELEM_LIST_SET, plan->sets[i].name);
    set_elems(&m, &plan->sets[i], 0);
  }
  nft_batch_end(&m);
  return nft_run(s, &m, NULL, NULL, "updating the network policy peer sets (table ip " T ")", err,
                 errlen);
}

int net_netpol_remove(nl_sock_t *s, char *err, size_t errlen) {
  return nft_table_remove(s, T, err, errlen);
}

int net_netpol_describe(nl_sock_t *s, char *out, size_t outlen, char *err, size_t errlen) {
  return nft_describe(s, T, 1, out, outlen, err, errlen);
}

typedef struct {
  char *out;
  size_t len, used;
} elems_t;

static int elem_cb(const struct nlmsghdr *h, void *data) {
  elems_t *d = data;
  const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1];
  if (h->nlmsg_type != NET_NFT(NFT_MSG_NEWSETELEM) ||
      nl_msg_attrs(h, sizeof(struct nfgenmsg), tb, NFTA_SET_ELEM_LIST_MAX) < 0 ||
      !tb[NFTA_SET_ELEM_LIST_ELEMENTS])
    return 0;
  const struct nlattr *list = tb[NFTA_SET_ELEM_LIST_ELEMENTS];
  const char *p = nl_attr_data(list);
  size_t left = nl_attr_len(list);
  while (left >= sizeof(struct nlattr)) {
    const struct nlattr *a = (const struct nlattr *)p;
    if (a->nla_len < sizeof(struct nlattr) || a->nla_len > left)
      break;
    const struct nlattr *e[NFTA_SET_ELEM_MAX + 1], *k[NFTA_DATA_MAX + 1];
    if (nl_attr_parse(nl_attr_data(a), nl_attr_len(a), e, NFTA_SET_ELEM_MAX) == 0 &&
        e[NFTA_SET_ELEM_KEY] &&
        nl_attr_parse(nl_attr_data(e[NFTA_SET_ELEM_KEY]), nl_attr_len(e[NFTA_SET_ELEM_KEY]), k,
                      NFTA_DATA_MAX) == 0 &&
        k[NFTA_DATA_VALUE] && nl_attr_len(k[NFTA_DATA_VALUE]) == 4) {
      char ip[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, nl_attr_data(k[NFTA_DATA_VALUE]), ip, sizeof ip);
      int n = snprintf(d->out + d->used, d->len - d->used, "%s%s", d->used ? " " : "", ip);
      if (n > 0 && (size_t)n < d->len - d->used)
        d->used += (size_t)n;
    }
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= left)
      break;
    p += step;
    left -= step;
  }
  return 0;
}

int net_netpol_describe_set(nl_sock_t *s, const char *set, char *out, size_t outlen, char *err,
                            size_t errlen) {
  if (!outlen)
    return -EINVAL;
  out[0] = 0;
  nl_msg_t m;
  nl_msg_init(&m);
  nft_begin(&m, NET_NFT(NFT_MSG_GETSETELEM), NLM_F_DUMP, NFPROTO_IPV4, 0);
  nl_put_str(&m, NFTA_SET_ELEM_LIST_TABLE, T);
  nl_put_str(&m, NFTA_SET_ELEM_LIST_SET, set);
  elems_t d = {.out = out, .len = outlen};
  return nft_run(s, &m, elem_cb, &d, "listing a network policy set", err, errlen);
}

/* ---- the agent's side ---- */

struct net_netpol {
  struct ev_loop *loop;
  client_t *c;
  char *node;
  client_informer_t *pols, *pods, *nss;
  nl_sock_t *nl;
  char *applied;      /* the plan's text without the sets' contents, NULL before */
  char *applied_sets; /* "\n" and the text with them */
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

static void failed(net_netpol_t *p, const char *err) {
  if (strcmp(err, p->last_err))
    log_error("netpol", "%s; retrying", err);
  snprintf(p->last_err, sizeof p->last_err, "%s", err);
  ev_timer_stop(p->loop, &p->kick);
  ev_timer_set(&p->kick, RETRY_SECONDS, 0.0);
  ev_timer_start(p->loop, &p->kick);
}

/* The sets whose line in the text differs from the last applied one. */
static size_t changed_sets(const net_netpol_t *p, const net_netpol_plan_t *plan, bool *changed) {
  size_t n = 0;
  for (size_t i = 0; i < plan->n_sets; i++) {
    net_netpol_plan_t one = {.sets = (net_netpol_set_t *)&plan->sets[i], .n_sets = 1};
    char *line = net_netpol_plan_text(&one, true);
    char *want = xasprintf("\n%s", line);
    changed[i] = !strstr(p->applied_sets, want);
    n += changed[i];
    free(want);
    free(line);
  }
  return n;
}

static void reconcile(net_netpol_t *p) {
  if (!client_informer_synced(p->pols) || !client_informer_synced(p->pods) ||
      !client_informer_synced(p->nss))
    return; /* an empty cache would open or close everything */
  objs_t pols = {0}, pods = {0}, nss = {0};
  client_cache_foreach(client_informer_cache(p->pols), collect, &pols);
  client_cache_foreach(client_informer_cache(p->pods), collect, &pods);
  client_cache_foreach(client_informer_cache(p->nss), collect, &nss);
  net_netpol_plan_t plan = {0};
  net_netpol_plan_build(&plan, p->node, pols.v, pols.n, pods.v, pods.n, nss.v, nss.n);
  free(pols.v);
  free(pods.v);
  free(nss.v);
  char *text = net_netpol_plan_text(&plan, false), *full = net_netpol_plan_text(&plan, true);
  char *full_nl = xasprintf("\n%s", full);
  free(full);
  char err[256];
  if (!p->force && p->applied && !strcmp(text, p->applied)) {
    bool *changed = xcalloc(plan.n_sets + 1, sizeof *changed);
    size_t n = changed_sets(p, &plan, changed);
    if (n && net_netpol_update_sets(p->nl, &plan, changed, err, sizeof err) < 0) {
      failed(p, err);
      p->force = true; /* rebuild it all on the retry */
    } else if (n) {
      log_info("netpol", "table ip " T ": %zu peer set(s) updated", n);
      free(p->applied_sets);
      p->applied_sets = full_nl;
      full_nl = NULL;
      p->last_err[0] = 0;
    }
    free(changed);
    free(text);
    free(full_nl);
    net_netpol_plan_free(&plan);
    return;
  }
  if (net_netpol_apply(p->nl, &plan, err, sizeof err) < 0) {
    failed(p, err);
    free(text);
    free(full_nl);
  } else {
    if (!p->applied || strcmp(text, p->applied))
      log_info("netpol", "table ip " T ": %zu chain(s) of policies for %zu pod(s)", plan.n_chains,
               plan.n_pods);
    free(p->applied);
    free(p->applied_sets);
    p->applied = text;
    p->applied_sets = full_nl;
    p->last_err[0] = 0;
    p->force = false;
  }
  net_netpol_plan_free(&plan);
}

static void kick(net_netpol_t *p) {
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
  reconcile((net_netpol_t *)((char *)w - offsetof(net_netpol_t, kick)));
}
static void resync_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  net_netpol_t *p = (net_netpol_t *)((char *)w - offsetof(net_netpol_t, resync));
  p->force = true;
  reconcile(p);
}

static int watch(net_netpol_t *p, const char *group, const char *resource,
                 client_informer_t **ret, char *err, size_t errlen) {
  client_ref_t ref = {.group = group, .version = "v1", .resource = resource};
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

int net_netpol_new(struct ev_loop *loop, client_t *c, const char *node, net_netpol_t **ret,
                   char *err, size_t errlen) {
  net_netpol_t *p = xcalloc(1, sizeof *p);
  int r;
  p->loop = loop;
  p->c = c;
  p->node = xstrdup(node);
  ev_init(&p->kick, kick_cb);
  ev_init(&p->resync, resync_cb);
  if ((r = nl_open(NETLINK_NETFILTER, &p->nl)) < 0) {
    snprintf(err, errlen, "nfnetlink: %s", strerror(-r));
    goto fail;
  }
  if ((r = watch(p, "networking.k8s.io", "networkpolicies", &p->pols, err, errlen)) < 0 ||
      (r = watch(p, "", "pods", &p->pods, err, errlen)) < 0 ||
      (r = watch(p, "", "namespaces", &p->nss, err, errlen)) < 0)
    goto fail;
  client_informer_start(p->pols);
  client_informer_start(p->pods);
  client_informer_start(p->nss);
  ev_timer_set(&p->resync, RESYNC_SECONDS, RESYNC_SECONDS);
  ev_timer_start(loop, &p->resync);
  *ret = p;
  return 0;
fail:
  net_netpol_free(p);
  return r;
}

void net_netpol_free(net_netpol_t *p) {
  if (!p)
    return;
  ev_timer_stop(p->loop, &p->kick);
  ev_timer_stop(p->loop, &p->resync);
  client_informer_free(p->pols);
  client_informer_free(p->pods);
  client_informer_free(p->nss);
  nl_close(p->nl);
  free(p->applied);
  free(p->applied_sets);
  free(p->node);
  free(p);
}
