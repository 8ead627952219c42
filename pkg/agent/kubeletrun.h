/* pkg/agent kubeletrun: the kubelet API's POST /run/{ns}/{pod}[/{uid}]/{container}
 * ?cmd=...: the command (cmd split on single spaces, upstream's legacy
 * form) runs in the container through CRI ExecSync and its output (stdout
 * then stderr) is the answer; a nonzero exit is a 500 with upstream's
 * "command '...' exited with N: <stderr>". docs/AGENT.md.
 *
 * Threads: the loop of the kubelet API (that of the kubelet's CRI client). */
#pragma once

#include "agent/kubelet.h"
#include "http/server.h"

#include <ev.h>
#include <stdbool.h>

/* Serve r if its path is /run/... (true: r is taken care of); false: not
 * ours, r untouched. k may be NULL (answers 503). The caller has
 * authorized the client already. */
bool agent__kubelet_run(agent_kubelet_t *k, http_req_t *r);
