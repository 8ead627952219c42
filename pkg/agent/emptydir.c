/* emptyDir volumes beyond a directory: tmpfs for medium Memory, the disk
 * usage check against sizeLimit, and the teardown when the pod goes
 * (emptydir.h). https://kubernetes.io/docs/concepts/storage/volumes/#emptydir */
#include "agent/emptydir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json/util.h"
#include "scheduler/resource.h"
#include "util/fsutil.h"
#include "util/alloc.h"
#include "util/errbuf.h"

static bool is_empty_dir(const cJSON *vol) {
  const cJSON *x;
  cJSON_ArrayForEach(x, vol) {
    if (x->string && strcmp(x->string, "name") && strcmp(x->string, "emptyDir") && !cJSON_IsNull(x))
      return false;
  }
  return true;
}

static bool is_memory(const cJSON *vol) {
  const char *m = json_str(vol, "emptyDir.medium");
  return is_empty_dir(vol) && m && !strcmp(m, "Memory");
}

int64_t agent_emptydir_tmpfs_size(const cJSON *vol, int64_t node_memory) {
  const cJSON *lim = json_get_path(vol, "emptyDir.sizeLimit");
  int64_t v = 0;
  if (lim && scheduler_quantity_int(lim, 1, &v) == 0 && v > 0)
    return v;
  return node_memory > 0 ? node_memory : 0;
}

/* Whether path is a mount point (its device differs from its parent's). */
static bool mounted(const char *path) {
  struct stat a, b;
  char parent[PATH_MAX];
  int n = snprintf(parent, sizeof(parent), "%s/..", path);
  if (n < 0 || (size_t)n >= sizeof(parent) || stat(path, &a) < 0 || stat(parent, &b) < 0)
    return false;
  return a.st_dev != b.st_dev;
}

int agent_emptydir_mount(const cJSON *pod, const agent_podspec_node_t *node, char *err,
                         size_t errlen) {
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    const char *name = json_str(v, "name");
    if (!name || !is_memory(v))
      continue;
    char dir[4096], opts[64] = "mode=0777";
    if (agent_podspec_volume_dir(pod, node, "emptyDir", name, dir, sizeof(dir)) < 0) {
      errbuf_set(err, errlen, "emptyDir %s: path too long", name);
      return -ENAMETOOLONG;
    }
    if (mounted(dir))
      continue;
    int64_t size = agent_emptydir_tmpfs_size(v, node ? node->memory_capacity : 0);
    if (size > 0)
      snprintf(opts, sizeof(opts), "mode=0777,size=%lld", (long long)size);
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
      int e = errno;
      errbuf_set(err, errlen, "mounting tmpfs for emptyDir %s at %s: %s", name, dir, strerror(e));
      return -e;
    }
  }
  return 0;
}

/* Unmount every mount point under prefix (deepest first: mountinfo lists
 * parents before children, so walk it backwards). Returns how many are
 * still mounted. */
static int unmount_under(const char *prefix) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return 0;
  char line[8192], *paths[256];
  int n = 0, left = 0;
  size_t plen = strlen(prefix);
  while (fgets(line, sizeof(line), f) && n < 256) {
    /* id parent major:minor root mountpoint ... */
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    for (int i = 0; tok && i < 4; i++)
      tok = strtok_r(NULL, " ", &save);
    if (tok && !strncmp(tok, prefix, plen) && (tok[plen] == '/' || tok[plen] == 0))
      paths[n++] = xstrdup(tok);
  }
  fclose(f);
  for (int i = n - 1; i >= 0; i--) {
    if (paths[i] && umount2(paths[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
      left++;
    free(paths[i]);
  }
  return left;
}

int agent_emptydir_teardown(const char *pods_dir, const char *uid) {
  char dir[4096];
  if (!uid || !uid[0] || strchr(uid, '/') || !strcmp(uid, "..") || !strcmp(uid, "."))
    return -EINVAL;
  int n = snprintf(dir, sizeof(dir), "%s/%s", pods_dir, uid);
  if (n < 0 || (size_t)n >= sizeof(dir))
    return -ENAMETOOLONG;
  if (unmount_under(dir) > 0)
    return -EBUSY;
  return fs_remove_tree(dir);
}

typedef struct {
  int64_t bytes, stop_at;
  long entries;
} usage_t;

static void usage_walk(int dirfd, usage_t *u, int depth) {
  DIR *d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if (++u->entries > AGENT_EMPTYDIR_SCAN_MAX || (u->stop_at > 0 && u->bytes > u->stop_at))
      break;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    u->bytes += (int64_t)st.st_blocks * 512;
    if (S_ISDIR(st.st_mode) && depth < 64) {
      int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0)
        usage_walk(fd, u, depth + 1);
    }
  }
  closedir(d);
}

int64_t agent_emptydir_usage(const char *path, int64_t stop_at) {
  usage_t u = {0, stop_at, 0};
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  usage_walk(fd, &u, 0);
  return u.bytes;
}

int agent_emptydir_over_limit(const cJSON *pod, const agent_podspec_node_t *node, char *msg,
                              size_t msglen, bool *ret_limited) {
  const cJSON *v;
  if (ret_limited)
    *ret_limited = false;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    const char *name = json_str(v, "name");
    const cJSON *lim = json_get_path(v, "emptyDir.sizeLimit");
    int64_t limit = 0;
    if (!name || !is_empty_dir(v) || is_memory(v) || !lim ||
        scheduler_quantity_int(lim, 1, &limit) < 0 || limit <= 0)
      continue;
    char dir[4096];
    if (agent_podspec_volume_dir(pod, node, "emptyDir", name, dir, sizeof(dir)) < 0)
      continue;
    if (ret_limited)
      *ret_limited = true;
    if (agent_emptydir_usage(dir, limit) > limit) {
      errbuf_set(msg, msglen, "Usage of EmptyDir volume \"%s\" exceeds the limit \"%s\". ", name,
                 cJSON_IsString(lim) ? lim->valuestring : "");
      return 1;
    }
  }
  return 0;
}
