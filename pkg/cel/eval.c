/* The evaluator (cel.h cel_eval) and activations: a walk over the checked
 * AST following cel-spec's langdef.md. Errors are values (cel_errorf) that
 * the logical operators may absorb; every other call is strict. Overloads
 * are chosen at run time among the checker's candidates by the arguments'
 * kinds. Cost: one unit per evaluated node and comprehension step, plus
 * what overloads report; past the limit the evaluation stops. Recursion
 * follows the AST, whose height the parser bounds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "util/alloc.h"

/* ---- activations ---- */

typedef enum { BIND_JSON, BIND_VALUE, BIND_LAZY } bind_kind_t;

typedef struct {
  char *name;
  bind_kind_t kind;
  const cJSON *json;
  cel_value_t *value;
  const cel_program_t *lazy;
} binding_t;

struct cel_activation {
  binding_t *b;
  size_t n;
};

cel_activation_t *cel_activation_new(void) {
  return xcalloc(1, sizeof(cel_activation_t));
}

void cel_activation_free(cel_activation_t *a) {
  if (!a)
    return;
  for (size_t i = 0; i < a->n; i++) {
    free(a->b[i].name);
    cel_value_unref(a->b[i].value);
  }
  free(a->b);
  free(a);
}

static binding_t *bind(cel_activation_t *a, const char *name) {
  for (size_t i = 0; i < a->n; i++)
    if (!strcmp(a->b[i].name, name)) {
      cel_value_unref(a->b[i].value);
      a->b[i].value = NULL;
      return &a->b[i];
    }
  a->b = xrealloc(a->b, (a->n + 1) * sizeof(*a->b));
  binding_t *b = &a->b[a->n++];
  memset(b, 0, sizeof(*b));
  b->name = xstrdup(name);
  return b;
}

void cel_activation_set_json(cel_activation_t *a, const char *name, const cJSON *json) {
  binding_t *b = bind(a, name);
  b->kind = BIND_JSON;
  b->json = json;
}

void cel_activation_set_value(cel_activation_t *a, const char *name, cel_value_t *v) {
  binding_t *b = bind(a, name);
  b->kind = BIND_VALUE;
  b->value = cel_value_ref(v);
}

void cel_activation_set_lazy(cel_activation_t *a, const char *name, const cel_program_t *p) {
  binding_t *b = bind(a, name);
  b->kind = BIND_LAZY;
  b->lazy = p;
}

void cel_activation_set_authorizer(cel_activation_t *a, const char *name, cel_authz_cb cb, void *ctx) {
  cel_value_t *v = cel__authz_value(cb, ctx);
  cel_activation_set_value(a, name, v);
  cel_value_unref(v);
}

/* ---- evaluation state ---- */

typedef struct {
  const char *name;
  cel_value_t *value; /* borrowed */
} local_t;

typedef struct {
  const cel_activation_t *act;
  cel_value_t **cache; /* per binding: its value once read */
  bool *busy;          /* per binding: a lazy one being evaluated (a cycle) */
  uint64_t cost, limit;
  bool exhausted;
  int depth; /* of eval() calls: lazy variables nest programs */
  local_t *locals;
  size_t nlocals, caplocals;
} ev_t;

static cel_value_t *eval(ev_t *x, const cel_program_t *p, const cel_expr_t *e);

static bool charge(ev_t *x, uint64_t c) {
  x->cost += c;
  if (x->limit && x->cost > x->limit)
    x->exhausted = true;
  return !x->exhausted;
}

static cel_value_t *exhausted(void) {
  return cel_errorf("operation cancelled: actual cost limit exceeded");
}

static bool is_err(const cel_value_t *v) {
  return cel_value_kind(v) == CEL_ERROR;
}

/* ---- identifiers ---- */

static const char *const type_names[] = {
    "bool", "bytes", "double", "int", "list", "map", "null_type", "string", "type", "uint",
    "google.protobuf.Duration", "google.protobuf.Timestamp", "optional_type",
};

static cel_value_t *variable(ev_t *x, const cel_program_t *p, const char *name) {
  const cel_activation_t *a = x->act;
  for (size_t i = 0; a && i < a->n; i++) {
    const binding_t *b = &a->b[i];
    if (strcmp(b->name, name))
      continue;
    if (x->cache[i])
      return cel_value_ref(x->cache[i]);
    cel_value_t *v = NULL;
    if (b->kind == BIND_VALUE) {
      v = cel_value_ref(b->value);
    } else if (b->kind == BIND_JSON) {
      const cel__var_t *var = cel__env_var(p->env, name);
      v = b->json ? cel_value_from_json(b->json, var ? var->type : NULL) : cel_null();
    } else {
      if (x->busy[i])
        return cel_errorf("variable '%s' refers to itself", name);
      x->busy[i] = true;
      v = eval(x, b->lazy, b->lazy->root);
      x->busy[i] = false;
    }
    x->cache[i] = cel_value_ref(v);
    return v;
  }
  return NULL;
}

static cel_value_t *select_field(const cel_value_t *t, const char *field, bool test_only);

static const local_t *local(const ev_t *x, const char *name, size_t len) {
  for (size_t i = x->nlocals; i-- > 0;)
    if (strlen(x->locals[i].name) == len && !memcmp(x->locals[i].name, name, len))
      return &x->locals[i];
  return NULL;
}

/* A comprehension variable shadows a dotted variable name: in
 * [m].exists(y, y.z == 0) with y.z declared, y.z selects z of the local y
 * (cel-spec's namespace shadowing). NULL when name's first segment is not
 * a local. */
static cel_value_t *local_chain(const ev_t *x, const char *name) {
  const char *dot = strchr(name, '.');
  const local_t *l = dot ? local(x, name, (size_t)(dot - name)) : NULL;
  if (!l)
    return NULL;
  cel_value_t *v = cel_value_ref(l->value);
  while (dot) {
    const char *f = dot + 1;
    dot = strchr(f, '.');
    char *field = xstrndup(f, dot ? (size_t)(dot - f) : strlen(f));
    cel_value_t *n = select_field(v, field, false);
    free(field);
    cel_value_unref(v);
    v = n;
  }
  return v;
}

static cel_value_t *ident(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  const char *name = e->name[0] == '.' ? e->name + 1 : e->name;
  if (e->name[0] != '.') {
    const local_t *l = local(x, name, strlen(name));
    if (l)
      return cel_value_ref(l->value);
    cel_value_t *v = local_chain(x, name);
    if (v)
      return v;
  }
  cel_value_t *v = variable(x, p, name);
  if (v)
    return v;
  if (cel__env_var(p->env, name))
    return cel_errorf("no such attribute: %s", name);
  for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
    if (!strcmp(type_names[i], name))
      return cel_type_value(name);
  /* a library's type name (net.IP ...), as the checker resolved it */
  if (e->type && e->type->kind == CEL_T_TYPE)
    return cel_type_value(name);
  return cel_errorf("undeclared reference to '%s'", name);
}

/* ---- selection ---- */

static cel_value_t *select_field(const cel_value_t *t, const char *field, bool test_only) {
  switch (cel_value_kind(t)) {
  case CEL_MAP: {
    cel_value_t *v = cel_map_getz(t, field);
    if (test_only)
      return cel_bool(v != NULL);
    return v ? cel_value_ref(v) : cel_errorf("no such key: %s", field);
  }
  case CEL_ERROR:
    return cel_value_ref((cel_value_t *)t);
  default:
    return cel_errorf("type '%s' does not support field selection", cel_value_type_name(t));
  }
}

/* target.field on an optional target, and target.?field: an optional */
static cel_value_t *select_optional(const cel_value_t *t, const char *field) {
  if (cel_value_kind(t) == CEL_OPTIONAL) {
    const cel_value_t *in = cel_value_optional(t);
    if (!in)
      return cel_optional(NULL);
    t = in;
  }
  if (cel_value_kind(t) == CEL_ERROR)
    return cel_value_ref((cel_value_t *)t);
  if (cel_value_kind(t) != CEL_MAP)
    return cel_errorf("type '%s' does not support field selection", cel_value_type_name(t));
  cel_value_t *v = cel_map_getz(t, field);
  return cel_optional(v ? cel_value_ref(v) : NULL);
}

/* ---- qualified names (an unchecked AST: the checker rewrites them) ---- */

static bool bound(ev_t *x, const cel_program_t *p, const char *name) {
  for (size_t i = 0; i < x->nlocals; i++)
    if (!strcmp(x->locals[i].name, name))
      return true;
  for (size_t i = 0; x->act && i < x->act->n; i++)
    if (!strcmp(x->act->b[i].name, name))
      return true;
  return cel__env_var(p->env, name) != NULL;
}

/* The dotted name of an ident/select chain whose root is no variable
 * ("google.protobuf.Timestamp", "optional" of optional.of), or NULL.
 * Caller frees. Bounded by the AST's height. */
static char *unbound_qualified(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  if (e->kind == CEL_E_IDENT)
    return e->name[0] != '.' && bound(x, p, e->name) ? NULL : xstrdup(e->name[0] == '.' ? e->name + 1 : e->name);
  if (e->kind != CEL_E_SELECT || e->test_only)
    return NULL;
  char *t = unbound_qualified(x, p, e->target);
  if (!t)
    return NULL;
  char *r = xasprintf("%s.%s", t, e->name);
  free(t);
  return r;
}

/* ---- calls ---- */

static cel_value_t *logical(ev_t *x, const cel_program_t *p, const cel_expr_t *e, bool is_and) {
  /* cel-spec: commutative; false && error is false, true || error true */
  cel_value_t *l = eval(x, p, e->args[0]);
  if (cel_value_kind(l) == CEL_BOOL && cel_value_bool(l) != is_and)
    return l;
  cel_value_t *r = eval(x, p, e->args[1]);
  if (cel_value_kind(r) == CEL_BOOL && cel_value_bool(r) != is_and) {
    cel_value_unref(l);
    return r;
  }
  if (cel_value_kind(l) == CEL_BOOL && cel_value_kind(r) == CEL_BOOL) {
    cel_value_unref(r);
    return l;
  }
  cel_value_t *bad = is_err(l) ? l : is_err(r) ? r : NULL;
  cel_value_t *ret = bad ? cel_value_ref(bad) : cel_errorf("no such overload");
  cel_value_unref(l);
  cel_value_unref(r);
  return ret;
}

static cel_value_t *optional_index(const cel_value_t *c, const cel_value_t *k) {
  if (cel_value_kind(c) == CEL_OPTIONAL) {
    const cel_value_t *in = cel_value_optional(c);
    if (!in)
      return cel_optional(NULL);
    c = in;
  }
  if (cel_value_kind(c) == CEL_MAP) {
    cel_value_t *v = cel_map_get(c, k);
    return cel_optional(v ? cel_value_ref(v) : NULL);
  }
  if (cel_value_kind(c) == CEL_LIST) {
    int64_t i;
    if (cel_value_kind(k) == CEL_INT)
      i = cel_value_int(k);
    else if (cel_value_kind(k) == CEL_UINT && cel_value_uint(k) <= INT64_MAX)
      i = (int64_t)cel_value_uint(k);
    else if (cel_value_kind(k) == CEL_DOUBLE && cel_value_double(k) == (double)(int64_t)cel_value_double(k))
      i = (int64_t)cel_value_double(k);
    else
      return cel_errorf("unsupported index type '%s' in list", cel_value_type_name(k));
    if (i < 0 || (uint64_t)i >= cel_list_len(c))
      return cel_optional(NULL);
    return cel_optional(cel_value_ref(cel_list_at(c, (size_t)i)));
  }
  return cel_errorf("no such overload: _[?_]");
}

static bool overload_fits(const cel__overload_t *o, cel_value_t **args, size_t n, bool receiver) {
  if (o->receiver != receiver || o->nargs != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!cel__value_is(args[i], o->params[i]))
      return false;
  return true;
}

static cel_value_t *dispatch(ev_t *x, const cel_program_t *p, const cel_expr_t *e, const char *name,
                             cel_value_t **args, size_t n, bool receiver) {
  const cel__overload_t *o = NULL;
  for (size_t i = 0; i < e->ncands && !o; i++)
    if (overload_fits(e->cands[i], args, n, receiver))
      o = e->cands[i];
  for (size_t i = 0; !o && i < p->env->novl; i++)
    if (!strcmp(p->env->ovl[i].name, name) && overload_fits(&p->env->ovl[i], args, n, receiver))
      o = &p->env->ovl[i];
  if (!o || !o->fn) {
    char sig[400];
    size_t used = 0;
    sig[0] = 0;
    for (size_t i = 0; i < n && used < sizeof(sig) - 64; i++)
      used += (size_t)snprintf(sig + used, sizeof(sig) - used, "%s%s", i ? ", " : "",
                               cel_value_type_name(args[i]));
    return cel_errorf("no matching overload for '%s' applied to '(%s)'", name, sig);
  }
  uint64_t c = 0;
  cel_value_t *r = o->fn(args, n, &c);
  if (!charge(x, c)) {
    cel_value_unref(r);
    return exhausted();
  }
  return r ? r : cel_errorf("no such overload: %s", name);
}

static cel_value_t *call(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  const char *f = e->name;
  if (!e->target) {
    if (!strcmp(f, "_&&_") && e->nargs == 2)
      return logical(x, p, e, true);
    if (!strcmp(f, "_||_") && e->nargs == 2)
      return logical(x, p, e, false);
    if (!strcmp(f, "_?_:_") && e->nargs == 3) {
      cel_value_t *c = eval(x, p, e->args[0]);
      if (cel_value_kind(c) != CEL_BOOL) {
        if (is_err(c))
          return c;
        cel_value_unref(c);
        return cel_errorf("no such overload: _?_:_");
      }
      bool b = cel_value_bool(c);
      cel_value_unref(c);
      return eval(x, p, e->args[b ? 1 : 2]);
    }
    if (!strcmp(f, "_?._") && e->nargs == 2) {
      cel_value_t *t = eval(x, p, e->args[0]);
      cel_value_t *r = select_optional(t, cel_value_str(e->args[1]->value, NULL));
      cel_value_unref(t);
      return r;
    }
  }
  char *ns_name = NULL; /* a.b.f(x) where a.b.f is a function */
  if (e->target && !e->ncands) {
    char *q = unbound_qualified(x, p, e->target);
    if (q) {
      char *full = xasprintf("%s.%s", q, f);
      free(q);
      if (cel__env_has_function(p->env, full))
        ns_name = full;
      else
        free(full);
    }
  }
  const cel_expr_t *target = ns_name ? NULL : e->target;
  size_t n = e->nargs + (target ? 1 : 0);
  cel_value_t *stack[8];
  cel_value_t **args = n <= 8 ? stack : xcalloc(n, sizeof(*args));
  size_t k = 0;
  cel_value_t *err = NULL;
  if (target)
    args[k++] = eval(x, p, target);
  for (size_t i = 0; i < e->nargs; i++)
    args[k++] = eval(x, p, e->args[i]);
  for (size_t i = 0; i < n && !err; i++)
    if (is_err(args[i]))
      err = cel_value_ref(args[i]);
  cel_value_t *r;
  if (err)
    r = err;
  else if (ns_name)
    r = dispatch(x, p, e, ns_name, args, n, false);
  else if (!e->target && (!strcmp(f, "_==_") || !strcmp(f, "_!=_")) && n == 2)
    r = cel_bool(cel_value_equal(args[0], args[1]) == (f[1] == '='));
  else if (!e->target && !strcmp(f, "_[?_]") && n == 2)
    r = optional_index(args[0], args[1]);
  else
    r = dispatch(x, p, e, f, args, n, e->target != NULL);
  for (size_t i = 0; i < n; i++)
    cel_value_unref(args[i]);
  if (args != stack)
    free(args);
  free(ns_name);
  return r;
}

/* ---- literals ---- */

static cel_value_t *list_lit(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  cel_value_t *l = cel_list_new(e->nargs);
  for (size_t i = 0; i < e->nargs; i++) {
    cel_value_t *v = eval(x, p, e->args[i]);
    if (is_err(v)) {
      cel_value_unref(l);
      return v;
    }
    if (e->opt && e->opt[i]) {
      if (cel_value_kind(v) != CEL_OPTIONAL) {
        cel_value_unref(l);
        cel_value_unref(v);
        return cel_errorf("cannot initialize optional list element from non-optional value");
      }
      cel_value_t *in = cel_value_optional(v);
      if (in)
        cel_list_push(l, cel_value_ref(in));
      cel_value_unref(v);
      continue;
    }
    cel_list_push(l, v);
  }
  return l;
}

static cel_value_t *map_lit(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  cel_value_t *m = cel_map_new(e->nargs / 2);
  for (size_t i = 0; i + 1 < e->nargs; i += 2) {
    cel_value_t *k = eval(x, p, e->args[i]);
    if (is_err(k)) {
      cel_value_unref(m);
      return k;
    }
    cel_kind_t kk = cel_value_kind(k);
    if (kk != CEL_BOOL && kk != CEL_INT && kk != CEL_UINT && kk != CEL_STRING) {
      cel_value_unref(m);
      cel_value_t *r = cel_errorf("unsupported key type: %s", cel_value_type_name(k));
      cel_value_unref(k);
      return r;
    }
    cel_value_t *v = eval(x, p, e->args[i + 1]);
    if (is_err(v)) {
      cel_value_unref(m);
      cel_value_unref(k);
      return v;
    }
    if (e->opt && e->opt[i / 2]) {
      if (cel_value_kind(v) != CEL_OPTIONAL) {
        cel_value_unref(m);
        cel_value_unref(k);
        cel_value_unref(v);
        return cel_errorf("cannot initialize optional entry from non-optional value");
      }
      cel_value_t *in = cel_value_optional(v);
      cel_value_t *inr = in ? cel_value_ref(in) : NULL;
      cel_value_unref(v);
      if (!inr) {
        cel_value_unref(k);
        continue;
      }
      v = inr;
    }
    if (cel_map_get(m, k)) {
      cel_value_unref(m);
      cel_value_unref(k);
      cel_value_unref(v);
      return cel_errorf("Failed with repeated key");
    }
    cel_map_put(m, k, v);
  }
  return m;
}

/* ---- comprehensions ---- */

static void push_local(ev_t *x, const char *name, cel_value_t *v) {
  if (x->nlocals == x->caplocals) {
    x->caplocals = x->caplocals ? x->caplocals * 2 : 8;
    x->locals = xrealloc(x->locals, x->caplocals * sizeof(*x->locals));
  }
  x->locals[x->nlocals].name = name;
  x->locals[x->nlocals++].value = v;
}

/* 1 true, 0 false, -1 error (*err set, owned), -2 not a bool */
static int truth(cel_value_t *v, cel_value_t **err) {
  if (cel_value_kind(v) == CEL_BOOL) {
    int r = cel_value_bool(v);
    cel_value_unref(v);
    return r;
  }
  if (is_err(v)) {
    if (!*err)
      *err = v;
    else
      cel_value_unref(v);
    return -1;
  }
  cel_value_unref(v);
  if (!*err)
    *err = cel_errorf("no such overload");
  return -2;
}

static cel_value_t *comprehension(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  cel_value_t *range = eval(x, p, e->range);
  cel_kind_t rk = cel_value_kind(range);
  if (rk == CEL_ERROR)
    return range;
  if (rk != CEL_LIST && rk != CEL_MAP) {
    cel_value_t *r = cel_errorf("expression of type '%s' cannot be range of a comprehension (must be list, map, or dynamic)",
                                cel_value_type_name(range));
    cel_value_unref(range);
    return r;
  }
  size_t n = rk == CEL_LIST ? cel_list_len(range) : cel_map_len(range);
  cel_value_t *err = NULL, *out = NULL;
  bool any = false;
  int64_t count = 0;
  bool done = false;
  if (e->macro == CEL_M_MAP || e->macro == CEL_M_FILTER)
    out = cel_list_new(n);
  for (size_t i = 0; i < n && !done; i++) {
    if (!charge(x, 1)) {
      cel_value_unref(err);
      err = exhausted();
      break;
    }
    cel_value_t *item, *mv;
    if (rk == CEL_LIST)
      item = cel_list_at(range, i);
    else
      cel_map_entry(range, i, &item, &mv);
    push_local(x, e->iter_var, item);
    switch (e->macro) {
    case CEL_M_ALL: {
      int t = truth(eval(x, p, e->pred), &err);
      if (t == 0) {
        cel_value_unref(err);
        err = NULL;
        any = true; /* a false decides */
        done = true;
      }
      break;
    }
    case CEL_M_EXISTS: {
      int t = truth(eval(x, p, e->pred), &err);
      if (t == 1) {
        cel_value_unref(err);
        err = NULL;
        any = true;
        done = true;
      }
      break;
    }
    case CEL_M_EXISTS_ONE: {
      int t = truth(eval(x, p, e->pred), &err);
      if (t < 0)
        done = true;
      else
        count += t;
      break;
    }
    case CEL_M_MAP:
    case CEL_M_FILTER: {
      bool keep = true;
      if (e->filter) {
        int t = truth(eval(x, p, e->filter), &err);
        if (t < 0) {
          done = true;
          break;
        }
        keep = t == 1;
      }
      if (!keep)
        break;
      cel_value_t *v = e->macro == CEL_M_MAP ? eval(x, p, e->pred) : cel_value_ref(item);
      if (is_err(v)) {
        err = v;
        done = true;
        break;
      }
      cel_list_push(out, v);
      break;
    }
    }
    x->nlocals--;
    if (x->exhausted && !err) {
      err = exhausted();
      done = true;
    }
  }
  cel_value_unref(range);
  if (err) {
    cel_value_unref(out);
    return err;
  }
  switch (e->macro) {
  case CEL_M_ALL: return cel_bool(!any);
  case CEL_M_EXISTS: return cel_bool(any);
  case CEL_M_EXISTS_ONE: return cel_bool(count == 1);
  default: return out;
  }
}

/* ---- the walk ---- */

/* An unchecked program's a.b.c (the checker resolves these in checked
 * ones): the longest dotted prefix that names a variable, as cel-spec's
 * name resolution says, the rest selected from it. NULL when the chain is
 * not of identifiers, its root is a local, or no prefix longer than the
 * root names a variable (plain evaluation then handles it). */
/* noinline: its buffers stay off the recursive eval frames */
__attribute__((noinline)) static cel_value_t *qualified(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  const cel_expr_t *segs[CEL__MAX_DEPTH + 1];
  size_t n = 0;
  const cel_expr_t *c = e;
  for (; c->kind == CEL_E_SELECT && !c->test_only && n < CEL__MAX_DEPTH; c = c->target)
    segs[n++] = c;
  if (c->kind != CEL_E_IDENT || c->name[0] == '.' || local(x, c->name, strlen(c->name)))
    return NULL;
  /* segs[n-1] is the first select after the root identifier */
  char name[1024];
  size_t len = (size_t)snprintf(name, sizeof(name), "%s", c->name);
  size_t ends[CEL__MAX_DEPTH + 1];
  for (size_t i = n; i-- > 0;) {
    len += (size_t)snprintf(name + len, len < sizeof(name) ? sizeof(name) - len : 0, ".%s", segs[i]->name);
    if (len >= sizeof(name))
      return NULL;
    ends[i] = len;
  }
  for (size_t i = 0; i < n; i++) { /* longest first: segs[0] ends the whole name */
    name[ends[i]] = 0;
    cel_value_t *v = variable(x, p, name);
    if (!v && cel__env_var(p->env, name))
      v = cel_errorf("no such attribute: %s", name);
    if (v) {
      for (size_t j = i; j-- > 0;) {
        cel_value_t *r = select_field(v, segs[j]->name, false);
        cel_value_unref(v);
        v = r;
      }
      return v;
    }
    if (i + 1 < n)
      name[ends[i]] = '.';
  }
  return NULL;
}

/* Each program's AST is at most CEL__MAX_DEPTH high; lazy variables
 * evaluate one program inside another, so the walk's depth is bounded
 * here too (never a stack overflow, whatever the variables). */
#define MAX_EVAL_DEPTH (4 * CEL__MAX_DEPTH)

static cel_value_t *eval_node(ev_t *x, const cel_program_t *p, const cel_expr_t *e);

static cel_value_t *eval(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  if (x->exhausted || !charge(x, 1))
    return exhausted();
  if (x->depth >= MAX_EVAL_DEPTH)
    return cel_errorf("max recursion depth exceeded");
  x->depth++;
  cel_value_t *v = eval_node(x, p, e);
  x->depth--;
  return v;
}

static cel_value_t *eval_node(ev_t *x, const cel_program_t *p, const cel_expr_t *e) {
  switch (e->kind) {
  case CEL_E_CONST:
    return cel_value_ref(e->value);
  case CEL_E_IDENT:
    return ident(x, p, e);
  case CEL_E_SELECT: {
    if (!e->test_only && !e->type) {
      cel_value_t *q = qualified(x, p, e);
      if (q)
        return q;
    }
    if (!e->test_only && (!strcmp(e->name, "Timestamp") || !strcmp(e->name, "Duration"))) {
      char *q = unbound_qualified(x, p, e);
      bool is_type = q && (!strcmp(q, "google.protobuf.Timestamp") || !strcmp(q, "google.protobuf.Duration"));
      cel_value_t *tv = is_type ? cel_type_value(q) : NULL;
      free(q);
      if (tv)
        return tv;
    }
    cel_value_t *t = eval(x, p, e->target);
    cel_value_t *r;
    if (cel_value_kind(t) == CEL_OPTIONAL && !e->test_only) {
      r = select_optional(t, e->name);
    } else if (cel_value_kind(t) == CEL_OPTIONAL) {
      /* has(o.f) on an optional: false for none, else f's presence */
      const cel_value_t *in = cel_value_optional(t);
      r = in ? select_field(in, e->name, true) : cel_bool(false);
    } else {
      r = select_field(t, e->name, e->test_only);
    }
    cel_value_unref(t);
    return r;
  }
  case CEL_E_CALL:
    return call(x, p, e);
  case CEL_E_LIST:
    return list_lit(x, p, e);
  case CEL_E_MAP:
    return map_lit(x, p, e);
  case CEL_E_COMPREHENSION:
    return comprehension(x, p, e);
  case CEL_E_STRUCT:
  default:
    return cel_errorf("message construction is not supported");
  }
}

int cel_eval(const cel_program_t *p, const cel_activation_t *a, uint64_t cost_limit, uint64_t *cost_used,
             cel_value_t **ret_value, cel_error_t *err) {
  size_t nb = a ? a->n : 0;
  ev_t x = {.act = a, .limit = cost_limit};
  x.cache = xcalloc(nb + 1, sizeof(*x.cache));
  x.busy = xcalloc(nb + 1, sizeof(*x.busy));
  cel_value_t *v = eval(&x, p, p->root);
  for (size_t i = 0; i < nb; i++)
    cel_value_unref(x.cache[i]);
  free(x.cache);
  free(x.busy);
  free(x.locals);
  if (cost_used)
    *cost_used = x.cost;
  if (x.exhausted) {
    cel_value_unref(v);
    snprintf(err->message, sizeof(err->message), "operation cancelled: actual cost limit exceeded");
    return -E2BIG;
  }
  if (is_err(v)) {
    snprintf(err->message, sizeof(err->message), "%s", cel_value_error(v));
    cel_value_unref(v);
    return -EINVAL;
  }
  *ret_value = v;
  return 0;
}
