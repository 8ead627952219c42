/* Cron schedules as CronJob.spec.schedule has them (the standard parser
 * upstream uses, robfig/cron v3 ParseStandard): five fields (minute 0-59,
 * hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-6 or
 * sun-sat) with "*", "?", lists, ranges, steps ("*" /2, 1-10/3, 5/15), or a
 * descriptor (@yearly @annually @monthly @weekly @daily @midnight @hourly,
 * @every <Go duration>). When both day fields are restricted a day matching
 * either runs, as in cron. Pure module. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
  uint64_t minute;      /* bit i: minute i */
  uint32_t hour, dom;   /* bits 0-23, 1-31 */
  uint16_t month;       /* bits 1-12 */
  uint8_t dow;          /* bits 0-6 */
  bool dom_star, dow_star; /* the field was "*" or "?" (no step) */
  long every;           /* @every: seconds (> 0), else 0 */
} controller_cron_t;

/* Parse spec into *ret_cron. Returns 0, or -EINVAL with a reason in err
 * ("expected exactly 5 fields, found 4: ..."). */
int controller_cron_parse(const char *spec, controller_cron_t *ret_cron, char *err, size_t errlen);

/* The first time the schedule fires strictly after `after` (seconds since
 * the epoch), reckoned in the IANA time zone tz ("UTC"; NULL or "": the
 * process's local zone). Returns -1 when it never fires within 5 years
 * ("0 0 30 2 *") or tz is unknown.
 * A named zone other than UTC is read through the C library: TZ is set
 * for the call and restored, so no other thread may read TZ or the local
 * zone meanwhile (k3c's store writer and offload worker format UTC times
 * only, and read the environment only at start-up). */
time_t controller_cron_next(const controller_cron_t *c, time_t after, const char *tz);

/* t as the wall clock of tz (as for controller_cron_next), tm_gmtoff set.
 * Returns 0 or -ENOENT for an unknown zone. */
int controller_cron_localtime(time_t t, const char *tz, struct tm *ret_tm);

/* Whether tz names a zone the C library can load ("UTC" always). */
bool controller_cron_zone_known(const char *tz);
