/* The admin kubeconfig k3c writes at start-up (k3s's /etc/rancher/k3s/k3s.yaml
 * layout: one cluster, context and user, all named "default", with the CA
 * and the client certificate embedded as base64 *-data fields). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Render the kubeconfig YAML; caller frees *ret_yaml. */
int server_kubeconfig_render(const char *server_url, const char *ca_pem, const char *cert_pem,
                             const char *key_pem, char **ret_yaml);

/* Render and write atomically with mode (parent directories are created
 * 0755). Returns 0 or a negative errno. */
int server_kubeconfig_write(const char *path, mode_t mode, const char *server_url,
                            const char *ca_pem, const char *cert_pem, const char *key_pem);
