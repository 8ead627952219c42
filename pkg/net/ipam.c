/* Pod address leases as files under a locked directory: see ipam.h. The
 * same job as the CNI host-local IPAM plugin, built in. */
#include "net/ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fsutil.h"

#define LEASE_MAX 4096

struct net_ipam {
  char *dir;
  int lock_fd;
  uint32_t first, last; /* host order: the range handed out */
};

int net_ipam_open(const char *dir, struct in_addr subnet, int prefix, net_ipam_t **ret,
                  char *err, size_t errlen) {
  if (prefix < 8 || prefix > 30) {
    snprintf(err, errlen, "subnet prefix length %d is not in 8..30", prefix);
    return -EINVAL;
  }
  int r = fs_mkdir_p(dir, 0700);
  if (r < 0) {
    snprintf(err, errlen, "%s: %s", dir, strerror(-r));
    return r;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) {
    r = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return r;
  }
  net_ipam_t *m = xcalloc(1, sizeof *m);
  m->dir = xstrdup(dir);
  m->lock_fd = fd;
  uint32_t net = ntohl(subnet.s_addr) & (~0u << (32 - prefix));
  m->first = net + 2;
  m->last = net + (uint32_t)((1ull << (32 - prefix)) - 2);
  *ret = m;
  return 0;
}

void net_ipam_close(net_ipam_t *m) {
  if (!m)
    return;
  if (m->lock_fd >= 0)
    close(m->lock_fd); /* drops the flock */
  free(m->dir);
  free(m);
}

static void lease_path(const net_ipam_t *m, uint32_t a, char *out, size_t len) {
  snprintf(out, len, "%s/%u.%u.%u.%u", m->dir, a >> 24, (a >> 16) & 255, (a >> 8) & 255,
           a & 255);
}

static void take_line(const char *data, const char *key, char *dst, size_t len) {
  size_t k = strlen(key);
  for (const char *p = data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (!strncmp(p, key, k) && p[k] == '=') {
      const char *v = p + k + 1, *nl = strchr(v, '\n');
      size_t n = nl ? (size_t)(nl - v) : strlen(v);
      if (n >= len)
        n = len - 1;
      memcpy(dst, v, n);
      dst[n] = 0;
      return;
    }
  }
}

/* Read the lease of address a: 0, -ENOENT, or -EINVAL for a file without
 * an id (not written here). */
static int lease_read(const net_ipam_t *m, uint32_t a, net_ipam_lease_t *l) {
  char path[4096], *data = NULL;
  size_t n;
  lease_path(m, a, path, sizeof path);
  int r = fs_read_file(path, LEASE_MAX, &data, &n);
  if (r < 0)
    return r;
  memset(l, 0, sizeof *l);
  l->addr.s_addr = htonl(a);
  take_line(data, "id", l->id, sizeof l->id);
  take_line(data, "ifname", l->ifname, sizeof l->ifname);
  take_line(data, "hostif", l->hostif, sizeof l->hostif);
  take_line(data, "ports", l->ports, sizeof l->ports);
  free(data);
  return l->id[0] ? 0 : -EINVAL;
}

/* The addresses that have a lease file, sorted; caller frees. */
static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}
static size_t list(const net_ipam_t *m, uint32_t **ret) {
  size_t n = 0, cap = 16;
  uint32_t *v = xmalloc(cap * sizeof *v);
  DIR *d = opendir(m->dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    struct in_addr a;
    if (inet_pton(AF_INET, e->d_name, &a) != 1)
      continue;
    if (n == cap)
      v = xrealloc(v, (cap *= 2) * sizeof *v);
    v[n++] = ntohl(a.s_addr);
  }
  if (d)
    closedir(d);
  qsort(v, n, sizeof *v, cmp_u32);
  *ret = v;
  return n;
}

int net_ipam_each(net_ipam_t *m, net_ipam_each_cb cb, void *data) {
  uint32_t *v;
  size_t n = list(m, &v);
  int r = 0;
  net_ipam_lease_t l;
  for (size_t i = 0; i < n && r == 0; i++)
    if (lease_read(m, v[i], &l) == 0)
      r = cb(&l, data);
  free(v);
  return r;
}

typedef struct {
  const char *id, *ifname;
  net_ipam_lease_t *out;
} find_t;

static int find_cb(const net_ipam_lease_t *l, void *data) {
  find_t *f = data;
  if (strcmp(l->id, f->id) || strcmp(l->ifname, f->ifname))
    return 0;
  *f->out = *l;
  return 1;
}

int net_ipam_find(net_ipam_t *m, const char *id, const char *ifname, net_ipam_lease_t *ret) {
  net_ipam_lease_t *l = xmalloc(sizeof *l);
  find_t f = {id, ifname, l};
  int r = net_ipam_each(m, find_cb, &f);
  if (r == 1)
    *ret = *l;
  free(l);
  return r == 1 ? 0 : -ENOENT;
}

static bool one_line(const char *s) { return !strchr(s, '\n'); }

int net_ipam_alloc(net_ipam_t *m, net_ipam_lease_t *l, char *err, size_t errlen) {
  if (!l->id[0] || !one_line(l->id) || !one_line(l->ifname) || !one_line(l->hostif) ||
      !one_line(l->ports)) {
    snprintf(err, errlen, "a lease needs a container id, and no field may hold a newline");
    return -EINVAL;
  }
  net_ipam_lease_t *have = xmalloc(sizeof *have);
  char path[4096];
  int r;
  if (net_ipam_find(m, l->id, l->ifname, have) == 0) {
    l->addr = have->addr; /* ADD again for the same container: the same address */
    free(have);
    return 0;
  }
  free(have);
  uint32_t *used;
  size_t n = list(m, &used), size = m->last - m->first + 1;
  /* start after the last handed out */
  uint32_t start = m->first;
  char *last = NULL;
  size_t ll;
  snprintf(path, sizeof path, "%s/last", m->dir);
  if (fs_read_file(path, 64, &last, &ll) == 0) {
    struct in_addr a;
    if (inet_pton(AF_INET, last, &a) == 1 && ntohl(a.s_addr) >= m->first &&
        ntohl(a.s_addr) < m->last)
      start = ntohl(a.s_addr) + 1;
    free(last);
  }
  uint32_t pick = 0;
  for (size_t i = 0; i < size && !pick; i++) {
    uint32_t a = m->first + (uint32_t)((start - m->first + i) % size);
    if (!bsearch(&a, used, n, sizeof *used, cmp_u32))
      pick = a;
  }
  free(used);
  if (!pick) {
    snprintf(err, errlen, "no free address: all %zu addresses of the pod subnet are leased (%s)",
             size, m->dir);
    return -ENOSPC;
  }
  char body[LEASE_MAX];
  int k = snprintf(body, sizeof body, "id=%s\nifname=%s\nhostif=%s\nports=%s\n", l->id,
                   l->ifname, l->hostif, l->ports);
  lease_path(m, pick, path, sizeof path);
  if ((r = fs_write_atomic(path, body, (size_t)k < sizeof body ? (size_t)k : sizeof body - 1,
                           0600)) < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
    return r;
  }
  l->addr.s_addr = htonl(pick);
  char a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &l->addr, a, sizeof a);
  snprintf(path, sizeof path, "%s/last", m->dir);
  fs_write_atomic(path, a, strlen(a), 0600); /* a hint only: a failure costs nothing */
  return 0;
}

static int remove_lease(net_ipam_t *m, const net_ipam_lease_t *l) {
  char path[4096];
  lease_path(m, ntohl(l->addr.s_addr), path, sizeof path);
  return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int net_ipam_release(net_ipam_t *m, const char *id, const char *ifname, net_ipam_lease_t *ret) {
  net_ipam_lease_t *l = xmalloc(sizeof *l);
  int r = net_ipam_find(m, id, ifname, l);
  if (r == 0 && (r = remove_lease(m, l)) == 0 && ret)
    *ret = *l;
  free(l);
  return r;
}

typedef struct {
  net_ipam_t *m;
  net_ipam_alive_fn alive;
  void *data;
  int removed;
} reclaim_t;

static int reclaim_cb(const net_ipam_lease_t *l, void *data) {
  reclaim_t *rc = data;
  if (!rc->alive(l, rc->data) && remove_lease(rc->m, l) == 0)
    rc->removed++;
  return 0;
}

int net_ipam_reclaim(net_ipam_t *m, net_ipam_alive_fn alive, void *data) {
  reclaim_t rc = {m, alive, data, 0};
  net_ipam_each(m, reclaim_cb, &rc);
  return rc.removed;
}
