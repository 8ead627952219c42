/* Regular expressions in the RE2 syntax that Go's regexp accepts (OpenAPI
 * "pattern" in CRD schemas, CEL's matches/find/findAll, registry mirror
 * rewrites), matched in linear time: a Pike VM (Thompson NFA with threads in
 * priority order) over the input's UTF-8 runes, no backtracking, so a
 * hostile pattern or value cannot stall the caller.
 *
 * Syntax (as Go's regexp/syntax with its Perl flags): literals, ".",
 * "[...]" / "[^...]" with ranges, \d \D \w \W \s \S (also inside classes),
 * [:alpha:] / [:^alpha:] classes, \b \B \A \z ^ $, groups "(...)", "(?:...)",
 * "(?P<n>...)", "(?<n>...)", alternation, * + ? {n} {n,} {n,m} and their
 * lazy forms (x*? ...), \Q...\E, \a \f \n \r \t \v \123 (octal) \xHH
 * \x{H..} and escaped punctuation. Invalid UTF-8 in a text reads as U+FFFD.
 * Flags (?i) (?m) (?s) (?U), combined and cleared as (?i-s), for the rest
 * of the enclosing group or as (?i:...):
 *   i  case-insensitive: the simple case folds of Latin, Greek, Cyrillic,
 *      Armenian and fullwidth Latin (with the Kelvin sign, long s, final
 *      sigma and the other odd members); other scripts match as written;
 *   m  ^ and $ also match at line starts/ends (without it, at text ends only);
 *   s  . matches \n (negated classes always do, as in Go);
 *   U  * + ? {} are lazy and x*? is greedy.
 * \b \B are ASCII word boundaries, as in Go.
 * Refused (as RE2 does): backreferences, lookaround, \C, repeat counts
 * above 1000 (also as the product of nested counts); also (k3c's bounds)
 * Unicode classes (\pL, \p{Greek}, \PN), parentheses nested deeper than 200,
 * and patterns compiling to more than REGEX_MAX_INSTS instructions once
 * counted repetitions are expanded.
 * A compiled regex_prog_t is immutable: any thread may match concurrently. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGEX_MAX_INSTS 10000
#define REGEX_MAX_REPEAT 1000

typedef struct regex_prog regex_prog_t;

/* Compile pattern (a NUL-terminated string). On success *ret is the
 * program (free with regex_prog_free) and 0 is returned; on a syntax error
 * or a pattern over the limits, -EINVAL with Go's message in err:
 * "error parsing regexp: missing closing ): `(abc`", "... invalid repeat
 * count: `{1001}`", "... expression too large: `...`" (truncated to errlen). */
int regex_prog_compile(const char *pattern, regex_prog_t **ret, char *err, size_t errlen);
void regex_prog_free(regex_prog_t *p);
/* Number of instructions: the cost of matching one input byte is at most
 * proportional to it. */
size_t regex_prog_size(const regex_prog_t *p);

/* Does p match somewhere in s[0..len) (unanchored, like Go's MatchString)?
 * *budget is decremented by the NFA steps taken (at most
 * 5 * (len + 1) * regex_prog_size(p)); returns 1 on a match, 0 on none, or
 * -E2BIG when the budget ran out first (*budget is then 0). Thread-safe;
 * allocates O(regex_prog_size(p)) scratch memory. */
int regex_prog_match(const regex_prog_t *p, const char *s, size_t len, uint64_t *budget);

/* The leftmost match in s[0..len) that begins at or after byte start, and
 * among those the one Perl/Go's priorities choose (alternatives left to
 * right, greedy repetitions as long and lazy ones as short as the rest
 * allows): Go's FindStringIndex on the text with the search begun at start.
 * ^ \A \b and the other assertions see the whole text, so ^ never matches
 * at start > 0 (without (?m)). On 1, s[*ret_begin..*ret_end) is the match
 * (possibly empty); 0 means none (also for start > len); -E2BIG as
 * regex_prog_match, whose step bound it shares for s[start..len). */
int regex_prog_find(const regex_prog_t *p, const char *s, size_t len, size_t start, size_t *ret_begin,
                    size_t *ret_end, uint64_t *budget);

/* Successive non-overlapping matches, as Go's FindAllString: start with
 * regex_iter_t it = {0} and call regex_prog_find_next until it returns 0
 * (no more) or -E2BIG; each 1 yields the next match's span. As in Go, an
 * empty match immediately after the previous match is skipped, and after
 * an empty match the search resumes one rune later: "a*" in "baaab" yields
 * "", "aaa", "" at [0,0] [1,4] [5,5]. The caller stops after n matches for
 * findAll(re, n). Each call is a regex_prog_find from the current position,
 * so a whole text may take O(len^2 * size) steps for patterns whose
 * higher-priority threads run far ahead; the budget bounds it. */
typedef struct {
  size_t _pos;       /* where the next search starts */
  size_t _prev_end1; /* the previous match's end + 1; 0 before the first */
} regex_iter_t;
int regex_prog_find_next(const regex_prog_t *p, const char *s, size_t len, regex_iter_t *it, size_t *ret_begin,
                         size_t *ret_end, uint64_t *budget);
