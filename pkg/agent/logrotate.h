/* pkg/agent logrotate: container log rotation as the kubelet's
 * ContainerLogManager does it (pkg/kubelet/logs): every 10 s each running
 * container's current log file (<logs_dir>/<ns>_<pod>_<uid>/<container>/
 * <attempt>.log) that has reached --container-log-max-size is renamed to
 * "<file>.<YYYYmmdd-HHMMSS>" and containerd is asked to reopen it (CRI
 * ReopenContainerLog; on failure the rename is undone), and the oldest
 * rotated files beyond --container-log-max-files - 1 are removed, so at
 * most that many files exist per container attempt. Where k3c differs:
 * rotated files are not gzip-compressed. `kubectl logs` reads the current
 * file (--tail and --since see only it).
 *
 * Threads: the kubelet's loop (file operations are a stat, rename or
 * unlink each). The plan and name functions are pure. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cri/cri.h"

#define AGENT_LOGROTATE_SECONDS 10.0

typedef struct {
  int64_t max_size; /* bytes; <= 0: no rotation */
  int max_files;    /* files per container attempt, the current one included; >= 2 */
} agent_logrotate_policy_t;

typedef struct {
  bool rotate;     /* rename the current file and reopen */
  size_t n_delete; /* remove this many of the oldest rotated files */
} agent_logrotate_plan_t;

/* What to do for a current file of size bytes with n_rotated rotated files
 * beside it: rotate when size >= max_size; remove the oldest so that at
 * most max_files - 1 rotated files remain once done. */
void agent_logrotate_plan(int64_t size, size_t n_rotated, const agent_logrotate_policy_t *pol,
                          agent_logrotate_plan_t *ret);
/* "<log>.<YYYYmmdd-HHMMSS>" (UTC) into out. Returns 0 or -ENAMETOOLONG. */
int agent_logrotate_name(const char *log, time_t now, char *out, size_t len);
/* Whether name (a file in log's directory) is a rotated file of log's base
 * name ("0.log.20260102-150405"). */
bool agent_logrotate_is_rotated(const char *log_base, const char *name);

typedef struct agent_logrotate agent_logrotate_t;
/* Start the periodic rotation of the containers cri runs under logs_dir
 * (copied). NULL when the policy rotates nothing. */
agent_logrotate_t *agent_logrotate_new(struct ev_loop *loop, cri_client_t *cri,
                                       const char *logs_dir, const agent_logrotate_policy_t *pol);
/* Stop; requests in flight are forgotten (their callbacks see the
 * rotator gone). Accepts NULL. */
void agent_logrotate_free(agent_logrotate_t *r);
