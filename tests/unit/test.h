/* A tiny unit-test library: typed assertions that print both values, one
 * process per test file, TAP output ("ok N - name") that scripts/test.sh
 * counts. A failed assertion ends the current test only.
 *
 *   static void test_thing(void) { ASSERT_EQ_INT(1 + 1, 2); }
 *   TEST_LIST = { TEST(test_thing), {0} };
 *   TEST_MAIN()
 */
#pragma once

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  void (*fn)(void);
} test_case_t;

extern jmp_buf test__jmp;
extern const char *test__skip_reason;

#define TEST(fn) {#fn, fn}
#define TEST_LIST const test_case_t test__cases[]

#define TEST_FAIL(...)                                                         \
  do {                                                                         \
    printf("#   %s:%d: ", __FILE__, __LINE__);                                 \
    printf(__VA_ARGS__);                                                       \
    printf("\n");                                                              \
    longjmp(test__jmp, 1);                                                     \
  } while (0)

/* Skip the current test, saying why. */
#define TEST_SKIP(reason)                                                      \
  do {                                                                         \
    test__skip_reason = (reason);                                              \
    longjmp(test__jmp, 2);                                                     \
  } while (0)

/* Skip under qemu-user (tests/build/test_cross.sh sets K3C_TEST_UNDER_QEMU):
 * for what the emulator does not translate (NETLINK_NETFILTER, neighbour
 * dumps, running a helper binary of the target architecture). The native
 * run of the same test covers it. */
#define TEST_SKIP_UNDER_QEMU(what)                                             \
  do {                                                                         \
    if (getenv("K3C_TEST_UNDER_QEMU"))                                         \
      TEST_SKIP("qemu-user cannot " what "; the native run covers this");      \
  } while (0)

#define ASSERT_TRUE(c)                                                         \
  do {                                                                         \
    if (!(c))                                                                  \
      TEST_FAIL("expected true: %s", #c);                                      \
  } while (0)
#define ASSERT_FALSE(c) ASSERT_TRUE(!(c))

#define ASSERT_EQ_INT(a, b)                                                    \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_)                                                              \
      TEST_FAIL("%s == %s: got %lld, want %lld", #a, #b, a_, b_);              \
  } while (0)

#define ASSERT_NE_INT(a, b)                                                    \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ == b_)                                                              \
      TEST_FAIL("%s != %s: both are %lld", #a, #b, a_);                        \
  } while (0)

#define ASSERT_GE_INT(a, b)                                                    \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ < b_)                                                               \
      TEST_FAIL("%s >= %s: got %lld < %lld", #a, #b, a_, b_);                  \
  } while (0)

#define ASSERT_EQ_STR(a, b)                                                    \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
      TEST_FAIL("%s == %s: got \"%s\", want \"%s\"", #a, #b,                   \
                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                       \
  } while (0)

#define ASSERT_CONTAINS(hay, needle)                                           \
  do {                                                                         \
    const char *h_ = (hay), *n_ = (needle);                                    \
    if (!h_ || !strstr(h_, n_))                                                \
      TEST_FAIL("%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)"); \
  } while (0)

#define ASSERT_NULL(p)                                                         \
  do {                                                                         \
    if ((p) != NULL)                                                           \
      TEST_FAIL("expected NULL: %s", #p);                                      \
  } while (0)
#define ASSERT_NOT_NULL(p)                                                     \
  do {                                                                         \
    if ((p) == NULL)                                                           \
      TEST_FAIL("expected non-NULL: %s", #p);                                  \
  } while (0)

extern const test_case_t test__cases[];

/* A time limit in seconds for a complexity check, scaled by the environment's
 * K3C_TEST_TIME_SCALE (tests/build/test_cross.sh sets it under qemu-user,
 * which runs code several times slower). The limits separate linear from
 * quadratic code, which differ by orders of magnitude, so scaling keeps them
 * meaningful. */
static inline double t_time_limit(double seconds) {
  const char *s = getenv("K3C_TEST_TIME_SCALE");
  double f = s ? strtod(s, NULL) : 1.0;
  return f > 1.0 ? seconds * f : seconds;
}

#define TEST_MAIN()                                                            \
  jmp_buf test__jmp;                                                           \
  const char *test__skip_reason;                                               \
  int main(int argc, char **argv) {                                            \
    volatile int n = 0, failed = 0;                                            \
    while (test__cases[n].name)                                                \
      n++;                                                                     \
    printf("1..%d\n", n);                                                      \
    for (volatile int i = 0; i < n; i++) {                                     \
      if (argc > 1 && !strstr(test__cases[i].name, argv[1]))                   \
        continue;                                                              \
      fflush(stdout);                                                          \
      int rc = setjmp(test__jmp);                                              \
      if (rc == 0) {                                                           \
        test__cases[i].fn();                                                   \
        printf("ok %d - %s\n", i + 1, test__cases[i].name);                    \
      } else if (rc == 2) {                                                    \
        printf("ok %d - %s # SKIP %s\n", i + 1, test__cases[i].name,           \
               test__skip_reason);                                             \
      } else {                                                                 \
        printf("not ok %d - %s\n", i + 1, test__cases[i].name);                \
        failed++;                                                              \
      }                                                                        \
    }                                                                          \
    return failed ? 1 : 0;                                                     \
  }
