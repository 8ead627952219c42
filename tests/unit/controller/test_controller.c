/* Tests for pkg/controller/controller.c on a real libev loop: keys are
 * deduplicated, at most `workers` reconciles run at once, a failed key is
 * retried after its back-off and forgotten after a success, keys split;
 * a reconcile's request set (controller_ops_t: the next step runs once the
 * last request answered, the end when no step waits, done cancels so no
 * callback follows) and the expectations (creations and deletions in
 * flight, their 5 minute expiry). */
#include <errno.h>
#include <string.h>

#include "controller/controller.h"
#include "test.h"

static struct ev_loop *loop;
static int calls, running, max_running, fail_times;
static char seen[1024];
static char *pending[16];
static int n_pending;

static void finish_cb(struct ev_loop *l, ev_timer *t, int revents) {
  controller_t *ctl = t->data;
  for (int i = 0; i < n_pending; i++) {
    running--;
    controller_done(ctl, pending[i], 0);
    free(pending[i]);
  }
  n_pending = 0;
}

/* Reconciles end asynchronously (from a timer), as real ones do. */
static ev_timer finish;

static void sync_async(controller_t *ctl, const char *key, void *data) {
  calls++;
  running++;
  if (running > max_running)
    max_running = running;
  size_t len = strlen(seen);
  snprintf(seen + len, sizeof(seen) - len, "%s ", key);
  pending[n_pending++] = strdup(key);
  finish.data = ctl;
  if (!ev_is_active(&finish)) {
    ev_timer_set(&finish, 0.01, 0);
    ev_timer_start(loop, &finish);
  }
}

#define RUN_UNTIL(cond, secs)                                                                      \
  do {                                                                                             \
    double end_ = ev_time() + (secs);                                                              \
    while (!(cond) && ev_time() < end_)                                                            \
      ev_run(loop, EVRUN_ONCE);                                                                    \
  } while (0)

static void test_dedup_and_workers(void) {
  ev_timer_init(&finish, finish_cb, 0, 0);
  controller_opts_t o = {.name = "test", .workers = 2, .sync = sync_async};
  controller_t *ctl = NULL;
  ASSERT_EQ_INT(controller_new(loop, &o, &ctl), 0);
  calls = running = max_running = 0;
  seen[0] = '\0';
  controller_enqueue(ctl, "ns/a");
  controller_enqueue(ctl, "ns/a");
  controller_enqueue(ctl, "ns/b");
  controller_enqueue(ctl, "ns/c");
  ASSERT_EQ_INT(calls, 0); /* nothing before start */
  controller_start(ctl);
  RUN_UNTIL(calls == 3 && running == 0, 2);
  ASSERT_EQ_INT(calls, 3);
  ASSERT_EQ_INT(max_running, 2);
  ASSERT_EQ_STR(seen, "ns/a ns/b ns/c ");
  ASSERT_EQ_INT(client_workqueue_len(controller_queue(ctl)), 0);
  controller_free(ctl);
}

static void sync_fail(controller_t *ctl, const char *key, void *data) {
  calls++;
  controller_done(ctl, key, calls <= fail_times ? -EAGAIN : 0);
}

static void test_retry_backoff(void) {
  controller_opts_t o = {.name = "test", .sync = sync_fail, .base_delay = 0.02};
  controller_t *ctl = NULL;
  ASSERT_EQ_INT(controller_new(loop, &o, &ctl), 0);
  calls = 0;
  fail_times = 3;
  double t0 = ev_time();
  controller_enqueue(ctl, "k");
  controller_start(ctl);
  RUN_UNTIL(calls == 4, 3);
  double took = ev_time() - t0;
  ASSERT_EQ_INT(calls, 4);
  /* 0.02 + 0.04 + 0.08 s of back-off between the four calls */
  ASSERT_TRUE(took >= 0.13);
  ASSERT_TRUE(took < 2.0);
  ASSERT_EQ_INT(client_workqueue_failures(controller_queue(ctl), "k"), 0); /* forgotten */
  ev_run(loop, EVRUN_NOWAIT);
  ASSERT_EQ_INT(calls, 4);
  controller_free(ctl);
}

static void test_enqueue_after(void) {
  controller_opts_t o = {.name = "test", .sync = sync_fail};
  controller_t *ctl = NULL;
  ASSERT_EQ_INT(controller_new(loop, &o, &ctl), 0);
  calls = 0;
  fail_times = 0;
  controller_start(ctl);
  double t0 = ev_time();
  controller_enqueue_after(ctl, "later", 0.1);
  RUN_UNTIL(calls == 1, 2);
  ASSERT_EQ_INT(calls, 1);
  ASSERT_TRUE(ev_time() - t0 >= 0.09);
  controller_free(ctl);
}

static void test_key_split(void) {
  char ns[16], name[16];
  ASSERT_EQ_INT(controller_key_split("default/web", ns, sizeof(ns), name, sizeof(name)), 0);
  ASSERT_EQ_STR(ns, "default");
  ASSERT_EQ_STR(name, "web");
  ASSERT_EQ_INT(controller_key_split("node1", ns, sizeof(ns), name, sizeof(name)), 0);
  ASSERT_EQ_STR(ns, "");
  ASSERT_EQ_STR(name, "node1");
  ASSERT_EQ_INT(controller_key_split("ns/", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
  ASSERT_EQ_INT(controller_key_split("averyveryverylongnamespace/x", ns, sizeof(ns), name,
                                     sizeof(name)),
                -EINVAL);
}

/* ---- controller_ops_t over an in-process client whose fake API holds
 * every request until the test answers it ---- */

static http_req_t *held_reqs[8];
static int n_held;

static void hold_handler(http_req_t *r, void *data) {
  if (n_held < 8)
    held_reqs[n_held++] = r;
  else
    http_respond(r, 500, "text/plain", "x", 1);
}

static void answer(int i, int code) {
  const char *b = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"}}";
  http_respond(held_reqs[i], code, "application/json", b, strlen(b));
  held_reqs[i] = NULL;
}

typedef struct {
  controller_ops_t ops;
  char trail[128];
  int codes;
} owner_t;

static void trail(owner_t *o, const char *what) {
  size_t l = strlen(o->trail);
  snprintf(o->trail + l, sizeof(o->trail) - l, "%s ", what);
}

static void op_cb(const client_result_t *res, void *data) {
  controller_op_t *op = data;
  owner_t *o = controller_op_owner(op);
  o->codes += res->code;
  trail(o, op->name);
  controller_op_finish(op);
}

static void step_two(void *p) { trail(p, "two"); }
static void the_end(void *p) { trail(p, "end"); }

static void start_op(owner_t *o, client_t *c, const char *name) {
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = "ns", .name = name};
  controller_op_t *op = controller_op_new(&o->ops, 1, name, "uid-1");
  ASSERT_EQ_INT(controller_op_track(op, client_get(c, &ref, NULL, op_cb, op)), 0);
}

static void test_ops_steps(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, hold_handler, NULL, "t", groups, &c), 0);
  owner_t o = {0};
  controller_ops_init(&o.ops, &o, the_end);
  /* nothing in flight: the step runs at once */
  controller_ops_after(&o.ops, step_two);
  ASSERT_EQ_STR(o.trail, "two ");
  o.trail[0] = '\0';
  n_held = 0;
  start_op(&o, c, "a");
  start_op(&o, c, "b");
  controller_ops_after(&o.ops, step_two);
  ASSERT_EQ_INT(controller_ops_pending(&o.ops), 2);
  RUN_UNTIL(n_held == 2, 2);
  ASSERT_EQ_INT(n_held, 2);
  answer(1, 200);
  RUN_UNTIL(strlen(o.trail) >= 2, 2);
  ASSERT_EQ_STR(o.trail, "b ");     /* one answered: the step still waits */
  answer(0, 404);
  RUN_UNTIL(strlen(o.trail) >= 8, 2);
  ASSERT_EQ_STR(o.trail, "b a two "); /* the last one answered: the step ran */
  ASSERT_EQ_INT(o.codes, 604);
  ASSERT_EQ_INT(controller_ops_pending(&o.ops), 0);
  /* with no step waiting, the last answer ends the set */
  o.trail[0] = '\0';
  n_held = 0;
  start_op(&o, c, "c");
  RUN_UNTIL(n_held == 1, 2);
  answer(0, 200);
  RUN_UNTIL(strlen(o.trail) >= 6, 2);
  ASSERT_EQ_STR(o.trail, "c end ");
  /* a malformed ref: no request, the record is freed, -EINVAL */
  controller_op_t *bad = controller_op_new(&o.ops, 0, "x", NULL);
  ASSERT_EQ_INT(controller_op_track(bad, NULL), -EINVAL);
  ASSERT_EQ_INT(controller_ops_pending(&o.ops), 0);
  controller_ops_done(&o.ops);
  client_free(c);
}

static void test_ops_done_cancels(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, hold_handler, NULL, "t", groups, &c), 0);
  owner_t o = {0};
  controller_ops_init(&o.ops, &o, the_end);
  n_held = 0;
  start_op(&o, c, "a");
  start_op(&o, c, "b");
  controller_ops_after(&o.ops, step_two);
  RUN_UNTIL(n_held == 2, 2);
  controller_ops_done(&o.ops); /* the owner goes away with requests in flight */
  ASSERT_EQ_INT(controller_ops_pending(&o.ops), 0);
  answer(0, 200);
  answer(1, 200);
  double end = ev_time() + 0.1;
  while (ev_time() < end)
    ev_run(loop, EVRUN_NOWAIT);
  ASSERT_EQ_STR(o.trail, ""); /* no callback, no step, no end */
  client_free(c);
}

static void test_expectations(void) {
  controller_expectations_t *e = controller_expectations_new();
  ASSERT_TRUE(controller_expectations_satisfied(e, "ns/a", 0));
  controller_expectations_expect_adds(e, "ns/a", 2, 100);
  ASSERT_FALSE(controller_expectations_satisfied(e, "ns/a", 101));
  controller_expectations_observe_add(e, "ns/a");
  ASSERT_FALSE(controller_expectations_satisfied(e, "ns/a", 101));
  controller_expectations_observe_add(e, "ns/a");
  ASSERT_TRUE(controller_expectations_satisfied(e, "ns/a", 101));
  controller_expectations_observe_add(e, "ns/a"); /* more than expected: stays satisfied */
  ASSERT_TRUE(controller_expectations_satisfied(e, "ns/a", 101));
  const char *uids[] = {"u1", "u2"};
  controller_expectations_expect_dels(e, "ns/b", uids, 2, 200);
  ASSERT_TRUE(controller_expectations_expects_del(e, "ns/b", "u2"));
  ASSERT_FALSE(controller_expectations_expects_del(e, "ns/b", "u3"));
  ASSERT_FALSE(controller_expectations_expects_del(e, "ns/a", "u1"));
  controller_expectations_observe_del(e, "ns/b", "u3"); /* not expected: nothing changes */
  controller_expectations_observe_del(e, "ns/b", "u1");
  ASSERT_FALSE(controller_expectations_satisfied(e, "ns/b", 201));
  ASSERT_FALSE(controller_expectations_expects_del(e, "ns/b", "u1"));
  /* older than 5 minutes: given up */
  ASSERT_TRUE(controller_expectations_satisfied(e, "ns/b", 200 + 301));
  ASSERT_FALSE(controller_expectations_expects_del(e, "ns/b", "u2"));
  controller_expectations_expect_adds(e, "ns/c", 1, 0);
  controller_expectations_delete(e, "ns/c");
  ASSERT_TRUE(controller_expectations_satisfied(e, "ns/c", 1));
  /* many keys (the map grows) */
  char key[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "ns/k%d", i);
    controller_expectations_expect_adds(e, key, 1, 0);
  }
  for (int i = 0; i < 5000; i += 2) {
    snprintf(key, sizeof(key), "ns/k%d", i);
    controller_expectations_delete(e, key);
  }
  ASSERT_TRUE(controller_expectations_satisfied(e, "ns/k10", 1));
  ASSERT_FALSE(controller_expectations_satisfied(e, "ns/k11", 1));
  controller_expectations_free(e);
  controller_expectations_free(NULL);
}

TEST_LIST = {
    TEST(test_dedup_and_workers), TEST(test_retry_backoff), TEST(test_enqueue_after),
    TEST(test_key_split), TEST(test_ops_steps), TEST(test_ops_done_cancels),
    TEST(test_expectations), {0},
};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
