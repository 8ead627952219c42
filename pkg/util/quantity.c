/* pkg/util/quantity: resource.Quantity (parse, compare, add, canonical form)
 * with the semantics of k8s.io/apimachinery/pkg/api/resource: the scanner
 * of parseQuantityString, the suffix table, rounding up to 1n, the
 * binary-SI cap, the "already canonical" text kept on parse, and
 * CanonicalizeBytes. Values are exact decimals of bounded length.
 * https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/ */
#include "util/quantity.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- exact decimals: digits (most significant first) * 10^exp ---- */

/* Working magnitude, wider than a stored value so intermediate results
 * (binary multiplication, alignment for addition) fit. */
#define WORK_MAX (QUANTITY_DIGITS_MAX * 3 + 32)

typedef struct {
  int n;
  int64_t exp;
  uint8_t d[WORK_MAX];
} mag_t;

/* Strip leading zeros and move trailing zeros into the exponent. */
static void mag_norm(mag_t *m) {
  int lead = 0;
  while (lead < m->n && m->d[lead] == 0)
    lead++;
  if (lead) {
    memmove(m->d, m->d + lead, (size_t)(m->n - lead));
    m->n -= lead;
  }
  while (m->n > 0 && m->d[m->n - 1] == 0) {
    m->n--;
    m->exp++;
  }
  if (m->n == 0)
    m->exp = 0;
}

/* m *= k (k <= 2^20). Returns -ERANGE when the digits do not fit. */
static int mag_mul_small(mag_t *m, uint32_t k) {
  uint64_t carry = 0;
  for (int i = m->n - 1; i >= 0; i--) {
    uint64_t v = (uint64_t)m->d[i] * k + carry;
    m->d[i] = (uint8_t)(v % 10);
    carry = v / 10;
  }
  while (carry) {
    if (m->n >= WORK_MAX)
      return -ERANGE;
    memmove(m->d + 1, m->d, (size_t)m->n);
    m->d[0] = (uint8_t)(carry % 10);
    m->n++;
    carry /= 10;
  }
  return 0;
}

/* m += 1 at its last digit. */
static int mag_inc(mag_t *m) {
  int i = m->n - 1;
  while (i >= 0 && m->d[i] == 9)
    m->d[i--] = 0;
  if (i >= 0) {
    m->d[i]++;
    return 0;
  }
  if (m->n < 0 || m->n >= WORK_MAX)
    return -ERANGE;
  memmove(m->d + 1, m->d, (size_t)m->n);
  m->d[0] = 1;
  m->n++;
  return 0;
}

/* Round up (away from zero) to a multiple of 10^-9, as upstream rounds
 * every parsed value to Nano with inf.RoundUp. */
static int mag_round_nano(mag_t *m) {
  if (m->n == 0 || m->exp >= -9)
    return 0;
  int64_t drop = -9 - m->exp;
  bool rest = false;
  if (drop >= m->n) {
    rest = true; /* normalized: some digit is nonzero */
    m->n = 0;
  } else {
    for (int64_t i = m->n - drop; i < m->n; i++)
      rest |= m->d[i] != 0;
    m->n -= (int)drop;
  }
  m->exp = -9;
  if (rest) {
    if (m->n == 0) {
      m->d[0] = 1;
      m->n = 1;
    } else if (mag_inc(m) < 0) {
      return -ERANGE;
    }
  }
  mag_norm(m);
  return 0;
}

/* Compare magnitudes of normalized values. */
static int mag_cmp(const mag_t *a, const mag_t *b) {
  if (a->n == 0 || b->n == 0)
    return (a->n != 0) - (b->n != 0);
  int64_t ta = a->n + a->exp, tb = b->n + b->exp; /* position of the top digit */
  if (ta != tb)
    return ta < tb ? -1 : 1;
  int n = a->n > b->n ? a->n : b->n;
  for (int i = 0; i < n; i++) {
    int da = i < a->n ? a->d[i] : 0, db = i < b->n ? b->d[i] : 0;
    if (da != db)
      return da < db ? -1 : 1;
  }
  return 0;
}

/* Digit of m at the power 10^p. */
static int mag_digit(const mag_t *m, int64_t p) {
  int64_t i = m->n - 1 - (p - m->exp);
  return i >= 0 && i < m->n ? m->d[i] : 0;
}

/* r = a + b (sub: a - b, with |a| >= |b|). Returns -ERANGE when too wide. */
static int mag_addsub(const mag_t *a, const mag_t *b, bool sub, mag_t *r) {
  int64_t lo = a->n ? a->exp : b->exp;
  if (b->n && b->exp < lo)
    lo = b->exp;
  int64_t hi = a->n + a->exp;
  if (b->n + b->exp > hi)
    hi = b->n + b->exp;
  if (hi - lo + 1 > WORK_MAX)
    return -ERANGE;
  int w = (int)(hi - lo + 1);
  int carry = 0;
  for (int i = 0; i < w; i++) {
    int64_t p = lo + i;
    int v = mag_digit(a, p) + (sub ? -(mag_digit(b, p) + carry) : mag_digit(b, p) + carry);
    if (sub) {
      carry = v < 0;
      v += carry ? 10 : 0;
    } else {
      carry = v >= 10;
      v -= carry ? 10 : 0;
    }
    r->d[w - 1 - i] = (uint8_t)v;
  }
  r->n = w;
  r->exp = lo;
  mag_norm(r);
  return 0;
}

/* 2^63-1, the largest binary-SI magnitude. */
static void mag_max_int64(mag_t *m) {
  static const char max[] = "9223372036854775807";
  m->n = (int)strlen(max);
  m->exp = 0;
  for (int i = 0; i < m->n; i++)
    m->d[i] = (uint8_t)(max[i] - '0');
}

static void mag_from_q(const quantity_t *q, mag_t *m) {
  m->n = q->n;
  m->exp = q->exp;
  memcpy(m->d, q->d, q->n);
}

static int mag_to_q(const mag_t *m, quantity_t *q) {
  if (m->n > QUANTITY_DIGITS_MAX || m->exp > INT32_MAX || m->exp < INT32_MIN)
    return -ERANGE;
  q->n = (uint16_t)m->n;
  q->exp = (int32_t)m->exp;
  memcpy(q->d, m->d, (size_t)m->n);
  return 0;
}

/* ---- parsing ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

typedef struct {
  bool positive;
  const char *num, *denom, *suffix; /* pieces of the text */
  size_t nnum, ndenom, nsuffix;
  bool value_has_digit; /* the value part has a digit (inf.Dec would parse it) */
} scan_t;

/* Upstream's parseQuantityString, piece by piece. Returns false on the
 * "must match the regular expression" error. */
static bool scan(const char *str, size_t end, scan_t *sc) {
  static const char suffix_chars[] = "eEinumkKMGTP";
  size_t pos = 0;
  memset(sc, 0, sizeof(*sc));
  sc->positive = true;
  sc->num = "0";
  sc->nnum = 1;
  sc->denom = sc->suffix = "";
  if (pos < end && (str[0] == '-' || str[0] == '+')) {
    sc->positive = str[0] != '-';
    pos++;
  }
  while (pos < end && str[pos] == '0') {
    pos++;
    sc->value_has_digit = true;
  }
  if (pos >= end) {
    sc->value_has_digit = true; /* the value is "0" */
    return true;
  }
  size_t i = pos;
  while (i < end && is_digit(str[i]))
    i++;
  if (i > pos) {
    sc->num = str + pos;
    sc->nnum = i - pos;
    sc->value_has_digit = true;
  }
  if (i >= end)
    return true;
  pos = i;
  if (str[pos] == '.') {
    pos++;
    i = pos;
    while (i < end && is_digit(str[i]))
      i++;
    sc->denom = str + pos;
    sc->ndenom = i - pos;
    if (i > pos)
      sc->value_has_digit = true;
    if (i >= end)
      return true;
    pos = i;
  }
  size_t start = pos;
  i = pos;
  while (i < end && memchr(suffix_chars, str[i], sizeof(suffix_chars) - 1))
    i++;
  if (i < end) {
    pos = i;
    if (str[pos] == '-' || str[pos] == '+')
      pos++;
    for (i = pos; i < end; i++)
      if (!is_digit(str[i]))
        return false;
  }
  sc->suffix = str + start;
  sc->nsuffix = end - start;
  return true;
}

/* Upstream's suffix table. Returns false for an unknown suffix. */
static bool interpret(const char *s, size_t n, int *ret_base, int64_t *ret_exp,
                      quantity_format_t *ret_fmt) {
  static const struct {
    const char *s;
    int base, exp;
    quantity_format_t fmt;
  } table[] = {
      {"", 10, 0, QUANTITY_DECIMAL_SI},  {"n", 10, -9, QUANTITY_DECIMAL_SI},
      {"u", 10, -6, QUANTITY_DECIMAL_SI}, {"m", 10, -3, QUANTITY_DECIMAL_SI},
      {"k", 10, 3, QUANTITY_DECIMAL_SI},  {"M", 10, 6, QUANTITY_DECIMAL_SI},
      {"G", 10, 9, QUANTITY_DECIMAL_SI},  {"T", 10, 12, QUANTITY_DECIMAL_SI},
      {"P", 10, 15, QUANTITY_DECIMAL_SI}, {"E", 10, 18, QUANTITY_DECIMAL_SI},
      {"Ki", 2, 10, QUANTITY_BINARY_SI},  {"Mi", 2, 20, QUANTITY_BINARY_SI},
      {"Gi", 2, 30, QUANTITY_BINARY_SI},  {"Ti", 2, 40, QUANTITY_BINARY_SI},
      {"Pi", 2, 50, QUANTITY_BINARY_SI},  {"Ei", 2, 60, QUANTITY_BINARY_SI},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strlen(table[i].s) == n && memcmp(table[i].s, s, n) == 0) {
      *ret_base = table[i].base;
      *ret_exp = table[i].exp;
      *ret_fmt = table[i].fmt;
      return true;
    }
  if (n < 2 || (s[0] != 'e' && s[0] != 'E'))
    return false;
  /* strconv.ParseInt(s[1:], 10, 64); k3c keeps it within int32 */
  size_t i = 1;
  bool neg = false;
  if (s[i] == '+' || s[i] == '-')
    neg = s[i++] == '-';
  if (i >= n)
    return false;
  int64_t v = 0;
  for (; i < n; i++) {
    if (!is_digit(s[i]))
      return false;
    v = v * 10 + (s[i] - '0');
    if (v > (int64_t)INT32_MAX + 1)
      return false;
  }
  v = neg ? -v : v;
  if (v > INT32_MAX || v < INT32_MIN)
    return false;
  *ret_base = 10;
  *ret_exp = v;
  *ret_fmt = QUANTITY_DECIMAL_EXPONENT;
  return true;
}

/* Upstream's fast path of ParseQuantity (int64 arithmetic): whether it is
 * taken, and whether the text is then kept as the canonical form (q.s).
 * The value itself is computed exactly elsewhere. */
static bool fast_path(const scan_t *sc, int64_t exponent, quantity_format_t fmt,
                      bool *ret_keep) {
  *ret_keep = false;
  int64_t precision, scale = 0;
  uint64_t mantissa = 1;
  if (fmt == QUANTITY_BINARY_SI) {
    if (exponent < 0 || sc->ndenom != 0)
      return false;
    mantissa = (uint64_t)1 << exponent;
    precision = 15 - (int64_t)sc->nnum - exponent * 3 / 10 - 1;
  } else {
    scale = exponent;
    precision = 18 - (int64_t)(sc->nnum + sc->ndenom);
  }
  if (precision < 0)
    return false;
  scale -= (int64_t)sc->ndenom;
  if (scale < -9)
    return false;
  char shifted[40];
  size_t ns = sc->nnum + sc->ndenom;
  if (ns >= sizeof(shifted))
    return false;
  memcpy(shifted, sc->num, sc->nnum);
  memcpy(shifted + sc->nnum, sc->denom, sc->ndenom);
  shifted[ns] = 0;
  uint64_t value = 0;
  for (size_t i = 0; i < ns; i++) {
    if (value > (UINT64_C(9223372036854775807) - (uint64_t)(shifted[i] - '0')) / 10)
      return false; /* strconv.ParseInt range error */
    value = value * 10 + (uint64_t)(shifted[i] - '0');
  }
  if (value != 0 && mantissa > UINT64_C(9223372036854775807) / value)
    return false; /* int64Multiply overflow */
  if (fmt == QUANTITY_BINARY_SI)
    *ret_keep = exponent % 10 == 0 && (value & 7) != 0;
  else
    *ret_keep = scale % 3 == 0 && !(ns >= 3 && !memcmp(shifted + ns - 3, "000", 3)) &&
                shifted[0] != '0';
  return true;
}

int quantity_parse(const char *s, size_t len, quantity_t *ret_q, const char **ret_err) {
  mag_t v;
  quantity_t q;
  scan_t sc;
  while (len > 0 && is_space(s[0]))
    s++, len--;
  while (len > 0 && is_space(s[len - 1]))
    len--;
  if (len == 0) {
    *ret_err = QUANTITY_ERR_FORMAT;
    return -EINVAL;
  }
  if (len > QUANTITY_TEXT_MAX) {
    *ret_err = QUANTITY_ERR_NUMERIC;
    return -EINVAL;
  }
  memset(&q, 0, sizeof(q));
  q.format = QUANTITY_DECIMAL_SI;
  if (len == 1 && s[0] == '0') {
    q.text[0] = '0';
    *ret_q = q;
    return 0;
  }
  if (!scan(s, len, &sc)) {
    *ret_err = QUANTITY_ERR_FORMAT;
    return -EINVAL;
  }
  int base;
  int64_t exponent;
  quantity_format_t fmt;
  if (!interpret(sc.suffix, sc.nsuffix, &base, &exponent, &fmt)) {
    *ret_err = QUANTITY_ERR_SUFFIX;
    return -EINVAL;
  }
  bool keep;
  if (!fast_path(&sc, exponent, fmt, &keep) && !sc.value_has_digit) {
    *ret_err = QUANTITY_ERR_NUMERIC; /* inf.Dec.SetString: no digits read */
    return -EINVAL;
  }
  /* The exact value: (num.denom) * base^exponent. */
  v.n = 0;
  for (size_t i = 0; i < sc.nnum + sc.ndenom; i++) {
    char c = i < sc.nnum ? sc.num[i] : sc.denom[i - sc.nnum];
    if (v.n == 0 && c == '0')
      continue;
    if (v.n >= QUANTITY_DIGITS_MAX + 16) {
      *ret_err = QUANTITY_ERR_NUMERIC;
      return -EINVAL;
    }
    v.d[v.n++] = (uint8_t)(c - '0');
  }
  v.exp = -(int64_t)sc.ndenom + (base == 10 ? exponent : 0);
  mag_norm(&v);
  if (base == 2)
    for (int64_t e = exponent; e > 0; e -= 10)
      if (mag_mul_small(&v, 1024) < 0) {
        *ret_err = QUANTITY_ERR_NUMERIC;
        return -EINVAL;
      }
  mag_norm(&v);
  if (mag_round_nano(&v) < 0) {
    *ret_err = QUANTITY_ERR_NUMERIC;
    return -EINVAL;
  }
  if (fmt == QUANTITY_BINARY_SI) {
    mag_t max, one = {.n = 1, .exp = 0, .d = {1}};
    mag_max_int64(&max);
    if (mag_cmp(&v, &max) > 0)
      v = max;
    if (v.n && mag_cmp(&v, &one) < 0)
      fmt = QUANTITY_DECIMAL_SI;
  }
  if (mag_to_q(&v, &q) < 0) {
    *ret_err = QUANTITY_ERR_NUMERIC;
    return -EINVAL;
  }
  q.neg = !sc.positive && q.n > 0;
  q.format = fmt;
  if (keep) {
    memcpy(q.text, s, len);
    q.text[len] = 0;
  }
  *ret_q = q;
  return 0;
}

int quantity_from_double(double v, quantity_t *ret_q, const char **ret_err) {
  char buf[40];
  if (!isfinite(v)) {
    *ret_err = QUANTITY_ERR_FORMAT;
    return -EINVAL;
  }
  /* Go's encoding/json: the shortest text that reads back as v, in %f
   * form between 1e-6 and 1e21, else %e with a two-digit-minimum exponent
   * cleaned of its leading zero ("1e-07" -> "1e-7"). */
  double a = fabs(v);
  bool exp_form = a != 0 && (a < 1e-6 || a >= 1e21);
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (!exp_form) {
    /* Re-print the shortest digits in plain form. */
    char *e = strchr(buf, 'e');
    int ex = e ? (int)strtol(e + 1, NULL, 10) : 0;
    int digits = 0;
    for (char *p = buf; p < e; p++)
      digits += is_digit(*p);
    int frac = digits - 1 - ex;
    snprintf(buf, sizeof(buf), "%.*f", frac > 0 ? frac : 0, v);
  } else {
    char *e = strchr(buf, 'e');
    if (e && e[1] == '-' && e[2] == '0' && e[3] && !e[4])
      memmove(e + 2, e + 3, 2);
  }
  return quantity_parse(buf, strlen(buf), ret_q, ret_err);
}

/* ---- canonical form ---- */

static int put(char *buf, size_t size, size_t *at, const char *s, size_t n) {
  if (*at + n + 1 > size)
    return -ENOSPC;
  memcpy(buf + *at, s, n);
  *at += n;
  buf[*at] = 0;
  return 0;
}

/* Decimal: mantissa digits with the exponent lowered to a multiple of 3
 * (AsCanonicalBytes), then the suffix of the format. */
static int format_decimal(const quantity_t *q, quantity_format_t fmt, char *buf, size_t size) {
  static const char *const si[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
  size_t at = 0;
  int64_t exp = q->exp;
  int pad = 0;
  while (exp % 3 != 0)
    exp--, pad++;
  if (q->neg && put(buf, size, &at, "-", 1) < 0)
    return -ENOSPC;
  for (int i = 0; i < q->n; i++) {
    char c = (char)('0' + q->d[i]);
    if (put(buf, size, &at, &c, 1) < 0)
      return -ENOSPC;
  }
  if (put(buf, size, &at, "000", (size_t)pad) < 0)
    return -ENOSPC;
  char suf[32] = "";
  if (fmt == QUANTITY_DECIMAL_SI && exp >= -9 && exp <= 18)
    snprintf(suf, sizeof(suf), "%s", si[(exp + 9) / 3]);
  else if (exp != 0)
    snprintf(suf, sizeof(suf), "e%lld", (long long)exp);
  if (put(buf, size, &at, suf, strlen(suf)) < 0)
    return -ENOSPC;
  return (int)at;
}

int quantity_format(const quantity_t *q, char *buf, size_t size) {
  if (q->text[0]) {
    size_t n = strlen(q->text);
    if (n + 1 > size)
      return -ENOSPC;
    memcpy(buf, q->text, n + 1);
    return (int)n;
  }
  if (q->n == 0) {
    if (size < 2)
      return -ENOSPC;
    memcpy(buf, "0", 2);
    return 1;
  }
  if (q->format != QUANTITY_BINARY_SI)
    return format_decimal(q, q->format, buf, size);
  /* Binary SI: small or fractional values print as decimal SI. */
  mag_t m, k = {.n = 4, .exp = 0, .d = {1, 0, 2, 4}};
  mag_from_q(q, &m);
  if (mag_cmp(&m, &k) < 0 || m.exp < 0)
    return format_decimal(q, QUANTITY_DECIMAL_SI, buf, size);
  /* An integer: expand it and divide out factors of 1024 (up to Ei). */
  if (m.n + m.exp > WORK_MAX)
    return format_decimal(q, QUANTITY_DECIMAL_EXPONENT, buf, size);
  memset(m.d + m.n, 0, (size_t)m.exp);
  m.n += (int)m.exp;
  m.exp = 0;
  int pow = 0;
  while (pow < 6) {
    uint32_t rem = 0;
    uint8_t quo[WORK_MAX];
    for (int i = 0; i < m.n; i++) {
      uint32_t cur = rem * 10 + m.d[i];
      quo[i] = (uint8_t)(cur / 1024);
      rem = cur % 1024;
    }
    if (rem != 0)
      break;
    memcpy(m.d, quo, (size_t)m.n);
    mag_norm(&m);
    memset(m.d + m.n, 0, (size_t)m.exp);
    m.n += (int)m.exp;
    m.exp = 0;
    pow++;
  }
  static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  size_t at = 0;
  if (q->neg && put(buf, size, &at, "-", 1) < 0)
    return -ENOSPC;
  for (int i = 0; i < m.n; i++) {
    char c = (char)('0' + m.d[i]);
    if (put(buf, size, &at, &c, 1) < 0)
      return -ENOSPC;
  }
  if (put(buf, size, &at, bin[pow], strlen(bin[pow])) < 0)
    return -ENOSPC;
  return (int)at;
}

/* ---- arithmetic ---- */

int quantity_sign(const quantity_t *q) { return q->n == 0 ? 0 : q->neg ? -1 : 1; }

bool quantity_is_integer(const quantity_t *q) { return q->n == 0 || q->exp >= 0; }

int quantity_cmp(const quantity_t *a, const quantity_t *b) {
  int sa = quantity_sign(a), sb = quantity_sign(b);
  if (sa != sb)
    return sa < sb ? -1 : 1;
  if (sa == 0)
    return 0;
  mag_t ma, mb;
  mag_from_q(a, &ma);
  mag_from_q(b, &mb);
  int c = mag_cmp(&ma, &mb);
  return sa < 0 ? -c : c;
}

int quantity_add(quantity_t *q, const quantity_t *y) {
  mag_t a, b, r;
  if (y->n == 0) {
    if (q->n == 0)
      q->format = y->format;
    q->text[0] = 0;
    return 0;
  }
  mag_from_q(q, &a);
  mag_from_q(y, &b);
  bool neg;
  int rc;
  if (q->n == 0 || q->neg == y->neg) {
    rc = mag_addsub(&a, &b, false, &r);
    neg = q->n == 0 ? y->neg : q->neg;
  } else if (mag_cmp(&a, &b) >= 0) {
    rc = mag_addsub(&a, &b, true, &r);
    neg = q->neg;
  } else {
    rc = mag_addsub(&b, &a, true, &r);
    neg = y->neg;
  }
  if (rc < 0)
    return rc;
  quantity_t out = *q;
  if (mag_to_q(&r, &out) < 0)
    return -ERANGE;
  out.neg = out.n > 0 && neg;
  if (q->n == 0)
    out.format = y->format;
  out.text[0] = 0;
  *q = out;
  return 0;
}
