/* Tests for pkg/client/leader.c's pure parts: the decision (record, clock,
 * identity -> create / acquire / renew / wait / lost), reading a Lease's
 * record and its change detection, MicroTime and the timing checks. */
#include <errno.h>
#include <string.h>

#include "client/leader.h"
#include "test.h"

#define ME "host_1111"
#define OTHER "host_2222"

static client_lease_record_t rec(const char *holder, long duration) {
  client_lease_record_t r;
  memset(&r, 0, sizeof(r));
  snprintf(r.holder, sizeof(r.holder), "%s", holder);
  r.duration = duration;
  return r;
}

static client_leader_state_t candidate(double now, double observed) {
  return (client_leader_state_t){.leading = false, .now = now, .observed_time = observed,
                                 .renew_deadline = 10};
}

static client_leader_state_t leader(double now, double last_renew) {
  return (client_leader_state_t){.leading = true, .now = now, .observed_time = last_renew,
                                 .last_renew = last_renew, .renew_deadline = 10};
}

static void test_no_lease_creates(void) {
  client_leader_state_t st = candidate(100, 0);
  ASSERT_EQ_INT(client_leader_decide(NULL, ME, &st), CLIENT_LEADER_CREATE);
  /* a leader whose Lease was deleted writes it again */
  st = leader(100, 99);
  ASSERT_EQ_INT(client_leader_decide(NULL, ME, &st), CLIENT_LEADER_CREATE);
}

static void test_free_lease_acquired_at_once(void) {
  client_lease_record_t r = rec("", 1); /* a released lease */
  client_leader_state_t st = candidate(100, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_ACQUIRE);
}

/* Another holder's lease is taken only after its duration has passed
 * since the elector saw the record change, whatever renewTime says. */
static void test_foreign_lease_waits_for_observed_expiry(void) {
  client_lease_record_t r = rec(OTHER, 15);
  snprintf(r.renew, sizeof(r.renew), "2000-01-01T00:00:00.000000Z"); /* ancient: ignored */
  client_leader_state_t st = candidate(100, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_WAIT);
  st = candidate(114.9, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_WAIT);
  st = candidate(115, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_ACQUIRE);
  /* the record's own duration counts, not ours */
  r.duration = 60;
  st = candidate(140, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_WAIT);
  st = candidate(160, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_ACQUIRE);
}

static void test_own_lease_renewed(void) {
  client_lease_record_t r = rec(ME, 15);
  client_leader_state_t st = leader(102, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_RENEW);
  /* a candidate finding its own identity (its write answered late) renews */
  st = candidate(102, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_RENEW);
}

static void test_leader_sees_other_holder_lost(void) {
  client_lease_record_t r = rec(OTHER, 15);
  client_leader_state_t st = leader(102, 101);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_LOST);
  /* its lease cleared by someone else: stop first, acquire as a candidate */
  r = rec("", 1);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_LOST);
  st = candidate(103, 103);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_ACQUIRE);
}

static void test_renew_deadline_lost(void) {
  client_lease_record_t r = rec(ME, 15);
  client_leader_state_t st = leader(109.9, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_RENEW);
  st = leader(110, 100);
  ASSERT_EQ_INT(client_leader_decide(&r, ME, &st), CLIENT_LEADER_LOST);
  ASSERT_EQ_INT(client_leader_decide(NULL, ME, &st), CLIENT_LEADER_LOST);
}

static void test_record_read_and_equal(void) {
  cJSON *l = cJSON_Parse(
      "{\"metadata\":{\"name\":\"kube-scheduler\",\"resourceVersion\":\"7\"},"
      "\"spec\":{\"holderIdentity\":\"h_1\",\"leaseDurationSeconds\":15,"
      "\"acquireTime\":\"2026-01-02T03:04:05.000001Z\","
      "\"renewTime\":\"2026-01-02T03:04:07.000002Z\",\"leaseTransitions\":3}}");
  ASSERT_TRUE(l != NULL);
  client_lease_record_t a, b;
  client_lease_record_read(l, &a);
  ASSERT_EQ_STR(a.holder, "h_1");
  ASSERT_EQ_INT(a.duration, 15);
  ASSERT_EQ_INT(a.transitions, 3);
  ASSERT_EQ_STR(a.acquire, "2026-01-02T03:04:05.000001Z");
  ASSERT_EQ_STR(a.renew, "2026-01-02T03:04:07.000002Z");
  client_lease_record_read(l, &b);
  ASSERT_TRUE(client_lease_record_equal(&a, &b));
  /* a renewal is a change (observedTime moves), a metadata change is not */
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(l, "spec"), "renewTime",
                            cJSON_CreateString("2026-01-02T03:04:09.000000Z"));
  client_lease_record_read(l, &b);
  ASSERT_FALSE(client_lease_record_equal(&a, &b));
  client_lease_record_read(l, &a);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(l, "metadata"), "resourceVersion",
                            cJSON_CreateString("8"));
  client_lease_record_read(l, &b);
  ASSERT_TRUE(client_lease_record_equal(&a, &b));
  cJSON_Delete(l);
  /* no spec: an empty record, free to take */
  l = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");
  client_lease_record_read(l, &a);
  ASSERT_EQ_STR(a.holder, "");
  ASSERT_EQ_INT(a.duration, 0);
  client_leader_state_t st = candidate(100, 100);
  ASSERT_EQ_INT(client_leader_decide(&a, ME, &st), CLIENT_LEADER_ACQUIRE);
  cJSON_Delete(l);
}

static void test_micro_time(void) {
  char out[40];
  ASSERT_EQ_INT(client_leader_micro_time(1767323045.25, out, sizeof(out)), 0);
  ASSERT_EQ_STR(out, "2026-01-02T03:04:05.250000Z");
  ASSERT_EQ_INT(strlen(out), 27);
  char small[20];
  ASSERT_EQ_INT(client_leader_micro_time(1767323045.25, small, sizeof(small)), -E2BIG);
}

static void test_timings(void) {
  char err[256] = "";
  ASSERT_EQ_INT(client_leader_check_timings(15, 10, 2, err, sizeof(err)), 0);
  ASSERT_EQ_INT(client_leader_check_timings(4, 3, 1, err, sizeof(err)), 0);
  ASSERT_EQ_INT(client_leader_check_timings(10, 10, 2, err, sizeof(err)), -EINVAL);
  ASSERT_TRUE(strstr(err, "greater than the renew deadline") != NULL);
  ASSERT_EQ_INT(client_leader_check_timings(15, 2, 2, err, sizeof(err)), -EINVAL);
  ASSERT_TRUE(strstr(err, "1.2 times the retry period") != NULL);
  ASSERT_EQ_INT(client_leader_check_timings(15, 10, 0, err, sizeof(err)), -EINVAL);
}

TEST_LIST = {
    TEST(test_no_lease_creates),
    TEST(test_free_lease_acquired_at_once),
    TEST(test_foreign_lease_waits_for_observed_expiry),
    TEST(test_own_lease_renewed),
    TEST(test_leader_sees_other_holder_lost),
    TEST(test_renew_deadline_lost),
    TEST(test_record_read_and_equal),
    TEST(test_micro_time),
    TEST(test_timings),
    {0},
};
TEST_MAIN()
