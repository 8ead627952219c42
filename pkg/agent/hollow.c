/* Hollow nodes (`k3c agent --hollow N`), in the spirit of upstream's
 * kubemark: N Node objects with capacity, addresses, nodeInfo and the
 * kubelet's conditions, a Lease per node renewed in kube-node-lease, and a
 * kubelet's part on the pods bound to them without any container: status
 * from hollow_pod.c, graceful deletion finished with grace period 0.
 * https://kubernetes.io/docs/concepts/architecture/nodes/#node-heartbeats */
#include "agent/hollow.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "agent/hollow_pod.h"
#include "agent/host.h"
#include "agent/node.h"
#include "client/informer.h"
#include "controller/controller.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/strmap.h"

#define POD_WORKERS 32
#define IPS_PER_NODE 253 /* pod addresses .2 .. .254 of the node's /24 */

typedef struct agent_hollow_node node_t;

/* One pod request the agent has in flight, cancelled when it is freed. */
typedef struct op {
  agent_hollow_t *h;
  struct op *prev, *next;
  client_req_t *req;
  char *key; /* the reconciled key */
} op_t;

/* What is hollow-specific about a node; the Node itself, its Lease and its
 * status are agent_node's. */
struct agent_hollow_node {
  agent_hollow_t *h;
  int index;
  char name[256];
  char ip[20];
  agent_node_t *node;
  unsigned next_ip;
};

struct agent_hollow {
  struct ev_loop *loop;
  client_t *c;
  agent_hollow_opts_t o; /* strings owned */
  node_t *nodes;
  strmap_t by_name;
  client_informer_t *pods;
  controller_t *ctl;
  op_t *ops;
};

/* ---- small helpers ---- */

static op_t *op_new(agent_hollow_t *h, const char *key) {
  op_t *op = xcalloc(1, sizeof(*op));
  op->h = h;
  op->key = key ? xstrdup(key) : NULL;
  op->next = h->ops;
  if (op->next)
    op->next->prev = op;
  h->ops = op;
  return op;
}

static void op_free(op_t *op) {
  agent_hollow_t *h = op->h;
  if (op->prev)
    op->prev->next = op->next;
  else
    h->ops = op->next;
  if (op->next)
    op->next->prev = op->prev;
  free(op->key);
  free(op);
}

/* Start req for op, or free op when it could not start. */
static bool op_started(op_t *op, client_req_t *req) {
  if (!req) {
    op_free(op);
    return false;
  }
  op->req = req;
  return true;
}

/* ---- nodes ---- */

static cJSON *node_labels(const node_t *n) {
  cJSON *l = cJSON_CreateObject();
  cJSON_AddStringToObject(l, "beta.kubernetes.io/arch", agent_host_arch());
  cJSON_AddStringToObject(l, "beta.kubernetes.io/os", "linux");
  cJSON_AddStringToObject(l, "kubernetes.io/arch", agent_host_arch());
  cJSON_AddStringToObject(l, "kubernetes.io/hostname", n->name);
  cJSON_AddStringToObject(l, "kubernetes.io/os", "linux");
  cJSON_AddStringToObject(l, "node.k3c.io/hollow", "true");
  return l;
}

static void add_resources(cJSON *obj, const char *name, const agent_hollow_opts_t *o) {
  cJSON *r = cJSON_AddObjectToObject(obj, name);
  char pods[16];
  snprintf(pods, sizeof(pods), "%d", o->pods);
  cJSON_AddStringToObject(r, "cpu", o->cpu);
  cJSON_AddStringToObject(r, "ephemeral-storage", "100Gi");
  cJSON_AddStringToObject(r, "memory", o->memory);
  cJSON_AddStringToObject(r, "pods", pods);
}

/* The status a kubelet posts but for the conditions (agent_node's):
 * capacity, addresses, nodeInfo. */
static cJSON *node_status(const node_t *n) {
  const agent_hollow_t *h = n->h;
  cJSON *st = cJSON_CreateObject();
  add_resources(st, "capacity", &h->o);
  add_resources(st, "allocatable", &h->o);
  cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "type", "InternalIP");
  cJSON_AddStringToObject(a, "address", n->ip);
  cJSON_AddItemToArray(addrs, a);
  a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "type", "Hostname");
  cJSON_AddStringToObject(a, "address", n->name);
  cJSON_AddItemToArray(addrs, a);
  cJSON *de = cJSON_AddObjectToObject(cJSON_AddObjectToObject(st, "daemonEndpoints"),
                                      "kubeletEndpoint");
  cJSON_AddNumberToObject(de, "Port", 10250);
  cJSON *ni = cJSON_AddObjectToObject(st, "nodeInfo");
  char id[64];
  snprintf(id, sizeof(id), "hollow-%08x%024d", 0x6b3c0000u + (unsigned)n->index, n->index);
  cJSON_AddStringToObject(ni, "machineID", id);
  cJSON_AddStringToObject(ni, "systemUUID", id);
  cJSON_AddStringToObject(ni, "bootID", id);
  cJSON_AddStringToObject(ni, "kernelVersion", "hollow");
  cJSON_AddStringToObject(ni, "osImage", "k3c hollow node");
  cJSON_AddStringToObject(ni, "containerRuntimeVersion", "hollow://1.0");
  cJSON_AddStringToObject(ni, "kubeletVersion", h->o.kubelet_version);
  cJSON_AddStringToObject(ni, "kubeProxyVersion", h->o.kubelet_version);
  cJSON_AddStringToObject(ni, "operatingSystem", "linux");
  cJSON_AddStringToObject(ni, "architecture", agent_host_arch());
  return st;
}

static void node_registered(void *data, agent_node_t *an) {
  log_info("hollow", "node %s registered", agent_node_name(an));
}

static void node_warn(void *data, agent_node_t *an, const char *what, int code,
                      const char *message) {
  log_warn("hollow", "node %s: %s: %d %s", agent_node_name(an), what, code, message);
}

/* Start keeping n's Node (Ready from the first post: no runtime to wait for). */
static int node_start(node_t *n) {
  agent_hollow_t *h = n->h;
  cJSON *labels = node_labels(n);
  cJSON *ann = cJSON_CreateObject();
  cJSON_AddStringToObject(ann, "node.alpha.kubernetes.io/ttl", "0");
  cJSON *st = node_status(n);
  agent_node_opts_t o = {.name = n->name, .labels = labels, .annotations = ann, .status = st,
                         .lease_seconds = h->o.lease_seconds,
                         .status_seconds = h->o.status_seconds, .warn = node_warn};
  int r = agent_node_new(h->loop, h->c, &o, node_registered, n, &n->node);
  cJSON_Delete(labels);
  cJSON_Delete(ann);
  cJSON_Delete(st);
  if (r < 0)
    return r;
  agent_node_set_condition(n->node, "Ready", true, "KubeletReady",
                           "kubelet is posting ready status");
  return 0;
}

/* ---- pods ---- */

static node_t *pod_node(agent_hollow_t *h, const cJSON *pod) {
  const char *name = json_str(pod, "spec.nodeName");
  return name && name[0] ? strmap_get(&h->by_name, name) : NULL;
}

static void pod_changed(agent_hollow_t *h, const cJSON *pod) {
  if (pod_node(h, pod))
    controller_enqueue_obj(h->ctl, pod);
}

static void pod_added(const cJSON *pod, void *data) { pod_changed(data, pod); }
static void pod_updated(const cJSON *old, const cJSON *pod, void *data) {
  pod_changed(data, pod);
}

/* A fake address for a new pod: node i's pods live in 10.(64+i/256).(i%256).0/24,
 * skipping addresses its other pods hold. */
static void pod_ip(agent_hollow_t *h, node_t *n, char *out, size_t len) {
  size_t count = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(h->pods), CLIENT_INDEX_NODE, n->name, &count);
  for (unsigned tries = 0; tries < IPS_PER_NODE; tries++) {
    unsigned host = 2 + (n->next_ip++ % IPS_PER_NODE);
    snprintf(out, len, "10.%d.%d.%u", 64 + n->index / 256, n->index % 256, host);
    bool used = false;
    for (size_t i = 0; i < count && !used; i++) {
      const char *ip = json_str(pods[i], "status.podIP");
      used = ip && !strcmp(ip, out);
    }
    if (!used)
      break;
  }
  free(pods);
}

static void pod_done(const client_result_t *res, void *data) {
  op_t *op = data;
  agent_hollow_t *h = op->h;
  char *key = op->key;
  op->key = NULL;
  op_free(op);
  /* 404: gone; 409: changed or replaced meanwhile (its event requeues it) */
  int err = res->code == 200 || res->code == 201 || res->code == 404 || res->code == 409 ? 0
                                                                                         : -EAGAIN;
  if (err)
    log_warn("hollow", "pod %s: %d %s", key, res->code, res->message ? res->message : "");
  controller_done(h->ctl, key, err);
  free(key);
}

static void pod_sync(controller_t *ctl, const char *key, void *data) {
  agent_hollow_t *h = data;
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *pod = client_informer_get(h->pods, ns, name);
  node_t *n = pod ? pod_node(h, pod) : NULL;
  if (!n) {
    controller_done(ctl, key, 0);
    return;
  }
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = ns, .name = name};
  const char *uid = json_str(pod, "metadata.uid");
  if (json_get_path(pod, "metadata.deletionTimestamp")) {
    /* The containers are gone at once: finish the graceful deletion. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "DeleteOptions");
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddNumberToObject(o, "gracePeriodSeconds", 0);
    if (uid)
      cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "preconditions"), "uid", uid);
    op_t *op = op_new(h, key);
    bool ok = op_started(op, client_delete(h->c, &ref, o, pod_done, op));
    cJSON_Delete(o);
    if (!ok)
      controller_done(ctl, key, -EINVAL);
    return;
  }
  const char *phase = json_str(pod, "status.phase");
  if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
    controller_done(ctl, key, 0);
    return;
  }
  char ip[32] = "";
  const char *have = json_str(pod, "status.podIP");
  if (!have || !have[0])
    pod_ip(h, n, ip, sizeof(ip));
  cJSON *st = NULL;
  double wake = -1;
  if (agent_hollow_pod_status(pod, time(NULL), n->ip, ip, &st, &wake) < 0) {
    controller_done(ctl, key, 0);
    return;
  }
  if (wake >= 0)
    controller_enqueue_after(ctl, key, wake + 0.05);
  if (json_equal(st, cJSON_GetObjectItemCaseSensitive(pod, "status"))) {
    cJSON_Delete(st);
    controller_done(ctl, key, 0);
    return;
  }
  /* A merge patch of the status, guarded by the pod's uid so that a pod
   * replaced under the same name is not given this one's status. */
  cJSON *p = cJSON_CreateObject();
  if (uid)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "metadata"), "uid", uid);
  cJSON_AddItemToObject(p, "status", st);
  ref.subresource = "status";
  op_t *op = op_new(h, key);
  bool ok = op_started(op, client_patch(h->c, &ref, CLIENT_PATCH_MERGE, p, NULL, pod_done, op));
  cJSON_Delete(p);
  if (!ok)
    controller_done(ctl, key, -EINVAL);
}

/* ---- lifetime ---- */

int agent_hollow_new(struct ev_loop *loop, client_t *c, const agent_hollow_opts_t *opts,
                     agent_hollow_t **ret_agent) {
  if (opts->nodes <= 0 || !opts->prefix || strlen(opts->prefix) > 200)
    return -EINVAL;
  agent_hollow_t *h = xcalloc(1, sizeof(*h));
  int r = -EINVAL;
  h->loop = loop;
  h->c = c;
  h->o = *opts;
  h->o.prefix = xstrdup(opts->prefix);
  h->o.cpu = xstrdup(opts->cpu ? opts->cpu : "4");
  h->o.memory = xstrdup(opts->memory ? opts->memory : "8Gi");
  h->o.kubelet_version = xstrdup(opts->kubelet_version ? opts->kubelet_version : "");
  if (h->o.pods <= 0)
    h->o.pods = 110;
  if (h->o.lease_seconds <= 0)
    h->o.lease_seconds = 10;
  if (h->o.status_seconds <= 0)
    h->o.status_seconds = 60;
  strmap_init(&h->by_name);
  h->nodes = xcalloc((size_t)opts->nodes, sizeof(*h->nodes));
  for (int i = 0; i < opts->nodes; i++) {
    node_t *n = &h->nodes[i];
    n->h = h;
    n->index = i;
    snprintf(n->name, sizeof(n->name), "%s%d", opts->prefix, i);
    snprintf(n->ip, sizeof(n->ip), "10.244.%d.%d", i / 254, i % 254 + 1);
    if (strmap_put(&h->by_name, n->name, n, NULL) < 0)
      goto fail;
  }
  /* One watch for every node's pods: the bound ones (a single node can
   * ask the server for exactly its own). */
  char fs[300];
  if (opts->nodes == 1)
    snprintf(fs, sizeof(fs), "spec.nodeName=%s", h->nodes[0].name);
  else
    snprintf(fs, sizeof(fs), "spec.nodeName!=");
  client_ref_t pods = {.version = "v1", .resource = "pods"};
  if ((r = client_informer_new(c, &pods, NULL, fs, 0, &h->pods)) < 0)
    goto fail;
  client_informer_add_index(h->pods, CLIENT_INDEX_NODE, client_index_node_name);
  controller_opts_t co = {.name = "hollow-kubelet", .workers = POD_WORKERS, .sync = pod_sync,
                          .data = h};
  if ((r = controller_new(loop, &co, &h->ctl)) < 0)
    goto fail;
  controller_wait_for(h->ctl, h->pods);
  client_informer_handlers_t ph = {pod_added, pod_updated, NULL};
  client_informer_add_handlers(h->pods, &ph, h);
  controller_start(h->ctl);
  client_informer_start(h->pods);
  for (int i = 0; i < opts->nodes; i++)
    if ((r = node_start(&h->nodes[i])) < 0)
      goto fail;
  *ret_agent = h;
  return 0;
fail:
  agent_hollow_free(h);
  return r;
}

void agent_hollow_free(agent_hollow_t *h) {
  if (!h)
    return;
  while (h->ops) {
    client_req_cancel(h->ops->req);
    op_free(h->ops);
  }
  controller_free(h->ctl);
  client_informer_free(h->pods);
  for (int i = 0; h->nodes && i < h->o.nodes; i++)
    agent_node_free(h->nodes[i].node);
  free(h->nodes);
  strmap_done(&h->by_name);
  free((char *)h->o.prefix);
  free((char *)h->o.cpu);
  free((char *)h->o.memory);
  free((char *)h->o.kubelet_version);
  free(h);
}
