/* The reference side of bench/pods.sh: N pods made straight over CRI, with
 * no API server, controllers, scheduler or kubelet in between. All N
 * RunPodSandbox calls start at once, and each pod goes on to CreateContainer
 * and StartContainer as soon as its sandbox is up (as a node agent's pod
 * workers would); then every pod is stopped and removed the same way.
 * Prints one line, "cri_direct n=N up_s=... p50_s=... max_s=... down_s=...
 * failed=F" (up_s: until the last container started; p50/max: per pod).
 *
 *   cri_direct -n N -s SOCKET [-i IMAGE] [-c CGROUP_PARENT] [-l LOG_DIR] [-H]
 *   cri_direct -n N -d DATA_DIR -p PAUSE_NAME ...
 *       start containerd for DATA_DIR first, as the agent does, with the
 *       sandbox image PAUSE_NAME, import the tarballs of DATA_DIR/agent/images (put
 *       `k3c pause --write-image` there: the image holds the k3c binary),
 *       and stop containerd at the end
 *
 * -H: host network (no CNI). Needs root. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/containerd.h"
#include "agent/images.h"
#include "cri/cri.h"

#define POD_MAX 1000
#define DEADLINE_S 300.0

typedef enum { P_SANDBOX, P_CREATE, P_START, P_UP, P_STOP, P_RMC, P_STOPSB, P_RMSB, P_GONE, P_FAILED } phase_t;

typedef struct {
  int i;
  phase_t phase;
  char name[64], uid[64], logdir[512];
  char sandbox_id[128], container_id[128];
  double t0, t_up;
} pod_t;

static struct {
  struct ev_loop *loop;
  cri_client_t *cli;
  const char *image, *cgroup_parent, *log_root;
  bool host_network;
  pod_t pods[POD_MAX];
  int n, busy, failed;
} b = {.image = "docker.io/library/busybox:e2e", .log_root = "/tmp/k3c-cri-direct"};

static const cri_kv_t sandbox_labels[] = {{"k3c.io/bench", "cri-direct"}};
/* Exits on SIGTERM, as the Deployment of bench/pods.sh does. */
static const char *const container_cmd[] = {"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"};

static cri_sandbox_config_t sandbox_config(pod_t *p) {
  cri_sandbox_config_t c = {
      .metadata = {.name = p->name, .uid = p->uid, .namespace_ = "k3c-bench"},
      .hostname = b.host_network ? NULL : p->name,
      .log_directory = p->logdir,
      .labels = {sandbox_labels, 1},
  };
  c.lnx.cgroup_parent = b.cgroup_parent;
  c.lnx.namespace_options.network = b.host_network ? CRI_NS_NODE : CRI_NS_POD;
  return c;
}

static void pod_fail(pod_t *p, const char *what, const cri_status_t *st) {
  fprintf(stderr, "cri_direct: %s %s: %s %s\n", p->name, what, cri_code_name(st->code),
          st->message);
  p->phase = P_FAILED;
  b.failed++;
  b.busy--;
}

static void step(pod_t *p);

static void id_cb(void *data, const cri_status_t *st, const char *id) {
  pod_t *p = data;
  if (st->code != CRI_OK) {
    pod_fail(p, p->phase == P_SANDBOX ? "RunPodSandbox" : "CreateContainer", st);
    return;
  }
  if (p->phase == P_SANDBOX)
    snprintf(p->sandbox_id, sizeof p->sandbox_id, "%s", id);
  else
    snprintf(p->container_id, sizeof p->container_id, "%s", id);
  p->phase++;
  step(p);
}

static void done_cb(void *data, const cri_status_t *st) {
  static const char *const names[] = {[P_START] = "StartContainer", [P_STOP] = "StopContainer",
                                      [P_RMC] = "RemoveContainer", [P_STOPSB] = "StopPodSandbox",
                                      [P_RMSB] = "RemovePodSandbox"};
  pod_t *p = data;
  if (st->code != CRI_OK) {
    pod_fail(p, names[p->phase], st);
    return;
  }
  if (p->phase == P_START)
    p->t_up = ev_time();
  p->phase++;
  if (p->phase == P_UP || p->phase == P_GONE) {
    b.busy--;
    return;
  }
  step(p);
}

/* Start the call of p's phase; its callback moves on to the next. */
static void step(pod_t *p) {
  cri_sandbox_config_t sc = sandbox_config(p);
  int r = 0;
  switch (p->phase) {
  case P_SANDBOX:
    r = cri_run_pod_sandbox(b.cli, &sc, NULL, id_cb, p);
    break;
  case P_CREATE: {
    cri_container_config_t cc = {
        .metadata = {.name = "main"},
        .image = b.image,
        .command = {container_cmd, 3},
        .log_path = "main/0.log",
    };
    cc.lnx.namespace_options.network = sc.lnx.namespace_options.network;
    cc.lnx.namespace_options.pid = CRI_NS_CONTAINER;
    r = cri_create_container(b.cli, p->sandbox_id, &cc, &sc, id_cb, p);
    break;
  }
  case P_START:
    r = cri_start_container(b.cli, p->container_id, done_cb, p);
    break;
  case P_STOP:
    r = cri_stop_container(b.cli, p->container_id, 10, done_cb, p);
    break;
  case P_RMC:
    r = cri_remove_container(b.cli, p->container_id, done_cb, p);
    break;
  case P_STOPSB:
    r = cri_stop_pod_sandbox(b.cli, p->sandbox_id, done_cb, p);
    break;
  case P_RMSB:
    r = cri_remove_pod_sandbox(b.cli, p->sandbox_id, done_cb, p);
    break;
  default:
    return;
  }
  if (r < 0) {
    cri_status_t st = {CRI_INTERNAL, strerror(-r)};
    pod_fail(p, "starting a call", &st);
  }
}

/* Run the loop until no pod is busy or the deadline passes. */
static bool run_until_idle(void) {
  ev_tstamp end = ev_time() + DEADLINE_S;
  while (b.busy > 0 && ev_time() < end)
    ev_run(b.loop, EVRUN_ONCE);
  return b.busy == 0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, c = *(const double *)y;
  return a < c ? -1 : a > c;
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents) {}

static void containerd_cb(void *data, bool up) { *(int *)data = up ? 1 : -1; }

static void usage(void) {
  fprintf(stderr, "usage: cri_direct -n N (-s SOCKET | -d DATA_DIR -p PAUSE_NAME) [-i IMAGE] "
                  "[-c CGROUP_PARENT] [-l LOG_DIR] [-H]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *socket_path = NULL, *data_dir = NULL, *pause_name = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "n:s:d:p:i:c:l:H")) != -1) {
    switch (opt) {
    case 'n':
      b.n = (int)strtol(optarg, NULL, 10);
      break;
    case 's':
      socket_path = optarg;
      break;
    case 'd':
      data_dir = optarg;
      break;
    case 'p':
      pause_name = optarg;
      break;
    case 'i':
      b.image = optarg;
      break;
    case 'c':
      b.cgroup_parent = optarg;
      break;
    case 'l':
      b.log_root = optarg;
      break;
    case 'H':
      b.host_network = true;
      break;
    default:
      usage();
    }
  }
  if (b.n < 1 || b.n > POD_MAX || !socket_path == !data_dir || (data_dir && !pause_name))
    usage();
  signal(SIGPIPE, SIG_IGN);
  b.loop = ev_default_loop(0);
  ev_timer tick;
  ev_timer_init(&tick, tick_cb, 0.1, 0.1);
  ev_timer_start(b.loop, &tick);
  ev_unref(b.loop);

  char err[512];
  agent_containerd_t *sup = NULL;
  if (data_dir) {
    /* containerd as the agent runs it, with k3c's pause image */
    char images[4096];
    int w = snprintf(images, sizeof images, "%s/agent/images", data_dir);
    if (w < 0 || (size_t)w >= sizeof images) {
      fprintf(stderr, "cri_direct: data dir path too long\n");
      return 1;
    }
    agent_containerd_opts_t o = {.data_dir = data_dir, .sandbox_image = pause_name,
                                 .restrict_oom_score_adj = -1};
    int up = 0;
    if (agent_containerd_start(b.loop, &o, containerd_cb, &up, &sup, err, sizeof err) < 0) {
      fprintf(stderr, "cri_direct: containerd: %s\n", err);
      return 1;
    }
    ev_tstamp end = ev_time() + 60;
    while (up != 1 && ev_time() < end)
      ev_run(b.loop, EVRUN_ONCE);
    if (up != 1) {
      fprintf(stderr, "cri_direct: containerd did not come up in 60 s\n");
      agent_containerd_stop(sup, 10);
      return 1;
    }
    socket_path = agent_containerd_socket(sup);
    if (agent_images_import_dir(socket_path, images, NULL, NULL, err, sizeof err) < 0) {
      fprintf(stderr, "cri_direct: images: %s\n", err);
      agent_containerd_stop(sup, 10);
      return 1;
    }
  }
  if (cri_client_new(b.loop, socket_path, &b.cli) < 0) {
    fprintf(stderr, "cri_direct: socket path too long\n");
    agent_containerd_stop(sup, 10);
    return 1;
  }

  int pid = (int)getpid();
  for (int i = 0; i < b.n; i++) {
    pod_t *p = &b.pods[i];
    p->i = i;
    char name[64];
    snprintf(name, sizeof name, "direct-%d-%d", pid, i);
    memcpy(p->name, name, sizeof name);
    snprintf(p->uid, sizeof p->uid, "0d0d0d0d-0000-4000-8000-%06d%06d", pid % 1000000, i);
    snprintf(p->logdir, sizeof p->logdir, "%.400s/%s", b.log_root, name);
  }
  ev_now_update(b.loop);
  double t0 = ev_time();
  b.busy = b.n;
  for (int i = 0; i < b.n; i++) {
    b.pods[i].t0 = t0;
    step(&b.pods[i]);
  }
  bool idle = run_until_idle();
  double t_up = ev_time() - t0;
  double lat[POD_MAX];
  int n_up = 0;
  for (int i = 0; i < b.n; i++)
    if (b.pods[i].phase == P_UP)
      lat[n_up++] = b.pods[i].t_up - b.pods[i].t0;
  qsort(lat, (size_t)n_up, sizeof lat[0], cmp_double);
  if (!idle)
    fprintf(stderr, "cri_direct: %d pods not up after %.0f s\n", b.busy, DEADLINE_S);

  /* Take down what came up, and the sandboxes of pods that failed later. */
  double t1 = ev_time();
  b.busy = 0;
  for (int i = 0; i < b.n; i++) {
    pod_t *p = &b.pods[i];
    if (p->phase == P_UP)
      p->phase = P_STOP;
    else if (p->sandbox_id[0] && p->phase == P_FAILED)
      p->phase = P_STOPSB;
    else
      continue;
    b.busy++;
    step(p);
  }
  idle = run_until_idle() && idle;
  double t_down = ev_time() - t1;

  printf("cri_direct n=%d up_s=%.3f p50_s=%.3f max_s=%.3f down_s=%.3f failed=%d\n", b.n, t_up,
         n_up ? lat[n_up / 2] : 0.0, n_up ? lat[n_up - 1] : 0.0, t_down, b.failed);
  cri_client_free(b.cli);
  agent_containerd_stop(sup, 10);
  return b.failed || !idle ? 1 : 0;
}
