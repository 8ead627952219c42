/* The EndpointSlice controller: for every Service with a selector, IPv4
 * EndpointSlices (discovery.k8s.io/v1) of at most max_per_slice endpoints
 * each, grouped by the ports the pods resolve, changed with upstream's
 * reconciler's minimal churn (an endpoint stays in the slice that holds it;
 * new ones fill the slices being written, then one that fits, then new
 * slices), a placeholder slice for a Service without endpoints, and a
 * tracker of its own writes so a lagging cache never makes extra slices.
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/ */
#include "controller/endpointslice.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/endpoints.h"
#include "controller/internal.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/strmap.h"

#define S controller__str

#define LABEL_SERVICE "kubernetes.io/service-name"
#define LABEL_MANAGED "endpointslice.kubernetes.io/managed-by"
#define LABEL_HEADLESS "service.kubernetes.io/headless"
#define LABEL_SKIP_MIRROR "endpointslice.kubernetes.io/skip-mirror"
#define MIRROR_PREFIX "m|" /* queue keys of the mirroring side: "m|ns/name" */
#define ANN_TRIGGER "endpoints.kubernetes.io/last-change-trigger-time"
#define ZONE_LABEL "topology.kubernetes.io/zone"
#define TRACK_MAX_AGE 30.0 /* seconds a write may stay unseen before it is forgotten */

/* The writes of the last reconcile of one Service that the slice cache
 * must show before the Service is reconciled again (upstream's
 * EndpointSliceTracker). */
typedef struct {
  char *key;
  char **names;
  unsigned long long *rvs; /* 0: the slice must be gone */
  size_t n;
  double at;
} track_t;

typedef struct esync esync_t;

struct controller_endpointslice {
  client_t *c;
  client_informer_t *svc_inf, *pod_inf, *eps_inf, *node_inf, *ep_inf;
  controller_t *ctl;
  esync_t *syncs;
  strmap_t tracks; /* service key -> track_t */
  int max;
};

struct esync {
  controller_endpointslice_t *ec;
  esync_t *prev, *next;
  char *key;
  controller_ops_t ops;
  track_t *track; /* being built from the answers */
  int err;
};

static void track_free(track_t *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++)
    free(t->names[i]);
  free(t->names);
  free(t->rvs);
  free(t->key);
  free(t);
}

static void track_add(track_t *t, const char *name, unsigned long long rv) {
  t->names = xrealloc(t->names, (t->n + 1) * sizeof(char *));
  t->rvs = xrealloc(t->rvs, (t->n + 1) * sizeof(*t->rvs));
  t->names[t->n] = xstrdup(name);
  t->rvs[t->n++] = rv;
}

static void track_drop(controller_endpointslice_t *ec, const char *key) {
  track_free(strmap_del(&ec->tracks, key));
}

static unsigned long long rv_of(const cJSON *obj) {
  const char *rv = S(obj, "metadata.resourceVersion");
  return rv ? strtoull(rv, NULL, 10) : 0;
}

/* Whether the cache shows every write the last reconcile of key made. */
static bool track_seen(controller_endpointslice_t *ec, const char *key, const char *ns,
                       double now) {
  track_t *t = strmap_get(&ec->tracks, key);
  if (!t)
    return true;
  for (size_t i = 0; i < t->n && now - t->at < TRACK_MAX_AGE; i++) {
    const cJSON *s = client_informer_get(ec->eps_inf, ns, t->names[i]);
    if (t->rvs[i] ? !s || rv_of(s) < t->rvs[i] : s != NULL)
      return false;
  }
  track_drop(ec, key);
  return true;
}

static void esync_free(esync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->ec->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  controller_ops_done(&s->ops);
  track_free(s->track);
  free(s->key);
  free(s);
}

static void esync_end(void *p) {
  esync_t *s = p;
  controller_endpointslice_t *ec = s->ec;
  controller_t *ctl = ec->ctl;
  if (s->track && s->track->n) {
    track_drop(ec, s->key);
    s->track->key = xstrdup(s->key);
    if (strmap_set(&ec->tracks, s->track->key, s->track) == 0)
      s->track = NULL;
  }
  char *key = xstrdup(s->key);
  int err = s->err;
  esync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

enum { OP_CREATE = 'c', OP_UPDATE = 'u', OP_DELETE = 'd' };

static void write_done(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  esync_t *s = controller_op_owner(op);
  if (op->kind == OP_DELETE) {
    if (res->code < 300 || res->code == 404)
      track_add(s->track, op->name, 0);
    else
      s->err = -EAGAIN;
  } else if (res->code < 300) {
    const char *name = S(res->obj, "metadata.name");
    if (name)
      track_add(s->track, name, rv_of(res->obj));
  } else {
    s->err = -EAGAIN; /* a 409 means a stale cache: the retry reads the newer slice */
  }
  controller_op_finish(op);
}

/* ---- the desired state ---- */

typedef struct {
  char key[640]; /* upstream's endpoint hash: addresses, hostname, targetRef ns/name */
  cJSON *ep;
  bool placed;
} dep_t;

typedef struct {
  char *pkey;
  cJSON *ports;
  dep_t **deps;
  size_t nd, capd, left;
  strmap_t by_key;
} group_t;

enum { W_UNCHANGED, W_UPDATE, W_DELETE, W_CREATE };

typedef struct {
  cJSON *obj; /* working copy (owned) */
  int state, group;
} wslice_t;

typedef struct {
  group_t *g;
  size_t ng, capg;
  wslice_t *w;
  size_t nw, capw;
  /* what new slices are made of: the owner (a Service, or the Endpoints
   * being mirrored), its kind, the slices' labels (owned), the Service */
  const cJSON *owner;
  const char *owner_kind, *ns, *svc_name;
  cJSON *labels;
} plan_t;

static void plan_done(plan_t *p) {
  for (size_t i = 0; i < p->ng; i++) {
    group_t *g = &p->g[i];
    for (size_t j = 0; j < g->nd; j++) {
      cJSON_Delete(g->deps[j]->ep);
      free(g->deps[j]);
    }
    free(g->deps);
    strmap_done(&g->by_key);
    cJSON_Delete(g->ports);
    free(g->pkey);
  }
  free(p->g);
  for (size_t i = 0; i < p->nw; i++)
    cJSON_Delete(p->w[i].obj);
  free(p->w);
  cJSON_Delete(p->labels);
}

/* A canonical key of a ports array (order does not matter, as upstream's
 * PortMapKey hashes the sorted ports). */
static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *ports_key(const cJSON *ports) {
  size_t n = (size_t)cJSON_GetArraySize(ports), i = 0, len = 1;
  char **parts = xcalloc(n ? n : 1, sizeof(char *));
  const cJSON *p;
  cJSON_ArrayForEach(p, ports) {
    const char *name = S(p, "name"), *proto = S(p, "protocol"), *app = S(p, "appProtocol");
    parts[i] = xasprintf("%s/%d/%s/%s;", name ? name : "", (int)controller__num(p, "port", 0),
                         proto ? proto : "TCP", app ? app : "");
    len += strlen(parts[i++]);
  }
  qsort(parts, n, sizeof(char *), str_cmp);
  char *out = xcalloc(1, len);
  size_t off = 0;
  for (i = 0; i < n; i++) {
    size_t l = strlen(parts[i]);
    memcpy(out + off, parts[i], l); /* len counted every part */
    off += l;
    free(parts[i]);
  }
  free(parts);
  return out;
}

static group_t *group_get(plan_t *p, cJSON *ports) {
  char *key = ports_key(ports);
  for (size_t i = 0; i < p->ng; i++)
    if (!strcmp(p->g[i].pkey, key)) {
      free(key);
      cJSON_Delete(ports);
      return &p->g[i];
    }
  if (p->ng == p->capg) {
    p->capg = p->capg ? p->capg * 2 : 4;
    p->g = xrealloc(p->g, p->capg * sizeof(*p->g));
  }
  group_t *g = &p->g[p->ng++];
  memset(g, 0, sizeof(*g));
  g->pkey = key;
  g->ports = ports;
  strmap_init(&g->by_key);
  return g;
}

static int group_index(const plan_t *p, const char *pkey) {
  for (size_t i = 0; i < p->ng; i++)
    if (!strcmp(p->g[i].pkey, pkey))
      return (int)i;
  return -1;
}

static void endpoint_key(const cJSON *ep, char *out, size_t len) {
  const cJSON *a;
  size_t off = 0;
  out[0] = '\0';
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ep, "addresses")) {
    if (cJSON_IsString(a) && off < len)
      off += (size_t)snprintf(out + off, len - off, "%s,", a->valuestring);
  }
  const char *h = S(ep, "hostname"), *ns = S(ep, "targetRef.namespace"),
             *name = S(ep, "targetRef.name");
  if (off < len)
    snprintf(out + off, len - off, "|%s|%s/%s", h ? h : "", ns ? ns : "", name ? name : "");
}

static void group_add(group_t *g, cJSON *ep) {
  dep_t *d = xcalloc(1, sizeof(*d));
  endpoint_key(ep, d->key, sizeof(d->key));
  d->ep = ep;
  if (strmap_put(&g->by_key, d->key, d, NULL) < 0) { /* the same endpoint twice */
    cJSON_Delete(ep);
    free(d);
    return;
  }
  if (g->nd == g->capd) {
    g->capd = g->capd ? g->capd * 2 : 16;
    g->deps = xrealloc(g->deps, g->capd * sizeof(*g->deps));
  }
  g->deps[g->nd++] = d;
  g->left++;
}

/* upstream's getEndpointPorts: every service port the pod resolves */
static cJSON *pod_ports(const cJSON *svc, const cJSON *pod) {
  cJSON *out = cJSON_CreateArray();
  const cJSON *sp;
  cJSON_ArrayForEach(sp, json_get_path(svc, "spec.ports")) {
    int num = controller__pod_find_port(pod, sp);
    if (num <= 0)
      continue;
    cJSON *p = cJSON_CreateObject();
    const char *name = S(sp, "name"), *proto = S(sp, "protocol"), *app = S(sp, "appProtocol");
    cJSON_AddStringToObject(p, "name", name ? name : "");
    cJSON_AddStringToObject(p, "protocol", proto && *proto ? proto : "TCP");
    cJSON_AddNumberToObject(p, "port", num);
    if (app && *app)
      cJSON_AddStringToObject(p, "appProtocol", app);
    cJSON_AddItemToArray(out, p);
  }
  return out;
}

/* upstream's podToEndpoint */
static cJSON *pod_endpoint(const cJSON *svc, const cJSON *pod, const cJSON *node) {
  bool serving = controller__pod_ready(pod);
  bool terminating = json_get_path(pod, "metadata.deletionTimestamp") != NULL;
  bool ready = cJSON_IsTrue(json_get_path(svc, "spec.publishNotReadyAddresses")) ||
               (serving && !terminating);
  cJSON *ep = cJSON_CreateObject();
  cJSON *addrs = cJSON_AddArrayToObject(ep, "addresses");
  cJSON_AddItemToArray(addrs, cJSON_CreateString(controller__pod_ipv4(pod)));
  cJSON *cond = cJSON_AddObjectToObject(ep, "conditions");
  cJSON_AddBoolToObject(cond, "ready", ready);
  cJSON_AddBoolToObject(cond, "serving", serving);
  cJSON_AddBoolToObject(cond, "terminating", terminating);
  if (controller__pod_sets_hostname(pod, svc))
    cJSON_AddStringToObject(ep, "hostname", S(pod, "spec.hostname"));
  cJSON *ref = cJSON_AddObjectToObject(ep, "targetRef");
  cJSON_AddStringToObject(ref, "kind", "Pod");
  const char *v;
  if ((v = S(pod, "metadata.namespace")))
    cJSON_AddStringToObject(ref, "namespace", v);
  if ((v = S(pod, "metadata.name")))
    cJSON_AddStringToObject(ref, "name", v);
  if ((v = S(pod, "metadata.uid")))
    cJSON_AddStringToObject(ref, "uid", v);
  const char *nn = S(pod, "spec.nodeName");
  if (nn && *nn)
    cJSON_AddStringToObject(ep, "nodeName", nn);
  const cJSON *z = cJSON_GetObjectItemCaseSensitive(json_get_path(node, "metadata.labels"),
                                                   ZONE_LABEL);
  const char *zone = cJSON_IsString(z) ? z->valuestring : NULL;
  if (zone && *zone)
    cJSON_AddStringToObject(ep, "zone", zone);
  return ep;
}

/* upstream's setEndpointSliceLabels: the Service's labels without the
 * reserved ones, the headless label, service-name and managed-by. */
static cJSON *slice_labels(const cJSON *svc) {
  cJSON *out = cJSON_CreateObject();
  const cJSON *l;
  cJSON_ArrayForEach(l, json_get_path(svc, "metadata.labels")) {
    if (!cJSON_IsString(l) || !strcmp(l->string, LABEL_SERVICE) ||
        !strcmp(l->string, LABEL_MANAGED) || !strcmp(l->string, LABEL_HEADLESS))
      continue;
    cJSON_AddStringToObject(out, l->string, l->valuestring);
  }
  const char *cip = S(svc, "spec.clusterIP");
  if (!cip || !*cip || !strcmp(cip, "None"))
    cJSON_AddStringToObject(out, LABEL_HEADLESS, "");
  cJSON_AddStringToObject(out, LABEL_SERVICE, S(svc, "metadata.name"));
  cJSON_AddStringToObject(out, LABEL_MANAGED, CONTROLLER_ENDPOINTSLICE_MANAGER);
  return out;
}

/* upstream mirroring's labels: the Endpoints' own without the reserved
 * ones (and the skip-mirror label), service-name and managed-by. */
static cJSON *mirror_labels(const cJSON *ep) {
  cJSON *out = cJSON_CreateObject();
  const cJSON *l;
  cJSON_ArrayForEach(l, json_get_path(ep, "metadata.labels")) {
    if (!cJSON_IsString(l) || !strcmp(l->string, LABEL_SERVICE) ||
        !strcmp(l->string, LABEL_MANAGED) || !strcmp(l->string, LABEL_SKIP_MIRROR))
      continue;
    cJSON_AddStringToObject(out, l->string, l->valuestring);
  }
  cJSON_AddStringToObject(out, LABEL_SERVICE, S(ep, "metadata.name"));
  cJSON_AddStringToObject(out, LABEL_MANAGED, CONTROLLER_ENDPOINTSLICE_MIRROR_MANAGER);
  return out;
}

static cJSON *new_slice(const plan_t *p, const cJSON *ports) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "apiVersion", "discovery.k8s.io/v1");
  cJSON_AddStringToObject(s, "kind", "EndpointSlice");
  cJSON *md = cJSON_AddObjectToObject(s, "metadata");
  char *gen = xasprintf("%s-", p->svc_name);
  cJSON_AddStringToObject(md, "generateName", gen);
  free(gen);
  cJSON_AddStringToObject(md, "namespace", p->ns);
  cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(p->labels, 1));
  cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
  cJSON_AddItemToArray(refs, controller__owner_ref(p->owner, "v1", p->owner_kind));
  cJSON_AddStringToObject(s, "addressType", "IPv4");
  cJSON_AddItemToObject(s, "endpoints", cJSON_CreateArray());
  cJSON_AddItemToObject(s, "ports", ports ? cJSON_Duplicate(ports, 1) : cJSON_CreateArray());
  return s;
}

static bool owned_by(const cJSON *slice, const plan_t *p) {
  const char *uid = S(p->owner, "metadata.uid");
  const cJSON *r;
  cJSON_ArrayForEach(r, json_get_path(slice, "metadata.ownerReferences")) {
    const char *k = S(r, "kind"), *u = S(r, "uid");
    if (k && u && uid && !strcmp(k, p->owner_kind) && !strcmp(u, uid))
      return true;
  }
  return false;
}

static cJSON *slice_eps(cJSON *slice) {
  cJSON *e = cJSON_GetObjectItemCaseSensitive(slice, "endpoints");
  if (!cJSON_IsArray(e)) {
    cJSON_DeleteItemFromObjectCaseSensitive(slice, "endpoints");
    e = cJSON_AddArrayToObject(slice, "endpoints");
  }
  return e;
}

static wslice_t *plan_slice(plan_t *p, cJSON *obj, int state, int group) {
  if (p->nw == p->capw) {
    p->capw = p->capw ? p->capw * 2 : 8;
    p->w = xrealloc(p->w, p->capw * sizeof(*p->w));
  }
  wslice_t *w = &p->w[p->nw++];
  w->obj = obj;
  w->state = state;
  w->group = group;
  return w;
}

static dep_t *next_left(group_t *g, size_t *cursor) {
  while (*cursor < g->nd && g->deps[*cursor]->placed)
    (*cursor)++;
  if (*cursor >= g->nd)
    return NULL;
  dep_t *d = g->deps[(*cursor)++];
  d->placed = true;
  g->left--;
  return d;
}

static int by_len_desc(const void *a, const void *b) {
  const wslice_t *x = *(wslice_t *const *)a, *y = *(wslice_t *const *)b;
  return cJSON_GetArraySize(slice_eps(y->obj)) - cJSON_GetArraySize(slice_eps(x->obj));
}

static bool empty_array(const cJSON *v) { return !v || cJSON_IsNull(v) || !v->child; }

/* upstream's reconcileByPortMapping for group gi, then the placeholder. */
static void plan_group(plan_t *p, int gi, int max) {
  group_t *g = &p->g[gi];
  size_t cursor = 0;
  /* 2. fill the slices being written, fullest first */
  wslice_t **upd = xcalloc(p->nw + 1, sizeof(*upd));
  size_t nu = 0;
  for (size_t i = 0; i < p->nw; i++)
    if (p->w[i].group == gi && p->w[i].state == W_UPDATE)
      upd[nu++] = &p->w[i];
  qsort(upd, nu, sizeof(*upd), by_len_desc);
  for (size_t i = 0; i < nu && g->left; i++) {
    cJSON *eps = slice_eps(upd[i]->obj);
    while (g->left && cJSON_GetArraySize(eps) < max)
      cJSON_AddItemToArray(eps, cJSON_Duplicate(next_left(g, &cursor)->ep, 1));
  }
  free(upd);
  /* 3. the rest into the unchanged slice closest to full that fits it,
   * else new slices */
  while (g->left) {
    wslice_t *fill = NULL;
    if (g->left < (size_t)max) {
      int best = -1;
      for (size_t i = 0; i < p->nw; i++) {
        if (p->w[i].group != gi || p->w[i].state != W_UNCHANGED)
          continue;
        int n = cJSON_GetArraySize(slice_eps(p->w[i].obj));
        if ((size_t)n + g->left <= (size_t)max && n > best) {
          best = n;
          fill = &p->w[i];
        }
      }
    }
    if (fill)
      fill->state = W_UPDATE;
    else
      fill = plan_slice(p, new_slice(p, g->ports), W_CREATE, gi);
    cJSON *eps = slice_eps(fill->obj);
    while (g->left && cJSON_GetArraySize(eps) < max)
      cJSON_AddItemToArray(eps, cJSON_Duplicate(next_left(g, &cursor)->ep, 1));
  }
}

/* The desired endpoints of svc from its pods, grouped by port set. */
static void plan_from_pods(plan_t *p, const cJSON *svc, const cJSON *const *pods, size_t npods,
                           const client_informer_t *node_inf, int *ret_missing_nodes) {
  bool publish = cJSON_IsTrue(json_get_path(svc, "spec.publishNotReadyAddresses"));
  const char *cip = S(svc, "spec.clusterIP");
  bool headless_noports = cJSON_GetArraySize(json_get_path(svc, "spec.ports")) == 0 && cip &&
                          !strcmp(cip, "None");
  int missing = 0;
  for (size_t i = 0; i < npods; i++) {
    const cJSON *pod = pods[i];
    if (!controller__pod_in_endpoints(pod, true))
      continue;
    const char *nn = S(pod, "spec.nodeName");
    const cJSON *node = nn && *nn ? client_informer_get(node_inf, NULL, nn) : NULL;
    if (!node && !publish) { /* as upstream: retried later, left out now */
      missing++;
      continue;
    }
    cJSON *ports = headless_noports ? cJSON_CreateArray() : pod_ports(svc, pod);
    group_add(group_get(p, ports), pod_endpoint(svc, pod, node));
  }
  *ret_missing_nodes = missing;
}

/* The desired endpoints mirrored from ep's subsets (upstream's
 * endpointslicemirroring: addresses ready, notReadyAddresses not; at most
 * 1000 addresses per subset). */
static void plan_from_endpoints(plan_t *p, const cJSON *ep) {
  const cJSON *sub;
  cJSON_ArrayForEach(sub, json_get_path(ep, "subsets")) {
    const char *fields[] = {"addresses", "notReadyAddresses"};
    int taken = 0;
    for (int f = 0; f < 2; f++) {
      const cJSON *a;
      cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(sub, fields[f])) {
        const char *ip = S(a, "ip");
        if (!ip || !strchr(ip, '.') || taken++ >= 1000)
          continue;
        cJSON *ports = cJSON_CreateArray();
        const cJSON *sp;
        cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(sub, "ports")) {
          cJSON *pp = cJSON_CreateObject();
          const char *name = S(sp, "name"), *proto = S(sp, "protocol"), *app = S(sp, "appProtocol");
          cJSON_AddStringToObject(pp, "name", name ? name : "");
          cJSON_AddStringToObject(pp, "protocol", proto && *proto ? proto : "TCP");
          cJSON_AddNumberToObject(pp, "port", controller__num(sp, "port", 0));
          if (app && *app)
            cJSON_AddStringToObject(pp, "appProtocol", app);
          cJSON_AddItemToArray(ports, pp);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "addresses"), cJSON_CreateString(ip));
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(e, "conditions"), "ready", f == 0);
        const char *v;
        if ((v = S(a, "hostname")) && *v)
          cJSON_AddStringToObject(e, "hostname", v);
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(a, "targetRef");
        if (cJSON_IsObject(ref))
          cJSON_AddItemToObject(e, "targetRef", cJSON_Duplicate(ref, 1));
        if ((v = S(a, "nodeName")) && *v)
          cJSON_AddStringToObject(e, "nodeName", v);
        group_add(group_get(p, ports), e);
      }
    }
  }
}

/* Plan the writes: p->w holds every slice with what to do with it.
 * placeholder: keep one empty slice when there are no endpoints. */
static void plan_slices(plan_t *p, const cJSON *const *slices, size_t nslices, int max,
                        bool placeholder) {
  /* 1. existing slices: keep desired endpoints where they are */
  const cJSON *labels = p->labels;
  size_t ndel_or_foreign = 0;
  for (size_t i = 0; i < nslices; i++) {
    cJSON *obj = json_dup(slices[i]);
    if (!owned_by(obj, p) || strcmp(S(obj, "addressType") ? S(obj, "addressType") : "", "IPv4")) {
      plan_slice(p, obj, W_DELETE, -1);
      ndel_or_foreign++;
      continue;
    }
    char *pk = ports_key(cJSON_GetObjectItemCaseSensitive(obj, "ports"));
    int gi = group_index(p, pk);
    free(pk);
    if (gi < 0) {
      plan_slice(p, obj, W_DELETE, -1);
      ndel_or_foreign++;
      continue;
    }
    group_t *g = &p->g[gi];
    cJSON *keep = cJSON_CreateArray(), *e;
    bool changed = false;
    int had = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(obj, "endpoints")) {
      had++;
      char k[640];
      endpoint_key(e, k, sizeof(k));
      dep_t *d = strmap_get(&g->by_key, k);
      if (!d || d->placed)
        continue;
      cJSON_AddItemToArray(keep, cJSON_Duplicate(d->ep, 1));
      if (!json_equal(d->ep, e))
        changed = true;
      d->placed = true;
      g->left--;
    }
    bool labels_changed = !json_equal(labels, json_get_path(obj, "metadata.labels"));
    cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (labels_changed)
      cJSON_ReplaceItemInObjectCaseSensitive(md, "labels", cJSON_Duplicate(labels, 1));
    if (changed || had != cJSON_GetArraySize(keep)) {
      if (cJSON_GetArraySize(keep) == 0) {
        cJSON_Delete(keep);
        plan_slice(p, obj, W_DELETE, gi);
        ndel_or_foreign++;
        continue;
      }
      cJSON_DeleteItemFromObjectCaseSensitive(obj, "endpoints");
      cJSON_AddItemToObject(obj, "endpoints", keep);
      plan_slice(p, obj, W_UPDATE, gi);
    } else {
      cJSON_Delete(keep);
      plan_slice(p, obj, labels_changed ? W_UPDATE : W_UNCHANGED, gi);
    }
  }
  for (size_t gi = 0; gi < p->ng; gi++)
    plan_group(p, (int)gi, max);
  /* a Service without endpoints keeps one placeholder slice */
  size_t ncreate = 0;
  for (size_t i = 0; i < p->nw; i++)
    ncreate += p->w[i].state == W_CREATE;
  if (placeholder && nslices == ndel_or_foreign && ncreate == 0) {
    wslice_t *keep = NULL;
    if (ndel_or_foreign == 1) {
      for (size_t i = 0; i < p->nw; i++) {
        const cJSON *o = p->w[i].obj;
        if (p->w[i].state == W_DELETE && owned_by(o, p) &&
            empty_array(cJSON_GetObjectItemCaseSensitive(o, "endpoints")) &&
            empty_array(cJSON_GetObjectItemCaseSensitive(o, "ports")) &&
            json_equal(labels, json_get_path(o, "metadata.labels")))
          keep = &p->w[i];
      }
    }
    if (keep)
      keep->state = W_UNCHANGED;
    else
      plan_slice(p, new_slice(p, NULL), W_CREATE, -1);
  }
  /* finalize: a create reuses a slice that would be deleted */
  for (size_t i = 0; i < p->nw; i++) {
    if (p->w[i].state != W_CREATE)
      continue;
    for (size_t j = 0; j < p->nw; j++) {
      wslice_t *d = &p->w[j];
      if (d->state != W_DELETE || !owned_by(d->obj, p))
        continue;
      const char *at = S(d->obj, "addressType");
      if (!at || strcmp(at, "IPv4"))
        continue;
      cJSON *c = p->w[i].obj;
      cJSON *dmd = cJSON_GetObjectItemCaseSensitive(d->obj, "metadata");
      cJSON_ReplaceItemInObjectCaseSensitive(
          dmd, "labels", cJSON_Duplicate(json_get_path(c, "metadata.labels"), 1));
      cJSON_DeleteItemFromObjectCaseSensitive(d->obj, "endpoints");
      cJSON_DeleteItemFromObjectCaseSensitive(d->obj, "ports");
      cJSON_AddItemToObject(d->obj, "endpoints",
                            cJSON_DetachItemFromObjectCaseSensitive(c, "endpoints"));
      cJSON_AddItemToObject(d->obj, "ports", cJSON_DetachItemFromObjectCaseSensitive(c, "ports"));
      d->state = W_UPDATE;
      p->w[i].state = W_UNCHANGED; /* dropped */
      break;
    }
  }
}

static void set_trigger(cJSON *slice, const char *trig) {
  cJSON *md = cJSON_GetObjectItemCaseSensitive(slice, "metadata");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
  if (!cJSON_IsObject(ann)) {
    cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
    ann = cJSON_AddObjectToObject(md, "annotations");
  }
  cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_TRIGGER);
  if (*trig)
    cJSON_AddStringToObject(ann, ANN_TRIGGER, trig);
  if (!ann->child)
    cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
}

/* The slices the controller manages for svc ns/name (borrowed, caller frees
 * the array). */
static const cJSON **managed_slices(controller_endpointslice_t *ec, const char *ns,
                                    const char *name, const char *manager, size_t *ret_n) {
  size_t n = 0, m = 0;
  const cJSON **all = client_cache_by_index(client_informer_cache(ec->eps_inf),
                                            CLIENT_INDEX_NAMESPACE, ns, &n);
  const cJSON **out = xcalloc(n + 1, sizeof(*out));
  for (size_t i = 0; i < n; i++) {
    const cJSON *l = json_get_path(all[i], "metadata.labels");
    const cJSON *sn = cJSON_GetObjectItemCaseSensitive(l, LABEL_SERVICE);
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(l, LABEL_MANAGED);
    if (cJSON_IsString(sn) && !strcmp(sn->valuestring, name) && cJSON_IsString(mb) &&
        !strcmp(mb->valuestring, manager) && !json_get_path(all[i], "metadata.deletionTimestamp"))
      out[m++] = all[i];
  }
  free(all);
  *ret_n = m;
  return out;
}

static void start_delete(esync_t *s, const char *ns, const char *name) {
  client_ref_t ref = {.group = "discovery.k8s.io", .version = "v1", .resource = "endpointslices",
                      .ns = ns, .name = name};
  controller_op_t *op = controller_op_new(&s->ops, OP_DELETE, name, NULL);
  controller_op_track(op, client_delete(s->ec->c, &ref, NULL, write_done, op));
}

/* Start the writes of plan p (slices of ns), annotated with trig. */
static void plan_write(esync_t *s, plan_t *p, const char *ns, const char *trig) {
  client_ref_t ref = {.group = "discovery.k8s.io", .version = "v1", .resource = "endpointslices",
                      .ns = ns};
  for (size_t i = 0; i < p->nw; i++) {
    wslice_t *w = &p->w[i];
    const char *wname = S(w->obj, "metadata.name");
    controller_op_t *op;
    switch (w->state) {
    case W_CREATE:
      if (trig)
        set_trigger(w->obj, trig);
      ref.name = NULL;
      op = controller_op_new(&s->ops, OP_CREATE, NULL, NULL);
      controller_op_track(op, client_create(s->ec->c, &ref, w->obj, write_done, op));
      break;
    case W_UPDATE:
      if (trig)
        set_trigger(w->obj, trig);
      ref.name = wname;
      op = controller_op_new(&s->ops, OP_UPDATE, wname, NULL);
      controller_op_track(op, client_update(s->ec->c, &ref, w->obj, write_done, op));
      break;
    case W_DELETE:
      if (wname)
        start_delete(s, ns, wname);
      break;
    default:
      break;
    }
  }
}

static void reconcile_service(esync_t *s, const char *ns, const char *name) {
  controller_endpointslice_t *ec = s->ec;
  const cJSON *svc = client_informer_get(ec->svc_inf, ns, name);
  size_t nslices = 0;
  const cJSON **slices = managed_slices(ec, ns, name, CONTROLLER_ENDPOINTSLICE_MANAGER, &nslices);
  if (!svc) { /* k3c's collector does not follow Services: delete them here */
    for (size_t i = 0; i < nslices; i++)
      start_delete(s, ns, S(slices[i], "metadata.name"));
    free(slices);
    controller_ops_after(&s->ops, esync_end);
    return;
  }
  if (!controller__service_managed(svc) || json_get_path(svc, "metadata.deletionTimestamp")) {
    free(slices);
    esync_end(s);
    return;
  }
  size_t n = 0, m = 0;
  const cJSON **all = client_cache_by_index(client_informer_cache(ec->pod_inf),
                                            CLIENT_INDEX_NAMESPACE, ns, &n);
  const cJSON **pods = xcalloc(n + 1, sizeof(*pods));
  for (size_t i = 0; i < n; i++)
    if (controller__service_selects(svc, json_get_path(all[i], "metadata.labels")))
      pods[m++] = all[i];
  free(all);
  plan_t p;
  memset(&p, 0, sizeof(p));
  p.owner = svc;
  p.owner_kind = "Service";
  p.ns = ns;
  p.svc_name = name;
  p.labels = slice_labels(svc);
  int missing = 0;
  plan_from_pods(&p, svc, pods, m, ec->node_inf, &missing);
  plan_slices(&p, slices, nslices, ec->max, true);
  char trig[64];
  controller__trigger_time(svc, pods, m, trig, sizeof(trig));
  free(pods);
  free(slices);
  plan_write(s, &p, ns, trig);
  plan_done(&p);
  if (missing)
    s->err = -EAGAIN; /* pods on nodes not (yet) known: again later */
  controller_ops_after(&s->ops, esync_end);
}

/* upstream's endpointslicemirroring: the custom Endpoints of a Service
 * without a selector become EndpointSlices managed by the mirroring
 * controller, owned by the Endpoints. */
static void reconcile_mirror(esync_t *s, const char *ns, const char *name) {
  controller_endpointslice_t *ec = s->ec;
  const cJSON *svc = client_informer_get(ec->svc_inf, ns, name);
  const cJSON *ep = client_informer_get(ec->ep_inf, ns, name);
  const cJSON *skip = cJSON_GetObjectItemCaseSensitive(json_get_path(ep, "metadata.labels"),
                                                       LABEL_SKIP_MIRROR);
  bool mirror = svc && ep && !cJSON_IsObject(json_get_path(svc, "spec.selector")) &&
                !(cJSON_IsString(skip) && !strcmp(skip->valuestring, "true")) &&
                !cJSON_GetObjectItemCaseSensitive(json_get_path(ep, "metadata.annotations"),
                                                  "control-plane.alpha.kubernetes.io/leader");
  size_t nslices = 0;
  const cJSON **slices =
      managed_slices(ec, ns, name, CONTROLLER_ENDPOINTSLICE_MIRROR_MANAGER, &nslices);
  if (!mirror) {
    for (size_t i = 0; i < nslices; i++)
      start_delete(s, ns, S(slices[i], "metadata.name"));
    free(slices);
    controller_ops_after(&s->ops, esync_end);
    return;
  }
  plan_t p;
  memset(&p, 0, sizeof(p));
  p.owner = ep;
  p.owner_kind = "Endpoints";
  p.ns = ns;
  p.svc_name = name;
  p.labels = mirror_labels(ep);
  plan_from_endpoints(&p, ep);
  plan_slices(&p, slices, nslices, ec->max, false);
  free(slices);
  plan_write(s, &p, ns, NULL);
  plan_done(&p);
  controller_ops_after(&s->ops, esync_end);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_endpointslice_t *ec = data;
  esync_t *s = xcalloc(1, sizeof(*s));
  s->ec = ec;
  s->key = xstrdup(key);
  s->track = xcalloc(1, sizeof(*s->track));
  s->track->at = ev_now(controller_loop(ctl));
  s->next = ec->syncs;
  if (s->next)
    s->next->prev = s;
  ec->syncs = s;
  controller_ops_init(&s->ops, s, esync_end);
  bool mirror = !strncmp(key, MIRROR_PREFIX, strlen(MIRROR_PREFIX));
  char ns[256], name[256];
  if (controller_key_split(mirror ? key + strlen(MIRROR_PREFIX) : key, ns, sizeof(ns), name,
                           sizeof(name)) < 0) {
    esync_end(s);
    return;
  }
  if (!track_seen(ec, key, ns, ev_now(controller_loop(ctl)))) {
    s->err = -EAGAIN; /* our last writes are not in the cache yet */
    esync_end(s);
    return;
  }
  if (mirror)
    reconcile_mirror(s, ns, name);
  else
    reconcile_service(s, ns, name);
}

/* ---- event handlers ---- */

static void enqueue_for_pod(controller_endpointslice_t *ec, const cJSON *pod, const cJSON *old) {
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

static void enqueue_mirror(controller_endpointslice_t *ec, const cJSON *obj) {
  const char *ns = S(obj, "metadata.namespace"), *name = S(obj, "metadata.name");
  if (!ns || !name)
    return;
  char key[600];
  snprintf(key, sizeof(key), MIRROR_PREFIX "%s/%s", ns, name);
  controller_enqueue(ec->ctl, key);
}

static void svc_added(const cJSON *svc, void *data) {
  controller_enqueue_obj(((controller_endpointslice_t *)data)->ctl, svc);
  enqueue_mirror(data, svc);
}
static void svc_updated(const cJSON *old, const cJSON *svc, void *data) { svc_added(svc, data); }

/* A slice of ours changed: the Service again when a slice was deleted, or
 * when it waits for the cache to show its writes. */
static void slice_event(controller_endpointslice_t *ec, const cJSON *slice, bool deleted) {
  const cJSON *l = json_get_path(slice, "metadata.labels");
  const cJSON *sn = cJSON_GetObjectItemCaseSensitive(l, LABEL_SERVICE);
  const cJSON *mb = cJSON_GetObjectItemCaseSensitive(l, LABEL_MANAGED);
  const char *ns = S(slice, "metadata.namespace");
  if (!cJSON_IsString(sn) || !cJSON_IsString(mb) || !ns)
    return;
  bool mirror = !strcmp(mb->valuestring, CONTROLLER_ENDPOINTSLICE_MIRROR_MANAGER);
  if (!mirror && strcmp(mb->valuestring, CONTROLLER_ENDPOINTSLICE_MANAGER))
    return;
  char key[600];
  snprintf(key, sizeof(key), "%s%s/%s", mirror ? MIRROR_PREFIX : "", ns, sn->valuestring);
  if (deleted || strmap_get(&ec->tracks, key))
    controller_enqueue(ec->ctl, key);
}
static void slice_added(const cJSON *slice, void *data) { slice_event(data, slice, false); }
static void slice_updated(const cJSON *old, const cJSON *slice, void *data) {
  slice_event(data, slice, false);
}
static void slice_deleted(const cJSON *slice, void *data) { slice_event(data, slice, true); }

static void ep_changed(const cJSON *ep, void *data) { enqueue_mirror(data, ep); }
static void ep_updated(const cJSON *old, const cJSON *ep, void *data) {
  enqueue_mirror(data, ep);
}

static void enqueue_managed(const cJSON *svc, void *data) {
  if (controller__service_managed(svc))
    svc_added(svc, data);
}
/* Pods on a node that was unknown were left out: a new node brings them in. */
static void node_added(const cJSON *node, void *data) {
  controller_endpointslice_t *ec = data;
  client_cache_foreach(client_informer_cache(ec->svc_inf), enqueue_managed, ec);
}

int controller_endpointslice_new(client_t *c, client_informer_t *svc_inf,
                                 client_informer_t *pod_inf, client_informer_t *eps_inf,
                                 client_informer_t *node_inf, client_informer_t *ep_inf,
                                 int max_per_slice, struct ev_loop *loop,
                                 controller_endpointslice_t **ret_ec) {
  controller_endpointslice_t *ec = xcalloc(1, sizeof(*ec));
  ec->ep_inf = ep_inf;
  ec->c = c;
  ec->svc_inf = svc_inf;
  ec->pod_inf = pod_inf;
  ec->eps_inf = eps_inf;
  ec->node_inf = node_inf;
  strmap_init(&ec->tracks);
  controller_endpointslice_set_max(ec, max_per_slice);
  controller_opts_t o = {.name = "endpointslice-controller", .sync = reconcile, .data = ec};
  int r = controller_new(loop, &o, &ec->ctl);
  if (r < 0) {
    free(ec);
    return r;
  }
  controller_wait_for(ec->ctl, svc_inf);
  controller_wait_for(ec->ctl, pod_inf);
  controller_wait_for(ec->ctl, eps_inf);
  controller_wait_for(ec->ctl, node_inf);
  controller_wait_for(ec->ctl, ep_inf);
  client_informer_handlers_t hs = {svc_added, svc_updated, svc_added};
  client_informer_handlers_t hp = {pod_added, pod_updated, pod_added};
  client_informer_handlers_t he = {slice_added, slice_updated, slice_deleted};
  client_informer_handlers_t hn = {node_added, NULL, NULL};
  client_informer_add_handlers(svc_inf, &hs, ec);
  client_informer_add_handlers(pod_inf, &hp, ec);
  client_informer_add_handlers(eps_inf, &he, ec);
  client_informer_add_handlers(node_inf, &hn, ec);
  client_informer_handlers_t hm = {ep_changed, ep_updated, ep_changed};
  client_informer_add_handlers(ep_inf, &hm, ec);
  controller_start(ec->ctl);
  *ret_ec = ec;
  return 0;
}

void controller_endpointslice_set_max(controller_endpointslice_t *ec, int max) {
  ec->max = max <= 0 ? CONTROLLER_ENDPOINTSLICE_DEFAULT_MAX : max > 1000 ? 1000 : max;
}

static void free_track_cb(const char *key, void *value, void *data) {
  (void)key;
  (void)data;
  track_free(value);
}

void controller_endpointslice_free(controller_endpointslice_t *ec) {
  if (!ec)
    return;
  while (ec->syncs)
    esync_free(ec->syncs);
  controller_free(ec->ctl);
  for (size_t i = 0; i < ec->tracks._cap; i++)
    if (ec->tracks._slots[i].key)
      free_track_cb(ec->tracks._slots[i].key, ec->tracks._slots[i].value, NULL);
  strmap_done(&ec->tracks);
  free(ec);
}
