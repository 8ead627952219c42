/* Facts about the real machine for the node agent: what a kubelet reports
 * in a Node's status (capacity, allocatable, addresses, nodeInfo), the
 * pressure conditions of its default hard eviction thresholds, and the
 * registration labels and taints (--node-label, --node-taint).
 * https://kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources/
 * https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/ */
#include "agent/host.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/quantity.h"
#include "util/errbuf.h"
#include "util/fsutil.h"

#define SMALL_FILE_MAX (64 * 1024)
#define MEM_EVICTION_BYTES (100ull << 20) /* memory.available<100Mi */
#define NODEFS_EVICTION_PERCENT 10        /* nodefs.available<10% */
#define PID_EVICTION_PERCENT 90

/* ---- reading files under root ---- */

static int root_path(const char *root, const char *path, char *out, size_t len) {
  int n = snprintf(out, len, "%s%s", root ? root : "", path);
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The whole of <root><path> (caller frees). */
static int read_text(const char *root, const char *path, char **ret) {
  char p[PATH_MAX];
  int r = root_path(root, path, p, sizeof(p));
  if (r < 0)
    return r;
  return fs_read_file(p, SMALL_FILE_MAX, ret, NULL);
}

static char *trim(char *s) {
  while (*s && isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    s[--n] = 0;
  return s;
}

/* The first line of <root><path>, trimmed, into out. */
static int read_line(const char *root, const char *path, char *out, size_t len) {
  char *text = NULL;
  int r = read_text(root, path, &text);
  if (r < 0)
    return r;
  char *nl = strchr(text, '\n');
  if (nl)
    *nl = 0;
  char *t = trim(text);
  r = *t ? 0 : -ENODATA;
  if (r == 0)
    snprintf(out, len, "%s", t);
  free(text);
  return r;
}

/* A "Key:   123 kB" line of /proc/meminfo, in bytes. */
static int meminfo_bytes(const char *text, const char *key, uint64_t *ret) {
  size_t klen = strlen(key);
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    if (strncmp(l, key, klen) || l[klen] != ':')
      continue;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(l + klen + 1, &end, 10);
    if (errno || end == l + klen + 1)
      return -EINVAL;
    while (*end == ' ')
      end++;
    *ret = strncmp(end, "kB", 2) ? (uint64_t)v : (uint64_t)v * 1024;
    return 0;
  }
  return -ENOENT;
}

/* PRETTY_NAME of an os-release file, unquoted. */
static void os_release_pretty(char *text, char *out, size_t len) {
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (strncmp(l, "PRETTY_NAME=", 12))
      continue;
    char *v = trim(l + 12);
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
      v[n - 1] = 0;
      v++;
    }
    if (*v) {
      snprintf(out, len, "%s", v);
      return;
    }
  }
}

const char *agent_host_arch(void) {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#else
  return "unknown";
#endif
}

int agent_host_default_iface(const char *root, char *ret_iface, size_t len) {
  char *text = NULL;
  int r = read_text(root, "/proc/net/route", &text);
  if (r < 0)
    return r;
  char best[IF_NAMESIZE + 1] = "";
  unsigned long best_metric = 0;
  char *save = NULL;
  bool header = true;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (header) { /* "Iface Destination Gateway Flags ..." */
      header = false;
      continue;
    }
    char iface[64];
    unsigned long dest, gw, flags, refcnt, use, metric, mask;
    if (sscanf(l, "%63s %lx %lx %lx %lu %lu %lu %lx", iface, &dest, &gw, &flags, &refcnt, &use,
               &metric, &mask) != 8)
      continue;
    if (dest != 0 || mask != 0 || !(flags & 1 /* RTF_UP */) || strlen(iface) > IF_NAMESIZE)
      continue;
    if (!best[0] || metric < best_metric) {
      memcpy(best, iface, strlen(iface) + 1);
      best_metric = metric;
    }
  }
  free(text);
  if (!best[0])
    return -ENOENT;
  if (strlen(best) >= len)
    return -ENAMETOOLONG;
  snprintf(ret_iface, len, "%s", best);
  return 0;
}

/* The first IPv4 address of iface, or 127.0.0.1. */
static void iface_ipv4(const char *iface, char *out, size_t len) {
  snprintf(out, len, "127.0.0.1");
  struct ifaddrs *ifs = NULL;
  if (!iface || getifaddrs(&ifs) < 0)
    return;
  for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, iface))
      continue;
    char a[INET_ADDRSTRLEN];
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
    if (inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a))) {
      snprintf(out, len, "%s", a);
      break;
    }
  }
  freeifaddrs(ifs);
}

int agent_host_read(const char *root, const char *data_dir, agent_host_t *ret) {
  agent_host_t h;
  memset(&h, 0, sizeof(h));
  char *text = NULL;
  int r = read_text(root, "/proc/meminfo", &text);
  if (r < 0)
    return r;
  r = meminfo_bytes(text, "MemTotal", &h.memory_bytes);
  free(text);
  text = NULL;
  if (r < 0)
    return r;
  struct statvfs vfs;
  if (statvfs(data_dir && data_dir[0] ? data_dir : "/", &vfs) < 0)
    return -errno;
  h.storage_bytes = (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;

  if (read_line(root, "/proc/sys/kernel/hostname", h.hostname, sizeof(h.hostname)) < 0 &&
      gethostname(h.hostname, sizeof(h.hostname) - 1) < 0)
    snprintf(h.hostname, sizeof(h.hostname), "localhost");
  for (char *p = h.hostname; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = cpus > 0 && cpus < INT_MAX ? (int)cpus : 1;
  struct utsname u;
  if (read_line(root, "/proc/sys/kernel/osrelease", h.kernel, sizeof(h.kernel)) < 0 &&
      uname(&u) == 0)
    snprintf(h.kernel, sizeof(h.kernel), "%s", u.release);
  snprintf(h.os_image, sizeof(h.os_image), "Linux");
  if (read_text(root, "/etc/os-release", &text) == 0 ||
      read_text(root, "/usr/lib/os-release", &text) == 0) {
    os_release_pretty(text, h.os_image, sizeof(h.os_image));
    free(text);
  }
  read_line(root, "/etc/machine-id", h.machine_id, sizeof(h.machine_id));
  read_line(root, "/proc/sys/kernel/random/boot_id", h.boot_id, sizeof(h.boot_id));
  if (read_line(root, "/sys/class/dmi/id/product_uuid", h.system_uuid, sizeof(h.system_uuid)) < 0)
    snprintf(h.system_uuid, sizeof(h.system_uuid), "%s", h.machine_id);
  h.arch = agent_host_arch();
  char iface[IF_NAMESIZE + 1];
  iface_ipv4(agent_host_default_iface(root, iface, sizeof(iface)) == 0 ? iface : NULL, h.node_ip,
             sizeof(h.node_ip));
  *ret = h;
  return 0;
}

/* ---- resources ---- */

/* q in units of 10^scale (scale -3: millis), rounded up; -ERANGE past
 * INT64_MAX, -EINVAL when negative. */
static int quantity_int(const quantity_t *q, int scale, int64_t *ret) {
  if (q->neg && q->n)
    return -EINVAL;
  int64_t v = 0;
  bool frac = false;
  for (int i = 0; i < q->n; i++) {
    long p = (long)q->exp + (q->n - 1 - i) - scale;
    if (p < 0) {
      frac = frac || q->d[i];
      continue;
    }
    if (!q->d[i])
      continue;
    if (p > 18)
      return -ERANGE;
    int64_t t = q->d[i];
    for (long k = 0; k < p; k++) {
      if (t > INT64_MAX / 10)
        return -ERANGE;
      t *= 10;
    }
    if (v > INT64_MAX - t)
      return -ERANGE;
    v += t;
  }
  if (frac) {
    if (v == INT64_MAX)
      return -ERANGE;
    v++;
  }
  *ret = v;
  return 0;
}

typedef struct {
  int64_t cpu_milli, memory, storage;
} resources_t;

/* Add a reserved list "cpu=100m,memory=256Mi,ephemeral-storage=1Gi,pid=100"
 * to *sum (pid is accepted, as the kubelet's, and has no allocatable). */
static int reserved_add(const char *what, const char *list, resources_t *sum, char *err,
                        size_t errlen) {
  if (!list || !*list)
    return 0;
  bool seen[4] = {false, false, false, false};
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == '\t')
      p++;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (len == 0) {
      p += end ? 1 : 0;
      continue;
    }
    if (!eq || eq == p) {
      errbuf_set(err, errlen, "%s: \"%.*s\" is not name=quantity", what, (int)len, p);
      return -EINVAL;
    }
    size_t nlen = (size_t)(eq - p);
    while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
      nlen--;
    static const char *const names[] = {"cpu", "memory", "ephemeral-storage", "pid"};
    int which = -1;
    for (int i = 0; i < 4; i++)
      if (strlen(names[i]) == nlen && !strncmp(p, names[i], nlen))
        which = i;
    if (which < 0) {
      errbuf_set(err, errlen,
                 "%s: unknown resource \"%.*s\" (cpu, memory, ephemeral-storage or pid)", what,
                 (int)nlen, p);
      return -EINVAL;
    }
    if (seen[which]) {
      errbuf_set(err, errlen, "%s: %s given twice", what, names[which]);
      return -EINVAL;
    }
    seen[which] = true;
    quantity_t q;
    const char *qerr = NULL;
    size_t vlen = len - (size_t)(eq - p) - 1;
    int64_t v = 0;
    int r = quantity_parse(eq + 1, vlen, &q, &qerr);
    if (r == 0)
      r = quantity_int(&q, which == 0 ? -3 : 0, &v);
    if (r < 0) {
      errbuf_set(err, errlen, "%s: %s=\"%.*s\": %s", what, names[which], (int)vlen, eq + 1,
                 qerr ? qerr : r == -ERANGE ? "too large" : "must not be negative");
      return -EINVAL;
    }
    int64_t *slot = which == 0 ? &sum->cpu_milli
                    : which == 1 ? &sum->memory
                    : which == 2 ? &sum->storage
                                 : NULL;
    if (slot)
      *slot = *slot > INT64_MAX - v ? INT64_MAX : *slot + v;
    p += len + (end ? 1 : 0);
  }
  return 0;
}

static void add_cpu(cJSON *obj, int64_t milli) {
  char b[32];
  if (milli % 1000 == 0)
    snprintf(b, sizeof(b), "%" PRId64, milli / 1000);
  else
    snprintf(b, sizeof(b), "%" PRId64 "m", milli);
  cJSON_AddStringToObject(obj, "cpu", b);
}

/* Bytes as upstream's canonical binary-SI text: the largest suffix that
 * divides the value exactly ("16Gi", "16318976Ki"), plain bytes otherwise. */
static void add_bytes(cJSON *obj, const char *name, int64_t v) {
  static const char *const suffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int s = 0;
  while (v != 0 && s < 6 && v % 1024 == 0) {
    v /= 1024;
    s++;
  }
  char b[40];
  snprintf(b, sizeof(b), "%" PRId64 "%s", v, suffix[s]);
  cJSON_AddStringToObject(obj, name, b);
}

static void add_resources(cJSON *st, const char *name, int64_t cpu_milli, int64_t memory,
                          int64_t storage) {
  cJSON *r = cJSON_AddObjectToObject(st, name);
  add_cpu(r, cpu_milli);
  add_bytes(r, "ephemeral-storage", storage);
  add_bytes(r, "memory", memory);
  char pods[16];
  snprintf(pods, sizeof(pods), "%d", AGENT_HOST_PODS);
  cJSON_AddStringToObject(r, "pods", pods);
}

static int64_t clamp_sub(int64_t a, int64_t b) { return a > b ? a - b : 0; }

static int64_t u64_to_i64(uint64_t v) { return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v; }

cJSON *agent_host_node_status(const agent_host_t *h, const char *node_ip,
                              const char *kube_reserved, const char *system_reserved,
                              const char *runtime_version, const char *kubelet_version,
                              char *err, size_t errlen) {
  resources_t res = {0, 0, 0};
  if (reserved_add("kube-reserved", kube_reserved, &res, err, errlen) < 0 ||
      reserved_add("system-reserved", system_reserved, &res, err, errlen) < 0)
    return NULL;
  int64_t cpu = (int64_t)h->cpus * 1000;
  int64_t mem = u64_to_i64(h->memory_bytes), disk = u64_to_i64(h->storage_bytes);
  if (!node_ip || !node_ip[0])
    node_ip = h->node_ip;
  cJSON *st = cJSON_CreateObject();
  add_resources(st, "capacity", cpu, mem, disk);
  add_resources(st, "allocatable", clamp_sub(cpu, res.cpu_milli), clamp_sub(mem, res.memory),
                clamp_sub(disk, res.storage));
  cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "type", "InternalIP");
  cJSON_AddStringToObject(a, "address", node_ip);
  cJSON_AddItemToArray(addrs, a);
  a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "type", "Hostname");
  cJSON_AddStringToObject(a, "address", h->hostname);
  cJSON_AddItemToArray(addrs, a);
  cJSON *de = cJSON_AddObjectToObject(cJSON_AddObjectToObject(st, "daemonEndpoints"),
                                      "kubeletEndpoint");
  cJSON_AddNumberToObject(de, "Port", AGENT_HOST_KUBELET_PORT);
  cJSON *ni = cJSON_AddObjectToObject(st, "nodeInfo");
  cJSON_AddStringToObject(ni, "machineID", h->machine_id);
  cJSON_AddStringToObject(ni, "systemUUID", h->system_uuid);
  cJSON_AddStringToObject(ni, "bootID", h->boot_id);
  cJSON_AddStringToObject(ni, "kernelVersion", h->kernel);
  cJSON_AddStringToObject(ni, "osImage", h->os_image);
  cJSON_AddStringToObject(ni, "containerRuntimeVersion", runtime_version ? runtime_version : "");
  cJSON_AddStringToObject(ni, "kubeletVersion", kubelet_version ? kubelet_version : "");
  cJSON_AddStringToObject(ni, "kubeProxyVersion", kubelet_version ? kubelet_version : "");
  cJSON_AddStringToObject(ni, "operatingSystem", "linux");
  cJSON_AddStringToObject(ni, "architecture", h->arch ? h->arch : agent_host_arch());
  return st;
}

/* ---- pressure ---- */

void agent_host_pressure(const char *root, const char *data_dir, bool *mem, bool *disk,
                         bool *pid) {
  char *text = NULL;
  if (mem) {
    uint64_t avail = 0;
    *mem = false;
    if (read_text(root, "/proc/meminfo", &text) == 0) {
      *mem = meminfo_bytes(text, "MemAvailable", &avail) == 0 && avail < MEM_EVICTION_BYTES;
      free(text);
      text = NULL;
    }
  }
  if (disk) {
    struct statvfs vfs;
    *disk = false;
    if (statvfs(data_dir && data_dir[0] ? data_dir : "/", &vfs) == 0 && vfs.f_blocks > 0)
      *disk = (uint64_t)vfs.f_bavail * 100 < (uint64_t)vfs.f_blocks * NODEFS_EVICTION_PERCENT;
  }
  if (pid) {
    char line[256], max[64];
    *pid = false;
    /* loadavg: "0.00 0.01 0.05 1/123 4567": 123 tasks exist */
    if (read_line(root, "/proc/loadavg", line, sizeof(line)) == 0 &&
        read_line(root, "/proc/sys/kernel/pid_max", max, sizeof(max)) == 0) {
      const char *slash = strchr(line, '/');
      unsigned long long used = slash ? strtoull(slash + 1, NULL, 10) : 0;
      unsigned long long limit = strtoull(max, NULL, 10);
      *pid = limit > 0 && used * 100 > limit * PID_EVICTION_PERCENT;
    }
  }
}

/* ---- labels and taints ---- */

static bool name_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.'; }

/* A label name or value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both
 * ends; empty only when allow_empty. */
static bool label_name_ok(const char *s, size_t len, bool allow_empty) {
  if (len == 0)
    return allow_empty;
  if (len > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!name_char(s[i]))
      return false;
  return true;
}

/* A DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', at most 253. */
static bool subdomain_ok(const char *s, size_t len) {
  if (len == 0 || len > 253)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !((c == '-' || c == '.') && i > 0 && i + 1 < len))
      return false;
  }
  return true;
}

/* A qualified name: [prefix/]name. */
static bool key_ok(const char *s, size_t len) {
  const char *slash = memchr(s, '/', len);
  if (!slash)
    return label_name_ok(s, len, false);
  size_t plen = (size_t)(slash - s);
  return subdomain_ok(s, plen) && label_name_ok(slash + 1, len - plen - 1, false);
}

static void set_string(cJSON *obj, const char *key, const char *value) {
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_AddStringToObject(obj, key, value);
}

cJSON *agent_host_labels(const char *node_name, bool control_plane,
                         const config_list_t *node_labels, char *err, size_t errlen) {
  const char *arch = agent_host_arch();
  cJSON *l = cJSON_CreateObject();
  set_string(l, "beta.kubernetes.io/arch", arch);
  set_string(l, "beta.kubernetes.io/os", "linux");
  set_string(l, "kubernetes.io/arch", arch);
  set_string(l, "kubernetes.io/hostname", node_name ? node_name : "");
  set_string(l, "kubernetes.io/os", "linux");
  set_string(l, "node.kubernetes.io/instance-type", "k3c");
  if (control_plane) {
    set_string(l, "node-role.kubernetes.io/control-plane", "true");
    set_string(l, "node-role.kubernetes.io/master", "true");
  }
  for (size_t i = 0; node_labels && i < node_labels->n; i++) {
    const char *e = node_labels->v[i];
    const char *eq = strchr(e, '=');
    size_t klen = eq ? (size_t)(eq - e) : strlen(e);
    if (!eq || !key_ok(e, klen) || !label_name_ok(eq + 1, strlen(eq + 1), true)) {
      errbuf_set(err, errlen,
                 "node-label \"%s\": want key=value, the key a label name ([prefix/]name), the "
                 "value at most 63 of [A-Za-z0-9_.-] starting and ending alphanumeric",
                 e);
      cJSON_Delete(l);
      return NULL;
    }
    char key[320];
    snprintf(key, sizeof(key), "%.*s", (int)klen, e);
    set_string(l, key, eq + 1);
  }
  return l;
}

cJSON *agent_host_taints(const config_list_t *node_taints, char *err, size_t errlen) {
  static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; node_taints && i < node_taints->n; i++) {
    const char *e = node_taints->v[i];
    const char *colon = strrchr(e, ':');
    const char *effect = colon ? colon + 1 : NULL;
    bool effect_ok = false;
    for (int k = 0; effect && k < 3; k++)
      effect_ok = effect_ok || !strcmp(effect, effects[k]);
    if (!effect_ok) {
      errbuf_set(err, errlen,
                 "node-taint \"%s\": want key=value:Effect or key:Effect, Effect one of "
                 "NoSchedule, PreferNoSchedule, NoExecute",
                 e);
      cJSON_Delete(arr);
      return NULL;
    }
    size_t len = (size_t)(colon - e);
    const char *eq = memchr(e, '=', len);
    size_t klen = eq ? (size_t)(eq - e) : len;
    size_t vlen = eq ? len - klen - 1 : 0;
    if (!key_ok(e, klen) || (eq && !label_name_ok(eq + 1, vlen, true))) {
      errbuf_set(err, errlen,
                 "node-taint \"%s\": the key must be a label name ([prefix/]name) and the value "
                 "at most 63 of [A-Za-z0-9_.-] starting and ending alphanumeric",
                 e);
      cJSON_Delete(arr);
      return NULL;
    }
    char key[320], value[64];
    snprintf(key, sizeof(key), "%.*s", (int)klen, e);
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "key", key);
    if (eq && vlen) {
      snprintf(value, sizeof(value), "%.*s", (int)vlen, eq + 1);
      cJSON_AddStringToObject(t, "value", value);
    }
    cJSON_AddStringToObject(t, "effect", effect);
    cJSON_AddItemToArray(arr, t);
  }
  return arr;
}

/* ---- the node's name ---- */

static bool dns1123_subdomain(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 253)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && ((c != '-' && c != '.') || i == 0 || i == n - 1))
      return false;
  }
  return true;
}

/* The id of --with-node-id: read, or made once. */
static int node_id(const char *data_dir, char ret[9], char *err, size_t errlen) {
  char dir[PATH_MAX], path[PATH_MAX];
  int w = snprintf(dir, sizeof(dir), "%s/agent", data_dir);
  int w2 = snprintf(path, sizeof(path), "%s/agent/node-id", data_dir);
  if (w < 0 || w2 < 0 || (size_t)w2 >= sizeof(path)) {
    errbuf_set(err, errlen, "--data-dir is too long");
    return -ENAMETOOLONG;
  }
  char *data = NULL;
  size_t len = 0;
  if (fs_read_file(path, 64, &data, &len) == 0) {
    data[strcspn(data, "\r\n")] = '\0';
    bool ok = strlen(data) == 8 && strspn(data, "0123456789abcdef") == 8;
    if (ok)
      snprintf(ret, 9, "%s", data);
    free(data);
    if (ok)
      return 0;
    errbuf_set(err, errlen, "%s does not hold an 8-hex-digit node id: delete it to make a new one",
               path);
    return -EINVAL;
  }
  unsigned char raw[4];
  FILE *f = fopen("/dev/urandom", "rb");
  size_t got = f ? fread(raw, 1, sizeof(raw), f) : 0;
  if (f)
    fclose(f);
  if (got != sizeof(raw)) {
    errbuf_set(err, errlen, "reading /dev/urandom for a node id failed");
    return -EIO;
  }
  snprintf(ret, 9, "%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
  char line[10];
  snprintf(line, sizeof(line), "%s\n", ret);
  int r = fs_mkdir_p(dir, 0700);
  if (r == 0)
    r = fs_write_atomic(path, line, strlen(line), 0600);
  if (r < 0) {
    errbuf_set(err, errlen, "writing %s: %s", path, strerror(-r));
    return r;
  }
  return 0;
}

int agent_host_node_name(const char *configured, const char *hostname, bool with_id,
                         const char *data_dir, char *ret, size_t n, char *err, size_t errlen) {
  const char *base = configured && configured[0] ? configured : hostname;
  if (!base || !base[0]) {
    errbuf_set(err, errlen, "cannot read this machine's hostname for the node name: pass --node-name");
    return -EINVAL;
  }
  char name[300];
  size_t i = 0;
  for (; base[i] && i + 1 < sizeof(name); i++)
    name[i] = (char)tolower((unsigned char)base[i]);
  name[i] = '\0';
  if (with_id) {
    char id[9];
    int r = node_id(data_dir, id, err, errlen);
    if (r < 0)
      return r;
    size_t len = strlen(name);
    snprintf(name + len, sizeof(name) - len, "-%s", id);
  }
  if (!dns1123_subdomain(name)) {
    errbuf_set(err, errlen,
               "node name \"%s\" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and "
               "'.', at most 253 characters): pass --node-name",
               name);
    return -EINVAL;
  }
  if (strlen(name) >= n) {
    errbuf_set(err, errlen, "node name \"%s\" is too long", name);
    return -E2BIG;
  }
  snprintf(ret, n, "%s", name);
  return 0;
}
