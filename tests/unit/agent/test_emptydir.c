/* Tests for pkg/agent/emptydir.c without mounts: the tmpfs size rule, the
 * bounded usage count, the sizeLimit check with upstream's eviction
 * message, and the teardown of a pod directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/emptydir.h"
#include "test.h"

static cJSON *J(const char *s) {
  cJSON *j = cJSON_Parse(s);
  if (!j)
    TEST_FAIL("bad JSON in test: %s", s);
  return j;
}

static void test_tmpfs_size(void) {
  cJSON *v = J("{\"name\":\"m\",\"emptyDir\":{\"medium\":\"Memory\",\"sizeLimit\":\"16Mi\"}}");
  ASSERT_EQ_INT(agent_emptydir_tmpfs_size(v, 1 << 30), 16 << 20);
  cJSON_Delete(v);
  v = J("{\"name\":\"m\",\"emptyDir\":{\"medium\":\"Memory\"}}");
  ASSERT_EQ_INT(agent_emptydir_tmpfs_size(v, 1 << 30), 1 << 30);
  ASSERT_EQ_INT(agent_emptydir_tmpfs_size(v, 0), 0);
  cJSON_Delete(v);
  v = J("{\"name\":\"m\",\"emptyDir\":{\"medium\":\"Memory\",\"sizeLimit\":\"0\"}}");
  ASSERT_EQ_INT(agent_emptydir_tmpfs_size(v, 1 << 20), 1 << 20);
  cJSON_Delete(v);
}

static void write_bytes(const char *path, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_TRUE(fd >= 0);
  char buf[4096];
  memset(buf, 'x', sizeof(buf));
  while (n > 0) {
    size_t k = n < sizeof(buf) ? n : sizeof(buf);
    ASSERT_EQ_INT(write(fd, buf, k), (long long)k);
    n -= k;
  }
  fsync(fd);
  close(fd);
}

static void test_limit(void) {
  char root[] = "/tmp/k3c-emptydir-XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(root));
  char dir[512], f[600];
  snprintf(dir, sizeof(dir), "%s/u1/volumes/kubernetes.io~empty-dir/scratch", root);
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s/sub'", dir);
  ASSERT_EQ_INT(system(cmd), 0);
  cJSON *pod = J("{\"metadata\":{\"uid\":\"u1\"},\"spec\":{\"volumes\":["
                 "{\"name\":\"scratch\",\"emptyDir\":{\"sizeLimit\":\"1Mi\"}},"
                 "{\"name\":\"free\",\"emptyDir\":{}}]}}");
  agent_podspec_node_t node = {.pods_dir = root};
  char msg[256] = "";
  bool limited = false;
  ASSERT_EQ_INT(agent_emptydir_over_limit(pod, &node, msg, sizeof(msg), &limited), 0);
  ASSERT_TRUE(limited);
  snprintf(f, sizeof(f), "%s/sub/small", dir);
  write_bytes(f, 256 << 10);
  ASSERT_EQ_INT(agent_emptydir_over_limit(pod, &node, msg, sizeof(msg), NULL), 0);
  ASSERT_GE_INT(agent_emptydir_usage(dir, 0), 256 << 10);
  snprintf(f, sizeof(f), "%s/big", dir);
  write_bytes(f, 2 << 20);
  ASSERT_EQ_INT(agent_emptydir_over_limit(pod, &node, msg, sizeof(msg), NULL), 1);
  ASSERT_EQ_STR(msg, "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ");
  /* without a limit nothing is measured */
  cJSON *free_only = J("{\"metadata\":{\"uid\":\"u1\"},\"spec\":{\"volumes\":["
                       "{\"name\":\"scratch\",\"emptyDir\":{}}]}}");
  ASSERT_EQ_INT(agent_emptydir_over_limit(free_only, &node, msg, sizeof(msg), &limited), 0);
  ASSERT_FALSE(limited);
  /* the teardown removes the pod's directory (nothing mounted there) */
  ASSERT_EQ_INT(agent_emptydir_teardown(root, "u1"), 0);
  snprintf(f, sizeof(f), "%s/u1", root);
  ASSERT_TRUE(access(f, F_OK) < 0);
  ASSERT_EQ_INT(agent_emptydir_teardown(root, ".."), -EINVAL);
  ASSERT_EQ_INT(agent_emptydir_teardown(root, "a/b"), -EINVAL);
  rmdir(root);
  cJSON_Delete(free_only);
  cJSON_Delete(pod);
}

TEST_LIST = {TEST(test_tmpfs_size), TEST(test_limit), {0}};
TEST_MAIN()
