/* The Kubernetes authorizer library (CEL_LIB_AUTHZ;
 * k8s.io/apiserver/pkg/cel/library/authz.go): the `authorizer` variable of
 * ValidatingAdmissionPolicy and webhook matchConditions builds a check
 * step by step, each step a new immutable value, and check(verb) asks the
 * caller's callback once:
 *   authorizer.group('apps').resource('deployments').namespace('ns').name('x').check('delete').allowed()
 *   authorizer.path('/healthz').check('get').allowed()
 * Decision: allowed(), reason(), errored(), error(). Not offered:
 * serviceAccount() (the callback answers for the request's user only) and
 * field/label selectors of checks. */
#include "cel/lib.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One authorizer, or a check being built (strings owned). */
typedef struct {
  cel_authz_cb cb;
  void *ctx;
  char *path, *group, *resource, *subresource, *namespace_, *name;
} authz_t;

typedef struct {
  bool allowed, errored;
  char reason[256];
  char error[256];
} decision_t;

static void authz_free(void *p) {
  authz_t *a = p;
  free(a->path);
  free(a->group);
  free(a->resource);
  free(a->subresource);
  free(a->namespace_);
  free(a->name);
  free(a);
}

static const cel_opaque_type_t authorizer_t = {.name = "kubernetes.authorization.Authorizer", .free = authz_free};
static const cel_opaque_type_t path_check_t = {.name = "kubernetes.authorization.PathCheck", .free = authz_free};
static const cel_opaque_type_t group_check_t = {.name = "kubernetes.authorization.GroupCheck", .free = authz_free};
static const cel_opaque_type_t resource_check_t = {.name = "kubernetes.authorization.ResourceCheck",
                                                   .free = authz_free};
static const cel_opaque_type_t decision_t_type = {.name = "kubernetes.authorization.Decision", .free = free};

static char *dup_or_null(const char *s) {
  return s ? xstrdup(s) : NULL;
}

static authz_t *copy(const authz_t *a) {
  authz_t *c = xcalloc(1, sizeof(*c));
  c->cb = a->cb;
  c->ctx = a->ctx;
  c->path = dup_or_null(a->path);
  c->group = dup_or_null(a->group);
  c->resource = dup_or_null(a->resource);
  c->subresource = dup_or_null(a->subresource);
  c->namespace_ = dup_or_null(a->namespace_);
  c->name = dup_or_null(a->name);
  return c;
}

void cel_activation_set_authorizer(cel_activation_t *act, const char *name, cel_authz_cb cb, void *ctx) {
  authz_t *a = xcalloc(1, sizeof(*a));
  a->cb = cb;
  a->ctx = ctx;
  cel_value_t *v = cel_opaque(&authorizer_t, a);
  cel_activation_set_value(act, name, v);
  cel_value_unref(v);
}

/* receiver.step(string): a copy of the receiver with one field set, of type t */
static cel_value_t *step(cel_value_t **args, const cel_opaque_type_t *t, size_t off) {
  const authz_t *a = cel_value_opaque(args[0]);
  if (!a)
    return cel_errorf("no such overload");
  authz_t *c = copy(a);
  char **field = (char **)((char *)c + off);
  free(*field);
  *field = xstrdup(cel_value_str(args[1], NULL));
  return cel_opaque(t, c);
}

static cel_value_t *fn_path(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  return step(args, &path_check_t, offsetof(authz_t, path));
}
static cel_value_t *fn_group(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  return step(args, &group_check_t, offsetof(authz_t, group));
}
static cel_value_t *fn_resource(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  return step(args, &resource_check_t, offsetof(authz_t, resource));
}
static cel_value_t *fn_subresource(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  return step(args, &resource_check_t, offsetof(authz_t, subresource));
}
static cel_value_t *fn_namespace(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  return step(args, &resource_check_t, offsetof(authz_t, namespace_));
}
static cel_value_t *fn_name(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  return step(args, &resource_check_t, offsetof(authz_t, name));
}

static cel_value_t *fn_check(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n;
  const authz_t *a = cel_value_opaque(args[0]);
  if (!a)
    return cel_errorf("no such overload");
  cel_authz_query_t q = {.path = a->path,
                         .group = a->group ? a->group : "",
                         .resource = a->resource ? a->resource : "",
                         .subresource = a->subresource ? a->subresource : "",
                         .namespace_ = a->namespace_ ? a->namespace_ : "",
                         .name = a->name ? a->name : "",
                         .verb = cel_value_str(args[1], NULL)};
  decision_t *d = xcalloc(1, sizeof(*d));
  int e = a->cb ? a->cb(a->ctx, &q, &d->allowed, d->reason, sizeof(d->reason)) : -1;
  if (e < 0) {
    d->errored = true;
    d->allowed = false;
    snprintf(d->error, sizeof(d->error), "%s", d->reason[0] ? d->reason : "authorization check failed");
  }
  /* upstream charges an authorization check as a costly call */
  if (cost)
    *cost = 350000;
  return cel_opaque(&decision_t_type, d);
}

static cel_value_t *fn_allowed(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  const decision_t *d = cel_value_opaque(args[0]);
  return d ? cel_bool(d->allowed) : cel_errorf("no such overload");
}
static cel_value_t *fn_reason(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  const decision_t *d = cel_value_opaque(args[0]);
  return d ? cel_stringz(d->reason) : cel_errorf("no such overload");
}
static cel_value_t *fn_errored(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  const decision_t *d = cel_value_opaque(args[0]);
  return d ? cel_bool(d->errored) : cel_errorf("no such overload");
}
static cel_value_t *fn_error(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  const decision_t *d = cel_value_opaque(args[0]);
  return d ? cel_stringz(d->error) : cel_errorf("no such overload");
}

static const cel_overload_t overloads[] = {
    {"kubernetes.authorization.Authorizer.path(string) kubernetes.authorization.PathCheck", fn_path},
    {"kubernetes.authorization.Authorizer.group(string) kubernetes.authorization.GroupCheck", fn_group},
    {"kubernetes.authorization.GroupCheck.resource(string) kubernetes.authorization.ResourceCheck", fn_resource},
    {"kubernetes.authorization.ResourceCheck.subresource(string) kubernetes.authorization.ResourceCheck",
     fn_subresource},
    {"kubernetes.authorization.ResourceCheck.namespace(string) kubernetes.authorization.ResourceCheck",
     fn_namespace},
    {"kubernetes.authorization.ResourceCheck.name(string) kubernetes.authorization.ResourceCheck", fn_name},
    {"kubernetes.authorization.ResourceCheck.check(string) kubernetes.authorization.Decision", fn_check},
    {"kubernetes.authorization.PathCheck.check(string) kubernetes.authorization.Decision", fn_check},
    {"kubernetes.authorization.Decision.allowed() bool", fn_allowed},
    {"kubernetes.authorization.Decision.reason() string", fn_reason},
    {"kubernetes.authorization.Decision.errored() bool", fn_errored},
    {"kubernetes.authorization.Decision.error() string", fn_error},
};

const cel_library_t cel_lib_authz = {CEL_LIB_AUTHZ, overloads, CEL__N(overloads)};
