/* Leveled logging to stderr for the k3c daemons.
 *
 * Only command and daemon code logs; library modules return errors and let
 * the caller log once with context (see docs/STYLE in ARCHITECTURE.md).
 * Thread-safe: each line is written with a single write(2). */
#pragma once

#include <stdarg.h>

typedef enum {
  LOG_LEVEL_ERROR = 0,
  LOG_LEVEL_WARN = 1,
  LOG_LEVEL_INFO = 2,
  LOG_LEVEL_DEBUG = 3,
} log_level_t;

/* Set the most verbose level that is printed (default LOG_LEVEL_INFO). */
void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* Parse "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *s, log_level_t *ret_level);

/* Print one line: "<RFC3339 time> <LEVEL> [<component>] message". */
void log_msg(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(log_level_t level, const char *component, const char *fmt, va_list ap);

#define log_error(comp, ...) log_msg(LOG_LEVEL_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_msg(LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_msg(LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...)                                                   \
  do {                                                                         \
    if (log_get_level() >= LOG_LEVEL_DEBUG)                                    \
      log_msg(LOG_LEVEL_DEBUG, comp, __VA_ARGS__);                             \
  } while (0)
