/* pkg/agent hostpath: the type checks of a pod's hostPath volumes, as
 * upstream's hostPath plugin makes them before the pod starts:
 * DirectoryOrCreate (made 0755 when missing), Directory, FileOrCreate
 * (made empty, 0644), File, Socket, CharDevice, BlockDevice; "" checks
 * nothing. The message is the one upstream's FailedMount event carries:
 * `MountVolume.SetUp failed for volume "v" : hostPath type check failed:
 * /p is not a directory`. docs/AGENT.md.
 *
 * Threads: any (a pod worker). */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

/* Check (and make) every hostPath volume of pod. Returns 0, or -EINVAL
 * with the first failure's message in err. */
int agent_hostpath_check(const cJSON *pod, char *err, size_t errlen);
