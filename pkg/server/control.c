/* The server's kube-controller-manager and kube-scheduler behind leader
 * election: each is built when its elector starts leading and freed (its
 * requests cancelled with its client) the moment the lease is lost, as an
 * upstream component that exits on a lost lease and starts again.
 * https://kubernetes.io/docs/concepts/architecture/leases/#leader-election */
#include "server/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/leader.h"
#include "controller/events.h"
#include "controller/manager.h"
#include "controller/nodeipam.h"
#include "controller/servicelb.h"
#include "controller/nodelifecycle.h"
#include "controller/pvbinder.h"
#include "controller/rootcacert.h"
#include "controller/satoken.h"
#include "scheduler/scheduler.h"
#include "util/alloc.h"
#include "util/log.h"

#define LEASE_NS "kube-system"

struct server_control {
  struct ev_loop *loop;
  server_control_opts_t o;
  char *ca_pem, *sa_key_pem, *cluster_cidr, *storage_dir;
  /* the electors' own clients: they outlive every term */
  client_t *le_cm_client, *le_sched_client;
  client_leader_t *le_cm, *le_sched;
  controller_recorder_t *rec_cm, *rec_sched; /* LeaderElection Events on the Leases */
  /* the controller manager's term */
  client_t *cm_client;
  controller_manager_t *cm;
  controller_nodelifecycle_t *nlc;
  controller_nodeipam_t *ipam;
  controller_servicelb_t *svclb;
  controller_rootcacert_t *rootca;
  controller_satoken_t *satoken;
  controller_pvbinder_t *pvbinder;
  /* the scheduler's term */
  client_t *sched_client;
  scheduler_t *sched;
  bool sched_shared; /* on the manager's pod informer */
  scheduler_stats_t totals; /* of the terms that ended */
  bool sched_ran;
  int releasing;
  void (*stop_done)(void *data);
  void *stop_data;
};

/* Controller groups are "system:masters" until RBAC for them lands. */
static const char *const groups[] = {"system:masters", NULL};

static void sched_stop(server_control_t *ctl) {
  if (!ctl->sched)
    return;
  scheduler_stats_t s;
  scheduler_stats(ctl->sched, &s);
  ctl->totals.attempts += s.attempts;
  ctl->totals.bound += s.bound;
  ctl->totals.unschedulable += s.unschedulable;
  ctl->totals.bind_errors += s.bind_errors;
  ctl->totals.preemptions += s.preemptions;
  ctl->totals.victims += s.victims;
  ctl->totals.cycle_seconds += s.cycle_seconds;
  ctl->totals.bind_seconds += s.bind_seconds;
  scheduler_free(ctl->sched);
  ctl->sched = NULL;
  client_free(ctl->sched_client);
  ctl->sched_client = NULL;
}

static int sched_start(server_control_t *ctl) {
  int r;
  if ((r = client_inproc_new(ctl->loop, ctl->o.api, ctl->o.api_data, "system:kube-scheduler",
                             groups, &ctl->sched_client)) < 0)
    return r;
  client_set_user_agent(ctl->sched_client, "k3c-scheduler");
  ctl->sched_shared = ctl->cm != NULL;
  ctl->sched_ran = true;
  if ((r = scheduler_new(ctl->loop, ctl->sched_client,
                         ctl->cm ? controller_manager_pods(ctl->cm) : NULL, &ctl->sched)) < 0) {
    client_free(ctl->sched_client);
    ctl->sched_client = NULL;
    ctl->sched = NULL;
    return r;
  }
  /* the VolumeBinding filter reads the manager's claim, volume and class
   * informers: it runs while the scheduler shares them */
  if (ctl->cm)
    scheduler_set_volumes(ctl->sched, controller_manager_pvcs(ctl->cm),
                          controller_manager_pvs(ctl->cm),
                          controller_manager_storageclasses(ctl->cm));
  return r;
}

/* The scheduler moves to (or off) the manager's pod informer. */
static void sched_restart(server_control_t *ctl) {
  if (!ctl->sched)
    return;
  sched_stop(ctl);
  int r = sched_start(ctl);
  if (r < 0)
    log_error("server", "scheduler: %s", strerror(-r));
}

static void cm_stop(server_control_t *ctl) {
  if (!ctl->cm)
    return;
  if (ctl->sched && ctl->sched_shared) {
    controller_manager_t *cm = ctl->cm;
    ctl->cm = NULL; /* the scheduler starts again on a pod informer of its own */
    sched_restart(ctl);
    ctl->cm = cm;
  }
  controller_nodelifecycle_free(ctl->nlc);
  controller_nodeipam_free(ctl->ipam);
  controller_servicelb_free(ctl->svclb);
  ctl->svclb = NULL;
  controller_rootcacert_free(ctl->rootca);
  controller_satoken_free(ctl->satoken);
  controller_pvbinder_free(ctl->pvbinder);
  controller_manager_free(ctl->cm);
  client_free(ctl->cm_client); /* cancels whatever a controller left in flight */
  ctl->nlc = NULL;
  ctl->ipam = NULL;
  ctl->rootca = NULL;
  ctl->satoken = NULL;
  ctl->pvbinder = NULL;
  ctl->cm = NULL;
  ctl->cm_client = NULL;
}

static int cm_start(server_control_t *ctl) {
  int r;
  const char *what = "controllers";
  if ((r = client_inproc_new(ctl->loop, ctl->o.api, ctl->o.api_data,
                             "system:kube-controller-manager", groups, &ctl->cm_client)) < 0 ||
      (r = controller_manager_start(ctl->loop, ctl->cm_client, &ctl->cm)) < 0)
    goto fail;
  /* The node lifecycle controller, node IPAM and the root CA publisher
   * are kube-controller-manager's too; they take flags of their own. */
  what = "node lifecycle controller";
  if ((r = controller_nodelifecycle_new(ctl->cm_client, controller_manager_pods(ctl->cm),
                                        ctl->loop, ctl->o.node_monitor_grace_period,
                                        &ctl->nlc)) < 0)
    goto fail;
  what = "node IPAM";
  if ((r = controller_nodeipam_new(ctl->cm_client, controller_manager_nodes(ctl->cm), ctl->loop,
                                   ctl->cluster_cidr, &ctl->ipam)) < 0)
    goto fail;
  /* k3s's ServiceLB, without its pods (docs/NETWORK.md) */
  what = "service load balancer";
  if (!ctl->o.disable_servicelb &&
      (r = controller_servicelb_new(ctl->cm_client, controller_manager_services(ctl->cm),
                                    controller_manager_nodes(ctl->cm), ctl->loop, &ctl->svclb)) < 0)
    goto fail;
  what = "root CA publisher";
  if ((r = controller_rootcacert_new(ctl->cm_client, controller_manager_namespaces(ctl->cm),
                                     ctl->loop, ctl->ca_pem, &ctl->rootca)) < 0)
    goto fail;
  /* Legacy service-account token Secrets: filled with a token signed by
   * the key the API's authenticator checks. */
  what = "service-account token controller";
  if ((r = controller_satoken_new(ctl->cm_client, controller_manager_serviceaccounts(ctl->cm),
                                  ctl->loop, ctl->sa_key_pem, ctl->ca_pem, &ctl->satoken)) < 0)
    goto fail;
  /* Claims bound to volumes, and k3s's local-path storage (docs/STORAGE.md). */
  what = "persistent volume binder";
  if ((r = controller_pvbinder_new(ctl->cm_client, controller_manager_pvcs(ctl->cm),
                                   controller_manager_pvs(ctl->cm),
                                   controller_manager_storageclasses(ctl->cm), ctl->storage_dir,
                                   ctl->loop, &ctl->pvbinder)) < 0)
    goto fail;
  controller_manager_set_job_backoff(ctl->cm, ctl->o.job_backoff_seconds, 360);
  controller_manager_set_max_endpoints_per_slice(ctl->cm, ctl->o.max_endpoints_per_slice);
  /* a scheduler running alone moves onto the shared pod informer */
  if (ctl->sched && !ctl->sched_shared)
    sched_restart(ctl);
  return 0;
fail:
  log_error("server", "%s: %s", what, strerror(-r));
  cm_stop(ctl);
  return r;
}

/* ---- the electors' callbacks ---- */

/* upstream's resourcelock RecordEvent: "<identity> became leader" */
static void leader_event(controller_recorder_t *rec, const client_leader_t *le, const char *what) {
  const cJSON *lease = client_leader_lease(le);
  if (rec && lease)
    controller_recorder_eventf(rec, lease, "Normal", "LeaderElection", "%s %s",
                               client_leader_identity(le), what);
}

static void cm_started(void *data) {
  server_control_t *ctl = data;
  leader_event(ctl->rec_cm, ctl->le_cm, "became leader");
  log_info("server", "controller manager: leading (lease %s/kube-controller-manager, identity %s)",
           LEASE_NS, client_leader_identity(ctl->le_cm));
  cm_start(ctl);
}

static void cm_stopped(void *data) {
  server_control_t *ctl = data;
  leader_event(ctl->rec_cm, ctl->le_cm, "stopped leading");
  log_info("server", "controller manager: lease %s/kube-controller-manager lost or released, "
                     "controllers stopped", LEASE_NS);
  cm_stop(ctl);
}

static void sched_started(void *data) {
  server_control_t *ctl = data;
  leader_event(ctl->rec_sched, ctl->le_sched, "became leader");
  log_info("server", "scheduler: leading (lease %s/kube-scheduler, identity %s)", LEASE_NS,
           client_leader_identity(ctl->le_sched));
  int r = sched_start(ctl);
  if (r < 0)
    log_error("server", "scheduler: %s", strerror(-r));
}

static void sched_stopped(void *data) {
  server_control_t *ctl = data;
  leader_event(ctl->rec_sched, ctl->le_sched, "stopped leading");
  log_info("server", "scheduler: lease %s/kube-scheduler lost or released, scheduling stopped",
           LEASE_NS);
  sched_stop(ctl);
}

/* ---- lifetime ---- */

static bool cidr_ok(const char *cidr) {
  char addr[32];
  unsigned bits;
  char tail;
  struct in_addr a;
  return cidr && sscanf(cidr, "%31[0-9.]/%u%c", addr, &bits, &tail) == 2 && bits >= 8 &&
         bits <= 24 && inet_pton(AF_INET, addr, &a) == 1;
}

static int elector(server_control_t *ctl, const char *user, const char *name,
                   void (*started)(void *), void (*stopped)(void *), client_t **ret_client,
                   client_leader_t **ret_le, controller_recorder_t **ret_rec) {
  int r = client_inproc_new(ctl->loop, ctl->o.api, ctl->o.api_data, user, groups, ret_client);
  if (r < 0)
    return r;
  client_set_user_agent(*ret_client, "k3c-leader-election");
  *ret_rec = controller_recorder_new(*ret_client, name);
  client_leader_opts_t lo = {.ns = LEASE_NS,
                             .name = name,
                             .lease_duration = ctl->o.lease_duration,
                             .renew_deadline = ctl->o.renew_deadline,
                             .retry_period = ctl->o.retry_period,
                             .on_started = started,
                             .on_stopped = stopped,
                             .data = ctl};
  if ((r = client_leader_new(*ret_client, &lo, ret_le)) < 0)
    return r;
  client_leader_start(*ret_le);
  return 0;
}

int server_control_start(struct ev_loop *loop, const server_control_opts_t *opts,
                         server_control_t **ret_ctl, char *err, size_t errlen) {
  int r;
  if (!cidr_ok(opts->cluster_cidr)) {
    snprintf(err, errlen, "--cluster-cidr %s: an IPv4 CIDR of /8 to /24 is needed (such as "
             "10.42.0.0/16)", opts->cluster_cidr ? opts->cluster_cidr : "(none)");
    return -EINVAL;
  }
  if (opts->leader_elect &&
      (r = client_leader_check_timings(opts->lease_duration, opts->renew_deadline,
                                       opts->retry_period, err, errlen)) < 0)
    return r;
  server_control_t *ctl = xcalloc(1, sizeof(*ctl));
  ctl->loop = loop;
  ctl->o = *opts;
  ctl->ca_pem = xstrdup(opts->ca_pem ? opts->ca_pem : "");
  ctl->sa_key_pem = xstrdup(opts->sa_key_pem ? opts->sa_key_pem : "");
  ctl->cluster_cidr = xstrdup(opts->cluster_cidr);
  ctl->storage_dir = opts->storage_dir ? xstrdup(opts->storage_dir) : NULL;
  if (!opts->leader_elect) {
    if ((r = cm_start(ctl)) < 0 || (!opts->disable_scheduler && (r = sched_start(ctl)) < 0)) {
      snprintf(err, errlen, "%s", strerror(-r));
      goto fail;
    }
    *ret_ctl = ctl;
    return 0;
  }
  if ((r = elector(ctl, "system:kube-controller-manager", "kube-controller-manager", cm_started,
                   cm_stopped, &ctl->le_cm_client, &ctl->le_cm, &ctl->rec_cm)) < 0 ||
      (!opts->disable_scheduler &&
       (r = elector(ctl, "system:kube-scheduler", "kube-scheduler", sched_started, sched_stopped,
                    &ctl->le_sched_client, &ctl->le_sched, &ctl->rec_sched)) < 0)) {
    snprintf(err, errlen, "leader election: %s", strerror(-r));
    goto fail;
  }
  *ret_ctl = ctl;
  return 0;
fail:
  server_control_free(ctl);
  return r;
}

static void released(void *data) {
  server_control_t *ctl = data;
  if (--ctl->releasing > 0)
    return;
  if (ctl->stop_done)
    ctl->stop_done(ctl->stop_data);
}

void server_control_stop(server_control_t *ctl, void (*done)(void *data), void *data) {
  ctl->stop_done = done;
  ctl->stop_data = data;
  /* scheduler first: it may share the manager's pod informer */
  sched_stop(ctl);
  cm_stop(ctl);
  ctl->releasing = 1 + (ctl->le_cm != NULL) + (ctl->le_sched != NULL);
  if (ctl->le_sched)
    client_leader_release(ctl->le_sched, released, ctl);
  if (ctl->le_cm)
    client_leader_release(ctl->le_cm, released, ctl);
  released(ctl);
}

void server_control_free(server_control_t *ctl) {
  if (!ctl)
    return;
  sched_stop(ctl);
  cm_stop(ctl);
  client_leader_free(ctl->le_sched);
  client_leader_free(ctl->le_cm);
  controller_recorder_free(ctl->rec_sched);
  controller_recorder_free(ctl->rec_cm);
  client_free(ctl->le_sched_client);
  client_free(ctl->le_cm_client);
  scheduler_stats_t *ss = &ctl->totals;
  if (ctl->sched_ran)
    log_info("server", "scheduler: %u cycles, %u bound, %u unschedulable, %u preemptions, %.3f s "
                       "CPU in cycles (%.1f us a cycle, %.1f us of it in the API's binding)",
             ss->attempts, ss->bound, ss->unschedulable, ss->preemptions, ss->cycle_seconds,
             ss->attempts ? ss->cycle_seconds * 1e6 / ss->attempts : 0.0,
             ss->attempts ? ss->bind_seconds * 1e6 / ss->attempts : 0.0);
  free(ctl->ca_pem);
  free(ctl->sa_key_pem);
  free(ctl->cluster_cidr);
  free(ctl->storage_dir);
  free(ctl);
}

bool server_control_controllers_running(const server_control_t *ctl) { return ctl->cm != NULL; }
bool server_control_scheduler_running(const server_control_t *ctl) { return ctl->sched != NULL; }
