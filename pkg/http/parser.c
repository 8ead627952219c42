/* HTTP/1.1 request head and chunked body parsing (RFC 9112 sections 3, 5,
 * 7.1). Tolerant where RFC 9112 allows (bare LF, leading empty lines),
 * strict where smuggling lives (no obs-fold, no space before ':', bounded
 * chunk sizes). */
#include "http/parser.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c) {
  if (isalnum(c))
    return true;
  switch (c) {
  case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
  case '-': case '.': case '^': case '_': case '`': case '|': case '~':
    return true;
  default:
    return false;
  }
}

/* Find the end of the line starting at p; returns pointer to '\n' or NULL. */
static const char *line_end(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p == '\n')
      return p;
  return NULL;
}

/* Header fields from p up to and including the empty line (which the
 * caller has found before end). Returns 0, -EINVAL or -EMSGSIZE. */
static int parse_fields(const char *p, const char *end, http_header_t *headers, size_t *ret_n) {
  size_t n = 0;
  for (;;) {
    const char *nl = line_end(p, end);
    const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    if (le == p)
      break; /* empty line: end of head */
    if (*p == ' ' || *p == '\t')
      return -EINVAL; /* obs-fold */
    const char *colon = p;
    while (colon < le && *colon != ':') {
      if (!is_tchar((unsigned char)*colon))
        return -EINVAL;
      colon++;
    }
    if (colon == p || colon >= le)
      return -EINVAL;
    const char *vs = colon + 1, *ve = le;
    while (vs < ve && (*vs == ' ' || *vs == '\t'))
      vs++;
    while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    for (const char *c = vs; c < ve; c++) {
      unsigned char ch = (unsigned char)*c;
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        return -EINVAL;
    }
    if (n == HTTP_MAX_HEADERS)
      return -EMSGSIZE;
    http_header_t *hd = &headers[n++];
    hd->name = p;
    hd->name_len = (size_t)(colon - p);
    hd->value = vs;
    hd->value_len = (size_t)(ve - vs);
    p = nl + 1;
  }
  *ret_n = n;
  return 0;
}

/* The end of the head starting at p (after its empty line), or NULL. */
static const char *find_head_end(const char *p, const char *end) {
  const char *scan = p;
  while (scan < end) {
    const char *nl = line_end(scan, end);
    if (!nl)
      return NULL;
    size_t l = (size_t)(nl - scan);
    if (l == 0 || (l == 1 && scan[0] == '\r'))
      return nl + 1;
    scan = nl + 1;
  }
  return NULL;
}

long http_parse_head(const char *buf, size_t len, size_t max, http_head_t *ret_head) {
  const char *p = buf, *end = buf + len;
  /* Skip empty lines before the request line (RFC 9112 2.2). */
  while (p < end && (*p == '\r' || *p == '\n')) {
    if (*p == '\r' && (p + 1 >= end || p[1] != '\n'))
      break;
    p += *p == '\r' ? 2 : 1;
  }
  /* Is the head complete? Look for an empty line. */
  const char *head_end = find_head_end(p, end);
  if (!head_end)
    return len > max ? -EMSGSIZE : 0;
  if ((size_t)(head_end - buf) > max)
    return -EMSGSIZE;

  http_head_t h;
  h.n_headers = 0;
  /* request-line = method SP request-target SP HTTP-version */
  const char *nl = line_end(p, end);
  const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
  const char *sp1 = p;
  while (sp1 < le && *sp1 != ' ') {
    if (!is_tchar((unsigned char)*sp1))
      return -EINVAL;
    sp1++;
  }
  if (sp1 == p || sp1 >= le)
    return -EINVAL;
  h.method = p;
  h.method_len = (size_t)(sp1 - p);
  const char *t = sp1 + 1, *sp2 = t;
  while (sp2 < le && *sp2 != ' ') {
    unsigned char c = (unsigned char)*sp2;
    if (c <= 0x20 || c == 0x7f)
      return -EINVAL;
    sp2++;
  }
  if (sp2 == t || sp2 >= le)
    return -EINVAL;
  h.target = t;
  h.target_len = (size_t)(sp2 - t);
  const char *v = sp2 + 1;
  if (le - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
      !isdigit((unsigned char)v[7]))
    return -EINVAL;
  if (v[5] != '1')
    return -EPROTONOSUPPORT;
  h.minor_version = v[7] - '0';

  int e = parse_fields(nl + 1, end, h.headers, &h.n_headers);
  if (e < 0)
    return e;
  *ret_head = h;
  return (long)(head_end - buf);
}

long http_parse_response(const char *buf, size_t len, size_t max, http_response_t *ret_resp) {
  const char *end = buf + len;
  const char *head_end = find_head_end(buf, end);
  if (!head_end)
    return len > max ? -EMSGSIZE : 0;
  if ((size_t)(head_end - buf) > max)
    return -EMSGSIZE;
  http_response_t r;
  r.n_headers = 0;
  /* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
  const char *nl = line_end(buf, end);
  const char *le = nl > buf && nl[-1] == '\r' ? nl - 1 : nl;
  size_t ll = (size_t)(le - buf);
  if (ll < 12 || memcmp(buf, "HTTP/", 5) != 0 || !isdigit((unsigned char)buf[5]) ||
      buf[6] != '.' || !isdigit((unsigned char)buf[7]) || buf[8] != ' ' ||
      (ll > 12 && buf[12] != ' '))
    return -EINVAL;
  if (buf[5] != '1')
    return -EPROTONOSUPPORT;
  r.minor_version = buf[7] - '0';
  r.status = 0;
  for (int i = 9; i < 12; i++) {
    if (!isdigit((unsigned char)buf[i]))
      return -EINVAL;
    r.status = r.status * 10 + (buf[i] - '0');
  }
  if (r.status < 100)
    return -EINVAL;
  r.reason = ll > 12 ? buf + 13 : le;
  r.reason_len = ll > 12 ? ll - 13 : 0;
  for (size_t i = 0; i < r.reason_len; i++) {
    unsigned char ch = (unsigned char)r.reason[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return -EINVAL;
  }
  int e = parse_fields(nl + 1, end, r.headers, &r.n_headers);
  if (e < 0)
    return e;
  *ret_resp = r;
  return (long)(head_end - buf);
}

const http_header_t *http_head_find(const http_head_t *h, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < h->n_headers; i++)
    if (h->headers[i].name_len == n && !strncasecmp(h->headers[i].name, name, n))
      return &h->headers[i];
  return NULL;
}

enum {
  CH_SIZE = 0,
  CH_EXT,
  CH_SIZE_LF,
  CH_DATA,
  CH_DATA_CR,
  CH_DATA_LF,
  CH_TRAILER_START,
  CH_TRAILER,
  CH_END_LF,
  CH_DONE,
};

#define CH_AUX_MAX 8192 /* chunk extensions + trailers we are willing to skip */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (unsigned char)tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

long http_chunked_decode(http_chunked_t *c, const char *in, size_t len, buf_t *out, bool *ret_done) {
  size_t i = 0;
  *ret_done = false;
  while (i < len) {
    unsigned char ch = (unsigned char)in[i];
    switch (c->state) {
    case CH_SIZE: {
      int v = hexval(ch);
      if (v >= 0) {
        if (c->digits >= 15)
          return -EINVAL;
        c->size = c->size * 16 + (uint64_t)v;
        c->digits++;
        i++;
      } else if (c->digits == 0) {
        return -EINVAL;
      } else if (ch == ';' || ch == ' ' || ch == '\t') {
        c->state = CH_EXT;
        i++;
      } else if (ch == '\r') {
        c->state = CH_SIZE_LF;
        i++;
      } else if (ch == '\n') {
        c->state = CH_SIZE_LF;
      } else {
        return -EINVAL;
      }
      break;
    }
    case CH_EXT:
      if (ch == '\n') {
        c->state = CH_SIZE_LF;
        break;
      }
      if (++c->aux_len > CH_AUX_MAX)
        return -EINVAL;
      i++;
      break;
    case CH_SIZE_LF:
      if (ch != '\n')
        return -EINVAL;
      i++;
      c->state = c->size == 0 ? CH_TRAILER_START : CH_DATA;
      break;
    case CH_DATA: {
      size_t n = len - i;
      if (n > c->size)
        n = (size_t)c->size;
      int r = buf_append(out, in + i, n);
      if (r < 0)
        return r;
      i += n;
      c->size -= n;
      if (c->size == 0)
        c->state = CH_DATA_CR;
      break;
    }
    case CH_DATA_CR:
      if (ch == '\r') {
        c->state = CH_DATA_LF;
        i++;
      } else if (ch == '\n') {
        c->state = CH_DATA_LF;
      } else {
        return -EINVAL;
      }
      break;
    case CH_DATA_LF:
      if (ch != '\n')
        return -EINVAL;
      i++;
      c->state = CH_SIZE;
      c->digits = 0;
      c->size = 0;
      break;
    case CH_TRAILER_START:
      if (ch == '\r') {
        c->state = CH_END_LF;
        i++;
      } else if (ch == '\n') {
        c->state = CH_DONE;
        i++;
        *ret_done = true;
        return (long)i;
      } else {
        c->state = CH_TRAILER;
      }
      break;
    case CH_TRAILER:
      if (++c->aux_len > CH_AUX_MAX)
        return -EINVAL;
      if (ch == '\n')
        c->state = CH_TRAILER_START;
      i++;
      break;
    case CH_END_LF:
      if (ch != '\n')
        return -EINVAL;
      i++;
      c->state = CH_DONE;
      *ret_done = true;
      return (long)i;
    case CH_DONE:
      *ret_done = true;
      return (long)i;
    default:
      return -EINVAL;
    }
  }
  *ret_done = c->state == CH_DONE;
  return (long)i;
}

const http_header_t *http_response_find(const http_response_t *r, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < r->n_headers; i++)
    if (r->headers[i].name_len == n && !strncasecmp(r->headers[i].name, name, n))
      return &r->headers[i];
  return NULL;
}
