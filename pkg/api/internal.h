/* Internal interfaces shared by the files of pkg/api (not for other
 * components). Loop thread only. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <time.h>

#include "api/api.h"
#include "api/rbac.h"
#include "api/registry.h"
#include "api/reqinfo.h"
#include "api/status.h"
#include "json/selector.h"
#include "util/buf.h"

typedef struct api_token api_token_t;
typedef struct api_ipalloc api_ipalloc_t;
typedef struct api_watch api_watch_t;
typedef struct api_rbac api_rbac_t;
typedef struct tls_jwt_key tls_jwt_key_t;

struct api_server {
  struct {
    char prefix[64];
    api_route_cb cb;
    void *data;
  } routes[8]; /* api_server_route */
  size_t n_routes;
  struct api_promstats *prom; /* /metrics (promstats.c) */
  struct api_audit *audit;    /* the audit log, or NULL (audit.c) */
  struct ev_loop *loop;
  store_t *store;
  char *service_cidr;
  char *advertise_ip;
  char *cluster_dns; /* NULL: no kube-dns Service */
  int advertise_port;
  int node_port_min, node_port_max;
  int not_ready_toleration_seconds, unreachable_toleration_seconds;
  api_token_t *tokens;
  api_ipalloc_t *ips;
  unsigned char *node_ports; /* bitmap over node_port_min..max */
  bool dry_run;              /* set around admit hooks of a dryRun request: show, keep nothing */
  api_watch_t *watches;      /* active watch streams */
  store_watch_t *crd_watch;  /* follows CustomResourceDefinitions (crd.c) */
  api_rbac_t *rbac;          /* roles and bindings, compiled (authz.c) */
  ev_timer reconcile;        /* re-creates the kubernetes Service (api.c) */
  uint64_t store_failures_logged; /* store_failure count last logged (write.c) */
  /* Evictions allowed by a PodDisruptionBudget whose decremented status is
   * not stored yet (action.c): per budget, the revision they were decided
   * on and how many. */
  struct {
    char key[320];
    int64_t rev;
    int n;
  } pdb_pending[16];
  unsigned pdb_pending_next;
  char *kubelet_cert_pem, *kubelet_key_pem; /* pods/log's client certificate */
  struct api_metrics *metrics; /* kubelet summaries for metrics.k8s.io (metrics.c) */
  /* service-account tokens (satoken.c): the signing key, the issuers
   * accepted (the first signs) and the audiences the API accepts; the
   * lists are NULL-terminated and never empty */
  tls_jwt_key_t *sa_key;
  char **sa_issuers, **api_audiences;
  size_t n_sa_issuers, n_api_audiences;
  bool anonymous_auth; /* api_server_opts_t.anonymous_auth */
  struct api_sa_verified *sa_verified; /* tokens whose signature checked out */
  struct http_tls_client *kubelet_tls; /* the same for pods/exec etc. (podstream.c), made once */
  struct http_tls_client *proxy_tls;   /* https services/pods proxying, no certificate (proxy.c) */
  struct api_aggr *aggr;               /* aggregated APIServices (aggregator.c) */
};

typedef struct {
  char name[256];
  char uid[64];
  char *groups[16]; /* NULL-terminated, owned */
  /* user.Info's extra: one value per key here (service-account tokens
   * set authentication.kubernetes.io/pod-name and the like); owned,
   * the list ends at the first NULL key */
  struct {
    char *key, *value;
  } extra[6];
} api_user_t;

/* One request to a resource. */
typedef struct {
  api_server_t *srv;
  http_req_t *req;
  api_reqinfo_t ri;
  const api_resource_t *res;  /* the row whose form is stored (view->storage) */
  const api_resource_t *view; /* the row the client addressed (its version) */
  api_user_t user;
  api_user_t *requester; /* who sent an impersonating request (audit), else NULL */
  bool want_table;
} api_call_t;

/* ---- responses (api.c) ----
 * JSON bodies (objects, lists, Status errors, Tables, discovery) end with a
 * newline, as upstream's encoder (Go's json.Encoder) writes them: clients
 * compare error bodies byte for byte. */
/* Send a JSON body of content type ctype; takes ownership of body (malloc'd,
 * len bytes without the newline). */
void api__respond_json(http_req_t *req, int code, const char *ctype, char *body, size_t len);
/* Send st as a Status response and release it. */
void api__respond_status(http_req_t *req, api_status_t *st);
/* Send an object as JSON; takes ownership of obj. */
void api__respond_obj(http_req_t *req, int code, cJSON *obj);
/* Send stored bytes as the JSON body. */
void api__respond_bytes(http_req_t *req, int code, const char *json, size_t len);
/* When Accept names application/yaml first: answer the JSON document as
 * YAML and return true (media.c); false: the caller answers JSON. */
bool api__respond_yaml(http_req_t *req, int code, const char *json, size_t len);
/* Whether Accept names application/yaml first. */
bool api__wants_yaml(http_req_t *req);
/* Accept header asks for meta.k8s.io Table. */
bool api__wants_table(http_req_t *req);
/* Add a "Warning: 299 - ..." response header (kubectl prints these). */
void api__add_warning(http_req_t *req, const char *text);
/* Query boolean as upstream decodes one: absent, "0" and "false" are false. */
bool api__query_bool(http_req_t *req, const char *name);

/* ---- pods/log (podlog.c) ---- */
/* GET …/pods/<name>/log: proxied to the pod's kubelet. Returns true when
 * the call was that (and is answered). */
bool api__pod_log(api_call_t *call);
/* The kubelet API's base URL of node ("https://10.0.0.5:10250") from its
 * status (daemonEndpoints port; InternalIP, else ExternalIP, else
 * Hostname). Returns 0, or -ENOENT when the node has none (podlog.c). */
int api__kubelet_url(const cJSON *node, char *url, size_t len);
/* metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, built from the
 * kubelets' /stats/summary (metrics.c). Returns false when call is not
 * for that group. */
bool api__metrics(api_call_t *call);
void api__metrics_free(api_server_t *srv);
/* Create the Local APIServices of the built-in group/versions that are
 * missing (apiservice.c). */
void api__apiservices_bootstrap(api_server_t *srv);
/* As upstream's crdRegistrationController: a Local APIService (label
 * kube-aggregator.kubernetes.io/automanaged "true") for each served group/
 * version of the CustomResourceDefinitions, deleted when none serves it
 * any more. Called by the aggregator's timer. */
void api__apiservices_sync_crds(api_server_t *srv);
/* "[a b c]" of the names in a container list (Go's fmt of a string slice). */
void api__container_names(const cJSON *list, char *out, size_t len);
/* Whether pod has a container, init or ephemeral container called name. */
bool api__pod_has_container(const cJSON *pod, const char *name);
/* The kubelet's address on node: InternalIP, else ExternalIP, else
 * Hostname; NULL if none. Borrowed from node. */
const char *api__node_address(const cJSON *node);

/* ---- pods/exec, pods/attach, pods/portforward (podstream.c) ---- */
/* Relayed to the pod's kubelet (http/tunnel.h). Returns true when the call
 * was one of those (and is answered). */
bool api__pod_stream(api_call_t *call);

/* ---- nodes/proxy, services/proxy, pods/proxy (proxy.c) ---- */
/* Relayed to the kubelet, a service endpoint or the pod (http/forward.h,
 * http/tunnel.h for upgrades). Returns true when the call was one of
 * those (and is answered). */
bool api__proxy(api_call_t *call);
/* Append s to b percent-encoded where it may not stand in a path. */
void api__proxy_encode_path(buf_t *b, const char *s);

/* ---- API aggregation (aggregator.c) ---- */
/* Start following the APIServices that name a service (a timer on the
 * loop; also keeps kube-system/extension-apiserver-authentication);
 * stop frees it all. */
void api__aggregator_start(api_server_t *srv, const api_server_opts_t *opts);
void api__aggregator_stop(api_server_t *srv);
/* The ConfigMap and Role extension servers read, written with the other
 * bootstrap objects (api_server_bootstrap). */
void api__aggregator_bootstrap(api_server_t *srv);
/* A request under /apis/<group>/<version> of an aggregated APIService:
 * proxied to its service (or answered 503 "service unavailable"); true
 * when answered. Call after authorization. */
bool api__aggregate(api_call_t *call);
/* The CN a front-proxy certificate must have (requestheader-allowed-names),
 * or NULL when the server has no front-proxy configuration. */
const char *api__aggregator_allowed_name(api_server_t *srv);
/* Discovery: append to out[n..max) the groups (resp. the versions of
 * group) of aggregated APIServices not already there; returns the new n.
 * Strings live until the next loop iteration. */
size_t api__aggregated_groups(api_server_t *srv, const char **out, size_t n, size_t max);
size_t api__aggregated_versions(api_server_t *srv, const char *group, const char **out, size_t n,
                                size_t max);
/* Is group/version aggregated? Then *ret_list is the APIResourceList its
 * server last answered (NULL: none yet) and *ret_current whether the
 * APIService is available with it (else discovery calls it Stale). */
bool api__aggregated_resources(api_server_t *srv, const char *group, const char *version,
                               const cJSON **ret_list, bool *ret_current);

/* ---- query options (options.c) ---- */
/* Check the query parameters the call's verb decodes (limit, timeoutSeconds,
 * gracePeriodSeconds, resourceVersionMatch, sendInitialEvents, dryRun) as
 * upstream's parameter codec and option validation do: 0, or -EINVAL with
 * st filled (400 for a malformed number, 422 for an invalid option). */
int api__params_check(const api_call_t *call, api_status_t *st);
/* An integer parameter already checked by api__params_check, or dflt. */
int64_t api__param_int(http_req_t *req, const char *name, int64_t dflt);

/* ---- authentication (authn.c) ---- */
int api__tokens_load(api_server_t *srv, const char *path, char *err, size_t errlen);
void api__tokens_free(api_server_t *srv);
/* Fill user from the client certificate or bearer token. Returns false for
 * anonymous requests and refused tokens; err (may be NULL) then says why a
 * JWT-shaped token was refused ("" otherwise). */
bool api__authenticate(api_server_t *srv, http_req_t *req, api_user_t *user, char *err,
                       size_t errlen);
void api__user_done(api_user_t *user);
/* Count the request in /metrics from now until it is freed, and put a copy
 * of user on it as its app data (http_req_app gives the user; promstats.c). */
/* Before the API server is freed: the requests still counted (relays,
 * streams a handler still holds) are audited now and forget the server;
 * their records are only freed with them. */
void api__promstats_detach(api_server_t *srv);
void api__promstats_begin(api_server_t *srv, http_req_t *req, const api_user_t *user,
                          const api_user_t *requester, const api_reqinfo_t *ri,
                          const char *method);
/* The audit state of a request counted by api__promstats_begin, or NULL
 * (not audited, or an internal write with no request). */
struct api_audit_req *api__request_audit(http_req_t *req);
/* Add an extra key with one value (copied; a full list drops it). */
void api__user_add_extra(api_user_t *u, const char *key, const char *value);

/* ---- service-account tokens (satoken.c) ---- */
/* Load the signing key (a fresh in-memory one when opts has none) and the
 * issuer and audience lists. 0 or a negative errno with err. */
int api__satoken_init(api_server_t *srv, const api_server_opts_t *opts, char *err, size_t errlen);
void api__satoken_done(api_server_t *srv);
/* POST serviceaccounts/<name>/token: answer the TokenRequest tr (owned). */
void api__satoken_issue(api_call_t *call, cJSON *tr);
/* Audiences a caller accepts (TokenReview's spec.audiences); NULL where
 * one is taken means the API's own (--api-audiences). */
typedef struct {
  char *const *v;
  size_t n;
} api_audiences_t;
/* The audiences of want (NULL: the API's) that a token for token_auds (its
 * aud claim, string or array; NULL or empty: the API's audiences, as for
 * legacy and static tokens) is good for, as a new JSON array (caller
 * frees); empty when none. */
cJSON *api__audiences_granted(api_server_t *srv, const cJSON *token_auds,
                              const api_audiences_t *want);
/* A bearer token: 0 when it is not JWT-shaped (try others), 1 when it is a
 * valid service-account token for one of want's audiences (user filled,
 * system:authenticated included; *ret_auds, when ret_auds is non-NULL, the
 * audiences granted, caller frees), -1 when it is JWT-shaped but refused
 * (bad signature, issuer, audience, times, or its ServiceAccount or bound
 * object gone) with upstream's reason in err (may be NULL). Reads the
 * store's committed state; never blocks. */
int api__satoken_authenticate(api_server_t *srv, const char *token, const api_audiences_t *want,
                              api_user_t *user, cJSON **ret_auds, char *err, size_t errlen);
/* Any bearer token (service-account JWT, token file, bootstrap token) for
 * one of want's audiences (NULL: the API's): true with user filled and,
 * when ret_auds is non-NULL, the audiences granted (caller frees). When
 * false, err (may be NULL) says why a JWT-shaped token was refused, or
 * stays as it was for a token nothing knows. */
bool api__authenticate_token(api_server_t *srv, const char *token, const api_audiences_t *want,
                             api_user_t *user, cJSON **ret_auds, char *err, size_t errlen);
/* user.Info as JSON (username, uid, groups, extra), review.c. */
cJSON *api__user_info(const api_user_t *u);
/* POST tokenreviews: answer the TokenReview obj (owned). */
void api__satoken_review(api_call_t *call, cJSON *obj);
/* GET /.well-known/openid-configuration and /openid/v1/jwks: true when path
 * is one of them (answered). */
bool api__satoken_discovery(api_server_t *srv, http_req_t *req, const char *path);
/* RBAC is not in yet: system:masters may do anything; everyone else is
 * refused with upstream's Forbidden message. */
/* RBAC (authz.c): may user do what ri (method and path for non-resource
 * requests) asks? false fills st with upstream's 403. */
/* The Node authorizer (authz_node.c), before RBAC: 1 allowed, 0 no opinion
 * (RBAC decides), -EPERM refused with st filled. req may be NULL. */
int api__node_authorize(api_server_t *srv, const api_user_t *user, const api_reqinfo_t *ri,
                        http_req_t *req, api_status_t *st);
bool api__authorize(api_server_t *srv, const api_user_t *user, const api_reqinfo_t *ri,
                    const char *method, const char *path, api_status_t *st);
/* Apply Impersonate-User/-Group/-Uid headers: each authorized with the
 * impersonate verb, then user becomes the impersonated one. Returns 0, or
 * -EPERM with st filled. */
int api__impersonate(api_server_t *srv, http_req_t *req, api_user_t *user, api_status_t *st);
void api__user_add_group(api_user_t *u, const char *g);
/* A heap copy of user (api__user_free frees it): the request's user rides
 * on the request (http_req_set_app) for admission's escalation checks. */
api_user_t *api__user_dup(const api_user_t *user);
void api__user_free(void *user);
/* The rules RBAC grants user where ns applies, appended to out (owned by
 * the caller: rbac_rules_done); *ret_all for system:masters. */
void api__rbac_rules_of(api_server_t *srv, const api_user_t *user, const char *ns,
                        rbac_rules_t *out, bool *ret_all);
bool api__rbac_allows(api_server_t *srv, const api_user_t *user, const rbac_attrs_t *at);
int api__rbac_start(api_server_t *srv);
void api__rbac_stop(api_server_t *srv);
/* The default roles and bindings, created or reconciled (rbac_policy.c). */
void api__rbac_bootstrap(api_server_t *srv);

/* ---- health (health.c) ---- */
/* Serve /healthz, /livez, /readyz and their per-check paths (anonymous).
 * Returns false if path is none of them. */
bool api__health(http_req_t *req, const char *path);

/* ---- discovery (discovery.c) ---- */
/* Serve /api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>. Returns false if
 * the path is not a discovery path. */
bool api__discovery(api_server_t *srv, http_req_t *req);

/* ---- REST (rest.c) ---- */
void api__rest(api_call_t *call);
/* Decode a request body (JSON, YAML or Kubernetes protobuf) with the strict
 * decoder (json/strict.h): duplicate keys keep the last value and are
 * refused (fieldValidation=Strict) or warned about (Warn, the default);
 * \u0000, trailing data and syntax errors are 400s. res (may be NULL)
 * names the kind in upstream's error frames. */
int api__decode_body_as(http_req_t *req, const api_resource_t *res, cJSON **ret_obj,
                        api_status_t *st);
int api__decode_body(http_req_t *req, cJSON **ret_obj, api_status_t *st);
/* Decode a JSON patch document (merge, strategic merge or JSON patch) the
 * same way; duplicates are refused or warned about as upstream does. */
int api__decode_patch(http_req_t *req, const char *body, size_t len, cJSON **ret_patch,
                      api_status_t *st);
/* Prepare obj for storage and submit a create; responds when done. Used by
 * REST create and by bootstrap (req NULL: log errors instead). */
void api__create(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                 const api_resource_t *view, const char *ns, cJSON *obj, bool dry_run);

typedef enum {
  API_REPLY_OBJECT,  /* the stored object */
  API_REPLY_SCALE,   /* its autoscaling/v1 Scale */
  API_REPLY_SUCCESS, /* a Status with status Success */
  API_REPLY_DELETED, /* the deleted object or, for most kinds, a Success Status naming it */
} api_reply_t;

/* Free a request's object tree; with the loop lock released when the
 * request is offloaded (util/offload.h). Never inside a store call. */
void api__tree_free(cJSON *tree);
/* Store obj (taken) at key (taken) with op; with req, answer code and reply
 * (rendered as the view's version; NULL view: res) once durable, or the
 * mapped Status error. release_on_fail runs the kind's
 * deleted hook if the write fails (to return allocations). */
void api__submit(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                 const api_resource_t *view, store_op_kind_t op, char *key, cJSON *obj,
                 int64_t expected, int code, api_reply_t reply, bool release_on_fail);
/* Load the newest stored object of the call's name; fills st on failure. */
int api__load(api_call_t *call, store_kv_t **ret_kv, cJSON **ret_obj, api_status_t *st);
/* dryRun=All in the query. */
bool api__dry_run(http_req_t *req);

/* ---- store writes (write.c) ---- */
/* Map a store error to the upstream Status for res/name. */
void api__store_error(api_status_t *st, int err, const api_resource_t *res, const char *name);
/* For a datastore failure (-EIO, -ENOSPC, ...): log the store's reason
 * (database path, SQLite code, errno) once per failed commit. */
void api__store_failure_log(api_server_t *srv, int err);
/* The autoscaling/v1 Scale of an object; new object. */
cJSON *api__scale_of(const api_resource_t *res, const cJSON *obj);
/* What a delete answers: NULL for the kinds whose upstream registry
 * returns the deleted object itself (pods, services, PVs, PVCs, ...), else
 * a new {"kind":"Status","status":"Success","details":{name, group, kind
 * (plural), uid}}. */
cJSON *api__deleted_reply(const api_resource_t *res, const cJSON *obj);
/* Take spec.replicas from a Scale into obj; fills st (422) when invalid. */
int api__scale_apply(const api_resource_t *res, cJSON *obj, const cJSON *scale, api_status_t *st);

/* ---- admission (admit.c) ---- */
/* Check a body's apiVersion/kind against res and fill them in. */
int api__check_type(const api_resource_t *res, cJSON *obj, api_status_t *st);
/* Rewrite every Quantity of obj to its canonical text (typed.c); -EINVAL
 * with upstream's decode error (400) in st for a malformed one. */
int api__typed_canonicalize(const api_resource_t *res, cJSON *obj, api_status_t *st);
/* Defaults, schema and per-kind validation; old is NULL on create. */
int api__admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
               api_status_t *st);
/* What an update may not change is taken from old (sub: "", "status"). */
void api__keep_system_fields(const api_resource_t *res, cJSON *obj, const cJSON *old,
                             const char *sub);
/* metadata.generation: kept, +1 when spec changed (kinds that track it). */
void api__set_generation(const api_resource_t *res, cJSON *obj, const cJSON *old);
/* Whether obj equals the stored old, resourceVersion aside. */
bool api__unchanged(cJSON *obj, const cJSON *old);

/* ---- versions (convert.c) ---- */
/* Whether the view's objects are stored in another version's form. */
bool api__converts(const api_resource_t *view);
/* A request object of the view's version into the stored form (checks its
 * apiVersion/kind and the view's validation first). Returns 0 or -1 with st. */
int api__to_storage(const api_resource_t *view, cJSON *obj, api_status_t *st);
/* Whether the view converts through its CRD's conversion webhook: its
 * requests run on the offload worker (the call releases the lock). */
bool api__converts_by_webhook(const api_resource_t *view);
/* A stored object (parsed) into the view's version, in place. Returns 0,
 * or -1 with st (a conversion webhook's failure, 500). */
int api__from_storage(const api_resource_t *view, cJSON *obj, api_status_t *st);
/* Stored objects (a list's items; NULL entries skipped) into the view's
 * version with one conversion (one ConversionReview). 0 or -1 with st. */
int api__from_storage_many(const api_resource_t *view, cJSON **objs, size_t n, api_status_t *st);
/* Stored bytes in the view's version: a new string, or NULL when the view
 * is the stored form (send the bytes as they are) or, with st->code set,
 * when conversion failed. */
char *api__view_bytes(const api_resource_t *view, const char *json, size_t len, size_t *ret_len,
                      api_status_t *st);
/* Answer with a stored object (parsed; taken) as the view's version, or
 * with the conversion's error. */
void api__respond_view_obj(http_req_t *req, int code, const api_resource_t *view, cJSON *obj);
/* Answer with a stored object as the view's version. */
void api__respond_stored(http_req_t *req, int code, const api_resource_t *view, const char *json,
                         size_t len);

/* The row a view's Table is rendered with (its own when it has computed
 * cells, else the stored row), and adding a stored object (converted in
 * place when needed) to such a Table: 0, or -1 with st when the
 * conversion failed (nothing added). */
const api_resource_t *api__table_row(const api_resource_t *view);
int api__table_add_stored(cJSON *table, const api_resource_t *view, cJSON *obj,
                          const char *include, api_status_t *st);

/* ---- verbs in their own files ---- */
void api__list(api_call_t *call);           /* list.c */
void api__delete(api_call_t *call);         /* delete.c */
void api__deletecollection(api_call_t *call);

/* Selectors of a list or watch request; fills st on error. */
int api__selectors(api_call_t *call, label_selector_t **ret_ls, field_selector_t **ret_fs,
                   api_status_t *st);
/* Whether a stored object passes the selectors; parses only if needed.
 * *ret_obj receives the parsed object when parsing happened (caller frees). */
bool api__selected(const store_kv_t *kv, const label_selector_t *ls, const field_selector_t *fs,
                   cJSON **ret_obj);

/* ---- watch (watch.c) ---- */
void api__watch(api_call_t *call);
void api__watches_stop_all(api_server_t *srv);
/* End the watches of resources that are no longer served (deleted CRDs). */
void api__watches_stop_removed(api_server_t *srv);

/* ---- Table (table.c) ---- */
/* Human age since an RFC 3339 time ("5m"), or missing when there is none. */
cJSON *api__cell_age(const char *ts, const char *missing);
/* A string cell from a buffer's text (freed), or empty when it is empty. */
cJSON *api__cell_take(buf_t *b, const char *empty);
cJSON *api__table_new(const api_resource_t *res, bool include_object_meta);
/* Add the row of obj (takes nothing). include: "None", "Metadata", "Object". */
void api__table_add_row(cJSON *table, const api_resource_t *res, const cJSON *obj,
                        const char *include);

/* ---- allocators (ipalloc.c) ---- */
int api__ipalloc_new(api_server_t *srv, char *err, size_t errlen);
void api__ipalloc_free(api_server_t *srv);
/* Load what stored Services already hold. */
void api__ipalloc_load(api_server_t *srv);
