/* Helpers the CEL function libraries share (lib.h): UTF-8, Go's float
 * formatting (strconv.FormatFloat with the shortest round-tripping
 * digits), a small string builder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"

uint32_t cel__utf8_next(const char *str, size_t len, size_t *i) {
  const unsigned char *s = (const unsigned char *)str;
  size_t p = *i;
  unsigned c = s[p];
  int n;
  uint32_t cp, min;
  if (c < 0x80) {
    *i = p + 1;
    return c;
  } else if ((c & 0xe0) == 0xc0)
    n = 1, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    n = 2, cp = c & 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    n = 3, cp = c & 0x07, min = 0x10000;
  else
    goto bad;
  for (int k = 1; k <= n; k++) {
    if (p + (size_t)k >= len || (s[p + (size_t)k] & 0xc0) != 0x80)
      goto bad;
    cp = (cp << 6) | (s[p + (size_t)k] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    goto bad;
  *i = p + 1 + (size_t)n;
  return cp;
bad:
  *i = p + 1;
  return 0xfffd;
}

size_t cel__utf8_put(char *out, uint32_t c) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xc0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
  out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

size_t cel__utf8_count(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      n++;
  return n;
}

bool cel__utf8_valid(const char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t at = i;
    if (cel__utf8_next(s, len, &i) == 0xfffd) {
      /* a literal U+FFFD is 3 bytes EF BF BD */
      if (i - at != 3)
        return false;
    }
  }
  return true;
}

/* The shortest decimal digits that read back as d (d finite, > 0):
 * digits in dig (no dot), and the decimal exponent of the first digit. */
static int shortest(double d, char *dig, int *ret_exp) {
  char tmp[40];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
    if (strtod(tmp, NULL) == d || prec == 16) {
      int n = 0;
      char *e = strchr(tmp, 'e');
      for (char *p = tmp; p < e; p++)
        if (*p >= '0' && *p <= '9')
          dig[n++] = *p;
      while (n > 1 && dig[n - 1] == '0')
        n--;
      dig[n] = 0;
      *ret_exp = atoi(e + 1);
      return n;
    }
  }
  return 0;
}

static bool special(double d, char *buf, size_t size) {
  if (isnan(d))
    snprintf(buf, size, "NaN");
  else if (isinf(d))
    snprintf(buf, size, d > 0 ? "+Inf" : "-Inf");
  else if (d == 0)
    snprintf(buf, size, signbit(d) ? "-0" : "0");
  else
    return false;
  return true;
}

/* digits dig (n of them) with the first at exponent exp, as %f */
static void put_f(char *buf, size_t size, bool neg, const char *dig, int n, int exp) {
  size_t o = 0;
#define PUT(c)                                                                                      \
  do {                                                                                              \
    if (o + 1 < size)                                                                               \
      buf[o++] = (c);                                                                               \
  } while (0)
  if (neg)
    PUT('-');
  if (exp < 0) {
    PUT('0');
    PUT('.');
    for (int k = -1; k > exp; k--)
      PUT('0');
    for (int k = 0; k < n; k++)
      PUT(dig[k]);
  } else {
    for (int k = 0; k <= exp || k < n; k++) {
      if (k == exp + 1)
        PUT('.');
      PUT(k < n ? dig[k] : '0');
    }
  }
#undef PUT
  buf[o] = 0;
}

void cel__fmt_double_g(double d, char *buf, size_t size) {
  if (special(d, buf, size))
    return;
  char dig[24];
  int exp;
  int n = shortest(fabs(d), dig, &exp);
  if (exp < -4 || exp >= 6) {
    /* Go: %e when exp < -4 || exp >= eprec; eprec is 6 for the shortest
     * form (strconv's ftoa) */
    size_t o = (size_t)snprintf(buf, size, "%s%c", d < 0 ? "-" : "", dig[0]);
    if (n > 1)
      o += (size_t)snprintf(buf + o, size > o ? size - o : 0, ".%s", dig + 1);
    snprintf(buf + o, size > o ? size - o : 0, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    return;
  }
  put_f(buf, size, d < 0, dig, n, exp);
}

void cel__fmt_double_f(double d, char *buf, size_t size) {
  if (special(d, buf, size))
    return;
  char dig[24];
  int exp;
  int n = shortest(fabs(d), dig, &exp);
  put_f(buf, size, d < 0, dig, n, exp);
}

void cel__sb_add(cel__sb_t *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

void cel__sb_addc(cel__sb_t *b, char c) {
  cel__sb_add(b, &c, 1);
}

void cel__sb_addz(cel__sb_t *b, const char *s) {
  cel__sb_add(b, s, strlen(s));
}

cel_value_t *cel__sb_string(cel__sb_t *b) {
  cel_value_t *v = cel_string(b->p ? b->p : "", b->len);
  cel__sb_done(b);
  return v;
}

void cel__sb_done(cel__sb_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* Go's %q: strconv.Quote (printable runes kept, others escaped) */
void cel__go_quote(cel__sb_t *sb, const char *s, size_t len) {
  cel__sb_addc(sb, '"');
  for (size_t i = 0; i < len;) {
    size_t at = i;
    uint32_t c = cel__utf8_next(s, len, &i);
    char tmp[16];
    if (c == 0xfffd && i - at != 3) {
      snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned char)s[at]);
      cel__sb_addz(sb, tmp);
      continue;
    }
    switch (c) {
    case '\a': cel__sb_addz(sb, "\\a"); continue;
    case '\b': cel__sb_addz(sb, "\\b"); continue;
    case '\f': cel__sb_addz(sb, "\\f"); continue;
    case '\n': cel__sb_addz(sb, "\\n"); continue;
    case '\r': cel__sb_addz(sb, "\\r"); continue;
    case '\t': cel__sb_addz(sb, "\\t"); continue;
    case '\v': cel__sb_addz(sb, "\\v"); continue;
    case '\\': cel__sb_addz(sb, "\\\\"); continue;
    case '"': cel__sb_addz(sb, "\\\""); continue;
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      snprintf(tmp, sizeof(tmp), "\\x%02x", c);
      cel__sb_addz(sb, tmp);
    } else if ((c >= 0x80 && c < 0xa0) || c == 0xad) {
      snprintf(tmp, sizeof(tmp), "\\u%04x", c);
      cel__sb_addz(sb, tmp);
    } else
      cel__sb_add(sb, s + at, i - at);
  }
  cel__sb_addc(sb, '"');
}

const char *cel__memrmem(const char *h, size_t hl, const char *n, size_t nl) {
  if (nl == 0)
    return h + hl;
  if (nl > hl)
    return NULL;
  /* KMP over the reversed texts: linear in hl + nl */
  size_t *fail = xmalloc(nl * sizeof(*fail));
  fail[0] = 0;
  for (size_t i = 1, k = 0; i < nl; i++) {
    while (k && n[nl - 1 - i] != n[nl - 1 - k])
      k = fail[k - 1];
    if (n[nl - 1 - i] == n[nl - 1 - k])
      k++;
    fail[i] = k;
  }
  const char *r = NULL;
  for (size_t i = 0, k = 0; i < hl; i++) {
    char c = h[hl - 1 - i];
    while (k && c != n[nl - 1 - k])
      k = fail[k - 1];
    if (c == n[nl - 1 - k])
      k++;
    if (k == nl) {
      r = h + (hl - 1 - i);
      break;
    }
  }
  free(fail);
  return r;
}

uint64_t cel__size(const cel_value_t *v) {
  size_t len;
  const char *s;
  switch (cel_value_kind(v)) {
  case CEL_STRING:
    s = cel_value_str(v, &len);
    return cel__utf8_count(s, len);
  case CEL_BYTES:
    cel_value_str(v, &len);
    return len;
  case CEL_LIST:
    return cel_list_len(v);
  case CEL_MAP:
    return cel_map_len(v);
  case CEL_OPTIONAL:
    return cel_value_optional(v) ? cel__size(cel_value_optional(v)) : 1;
  default:
    return 1;
  }
}

uint64_t cel__traversal_cost(const cel_value_t *v) {
  size_t len;
  uint64_t c = 0;
  switch (cel_value_kind(v)) {
  case CEL_STRING:
  case CEL_BYTES:
    cel_value_str(v, &len);
    return len / 10;
  case CEL_LIST:
    for (size_t i = 0; i < cel_list_len(v); i++)
      c += cel__traversal_cost(cel_list_at(v, i));
    return c;
  case CEL_MAP:
    for (size_t i = 0; i < cel_map_len(v); i++) {
      cel_value_t *k, *e;
      cel_map_entry(v, i, &k, &e);
      c += cel__traversal_cost(k) + cel__traversal_cost(e);
    }
    return c;
  default:
    return 1;
  }
}

cel_value_t *cel__no_overload(const char *fn) {
  (void)fn;
  return cel_errorf("no such overload");
}
