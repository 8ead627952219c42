/* Strict numeric query parameters with Go strconv's grammar and error text
 * (k8s.io/apimachinery runtime.Convert_Slice_string_To_int64 and
 * k8s.io/apiserver storage.APIObjectVersioner.ParseResourceVersion). */
#include "api/param.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_len(const unsigned char *s) {
  size_t n;
  uint32_t cp;
  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0)
    n = 2, cp = s[0] & 0x1f;
  else if ((s[0] & 0xf0) == 0xe0)
    n = 3, cp = s[0] & 0x0f;
  else if ((s[0] & 0xf8) == 0xf0)
    n = 4, cp = s[0] & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

void api_param_quote(const char *s, char *out, size_t outlen) {
  size_t o = 0;
  if (outlen == 0)
    return;
#define PUT(str, len)                                                                              \
  do {                                                                                             \
    if (o + (len) + 2 > outlen)                                                                    \
      goto done;                                                                                   \
    memcpy(out + o, (str), (len));                                                                 \
    o += (len);                                                                                    \
  } while (0)
  PUT("\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    char esc[8];
    size_t n = utf8_len(p);
    if (n > 1) {
      PUT(p, n);
      p += n;
      continue;
    }
    switch (*p) {
    case '"': PUT("\\\"", 2); break;
    case '\\': PUT("\\\\", 2); break;
    case '\a': PUT("\\a", 2); break;
    case '\b': PUT("\\b", 2); break;
    case '\f': PUT("\\f", 2); break;
    case '\n': PUT("\\n", 2); break;
    case '\r': PUT("\\r", 2); break;
    case '\t': PUT("\\t", 2); break;
    case '\v': PUT("\\v", 2); break;
    default:
      if (*p >= 0x20 && *p < 0x7f) {
        PUT(p, 1);
      } else {
        snprintf(esc, sizeof(esc), "\\x%02x", *p);
        PUT(esc, 4);
      }
    }
    p++;
  }
  out[o++] = '"';
done:
  out[o] = '\0';
#undef PUT
}

/* Go's ParseUint(s, 10, 64) core: digits only, the first fault wins in
 * scan order as in strconv (a syntax error before an overflow and after). */
static int parse_u64(const char *s, uint64_t *ret) {
  uint64_t v = 0;
  if (!*s)
    return -EINVAL;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return -EINVAL;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -ERANGE;
    v = v * 10 + d;
  }
  *ret = v;
  return 0;
}

static void num_error(char *err, size_t errlen, const char *fn, const char *s, int r) {
  char q[160];
  api_param_quote(s, q, sizeof(q));
  snprintf(err, errlen, "strconv.%s: parsing %s: %s", fn, q,
           r == -ERANGE ? "value out of range" : "invalid syntax");
}

int api_param_int64(const char *s, int64_t *ret_v, char *err, size_t errlen) {
  bool neg = false;
  const char *p = s;
  uint64_t u = 0;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  int r = parse_u64(p, &u);
  if (r == 0 && u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
    r = -ERANGE;
  if (r < 0) {
    num_error(err, errlen, "ParseInt", s, r);
    return r;
  }
  *ret_v = neg ? (int64_t)(0 - u) : (int64_t)u;
  return 0;
}

int api_param_rv(const char *s, int64_t *ret_v, char *err, size_t errlen) {
  uint64_t u = 0;
  if (!s || !s[0] || !strcmp(s, "0")) {
    *ret_v = 0;
    return 0;
  }
  int r = parse_u64(s, &u);
  if (r < 0) {
    char why[256], q[160];
    num_error(why, sizeof(why), "ParseUint", s, r);
    api_param_quote(s, q, sizeof(q));
    snprintf(err, errlen, "resourceVersion: Invalid value: %s: %s", q, why);
    return -EINVAL;
  }
  *ret_v = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
  return 0;
}
