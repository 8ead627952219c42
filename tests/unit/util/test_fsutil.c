/* pkg/util/fsutil.c fs_remove_tree: a tree with files, folders and a
 * symbolic link to a folder outside goes, the outside folder stays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/fsutil.h"

static void test_remove_tree(void) {
  char root[] = "/tmp/k3c-test-fsutil-XXXXXX";
  if (!mkdtemp(root))
    TEST_FAIL("mkdtemp");
  char p[512], outside[512], keep[600];
  snprintf(outside, sizeof(outside), "%s/outside", root);
  ASSERT_EQ_INT(mkdir(outside, 0700), 0);
  snprintf(keep, sizeof(keep), "%s/keep", outside);
  ASSERT_EQ_INT(fs_write_atomic(keep, "x", 1, 0600), 0);
  snprintf(p, sizeof(p), "%s/tree/a/b", root);
  ASSERT_EQ_INT(fs_mkdir_p(p, 0700), 0);
  snprintf(p, sizeof(p), "%s/tree/a/b/file", root);
  ASSERT_EQ_INT(fs_write_atomic(p, "data", 4, 0600), 0);
  snprintf(p, sizeof(p), "%s/tree/link", root);
  ASSERT_EQ_INT(symlink(outside, p), 0);
  snprintf(p, sizeof(p), "%s/tree", root);
  ASSERT_EQ_INT(fs_remove_tree(p), 0);
  struct stat st;
  ASSERT_EQ_INT(lstat(p, &st), -1);
  ASSERT_EQ_INT(stat(keep, &st), 0); /* the link was removed, not followed */
  ASSERT_EQ_INT(fs_remove_tree(p), 0); /* missing: fine */
  ASSERT_EQ_INT(fs_remove_tree(keep), 0); /* a plain file */
  ASSERT_EQ_INT(fs_remove_tree(root), 0);
  ASSERT_EQ_INT(lstat(root, &st), -1);
}

TEST_LIST = {
    TEST(test_remove_tree),
    {0},
};
TEST_MAIN()
