#include "test.h"
static void test_x(void) {}
TEST_LIST = {TEST(test_x), {0}};
TEST_MAIN()
