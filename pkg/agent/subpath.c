/* subPath preparation (subpath.h): walk the subPath's components under the
 * volume's resolved root with lstat, make what is missing, resolve links
 * and refuse any that leave the root.
 * https://kubernetes.io/docs/concepts/storage/volumes/#using-subpath */
#include "agent/subpath.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool inside(const char *root, const char *p) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/')
    return true;
  return !strncmp(root, p, n) && (p[n] == '\0' || p[n] == '/');
}

int agent_subpath_prepare(const char *volume, const char *sub, char *err, size_t errlen) {
  char root[PATH_MAX], cur[PATH_MAX + 256], next[PATH_MAX + 256], res[PATH_MAX];
  if (!realpath(volume, root)) {
    int e = -errno;
    snprintf(err, errlen, "volume %s: %s", volume, strerror(errno));
    return e;
  }
  struct stat rs;
  mode_t mode = stat(root, &rs) == 0 ? (rs.st_mode & 07777) : 0755;
  snprintf(cur, sizeof(cur), "%s", root);
  for (const char *p = sub; *p;) {
    while (*p == '/')
      p++;
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!n)
      break;
    if (n == 1 && p[0] == '.') {
      p += n;
      continue;
    }
    if (strlen(cur) + n + 2 > PATH_MAX) {
      snprintf(err, errlen, "subPath %s is too long", sub);
      return -ENAMETOOLONG;
    }
    size_t cl = strcmp(cur, "/") ? strlen(cur) : 0;
    memcpy(next, cur, cl);
    next[cl] = '/';
    memcpy(next + cl + 1, p, n);
    next[cl + 1 + n] = '\0';
    p += n;
    struct stat st;
    if (lstat(next, &st) < 0) {
      if (errno != ENOENT) {
        int r = -errno;
        snprintf(err, errlen, "%s: %s", next, strerror(errno));
        return r;
      }
      if (mkdir(next, mode) < 0 && errno != EEXIST) {
        int r = -errno;
        snprintf(err, errlen, "mkdir %s: %s", next, strerror(errno));
        return r;
      }
      chmod(next, mode); /* past the umask, as upstream */
      if (lstat(next, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory after mkdir", next);
        return -ENOTDIR;
      }
    }
    if (S_ISLNK(st.st_mode)) {
      if (!realpath(next, res)) {
        int r = -errno;
        snprintf(err, errlen, "%s: %s", next, strerror(errno));
        return r;
      }
      if (!inside(root, res)) {
        snprintf(err, errlen, "%s is a link to %s, outside the volume %s", next, res, root);
        return -EXDEV;
      }
      snprintf(cur, sizeof(cur), "%s", res);
    } else {
      snprintf(cur, sizeof(cur), "%s", next);
    }
  }
  if (!realpath(cur, res) || !inside(root, res)) {
    snprintf(err, errlen, "%s resolves outside the volume %s", cur, root);
    return -EXDEV;
  }
  return 0;
}
