/* The bridge CNI config list for containerd's CRI plugin (CNI spec 1.0.0:
 * https://www.cni.dev/docs/spec/; bridge, host-local and portmap plugin
 * options as their docs list them). */
#include "agent/cni.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/fsutil.h"

int agent_cni_subnet(const char *pod_cidr, const char *cluster_cidr, char *ret, size_t retlen,
                     char *err, size_t errlen) {
  const char *cidr = pod_cidr && pod_cidr[0] ? pod_cidr : cluster_cidr;
  char addr[64];
  unsigned bits = 0;
  if (!cidr || sscanf(cidr, "%63[0-9.]/%u", addr, &bits) != 2 || bits > 32) {
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
                    const char *ipam_dir, char *err, size_t errlen) {
  char path[4096], body[2048];
  int r = fs_mkdir_p(conf_dir, 0755);
  if (r < 0) {
    snprintf(err, errlen, "%s: %s", conf_dir, strerror(-r));
    return r;
  }
  int n = snprintf(body, sizeof(body),
                   "{\"cniVersion\":\"1.0.0\",\"name\":\"k3c\",\"plugins\":["
                   "{\"type\":\"bridge\",\"bridge\":\"%s\",\"isGateway\":true,\"ipMasq\":true,"
                   "\"hairpinMode\":true,\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{"
                   "\"subnet\":\"%s\"}]],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
                   "\"dataDir\":\"%s\"}},"
                   "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}\n",
                   bridge, subnet, ipam_dir);
  if (n < 0 || (size_t)n >= sizeof(body)) {
    snprintf(err, errlen, "CNI config too long");
    return -E2BIG;
  }
  snprintf(path, sizeof(path), "%s/10-k3c.conflist", conf_dir);
  if ((r = fs_write_atomic(path, body, (size_t)n, 0644)) < 0)
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
  return r;
}
