/* pkg/cri/archive: the pure parts of reading an image tarball for import
 * (import.c does the I/O): which format a tarball is, the manifest.json of
 * a docker-archive (`docker save`), docker's normalisation of image
 * references, and the schema 2 manifest written for a docker-archive
 * image. No I/O, no globals: any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  CRI_ARCHIVE_UNKNOWN = 0,
  CRI_ARCHIVE_OCI,    /* OCI image layout: oci-layout, index.json, blobs/ */
  CRI_ARCHIVE_DOCKER, /* docker-archive: manifest.json, config JSON, layer tars */
} cri_archive_format_t;

/* The format from the members a tarball has. An OCI layout wins when
 * oci-layout is present (Docker 25+ `docker save` writes both layouts into
 * one tarball); manifest.json without oci-layout is a docker-archive;
 * index.json alone is an OCI layout (oci-layout is optional for us). */
cri_archive_format_t cri_archive_format(bool has_oci_layout, bool has_index_json,
                                        bool has_manifest_json);

/* True if the first bytes of a member are gzip's magic (1f 8b). */
bool cri_archive_is_gzip(const uint8_t *head, size_t n);

#define CRI_ARCHIVE_IMAGES_MAX 1000
#define CRI_ARCHIVE_LAYERS_MAX 1000 /* per image; import.c has the same bound */
#define CRI_ARCHIVE_TAGS_MAX 1000   /* per image */
#define CRI_ARCHIVE_PATH_MAX 4096
#define CRI_ARCHIVE_REF_MAX 512 /* a normalised reference, NUL included */

/* One entry of manifest.json. Paths are tarball member names, cleaned like
 * the tar index cleans them (leading "./" and "/" removed). */
typedef struct {
  char *config; /* "<hex>.json" or "blobs/sha256/<hex>" */
  char **tags;  /* normalised ("docker.io/library/busybox:1.36"); may be empty */
  size_t ntags;
  char **layers; /* "<dir>/layer.tar", in order, base layer first */
  size_t nlayers;
} cri_archive_image_t;

typedef struct {
  cri_archive_image_t *v;
  size_t n;
} cri_archive_manifest_t;

/* Parse manifest.json: an array of {Config, RepoTags, Layers}. Rejects
 * missing or mistyped Config/Layers, a member path that is empty, too long
 * or has a ".." component, more entries than the bounds above, and a
 * RepoTag that is not a valid reference. Returns 0 and fills *ret (the
 * caller frees with cri_archive_manifest_done), or -EBADMSG/-E2BIG with a
 * reason in err. */
int cri_archive_manifest_parse(const char *json, size_t len, cri_archive_manifest_t *ret, char *err,
                               size_t errlen);
/* Frees what parse filled; accepts a zeroed struct. */
void cri_archive_manifest_done(cri_archive_manifest_t *m);

/* Normalise an image reference as docker does: no domain (first component
 * without '.' or ':' and not "localhost") means docker.io, and a one-part
 * docker.io name gets "library/"; index.docker.io is docker.io; no tag and
 * no digest means ":latest". "busybox:1.36" -> "docker.io/library/busybox:1.36",
 * "foo/bar:1" -> "docker.io/foo/bar:1", "host:5000/x:1" unchanged.
 * Returns 0 and writes ret (len bytes), -EINVAL for a malformed reference
 * (upper case in the path, empty components, a bad tag), -ENAMETOOLONG if
 * it does not fit. */
int cri_archive_ref_normalise(const char *ref, char *ret, size_t len);

/* One blob of a manifest. */
typedef struct {
  const char *media_type;
  const char *digest; /* "sha256:<64 hex>" */
  uint64_t size;
} cri_archive_desc_t;

/* The image manifest for a docker-archive image
 * (application/vnd.docker.distribution.manifest.v2+json, schemaVersion 2),
 * compact JSON. Returns a string the caller frees with free(). */
char *cri_archive_manifest_v2(const cri_archive_desc_t *config, const cri_archive_desc_t *layers,
                              size_t nlayers);

#define CRI_ARCHIVE_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define CRI_ARCHIVE_MT_CONFIG "application/vnd.docker.container.image.v1+json"
#define CRI_ARCHIVE_MT_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define CRI_ARCHIVE_MT_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
