/* metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics for `kubectl top`,
 * served by the API server itself instead of a metrics-server. Each
 * node's kubelet is asked for its /stats/summary (at most every 15 s, as
 * metrics-server scrapes); a request waits for the scrapes it started
 * (bounded by a timeout) and is then answered from what arrived. A node
 * whose kubelet does not answer is left out, as metrics-server does.
 * https://github.com/kubernetes/design-proposals-archive/blob/main/instrumentation/resource-metrics-api.md */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "client/client.h"
#include "json/selector.h"
#include "util/alloc.h"
#include "util/log.h"

#define GROUP "metrics.k8s.io"
#define GV "metrics.k8s.io/v1beta1"
#define SCRAPE_EVERY 15.0 /* seconds a summary is reused */
#define SCRAPE_TIMEOUT 5.0 /* a kubelet's answer, and a request's wait */
#define WINDOW "10s"      /* the kubelet's sampling interval (pkg/agent/sampler.h) */
#define NODES_MAX 4096    /* cache entries (nodes) kept */

typedef struct mnode {
  struct mnode *next;
  struct api_metrics *m;
  char name[254];
  char url[300];
  client_t *c;
  client_req_t *req; /* a scrape in flight */
  cJSON *summary;    /* the last good answer, or NULL */
  double fetched;    /* ev_now of the last answer or failure; 0: never */
  bool seen;         /* still a stored node (refresh) */
} mnode_t;

typedef struct mwait {
  struct mwait *prev, *next;
  struct api_metrics *m;
  http_req_t *req;
  const api_resource_t *table; /* a Table of this row was asked for, or NULL */
  bool nodes; /* NodeMetrics, else PodMetrics */
  char ns[256], name[256];
  label_selector_t *sel; /* NULL: everything */
  ev_timer timer;
} mwait_t;

struct api_metrics {
  api_server_t *srv;
  mnode_t *nodes;
  size_t n_nodes;
  unsigned inflight;
  mwait_t *waits;
};

static struct api_metrics *metrics_of(api_server_t *srv) {
  if (!srv->metrics) {
    srv->metrics = xcalloc(1, sizeof(*srv->metrics));
    srv->metrics->srv = srv;
  }
  return srv->metrics;
}

static mnode_t *node_find(struct api_metrics *m, const char *name) {
  for (mnode_t *n = m->nodes; n; n = n->next)
    if (!strcmp(n->name, name))
      return n;
  return NULL;
}

/* ---- building the objects ---- */

static void add_quantity(cJSON *usage, const char *key, double v, bool bytes) {
  char q[48];
  uint64_t x = v > 0 ? (uint64_t)v : 0;
  if (!bytes)
    snprintf(q, sizeof(q), "%" PRIu64 "n", x);
  else if (x && x % 1024 == 0)
    snprintf(q, sizeof(q), "%" PRIu64 "Ki", x / 1024);
  else
    snprintf(q, sizeof(q), "%" PRIu64, x);
  cJSON_AddStringToObject(usage, key, q);
}

static double num(const cJSON *o, const char *path, bool *ok) {
  const cJSON *v = obj_get(o, path);
  if (!cJSON_IsNumber(v)) {
    *ok = false;
    return 0;
  }
  return v->valuedouble;
}

/* usage {cpu, memory} of a summary entry, or NULL when it lacks a CPU
 * rate (the kubelet has one sample only) or a working set. */
static cJSON *usage_of(const cJSON *entry) {
  bool ok = true;
  double cpu = num(entry, "cpu.usageNanoCores", &ok);
  double mem = num(entry, "memory.workingSetBytes", &ok);
  if (!ok)
    return NULL;
  cJSON *u = cJSON_CreateObject();
  add_quantity(u, "cpu", cpu, false);
  add_quantity(u, "memory", mem, true);
  return u;
}

static cJSON *metrics_obj(const char *kind, const char *name, const char *ns,
                          const cJSON *labels, const char *ts) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", kind);
  cJSON_AddStringToObject(o, "apiVersion", GV);
  cJSON *md = cJSON_AddObjectToObject(o, "metadata");
  cJSON_AddStringToObject(md, "name", name);
  if (ns)
    cJSON_AddStringToObject(md, "namespace", ns);
  char now[40];
  obj_time_format(time(NULL), now, sizeof(now));
  cJSON_AddStringToObject(md, "creationTimestamp", now);
  if (cJSON_IsObject(labels) && labels->child)
    cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, 1));
  cJSON_AddStringToObject(o, "timestamp", ts ? ts : now);
  cJSON_AddStringToObject(o, "window", WINDOW);
  return o;
}

/* The stored object under key, parsed, or NULL. */
static cJSON *load(api_server_t *srv, const char *key) {
  store_kv_t *kv = NULL;
  if (store_get(srv->store, key, 0, &kv) < 0)
    return NULL;
  cJSON *o = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  return o;
}

static cJSON *node_metrics(const mnode_t *n, const cJSON *node) {
  const cJSON *sn = obj_get(n->summary, "node");
  cJSON *u = usage_of(sn);
  if (!u)
    return NULL;
  cJSON *o = metrics_obj("NodeMetrics", n->name, NULL, obj_get(node, "metadata.labels"),
                         obj_str(sn, "cpu.time"));
  cJSON_AddItemToObject(o, "usage", u);
  return o;
}

/* PodMetrics of one summary pod that is still stored (same uid), or NULL. */
static cJSON *pod_metrics(api_server_t *srv, const cJSON *sp, const mwait_t *w) {
  const char *name = obj_str(sp, "podRef.name"), *ns = obj_str(sp, "podRef.namespace");
  const char *uid = obj_str(sp, "podRef.uid");
  if (!name || !ns || (w->ns[0] && strcmp(ns, w->ns)) || (w->name[0] && strcmp(name, w->name)))
    return NULL;
  const api_resource_t *pres = api_registry_find("", "v1", "pods");
  char *key = pres ? api_resource_key(pres, ns, name) : NULL;
  cJSON *pod = key ? load(srv, key) : NULL;
  free(key);
  const char *puid = obj_str(pod, "metadata.uid");
  const cJSON *labels = obj_get(pod, "metadata.labels");
  if (!pod || (uid && puid && strcmp(uid, puid)) ||
      (w->sel && !label_selector_match(w->sel, labels))) {
    cJSON_Delete(pod);
    return NULL;
  }
  cJSON *cs = cJSON_CreateArray();
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(sp, "containers")) {
    cJSON *u = usage_of(c);
    const char *cn = obj_str(c, "name");
    if (!u || !cn) {
      cJSON_Delete(u);
      continue;
    }
    cJSON *co = cJSON_CreateObject();
    cJSON_AddStringToObject(co, "name", cn);
    cJSON_AddItemToObject(co, "usage", u);
    cJSON_AddItemToArray(cs, co);
  }
  cJSON *o = NULL;
  if (cJSON_GetArraySize(cs) > 0) {
    o = metrics_obj("PodMetrics", name, ns, labels, obj_str(sp, "cpu.time"));
    cJSON_AddItemToObject(o, "containers", cs);
  } else {
    cJSON_Delete(cs);
  }
  cJSON_Delete(pod);
  return o;
}

static int by_name(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  const char *nx = obj_str(x, "metadata.namespace"), *ny = obj_str(y, "metadata.namespace");
  int r = strcmp(nx ? nx : "", ny ? ny : "");
  return r ? r : strcmp(obj_str(x, "metadata.name"), obj_str(y, "metadata.name"));
}

/* Answer w from the cache. */
static void answer(struct api_metrics *m, mwait_t *w) {
  api_server_t *srv = m->srv;
  cJSON *items = cJSON_CreateArray();
  const api_resource_t *nres = api_registry_find("", "v1", "nodes");
  for (mnode_t *n = m->nodes; n; n = n->next) {
    if (!n->summary || (w->nodes && w->name[0] && strcmp(n->name, w->name)))
      continue;
    if (w->nodes) {
      char *key = nres ? api_resource_key(nres, NULL, n->name) : NULL;
      cJSON *node = key ? load(srv, key) : NULL;
      free(key);
      if (node && (!w->sel || label_selector_match(w->sel, obj_get(node, "metadata.labels")))) {
        cJSON *o = node_metrics(n, node);
        if (o)
          cJSON_AddItemToArray(items, o);
      }
      cJSON_Delete(node);
      continue;
    }
    const cJSON *sp;
    cJSON_ArrayForEach(sp, obj_get(n->summary, "pods")) {
      cJSON *o = pod_metrics(srv, sp, w);
      if (o)
        cJSON_AddItemToArray(items, o);
    }
  }
  /* sorted, as a list from the store would be */
  int count = cJSON_GetArraySize(items);
  cJSON **v = xcalloc(count ? (size_t)count : 1, sizeof(*v));
  for (int i = 0; i < count; i++)
    v[i] = cJSON_DetachItemFromArray(items, 0);
  qsort(v, (size_t)count, sizeof(*v), by_name);
  for (int i = 0; i < count; i++)
    cJSON_AddItemToArray(items, v[i]);
  free(v);
  if (w->name[0] && !cJSON_GetArraySize(items)) {
    cJSON_Delete(items);
    api_status_t st;
    api_status_not_found(&st, GROUP, w->nodes ? "nodes" : "pods", w->name);
    /* upstream's wording names the kind's resource */
    snprintf(st.message, sizeof(st.message), "%s.metrics.k8s.io \"%s\" not found",
             w->nodes ? "nodemetrics" : "podmetrics", w->name);
    api__respond_status(w->req, &st);
    return;
  }
  if (w->table) {
    cJSON *t = api__table_new(w->table, true);
    const char *include = http_req_query(w->req, "includeObject");
    const cJSON *o;
    cJSON_ArrayForEach(o, items) api__table_add_row(t, w->table, o, include);
    cJSON_Delete(items);
    api__respond_obj(w->req, 200, t);
    return;
  }
  if (w->name[0]) {
    cJSON *one = cJSON_DetachItemFromArray(items, 0);
    cJSON_Delete(items);
    api__respond_obj(w->req, 200, one);
    return;
  }
  cJSON *list = cJSON_CreateObject();
  cJSON_AddStringToObject(list, "kind", w->nodes ? "NodeMetricsList" : "PodMetricsList");
  cJSON_AddStringToObject(list, "apiVersion", GV);
  cJSON_AddObjectToObject(list, "metadata");
  cJSON_AddItemToObject(list, "items", items);
  api__respond_obj(w->req, 200, list);
}

static void wait_free(mwait_t *w) {
  struct api_metrics *m = w->m;
  ev_timer_stop(m->srv->loop, &w->timer);
  if (w->prev)
    w->prev->next = w->next;
  else
    m->waits = w->next;
  if (w->next)
    w->next->prev = w->prev;
  label_selector_free(w->sel);
  free(w);
}

static void wait_answer(mwait_t *w) {
  http_req_on_close(w->req, NULL, NULL);
  answer(w->m, w);
  wait_free(w);
}

static void wait_close(http_req_t *r, void *data) {
  mwait_t *w = data;
  http_respond(r, 499, "text/plain", "", 0); /* the client is gone: frees the request */
  wait_free(w);
}

static void wait_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
  wait_answer((mwait_t *)((char *)t - offsetof(mwait_t, timer)));
}

/* ---- scraping ---- */

static void scraped(const client_result_t *res, void *data) {
  mnode_t *n = data;
  struct api_metrics *m = n->m;
  n->req = NULL;
  n->fetched = ev_now(m->srv->loop);
  if (res->code == 200 && cJSON_IsObject(res->obj) && cJSON_IsObject(obj_get(res->obj, "node"))) {
    cJSON_Delete(n->summary);
    n->summary = client_result_take(res);
  } else {
    /* left out until it answers again, as metrics-server does */
    cJSON_Delete(n->summary);
    n->summary = NULL;
    log_debug("api", "metrics: kubelet of node %s: %d %s", n->name, res->code,
              res->code ? (res->message ? res->message : "") : strerror(-res->err));
  }
  if (--m->inflight == 0)
    while (m->waits)
      wait_answer(m->waits);
}

static void scrape(struct api_metrics *m, mnode_t *n) {
  api_server_t *srv = m->srv;
  if (!n->c) {
    char err[256];
    client_https_opts_t ho = {.server = n->url, .cert_pem = srv->kubelet_cert_pem,
                              .key_pem = srv->kubelet_key_pem, .insecure_skip_verify = true,
                              .max_connections = 1, .timeout = SCRAPE_TIMEOUT,
                              .max_body_bytes = 8 << 20};
    if (client_https_new(srv->loop, &ho, &n->c, err, sizeof(err)) < 0) {
      log_warn("api", "metrics: kubelet client for %s: %s", n->name, err);
      n->fetched = ev_now(srv->loop);
      return;
    }
    client_set_user_agent(n->c, "k3c-apiserver");
  }
  n->req = client_get_path(n->c, "/stats/summary", scraped, n);
  if (n->req)
    m->inflight++;
  else
    n->fetched = ev_now(srv->loop);
}

static void node_drop(struct api_metrics *m, mnode_t *n) {
  for (mnode_t **p = &m->nodes; *p; p = &(*p)->next) {
    if (*p == n) {
      *p = n->next;
      break;
    }
  }
  client_free(n->c); /* cancels a request in flight without its callback */
  if (n->req)
    m->inflight--;
  cJSON_Delete(n->summary);
  free(n);
  m->n_nodes--;
}

/* Start a scrape of every stored node whose summary is stale; forget
 * nodes that are gone or changed address. */
static void refresh(struct api_metrics *m) {
  api_server_t *srv = m->srv;
  const api_resource_t *nres = api_registry_find("", "v1", "nodes");
  char *prefix = nres ? api_resource_key(nres, NULL, NULL) : NULL;
  if (!prefix)
    return;
  store_list_opts_t lo = {.prefix = prefix};
  store_list_t l;
  if (store_list(srv->store, &lo, &l) < 0) {
    free(prefix);
    return;
  }
  double now = ev_now(srv->loop);
  for (mnode_t *n = m->nodes; n; n = n->next)
    n->seen = false;
  for (size_t i = 0; i < l.n; i++) {
    cJSON *node = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
    const char *name = obj_str(node, "metadata.name");
    char url[300];
    if (!name || api__kubelet_url(node, url, sizeof(url)) < 0 || strlen(name) >= 254) {
      cJSON_Delete(node);
      continue;
    }
    mnode_t *n = node_find(m, name);
    if (n && strcmp(n->url, url)) {
      node_drop(m, n);
      n = NULL;
    }
    if (!n && m->n_nodes < NODES_MAX) {
      n = xcalloc(1, sizeof(*n));
      n->m = m;
      snprintf(n->name, sizeof(n->name), "%s", name);
      memcpy(n->url, url, sizeof(n->url));
      n->next = m->nodes;
      m->nodes = n;
      m->n_nodes++;
    }
    if (n) {
      n->seen = true;
      if (!n->req && (!n->fetched || now - n->fetched >= SCRAPE_EVERY))
        scrape(m, n);
    }
    cJSON_Delete(node);
  }
  store_list_done(&l);
  free(prefix);
  for (mnode_t *n = m->nodes, *next; n; n = next) {
    next = n->next;
    if (!n->seen)
      node_drop(m, n);
  }
}

/* ---- requests ---- */

bool api__metrics(api_call_t *call) {
  if (strcmp(call->ri.group, GROUP))
    return false;
  api_status_t st;
  memset(&st, 0, sizeof(st));
  bool nodes = !strcmp(call->ri.resource, "nodes");
  const char *verb = call->ri.verb;
  if (call->ri.subresource[0] || (strcmp(verb, "get") && strcmp(verb, "list"))) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(call->req, &st);
    return true;
  }
  label_selector_t *sel = NULL;
  const char *ls = http_req_query(call->req, "labelSelector");
  char err[256];
  if (ls && ls[0] && label_selector_parse(ls, &sel, err, sizeof(err)) < 0) {
    api_status_bad_request(&st, "unable to parse requirement: %s", err);
    api__respond_status(call->req, &st);
    return true;
  }
  if (!call->srv->kubelet_cert_pem) {
    label_selector_free(sel);
    api_status_init(&st, 503, "ServiceUnavailable",
                    "the API server has no kubelet client certificate");
    api__respond_status(call->req, &st);
    return true;
  }
  struct api_metrics *m = metrics_of(call->srv);
  mwait_t *w = xcalloc(1, sizeof(*w));
  w->m = m;
  w->req = call->req;
  w->nodes = nodes;
  w->sel = sel;
  w->table = call->want_table ? api__table_row(call->view) : NULL;
  snprintf(w->ns, sizeof(w->ns), "%s", nodes ? "" : call->ri.ns);
  snprintf(w->name, sizeof(w->name), "%s", call->ri.name);
  ev_timer_init(&w->timer, wait_timeout, SCRAPE_TIMEOUT + 0.5, 0);
  w->next = m->waits;
  if (w->next)
    w->next->prev = w;
  m->waits = w;
  refresh(m);
  if (!m->inflight) {
    wait_answer(w);
    return true;
  }
  http_req_on_close(call->req, wait_close, w);
  ev_timer_start(call->srv->loop, &w->timer);
  return true;
}

void api__metrics_free(api_server_t *srv) {
  struct api_metrics *m = srv->metrics;
  if (!m)
    return;
  while (m->waits) {
    mwait_t *w = m->waits;
    http_req_on_close(w->req, NULL, NULL);
    api_status_t st;
    api_status_init(&st, 503, "ServiceUnavailable", "the server is shutting down");
    api__respond_status(w->req, &st);
    wait_free(w);
  }
  while (m->nodes)
    node_drop(m, m->nodes);
  free(m);
  srv->metrics = NULL;
}

/* ---- Table cells (kinds.c): as `kubectl top` rounds ---- */

static double parse_q(const char *q) {
  if (!q)
    return 0;
  char *e;
  double v = strtod(q, &e);
  if (!strcmp(e, "n"))
    v /= 1e9;
  else if (!strcmp(e, "m"))
    v /= 1e3;
  else if (!strcmp(e, "Ki"))
    v *= 1024;
  else if (!strcmp(e, "Mi"))
    v *= 1024 * 1024;
  return v;
}

static cJSON *usage_cell(const char *col, double cpu_cores, double mem_bytes) {
  char buf[48];
  if (!strcmp(col, "CPU"))
    snprintf(buf, sizeof(buf), "%.0fm", cpu_cores * 1000 + 0.4999);
  else
    snprintf(buf, sizeof(buf), "%.0fMi", mem_bytes / (1024 * 1024));
  return cJSON_CreateString(buf);
}

static cJSON *node_metrics_cell(const char *col, const cJSON *obj) {
  return usage_cell(col, parse_q(obj_str(obj, "usage.cpu")),
                    parse_q(obj_str(obj, "usage.memory")));
}

static cJSON *pod_metrics_cell(const char *col, const cJSON *obj) {
  double cpu = 0, mem = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(obj, "containers")) {
    cpu += parse_q(obj_str(c, "usage.cpu"));
    mem += parse_q(obj_str(c, "usage.memory"));
  }
  return usage_cell(col, cpu, mem);
}

const api_hooks_t api_kind_node_metrics = {.cell = node_metrics_cell};
const api_hooks_t api_kind_pod_metrics = {.cell = pod_metrics_cell};
