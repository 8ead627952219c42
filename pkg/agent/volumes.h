/* pkg/agent volumes: the files of a pod's configMap, secret, downwardAPI
 * and projected volumes, written as the kubelet's atomic writer lays them
 * out: the data in a timestamped directory "..<time>", a "..data" symlink
 * to it swapped by rename, and one symlink per top-level name into
 * "..data", so a container sees an update all at once (and a subPath
 * mount does not see it, as upstream). Rewritten only when the content
 * changes. https://kubernetes.io/docs/concepts/storage/volumes/#configmap
 *
 * Pure but for the files; any thread (the pod workers call it). */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

#include "agent/podspec.h"

/* Write every such volume of pod under its agent_podspec_volume_dir, from
 * refs (the ConfigMaps and Secrets of the pod's namespace). Returns 0, or
 * -EAGAIN when a serviceAccountToken source's token is not in refs->tokens
 * (refs->token_err says why), -ENOENT when a non-optional ConfigMap/Secret or key is missing and
 * -EINVAL for a bad item, with upstream's message in err (`configmap "x"
 * not found`); other errors are the file system's, with the path. */
int agent_volumes_write(const cJSON *pod, const agent_podspec_refs_t *refs,
                        const agent_podspec_node_t *node, const char *pod_ip, char *err,
                        size_t errlen);
