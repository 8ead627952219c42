/* Tests for pkg/store (store.c, index.c, token.c, sqlite.c): every
 * operation and error code, CAS against pending writes, pagination across
 * concurrent writes, TTL, compaction, reopen recovery and bad databases.
 * Watch tests are in test_watch.c. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "helpers.h"

static void test_create_get(void) {
  t_setup();
  store_t *s = t_open();
  ASSERT_EQ_INT(store_revision(s), 1); /* like etcd, an empty store is at 1 */
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/a", "one", 0, 0, &kv), 0);
  ASSERT_EQ_INT(kv->mod_rev, 2);
  ASSERT_EQ_INT(kv->create_rev, 2);
  ASSERT_EQ_STR(kv->value, "one");
  ASSERT_EQ_INT(kv->len, 3);
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_revision(s), 2);
  ASSERT_EQ_INT(store_get(s, "/a", 0, &kv), 0);
  ASSERT_EQ_STR(kv->key, "/a");
  ASSERT_EQ_STR(kv->value, "one");
  store_kv_unref(kv);
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/a", "again", 0, 0, NULL), -EEXIST);
  ASSERT_EQ_INT(store_get(s, "/b", 0, &kv), -ENOENT);
  ASSERT_EQ_INT(store_revision(s), 2); /* failed writes take no revision */
  store_close(s);
  t_teardown();
}

static void test_update_cas(void) {
  t_setup();
  store_t *s = t_open();
  int64_t r1 = t_put(s, "/k", "v1");
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/k", "v2", r1 + 5, 0, NULL), -ESTALE);
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/k", "v2", r1, 0, &kv), 0);
  ASSERT_EQ_INT(kv->mod_rev, r1 + 1);
  ASSERT_EQ_INT(kv->create_rev, r1);
  store_kv_unref(kv);
  /* the old revision no longer matches */
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/k", "v3", r1, 0, NULL), -ESTALE);
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/k", "v3", 0, 0, NULL), 0); /* unconditional */
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/nope", "x", 0, 0, NULL), -ENOENT);
  ASSERT_EQ_INT(store_get(s, "/k", 0, &kv), 0);
  ASSERT_EQ_STR(kv->value, "v3");
  store_kv_unref(kv);
  store_close(s);
  t_teardown();
}

static void test_delete(void) {
  t_setup();
  store_t *s = t_open();
  int64_t r1 = t_put(s, "/d", "final");
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/d", NULL, r1 - 1, 0, NULL), -ESTALE);
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/d", NULL, r1, 0, &kv), 0);
  ASSERT_EQ_INT(kv->mod_rev, r1 + 1); /* tombstone: delete revision, final value */
  ASSERT_EQ_INT(kv->create_rev, r1);
  ASSERT_EQ_STR(kv->value, "final");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/d", 0, &kv), -ENOENT);
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/d", NULL, 0, 0, NULL), -ENOENT);
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/d", "x", 0, 0, NULL), -ENOENT);
  /* a delete may carry the object's final state */
  t_put(s, "/e", "before");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/e", "deleted-state", 0, 0, &kv), 0);
  ASSERT_EQ_STR(kv->value, "deleted-state");
  store_kv_unref(kv);
  /* re-create: a new life with a new create_rev */
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/d", "again", 0, 0, &kv), 0);
  ASSERT_EQ_INT(kv->create_rev, kv->mod_rev);
  ASSERT_EQ_INT(kv->create_rev, store_revision(s));
  store_kv_unref(kv);
  store_close(s);
  t_teardown();
}

static char *fail_cb(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                     int *ret_err) {
  *ret_err = -EPERM;
  return NULL;
}

static char *huge_cb(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                     int *ret_err) {
  *ret_len = STORE_VALUE_MAX + 1;
  return calloc(1, STORE_VALUE_MAX + 1);
}

static void test_errors(void) {
  t_setup();
  store_t *s = t_open();
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "", "x", 0, 0, NULL), -EINVAL);
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/t", "x", 0, -1, NULL), -EINVAL);
  store_write_t w = {.op = (store_op_kind_t)42, .key = "/x"};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, NULL), -EINVAL);
  w = (store_write_t){.op = STORE_OP_CREATE, .key = "/big", .value = "", .len = STORE_VALUE_MAX + 1};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, NULL), -E2BIG);
  w = (store_write_t){.op = STORE_OP_CREATE, .key = "/cb", .value_cb = fail_cb};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, NULL), -EPERM);
  w = (store_write_t){.op = STORE_OP_CREATE, .key = "/cb", .value_cb = huge_cb};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, NULL), -E2BIG);
  ASSERT_EQ_INT(store_revision(s), 1);
  ASSERT_EQ_INT(store_get(s, "", 0, &kv), -EINVAL);
  ASSERT_EQ_INT(store_get(s, "/x", 99, &kv), -EINVAL); /* future revision */
  ASSERT_EQ_INT(store_get_latest(s, "/x", &kv), -ENOENT);
  store_list_t l;
  store_list_opts_t lo = {.prefix = NULL};
  ASSERT_EQ_INT(store_list(s, &lo, &l), -EINVAL);
  lo = (store_list_opts_t){.prefix = "/", .rev = 50};
  ASSERT_EQ_INT(store_list(s, &lo, &l), -EINVAL);
  /* exactly the maximum is fine */
  char *max = calloc(1, STORE_VALUE_MAX);
  memset(max, 'x', STORE_VALUE_MAX);
  w = (store_write_t){.op = STORE_OP_CREATE, .key = "/max", .value = max, .len = STORE_VALUE_MAX};
  t_result_t res = {0};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res), 0);
  free(max);
  t_run_until(&res.done, 10);
  ASSERT_EQ_INT(res.err, 0);
  ASSERT_EQ_INT(res.kv->len, STORE_VALUE_MAX);
  store_kv_unref(res.kv);
  store_close(s);
  t_teardown();
}

/* CAS runs against the newest state, including writes not yet committed;
 * reads see committed state only. */
static void test_pending_cas(void) {
  t_setup();
  store_t *s = t_open();
  t_result_t a = {0}, b = {0}, c = {0};
  store_write_t w = {.op = STORE_OP_CREATE, .key = "/p", .value = "1", .len = 1};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &a), 0);
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/p", 0, &kv), -ENOENT); /* not committed yet */
  ASSERT_EQ_INT(store_get_latest(s, "/p", &kv), 0);
  ASSERT_EQ_INT(kv->mod_rev, 2);
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &b), -EEXIST);
  w = (store_write_t){.op = STORE_OP_UPDATE, .key = "/p", .value = "2", .len = 1,
                      .expected_mod_rev = 2};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &b), 0);
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &c), -ESTALE); /* 2 is no longer newest */
  w = (store_write_t){.op = STORE_OP_DELETE, .key = "/p", .expected_mod_rev = 3};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &c), 0);
  ASSERT_EQ_INT(store_get_latest(s, "/p", &kv), -ENOENT);
  t_run_until(&c.done, 10);
  ASSERT_TRUE(a.done && b.done);
  ASSERT_EQ_INT(a.err, 0);
  ASSERT_EQ_INT(b.err, 0);
  ASSERT_EQ_INT(c.err, 0);
  ASSERT_EQ_INT(a.kv->mod_rev, 2);
  ASSERT_EQ_INT(b.kv->mod_rev, 3);
  ASSERT_EQ_INT(c.kv->mod_rev, 4);
  ASSERT_EQ_STR(c.kv->value, "2"); /* the delete's value defaults to the final state */
  store_kv_unref(a.kv);
  store_kv_unref(b.kv);
  store_kv_unref(c.kv);
  ASSERT_EQ_INT(store_get(s, "/p", 3, &kv), 0);
  ASSERT_EQ_STR(kv->value, "2");
  store_kv_unref(kv);
  store_close(s);
  t_teardown();
}

static char *stamp_cb(int64_t rev, const store_kv_t *prev, void *data, size_t *ret_len,
                      int *ret_err) {
  char *out = NULL;
  int n = asprintf(&out, "rev=%lld prev=%s", (long long)rev, prev ? prev->value : "none");
  *ret_len = (size_t)n;
  return out;
}

static void test_value_cb(void) {
  t_setup();
  store_t *s = t_open();
  store_write_t w = {.op = STORE_OP_CREATE, .key = "/cb", .value_cb = stamp_cb};
  t_result_t res = {0};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res), 0);
  t_run_until(&res.done, 10);
  ASSERT_EQ_STR(res.kv->value, "rev=2 prev=none");
  store_kv_unref(res.kv);
  w.op = STORE_OP_UPDATE;
  res = (t_result_t){0};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res), 0);
  t_run_until(&res.done, 10);
  ASSERT_EQ_STR(res.kv->value, "rev=3 prev=rev=2 prev=none");
  store_kv_unref(res.kv);
  store_close(s);
  t_teardown();
}

static void test_get_at_revision(void) {
  t_setup();
  store_t *s = t_open();
  int64_t r1 = t_put(s, "/h", "v1");
  int64_t r2 = t_put(s, "/h", "v2");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/h", NULL, 0, 0, NULL), 0);
  int64_t r3 = store_revision(s);
  int64_t r4 = t_put(s, "/h", "v4");
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/h", r1 - 1, &kv), -ENOENT);
  ASSERT_EQ_INT(store_get(s, "/h", r1, &kv), 0);
  ASSERT_EQ_STR(kv->value, "v1");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/h", r2, &kv), 0);
  ASSERT_EQ_STR(kv->value, "v2");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/h", r3, &kv), -ENOENT);
  ASSERT_EQ_INT(store_get(s, "/h", r4, &kv), 0);
  ASSERT_EQ_STR(kv->value, "v4");
  ASSERT_EQ_INT(kv->create_rev, r4);
  store_kv_unref(kv);
  /* compaction: at and below r2 is gone, r2 itself still readable */
  ASSERT_EQ_INT(store_compact(s, r2), 0);
  ASSERT_EQ_INT(store_compacted_revision(s), r2);
  ASSERT_EQ_INT(store_get(s, "/h", r1, &kv), -EOVERFLOW);
  ASSERT_EQ_INT(store_get(s, "/h", r2, &kv), 0);
  ASSERT_EQ_STR(kv->value, "v2");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_compact(s, r4 + 100), 0); /* bounded by the current revision */
  ASSERT_EQ_INT(store_compacted_revision(s), r4);
  ASSERT_EQ_INT(store_get(s, "/h", r3, &kv), -EOVERFLOW);
  ASSERT_EQ_INT(store_get(s, "/h", 0, &kv), 0);
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_compact(s, -1), -EINVAL);
  store_close(s);
  t_teardown();
}

static void collect(store_t *s, store_list_opts_t *o, store_list_t *l, char *keys, size_t cap) {
  int r = store_list(s, o, l);
  if (r != 0)
    TEST_FAIL("store_list: %d", r);
  for (size_t i = 0; i < l->n; i++) {
    strncat(keys, l->items[i]->key + strlen(o->prefix), cap - strlen(keys) - 2);
    strncat(keys, ",", cap - strlen(keys) - 1);
  }
}

static void test_list_pagination(void) {
  t_setup();
  store_t *s = t_open();
  char key[64];
  for (int i = 0; i < 25; i++) {
    snprintf(key, sizeof(key), "/r/ns/k%02d", i);
    t_put(s, key, "v");
  }
  t_put(s, "/q/outside", "x");
  t_put(s, "/r/ns0", "not under /r/ns/"); /* sorts right after the prefix range */
  char keys[1024] = "";
  store_list_t l;
  store_list_opts_t o = {.prefix = "/r/ns/", .limit = 10};
  collect(s, &o, &l, keys, sizeof(keys));
  int64_t rev = l.rev;
  ASSERT_EQ_INT(rev, store_revision(s));
  ASSERT_EQ_INT(l.n, 10);
  ASSERT_EQ_INT(l.remaining, 15);
  ASSERT_NOT_NULL(l.continue_tok);
  char *tok = strdup(l.continue_tok);
  store_list_done(&l);

  /* Concurrent writes between pages: new keys inside and after the page,
   * an update and a delete of keys the next page will return. */
  t_put(s, "/r/ns/k10", "changed");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/r/ns/k11", NULL, 0, 0, NULL), 0);
  t_put(s, "/r/ns/k05a", "new inside page 1");
  t_put(s, "/r/ns/k12a", "new in page 2");
  t_put(s, "/r/ns/k99", "new at the end");

  o.continue_tok = tok;
  collect(s, &o, &l, keys, sizeof(keys));
  ASSERT_EQ_INT(l.rev, rev);
  ASSERT_EQ_INT(l.n, 10);
  ASSERT_EQ_INT(l.remaining, 5);
  ASSERT_EQ_STR(l.items[0]->key, "/r/ns/k10");
  ASSERT_EQ_STR(l.items[0]->value, "v"); /* value at the first page's revision */
  ASSERT_EQ_STR(l.items[1]->key, "/r/ns/k11"); /* deleted later, present at rev */
  free(tok);
  tok = strdup(l.continue_tok);
  store_list_done(&l);
  o.continue_tok = tok;
  collect(s, &o, &l, keys, sizeof(keys));
  ASSERT_EQ_INT(l.n, 5);
  ASSERT_EQ_INT(l.remaining, 0);
  ASSERT_NULL(l.continue_tok);
  store_list_done(&l);
  ASSERT_EQ_STR(keys, "k00,k01,k02,k03,k04,k05,k06,k07,k08,k09,k10,k11,k12,k13,k14,k15,k16,"
                      "k17,k18,k19,k20,k21,k22,k23,k24,");

  /* a token does not move to another prefix or revision */
  store_list_opts_t bad = {.prefix = "/q/", .continue_tok = tok};
  ASSERT_EQ_INT(store_list(s, &bad, &l), -EINVAL);
  bad = (store_list_opts_t){.prefix = "/r/ns/", .continue_tok = tok, .rev = rev + 1};
  ASSERT_EQ_INT(store_list(s, &bad, &l), -EINVAL);
  bad = (store_list_opts_t){.prefix = "/r/ns/", .continue_tok = "garbage"};
  ASSERT_EQ_INT(store_list(s, &bad, &l), -EINVAL);
  bad.continue_tok = "k3c1!!!!";
  ASSERT_EQ_INT(store_list(s, &bad, &l), -EINVAL);
  bad.continue_tok = "k3c1";
  ASSERT_EQ_INT(store_list(s, &bad, &l), -EINVAL);

  /* the current state, no limit */
  o = (store_list_opts_t){.prefix = "/r/ns/"};
  ASSERT_EQ_INT(store_list(s, &o, &l), 0);
  ASSERT_EQ_INT(l.n, 27); /* 25 - 1 deleted + 3 new */
  ASSERT_NULL(l.continue_tok);
  ASSERT_EQ_INT(l.rev, store_revision(s));
  store_list_done(&l);
  ASSERT_EQ_INT(store_count(s, "/r/ns/"), 27);
  ASSERT_EQ_INT(store_count(s, "/r/"), 28);
  ASSERT_EQ_INT(store_count(s, "/"), 29);
  ASSERT_EQ_INT(store_count(s, "/zzz"), 0);

  /* an expired token: its revision was compacted */
  ASSERT_EQ_INT(store_compact(s, rev + 1), 0);
  o = (store_list_opts_t){.prefix = "/r/ns/", .continue_tok = tok};
  ASSERT_EQ_INT(store_list(s, &o, &l), -EOVERFLOW);
  free(tok);
  store_close(s);
  t_teardown();
}

/* Pages interleaved with a stream of writes submitted concurrently (not
 * awaited one by one): every page is consistent with the first revision. */
static void test_list_under_concurrent_writes(void) {
  t_setup();
  store_t *s = t_open();
  char key[64], val[64];
  for (int i = 0; i < 200; i++) {
    snprintf(key, sizeof(key), "/c/%03d", i);
    t_put(s, key, "orig");
  }
  store_list_opts_t o = {.prefix = "/c/", .limit = 7};
  store_list_t l;
  char *tok = NULL;
  int64_t rev = 0;
  size_t seen = 0;
  int round = 0;
  t_result_t res[400];
  int nres = 0;
  do {
    o.continue_tok = tok;
    ASSERT_EQ_INT(store_list(s, &o, &l), 0);
    if (!rev)
      rev = l.rev;
    ASSERT_EQ_INT(l.rev, rev);
    for (size_t i = 0; i < l.n; i++) {
      snprintf(key, sizeof(key), "/c/%03zu", seen + i);
      ASSERT_EQ_STR(l.items[i]->key, key);
      ASSERT_EQ_STR(l.items[i]->value, "orig");
    }
    seen += l.n;
    ASSERT_EQ_INT(l.remaining, 200 - seen);
    free(tok);
    tok = l.continue_tok ? strdup(l.continue_tok) : NULL;
    store_list_done(&l);
    /* change keys ahead of the cursor and add new ones, without waiting */
    for (int j = 0; j < 2 && nres < 400; j++, round++) {
      snprintf(key, sizeof(key), "/c/%03d", 199 - round);
      snprintf(val, sizeof(val), "changed %d", round);
      store_write_t w = {.op = round % 2 ? STORE_OP_UPDATE : STORE_OP_DELETE, .key = key,
                         .value = val, .len = strlen(val)};
      res[nres] = (t_result_t){0};
      ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[nres]), 0);
      nres++;
      snprintf(key, sizeof(key), "/c/%03da", round);
      w = (store_write_t){.op = STORE_OP_CREATE, .key = key, .value = "new", .len = 3};
      res[nres] = (t_result_t){0};
      ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[nres]), 0);
      nres++;
    }
    ev_run(tloop, EVRUN_NOWAIT); /* let some commits land between pages */
  } while (tok);
  ASSERT_EQ_INT(seen, 200);
  t_run_until(&res[nres - 1].done, 10);
  for (int i = 0; i < nres; i++) {
    ASSERT_EQ_INT(res[i].err, 0);
    if (i)
      ASSERT_EQ_INT(res[i].kv->mod_rev, res[i - 1].kv->mod_rev + 1);
    store_kv_unref(res[i].kv);
  }
  ASSERT_TRUE(store_revision(s) > rev);
  store_close(s);
  t_teardown();
}

static void test_reopen(void) {
  t_setup();
  store_t *s = t_open();
  t_put(s, "/x/a", "a1");
  int64_t ca = store_revision(s);
  t_put(s, "/x/a", "a2");
  t_put(s, "/x/b", "b1");
  t_put(s, "/x/c", "c1");
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/x/c", NULL, 0, 0, NULL), 0);
  int64_t last = store_revision(s);
  store_close(s);

  s = t_open();
  ASSERT_EQ_INT(store_revision(s), last);
  /* the history kept in the database is the event window again */
  ASSERT_EQ_INT(store_compacted_revision(s), 1);
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/x/a", ca, &kv), 0);
  ASSERT_EQ_STR(kv->value, "a1");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/x/c", last - 1, &kv), 0);
  ASSERT_EQ_STR(kv->value, "c1");
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/x/a", 0, &kv), 0);
  ASSERT_EQ_STR(kv->value, "a2");
  ASSERT_EQ_INT(kv->create_rev, ca);
  ASSERT_EQ_INT(kv->mod_rev, ca + 1);
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/x/c", 0, &kv), -ENOENT);
  ASSERT_EQ_INT(store_count(s, "/x/"), 2);
  /* writing continues after the last revision */
  ASSERT_EQ_INT(t_put(s, "/x/d", "d"), last + 1);
  /* the tombstone is the newest row: compact it away, the revision stays */
  ASSERT_EQ_INT(t_write(s, STORE_OP_DELETE, "/x/d", NULL, 0, 0, NULL), 0);
  last = store_revision(s);
  ASSERT_EQ_INT(store_compact(s, last), 0);
  store_close(s); /* waits for the compaction too */

  s = t_open();
  ASSERT_EQ_INT(store_revision(s), last);
  ASSERT_EQ_INT(store_compacted_revision(s), last);
  ASSERT_EQ_INT(store_count(s, "/x/"), 2);
  store_close(s);
  /* the database itself kept only what is needed */
  sqlite3 *db = NULL;
  ASSERT_EQ_INT(sqlite3_open(tpath, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM kv", -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  ASSERT_EQ_INT(sqlite3_column_int(st, 0), 2);
  sqlite3_finalize(st);
  sqlite3_close(db);
  t_teardown();
}

static void test_corrupt_database(void) {
  t_setup();
  store_t *s = t_open();
  t_put(s, "/a", "b");
  store_close(s);
  /* overwrite the header: "file is not a database" */
  int fd = open(tpath, O_WRONLY);
  ASSERT_TRUE(fd >= 0);
  ASSERT_EQ_INT(pwrite(fd, "garbage garbage garbage garbage!", 32, 0), 32);
  close(fd);
  s = NULL;
  int r = store_open(tloop, &(store_options_t){.path = tpath}, &s, terr, sizeof(terr));
  ASSERT_EQ_INT(r, -EIO);
  ASSERT_NULL(s);
  ASSERT_CONTAINS(terr, "is corrupt");
  ASSERT_CONTAINS(terr, tpath);
  /* the file was left alone for the operator */
  struct stat st;
  ASSERT_EQ_INT(stat(tpath, &st), 0);
  ASSERT_TRUE(st.st_size > 32);
  t_teardown();
}

static void test_corrupt_pages(void) {
  t_setup();
  store_t *s = t_open();
  char key[64], big[2048];
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  for (int i = 0; i < 200; i++) {
    snprintf(key, sizeof(key), "/p/%d", i);
    t_put(s, key, big);
  }
  store_close(s); /* checkpoints the WAL into the main file */
  /* scribble over the middle of the file: b-tree pages, not the header */
  int fd = open(tpath, O_RDWR);
  struct stat st;
  ASSERT_EQ_INT(fstat(fd, &st), 0);
  char junk[8192];
  memset(junk, 0xa5, sizeof(junk));
  for (off_t off = 4096; off + (off_t)sizeof(junk) < st.st_size; off += 4 * 4096)
    ASSERT_EQ_INT(pwrite(fd, junk, sizeof(junk), off), sizeof(junk));
  close(fd);
  s = NULL;
  int r = store_open(tloop, &(store_options_t){.path = tpath}, &s, terr, sizeof(terr));
  ASSERT_EQ_INT(r, -EIO);
  ASSERT_CONTAINS(terr, "corrupt");
  t_teardown();
}

static void test_schema_mismatch(void) {
  t_setup();
  snprintf(tpath, sizeof(tpath), "%s/other.db", tdir);
  sqlite3 *db = NULL;
  ASSERT_EQ_INT(sqlite3_open(tpath, &db), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_exec(db, "CREATE TABLE kine (id INTEGER)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  store_t *s = NULL;
  int r = store_open(tloop, &(store_options_t){.path = tpath}, &s, terr, sizeof(terr));
  ASSERT_EQ_INT(r, -EPROTO);
  ASSERT_CONTAINS(terr, "unknown schema");
  t_teardown();
}

static void test_unwritable(void) {
  t_setup();
  /* the parent "directory" is a regular file */
  char file[300];
  snprintf(file, sizeof(file), "%s/plain", tdir);
  int fd = open(file, O_CREAT | O_WRONLY, 0600);
  close(fd);
  snprintf(tpath, sizeof(tpath), "%s/plain/state.db", tdir);
  store_t *s = NULL;
  int r = store_open(tloop, &(store_options_t){.path = tpath}, &s, terr, sizeof(terr));
  ASSERT_TRUE(r < 0);
  ASSERT_CONTAINS(terr, "Not a directory");
  ASSERT_CONTAINS(terr, tpath);
  /* the path is a directory */
  snprintf(tpath, sizeof(tpath), "%s", tdir);
  r = store_open(tloop, &(store_options_t){.path = tpath}, &s, terr, sizeof(terr));
  ASSERT_TRUE(r < 0);
  ASSERT_CONTAINS(terr, tdir);
  ASSERT_CONTAINS(terr, "cannot be opened for writing");
  /* no path at all */
  r = store_open(tloop, &(store_options_t){.path = NULL}, &s, terr, sizeof(terr));
  ASSERT_EQ_INT(r, -EINVAL);
  t_teardown();
}

static void test_locked(void) {
  t_setup();
  store_t *s = t_open(), *s2 = NULL;
  t_put(s, "/a", "1");
  int r = store_open(tloop, &(store_options_t){.path = tpath}, &s2, terr, sizeof(terr));
  ASSERT_EQ_INT(r, -EBUSY);
  ASSERT_CONTAINS(terr, "in use by another process");
  store_close(s);
  t_teardown();
}

static void test_ttl(void) {
  t_setup();
  store_t *s = t_open();
  store_kv_t *kv = NULL;
  /* The lease is taken from the loop time when the write is submitted; the
   * loop time after the commit may be in the next second (slow machines,
   * qemu), so compare with the time before. */
  int64_t before = (int64_t)ev_now(tloop);
  /* /ev/a may expire at any point after its write (a slow disk can take a
   * second for the next writes), so count revisions from here: four writes
   * below plus the expiry's delete. */
  int64_t rev0 = store_revision(s);
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/ev/a", "short", 0, 1, &kv), 0);
  ASSERT_TRUE(kv->lease_expires >= before + 1);
  ASSERT_TRUE(kv->lease_expires <= (int64_t)ev_now(tloop) + 1);
  store_kv_unref(kv);
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/ev/b", "long", 0, 60, NULL), 0);
  /* an update without a TTL removes it */
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/ev/c", "was short", 0, 1, NULL), 0);
  ASSERT_EQ_INT(t_write(s, STORE_OP_UPDATE, "/ev/c", "kept", 0, 0, &kv), 0);
  ASSERT_EQ_INT(kv->lease_expires, 0);
  store_kv_unref(kv);
  /* wait until /ev/a is gone (a real delete: the revision moves) */
  double end = ev_time() + 5;
  while (store_get(s, "/ev/a", 0, &kv) == 0 && ev_time() < end) {
    store_kv_unref(kv);
    ev_run(tloop, EVRUN_ONCE);
  }
  ASSERT_EQ_INT(store_get(s, "/ev/a", 0, &kv), -ENOENT);
  ASSERT_EQ_INT(store_revision(s), rev0 + 5);
  ASSERT_EQ_INT(store_get(s, "/ev/b", 0, &kv), 0);
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/ev/c", 0, &kv), 0);
  store_kv_unref(kv);
  /* TTL survives a restart, and an expired key is deleted after it */
  ASSERT_EQ_INT(t_write(s, STORE_OP_CREATE, "/ev/d", "restart", 0, 1, NULL), 0);
  store_close(s);
  usleep(1100 * 1000);
  s = t_open();
  end = ev_time() + 5;
  while (store_get(s, "/ev/d", 0, &kv) == 0 && ev_time() < end) {
    store_kv_unref(kv);
    ev_run(tloop, EVRUN_ONCE);
  }
  ASSERT_EQ_INT(store_get(s, "/ev/d", 0, &kv), -ENOENT);
  store_close(s);
  t_teardown();
}

static void test_group_commit(void) {
  t_setup();
  store_t *s = t_open();
  enum { N = 500 };
  static t_result_t res[N];
  char key[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "/g/%d", i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = key, .len = strlen(key)};
    res[i] = (t_result_t){0};
    ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &res[i]), 0);
  }
  /* the loop exits by itself once every write is acknowledged */
  ev_run(tloop, 0);
  for (int i = 0; i < N; i++) {
    ASSERT_TRUE(res[i].done);
    ASSERT_EQ_INT(res[i].err, 0);
    ASSERT_EQ_INT(res[i].kv->mod_rev, 2 + i);
    store_kv_unref(res[i].kv);
  }
  ASSERT_EQ_INT(store_count(s, "/g/"), N);
  store_close(s);
  t_teardown();
}

/* store_close acknowledges writes still in flight. */
static void test_close_with_pending(void) {
  t_setup();
  store_t *s = t_open();
  t_result_t a = {0};
  store_write_t w = {.op = STORE_OP_CREATE, .key = "/late", .value = "v", .len = 1};
  ASSERT_EQ_INT(store_write(s, &w, t_done_cb, &a), 0);
  store_close(s);
  ASSERT_TRUE(a.done);
  ASSERT_EQ_INT(a.err, 0);
  store_kv_unref(a.kv);
  s = t_open();
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/late", 0, &kv), 0);
  store_kv_unref(kv);
  store_close(s);
  t_teardown();
}

TEST_LIST = {
    TEST(test_create_get),
    TEST(test_update_cas),
    TEST(test_delete),
    TEST(test_errors),
    TEST(test_pending_cas),
    TEST(test_value_cb),
    TEST(test_get_at_revision),
    TEST(test_list_pagination),
    TEST(test_list_under_concurrent_writes),
    TEST(test_reopen),
    TEST(test_corrupt_database),
    TEST(test_corrupt_pages),
    TEST(test_schema_mismatch),
    TEST(test_unwritable),
    TEST(test_locked),
    TEST(test_ttl),
    TEST(test_group_commit),
    TEST(test_close_with_pending),
    {0},
};
TEST_MAIN()
