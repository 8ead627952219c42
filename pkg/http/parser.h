/* HTTP/1.1 request parsing (RFC 9112): the request head and chunked
 * transfer coding. Pure functions over caller buffers: no I/O, no globals,
 * no allocation except into the caller's bounded buffer, so they are easy
 * to unit-test and fuzz. Any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define HTTP_MAX_HEADERS 100

typedef struct {
  const char *name; /* points into the parsed buffer, not NUL-terminated */
  size_t name_len;
  const char *value; /* leading/trailing whitespace removed */
  size_t value_len;
} http_header_t;

typedef struct {
  const char *method;
  size_t method_len;
  const char *target; /* request-target as sent */
  size_t target_len;
  int minor_version; /* HTTP/1.<minor> */
  http_header_t headers[HTTP_MAX_HEADERS];
  size_t n_headers;
} http_head_t;

/* Parse one request head (request line, header fields, empty line) at the
 * start of buf. Lines may end in CRLF or a bare LF; empty lines before the
 * request line are skipped. Returns:
 *   > 0          bytes consumed (head complete; *ret_head points into buf)
 *   0            incomplete: read more (the caller enforces `max` too)
 *   -EMSGSIZE    the head is longer than max bytes, or has too many fields (431)
 *   -EINVAL      malformed (400)
 *   -EPROTONOSUPPORT  not HTTP/1.x (505) */
long http_parse_head(const char *buf, size_t len, size_t max, http_head_t *ret_head);

/* Case-insensitive header lookup in a parsed head; NULL if absent. */
const http_header_t *http_head_find(const http_head_t *h, const char *name);

/* A response head (RFC 9112 4): what a client (or a relay) reads back. */
typedef struct {
  int minor_version; /* HTTP/1.<minor> */
  int status;        /* 100..999 */
  const char *reason; /* reason-phrase, may be empty; points into the buffer */
  size_t reason_len;
  http_header_t headers[HTTP_MAX_HEADERS];
  size_t n_headers;
} http_response_t;

/* Parse one response head (status line, header fields, empty line) at the
 * start of buf, with the same field rules and return values as
 * http_parse_head: > 0 bytes consumed, 0 incomplete, -EMSGSIZE, -EINVAL,
 * -EPROTONOSUPPORT. */
long http_parse_response(const char *buf, size_t len, size_t max, http_response_t *ret_resp);
/* Case-insensitive header lookup in a parsed response; NULL if absent. */
const http_header_t *http_response_find(const http_response_t *r, const char *name);

/* Incremental decoder for Transfer-Encoding: chunked. Zero-initialise. */
typedef struct {
  int state;
  uint64_t size;      /* current chunk size / bytes left in it */
  unsigned digits;
  size_t aux_len;     /* bytes of chunk extensions or trailers seen */
} http_chunked_t;

/* Feed bytes. Decoded data is appended to out (whose limit bounds the body).
 * Returns the number of input bytes consumed (all of them unless the body
 * ended) or -EINVAL (malformed) / -E2BIG (body over out's limit). Sets
 * *ret_done once the last chunk and trailers are consumed; bytes after that
 * belong to the next request. */
long http_chunked_decode(http_chunked_t *c, const char *in, size_t len, buf_t *out, bool *ret_done);
