/* k3c: one binary for a whole Kubernetes node. This file only parses the
 * subcommand and dispatches; each subcommand lives in its component. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/pause.h"
#include "cli/cli.h"
#include "config/config.h"
#include "net/cniplugin.h"
#include "server/server.h"
#include "util/alloc.h"
#include "util/log.h"
#include "version.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: k3c <command> [flags]\n"
          "\n"
          "k3c runs a Kubernetes node for edge and IoT devices from one binary.\n"
          "\n"
          "Commands:\n"
          "  server        run the control plane and, unless --disable-agent, this node's agent\n"
          "  agent         join a server (--server URL --token T) and run its node agent\n"
          "                (--hollow N: N fake nodes)\n"
          "  token         bootstrap tokens for joining agents (create, list, delete, generate)\n"
          "  datastore     show the datastore's size, compact or defrag it (server stopped)\n"
          "  secrets-encrypt  encryption at rest of Secrets (status, enable, disable, rotate-keys,\n"
          "                reencrypt)\n"
          "  kubectl       run kubectl with the admin kubeconfig\n"
          "  check-config  report whether this host can run k3c\n"
          "  pause         the pod sandbox process of k3c's pause image (sleeps until SIGTERM)\n"
          "  cni           the built-in CNI plugin containerd runs (CNI_COMMAND etc., config on\n"
          "                stdin; also run as k3c-cni or loopback)\n"
          "\n"
          "Flags:\n"
          "  -h, --help     show this help (k3c <command> --help for a command's flags)\n"
          "  -v, --version  print the version\n");
}

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "k3c: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  usage(stderr);
  return 2;
}

static void print_version(void) {
  printf("k3c version %s (%s)\n", K3C_VERSION, K3C_GIT_COMMIT);
}

/* Load config for a daemon subcommand; prints errors. Returns an exit code
 * to use, or -1 to continue. */
static int load_config(k3c_config_t *cfg, config_cmd_t cmd, const char *name, int argc,
                       char **argv) {
  char err[1024];
  int r = config_load(cfg, cmd, argc, argv, err, sizeof(err));
  if (r == -EAGAIN) {
    printf("Usage: k3c %s [flags]\n\n", name);
    config_print_help(stdout, cmd);
    return 0;
  }
  if (r < 0) {
    fprintf(stderr, "k3c %s: %s\n", name, err);
    fprintf(stderr, "Usage: k3c %s [flags] (run 'k3c %s --help' for the flags)\n", name, name);
    return 2;
  }
  if (cfg->debug)
    log_set_level(LOG_LEVEL_DEBUG);
  return -1;
}

int main(int argc, char **argv) {
  alloc_install_cjson_hooks();
  /* containerd runs <bin_dir>/<type>: links named after the plugin types */
  const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
  base = base ? base + 1 : argc > 0 ? argv[0] : "";
  if (!strcmp(base, "k3c-cni") || !strcmp(base, "loopback"))
    return net_cni_main();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "-v") || !strcmp(cmd, "version")) {
    print_version();
    return 0;
  }
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "kubectl"))
    return cli_kubectl(argc - 2, argv + 2);
  if (!strcmp(cmd, "datastore"))
    return cli_datastore(argc - 2, argv + 2);
  if (!strcmp(cmd, "secrets-encrypt"))
    return cli_secrets_encrypt(argc - 2, argv + 2);
  if (!strcmp(cmd, "check-config"))
    return cli_check_config(argc - 2, argv + 2);
  if (!strcmp(cmd, "cni"))
    return net_cni_main();
  if (!strcmp(cmd, "pause"))
    return agent_pause_cli(argc - 2, argv + 2); /* the pod sandbox's process */

  k3c_config_t cfg;
  int rc;
  if (!strcmp(cmd, "server")) {
    if ((rc = load_config(&cfg, CONFIG_CMD_SERVER, "server", argc - 2, argv + 2)) < 0)
      rc = server_run(&cfg);
  } else if (!strcmp(cmd, "agent")) {
    if ((rc = load_config(&cfg, CONFIG_CMD_AGENT, "agent", argc - 2, argv + 2)) < 0)
      rc = agent_run(&cfg);
  } else if (!strcmp(cmd, "token")) {
    return cli_token(argc - 2, argv + 2);
  } else if (cmd[0] == '-') {
    return bad_usage("unknown flag %s", cmd);
  } else {
    return bad_usage("unknown command \"%s\"", cmd);
  }
  config_done(&cfg);
  return rc;
}
