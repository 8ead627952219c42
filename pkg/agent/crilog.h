/* pkg/agent crilog: the container log files of the CRI (one entry a line:
 * "<RFC3339Nano time> <stdout|stderr> <P|F> <text>", P for a piece of a
 * longer line that the next entries continue, F for its end), parsed and
 * rendered as the kubelet serves them to `kubectl logs`: the pieces of a
 * line joined, optional timestamps, since and byte limit.
 * https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md
 *
 * Pure functions and a small writer state; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct {
  int64_t ts_ns;       /* nanoseconds since the epoch */
  bool is_stderr;
  bool partial;        /* P: the line goes on in the next entry */
  const char *msg;     /* points into the parsed line; no newline */
  size_t msg_len;
} agent_crilog_entry_t;

/* Parse one line (without its '\n'; a trailing '\r' is kept as text).
 * Returns 0 and *ret (pointing into line), or -EINVAL for a line that is
 * not a CRI log entry. */
int agent_crilog_parse(const char *line, size_t len, agent_crilog_entry_t *ret);

/* RFC 3339 time with optional fraction and a Z or +hh:mm offset, as in the
 * files and in the sinceTime parameter. Returns 0 and *ret_ns, or -EINVAL. */
int agent_crilog_time_parse(const char *s, size_t len, int64_t *ret_ns);
/* The kubelet's output form: UTC with nine fraction digits
 * ("2026-12-02T05:49:08.012000000Z"). out needs 31 bytes. */
void agent_crilog_time_format(int64_t ns, char *out, size_t outlen);

/* What `kubectl logs` asked for, and where the output stands. */
typedef struct {
  bool timestamps;     /* prefix each line with its time */
  int64_t since_ns;    /* entries before this are skipped; 0: all */
  int64_t limit_bytes; /* stop after this much output; 0: no limit */
  /* state */
  bool _in_line;       /* the last entry written was a P piece */
  int64_t _written;
} agent_crilog_writer_t;

/* Append what entry e contributes to out: its text, a '\n' for F, the
 * timestamp before the first piece of a line. Returns 0, 1 once the byte
 * limit is reached (out holds exactly limit_bytes in all; stop), or -E2BIG
 * when out is full. */
int agent_crilog_writer_put(agent_crilog_writer_t *w, const agent_crilog_entry_t *e, buf_t *out);
