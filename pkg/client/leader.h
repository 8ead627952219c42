/* pkg/client leader: leader election through a coordination.k8s.io/v1
 * Lease, with client-go's leaderelection semantics, so that several servers
 * can run the controllers and the scheduler and only one of each acts.
 * https://pkg.go.dev/k8s.io/client-go/tools/leaderelection
 *
 * The Lease (spec.holderIdentity, leaseDurationSeconds, acquireTime,
 * renewTime as MicroTime, leaseTransitions) is read every retry period;
 * the leader writes renewTime then, and every write is a compare-and-swap
 * on metadata.resourceVersion (a 409 means another candidate won: re-read
 * at once). A lease held by another identity is taken only when its
 * leaseDurationSeconds have passed on this elector's own clock since it
 * last saw the record change (upstream's observedTime: clocks of different
 * machines are never compared). The leader stops at once when it sees
 * another holder or when renew_deadline passes without a successful
 * renewal. Release (graceful shutdown, upstream's ReleaseOnCancel) clears
 * holderIdentity and sets leaseDurationSeconds 1.
 *
 * The elector knows nothing of what it guards: on_started/on_stopped are
 * called as leadership begins and ends. Threads: the loop of its client;
 * callbacks run on that loop, from the elector's timers and request
 * callbacks (never from inside a call into this module, except on_stopped
 * from client_leader_release). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "client/client.h"

typedef struct client_leader client_leader_t;

typedef struct {
  const char *ns;       /* the Lease's namespace ("kube-system"); copied */
  const char *name;     /* its name ("kube-scheduler"); copied */
  const char *identity; /* NULL: "<hostname>_<random UUID>", as upstream's components */
  int lease_duration;   /* seconds; 0: 15 */
  int renew_deadline;   /* seconds; 0: 10 */
  int retry_period;     /* seconds; 0: 2 */
  void (*on_started)(void *data); /* became the leader: start acting */
  void (*on_stopped)(void *data); /* lost the lease: stop acting now */
  void *data;
} client_leader_opts_t;

/* Check the timings as upstream does (lease_duration > renew_deadline >
 * retry_period, all positive); on failure writes a reason to err. Returns 0
 * or -EINVAL. */
int client_leader_check_timings(int lease_duration, int renew_deadline, int retry_period,
                                char *err, size_t errlen);

/* An elector over c (which must outlive it); it does nothing until
 * client_leader_start. Returns 0 or -EINVAL (bad name or timings). */
int client_leader_new(client_t *c, const client_leader_opts_t *opts, client_leader_t **ret_le);
/* Begin trying to acquire the lease (the first attempt runs from the loop
 * at once). */
void client_leader_start(client_leader_t *le);
/* Stop electing: when leading, on_stopped runs (before this returns) and
 * the lease is released; done(data) runs once the release was answered (or
 * failed), from the loop, or at once when there was nothing to release.
 * done may be NULL. */
void client_leader_release(client_leader_t *le, void (*done)(void *data), void *data);
/* Cancel everything, no callback runs. Accepts NULL. */
void client_leader_free(client_leader_t *le);

bool client_leader_leading(const client_leader_t *le);
/* This elector's holderIdentity (borrowed). */
const char *client_leader_identity(const client_leader_t *le);
/* The Lease as last read or written (borrowed: valid until the elector's
 * next answer), NULL before the first; for an Event about it. */
const cJSON *client_leader_lease(const client_leader_t *le);

/* ---- the decision, pure (unit-tested) ---- */

/* A Lease's spec as the elector compares it. Times are kept as written
 * (the record "changed" when any field differs). */
typedef struct {
  char holder[256];
  long duration;      /* leaseDurationSeconds (0 when absent) */
  char acquire[40];   /* acquireTime, "" when absent */
  char renew[40];     /* renewTime, "" when absent */
  long transitions;   /* leaseTransitions */
} client_lease_record_t;

/* Read lease's spec into ret_rec (fields absent or too long read as
 * empty/0). */
void client_lease_record_read(const cJSON *lease, client_lease_record_t *ret_rec);
bool client_lease_record_equal(const client_lease_record_t *a, const client_lease_record_t *b);

typedef enum {
  CLIENT_LEADER_CREATE,  /* no Lease: create it, held by us */
  CLIENT_LEADER_ACQUIRE, /* free or expired: take it (leaseTransitions + 1) */
  CLIENT_LEADER_RENEW,   /* ours: write renewTime */
  CLIENT_LEADER_WAIT,    /* another holder's, still valid: try again later */
  CLIENT_LEADER_LOST,    /* we were leading and are no more: stop acting */
} client_leader_action_t;

typedef struct {
  bool leading;          /* this elector is acting as leader */
  double now;            /* the elector's clock (seconds) */
  double observed_time;  /* when it last saw the record change */
  double last_renew;     /* when its last successful write was (leading only) */
  double renew_deadline; /* seconds */
} client_leader_state_t;

/* What to do with rec (NULL: the Lease does not exist) for identity. A
 * leader whose renew deadline has passed, or that finds another holder (or
 * none) in the record, has LOST; a candidate takes a record without holder
 * at once, another's only after observed_time + rec->duration. */
client_leader_action_t client_leader_decide(const client_lease_record_t *rec, const char *identity,
                                            const client_leader_state_t *st);
/* Its name, for logs and tests ("create", "acquire", ...). */
const char *client_leader_action_name(client_leader_action_t a);

/* now (seconds since the epoch) as a MicroTime, "2026-01-02T03:04:05.123456Z",
 * into out (at least 28 bytes). Returns 0 or -E2BIG. */
int client_leader_micro_time(double now, char *out, size_t outlen);
