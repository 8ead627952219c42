/* The kubelet's status of a pod from its containers' runtime state:
 * upstream's phase rules (getPhase), the four pod conditions and the
 * container statuses kubectl shows.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ */
#include "agent/podstatus.h"

#include <stdio.h>
#include <string.h>

#include "agent/podspec.h"
#include "json/util.h"

#define BACKOFF_INITIAL 10
#define BACKOFF_MAX 300
#define BACKOFF_RESET_NS (600LL * 1000000000LL)

void agent_podstatus_time(int64_t ns, char *out, size_t len) {
  time_t t = (time_t)(ns / 1000000000LL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void time_now(time_t t, char *out, size_t len) { agent_podstatus_time((int64_t)t * 1000000000LL, out, len); }

const agent_rt_container_t *agent_podstatus_latest(const agent_podstatus_in_t *in,
                                                   const char *name, bool init) {
  const agent_rt_container_t *best = NULL;
  for (size_t i = 0; i < in->n; i++) {
    const agent_rt_container_t *c = &in->containers[i];
    if (c->init != init || strcmp(c->name, name))
      continue;
    if (!best || c->attempt > best->attempt ||
        (c->attempt == best->attempt && c->created_at > best->created_at))
      best = c;
  }
  return best;
}

/* The newest instance older than latest (its lastState). */
static const agent_rt_container_t *previous(const agent_podstatus_in_t *in,
                                            const agent_rt_container_t *latest) {
  const agent_rt_container_t *best = NULL;
  for (size_t i = 0; latest && i < in->n; i++) {
    const agent_rt_container_t *c = &in->containers[i];
    if (c == latest || c->init != latest->init || strcmp(c->name, latest->name) ||
        c->attempt >= latest->attempt)
      continue;
    if (!best || c->attempt > best->attempt)
      best = c;
  }
  return best;
}

int64_t agent_podstatus_backoff(const agent_rt_container_t *c) {
  if (c->attempt == 0)
    return 0;
  if (c->started_at && c->finished_at - c->started_at >= BACKOFF_RESET_NS)
    return 0;
  int64_t d = BACKOFF_INITIAL;
  for (uint32_t i = 1; i < c->attempt && d < BACKOFF_MAX; i++)
    d *= 2;
  return d > BACKOFF_MAX ? BACKOFF_MAX : d;
}

static bool exited(const agent_rt_container_t *c) {
  return c && (c->state == CRI_CONTAINER_EXITED || c->state == CRI_CONTAINER_UNKNOWN);
}

static const char *restart_policy(const cJSON *pod) {
  const char *p = json_str(pod, "spec.restartPolicy");
  return p ? p : "Always";
}

/* Whether an exited app container will be started again. */
static bool will_restart(const cJSON *pod, const agent_rt_container_t *c) {
  const char *p = restart_policy(pod);
  if (!strcmp(p, "Always"))
    return true;
  if (!strcmp(p, "OnFailure"))
    return c->exit_code != 0;
  return false;
}

static const cJSON *waiting_of(const agent_podstatus_in_t *in, const char *name) {
  return in->waiting ? cJSON_GetObjectItemCaseSensitive(in->waiting, name) : NULL;
}

/* Every init container finished with 0 (the pod's init phase is over). */
static bool initialized(const cJSON *pod, const agent_podstatus_in_t *in, bool *ret_failed) {
  const cJSON *ic;
  bool done = true;
  *ret_failed = false;
  cJSON_ArrayForEach(ic, json_get_path(pod, "spec.initContainers")) {
    const char *name = json_str(ic, "name");
    const agent_rt_container_t *l = name ? agent_podstatus_latest(in, name, true) : NULL;
    if (exited(l) && l->exit_code == 0)
      continue;
    if (exited(l) && !strcmp(restart_policy(pod), "Never"))
      *ret_failed = true;
    done = false;
    break;
  }
  return done;
}

bool agent_podstatus_terminal(const cJSON *pod, const agent_podstatus_in_t *in) {
  bool failed;
  if (!initialized(pod, in, &failed))
    return failed;
  const cJSON *c;
  int n = 0;
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers")) {
    const char *name = json_str(c, "name");
    const agent_rt_container_t *l = name ? agent_podstatus_latest(in, name, false) : NULL;
    if (!exited(l) || will_restart(pod, l))
      return false;
    n++;
  }
  return n > 0;
}

static cJSON *terminated(const agent_rt_container_t *c) {
  cJSON *t = cJSON_CreateObject();
  char ts[40];
  cJSON_AddNumberToObject(t, "exitCode", c->exit_code);
  const char *reason = c->reason[0] ? c->reason : c->exit_code == 0 ? "Completed" : "Error";
  cJSON_AddStringToObject(t, "reason", reason);
  if (c->message[0])
    cJSON_AddStringToObject(t, "message", c->message);
  if (c->started_at) {
    agent_podstatus_time(c->started_at, ts, sizeof(ts));
    cJSON_AddStringToObject(t, "startedAt", ts);
  }
  if (c->finished_at) {
    agent_podstatus_time(c->finished_at, ts, sizeof(ts));
    cJSON_AddStringToObject(t, "finishedAt", ts);
  }
  char id[AGENT_RT_ID_MAX + 16];
  snprintf(id, sizeof(id), "containerd://%s", c->id);
  cJSON_AddStringToObject(t, "containerID", id);
  return t;
}

static cJSON *waiting(const char *reason, const char *message) {
  cJSON *w = cJSON_CreateObject();
  cJSON_AddStringToObject(w, "reason", reason);
  if (message && message[0])
    cJSON_AddStringToObject(w, "message", message);
  return w;
}

/* One containerStatuses entry; *ret_ready says whether it counts ready. */
static cJSON *container_status(const cJSON *spec, const agent_podstatus_in_t *in, bool init,
                               const char *pending_reason, bool *ret_ready) {
  const char *name = json_str(spec, "name");
  const agent_rt_container_t *l = agent_podstatus_latest(in, name, init);
  const cJSON *w = waiting_of(in, name);
  cJSON *cs = cJSON_CreateObject();
  cJSON_AddStringToObject(cs, "name", name);
  cJSON *state = cJSON_AddObjectToObject(cs, "state");
  cJSON *last = cJSON_AddObjectToObject(cs, "lastState");
  bool ready = false, started = false;
  const agent_rt_container_t *prev = previous(in, l);
  char ts[40];
  if (w) {
    cJSON_AddItemToObject(state, "waiting", waiting(json_str(w, "reason"), json_str(w, "message")));
    if (exited(l))
      prev = l;
  } else if (l && l->state == CRI_CONTAINER_RUNNING) {
    cJSON *r = cJSON_AddObjectToObject(state, "running");
    agent_podstatus_time(l->started_at ? l->started_at : l->created_at, ts, sizeof(ts));
    cJSON_AddStringToObject(r, "startedAt", ts);
    ready = !init;
    started = true;
    const cJSON *pr = in->probes ? cJSON_GetObjectItemCaseSensitive(in->probes, l->id) : NULL;
    if (!init && (pr || cJSON_GetObjectItemCaseSensitive(spec, "readinessProbe")))
      ready = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pr, "ready"));
    if (pr || cJSON_GetObjectItemCaseSensitive(spec, "startupProbe"))
      started = pr ? cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pr, "started")) : false;
    if (!started)
      ready = false;
  } else if (exited(l)) {
    cJSON_AddItemToObject(state, "terminated", terminated(l));
    ready = init && l->exit_code == 0;
  } else {
    cJSON_AddItemToObject(state, "waiting", waiting(pending_reason, NULL));
  }
  if (exited(prev))
    cJSON_AddItemToObject(last, "terminated", terminated(prev));
  cJSON_AddBoolToObject(cs, "ready", ready);
  cJSON_AddNumberToObject(cs, "restartCount", l ? l->attempt : 0);
  const char *image = json_str(spec, "image");
  cJSON_AddStringToObject(cs, "image", image ? image : "");
  cJSON_AddStringToObject(cs, "imageID", l ? l->image_ref : "");
  if (l) {
    char id[AGENT_RT_ID_MAX + 16];
    snprintf(id, sizeof(id), "containerd://%s", l->id);
    cJSON_AddStringToObject(cs, "containerID", id);
  }
  cJSON_AddBoolToObject(cs, "started", started);
  *ret_ready = ready;
  return cs;
}

/* Upstream's getPhase over the app containers' statuses. */
static const char *phase(const cJSON *pod, const agent_podstatus_in_t *in) {
  bool init_failed;
  if (!initialized(pod, in, &init_failed))
    return init_failed ? "Failed" : "Pending";
  int running = 0, waitingn = 0, stopped = 0, succeeded = 0, total = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers")) {
    const char *name = json_str(c, "name");
    const agent_rt_container_t *l = agent_podstatus_latest(in, name, false);
    total++;
    if (waiting_of(in, name) || !l || l->state == CRI_CONTAINER_CREATED) {
      if (exited(l) || previous(in, l))
        stopped++; /* waiting to restart after a termination */
      else
        waitingn++;
    } else if (l->state == CRI_CONTAINER_RUNNING) {
      running++;
    } else {
      stopped++;
      if (l->exit_code == 0)
        succeeded++;
    }
  }
  if (waitingn > 0)
    return "Pending";
  if (running > 0)
    return "Running";
  if (stopped > 0 && stopped == total) {
    const char *p = restart_policy(pod);
    if (!strcmp(p, "Always"))
      return "Running";
    if (stopped == succeeded)
      return "Succeeded";
    if (!strcmp(p, "Never"))
      return "Failed";
    return "Running";
  }
  return "Pending";
}

/* Set condition type, keeping lastTransitionTime when status is unchanged. */
static void condition(cJSON *conds, const cJSON *old_conds, const char *type, bool status,
                      const char *reason, const char *message, const char *now) {
  const char *since = now;
  const cJSON *o;
  cJSON_ArrayForEach(o, old_conds) {
    const char *t = json_str(o, "type"), *s = json_str(o, "status"), *lt = json_str(o, "lastTransitionTime");
    if (t && !strcmp(t, type) && s && !strcmp(s, status ? "True" : "False") && lt)
      since = lt;
  }
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "type", type);
  cJSON_AddStringToObject(c, "status", status ? "True" : "False");
  cJSON_AddNullToObject(c, "lastProbeTime");
  cJSON_AddStringToObject(c, "lastTransitionTime", since);
  if (reason)
    cJSON_AddStringToObject(c, "reason", reason);
  if (message)
    cJSON_AddStringToObject(c, "message", message);
  cJSON_AddItemToArray(conds, c);
}

/* "containers with unready status: [a b]" */
static void names_message(char *out, size_t len, const char *what, const cJSON *names) {
  size_t o = (size_t)snprintf(out, len, "containers with %s status: [", what);
  const cJSON *n;
  bool first = true;
  cJSON_ArrayForEach(n, names) {
    if (o < len)
      o += (size_t)snprintf(out + o, len - o, "%s%s", first ? "" : " ", n->valuestring);
    first = false;
  }
  if (o < len)
    snprintf(out + o, len - o, "]");
}

static void add_ips(cJSON *st, const char *key, const char *list_key, const char *ip) {
  cJSON_DeleteItemFromObjectCaseSensitive(st, key);
  cJSON_DeleteItemFromObjectCaseSensitive(st, list_key);
  if (!ip || !ip[0])
    return;
  cJSON_AddStringToObject(st, key, ip);
  cJSON *a = cJSON_AddArrayToObject(st, list_key);
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "ip", ip);
  cJSON_AddItemToArray(a, e);
}

cJSON *agent_podstatus_build(const cJSON *pod, const agent_podstatus_in_t *in) {
  const cJSON *old = cJSON_GetObjectItemCaseSensitive(pod, "status");
  cJSON *st = cJSON_IsObject(old) ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();
  char now[40];
  time_now(in->now, now, sizeof(now));
  bool init_failed;
  bool init_done = initialized(pod, in, &init_failed);
  const char *ph = phase(pod, in);
  /* Upstream never moves a pod out of a terminal phase (its containers may
   * be gone since). */
  const char *old_ph = json_str(old, "phase");
  if (old_ph && (!strcmp(old_ph, "Succeeded") || !strcmp(old_ph, "Failed")))
    ph = !strcmp(old_ph, "Succeeded") ? "Succeeded" : "Failed";
  cJSON_DeleteItemFromObjectCaseSensitive(st, "phase");
  cJSON_AddStringToObject(st, "phase", ph);

  cJSON *unready = cJSON_CreateArray(), *uninit = cJSON_CreateArray();
  const cJSON *c;
  if (cJSON_GetArraySize(json_get_path(pod, "spec.initContainers")) > 0) {
    cJSON *ics = cJSON_CreateArray();
    cJSON_ArrayForEach(c, json_get_path(pod, "spec.initContainers")) {
      bool ready;
      cJSON_AddItemToArray(ics, container_status(c, in, true, "PodInitializing", &ready));
      if (!ready)
        cJSON_AddItemToArray(uninit, cJSON_CreateString(json_str(c, "name")));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "initContainerStatuses");
    cJSON_AddItemToObject(st, "initContainerStatuses", ics);
  }
  /* Upstream's default waiting reason: PodInitializing in any pod with init
   * containers (also once they are done), else ContainerCreating. */
  bool has_init = cJSON_GetArraySize(json_get_path(pod, "spec.initContainers")) > 0;
  bool app_started = false; /* a container ran: the pod was initialized */
  cJSON *cs = cJSON_CreateArray();
  cJSON_ArrayForEach(c, json_get_path(pod, "spec.containers")) {
    bool ready;
    cJSON_AddItemToArray(
        cs, container_status(c, in, false, has_init ? "PodInitializing" : "ContainerCreating",
                             &ready));
    if (!ready)
      cJSON_AddItemToArray(unready, cJSON_CreateString(json_str(c, "name")));
    const agent_rt_container_t *l = agent_podstatus_latest(in, json_str(c, "name"), false);
    if (l && l->state != CRI_CONTAINER_CREATED)
      app_started = true;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(st, "containerStatuses");
  cJSON_AddItemToObject(st, "containerStatuses", cs);

  /* Conditions: PodScheduled (the scheduler's) and any others are kept. */
  const cJSON *old_conds = cJSON_GetObjectItemCaseSensitive(old, "conditions");
  cJSON *conds = cJSON_CreateArray();
  const cJSON *o;
  cJSON_ArrayForEach(o, old_conds) {
    const char *t = json_str(o, "type");
    if (t && strcmp(t, "PodReadyToStartContainers") && strcmp(t, "Initialized") &&
        strcmp(t, "ContainersReady") && strcmp(t, "Ready"))
      cJSON_AddItemToArray(conds, cJSON_Duplicate(o, 1));
  }
  bool succeeded = !strcmp(ph, "Succeeded"), terminal = succeeded || !strcmp(ph, "Failed");
  condition(conds, old_conds, "PodReadyToStartContainers", in->sandbox_ready && !terminal, NULL,
            NULL, now);
  char msg[1024];
  if (succeeded) {
    condition(conds, old_conds, "Initialized", true, "PodCompleted", NULL, now);
  } else if (init_done || app_started) {
    condition(conds, old_conds, "Initialized", true, NULL, NULL, now);
  } else {
    names_message(msg, sizeof(msg), "incomplete", uninit);
    condition(conds, old_conds, "Initialized", false, "ContainersNotInitialized", msg, now);
  }
  bool all_ready = cJSON_GetArraySize(unready) == 0 && init_done && !terminal;
  if (all_ready) {
    condition(conds, old_conds, "Ready", true, NULL, NULL, now);
    condition(conds, old_conds, "ContainersReady", true, NULL, NULL, now);
  } else if (terminal) {
    const char *why = succeeded ? "PodCompleted" : "PodFailed";
    condition(conds, old_conds, "Ready", false, why, NULL, now);
    condition(conds, old_conds, "ContainersReady", false, why, NULL, now);
  } else {
    names_message(msg, sizeof(msg), "unready", unready);
    condition(conds, old_conds, "Ready", false, "ContainersNotReady", msg, now);
    condition(conds, old_conds, "ContainersReady", false, "ContainersNotReady", msg, now);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
  cJSON_AddItemToObject(st, "conditions", conds);
  cJSON_Delete(unready);
  cJSON_Delete(uninit);

  add_ips(st, "hostIP", "hostIPs", in->host_ip);
  const cJSON *host_net = json_get_path(pod, "spec.hostNetwork");
  const char *ip = cJSON_IsTrue(host_net) ? in->host_ip : in->pod_ip;
  if (ip && ip[0])
    add_ips(st, "podIP", "podIPs", ip);
  if (!cJSON_GetObjectItemCaseSensitive(st, "startTime"))
    cJSON_AddStringToObject(st, "startTime", now);
  cJSON_DeleteItemFromObjectCaseSensitive(st, "qosClass");
  cJSON_AddStringToObject(st, "qosClass", agent_podspec_qos(pod));
  return st;
}
