/* `k3c kubectl`: run the kubectl on PATH against this node's cluster, as
 * `k3s kubectl` does: KUBECONFIG defaults to the admin kubeconfig. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/alloc.h"

int cli_kubectl(int argc, char **argv) {
  const char *kubeconfig = getenv("KUBECONFIG");
  if (!kubeconfig || !*kubeconfig) {
    const char *path = "/etc/k3c/k3c.yaml";
    if (access(path, R_OK) == 0)
      setenv("KUBECONFIG", path, 1);
  }
  char **args = xcalloc((size_t)argc + 2, sizeof(char *));
  args[0] = "kubectl";
  for (int i = 0; i < argc; i++)
    args[i + 1] = argv[i];
  execvp("kubectl", args);
  fprintf(stderr, "k3c kubectl: cannot run kubectl: %s (install kubectl and put it on PATH)\n",
          strerror(errno));
  free(args);
  return 1;
}
