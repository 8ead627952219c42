/* The event recorder: core/v1 Events named "<object>.<hex nanoseconds>" as
 * upstream's recorder names them, deduplicated by a bounded table keyed by
 * (involved object uid, type, reason, message): a repeat patches count and
 * lastTimestamp of the Event already written. A repeat that arrives while
 * the Event's write is in flight is folded into the next write.
 * https://pkg.go.dev/k8s.io/client-go/tools/record */
#include "controller/events.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/strmap.h"

#define MAX_ENTRIES 4096
#define MAX_MESSAGE 1024 /* upstream truncates event messages at 1 KiB */

typedef struct entry entry_t;

struct entry {
  controller_recorder_t *rec;
  char *key;
  char *ns, *name;
  int count;      /* the count the next write sends */
  int written;    /* the count the server has */
  bool created;   /* the Event exists on the server */
  bool dirty;     /* a repeat is waiting for the write in flight */
  client_req_t *req;
  entry_t *older, *newer; /* the recency list, for eviction */
  char first_ts[32], last_ts[32];
  cJSON *tmpl;    /* the Event to create (until it is created) */
};

struct controller_recorder {
  client_t *c;
  char *component;
  strmap_t entries;        /* key -> entry_t */
  entry_t *oldest, *newest; /* least to most recently used */
  size_t n;
  unsigned created, repeats;
};

controller_recorder_t *controller_recorder_new(client_t *c, const char *component) {
  controller_recorder_t *rec = xcalloc(1, sizeof(*rec));
  rec->c = c;
  strmap_init(&rec->entries);
  rec->component = xstrdup(component);
  return rec;
}

static void entry_free(entry_t *e) {
  if (!e)
    return;
  client_req_cancel(e->req);
  free(e->key);
  free(e->ns);
  free(e->name);
  cJSON_Delete(e->tmpl);
  free(e);
}

static void unlink_entry(controller_recorder_t *rec, entry_t *e) {
  if (e->older)
    e->older->newer = e->newer;
  else
    rec->oldest = e->newer;
  if (e->newer)
    e->newer->older = e->older;
  else
    rec->newest = e->older;
  e->older = e->newer = NULL;
}

static void link_newest(controller_recorder_t *rec, entry_t *e) {
  e->older = rec->newest;
  e->newer = NULL;
  if (rec->newest)
    rec->newest->newer = e;
  else
    rec->oldest = e;
  rec->newest = e;
}

void controller_recorder_free(controller_recorder_t *rec) {
  if (!rec)
    return;
  for (entry_t *e = rec->oldest, *next; e; e = next) {
    next = e->newer;
    entry_free(e);
  }
  strmap_done(&rec->entries);
  free(rec->component);
  free(rec);
}

void controller_recorder_stats(const controller_recorder_t *rec, unsigned *ret_created,
                               unsigned *ret_repeats) {
  *ret_created = rec->created;
  *ret_repeats = rec->repeats;
}

static const char *md_str(const cJSON *obj, const char *field) {
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, field);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *str(const cJSON *obj, const char *field) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void now_rfc3339(char *out, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void write_entry(entry_t *e);

static void write_done(const client_result_t *res, void *data) {
  entry_t *e = data;
  e->req = NULL;
  if (!e->created) {
    if (res->code == 201 || res->code == 200 || res->code == 409) {
      e->created = true;
      e->written = 1;
      cJSON_Delete(e->tmpl);
      e->tmpl = NULL;
      e->rec->created++;
    } else {
      return; /* dropped; a later repeat tries again */
    }
  } else if (res->code == 200) {
    e->written = e->count;
  } else if (res->code == 404) {
    e->created = false; /* deleted meanwhile (TTL): the next repeat makes a new one */
    e->written = 0;
    e->count = 1;
    return;
  }
  if (e->dirty) {
    e->dirty = false;
    write_entry(e);
  }
}

static void write_entry(entry_t *e) {
  controller_recorder_t *rec = e->rec;
  client_ref_t ref = {.version = "v1", .resource = "events", .ns = e->ns};
  if (!e->created) {
    if (!e->tmpl)
      return;
    cJSON *ev = cJSON_Duplicate(e->tmpl, 1);
    cJSON_ReplaceItemInObject(ev, "count", cJSON_CreateNumber(e->count));
    cJSON_ReplaceItemInObject(ev, "lastTimestamp", cJSON_CreateString(e->last_ts));
    e->req = client_create(rec->c, &ref, ev, write_done, e);
    cJSON_Delete(ev);
    return;
  }
  ref.name = e->name;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddNumberToObject(p, "count", e->count);
  cJSON_AddStringToObject(p, "lastTimestamp", e->last_ts);
  e->req = client_patch(rec->c, &ref, CLIENT_PATCH_STRATEGIC, p, NULL, write_done, e);
  cJSON_Delete(p);
}

static void evict_oldest(controller_recorder_t *rec) {
  entry_t *e = rec->oldest;
  if (!e)
    return;
  unlink_entry(rec, e);
  strmap_del(&rec->entries, e->key);
  rec->n--;
  entry_free(e);
}

void controller_recorder_eventf(controller_recorder_t *rec, const cJSON *obj, const char *type,
                                const char *reason, const char *fmt, ...) {
  char msg[MAX_MESSAGE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  const char *name = md_str(obj, "name"), *ns = md_str(obj, "namespace");
  const char *uid = md_str(obj, "uid");
  if (!name)
    return;
  char *key = xasprintf("%s\n%s\n%s\n%s\n%s\n%s", uid ? uid : "", ns ? ns : "", name, type, reason,
                        msg);
  char ts[32];
  now_rfc3339(ts, sizeof(ts));
  entry_t *e = strmap_get(&rec->entries, key);
  if (e) {
    free(key);
    e->count++;
    unlink_entry(rec, e);
    link_newest(rec, e);
    snprintf(e->last_ts, sizeof(e->last_ts), "%s", ts);
    rec->repeats++;
    if (e->req)
      e->dirty = true;
    else
      write_entry(e);
    return;
  }
  if (rec->n >= MAX_ENTRIES)
    evict_oldest(rec);
  e = xcalloc(1, sizeof(*e));
  e->rec = rec;
  e->key = key;
  e->count = 1;
  /* Events of cluster-scoped objects live in "default", as upstream's. */
  e->ns = xstrdup(ns && ns[0] ? ns : "default");
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  e->name = xasprintf("%s.%llx", name,
                      (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec);
  snprintf(e->first_ts, sizeof(e->first_ts), "%s", ts);
  snprintf(e->last_ts, sizeof(e->last_ts), "%s", ts);
  strmap_set(&rec->entries, e->key, e);
  link_newest(rec, e);
  rec->n++;

  cJSON *ev = cJSON_CreateObject();
  cJSON_AddStringToObject(ev, "apiVersion", "v1");
  cJSON_AddStringToObject(ev, "kind", "Event");
  cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
  cJSON_AddStringToObject(md, "name", e->name);
  cJSON_AddStringToObject(md, "namespace", e->ns);
  cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
  const char *kind = str(obj, "kind"), *api = str(obj, "apiVersion");
  const char *rv = md_str(obj, "resourceVersion");
  if (kind)
    cJSON_AddStringToObject(io, "kind", kind);
  if (ns && ns[0])
    cJSON_AddStringToObject(io, "namespace", ns);
  cJSON_AddStringToObject(io, "name", name);
  if (uid)
    cJSON_AddStringToObject(io, "uid", uid);
  if (api)
    cJSON_AddStringToObject(io, "apiVersion", api);
  if (rv)
    cJSON_AddStringToObject(io, "resourceVersion", rv);
  cJSON_AddStringToObject(ev, "reason", reason);
  cJSON_AddStringToObject(ev, "message", msg);
  cJSON_AddObjectToObject(ev, "source");
  cJSON_AddStringToObject(cJSON_GetObjectItem(ev, "source"), "component", rec->component);
  cJSON_AddStringToObject(ev, "firstTimestamp", e->first_ts);
  cJSON_AddStringToObject(ev, "lastTimestamp", e->last_ts);
  cJSON_AddNumberToObject(ev, "count", 1);
  cJSON_AddStringToObject(ev, "type", type);
  cJSON_AddStringToObject(ev, "reportingComponent", rec->component);
  cJSON_AddStringToObject(ev, "reportingInstance", "");
  e->tmpl = ev;
  write_entry(e);
}
