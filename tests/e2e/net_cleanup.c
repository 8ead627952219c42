/* For the e2e cleanups (pods_lib.sh): k3c's nf_tables tables in the current
 * network namespace, without an nft program: the overlay's masquerade
 * table (pkg/net/masq.h) or, with "proxy", the service proxy's
 * (pkg/net/proxy.h), with "netpol", the network policies' (pkg/net/netpol.h),
 * with "hostport", the CNI plugin's hostPort table (pkg/net/hostport.h).
 *   net_cleanup exists [proxy|netpol|hostport]  exit 0 if the table exists, 1 if not
 *   net_cleanup remove [proxy|netpol|hostport]  delete it (exit 0 also when there was none)
 *   net_cleanup rules  [proxy|netpol|hostport]  print its rules (nft_describe's text) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/netlink.h>

#include "net/hostport.h"
#include "net/masq.h"
#include "net/netpol.h"
#include "net/nft.h"
#include "net/nl.h"
#include "net/proxy.h"

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3 ||
      (strcmp(argv[1], "exists") && strcmp(argv[1], "remove") && strcmp(argv[1], "rules")) ||
      (argc == 3 && strcmp(argv[2], "proxy") && strcmp(argv[2], "netpol") &&
       strcmp(argv[2], "hostport"))) {
    fprintf(stderr, "usage: net_cleanup exists|remove|rules [proxy|netpol|hostport]\n");
    return 2;
  }
  const char *table = argc < 3                      ? NET_MASQ_TABLE
                      : !strcmp(argv[2], "proxy")  ? NET_PROXY_TABLE
                      : !strcmp(argv[2], "netpol") ? NET_NETPOL_TABLE
                                                   : NET_HOSTPORT_TABLE;
  nl_sock_t *s;
  int r = nl_open(NETLINK_NETFILTER, &s);
  if (r < 0) {
    fprintf(stderr, "net_cleanup: nfnetlink: %s\n", strerror(-r));
    return 2;
  }
  char err[256], rules[8192];
  if (!strcmp(argv[1], "exists") || !strcmp(argv[1], "rules")) {
    r = nft_describe(s, table, 1, rules, sizeof rules, err, sizeof err);
    nl_close(s);
    if (r == 0 && !strcmp(argv[1], "rules"))
      printf("%s\n", rules);
    if (r < 0 && r != -ENOENT)
      fprintf(stderr, "net_cleanup: %s\n", err);
    return r == 0 ? 0 : r == -ENOENT ? 1 : 2;
  }
  if (!strcmp(argv[1], "rules")) {
    static char all[1 << 20];
    r = nft_describe(s, table, 1, all, sizeof all, err, sizeof err);
    nl_close(s);
    if (r < 0) {
      fprintf(stderr, "net_cleanup: %s\n", err);
      return r == -ENOENT ? 1 : 2;
    }
    for (char *p = all; *p; p++)
      if (*p == ';')
        *p = '\n';
    puts(all);
    return 0;
  }
  r = nft_table_remove(s, table, err, sizeof err);
  nl_close(s);
  if (r < 0) {
    fprintf(stderr, "net_cleanup: %s\n", err);
    return 1;
  }
  return 0;
}
