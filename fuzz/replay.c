/* Corpus replayer: runs a libFuzzer harness's LLVMFuzzerTestOneInput over
 * every file of a directory (CORPUS_DIR, or argv[1]) and reports each as a
 * TAP line, so the committed seed corpus runs as a unit test under
 * ASan/UBSan without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : CORPUS_DIR;
  DIR *d = opendir(dir);
  if (!d) {
    printf("1..1\nnot ok 1 - open corpus %s\n", dir);
    return 1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    names = realloc(names, (n + 1) * sizeof(*names));
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof(*names), by_name);
  printf("1..%zu\n", n);
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "rb");
    if (!f) {
      printf("not ok %zu - %s (unreadable)\n", i + 1, names[i]);
      failed++;
      free(names[i]);
      continue;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    uint8_t chunk[4096];
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
      if (len + got > cap) {
        cap = (len + got) * 2;
        buf = realloc(buf, cap);
      }
      memcpy(buf + len, chunk, got);
      len += got;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf ? buf : (const uint8_t *)"", len);
    printf("ok %zu - %s\n", i + 1, names[i]);
    free(buf);
    free(names[i]);
  }
  free(names);
  return failed ? 1 : 0;
}
