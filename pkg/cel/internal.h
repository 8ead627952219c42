/* pkg/cel/internal.h: what the parser, checker, evaluator and environment
 * of pkg/cel share and the libraries do not see: the AST, type internals,
 * parsed overload signatures. Names are cel__x (STYLE: internal but not
 * static). */
#ifndef K3C_CEL_INTERNAL_H
#define K3C_CEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cel/cel.h"
#include "cel/value.h"

/* upstream parser limits: nesting (cel-go's maxRecursionDepth default),
 * and the source size Kubernetes allows for one expression. */
#define CEL__MAX_DEPTH 250
#define CEL__MAX_SRC (1024 * 1024)

/* ---- types ---- */

typedef enum {
  CEL_T_DYN,
  CEL_T_NULL,
  CEL_T_BOOL,
  CEL_T_INT,
  CEL_T_UINT,
  CEL_T_DOUBLE,
  CEL_T_STRING,
  CEL_T_BYTES,
  CEL_T_TIMESTAMP,
  CEL_T_DURATION,
  CEL_T_TYPE,     /* a type value; elem: the type it denotes (may be NULL: any) */
  CEL_T_LIST,     /* elem */
  CEL_T_MAP,      /* key, elem */
  CEL_T_OBJECT,   /* fields (a schema's object); values are maps with string keys */
  CEL_T_OPTIONAL, /* elem */
  CEL_T_OPAQUE,   /* name */
  CEL_T_PARAM,    /* name: a type parameter of a signature, "A" */
  CEL_T_ERROR,    /* checker: an expression that failed to check */
} cel_tkind_t;

/* Schema-only details a value read through the type needs. */
enum {
  CEL_TF_INT_OR_STRING = 1u << 0, /* dyn read as int or string */
  CEL_TF_EMBEDDED = 1u << 1,
  CEL_TF_MAX_SET = 1u << 2,  /* max_size is a schema's limit (0 included) */
  CEL_TF_MAX_ENUM = 1u << 3, /* max_size is an enum's longest value (no maxLength) */
};

struct cel_type {
  int refs;
  cel_tkind_t kind;
  unsigned flags;
  char *name;         /* opaque / param / object (for messages) */
  cel_type_t *key;    /* map */
  cel_type_t *elem;   /* list, map value, optional, type */
  size_t nfields;
  char **field_names; /* object */
  cel_type_t **field_types;
  cel_type_t *additional; /* object: additionalProperties alongside properties (NULL: none) */
  uint64_t max_size;  /* maxLength / maxItems / maxProperties; 0: unbounded */
  uint64_t min_size;  /* schema: the smallest JSON of a value (cost estimates); 0: unknown */
};

cel_type_t *cel__type_new(cel_tkind_t kind);
cel_type_t *cel__type_ref(cel_type_t *t);
cel_type_t *cel__type_list(cel_type_t *elem);             /* takes elem */
cel_type_t *cel__type_map(cel_type_t *key, cel_type_t *v); /* takes both */
cel_type_t *cel__type_wrap(cel_tkind_t kind, cel_type_t *elem); /* optional / type; takes elem */
cel_type_t *cel__type_named(cel_tkind_t kind, const char *name, size_t len); /* opaque / param */
/* The field's type in an object type, or NULL. */
const cel_type_t *cel__type_field(const cel_type_t *obj, const char *name);
/* Writes t as upstream prints it ("list(int)", "map(string, dyn)"). */
void cel__type_str(const cel_type_t *t, char *out, size_t len);
/* Parses one type from a signature at *p (advances). NULL on a syntax error. */
cel_type_t *cel__type_parse(const char **p);
/* The type of a constant value's kind (NULL kind for lists/maps: dyn elements). */
cel_type_t *cel__type_of_value(const cel_value_t *v);

/* ---- overloads ---- */

typedef struct {
  char *name;          /* "_+_", "startsWith", "optional.of" */
  bool receiver;       /* receiver style: args[0] is the receiver */
  size_t nargs;        /* including the receiver */
  cel_type_t **params; /* nargs */
  cel_type_t *result;
  cel_fn_cb fn;
  const char *signature;
} cel__overload_t;

/* Parses a library signature; 0 or -EINVAL. */
int cel__overload_parse(const char *signature, cel_fn_cb fn, cel__overload_t *ret);
void cel__overload_done(cel__overload_t *o);

/* ---- environment ---- */

typedef struct {
  char *name;
  cel_type_t *type;
} cel__var_t;

struct cel_env {
  unsigned libs;
  cel__var_t *vars;
  size_t nvars;
  cel__overload_t *ovl;
  size_t novl;
};

const cel__var_t *cel__env_var(const cel_env_t *env, const char *name);
/* Whether some overload is called name (any style). */
bool cel__env_has_function(const cel_env_t *env, const char *name);

/* ---- AST ---- */

typedef enum {
  CEL_E_CONST,  /* value */
  CEL_E_IDENT,  /* name */
  CEL_E_SELECT, /* target.name; test_only for has() */
  CEL_E_CALL,   /* name(args) or target.name(args) */
  CEL_E_LIST,   /* args; opt[i]: [?x] */
  CEL_E_MAP,    /* args: key, value, key, value...; opt[i/2]: {?k: v} */
  CEL_E_STRUCT, /* name{fields[i]: args[i]} (checked: refused) */
  CEL_E_COMPREHENSION,
} cel_ekind_t;

/* Comprehension kinds (the macro that made it) for the checker's messages
 * and the evaluator's fast paths. */
typedef enum {
  CEL_M_ALL,
  CEL_M_EXISTS,
  CEL_M_EXISTS_ONE,
  CEL_M_MAP,
  CEL_M_FILTER,
} cel_macro_t;

typedef struct cel_expr cel_expr_t;
struct cel_expr {
  cel_ekind_t kind;
  uint32_t pos; /* byte offset in the source */
  uint32_t height; /* of the subtree, bounded by CEL__MAX_DEPTH */
  cel_value_t *value;
  char *name;
  cel_expr_t *target;
  cel_expr_t **args;
  size_t nargs;
  char **fields;  /* struct */
  bool *opt;      /* list / map / struct element is optional */
  bool test_only; /* has() */
  /* comprehension: for iter_var in range: the macro's body (pred),
   * optional filter (filter), applied as `macro` says */
  cel_macro_t macro;
  char *iter_var;
  cel_expr_t *range, *pred, *filter;
  /* set by the checker */
  cel_type_t *type;
  const cel__overload_t **cands; /* call: overloads that may apply */
  size_t ncands;
  int var_index; /* ident: env variable index, or -1 (comprehension var / type name) */
};

void cel__expr_free(cel_expr_t *e);

/* Parses src (len bytes). Returns the AST, or NULL with err filled in
 * upstream's format. */
cel_expr_t *cel__parse(const char *src, size_t len, cel_error_t *err);

/* Appends one error "ERROR: <input>:L:C: msg\n | line\n | ...^" for byte
 * offset pos to err (several are separated by a newline). */
void cel__error_at(cel_error_t *err, const char *src, size_t len, uint32_t pos, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));

/* Type-checks e in env; fills types and candidates. 0, or -EINVAL with
 * err filled. */
int cel__check(const cel_env_t *env, cel_expr_t *e, const char *src, size_t len, cel_error_t *err);

/* A type as the checker's messages print it (cel-go's FormatCELType:
 * "null", "timestamp", "optional_type(int)"), unlike cel__type_str which
 * prints type values. */
void cel__type_check_str(const cel_type_t *t, char *out, size_t len);

/* Whether a checked expression of type t is what result asks. Upstream
 * compares exactly: a dyn result is refused too (CRD rules: "cel
 * expression must evaluate to a bool"; ValidatingAdmissionPolicy: "must
 * evaluate to bool but got dyn"); the caller words the error. */
bool cel__result_matches(const cel_type_t *t, cel_result_t result);

/* Whether value v matches type t at run time (shallow for containers,
 * which are checked by element kind of the first element). */
bool cel__value_is(const cel_value_t *v, const cel_type_t *t);

struct cel_program {
  const cel_env_t *env;
  cel_expr_t *root;
  char *src;
  cel_result_t result;
  bool *uses; /* per env variable */
  uint64_t cost_estimate;
};

uint64_t cel__cost_estimate(const cel_program_t *p);

/* The authorizer value cel_activation_set_authorizer binds (lib_authz.c):
 * an opaque kubernetes.authorization.Authorizer calling cb(ctx, ...). */
cel_value_t *cel__authz_value(cel_authz_cb cb, void *ctx);

#endif
