/* Service-account tokens: TokenRequest (serviceaccounts/<name>/token)
 * issues ES256 JWTs with kube-apiserver's claims; the authenticator
 * accepts them and the legacy Secret-based tokens; the OIDC discovery
 * documents publish the key. Tokens are stateless: the signing key lives in
 * <data-dir>/server/tls/service.key, so they survive restarts.
 * https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
 * https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/kinds.h"
#include "api/object.h"
#include "api/satoken.h"
#include "api/schema.h"
#include "tls/cert.h"
#include "tls/jwt.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/errbuf.h"

#define LEEWAY 60 /* seconds of clock skew allowed, as upstream's validator */
/* Tokens whose signature was verified, by SHA-256: an ECDSA verify costs
 * about 1 ms on x86 and several on a Raspberry Pi, and a pod sends the same
 * token with every request. Only the signature check is skipped on a hit;
 * times, issuer, audience and the objects are checked on every request. */
#define VERIFIED_MAX 32

struct api_sa_verified {
  struct {
    char sum[65];
    cJSON *claims; /* owned */
  } e[VERIFIED_MAX];
  unsigned next; /* round-robin victim */
};

static char **strv_copy(const char *const *v, const char *fallback, size_t *ret_n) {
  size_t n = 0;
  while (v && v[n])
    n++;
  char **out = xcalloc(n + 2, sizeof(*out));
  for (size_t i = 0; i < n; i++)
    out[i] = xstrdup(v[i]);
  if (n == 0 && fallback)
    out[n++] = xstrdup(fallback);
  *ret_n = n;
  return out;
}

static void strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

int api__satoken_init(api_server_t *srv, const api_server_opts_t *opts, char *err, size_t errlen) {
  char *generated = NULL;
  const char *pem = opts->service_account_key_pem;
  int r;
  if (!pem) {
    /* Embedded use without a data dir: tokens last as long as the process. */
    if ((r = tls_key_generate(&generated, err, errlen)) < 0)
      return r;
    pem = generated;
  }
  char why[160] = "";
  r = tls_jwt_key_load(pem, &srv->sa_key, why, sizeof(why));
  free(generated);
  if (r < 0) {
    snprintf(err, errlen, "service-account key: %s", why);
    return r;
  }
  srv->sa_verified = xcalloc(1, sizeof(*srv->sa_verified));
  srv->sa_issuers = strv_copy(opts->service_account_issuers, API_SATOKEN_DEFAULT_ISSUER,
                              &srv->n_sa_issuers);
  srv->api_audiences = strv_copy(opts->api_audiences, srv->sa_issuers[0], &srv->n_api_audiences);
  return 0;
}

void api__satoken_done(api_server_t *srv) {
  for (size_t i = 0; srv->sa_verified && i < VERIFIED_MAX; i++)
    cJSON_Delete(srv->sa_verified->e[i].claims);
  free(srv->sa_verified);
  srv->sa_verified = NULL;
  tls_jwt_key_free(srv->sa_key);
  srv->sa_key = NULL;
  strv_free(srv->sa_issuers);
  strv_free(srv->api_audiences);
  srv->sa_issuers = srv->api_audiences = NULL;
}

/* The stored object ns/name of a core v1 resource, parsed, or NULL. Reads
 * the store's committed state on the loop: no waiting. */
static cJSON *load_core(api_server_t *srv, const char *resource, const char *ns,
                        const char *name) {
  const api_resource_t *res = api_registry_find("", "v1", resource);
  if (!res || !name || !name[0] || (ns && !ns[0]))
    return NULL;
  char *key = api_resource_key(res, ns, name);
  store_kv_t *kv = NULL;
  cJSON *obj = NULL;
  if (store_get(srv->store, key, 0, &kv) == 0) {
    obj = cJSON_ParseWithLength(kv->value, kv->len);
    store_kv_unref(kv);
  }
  free(key);
  return obj;
}

cJSON *api_satoken_legacy_claims(const char *ns, const char *secret, const char *sa,
                                 const char *sa_uid) {
  cJSON *c = cJSON_CreateObject();
  char sub[600];
  snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, sa);
  cJSON_AddStringToObject(c, "iss", API_SATOKEN_LEGACY_ISSUER);
  cJSON_AddStringToObject(c, API_SATOKEN_LEGACY_CLAIM "namespace", ns);
  cJSON_AddStringToObject(c, API_SATOKEN_LEGACY_CLAIM "secret.name", secret);
  cJSON_AddStringToObject(c, API_SATOKEN_LEGACY_CLAIM "service-account.name", sa);
  cJSON_AddStringToObject(c, API_SATOKEN_LEGACY_CLAIM "service-account.uid", sa_uid);
  cJSON_AddStringToObject(c, "sub", sub);
  return c;
}

/* ---- issuing (TokenRequest) ---- */

/* The first value of the wrong JSON type in a TokenRequest (unknown
 * fields are dropped, as decoding into upstream's struct does). */
typedef struct {
  char msg[512];
} type_problem_t;

static void on_type_problem(const char *path, bool unknown_field, const char *msg, void *data) {
  type_problem_t *p = data;
  if (!unknown_field && !p->msg[0])
    snprintf(p->msg, sizeof(p->msg), "%s", msg);
}

/* {"name":…,"uid":…}; uid left out when unknown (upstream's omitempty). */
static cJSON *ref_obj(const char *name, const char *uid) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  if (uid && uid[0])
    cJSON_AddStringToObject(o, "uid", uid);
  return o;
}

/* Check spec.boundObjectRef and add its claims to k8s; 0 or -1 with st
 * filled. As upstream: the kind is a core Pod, Secret or Node (any
 * version of the core group), the object must exist, a pod must run as
 * this ServiceAccount, a given uid must be the object's; a pod's node is
 * named in the claims (with its uid when the Node exists). */
static int bind_claims(api_call_t *call, const cJSON *ref, cJSON *k8s, api_status_t *st) {
  const char *kind = obj_str(ref, "kind");
  const char *av = obj_str(ref, "apiVersion");
  const char *name = obj_str(ref, "name");
  const char *want_uid = obj_str(ref, "uid");
  if (!av)
    av = "";
  const char *slash = strchr(av, '/');
  bool core = !slash; /* "v1" or "": the core group */
  if (!kind)
    kind = "";
  const char *resource = !core                    ? NULL
                         : !strcmp(kind, "Pod")    ? "pods"
                         : !strcmp(kind, "Secret") ? "secrets"
                         : !strcmp(kind, "Node")   ? "nodes"
                                                   : NULL;
  if (!resource) {
    api_status_bad_request(st, "cannot bind token to object of type %.*s/%s, Kind=%s",
                           slash ? (int)(slash - av) : 0, av, slash ? slash + 1 : av, kind);
    return -1;
  }
  if (!name || !name[0]) {
    api__cause_required(st, "spec.boundObjectRef.name");
    api_status_invalid(st, "authentication.k8s.io", "TokenRequest", call->ri.name);
    return -1;
  }
  bool pod = !strcmp(resource, "pods"), node_bound = !strcmp(resource, "nodes");
  cJSON *obj = load_core(call->srv, resource, node_bound ? NULL : call->ri.ns, name);
  int r = -1;
  if (!obj) {
    api_status_not_found(st, "", resource, name);
    goto out;
  }
  const char *uid = obj_str(obj, "metadata.uid");
  if (pod) {
    const char *sa = obj_str(obj, "spec.serviceAccountName");
    if (!sa || strcmp(sa, call->ri.name)) {
      api_status_bad_request(st, "cannot bind token for serviceaccount \"%s\" to pod running "
                                 "with different serviceaccount name.",
                             call->ri.name);
      goto out;
    }
  }
  if (want_uid && want_uid[0] && (!uid || strcmp(uid, want_uid))) {
    char why[512];
    snprintf(why, sizeof(why), "the UID in the bound object reference (%s) does not match the "
                               "UID in record. The object might have been deleted and then "
                               "recreated", want_uid);
    api_status_conflict(st, "", kind, name, why);
    goto out;
  }
  cJSON_AddItemToObject(k8s, pod ? "pod" : node_bound ? "node" : "secret", ref_obj(name, uid));
  const char *node = pod ? obj_str(obj, "spec.nodeName") : NULL;
  if (node && node[0]) {
    /* A pod may name a node that is gone: then the name alone. */
    cJSON *n = load_core(call->srv, "nodes", NULL, node);
    cJSON_AddItemToObject(k8s, "node", ref_obj(node, obj_str(n, "metadata.uid")));
    cJSON_Delete(n);
  }
  r = 0;
out:
  cJSON_Delete(obj);
  return r;
}

void api__satoken_issue(api_call_t *call, cJSON *tr) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  store_kv_t *kv = NULL;
  cJSON *sa = NULL, *claims = NULL;
  char *token = NULL;
  if (api__load(call, &kv, &sa, &st) < 0) {
    api__respond_status(call->req, &st);
    cJSON_Delete(tr);
    return;
  }
  if (!cJSON_IsObject(tr)) {
    api_status_bad_request(&st, "the request body must be a TokenRequest object");
    api__respond_status(call->req, &st);
    goto out;
  }
  type_problem_t tp = {""};
  const schema_type_t *trt = schema_type_for_kind("authentication.k8s.io/v1", "TokenRequest");
  if (trt)
    schema_check(trt, tr, on_type_problem, &tp);
  if (tp.msg[0]) {
    api_status_bad_request(&st, "TokenRequest in version \"v1\" cannot be handled as a "
                                "TokenRequest: %s", tp.msg);
    api__respond_status(call->req, &st);
    goto out;
  }
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(tr, "spec");
  if (!cJSON_IsObject(spec)) {
    cJSON_DeleteItemFromObjectCaseSensitive(tr, "spec");
    spec = cJSON_AddObjectToObject(tr, "spec");
  }
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(spec, "expirationSeconds");
  /* Range-check the double before converting it: upstream allows up to 2^32
   * seconds, which does not fit a 32-bit long (armhf). */
  double dsecs = cJSON_IsNumber(exp) ? exp->valuedouble : 3600;
  const char *why = dsecs < 600 ? "may not specify a duration less than 10 minutes"
                    : dsecs > 4294967296.0 ? "may not specify a duration larger than 2^32 seconds"
                                           : NULL;
  if (why) {
    api__cause_invalid(&st, "spec.expirationSeconds", why);
    api_status_invalid(&st, "authentication.k8s.io", "TokenRequest", call->ri.name);
    api__respond_status(call->req, &st);
    goto out;
  }
  int64_t secs = (int64_t)dsecs;
  cJSON *auds = cJSON_GetObjectItemCaseSensitive(spec, "audiences");
  if (!cJSON_IsArray(auds) || cJSON_GetArraySize(auds) == 0) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "audiences");
    auds = cJSON_AddArrayToObject(spec, "audiences");
    for (size_t i = 0; i < call->srv->n_api_audiences; i++)
      cJSON_AddItemToArray(auds, cJSON_CreateString(call->srv->api_audiences[i]));
  }
  const cJSON *a;
  cJSON_ArrayForEach(a, auds) {
    if (!cJSON_IsString(a) || !a->valuestring[0]) {
      api__cause_invalid(&st, "spec.audiences", "audiences must be non-empty strings");
      api_status_invalid(&st, "authentication.k8s.io", "TokenRequest", call->ri.name);
      api__respond_status(call->req, &st);
      goto out;
    }
  }

  time_t now = time(NULL);
  char sub[600], jti[40];
  snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", call->ri.ns, call->ri.name);
  obj_uuid(jti, sizeof(jti));
  claims = cJSON_CreateObject();
  cJSON_AddItemToObject(claims, "aud", cJSON_Duplicate(auds, 1));
  cJSON_AddNumberToObject(claims, "exp", (double)(now + secs));
  cJSON_AddNumberToObject(claims, "iat", (double)now);
  cJSON_AddStringToObject(claims, "iss", call->srv->sa_issuers[0]);
  cJSON_AddStringToObject(claims, "jti", jti);
  cJSON *k8s = cJSON_AddObjectToObject(claims, "kubernetes.io");
  cJSON_AddStringToObject(k8s, "namespace", call->ri.ns);
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(spec, "boundObjectRef");
  if (cJSON_IsObject(ref) && bind_claims(call, ref, k8s, &st) < 0) {
    api__respond_status(call->req, &st);
    goto out;
  }
  cJSON_AddItemToObject(k8s, "serviceaccount",
                        ref_obj(call->ri.name, obj_str(sa, "metadata.uid")));
  cJSON_AddNumberToObject(claims, "nbf", (double)now);
  cJSON_AddStringToObject(claims, "sub", sub);
  char err[160] = "";
  if (tls_jwt_sign(call->srv->sa_key, claims, &token, err, sizeof(err)) < 0) {
    api_status_internal(&st, "failed to sign the token: %s", err);
    api__respond_status(call->req, &st);
    goto out;
  }
  obj_set_str(tr, "apiVersion", "authentication.k8s.io/v1");
  obj_set_str(tr, "kind", "TokenRequest");
  cJSON *meta = obj_meta(tr);
  obj_set_str(meta, "name", call->ri.name);
  obj_set_str(meta, "namespace", call->ri.ns);
  obj_set(spec, "expirationSeconds", cJSON_CreateNumber((double)secs));
  cJSON *status = cJSON_CreateObject();
  cJSON_AddStringToObject(status, "token", token);
  char ts[32];
  obj_time_format(now + secs, ts, sizeof(ts));
  cJSON_AddStringToObject(status, "expirationTimestamp", ts);
  obj_set(tr, "status", status);
  api__respond_obj(call->req, 201, tr);
  tr = NULL;
out:
  free(token);
  cJSON_Delete(claims);
  cJSON_Delete(tr);
  cJSON_Delete(sa);
  store_kv_unref(kv);
}

/* ---- authentication ---- */

static bool in_set(const char *s, char *const *set, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s, set[i]))
      return true;
  return false;
}

static bool has_string(const cJSON *v, char *const *set, size_t n) {
  if (cJSON_IsString(v)) {
    for (size_t i = 0; i < n; i++)
      if (!strcmp(v->valuestring, set[i]))
        return true;
    return false;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, v) {
    if (cJSON_IsString(e) && has_string(e, set, n))
      return true;
  }
  return false;
}

/* exp, nbf and iat against now with the leeway; exp is required when
 * need_exp. NULL when good, else upstream's reason. */
static const char *times_bad(const cJSON *claims, bool need_exp, time_t now) {
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
  const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
  const cJSON *iat = cJSON_GetObjectItemCaseSensitive(claims, "iat");
  if (exp ? !cJSON_IsNumber(exp) || exp->valuedouble + LEEWAY < (double)now : need_exp)
    return exp ? "service account token has expired" : "service account token has no expiry";
  if (nbf && (!cJSON_IsNumber(nbf) || nbf->valuedouble > (double)now + LEEWAY))
    return "service account token is not valid yet";
  if (iat && (!cJSON_IsNumber(iat) || iat->valuedouble > (double)now + LEEWAY))
    return "service account token was issued in the future";
  return NULL;
}

/* A bound object (pod, secret, node; ns NULL for a node) must still exist
 * with its uid and not have been deleting for longer than the leeway
 * (upstream lets a pod's token work through the first minute of graceful
 * termination). */
static bool bound_alive(api_server_t *srv, const char *resource, const char *ns,
                        const cJSON *ref, time_t now) {
  const char *name = obj_str(ref, "name"), *uid = obj_str(ref, "uid");
  cJSON *obj = load_core(srv, resource, ns, name);
  const char *have = obj_str(obj, "metadata.uid");
  const char *del = obj_str(obj, "metadata.deletionTimestamp");
  bool ok = obj && have && uid && !strcmp(have, uid) &&
            (!del || obj_time_parse(del) >= now - LEEWAY);
  cJSON_Delete(obj);
  return ok;
}

static void sa_user(api_user_t *user, const char *ns, const char *name, const char *uid) {
  memset(user, 0, sizeof(*user));
  snprintf(user->name, sizeof(user->name), "system:serviceaccount:%s:%s", ns, name);
  snprintf(user->uid, sizeof(user->uid), "%s", uid);
  char g[300];
  snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
  api__user_add_group(user, "system:serviceaccounts");
  api__user_add_group(user, g);
  api__user_add_group(user, "system:authenticated");
}

/* The ServiceAccount ns/name with this uid exists (and has not been
 * deleting for longer than the leeway); else false with upstream's reason. */
static bool sa_alive(api_server_t *srv, const char *ns, const char *name, const char *uid,
                     time_t now, char *err, size_t errlen) {
  cJSON *sa = load_core(srv, "serviceaccounts", ns, name);
  const char *have = obj_str(sa, "metadata.uid");
  const char *del = obj_str(sa, "metadata.deletionTimestamp");
  bool ok = false;
  if (!sa)
    errbuf_set(err, errlen, "serviceaccounts \"%s\" not found", name);
  else if (del && obj_time_parse(del) < now - LEEWAY)
    errbuf_set(err, errlen, "service account %s/%s has been deleted", ns, name);
  else if (!have || !uid || strcmp(have, uid))
    errbuf_set(err, errlen, "service account UID (%s) does not match claim (%s)",
               have ? have : "", uid ? uid : "");
  else
    ok = true;
  cJSON_Delete(sa);
  return ok;
}

static int bound_token(api_server_t *srv, const cJSON *claims, api_user_t *user, time_t now,
                       char *err, size_t errlen) {
  const char *bad = times_bad(claims, true, now);
  if (bad) {
    errbuf_set(err, errlen, "%s", bad);
    return -1;
  }
  const cJSON *k8s = cJSON_GetObjectItemCaseSensitive(claims, "kubernetes.io");
  const char *ns = obj_str(k8s, "namespace");
  const char *name = obj_str(k8s, "serviceaccount.name");
  const char *uid = obj_str(k8s, "serviceaccount.uid");
  const cJSON *pod = obj_get(k8s, "pod"), *secret = obj_get(k8s, "secret");
  const cJSON *node = obj_get(k8s, "node");
  if (!ns || !name) {
    errbuf_set(err, errlen, "service account token has no kubernetes.io claims");
    return -1;
  }
  if (!sa_alive(srv, ns, name, uid, now, err, errlen))
    return -1;
  /* The node of a pod-bound token is information; a node-bound token
   * lives as long as its Node. */
  if ((pod && !bound_alive(srv, "pods", ns, pod, now)) ||
      (secret && !bound_alive(srv, "secrets", ns, secret, now)) ||
      (node && !pod && !bound_alive(srv, "nodes", NULL, node, now))) {
    errbuf_set(err, errlen, "service account token has been invalidated");
    return -1;
  }
  sa_user(user, ns, name, uid);
  if (pod) {
    api__user_add_extra(user, "authentication.kubernetes.io/pod-name", obj_str(pod, "name"));
    api__user_add_extra(user, "authentication.kubernetes.io/pod-uid", obj_str(pod, "uid"));
  }
  const char *node_name = obj_str(node, "name"), *node_uid = obj_str(node, "uid");
  if (node_name && node_name[0]) {
    api__user_add_extra(user, "authentication.kubernetes.io/node-name", node_name);
    if (node_uid && node_uid[0])
      api__user_add_extra(user, "authentication.kubernetes.io/node-uid", node_uid);
  }
  const char *jti = obj_str(claims, "jti");
  if (jti && jti[0]) {
    char id[128];
    snprintf(id, sizeof(id), "JTI=%s", jti);
    api__user_add_extra(user, "authentication.kubernetes.io/credential-id", id);
  }
  return 1;
}

/* A legacy token is good while its Secret exists and still holds exactly
 * this token, and the ServiceAccount it names is the same one. */
static int legacy_token(api_server_t *srv, const char *token, const cJSON *claims,
                        api_user_t *user, char *err, size_t errlen) {
  const cJSON *c;
  const char *vns = NULL, *secret = NULL, *name = NULL, *uid = NULL;
  cJSON_ArrayForEach(c, claims) {
    if (!cJSON_IsString(c))
      continue;
    if (!strcmp(c->string, API_SATOKEN_LEGACY_CLAIM "namespace"))
      vns = c->valuestring;
    else if (!strcmp(c->string, API_SATOKEN_LEGACY_CLAIM "secret.name"))
      secret = c->valuestring;
    else if (!strcmp(c->string, API_SATOKEN_LEGACY_CLAIM "service-account.name"))
      name = c->valuestring;
    else if (!strcmp(c->string, API_SATOKEN_LEGACY_CLAIM "service-account.uid"))
      uid = c->valuestring;
  }
  const char *bad = times_bad(claims, false, time(NULL));
  if (!vns || !secret || !name || !uid || bad) {
    errbuf_set(err, errlen, "%s", bad ? bad : "legacy service account token lacks its claims");
    return -1;
  }
  cJSON *s = load_core(srv, "secrets", vns, secret);
  const char *stored = obj_str(s, "data.token");
  bool ok = false;
  if (stored && !obj_get(s, "metadata.deletionTimestamp")) {
    unsigned char *raw = NULL;
    size_t n;
    if (base64_decode(stored, strlen(stored), &raw, &n) == 0)
      ok = n == strlen(token) && !memcmp(raw, token, n);
    free(raw);
  }
  cJSON_Delete(s);
  if (!ok) {
    errbuf_set(err, errlen, "token has been invalidated (its Secret %s/%s is gone or holds "
                            "another token)", vns, secret);
    return -1;
  }
  if (!sa_alive(srv, vns, name, uid, time(NULL), err, errlen))
    return -1;
  sa_user(user, vns, name, uid);
  return 1;
}

/* The claims of a token with a good signature (borrowed from the cache
 * until the next call), or NULL. */
static const cJSON *verified_claims(api_server_t *srv, const char *token, char *err,
                                    size_t errlen) {
  struct api_sa_verified *v = srv->sa_verified;
  char sum[65];
  tls_sha256_hex(token, strlen(token), sum);
  for (size_t i = 0; i < VERIFIED_MAX; i++)
    if (v->e[i].claims && !strcmp(v->e[i].sum, sum))
      return v->e[i].claims;
  cJSON *claims = NULL;
  if (tls_jwt_verify(srv->sa_key, token, &claims, err, errlen) < 0)
    return NULL;
  unsigned i = v->next++ % VERIFIED_MAX;
  cJSON_Delete(v->e[i].claims);
  memcpy(v->e[i].sum, sum, sizeof(sum));
  v->e[i].claims = claims;
  return claims;
}

cJSON *api__audiences_granted(api_server_t *srv, const cJSON *token_auds,
                              const api_audiences_t *want) {
  char *const *req = want ? want->v : srv->api_audiences;
  size_t n_req = want ? want->n : srv->n_api_audiences;
  cJSON *out = cJSON_CreateArray();
  bool implicit = !cJSON_IsString(token_auds) && cJSON_GetArraySize(token_auds) == 0;
  for (size_t i = 0; i < n_req; i++) {
    bool in = implicit ? in_set(req[i], srv->api_audiences, srv->n_api_audiences)
                       : has_string(token_auds, &req[i], 1);
    if (in)
      cJSON_AddItemToArray(out, cJSON_CreateString(req[i]));
  }
  return out;
}

/* Go's %q of a []string, ["a" "b"], of the strings in v (a string or an
 * array), or when v is NULL of set. */
static void quote_list(const cJSON *v, char *const *set, size_t n, char *out, size_t outlen) {
  buf_t b;
  buf_init(&b, outlen);
  buf_append_str(&b, "[");
  size_t k = 0;
  if (cJSON_IsString(v)) {
    buf_printf(&b, "\"%s\"", v->valuestring);
  } else if (v) {
    const cJSON *arr = v, *e;
    cJSON_ArrayForEach(e, arr) {
      if (cJSON_IsString(e))
        buf_printf(&b, "%s\"%s\"", k++ ? " " : "", e->valuestring);
    }
  } else {
    for (size_t j = 0; j < n; j++)
      buf_printf(&b, "%s\"%s\"", j ? " " : "", set[j]);
  }
  buf_append_str(&b, "]");
  snprintf(out, outlen, "%.*s", (int)b.len, b.data ? b.data : "");
  buf_done(&b);
}

int api__satoken_authenticate(api_server_t *srv, const char *token, const api_audiences_t *want,
                              api_user_t *user, cJSON **ret_auds, char *err, size_t errlen) {
  if (!srv->sa_key || !tls_jwt_looks_like(token))
    return 0;
  const cJSON *claims = verified_claims(srv, token, err, errlen);
  if (!claims)
    return -1;
  /* The audiences both the token and the caller accept; a token without
   * aud (a legacy one) is good for the API's own, as upstream. */
  cJSON *auds = api__audiences_granted(srv, cJSON_GetObjectItemCaseSensitive(claims, "aud"), want);
  int r = -1;
  api_user_t u;
  memset(&u, 0, sizeof(u));
  const char *iss = obj_str(claims, "iss");
  if (cJSON_GetArraySize(auds) == 0) {
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(claims, "aud");
    char have[256], target[256];
    quote_list(cJSON_IsString(ta) || cJSON_GetArraySize(ta) > 0 ? ta : NULL, srv->api_audiences,
               srv->n_api_audiences, have, sizeof(have));
    quote_list(NULL, want ? want->v : srv->api_audiences,
               want ? want->n : srv->n_api_audiences, target, sizeof(target));
    errbuf_set(err, errlen, "token audiences %s is invalid for the target audiences %s", have,
               target);
  } else if (iss && !strcmp(iss, API_SATOKEN_LEGACY_ISSUER)) {
    r = legacy_token(srv, token, claims, &u, err, errlen);
  } else if (iss && has_string(cJSON_GetObjectItemCaseSensitive(claims, "iss"), srv->sa_issuers,
                               srv->n_sa_issuers)) {
    r = bound_token(srv, claims, &u, time(NULL), err, errlen);
  } else {
    errbuf_set(err, errlen, "token issuer \"%s\" is not accepted", iss ? iss : "");
  }
  if (r > 0) {
    *user = u;
    if (ret_auds) {
      *ret_auds = auds;
      auds = NULL;
    }
  } else {
    api__user_done(&u);
  }
  cJSON_Delete(auds);
  return r;
}

/* ---- TokenReview ---- */

void api__satoken_review(api_call_t *call, cJSON *obj) {
  api_status_t st;
  type_problem_t tp = {""};
  const schema_type_t *t = schema_type_for_kind("authentication.k8s.io/v1", "TokenReview");
  if (t)
    schema_check(t, obj, on_type_problem, &tp);
  if (tp.msg[0]) {
    api_status_bad_request(&st, "TokenReview in version \"v1\" cannot be handled as a "
                                "TokenReview: %s", tp.msg);
    goto refuse;
  }
  const char *token = obj_str(obj, "spec.token");
  if (!token || !token[0]) {
    api_status_bad_request(&st, "token is required for TokenReview in "
                                "authentication.k8s.io/__internal");
    goto refuse;
  }
  /* spec.audiences: the ones the caller accepts (none: the API's). */
  const cJSON *req_auds = obj_get(obj, "spec.audiences");
  size_t n = cJSON_IsArray(req_auds) ? (size_t)cJSON_GetArraySize(req_auds) : 0;
  char **v = xcalloc(n + 1, sizeof(*v));
  size_t k = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, req_auds) {
    if (n && cJSON_IsString(a) && k < n)
      v[k++] = a->valuestring;
  }
  api_audiences_t want = {.v = v, .n = k};
  api_user_t u;
  cJSON *granted = NULL;
  char why[512] = "";
  bool ok = api__authenticate_token(call->srv, token, k ? &want : NULL, &u, &granted, why,
                                    sizeof(why));
  free(v);
  cJSON *status = cJSON_CreateObject();
  if (ok) {
    cJSON_AddBoolToObject(status, "authenticated", true);
    cJSON_AddItemToObject(status, "user", api__user_info(&u));
    cJSON_AddItemToObject(status, "audiences", granted);
    api__user_done(&u);
  } else {
    cJSON_AddObjectToObject(status, "user");
    if (why[0])
      cJSON_AddStringToObject(status, "error", why);
  }
  obj_set(obj, "status", status);
  api__respond_obj(call->req, 201, obj);
  return;
refuse:
  cJSON_Delete(obj);
  api__respond_status(call->req, &st);
}

/* ---- OIDC discovery ---- */

bool api__satoken_discovery(api_server_t *srv, http_req_t *req, const char *path) {
  bool config = !strcmp(path, "/.well-known/openid-configuration");
  bool jwks = !strcmp(path, "/openid/v1/jwks");
  if (!config && !jwks)
    return false;
  const char *method = http_req_method(req);
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    api_status_t st;
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(req, &st);
    return true;
  }
  cJSON *doc;
  if (config) {
    const char *iss = srv->sa_issuers[0];
    size_t n = strlen(iss);
    while (n && iss[n - 1] == '/')
      n--;
    char *uri = xasprintf("%.*s/openid/v1/jwks", (int)n, iss);
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "issuer", iss);
    cJSON_AddStringToObject(doc, "jwks_uri", uri);
    free(uri);
    cJSON_AddItemToObject(doc, "response_types_supported", cJSON_CreateStringArray((const char *[]){"id_token"}, 1));
    cJSON_AddItemToObject(doc, "subject_types_supported", cJSON_CreateStringArray((const char *[]){"public"}, 1));
    cJSON_AddItemToObject(doc, "id_token_signing_alg_values_supported", cJSON_CreateStringArray((const char *[]){"ES256"}, 1));
  } else {
    doc = tls_jwt_jwks(srv->sa_key);
  }
  char *body = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  http_req_add_header(req, "Cache-Control", "public, max-age=3600");
  http_respond_take(req, 200, config ? "application/json" : "application/jwk-set+json", body,
                    strlen(body));
  return true;
}
