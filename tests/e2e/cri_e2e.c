/* End-to-end check of pkg/cri and pkg/agent/containerd against a real
 * containerd (run by tests/e2e/test_cri.sh as root): supervision, the CRI
 * calls a pod's life needs, images imported without a registry, and a
 * containerd restart with the sandbox surviving. Steps build on each
 * other, in order. Environment: K3C_CRI_E2E_DIR (an empty data dir) and
 * K3C_CRI_E2E_IMAGE (a busybox OCI tarball named docker.io/library/
 * busybox:e2e), K3C_CRI_E2E_PAUSE and _PAUSE_NAME (`k3c pause
 * --write-image`'s tarball and the name it printed); both tarballs are in
 * <dir>/agent/images/. K3C_CRI_E2E_DOCKER and K3C_CRI_E2E_DOCKER_GZ:
 * docker-archive (`docker save` layout) busybox tarballs tagged
 * busybox:docker and busybox:docker-gz (a gzip layer), whose
 * /etc/k3c-marker says which they are; <dir>/broken-missing.tar and
 * broken-diff.tar are docker-archives without their layer and with a wrong
 * diff_id. */
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/containerd.h"
#include "agent/images.h"
#include "agent/pause.h"
#include "cri/cri.h"
#include "test.h"
#include "util/fsutil.h"

#define BUSYBOX "docker.io/library/busybox:e2e"

static struct ev_loop *loop;
static agent_containerd_t *sup;
static cri_client_t *cli;
static const char *dir;
static char pause_name[AGENT_PAUSE_NAME_MAX];
static char sandbox_id[256], container_id[256];
static int ups, downs;

/* Every result lands here; done says a callback ran. */
static struct {
  bool done;
  cri_code_t code;
  char msg[512];
  char s1[256], s2[256];
  int64_t i1, i2;
  size_t n;
  bool found;
  char out[256], errs[256];
} res;

static void reset(void) { memset(&res, 0, sizeof res); }

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents) {}

/* Run the loop until cond or secs pass. */
#define WAIT_FOR(cond, secs)                                                                  \
  do {                                                                                        \
    ev_tstamp end_ = ev_time() + (secs);                                                      \
    while (!(cond) && ev_time() < end_)                                                       \
      ev_run(loop, EVRUN_ONCE);                                                               \
  } while (0)

static void wait_done(void) {
  WAIT_FOR(res.done, 150);
  if (!res.done)
    TEST_FAIL("no callback within 150 s");
}

static void copy_status(const cri_status_t *st) {
  res.done = true;
  res.code = st->code;
  snprintf(res.msg, sizeof res.msg, "%s", st->message);
}

#define ASSERT_OK()                                                                           \
  do {                                                                                        \
    wait_done();                                                                              \
    if (res.code != CRI_OK)                                                                   \
      TEST_FAIL("status %s: %s", cri_code_name(res.code), res.msg);                           \
  } while (0)

static void sup_cb(void *data, bool up) {
  if (up)
    ups++;
  else
    downs++;
}

static void done_cb(void *data, const cri_status_t *st) { copy_status(st); }

static void id_cb(void *data, const cri_status_t *st, const char *id) {
  copy_status(st);
  if (id)
    snprintf(res.s1, sizeof res.s1, "%s", id);
}

static void version_cb(void *data, const cri_status_t *st, const cri_version_t *v) {
  copy_status(st);
  if (v) {
    snprintf(res.s1, sizeof res.s1, "%s", v->runtime_name);
    snprintf(res.s2, sizeof res.s2, "%s", v->runtime_api_version);
  }
}

static void status_cb(void *data, const cri_status_t *st, const cri_runtime_status_t *v) {
  copy_status(st);
  for (size_t i = 0; v && i < v->n_conditions; i++)
    if (!strcmp(v->conditions[i].type, "RuntimeReady"))
      res.found = v->conditions[i].status;
}

static void image_status_cb(void *data, const cri_status_t *st, const cri_image_t *im) {
  copy_status(st);
  res.found = im != NULL;
  if (im) {
    snprintf(res.s1, sizeof res.s1, "%s", im->id);
    res.i1 = (int64_t)im->size;
    res.n = im->repo_tags.n;
  }
}

static void image_list_cb(void *data, const cri_status_t *st, const cri_image_t *v, size_t n) {
  copy_status(st);
  res.n = n;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < v[i].repo_tags.n; j++)
      if (!strcmp(v[i].repo_tags.v[j], BUSYBOX))
        res.found = true;
}

static void sandbox_status_cb(void *data, const cri_status_t *st, const cri_sandbox_status_t *v) {
  copy_status(st);
  if (v) {
    res.i1 = v->state;
    res.i2 = v->namespace_options.network;
    snprintf(res.s1, sizeof res.s1, "%s", v->metadata.name);
    for (size_t i = 0; i < v->labels.n; i++)
      if (!strcmp(v->labels.v[i].key, "k3c.io/test"))
        snprintf(res.s2, sizeof res.s2, "%s", v->labels.v[i].value);
  }
}

static void sandbox_list_cb(void *data, const cri_status_t *st, const cri_sandbox_t *v, size_t n) {
  copy_status(st);
  res.n = n;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i].id, sandbox_id))
      res.found = true, res.i1 = v[i].state;
}

static void container_status_cb(void *data, const cri_status_t *st,
                                const cri_container_status_t *v) {
  copy_status(st);
  if (v) {
    res.i1 = v->state;
    res.i2 = v->exit_code;
    snprintf(res.s1, sizeof res.s1, "%s", v->image_ref);
    snprintf(res.s2, sizeof res.s2, "%s", v->metadata.name);
  }
}

static void container_list_cb(void *data, const cri_status_t *st, const cri_container_t *v,
                              size_t n) {
  copy_status(st);
  res.n = n;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i].id, container_id))
      res.found = true, res.i1 = v[i].state;
}

static void exec_cb(void *data, const cri_status_t *st, const cri_exec_result_t *v) {
  copy_status(st);
  if (v) {
    snprintf(res.out, sizeof res.out, "%.*s", (int)v->stdout_len, (const char *)v->stdout_);
    snprintf(res.errs, sizeof res.errs, "%.*s", (int)v->stderr_len, (const char *)v->stderr_);
    res.i1 = v->exit_code;
  }
}

static void fs_cb(void *data, const cri_status_t *st, const cri_fs_usage_t *ifs, size_t ni,
                  const cri_fs_usage_t *cfs, size_t nc) {
  copy_status(st);
  res.n = ni;
  if (ni)
    snprintf(res.s1, sizeof res.s1, "%s", ifs[0].mountpoint), res.i1 = (int64_t)ifs[0].used_bytes;
}

static cri_kv_t sb_labels[] = {{"k3c.io/test", "cri-e2e"}};

static cri_sandbox_config_t sandbox_config(void) {
  static char logdir[512];
  snprintf(logdir, sizeof logdir, "%s/pods/e2e", dir);
  cri_sandbox_config_t c = {
      .metadata = {.name = "e2e", .uid = "0e2e0000-0000-0000-0000-000000000001",
                   .namespace_ = "default"},
      /* no hostname: with the host network there is no UTS namespace to set */
      .log_directory = logdir,
      .labels = {sb_labels, 1},
  };
  /* Host network: no CNI needed, nothing left in the host's netns. */
  c.lnx.namespace_options.network = CRI_NS_NODE;
  c.lnx.cgroup_parent = "/k3c-e2e";
  return c;
}

static void test_containerd_starts(void) {
  dir = getenv("K3C_CRI_E2E_DIR");
  ASSERT_NOT_NULL(dir);
  char err[512];
  /* `k3c pause --write-image` wrote it (the image holds the k3c binary) */
  ASSERT_NOT_NULL(getenv("K3C_CRI_E2E_PAUSE"));
  snprintf(pause_name, sizeof pause_name, "%s", getenv("K3C_CRI_E2E_PAUSE_NAME"));
  ASSERT_CONTAINS(pause_name, "localhost/k3c/pause:");
  int r;
  agent_containerd_opts_t o = {.data_dir = dir, .sandbox_image = pause_name,
                               .restrict_oom_score_adj = -1};
  r = agent_containerd_start(loop, &o, sup_cb, NULL, &sup, err, sizeof err);
  if (r < 0)
    TEST_FAIL("start: %s", err);
  WAIT_FOR(ups == 1, 60);
  ASSERT_EQ_INT(ups, 1);
  ASSERT_TRUE(agent_containerd_pid(sup) > 0);
  char cfg[4096], sock[4096];
  agent_containerd_paths(&o, cfg, sock);
  char *text = NULL;
  size_t len;
  ASSERT_EQ_INT(fs_read_file(cfg, 1 << 20, &text, &len), 0);
  ASSERT_CONTAINS(text, pause_name);
  ASSERT_CONTAINS(text, "restrict_oom_score_adj");
  free(text);
  ASSERT_EQ_INT(cri_client_new(loop, agent_containerd_socket(sup), &cli), 0);
}

static void test_version_and_status(void) {
  reset();
  ASSERT_EQ_INT(cri_version(cli, version_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_STR(res.s1, "containerd");
  ASSERT_EQ_STR(res.s2, "v1");
  reset();
  ASSERT_EQ_INT(cri_status(cli, status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_TRUE(res.found); /* RuntimeReady */
}

static void test_import_images(void) {
  char err[512], images[512];
  size_t n = 0;
  /* the images folder holds the pause and busybox tarballs and a stray file */
  snprintf(images, sizeof images, "%s/agent/images", dir);
  int r = agent_images_import_dir(agent_containerd_socket(sup), images, NULL, &n, err,
                                  sizeof err);
  if (r < 0)
    TEST_FAIL("images folder import: %s", err);
  ASSERT_EQ_INT(n, 2);
  /* importing again reuses what is there */
  r = cri_image_import(agent_containerd_socket(sup), getenv("K3C_CRI_E2E_IMAGE"), NULL, &n, err,
                       sizeof err);
  if (r < 0)
    TEST_FAIL("second busybox import: %s", err);
  reset();
  ASSERT_EQ_INT(cri_image_status(cli, BUSYBOX, image_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_TRUE(res.found);
  ASSERT_CONTAINS(res.s1, "sha256:");
  ASSERT_TRUE(res.i1 > 500000); /* busybox is about a megabyte */
  reset();
  ASSERT_EQ_INT(cri_image_status(cli, pause_name, image_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_TRUE(res.found);
  reset();
  ASSERT_EQ_INT(cri_list_images(cli, NULL, image_list_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_TRUE(res.found);
  ASSERT_GE_INT(res.n, 2);
  reset();
  ASSERT_EQ_INT(cri_image_status(cli, "docker.io/library/nope:1", image_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_FALSE(res.found);
  reset();
  ASSERT_EQ_INT(cri_image_fs_info(cli, fs_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_GE_INT(res.n, 1);
  ASSERT_CONTAINS(res.s1, dir);
}

/* docker-archive tarballs: short RepoTags come out normalised, and the
 * layers (unlike the OCI image's) are new to containerd. */
static const struct {
  const char *env, *image, *marker;
} docker_images[] = {
    {"K3C_CRI_E2E_DOCKER", "docker.io/library/busybox:docker", "docker-archive"},
    {"K3C_CRI_E2E_DOCKER_GZ", "docker.io/library/busybox:docker-gz", "docker-archive gzip"},
};

static void test_import_docker_archive(void) {
  char err[512];
  for (size_t i = 0; i < 2; i++) {
    size_t n = 0;
    const char *path = getenv(docker_images[i].env);
    ASSERT_NOT_NULL(path);
    int r = cri_image_import(agent_containerd_socket(sup), path, NULL, &n, err, sizeof err);
    if (r < 0)
      TEST_FAIL("%s: %s", path, err);
    ASSERT_EQ_INT(n, 1);
    reset();
    ASSERT_EQ_INT(cri_image_status(cli, docker_images[i].image, image_status_cb, NULL), 0);
    ASSERT_OK();
    ASSERT_TRUE(res.found);
    ASSERT_CONTAINS(res.s1, "sha256:");
    ASSERT_TRUE(res.i1 > 500000);
    /* again: everything is reused */
    r = cri_image_import(agent_containerd_socket(sup), path, NULL, &n, err, sizeof err);
    if (r < 0)
      TEST_FAIL("%s again: %s", path, err);
  }
  /* broken archives fail with a reason naming the layer, and import nothing */
  static const char *const broken[][2] = {{"broken-missing.tar", "/layer.tar missing"},
                                           {"broken-diff.tar", "the config's diff_id says"}};
  for (size_t i = 0; i < 2; i++) {
    char path[512];
    size_t n = 7;
    snprintf(path, sizeof path, "%s/%s", dir, broken[i][0]);
    ASSERT_EQ_INT(cri_image_import(agent_containerd_socket(sup), path, NULL, &n, err, sizeof err),
                  -EBADMSG);
    ASSERT_CONTAINS(err, "docker.io/library/busybox:broken: layer ");
    ASSERT_CONTAINS(err, broken[i][1]);
    ASSERT_EQ_INT(n, 7);
  }
  reset();
  ASSERT_EQ_INT(cri_image_status(cli, "docker.io/library/busybox:broken", image_status_cb, NULL),
                0);
  ASSERT_OK();
  ASSERT_FALSE(res.found);
}

static void test_run_sandbox(void) {
  cri_sandbox_config_t sc = sandbox_config();
  reset();
  ASSERT_EQ_INT(cri_run_pod_sandbox(cli, &sc, NULL, id_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_INT(strlen(res.s1), 64);
  snprintf(sandbox_id, sizeof sandbox_id, "%s", res.s1);
  reset();
  ASSERT_EQ_INT(cri_pod_sandbox_status(cli, sandbox_id, sandbox_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_INT(res.i1, CRI_SANDBOX_READY);
  ASSERT_EQ_INT(res.i2, CRI_NS_NODE);
  ASSERT_EQ_STR(res.s1, "e2e");
  ASSERT_EQ_STR(res.s2, "cri-e2e");
}

static void test_run_container(void) {
  cri_sandbox_config_t sc = sandbox_config();
  static const char *const cmd[] = {"sh", "-c", "echo hi; sleep 30"};
  static const cri_kv_t env[] = {{"GREETING", "hello"}};
  cri_container_config_t cc = {
      .metadata = {.name = "main"},
      .image = BUSYBOX,
      .command = {cmd, 3},
      .envs = env,
      .n_envs = 1,
      .log_path = "main/0.log",
  };
  cc.lnx.namespace_options.network = CRI_NS_NODE;
  cc.lnx.namespace_options.pid = CRI_NS_CONTAINER;
  reset();
  ASSERT_EQ_INT(cri_create_container(cli, sandbox_id, &cc, &sc, id_cb, NULL), 0);
  ASSERT_OK();
  snprintf(container_id, sizeof container_id, "%s", res.s1);
  reset();
  ASSERT_EQ_INT(cri_start_container(cli, container_id, done_cb, NULL), 0);
  ASSERT_OK();
  reset();
  ASSERT_EQ_INT(cri_container_status(cli, container_id, container_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_INT(res.i1, CRI_CONTAINER_RUNNING);
  ASSERT_EQ_STR(res.s2, "main");
  ASSERT_CONTAINS(res.s1, "sha256:");
  reset();
  cri_container_filter_t f = {.pod_sandbox_id = sandbox_id};
  ASSERT_EQ_INT(cri_list_containers(cli, &f, container_list_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_TRUE(res.found);
  ASSERT_EQ_INT(res.i1, CRI_CONTAINER_RUNNING);
  /* the CRI log file holds the container's first line */
  char path[512];
  snprintf(path, sizeof path, "%s/pods/e2e/main/0.log", dir);
  char *text = NULL;
  size_t len;
  for (int i = 0; i < 50 && !(text && strstr(text, "stdout F hi")); i++) {
    free(text);
    text = NULL;
    fs_read_file(path, 1 << 20, &text, &len);
    ev_sleep(0.1);
  }
  ASSERT_CONTAINS(text, "stdout F hi");
  free(text);
}

/* A container from each docker-archive image runs and sees its own layer. */
static void test_run_docker_images(void) {
  cri_sandbox_config_t sc = sandbox_config();
  static const char *const cmd[] = {"cat", "/etc/k3c-marker"};
  for (size_t i = 0; i < 2; i++) {
    char name[32], log[64];
    snprintf(name, sizeof name, "docker%zu", i);
    snprintf(log, sizeof log, "docker%zu/0.log", i);
    cri_container_config_t cc = {
        .metadata = {.name = name},
        .image = docker_images[i].image,
        .command = {cmd, 2},
        .log_path = log,
    };
    cc.lnx.namespace_options.network = CRI_NS_NODE;
    cc.lnx.namespace_options.pid = CRI_NS_CONTAINER;
    reset();
    ASSERT_EQ_INT(cri_create_container(cli, sandbox_id, &cc, &sc, id_cb, NULL), 0);
    ASSERT_OK();
    char id[256];
    snprintf(id, sizeof id, "%s", res.s1);
    reset();
    ASSERT_EQ_INT(cri_start_container(cli, id, done_cb, NULL), 0);
    ASSERT_OK();
    for (int k = 0; k < 100; k++) {
      reset();
      ASSERT_EQ_INT(cri_container_status(cli, id, container_status_cb, NULL), 0);
      ASSERT_OK();
      if (res.i1 == CRI_CONTAINER_EXITED)
        break;
      ev_sleep(0.1);
    }
    ASSERT_EQ_INT(res.i1, CRI_CONTAINER_EXITED);
    ASSERT_EQ_INT(res.i2, 0);
    char path[512], want[64];
    snprintf(path, sizeof path, "%s/pods/e2e/%s", dir, log);
    snprintf(want, sizeof want, "stdout F %s", docker_images[i].marker);
    char *text = NULL;
    size_t len;
    ASSERT_EQ_INT(fs_read_file(path, 1 << 20, &text, &len), 0);
    if (!strstr(text, want)) {
      char got[256];
      snprintf(got, sizeof got, "%s", text);
      free(text);
      TEST_FAIL("%s: log has \"%s\", want \"%s\"", docker_images[i].image, got, want);
    }
    free(text);
    reset();
    ASSERT_EQ_INT(cri_remove_container(cli, id, done_cb, NULL), 0);
    ASSERT_OK();
  }
}

static void test_exec_sync(void) {
  static const char *const cmd[] = {"sh", "-c", "echo $GREETING; echo err >&2; exit 3"};
  reset();
  ASSERT_EQ_INT(cri_exec_sync(cli, container_id, (cri_strv_t){cmd, 3}, 10, exec_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_STR(res.out, "hello\n");
  ASSERT_EQ_STR(res.errs, "err\n");
  ASSERT_EQ_INT(res.i1, 3);
}

static void test_errors_keep_message(void) {
  reset();
  ASSERT_EQ_INT(cri_container_status(cli, "no-such-container", container_status_cb, NULL), 0);
  wait_done();
  ASSERT_EQ_INT(res.code, CRI_NOT_FOUND);
  ASSERT_CONTAINS(res.msg, "no-such-container");
  cri_status_t st = {res.code, res.msg};
  ASSERT_EQ_INT(cri_status_errno(&st), -ENOENT);
}

static void test_containerd_restart(void) {
  pid_t old = agent_containerd_pid(sup);
  ASSERT_TRUE(old > 0);
  ASSERT_EQ_INT(kill(old, SIGKILL), 0);
  WAIT_FOR(downs == 1 && ups == 2, 60);
  ASSERT_EQ_INT(downs, 1);
  ASSERT_EQ_INT(ups, 2);
  ASSERT_EQ_INT(agent_containerd_starts(sup), 2);
  ASSERT_TRUE(agent_containerd_pid(sup) != old);
  /* The client reconnects by itself; the sandbox and its container live on. */
  reset();
  ASSERT_EQ_INT(cri_list_pod_sandbox(cli, NULL, sandbox_list_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_TRUE(res.found);
  ASSERT_EQ_INT(res.i1, CRI_SANDBOX_READY);
  reset();
  ASSERT_EQ_INT(cri_container_status(cli, container_id, container_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_INT(res.i1, CRI_CONTAINER_RUNNING);
}

static void test_cleanup(void) {
  reset();
  ASSERT_EQ_INT(cri_stop_container(cli, container_id, 1, done_cb, NULL), 0);
  ASSERT_OK();
  reset();
  ASSERT_EQ_INT(cri_container_status(cli, container_id, container_status_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_EQ_INT(res.i1, CRI_CONTAINER_EXITED);
  ASSERT_EQ_INT(res.i2, 137); /* sh as PID 1 ignores SIGTERM: killed after 1 s */
  reset();
  ASSERT_EQ_INT(cri_remove_container(cli, container_id, done_cb, NULL), 0);
  ASSERT_OK();
  reset();
  ASSERT_EQ_INT(cri_stop_pod_sandbox(cli, sandbox_id, done_cb, NULL), 0);
  ASSERT_OK();
  reset();
  ASSERT_EQ_INT(cri_remove_pod_sandbox(cli, sandbox_id, done_cb, NULL), 0);
  ASSERT_OK();
  reset();
  ASSERT_EQ_INT(cri_list_pod_sandbox(cli, NULL, sandbox_list_cb, NULL), 0);
  ASSERT_OK();
  ASSERT_FALSE(res.found);
  reset();
  ASSERT_EQ_INT(cri_remove_image(cli, BUSYBOX, done_cb, NULL), 0);
  ASSERT_OK();
}

static void test_stop_and_unavailable(void) {
  pid_t pid = agent_containerd_pid(sup);
  agent_containerd_stop(sup, 10);
  sup = NULL;
  ASSERT_TRUE(kill(pid, 0) < 0 && errno == ESRCH);
  reset();
  ASSERT_EQ_INT(cri_version(cli, version_cb, NULL), 0);
  wait_done();
  ASSERT_EQ_INT(res.code, CRI_UNAVAILABLE);
  ASSERT_CONTAINS(res.msg, "connect");
  cri_client_free(cli);
  cli = NULL;
}

TEST_LIST = {
    TEST(test_containerd_starts),   TEST(test_version_and_status), TEST(test_import_images),
    TEST(test_import_docker_archive), TEST(test_run_sandbox),      TEST(test_run_container),
    TEST(test_run_docker_images),   TEST(test_exec_sync),
    TEST(test_errors_keep_message), TEST(test_containerd_restart), TEST(test_cleanup),
    TEST(test_stop_and_unavailable), {0},
};
TEST_MAIN()

static void setup(void) __attribute__((constructor));
static void setup(void) {
  static ev_timer tick;
  signal(SIGPIPE, SIG_IGN);
  loop = ev_default_loop(0);
  ev_timer_init(&tick, tick_cb, 0.1, 0.1);
  ev_timer_start(loop, &tick);
  ev_unref(loop);
}

static void teardown(void) __attribute__((destructor));
static void teardown(void) {
  cri_client_free(cli);
  agent_containerd_stop(sup, 10);
}
