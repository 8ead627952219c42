/* pkg/cel/lib.h: the function libraries' tables (listed in libs.c) and the
 * helpers the lib_*.c files share (lib_util.c): UTF-8 walking, Go's number
 * formatting and quoting, upstream's call costs. Internal to the
 * libraries, which use only value.h of pkg/cel. */
#ifndef K3C_CEL_LIB_H
#define K3C_CEL_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cel/value.h"

/* The library tables libs.c lists. */
extern const cel_library_t cel_lib_std, cel_lib_time, cel_lib_strings, cel_lib_k8s, cel_lib_k8s_net, cel_lib_semver,
  cel_lib_format, cel_lib_ext, cel_lib_optional, cel_lib_authz;

/* Decodes one UTF-8 code point at s[*i] (advancing *i); an invalid byte
 * decodes as U+FFFD and advances one byte. */
uint32_t cel__utf8_next(const char *s, size_t len, size_t *i);
/* Appends code point c as UTF-8 to out (4 bytes room); returns bytes written. */
size_t cel__utf8_put(char *out, uint32_t c);
/* Number of code points in s. */
size_t cel__utf8_count(const char *s, size_t len);
/* Whether s is valid UTF-8. */
bool cel__utf8_valid(const char *s, size_t len);

/* Go's url.ParseRequestURI(s): 0, or -1 with its error text in err
 * ("parse \"x\": invalid URI for request"). lib_k8s_net.c. */
int cel__url_request_check(const char *s, size_t len, char *err, size_t size);

/* The last occurrence of n in h (NULL if none; h + hl for an empty n), in
 * linear time. (The first is memmem's, also linear.) */
const char *cel__memrmem(const char *h, size_t hl, const char *n, size_t nl);

/* A double as Go's fmt %g / strconv.FormatFloat(d, 'g', -1, 64) prints it
 * ("1e+06", "0.1", "+Inf", "NaN"). buf: at least 32 bytes. */
void cel__fmt_double_g(double d, char *buf, size_t size);
/* strconv.FormatFloat(d, 'f', -1, 64): shortest round-tripping digits,
 * never an exponent. buf: at least 400 bytes. */
void cel__fmt_double_f(double d, char *buf, size_t size);

/* string(timestamp) / string(duration) as cel-go prints them
 * ("2023-02-03T23:31:20Z", "6347s"). buf: at least 480 bytes. */
void cel__time_str(const cel_value_t *v, char *buf, size_t size);

/* A growing byte buffer for results (xrealloc). */
typedef struct {
  char *p;
  size_t len, cap;
} cel__sb_t;
void cel__sb_add(cel__sb_t *b, const void *p, size_t n);
void cel__sb_addc(cel__sb_t *b, char c);
void cel__sb_addz(cel__sb_t *b, const char *s);
/* The buffer as a CEL string (frees the buffer). */
cel_value_t *cel__sb_string(cel__sb_t *b);
void cel__sb_done(cel__sb_t *b);

/* Appends s as Go's %q / strconv.Quote writes it: "a\"b\n". */
void cel__go_quote(cel__sb_t *sb, const char *s, size_t len);

/* "no such overload" for a dispatch the types did not allow. */
cel_value_t *cel__no_overload(const char *fn);

/* Argument readers (the signature fixed the kinds). */
#define ARG_STR(i, lenp) cel_value_str(args[i], lenp)
#define ARG_INT(i) cel_value_int(args[i])

/* Call costs as cel-go's runtime cost tracker and Kubernetes' library
 * cost estimator (library/cost.go) charge them. */
static inline void cel__cost(uint64_t *ret_cost, uint64_t c) {
  if (ret_cost)
    *ret_cost = c;
}
/* ceil(n * StringTraversalCostFactor (0.1)) */
static inline uint64_t cel__tenth(uint64_t n) {
  return (n + 9) / 10;
}
/* ceil(n * RegexStringLengthCostFactor (0.25)) */
static inline uint64_t cel__quarter(uint64_t n) {
  return (n + 3) / 4;
}
/* cel-go's actualSize: code points of a string, bytes of bytes, elements
 * of a list or map (an optional's value's); 1 for the rest */
uint64_t cel__size(const cel_value_t *v);
/* Kubernetes' traversalCost: a tenth of a string's bytes (rounded down),
 * the sum over a list's elements or a map's keys and values, 1 for the
 * rest */
uint64_t cel__traversal_cost(const cel_value_t *v);

/* NFA steps one regex call may take (util/regex.h budgets): far beyond
 * what any pattern needs on inputs a request can carry at linear cost,
 * and a bound on the patterns that are not linear (findAll's restarts). */
#define CEL__REGEX_BUDGET 200000000ULL
#define CEL__ERR_COST "operation cancelled: actual cost limit exceeded"

#define CEL__N(a) (sizeof(a) / sizeof((a)[0]))

#endif
