/* CEL values and the interface libraries use to add functions.
 * Values are immutable and reference counted (a list shares its
 * elements, a map its keys and values). Errors are values too (CEL's
 * error propagation: `false && error` is false), as are unknowns.
 * Owned by pkg/cel; the library files (lib_*.c) use only this header. */
#ifndef K3C_CEL_VALUE_H
#define K3C_CEL_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cel/cel.h"

typedef enum {
  CEL_NULL,
  CEL_BOOL,
  CEL_INT,    /* int64 */
  CEL_UINT,   /* uint64 */
  CEL_DOUBLE,
  CEL_STRING, /* UTF-8, length-counted */
  CEL_BYTES,
  CEL_LIST,
  CEL_MAP,    /* keys: bool, int, uint, string; an object of a schema is a map too */
  CEL_TYPE,   /* a type value: type(x), int, list ... */
  CEL_TIMESTAMP,
  CEL_DURATION,
  CEL_OPTIONAL,
  CEL_OPAQUE, /* a library's type: net.IP, net.CIDR, URL, Quantity, Regex... */
  CEL_ERROR,
} cel_kind_t;

/* A library type's operations. name is the CEL type name ("net.IP"). */
typedef struct {
  const char *name;
  void (*free)(void *data);
  bool (*equal)(const void *a, const void *b); /* NULL: identity */
} cel_opaque_type_t;

cel_kind_t cel_value_kind(const cel_value_t *v);
cel_value_t *cel_value_ref(cel_value_t *v);
void cel_value_unref(cel_value_t *v); /* accepts NULL */

/* constructors: each returns a new reference */
cel_value_t *cel_null(void);
cel_value_t *cel_bool(bool b);
cel_value_t *cel_int(int64_t i);
cel_value_t *cel_uint(uint64_t u);
cel_value_t *cel_double(double d);
cel_value_t *cel_string(const char *s, size_t len);  /* copies; caller has checked UTF-8 */
cel_value_t *cel_stringz(const char *s);
cel_value_t *cel_bytes(const void *p, size_t len);
cel_value_t *cel_timestamp(int64_t seconds, int32_t nanos);   /* range checked by caller */
cel_value_t *cel_duration(int64_t seconds, int32_t nanos);
cel_value_t *cel_optional(cel_value_t *v);  /* takes v; NULL: optional.none() */
cel_value_t *cel_opaque(const cel_opaque_type_t *t, void *data);  /* takes data */
/* An error value; fmt as printf. The message is upstream's text. */
cel_value_t *cel_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* lists: build with cel_list_new + cel_list_push (takes v), then use */
cel_value_t *cel_list_new(size_t capacity);
void cel_list_push(cel_value_t *list, cel_value_t *v);
size_t cel_list_len(const cel_value_t *list);
cel_value_t *cel_list_at(const cel_value_t *list, size_t i); /* borrowed */

/* maps: cel_map_put takes key and value; a duplicate key replaces */
cel_value_t *cel_map_new(size_t capacity);
void cel_map_put(cel_value_t *map, cel_value_t *key, cel_value_t *value);
size_t cel_map_len(const cel_value_t *map);
cel_value_t *cel_map_get(const cel_value_t *map, const cel_value_t *key); /* borrowed, NULL if absent */
cel_value_t *cel_map_getz(const cel_value_t *map, const char *key);       /* borrowed, NULL if absent */
void cel_map_entry(const cel_value_t *map, size_t i, cel_value_t **ret_key, cel_value_t **ret_value); /* borrowed */

/* readers: valid only for a value of the matching kind */
bool cel_value_bool(const cel_value_t *v);
int64_t cel_value_int(const cel_value_t *v);
uint64_t cel_value_uint(const cel_value_t *v);
double cel_value_double(const cel_value_t *v);
const char *cel_value_str(const cel_value_t *v, size_t *ret_len); /* string/bytes; NUL-terminated too */
void cel_value_time(const cel_value_t *v, int64_t *ret_seconds, int32_t *ret_nanos); /* timestamp/duration */
cel_value_t *cel_value_optional(const cel_value_t *v); /* borrowed; NULL for none */
const cel_opaque_type_t *cel_value_opaque_type(const cel_value_t *v);
void *cel_value_opaque(const cel_value_t *v);
const char *cel_value_error(const cel_value_t *v);

/* Type values (what type(x) returns, and the identifiers int, list ...).
 * name as CEL prints it: "int", "list", "map", "null_type", "type",
 * "google.protobuf.Timestamp", "google.protobuf.Duration", "optional_type",
 * an opaque type's name. */
cel_value_t *cel_type_value(const char *name);
const char *cel_value_type_value_name(const cel_value_t *v); /* of a CEL_TYPE value */

/* The name of v's type, as a type value of it would print (above):
 * cel_value_type_name(cel_int(1)) is "int". */
const char *cel_value_type_name(const cel_value_t *v);

/* RFC 3339 text to a timestamp (as timestamp(string) reads it; also used
 * for schema strings of format date-time). Returns 0, or -EINVAL. */
int cel_timestamp_parse(const char *s, size_t len, int64_t *ret_seconds, int32_t *ret_nanos);

/* CEL equality (==) and ordering; cel_value_compare returns -1/0/1, or
 * -2 when the values are not comparable. */
bool cel_value_equal(const cel_value_t *a, const cel_value_t *b);
int cel_value_compare(const cel_value_t *a, const cel_value_t *b);

/* JSON in and out. cel_value_from_json reads json through type t (NULL:
 * dyn: numbers that are integral become int, others double). */
cel_value_t *cel_value_from_json(const cJSON *json, const cel_type_t *t);
cJSON *cel_value_to_json(const cel_value_t *v); /* NULL if not representable */

/* ---- functions ---- */

/* One overload: a global function f(a, b) or a receiver-style one
 * a.f(b) (receiver = args[0]). Arguments are borrowed, the result is a
 * new reference (an error value for a run-time error). cost is the
 * overload's cost, added per call (upstream's per-function costs; 1 if
 * unsure, proportional to sizes for string/list walks via *ret_cost). */
typedef cel_value_t *(*cel_fn_cb)(cel_value_t **args, size_t nargs, uint64_t *ret_cost);

/* Argument types for overload resolution at compile time, and dispatch
 * at run time, come from a signature string:
 *   global:    NAME(T, ...) R         "ip(string) net.IP", "_+_(int, int) int"
 *   receiver:  T.NAME(T, ...) R       "string.matches(string) bool",
 *                                     "net.CIDR.containsIP(net.IP) bool",
 *                                     "list(int).sum() int", "list(A).indexOf(A) int"
 * A type T is one of null_type bool int uint double string bytes timestamp
 * duration type dyn, list(T), map(K, V), optional(T), an opaque type's
 * name (dotted: net.IP), or a single capital letter: a type parameter (A,
 * B: bound at each call). A dotted NAME whose prefix is not a type is a
 * global function of that name ("optional.of(A) optional(A)",
 * "math.greatest(int, int) int"). Operators are global functions named as
 * in cel-spec's operators: _+_ _-_ _*_ _/_ _%_ -_ !_ _<_ _<=_ _>_ _>=_
 * _[_] (index) @in (the in operator); _==_ and _!=_ are not overloads
 * (the evaluator uses cel_value_equal), nor are _&&_ _||_ _?_:_ and the
 * macros (has, all, exists, exists_one, map, filter) and optional
 * selection (?. and [?]). */
typedef struct {
  const char *signature;
  cel_fn_cb fn;
} cel_overload_t;

/* Libraries register their overloads when an environment is made with
 * their CEL_LIB_* bit; pkg/cel calls each library's table. */
typedef struct {
  unsigned lib; /* CEL_LIB_* bit */
  const cel_overload_t *overloads;
  size_t n;
} cel_library_t;

#endif
