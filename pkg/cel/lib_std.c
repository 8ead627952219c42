/* CEL's standard definitions (lib 0) other than time: arithmetic with
 * overflow errors, comparisons (heterogeneous across int/uint/double),
 * logical not, indexing and `in`, size, the string tests and matches,
 * and the type conversions, as cel-spec's langdef.md "Standard
 * Definitions" and cel-go's common/stdlib list them; error texts are
 * cel-go's (common/types/err.go, overflow.go). Timestamps and durations
 * are lib_time.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/regex.h"

#define ERR_INT_OVERFLOW "integer overflow"
#define ERR_UINT_OVERFLOW "unsigned integer overflow"

/* ---- arithmetic ---- */

#define A0 args[0]
#define A1 args[1]
#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost

FN(add_int) {
  UNUSED;
  int64_t r;
  if (__builtin_add_overflow(cel_value_int(A0), cel_value_int(A1), &r))
    return cel_errorf(ERR_INT_OVERFLOW);
  return cel_int(r);
}
FN(sub_int) {
  UNUSED;
  int64_t r;
  if (__builtin_sub_overflow(cel_value_int(A0), cel_value_int(A1), &r))
    return cel_errorf(ERR_INT_OVERFLOW);
  return cel_int(r);
}
FN(mul_int) {
  UNUSED;
  int64_t r;
  if (__builtin_mul_overflow(cel_value_int(A0), cel_value_int(A1), &r))
    return cel_errorf(ERR_INT_OVERFLOW);
  return cel_int(r);
}
FN(div_int) {
  UNUSED;
  int64_t a = cel_value_int(A0), b = cel_value_int(A1);
  if (b == 0)
    return cel_errorf("division by zero");
  if (a == INT64_MIN && b == -1)
    return cel_errorf(ERR_INT_OVERFLOW);
  return cel_int(a / b);
}
FN(mod_int) {
  UNUSED;
  int64_t a = cel_value_int(A0), b = cel_value_int(A1);
  if (b == 0)
    return cel_errorf("modulus by zero");
  if (a == INT64_MIN && b == -1)
    return cel_errorf(ERR_INT_OVERFLOW);
  return cel_int(a % b);
}
FN(neg_int) {
  UNUSED;
  int64_t a = cel_value_int(A0);
  if (a == INT64_MIN)
    return cel_errorf(ERR_INT_OVERFLOW);
  return cel_int(-a);
}
FN(add_uint) {
  UNUSED;
  uint64_t r;
  if (__builtin_add_overflow(cel_value_uint(A0), cel_value_uint(A1), &r))
    return cel_errorf(ERR_UINT_OVERFLOW);
  return cel_uint(r);
}
FN(sub_uint) {
  UNUSED;
  uint64_t r;
  if (__builtin_sub_overflow(cel_value_uint(A0), cel_value_uint(A1), &r))
    return cel_errorf(ERR_UINT_OVERFLOW);
  return cel_uint(r);
}
FN(mul_uint) {
  UNUSED;
  uint64_t r;
  if (__builtin_mul_overflow(cel_value_uint(A0), cel_value_uint(A1), &r))
    return cel_errorf(ERR_UINT_OVERFLOW);
  return cel_uint(r);
}
FN(div_uint) {
  UNUSED;
  uint64_t b = cel_value_uint(A1);
  if (b == 0)
    return cel_errorf("division by zero");
  return cel_uint(cel_value_uint(A0) / b);
}
FN(mod_uint) {
  UNUSED;
  uint64_t b = cel_value_uint(A1);
  if (b == 0)
    return cel_errorf("modulus by zero");
  return cel_uint(cel_value_uint(A0) % b);
}
FN(add_double) {
  UNUSED;
  return cel_double(cel_value_double(A0) + cel_value_double(A1));
}
FN(sub_double) {
  UNUSED;
  return cel_double(cel_value_double(A0) - cel_value_double(A1));
}
FN(mul_double) {
  UNUSED;
  return cel_double(cel_value_double(A0) * cel_value_double(A1));
}
FN(div_double) {
  UNUSED;
  return cel_double(cel_value_double(A0) / cel_value_double(A1));
}
FN(neg_double) {
  UNUSED;
  return cel_double(-cel_value_double(A0));
}
FN(not_bool) {
  UNUSED;
  return cel_bool(!cel_value_bool(A0));
}

FN(add_string) {
  (void)nargs;
  size_t la, lb;
  const char *a = cel_value_str(A0, &la), *b = cel_value_str(A1, &lb);
  cel__sb_t sb = {0};
  cel__sb_add(&sb, a, la);
  cel__sb_add(&sb, b, lb);
  cel__cost(ret_cost, cel__tenth(cel__size(A0) + cel__size(A1)));
  cel_value_t *v = cel_value_kind(A0) == CEL_BYTES ? cel_bytes(sb.p ? sb.p : "", sb.len) : cel_string(sb.p ? sb.p : "", sb.len);
  cel__sb_done(&sb);
  return v;
}
FN(add_list) {
  UNUSED;
  size_t na = cel_list_len(A0), nb = cel_list_len(A1);
  cel_value_t *l = cel_list_new(na + nb);
  for (size_t i = 0; i < na; i++)
    cel_list_push(l, cel_value_ref(cel_list_at(A0, i)));
  for (size_t i = 0; i < nb; i++)
    cel_list_push(l, cel_value_ref(cel_list_at(A1, i)));
  return l;
}

/* ---- comparisons ---- */

static bool is_nan(const cel_value_t *v) {
  return cel_value_kind(v) == CEL_DOUBLE && isnan(cel_value_double(v));
}

static cel_value_t *cmp_result(cel_value_t **args, uint64_t *ret_cost, bool lt, bool eq, bool gt) {
  cel_kind_t k = cel_value_kind(args[0]);
  if (k == CEL_STRING || k == CEL_BYTES) {
    uint64_t a = cel__size(args[0]), b = cel__size(args[1]);
    cel__cost(ret_cost, cel__tenth(a < b ? a : b));
  }
  int c = cel_value_compare(args[0], args[1]);
  if (c == -2 && (is_nan(args[0]) || is_nan(args[1])))
    return cel_errorf("NaN values cannot be ordered");
  if (c == -2)
    return cel_errorf("no such overload");
  return cel_bool(c < 0 ? lt : c == 0 ? eq : gt);
}
FN(op_lt) {
  UNUSED;
  return cmp_result(args, ret_cost, true, false, false);
}
FN(op_le) {
  UNUSED;
  return cmp_result(args, ret_cost, true, true, false);
}
FN(op_gt) {
  UNUSED;
  return cmp_result(args, ret_cost, false, false, true);
}
FN(op_ge) {
  UNUSED;
  return cmp_result(args, ret_cost, false, true, true);
}

/* ---- indexing, in, size ---- */

/* Go's %v of a key, for "no such key: %v" */
static void key_text(const cel_value_t *k, char *buf, size_t size) {
  switch (cel_value_kind(k)) {
  case CEL_STRING:
    snprintf(buf, size, "%s", cel_value_str(k, NULL));
    break;
  case CEL_INT:
    snprintf(buf, size, "%" PRId64, cel_value_int(k));
    break;
  case CEL_UINT:
    snprintf(buf, size, "%" PRIu64, cel_value_uint(k));
    break;
  case CEL_DOUBLE:
    cel__fmt_double_g(cel_value_double(k), buf, size);
    break;
  case CEL_BOOL:
    snprintf(buf, size, "%s", cel_value_bool(k) ? "true" : "false");
    break;
  default:
    snprintf(buf, size, "%s", cel_value_type_name(k));
  }
}

FN(index_map) {
  UNUSED;
  /* cel_map_get matches numeric keys across int/uint/double, as cel-spec's
   * heterogeneous equality says ({1: x}[1u], {1: x}[1.0]) */
  cel_value_t *v = cel_map_get(A0, A1);
  if (v)
    return cel_value_ref(v);
  char k[256];
  key_text(A1, k, sizeof(k));
  return cel_errorf("no such key: %s", k);
}

FN(index_list) {
  UNUSED;
  int64_t i;
  char t[40];
  switch (cel_value_kind(A1)) {
  case CEL_INT:
    i = cel_value_int(A1);
    break;
  case CEL_UINT:
    if (cel_value_uint(A1) > INT64_MAX)
      return cel_errorf("unsupported index value %" PRIu64 " in list", cel_value_uint(A1));
    i = (int64_t)cel_value_uint(A1);
    break;
  case CEL_DOUBLE: {
    double d = cel_value_double(A1);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d) {
      cel__fmt_double_g(d, t, sizeof(t));
      return cel_errorf("unsupported index value %s in list", t);
    }
    i = (int64_t)d;
    break;
  }
  default:
    return cel_errorf("unsupported index type '%s' in list", cel_value_type_name(A1));
  }
  size_t n = cel_list_len(A0);
  if (i < 0 || (uint64_t)i >= n)
    return cel_errorf("index '%" PRId64 "' out of range in list size '%zu'", i, n);
  return cel_value_ref(cel_list_at(A0, (size_t)i));
}

FN(in_list) {
  (void)nargs;
  size_t n = cel_list_len(A1);
  cel__cost(ret_cost, n);
  for (size_t i = 0; i < n; i++)
    if (cel_value_equal(A0, cel_list_at(A1, i)))
      return cel_bool(true);
  return cel_bool(false);
}

FN(in_map) {
  UNUSED;
  return cel_bool(cel_map_get(A1, A0) != NULL);
}

FN(size_string) {
  (void)nargs;
  size_t len;
  const char *s = cel_value_str(A0, &len);
  return cel_int((int64_t)cel__utf8_count(s, len));
}
FN(size_bytes) {
  UNUSED;
  size_t len;
  cel_value_str(A0, &len);
  return cel_int((int64_t)len);
}
FN(size_list) {
  UNUSED;
  return cel_int((int64_t)cel_list_len(A0));
}
FN(size_map) {
  UNUSED;
  return cel_int((int64_t)cel_map_len(A0));
}

/* ---- string tests ---- */

FN(str_contains) {
  (void)nargs;
  size_t ls, lt;
  const char *s = cel_value_str(A0, &ls), *t = cel_value_str(A1, &lt);
  cel__cost(ret_cost, cel__tenth(cel__size(A0)) * cel__tenth(cel__size(A1)));
  return cel_bool(lt == 0 || memmem(s, ls, t, lt) != NULL);
}
FN(str_starts) {
  (void)nargs;
  size_t ls, lt;
  const char *s = cel_value_str(A0, &ls), *t = cel_value_str(A1, &lt);
  cel__cost(ret_cost, cel__tenth(cel__size(A0)));
  return cel_bool(lt <= ls && !memcmp(s, t, lt));
}
FN(str_ends) {
  (void)nargs;
  size_t ls, lt;
  const char *s = cel_value_str(A0, &ls), *t = cel_value_str(A1, &lt);
  cel__cost(ret_cost, cel__tenth(cel__size(A0)));
  return cel_bool(lt <= ls && !memcmp(s + ls - lt, t, lt));
}

FN(str_matches) {
  (void)nargs;
  size_t ls, lp;
  const char *s = cel_value_str(A0, &ls), *pat = cel_value_str(A1, &lp);
  regex_prog_t *re = NULL;
  char err[256];
  if (regex_prog_compile(pat, &re, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  uint64_t budget = CEL__REGEX_BUDGET;
  int r = regex_prog_match(re, s, ls, &budget);
  cel__cost(ret_cost, cel__tenth(1 + cel__size(A0)) * cel__quarter(cel__size(A1)));
  regex_prog_free(re);
  if (r < 0)
    return cel_errorf(CEL__ERR_COST);
  return cel_bool(r == 1);
}

/* ---- conversions ---- */

static cel_value_t *conv_err(const cel_value_t *from, const char *to) {
  return cel_errorf("type conversion error from '%s' to '%s'", cel_value_type_name(from), to);
}

static bool double_to_int(double d, int64_t *ret) {
  if (isnan(d) || d <= -9223372036854775808.0 || d >= 9223372036854775808.0)
    return false;
  *ret = (int64_t)d;
  return true;
}

FN(to_int) {
  UNUSED;
  switch (cel_value_kind(A0)) {
  case CEL_INT:
    return cel_value_ref(A0);
  case CEL_UINT:
    if (cel_value_uint(A0) > INT64_MAX)
      return cel_errorf(ERR_INT_OVERFLOW);
    return cel_int((int64_t)cel_value_uint(A0));
  case CEL_DOUBLE: {
    int64_t i;
    if (!double_to_int(cel_value_double(A0), &i))
      return cel_errorf(ERR_INT_OVERFLOW);
    return cel_int(i);
  }
  case CEL_STRING: {
    size_t len;
    const char *s = cel_value_str(A0, &len);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* Go's ParseInt: an optional sign then decimal digits only */
    size_t k = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    if (len == k || s[k] < '0' || s[k] > '9' || errno || end != s + len)
      return conv_err(A0, "int");
    return cel_int(v);
  }
  case CEL_TIMESTAMP: {
    int64_t sec;
    int32_t ns;
    cel_value_time(A0, &sec, &ns);
    return cel_int(sec);
  }
  case CEL_DURATION: {
    int64_t sec;
    int32_t ns;
    cel_value_time(A0, &sec, &ns);
    return cel_int(sec * 1000000000 + ns);
  }
  default:
    return conv_err(A0, "int");
  }
}

FN(to_uint) {
  UNUSED;
  switch (cel_value_kind(A0)) {
  case CEL_UINT:
    return cel_value_ref(A0);
  case CEL_INT:
    if (cel_value_int(A0) < 0)
      return cel_errorf(ERR_UINT_OVERFLOW);
    return cel_uint((uint64_t)cel_value_int(A0));
  case CEL_DOUBLE: {
    double d = cel_value_double(A0);
    if (isnan(d) || d < 0 || d >= 18446744073709551616.0)
      return cel_errorf(ERR_UINT_OVERFLOW);
    return cel_uint((uint64_t)d);
  }
  case CEL_STRING: {
    size_t len;
    const char *s = cel_value_str(A0, &len);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    /* Go's ParseUint: decimal digits only, no sign */
    if (len == 0 || s[0] < '0' || s[0] > '9' || errno || end != s + len)
      return conv_err(A0, "uint");
    return cel_uint(v);
  }
  default:
    return conv_err(A0, "uint");
  }
}

/* Go's strconv.ParseFloat (decimal and the inf/nan words; no spaces) */
static bool parse_double(const char *s, size_t len, double *ret) {
  if (!len || (unsigned char)s[0] <= ' ')
    return false;
  const char *p = s + (s[0] == '+' || s[0] == '-');
  size_t rest = len - (size_t)(p - s);
  if ((rest == 3 && !strncasecmp(p, "inf", 3)) || (rest == 8 && !strncasecmp(p, "infinity", 8))) {
    *ret = s[0] == '-' ? -INFINITY : INFINITY;
    return true;
  }
  if (rest == 3 && !strncasecmp(p, "nan", 3)) {
    *ret = NAN;
    return true;
  }
  bool hex = rest > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
  for (size_t i = 0; i < rest; i++)
    if (!strchr(hex ? "0123456789.xXpPabcdefABCDEF+-" : "0123456789.eE+-", p[i]))
      return false;
  if (hex && !memchr(p, 'p', rest) && !memchr(p, 'P', rest))
    return false; /* Go: a hexadecimal mantissa requires a 'p' exponent */
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (end != s + len || (errno == ERANGE && isinf(d)))
    return false;
  *ret = d;
  return true;
}

FN(to_double) {
  UNUSED;
  switch (cel_value_kind(A0)) {
  case CEL_DOUBLE:
    return cel_value_ref(A0);
  case CEL_INT:
    return cel_double((double)cel_value_int(A0));
  case CEL_UINT:
    return cel_double((double)cel_value_uint(A0));
  case CEL_STRING: {
    size_t len;
    const char *s = cel_value_str(A0, &len);
    double d;
    if (!parse_double(s, len, &d))
      return conv_err(A0, "double");
    return cel_double(d);
  }
  default:
    return conv_err(A0, "double");
  }
}

/* string(timestamp) and string(duration) are lib_time.c's */
FN(to_string) {
  UNUSED;
  char buf[64];
  switch (cel_value_kind(A0)) {
  case CEL_STRING:
    return cel_value_ref(A0);
  case CEL_INT:
    snprintf(buf, sizeof(buf), "%" PRId64, cel_value_int(A0));
    return cel_stringz(buf);
  case CEL_UINT:
    snprintf(buf, sizeof(buf), "%" PRIu64, cel_value_uint(A0));
    return cel_stringz(buf);
  case CEL_DOUBLE:
    cel__fmt_double_g(cel_value_double(A0), buf, sizeof(buf));
    return cel_stringz(buf);
  case CEL_BOOL:
    return cel_stringz(cel_value_bool(A0) ? "true" : "false");
  case CEL_BYTES: {
    size_t len;
    const char *s = cel_value_str(A0, &len);
    cel__cost(ret_cost, cel__tenth(len));
    if (!cel__utf8_valid(s, len))
      return cel_errorf("invalid UTF-8 in bytes, cannot convert to string");
    return cel_string(s, len);
  }
  default:
    return conv_err(A0, "string");
  }
}

FN(to_bytes) {
  UNUSED;
  if (cel_value_kind(A0) == CEL_BYTES)
    return cel_value_ref(A0);
  size_t len;
  const char *s = cel_value_str(A0, &len);
  cel__cost(ret_cost, cel__tenth(cel__size(A0)));
  return cel_bytes(s, len);
}

FN(to_bool) {
  UNUSED;
  if (cel_value_kind(A0) == CEL_BOOL)
    return cel_value_ref(A0);
  /* Go's strconv.ParseBool */
  static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
  const char *s = cel_value_str(A0, NULL);
  for (size_t i = 0; i < CEL__N(t); i++) {
    if (!strcmp(s, t[i]))
      return cel_bool(true);
    if (!strcmp(s, f[i]))
      return cel_bool(false);
  }
  return conv_err(A0, "bool");
}

FN(to_dyn) {
  UNUSED;
  return cel_value_ref(A0);
}

FN(type_of) {
  UNUSED;
  return cel_type_value(cel_value_type_name(A0));
}

static const cel_overload_t overloads[] = {
  {"_+_(int, int) int", add_int},
  {"_-_(int, int) int", sub_int},
  {"_*_(int, int) int", mul_int},
  {"_/_(int, int) int", div_int},
  {"_%_(int, int) int", mod_int},
  {"-_(int) int", neg_int},
  {"_+_(uint, uint) uint", add_uint},
  {"_-_(uint, uint) uint", sub_uint},
  {"_*_(uint, uint) uint", mul_uint},
  {"_/_(uint, uint) uint", div_uint},
  {"_%_(uint, uint) uint", mod_uint},
  {"_+_(double, double) double", add_double},
  {"_-_(double, double) double", sub_double},
  {"_*_(double, double) double", mul_double},
  {"_/_(double, double) double", div_double},
  {"-_(double) double", neg_double},
  {"_+_(string, string) string", add_string},
  {"_+_(bytes, bytes) bytes", add_string},
  {"_+_(list(A), list(A)) list(A)", add_list},
  {"!_(bool) bool", not_bool},
#define CMP(op, fn)                                                                                 \
  {op "(bool, bool) bool", fn}, {op "(int, int) bool", fn}, {op "(int, uint) bool", fn},             \
    {op "(int, double) bool", fn}, {op "(uint, uint) bool", fn}, {op "(uint, int) bool", fn},        \
    {op "(uint, double) bool", fn}, {op "(double, double) bool", fn}, {op "(double, int) bool", fn}, \
    {op "(double, uint) bool", fn}, {op "(string, string) bool", fn}, {op "(bytes, bytes) bool", fn},\
    {op "(timestamp, timestamp) bool", fn}, {op "(duration, duration) bool", fn}
  CMP("_<_", op_lt),
  CMP("_<=_", op_le),
  CMP("_>_", op_gt),
  CMP("_>=_", op_ge),
#undef CMP
  {"_[_](list(A), int) A", index_list},
  {"_[_](list(A), uint) A", index_list},
  {"_[_](list(A), double) A", index_list},
  {"_[_](map(K, V), K) V", index_map},
  {"@in(A, list(A)) bool", in_list},
  {"@in(A, map(A, B)) bool", in_map},
  {"size(string) int", size_string},
  {"string.size() int", size_string},
  {"size(bytes) int", size_bytes},
  {"bytes.size() int", size_bytes},
  {"size(list(A)) int", size_list},
  {"list(A).size() int", size_list},
  {"size(map(K, V)) int", size_map},
  {"map(K, V).size() int", size_map},
  {"string.contains(string) bool", str_contains},
  {"string.startsWith(string) bool", str_starts},
  {"string.endsWith(string) bool", str_ends},
  {"string.matches(string) bool", str_matches},
  {"matches(string, string) bool", str_matches},
  {"int(int) int", to_int},
  {"int(uint) int", to_int},
  {"int(double) int", to_int},
  {"int(string) int", to_int},
  {"int(timestamp) int", to_int},
  {"int(duration) int", to_int},
  {"uint(uint) uint", to_uint},
  {"uint(int) uint", to_uint},
  {"uint(double) uint", to_uint},
  {"uint(string) uint", to_uint},
  {"double(double) double", to_double},
  {"double(int) double", to_double},
  {"double(uint) double", to_double},
  {"double(string) double", to_double},
  {"string(string) string", to_string},
  {"string(int) string", to_string},
  {"string(uint) string", to_string},
  {"string(double) string", to_string},
  {"string(bool) string", to_string},
  {"string(bytes) string", to_string},
  {"bytes(bytes) bytes", to_bytes},
  {"bytes(string) bytes", to_bytes},
  {"bool(bool) bool", to_bool},
  {"bool(string) bool", to_bool},
  {"dyn(A) dyn", to_dyn},
  {"type(A) type(A)", type_of},
};

const cel_library_t cel_lib_std = {0, overloads, CEL__N(overloads)};
