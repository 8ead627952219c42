/* Filesystem helpers shared by every component that keeps state on disk. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Create a directory and its parents with the given mode (like mkdir -p).
 * Returns 0 or a negative errno. */
int fs_mkdir_p(const char *path, mode_t mode);

/* Write a file atomically: write a temp file beside it, fsync, rename over
 * path, fsync the directory. After a crash the file holds either the old or
 * the new content, never a mix. Returns 0 or a negative errno. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Read a whole file of at most limit bytes into a NUL-terminated buffer the
 * caller frees. Returns 0, -E2BIG when larger than limit, or a negative errno. */
int fs_read_file(const char *path, size_t limit, char **ret_data, size_t *ret_len);

/* Remove path and everything below it, as `rm -rf` (symbolic links are
 * removed, never followed). A missing path is 0; otherwise 0 or the negative
 * errno of removing path itself (entries below that cannot be removed make
 * that fail with -ENOTEMPTY). */
int fs_remove_tree(const char *path);
