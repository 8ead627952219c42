/* Tests for pkg/controller/controller.c on a real libev loop: keys are
 * deduplicated, at most `workers` reconciles run at once, a failed key is
 * retried after its back-off and forgotten after a success, keys split. */
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

TEST_LIST = {
    TEST(test_dedup_and_workers), TEST(test_retry_backoff), TEST(test_enqueue_after),
    TEST(test_key_split), {0},
};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
