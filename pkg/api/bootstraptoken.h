/* pkg/api bootstraptoken: bootstrap tokens as kubeadm and k3s keep them, in
 * Secrets kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token
 * with data token-id, token-secret, expiration (RFC 3339), usage-bootstrap-
 * authentication, usage-bootstrap-signing, auth-extra-groups and description.
 * A token reads "<id>.<secret>": 6 and 16 characters of [a-z0-9].
 * Used by the API's authenticator, the join endpoints, the token cleaner and
 * `k3c token`. Pure: no I/O but the RNG; any thread.
 * https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/ */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#define API_BOOTSTRAP_TOKEN_NS "kube-system"
#define API_BOOTSTRAP_TOKEN_TYPE "bootstrap.kubernetes.io/token"
#define API_BOOTSTRAP_TOKEN_PREFIX "bootstrap-token-"
#define API_BOOTSTRAP_GROUP "system:bootstrappers"

/* Split "<id>.<secret>". Returns true and fills id (7 bytes) and secret (17
 * bytes) only for a token of exactly that shape. */
bool api_bootstrap_token_split(const char *token, char id[7], char secret[17]);

/* A new random token "<id>.<secret>" into ret (24 bytes). */
void api_bootstrap_token_generate(char ret[24]);

/* Whether group may be an extra group of a token: "system:bootstrappers:"
 * followed by [a-z0-9:-], ending in [a-z0-9], as upstream validates. */
bool api_bootstrap_group_valid(const char *group);

/* The expiry of a bootstrap-token Secret: 0 and *ret_expires (0 = never)
 * when data.expiration is absent or valid, -EINVAL when it does not parse.
 * Values are base64 in data; this reads them decoded. */
int api_bootstrap_token_expiry(const cJSON *secret, time_t *ret_expires);

/* Check token against its Secret for usage ("authentication" or "signing")
 * at now. 0 when it holds; -EACCES with the reason in why otherwise (wrong
 * type or id, wrong secret, expired, usage not allowed, being deleted). The
 * secrets are compared in constant time. */
int api_bootstrap_token_check(const cJSON *secret, const char *token, const char *usage,
                              time_t now, char *why, size_t whylen);

/* The extra groups the Secret grants (auth-extra-groups split at ','),
 * each valid one passed to cb. */
void api_bootstrap_token_groups(const cJSON *secret, void (*cb)(const char *group, void *data),
                                void *data);

/* A decoded data value of the Secret ("token-id", ...) as a malloc'd
 * string the caller frees, or NULL when absent or not base64. */
char *api_bootstrap_token_data(const cJSON *secret, const char *key);

/* The Secret for token: expires 0 = never; description, usages
 * (comma-separated, each "authentication" or "signing") and groups
 * (comma-separated extra groups) may be NULL. Returns a new object, or NULL
 * with the reason in err for a usage or group upstream refuses. */
cJSON *api_bootstrap_token_secret(const char *token, time_t expires, const char *description,
                                  const char *usages, const char *groups, char *err,
                                  size_t errlen);
