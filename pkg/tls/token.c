/* k3s-style join tokens: K10<sha256(CA bundle)>::server:<secret>, kept in
 * <data-dir>/server/token and <data-dir>/server/node-token (k3s's
 * docs.k3s.io/cli/token "secure" token format). */
#include "tls/token.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tls/cert.h"
#include "util/errbuf.h"
#include "util/alloc.h"
#include "util/fsutil.h"


void tls_token_ca_hash(const char *ca_pem, char ret_hex[65]) {
  tls_sha256_hex(ca_pem, strlen(ca_pem), ret_hex);
}

int tls_token_parse(const char *token, char **ret_ca_hash, char **ret_user, char **ret_secret) {
  if (!token || !*token)
    return -EINVAL;
  const char *hash = NULL, *user = NULL, *secret = token;
  size_t hash_len = 0, user_len = 0;
  if (!strncmp(token, "K10", 3)) {
    const char *sep = strstr(token, "::");
    if (!sep)
      return -EINVAL;
    hash = token + 3;
    hash_len = (size_t)(sep - hash);
    if (hash_len == 0)
      return -EINVAL;
    const char *colon = strchr(sep + 2, ':');
    if (colon) {
      user = sep + 2;
      user_len = (size_t)(colon - user);
      secret = colon + 1;
    } else {
      secret = sep + 2; /* K10<hash>::<id>.<secret>, a bootstrap token */
    }
  }
  if (!*secret || strpbrk(secret, " \t\r\n"))
    return -EINVAL;
  if (ret_ca_hash)
    *ret_ca_hash = hash ? xstrndup(hash, hash_len) : NULL;
  if (ret_user)
    *ret_user = user ? xstrndup(user, user_len) : NULL;
  if (ret_secret)
    *ret_secret = xstrdup(secret);
  return 0;
}

/* Secret from the existing token file, or NULL. */
static char *secret_from_file(const char *path) {
  char *data = NULL, *secret = NULL;
  size_t len;
  if (fs_read_file(path, 4096, &data, &len) < 0)
    return NULL;
  data[strcspn(data, "\r\n")] = '\0';
  if (tls_token_parse(data, NULL, NULL, &secret) < 0)
    secret = NULL;
  free(data);
  return secret;
}

static int write_if_changed(const char *path, const char *content, char *err, size_t errlen) {
  char *old = NULL;
  size_t len;
  if (fs_read_file(path, 4096, &old, &len) == 0 && !strcmp(old, content)) {
    free(old);
    return 0;
  }
  free(old);
  int r = fs_write_atomic(path, content, strlen(content), 0600);
  if (r < 0)
    errbuf_set(err, errlen, "write %s: %s", path, strerror(-r));
  return r;
}

int tls_token_ensure(const char *data_dir, const char *ca_pem, const char *configured,
                     char **ret_token, char *err, size_t errlen) {
  int r = 0;
  char *secret = NULL, *token = NULL, *line = NULL;
  char *dir = xasprintf("%s/server", data_dir);
  char *token_path = xasprintf("%s/token", dir);
  char *node_path = xasprintf("%s/node-token", dir);
  if ((r = fs_mkdir_p(dir, 0700)) < 0) {
    errbuf_set(err, errlen, "create %s: %s", dir, strerror(-r));
    goto out;
  }
  if (configured && *configured) {
    if (tls_token_parse(configured, NULL, NULL, &secret) < 0) {
      errbuf_set(err, errlen, "malformed --token");
      r = -EINVAL;
      goto out;
    }
  } else {
    secret = secret_from_file(token_path);
  }
  if (!secret) {
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
      r = -EIO;
      errbuf_set(err, errlen, "getrandom failed");
      goto out;
    }
    secret = xmalloc(33);
    for (size_t i = 0; i < sizeof(raw); i++)
      snprintf(secret + 2 * i, 3, "%02x", raw[i]);
  }
  char hash[65];
  tls_token_ca_hash(ca_pem, hash);
  token = xasprintf("K10%s::server:%s", hash, secret);
  line = xasprintf("%s\n", token);
  if ((r = write_if_changed(token_path, line, err, errlen)) < 0 ||
      (r = write_if_changed(node_path, line, err, errlen)) < 0)
    goto out;
  *ret_token = token;
  token = NULL;
out:
  free(secret);
  free(token);
  free(line);
  free(dir);
  free(token_path);
  free(node_path);
  return r;
}
