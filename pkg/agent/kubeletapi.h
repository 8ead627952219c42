/* pkg/agent kubeletapi: the kubelet's HTTPS API (port 10250) that the API
 * server calls for `kubectl logs`: /healthz, /pods (this node's pods) and
 * /containerLogs/{ns}/{pod}/{container} with the query options follow,
 * tailLines, sinceSeconds, sinceTime, timestamps, previous and limitBytes,
 * /stats/summary (the Summary API JSON) and /metrics/resource (Prometheus
 * text) from the kubelet's latest resource sample (503 before the first),
 * and the streaming /exec, /attach and /portForward (kubeletstream.h).
 * Clients present a certificate signed by the cluster's client CA, with
 * extKeyUsage clientAuth, whose CN is system:kube-apiserver or whose O is
 * system:masters; any other certificate is a 401 saying why.
 * https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/
 *
 * Threads: the loop it was started on. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "agent/kubelet.h"

typedef struct agent_kubeletapi agent_kubeletapi_t;

typedef struct {
  const char *bind_address;  /* "0.0.0.0" */
  int port;                  /* 10250 */
  const char *cert_pem;      /* serving certificate and key (PEM) */
  const char *key_pem;
  const char *client_ca_pem; /* the client CA (client-ca.crt) */
} agent_kubeletapi_opts_t;

/* Listen. The strings are used during the call only. Returns 0 and *ret,
 * or a negative errno with a reason in err. */
int agent_kubeletapi_start(struct ev_loop *loop, const agent_kubeletapi_opts_t *o,
                           agent_kubeletapi_t **ret, char *err, size_t errlen);
/* The kubelet whose pods are served (NULL: none yet, /pods is empty and
 * logs answer 503). k must outlive its use here (set NULL before freeing
 * it: the log streams of its pods end). */
void agent_kubeletapi_set_kubelet(agent_kubeletapi_t *a, agent_kubelet_t *k);
/* Serve a renewed certificate from now on (new connections). 0, or
 * -EINVAL with a reason (the old one stays). */
int agent_kubeletapi_set_cert(agent_kubeletapi_t *a, const char *cert_pem, const char *key_pem,
                              char *err, size_t errlen);
/* Close the listener and every stream. Accepts NULL. */
void agent_kubeletapi_stop(agent_kubeletapi_t *a);

/* Internal, for tests: the log file (attempt number) of container in pod
 * that a request wants, from the pod's status as the kubelet chooses the
 * container (the running one, else the last terminated; previous: the
 * one before), or -1 with upstream's message in msg (400). */
long agent__kubeletapi_attempt(const cJSON *pod, const char *container, bool previous, char *msg,
                               size_t msglen);
