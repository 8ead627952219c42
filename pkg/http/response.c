/* HTTP/1.1 response framing (RFC 9112 sections 4, 6, 7.1): status line,
 * Content-Length or chunked transfer coding, connection management. */
#include "http/response.h"

#include <stdio.h>

const char *http_status_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

bool http_status_bodyless(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

int http_response_head_write(buf_t *out, const http_response_head_t *h) {
  int r = buf_printf(out, "HTTP/1.%d %d %s\r\n", h->minor_version ? 1 : 0, h->status,
                     http_status_reason(h->status));
  if (r == 0 && h->content_type)
    r = buf_printf(out, "Content-Type: %s\r\n", h->content_type);
  if (r == 0 && !http_status_bodyless(h->status)) {
    if (h->content_length >= 0)
      r = buf_printf(out, "Content-Length: %lld\r\n", h->content_length);
    else if (h->minor_version >= 1)
      r = buf_append_str(out, "Transfer-Encoding: chunked\r\n");
  }
  if (r == 0 && h->extra && h->extra_len)
    r = buf_append(out, h->extra, h->extra_len);
  if (r == 0 && h->close)
    r = buf_append_str(out, "Connection: close\r\n");
  else if (r == 0 && h->keep_alive_10)
    r = buf_append_str(out, "Connection: keep-alive\r\n");
  if (r == 0)
    r = buf_append_str(out, "\r\n");
  return r;
}

int http_chunk_write(buf_t *out, const char *data, size_t len) {
  if (len == 0)
    return buf_append_str(out, "0\r\n\r\n");
  int r = buf_printf(out, "%zx\r\n", len);
  if (r == 0)
    r = buf_append(out, data, len);
  if (r == 0)
    r = buf_append_str(out, "\r\n");
  return r;
}
