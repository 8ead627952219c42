/* Allocation wrappers implementing the abort-on-OOM policy (alloc.h). */
#include "util/alloc.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static void oom(size_t size) {
  log_error("alloc", "out of memory allocating %zu bytes; aborting", size);
  abort();
}

void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *xrealloc(void *p, size_t size) {
  void *q = realloc(p, size ? size : 1);
  if (!q)
    oom(size);
  return q;
}

void *xgrow(void *p, size_t n, size_t size) {
  if (n && (n < 4 || (n & (n - 1))))
    return p; /* below the implicit capacity */
  size_t cap = n ? 2 * n : 4;
  if (cap < n || (size && cap > (size_t)-1 / size))
    oom((size_t)-1);
  return xrealloc(p, cap * size);
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *p = xmalloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    oom(0);
  char *p = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void alloc_install_cjson_hooks(void) {
  cJSON_Hooks hooks = {.malloc_fn = xmalloc, .free_fn = free};
  cJSON_InitHooks(&hooks);
}
