/* The cron schedule parser and next-activation search of CronJobs (the
 * format of robfig/cron v3's standard parser, which upstream's CronJob
 * controller uses). https://en.wikipedia.org/wiki/Cron */
#include "controller/cron.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/duration.h"

typedef struct {
  int min, max;
  const char *const *names; /* names[i] is value i + names_base */
  int names_base;
} bounds_t;

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const bounds_t b_minute = {0, 59, NULL, 0}, b_hour = {0, 23, NULL, 0},
                      b_dom = {1, 31, NULL, 0}, b_month = {1, 12, months, 1},
                      b_dow = {0, 6, days, 0};

/* A number or a name of the field; -1 when neither. */
static long value_of(const char *s, size_t n, const bounds_t *b) {
  if (n == 0 || n > 9)
    return -1;
  char buf[16];
  memcpy(buf, s, n);
  buf[n] = '\0';
  for (int i = 0; b->names && b->names[i]; i++)
    if (!strcasecmp(buf, b->names[i]))
      return i + b->names_base;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)buf[i]))
      return -1;
  return strtol(buf, NULL, 10);
}

/* One field ("1-5/2,10") into bits; *star for "*" or "?" without a step. */
static int parse_field(const char *f, const bounds_t *b, uint64_t *bits, bool *star, char *err,
                       size_t errlen) {
  *bits = 0;
  *star = false;
  const char *p = f;
  while (1) {
    size_t len = strcspn(p, ",");
    const char *slash = memchr(p, '/', len);
    size_t rlen = slash ? (size_t)(slash - p) : len;
    long lo, hi, step = 1;
    bool this_star = false;
    if ((rlen == 1 && (p[0] == '*' || p[0] == '?'))) {
      lo = b->min;
      hi = b->max;
      this_star = true;
    } else {
      const char *dash = memchr(p, '-', rlen);
      lo = value_of(p, dash ? (size_t)(dash - p) : rlen, b);
      hi = dash ? value_of(dash + 1, rlen - (size_t)(dash - p) - 1, b) : lo;
      if (lo < 0 || hi < 0) {
        snprintf(err, errlen, "failed to parse int from %.*s", (int)rlen, p);
        return -EINVAL;
      }
      if (slash && !dash)
        hi = b->max; /* "N/step" means N-max/step */
    }
    if (slash) {
      char *end;
      size_t slen = len - rlen - 1;
      char sbuf[16];
      if (slen == 0 || slen >= sizeof(sbuf)) {
        snprintf(err, errlen, "failed to parse int from %.*s", (int)slen, slash + 1);
        return -EINVAL;
      }
      memcpy(sbuf, slash + 1, slen);
      sbuf[slen] = '\0';
      step = strtol(sbuf, &end, 10);
      if (*end || step < 0) {
        snprintf(err, errlen, "failed to parse int from %s", sbuf);
        return -EINVAL;
      }
      if (step > 1)
        this_star = false;
    }
    if (lo < b->min) {
      snprintf(err, errlen, "beginning of range (%ld) below minimum (%d): %s", lo, b->min, f);
      return -EINVAL;
    }
    if (hi > b->max) {
      snprintf(err, errlen, "end of range (%ld) above maximum (%d): %s", hi, b->max, f);
      return -EINVAL;
    }
    if (lo > hi) {
      snprintf(err, errlen, "beginning of range (%ld) beyond end of range (%ld): %s", lo, hi, f);
      return -EINVAL;
    }
    if (step == 0) {
      snprintf(err, errlen, "step of range should be a positive number: %s", f);
      return -EINVAL;
    }
    for (long v = lo; v <= hi; v += step)
      *bits |= (uint64_t)1 << v;
    *star = *star || this_star;
    if (!p[len])
      break;
    p += len + 1;
  }
  return 0;
}

int controller_cron_parse(const char *spec, controller_cron_t *ret, char *err, size_t errlen) {
  controller_cron_t c;
  memset(&c, 0, sizeof(c));
  while (*spec == ' ' || *spec == '\t')
    spec++;
  if (!*spec) {
    snprintf(err, errlen, "empty spec string");
    return -EINVAL;
  }
  if (spec[0] == '@') {
    static const struct {
      const char *name, *fields;
    } desc[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                {"@hourly", "0 * * * *"}};
    for (size_t i = 0; i < sizeof(desc) / sizeof(desc[0]); i++)
      if (!strcmp(spec, desc[i].name))
        return controller_cron_parse(desc[i].fields, ret, err, errlen);
    if (!strncmp(spec, "@every ", 7)) {
      long d = duration_parse(spec + 7);
      if (d < 0) {
        snprintf(err, errlen, "failed to parse duration %s: time: invalid duration \"%s\"", spec,
                 spec + 7);
        return -EINVAL;
      }
      c.every = d < 1 ? 1 : d; /* upstream rounds up to a second */
      *ret = c;
      return 0;
    }
    snprintf(err, errlen, "unrecognized descriptor: %s", spec);
    return -EINVAL;
  }
  char copy[256];
  if (strlen(spec) >= sizeof(copy)) {
    snprintf(err, errlen, "schedule too long");
    return -EINVAL;
  }
  snprintf(copy, sizeof(copy), "%s", spec);
  char *fields[5];
  int n = 0;
  for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (n < 5)
      fields[n] = t;
    n++;
  }
  if (n != 5) {
    snprintf(err, errlen, "expected exactly 5 fields, found %d: [%s]", n, spec);
    return -EINVAL;
  }
  const bounds_t *b[5] = {&b_minute, &b_hour, &b_dom, &b_month, &b_dow};
  uint64_t bits[5];
  bool star[5];
  for (int i = 0; i < 5; i++) {
    int r = parse_field(fields[i], b[i], &bits[i], &star[i], err, errlen);
    if (r < 0)
      return r;
  }
  c.minute = bits[0];
  c.hour = (uint32_t)bits[1];
  c.dom = (uint32_t)bits[2];
  c.month = (uint16_t)bits[3];
  c.dow = (uint8_t)bits[4];
  c.dom_star = star[2];
  c.dow_star = star[4];
  *ret = c;
  return 0;
}

/* ---- time in a zone ---- */

typedef struct {
  bool utc;
  char *saved; /* TZ before (NULL: unset) */
  bool set;
} zone_t;

static int zone_enter(zone_t *z, const char *tz) {
  memset(z, 0, sizeof(*z));
  if (tz && (!strcmp(tz, "UTC") || !strcmp(tz, "Etc/UTC"))) {
    z->utc = true;
    return 0;
  }
  if (!tz || !tz[0])
    return 0; /* the process's zone */
  if (!controller_cron_zone_known(tz))
    return -ENOENT;
  const char *old = getenv("TZ");
  z->saved = old ? strdup(old) : NULL;
  char v[300];
  snprintf(v, sizeof(v), ":%s", tz);
  setenv("TZ", v, 1);
  tzset();
  z->set = true;
  return 0;
}

static void zone_leave(zone_t *z) {
  if (!z->set)
    return;
  if (z->saved)
    setenv("TZ", z->saved, 1);
  else
    unsetenv("TZ");
  tzset();
  free(z->saved);
}

static void to_tm(const zone_t *z, time_t t, struct tm *tm) {
  if (z->utc)
    gmtime_r(&t, tm);
  else
    localtime_r(&t, tm);
}

static time_t from_tm(const zone_t *z, struct tm *tm) {
  if (z->utc)
    return timegm(tm);
  tm->tm_isdst = -1;
  return mktime(tm);
}

bool controller_cron_zone_known(const char *tz) {
  if (!tz || !tz[0] || strstr(tz, ".."))
    return false;
  if (!strcmp(tz, "UTC"))
    return true;
  char path[512];
  snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool day_matches(const controller_cron_t *c, const struct tm *tm) {
  bool dom = c->dom & (1u << tm->tm_mday), dow = c->dow & (1u << tm->tm_wday);
  if (c->dom_star || c->dow_star)
    return dom && dow;
  return dom || dow;
}

time_t controller_cron_next(const controller_cron_t *c, time_t after, const char *tz) {
  if (c->every > 0)
    return after + c->every;
  zone_t z;
  if (zone_enter(&z, tz) < 0)
    return -1;
  /* the next whole minute after `after` */
  time_t t = after - (after % 60 + 60) % 60 + 60;
  struct tm tm;
  to_tm(&z, t, &tm);
  int year_limit = tm.tm_year + 5;
  time_t result = -1;
  for (int guard = 0; guard < 100000; guard++) {
    if (tm.tm_year > year_limit)
      break;
    if (!(c->month & (1u << (tm.tm_mon + 1)))) { /* the first of the next month */
      tm.tm_mon++;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = from_tm(&z, &tm);
      to_tm(&z, t, &tm);
      continue;
    }
    if (!day_matches(c, &tm)) { /* the next day */
      tm.tm_mday++;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = from_tm(&z, &tm);
      to_tm(&z, t, &tm);
      continue;
    }
    if (!(c->hour & (1u << tm.tm_hour))) { /* the next hour (real time: DST-safe) */
      t += 3600 - (tm.tm_min * 60 + tm.tm_sec);
      to_tm(&z, t, &tm);
      continue;
    }
    if (!(c->minute & ((uint64_t)1 << tm.tm_min))) {
      t += 60 - tm.tm_sec;
      to_tm(&z, t, &tm);
      continue;
    }
    result = t;
    break;
  }
  zone_leave(&z);
  return result;
}

int controller_cron_localtime(time_t t, const char *tz, struct tm *ret_tm) {
  zone_t z;
  if (zone_enter(&z, tz) < 0)
    return -ENOENT;
  to_tm(&z, t, ret_tm);
  zone_leave(&z);
  return 0;
}
