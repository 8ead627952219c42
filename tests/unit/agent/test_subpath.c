/* Tests for pkg/agent/subpath.c: a missing subPath is made with the
 * volume's mode, an existing one (file or directory) passes, a link
 * inside the volume is followed, and links out of it are refused without
 * anything made outside. */
#include "agent/subpath.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_prepare(void) {
  char top[64] = "/tmp/k3c-subpath-XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(top));
  char vol[128], out[128], p[256], err[512];
  snprintf(vol, sizeof(vol), "%s/vol", top);
  snprintf(out, sizeof(out), "%s/outside", top);
  ASSERT_EQ_INT(mkdir(vol, 0777), 0);
  ASSERT_EQ_INT(chmod(vol, 0777), 0);
  ASSERT_EQ_INT(mkdir(out, 0755), 0);

  ASSERT_EQ_INT(agent_subpath_prepare(vol, "a/b/c", err, sizeof(err)), 0);
  struct stat st;
  snprintf(p, sizeof(p), "%s/a/b/c", vol);
  ASSERT_EQ_INT(stat(p, &st), 0);
  ASSERT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ_INT((int)(st.st_mode & 0777), 0777); /* the volume's mode, past the umask */
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "a/b/c", err, sizeof(err)), 0); /* again */
  snprintf(p, sizeof(p), "%s/file", vol);
  FILE *f = fopen(p, "w");
  ASSERT_NOT_NULL(f);
  fclose(f);
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "file", err, sizeof(err)), 0);
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "./a//b", err, sizeof(err)), 0);

  /* a link inside the volume is fine; out of it, refused */
  snprintf(p, sizeof(p), "%s/in", vol);
  ASSERT_EQ_INT(symlink("a/b", p), 0);
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "in/c", err, sizeof(err)), 0);
  snprintf(p, sizeof(p), "%s/escape", vol);
  ASSERT_EQ_INT(symlink(out, p), 0);
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "escape", err, sizeof(err)), -EXDEV);
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "escape/made", err, sizeof(err)), -EXDEV);
  snprintf(p, sizeof(p), "%s/made", out);
  ASSERT_EQ_INT(stat(p, &st), -1); /* nothing was made through the link */
  snprintf(p, sizeof(p), "%s/a/up", vol);
  ASSERT_EQ_INT(symlink("../..", p), 0);
  ASSERT_EQ_INT(agent_subpath_prepare(vol, "a/up", err, sizeof(err)), -EXDEV);
  ASSERT_CONTAINS(err, "outside the volume");
  /* a missing volume */
  snprintf(p, sizeof(p), "%s/none", top);
  ASSERT_EQ_INT(agent_subpath_prepare(p, "x", err, sizeof(err)), -ENOENT);

  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
  ASSERT_EQ_INT(system(cmd), 0);
}

TEST_LIST = {TEST(test_prepare), {0}};
TEST_MAIN()
