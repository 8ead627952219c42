/* Request-target helpers (RFC 3986): percent-decoding and query strings
 * (application/x-www-form-urlencoded style, as Go's url.ParseQuery reads
 * them). Pure functions; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Decode %XX escapes in [s, s+len); with plus_is_space '+' becomes ' '.
 * -EINVAL on a malformed escape or a decoded NUL. *ret is malloc'd. */
int http_url_decode(const char *s, size_t len, bool plus_is_space, char **ret);

typedef struct {
  char *name;
  char *value;
} http_param_t;

typedef struct {
  http_param_t *v; /* in order of appearance */
  size_t n;
} http_query_t;

/* Whether raw (without '?') is a query every parameter of which decodes:
 * 0, or -EINVAL with a reason in err (Go's url.ParseQuery wording):
 *   invalid URL escape "%zz"                  malformed %XX
 *   invalid semicolon separator in query      ';' (Go drops such a pair)
 *   query parameter "x": %00 (a NUL byte) ... C strings cannot carry NUL
 * A request is refused whole on any of these, never served with some
 * parameters dropped (a DELETE without its labelSelector deletes all). */
int http_query_check(const char *raw, char *err, size_t errlen);

/* Split raw (without '?') on '&' and decode names and values ('+' is a
 * space). "a" alone gives value "". Empty pieces are skipped. -EINVAL when
 * http_query_check refuses raw; q is left empty then. Free with
 * http_query_done. */
int http_query_parse(const char *raw, http_query_t *q);
void http_query_done(http_query_t *q);
/* First value of name, or NULL. */
const char *http_query_get(const http_query_t *q, const char *name);

/* Split a request-target into path (percent-decoded) and raw query (after
 * '?', undecoded, "" when absent). Accepts origin-form ("/a?b"),
 * absolute-form ("https://host/a?b") and "*". -EINVAL otherwise. */
int http_target_split(const char *target, size_t len, char **ret_path, char **ret_raw_query);
