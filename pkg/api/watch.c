/* Watch streams: a chunked HTTP response of JSON lines
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}, fed by a
 * store watch, filtered by label and field selectors, with initial events,
 * bookmarks, timeouts, 410 Gone and back-pressure.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/object.h"
#include "api/param.h"
#include "util/alloc.h"
#include "util/offload.h"
#include "util/buf.h"

#define WATCH_DEFAULT_TIMEOUT 1800.0
#define WATCH_BOOKMARK_INTERVAL 60.0
#define WATCH_INITIAL_PAGE 500

struct api_watch {
  api_server_t *srv;
  http_req_t *req;
  const api_resource_t *res;  /* stored form */
  const api_resource_t *view; /* the version events are sent as */
  store_watch_t *sw;
  label_selector_t *ls;
  field_selector_t *fs;
  char *prefix;
  const char *include;
  bool table;
  bool table_sent_columns;
  bool bookmarks;
  int64_t last_rev;
  /* initial events, produced while the connection has room: a cursor over
   * the snapshot at init_rev, one store page at a time */
  bool initial_pending;
  bool initial_bookmark;
  int64_t init_rev;
  store_list_t page;
  size_t page_next;
  bool page_valid;
  ev_timer timeout;
  ev_timer bookmark;
  /* a view converted by webhook: every line goes through the offload
   * worker's FIFO (the conversion releases the lock), in order; pending
   * counts queued lines, dead says the watch ended meanwhile */
  bool by_webhook, dead;
  unsigned pending;
  api_watch_t *next, *prev;
};

static void watch_free(api_watch_t *w) {
  api_server_t *srv = w->srv;
  if (w->prev)
    w->prev->next = w->next;
  else
    srv->watches = w->next;
  if (w->next)
    w->next->prev = w->prev;
  ev_timer_stop(srv->loop, &w->timeout);
  ev_timer_stop(srv->loop, &w->bookmark);
  if (w->sw)
    store_watch_stop(w->sw);
  if (w->page_valid)
    store_list_done(&w->page);
  label_selector_free(w->ls);
  field_selector_free(w->fs);
  free(w->prefix);
  if (w->pending) {
    w->dead = true; /* the last queued line frees it */
    return;
  }
  free(w);
}

/* Finish the response and release everything. */
static void watch_end(api_watch_t *w) {
  http_req_t *req = w->req;
  watch_free(w);
  http_stream_end(req);
}

static void initial_pump(api_watch_t *w);

static void on_drain(http_req_t *req, void *data) {
  api_watch_t *w = data;
  if (w->initial_pending)
    initial_pump(w);
  else if (w->sw)
    store_watch_pause(w->sw, false);
}

static void send_line_now(api_watch_t *w, const char *type, const char *obj, size_t len) {
  buf_t b;
  buf_init(&b, len + 64);
  buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
  buf_append(&b, obj, len);
  buf_append(&b, "}\n", 2);
  http_stream_write(w->req, b.data, b.len);
  buf_done(&b);
  if (w->sw && !http_stream_writable(w->req))
    store_watch_pause(w->sw, true); /* resumed by on_drain */
}

typedef struct {
  api_watch_t *w;
  char type[16];
  bool object; /* json is a stored object to convert, else a line's object */
  size_t len;
  char json[];
} watch_line_t;

static void send_object_now(api_watch_t *w, const char *type, const char *json, size_t len,
                            const cJSON *parsed);

static void line_task(void *data) {
  watch_line_t *l = data;
  api_watch_t *w = l->w;
  if (!w->dead) {
    if (l->object)
      send_object_now(w, l->type, l->json, l->len, NULL);
    else
      send_line_now(w, l->type, l->json, l->len);
  }
  free(l);
  if (--w->pending == 0 && w->dead)
    free(w);
}

static void enqueue(api_watch_t *w, const char *type, bool object, const char *json, size_t len) {
  watch_line_t *l = xmalloc(sizeof(*l) + len + 1);
  l->w = w;
  snprintf(l->type, sizeof(l->type), "%s", type);
  l->object = object;
  l->len = len;
  memcpy(l->json, json, len);
  l->json[len] = 0;
  w->pending++;
  offload_submit(line_task, l);
}

static void send_line(api_watch_t *w, const char *type, const char *obj, size_t len) {
  if (w->by_webhook && !offload_in_task())
    enqueue(w, type, false, obj, len);
  else
    send_line_now(w, type, obj, len);
}

/* A conversion failed: upstream ends the watch with an ERROR event. */
static void conversion_failed(api_watch_t *w, api_status_t *st) {
  size_t n;
  char *s = api_status_json(st, &n);
  send_line_now(w, "ERROR", s, n);
  free(s);
  api_status_done(st);
  watch_end(w);
}

static void send_object(api_watch_t *w, const char *type, const char *json, size_t len,
                        const cJSON *parsed) {
  if (w->by_webhook && !offload_in_task())
    enqueue(w, type, true, json, len);
  else
    send_object_now(w, type, json, len, parsed);
}

static void send_object_now(api_watch_t *w, const char *type, const char *json, size_t len,
                            const cJSON *parsed) {
  if (!w->table) {
    size_t vlen = len;
    api_status_t st;
    char *conv = api__view_bytes(w->view, json, len, &vlen, &st);
    if (w->dead) { /* ended while the webhook was called */
      free(conv);
      api_status_done(&st);
      return;
    }
    if (st.code) {
      conversion_failed(w, &st);
      return;
    }
    send_line_now(w, type, conv ? conv : json, vlen);
    free(conv);
    return;
  }
  cJSON *o = parsed ? cJSON_Duplicate(parsed, 1) : cJSON_ParseWithLength(json, len);
  if (!o)
    return;
  cJSON *t = api__table_new(api__table_row(w->view), true);
  if (w->table_sent_columns)
    cJSON_DeleteItemFromObjectCaseSensitive(t, "columnDefinitions");
  w->table_sent_columns = true;
  api_status_t st;
  int r = api__table_add_stored(t, w->view, o, w->include, &st);
  if (w->dead || r < 0) {
    cJSON_Delete(t);
    cJSON_Delete(o);
    if (w->dead)
      api_status_done(&st);
    else
      conversion_failed(w, &st);
    return;
  }
  const char *rv = obj_str(o, "metadata.resourceVersion");
  if (rv)
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(t, "metadata"), "resourceVersion", rv);
  char *s = cJSON_PrintUnformatted(t);
  send_line_now(w, type, s, strlen(s));
  free(s);
  cJSON_Delete(t);
  cJSON_Delete(o);
}

static void send_bookmark(api_watch_t *w, bool initial_end) {
  char *s = xasprintf("{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
                      "\"%lld\"%s}}",
                      w->view->s->kind, w->view->group_version, (long long)w->last_rev,
                      initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
  send_line(w, "BOOKMARK", s, strlen(s));
  free(s);
}

static void send_error(api_watch_t *w, api_status_t *st) {
  size_t len;
  char *s = api_status_json(st, &len);
  send_line(w, "ERROR", s, len);
  free(s);
  api_status_done(st);
}

static void on_event(store_watch_t *sw, const store_event_t *ev, void *data) {
  api_watch_t *w = data;
  w->last_rev = ev->kv->mod_rev;
  cJSON *now = NULL, *before = NULL;
  bool now_in = api__selected(ev->kv, w->ls, w->fs, &now);
  bool was_in = ev->prev ? api__selected(ev->prev, w->ls, w->fs, &before) : false;
  const char *type = NULL;
  if (ev->kind == STORE_EVENT_DELETE)
    type = now_in || was_in ? "DELETED" : NULL;
  else if (now_in)
    type = ev->created || !was_in ? "ADDED" : "MODIFIED";
  else if (was_in)
    type = "DELETED"; /* left the selection */
  if (type)
    send_object(w, type, ev->kv->value, ev->kv->len, now);
  cJSON_Delete(now);
  cJSON_Delete(before);
}

static void on_error(store_watch_t *sw, int err, int64_t last_rev, void *data) {
  api_watch_t *w = data;
  w->sw = NULL; /* already stopped by the store */
  if (err == -EOVERFLOW) {
    api_status_t st;
    api_status_gone(&st, "too old resource version: %lld (%lld)", (long long)last_rev,
                    (long long)store_compacted_revision(w->srv->store));
    send_error(w, &st);
  }
  watch_end(w);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
  api_watch_t *w = (api_watch_t *)((char *)t - offsetof(api_watch_t, timeout));
  watch_end(w);
}

static void on_bookmark(struct ev_loop *loop, ev_timer *t, int revents) {
  api_watch_t *w = (api_watch_t *)((char *)t - offsetof(api_watch_t, bookmark));
  send_bookmark(w, false);
}

static void on_close(http_req_t *req, void *data) {
  api_watch_t *w = data;
  watch_end(w);
}

/* Fetch the first page of the snapshot (rev 0: now) or the next one. */
static int initial_page(api_watch_t *w, const char *tok) {
  store_list_opts_t lo = {
      .prefix = w->prefix, .rev = w->init_rev, .limit = WATCH_INITIAL_PAGE, .continue_tok = tok};
  store_list_t l;
  int r = store_list(w->srv->store, &lo, &l);
  if (r < 0)
    return r;
  if (w->page_valid)
    store_list_done(&w->page);
  w->page = l;
  w->page_valid = true;
  w->page_next = 0;
  w->init_rev = l.rev;
  return 0;
}

static int start_live(api_watch_t *w);

/* ADDED for every object of the snapshot that matches, while the
 * connection has room; the drain callback calls again. Then the bookmark
 * and the live events from the snapshot's revision on. */
static void initial_pump(api_watch_t *w) {
  api_status_t st;
  while (http_stream_writable(w->req)) {
    if (w->page_next == w->page.n) {
      if (!w->page.continue_tok) {
        w->initial_pending = false;
        store_list_done(&w->page);
        w->page_valid = false;
        w->last_rev = w->init_rev;
        if (w->initial_bookmark)
          send_bookmark(w, true);
        if (start_live(w) < 0)
          watch_end(w);
        return;
      }
      char *tok = xstrdup(w->page.continue_tok);
      int r = initial_page(w, tok);
      free(tok);
      if (r < 0) {
        /* The snapshot left the store's window while a slow client read
         * it: 410, and the client lists again. */
        if (r == -EOVERFLOW)
          api_status_gone(&st, "too old resource version: %lld (%lld)", (long long)w->init_rev,
                          (long long)store_compacted_revision(w->srv->store));
        else
          api_status_internal(&st, "listing initial events failed: %s", strerror(-r));
        send_error(w, &st);
        watch_end(w);
        return;
      }
      continue;
    }
    store_kv_t *kv = w->page.items[w->page_next++];
    cJSON *obj = NULL;
    if (api__selected(kv, w->ls, w->fs, &obj))
      send_object(w, "ADDED", kv->value, kv->len, obj);
    cJSON_Delete(obj);
  }
}

void api__watch(api_call_t *call) {
  api_status_t st;
  memset(&st, 0, sizeof(st));
  if (!(call->res->s->verbs & SCHEMA_VERB_WATCH) || call->ri.subresource[0]) {
    api_status_init(&st, 405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource");
    api__respond_status(call->req, &st);
    return;
  }
  api_watch_t *w = xcalloc(1, sizeof(*w));
  w->srv = call->srv;
  w->req = call->req;
  w->res = call->res;
  w->view = call->view;
  w->by_webhook = api__converts_by_webhook(call->view);
  if (api__selectors(call, &w->ls, &w->fs, &st) < 0) {
    free(w);
    api__respond_status(call->req, &st);
    return;
  }
  /* A watch on one object (…/pods/x?watch=true) is a field selector on its name. */
  if (call->ri.name[0]) {
    field_selector_t *fs = NULL;
    char *sel = xasprintf("metadata.name=%s", call->ri.name);
    char err[128];
    if (!w->fs && field_selector_parse(sel, &fs, err, sizeof(err)) == 0)
      w->fs = fs;
    free(sel);
  }
  w->prefix = api_resource_key(call->res, call->ri.ns, NULL);
  w->table = call->want_table;
  w->include = http_req_query(call->req, "includeObject");
  w->bookmarks = api__query_bool(call->req, "allowWatchBookmarks");
  w->next = call->srv->watches;
  if (w->next)
    w->next->prev = w;
  call->srv->watches = w;

  const char *rv = http_req_query(call->req, "resourceVersion");
  const char *sie = http_req_query(call->req, "sendInitialEvents");
  bool initial = sie ? api__query_bool(call->req, "sendInitialEvents")
                     : (!rv || !rv[0] || !strcmp(rv, "0"));
  int64_t from = 0;
  char rverr[512];
  if (api_param_rv(rv, &from, rverr, sizeof(rverr)) < 0) {
    /* Upstream's storage returns a plain error here, which the apiserver
     * answers as 500 without a reason. */
    watch_free(w);
    api_status_init(&st, 500, "", "%s", rverr);
    api__respond_status(call->req, &st);
    return;
  }
  http_stream_begin(call->req, 200,
                    w->table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json");
  http_req_on_close(call->req, on_close, w);
  http_stream_on_drain(call->req, on_drain, w);
  http_req_long_running(call->req, true); /* not in flight; cut first when over budget */
  /* Checked by api__params_check; 0 or less is the default, as upstream. */
  double timeout = (double)api__param_int(call->req, "timeoutSeconds", 0);
  if (timeout <= 0)
    timeout = WATCH_DEFAULT_TIMEOUT;
  ev_timer_init(&w->timeout, on_timeout, timeout, 0);
  ev_timer_start(call->srv->loop, &w->timeout);
  if (initial) {
    w->initial_pending = true;
    w->initial_bookmark = sie && w->bookmarks;
    int r = initial_page(w, NULL);
    if (r < 0) {
      api_status_internal(&st, "listing initial events failed: %s", strerror(-r));
      send_error(w, &st);
      watch_end(w);
      return;
    }
    initial_pump(w); /* goes on from on_drain; then start_live */
    return;
  }
  w->last_rev = from;
  if (start_live(w) < 0)
    watch_end(w);
}

/* Live events after w->last_rev (0: from now on), and periodic bookmarks.
 * On failure the ERROR event is sent; the caller ends the watch. */
static int start_live(api_watch_t *w) {
  api_status_t st;
  store_t *store = w->srv->store;
  int64_t from = w->last_rev;
  int r = store_watch_start(store, w->prefix, from ? from : store_revision(store), on_event,
                            on_error, w, &w->sw);
  if (r < 0) {
    w->sw = NULL;
    if (r == -EOVERFLOW)
      api_status_gone(&st, "too old resource version: %lld (%lld)", (long long)from,
                      (long long)store_compacted_revision(store));
    else
      api_status_internal(&st, "watch failed: %s", strerror(-r));
    send_error(w, &st);
    return r;
  }
  if (w->bookmarks) {
    ev_timer_init(&w->bookmark, on_bookmark, WATCH_BOOKMARK_INTERVAL, WATCH_BOOKMARK_INTERVAL);
    ev_timer_start(w->srv->loop, &w->bookmark);
  }
  return 0;
}

void api__watches_stop_removed(api_server_t *srv) {
  api_watch_t *w = srv->watches;
  while (w) {
    api_watch_t *next = w->next;
    if (w->res->removed)
      watch_end(w);
    w = next;
  }
}

void api__watches_stop_all(api_server_t *srv) {
  while (srv->watches)
    watch_end(srv->watches);
}
