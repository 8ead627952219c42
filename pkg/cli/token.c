/* `k3c token`: join-token management. The token store lives in the server's
 * datastore; until that exists this command says so instead of pretending. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_token(int argc, char **argv) {
  if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
    fprintf(argc < 1 ? stderr : stdout, "Usage: k3c token create|list|delete [flags]\n");
    return argc < 1 ? 2 : 0;
  }
  if (strcmp(argv[0], "create") && strcmp(argv[0], "list") && strcmp(argv[0], "delete")) {
    fprintf(stderr, "k3c token: unknown subcommand \"%s\"\nUsage: k3c token create|list|delete [flags]\n",
            argv[0]);
    return 2;
  }
  fprintf(stderr, "k3c token %s: not available in this build yet; the node token is in "
                  "<data-dir>/server/node-token\n", argv[0]);
  return 1;
}
