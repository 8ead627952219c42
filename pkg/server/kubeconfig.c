/* Admin kubeconfig (client-go clientcmd v1 Config format:
 * https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/). */
#include "server/kubeconfig.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "util/alloc.h"
#include "util/fsutil.h"

static char *b64(const char *s) {
  size_t len = strlen(s), olen = 0;
  size_t cap = 4 * ((len + 2) / 3) + 1;
  unsigned char *out = xmalloc(cap);
  if (mbedtls_base64_encode(out, cap, &olen, (const unsigned char *)s, len) != 0)
    abort(); /* cap is exact; cannot happen */
  out[olen] = '\0';
  return (char *)out;
}

int server_kubeconfig_render(const char *server_url, const char *ca_pem, const char *cert_pem,
                             const char *key_pem, char **ret_yaml) {
  char *ca = b64(ca_pem), *cert = b64(cert_pem), *key = b64(key_pem);
  *ret_yaml = xasprintf("apiVersion: v1\n"
                        "clusters:\n"
                        "- cluster:\n"
                        "    certificate-authority-data: %s\n"
                        "    server: %s\n"
                        "  name: default\n"
                        "contexts:\n"
                        "- context:\n"
                        "    cluster: default\n"
                        "    user: default\n"
                        "  name: default\n"
                        "current-context: default\n"
                        "kind: Config\n"
                        "preferences: {}\n"
                        "users:\n"
                        "- name: default\n"
                        "  user:\n"
                        "    client-certificate-data: %s\n"
                        "    client-key-data: %s\n",
                        ca, server_url, cert, key);
  free(ca);
  free(cert);
  free(key);
  return 0;
}

int server_kubeconfig_write(const char *path, mode_t mode, const char *server_url,
                            const char *ca_pem, const char *cert_pem, const char *key_pem) {
  char *yaml = NULL;
  char *dir = xstrdup(path);
  int r = fs_mkdir_p(dirname(dir), 0755);
  if (r < 0)
    goto out;
  server_kubeconfig_render(server_url, ca_pem, cert_pem, key_pem, &yaml);
  r = fs_write_atomic(path, yaml, strlen(yaml), mode);
out:
  if (yaml) {
    memset(yaml, 0, strlen(yaml)); /* it holds a private key */
    free(yaml);
  }
  free(dir);
  return r;
}
