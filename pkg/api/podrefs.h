/* pkg/api podrefs: the objects a pod refers to by name in its namespace —
 * ConfigMaps, Secrets and PersistentVolumeClaims — as the kubelet fetches
 * them and as upstream's Node authorizer relates them to the pod's node.
 * Pure; any thread.
 * https://kubernetes.io/docs/reference/access-authn-authz/node/ */
#pragma once

#include <cjson/cJSON.h>

typedef struct {
  cJSON *configmaps; /* arrays of strings, each name once, in order of first use */
  cJSON *secrets;
  cJSON *claims;
} api_podrefs_t;

/* Fill refs from pod: env valueFrom and envFrom of containers, init and
 * ephemeral containers; volumes of type configMap, secret, projected
 * (configMap and secret sources), persistentVolumeClaim and ephemeral
 * (claim "<pod>-<volume>"); spec.imagePullSecrets. Free with
 * api_podrefs_done. */
void api_podrefs_of(const cJSON *pod, api_podrefs_t *refs);
void api_podrefs_done(api_podrefs_t *refs);
