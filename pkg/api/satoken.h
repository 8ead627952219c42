/* Service-account token facts other components share with the API's
 * authenticator (pkg/api/satoken.c): the issuer default, and the claims of
 * a legacy kubernetes.io/service-account-token Secret's token, which the
 * token controller signs (pkg/controller/satoken.c). Pure; any thread. */
#pragma once

#include <cjson/cJSON.h>

/* --service-account-issuer's default, as k3s. */
#define API_SATOKEN_DEFAULT_ISSUER "https://kubernetes.default.svc.cluster.local"
/* The iss of legacy Secret-based tokens, and their private claims' prefix. */
#define API_SATOKEN_LEGACY_ISSUER "kubernetes/serviceaccount"
#define API_SATOKEN_LEGACY_CLAIM "kubernetes.io/serviceaccount/"

/* The claims of a legacy token for Secret ns/secret of ServiceAccount
 * sa (uid sa_uid): iss, the four kubernetes.io/serviceaccount/ claims and
 * sub; no exp (they last while the Secret does). Caller frees. */
cJSON *api_satoken_legacy_claims(const char *ns, const char *secret, const char *sa,
                                 const char *sa_uid);
