/* libFuzzer harness for pkg/cri/archive.c: manifest.json parsing must
 * either fail with a reason or give entries whose paths have no ".."
 * component and whose tags are normalised references (normalising one
 * again gives it back); any input, read as a reference, normalises to
 * something that normalises to itself, or fails. */
#include "cri/archive.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *p) {
  if (!p || !*p || p[0] == '/' || strlen(p) > CRI_ARCHIVE_PATH_MAX)
    abort();
  if (!strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
      (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
    abort();
}

static void check_ref(const char *ref) {
  char again[CRI_ARCHIVE_REF_MAX];
  if (cri_archive_ref_normalise(ref, again, sizeof again) < 0 || strcmp(ref, again))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cri_archive_manifest_t m = {0};
  char err[256] = "";
  if (cri_archive_manifest_parse((const char *)data, size, &m, err, sizeof err) < 0) {
    if (!err[0] || m.n || m.v)
      abort();
  } else {
    for (size_t i = 0; i < m.n; i++) {
      check_path(m.v[i].config);
      for (size_t k = 0; k < m.v[i].nlayers; k++)
        check_path(m.v[i].layers[k]);
      for (size_t k = 0; k < m.v[i].ntags; k++)
        check_ref(m.v[i].tags[k]);
    }
    cri_archive_manifest_done(&m);
  }
  if (size < CRI_ARCHIVE_REF_MAX) {
    char ref[CRI_ARCHIVE_REF_MAX], out[CRI_ARCHIVE_REF_MAX];
    memcpy(ref, data, size);
    ref[size] = 0;
    if (cri_archive_ref_normalise(ref, out, sizeof out) == 0)
      check_ref(out);
  }
  return 0;
}
