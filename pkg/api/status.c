/* metav1.Status construction and rendering (status.h). Messages follow
 * k8s.io/apimachinery/pkg/api/errors so kubectl prints what users know. */
#include "api/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

static void vinit(api_status_t *st, int code, const char *reason, const char *fmt, va_list ap) {
  memset(st, 0, sizeof(*st));
  st->code = code;
  st->reason = reason;
  vsnprintf(st->message, sizeof(st->message), fmt, ap);
}

void api_status_init(api_status_t *st, int code, const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vinit(st, code, reason, fmt, ap);
  va_end(ap);
}

void api_status_set_details(api_status_t *st, const char *group, const char *kind,
                            const char *name) {
  snprintf(st->group, sizeof(st->group), "%s", group ? group : "");
  snprintf(st->kind, sizeof(st->kind), "%s", kind ? kind : "");
  snprintf(st->name, sizeof(st->name), "%s", name ? name : "");
}

void api_status_add_cause(api_status_t *st, const char *reason, const char *field,
                          const char *message) {
  if (!st->causes)
    st->causes = cJSON_CreateArray();
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "reason", reason);
  cJSON_AddStringToObject(c, "message", message);
  if (field)
    cJSON_AddStringToObject(c, "field", field);
  cJSON_AddItemToArray(st->causes, c);
}

void api_status_done(api_status_t *st) {
  if (!st)
    return;
  cJSON_Delete(st->causes);
  st->causes = NULL;
}

char *api_status_json(const api_status_t *st, size_t *ret_len) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "Status");
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddItemToObject(o, "metadata", cJSON_CreateObject());
  cJSON_AddStringToObject(o, "status", st->code >= 200 && st->code < 300 ? "Success" : "Failure");
  if (st->message[0])
    cJSON_AddStringToObject(o, "message", st->message);
  if (st->reason && st->reason[0])
    cJSON_AddStringToObject(o, "reason", st->reason);
  if (st->name[0] || st->kind[0] || st->causes || st->retry_after) {
    cJSON *d = cJSON_AddObjectToObject(o, "details");
    if (st->name[0])
      cJSON_AddStringToObject(d, "name", st->name);
    if (st->group[0])
      cJSON_AddStringToObject(d, "group", st->group);
    if (st->kind[0])
      cJSON_AddStringToObject(d, "kind", st->kind);
    if (st->causes)
      cJSON_AddItemToObject(d, "causes", cJSON_Duplicate(st->causes, 1));
    if (st->retry_after)
      cJSON_AddNumberToObject(d, "retryAfterSeconds", (double)st->retry_after);
  }
  cJSON_AddNumberToObject(o, "code", st->code);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (ret_len)
    *ret_len = strlen(s);
  return s;
}

/* "pods" or "deployments.apps", as upstream qualifies a resource. */
static void qualified(char *out, size_t n, const char *group, const char *resource) {
  if (group && group[0])
    snprintf(out, n, "%s.%s", resource, group);
  else
    snprintf(out, n, "%s", resource);
}

void api_status_not_found(api_status_t *st, const char *group, const char *resource,
                          const char *name) {
  char q[256];
  qualified(q, sizeof(q), group, resource);
  if (name && name[0])
    api_status_init(st, 404, "NotFound", "%s \"%s\" not found", q, name);
  else
    api_status_init(st, 404, "NotFound", "%s not found", q);
  api_status_set_details(st, group, resource, name);
}

void api_status_already_exists(api_status_t *st, const char *group, const char *resource,
                               const char *name) {
  char q[256];
  qualified(q, sizeof(q), group, resource);
  api_status_init(st, 409, "AlreadyExists", "%s \"%s\" already exists", q, name);
  api_status_set_details(st, group, resource, name);
}

void api_status_conflict(api_status_t *st, const char *group, const char *resource,
                         const char *name, const char *why) {
  char q[256];
  qualified(q, sizeof(q), group, resource);
  api_status_init(st, 409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": %s", q, name,
                  why);
  api_status_set_details(st, group, resource, name);
}

void api_status_bad_request(api_status_t *st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vinit(st, 400, "BadRequest", fmt, ap);
  va_end(ap);
}

void api_status_gone(api_status_t *st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vinit(st, 410, "Expired", fmt, ap);
  va_end(ap);
}

void api_status_internal(api_status_t *st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vinit(st, 500, "InternalError", fmt, ap);
  va_end(ap);
}

void api_status_invalid(api_status_t *st, const char *group, const char *kind, const char *name) {
  cJSON *causes = st->causes;
  st->causes = NULL;
  char list[900] = "";
  size_t used = 0;
  int n = cJSON_GetArraySize(causes);
  const cJSON *c;
  cJSON_ArrayForEach(c, causes) {
    const cJSON *f = cJSON_GetObjectItem(c, "field");
    const cJSON *m = cJSON_GetObjectItem(c, "message");
    int w = snprintf(list + used, sizeof(list) - used, "%s%s%s%s", used ? ", " : "",
                     cJSON_IsString(f) ? f->valuestring : "", cJSON_IsString(f) ? ": " : "",
                     cJSON_IsString(m) ? m->valuestring : "");
    if (w < 0 || (size_t)w >= sizeof(list) - used)
      break;
    used += (size_t)w;
  }
  char q[256];
  if (group && group[0])
    snprintf(q, sizeof(q), "%s.%s", kind, group);
  else
    snprintf(q, sizeof(q), "%s", kind);
  if (n > 1)
    api_status_init(st, 422, "Invalid", "%s \"%s\" is invalid: [%s]", q, name, list);
  else
    api_status_init(st, 422, "Invalid", "%s \"%s\" is invalid: %s", q, name, list);
  api_status_set_details(st, group, kind, name);
  st->causes = causes;
}
