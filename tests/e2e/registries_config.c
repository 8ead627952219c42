/* Driver of tests/e2e/test_registries.sh: write the agent's containerd
 * config for a data dir and a registries.yaml, print its path.
 *   registries_config DATA_DIR REGISTRIES_FILE
 * Exit 0, or 1 with the reason on stderr. */
#include <limits.h>
#include <stdio.h>

#include "agent/containerd.h"

int main(int argc, char **argv) {
  char err[1024], config[PATH_MAX], sock[PATH_MAX];
  if (argc != 3) {
    fprintf(stderr, "usage: registries_config DATA_DIR REGISTRIES_FILE\n");
    return 2;
  }
  agent_containerd_opts_t o = {.data_dir = argv[1], .sandbox_image = "localhost/k3c/pause:e2e",
                               .snapshotter = "native", .registries_file = argv[2]};
  if (agent_containerd_config_write(&o, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  agent_containerd_paths(&o, config, sock);
  printf("%s\n", config);
  return 0;
}
