/* `k3c check-config`: what k3s's check-config.sh reports, for the pieces k3c
 * needs: the kernel, cgroups (v1 or v2) and their controllers, namespaces,
 * the overlay filesystem, the pod network's kernel parts (bridge,
 * br_netfilter, vxlan, nf_tables) and the node agent's programs. Reads
 * /proc and /sys and asks nf_tables over netlink; changes nothing. */
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cli.h"

#define KERNEL_MIN_MAJOR 4
#define KERNEL_MIN_MINOR 15 /* cgroup2 with the cpu controller, overlayfs as containerd uses it */

static int failures;

static void report(const char *what, bool ok, bool required, const char *hint) {
  printf("  %-52s %s", what, ok ? "ok" : required ? "MISSING" : "missing (optional)");
  if (!ok && hint)
    printf("  (%s)", hint);
  putchar('\n');
  if (!ok && required)
    failures++;
}

static bool file_contains(const char *path, const char *needle) {
  FILE *f = fopen(path, "re");
  if (!f)
    return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f))
    found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* A module is usable if it is loaded or built in (built-in ones with
 * parameters show in /sys/module too). */
static bool module_available(const char *name) {
  char path[256];
  snprintf(path, sizeof(path), "/sys/module/%s", name);
  return exists(path) || file_contains("/proc/modules", name);
}

static bool on_path(const char *prog) {
  const char *dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"};
  char path[256];
  for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
    snprintf(path, sizeof(path), "%s/%s", dirs[i], prog);
    if (access(path, X_OK) == 0)
      return true;
  }
  return false;
}

/* cgroup v1: the controller's line in /proc/cgroups says enabled (1). */
static bool v1_enabled(const char *ctrl) {
  FILE *f = fopen("/proc/cgroups", "re");
  if (!f)
    return false;
  char line[256], name[64];
  int hier, num, enabled;
  bool on = false;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "%63s %d %d %d", name, &hier, &num, &enabled) == 4 && !strcmp(name, ctrl))
      on = enabled == 1;
  fclose(f);
  return on;
}

/* nf_tables answers a "get generation" request over netlink (the service
 * proxy and network policies are nftables rules). */
static bool nf_tables_available(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0)
    return false;
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  struct {
    struct nlmsghdr nh;
    struct nfgenmsg nf;
  } req;
  memset(&req, 0, sizeof(req));
  req.nh.nlmsg_len = sizeof(req);
  req.nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.nh.nlmsg_seq = 1;
  req.nf.nfgen_family = AF_UNSPEC;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  bool ok = false;
  if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)sizeof(req)) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n >= (ssize_t)sizeof(struct nlmsghdr)) {
      struct nlmsghdr *h = (struct nlmsghdr *)buf;
      if (h->nlmsg_type == NLMSG_ERROR && n >= (ssize_t)(sizeof(*h) + sizeof(int)))
        ok = *(int *)NLMSG_DATA(h) == 0;
      else
        ok = h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN);
    }
  }
  close(fd);
  return ok;
}

static void usage(FILE *out) {
  fprintf(out, "Usage: k3c check-config\n\n"
               "Report whether this host can run k3c: kernel, cgroups, namespaces, the overlay\n"
               "filesystem, the pod network's kernel parts and the agent's programs. Changes\n"
               "nothing. Exit status 0 when every required item is there, 1 otherwise.\n");
}

int cli_check_config(int argc, char **argv) {
  if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
    usage(stdout);
    return 0;
  }
  if (argc > 0) {
    fprintf(stderr, "k3c check-config: unexpected argument \"%s\" (it takes none)\n", argv[0]);
    usage(stderr);
    return 2;
  }
  failures = 0;
  struct utsname u;
  int major = 0, minor = 0;
  if (uname(&u) == 0)
    sscanf(u.release, "%d.%d", &major, &minor);
  char what[128];
  printf("Kernel:\n");
  snprintf(what, sizeof(what), "kernel %.60s (>= %d.%d)", u.release, KERNEL_MIN_MAJOR,
           KERNEL_MIN_MINOR);
  report(what, major > KERNEL_MIN_MAJOR || (major == KERNEL_MIN_MAJOR && minor >= KERNEL_MIN_MINOR),
         true, "upgrade the kernel");
  report("running as root", geteuid() == 0, false, "the server's agent and k3c agent need root");

  printf("Cgroups:\n");
  bool v2 = exists("/sys/fs/cgroup/cgroup.controllers");
  bool v1 = !v2 && exists("/sys/fs/cgroup/memory");
  report(v2   ? "cgroup v2 (unified)"
         : v1 ? (exists("/sys/fs/cgroup/unified/cgroup.controllers") ? "cgroup v1 (hybrid)"
                                                                      : "cgroup v1")
              : "cgroups mounted",
         v1 || v2, true, "mount cgroup2 on /sys/fs/cgroup");
  static const char *const ctrls[] = {"memory", "cpu", "pids", "cpuset"};
  for (size_t i = 0; i < sizeof(ctrls) / sizeof(*ctrls); i++) {
    bool on = v2 ? file_contains("/sys/fs/cgroup/cgroup.controllers", ctrls[i]) : v1_enabled(ctrls[i]);
    snprintf(what, sizeof(what), "cgroup %s controller", ctrls[i]);
    report(what, on, i < 2,
           i == 0 ? "boot with cgroup_enable=memory cgroup_memory=1 (Raspberry Pi: /boot/cmdline.txt)"
                  : NULL);
  }

  printf("Namespaces:\n");
  const char *ns[] = {"net", "pid", "ipc", "uts", "mnt"};
  for (size_t i = 0; i < sizeof(ns) / sizeof(*ns); i++) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
    snprintf(what, sizeof(what), "%s namespace", ns[i]);
    report(what, exists(path), true, "rebuild the kernel with namespaces");
  }

  printf("Filesystems and networking:\n");
  report("overlay filesystem", file_contains("/proc/filesystems", "overlay") || module_available("overlay"),
         false, "modprobe overlay; without it containerd uses the slower native snapshotter");
  report("bridge (cni0)", module_available("bridge") || exists("/proc/sys/net/bridge"), true,
         "modprobe bridge");
  /* without it, traffic between two pods of one node is bridged past the
   * forward hook, where network policies are enforced (docs/NETWORK.md) */
  bool brnf = exists("/proc/sys/net/bridge/bridge-nf-call-iptables");
  report("br_netfilter (policy between pods of a node)", brnf, false,
         "modprobe br_netfilter; without it same-node pod traffic is not filtered");
  if (brnf)
    report("net.bridge.bridge-nf-call-iptables = 1",
           file_contains("/proc/sys/net/bridge/bridge-nf-call-iptables", "1"), false,
           "sysctl -w net.bridge.bridge-nf-call-iptables=1");
  report("vxlan (pod overlay between nodes)", module_available("vxlan"), false, "modprobe vxlan");
  report("nf_tables (service proxy, network policy)", nf_tables_available(), false,
         geteuid() ? "run as root to check" : "modprobe nf_tables");
  report("IPv4 forwarding enabled", file_contains("/proc/sys/net/ipv4/ip_forward", "1"), false,
         "k3c's CNI plugin turns it on with the first pod");

  printf("Programs (the node agent):\n");
  report("containerd", on_path("containerd"), true, "apt-get install containerd");
  report("runc", on_path("runc"), true, "apt-get install runc");
  /* the pod network's CNI plugin is k3c itself (pkg/net/cniplugin.h) */
  printf("\n%s\n", failures ? "Some required items are missing." : "This host can run k3c.");
  return failures ? 1 : 0;
}
