/* Writes to the store on behalf of a request: submission with the
 * revision written into metadata.resourceVersion, the answer once the
 * write is durable, store errors mapped to upstream Status errors, and the
 * autoscaling/v1 Scale view of scalable objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/crd.h"
#include "api/internal.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/offload.h"

/* ---- errors ---- */

void api__store_error(api_status_t *st, int err, const api_resource_t *res, const char *name) {
  const char *g = res->s->group, *p = res->s->plural;
  switch (err) {
  case -ENOENT:
    api_status_not_found(st, g, p, name);
    break;
  case -EEXIST:
    api_status_already_exists(st, g, p, name);
    break;
  case -ESTALE:
    api_status_conflict(st, g, p, name,
                        "the object has been modified; please apply your changes to the latest "
                        "version and try again");
    break;
  case -E2BIG:
    api_status_init(st, 413, "RequestEntityTooLarge", "Request entity too large: limit is %d",
                    STORE_VALUE_MAX);
    break;
  case -EOVERFLOW:
    api_status_gone(st, "The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter.");
    break;
  /* The datastore's disk failed. etcd would say "etcdserver: mvcc: database
   * space exceeded"; this says what to do. The database path and the SQLite
   * codes go to the server log (api__store_failure_log), not to clients. */
  case -ENOSPC:
    api_status_internal(st, "the datastore's disk is full: free space on the server's data disk "
                            "and retry (the server log names the database)");
    break;
  case -EDQUOT:
    api_status_internal(st, "the datastore's disk quota is exceeded: raise the quota or free "
                            "space and retry (the server log names the database)");
    break;
  case -EFBIG:
    api_status_internal(st, "the datastore's file reached the file size limit: raise the limit "
                            "and retry (the server log names the database)");
    break;
  case -EROFS:
    api_status_internal(st, "the datastore's disk is read-only: the server log names the database");
    break;
  case -EIO:
    api_status_internal(st, "storage error: the datastore failed to write (Input/output error); "
                            "the server log has the reason");
    break;
  default:
    api_status_internal(st, "storage error: %s", strerror(-err));
  }
}

void api__store_failure_log(api_server_t *srv, int err) {
  if (err != -EIO && err != -ENOSPC && err != -EDQUOT && err != -EFBIG && err != -EROFS)
    return;
  uint64_t n = 0;
  const char *why = store_failure(srv->store, &n);
  if (n == srv->store_failures_logged)
    return; /* this failure is logged already; the writes it took with it are not */
  srv->store_failures_logged = n;
  log_error("api", "datastore write failed: %s%s", why[0] ? why : strerror(-err),
            err == -ENOSPC ? "; writes fail until space is freed" : "");
}

/* ---- writes ---- */

#define PLACEHOLDER_LEN 43 /* "k3c-rv-" and a UUID */

typedef struct {
  api_server_t *srv;
  http_req_t *req; /* NULL for internal writes */
  const api_resource_t *res;
  const api_resource_t *view; /* the version answers are rendered as */
  cJSON *obj;      /* what is stored */
  char *key;
  char name[256];
  int code;        /* HTTP status on success */
  api_reply_t reply;
  bool release_on_fail; /* run hooks->deleted(obj) if the write fails */
  bool deleting;
  /* obj encoded ahead of the store call with a placeholder resourceVersion
   * at pre_at (the store only splices the revision in); NULL: encode then */
  char *pre;
  size_t pre_len, pre_at;
  bool offloaded; /* submitted by an offloaded request: obj is big */
} write_ctx_t;

/* Free a request's tree; a big one costs milliseconds, so an offloaded
 * request frees it with the loop lock released. Not inside store calls. */
void api__tree_free(cJSON *tree) {
  if (!tree)
    return;
  offload_unlock();
  cJSON_Delete(tree);
  offload_relock();
}

static void tree_free_task(void *tree) { cJSON_Delete(tree); }

static void write_ctx_free(write_ctx_t *w) {
  if (w->offloaded && !offload_in_task())
    offload_submit_pure(tree_free_task, w->obj); /* done on the loop: free it over there */
  else
    api__tree_free(w->obj);
  free(w->pre);
  free(w->key);
  free(w);
}

static char *encode_with_rev(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                             int *ret_err) {
  write_ctx_t *w = data;
  char rv[32];
  int n = snprintf(rv, sizeof(rv), "%lld", (long long)rev);
  obj_set_str(obj_meta(w->obj), "resourceVersion", rv);
  if (w->pre) {
    size_t tail = w->pre_len - w->pre_at - PLACEHOLDER_LEN;
    char *s = xmalloc(w->pre_at + (size_t)n + tail + 1);
    memcpy(s, w->pre, w->pre_at);
    memcpy(s + w->pre_at, rv, (size_t)n);
    memcpy(s + w->pre_at + (size_t)n, w->pre + w->pre_at + PLACEHOLDER_LEN, tail + 1);
    *ret_len = w->pre_at + (size_t)n + tail;
    return s;
  }
  char *s = cJSON_PrintUnformatted(w->obj);
  *ret_len = strlen(s);
  return s;
}

/* Encode w->obj with a random placeholder where its resourceVersion goes,
 * with the loop lock released when offloaded: encoding 3 MiB takes tens of
 * ms, splicing the revision in later (under the store's call) one copy.
 * Only when the placeholder occurs exactly once in the text (a body that
 * holds it too makes two); otherwise the store's call encodes. */
static void pre_encode(write_ctx_t *w) {
  char ph[PLACEHOLDER_LEN + 8], uid[40];
  obj_uuid(uid, sizeof(uid));
  snprintf(ph, sizeof(ph), "k3c-rv-%s", uid);
  if (strlen(ph) != PLACEHOLDER_LEN)
    return;
  obj_set_str(obj_meta(w->obj), "resourceVersion", ph);
  offload_unlock();
  char *s = cJSON_PrintUnformatted(w->obj);
  size_t len = strlen(s);
  char *at = strstr(s, ph);
  bool once = at && !strstr(at + 1, ph);
  offload_relock();
  if (!once) {
    free(s);
    return;
  }
  w->pre = s;
  w->pre_len = len;
  w->pre_at = (size_t)(at - s);
}

/* The answer of a write to a view converted by webhook: converted on the
 * offload worker, the webhook called with the loop lock released. */
typedef struct {
  http_req_t *req;
  int code;
  const api_resource_t *view;
  store_kv_t *kv;
} stored_reply_t;

static void stored_reply_task(void *data) {
  stored_reply_t *t = data;
  api__respond_stored(t->req, t->code, t->view, t->kv->value, t->kv->len);
  store_kv_unref(t->kv);
  free(t);
}

static void respond_stored(write_ctx_t *w, const store_kv_t *kv) {
  if (!offload_in_task() && api__converts_by_webhook(w->view)) {
    stored_reply_t *t = xmalloc(sizeof(*t));
    *t = (stored_reply_t){w->req, w->code, w->view, store_kv_ref((store_kv_t *)kv)};
    offload_submit_any(stored_reply_task, t);
    return;
  }
  api__respond_stored(w->req, w->code, w->view, kv->value, kv->len);
}

static void write_done(int err, const store_kv_t *kv, void *data) {
  write_ctx_t *w = data;
  api_status_t st;
  if (err < 0) {
    api__store_failure_log(w->srv, err);
    if (w->release_on_fail && w->res->hooks->deleted)
      w->res->hooks->deleted(w->srv, w->obj);
    if (w->req) {
      api__store_error(&st, err, w->res, w->name);
      api__respond_status(w->req, &st);
    } else {
      log_error("api", "write of %s failed: %s", w->key, strerror(-err));
    }
    write_ctx_free(w);
    return;
  }
  if (w->deleting && w->res->hooks->deleted)
    w->res->hooks->deleted(w->srv, w->obj);
  if (w->req) {
    if (w->reply == API_REPLY_SCALE) {
      cJSON *stored = cJSON_ParseWithLength(kv->value, kv->len);
      api__respond_obj(w->req, w->code, api__scale_of(w->res, stored));
      cJSON_Delete(stored);
    } else if (w->reply == API_REPLY_DELETED) {
      cJSON *reply = api__deleted_reply(w->res, w->obj);
      if (reply)
        api__respond_obj(w->req, w->code, reply);
      else
        respond_stored(w, kv);
    } else if (w->reply == API_REPLY_SUCCESS) {
      api_status_init(&st, w->code, "", "%s", "");
      api__respond_status(w->req, &st);
    } else {
      respond_stored(w, kv);
    }
  }
  write_ctx_free(w);
}

void api__submit(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                 const api_resource_t *view, store_op_kind_t op, char *key, cJSON *obj,
                 int64_t expected, int code, api_reply_t reply, bool release_on_fail) {
  write_ctx_t *w = xcalloc(1, sizeof(*w));
  w->srv = srv;
  w->req = req;
  w->res = res;
  w->view = view ? view : res;
  w->obj = obj;
  w->key = key;
  w->code = code;
  w->reply = reply;
  w->release_on_fail = release_on_fail;
  w->deleting = op == STORE_OP_DELETE;
  const char *name = obj_str(obj, "metadata.name");
  snprintf(w->name, sizeof(w->name), "%s", name ? name : "");
  w->offloaded = offload_in_task();
  if (op != STORE_OP_DELETE && w->offloaded)
    pre_encode(w);
  int64_t ttl = 0;
  if (!strcmp(res->s->kind, "Event") && op == STORE_OP_CREATE)
    ttl = 3600; /* upstream --event-ttl default */
  store_write_t sw = {.op = op,
                      .key = key,
                      .expected_mod_rev = expected,
                      .value_cb = encode_with_rev,
                      .value_cb_data = w,
                      .ttl_seconds = ttl};
  int r = store_write(srv->store, &sw, write_done, w);
  if (r < 0)
    write_done(r, NULL, w);
}

/* ---- delete replies ---- */

cJSON *api__deleted_reply(const api_resource_t *res, const cJSON *obj) {
  /* upstream registries with ReturnDeletedObject (and namespaces) */
  static const struct {
    const char *group, *kind;
  } returned[] = {{"", "Pod"},
                  {"", "Service"},
                  {"", "ServiceAccount"},
                  {"", "PersistentVolume"},
                  {"", "PersistentVolumeClaim"},
                  {"", "Namespace"},
                  {"storage.k8s.io", "StorageClass"},
                  {"storage.k8s.io", "VolumeAttachment"}};
  for (size_t i = 0; i < sizeof(returned) / sizeof(returned[0]); i++)
    if (!strcmp(res->s->group, returned[i].group) && !strcmp(res->s->kind, returned[i].kind))
      return NULL;
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "kind", "Status");
  cJSON_AddStringToObject(s, "apiVersion", "v1");
  cJSON_AddObjectToObject(s, "metadata");
  cJSON_AddStringToObject(s, "status", "Success");
  cJSON *d = cJSON_AddObjectToObject(s, "details");
  const char *name = obj_str(obj, "metadata.name");
  const char *uid = obj_str(obj, "metadata.uid");
  cJSON_AddStringToObject(d, "name", name ? name : "");
  if (res->s->group[0])
    cJSON_AddStringToObject(d, "group", res->s->group);
  cJSON_AddStringToObject(d, "kind", res->s->plural);
  if (uid)
    cJSON_AddStringToObject(d, "uid", uid);
  return s;
}

/* ---- scale subresource ---- */

cJSON *api__scale_of(const api_resource_t *res, const cJSON *obj) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "kind", "Scale");
  cJSON_AddStringToObject(s, "apiVersion", "autoscaling/v1");
  cJSON *m = cJSON_AddObjectToObject(s, "metadata");
  static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
                                     "creationTimestamp"};
  for (size_t i = 0; i < 5; i++) {
    const cJSON *v = obj_get(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), keep[i]);
    if (v)
      cJSON_AddItemToObject(m, keep[i], cJSON_Duplicate(v, 1));
  }
  const char *spec_path, *status_path, *selector_path;
  if (api__crd_scale_paths(res, &spec_path, &status_path, &selector_path)) {
    /* custom resources: the paths of the scale subresource; missing is 0 */
    const cJSON *want = spec_path ? obj_get(obj, spec_path) : NULL;
    const cJSON *have = status_path ? obj_get(obj, status_path) : NULL;
    const char *sel = selector_path ? obj_str(obj, selector_path) : NULL;
    cJSON *spec = cJSON_AddObjectToObject(s, "spec");
    if (cJSON_IsNumber(want) && want->valuedouble != 0)
      cJSON_AddNumberToObject(spec, "replicas", want->valuedouble);
    cJSON *status = cJSON_AddObjectToObject(s, "status");
    cJSON_AddNumberToObject(status, "replicas", cJSON_IsNumber(have) ? have->valuedouble : 0);
    if (sel && sel[0])
      cJSON_AddStringToObject(status, "selector", sel);
    return s;
  }
  const cJSON *want = obj_get(obj, "spec.replicas");
  cJSON *spec = cJSON_AddObjectToObject(s, "spec");
  cJSON_AddNumberToObject(spec, "replicas", cJSON_IsNumber(want) ? want->valuedouble : 1);
  cJSON *status = cJSON_AddObjectToObject(s, "status");
  const cJSON *have = obj_get(obj, "status.replicas");
  cJSON_AddNumberToObject(status, "replicas", cJSON_IsNumber(have) ? have->valuedouble : 0);
  const cJSON *sel = obj_get(obj, "spec.selector.matchLabels");
  if (!sel)
    sel = obj_get(obj, "spec.selector"); /* ReplicationController: a plain map */
  if (cJSON_IsObject(sel)) {
    buf_t b;
    buf_init(&b, 4096);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, sel) {
      if (cJSON_IsString(kv))
        buf_printf(&b, "%s%s=%s", b.len ? "," : "", kv->string, kv->valuestring);
    }
    char *text = buf_steal(&b, NULL);
    cJSON_AddStringToObject(status, "selector", text);
    free(text);
  }
  return s;
}

/* Set a number at a dotted path, creating the objects on the way. */
static void set_path_number(cJSON *obj, const char *path, double v) {
  char key[256];
  cJSON *cur = obj;
  const char *p = path;
  for (;;) {
    size_t n = strcspn(p, ".");
    if (n >= sizeof(key))
      return;
    memcpy(key, p, n);
    key[n] = '\0';
    if (!p[n]) {
      obj_set(cur, key, cJSON_CreateNumber(v));
      return;
    }
    cur = obj_child_object(cur, key);
    p += n + 1;
  }
}

/* Apply a Scale (JSON) to the object: only spec.replicas moves. */
int api__scale_apply(const api_resource_t *res, cJSON *obj, const cJSON *scale, api_status_t *st) {
  const cJSON *r = obj_get(scale, "spec.replicas");
  if (!cJSON_IsNumber(r) || r->valuedouble < 0 || r->valuedouble != (double)(int)r->valuedouble) {
    api_status_add_cause(st, "FieldValueInvalid", "spec.replicas",
                         "Invalid value: must be greater than or equal to 0");
    api_status_invalid(st, "autoscaling", "Scale", obj_str(obj, "metadata.name"));
    return -EINVAL;
  }
  const char *spec_path, *status_path, *selector_path;
  if (api__crd_scale_paths(res, &spec_path, &status_path, &selector_path)) {
    if (spec_path)
      set_path_number(obj, spec_path, r->valuedouble);
    return 0;
  }
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!spec)
    spec = cJSON_AddObjectToObject(obj, "spec");
  obj_set(spec, "replicas", cJSON_CreateNumber(r->valuedouble));
  return 0;
}

