/* The kubelet's loop side: pods of this node from an informer, one sync at
 * a time per pod on the worker threads, the results posted back through
 * the API (status, events, the final DELETE of a deleted pod), and two
 * runtime relists on timers: containers every second (a change resyncs
 * their pod, as upstream's PLEG does) and sandboxes every 30 s (those of
 * pods that no longer exist are removed).
 * https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/ */
#include "agent/kubelet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/podsync.h"
#include "agent/prober.h"
#include "agent/pvc.h"
#include "agent/refs.h"
#include "agent/satokens.h"
#include "agent/sampler.h"
#include "agent/workers.h"
#include "client/informer.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "cri/cri.h"
#include "json/util.h"
#include "scheduler/resource.h"
#include "util/alloc.h"
#include "util/log.h"

#define PLEG_SECONDS 1.0
#define GC_SECONDS 30.0
#define RESYNC_SECONDS 60.0 /* every pod is synced at least this often */
#define STATS_SECONDS 10.0  /* resource samples, as cAdvisor housekeeping */

/* A pod sync waiting for its claims and volumes (pvc.h). */
typedef struct pvcwait {
  agent_kubelet_t *k;
  struct pvcwait *prev, *next;
  agent_podsync_t *s;
  agent_pvc_fetch_t *f;
} pvcwait_t;

typedef struct op {
  agent_kubelet_t *k;
  struct op *prev, *next;
  client_req_t *req;
  char *key;
  int err; /* the sync's own result, passed to controller_done */
  double wake;
} op_t;

struct agent_kubelet {
  struct ev_loop *loop;
  client_t *c;
  agent_kubelet_opts_t o;
  char *node_name;
  client_informer_t *pods;
  agent_refs_t *configmaps, *secrets; /* what the pods use, watched one by one */
  agent_satokens_t *tokens;           /* their service-account tokens */
  controller_t *ctl;
  controller_recorder_t *rec;
  agent_workers_t *workers;
  cri_client_t *cri;
  agent_prober_t *prober;
  agent_sampler_t *sampler;
  agent_logrotate_t *logrotate;
  ev_timer pleg, gc;
  bool pleg_busy, gc_busy;
  cJSON *seen;  /* PLEG: "ns/name" -> "id:state,..." of the last relist */
  cJSON *hints; /* uid -> pull back-off hints (podsync.h) */
  cJSON *cleaning; /* uids with a cleanup job in flight */
  cJSON *stopping; /* deleted pods' uids: true while their stops run, false after */
  bool freeing;
  scheduler_resources_t allocatable;
  bool has_allocatable;
  op_t *ops;
  unsigned syncs, running;
  pvcwait_t *pvcwaits;
};

static op_t *op_new(agent_kubelet_t *k, const char *key, int err, double wake) {
  op_t *op = xcalloc(1, sizeof(*op));
  op->k = k;
  op->key = key ? xstrdup(key) : NULL;
  op->err = err;
  op->wake = wake;
  op->next = k->ops;
  if (op->next)
    op->next->prev = op;
  k->ops = op;
  return op;
}

static void op_free(op_t *op) {
  agent_kubelet_t *k = op->k;
  if (op->prev)
    op->prev->next = op->next;
  else
    k->ops = op->next;
  if (op->next)
    op->next->prev = op->prev;
  free(op->key);
  free(op);
}

/* The end of one reconcile of key. */
static void sync_end(agent_kubelet_t *k, const char *key, int err, double wake) {
  if (wake >= 0)
    controller_enqueue_after(k->ctl, key, wake);
  else
    controller_enqueue_after(k->ctl, key, RESYNC_SECONDS);
  controller_done(k->ctl, key, err);
}

static void write_done(const client_result_t *res, void *data) {
  op_t *op = data;
  agent_kubelet_t *k = op->k;
  char *key = op->key;
  int err = op->err;
  double wake = op->wake;
  op->key = NULL;
  op_free(op);
  /* 404: the pod is gone; 409: it changed or was replaced (its event
   * brings it back) */
  if (res->code != 200 && res->code != 201 && res->code != 404 && res->code != 409) {
    /* code 0: no answer (the server is unreachable); the errno says why */
    const char *why = res->message && res->message[0] ? res->message
                      : res->err                      ? strerror(-res->err)
                                                      : "";
    log_warn("kubelet", "pod %s: status update failed: %d %s", key, res->code, why);
    err = err ? err : -EAGAIN;
  }
  sync_end(k, key, err, wake);
  free(key);
}

/* ---- handing pods to the workers ---- */

/* Copies of the objects of names the refs hold; false while one of them has
 * not been listed yet (its first list enqueues the pod again). */
static bool add_refs(agent_refs_t *refs, const char *ns, const cJSON *names, cJSON **ret) {
  *ret = cJSON_CreateObject();
  bool all_synced = true;
  const cJSON *n;
  cJSON_ArrayForEach(n, names) {
    bool synced = false;
    const cJSON *obj = agent_refs_get(refs, ns, n->valuestring, &synced);
    all_synced = all_synced && synced;
    if (obj && !cJSON_GetObjectItemCaseSensitive(*ret, n->valuestring))
      cJSON_AddItemToObject(*ret, n->valuestring, cJSON_Duplicate(obj, 1));
  }
  return all_synced;
}

static void job_done(agent_job_t *job, bool cancelled);

static void submit(agent_kubelet_t *k, agent_podsync_t *s) {
  s->job.run = agent_podsync_run;
  s->job.done = job_done;
  s->node = &k->o.node;
  s->owner = k;
  k->running++;
  agent_workers_submit(k->workers, &s->job);
}

static void pvcwait_unlink(pvcwait_t *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    w->k->pvcwaits = w->next;
  if (w->next)
    w->next->prev = w->prev;
}

/* The claims and volumes arrived: the pod's PVC volumes become their
 * volumes' paths, or the sync reports why they cannot be mounted. */
static void pvc_fetched(cJSON *claims, cJSON *volumes, void *data) {
  pvcwait_t *w = data;
  agent_kubelet_t *k = w->k;
  agent_podsync_t *s = w->s;
  pvcwait_unlink(w);
  free(w);
  char err[1024];
  if (agent_pvc_resolve(s->pod, claims, volumes, err, sizeof(err)) < 0)
    s->mount_err = xstrdup(err);
  cJSON_Delete(claims);
  cJSON_Delete(volumes);
  submit(k, s);
}

/* submit, after the claims' GETs when the pod has PVC volumes. */
static void submit_with_claims(agent_kubelet_t *k, agent_podsync_t *s) {
  if (!agent_pvc_wanted(s->pod)) {
    submit(k, s);
    return;
  }
  pvcwait_t *w = xcalloc(1, sizeof(*w));
  w->k = k;
  w->s = s;
  w->next = k->pvcwaits;
  if (w->next)
    w->next->prev = w;
  k->pvcwaits = w;
  w->f = agent_pvc_fetch_start(k->loop, k->c, s->pod, pvc_fetched, w);
}



/* ---- admission on the node ---- */

static bool terminal(const cJSON *pod) {
  const char *phase = json_str(pod, "status.phase");
  return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

/* A pod the kubelet has started (it set status.startTime) or ended. */
static bool admitted(agent_kubelet_t *k, const cJSON *pod) {
  return !k->has_allocatable || json_str(pod, "status.startTime") || terminal(pod);
}

typedef struct {
  const char *name, *reason;
} resource_name_t;

static const resource_name_t RESOURCES[] = {
    {"cpu", "OutOfcpu"}, {"memory", "OutOfmemory"}, {"ephemeral-storage", "OutOfephemeral-storage"},
    {"pods", "OutOfpods"}};

/* Reject pod when its requests and those of the admitted, running pods
 * exceed allocatable: the pod fails with the kubelet's reason and
 * message. Returns true when it did (the sync ends with the write). */
/* Each host port of pod as "proto/port/ip" (ip "0.0.0.0" when unset). */
static void host_ports(const cJSON *pod, cJSON *out) {
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c, *pt;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(c, "ports")) {
        const cJSON *hp = cJSON_GetObjectItemCaseSensitive(pt, "hostPort");
        if (!cJSON_IsNumber(hp) || hp->valuedouble <= 0)
          continue;
        const char *proto = json_str(pt, "protocol"), *ip = json_str(pt, "hostIP");
        char e[128];
        snprintf(e, sizeof(e), "%s/%d/%s", proto ? proto : "TCP", (int)hp->valuedouble,
                 ip && ip[0] ? ip : "0.0.0.0");
        cJSON_AddItemToArray(out, cJSON_CreateString(e));
      }
    }
  }
}

/* Whether host port entries a and b ("proto/port/ip") collide: same
 * protocol and port, and the same address or either one every address. */
static bool ports_clash(const char *a, const char *b) {
  const char *ia = strrchr(a, '/'), *ib = strrchr(b, '/');
  if (!ia || !ib || ia - a != ib - b || strncmp(a, b, (size_t)(ia - a)))
    return false;
  return !strcmp(ia, ib) || !strcmp(ia, "/0.0.0.0") || !strcmp(ib, "/0.0.0.0");
}

/* Reject pod when it does not fit beside the admitted, running pods:
 * a host port taken (NodePorts) or requests over allocatable (OutOfcpu,
 * ...). The pod fails with the kubelet's reason and message. Returns true
 * when it did (the sync ends with the write). */
static bool reject(agent_kubelet_t *k, const cJSON *pod, const char *key) {
  scheduler_resources_t used, want;
  memset(&used, 0, sizeof(used));
  size_t n = 0;
  const cJSON **pods = client_cache_by_index(client_informer_cache(k->pods), CLIENT_INDEX_NODE,
                                             k->node_name, &n);
  cJSON *taken = cJSON_CreateArray(), *mine_ports = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    if (pods[i] == pod || terminal(pods[i]) || !json_str(pods[i], "status.startTime"))
      continue;
    scheduler_resources_t r;
    scheduler_resources_pod(pods[i], &r);
    scheduler_resources_add(&used, &r);
    host_ports(pods[i], taken);
  }
  free(pods);
  host_ports(pod, mine_ports);
  bool clash = false;
  const cJSON *a, *b;
  cJSON_ArrayForEach(a, mine_ports) {
    cJSON_ArrayForEach(b, taken) clash = clash || ports_clash(a->valuestring, b->valuestring);
  }
  cJSON_Delete(taken);
  cJSON_Delete(mine_ports);
  scheduler_resources_pod(pod, &want);
  const char *reason = NULL;
  int64_t w = 0, u = 0, cap = 0;
  char msg[512];
  if (clash) {
    reason = "NodePorts";
    snprintf(msg, sizeof(msg),
             "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod "
             "ports");
  }
  for (size_t i = 0; i < sizeof(RESOURCES) / sizeof(RESOURCES[0]) && !reason; i++) {
    w = scheduler_resources_get(&want, RESOURCES[i].name);
    u = scheduler_resources_get(&used, RESOURCES[i].name);
    cap = scheduler_resources_get(&k->allocatable, RESOURCES[i].name);
    if (w > 0 && cap > 0 && u + w > cap) {
      reason = RESOURCES[i].reason;
      snprintf(msg, sizeof(msg),
               "Node didn't have enough resource: %s, requested: %lld, used: %lld, capacity: %lld",
               RESOURCES[i].name, (long long)w, (long long)u, (long long)cap);
    }
  }
  if (!reason)
    return false;
  controller_recorder_eventf(k->rec, pod, "Warning", reason, "%s", msg);
  char full[600];
  snprintf(full, sizeof(full), "Pod was rejected: %s", msg);
  const char *uid = json_str(pod, "metadata.uid");
  cJSON *p = cJSON_CreateObject();
  if (uid)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "metadata"), "uid", uid);
  cJSON *st = cJSON_AddObjectToObject(p, "status");
  cJSON_AddStringToObject(st, "phase", "Failed");
  cJSON_AddStringToObject(st, "reason", reason);
  cJSON_AddStringToObject(st, "message", full);
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = json_str(pod, "metadata.namespace"),
                      .name = json_str(pod, "metadata.name"), .subresource = "status"};
  op_t *op = op_new(k, key, 0, -1);
  op->req = client_patch(k->c, &ref, CLIENT_PATCH_MERGE, p, NULL, write_done, op);
  cJSON_Delete(p);
  if (!op->req) {
    op_free(op);
    sync_end(k, key, -EINVAL, -1);
  }
  return true;
}

/* ---- stopping a deleted pod: every container at once ----
 * A stop waits up to the grace period in the runtime, so it is made on
 * the loop's asynchronous client, all of a pod's containers (and all
 * pods) in parallel, not on a worker thread; the sync that follows finds
 * them exited and removes them quickly. */

typedef struct {
  agent_kubelet_t *k;
  char *uid, *key;
  int64_t grace;
  unsigned pending;
} stop_t;

static void stop_end(stop_t *st) {
  agent_kubelet_t *k = st->k;
  if (!k->freeing) {
    cJSON_ReplaceItemInObjectCaseSensitive(k->stopping, st->uid, cJSON_CreateFalse());
    controller_enqueue(k->ctl, st->key);
  }
  free(st->uid);
  free(st->key);
  free(st);
}

static void stop_one_done(void *data, const cri_status_t *status) {
  stop_t *st = data;
  if (--st->pending == 0)
    stop_end(st);
}

static void stop_list_done(void *data, const cri_status_t *status, const cri_container_t *items,
                           size_t n) {
  stop_t *st = data;
  agent_kubelet_t *k = st->k;
  char ns[256], name[256];
  const cJSON *pod = NULL;
  if (!k->freeing && controller_key_split(st->key, ns, sizeof(ns), name, sizeof(name)) == 0)
    pod = client_informer_get(k->pods, ns, name);
  st->pending = 1;
  for (size_t i = 0; status->code == CRI_OK && !k->freeing && i < n; i++) {
    if (items[i].state != CRI_CONTAINER_RUNNING)
      continue;
    if (pod)
      controller_recorder_eventf(k->rec, pod, "Normal", "Killing", "Stopping container %s",
                                 items[i].metadata.name);
    if (cri_stop_container(k->cri, items[i].id, st->grace, stop_one_done, st) == 0)
      st->pending++;
  }
  if (--st->pending == 0)
    stop_end(st);
}

/* Start stopping pod's containers; false when they are stopped already
 * (the sync may go on and remove them). */
static bool stop_pod(agent_kubelet_t *k, const cJSON *pod, const char *key) {
  const char *uid = json_str(pod, "metadata.uid");
  if (!uid)
    return false;
  /* preStop hooks run before the stop, blocking: the worker's sync does
   * that (podsync.c), one of the 4 workers for up to the grace period */
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      if (json_get_path(c, "lifecycle.preStop"))
        return false;
    }
  }
  const cJSON *state = cJSON_GetObjectItemCaseSensitive(k->stopping, uid);
  if (cJSON_IsFalse(state))
    return false;
  if (cJSON_IsTrue(state))
    return true; /* in flight: its end enqueues the pod */
  stop_t *st = xcalloc(1, sizeof(*st));
  st->k = k;
  st->uid = xstrdup(uid);
  st->key = xstrdup(key);
  st->grace = agent_podspec_grace_seconds(pod);
  cri_kv_t sel[2] = {{AGENT_LABEL_MANAGED, "true"}, {AGENT_LABEL_POD_UID, uid}};
  cri_container_filter_t f = {.id = "", .pod_sandbox_id = "", .label_selector = {sel, 2}};
  if (cri_list_containers(k->cri, &f, stop_list_done, st) < 0) {
    free(st->uid);
    free(st->key);
    free(st);
    return false; /* the worker's sync stops them instead */
  }
  cJSON_AddTrueToObject(k->stopping, uid);
  return true;
}

static void pod_sync(controller_t *ctl, const char *key, void *data) {
  agent_kubelet_t *k = data;
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
    controller_done(ctl, key, 0);
    return;
  }
  const cJSON *pod = client_informer_get(k->pods, ns, name);
  const char *node = pod ? json_str(pod, "spec.nodeName") : NULL;
  if (!pod || !node || strcmp(node, k->node_name)) {
    /* Gone or moved: the sandbox sweep removes what it left. */
    agent_refs_drop(k->configmaps, key);
    agent_refs_drop(k->secrets, key);
    agent_satokens_drop(k->tokens, key);
    ev_feed_event(k->loop, &k->gc, EV_TIMER);
    controller_done(ctl, key, 0);
    return;
  }
  if (!admitted(k, pod) && reject(k, pod, key))
    return;
  if (json_get_path(pod, "metadata.deletionTimestamp") && stop_pod(k, pod, key)) {
    controller_done(ctl, key, 0);
    return;
  }
  cJSON *cms = NULL, *secs = NULL, *cm_objs = NULL, *sec_objs = NULL;
  agent_podspec_ref_names(pod, &cms, &secs);
  agent_refs_set(k->configmaps, key, ns, cms);
  agent_refs_set(k->secrets, key, ns, secs);
  bool listed = add_refs(k->configmaps, ns, cms, &cm_objs);
  listed = add_refs(k->secrets, ns, secs, &sec_objs) && listed;
  cJSON_Delete(cms);
  cJSON_Delete(secs);
  if (!listed) { /* a watch's first list enqueues the pod again */
    cJSON_Delete(cm_objs);
    cJSON_Delete(sec_objs);
    controller_done(ctl, key, 0);
    return;
  }
  agent_podsync_t *s = xcalloc(1, sizeof(*s));
  s->kind = AGENT_PODSYNC_SYNC;
  s->pod = cJSON_Duplicate(pod, 1);
  s->configmaps = cm_objs;
  s->secrets = sec_objs;
  char terr[512] = "";
  s->tokens = agent_satokens_for_pod(k->tokens, key, pod, terr, sizeof(terr));
  s->token_err = terr[0] ? xstrdup(terr) : NULL;
  const char *uid = json_str(pod, "metadata.uid");
  const cJSON *h = uid ? cJSON_GetObjectItemCaseSensitive(k->hints, uid) : NULL;
  s->hints = h ? cJSON_Duplicate(h, 1) : NULL;
  s->probes = uid ? agent_prober_results(k->prober, uid) : NULL;
  k->syncs++;
  submit_with_claims(k, s);
}

static void finish_sync(agent_kubelet_t *k, agent_podsync_t *s) {
  const char *ns = json_str(s->pod, "metadata.namespace"), *name = json_str(s->pod, "metadata.name");
  const char *uid = json_str(s->pod, "metadata.uid");
  char key[600];
  snprintf(key, sizeof(key), "%s/%s", ns, name);
  if (uid) {
    cJSON_DeleteItemFromObjectCaseSensitive(k->hints, uid);
    if (s->hints && cJSON_GetArraySize(s->hints) > 0) {
      cJSON_AddItemToObject(k->hints, uid, s->hints);
      s->hints = NULL;
    }
  }
  const cJSON *pod = client_informer_get(k->pods, ns, name);
  const char *cur_uid = pod ? json_str(pod, "metadata.uid") : NULL;
  if (!s->err) {
    /* a hostNetwork pod is probed at the node's address, as upstream */
    const char *ip = s->pod_ip;
    if (!ip[0] && cJSON_IsTrue(json_get_path(s->pod, "spec.hostNetwork")) && k->o.node.host_ip)
      ip = k->o.node.host_ip;
    agent_prober_update(k->prober, s->pod, ip, s->containers, s->n_containers);
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, s->events)
    controller_recorder_eventf(k->rec, s->pod, json_str(e, "type"), json_str(e, "reason"), "%s",
                               json_str(e, "message"));
  if (s->err)
    log_warn("kubelet", "pod %s: %s", key, s->errmsg);
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = ns, .name = name};
  if (s->gone && pod && cur_uid && uid && !strcmp(cur_uid, uid)) {
    /* Its containers are stopped: finish the graceful deletion. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "DeleteOptions");
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddNumberToObject(o, "gracePeriodSeconds", 0);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "preconditions"), "uid", uid);
    op_t *op = op_new(k, key, 0, -1);
    op->req = client_delete(k->c, &ref, o, write_done, op);
    cJSON_Delete(o);
    if (!op->req) {
      op_free(op);
      sync_end(k, key, -EINVAL, -1);
    }
    return;
  }
  if (s->status && pod && cur_uid && uid && !strcmp(cur_uid, uid) &&
      !json_equal(s->status, cJSON_GetObjectItemCaseSensitive(pod, "status"))) {
    /* A merge patch guarded by the uid, so a pod replaced under the same
     * name does not get this one's status. */
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "metadata"), "uid", uid);
    cJSON_AddItemToObject(p, "status", s->status);
    s->status = NULL;
    ref.subresource = "status";
    op_t *op = op_new(k, key, s->err, s->wake);
    op->req = client_patch(k->c, &ref, CLIENT_PATCH_MERGE, p, NULL, write_done, op);
    cJSON_Delete(p);
    if (!op->req) {
      op_free(op);
      sync_end(k, key, -EINVAL, -1);
    }
    return;
  }
  sync_end(k, key, s->err, s->wake);
}

static void job_done(agent_job_t *job, bool cancelled) {
  agent_podsync_t *s = (agent_podsync_t *)job;
  agent_kubelet_t *k = s->owner;
  k->running--;
  if (!cancelled) {
    if (s->kind == AGENT_PODSYNC_SYNC)
      finish_sync(k, s);
    else {
      cJSON_DeleteItemFromObjectCaseSensitive(k->cleaning, s->uid);
      cJSON_DeleteItemFromObjectCaseSensitive(k->hints, s->uid);
      agent_prober_forget(k->prober, s->uid);
      if (s->err)
        log_warn("kubelet", "removing the containers of gone pod %s: %s", s->uid, s->errmsg);
      else
        log_info("kubelet", "removed the containers of gone pod %s", s->uid);
    }
  }
  agent_podsync_free(s);
}

/* ---- informer events ---- */

static bool mine(agent_kubelet_t *k, const cJSON *pod) {
  const char *n = json_str(pod, "spec.nodeName");
  return n && !strcmp(n, k->node_name);
}

static void pod_added(const cJSON *pod, void *data) {
  agent_kubelet_t *k = data;
  if (mine(k, pod))
    controller_enqueue_obj(k->ctl, pod);
}

static void pod_updated(const cJSON *old, const cJSON *pod, void *data) { pod_added(pod, data); }

static void pod_deleted(const cJSON *pod, void *data) {
  agent_kubelet_t *k = data;
  const char *uid = json_str(pod, "metadata.uid");
  const cJSON *state = uid ? cJSON_GetObjectItemCaseSensitive(k->stopping, uid) : NULL;
  if (cJSON_IsFalse(state))
    cJSON_DeleteItemFromObjectCaseSensitive(k->stopping, uid);
  if (uid)
    agent_prober_forget(k->prober, uid);
  ev_feed_event(k->loop, &k->gc, EV_TIMER);
}

static bool terminal(const cJSON *pod);

/* A ConfigMap or Secret changed: resync the running pods of its
 * namespace, which may wait for it or mount it (cheap enough at a node's
 * 110 pods). */
/* An object some pod uses changed (or was first listed): the pods of its
 * namespace that are not done sync again (the ones that do not use it find
 * nothing to do). */
static void ref_changed(const char *ns, const char *name, void *data) {
  agent_kubelet_t *k = data;
  size_t n = 0;
  const cJSON **pods =
      client_cache_by_index(client_informer_cache(k->pods), CLIENT_INDEX_NAMESPACE, ns, &n);
  for (size_t i = 0; i < n; i++)
    if (!terminal(pods[i])) /* waiting for it, or a volume of it to update */
      controller_enqueue_obj(k->ctl, pods[i]);
  free(pods);
}


/* A token arrived or was refreshed: the pod's volume pass writes it. */
static void token_changed(const char *pod_key, void *data) {
  agent_kubelet_t *k = data;
  controller_enqueue(k->ctl, pod_key);
}

/* ---- runtime relists ---- */

static void pleg_cb(void *data, const cri_status_t *st, const cri_container_t *items, size_t n) {
  agent_kubelet_t *k = data;
  k->pleg_busy = false;
  if (st->code != CRI_OK || k->freeing)
    return;
  cJSON *now = cJSON_CreateObject();
  for (size_t i = 0; i < n; i++) {
    const char *ns = cri_map_get(items[i].labels, AGENT_LABEL_POD_NAMESPACE);
    const char *name = cri_map_get(items[i].labels, AGENT_LABEL_POD_NAME);
    if (!ns || !name)
      continue;
    char key[600], item[128];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    snprintf(item, sizeof(item), "%.64s:%d,", items[i].id, (int)items[i].state);
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(now, key);
    if (!cur) {
      cJSON_AddStringToObject(now, key, item);
      continue;
    }
    char *joined = xasprintf("%s%s", cur->valuestring, item);
    cJSON_ReplaceItemInObjectCaseSensitive(now, key, cJSON_CreateString(joined));
    free(joined);
  }
  /* Pods whose containers changed, appeared or vanished. */
  const cJSON *e;
  cJSON_ArrayForEach(e, now) {
    const cJSON *was = cJSON_GetObjectItemCaseSensitive(k->seen, e->string);
    if (!was || strcmp(was->valuestring, e->valuestring))
      controller_enqueue(k->ctl, e->string);
  }
  cJSON_ArrayForEach(e, k->seen)
    if (!cJSON_GetObjectItemCaseSensitive(now, e->string))
      controller_enqueue(k->ctl, e->string);
  cJSON_Delete(k->seen);
  k->seen = now;
}

static void pleg_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_kubelet_t *k = (agent_kubelet_t *)((char *)w - offsetof(agent_kubelet_t, pleg));
  if (k->pleg_busy || !client_informer_synced(k->pods))
    return;
  cri_kv_t sel[1] = {{AGENT_LABEL_MANAGED, "true"}};
  cri_container_filter_t f = {.id = "", .pod_sandbox_id = "", .label_selector = {sel, 1}};
  k->pleg_busy = cri_list_containers(k->cri, &f, pleg_cb, k) == 0;
}

static bool uid_known(agent_kubelet_t *k, const char *ns, const char *name, const char *uid) {
  const cJSON *pod = ns && name ? client_informer_get(k->pods, ns, name) : NULL;
  const char *u = pod ? json_str(pod, "metadata.uid") : NULL;
  return u && uid && !strcmp(u, uid) && mine(k, pod);
}

static void gc_cb(void *data, const cri_status_t *st, const cri_sandbox_t *items, size_t n) {
  agent_kubelet_t *k = data;
  k->gc_busy = false;
  if (st->code != CRI_OK || k->freeing)
    return;
  for (size_t i = 0; i < n; i++) {
    const char *uid = cri_map_get(items[i].labels, AGENT_LABEL_POD_UID);
    const char *ns = cri_map_get(items[i].labels, AGENT_LABEL_POD_NAMESPACE);
    const char *name = cri_map_get(items[i].labels, AGENT_LABEL_POD_NAME);
    if (!uid || uid_known(k, ns, name, uid) || cJSON_GetObjectItemCaseSensitive(k->cleaning, uid))
      continue;
    cJSON_AddTrueToObject(k->cleaning, uid);
    agent_podsync_t *s = xcalloc(1, sizeof(*s));
    s->kind = AGENT_PODSYNC_CLEANUP;
    s->uid = xstrdup(uid);
    submit(k, s);
  }
}

static void gc_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_kubelet_t *k = (agent_kubelet_t *)((char *)w - offsetof(agent_kubelet_t, gc));
  if (k->gc_busy || !client_informer_synced(k->pods))
    return;
  cri_kv_t sel[1] = {{AGENT_LABEL_MANAGED, "true"}};
  cri_sandbox_filter_t f = {.id = "", .label_selector = {sel, 1}};
  k->gc_busy = cri_list_pod_sandbox(k->cri, &f, gc_cb, k) == 0;
}

/* ---- probes ---- */

static void probe_changed(void *data, const char *pod_key) {
  controller_enqueue(((agent_kubelet_t *)data)->ctl, pod_key);
}

static void probe_event(void *data, const char *pod_key, const char *type, const char *reason,
                        const char *message) {
  agent_kubelet_t *k = data;
  char ns[256], name[256];
  if (controller_key_split(pod_key, ns, sizeof(ns), name, sizeof(name)) < 0)
    return;
  const cJSON *pod = client_informer_get(k->pods, ns, name);
  if (pod)
    controller_recorder_eventf(k->rec, pod, type, reason, "%s", message);
}

/* ---- lifetime ---- */

static char *dup_or(const char *s, const char *dflt) { return xstrdup(s ? s : dflt); }

int agent_kubelet_new(struct ev_loop *loop, client_t *c, const agent_kubelet_opts_t *opts,
                      agent_kubelet_t **ret) {
  if (!opts->node.name || !opts->socket_path)
    return -EINVAL;
  agent_kubelet_t *k = xcalloc(1, sizeof(*k));
  int r;
  k->loop = loop;
  k->c = c;
  k->o = *opts;
  k->o.socket_path = xstrdup(opts->socket_path);
  k->node_name = xstrdup(opts->node.name);
  k->o.node.name = k->node_name;
  k->o.node.host_ip = dup_or(opts->node.host_ip, "");
  k->o.node.logs_dir = dup_or(opts->node.logs_dir, "/var/log/pods");
  k->o.node.pods_dir = dup_or(opts->node.pods_dir, "/var/lib/k3c/agent/pods");
  k->o.node.cgroup_root = dup_or(opts->node.cgroup_root, "/");
  k->o.node.cluster_dns = opts->node.cluster_dns ? xstrdup(opts->node.cluster_dns) : NULL;
  k->o.node.kubernetes_service_host =
      opts->node.kubernetes_service_host ? xstrdup(opts->node.kubernetes_service_host) : NULL;
  k->o.node.cluster_domain = dup_or(opts->node.cluster_domain, "cluster.local");
  if (k->o.workers <= 0)
    k->o.workers = 4;
  k->seen = cJSON_CreateObject();
  k->hints = cJSON_CreateObject();
  k->cleaning = cJSON_CreateObject();
  k->stopping = cJSON_CreateObject();
  ev_timer_init(&k->pleg, pleg_tick, PLEG_SECONDS, PLEG_SECONDS);
  ev_timer_init(&k->gc, gc_tick, 2.0, GC_SECONDS);
  agent_prober_cbs_t pcb = {probe_changed, probe_event, k};
  if ((r = cri_client_new(loop, k->o.socket_path, &k->cri)) < 0 ||
      !(k->prober = agent_prober_new(loop, k->cri, &pcb)) ||
      (r = agent_workers_new(loop, k->o.socket_path, k->o.workers, &k->workers)) < 0)
    goto fail;
  char fs[400];
  snprintf(fs, sizeof(fs), "spec.nodeName=%s", k->node_name);
  client_ref_t pods = {.version = "v1", .resource = "pods"};
  if ((r = client_informer_new(c, &pods, NULL, fs, 0, &k->pods)) < 0 ||
      (r = agent_refs_new(c, "configmaps", ref_changed, k, &k->configmaps)) < 0 ||
      (r = agent_refs_new(c, "secrets", ref_changed, k, &k->secrets)) < 0)
    goto fail;
  k->tokens = agent_satokens_new(loop, c, token_changed, k);
  client_informer_add_index(k->pods, CLIENT_INDEX_NAMESPACE, client_index_namespace);
  client_informer_add_index(k->pods, CLIENT_INDEX_NODE, client_index_node_name);
  controller_opts_t co = {.name = "kubelet", .workers = k->o.workers * 2, .sync = pod_sync,
                          .data = k};
  if ((r = controller_new(loop, &co, &k->ctl)) < 0)
    goto fail;
  k->rec = controller_recorder_new(c, "kubelet");
  controller_wait_for(k->ctl, k->pods);
  client_informer_handlers_t ph = {pod_added, pod_updated, pod_deleted};
  client_informer_add_handlers(k->pods, &ph, k);
  controller_start(k->ctl);
  client_informer_start(k->pods);
  ev_timer_start(loop, &k->pleg);
  ev_timer_start(loop, &k->gc);
  k->sampler = agent_sampler_new(loop, k->cri, k->node_name, STATS_SECONDS);
  k->logrotate = agent_logrotate_new(loop, k->cri, k->o.node.logs_dir, &k->o.log_rotate);
  *ret = k;
  return 0;
fail:
  agent_kubelet_free(k);
  return r;
}

void agent_kubelet_free(agent_kubelet_t *k) {
  if (!k)
    return;
  k->freeing = true;
  ev_timer_stop(k->loop, &k->pleg);
  ev_timer_stop(k->loop, &k->gc);
  /* The workers first: their jobs' done callbacks still use the rest. */
  agent_workers_free(k->workers);
  while (k->pvcwaits) {
    pvcwait_t *w = k->pvcwaits;
    pvcwait_unlink(w);
    agent_pvc_fetch_cancel(w->f);
    agent_podsync_free(w->s);
    free(w);
  }
  while (k->ops) {
    client_req_cancel(k->ops->req);
    op_free(k->ops);
  }
  /* The runtime client before what its callbacks use: freeing it may
   * still deliver replies that had arrived (the callbacks see freeing). */
  agent_prober_free(k->prober);
  cri_client_free(k->cri);
  agent_logrotate_free(k->logrotate); /* after the client: its replies may still arrive */
  agent_sampler_free(k->sampler);
  controller_free(k->ctl);
  controller_recorder_free(k->rec);
  client_informer_free(k->pods);
  agent_refs_free(k->configmaps);
  agent_refs_free(k->secrets);
  agent_satokens_free(k->tokens);
  cJSON_Delete(k->seen);
  cJSON_Delete(k->hints);
  cJSON_Delete(k->cleaning);
  cJSON_Delete(k->stopping);
  free((char *)k->o.socket_path);
  free(k->node_name);
  free((char *)k->o.node.host_ip);
  free((char *)k->o.node.logs_dir);
  free((char *)k->o.node.pods_dir);
  free((char *)k->o.node.cgroup_root);
  free((char *)k->o.node.cluster_dns);
  free((char *)k->o.node.kubernetes_service_host);
  free((char *)k->o.node.cluster_domain);
  free(k);
}

void agent_kubelet_runtime_restarted(agent_kubelet_t *k) {
  cri_client_reset(k->cri);
  agent_workers_reset(k->workers);
  /* Every pod: the PLEG's next relist compares against nothing. */
  cJSON_Delete(k->seen);
  k->seen = cJSON_CreateObject();
}

void agent_kubelet_set_allocatable(agent_kubelet_t *k, const cJSON *allocatable) {
  scheduler_resources_from_list(allocatable, &k->allocatable);
  k->has_allocatable = true;
}

void agent_kubelet_stats(const agent_kubelet_t *k, unsigned *ret_syncs, unsigned *ret_running) {
  *ret_syncs = k->syncs;
  *ret_running = k->running;
}

const cJSON *agent_kubelet_pod(const agent_kubelet_t *k, const char *ns, const char *name) {
  return client_informer_get(k->pods, ns, name);
}

cJSON *agent_kubelet_pod_list(const agent_kubelet_t *k) {
  cJSON *list = cJSON_CreateObject();
  cJSON_AddStringToObject(list, "kind", "PodList");
  cJSON_AddStringToObject(list, "apiVersion", "v1");
  cJSON_AddObjectToObject(list, "metadata");
  cJSON *items = cJSON_AddArrayToObject(list, "items");
  size_t n = 0;
  const cJSON **pods = client_cache_by_index(client_informer_cache(k->pods), CLIENT_INDEX_NODE,
                                             k->node_name, &n);
  for (size_t i = 0; i < n; i++)
    cJSON_AddItemToArray(items, cJSON_Duplicate(pods[i], 1));
  free(pods);
  return list;
}

const char *agent_kubelet_logs_dir(const agent_kubelet_t *k) { return k->o.node.logs_dir; }

const agent_stats_t *agent_kubelet_usage(const agent_kubelet_t *k) {
  return k->sampler ? agent_sampler_stats(k->sampler) : NULL;
}

cri_client_t *agent_kubelet_cri(agent_kubelet_t *k) { return k->cri; }
