/* Small subcommands of the k3c binary that are not daemons. Each takes the
 * arguments after its name and returns the process exit status. */
#pragma once

#include "config/config.h"

/* exec kubectl with KUBECONFIG defaulting to the admin kubeconfig. Returns
 * only on failure. */
int cli_kubectl(int argc, char **argv);

/* Print a readiness report for this host (kernel, cgroups, modules, tools).
 * Exit status 0 when every required check passes, 1 otherwise. */
int cli_check_config(int argc, char **argv);

/* k3c token create|list|delete. */
int cli_token(int argc, char **argv);

/* k3c datastore status|compact|defrag: sizes, compaction and VACUUM of a
 * stopped server's database (pkg/cli/datastore.c). */
int cli_datastore(int argc, char **argv);


/* k3c secrets-encrypt status|enable|disable|rotate-keys|reencrypt, against
 * the running server (pkg/cli/secretsencrypt.c). */
int cli_secrets_encrypt(int argc, char **argv);
