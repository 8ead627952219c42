/* Tests for the pure parts of pkg/agent/logrotate.c: when to rotate, how
 * many rotated files go, the rotated file name and its recognition. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "agent/logrotate.h"
#include "test.h"

static void test_plan(void) {
  agent_logrotate_policy_t pol = {.max_size = 1000, .max_files = 3};
  agent_logrotate_plan_t p;
  agent_logrotate_plan(999, 0, &pol, &p);
  ASSERT_FALSE(p.rotate);
  ASSERT_EQ_INT(p.n_delete, 0);
  agent_logrotate_plan(1000, 0, &pol, &p); /* at the size: rotate */
  ASSERT_TRUE(p.rotate);
  ASSERT_EQ_INT(p.n_delete, 0);
  agent_logrotate_plan(5000, 2, &pol, &p); /* 2 rotated + this one > 2 kept */
  ASSERT_TRUE(p.rotate);
  ASSERT_EQ_INT(p.n_delete, 1);
  agent_logrotate_plan(10, 4, &pol, &p); /* too many left from a larger count */
  ASSERT_FALSE(p.rotate);
  ASSERT_EQ_INT(p.n_delete, 2);
  agent_logrotate_plan(10, 2, &pol, &p);
  ASSERT_EQ_INT(p.n_delete, 0);
  agent_logrotate_policy_t two = {.max_size = 1, .max_files = 2};
  agent_logrotate_plan(5, 1, &two, &p); /* keeps one rotated beside the current */
  ASSERT_TRUE(p.rotate);
  ASSERT_EQ_INT(p.n_delete, 1);
  agent_logrotate_policy_t off = {.max_size = 0, .max_files = 5};
  agent_logrotate_plan(1 << 30, 0, &off, &p);
  ASSERT_FALSE(p.rotate);
}

static void test_names(void) {
  char out[128];
  ASSERT_EQ_INT(agent_logrotate_name("/l/p/c/0.log", (time_t)1767323045, out, sizeof(out)), 0);
  ASSERT_EQ_STR(out, "/l/p/c/0.log.20260102-030405");
  char tiny[8];
  ASSERT_EQ_INT(agent_logrotate_name("/l/p/c/0.log", 0, tiny, sizeof(tiny)), -ENAMETOOLONG);
  ASSERT_TRUE(agent_logrotate_is_rotated("0.log", "0.log.20260102-030405"));
  ASSERT_FALSE(agent_logrotate_is_rotated("0.log", "0.log"));
  ASSERT_FALSE(agent_logrotate_is_rotated("0.log", "1.log.20260102-030405"));
  ASSERT_FALSE(agent_logrotate_is_rotated("0.log", "0.log.20260102-030405.gz"));
  ASSERT_FALSE(agent_logrotate_is_rotated("0.log", "0.log.2026010x-030405"));
  ASSERT_FALSE(agent_logrotate_is_rotated("0.log", "10.log.20260102-030405"));
}

TEST_LIST = {TEST(test_plan), TEST(test_names), {0}};
TEST_MAIN()
