/* Tests for pkg/util/buf.c and fsutil.c: limits are hard, content is kept
 * NUL-terminated, atomic writes replace whole files. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/buf.h"
#include "util/fsutil.h"

static void test_append_and_limit(void) {
  buf_t b;
  buf_init(&b, 10);
  ASSERT_EQ_INT(buf_append_str(&b, "hello"), 0);
  ASSERT_EQ_INT(buf_printf(&b, "%d", 1234), 0);
  ASSERT_EQ_STR(b.data, "hello1234");
  ASSERT_EQ_INT(buf_append_str(&b, "xy"), -E2BIG);
  ASSERT_EQ_STR(b.data, "hello1234"); /* unchanged on failure */
  ASSERT_EQ_INT(buf_append_str(&b, "x"), 0);
  ASSERT_EQ_INT(b.len, 10);
  size_t len;
  char *s = buf_steal(&b, &len);
  ASSERT_EQ_INT(len, 10);
  ASSERT_EQ_STR(s, "hello1234x");
  free(s);
  ASSERT_EQ_INT(b.len, 0);
  buf_done(&b);
  buf_done(NULL);
}

static void test_atomic_write_and_read(void) {
  char path[128];
  snprintf(path, sizeof(path), "/tmp/k3c-test-fs-%d/a/b/file", (int)getpid());
  char dir[128];
  snprintf(dir, sizeof(dir), "/tmp/k3c-test-fs-%d/a/b", (int)getpid());
  ASSERT_EQ_INT(fs_mkdir_p(dir, 0700), 0);
  ASSERT_EQ_INT(fs_mkdir_p(dir, 0700), 0); /* idempotent */
  ASSERT_EQ_INT(fs_write_atomic(path, "one", 3, 0640), 0);
  ASSERT_EQ_INT(fs_write_atomic(path, "second", 6, 0640), 0);
  struct stat st;
  ASSERT_EQ_INT(stat(path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0640);
  char *data;
  size_t len;
  ASSERT_EQ_INT(fs_read_file(path, 100, &data, &len), 0);
  ASSERT_EQ_STR(data, "second");
  ASSERT_EQ_INT(len, 6);
  free(data);
  ASSERT_EQ_INT(fs_read_file(path, 3, &data, &len), -E2BIG);
  ASSERT_EQ_INT(fs_read_file("/nonexistent/x", 3, &data, &len), -ENOENT);
  unlink(path);
}

TEST_LIST = {TEST(test_append_and_limit), TEST(test_atomic_write_and_read), {0}};
TEST_MAIN()
