/* pkg/agent emptydir: what emptyDir volumes need beyond a directory.
 * medium: Memory is a tmpfs mounted on the volume's directory before the
 * sandbox starts (size: sizeLimit, else the node's memory capacity, as
 * upstream sizes it by allocatable memory), unmounted when the pod goes; a
 * disk emptyDir with sizeLimit is measured on each pod pass (at most
 * AGENT_EMPTYDIR_SCAN_MAX entries, so the cost is bounded) and the pod is
 * evicted when its usage exceeds the limit, with upstream's message.
 * https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
 *
 * Threads: the pod workers (file system and mount(2) calls). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/podspec.h"

#define AGENT_EMPTYDIR_SCAN_MAX 100000

/* The size of a Memory emptyDir's tmpfs in bytes: spec.volumes[] entry
 * vol's emptyDir.sizeLimit when set and positive, else node_memory (0:
 * none, the kernel's default of half the RAM). */
int64_t agent_emptydir_tmpfs_size(const cJSON *vol, int64_t node_memory);

/* Mount a tmpfs on each Memory emptyDir of pod that is not mounted yet
 * (the directories exist). Returns 0, or a negative errno with the path
 * and reason in err. */
int agent_emptydir_mount(const cJSON *pod, const agent_podspec_node_t *node, char *err,
                         size_t errlen);

/* Unmount everything mounted under <pods_dir>/<uid> (the Memory emptyDirs)
 * and remove that directory when nothing is left mounted. Returns 0 or a
 * negative errno (the directory is then kept). */
int agent_emptydir_teardown(const char *pods_dir, const char *uid);

/* The bytes used under path (allocated blocks, as du; hard links counted
 * once is not attempted), counting at most AGENT_EMPTYDIR_SCAN_MAX entries
 * and stopping once over stop_at (> 0). */
int64_t agent_emptydir_usage(const char *path, int64_t stop_at);

/* The first disk emptyDir of pod whose usage exceeds its sizeLimit: writes
 * upstream's eviction message ("Usage of EmptyDir volume \"x\" exceeds the
 * limit \"1Mi\". ") into msg and returns 1; 0 when none does.
 * *ret_limited (may be NULL): whether pod has such a volume at all (the
 * caller checks again in AGENT_EMPTYDIR_CHECK_SECONDS). */
#define AGENT_EMPTYDIR_CHECK_SECONDS 10
int agent_emptydir_over_limit(const cJSON *pod, const agent_podspec_node_t *node, char *msg,
                              size_t msglen, bool *ret_limited);
