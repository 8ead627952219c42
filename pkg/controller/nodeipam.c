/* Node IPAM: the lowest /24 of the cluster CIDR that no Node holds goes
 * into spec.podCIDR of a Node without one (a merge patch; upstream's
 * range allocator, one subnet per node, never changed once set).
 * https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/ */
#include "controller/nodeipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "controller/events.h"
#include "json/util.h"
#include "util/alloc.h"

#define NODE_MASK 24

struct controller_nodeipam {
  client_t *c;
  client_informer_t *nodes;
  controller_t *ctl;
  controller_recorder_t *rec;
  uint32_t base;  /* network address, host order */
  unsigned count; /* /24s in the range */
  cJSON *pending; /* node name -> the CIDR patched in, until the cache shows it */
  client_req_t *req;
  char *req_key;
};

/* The index of cidr's /24 in the range, or -1. */
static long subnet_index(const controller_nodeipam_t *n, const char *cidr) {
  char addr[32];
  unsigned bits;
  struct in_addr a;
  if (!cidr || sscanf(cidr, "%31[0-9.]/%u", addr, &bits) != 2 || bits != NODE_MASK ||
      inet_pton(AF_INET, addr, &a) != 1)
    return -1;
  uint32_t v = ntohl(a.s_addr);
  if (v < n->base || ((v - n->base) >> 8) >= n->count || (v & 255))
    return -1;
  return (long)((v - n->base) >> 8);
}

static void mark(const controller_nodeipam_t *n, uint8_t *used, const char *cidr) {
  long i = subnet_index(n, cidr);
  if (i >= 0)
    used[i / 8] |= (uint8_t)(1u << (i % 8));
}

typedef struct {
  const controller_nodeipam_t *n;
  uint8_t *used;
} mark_ctx_t;

static void mark_node(const cJSON *node, void *data) {
  mark_ctx_t *mc = data;
  mark(mc->n, mc->used, json_str(node, "spec.podCIDR"));
}

static void patch_done(const client_result_t *res, void *data) {
  controller_nodeipam_t *n = data;
  char *key = n->req_key;
  n->req = NULL;
  n->req_key = NULL;
  int err = res->code == 200 || res->code == 404 ? 0 : -EAGAIN;
  if (err)
    cJSON_DeleteItemFromObjectCaseSensitive(n->pending, key);
  controller_done(n->ctl, key, err);
  free(key);
}

static void sync_node(controller_t *ctl, const char *key, void *data) {
  controller_nodeipam_t *n = data;
  const cJSON *node = client_informer_get(n->nodes, NULL, key);
  if (!node || json_str(node, "spec.podCIDR") || json_str(node, "metadata.deletionTimestamp") ||
      cJSON_GetObjectItemCaseSensitive(n->pending, key)) {
    if (!node)
      cJSON_DeleteItemFromObjectCaseSensitive(n->pending, key);
    controller_done(ctl, key, 0);
    return;
  }
  uint8_t *used = xcalloc((n->count + 7) / 8, 1);
  mark_ctx_t mc = {n, used};
  client_cache_foreach(client_informer_cache(n->nodes), mark_node, &mc);
  const cJSON *p;
  cJSON_ArrayForEach(p, n->pending)
    mark(n, used, p->valuestring);
  long pick = -1;
  for (unsigned i = 0; i < n->count && pick < 0; i++)
    if (!(used[i / 8] & (1u << (i % 8))))
      pick = (long)i;
  free(used);
  if (pick < 0) {
    controller_recorder_eventf(n->rec, node, "Normal", "CIDRNotAvailable",
                               "Node %s status is now: CIDRNotAvailable", key);
    controller_done(ctl, key, -ENOSPC); /* retried with back-off */
    return;
  }
  uint32_t net = n->base + ((uint32_t)pick << 8);
  char cidr[32];
  snprintf(cidr, sizeof(cidr), "%u.%u.%u.%u/%d", net >> 24, (net >> 16) & 255, (net >> 8) & 255,
           net & 255, NODE_MASK);
  cJSON *patch = cJSON_CreateObject();
  cJSON *spec = cJSON_AddObjectToObject(patch, "spec");
  cJSON_AddStringToObject(spec, "podCIDR", cidr);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "podCIDRs"), cJSON_CreateString(cidr));
  client_ref_t ref = {.version = "v1", .resource = "nodes", .name = key};
  cJSON_AddStringToObject(n->pending, key, cidr);
  n->req_key = xstrdup(key);
  n->req = client_patch(n->c, &ref, CLIENT_PATCH_MERGE, patch, NULL, patch_done, n);
  cJSON_Delete(patch);
  if (!n->req) {
    free(n->req_key);
    n->req_key = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(n->pending, key);
    controller_done(ctl, key, -EINVAL);
  }
}

static void node_changed(const cJSON *node, void *data) {
  controller_nodeipam_t *n = data;
  if (!json_str(node, "spec.podCIDR"))
    controller_enqueue_obj(n->ctl, node);
}
static void node_updated(const cJSON *old, const cJSON *node, void *data) {
  node_changed(node, data);
}
static void enqueue_waiting(const cJSON *node, void *data) {
  node_changed(node, data);
}

/* Its subnet is free again: the Nodes waiting for one try at once. */
static void node_deleted(const cJSON *node, void *data) {
  controller_nodeipam_t *n = data;
  const char *name = json_str(node, "metadata.name");
  if (name)
    cJSON_DeleteItemFromObjectCaseSensitive(n->pending, name);
  client_cache_foreach(client_informer_cache(n->nodes), enqueue_waiting, n);
}

int controller_nodeipam_new(client_t *c, client_informer_t *nodes, struct ev_loop *loop,
                            const char *cluster_cidr, controller_nodeipam_t **ret) {
  char addr[32];
  unsigned bits;
  struct in_addr a;
  if (!cluster_cidr || sscanf(cluster_cidr, "%31[0-9.]/%u", addr, &bits) != 2 || bits < 8 ||
      bits > NODE_MASK || inet_pton(AF_INET, addr, &a) != 1)
    return -EINVAL;
  controller_nodeipam_t *n = xcalloc(1, sizeof(*n));
  n->c = c;
  n->nodes = nodes;
  n->base = ntohl(a.s_addr) & (~0u << (32 - bits));
  n->count = 1u << (NODE_MASK - bits);
  n->pending = cJSON_CreateObject();
  /* One worker: picks are made one at a time against the same cache. */
  controller_opts_t o = {.name = "node-ipam-controller", .workers = 1, .sync = sync_node,
                         .data = n};
  int r = controller_new(loop, &o, &n->ctl);
  if (r < 0) {
    cJSON_Delete(n->pending);
    free(n);
    return r;
  }
  n->rec = controller_recorder_new(c, "node-controller");
  controller_wait_for(n->ctl, nodes);
  client_informer_handlers_t h = {node_changed, node_updated, node_deleted};
  client_informer_add_handlers(nodes, &h, n);
  controller_start(n->ctl);
  *ret = n;
  return 0;
}

void controller_nodeipam_free(controller_nodeipam_t *n) {
  if (!n)
    return;
  client_req_cancel(n->req);
  free(n->req_key);
  controller_free(n->ctl);
  controller_recorder_free(n->rec);
  cJSON_Delete(n->pending);
  free(n);
}
