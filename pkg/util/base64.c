/* RFC 4648 base64 encoding and validation, and the unpadded base64url of
 * RFC 4648 section 5 (base64.h). */
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

static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64url_encode(const void *data, size_t len, char *out) {
  const unsigned char *p = data;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < len)
      v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < len)
      v |= p[i + 2];
    out[o++] = url_alphabet[(v >> 18) & 63];
    out[o++] = url_alphabet[(v >> 12) & 63];
    if (i + 1 < len)
      out[o++] = url_alphabet[(v >> 6) & 63];
    if (i + 2 < len)
      out[o++] = url_alphabet[v & 63];
  }
  out[o] = '\0';
  return o;
}

static int url_sextet(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

int base64url_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_len) {
  if (len % 4 == 1)
    return -EINVAL;
  unsigned char *out = xmalloc(len / 4 * 3 + 3);
  size_t o = 0;
  unsigned v = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int x = url_sextet(s[i]);
    if (x < 0) {
      free(out);
      return -EINVAL;
    }
    v = (v << 6 | (unsigned)x) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(v >> bits);
    }
  }
  if (bits && (v & ((1u << bits) - 1))) { /* leftover bits must be zero */
    free(out);
    return -EINVAL;
  }
  out[o] = 0;
  *ret_data = out;
  *ret_len = o;
  return 0;
}
