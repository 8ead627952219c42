/* pkg/net nl and rtnl: message layout, attribute parsing, and (as root, in a
 * network namespace of the test's own) real rtnetlink round trips. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include <linux/rtnetlink.h>

#include "net/nl.h"
#include "net/rtnl.h"
#include "test.h"

static void test_layout(void) {
  nl_msg_t m;
  nl_msg_init(&m);
  struct rtgenmsg g = {.rtgen_family = AF_INET};
  ASSERT_NOT_NULL(nl_msg_begin(&m, RTM_GETLINK, NLM_F_ACK, &g, sizeof g));
  nl_put_u32(&m, 1, 0x01020304);
  nl_put_str(&m, 2, "abc");
  size_t n = nl_nest_begin(&m, 3);
  nl_put_be16(&m, 1, 8472);
  nl_put_u8(&m, 2, 7);
  nl_nest_end(&m, n);
  ASSERT_EQ_INT(m.err, 0);
  const struct nlmsghdr *h = (const struct nlmsghdr *)m.buf;
  /* 16 header + 4 (rtgenmsg aligned) + 8 u32 + 8 "abc\0" + 4 nest + 8 be16 + 8 u8 */
  ASSERT_EQ_INT(h->nlmsg_len, 16 + 4 + 8 + 8 + 4 + 8 + 8);
  ASSERT_EQ_INT(m.len, h->nlmsg_len);
  ASSERT_EQ_INT(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  const struct nlattr *tb[4];
  ASSERT_EQ_INT(nl_msg_attrs(h, sizeof g, tb, 3), 0);
  ASSERT_EQ_INT(nl_attr_u32(tb[1]), 0x01020304);
  ASSERT_EQ_STR(nl_attr_str(tb[2]), "abc");
  ASSERT_TRUE(tb[3]->nla_type & NLA_F_NESTED);
  ASSERT_EQ_INT(tb[3]->nla_len, 4 + 8 + 8);
  const struct nlattr *in[3];
  ASSERT_EQ_INT(nl_attr_parse(nl_attr_data(tb[3]), nl_attr_len(tb[3]), in, 2), 0);
  const unsigned char *p = nl_attr_data(in[1]);
  ASSERT_EQ_INT(p[0] << 8 | p[1], 8472);
  ASSERT_EQ_INT(nl_attr_u8(in[2]), 7);
  /* a second message in the same buffer starts aligned after the first */
  nl_msg_begin(&m, RTM_GETLINK, 0, NULL, 0);
  ASSERT_EQ_INT(((const struct nlmsghdr *)(m.buf + h->nlmsg_len))->nlmsg_len, 16);
  nl_msg_free(&m);
}

static void test_parse_hostile(void) {
  /* an attribute whose length runs past the buffer is refused */
  unsigned char b[8] = {200, 0, 1, 0, 0, 0, 0, 0};
  const struct nlattr *tb[2];
  ASSERT_EQ_INT(nl_attr_parse(b, sizeof b, tb, 1), -EINVAL);
  unsigned char z[8] = {2, 0, 1, 0}; /* nla_len below the header */
  ASSERT_EQ_INT(nl_attr_parse(z, sizeof z, tb, 1), -EINVAL);
  unsigned char s[8] = {7, 0, 1, 0, 'a', 'b', 'c'}; /* string without NUL */
  ASSERT_EQ_INT(nl_attr_parse(s, sizeof s, tb, 1), 0);
  ASSERT_NULL(nl_attr_str(tb[1]));
  ASSERT_EQ_INT(nl_attr_u32(tb[1]), 0); /* 3 bytes are too short for a u32: 0 */
}

static void test_oversized(void) {
  nl_msg_t m;
  nl_msg_init(&m);
  nl_msg_begin(&m, RTM_GETLINK, NLM_F_ACK, NULL, 0);
  static char big[70000];
  nl_put(&m, 1, big, sizeof big);
  ASSERT_EQ_INT(m.err, -EMSGSIZE);
  char err[200];
  ASSERT_EQ_INT(nl_transact(NULL, &m, NULL, NULL, err, sizeof err), -EMSGSIZE);
  ASSERT_CONTAINS(err, "building a netlink message");
  nl_msg_free(&m);
}

/* As root: a network namespace of this process's own, then links, addresses
 * and routes through rtnl and checked through the kernel's answers. */
static void test_rtnl_netns(void) {
  if (geteuid() != 0)
    TEST_SKIP("needs root (a network namespace of its own)");
  ASSERT_EQ_INT(unshare(CLONE_NEWNET), 0);
  nl_sock_t *s;
  ASSERT_EQ_INT(nl_open(NETLINK_ROUTE, &s), 0);
  char err[256];
  ASSERT_EQ_INT(rtnl_link_index(s, "nosuch0", err, sizeof err), -ENODEV);
  ASSERT_CONTAINS(err, "nosuch0");
  ASSERT_EQ_INT(rtnl_link_index(s, "an-interface-name-too-long", err, sizeof err), -EINVAL);
  ASSERT_CONTAINS(err, "longer than 15");
  ASSERT_EQ_INT(rtnl_link_ensure(s, "k3ct0", "bridge", NULL, NULL, NULL, err, sizeof err), 1);
  ASSERT_EQ_INT(rtnl_link_ensure(s, "k3ct0", "bridge", NULL, NULL, NULL, err, sizeof err), 0);
  int idx = rtnl_link_index(s, "k3ct0", err, sizeof err);
  ASSERT_GE_INT(idx, 1);
  ASSERT_EQ_INT(rtnl_link_up(s, idx, err, sizeof err), 0);
  struct in_addr a;
  inet_pton(AF_INET, "10.43.0.10", &a);
  ASSERT_EQ_INT(rtnl_addr4_ensure(s, idx, a, 32, RT_SCOPE_UNIVERSE, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_addr4_ensure(s, idx, a, 32, RT_SCOPE_UNIVERSE, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_addr4_ensure(s, idx, a, 40, RT_SCOPE_UNIVERSE, err, sizeof err), -EINVAL);
  rtnl_route4_t r = {.prefix = 24, .ifindex = idx};
  inet_pton(AF_INET, "10.42.7.0", &r.dst);
  ASSERT_EQ_INT(rtnl_route4_replace(s, &r, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_route4_replace(s, &r, err, sizeof err), 0); /* replace is idempotent */
  /* a gateway off every subnet needs onlink: the kernel refuses, with a reason */
  rtnl_route4_t g = {.prefix = 24, .ifindex = idx};
  inet_pton(AF_INET, "10.42.8.0", &g.dst);
  inet_pton(AF_INET, "10.42.8.0", &g.gw);
  ASSERT_TRUE(rtnl_route4_replace(s, &g, err, sizeof err) < 0);
  ASSERT_CONTAINS(err, "setting route 10.42.8.0/24");
  g.onlink = true;
  ASSERT_EQ_INT(rtnl_route4_replace(s, &g, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_route4_del(s, &g, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_route4_del(s, &g, err, sizeof err), 0); /* gone already: still 0 */
  ASSERT_EQ_INT(rtnl_route4_del(s, &r, err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_link_del(s, "k3ct0", err, sizeof err), 0);
  ASSERT_EQ_INT(rtnl_link_index(s, "k3ct0", NULL, 0), -ENODEV);
  ASSERT_EQ_INT(rtnl_link_del(s, "k3ct0", err, sizeof err), 0);
  nl_close(s);
}

TEST_LIST = {TEST(test_layout), TEST(test_parse_hostile), TEST(test_oversized),
             TEST(test_rtnl_netns), {0}};
TEST_MAIN()
