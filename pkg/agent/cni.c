/* The bridge CNI config list for containerd's CRI plugin (CNI spec 1.0.0:
 * https://www.cni.dev/docs/spec/; bridge, host-local and portmap plugin
 * options as their docs list them). */
#include "agent/cni.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
                    const char *ipam_dir, int mtu, bool ip_masq, char *err, size_t errlen) {
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
  cJSON_AddStringToObject(br, "type", "bridge");
  cJSON_AddStringToObject(br, "bridge", bridge);
  cJSON_AddBoolToObject(br, "isGateway", 1);
  cJSON_AddBoolToObject(br, "ipMasq", ip_masq);
  cJSON_AddBoolToObject(br, "hairpinMode", 1);
  if (mtu > 0)
    cJSON_AddNumberToObject(br, "mtu", mtu);
  cJSON *ipam = cJSON_AddObjectToObject(br, "ipam");
  cJSON_AddStringToObject(ipam, "type", "host-local");
  cJSON *range = cJSON_CreateObject();
  cJSON_AddStringToObject(range, "subnet", subnet);
  cJSON *set = cJSON_CreateArray();
  cJSON_AddItemToArray(set, range);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(ipam, "ranges"), set);
  cJSON *route = cJSON_CreateObject();
  cJSON_AddStringToObject(route, "dst", "0.0.0.0/0");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(ipam, "routes"), route);
  cJSON_AddStringToObject(ipam, "dataDir", ipam_dir);
  cJSON_AddItemToArray(plugins, br);
  cJSON *pm = cJSON_CreateObject();
  cJSON_AddStringToObject(pm, "type", "portmap");
  cJSON_AddBoolToObject(cJSON_AddObjectToObject(pm, "capabilities"), "portMappings", 1);
  cJSON_AddItemToArray(plugins, pm);
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
