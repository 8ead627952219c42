/* pkg/agent satokens: the bound service-account tokens of this node's pods'
 * projected serviceAccountToken sources, as upstream's kubelet token
 * manager keeps them: one TokenRequest per pod and (audience,
 * expirationSeconds) through the agent's client, bound to the pod (name and
 * uid), kept in memory only while the pod is on the node, refreshed once
 * 80% of its lifetime or 24 h has passed, a failed request retried with
 * exponential back-off (1 s doubling to 5 min). A token that arrives or
 * changes makes the pod resync, whose volume pass writes it (volumes.h).
 * https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#bound-service-account-token-volume
 *
 * Threads: the loop of its client. */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <stddef.h>

#include "client/client.h"

/* At most this many serviceAccountToken sources per pod. */
#define AGENT_SATOKENS_PER_POD 8

typedef struct agent_satokens agent_satokens_t;

/* A token of the pod with key "ns/name" arrived or was refreshed. */
typedef void (*agent_satokens_changed_cb)(const char *pod_key, void *data);

/* c must outlive the manager. Never fails (aborts on out of memory). */
agent_satokens_t *agent_satokens_new(struct ev_loop *loop, client_t *c,
                                     agent_satokens_changed_cb cb, void *data);
/* Cancels the requests in flight. Accepts NULL. */
void agent_satokens_free(agent_satokens_t *t);

/* The key under which a token for source (a projected serviceAccountToken
 * source: audience, expirationSeconds) is found: "<expirationSeconds>/<audience>"
 * into buf (n >= 300 is enough for any audience up to 256 bytes). Pure. */
void agent_satokens_source_key(const cJSON *source, char *buf, size_t n);

/* The tokens pod (key "ns/name") needs now: a new object (caller frees)
 * source key -> token string, holding those the manager has; requests for
 * the missing ones and the ones due for refresh start here. Sources the pod
 * no longer has are dropped. When a token is missing because its last
 * request failed, err says why; err is left alone while the first request
 * is only in flight (its answer resyncs the pod). */
cJSON *agent_satokens_for_pod(agent_satokens_t *t, const char *pod_key, const cJSON *pod,
                              char *err, size_t errlen);

/* The pod is gone: forget its tokens (requests in flight are cancelled). */
void agent_satokens_drop(agent_satokens_t *t, const char *pod_key);

/* How many tokens (or pending requests) are kept (tests, metrics). */
unsigned agent_satokens_count(const agent_satokens_t *t);
