/* pkg/agent localpath: the node's side of deleting local-path volumes.
 * When the server's volume binder deletes a local-path PersistentVolume
 * it annotates the volume's Node with
 * "local-path.k3c.io/cleanup-<pv>": "<directory>" (controller/pvbinder.h);
 * this node's agent removes that directory and then the annotation
 * (k3s runs a helper pod on the node instead). Only a directory named as
 * the provisioner names volumes is removed ("pvc-<uid>_<ns>_<name>", an
 * absolute path without "." or ".." parts, whose name starts with the
 * annotation's PV name); others are refused with a log line and their
 * annotation dropped. docs/STORAGE.md.
 *
 * Threads: the agent's loop. */
#pragma once

#include "client/client.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef struct agent_localpath agent_localpath_t;

/* node: this agent's Node name (copied). Never fails (aborts on OOM). */
agent_localpath_t *agent_localpath_new(client_t *c, const char *node);
/* Accepts NULL. Requests in flight are cancelled. */
void agent_localpath_free(agent_localpath_t *lp);
/* The Node object as the agent's watch sees it: act on its annotations. */
void agent_localpath_node_seen(agent_localpath_t *lp, const cJSON *node);

/* Internal, for tests: may this agent remove dir asked for volume pv? */
bool agent__localpath_dir_ok(const char *pv, const char *dir);
