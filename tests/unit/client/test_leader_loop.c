/* Tests for pkg/client/leader.c's elector on a loop, over the in-process
 * client and a fake API holding one Lease with resourceVersion CAS (409 on
 * a stale version, 404 before it exists): create and first term, renewals
 * (renewTime moves, acquireTime stays), a foreign holder stopping the
 * leader at once and being waited out by the elector's own clock, the
 * takeover (leaseTransitions + 1), a lost CAS answered by a read at once,
 * the renew deadline, and the release (no holder, 1 s) including a release
 * whose version went stale. Timings are 3/2/1 s, so this takes ~12 s. */
#include <errno.h>
#include <string.h>

#include "client/leader.h"
#include "json/util.h"
#include "test.h"

#define PATH "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"

static struct ev_loop *loop;
static cJSON *lease; /* the fake API's object, NULL: absent */
static long rv = 10;
static int n_gets, n_creates, n_puts, conflicts;
static int fail_next_put; /* answer the next PUT with this code (0: normally) */
static bool hang;         /* hold every request unanswered (the API is stuck) */
static http_req_t *held[16];
static int nheld;
static int started, stopped, released;

static void respond_obj(http_req_t *r, int code, const cJSON *o) {
  char *text = cJSON_PrintUnformatted(o);
  http_respond(r, code, "application/json", text, strlen(text));
  free(text);
}

static void respond_status(http_req_t *r, int code, const char *reason) {
  char body[256];
  int n = snprintf(body, sizeof(body),
                   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                   "\"reason\":\"%s\",\"code\":%d}", reason, code);
  http_respond(r, code, "application/json", body, (size_t)n);
}

static void set_rv(cJSON *o) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%ld", ++rv);
  cJSON *md = cJSON_GetObjectItem(o, "metadata");
  cJSON_DeleteItemFromObject(md, "resourceVersion");
  cJSON_AddStringToObject(md, "resourceVersion", buf);
}

static void handler(http_req_t *r, void *data) {
  if (hang && nheld < 16) {
    held[nheld++] = r; /* answered at the end of the test */
    return;
  }
  const char *m = http_req_method(r);
  size_t len;
  const char *body = http_req_body(r, &len);
  if (!strcmp(m, "GET")) {
    n_gets++;
    if (!lease)
      respond_status(r, 404, "NotFound");
    else
      respond_obj(r, 200, lease);
    return;
  }
  cJSON *o = cJSON_ParseWithLength(body, len);
  if (!strcmp(m, "POST")) {
    n_creates++;
    if (lease) {
      respond_status(r, 409, "AlreadyExists");
    } else {
      lease = o;
      o = NULL;
      set_rv(lease);
      respond_obj(r, 201, lease);
    }
  } else if (!strcmp(m, "PUT")) {
    n_puts++;
    const char *want = lease ? cJSON_GetStringValue(json_get_path(lease, "metadata.resourceVersion"))
                             : NULL;
    const char *got = cJSON_GetStringValue(json_get_path(o, "metadata.resourceVersion"));
    if (fail_next_put) {
      respond_status(r, fail_next_put, fail_next_put == 409 ? "Conflict" : "InternalError");
      if (fail_next_put == 409)
        conflicts++;
      fail_next_put = 0;
    } else if (!lease) {
      respond_status(r, 404, "NotFound");
    } else if (!want || !got || strcmp(want, got)) {
      conflicts++;
      respond_status(r, 409, "Conflict");
    } else {
      cJSON_Delete(lease);
      lease = o;
      o = NULL;
      set_rv(lease);
      respond_obj(r, 200, lease);
    }
  } else {
    respond_status(r, 405, "MethodNotAllowed");
  }
  cJSON_Delete(o);
}

static void on_started(void *data) { started++; }
static void on_stopped(void *data) { stopped++; }
static void on_released(void *data) { released++; }

static void stop_cb(struct ev_loop *l, ev_timer *w, int revents) { ev_break(l, EVBREAK_ALL); }

/* Run the loop for about secs. */
static void run_for(double secs) {
  ev_timer t;
  ev_timer_init(&t, stop_cb, secs, 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  ev_timer_stop(loop, &t);
}

static const char *spec_str(const char *field) {
  return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(lease, "spec"), field));
}
static double spec_num(const char *field) {
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(lease, "spec"), field);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void put_foreign(double duration) {
  cJSON *spec = cJSON_GetObjectItem(lease, "spec");
  cJSON_ReplaceItemInObject(spec, "holderIdentity", cJSON_CreateString("other_1"));
  cJSON_ReplaceItemInObject(spec, "leaseDurationSeconds", cJSON_CreateNumber(duration));
  cJSON_ReplaceItemInObject(spec, "renewTime", cJSON_CreateString("2026-01-01T00:00:00.000000Z"));
  set_rv(lease);
}

static client_t *new_client(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  if (client_inproc_new(loop, handler, NULL, "t", groups, &c) < 0)
    return NULL;
  return c;
}

static client_leader_t *new_leader(client_t *c) {
  client_leader_opts_t o = {.ns = "kube-system", .name = "kube-scheduler", .identity = "me_1",
                            .lease_duration = 3, .renew_deadline = 2, .retry_period = 1,
                            .on_started = on_started, .on_stopped = on_stopped};
  client_leader_t *le = NULL;
  if (client_leader_new(c, &o, &le) < 0)
    return NULL;
  return le;
}

static void reset(void) {
  cJSON_Delete(lease);
  lease = NULL;
  n_gets = n_creates = n_puts = conflicts = started = stopped = released = 0;
  fail_next_put = 0;
  hang = false;
}

static void test_term_takeover_release(void) {
  reset();
  client_t *c = new_client();
  ASSERT_TRUE(c != NULL);
  client_leader_t *le = new_leader(c);
  ASSERT_TRUE(le != NULL);
  ASSERT_FALSE(client_leader_leading(le));
  client_leader_start(le);
  run_for(0.3);
  /* created, leading */
  ASSERT_EQ_INT(n_creates, 1);
  ASSERT_EQ_INT(started, 1);
  ASSERT_TRUE(client_leader_leading(le));
  ASSERT_EQ_STR(spec_str("holderIdentity"), "me_1");
  ASSERT_EQ_INT(spec_num("leaseDurationSeconds"), 3);
  ASSERT_EQ_INT(spec_num("leaseTransitions"), 0);
  char acquire[40], renew[40];
  snprintf(acquire, sizeof(acquire), "%s", spec_str("acquireTime"));
  snprintf(renew, sizeof(renew), "%s", spec_str("renewTime"));
  ASSERT_EQ_INT(strlen(renew), 27);
  /* renewed every retry period */
  run_for(1.2);
  ASSERT_TRUE(n_puts >= 1);
  ASSERT_EQ_STR(spec_str("acquireTime"), acquire);
  ASSERT_TRUE(strcmp(spec_str("renewTime"), renew) > 0);
  ASSERT_EQ_INT(stopped, 0);
  /* a foreign holder (with an ancient renewTime: only our clock counts)
   * stops the leader at its next read, and no write follows while the
   * foreign lease is valid by our clock */
  put_foreign(3);
  int puts_before = n_puts;
  run_for(1.2);
  ASSERT_EQ_INT(stopped, 1);
  ASSERT_FALSE(client_leader_leading(le));
  ASSERT_EQ_STR(spec_str("holderIdentity"), "other_1");
  run_for(1.0);
  ASSERT_EQ_INT(n_puts, puts_before);
  ASSERT_EQ_STR(spec_str("holderIdentity"), "other_1");
  /* ~3 s after it saw the change: taken, one more transition */
  run_for(2.0);
  ASSERT_EQ_STR(spec_str("holderIdentity"), "me_1");
  ASSERT_EQ_INT(spec_num("leaseTransitions"), 1);
  ASSERT_EQ_INT(spec_num("leaseDurationSeconds"), 3);
  ASSERT_EQ_INT(started, 2);
  ASSERT_TRUE(client_leader_leading(le));
  /* a lost CAS is followed by a read at once (not a retry period later) */
  fail_next_put = 409;
  int gets_before = n_gets;
  run_for(1.1);
  ASSERT_TRUE(conflicts >= 1);
  ASSERT_TRUE(n_gets >= gets_before + 2);
  ASSERT_TRUE(client_leader_leading(le));
  /* release: no holder, 1 s, transitions kept; on_stopped ran */
  client_leader_release(le, on_released, NULL);
  ASSERT_EQ_INT(stopped, 2);
  run_for(0.2);
  ASSERT_EQ_INT(released, 1);
  ASSERT_EQ_STR(spec_str("holderIdentity"), "");
  ASSERT_EQ_INT(spec_num("leaseDurationSeconds"), 1);
  ASSERT_EQ_INT(spec_num("leaseTransitions"), 1);
  client_leader_free(le);
  client_free(c);
}

/* The release's version went stale (a renewal it cancelled had been
 * applied): it reads again and still releases. */
static void test_release_after_stale_version(void) {
  reset();
  client_t *c = new_client();
  client_leader_t *le = new_leader(c);
  client_leader_start(le);
  run_for(0.3);
  ASSERT_TRUE(client_leader_leading(le));
  set_rv(lease); /* as if a write of ours had landed unseen */
  client_leader_release(le, on_released, NULL);
  run_for(0.3);
  ASSERT_EQ_INT(released, 1);
  ASSERT_TRUE(conflicts >= 1);
  ASSERT_EQ_STR(spec_str("holderIdentity"), "");
  client_leader_free(le);
  client_free(c);
}

/* An API that stops answering: the leader stops once the renew deadline
 * (2 s) has passed since its last renewal, without any answer. */
static void test_renew_deadline(void) {
  reset();
  client_t *c = new_client();
  client_leader_t *le = new_leader(c);
  client_leader_start(le);
  run_for(0.3);
  ASSERT_TRUE(client_leader_leading(le));
  hang = true;
  run_for(1.5);
  ASSERT_TRUE(client_leader_leading(le));
  run_for(1.0);
  ASSERT_FALSE(client_leader_leading(le));
  ASSERT_EQ_INT(stopped, 1);
  ASSERT_TRUE(nheld >= 1);
  /* the hung request was given up: it tries again a retry period later */
  int held_before = nheld;
  run_for(1.1);
  ASSERT_TRUE(nheld > held_before);
  client_leader_free(le);
  hang = false;
  for (int i = 0; i < nheld; i++)
    respond_status(held[i], 503, "ServiceUnavailable");
  nheld = 0;
  run_for(0.05);
  client_free(c);
}

static void test_bad_options(void) {
  client_t *c = new_client();
  client_leader_t *le = NULL;
  client_leader_opts_t o = {.ns = "kube-system", .name = "x", .lease_duration = 2,
                            .renew_deadline = 2, .retry_period = 1};
  ASSERT_EQ_INT(client_leader_new(c, &o, &le), -EINVAL);
  o = (client_leader_opts_t){.ns = "kube-system", .name = ""};
  ASSERT_EQ_INT(client_leader_new(c, &o, &le), -EINVAL);
  /* defaults 15/10/2 and a <hostname>_<uuid> identity */
  o = (client_leader_opts_t){.ns = "kube-system", .name = "x"};
  ASSERT_EQ_INT(client_leader_new(c, &o, &le), 0);
  const char *id = client_leader_identity(le);
  const char *us = strrchr(id, '_');
  ASSERT_TRUE(us != NULL && strlen(us + 1) == 36 && us[15] == '4');
  client_leader_free(le);
  client_free(c);
}

TEST_LIST = {
    TEST(test_term_takeover_release),
    TEST(test_release_after_stale_version),
    TEST(test_renew_deadline),
    TEST(test_bad_options),
    {0},
};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  int r = main_(argc, argv);
  cJSON_Delete(lease);
  return r;
}
