/* CEL type checker: gives every node of a parsed expression its type,
 * resolves identifiers (environment variables, comprehension variables,
 * type names) and calls (the overloads that may apply), with cel-go's
 * unification of type parameters and its error messages; then applies the
 * AST validators Kubernetes' base environment adds (homogeneous aggregate
 * literals). https://github.com/google/cel-spec/blob/master/doc/langdef.md
 * (Type Checking); behaviour and messages follow cel-go's checker. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "util/alloc.h"

#define MAX_TYPE_DEPTH 64

/* ---- type parameter substitutions (cel-go's mapping) ----
 * The checker's own type variables (_var0, _var1 ...) are indexed by
 * number; other names (a signature's A, B) are few. A trial (one overload
 * tried against the arguments) logs what it changes and is undone if it
 * fails, so trying stays proportional to what it binds (cel-go copies the
 * whole mapping). */

typedef struct {
  char *name;
  cel_type_t *t;
} sub_t;

typedef struct {
  bool is_var, appended;
  size_t idx;
  cel_type_t *old;
} undo_t;

typedef struct {
  cel_type_t **var; /* _varN: var[N], NULL if unbound */
  size_t nvar;
  sub_t *v; /* other names */
  size_t n;
  undo_t *u;
  size_t nu;
  bool trial;
} subst_t;

static bool var_index(const char *name, size_t *ret) {
  if (strncmp(name, "_var", 4) || !name[4])
    return false;
  size_t n = 0;
  for (const char *p = name + 4; *p; p++) {
    if (*p < '0' || *p > '9' || n > (SIZE_MAX - 9) / 10)
      return false;
    n = n * 10 + (size_t)(*p - '0');
  }
  *ret = n;
  return true;
}

static cel_type_t *sub_find(const subst_t *m, const cel_type_t *p) {
  size_t k;
  if (var_index(p->name, &k))
    return k < m->nvar ? m->var[k] : NULL;
  for (size_t i = 0; i < m->n; i++)
    if (!strcmp(m->v[i].name, p->name))
      return m->v[i].t;
  return NULL;
}

static void sub_log(subst_t *m, bool is_var, bool appended, size_t idx, cel_type_t *old) {
  if (!m->trial) {
    cel_type_free(old);
    return;
  }
  m->u = xgrow(m->u, m->nu, sizeof(*m->u));
  m->u[m->nu++] = (undo_t){is_var, appended, idx, old};
}

static void sub_add(subst_t *m, const cel_type_t *p, cel_type_t *t) {
  size_t k;
  cel__type_ref(t);
  if (var_index(p->name, &k)) {
    if (k >= m->nvar) {
      size_t n = k + 16;
      m->var = xrealloc(m->var, n * sizeof(*m->var));
      memset(m->var + m->nvar, 0, (n - m->nvar) * sizeof(*m->var));
      m->nvar = n;
    }
    cel_type_t *old = m->var[k];
    m->var[k] = t;
    sub_log(m, true, false, k, old);
    return;
  }
  for (size_t i = 0; i < m->n; i++)
    if (!strcmp(m->v[i].name, p->name)) {
      cel_type_t *old = m->v[i].t;
      m->v[i].t = t;
      sub_log(m, false, false, i, old);
      return;
    }
  m->v = xgrow(m->v, m->n, sizeof(*m->v));
  m->v[m->n].name = xstrdup(p->name);
  m->v[m->n++].t = t;
  sub_log(m, false, true, m->n - 1, NULL);
}

static void trial_begin(subst_t *m) {
  m->trial = true;
  m->nu = 0;
}

static void trial_end(subst_t *m, bool keep) {
  if (keep)
    for (size_t i = 0; i < m->nu; i++)
      cel_type_free(m->u[i].old);
  else
    for (size_t i = m->nu; i-- > 0;) {
      undo_t *u = &m->u[i];
      if (u->is_var) {
        cel_type_free(m->var[u->idx]);
        m->var[u->idx] = u->old;
      } else if (u->appended) {
        m->n--;
        free(m->v[m->n].name);
        cel_type_free(m->v[m->n].t);
      } else {
        cel_type_free(m->v[u->idx].t);
        m->v[u->idx].t = u->old;
      }
    }
  m->nu = 0;
  m->trial = false;
}

static void sub_done(subst_t *m) {
  for (size_t i = 0; i < m->nvar; i++)
    cel_type_free(m->var[i]);
  free(m->var);
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].name);
    cel_type_free(m->v[i].t);
  }
  free(m->v);
  free(m->u);
  memset(m, 0, sizeof(*m));
}

/* ---- type predicates ---- */

static bool is_dyn(const cel_type_t *t) { return !t || t->kind == CEL_T_DYN; }
static bool is_err(const cel_type_t *t) { return t && t->kind == CEL_T_ERROR; }
static bool is_dyn_or_err(const cel_type_t *t) { return is_dyn(t) || is_err(t); }
static cel_type_t *mk(cel_tkind_t k) { return cel__type_new(k); }

static bool type_exact(const cel_type_t *a, const cel_type_t *b, int depth);

static bool obj_same(const cel_type_t *a, const cel_type_t *b, int depth) {
  if (a->name && b->name)
    return !strcmp(a->name, b->name);
  if (a->nfields != b->nfields || depth > MAX_TYPE_DEPTH)
    return false;
  for (size_t i = 0; i < a->nfields; i++)
    if (strcmp(a->field_names[i], b->field_names[i]) || !type_exact(a->field_types[i], b->field_types[i], depth + 1))
      return false;
  return (!a->additional && !b->additional) ||
         (a->additional && b->additional && type_exact(a->additional, b->additional, depth + 1));
}

/* cel-go's IsExactType: the same type, dyn only equal to dyn */
static bool type_exact(const cel_type_t *a, const cel_type_t *b, int depth) {
  if (a == b)
    return true;
  if (!a || !b)
    return is_dyn(a) && is_dyn(b);
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case CEL_T_PARAM:
  case CEL_T_OPAQUE: return !strcmp(a->name, b->name);
  case CEL_T_LIST:
  case CEL_T_OPTIONAL: return type_exact(a->elem, b->elem, depth + 1);
  case CEL_T_TYPE: return (!a->elem && !b->elem) || (a->elem && b->elem && type_exact(a->elem, b->elem, depth + 1));
  case CEL_T_MAP: return type_exact(a->key, b->key, depth + 1) && type_exact(a->elem, b->elem, depth + 1);
  case CEL_T_OBJECT: return obj_same(a, b, depth);
  default: return true;
  }
}

/* cel-go's isEqualOrLessSpecific */
static bool less_specific(const cel_type_t *t1, const cel_type_t *t2) {
  if (is_dyn(t1) || t1->kind == CEL_T_PARAM)
    return true;
  if (is_dyn(t2) || t2->kind == CEL_T_PARAM)
    return false;
  if (t1->kind != t2->kind)
    return false;
  switch (t1->kind) {
  case CEL_T_OPAQUE: return !strcmp(t1->name, t2->name);
  case CEL_T_OPTIONAL:
  case CEL_T_LIST: return less_specific(t1->elem, t2->elem);
  case CEL_T_MAP: return less_specific(t1->key, t2->key) && less_specific(t1->elem, t2->elem);
  case CEL_T_TYPE: return true;
  default: return type_exact(t1, t2, 0);
  }
}

static const cel_type_t *most_general(const cel_type_t *t1, const cel_type_t *t2) {
  return less_specific(t1, t2) ? t1 : t2;
}

/* Whether type parameter p does not occur in within (after m). */
static bool not_referenced_in(const subst_t *m, const cel_type_t *p, const cel_type_t *within, int depth) {
  if (!within || depth > MAX_TYPE_DEPTH)
    return true;
  if (type_exact(p, within, 0))
    return false;
  switch (within->kind) {
  case CEL_T_PARAM: {
    cel_type_t *s = sub_find(m, within);
    return !s || not_referenced_in(m, p, s, depth + 1);
  }
  case CEL_T_LIST:
  case CEL_T_OPTIONAL:
  case CEL_T_TYPE: return not_referenced_in(m, p, within->elem, depth + 1);
  case CEL_T_MAP: return not_referenced_in(m, p, within->key, depth + 1) && not_referenced_in(m, p, within->elem, depth + 1);
  default: return true;
  }
}

static bool assignable_in(subst_t *m, const cel_type_t *t1, const cel_type_t *t2, int depth);

/* cel-go's isValidTypeSubstitution: t2 a type parameter */
static bool valid_sub(subst_t *m, const cel_type_t *t1, const cel_type_t *t2, bool *ret_has_sub, int depth) {
  if (t1 && t1->kind == t2->kind && type_exact(t1, t2, 0)) {
    *ret_has_sub = true;
    return true;
  }
  cel_type_t *s = sub_find(m, t2);
  if (s) {
    *ret_has_sub = true;
    if (t1 && t1->kind == s->kind && type_exact(t1, s, 0))
      return true;
    if (assignable_in(m, t1, s, depth + 1)) {
      cel_type_t *gen = cel__type_ref((cel_type_t *)most_general(t1, s));
      if (gen && not_referenced_in(m, t2, gen, 0))
        sub_add(m, t2, gen);
      cel_type_free(gen);
      return true;
    }
    return false;
  }
  *ret_has_sub = false;
  if (t1 && not_referenced_in(m, t2, t1, 0)) {
    sub_add(m, t2, (cel_type_t *)t1);
    return true;
  }
  return false;
}

static bool nullable(const cel_type_t *t) {
  switch (t->kind) {
  case CEL_T_OPAQUE:
  case CEL_T_OPTIONAL:
  case CEL_T_OBJECT:
  case CEL_T_TIMESTAMP:
  case CEL_T_DURATION:
  case CEL_T_NULL: return true;
  default: return false;
  }
}

/* cel-go's internalIsAssignable: whether a value of type t1 may stand
 * where t2 is expected (or the other way round: CEL's is symmetric but for
 * type parameters), binding type parameters in m. */
static bool assignable_in(subst_t *m, const cel_type_t *t1, const cel_type_t *t2, int depth) {
  if (depth > MAX_TYPE_DEPTH)
    return false;
  if (t2 && t2->kind == CEL_T_PARAM) {
    bool has_sub;
    if (valid_sub(m, t1, t2, &has_sub, depth))
      return true;
    if (has_sub)
      return false;
  }
  if (t1 && t1->kind == CEL_T_PARAM) {
    bool has_sub;
    return t2 ? valid_sub(m, t2, t1, &has_sub, depth) : true;
  }
  if (is_dyn_or_err(t1) || is_dyn_or_err(t2))
    return true;
  if (t1->kind == CEL_T_NULL)
    return nullable(t2);
  if (t2->kind == CEL_T_NULL)
    return nullable(t1);
  switch (t1->kind) {
  case CEL_T_TYPE: return t2->kind == CEL_T_TYPE;
  case CEL_T_OPAQUE: return t2->kind == CEL_T_OPAQUE && !strcmp(t1->name, t2->name);
  case CEL_T_LIST:
  case CEL_T_OPTIONAL: return t1->kind == t2->kind && assignable_in(m, t1->elem, t2->elem, depth + 1);
  case CEL_T_MAP:
    return t2->kind == CEL_T_MAP && assignable_in(m, t1->key, t2->key, depth + 1) &&
           assignable_in(m, t1->elem, t2->elem, depth + 1);
  case CEL_T_OBJECT: return t2->kind == CEL_T_OBJECT && obj_same(t1, t2, 0);
  case CEL_T_PARAM:
  case CEL_T_ERROR:
  case CEL_T_DYN: return true;
  default: return t1->kind == t2->kind;
  }
}

/* Substitutes bound type parameters (unbound ones become dyn if to_dyn).
 * Returns a new reference; a type without parameters is returned itself
 * (so schema sizes and fields stay with it). */
static cel_type_t *subst(const subst_t *m, cel_type_t *t, bool to_dyn, int depth) {
  if (!t)
    return NULL;
  if (depth > MAX_TYPE_DEPTH)
    return mk(CEL_T_DYN);
  switch (t->kind) {
  case CEL_T_PARAM: {
    cel_type_t *s = sub_find(m, t);
    if (s)
      return subst(m, s, to_dyn, depth + 1);
    return to_dyn ? mk(CEL_T_DYN) : cel__type_ref(t);
  }
  case CEL_T_LIST:
  case CEL_T_OPTIONAL:
  case CEL_T_TYPE: {
    if (!t->elem)
      return cel__type_ref(t);
    cel_type_t *e = subst(m, t->elem, to_dyn, depth + 1);
    if (e == t->elem) {
      cel_type_free(e);
      return cel__type_ref(t);
    }
    cel_type_t *r = cel__type_wrap(t->kind, e);
    r->max_size = t->max_size;
    r->min_size = t->min_size;
    r->flags = t->flags;
    return r;
  }
  case CEL_T_MAP: {
    cel_type_t *k = subst(m, t->key, to_dyn, depth + 1), *v = subst(m, t->elem, to_dyn, depth + 1);
    if (k == t->key && v == t->elem) {
      cel_type_free(k);
      cel_type_free(v);
      return cel__type_ref(t);
    }
    cel_type_t *r = cel__type_map(k, v);
    r->max_size = t->max_size;
    r->min_size = t->min_size;
    r->flags = t->flags;
    return r;
  }
  default: return cel__type_ref(t);
  }
}

/* ---- printing, as cel-go's FormatCELType ---- */

typedef struct {
  char *p;
  size_t len, used;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s) {
  size_t n = strlen(s);
  if (b->used + 1 < b->len) {
    size_t c = n < b->len - b->used - 1 ? n : b->len - b->used - 1;
    memcpy(b->p + b->used, s, c);
    b->used += c;
    b->p[b->used] = 0;
  }
}

static void fmt_type(sbuf_t *b, const cel_type_t *t, int depth) {
  if (depth > MAX_TYPE_DEPTH) {
    sb_put(b, "...");
    return;
  }
  if (!t) {
    sb_put(b, "dyn");
    return;
  }
  switch (t->kind) {
  case CEL_T_DYN: sb_put(b, "dyn"); return;
  case CEL_T_NULL: sb_put(b, "null"); return;
  case CEL_T_BOOL: sb_put(b, "bool"); return;
  case CEL_T_INT: sb_put(b, "int"); return;
  case CEL_T_UINT: sb_put(b, "uint"); return;
  case CEL_T_DOUBLE: sb_put(b, "double"); return;
  case CEL_T_STRING: sb_put(b, "string"); return;
  case CEL_T_BYTES: sb_put(b, "bytes"); return;
  case CEL_T_TIMESTAMP: sb_put(b, "timestamp"); return;
  case CEL_T_DURATION: sb_put(b, "duration"); return;
  case CEL_T_ERROR: sb_put(b, "!error!"); return;
  case CEL_T_OBJECT: sb_put(b, t->name ? t->name : "object"); return;
  case CEL_T_OPAQUE:
  case CEL_T_PARAM: sb_put(b, t->name); return;
  case CEL_T_TYPE:
    sb_put(b, "type");
    if (!t->elem)
      return;
    sb_put(b, "(");
    break;
  case CEL_T_LIST: sb_put(b, "list("); break;
  case CEL_T_OPTIONAL: sb_put(b, "optional_type("); break;
  case CEL_T_MAP:
    sb_put(b, "map(");
    fmt_type(b, t->key, depth + 1);
    sb_put(b, ", ");
    break;
  }
  fmt_type(b, t->elem, depth + 1);
  sb_put(b, ")");
}

void cel__type_check_str(const cel_type_t *t, char *out, size_t len) {
  sbuf_t b = {out, len, 0};
  if (len)
    out[0] = 0;
  fmt_type(&b, t, 0);
}

bool cel__result_matches(const cel_type_t *t, cel_result_t result) {
  switch (result) {
  case CEL_RESULT_BOOL: return t && t->kind == CEL_T_BOOL;
  case CEL_RESULT_STRING: return t && t->kind == CEL_T_STRING;
  default: return true;
  }
}

/* ---- the checker ---- */

typedef struct {
  const char *name;
  cel_type_t *type;
} local_t;

typedef struct {
  uint32_t pos;
  size_t seq;
  char *msg;
} cerr_t;

/* cel-go keeps the first 100 errors and counts the rest */
#define MAX_ERRORS 100

/* operators whose semantics the evaluator owns (value.h): typed here only */
static const char *const builtin_sigs[] = {
  "_==_(A, A) bool",
  "_!=_(A, A) bool",
  "_?_:_(bool, A, A) A",
  /* optional values (CEL_LIB_OPTIONALS) */
  "_[?_](list(V), int) optional(V)",
  "_[?_](optional(list(V)), int) optional(V)",
  "_[?_](map(K, V), K) optional(V)",
  "_[?_](optional(map(K, V)), K) optional(V)",
  "_[_](optional(list(V)), int) optional(V)",
  "_[_](optional(map(K, V)), K) optional(V)",
};
#define NBUILTIN (sizeof(builtin_sigs) / sizeof(builtin_sigs[0]))
#define FIRST_OPTIONAL_BUILTIN 3

typedef struct {
  const cel_env_t *env;
  const char *src;
  size_t len;
  subst_t m;
  unsigned nextvar;
  local_t *locals;
  size_t nlocals;
  cerr_t *errs;
  size_t nerrs, nerrs_total;
  cel__overload_t builtin[NBUILTIN];
  bool builtin_parsed;
} chk_t;

static void report(chk_t *c, uint32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(chk_t *c, uint32_t pos, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->nerrs_total++ >= MAX_ERRORS)
    return;
  c->errs = xgrow(c->errs, c->nerrs, sizeof(*c->errs));
  c->errs[c->nerrs] = (cerr_t){pos, c->nerrs, xstrdup(msg)};
  c->nerrs++;
}


/* ---- upstream's positions ----
 * cel-go places a call (and a macro's comprehension) at its '(' and a
 * has() test at has's '('; the parser may place them at the name or the
 * '.', so the position is taken from the source. */

static bool name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

static bool space_char(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f'; }

static uint32_t open_paren(const chk_t *c, uint32_t pos) {
  size_t i = pos;
  if (i >= c->len)
    return pos;
  if (c->src[i] == '(')
    return pos;
  if (c->src[i] == '.')
    i++;
  while (i < c->len && space_char(c->src[i]))
    i++;
  size_t start = i;
  while (i < c->len && name_char(c->src[i]))
    i++;
  if (i == start)
    return pos;
  while (i < c->len && space_char(c->src[i]))
    i++;
  return i < c->len && c->src[i] == '(' ? (uint32_t)i : pos;
}

static uint32_t min_pos(const cel_expr_t *e, int depth) {
  uint32_t m = e->pos;
  if (depth > CEL__MAX_DEPTH)
    return m;
  const cel_expr_t *kids[] = {e->target, e->range, e->pred, e->filter};
  for (size_t i = 0; i < 4; i++)
    if (kids[i]) {
      uint32_t k = min_pos(kids[i], depth + 1);
      if (k < m)
        m = k;
    }
  for (size_t i = 0; i < e->nargs; i++) {
    uint32_t k = min_pos(e->args[i], depth + 1);
    if (k < m)
      m = k;
  }
  return m;
}

/* where upstream reports about e */
static uint32_t where(const chk_t *c, const cel_expr_t *e) {
  if (e->kind == CEL_E_COMPREHENSION || (e->kind == CEL_E_CALL && e->name && (e->name[0] == '.' || name_char(e->name[0])) &&
                                         e->name[0] != '_'))
    return open_paren(c, e->pos);
  if (e->kind == CEL_E_SELECT && e->test_only && e->target) {
    size_t i = min_pos(e->target, 0);
    while (i > 0 && space_char(c->src[i - 1]))
      i--;
    if (i > 0 && i <= c->len && c->src[i - 1] == '(')
      return (uint32_t)(i - 1);
  }
  return e->pos;
}

static void tstr(const cel_type_t *t, char *out, size_t len) { cel__type_check_str(t, out, len); }

static void set_type(cel_expr_t *e, cel_type_t *t) {
  cel_type_free(e->type);
  e->type = t;
}

static cel_type_t *new_var(chk_t *c) {
  char name[24];
  int n = snprintf(name, sizeof(name), "_var%u", c->nextvar++);
  return cel__type_named(CEL_T_PARAM, name, (size_t)n);
}

static bool assignable(chk_t *c, const cel_type_t *t1, const cel_type_t *t2) {
  trial_begin(&c->m);
  bool ok = assignable_in(&c->m, t1, t2, 0);
  trial_end(&c->m, ok);
  return ok;
}

static void check(chk_t *c, cel_expr_t *e);

/* the type names every environment knows (cel-go's standard type idents) */
static cel_type_t *type_ident(const chk_t *c, const char *name) {
  static const struct {
    const char *name;
    cel_tkind_t kind;
  } names[] = {
    {"bool", CEL_T_BOOL},     {"bytes", CEL_T_BYTES},   {"double", CEL_T_DOUBLE},
    {"int", CEL_T_INT},       {"list", CEL_T_LIST},     {"map", CEL_T_MAP},
    {"null_type", CEL_T_NULL}, {"string", CEL_T_STRING}, {"type", CEL_T_TYPE},
    {"uint", CEL_T_UINT},     {"google.protobuf.Duration", CEL_T_DURATION},
    {"google.protobuf.Timestamp", CEL_T_TIMESTAMP},
  };
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(names[i].name, name))
      continue;
    cel_type_t *t;
    if (names[i].kind == CEL_T_LIST)
      t = cel__type_list(mk(CEL_T_DYN));
    else if (names[i].kind == CEL_T_MAP)
      t = cel__type_map(mk(CEL_T_DYN), mk(CEL_T_DYN));
    else
      t = mk(names[i].kind);
    return cel__type_wrap(CEL_T_TYPE, t);
  }
  if (!strcmp(name, "optional_type") && (c->env->libs & CEL_LIB_OPTIONALS))
    return cel__type_wrap(CEL_T_TYPE, cel__type_wrap(CEL_T_OPTIONAL, mk(CEL_T_DYN)));
  /* a library's type (net.IP, kubernetes.URL ...): named by some overload */
  for (size_t i = 0; i < c->env->novl; i++) {
    const cel__overload_t *o = &c->env->ovl[i];
    for (size_t j = 0; j <= o->nargs; j++) {
      const cel_type_t *p = j < o->nargs ? o->params[j] : o->result;
      if (p && p->kind == CEL_T_OPAQUE && !strcmp(p->name, name))
        return cel__type_wrap(CEL_T_TYPE, cel__type_ref((cel_type_t *)p));
    }
  }
  return NULL;
}

static const local_t *find_local(const chk_t *c, const char *name) {
  for (size_t i = c->nlocals; i-- > 0;)
    if (!strcmp(c->locals[i].name, name))
      return &c->locals[i];
  return NULL;
}

static void push_local(chk_t *c, const char *name, cel_type_t *t) {
  c->locals = xrealloc(c->locals, (c->nlocals + 1) * sizeof(*c->locals));
  c->locals[c->nlocals].name = name;
  c->locals[c->nlocals++].type = t;
}

static void pop_local(chk_t *c) { cel_type_free(c->locals[--c->nlocals].type); }

/* Resolves name as a variable or type name; NULL if undeclared. */
static cel_type_t *resolve_ident(chk_t *c, const char *name, int *ret_index) {
  *ret_index = -1;
  bool root = name[0] == '.';
  if (root)
    name++;
  else {
    const local_t *l = find_local(c, name);
    if (l)
      return cel__type_ref(l->type);
  }
  const cel__var_t *v = cel__env_var(c->env, name);
  if (v) {
    *ret_index = (int)(v - c->env->vars);
    return cel__type_ref(v->type);
  }
  return type_ident(c, name);
}

static void check_ident(chk_t *c, cel_expr_t *e) {
  int index;
  cel_type_t *t = resolve_ident(c, e->name, &index);
  if (!t) {
    report(c, e->pos, "undeclared reference to '%s' (in container '')", e->name);
    t = mk(CEL_T_ERROR);
  }
  e->var_index = index;
  set_type(e, t);
}

/* The dotted name of an ident/select chain, or NULL. */
static char *qualified(const cel_expr_t *e, int depth) {
  if (depth > CEL__MAX_DEPTH)
    return NULL;
  if (e->kind == CEL_E_IDENT)
    return xstrdup(e->name);
  if (e->kind != CEL_E_SELECT || e->test_only)
    return NULL;
  char *t = qualified(e->target, depth + 1);
  if (!t)
    return NULL;
  char *r = xasprintf("%s.%s", t, e->name);
  free(t);
  return r;
}

/* The type of operand.field (optional: ?. selection). */
static cel_type_t *select_field(chk_t *c, cel_expr_t *e, cel_expr_t *operand, const char *field, bool optional) {
  check(c, operand);
  cel_type_t *ot = subst(&c->m, operand->type, false, 0);
  const cel_type_t *target = ot;
  bool is_opt = false;
  if (ot && ot->kind == CEL_T_OPTIONAL) {
    target = ot->elem;
    is_opt = true;
  }
  cel_type_t *r;
  char ts[256];
  switch (target ? target->kind : CEL_T_DYN) {
  case CEL_T_MAP: r = cel__type_ref(target->elem); break;
  case CEL_T_OBJECT: {
    const cel_type_t *ft = cel__type_field(target, field);
    if (ft)
      r = cel__type_ref((cel_type_t *)ft);
    else {
      report(c, where(c, e), "undefined field '%s'", field);
      r = mk(CEL_T_ERROR);
    }
    break;
  }
  case CEL_T_PARAM:
    r = mk(CEL_T_DYN);
    assignable(c, r, target);
    break;
  default:
    if (!is_dyn_or_err(target)) {
      tstr(target, ts, sizeof(ts));
      report(c, where(c, e), "type '%s' does not support field selection", ts);
    }
    r = mk(CEL_T_DYN);
  }
  cel_type_free(ot);
  if (is_opt || optional)
    r = cel__type_wrap(CEL_T_OPTIONAL, r);
  return r;
}

/* Rewrites a select chain that names a declared variable or type into an
 * identifier (as cel-go resolves qualified names). */
static bool rewrite_qualified(chk_t *c, cel_expr_t *e) {
  char *q = qualified(e, 0);
  if (!q)
    return false;
  int index;
  cel_type_t *t = resolve_ident(c, q, &index);
  if (!t) {
    free(q);
    return false;
  }
  cel_type_free(t);
  cel__expr_free(e->target);
  e->target = NULL;
  free(e->name);
  e->name = q;
  e->kind = CEL_E_IDENT;
  return true;
}

static void check_select(chk_t *c, cel_expr_t *e) {
  if (!e->test_only && rewrite_qualified(c, e)) {
    check_ident(c, e);
    return;
  }
  cel_type_t *t = select_field(c, e, e->target, e->name, false);
  if (e->test_only) {
    cel_type_free(t);
    t = mk(CEL_T_BOOL);
  }
  set_type(e, t);
}

static void parse_builtins(chk_t *c) {
  if (c->builtin_parsed)
    return;
  c->builtin_parsed = true;
  for (size_t i = 0; i < NBUILTIN; i++)
    if (cel__overload_parse(builtin_sigs[i], NULL, &c->builtin[i]) < 0)
      memset(&c->builtin[i], 0, sizeof(c->builtin[i]));
}

/* Whether one of the environment's overloads has b's parameter kinds. */
static bool env_declares(const cel__overload_t **v, size_t n, const cel__overload_t *b) {
  for (size_t i = 0; i < n; i++) {
    if (v[i]->nargs != b->nargs || v[i]->receiver != b->receiver)
      continue;
    bool same = true;
    for (size_t k = 0; k < b->nargs && same; k++) {
      const cel_type_t *x = v[i]->params[k], *y = b->params[k];
      same = x->kind == y->kind && (x->kind != CEL_T_OPTIONAL || !x->elem || !y->elem || x->elem->kind == y->elem->kind);
    }
    if (same)
      return true;
  }
  return false;
}

/* Collects the overloads called name: the environment's, then the
 * checker's own (which are not candidates for the evaluator). */
static size_t find_overloads(chk_t *c, const char *name, const cel__overload_t ***ret, size_t *ret_nenv) {
  const cel__overload_t **v = NULL;
  size_t n = 0;
  for (size_t i = 0; i < c->env->novl; i++)
    if (!strcmp(c->env->ovl[i].name, name)) {
      v = xrealloc(v, (n + 1) * sizeof(*v));
      v[n++] = &c->env->ovl[i];
    }
  *ret_nenv = n;
  if (!strcmp(name, "_==_") || !strcmp(name, "_!=_") || !strcmp(name, "_?_:_") || !strcmp(name, "_[?_]") ||
      !strcmp(name, "_[_]")) {
    parse_builtins(c);
    for (size_t i = 0; i < NBUILTIN; i++) {
      if (!c->builtin[i].name || strcmp(c->builtin[i].name, name))
        continue;
      if (i >= FIRST_OPTIONAL_BUILTIN && !(c->env->libs & CEL_LIB_OPTIONALS))
        continue;
      if (env_declares(v, *ret_nenv, &c->builtin[i]))
        continue; /* the library has it (with a function) */
      v = xrealloc(v, (n + 1) * sizeof(*v));
      v[n++] = &c->builtin[i];
    }
  }
  *ret = v;
  return n;
}

/* Instantiates an overload's type parameters (A, B ...) with fresh type
 * variables: one substitution for all its parameters and its result. */
static void instantiate(chk_t *c, const cel_type_t *t, subst_t *inst, int depth) {
  if (!t || depth > MAX_TYPE_DEPTH)
    return;
  switch (t->kind) {
  case CEL_T_PARAM:
    if (!sub_find(inst, t)) {
      cel_type_t *v = new_var(c);
      sub_add(inst, t, v);
      cel_type_free(v);
    }
    return;
  case CEL_T_MAP: instantiate(c, t->key, inst, depth + 1); /* fallthrough */
  case CEL_T_LIST:
  case CEL_T_OPTIONAL:
  case CEL_T_TYPE: instantiate(c, t->elem, inst, depth + 1); return;
  default: return;
  }
}

static void no_match(chk_t *c, cel_expr_t *e, const char *name, cel_type_t **argt, size_t n, bool instance) {
  char sig[600], ts[256];
  sbuf_t b = {sig, sizeof(sig), 0};
  sig[0] = 0;
  for (size_t i = 0; i < n; i++) {
    cel_type_t *t = subst(&c->m, argt[i], true, 0);
    tstr(t, ts, sizeof(ts));
    cel_type_free(t);
    if (i == 0 && instance) {
      sb_put(&b, ts);
      sb_put(&b, ".(");
      continue;
    }
    if (i == 0)
      sb_put(&b, "(");
    else if (!(i == 1 && instance))
      sb_put(&b, ", ");
    sb_put(&b, ts);
  }
  if (n == 0)
    sb_put(&b, "(");
  sb_put(&b, ")");
  report(c, where(c, e), "found no matching overload for '%s' applied to '%s'", name, sig);
}

/* Resolves e's overloads for argument types argt (target first for an
 * instance call). Returns the result type, or NULL after reporting. */
static cel_type_t *resolve(chk_t *c, cel_expr_t *e, cel_type_t **argt, size_t n, bool instance) {
  const cel__overload_t **ovl;
  size_t nenv, novl = find_overloads(c, e->name, &ovl, &nenv);
  cel_type_t *result = NULL;
  free(e->cands);
  e->cands = NULL;
  e->ncands = 0;
  for (size_t k = 0; k < novl; k++) {
    const cel__overload_t *o = ovl[k];
    if (o->receiver != instance || o->nargs != n)
      continue;
    subst_t inst = {0};
    for (size_t i = 0; i < n; i++)
      instantiate(c, o->params[i], &inst, 0);
    instantiate(c, o->result, &inst, 0);
    trial_begin(&c->m);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
      cel_type_t *p = subst(&inst, o->params[i], false, 0);
      ok = assignable_in(&c->m, argt[i], p, 0);
      cel_type_free(p);
    }
    trial_end(&c->m, ok);
    if (!ok) {
      sub_done(&inst);
      continue;
    }
    if (k < nenv) {
      e->cands = xrealloc(e->cands, (e->ncands + 1) * sizeof(*e->cands));
      e->cands[e->ncands++] = o;
    }
    cel_type_t *r0 = subst(&inst, o->result, false, 0);
    cel_type_t *rt = subst(&c->m, r0, false, 0);
    cel_type_free(r0);
    sub_done(&inst);
    if (!result)
      result = rt;
    else {
      if (!is_dyn(result) && !type_exact(rt, result, 0)) {
        cel_type_free(result);
        result = mk(CEL_T_DYN);
      }
      cel_type_free(rt);
    }
  }
  free(ovl);
  if (!result)
    no_match(c, e, e->name, argt, n, instance);
  return result;
}

static void check_call(chk_t *c, cel_expr_t *e) {
  char ts[256];
  if (!strcmp(e->name, "_?._")) {
    if (!(c->env->libs & CEL_LIB_OPTIONALS)) {
      report(c, e->pos, "unsupported syntax '.?'");
      set_type(e, mk(CEL_T_ERROR));
      return;
    }
    if (e->nargs != 2 || e->target || e->args[1]->kind != CEL_E_CONST ||
        cel_value_kind(e->args[1]->value) != CEL_STRING) {
      report(c, e->pos, "unsupported optional field selection");
      set_type(e, mk(CEL_T_ERROR));
      return;
    }
    set_type(e->args[1], mk(CEL_T_STRING));
    set_type(e, select_field(c, e, e->args[0], cel_value_str(e->args[1]->value, NULL), true));
    return;
  }
  if (!strcmp(e->name, "_[?_]") && !(c->env->libs & CEL_LIB_OPTIONALS)) {
    report(c, e->pos, "unsupported syntax '[?'");
    set_type(e, mk(CEL_T_ERROR));
    return;
  }
  /* a.b.f() where a.b.f is a function: a namespaced global call */
  if (e->target) {
    char *q = qualified(e->target, 0);
    if (q) {
      char *full = xasprintf("%s.%s", q, e->name);
      free(q);
      const cel__overload_t **ovl;
      size_t nenv, n = find_overloads(c, full, &ovl, &nenv);
      free(ovl);
      if (n > 0) {
        cel__expr_free(e->target);
        e->target = NULL;
        free(e->name);
        e->name = full;
      } else
        free(full);
    }
  }
  for (size_t i = 0; i < e->nargs; i++)
    check(c, e->args[i]);
  bool logical = !strcmp(e->name, "_&&_") || !strcmp(e->name, "_||_");
  if (logical && !e->target) {
    bool ok = true;
    for (size_t i = 0; i < e->nargs; i++) {
      cel_type_t *bt = mk(CEL_T_BOOL);
      if (!assignable(c, e->args[i]->type, bt)) {
        tstr(e->args[i]->type, ts, sizeof(ts));
        report(c, e->args[i]->pos, "expected type 'bool' but found '%s'", ts);
        ok = false;
      }
      cel_type_free(bt);
    }
    set_type(e, mk(ok ? CEL_T_BOOL : CEL_T_ERROR));
    return;
  }
  if (e->target)
    check(c, e->target);
  const cel__overload_t **ovl;
  size_t nenv, n = find_overloads(c, e->name, &ovl, &nenv);
  free(ovl);
  if (n == 0) {
    report(c, where(c, e), "undeclared reference to '%s' (in container '')", e->name);
    set_type(e, mk(CEL_T_ERROR));
    return;
  }
  size_t nt = e->nargs + (e->target ? 1 : 0);
  cel_type_t **argt = xmalloc((nt ? nt : 1) * sizeof(*argt));
  size_t k = 0;
  if (e->target)
    argt[k++] = e->target->type;
  for (size_t i = 0; i < e->nargs; i++)
    argt[k++] = e->args[i]->type;
  cel_type_t *r = resolve(c, e, argt, nt, e->target != NULL);
  free(argt);
  set_type(e, r ? r : mk(CEL_T_ERROR));
}

/* An element of [?x] / {?k: x}: x must be optional; its value type. */
static cel_type_t *opt_elem(chk_t *c, const cel_expr_t *x) {
  const cel_type_t *t = x->type;
  if (t && t->kind == CEL_T_OPTIONAL)
    return cel__type_ref(t->elem);
  if (!is_dyn(t)) {
    char a[256], b[280];
    tstr(t, a, sizeof(a));
    snprintf(b, sizeof(b), "optional_type(%s)", a);
    report(c, x->pos, "expected type '%s' but found '%s'", b, a);
  }
  return cel__type_ref((cel_type_t *)t);
}

/* joins an aggregate literal's element types (cel-go's joinTypes with dyn
 * elements for mixed literals); takes cur */
static cel_type_t *join(chk_t *c, cel_type_t *prev, cel_type_t *cur) {
  if (!prev)
    return cur;
  cel_type_t *r;
  if (assignable(c, prev, cur))
    r = cel__type_ref((cel_type_t *)most_general(prev, cur));
  else
    r = mk(CEL_T_DYN);
  cel_type_free(prev);
  cel_type_free(cur);
  return r;
}

static void unsupported_opt_elem(chk_t *c, const cel_expr_t *x) {
  report(c, x->pos > 0 ? x->pos - 1 : 0, "unsupported syntax '?'");
}

static void check_list(chk_t *c, cel_expr_t *e) {
  cel_type_t *et = NULL;
  for (size_t i = 0; i < e->nargs; i++) {
    cel_expr_t *x = e->args[i];
    check(c, x);
    cel_type_t *t;
    if (e->opt && e->opt[i]) {
      if (!(c->env->libs & CEL_LIB_OPTIONALS))
        unsupported_opt_elem(c, x);
      t = opt_elem(c, x);
    } else
      t = cel__type_ref(x->type);
    et = join(c, et, t);
  }
  if (!et)
    et = new_var(c);
  set_type(e, cel__type_list(et));
}

static void check_map(chk_t *c, cel_expr_t *e) {
  cel_type_t *kt = NULL, *vt = NULL;
  for (size_t i = 0; i + 1 < e->nargs; i += 2) {
    cel_expr_t *k = e->args[i], *v = e->args[i + 1];
    check(c, k);
    kt = join(c, kt, cel__type_ref(k->type));
    check(c, v);
    cel_type_t *t;
    if (e->opt && e->opt[i / 2]) {
      if (!(c->env->libs & CEL_LIB_OPTIONALS))
        unsupported_opt_elem(c, k);
      t = opt_elem(c, v);
    } else
      t = cel__type_ref(v->type);
    vt = join(c, vt, t);
  }
  if (!kt) {
    kt = new_var(c);
    vt = new_var(c);
  }
  set_type(e, cel__type_map(kt, vt));
}

static void check_struct(chk_t *c, cel_expr_t *e) {
  const char *name = e->name[0] == '.' ? e->name + 1 : e->name;
  cel_type_t *t = type_ident(c, name);
  if (!t) {
    report(c, e->pos, "undeclared reference to '%s' (in container '')", e->name);
    set_type(e, mk(CEL_T_ERROR));
    return;
  }
  cel_type_free(t);
  report(c, e->pos, "'%s' is not a message type", name);
  for (size_t i = 0; i < e->nargs; i++)
    check(c, e->args[i]);
  set_type(e, mk(CEL_T_ERROR));
}

/* `_?_:_`(cond, a, b) as the macros expand: cond must be bool */
static void macro_conditional(chk_t *c, cel_expr_t *e, const cel_expr_t *cond, const cel_type_t *a) {
  cel_type_t *bt = mk(CEL_T_BOOL);
  bool ok = assignable(c, cond->type, bt);
  cel_type_free(bt);
  if (ok)
    return;
  char ct[256], at[256];
  cel_type_t *x = subst(&c->m, cond->type, true, 0), *y = subst(&c->m, (cel_type_t *)a, true, 0);
  tstr(x, ct, sizeof(ct));
  tstr(y, at, sizeof(at));
  cel_type_free(x);
  cel_type_free(y);
  report(c, where(c, e), "found no matching overload for '_?_:_' applied to '(%s, %s, %s)'", ct, at, at);
}

static void check_comprehension(chk_t *c, cel_expr_t *e) {
  char ts[256];
  check(c, e->range);
  cel_type_t *rt = subst(&c->m, e->range->type, false, 0);
  cel_type_t *vt;
  switch (rt ? rt->kind : CEL_T_DYN) {
  case CEL_T_LIST: vt = cel__type_ref(rt->elem); break;
  case CEL_T_MAP: vt = cel__type_ref(rt->key); break;
  case CEL_T_DYN:
  case CEL_T_ERROR:
  case CEL_T_PARAM:
    vt = mk(CEL_T_DYN);
    assignable(c, vt, rt);
    break;
  default:
    tstr(rt, ts, sizeof(ts));
    report(c, e->range->pos, "expression of type '%s' cannot be range of a comprehension (must be list, map, or dynamic)",
           ts);
    vt = mk(CEL_T_ERROR);
  }
  cel_type_free(rt);
  push_local(c, e->iter_var, cel__type_ref(vt));
  cel_type_t *result = NULL;
  switch (e->macro) {
  case CEL_M_ALL:
  case CEL_M_EXISTS: {
    check(c, e->pred);
    cel_type_t *bt = mk(CEL_T_BOOL);
    if (!assignable(c, e->pred->type, bt)) {
      tstr(e->pred->type, ts, sizeof(ts));
      report(c, e->pred->pos, "expected type 'bool' but found '%s'", ts);
    }
    result = bt;
    break;
  }
  case CEL_M_EXISTS_ONE: {
    check(c, e->pred);
    cel_type_t *it = mk(CEL_T_INT);
    macro_conditional(c, e, e->pred, it);
    cel_type_free(it);
    result = mk(CEL_T_BOOL);
    break;
  }
  case CEL_M_MAP:
    if (e->filter)
      check(c, e->filter);
    check(c, e->pred);
    result = cel__type_list(cel__type_ref(e->pred->type));
    if (e->filter)
      macro_conditional(c, e, e->filter, result);
    break;
  case CEL_M_FILTER:
    check(c, e->filter);
    result = cel__type_list(cel__type_ref(vt));
    macro_conditional(c, e, e->filter, result);
    break;
  }
  pop_local(c);
  cel_type_free(vt);
  set_type(e, result ? result : mk(CEL_T_ERROR));
}

static void check(chk_t *c, cel_expr_t *e) {
  if (!e)
    return;
  switch (e->kind) {
  case CEL_E_CONST: set_type(e, cel__type_of_value(e->value)); return;
  case CEL_E_IDENT: check_ident(c, e); return;
  case CEL_E_SELECT: check_select(c, e); return;
  case CEL_E_CALL: check_call(c, e); return;
  case CEL_E_LIST: check_list(c, e); return;
  case CEL_E_MAP: check_map(c, e); return;
  case CEL_E_STRUCT: check_struct(c, e); return;
  case CEL_E_COMPREHENSION: check_comprehension(c, e); return;
  }
}

/* Final types: bound parameters substituted, unbound ones dyn. */
static void finish(chk_t *c, cel_expr_t *e) {
  if (!e)
    return;
  if (!e->type)
    e->type = mk(CEL_T_DYN);
  else
    set_type(e, subst(&c->m, e->type, true, 0));
  finish(c, e->target);
  for (size_t i = 0; i < e->nargs; i++)
    finish(c, e->args[i]);
  finish(c, e->range);
  finish(c, e->pred);
  finish(c, e->filter);
}

/* cel-go's IsEquivalentType */
static bool equivalent(const cel_type_t *a, const cel_type_t *b) { return type_exact(a, b, 0); }


/* Evaluates fn on constant arguments; whether it gave an error. */
static bool call_fails(const cel__overload_t *o, cel_value_t **argv, size_t n) {
  if (!o || !o->fn)
    return false;
  uint64_t cost = 0;
  cel_value_t *r = o->fn(argv, n, &cost);
  bool bad = !r || cel_value_kind(r) == CEL_ERROR;
  cel_value_unref(r);
  return bad;
}

/* Kubernetes' base environment also checks literal arguments
 * (cel.ValidateDurationLiterals, ValidateTimestampLiterals,
 * ValidateRegexLiterals): duration('1x') is refused at compile time with
 * "invalid duration argument". The libraries' own functions judge. */
static void validate_call_literals(chk_t *c, const cel_expr_t *e) {
  if (e->nargs < 1 || e->args[0]->kind != CEL_E_CONST)
    return;
  const cel_expr_t *lit = e->args[0];
  if ((!strcmp(e->name, "duration") || !strcmp(e->name, "timestamp")) && !e->target && e->nargs == 1) {
    cel_value_t *argv[1] = {lit->value};
    if (e->ncands > 0 && call_fails(e->cands[0], argv, 1))
      report(c, lit->pos, "invalid %s argument", e->name);
    return;
  }
  if (!strcmp(e->name, "matches") && cel_value_kind(lit->value) == CEL_STRING) {
    /* upstream compiles the first argument after the receiver */
    const cel__overload_t *m = NULL;
    for (size_t i = 0; i < c->env->novl && !m; i++) {
      const cel__overload_t *o = &c->env->ovl[i];
      if (o->receiver && o->nargs == 2 && !strcmp(o->name, "matches"))
        m = o;
    }
    cel_value_t *argv[2] = {cel_stringz(""), lit->value};
    if (call_fails(m, argv, 2))
      report(c, lit->pos, "invalid %s argument", e->name);
    cel_value_unref(argv[0]);
  }
}

/* Kubernetes' base environment validates that list and map literals are
 * homogeneous (cel.ValidateHomogeneousAggregateLiterals); the strings
 * library's format() is exempt. */
static void validate_literals(chk_t *c, const cel_expr_t *e, bool exempt) {
  if (!e)
    return;
  char a[256], b[256];
  if (e->kind == CEL_E_CALL && !strcmp(e->name, "format") && (c->env->libs & CEL_LIB_STRINGS))
    exempt = true;
  if (e->kind == CEL_E_CALL)
    validate_call_literals(c, e);
  if (e->kind == CEL_E_LIST && !exempt) {
    const cel_type_t *et = NULL;
    for (size_t i = 0; i < e->nargs; i++) {
      const cel_type_t *t = e->args[i]->type;
      if (e->opt && e->opt[i] && t && t->kind == CEL_T_OPTIONAL)
        t = t->elem;
      if (!et) {
        et = t;
        continue;
      }
      if (!equivalent(et, t)) {
        tstr(et, a, sizeof(a));
        tstr(t, b, sizeof(b));
        report(c, e->args[i]->pos, "expected type '%s' but found '%s'", a, b);
        break;
      }
    }
  }
  if (e->kind == CEL_E_MAP && !exempt) {
    const cel_type_t *kt = NULL, *vt = NULL;
    for (size_t i = 0; i + 1 < e->nargs; i += 2) {
      const cel_type_t *k = e->args[i]->type, *v = e->args[i + 1]->type;
      if (e->opt && e->opt[i / 2] && v && v->kind == CEL_T_OPTIONAL)
        v = v->elem;
      if (!kt && !vt) {
        kt = k, vt = v;
        continue;
      }
      if (!equivalent(kt, k)) {
        tstr(kt, a, sizeof(a));
        tstr(k, b, sizeof(b));
        report(c, e->args[i]->pos, "expected type '%s' but found '%s'", a, b);
      }
      if (!equivalent(vt, v)) {
        tstr(vt, a, sizeof(a));
        tstr(v, b, sizeof(b));
        report(c, e->args[i + 1]->pos, "expected type '%s' but found '%s'", a, b);
      }
    }
  }
  validate_literals(c, e->target, exempt);
  for (size_t i = 0; i < e->nargs; i++)
    validate_literals(c, e->args[i], exempt);
  validate_literals(c, e->range, exempt);
  validate_literals(c, e->pred, exempt);
  validate_literals(c, e->filter, exempt);
}

static int cmp_err(const void *a, const void *b) {
  const cerr_t *x = a, *y = b;
  if (x->pos != y->pos)
    return x->pos < y->pos ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int flush_errors(chk_t *c, cel_error_t *err) {
  if (!c->nerrs_total)
    return 0;
  /* upstream prints errors by position (a stable sort) */
  qsort(c->errs, c->nerrs, sizeof(*c->errs), cmp_err);
  for (size_t i = 0; i < c->nerrs; i++)
    cel__error_at(err, c->src, c->len, c->errs[i].pos, "%s", c->errs[i].msg);
  if (c->nerrs_total > c->nerrs) {
    size_t used = strlen(err->message);
    snprintf(err->message + used, sizeof(err->message) - used, "\n%zu more errors were truncated",
             c->nerrs_total - c->nerrs);
  }
  for (size_t i = 0; i < c->nerrs; i++)
    free(c->errs[i].msg);
  free(c->errs);
  c->errs = NULL;
  c->nerrs = c->nerrs_total = 0;
  return -EINVAL;
}

int cel__check(const cel_env_t *env, cel_expr_t *e, const char *src, size_t len, cel_error_t *err) {
  chk_t c = {.env = env, .src = src, .len = len};
  err->message[0] = 0;
  check(&c, e);
  finish(&c, e);
  int r = flush_errors(&c, err);
  if (r == 0 && !(env->libs & CEL_LIB_HETEROGENEOUS_LITERALS)) {
    validate_literals(&c, e, false);
    r = flush_errors(&c, err);
  }
  while (c.nlocals)
    pop_local(&c);
  free(c.locals);
  sub_done(&c.m);
  for (size_t i = 0; i < NBUILTIN; i++)
    if (c.builtin[i].name)
      cel__overload_done(&c.builtin[i]);
  return r;
}
