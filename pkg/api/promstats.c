/* The API server's own /metrics in the Prometheus text format (0.0.4):
 * apiserver_request_total, apiserver_request_duration_seconds (upstream's
 * buckets), apiserver_current_inflight_requests,
 * apiserver_longrunning_requests, apiserver_registered_watchers,
 * apiserver_storage_objects and apiserver_storage_size_bytes, with
 * upstream's names and labels. Each authenticated request carries a record
 * (the request's app data, whose first member is its user) that counts it
 * when the request is freed, whatever path answered it.
 * https://kubernetes.io/docs/reference/instrumentation/metrics/
 * https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/audit.h"
#include "api/internal.h"
#include "api/promstats.h"
#include "api/registry.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strmap.h"

/* upstream's apiserver_request_duration_seconds buckets */
static const double BUCKETS[] = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2,
                                 3,     4,     5,    6,   8,   10,  15,  20,  30,  45,  60};
#define N_BUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))
#define SERIES_MAX 4096 /* per family; more label sets are not counted */

typedef struct series {
  struct series *next;
  char *labels; /* the map key, printed as it is */
  double value;
  uint64_t buckets[N_BUCKETS];
  uint64_t count;
  double sum;
} series_t;

typedef struct {
  strmap_t map;
  series_t *head, **tail;
  size_t n;
} family_t;

typedef struct record record_t;

struct api_promstats {
  family_t total, duration, longrunning;
  int64_t inflight_ro, inflight_mut;
  bool warned;
  record_t *live; /* the records of requests not freed yet */
};

#define RECORD_MAGIC 0x6b336372u

struct record {
  api_user_t user; /* first: http_req_app(req) is the user (authz.c) */
  unsigned magic;
  api_audit_req_t *audit;
  api_server_t *srv;
  http_req_t *req;
  double start;
  bool longrunning, mutating;
  char labels[1024]; /* verb,dry_run,group,version,resource,subresource,scope,component */
  char verb[16];
  char group[128], version[32], resource[128];
  record_t *prev, *next; /* in api_promstats.live */
};

static void record_unlink(api_promstats_t *p, record_t *r);

static void family_init(family_t *f) {
  strmap_init(&f->map);
  f->head = NULL;
  f->tail = &f->head;
  f->n = 0;
}

static void family_done(family_t *f) {
  for (series_t *s = f->head, *next; s; s = next) {
    next = s->next;
    free(s->labels);
    free(s);
  }
  strmap_done(&f->map);
}

static series_t *family_get(api_promstats_t *p, family_t *f, const char *labels) {
  series_t *s = strmap_get(&f->map, labels);
  if (s)
    return s;
  if (f->n >= SERIES_MAX) {
    if (!p->warned)
      log_warn("api", "metrics: more than %d label sets in one family; new ones are not counted",
               SERIES_MAX);
    p->warned = true;
    return NULL;
  }
  s = xcalloc(1, sizeof(*s));
  s->labels = xstrdup(labels);
  if (strmap_put(&f->map, s->labels, s, NULL) < 0) {
    free(s->labels);
    free(s);
    return NULL;
  }
  *f->tail = s;
  f->tail = &s->next;
  f->n++;
  return s;
}

api_promstats_t *api__promstats_new(void) {
  api_promstats_t *p = xcalloc(1, sizeof(*p));
  family_init(&p->total);
  family_init(&p->duration);
  family_init(&p->longrunning);
  return p;
}

void api__promstats_detach(api_server_t *srv) {
  api_promstats_t *p = srv->prom;
  while (p && p->live) {
    record_t *r = p->live;
    record_unlink(p, r);
    api__audit_end(srv->audit, r->audit, r->req);
    r->audit = NULL;
    r->srv = NULL;
  }
}

void api__promstats_free(api_promstats_t *p) {
  if (!p)
    return;
  family_done(&p->total);
  family_done(&p->duration);
  family_done(&p->longrunning);
  free(p);
}

/* A label value with Prometheus's escapes (\\, \", \n). */
static void label(buf_t *b, const char *name, const char *v, bool comma) {
  buf_printf(b, "%s%s=\"", comma ? "," : "", name);
  for (const char *c = v; *c; c++) {
    if (*c == '\\' || *c == '"')
      buf_printf(b, "\\%c", *c);
    else if (*c == '\n')
      buf_append(b, "\\n", 2);
    else
      buf_append(b, c, 1);
  }
  buf_append(b, "\"", 1);
}

/* upstream's CanonicalVerb: the HTTP method, LIST and WATCH for
 * collections, APPLY for server-side apply. */
static void canonical_verb(const api_reqinfo_t *ri, const char *method, bool apply, char *out,
                           size_t n) {
  if (ri->is_resource && !strcmp(ri->verb, "list"))
    snprintf(out, n, "LIST");
  else if (ri->is_resource && !strcmp(ri->verb, "watch"))
    snprintf(out, n, "WATCH");
  else if (apply)
    snprintf(out, n, "APPLY");
  else if (ri->is_resource && (!strcmp(ri->subresource, "exec") ||
                               !strcmp(ri->subresource, "attach") ||
                               !strcmp(ri->subresource, "portforward")))
    snprintf(out, n, "CONNECT");
  else {
    size_t i = 0;
    for (; method[i] && i + 1 < n; i++)
      out[i] = (method[i] >= 'a' && method[i] <= 'z') ? (char)(method[i] - 32) : method[i];
    out[i] = '\0';
  }
}

/* upstream's CleanScope */
static const char *scope_of(const api_reqinfo_t *ri) {
  if (!ri->is_resource)
    return "";
  if (ri->name[0] || !strcmp(ri->verb, "create"))
    return "resource";
  if (ri->ns[0])
    return "namespace";
  return "cluster";
}

static void record_unlink(api_promstats_t *p, record_t *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    p->live = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void record_free(void *data) {
  record_t *r = data;
  if (!r->srv) { /* a request that outlived the API server (api__promstats_detach) */
    api__user_done(&r->user);
    free(r);
    return;
  }
  api_promstats_t *p = r->srv->prom;
  record_unlink(p, r);
  int code = http_req_status(r->req);
  double took = ev_time() - r->start;
  if (r->longrunning) {
    series_t *s = family_get(p, &p->longrunning, r->labels);
    if (s)
      s->value--;
  } else if (r->mutating)
    p->inflight_mut--;
  else
    p->inflight_ro--;
  char labels[1100];
  snprintf(labels, sizeof(labels), "%s,code=\"%d\"", r->labels, code ? code : 0);
  series_t *s = family_get(p, &p->total, labels);
  if (s)
    s->value++;
  if (!r->longrunning && (s = family_get(p, &p->duration, r->labels))) {
    for (size_t i = 0; i < N_BUCKETS; i++)
      if (took <= BUCKETS[i])
        s->buckets[i]++;
    s->count++;
    s->sum += took;
  }
  api__audit_end(r->srv->audit, r->audit, r->req);
  api__user_done(&r->user);
  free(r);
}

void api__promstats_begin(api_server_t *srv, http_req_t *req, const api_user_t *user,
                          const api_user_t *requester, const api_reqinfo_t *ri,
                          const char *method) {
  record_t *r = xcalloc(1, sizeof(*r));
  api_user_t *copy = api__user_dup(user);
  r->user = *copy; /* take its owned strings */
  free(copy);
  r->srv = srv;
  r->req = req;
  r->start = ev_time();
  const char *ct = http_req_header(req, "Content-Type");
  bool apply = ct && !strncmp(ct, "application/apply-patch", 23);
  canonical_verb(ri, method, apply, r->verb, sizeof(r->verb));
  const char *sub = ri->is_resource ? ri->subresource : "";
  bool follow = !strcmp(sub, "log") && api__query_bool(req, "follow");
  r->longrunning = !strcmp(r->verb, "WATCH") || !strcmp(r->verb, "CONNECT") ||
                   !strcmp(sub, "proxy") || follow;
  r->mutating = strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
  const char *dry = http_req_query(req, "dryRun");
  buf_t b;
  buf_init(&b, sizeof(r->labels) - 1);
  label(&b, "verb", r->verb, false);
  label(&b, "dry_run", dry && dry[0] ? dry : "", true);
  label(&b, "group", ri->is_resource ? ri->group : "", true);
  label(&b, "version", ri->is_resource ? ri->version : "", true);
  label(&b, "resource", ri->is_resource ? ri->resource : "", true);
  label(&b, "subresource", sub, true);
  label(&b, "scope", scope_of(ri), true);
  label(&b, "component", "apiserver", true);
  snprintf(r->labels, sizeof(r->labels), "%.*s", (int)b.len, b.data ? b.data : "");
  buf_done(&b);
  snprintf(r->group, sizeof(r->group), "%s", ri->is_resource ? ri->group : "");
  snprintf(r->version, sizeof(r->version), "%s", ri->is_resource ? ri->version : "");
  snprintf(r->resource, sizeof(r->resource), "%s", ri->is_resource ? ri->resource : "");
  api_promstats_t *p = srv->prom;
  if (r->longrunning) {
    series_t *s = family_get(p, &p->longrunning, r->labels);
    if (s)
      s->value++;
  } else if (r->mutating)
    p->inflight_mut++;
  else
    p->inflight_ro++;
  r->magic = RECORD_MAGIC;
  if (srv->audit)
    r->audit = api__audit_begin(srv->audit, req, &r->user, requester, ri);
  r->next = p->live;
  if (r->next)
    r->next->prev = r;
  p->live = r;
  http_req_set_app(req, r, record_free);
}

api_audit_req_t *api__request_audit(http_req_t *req) {
  record_t *r = req ? http_req_app(req) : NULL;
  return r && r->magic == RECORD_MAGIC ? r->audit : NULL;
}

static void print_family(buf_t *b, const char *name, const char *type, const char *help,
                         const family_t *f) {
  buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  for (const series_t *s = f->head; s; s = s->next) {
    if (!strcmp(type, "histogram")) {
      for (size_t i = 0; i < N_BUCKETS; i++)
        buf_printf(b, "%s_bucket{%s,le=\"%g\"} %" PRIu64 "\n", name, s->labels, BUCKETS[i],
                    s->buckets[i]);
      buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", name, s->labels, s->count);
      buf_printf(b, "%s_sum{%s} %.9g\n", name, s->labels, s->sum);
      buf_printf(b, "%s_count{%s} %" PRIu64 "\n", name, s->labels, s->count);
    } else
      buf_printf(b, "%s{%s} %.0f\n", name, s->labels, s->value);
  }
}

/* Watch streams open now, by the resource's group, version and kind. */
static void print_watchers(buf_t *b, api_server_t *srv) {
  buf_printf(b, "# HELP apiserver_registered_watchers Number of currently registered watchers "
                 "for a given resources\n# TYPE apiserver_registered_watchers gauge\n");
  for (const series_t *s = srv->prom->longrunning.head; s; s = s->next) {
    if (strncmp(s->labels, "verb=\"WATCH\"", 12) || s->value <= 0)
      continue;
    /* labels: verb,dry_run,group,version,resource,... */
    char group[128] = "", version[32] = "", resource[128] = "";
    const char *g = strstr(s->labels, ",group=\""), *v = strstr(s->labels, ",version=\""),
               *res = strstr(s->labels, ",resource=\"");
    if (!g || !v || !res)
      continue;
    sscanf(g + 8, "%127[^\"]", group);
    sscanf(v + 10, "%31[^\"]", version);
    sscanf(res + 11, "%127[^\"]", resource);
    const api_resource_t *row = api_registry_find(group, version, resource);
    buf_t l;
    buf_init(&l, 1024);
    label(&l, "group", group, false);
    label(&l, "kind", row ? row->s->kind : resource, true);
    label(&l, "version", version, true);
    buf_printf(b, "apiserver_registered_watchers{%.*s} %.0f\n", (int)l.len, l.data, s->value);
    buf_done(&l);
  }
}

static void print_storage(buf_t *b, api_server_t *srv) {
  buf_printf(b, "# HELP apiserver_storage_objects Number of stored objects at the time of last "
                 "check split by kind.\n# TYPE apiserver_storage_objects gauge\n");
  strmap_t seen;
  strmap_init(&seen);
  char **keys = NULL;
  size_t n_keys = 0;
  for (size_t i = 0; i < api_registry_count(); i++) {
    const api_resource_t *r = api_registry_at(i);
    if (!r || r->removed || r->storage != r || strchr(r->s->plural, '/'))
      continue;
    char *prefix = api_resource_key(r, NULL, NULL);
    if (strmap_has(&seen, prefix)) {
      free(prefix);
      continue;
    }
    keys = xrealloc(keys, (n_keys + 1) * sizeof(*keys));
    keys[n_keys++] = prefix;
    strmap_put(&seen, prefix, prefix, NULL);
    char name[300];
    if (r->s->group[0])
      snprintf(name, sizeof(name), "%s.%s", r->s->plural, r->s->group);
    else
      snprintf(name, sizeof(name), "%s", r->s->plural);
    buf_t l;
    buf_init(&l, 1024);
    label(&l, "resource", name, false);
    buf_printf(b, "apiserver_storage_objects{%.*s} %zu\n", (int)l.len, l.data,
                store_count(srv->store, prefix));
    buf_done(&l);
  }
  for (size_t i = 0; i < n_keys; i++)
    free(keys[i]);
  free(keys);
  strmap_done(&seen);
  int64_t size = store_size_bytes(srv->store);
  buf_printf(b, "# HELP apiserver_storage_size_bytes Size of the storage database file "
                 "physically allocated in bytes.\n# TYPE apiserver_storage_size_bytes gauge\n"
                 "apiserver_storage_size_bytes{storage_cluster_id=\"k3c-sqlite\"} %" PRId64 "\n",
              size);
  buf_printf(b, "# HELP apiserver_storage_db_revision The store's current revision.\n"
                 "# TYPE apiserver_storage_db_revision gauge\n"
                 "apiserver_storage_db_revision %" PRId64 "\n", store_revision(srv->store));
}

bool api__promstats_serve(http_req_t *req, const char *path, void *data) {
  api_server_t *srv = data;
  if (strcmp(path, "/metrics"))
    return false;
  const char *method = http_req_method(req);
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    api_status_t st;
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(req, &st);
    return true;
  }
  api_promstats_t *p = srv->prom;
  buf_t b;
  buf_init(&b, 64u << 20);
  print_family(&b, "apiserver_request_total", "counter",
               "Counter of apiserver requests broken out for each verb, dry run value, group, "
               "version, resource, scope, component, and HTTP response code.", &p->total);
  print_family(&b, "apiserver_request_duration_seconds", "histogram",
               "Response latency distribution in seconds for each verb, dry run value, group, "
               "version, resource, subresource, scope and component.", &p->duration);
  /* this request is in flight while it counts */
  buf_printf(&b, "# HELP apiserver_current_inflight_requests Maximal number of currently used "
                  "inflight request limit of this apiserver per request kind in last second.\n"
                  "# TYPE apiserver_current_inflight_requests gauge\n"
                  "apiserver_current_inflight_requests{request_kind=\"mutating\"} %" PRId64 "\n"
                  "apiserver_current_inflight_requests{request_kind=\"readOnly\"} %" PRId64 "\n",
              p->inflight_mut, p->inflight_ro);
  print_family(&b, "apiserver_longrunning_requests", "gauge",
               "Gauge of all active long-running apiserver requests broken out by verb, group, "
               "version, resource, scope and component. Not all requests are tracked this way.",
               &p->longrunning);
  print_watchers(&b, srv);
  print_storage(&b, srv);
  http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
  buf_done(&b);
  return true;
}
