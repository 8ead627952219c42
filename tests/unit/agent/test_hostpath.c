/* Tests for pkg/agent/hostpath.c: each hostPath type against a directory,
 * a file, a socket and /dev/null, the *OrCreate types making what is
 * missing, and upstream's FailedMount messages. */
#include "agent/hostpath.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];

/* 0 or the error of a pod with one hostPath volume "v" of path and type. */
static int check(const char *path, const char *type, char *err, size_t len) {
  char json[1024];
  snprintf(
      json, sizeof(json),
      "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"hostPath\":{\"path\":\"%s\",\"type\":\"%s\"}}]}}",
      path, type);
  cJSON *pod = cJSON_Parse(json);
  err[0] = '\0';
  int r = agent_hostpath_check(pod, err, len);
  cJSON_Delete(pod);
  return r;
}

static void test_types(void) {
  snprintf(dir, sizeof(dir), "/tmp/k3c-hostpath-XXXXXX");
  ASSERT_NOT_NULL(mkdtemp(dir));
  char file[128], sock[128], missing[128], err[1200], want[1200];
  snprintf(file, sizeof(file), "%s/f", dir);
  snprintf(sock, sizeof(sock), "%s/s", dir);
  FILE *f = fopen(file, "w");
  ASSERT_NOT_NULL(f);
  fclose(f);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  ASSERT_TRUE(strlen(sock) < sizeof(sa.sun_path));
  memcpy(sa.sun_path, sock, strlen(sock) + 1);
  ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

  ASSERT_EQ_INT(check(dir, "Directory", err, sizeof(err)), 0);
  ASSERT_EQ_INT(check(file, "File", err, sizeof(err)), 0);
  ASSERT_EQ_INT(check(sock, "Socket", err, sizeof(err)), 0);
  ASSERT_EQ_INT(check("/dev/null", "CharDevice", err, sizeof(err)), 0);
  ASSERT_EQ_INT(check(file, "", err, sizeof(err)), 0);

  static const struct {
    const char *type, *what;
  } bad[] = {{"Directory", "a directory"},
             {"File", "a file"},
             {"Socket", "a socket file"},
             {"CharDevice", "a character device"},
             {"BlockDevice", "a block device"}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    /* the socket is none of the others; the file is not a socket */
    const char *p = !strcmp(bad[i].type, "Socket") ? file : sock;
    ASSERT_EQ_INT(check(p, bad[i].type, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want),
             "MountVolume.SetUp failed for volume \"v\" : hostPath type check failed: %s is not %s",
             p, bad[i].what);
    ASSERT_EQ_STR(err, want);
  }
  snprintf(missing, sizeof(missing), "%s/nope", dir);
  ASSERT_EQ_INT(check(missing, "File", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(check(file, "DirectoryOrCreate", err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "is not a directory");
  ASSERT_EQ_INT(check(missing, "Sideways", err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err,
                "MountVolume.SetUp failed for volume \"v\" : Sideways is an invalid volume type");

  /* the *OrCreate types make what is missing */
  char made[160];
  snprintf(made, sizeof(made), "%s/a/b", dir);
  ASSERT_EQ_INT(check(made, "DirectoryOrCreate", err, sizeof(err)), 0);
  struct stat st;
  ASSERT_EQ_INT(stat(made, &st), 0);
  ASSERT_TRUE(S_ISDIR(st.st_mode));
  snprintf(made, sizeof(made), "%s/a/new-file", dir);
  ASSERT_EQ_INT(check(made, "FileOrCreate", err, sizeof(err)), 0);
  ASSERT_EQ_INT(stat(made, &st), 0);
  ASSERT_TRUE(S_ISREG(st.st_mode));
  ASSERT_EQ_INT((int)st.st_size, 0);

  close(fd);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ_INT(system(cmd), 0);
}

TEST_LIST = {TEST(test_types), {0}};
TEST_MAIN()
