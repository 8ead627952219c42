/* Tests of pkg/cel's function libraries (lib_*.c), calling each overload
 * through its table entry and value.h, as the evaluator does. */
#include <math.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "cel/internal.h"
#include "cel/lib.h"
#include "cel/libs.h"
#include "test.h"

static const cel_library_t *const libs[] = {&cel_lib_std, &cel_lib_time, &cel_lib_strings, &cel_lib_k8s, &cel_lib_k8s_net,
                                            &cel_lib_semver, &cel_lib_format, &cel_lib_ext,
                                            &cel_lib_optional};

static cel_fn_cb find(const char *sig) {
  for (size_t l = 0; l < CEL__N(libs); l++)
    for (size_t i = 0; i < libs[l]->n; i++)
      if (!strcmp(libs[l]->overloads[i].signature, sig))
        return libs[l]->overloads[i].fn;
  return NULL;
}

/* Calls the overload with this signature; takes the arguments. */
static cel_value_t *callv(const char *sig, size_t n, cel_value_t **args) {
  cel_fn_cb fn = find(sig);
  if (!fn) {
    printf("#   no overload %s\n", sig);
    for (size_t i = 0; i < n; i++)
      cel_value_unref(args[i]);
    return cel_errorf("test: no overload %s", sig);
  }
  uint64_t cost = 1;
  cel_value_t *r = fn(args, n, &cost);
  for (size_t i = 0; i < n; i++)
    cel_value_unref(args[i]);
  return r;
}
#define CALL(sig, ...)                                                                             \
  callv(sig, sizeof((cel_value_t *[]){__VA_ARGS__}) / sizeof(cel_value_t *), (cel_value_t *[]){__VA_ARGS__})

static cel_value_t *S(const char *s) {
  return cel_stringz(s);
}
static cel_value_t *I(int64_t i) {
  return cel_int(i);
}
static cel_value_t *U(uint64_t u) {
  return cel_uint(u);
}
static cel_value_t *D(double d) {
  return cel_double(d);
}
static cel_value_t *B(bool b) {
  return cel_bool(b);
}
/* a list of the given values (takes them), NULL-terminated */
static cel_value_t *L(cel_value_t *first, ...) {
  cel_value_t *l = cel_list_new(4);
  va_list ap;
  va_start(ap, first);
  for (cel_value_t *v = first; v; v = va_arg(ap, cel_value_t *))
    cel_list_push(l, v);
  va_end(ap);
  return l;
}
static cel_value_t *TS(const char *s) {
  int64_t sec;
  int32_t ns;
  if (cel_timestamp_parse(s, strlen(s), &sec, &ns) < 0)
    return cel_errorf("bad test timestamp");
  return cel_timestamp(sec, ns);
}
static cel_value_t *DUR(int64_t s, int32_t ns) {
  return cel_duration(s, ns);
}

/* The checks take the value and free it. */
#define EXPECT_KIND(v, k)                                                                          \
  do {                                                                                             \
    if (cel_value_kind(v) != (k)) {                                                                \
      const char *e_ = cel_value_kind(v) == CEL_ERROR ? cel_value_error(v) : cel_value_type_name(v); \
      char m_[512];                                                                                \
      snprintf(m_, sizeof(m_), "%s", e_);                                                          \
      cel_value_unref(v);                                                                          \
      TEST_FAIL("kind %d expected, got %s", (int)(k), m_);                                         \
    }                                                                                              \
  } while (0)
#define EXPECT_INT(expr, want)                                                                     \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_INT);                                                                      \
    int64_t g_ = cel_value_int(v_);                                                                \
    cel_value_unref(v_);                                                                           \
    ASSERT_EQ_INT(g_, want);                                                                       \
  } while (0)
#define EXPECT_UINT(expr, want)                                                                    \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_UINT);                                                                     \
    uint64_t g_ = cel_value_uint(v_);                                                              \
    cel_value_unref(v_);                                                                           \
    ASSERT_TRUE(g_ == (uint64_t)(want));                                                           \
  } while (0)
#define EXPECT_BOOL(expr, want)                                                                    \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_BOOL);                                                                     \
    bool g_ = cel_value_bool(v_);                                                                  \
    cel_value_unref(v_);                                                                           \
    ASSERT_EQ_INT(g_, want);                                                                       \
  } while (0)
#define EXPECT_DOUBLE(expr, want)                                                                  \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_DOUBLE);                                                                   \
    double g_ = cel_value_double(v_);                                                              \
    cel_value_unref(v_);                                                                           \
    if (g_ != (want))                                                                              \
      TEST_FAIL("%s: got %.17g, want %.17g", #expr, g_, (double)(want));                           \
  } while (0)
#define EXPECT_STR(expr, want)                                                                     \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_STRING);                                                                   \
    char g_[1024];                                                                                 \
    snprintf(g_, sizeof(g_), "%s", cel_value_str(v_, NULL));                                       \
    cel_value_unref(v_);                                                                           \
    ASSERT_EQ_STR(g_, want);                                                                       \
  } while (0)
#define EXPECT_ERR(expr, want)                                                                     \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_ERROR);                                                                    \
    char g_[1024];                                                                                 \
    snprintf(g_, sizeof(g_), "%s", cel_value_error(v_));                                           \
    cel_value_unref(v_);                                                                           \
    ASSERT_EQ_STR(g_, want);                                                                       \
  } while (0)
/* a list of strings, printed "a|b|c" */
#define EXPECT_STRLIST(expr, want)                                                                 \
  do {                                                                                             \
    cel_value_t *v_ = (expr);                                                                      \
    EXPECT_KIND(v_, CEL_LIST);                                                                     \
    char g_[1024] = "";                                                                            \
    size_t o_ = 0;                                                                                 \
    for (size_t i_ = 0; i_ < cel_list_len(v_); i_++)                                               \
      o_ += (size_t)snprintf(g_ + o_, sizeof(g_) - o_, "%s%s", i_ ? "|" : "",                      \
                             cel_value_str(cel_list_at(v_, i_), NULL));                            \
    cel_value_unref(v_);                                                                           \
    ASSERT_EQ_STR(g_, want);                                                                       \
  } while (0)

/* every signature in every table parses as a distinct overload */
static void test_tables_unique(void) {
  for (size_t l = 0; l < CEL__N(libs); l++)
    for (size_t i = 0; i < libs[l]->n; i++) {
      ASSERT_NOT_NULL(libs[l]->overloads[i].fn);
      for (size_t m = 0; m < CEL__N(libs); m++)
        for (size_t j = 0; j < libs[m]->n; j++)
          if (!(l == m && i == j) && !strcmp(libs[l]->overloads[i].signature, libs[m]->overloads[j].signature))
            TEST_FAIL("duplicate %s", libs[l]->overloads[i].signature);
    }
}

static void test_int_arith(void) {
  EXPECT_INT(CALL("_+_(int, int) int", I(2), I(3)), 5);
  EXPECT_ERR(CALL("_+_(int, int) int", I(INT64_MAX), I(1)), "integer overflow");
  EXPECT_ERR(CALL("_-_(int, int) int", I(INT64_MIN), I(1)), "integer overflow");
  EXPECT_ERR(CALL("_*_(int, int) int", I(INT64_MAX / 2 + 1), I(2)), "integer overflow");
  EXPECT_INT(CALL("_/_(int, int) int", I(-7), I(2)), -3);
  EXPECT_INT(CALL("_%_(int, int) int", I(-7), I(2)), -1);
  EXPECT_ERR(CALL("_/_(int, int) int", I(1), I(0)), "division by zero");
  EXPECT_ERR(CALL("_%_(int, int) int", I(1), I(0)), "modulus by zero");
  EXPECT_ERR(CALL("_/_(int, int) int", I(INT64_MIN), I(-1)), "integer overflow");
  EXPECT_ERR(CALL("_%_(int, int) int", I(INT64_MIN), I(-1)), "integer overflow");
  EXPECT_ERR(CALL("-_(int) int", I(INT64_MIN)), "integer overflow");
  EXPECT_INT(CALL("-_(int) int", I(5)), -5);
}

static void test_uint_double_arith(void) {
  EXPECT_UINT(CALL("_+_(uint, uint) uint", U(2), U(3)), 5);
  EXPECT_ERR(CALL("_-_(uint, uint) uint", U(1), U(2)), "unsigned integer overflow");
  EXPECT_ERR(CALL("_+_(uint, uint) uint", U(UINT64_MAX), U(1)), "unsigned integer overflow");
  EXPECT_ERR(CALL("_/_(uint, uint) uint", U(1), U(0)), "division by zero");
  EXPECT_ERR(CALL("_%_(uint, uint) uint", U(1), U(0)), "modulus by zero");
  EXPECT_UINT(CALL("_%_(uint, uint) uint", U(7), U(4)), 3);
  EXPECT_DOUBLE(CALL("_/_(double, double) double", D(1), D(4)), 0.25);
  cel_value_t *v = CALL("_/_(double, double) double", D(1), D(0));
  EXPECT_KIND(v, CEL_DOUBLE);
  ASSERT_TRUE(isinf(cel_value_double(v)));
  cel_value_unref(v);
  EXPECT_DOUBLE(CALL("-_(double) double", D(1.5)), -1.5);
}

static void test_concat(void) {
  EXPECT_STR(CALL("_+_(string, string) string", S("ab"), S("cd")), "abcd");
  cel_value_t *v = CALL("_+_(bytes, bytes) bytes", cel_bytes("a\0", 2), cel_bytes("b", 1));
  EXPECT_KIND(v, CEL_BYTES);
  size_t len;
  const char *s = cel_value_str(v, &len);
  ASSERT_EQ_INT(len, 3);
  ASSERT_TRUE(!memcmp(s, "a\0b", 3));
  cel_value_unref(v);
  EXPECT_STRLIST(CALL("_+_(list(A), list(A)) list(A)", L(S("a"), NULL), L(S("b"), S("c"), NULL)), "a|b|c");
}

static void test_compare(void) {
  EXPECT_BOOL(CALL("_<_(int, int) bool", I(1), I(2)), true);
  EXPECT_BOOL(CALL("_<_(int, uint) bool", I(-1), U(0)), true);
  EXPECT_BOOL(CALL("_>_(uint, int) bool", U(UINT64_MAX), I(INT64_MAX)), true);
  EXPECT_BOOL(CALL("_<=_(int, double) bool", I(1), D(1.0)), true);
  EXPECT_BOOL(CALL("_<_(int, double) bool", I(1), D(1.5)), true);
  EXPECT_BOOL(CALL("_>_(double, int) bool", D(1.5), I(1)), true);
  EXPECT_BOOL(CALL("_<_(double, int) bool", D(-1e300), I(INT64_MIN)), true);
  EXPECT_BOOL(CALL("_>_(double, uint) bool", D(1e300), U(UINT64_MAX)), true);
  EXPECT_BOOL(CALL("_<_(uint, double) bool", U(1), D(0.9)), false);
  /* within the int's range both compare as doubles, as cel-go does (the
   * cel-spec conformance data wants 2^63-1 >= 2^63.0): 2^53 + 1 is 2^53 */
  EXPECT_BOOL(CALL("_<_(double, int) bool", D(9007199254740992.0), I(9007199254740993)), false);
  EXPECT_BOOL(CALL("_>=_(int, double) bool", I(INT64_MAX), D(9223372036854775808.0)), true);
  EXPECT_BOOL(CALL("_>=_(string, string) bool", S("b"), S("abc")), true);
  EXPECT_BOOL(CALL("_<_(bytes, bytes) bool", cel_bytes("a", 1), cel_bytes("a\0", 2)), true);
  EXPECT_BOOL(CALL("_<_(bool, bool) bool", B(false), B(true)), true);
  EXPECT_BOOL(CALL("_<_(duration, duration) bool", DUR(-1, -500000000), DUR(-1, 0)), true);
  EXPECT_BOOL(CALL("_<_(timestamp, timestamp) bool", TS("2001-01-01T00:00:00Z"), TS("2002-01-01T00:00:00Z")), true);
  EXPECT_ERR(CALL("_<_(double, double) bool", D(NAN), D(1)), "NaN values cannot be ordered");
  EXPECT_BOOL(CALL("!_(bool) bool", B(false)), true);
}

static void test_index_in_size(void) {
  EXPECT_STR(CALL("_[_](list(A), int) A", L(S("a"), S("b"), NULL), I(1)), "b");
  EXPECT_STR(CALL("_[_](list(A), double) A", L(S("a"), S("b"), NULL), D(1.0)), "b");
  EXPECT_STR(CALL("_[_](list(A), uint) A", L(S("a"), S("b"), NULL), U(0)), "a");
  EXPECT_ERR(CALL("_[_](list(A), int) A", L(S("a"), NULL), I(1)), "index '1' out of range in list size '1'");
  EXPECT_ERR(CALL("_[_](list(A), int) A", L(S("a"), NULL), I(-1)), "index '-1' out of range in list size '1'");
  EXPECT_ERR(CALL("_[_](list(A), double) A", L(S("a"), NULL), D(0.5)), "unsupported index value 0.5 in list");
  cel_value_t *m = cel_map_new(2);
  cel_map_put(m, S("k"), I(1));
  cel_map_put(m, I(2), S("two"));
  EXPECT_INT(CALL("_[_](map(K, V), K) V", cel_value_ref(m), S("k")), 1);
  EXPECT_STR(CALL("_[_](map(K, V), K) V", cel_value_ref(m), U(2)), "two");
  EXPECT_STR(CALL("_[_](map(K, V), K) V", cel_value_ref(m), D(2.0)), "two");
  EXPECT_ERR(CALL("_[_](map(K, V), K) V", cel_value_ref(m), S("x")), "no such key: x");
  EXPECT_BOOL(CALL("@in(A, map(A, B)) bool", D(2.0), cel_value_ref(m)), true);
  EXPECT_BOOL(CALL("@in(A, map(A, B)) bool", S("z"), cel_value_ref(m)), false);
  EXPECT_INT(CALL("size(map(K, V)) int", cel_value_ref(m)), 2);
  cel_value_unref(m);
  EXPECT_BOOL(CALL("@in(A, list(A)) bool", I(2), L(I(1), U(2), NULL)), true);
  EXPECT_BOOL(CALL("@in(A, list(A)) bool", I(3), L(I(1), U(2), NULL)), false);
  EXPECT_INT(CALL("string.size() int", S("h\xc3\xa9llo")), 5);
  EXPECT_INT(CALL("size(bytes) int", cel_bytes("h\xc3\xa9", 3)), 3);
  EXPECT_INT(CALL("list(A).size() int", L(I(1), NULL)), 1);
}

static void test_string_tests(void) {
  EXPECT_BOOL(CALL("string.contains(string) bool", S("hello"), S("ell")), true);
  EXPECT_BOOL(CALL("string.contains(string) bool", S("hello"), S("")), true);
  EXPECT_BOOL(CALL("string.contains(string) bool", S("hello"), S("elo")), false);
  EXPECT_BOOL(CALL("string.startsWith(string) bool", S("hello"), S("he")), true);
  EXPECT_BOOL(CALL("string.endsWith(string) bool", S("hello"), S("lo")), true);
  EXPECT_BOOL(CALL("string.endsWith(string) bool", S("lo"), S("hello")), false);
  EXPECT_BOOL(CALL("string.matches(string) bool", S("abc123"), S("[a-c]+[0-9]+$")), true);
  EXPECT_BOOL(CALL("matches(string, string) bool", S("abc"), S("^b")), false);
  cel_value_t *v = CALL("string.matches(string) bool", S("x"), S("("));
  EXPECT_KIND(v, CEL_ERROR);
  ASSERT_CONTAINS(cel_value_error(v), "error parsing regexp");
  cel_value_unref(v);
}

static void test_conversions(void) {
  EXPECT_INT(CALL("int(string) int", S("-42")), -42);
  EXPECT_ERR(CALL("int(string) int", S("4x")), "type conversion error from 'string' to 'int'");
  EXPECT_ERR(CALL("int(string) int", S(" 4")), "type conversion error from 'string' to 'int'");
  EXPECT_ERR(CALL("int(string) int", S("9223372036854775808")), "type conversion error from 'string' to 'int'");
  EXPECT_INT(CALL("int(double) int", D(-1.9)), -1);
  EXPECT_ERR(CALL("int(double) int", D(9.3e18)), "integer overflow");
  EXPECT_ERR(CALL("int(double) int", D(NAN)), "integer overflow");
  EXPECT_ERR(CALL("int(uint) int", U(UINT64_MAX)), "integer overflow");
  EXPECT_ERR(CALL("uint(int) uint", I(-1)), "unsigned integer overflow");
  EXPECT_ERR(CALL("uint(double) uint", D(-0.5)), "unsigned integer overflow");
  EXPECT_UINT(CALL("uint(string) uint", S("18446744073709551615")), UINT64_MAX);
  EXPECT_ERR(CALL("uint(string) uint", S("-1")), "type conversion error from 'string' to 'uint'");
  EXPECT_ERR(CALL("uint(string) uint", S("+1")), "type conversion error from 'string' to 'uint'");
  EXPECT_INT(CALL("int(string) int", S("+1")), 1);
  EXPECT_DOUBLE(CALL("double(string) double", S("0x1p-2")), 0.25);
  EXPECT_ERR(CALL("double(string) double", S("0x10")), "type conversion error from 'string' to 'double'");
  EXPECT_ERR(CALL("double(string) double", S("1_000")), "type conversion error from 'string' to 'double'");
  EXPECT_ERR(CALL("double(string) double", S(" 1")), "type conversion error from 'string' to 'double'");
  EXPECT_DOUBLE(CALL("double(string) double", S("infinity")), INFINITY);
  EXPECT_DOUBLE(CALL("double(string) double", S("1.5e3")), 1500);
  EXPECT_DOUBLE(CALL("double(string) double", S("-Inf")), -INFINITY);
  EXPECT_ERR(CALL("double(string) double", S("1e400")), "type conversion error from 'string' to 'double'");
  EXPECT_ERR(CALL("double(string) double", S("x")), "type conversion error from 'string' to 'double'");
  EXPECT_DOUBLE(CALL("double(uint) double", U(3)), 3);
  EXPECT_STR(CALL("string(double) string", D(1e6)), "1e+06");
  EXPECT_STR(CALL("string(double) string", D(123456)), "123456");
  EXPECT_STR(CALL("string(double) string", D(-1.23e4)), "-12300");
  EXPECT_STR(CALL("string(double) string", D(0.1)), "0.1");
  EXPECT_STR(CALL("string(double) string", D(1e-5)), "1e-05");
  EXPECT_STR(CALL("string(double) string", D(2.5e-9)), "2.5e-09");
  EXPECT_STR(CALL("string(double) string", D(1.0)), "1");
  EXPECT_STR(CALL("string(double) string", D(INFINITY)), "+Inf");
  EXPECT_STR(CALL("string(double) string", D(1.0 / 3)), "0.3333333333333333");
  EXPECT_STR(CALL("string(int) string", I(-123)), "-123");
  EXPECT_STR(CALL("string(uint) string", U(123)), "123");
  EXPECT_STR(CALL("string(bool) string", B(true)), "true");
  EXPECT_STR(CALL("string(bytes) string", cel_bytes("hi", 2)), "hi");
  EXPECT_ERR(CALL("string(bytes) string", cel_bytes("\xff", 1)), "invalid UTF-8 in bytes, cannot convert to string");
  EXPECT_BOOL(CALL("bool(string) bool", S("True")), true);
  EXPECT_BOOL(CALL("bool(string) bool", S("0")), false);
  EXPECT_ERR(CALL("bool(string) bool", S("yes")), "type conversion error from 'string' to 'bool'");
  cel_value_t *v = CALL("bytes(string) bytes", S("ab"));
  EXPECT_KIND(v, CEL_BYTES);
  cel_value_unref(v);
  v = CALL("type(A) type(A)", I(1));
  EXPECT_KIND(v, CEL_TYPE);
  ASSERT_EQ_STR(cel_value_type_value_name(v), "int");
  cel_value_unref(v);
  EXPECT_INT(CALL("dyn(A) dyn", I(7)), 7);
}

static void test_time_conversions(void) {
  EXPECT_STR(CALL("string(timestamp) string", TS("2023-02-03T23:31:20Z")), "2023-02-03T23:31:20Z");
  EXPECT_STR(CALL("string(timestamp) string", cel_timestamp(0, 120000000)), "1970-01-01T00:00:00.12Z");
  EXPECT_STR(CALL("string(duration) string", DUR(5400, 0)), "5400s");
  EXPECT_STR(CALL("string(duration) string", DUR(0, 2)), "0.000000002s");
  EXPECT_STR(CALL("string(duration) string", DUR(-1, -500000000)), "-1.5s");
  EXPECT_STR(CALL("string(duration) string", CALL("duration(string) duration", S("1h45m47s"))), "6347s");
  EXPECT_STR(CALL("string(duration) string", CALL("duration(string) duration", S("-1.5h"))), "-5400s");
  EXPECT_STR(CALL("string(duration) string", CALL("duration(string) duration", S("1\xc2\xb5s"))), "0.000001s");
  EXPECT_STR(CALL("string(duration) string", CALL("duration(string) duration", S("0"))), "0s");
  EXPECT_ERR(CALL("duration(string) duration", S("1")), "type conversion error from 'string' to 'google.protobuf.Duration'");
  EXPECT_ERR(CALL("duration(string) duration", S("1d")), "type conversion error from 'string' to 'google.protobuf.Duration'");
  EXPECT_ERR(CALL("duration(string) duration", S("3000000h")), "type conversion error from 'string' to 'google.protobuf.Duration'");
  EXPECT_ERR(CALL("duration(string) duration", S("")), "type conversion error from 'string' to 'google.protobuf.Duration'");
  EXPECT_INT(CALL("int(timestamp) int", CALL("timestamp(int) timestamp", I(1000))), 1000);
  EXPECT_ERR(CALL("timestamp(int) timestamp", I(253402300800)), "timestamp overflow");
  EXPECT_ERR(CALL("timestamp(string) timestamp", S("bad")), "type conversion error from 'string' to 'google.protobuf.Timestamp'");
  EXPECT_INT(CALL("int(duration) int", DUR(1, 5)), 1000000005);
}

static void test_time_arith(void) {
  EXPECT_STR(CALL("string(timestamp) string", CALL("_+_(timestamp, duration) timestamp", TS("2023-01-01T00:00:00Z"), DUR(-1, -500000000))),
             "2022-12-31T23:59:58.5Z");
  EXPECT_STR(CALL("string(timestamp) string", CALL("_+_(duration, timestamp) timestamp", DUR(86400, 0), TS("2023-12-31T00:00:00Z"))),
             "2024-01-01T00:00:00Z");
  EXPECT_STR(CALL("string(timestamp) string", CALL("_-_(timestamp, duration) timestamp", TS("2023-01-01T00:00:00Z"), DUR(0, 1))),
             "2022-12-31T23:59:59.999999999Z");
  EXPECT_ERR(CALL("_+_(timestamp, duration) timestamp", TS("9999-12-31T23:59:59Z"), DUR(1, 0)), "timestamp overflow");
  EXPECT_STR(CALL("string(duration) string", CALL("_-_(timestamp, timestamp) duration", TS("2023-01-02T00:00:00Z"), TS("2023-01-01T00:00:00Z"))),
             "86400s");
  EXPECT_ERR(CALL("_-_(timestamp, timestamp) duration", TS("9999-01-01T00:00:00Z"), TS("0001-01-01T00:00:00Z")), "integer overflow");
  EXPECT_STR(CALL("string(duration) string", CALL("_+_(duration, duration) duration", DUR(1, 600000000), DUR(0, 600000000))), "2.2s");
  EXPECT_ERR(CALL("_+_(duration, duration) duration", DUR(9223372036, 0), DUR(9223372036, 0)), "integer overflow");
  EXPECT_STR(CALL("string(duration) string", CALL("_-_(duration, duration) duration", DUR(1, 0), DUR(3, 0))), "-2s");
}

static void test_time_accessors(void) {
  /* 2024-02-29T13:14:15.678Z is a Thursday, day 59 of a leap year */
  cel_value_t *t = cel_timestamp(1709212455, 678000000);
#define R cel_value_ref(t)
  EXPECT_INT(CALL("timestamp.getFullYear() int", R), 2024);
  EXPECT_INT(CALL("timestamp.getMonth() int", R), 1);
  EXPECT_INT(CALL("timestamp.getDayOfYear() int", R), 59);
  EXPECT_INT(CALL("timestamp.getDayOfMonth() int", R), 28);
  EXPECT_INT(CALL("timestamp.getDate() int", R), 29);
  EXPECT_INT(CALL("timestamp.getDayOfWeek() int", R), 4);
  EXPECT_INT(CALL("timestamp.getHours() int", R), 13);
  EXPECT_INT(CALL("timestamp.getMinutes() int", R), 14);
  EXPECT_INT(CALL("timestamp.getSeconds() int", R), 15);
  EXPECT_INT(CALL("timestamp.getMilliseconds() int", R), 678);
  EXPECT_INT(CALL("timestamp.getHours(string) int", R, S("+05:30")), 18);
  EXPECT_INT(CALL("timestamp.getMinutes(string) int", R, S("+05:30")), 44);
  EXPECT_INT(CALL("timestamp.getHours(string) int", R, S("-14:00")), 23);
  EXPECT_INT(CALL("timestamp.getDate(string) int", R, S("-14:00")), 28);
  EXPECT_INT(CALL("timestamp.getHours(string) int", R, S("UTC")), 13);
  EXPECT_ERR(CALL("timestamp.getHours(string) int", R, S("+01:60")), "timezone offset minutes out of range [0, 59]: +01:60");
  EXPECT_ERR(CALL("timestamp.getHours(string) int", R, S("a:00")), "strconv.Atoi: parsing \"a\": invalid syntax");
  EXPECT_ERR(CALL("timestamp.getHours(string) int", R, S("Mars/Olympus")), "unknown time zone Mars/Olympus");
  EXPECT_ERR(CALL("timestamp.getHours(string) int", R, S("../../etc/passwd")), "time: invalid location name");
  EXPECT_ERR(CALL("timestamp.getHours(string) int", R, S("/etc/passwd")), "time: invalid location name");
  EXPECT_ERR(CALL("timestamp.getHours(string) int", R, S("zone.tab")), "unknown time zone zone.tab");
  if (access("/usr/share/zoneinfo/America/New_York", R_OK) == 0) {
    /* February: EST (-5); July: EDT (-4), past the file's table in slim TZif */
    EXPECT_INT(CALL("timestamp.getHours(string) int", R, S("America/New_York")), 8);
    EXPECT_INT(CALL("timestamp.getHours(string) int", TS("2024-07-01T12:00:00Z"), S("America/New_York")), 8);
    EXPECT_INT(CALL("timestamp.getHours(string) int", TS("2090-07-01T12:00:00Z"), S("America/New_York")), 8);
    EXPECT_INT(CALL("timestamp.getHours(string) int", TS("2090-12-01T12:00:00Z"), S("America/New_York")), 7);
    EXPECT_INT(CALL("timestamp.getHours(string) int", TS("2024-07-01T12:00:00Z"), S("Asia/Kolkata")), 17);
    EXPECT_INT(CALL("timestamp.getHours(string) int", TS("2024-01-01T12:00:00Z"), S("Australia/Sydney")), 23);
  }
#undef R
  cel_value_unref(t);
  EXPECT_INT(CALL("timestamp.getFullYear() int", TS("0001-01-01T00:00:00Z")), 1);
  EXPECT_INT(CALL("timestamp.getDayOfWeek() int", TS("1969-12-31T23:59:59Z")), 3);
  EXPECT_INT(CALL("duration.getHours() int", DUR(-5400, 0)), -1);
  EXPECT_INT(CALL("duration.getMinutes() int", DUR(5400, 0)), 90);
  EXPECT_INT(CALL("duration.getSeconds() int", DUR(5400, 999999999)), 5400);
  EXPECT_INT(CALL("duration.getMilliseconds() int", DUR(1, 234567890)), 1234);
}

static void test_strings_index(void) {
  EXPECT_STR(CALL("string.charAt(int) string", S("h\xc3\xa9llo"), I(1)), "\xc3\xa9");
  EXPECT_STR(CALL("string.charAt(int) string", S("hello"), I(5)), "");
  EXPECT_ERR(CALL("string.charAt(int) string", S("hello"), I(6)), "index out of range: 6");
  EXPECT_INT(CALL("string.indexOf(string) int", S("hello mellow"), S("")), 0);
  EXPECT_INT(CALL("string.indexOf(string) int", S("hello mellow"), S("ello")), 1);
  EXPECT_INT(CALL("string.indexOf(string) int", S("hello mellow"), S("jello")), -1);
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("hello mellow"), S(""), I(2)), 2);
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("hello mellow"), S("ello"), I(2)), 7);
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("hello mellow"), S("ello"), I(20)), -1);
  EXPECT_ERR(CALL("string.indexOf(string, int) int", S("hello mellow"), S("ello"), I(-1)), "index out of range: -1");
  EXPECT_INT(CALL("string.indexOf(string) int", S("\xc3\xa9t\xc3\xa9"), S("t\xc3\xa9")), 1);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("hello mellow"), S("")), 12);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("hello mellow"), S("ello")), 7);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("hello mellow"), S("jello")), -1);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("hello mellow"), S("ello"), I(6)), 1);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("hello mellow"), S("ello"), I(20)), -1);
  EXPECT_ERR(CALL("string.lastIndexOf(string, int) int", S("hello mellow"), S("ello"), I(-1)), "index out of range: -1");
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("\xc3\xa9t\xc3\xa9t"), S("t")), 3);
  EXPECT_STR(CALL("string.substring(int) string", S("tacocat"), I(4)), "cat");
  EXPECT_STR(CALL("string.substring(int, int) string", S("tacocat"), I(0), I(4)), "taco");
  EXPECT_STR(CALL("string.substring(int, int) string", S("\xc3\xa9t\xc3\xa9"), I(1), I(3)), "t\xc3\xa9");
  EXPECT_ERR(CALL("string.substring(int) string", S("tacocat"), I(-1)), "index out of range: -1");
  EXPECT_ERR(CALL("string.substring(int, int) string", S("tacocat"), I(2), I(1)), "invalid substring range. start: 2, end: 1");
  EXPECT_ERR(CALL("string.substring(int, int) string", S("tacocat"), I(2), I(8)), "index out of range: 8");
}

static void test_strings_transform(void) {
  EXPECT_STR(CALL("string.lowerAscii() string", S("TacoC\xc3\x86t Xii")), "tacoc\xc3\x86t xii");
  EXPECT_STR(CALL("string.upperAscii() string", S("TacoC\xc3\xa6t Xii")), "TACOC\xc3\xa6T XII");
  EXPECT_STR(CALL("string.replace(string, string) string", S("hello hello"), S("he"), S("we")), "wello wello");
  EXPECT_STR(CALL("string.replace(string, string, int) string", S("hello hello"), S("he"), S("we"), I(1)), "wello hello");
  EXPECT_STR(CALL("string.replace(string, string, int) string", S("hello hello"), S("he"), S("we"), I(0)), "hello hello");
  EXPECT_STR(CALL("string.replace(string, string) string", S("hello hello"), S(""), S("_")), "_h_e_l_l_o_ _h_e_l_l_o_");
  EXPECT_STR(CALL("string.replace(string, string, int) string", S("ab"), S(""), S("_"), I(2)), "_a_b");
  EXPECT_STR(CALL("string.replace(string, string) string", S("hello hello"), S("h"), S("")), "ello ello");
  EXPECT_STRLIST(CALL("string.split(string) list(string)", S("hello hello hello"), S(" ")), "hello|hello|hello");
  EXPECT_STRLIST(CALL("string.split(string, int) list(string)", S("hello hello hello"), S(" "), I(0)), "");
  EXPECT_STRLIST(CALL("string.split(string, int) list(string)", S("hello hello hello"), S(" "), I(1)), "hello hello hello");
  EXPECT_STRLIST(CALL("string.split(string, int) list(string)", S("hello hello hello"), S(" "), I(2)), "hello|hello hello");
  EXPECT_STRLIST(CALL("string.split(string, int) list(string)", S("a,b,c"), S(","), I(-1)), "a|b|c");
  EXPECT_STRLIST(CALL("string.split(string) list(string)", S("a\xc3\xa9"), S("")), "a|\xc3\xa9");
  EXPECT_STRLIST(CALL("string.split(string) list(string)", S(",a,"), S(",")), "|a|");
  EXPECT_STR(CALL("string.trim() string", S("  \ttrim\n    ")), "trim");
  EXPECT_STR(CALL("string.trim() string", S("\xe3\x80\x80x\xc2\xa0")), "x");
  EXPECT_STR(CALL("string.trim() string", S(" \n")), "");
  EXPECT_STR(CALL("list(string).join() string", L(S("hello"), S("mellow"), NULL)), "hellomellow");
  EXPECT_STR(CALL("list(string).join(string) string", L(S("hello"), S("mellow"), NULL), S(" ")), "hello mellow");
  EXPECT_STR(CALL("list(string).join(string) string", L(NULL), S("/")), "");
  EXPECT_STR(CALL("strings.quote(string) string", S("single-quote with \"double quote\"")), "\"single-quote with \\\"double quote\\\"\"");
  EXPECT_STR(CALL("strings.quote(string) string", S("two escape sequences \a\n")), "\"two escape sequences \\a\\n\"");
  EXPECT_STR(CALL("strings.quote(string) string", S("bad \xff")), "\"bad \xef\xbf\xbd\"");
}

#define FMT(f, ...) CALL("string.format(list(dyn)) string", S(f), L(__VA_ARGS__, NULL))
static void test_format(void) {
  EXPECT_STR(CALL("string.format(list(dyn)) string", S("no substitution"), L(NULL)), "no substitution");
  EXPECT_STR(FMT("str is %s and some more", S("filler")), "str is filler and some more");
  EXPECT_STR(CALL("string.format(list(dyn)) string", S("%% and also %%"), L(NULL)), "% and also %");
  EXPECT_STR(FMT("%%%s%%", S("text")), "%text%");
  EXPECT_STR(FMT("%d %s", I(1), S("A")), "1 A");
  EXPECT_STR(FMT("%.3f", D(1.2345)), "1.234");
  EXPECT_STR(FMT("%.2f", D(1234567.891)), "1,234,567.89");
  EXPECT_STR(FMT("this is -5 in binary: %b", I(-5)), "this is -5 in binary: -101");
  EXPECT_STR(FMT("%b", U(64)), "1000000");
  EXPECT_STR(FMT("%b", B(true)), "1");
  EXPECT_STR(FMT("%o", I(-11)), "-13");
  EXPECT_STR(FMT("%o", U(65535)), "177777");
  EXPECT_STR(FMT("%x is 30 in hexadecimal", I(30)), "1e is 30 in hexadecimal");
  EXPECT_STR(FMT("%X", I(6000)), "1770");
  EXPECT_STR(FMT("%x", I(-30)), "-1e");
  EXPECT_STR(FMT("%x", S("Hello world!")), "48656c6c6f20776f726c6421");
  EXPECT_STR(FMT("%X", cel_bytes("\0\0byte string\0", 14)), "00006279746520737472696E6700");
  EXPECT_STR(FMT("%.6e", D(1052.032911275)), "1.052033\xe2\x80\xaf\xc3\x97\xe2\x80\xaf" "10\xe2\x81\xb0\xc2\xb3");
  EXPECT_STR(FMT("%e", D(2.71828)), "2.718280\xe2\x80\xaf\xc3\x97\xe2\x80\xaf" "10\xe2\x81\xb0\xe2\x81\xb0");
  EXPECT_STR(FMT("%f", D(2.71828)), "2.718280");
  EXPECT_STR(FMT("%f", S("NaN")), "NaN");
  EXPECT_STR(FMT("%f", S("Infinity")), "\xe2\x88\x9e");
  EXPECT_STR(FMT("%f", S("-Infinity")), "-\xe2\x88\x9e");
  EXPECT_STR(FMT("%s", D(2.71)), "2.71");
  EXPECT_STR(FMT("%s", L(D(2.71), NULL)), "[2.710000]");
  EXPECT_STR(FMT("%s", D(2e-9)), "2e-09");
  EXPECT_STR(FMT("%s", L(D(NAN), D(INFINITY), D(-INFINITY), NULL)), "[\"NaN\", \"+Inf\", \"-Inf\"]");
  EXPECT_STR(FMT("null: %s", cel_null()), "null: null");
  EXPECT_STR(FMT("%s", I(999999999999)), "999999999999");
  EXPECT_STR(FMT("some bytes: %s", cel_bytes("xyz", 3)), "some bytes: xyz");
  EXPECT_STR(FMT("type is %s", cel_type_value("string")), "type is string");
  EXPECT_STR(FMT("%s", TS("2023-02-03T23:31:20Z")), "2023-02-03T23:31:20Z");
  EXPECT_STR(FMT("%s", DUR(6347, 0)), "6347s");
  EXPECT_STR(FMT("%s", L(S("abc"), D(3.14), cel_null(), L(I(9), I(8), NULL), TS("2023-02-03T23:31:20Z"), NULL)),
             "[\"abc\", 3.140000, null, [9, 8], timestamp(\"2023-02-03T23:31:20Z\")]");
  cel_value_t *m = cel_map_new(4);
  cel_map_put(m, S("key2"), DUR(7200, 0));
  cel_map_put(m, S("key1"), cel_bytes("xyz", 3));
  cel_map_put(m, S("key3"), D(2.71828));
  EXPECT_STR(FMT("%s", m), "{\"key1\":b\"xyz\", \"key2\":duration(\"7200s\"), \"key3\":2.718280}");
  m = cel_map_new(4);
  cel_map_put(m, I(1), S("value1"));
  cel_map_put(m, B(true), D(NAN));
  cel_map_put(m, U(2), S("value2"));
  EXPECT_STR(FMT("map with multiple key types: %s", m), "map with multiple key types: {1:\"value1\", 2:\"value2\", true:\"NaN\"}");
  EXPECT_ERR(FMT("%d", S("x")), "error during formatting: decimal clause can only be used on integers, was given string");
  EXPECT_ERR(FMT("%f", I(1)), "error during formatting: fixed-point clause can only be used on doubles, was given int");
  EXPECT_ERR(FMT("%b", S("x")), "error during formatting: only integers and bools can be formatted as binary, was given string");
  EXPECT_ERR(FMT("%x", D(1)), "error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given double");
  EXPECT_ERR(FMT("%q", I(1)), "could not parse formatting clause: unrecognized formatting clause \"q\"");
  EXPECT_ERR(FMT("%\xc3\xa9", I(1)), "could not parse formatting clause: unrecognized formatting clause \"\xc3\xa9\"");
  EXPECT_ERR(FMT("%.3", D(1)), "could not parse formatting clause: error while parsing precision: could not find end of precision specifier");
  EXPECT_ERR(FMT("%s %s", I(1)), "index 1 out of range");
  EXPECT_ERR(FMT("%", I(1)), "unexpected end of string");
}


static void test_k8s_lists(void) {
  EXPECT_BOOL(CALL("list(int).isSorted() bool", L(I(1), I(2), I(2), I(5), NULL)), true);
  EXPECT_BOOL(CALL("list(string).isSorted() bool", L(S("b"), S("a"), NULL)), false);
  EXPECT_BOOL(CALL("list(int).isSorted() bool", L(NULL)), true);
  EXPECT_INT(CALL("list(int).sum() int", L(I(1), I(2), I(3), NULL)), 6);
  EXPECT_INT(CALL("list(int).sum() int", L(NULL)), 0);
  EXPECT_ERR(CALL("list(int).sum() int", L(I(INT64_MAX), I(1), NULL)), "integer overflow");
  EXPECT_DOUBLE(CALL("list(double).sum() double", L(D(1.5), D(2), NULL)), 3.5);
  EXPECT_UINT(CALL("list(uint).sum() uint", L(U(1), U(2), NULL)), 3);
  EXPECT_STR(CALL("string(duration) string", CALL("list(duration).sum() duration", L(DUR(1, 0), DUR(0, 500000000), NULL))), "1.5s");
  EXPECT_INT(CALL("list(int).min() int", L(I(3), I(-1), I(2), NULL)), -1);
  EXPECT_INT(CALL("list(int).max() int", L(I(3), I(-1), I(7), NULL)), 7);
  EXPECT_STR(CALL("list(string).max() string", L(S("a"), S("c"), S("b"), NULL)), "c");
  EXPECT_ERR(CALL("list(int).min() int", L(NULL)), "min called on empty list");
  EXPECT_ERR(CALL("list(int).max() int", L(NULL)), "max called on empty list");
  EXPECT_INT(CALL("list(A).indexOf(A) int", L(I(1), I(2), I(1), NULL), I(1)), 0);
  EXPECT_INT(CALL("list(A).lastIndexOf(A) int", L(I(1), I(2), I(1), NULL), I(1)), 2);
  EXPECT_INT(CALL("list(A).indexOf(A) int", L(I(1), NULL), I(5)), -1);
}

static void test_k8s_regex(void) {
  EXPECT_STR(CALL("string.find(string) string", S("abc 123"), S("[0-9]+")), "123");
  EXPECT_STR(CALL("string.find(string) string", S("abc"), S("[0-9]+")), "");
  EXPECT_STRLIST(CALL("string.findAll(string) list(string)", S("123 abc 456"), S("[0-9]+")), "123|456");
  EXPECT_STRLIST(CALL("string.findAll(string, int) list(string)", S("123 abc 456"), S("[0-9]+"), I(1)), "123");
  EXPECT_STRLIST(CALL("string.findAll(string, int) list(string)", S("123 abc 456"), S("[0-9]+"), I(0)), "");
  EXPECT_STRLIST(CALL("string.findAll(string) list(string)", S("baaab"), S("a*")), "|aaa|");
  EXPECT_ERR(CALL("string.find(string) string", S("x"), S("(")), "Illegal regex: error parsing regexp: missing closing ): `(`");
}

static cel_value_t *QTY(const char *s) {
  return CALL("quantity(string) kubernetes.Quantity", S(s));
}

static void test_k8s_quantity(void) {
  EXPECT_ERR(QTY("10Mo"), "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  EXPECT_BOOL(CALL("isQuantity(string) bool", S("20Mi")), true);
  EXPECT_BOOL(CALL("isQuantity(string) bool", S("10Mm")), false);
  EXPECT_BOOL(CALL("isQuantity(string) bool", S("1,3G")), false);
  cel_value_t *a = QTY("200M"), *b = QTY("0.2G");
  ASSERT_TRUE(cel_value_equal(a, b));
  cel_value_unref(a);
  cel_value_unref(b);
  EXPECT_BOOL(CALL("kubernetes.Quantity.isLessThan(kubernetes.Quantity) bool", QTY("50M"), QTY("50Mi")), true);
  EXPECT_BOOL(CALL("kubernetes.Quantity.isGreaterThan(kubernetes.Quantity) bool", QTY("50M"), QTY("100M")), false);
  EXPECT_INT(CALL("kubernetes.Quantity.compareTo(kubernetes.Quantity) int", QTY("50Mi"), QTY("50M")), 1);
  EXPECT_INT(CALL("kubernetes.Quantity.compareTo(kubernetes.Quantity) int", QTY("200M"), QTY("0.2G")), 0);
  EXPECT_INT(CALL("kubernetes.Quantity.asInteger() int",
                  CALL("kubernetes.Quantity.sub(int) kubernetes.Quantity",
                       CALL("kubernetes.Quantity.sub(kubernetes.Quantity) kubernetes.Quantity",
                            CALL("kubernetes.Quantity.add(int) kubernetes.Quantity", QTY("50k"), I(20)), QTY("100k")),
                       I(-50000))),
             20);
  a = CALL("kubernetes.Quantity.add(kubernetes.Quantity) kubernetes.Quantity", QTY("50k"), QTY("20"));
  b = QTY("50.02k");
  ASSERT_TRUE(cel_value_equal(a, b));
  cel_value_unref(a);
  cel_value_unref(b);
  EXPECT_INT(CALL("kubernetes.Quantity.asInteger() int", QTY("50k")), 50000);
  EXPECT_INT(CALL("kubernetes.Quantity.asInteger() int", QTY("-9223372036854775808")), INT64_MIN);
  EXPECT_ERR(CALL("kubernetes.Quantity.asInteger() int", QTY("9999999999999999999999999999999999999G")), "cannot convert value to integer");
  EXPECT_ERR(CALL("kubernetes.Quantity.asInteger() int", QTY("9223372036854775808")), "cannot convert value to integer");
  EXPECT_ERR(CALL("kubernetes.Quantity.asInteger() int", QTY("1500m")), "cannot convert value to integer");
  EXPECT_BOOL(CALL("kubernetes.Quantity.isInteger() bool", QTY("9999999999999999999999999999999999999G")), false);
  EXPECT_BOOL(CALL("kubernetes.Quantity.isInteger() bool", QTY("50")), true);
  EXPECT_DOUBLE(CALL("kubernetes.Quantity.asApproximateFloat() double", QTY("50.703k")), 50703);
  EXPECT_DOUBLE(CALL("kubernetes.Quantity.asApproximateFloat() double", QTY("1Ki")), 1024);
  EXPECT_INT(CALL("sign(kubernetes.Quantity) int", QTY("-1m")), -1);
  EXPECT_INT(CALL("sign(kubernetes.Quantity) int", QTY("0")), 0);
}

static void test_k8s_ip(void) {
  EXPECT_STR(CALL("string(net.IP) string", CALL("ip(string) net.IP", S("192.168.0.1"))), "192.168.0.1");
  EXPECT_STR(CALL("string(net.IP) string", CALL("ip(string) net.IP", S("2001:DB8:0:0:0:0:0:1"))), "2001:db8::1");
  EXPECT_STR(CALL("string(net.IP) string", CALL("ip(string) net.IP", S("1:0:0:2:0:0:0:3"))), "1:0:0:2::3");
  EXPECT_STR(CALL("string(net.IP) string", CALL("ip(string) net.IP", S("::1.2.3.4"))), "::102:304");
  EXPECT_STR(CALL("string(net.IP) string", CALL("ip(string) net.IP", S("::"))), "::");
  EXPECT_STR(CALL("string(net.IP) string", CALL("ip(string) net.IP", S("1:2:3:4:5:6:7:0"))), "1:2:3:4:5:6:7:0");
  EXPECT_ERR(CALL("ip(string) net.IP", S("1.2.3")),
             "IP Address \"1.2.3\" parse error during conversion from string: ParseAddr(\"1.2.3\"): IPv4 address too short");
  EXPECT_ERR(CALL("ip(string) net.IP", S("foo")),
             "IP Address \"foo\" parse error during conversion from string: ParseAddr(\"foo\"): unable to parse IP");
  EXPECT_ERR(CALL("ip(string) net.IP", S("1.2.3.04")),
             "IP Address \"1.2.3.04\" parse error during conversion from string: ParseAddr(\"1.2.3.04\"): IPv4 field has octet with leading zero");
  EXPECT_ERR(CALL("ip(string) net.IP", S("1.2.3.x")),
             "IP Address \"1.2.3.x\" parse error during conversion from string: ParseAddr(\"1.2.3.x\"): unexpected character (at \"x\")");
  EXPECT_ERR(CALL("ip(string) net.IP", S("::ffff:1.2.3.4")), "IPv4-mapped IPv6 address \"::ffff:1.2.3.4\" is not allowed");
  EXPECT_ERR(CALL("ip(string) net.IP", S("fe80::1%eth0")), "IP address \"fe80::1%eth0\" with zone value is not allowed");
  EXPECT_ERR(CALL("ip(string) net.IP", S("1::2::3")),
             "IP Address \"1::2::3\" parse error during conversion from string: ParseAddr(\"1::2::3\"): multiple :: in address (at \":3\")");
  EXPECT_BOOL(CALL("isIP(string) bool", S("::1")), true);
  EXPECT_BOOL(CALL("isIP(string) bool", S("1.2.3.4.5")), false);
  EXPECT_BOOL(CALL("ip.isCanonical(string) bool", S("2001:db8::1")), true);
  EXPECT_BOOL(CALL("ip.isCanonical(string) bool", S("2001:DB8::1")), false);
  EXPECT_INT(CALL("net.IP.family() int", CALL("ip(string) net.IP", S("::1"))), 6);
  EXPECT_INT(CALL("net.IP.family() int", CALL("ip(string) net.IP", S("10.0.0.1"))), 4);
  EXPECT_BOOL(CALL("net.IP.isLoopback() bool", CALL("ip(string) net.IP", S("127.0.0.2"))), true);
  EXPECT_BOOL(CALL("net.IP.isUnspecified() bool", CALL("ip(string) net.IP", S("0.0.0.0"))), true);
  EXPECT_BOOL(CALL("net.IP.isLinkLocalMulticast() bool", CALL("ip(string) net.IP", S("ff02::1"))), true);
  EXPECT_BOOL(CALL("net.IP.isLinkLocalUnicast() bool", CALL("ip(string) net.IP", S("fe80::1"))), true);
  EXPECT_BOOL(CALL("net.IP.isLinkLocalUnicast() bool", CALL("ip(string) net.IP", S("169.254.1.1"))), true);
  EXPECT_BOOL(CALL("net.IP.isGlobalUnicast() bool", CALL("ip(string) net.IP", S("10.0.0.1"))), true);
  EXPECT_BOOL(CALL("net.IP.isGlobalUnicast() bool", CALL("ip(string) net.IP", S("255.255.255.255"))), false);
  EXPECT_BOOL(CALL("net.IP.isGlobalUnicast() bool", CALL("ip(string) net.IP", S("224.0.0.1"))), false);
}

static void test_k8s_cidr(void) {
  EXPECT_STR(CALL("string(net.CIDR) string", CALL("cidr(string) net.CIDR", S("192.168.0.1/24"))), "192.168.0.1/24");
  EXPECT_STR(CALL("string(net.CIDR) string", CALL("net.CIDR.masked() net.CIDR", CALL("cidr(string) net.CIDR", S("192.168.0.1/20")))),
             "192.168.0.0/20");
  EXPECT_STR(CALL("string(net.CIDR) string", CALL("net.CIDR.masked() net.CIDR", CALL("cidr(string) net.CIDR", S("2001:db8::ffff/65")))),
             "2001:db8::/65");
  EXPECT_STR(CALL("string(net.IP) string", CALL("net.CIDR.ip() net.IP", CALL("cidr(string) net.CIDR", S("10.1.2.3/8")))), "10.1.2.3");
  EXPECT_INT(CALL("net.CIDR.prefixLength() int", CALL("cidr(string) net.CIDR", S("::/0"))), 0);
  EXPECT_BOOL(CALL("net.CIDR.containsIP(string) bool", CALL("cidr(string) net.CIDR", S("10.0.0.0/8")), S("10.255.0.1")), true);
  EXPECT_BOOL(CALL("net.CIDR.containsIP(string) bool", CALL("cidr(string) net.CIDR", S("10.0.0.0/8")), S("11.0.0.1")), false);
  EXPECT_BOOL(CALL("net.CIDR.containsIP(string) bool", CALL("cidr(string) net.CIDR", S("::/0")), S("10.0.0.1")), false);
  EXPECT_BOOL(CALL("net.CIDR.containsIP(net.IP) bool", CALL("cidr(string) net.CIDR", S("2001:db8::/32")), CALL("ip(string) net.IP", S("2001:db8:1::1"))), true);
  EXPECT_BOOL(CALL("net.CIDR.containsCIDR(string) bool", CALL("cidr(string) net.CIDR", S("10.0.0.0/8")), S("10.1.0.0/16")), true);
  EXPECT_BOOL(CALL("net.CIDR.containsCIDR(string) bool", CALL("cidr(string) net.CIDR", S("10.1.0.0/16")), S("10.0.0.0/8")), false);
  EXPECT_BOOL(CALL("net.CIDR.containsCIDR(net.CIDR) bool", CALL("cidr(string) net.CIDR", S("10.0.0.0/8")), CALL("cidr(string) net.CIDR", S("10.0.0.0/8"))), true);
  EXPECT_ERR(CALL("cidr(string) net.CIDR", S("10.0.0.0")),
             "network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix(\"10.0.0.0\"): no '/'");
  EXPECT_ERR(CALL("cidr(string) net.CIDR", S("10.0.0.0/33")),
             "network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix(\"10.0.0.0/33\"): prefix length out of range");
  EXPECT_ERR(CALL("cidr(string) net.CIDR", S("10.0.0.0/08")),
             "network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix(\"10.0.0.0/08\"): bad bits after slash: \"08\"");
  EXPECT_ERR(CALL("cidr(string) net.CIDR", S("::ffff:1.2.3.4/120")),
             "network address parse error during conversion from string: IPv4-mapped IPv6 address \"::ffff:1.2.3.4/120\" is not allowed");
  EXPECT_BOOL(CALL("isCIDR(string) bool", S("10.0.0.0/8")), true);
  EXPECT_BOOL(CALL("isCIDR(string) bool", S("10.0.0.0/x")), false);
}

static void test_k8s_url(void) {
  cel_value_t *u = CALL("url(string) kubernetes.URL", S("https://user@Example.com:8080/a%20b/c?x=1&y=2&x=3#frag"));
  EXPECT_KIND(u, CEL_OPAQUE);
#define R cel_value_ref(u)
  EXPECT_STR(CALL("kubernetes.URL.getScheme() string", R), "https");
  EXPECT_STR(CALL("kubernetes.URL.getHost() string", R), "Example.com:8080");
  EXPECT_STR(CALL("kubernetes.URL.getHostname() string", R), "Example.com");
  EXPECT_STR(CALL("kubernetes.URL.getPort() string", R), "8080");
  EXPECT_STR(CALL("kubernetes.URL.getEscapedPath() string", R), "/a%20b/c");
  cel_value_t *q = CALL("kubernetes.URL.getQuery() map(string, list(string))", R);
  EXPECT_KIND(q, CEL_MAP);
  ASSERT_EQ_INT(cel_map_len(q), 2);
  cel_value_t *x = cel_map_getz(q, "x");
  ASSERT_NOT_NULL(x);
  ASSERT_EQ_INT(cel_list_len(x), 2);
  ASSERT_EQ_STR(cel_value_str(cel_list_at(x, 1), NULL), "3");
  cel_value_unref(q);
#undef R
  cel_value_unref(u);
  u = CALL("url(string) kubernetes.URL", S("https://[::1]:80/path"));
  EXPECT_STR(CALL("kubernetes.URL.getHostname() string", cel_value_ref(u)), "::1");
  EXPECT_STR(CALL("kubernetes.URL.getHost() string", cel_value_ref(u)), "[::1]:80");
  cel_value_unref(u);
  EXPECT_STR(CALL("kubernetes.URL.getEscapedPath() string", CALL("url(string) kubernetes.URL", S("/path with space"))), "/path%20with%20space");
  EXPECT_STR(CALL("kubernetes.URL.getHost() string", CALL("url(string) kubernetes.URL", S("/path"))), "");
  EXPECT_BOOL(CALL("isURL(string) bool", S("https://example.com")), true);
  EXPECT_BOOL(CALL("isURL(string) bool", S("mailto:someone@example.com")), true);
  EXPECT_BOOL(CALL("isURL(string) bool", S("example.com")), false);
  EXPECT_BOOL(CALL("isURL(string) bool", S("")), false);
  EXPECT_BOOL(CALL("isURL(string) bool", S("https://a b.com/")), false);
  EXPECT_ERR(CALL("url(string) kubernetes.URL", S("../relative")),
             "URL parse error during conversion from string: parse \"../relative\": invalid URI for request");
  EXPECT_ERR(CALL("url(string) kubernetes.URL", S("https://host:x/")),
             "URL parse error during conversion from string: parse \"https://host:x/\": invalid port \":x\" after host");
  EXPECT_ERR(CALL("url(string) kubernetes.URL", S("/a%zz")),
             "URL parse error during conversion from string: parse \"/a%zz\": invalid URL escape \"%zz\"");
  EXPECT_ERR(CALL("url(string) kubernetes.URL", S("://x")),
             "URL parse error during conversion from string: parse \"://x\": missing protocol scheme");
}

static void test_optional(void) {
  cel_value_t *o = CALL("optional.of(A) optional(A)", I(5));
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", cel_value_ref(o)), true);
  EXPECT_INT(CALL("optional(A).value() A", cel_value_ref(o)), 5);
  EXPECT_INT(CALL("optional(A).orValue(A) A", cel_value_ref(o), I(7)), 5);
  cel_value_t *n = callv("optional.none() optional(dyn)", 0, NULL);
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", cel_value_ref(n)), false);
  EXPECT_ERR(CALL("optional(A).value() A", cel_value_ref(n)), "optional.none() dereference");
  EXPECT_INT(CALL("optional(A).orValue(A) A", cel_value_ref(n), I(7)), 7);
  EXPECT_INT(CALL("optional(A).value() A", CALL("optional(A).or(optional(A)) optional(A)", cel_value_ref(n), cel_value_ref(o))), 5);
  EXPECT_INT(CALL("optional(A).value() A", CALL("optional(A).or(optional(A)) optional(A)", cel_value_ref(o), cel_value_ref(n))), 5);
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("optional.ofNonZeroValue(A) optional(A)", S(""))), false);
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("optional.ofNonZeroValue(A) optional(A)", L(NULL))), false);
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("optional.ofNonZeroValue(A) optional(A)", I(0))), false);
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("optional.ofNonZeroValue(A) optional(A)", I(3))), true);
  EXPECT_STR(CALL("optional(A).value() A", CALL("_[_](optional(list(A)), int) optional(A)", CALL("optional.of(A) optional(A)", L(S("a"), NULL)), I(0))), "a");
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("_[_](optional(list(A)), int) optional(A)", CALL("optional.of(A) optional(A)", L(S("a"), NULL)), I(1))), false);
  cel_value_t *m = cel_map_new(1);
  cel_map_put(m, S("k"), I(1));
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("_[_](optional(map(K, V)), K) optional(V)", CALL("optional.of(A) optional(A)", cel_value_ref(m)), S("x"))), false);
  EXPECT_INT(CALL("optional(A).value() A", CALL("_[_](optional(map(K, V)), K) optional(V)", CALL("optional.of(A) optional(A)", m), S("k"))), 1);
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("_[_](optional(map(K, V)), K) optional(V)", cel_value_ref(n), S("k"))), false);
  EXPECT_STR(CALL("optional(A).value() A", CALL("list(A).first() optional(A)", L(S("a"), S("b"), NULL))), "a");
  EXPECT_STR(CALL("optional(A).value() A", CALL("list(A).last() optional(A)", L(S("a"), S("b"), NULL))), "b");
  EXPECT_BOOL(CALL("optional(A).hasValue() bool", CALL("list(A).last() optional(A)", L(NULL))), false);
  cel_value_t *u = CALL("optional.unwrap(list(optional(A))) list(A)", L(cel_value_ref(o), cel_value_ref(n), cel_value_ref(o), NULL));
  EXPECT_KIND(u, CEL_LIST);
  ASSERT_EQ_INT(cel_list_len(u), 2);
  ASSERT_EQ_INT(cel_value_int(cel_list_at(u, 1)), 5);
  cel_value_unref(u);
  cel_value_unref(n);
  cel_value_unref(o);
}

static void test_ext_sets_lists(void) {
  EXPECT_BOOL(CALL("sets.contains(list(A), list(A)) bool", L(I(1), I(2), I(3), NULL), L(U(2), D(3.0), NULL)), true);
  EXPECT_BOOL(CALL("sets.contains(list(A), list(A)) bool", L(I(1), NULL), L(I(2), NULL)), false);
  EXPECT_BOOL(CALL("sets.contains(list(A), list(A)) bool", L(I(1), NULL), L(NULL)), true);
  EXPECT_BOOL(CALL("sets.equivalent(list(A), list(A)) bool", L(I(1), I(2), I(1), NULL), L(I(2), I(1), NULL)), true);
  EXPECT_BOOL(CALL("sets.equivalent(list(A), list(A)) bool", L(I(1), NULL), L(I(1), I(3), NULL)), false);
  EXPECT_BOOL(CALL("sets.intersects(list(A), list(A)) bool", L(S("a"), S("b"), NULL), L(S("c"), S("b"), NULL)), true);
  EXPECT_BOOL(CALL("sets.intersects(list(A), list(A)) bool", L(S("a"), NULL), L(NULL)), false);
  EXPECT_STRLIST(CALL("list(A).slice(int, int) list(A)", L(S("a"), S("b"), S("c"), S("d"), NULL), I(1), I(3)), "b|c");
  EXPECT_ERR(CALL("list(A).slice(int, int) list(A)", L(S("a"), NULL), I(0), I(2)), "cannot slice(0, 2), list is length 1");
  EXPECT_ERR(CALL("list(A).slice(int, int) list(A)", L(S("a"), NULL), I(1), I(0)),
             "cannot slice(1, 0), start index must be less than or equal to end index");
  EXPECT_ERR(CALL("list(A).slice(int, int) list(A)", L(S("a"), NULL), I(-1), I(0)), "cannot slice(-1, 0), negative indexes not supported");
  cel_value_t *f = CALL("list(list(A)).flatten() list(A)", L(L(S("a"), NULL), L(S("b"), L(S("c"), NULL), NULL), NULL));
  EXPECT_KIND(f, CEL_LIST);
  ASSERT_EQ_INT(cel_list_len(f), 3);
  ASSERT_EQ_INT(cel_value_kind(cel_list_at(f, 2)), CEL_LIST);
  cel_value_unref(f);
  f = CALL("list(dyn).flatten(int) list(dyn)", L(L(S("a"), NULL), L(S("b"), L(S("c"), NULL), NULL), NULL), I(2));
  EXPECT_STRLIST(f, "a|b|c");
  EXPECT_ERR(CALL("list(dyn).flatten(int) list(dyn)", L(NULL), I(-1)), "level must be non-negative");
  EXPECT_STRLIST(CALL("list(string).sort() list(string)", L(S("c"), S("a"), S("b"), NULL)), "a|b|c");
  EXPECT_STRLIST(CALL("list(A).@sortByAssociatedKeys(list(int)) list(A)", L(S("foo"), S("bar"), S("baz"), NULL), L(I(3), I(1), I(2), NULL)),
                 "bar|baz|foo");
  EXPECT_ERR(CALL("list(int).sort() list(int)", L(I(2), D(1), NULL)), "list elements must have the same type");
  cel_value_t *r = CALL("lists.range(int) list(int)", I(4));
  EXPECT_KIND(r, CEL_LIST);
  ASSERT_EQ_INT(cel_list_len(r), 4);
  ASSERT_EQ_INT(cel_value_int(cel_list_at(r, 3)), 3);
  cel_value_unref(r);
  EXPECT_ERR(CALL("lists.range(int) list(int)", I(INT64_MAX)), "operation cancelled: actual cost limit exceeded");
  EXPECT_STRLIST(CALL("list(A).reverse() list(A)", L(S("a"), S("b"), NULL)), "b|a");
  EXPECT_STRLIST(CALL("list(A).distinct() list(A)", L(S("b"), S("a"), S("b"), S("c"), S("a"), NULL)), "b|a|c");
  r = CALL("list(A).distinct() list(A)", L(I(1), D(1.0), U(2), I(2), D(2.5), NULL));
  EXPECT_KIND(r, CEL_LIST);
  ASSERT_EQ_INT(cel_list_len(r), 3);
  cel_value_unref(r);
}

static void test_k8s_semver(void) {
  cel_value_t *v = CALL("semver(string) kubernetes.Semver", S("1.2.3-alpha.1+build.5"));
  EXPECT_KIND(v, CEL_OPAQUE);
  EXPECT_INT(CALL("kubernetes.Semver.major() int", cel_value_ref(v)), 1);
  EXPECT_INT(CALL("kubernetes.Semver.minor() int", cel_value_ref(v)), 2);
  EXPECT_INT(CALL("kubernetes.Semver.patch() int", cel_value_ref(v)), 3);
  EXPECT_BOOL(CALL("kubernetes.Semver.isLessThan(kubernetes.Semver) bool", cel_value_ref(v), CALL("semver(string) kubernetes.Semver", S("1.2.3"))), true);
  cel_value_t *w = CALL("semver(string) kubernetes.Semver", S("1.2.3-alpha.1"));
  ASSERT_TRUE(cel_value_equal(v, w)); /* build metadata does not count */
  cel_value_unref(w);
  cel_value_unref(v);
#define SV(s) CALL("semver(string) kubernetes.Semver", S(s))
  /* SemVer 2.0.0's example order */
  const char *order[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                         "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"};
  for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
    EXPECT_INT(CALL("kubernetes.Semver.compareTo(kubernetes.Semver) int", SV(order[i]), SV(order[i + 1])), -1);
    EXPECT_BOOL(CALL("kubernetes.Semver.isGreaterThan(kubernetes.Semver) bool", SV(order[i + 1]), SV(order[i])), true);
  }
  EXPECT_ERR(SV(""), "Version string empty");
  EXPECT_ERR(SV("1.2"), "No Major.Minor.Patch elements found");
  EXPECT_ERR(SV("v1.2.3"), "Invalid character(s) found in major number \"v1\"");
  EXPECT_ERR(SV("1.02.3"), "Minor number must not contain leading zeroes \"02\"");
  EXPECT_ERR(SV("1.2.3-01"), "Numeric PreRelease version must not contain leading zeroes \"01\"");
  EXPECT_ERR(SV("1.2.3-a..b"), "Prerelease is empty");
  EXPECT_ERR(SV("1.2.3+a_b"), "Invalid character(s) found in build meta data \"a_b\"");
  EXPECT_ERR(SV("1.2.99999999999999999999"), "strconv.ParseUint: parsing \"99999999999999999999\": value out of range");
#undef SV
  EXPECT_BOOL(CALL("isSemver(string) bool", S("1.0.0")), true);
  EXPECT_BOOL(CALL("isSemver(string) bool", S("v1.0")), false);
  EXPECT_BOOL(CALL("isSemver(string, bool) bool", S("v1.0"), B(true)), true);
  EXPECT_BOOL(CALL("isSemver(string, bool) bool", S("v1.0-alpha"), B(true)), false);
  EXPECT_INT(CALL("kubernetes.Semver.minor() int", CALL("semver(string, bool) kubernetes.Semver", S("v01.002"), B(true))), 2);
  EXPECT_INT(CALL("kubernetes.Semver.patch() int", CALL("semver(string, bool) kubernetes.Semver", S("1.2.00"), B(true))), 0);
  EXPECT_ERR(CALL("semver(string, bool) kubernetes.Semver", S("1-a"), B(true)), "short version cannot contain PreRelease/Build meta data");
}

/* searches stay linear on inputs that make naive search quadratic */
static void test_strings_linear(void) {
  size_t n = 400000, m = 200000;
  char *hay = malloc(n + 1), *needle = malloc(m + 2);
  memset(hay, 'a', n);
  hay[n] = 0;
  memset(needle, 'a', m);
  needle[m] = 'b';
  needle[m + 1] = 0;
  clock_t t0 = clock();
  EXPECT_INT(CALL("string.indexOf(string) int", S(hay), S(needle)), -1);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S(hay), S(needle)), -1);
  needle[m] = 0;
  needle[0] = 'b';
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S(hay), S(needle)), -1);
  EXPECT_BOOL(CALL("string.contains(string) bool", S(hay), S(needle)), false);
  EXPECT_STR(CALL("string(int) string", CALL("size(list(A)) int", CALL("string.split(string) list(string)", S(hay), S(needle)))), "1");
  needle[0] = 'a';
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S(hay), S(needle)), (int64_t)(n - m));
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  free(hay);
  free(needle);
  if (secs > t_time_limit(2.0))
    TEST_FAIL("string searches took %.2fs", secs);
}

/* the cost a call reports (the arguments are taken) */
static uint64_t costv(const char *sig, size_t n, cel_value_t **args) {
  cel_fn_cb fn = find(sig);
  uint64_t cost = 1;
  if (fn)
    cel_value_unref(fn(args, n, &cost));
  for (size_t i = 0; i < n; i++)
    cel_value_unref(args[i]);
  return fn ? cost : UINT64_MAX;
}
#define COST(sig, ...)                                                                             \
  costv(sig, sizeof((cel_value_t *[]){__VA_ARGS__}) / sizeof(cel_value_t *), (cel_value_t *[]){__VA_ARGS__})

/* call costs as cel-go's tracker and Kubernetes' estimator charge them */
static void test_costs(void) {
  ASSERT_EQ_INT(COST("string.contains(string) bool", S("aaaaaaaaaaa"), S("ab")), 2);
  ASSERT_EQ_INT(COST("string.startsWith(string) bool", S("aaaaaaaaaaaaaaaaaaaaa"), S("ab")), 3);
  ASSERT_EQ_INT(COST("string.matches(string) bool", S("abcdefghijk"), S("a+b+c")), 4);
  ASSERT_EQ_INT(COST("_+_(string, string) string", S("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), S("abcdef")), 2);
  ASSERT_EQ_INT(COST("_<_(string, string) bool", S("abcdefghijkl"), S("abcdefghijklmnopqrstuvwxyz")), 2);
  ASSERT_EQ_INT(COST("_<_(int, int) bool", I(1), I(2)), 1);
  ASSERT_EQ_INT(COST("@in(A, list(A)) bool", I(1), L(I(1), I(2), I(3), NULL)), 3);
  ASSERT_EQ_INT(COST("string.lowerAscii() string", S("abcdefghijklmnopqrstuvwxy")), 3);
  ASSERT_EQ_INT(COST("string.replace(string, string) string", S("abcdefghijklmnopqrstuvwxy"), S("a"), S("b")), 5);
  ASSERT_EQ_INT(COST("string.indexOf(string) int", S("abcdefghijklmnopqrstuvwxy"), S("a")), 2);
  ASSERT_EQ_INT(COST("list(int).isSorted() bool", L(I(1), I(2), I(3), NULL)), 3);
  ASSERT_EQ_INT(COST("string.find(string) string", S("abcdefghijk"), S("a+b+c")), 4);
  ASSERT_EQ_INT(COST("net.CIDR.containsIP(string) bool", CALL("cidr(string) net.CIDR", S("10.0.0.0/16")), S("10.1.2.3")), 2);
  ASSERT_EQ_INT(COST("net.CIDR.containsCIDR(net.CIDR) bool", CALL("cidr(string) net.CIDR", S("10.0.0.0/16")), CALL("cidr(string) net.CIDR", S("10.0.0.0/24"))), 3);
  ASSERT_EQ_INT(COST("quantity(string) kubernetes.Quantity", S("123456789012")), 2);
}

/* cases of cel-spec's string_ext conformance file */
static void test_strings_spec_cases(void) {
  EXPECT_STR(CALL("string.charAt(int) string", S("tacocat"), I(3)), "o");
  EXPECT_STR(CALL("string.charAt(int) string", S("\xc2\xa9\xce\xb1T"), I(1)), "\xce\xb1");
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("tacocat"), S("at"), I(3)), 5);
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), S("\xc2\xa9"), I(3)), 4);
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), S("\xc2\xa9\xce\xb1T"), I(3)), 4);
  EXPECT_INT(CALL("string.indexOf(string, int) int", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), S("\xc2\xa9\xce\xb1"), I(5)), -1);
  EXPECT_INT(CALL("string.indexOf(string) int", S("hello wello"), S("hello wello")), 0);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S(""), S("@@")), -1);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("tacocat"), S("")), 7);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("tacocat"), S(""), I(3)), 3);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("tacocat"), S("a"), I(3)), 1);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), S("\xc2\xa9")), 4);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), S("\xc2\xa9"), I(3)), 2);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), S("\xc2\xa9\xce\xb1"), I(4)), 4);
  EXPECT_INT(CALL("string.lastIndexOf(string) int", S("hello wello"), S("hello wello")), 0);
  EXPECT_INT(CALL("string.lastIndexOf(string, int) int", S("bananananana"), S("nana"), I(7)), 6);
  EXPECT_STR(CALL("string.replace(string, string) string", S("1 \xc2\xa9\xce\xb1T taco"), S("\xce\xb1T"), S("o\xc2\xa9\xce\xb1")), "1 \xc2\xa9o\xc2\xa9\xce\xb1 taco");
  EXPECT_STRLIST(CALL("string.split(string, int) list(string)", S("o\xc2\xa9o\xc2\xa9o\xc2\xa9o"), S("\xc2\xa9"), I(-1)), "o|o|o|o");
  EXPECT_STR(CALL("string.substring(int, int) string", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), I(2), I(6)), "\xc2\xa9o\xc2\xa9\xce\xb1");
  EXPECT_STR(CALL("string.substring(int, int) string", S("ta\xc2\xa9o\xc2\xa9\xce\xb1T"), I(7), I(7)), "");
  EXPECT_STR(CALL("string.trim() string", S(" \f\n\r\t\vtext  ")), "text");
  EXPECT_STR(CALL("string.trim() string", S("\xc2\x85\xc2\xa0\xe1\x9a\x80text")), "text");
  EXPECT_STR(CALL("string.trim() string", S("\xe2\x80\x8atext\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\x9f\xe3\x80\x80")), "text");
  /* zero-width spaces are not spaces */
  EXPECT_STR(CALL("string.trim() string", S("\xe1\xa0\x8etext\xe2\x80\x8b\xef\xbb\xbf")), "\xe1\xa0\x8etext\xe2\x80\x8b\xef\xbb\xbf");
  EXPECT_STR(CALL("strings.quote(string) string", S("double \\\\ slash")), "\"double \\\\\\\\ slash\"");
  EXPECT_STR(CALL("strings.quote(string) string", S("printable unicode\xf0\x9f\x98\x80")), "\"printable unicode\xf0\x9f\x98\x80\"");
  EXPECT_STR(CALL("strings.quote(string) string", S("")), "\"\"");
}

/* cases of cel-spec's timestamps conformance file */
static void test_time_spec_cases(void) {
  if (access("/usr/share/zoneinfo/US/Central", R_OK) || access("/usr/share/zoneinfo/America/St_Johns", R_OK))
    TEST_SKIP("no IANA zone files");
  cel_value_t *t = TS("2009-02-13T23:31:30Z"), *t2 = TS("2009-02-13T02:00:00Z");
#define R cel_value_ref(t)
  EXPECT_INT(CALL("timestamp.getDate(string) int", R, S("Australia/Sydney")), 14);
  EXPECT_INT(CALL("timestamp.getDayOfMonth(string) int", R, S("US/Central")), 12);
  EXPECT_INT(CALL("timestamp.getDayOfMonth(string) int", R, S("+11:00")), 13);
  EXPECT_INT(CALL("timestamp.getDayOfMonth(string) int", cel_value_ref(t2), S("-02:30")), 11);
  EXPECT_INT(CALL("timestamp.getDayOfMonth(string) int", cel_value_ref(t2), S("America/St_Johns")), 11);
  EXPECT_INT(CALL("timestamp.getDayOfWeek(string) int", R, S("UTC")), 5);
  EXPECT_INT(CALL("timestamp.getDayOfYear(string) int", R, S("US/Central")), 43);
  EXPECT_INT(CALL("timestamp.getFullYear(string) int", R, S("-09:30")), 2009);
  EXPECT_INT(CALL("timestamp.getHours(string) int", R, S("02:00")), 1);
  EXPECT_INT(CALL("timestamp.getMinutes(string) int", R, S("Asia/Kathmandu")), 16);
  EXPECT_INT(CALL("timestamp.getMonth(string) int", R, S("UTC")), 1);
  EXPECT_INT(CALL("timestamp.getSeconds(string) int", R, S("-00:00")), 30);
  EXPECT_INT(CALL("int(timestamp) int", R), 1234567890);
#undef R
  cel_value_unref(t);
  cel_value_unref(t2);
  EXPECT_STR(CALL("string(duration) string", CALL("duration(string) duration", S("1000000s"))), "1000000s");
  EXPECT_INT(CALL("duration.getHours() int", CALL("duration(string) duration", S("10000s"))), 2);
  EXPECT_INT(CALL("duration.getMinutes() int", CALL("duration(string) duration", S("3730s"))), 62);
  EXPECT_ERR(CALL("timestamp(int) timestamp", I(-62135596801)), "timestamp overflow");
  EXPECT_ERR(CALL("_+_(timestamp, duration) timestamp", TS("0001-01-01T00:00:00Z"), CALL("duration(string) duration", S("-1ns"))),
             "timestamp overflow");
  EXPECT_ERR(CALL("duration(string) duration", S("320000000000s")), "type conversion error from 'string' to 'google.protobuf.Duration'");
}

/* every signature parses with the grammar of value.h, names as meant */
static void test_signatures_parse(void) {
  size_t n = 0;
  for (size_t l = 0; cel_libraries[l]; l++)
    for (size_t i = 0; i < cel_libraries[l]->n; i++, n++) {
      cel__overload_t o;
      const char *sig = cel_libraries[l]->overloads[i].signature;
      if (cel__overload_parse(sig, cel_libraries[l]->overloads[i].fn, &o) < 0)
        TEST_FAIL("signature does not parse: %s", sig);
      cel__overload_done(&o);
    }
  ASSERT_GE_INT(n, 290);
  static const struct {
    const char *sig, *name;
    bool receiver;
    size_t nargs;
  } cases[] = {
    {"ip.isCanonical(string) bool", "ip.isCanonical", false, 1},
    {"net.CIDR.containsIP(net.IP) bool", "containsIP", true, 2},
    {"kubernetes.Quantity.add(int) kubernetes.Quantity", "add", true, 2},
    {"sign(kubernetes.Quantity) int", "sign", false, 1},
    {"list(A).@sortByAssociatedKeys(list(int)) list(A)", "@sortByAssociatedKeys", true, 2},
    {"strings.quote(string) string", "strings.quote", false, 1},
    {"sets.contains(list(A), list(A)) bool", "sets.contains", false, 2},
    {"lists.range(int) list(int)", "lists.range", false, 1},
    {"optional.none() optional(dyn)", "optional.none", false, 0},
    {"optional(A).or(optional(A)) optional(A)", "or", true, 2},
    {"_[_](optional(map(K, V)), K) optional(V)", "_[_]", false, 2},
    {"timestamp.getHours(string) int", "getHours", true, 2},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cel__overload_t o;
    ASSERT_EQ_INT(cel__overload_parse(cases[i].sig, NULL, &o), 0);
    char name[64];
    snprintf(name, sizeof(name), "%s", o.name);
    bool recv = o.receiver;
    size_t na = o.nargs;
    cel__overload_done(&o);
    ASSERT_EQ_STR(name, cases[i].name);
    ASSERT_EQ_INT(recv, cases[i].receiver);
    ASSERT_EQ_INT(na, cases[i].nargs);
  }
}

/* ---- every overload on edge values (ASan/UBSan judge) ---- */

static const char *const sample_strings[] = {
  "", "a", "\xc3\xa9t\xc3\xa9", "(", "%", "%.", "%.999999999f", "%s%d%f%e%x%o%b", "1.2.3.4", "::", "::ffff:1.2.3.4",
  "10.0.0.0/8", "fe80::1%eth0/64", "https://u@h:1/p?q=1&r#f", "1Gi", "-1e-3m", "1.2.3-a.b+c", "v1", "0", "-",
  "1h2m3.5s", "9999-12-31T23:59:59Z", "America/New_York", "+14:00", "a*", "[", "\\",
};

static cel_value_t *sample(const cel_type_t *t, size_t k, int depth);

/* an opaque value of type name, made with the library's own constructor */
static cel_value_t *sample_opaque(const char *name, size_t k) {
  static const struct {
    const char *type, *ctor, *texts[3];
  } ctors[] = {
    {"net.IP", "ip(string) net.IP", {"10.1.2.3", "2001:db8::1", "::"}},
    {"net.CIDR", "cidr(string) net.CIDR", {"10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0"}},
    {"kubernetes.Quantity", "quantity(string) kubernetes.Quantity", {"1Gi", "-500m", "9999999999999999999999999999999999999G"}},
    {"kubernetes.URL", "url(string) kubernetes.URL", {"https://u@h:1/p%20q?x=1&x=2", "/", "mailto:a@b"}},
    {"kubernetes.Semver", "semver(string) kubernetes.Semver", {"1.2.3-rc.1+b", "0.0.0", "18446744073709551615.0.1"}},
  };
  static const char *const formats[] = {"format.dns1123Label() kubernetes.NamedFormat", "format.uri() kubernetes.NamedFormat",
                                        "format.datetime() kubernetes.NamedFormat", "format.uuid() kubernetes.NamedFormat"};
  if (!strcmp(name, "kubernetes.NamedFormat"))
    return callv(formats[k % 4], 0, NULL);
  for (size_t i = 0; i < sizeof(ctors) / sizeof(ctors[0]); i++)
    if (!strcmp(name, ctors[i].type))
      return CALL(ctors[i].ctor, S(ctors[i].texts[k % 3]));
  return cel_null();
}

static cel_value_t *sample(const cel_type_t *t, size_t k, int depth) {
  switch (t->kind) {
  case CEL_T_NULL:
    return cel_null();
  case CEL_T_BOOL:
    return B(k % 2);
  case CEL_T_INT: {
    static const int64_t v[] = {0, -1, 1, INT64_MIN, INT64_MAX, 3, 1000000000000};
    return I(v[k % 7]);
  }
  case CEL_T_UINT: {
    static const uint64_t v[] = {0, 1, UINT64_MAX, 2, (uint64_t)INT64_MAX + 1};
    return U(v[k % 5]);
  }
  case CEL_T_DOUBLE: {
    static const double v[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1e308, -9.3e18, 0.5, 1e-320};
    return D(v[k % 9]);
  }
  case CEL_T_STRING:
    return S(sample_strings[k % (sizeof(sample_strings) / sizeof(sample_strings[0]))]);
  case CEL_T_BYTES:
    return k % 2 ? cel_bytes("\0\xff", 2) : cel_bytes("", 0);
  case CEL_T_TIMESTAMP: {
    static const int64_t v[] = {0, -62135596800, 253402300799, -1};
    return cel_timestamp(v[k % 4], k % 3 ? 999999999 : 0);
  }
  case CEL_T_DURATION: {
    static const int64_t v[] = {0, 9223372036, -9223372036, 1};
    return cel_duration(v[k % 4], (int32_t)(v[k % 4] < 0 ? -854775808 : k % 2 ? 854775807 : 0));
  }
  case CEL_T_TYPE:
    return cel_type_value("int");
  case CEL_T_LIST: {
    cel_value_t *l = cel_list_new(3);
    size_t n = depth > 2 ? 0 : k % 4;
    for (size_t i = 0; i < n; i++)
      cel_list_push(l, t->elem && t->elem->kind != CEL_T_PARAM && t->elem->kind != CEL_T_DYN
                         ? sample(t->elem, k + i * 5, depth + 1)
                         : (i % 2 ? S("x") : I((int64_t)i)));
    return l;
  }
  case CEL_T_MAP: {
    cel_value_t *m = cel_map_new(2);
    if (k % 3) {
      cel_map_put(m, S("k"), I(1));
      cel_map_put(m, I(2), L(S("v"), NULL));
    }
    return m;
  }
  case CEL_T_OPTIONAL:
    return k % 2 ? cel_optional(NULL)
                 : cel_optional(t->elem && t->elem->kind != CEL_T_PARAM ? sample(t->elem, k, depth + 1) : I(1));
  case CEL_T_OPAQUE:
    return sample_opaque(t->name, k);
  default: { /* dyn and type parameters: a few kinds */
    switch (k % 6) {
    case 0: return I(1);
    case 1: return S("x");
    case 2: return D(NAN);
    case 3: return L(I(1), S("a"), NULL);
    case 4: return cel_null();
    default: return U(7);
    }
  }
  }
}

static void test_all_overloads_edges(void) {
  size_t calls = 0;
  for (size_t l = 0; cel_libraries[l]; l++)
    for (size_t i = 0; i < cel_libraries[l]->n; i++) {
      const cel_overload_t *ov = &cel_libraries[l]->overloads[i];
      cel__overload_t o;
      ASSERT_EQ_INT(cel__overload_parse(ov->signature, ov->fn, &o), 0);
      for (size_t k = 0; k < 40; k++) {
        cel_value_t *args[8] = {0};
        for (size_t j = 0; j < o.nargs && j < 8; j++)
          args[j] = sample(o.params[j], k + j * 7, 0);
        uint64_t cost = 1;
        cel_value_t *r = ov->fn(args, o.nargs, &cost);
        ASSERT_NOT_NULL(r);
        cel_value_unref(r);
        for (size_t j = 0; j < o.nargs && j < 8; j++)
          cel_value_unref(args[j]);
        calls++;
      }
      cel__overload_done(&o);
    }
  ASSERT_GE_INT(calls, 10000);
}

/* format.validate(s): none, or the list of upstream's messages */
static cel_value_t *validate(const char *format, const char *s) {
  cel_value_t *f = CALL("format.named(string) optional(kubernetes.NamedFormat)", S(format));
  cel_value_t *fv = cel_value_optional(f);
  if (!fv) {
    cel_value_unref(f);
    return cel_errorf("no format %s", format);
  }
  cel_value_t *r = CALL("kubernetes.NamedFormat.validate(string) optional(list(string))", cel_value_ref(fv), S(s));
  cel_value_unref(f);
  return r;
}
#define EXPECT_VALID(f, s)                                                                         \
  do {                                                                                             \
    cel_value_t *r_ = validate(f, s);                                                              \
    EXPECT_KIND(r_, CEL_OPTIONAL);                                                                 \
    bool none_ = cel_value_optional(r_) == NULL;                                                   \
    char m_[512] = "";                                                                             \
    if (!none_)                                                                                    \
      snprintf(m_, sizeof(m_), "%s", cel_value_str(cel_list_at(cel_value_optional(r_), 0), NULL)); \
    cel_value_unref(r_);                                                                           \
    if (!none_)                                                                                    \
      TEST_FAIL("%s %s: %s", f, s, m_);                                                            \
  } while (0)
#define EXPECT_INVALID(f, s, want)                                                                 \
  do {                                                                                             \
    cel_value_t *r_ = validate(f, s);                                                              \
    EXPECT_KIND(r_, CEL_OPTIONAL);                                                                 \
    cel_value_t *l_ = cel_value_optional(r_);                                                      \
    char m_[512] = "(valid)";                                                                      \
    if (l_ && cel_list_len(l_))                                                                    \
      snprintf(m_, sizeof(m_), "%s", cel_value_str(cel_list_at(l_, 0), NULL));                    \
    cel_value_unref(r_);                                                                           \
    ASSERT_CONTAINS(m_, want);                                                                     \
  } while (0)

static void test_k8s_format(void) {
  cel_value_t *none = CALL("format.named(string) optional(kubernetes.NamedFormat)", S("nope"));
  EXPECT_KIND(none, CEL_OPTIONAL);
  ASSERT_NULL(cel_value_optional(none));
  cel_value_unref(none);
  cel_value_t *a = CALL("format.named(string) optional(kubernetes.NamedFormat)", S("uuid"));
  cel_value_t *b = callv("format.uuid() kubernetes.NamedFormat", 0, NULL);
  ASSERT_TRUE(cel_value_equal(cel_value_optional(a), b));
  cel_value_unref(a);
  cel_value_unref(b);
  EXPECT_VALID("dns1123Label", "my-name");
  EXPECT_INVALID("dns1123Label", "My-name", "a lowercase RFC 1123 label must consist of");
  EXPECT_INVALID("dns1123Label", "my-", "a lowercase RFC 1123 label");
  EXPECT_VALID("dns1123LabelPrefix", "my-");
  EXPECT_VALID("dns1123Subdomain", "example.com");
  EXPECT_INVALID("dns1123Subdomain", "example..com", "a lowercase RFC 1123 subdomain");
  EXPECT_VALID("dns1123SubdomainPrefix", "example.com-");
  EXPECT_VALID("dns1035Label", "abc-123");
  EXPECT_INVALID("dns1035Label", "1abc", "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character");
  EXPECT_VALID("dns1035LabelPrefix", "abc-");
  EXPECT_VALID("qualifiedName", "example.com/MyName");
  EXPECT_INVALID("qualifiedName", "a/b/c", "with an optional DNS subdomain prefix");
  EXPECT_VALID("labelValue", "");
  EXPECT_INVALID("labelValue", "-x", "a valid label must be an empty string");
  EXPECT_VALID("uri", "https://example.com/x");
  EXPECT_INVALID("uri", "example.com", "parse \"example.com\": invalid URI for request");
  EXPECT_VALID("uuid", "123e4567-E89B-12d3-a456-426614174000");
  EXPECT_VALID("uuid", "123e4567e89b12d3a456426614174000");
  EXPECT_INVALID("uuid", "123e4567-e89b-12d3-a456-42661417400", "does not match the UUID format");
  EXPECT_VALID("byte", "aGVsbG8=");
  EXPECT_INVALID("byte", "aGVsbG8", "invalid base64");
  EXPECT_VALID("date", "2024-02-29");
  EXPECT_INVALID("date", "2023-02-29", "invalid date");
  EXPECT_INVALID("date", "2023-2-01", "invalid date");
  EXPECT_VALID("datetime", "2024-02-29T13:14:15Z");
  EXPECT_VALID("datetime", "2024-02-29t13:14:15.123+05:30");
  EXPECT_INVALID("datetime", "2024-02-29T24:00:00Z", "invalid datetime");
  EXPECT_INVALID("datetime", "2024-02-29T13:14:15", "invalid datetime");
  EXPECT_INVALID("datetime", "2024-02-29", "invalid datetime");
}

TEST_LIST = {
  TEST(test_tables_unique),
  TEST(test_signatures_parse),
  TEST(test_int_arith),
  TEST(test_uint_double_arith),
  TEST(test_concat),
  TEST(test_compare),
  TEST(test_index_in_size),
  TEST(test_string_tests),
  TEST(test_conversions),
  TEST(test_time_conversions),
  TEST(test_time_arith),
  TEST(test_time_accessors),
  TEST(test_time_spec_cases),
  TEST(test_strings_index),
  TEST(test_strings_transform),
  TEST(test_strings_linear),
  TEST(test_strings_spec_cases),
  TEST(test_format),
  TEST(test_k8s_lists),
  TEST(test_k8s_regex),
  TEST(test_k8s_quantity),
  TEST(test_k8s_ip),
  TEST(test_k8s_cidr),
  TEST(test_k8s_url),
  TEST(test_k8s_semver),
  TEST(test_k8s_format),
  TEST(test_ext_sets_lists),
  TEST(test_optional),
  TEST(test_costs),
  TEST(test_all_overloads_edges),
  {0},
};
TEST_MAIN()
