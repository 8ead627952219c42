/* CEL, the Common Expression Language, as Kubernetes uses it: CRD
 * x-kubernetes-validations, ValidatingAdmissionPolicy, webhook
 * matchConditions. Parser, type checker and evaluator, with the standard
 * definitions and macros and Kubernetes' libraries.
 * https://github.com/google/cel-spec/blob/master/doc/langdef.md
 * https://kubernetes.io/docs/reference/using-api/cel/
 *
 * Use: build an environment (variables and their types), compile an
 * expression against it once (when the CRD or policy is written: compile
 * errors are the user's), then evaluate the program any number of times
 * with an activation (the variables' values). Programs and environments
 * are immutable after compile and may be shared; nothing here logs or
 * touches the event loop. Out of memory aborts (util/alloc.h). */
#ifndef K3C_CEL_CEL_H
#define K3C_CEL_CEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct cel_type cel_type_t;
typedef struct cel_env cel_env_t;
typedef struct cel_program cel_program_t;
typedef struct cel_activation cel_activation_t;
typedef struct cel_value cel_value_t; /* pkg/cel/value.h */

/* ---- types of variables ---- */

/* dyn: checked at run time only. Caller frees with cel_type_free. */
cel_type_t *cel_type_dyn(void);

/* The CEL type of values described by an OpenAPI v3 structural schema
 * (a CRD version's openAPIV3Schema, or one node of it), following
 * Kubernetes' mapping: object with properties → an object type with those
 * fields, additionalProperties → map(string, T), array → list(T), integer
 * → int, number → double, boolean → bool, string → string (format
 * date-time → timestamp, duration → duration, byte → bytes),
 * x-kubernetes-int-or-string → dyn, x-kubernetes-preserve-unknown-fields
 * without properties → dyn, x-kubernetes-embedded-resource adds
 * apiVersion/kind/metadata(name, generateName). NULL schema → dyn.
 * Borrows schema for the call only. Caller frees with cel_type_free. */
cel_type_t *cel_type_from_schema(const cJSON *schema);

/* A map(string, dyn) object type, for Kubernetes objects whose schema
 * CEL does not know (admission's object/oldObject of built-in kinds). */
cel_type_t *cel_type_object_dyn(void);

void cel_type_free(cel_type_t *t); /* accepts NULL */

/* ---- environments ---- */

/* Libraries an environment offers beyond the standard definitions. */
enum {
  CEL_LIB_STRINGS = 1u << 0,  /* cel-go ext strings: charAt, indexOf, lowerAscii, replace, split, substring, trim, upperAscii, join, format, quote */
  CEL_LIB_K8S = 1u << 1,      /* Kubernetes: regex (find, findAll), lists (isSorted, sum, min, max, indexOf, lastIndexOf), url, ip, cidr, quantity, format */
  CEL_LIB_OPTIONALS = 1u << 2,/* optional values: ?. and [?], optional.of/none/ofNonZeroValue, hasValue, value, orValue, or */
  CEL_LIB_AUTHZ = 1u << 3,    /* the authorizer variable's check chain (see cel_activation_set_authorizer) */
  /* Not a library: lists and maps literals may mix element types, as
   * cel-spec allows; Kubernetes refuses them (cel-go's
   * HomogeneousAggregateLiterals), so only the conformance tests set it. */
  CEL_LIB_HETEROGENEOUS_LITERALS = 1u << 8,
  CEL_LIB_KUBERNETES = CEL_LIB_STRINGS | CEL_LIB_K8S | CEL_LIB_OPTIONALS,
};

/* libs: CEL_LIB_* bits. Caller frees with cel_env_free, after every
 * program compiled from it. */
cel_env_t *cel_env_new(unsigned libs);
void cel_env_free(cel_env_t *env); /* accepts NULL */

/* Declares variable name with type (ownership of type passes to env).
 * Returns 0, or -EEXIST if name is declared already. */
int cel_env_declare(cel_env_t *env, const char *name, cel_type_t *type);

/* ---- compiling ---- */

/* What a program must evaluate to: checked at compile time against the
 * expression's type (dyn passes the check and is checked at run time). */
typedef enum {
  CEL_RESULT_ANY,
  CEL_RESULT_BOOL,   /* a rule, a matchCondition, a validation's expression */
  CEL_RESULT_STRING, /* a messageExpression */
} cel_result_t;

/* A compile error as upstream prints it, e.g.
 *   ERROR: <input>:1:6: Syntax error: mismatched input ')' expecting ...
 *    | self.x >)
 *    | .....^
 * and, for type errors, "undeclared reference to 'foo'", "found no
 * matching overload for '_+_' applied to '(int, string)'", "undefined
 * field 'y'". Several errors are separated by newlines. */
typedef struct {
  char message[1024];
} cel_error_t;

/* Parses and type-checks src in env, expecting result. Returns the
 * program (caller frees with cel_program_free), or NULL with *err filled.
 * env must outlive the program. */
cel_program_t *cel_compile(const cel_env_t *env, const char *src, cel_result_t result, cel_error_t *err);
void cel_program_free(cel_program_t *p); /* accepts NULL */

/* Parses src without type checking: overloads are then chosen only when
 * evaluated, from the arguments' kinds (cel-spec's conformance tests with
 * disable_check). Kubernetes always checks: k3c's callers use cel_compile. */
cel_program_t *cel_compile_unchecked(const cel_env_t *env, const char *src, cel_error_t *err);

/* Whether the program refers to variable name (e.g. "oldSelf": a CRD
 * rule that does is a transition rule). */
bool cel_program_uses(const cel_program_t *p, const char *name);

/* The program's estimated worst-case cost, as upstream's estimator
 * computes it from the declared types (maxLength, maxItems,
 * maxProperties bound a schema's sizes; unbounded ones count as the
 * request size limit allows). Callers compare it with their static
 * limit (a CRD rule: apiextensions' StaticEstimatedCostLimit, 10,000,000;
 * docs/CEL_CHECK.md) to refuse a rule at creation with upstream's
 * "estimated rule cost exceeds budget by factor of ..." */
uint64_t cel_program_cost_estimate(const cel_program_t *p);

/* upstream's limits (k8s.io/apiserver/pkg/apis/cel/config.go) */
#define CEL_PER_CALL_LIMIT 1000000ULL        /* cost units, one evaluation */
#define CEL_RUNTIME_BUDGET 10000000ULL       /* one CRD object's rules together */

/* ---- evaluating ---- */

/* The values of an evaluation's variables. Caller frees with
 * cel_activation_free after the evaluations that use it. */
cel_activation_t *cel_activation_new(void);
void cel_activation_free(cel_activation_t *a); /* accepts NULL */

/* Binds name to a JSON value, read through the type name was declared
 * with (so a date-time string is a timestamp). json is borrowed and must
 * outlive the activation. NULL json binds null. */
void cel_activation_set_json(cel_activation_t *a, const char *name, const cJSON *json);

/* Binds name to a value (takes a reference: the caller keeps its own). */
void cel_activation_set_value(cel_activation_t *a, const char *name, cel_value_t *v);

/* Binds a variable lazily: the first read of name evaluates p with this
 * same activation (ValidatingAdmissionPolicy variables). p borrowed. */
void cel_activation_set_lazy(cel_activation_t *a, const char *name, const cel_program_t *p);

/* Evaluates p. cost_limit bounds the evaluation's actual cost (0: no
 * limit); *cost_used (may be NULL) receives what it used. Returns 0 with
 * *ret_value set (caller cel_value_unref's it), or a negative errno with
 * *err filled: -EINVAL for an evaluation error (upstream's words, e.g.
 * "no such key: foo", "division by zero"), -E2BIG when the cost limit was
 * exceeded ("operation cancelled: actual cost limit exceeded"). */
int cel_eval(const cel_program_t *p, const cel_activation_t *a, uint64_t cost_limit, uint64_t *cost_used,
             cel_value_t **ret_value, cel_error_t *err);

/* Convenience: evaluates p and reads the result as bool / string.
 * Return codes as cel_eval; -EINVAL also when the result has another
 * type ("expected bool, got string"). *ret_str is the caller's to free. */
int cel_eval_bool(const cel_program_t *p, const cel_activation_t *a, uint64_t cost_limit, uint64_t *cost_used,
                  bool *ret_bool, cel_error_t *err);
int cel_eval_string(const cel_program_t *p, const cel_activation_t *a, uint64_t cost_limit, uint64_t *cost_used,
                    char **ret_str, cel_error_t *err);

/* The authorizer of ValidatingAdmissionPolicy and matchConditions
 * (CEL_LIB_AUTHZ): authorizer.group(g).resource(r).subresource(s)
 * .namespace(ns).name(n).check(verb).allowed()/reason()/errored()/error(),
 * authorizer.path(p).check(verb), authorizer.serviceAccount(ns, name)...
 * The callback answers one check; ctx is the caller's. */
typedef struct {
  const char *path; /* non-NULL for a non-resource check */
  const char *group, *resource, *subresource, *namespace_, *name, *verb;
} cel_authz_query_t;
typedef int (*cel_authz_cb)(void *ctx, const cel_authz_query_t *q, bool *ret_allowed, char *reason, size_t reason_len);
void cel_activation_set_authorizer(cel_activation_t *a, const char *name, cel_authz_cb cb, void *ctx);

#endif
