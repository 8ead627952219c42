/* Filesystem helpers: mkdir -p, atomic replace (temp + fsync + rename),
 * bounded whole-file reads. */
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

int fs_mkdir_p(const char *path, mode_t mode) {
  char tmp[PATH_MAX];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof(tmp))
    return -ENAMETOOLONG;
  memcpy(tmp, path, len + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(tmp, mode) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

static int fsync_dir_of(const char *path) {
  char *copy = xstrdup(path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(copy);
  if (fd < 0)
    return -errno;
  int r = fsync(fd) < 0 ? -errno : 0;
  close(fd);
  return r;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode) {
  int r = 0;
  int fd = -1;
  char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    r = -errno;
    goto out;
  }
  if (fchmod(fd, mode) < 0) {
    r = -errno;
    goto out;
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      r = -errno;
      goto out;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) < 0) {
    r = -errno;
    goto out;
  }
  if (close(fd) < 0) {
    fd = -1;
    r = -errno;
    goto out;
  }
  fd = -1;
  if (rename(tmp, path) < 0) {
    r = -errno;
    goto out;
  }
  r = fsync_dir_of(path);
out:
  if (fd >= 0)
    close(fd);
  if (r < 0)
    unlink(tmp);
  free(tmp);
  return r;
}

int fs_read_file(const char *path, size_t limit, char **ret_data, size_t *ret_len) {
  int r = 0;
  char *data = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    r = -errno;
    goto out;
  }
  if ((size_t)st.st_size > limit) {
    r = -E2BIG;
    goto out;
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  data = xmalloc(cap);
  for (;;) {
    if (len + 1 >= cap) {
      if (cap > limit) {
        r = -E2BIG;
        goto out;
      }
      cap *= 2;
      data = xrealloc(data, cap);
    }
    ssize_t n = read(fd, data + len, cap - len - 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      r = -errno;
      goto out;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  if (len > limit) {
    r = -E2BIG;
    goto out;
  }
  data[len] = '\0';
  *ret_data = data;
  if (ret_len)
    *ret_len = len;
  data = NULL;
out:
  free(data);
  close(fd);
  return r;
}

int fs_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode))
    return unlink(path) < 0 ? -errno : 0;
  DIR *d = opendir(path);
  if (!d)
    return -errno;
  struct dirent *e;
  char sub[PATH_MAX];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    int n = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
    if (n > 0 && (size_t)n < sizeof(sub))
      fs_remove_tree(sub);
  }
  closedir(d);
  return rmdir(path) < 0 ? -errno : 0;
}
