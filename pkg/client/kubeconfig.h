/* pkg/client kubeconfig: what a client needs from a kubeconfig file (the
 * current context's cluster and user), for client_https_new.
 * Pure but for reading the files; any thread. */
#pragma once

#include <stddef.h>

typedef struct {
  char *server; /* "https://host:6443" */
  char *ca;     /* PEM of the certificate authority */
  char *cert, *key; /* PEM of the client certificate and key, or NULL */
  char *token;  /* bearer token, or NULL */
} client_kubeconfig_t;

/* Fill k (zeroed by the caller) from the kubeconfig at path: the context
 * named by current-context (an error when there is none of that name), or
 * the first context, cluster and user when it is unset. File paths in it
 * are relative to path's directory, as kubectl reads them. Returns 0, or
 * a negative errno with a reason starting with path in err; k may then
 * hold parts and must still be released with client_kubeconfig_done. */
int client_kubeconfig_load(const char *path, client_kubeconfig_t *k, char *err, size_t errlen);
void client_kubeconfig_done(client_kubeconfig_t *k);
