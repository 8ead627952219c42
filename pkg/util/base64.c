/* RFC 4648 base64 encoding and validation (base64.h). */
#include "util/base64.h"

#include <errno.h>
#include <string.h>

#include <stdlib.h>

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

static int sextet(char c) {
  const char *p = c ? strchr(alphabet, c) : NULL;
  return p ? (int)(p - alphabet) : -1;
}

int base64_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_len) {
  if (len % 4)
    return -EINVAL;
  unsigned char *out = xmalloc(len / 4 * 3 + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 4) {
    bool last = i + 4 == len;
    int pad = 0;
    unsigned v = 0;
    for (size_t j = 0; j < 4; j++) {
      int x = sextet(s[i + j]);
      if (x < 0) {
        /* '=' only as the last one or two characters of the input */
        if (s[i + j] != '=' || !last || j < 2 || (j == 2 && s[i + 3] != '=')) {
          free(out);
          return -EINVAL;
        }
        pad++;
        x = 0;
      } else if (pad) {
        free(out);
        return -EINVAL;
      }
      v = v << 6 | (unsigned)x;
    }
    out[o++] = (unsigned char)(v >> 16);
    if (pad < 2)
      out[o++] = (unsigned char)(v >> 8);
    if (pad < 1)
      out[o++] = (unsigned char)v;
  }
  out[o] = 0;
  *ret_data = out;
  *ret_len = o;
  return 0;
}
