/* `k3c agent` entry point. The node agent (pkg/agent) is not built yet; say
 * so plainly rather than pretend to join. */
#include <stdio.h>

#include "cli/cli.h"

int cli_agent(const k3c_config_t *cfg) {
  if (!cfg->server || !cfg->token) {
    fprintf(stderr, "k3c agent: --server (K3C_URL) and --token (K3C_TOKEN) are required\n");
    return 2;
  }
  fprintf(stderr, "k3c agent: the node agent is not available in this build yet\n");
  return 1;
}
