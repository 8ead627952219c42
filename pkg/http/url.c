/* Percent-decoding (RFC 3986 2.1) and query strings in the
 * x-www-form-urlencoded style Kubernetes clients send
 * (labelSelector=app%3Dweb&limit=500). */
#include "http/url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int http_url_decode(const char *s, size_t len, bool plus_is_space, char **ret) {
  char *out = xmalloc(len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0 ||
          (hi == 0 && lo == 0)) {
        free(out);
        return -EINVAL;
      }
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out[o++] = ' ';
    } else if (c == '\0') {
      free(out);
      return -EINVAL;
    } else {
      out[o++] = c;
    }
  }
  out[o] = '\0';
  *ret = out;
  return 0;
}

/* The parameter name of the piece [p, p+len) for error messages, cut. */
static void piece_name(const char *p, size_t len, char *out, size_t n) {
  const char *eq = memchr(p, '=', len);
  size_t nlen = eq ? (size_t)(eq - p) : len;
  if (nlen >= n)
    nlen = n - 1;
  memcpy(out, p, nlen);
  out[nlen] = '\0';
}

int http_query_check(const char *raw, char *err, size_t errlen) {
  char name[64];
  for (const char *p = raw; *p; p++) {
    if (*p == ';') {
      snprintf(err, errlen, "invalid semicolon separator in query");
      return -EINVAL;
    }
    if (*p != '%')
      continue;
    if (hexval(p[1]) < 0 || hexval(p[2]) < 0) {
      /* Go's url.EscapeError: the '%' and at most two bytes after it. */
      size_t n = p[1] ? (p[2] ? 3 : 2) : 1;
      char esc[16];
      size_t o = 0;
      for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
          esc[o++] = (char)c;
        else
          o += (size_t)snprintf(esc + o, sizeof(esc) - o, c == '"' || c == '\\' ? "\\%c" : "\\x%02x", c);
      }
      esc[o] = '\0';
      snprintf(err, errlen, "invalid URL escape \"%s\"", esc);
      return -EINVAL;
    }
    if (p[1] == '0' && p[2] == '0') {
      const char *start = p;
      while (start > raw && start[-1] != '&')
        start--;
      const char *amp = strchr(p, '&');
      piece_name(start, amp ? (size_t)(amp - start) : strlen(start), name, sizeof(name));
      snprintf(err, errlen,
               "query parameter \"%s\": %%00 (a NUL byte) is not supported in query values",
               name);
      return -EINVAL;
    }
    p += 2;
  }
  return 0;
}

void http_query_done(http_query_t *q) {
  if (!q)
    return;
  for (size_t i = 0; i < q->n; i++) {
    free(q->v[i].name);
    free(q->v[i].value);
  }
  free(q->v);
  q->v = NULL;
  q->n = 0;
}

int http_query_parse(const char *raw, http_query_t *q) {
  char err[128];
  q->v = NULL;
  q->n = 0;
  if (http_query_check(raw, err, sizeof(err)) < 0)
    return -EINVAL;
  const char *p = raw;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t plen = amp ? (size_t)(amp - p) : strlen(p);
    if (plen > 0) {
      const char *eq = memchr(p, '=', plen);
      size_t nlen = eq ? (size_t)(eq - p) : plen;
      char *name = NULL, *value = NULL;
      if (http_url_decode(p, nlen, true, &name) < 0 ||
          http_url_decode(eq ? eq + 1 : "", eq ? plen - nlen - 1 : 0, true, &value) < 0) {
        free(name);
        http_query_done(q);
        return -EINVAL;
      }
      q->v = xrealloc(q->v, (q->n + 1) * sizeof(*q->v));
      q->v[q->n].name = name;
      q->v[q->n].value = value;
      q->n++;
    }
    p += plen;
    if (*p == '&')
      p++;
  }
  return 0;
}

const char *http_query_get(const http_query_t *q, const char *name) {
  for (size_t i = 0; i < q->n; i++)
    if (!strcmp(q->v[i].name, name))
      return q->v[i].value;
  return NULL;
}

int http_target_split(const char *target, size_t len, char **ret_path, char **ret_raw_query) {
  const char *p = target, *end = target + len;
  if (len == 1 && *p == '*') {
    *ret_path = xstrdup("*");
    *ret_raw_query = xstrdup("");
    return 0;
  }
  if (*p != '/') {
    /* absolute-form: scheme "://" authority path */
    const char *sep = NULL;
    for (const char *s = p; s + 2 < end; s++)
      if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
        sep = s;
        break;
      }
    if (!sep || (sep - p != 4 && sep - p != 5) ||
        (strncasecmp(p, "http", 4) != 0))
      return -EINVAL;
    p = sep + 3;
    while (p < end && *p != '/' && *p != '?')
      p++;
  }
  const char *q = memchr(p, '?', (size_t)(end - p));
  const char *pend = q ? q : end;
  char *path = NULL;
  int r;
  if (pend == p)
    path = xstrdup("/");
  else if ((r = http_url_decode(p, (size_t)(pend - p), false, &path)) < 0)
    return r;
  /* A fragment is never sent by clients; drop it if it is. */
  const char *qs = q ? q + 1 : end;
  const char *hash = memchr(qs, '#', (size_t)(end - qs));
  *ret_raw_query = xstrndup(qs, (size_t)((hash ? hash : end) - qs));
  *ret_path = path;
  return 0;
}
