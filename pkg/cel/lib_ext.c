/* cel-go extension libraries Kubernetes adds to its CEL environment
 * (k8s.io/apiserver/pkg/cel/environment/base.go), offered with
 * CEL_LIB_K8S: ext.Sets (sets.contains, sets.equivalent, sets.intersects)
 * and ext.Lists version 2 (slice, flatten, sort, @sortByAssociatedKeys for
 * the sortBy macro, lists.range, reverse, distinct). Behaviour and error
 * texts as cel-go's ext/sets.go and ext/lists.go. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost

/* Longest list lists.range builds: beyond it the call's cost alone is
 * over any evaluation's budget. */
#define RANGE_MAX 10000000

/* ---- a set of values for distinct and the set functions ---- */

/* A hash consistent with cel_value_equal for the scalar kinds (numbers
 * hash by value across int/uint/double); other kinds hash to 0 and are
 * compared one by one. */
static uint64_t vhash(const cel_value_t *v) {
  uint64_t h = 1469598103934665603ULL;
  size_t len;
  const char *s;
  switch (cel_value_kind(v)) {
  case CEL_INT: {
    int64_t i = cel_value_int(v);
    return (uint64_t)i * 0x9e3779b97f4a7c15ULL + 1;
  }
  case CEL_UINT:
    return cel_value_uint(v) * 0x9e3779b97f4a7c15ULL + 1;
  case CEL_DOUBLE: {
    double d = cel_value_double(v);
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d)
      return (uint64_t)(int64_t)d * 0x9e3779b97f4a7c15ULL + 1;
    if (d >= 0 && d < 18446744073709551616.0 && d == (double)(uint64_t)d)
      return (uint64_t)d * 0x9e3779b97f4a7c15ULL + 1;
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    return bits * 0x9e3779b97f4a7c15ULL + 2;
  }
  case CEL_STRING:
  case CEL_BYTES:
    s = cel_value_str(v, &len);
    for (size_t i = 0; i < len; i++)
      h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h + (uint64_t)cel_value_kind(v);
  case CEL_BOOL:
    return cel_value_bool(v) ? 3 : 4;
  case CEL_NULL:
    return 5;
  default:
    return 0;
  }
}

typedef struct {
  const cel_value_t **slot;
  size_t cap, n;
} vset_t;

static void vset_init(vset_t *s, size_t n) {
  s->cap = 16;
  while (s->cap < n * 2)
    s->cap *= 2;
  s->slot = xcalloc(s->cap, sizeof(*s->slot));
  s->n = 0;
}
static void vset_done(vset_t *s) {
  free(s->slot);
}
/* whether v is in s; with add, puts it in when absent */
static bool vset_has(vset_t *s, const cel_value_t *v, bool add) {
  size_t i = (size_t)(vhash(v) & (s->cap - 1));
  for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
    if (cel_value_equal(s->slot[i], v))
      return true;
  if (add) {
    s->slot[i] = v;
    s->n++;
  }
  return false;
}

static vset_t set_of(const cel_value_t *l) {
  vset_t s;
  size_t n = cel_list_len(l);
  vset_init(&s, n);
  for (size_t i = 0; i < n; i++)
    vset_has(&s, cel_list_at(l, i), true);
  return s;
}

/* every element of b is in a */
static bool contains_all(const cel_value_t *a, const cel_value_t *b) {
  vset_t s = set_of(a);
  bool ok = true;
  for (size_t i = 0; ok && i < cel_list_len(b); i++)
    ok = vset_has(&s, cel_list_at(b, i), false);
  vset_done(&s);
  return ok;
}

static void cost2(uint64_t *ret_cost, const cel_value_t *a, const cel_value_t *b) {
  if (ret_cost)
    *ret_cost = 1 + cel_list_len(a) + cel_list_len(b);
}

FN(sets_contains) {
  (void)nargs;
  cost2(ret_cost, args[0], args[1]);
  return cel_bool(contains_all(args[0], args[1]));
}
FN(sets_equivalent) {
  (void)nargs;
  cost2(ret_cost, args[0], args[1]);
  return cel_bool(contains_all(args[0], args[1]) && contains_all(args[1], args[0]));
}
FN(sets_intersects) {
  (void)nargs;
  cost2(ret_cost, args[0], args[1]);
  vset_t s = set_of(args[0]);
  bool any = false;
  for (size_t i = 0; !any && i < cel_list_len(args[1]); i++)
    any = vset_has(&s, cel_list_at(args[1], i), false);
  vset_done(&s);
  return cel_bool(any);
}

/* ---- lists ---- */

FN(list_slice) {
  (void)nargs;
  const cel_value_t *l = args[0];
  int64_t start = cel_value_int(args[1]), end = cel_value_int(args[2]), n = (int64_t)cel_list_len(l);
  if (start < 0 || end < 0)
    return cel_errorf("cannot slice(%lld, %lld), negative indexes not supported", (long long)start, (long long)end);
  if (start > end)
    return cel_errorf("cannot slice(%lld, %lld), start index must be less than or equal to end index",
                      (long long)start, (long long)end);
  if (n < end)
    return cel_errorf("cannot slice(%lld, %lld), list is length %lld", (long long)start, (long long)end, (long long)n);
  cel_value_t *r = cel_list_new((size_t)(end - start));
  for (int64_t i = start; i < end; i++)
    cel_list_push(r, cel_value_ref(cel_list_at(l, (size_t)i)));
  if (ret_cost)
    *ret_cost = 1 + (uint64_t)(end - start);
  return r;
}

static void flatten_into(cel_value_t *out, const cel_value_t *l, int64_t depth, uint64_t *count) {
  for (size_t i = 0; i < cel_list_len(l); i++) {
    cel_value_t *e = cel_list_at(l, i);
    (*count)++;
    if (cel_value_kind(e) != CEL_LIST || depth == 0)
      cel_list_push(out, cel_value_ref(e));
    else
      flatten_into(out, e, depth - 1, count);
  }
}
FN(list_flatten) {
  int64_t depth = nargs > 1 ? cel_value_int(args[1]) : 1;
  if (depth < 0)
    return cel_errorf("level must be non-negative");
  /* nesting is bounded by the parser's depth limit, so recursion is too */
  if (depth > 1000)
    depth = 1000;
  cel_value_t *r = cel_list_new(cel_list_len(args[0]));
  uint64_t count = 0;
  flatten_into(r, args[0], depth, &count);
  if (ret_cost)
    *ret_cost = 1 + count;
  return r;
}

/* sort: indices ordered by their keys */
static _Thread_local const cel_value_t *sort_keys;
static int cmp_idx(const void *a, const void *b) {
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  int c = cel_value_compare(cel_list_at(sort_keys, i), cel_list_at(sort_keys, j));
  if (c == 0 || c == -2)
    return i < j ? -1 : i > j; /* stable */
  return c;
}

static cel_value_t *sort_by_keys(const cel_value_t *list, const cel_value_t *keys, uint64_t *ret_cost) {
  size_t n = cel_list_len(list), nk = cel_list_len(keys);
  if (n != nk)
    return cel_errorf("@sortByAssociatedKeys() expected a list of the same size as the associated keys list, but "
                      "got %zu and %zu elements respectively",
                      n, nk);
  if (n == 0)
    return cel_value_ref((cel_value_t *)list);
  cel_kind_t k = cel_value_kind(cel_list_at(keys, 0));
  if (k != CEL_INT && k != CEL_UINT && k != CEL_DOUBLE && k != CEL_BOOL && k != CEL_STRING && k != CEL_BYTES &&
      k != CEL_TIMESTAMP && k != CEL_DURATION)
    return cel_errorf("list elements must be comparable");
  for (size_t i = 1; i < n; i++)
    if (cel_value_kind(cel_list_at(keys, i)) != k)
      return cel_errorf("list elements must have the same type");
  size_t *idx = xmalloc(n * sizeof(*idx));
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  sort_keys = keys;
  qsort(idx, n, sizeof(*idx), cmp_idx);
  sort_keys = NULL;
  cel_value_t *r = cel_list_new(n);
  for (size_t i = 0; i < n; i++)
    cel_list_push(r, cel_value_ref(cel_list_at(list, idx[i])));
  free(idx);
  if (ret_cost) {
    uint64_t lg = 1;
    while ((1ULL << lg) < n)
      lg++;
    *ret_cost = 1 + n * lg;
  }
  return r;
}
FN(list_sort) {
  (void)nargs;
  return sort_by_keys(args[0], args[0], ret_cost);
}
FN(list_sort_by_keys) {
  (void)nargs;
  return sort_by_keys(args[0], args[1], ret_cost);
}

FN(lists_range) {
  (void)nargs;
  int64_t n = cel_value_int(args[0]);
  if (n > RANGE_MAX)
    return cel_errorf(CEL__ERR_COST);
  cel_value_t *r = cel_list_new(n > 0 ? (size_t)n : 0);
  for (int64_t i = 0; i < n; i++)
    cel_list_push(r, cel_int(i));
  if (ret_cost)
    *ret_cost = 1 + (n > 0 ? (uint64_t)n : 0);
  return r;
}

FN(list_reverse) {
  (void)nargs;
  size_t n = cel_list_len(args[0]);
  cel_value_t *r = cel_list_new(n);
  for (size_t i = n; i-- > 0;)
    cel_list_push(r, cel_value_ref(cel_list_at(args[0], i)));
  if (ret_cost)
    *ret_cost = 1 + n;
  return r;
}

FN(list_distinct) {
  (void)nargs;
  size_t n = cel_list_len(args[0]);
  vset_t s;
  vset_init(&s, n);
  cel_value_t *r = cel_list_new(n);
  for (size_t i = 0; i < n; i++) {
    cel_value_t *e = cel_list_at(args[0], i);
    if (!vset_has(&s, e, true))
      cel_list_push(r, cel_value_ref(e));
  }
  vset_done(&s);
  if (ret_cost)
    *ret_cost = 1 + n;
  return r;
}

static const cel_overload_t overloads[] = {
  {"sets.contains(list(A), list(A)) bool", sets_contains},
  {"sets.equivalent(list(A), list(A)) bool", sets_equivalent},
  {"sets.intersects(list(A), list(A)) bool", sets_intersects},
  {"list(A).slice(int, int) list(A)", list_slice},
  {"list(list(A)).flatten() list(A)", list_flatten},
  {"list(dyn).flatten(int) list(dyn)", list_flatten},
#define SORTABLE(t)                                                                                \
  {"list(" t ").sort() list(" t ")", list_sort}, {"list(A).@sortByAssociatedKeys(list(" t ")) list(A)", list_sort_by_keys}
  SORTABLE("int"),
  SORTABLE("uint"),
  SORTABLE("double"),
  SORTABLE("bool"),
  SORTABLE("duration"),
  SORTABLE("timestamp"),
  SORTABLE("string"),
  SORTABLE("bytes"),
#undef SORTABLE
  {"lists.range(int) list(int)", lists_range},
  {"list(A).reverse() list(A)", list_reverse},
  {"list(A).distinct() list(A)", list_distinct},
};

const cel_library_t cel_lib_ext = {CEL_LIB_K8S, overloads, CEL__N(overloads)};
