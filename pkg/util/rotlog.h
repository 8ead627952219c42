/* A line log written on its own thread, with size-based rotation in the
 * manner of lumberjack (upstream's audit log): when a line would take the
 * file past max_bytes it is renamed <name>-<UTC time>.<ext> and a new one
 * started; backups beyond max_backups (0: all kept) or older than
 * max_age_days (0: no limit) are removed. Writers never wait for the disk:
 * lines are queued up to queue_max bytes, and a line that does not fit is
 * dropped and counted (rotlog_dropped). The path "-" means standard output.
 * rotlog_write may be called from one thread at a time (the loop). */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct rotlog rotlog_t;

typedef struct {
  const char *path;
  int64_t max_bytes;   /* 0: never rotate */
  int max_backups;     /* 0: keep every backup */
  int max_age_days;    /* 0: keep backups whatever their age */
  size_t queue_max;    /* bytes queued before lines are dropped */
} rotlog_opts_t;

/* Open (append) or create the file (mode 0600, parents 0700) and start
 * the thread. Negative errno with err. */
int rotlog_open(const rotlog_opts_t *o, rotlog_t **ret, char *err, size_t errlen);
/* Queue one line (a newline is added). 0, or -ENOBUFS: the queue is full
 * and the line was dropped. */
int rotlog_write(rotlog_t *l, const char *line, size_t len);
/* Lines dropped so far, and write errors of the thread (e.g. disk full). */
uint64_t rotlog_dropped(const rotlog_t *l);
uint64_t rotlog_errors(const rotlog_t *l);
/* Write what is queued, stop the thread, close. Accepts NULL. */
void rotlog_close(rotlog_t *l);
