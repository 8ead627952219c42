/* pkg/util/quantity: resource.Quantity of the Kubernetes API ("100m",
 * "1Gi", "1e3"): parse, compare, add, and the canonical string upstream's
 * String() prints (k8s.io/apimachinery/pkg/api/resource). Pure functions
 * over caller-owned values: callable from any thread.
 *
 * A quantity is kept as an exact decimal (up to QUANTITY_DIGITS_MAX
 * significant digits) with the format its suffix had (decimal SI, binary SI
 * or decimal exponent). As upstream: values are rounded up (away from zero)
 * to 1n, binary-SI values are capped at 2^63-1, and a value written in
 * canonical form keeps its text ("+1" stays "+1"). Where k3c differs: a
 * value that needs more than QUANTITY_DIGITS_MAX digits, or an exponent
 * outside int32, is refused; a decimal-SI value above 999E prints in the
 * exponent form ("1e21") where upstream drops the suffix. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUANTITY_DIGITS_MAX 96 /* significant decimal digits of a value */
#define QUANTITY_TEXT_MAX 128  /* longest text accepted (after trimming spaces) */
#define QUANTITY_STR_MAX 160   /* a buffer that holds any canonical form */

/* Upstream's parse errors, word for word (ErrFormatWrong, ErrNumeric, ErrSuffix). */
#define QUANTITY_ERR_FORMAT                                                                        \
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define QUANTITY_ERR_NUMERIC "unable to parse numeric part of quantity"
#define QUANTITY_ERR_SUFFIX "unable to parse quantity's suffix"

typedef enum {
  QUANTITY_DECIMAL_SI,       /* 12M, 500m, 3 */
  QUANTITY_BINARY_SI,        /* 12Mi */
  QUANTITY_DECIMAL_EXPONENT, /* 12e6 */
} quantity_format_t;

typedef struct {
  bool neg;
  uint16_t n;          /* digits in d; 0 = zero */
  int32_t exp;         /* value = d * 10^exp */
  uint8_t d[QUANTITY_DIGITS_MAX]; /* most significant first, no leading or trailing zeros */
  quantity_format_t format;
  /* The parsed text when it already is the canonical form (upstream's
   * cached string); "" otherwise. */
  char text[QUANTITY_TEXT_MAX + 1];
} quantity_t;

/* Parse s (len bytes; surrounding spaces are ignored, as upstream's
 * UnmarshalJSON does). Returns 0 with *ret_q, or -EINVAL with *ret_err set
 * to one of the QUANTITY_ERR_* messages (static). */
int quantity_parse(const char *s, size_t len, quantity_t *ret_q, const char **ret_err);

/* A JSON number as a quantity: formatted as Go's encoding/json writes a
 * float64, then parsed (1000 -> "1k", 0.5 -> "500m"). Same returns. */
int quantity_from_double(double v, quantity_t *ret_q, const char **ret_err);

/* The canonical text into buf (NUL-terminated). Returns its length, or
 * -ENOSPC when buf is too small (QUANTITY_STR_MAX always suffices). */
int quantity_format(const quantity_t *q, char *buf, size_t size);

/* -1, 0, 1 as a < b, a == b, a > b (by value; formats do not matter). */
int quantity_cmp(const quantity_t *a, const quantity_t *b);

/* -1, 0, 1 for negative, zero, positive. */
int quantity_sign(const quantity_t *q);

/* Whether the value is a whole number. */
bool quantity_is_integer(const quantity_t *q);

/* q += y (exactly). When q is zero it takes y's format, as upstream's Add.
 * Returns 0, or -ERANGE (q unchanged) when the sum needs more digits than
 * a quantity holds. */
int quantity_add(quantity_t *q, const quantity_t *y);
