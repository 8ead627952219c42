/* tests/unit/cel/spec_reader.h: the cel-spec "simple" conformance test
 * files (tests/data/cel-spec, one .textproto each; message
 * cel.expr.conformance.test.SimpleTestFile upstream, in
 * proto/cel/expr/conformance/test/simple.proto) read into plain structs:
 * file → sections → tests, each with its expression, declarations,
 * bindings and expected result. Values and types are the reader's own
 * (spec_value_t, spec_type_t) so that it does not depend on pkg/cel; the
 * harness (test_cel_spec.c) turns them into CEL values.
 *
 * Well-known protobuf types are read as the CEL values they stand for:
 * wrappers (google.protobuf.Int64Value ...) as their scalar,
 * google.protobuf.Duration / Timestamp as duration / timestamp,
 * google.protobuf.Value / Struct / ListValue as null, double, string,
 * bool, map, list, and Any as what it holds. Other messages (TestAllTypes
 * ...) and enum values become SPEC_MESSAGE / SPEC_ENUM values: the test
 * needs protobuf messages (spec_test_needs_proto). */
#ifndef K3C_TESTS_CEL_SPEC_READER_H
#define K3C_TESTS_CEL_SPEC_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  SPEC_NULL,
  SPEC_BOOL,
  SPEC_INT,
  SPEC_UINT,
  SPEC_DOUBLE,
  SPEC_STRING,
  SPEC_BYTES,
  SPEC_LIST,
  SPEC_MAP,
  SPEC_TYPE,      /* type_value: str is the type's name ("int", "list") */
  SPEC_TIMESTAMP,
  SPEC_DURATION,
  SPEC_ENUM,      /* str: the enum's type, i: its number */
  SPEC_MESSAGE,   /* a message not read as a CEL value; str: its type */
} spec_value_kind_t;

typedef struct spec_value spec_value_t;
struct spec_value {
  spec_value_kind_t kind;
  bool b;
  int64_t i;       /* INT, ENUM; seconds of TIMESTAMP / DURATION */
  uint64_t u;
  double d;
  int32_t nanos;   /* TIMESTAMP, DURATION */
  char *str;       /* STRING, BYTES (len bytes, NUL-terminated), TYPE, ENUM, MESSAGE */
  size_t len;
  spec_value_t **items; /* LIST: n values; MAP: n keys then n values (items[n + k] is key k's value) */
  size_t n;
};

typedef enum {
  SPEC_T_DYN,
  SPEC_T_NULL,
  SPEC_T_BOOL,
  SPEC_T_INT,
  SPEC_T_UINT,
  SPEC_T_DOUBLE,
  SPEC_T_STRING,
  SPEC_T_BYTES,
  SPEC_T_LIST,      /* elem */
  SPEC_T_MAP,       /* key, val */
  SPEC_T_TIMESTAMP,
  SPEC_T_DURATION,
  SPEC_T_ANY,
  SPEC_T_WRAPPER,   /* elem: the wrapped primitive */
  SPEC_T_MESSAGE,   /* name (not a well-known type read as a CEL type) */
  SPEC_T_TYPE_PARAM,/* name */
  SPEC_T_TYPE,      /* elem (may be NULL) */
  SPEC_T_ABSTRACT,  /* name */
  SPEC_T_OTHER,     /* function, error */
} spec_type_kind_t;

typedef struct spec_type spec_type_t;
struct spec_type {
  spec_type_kind_t kind;
  char *name;
  spec_type_t *elem, *key, *val;
};

typedef struct {
  char *name;
  spec_type_t *type;  /* an ident's type; NULL for a function declaration */
} spec_decl_t;

typedef struct {
  char *name;
  spec_value_t *value; /* NULL when the binding is an error or unknown set */
} spec_binding_t;

typedef enum {
  SPEC_EXPECT_VALUE,       /* value (also typed_result's result; true when the test names no result) */
  SPEC_EXPECT_ERROR,       /* eval_error / any_eval_errors: error (first message) */
  SPEC_EXPECT_UNKNOWN,     /* unknown / any_unknowns */
} spec_expect_t;

typedef struct {
  char *name;
  char *expr;
  char *container;         /* "" when none */
  bool disable_check, disable_macros, check_only;
  spec_decl_t *decls;
  size_t ndecls;
  spec_binding_t *bindings;
  size_t nbindings;
  spec_expect_t expect;
  spec_value_t *value;     /* SPEC_EXPECT_VALUE */
  char *error;             /* SPEC_EXPECT_ERROR: the first error's message ("" if none) */
  bool has_deduced_type;   /* typed_result: the checker's type is not compared */
  int line;                /* of the test in its file */
} spec_test_t;

typedef struct {
  char *name;
  spec_test_t *tests;
  size_t ntests;
} spec_section_t;

typedef struct {
  char *name;
  spec_section_t *sections;
  size_t nsections;
} spec_file_t;

/* Reads one SimpleTestFile from text (len bytes). Returns 0 with *ret set
 * (caller frees with spec_file_free), or -EINVAL with a reason in err
 * ("line 12: test: bad int64_value"). */
int spec_file_parse(const char *text, size_t len, spec_file_t **ret, char *err, size_t errlen);
/* The same from a file; -errno when it cannot be read. */
int spec_file_read(const char *path, spec_file_t **ret, char *err, size_t errlen);
void spec_file_free(spec_file_t *f); /* accepts NULL */

/* Why the test needs protobuf messages k3c's CEL does not have, or NULL:
 * a message or enum value (TestAllTypes ...), a declared message type, a
 * protobuf package as container (cel.expr.conformance..., google.protobuf;
 * other containers are about name resolution), message construction `Name{...}` in expr, or a conformance
 * message or enum named in expr (TestAllTypes, NestedTestAllTypes,
 * GlobalEnum, cel.expr.conformance...). */
const char *spec_test_needs_proto(const spec_test_t *t);

/* A value as text for messages: 1, 2u, 3.5, "s", b"\x00", [1, 2],
 * {"a": 1}, type(int), timestamp(10s+0ns), duration(...). Caller frees. */
char *spec_value_str(const spec_value_t *v);

void spec_value_free(spec_value_t *v); /* accepts NULL */

#endif
