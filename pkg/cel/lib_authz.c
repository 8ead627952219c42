/* CEL_LIB_AUTHZ: the authorizer variable of ValidatingAdmissionPolicy and
 * matchConditions (k8s.io/apiserver/pkg/cel/library/authz.go):
 * authorizer.group(g).resource(r).subresource(s).namespace(ns).name(n)
 * .check(verb) and authorizer.path(p).check(verb) give a Decision with
 * allowed(), reason(), errored(), error(). The authorizer value is made by
 * cel_activation_set_authorizer (cel__authz_value); each check asks the
 * caller's callback once. */
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "cel/lib.h"
#include "util/alloc.h"

#define T_AUTHZ "kubernetes.authorization.Authorizer"
#define T_PATH "kubernetes.authorization.PathCheck"
#define T_GROUP "kubernetes.authorization.GroupCheck"
#define T_RES "kubernetes.authorization.ResourceCheck"
#define T_DEC "kubernetes.authorization.Decision"

enum { F_PATH, F_GROUP, F_RESOURCE, F_SUB, F_NS, F_NAME, F_N };

typedef struct {
  cel_authz_cb cb;
  void *ctx;
  char *f[F_N];
} check_t;

typedef struct {
  bool allowed, errored;
  char *reason, *error;
} decision_t;

static void check_free(void *p) {
  check_t *c = p;
  for (int i = 0; i < F_N; i++)
    free(c->f[i]);
  free(c);
}

static void decision_free(void *p) {
  decision_t *d = p;
  free(d->reason);
  free(d->error);
  free(d);
}

static const cel_opaque_type_t authz_type = {T_AUTHZ, check_free, NULL};
static const cel_opaque_type_t path_type = {T_PATH, check_free, NULL};
static const cel_opaque_type_t group_type = {T_GROUP, check_free, NULL};
static const cel_opaque_type_t res_type = {T_RES, check_free, NULL};
static const cel_opaque_type_t dec_type = {T_DEC, decision_free, NULL};

cel_value_t *cel__authz_value(cel_authz_cb cb, void *ctx) {
  check_t *c = xcalloc(1, sizeof(*c));
  c->cb = cb;
  c->ctx = ctx;
  return cel_opaque(&authz_type, c);
}

/* The receiver's data if it is a value of this library (the dispatcher
 * guarantees it; a direct caller may not). */
static void *recv(cel_value_t *v) {
  if (cel_value_kind(v) != CEL_OPAQUE)
    return NULL;
  const cel_opaque_type_t *t = cel_value_opaque_type(v);
  if (t != &authz_type && t != &path_type && t != &group_type && t != &res_type && t != &dec_type)
    return NULL;
  return cel_value_opaque(v);
}

static bool is_dec(cel_value_t *v) { return recv(v) && cel_value_opaque_type(v) == &dec_type; }

/* a copy of the receiver's check with field f set to args[1] */
static cel_value_t *with(cel_value_t **args, const cel_opaque_type_t *t, int f) {
  const check_t *in = recv(args[0]);
  if (!in || cel_value_opaque_type(args[0]) == &dec_type || cel_value_kind(args[1]) != CEL_STRING)
    return cel_errorf("no such overload");
  check_t *c = xcalloc(1, sizeof(*c));
  c->cb = in->cb;
  c->ctx = in->ctx;
  for (int i = 0; i < F_N; i++)
    c->f[i] = in->f[i] ? xstrdup(in->f[i]) : NULL;
  free(c->f[f]);
  c->f[f] = xstrdup(cel_value_str(args[1], NULL));
  return cel_opaque(t, c);
}

static cel_value_t *f_path(cel_value_t **a, size_t n, uint64_t *c) { return with(a, &path_type, F_PATH); }
static cel_value_t *f_group(cel_value_t **a, size_t n, uint64_t *c) { return with(a, &group_type, F_GROUP); }
static cel_value_t *f_resource(cel_value_t **a, size_t n, uint64_t *c) { return with(a, &res_type, F_RESOURCE); }
static cel_value_t *f_sub(cel_value_t **a, size_t n, uint64_t *c) { return with(a, &res_type, F_SUB); }
static cel_value_t *f_ns(cel_value_t **a, size_t n, uint64_t *c) { return with(a, &res_type, F_NS); }
static cel_value_t *f_name(cel_value_t **a, size_t n, uint64_t *c) { return with(a, &res_type, F_NAME); }

static cel_value_t *f_check(cel_value_t **a, size_t n, uint64_t *cost) {
  const check_t *c = recv(a[0]);
  if (!c || is_dec(a[0]) || cel_value_kind(a[1]) != CEL_STRING)
    return cel_errorf("no such overload");
  cel_authz_query_t q = {
    .path = c->f[F_PATH],
    .group = c->f[F_GROUP] ? c->f[F_GROUP] : "",
    .resource = c->f[F_RESOURCE] ? c->f[F_RESOURCE] : "",
    .subresource = c->f[F_SUB] ? c->f[F_SUB] : "",
    .namespace_ = c->f[F_NS] ? c->f[F_NS] : "",
    .name = c->f[F_NAME] ? c->f[F_NAME] : "",
    .verb = cel_value_str(a[1], NULL),
  };
  char reason[512] = "";
  bool allowed = false;
  decision_t *d = xcalloc(1, sizeof(*d));
  int r = c->cb ? c->cb(c->ctx, &q, &allowed, reason, sizeof(reason)) : -1;
  if (r < 0) {
    d->errored = true;
    d->error = xstrdup(reason[0] ? reason : "authorization check failed");
    d->reason = xstrdup("");
  } else {
    d->allowed = allowed;
    d->reason = xstrdup(reason);
  }
  *cost = 350000; /* upstream's authz check cost (library/cost.go) */
  return cel_opaque(&dec_type, d);
}

static cel_value_t *f_allowed(cel_value_t **a, size_t n, uint64_t *c) {
  if (!is_dec(a[0]))
    return cel_errorf("no such overload");
  return cel_bool(((decision_t *)cel_value_opaque(a[0]))->allowed);
}
static cel_value_t *f_reason(cel_value_t **a, size_t n, uint64_t *c) {
  if (!is_dec(a[0]))
    return cel_errorf("no such overload");
  return cel_stringz(((decision_t *)cel_value_opaque(a[0]))->reason);
}
static cel_value_t *f_errored(cel_value_t **a, size_t n, uint64_t *c) {
  if (!is_dec(a[0]))
    return cel_errorf("no such overload");
  return cel_bool(((decision_t *)cel_value_opaque(a[0]))->errored);
}
static cel_value_t *f_error(cel_value_t **a, size_t n, uint64_t *c) {
  if (!is_dec(a[0]))
    return cel_errorf("no such overload");
  const decision_t *d = cel_value_opaque(a[0]);
  return cel_stringz(d->error ? d->error : "");
}

static const cel_overload_t overloads[] = {
  {T_AUTHZ ".path(string) " T_PATH, f_path},
  {T_AUTHZ ".group(string) " T_GROUP, f_group},
  {T_GROUP ".resource(string) " T_RES, f_resource},
  {T_RES ".subresource(string) " T_RES, f_sub},
  {T_RES ".namespace(string) " T_RES, f_ns},
  {T_RES ".name(string) " T_RES, f_name},
  {T_RES ".check(string) " T_DEC, f_check},
  {T_PATH ".check(string) " T_DEC, f_check},
  {T_DEC ".allowed() bool", f_allowed},
  {T_DEC ".reason() string", f_reason},
  {T_DEC ".errored() bool", f_errored},
  {T_DEC ".error() string", f_error},
};

const cel_library_t cel_lib_authz = {CEL_LIB_AUTHZ, overloads, sizeof(overloads) / sizeof(overloads[0])};
