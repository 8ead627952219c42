/* cel-go's string extension (ext/strings.go) at the version Kubernetes
 * enables (StringsVersion(2), k8s.io/apiserver/pkg/cel/environment):
 * charAt indexOf lastIndexOf lowerAscii upperAscii replace split substring
 * trim join format strings.quote. Indexes count code points; the error
 * texts and format's output (en-US: grouped %f, "1.0 × 10⁰³" for %e) are
 * cel-go's. reverse came at version 3 and is not offered. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)

/* byte offset of code point index ci (ci <= count) */
static size_t byte_at(const char *s, size_t len, int64_t ci) {
  size_t i = 0;
  for (int64_t k = 0; k < ci && i < len; k++)
    cel__utf8_next(s, len, &i);
  return i;
}

FN(char_at) {
  (void)nargs;
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  int64_t i = cel_value_int(args[1]);
  int64_t n = (int64_t)cel__utf8_count(s, len);
  (void)ret_cost; /* charAt: cel-go's default cost */
  if (i < 0 || i > n)
    return cel_errorf("index out of range: %" PRId64, i);
  if (i == n)
    return cel_string("", 0);
  size_t b = byte_at(s, len, i), e = b;
  cel__utf8_next(s, len, &e);
  return cel_string(s + b, e - b);
}

FN(index_of) {
  size_t len, sl;
  const char *s = cel_value_str(args[0], &len), *sub = cel_value_str(args[1], &sl);
  int64_t off = nargs > 2 ? cel_value_int(args[2]) : 0;
  cel__cost(ret_cost, len / 10); /* Kubernetes' traversalCost of the receiver */
  if (off < 0)
    return cel_errorf("index out of range: %" PRId64, off);
  int64_t n = (int64_t)cel__utf8_count(s, len);
  if (sl == 0)
    return cel_int(off > n ? n : off);
  if (off >= n)
    return cel_int(-1);
  size_t b = byte_at(s, len, off);
  const char *m = memmem(s + b, len - b, sub, sl);
  if (!m)
    return cel_int(-1);
  return cel_int((int64_t)cel__utf8_count(s, (size_t)(m - s)));
}

FN(last_index_of) {
  size_t len, sl;
  const char *s = cel_value_str(args[0], &len), *sub = cel_value_str(args[1], &sl);
  int64_t n = (int64_t)cel__utf8_count(s, len);
  cel__cost(ret_cost, len / 10);
  int64_t off;
  if (nargs > 2) {
    off = cel_value_int(args[2]);
    if (off < 0)
      return cel_errorf("index out of range: %" PRId64, off);
  } else {
    if (sl == 0)
      return cel_int(n);
    if (len < sl)
      return cel_int(-1);
    off = n - 1;
  }
  if (sl == 0)
    return cel_int(off > n ? n : off);
  if (off >= n)
    return cel_int(-1);
  int64_t subn = (int64_t)cel__utf8_count(sub, sl);
  if (off > n - subn)
    off = n - subn;
  if (off < 0)
    return cel_int(-1);
  /* the last match starting at or before code point off */
  size_t limit = byte_at(s, len, off);
  size_t end = limit + sl <= len ? limit + sl : len;
  const char *m = cel__memrmem(s, end, sub, sl);
  return cel_int(m ? (int64_t)cel__utf8_count(s, (size_t)(m - s)) : -1);
}

static cel_value_t *map_ascii(cel_value_t *v, uint64_t *ret_cost, char lo, char hi, int delta) {
  size_t len;
  const char *s = cel_value_str(v, &len);
  char *o = xmalloc(len + 1);
  for (size_t i = 0; i < len; i++)
    o[i] = (char)(s[i] >= lo && s[i] <= hi ? s[i] + delta : s[i]);
  cel_value_t *r = cel_string(o, len);
  free(o);
  cel__cost(ret_cost, cel__tenth(cel__size(v)));
  return r;
}
FN(lower_ascii) {
  (void)nargs;
  return map_ascii(args[0], ret_cost, 'A', 'Z', 'a' - 'A');
}
FN(upper_ascii) {
  (void)nargs;
  return map_ascii(args[0], ret_cost, 'a', 'z', 'A' - 'a');
}

/* Go's strings.Replace(s, old, new, n) */
FN(replace) {
  size_t len, ol, nl;
  const char *s = cel_value_str(args[0], &len), *old = cel_value_str(args[1], &ol), *rep = cel_value_str(args[2], &nl);
  int64_t n = nargs > 3 ? cel_value_int(args[3]) : -1;
  cel__cost(ret_cost, (2 * cel__size(args[0]) + 9) / 10);
  cel__sb_t sb = {0};
  size_t i = 0;
  int64_t done = 0;
  if (ol == 0) {
    /* before each code point and at the end */
    for (;;) {
      if (n >= 0 && done >= n)
        break;
      cel__sb_add(&sb, rep, nl);
      done++;
      if (i >= len)
        break;
      size_t at = i;
      cel__utf8_next(s, len, &i);
      cel__sb_add(&sb, s + at, i - at);
    }
    cel__sb_add(&sb, s + i, len - i);
    return cel__sb_string(&sb);
  }
  while (n < 0 || done < n) {
    const char *m = memmem(s + i, len - i, old, ol);
    if (!m)
      break;
    cel__sb_add(&sb, s + i, (size_t)(m - (s + i)));
    cel__sb_add(&sb, rep, nl);
    i = (size_t)(m - s) + ol;
    done++;
  }
  cel__sb_add(&sb, s + i, len - i);
  return cel__sb_string(&sb);
}

/* Go's strings.SplitN(s, sep, n) */
FN(split) {
  size_t len, sl;
  const char *s = cel_value_str(args[0], &len), *sep = cel_value_str(args[1], &sl);
  int64_t n = nargs > 2 ? cel_value_int(args[2]) : -1;
  cel__cost(ret_cost, (2 * cel__size(args[0]) + 9) / 10);
  cel_value_t *l = cel_list_new(0);
  if (n == 0)
    return l;
  size_t i = 0;
  int64_t parts = 0;
  if (sl == 0) {
    while (i < len) {
      if (n > 0 && parts == n - 1) {
        cel_list_push(l, cel_string(s + i, len - i));
        return l;
      }
      size_t at = i;
      cel__utf8_next(s, len, &i);
      cel_list_push(l, cel_string(s + at, i - at));
      parts++;
    }
    return l;
  }
  for (;;) {
    const char *m = (n > 0 && parts == n - 1) ? NULL : memmem(s + i, len - i, sep, sl);
    if (!m) {
      cel_list_push(l, cel_string(s + i, len - i));
      return l;
    }
    cel_list_push(l, cel_string(s + i, (size_t)(m - (s + i))));
    parts++;
    i = (size_t)(m - s) + sl;
  }
}

FN(substring) {
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  int64_t n = (int64_t)cel__utf8_count(s, len);
  int64_t start = cel_value_int(args[1]), end = nargs > 2 ? cel_value_int(args[2]) : n;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  if (nargs > 2 && start > end)
    return cel_errorf("invalid substring range. start: %" PRId64 ", end: %" PRId64, start, end);
  if (start < 0 || start > n)
    return cel_errorf("index out of range: %" PRId64, start);
  if (end < 0 || end > n)
    return cel_errorf("index out of range: %" PRId64, end);
  size_t b = byte_at(s, len, start), e = b + byte_at(s + b, len - b, end - start);
  return cel_string(s + b, e - b);
}

/* Go's unicode.IsSpace */
static bool is_space(uint32_t c) {
  if (c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xa0)
    return true;
  return c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

FN(trim) {
  (void)nargs;
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  size_t b = 0, e = 0;
  bool any = false;
  for (size_t i = 0; i < len;) {
    size_t at = i;
    uint32_t c = cel__utf8_next(s, len, &i);
    if (!is_space(c)) {
      if (!any)
        b = at;
      any = true;
      e = i;
    }
  }
  return any ? cel_string(s + b, e - b) : cel_string("", 0);
}

FN(join) {
  size_t sl = 0;
  const char *sep = nargs > 1 ? cel_value_str(args[1], &sl) : "";
  size_t n = cel_list_len(args[0]);
  cel__sb_t sb = {0};
  for (size_t i = 0; i < n; i++) {
    cel_value_t *e = cel_list_at(args[0], i);
    if (cel_value_kind(e) != CEL_STRING) {
      cel__sb_done(&sb);
      return cel_errorf("join: invalid input: %s", cel_value_type_name(e));
    }
    if (i)
      cel__sb_add(&sb, sep, sl);
    size_t el;
    const char *es = cel_value_str(e, &el);
    cel__sb_add(&sb, es, el);
  }
  cel__cost(ret_cost, (2 * cel__utf8_count(sb.p ? sb.p : "", sb.len) + 9) / 10);
  return cel__sb_string(&sb);
}

/* strings.quote: invalid UTF-8 as U+FFFD, C escapes */
FN(quote) {
  (void)nargs;
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  cel__sb_t sb = {0};
  cel__sb_addc(&sb, '"');
  for (size_t i = 0; i < len;) {
    size_t at = i;
    uint32_t c = cel__utf8_next(s, len, &i);
    const char *esc = NULL;
    switch (c) {
    case '\a': esc = "\\a"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\v': esc = "\\v"; break;
    case '\\': esc = "\\\\"; break;
    case '"': esc = "\\\""; break;
    default: break;
    }
    if (esc)
      cel__sb_addz(&sb, esc);
    else if (c == 0xfffd && i - at != 3)
      cel__sb_addz(&sb, "\xef\xbf\xbd");
    else
      cel__sb_add(&sb, s + at, i - at);
  }
  cel__sb_addc(&sb, '"');
  return cel__sb_string(&sb);
}

/* ---- format ---- */

/* a format error: its text (static or in err) */
typedef struct {
  char msg[256];
} fmt_err_t;

static bool fail(fmt_err_t *e, const char *fmt, const char *type) {
  snprintf(e->msg, sizeof(e->msg), fmt, type);
  return false;
}

#define ERR_STRING                                                                                 \
  "error during formatting: string clause can only be used on strings, bools, bytes, ints, "        \
  "doubles, maps, lists, types, durations, and timestamps, was given %s"

static bool fmt_value(cel__sb_t *sb, const cel_value_t *v, bool nested, fmt_err_t *e);

/* %.Nf of d with en-US grouping ("1,234.500000"; "∞" for infinities) */
static void fmt_fixed(cel__sb_t *sb, double d, int prec, bool locale) {
  if (isnan(d)) {
    cel__sb_addz(sb, "NaN");
    return;
  }
  if (isinf(d)) {
    cel__sb_addz(sb, locale ? (d > 0 ? "\xe2\x88\x9e" : "-\xe2\x88\x9e") : (d > 0 ? "+Inf" : "-Inf"));
    return;
  }
  char buf[400];
  snprintf(buf, sizeof(buf), "%.*f", prec, d);
  if (!locale) {
    cel__sb_addz(sb, buf);
    return;
  }
  const char *p = buf;
  if (*p == '-')
    cel__sb_addc(sb, *p++);
  size_t digits = strcspn(p, ".");
  for (size_t k = 0; k < digits; k++) {
    if (k && (digits - k) % 3 == 0)
      cel__sb_addc(sb, ',');
    cel__sb_addc(sb, p[k]);
  }
  cel__sb_addz(sb, p + digits);
}

/* %.Ne as golang.org/x/text's en-US printer writes it: "2.718280 × 10⁰⁰" */
static void fmt_sci(cel__sb_t *sb, double d, int prec) {
  if (isnan(d) || isinf(d)) {
    fmt_fixed(sb, d, prec, true);
    return;
  }
  char buf[400];
  snprintf(buf, sizeof(buf), "%.*e", prec, d);
  char *ep = strchr(buf, 'e');
  cel__sb_add(sb, buf, (size_t)(ep - buf));
  cel__sb_addz(sb, "\xe2\x80\xaf\xc3\x97\xe2\x80\xaf" "10");
  static const char *const sup[] = {"\xe2\x81\xb0", "\xc2\xb9", "\xc2\xb2", "\xc2\xb3", "\xe2\x81\xb4",
                                    "\xe2\x81\xb5", "\xe2\x81\xb6", "\xe2\x81\xb7", "\xe2\x81\xb8", "\xe2\x81\xb9"};
  const char *x = ep + 1;
  if (*x == '-')
    cel__sb_addz(sb, "\xe2\x81\xbb");
  if (*x == '-' || *x == '+')
    x++;
  for (; *x; x++)
    cel__sb_addz(sb, sup[*x - '0']);
}

/* an element of a list or map under %s (cel-go's clauseForType + quoteForCEL) */
static bool fmt_nested(cel__sb_t *sb, const cel_value_t *v, fmt_err_t *e) {
  size_t len;
  const char *s;
  char buf[480];
  switch (cel_value_kind(v)) {
  case CEL_STRING:
    s = cel_value_str(v, &len);
    cel__go_quote(sb, s, len);
    return true;
  case CEL_BYTES:
    s = cel_value_str(v, &len);
    cel__sb_addc(sb, 'b');
    cel__go_quote(sb, s, len);
    return true;
  case CEL_DOUBLE: {
    double d = cel_value_double(v);
    if (isnan(d) || isinf(d)) {
      cel__sb_addz(sb, isnan(d) ? "\"NaN\"" : d > 0 ? "\"+Inf\"" : "\"-Inf\"");
      return true;
    }
    fmt_fixed(sb, d, 6, false);
    return true;
  }
  case CEL_TIMESTAMP:
  case CEL_DURATION:
    cel__time_str(v, buf, sizeof(buf));
    cel__sb_addz(sb, cel_value_kind(v) == CEL_TIMESTAMP ? "timestamp(\"" : "duration(\"");
    cel__sb_addz(sb, buf);
    cel__sb_addz(sb, "\")");
    return true;
  default:
    return fmt_value(sb, v, true, e);
  }
}

static int cmp_pair(const void *a, const void *b) {
  const char *const *x = a, *const *y = b;
  return strcmp(x[0], y[0]);
}

/* %s of v */
static bool fmt_value(cel__sb_t *sb, const cel_value_t *v, bool nested, fmt_err_t *e) {
  char buf[480];
  size_t len;
  const char *s;
  (void)nested;
  switch (cel_value_kind(v)) {
  case CEL_NULL:
    cel__sb_addz(sb, "null");
    return true;
  case CEL_BOOL:
    cel__sb_addz(sb, cel_value_bool(v) ? "true" : "false");
    return true;
  case CEL_INT:
    snprintf(buf, sizeof(buf), "%" PRId64, cel_value_int(v));
    cel__sb_addz(sb, buf);
    return true;
  case CEL_UINT:
    snprintf(buf, sizeof(buf), "%" PRIu64, cel_value_uint(v));
    cel__sb_addz(sb, buf);
    return true;
  case CEL_DOUBLE:
    cel__fmt_double_g(cel_value_double(v), buf, sizeof(buf));
    cel__sb_addz(sb, buf);
    return true;
  case CEL_STRING:
  case CEL_BYTES:
    s = cel_value_str(v, &len);
    cel__sb_add(sb, s, len);
    return true;
  case CEL_TIMESTAMP:
  case CEL_DURATION:
    cel__time_str(v, buf, sizeof(buf));
    cel__sb_addz(sb, buf);
    return true;
  case CEL_TYPE:
    cel__sb_addz(sb, cel_value_type_value_name(v));
    return true;
  case CEL_LIST: {
    cel__sb_addc(sb, '[');
    size_t n = cel_list_len(v);
    for (size_t i = 0; i < n; i++) {
      if (i)
        cel__sb_addz(sb, ", ");
      if (!fmt_nested(sb, cel_list_at(v, i), e))
        return false;
    }
    cel__sb_addc(sb, ']');
    return true;
  }
  case CEL_MAP: {
    size_t n = cel_map_len(v);
    char **pairs = xcalloc(n ? n * 2 : 1, sizeof(char *));
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
      cel_value_t *k, *val;
      cel_map_entry(v, i, &k, &val);
      cel__sb_t ks = {0}, vs = {0};
      cel_kind_t kk = cel_value_kind(k);
      if (kk != CEL_STRING && kk != CEL_BOOL && kk != CEL_INT && kk != CEL_UINT)
        ok = fail(e, "error during formatting: no formatting function for map key of type %s", cel_value_type_name(k));
      else
        ok = fmt_nested(&ks, k, e) && fmt_nested(&vs, val, e);
      pairs[2 * i] = ks.p ? ks.p : xstrdup("");
      pairs[2 * i + 1] = vs.p ? vs.p : xstrdup("");
    }
    if (ok) {
      qsort(pairs, n, 2 * sizeof(char *), cmp_pair);
      cel__sb_addc(sb, '{');
      for (size_t i = 0; i < n; i++) {
        if (i)
          cel__sb_addz(sb, ", ");
        cel__sb_addz(sb, pairs[2 * i]);
        cel__sb_addc(sb, ':');
        cel__sb_addz(sb, pairs[2 * i + 1]);
      }
      cel__sb_addc(sb, '}');
    }
    for (size_t i = 0; i < 2 * n; i++)
      free(pairs[i]);
    free(pairs);
    return ok;
  }
  default:
    return fail(e, ERR_STRING, cel_value_type_name(v));
  }
}

static void fmt_radix(cel__sb_t *sb, bool neg, uint64_t u, unsigned base, bool upper) {
  char buf[72];
  size_t o = sizeof(buf);
  buf[--o] = 0;
  const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    buf[--o] = dig[u % base];
    u /= base;
  } while (u);
  if (neg)
    buf[--o] = '-';
  cel__sb_addz(sb, buf + o);
}

/* one integer clause (%d %b %o %x) for int/uint; false if v is neither */
static bool fmt_int(cel__sb_t *sb, const cel_value_t *v, unsigned base, bool upper) {
  if (cel_value_kind(v) == CEL_INT) {
    int64_t i = cel_value_int(v);
    fmt_radix(sb, i < 0, i < 0 ? 0 - (uint64_t)i : (uint64_t)i, base, upper);
    return true;
  }
  if (cel_value_kind(v) == CEL_UINT) {
    fmt_radix(sb, false, cel_value_uint(v), base, upper);
    return true;
  }
  return false;
}

/* the double a %f/%e argument stands for (a double, or the strings NaN,
 * Infinity, -Infinity) */
static bool float_arg(const cel_value_t *v, double *ret) {
  if (cel_value_kind(v) == CEL_DOUBLE) {
    *ret = cel_value_double(v);
    return true;
  }
  if (cel_value_kind(v) != CEL_STRING)
    return false;
  const char *s = cel_value_str(v, NULL);
  if (!strcmp(s, "NaN"))
    *ret = NAN;
  else if (!strcmp(s, "Infinity"))
    *ret = INFINITY;
  else if (!strcmp(s, "-Infinity"))
    *ret = -INFINITY;
  else
    return false;
  return true;
}

static bool clause(cel__sb_t *sb, const char *f, size_t len, size_t *i, const cel_value_t *v, fmt_err_t *e) {
  int prec = 6;
  bool has_prec = false;
  size_t p = *i;
  if (p < len && f[p] == '.') {
    p++;
    size_t ds = p;
    while (p < len && f[p] >= '0' && f[p] <= '9')
      p++;
    if (p >= len)
      return fail(e, "%s", "could not parse formatting clause: error while parsing precision: could not find end of precision specifier");
    if (p == ds || p - ds > 9)
      return fail(e, "%s", "could not parse formatting clause: error while parsing precision: error while converting precision to integer: strconv.Atoi: parsing \"\": invalid syntax");
    prec = atoi(f + ds); /* bounded to 9 digits above */
    has_prec = true;
  }
  (void)has_prec;
  size_t at = p;
  char c = f[p];
  cel__utf8_next(f, len, &p);
  *i = p;
  const char *tn = cel_value_type_name(v);
  double d;
  switch (c) {
  case 's':
    return fmt_value(sb, v, false, e);
  case 'd':
    if (!fmt_int(sb, v, 10, false))
      return fail(e, "error during formatting: decimal clause can only be used on integers, was given %s", tn);
    return true;
  case 'f':
    if (!float_arg(v, &d))
      return fail(e, "error during formatting: fixed-point clause can only be used on doubles, was given %s", tn);
    if (prec > 300)
      prec = 300;
    fmt_fixed(sb, d, prec, true);
    return true;
  case 'e':
    if (!float_arg(v, &d))
      return fail(e, "error during formatting: scientific clause can only be used on doubles, was given %s", tn);
    if (prec > 300)
      prec = 300;
    fmt_sci(sb, d, prec);
    return true;
  case 'b':
    if (cel_value_kind(v) == CEL_BOOL) {
      cel__sb_addc(sb, cel_value_bool(v) ? '1' : '0');
      return true;
    }
    if (!fmt_int(sb, v, 2, false))
      return fail(e, "error during formatting: only integers and bools can be formatted as binary, was given %s", tn);
    return true;
  case 'o':
    if (!fmt_int(sb, v, 8, false))
      return fail(e, "error during formatting: octal clause can only be used on integers, was given %s", tn);
    return true;
  case 'x':
  case 'X':
    if (cel_value_kind(v) == CEL_STRING || cel_value_kind(v) == CEL_BYTES) {
      size_t n;
      const unsigned char *s = (const unsigned char *)cel_value_str(v, &n);
      for (size_t k = 0; k < n; k++) {
        char h[3];
        snprintf(h, sizeof(h), c == 'x' ? "%02x" : "%02X", s[k]);
        cel__sb_add(sb, h, 2);
      }
      return true;
    }
    if (!fmt_int(sb, v, 16, c == 'X'))
      return fail(e, "error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given %s", tn);
    return true;
  default: {
    char ch[8];
    snprintf(ch, sizeof(ch), "%.*s", (int)(p - at), f + at);
    return fail(e, "could not parse formatting clause: unrecognized formatting clause \"%s\"", ch);
  }
  }
}

FN(format) {
  (void)nargs;
  size_t len;
  const char *f = cel_value_str(args[0], &len);
  const cel_value_t *list = args[1];
  size_t nl = cel_list_len(list), argi = 0;
  cel__sb_t sb = {0};
  fmt_err_t e;
  for (size_t i = 0; i < len;) {
    if (f[i] != '%') {
      cel__sb_addc(&sb, f[i++]);
      continue;
    }
    if (i + 1 < len && f[i + 1] == '%') {
      cel__sb_addc(&sb, '%');
      i += 2;
      continue;
    }
    if (argi >= nl) {
      cel__sb_done(&sb);
      return cel_errorf("index %zu out of range", argi);
    }
    if (i + 1 >= len) {
      cel__sb_done(&sb);
      return cel_errorf("unexpected end of string");
    }
    i++;
    if (!clause(&sb, f, len, &i, cel_list_at(list, argi), &e)) {
      cel__sb_done(&sb);
      return cel_errorf("%s", e.msg);
    }
    argi++;
  }
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  return cel__sb_string(&sb);
}

static const cel_overload_t overloads[] = {
  {"string.charAt(int) string", char_at},
  {"string.indexOf(string) int", index_of},
  {"string.indexOf(string, int) int", index_of},
  {"string.lastIndexOf(string) int", last_index_of},
  {"string.lastIndexOf(string, int) int", last_index_of},
  {"string.lowerAscii() string", lower_ascii},
  {"string.upperAscii() string", upper_ascii},
  {"string.replace(string, string) string", replace},
  {"string.replace(string, string, int) string", replace},
  {"string.split(string) list(string)", split},
  {"string.split(string, int) list(string)", split},
  {"string.substring(int) string", substring},
  {"string.substring(int, int) string", substring},
  {"string.trim() string", trim},
  {"list(string).join() string", join},
  {"list(string).join(string) string", join},
  {"string.format(list(dyn)) string", format},
  {"strings.quote(string) string", quote},
};

const cel_library_t cel_lib_strings = {CEL_LIB_STRINGS, overloads, CEL__N(overloads)};
