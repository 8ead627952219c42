/* pkg/agent podsync: one pass of the kubelet's pod sync, run on a worker
 * thread (workers.h) against the runtime: bring the runtime's sandbox and
 * containers of one pod to what its spec asks (sandbox, init containers in
 * order, app containers with restarts and back-off, image pulls per
 * imagePullPolicy, graceful stop of a deleted pod), then compute the
 * pod's status (podstatus.h) and the events a user should see.
 *
 * Stateless but for the pull back-off hints it is handed: everything else
 * is read back from the runtime's labels each pass, so an agent restart
 * adopts what is running and never starts a container twice. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "agent/podspec.h"
#include "agent/runtime.h"
#include "agent/workers.h"

typedef enum {
  AGENT_PODSYNC_SYNC,    /* reconcile pod */
  AGENT_PODSYNC_CLEANUP, /* stop and remove everything labelled uid */
} agent_podsync_kind_t;

typedef struct {
  agent_job_t job; /* first: workers.h hands this back */
  agent_podsync_kind_t kind;
  /* in (owned by the job) */
  cJSON *pod;      /* SYNC: a copy of the Pod */
  char *uid;       /* CLEANUP: the pod uid */
  cJSON *configmaps, *secrets; /* name -> object, of the pod's namespace */
  cJSON *tokens;   /* service-account tokens (agent_podspec_refs_t), may be NULL */
  char *token_err; /* why a token is missing, may be NULL */
  cJSON *hints;    /* pull back-off: container name -> {"n": failures, "next": epoch s} */
  cJSON *probes;   /* probe results (podstatus.h), may be NULL */
  char *mount_err; /* the pod's claims cannot be mounted (pvc.h): FailedMount, wait */
  const agent_podspec_node_t *node; /* borrowed: outlives the job */
  /* out */
  cJSON *status;   /* the new pod status, or NULL (nothing to report) */
  cJSON *events;   /* array of {"type","reason","message"} */
  double wake;     /* seconds until the pod needs another pass, or -1 */
  bool gone;       /* deleted pod: nothing of it runs; finish the deletion */
  agent_rt_container_t *containers; /* what the runtime showed at the end */
  size_t n_containers;
  char pod_ip[64];
  int err;         /* a runtime failure: retry with back-off */
  char errmsg[512];
  void *owner;     /* for the submitter */
} agent_podsync_t;

/* The job's run function (workers.h). */
void agent_podsync_run(agent_job_t *job, agent_runtime_t *rt);
/* Free the job's inputs and outputs and the job. */
void agent_podsync_free(agent_podsync_t *s);
