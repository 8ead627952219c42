/* Bounded growable buffer (buf.h). */
#include "util/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void buf_init(buf_t *b, size_t limit) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit;
}

void buf_done(buf_t *b) {
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void buf_reset(buf_t *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

static int reserve(buf_t *b, size_t extra) {
  if (extra > b->limit || b->len > b->limit - extra)
    return -E2BIG;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
  return 0;
}

int buf_append(buf_t *b, const void *data, size_t len) {
  int r = reserve(b, len);
  if (r < 0)
    return r;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int buf_append_str(buf_t *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_printf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -EINVAL;
  int r = reserve(b, (size_t)n);
  if (r < 0)
    return r;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

char *buf_steal(buf_t *b, size_t *ret_len) {
  char *p = b->data ? b->data : xstrdup("");
  if (ret_len)
    *ret_len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
