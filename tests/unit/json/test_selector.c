#include "test.h"
static void test_placeholder(void) { ASSERT_TRUE(1); }
TEST_LIST = {TEST(test_placeholder), {0}};
TEST_MAIN()
