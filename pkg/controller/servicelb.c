/* The service load balancer's status controller (see servicelb.h): which
 * node addresses serve each LoadBalancer Service, and which Service has a
 * port when two want it. Service status:
 * https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/ */
#include "controller/servicelb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "controller/events.h"
#include "controller/internal.h"
#include "json/util.h"
#include "util/alloc.h"

struct controller_servicelb {
  client_t *c;
  client_informer_t *svcs, *nodes;
  controller_t *ctl;
  controller_recorder_t *rec;
  client_req_t *req; /* the status patch in flight (one worker: at most one) */
  char *req_key;
};

typedef struct {
  const cJSON **v;
  size_t n;
} objs_t;

static void collect(const cJSON *obj, void *data) {
  objs_t *o = data;
  o->v = xrealloc(o->v, (o->n + 1) * sizeof *o->v);
  o->v[o->n++] = obj;
}

static const char *label(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels"),
      key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A LoadBalancer Service that is ours (no other class asked for). */
static bool ours(const cJSON *svc) {
  const char *type = controller__str(svc, "spec.type");
  return type && !strcmp(type, "LoadBalancer") && !json_get_path(svc, "spec.loadBalancerClass") &&
         !controller__str(svc, "metadata.deletionTimestamp");
}

static bool node_ready(const cJSON *node) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(node, "status.conditions")) {
    const char *t = controller__str(c, "type"), *s = controller__str(c, "status");
    if (t && !strcmp(t, "Ready"))
      return s && !strcmp(s, "True");
  }
  return false;
}

/* The node's ExternalIP, else its InternalIP (IPv4 or IPv6), or NULL. */
static const char *node_addr(const cJSON *node) {
  const char *internal = NULL;
  const cJSON *a;
  cJSON_ArrayForEach(a, json_get_path(node, "status.addresses")) {
    const char *t = controller__str(a, "type"), *ip = controller__str(a, "address");
    unsigned char buf[16];
    if (!t || !ip || (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1))
      continue;
    if (!strcmp(t, "ExternalIP"))
      return ip;
    if (!strcmp(t, "InternalIP") && !internal)
      internal = ip;
  }
  return internal;
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The serving addresses, sorted and distinct (borrowed from the cache). */
static size_t serving(controller_servicelb_t *s, const char ***ret) {
  objs_t nodes = {0};
  client_cache_foreach(client_informer_cache(s->nodes), collect, &nodes);
  bool labelled = false;
  for (size_t i = 0; i < nodes.n && !labelled; i++) {
    const char *l = label(nodes.v[i], CONTROLLER_SERVICELB_LABEL);
    labelled = l && !strcmp(l, "true");
  }
  const char **v = xcalloc(nodes.n + 1, sizeof *v);
  size_t n = 0;
  for (size_t i = 0; i < nodes.n; i++) {
    const char *l = label(nodes.v[i], CONTROLLER_SERVICELB_LABEL);
    if (labelled && !(l && !strcmp(l, "true")))
      continue;
    const char *ip = node_addr(nodes.v[i]);
    if (ip && node_ready(nodes.v[i]) && !controller__str(nodes.v[i], "metadata.deletionTimestamp"))
      v[n++] = ip;
  }
  free(nodes.v);
  qsort(v, n, sizeof *v, str_cmp);
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (!w || strcmp(v[w - 1], v[i]))
      v[w++] = v[i];
  *ret = v;
  return w;
}

/* Older first: creationTimestamp, then namespace/name. */
static int age_cmp(const void *x, const void *y) {
  const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
  time_t ta = controller__time(controller__str(a, "metadata.creationTimestamp"));
  time_t tb = controller__time(controller__str(b, "metadata.creationTimestamp"));
  if (ta != tb)
    return ta < tb ? -1 : 1;
  int c = strcmp(controller__str(a, "metadata.namespace") ?: "",
                 controller__str(b, "metadata.namespace") ?: "");
  return c ? c : strcmp(controller__str(a, "metadata.name") ?: "",
                        controller__str(b, "metadata.name") ?: "");
}

static const char *proto(const cJSON *p) {
  const char *s = controller__str(p, "protocol");
  return s ? s : "TCP";
}

/* Whether svc gets its ports: the older Services are given theirs first
 * (a pending one claims nothing). On a conflict, what/who say which port
 * and which Service has it. */
static bool gets_ports(controller_servicelb_t *s, const cJSON *svc, char *what, size_t whatlen,
                       char *who, size_t wholen) {
  objs_t all = {0};
  client_cache_foreach(client_informer_cache(s->svcs), collect, &all);
  size_t n = 0;
  for (size_t i = 0; i < all.n; i++)
    if (ours(all.v[i]))
      all.v[n++] = all.v[i];
  qsort(all.v, n, sizeof *all.v, age_cmp);
  typedef struct {
    const char *proto;
    int port;
    const cJSON *owner;
  } claim_t;
  claim_t *claims = NULL;
  size_t nc = 0;
  bool ok = true;
  for (size_t i = 0; i < n; i++) {
    const cJSON *p, *clash = NULL, *clash_port = NULL;
    cJSON_ArrayForEach(p, json_get_path(all.v[i], "spec.ports")) {
      int port = (int)controller__num(p, "port", 0);
      for (size_t j = 0; j < nc && !clash; j++)
        if (claims[j].port == port && !strcmp(claims[j].proto, proto(p))) {
          clash = claims[j].owner;
          clash_port = p;
        }
    }
    if (all.v[i] == svc) {
      if (clash) {
        ok = false;
        snprintf(what, whatlen, "%d/%s", (int)controller__num(clash_port, "port", 0),
                 proto(clash_port));
        snprintf(who, wholen, "%s/%s", controller__str(clash, "metadata.namespace") ?: "",
                 controller__str(clash, "metadata.name") ?: "");
      }
      break;
    }
    if (clash)
      continue;
    cJSON_ArrayForEach(p, json_get_path(all.v[i], "spec.ports")) {
      claims = xrealloc(claims, (nc + 1) * sizeof *claims);
      claims[nc++] = (claim_t){proto(p), (int)controller__num(p, "port", 0), all.v[i]};
    }
  }
  free(claims);
  free(all.v);
  return ok;
}

/* The ingress IPs the status has now, joined by ",". */
static void current(const cJSON *svc, char *out, size_t len) {
  size_t used = 0;
  out[0] = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, json_get_path(svc, "status.loadBalancer.ingress")) {
    const char *ip = controller__str(e, "ip");
    int k = snprintf(out + used, len - used, "%s%s", used ? "," : "", ip ? ip : "?");
    if (k < 0 || (size_t)k >= len - used)
      break;
    used += (size_t)k;
  }
}

static void patch_done(const client_result_t *res, void *data) {
  controller_servicelb_t *s = data;
  char *key = s->req_key;
  s->req = NULL;
  s->req_key = NULL;
  controller_done(s->ctl, key, res->code == 200 || res->code == 404 ? 0 : -EAGAIN);
  free(key);
}

static void sync_svc(controller_t *ctl, const char *key, void *data) {
  controller_servicelb_t *s = data;
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof ns, name, sizeof name) < 0) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *svc = client_informer_get(s->svcs, ns, name);
  if (!svc || !ours(svc)) { /* the API drops the status of a type that is no more LoadBalancer */
    controller_done(ctl, key, 0);
    return;
  }
  char what[64], who[300];
  const char **ips = NULL;
  size_t n = 0;
  bool ok = gets_ports(s, svc, what, sizeof what, who, sizeof who);
  if (ok)
    n = serving(s, &ips);
  char want[4096] = "", have[4096];
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    int k = snprintf(want + used, sizeof want - used, "%s%s", i ? "," : "", ips[i]);
    if (k < 0 || (size_t)k >= sizeof want - used)
      break;
    used += (size_t)k;
  }
  current(svc, have, sizeof have);
  if (!ok)
    controller_recorder_eventf(s->rec, svc, "Warning", "PortInUse",
                               "port %s is used by LoadBalancer service %s; this service stays "
                               "pending until it is free",
                               what, who);
  if (!strcmp(want, have)) {
    free(ips);
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *patch = cJSON_CreateObject();
  cJSON *lb = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "status"), "loadBalancer");
  if (n) {
    cJSON *ing = cJSON_AddArrayToObject(lb, "ingress");
    for (size_t i = 0; i < n; i++) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "ip", ips[i]);
      cJSON_AddStringToObject(e, "ipMode", "VIP");
      cJSON_AddItemToArray(ing, e);
    }
  } else {
    cJSON_AddNullToObject(lb, "ingress");
  }
  if (n)
    controller_recorder_eventf(s->rec, svc, "Normal", "UpdatedIngressIP",
                               "LoadBalancer Ingress IP addresses updated: %s", want);
  free(ips);
  client_ref_t ref = {.version = "v1", .resource = "services", .ns = ns, .name = name,
                      .subresource = "status"};
  s->req_key = xstrdup(key);
  s->req = client_patch(s->c, &ref, CLIENT_PATCH_MERGE, patch, NULL, patch_done, s);
  cJSON_Delete(patch);
  if (!s->req) {
    free(s->req_key);
    s->req_key = NULL;
    controller_done(ctl, key, -EINVAL);
  }
}

static void enqueue_ours(const cJSON *svc, void *data) {
  controller_servicelb_t *s = data;
  if (ours(svc))
    controller_enqueue_obj(s->ctl, svc);
}

/* Any change can move a port or the serving nodes: every LoadBalancer
 * Service is looked at again (the queue folds repeats). */
static void all_changed(controller_servicelb_t *s) {
  client_cache_foreach(client_informer_cache(s->svcs), enqueue_ours, s);
}
static void on_add(const cJSON *obj, void *data) {
  all_changed(data);
}
static void on_update(const cJSON *old, const cJSON *obj, void *data) {
  all_changed(data);
}
static void on_delete(const cJSON *obj, void *data) {
  all_changed(data);
}

/* A node's heartbeat changes nothing here: only its address, readiness
 * or label do. */
static void on_node_update(const cJSON *old, const cJSON *obj, void *data) {
  const char *a = node_addr(old), *b = node_addr(obj);
  const char *la = label(old, CONTROLLER_SERVICELB_LABEL), *lb = label(obj, CONTROLLER_SERVICELB_LABEL);
  if (strcmp(a ? a : "", b ? b : "") || strcmp(la ? la : "", lb ? lb : "") ||
      node_ready(old) != node_ready(obj) ||
      !controller__str(old, "metadata.deletionTimestamp") !=
          !controller__str(obj, "metadata.deletionTimestamp"))
    all_changed(data);
}

int controller_servicelb_new(client_t *c, client_informer_t *services, client_informer_t *nodes,
                             struct ev_loop *loop, controller_servicelb_t **ret) {
  controller_servicelb_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->svcs = services;
  s->nodes = nodes;
  controller_opts_t o = {.name = "servicelb-controller", .workers = 1, .sync = sync_svc, .data = s};
  int r = controller_new(loop, &o, &s->ctl);
  if (r < 0) {
    free(s);
    return r;
  }
  s->rec = controller_recorder_new(c, "service-lb-controller");
  controller_wait_for(s->ctl, services);
  controller_wait_for(s->ctl, nodes);
  client_informer_handlers_t h = {on_add, on_update, on_delete};
  client_informer_handlers_t hn = {on_add, on_node_update, on_delete};
  client_informer_add_handlers(services, &h, s);
  client_informer_add_handlers(nodes, &hn, s);
  controller_start(s->ctl);
  *ret = s;
  return 0;
}

void controller_servicelb_free(controller_servicelb_t *s) {
  if (!s)
    return;
  client_informer_remove_handlers(s->svcs, s);
  client_informer_remove_handlers(s->nodes, s);
  client_req_cancel(s->req);
  free(s->req_key);
  controller_free(s->ctl);
  controller_recorder_free(s->rec);
  free(s);
}
