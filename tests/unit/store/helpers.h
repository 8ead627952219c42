/* Shared helpers for pkg/store tests: a temp dir under /tmp, a fresh libev
 * loop per test, and synchronous wrappers around asynchronous writes. */
#pragma once

#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"

static char tdir[256];
static char tpath[300];
static char terr[1024];
static struct ev_loop *tloop;

/* A new empty directory and a new loop. */
static inline void t_setup(void) {
  snprintf(tdir, sizeof(tdir), "/tmp/k3c-store-test-XXXXXX");
  if (!mkdtemp(tdir))
    TEST_FAIL("mkdtemp failed");
  snprintf(tpath, sizeof(tpath), "%s/db/state.db", tdir);
  tloop = ev_loop_new(EVFLAG_AUTO);
}

static inline void t_rmdir(void) {
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", tdir);
}

/* Every test ends here: the store left nothing active on the loop. */
static inline void t_teardown(void) {
  ASSERT_EQ_INT(ev_run(tloop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(tloop);
  tloop = NULL;
  t_rmdir();
}

static inline store_t *t_open_opts(const store_options_t *o) {
  store_t *s = NULL;
  int r = store_open(tloop, o, &s, terr, sizeof(terr));
  if (r != 0)
    TEST_FAIL("store_open: %d %s", r, terr);
  return s;
}

static inline store_t *t_open(void) {
  store_options_t o = {.path = tpath, .compact_interval_ms = -1};
  return t_open_opts(&o);
}

/* Run the loop until *flag or the deadline (seconds). */
static inline void t_run_until(volatile bool *flag, double seconds) {
  double end = ev_time() + seconds;
  while (!*flag && ev_time() < end) {
    ev_run(tloop, EVRUN_NOWAIT);
    if (!*flag)
      usleep(1000);
  }
  if (!*flag)
    TEST_FAIL("timed out after %.1fs", seconds);
}

typedef struct {
  bool done;
  int err;
  store_kv_t *kv;
} t_result_t;

static inline void t_done_cb(int err, const store_kv_t *kv, void *data) {
  t_result_t *r = data;
  r->done = true;
  r->err = err;
  r->kv = kv ? store_kv_ref((store_kv_t *)kv) : NULL;
}

/* Submit and wait. Returns the immediate error or the callback's; *ret_kv
 * (if given) gets a reference to the new version. */
static inline int t_write(store_t *s, store_op_kind_t op, const char *key, const char *value,
                   int64_t expect, int64_t ttl, store_kv_t **ret_kv) {
  t_result_t res = {0};
  store_write_t w = {.op = op, .key = key, .expected_mod_rev = expect, .value = value,
                     .len = value ? strlen(value) : 0, .ttl_seconds = ttl};
  int r = store_write(s, &w, t_done_cb, &res);
  if (r < 0)
    return r;
  t_run_until(&res.done, 10);
  if (ret_kv)
    *ret_kv = res.kv;
  else
    store_kv_unref(res.kv);
  return res.err;
}

static inline int64_t t_put(store_t *s, const char *key, const char *value) {
  store_kv_t *kv = NULL;
  int r = t_write(s, STORE_OP_CREATE, key, value, 0, 0, &kv);
  if (r == -EEXIST)
    r = t_write(s, STORE_OP_UPDATE, key, value, 0, 0, &kv);
  if (r != 0)
    TEST_FAIL("put %s: %d", key, r);
  int64_t rev = kv->mod_rev;
  store_kv_unref(kv);
  return rev;
}
