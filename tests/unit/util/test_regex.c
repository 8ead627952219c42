/* Tests for pkg/util/regex.c: RE2 syntax as Kubernetes patterns use it,
 * Go's matching semantics (unanchored, ^/$ at text ends, runes), the
 * refusals RE2 makes (backreferences, lookaround, counts over 1000) and
 * linear time on the patterns that make backtracking or DFA-caching
 * engines (glibc regexec) take seconds or gigabytes. */
#include <errno.h>
#include <time.h>

#include "test.h"
#include "util/regex.h"

static char err[256];

static int match(const char *pat, const char *s) {
  regex_prog_t *p = NULL;
  if (regex_prog_compile(pat, &p, err, sizeof(err)) < 0) {
    printf("# compile %s: %s\n", pat, err);
    return -100;
  }
  uint64_t budget = UINT64_MAX;
  int r = regex_prog_match(p, s, strlen(s), &budget);
  regex_prog_free(p);
  return r;
}

#define YES(pat, s) ASSERT_EQ_INT(match(pat, s), 1)
#define NO(pat, s) ASSERT_EQ_INT(match(pat, s), 0)

static void test_kubernetes_patterns(void) {
  const char *dns = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
  YES(dns, "example.com");
  YES(dns, "a");
  NO(dns, "Example.com");
  NO(dns, "-a");
  NO(dns, "a.");
  const char *label = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";
  YES(label, "abc-1");
  NO(label, "abc-");
  YES(label, "a12345678901234567890123456789012345678901234567890123456789012");
  NO(label, "a1234567890123456789012345678901234567890123456789012345678901234");
  const char *qty = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
  YES(qty, "100Mi");
  YES(qty, "0.5");
  YES(qty, "1e3");
  NO(qty, "1Xi");
  YES("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$", "2024-01-31T12:00:00Z");
  NO("^\\d{4}-\\d{2}$", "2024-1");
  YES("^[[:alpha:]_][[:alnum:]_]*$", "_x1");
  NO("^[[:alpha:]_][[:alnum:]_]*$", "1x");
  YES("^(?:ab|cd)+$", "abcdab");
  YES("^(?P<x>a)(?<y>b)$", "ab");
  YES("^\\w+\\s\\S+$", "ab c.d");
  NO("^\\W$", "a");
  YES("^[^a]$", "\n"); /* negated classes match newline, as in Go */
  NO("^.$", "\n");
  YES("^.$", "\xc3\xa9"); /* one rune, two bytes */
  NO("^..$", "\xc3\xa9");
  YES("^\\x41\\x{42}$", "AB");
  YES("\\bfoo\\b", "a foo b");
  NO("\\bfoo\\b", "afoob");
  YES("a{2,}?", "caab");
  YES("x{", "x{");  /* not a repeat: literal */
  YES("", "anything");
  YES("b", "abc"); /* unanchored */
  NO("^b", "abc");
  NO("a$", "a\n"); /* $ is end of text */
  YES("^(a*)*$", "aaaa");
  YES("^(a|)+$", "aa");
  YES("^[a\\-z]+$", "a-z");
  YES("^[]a]+$", "]a");
}

static void compile_fails(const char *pat, const char *want) {
  regex_prog_t *p = NULL;
  int r = regex_prog_compile(pat, &p, err, sizeof(err));
  if (r == 0)
    regex_prog_free(p);
  ASSERT_EQ_INT(r, -EINVAL);
  ASSERT_CONTAINS(err, want);
}

static void test_refused(void) {
  compile_fails("(a*)\\1", "backreferences are not supported");
  compile_fails("a{1001}", "invalid repeat count");
  compile_fails("a{2,1}", "invalid repeat count");
  compile_fails("((a{1,100}){1,100}){1,100}", "expression too large");
  compile_fails("(?=a)", "invalid or unsupported Perl syntax");
  compile_fails("(?i)a", "invalid or unsupported Perl syntax");
  compile_fails("a**", "invalid nested repetition operator");
  compile_fails("*a", "missing argument to repetition operator");
  compile_fails("(a", "missing closing )");
  compile_fails("a)", "unexpected )");
  compile_fails("[a", "missing closing ]");
  compile_fails("[z-a]", "invalid character class range");
  compile_fails("\\pL", "Unicode classes are not supported");
  compile_fails("a\\", "trailing backslash");
  compile_fails("\\q", "invalid escape sequence");
  char deep[512];
  size_t n = 0;
  for (int i = 0; i < 250; i++)
    deep[n++] = '(';
  deep[n] = '\0';
  compile_fails(deep, "nests too deeply");
}

#if defined(__SANITIZE_ADDRESS__)
#define SLOW 20.0 /* -O0 with ASan: ~250 ns per step, ~16 ns at -O2 */
#else
#define SLOW 2.0
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* glibc regexec takes seconds and hundreds of MB for the first, minutes for the
 * second (DFA state explosion), and backtracking engines exponential time
 * for the third. Here each is O(len * size). */
static void test_linear_time(void) {
  static const char *pats[] = {"^([a-z]{1,50}){1,50}$", "(a|b)*a(a|b){20}c", "^(a+)+$", "^([a-z]?){1000}$"};
  enum { LEN = 2000 };
  char s[LEN + 2];
  for (int i = 0; i < LEN; i++)
    s[i] = (char)(i % 3 ? 'a' : 'b');
  s[LEN] = '0';
  s[LEN + 1] = '\0';
  for (size_t k = 0; k < sizeof(pats) / sizeof(*pats); k++) {
    regex_prog_t *p = NULL;
    ASSERT_EQ_INT(regex_prog_compile(pats[k], &p, err, sizeof(err)), 0);
    uint64_t budget = UINT64_MAX;
    double t0 = now_s();
    ASSERT_EQ_INT(regex_prog_match(p, s, LEN + 1, &budget), 0);
    double dt = now_s() - t0;
    uint64_t steps = UINT64_MAX - budget;
    printf("# %s: %zu insts, %.4f s, %llu steps\n", pats[k], regex_prog_size(p), dt,
           (unsigned long long)steps);
    ASSERT_TRUE(steps <= 3 * (uint64_t)(LEN + 2) * regex_prog_size(p));
    ASSERT_TRUE(dt < t_time_limit(SLOW));
    regex_prog_free(p);
  }
}

static void test_budget(void) {
  regex_prog_t *p = NULL;
  ASSERT_EQ_INT(regex_prog_compile("^([a-z]{1,50}){1,50}$", &p, err, sizeof(err)), 0);
  char s[4001];
  memset(s, 'a', 4000);
  s[4000] = '\0';
  uint64_t budget = 100000;
  ASSERT_EQ_INT(regex_prog_match(p, s, 4000, &budget), -E2BIG);
  ASSERT_EQ_INT(budget, 0);
  budget = 100000;
  ASSERT_EQ_INT(regex_prog_match(p, "abc", 3, &budget), 1);
  ASSERT_TRUE(budget > 0 && budget < 100000);
  regex_prog_free(p);
}

TEST_LIST = {
    TEST(test_kubernetes_patterns),
    TEST(test_refused),
    TEST(test_linear_time),
    TEST(test_budget),
    {0},
};
TEST_MAIN()
