/* pkg/agent subpath: a volumeMount's subPath made ready inside its volume,
 * as upstream's SafeMakeDir / PrepareSafeSubpath: missing directories are
 * made (with the volume root's mode), component by component without
 * following a symbolic link that leads out of the volume, and the final
 * path must resolve inside the volume. Checked when the container is
 * created (the path is not pinned by a descriptor as upstream's bind
 * mount through /proc/self/fd is: a link swapped in afterwards by
 * something on the host is not caught).
 *
 * Threads: any (a pod worker). */
#pragma once

#include <stddef.h>

/* volume: the volume's host directory (must exist); sub: the relative
 * subPath (no "..": podspec.c refused those). Returns 0, -EXDEV when a
 * link leads out of the volume, or another negative errno (making a
 * directory failed), with a reason for the operator's log in err. */
int agent_subpath_prepare(const char *volume, const char *sub, char *err, size_t errlen);
