/* pkg/net ipam: pod address leases under a locked directory: addresses in
 * order and rotating, the same lease for the same container, release,
 * exhaustion, reclaim of leases whose container is gone, the lock held
 * against other processes, and concurrent processes getting distinct
 * addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/ipam.h"
#include "test.h"
#include "util/fsutil.h"

static char dir[256];

static void fresh(void) {
  const char *t = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/test_ipam.XXXXXX", t && t[0] ? t : "/tmp");
  if (!mkdtemp(dir))
    TEST_FAIL("mkdtemp: %s", strerror(errno));
}

static struct in_addr ip4(const char *s) {
  struct in_addr a = {0};
  inet_pton(AF_INET, s, &a);
  return a;
}

static net_ipam_t *open29(void) {
  net_ipam_t *m = NULL;
  char err[256];
  if (net_ipam_open(dir, ip4("10.9.0.0"), 29, &m, err, sizeof err) < 0)
    TEST_FAIL("open: %s", err);
  return m;
}

/* alloc for id (interface eth0), returning the address as text */
static int alloc(net_ipam_t *m, const char *id, const char *ports, char out[16]) {
  net_ipam_lease_t l = {0};
  char err[256];
  snprintf(l.id, sizeof l.id, "%s", id);
  snprintf(l.ifname, sizeof l.ifname, "eth0");
  snprintf(l.hostif, sizeof l.hostif, "veth-%s", id);
  snprintf(l.ports, sizeof l.ports, "%s", ports);
  int r = net_ipam_alloc(m, &l, err, sizeof err);
  if (r == 0)
    inet_ntop(AF_INET, &l.addr, out, 16);
  else
    snprintf(out, 16, "%s", r == -ENOSPC && strstr(err, "all 5 addresses") ? "full" : "error");
  return r;
}

static void test_alloc_release(void) {
  fresh();
  net_ipam_t *m = open29();
  char a[16];
  ASSERT_EQ_INT(alloc(m, "a", "tcp/80/80/0.0.0.0", a), 0);
  ASSERT_EQ_STR(a, "10.9.0.2"); /* .1 is the gateway */
  ASSERT_EQ_INT(alloc(m, "b", "", a), 0);
  ASSERT_EQ_STR(a, "10.9.0.3");
  ASSERT_EQ_INT(alloc(m, "a", "", a), 0); /* the same container again: its address */
  ASSERT_EQ_STR(a, "10.9.0.2");
  net_ipam_lease_t l;
  ASSERT_EQ_INT(net_ipam_find(m, "a", "eth0", &l), 0);
  ASSERT_EQ_STR(l.hostif, "veth-a");
  ASSERT_EQ_STR(l.ports, "tcp/80/80/0.0.0.0");
  ASSERT_EQ_INT(net_ipam_find(m, "a", "eth1", &l), -ENOENT);
  ASSERT_EQ_INT(net_ipam_release(m, "a", "eth0", &l), 0);
  ASSERT_EQ_STR(inet_ntoa(l.addr), "10.9.0.2");
  ASSERT_EQ_INT(net_ipam_release(m, "a", "eth0", NULL), -ENOENT); /* twice: nothing */
  /* not reused at once: the search goes on after the last handed out */
  ASSERT_EQ_INT(alloc(m, "c", "", a), 0);
  ASSERT_EQ_STR(a, "10.9.0.4");
  ASSERT_EQ_INT(alloc(m, "d", "", a), 0);
  ASSERT_EQ_INT(alloc(m, "e", "", a), 0);
  ASSERT_EQ_STR(a, "10.9.0.6"); /* .7 is the broadcast */
  ASSERT_EQ_INT(alloc(m, "f", "", a), 0);
  ASSERT_EQ_STR(a, "10.9.0.2"); /* wrapped round to the released one */
  ASSERT_EQ_INT(alloc(m, "g", "", a), -ENOSPC);
  ASSERT_EQ_STR(a, "full");
  /* a newline in a field would corrupt the lease file */
  net_ipam_lease_t bad = {0};
  char err[256];
  snprintf(bad.id, sizeof bad.id, "x\ny");
  ASSERT_EQ_INT(net_ipam_alloc(m, &bad, err, sizeof err), -EINVAL);
  net_ipam_close(m);
  /* leases survive the process: a new open sees them */
  m = open29();
  ASSERT_EQ_INT(net_ipam_find(m, "d", "eth0", &l), 0);
  ASSERT_EQ_STR(inet_ntoa(l.addr), "10.9.0.5");
  net_ipam_close(m);
  fs_remove_tree(dir);
}

static bool alive_but_b_d(const net_ipam_lease_t *l, void *data) {
  (*(int *)data)++;
  return strcmp(l->id, "b") && strcmp(l->id, "d");
}

static void test_reclaim(void) {
  fresh();
  net_ipam_t *m = open29();
  char a[16];
  const char *ids[] = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 5; i++)
    ASSERT_EQ_INT(alloc(m, ids[i], "", a), 0);
  ASSERT_EQ_INT(alloc(m, "f", "", a), -ENOSPC);
  int asked = 0;
  ASSERT_EQ_INT(net_ipam_reclaim(m, alive_but_b_d, &asked), 2);
  ASSERT_EQ_INT(asked, 5);
  net_ipam_lease_t l;
  ASSERT_EQ_INT(net_ipam_find(m, "b", "eth0", &l), -ENOENT);
  ASSERT_EQ_INT(net_ipam_find(m, "c", "eth0", &l), 0);
  ASSERT_EQ_INT(alloc(m, "f", "", a), 0);
  ASSERT_EQ_STR(a, "10.9.0.3"); /* b's */
  net_ipam_close(m);
  fs_remove_tree(dir);
}

static void test_open_errors(void) {
  fresh();
  net_ipam_t *m = NULL;
  char err[256], file[300];
  ASSERT_EQ_INT(net_ipam_open(dir, ip4("10.9.0.0"), 31, &m, err, sizeof err), -EINVAL);
  ASSERT_CONTAINS(err, "prefix length 31 is not in 8..30");
  snprintf(file, sizeof file, "%s/f", dir);
  ASSERT_EQ_INT(fs_write_atomic(file, "x", 1, 0600), 0);
  snprintf(file, sizeof file, "%s/f/ipam", dir);
  ASSERT_TRUE(net_ipam_open(file, ip4("10.9.0.0"), 24, &m, err, sizeof err) < 0);
  ASSERT_CONTAINS(err, file);
  ASSERT_NULL(m);
  fs_remove_tree(dir);
}

/* While one process holds the directory, another cannot take its lock;
 * processes started at once each get an address of their own. */
static void test_processes(void) {
  fresh();
  net_ipam_t *m = open29();
  char lock[300];
  snprintf(lock, sizeof lock, "%s/lock", dir);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(lock, O_RDWR);
    _exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK ? 0 : 1);
  }
  int st = 0;
  ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
  ASSERT_EQ_INT(WEXITSTATUS(st), 0);
  net_ipam_close(m);

  pid_t kids[5];
  for (int i = 0; i < 5; i++) {
    if ((kids[i] = fork()) == 0) {
      net_ipam_t *k = NULL;
      char err[256], id[8], a[16];
      snprintf(id, sizeof id, "k%d", i);
      if (net_ipam_open(dir, ip4("10.9.0.0"), 29, &k, err, sizeof err) < 0)
        _exit(2);
      int r = alloc(k, id, "", a);
      net_ipam_close(k);
      _exit(r == 0 ? 0 : 3);
    }
  }
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ_INT(waitpid(kids[i], &st, 0), kids[i]);
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
  }
  m = open29();
  unsigned seen = 0;
  for (int i = 0; i < 5; i++) {
    char id[8];
    net_ipam_lease_t l;
    snprintf(id, sizeof id, "k%d", i);
    ASSERT_EQ_INT(net_ipam_find(m, id, "eth0", &l), 0);
    unsigned last = ntohl(l.addr.s_addr) & 7;
    ASSERT_TRUE(last >= 2 && last <= 6);
    ASSERT_FALSE(seen & (1u << last)); /* distinct */
    seen |= 1u << last;
  }
  net_ipam_close(m);
  fs_remove_tree(dir);
}

TEST_LIST = {
    TEST(test_alloc_release), TEST(test_reclaim), TEST(test_open_errors), TEST(test_processes),
    {0},
};
TEST_MAIN()
