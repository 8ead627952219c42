/* Hollow pods: what a kubelet would report for a pod whose containers do
 * not exist: a small state machine per container (running, exited, back-off
 * before a restart, terminated) evaluated from the posted status and the
 * clock, and the pod phase and conditions upstream's kubelet derives.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ */
#include "agent/hollow_pod.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/util.h"

#define BACKOFF_FIRST 10.0 /* upstream's kubelet: 10 s doubling ... */
#define BACKOFF_MAX 300.0  /* ... capped at 5 minutes */
#define MAX_STEPS 8        /* state changes applied per evaluation */

static time_t parse_time(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
    return 0;
  return timegm(&tm);
}

static void fmt_time(time_t t, char *out, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void add_time(cJSON *obj, const char *name, time_t t) {
  char ts[32];
  fmt_time(t, ts, sizeof(ts));
  cJSON_AddStringToObject(obj, name, ts);
}

/* "exit", "exit 3", " exit  12 " -> the code; else -1. */
static int exit_script(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  if (strncmp(s, "exit", 4))
    return -1;
  s += 4;
  if (*s && !isspace((unsigned char)*s))
    return -1;
  while (isspace((unsigned char)*s))
    s++;
  int code = 0;
  if (isdigit((unsigned char)*s)) {
    long v = strtol(s, (char **)&s, 10);
    if (v < 0 || v > 255)
      return -1;
    code = (int)v;
  }
  while (isspace((unsigned char)*s))
    s++;
  return *s ? -1 : code;
}

int agent_hollow_container_exit(const cJSON *container) {
  const char *argv[64];
  int n = 0;
  static const char *const parts[] = {"command", "args"};
  for (size_t p = 0; p < 2; p++) {
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(container, parts[p])) {
      if (!cJSON_IsString(v) || n == 64)
        return -1;
      argv[n++] = v->valuestring;
    }
  }
  if (n == 1 && (!strcmp(argv[0], "true") || !strcmp(argv[0], "/bin/true")))
    return 0;
  if (n == 1 && (!strcmp(argv[0], "false") || !strcmp(argv[0], "/bin/false")))
    return 1;
  if (n < 3 || strcmp(argv[n - 2], "-c"))
    return -1;
  size_t l = strlen(argv[n - 3]);
  if (l < 2 || strcmp(argv[n - 3] + l - 2, "sh"))
    return -1;
  return exit_script(argv[n - 1]);
}

/* ---- one container ---- */

typedef enum { C_NONE, C_RUNNING, C_WAITING, C_TERMINATED } cstate_t;

typedef struct {
  cstate_t state;
  time_t started;      /* running since */
  int restarts;
  bool has_last;       /* lastState.terminated */
  int last_code;
  time_t last_started, last_finished;
  int code;            /* C_TERMINATED */
  time_t finished;
} cont_t;

static void cont_read(const cJSON *cs, cont_t *c) {
  memset(c, 0, sizeof(*c));
  if (!cs)
    return;
  const cJSON *rc = cJSON_GetObjectItemCaseSensitive(cs, "restartCount");
  c->restarts = cJSON_IsNumber(rc) ? rc->valueint : 0;
  const cJSON *lt = json_get_path(cs, "lastState.terminated");
  if (lt) {
    c->has_last = true;
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(lt, "exitCode");
    c->last_code = cJSON_IsNumber(ec) ? ec->valueint : 0;
    c->last_started = parse_time(json_str(lt, "startedAt"));
    c->last_finished = parse_time(json_str(lt, "finishedAt"));
  }
  const cJSON *st;
  if ((st = json_get_path(cs, "state.running"))) {
    c->state = C_RUNNING;
    c->started = parse_time(json_str(st, "startedAt"));
  } else if ((st = json_get_path(cs, "state.terminated"))) {
    c->state = C_TERMINATED;
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(st, "exitCode");
    c->code = cJSON_IsNumber(ec) ? ec->valueint : 0;
    c->started = parse_time(json_str(st, "startedAt"));
    c->finished = parse_time(json_str(st, "finishedAt"));
  } else if (json_get_path(cs, "state.waiting") && c->has_last) {
    c->state = C_WAITING; /* back-off before a restart */
  }
}

static double backoff(int restarts) {
  double d = BACKOFF_FIRST;
  for (int i = 1; i < restarts && d < BACKOFF_MAX; i++)
    d *= 2;
  return d < BACKOFF_MAX ? d : BACKOFF_MAX;
}

static bool must_restart(const char *policy, int code) {
  if (!policy || !strcmp(policy, "Always"))
    return true;
  return !strcmp(policy, "OnFailure") && code != 0;
}

static void wake_at(double *wake, double secs) {
  if (secs < 0)
    secs = 0;
  if (*wake < 0 || secs < *wake)
    *wake = secs;
}

/* Apply every state change due by now; note when the next one is due. */
static void cont_step(cont_t *c, int exit_code, double run, const char *policy, time_t now,
                      double *wake) {
  for (int i = 0; i < MAX_STEPS; i++) {
    switch (c->state) {
    case C_NONE:
      c->state = C_RUNNING;
      c->started = now;
      continue;
    case C_RUNNING: {
      if (exit_code < 0)
        return;
      time_t end = c->started + (time_t)run;
      if (now < end) {
        wake_at(wake, (double)(end - now));
        return;
      }
      if (!must_restart(policy, exit_code)) {
        c->state = C_TERMINATED;
        c->code = exit_code;
        c->finished = end;
        return;
      }
      c->has_last = true;
      c->last_code = exit_code;
      c->last_started = c->started;
      c->last_finished = end;
      if (c->restarts == 0) { /* the first restart is immediate */
        c->restarts = 1;
        c->state = C_RUNNING;
        c->started = now;
        continue;
      }
      c->state = C_WAITING;
      continue;
    }
    case C_WAITING: {
      time_t due = c->last_finished + (time_t)backoff(c->restarts);
      if (now < due) {
        wake_at(wake, (double)(due - now));
        return;
      }
      c->restarts++;
      c->state = C_RUNNING;
      c->started = now;
      continue;
    }
    case C_TERMINATED:
      return;
    }
  }
}

static uint64_t fnv(const char *a, const char *b, int n) {
  uint64_t h = 1469598103934665603ull;
  const char *parts[2] = {a ? a : "", b ? b : ""};
  for (int p = 0; p < 2; p++) {
    for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++)
      h = (h ^ *s) * 1099511628211ull;
    h = (h ^ '/') * 1099511628211ull;
  }
  return (h ^ (uint64_t)n) * 1099511628211ull;
}

static cJSON *terminated(int code, time_t started, time_t finished, const char *cid) {
  cJSON *t = cJSON_CreateObject();
  cJSON_AddNumberToObject(t, "exitCode", code);
  cJSON_AddStringToObject(t, "reason", code == 0 ? "Completed" : "Error");
  add_time(t, "startedAt", started);
  add_time(t, "finishedAt", finished);
  if (cid)
    cJSON_AddStringToObject(t, "containerID", cid);
  return t;
}

static cJSON *cont_status(const cJSON *spec, const cont_t *c, const char *pod_uid,
                          const char *pod_name, const char *pod_ns) {
  const char *name = json_str(spec, "name");
  const char *image = json_str(spec, "image");
  char cid[64], last_cid[64], image_id[64];
  snprintf(cid, sizeof(cid), "hollow://%016llx",
           (unsigned long long)fnv(pod_uid, name, c->restarts));
  snprintf(last_cid, sizeof(last_cid), "hollow://%016llx",
           (unsigned long long)fnv(pod_uid, name, c->restarts > 0 ? c->restarts - 1 : 0));
  snprintf(image_id, sizeof(image_id), "hollow://sha256:%016llx",
           (unsigned long long)fnv(image, "", 0));
  cJSON *cs = cJSON_CreateObject();
  cJSON_AddStringToObject(cs, "name", name ? name : "");
  cJSON *state = cJSON_AddObjectToObject(cs, "state");
  switch (c->state) {
  case C_RUNNING:
  case C_NONE:
    add_time(cJSON_AddObjectToObject(state, "running"), "startedAt", c->started);
    break;
  case C_WAITING: {
    cJSON *w = cJSON_AddObjectToObject(state, "waiting");
    char msg[768];
    snprintf(msg, sizeof(msg), "back-off %.0fs restarting failed container=%s pod=%s_%s(%s)",
             backoff(c->restarts), name ? name : "", pod_name ? pod_name : "",
             pod_ns ? pod_ns : "", pod_uid ? pod_uid : "");
    cJSON_AddStringToObject(w, "reason", "CrashLoopBackOff");
    cJSON_AddStringToObject(w, "message", msg);
    break;
  }
  case C_TERMINATED:
    cJSON_AddItemToObject(state, "terminated", terminated(c->code, c->started, c->finished, cid));
    break;
  }
  cJSON *last = cJSON_AddObjectToObject(cs, "lastState");
  if (c->has_last)
    cJSON_AddItemToObject(last, "terminated",
                          terminated(c->last_code, c->last_started, c->last_finished, last_cid));
  bool running = c->state == C_RUNNING || c->state == C_NONE;
  cJSON_AddBoolToObject(cs, "ready", running);
  cJSON_AddNumberToObject(cs, "restartCount", c->restarts);
  cJSON_AddStringToObject(cs, "image", image ? image : "");
  cJSON_AddStringToObject(cs, "imageID", image_id);
  if (c->state != C_WAITING)
    cJSON_AddStringToObject(cs, "containerID", cid);
  cJSON_AddBoolToObject(cs, "started", running);
  return cs;
}

static const cJSON *find_status(const cJSON *list, const char *name) {
  const cJSON *cs;
  cJSON_ArrayForEach(cs, list) {
    const char *n = json_str(cs, "name");
    if (n && name && !strcmp(n, name))
      return cs;
  }
  return NULL;
}

/* ---- conditions ---- */

static void add_cond(cJSON *conds, const cJSON *old_conds, const char *type, bool ok,
                     const char *reason, const char *message, time_t now) {
  const char *status = ok ? "True" : "False";
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "type", type);
  cJSON_AddStringToObject(c, "status", status);
  const cJSON *old = NULL, *it;
  cJSON_ArrayForEach(it, old_conds) {
    const char *t = json_str(it, "type");
    if (t && !strcmp(t, type)) {
      old = it;
      break;
    }
  }
  const char *s = json_str(old, "status"), *since = json_str(old, "lastTransitionTime");
  if (old && s && since && !strcmp(s, status))
    cJSON_AddStringToObject(c, "lastTransitionTime", since);
  else
    add_time(c, "lastTransitionTime", now);
  if (reason)
    cJSON_AddStringToObject(c, "reason", reason);
  if (message)
    cJSON_AddStringToObject(c, "message", message);
  cJSON_AddItemToArray(conds, c);
}

static void set(cJSON *obj, const char *name, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(obj, name))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, name, v);
  else
    cJSON_AddItemToObject(obj, name, v);
}

static cJSON *ip_list(const char *ip) {
  cJSON *l = cJSON_CreateArray();
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ip", ip);
  cJSON_AddItemToArray(l, o);
  return l;
}

int agent_hollow_pod_status(const cJSON *pod, time_t now, const char *host_ip, const char *pod_ip,
                            cJSON **ret_status, double *ret_wake) {
  const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
  const cJSON *containers = cJSON_GetObjectItemCaseSensitive(spec, "containers");
  if (cJSON_GetArraySize(containers) == 0)
    return -EINVAL;
  const cJSON *old = cJSON_GetObjectItemCaseSensitive(pod, "status");
  cJSON *st = cJSON_IsObject(old) ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();
  const char *policy = json_str(spec, "restartPolicy");
  const char *uid = json_str(pod, "metadata.uid"), *name = json_str(pod, "metadata.name"),
             *ns = json_str(pod, "metadata.namespace");
  double run = 0;
  const cJSON *ann = json_get_path(pod, "metadata.annotations");
  const cJSON *rsv = cJSON_GetObjectItemCaseSensitive(ann, HOLLOW_RUN_SECONDS_ANNOTATION);
  const char *rs = cJSON_IsString(rsv) ? rsv->valuestring : NULL;
  if (rs) {
    char *end;
    double v = strtod(rs, &end);
    if (end != rs && !*end && v >= 0 && v < 1e9)
      run = v;
  }
  double wake = -1;
  time_t start = parse_time(json_str(old, "startTime"));
  if (!start)
    start = now;

  /* init containers: done before the first container starts */
  const cJSON *inits = cJSON_GetObjectItemCaseSensitive(spec, "initContainers");
  if (cJSON_GetArraySize(inits) > 0) {
    cJSON *list = cJSON_CreateArray();
    const cJSON *ic;
    cJSON_ArrayForEach(ic, inits) {
      cont_t c;
      memset(&c, 0, sizeof(c));
      c.state = C_TERMINATED;
      c.started = c.finished = start;
      cJSON *cs = cont_status(ic, &c, uid, name, ns);
      cJSON_ReplaceItemInObjectCaseSensitive(cs, "ready", cJSON_CreateTrue());
      cJSON_AddItemToArray(list, cs);
    }
    set(st, "initContainerStatuses", list);
  }

  cJSON *list = cJSON_CreateArray();
  const cJSON *old_list = cJSON_GetObjectItemCaseSensitive(old, "containerStatuses");
  int n = 0, ready = 0, done = 0, failed = 0;
  char unready[512] = "";
  size_t ul = 0;
  const cJSON *ct;
  cJSON_ArrayForEach(ct, containers) {
    cont_t c;
    const char *cname = json_str(ct, "name");
    cont_read(find_status(old_list, cname), &c);
    cont_step(&c, agent_hollow_container_exit(ct), run, policy, now, &wake);
    n++;
    if (c.state == C_RUNNING) {
      ready++;
    } else {
      int w = snprintf(unready + ul, sizeof(unready) - ul, "%s%s", ul ? " " : "", cname ? cname : "");
      if (w > 0 && ul + (size_t)w < sizeof(unready))
        ul += (size_t)w;
    }
    if (c.state == C_TERMINATED) {
      done++;
      failed += c.code != 0;
    }
    cJSON_AddItemToArray(list, cont_status(ct, &c, uid, name, ns));
  }
  set(st, "containerStatuses", list);

  const char *phase = "Running";
  if (done == n)
    phase = failed ? "Failed" : "Succeeded";
  bool terminal = done == n;
  set(st, "phase", cJSON_CreateString(phase));
  set(st, "hostIP", cJSON_CreateString(host_ip));
  set(st, "hostIPs", ip_list(host_ip));
  const char *ip = json_str(old, "podIP");
  if (!ip || !ip[0])
    ip = pod_ip;
  if (ip && ip[0]) {
    set(st, "podIP", cJSON_CreateString(ip));
    set(st, "podIPs", ip_list(ip));
  }
  if (!json_str(old, "startTime")) {
    char ts[32];
    fmt_time(start, ts, sizeof(ts));
    set(st, "startTime", cJSON_CreateString(ts));
  }

  /* conditions, in the order the kubelet writes them */
  const cJSON *old_conds = cJSON_GetObjectItemCaseSensitive(old, "conditions");
  cJSON *conds = cJSON_CreateArray();
  char msg[600];
  snprintf(msg, sizeof(msg), "containers with unready status: [%s]", unready);
  bool all_ready = ready == n;
  const char *why = terminal ? (failed ? "PodFailed" : "PodCompleted") : "ContainersNotReady";
  add_cond(conds, old_conds, "PodReadyToStartContainers", !terminal, NULL, NULL, now);
  add_cond(conds, old_conds, "Initialized", true,
           terminal && !failed && cJSON_GetArraySize(inits) > 0 ? "PodCompleted" : NULL, NULL, now);
  add_cond(conds, old_conds, "Ready", all_ready, all_ready ? NULL : why,
           all_ready || terminal ? NULL : msg, now);
  add_cond(conds, old_conds, "ContainersReady", all_ready, all_ready ? NULL : why,
           all_ready || terminal ? NULL : msg, now);
  add_cond(conds, old_conds, "PodScheduled", true, NULL, NULL, now);
  /* conditions others set (DisruptionTarget, readiness gates) are kept */
  const cJSON *oc;
  cJSON_ArrayForEach(oc, old_conds) {
    const char *t = json_str(oc, "type");
    if (t && strcmp(t, "PodReadyToStartContainers") && strcmp(t, "Initialized") &&
        strcmp(t, "Ready") && strcmp(t, "ContainersReady") && strcmp(t, "PodScheduled"))
      cJSON_AddItemToArray(conds, cJSON_Duplicate(oc, 1));
  }
  set(st, "conditions", conds);
  *ret_status = st;
  *ret_wake = terminal ? -1 : wake;
  return 0;
}
