/* k3c's CNI plugin: ADD, DEL, CHECK and VERSION for the bridge attachment
 * and for loopback, on cnimsg.h (messages), ipam.h (leases), podif.h
 * (links) and hostport.h (nftables). See cniplugin.h. */
#include "net/cniplugin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "net/hostport.h"
#include "net/ipam.h"
#include "net/podif.h"
#include "net/rtnl.h"
#include "util/alloc.h"

#define STDIN_MAX (1 << 20)
#define E_CHECK 100 /* plugin-specific: CHECK found the attachment wrong */

/* The request's state while it runs. */
typedef struct {
  net_cni_req_t *q;
  net_cni_err_t e;
  nl_sock_t *host, *pod;
  int netns_fd;
  net_ipam_t *ipam;
} run_t;

static int fail_errno(run_t *r, int rc, const char *what, const char *why) {
  int code = rc == -EAGAIN || rc == -EBUSY ? NET_CNI_E_TRY_AGAIN : NET_CNI_E_IO;
  return net_cni_fail(&r->e, code, what, "%s", why);
}

static int write_sysctl(const char *path, const char *v) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = write(fd, v, strlen(v));
  int rc = n == (ssize_t)strlen(v) ? 0 : -errno;
  close(fd);
  return rc;
}

static int open_ipam(run_t *r) {
  char err[512];
  int rc = net_ipam_open(r->q->data_dir, r->q->subnet, r->q->prefix, &r->ipam, err, sizeof err);
  return rc < 0 ? fail_errno(r, rc, "IPAM state", err) : 0;
}

/* ---- hostPort mappings: the leases hold them ---- */

typedef struct {
  net_hostport_t v[1024];
  size_t n;
} ports_t;

static int collect_ports(const net_ipam_lease_t *l, void *data) {
  ports_t *p = data;
  net_cni_port_t one[NET_CNI_PORTS_MAX];
  size_t n = 0;
  if (!l->ports[0] || net_cni_ports_parse(l->ports, one, NET_CNI_PORTS_MAX, &n) < 0)
    return 0;
  for (size_t i = 0; i < n && p->n < sizeof p->v / sizeof p->v[0]; i++)
    p->v[p->n++] = (net_hostport_t){.pod = l->addr, .port = one[i]};
  return 0;
}

static int sync_ports(run_t *r) {
  ports_t *p = xcalloc(1, sizeof *p);
  nl_sock_t *nf = NULL;
  char err[512];
  net_ipam_each(r->ipam, collect_ports, p);
  int rc = nl_open(NETLINK_NETFILTER, &nf);
  if (rc < 0)
    snprintf(err, sizeof err, "netfilter netlink socket: %s", strerror(-rc));
  else
    rc = net_hostport_sync(nf, p->v, p->n, err, sizeof err);
  nl_close(nf);
  if (rc == 0 && p->n) {
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", r->q->bridge);
    write_sysctl(path, "1"); /* localhost:<hostPort> to a pod; best effort */
  }
  free(p);
  return rc < 0 ? fail_errno(r, rc, "hostPort mappings", err) : 0;
}

/* ---- reclaim: leases whose host veth is gone belong to no container ---- */

typedef struct {
  char (*v)[16];
  size_t n, cap;
} names_t;

static void add_name(const char *name, void *data) {
  names_t *l = data;
  if (l->n == l->cap)
    l->v = xrealloc(l->v, (l->cap = l->cap ? l->cap * 2 : 64) * sizeof *l->v);
  snprintf(l->v[l->n++], 16, "%s", name);
}

typedef struct {
  names_t links;
  const net_cni_req_t *q;
  bool ports; /* a reclaimed lease had port mappings */
} alive_t;

static bool lease_alive(const net_ipam_lease_t *l, void *data) {
  alive_t *a = data;
  if (!strcmp(l->id, a->q->container_id) && !strcmp(l->ifname, a->q->ifname))
    return true; /* the one this ADD is about */
  for (size_t i = 0; i < a->links.n; i++)
    if (!strcmp(a->links.v[i], l->hostif))
      return true;
  if (l->ports[0])
    a->ports = true;
  return false;
}

/* Remove the leases of containers that are gone; true if one of them had
 * port mappings (the table is to be made again). */
static bool reclaim(run_t *r) {
  char err[256];
  alive_t a = {.q = r->q};
  if (net_podif_each_link(r->host, add_name, &a.links, err, sizeof err) == 0)
    net_ipam_reclaim(r->ipam, lease_alive, &a);
  free(a.links.v);
  return a.ports;
}

/* ---- ADD ---- */

typedef struct {
  const net_cni_req_t *q;
  const char *hostif;
} owner_t;

/* Another lease with the same host veth name (a hash collision): 1. */
static int other_owner(const net_ipam_lease_t *l, void *data) {
  const owner_t *o = data;
  return !strcmp(l->hostif, o->hostif) &&
         (strcmp(l->id, o->q->container_id) || strcmp(l->ifname, o->q->ifname));
}

static int add_bridge(run_t *r, char **ret_out) {
  net_cni_req_t *q = r->q;
  char err[512], hostif[16];
  int rc, bridge;
  net_ipam_lease_t *l = xcalloc(1, sizeof *l);
  bool leased = false, veth = false;
  net_podif_veth_name(q->container_id, q->ifname, hostif);
  if ((rc = open_ipam(r)) < 0)
    goto out;
  bool reclaimed_ports = reclaim(r);
  owner_t own = {q, hostif};
  if (net_ipam_each(r->ipam, other_owner, &own) == 1) { /* its veth is not ours to replace */
    rc = net_cni_fail(&r->e, NET_CNI_E_TRY_AGAIN, "host veth name in use",
                      "%s of container %.64s is also another pod's", hostif, q->container_id);
    goto out;
  }
  snprintf(l->id, sizeof l->id, "%s", q->container_id);
  snprintf(l->ifname, sizeof l->ifname, "%s", q->ifname);
  snprintf(l->hostif, sizeof l->hostif, "%s", hostif);
  net_cni_ports_format(q->ports, q->nports, l->ports, sizeof l->ports);
  if ((rc = net_ipam_alloc(r->ipam, l, err, sizeof err)) < 0) {
    fail_errno(r, rc, "no pod address", err);
    goto out;
  }
  leased = true;
  if ((bridge = net_podif_bridge(r->host, q->bridge, q->mtu, q->gateway, q->prefix, err,
                                 sizeof err)) < 0) {
    rc = fail_errno(r, bridge, "bridge", err);
    goto out;
  }
  if ((rc = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")) < 0) {
    fail_errno(r, rc, "IP forwarding", "writing /proc/sys/net/ipv4/ip_forward failed");
    goto out;
  }
  /* an interface of that name left by an earlier ADD goes first */
  if ((rc = rtnl_link_del(r->pod, q->ifname, err, sizeof err)) < 0 ||
      (rc = net_podif_veth(r->host, hostif, q->ifname, r->netns_fd, q->mtu, bridge, err,
                           sizeof err)) < 0) {
    fail_errno(r, rc, "pod interface", err);
    goto out;
  }
  veth = true;
  net_podif_link_t br, host, pod;
  int idx = rtnl_link_index(r->pod, q->ifname, err, sizeof err);
  if (idx < 0) {
    rc = idx;
    fail_errno(r, rc, "pod interface", err);
    goto out;
  }
  rtnl_route4_t def = {.prefix = 0, .gw = q->gateway, .ifindex = idx};
  if ((rc = rtnl_addr4_ensure(r->pod, idx, l->addr, q->prefix, 0, err, sizeof err)) < 0 ||
      (rc = rtnl_link_up(r->pod, idx, err, sizeof err)) < 0 ||
      (rc = rtnl_route4_replace(r->pod, &def, err, sizeof err)) < 0) {
    fail_errno(r, rc, "pod interface address", err);
    goto out;
  }
  if ((q->nports || reclaimed_ports) && (rc = sync_ports(r)) < 0)
    goto out;
  if ((rc = net_podif_link(r->host, q->bridge, &br, err, sizeof err)) < 0 ||
      (rc = net_podif_link(r->host, hostif, &host, err, sizeof err)) < 0 ||
      (rc = net_podif_link(r->pod, q->ifname, &pod, err, sizeof err)) < 0) {
    fail_errno(r, rc, "reading the links back", err);
    goto out;
  }
  net_cni_result_t res = {.nifaces = 3, .addr = l->addr, .gateway = q->gateway,
                          .prefix = q->prefix, .ip_iface = 2};
  snprintf(res.ifaces[0].name, sizeof res.ifaces[0].name, "%s", q->bridge);
  snprintf(res.ifaces[0].mac, sizeof res.ifaces[0].mac, "%s", br.mac);
  snprintf(res.ifaces[1].name, sizeof res.ifaces[1].name, "%s", hostif);
  snprintf(res.ifaces[1].mac, sizeof res.ifaces[1].mac, "%s", host.mac);
  snprintf(res.ifaces[2].name, sizeof res.ifaces[2].name, "%s", q->ifname);
  snprintf(res.ifaces[2].mac, sizeof res.ifaces[2].mac, "%s", pod.mac);
  res.ifaces[2].sandbox = q->netns;
  *ret_out = net_cni_result_json(q->version, &res);
  rc = 0;
out:
  if (rc < 0 && veth)
    rtnl_link_del(r->host, hostif, err, sizeof err);
  if (rc < 0 && leased)
    net_ipam_release(r->ipam, q->container_id, q->ifname, NULL);
  free(l);
  return rc;
}

/* ---- DEL ---- */

static int del_bridge(run_t *r) {
  net_cni_req_t *q = r->q;
  char err[512], hostif[16];
  int rc;
  net_ipam_lease_t *l = xcalloc(1, sizeof *l);
  net_podif_veth_name(q->container_id, q->ifname, hostif);
  if ((rc = open_ipam(r)) < 0)
    goto out;
  bool had = net_ipam_release(r->ipam, q->container_id, q->ifname, l) == 0;
  if (had && l->hostif[0])
    snprintf(hostif, sizeof hostif, "%s", l->hostif);
  /* the pod's side, where its namespace is still there; then the host's
   * (gone with its peer already, or left when the namespace is gone) */
  if (r->pod && (rc = rtnl_link_del(r->pod, q->ifname, err, sizeof err)) < 0) {
    fail_errno(r, rc, "pod interface", err);
    goto out;
  }
  if ((rc = rtnl_link_del(r->host, hostif, err, sizeof err)) < 0) {
    fail_errno(r, rc, "host veth", err);
    goto out;
  }
  if (had && l->ports[0] && (rc = sync_ports(r)) < 0)
    goto out;
  rc = 0;
out:
  free(l);
  return rc;
}

/* ---- CHECK ---- */

static int check_bridge(run_t *r) {
  net_cni_req_t *q = r->q;
  char err[512], want[INET_ADDRSTRLEN];
  int rc;
  net_ipam_lease_t *l = xcalloc(1, sizeof *l);
  if ((rc = open_ipam(r)) < 0)
    goto out;
  if (net_ipam_find(r->ipam, q->container_id, q->ifname, l) < 0) {
    rc = net_cni_fail(&r->e, E_CHECK, "no address lease", "container %.64s %s has no address",
                      q->container_id, q->ifname);
    goto out;
  }
  inet_ntop(AF_INET, &l->addr, want, sizeof want);
  if (q->prev_addr.s_addr &&
      (q->prev_addr.s_addr != l->addr.s_addr || q->prev_prefix != q->prefix)) {
    char prev[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &q->prev_addr, prev, sizeof prev);
    rc = net_cni_fail(&r->e, E_CHECK, "address differs",
                      "prevResult has %s/%d, the lease is %s/%d", prev, q->prev_prefix, want,
                      q->prefix);
    goto out;
  }
  net_podif_link_t pod, host, br;
  if ((rc = net_podif_link(r->pod, q->ifname, &pod, err, sizeof err)) < 0 || !pod.up) {
    rc = net_cni_fail(&r->e, E_CHECK, "pod interface", "%s",
                      rc < 0 ? err : "the pod's interface is down");
    goto out;
  }
  if ((rc = net_podif_has_addr4(r->pod, pod.index, l->addr, q->prefix, err, sizeof err)) <= 0) {
    rc = net_cni_fail(&r->e, E_CHECK, "pod address", "%s",
                      rc < 0 ? err : "the pod's interface lacks its address");
    goto out;
  }
  if (net_podif_link(r->host, q->bridge, &br, err, sizeof err) < 0 ||
      net_podif_link(r->host, l->hostif, &host, err, sizeof err) < 0 || host.master != br.index ||
      !host.up) {
    rc = net_cni_fail(&r->e, E_CHECK, "host veth", "%s is not an up port of bridge %s",
                      l->hostif, q->bridge);
    goto out;
  }
  rc = 0;
out:
  free(l);
  return rc;
}

/* ---- loopback ---- */

static int loopback(run_t *r, char **ret_out) {
  char err[256];
  int idx = rtnl_link_index(r->pod, "lo", err, sizeof err), rc = idx;
  if (idx > 0 && r->q->cmd == NET_CNI_CHECK) {
    net_podif_link_t lo;
    if ((rc = net_podif_link(r->pod, "lo", &lo, err, sizeof err)) == 0 && !lo.up)
      return net_cni_fail(&r->e, E_CHECK, "loopback", "lo is down");
  } else if (idx > 0) {
    rc = rtnl_link_up(r->pod, idx, err, sizeof err);
  }
  if (rc < 0)
    return fail_errno(r, rc, "loopback", err);
  if (r->q->cmd == NET_CNI_ADD) {
    net_cni_result_t res = {.nifaces = 1, .prefix = 8, .ip_iface = 0};
    inet_pton(AF_INET, "127.0.0.1", &res.addr);
    snprintf(res.ifaces[0].name, sizeof res.ifaces[0].name, "lo");
    snprintf(res.ifaces[0].mac, sizeof res.ifaces[0].mac, "00:00:00:00:00:00");
    res.ifaces[0].sandbox = r->q->netns;
    *ret_out = net_cni_result_json(r->q->version, &res);
  }
  return 0;
}

/* ---- the request ---- */

static int open_netns(run_t *r) {
  net_cni_req_t *q = r->q;
  char err[512];
  if (!q->netns[0])
    return 0; /* DEL without one */
  int rc = net_podif_netns_open(q->netns, &r->pod, &r->netns_fd, err, sizeof err);
  if (rc == -ENOENT && q->cmd == NET_CNI_DEL)
    return 0; /* gone already: nothing in it to remove */
  if (rc == -ENOENT || rc == -EINVAL)
    return net_cni_fail(&r->e, NET_CNI_E_UNKNOWN, "container unknown or does not exist", "%s",
                        err);
  return rc < 0 ? fail_errno(r, rc, "network namespace", err) : 0;
}

int net_cni_run(const net_cni_env_t *env, const char *conf, size_t conflen, char **ret_out) {
  run_t r = {.netns_fd = -1};
  char *out = NULL;
  int rc;
  r.q = xcalloc(1, sizeof *r.q);
  if ((rc = net_cni_parse(env, conf, conflen, r.q, &r.e)) < 0)
    goto out;
  if (r.q->cmd == NET_CNI_VERSION) {
    out = net_cni_version_json();
    goto out;
  }
  if ((rc = nl_open(NETLINK_ROUTE, &r.host)) < 0) {
    fail_errno(&r, rc, "netlink socket", strerror(-rc));
    goto out;
  }
  if ((rc = open_netns(&r)) < 0)
    goto out;
  bool lo = !strcmp(r.q->type, "loopback");
  if (lo && (r.q->cmd == NET_CNI_DEL || !r.pod))
    rc = 0; /* lo goes with its namespace */
  else if (lo)
    rc = loopback(&r, &out);
  else if (r.q->cmd == NET_CNI_ADD)
    rc = add_bridge(&r, &out);
  else if (r.q->cmd == NET_CNI_DEL)
    rc = del_bridge(&r);
  else
    rc = check_bridge(&r);
out:
  if (rc < 0) {
    free(out);
    out = net_cni_error_json(r.q->version, &r.e);
  }
  net_ipam_close(r.ipam);
  nl_close(r.pod);
  nl_close(r.host);
  if (r.netns_fd >= 0)
    close(r.netns_fd);
  free(r.q);
  *ret_out = out;
  return rc < 0 ? 1 : 0;
}

int net_cni_main(void) {
  net_cni_env_t env = {getenv("CNI_COMMAND"), getenv("CNI_CONTAINERID"), getenv("CNI_NETNS"),
                       getenv("CNI_IFNAME"),  getenv("CNI_ARGS"),        getenv("CNI_PATH")};
  char *conf = NULL;
  size_t len = 0, cap = 0;
  bool version = env.command && !strcmp(env.command, "VERSION");
  /* VERSION may come without stdin; everything else has a config there */
  if (!version || !isatty(0)) {
    for (;;) {
      if (len == cap) {
        if (cap >= STDIN_MAX)
          break;
        conf = xrealloc(conf, cap = cap ? cap * 2 : 4096);
      }
      ssize_t n = read(0, conf + len, cap - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t)n;
    }
  }
  char *out = NULL;
  int code = net_cni_run(&env, conf, len, &out);
  if (out) {
    fputs(out, stdout);
    fputc('\n', stdout);
  }
  fflush(stdout);
  free(out);
  free(conf);
  return code;
}
