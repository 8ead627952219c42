/* pkg/json/strict: the one decoder of JSON request bodies. It builds cJSON
 * directly, in one pass, with the behaviour of the Kubernetes API server's
 * decoder (Go encoding/json as forked by sigs.k8s.io/json):
 *
 *  - duplicate keys: the last value wins; each duplicate is reported as a
 *    path ("metadata.name", "spec.containers[0].name") so the caller can
 *    refuse it (fieldValidation=Strict) or warn. Detection is linear: keys
 *    of objects past a few members are hashed.
 *  - invalid UTF-8 in strings and keys, and lone UTF-16 surrogates in \u
 *    escapes, are replaced by U+FFFD, as Go does; the tree holds valid UTF-8.
 *  - \u0000 is refused (cJSON strings are NUL-terminated: k3c cannot hold
 *    it); upstream accepts it. JSON_STRICT_ERR_NUL tells this case apart.
 *  - anything but whitespace after the top-level value is refused.
 *  - a number beyond float64 (1e400) is refused with Go's message.
 *  - nesting deeper than JSON_STRICT_MAX_DEPTH is refused (Go: 10000).
 * Syntax errors carry Go's scanner wording ("invalid character '}' after
 * object key", "unexpected end of JSON input").
 * Pure; callable from any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define JSON_STRICT_MAX_DEPTH 1000
/* Upstream keeps at most 100 strict decoding errors per body. */
#define JSON_STRICT_MAX_DUPS 100

typedef enum {
  JSON_STRICT_OK = 0,
  JSON_STRICT_ERR_SYNTAX, /* not JSON, or trailing data */
  JSON_STRICT_ERR_NUL,    /* a string or key holds \u0000 */
  JSON_STRICT_ERR_NUMBER, /* a number out of float64's range */
  JSON_STRICT_ERR_DEPTH,  /* nested deeper than JSON_STRICT_MAX_DEPTH */
} json_strict_err_t;

typedef struct {
  json_strict_err_t kind; /* what failed; JSON_STRICT_OK on success */
  char err[192];          /* on failure: the reason in Go's wording */
  size_t err_offset;      /* on failure: byte offset where it was found */
  char err_path[256];     /* JSON_STRICT_ERR_NUL: path of the string ("data.x") */
  /* Duplicate keys, document order, each path once, at most
   * JSON_STRICT_MAX_DUPS (owned; freed by json_strict_result_done). */
  char *dups[JSON_STRICT_MAX_DUPS];
  size_t ndups;
  size_t ndup_keys;     /* every duplicate key seen, also past the cap */
  size_t replaced;      /* byte sequences replaced by U+FFFD */
} json_strict_result_t;

/* Decode len bytes of text into *ret_doc (written only on success; caller
 * frees with cJSON_Delete). res is always initialised and must be released
 * with json_strict_result_done, on success and on failure.
 * Returns 0, or -EINVAL with res->kind, res->err and res->err_offset set. */
int json_strict_parse(const char *text, size_t len, cJSON **ret_doc, json_strict_result_t *res);

/* Release what res holds (the duplicate paths); res may be reused after. */
void json_strict_result_done(json_strict_result_t *res);

/* Collapse repeated keys in every object of v (any depth) to their last
 * value, in linear time, for trees built by other decoders (protobuf map
 * entries). Returns the number of items removed. */
size_t json_strict_dedup(cJSON *v);

/* Copy of s with every invalid UTF-8 sequence replaced by U+FFFD (Go's
 * rule: one replacement per byte that does not start a valid sequence).
 * Caller frees. For error messages that quote request bytes. */
char *json_utf8_sanitize(const char *s, size_t len);
