/* RFC 4648 base64 encoding and validation (base64.h). */
#include "util/base64.h"

#include <string.h>

#include "util/alloc.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len) {
  const unsigned char *p = data;
  char *out = xmalloc((len + 2) / 3 * 4 + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < len)
      v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < len)
      v |= p[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return out;
}

bool base64_valid(const char *s) {
  size_t len = strlen(s);
  if (len % 4)
    return false;
  for (size_t i = 0; i < len; i++) {
    bool pad = s[i] == '=';
    if (pad && !(i >= len - 2 && (i == len - 1 || s[len - 1] == '=')))
      return false;
    if (!pad && !strchr(alphabet, s[i]))
      return false;
  }
  return true;
}
