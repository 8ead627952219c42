/* pkg/util/duration.c: Go durations as flags take them (--ttl 24h,
 * "@every 1h30m"), and what Go's ParseDuration refuses. */
#include "test.h"
#include "util/duration.h"

static void test_accepted(void) {
  ASSERT_EQ_INT(duration_parse("0"), 0);
  ASSERT_EQ_INT(duration_parse("0s"), 0);
  ASSERT_EQ_INT(duration_parse("90s"), 90);
  ASSERT_EQ_INT(duration_parse("1m"), 60);
  ASSERT_EQ_INT(duration_parse("24h"), 86400);
  ASSERT_EQ_INT(duration_parse("1h30m"), 5400);
  ASSERT_EQ_INT(duration_parse("1.5h"), 5400);
  ASSERT_EQ_INT(duration_parse("2500ms"), 2);
  ASSERT_EQ_INT(duration_parse("1500000us"), 1);
  ASSERT_EQ_INT(duration_parse("1\xc2\xb5s"), 0);
  ASSERT_EQ_INT(duration_parse("999ns"), 0);
}

static void test_refused(void) {
  ASSERT_EQ_INT(duration_parse(""), -1);
  ASSERT_EQ_INT(duration_parse(NULL), -1);
  ASSERT_EQ_INT(duration_parse("5"), -1);    /* a unit is needed but for 0 */
  ASSERT_EQ_INT(duration_parse("-1h"), -1);  /* not negative */
  ASSERT_EQ_INT(duration_parse("+1h"), -1);
  ASSERT_EQ_INT(duration_parse(" 1h"), -1);
  ASSERT_EQ_INT(duration_parse("1d"), -1);   /* Go has no days */
  ASSERT_EQ_INT(duration_parse("1h "), -1);
  ASSERT_EQ_INT(duration_parse("infh"), -1);
  ASSERT_EQ_INT(duration_parse("0x10s"), -1);
  ASSERT_EQ_INT(duration_parse("99999999999999999999h"), -1);
}

TEST_LIST = {
    TEST(test_accepted),
    TEST(test_refused),
    {0},
};
TEST_MAIN()
