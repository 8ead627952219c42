/* For the e2e cleanups (pods_lib.sh): the overlay's masquerade table
 * (pkg/net/masq.h) in the current network namespace, without an nft
 * program.
 *   net_cleanup exists   exit 0 if table ip k3c-overlay exists, 1 if not
 *   net_cleanup remove   delete it (exit 0 also when there was none) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/netlink.h>

#include "net/masq.h"
#include "net/nl.h"

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "exists") && strcmp(argv[1], "remove"))) {
    fprintf(stderr, "usage: net_cleanup exists|remove\n");
    return 2;
  }
  nl_sock_t *s;
  int r = nl_open(NETLINK_NETFILTER, &s);
  if (r < 0) {
    fprintf(stderr, "net_cleanup: nfnetlink: %s\n", strerror(-r));
    return 2;
  }
  char err[256], rules[512];
  if (!strcmp(argv[1], "exists")) {
    r = net_masq_describe(s, rules, sizeof rules, err, sizeof err);
    nl_close(s);
    if (r < 0 && r != -ENOENT)
      fprintf(stderr, "net_cleanup: %s\n", err);
    return r == 0 ? 0 : r == -ENOENT ? 1 : 2;
  }
  r = net_masq_remove(s, err, sizeof err);
  nl_close(s);
  if (r < 0) {
    fprintf(stderr, "net_cleanup: %s\n", err);
    return 1;
  }
  return 0;
}
