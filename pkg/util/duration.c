/* Go duration parsing (duration.h): a sequence of decimal numbers, each with
 * a unit ns, us (or µs), ms, s, m or h; a bare "0" is allowed.
 * https://pkg.go.dev/time#ParseDuration */
#include "util/duration.h"

#include <limits.h>
#include <string.h>

long duration_parse(const char *s) {
  if (!s || !*s)
    return -1;
  if (!strcmp(s, "0"))
    return 0;
  double total = 0;
  while (*s) {
    /* [0-9]*(.[0-9]*)? with a digit somewhere; not strtod, which takes
     * signs, spaces, "inf" and hex. */
    double v = 0, scale = 1;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
      v = v * 10 + (*s - '0');
    if (*s == '.')
      for (s++; *s >= '0' && *s <= '9'; s++, digits++)
        v += (*s - '0') * (scale /= 10);
    if (!digits)
      return -1;
    double unit;
    if (!strncmp(s, "ns", 2)) {
      unit = 1e-9;
      s += 2;
    } else if (!strncmp(s, "us", 2)) {
      unit = 1e-6;
      s += 2;
    } else if (!strncmp(s, "\xc2\xb5s", 3)) {
      unit = 1e-6;
      s += 3;
    } else if (!strncmp(s, "ms", 2)) {
      unit = 1e-3;
      s += 2;
    } else if (*s == 's') {
      unit = 1;
      s++;
    } else if (*s == 'm') {
      unit = 60;
      s++;
    } else if (*s == 'h') {
      unit = 3600;
      s++;
    } else {
      return -1;
    }
    total += v * unit;
    if (total > (double)LONG_MAX / 2)
      return -1;
  }
  return (long)total;
}
