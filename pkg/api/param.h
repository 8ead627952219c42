/* Query-parameter values read as the apiserver's parameter codec reads them
 * (Go strconv.ParseInt / ParseUint, APIObjectVersioner.ParseResourceVersion),
 * with upstream's error wording, so a malformed value is refused instead of
 * silently becoming 0. Pure functions; any thread. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Go's strconv.Quote of s ("a\"b\x01" style) into out, cut to outlen. */
void api_param_quote(const char *s, char *out, size_t outlen);

/* strconv.ParseInt(s, 10, 64): optional sign, decimal digits only. Returns
 * 0 with *ret_v set, or -EINVAL (syntax) / -ERANGE with err set to
 * `strconv.ParseInt: parsing "abc": invalid syntax` (or `value out of range`). */
int api_param_int64(const char *s, int64_t *ret_v, char *err, size_t errlen);

/* A resourceVersion parameter: "" and "0" are 0 (any/latest); otherwise
 * strconv.ParseUint(s, 10, 64). Values above INT64_MAX become INT64_MAX (a
 * revision no store reaches; same meaning). -EINVAL with err set to the
 * field error upstream gives:
 * `resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax`. */
int api_param_rv(const char *s, int64_t *ret_v, char *err, size_t errlen);
