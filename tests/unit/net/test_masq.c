/* pkg/net masq: as root, in a network namespace of the test's own, the
 * nf_tables masquerade rule made, replaced and removed, each step checked
 * by reading the table's rules back from the kernel. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "net/masq.h"
#include "net/nl.h"
#include "test.h"

static struct in_addr ip4(const char *s) {
  struct in_addr a = {0};
  inet_pton(AF_INET, s, &a);
  return a;
}

static void test_prefix(void) {
  char err[256];
  /* refused before anything is sent (no socket needed) */
  ASSERT_EQ_INT(net_masq_ensure(NULL, ip4("10.42.0.0"), 33, err, sizeof err), -EINVAL);
  ASSERT_CONTAINS(err, "prefix length 33");
}

static void test_kernel(void) {
  TEST_SKIP_UNDER_QEMU("speak NETLINK_NETFILTER (nf_tables)");
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  nl_sock_t *s;
  ASSERT_EQ_INT(nl_open(NETLINK_NETFILTER, &s), 0);
  char err[256], have[512];
  ASSERT_EQ_INT(net_masq_describe(s, have, sizeof have, err, sizeof err), -ENOENT);
  ASSERT_EQ_INT(net_masq_remove(s, err, sizeof err), 0); /* nothing to remove */
  if (net_masq_ensure(s, ip4("10.42.0.0"), 16, err, sizeof err) < 0)
    TEST_FAIL("ensure: %s", err);
  if (net_masq_describe(s, have, sizeof have, err, sizeof err) < 0)
    TEST_FAIL("describe: %s", err);
  const char *want = "payload(12) &255.255.0.0 ==10.42.0.0 payload(16) &255.255.0.0 !=10.42.0.0 "
                     "payload(16) &240.0.0.0 !=224.0.0.0 masq";
  ASSERT_EQ_STR(have, want);
  /* again: still the one rule */
  ASSERT_EQ_INT(net_masq_ensure(s, ip4("10.42.0.0"), 16, err, sizeof err), 0);
  ASSERT_EQ_INT(net_masq_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_EQ_STR(have, want);
  /* another cluster CIDR (host bits dropped): replaced */
  ASSERT_EQ_INT(net_masq_ensure(s, ip4("10.50.3.4"), 20, err, sizeof err), 0);
  ASSERT_EQ_INT(net_masq_describe(s, have, sizeof have, err, sizeof err), 0);
  ASSERT_EQ_STR(have, "payload(12) &255.255.240.0 ==10.50.0.0 payload(16) &255.255.240.0 "
                      "!=10.50.0.0 payload(16) &240.0.0.0 !=224.0.0.0 masq");
  ASSERT_EQ_INT(net_masq_remove(s, err, sizeof err), 0);
  ASSERT_EQ_INT(net_masq_describe(s, have, sizeof have, err, sizeof err), -ENOENT);
  ASSERT_EQ_INT(net_masq_remove(s, err, sizeof err), 0);
  nl_close(s);
}

TEST_LIST = {TEST(test_prefix), TEST(test_kernel), {0}};
TEST_MAIN()
