/* The VXLAN overlay between nodes, programmed from the Node objects in
 * flannel's annotation names (flannel's vxlan backend and kube subnet
 * manager: https://github.com/flannel-io/flannel/blob/master/Documentation/backends.md).
 * See overlay.h. */
#include "net/overlay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "client/informer.h"
#include "json/util.h"
#include "net/masq.h"
#include "net/nl.h"
#include "net/rtnl.h"
#include "net/vxlan.h"
#include "util/alloc.h"
#include "util/log.h"

#define ANN "flannel.alpha.coreos.com/"
#define RESYNC_SECONDS 30.0
#define RETRY_SECONDS 5.0
#define MAX_NODES 5000

typedef struct {
  char *name;
  net_vxlan_peer_t p;
} peer_t;

struct net_overlay {
  struct ev_loop *loop;
  client_t *c;
  char *node_name;
  char public_ip[INET_ADDRSTRLEN];
  char iface[IF_NAMESIZE];
  struct in_addr pub;
  uint8_t mac[6];
  char backend_data[64];   /* {"VNI":1,"VtepMAC":"..."} */
  nl_sock_t *nl;
  int ifindex;             /* flannel.1 */
  int mtu;                 /* its MTU */
  char addr_cidr[32];      /* the podCIDR flannel.1 has its address from, "" before */
  char logged_cidr[32];    /* the one last logged */
  client_informer_t *nodes;
  client_req_t *patch_req;
  peer_t *peers;           /* programmed now */
  size_t n_peers, cap_peers;
  bool cleaned;            /* leftovers removed after the first sync */
  bool force;              /* program every peer again (resync) */
  char last_err[256];      /* logged once until it changes */
  ev_timer kick;           /* coalesces events into one reconcile */
  ev_timer resync;
};

/* ---- small parsers ---- */

/* "10.42.1.0/24" into network address and prefix. */
static int parse_cidr(const char *s, struct in_addr *net, int *prefix) {
  char a[INET_ADDRSTRLEN];
  unsigned bits;
  int end = 0;
  if (!s || sscanf(s, "%15[0-9.]/%2u%n", a, &bits, &end) != 2 || s[end] || bits > 32)
    return -EINVAL;
  struct in_addr x;
  if (inet_pton(AF_INET, a, &x) != 1)
    return -EINVAL;
  uint32_t mask = bits ? htonl(~0u << (32 - bits)) : 0;
  net->s_addr = x.s_addr & mask;
  *prefix = (int)bits;
  return 0;
}

static const char *annotation(const cJSON *node, const char *key) {
  const cJSON *a = json_get_path(node, "metadata.annotations");
  const cJSON *v = a ? cJSON_GetObjectItemCaseSensitive(a, key) : NULL;
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *node_name(const cJSON *node) {
  const cJSON *n = json_get_path(node, "metadata.name");
  return cJSON_IsString(n) ? n->valuestring : NULL;
}

int net_overlay_peer_of(const cJSON *node, net_vxlan_peer_t *p) {
  const cJSON *cidr = json_get_path(node, "spec.podCIDR");
  const char *type = annotation(node, ANN "backend-type");
  const char *data = annotation(node, ANN "backend-data");
  const char *pub = annotation(node, ANN "public-ip");
  memset(p, 0, sizeof *p);
  if (!cJSON_IsString(cidr) || !type || strcmp(type, "vxlan") || !data || !pub)
    return -EINVAL;
  if (parse_cidr(cidr->valuestring, &p->pod_net, &p->pod_prefix) < 0 ||
      inet_pton(AF_INET, pub, &p->public_ip) != 1)
    return -EINVAL;
  cJSON *bd = cJSON_Parse(data);
  const cJSON *mac = bd ? cJSON_GetObjectItemCaseSensitive(bd, "VtepMAC") : NULL;
  const cJSON *vni = bd ? cJSON_GetObjectItemCaseSensitive(bd, "VNI") : NULL;
  int r = cJSON_IsString(mac) && cJSON_IsNumber(vni) && vni->valuedouble == NET_OVERLAY_VNI
              ? net_vxlan_mac_parse(mac->valuestring, p->vtep_mac)
              : -EINVAL;
  cJSON_Delete(bd);
  p->vtep_ip = p->pod_net; /* flannel.1's address: the pod CIDR's network address */
  return r;
}

static bool same_peer(const net_vxlan_peer_t *a, const net_vxlan_peer_t *b) {
  return a->pod_net.s_addr == b->pod_net.s_addr && a->pod_prefix == b->pod_prefix &&
         a->vtep_ip.s_addr == b->vtep_ip.s_addr && a->public_ip.s_addr == b->public_ip.s_addr &&
         !memcmp(a->vtep_mac, b->vtep_mac, 6);
}

/* Log a failure once until another one comes. */
static void fail(net_overlay_t *ov, const char *err) {
  if (strcmp(err, ov->last_err)) {
    log_error("overlay", "%s; retrying", err);
    snprintf(ov->last_err, sizeof ov->last_err, "%s", err);
  }
  if (!ev_is_active(&ov->kick)) {
    ev_timer_set(&ov->kick, RETRY_SECONDS, 0.0);
    ev_timer_start(ov->loop, &ov->kick);
  }
}

/* ---- this node ---- */

static void patch_done(const client_result_t *res, void *data) {
  net_overlay_t *ov = data;
  ov->patch_req = NULL;
  if (res->code / 100 != 2) {
    char err[256];
    snprintf(err, sizeof err, "annotating node %s: %d %s", ov->node_name, res->code,
             res->message ? res->message : res->err ? strerror(-res->err) : "");
    fail(ov, err);
    return;
  }
  log_info("overlay", "node %s: VTEP %s at %s published", ov->node_name, ov->backend_data,
           ov->public_ip);
}

static void publish(net_overlay_t *ov, const cJSON *self) {
  const char *want[][2] = {{ANN "backend-type", "vxlan"},
                           {ANN "backend-data", ov->backend_data},
                           {ANN "public-ip", ov->public_ip},
                           {ANN "kube-subnet-manager", "true"}};
  bool same = true;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const char *have = annotation(self, want[i][0]);
    same = same && have && !strcmp(have, want[i][1]);
  }
  if (same || ov->patch_req)
    return;
  cJSON *p = cJSON_CreateObject();
  cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cJSON_AddStringToObject(ann, want[i][0], want[i][1]);
  client_ref_t ref = {.version = "v1", .resource = "nodes", .name = ov->node_name};
  ov->patch_req = client_patch(ov->c, &ref, CLIENT_PATCH_MERGE, p, NULL, patch_done, ov);
  cJSON_Delete(p);
}

/* flannel.1's address from this Node's podCIDR. */
static int own_address(net_overlay_t *ov, const cJSON *self, char *err, size_t errlen) {
  const cJSON *cidr = json_get_path(self, "spec.podCIDR");
  if (!cJSON_IsString(cidr) || !strcmp(cidr->valuestring, ov->addr_cidr))
    return 0;
  struct in_addr net;
  int prefix, r;
  if (parse_cidr(cidr->valuestring, &net, &prefix) < 0) {
    snprintf(err, errlen, "node %s: spec.podCIDR %s is not an IPv4 CIDR", ov->node_name,
             cidr->valuestring);
    return -EINVAL;
  }
  if ((r = net_vxlan_set_addr(ov->nl, ov->ifindex, net, err, errlen)) < 0)
    return r;
  snprintf(ov->addr_cidr, sizeof ov->addr_cidr, "%s", cidr->valuestring);
  if (!strcmp(ov->logged_cidr, ov->addr_cidr))
    return 0;
  snprintf(ov->logged_cidr, sizeof ov->logged_cidr, "%s", ov->addr_cidr);
  char a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &net, a, sizeof a);
  log_info("overlay", "%s: address %s/32 (pod subnet %s)", NET_OVERLAY_DEVICE, a, ov->addr_cidr);
  return 0;
}

/* ---- peers ---- */

typedef struct {
  net_overlay_t *ov;
  char **names;
  net_vxlan_peer_t *want;
  size_t n, cap;
} desired_t;

static void collect(const cJSON *node, void *data) {
  desired_t *d = data;
  const char *name = node_name(node);
  net_vxlan_peer_t p;
  if (!name || !strcmp(name, d->ov->node_name) || net_overlay_peer_of(node, &p) < 0)
    return;
  if (p.public_ip.s_addr == d->ov->pub.s_addr)
    return; /* another Node claiming our address: not a peer to tunnel to */
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 8;
    d->names = xrealloc(d->names, d->cap * sizeof *d->names);
    d->want = xrealloc(d->want, d->cap * sizeof *d->want);
  }
  d->names[d->n] = (char *)name; /* borrowed from the cache for this reconcile */
  d->want[d->n++] = p;
}

static ssize_t find_peer(const net_overlay_t *ov, const char *name) {
  for (size_t i = 0; i < ov->n_peers; i++)
    if (!strcmp(ov->peers[i].name, name))
      return (ssize_t)i;
  return -1;
}

static void drop_peer(net_overlay_t *ov, size_t i) {
  free(ov->peers[i].name);
  ov->peers[i] = ov->peers[--ov->n_peers];
}

static void describe(const char *name, const net_vxlan_peer_t *p, char *out, size_t len) {
  char net[INET_ADDRSTRLEN], pub[INET_ADDRSTRLEN], mac[18];
  inet_ntop(AF_INET, &p->pod_net, net, sizeof net);
  inet_ntop(AF_INET, &p->public_ip, pub, sizeof pub);
  net_vxlan_mac_format(p->vtep_mac, mac, sizeof mac);
  snprintf(out, len, "node %s: %s/%d via VTEP %s at %s", name, net, p->pod_prefix, mac, pub);
}

/* Leftovers: entries on flannel.1 that no wanted peer accounts for.
 * Listed first, removed after the dumps (one socket, one request at a
 * time). */
typedef struct {
  struct in_addr net, gw; /* route; neighbour: net = its IP */
  int prefix;
  uint8_t mac[6];
  int kind; /* 0 route, 1 neighbour, 2 FDB */
} entry_t;
typedef struct {
  entry_t e[512];
  size_t n;
} entries_t;

static entry_t *next_entry(entries_t *es) {
  return es->n < sizeof es->e / sizeof es->e[0] ? &es->e[es->n++] : NULL;
}
static int list_route(struct in_addr net, int prefix, struct in_addr gw, void *data) {
  entry_t *e = gw.s_addr ? next_entry(data) : NULL;
  if (e)
    *e = (entry_t){.net = net, .gw = gw, .prefix = prefix, .kind = 0};
  return 0;
}
static int list_neigh(struct in_addr ip, const uint8_t mac[6], void *data) {
  entry_t *e = next_entry(data);
  if (e) {
    *e = (entry_t){.net = ip, .kind = 1};
    memcpy(e->mac, mac, 6);
  }
  return 0;
}
static int list_fdb(const uint8_t mac[6], struct in_addr dst, void *data) {
  entry_t *e = next_entry(data);
  if (e) {
    *e = (entry_t){.gw = dst, .kind = 2};
    memcpy(e->mac, mac, 6);
  }
  return 0;
}

static bool accounted(const desired_t *d, const entry_t *e) {
  for (size_t i = 0; i < d->n; i++) {
    const net_vxlan_peer_t *p = &d->want[i];
    if ((e->kind == 0 && p->pod_net.s_addr == e->net.s_addr && p->pod_prefix == e->prefix &&
         p->vtep_ip.s_addr == e->gw.s_addr) ||
        (e->kind == 1 && p->vtep_ip.s_addr == e->net.s_addr && !memcmp(p->vtep_mac, e->mac, 6)) ||
        (e->kind == 2 && p->public_ip.s_addr == e->gw.s_addr && !memcmp(p->vtep_mac, e->mac, 6)))
      return true;
  }
  return false;
}

static void sweep(net_overlay_t *ov, const desired_t *d) {
  char err[256];
  entries_t *es = xcalloc(1, sizeof *es);
  net_vxlan_walk_t w = {.neigh = list_neigh, .fdb = list_fdb, .route = list_route};
  int removed = 0;
  if (net_vxlan_walk(ov->nl, ov->ifindex, &w, es, err, sizeof err) < 0) {
    log_warn("overlay", "looking for leftover entries on %s: %s", NET_OVERLAY_DEVICE, err);
    free(es);
    return;
  }
  for (size_t i = 0; i < es->n; i++) {
    const entry_t *e = &es->e[i];
    if (accounted(d, e))
      continue;
    rtnl_route4_t r = {.dst = e->net, .prefix = e->prefix, .gw = e->gw,
                       .ifindex = ov->ifindex, .onlink = true};
    int rc = e->kind == 0   ? rtnl_route4_del(ov->nl, &r, NULL, 0)
             : e->kind == 1 ? net_vxlan_neigh_del(ov->nl, ov->ifindex, e->net, NULL, 0)
                            : net_vxlan_fdb_del(ov->nl, ov->ifindex, e->mac, e->gw, NULL, 0);
    removed += rc == 0;
  }
  free(es);
  if (removed)
    log_info("overlay", "removed %d leftover entr%s on %s that no Node accounts for", removed,
             removed == 1 ? "y" : "ies", NET_OVERLAY_DEVICE);
}

static void reconcile(net_overlay_t *ov) {
  char err[256] = "";
  bool failed = false;
  const cJSON *self = client_informer_get(ov->nodes, NULL, ov->node_name);
  if (self) {
    publish(ov, self);
    if (own_address(ov, self, err, sizeof err) < 0) {
      fail(ov, err);
      failed = true;
    }
  }
  desired_t d = {.ov = ov};
  client_cache_foreach(client_informer_cache(ov->nodes), collect, &d);
  /* gone or changed: remove */
  for (size_t i = 0; i < ov->n_peers;) {
    size_t j;
    for (j = 0; j < d.n; j++)
      if (!strcmp(d.names[j], ov->peers[i].name))
        break;
    if (j < d.n && same_peer(&d.want[j], &ov->peers[i].p)) {
      i++;
      continue;
    }
    char what[200];
    describe(ov->peers[i].name, &ov->peers[i].p, what, sizeof what);
    if (net_vxlan_peer_del(ov->nl, ov->ifindex, &ov->peers[i].p, err, sizeof err) < 0) {
      fail(ov, err);
      failed = true;
      i++;
      continue;
    }
    log_info("overlay", "%s %s", j < d.n ? "changed:" : "removed", what);
    drop_peer(ov, i);
  }
  /* new (or everything, on a resync) */
  for (size_t j = 0; j < d.n; j++) {
    ssize_t i = find_peer(ov, d.names[j]);
    if (i >= 0 && !ov->force)
      continue;
    if (net_vxlan_peer_add(ov->nl, ov->ifindex, &d.want[j], err, sizeof err) < 0) {
      fail(ov, err);
      failed = true;
      continue;
    }
    if (i >= 0)
      continue;
    char what[200];
    describe(d.names[j], &d.want[j], what, sizeof what);
    log_info("overlay", "added %s", what);
    if (ov->n_peers == ov->cap_peers) {
      ov->cap_peers = ov->cap_peers ? ov->cap_peers * 2 : 8;
      ov->peers = xrealloc(ov->peers, ov->cap_peers * sizeof *ov->peers);
    }
    ov->peers[ov->n_peers].name = xstrdup(d.names[j]);
    ov->peers[ov->n_peers++].p = d.want[j];
  }
  if (!ov->cleaned && client_informer_synced(ov->nodes)) {
    sweep(ov, &d);
    ov->cleaned = true;
  }
  ov->force = false;
  if (!failed)
    ov->last_err[0] = 0;
  free(d.names);
  free(d.want);
}

/* ---- events and timers ---- */

static void kick(net_overlay_t *ov) {
  if (!ev_is_active(&ov->kick)) {
    ev_timer_set(&ov->kick, 0.05, 0.0);
    ev_timer_start(ov->loop, &ov->kick);
  }
}

static void on_add(const cJSON *obj, void *data) {
  kick(data);
}
static void on_update(const cJSON *old, const cJSON *obj, void *data) {
  net_vxlan_peer_t a, b;
  int ra = net_overlay_peer_of(old, &a), rb = net_overlay_peer_of(obj, &b);
  const char *name = node_name(obj);
  /* heartbeats change nothing the overlay uses: skip them */
  if (name && strcmp(name, ((net_overlay_t *)data)->node_name) && ra == rb &&
      (ra < 0 || same_peer(&a, &b)))
    return;
  kick(data);
}
static void on_delete(const cJSON *obj, void *data) {
  kick(data);
}
static void on_synced(void *data) {
  kick(data);
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  net_overlay_t *ov = (net_overlay_t *)((char *)w - offsetof(net_overlay_t, kick));
  reconcile(ov);
}

static void resync_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  net_overlay_t *ov = (net_overlay_t *)((char *)w - offsetof(net_overlay_t, resync));
  ov->force = true;
  ov->addr_cidr[0] = 0; /* set the address again too */
  reconcile(ov);
}

/* ---- start ---- */

/* The public IP and its interface: iface's first IPv4 address, else the
 * interface that has node_ip. */
static int find_public(net_overlay_t *ov, const net_overlay_opts_t *o, char *err,
                       size_t errlen) {
  bool by_iface = o->iface && o->iface[0];
  struct in_addr want = {0};
  if (!by_iface && (!o->node_ip || inet_pton(AF_INET, o->node_ip, &want) != 1)) {
    snprintf(err, errlen, "the overlay needs the node's IPv4 address (got \"%s\"): pass "
                          "--node-ip or --flannel-iface",
             o->node_ip ? o->node_ip : "");
    return -EINVAL;
  }
  struct ifaddrs *all = NULL;
  if (getifaddrs(&all) < 0) {
    int e = -errno;
    snprintf(err, errlen, "listing the network interfaces: %s", strerror(-e));
    return e;
  }
  int r = -ENODEV;
  for (struct ifaddrs *i = all; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
      continue;
    struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
    if (by_iface ? !strcmp(i->ifa_name, o->iface) : a.s_addr == want.s_addr) {
      ov->pub = a;
      snprintf(ov->iface, sizeof ov->iface, "%s", i->ifa_name);
      r = 0;
      break;
    }
  }
  freeifaddrs(all);
  if (r < 0) {
    if (by_iface)
      snprintf(err, errlen, "--flannel-iface %s: no such interface with an IPv4 address",
               o->iface);
    else
      snprintf(err, errlen, "the node IP %s is on no interface of this host: pass --node-ip "
                            "with one of its addresses, or --flannel-iface",
               o->node_ip);
    return r;
  }
  inet_ntop(AF_INET, &ov->pub, ov->public_ip, sizeof ov->public_ip);
  return 0;
}

static int iface_mtu(const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int r = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
  close(fd);
  return r;
}

/* The masquerade rule for pods of cluster (a CIDR) talking to elsewhere. */
static int masquerade(const char *cluster, char *err, size_t errlen) {
  struct in_addr net;
  int prefix, r;
  if (parse_cidr(cluster, &net, &prefix) < 0) {
    snprintf(err, errlen, "cluster CIDR %s is not an IPv4 CIDR", cluster);
    return -EINVAL;
  }
  nl_sock_t *nf = NULL;
  if ((r = nl_open(NETLINK_NETFILTER, &nf)) < 0) {
    snprintf(err, errlen, "nfnetlink: %s", strerror(-r));
    return r;
  }
  char merr[256];
  if ((r = net_masq_ensure(nf, net, prefix, merr, sizeof merr)) < 0)
    snprintf(err, errlen, "%s", merr);
  nl_close(nf);
  return r;
}

int net_overlay_new(struct ev_loop *loop, client_t *c, const net_overlay_opts_t *o,
                    net_overlay_t **ret, char *err, size_t errlen) {
  net_overlay_t *ov = xcalloc(1, sizeof *ov);
  int r;
  ov->loop = loop;
  ov->c = c;
  ov->node_name = xstrdup(o->node_name);
  ev_init(&ov->kick, kick_cb);
  ev_init(&ov->resync, resync_cb);
  if ((r = find_public(ov, o, err, errlen)) < 0)
    goto fail;
  int mtu = iface_mtu(ov->iface);
  int under = (int)if_nametoindex(ov->iface);
  if (mtu <= NET_VXLAN_OVERHEAD + 68 || under <= 0) {
    r = mtu < 0 ? mtu : -EINVAL;
    snprintf(err, errlen, "interface %s: MTU %d is too small for VXLAN", ov->iface, mtu);
    goto fail;
  }
  net_vxlan_mac_from_name(ov->node_name, ov->mac);
  char mac[18];
  net_vxlan_mac_format(ov->mac, mac, sizeof mac);
  snprintf(ov->backend_data, sizeof ov->backend_data, "{\"VNI\":%d,\"VtepMAC\":\"%s\"}",
           NET_OVERLAY_VNI, mac);
  if ((r = nl_open(NETLINK_ROUTE, &ov->nl)) < 0) {
    snprintf(err, errlen, "netlink: %s", strerror(-r));
    goto fail;
  }
  net_vxlan_opts_t vo = {.name = NET_OVERLAY_DEVICE, .vni = NET_OVERLAY_VNI,
                         .port = NET_OVERLAY_PORT, .local = ov->pub, .underlay_ifindex = under,
                         .mtu = mtu - NET_VXLAN_OVERHEAD};
  memcpy(vo.mac, ov->mac, 6);
  char verr[256];
  if ((r = net_vxlan_ensure(ov->nl, &vo, &ov->ifindex, verr, sizeof verr)) < 0) {
    snprintf(err, errlen, "the overlay device: %s", verr);
    goto fail;
  }
  if (o->cluster_cidr && o->cluster_cidr[0] && (r = masquerade(o->cluster_cidr, err, errlen)) < 0)
    goto fail;
  client_ref_t nodes = {.version = "v1", .resource = "nodes"};
  if ((r = client_informer_new(c, &nodes, NULL, NULL, MAX_NODES, &ov->nodes)) < 0) {
    snprintf(err, errlen, "watching nodes: %s", strerror(-r));
    goto fail;
  }
  client_informer_handlers_t h = {on_add, on_update, on_delete};
  client_informer_add_handlers(ov->nodes, &h, ov);
  client_informer_on_synced(ov->nodes, on_synced, ov);
  client_informer_start(ov->nodes);
  ev_timer_set(&ov->resync, RESYNC_SECONDS, RESYNC_SECONDS);
  ev_timer_start(loop, &ov->resync);
  ov->mtu = vo.mtu;
  log_info("overlay", "%s: VNI %d, UDP %d, local %s on %s, MTU %d, VTEP MAC %s",
           NET_OVERLAY_DEVICE, NET_OVERLAY_VNI, NET_OVERLAY_PORT, ov->public_ip, ov->iface,
           vo.mtu, mac);
  *ret = ov;
  return 0;
fail:
  net_overlay_free(ov);
  return r;
}

void net_overlay_free(net_overlay_t *ov) {
  if (!ov)
    return;
  ev_timer_stop(ov->loop, &ov->kick);
  ev_timer_stop(ov->loop, &ov->resync);
  if (ov->patch_req)
    client_req_cancel(ov->patch_req);
  client_informer_free(ov->nodes);
  nl_close(ov->nl);
  for (size_t i = 0; i < ov->n_peers; i++)
    free(ov->peers[i].name);
  free(ov->peers);
  free(ov->node_name);
  free(ov);
}

const char *net_overlay_public_ip(const net_overlay_t *ov) {
  return ov->public_ip;
}

size_t net_overlay_peers(const net_overlay_t *ov) {
  return ov->n_peers;
}

int net_overlay_mtu(const net_overlay_t *ov) {
  return ov->mtu;
}
