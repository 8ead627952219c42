/* Leveled logging to stderr: one write(2) per line so lines from several
 * threads never interleave. Format follows klog's spirit: time, level,
 * component, message. */
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile log_level_t current_level = LOG_LEVEL_INFO;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(log_level_t level) { current_level = level; }

log_level_t log_get_level(void) { return current_level; }

int log_level_parse(const char *s, log_level_t *ret_level) {
  for (int i = 0; i <= LOG_LEVEL_DEBUG; i++) {
    if (strcasecmp(s, level_names[i]) == 0) {
      *ret_level = (log_level_t)i;
      return 0;
    }
  }
  if (strcasecmp(s, "warning") == 0) {
    *ret_level = LOG_LEVEL_WARN;
    return 0;
  }
  return -EINVAL;
}

void log_vmsg(log_level_t level, const char *component, const char *fmt, va_list ap) {
  if (level > current_level)
    return;
  char line[4096];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
                   component ? component : "k3c");
  if (n < 0)
    return;
  int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  if (m < 0)
    return;
  size_t len = (size_t)n + (size_t)m;
  if (len >= sizeof(line) - 1) {
    /* Mark truncation instead of hiding it. */
    len = sizeof(line) - 5;
    memcpy(line + len, "...", 3);
    len += 3;
  }
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}

void log_msg(log_level_t level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, component, fmt, ap);
  va_end(ap);
}
