/* Tests for pkg/util/base64.c: RFC 4648 test vectors both ways, and the
 * inputs the decoder refuses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "test.h"

static const char *const vectors[][2] = {
    {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_vectors(void) {
  for (size_t i = 0; i < sizeof(vectors) / sizeof(*vectors); i++) {
    char *e = base64_encode(vectors[i][0], strlen(vectors[i][0]));
    ASSERT_EQ_STR(e, vectors[i][1]);
    free(e);
    unsigned char *d = NULL;
    size_t len = 99;
    ASSERT_EQ_INT(base64_decode(vectors[i][1], strlen(vectors[i][1]), &d, &len), 0);
    ASSERT_EQ_INT((int)len, (int)strlen(vectors[i][0]));
    ASSERT_EQ_STR((char *)d, vectors[i][0]);
    free(d);
  }
}

static void test_binary(void) {
  unsigned char raw[256];
  for (int i = 0; i < 256; i++)
    raw[i] = (unsigned char)(255 - i);
  char *e = base64_encode(raw, sizeof(raw));
  unsigned char *d = NULL;
  size_t len = 0;
  ASSERT_EQ_INT(base64_decode(e, strlen(e), &d, &len), 0);
  ASSERT_EQ_INT((int)len, 256);
  ASSERT_TRUE(!memcmp(d, raw, sizeof(raw)));
  free(d);
  free(e);
}

static void test_invalid(void) {
  const char *bad[] = {"Zg", "Zg=", "Z===", "=Zg=", "Zg==Zg==", "Zm9!", "Zm 9", "Zg=a"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    unsigned char *d = NULL;
    size_t len = 0;
    if (base64_decode(bad[i], strlen(bad[i]), &d, &len) != -EINVAL)
      TEST_FAIL("%s should be refused", bad[i]);
    ASSERT_NULL(d);
  }
}

TEST_LIST = {
    TEST(test_vectors),
    TEST(test_binary),
    TEST(test_invalid),
    {0},
};
TEST_MAIN()
