/* Tests for pkg/controller/cron.c: the five-field syntax (lists, ranges,
 * steps, names, "?"), descriptors and @every, refusals with robfig/cron's
 * wording, the day-of-month/day-of-week rule, and next activations in UTC
 * and in zones with daylight saving time and odd offsets. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "controller/cron.h"
#include "test.h"

/* "2026-03-08T06:59:00Z" in seconds since the epoch. */
static time_t at(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  return timegm(&tm);
}

static const char *fmt(time_t t) {
  static char buf[32];
  if (t < 0)
    return "never";
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

static const char *next_of(const char *spec, const char *after, const char *tz) {
  controller_cron_t c;
  static char err[256];
  if (controller_cron_parse(spec, &c, err, sizeof(err)) < 0)
    return err;
  return fmt(controller_cron_next(&c, at(after), tz));
}

static void test_fields(void) {
  controller_cron_t c;
  char err[256];
  ASSERT_EQ_INT(controller_cron_parse("*/15 9-17 * * mon-fri", &c, err, sizeof(err)), 0);
  ASSERT_EQ_INT(c.minute, (1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45));
  ASSERT_EQ_INT(c.hour, 0x3fe00); /* 9..17 */
  ASSERT_EQ_INT(c.dow, 0x3e);     /* 1..5 */
  ASSERT_TRUE(c.dom_star);
  ASSERT_FALSE(c.dow_star);
  ASSERT_EQ_INT(controller_cron_parse("0,30 0 1,15 JAN,jul ?", &c, err, sizeof(err)), 0);
  ASSERT_EQ_INT(c.month, (1 << 1) | (1 << 7));
  ASSERT_EQ_INT(c.dom, (1 << 1) | (1 << 15));
  ASSERT_TRUE(c.dow_star);
  ASSERT_EQ_INT(controller_cron_parse("5/20 * * * *", &c, err, sizeof(err)), 0); /* 5-59/20 */
  ASSERT_EQ_INT(c.minute, (1ull << 5) | (1ull << 25) | (1ull << 45));
  ASSERT_EQ_INT(controller_cron_parse("@hourly", &c, err, sizeof(err)), 0);
  ASSERT_EQ_INT(c.minute, 1);
  ASSERT_EQ_INT(c.hour, 0xffffff);
  ASSERT_EQ_INT(controller_cron_parse("@every 1h30m", &c, err, sizeof(err)), 0);
  ASSERT_EQ_INT(c.every, 5400);
}

static void test_refused(void) {
  controller_cron_t c;
  char err[256];
  ASSERT_EQ_INT(controller_cron_parse("* * * *", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "expected exactly 5 fields, found 4: [* * * *]");
  ASSERT_EQ_INT(controller_cron_parse("60 * * * *", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "end of range (60) above maximum (59): 60");
  ASSERT_EQ_INT(controller_cron_parse("* * 0 * *", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "beginning of range (0) below minimum (1): 0");
  ASSERT_EQ_INT(controller_cron_parse("5-1 * * * *", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "beginning of range (5) beyond end of range (1): 5-1");
  ASSERT_EQ_INT(controller_cron_parse("*/0 * * * *", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "step of range should be a positive number: */0");
  ASSERT_EQ_INT(controller_cron_parse("* * * foo *", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "failed to parse int from foo");
  ASSERT_EQ_INT(controller_cron_parse("* * * * 7", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(controller_cron_parse("@fortnightly", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "unrecognized descriptor: @fortnightly");
  ASSERT_EQ_INT(controller_cron_parse("@every 5x", &c, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(controller_cron_parse("", &c, err, sizeof(err)), -EINVAL);
}

static void test_next_utc(void) {
  ASSERT_EQ_STR(next_of("* * * * *", "2026-12-02T10:00:00", "UTC"), "2026-12-02T10:01:00Z");
  ASSERT_EQ_STR(next_of("* * * * *", "2026-12-02T10:00:30", "UTC"), "2026-12-02T10:01:00Z");
  ASSERT_EQ_STR(next_of("*/15 * * * *", "2026-12-02T10:15:00", "UTC"), "2026-12-02T10:30:00Z");
  ASSERT_EQ_STR(next_of("30 6-16/4 * * 1-5", "2026-12-04T15:00:00", "UTC"), "2026-12-07T06:30:00Z");
  ASSERT_EQ_STR(next_of("@yearly", "2026-12-02T10:00:00", "UTC"), "2027-01-01T00:00:00Z");
  ASSERT_EQ_STR(next_of("@monthly", "2026-12-02T10:00:00", "UTC"), "2027-01-01T00:00:00Z");
  ASSERT_EQ_STR(next_of("@weekly", "2026-12-02T10:00:00", "UTC"), "2026-12-06T00:00:00Z"); /* Sunday */
  ASSERT_EQ_STR(next_of("@daily", "2026-12-02T10:00:00", "UTC"), "2026-12-03T00:00:00Z");
  ASSERT_EQ_STR(next_of("0 0 29 2 *", "2026-03-01T00:00:00", "UTC"), "2028-02-29T00:00:00Z");
  ASSERT_EQ_STR(next_of("0 0 30 2 *", "2026-03-01T00:00:00", "UTC"), "never");
  /* both day fields restricted: either matches (the 13th, or a Friday) */
  ASSERT_EQ_STR(next_of("0 0 13 * 5", "2026-12-02T00:00:00", "UTC"), "2026-12-04T00:00:00Z");
  ASSERT_EQ_STR(next_of("0 0 13 * 5", "2026-12-11T00:00:00", "UTC"), "2026-12-13T00:00:00Z");
  /* day of month restricted, day of week "*": only the day of month */
  ASSERT_EQ_STR(next_of("0 0 13 * *", "2026-12-02T00:00:00", "UTC"), "2026-12-13T00:00:00Z");
  ASSERT_EQ_STR(next_of("@every 90s", "2026-12-02T10:00:00", "UTC"), "2026-12-02T10:01:30Z");
}

static void test_next_zones(void) {
  if (!controller_cron_zone_known("America/New_York") || !controller_cron_zone_known("Asia/Kolkata"))
    TEST_SKIP("no zoneinfo for America/New_York and Asia/Kolkata");
  /* 9:00 in New York is 14:00Z in winter, 13:00Z in summer */
  ASSERT_EQ_STR(next_of("0 9 * * *", "2026-12-02T10:00:00", "America/New_York"), "2026-12-02T14:00:00Z");
  ASSERT_EQ_STR(next_of("0 9 * * *", "2026-07-02T10:00:00", "America/New_York"), "2026-07-02T13:00:00Z");
  /* the spring-forward day (8 March 2026): 2:30 does not exist; 3:30 is 07:30Z */
  ASSERT_EQ_STR(next_of("30 3 * * *", "2026-03-08T05:00:00", "America/New_York"), "2026-03-08T07:30:00Z");
  /* a half-hour offset: midnight in Kolkata is 18:30Z the day before */
  ASSERT_EQ_STR(next_of("@daily", "2026-12-02T10:00:00", "Asia/Kolkata"), "2026-12-02T18:30:00Z");
  ASSERT_EQ_STR(next_of("* * * * *", "2026-12-02T10:00:00", "No/Such_Zone"), "never");
  ASSERT_FALSE(controller_cron_zone_known("No/Such_Zone"));
  ASSERT_TRUE(controller_cron_zone_known("UTC"));
  /* the process's zone is untouched afterwards */
  ASSERT_TRUE(getenv("TZ") == NULL || strcmp(getenv("TZ"), ":America/New_York"));
}

TEST_LIST = {
    TEST(test_fields), TEST(test_refused), TEST(test_next_utc), TEST(test_next_zones), {0},
};
TEST_MAIN()
