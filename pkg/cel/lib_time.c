/* CEL's standard timestamp and duration definitions (lib 0): conversions
 * from and to strings (RFC 3339; Go's duration syntax), arithmetic with
 * cel-go's range errors, and the accessors getFullYear ... getMilliseconds
 * with an optional time zone ("UTC", "+05:30", or an IANA name read from
 * the system's TZif files). cel-spec langdef.md "Timestamp and Duration";
 * behaviour as cel-go's common/types/timestamp.go and duration.go. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cel/lib.h"
#include "util/alloc.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost

#define NS 1000000000LL
#define MIN_UNIX (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MAX_UNIX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define ZONEINFO "/usr/share/zoneinfo/"

static int64_t dur_ns(const cel_value_t *v) {
  int64_t s;
  int32_t n;
  cel_value_time(v, &s, &n);
  return s * NS + n;
}

static cel_value_t *dur_of(int64_t ns) {
  return cel_duration(ns / NS, (int32_t)(ns % NS));
}

/* a timestamp from seconds and any nanos, normalised and range checked */
/* (int64 is enough: seconds stay within +-2^38 and nanos within +-2^63,
 * and armv7 has no __int128) */
static cel_value_t *ts_of(int64_t sec, int64_t nanos) {
  sec += nanos / NS;
  nanos %= NS;
  if (nanos < 0)
    nanos += NS, sec--;
  if (sec < MIN_UNIX || sec > MAX_UNIX)
    return cel_errorf("timestamp overflow");
  return cel_timestamp((int64_t)sec, (int32_t)nanos);
}

/* ---- civil time (days since 1970-01-01 <-> y/m/d, proleptic Gregorian) ---- */

static void civil(int64_t days, int64_t *ret_y, int *ret_m, int *ret_d) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = (int)(doy - (153 * mp + 2) / 5 + 1);
  int m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *ret_y = yoe + era * 400 + (m <= 2);
  *ret_m = m;
  *ret_d = d;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int64_t floordiv(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- time zones ---- */

/* POSIX TZ rule: "Mm.w.d[/time]" (the form TZif footers use) */
typedef struct {
  int m, w, d;
  int32_t time; /* seconds after local midnight */
} tz_rule_t;

typedef struct {
  int32_t std_off, dst_off; /* seconds east of UTC */
  bool has_dst;
  tz_rule_t start, end;
} tz_posix_t;

/* a zone abbreviation: "<+05>" or three or more letters */
static int tz_parse_name(const char *p, const char **ret) {
  if (*p == '<') {
    const char *e = strchr(p, '>');
    if (!e)
      return -EINVAL;
    *ret = e + 1;
    return 0;
  }
  const char *s = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
    p++;
  if (p - s < 3)
    return -EINVAL;
  *ret = p;
  return 0;
}

/* [+-]hh[:mm[:ss]] as seconds */
static int tz_parse_time(const char *p, const char **ret, int32_t *ret_secs) {
  int sign = 1;
  if (*p == '+' || *p == '-')
    sign = *p++ == '-' ? -1 : 1;
  if (*p < '0' || *p > '9')
    return -EINVAL;
  int32_t v = 0, part = 0;
  for (int k = 0; k < 3; k++) {
    part = 0;
    while (*p >= '0' && *p <= '9')
      part = part * 10 + (*p++ - '0');
    v = v * 60 + part;
    if (*p != ':') {
      for (int j = k; j < 2; j++)
        v *= 60;
      break;
    }
    p++;
  }
  *ret = p;
  *ret_secs = sign * v;
  return 0;
}

static int tz_parse_rule(const char *p, const char **ret, tz_rule_t *r) {
  if (*p++ != 'M')
    return -EINVAL;
  char *e;
  r->m = (int)strtol(p, &e, 10);
  if (*e != '.')
    return -EINVAL;
  r->w = (int)strtol(e + 1, &e, 10);
  if (*e != '.')
    return -EINVAL;
  r->d = (int)strtol(e + 1, &e, 10);
  r->time = 7200;
  p = e;
  if (*p == '/' && tz_parse_time(p + 1, &p, &r->time) < 0)
    return -EINVAL;
  if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6)
    return -EINVAL;
  *ret = p;
  return 0;
}

static int tz_parse_posix(const char *p, tz_posix_t *z) {
  memset(z, 0, sizeof(*z));
  int32_t off;
  if (tz_parse_name(p, &p) < 0 || tz_parse_time(p, &p, &off) < 0)
    return -EINVAL;
  z->std_off = -off; /* POSIX offsets are west of UTC */
  if (!*p)
    return 0;
  if (tz_parse_name(p, &p) < 0)
    return -EINVAL;
  z->has_dst = true;
  z->dst_off = z->std_off + 3600;
  if (*p && *p != ',') {
    if (tz_parse_time(p, &p, &off) < 0)
      return -EINVAL;
    z->dst_off = -off;
  }
  if (*p != ',' || tz_parse_rule(p + 1, &p, &z->start) < 0 || *p != ',' || tz_parse_rule(p + 1, &p, &z->end) < 0)
    return -EINVAL;
  return 0;
}

/* unix time of rule r in year y, given the offset in force before it */
static int64_t rule_time(const tz_rule_t *r, int64_t y, int32_t off) {
  int64_t first = days_from_civil(y, r->m, 1);
  int wd = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
  int64_t day = first + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int dim = mdays[r->m - 1] + (r->m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  while (day - first >= dim)
    day -= 7;
  return day * 86400 + r->time - off;
}

static int32_t posix_offset(const tz_posix_t *z, int64_t t) {
  if (!z->has_dst)
    return z->std_off;
  int64_t y;
  int m, d;
  civil(floordiv(t + z->std_off, 86400), &y, &m, &d);
  int64_t start = rule_time(&z->start, y, z->std_off), end = rule_time(&z->end, y, z->dst_off);
  bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? z->dst_off : z->std_off;
}

static int64_t be(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  if (n == 4)
    return (int32_t)(uint32_t)v;
  return (int64_t)v;
}

/* The offset of an IANA zone at t from its TZif file (RFC 8536). */
static int tzif_offset(const char *name, int64_t t, int32_t *ret_off) {
  if (!*name || strlen(name) > 200)
    return -ENOENT;
  char path[256];
  if (!strcmp(name, "Local")) /* Go's Local: the system's zone */
    snprintf(path, sizeof(path), "/etc/localtime");
  else
    snprintf(path, sizeof(path), ZONEINFO "%s", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -ENOENT;
  enum { MAX = 1 << 17 };
  unsigned char *buf = xmalloc(MAX);
  ssize_t n = read(fd, buf, MAX);
  close(fd);
  int rc = -ENOENT;
  if (n < 44 || memcmp(buf, "TZif", 4))
    goto out;
  size_t len = (size_t)n, pos = 0;
  int tsize = 4;
  for (int pass = 0; pass < 2; pass++) {
    if (pos + 44 > len)
      goto out;
    const unsigned char *h = buf + pos;
    uint64_t isut = (uint64_t)be(h + 20, 4), isstd = (uint64_t)be(h + 24, 4), leap = (uint64_t)be(h + 28, 4);
    uint64_t timecnt = (uint64_t)be(h + 32, 4), typecnt = (uint64_t)be(h + 36, 4), charcnt = (uint64_t)be(h + 40, 4);
    if (isut > 1000 || isstd > 1000 || leap > 1000 || timecnt > 10000 || typecnt > 256 || typecnt == 0 || charcnt > 1000)
      goto out;
    size_t body = timecnt * (size_t)tsize + timecnt + typecnt * 6 + charcnt + leap * (size_t)(tsize + 4) + isstd + isut;
    if (pass == 0 && h[4] >= '2') {
      pos += 44 + body; /* skip the 32-bit data for the 64-bit */
      tsize = 8;
      continue;
    }
    if (pos + 44 + body > len)
      goto out;
    const unsigned char *times = h + 44, *idx = times + timecnt * (size_t)tsize, *types = idx + timecnt;
    /* the last transition at or before t */
    int64_t k = -1;
    for (uint64_t i = 0; i < timecnt; i++)
      if (be(times + i * (size_t)tsize, tsize) <= t)
        k = (int64_t)i;
    const unsigned char *footer = h + 44 + body;
    if (k == (int64_t)timecnt - 1 && tsize == 8 && footer < buf + len && *footer == '\n') {
      const unsigned char *e = memchr(footer + 1, '\n', (size_t)(buf + len - footer - 1));
      tz_posix_t z;
      if (e && e > footer + 1) {
        char tz[128];
        size_t tl = (size_t)(e - footer - 1);
        if (tl < sizeof(tz)) {
          memcpy(tz, footer + 1, tl);
          tz[tl] = 0;
          if (tz_parse_posix(tz, &z) == 0) {
            *ret_off = posix_offset(&z, t);
            rc = 0;
            goto out;
          }
        }
      }
    }
    unsigned type = k < 0 ? 0 : idx[k];
    if (type >= typecnt)
      goto out;
    *ret_off = (int32_t)be(types + type * 6, 4);
    rc = 0;
    goto out;
  }
out:
  free(buf);
  return rc;
}

/* The offset of tz (cel-go's timeZone: an IANA name, or [+-]hh:mm) at t.
 * NULL, or an error value. */
static cel_value_t *zone_offset(const cel_value_t *tzv, int64_t t, int32_t *ret_off) {
  size_t len;
  const char *tz = cel_value_str(tzv, &len);
  const char *colon = memchr(tz, ':', len);
  if (!colon) {
    if (len == 0 || !strcmp(tz, "UTC")) {
      *ret_off = 0;
      return NULL;
    }
    /* Go's LoadLocation refuses names that could leave the zone directory */
    if (strlen(tz) != len || strstr(tz, "..") || tz[0] == '/' || tz[0] == '\\')
      return cel_errorf("time: invalid location name");
    if (tzif_offset(tz, t, ret_off) < 0) {
      if (!strcmp(tz, "Local")) { /* no /etc/localtime: Go's Local is UTC */
        *ret_off = 0;
        return NULL;
      }
      return cel_errorf("unknown time zone %s", tz);
    }
    return NULL;
  }
  /* strconv.Atoi on each side */
  int64_t v[2];
  const char *part[2] = {tz, colon + 1};
  size_t plen[2] = {(size_t)(colon - tz), len - (size_t)(colon - tz) - 1};
  for (int k = 0; k < 2; k++) {
    const char *p = part[k];
    size_t n = plen[k], i = 0;
    bool neg = false;
    if (n && (p[0] == '+' || p[0] == '-'))
      neg = p[0] == '-', i = 1;
    if (i == n || n - i > 18)
      return cel_errorf("strconv.Atoi: parsing \"%.*s\": invalid syntax", (int)n, p);
    int64_t x = 0;
    for (; i < n; i++) {
      if (p[i] < '0' || p[i] > '9')
        return cel_errorf("strconv.Atoi: parsing \"%.*s\": invalid syntax", (int)n, p);
      x = x * 10 + (p[i] - '0');
    }
    v[k] = neg ? -x : x;
  }
  if (v[1] < 0 || v[1] > 59)
    return cel_errorf("timezone offset minutes out of range [0, 59]: %s", tz);
  int64_t off = tz[0] == '-' ? v[0] * 60 - v[1] : v[0] * 60 + v[1];
  if (off > 100000 || off < -100000)
    return cel_errorf("unknown time zone %s", tz);
  *ret_off = (int32_t)(off * 60);
  return NULL;
}

/* ---- accessors ---- */

typedef enum { F_YEAR, F_MONTH, F_DOY, F_DATE0, F_DATE1, F_DOW, F_HOURS, F_MINUTES, F_SECONDS, F_MS } field_t;

static cel_value_t *ts_field(cel_value_t **args, size_t nargs, field_t f) {
  int64_t sec;
  int32_t ns;
  cel_value_time(args[0], &sec, &ns);
  int32_t off = 0;
  if (nargs > 1) {
    cel_value_t *err = zone_offset(args[1], sec, &off);
    if (err)
      return err;
  }
  int64_t local = sec + off;
  int64_t days = floordiv(local, 86400), secs = local - days * 86400;
  int64_t y;
  int m, d;
  civil(days, &y, &m, &d);
  switch (f) {
  case F_YEAR:
    return cel_int(y);
  case F_MONTH:
    return cel_int(m - 1);
  case F_DOY:
    return cel_int(days - days_from_civil(y, 1, 1));
  case F_DATE0:
    return cel_int(d - 1);
  case F_DATE1:
    return cel_int(d);
  case F_DOW:
    return cel_int(((days % 7) + 7 + 4) % 7);
  case F_HOURS:
    return cel_int(secs / 3600);
  case F_MINUTES:
    return cel_int(secs / 60 % 60);
  case F_SECONDS:
    return cel_int(secs % 60);
  case F_MS:
    return cel_int(ns / 1000000);
  }
  return cel_errorf("no such overload");
}

#define TS_FIELD(fn, f)                                                                             \
  FN(fn) {                                                                                          \
    (void)ret_cost;                                                                                 \
    return ts_field(args, nargs, f);                                                                \
  }
TS_FIELD(ts_year, F_YEAR)
TS_FIELD(ts_month, F_MONTH)
TS_FIELD(ts_doy, F_DOY)
TS_FIELD(ts_date0, F_DATE0)
TS_FIELD(ts_date1, F_DATE1)
TS_FIELD(ts_dow, F_DOW)
TS_FIELD(ts_hours, F_HOURS)
TS_FIELD(ts_minutes, F_MINUTES)
TS_FIELD(ts_seconds, F_SECONDS)
TS_FIELD(ts_ms, F_MS)

FN(dur_hours) {
  UNUSED;
  return cel_int(dur_ns(args[0]) / (3600 * NS));
}
FN(dur_minutes) {
  UNUSED;
  return cel_int(dur_ns(args[0]) / (60 * NS));
}
FN(dur_seconds) {
  UNUSED;
  return cel_int(dur_ns(args[0]) / NS);
}
FN(dur_ms) {
  UNUSED;
  return cel_int(dur_ns(args[0]) / 1000000);
}

/* ---- arithmetic ---- */

FN(add_ts_dur) {
  UNUSED;
  bool swap = cel_value_kind(args[0]) == CEL_DURATION;
  int64_t sec;
  int32_t ns;
  cel_value_time(args[swap], &sec, &ns);
  int64_t d = dur_ns(args[!swap]);
  return ts_of(sec + d / NS, (int64_t)ns + d % NS);
}
FN(sub_ts_dur) {
  UNUSED;
  int64_t sec;
  int32_t ns;
  cel_value_time(args[0], &sec, &ns);
  int64_t d = dur_ns(args[1]);
  return ts_of(sec - d / NS, (int64_t)ns - d % NS);
}
FN(sub_ts_ts) {
  UNUSED;
  int64_t s1, s2;
  int32_t n1, n2;
  cel_value_time(args[0], &s1, &n1);
  cel_value_time(args[1], &s2, &n2);
  int64_t d;
  if (__builtin_mul_overflow(s1 - s2, NS, &d) || __builtin_add_overflow(d, (int64_t)(n1 - n2), &d))
    return cel_errorf("integer overflow");
  return dur_of(d);
}
FN(add_dur) {
  UNUSED;
  int64_t r;
  if (__builtin_add_overflow(dur_ns(args[0]), dur_ns(args[1]), &r))
    return cel_errorf("integer overflow");
  return dur_of(r);
}
FN(sub_dur) {
  UNUSED;
  int64_t r;
  if (__builtin_sub_overflow(dur_ns(args[0]), dur_ns(args[1]), &r))
    return cel_errorf("integer overflow");
  return dur_of(r);
}

/* ---- conversions ---- */

/* Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0" */
static int parse_go_duration(const char *s, size_t len, int64_t *ret) {
  static const struct {
    const char *u;
    uint64_t ns;
  } units[] = {{"ns", 1},         {"us", 1000},       {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
               {"ms", 1000000},   {"s", 1000000000}, {"m", 60000000000}, {"h", 3600000000000}};
  const char *p = s, *end = s + len;
  bool neg = false;
  if (p < end && (*p == '-' || *p == '+'))
    neg = *p++ == '-';
  if (end - p == 1 && *p == '0') {
    *ret = 0;
    return 0;
  }
  if (p == end)
    return -EINVAL;
  uint64_t total = 0;
  while (p < end) {
    if (!(*p == '.' || (*p >= '0' && *p <= '9')))
      return -EINVAL;
    uint64_t v = 0, f = 0;
    double scale = 1;
    bool pre = false, post = false;
    while (p < end && *p >= '0' && *p <= '9') {
      if (v > (UINT64_C(1) << 63) / 10)
        return -EINVAL;
      v = v * 10 + (uint64_t)(*p++ - '0');
      if (v > UINT64_C(1) << 63)
        return -EINVAL;
      pre = true;
    }
    if (p < end && *p == '.') {
      p++;
      bool overflow = false;
      while (p < end && *p >= '0' && *p <= '9') {
        post = true;
        if (!overflow) {
          if (f > (UINT64_C(1) << 63) / 10)
            overflow = true;
          else {
            uint64_t y = f * 10 + (uint64_t)(*p - '0');
            if (y > UINT64_C(1) << 63)
              overflow = true;
            else
              f = y, scale *= 10;
          }
        }
        p++;
      }
    }
    if (!pre && !post)
      return -EINVAL;
    const char *u = p;
    while (p < end && *p != '.' && !(*p >= '0' && *p <= '9'))
      p++;
    if (p == u)
      return -EINVAL;
    uint64_t unit = 0;
    for (size_t i = 0; i < CEL__N(units); i++)
      if (strlen(units[i].u) == (size_t)(p - u) && !memcmp(units[i].u, u, (size_t)(p - u)))
        unit = units[i].ns;
    if (!unit)
      return -EINVAL;
    if (v > (UINT64_C(1) << 63) / unit)
      return -EINVAL;
    v *= unit;
    if (f > 0) {
      v += (uint64_t)((double)f * ((double)unit / scale));
      if (v > UINT64_C(1) << 63)
        return -EINVAL;
    }
    total += v;
    if (total > UINT64_C(1) << 63)
      return -EINVAL;
  }
  if (neg) {
    *ret = (int64_t)(0 - total);
    return 0;
  }
  if (total > INT64_MAX)
    return -EINVAL;
  *ret = (int64_t)total;
  return 0;
}

FN(to_duration) {
  UNUSED;
  if (cel_value_kind(args[0]) == CEL_DURATION)
    return cel_value_ref(args[0]);
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  int64_t ns;
  if (parse_go_duration(s, len, &ns) < 0)
    return cel_errorf("type conversion error from 'string' to 'google.protobuf.Duration'");
  return dur_of(ns);
}

FN(to_timestamp) {
  UNUSED;
  switch (cel_value_kind(args[0])) {
  case CEL_TIMESTAMP:
    return cel_value_ref(args[0]);
  case CEL_INT:
    return ts_of(cel_value_int(args[0]), 0);
  default: {
    size_t len;
    const char *s = cel_value_str(args[0], &len);
    int64_t sec;
    int32_t ns;
    if (cel_timestamp_parse(s, len, &sec, &ns) < 0)
      return cel_errorf("type conversion error from 'string' to 'google.protobuf.Timestamp'");
    return ts_of(sec, ns);
  }
  }
}

/* RFC 3339 with Go's RFC3339Nano fraction (trailing zeros dropped), UTC */
static void fmt_timestamp(int64_t sec, int32_t ns, char *buf, size_t size) {
  int64_t days = floordiv(sec, 86400), secs = sec - days * 86400;
  int64_t y;
  int m, d;
  civil(days, &y, &m, &d);
  int o = snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(secs / 3600),
                   (int)(secs / 60 % 60), (int)(secs % 60));
  if (ns) {
    char frac[16];
    snprintf(frac, sizeof(frac), "%09d", ns);
    int n = 9;
    while (frac[n - 1] == '0')
      n--;
    o += snprintf(buf + o, size - (size_t)o, ".%.*s", n, frac);
  }
  snprintf(buf + o, size - (size_t)o, "Z");
}

void cel__time_str(const cel_value_t *v, char *buf, size_t size) {
  int64_t sec;
  int32_t ns;
  cel_value_time(v, &sec, &ns);
  if (cel_value_kind(v) == CEL_TIMESTAMP) {
    fmt_timestamp(sec, ns, buf, size);
    return;
  }
  /* FormatFloat(d.Seconds(), 'f', -1, 64) + "s" */
  int64_t d = sec * NS + ns;
  double secs = (double)(d / NS) + (double)(d % NS) / 1e9;
  cel__fmt_double_f(secs, buf, size - 1);
  size_t n = strlen(buf);
  buf[n] = 's';
  buf[n + 1] = 0;
}

FN(time_to_string) {
  UNUSED;
  char buf[480];
  cel__time_str(args[0], buf, sizeof(buf));
  return cel_stringz(buf);
}

static const cel_overload_t overloads[] = {
  {"_+_(timestamp, duration) timestamp", add_ts_dur},
  {"_+_(duration, timestamp) timestamp", add_ts_dur},
  {"_+_(duration, duration) duration", add_dur},
  {"_-_(timestamp, duration) timestamp", sub_ts_dur},
  {"_-_(timestamp, timestamp) duration", sub_ts_ts},
  {"_-_(duration, duration) duration", sub_dur},
  {"timestamp(string) timestamp", to_timestamp},
  {"timestamp(timestamp) timestamp", to_timestamp},
  {"timestamp(int) timestamp", to_timestamp},
  {"duration(string) duration", to_duration},
  {"duration(duration) duration", to_duration},
  {"string(timestamp) string", time_to_string},
  {"string(duration) string", time_to_string},
#define TS(name, fn) {"timestamp." name "() int", fn}, {"timestamp." name "(string) int", fn}
  TS("getFullYear", ts_year),
  TS("getMonth", ts_month),
  TS("getDayOfYear", ts_doy),
  TS("getDayOfMonth", ts_date0),
  TS("getDate", ts_date1),
  TS("getDayOfWeek", ts_dow),
  TS("getHours", ts_hours),
  TS("getMinutes", ts_minutes),
  TS("getSeconds", ts_seconds),
  TS("getMilliseconds", ts_ms),
#undef TS
  {"duration.getHours() int", dur_hours},
  {"duration.getMinutes() int", dur_minutes},
  {"duration.getSeconds() int", dur_seconds},
  {"duration.getMilliseconds() int", dur_ms},
};

const cel_library_t cel_lib_time = {0, overloads, CEL__N(overloads)};
