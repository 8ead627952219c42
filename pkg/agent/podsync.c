/* One kubelet pod sync on a worker thread: read the pod's sandboxes and
 * containers back from the runtime, act (sandbox, init containers, app
 * containers, restarts after back-off, graceful stop), then report the
 * status the runtime now shows. Upstream's order and wording for events.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ */
#include "agent/podsync.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/emptydir.h"
#include "agent/hooks.h"
#include "agent/hostpath.h"
#include "agent/podstatus.h"
#include "agent/subpath.h"
#include "agent/volumes.h"
#include "json/util.h"
#include "util/fsutil.h"

#define PULL_BACKOFF_INITIAL 10
#define PULL_BACKOFF_MAX 300
#define RETRY_SECONDS 5 /* a runtime failure: try the pod again */

/* One pass over one pod. */
typedef struct {
  agent_podsync_t *s;
  agent_runtime_t *rt;
  const cJSON *pod;
  const char *uid, *name, *ns;
  char ref[600]; /* "name_ns(uid)", as the kubelet names a pod in messages */
  agent_rt_sandbox_t *sandboxes;
  size_t n_sandboxes;
  agent_rt_container_t *containers;
  size_t n_containers;
  const agent_rt_sandbox_t *sandbox; /* the ready one */
  char pod_ip[64];
  cJSON *waiting; /* name -> {reason, message} */
  time_t now;
  char err[512];
} pass_t;

/* Where the pods' state directories are (emptyDir volumes under them). */
static const char *pods_dir(const pass_t *p) {
  return p->s->node && p->s->node->pods_dir ? p->s->node->pods_dir : "/var/lib/kubelet/pods";
}

static void event(pass_t *p, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void event(pass_t *p, const char *type, const char *reason, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", type);
  cJSON_AddStringToObject(e, "reason", reason);
  cJSON_AddStringToObject(e, "message", msg);
  cJSON_AddItemToArray(p->s->events, e);
}

static void wake_in(pass_t *p, double seconds) {
  if (seconds < 0)
    return;
  if (p->s->wake < 0 || seconds < p->s->wake)
    p->s->wake = seconds;
}

static void set_waiting(pass_t *p, const char *name, const char *reason, const char *message) {
  cJSON_DeleteItemFromObjectCaseSensitive(p->waiting, name);
  cJSON *w = cJSON_AddObjectToObject(p->waiting, name);
  cJSON_AddStringToObject(w, "reason", reason);
  if (message && message[0])
    cJSON_AddStringToObject(w, "message", message);
}

static void fail(pass_t *p, int err, const char *what) {
  if (!p->s->err) {
    p->s->err = err;
    snprintf(p->s->errmsg, sizeof(p->s->errmsg), "%.100s: %.400s", what, p->err);
  }
  wake_in(p, RETRY_SECONDS);
}

static int reload(pass_t *p) {
  free(p->sandboxes);
  free(p->containers);
  p->sandboxes = NULL;
  p->containers = NULL;
  p->n_sandboxes = p->n_containers = 0;
  p->sandbox = NULL;
  int r = agent_rt_sandboxes(p->rt, p->uid, &p->sandboxes, &p->n_sandboxes, p->err,
                             sizeof(p->err));
  if (r == 0)
    r = agent_rt_containers(p->rt, p->uid, &p->containers, &p->n_containers, p->err,
                            sizeof(p->err));
  if (r < 0) {
    fail(p, r, "listing the pod's containers");
    return r;
  }
  for (size_t i = 0; i < p->n_sandboxes; i++) {
    const agent_rt_sandbox_t *sb = &p->sandboxes[i];
    if (sb->ready && (!p->sandbox || sb->created_at > p->sandbox->created_at))
      p->sandbox = sb;
  }
  return 0;
}

static agent_podstatus_in_t status_in(pass_t *p) {
  agent_podstatus_in_t in = {
      .containers = p->containers,
      .n = p->n_containers,
      .sandbox_ready = p->sandbox != NULL,
      .pod_ip = p->pod_ip,
      .host_ip = p->s->node->host_ip,
      .waiting = p->waiting,
      .probes = p->s->probes,
      .now = p->now,
  };
  return in;
}

/* ---- stopping ---- */

#define MIN_GRACE_AFTER_HOOK 2 /* upstream's minimumGracePeriodInSeconds */

/* The spec of the pod's container (or init container) called name. */
static const cJSON *container_spec(const cJSON *pod, const char *name) {
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      const char *n = json_str(c, "name");
      if (n && !strcmp(n, name))
        return c;
    }
  }
  return NULL;
}

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* upstream's killContainer: the Killing event (message, or "Stopping
 * container c"), the preStop hook within the grace period (its time
 * taken from it, at least 2 s left after it), then the stop. */
static int stop_container(pass_t *p, const char *name, const char *id, int64_t grace,
                          const char *message) {
  const cJSON *spec = container_spec(p->pod, name);
  if (message)
    event(p, "Normal", "Killing", "%s", message);
  else
    event(p, "Normal", "Killing", "Stopping container %s", name);
  const cJSON *pre = spec ? json_get_path(spec, "lifecycle.preStop") : NULL;
  if (pre && grace > 0) {
    const char *ip = p->pod_ip[0] ? p->pod_ip : json_str(p->pod, "status.podIP");
    agent_hook_ctx_t x = {.rt = p->rt, .container = spec, .cid = id, .pod_ip = ip ? ip : "",
                          .pod_ref = p->ref, .timeout = (double)grace};
    char msg[1024];
    double t0 = mono_now();
    if (agent_hook_run(&x, pre, msg, sizeof(msg)) < 0)
      event(p, "Warning", "FailedPreStopHook", "%s", msg);
    grace -= (int64_t)(mono_now() - t0);
    if (grace < MIN_GRACE_AFTER_HOOK)
      grace = MIN_GRACE_AFTER_HOOK;
  }
  return agent_rt_stop_container(p->rt, id, grace, p->err, sizeof(p->err));
}

/* Stop every running container (SIGTERM, SIGKILL after grace) and every
 * sandbox; remove them too when remove. */
static int kill_pod(pass_t *p, int64_t grace, bool remove) {
  int r = 0;
  for (size_t i = 0; i < p->n_containers; i++) {
    agent_rt_container_t *c = &p->containers[i];
    if (c->state == CRI_CONTAINER_RUNNING) {
      if ((r = stop_container(p, c->name, c->id, grace, NULL)) < 0 && r != -ENOENT) {
        fail(p, r, "stopping a container");
        return r;
      }
    }
    if (remove && (r = agent_rt_remove_container(p->rt, c->id, p->err, sizeof(p->err))) < 0 &&
        r != -ENOENT) {
      fail(p, r, "removing a container");
      return r;
    }
  }
  for (size_t i = 0; i < p->n_sandboxes; i++) {
    agent_rt_sandbox_t *sb = &p->sandboxes[i];
    if ((sb->ready || remove) &&
        (r = agent_rt_stop_sandbox(p->rt, sb->id, p->err, sizeof(p->err))) < 0 && r != -ENOENT) {
      fail(p, r, "stopping the pod sandbox");
      return r;
    }
    if (remove && (r = agent_rt_remove_sandbox(p->rt, sb->id, p->err, sizeof(p->err))) < 0 &&
        r != -ENOENT) {
      fail(p, r, "removing the pod sandbox");
      return r;
    }
  }
  return 0;
}

/* Old instances: keep the newest two of each container (the current one
 * and its lastState); the others and those of dead sandboxes go. */
static void prune(pass_t *p) {
  agent_podstatus_in_t in = status_in(p);
  for (size_t i = 0; i < p->n_containers; i++) {
    agent_rt_container_t *c = &p->containers[i];
    if (c->state == CRI_CONTAINER_RUNNING || c->state == CRI_CONTAINER_CREATED)
      continue;
    const agent_rt_container_t *l = agent_podstatus_latest(&in, c->name, c->init);
    if (l && l->attempt > c->attempt + 1)
      agent_rt_remove_container(p->rt, c->id, p->err, sizeof(p->err));
  }
}

/* ---- starting ---- */

static const char *pull_policy(const cJSON *c, const char *image) {
  const char *p = json_str(c, "imagePullPolicy");
  if (p)
    return p;
  const char *slash = strrchr(image, '/');
  const char *tag = strchr(slash ? slash : image, ':');
  return !tag || !strcmp(tag, ":latest") ? "Always" : "IfNotPresent";
}

/* Make sure the image is there; false (with the container waiting) when
 * it is not and cannot be pulled now. */
static bool ensure_image(pass_t *p, const char *name, const char *image, const char *policy) {
  bool present = false;
  char ref[AGENT_RT_IMAGE_MAX];
  int r = agent_rt_image_present(p->rt, image, &present, ref, sizeof(ref), p->err, sizeof(p->err));
  if (r < 0) {
    fail(p, r, "asking the runtime for an image");
    return false;
  }
  if (present && strcmp(policy, "Always")) {
    event(p, "Normal", "Pulled", "Container image \"%s\" already present on machine", image);
    return true;
  }
  if (!strcmp(policy, "Never")) {
    char msg[800];
    snprintf(msg, sizeof(msg),
             "Container image \"%s\" is not present with pull policy of Never", image);
    set_waiting(p, name, "ErrImageNeverPull", msg);
    event(p, "Warning", "ErrImageNeverPull", "%s", msg);
    wake_in(p, 30);
    return false;
  }
  cJSON *h = cJSON_GetObjectItemCaseSensitive(p->s->hints, name);
  double next = h ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "next")) : 0;
  if (h && next > (double)p->now) {
    char msg[800];
    snprintf(msg, sizeof(msg), "Back-off pulling image \"%s\"", image);
    set_waiting(p, name, "ImagePullBackOff", msg);
    event(p, "Normal", "BackOff", "%s", msg);
    wake_in(p, next - (double)p->now);
    return false;
  }
  event(p, "Normal", "Pulling", "Pulling image \"%s\"", image);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if ((r = agent_rt_pull_image(p->rt, image, p->err, sizeof(p->err))) < 0) {
    int n = h ? (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "n")) : 0;
    n++;
    double delay = PULL_BACKOFF_INITIAL;
    for (int i = 1; i < n && delay < PULL_BACKOFF_MAX; i++)
      delay *= 2;
    if (delay > PULL_BACKOFF_MAX)
      delay = PULL_BACKOFF_MAX;
    cJSON_DeleteItemFromObjectCaseSensitive(p->s->hints, name);
    cJSON *nh = cJSON_AddObjectToObject(p->s->hints, name);
    cJSON_AddNumberToObject(nh, "n", n);
    cJSON_AddNumberToObject(nh, "next", (double)p->now + delay);
    char msg[1200];
    snprintf(msg, sizeof(msg), "Failed to pull image \"%s\": %s", image, p->err);
    set_waiting(p, name, "ErrImagePull", msg);
    event(p, "Warning", "Failed", "%s", msg);
    event(p, "Warning", "Failed", "Error: ErrImagePull");
    wake_in(p, delay);
    return false;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cJSON_DeleteItemFromObjectCaseSensitive(p->s->hints, name);
  event(p, "Normal", "Pulled", "Successfully pulled image \"%s\" in %.3fs", image,
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  return true;
}

/* Create and start attempt `attempt` of container spec c. */
static bool start_container(pass_t *p, const cJSON *c, bool init, uint32_t attempt) {
  const char *name = json_str(c, "name"), *image = json_str(c, "image");
  if (!name || !image)
    return false;
  if (!ensure_image(p, name, image, pull_policy(c, image)))
    return false;
  agent_podspec_refs_t refs = {.configmaps = p->s->configmaps, .secrets = p->s->secrets};
  cJSON *env = NULL;
  char msg[512];
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  cri_container_config_t cc;
  bool ok = false;
  char id[AGENT_RT_ID_MAX];
  int r;
  if ((r = agent_podspec_env(p->pod, c, &refs, p->s->node, p->pod_ip, &env, msg, sizeof(msg))) <
          0 ||
      (r = agent_podspec_sandbox(p->pod, p->sandbox->attempt, p->s->node, &mem, &sb, msg,
                                 sizeof(msg))) < 0 ||
      (r = agent_podspec_container(p->pod, c, attempt, env, p->s->node, &mem, &cc, msg,
                                   sizeof(msg))) < 0) {
    set_waiting(p, name, "CreateContainerConfigError", msg);
    event(p, "Warning", "Failed", "Error: %s", msg);
    wake_in(p, 10);
    goto out;
  }
  /* upstream's makeMounts: subPaths made and checked; the details stay
   * out of the status (they describe the host's filesystem) */
  const cJSON *sp;
  cJSON_ArrayForEach(sp, mem.subpaths) {
    char why[512];
    const char *vn = json_str(sp, "name");
    r = agent_subpath_prepare(json_str(sp, "volume"), json_str(sp, "subPath"), why, sizeof(why));
    if (r < 0) {
      snprintf(msg, sizeof(msg), "failed to %s subPath%s for volumeMount \"%s\" of container \"%s\"",
               r == -EXDEV ? "prepare" : "create", r == -EXDEV ? "" : " directory", vn ? vn : "",
               name);
      set_waiting(p, name, "CreateContainerConfigError", msg);
      event(p, "Warning", "Failed", "Error: %s", msg);
      wake_in(p, 10);
      goto out;
    }
  }
  if ((r = agent_rt_create_container(p->rt, p->sandbox->id, &cc, &sb, id, p->err,
                                     sizeof(p->err))) < 0) {
    set_waiting(p, name, "CreateContainerError", p->err);
    event(p, "Warning", "Failed", "Error: %s", p->err);
    wake_in(p, 10);
    goto out;
  }
  event(p, "Normal", "Created", "Created container %s", name);
  if ((r = agent_rt_start_container(p->rt, id, p->err, sizeof(p->err))) < 0) {
    set_waiting(p, name, "RunContainerError", p->err);
    event(p, "Warning", "Failed", "Error: failed to start container \"%s\": %s", name, p->err);
    wake_in(p, 10);
    goto out;
  }
  event(p, "Normal", "Started", "Started container %s", name);
  const cJSON *post = json_get_path(c, "lifecycle.postStart");
  if (post) {
    /* upstream's startContainer step 4: the hook's message stays out of
     * the event (it may hold secrets), the container is killed */
    agent_hook_ctx_t x = {.rt = p->rt, .container = c, .cid = id, .pod_ip = p->pod_ip,
                          .pod_ref = p->ref};
    char hmsg[1024];
    if (agent_hook_run(&x, post, hmsg, sizeof(hmsg)) < 0) {
      event(p, "Warning", "FailedPostStartHook", "PostStartHook failed");
      stop_container(p, name, id, agent_podspec_grace_seconds(p->pod), "FailedPostStartHook");
      set_waiting(p, name, "PostStartHookError", hmsg);
      wake_in(p, 1);
      goto out;
    }
  }
  ok = true;
out:
  cJSON_Delete(env);
  agent_podspec_mem_done(&mem);
  return ok;
}

/* Start a container that exited again once its back-off has passed. */
static bool restart_after_backoff(pass_t *p, const cJSON *c, const agent_rt_container_t *l,
                                  bool init) {
  int64_t delay = agent_podstatus_backoff(l);
  int64_t due = l->finished_at / 1000000000LL + delay;
  if (delay > 0 && due > (int64_t)p->now) {
    char msg[1024];
    snprintf(msg, sizeof(msg), "back-off %llds restarting failed container=%.253s pod=%.599s",
             (long long)delay, l->name, p->ref);
    set_waiting(p, l->name, "CrashLoopBackOff", msg);
    event(p, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s", l->name,
          p->ref);
    wake_in(p, (double)(due - (int64_t)p->now) + 0.1);
    return false;
  }
  return start_container(p, c, init, l->attempt + 1);
}

static bool is_exited(const agent_rt_container_t *c) {
  return c->state == CRI_CONTAINER_EXITED || c->state == CRI_CONTAINER_UNKNOWN;
}

/* Init containers in order; true when all have succeeded. */
static bool run_init(pass_t *p, bool *ret_failed) {
  agent_podstatus_in_t in = status_in(p);
  const char *policy = json_str(p->pod, "spec.restartPolicy");
  const cJSON *c;
  *ret_failed = false;
  cJSON_ArrayForEach(c, json_get_path(p->pod, "spec.initContainers")) {
    const char *name = json_str(c, "name");
    if (!name)
      continue;
    const agent_rt_container_t *l = agent_podstatus_latest(&in, name, true);
    if (l && is_exited(l) && l->exit_code == 0)
      continue;
    if (!l)
      start_container(p, c, true, 0);
    else if (l->state == CRI_CONTAINER_CREATED)
      agent_rt_start_container(p->rt, l->id, p->err, sizeof(p->err));
    else if (is_exited(l)) {
      if (policy && !strcmp(policy, "Never"))
        *ret_failed = true;
      else
        restart_after_backoff(p, c, l, true);
    }
    return false;
  }
  return true;
}

static void run_containers(pass_t *p) {
  agent_podstatus_in_t in = status_in(p);
  const char *policy = json_str(p->pod, "spec.restartPolicy");
  if (!policy)
    policy = "Always";
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(p->pod, "spec.containers")) {
    const char *name = json_str(c, "name");
    if (!name)
      continue;
    const agent_rt_container_t *l = agent_podstatus_latest(&in, name, false);
    if (!l)
      start_container(p, c, false, 0);
    else if (l->state == CRI_CONTAINER_CREATED) {
      if (agent_rt_start_container(p->rt, l->id, p->err, sizeof(p->err)) == 0)
        event(p, "Normal", "Started", "Started container %s", name);
    } else if (is_exited(l)) {
      bool again = !strcmp(policy, "Always") || (!strcmp(policy, "OnFailure") && l->exit_code);
      if (again)
        restart_after_backoff(p, c, l, false);
    }
  }
}

/* A sandbox for the pod: the ready one, or a new one (attempt + 1 of the
 * newest dead one, whose containers are stopped first). */
static bool ensure_sandbox(pass_t *p) {
  if (p->sandbox) {
    bool ready = false;
    int r = agent_rt_sandbox_ip(p->rt, p->sandbox->id, p->pod_ip, sizeof(p->pod_ip), &ready,
                                p->err, sizeof(p->err));
    if (r == 0 && ready)
      return true;
    if (r < 0 && r != -ENOENT) {
      fail(p, r, "reading the pod sandbox");
      return false;
    }
    p->sandbox = NULL;
  }
  uint32_t attempt = 0;
  for (size_t i = 0; i < p->n_sandboxes; i++)
    if (p->sandboxes[i].attempt + 1 > attempt)
      attempt = p->sandboxes[i].attempt + 1;
  if (p->n_sandboxes) {
    /* The sandbox died (its containers with it): stop what is left, as the
     * kubelet does before it makes a new one. Exited containers stay for
     * their restart counts. */
    event(p, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.");
    if (kill_pod(p, 0, false) < 0)
      return false;
  }
  cJSON *dirs = agent_podspec_dirs(p->pod, p->s->node);
  const cJSON *d;
  cJSON_ArrayForEach(d, dirs) {
    int r = fs_mkdir_p(d->valuestring, 0755);
    if (r < 0) {
      snprintf(p->err, sizeof(p->err), "%s: %s", d->valuestring, strerror(-r));
      event(p, "Warning", "FailedMount", "%s", p->err);
      cJSON_Delete(dirs);
      fail(p, r, "making the pod's directories");
      return false;
    }
  }
  cJSON_Delete(dirs);
  if (agent_emptydir_mount(p->pod, p->s->node, p->err, sizeof(p->err)) < 0) {
    event(p, "Warning", "FailedMount", "%s", p->err);
    fail(p, -EIO, "mounting the pod's memory volumes");
    return false;
  }
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char msg[512], id[AGENT_RT_ID_MAX];
  int r = agent_podspec_sandbox(p->pod, attempt, p->s->node, &mem, &sb, msg, sizeof(msg));
  if (r == 0)
    r = agent_rt_run_sandbox(p->rt, &sb, id, p->err, sizeof(p->err));
  else
    snprintf(p->err, sizeof(p->err), "%s", msg);
  agent_podspec_mem_done(&mem);
  if (r < 0) {
    event(p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s", p->err);
    wake_in(p, 10);
    return false;
  }
  if (reload(p) < 0)
    return false;
  for (size_t i = 0; i < p->n_sandboxes; i++)
    if (!strcmp(p->sandboxes[i].id, id))
      p->sandbox = &p->sandboxes[i];
  if (!p->sandbox)
    return false;
  bool ready = false;
  return agent_rt_sandbox_ip(p->rt, id, p->pod_ip, sizeof(p->pod_ip), &ready, p->err,
                             sizeof(p->err)) == 0 &&
         ready;
}

#define DEADLINE_MESSAGE "Pod was active on the node longer than the specified deadline"

/* spec.activeDeadlineSeconds counted from status.startTime (when the
 * kubelet first saw the pod); arms the wake-up for it otherwise. */
static bool deadline_passed(pass_t *p) {
  const cJSON *d = json_get_path(p->pod, "spec.activeDeadlineSeconds");
  const char *start = json_str(p->pod, "status.startTime");
  if (!cJSON_IsNumber(d))
    return false;
  time_t t0 = p->now;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (start && strptime(start, "%Y-%m-%dT%H:%M:%S", &tm))
    t0 = timegm(&tm);
  double left = (double)t0 + d->valuedouble - (double)p->now;
  if (left <= 0)
    return true;
  wake_in(p, left + 0.1);
  return false;
}

static void sync_pod(pass_t *p) {
  const cJSON *pod = p->pod;
  if (reload(p) < 0)
    return;
  if (json_get_path(pod, "metadata.deletionTimestamp")) {
    if (kill_pod(p, agent_podspec_grace_seconds(pod), true) == 0) {
      p->s->gone = true;
      agent_emptydir_teardown(pods_dir(p), p->uid);
    }
    return;
  }
  agent_podstatus_in_t in = status_in(p);
  const char *phase = json_str(pod, "status.phase");
  bool was_terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
  if (was_terminal || (p->n_containers && agent_podstatus_terminal(pod, &in))) {
    /* Done for good: the sandbox goes, the containers stay for logs. */
    kill_pod(p, 0, false);
    if (!was_terminal && reload(p) == 0)
      p->s->status = agent_podstatus_build(pod, (in = status_in(p), &in));
    return;
  }
  if (deadline_passed(p)) {
    /* activeDeadlineSeconds: the kubelet fails the pod and stops it. */
    kill_pod(p, agent_podspec_grace_seconds(pod), false);
    event(p, "Normal", "DeadlineExceeded", "%s", DEADLINE_MESSAGE);
    if (reload(p) == 0) {
      in = status_in(p);
      cJSON *st = agent_podstatus_build(pod, &in);
      cJSON_ReplaceItemInObjectCaseSensitive(st, "phase", cJSON_CreateString("Failed"));
      cJSON_DeleteItemFromObjectCaseSensitive(st, "reason");
      cJSON_DeleteItemFromObjectCaseSensitive(st, "message");
      cJSON_AddStringToObject(st, "reason", "DeadlineExceeded");
      cJSON_AddStringToObject(st, "message", DEADLINE_MESSAGE);
      p->s->status = st;
    }
    return;
  }
  char evict[512];
  bool limited = false;
  if (p->n_containers &&
      agent_emptydir_over_limit(pod, p->s->node, evict, sizeof(evict), &limited)) {
    /* the eviction manager's emptyDir sizeLimit check */
    kill_pod(p, 0, false);
    event(p, "Warning", "Evicted", "%s", evict);
    if (reload(p) == 0) {
      in = status_in(p);
      cJSON *st = agent_podstatus_build(pod, &in);
      cJSON_ReplaceItemInObjectCaseSensitive(st, "phase", cJSON_CreateString("Failed"));
      cJSON_DeleteItemFromObjectCaseSensitive(st, "reason");
      cJSON_DeleteItemFromObjectCaseSensitive(st, "message");
      cJSON_AddStringToObject(st, "reason", "Evicted");
      cJSON_AddStringToObject(st, "message", evict);
      p->s->status = st;
    }
    return;
  }
  if (limited)
    wake_in(p, AGENT_EMPTYDIR_CHECK_SECONDS);
  if (p->s->mount_err) {
    /* a claim not bound yet (or gone): nothing starts until it is */
    event(p, "Warning", "FailedMount", "%s", p->s->mount_err);
    wake_in(p, 10);
    goto report;
  }
  if (!p->sandbox) {
    /* the hostPath plugin's type checks, before anything mounts them */
    char herr[1200];
    if (agent_hostpath_check(pod, herr, sizeof(herr)) < 0) {
      event(p, "Warning", "FailedMount", "%s", herr);
      wake_in(p, 10);
      goto report;
    }
  }
  if (!ensure_sandbox(p))
    goto report;
  /* configMap, secret, downwardAPI, projected files: written (or updated
   * in place) on every pass, before the containers that mount them. */
  agent_podspec_refs_t refs = {p->s->configmaps, p->s->secrets, p->s->tokens, p->s->token_err};
  char verr[1024];
  int vr = agent_volumes_write(pod, &refs, p->s->node, p->pod_ip, verr, sizeof(verr));
  if (vr < 0) {
    /* A token still on its way is no failure: its arrival resyncs the pod. */
    if (vr != -EAGAIN || p->s->token_err)
      event(p, "Warning", "FailedMount", "%s", verr);
    wake_in(p, 10);
    goto report;
  }
  bool init_failed = false;
  if (run_init(p, &init_failed))
    run_containers(p);
  if (init_failed)
    kill_pod(p, 0, false);
  prune(p);
  if (reload(p) < 0)
    return;
report:
  in = status_in(p);
  p->s->status = agent_podstatus_build(pod, &in);
}

static void cleanup(pass_t *p) {
  if (reload(p) == 0 && kill_pod(p, 0, true) == 0) {
    p->s->gone = true;
    agent_emptydir_teardown(pods_dir(p), p->uid);
  }
}

void agent_podsync_run(agent_job_t *job, agent_runtime_t *rt) {
  agent_podsync_t *s = (agent_podsync_t *)job;
  pass_t p = {.s = s, .rt = rt, .pod = s->pod, .now = time(NULL)};
  s->wake = -1;
  s->events = cJSON_CreateArray();
  if (!s->hints)
    s->hints = cJSON_CreateObject();
  p.waiting = cJSON_CreateObject();
  if (s->kind == AGENT_PODSYNC_CLEANUP) {
    p.uid = s->uid;
    cleanup(&p);
  } else {
    p.uid = json_str(s->pod, "metadata.uid");
    p.name = json_str(s->pod, "metadata.name");
    p.ns = json_str(s->pod, "metadata.namespace");
    if (p.uid && p.name && p.ns) {
      snprintf(p.ref, sizeof(p.ref), "%s_%s(%s)", p.name, p.ns, p.uid);
      sync_pod(&p);
    }
  }
  cJSON_Delete(p.waiting);
  free(p.sandboxes);
  s->containers = p.containers; /* for the prober */
  s->n_containers = p.n_containers;
  snprintf(s->pod_ip, sizeof(s->pod_ip), "%s", p.pod_ip);
}

void agent_podsync_free(agent_podsync_t *s) {
  if (!s)
    return;
  cJSON_Delete(s->pod);
  free(s->uid);
  cJSON_Delete(s->configmaps);
  cJSON_Delete(s->secrets);
  cJSON_Delete(s->tokens);
  free(s->token_err);
  cJSON_Delete(s->hints);
  cJSON_Delete(s->probes);
  free(s->mount_err);
  free(s->containers);
  cJSON_Delete(s->status);
  cJSON_Delete(s->events);
  free(s);
}
