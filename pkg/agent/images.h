/* Air-gap images: OCI image-layout tarballs in <data-dir>/agent/images/ are
 * imported into containerd without a registry (docs/CRI.md). */
#pragma once

#include <stddef.h>

/* Import every regular file named *.tar in dir (in name order) with
 * cri_image_import over socket_path into snapshotter (NULL: overlayfs).
 * A file that fails is reported in err and the others are still imported.
 * Blocks (see cri_image_import): call it from a thread that may wait.
 * Returns 0 with *ret_images (images imported, may be NULL) when every file
 * imported, -ENOENT for a missing dir, else the first failure's errno. */
int agent_images_import_dir(const char *socket_path, const char *dir, const char *snapshotter,
                            size_t *ret_images, char *err, size_t errlen);
