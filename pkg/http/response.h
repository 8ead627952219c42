/* Building HTTP/1.1 response bytes (RFC 9110/9112): status lines, framing
 * headers and chunks. Pure functions appending to a bounded buffer; any
 * thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Reason phrase for a status code ("Not Found"); "Unknown" if unlisted. */
const char *http_status_reason(int status);

/* Whether a response with this status carries no body (1xx, 204, 304). */
bool http_status_bodyless(int status);

typedef struct {
  int status;
  int minor_version;          /* of the request: 1.0 clients get 1.0 framing */
  const char *content_type;   /* NULL = none */
  long long content_length;   /* -1 = chunked (or close-delimited for 1.0) */
  bool close;                 /* add Connection: close */
  bool keep_alive_10;         /* add Connection: keep-alive (1.0 clients) */
  const char *extra;          /* preformatted "Name: value\r\n" lines or NULL */
  size_t extra_len;
} http_response_head_t;

/* Append the status line and headers, ending with the empty line. */
int http_response_head_write(buf_t *out, const http_response_head_t *h);
/* Append one chunk ("<hex>\r\n<data>\r\n"); len 0 writes the last chunk. */
int http_chunk_write(buf_t *out, const char *data, size_t len);
