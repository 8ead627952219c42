/* The Endpoints controller: for every Service with a selector, an Endpoints
 * object of the same name listing its pods (ready ones in addresses, the
 * others in notReadyAddresses, ports resolved per pod and repacked as
 * upstream's endpoints controller and RepackSubsets do), deleted with the
 * Service. Services without a selector keep hand-made Endpoints.
 * https://kubernetes.io/docs/concepts/services-networking/service/#endpoints */
#include "controller/endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "json/util.h"
#include "util/alloc.h"

#define S controller__str

#define ANN_TRIGGER "endpoints.kubernetes.io/last-change-trigger-time"
#define ANN_CAPACITY "endpoints.kubernetes.io/over-capacity"
#define LABEL_HEADLESS "service.kubernetes.io/headless"

/* ---- pure pieces ---- */

bool controller__service_managed(const cJSON *svc) {
  const char *type = S(svc, "spec.type");
  if (type && !strcmp(type, "ExternalName"))
    return false;
  const cJSON *sel = json_get_path(svc, "spec.selector");
  return cJSON_IsObject(sel) && sel->child;
}

bool controller__service_selects(const cJSON *svc, const cJSON *labels) {
  const cJSON *sel = json_get_path(svc, "spec.selector"), *kv;
  if (!cJSON_IsObject(sel) || !sel->child)
    return false;
  cJSON_ArrayForEach(kv, sel) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(labels, kv->string);
    if (!cJSON_IsString(kv) || !cJSON_IsString(l) || strcmp(kv->valuestring, l->valuestring))
      return false;
  }
  return true;
}

bool controller__pod_ready(const cJSON *pod) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = S(c, "type"), *st = S(c, "status");
    if (t && st && !strcmp(t, "Ready"))
      return !strcmp(st, "True");
  }
  return false;
}

const char *controller__pod_ipv4(const cJSON *pod) {
  const char *ip = S(pod, "status.podIP");
  if (ip && *ip && strchr(ip, '.'))
    return ip;
  const cJSON *e;
  cJSON_ArrayForEach(e, json_get_path(pod, "status.podIPs")) {
    ip = S(e, "ip");
    if (ip && *ip && strchr(ip, '.'))
      return ip;
  }
  return NULL;
}

bool controller__pod_in_endpoints(const cJSON *pod, bool include_terminating) {
  const char *phase = S(pod, "status.phase");
  if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
    return false;
  if (!controller__pod_ipv4(pod))
    return false;
  return include_terminating || !json_get_path(pod, "metadata.deletionTimestamp");
}

static const char *protocol_of(const cJSON *port) {
  const char *p = S(port, "protocol");
  return p && *p ? p : "TCP";
}

int controller__pod_find_port(const cJSON *pod, const cJSON *svc_port) {
  const cJSON *tp = cJSON_GetObjectItemCaseSensitive(svc_port, "targetPort");
  if (cJSON_IsNumber(tp) && tp->valueint > 0)
    return tp->valueint;
  if (!cJSON_IsString(tp) || !*tp->valuestring) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(svc_port, "port");
    return cJSON_IsNumber(p) ? p->valueint : -1;
  }
  const char *want = protocol_of(svc_port);
  const cJSON *c, *p;
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers")) {
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports")) {
      const char *name = S(p, "name");
      const cJSON *cp = cJSON_GetObjectItemCaseSensitive(p, "containerPort");
      if (name && !strcmp(name, tp->valuestring) && !strcmp(protocol_of(p), want) &&
          cJSON_IsNumber(cp))
        return cp->valueint;
    }
  }
  return -1;
}

bool controller__pod_sets_hostname(const cJSON *pod, const cJSON *svc) {
  const char *h = S(pod, "spec.hostname"), *sub = S(pod, "spec.subdomain");
  const char *name = S(svc, "metadata.name"), *ns = S(svc, "metadata.namespace");
  const char *pns = S(pod, "metadata.namespace");
  return h && *h && sub && name && !strcmp(sub, name) && ns && pns && !strcmp(ns, pns);
}

typedef struct {
  cJSON *addr; /* the EndpointAddress */
  const char *ip, *uid;
  bool ready;
} addr_t;

typedef struct {
  cJSON *port; /* the EndpointPort, NULL for the no-ports sentinel */
  char key[320];
  size_t *idx, n, cap; /* the addresses offering it, ascending */
  int group;
} eport_t;

static cJSON *address_of(const cJSON *pod, const cJSON *svc, const char *ip) {
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "ip", ip);
  if (controller__pod_sets_hostname(pod, svc))
    cJSON_AddStringToObject(a, "hostname", S(pod, "spec.hostname"));
  const char *node = S(pod, "spec.nodeName");
  if (node && *node)
    cJSON_AddStringToObject(a, "nodeName", node);
  cJSON *ref = cJSON_AddObjectToObject(a, "targetRef");
  cJSON_AddStringToObject(ref, "kind", "Pod");
  const char *v;
  if ((v = S(pod, "metadata.namespace")))
    cJSON_AddStringToObject(ref, "namespace", v);
  if ((v = S(pod, "metadata.name")))
    cJSON_AddStringToObject(ref, "name", v);
  if ((v = S(pod, "metadata.uid")))
    cJSON_AddStringToObject(ref, "uid", v);
  return a;
}

static cJSON *endpoint_port(const cJSON *svc_port, int num) {
  cJSON *p = cJSON_CreateObject();
  const char *name = S(svc_port, "name"), *app = S(svc_port, "appProtocol");
  if (name && *name)
    cJSON_AddStringToObject(p, "name", name);
  cJSON_AddNumberToObject(p, "port", num);
  cJSON_AddStringToObject(p, "protocol", protocol_of(svc_port));
  if (app && *app)
    cJSON_AddStringToObject(p, "appProtocol", app);
  return p;
}

static eport_t *port_find(eport_t **ports, size_t *np, size_t *cap, const char *key,
                          const cJSON *svc_port, int num) {
  for (size_t i = 0; i < *np; i++)
    if (!strcmp((*ports)[i].key, key))
      return &(*ports)[i];
  if (*np == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    *ports = xrealloc(*ports, *cap * sizeof(**ports));
  }
  eport_t *p = &(*ports)[(*np)++];
  memset(p, 0, sizeof(*p));
  snprintf(p->key, sizeof(p->key), "%s", key);
  p->port = svc_port ? endpoint_port(svc_port, num) : NULL;
  return p;
}

static void port_add_addr(eport_t *p, size_t i) {
  if (p->n && p->idx[p->n - 1] == i)
    return; /* the same pod resolving two service ports alike */
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 8;
    p->idx = xrealloc(p->idx, p->cap * sizeof(size_t));
  }
  p->idx[p->n++] = i;
}

static bool same_addrs(const eport_t *a, const eport_t *b) {
  return a->n == b->n && !memcmp(a->idx, b->idx, a->n * sizeof(size_t));
}

static int addr_cmp(const void *x, const void *y) {
  const addr_t *a = *(addr_t *const *)x, *b = *(addr_t *const *)y;
  int c = strcmp(a->ip, b->ip);
  return c ? c : strcmp(a->uid, b->uid);
}

static int port_cmp(const void *x, const void *y) {
  const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
  const char *na = S(a, "name"), *nb = S(b, "name");
  int c = strcmp(na ? na : "", nb ? nb : "");
  if (c)
    return c;
  c = (int)controller__num(a, "port", 0) - (int)controller__num(b, "port", 0);
  return c ? c : strcmp(S(a, "protocol"), S(b, "protocol"));
}

static const char *subset_first_ip(const cJSON *s) {
  const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "addresses"), 0);
  if (!a)
    a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "notReadyAddresses"), 0);
  const char *ip = S(a, "ip");
  return ip ? ip : "";
}

static int subset_cmp(const void *x, const void *y) {
  return strcmp(subset_first_ip(*(cJSON *const *)x), subset_first_ip(*(cJSON *const *)y));
}

/* The first n items of arr (a new array of copies). */
static cJSON *first_n(const cJSON *arr, int n) {
  cJSON *out = cJSON_CreateArray(), *e;
  cJSON_ArrayForEach(e, arr) {
    if (n-- <= 0)
      break;
    cJSON_AddItemToArray(out, cJSON_Duplicate(e, 1));
  }
  return out;
}

/* Upstream's truncateEndpoints: keep max addresses spread over the subsets
 * in proportion, ready ones before not-ready ones. */
static bool truncate_subsets(cJSON *subsets, size_t max) {
  int ready = 0, unready = 0, nsub = cJSON_GetArraySize(subsets);
  cJSON *s;
  cJSON_ArrayForEach(s, subsets) {
    ready += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "addresses"));
    unready += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "notReadyAddresses"));
  }
  if ((size_t)(ready + unready) <= max)
    return false;
  bool cut_ready = (size_t)ready > max;
  int lim = cut_ready ? (int)max : (int)max - ready, total = cut_ready ? ready : unready;
  int left = lim, i = 0;
  cJSON_ArrayForEach(s, subsets) {
    const char *field = cut_ready ? "addresses" : "notReadyAddresses";
    cJSON *list = cJSON_GetObjectItemCaseSensitive(s, field);
    int in = cJSON_GetArraySize(list), take = left;
    if (i++ != nsub - 1 && total > 0) {
      long long num = (long long)in * lim;
      take = (int)((num + total - 1) / total); /* ceil(in / total * lim) */
    }
    if (take > left)
      take = left;
    if (list)
      cJSON_ReplaceItemInObjectCaseSensitive(s, field, first_n(list, take));
    if (cut_ready)
      cJSON_DeleteItemFromObjectCaseSensitive(s, "notReadyAddresses");
    left -= list ? cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, field)) : 0;
  }
  return true;
}

cJSON *controller_endpoints_subsets(const cJSON *svc, const cJSON *const *pods, size_t n,
                                    size_t max, bool *ret_truncated) {
  bool publish = cJSON_IsTrue(json_get_path(svc, "spec.publishNotReadyAddresses"));
  const cJSON *svc_ports = json_get_path(svc, "spec.ports");
  const char *cip = S(svc, "spec.clusterIP");
  bool headless = cip && !strcmp(cip, "None");
  addr_t *addrs = xcalloc(n ? n : 1, sizeof(*addrs));
  eport_t *ports = NULL;
  size_t na = 0, np = 0, pcap = 0;
  for (size_t i = 0; i < n; i++) {
    const cJSON *pod = pods[i];
    if (!controller__pod_in_endpoints(pod, publish))
      continue;
    const char *ip = controller__pod_ipv4(pod), *uid = S(pod, "metadata.uid");
    addr_t *a = &addrs[na];
    a->ip = ip;
    a->uid = uid ? uid : "";
    a->ready = publish || controller__pod_ready(pod);
    bool used = false;
    if (cJSON_GetArraySize(svc_ports) == 0) {
      if (headless) { /* a headless service may have no ports */
        port_add_addr(port_find(&ports, &np, &pcap, "", NULL, 0), na);
        used = true;
      }
    } else {
      const cJSON *sp;
      cJSON_ArrayForEach(sp, svc_ports) {
        int num = controller__pod_find_port(pod, sp);
        if (num <= 0)
          continue;
        char key[320];
        const char *pn = S(sp, "name"), *app = S(sp, "appProtocol");
        snprintf(key, sizeof(key), "%s/%d/%s/%s", pn ? pn : "", num, protocol_of(sp),
                 app ? app : "");
        port_add_addr(port_find(&ports, &np, &pcap, key, sp, num), na);
        used = true;
      }
    }
    if (used) {
      a->addr = address_of(pod, svc, ip);
      na++;
    }
  }
  /* ports offered by the same addresses share a subset */
  int ngroups = 0;
  for (size_t i = 0; i < np; i++) {
    ports[i].group = -1;
    for (size_t j = 0; j < i; j++)
      if (same_addrs(&ports[i], &ports[j])) {
        ports[i].group = ports[j].group;
        break;
      }
    if (ports[i].group < 0)
      ports[i].group = ngroups++;
  }
  cJSON **subs = xcalloc((size_t)ngroups + 1, sizeof(*subs));
  addr_t **sorted = xcalloc(na ? na : 1, sizeof(*sorted));
  cJSON **pl = xcalloc(np ? np : 1, sizeof(*pl));
  for (int g = 0; g < ngroups; g++) {
    const eport_t *first = NULL;
    size_t npl = 0;
    for (size_t i = 0; i < np; i++)
      if (ports[i].group == g) {
        if (!first)
          first = &ports[i];
        if (ports[i].port)
          pl[npl++] = ports[i].port;
      }
    for (size_t i = 0; i < first->n; i++)
      sorted[i] = &addrs[first->idx[i]];
    qsort(sorted, first->n, sizeof(*sorted), addr_cmp);
    qsort(pl, npl, sizeof(*pl), port_cmp);
    cJSON *s = cJSON_CreateObject(), *ready = NULL, *unready = NULL;
    for (size_t i = 0; i < first->n; i++) {
      cJSON **list = sorted[i]->ready ? &ready : &unready;
      if (!*list)
        *list = cJSON_CreateArray();
      cJSON_AddItemToArray(*list, cJSON_Duplicate(sorted[i]->addr, 1));
    }
    if (ready)
      cJSON_AddItemToObject(s, "addresses", ready);
    if (unready)
      cJSON_AddItemToObject(s, "notReadyAddresses", unready);
    if (npl) {
      cJSON *arr = cJSON_AddArrayToObject(s, "ports");
      for (size_t i = 0; i < npl; i++)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(pl[i], 1));
    }
    subs[g] = s;
  }
  qsort(subs, (size_t)ngroups, sizeof(*subs), subset_cmp);
  cJSON *out = cJSON_CreateArray();
  for (int g = 0; g < ngroups; g++)
    cJSON_AddItemToArray(out, subs[g]);
  bool cut = truncate_subsets(out, max);
  if (ret_truncated)
    *ret_truncated = cut;
  for (size_t i = 0; i < na; i++)
    cJSON_Delete(addrs[i].addr);
  for (size_t i = 0; i < np; i++) {
    cJSON_Delete(ports[i].port);
    free(ports[i].idx);
  }
  free(pl);
  free(sorted);
  free(subs);
  free(ports);
  free(addrs);
  return out;
}

/* ---- the controller ---- */

typedef struct esync esync_t;

struct controller_endpoints {
  client_t *c;
  client_informer_t *svc_inf, *pod_inf, *ep_inf;
  controller_t *ctl;
  esync_t *syncs;
};

struct esync {
  controller_endpoints_t *ec;
  esync_t *prev, *next;
  char *key;
  controller_ops_t ops;
  int err;
};

static void esync_free(esync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->ec->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  free(s->key);
  free(s);
}

static void esync_end(void *p) {
  esync_t *s = p;
  controller_t *ctl = s->ec->ctl;
  char *key = xstrdup(s->key);
  int err = s->err;
  esync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void write_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  esync_t *s = controller_op_owner(op);
  /* 404 on delete: gone already; anything else failed is retried (a
   * 409 means our cache lagged: the next try reads the newer object) */
  if (res->code >= 300 && !(op->kind == 'd' && res->code == 404))
    s->err = -EAGAIN;
  controller_op_finish(op);
}

/* The labels the Endpoints carries: the service's, with the headless
 * label set for clusterIP None and removed otherwise. */
static cJSON *labels_for(const cJSON *svc) {
  const cJSON *l = json_get_path(svc, "metadata.labels");
  cJSON *out = cJSON_IsObject(l) ? cJSON_Duplicate(l, 1) : cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(out, LABEL_HEADLESS);
  const char *cip = S(svc, "spec.clusterIP");
  if (cip && !strcmp(cip, "None"))
    cJSON_AddStringToObject(out, LABEL_HEADLESS, "");
  return out;
}

static bool labels_equal(const cJSON *a, const cJSON *b) {
  bool ea = !a || !a->child, eb = !b || !b->child;
  return (ea && eb) || json_equal(a, b);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_endpoints_t *ec = data;
  esync_t *s = xcalloc(1, sizeof(*s));
  s->ec = ec;
  s->key = xstrdup(key);
  s->next = ec->syncs;
  if (s->next)
    s->next->prev = s;
  ec->syncs = s;
  controller_ops_init(&s->ops, s, esync_end);
  char ns[256], name[256];
  /* default/kubernetes is the API server's own (api.c keeps both) */
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0 ||
      (!strcmp(ns, "default") && !strcmp(name, "kubernetes"))) {
    esync_end(s);
    return;
  }
  const cJSON *svc = client_informer_get(ec->svc_inf, ns, name);
  const cJSON *cur = client_informer_get(ec->ep_inf, ns, name);
  client_ref_t ref = {.version = "v1", .resource = "endpoints", .ns = ns};
  controller_op_t *op;
  if (!svc) {
    if (cur) {
      ref.name = name;
      op = controller_op_new(&s->ops, 'd', NULL, NULL);
      controller_op_track(op, client_delete(ec->c, &ref, NULL, write_done, op));
    }
    controller_ops_after(&s->ops, esync_end);
    return;
  }
  if (!controller__service_managed(svc)) {
    esync_end(s);
    return;
  }
  size_t n = 0, m = 0;
  const cJSON **all = client_cache_by_index(client_informer_cache(ec->pod_inf),
                                            CLIENT_INDEX_NAMESPACE, ns, &n);
  const cJSON **pods = xcalloc(n ? n : 1, sizeof(*pods));
  for (size_t i = 0; i < n; i++)
    if (controller__service_selects(svc, json_get_path(all[i], "metadata.labels")))
      pods[m++] = all[i];
  free(all);
  bool truncated = false;
  cJSON *subsets = controller_endpoints_subsets(svc, pods, m, CONTROLLER_ENDPOINTS_MAX, &truncated);
  char trig[64];
  controller__trigger_time(svc, pods, m, trig, sizeof(trig));
  free(pods);
  cJSON *labels = labels_for(svc);
  const cJSON *cur_subsets = json_get_path(cur, "subsets");
  const cJSON *cap = json_get_path(cur, "metadata.annotations." ANN_CAPACITY);
  bool subsets_same = cJSON_GetArraySize(subsets) == 0 ? cJSON_GetArraySize(cur_subsets) == 0
                                                       : json_equal(subsets, cur_subsets);
  if (cur && subsets_same && labels_equal(labels, json_get_path(cur, "metadata.labels")) &&
      (truncated ? cJSON_IsString(cap) && !strcmp(cap->valuestring, "truncated") : !cap)) {
    cJSON_Delete(labels);
    cJSON_Delete(subsets);
    esync_end(s);
    return;
  }
  cJSON *ep;
  if (cur) {
    ep = json_dup(cur);
  } else {
    ep = cJSON_CreateObject();
    cJSON_AddStringToObject(ep, "apiVersion", "v1");
    cJSON_AddStringToObject(ep, "kind", "Endpoints");
    cJSON *md = cJSON_AddObjectToObject(ep, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", ns);
  }
  cJSON *md = cJSON_GetObjectItemCaseSensitive(ep, "metadata");
  cJSON_DeleteItemFromObjectCaseSensitive(md, "labels");
  if (labels->child)
    cJSON_AddItemToObject(md, "labels", labels);
  else
    cJSON_Delete(labels);
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
  if (!cJSON_IsObject(ann)) {
    cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
    ann = cJSON_AddObjectToObject(md, "annotations");
  }
  cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_TRIGGER);
  cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_CAPACITY);
  if (*trig)
    cJSON_AddStringToObject(ann, ANN_TRIGGER, trig);
  if (truncated)
    cJSON_AddStringToObject(ann, ANN_CAPACITY, "truncated");
  if (!ann->child)
    cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
  cJSON_DeleteItemFromObjectCaseSensitive(ep, "subsets");
  if (cJSON_GetArraySize(subsets) > 0)
    cJSON_AddItemToObject(ep, "subsets", subsets);
  else
    cJSON_Delete(subsets);
  op = controller_op_new(&s->ops, cur ? 'u' : 'c', NULL, NULL);
  if (cur) {
    ref.name = name;
    controller_op_track(op, client_update(ec->c, &ref, ep, write_done, op));
  } else {
    controller_op_track(op, client_create(ec->c, &ref, ep, write_done, op));
  }
  cJSON_Delete(ep);
  controller_ops_after(&s->ops, esync_end);
}

/* ---- event handlers ---- */

static void enqueue_for_pod(controller_endpoints_t *ec, const cJSON *pod, const cJSON *old) {
  const char *ns = S(pod, "metadata.namespace");
  if (!ns)
    return;
  size_t n = 0;
  const cJSON **svcs = client_cache_by_index(client_informer_cache(ec->svc_inf),
                                             CLIENT_INDEX_NAMESPACE, ns, &n);
  for (size_t i = 0; i < n; i++) {
    if (controller__service_selects(svcs[i], json_get_path(pod, "metadata.labels")) ||
        (old && controller__service_selects(svcs[i], json_get_path(old, "metadata.labels"))))
      controller_enqueue_obj(ec->ctl, svcs[i]);
  }
  free(svcs);
}

static void pod_added(const cJSON *pod, void *data) { enqueue_for_pod(data, pod, NULL); }
static void pod_updated(const cJSON *old, const cJSON *pod, void *data) {
  enqueue_for_pod(data, pod, old);
}
static void pod_deleted(const cJSON *pod, void *data) { enqueue_for_pod(data, pod, NULL); }

static void svc_added(const cJSON *svc, void *data) {
  controller_enqueue_obj(((controller_endpoints_t *)data)->ctl, svc);
}
static void svc_updated(const cJSON *old, const cJSON *svc, void *data) { svc_added(svc, data); }

/* An Endpoints deleted from under a managed Service is made again. */
static void ep_deleted(const cJSON *ep, void *data) {
  controller_endpoints_t *ec = data;
  const char *ns = S(ep, "metadata.namespace"), *name = S(ep, "metadata.name");
  if (ns && name && client_informer_get(ec->svc_inf, ns, name))
    controller_enqueue_obj(ec->ctl, ep);
}

int controller_endpoints_new(client_t *c, client_informer_t *svc_inf, client_informer_t *pod_inf,
                             client_informer_t *ep_inf, struct ev_loop *loop,
                             controller_endpoints_t **ret_ec) {
  controller_endpoints_t *ec = xcalloc(1, sizeof(*ec));
  ec->c = c;
  ec->svc_inf = svc_inf;
  ec->pod_inf = pod_inf;
  ec->ep_inf = ep_inf;
  controller_opts_t o = {.name = "endpoints-controller", .sync = reconcile, .data = ec};
  int r = controller_new(loop, &o, &ec->ctl);
  if (r < 0) {
    free(ec);
    return r;
  }
  controller_wait_for(ec->ctl, svc_inf);
  controller_wait_for(ec->ctl, pod_inf);
  controller_wait_for(ec->ctl, ep_inf);
  client_informer_handlers_t hs = {svc_added, svc_updated, svc_added};
  client_informer_handlers_t hp = {pod_added, pod_updated, pod_deleted};
  client_informer_handlers_t he = {NULL, NULL, ep_deleted};
  client_informer_add_handlers(svc_inf, &hs, ec);
  client_informer_add_handlers(pod_inf, &hp, ec);
  client_informer_add_handlers(ep_inf, &he, ec);
  controller_start(ec->ctl);
  *ret_ec = ec;
  return 0;
}

void controller_endpoints_free(controller_endpoints_t *ec) {
  if (!ec)
    return;
  while (ec->syncs)
    esync_free(ec->syncs);
  controller_free(ec->ctl);
  free(ec);
}
