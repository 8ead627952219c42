/* Tests for pkg/api/param.c: numeric query parameters parsed with Go
 * strconv's grammar and upstream's error wording (issue #19: "abc", "1e30",
 * "-1" and 2^63-1 were taken silently or overflowed). */
#include <errno.h>

#include "api/param.h"
#include "test.h"

static void test_int64_valid(void) {
  char err[256] = "";
  int64_t v = 7;
  ASSERT_EQ_INT(api_param_int64("500", &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(v, 500);
  ASSERT_EQ_INT(api_param_int64("-3", &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(v, -3);
  ASSERT_EQ_INT(api_param_int64("+0042", &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(v, 42);
  ASSERT_EQ_INT(api_param_int64("9223372036854775807", &v, err, sizeof(err)), 0);
  ASSERT_TRUE(v == INT64_MAX);
  ASSERT_EQ_INT(api_param_int64("-9223372036854775808", &v, err, sizeof(err)), 0);
  ASSERT_TRUE(v == INT64_MIN);
}

static void test_int64_invalid(void) {
  char err[256];
  int64_t v = 7;
  ASSERT_EQ_INT(api_param_int64("abc", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "strconv.ParseInt: parsing \"abc\": invalid syntax");
  ASSERT_EQ_INT(api_param_int64("1e30", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "strconv.ParseInt: parsing \"1e30\": invalid syntax");
  ASSERT_EQ_INT(api_param_int64("", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "strconv.ParseInt: parsing \"\": invalid syntax");
  ASSERT_EQ_INT(api_param_int64("-", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(api_param_int64(" 5", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(api_param_int64("5 ", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(api_param_int64("0x10", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(api_param_int64("9223372036854775808", &v, err, sizeof(err)), -ERANGE);
  ASSERT_EQ_STR(err, "strconv.ParseInt: parsing \"9223372036854775808\": value out of range");
  ASSERT_EQ_INT(api_param_int64("-9223372036854775809", &v, err, sizeof(err)), -ERANGE);
  ASSERT_EQ_INT(api_param_int64("99999999999999999999999", &v, err, sizeof(err)), -ERANGE);
  ASSERT_EQ_INT(v, 7); /* never written on failure */
}

static void test_rv(void) {
  char err[512];
  int64_t v = 7;
  ASSERT_EQ_INT(api_param_rv(NULL, &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(v, 0);
  ASSERT_EQ_INT(api_param_rv("", &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(api_param_rv("0", &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(api_param_rv("123", &v, err, sizeof(err)), 0);
  ASSERT_EQ_INT(v, 123);
  /* Valid for upstream (uint64); no revision reaches it. */
  ASSERT_EQ_INT(api_param_rv("9223372036854775807", &v, err, sizeof(err)), 0);
  ASSERT_TRUE(v == INT64_MAX);
  ASSERT_EQ_INT(api_param_rv("18446744073709551615", &v, err, sizeof(err)), 0);
  ASSERT_TRUE(v == INT64_MAX);
  ASSERT_EQ_INT(api_param_rv("abc", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing "
                     "\"abc\": invalid syntax");
  ASSERT_EQ_INT(api_param_rv("-1", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "resourceVersion: Invalid value: \"-1\": strconv.ParseUint: parsing "
                     "\"-1\": invalid syntax");
  ASSERT_EQ_INT(api_param_rv("1e30", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(api_param_rv("+5", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(api_param_rv("18446744073709551616", &v, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "resourceVersion: Invalid value: \"18446744073709551616\": "
                     "strconv.ParseUint: parsing \"18446744073709551616\": value out of range");
  ASSERT_TRUE(v == INT64_MAX);
}

static void test_quote(void) {
  char q[64];
  api_param_quote("a\"b\\c\n\x01\x7f", q, sizeof(q));
  ASSERT_EQ_STR(q, "\"a\\\"b\\\\c\\n\\x01\\x7f\"");
  api_param_quote("h\xc3\xa9", q, sizeof(q)); /* valid UTF-8 stays */
  ASSERT_EQ_STR(q, "\"h\xc3\xa9\"");
  api_param_quote("\xff", q, sizeof(q));
  ASSERT_EQ_STR(q, "\"\\xff\"");
  char small[6];
  api_param_quote("abcdefgh", small, sizeof(small)); /* cut, still terminated */
  ASSERT_EQ_INT(strlen(small) < sizeof(small), 1);
}

TEST_LIST = {
    TEST(test_int64_valid),
    TEST(test_int64_invalid),
    TEST(test_rv),
    TEST(test_quote),
    {0},
};
TEST_MAIN()
