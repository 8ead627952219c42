/* Lists: label and field selectors, limit/continue pagination at one
 * consistent revision, resourceVersion semantics, and the stored bytes sent
 * as they are (or as a Table).
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/crd.h"
#include "api/internal.h"
#include "api/object.h"
#include "api/param.h"
#include "util/alloc.h"
#include "util/buf.h"

#define LIST_INLINE_MAX (128u * 1024)         /* smaller JSON lists: one body, Content-Length */
#define LIST_YAML_MAX (32u * 1024 * 1024)     /* YAML lists are built whole; larger ones stream JSON */
#define LIST_PIECE (32u * 1024)               /* a streamed list is written in pieces this big */

/* A JSON list being streamed: the selected items of the snapshot (shared
 * references, not copies), written a piece at a time while the connection
 * has room (http_stream_writable), the rest on the drain callback. So a slow
 * reader of a big list holds the store's objects, not a second serialised
 * copy of them. */
typedef struct {
  http_req_t *req;
  const api_resource_t *view;
  cJSON *rows_of;      /* Tables: an empty Table each row is made in, then taken from */
  const char *include; /* Tables: includeObject (the request's) */
  store_kv_t **items;
  char **conv; /* items already in the view's version (a webhook's batch), or NULL */
  size_t n, next;
  bool wrote; /* an item is out: the next one needs a comma */
} list_stream_t;

static void list_stream_free(list_stream_t *ls) {
  for (size_t i = 0; i < ls->n; i++)
    store_kv_unref(ls->items[i]);
  free(ls->items);
  for (size_t i = 0; ls->conv && i < ls->n; i++)
    free(ls->conv[i]);
  free(ls->conv);
  cJSON_Delete(ls->rows_of);
  free(ls);
}

/* Append ",<item as the requested version>" (no comma before the first),
 * or for a Table its row. */
static void item_append(buf_t *out, list_stream_t *ls, size_t i) {
  const store_kv_t *kv = ls->items[i];
  const char *value = ls->conv && ls->conv[i] ? ls->conv[i] : kv->value;
  size_t len = ls->conv && ls->conv[i] ? strlen(value) : kv->len;
  if (ls->rows_of) {
    cJSON *obj = cJSON_ParseWithLength(value, len);
    if (!obj)
      return;
    api_status_t st; /* items of a webhook-converted view come converted (ls->conv) */
    if (api__table_add_stored(ls->rows_of, ls->view, obj, ls->include, &st) < 0)
      api_status_done(&st);
    cJSON_Delete(obj);
    cJSON *rows = cJSON_GetObjectItemCaseSensitive(ls->rows_of, "rows");
    cJSON *row = cJSON_DetachItemFromArray(rows, 0);
    char *s = row ? cJSON_PrintUnformatted(row) : NULL;
    if (s) {
      if (ls->wrote)
        buf_append(out, ",", 1);
      buf_append_str(out, s);
      ls->wrote = true;
    }
    free(s);
    cJSON_Delete(row);
    return;
  }
  size_t vlen = len;
  api_status_t st;
  char *conv = ls->conv ? NULL : api__view_bytes(ls->view, value, len, &vlen, &st);
  if (ls->wrote)
    buf_append(out, ",", 1);
  buf_append(out, conv ? conv : value, vlen);
  ls->wrote = true;
  free(conv);
}

/* A list's items converted by the definition's webhook in one review:
 * *ret_conv[i] the item's JSON in the view's version. 0 or -1 with st. */
static int webhook_convert_items(const api_resource_t *view, store_kv_t **kvs, size_t n,
                                 char ***ret_conv, api_status_t *st) {
  cJSON **objs = xcalloc(n ? n : 1, sizeof(*objs));
  for (size_t i = 0; i < n; i++)
    objs[i] = cJSON_ParseWithLength(kvs[i]->value, kvs[i]->len);
  int r = api__from_storage_many(view, objs, n, st);
  char **conv = r == 0 ? xcalloc(n ? n : 1, sizeof(*conv)) : NULL;
  for (size_t i = 0; i < n; i++) {
    if (conv && objs[i])
      conv[i] = cJSON_PrintUnformatted(objs[i]);
    cJSON_Delete(objs[i]);
  }
  free(objs);
  *ret_conv = conv;
  return r;
}

static void list_stream_pump(list_stream_t *ls) {
  buf_t piece;
  buf_init(&piece, LIST_PIECE + ((size_t)64 << 20)); /* a piece holds at least one object */
  while (ls->next < ls->n && http_stream_writable(ls->req)) {
    buf_reset(&piece);
    while (ls->next < ls->n && piece.len < LIST_PIECE) {
      item_append(&piece, ls, ls->next);
      ls->next++;
    }
    http_stream_write(ls->req, piece.data, piece.len);
  }
  buf_done(&piece);
  if (ls->next < ls->n)
    return; /* the drain callback goes on (or the close callback frees ls) */
  http_req_t *req = ls->req;
  http_stream_write(req, "]}\n", 3); /* the newline of api__respond_json */
  list_stream_free(ls);
  http_stream_end(req);
}

static void list_stream_drain(http_req_t *req, void *data) { list_stream_pump(data); }

static void list_stream_close(http_req_t *req, void *data) {
  list_stream_t *ls = data;
  list_stream_free(ls);
  http_stream_end(req); /* the client is gone: this only frees the request */
}

/* Selectable fields of kinds whose hooks are shared with kinds that have
 * other fields (upstream's per-kind GetAttrs / SelectableFields). */
static const struct {
  const char *group, *kind;
  const char *const fields[3];
} kind_fields[] = {
    {"", "Service", {"spec.clusterIP", "spec.type", NULL}},
    {"", "ReplicationController", {"status.replicas", NULL}},
    {"apps", "ReplicaSet", {"status.replicas", NULL}},
    {"batch", "Job", {"status.successful", NULL}},
    {"certificates.k8s.io", "CertificateSigningRequest", {"spec.signerName", NULL}},
};

/* Whether f is selectable for the view; *ret_own tells whether the kind
 * has fields of its own (then upstream's field label conversion refuses
 * others with "field label not supported", else the default conversion
 * answers "is not a known field selector"). */
static bool selectable(const api_resource_t *view, const char *f, bool *ret_own) {
  bool own = false, ok = !strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace");
  for (const char *const *p = view->hooks->selectable_fields; p && *p; p++) {
    own = true;
    ok = ok || !strcmp(*p, f);
  }
  for (size_t i = 0; i < sizeof(kind_fields) / sizeof(kind_fields[0]); i++)
    if (!strcmp(view->s->group, kind_fields[i].group) && !strcmp(view->s->kind, kind_fields[i].kind))
      for (const char *const *p = kind_fields[i].fields; *p; p++) {
        own = true;
        ok = ok || !strcmp(*p, f);
      }
  const char *const *crd = api__crd_selectable_fields(view);
  for (const char *const *p = crd; p && *p; p++) {
    own = true;
    ok = ok || !strcmp(*p, f);
  }
  *ret_own = own;
  return ok;
}

/* events.k8s.io/v1 names fields of the stored core/v1 Event differently
 * (upstream's field label conversion for events.k8s.io). */
static const char *const event_field_map[][2] = {{"regarding.", "involvedObject."},
                                                 {"reportingController", "reportingComponent"}};

/* The selector text with the view's field names as stored; new string. */
static char *fields_as_stored(const api_resource_t *view, const char *fs) {
  buf_t b;
  buf_init(&b, 65536);
  bool events = !strcmp(view->s->group, "events.k8s.io");
  const char *p = fs;
  while (*p) {
    size_t n = 0;
    while (p[n] && p[n] != '=' && p[n] != '!' && p[n] != ',')
      n++;
    bool done = false;
    for (size_t i = 0; events && i < 2 && !done; i++) {
      size_t k = strlen(event_field_map[i][0]);
      if (n >= k && !strncmp(p, event_field_map[i][0], k) &&
          (event_field_map[i][0][k - 1] == '.' || n == k)) {
        buf_append_str(&b, event_field_map[i][1]);
        buf_append(&b, p + k, n - k);
        done = true;
      }
    }
    if (!done)
      buf_append(&b, p, n);
    p += n;
    /* the value, up to an unescaped comma */
    while (*p && *p != ',') {
      if (*p == '\\' && p[1]) {
        buf_append(&b, p, 2);
        p += 2;
        continue;
      }
      buf_append(&b, p, 1);
      p++;
    }
    if (*p == ',') {
      buf_append(&b, ",", 1);
      p++;
    }
  }
  return buf_steal(&b, NULL);
}

int api__selectors(api_call_t *call, label_selector_t **ret_ls, field_selector_t **ret_fs,
                   api_status_t *st) {
  char err[512];
  const char *ls = http_req_query(call->req, "labelSelector");
  const char *fs = http_req_query(call->req, "fieldSelector");
  const api_resource_t *view = call->view ? call->view : call->res;
  *ret_ls = NULL;
  *ret_fs = NULL;
  if (ls && ls[0] && label_selector_parse(ls, ret_ls, err, sizeof(err)) < 0) {
    api_status_bad_request(st, "unable to parse requirement: %s", err);
    return -EINVAL;
  }
  if (fs && fs[0]) {
    if (field_selector_parse(fs, ret_fs, err, sizeof(err)) < 0) {
      label_selector_free(*ret_ls);
      *ret_ls = NULL;
      api_status_bad_request(st, "invalid field selector: %s", err);
      return -EINVAL;
    }
    for (size_t i = 0; i < field_selector_count(*ret_fs); i++) {
      const char *f = field_selector_field(*ret_fs, i);
      bool own;
      if (!selectable(view, f, &own)) {
        if (own)
          api_status_bad_request(st, "field label not supported: %s", f);
        else
          api_status_bad_request(st, "\"%s\" is not a known field selector: only "
                                     "\"metadata.name\", \"metadata.namespace\"",
                                 f);
        label_selector_free(*ret_ls);
        field_selector_free(*ret_fs);
        *ret_ls = NULL;
        *ret_fs = NULL;
        return -EINVAL;
      }
    }
    if (view != call->res) {
      char *text = fields_as_stored(view, fs);
      field_selector_free(*ret_fs);
      *ret_fs = NULL;
      int r = field_selector_parse(text, ret_fs, err, sizeof(err));
      free(text);
      if (r < 0) {
        label_selector_free(*ret_ls);
        *ret_ls = NULL;
        api_status_bad_request(st, "invalid field selector: %s", err);
        return -EINVAL;
      }
    }
  }
  return 0;
}

/* Upstream's field sets hold integers that are 0 when a status omits
 * them (Job status.successful, ReplicaSet status.replicas). The field to
 * add for matching (removed again after), or NULL. */
static const char *zero_field(const cJSON *obj) {
  const char *kind = obj_str(obj, "kind"), *av = obj_str(obj, "apiVersion");
  const char *f = NULL;
  if (kind && av && !strcmp(kind, "Job") && !strcmp(av, "batch/v1"))
    f = "successful";
  else if (kind && av && ((!strcmp(kind, "ReplicaSet") && !strcmp(av, "apps/v1")) ||
                          (!strcmp(kind, "ReplicationController") && !strcmp(av, "v1"))))
    f = "replicas";
  if (f && cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "status"), f))
    f = NULL;
  return f;
}

bool api__selected(const store_kv_t *kv, const label_selector_t *ls, const field_selector_t *fs,
                   cJSON **ret_obj) {
  *ret_obj = NULL;
  if ((!ls || label_selector_empty(ls)) && !fs)
    return true;
  cJSON *obj = cJSON_ParseWithLength(kv->value, kv->len);
  if (!obj)
    return false;
  const char *zero = fs ? zero_field(obj) : NULL;
  bool had_status = cJSON_GetObjectItemCaseSensitive(obj, "status") != NULL;
  if (zero)
    cJSON_AddNumberToObject(obj_child_object(obj, "status"), zero, 0);
  bool ok = (!ls || label_selector_match(ls, obj_get(obj, "metadata.labels"))) &&
            (!fs || field_selector_match(fs, obj));
  if (zero) {
    if (had_status)
      cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "status"), zero);
    else
      cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
  }
  *ret_obj = obj;
  return ok;
}

/* The revision to list at from resourceVersion/resourceVersionMatch: 0
 * for the newest, the given one for Exact. An unparsable one or one the
 * store has not reached is refused as upstream refuses it. */
static int list_revision(api_call_t *call, int64_t *ret_rev, api_status_t *st) {
  const char *rv = http_req_query(call->req, "resourceVersion");
  const char *rvm = http_req_query(call->req, "resourceVersionMatch");
  char err[512];
  int64_t min_rev = 0;
  if (api_param_rv(rv, &min_rev, err, sizeof(err)) < 0) {
    /* upstream's storage error, answered as 500 without a reason */
    api_status_init(st, 500, "", "%s", err);
    return -EINVAL;
  }
  const char *cont = http_req_query(call->req, "continue");
  if (cont && cont[0] && rv && rv[0] && strcmp(rv, "0")) {
    api_status_bad_request(st, "specifying resource version is not allowed when using continue");
    return -EINVAL;
  }
  int64_t now = store_revision(call->srv->store);
  if (min_rev > now) {
    /* storage.NewTooLargeResourceVersionError; upstream waits up to 3 s for
     * the revision first, k3c's store is the source of truth and answers at once. */
    api_status_init(st, 504, "Timeout", "Timeout: Too large resource version: %lld, current: %lld",
                    (long long)min_rev, (long long)now);
    api_status_add_cause(st, "ResourceVersionTooLarge", NULL, "Too large resource version");
    st->retry_after = 1;
    return -ERANGE;
  }
  *ret_rev = rvm && !strcmp(rvm, "Exact") ? min_rev : 0;
  return 0;
}

void api__list(api_call_t *call) {
  api_status_t st;
  label_selector_t *ls = NULL;
  field_selector_t *fs = NULL;
  cJSON *table = NULL;
  store_kv_t **kvs = NULL; /* selected items, new references */
  size_t n_kvs = 0, cap_kvs = 0, kvs_bytes = 0;
  if (api__selectors(call, &ls, &fs, &st) < 0) {
    api__respond_status(call->req, &st);
    return;
  }
  /* limit was checked by api__params_check; <= 0 is no limit, as upstream. */
  int64_t limit = api__param_int(call->req, "limit", 0);
  if (limit < 0 || (uint64_t)limit > SIZE_MAX)
    limit = 0;
  const char *cont = http_req_query(call->req, "continue");
  int64_t at_rev = 0;
  if (list_revision(call, &at_rev, &st) < 0) {
    api__respond_status(call->req, &st);
    label_selector_free(ls);
    field_selector_free(fs);
    return;
  }
  char *prefix = api_resource_key(call->res, call->ri.ns, NULL);
  const char *include = http_req_query(call->req, "includeObject");
  if (call->want_table)
    table = api__table_new(api__table_row(call->view), true);
  size_t count = 0;
  int64_t list_rev = 0;
  char *next = NULL;
  size_t remaining = 0;
  bool filtered = (ls && !label_selector_empty(ls)) || fs;
  char *tok = cont && cont[0] ? xstrdup(cont) : NULL;
  for (;;) {
    store_list_opts_t lo = {.prefix = prefix,
                            .rev = at_rev,
                            .limit = limit ? (size_t)limit - count : 0,
                            .continue_tok = tok};
    store_list_t l;
    int r = store_list(call->srv->store, &lo, &l);
    if (r < 0) {
      api__store_error(&st, r, call->res, "");
      if (r == -EINVAL)
        api_status_bad_request(&st, "invalid continue token");
      api__respond_status(call->req, &st);
      goto out;
    }
    list_rev = l.rev;
    at_rev = l.rev;
    for (size_t i = 0; i < l.n; i++) {
      cJSON *obj = NULL;
      if (!api__selected(l.items[i], ls, fs, &obj)) {
        cJSON_Delete(obj);
        continue;
      }
      count++;
      if (n_kvs == cap_kvs) {
        cap_kvs = cap_kvs ? cap_kvs * 2 : 64;
        kvs = xrealloc(kvs, cap_kvs * sizeof(*kvs));
      }
      kvs[n_kvs++] = store_kv_ref(l.items[i]);
      kvs_bytes += l.items[i]->len + 1;
      cJSON_Delete(obj);
    }
    free(tok);
    tok = l.continue_tok ? xstrdup(l.continue_tok) : NULL;
    remaining = l.remaining;
    store_list_done(&l);
    if (!tok || !limit || count >= (size_t)limit)
      break;
  }
  next = tok;
  tok = NULL;
  char rvs[32];
  snprintf(rvs, sizeof(rvs), "%lld", (long long)list_rev);
  buf_t head;
  buf_init(&head, LIST_INLINE_MAX + ((size_t)64 << 20)); /* head, and small lists inline */
  const char *ctype = "application/json";
  if (table) {
    /* The Table without rows, printed, ends in "rows":[]}: its rows go
     * in between as for items. */
    ctype = "application/json;as=Table;v=v1;g=meta.k8s.io";
    cJSON *m = cJSON_GetObjectItemCaseSensitive(table, "metadata");
    cJSON_AddStringToObject(m, "resourceVersion", rvs);
    if (next)
      cJSON_AddStringToObject(m, "continue", next);
    char *t = cJSON_PrintUnformatted(table);
    size_t tl = strlen(t);
    if (tl < 3 || strcmp(t + tl - 3, "[]}")) {
      free(t);
      api_status_internal(&st, "cannot frame the Table");
      api__respond_status(call->req, &st);
      buf_done(&head);
      goto out;
    }
    buf_append(&head, t, tl - 2);
    free(t);
  } else {
    buf_printf(&head, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%s\"",
               call->view->s->kind, call->view->group_version, rvs);
    if (next) {
      cJSON *c = cJSON_CreateString(next);
      char *cs = cJSON_PrintUnformatted(c);
      buf_printf(&head, ",\"continue\":%s", cs);
      free(cs);
      cJSON_Delete(c);
      if (!filtered)
        buf_printf(&head, ",\"remainingItemCount\":%zu", remaining);
    }
    buf_append_str(&head, "},\"items\":[");
  }
  char **conv = NULL;
  if (api__converts_by_webhook(call->view) &&
      webhook_convert_items(call->view, kvs, n_kvs, &conv, &st) < 0) {
    api__respond_status(call->req, &st);
    buf_done(&head);
    goto out;
  }
  bool yaml = !table && api__wants_yaml(call->req) && kvs_bytes <= LIST_YAML_MAX;
  list_stream_t *lst = xcalloc(1, sizeof(*lst));
  lst->req = call->req;
  lst->view = call->view;
  lst->include = include;
  if (table) {
    lst->rows_of = table; /* its rows array is empty again after each row */
    table = NULL;
  }
  lst->items = kvs;
  lst->conv = conv;
  lst->n = n_kvs;
  kvs = NULL;
  n_kvs = 0;
  if (kvs_bytes <= LIST_INLINE_MAX || yaml) {
    for (size_t i = 0; i < lst->n; i++)
      item_append(&head, lst, i);
    buf_append(&head, "]}", 2);
    list_stream_free(lst);
    size_t blen;
    char *body = buf_steal(&head, &blen);
    if (yaml && api__respond_yaml(call->req, 200, body, blen))
      free(body);
    else
      api__respond_json(call->req, 200, ctype, body, blen);
  } else {
    http_stream_begin(call->req, 200, ctype);
    http_stream_write(call->req, head.data, head.len);
    buf_done(&head);
    http_req_on_close(call->req, list_stream_close, lst);
    http_stream_on_drain(call->req, list_stream_drain, lst);
    list_stream_pump(lst);
  }
out:
  free(tok);
  free(next);
  free(prefix);
  cJSON_Delete(table);
  for (size_t i = 0; i < n_kvs; i++)
    store_kv_unref(kvs[i]);
  free(kvs);
  label_selector_free(ls);
  field_selector_free(fs);
}

