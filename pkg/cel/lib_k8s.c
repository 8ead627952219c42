/* Kubernetes' CEL libraries (CEL_LIB_K8S), k8s.io/apiserver/pkg/cel/library:
 * lists.go (isSorted sum min max indexOf lastIndexOf), regex.go (find
 * findAll) and quantity.go (quantity, isQuantity, sign, comparisons,
 * arithmetic, conversions). Error texts are upstream's. The network types
 * (url, ip, cidr) are lib_k8s_net.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"
#include "util/quantity.h"
#include "util/regex.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost

/* ---- lists ---- */

/* Kubernetes charges these list walks one traversal of the list */
static void cost_list(uint64_t *ret_cost, const cel_value_t *l) {
  cel__cost(ret_cost, cel__traversal_cost(l));
}

FN(is_sorted) {
  (void)nargs;
  const cel_value_t *l = args[0];
  size_t n = cel_list_len(l);
  cost_list(ret_cost, l);
  for (size_t i = 1; i < n; i++) {
    int c = cel_value_compare(cel_list_at(l, i - 1), cel_list_at(l, i));
    if (c == -2)
      return cel_errorf("no such overload");
    if (c == 1)
      return cel_bool(false);
  }
  return cel_bool(true);
}

static cel_value_t *sum_of(const cel_value_t *l, cel_kind_t k) {
  size_t n = cel_list_len(l);
  int64_t si = 0;
  uint64_t su = 0;
  double sd = 0;
  for (size_t i = 0; i < n; i++) {
    const cel_value_t *e = cel_list_at(l, i);
    if (cel_value_kind(e) != k)
      return cel_errorf("no such overload");
    switch (k) {
    case CEL_INT:
      if (__builtin_add_overflow(si, cel_value_int(e), &si))
        return cel_errorf("integer overflow");
      break;
    case CEL_UINT:
      if (__builtin_add_overflow(su, cel_value_uint(e), &su))
        return cel_errorf("unsigned integer overflow");
      break;
    case CEL_DOUBLE:
      sd += cel_value_double(e);
      break;
    default: { /* duration */
      int64_t s;
      int32_t ns;
      cel_value_time(e, &s, &ns);
      if (__builtin_add_overflow(si, s * 1000000000 + ns, &si))
        return cel_errorf("integer overflow");
    }
    }
  }
  switch (k) {
  case CEL_INT:
    return cel_int(si);
  case CEL_UINT:
    return cel_uint(su);
  case CEL_DOUBLE:
    return cel_double(sd);
  default:
    return cel_duration(si / 1000000000, (int32_t)(si % 1000000000));
  }
}

#define SUM(fn, k)                                                                                  \
  FN(fn) {                                                                                          \
    (void)nargs;                                                                                    \
    cost_list(ret_cost, args[0]);                                                                   \
    return sum_of(args[0], k);                                                                      \
  }
SUM(sum_int, CEL_INT)
SUM(sum_uint, CEL_UINT)
SUM(sum_double, CEL_DOUBLE)
SUM(sum_duration, CEL_DURATION)

static cel_value_t *extreme(const cel_value_t *l, const char *op, int prefer) {
  size_t n = cel_list_len(l);
  if (n == 0)
    return cel_errorf("%s called on empty list", op);
  const cel_value_t *best = cel_list_at(l, 0);
  for (size_t i = 1; i < n; i++) {
    const cel_value_t *e = cel_list_at(l, i);
    int c = cel_value_compare(best, e);
    if (c == -2)
      return cel_errorf("no such overload");
    if (c == prefer)
      best = e;
  }
  return cel_value_ref((cel_value_t *)best);
}
FN(list_min) {
  (void)nargs;
  cost_list(ret_cost, args[0]);
  return extreme(args[0], "min", 1);
}
FN(list_max) {
  (void)nargs;
  cost_list(ret_cost, args[0]);
  return extreme(args[0], "max", -1);
}

FN(list_index_of) {
  (void)nargs;
  size_t n = cel_list_len(args[0]);
  cost_list(ret_cost, args[0]);
  for (size_t i = 0; i < n; i++)
    if (cel_value_equal(cel_list_at(args[0], i), args[1]))
      return cel_int((int64_t)i);
  return cel_int(-1);
}
FN(list_last_index_of) {
  (void)nargs;
  size_t n = cel_list_len(args[0]);
  cost_list(ret_cost, args[0]);
  for (size_t i = n; i-- > 0;)
    if (cel_value_equal(cel_list_at(args[0], i), args[1]))
      return cel_int((int64_t)i);
  return cel_int(-1);
}

/* ---- regex ---- */

/* Go's regexp.Compile of the pattern argument, or an error value */
static cel_value_t *compile(const cel_value_t *pat, regex_prog_t **ret) {
  char err[512];
  if (regex_prog_compile(cel_value_str(pat, NULL), ret, err, sizeof(err)) < 0)
    return cel_errorf("Illegal regex: %s", err);
  return NULL;
}

FN(find) {
  (void)nargs;
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  regex_prog_t *re;
  cel_value_t *err = compile(args[1], &re);
  if (err)
    return err;
  uint64_t budget = CEL__REGEX_BUDGET;
  size_t b, e;
  int r = regex_prog_find(re, s, len, 0, &b, &e, &budget);
  regex_prog_free(re);
  cel__cost(ret_cost, cel__tenth(1 + cel__size(args[0])) * cel__quarter(cel__size(args[1])));
  if (r < 0)
    return cel_errorf(CEL__ERR_COST);
  return r == 1 ? cel_string(s + b, e - b) : cel_string("", 0);
}

FN(find_all) {
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  int64_t n = nargs > 2 ? cel_value_int(args[2]) : -1;
  regex_prog_t *re;
  cel_value_t *err = compile(args[1], &re);
  if (err)
    return err;
  cel__cost(ret_cost, cel__tenth(1 + cel__size(args[0])) * cel__quarter(cel__size(args[1])));
  cel_value_t *l = cel_list_new(0);
  uint64_t budget = CEL__REGEX_BUDGET;
  regex_iter_t it = {0};
  size_t b, e;
  for (int64_t k = 0; n < 0 || k < n; k++) {
    int r = regex_prog_find_next(re, s, len, &it, &b, &e, &budget);
    if (r < 0) {
      cel_value_unref(l);
      regex_prog_free(re);
      return cel_errorf(CEL__ERR_COST);
    }
    if (r == 0)
      break;
    cel_list_push(l, cel_string(s + b, e - b));
  }
  regex_prog_free(re);
  return l;
}

/* ---- quantity ---- */

#define QUANTITY "kubernetes.Quantity"

static bool q_equal(const void *a, const void *b) {
  return quantity_cmp(a, b) == 0;
}
static const cel_opaque_type_t quantity_type = {QUANTITY, free, q_equal};

static const quantity_t *Q(const cel_value_t *v) {
  return cel_value_opaque(v);
}
static cel_value_t *q_value(const quantity_t *q) {
  quantity_t *c = xmalloc(sizeof(*c));
  *c = *q;
  return cel_opaque(&quantity_type, c);
}

FN(to_quantity) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  quantity_t q;
  const char *err;
  if (quantity_parse(s, len, &q, &err) < 0)
    return cel_errorf("%s", err);
  return q_value(&q);
}
FN(is_quantity) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  quantity_t q;
  const char *err;
  return cel_bool(quantity_parse(s, len, &q, &err) == 0);
}
FN(q_sign) {
  UNUSED;
  return cel_int(quantity_sign(Q(args[0])));
}
FN(q_greater) {
  UNUSED;
  return cel_bool(quantity_cmp(Q(args[0]), Q(args[1])) == 1);
}
FN(q_less) {
  UNUSED;
  return cel_bool(quantity_cmp(Q(args[0]), Q(args[1])) == -1);
}
FN(q_compare) {
  UNUSED;
  return cel_int(quantity_cmp(Q(args[0]), Q(args[1])));
}

/* The value as int64 if whole and in range (upstream's AsInt64). */
static bool q_int64(const quantity_t *q, int64_t *ret) {
  if (!quantity_is_integer(q))
    return false;
  if (q->n == 0) {
    *ret = 0;
    return true;
  }
  if (q->exp < 0 || (int64_t)q->n + q->exp > 19)
    return false;
  uint64_t v = 0;
  for (int64_t i = 0; i < (int64_t)q->n + q->exp; i++) {
    unsigned d = i < q->n ? q->d[i] : 0;
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  if (q->neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
    return false;
  *ret = q->neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

FN(q_is_integer) {
  UNUSED;
  int64_t v;
  return cel_bool(q_int64(Q(args[0]), &v));
}
FN(q_as_integer) {
  UNUSED;
  int64_t v;
  if (!q_int64(Q(args[0]), &v))
    return cel_errorf("cannot convert value to integer");
  return cel_int(v);
}
FN(q_as_float) {
  UNUSED;
  const quantity_t *q = Q(args[0]);
  if (q->n == 0)
    return cel_double(0);
  char buf[QUANTITY_DIGITS_MAX + 32];
  size_t o = 0;
  if (q->neg)
    buf[o++] = '-';
  for (int i = 0; i < q->n; i++)
    buf[o++] = (char)('0' + q->d[i]);
  snprintf(buf + o, sizeof(buf) - o, "e%d", (int)q->exp);
  return cel_double(strtod(buf, NULL)); /* ±Inf beyond the range, as upstream */
}

static cel_value_t *q_sum(const quantity_t *a, const quantity_t *b, bool negate_b) {
  quantity_t r = *a, y = *b;
  if (negate_b && y.n)
    y.neg = !y.neg;
  y.text[0] = 0;
  r.text[0] = 0;
  if (quantity_add(&r, &y) < 0)
    return cel_errorf("quantity overflow");
  return q_value(&r);
}
static void q_of_int(int64_t i, quantity_t *q) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%" PRId64, i);
  const char *err;
  quantity_parse(buf, (size_t)n, q, &err); /* an integer always parses */
  q->format = QUANTITY_DECIMAL_EXPONENT; /* resource.NewQuantity(i, DecimalExponent) */
  q->text[0] = 0;
}
FN(q_add) {
  UNUSED;
  return q_sum(Q(args[0]), Q(args[1]), false);
}
FN(q_sub) {
  UNUSED;
  return q_sum(Q(args[0]), Q(args[1]), true);
}
FN(q_add_int) {
  UNUSED;
  quantity_t y;
  q_of_int(cel_value_int(args[1]), &y);
  return q_sum(Q(args[0]), &y, false);
}
FN(q_sub_int) {
  UNUSED;
  quantity_t y;
  q_of_int(cel_value_int(args[1]), &y);
  return q_sum(Q(args[0]), &y, true);
}

static const cel_overload_t overloads[] = {
#define SORTABLE(t)                                                                                \
  {"list(" t ").isSorted() bool", is_sorted}, {"list(" t ").min() " t, list_min}, {"list(" t ").max() " t, list_max}
  SORTABLE("int"),
  SORTABLE("uint"),
  SORTABLE("double"),
  SORTABLE("bool"),
  SORTABLE("duration"),
  SORTABLE("timestamp"),
  SORTABLE("string"),
  SORTABLE("bytes"),
#undef SORTABLE
  {"list(int).sum() int", sum_int},
  {"list(uint).sum() uint", sum_uint},
  {"list(double).sum() double", sum_double},
  {"list(duration).sum() duration", sum_duration},
  {"list(A).indexOf(A) int", list_index_of},
  {"list(A).lastIndexOf(A) int", list_last_index_of},
  {"string.find(string) string", find},
  {"string.findAll(string) list(string)", find_all},
  {"string.findAll(string, int) list(string)", find_all},
  {"quantity(string) " QUANTITY, to_quantity},
  {"isQuantity(string) bool", is_quantity},
  {"sign(" QUANTITY ") int", q_sign},
  {QUANTITY ".isGreaterThan(" QUANTITY ") bool", q_greater},
  {QUANTITY ".isLessThan(" QUANTITY ") bool", q_less},
  {QUANTITY ".compareTo(" QUANTITY ") int", q_compare},
  {QUANTITY ".asApproximateFloat() double", q_as_float},
  {QUANTITY ".asInteger() int", q_as_integer},
  {QUANTITY ".isInteger() bool", q_is_integer},
  {QUANTITY ".add(" QUANTITY ") " QUANTITY, q_add},
  {QUANTITY ".add(int) " QUANTITY, q_add_int},
  {QUANTITY ".sub(" QUANTITY ") " QUANTITY, q_sub},
  {QUANTITY ".sub(int) " QUANTITY, q_sub_int},
};

const cel_library_t cel_lib_k8s = {CEL_LIB_K8S, overloads, CEL__N(overloads)};
