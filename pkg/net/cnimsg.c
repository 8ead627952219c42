/* The CNI plugin's request, result, error and version messages (CNI spec
 * 1.0.0, "Execution Protocol" and "Result Types"), no side effects: see
 * cnimsg.h. */
#include "net/cnimsg.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static const char *const versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
#define NVERSIONS (sizeof versions / sizeof versions[0])

int net_cni_fail(net_cni_err_t *e, int code, const char *msg, const char *fmt, ...) {
  e->code = code;
  snprintf(e->msg, sizeof e->msg, "%s", msg);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->details, sizeof e->details, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

bool net_cni_version_supported(const char *v) {
  for (size_t i = 0; i < NVERSIONS; i++)
    if (!strcmp(v, versions[i]))
      return true;
  return false;
}

/* Copy a string field; absent is fine (dst stays ""), another kind is not. */
static int str_field(const cJSON *obj, const char *key, char *dst, size_t len, net_cni_err_t *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsString(v))
    return net_cni_fail(e, NET_CNI_E_FIELD, "unsupported field", "\"%s\" must be a string", key);
  if (strlen(v->valuestring) >= len)
    return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                        "\"%s\" is longer than %zu characters", key, len - 1);
  snprintf(dst, len, "%s", v->valuestring);
  return 0;
}

static int parse_cidr(const char *s, struct in_addr *ret, int *ret_prefix) {
  char a[32];
  unsigned bits;
  int end = 0;
  if (sscanf(s, "%31[0-9.]/%2u%n", a, &bits, &end) != 2 || s[end] || bits > 32 ||
      inet_pton(AF_INET, a, ret) != 1)
    return -EINVAL;
  *ret_prefix = (int)bits;
  return 0;
}

static int env_str(const char *name, const char *v, char *dst, size_t len, bool need,
                   net_cni_err_t *e) {
  if (!v || !v[0]) {
    if (need)
      return net_cni_fail(e, NET_CNI_E_ENV, "invalid environment variables", "%s is not set",
                          name);
    return 0;
  }
  if (strlen(v) >= len)
    return net_cni_fail(e, NET_CNI_E_ENV, "invalid environment variables",
                        "%s is longer than %zu characters", name, len - 1);
  snprintf(dst, len, "%s", v);
  return 0;
}

static int parse_ports(const cJSON *rc, net_cni_req_t *r, net_cni_err_t *e) {
  const cJSON *pm = rc ? cJSON_GetObjectItemCaseSensitive(rc, "portMappings") : NULL;
  if (!pm || cJSON_IsNull(pm))
    return 0;
  if (!cJSON_IsArray(pm))
    return net_cni_fail(e, NET_CNI_E_FIELD, "unsupported field",
                        "runtimeConfig.portMappings must be a list");
  const cJSON *p;
  cJSON_ArrayForEach(p, pm) {
    /* any case: containerd (go-cni) sends Go's field names, "HostPort",
     * which Go plugins read case-insensitively as "hostPort" */
    const cJSON *hp = cJSON_GetObjectItem(p, "hostPort");
    const cJSON *cp = cJSON_GetObjectItem(p, "containerPort");
    const cJSON *pr = cJSON_GetObjectItem(p, "protocol");
    const cJSON *hi = cJSON_GetObjectItem(p, "hostIP");
    if (!cJSON_IsNumber(hp) || !cJSON_IsNumber(cp) || cp->valuedouble < 1 ||
        cp->valuedouble > 65535 || hp->valuedouble < 0 || hp->valuedouble > 65535)
      return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                          "a port mapping needs hostPort and containerPort in 1..65535");
    if (hp->valuedouble < 1) /* not mapped (runtimes leave such out anyway) */
      continue;
    net_cni_port_t port = {.host_port = (uint16_t)hp->valuedouble,
                           .container_port = (uint16_t)cp->valuedouble,
                           .proto = IPPROTO_TCP};
    if (cJSON_IsString(pr) && pr->valuestring[0]) {
      const char *s = pr->valuestring;
      if (!strcasecmp(s, "udp"))
        port.proto = IPPROTO_UDP;
      else if (!strcasecmp(s, "sctp"))
        port.proto = IPPROTO_SCTP;
      else if (strcasecmp(s, "tcp"))
        return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                            "port mapping protocol \"%s\": tcp, udp or sctp", s);
    }
    if (cJSON_IsString(hi) && hi->valuestring[0] &&
        inet_pton(AF_INET, hi->valuestring, &port.host_ip) != 1)
      continue; /* an IPv6 hostIP: this network is IPv4 only */
    if (r->nports == NET_CNI_PORTS_MAX)
      return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                          "more than %d port mappings", NET_CNI_PORTS_MAX);
    r->ports[r->nports++] = port;
  }
  return 0;
}

static void parse_prev(const cJSON *prev, net_cni_req_t *r) {
  const cJSON *ips = prev ? cJSON_GetObjectItemCaseSensitive(prev, "ips") : NULL;
  const cJSON *ip;
  cJSON_ArrayForEach(ip, ips) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(ip, "address");
    struct in_addr addr;
    int prefix;
    if (cJSON_IsString(a) && parse_cidr(a->valuestring, &addr, &prefix) == 0) {
      r->prev_addr = addr;
      r->prev_prefix = prefix;
      return;
    }
  }
}

static int parse_bridge(const cJSON *doc, net_cni_req_t *r, net_cni_err_t *e) {
  int rc;
  if ((rc = str_field(doc, "bridge", r->bridge, sizeof r->bridge, e)) < 0)
    return rc;
  if (!r->bridge[0])
    snprintf(r->bridge, sizeof r->bridge, "cni0");
  const cJSON *mtu = cJSON_GetObjectItemCaseSensitive(doc, "mtu");
  if (mtu && !cJSON_IsNull(mtu)) {
    if (!cJSON_IsNumber(mtu) || mtu->valuedouble < 68 || mtu->valuedouble > 65535)
      return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                          "\"mtu\" must be a number in 68..65535");
    r->mtu = (int)mtu->valuedouble;
  }
  const cJSON *ipam = cJSON_GetObjectItemCaseSensitive(doc, "ipam");
  if (!cJSON_IsObject(ipam))
    return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                        "\"ipam\" with \"subnet\" and \"dataDir\" is required");
  char type[32] = "", subnet[64] = "";
  if ((rc = str_field(ipam, "type", type, sizeof type, e)) < 0 ||
      (rc = str_field(ipam, "subnet", subnet, sizeof subnet, e)) < 0 ||
      (rc = str_field(ipam, "dataDir", r->data_dir, sizeof r->data_dir, e)) < 0)
    return rc;
  if (type[0] && strcmp(type, "k3c"))
    return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                        "ipam type \"%s\": this plugin has its own IPAM (type \"k3c\")", type);
  if (parse_cidr(subnet, &r->subnet, &r->prefix) < 0 || r->prefix < 8 || r->prefix > 30)
    return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                        "ipam subnet \"%s\" is not an IPv4 CIDR of prefix length 8..30", subnet);
  if (r->data_dir[0] != '/')
    return net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                        "ipam dataDir must be an absolute path");
  uint32_t mask = ~0u << (32 - r->prefix);
  r->subnet.s_addr = htonl(ntohl(r->subnet.s_addr) & mask);
  r->gateway.s_addr = htonl(ntohl(r->subnet.s_addr) + 1);
  /* DEL takes the mappings from the lease: a mapping it cannot read must
   * not leave the sandbox undeletable */
  if (r->cmd == NET_CNI_DEL)
    return 0;
  return parse_ports(cJSON_GetObjectItemCaseSensitive(doc, "runtimeConfig"), r, e);
}

int net_cni_parse(const net_cni_env_t *env, const char *conf, size_t conflen,
                  net_cni_req_t *ret, net_cni_err_t *e) {
  net_cni_req_t *r = xcalloc(1, sizeof *r);
  cJSON *doc = NULL;
  int rc = -EINVAL;
  const char *cmd = env->command;
  if (!cmd || !cmd[0]) {
    net_cni_fail(e, NET_CNI_E_ENV, "invalid environment variables",
                 "CNI_COMMAND is not set (ADD, DEL, CHECK or VERSION)");
    goto out;
  }
  if (!strcmp(cmd, "ADD"))
    r->cmd = NET_CNI_ADD;
  else if (!strcmp(cmd, "DEL"))
    r->cmd = NET_CNI_DEL;
  else if (!strcmp(cmd, "CHECK"))
    r->cmd = NET_CNI_CHECK;
  else if (!strcmp(cmd, "VERSION"))
    r->cmd = NET_CNI_VERSION;
  else {
    net_cni_fail(e, NET_CNI_E_ENV, "invalid environment variables",
                 "CNI_COMMAND \"%.64s\" is not ADD, DEL, CHECK or VERSION", cmd);
    goto out;
  }
  if (r->cmd == NET_CNI_VERSION) {
    rc = 0;
    goto out;
  }
  if (env_str("CNI_CONTAINERID", env->container_id, r->container_id, sizeof r->container_id,
              true, e) < 0 ||
      env_str("CNI_NETNS", env->netns, r->netns, sizeof r->netns, r->cmd != NET_CNI_DEL, e) < 0 ||
      env_str("CNI_IFNAME", env->ifname, r->ifname, sizeof r->ifname, true, e) < 0)
    goto out;
  for (const char *p = r->ifname; *p; p++)
    if (*p == '/' || *p == ' ' || *p == ':') {
      net_cni_fail(e, NET_CNI_E_ENV, "invalid environment variables",
                   "CNI_IFNAME \"%s\" is not an interface name", r->ifname);
      goto out;
    }
  doc = conf ? cJSON_ParseWithLength(conf, conflen) : NULL;
  if (!cJSON_IsObject(doc)) {
    net_cni_fail(e, NET_CNI_E_DECODE, "failed to decode content",
                 "the network config on stdin is not a JSON object");
    goto out;
  }
  if (str_field(doc, "cniVersion", r->version, sizeof r->version, e) < 0 ||
      str_field(doc, "name", r->name, sizeof r->name, e) < 0 ||
      str_field(doc, "type", r->type, sizeof r->type, e) < 0)
    goto out;
  if (!net_cni_version_supported(r->version)) {
    net_cni_fail(e, NET_CNI_E_VERSION, "incompatible CNI version",
                 "cniVersion \"%s\" is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0", r->version);
    goto out;
  }
  if (r->cmd == NET_CNI_CHECK && strncmp(r->version, "0.3.", 4) == 0) {
    net_cni_fail(e, NET_CNI_E_VERSION, "incompatible CNI version",
                 "CHECK needs cniVersion 0.4.0 or later, the config has %s", r->version);
    goto out;
  }
  if (!r->name[0]) {
    net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config", "\"name\" is required");
    goto out;
  }
  if (!strcmp(r->type, "loopback")) {
    rc = 0;
  } else if (!strcmp(r->type, "k3c-cni")) {
    if (parse_bridge(doc, r, e) < 0)
      goto out;
    rc = 0;
  } else {
    net_cni_fail(e, NET_CNI_E_CONFIG, "invalid network config",
                 "plugin type \"%.32s\": k3c is the plugins k3c-cni and loopback", r->type);
    goto out;
  }
  parse_prev(cJSON_GetObjectItemCaseSensitive(doc, "prevResult"), r);
out:
  if (rc == 0)
    *ret = *r;
  else /* the error is answered in the config's version when it is one */
    snprintf(ret->version, sizeof ret->version, "%s",
             net_cni_version_supported(r->version) ? r->version : "");
  cJSON_Delete(doc);
  free(r);
  return rc;
}

static char *print(cJSON *doc) {
  char *s = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  char *out = xstrdup(s ? s : "{}"); /* cJSON allocates through xmalloc's hooks */
  cJSON_free(s);
  return out;
}

static const char *ver(const char *v) { return v && v[0] ? v : "1.0.0"; }

char *net_cni_result_json(const char *version, const net_cni_result_t *r) {
  version = ver(version);
  bool old = strcmp(version, "1.0.0") != 0;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "cniVersion", version);
  cJSON *ifs = cJSON_AddArrayToObject(doc, "interfaces");
  for (size_t i = 0; i < r->nifaces; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->ifaces[i].name);
    if (r->ifaces[i].mac[0])
      cJSON_AddStringToObject(o, "mac", r->ifaces[i].mac);
    if (r->ifaces[i].sandbox && r->ifaces[i].sandbox[0])
      cJSON_AddStringToObject(o, "sandbox", r->ifaces[i].sandbox);
    cJSON_AddItemToArray(ifs, o);
  }
  char a[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];
  cJSON *ips = cJSON_AddArrayToObject(doc, "ips");
  if (r->addr.s_addr) {
    cJSON *ip = cJSON_CreateObject();
    if (old)
      cJSON_AddStringToObject(ip, "version", "4");
    inet_ntop(AF_INET, &r->addr, a, sizeof a);
    snprintf(cidr, sizeof cidr, "%s/%d", a, r->prefix);
    cJSON_AddStringToObject(ip, "address", cidr);
    if (r->gateway.s_addr) {
      inet_ntop(AF_INET, &r->gateway, a, sizeof a);
      cJSON_AddStringToObject(ip, "gateway", a);
    }
    cJSON_AddNumberToObject(ip, "interface", r->ip_iface);
    cJSON_AddItemToArray(ips, ip);
  }
  cJSON *routes = cJSON_AddArrayToObject(doc, "routes");
  if (r->addr.s_addr && r->gateway.s_addr) {
    cJSON *rt = cJSON_CreateObject();
    cJSON_AddStringToObject(rt, "dst", "0.0.0.0/0");
    inet_ntop(AF_INET, &r->gateway, a, sizeof a);
    cJSON_AddStringToObject(rt, "gw", a);
    cJSON_AddItemToArray(routes, rt);
  }
  cJSON_AddObjectToObject(doc, "dns");
  return print(doc);
}

char *net_cni_error_json(const char *version, const net_cni_err_t *e) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "cniVersion", ver(version));
  cJSON_AddNumberToObject(doc, "code", e->code);
  cJSON_AddStringToObject(doc, "msg", e->msg);
  if (e->details[0])
    cJSON_AddStringToObject(doc, "details", e->details);
  return print(doc);
}

char *net_cni_version_json(void) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "cniVersion", "1.0.0");
  cJSON *l = cJSON_AddArrayToObject(doc, "supportedVersions");
  for (size_t i = 0; i < NVERSIONS; i++)
    cJSON_AddItemToArray(l, cJSON_CreateString(versions[i]));
  return print(doc);
}

static const char *proto_name(uint8_t p) {
  return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

void net_cni_ports_format(const net_cni_port_t *p, size_t n, char *out, size_t outlen) {
  size_t used = 0;
  if (outlen)
    out[0] = 0;
  for (size_t i = 0; i < n && used + 1 < outlen; i++) {
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p[i].host_ip, a, sizeof a);
    int k = snprintf(out + used, outlen - used, "%s%s/%u/%u/%s", i ? " " : "",
                     proto_name(p[i].proto), p[i].host_port, p[i].container_port, a);
    if (k < 0 || (size_t)k >= outlen - used) {
      out[used] = 0; /* whole entries only */
      break;
    }
    used += (size_t)k;
  }
}

int net_cni_ports_parse(const char *s, net_cni_port_t *out, size_t max, size_t *ret_n) {
  size_t n = 0;
  while (*s) {
    while (*s == ' ')
      s++;
    if (!*s)
      break;
    char proto[8], addr[INET_ADDRSTRLEN];
    unsigned hp, cp;
    int used = 0;
    if (sscanf(s, "%7[a-z]/%5u/%5u/%15[0-9.]%n", proto, &hp, &cp, addr, &used) != 4 ||
        (s[used] && s[used] != ' ') || hp < 1 || hp > 65535 || cp < 1 || cp > 65535 || n == max)
      return -EINVAL;
    net_cni_port_t p = {.host_port = (uint16_t)hp, .container_port = (uint16_t)cp};
    if (!strcmp(proto, "tcp"))
      p.proto = IPPROTO_TCP;
    else if (!strcmp(proto, "udp"))
      p.proto = IPPROTO_UDP;
    else if (!strcmp(proto, "sctp"))
      p.proto = IPPROTO_SCTP;
    else
      return -EINVAL;
    if (inet_pton(AF_INET, addr, &p.host_ip) != 1)
      return -EINVAL;
    out[n++] = p;
    s += used;
  }
  *ret_n = n;
  return 0;
}
