/* Crash test for pkg/store: a child process writes (creates, CAS updates,
 * deletes, up to 32 in flight so group commits hold many keys) and reports
 * every acknowledged write over a pipe; the parent SIGKILLs it at a random
 * moment, reopens the database and checks that every acknowledged write is
 * there with its exact revision and bytes, that revisions are dense and
 * monotonic across restarts, and that each key's row chain is intact (no
 * transaction applied in part). 25 rounds on one database. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers.h"

#define ROUNDS 25
#define KEYS 64
#define INFLIGHT 32

typedef struct {
  int64_t rev;
  int32_t key;
  int32_t deleted;
  uint64_t hash;
} ack_t;

static uint64_t fnv(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

/* ---- the child ---- */

static int ack_fd;
static store_t *cs;
static int64_t cur_rev[KEYS]; /* 0 = absent */
static bool busy[KEYS];
static int inflight;
static unsigned seed;
static uint64_t seq;

typedef struct {
  int key;
  bool deleted;
} job_t;

static void submit(void);

static void child_done(int err, const store_kv_t *kv, void *data) {
  job_t *j = data;
  if (err != 0)
    _exit(3); /* CAS cannot fail: one write per key in flight */
  ack_t a = {.rev = kv->mod_rev, .key = j->key, .deleted = j->deleted,
             .hash = fnv(kv->value, kv->len)};
  if (write(ack_fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
    _exit(4);
  cur_rev[j->key] = j->deleted ? 0 : kv->mod_rev;
  busy[j->key] = false;
  inflight--;
  free(j);
  submit();
}

static void submit(void) {
  static char value[2100];
  char key[32];
  while (inflight < INFLIGHT) {
    int k = rand_r(&seed) % KEYS;
    if (busy[k])
      return; /* try again on the next ack */
    snprintf(key, sizeof(key), "/crash/k%02d", k);
    size_t len = 10 + (size_t)(rand_r(&seed) % 2000);
    for (size_t i = 0; i < len; i++)
      value[i] = (char)('a' + (seq + i) % 26);
    int n = snprintf(value, 32, "%llu;", (unsigned long long)seq++);
    value[n] = ';';
    job_t *j = calloc(1, sizeof(*j));
    j->key = k;
    store_write_t w = {.key = key, .value = value, .len = len};
    int choice = rand_r(&seed) % 10;
    if (!cur_rev[k]) {
      w.op = STORE_OP_CREATE;
    } else if (choice < 2) {
      w.op = STORE_OP_DELETE;
      w.value = NULL;
      w.expected_mod_rev = cur_rev[k];
      j->deleted = true;
    } else {
      w.op = STORE_OP_UPDATE;
      w.expected_mod_rev = choice < 7 ? cur_rev[k] : 0;
    }
    if (store_write(cs, &w, child_done, j) != 0)
      _exit(5);
    busy[k] = true;
    inflight++;
  }
}

static void child_main(int fd, unsigned s) {
  ack_fd = fd;
  seed = s;
  seq = (uint64_t)s << 20;
  tloop = ev_loop_new(EVFLAG_AUTO);
  store_options_t o = {.path = tpath, .compact_interval_ms = -1};
  if (store_open(tloop, &o, &cs, terr, sizeof(terr)) != 0)
    _exit(2);
  char key[32];
  for (int k = 0; k < KEYS; k++) {
    store_kv_t *kv = NULL;
    snprintf(key, sizeof(key), "/crash/k%02d", k);
    cur_rev[k] = store_get(cs, key, 0, &kv) == 0 ? kv->mod_rev : 0;
    store_kv_unref(kv);
  }
  submit();
  ev_run(tloop, 0); /* runs until killed */
  _exit(6);
}

/* ---- the parent ---- */

static ack_t *acks;
static size_t nacks, cap_acks;

static void read_acks(int fd, double until) {
  ack_t a;
  for (;;) {
    int wait_ms = until > 0 ? (int)((until - ev_time()) * 1000) : -1;
    if (until > 0 && wait_ms <= 0)
      return;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) <= 0)
      continue;
    ssize_t n = read(fd, &a, sizeof(a));
    if (n == 0)
      return;
    if (n != (ssize_t)sizeof(a))
      TEST_FAIL("short read from the child: %zd", n);
    if (nacks == cap_acks) {
      cap_acks = cap_acks ? cap_acks * 2 : 1024;
      acks = realloc(acks, cap_acks * sizeof(*acks));
    }
    acks[nacks++] = a;
  }
}

static void verify_db(int64_t store_rev) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  ASSERT_EQ_INT(sqlite3_open_v2(tpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  /* dense revisions: every revision 2..max is one row (nothing compacted) */
  ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*), min(rev), max(rev) FROM kv", -1, &st,
                                   NULL), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  int64_t count = sqlite3_column_int64(st, 0), max = sqlite3_column_int64(st, 2);
  if (count) {
    ASSERT_EQ_INT(sqlite3_column_int64(st, 1), 2);
    ASSERT_EQ_INT(count, max - 1);
  }
  ASSERT_EQ_INT(max ? max : 1, store_rev);
  sqlite3_finalize(st);
  /* each key's chain is intact: prev_rev is the key's previous row (0
   * after a delete or for the first row) and create_rev is inherited */
  ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT key, rev, prev_rev, create_rev, deleted FROM kv"
                                   " ORDER BY key, rev", -1, &st, NULL), SQLITE_OK);
  char prev_key[64] = "";
  int64_t prev_rev = 0, prev_create = 0;
  bool prev_deleted = true;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    int64_t rev = sqlite3_column_int64(st, 1), pr = sqlite3_column_int64(st, 2);
    int64_t cr = sqlite3_column_int64(st, 3);
    bool same = strcmp(k, prev_key) == 0;
    bool live_before = same && !prev_deleted;
    if (pr != (live_before ? prev_rev : 0))
      TEST_FAIL("row %lld of %s: prev_rev %lld, previous row %lld", (long long)rev, k,
                (long long)pr, (long long)prev_rev);
    ASSERT_EQ_INT(cr, live_before ? prev_create : rev);
    snprintf(prev_key, sizeof(prev_key), "%s", k);
    prev_rev = rev;
    prev_create = cr;
    prev_deleted = sqlite3_column_int(st, 4) != 0;
  }
  sqlite3_finalize(st);
  /* every acknowledged write, exactly */
  ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT key, deleted, value FROM kv WHERE rev = ?", -1,
                                   &st, NULL), SQLITE_OK);
  char key[32];
  for (size_t i = 0; i < nacks; i++) {
    sqlite3_bind_int64(st, 1, acks[i].rev);
    if (sqlite3_step(st) != SQLITE_ROW)
      TEST_FAIL("acknowledged revision %lld is missing", (long long)acks[i].rev);
    snprintf(key, sizeof(key), "/crash/k%02d", acks[i].key);
    ASSERT_EQ_STR((const char *)sqlite3_column_text(st, 0), key);
    ASSERT_EQ_INT(sqlite3_column_int(st, 1), acks[i].deleted);
    uint64_t h = fnv(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
    if (h != acks[i].hash)
      TEST_FAIL("revision %lld has other bytes than acknowledged", (long long)acks[i].rev);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void test_crash_rounds(void) {
  t_setup();
  unsigned rng = (unsigned)time(NULL);
  printf("# seed %u\n", rng);
  int64_t last_rev = 1;
  size_t total_prev = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int fds[2];
    ASSERT_EQ_INT(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child_main(fds[1], rng + (unsigned)round);
    }
    close(fds[1]);
    double delay = 0.02 + (double)(rand_r(&rng) % 200) / 1000.;
    read_acks(fds[0], ev_time() + delay);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    read_acks(fds[0], 0); /* whatever it wrote before dying */
    close(fds[0]);
    if (!WIFSIGNALED(status))
      TEST_FAIL("round %d: child exited with %d before the kill", round, WEXITSTATUS(status));

    /* recover in the parent */
    store_t *s = t_open();
    int64_t rev = store_revision(s);
    int64_t max_ack = 0;
    for (size_t i = 0; i < nacks; i++)
      if (acks[i].rev > max_ack)
        max_ack = acks[i].rev;
    ASSERT_GE_INT(rev, max_ack);
    ASSERT_GE_INT(rev, last_rev); /* monotonic across restarts */
    last_rev = rev;
    /* the recovered state agrees with the last acknowledged write of each
     * key unless a later (committed, unacknowledged) write replaced it */
    int64_t last_of[KEYS] = {0};
    size_t last_idx[KEYS] = {0};
    for (size_t i = 0; i < nacks; i++)
      if (acks[i].rev > last_of[acks[i].key]) {
        last_of[acks[i].key] = acks[i].rev;
        last_idx[acks[i].key] = i;
      }
    char key[32];
    for (int k = 0; k < KEYS; k++) {
      if (!last_of[k])
        continue;
      const ack_t *a = &acks[last_idx[k]];
      store_kv_t *kv = NULL;
      snprintf(key, sizeof(key), "/crash/k%02d", k);
      int r = store_get(s, key, 0, &kv);
      if (r == 0) {
        ASSERT_GE_INT(kv->mod_rev, a->rev);
        if (kv->mod_rev == a->rev)
          ASSERT_TRUE(!a->deleted && fnv(kv->value, kv->len) == a->hash);
        store_kv_unref(kv);
      } else {
        ASSERT_EQ_INT(r, -ENOENT);
        ASSERT_TRUE(a->deleted || rev > a->rev);
      }
    }
    /* writing continues right after the recovered revision */
    if (round == ROUNDS - 1)
      ASSERT_EQ_INT(t_put(s, "/crash/after", "x"), rev + 1);
    store_close(s);
    verify_db(round == ROUNDS - 1 ? rev + 1 : rev);
    printf("# round %d: killed after %.0f ms, %zu writes acknowledged, revision %lld\n", round,
           delay * 1000, nacks - total_prev, (long long)rev);
    total_prev = nacks;
  }
  ASSERT_TRUE(nacks > 0);
  free(acks);
  t_teardown();
}

/* ---- torn WAL and truncated database (#18) ---- */

#define TORN_KEYS 50

static void torn_value(char *buf, size_t len, int i) {
  snprintf(buf, len, "value-%d-%0400d", i, i);
}

/* A child writes TORN_KEYS keys, each acknowledged, says so, and is
 * SIGKILLed: the WAL holds every commit, nothing is checkpointed. */
static void write_and_die(void) {
  int fds[2];
  ASSERT_EQ_INT(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    tloop = ev_loop_new(EVFLAG_AUTO);
    store_t *s = t_open();
    char key[32], val[512];
    for (int i = 0; i < TORN_KEYS; i++) {
      snprintf(key, sizeof(key), "/t/%02d", i);
      torn_value(val, sizeof(val), i);
      t_put(s, key, val);
    }
    char c = 'k';
    if (write(fds[1], &c, 1) != 1)
      _exit(3);
    pause();
    _exit(0);
  }
  close(fds[1]);
  char c = 0;
  struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
  ASSERT_TRUE(poll(&pfd, 1, 60000) == 1);
  ASSERT_EQ_INT(read(fds[0], &c, 1), 1);
  close(fds[0]);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

static void check_torn_keys(store_t *s) {
  char key[32], val[512];
  for (int i = 0; i < TORN_KEYS; i++) {
    snprintf(key, sizeof(key), "/t/%02d", i);
    torn_value(val, sizeof(val), i);
    store_kv_t *kv = NULL;
    ASSERT_EQ_INT(store_get(s, key, 0, &kv), 0);
    ASSERT_EQ_STR(kv->value, val);
    store_kv_unref(kv);
  }
  ASSERT_EQ_INT(store_revision(s), TORN_KEYS + 1);
}

/* Power lost while the next transaction was being written: its frames are
 * at the end of the WAL, torn (half a frame) or with a bad checksum.
 * Recovery stops at the last intact commit: every acknowledged write is
 * there, the torn one is not, and writing goes on. */
static void test_torn_wal(void) {
  for (int variant = 0; variant < 2; variant++) {
    t_setup();
    write_and_die();
    char wal[400];
    snprintf(wal, sizeof(wal), "%s-wal", tpath);
    FILE *f = fopen(wal, "r+b");
    ASSERT_TRUE(f != NULL);
    unsigned char hdr[32], fh[24];
    ASSERT_EQ_INT(fread(hdr, 1, 32, f), 32);
    size_t page = ((size_t)hdr[8] << 24) | ((size_t)hdr[9] << 16) | ((size_t)hdr[10] << 8) | hdr[11];
    ASSERT_TRUE(page >= 512 && page <= 65536);
    ASSERT_EQ_INT(fseek(f, -(long)(24 + page), SEEK_END), 0);
    ASSERT_EQ_INT(fread(fh, 1, 24, f), 24); /* the last frame's header: right salts */
    unsigned char *body = malloc(page);
    for (size_t i = 0; i < page; i++)
      body[i] = (unsigned char)(i * 131 + 7);
    fh[7] = (unsigned char)(fh[7] + 1); /* a commit frame for one more page */
    ASSERT_EQ_INT(fseek(f, 0, SEEK_END), 0);
    ASSERT_EQ_INT(fwrite(fh, 1, 24, f), 24);
    ASSERT_EQ_INT(fwrite(body, 1, variant == 0 ? page / 2 : page, f), variant == 0 ? page / 2 : page);
    free(body);
    fclose(f);

    store_t *s = t_open();
    check_torn_keys(s);
    ASSERT_TRUE(t_put(s, "/t/after", "x") == TORN_KEYS + 2);
    store_close(s);
    s = t_open();
    store_kv_t *kv = NULL;
    ASSERT_EQ_INT(store_get(s, "/t/after", 0, &kv), 0);
    store_kv_unref(kv);
    store_close(s);
    t_teardown();
  }
}

/* A database file cut short (a lost write-back, a bad copy): the store
 * refuses to start with "corrupt ... restore it from a backup" and leaves
 * the file as it is, instead of starting without the lost rows. */
static void test_truncated_database(void) {
  static const long cuts[] = {2, 3};
  for (int c = 0; c < 2; c++) {
    t_setup();
    store_t *s = t_open();
    char key[32], val[1100];
    memset(val, 'v', 1024);
    val[1024] = 0;
    for (int i = 0; i < 300; i++) {
      snprintf(key, sizeof(key), "/big/%03d", i);
      t_put(s, key, val);
    }
    store_close(s); /* clean: the WAL is checkpointed into the file */
    FILE *f = fopen(tpath, "r+b");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    fclose(f);
    ASSERT_TRUE(size > 64 * 1024);
    long cut = c == 0 ? (size / cuts[c]) / 4096 * 4096 : size - size / cuts[c] - 100;
    ASSERT_EQ_INT(truncate(tpath, cut), 0);
    s = NULL;
    int r = store_open(tloop, &(store_options_t){.path = tpath, .compact_interval_ms = -1}, &s,
                       terr, sizeof(terr));
    ASSERT_EQ_INT(r, -EIO);
    ASSERT_CONTAINS(terr, "is corrupt");
    ASSERT_CONTAINS(terr, "restore it from a backup");
    ASSERT_CONTAINS(terr, tpath);
    printf("# cut to %ld of %ld bytes: %s\n", cut, size, terr);
    f = fopen(tpath, "rb");
    ASSERT_EQ_INT(fseek(f, 0, SEEK_END), 0);
    ASSERT_EQ_INT(ftell(f), cut); /* left as it was */
    fclose(f);
    t_teardown();
  }
}

TEST_LIST = {
    TEST(test_crash_rounds),
    TEST(test_torn_wal),
    TEST(test_truncated_database),
    {0},
};
TEST_MAIN()
