/* Caller-supplied error text buffers (redis anet style: char *err, size_t
 * errlen), for functions whose failures need a readable reason. */
#pragma once

#include <stddef.h>

/* printf into err (truncating); does nothing when err is NULL or errlen 0. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
