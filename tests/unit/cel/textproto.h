/* tests/unit/cel/textproto.h: a reader of protobuf text format, enough for
 * the cel-spec conformance data (tests/data/cel-spec). It knows no schema:
 * it yields a tree of fields, each a message (children) or a scalar (the
 * token's text, strings decoded), and the caller interprets names and
 * values. https://protobuf.dev/reference/protobuf/textformat-spec/
 *
 * Supported: fields `name: value` and `name { ... }` / `name: < ... >`,
 * optional `,` `;` separators, list values `name: [a, b]` (read as
 * repeated fields), extension and Any names `[type.googleapis.com/x.Y]`,
 * `#` comments, double- and single-quoted strings with adjacent
 * concatenation and the escapes \a \b \f \n \r \t \v \\ \' \" \? \NNN
 * (octal) \xHH \uXXXX \UXXXXXXXX (UTF-8 encoded), numbers, identifiers. */
#ifndef K3C_TESTS_CEL_TEXTPROTO_H
#define K3C_TESTS_CEL_TEXTPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_node tp_node_t;
struct tp_node {
  char *name;       /* field name; "[type.googleapis.com/x.Y]" kept with brackets */
  int line;         /* where the field starts, 1-based */
  bool is_msg;
  /* scalar: the token; a string is decoded (may hold NULs; NUL-terminated
   * too) and has quoted set; numbers and identifiers are as written */
  char *text;
  size_t len;
  bool quoted;
  /* message: its fields in order */
  tp_node_t **kids;
  size_t nkids;
};

/* Parses text (len bytes) as the fields of one message. Returns the root
 * (a message named ""; caller frees with tp_free), or NULL with a reason
 * ("line 3: expected '}'") in err. */
tp_node_t *tp_parse(const char *text, size_t len, char *err, size_t errlen);
void tp_free(tp_node_t *n); /* accepts NULL */

/* The first field of msg named name, or NULL. */
const tp_node_t *tp_get(const tp_node_t *msg, const char *name);

/* Scalar readers: return 0 with *ret set, or -EINVAL when n is not a
 * scalar of that type (integers: decimal, 0x hex, leading-0 octal, range
 * checked; doubles also inf, -inf, nan and a trailing f; bools true/false,
 * t/f, 1/0). tp_str: a quoted string's bytes (NUL-terminated). */
int tp_int64(const tp_node_t *n, int64_t *ret);
int tp_uint64(const tp_node_t *n, uint64_t *ret);
int tp_double(const tp_node_t *n, double *ret);
int tp_bool(const tp_node_t *n, bool *ret);
const char *tp_str(const tp_node_t *n, size_t *ret_len); /* NULL if not a string */
const char *tp_ident(const tp_node_t *n);                /* NULL if a string or message */

#endif
