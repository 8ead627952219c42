/* `k3c server`'s controller manager and scheduler, each run only while it
 * holds its Lease in kube-system ("kube-controller-manager",
 * "kube-scheduler"; pkg/client/leader.h), as upstream's components with
 * --leader-elect: the work starts when the lease is acquired and stops at
 * once when it is lost. Without leader election both start at once.
 *
 * The scheduler shares the controller manager's pod informer while both
 * run; when only the scheduler leads it keeps a pod informer of its own.
 *
 * Threads: the server's loop; every function on it. */
#pragma once

#include <ev.h>
#include <stdbool.h>

#include "http/server.h"

typedef struct server_control server_control_t;

typedef struct {
  http_handler_cb api;          /* the in-process API (api_server_handle) */
  void *api_data;
  const char *ca_pem;           /* kube-root-ca.crt contents (copied) */
  const char *sa_key_pem;       /* the key signing service-account tokens (copied) */
  const char *cluster_cidr;     /* node IPAM (copied) */
  const char *storage_dir;      /* local-path volumes, <data-dir>/storage (copied) */
  int node_monitor_grace_period;
  int job_backoff_seconds;
  int max_endpoints_per_slice;
  bool disable_scheduler;
  bool disable_servicelb;       /* --disable servicelb: no LoadBalancer status controller */
  bool leader_elect;
  int lease_duration, renew_deadline, retry_period; /* seconds */
} server_control_opts_t;

/* Start electing (or, without leader election, start both now). Returns
 * 0, or a negative errno with a reason in err (bad timings, a controller
 * that cannot start). */
int server_control_start(struct ev_loop *loop, const server_control_opts_t *opts,
                         server_control_t **ret_ctl, char *err, size_t errlen);
/* Graceful stop: the controllers and the scheduler stop, the held Leases
 * are released; done(data) runs once the releases were answered (from the
 * loop; at once when nothing was held). */
void server_control_stop(server_control_t *ctl, void (*done)(void *data), void *data);
/* Stop whatever still runs (without releasing), log the scheduler's
 * totals, free. Accepts NULL. */
void server_control_free(server_control_t *ctl);

/* Whether the controllers / the scheduler run now (tests, logs). */
bool server_control_controllers_running(const server_control_t *ctl);
bool server_control_scheduler_running(const server_control_t *ctl);
