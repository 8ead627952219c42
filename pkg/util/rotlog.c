/* Rotating line log on a writer thread (rotlog.h). Backups are named as
 * lumberjack names them (audit-2026-12-02T17-50-00.000.log), so the
 * newest sorts last and age is read from the name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/rotlog.h"

typedef struct chunk {
  struct chunk *next;
  size_t len;
  char data[];
} chunk_t;

struct rotlog {
  rotlog_opts_t o;
  char *path, *dir, *stem, *ext; /* dir/stem.ext */
  int fd;
  int64_t size;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  chunk_t *head, **tail;
  size_t queued;
  bool stop;
  atomic_uint_least64_t dropped, errors;
};

static int open_file(struct rotlog *l) {
  if (!strcmp(l->path, "-")) {
    l->fd = STDOUT_FILENO;
    return 0;
  }
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (l->fd < 0)
    return -errno;
  struct stat st;
  l->size = fstat(l->fd, &st) == 0 ? (int64_t)st.st_size : 0;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Backups: stem-YYYY-MM-DDTHH-MM-SS.mmm.ext */
static void prune(struct rotlog *l) {
  if (!l->o.max_backups && !l->o.max_age_days)
    return;
  DIR *d = opendir(l->dir);
  if (!d)
    return;
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  size_t sl = strlen(l->stem), el = strlen(l->ext);
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len == sl + 1 + 23 + el && !strncmp(e->d_name, l->stem, sl) && e->d_name[sl] == '-' &&
        !strcmp(e->d_name + len - el, l->ext)) {
      names = xrealloc(names, (n + 1) * sizeof(*names));
      names[n++] = xstrdup(e->d_name);
    }
  }
  closedir(d);
  qsort(names, n, sizeof(*names), by_name);
  time_t now = time(NULL);
  for (size_t i = 0; i < n; i++) {
    bool drop = l->o.max_backups && n - i > (size_t)l->o.max_backups;
    if (!drop && l->o.max_age_days) {
      struct tm tm = {0};
      if (strptime(names[i] + sl + 1, "%Y-%m-%dT%H-%M-%S", &tm)) {
        time_t t = timegm(&tm);
        drop = now - t > (time_t)l->o.max_age_days * 86400;
      }
    }
    if (drop) {
      char *p = xasprintf("%s/%s", l->dir, names[i]);
      unlink(p);
      free(p);
    }
    free(names[i]);
  }
  free(names);
}

static void rotate(struct rotlog *l) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[64];
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H-%M-%S", &tm);
  /* two rotations in one millisecond: the next free millisecond's name,
   * so no backup is renamed over */
  int ms = (int)(tv.tv_usec / 1000);
  char *to = xasprintf("%s/%s-%s.%03d%s", l->dir, l->stem, ts, ms, l->ext);
  struct stat st;
  while (ms < 999 && stat(to, &st) == 0) {
    free(to);
    to = xasprintf("%s/%s-%s.%03d%s", l->dir, l->stem, ts, ++ms, l->ext);
  }
  close(l->fd);
  l->fd = -1;
  rename(l->path, to);
  free(to);
  if (open_file(l) < 0)
    atomic_fetch_add(&l->errors, 1);
  prune(l);
}

static void write_all(struct rotlog *l, const char *p, size_t n) {
  if (l->fd != STDOUT_FILENO && l->o.max_bytes > 0 && l->size > 0 &&
      l->size + (int64_t)n > l->o.max_bytes)
    rotate(l);
  if (l->fd < 0 && open_file(l) < 0) {
    atomic_fetch_add(&l->errors, 1);
    return;
  }
  while (n) {
    ssize_t w = write(l->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      atomic_fetch_add(&l->errors, 1);
      return;
    }
    p += w;
    n -= (size_t)w;
    l->size += w;
  }
}

static void *writer(void *arg) {
  struct rotlog *l = arg;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->head && !l->stop)
      pthread_cond_wait(&l->cond, &l->mu);
    if (!l->head)
      break;
    chunk_t *c = l->head;
    l->head = NULL;
    l->tail = &l->head;
    pthread_mutex_unlock(&l->mu);
    size_t done = 0;
    for (chunk_t *next; c; c = next) {
      next = c->next;
      write_all(l, c->data, c->len);
      done += c->len;
      free(c);
    }
    pthread_mutex_lock(&l->mu);
    l->queued -= done;
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

int rotlog_open(const rotlog_opts_t *o, rotlog_t **ret, char *err, size_t errlen) {
  struct rotlog *l = xcalloc(1, sizeof(*l));
  l->o = *o;
  l->path = xstrdup(o->path);
  l->fd = -1;
  l->tail = &l->head;
  char *tmp = xstrdup(o->path);
  l->dir = xstrdup(dirname(tmp));
  free(tmp);
  tmp = xstrdup(o->path);
  char *base = basename(tmp);
  char *dot = strrchr(base, '.');
  l->ext = xstrdup(dot && dot != base ? dot : "");
  if (dot && dot != base)
    *dot = '\0';
  l->stem = xstrdup(base);
  free(tmp);
  int r = 0;
  if (strcmp(o->path, "-") && (r = fs_mkdir_p(l->dir, 0700)) < 0)
    snprintf(err, errlen, "cannot create %s: %s", l->dir, strerror(-r));
  else if ((r = open_file(l)) < 0)
    snprintf(err, errlen, "cannot open %s: %s", o->path, strerror(-r));
  if (r < 0) {
    free(l->path);
    free(l->dir);
    free(l->stem);
    free(l->ext);
    free(l);
    return r;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cond, NULL);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r = -pthread_create(&l->thread, NULL, writer, l);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r < 0) {
    snprintf(err, errlen, "cannot start the log writer: %s", strerror(-r));
    l->stop = true;
    rotlog_close(l);
    return r;
  }
  *ret = l;
  return 0;
}

int rotlog_write(rotlog_t *l, const char *line, size_t len) {
  pthread_mutex_lock(&l->mu);
  if (l->queued + len + 1 > l->o.queue_max) {
    pthread_mutex_unlock(&l->mu);
    atomic_fetch_add(&l->dropped, 1);
    return -ENOBUFS;
  }
  chunk_t *c = xmalloc(sizeof(*c) + len + 1);
  memcpy(c->data, line, len);
  c->data[len] = '\n';
  c->len = len + 1;
  c->next = NULL;
  *l->tail = c;
  l->tail = &c->next;
  l->queued += c->len;
  pthread_cond_signal(&l->cond);
  pthread_mutex_unlock(&l->mu);
  return 0;
}

uint64_t rotlog_dropped(const rotlog_t *l) { return atomic_load(&((rotlog_t *)l)->dropped); }
uint64_t rotlog_errors(const rotlog_t *l) { return atomic_load(&((rotlog_t *)l)->errors); }

void rotlog_close(rotlog_t *l) {
  if (!l)
    return;
  bool started = !l->stop;
  if (started) {
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
  }
  for (chunk_t *c = l->head, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  if (l->fd >= 0 && l->fd != STDOUT_FILENO)
    close(l->fd);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cond);
  free(l->path);
  free(l->dir);
  free(l->stem);
  free(l->ext);
  free(l);
}
