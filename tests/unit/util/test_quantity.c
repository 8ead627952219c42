/* Tests for pkg/util/quantity.c against upstream's known canonical forms
 * (the tables of k8s.io/apimachinery/pkg/api/resource/quantity_test.go:
 * TestQuantityString, TestQuantityParseEmit, TestParseQuantity,
 * TestQuantityParse's invalid list) and the issue #17 cases. */
#include <errno.h>
#include <string.h>

#include "util/quantity.h"
#include "test.h"

static const char *canon(const char *in) {
  static char buf[QUANTITY_STR_MAX];
  quantity_t q;
  const char *err = NULL;
  if (quantity_parse(in, strlen(in), &q, &err) < 0)
    return err;
  if (quantity_format(&q, buf, sizeof(buf)) < 0)
    return "(ENOSPC)";
  return buf;
}

static const struct {
  const char *in, *out;
} canonical[] = {
    /* TestQuantityString: expect strings keep their text, alternates become them */
    {"1Gi", "1Gi"}, {"1024Mi", "1Gi"}, {"300Mi", "300Mi"}, {"307200Ki", "300Mi"},
    {"6Ki", "6Ki"}, {"1001Gi", "1001Gi"}, {"1025024Mi", "1001Gi"}, {"1Ti", "1Ti"},
    {"1024Gi", "1Ti"}, {"5", "5"}, {"5000m", "5"}, {"500m", "500m"}, {"0.5", "500m"},
    {"1G", "1G"}, {"1000M", "1G"}, {"0.001T", "1G"}, {"1m", "1m"}, {"1000u", "1m"},
    {"80m", "80m"}, {"1080m", "1080m"}, {"1.08", "1080m"}, {"1080000000n", "1080m"},
    {"300M", "300M"}, {"1T", "1T"}, {"1234567M", "1234567M"}, {"1234567m", "1234567m"},
    {"3k", "3k"}, {"1025", "1025"}, {"0", "0"}, {"00", "0"}, {"1e9", "1e9"},
    {".001e12", "1e9"}, {"1e-3", "1e-3"}, {"0.001e0", "1e-3"}, {"1e-9", "1e-9"},
    {"1000e-12", "1e-9"}, {"80e-3", "80e-3"}, {"300e6", "300e6"}, {"1e12", "1e12"},
    {"1e3", "1e3"}, {"3e3", "3e3"}, {"1n", "1n"}, {"80n", "80n"}, {"1080n", "1080n"},
    {"1u", "1u"}, {"80u", "80u"}, {"1080u", "1080u"},
    /* TestQuantityParseEmit */
    {"1Ki", "1Ki"}, {"1Mi", "1Mi"}, {"1000M", "1G"}, {".001Ki", "1024m"},
    {".000001Ki", "1024u"}, {".000000001Ki", "1024n"}, {".000000000001Ki", "2n"},
    {"-1024Mi", "-1Gi"}, {"-.001Ki", "-1024m"}, {"-.000000000001Ki", "-2n"},
    /* TestParseQuantity (big values) */
    {"999999999999999999", "999999999999999999"},
    {"-999999999999999999.0", "-999999999999999999"},
    {"999999999999999999.1", "999999999999999999100m"},
    {"9999999999999999999", "9999999999999999999"}, {"1E", "1E"}, {"-1E", "-1E"},
    {"1000000000000000000", "1E"}, {"-1000000000000000000.0", "-1E"}, {"1.0E", "1E"},
    {"9999999999999999999000m", "9999999999999999999"},
    {"-1.0000000000000000001E", "-1000000000000000000100m"},
    {"1.000000000000000001E", "1000000000000000001"}, {"10E", "10E"},
    {"10000000000000000000", "10E"}, {"10000000000000000000000m", "10E"},
    {"10.0000000000000000001E", "10000000000000000000100m"},
    {"-9223372036854775809", "-9223372036854775809"},
    {"9223372036854775808.1", "9223372036854775808100m"},
    /* rounding up to 1n, binary cap, format changes (TestQuantityParse) */
    {"3.001n", "4n"}, {"1.1E-9", "2e-9"}, {"0.0000000001", "1n"}, {"0.5e-9", "1e-9"},
    {"0.00000012345", "124n"}, {"9Ei", "9223372036854775807"},
    {"9223372036854775807Ki", "9223372036854775807"}, {"12E", "12E"},
    {"100.035Ki", "102435840m"}, {"0.5Mi", "512Ki"}, {"0.000000000001Ki", "2n"},
    {".0001k", "100m"}, {"1.", "1."}, {"1.G", "1.G"}, {"50k", "50k"}, {"8.1k", "8100"},
    {"1.3E+6", "1300e3"}, {"0.5e0", "500e-3"}, {"100.035k", "100.035k"} /* kept: its scale is a multiple of 3 */,
    /* issue #17 and wire cases */
    {"1000m", "1"}, {"1024Ki", "1Mi"}, {"8Ki", "8Ki"}, {"1025Ki", "1025Ki"},
    {"1536Mi", "1536Mi"}, {"1.5Gi", "1536Mi"}, {" 1", "1"}, {"1 ", "1"}, {"+1", "+1"},
    {"01", "01"}, {"-0", "0"}, {"+", "0"}, {".", "0"}, {"0Ki", "0"}, {"0.0", "0"},
    {"1000", "1k"}, {"1e100", "10e99"}, {"1000E", "1e21"},
};

static void test_canonical_forms(void) {
  for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
    const char *got = canon(canonical[i].in);
    if (strcmp(got, canonical[i].out) != 0)
      TEST_FAIL("%s: got \"%s\", want \"%s\"", canonical[i].in, got, canonical[i].out);
  }
}

/* Every canonical form reads back as itself. */
static void test_canonical_is_fixed_point(void) {
  for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
    char first[QUANTITY_STR_MAX];
    snprintf(first, sizeof(first), "%s", canon(canonical[i].in));
    ASSERT_EQ_STR(canon(first), first);
  }
}

static void test_errors(void) {
  static const struct {
    const char *in, *err;
  } bad[] = {
      {"", QUANTITY_ERR_FORMAT},      {"1x", QUANTITY_ERR_FORMAT},
      {"1.2.3", QUANTITY_ERR_FORMAT}, {"--1", QUANTITY_ERR_SUFFIX},
      {"1Ki2", QUANTITY_ERR_SUFFIX},  {"1e", QUANTITY_ERR_SUFFIX},
      {"32MMi", QUANTITY_ERR_SUFFIX}, {"1.1.M", QUANTITY_ERR_FORMAT},
      {"1+1.0M", QUANTITY_ERR_FORMAT}, {"0.1mi", QUANTITY_ERR_SUFFIX},
      {"0.1am", QUANTITY_ERR_FORMAT}, {"aoeu", QUANTITY_ERR_FORMAT},
      {".5i", QUANTITY_ERR_SUFFIX},   {"1i", QUANTITY_ERR_SUFFIX},
      {"-3.01i", QUANTITY_ERR_SUFFIX}, {"-3.01e-", QUANTITY_ERR_SUFFIX},
      {"   ", QUANTITY_ERR_FORMAT},   {"1 2", QUANTITY_ERR_FORMAT},
      {"1e99999999999", QUANTITY_ERR_SUFFIX}, {"1e2147483648", QUANTITY_ERR_SUFFIX},
      {".e-10", QUANTITY_ERR_NUMERIC}, {"25%", QUANTITY_ERR_FORMAT},
      {"1\0002", QUANTITY_ERR_FORMAT},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    quantity_t q;
    const char *err = NULL;
    size_t len = strlen(bad[i].in);
    if (!strcmp(bad[i].in, "1"))
      len = 3; /* the embedded NUL case */
    int r = quantity_parse(bad[i].in, len, &q, &err);
    if (r != -EINVAL)
      TEST_FAIL("%s: parsed (r=%d)", bad[i].in, r);
    ASSERT_EQ_STR(err, bad[i].err);
  }
  /* longer than k3c accepts */
  char big[QUANTITY_TEXT_MAX + 2];
  memset(big, '1', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  ASSERT_EQ_STR(canon(big), QUANTITY_ERR_NUMERIC);
}

static void test_numbers(void) {
  static const struct {
    double v;
    const char *out;
  } nums[] = {{0.5, "500m"}, {1, "1"}, {1000, "1k"}, {1024, "1024"}, {0, "0"},
              {-2, "-2"},    {2.5, "2500m"}, {1e21, "1e+21"}, {1e-7, "100e-9"},
              {0.1, "100m"}, {123456789, "123456789"}, {1e3, "1k"}};
  for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
    quantity_t q;
    const char *err = NULL;
    char buf[QUANTITY_STR_MAX];
    ASSERT_EQ_INT(quantity_from_double(nums[i].v, &q, &err), 0);
    ASSERT_GE_INT(quantity_format(&q, buf, sizeof(buf)), 1);
    ASSERT_EQ_STR(buf, nums[i].out);
  }
}

static quantity_t parse(const char *s) {
  quantity_t q;
  const char *err;
  if (quantity_parse(s, strlen(s), &q, &err) < 0)
    TEST_FAIL("parse %s: %s", s, err);
  return q;
}

static void test_compare(void) {
  quantity_t a = parse("1"), b = parse("1000m"), c = parse("1001m"), d = parse("1Ki");
  quantity_t e = parse("1024"), f = parse("-1"), z = parse("0"), g = parse("1e3");
  ASSERT_EQ_INT(quantity_cmp(&a, &b), 0);
  ASSERT_EQ_INT(quantity_cmp(&a, &c), -1);
  ASSERT_EQ_INT(quantity_cmp(&c, &a), 1);
  ASSERT_EQ_INT(quantity_cmp(&d, &e), 0);
  ASSERT_EQ_INT(quantity_cmp(&f, &z), -1);
  ASSERT_EQ_INT(quantity_cmp(&z, &f), 1);
  ASSERT_EQ_INT(quantity_cmp(&g, &e), -1);
  quantity_t h = parse("-2"), i = parse("-1500m");
  ASSERT_EQ_INT(quantity_cmp(&h, &i), -1);
  ASSERT_EQ_INT(quantity_sign(&h), -1);
  ASSERT_EQ_INT(quantity_sign(&z), 0);
  ASSERT_TRUE(quantity_is_integer(&g));
  ASSERT_FALSE(quantity_is_integer(&c));
}

static const char *sum(const char *x, const char *y) {
  static char buf[QUANTITY_STR_MAX];
  quantity_t a = parse(x), b = parse(y);
  if (quantity_add(&a, &b) < 0)
    return "(ERANGE)";
  quantity_format(&a, buf, sizeof(buf));
  return buf;
}

/* TestAdd / TestSub of upstream, in text. */
static void test_add(void) {
  ASSERT_EQ_STR(sum("10", "1e1"), "20");
  ASSERT_EQ_STR(sum("10", "1Ki"), "1034");
  ASSERT_EQ_STR(sum("1Ki", "1Ki"), "2Ki");
  ASSERT_EQ_STR(sum("0", "1Ki"), "1Ki");   /* zero takes the format of y */
  ASSERT_EQ_STR(sum("0", "2e3"), "2e3");
  ASSERT_EQ_STR(sum("500m", "500m"), "1");
  ASSERT_EQ_STR(sum("10", "-1"), "9");
  ASSERT_EQ_STR(sum("1", "-1"), "0");
  ASSERT_EQ_STR(sum("-50", "20"), "-30");
  ASSERT_EQ_STR(sum("100m", "1n"), "100000001n");
  ASSERT_EQ_STR(sum("1e90", "1n"), "(ERANGE)");
}

static void test_small_buffer(void) {
  quantity_t q = parse("1234567M");
  char buf[4];
  ASSERT_EQ_INT(quantity_format(&q, buf, sizeof(buf)), -ENOSPC);
  q = parse("1500m");
  ASSERT_EQ_INT(quantity_format(&q, buf, sizeof(buf)), -ENOSPC);
}

TEST_LIST = {
    TEST(test_canonical_forms), TEST(test_canonical_is_fixed_point), TEST(test_errors),
    TEST(test_numbers),         TEST(test_compare),  TEST(test_add),
    TEST(test_small_buffer),    {0},
};
TEST_MAIN()
