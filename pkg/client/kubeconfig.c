/* Reading a kubeconfig file for a client: the current context's server,
 * certificate authority, and the user's client certificate and key or
 * bearer token (inline *-data or file paths), as kubectl reads them.
 * https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/ */
#include "client/kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "json/util.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "yaml/decode.h"



void client_kubeconfig_done(client_kubeconfig_t *k) {
  free(k->server);
  free(k->ca);
  free(k->cert);
  free(k->key);
  free(k->token);
}

/* The named entry of a kubeconfig list ("clusters", "users", "contexts"),
 * or the first one when name is NULL. */
static const cJSON *kc_entry(const cJSON *doc, const char *list, const char *field,
                             const char *name) {
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, list)) {
    const char *n = json_str(e, "name");
    if (!name || (n && !strcmp(n, name)))
      return cJSON_GetObjectItemCaseSensitive(e, field);
  }
  return NULL;
}

/* A PEM from "<field>-data" (base64) or "<field>" (a file path; relative
 * to the kubeconfig's directory dir, as kubectl resolves it). */
static int kc_pem(const cJSON *obj, const char *field, const char *dir, char **ret, char *err,
                  size_t errlen) {
  char name[64];
  snprintf(name, sizeof(name), "%s-data", field);
  const char *data = json_str(obj, name);
  if (data) {
    size_t len = strlen(data), out = 0;
    unsigned char *buf = xmalloc(len + 1);
    if (mbedtls_base64_decode(buf, len + 1, &out, (const unsigned char *)data, len) != 0) {
      free(buf);
      snprintf(err, errlen, "%s is not base64", name);
      return -EINVAL;
    }
    buf[out] = 0;
    *ret = (char *)buf;
    return 0;
  }
  const char *path = json_str(obj, field);
  if (!path)
    return 0;
  char *full = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir, path);
  int r = fs_read_file(full, 1 << 20, ret, NULL);
  if (r < 0)
    snprintf(err, errlen, "%s %s: %s", field, full, strerror(-r));
  free(full);
  return r;
}

int client_kubeconfig_load(const char *path, client_kubeconfig_t *k, char *err, size_t errlen) {
  char *text = NULL, *dir = NULL;
  size_t len = 0;
  cJSON *doc = NULL;
  int r = fs_read_file(path, 1 << 20, &text, &len);
  if (r < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
    return r;
  }
  char yerr[256];
  if ((r = yaml_parse_one(text, len, &doc, yerr, sizeof(yerr))) < 0) {
    snprintf(err, errlen, "%s: %s", path, yerr);
    goto out;
  }
  const char *cur = json_str(doc, "current-context");
  if (cur && !cur[0])
    cur = NULL;
  const cJSON *ctx = kc_entry(doc, "contexts", "context", cur);
  r = -EINVAL;
  if (cur && !ctx) {
    /* Not some other cluster: kubectl refuses too. */
    snprintf(err, errlen, "%s: no context named %s (its current-context)", path, cur);
    goto out;
  }
  const cJSON *cluster = kc_entry(doc, "clusters", "cluster", ctx ? json_str(ctx, "cluster") : NULL);
  const cJSON *user = kc_entry(doc, "users", "user", ctx ? json_str(ctx, "user") : NULL);
  if (!cluster || !json_str(cluster, "server")) {
    snprintf(err, errlen, "%s: no cluster with a server", path);
    goto out;
  }
  k->server = xstrdup(json_str(cluster, "server"));
  const char *slash = strrchr(path, '/');
  dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
  char perr[384] = "";
  if ((r = kc_pem(cluster, "certificate-authority", dir, &k->ca, perr, sizeof(perr))) < 0 ||
      (r = kc_pem(user, "client-certificate", dir, &k->cert, perr, sizeof(perr))) < 0 ||
      (r = kc_pem(user, "client-key", dir, &k->key, perr, sizeof(perr))) < 0) {
    snprintf(err, errlen, "%s: %s", path, perr);
    goto out;
  }
  if (json_str(user, "token"))
    k->token = xstrdup(json_str(user, "token"));
  r = -EINVAL;
  if (!k->ca) {
    snprintf(err, errlen, "%s: the cluster has no certificate-authority(-data)", path);
    goto out;
  }
  if (!(k->cert && k->key) && !k->token) {
    snprintf(err, errlen, "%s: the user has neither a client certificate and key nor a token", path);
    goto out;
  }
  r = 0;
out:
  cJSON_Delete(doc);
  free(text);
  free(dir);
  return r;
}

