/* Audit events (audit.h), field by field as upstream's audit.k8s.io/v1
 * Event: level, auditID, stage, requestURI, verb, user, sourceIPs,
 * userAgent, objectRef, responseStatus, requestObject (Request and up),
 * responseObject (RequestResponse), the two timestamps and annotations
 * (authorization.k8s.io/decision and reason, PodSecurity's). When the
 * writer's queue (8 MiB) is full, events are dropped and counted, and a
 * warning says how many, at most every 10 s: the API never waits for the
 * audit disk. https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/audit.h"
#include "api/internal.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/rotlog.h"
#include "yaml/decode.h"

#define QUEUE_MAX (8u << 20)
#define BODY_MAX (1u << 20) /* request/response objects kept for the log */
#define ANNOTATIONS_MAX 16

struct api_audit {
  audit_policy_t *policy;
  rotlog_t *log;
  uint64_t dropped_told;
  double told_at;
};

struct api_audit_req {
  audit_decision_t d;
  char id[40];
  char received[40];
  cJSON *base; /* the fields both stages share */
  cJSON *req_obj, *resp_obj; /* decoded by the API layer */
  struct {
    char *key, *value;
  } ann[ANNOTATIONS_MAX];
  size_t n_ann;
};

int api__audit_new(const api_audit_opts_t *o, api_audit_t **ret, char *err, size_t errlen) {
  api_audit_t *a = xcalloc(1, sizeof(*a));
  int r = 0;
  if (o->policy_file && o->policy_file[0]) {
    char *text = NULL, why[256];
    size_t len = 0;
    cJSON *doc = NULL;
    if ((r = fs_read_file(o->policy_file, 4u << 20, &text, &len)) < 0) {
      snprintf(err, errlen, "--audit-policy-file %s: %s", o->policy_file, strerror(-r));
      goto fail;
    }
    r = yaml_parse_one(text, len, &doc, why, sizeof(why));
    free(text);
    if (r < 0) {
      snprintf(err, errlen, "--audit-policy-file %s: %s", o->policy_file, why);
      goto fail;
    }
    r = audit_policy_parse(doc, &a->policy, why, sizeof(why));
    cJSON_Delete(doc);
    if (r < 0) {
      snprintf(err, errlen, "--audit-policy-file %s: %s", o->policy_file, why);
      goto fail;
    }
  } else
    a->policy = audit_policy_all(AUDIT_METADATA);
  rotlog_opts_t lo = {.path = o->path,
                      .max_bytes = (int64_t)(o->max_size_mb > 0 ? o->max_size_mb : 100) << 20,
                      .max_backups = o->max_backups, .max_age_days = o->max_age_days,
                      .queue_max = QUEUE_MAX};
  char why[512];
  if ((r = rotlog_open(&lo, &a->log, why, sizeof(why))) < 0) {
    snprintf(err, errlen, "--audit-log-path: %s", why);
    goto fail;
  }
  *ret = a;
  return 0;
fail:
  audit_policy_free(a->policy);
  free(a);
  return r;
}

void api__audit_free(api_audit_t *a) {
  if (!a)
    return;
  rotlog_close(a->log);
  audit_policy_free(a->policy);
  free(a);
}

static void now_micro(char *buf, size_t n) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char s[32];
  strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, n, "%s.%06ldZ", s, (long)tv.tv_usec);
}

/* upstream's audit verb: the RBAC verb for resources, the lower-case HTTP
 * method for other paths (get, post, put, ...). */
static void verb_of(const api_reqinfo_t *ri, const char *method, char *out, size_t n) {
  if (ri->is_resource) {
    snprintf(out, n, "%s", ri->verb);
    return;
  }
  size_t i = 0;
  for (; method[i] && i + 1 < n; i++)
    out[i] = (method[i] >= 'A' && method[i] <= 'Z') ? (char)(method[i] + 32) : method[i];
  out[i] = '\0';
}

static void strip_managed(cJSON *o) {
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
  if (cJSON_IsObject(meta))
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
  cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items"), *it;
  if (cJSON_IsArray(items))
    cJSON_ArrayForEach(it, items) strip_managed(it);
}

static void emit(api_audit_t *a, api_audit_req_t *ar, const char *stage, cJSON *extra) {
  cJSON *ev = cJSON_Duplicate(ar->base, true);
  cJSON_ReplaceItemInObjectCaseSensitive(ev, "stage", cJSON_CreateString(stage));
  for (cJSON *it = extra ? extra->child : NULL; it; it = it->next)
    cJSON_AddItemToObject(ev, it->string, cJSON_Duplicate(it, true));
  char ts[40];
  now_micro(ts, sizeof(ts));
  cJSON_AddStringToObject(ev, "requestReceivedTimestamp", ar->received);
  cJSON_AddStringToObject(ev, "stageTimestamp", ts);
  if (ar->n_ann) {
    cJSON *ann = cJSON_AddObjectToObject(ev, "annotations");
    for (size_t i = 0; i < ar->n_ann; i++)
      cJSON_AddStringToObject(ann, ar->ann[i].key, ar->ann[i].value);
  }
  char *line = cJSON_PrintUnformatted(ev);
  cJSON_Delete(ev);
  rotlog_write(a->log, line, strlen(line));
  free(line);
  uint64_t dropped = rotlog_dropped(a->log);
  double now = ev_time();
  if (dropped != a->dropped_told && now - a->told_at >= 10) {
    log_warn("api", "audit log: %llu events dropped so far: the disk does not keep up with "
                    "the requests (queue of %u MiB full)",
             (unsigned long long)dropped, QUEUE_MAX >> 20);
    a->dropped_told = dropped;
    a->told_at = now;
  }
}

static void user_json(cJSON *parent, const char *key, const api_user_t *user) {
  cJSON *u = cJSON_AddObjectToObject(parent, key);
  cJSON_AddStringToObject(u, "username", user->name);
  if (user->uid[0])
    cJSON_AddStringToObject(u, "uid", user->uid);
  cJSON *g = cJSON_AddArrayToObject(u, "groups");
  for (size_t i = 0; user->groups[i]; i++)
    cJSON_AddItemToArray(g, cJSON_CreateString(user->groups[i]));
  if (user->extra[0].key) {
    cJSON *ex = cJSON_AddObjectToObject(u, "extra");
    for (size_t i = 0; i < 6 && user->extra[i].key; i++) {
      cJSON *v = cJSON_AddArrayToObject(ex, user->extra[i].key);
      cJSON_AddItemToArray(v, cJSON_CreateString(user->extra[i].value));
    }
  }
}

api_audit_req_t *api__audit_begin(api_audit_t *a, http_req_t *req, const void *user_,
                                  const void *requester_, const api_reqinfo_t *ri) {
  const api_user_t *user = user_, *requester = requester_;
  char verb[32];
  verb_of(ri, http_req_method(req), verb, sizeof(verb));
  audit_attrs_t at = {.user = user->name, .groups = (const char *const *)user->groups,
                      .verb = verb, .is_resource = ri->is_resource, .group = ri->group,
                      .resource = ri->resource, .subresource = ri->subresource,
                      .name = ri->name, .ns = ri->ns, .path = http_req_path(req)};
  audit_decision_t d = audit_policy_decide(a->policy, &at);
  if (d.level == AUDIT_NONE)
    return NULL;
  api_audit_req_t *ar = xcalloc(1, sizeof(*ar));
  ar->d = d;
  obj_uuid(ar->id, sizeof(ar->id));
  now_micro(ar->received, sizeof(ar->received));
  http_req_add_header(req, "Audit-Id", ar->id);
  cJSON *ev = ar->base = cJSON_CreateObject();
  cJSON_AddStringToObject(ev, "kind", "Event");
  cJSON_AddStringToObject(ev, "apiVersion", "audit.k8s.io/v1");
  cJSON_AddStringToObject(ev, "level", audit_level_name(d.level));
  cJSON_AddStringToObject(ev, "auditID", ar->id);
  cJSON_AddStringToObject(ev, "stage", "");
  const char *q = http_req_raw_query(req);
  char *uri = xasprintf("%s%s%s", http_req_path(req), q && q[0] ? "?" : "", q ? q : "");
  cJSON_AddStringToObject(ev, "requestURI", uri);
  free(uri);
  cJSON_AddStringToObject(ev, "verb", verb);
  user_json(ev, "user", requester ? requester : user);
  if (requester)
    user_json(ev, "impersonatedUser", user);
  char ip[128];
  const char *ra = http_req_remote_addr(req);
  snprintf(ip, sizeof(ip), "%s", ra ? ra : "");
  char *colon = strrchr(ip, ':');
  if (colon)
    *colon = '\0';
  if (ip[0] == '[') { /* [v6]:port */
    memmove(ip, ip + 1, strlen(ip));
    char *e = strchr(ip, ']');
    if (e)
      *e = '\0';
  }
  cJSON *ips = cJSON_AddArrayToObject(ev, "sourceIPs");
  if (ip[0])
    cJSON_AddItemToArray(ips, cJSON_CreateString(ip));
  const char *ua = http_req_header(req, "User-Agent");
  if (ua)
    cJSON_AddStringToObject(ev, "userAgent", ua);
  if (ri->is_resource) {
    cJSON *ref = cJSON_AddObjectToObject(ev, "objectRef");
    cJSON_AddStringToObject(ref, "resource", ri->resource);
    if (ri->ns[0])
      cJSON_AddStringToObject(ref, "namespace", ri->ns);
    const char *name = ri->name; /* a create's: api__audit_request_object */
    if (name[0])
      cJSON_AddStringToObject(ref, "name", name);
    if (ri->group[0])
      cJSON_AddStringToObject(ref, "apiGroup", ri->group);
    cJSON_AddStringToObject(ref, "apiVersion", ri->version);
    if (ri->subresource[0])
      cJSON_AddStringToObject(ref, "subresource", ri->subresource);
  }
  if (!(d.omit_stages & AUDIT_STAGE_RECEIVED))
    emit(a, ar, "RequestReceived", NULL);
  return ar;
}

void api__audit_decision(api_audit_req_t *ar, bool allow, const char *reason) {
  if (!ar)
    return;
  api__audit_annotate(ar, "authorization.k8s.io/decision", allow ? "allow" : "forbid");
  api__audit_annotate(ar, "authorization.k8s.io/reason", reason ? reason : "");
}

void api__audit_annotate(api_audit_req_t *ar, const char *key, const char *value) {
  if (!ar)
    return;
  for (size_t i = 0; i < ar->n_ann; i++)
    if (!strcmp(ar->ann[i].key, key)) {
      free(ar->ann[i].value);
      ar->ann[i].value = xstrdup(value);
      return;
    }
  if (ar->n_ann == ANNOTATIONS_MAX)
    return;
  ar->ann[ar->n_ann].key = xstrdup(key);
  ar->ann[ar->n_ann].value = xstrdup(value);
  ar->n_ann++;
}

void api__audit_end(api_audit_t *a, api_audit_req_t *ar, http_req_t *req) {
  if (!ar)
    return;
  if (!(ar->d.omit_stages & AUDIT_STAGE_COMPLETE)) {
    cJSON *extra = cJSON_CreateObject();
    int code = http_req_status(req);
    cJSON *robj = ar->resp_obj;
    ar->resp_obj = NULL;
    cJSON *rs = cJSON_AddObjectToObject(extra, "responseStatus");
    cJSON_AddObjectToObject(rs, "metadata");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(robj, "kind");
    if (code >= 300 && cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status")) {
      const char *keys[] = {"status", "message", "reason"};
      for (size_t i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(robj, keys[i]);
        if (cJSON_IsString(v))
          cJSON_AddStringToObject(rs, keys[i], v->valuestring);
      }
    }
    cJSON_AddNumberToObject(rs, "code", code);
    if (ar->d.level >= AUDIT_REQUEST && ar->req_obj) {
      if (ar->d.omit_managed_fields)
        strip_managed(ar->req_obj);
      cJSON_AddItemToObject(extra, "requestObject", ar->req_obj);
      ar->req_obj = NULL;
    }
    if (ar->d.level >= AUDIT_REQUEST_RESPONSE && robj && code < 300) {
      if (ar->d.omit_managed_fields)
        strip_managed(robj);
      cJSON_AddItemToObject(extra, "responseObject", robj);
      robj = NULL;
    }
    cJSON_Delete(robj);
    emit(a, ar, "ResponseComplete", extra);
    cJSON_Delete(extra);
  }
  for (size_t i = 0; i < ar->n_ann; i++) {
    free(ar->ann[i].key);
    free(ar->ann[i].value);
  }
  cJSON_Delete(ar->base);
  cJSON_Delete(ar->req_obj);
  cJSON_Delete(ar->resp_obj);
  free(ar);
}

void api__audit_request_object(api_audit_req_t *ar, const void *obj_) {
  const cJSON *obj = obj_;
  if (!ar || ar->req_obj || !cJSON_IsObject(obj))
    return;
  /* a create names its object only in the body: upstream fills the name in */
  cJSON *ref = cJSON_GetObjectItemCaseSensitive(ar->base, "objectRef");
  const cJSON *mn = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name");
  if (ref && !cJSON_GetObjectItemCaseSensitive(ref, "name") && cJSON_IsString(mn) &&
      mn->valuestring[0]) {
    cJSON *rest = cJSON_CreateObject();
    const char *keys[] = {"apiGroup", "apiVersion", "subresource"};
    for (size_t i = 0; i < 3; i++) {
      cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ref, keys[i]);
      if (v)
        cJSON_AddItemToObject(rest, keys[i], v);
    }
    cJSON_AddStringToObject(ref, "name", mn->valuestring);
    while (rest->child) {
      cJSON *v = cJSON_DetachItemViaPointer(rest, rest->child);
      cJSON_AddItemToObject(ref, v->string, v);
    }
    cJSON_Delete(rest);
  }
  if (ar->d.level >= AUDIT_REQUEST)
    ar->req_obj = cJSON_Duplicate(obj, true);
}

void api__audit_response_json(api_audit_req_t *ar, int code, const char *json, size_t len) {
  if (!ar || ar->resp_obj || len > BODY_MAX)
    return;
  if (ar->d.level < AUDIT_REQUEST_RESPONSE && code < 300)
    return; /* below RequestResponse only a failure's Status is looked at */
  ar->resp_obj = cJSON_ParseWithLength(json, len);
}
