/* The controller manager: shared informers for the kinds the controllers
 * read, created once with the indexes every user needs, then the
 * controllers. The shape of kube-controller-manager's SharedInformerFactory
 * and controller start-up. */
#include "controller/manager.h"

#include <errno.h>
#include <stdlib.h>

#include "client/informer.h"
#include "controller/clusterroleaggregation.h"
#include "controller/daemonset.h"
#include "controller/deployment.h"
#include "controller/cronjob.h"
#include "controller/disruption.h"
#include "controller/endpoints.h"
#include "controller/endpointslice.h"
#include "controller/gc.h"
#include "controller/job.h"
#include "controller/replicaset.h"
#include "controller/statefulset.h"
#include "controller/resourcequota.h"
#include "controller/namespace.h"
#include "controller/serviceaccount.h"
#include "controller/tokencleaner.h"
#include "util/alloc.h"

struct controller_manager {
  client_informer_t *pods, *replicasets, *deployments, *rcs, *jobs, *cronjobs, *pdbs;
  client_informer_t *statefulsets, *revisions, *pvcs, *pvs, *classes;
  client_informer_t *nodes, *daemonsets, *clusterroles;
  controller_aggregation_t *aggregation;
  controller_replicaset_t *rs, *rc;
  controller_daemonset_t *ds;
  controller_deployment_t *deploy;
  controller_job_t *job;
  controller_ttl_t *ttl;
  controller_cronjob_t *cronjob;
  controller_statefulset_t *sts;
  controller_gc_t *gc;
  client_informer_t *services, *endpoints, *slices;
  controller_endpoints_t *eps;
  controller_endpointslice_t *epslices;
  client_informer_t *quotas;
  controller_quota_t *quota;
  controller_disruption_t *disruption;
  client_informer_t *namespaces, *serviceaccounts;
  controller_serviceaccount_t *sa;
  controller_tokencleaner_t *tokens;
  controller_namespace_t *nsc;
};

static int informer(client_t *c, const char *group, const char *resource,
                    client_informer_t **ret) {
  client_ref_t ref = {.group = group, .version = "v1", .resource = resource};
  int r = client_informer_new(c, &ref, NULL, NULL, 0, ret);
  if (r < 0)
    return r;
  client_informer_add_index(*ret, CLIENT_INDEX_NAMESPACE, client_index_namespace);
  client_informer_add_index(*ret, CLIENT_INDEX_OWNER, client_index_owner_uid);
  return 0;
}

int controller_manager_start(struct ev_loop *loop, client_t *c, controller_manager_t **ret_mgr) {
  controller_manager_t *m = xcalloc(1, sizeof(*m));
  int r;
  if ((r = informer(c, "", "pods", &m->pods)) < 0 ||
      (r = informer(c, "apps", "replicasets", &m->replicasets)) < 0 ||
      (r = informer(c, "apps", "deployments", &m->deployments)) < 0 ||
      (r = informer(c, "", "replicationcontrollers", &m->rcs)) < 0 ||
      (r = informer(c, "batch", "jobs", &m->jobs)) < 0 ||
      (r = informer(c, "batch", "cronjobs", &m->cronjobs)) < 0 ||
      (r = informer(c, "apps", "statefulsets", &m->statefulsets)) < 0 ||
      (r = informer(c, "", "persistentvolumeclaims", &m->pvcs)) < 0 ||
      (r = informer(c, "", "persistentvolumes", &m->pvs)) < 0 ||
      (r = informer(c, "storage.k8s.io", "storageclasses", &m->classes)) < 0 ||
      (r = informer(c, "", "nodes", &m->nodes)) < 0 ||
      (r = informer(c, "apps", "daemonsets", &m->daemonsets)) < 0 ||
      (r = informer(c, "apps", "controllerrevisions", &m->revisions)) < 0 ||
      (r = informer(c, "rbac.authorization.k8s.io", "clusterroles", &m->clusterroles)) < 0 ||
      (r = informer(c, "policy", "poddisruptionbudgets", &m->pdbs)) < 0)
    goto fail;
  if ((r = informer(c, "", "services", &m->services)) < 0 ||
      (r = informer(c, "", "endpoints", &m->endpoints)) < 0 ||
      (r = informer(c, "discovery.k8s.io", "endpointslices", &m->slices)) < 0 ||
      (r = informer(c, "", "resourcequotas", &m->quotas)) < 0)
    goto fail;
  /* Every ServiceAccount: the ServiceAccount controller looks at "default"
   * only, the token controller at those token Secrets name. */
  client_ref_t ns_ref = {.version = "v1", .resource = "namespaces"};
  client_ref_t sa_ref = {.version = "v1", .resource = "serviceaccounts"};
  if ((r = client_informer_new(c, &ns_ref, NULL, NULL, 0, &m->namespaces)) < 0 ||
      (r = client_informer_new(c, &sa_ref, NULL, NULL, 0, &m->serviceaccounts)) < 0)
    goto fail;
  client_informer_add_index(m->pods, CLIENT_INDEX_NODE, client_index_node_name);
  if ((r = controller_replicaset_new(c, m->replicasets, m->pods, loop, &m->rs)) < 0 ||
      (r = controller_replicationcontroller_new(c, m->rcs, m->pods, loop, &m->rc)) < 0 ||
      (r = controller_deployment_new(c, m->deployments, m->replicasets, loop, &m->deploy)) < 0 ||
      (r = controller_job_new(c, m->jobs, m->pods, loop, &m->job)) < 0 ||
      (r = controller_ttl_new(c, m->jobs, loop, &m->ttl)) < 0 ||
      (r = controller_cronjob_new(c, m->cronjobs, m->jobs, loop, &m->cronjob)) < 0 ||
      (r = controller_statefulset_new(c, m->statefulsets, m->pods, m->revisions, m->pvcs, loop,
                                      &m->sts)) < 0 ||
      (r = controller_daemonset_new(c, m->daemonsets, m->nodes, m->pods, m->revisions, loop,
                                    &m->ds)) < 0 ||
      (r = controller_gc_new(c, loop, &m->gc)) < 0 ||
      (r = controller_aggregation_new(c, m->clusterroles, loop, &m->aggregation)) < 0 ||
      (r = controller_disruption_new(c, m->pdbs, m->pods, loop, &m->disruption)) < 0)
    goto fail;
  if ((r = controller_endpoints_new(c, m->services, m->pods, m->endpoints, loop, &m->eps)) < 0 ||
      (r = controller_endpointslice_new(c, m->services, m->pods, m->slices, m->nodes,
                                        m->endpoints, 0, loop, &m->epslices)) < 0 ||
      (r = controller_quota_new(c, m->quotas, m->pods, m->services, 0, loop, &m->quota)) < 0 ||
      (r = controller_serviceaccount_new(c, m->namespaces, m->serviceaccounts, loop, &m->sa)) < 0 ||
      (r = controller_tokencleaner_new(c, loop, &m->tokens)) < 0 ||
      (r = controller_namespace_new(c, m->namespaces, loop, &m->nsc)) < 0)
    goto fail;
  /* The collector follows the kinds that own and are owned today. */
  controller_gc_add(m->gc, m->deployments, "apps", "deployments", "Deployment", true, false);
  controller_gc_add(m->gc, m->replicasets, "apps", "replicasets", "ReplicaSet", true, true);
  controller_gc_add(m->gc, m->rcs, "", "replicationcontrollers", "ReplicationController", true, false);
  controller_gc_add(m->gc, m->cronjobs, "batch", "cronjobs", "CronJob", true, false);
  controller_gc_add(m->gc, m->jobs, "batch", "jobs", "Job", true, true);
  controller_gc_add(m->gc, m->statefulsets, "apps", "statefulsets", "StatefulSet", true, false);
  controller_gc_add(m->gc, m->daemonsets, "apps", "daemonsets", "DaemonSet", true, false);
  controller_gc_add(m->gc, m->revisions, "apps", "controllerrevisions", "ControllerRevision", false,
                    true);
  controller_gc_add(m->gc, m->pods, "", "pods", "Pod", false, true);
  controller_gc_start(m->gc);
  client_informer_start(m->pods);
  client_informer_start(m->replicasets);
  client_informer_start(m->deployments);
  client_informer_start(m->rcs);
  client_informer_start(m->jobs);
  client_informer_start(m->cronjobs);
  client_informer_start(m->statefulsets);
  client_informer_start(m->pvcs);
  client_informer_start(m->pvs);
  client_informer_start(m->classes);
  client_informer_start(m->nodes);
  client_informer_start(m->daemonsets);
  client_informer_start(m->revisions);
  client_informer_start(m->clusterroles);
  client_informer_start(m->services);
  client_informer_start(m->endpoints);
  client_informer_start(m->slices);
  client_informer_start(m->quotas);
  client_informer_start(m->pdbs);
  client_informer_start(m->namespaces);
  client_informer_start(m->serviceaccounts);
  *ret_mgr = m;
  return 0;
fail:
  controller_manager_free(m);
  return r;
}

client_informer_t *controller_manager_pods(const controller_manager_t *m) { return m->pods; }
client_informer_t *controller_manager_nodes(const controller_manager_t *m) { return m->nodes; }
client_informer_t *controller_manager_pvcs(const controller_manager_t *m) { return m->pvcs; }
client_informer_t *controller_manager_pvs(const controller_manager_t *m) { return m->pvs; }
client_informer_t *controller_manager_storageclasses(const controller_manager_t *m) {
  return m->classes;
}
client_informer_t *controller_manager_namespaces(const controller_manager_t *m) {
  return m->namespaces;
}

client_informer_t *controller_manager_services(const controller_manager_t *m) {
  return m->services;
}

client_informer_t *controller_manager_serviceaccounts(const controller_manager_t *m) {
  return m->serviceaccounts;
}

void controller_manager_set_job_backoff(controller_manager_t *m, double base, double max) {
  controller_job_set_backoff(m->job, base, max);
}

void controller_manager_set_max_endpoints_per_slice(controller_manager_t *m, int max) {
  controller_endpointslice_set_max(m->epslices, max);
}

void controller_manager_free(controller_manager_t *m) {
  if (!m)
    return;
  controller_namespace_free(m->nsc);
  controller_tokencleaner_free(m->tokens);
  controller_serviceaccount_free(m->sa);
  controller_disruption_free(m->disruption);
  controller_aggregation_free(m->aggregation);
  controller_quota_free(m->quota);
  controller_endpointslice_free(m->epslices);
  controller_endpoints_free(m->eps);
  controller_gc_free(m->gc);
  controller_statefulset_free(m->sts);
  controller_cronjob_free(m->cronjob);
  controller_daemonset_free(m->ds);
  controller_ttl_free(m->ttl);
  controller_job_free(m->job);
  controller_deployment_free(m->deploy);
  controller_replicaset_free(m->rc);
  controller_replicaset_free(m->rs);
  client_informer_free(m->serviceaccounts);
  client_informer_free(m->namespaces);
  client_informer_free(m->pvcs);
  client_informer_free(m->pvs);
  client_informer_free(m->classes);
  client_informer_free(m->statefulsets);
  client_informer_free(m->cronjobs);
  client_informer_free(m->pdbs);
  client_informer_free(m->clusterroles);
  client_informer_free(m->revisions);
  client_informer_free(m->daemonsets);
  client_informer_free(m->nodes);
  client_informer_free(m->quotas);
  client_informer_free(m->slices);
  client_informer_free(m->endpoints);
  client_informer_free(m->services);
  client_informer_free(m->jobs);
  client_informer_free(m->rcs);
  client_informer_free(m->deployments);
  client_informer_free(m->replicasets);
  client_informer_free(m->pods);
  free(m);
}
