/* Per-client accounting, admission and the output budget (pkg/http/quota.c). */
#include <stdio.h>

#include "http/quota.h"
#include "test.h"

static void test_defaults(void) {
  http_quota_t l = {0};
  l.max_unauth = 7;
  http_quota_defaults(&l);
  ASSERT_EQ_INT(l.max_unauth, 7); /* set fields stay */
  ASSERT_EQ_INT(l.max_conns, HTTP_DEFAULT_MAX_CONNS);
  ASSERT_EQ_INT(l.max_unauth_per_addr, HTTP_DEFAULT_MAX_UNAUTH_PER_ADDR);
  ASSERT_EQ_INT(l.out_budget, HTTP_DEFAULT_OUT_BUDGET);
  ASSERT_EQ_INT(l.conn_out_mark, HTTP_DEFAULT_CONN_OUT_MARK);
  ASSERT_TRUE(l.unauth_idle == HTTP_DEFAULT_UNAUTH_IDLE);
}

static void test_table(void) {
  http_clients_t t;
  http_clients_init(&t);
  http_client_t *a = http_clients_get(&t, "a:10.0.0.1");
  ASSERT_TRUE(http_clients_get(&t, "a:10.0.0.1") == a);
  ASSERT_EQ_INT(t.n, 1);
  a->conns = 1;
  http_clients_release(&t, a); /* still counted: stays */
  ASSERT_EQ_INT(t.n, 1);
  ASSERT_TRUE(http_clients_get(&t, "a:10.0.0.1") == a);
  a->conns = 0;
  http_clients_release(&t, a);
  ASSERT_EQ_INT(t.n, 0);
  /* Growth keeps every entry findable. */
  http_client_t *e[2000];
  char key[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(key, sizeof(key), "u:user-%d", i);
    e[i] = http_clients_get(&t, key);
    e[i]->inflight = i + 1;
  }
  ASSERT_EQ_INT(t.n, 2000);
  for (int i = 0; i < 2000; i++) {
    snprintf(key, sizeof(key), "u:user-%d", i);
    ASSERT_TRUE(http_clients_get(&t, key) == e[i]);
    ASSERT_EQ_INT(e[i]->inflight, i + 1);
  }
  for (int i = 0; i < 2000; i += 2) {
    e[i]->inflight = 0;
    http_clients_release(&t, e[i]);
  }
  ASSERT_EQ_INT(t.n, 1000);
  http_clients_done(&t);
  ASSERT_EQ_INT(t.n, 0);
}

static void test_admit(void) {
  http_quota_t l = {.max_conns = 10, .max_conns_per_addr = 5, .max_unauth = 4,
                    .max_unauth_per_addr = 2};
  http_quota_defaults(&l);
  http_client_t a = {.key = "a:x"};
  ASSERT_EQ_INT(http_quota_admit(&l, 0, 0, &a), HTTP_ADMIT_OK);
  a.conns = 2;
  a.unauth = 1;
  ASSERT_EQ_INT(http_quota_admit(&l, 3, 3, &a), HTTP_ADMIT_OK);
  a.unauth = 2; /* anonymous pool of the address full: trim, still accept */
  ASSERT_EQ_INT(http_quota_admit(&l, 3, 3, &a), HTTP_ADMIT_TRIM_ADDR);
  a.unauth = 1;
  ASSERT_EQ_INT(http_quota_admit(&l, 4, 4, &a), HTTP_ADMIT_TRIM_ANY);
  a.conns = 5; /* hard limits take precedence */
  ASSERT_EQ_INT(http_quota_admit(&l, 5, 4, &a), HTTP_ADMIT_ROOM_ADDR);
  a.conns = 3;
  ASSERT_EQ_INT(http_quota_admit(&l, 10, 1, &a), HTTP_ADMIT_ROOM_ANY);
  /* Authenticated connections of other clients do not count in the pool. */
  a.unauth = 0;
  ASSERT_EQ_INT(http_quota_admit(&l, 9, 0, &a), HTTP_ADMIT_OK);
}

static void test_budget(void) {
  http_quota_t l = {.conn_out_mark = 100, .out_budget = 1000};
  http_quota_defaults(&l);
  bool over = false;
  ASSERT_TRUE(http_quota_may_produce(&l, 0, 0, &over));
  ASSERT_TRUE(http_quota_may_produce(&l, 99, 500, &over));
  ASSERT_FALSE(http_quota_may_produce(&l, 100, 500, &over)); /* at the mark */
  ASSERT_FALSE(over);
  ASSERT_FALSE(http_quota_may_produce(&l, 50, 1001, &over)); /* over budget, has a backlog */
  ASSERT_TRUE(over);
  ASSERT_TRUE(http_quota_may_produce(&l, 0, 1001, &over)); /* nothing queued: may answer */
  ASSERT_FALSE(http_quota_may_produce(&l, 50, 900, &over)); /* hysteresis: not yet 3/4 */
  ASSERT_TRUE(over);
  ASSERT_TRUE(http_quota_may_produce(&l, 50, 750, &over));
  ASSERT_FALSE(over);
  ASSERT_TRUE(http_quota_may_produce(&l, 50, 1000, &over)); /* at the budget is not over */
}

static void test_inflight(void) {
  http_quota_t l = {.max_inflight_per_addr = 3, .max_inflight_per_user = 2};
  http_quota_defaults(&l);
  http_client_t a = {.key = "a:x"}, u = {.key = "u:alice"}, m = {.key = "u:admin"};
  ASSERT_TRUE(http_quota_inflight_add(&l, &a, false, false));
  ASSERT_TRUE(http_quota_inflight_add(&l, &a, false, false));
  ASSERT_TRUE(http_quota_inflight_add(&l, &a, false, false));
  ASSERT_FALSE(http_quota_inflight_add(&l, &a, false, false)); /* the 4th of an address */
  ASSERT_EQ_INT(a.inflight, 4); /* counted all the same: finishing it decrements */
  ASSERT_TRUE(http_quota_inflight_add(&l, &u, true, false));
  ASSERT_TRUE(http_quota_inflight_add(&l, &u, true, false));
  ASSERT_FALSE(http_quota_inflight_add(&l, &u, true, false)); /* the user limit is smaller */
  for (int i = 0; i < 10; i++)
    ASSERT_TRUE(http_quota_inflight_add(&l, &m, true, true)); /* system:masters */
  ASSERT_EQ_INT(m.inflight, 10);
}

TEST_LIST = {TEST(test_inflight), TEST(test_defaults), TEST(test_table), TEST(test_admit), TEST(test_budget), {0}};
TEST_MAIN()
