/* Writes to the store on behalf of a request: submission with the
 * revision written into metadata.resourceVersion, the answer once the
 * write is durable, store errors mapped to upstream Status errors, and the
 * autoscaling/v1 Scale view of scalable objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

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
} write_ctx_t;

static void write_ctx_free(write_ctx_t *w) {
  cJSON_Delete(w->obj);
  free(w->key);
  free(w);
}

static char *encode_with_rev(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                             int *ret_err) {
  write_ctx_t *w = data;
  char rv[32];
  snprintf(rv, sizeof(rv), "%lld", (long long)rev);
  obj_set_str(obj_meta(w->obj), "resourceVersion", rv);
  char *s = cJSON_PrintUnformatted(w->obj);
  *ret_len = strlen(s);
  return s;
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
    } else if (w->reply == API_REPLY_SUCCESS) {
      api_status_init(&st, w->code, "", "%s", "");
      api__respond_status(w->req, &st);
    } else {
      api__respond_stored(w->req, w->code, w->view, kv->value, kv->len);
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
  (void)res;
  return s;
}

/* Apply a Scale (JSON) to the object: only spec.replicas moves. */
int api__scale_apply(cJSON *obj, const cJSON *scale, api_status_t *st) {
  const cJSON *r = obj_get(scale, "spec.replicas");
  if (!cJSON_IsNumber(r) || r->valuedouble < 0 || r->valuedouble != (double)(int)r->valuedouble) {
    api_status_add_cause(st, "FieldValueInvalid", "spec.replicas",
                         "Invalid value: must be greater than or equal to 0");
    api_status_invalid(st, "autoscaling", "Scale", obj_str(obj, "metadata.name"));
    return -EINVAL;
  }
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!spec)
    spec = cJSON_AddObjectToObject(obj, "spec");
  obj_set(spec, "replicas", cJSON_CreateNumber(r->valuedouble));
  return 0;
}

