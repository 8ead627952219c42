/* Tests for pkg/util/rotlog.c: lines reach the file in order, the file
 * rotates before a line would pass max_bytes, backups beyond max_backups
 * are removed (newest kept), a line bigger than the queue is dropped and
 * counted, and close writes what is queued. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/fsutil.h"
#include "util/rotlog.h"

static int count_backups(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, "audit-", 6) && strstr(e->d_name, ".log"))
      n++;
  if (d)
    closedir(d);
  return n;
}

static void test_rotation(void) {
  char dir[] = "/tmp/k3c-rotlog-XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(dir));
  char path[256], err[256];
  snprintf(path, sizeof(path), "%s/sub/audit.log", dir);
  rotlog_opts_t o = {.path = path, .max_bytes = 1000, .max_backups = 2, .queue_max = 1 << 20};
  rotlog_t *l = NULL;
  ASSERT_EQ_INT(rotlog_open(&o, &l, err, sizeof(err)), 0);
  char line[100];
  memset(line, 'a', sizeof(line));
  for (int i = 0; i < 25; i++) { /* 2525 bytes: two rotations or more, maybe in one ms */
    snprintf(line, sizeof(line), "%04d", i);
    line[4] = 'x';
    ASSERT_EQ_INT(rotlog_write(l, line, 100), 0);
  }
  rotlog_close(l);
  char sub[300];
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  ASSERT_EQ_INT(count_backups(sub), 2);
  char *data = NULL;
  size_t len = 0;
  ASSERT_EQ_INT(fs_read_file(path, 1 << 20, &data, &len), 0);
  ASSERT_TRUE(len <= 1000 && len > 0 && len % 101 == 0);
  ASSERT_TRUE(!strncmp(data + len - 101, "0024x", 5)); /* the last line is in the live file */
  free(data);
  struct stat st;
  ASSERT_EQ_INT(stat(path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);

  /* dropped when the queue cannot take the line */
  o.queue_max = 50;
  ASSERT_EQ_INT(rotlog_open(&o, &l, err, sizeof(err)), 0);
  ASSERT_EQ_INT(rotlog_write(l, line, 100), -ENOBUFS);
  ASSERT_EQ_INT(rotlog_dropped(l), 1);
  ASSERT_EQ_INT(rotlog_write(l, "ok", 2), 0);
  rotlog_close(l);
  ASSERT_EQ_INT(fs_read_file(path, 1 << 20, &data, &len), 0);
  ASSERT_TRUE(len >= 3 && !memcmp(data + len - 3, "ok\n", 3));
  free(data);

  /* an unwritable place is an error with the path */
  o.path = "/proc/k3c-no/audit.log";
  ASSERT_TRUE(rotlog_open(&o, &l, err, sizeof(err)) < 0);
  ASSERT_CONTAINS(err, "/proc/k3c-no");
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ASSERT_EQ_INT(system(cmd), 0);
}

TEST_LIST = {
    TEST(test_rotation),
    {0},
};
TEST_MAIN()
