/* Container log rotation by size, as the kubelet's container log manager
 * (logrotate.h). https://kubernetes.io/docs/concepts/cluster-administration/logging/#log-rotation */
#include "agent/logrotate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/podspec.h"
#include "util/alloc.h"
#include "util/log.h"

#define ROTATED_MAX 256 /* rotated files looked at per container */

void agent_logrotate_plan(int64_t size, size_t n_rotated, const agent_logrotate_policy_t *pol,
                          agent_logrotate_plan_t *ret) {
  size_t keep = pol->max_files > 1 ? (size_t)pol->max_files - 1 : 1;
  ret->rotate = pol->max_size > 0 && size >= pol->max_size;
  size_t after = n_rotated + (ret->rotate ? 1 : 0);
  ret->n_delete = after > keep ? after - keep : 0;
  if (ret->n_delete > n_rotated)
    ret->n_delete = n_rotated;
}

int agent_logrotate_name(const char *log, time_t now, char *out, size_t len) {
  struct tm tm;
  char ts[32];
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
  int n = snprintf(out, len, "%s.%s", log, ts);
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool agent_logrotate_is_rotated(const char *log_base, const char *name) {
  size_t n = strlen(log_base);
  if (strncmp(name, log_base, n) || name[n] != '.')
    return false;
  const char *ts = name + n + 1; /* 8 digits, '-', 6 digits */
  if (strlen(ts) != 15 || ts[8] != '-')
    return false;
  for (int i = 0; i < 15; i++)
    if (i != 8 && (ts[i] < '0' || ts[i] > '9'))
      return false;
  return true;
}

/* ---- on the loop ---- */

typedef struct reopen reopen_t;

struct agent_logrotate {
  struct ev_loop *loop;
  cri_client_t *cri;
  char *logs_dir;
  agent_logrotate_policy_t pol;
  ev_timer timer;
  bool busy;
  reopen_t *reopens; /* in flight: their rotator pointer is cleared on free */
};

struct reopen {
  agent_logrotate_t *r;
  reopen_t *next;
  char *log, *rotated;
};

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void reopen_done(void *data, const cri_status_t *st) {
  reopen_t *ro = data;
  agent_logrotate_t *r = ro->r;
  if (r) {
    for (reopen_t **pp = &r->reopens; *pp; pp = &(*pp)->next)
      if (*pp == ro) {
        *pp = ro->next;
        break;
      }
  }
  if (st->code != CRI_OK) {
    /* containerd still writes the renamed file: put it back */
    if (rename(ro->rotated, ro->log) < 0)
      log_warn("kubelet", "log rotation of %s: reopen failed and the rename could not be undone",
               ro->log);
  }
  free(ro->log);
  free(ro->rotated);
  free(ro);
}

/* Rotate one container's current log file when the plan says so. */
static void rotate_one(agent_logrotate_t *r, const char *id, const char *log) {
  struct stat st;
  if (stat(log, &st) < 0)
    return;
  char dir[4096];
  const char *slash = strrchr(log, '/');
  if (!slash || (size_t)(slash - log) >= sizeof(dir))
    return;
  snprintf(dir, sizeof(dir), "%.*s", (int)(slash - log), log);
  const char *base = slash + 1;
  DIR *d = opendir(dir);
  if (!d)
    return;
  char *rotated[ROTATED_MAX];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < ROTATED_MAX)
    if (agent_logrotate_is_rotated(base, e->d_name))
      rotated[n++] = xstrdup(e->d_name);
  closedir(d);
  qsort(rotated, n, sizeof(*rotated), cmp_str); /* the timestamps sort by time */
  agent_logrotate_plan_t plan;
  agent_logrotate_plan((int64_t)st.st_size, n, &r->pol, &plan);
  char path[4352];
  for (size_t i = 0; i < plan.n_delete; i++) {
    int k = snprintf(path, sizeof(path), "%s/%s", dir, rotated[i]);
    if (k > 0 && (size_t)k < sizeof(path) && unlink(path) < 0 && errno != ENOENT)
      log_warn("kubelet", "removing rotated log %s: %s", path, strerror(errno));
  }
  for (size_t i = 0; i < n; i++)
    free(rotated[i]);
  if (!plan.rotate || agent_logrotate_name(log, time(NULL), path, sizeof(path)) < 0 ||
      access(path, F_OK) == 0) /* rotated this second already */
    return;
  if (rename(log, path) < 0)
    return;
  reopen_t *ro = xcalloc(1, sizeof(*ro));
  ro->r = r;
  ro->log = xstrdup(log);
  ro->rotated = xstrdup(path);
  ro->next = r->reopens;
  r->reopens = ro;
  if (cri_reopen_container_log(r->cri, id, reopen_done, ro) < 0) {
    cri_status_t fail = {.code = CRI_UNKNOWN};
    reopen_done(ro, &fail);
  }
}

static const char *label(const cri_map_t *m, const char *key) {
  for (size_t i = 0; i < m->n; i++)
    if (!strcmp(m->v[i].key, key))
      return m->v[i].value;
  return NULL;
}

static void list_done(void *data, const cri_status_t *st, const cri_container_t *items,
                      size_t n) {
  agent_logrotate_t *r = data;
  r->busy = false;
  if (st->code != CRI_OK)
    return;
  for (size_t i = 0; i < n; i++) {
    const cri_container_t *c = &items[i];
    const char *ns = label(&c->labels, AGENT_LABEL_POD_NAMESPACE);
    const char *pod = label(&c->labels, AGENT_LABEL_POD_NAME);
    const char *uid = label(&c->labels, AGENT_LABEL_POD_UID);
    const char *cname = c->metadata.name;
    char log[4096];
    if (!ns || !pod || !uid || !cname || strchr(cname, '/'))
      continue;
    int k = snprintf(log, sizeof(log), "%s/%s_%s_%s/%s/%u.log", r->logs_dir, ns, pod, uid, cname,
                     (unsigned)c->metadata.attempt);
    if (k > 0 && (size_t)k < sizeof(log))
      rotate_one(r, c->id, log);
  }
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents) {
  agent_logrotate_t *r = (agent_logrotate_t *)((char *)w - offsetof(agent_logrotate_t, timer));
  if (r->busy)
    return;
  cri_kv_t sel[1] = {{AGENT_LABEL_MANAGED, "true"}};
  cri_container_filter_t f = {.id = "", .pod_sandbox_id = "", .has_state = true,
                              .state = CRI_CONTAINER_RUNNING, .label_selector = {sel, 1}};
  r->busy = cri_list_containers(r->cri, &f, list_done, r) == 0;
}

agent_logrotate_t *agent_logrotate_new(struct ev_loop *loop, cri_client_t *cri,
                                       const char *logs_dir, const agent_logrotate_policy_t *pol) {
  if (!pol || pol->max_size <= 0)
    return NULL;
  agent_logrotate_t *r = xcalloc(1, sizeof(*r));
  r->loop = loop;
  r->cri = cri;
  r->logs_dir = xstrdup(logs_dir);
  r->pol = *pol;
  if (r->pol.max_files < 2)
    r->pol.max_files = 2;
  ev_timer_init(&r->timer, tick, AGENT_LOGROTATE_SECONDS, AGENT_LOGROTATE_SECONDS);
  ev_timer_start(loop, &r->timer);
  return r;
}

void agent_logrotate_free(agent_logrotate_t *r) {
  if (!r)
    return;
  ev_timer_stop(r->loop, &r->timer);
  for (reopen_t *ro = r->reopens; ro; ro = ro->next)
    ro->r = NULL;
  free(r->logs_dir);
  free(r);
}
