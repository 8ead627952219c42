/* Leader election on a coordination.k8s.io/v1 Lease: client-go's
 * LeaderElector (tryAcquireOrRenew, observedTime, ReleaseOnCancel) as one
 * loop-driven state machine. A timer ticks every retry period: read the
 * Lease, decide (client_leader_decide), write with a resourceVersion
 * precondition. A second timer is the leader's renew deadline.
 * https://pkg.go.dev/k8s.io/client-go/tools/leaderelection */
#include "client/leader.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client/backend.h"
#include "json/util.h"
#include "util/alloc.h"

struct client_leader {
  client_t *c;
  struct ev_loop *loop;
  char *ns, *name, *identity;
  int lease_duration, renew_deadline, retry_period;
  void (*on_started)(void *data);
  void (*on_stopped)(void *data);
  void *data;
  ev_timer tick;     /* the next read */
  ev_timer deadline; /* the leader's renew deadline */
  client_req_t *req; /* the read or write in flight */
  bool started, leading, released;
  client_lease_record_t observed;
  bool have_observed;
  double observed_time, last_renew;
  cJSON *lease; /* the last Lease read or written (for the next CAS) */
  void (*release_done)(void *data);
  void *release_data;
  int release_tries;
};

/* ---- pure parts ---- */

int client_leader_check_timings(int lease_duration, int renew_deadline, int retry_period,
                                char *err, size_t errlen) {
  if (retry_period <= 0 || renew_deadline <= 0 || lease_duration <= 0) {
    snprintf(err, errlen, "leader election timings must be positive (lease duration %d s, "
             "renew deadline %d s, retry period %d s)", lease_duration, renew_deadline,
             retry_period);
    return -EINVAL;
  }
  if (lease_duration <= renew_deadline) {
    snprintf(err, errlen, "leader election lease duration (%d s) must be greater than the "
             "renew deadline (%d s)", lease_duration, renew_deadline);
    return -EINVAL;
  }
  /* upstream: renewDeadline > JitterFactor (1.2) * retryPeriod */
  if (renew_deadline * 10 <= retry_period * 12) {
    snprintf(err, errlen, "leader election renew deadline (%d s) must be greater than 1.2 "
             "times the retry period (%d s)", renew_deadline, retry_period);
    return -EINVAL;
  }
  return 0;
}

static void copy_field(char *dst, size_t len, const char *src) {
  dst[0] = '\0';
  if (src && strlen(src) < len)
    memcpy(dst, src, strlen(src) + 1);
}

void client_lease_record_read(const cJSON *lease, client_lease_record_t *ret_rec) {
  client_lease_record_t r;
  memset(&r, 0, sizeof(r));
  const cJSON *spec = json_get_path(lease, "spec");
  copy_field(r.holder, sizeof(r.holder),
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity")));
  copy_field(r.acquire, sizeof(r.acquire),
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "acquireTime")));
  copy_field(r.renew, sizeof(r.renew),
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "renewTime")));
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
  r.duration = cJSON_IsNumber(d) ? (long)d->valuedouble : 0;
  r.transitions = cJSON_IsNumber(t) ? (long)t->valuedouble : 0;
  *ret_rec = r;
}

bool client_lease_record_equal(const client_lease_record_t *a, const client_lease_record_t *b) {
  return !strcmp(a->holder, b->holder) && a->duration == b->duration &&
         !strcmp(a->acquire, b->acquire) && !strcmp(a->renew, b->renew) &&
         a->transitions == b->transitions;
}

client_leader_action_t client_leader_decide(const client_lease_record_t *rec, const char *identity,
                                            const client_leader_state_t *st) {
  if (st->leading && st->now - st->last_renew >= st->renew_deadline)
    return CLIENT_LEADER_LOST;
  if (!rec)
    return CLIENT_LEADER_CREATE;
  bool mine = !strcmp(rec->holder, identity);
  if (st->leading)
    return mine ? CLIENT_LEADER_RENEW : CLIENT_LEADER_LOST;
  if (mine)
    return CLIENT_LEADER_RENEW;
  if (!rec->holder[0])
    return CLIENT_LEADER_ACQUIRE;
  if (st->observed_time + (double)rec->duration > st->now)
    return CLIENT_LEADER_WAIT;
  return CLIENT_LEADER_ACQUIRE;
}

const char *client_leader_action_name(client_leader_action_t a) {
  switch (a) {
  case CLIENT_LEADER_CREATE:
    return "create";
  case CLIENT_LEADER_ACQUIRE:
    return "acquire";
  case CLIENT_LEADER_RENEW:
    return "renew";
  case CLIENT_LEADER_WAIT:
    return "wait";
  case CLIENT_LEADER_LOST:
    return "lost";
  }
  return "?";
}

int client_leader_micro_time(double now, char *out, size_t outlen) {
  time_t sec = (time_t)now;
  long usec = (long)((now - (double)sec) * 1e6);
  if (usec < 0)
    usec = 0;
  if (usec > 999999)
    usec = 999999;
  struct tm tm;
  gmtime_r(&sec, &tm);
  int n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
  return n < 0 || (size_t)n >= outlen ? -E2BIG : 0;
}

/* ---- the elector ---- */

static void schedule(client_leader_t *le, double after);
static void do_read(client_leader_t *le);

static char *make_identity(void) {
  char host[256] = "";
  if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
    snprintf(host, sizeof(host), "k3c");
  uint8_t b[16];
  size_t got = 0;
  while (got < sizeof(b)) {
    ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
    if (r <= 0) { /* no entropy source: time and pid still tell processes apart */
      uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&got;
      for (; got < sizeof(b); got++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
        b[got] = (uint8_t)(x >> 56);
      break;
    }
    got += (size_t)r;
  }
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  return xasprintf("%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", host,
                   b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                   b[13], b[14], b[15]);
}

static client_ref_t lease_ref(const client_leader_t *le, bool named) {
  return (client_ref_t){.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                        .ns = le->ns, .name = named ? le->name : NULL};
}

static void stop_leading(client_leader_t *le) {
  if (!le->leading)
    return;
  le->leading = false;
  ev_timer_stop(le->loop, &le->deadline);
  if (le->on_stopped)
    le->on_stopped(le->data);
}

static void start_leading(client_leader_t *le) {
  le->last_renew = ev_now(le->loop);
  ev_timer_stop(le->loop, &le->deadline);
  ev_timer_set(&le->deadline, le->renew_deadline, 0.);
  ev_timer_start(le->loop, &le->deadline);
  if (le->leading)
    return;
  le->leading = true;
  if (le->on_started)
    le->on_started(le->data);
}

static void observe(client_leader_t *le, const cJSON *lease) {
  client_lease_record_t rec;
  client_lease_record_read(lease, &rec);
  if (!le->have_observed || !client_lease_record_equal(&rec, &le->observed)) {
    le->observed = rec;
    le->have_observed = true;
    le->observed_time = ev_now(le->loop);
  }
  cJSON_Delete(le->lease);
  le->lease = json_dup(lease);
}

/* The spec we write: ours, renewed now; acquireTime and leaseTransitions
 * kept on a renewal, a new term otherwise. */
static void fill_spec(client_leader_t *le, cJSON *lease, bool renew) {
  char now[40];
  client_leader_micro_time(ev_now(le->loop), now, sizeof(now));
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
  if (!cJSON_IsObject(spec)) {
    cJSON_DeleteItemFromObjectCaseSensitive(lease, "spec");
    spec = cJSON_AddObjectToObject(lease, "spec");
  }
  long transitions = le->have_observed ? le->observed.transitions : 0;
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseDurationSeconds");
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "renewTime");
  cJSON_AddStringToObject(spec, "holderIdentity", le->identity);
  cJSON_AddNumberToObject(spec, "leaseDurationSeconds", le->lease_duration);
  cJSON_AddStringToObject(spec, "renewTime", now);
  if (!renew || !cJSON_GetObjectItemCaseSensitive(spec, "acquireTime")) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "acquireTime");
    cJSON_AddStringToObject(spec, "acquireTime", now);
  }
  if (!renew) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseTransitions");
    cJSON_AddNumberToObject(spec, "leaseTransitions", (double)(transitions + 1));
  }
}

static void write_done(const client_result_t *res, void *data) {
  client_leader_t *le = data;
  le->req = NULL;
  if (res->code == 200 || res->code == 201) {
    if (res->obj)
      observe(le, res->obj);
    start_leading(le);
    schedule(le, le->retry_period);
    return;
  }
  if (res->code == 409) { /* another candidate wrote first: look again now */
    schedule(le, 0);
    return;
  }
  /* Anything else: try again next period; the deadline timer decides
   * when a leader that cannot renew has lost. */
  schedule(le, le->retry_period);
}

static void do_create(client_leader_t *le) {
  cJSON *l = cJSON_CreateObject();
  cJSON_AddStringToObject(l, "apiVersion", "coordination.k8s.io/v1");
  cJSON_AddStringToObject(l, "kind", "Lease");
  cJSON *md = cJSON_AddObjectToObject(l, "metadata");
  cJSON_AddStringToObject(md, "name", le->name);
  cJSON_AddStringToObject(md, "namespace", le->ns);
  le->have_observed = false;
  fill_spec(le, l, false);
  /* a new Lease starts at 0 transitions */
  cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(l, "spec"),
                                         "leaseTransitions", cJSON_CreateNumber(0));
  client_ref_t ref = lease_ref(le, false);
  le->req = client_create(le->c, &ref, l, write_done, le);
  cJSON_Delete(l);
}

static void do_update(client_leader_t *le, bool renew) {
  cJSON *l = json_dup(le->lease);
  fill_spec(le, l, renew);
  client_ref_t ref = lease_ref(le, true);
  le->req = client_update(le->c, &ref, l, write_done, le);
  cJSON_Delete(l);
}

static void read_done(const client_result_t *res, void *data) {
  client_leader_t *le = data;
  le->req = NULL;
  double now = ev_now(le->loop);
  if (res->code == 200 && res->obj)
    observe(le, res->obj);
  else if (res->code != 404) {
    schedule(le, le->retry_period);
    return;
  }
  client_leader_state_t st = {.leading = le->leading, .now = now,
                              .observed_time = le->observed_time, .last_renew = le->last_renew,
                              .renew_deadline = le->renew_deadline};
  switch (client_leader_decide(res->code == 404 ? NULL : &le->observed, le->identity, &st)) {
  case CLIENT_LEADER_CREATE:
    do_create(le);
    break;
  case CLIENT_LEADER_ACQUIRE:
    do_update(le, false);
    break;
  case CLIENT_LEADER_RENEW:
    do_update(le, true);
    break;
  case CLIENT_LEADER_LOST:
    stop_leading(le);
    schedule(le, le->retry_period);
    break;
  case CLIENT_LEADER_WAIT:
    schedule(le, le->retry_period);
    break;
  }
  if (!le->req && !ev_is_active(&le->tick)) /* a write could not even start */
    schedule(le, le->retry_period);
}

static void do_read(client_leader_t *le) {
  client_ref_t ref = lease_ref(le, true);
  le->req = client_get(le->c, &ref, NULL, read_done, le);
  if (!le->req)
    schedule(le, le->retry_period);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  client_leader_t *le = (client_leader_t *)((char *)w - offsetof(client_leader_t, tick));
  if (le->released || le->req)
    return;
  do_read(le);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  client_leader_t *le = (client_leader_t *)((char *)w - offsetof(client_leader_t, deadline));
  stop_leading(le); /* no successful renewal for renew_deadline */
  if (le->req) { /* a request that never answers must not stall the elector */
    client_req_cancel(le->req);
    le->req = NULL;
    schedule(le, le->retry_period);
  }
}

static void schedule(client_leader_t *le, double after) {
  if (le->released)
    return;
  ev_timer_stop(le->loop, &le->tick);
  ev_timer_set(&le->tick, after, 0.);
  ev_timer_start(le->loop, &le->tick);
}

int client_leader_new(client_t *c, const client_leader_opts_t *opts, client_leader_t **ret_le) {
  char err[256];
  int ld = opts->lease_duration ? opts->lease_duration : 15;
  int rd = opts->renew_deadline ? opts->renew_deadline : 10;
  int rp = opts->retry_period ? opts->retry_period : 2;
  if (!c || !opts->ns || !opts->ns[0] || !opts->name || !opts->name[0] ||
      client_leader_check_timings(ld, rd, rp, err, sizeof(err)) < 0)
    return -EINVAL;
  client_leader_t *le = xcalloc(1, sizeof(*le));
  le->c = c;
  le->loop = c->loop;
  le->ns = xstrdup(opts->ns);
  le->name = xstrdup(opts->name);
  le->identity = opts->identity ? xstrdup(opts->identity) : make_identity();
  le->lease_duration = ld;
  le->renew_deadline = rd;
  le->retry_period = rp;
  le->on_started = opts->on_started;
  le->on_stopped = opts->on_stopped;
  le->data = opts->data;
  ev_timer_init(&le->tick, tick_cb, 0., 0.);
  ev_timer_init(&le->deadline, deadline_cb, 0., 0.);
  *ret_le = le;
  return 0;
}

void client_leader_start(client_leader_t *le) {
  if (le->started)
    return;
  le->started = true;
  schedule(le, 0);
}

static void release_write(client_leader_t *le);

static void release_finish(client_leader_t *le) {
  le->req = NULL;
  if (le->release_done)
    le->release_done(le->release_data);
}

static void release_read_done(const client_result_t *res, void *data) {
  client_leader_t *le = data;
  le->req = NULL;
  client_lease_record_t rec;
  if (res->code != 200 || !res->obj) {
    release_finish(le);
    return;
  }
  client_lease_record_read(res->obj, &rec);
  if (strcmp(rec.holder, le->identity)) { /* someone else's now: nothing to release */
    release_finish(le);
    return;
  }
  cJSON_Delete(le->lease);
  le->lease = json_dup(res->obj);
  release_write(le);
}

static void release_done(const client_result_t *res, void *data) {
  client_leader_t *le = data;
  le->req = NULL;
  /* 409: a renewal cancelled on its way had been applied, so the version
   * we hold is stale; read again and retry while the lease is still ours. */
  if (res->code == 409 && le->release_tries < 3) {
    client_ref_t ref = lease_ref(le, true);
    if ((le->req = client_get(le->c, &ref, NULL, release_read_done, le)))
      return;
  }
  release_finish(le);
}

/* upstream's release(): no holder, a 1 s lease, the times now, the
 * transitions kept; a CAS on the record last seen. */
static void release_write(client_leader_t *le) {
  le->release_tries++;
  char now[40];
  client_leader_micro_time(ev_now(le->loop), now, sizeof(now));
  cJSON *l = json_dup(le->lease);
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(l, "spec");
  if (!cJSON_IsObject(spec)) {
    cJSON_DeleteItemFromObjectCaseSensitive(l, "spec");
    spec = cJSON_AddObjectToObject(l, "spec");
  }
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseDurationSeconds");
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "renewTime");
  cJSON_DeleteItemFromObjectCaseSensitive(spec, "acquireTime");
  cJSON_AddStringToObject(spec, "holderIdentity", "");
  cJSON_AddNumberToObject(spec, "leaseDurationSeconds", 1);
  cJSON_AddStringToObject(spec, "renewTime", now);
  cJSON_AddStringToObject(spec, "acquireTime", now);
  client_ref_t ref = lease_ref(le, true);
  le->req = client_update(le->c, &ref, l, release_done, le);
  cJSON_Delete(l);
  if (!le->req)
    release_finish(le);
}

void client_leader_release(client_leader_t *le, void (*done)(void *data), void *data) {
  bool was_leading = le->leading;
  le->released = true;
  ev_timer_stop(le->loop, &le->tick);
  client_req_cancel(le->req);
  le->req = NULL;
  stop_leading(le);
  le->release_done = done;
  le->release_data = data;
  if (!was_leading || !le->lease) {
    if (done)
      done(data);
    return;
  }
  release_write(le);
}

void client_leader_free(client_leader_t *le) {
  if (!le)
    return;
  ev_timer_stop(le->loop, &le->tick);
  ev_timer_stop(le->loop, &le->deadline);
  client_req_cancel(le->req);
  cJSON_Delete(le->lease);
  free(le->ns);
  free(le->name);
  free(le->identity);
  free(le);
}

bool client_leader_leading(const client_leader_t *le) { return le->leading; }
const char *client_leader_identity(const client_leader_t *le) { return le->identity; }
const cJSON *client_leader_lease(const client_leader_t *le) { return le->lease; }
