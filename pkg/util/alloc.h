/* Allocation with k3c's out-of-memory policy: a failed allocation logs one
 * line and aborts the process (as redis and h2o do). A daemon that cannot
 * allocate cannot keep its promises; the service manager restarts it and the
 * store recovers from SQLite. Every input-driven buffer is bounded
 * separately, so OOM here means the machine, not a request. */
#pragma once

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Room for element n of an array of n elements that grows one at a time
 * through xgrow (shrinking n, or restarting from 0, is fine; sizing it any
 * other way is not). The capacity is implicit, the power of two from 4 at or
 * above n, so n appends copy O(n) in all where realloc to n + 1 each time
 * copies O(n^2) on allocators that cannot grow in place (musl's, ASan's). */
void *xgrow(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Install xmalloc-style hooks into cJSON so its allocations share the policy. */
void alloc_install_cjson_hooks(void);
