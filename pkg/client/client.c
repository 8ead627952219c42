/* The transport-independent half of the API client: request paths and
 * queries, the verbs, bounded response assembly, Kubernetes Status errors
 * and the splitting of watch streams into JSON-line events.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/ */
#include "client/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/backend.h"
#include "util/alloc.h"

#define CLIENT_MAX_BODY ((size_t)16 << 20)
#define CLIENT_MAX_EVENT ((size_t)4 << 20)

client_t *client__new(struct ev_loop *loop, const client_backend_t *be, void *be_data) {
  client_t *c = xcalloc(1, sizeof(*c));
  c->loop = loop;
  c->be = be;
  c->be_data = be_data;
  c->user_agent = xstrdup("k3c-controller-manager");
  c->max_body = CLIENT_MAX_BODY;
  return c;
}

static void req_unlink(client_req_t *r) {
  client_t *c = r->c;
  if (r->prev)
    r->prev->next = r->next;
  else if (c->reqs == r)
    c->reqs = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void req_free(client_req_t *r) {
  buf_done(&r->body);
  free(r);
}

void client_free(client_t *c) {
  if (!c)
    return;
  while (c->reqs) {
    client_req_t *r = c->reqs;
    req_unlink(r);
    c->be->cancel(c, r);
    if (r->busy)
      r->cancelled = true; /* freed by the callback frame that holds it */
    else
      req_free(r);
  }
  c->be->free(c);
  free(c->user_agent);
  free(c);
}

void client_set_user_agent(client_t *c, const char *ua) {
  free(c->user_agent);
  c->user_agent = xstrdup(ua);
}

cJSON *client_result_take(const client_result_t *res) {
  client_result_t *m = (client_result_t *)res;
  cJSON *o = m->obj;
  m->obj = NULL;
  return o;
}

bool client_result_gone(const client_result_t *res) {
  if (res->code == 410)
    return true;
  return res->reason && (!strcmp(res->reason, "Expired") || !strcmp(res->reason, "Gone"));
}

/* ---- paths and queries ---- */

static bool unreserved(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

int client_query_add(char *q, size_t qlen, const char *name, const char *value) {
  size_t len = strlen(q), start = len;
  const char *hex = "0123456789ABCDEF";
#define PUT(ch)                                                                                    \
  do {                                                                                             \
    if (len + 1 >= qlen)                                                                           \
      goto toobig;                                                                                 \
    q[len++] = (ch);                                                                               \
  } while (0)
  if (len)
    PUT('&');
  for (const char *p = name; *p; p++)
    PUT(*p);
  PUT('=');
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if (unreserved(*p)) {
      PUT((char)*p);
    } else {
      PUT('%');
      PUT(hex[*p >> 4]);
      PUT(hex[*p & 15]);
    }
  }
#undef PUT
  q[len] = '\0';
  return 0;
toobig:
  q[start] = '\0';
  return -E2BIG;
}

/* Path segments may not be empty, "." or "..", or hold '/' or '?'. */
static bool segment_ok(const char *s) {
  return s && s[0] && strcmp(s, ".") && strcmp(s, "..") && !strpbrk(s, "/?#%");
}

int client_ref_path(const client_ref_t *ref, char *out, size_t outlen) {
  if (!segment_ok(ref->version) || !segment_ok(ref->resource))
    return -EINVAL;
  if ((ref->group && ref->group[0] && !segment_ok(ref->group)) ||
      (ref->ns && ref->ns[0] && !segment_ok(ref->ns)) ||
      (ref->name && !segment_ok(ref->name)) ||
      (ref->subresource && ref->subresource[0] && !segment_ok(ref->subresource)))
    return -EINVAL;
  if (ref->subresource && ref->subresource[0] && !ref->name)
    return -EINVAL;
  int n;
  if (ref->group && ref->group[0])
    n = snprintf(out, outlen, "/apis/%s/%s", ref->group, ref->version);
  else
    n = snprintf(out, outlen, "/api/%s", ref->version);
  if (n < 0 || (size_t)n >= outlen)
    return -E2BIG;
  size_t len = (size_t)n;
  if (ref->ns && ref->ns[0])
    n = snprintf(out + len, outlen - len, "/namespaces/%s", ref->ns);
  else
    n = 0;
  if (n < 0 || (len += (size_t)n) >= outlen)
    return -E2BIG;
  n = snprintf(out + len, outlen - len, "/%s", ref->resource);
  if (n < 0 || (len += (size_t)n) >= outlen)
    return -E2BIG;
  if (ref->name) {
    n = snprintf(out + len, outlen - len, "/%s", ref->name);
    if (n < 0 || (len += (size_t)n) >= outlen)
      return -E2BIG;
  }
  if (ref->subresource && ref->subresource[0]) {
    n = snprintf(out + len, outlen - len, "/%s", ref->subresource);
    if (n < 0 || (len += (size_t)n) >= outlen)
      return -E2BIG;
  }
  return 0;
}

/* ---- requests ---- */

static client_req_t *start_path(client_t *c, const char *path, const char *method,
                                const char *query, const char *content_type, const cJSON *body,
                                bool watch, client_event_cb event_cb, client_done_cb done_cb,
                                void *data) {
  char target[8192];
  bool has_q = (query && query[0]) || watch;
  int n = snprintf(target, sizeof(target), "%s%s%s%s%s", path, has_q ? "?" : "",
                   watch ? "watch=true" : "", watch && query && query[0] ? "&" : "",
                   query ? query : "");
  if (n < 0 || (size_t)n >= sizeof(target))
    return NULL;
  char *text = body ? cJSON_PrintUnformatted(body) : NULL;
  const char *headers[] = {"Accept", "application/json", "User-Agent", c->user_agent,
                           content_type ? "Content-Type" : NULL, content_type, NULL};
  client_req_t *r = xcalloc(1, sizeof(*r));
  r->c = c;
  r->watch = watch;
  r->event_cb = event_cb;
  r->done_cb = done_cb;
  r->data = data;
  buf_init(&r->body, watch ? CLIENT_MAX_EVENT : c->max_body);
  r->next = c->reqs;
  if (r->next)
    r->next->prev = r;
  c->reqs = r;
  int e = c->be->start(c, r, method, target, headers, text ? text : "", text ? strlen(text) : 0);
  free(text);
  if (e < 0) {
    req_unlink(r);
    req_free(r);
    return NULL;
  }
  return r;
}

static client_req_t *start(client_t *c, const client_ref_t *ref, const char *method,
                           const char *query, const char *content_type, const cJSON *body,
                           bool watch, client_event_cb event_cb, client_done_cb done_cb,
                           void *data) {
  char path[1024];
  if (client_ref_path(ref, path, sizeof(path)) < 0)
    return NULL;
  return start_path(c, path, method, query, content_type, body, watch, event_cb, done_cb, data);
}

client_req_t *client_get_path(client_t *c, const char *path, client_done_cb cb, void *data) {
  if (!path || path[0] != '/' || strlen(path) >= 1024 || strpbrk(path, "?# "))
    return NULL;
  return start_path(c, path, "GET", NULL, NULL, NULL, false, NULL, cb, data);
}

client_req_t *client_put_path(client_t *c, const char *path, const cJSON *body, client_done_cb cb,
                              void *data) {
  if (!path || path[0] != '/' || strlen(path) >= 1024 || strpbrk(path, "?# ") || !body)
    return NULL;
  return start_path(c, path, "PUT", NULL, "application/json", body, false, NULL, cb, data);
}

client_req_t *client_get(client_t *c, const client_ref_t *ref, const char *query, client_done_cb cb,
                         void *data) {
  return start(c, ref, "GET", query, NULL, NULL, false, NULL, cb, data);
}

client_req_t *client_list(client_t *c, const client_ref_t *ref, const char *query,
                          client_done_cb cb, void *data) {
  client_ref_t l = *ref;
  l.name = NULL;
  return start(c, &l, "GET", query, NULL, NULL, false, NULL, cb, data);
}

client_req_t *client_create(client_t *c, const client_ref_t *ref, const cJSON *obj,
                            client_done_cb cb, void *data) {
  client_ref_t l = *ref;
  /* POST to an object's subresource (pods/x/binding, pods/x/eviction)
   * keeps the name; otherwise the collection. */
  if (!l.subresource || !l.subresource[0] || !l.name) {
    l.name = NULL;
    l.subresource = NULL;
  }
  return start(c, &l, "POST", NULL, "application/json", obj, false, NULL, cb, data);
}

client_req_t *client_update(client_t *c, const client_ref_t *ref, const cJSON *obj,
                            client_done_cb cb, void *data) {
  return start(c, ref, "PUT", NULL, "application/json", obj, false, NULL, cb, data);
}

client_req_t *client_update_status(client_t *c, const client_ref_t *ref, const cJSON *obj,
                                   client_done_cb cb, void *data) {
  client_ref_t l = *ref;
  l.subresource = "status";
  return start(c, &l, "PUT", NULL, "application/json", obj, false, NULL, cb, data);
}

client_req_t *client_patch(client_t *c, const client_ref_t *ref, client_patch_t type,
                           const cJSON *patch, const char *query, client_done_cb cb, void *data) {
  static const char *const types[] = {
      [CLIENT_PATCH_MERGE] = "application/merge-patch+json",
      [CLIENT_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
      [CLIENT_PATCH_JSON] = "application/json-patch+json",
      [CLIENT_PATCH_APPLY] = "application/apply-patch+yaml",
  };
  if ((unsigned)type > CLIENT_PATCH_APPLY)
    return NULL;
  return start(c, ref, "PATCH", query, types[type], patch, false, NULL, cb, data);
}

client_req_t *client_delete(client_t *c, const client_ref_t *ref, const cJSON *options,
                            client_done_cb cb, void *data) {
  return start(c, ref, "DELETE", NULL, options ? "application/json" : NULL, options, false, NULL,
               cb, data);
}

client_req_t *client_stream(client_t *c, const char *target, client_chunk_cb chunk_cb,
                            client_done_cb done_cb, void *data) {
  if (!target || target[0] != '/' || strlen(target) >= 8192 || strpbrk(target, "# \r\n"))
    return NULL;
  const char *headers[] = {"Accept", "*/*", "User-Agent", c->user_agent, NULL};
  client_req_t *r = xcalloc(1, sizeof(*r));
  r->c = c;
  r->watch = true; /* the backends' long-request handling: own connection */
  r->raw = true;
  r->chunk_cb = chunk_cb;
  r->done_cb = done_cb;
  r->data = data;
  buf_init(&r->body, 64 << 10);
  r->next = c->reqs;
  if (r->next)
    r->next->prev = r;
  c->reqs = r;
  int e = c->be->start(c, r, "GET", target, headers, "", 0);
  if (e < 0) {
    req_unlink(r);
    req_free(r);
    return NULL;
  }
  return r;
}

client_req_t *client_watch(client_t *c, const client_ref_t *ref, const char *query,
                           client_event_cb event_cb, client_done_cb done_cb, void *data) {
  client_ref_t l = *ref;
  l.name = NULL;
  return start(c, &l, "GET", query, NULL, NULL, true, event_cb, done_cb, data);
}

void client_req_cancel(client_req_t *r) {
  if (!r || r->cancelled)
    return;
  client_t *c = r->c;
  req_unlink(r);
  c->be->cancel(c, r);
  if (r->busy)
    r->cancelled = true;
  else
    req_free(r);
}

/* ---- delivery from the backend ---- */

void client__deliver_head(client_req_t *r, int code) {
  r->code = code;
  if (r->raw && code >= 200 && code < 300 && r->chunk_cb) { /* the head: a proxy answers now */
    r->busy++;
    r->chunk_cb("", 0, r->data);
    r->busy--;
    if (r->cancelled && !r->busy)
      req_free(r);
  }
}

/* One watch line: {"type":..., "object":{...}}. Returns false when the
 * request was cancelled by the callback (r is then freed). */
static bool watch_line(client_req_t *r, const char *line, size_t len) {
  while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
    len--;
  if (!len)
    return true;
  cJSON *ev = cJSON_ParseWithLength(line, len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
  cJSON *obj = cJSON_DetachItemFromObjectCaseSensitive(ev, "object");
  bool keep = true;
  if (cJSON_IsString(type) && cJSON_IsObject(obj) && r->event_cb) {
    r->busy++;
    r->event_cb(type->valuestring, obj, r->data);
    obj = NULL;
    r->busy--;
    if (r->cancelled) {
      if (!r->busy)
        req_free(r);
      keep = false;
    }
  }
  cJSON_Delete(obj);
  cJSON_Delete(ev);
  return keep;
}

static void finish(client_req_t *r, int err);

void client__deliver_body(client_req_t *r, const char *data, size_t len) {
  if (r->raw && r->code >= 200 && r->code < 300) {
    if (!len || !r->chunk_cb) /* (len 0 is the head's call only) */
      return;
    r->busy++;
    r->chunk_cb(data, len, r->data);
    r->busy--;
    if (r->cancelled && !r->busy)
      req_free(r);
    return;
  }
  if (r->raw && r->body.len + len > r->body.limit) /* an error's text: keep its start */
    len = r->body.limit - r->body.len;
  if (!r->watch || r->code != 200) {
    if (buf_append(&r->body, data, len) < 0) {
      client_t *c = r->c;
      req_unlink(r);
      c->be->cancel(c, r);
      finish(r, -E2BIG);
    }
    return;
  }
  while (len) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) : len;
    if (r->body.len == 0 && nl) { /* a whole line in the input: no copy */
      if (!watch_line(r, data, take))
        return;
    } else {
      if (buf_append(&r->body, data, take) < 0) {
        client_t *c = r->c;
        req_unlink(r);
        c->be->cancel(c, r);
        finish(r, -E2BIG);
        return;
      }
      if (nl) {
        buf_t line = r->body;
        buf_init(&r->body, CLIENT_MAX_EVENT);
        bool keep = watch_line(r, line.data, line.len);
        buf_done(&line);
        if (!keep)
          return;
      }
    }
    if (!nl)
      break;
    data += take + 1;
    len -= take + 1;
  }
}

/* Call done_cb with the assembled result and free r (already unlinked). */
static void finish(client_req_t *r, int err) {
  client_result_t res = {.code = err ? 0 : r->code, .err = err, .reason = "", .message = "",
                         .body = r->body.data ? r->body.data : "", .body_len = r->body.len};
  if (!err && !(r->watch && r->code == 200) && !r->raw && r->body.len) {
    res.obj = cJSON_ParseWithLength(r->body.data, r->body.len);
    if (res.code >= 400) {
      const cJSON *kind = cJSON_GetObjectItemCaseSensitive(res.obj, "kind");
      if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status")) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(res.obj, "reason");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(res.obj, "message");
        if (cJSON_IsString(reason))
          res.reason = reason->valuestring;
        if (cJSON_IsString(msg))
          res.message = msg->valuestring;
      }
    }
  }
  r->cancelled = true; /* nothing more is delivered; a cancel now is a no-op */
  if (r->done_cb) {
    r->busy++;
    r->done_cb(&res, r->data);
    r->busy--;
  }
  cJSON_Delete(res.obj);
  req_free(r);
}

void client__deliver_end(client_req_t *r, int err) {
  req_unlink(r);
  if (!err && r->watch && r->code == 200 && r->body.len) {
    /* a last line without its newline */
    buf_t line = r->body;
    buf_init(&r->body, CLIENT_MAX_EVENT);
    r->busy++; /* keep r while the line's callback runs */
    watch_line(r, line.data, line.len);
    r->busy--;
    buf_done(&line);
    if (r->cancelled) {
      req_free(r);
      return;
    }
  }
  finish(r, err);
}
