/* pkg/util/goerr.c: Go's dial error texts as upstream's messages carry
 * them. */
#include "test.h"
#include "util/goerr.h"

#include <errno.h>

static void test_dial(void) {
  char buf[128], msg[256];
  ASSERT_EQ_STR(goerr_dial(-ECONNREFUSED, buf, sizeof(buf)), "connect: connection refused");
  ASSERT_EQ_STR(goerr_dial(-ETIMEDOUT, buf, sizeof(buf)), "i/o timeout");
  ASSERT_EQ_STR(goerr_dial(-EHOSTUNREACH, buf, sizeof(buf)), "connect: no route to host");
  ASSERT_EQ_STR(goerr_dial(-ENETUNREACH, buf, sizeof(buf)), "connect: network is unreachable");
  /* other errnos: their text, lower-cased as Go writes them */
  ASSERT_EQ_STR(goerr_dial(-EACCES, buf, sizeof(buf)), "connect: permission denied");
  goerr_dial_msg(msg, sizeof(msg), "10.42.0.5", 8080, -ECONNREFUSED);
  ASSERT_EQ_STR(msg, "dial tcp 10.42.0.5:8080: connect: connection refused");
  goerr_dial_msg(msg, sizeof(msg), "fd00::5", 443, -ETIMEDOUT);
  ASSERT_EQ_STR(msg, "dial tcp [fd00::5]:443: i/o timeout");
  /* a short buffer truncates, never overflows */
  char tiny[12];
  goerr_dial(-EACCES, tiny, sizeof(tiny));
  ASSERT_EQ_STR(tiny, "connect: pe");
}

TEST_LIST = {
    TEST(test_dial),
    {0},
};
TEST_MAIN()
