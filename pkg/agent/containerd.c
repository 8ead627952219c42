/* pkg/agent/containerd: start and supervise containerd for the node agent
 * with a generated config (containerd 1.6 config version 2; the CRI
 * plugin's options as its docs/cri/config.md lists them). Restarts wait for
 * the old process to exit first: a second containerd would block on the
 * bolt database lock while the old one kept serving the socket. */
#include "agent/containerd.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/registries.h"
#include "cri/cri.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/errbuf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/toml.h"

#define OVERLAYFS_MAGIC 0x794c7630
#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 30.0
#define PROBE_INTERVAL 0.1
/* The config with the largest registries file (1 MiB of YAML) it takes. */
#define CONFIG_MAX (4u << 20)

struct agent_containerd {
  struct ev_loop *loop;
  char *bin, *config, *socket, *pidfile, *logfile;
  pid_t pid;
  bool up;
  unsigned starts;
  double backoff;
  ev_tstamp started_at;
  ev_child child;
  ev_timer probe;   /* does CRI answer yet? */
  cri_client_t *cri; /* for the probe's Version calls */
  bool probing;
  ev_timer restart; /* back-off before the next start */
  agent_containerd_cb cb;
  void *data;
};

static void path_join(char *out, const char *a, const char *b) {
  snprintf(out, PATH_MAX, "%s/%s", a, b);
}

void agent_containerd_paths(const agent_containerd_opts_t *o, char *ret_config, char *ret_socket) {
  path_join(ret_config, o->data_dir, "agent/etc/containerd/config.toml");
  path_join(ret_socket, o->data_dir, "agent/run/containerd/containerd.sock");
}

/* Can this process lower its oom_score_adj? Not without CAP_SYS_RESOURCE. */
static bool has_cap_sys_resource(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  bool has = true;
  if (!f)
    return true;
  while (fgets(line, sizeof line, f)) {
    unsigned long long caps;
    if (sscanf(line, "CapEff: %llx", &caps) == 1) {
      has = (caps >> 24) & 1; /* CAP_SYS_RESOURCE */
      break;
    }
  }
  fclose(f);
  return has;
}

/* overlayfs where the kernel has it and the root is not on overlay itself. */
static const char *pick_snapshotter(const char *root) {
  struct statfs sf;
  if (statfs(root, &sf) == 0 && (unsigned long)sf.f_type == OVERLAYFS_MAGIC)
    return "native";
  FILE *f = fopen("/proc/filesystems", "re");
  char line[128];
  bool overlay = false;
  if (f) {
    while (fgets(line, sizeof line, f))
      if (strstr(line, "\toverlay\n"))
        overlay = true;
    fclose(f);
  }
  return overlay ? "overlayfs" : "native";
}

static const char *find_runc(const char *given) {
  if (given)
    return given;
  return access("/usr/sbin/runc", X_OK) == 0 ? "/usr/sbin/runc" : "runc";
}

static void kv(buf_t *b, const char *indent, const char *key, const char *val) {
  buf_printf(b, "%s%s = ", indent, key);
  toml_append_str(b, val);
  buf_append_str(b, "\n");
}

int agent_containerd_config_write(const agent_containerd_opts_t *o, char *err, size_t errlen) {
  char config[PATH_MAX], sock[PATH_MAX], root[PATH_MAX], state[PATH_MAX], opt[PATH_MAX],
      cni_conf[PATH_MAX], dir[PATH_MAX], ttrpc[PATH_MAX + 8];
  int r;
  if (!o->data_dir || !o->sandbox_image) {
    errbuf_set(err, errlen, "containerd: data dir and sandbox image are required");
    return -EINVAL;
  }
  agent_containerd_paths(o, config, sock);
  path_join(root, o->data_dir, "agent/containerd");
  path_join(state, o->data_dir, "agent/run/containerd");
  path_join(opt, o->data_dir, "agent/containerd/opt");
  if (o->cni_conf_dir)
    snprintf(cni_conf, sizeof cni_conf, "%s", o->cni_conf_dir);
  else
    path_join(cni_conf, o->data_dir, "agent/etc/cni/net.d");
  if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    errbuf_set(err, errlen, "containerd: socket path %s is too long for a unix socket", sock);
    return -ENAMETOOLONG;
  }
  snprintf(ttrpc, sizeof ttrpc, "%s.ttrpc", sock);
  path_join(dir, o->data_dir, "agent/etc/containerd");
  const char *dirs[] = {dir, root, state, cni_conf};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if ((r = fs_mkdir_p(dirs[i], 0700)) < 0) {
      errbuf_set(err, errlen, "containerd: mkdir %s: %s", dirs[i], strerror(-r));
      return r;
    }
  cJSON *reg = NULL;
  if (o->registries_file &&
      (r = agent_registries_load(o->registries_file, &reg, err, errlen)) < 0)
    return r;
  bool restrict_oom =
      o->restrict_oom_score_adj < 0 ? !has_cap_sys_resource() : o->restrict_oom_score_adj > 0;
  char port[16];
  snprintf(port, sizeof port, "%d", o->stream_port > 0 ? o->stream_port : 0);

  buf_t b;
  buf_init(&b, CONFIG_MAX);
  buf_append_str(&b, "# Written by k3c at every agent start; edits are overwritten.\nversion = 2\n");
  kv(&b, "", "root", root);
  kv(&b, "", "state", state);
  buf_append_str(&b, "\n[grpc]\n");
  kv(&b, "  ", "address", sock);
  buf_append_str(&b, "\n[ttrpc]\n");
  kv(&b, "  ", "address", ttrpc);
  buf_append_str(&b, "\n[plugins.\"io.containerd.internal.v1.opt\"]\n");
  kv(&b, "  ", "path", opt);
  buf_append_str(&b, "\n[plugins.\"io.containerd.grpc.v1.cri\"]\n");
  kv(&b, "  ", "sandbox_image", o->sandbox_image);
  kv(&b, "  ", "stream_server_address", "127.0.0.1");
  kv(&b, "  ", "stream_server_port", port);
  buf_printf(&b, "  restrict_oom_score_adj = %s\n", restrict_oom ? "true" : "false");
  buf_append_str(&b, "  enable_selinux = false\n");
  buf_append_str(&b, "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n");
  kv(&b, "  ", "snapshotter", o->snapshotter ? o->snapshotter : pick_snapshotter(root));
  kv(&b, "  ", "default_runtime_name", "runc");
  buf_append_str(&b, "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n");
  kv(&b, "  ", "runtime_type", "io.containerd.runc.v2");
  buf_append_str(&b,
                 "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n");
  buf_append_str(&b, "  SystemdCgroup = false\n");
  kv(&b, "  ", "BinaryName", find_runc(o->runc_bin));
  buf_append_str(&b, "\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n");
  kv(&b, "  ", "bin_dir", o->cni_bin_dir ? o->cni_bin_dir : "/opt/cni/bin");
  kv(&b, "  ", "conf_dir", cni_conf);
  buf_append_str(&b, "  max_conf_num = 1\n");
  if (reg) {
    buf_append_str(&b, "\n# Registry mirrors and credentials (--private-registry)\n");
    r = agent_registries_toml(reg, &b);
    cJSON_Delete(reg);
    if (r < 0) {
      errbuf_set(err, errlen, "containerd: %s makes a config over %zu bytes", o->registries_file,
                 b.limit);
      buf_done(&b);
      return r;
    }
  }
  r = fs_write_atomic(config, b.data, b.len, 0600);
  buf_done(&b);
  if (r < 0)
    errbuf_set(err, errlen, "containerd: write %s: %s", config, strerror(-r));
  return r;
}

/* Does pid run containerd with our config file? */
static bool is_our_containerd(pid_t pid, const char *config) {
  char path[64], cmd[4096];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read(fd, cmd, sizeof cmd - 1);
  close(fd);
  if (n <= 0)
    return false;
  cmd[n] = 0;
  for (ssize_t i = 0; i < n; i++) /* arguments are NUL-separated */
    if (!cmd[i])
      cmd[i] = ' ';
  return strstr(cmd, "containerd") && strstr(cmd, config);
}

/* Wait up to timeout_s for pid (not our child) to disappear. */
static bool wait_gone(pid_t pid, double timeout_s) {
  for (double t = 0; t < timeout_s; t += 0.05) {
    if (kill(pid, 0) < 0 && errno == ESRCH)
      return true;
    /* A zombie still answers kill(0); look at its state. */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      char *p = n > 0 ? (buf[n] = 0, strrchr(buf, ')')) : NULL;
      if (p && p[1] == ' ' && p[2] == 'Z')
        return true;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

/* End a containerd left by an earlier run of this data dir. */
static void end_leftover(agent_containerd_t *s) {
  char *txt = NULL;
  size_t len;
  if (fs_read_file(s->pidfile, 64, &txt, &len) < 0)
    return;
  long pid = strtol(txt, NULL, 10);
  free(txt);
  if (pid <= 1 || !is_our_containerd((pid_t)pid, s->config))
    return;
  log_info("containerd", "ending containerd %ld left by an earlier run", pid);
  kill((pid_t)pid, SIGTERM);
  if (!wait_gone((pid_t)pid, 10)) {
    kill((pid_t)pid, SIGKILL);
    wait_gone((pid_t)pid, 5);
  }
}

static void set_up(agent_containerd_t *s, bool up) {
  if (s->up == up)
    return;
  s->up = up;
  if (s->cb)
    s->cb(s->data, up);
}

static int spawn(agent_containerd_t *s) {
  unlink(s->socket); /* a stale socket would look like a live containerd */
  int logfd = open(s->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (logfd < 0)
    return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(logfd);
    return -e;
  }
  if (pid == 0) {
    /* Its own session: a terminal's ^C to the agent does not reach it, and
     * it outlives the agent as containerd does under k3s. */
    setsid();
    dup2(logfd, 1);
    dup2(logfd, 2);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0)
      dup2(nul, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    execlp(s->bin, s->bin, "--config", s->config, (char *)NULL);
    dprintf(2, "k3c: exec %s: %s\n", s->bin, strerror(errno));
    _exit(127);
  }
  close(logfd);
  s->pid = pid;
  s->starts++;
  s->started_at = ev_now(s->loop);
  char txt[32];
  int n = snprintf(txt, sizeof txt, "%d\n", (int)pid);
  fs_write_atomic(s->pidfile, txt, (size_t)n, 0600);
  ev_child_set(&s->child, pid, 0);
  ev_child_start(s->loop, &s->child);
  ev_timer_set(&s->probe, PROBE_INTERVAL, PROBE_INTERVAL);
  ev_timer_start(s->loop, &s->probe);
  log_info("containerd", "started containerd (pid %d, config %s)", (int)pid, s->config);
  return 0;
}

/* Up means CRI answers Version: the socket is served before the CRI
 * plugin has recovered its state ("server is not initialized yet"). */
static void probe_done(void *data, const cri_status_t *st, const cri_version_t *v) {
  agent_containerd_t *s = data;
  s->probing = false;
  if (st->code != CRI_OK || !s->pid || s->up)
    return;
  ev_timer_stop(s->loop, &s->probe);
  log_info("containerd", "containerd %s is up (%.1f s after start)", v->runtime_version,
           ev_now(s->loop) - s->started_at);
  set_up(s, true);
}

static void probe_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_containerd_t *s = (agent_containerd_t *)((char *)w - offsetof(agent_containerd_t, probe));
  if (s->probing)
    return;
  s->probing = cri_version(s->cri, probe_done, s) == 0;
}

static void restart_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_containerd_t *s =
      (agent_containerd_t *)((char *)w - offsetof(agent_containerd_t, restart));
  int r = spawn(s);
  if (r < 0) {
    log_error("containerd", "cannot start %s: %s; retrying in %.0f s", s->bin, strerror(-r),
              s->backoff);
    ev_timer_set(&s->restart, s->backoff, 0);
    ev_timer_start(loop, &s->restart);
    s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2;
  }
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents) {
  agent_containerd_t *s = (agent_containerd_t *)((char *)w - offsetof(agent_containerd_t, child));
  ev_child_stop(loop, w);
  ev_timer_stop(loop, &s->probe);
  int st = w->rstatus;
  if (WIFSIGNALED(st))
    log_warn("containerd", "containerd (pid %d) was killed by signal %d", (int)s->pid,
             WTERMSIG(st));
  else
    log_warn("containerd", "containerd (pid %d) exited with status %d", (int)s->pid,
             WEXITSTATUS(st));
  s->pid = 0;
  cri_client_reset(s->cri);
  /* The process is reaped, so its bolt lock is free: restart. Running a
   * minute resets the back-off; quick deaths double it. */
  if (ev_now(loop) - s->started_at > 60)
    s->backoff = BACKOFF_MIN;
  double delay = s->starts == 1 || s->backoff == BACKOFF_MIN ? 0 : s->backoff;
  s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2;
  log_info("containerd", "restarting containerd in %.0f s", delay);
  ev_timer_set(&s->restart, delay, 0);
  ev_timer_start(loop, &s->restart);
  set_up(s, false);
}

int agent_containerd_start(struct ev_loop *loop, const agent_containerd_opts_t *o,
                           agent_containerd_cb cb, void *data, agent_containerd_t **ret,
                           char *err, size_t errlen) {
  char config[PATH_MAX], sock[PATH_MAX], path[PATH_MAX];
  if (loop != ev_default_loop(0)) {
    errbuf_set(err, errlen, "containerd: supervision needs the default loop");
    return -EINVAL;
  }
  int r = agent_containerd_config_write(o, err, errlen);
  if (r < 0)
    return r;
  agent_containerd_paths(o, config, sock);
  agent_containerd_t *s = xcalloc(1, sizeof *s);
  s->loop = loop;
  s->bin = xstrdup(o->containerd_bin ? o->containerd_bin : "containerd");
  s->config = xstrdup(config);
  s->socket = xstrdup(sock);
  path_join(path, o->data_dir, "agent/containerd/containerd.pid");
  s->pidfile = xstrdup(path);
  path_join(path, o->data_dir, "agent/containerd/containerd.log");
  s->logfile = xstrdup(path);
  s->cb = cb;
  s->data = data;
  s->backoff = BACKOFF_MIN;
  ev_child_init(&s->child, child_cb, 0, 0);
  ev_timer_init(&s->probe, probe_cb, PROBE_INTERVAL, PROBE_INTERVAL);
  ev_timer_init(&s->restart, restart_cb, 0, 0);
  if ((r = cri_client_new(loop, s->socket, &s->cri)) < 0) {
    errbuf_set(err, errlen, "containerd: bad socket path %s", s->socket);
    agent_containerd_stop(s, 0);
    return r;
  }
  cri_client_set_timeout(s->cri, 2000);
  end_leftover(s);
  if ((r = spawn(s)) < 0) {
    errbuf_set(err, errlen, "containerd: cannot start %s: %s", s->bin, strerror(-r));
    agent_containerd_stop(s, 0);
    return r;
  }
  *ret = s;
  return 0;
}

void agent_containerd_stop(agent_containerd_t *s, int timeout_s) {
  if (!s)
    return;
  ev_child_stop(s->loop, &s->child);
  ev_timer_stop(s->loop, &s->probe);
  ev_timer_stop(s->loop, &s->restart);
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    int st;
    bool gone = false;
    for (int i = 0; i < timeout_s * 20 && !gone; i++) {
      if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        gone = true;
        break;
      }
      struct timespec ts = {0, 50 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (!gone) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &st, 0);
    }
    unlink(s->pidfile);
    log_info("containerd", "stopped containerd (pid %d)", (int)s->pid);
  }
  s->pid = 0;
  cri_client_free(s->cri); /* a pending probe completes, cancelled, here */
  free(s->bin);
  free(s->config);
  free(s->socket);
  free(s->pidfile);
  free(s->logfile);
  free(s);
}

const char *agent_containerd_socket(const agent_containerd_t *s) { return s->socket; }
pid_t agent_containerd_pid(const agent_containerd_t *s) { return s->pid; }
unsigned agent_containerd_starts(const agent_containerd_t *s) { return s->starts; }
bool agent_containerd_is_up(const agent_containerd_t *s) { return s->up; }
