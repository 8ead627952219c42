/* The audit log (audit.c): audit.k8s.io/v1 Event lines as upstream's
 * apiserver writes them (--audit-log-path, --audit-policy-file,
 * --audit-log-maxsize/-maxbackup/-maxage), written by a rotating log on
 * its own thread (util/rotlog.h) so a slow disk never holds the loop.
 * https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/
 * Loop thread only. */
#pragma once

#include <stdbool.h>

#include "api/auditpolicy.h"
#include "api/reqinfo.h"
#include "http/server.h"

typedef struct api_audit api_audit_t;
typedef struct api_audit_req api_audit_req_t;
struct api_server;

typedef struct {
  const char *path;        /* file, or "-" for standard output */
  const char *policy_file; /* YAML or JSON Policy; NULL: everything at Metadata */
  int max_size_mb;         /* rotate past this (0: 100, as upstream's lumberjack) */
  int max_backups;         /* 0: keep all */
  int max_age_days;        /* 0: no limit */
} api_audit_opts_t;

/* Load the policy and open the log. Negative errno with err (file and
 * field at fault). */
int api__audit_new(const api_audit_opts_t *o, api_audit_t **ret, char *err, size_t errlen);
void api__audit_free(api_audit_t *a); /* accepts NULL; writes what is queued */

/* A request was authenticated and parsed: decide its level (by user, the
 * effective user), write the RequestReceived event (unless omitted) and set
 * the Audit-Id header. NULL when the level is None. user and requester are
 * api_user_t (internal.h); requester, when the request impersonates, is
 * who sent it (the event's user; user becomes impersonatedUser), else NULL. */
api_audit_req_t *api__audit_begin(api_audit_t *a, http_req_t *req, const void *user,
                                  const void *requester, const api_reqinfo_t *ri);
/* The authorizer's decision ("allow" or "forbid") and reason. */
void api__audit_decision(api_audit_req_t *ar, bool allow, const char *reason);
/* An annotation for the request's events (copied; at most 16). */
void api__audit_annotate(api_audit_req_t *ar, const char *key, const char *value);
/* The decoded request object (copied when the level keeps it; its name
 * completes objectRef for a create). Accepts ar NULL. */
void api__audit_request_object(api_audit_req_t *ar, const void *obj);
/* The response's JSON before it is encoded (YAML, protobuf): kept as
 * responseObject at RequestResponse, and a failure's Status gives
 * responseStatus its message and reason. Accepts ar NULL. */
void api__audit_response_json(api_audit_req_t *ar, int code, const char *json, size_t len);
/* The request is done (freed): write ResponseComplete and free ar. */
void api__audit_end(api_audit_t *a, api_audit_req_t *ar, http_req_t *req);
