#include "api/schema.h"
#include "test.h"
static void test_x(void) { ASSERT_TRUE(schema_nresources > 0); }
TEST_LIST = {TEST(test_x), {0}};
TEST_MAIN()
