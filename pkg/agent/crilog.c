/* CRI container log entries: parsing, time stamps, and the rendering the
 * kubelet's containerLogs endpoint applies (joined pieces, timestamps,
 * sinceSeconds/sinceTime, limitBytes).
 * https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md */
#include "agent/crilog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, size_t n, int *ret) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  *ret = v;
  return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int agent_crilog_time_parse(const char *s, size_t len, int64_t *ret_ns) {
  int y, mo, d, h, mi, se;
  if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':' || digits(s, 4, &y) < 0 || digits(s + 5, 2, &mo) < 0 ||
      digits(s + 8, 2, &d) < 0 || digits(s + 11, 2, &h) < 0 || digits(s + 14, 2, &mi) < 0 ||
      digits(s + 17, 2, &se) < 0)
    return -EINVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
    return -EINVAL;
  size_t i = 19;
  int64_t frac = 0;
  if (i < len && s[i] == '.') {
    i++;
    size_t start = i;
    int64_t scale = 100000000;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      frac += (s[i] - '0') * scale;
      scale /= 10;
      i++;
    }
    if (i == start)
      return -EINVAL;
  }
  int64_t off = 0;
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (digits(s + i + 1, 2, &oh) < 0 || digits(s + i + 4, 2, &om) < 0 || oh > 23 || om > 59)
      return -EINVAL;
    off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return -EINVAL;
  }
  if (i != len)
    return -EINVAL;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
  *ret_ns = secs * 1000000000 + frac;
  return 0;
}

void agent_crilog_time_format(int64_t ns, char *out, size_t outlen) {
  int64_t secs = ns / 1000000000, frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    secs--;
  }
  time_t t = (time_t)secs;
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", (tm.tm_year + 1900) % 10000,
           (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
           tm.tm_sec % 100, (long long)frac);
}

int agent_crilog_parse(const char *line, size_t len, agent_crilog_entry_t *ret) {
  const char *sp = memchr(line, ' ', len);
  if (!sp)
    return -EINVAL;
  agent_crilog_entry_t e = {0};
  if (agent_crilog_time_parse(line, (size_t)(sp - line), &e.ts_ns) < 0)
    return -EINVAL;
  const char *p = sp + 1, *end = line + len;
  if ((size_t)(end - p) >= 7 && !memcmp(p, "stdout ", 7))
    p += 7;
  else if ((size_t)(end - p) >= 7 && !memcmp(p, "stderr ", 7)) {
    e.is_stderr = true;
    p += 7;
  } else
    return -EINVAL;
  /* The tag: P or F (a future tag list is P/F followed by ":..."). */
  if (p >= end || (*p != 'P' && *p != 'F'))
    return -EINVAL;
  e.partial = *p == 'P';
  while (p < end && *p != ' ')
    p++;
  if (p < end)
    p++; /* an empty F line has no space after the tag in some writers */
  e.msg = p;
  e.msg_len = (size_t)(end - p);
  *ret = e;
  return 0;
}

/* Append up to the limit; 1 when the limit cut it. */
static int put(agent_crilog_writer_t *w, buf_t *out, const char *s, size_t n) {
  int cut = 0;
  if (w->limit_bytes > 0 && w->_written + (int64_t)n >= w->limit_bytes) {
    n = (size_t)(w->limit_bytes - w->_written);
    cut = 1;
  }
  if (n && buf_append(out, s, n) < 0)
    return -E2BIG;
  w->_written += (int64_t)n;
  return cut;
}

int agent_crilog_writer_put(agent_crilog_writer_t *w, const agent_crilog_entry_t *e, buf_t *out) {
  if (w->limit_bytes > 0 && w->_written >= w->limit_bytes)
    return 1;
  if (w->since_ns && e->ts_ns < w->since_ns)
    return 0;
  int r;
  if (w->timestamps && !w->_in_line) {
    char ts[40];
    agent_crilog_time_format(e->ts_ns, ts, sizeof(ts));
    size_t n = strlen(ts);
    ts[n++] = ' ';
    if ((r = put(w, out, ts, n)) != 0)
      return r;
  }
  if ((r = put(w, out, e->msg, e->msg_len)) != 0)
    return r;
  w->_in_line = e->partial;
  if (!e->partial && (r = put(w, out, "\n", 1)) != 0)
    return r;
  return 0;
}
