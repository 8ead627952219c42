/* `k3c check-config`: what k3s's check-config.sh reports, for the pieces k3c
 * needs: cgroups, namespaces, the kernel modules of the pod network and the
 * overlay filesystem. Reads /proc and /sys only; changes nothing. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static int failures;

static void report(const char *what, bool ok, bool required, const char *hint) {
  printf("  %-44s %s", what, ok ? "ok" : required ? "MISSING" : "missing (optional)");
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

/* A module is usable if it is loaded, built in, or loadable from disk. */
static bool module_available(const char *name) {
  char path[256];
  snprintf(path, sizeof(path), "/sys/module/%s", name);
  if (exists(path))
    return true;
  return file_contains("/proc/modules", name);
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

int cli_check_config(int argc, char **argv) {
  if (argc > 0) {
    fprintf(stderr, "k3c check-config: unexpected argument \"%s\" (it takes none)\n", argv[0]);
    return 2;
  }
  failures = 0;
  printf("System:\n");
  report("running as root", geteuid() == 0, false, "the server and agent need root");
  report("cgroup v2 (/sys/fs/cgroup/cgroup.controllers)", exists("/sys/fs/cgroup/cgroup.controllers"),
         true, "mount cgroup2 on /sys/fs/cgroup");
  report("cgroup memory controller", file_contains("/sys/fs/cgroup/cgroup.controllers", "memory"),
         true, "boot with cgroup_enable=memory (Raspberry Pi: /boot/cmdline.txt)");
  report("cgroup cpu controller", file_contains("/sys/fs/cgroup/cgroup.controllers", "cpu"), false,
         NULL);
  printf("Namespaces:\n");
  const char *ns[] = {"net", "pid", "ipc", "uts", "mnt"};
  for (size_t i = 0; i < sizeof(ns) / sizeof(*ns); i++) {
    char path[64], what[64];
    snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
    snprintf(what, sizeof(what), "%s namespace", ns[i]);
    report(what, exists(path), true, "rebuild the kernel with namespaces");
  }
  printf("Filesystems and networking:\n");
  report("overlay filesystem", file_contains("/proc/filesystems", "overlay") || module_available("overlay"),
         true, "modprobe overlay");
  report("vxlan (pod overlay)", module_available("vxlan"), false, "modprobe vxlan");
  report("bridge (cni0)", module_available("bridge"), false, "modprobe bridge");
  report("br_netfilter", module_available("br_netfilter"), false, "modprobe br_netfilter");
  report("IPv4 forwarding enabled", file_contains("/proc/sys/net/ipv4/ip_forward", "1"), false,
         "the agent turns it on at start");
  printf("Tools:\n");
  report("containerd", on_path("containerd"), false, "apt-get install containerd");
  report("runc", on_path("runc"), false, "apt-get install runc");
  printf("\n%s\n", failures ? "Some required items are missing." : "This host can run k3c.");
  return failures ? 1 : 0;
}
