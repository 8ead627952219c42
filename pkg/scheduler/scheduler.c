/* The scheduler (scheduler.h): kube-scheduler's default profile in one
 * loop callback. A pending pod runs one cycle: the filters (NodeUnschedulable,
 * NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
 * PodTopologySpread, InterPodAffinity) over every node, the scores
 * (LeastAllocated, BalancedAllocation, NodeAffinity, TaintToleration,
 * PodTopologySpread, InterPodAffinity) over the feasible ones, then an
 * assumed placement and an asynchronous POST pods/NAME/binding. A pod that
 * fits nowhere may preempt lower-priority pods, gets PodScheduled=False and
 * a FailedScheduling event, and waits in the unschedulable set until a
 * node or pod change (after its back-off) or the periodic flush.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/scheduling-framework/
 *
 * Per-node sums (requests, non-zero requests, pods) are kept as pods come
 * and go, so a cycle is O(nodes) for a pod without inter-pod terms. */
#include "scheduler/scheduler.h"

#include "client/informer.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "scheduler/fit.h"
#include "scheduler/resource.h"
#include "scheduler/volumes.h"
#include "util/alloc.h"
#include "util/strmap.h"

#include "json/selector.h"
#include "json/util.h"
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEDULER_NAME "default-scheduler"
#define REASON_MAX 256
#define NODE_REASONS_MAX 8 /* reasons one node can give in one cycle */
#define HIST_MAX 64        /* distinct reasons in one message */
#define PORTS_MAX 32       /* host ports counted per pod */
#define TERMS_MAX 8        /* inter-pod terms / spread constraints per pod */
/* Upstream's defaults for requests a container leaves out, for scoring. */
#define DEFAULT_MILLI_CPU 100
#define DEFAULT_MEMORY (200LL << 20)
#define BACKOFF_INITIAL 1.0
#define BACKOFF_MAX 10.0
#define FLUSH_INTERVAL 60.0
#define CYCLE_BUDGET 0.01 /* seconds of cycles per loop iteration */

#define REASON_PORTS "node(s) didn't have free ports for the requested pod ports"
#define REASON_SPREAD "node(s) didn't match pod topology spread constraints"
#define REASON_SPREAD_LABEL REASON_SPREAD " (missing required label)"
#define REASON_AFFINITY "node(s) didn't match pod affinity rules"
#define REASON_ANTI "node(s) didn't match pod anti-affinity rules"
#define REASON_EXISTING_ANTI "node(s) didn't satisfy existing pods anti-affinity rules"
#define REASON_NOT_HELPFUL "Preemption is not helpful for scheduling"
#define REASON_NO_VICTIMS "No preemption victims found for incoming pod."

typedef struct {
  char ip[48];
  char proto[8];
  int port;
} hport_t;

typedef struct snode snode_t;

/* A pod that counts on a node: bound (seen so by the informer) or assumed
 * (our binding is in flight or not yet seen). */
typedef struct {
  char *key, *ns, *name, *uid;
  char *node_name; /* where it counts */
  snode_t *node;   /* NULL while that node is not known */
  size_t idx;      /* in node->pods */
  /* its requests, compact (a full scheduler_resources_t is 600 bytes) */
  int64_t milli_cpu, memory, ephemeral;
  int nscalar;
  struct spod_scalar {
    char *name;
    int64_t value;
  } * scalars;
  int64_t nz_cpu, nz_mem;
  int32_t priority;
  bool assumed;
  bool anti;       /* has required pod anti-affinity */
  size_t anti_idx; /* in s->anti */
  int nports;
  hport_t *ports;
} spod_t;

struct snode {
  char *name;
  const cJSON *obj; /* borrowed from the node informer, current */
  /* fields of obj the filters read for every pod (node_cache) */
  const cJSON *labels, *taints;
  bool unschedulable, hard_taints, soft_taints;
  scheduler_resources_t alloc, req;
  int64_t nz_cpu, nz_mem;
  spod_t **pods;
  size_t npods, cap;
  size_t idx; /* in s->nodev */
};

typedef struct {
  char *key;
  int attempts;
  double since; /* when it became unschedulable */
  double last;  /* its last attempt */
  bool waiting; /* in the unschedulable set (not queued) */
  /* its requests, for the queueing hint (scalars: looked up again) */
  int64_t milli_cpu, memory, ephemeral;
  bool scalars;
  int32_t priority;
} unsched_t;

typedef struct op op_t;
struct op {
  scheduler_t *s;
  client_req_t *req;
  op_t *prev, *next;
  char *key;
  char *node;
  int kind; /* OP_BIND, OP_STATUS, OP_DELETE */
};
enum { OP_BIND, OP_STATUS, OP_DELETE };

/* A preemptor waiting for its victims to go: its requests are held on
 * the node for pods of lower or equal priority (upstream's nominated
 * pods). */
typedef struct {
  char *key, *node;
  int32_t priority;
  int64_t milli_cpu, memory, ephemeral;
} nomination_t;
#define NOMINATIONS_MAX 1024

typedef struct {
  char *key;
  int32_t priority;
  uint64_t seq;
} active_t;

struct scheduler {
  struct ev_loop *loop;
  client_t *c;
  client_informer_t *pods, *nodes; /* pods may be shared */
  client_informer_t *own_pods;     /* pods when it is not */
  controller_t *ctl;
  controller_recorder_t *rec;
  strmap_t node_map; /* name -> snode_t */
  snode_t **nodev;
  size_t nnodes, node_cap;
  strmap_t pod_map; /* "ns/name" -> spod_t */
  spod_t **anti;
  size_t nanti, anti_cap;
  strmap_t unsched; /* "ns/name" -> unsched_t */
  ev_timer flush;
  op_t *ops;
  nomination_t *noms;
  size_t nnoms, noms_cap;
  struct scored *sc_buf; /* per-node scratch of a cycle */
  struct reasons *rs_buf;
  size_t scratch_cap;
  active_t *active; /* binary heap */
  size_t nactive, active_cap;
  uint64_t active_seq;
  strmap_t active_keys; /* keys in the heap (owned by its entries) */
  ev_check work;        /* runs cycles while the heap has pods */
  ev_idle idle;         /* keeps the loop from blocking meanwhile */
  uint64_t rng;
  scheduler_stats_t stats;
  scheduler_volumes_t *vol; /* NULL: no volume informers given */
  client_informer_t *vol_pvcs, *vol_pvs; /* borrowed, with our handlers on them */
};

/* ---- small helpers ---- */

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *label(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(json_get_path(obj, "metadata.labels"), key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double now_mono(scheduler_t *s) {
  return ev_now(s->loop);
}

static uint64_t rnd(scheduler_t *s) {
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return s->rng;
}

static bool pod_terminal(const cJSON *pod) {
  const char *phase = str(pod, "status.phase");
  return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

static bool pod_ours(const cJSON *pod) {
  const char *sn = str(pod, "spec.schedulerName");
  return !sn || !sn[0] || !strcmp(sn, SCHEDULER_NAME);
}

static const cJSON *pod_obj(scheduler_t *s, const spod_t *p) {
  return client_informer_get(s->pods, p->ns, p->name);
}

/* ---- nodes and their sums ---- */

static void spod_scalars_free(spod_t *p) {
  for (int i = 0; i < p->nscalar; i++)
    free(p->scalars[i].name);
  free(p->scalars);
  p->scalars = NULL;
  p->nscalar = 0;
}

/* p's requests as a scheduler_resources_t (pods = 1). */
static void spod_res(const spod_t *p, scheduler_resources_t *r) {
  memset(r, 0, sizeof(*r));
  r->milli_cpu = p->milli_cpu;
  r->memory = p->memory;
  r->ephemeral = p->ephemeral;
  r->pods = 1;
  for (int i = 0; i < p->nscalar; i++)
    scheduler_resources_add_one(r, p->scalars[i].name, p->scalars[i].value);
}

static void node_attach(snode_t *n, spod_t *p) {
  if (n->npods == n->cap) {
    n->cap = n->cap ? n->cap * 2 : 8;
    n->pods = xrealloc(n->pods, n->cap * sizeof(*n->pods));
  }
  p->node = n;
  p->idx = n->npods;
  n->pods[n->npods++] = p;
  scheduler_resources_t r;
  spod_res(p, &r);
  scheduler_resources_add(&n->req, &r);
  n->nz_cpu += p->nz_cpu;
  n->nz_mem += p->nz_mem;
}

static void node_detach(spod_t *p) {
  snode_t *n = p->node;
  if (!n)
    return;
  n->pods[p->idx] = n->pods[--n->npods];
  n->pods[p->idx]->idx = p->idx;
  scheduler_resources_t r;
  spod_res(p, &r);
  scheduler_resources_sub(&n->req, &r);
  n->nz_cpu -= p->nz_cpu;
  n->nz_mem -= p->nz_mem;
  p->node = NULL;
}

static void node_cache(snode_t *n) {
  n->labels = json_get_path(n->obj, "metadata.labels");
  n->taints = json_get_path(n->obj, "spec.taints");
  n->unschedulable = cJSON_IsTrue(json_get_path(n->obj, "spec.unschedulable"));
  n->hard_taints = n->soft_taints = false;
  const cJSON *t;
  cJSON_ArrayForEach(t, n->taints) {
    const char *e = str(t, "effect");
    if (e && (!strcmp(e, "NoSchedule") || !strcmp(e, "NoExecute")))
      n->hard_taints = true;
    else if (e && !strcmp(e, "PreferNoSchedule"))
      n->soft_taints = true;
  }
}

static snode_t *node_get(scheduler_t *s, const char *name) {
  return name ? strmap_get(&s->node_map, name) : NULL;
}

static void move_unschedulable(scheduler_t *s);
static void move_unschedulable_for(scheduler_t *s, const snode_t *n);
static void move_unschedulable_above(scheduler_t *s, int32_t priority);

static void node_set(scheduler_t *s, const cJSON *obj, bool changed) {
  const char *name = str(obj, "metadata.name");
  if (!name)
    return;
  snode_t *n = node_get(s, name);
  if (!n) {
    n = xcalloc(1, sizeof(*n));
    n->name = xstrdup(name);
    if (strmap_put(&s->node_map, n->name, n, NULL) < 0) {
      free(n->name);
      free(n);
      return;
    }
    if (s->nnodes == s->node_cap) {
      s->node_cap = s->node_cap ? s->node_cap * 2 : 16;
      s->nodev = xrealloc(s->nodev, s->node_cap * sizeof(*s->nodev));
    }
    n->idx = s->nnodes;
    s->nodev[s->nnodes++] = n;
    /* Pods bound to it before it was seen now count. */
    size_t cnt = 0;
    const cJSON **bound =
        client_cache_by_index(client_informer_cache(s->pods), CLIENT_INDEX_NODE, name, &cnt);
    for (size_t i = 0; bound && i < cnt; i++) {
      char key[512];
      if (client_cache_key(bound[i], key, sizeof(key)) < 0)
        continue;
      spod_t *p = strmap_get(&s->pod_map, key);
      if (p && !p->node && p->node_name && !strcmp(p->node_name, name))
        node_attach(n, p);
    }
    free(bound);
    changed = true;
  }
  n->obj = obj;
  node_cache(n);
  scheduler_resources_node(obj, &n->alloc);
  if (changed)
    move_unschedulable_for(s, n);
}

static void node_remove(scheduler_t *s, const char *name) {
  snode_t *n = node_get(s, name);
  if (!n)
    return;
  while (n->npods)
    node_detach(n->pods[n->npods - 1]);
  strmap_del(&s->node_map, n->name);
  s->nodev[n->idx] = s->nodev[--s->nnodes];
  s->nodev[n->idx]->idx = n->idx;
  free(n->pods);
  free(n->name);
  free(n);
}

/* Whether a node change can make a pending pod fit (upstream's
 * queueing hints, coarsely): its labels, taints, unschedulable flag or
 * allocatable changed. Heartbeats (conditions, times) do not count. */
static bool node_changed(const cJSON *old, const cJSON *obj) {
  static const char *const paths[] = {"metadata.labels", "spec.taints", "spec.unschedulable",
                                      "status.allocatable", "status.capacity"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
    if (!json_equal(json_get_path(old, paths[i]), json_get_path(obj, paths[i])))
      return true;
  return false;
}

static void node_added(const cJSON *obj, void *data) {
  node_set(data, obj, true);
}
static void node_updated(const cJSON *old, const cJSON *obj, void *data) {
  node_set(data, obj, node_changed(old, obj));
}
static void node_deleted(const cJSON *obj, void *data) {
  const char *name = str(obj, "metadata.name");
  if (name)
    node_remove(data, name);
}

/* ---- pods that count on nodes ---- */

static int pod_ports(const cJSON *pod, hport_t *out, int max) {
  int n = 0;
  const char *lists[] = {"spec.containers", "spec.initContainers"};
  for (int l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      if (l == 1) {
        const char *rp = str(c, "restartPolicy");
        if (!rp || strcmp(rp, "Always"))
          continue; /* only sidecars keep their ports */
      }
      const cJSON *p;
      cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports")) {
        const cJSON *hp = cJSON_GetObjectItemCaseSensitive(p, "hostPort");
        if (!cJSON_IsNumber(hp) || hp->valueint <= 0 || n >= max)
          continue;
        const char *ip = str(p, "hostIP"), *proto = str(p, "protocol");
        snprintf(out[n].ip, sizeof(out[n].ip), "%s", ip && ip[0] ? ip : "0.0.0.0");
        snprintf(out[n].proto, sizeof(out[n].proto), "%s", proto && proto[0] ? proto : "TCP");
        out[n].port = hp->valueint;
        n++;
      }
    }
  }
  return n;
}

static void pod_nonzero(const cJSON *pod, int64_t *ret_cpu, int64_t *ret_mem) {
  /* Upstream's non-zero requests: each container without a cpu or memory
   * request counts as 100m / 200Mi when scoring. */
  int64_t cpu = 0, mem = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers")) {
    scheduler_resources_t r;
    const cJSON *req = json_get_path(c, "resources.requests");
    scheduler_resources_from_list(req, &r);
    cpu += cJSON_GetObjectItemCaseSensitive(req, "cpu") ? r.milli_cpu : DEFAULT_MILLI_CPU;
    mem += cJSON_GetObjectItemCaseSensitive(req, "memory") ? r.memory : DEFAULT_MEMORY;
  }
  *ret_cpu = cpu;
  *ret_mem = mem;
}

static bool pod_has_anti(const cJSON *pod) {
  return cJSON_GetArraySize(json_get_path(
             pod, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")) >
         0;
}

static void pod_fill(spod_t *p, const cJSON *pod) {
  scheduler_resources_t r;
  scheduler_resources_pod(pod, &r);
  p->milli_cpu = r.milli_cpu;
  p->memory = r.memory;
  p->ephemeral = r.ephemeral;
  for (int i = 0; i < p->nscalar; i++)
    free(p->scalars[i].name);
  free(p->scalars);
  p->scalars = NULL;
  p->nscalar = r.nscalar;
  if (r.nscalar) {
    p->scalars = xcalloc((size_t)r.nscalar, sizeof(*p->scalars));
    for (int i = 0; i < r.nscalar; i++) {
      p->scalars[i].name = xstrdup(r.scalar[i].name);
      p->scalars[i].value = r.scalar[i].value;
    }
  }
  pod_nonzero(pod, &p->nz_cpu, &p->nz_mem);
  p->priority = (int32_t)(cJSON_IsNumber(json_get_path(pod, "spec.priority"))
                              ? json_get_path(pod, "spec.priority")->valuedouble
                              : 0);
  hport_t ports[PORTS_MAX];
  int n = pod_ports(pod, ports, PORTS_MAX);
  free(p->ports);
  p->ports = NULL;
  if (n) {
    p->ports = xmalloc((size_t)n * sizeof(*ports));
    memcpy(p->ports, ports, (size_t)n * sizeof(*ports));
  }
  p->nports = n;
  const char *uid = str(pod, "metadata.uid");
  free(p->uid);
  p->uid = xstrdup(uid ? uid : "");
}

static void anti_set(scheduler_t *s, spod_t *p, bool on) {
  if (on == p->anti)
    return;
  if (on) {
    if (s->nanti == s->anti_cap) {
      s->anti_cap = s->anti_cap ? s->anti_cap * 2 : 16;
      s->anti = xrealloc(s->anti, s->anti_cap * sizeof(*s->anti));
    }
    p->anti_idx = s->nanti;
    s->anti[s->nanti++] = p;
  } else {
    s->anti[p->anti_idx] = s->anti[--s->nanti];
    s->anti[p->anti_idx]->anti_idx = p->anti_idx;
  }
  p->anti = on;
}

static spod_t *spod_get_or_new(scheduler_t *s, const char *key, const char *ns, const char *name) {
  spod_t *p = strmap_get(&s->pod_map, key);
  if (p)
    return p;
  p = xcalloc(1, sizeof(*p));
  p->key = xstrdup(key);
  p->ns = xstrdup(ns ? ns : "");
  p->name = xstrdup(name);
  if (strmap_put(&s->pod_map, p->key, p, NULL) < 0) {
    free(p->key), free(p->ns), free(p->name), free(p);
    return NULL;
  }
  return p;
}

static void spod_free(scheduler_t *s, spod_t *p) {
  node_detach(p);
  anti_set(s, p, false);
  strmap_del(&s->pod_map, p->key);
  spod_scalars_free(p);
  free(p->key), free(p->ns), free(p->name), free(p->uid), free(p->node_name), free(p->ports);
  free(p);
}

/* Count p on node_name (re-reading its requests from pod). */
static void spod_place(scheduler_t *s, spod_t *p, const cJSON *pod, const char *node_name) {
  node_detach(p);
  pod_fill(p, pod);
  free(p->node_name);
  p->node_name = xstrdup(node_name);
  snode_t *n = node_get(s, node_name);
  if (n)
    node_attach(n, p);
  anti_set(s, p, pod_has_anti(pod));
}

/* ---- nominations ---- */

static void unnominate(scheduler_t *s, const char *key) {
  for (size_t i = 0; i < s->nnoms; i++)
    if (!strcmp(s->noms[i].key, key)) {
      free(s->noms[i].key);
      free(s->noms[i].node);
      s->noms[i] = s->noms[--s->nnoms];
      return;
    }
}

static void nominate(scheduler_t *s, const char *key, const char *node, int32_t priority,
                     const scheduler_resources_t *res) {
  unnominate(s, key);
  if (s->nnoms >= NOMINATIONS_MAX)
    return;
  if (s->nnoms == s->noms_cap) {
    s->noms_cap = s->noms_cap ? s->noms_cap * 2 : 8;
    s->noms = xrealloc(s->noms, s->noms_cap * sizeof(*s->noms));
  }
  nomination_t *m = &s->noms[s->nnoms++];
  m->key = xstrdup(key);
  m->node = xstrdup(node);
  m->priority = priority;
  m->milli_cpu = res->milli_cpu;
  m->memory = res->memory;
  m->ephemeral = res->ephemeral;
}

/* ---- the unschedulable set ---- */

static double backoff(int attempts) {
  double b = BACKOFF_INITIAL;
  for (int i = 1; i < attempts && b < BACKOFF_MAX; i++)
    b *= 2;
  return b < BACKOFF_MAX ? b : BACKOFF_MAX;
}

static void unsched_drop(scheduler_t *s, const char *key) {
  unsched_t *u = strmap_del(&s->unsched, key);
  if (u) {
    free(u->key);
    free(u);
  }
}

static void unsched_requeue(scheduler_t *s, unsched_t *u) {
  double due = u->last + backoff(u->attempts) - now_mono(s);
  u->waiting = false;
  if (due > 0)
    controller_enqueue_after(s->ctl, u->key, due);
  else
    controller_enqueue(s->ctl, u->key);
}

/* A change that may make pending pods fit: every unschedulable pod goes
 * back to the queue once its back-off has passed. */
static void move_unschedulable(scheduler_t *s) {
  if (!s->unsched.len)
    return;
  for (size_t i = 0; i < s->unsched._cap; i++) {
    unsched_t *u = s->unsched._slots[i].key ? s->unsched._slots[i].value : NULL;
    if (u && u->waiting)
      unsched_requeue(s, u);
  }
}

/* Upstream's queueing hint for a node change: only the pods that could
 * now go to that node (its own properties and free resources; a
 * necessary condition) are moved, so a burst of node updates does not
 * send every pending pod round again and again, growing its back-off. */
static bool fits_node_alone(const unsched_t *u, const cJSON *pod, const snode_t *n) {
  if (n->alloc.pods < n->req.pods + 1 || u->milli_cpu > n->alloc.milli_cpu - n->req.milli_cpu ||
      u->memory > n->alloc.memory - n->req.memory ||
      u->ephemeral > n->alloc.ephemeral - n->req.ephemeral)
    return false;
  if (!scheduler_fit_node(pod, n->obj, NULL, 0))
    return false;
  if (!u->scalars)
    return true;
  scheduler_resources_t r;
  scheduler_resources_pod(pod, &r);
  for (int i = 0; i < r.nscalar; i++)
    if (r.scalar[i].value > scheduler_resources_get(&n->alloc, r.scalar[i].name) -
                                scheduler_resources_get(&n->req, r.scalar[i].name))
      return false;
  return true;
}

static void move_unschedulable_for(scheduler_t *s, const snode_t *n) {
  if (!s->unsched.len)
    return;
  for (size_t i = 0; i < s->unsched._cap; i++) {
    unsched_t *u = s->unsched._slots[i].key ? s->unsched._slots[i].value : NULL;
    if (!u || !u->waiting)
      continue;
    char ns[256], name[256];
    if (controller_key_split(u->key, ns, sizeof(ns), name, sizeof(name)) < 0)
      continue;
    const cJSON *pod = client_informer_get(s->pods, ns, name);
    if (pod && fits_node_alone(u, pod, n))
      unsched_requeue(s, u);
  }
}

static void move_unschedulable_above(scheduler_t *s, int32_t priority) {
  for (size_t i = 0; i < s->unsched._cap; i++) {
    unsched_t *u = s->unsched._slots[i].key ? s->unsched._slots[i].value : NULL;
    if (u && u->waiting && u->priority > priority)
      unsched_requeue(s, u);
  }
}

static void flush_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  scheduler_t *s = (scheduler_t *)((char *)w - offsetof(scheduler_t, flush));
  double now = now_mono(s);
  for (size_t i = 0; i < s->unsched._cap; i++) {
    unsched_t *u = s->unsched._slots[i].key ? s->unsched._slots[i].value : NULL;
    if (u && u->waiting && now - u->last >= FLUSH_INTERVAL)
      unsched_requeue(s, u);
  }
}

/* ---- pod events ---- */

static void pod_event(scheduler_t *s, const cJSON *pod, bool deleted, bool spec_changed) {
  char key[512];
  if (client_cache_key(pod, key, sizeof(key)) < 0)
    return;
  spod_t *p = strmap_get(&s->pod_map, key);
  const char *node = str(pod, "spec.nodeName");
  bool bound = node && node[0];
  if (deleted || pod_terminal(pod) || (node && node[0]))
    unnominate(s, key);
  if (deleted || pod_terminal(pod)) {
    bool freed = p && p->node;
    if (p)
      spod_free(s, p);
    unsched_drop(s, key);
    if (freed)
      move_unschedulable(s);
    return;
  }
  if (bound) {
    bool is_new = !p || !p->node_name || strcmp(p->node_name, node);
    p = spod_get_or_new(s, key, str(pod, "metadata.namespace"), str(pod, "metadata.name"));
    if (!p)
      return;
    bool confirmed = p->assumed && !is_new;
    if (is_new || !p->assumed)
      spod_place(s, p, pod, node);
    p->assumed = false;
    /* An assumed pod is no preemption victim; once its binding is seen,
     * the pending pods of higher priority may preempt it. */
    if (confirmed && s->unsched.len)
      move_unschedulable_above(s, p->priority);
    unsched_drop(s, key);
    /* A new pod on a node can satisfy pending pods' pod affinity. */
    if (is_new && s->unsched.len)
      move_unschedulable(s);
    return;
  }
  if (p && p->assumed)
    return; /* our binding is in flight */
  if (p)
    spod_free(s, p);
  if (!pod_ours(pod) || json_get_path(pod, "metadata.deletionTimestamp"))
    return;
  unsched_t *u = strmap_get(&s->unsched, key);
  if (u && u->waiting) {
    /* It waits for a cluster change (our own status patch lands here); a
     * change of its own spec (tolerations added) is one. */
    if (spec_changed)
      unsched_requeue(s, u);
    return;
  }
  controller_enqueue(s->ctl, key);
}

static void pod_added(const cJSON *obj, void *data) {
  pod_event(data, obj, false, false);
}
static void pod_updated(const cJSON *old, const cJSON *obj, void *data) {
  pod_event(data, obj, false,
            !json_equal(json_get_path(old, "spec"), json_get_path(obj, "spec")) ||
                !json_equal(json_get_path(old, "metadata.labels"),
                            json_get_path(obj, "metadata.labels")));
}
static void pod_deleted(const cJSON *obj, void *data) {
  pod_event(data, obj, true, false);
}

/* ---- requests in flight ---- */

static op_t *op_new(scheduler_t *s, int kind, const char *key, const char *node) {
  op_t *o = xcalloc(1, sizeof(*o));
  o->s = s;
  o->kind = kind;
  o->key = xstrdup(key);
  o->node = node ? xstrdup(node) : NULL;
  o->next = s->ops;
  if (s->ops)
    s->ops->prev = o;
  s->ops = o;
  return o;
}

static void op_free(op_t *o) {
  scheduler_t *s = o->s;
  if (o->prev)
    o->prev->next = o->next;
  else
    s->ops = o->next;
  if (o->next)
    o->next->prev = o->prev;
  free(o->key);
  free(o->node);
  free(o);
}

static void op_done(const client_result_t *res, void *data) {
  op_t *o = data;
  scheduler_t *s = o->s;
  if (o->kind == OP_BIND) {
    spod_t *p = strmap_get(&s->pod_map, o->key);
    if (res->code == 201 || res->code == 200) {
      s->stats.bound++;
      if (p && p->node_name && !strcmp(p->node_name, o->node)) {
        const cJSON *pod = pod_obj(s, p);
        if (pod)
          controller_recorder_eventf(s->rec, pod, "Normal", "Scheduled",
                                     "Successfully assigned %s to %s", o->key, o->node);
      }
    } else {
      s->stats.bind_errors++;
      /* Forget the assumption; the pod is tried again unless it is gone
       * or bound meanwhile (the informer decides). */
      if (p && p->assumed) {
        spod_free(s, p);
        controller_enqueue_after(s->ctl, o->key, BACKOFF_INITIAL);
      }
    }
  }
  o->req = NULL;
  op_free(o);
}

/* ---- one scheduling cycle ---- */

typedef struct {
  const char *topo_key;
  int64_t max_skew;
  int64_t min_domains;
  bool hard; /* DoNotSchedule */
  label_selector_t *sel;
  bool self_match;
  strmap_t counts; /* topology value -> count (intptr_t) */
  int64_t min_count;
  size_t ndomains;
} spread_t;

typedef struct {
  const char *topo_key;
  int64_t weight;  /* preferred terms; 0 for required */
  strmap_t values; /* topology values with matching pods -> count */
} termset_t;

typedef struct {
  char key[256];
  char value[256];
} pair_t;

typedef struct {
  scheduler_t *s;
  const cJSON *pod;
  const char *key;
  const char *ns;
  scheduler_resources_t res;
  int64_t nz_cpu, nz_mem;
  int32_t priority;
  hport_t ports[PORTS_MAX];
  int nports;
  spread_t spread[TERMS_MAX];
  int nspread;
  termset_t aff[TERMS_MAX], anti[TERMS_MAX], pref[TERMS_MAX];
  int naff, nanti, npref;
  bool aff_any;  /* some pod matches some required affinity term */
  bool aff_self; /* the pod matches all its own required affinity terms */
  /* the pod's fields the node checks read (per pod, not per node) */
  const char *want_node;
  const cJSON *node_selector, *tolerations, *required, *terms, *preferred;
  bool tolerates_unsched;
  pair_t *forbidden; /* existing pods' anti-affinity: (key, value) pairs */
  size_t nforbidden, forbidden_cap;
} cycle_t;

typedef struct reasons {
  int n;
  bool unresolvable;
  char r[NODE_REASONS_MAX][REASON_MAX];
} reasons_t;

static bool fail(reasons_t *rs, bool unresolvable, const char *why) {
  if (rs->n < NODE_REASONS_MAX)
    snprintf(rs->r[rs->n++], REASON_MAX, "%s", why);
  rs->unresolvable = rs->unresolvable || unresolvable;
  return false;
}

/* Does (namespace-wise and by selector) term of a pod in owner_ns match
 * pod? namespaces lists them; an empty namespaceSelector {} means all;
 * otherwise the owner's namespace. sel is the term's parsed selector. */
static bool term_ns_match(const cJSON *term, const char *owner_ns, const cJSON *pod) {
  const char *ns = str(pod, "metadata.namespace");
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(term, "namespaces");
  const cJSON *nss = cJSON_GetObjectItemCaseSensitive(term, "namespaceSelector");
  if (cJSON_GetArraySize(list) > 0) {
    const cJSON *v;
    cJSON_ArrayForEach(v, list) {
      if (cJSON_IsString(v) && ns && !strcmp(v->valuestring, ns))
        return true;
    }
    return false;
  }
  if (cJSON_IsObject(nss) && !nss->child)
    return true;
  return ns && owner_ns && !strcmp(ns, owner_ns);
}

static bool term_match(const cJSON *term, label_selector_t *sel, const char *owner_ns,
                       const cJSON *pod) {
  return sel && term_ns_match(term, owner_ns, pod) &&
         label_selector_match(sel, json_get_path(pod, "metadata.labels"));
}

static label_selector_t *term_selector(const cJSON *term) {
  const cJSON *ls = cJSON_GetObjectItemCaseSensitive(term, "labelSelector");
  label_selector_t *sel = NULL;
  char err[128];
  if (!cJSON_IsObject(ls) || label_selector_from_json(ls, &sel, err, sizeof(err)) < 0)
    return NULL;
  return sel;
}

static void count_add(strmap_t *m, const char *value, intptr_t d) {
  void *old = strmap_get(m, value);
  if (old || strmap_has(m, value))
    strmap_set(m, value, (void *)((intptr_t)old + d));
  else
    strmap_put(m, xstrdup(value), (void *)d, NULL);
}

static intptr_t count_get(const strmap_t *m, const char *value) {
  return value ? (intptr_t)strmap_get(m, value) : 0;
}

static void counts_done(strmap_t *m) {
  for (size_t i = 0; i < m->_cap; i++)
    if (m->_slots[i].key)
      free((char *)m->_slots[i].key);
  strmap_done(m);
}

/* Fill a termset: the topology values of nodes running pods term matches. */
static void termset_fill(cycle_t *cy, termset_t *t, const cJSON *term, bool *ret_any) {
  scheduler_t *s = cy->s;
  strmap_init(&t->values);
  const char *tk = str(term, "topologyKey");
  t->topo_key = tk;
  label_selector_t *sel = term_selector(term);
  if (!sel || !tk)
    goto out;
  for (size_t i = 0; i < s->nnodes; i++) {
    snode_t *n = s->nodev[i];
    const char *v = label(n->obj, tk);
    for (size_t j = 0; j < n->npods; j++) {
      const cJSON *o = pod_obj(s, n->pods[j]);
      if (!o || !term_match(term, sel, cy->ns, o))
        continue;
      if (ret_any)
        *ret_any = true;
      if (v)
        count_add(&t->values, v, 1);
    }
  }
out:
  label_selector_free(sel);
}

static void forbid(cycle_t *cy, const char *k, const char *v) {
  if (cy->nforbidden == cy->forbidden_cap) {
    cy->forbidden_cap = cy->forbidden_cap ? cy->forbidden_cap * 2 : 8;
    cy->forbidden = xrealloc(cy->forbidden, cy->forbidden_cap * sizeof(*cy->forbidden));
  }
  pair_t *p = &cy->forbidden[cy->nforbidden++];
  snprintf(p->key, sizeof(p->key), "%s", k);
  snprintf(p->value, sizeof(p->value), "%s", v);
}

static void cycle_init(cycle_t *cy, scheduler_t *s, const cJSON *pod) {
  memset(cy, 0, sizeof(*cy));
  cy->s = s;
  cy->pod = pod;
  cy->ns = str(pod, "metadata.namespace");
  scheduler_resources_pod(pod, &cy->res);
  pod_nonzero(pod, &cy->nz_cpu, &cy->nz_mem);
  const cJSON *prio = json_get_path(pod, "spec.priority");
  cy->priority = cJSON_IsNumber(prio) ? (int32_t)prio->valuedouble : 0;
  cy->nports = pod_ports(pod, cy->ports, PORTS_MAX);
  cy->want_node = str(pod, "spec.nodeName");
  cy->node_selector = json_get_path(pod, "spec.nodeSelector");
  cy->tolerations = json_get_path(pod, "spec.tolerations");
  const cJSON *na = json_get_path(pod, "spec.affinity.nodeAffinity");
  cy->required =
      cJSON_GetObjectItemCaseSensitive(na, "requiredDuringSchedulingIgnoredDuringExecution");
  if (!cJSON_IsObject(cy->required))
    cy->required = NULL;
  cy->terms = cJSON_GetObjectItemCaseSensitive(cy->required, "nodeSelectorTerms");
  cy->preferred =
      cJSON_GetObjectItemCaseSensitive(na, "preferredDuringSchedulingIgnoredDuringExecution");
  {
    cJSON *ut = cJSON_CreateObject();
    cJSON_AddStringToObject(ut, "key", SCHEDULER_TAINT_UNSCHEDULABLE);
    cJSON_AddStringToObject(ut, "effect", "NoSchedule");
    cy->tolerates_unsched = scheduler_fit_pod_tolerates(pod, ut);
    cJSON_Delete(ut);
  }

  /* Existing pods' required anti-affinity against this pod. */
  for (size_t i = 0; i < s->nanti; i++) {
    spod_t *p = s->anti[i];
    const cJSON *o = p->node ? pod_obj(s, p) : NULL;
    if (!o)
      continue;
    const cJSON *term;
    cJSON_ArrayForEach(term, json_get_path(o, "spec.affinity.podAntiAffinity."
                                              "requiredDuringSchedulingIgnoredDuringExecution")) {
      const char *tk = str(term, "topologyKey");
      const char *v = tk ? label(p->node->obj, tk) : NULL;
      if (!v)
        continue;
      label_selector_t *sel = term_selector(term);
      if (term_match(term, sel, p->ns, pod))
        forbid(cy, tk, v);
      label_selector_free(sel);
    }
  }

  const cJSON *term;
  cy->aff_self = true;
  cJSON_ArrayForEach(term, json_get_path(pod, "spec.affinity.podAffinity."
                                              "requiredDuringSchedulingIgnoredDuringExecution")) {
    if (cy->naff >= TERMS_MAX)
      break;
    termset_fill(cy, &cy->aff[cy->naff++], term, &cy->aff_any);
    label_selector_t *sel = term_selector(term);
    if (!term_match(term, sel, cy->ns, pod))
      cy->aff_self = false;
    label_selector_free(sel);
  }
  cJSON_ArrayForEach(term, json_get_path(pod, "spec.affinity.podAntiAffinity."
                                              "requiredDuringSchedulingIgnoredDuringExecution")) {
    if (cy->nanti >= TERMS_MAX)
      break;
    termset_fill(cy, &cy->anti[cy->nanti++], term, NULL);
  }
  /* Preferred terms score: +weight per matching pod in the topology for
   * affinity, -weight for anti-affinity. */
  const char *pref_paths[] = {
      "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution",
      "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution"};
  for (int k = 0; k < 2; k++) {
    const cJSON *wt;
    cJSON_ArrayForEach(wt, json_get_path(pod, pref_paths[k])) {
      if (cy->npref >= TERMS_MAX)
        break;
      const cJSON *w = cJSON_GetObjectItemCaseSensitive(wt, "weight");
      termset_t *t = &cy->pref[cy->npref++];
      termset_fill(cy, t, cJSON_GetObjectItemCaseSensitive(wt, "podAffinityTerm"), NULL);
      t->weight = (cJSON_IsNumber(w) ? (int64_t)w->valuedouble : 1) * (k ? -1 : 1);
    }
  }

  /* Topology spread: counts of matching pods per domain of the nodes the
   * pod may go to (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore). */
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.topologySpreadConstraints")) {
    if (cy->nspread >= TERMS_MAX)
      break;
    spread_t *sp = &cy->spread[cy->nspread];
    const char *tk = str(c, "topologyKey");
    const char *wu = str(c, "whenUnsatisfiable");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(c, "maxSkew");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(c, "minDomains");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(c, "labelSelector");
    char err[128];
    if (!tk)
      continue;
    sp->sel = NULL;
    if (cJSON_IsObject(ls) && label_selector_from_json(ls, &sp->sel, err, sizeof(err)) < 0)
      continue;
    cy->nspread++;
    sp->topo_key = tk;
    sp->hard = !wu || !strcmp(wu, "DoNotSchedule");
    sp->max_skew = cJSON_IsNumber(ms) ? (int64_t)ms->valuedouble : 1;
    sp->min_domains = cJSON_IsNumber(md) ? (int64_t)md->valuedouble : 1;
    sp->self_match =
        sp->sel && label_selector_match(sp->sel, json_get_path(pod, "metadata.labels"));
    strmap_init(&sp->counts);
    for (size_t i = 0; i < s->nnodes; i++) {
      snode_t *n = s->nodev[i];
      const char *v = label(n->obj, tk);
      if (!v || !scheduler_fit_node_affinity(pod, n->obj, NULL, 0))
        continue;
      count_add(&sp->counts, v, 0);
      for (size_t j = 0; sp->sel && j < n->npods; j++) {
        const cJSON *o = pod_obj(s, n->pods[j]);
        const char *ons = o ? str(o, "metadata.namespace") : NULL;
        if (!o || !ons || !cy->ns || strcmp(ons, cy->ns) ||
            json_get_path(o, "metadata.deletionTimestamp") ||
            !label_selector_match(sp->sel, json_get_path(o, "metadata.labels")))
          continue;
        count_add(&sp->counts, v, 1);
      }
    }
    sp->ndomains = sp->counts.len;
    sp->min_count = INT64_MAX;
    for (size_t i = 0; i < sp->counts._cap; i++)
      if (sp->counts._slots[i].key && (intptr_t)sp->counts._slots[i].value < sp->min_count)
        sp->min_count = (intptr_t)sp->counts._slots[i].value;
    if (sp->min_count == INT64_MAX || (int64_t)sp->ndomains < sp->min_domains)
      sp->min_count = 0;
  }
}

static void cycle_done(cycle_t *cy) {
  for (int i = 0; i < cy->nspread; i++) {
    label_selector_free(cy->spread[i].sel);
    counts_done(&cy->spread[i].counts);
  }
  for (int i = 0; i < cy->naff; i++)
    counts_done(&cy->aff[i].values);
  for (int i = 0; i < cy->nanti; i++)
    counts_done(&cy->anti[i].values);
  for (int i = 0; i < cy->npref; i++)
    counts_done(&cy->pref[i].values);
  free(cy->forbidden);
}

static bool ports_conflict(const hport_t *a, const hport_t *b) {
  if (a->port != b->port || strcmp(a->proto, b->proto))
    return false;
  return !strcmp(a->ip, "0.0.0.0") || !strcmp(b->ip, "0.0.0.0") || !strcmp(a->ip, b->ip);
}

/* skip: a pod not to count (a preemption victim), or NULL. */
static bool fit_ports(const cycle_t *cy, const snode_t *n, spod_t *const *skip, size_t nskip) {
  for (size_t j = 0; j < n->npods; j++) {
    const spod_t *p = n->pods[j];
    bool skipped = false;
    for (size_t k = 0; k < nskip && !skipped; k++)
      skipped = skip[k] == p;
    if (skipped)
      continue;
    for (int a = 0; a < p->nports; a++)
      for (int b = 0; b < cy->nports; b++)
        if (ports_conflict(&p->ports[a], &cy->ports[b]))
          return false;
  }
  return true;
}

/* NodeResourcesFit against req (what the node's pods request) and npods. */
static bool fit_resources(const cycle_t *cy, const snode_t *n, const scheduler_resources_t *req,
                          reasons_t *rs) {
  bool ok = true;
  if (n->alloc.pods < req->pods + 1)
    ok = fail(rs, false, "Too many pods");
  const scheduler_resources_t *pr = &cy->res;
  bool any = pr->milli_cpu || pr->memory || pr->ephemeral;
  for (int i = 0; i < pr->nscalar; i++)
    any = any || pr->scalar[i].value;
  if (!any)
    return ok;
  if (pr->milli_cpu && pr->milli_cpu > n->alloc.milli_cpu - req->milli_cpu)
    ok = fail(rs, false, "Insufficient cpu");
  if (pr->memory && pr->memory > n->alloc.memory - req->memory)
    ok = fail(rs, false, "Insufficient memory");
  if (pr->ephemeral && pr->ephemeral > n->alloc.ephemeral - req->ephemeral)
    ok = fail(rs, false, "Insufficient ephemeral-storage");
  for (int i = 0; i < pr->nscalar; i++) {
    const char *name = pr->scalar[i].name;
    if (!pr->scalar[i].value)
      continue;
    if (pr->scalar[i].value >
        scheduler_resources_get(&n->alloc, name) - scheduler_resources_get(req, name)) {
      char why[REASON_MAX];
      snprintf(why, sizeof(why), "Insufficient %s", name);
      ok = fail(rs, false, why);
    }
  }
  return ok;
}

static bool fit_spread(const cycle_t *cy, const snode_t *n, reasons_t *rs) {
  for (int i = 0; i < cy->nspread; i++) {
    const spread_t *sp = &cy->spread[i];
    if (!sp->hard)
      continue;
    const char *v = label(n->obj, sp->topo_key);
    if (!v)
      return fail(rs, true, REASON_SPREAD_LABEL);
    int64_t skew = (int64_t)count_get(&sp->counts, v) + (sp->self_match ? 1 : 0) - sp->min_count;
    if (skew > sp->max_skew)
      return fail(rs, false, REASON_SPREAD);
  }
  return true;
}

static bool fit_interpod(const cycle_t *cy, const snode_t *n, reasons_t *rs) {
  bool exist = true;
  for (int i = 0; i < cy->naff; i++) {
    const char *v = label(n->obj, cy->aff[i].topo_key ? cy->aff[i].topo_key : "");
    if (!v)
      return fail(rs, true, REASON_AFFINITY);
    if (count_get(&cy->aff[i].values, v) <= 0)
      exist = false;
  }
  if (!exist && (cy->aff_any || !cy->aff_self))
    return fail(rs, true, REASON_AFFINITY);
  for (int i = 0; i < cy->nanti; i++) {
    const char *v = cy->anti[i].topo_key ? label(n->obj, cy->anti[i].topo_key) : NULL;
    if (v && count_get(&cy->anti[i].values, v) > 0)
      return fail(rs, false, REASON_ANTI);
  }
  for (size_t i = 0; i < cy->nforbidden; i++) {
    const char *v = label(n->obj, cy->forbidden[i].key);
    if (v && !strcmp(v, cy->forbidden[i].value))
      return fail(rs, false, REASON_EXISTING_ANTI);
  }
  return true;
}

/* scheduler_fit_node (fit.c) with the pod's and the node's fields looked
 * up once: the same checks, order and reasons. */
static bool fit_node_fast(const cycle_t *cy, const snode_t *n, char *why, size_t len) {
  if (n->unschedulable && !cy->tolerates_unsched) {
    snprintf(why, len, "%s", SCHEDULER_REASON_UNSCHEDULABLE);
    return false;
  }
  if (cy->want_node && cy->want_node[0] && strcmp(cy->want_node, n->name)) {
    snprintf(why, len, "%s", SCHEDULER_REASON_NODE_NAME);
    return false;
  }
  const cJSON *t;
  if (n->hard_taints) {
    cJSON_ArrayForEach(t, n->taints) {
      const char *e = str(t, "effect");
      if (!e || (strcmp(e, "NoSchedule") && strcmp(e, "NoExecute")))
        continue;
      bool ok = false;
      const cJSON *tol;
      cJSON_ArrayForEach(tol, cy->tolerations) {
        if ((ok = scheduler_fit_tolerates(tol, t)))
          break;
      }
      if (!ok) {
        const char *k = str(t, "key"), *v = str(t, "value");
        snprintf(why, len, "node(s) had untolerated taint {%s: %s}", k ? k : "", v ? v : "");
        return false;
      }
    }
  }
  const cJSON *kv;
  cJSON_ArrayForEach(kv, cy->node_selector) {
    const cJSON *have = cJSON_GetObjectItemCaseSensitive(n->labels, kv->string);
    if (!cJSON_IsString(kv) || !cJSON_IsString(have) ||
        strcmp(have->valuestring, kv->valuestring)) {
      snprintf(why, len, "%s", SCHEDULER_REASON_NODE_AFFINITY);
      return false;
    }
  }
  if (cy->required) {
    bool any = false;
    cJSON_ArrayForEach(t, cy->terms) {
      if ((any = scheduler_fit_node_selector_term(t, n->obj)))
        break;
    }
    if (!any) {
      snprintf(why, len, "%s", SCHEDULER_REASON_NODE_AFFINITY);
      return false;
    }
  }
  return true;
}

/* Every filter in upstream's order; a node stops at its first failing
 * plugin (NodeResourcesFit may give several reasons). */
static bool filter(const cycle_t *cy, const snode_t *n, reasons_t *rs) {
  char why[REASON_MAX];
  rs->n = 0;
  rs->unresolvable = false;
  if (!fit_node_fast(cy, n, why, sizeof(why)))
    return fail(rs, true, why);
  if (cy->nports && !fit_ports(cy, n, NULL, 0))
    return fail(rs, false, REASON_PORTS);
  scheduler_resources_t req = n->req;
  const scheduler_t *s = cy->s;
  for (size_t i = 0; i < s->nnoms; i++) {
    const nomination_t *m = &s->noms[i];
    if (m->priority >= cy->priority && !strcmp(m->node, n->name) && strcmp(m->key, cy->key)) {
      req.milli_cpu += m->milli_cpu;
      req.memory += m->memory;
      req.ephemeral += m->ephemeral;
      req.pods++;
    }
  }
  if (!fit_resources(cy, n, &req, rs))
    return false;
  bool vol_unresolvable;
  if (s->vol && scheduler_volumes_wanted(cy->pod) &&
      !scheduler_volumes_filter(s->vol, cy->pod, n->obj, why, sizeof(why), &vol_unresolvable))
    return fail(rs, vol_unresolvable, why);
  if (!fit_spread(cy, n, rs))
    return false;
  return fit_interpod(cy, n, rs);
}

/* ---- scores (0..100 each, weighted as the default profile) ---- */

static int64_t least_allocated(int64_t alloc, int64_t req) {
  if (alloc <= 0 || req > alloc)
    return 0;
  return (alloc - req) * 100 / alloc;
}

static double frac(int64_t req, int64_t alloc) {
  if (alloc <= 0)
    return 1;
  double f = (double)req / (double)alloc;
  return f > 1 ? 1 : f;
}

typedef struct scored {
  snode_t *n;
  int64_t base;     /* LeastAllocated + BalancedAllocation */
  int64_t naff;     /* preferred node affinity raw */
  int64_t taints;   /* untolerated PreferNoSchedule taints */
  double spread;    /* ScheduleAnyway raw (lower is better) */
  int64_t interpod; /* preferred pod (anti-)affinity raw */
  int64_t total;
} scored_t;

static int64_t pref_node_affinity(const cJSON *pod, const cJSON *node) {
  int64_t sum = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(pod, "spec.affinity.nodeAffinity."
                                           "preferredDuringSchedulingIgnoredDuringExecution")) {
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(t, "weight");
    if (scheduler_fit_node_selector_term(cJSON_GetObjectItemCaseSensitive(t, "preference"), node))
      sum += cJSON_IsNumber(w) ? (int64_t)w->valuedouble : 0;
  }
  return sum;
}

static int64_t prefer_taints(const cJSON *pod, const cJSON *node) {
  int64_t n = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(node, "spec.taints")) {
    const char *e = str(t, "effect");
    if (e && !strcmp(e, "PreferNoSchedule") && !scheduler_fit_pod_tolerates(pod, t))
      n++;
  }
  return n;
}

static void score(const cycle_t *cy, scored_t *sc, size_t n) {
  int64_t max_aff = 0, max_taint = 0, min_ip = INT64_MAX, max_ip = INT64_MIN;
  double min_sp = INFINITY, max_sp = -INFINITY;
  bool soft_spread = false;
  for (int i = 0; i < cy->nspread; i++)
    soft_spread = soft_spread || !cy->spread[i].hard;
  for (size_t i = 0; i < n; i++) {
    const snode_t *nd = sc[i].n;
    int64_t cpu = nd->nz_cpu + cy->nz_cpu, mem = nd->nz_mem + cy->nz_mem;
    int64_t la =
        (least_allocated(nd->alloc.milli_cpu, cpu) + least_allocated(nd->alloc.memory, mem)) / 2;
    double fc = frac(nd->req.milli_cpu + cy->res.milli_cpu, nd->alloc.milli_cpu);
    double fm = frac(nd->req.memory + cy->res.memory, nd->alloc.memory);
    int64_t ba = (int64_t)((1.0 - fabs(fc - fm) / 2) * 100);
    sc[i].base = la + ba;
    sc[i].naff = cy->preferred ? pref_node_affinity(cy->pod, nd->obj) : 0;
    sc[i].taints = nd->soft_taints ? prefer_taints(cy->pod, nd->obj) : 0;
    if (sc[i].naff > max_aff)
      max_aff = sc[i].naff;
    if (sc[i].taints > max_taint)
      max_taint = sc[i].taints;
    sc[i].spread = 0;
    for (int k = 0; k < cy->nspread; k++) {
      const spread_t *sp = &cy->spread[k];
      if (sp->hard)
        continue;
      const char *v = label(nd->obj, sp->topo_key);
      sc[i].spread += (double)count_get(&sp->counts, v) * log((double)sp->ndomains + 2);
    }
    if (sc[i].spread < min_sp)
      min_sp = sc[i].spread;
    if (sc[i].spread > max_sp)
      max_sp = sc[i].spread;
    sc[i].interpod = 0;
    for (int k = 0; k < cy->npref; k++) {
      const char *v = cy->pref[k].topo_key ? label(nd->obj, cy->pref[k].topo_key) : NULL;
      sc[i].interpod += cy->pref[k].weight * count_get(&cy->pref[k].values, v);
    }
    if (sc[i].interpod < min_ip)
      min_ip = sc[i].interpod;
    if (sc[i].interpod > max_ip)
      max_ip = sc[i].interpod;
  }
  for (size_t i = 0; i < n; i++) {
    int64_t t = sc[i].base;
    t += 2 * (max_aff ? sc[i].naff * 100 / max_aff : 0);
    t += 3 * (max_taint ? 100 - sc[i].taints * 100 / max_taint : 100);
    if (soft_spread)
      t += 2 * (int64_t)(max_sp > min_sp ? 100 * (max_sp - sc[i].spread) / (max_sp - min_sp) : 100);
    if (cy->npref)
      t += 2 * (max_ip > min_ip ? 100 * (sc[i].interpod - min_ip) / (max_ip - min_ip) : 0);
    sc[i].total = t;
  }
}

/* ---- the FailedScheduling message ---- */

typedef struct {
  char reason[REASON_MAX];
  int count;
} hist_t;

typedef struct {
  hist_t h[HIST_MAX];
  int n;
} histo_t;

static void histo_add(histo_t *h, const char *reason) {
  for (int i = 0; i < h->n; i++)
    if (!strcmp(h->h[i].reason, reason)) {
      h->h[i].count++;
      return;
    }
  if (h->n < HIST_MAX) {
    snprintf(h->h[h->n].reason, REASON_MAX, "%s", reason);
    h->h[h->n++].count = 1;
  }
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "0/N nodes are available: <count reason, ...>." as upstream's FitError:
 * "count reason" strings sorted as strings. */
static void histo_format(const histo_t *h, size_t nodes, char *out, size_t outlen) {
  size_t len = (size_t)snprintf(out, outlen, "0/%zu nodes are available:", nodes);
  char *items[HIST_MAX];
  for (int i = 0; i < h->n; i++)
    items[i] = xasprintf("%d %s", h->h[i].count, h->h[i].reason);
  qsort(items, (size_t)h->n, sizeof(items[0]), cmp_str);
  for (int i = 0; i < h->n; i++) {
    if (len < outlen)
      len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? ", " : " ", items[i]);
    free(items[i]);
  }
  if (len < outlen)
    snprintf(out + len, outlen - len, ".");
}

/* ---- preemption (upstream's DefaultPreemption, simplified) ---- */

typedef struct {
  snode_t *n;
  spod_t **victims;
  size_t nvictims;
  int64_t max_prio, sum_prio;
} candidate_t;

static int cmp_prio_desc(const void *a, const void *b) {
  const spod_t *x = *(spod_t *const *)a, *y = *(spod_t *const *)b;
  return x->priority < y->priority ? 1 : x->priority > y->priority ? -1 : 0;
}

/* Try n: remove every lower-priority pod, check the pod fits, then put
 * back as many as possible, highest priority first. */
static bool select_victims(const cycle_t *cy, snode_t *n, candidate_t *cand, reasons_t *rs) {
  spod_t **pot = xmalloc((n->npods + 1) * sizeof(*pot));
  size_t np = 0;
  for (size_t j = 0; j < n->npods; j++)
    if (n->pods[j]->priority < cy->priority && !n->pods[j]->assumed)
      pot[np++] = n->pods[j];
  rs->n = 0;
  if (!np) {
    free(pot);
    fail(rs, true, REASON_NO_VICTIMS);
    return false;
  }
  scheduler_resources_t req = n->req;
  for (size_t j = 0; j < np; j++) {
    scheduler_resources_t r;
    spod_res(pot[j], &r);
    scheduler_resources_sub(&req, &r);
  }
  if (!fit_resources(cy, n, &req, rs) || (cy->nports && !fit_ports(cy, n, pot, np))) {
    if (!rs->n)
      fail(rs, false, REASON_PORTS);
    free(pot);
    return false;
  }
  qsort(pot, np, sizeof(*pot), cmp_prio_desc);
  size_t nv = 0;
  for (size_t j = 0; j < np; j++) {
    scheduler_resources_t with = req;
    scheduler_resources_t r;
    spod_res(pot[j], &r);
    scheduler_resources_add(&with, &r);
    reasons_t tmp = {0};
    /* The pods kept so far do not conflict (checked with all removed);
     * putting this one back adds only its own ports. */
    bool ports_ok = true;
    for (int a = 0; a < pot[j]->nports && ports_ok; a++)
      for (int b = 0; b < cy->nports && ports_ok; b++)
        ports_ok = !ports_conflict(&pot[j]->ports[a], &cy->ports[b]);
    if (ports_ok && fit_resources(cy, n, &with, &tmp))
      req = with; /* reprieved */
    else
      pot[nv++] = pot[j];
  }
  cand->n = n;
  cand->victims = pot;
  cand->nvictims = nv;
  cand->max_prio = INT64_MIN;
  cand->sum_prio = 0;
  for (size_t j = 0; j < nv; j++) {
    if (pot[j]->priority > cand->max_prio)
      cand->max_prio = pot[j]->priority;
    cand->sum_prio += pot[j]->priority;
  }
  return nv > 0;
}

static bool better(const candidate_t *a, const candidate_t *b) {
  if (a->max_prio != b->max_prio)
    return a->max_prio < b->max_prio;
  if (a->sum_prio != b->sum_prio)
    return a->sum_prio < b->sum_prio;
  return a->nvictims < b->nvictims;
}

static void patch_status(scheduler_t *s, const cJSON *pod, const char *msg, const char *nominated);

static void delete_victim(scheduler_t *s, spod_t *v, const cJSON *preemptor, const char *node) {
  const cJSON *vo = pod_obj(s, v);
  if (vo)
    controller_recorder_eventf(s->rec, vo, "Normal", "Preempted", "Preempted by pod %s on node %s",
                               str(preemptor, "metadata.uid") ? str(preemptor, "metadata.uid") : "",
                               node);
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = v->ns, .name = v->name};
  cJSON *opts = cJSON_CreateObject();
  cJSON_AddStringToObject(opts, "apiVersion", "v1");
  cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
  cJSON *pre = cJSON_AddObjectToObject(opts, "preconditions");
  cJSON_AddStringToObject(pre, "uid", v->uid);
  op_t *o = op_new(s, OP_DELETE, v->key, NULL);
  o->req = client_delete(s->c, &ref, opts, op_done, o);
  cJSON_Delete(opts);
  if (!o->req)
    op_free(o);
  s->stats.victims++;
}

/* PostFilter: returns the message to append ("preemption: ...") or ""
 * when victims were chosen (then *ret_nominated is the node). */
static void preempt(cycle_t *cy, const reasons_t *node_rs, char *msg, size_t msglen,
                    const char **ret_nominated) {
  scheduler_t *s = cy->s;
  *ret_nominated = NULL;
  const char *policy = str(cy->pod, "spec.preemptionPolicy");
  if (policy && !strcmp(policy, "Never")) {
    snprintf(msg, msglen, "preemption: not eligible due to preemptionPolicy=Never.");
    return;
  }
  /* Victims chosen before are still going (graceful deletion): wait for
   * them rather than choose more (upstream's PodEligibleToPreemptOthers). */
  const snode_t *nom = node_get(s, str(cy->pod, "status.nominatedNodeName"));
  for (size_t j = 0; nom && j < nom->npods; j++) {
    const cJSON *o = nom->pods[j]->priority < cy->priority ? pod_obj(s, nom->pods[j]) : NULL;
    if (o && json_get_path(o, "metadata.deletionTimestamp")) {
      snprintf(msg, msglen,
               "preemption: not eligible due to a terminating pod on the nominated node.");
      return;
    }
  }
  histo_t h = {0};
  candidate_t best = {0};
  bool have = false;
  for (size_t i = 0; i < s->nnodes; i++) {
    if (node_rs[i].unresolvable) {
      histo_add(&h, REASON_NOT_HELPFUL);
      continue;
    }
    bool lower = false;
    for (size_t j = 0; j < s->nodev[i]->npods && !lower; j++)
      lower = s->nodev[i]->pods[j]->priority < cy->priority && !s->nodev[i]->pods[j]->assumed;
    if (!lower) {
      histo_add(&h, REASON_NO_VICTIMS);
      continue;
    }
    /* Only resources and ports are re-checked without the victims; a node
     * failing for inter-pod or spread reasons keeps its reason. */
    bool res_only = true;
    for (int k = 0; k < node_rs[i].n; k++)
      if (!strncmp(node_rs[i].r[k], "node(s) didn't match pod", 24) ||
          !strcmp(node_rs[i].r[k], REASON_EXISTING_ANTI))
        res_only = false;
    if (!res_only) {
      for (int k = 0; k < node_rs[i].n; k++)
        histo_add(&h, node_rs[i].r[k]);
      continue;
    }
    candidate_t c = {0};
    reasons_t rs = {0};
    if (!select_victims(cy, s->nodev[i], &c, &rs)) {
      for (int k = 0; k < rs.n; k++)
        histo_add(&h, rs.r[k]);
      free(c.victims);
      continue;
    }
    if (!have || better(&c, &best)) {
      free(best.victims);
      best = c;
      have = true;
    } else {
      free(c.victims);
    }
  }
  if (!have) {
    int l = snprintf(msg, msglen, "preemption: ");
    if (l > 0 && (size_t)l < msglen)
      histo_format(&h, s->nnodes, msg + l, msglen - (size_t)l);
    return;
  }
  msg[0] = 0;
  s->stats.preemptions++;
  for (size_t j = 0; j < best.nvictims; j++)
    delete_victim(s, best.victims[j], cy->pod, best.n->name);
  *ret_nominated = best.n->name;
  nominate(s, cy->key, best.n->name, cy->priority, &cy->res);
  free(best.victims);
}

/* ---- status, binding ---- */

static void patch_status(scheduler_t *s, const cJSON *pod, const char *msg, const char *nominated) {
  const cJSON *cur = NULL, *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "status.conditions")) {
    const char *t = str(c, "type");
    if (t && !strcmp(t, "PodScheduled"))
      cur = c;
  }
  const char *cur_status = str(cur, "status"), *cur_msg = str(cur, "message");
  const char *cur_reason = str(cur, "reason"), *cur_nom = str(pod, "status.nominatedNodeName");
  bool same = cur_status && !strcmp(cur_status, "False") && cur_reason &&
              !strcmp(cur_reason, "Unschedulable") && cur_msg && !strcmp(cur_msg, msg);
  bool nom_same = nominated ? (cur_nom && !strcmp(cur_nom, nominated)) : true;
  if (same && nom_same)
    return;
  cJSON *p = cJSON_CreateObject();
  cJSON *st = cJSON_AddObjectToObject(p, "status");
  cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
  cJSON *cond = cJSON_CreateObject();
  cJSON_AddStringToObject(cond, "type", "PodScheduled");
  cJSON_AddStringToObject(cond, "status", "False");
  cJSON_AddNullToObject(cond, "lastProbeTime");
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
  const char *ltt = str(cur, "lastTransitionTime");
  cJSON_AddStringToObject(cond, "lastTransitionTime",
                          cur_status && !strcmp(cur_status, "False") && ltt ? ltt : now);
  cJSON_AddStringToObject(cond, "reason", "Unschedulable");
  cJSON_AddStringToObject(cond, "message", msg);
  cJSON_AddItemToArray(conds, cond);
  if (nominated)
    cJSON_AddStringToObject(st, "nominatedNodeName", nominated);
  client_ref_t ref = {.version = "v1",
                      .resource = "pods",
                      .ns = str(pod, "metadata.namespace"),
                      .name = str(pod, "metadata.name"),
                      .subresource = "status"};
  op_t *o = op_new(s, OP_STATUS, ref.name ? ref.name : "", NULL);
  o->req = client_patch(s->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, op_done, o);
  if (!o->req)
    op_free(o);
  cJSON_Delete(p);
}

static void bind_pod(scheduler_t *s, const cJSON *pod, const char *key, snode_t *n) {
  spod_t *p = spod_get_or_new(s, key, str(pod, "metadata.namespace"), str(pod, "metadata.name"));
  if (!p)
    return;
  spod_place(s, p, pod, n->name);
  p->assumed = true;
  unnominate(s, key);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "apiVersion", "v1");
  cJSON_AddStringToObject(b, "kind", "Binding");
  cJSON *md = cJSON_AddObjectToObject(b, "metadata");
  cJSON_AddStringToObject(md, "name", p->name);
  cJSON_AddStringToObject(md, "namespace", p->ns);
  if (p->uid[0])
    cJSON_AddStringToObject(md, "uid", p->uid);
  cJSON *target = cJSON_AddObjectToObject(b, "target");
  cJSON_AddStringToObject(target, "kind", "Node");
  cJSON_AddStringToObject(target, "name", n->name);
  client_ref_t ref = {
      .version = "v1", .resource = "pods", .ns = p->ns, .name = p->name, .subresource = "binding"};
  if (s->vol)
    scheduler_volumes_prebind(s->vol, pod, n->name);
  op_t *o = op_new(s, OP_BIND, key, n->name);
  double cpu = cpu_now();
  o->req = client_create(s->c, &ref, b, op_done, o); /* the API handles it in this call */
  s->stats.bind_seconds += cpu_now() - cpu;
  cJSON_Delete(b);
  if (!o->req) {
    op_free(o);
    spod_free(s, p);
  }
}

static void unschedulable(scheduler_t *s, const char *key, const scheduler_resources_t *res,
                          int32_t priority) {
  unsched_t *u = strmap_get(&s->unsched, key);
  double now = now_mono(s);
  if (!u) {
    u = xcalloc(1, sizeof(*u));
    u->key = xstrdup(key);
    u->since = now;
    if (strmap_put(&s->unsched, u->key, u, NULL) < 0) {
      free(u->key);
      free(u);
      return;
    }
  }
  u->attempts++;
  u->last = now;
  u->waiting = true;
  u->milli_cpu = res->milli_cpu;
  u->memory = res->memory;
  u->ephemeral = res->ephemeral;
  u->scalars = res->nscalar > 0;
  u->priority = priority;
}

static void schedule_one(scheduler_t *s, const cJSON *pod, const char *key) {
  s->stats.attempts++;
  /* The informer may replace a cached node without an event (a relist
   * that finds the same resourceVersion): take the current pointers. */
  for (size_t i = 0; i < s->nnodes; i++) {
    const cJSON *o = client_informer_get(s->nodes, NULL, s->nodev[i]->name);
    if (o && o != s->nodev[i]->obj) {
      s->nodev[i]->obj = o;
      node_cache(s->nodev[i]);
    }
  }
  cycle_t cy;
  cycle_init(&cy, s, pod);
  cy.key = key;
  /* per-node scratch, kept between cycles (no allocation per pod) */
  if (s->scratch_cap < s->nnodes + 1) {
    s->scratch_cap = s->nnodes + 1;
    s->sc_buf = xrealloc(s->sc_buf, s->scratch_cap * sizeof(*s->sc_buf));
    s->rs_buf = xrealloc(s->rs_buf, s->scratch_cap * sizeof(*s->rs_buf));
  }
  scored_t *sc = s->sc_buf;
  reasons_t *node_rs = s->rs_buf;
  size_t nfeasible = 0;
  for (size_t i = 0; i < s->nnodes; i++) {
    if (filter(&cy, s->nodev[i], &node_rs[i]))
      sc[nfeasible++].n = s->nodev[i];
  }
  if (nfeasible) {
    score(&cy, sc, nfeasible);
    size_t best = 0, ties = 1;
    for (size_t i = 1; i < nfeasible; i++) {
      if (sc[i].total > sc[best].total) {
        best = i;
        ties = 1;
      } else if (sc[i].total == sc[best].total && rnd(s) % ++ties == 0) {
        best = i;
      }
    }
    unsched_drop(s, key);
    bind_pod(s, pod, key, sc[best].n);
    goto out;
  }
  s->stats.unschedulable++;
  histo_t h = {0};
  for (size_t i = 0; i < s->nnodes; i++)
    for (int k = 0; k < node_rs[i].n; k++)
      histo_add(&h, node_rs[i].r[k]);
  char msg[4096], post[2048] = "";
  if (s->nnodes)
    histo_format(&h, s->nnodes, msg, sizeof(msg));
  else
    snprintf(msg, sizeof(msg), "no nodes available to schedule pods"); /* ErrNoNodesAvailable */
  const char *nominated = NULL;
  if (s->nnodes)
    preempt(&cy, node_rs, post, sizeof(post), &nominated);
  if (post[0]) {
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof(msg) - len, " %s", post);
  }
  controller_recorder_eventf(s->rec, pod, "Warning", "FailedScheduling", "%s", msg);
  patch_status(s, pod, msg, nominated);
  unschedulable(s, key, &cy.res, cy.priority);
out:
  cycle_done(&cy);
}

/* The pod of key if it is still to be scheduled, else NULL. */
static const cJSON *pending_pod(scheduler_t *s, const char *key) {
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0)
    return NULL;
  const cJSON *pod = client_informer_get(s->pods, ns, name);
  spod_t *p = strmap_get(&s->pod_map, key);
  const char *node = str(pod, "spec.nodeName");
  if (!pod || (node && node[0]) || (p && p->assumed) || !pod_ours(pod) || pod_terminal(pod) ||
      json_get_path(pod, "metadata.deletionTimestamp")) {
    if (!pod || (node && node[0]))
      unsched_drop(s, key);
    return NULL;
  }
  return pod;
}

/* ---- the active queue: by priority, then arrival (upstream's PrioritySort) ---- */

static bool heap_less(const active_t *a, const active_t *b) {
  return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static void heap_swap(scheduler_t *s, size_t i, size_t j) {
  active_t t = s->active[i];
  s->active[i] = s->active[j];
  s->active[j] = t;
}

static void active_push(scheduler_t *s, const char *key, int32_t priority) {
  if (strmap_has(&s->active_keys, key))
    return;
  if (s->nactive == s->active_cap) {
    s->active_cap = s->active_cap ? s->active_cap * 2 : 64;
    s->active = xrealloc(s->active, s->active_cap * sizeof(*s->active));
  }
  char *k = xstrdup(key);
  if (strmap_put(&s->active_keys, k, (void *)1, NULL) < 0) {
    free(k);
    return;
  }
  size_t i = s->nactive++;
  s->active[i] = (active_t){.key = k, .priority = priority, .seq = ++s->active_seq};
  while (i > 0 && heap_less(&s->active[i], &s->active[(i - 1) / 2])) {
    heap_swap(s, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  if (!ev_is_active(&s->work)) {
    ev_check_start(s->loop, &s->work);
    ev_idle_start(s->loop, &s->idle);
  }
}

/* Pop the first key (caller frees). */
static char *active_pop(scheduler_t *s) {
  if (!s->nactive)
    return NULL;
  char *k = s->active[0].key;
  strmap_del(&s->active_keys, k);
  s->active[0] = s->active[--s->nactive];
  for (size_t i = 0;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->nactive && heap_less(&s->active[l], &s->active[m]))
      m = l;
    if (r < s->nactive && heap_less(&s->active[r], &s->active[m]))
      m = r;
    if (m == i)
      break;
    heap_swap(s, i, m);
    i = m;
  }
  return k;
}

/* The controller's queue (deduplicated, delayed adds for back-off) feeds
 * the priority heap; cycles run from an idle watcher, highest priority
 * first, a bounded number per loop iteration so requests keep flowing. */
static void cycle_sync(controller_t *ctl, const char *key, void *data) {
  scheduler_t *s = data;
  const cJSON *pod = pending_pod(s, key);
  if (pod) {
    const cJSON *prio = json_get_path(pod, "spec.priority");
    active_push(s, key, cJSON_IsNumber(prio) ? (int32_t)prio->valuedouble : 0);
  }
  controller_done(ctl, key, 0);
}

/* Cycles run from a check watcher (after each poll, so a loop busy with
 * I/O does not starve them as it would an idle watcher), for at most
 * CYCLE_BUDGET seconds per loop iteration; an idle watcher keeps the loop
 * from blocking while pods wait. */
static void work_cb(struct ev_loop *loop, ev_check *w, int revents) {
  scheduler_t *s = (scheduler_t *)((char *)w - offsetof(scheduler_t, work));
  double start = ev_time(), cpu = cpu_now();
  for (int i = 0; s->nactive; i++) {
    if ((i & 15) == 15 && ev_time() - start > CYCLE_BUDGET)
      break;
    char *key = active_pop(s);
    const cJSON *pod = pending_pod(s, key);
    if (pod)
      schedule_one(s, pod, key);
    free(key);
  }
  s->stats.cycle_seconds += cpu_now() - cpu;
  if (!s->nactive) {
    ev_check_stop(loop, w);
    ev_idle_stop(loop, &s->idle);
  }
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {}

/* ---- lifetime ---- */

int scheduler_new(struct ev_loop *loop, client_t *c, client_informer_t *pods, scheduler_t **ret_s) {
  scheduler_t *s = xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->c = c;
  s->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
  strmap_init(&s->node_map);
  strmap_init(&s->pod_map);
  strmap_init(&s->unsched);
  strmap_init(&s->active_keys);
  ev_idle_init(&s->idle, idle_cb);
  ev_check_init(&s->work, work_cb);
  client_ref_t pref = {.version = "v1", .resource = "pods"};
  client_ref_t nref = {.version = "v1", .resource = "nodes"};
  int r;
  s->pods = pods;
  if (!pods) {
    if ((r = client_informer_new(c, &pref, NULL, NULL, 0, &s->own_pods)) < 0)
      goto fail;
    s->pods = s->own_pods;
    client_informer_add_index(s->pods, CLIENT_INDEX_NODE, client_index_node_name);
  }
  if ((r = client_informer_new(c, &nref, NULL, NULL, 0, &s->nodes)) < 0)
    goto fail;
  /* The controller's queue only deduplicates and delays (back-off); its
   * sync moves keys to the priority heap at once. Cycles run one at a time
   * from the idle watcher: a cycle is synchronous CPU work and its binding
   * asynchronous, so each cycle sees the previous one's assumption without
   * waiting for the API. */
  controller_opts_t o = {.name = SCHEDULER_NAME,
                         .workers = 1,
                         .base_delay = BACKOFF_INITIAL,
                         .max_delay = BACKOFF_MAX,
                         .sync = cycle_sync,
                         .data = s};
  if ((r = controller_new(loop, &o, &s->ctl)) < 0)
    goto fail;
  s->rec = controller_recorder_new(c, SCHEDULER_NAME);
  controller_wait_for(s->ctl, s->pods);
  controller_wait_for(s->ctl, s->nodes);
  client_informer_handlers_t nh = {node_added, node_updated, node_deleted};
  client_informer_handlers_t ph = {pod_added, pod_updated, pod_deleted};
  /* Nodes first, so pods bound to known nodes count when they arrive. */
  client_informer_add_handlers(s->nodes, &nh, s);
  client_informer_add_handlers(s->pods, &ph, s);
  controller_start(s->ctl);
  ev_timer_init(&s->flush, flush_cb, FLUSH_INTERVAL, FLUSH_INTERVAL);
  ev_timer_start(loop, &s->flush);
  client_informer_start(s->nodes);
  if (s->own_pods)
    client_informer_start(s->own_pods);
  *ret_s = s;
  return 0;
fail:
  scheduler_free(s);
  return r;
}

/* A claim or volume that appears or changes may let waiting pods fit. */
static void volume_changed(const cJSON *obj, void *data) { move_unschedulable(data); }
static void volume_updated(const cJSON *old, const cJSON *obj, void *data) {
  move_unschedulable(data);
}

void scheduler_set_volumes(scheduler_t *s, client_informer_t *pvcs, client_informer_t *pvs,
                           client_informer_t *classes) {
  if (s->vol)
    return;
  s->vol = scheduler_volumes_new(s->c, pvcs, pvs, classes);
  s->vol_pvcs = pvcs;
  s->vol_pvs = pvs;
  client_informer_handlers_t h = {volume_changed, volume_updated, NULL};
  client_informer_add_handlers(pvcs, &h, s);
  client_informer_add_handlers(pvs, &h, s);
}

void scheduler_free(scheduler_t *s) {
  if (!s)
    return;
  scheduler_volumes_free(s->vol);
  if (s->loop) {
    ev_timer_stop(s->loop, &s->flush);
    ev_idle_stop(s->loop, &s->idle);
    ev_check_stop(s->loop, &s->work);
  }
  while (s->ops) {
    if (s->ops->req)
      client_req_cancel(s->ops->req);
    op_free(s->ops);
  }
  controller_free(s->ctl);
  controller_recorder_free(s->rec);
  /* A shared pod informer outlives this scheduler (one that lost its
   * lease): it must not call us any more. */
  if (s->pods && !s->own_pods)
    client_informer_remove_handlers(s->pods, s);
  if (s->vol_pvcs)
    client_informer_remove_handlers(s->vol_pvcs, s);
  if (s->vol_pvs)
    client_informer_remove_handlers(s->vol_pvs, s);
  client_informer_free(s->own_pods);
  client_informer_free(s->nodes);
  for (size_t i = 0; i < s->pod_map._cap; i++) {
    spod_t *p = s->pod_map._slots[i].key ? s->pod_map._slots[i].value : NULL;
    if (p) {
      spod_scalars_free(p);
      free(p->key), free(p->ns), free(p->name), free(p->uid), free(p->node_name), free(p->ports);
      free(p);
    }
  }
  strmap_done(&s->pod_map);
  for (size_t i = 0; i < s->nnodes; i++) {
    free(s->nodev[i]->pods);
    free(s->nodev[i]->name);
    free(s->nodev[i]);
  }
  free(s->nodev);
  strmap_done(&s->node_map);
  for (size_t i = 0; i < s->unsched._cap; i++) {
    unsched_t *u = s->unsched._slots[i].key ? s->unsched._slots[i].value : NULL;
    if (u) {
      free(u->key);
      free(u);
    }
  }
  strmap_done(&s->unsched);
  free(s->anti);
  for (size_t i = 0; i < s->nnoms; i++) {
    free(s->noms[i].key);
    free(s->noms[i].node);
  }
  free(s->noms);
  for (size_t i = 0; i < s->nactive; i++)
    free(s->active[i].key);
  free(s->active);
  strmap_done(&s->active_keys);
  free(s->sc_buf);
  free(s->rs_buf);
  free(s);
}

void scheduler_stats(const scheduler_t *s, scheduler_stats_t *ret_stats) {
  *ret_stats = s->stats;
}
