/* CEL static cost estimate, as Kubernetes computes it when a CRD rule is
 * written: cel-go's checker cost model (per-node costs, comprehensions
 * multiplied by the range's size, strings by their length) with the
 * Kubernetes library's function costs and the CRD size estimator (sizes
 * from maxItems/maxLength/maxProperties, or what a 3 MiB request can
 * hold). Returns the estimate's maximum, as upstream compares it.
 * cel-go checker/cost.go; k8s.io/apiserver/pkg/cel/library/cost.go;
 * k8s.io/apiserver/pkg/cel/common/schemas.go (size estimates). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "util/alloc.h"

/* k8s.io/apiserver/pkg/cel/limits.go */
#define MAX_REQUEST_SIZE (3 * 1024 * 1024)
#define MAX_DURATION_SIZE_JSON 32
#define MAX_DATETIME_SIZE_JSON 32
#define MIN_DURATION_SIZE_JSON 3
#define MIN_DATETIME_SIZE_JSON 21
#define MIN_STRING_SIZE 2
#define MIN_BOOL_SIZE 4
#define MIN_NUMBER_SIZE 1
#define MAX_FORMAT_SIZE 64
#define MAX_NAME_FORMAT_REGEX 128

/* cel-go common/cost.go */
#define STRING_TRAVERSAL_FACTOR 0.1
#define REGEX_LENGTH_FACTOR 0.25
#define LIST_CREATE_COST 10
#define MAP_CREATE_COST 30
#define STRUCT_CREATE_COST 40

typedef struct {
  uint64_t min, max;
} est_t;

static const est_t UNKNOWN = {0, UINT64_MAX};

static uint64_t add_sat(uint64_t x, uint64_t y) { return x > UINT64_MAX - y ? UINT64_MAX : x + y; }
static uint64_t mul_sat(uint64_t x, uint64_t y) { return y && x > UINT64_MAX / y ? UINT64_MAX : x * y; }

static uint64_t mul_factor1(uint64_t x, double f) {
  double xf = (double)x;
  if (xf > 0 && f > 0 && xf > 18446744073709551615.0 / f)
    return UINT64_MAX;
  double c = ceil(xf * f);
  if (c >= 18446744073709551616.0)
    return UINT64_MAX;
  return (uint64_t)c;
}

static est_t fixed(uint64_t v) { return (est_t){v, v}; }
static est_t e_add(est_t a, est_t b) { return (est_t){add_sat(a.min, b.min), add_sat(a.max, b.max)}; }
static est_t e_mul(est_t a, est_t b) { return (est_t){mul_sat(a.min, b.min), mul_sat(a.max, b.max)}; }
static est_t e_factor(est_t a, double f) { return (est_t){mul_factor1(a.min, f), mul_factor1(a.max, f)}; }
static est_t e_union(est_t a, est_t b) {
  return (est_t){a.min < b.min ? a.min : b.min, a.max > b.max ? a.max : b.max};
}

/* the size of a list's/map's entries, for literals and what is built from them */
typedef struct {
  bool set;
  cel_tkind_t kind; /* CEL_T_LIST or CEL_T_MAP */
  est_t key, val;
} entry_t;

static entry_t entry_union(const entry_t *a, const entry_t *b) {
  if (!a->set || !b->set)
    return (entry_t){0};
  return (entry_t){true, a->kind, e_union(a->key, b->key), e_union(a->val, b->val)};
}

/* A field path from a variable ("self", "spec", "@items" ...), as cel-go
 * tracks it for the size estimator. */
typedef struct {
  const char **v;
  size_t n;
} path_t;

typedef struct {
  const cel_expr_t *e;
  bool has_size;
  est_t size;
  entry_t entry;
  path_t path;
} info_t;

typedef struct {
  const char *name;
  path_t path;
  bool has_size;
  est_t size;
} local_t;

typedef struct {
  const cel_program_t *p;
  const cel_type_t *root; /* "self": the CRD size estimator's root */
  info_t *tab;
  size_t cap;
  local_t *locals;
  size_t nlocals;
  void **allocs;
  size_t nallocs, capallocs;
} coster_t;

/* ---- side tables ---- */

static size_t count_nodes(const cel_expr_t *e) {
  if (!e)
    return 0;
  size_t n = 1 + count_nodes(e->target) + count_nodes(e->range) + count_nodes(e->pred) + count_nodes(e->filter);
  for (size_t i = 0; i < e->nargs; i++)
    n += count_nodes(e->args[i]);
  return n;
}

static info_t *info(coster_t *c, const cel_expr_t *e) {
  size_t h = ((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15ULL;
  for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
    if (c->tab[i].e == e)
      return &c->tab[i];
    if (!c->tab[i].e) {
      c->tab[i].e = e;
      return &c->tab[i];
    }
  }
}

static void *keep(coster_t *c, void *p) {
  if (c->nallocs == c->capallocs) {
    c->capallocs = c->capallocs ? 2 * c->capallocs : 64;
    c->allocs = xrealloc(c->allocs, c->capallocs * sizeof(*c->allocs));
  }
  c->allocs[c->nallocs++] = p;
  return p;
}

static path_t path_append(coster_t *c, path_t p, const char *name) {
  path_t r = {keep(c, xmalloc((p.n + 1) * sizeof(char *))), p.n + 1};
  if (p.n)
    memcpy(r.v, p.v, p.n * sizeof(char *));
  r.v[p.n] = name;
  return r;
}

static const local_t *find_local(const coster_t *c, const char *name) {
  for (size_t i = c->nlocals; i-- > 0;)
    if (!strcmp(c->locals[i].name, name))
      return &c->locals[i];
  return NULL;
}

static path_t get_path(coster_t *c, const cel_expr_t *e) {
  if (e->kind == CEL_E_IDENT) {
    const local_t *l = find_local(c, e->name);
    if (l)
      return l->path;
  }
  return info(c, e)->path;
}

static void set_size(coster_t *c, const cel_expr_t *e, const est_t *s) {
  if (!s)
    return;
  info_t *i = info(c, e);
  i->has_size = true;
  i->size = *s;
}

static void set_entry(coster_t *c, const cel_expr_t *e, const entry_t *s) {
  if (s->set)
    info(c, e)->entry = *s;
}

/* ---- the CRD size estimator (apiextensions' sizeEstimator over the
 * schema's DeclType; sizes as common/schemas.go derives them) ---- */

static uint64_t min_serialized(const cel_type_t *t) {
  if (t && t->min_size)
    return t->min_size;
  switch (t ? t->kind : CEL_T_DYN) {
  case CEL_T_STRING:
  case CEL_T_BYTES: return MIN_STRING_SIZE;
  case CEL_T_BOOL: return MIN_BOOL_SIZE;
  case CEL_T_DURATION: return MIN_DURATION_SIZE_JSON;
  case CEL_T_TIMESTAMP: return MIN_DATETIME_SIZE_JSON;
  case CEL_T_LIST:
  case CEL_T_MAP:
  case CEL_T_OBJECT: return 2; /* [] {} */
  default: return MIN_NUMBER_SIZE;
  }
}

/* DeclType.MaxElements of a schema type; false if no schema says */
static bool max_elements(const cel_type_t *t, uint64_t *ret) {
  const uint64_t req = MAX_REQUEST_SIZE - 2;
  bool set = t->max_size || (t->flags & CEL_TF_MAX_SET);
  switch (t->kind) {
  case CEL_T_STRING:
    /* maxLength counts code points, up to 4 bytes each */
    *ret = !set ? req : (t->flags & CEL_TF_MAX_ENUM) ? t->max_size : mul_sat(t->max_size, 4);
    return true;
  case CEL_T_BYTES: *ret = set ? t->max_size : req; return true;
  case CEL_T_DURATION: *ret = MAX_DURATION_SIZE_JSON; return true;
  case CEL_T_TIMESTAMP: *ret = MAX_DATETIME_SIZE_JSON; return true;
  case CEL_T_LIST: *ret = set ? t->max_size : req / (min_serialized(t->elem) + 1); return true;
  case CEL_T_MAP: *ret = set ? t->max_size : req / (min_serialized(t->elem) + 6); return true;
  case CEL_T_DYN:
    if (!(t->flags & CEL_TF_INT_OR_STRING))
      return false;
    *ret = set ? mul_sat(t->max_size, 4) : req;
    return true;
  case CEL_T_INT:
  case CEL_T_UINT:
  case CEL_T_DOUBLE:
  case CEL_T_BOOL:
  case CEL_T_OBJECT: *ret = 0; return true;
  default: return false;
  }
}

/* Walks path (its first element, the variable, is the root) */
static bool estimate_size(const coster_t *c, path_t p, est_t *ret) {
  if (!p.n || !c->root)
    return false;
  const cel_type_t *t = c->root;
  bool key = false;
  for (size_t i = 1; i < p.n; i++) {
    const char *s = p.v[i];
    if (!t || key)
      return false;
    if (!strcmp(s, "@items") || !strcmp(s, "@values")) {
      if (t->kind != CEL_T_LIST && t->kind != CEL_T_MAP)
        return false;
      t = t->elem;
    } else if (!strcmp(s, "@keys")) {
      if (t->kind != CEL_T_MAP)
        return false;
      key = true; /* the key type's DeclType has no size: 0 */
    } else {
      if (t->kind != CEL_T_OBJECT)
        return false;
      const cel_type_t *f = NULL;
      for (size_t k = 0; k < t->nfields; k++)
        if (!strcmp(t->field_names[k], s))
          f = t->field_types[k];
      if (!f)
        return false;
      t = f;
    }
  }
  uint64_t m = 0;
  if (!key && (!t || !max_elements(t, &m)))
    return false;
  *ret = (est_t){0, m};
  return true;
}

/* ---- sizes ---- */

static size_t utf8_len(const char *s, size_t n) {
  size_t r = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      r++;
  return r;
}

static bool is_scalar(const cel_type_t *t) {
  if (!t)
    return false;
  switch (t->kind) {
  case CEL_T_BOOL:
  case CEL_T_DOUBLE:
  case CEL_T_DURATION:
  case CEL_T_INT:
  case CEL_T_TIMESTAMP:
  case CEL_T_UINT: return true;
  case CEL_T_OPTIONAL: return is_scalar(t->elem);
  default: return false;
  }
}

static bool compute_size(coster_t *c, const cel_expr_t *e, est_t *ret) {
  info_t *in = info(c, e);
  if (in->has_size) {
    *ret = in->size;
    return true;
  }
  if (e->kind == CEL_E_CONST) {
    size_t n;
    const char *s;
    switch (cel_value_kind(e->value)) {
    case CEL_STRING:
      s = cel_value_str(e->value, &n);
      *ret = fixed(utf8_len(s, n));
      return true;
    case CEL_BYTES:
      cel_value_str(e->value, &n);
      *ret = fixed(n);
      return true;
    case CEL_BOOL:
    case CEL_DOUBLE:
    case CEL_DURATION:
    case CEL_INT:
    case CEL_TIMESTAMP:
    case CEL_UINT:
    case CEL_NULL: *ret = fixed(1); return true;
    default: break;
    }
  } else if (e->kind == CEL_E_LIST) {
    *ret = fixed(e->nargs);
    return true;
  } else if (e->kind == CEL_E_MAP) {
    *ret = fixed(e->nargs / 2);
    return true;
  }
  if (estimate_size(c, get_path(c, e), ret)) {
    in = info(c, e);
    in->has_size = true;
    in->size = *ret;
    return true;
  }
  if (is_scalar(e->type)) {
    *ret = fixed(1);
    return true;
  }
  if (e->kind == CEL_E_IDENT) {
    const local_t *l = find_local(c, e->name);
    if (l && l->has_size) {
      *ret = l->size;
      return true;
    }
  }
  return false;
}

/* compute_size of an identifier node the macro expansion would have made */
static bool ident_size(coster_t *c, const char *name, const cel_type_t *t, est_t *ret) {
  const local_t *l = find_local(c, name);
  if (l && estimate_size(c, l->path, ret))
    return true;
  if (is_scalar(t)) {
    *ret = fixed(1);
    return true;
  }
  if (l && l->has_size) {
    *ret = l->size;
    return true;
  }
  return false;
}

static est_t size_or_unknown(coster_t *c, const cel_expr_t *e) {
  est_t s;
  return compute_size(c, e, &s) ? s : UNKNOWN;
}

static entry_t compute_entry(coster_t *c, const cel_expr_t *e) { return info(c, e)->entry; }

/* ---- calls ---- */

/* what cel-go's functionCost and Kubernetes' EstimateCallCost see of an
 * argument (cel-go's AstNode) */
typedef struct {
  const cel_expr_t *e; /* NULL for a list's element node */
  const cel_type_t *t;
  path_t path;
  bool has_size;
  est_t size;
} node_t;

static node_t new_node(coster_t *c, const cel_expr_t *e) {
  node_t n = {.e = e, .t = e->type, .path = get_path(c, e)};
  n.has_size = compute_size(c, e, &n.size);
  return n;
}

/* Kubernetes' sizeEstimate(node) */
static est_t node_size(const coster_t *c, const node_t *n) {
  est_t s;
  if (n->has_size)
    return n->size;
  if (estimate_size(c, n->path, &s))
    return s;
  return UNKNOWN;
}

static bool list_element_node(coster_t *c, const node_t *list, node_t *ret) {
  if (!list->t || (list->t->kind != CEL_T_LIST && list->t->kind != CEL_T_MAP && list->t->kind != CEL_T_OPTIONAL &&
                   list->t->kind != CEL_T_TYPE))
    return false;
  memset(ret, 0, sizeof(*ret));
  ret->t = list->t->kind == CEL_T_MAP ? list->t->key : list->t->elem; /* upstream's Parameters()[0] */
  if (list->path.n)
    ret->path = path_append(c, list->path, "@items");
  return true;
}

typedef enum {
  OV_GENERIC,
  OV_INDEX_LIST,
  OV_INDEX_MAP,
  OV_FORMAT,
  OV_STRING_TO_BYTES,
  OV_BYTES_TO_STRING,
  OV_QUOTE,
  OV_STARTS_ENDS,
  OV_IN_LIST,
  OV_MATCHES_STRING,
  OV_CONTAINS_STRING,
  OV_LOGICAL,
  OV_CONDITIONAL,
  OV_ADD_STRING,
  OV_ADD_LIST,
  OV_COMPARE_STRING,
  OV_EQUALS,
  OV_CIDR_IP,
  OV_CONTAINS_IP_STRING,
  OV_CONTAINS_CIDR_STRING,
} ov_t;

static bool kind_is(const cel_type_t *t, cel_tkind_t k) { return t && t->kind == k; }

/* The cel-go overload (by its id) an overload of ours stands for; o is
 * NULL for the operators the checker types itself. */
static ov_t classify(const char *name, const cel__overload_t *o) {
  if (!strcmp(name, "_&&_") || !strcmp(name, "_||_"))
    return OV_LOGICAL;
  if (!strcmp(name, "_?_:_"))
    return OV_CONDITIONAL;
  if (!strcmp(name, "_==_") || !strcmp(name, "_!=_"))
    return OV_EQUALS;
  if (!o)
    return OV_GENERIC;
  const cel_type_t *p0 = o->nargs > 0 ? o->params[0] : NULL, *p1 = o->nargs > 1 ? o->params[1] : NULL;
  if (!strcmp(name, "_[_]"))
    return kind_is(p0, CEL_T_LIST) ? OV_INDEX_LIST : kind_is(p0, CEL_T_MAP) ? OV_INDEX_MAP : OV_GENERIC;
  if (!strcmp(name, "format") && o->receiver && kind_is(p0, CEL_T_STRING))
    return OV_FORMAT;
  if (!strcmp(name, "bytes") && !o->receiver && o->nargs == 1 && kind_is(p0, CEL_T_STRING))
    return OV_STRING_TO_BYTES;
  if (!strcmp(name, "string") && !o->receiver && o->nargs == 1 && kind_is(p0, CEL_T_BYTES))
    return OV_BYTES_TO_STRING;
  if (!strcmp(name, "strings.quote"))
    return OV_QUOTE;
  if ((!strcmp(name, "startsWith") || !strcmp(name, "endsWith")) && o->receiver && kind_is(p0, CEL_T_STRING))
    return OV_STARTS_ENDS;
  if (!strcmp(name, "@in") && kind_is(p1, CEL_T_LIST))
    return OV_IN_LIST;
  if (!strcmp(name, "matches") && o->receiver)
    return OV_MATCHES_STRING;
  if (!strcmp(name, "contains") && o->receiver && kind_is(p0, CEL_T_STRING))
    return OV_CONTAINS_STRING;
  if (!strcmp(name, "_+_"))
    return kind_is(p0, CEL_T_STRING) || kind_is(p0, CEL_T_BYTES) ? OV_ADD_STRING
           : kind_is(p0, CEL_T_LIST)                            ? OV_ADD_LIST
                                                                 : OV_GENERIC;
  if ((!strcmp(name, "_<_") || !strcmp(name, "_>_") || !strcmp(name, "_<=_") || !strcmp(name, "_>=_")) && p0 &&
      p1 && (p0->kind == CEL_T_STRING || p0->kind == CEL_T_BYTES) && p0->kind == p1->kind)
    return OV_COMPARE_STRING;
  if (!strcmp(name, "ip") && o->receiver && p0 && p0->kind == CEL_T_OPAQUE && strstr(p0->name, "CIDR"))
    return OV_CIDR_IP;
  if (!strcmp(name, "containsIP") && kind_is(p1, CEL_T_STRING))
    return OV_CONTAINS_IP_STRING;
  if (!strcmp(name, "containsCIDR") && kind_is(p1, CEL_T_STRING))
    return OV_CONTAINS_CIDR_STRING;
  return OV_GENERIC;
}

typedef struct {
  est_t cost;
  bool has_result_size;
  est_t result_size;
} call_est_t;

static bool name_in(const char *name, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(name, *list))
      return true;
  return false;
}

/* Kubernetes' library costs (library/cost.go EstimateCallCost): by
 * function name. */
static bool k8s_call_cost(coster_t *c, const char *fn, ov_t ov, const node_t *target, const node_t *args, size_t nargs,
                          call_est_t *r) {
  static const char *const authz[] = {"serviceAccount", "path", "group", "resource", "subresource", "namespace",
                                      "name", "allowed", "reason", "error", "errored", NULL};
  static const char *const list_walk[] = {"isSorted", "sum", "max", "min", "indexOf", "lastIndexOf", "includes", NULL};
  static const char *const str_walk[] = {"lowerAscii", "upperAscii", "substring", "trim", NULL};
  static const char *const nominal[] = {"masked", "prefixLength", "family", "isUnspecified", "isLoopback",
                                        "isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast", "sign",
                                        "asInteger", "isInteger", "asApproximateFloat", "isGreaterThan", "isLessThan",
                                        "compareTo", "add", "sub", "major", "minor", "patch", "getScheme",
                                        "getHostname", "getHost", "getPort", "getEscapedPath", "getQuery",
                                        "format.named", NULL};
  memset(r, 0, sizeof(*r));
  const est_t ip_sz = {4, 16};
  if (!strcmp(fn, "check")) {
    r->cost = fixed(350000);
    return true;
  }
  if (name_in(fn, authz) || name_in(fn, nominal)) {
    r->cost = fixed(1);
    return true;
  }
  if (name_in(fn, list_walk)) {
    if (!target)
      return false;
    est_t el = fixed(1);
    node_t eln;
    if (list_element_node(c, target, &eln)) {
      if (kind_is(eln.t, CEL_T_STRING) || kind_is(eln.t, CEL_T_BYTES))
        el = e_add(el, e_factor(node_size(c, &eln), STRING_TRAVERSAL_FACTOR));
      r->cost = e_mul(node_size(c, target), el);
    } else if (!strcmp(fn, "includes"))
      r->cost = e_mul(node_size(c, target), el);
    else
      r->cost = e_factor(node_size(c, target), STRING_TRAVERSAL_FACTOR);
    return true;
  }
  if (!strcmp(fn, "fieldSelector") || !strcmp(fn, "labelSelector")) {
    if (nargs != 1)
      return false;
    /* a selector parses into about one requirement per two characters */
    est_t len = node_size(c, &args[0]);
    est_t parse = e_factor(len, STRING_TRAVERSAL_FACTOR);
    est_t reqs = e_factor(e_factor(len, 0.5), LIST_CREATE_COST + STRUCT_CREATE_COST);
    r->cost = e_add(e_add(fixed(LIST_CREATE_COST), parse), reqs);
    return true;
  }
  if (!strcmp(fn, "validate")) {
    if (nargs < 1)
      return false;
    r->cost = e_factor(e_factor(node_size(c, &args[0]), STRING_TRAVERSAL_FACTOR), MAX_NAME_FORMAT_REGEX * REGEX_LENGTH_FACTOR);
    return true;
  }
  if (!strcmp(fn, "url") || !strcmp(fn, "jsonpatch.escapeKey")) {
    if (nargs != 1)
      return false;
    est_t sz = node_size(c, &args[0]);
    r->cost = e_factor(sz, STRING_TRAVERSAL_FACTOR);
    r->has_result_size = true;
    r->result_size = sz;
    return true;
  }
  if (name_in(fn, str_walk)) {
    if (!target)
      return false;
    est_t sz = node_size(c, target);
    r->cost = e_factor(sz, STRING_TRAVERSAL_FACTOR);
    r->has_result_size = true;
    r->result_size = sz;
    return true;
  }
  if (!strcmp(fn, "replace")) {
    if (!target || nargs < 2)
      return false;
    est_t sz = node_size(c, target), from = node_size(c, &args[0]), to = node_size(c, &args[1]);
    est_t count = {0, 0}, kept = {0, 0};
    if (from.min == 0) {
      count.max = sz.max < UINT64_MAX ? sz.max + 1 : sz.max;
      kept.max = sz.max;
    } else if (to.max <= from.min) {
      count.max = 0;
      kept.max = sz.max;
    } else
      count.max = (uint64_t)ceil((double)sz.max / (double)from.min);
    if (from.max == 0) {
      count.min = sz.min < UINT64_MAX ? sz.min + 1 : sz.min;
      kept.min = sz.min;
    } else if (from.max <= to.min) {
      count.min = 0;
      kept.min = sz.min;
    } else
      count.min = (uint64_t)ceil((double)sz.min / (double)from.max);
    r->cost = e_factor(sz, 2 * STRING_TRAVERSAL_FACTOR);
    r->has_result_size = true;
    r->result_size = e_add(e_mul(count, to), kept);
    return true;
  }
  if (!strcmp(fn, "split")) {
    if (!target)
      return false;
    est_t sz = node_size(c, target);
    uint64_t max = sz.max;
    if (nargs > 1 && args[1].e && args[1].e->kind == CEL_E_CONST && cel_value_kind(args[1].e->value) == CEL_INT)
      max = (uint64_t)cel_value_int(args[1].e->value);
    r->cost = e_factor(sz, 2 * STRING_TRAVERSAL_FACTOR);
    r->has_result_size = true;
    r->result_size = (est_t){0, max};
    return true;
  }
  if (!strcmp(fn, "join")) {
    if (!target)
      return false;
    est_t sz = {0, 0}, list = node_size(c, target);
    node_t eln;
    if (list_element_node(c, target, &eln))
      sz = e_mul(list, node_size(c, &eln));
    if (nargs > 0) {
      est_t sep = node_size(c, &args[0]);
      est_t seps = {list.min > 0 ? list.min - 1 : 0, list.max > 0 ? list.max - 1 : 0};
      sz = e_add(sz, e_mul(sep, seps));
    }
    r->cost = e_factor(sz, STRING_TRAVERSAL_FACTOR);
    r->has_result_size = true;
    r->result_size = sz;
    return true;
  }
  if (!strcmp(fn, "find") || !strcmp(fn, "findAll")) {
    if (!target || nargs < 1)
      return false;
    est_t sz = node_size(c, target);
    est_t str = e_factor(e_add(sz, fixed(1)), STRING_TRAVERSAL_FACTOR);
    est_t re = e_factor(node_size(c, &args[0]), REGEX_LENGTH_FACTOR);
    r->cost = e_mul(str, re);
    r->has_result_size = true;
    r->result_size = (est_t){0, sz.max};
    return true;
  }
  if (!strcmp(fn, "cidr") || !strcmp(fn, "isIP") || !strcmp(fn, "isCIDR") || !strcmp(fn, "quantity") ||
      !strcmp(fn, "isQuantity") || !strcmp(fn, "semver") || !strcmp(fn, "isSemver")) {
    if (nargs < 1)
      return false;
    r->cost = e_factor(node_size(c, &args[0]), STRING_TRAVERSAL_FACTOR);
    return true;
  }
  if (!strcmp(fn, "ip")) {
    if (ov == OV_CIDR_IP) {
      r->cost = fixed(1);
      return true;
    }
    if (nargs < 1)
      return false;
    r->cost = e_factor(node_size(c, &args[0]), STRING_TRAVERSAL_FACTOR);
    return true;
  }
  if (!strcmp(fn, "ip.isCanonical")) {
    if (nargs < 1)
      return false;
    r->cost = e_factor(node_size(c, &args[0]), 2 * STRING_TRAVERSAL_FACTOR);
    return true;
  }
  if (!strcmp(fn, "containsIP") || !strcmp(fn, "containsCIDR")) {
    if (nargs < 1)
      return false;
    est_t cost = e_factor(e_add(ip_sz, ip_sz), STRING_TRAVERSAL_FACTOR);
    if (!strcmp(fn, "containsCIDR"))
      cost = e_add(e_add(cost, e_factor(ip_sz, STRING_TRAVERSAL_FACTOR)), fixed(1));
    if (ov == OV_CONTAINS_IP_STRING || ov == OV_CONTAINS_CIDR_STRING)
      cost = e_add(cost, e_factor(node_size(c, &args[0]), STRING_TRAVERSAL_FACTOR));
    r->cost = cost;
    return true;
  }
  if (!strcmp(fn, "_==_") && nargs == 2 && args[0].t && args[1].t && args[0].t->kind == CEL_T_OPAQUE &&
      args[1].t->kind == CEL_T_OPAQUE && !strcmp(args[0].t->name, args[1].t->name)) {
    /* the library types' equality is O(1), a URL's is its length */
    const char *tn = args[0].t->name;
    if (strstr(tn, "URL")) {
      est_t sz = args[1].has_size ? args[1].size : fixed(1);
      r->cost = e_factor((est_t){1, sz.max}, STRING_TRAVERSAL_FACTOR);
      return true;
    }
    if (strstr(tn, "Format")) {
      r->cost = e_factor((est_t){1, MAX_FORMAT_SIZE}, STRING_TRAVERSAL_FACTOR);
      return true;
    }
    if (!strcmp(tn, "net.IP") || !strcmp(tn, "net.CIDR") || strstr(tn, "Quantity") || strstr(tn, "Semver") ||
        strstr(tn, "uthoriz") || strstr(tn, "Check") || strstr(tn, "Decision")) {
      r->cost = fixed(1);
      return true;
    }
  }
  return false;
}

static est_t cost(coster_t *c, const cel_expr_t *e);

/* cel-go's functionCost for one overload */
static call_est_t function_cost(coster_t *c, const cel_expr_t *e, ov_t ov, const node_t *target, const node_t *args,
                                const est_t *arg_costs, size_t nargs) {
  est_t sum = {0, 0};
  for (size_t i = 0; i < nargs; i++)
    sum = e_add(sum, arg_costs[i]);
  call_est_t r;
  if (k8s_call_cost(c, e->name, ov, target, args, nargs, &r)) {
    r.cost = e_add(r.cost, sum);
    return r;
  }
  memset(&r, 0, sizeof(r));
  switch (ov) {
  case OV_FORMAT:
    if (target) {
      r.cost = e_add(e_factor(node_size(c, target), STRING_TRAVERSAL_FACTOR), sum);
      return r;
    }
    break;
  case OV_STRING_TO_BYTES:
  case OV_BYTES_TO_STRING:
  case OV_QUOTE:
    if (nargs == 1) {
      est_t sz = node_size(c, &args[0]);
      r.cost = e_add(e_factor(sz, STRING_TRAVERSAL_FACTOR), sum);
      r.has_result_size = true;
      r.result_size = ov == OV_STRING_TO_BYTES   ? (est_t){sz.min, mul_sat(sz.max, 4)}
                      : ov == OV_BYTES_TO_STRING ? (est_t){sz.min / 4, sz.max}
                                                 : (est_t){add_sat(sz.min, 2), add_sat(mul_sat(sz.max, 2), 2)};
      return r;
    }
    break;
  case OV_STARTS_ENDS:
    if (nargs == 1) {
      r.cost = e_add(e_factor(node_size(c, &args[0]), STRING_TRAVERSAL_FACTOR), sum);
      return r;
    }
    break;
  case OV_IN_LIST:
    if (nargs == 2) {
      r.cost = e_add(node_size(c, &args[1]), sum);
      return r;
    }
    break;
  case OV_MATCHES_STRING:
    if (target && nargs == 1) {
      est_t str = e_factor(e_add(node_size(c, target), fixed(1)), STRING_TRAVERSAL_FACTOR);
      est_t re = e_factor(node_size(c, &args[0]), REGEX_LENGTH_FACTOR);
      r.cost = e_add(e_mul(str, re), sum);
      return r;
    }
    break;
  case OV_CONTAINS_STRING:
    if (target && nargs == 1) {
      est_t str = e_factor(node_size(c, target), STRING_TRAVERSAL_FACTOR);
      est_t sub = e_factor(node_size(c, &args[0]), STRING_TRAVERSAL_FACTOR);
      r.cost = e_add(e_mul(str, sub), sum);
      return r;
    }
    break;
  case OV_LOGICAL:
    if (nargs == 2) {
      r.cost = (est_t){arg_costs[0].min, e_add(arg_costs[0], arg_costs[1]).max};
      return r;
    }
    break;
  case OV_CONDITIONAL:
    if (nargs == 3) {
      entry_t a = compute_entry(c, args[1].e), b = compute_entry(c, args[2].e), u = entry_union(&a, &b);
      set_entry(c, e, &u);
      r.cost = e_add(arg_costs[0], e_union(arg_costs[1], arg_costs[2]));
      r.has_result_size = true;
      r.result_size = e_union(node_size(c, &args[1]), node_size(c, &args[2]));
      return r;
    }
    break;
  case OV_ADD_STRING:
  case OV_ADD_LIST:
    if (nargs == 2) {
      est_t rs = e_add(node_size(c, &args[0]), node_size(c, &args[1]));
      entry_t a = compute_entry(c, args[0].e), b = compute_entry(c, args[1].e), u = entry_union(&a, &b);
      set_entry(c, e, &u);
      r.has_result_size = true;
      r.result_size = rs;
      r.cost = ov == OV_ADD_LIST ? e_add(fixed(1), sum) : e_add(e_factor(rs, STRING_TRAVERSAL_FACTOR), sum);
      return r;
    }
    break;
  case OV_COMPARE_STRING:
  case OV_EQUALS:
    if (nargs == 2) {
      est_t l = node_size(c, &args[0]), rr = node_size(c, &args[1]);
      uint64_t smallest = l.max < rr.max ? l.max : rr.max;
      r.cost = e_add(e_factor((est_t){smallest > 0 ? 1 : 0, smallest}, STRING_TRAVERSAL_FACTOR), sum);
      return r;
    }
    break;
  default: break;
  }
  r.cost = e_add(fixed(1), sum);
  return r;
}

static est_t cost_call(coster_t *c, const cel_expr_t *e) {
  /* dyn(x) only disables type checking */
  if (!e->target && e->nargs == 1 && !strcmp(e->name, "dyn")) {
    est_t a = cost(c, e->args[0]), s;
    if (compute_size(c, e->args[0], &s))
      set_size(c, e, &s);
    entry_t en = compute_entry(c, e->args[0]);
    set_entry(c, e, &en);
    return e_add(fixed(1), a);
  }
  size_t n = e->nargs;
  est_t *arg_costs = xcalloc(n ? n : 1, sizeof(*arg_costs));
  node_t *args = xcalloc(n ? n : 1, sizeof(*args));
  for (size_t i = 0; i < n; i++) {
    arg_costs[i] = cost(c, e->args[i]);
    args[i] = new_node(c, e->args[i]);
  }
  est_t sum = {0, 0};
  node_t target;
  if (e->target) {
    sum = e_add(sum, cost(c, e->target));
    target = new_node(c, e->target);
  }
  /* the overloads that may apply: the checker's candidates, or the one
   * overload of an operator the checker types itself */
  size_t novl = e->ncands ? e->ncands : 1;
  est_t fn = {UINT64_MAX, 0};
  bool has_rs = false;
  est_t rs = {0, 0};
  for (size_t k = 0; k < novl; k++) {
    const cel__overload_t *o = e->ncands ? e->cands[k] : NULL;
    ov_t ov = classify(e->name, o);
    call_est_t ce = function_cost(c, e, ov, e->target ? &target : NULL, args, arg_costs, n);
    fn = e_union(fn, ce.cost);
    if (ce.has_result_size) {
      rs = has_rs ? e_union(rs, ce.result_size) : ce.result_size;
      has_rs = true;
    }
    if ((ov == OV_INDEX_LIST || ov == OV_INDEX_MAP) && n > 0) {
      entry_t en = compute_entry(c, e->args[0]);
      has_rs = en.set;
      if (en.set)
        rs = en.val;
      info(c, e)->path = path_append(c, get_path(c, e->args[0]), ov == OV_INDEX_LIST ? "@items" : "@values");
    }
    if (!has_rs)
      has_rs = compute_size(c, e, &rs);
  }
  if (has_rs)
    set_size(c, e, &rs);
  free(arg_costs);
  free(args);
  return e_add(sum, fn);
}

static est_t cost_list(coster_t *c, const cel_expr_t *e) {
  est_t sum = {0, 0}, item = {e->nargs ? UINT64_MAX : 0, 0};
  for (size_t i = 0; i < e->nargs; i++) {
    sum = e_add(sum, cost(c, e->args[i]));
    item = e_union(item, size_or_unknown(c, e->args[i]));
  }
  entry_t en = {true, CEL_T_LIST, fixed(1), item};
  set_entry(c, e, &en);
  return e_add(sum, fixed(LIST_CREATE_COST));
}

static est_t cost_map(coster_t *c, const cel_expr_t *e) {
  est_t sum = {0, 0}, ks = {e->nargs ? UINT64_MAX : 0, 0}, vs = ks;
  for (size_t i = 0; i + 1 < e->nargs; i += 2) {
    sum = e_add(sum, cost(c, e->args[i]));
    sum = e_add(sum, cost(c, e->args[i + 1]));
    ks = e_union(ks, size_or_unknown(c, e->args[i]));
    vs = e_union(vs, size_or_unknown(c, e->args[i + 1]));
  }
  entry_t en = {true, CEL_T_MAP, ks, vs};
  set_entry(c, e, &en);
  return e_add(sum, fixed(MAP_CREATE_COST));
}

/* A comprehension as cel-go's macros build it: accumulator init, loop
 * condition, loop step and result, costed as cel-go costs those nodes. */
static est_t cost_comprehension(coster_t *c, const cel_expr_t *e) {
  est_t sum = cost(c, e->range);
  const est_t ident = fixed(1);
  /* the accumulator's initial value: true / false / 0 / [] */
  bool list_accu = e->macro == CEL_M_MAP || e->macro == CEL_M_FILTER;
  if (list_accu)
    sum = e_add(sum, fixed(LIST_CREATE_COST));
  /* the iteration variable (pushIterSingle) */
  entry_t ren = compute_entry(c, e->range);
  cel_tkind_t container = ren.set ? ren.kind : (e->range->type ? e->range->type->kind : CEL_T_DYN);
  local_t l = {.name = e->iter_var};
  if (container == CEL_T_LIST) {
    l.has_size = ren.set;
    l.size = ren.val;
    l.path = path_append(c, get_path(c, e->range), "@items");
  } else {
    l.has_size = ren.set;
    l.size = ren.key;
    l.path = path_append(c, get_path(c, e->range), "@keys");
  }
  c->locals = xrealloc(c->locals, (c->nlocals + 1) * sizeof(*c->locals));
  c->locals[c->nlocals++] = l;
  est_t loop = {0, 0}, step = {0, 0}, result = ident;
  entry_t accu_entry = {true, CEL_T_LIST, fixed(1), {0, 0}}; /* of [] */
  switch (e->macro) {
  case CEL_M_ALL:
  case CEL_M_EXISTS: {
    /* all: @not_strictly_false(accu), accu && pred;
     * exists: @not_strictly_false(!accu), accu || pred */
    loop = e->macro == CEL_M_ALL ? e_add(fixed(1), ident) : e_add(fixed(1), e_add(fixed(1), ident));
    est_t p = cost(c, e->pred);
    step = (est_t){ident.min, e_add(ident, p).max};
    break;
  }
  case CEL_M_EXISTS_ONE: {
    /* pred ? accu + 1 : accu; result accu == 1 */
    est_t p = cost(c, e->pred);
    est_t inc = e_add(fixed(1), ident);
    step = e_add(p, e_union(inc, ident));
    result = e_add(e_factor(fixed(1), STRING_TRAVERSAL_FACTOR), ident);
    break;
  }
  case CEL_M_MAP:
  case CEL_M_FILTER: {
    /* accu + [x or fn], under filter ? ... : accu */
    const cel_expr_t *elem = e->macro == CEL_M_MAP ? e->pred : NULL;
    est_t f = {0, 0}, fc = {0, 0};
    if (e->filter)
      fc = cost(c, e->filter);
    est_t es;
    if (elem) {
      f = cost(c, elem);
      es = size_or_unknown(c, elem);
    } else {
      f = ident;
      const cel_type_t *rt = e->range->type;
      const cel_type_t *xt = rt && rt->kind == CEL_T_LIST ? rt->elem : rt && rt->kind == CEL_T_MAP ? rt->key : NULL;
      if (!ident_size(c, e->iter_var, xt, &es))
        es = UNKNOWN;
    }
    est_t lit = e_add(f, fixed(LIST_CREATE_COST)); /* [x] */
    est_t add = e_add(fixed(1), e_add(ident, lit));
    entry_t lit_entry = {true, CEL_T_LIST, fixed(1), es};
    entry_t step_entry = entry_union(&accu_entry, &lit_entry);
    step = add;
    if (e->filter) {
      step = e_add(fc, e_union(add, ident));
      step_entry = entry_union(&step_entry, &accu_entry);
    }
    set_entry(c, e, &step_entry);
    break;
  }
  }
  c->nlocals--;
  sum = e_add(sum, result);
  est_t range_cnt = size_or_unknown(c, e->range);
  sum = e_add(sum, e_mul(range_cnt, e_add(step, loop)));
  if (list_accu)
    set_size(c, e, &range_cnt);
  else {
    est_t one = fixed(1);
    set_size(c, e, &one);
  }
  return sum;
}

static est_t cost(coster_t *c, const cel_expr_t *e) {
  if (!e)
    return (est_t){0, 0};
  switch (e->kind) {
  case CEL_E_CONST: return (est_t){0, 0};
  case CEL_E_IDENT: {
    const local_t *l = find_local(c, e->name);
    if (l)
      info(c, e)->path = l->path;
    else {
      path_t p = {0};
      info(c, e)->path = path_append(c, p, e->name);
    }
    return fixed(1);
  }
  case CEL_E_SELECT: {
    /* has(): Kubernetes keeps presence tests free (PresenceTestHasCost(false)) */
    est_t s = cost(c, e->target);
    if (e->test_only)
      return s;
    cel_tkind_t k = e->target->type ? e->target->type->kind : CEL_T_DYN;
    if (k == CEL_T_MAP || k == CEL_T_OBJECT || k == CEL_T_PARAM)
      s = e_add(s, fixed(1));
    info(c, e)->path = path_append(c, get_path(c, e->target), e->name);
    return s;
  }
  case CEL_E_CALL: return cost_call(c, e);
  case CEL_E_LIST: return cost_list(c, e);
  case CEL_E_MAP: return cost_map(c, e);
  case CEL_E_STRUCT: {
    est_t s = fixed(STRUCT_CREATE_COST);
    for (size_t i = 0; i < e->nargs; i++)
      s = e_add(s, cost(c, e->args[i]));
    return s;
  }
  case CEL_E_COMPREHENSION: return cost_comprehension(c, e);
  }
  return (est_t){0, 0};
}

uint64_t cel__cost_estimate(const cel_program_t *p) {
  if (!p || !p->root)
    return 0;
  coster_t c = {.p = p};
  const cel__var_t *self = p->env ? cel__env_var(p->env, "self") : NULL;
  c.root = self ? self->type : NULL;
  size_t n = count_nodes(p->root) + 64;
  c.cap = 64;
  while (c.cap < 2 * n)
    c.cap <<= 1;
  c.tab = xcalloc(c.cap, sizeof(*c.tab));
  est_t r = cost(&c, p->root);
  for (size_t i = 0; i < c.nallocs; i++)
    free(c.allocs[i]);
  free(c.allocs);
  free(c.locals);
  free(c.tab);
  return r.max;
}
