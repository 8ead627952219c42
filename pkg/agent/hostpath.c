/* hostPath volume types (hostpath.h), upstream's checkTypeInternal.
 * https://kubernetes.io/docs/concepts/storage/volumes/#hostpath-volume-types */
#include "agent/hostpath.h"

#include "util/fsutil.h"

#include "json/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The failure text after "hostPath type check failed: " or NULL (passes). */
static const char *check(const char *path, const char *type, char *why, size_t len) {
  struct stat st;
  bool exists = stat(path, &st) == 0;
  if (!strcmp(type, "DirectoryOrCreate") || !strcmp(type, "Directory")) {
    if (!exists && type[9] == 'O') {
      int r = fs_mkdir_p(path, 0755);
      if (r < 0) {
        snprintf(why, len, "mkdir %s: %s", path, strerror(-r));
        return why;
      }
      return NULL;
    }
    if (!exists || !S_ISDIR(st.st_mode)) {
      snprintf(why, len, "hostPath type check failed: %s is not a directory", path);
      return why;
    }
    return NULL;
  }
  if (!strcmp(type, "FileOrCreate") || !strcmp(type, "File")) {
    if (!exists && type[4] == 'O') {
      int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) {
        snprintf(why, len, "open %s: %s", path, strerror(errno));
        return why;
      }
      close(fd);
      return NULL;
    }
    if (!exists || !S_ISREG(st.st_mode)) {
      snprintf(why, len, "hostPath type check failed: %s is not a file", path);
      return why;
    }
    return NULL;
  }
  static const struct {
    const char *type, *what;
    mode_t fmt;
  } kinds[] = {{"Socket", "a socket file", S_IFSOCK},
               {"CharDevice", "a character device", S_IFCHR},
               {"BlockDevice", "a block device", S_IFBLK}};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    if (strcmp(type, kinds[i].type))
      continue;
    if (!exists || (st.st_mode & S_IFMT) != kinds[i].fmt) {
      snprintf(why, len, "hostPath type check failed: %s is not %s", path, kinds[i].what);
      return why;
    }
    return NULL;
  }
  snprintf(why, len, "%s is an invalid volume type", type);
  return why;
}

int agent_hostpath_check(const cJSON *pod, char *err, size_t errlen) {
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    const char *path = json_str(v, "hostPath.path"), *type = json_str(v, "hostPath.type");
    if (!path || !type || !type[0])
      continue;
    char why[1024];
    const char *bad = check(path, type, why, sizeof(why));
    if (bad) {
      snprintf(err, errlen, "MountVolume.SetUp failed for volume \"%s\" : %s",
               json_str(v, "name") ? json_str(v, "name") : "", bad);
      return -EINVAL;
    }
  }
  return 0;
}
