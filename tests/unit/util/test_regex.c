/* Tests for pkg/util/regex.c: RE2 syntax as Kubernetes patterns use it,
 * Go's matching semantics (unanchored, ^/$ at text ends, runes), find spans
 * and FindAllString's empty-match rules checked against Go's own answers
 * (src/regexp/find_test.go), flags and case folding, the refusals RE2 makes
 * with Go's exact messages, and linear time on the patterns that make
 * backtracking or DFA-caching engines (glibc regexec) take seconds or
 * gigabytes. */
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
  compile_fails("(a*)\\1", "invalid escape sequence: `\\1`");
  compile_fails("a{1001}", "invalid repeat count");
  compile_fails("a{2,1}", "invalid repeat count");
  compile_fails("((a{1,100}){1,100}){1,100}", "invalid repeat count: `{1,100}`");
  compile_fails("(abcdefghijk){1000}", "expression too large");
  compile_fails("(?=a)", "invalid or unsupported Perl syntax");
  compile_fails("a**", "invalid nested repetition operator");
  compile_fails("*a", "missing argument to repetition operator");
  compile_fails("(a", "missing closing )");
  compile_fails("a)", "unexpected )");
  compile_fails("[a", "missing closing ]");
  compile_fails("[z-a]", "invalid character class range");
  compile_fails("\\pL", "does not support Unicode classes");
  compile_fails("a\\", "trailing backslash");
  compile_fails("\\q", "invalid escape sequence");
  char deep[512];
  size_t n = 0;
  for (int i = 0; i < 250; i++)
    deep[n++] = '(';
  deep[n] = '\0';
  compile_fails(deep, "nests too deeply");
}

/* All matches of pat in text[0..len) (max < 0: all, as Go's n), as
 * "[b,e][b,e]..." so a failure shows the whole answer. */
static const char *find_all(const char *pat, const char *text, size_t len, int max) {
  static char out[512];
  regex_prog_t *p = NULL;
  if (regex_prog_compile(pat, &p, err, sizeof(err)) < 0) {
    snprintf(out, sizeof(out), "compile: %s", err);
    return out;
  }
  size_t n = 0, b, e;
  out[0] = '\0';
  uint64_t budget = UINT64_MAX;
  regex_iter_t it = {0};
  int r = 0;
  for (int k = 0; (max < 0 || k < max) && (r = regex_prog_find_next(p, text, len, &it, &b, &e, &budget)) == 1; k++)
    n += (size_t)snprintf(out + n, sizeof(out) - n, "[%zu,%zu]", b, e);
  if (r < 0)
    snprintf(out + n, sizeof(out) - n, "error %d", r);
  regex_prog_free(p);
  return out;
}

#define ALL(pat, text, want) ASSERT_EQ_STR(find_all(pat, text, strlen(text), -1), want)
#define ALLN(pat, text, max, want) ASSERT_EQ_STR(find_all(pat, text, strlen(text), max), want)

/* Go's src/regexp/find_test.go findTests: the whole-match spans of
 * FindAllStringIndex(text, max) for each. */
static void test_find_go_table(void) {
  ALL("", "", "[0,0]");
  ALL("^abcdefg", "abcdefg", "[0,7]");
  ALL("a+", "baaab", "[1,4]");
  ALL("a", "bababaab", "[1,2][3,4][5,6][6,7]");
  ALLN("a", "bababaab", 0, "");
  ALLN("a", "bababaab", 2, "[1,2][3,4]");
  ALLN("a", "bababaab", 5, "[1,2][3,4][5,6][6,7]");
  ALL("abcd..", "abcdef", "[0,6]");
  ALL("x", "y", "");
  ALL(".*", "abcdef", "[0,6]");
  ALL("^", "abcde", "[0,0]");
  ALL("$", "abcde", "[5,5]");
  ALL("^abcd$", "abcde", "");
  ALL("a*", "baaab", "[0,0][1,4][5,5]");
  ALL("[^a-z]+", "ab1234cd", "[2,6]");
  ALL("[a\\-\\]z]+", "az]-bcz", "[0,4][6,7]");
  ALL("[^\\n]+", "abcd\n", "[0,4]");
  ALL("[日本語]+", "日本語日本語", "[0,18]");
  ALL("日本語+", "日本語語語語", "[0,18]");
  ALL("(.)(.)", "日a", "[0,4]");
  ALL("((a|b|c)*(d))", "abcd", "[0,4]");
  ALL("a*(|(b))c*", "aacc", "[0,4]");
  ALL("(.*).*", "ab", "[0,2]");
  ALL("/$", "/abc/", "[4,5]");
  ALL("/$", "/abc", "");
  ALL(".", "abc", "[0,1][1,2][2,3]");
  ALL(".(.)", "abcd", "[0,2][2,4]");
  ALL("ab*", "abbaab", "[0,3][3,4][4,6]");
  ALL("ab$", "cab", "[1,3]");
  ALL("axxb$", "axxcb", "");
  ALL("data", "daXY data", "[5,9]");
  ALL("zx+", "zzx", "[1,3]");
  ALL("ab$", "abcab", "[3,5]");
  ALL("(aa)*$", "a", "[1,1]");
  ALL("(?:.|(?:.a))", "", "");
  ALL("(?:A(?:A|a))", "Aa", "[0,2]");
  ALL("(?:A|(?:A|a))", "a", "[0,1]");
  ALL("(a){0}", "", "[0,0]");
  ALL("(?-s)(?:(?:^).)", "\n", "");
  ALL("(?s)(?:(?:^).)", "\n", "[0,1]");
  ALL("(?:(?:^).)", "\n", "");
  ALL("\\b", "x", "[0,0][1,1]");
  ALL("\\b", "xx", "[0,0][2,2]");
  ALL("\\b", "x y", "[0,0][1,1][2,2][3,3]");
  ALL("\\b", "xx yy", "[0,0][2,2][3,3][5,5]");
  ALL("\\B", "x", "");
  ALL("\\B", "xx", "[1,1]");
  ALL("\\B", "x y", "");
  ALL("\\B", "xx yy", "[1,1][4,4]");
  ALL("(|a)*", "aa", "[0,0][1,1][2,2]");
  ALL("0A|0[aA]", "0a", "[0,2]");
  ALL("0[aA]|0A", "0a", "[0,2]");
  ALL("[a-c]*", "\xe6\x97\xa5", "[0,0][3,3]");
  ALL("[^\xe6\x97\xa5]", "abc\xe6\x97\xa5" "def", "[0,1][1,2][2,3][6,7][7,8][8,9]");
  ALL("[^\\S\\s]", "abcd", "");
  ALL("[^\\S[:space:]]", "abcd", "");
  ALL("[^\\D\\d]", "abcd", "");
  ALL("[^\\D[:digit:]]", "abcd", "");
  ALL("(?i)\\W", "x", "");
  ALL("(?i)\\W", "k", "");
  ALL("(?i)\\W", "s", "");
  ALL("\\!\\\"\\#\\$\\%\\&\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\{\\|\\}\\~",
      "!\"#$%&'()*+,-./:;<=>?@[\\]^_{|}~", "[0,31]");
  ALL("\xef\xbf\xbd", "\xff", "[0,1]");
  ALL("\xef\xbf\xbd", "hello\xffworld", "[5,6]");
  ALL(".*", "hello\xffworld", "[0,11]");
  ASSERT_EQ_STR(find_all("\\x{fffd}", "\xc2\x00", 2, -1), "[0,1]");
  ASSERT_EQ_STR(find_all("[\\x{fffd}]", "\xc2\x00", 2, -1), "[0,1]");
  ALL(".", "qwertyuiop", "[0,1][1,2][2,3][3,4][4,5][5,6][6,7][7,8][8,9][9,10]");
  ALL("a.b", "aab acb", "[0,3][4,7]");
}

/* Priorities: alternatives left to right, greedy longest, lazy shortest. */
static void test_find_priority(void) {
  ALL("a|ab", "ab", "[0,1]");
  ALL("ab|a", "ab", "[0,2]");
  ALL("<.+>", "<a><b>", "[0,6]");
  ALL("<.+?>", "<a><b>", "[0,3][3,6]");
  ALL("a+?", "aaa", "[0,1][1,2][2,3]");
  ALL("a*?", "baaab", "[0,0][1,1][2,2][3,3][4,4][5,5]");
  ALL("a??b", "ab", "[0,2]");
  ALL("a{2,3}", "aaaa", "[0,3]");
  ALL("a{2,3}?", "aaaa", "[0,2][2,4]");
  ALL("a{2,}?", "aaaaa", "[0,2][2,4]");
  ALL("(a|ab)(c|bcd)(d*)", "abcd", "[0,4]");
  ALL("(?U)a+", "aaa", "[0,1][1,2][2,3]");
  ALL("(?U)a+?", "aaa", "[0,3]");
  ALL("(?U:a*)a", "aaa", "[0,1][1,2][2,3]");
  ALL("x*", "", "[0,0]");
  ALL("\\d+", "a12b345", "[1,3][4,7]");
  ALL("(a*)+", "b", "[0,0][1,1]");
}

static int find_at(const char *pat, const char *s, size_t start, size_t *b, size_t *e) {
  regex_prog_t *p = NULL;
  if (regex_prog_compile(pat, &p, err, sizeof(err)) < 0)
    return -100;
  uint64_t budget = UINT64_MAX;
  int r = regex_prog_find(p, s, strlen(s), start, b, e, &budget);
  regex_prog_free(p);
  return r;
}

/* Assertions see the whole text, not the text from start. */
static void test_find_start(void) {
  size_t b = 99, e = 99;
  ASSERT_EQ_INT(find_at("^a", "aa", 1, &b, &e), 0);
  ASSERT_EQ_INT(find_at("\\Aa", "aa", 1, &b, &e), 0);
  ASSERT_EQ_INT(find_at("(?m)^a", "b\na", 1, &b, &e), 1);
  ASSERT_EQ_INT(b, 2);
  ASSERT_EQ_INT(e, 3);
  ASSERT_EQ_INT(find_at("\\bb", "ab", 1, &b, &e), 0);
  ASSERT_EQ_INT(find_at("\\Bb", "ab", 1, &b, &e), 1);
  ASSERT_EQ_INT(b, 1);
  ASSERT_EQ_INT(find_at("\\b\xc3\xa9", "a\xc3\xa9", 1, &b, &e), 1); /* é is no ASCII word rune */
  ASSERT_EQ_INT(find_at("$", "abc", 3, &b, &e), 1);
  ASSERT_EQ_INT(b, 3);
  ASSERT_EQ_INT(e, 3);
  ASSERT_EQ_INT(find_at("a", "abc", 4, &b, &e), 0);
  ASSERT_EQ_INT(find_at("b+", "abbb", 2, &b, &e), 1);
  ASSERT_EQ_INT(b, 2);
  ASSERT_EQ_INT(e, 4);
}

static void test_flags(void) {
  ALL("(?m)^a", "a\na", "[0,1][2,3]");
  ALL("^a", "a\na", "[0,1]");
  ALL("(?m)a$", "a\na", "[0,1][2,3]");
  ALL("a$", "a\na", "[2,3]");
  ALL("(?m)^$", "a\n\nb", "[2,2]");
  ALL("(?m)\\Aa", "a\na", "[0,1]");
  ALL("(?m)a\\z", "a\na", "[2,3]");
  ALL("a.b", "a\nb", "");
  ALL("(?s)a.b", "a\nb", "[0,3]");
  ALL("(?s:.)(.)", "\n\n\nx", "[2,4]");
  ALL("(?i)hello", "HeLLo", "[0,5]");
  ALL("(?i:a)b", "Ab AB", "[0,2]");
  ALL("a(?i)b|c", "aB C", "[0,2][3,4]"); /* a flag lasts to the group's end, across | */
  ALL("(a(?i)b)c", "aBc aBC", "[0,3]");
  ALL("(?i)a(?-i)b", "AB Ab", "[3,5]");
  ALL("(?is)A.", "a\n", "[0,2]");
  ALL("(?i-s)A.", "a\n", "");
  ALL("(?)a", "a", "[0,1]");
  ALL("(?i)[a-c]+", "xAbCd", "[1,4]");
  ALL("(?i)[^a]", "aAb", "[2,3]");
  ALL("(?i)[[:upper:]]+", "aB", "[0,2]");
  ALL("(?i)[[:^lower:]]", "aB1", "[2,3]");
  ALL("\\Qa.b\\E+", "a.bbb a.", "[0,5]");
  ALL("\\Q*\\E", "a*", "[1,2]");
  ALL("\\Qab", "xab", "[1,3]");
  ALL("\\101\\x42\\x{43}", "ABC", "[0,3]");
  ALL("[\\101-\\103]+", "ABCD", "[0,3]");
  ALL("a{01}", "a{01}", "[0,5]");
  ALL("a{,2}", "a{,2}", "[0,5]");
}

/* Simple case folding beyond ASCII, as unicode.SimpleFold's orbits. */
static void test_fold(void) {
  ALL("(?i)k", "\xe2\x84\xaa", "[0,3]");       /* KELVIN SIGN */
  ALL("(?i)[k]", "\xe2\x84\xaa", "[0,3]");
  ALL("(?i)[^k]", "\xe2\x84\xaa", "");
  ALL("(?i)\xe2\x84\xaa", "kK", "[0,1][1,2]");
  ALL("(?i)s", "\xc5\xbf", "[0,2]");           /* LATIN SMALL LETTER LONG S */
  ALL("(?i)\xc3\xa9", "\xc3\x89", "[0,2]");    /* é É */
  ALL("(?i)\xc3\x9f", "\xe1\xba\x9e", "[0,3]"); /* ß ẞ */
  ALL("(?i)\xc3\xbf", "\xc5\xb8", "[0,2]");    /* ÿ Ÿ */
  ALL("(?i)\xc5\x81", "\xc5\x82", "[0,2]");    /* Ł ł (Latin Extended-A, odd pairs) */
  ALL("(?i)\xc4\x80", "\xc4\x81", "[0,2]");    /* Ā ā */
  ALL("(?i)\xcf\x83", "\xce\xa3\xcf\x82", "[0,2][2,4]"); /* σ: Σ ς */
  ALL("(?i)\xc2\xb5", "\xce\xbc\xce\x9c", "[0,2][2,4]"); /* µ: μ Μ */
  ALL("(?i)\xd0\xb4", "\xd0\x94", "[0,2]");    /* д Д */
  ALL("(?i)\xd1\x91", "\xd0\x81", "[0,2]");    /* ё Ё */
  ALL("(?i)\xd5\xa1", "\xd4\xb1", "[0,2]");    /* Armenian ա Ա */
  ALL("(?i)\xef\xbd\x81", "\xef\xbc\xa1", "[0,3]"); /* fullwidth ａ Ａ */
  ALL("(?i)[\xc3\xa0-\xc3\xb6]", "\xc3\x96", "[0,2]"); /* [à-ö] matches Ö */
  ALL("(?i)[a-z]+", "\xc3\x80" "B", "[2,3]");  /* À is not in [a-z] folded */
  ALL("(?i)i", "\xc4\xb0\xc4\xb1", "");        /* İ and ı fold to nothing (simple folds) */
  ALL("\xc3\xa9", "\xc3\x89", "");             /* no flag, no folding */
}

static void full_error(const char *pat, const char *want) {
  regex_prog_t *p = NULL;
  int r = regex_prog_compile(pat, &p, err, sizeof(err));
  if (r == 0)
    regex_prog_free(p);
  ASSERT_EQ_INT(r, -EINVAL);
  ASSERT_EQ_STR(err, want);
}

/* Go's regexp/syntax messages, with the text Go quotes. */
static void test_go_errors(void) {
  full_error("(abc", "error parsing regexp: missing closing ): `(abc`");
  full_error("a(b(c)", "error parsing regexp: missing closing ): `a(b(c)`");
  full_error("abc)", "error parsing regexp: unexpected ): `abc)`");
  full_error("x[a-z", "error parsing regexp: missing closing ]: `[a-z`");
  full_error("[a", "error parsing regexp: missing closing ]: `[a`");
  full_error("a[z-a]b", "error parsing regexp: invalid character class range: `z-a`");
  full_error("abc\\", "error parsing regexp: trailing backslash at end of expression: ``");
  full_error("a**", "error parsing regexp: invalid nested repetition operator: `**`");
  full_error("a*+?", "error parsing regexp: invalid nested repetition operator: `*+?`");
  full_error("x{2}{3}", "error parsing regexp: invalid nested repetition operator: `{2}{3}`");
  full_error("*", "error parsing regexp: missing argument to repetition operator: `*`");
  full_error("a|+?", "error parsing regexp: missing argument to repetition operator: `+?`");
  full_error("(?i)*", "error parsing regexp: missing argument to repetition operator: `*`");
  full_error("{2}", "error parsing regexp: missing argument to repetition operator: `{2}`");
  full_error("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`");
  full_error("a{2,1}", "error parsing regexp: invalid repeat count: `{2,1}`");
  full_error("a{1,99999999999}", "error parsing regexp: invalid repeat count: `{1,99999999999}`");
  full_error("(a{500}){3}", "error parsing regexp: invalid repeat count: `{3}`");
  full_error("\\8", "error parsing regexp: invalid escape sequence: `\\8`");
  full_error("(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`");
  full_error("\\q", "error parsing regexp: invalid escape sequence: `\\q`");
  full_error("\\x", "error parsing regexp: invalid escape sequence: `\\x`");
  full_error("\\xZ1", "error parsing regexp: invalid escape sequence: `\\xZ1`");
  full_error("\\x{110000}", "error parsing regexp: invalid escape sequence: `\\x{110000`");
  full_error("\\x{}", "error parsing regexp: invalid escape sequence: `\\x{}`");
  full_error("\\C", "error parsing regexp: invalid escape sequence: `\\C`");
  full_error("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`");
  full_error("(?!a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`");
  full_error("(?i", "error parsing regexp: invalid or unsupported Perl syntax: `(?i`");
  full_error("(?i-)", "error parsing regexp: invalid or unsupported Perl syntax: `(?i-)`");
  full_error("(?--i)", "error parsing regexp: invalid or unsupported Perl syntax: `(?--`");
  full_error("(?x)a", "error parsing regexp: invalid or unsupported Perl syntax: `(?x`");
  full_error("(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`");
  full_error("(?P<>a)", "error parsing regexp: invalid named capture: `(?P<>`");
  full_error("(?P<x y>a)", "error parsing regexp: invalid named capture: `(?P<x y>`");
  full_error("[[:foo:]]", "error parsing regexp: invalid character class range: `[:foo:]`");
  full_error("a\xff", "error parsing regexp: invalid UTF-8: `\xff`");
  full_error("(abcdefghijk){1000}", "error parsing regexp: expression too large: `(abcdefghijk){1000}`");
  full_error("\\pL", "error parsing regexp: invalid character class range: `\\pL` (k3c does not support Unicode classes)");
  full_error("[\\p{Greek}]", "error parsing regexp: invalid character class range: `\\p{Greek}` (k3c does not support Unicode classes)");
}

static void test_find_budget(void) {
  regex_prog_t *p = NULL;
  ASSERT_EQ_INT(regex_prog_compile("([a-z]{1,20}){1,50}!", &p, err, sizeof(err)), 0);
  char s[4001];
  memset(s, 'a', 4000);
  s[4000] = '\0';
  uint64_t budget = 100000;
  size_t b = 7, e = 7;
  ASSERT_EQ_INT(regex_prog_find(p, s, 4000, 0, &b, &e, &budget), -E2BIG);
  ASSERT_EQ_INT(budget, 0);
  ASSERT_EQ_INT(b, 7); /* untouched */
  budget = 100000;
  regex_iter_t it = {0};
  ASSERT_EQ_INT(regex_prog_find_next(p, s, 4000, &it, &b, &e, &budget), -E2BIG);
  ASSERT_EQ_INT(regex_prog_find_next(p, s, 4000, &it, &b, &e, &budget), 0); /* and then done */
  budget = 100000;
  ASSERT_EQ_INT(regex_prog_find(p, "-ab!", 4, 0, &b, &e, &budget), 1);
  ASSERT_EQ_INT(b, 1);
  ASSERT_EQ_INT(e, 4);
  ASSERT_TRUE(budget > 0 && budget < 100000);
  regex_prog_free(p);
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
  static const char *pats[] = {"^([a-z]{1,20}){1,50}$", "(a|b)*a(a|b){20}c", "^(a+)+$", "^([a-z]?){1000}$"};
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
    /* the leftmost-first search for find() has the same bound */
    budget = UINT64_MAX;
    size_t b, e;
    ASSERT_EQ_INT(regex_prog_find(p, s, LEN + 1, 0, &b, &e, &budget), 0);
    ASSERT_TRUE(UINT64_MAX - budget <= 3 * (uint64_t)(LEN + 2) * regex_prog_size(p));
    regex_prog_free(p);
  }
}

/* findAll of a pattern whose threads die quickly: linear in the text. */
static void test_find_all_linear(void) {
  enum { LEN = 21000 };
  static char s[LEN + 1];
  for (int i = 0; i < LEN; i++)
    s[i] = "ab "[i % 3];
  regex_prog_t *p = NULL;
  ASSERT_EQ_INT(regex_prog_compile("\\b\\w+\\b", &p, err, sizeof(err)), 0);
  uint64_t budget = UINT64_MAX;
  regex_iter_t it = {0};
  size_t b, e, n = 0;
  while (regex_prog_find_next(p, s, LEN, &it, &b, &e, &budget) == 1) {
    ASSERT_EQ_INT(e - b, 2);
    n++;
  }
  ASSERT_EQ_INT(n, LEN / 3); /* "ab ab ab ..." */
  printf("# findAll \\b\\w+\\b over %d bytes: %llu steps\n", LEN, (unsigned long long)(UINT64_MAX - budget));
  ASSERT_TRUE(UINT64_MAX - budget <= 3 * (uint64_t)(LEN + 2) * regex_prog_size(p) * 2);
  regex_prog_free(p);
}

static void test_budget(void) {
  regex_prog_t *p = NULL;
  ASSERT_EQ_INT(regex_prog_compile("^([a-z]{1,20}){1,50}$", &p, err, sizeof(err)), 0);
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
    TEST(test_find_go_table),
    TEST(test_find_priority),
    TEST(test_find_start),
    TEST(test_flags),
    TEST(test_fold),
    TEST(test_go_errors),
    TEST(test_find_budget),
    TEST(test_find_all_linear),
    {0},
};
TEST_MAIN()
