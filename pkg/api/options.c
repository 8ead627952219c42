/* The query options each verb decodes, checked as the apiserver's
 * parameter codec and option validation check them before a handler runs
 * (k8s.io/apimachinery meta/internalversion/validation, ValidateDryRun):
 * ListOptions, DeleteOptions, Create/Update/PatchOptions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/param.h"
#include "util/alloc.h"

/* Query decoding as the parameter codec: a malformed integer is a 400
 * with strconv's text (handlers: errors.NewBadRequest(err.Error())). */
static int check_ints(http_req_t *req, const char *const *names, api_status_t *st) {
  char err[256];
  int64_t v;
  for (; *names; names++) {
    const char *s = http_req_query(req, *names);
    if (s && api_param_int64(s, &v, err, sizeof(err)) < 0) {
      api_status_bad_request(st, "%s", err);
      return -EINVAL;
    }
  }
  return 0;
}

static void forbidden(api_status_t *st, const char *field, const char *why) {
  char *m = xasprintf("Forbidden: %s", why);
  api_status_add_cause(st, "FieldValueForbidden", field, m);
  free(m);
}

/* metainternalversion validation.ValidateListOptions (WatchList enabled). */
static int check_list_options(http_req_t *req, bool watch, api_status_t *st) {
  const char *rv = http_req_query(req, "resourceVersion");
  const char *rvm = http_req_query(req, "resourceVersionMatch");
  const char *cont = http_req_query(req, "continue");
  const char *sie = http_req_query(req, "sendInitialEvents");
  char q[160], m[400];
  memset(st, 0, sizeof(*st));
  if (watch) {
    if (sie && (!rvm || strcmp(rvm, "NotOlderThan")))
      forbidden(st, "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
    if (rvm && rvm[0]) {
      if (!sie)
        forbidden(st, "resourceVersionMatch",
                  "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
      if (strcmp(rvm, "NotOlderThan")) {
        api_param_quote(rvm, q, sizeof(q));
        snprintf(m, sizeof(m), "Unsupported value: %s: supported values: \"NotOlderThan\"", q);
        api_status_add_cause(st, "FieldValueNotSupported", "resourceVersionMatch", m);
      }
      if (cont && cont[0])
        forbidden(st, "resourceVersionMatch",
                  "resourceVersionMatch is forbidden when continue is provided");
    }
  } else {
    if (rvm && rvm[0]) {
      if (!rv || !rv[0])
        forbidden(st, "resourceVersionMatch",
                  "resourceVersionMatch is forbidden unless resourceVersion is provided");
      if (cont && cont[0])
        forbidden(st, "resourceVersionMatch",
                  "resourceVersionMatch is forbidden when continue is provided");
      if (strcmp(rvm, "Exact") && strcmp(rvm, "NotOlderThan")) {
        api_param_quote(rvm, q, sizeof(q));
        snprintf(m, sizeof(m),
                 "Unsupported value: %s: supported values: \"Exact\", \"NotOlderThan\", \"\"", q);
        api_status_add_cause(st, "FieldValueNotSupported", "resourceVersionMatch", m);
      }
      if (!strcmp(rvm, "Exact") && rv && !strcmp(rv, "0"))
        forbidden(st, "resourceVersionMatch",
                  "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
    }
    if (sie)
      forbidden(st, "sendInitialEvents", "sendInitialEvents is forbidden for list");
  }
  if (!st->causes)
    return 0;
  api_status_invalid(st, "meta.k8s.io", "ListOptions", "");
  return -EINVAL;
}

/* validation.ValidateDryRun: every dryRun value must be "All". */
static int check_dry_run(http_req_t *req, const char *kind, api_status_t *st) {
  const char *const *v = http_req_query_all(req, "dryRun");
  bool bad = false;
  for (size_t i = 0; v[i]; i++)
    bad = bad || strcmp(v[i], "All");
  if (!bad)
    return 0;
  /* The value is printed as Go's %#v of a []string. */
  char list[600] = "", q[160];
  size_t used = 0;
  for (size_t i = 0; v[i] && used < sizeof(list); i++) {
    api_param_quote(v[i], q, sizeof(q));
    int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", q);
    if (w < 0)
      break;
    used += (size_t)w;
  }
  char *m = xasprintf("Unsupported value: []string{%s}: supported values: \"All\"", list);
  memset(st, 0, sizeof(*st));
  api_status_add_cause(st, "FieldValueNotSupported", "dryRun", m);
  free(m);
  api_status_invalid(st, "meta.k8s.io", kind, "");
  return -EINVAL;
}

int api__params_check(const api_call_t *call, api_status_t *st) {
  static const char *const list_ints[] = {"timeoutSeconds", "limit", NULL};
  static const char *const delete_ints[] = {"gracePeriodSeconds", NULL};
  http_req_t *req = call->req;
  const char *verb = call->ri.verb;
  bool list = !strcmp(verb, "list") || !strcmp(verb, "watch");
  bool delcol = !strcmp(verb, "deletecollection");
  if (list || delcol) {
    if (check_ints(req, list_ints, st) < 0)
      return -EINVAL;
    if (check_list_options(req, !strcmp(verb, "watch"), st) < 0)
      return -EINVAL;
  }
  if (delcol || !strcmp(verb, "delete")) {
    if (check_ints(req, delete_ints, st) < 0 || check_dry_run(req, "DeleteOptions", st) < 0)
      return -EINVAL;
  }
  if (!strcmp(verb, "get")) {
    /* GetOptions.resourceVersion reaches the storage's ParseResourceVersion:
     * a plain error, answered 500 without a reason (list and watch parse
     * theirs where they use it). */
    char err[512];
    int64_t rv;
    if (api_param_rv(http_req_query(req, "resourceVersion"), &rv, err, sizeof(err)) < 0) {
      api_status_init(st, 500, "", "%s", err);
      return -EINVAL;
    }
  }
  if (!strcmp(verb, "create"))
    return check_dry_run(req, "CreateOptions", st);
  if (!strcmp(verb, "update"))
    return check_dry_run(req, "UpdateOptions", st);
  if (!strcmp(verb, "patch"))
    return check_dry_run(req, "PatchOptions", st);
  return 0;
}

int64_t api__param_int(http_req_t *req, const char *name, int64_t dflt) {
  const char *s = http_req_query(req, name);
  char err[8];
  int64_t v;
  return s && api_param_int64(s, &v, err, sizeof(err)) == 0 ? v : dflt;
}
