/* pkg/store continue tokens: "k3c1" + base64url("<rev>/<last key>"), the
 * store's version of the apiserver's continue token (Kubernetes API
 * concepts, "Retrieving large results sets in chunks"). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/token.h"
#include "util/alloc.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
#define TOKEN_MAGIC "k3c1"

char *store__token_encode(int64_t rev, const char *last_key) {
  char *raw = xasprintf("%" PRId64 "/%s", rev, last_key);
  size_t n = strlen(raw), o = strlen(TOKEN_MAGIC);
  char *out = xmalloc(o + (n + 2) / 3 * 4 + 1);
  memcpy(out, TOKEN_MAGIC, o);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
    if (i + 2 < n)
      v |= (unsigned char)raw[i + 2];
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    if (i + 1 < n)
      out[o++] = b64[(v >> 6) & 63];
    if (i + 2 < n)
      out[o++] = b64[v & 63];
  }
  out[o] = '\0';
  free(raw);
  return out;
}

static int b64val(char c) {
  const char *p = c ? strchr(b64, c) : NULL;
  return p ? (int)(p - b64) : -1;
}

int store__token_decode(const char *tok, int64_t *ret_rev, char **ret_key) {
  size_t m = strlen(TOKEN_MAGIC);
  if (!tok || strncmp(tok, TOKEN_MAGIC, m) != 0)
    return -EINVAL;
  tok += m;
  size_t n = strlen(tok);
  if (n % 4 == 1 || n > 16384)
    return -EINVAL;
  char *raw = xmalloc(n / 4 * 3 + 3);
  size_t o = 0;
  int r = -EINVAL;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = 0;
    size_t k = n - i < 4 ? n - i : 4;
    for (size_t j = 0; j < 4; j++) {
      int d = j < k ? b64val(tok[i + j]) : 0;
      if (d < 0)
        goto out;
      v = v << 6 | (uint32_t)d;
    }
    raw[o++] = (char)(v >> 16);
    if (k > 2)
      raw[o++] = (char)(v >> 8);
    if (k > 3)
      raw[o++] = (char)v;
  }
  raw[o] = '\0';
  if (memchr(raw, '\0', o))
    goto out;
  char *slash = strchr(raw, '/'), *end = NULL;
  if (!slash || slash == raw)
    goto out;
  errno = 0;
  long long rev = strtoll(raw, &end, 10);
  if (errno || end != slash || rev <= 0 || !slash[1])
    goto out;
  *ret_rev = rev;
  *ret_key = xstrdup(slash + 1);
  r = 0;
out:
  free(raw);
  return r;
}
