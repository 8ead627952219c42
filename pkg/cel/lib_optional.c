/* CEL optional values (CEL_LIB_OPTIONALS), as cel-go's cel.OptionalTypes:
 * optional.of/none/ofNonZeroValue, hasValue, value, orValue, or,
 * indexing an optional list or map, and (version 2) list first/last,
 * optional.unwrap and unwrapOpt. The ?. and [?] selections and the
 * optMap/optFlatMap macros are the evaluator's.
 * https://github.com/google/cel-spec/wiki/proposal-246 */
#include <string.h>

#include "cel/lib.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost

FN(opt_of) {
  UNUSED;
  return cel_optional(cel_value_ref(args[0]));
}
FN(opt_none) {
  UNUSED;
  return cel_optional(NULL);
}

/* cel-go's IsZeroValue */
static bool is_zero(const cel_value_t *v) {
  size_t len;
  int64_t s;
  int32_t ns;
  switch (cel_value_kind(v)) {
  case CEL_NULL:
    return true;
  case CEL_BOOL:
    return !cel_value_bool(v);
  case CEL_INT:
    return cel_value_int(v) == 0;
  case CEL_UINT:
    return cel_value_uint(v) == 0;
  case CEL_DOUBLE:
    return cel_value_double(v) == 0;
  case CEL_STRING:
  case CEL_BYTES:
    cel_value_str(v, &len);
    return len == 0;
  case CEL_LIST:
    return cel_list_len(v) == 0;
  case CEL_MAP:
    return cel_map_len(v) == 0;
  case CEL_TIMESTAMP:
  case CEL_DURATION:
    cel_value_time(v, &s, &ns);
    return s == 0 && ns == 0;
  case CEL_OPTIONAL:
    return cel_value_optional(v) == NULL;
  default:
    return false;
  }
}

FN(opt_of_non_zero) {
  UNUSED;
  return cel_optional(is_zero(args[0]) ? NULL : cel_value_ref(args[0]));
}
FN(opt_has_value) {
  UNUSED;
  return cel_bool(cel_value_optional(args[0]) != NULL);
}
FN(opt_value) {
  UNUSED;
  cel_value_t *v = cel_value_optional(args[0]);
  if (!v)
    return cel_errorf("optional.none() dereference");
  return cel_value_ref(v);
}
FN(opt_or_value) {
  UNUSED;
  cel_value_t *v = cel_value_optional(args[0]);
  return cel_value_ref(v ? v : args[1]);
}
FN(opt_or) {
  UNUSED;
  return cel_value_ref(cel_value_optional(args[0]) ? args[0] : args[1]);
}

/* optional.of(l)[i] / optional.of(m)[k]: the element, or none where the
 * plain index would fail */
FN(opt_index) {
  (void)nargs;
  (void)ret_cost;
  cel_value_t *c = cel_value_optional(args[0]);
  if (!c)
    return cel_optional(NULL);
  if (cel_value_kind(c) == CEL_MAP) {
    cel_value_t *v = cel_map_get(c, args[1]);
    return cel_optional(v ? cel_value_ref(v) : NULL);
  }
  if (cel_value_kind(c) == CEL_LIST) {
    int64_t i;
    if (cel_value_kind(args[1]) == CEL_INT)
      i = cel_value_int(args[1]);
    else if (cel_value_kind(args[1]) == CEL_UINT && cel_value_uint(args[1]) <= INT64_MAX)
      i = (int64_t)cel_value_uint(args[1]);
    else
      return cel_errorf("unsupported index type '%s' in list", cel_value_type_name(args[1]));
    if (i < 0 || (uint64_t)i >= cel_list_len(c))
      return cel_optional(NULL);
    return cel_optional(cel_value_ref(cel_list_at(c, (size_t)i)));
  }
  return cel_errorf("no such overload");
}

FN(list_first) {
  UNUSED;
  size_t n = cel_list_len(args[0]);
  return cel_optional(n ? cel_value_ref(cel_list_at(args[0], 0)) : NULL);
}
FN(list_last) {
  UNUSED;
  size_t n = cel_list_len(args[0]);
  return cel_optional(n ? cel_value_ref(cel_list_at(args[0], n - 1)) : NULL);
}

/* optional.unwrap / unwrapOpt: the values of the optionals that have one */
FN(opt_unwrap) {
  (void)nargs;
  size_t n = cel_list_len(args[0]);
  cel__cost(ret_cost, n);
  cel_value_t *l = cel_list_new(n);
  for (size_t i = 0; i < n; i++) {
    cel_value_t *e = cel_list_at(args[0], i);
    if (cel_value_kind(e) != CEL_OPTIONAL) {
      cel_value_unref(l);
      return cel_errorf("no such overload");
    }
    if (cel_value_optional(e))
      cel_list_push(l, cel_value_ref(cel_value_optional(e)));
  }
  return l;
}

static const cel_overload_t overloads[] = {
  {"optional.of(A) optional(A)", opt_of},
  {"optional.none() optional(dyn)", opt_none},
  {"optional.ofNonZeroValue(A) optional(A)", opt_of_non_zero},
  {"optional(A).hasValue() bool", opt_has_value},
  {"optional(A).value() A", opt_value},
  {"optional(A).orValue(A) A", opt_or_value},
  {"optional(A).or(optional(A)) optional(A)", opt_or},
  {"_[_](optional(list(A)), int) optional(A)", opt_index},
  {"_[_](optional(map(K, V)), K) optional(V)", opt_index},
  {"list(A).first() optional(A)", list_first},
  {"list(A).last() optional(A)", list_last},
  {"optional.unwrap(list(optional(A))) list(A)", opt_unwrap},
  {"list(optional(A)).unwrapOpt() list(A)", opt_unwrap},
};

const cel_library_t cel_lib_optional = {CEL_LIB_OPTIONALS, overloads, CEL__N(overloads)};
