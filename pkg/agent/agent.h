/* pkg/agent: the node agent. It starts and supervises containerd (or uses
 * --container-runtime-endpoint), writes the pod network's CNI config,
 * imports the pause image and the air-gap images of
 * <data-dir>/agent/images/, registers the Node and keeps its Lease and
 * status (node.h), and runs the node's pods (kubelet.h). `k3c server`
 * runs one in-process on its in-process client; `k3c agent` runs one on
 * an HTTPS client. docs/AGENT.md describes it.
 *
 * Threads: the default libev loop (containerd's child watcher needs it). */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "client/client.h"
#include "config/config.h"

typedef struct agent agent_t;

typedef struct {
  const k3c_config_t *cfg;     /* borrowed; outlives the agent */
  bool control_plane;          /* the server's own node (node-role labels) */
  const char *kubelet_version; /* status.nodeInfo.kubeletVersion */
  /* The kubelet API (cfg->kubelet_port): the CA of the clients it accepts
   * (the cluster CA; required for the API), and its serving certificate
   * and key (NULL: a self-signed one). Used during agent_new only. */
  const char *client_ca_pem;
  const char *serving_cert_pem, *serving_key_pem;
} agent_opts_t;

/* Start the agent on c (which must outlive it). Needs root. Returns 0 and
 * *ret, or a negative errno with a reason for the user in err. */
int agent_new(struct ev_loop *loop, client_t *c, const agent_opts_t *o, agent_t **ret, char *err,
              size_t errlen);
/* Serve a renewed kubelet API certificate from now on (new connections;
 * pods and streams are untouched). 0, or -EINVAL with err. */
int agent_set_serving_cert(agent_t *a, const char *cert_pem, const char *key_pem, char *err,
                           size_t errlen);
/* Stop: containerd is stopped, the containers keep running (a restarted
 * agent adopts them). Accepts NULL. */
void agent_free(agent_t *a);

/* The `k3c agent` process: credentials from cfg->kubeconfig, waits for
 * the server, then runs a real agent (or cfg->hollow hollow nodes) until
 * SIGTERM/SIGINT. Returns the exit status. Main thread only. */
int agent_run(const k3c_config_t *cfg);
