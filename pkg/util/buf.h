/* Growable byte buffer with a hard size limit (like curl's dynbuf).
 *
 * Every buffer that input can grow is created with a limit; appending past
 * it fails with -E2BIG and leaves the buffer unchanged, so a caller can turn
 * it into a "request too large" error instead of exhausting a 512 MiB board.
 * The content is always NUL-terminated (not counted in len). */
#pragma once

#include <stddef.h>

typedef struct {
  char *data; /* NULL until the first append */
  size_t len;
  size_t cap;
  size_t limit; /* maximum len */
} buf_t;

void buf_init(buf_t *b, size_t limit);
/* Release memory; the buffer may be reused after buf_init. Accepts NULL. */
void buf_done(buf_t *b);
void buf_reset(buf_t *b); /* len = 0, keeps memory */

/* Return 0, or -E2BIG if the result would exceed the limit. */
int buf_append(buf_t *b, const void *data, size_t len);
int buf_append_str(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand the contents to the caller (free() it); the buffer becomes empty.
 * Returns an empty string rather than NULL for an empty buffer. */
char *buf_steal(buf_t *b, size_t *ret_len);
