/* One Node kept by an agent the way a kubelet keeps its own: registration
 * (adopting an existing Node), the node Lease heartbeat, and status posts
 * with the kubelet's four conditions.
 * https://kubernetes.io/docs/concepts/architecture/nodes/#self-registration-of-nodes
 * https://kubernetes.io/docs/concepts/architecture/nodes/#node-heartbeats */
#include "agent/node.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "json/util.h"
#include "util/alloc.h"

enum { COND_MEMORY, COND_DISK, COND_PID, COND_READY, NCONDS };

typedef struct {
  const char *type;
  /* upstream's reasons and messages for False and True */
  const char *reason[2], *message[2];
} cond_kind_t;

static const cond_kind_t kinds[NCONDS] = {
    {"MemoryPressure",
     {"KubeletHasSufficientMemory", "KubeletHasInsufficientMemory"},
     {"kubelet has sufficient memory available", "kubelet has insufficient memory available"}},
    {"DiskPressure",
     {"KubeletHasNoDiskPressure", "KubeletHasDiskPressure"},
     {"kubelet has no disk pressure", "kubelet has disk pressure"}},
    {"PIDPressure",
     {"KubeletHasSufficientPID", "KubeletHasInsufficientPID"},
     {"kubelet has sufficient PID available", "kubelet has insufficient PID available"}},
    {"Ready",
     {"KubeletNotReady", "KubeletReady"},
     {"container runtime status check may not have completed yet",
      "kubelet is posting ready status"}},
};

typedef struct {
  bool status;
  char *reason, *message;
  time_t since; /* lastTransitionTime */
} cond_t;

struct agent_node {
  struct ev_loop *loop;
  client_t *c;
  char *name;
  cJSON *labels, *annotations, *taints, *status;
  agent_node_cb cb;
  agent_node_warn_cb warn;
  void *data;
  char *uid;
  bool registered;
  bool status_again; /* changed while a post was in flight */
  cond_t conds[NCONDS];
  /* at most one request of each kind in flight */
  client_req_t *reg_req, *status_req, *lease_req, *label_req;
  ev_timer lease_timer, status_timer;
  ev_timer reg_timer;  /* a failed registration's retry */
  double reg_backoff;  /* seconds: 0.2 doubling up to the status period, as the kubelet */
};

/* ---- helpers ---- */

static void time_rfc3339(time_t t, char *out, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* metav1.MicroTime: "2006-01-02T15:04:05.000000Z" */
static void now_micro(char *out, size_t len) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, len, "%.19s.%06ldZ", base, (long)tv.tv_usec);
}

static void warn(agent_node_t *n, const char *what, const client_result_t *res) {
  if (!n->warn)
    return;
  const char *msg = res->message && res->message[0] ? res->message
                    : res->err                      ? strerror(-res->err)
                                                    : "";
  n->warn(n->data, n, what, res->code, msg);
}

static void set_uid(agent_node_t *n, const cJSON *obj) {
  const char *uid = json_str(obj, "metadata.uid");
  free(n->uid);
  n->uid = uid ? xstrdup(uid) : NULL;
}

static void post_status(agent_node_t *n);
static void renew_lease(agent_node_t *n);
static void node_register(agent_node_t *n);

/* ---- registration ---- */

static cJSON *node_object(const agent_node_t *n) {
  cJSON *node = cJSON_CreateObject();
  cJSON_AddStringToObject(node, "apiVersion", "v1");
  cJSON_AddStringToObject(node, "kind", "Node");
  cJSON *md = cJSON_AddObjectToObject(node, "metadata");
  cJSON_AddStringToObject(md, "name", n->name);
  cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(n->labels, 1));
  if (n->annotations)
    cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(n->annotations, 1));
  cJSON *spec = cJSON_AddObjectToObject(node, "spec");
  if (n->taints && cJSON_GetArraySize(n->taints) > 0)
    cJSON_AddItemToObject(spec, "taints", cJSON_Duplicate(n->taints, 1));
  return node;
}

static void registered(agent_node_t *n) {
  n->registered = true;
  n->reg_backoff = 0;
  post_status(n);
  renew_lease(n);
  ev_timer_again(n->loop, &n->status_timer);
  ev_timer_again(n->loop, &n->lease_timer);
  if (n->cb)
    n->cb(n->data, n);
}

static void labels_done(const client_result_t *res, void *data) {
  agent_node_t *n = data;
  n->label_req = NULL;
  if (res->code != 200)
    warn(n, "labels", res);
}

/* An adopted Node gets the registration labels it lacks (values it has
 * are left alone, as the kubelet leaves them). */
static void add_missing_labels(agent_node_t *n, const cJSON *node) {
  const cJSON *have = json_get_path(node, "metadata.labels");
  cJSON *add = NULL;
  const cJSON *l;
  cJSON_ArrayForEach(l, n->labels) {
    if (cJSON_IsObject(have) && cJSON_GetObjectItemCaseSensitive(have, l->string))
      continue;
    if (!add)
      add = cJSON_CreateObject();
    cJSON_AddItemToObject(add, l->string, cJSON_Duplicate(l, 1));
  }
  if (!add || n->label_req)
    goto out;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddItemToObject(cJSON_AddObjectToObject(p, "metadata"), "labels", add);
  add = NULL;
  client_ref_t ref = {.version = "v1", .resource = "nodes", .name = n->name};
  n->label_req = client_patch(n->c, &ref, CLIENT_PATCH_MERGE, p, NULL, labels_done, n);
  cJSON_Delete(p);
out:
  cJSON_Delete(add);
}

static void register_done(const client_result_t *res, void *data);

/* Register again after a back-off (the API may not have its RBAC policy
 * yet at a server's start): 0.2 s doubling up to the status period. */
static void retry_register(agent_node_t *n) {
  double max = n->status_timer.repeat;
  n->reg_backoff = n->reg_backoff <= 0 ? 0.2 : n->reg_backoff * 2;
  if (n->reg_backoff > max)
    n->reg_backoff = max;
  ev_timer_stop(n->loop, &n->reg_timer);
  ev_timer_set(&n->reg_timer, n->reg_backoff, 0);
  ev_timer_start(n->loop, &n->reg_timer);
}

static void get_done(const client_result_t *res, void *data) {
  agent_node_t *n = data;
  n->reg_req = NULL;
  if (res->code != 200 || !json_str(res->obj, "metadata.uid")) {
    warn(n, "registering", res);
    retry_register(n);
    return;
  }
  set_uid(n, res->obj);
  add_missing_labels(n, res->obj);
  registered(n);
}

static void register_done(const client_result_t *res, void *data) {
  agent_node_t *n = data;
  n->reg_req = NULL;
  if (res->code == 409) { /* it exists: adopt it */
    client_ref_t ref = {.version = "v1", .resource = "nodes", .name = n->name};
    n->reg_req = client_get(n->c, &ref, NULL, get_done, n);
    return;
  }
  if (res->code != 201 && res->code != 200) {
    warn(n, "registering", res);
    retry_register(n);
    return;
  }
  set_uid(n, res->obj);
  registered(n);
}

static void node_register(agent_node_t *n) {
  if (n->reg_req)
    return;
  cJSON *node = node_object(n);
  client_ref_t ref = {.version = "v1", .resource = "nodes"};
  n->reg_req = client_create(n->c, &ref, node, register_done, n);
  cJSON_Delete(node);
}

/* ---- status ---- */

static void add_condition(cJSON *conds, const cond_t *c, const char *type, const char *beat) {
  char since[32];
  time_rfc3339(c->since, since, sizeof(since));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", type);
  cJSON_AddStringToObject(o, "status", c->status ? "True" : "False");
  cJSON_AddStringToObject(o, "lastHeartbeatTime", beat);
  cJSON_AddStringToObject(o, "lastTransitionTime", since);
  cJSON_AddStringToObject(o, "reason", c->reason);
  cJSON_AddStringToObject(o, "message", c->message);
  cJSON_AddItemToArray(conds, o);
}

/* The strategic-merge patch a kubelet posts: the status with its
 * conditions, each with a fresh heartbeat. */
static cJSON *status_patch(const agent_node_t *n) {
  char beat[32];
  time_rfc3339(time(NULL), beat, sizeof(beat));
  cJSON *p = cJSON_CreateObject();
  cJSON *st = n->status ? cJSON_Duplicate(n->status, 1) : cJSON_CreateObject();
  cJSON_AddItemToObject(p, "status", st);
  cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
  for (int i = 0; i < NCONDS; i++)
    add_condition(conds, &n->conds[i], kinds[i].type, beat);
  return p;
}

static void status_done(const client_result_t *res, void *data) {
  agent_node_t *n = data;
  n->status_req = NULL;
  if (res->code == 404) { /* deleted: register again, as a kubelet does */
    n->registered = false;
    n->status_again = false;
    free(n->uid);
    n->uid = NULL;
    node_register(n);
    return;
  }
  if (res->code != 200)
    warn(n, "status", res);
  if (n->status_again)
    post_status(n);
}

static void post_status(agent_node_t *n) {
  if (!n->registered)
    return;
  if (n->status_req) {
    n->status_again = true;
    return;
  }
  n->status_again = false;
  cJSON *p = status_patch(n);
  client_ref_t ref = {.version = "v1", .resource = "nodes", .name = n->name,
                      .subresource = "status"};
  n->status_req = client_patch(n->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, status_done, n);
  cJSON_Delete(p);
}

/* ---- lease ---- */

static cJSON *lease_object(const agent_node_t *n, bool full) {
  cJSON *l = cJSON_CreateObject();
  char now[40];
  now_micro(now, sizeof(now));
  if (full) {
    cJSON_AddStringToObject(l, "apiVersion", "coordination.k8s.io/v1");
    cJSON_AddStringToObject(l, "kind", "Lease");
    cJSON *md = cJSON_AddObjectToObject(l, "metadata");
    cJSON_AddStringToObject(md, "name", n->name);
    cJSON_AddStringToObject(md, "namespace", "kube-node-lease");
    if (n->uid) {
      cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "apiVersion", "v1");
      cJSON_AddStringToObject(r, "kind", "Node");
      cJSON_AddStringToObject(r, "name", n->name);
      cJSON_AddStringToObject(r, "uid", n->uid);
      cJSON_AddItemToArray(refs, r);
    }
  }
  cJSON *spec = cJSON_AddObjectToObject(l, "spec");
  cJSON_AddStringToObject(spec, "holderIdentity", n->name);
  cJSON_AddNumberToObject(spec, "leaseDurationSeconds", AGENT_NODE_LEASE_DURATION);
  cJSON_AddStringToObject(spec, "renewTime", now);
  return l;
}

static void lease_create_done(const client_result_t *res, void *data) {
  agent_node_t *n = data;
  n->lease_req = NULL;
  if (res->code != 200 && res->code != 201)
    warn(n, "lease", res);
}

static void lease_done(const client_result_t *res, void *data) {
  agent_node_t *n = data;
  n->lease_req = NULL;
  if (res->code == 404) {
    cJSON *l = lease_object(n, true);
    client_ref_t ref = {.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                        .ns = "kube-node-lease"};
    n->lease_req = client_create(n->c, &ref, l, lease_create_done, n);
    cJSON_Delete(l);
    return;
  }
  if (res->code != 200)
    warn(n, "lease", res);
}

static void renew_lease(agent_node_t *n) {
  if (n->lease_req)
    return;
  cJSON *l = lease_object(n, false);
  client_ref_t ref = {.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                      .ns = "kube-node-lease", .name = n->name};
  n->lease_req = client_patch(n->c, &ref, CLIENT_PATCH_MERGE, l, NULL, lease_done, n);
  cJSON_Delete(l);
}

/* ---- timers ---- */

static void lease_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_node_t *n = (agent_node_t *)(void *)((char *)w - offsetof(agent_node_t, lease_timer));
  (void)loop;
  (void)revents;
  if (n->registered)
    renew_lease(n);
}

static void reg_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_node_t *n = (agent_node_t *)(void *)((char *)w - offsetof(agent_node_t, reg_timer));
  (void)loop;
  (void)revents;
  if (!n->registered)
    node_register(n);
}

static void status_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_node_t *n = (agent_node_t *)(void *)((char *)w - offsetof(agent_node_t, status_timer));
  (void)loop;
  (void)revents;
  if (n->registered)
    post_status(n);
  else
    node_register(n);
}

/* ---- public ---- */

static void cond_set(cond_t *c, bool status, const char *reason, const char *message) {
  char *r = xstrdup(reason ? reason : ""), *m = xstrdup(message ? message : "");
  free(c->reason);
  free(c->message);
  c->status = status;
  c->reason = r;
  c->message = m;
}

int agent_node_new(struct ev_loop *loop, client_t *c, const agent_node_opts_t *o,
                   agent_node_cb cb, void *data, agent_node_t **ret) {
  if (!o || !o->name || !o->name[0] || !cJSON_IsObject(o->labels) ||
      (o->annotations && !cJSON_IsObject(o->annotations)) ||
      (o->taints && !cJSON_IsArray(o->taints)))
    return -EINVAL;
  agent_node_t *n = xcalloc(1, sizeof(*n));
  n->loop = loop;
  n->c = c;
  n->name = xstrdup(o->name);
  n->labels = cJSON_Duplicate(o->labels, 1);
  n->annotations = o->annotations ? cJSON_Duplicate(o->annotations, 1) : NULL;
  n->taints = o->taints ? cJSON_Duplicate(o->taints, 1) : NULL;
  n->status = o->status ? cJSON_Duplicate(o->status, 1) : cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(n->status, "conditions");
  n->cb = cb;
  n->warn = o->warn;
  n->data = data;
  time_t now = time(NULL);
  for (int i = 0; i < NCONDS; i++) {
    cond_set(&n->conds[i], false, kinds[i].reason[0], kinds[i].message[0]);
    n->conds[i].since = now;
  }
  ev_init(&n->lease_timer, lease_tick);
  n->lease_timer.repeat = o->lease_seconds > 0 ? o->lease_seconds : 10;
  ev_init(&n->status_timer, status_tick);
  n->status_timer.repeat = o->status_seconds > 0 ? o->status_seconds : 10;
  ev_init(&n->reg_timer, reg_tick);
  node_register(n);
  *ret = n;
  return 0;
}

void agent_node_free(agent_node_t *n) {
  if (!n)
    return;
  client_req_t *reqs[] = {n->reg_req, n->status_req, n->lease_req, n->label_req};
  for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
    if (reqs[i])
      client_req_cancel(reqs[i]);
  ev_timer_stop(n->loop, &n->lease_timer);
  ev_timer_stop(n->loop, &n->status_timer);
  ev_timer_stop(n->loop, &n->reg_timer);
  for (int i = 0; i < NCONDS; i++) {
    free(n->conds[i].reason);
    free(n->conds[i].message);
  }
  cJSON_Delete(n->labels);
  cJSON_Delete(n->annotations);
  cJSON_Delete(n->taints);
  cJSON_Delete(n->status);
  free(n->uid);
  free(n->name);
  free(n);
}

void agent_node_set_status(agent_node_t *n, const cJSON *status) {
  cJSON *st = status ? cJSON_Duplicate(status, 1) : cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
  if (json_equal(st, n->status)) {
    cJSON_Delete(st);
    return;
  }
  cJSON_Delete(n->status);
  n->status = st;
  post_status(n);
}

void agent_node_set_condition(agent_node_t *n, const char *type, bool status,
                              const char *reason, const char *message) {
  int i = 0;
  while (i < NCONDS && (!type || strcmp(kinds[i].type, type)))
    i++;
  if (i == NCONDS)
    return;
  cond_t *c = &n->conds[i];
  if (!reason)
    reason = kinds[i].reason[status];
  if (!message)
    message = reason == kinds[i].reason[status] ? kinds[i].message[status] : "";
  bool changed = c->status != status || strcmp(c->reason, reason);
  bool moved = c->status != status;
  bool text = strcmp(c->message, message) != 0;
  if (!changed && !text)
    return;
  cond_set(c, status, reason, message);
  if (moved)
    c->since = time(NULL);
  if (changed)
    post_status(n);
}

const char *agent_node_name(const agent_node_t *n) { return n->name; }

const char *agent_node_uid(const agent_node_t *n) { return n->registered ? n->uid : NULL; }

bool agent_node_registered(const agent_node_t *n) { return n->registered; }
