/* Regular expressions for OpenAPI "pattern" (the RE2 syntax that
 * Kubernetes' Go regexp accepts, ECMA-262's common subset), matched in
 * linear time: a Thompson NFA simulated over the input's UTF-8 runes, no
 * backtracking, so a hostile pattern or value cannot stall the caller.
 *
 * Syntax: literals, ".", "[...]" / "[^...]" with ranges, \d \D \w \W \s \S
 * (also inside classes), [:alpha:]-style classes, \b \B \A \z ^ $ (^ and $
 * at text start/end, as Go without (?m)), groups "(...)", "(?:...)",
 * "(?P<n>...)", "(?<n>...)", alternation, * + ? {n} {n,} {n,m} and their
 * lazy forms, \n \t \r \f \v \xHH \x{H..} and escaped punctuation.
 * Refused (as RE2 does): backreferences, lookaround, repeat counts above
 * 1000; also (k3c's bound) patterns compiling to more than REGEX_MAX_INSTS
 * instructions once counted repetitions are expanded, and flags/Unicode
 * classes (\pL, (?i)) that k3c does not implement.
 * A compiled regex_prog_t is immutable: any thread may match concurrently. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGEX_MAX_INSTS 10000
#define REGEX_MAX_REPEAT 1000

typedef struct regex_prog regex_prog_t;

/* Compile pattern. On success *ret is the program (free with
 * regex_prog_free) and 0 is returned; on a syntax error or a pattern over
 * the limits, -EINVAL with a reason in err ("invalid repeat count",
 * "expression too large", ...). */
int regex_prog_compile(const char *pattern, regex_prog_t **ret, char *err, size_t errlen);
void regex_prog_free(regex_prog_t *p);
/* Number of instructions: the cost of matching one input byte is at most
 * proportional to it. */
size_t regex_prog_size(const regex_prog_t *p);

/* Does p match somewhere in s[0..len) (unanchored, like Go's MatchString)?
 * *budget is decremented by the NFA steps taken (at most
 * (len + 1) * regex_prog_size(p)); returns 1 on a match, 0 on none, or
 * -E2BIG when the budget ran out first. Thread-safe; allocates
 * O(regex_prog_size(p)) scratch memory. */
int regex_prog_match(const regex_prog_t *p, const char *s, size_t len, uint64_t *budget);
