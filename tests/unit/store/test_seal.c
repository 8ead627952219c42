/* Tests for pkg/store/seal.c (AES-GCM envelopes) and the store's use of a
 * keyring: values of covered keys are sealed in the SQLite file and open
 * at load; reseal moves every row to the write key, after which the old key
 * can leave the keyring. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <sys/stat.h>

#include "helpers.h"
#include "store/seal.h"

static const unsigned char KEY_A[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char KEY_B[32] = "fedcba9876543210fedcba9876543210";

static store_keyring_t *ring(const char *write, bool with_a, bool with_b) {
  store_keyring_t *kr = store_keyring_new();
  if (with_a)
    ASSERT_EQ_INT(store_keyring_add(kr, "ka", KEY_A, 32), 0);
  if (with_b)
    ASSERT_EQ_INT(store_keyring_add(kr, "kb", KEY_B, 16), 0);
  ASSERT_EQ_INT(store_keyring_add_prefix(kr, "/registry/core/secrets/"), 0);
  ASSERT_EQ_INT(store_keyring_set_write(kr, write), 0);
  return kr;
}

static void test_envelope(void) {
  store_keyring_t *kr = ring("ka", true, false);
  const char *key = "/registry/core/secrets/default/s", *v = "{\"data\":{\"p\":\"c2VjcmV0\"}}";
  char *env = NULL, *env2 = NULL, *plain = NULL;
  size_t elen = 0, elen2 = 0, plen = 0;
  ASSERT_EQ_INT(store_keyring_seal(kr, key, v, strlen(v), &env, &elen), 0);
  ASSERT_NOT_NULL(env);
  const char *prefix = "k8s:enc:aesgcm:v1:ka:";
  ASSERT_TRUE(!memcmp(env, prefix, strlen(prefix)));
  ASSERT_EQ_INT(elen, strlen(prefix) + 12 + strlen(v) + 16); /* nonce || ct || tag */
  ASSERT_TRUE(memmem(env, elen, "c2VjcmV0", 8) == NULL);
  /* a random nonce per write: the same value seals differently */
  ASSERT_EQ_INT(store_keyring_seal(kr, key, v, strlen(v), &env2, &elen2), 0);
  ASSERT_TRUE(memcmp(env + strlen(prefix), env2 + strlen(prefix), 12) != 0);
  bool current = false;
  ASSERT_EQ_INT(store_keyring_open(kr, key, env, elen, &plain, &plen, &current), 0);
  ASSERT_EQ_STR(plain, v);
  ASSERT_EQ_INT(plen, strlen(v));
  ASSERT_TRUE(current);
  free(plain);
  /* the store key is authenticated: moved to another key it does not open */
  ASSERT_EQ_INT(store_keyring_open(kr, "/registry/core/secrets/default/t", env, elen, &plain,
                                   &plen, NULL), -EBADMSG);
  /* a flipped ciphertext byte does not open */
  env[elen - 20] ^= 1;
  ASSERT_EQ_INT(store_keyring_open(kr, key, env, elen, &plain, &plen, NULL), -EBADMSG);
  env[elen - 20] ^= 1;
  /* truncated: too short for nonce and tag */
  ASSERT_EQ_INT(store_keyring_open(kr, key, env, strlen(prefix) + 20, &plain, &plen, NULL), -EINVAL);
  /* a keyring without ka cannot open it, and says so */
  store_keyring_t *other = ring("kb", false, true);
  ASSERT_EQ_INT(store_keyring_open(other, key, env, elen, &plain, &plen, NULL), -ENOKEY);
  char name[80];
  store_keyring_envelope_name(env, elen, name, sizeof(name));
  ASSERT_EQ_STR(name, "ka");
  /* other providers are not k3c's */
  const char *cbc = "k8s:enc:aescbc:v1:key1:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  ASSERT_EQ_INT(store_keyring_open(kr, key, cbc, strlen(cbc), &plain, &plen, NULL), -ENOKEY);
  free(env);
  free(env2);
  store_keyring_unref(other);
  store_keyring_unref(kr);
}

static void test_plaintext_and_scope(void) {
  store_keyring_t *kr = ring("ka", true, false);
  char *out = NULL;
  size_t n = 0;
  bool current = true;
  /* keys outside the prefixes are left alone */
  ASSERT_EQ_INT(store_keyring_seal(kr, "/registry/core/configmaps/default/c", "{}", 2, &out, &n), 0);
  ASSERT_NULL(out);
  ASSERT_FALSE(store_keyring_covers(kr, "/registry/core/configmaps/default/c"));
  /* plaintext reads as it is, but is not current while a key writes */
  ASSERT_EQ_INT(store_keyring_open(kr, "/registry/core/secrets/a/b", "{}", 2, &out, &n, &current), 0);
  ASSERT_NULL(out);
  ASSERT_FALSE(current);
  store_keyring_t *plain = ring(NULL, true, false); /* disabled: identity first */
  ASSERT_NULL(store_keyring_write_key(plain));
  ASSERT_EQ_INT(store_keyring_seal(plain, "/registry/core/secrets/a/b", "{}", 2, &out, &n), 0);
  ASSERT_NULL(out);
  ASSERT_EQ_INT(store_keyring_open(plain, "/registry/core/secrets/a/b", "{}", 2, &out, &n, &current), 0);
  ASSERT_TRUE(current);
  /* building errors */
  ASSERT_EQ_INT(store_keyring_add(plain, "ka", KEY_B, 32), -EEXIST);
  ASSERT_EQ_INT(store_keyring_add(plain, "bad name", KEY_B, 32), -EINVAL);
  ASSERT_EQ_INT(store_keyring_add(plain, "short", KEY_B, 20), -EINVAL);
  ASSERT_EQ_INT(store_keyring_set_write(plain, "nope"), -ENOENT);
  store_keyring_unref(plain);
  store_keyring_unref(kr);
}

static bool file_has(const char *needle) {
  bool found = false;
  for (int i = 0; i < 2 && !found; i++) {
    char p[400];
    snprintf(p, sizeof(p), "%s%s", tpath, i ? "-wal" : "");
    FILE *f = fopen(p, "rb");
    if (!f)
      continue;
    static char buf[1 << 24];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    found = memmem(buf, n, needle, strlen(needle)) != NULL;
  }
  return found;
}

static volatile bool resealed;
static int reseal_err;
static void reseal_cb(int err, void *data) {
  (void)data;
  reseal_err = err;
  resealed = true;
}

static void test_store_seal_and_reseal(void) {
  t_setup();
  store_keyring_t *a = ring("ka", true, false);
  store_options_t o = {.path = tpath, .compact_interval_ms = -1, .keyring = a};
  store_t *s = t_open_opts(&o);
  t_put(s, "/registry/core/secrets/ns/one", "{\"v\":\"SECRET-ONE-v1\"}");
  t_put(s, "/registry/core/secrets/ns/one", "{\"v\":\"SECRET-ONE-v2\"}");
  t_put(s, "/registry/core/configmaps/ns/c", "{\"v\":\"CM-VISIBLE\"}");
  ASSERT_FALSE(file_has("SECRET-ONE"));
  ASSERT_TRUE(file_has("CM-VISIBLE"));
  ASSERT_TRUE(file_has("k8s:enc:aesgcm:v1:ka:"));
  store_kv_t *kv = NULL;
  ASSERT_EQ_INT(store_get(s, "/registry/core/secrets/ns/one", 0, &kv), 0);
  ASSERT_EQ_STR(kv->value, "{\"v\":\"SECRET-ONE-v2\"}"); /* memory holds plaintext */
  store_kv_unref(kv);

  /* rotation: kb writes, ka still reads; reseal moves every row (history too) */
  store_keyring_t *ab = ring("kb", true, true);
  store_keyring_use(s, ab);
  t_put(s, "/registry/core/secrets/ns/two", "{\"v\":\"SECRET-TWO\"}");
  resealed = false;
  ASSERT_EQ_INT(store_reseal(s, "/registry/core/secrets/", reseal_cb, NULL), 0);
  ASSERT_EQ_INT(store_reseal(s, "/registry/core/secrets/", reseal_cb, NULL), -EBUSY);
  t_run_until(&resealed, 10);
  ASSERT_EQ_INT(reseal_err, 0);
  store_reseal_progress_t p;
  store_reseal_progress(s, &p);
  ASSERT_FALSE(p.running);
  ASSERT_EQ_INT(p.total, 3);    /* two revisions of one, one of two */
  ASSERT_EQ_INT(p.examined, 3);
  ASSERT_EQ_INT(p.rewritten, 2); /* two was written with kb already */
  store_close(s);
  ASSERT_FALSE(file_has("k8s:enc:aesgcm:v1:ka:"));
  ASSERT_TRUE(file_has("k8s:enc:aesgcm:v1:kb:"));

  /* ka can go: everything opens with kb alone, history included */
  store_keyring_t *b = ring("kb", false, true);
  o.keyring = b;
  s = t_open_opts(&o);
  ASSERT_EQ_INT(store_get(s, "/registry/core/secrets/ns/one", 0, &kv), 0);
  ASSERT_EQ_STR(kv->value, "{\"v\":\"SECRET-ONE-v2\"}");
  int64_t rev = kv->mod_rev;
  store_kv_unref(kv);
  ASSERT_EQ_INT(store_get(s, "/registry/core/secrets/ns/one", rev - 1, &kv), 0);
  ASSERT_EQ_STR(kv->value, "{\"v\":\"SECRET-ONE-v1\"}");
  store_kv_unref(kv);

  /* disable: plaintext writes; reseal writes every row back in plaintext */
  store_keyring_t *off = ring(NULL, false, true);
  store_keyring_use(s, off);
  resealed = false;
  ASSERT_EQ_INT(store_reseal(s, "/registry/core/secrets/", reseal_cb, NULL), 0);
  t_run_until(&resealed, 10);
  ASSERT_EQ_INT(reseal_err, 0);
  store_close(s);
  ASSERT_TRUE(file_has("SECRET-ONE-v1"));
  ASSERT_TRUE(file_has("SECRET-TWO"));
  ASSERT_FALSE(file_has("k8s:enc:"));

  /* a sealed value without its key fails the open, naming the key */
  o.keyring = a;
  s = t_open_opts(&o);
  t_put(s, "/registry/core/secrets/ns/three", "{}");
  store_close(s);
  o.keyring = b;
  s = NULL;
  ASSERT_EQ_INT(store_open(tloop, &o, &s, terr, sizeof(terr)), -ENOKEY);
  ASSERT_CONTAINS(terr, "encrypted with key \"ka\"");
  o.keyring = NULL;
  ASSERT_EQ_INT(store_open(tloop, &o, &s, terr, sizeof(terr)), -ENOKEY);
  store_keyring_unref(a);
  store_keyring_unref(ab);
  store_keyring_unref(b);
  store_keyring_unref(off);
  t_teardown();
}

/* A reencrypt killed half-way: every row is in the old or the new key's
 * form, the store opens with both keys, and a second reseal finishes. */
#define CRASH_ROWS 20000
static int pending_writes;
static void count_cb(int err, const store_kv_t *kv, void *data) {
  (void)kv;
  (void)data;
  if (err == 0)
    pending_writes--;
}

static void test_reseal_killed(void) {
  t_setup();
  store_keyring_t *a = ring("ka", true, false), *ab = ring("kb", true, true);
  store_options_t o = {.path = tpath, .compact_interval_ms = -1, .keyring = a};
  store_t *s = t_open_opts(&o);
  char key[128], val[256];
  pending_writes = CRASH_ROWS;
  for (int i = 0; i < CRASH_ROWS; i++) {
    snprintf(key, sizeof(key), "/registry/core/secrets/ns/s%05d", i);
    snprintf(val, sizeof(val), "{\"v\":\"value-%05d\"}", i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = val, .len = strlen(val)};
    ASSERT_EQ_INT(store_write(s, &w, count_cb, NULL), 0);
  }
  double end = ev_time() + 60;
  while (pending_writes > 0 && ev_time() < end)
    ev_run(tloop, EVRUN_ONCE);
  ASSERT_EQ_INT(pending_writes, 0);
  store_close(s);

  int fds[2];
  ASSERT_EQ_INT(pipe(fds), 0);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    store_options_t co = {.path = tpath, .compact_interval_ms = -1, .keyring = ab};
    store_t *cs = NULL;
    char err[512];
    if (store_open(loop, &co, &cs, err, sizeof(err)) < 0 ||
        store_reseal(cs, "/registry/core/secrets/", NULL, NULL) < 0)
      _exit(2);
    for (;;) {
      ev_run(loop, EVRUN_NOWAIT);
      store_reseal_progress_t p;
      store_reseal_progress(cs, &p);
      if (p.examined >= 2 * 500) { /* two slices committed: tell, and wait for the kill */
        if (write(fds[1], "x", 1) != 1)
          _exit(3);
        for (;;)
          ev_run(loop, EVRUN_NOWAIT);
      }
      if (!p.running && p.examined)
        _exit(4); /* finished before it could be killed */
      usleep(100);
    }
  }
  close(fds[1]);
  char c = 0;
  ssize_t got = read(fds[0], &c, 1);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_EQ_INT(got, 1);
  ASSERT_TRUE(file_has("k8s:enc:aesgcm:v1:ka:")); /* half-done: both forms on disk */
  ASSERT_TRUE(file_has("k8s:enc:aesgcm:v1:kb:"));

  o.keyring = ab;
  s = t_open_opts(&o); /* every row opens */
  store_kv_t *kv = NULL;
  for (int i = 0; i < CRASH_ROWS; i += 997) {
    snprintf(key, sizeof(key), "/registry/core/secrets/ns/s%05d", i);
    snprintf(val, sizeof(val), "{\"v\":\"value-%05d\"}", i);
    ASSERT_EQ_INT(store_get(s, key, 0, &kv), 0);
    ASSERT_EQ_STR(kv->value, val);
    store_kv_unref(kv);
  }
  resealed = false;
  ASSERT_EQ_INT(store_reseal(s, "/registry/core/secrets/", reseal_cb, NULL), 0);
  t_run_until(&resealed, 60);
  ASSERT_EQ_INT(reseal_err, 0);
  store_reseal_progress_t p;
  store_reseal_progress(s, &p);
  ASSERT_TRUE(p.rewritten > 0 && p.rewritten < CRASH_ROWS); /* only what was left */
  store_close(s);
  ASSERT_FALSE(file_has("k8s:enc:aesgcm:v1:ka:"));
  store_keyring_unref(a);
  store_keyring_unref(ab);
  t_teardown();
}

TEST_LIST = {
    TEST(test_envelope),
    TEST(test_plaintext_and_scope),
    TEST(test_store_seal_and_reseal),
    TEST(test_reseal_killed),
    {0},
};
TEST_MAIN()
