/* Kubernetes Status errors (metav1.Status) with upstream reasons, codes and
 * message wording, built once and rendered as JSON for the response.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#responses */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct {
  int code;           /* HTTP status */
  const char *reason; /* "NotFound", "AlreadyExists", ... ("" for 500) */
  char message[1024];
  char kind[64];      /* details.kind (resource plural for NotFound, as upstream) */
  char group[128];
  char name[256];
  cJSON *causes;      /* array of {reason, message, field}; owned */
  long retry_after;
} api_status_t;

void api_status_init(api_status_t *st, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api_status_set_details(api_status_t *st, const char *group, const char *kind,
                            const char *name);
/* Add a cause (e.g. reason "FieldValueInvalid", field "spec.containers[0].name"). */
void api_status_add_cause(api_status_t *st, const char *reason, const char *field,
                          const char *message);
void api_status_done(api_status_t *st);
/* Render {"kind":"Status",...}; caller frees. */
char *api_status_json(const api_status_t *st, size_t *ret_len);

/* Upstream constructors. group/resource are "apps"/"deployments"; name may be "". */
void api_status_not_found(api_status_t *st, const char *group, const char *resource,
                          const char *name);
void api_status_already_exists(api_status_t *st, const char *group, const char *resource,
                               const char *name);
void api_status_conflict(api_status_t *st, const char *group, const char *resource,
                         const char *name, const char *why);
void api_status_bad_request(api_status_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void api_status_gone(api_status_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void api_status_internal(api_status_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 422 Invalid: message built from the causes already added:
 * `Pod "x" is invalid: [spec.containers[0].image: Required value, ...]`. */
void api_status_invalid(api_status_t *st, const char *group, const char *kind, const char *name);
