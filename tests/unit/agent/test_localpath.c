/* Tests for pkg/agent/localpath.c: which directories a cleanup annotation
 * may have the agent remove (only a local-path volume's own). */
#include "agent/localpath.h"
#include "test.h"

#include <stdbool.h>

static void test_dir_ok(void) {
  const char *pv = "pvc-1f2e";
  ASSERT_TRUE(agent__localpath_dir_ok(pv, "/var/lib/k3c/storage/pvc-1f2e_default_data"));
  ASSERT_TRUE(agent__localpath_dir_ok(pv, "/srv/k3c/storage/pvc-1f2e_ns_a_b"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/etc"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "relative/pvc-1f2e_default_data"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/../pvc-1f2e_default_data"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/./pvc-1f2e_default_data"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/pvc-1f2e_default_data/.."));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/pvc-other_default_data"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/pvc-1f2e"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/pvc-1f2e_default"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, "/x/pvc-1f2e__data"));
  ASSERT_FALSE(agent__localpath_dir_ok("data", "/x/data_default_data"));
  ASSERT_FALSE(agent__localpath_dir_ok(pv, NULL));
}

TEST_LIST = {TEST(test_dir_ok), {0}};
TEST_MAIN()
