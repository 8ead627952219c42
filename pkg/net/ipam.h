/* pkg/net ipam: the pod address leases of k3c's CNI plugin, one IPv4
 * subnet per node, kept as files under a state directory so that every
 * plugin process (one per CNI call) sees the others' leases:
 *
 *   <dir>/lock        flock(2)ed for the whole of an ADD, DEL or CHECK
 *   <dir>/<a.b.c.d>   a lease: container id, interface, host veth, ports
 *   <dir>/last        the address handed out last (the next search starts
 *                     after it, so a released address is not reused at once)
 *
 * Addresses: the subnet's second to second-last (the first is the bridge's
 * gateway, the last the broadcast). Lease files are written atomically;
 * a lease whose container is gone (the caller's alive callback says so:
 * its host veth no longer exists) is reclaimed, so leases left by a crash
 * do not leak. No threads: one process holds the lock at a time. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct net_ipam net_ipam_t;

typedef struct {
  struct in_addr addr;
  char id[256];     /* CNI_CONTAINERID */
  char ifname[16];  /* CNI_IFNAME */
  char hostif[16];  /* the host side of the pod's veth */
  char ports[1024]; /* the port mappings (cnimsg.h's text form), "" for none */
} net_ipam_lease_t;

/* Open (mkdir -p) dir for subnet/prefix (8..30) and take its lock, waiting
 * for another process's. Returns 0, or a negative errno with a reason. */
int net_ipam_open(const char *dir, struct in_addr subnet, int prefix, net_ipam_t **ret,
                  char *err, size_t errlen);
/* Release the lock. Accepts NULL. */
void net_ipam_close(net_ipam_t *m);

/* The lease of (id, ifname): 0 with ret filled, -ENOENT if none. */
int net_ipam_find(net_ipam_t *m, const char *id, const char *ifname, net_ipam_lease_t *ret);

/* A lease for l->id and l->ifname (l->hostif, l->ports kept with it): the
 * one it already has, else the next free address after the last handed out.
 * Fills l->addr. -ENOSPC with a reason when every address is taken. */
int net_ipam_alloc(net_ipam_t *m, net_ipam_lease_t *l, char *err, size_t errlen);

/* Remove the lease of (id, ifname): 0 with it in ret (may be NULL),
 * -ENOENT when there was none (not an error for DEL). */
int net_ipam_release(net_ipam_t *m, const char *id, const char *ifname, net_ipam_lease_t *ret);

/* Call cb for every lease (a stable order: by address). cb returns 0 to
 * go on, negative to stop with that value. */
typedef int (*net_ipam_each_cb)(const net_ipam_lease_t *l, void *data);
int net_ipam_each(net_ipam_t *m, net_ipam_each_cb cb, void *data);

/* Remove every lease alive says is gone. Returns how many were removed. */
typedef bool (*net_ipam_alive_fn)(const net_ipam_lease_t *l, void *data);
int net_ipam_reclaim(net_ipam_t *m, net_ipam_alive_fn alive, void *data);
