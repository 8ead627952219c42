/* libFuzzer harness for pkg/util/regex.c. Input: a pattern, a NUL byte,
 * then the text (no NUL: the input is both). A refused pattern has Go's
 * message shape; a compiled one keeps the promises of regex.h: match and
 * find agree, the leftmost-first span searched again from its own start is
 * the same span, findAll's spans move forward and end, and every search
 * stays within its linear step bound. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t plen = nul ? (size_t)(nul - data) : size;
  char *pat = malloc(plen + 1);
  memcpy(pat, data, plen);
  pat[plen] = '\0';
  const char *s = nul ? (const char *)nul + 1 : pat;
  size_t len = nul ? size - plen - 1 : plen;
  char err[256];
  regex_prog_t *p = NULL;
  if (regex_prog_compile(pat, &p, err, sizeof(err)) < 0) {
    if (strncmp(err, "error parsing regexp: ", 22) != 0)
      abort();
    free(pat);
    return 0;
  }
  uint64_t n = regex_prog_size(p), bound = 5 * (len + 1) * n, budget = bound;
  if (n > REGEX_MAX_INSTS)
    abort();
  int m = regex_prog_match(p, s, len, &budget);
  if (m < 0) /* the bound is a promise */
    abort();
  size_t b = 0, e = 0;
  budget = bound;
  int f = regex_prog_find(p, s, len, 0, &b, &e, &budget);
  if (f != m || (f == 1 && (b > e || e > len)))
    abort();
  if (f == 1) {
    size_t b2, e2;
    budget = bound;
    if (regex_prog_find(p, s, len, b, &b2, &e2, &budget) != 1 || b2 != b || e2 != e)
      abort();
  }
  regex_iter_t it = {0};
  size_t count = 0, prev_end = 0;
  uint64_t total = UINT64_MAX;
  while ((f = regex_prog_find_next(p, s, len, &it, &b, &e, &total)) == 1) {
    if (b < prev_end || b > e || e > len || ++count > len + 1)
      abort();
    prev_end = e;
  }
  if (f != 0)
    abort();
  regex_prog_free(p);
  free(pat);
  return 0;
}
