/* pkg/agent/images: import the image tarballs of the agent's images folder
 * (k3s's agent/images air-gap convention) through pkg/cri's importer. */
#include "agent/images.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cri/cri.h"
#include "util/alloc.h"
#include "util/errbuf.h"

#define FILES_MAX 1024

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int agent_images_import_dir(const char *socket_path, const char *dir, const char *snapshotter,
                            size_t *ret_images, char *err, size_t errlen) {
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    errbuf_set(err, errlen, "images: open %s: %s", dir, strerror(e));
    return -e;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < FILES_MAX) {
    size_t l = strlen(e->d_name);
    if (l < 5 || strcmp(e->d_name + l - 4, ".tar") || e->d_name[0] == '.')
      continue;
    names = xrealloc(names, (n + 1) * sizeof *names);
    names[n++] = xstrdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  int first = 0;
  size_t images = 0;
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX], why[512];
    struct stat st;
    size_t got = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
        stat(path, &st) < 0 || !S_ISREG(st.st_mode))
      continue;
    int r = cri_image_import(socket_path, path, snapshotter, &got, why, sizeof why);
    if (r < 0) {
      if (!first) {
        first = r;
        errbuf_set(err, errlen, "images: %s: %s", names[i], why);
      }
      continue;
    }
    images += got;
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  if (first)
    return first;
  if (ret_images)
    *ret_images = images;
  return 0;
}
