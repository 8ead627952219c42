/* The CNI config list for containerd's CRI plugin (CNI spec 1.0.0:
 * https://www.cni.dev/docs/spec/) naming k3c's own plugin (pkg/net/
 * cniplugin.h), and the plugin links in the CNI bin dir. */
#include "agent/cni.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"

int agent_cni_subnet(const char *pod_cidr, const char *cluster_cidr, char *ret, size_t retlen,
                     char *err, size_t errlen) {
  const char *cidr = pod_cidr && pod_cidr[0] ? pod_cidr : cluster_cidr;
  char addr[64];
  unsigned bits = 0;
  int end = 0;
  /* The whole string: "10.42.0.0/16x" is no CIDR either. */
  if (!cidr || sscanf(cidr, "%63[0-9.]/%2u%n", addr, &bits, &end) != 2 || cidr[end] ||
      bits > 32) {
    snprintf(err, errlen, "%s is not an IPv4 CIDR (such as 10.42.0.0/16)", cidr ? cidr : "(none)");
    return -EINVAL;
  }
  struct in_addr a;
  if (inet_pton(AF_INET, addr, &a) != 1) {
    snprintf(err, errlen, "%s is not an IPv4 CIDR (such as 10.42.0.0/16)", cidr);
    return -EINVAL;
  }
  if (pod_cidr && pod_cidr[0]) {
    snprintf(ret, retlen, "%s", pod_cidr);
    return 0;
  }
  if (bits > 24) {
    snprintf(err, errlen, "cluster CIDR %s is smaller than one node's /24", cidr);
    return -EINVAL;
  }
  uint32_t net = ntohl(a.s_addr) & (bits ? ~0u << (32 - bits) : 0);
  snprintf(ret, retlen, "%u.%u.%u.0/24", net >> 24, (net >> 16) & 255, (net >> 8) & 255);
  return 0;
}

int agent_cni_write(const char *conf_dir, const char *bridge, const char *subnet,
                    const char *ipam_dir, int mtu, char *err, size_t errlen) {
  char path[4096];
  int r = fs_mkdir_p(conf_dir, 0755);
  if (r < 0) {
    snprintf(err, errlen, "%s: %s", conf_dir, strerror(-r));
    return r;
  }
  /* Built with cJSON so that any name or path comes out as valid JSON. */
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "cniVersion", "1.0.0");
  cJSON_AddStringToObject(doc, "name", "k3c");
  cJSON *plugins = cJSON_AddArrayToObject(doc, "plugins");
  cJSON *br = cJSON_CreateObject();
  cJSON_AddStringToObject(br, "type", AGENT_CNI_TYPE);
  cJSON_AddStringToObject(br, "bridge", bridge);
  if (mtu > 0)
    cJSON_AddNumberToObject(br, "mtu", mtu);
  cJSON *ipam = cJSON_AddObjectToObject(br, "ipam");
  cJSON_AddStringToObject(ipam, "type", "k3c");
  cJSON_AddStringToObject(ipam, "subnet", subnet);
  cJSON_AddStringToObject(ipam, "dataDir", ipam_dir);
  cJSON_AddBoolToObject(cJSON_AddObjectToObject(br, "capabilities"), "portMappings", 1);
  cJSON_AddItemToArray(plugins, br);
  char *body = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (!body) {
    snprintf(err, errlen, "CNI config: out of memory");
    return -ENOMEM;
  }
  size_t n = strlen(body);
  snprintf(path, sizeof(path), "%s/10-k3c.conflist", conf_dir);
  if ((r = fs_write_atomic(path, body, n, 0644)) < 0)
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
  cJSON_free(body);
  return r;
}

/* bin_dir/name -> exe, replacing whatever was there (a rename is atomic:
 * a containerd running a plugin meanwhile finds one or the other). */
static int link_plugin(const char *bin_dir, const char *name, const char *exe, char *err,
                       size_t errlen) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof(path), "%s/%s", bin_dir, name);
  snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", bin_dir, name);
  unlink(tmp);
  if (symlink(exe, tmp) < 0 || rename(tmp, path) < 0) {
    int r = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    unlink(tmp);
    return r;
  }
  return 0;
}

int agent_cni_bin_write(const char *bin_dir, const char *exe, char *err, size_t errlen) {
  char self[4096];
  if (!exe) {
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
      snprintf(err, errlen, "/proc/self/exe: %s", strerror(errno));
      return -errno;
    }
    self[n] = 0;
    /* the binary replaced under a running agent: the new one at that path */
    size_t l = strlen(self), d = strlen(" (deleted)");
    if (l > d && !strcmp(self + l - d, " (deleted)"))
      self[l - d] = 0;
    exe = self;
  }
  int r = fs_mkdir_p(bin_dir, 0755);
  if (r < 0) {
    snprintf(err, errlen, "%s: %s", bin_dir, strerror(-r));
    return r;
  }
  if ((r = link_plugin(bin_dir, AGENT_CNI_TYPE, exe, err, errlen)) < 0)
    return r;
  return link_plugin(bin_dir, "loopback", exe, err, errlen);
}
