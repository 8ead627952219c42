/* pkg/agent runtime: the container runtime as a pod worker thread sees it:
 * blocking CRI calls (pkg/cri on a loop private to the thread) whose
 * results are copied into plain structs the caller owns, so the pod sync
 * (podsync.h) reads as a sequence of steps. Every call waits at most the
 * client's deadline; a runtime that is down answers -ECONNREFUSED at once.
 *
 * Threads: a runtime belongs to the thread that made it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri/cri.h"

typedef struct agent_runtime agent_runtime_t;

#define AGENT_RT_ID_MAX 72    /* 64 hex and a NUL, with room */
#define AGENT_RT_NAME_MAX 256 /* container and pod names (DNS labels are shorter) */
#define AGENT_RT_IMAGE_MAX 512
#define AGENT_RT_MSG_MAX 512

/* A sandbox, as listed. */
typedef struct {
  char id[AGENT_RT_ID_MAX];
  uint32_t attempt;
  bool ready;
  int64_t created_at; /* ns since the epoch */
} agent_rt_sandbox_t;

/* A container, as listed, with its status. */
typedef struct {
  char id[AGENT_RT_ID_MAX];
  char sandbox_id[AGENT_RT_ID_MAX];
  char name[AGENT_RT_NAME_MAX]; /* metadata.name: the pod's container name */
  uint32_t attempt;
  bool init; /* labelled an init container */
  cri_container_state_t state;
  int64_t created_at, started_at, finished_at; /* ns; 0 when not yet */
  int32_t exit_code;
  char reason[64]; /* "Completed", "Error", "OOMKilled" */
  char message[AGENT_RT_MSG_MAX];
  char image_ref[AGENT_RT_IMAGE_MAX];
} agent_rt_container_t;

/* A new runtime client for socket_path (connects on first use). Returns
 * 0 and *ret, or a negative errno. */
int agent_runtime_new(const char *socket_path, agent_runtime_t **ret);
void agent_runtime_free(agent_runtime_t *rt); /* accepts NULL */
/* Forget the connection (the runtime restarted). */
void agent_runtime_reset(agent_runtime_t *rt);

/* Each call below returns 0, or a negative errno (cri_status_errno) with
 * the runtime's message in err. */

/* The sandboxes (*ret_n of them, in *ret, caller frees) labelled with pod
 * uid (NULL: every sandbox k3c made). */
int agent_rt_sandboxes(agent_runtime_t *rt, const char *uid, agent_rt_sandbox_t **ret,
                       size_t *ret_n, char *err, size_t errlen);
/* Its IP ("" for host network) and whether it is ready. */
int agent_rt_sandbox_ip(agent_runtime_t *rt, const char *id, char *ip, size_t iplen,
                        bool *ret_ready, char *err, size_t errlen);
int agent_rt_run_sandbox(agent_runtime_t *rt, const cri_sandbox_config_t *cfg,
                         char ret_id[AGENT_RT_ID_MAX], char *err, size_t errlen);
int agent_rt_stop_sandbox(agent_runtime_t *rt, const char *id, char *err, size_t errlen);
int agent_rt_remove_sandbox(agent_runtime_t *rt, const char *id, char *err, size_t errlen);

/* The containers labelled with pod uid, each with its status. */
int agent_rt_containers(agent_runtime_t *rt, const char *uid, agent_rt_container_t **ret,
                        size_t *ret_n, char *err, size_t errlen);
int agent_rt_create_container(agent_runtime_t *rt, const char *sandbox_id,
                              const cri_container_config_t *cfg,
                              const cri_sandbox_config_t *sandbox_cfg,
                              char ret_id[AGENT_RT_ID_MAX], char *err, size_t errlen);
int agent_rt_start_container(agent_runtime_t *rt, const char *id, char *err, size_t errlen);
/* SIGTERM, SIGKILL after timeout_s. */
int agent_rt_stop_container(agent_runtime_t *rt, const char *id, int64_t timeout_s, char *err,
                            size_t errlen);
int agent_rt_remove_container(agent_runtime_t *rt, const char *id, char *err, size_t errlen);
/* ExecSync: run argv in container id (timeout_s > 0: the runtime's limit);
 * *ret_code is its exit code, out (when not NULL) its stdout then stderr,
 * cut to outlen - 1 bytes and NUL-terminated. */
int agent_rt_exec_sync(agent_runtime_t *rt, const char *id, const char *const *argv, size_t argc,
                       int64_t timeout_s, int32_t *ret_code, char *out, size_t outlen, char *err,
                       size_t errlen);

/* Whether the runtime has image; its id (the config digest) in ref. */
int agent_rt_image_present(agent_runtime_t *rt, const char *image, bool *ret_present,
                           char *ref, size_t reflen, char *err, size_t errlen);
int agent_rt_pull_image(agent_runtime_t *rt, const char *image, char *err, size_t errlen);
