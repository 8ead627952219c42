/* bench/store: pkg/store throughput, list, watch latency and memory,
 * side by side with plain SQLite doing the same inserts with the same
 * settings (WAL, synchronous=FULL, exclusive lock, same schema and rows).
 *
 *   bench_store [dir]      (default: a new directory under /tmp)
 *
 * Figures and how to read them: docs/PERFORMANCE.md. */
#include <errno.h>
#include <ev.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static struct ev_loop *loop;
static char dir[256];
static char value1k[1024], value2k[2048];

static void die(const char *what, int r) {
  fprintf(stderr, "bench_store: %s: %d (%s)\n", what, r, strerror(r < 0 ? -r : r));
  exit(1);
}

static store_t *open_store(const char *name, size_t window) {
  static int runs;
  char path[512], err[512];
  if (strcmp(name, "mem.db") == 0)
    snprintf(path, sizeof(path), "%s/%s", dir, name);
  else
    snprintf(path, sizeof(path), "%s/%d-%s", dir, runs++, name);
  store_options_t o = {.path = path, .compact_interval_ms = -1, .watch_window = window};
  store_t *s = NULL;
  int r = store_open(loop, &o, &s, err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "bench_store: %s\n", err);
    exit(1);
  }
  return s;
}

/* ---- write throughput with N closed-loop writers ---- */

typedef struct {
  store_t *s;
  double end;
  long done;
  long next_key;
  int active;
} wbench_t;

static void write_one(wbench_t *b);

static void wdone(int err, const store_kv_t *kv, void *data) {
  wbench_t *b = data;
  if (err)
    die("write", err);
  b->done++;
  if (ev_now(loop) < b->end)
    write_one(b);
  else
    b->active--;
}

static void write_one(wbench_t *b) {
  char key[64];
  snprintf(key, sizeof(key), "/registry/bench/w/%08ld", b->next_key++);
  store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = value1k, .len = sizeof(value1k)};
  int r = store_write(b->s, &w, wdone, b);
  if (r)
    die("store_write", r);
}

static double bench_store_writes(int writers, double seconds) {
  char name[64];
  snprintf(name, sizeof(name), "w%d.db", writers);
  wbench_t b = {.s = open_store(name, 0)};
  ev_now_update(loop);
  double t0 = ev_time();
  b.end = t0 + seconds;
  for (int i = 0; i < writers; i++, b.active++)
    write_one(&b);
  ev_run(loop, 0);
  double rate = (double)b.done / (ev_time() - t0);
  store_close(b.s);
  return rate;
}

/* The same rows into the same schema, one thread, `per_txn` inserts per
 * transaction: what group commit of `per_txn` writers can at best become. */
static double bench_sqlite_writes(int per_txn, double seconds) {
  static int runs;
  char path[512];
  snprintf(path, sizeof(path), "%s/raw%d-%d.db", dir, per_txn, runs++);
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA auto_vacuum=INCREMENTAL;"
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                       "CREATE TABLE kv (rev INTEGER PRIMARY KEY, key TEXT NOT NULL,"
                       " create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL,"
                       " deleted INTEGER NOT NULL, lease INTEGER NOT NULL, value BLOB NOT NULL);",
                   NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO kv VALUES (?1, ?2, ?1, 0, 0, 0, ?3)", -1, &st, NULL) !=
          SQLITE_OK)
    die(sqlite3_errmsg(db), -EIO);
  long n = 0;
  double t0 = ev_time(), end = t0 + seconds;
  char key[64];
  while (ev_time() < end) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int i = 0; i < per_txn; i++, n++) {
      snprintf(key, sizeof(key), "/registry/bench/w/%08ld", n);
      sqlite3_bind_int64(st, 1, n + 2);
      sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
      sqlite3_bind_blob(st, 3, value1k, sizeof(value1k), SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE)
        die("insert", -EIO);
      sqlite3_reset(st);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
      die("commit", -EIO);
  }
  double rate = (double)n / (ev_time() - t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

/* ---- fill, list ---- */

static void fill_done(int err, const store_kv_t *kv, void *data) {
  if (err)
    die("fill", err);
}

static void fill(store_t *s, const char *prefix, int n, const char *value, size_t len) {
  char key[128];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof(key), "%s%06d", prefix, i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = value, .len = len};
    int r = store_write(s, &w, fill_done, NULL);
    if (r)
      die("store_write", r);
    if (i % 2000 == 1999)
      ev_run(loop, 0); /* keep the in-flight queue bounded */
  }
  ev_run(loop, 0);
}

static void bench_list(double *ret_full, double *ret_paged, double *ret_count) {
  store_t *s = open_store("list.db", 0);
  fill(s, "/registry/core/pods/default/pod-", 10000, value1k, sizeof(value1k));
  fill(s, "/registry/core/pods/other/pod-", 2000, value1k, sizeof(value1k));
  const int reps = 20;
  double t0 = ev_time();
  for (int i = 0; i < reps; i++) {
    store_list_t l;
    store_list_opts_t o = {.prefix = "/registry/core/pods/default/"};
    if (store_list(s, &o, &l) || l.n != 10000)
      die("list", -EIO);
    store_list_done(&l);
  }
  *ret_full = (ev_time() - t0) * 1000 / reps;
  t0 = ev_time();
  for (int i = 0; i < reps; i++) {
    char *tok = NULL;
    size_t total = 0;
    do {
      store_list_t l;
      store_list_opts_t o = {.prefix = "/registry/core/pods/default/", .limit = 500,
                             .continue_tok = tok};
      if (store_list(s, &o, &l))
        die("list page", -EIO);
      total += l.n;
      free(tok);
      tok = l.continue_tok;
      l.continue_tok = NULL;
      store_list_done(&l);
    } while (tok);
    if (total != 10000)
      die("paged total", -EIO);
  }
  *ret_paged = (ev_time() - t0) * 1000 / reps;
  t0 = ev_time();
  for (int i = 0; i < reps; i++)
    if (store_count(s, "/registry/core/pods/default/") != 10000)
      die("count", -EIO);
  *ret_count = (ev_time() - t0) * 1000 / reps;
  store_close(s);
}

/* ---- watch latency ---- */

enum { WATCHERS = 1000, WATCH_WRITES = 200 };
static int delivered;
static double t_submit, t_ack, t_last;
static double lat_ack[WATCH_WRITES], lat_submit[WATCH_WRITES];

static void wcb(store_watch_t *w, const store_event_t *ev, void *data) {
  if (++delivered == WATCHERS)
    t_last = ev_time();
}

static void ack_cb(int err, const store_kv_t *kv, void *data) {
  if (err)
    die("watch write", err);
  t_ack = ev_time();
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench_watch(double *ret_ack50, double *ret_ack99, double *ret_sub50,
                        double *ret_sub99) {
  store_t *s = open_store("watch.db", 0);
  static store_watch_t *ws[WATCHERS];
  for (int i = 0; i < WATCHERS; i++)
    if (store_watch_start(s, "/registry/core/pods/", 0, wcb, NULL, NULL, &ws[i]))
      die("watch", -EIO);
  char key[64];
  for (int i = 0; i < WATCH_WRITES; i++) {
    snprintf(key, sizeof(key), "/registry/core/pods/default/p%d", i);
    store_write_t w = {.op = STORE_OP_CREATE, .key = key, .value = value2k, .len = sizeof(value2k)};
    delivered = 0;
    t_submit = ev_time();
    if (store_write(s, &w, ack_cb, NULL))
      die("watch write", -EIO);
    ev_run(loop, 0); /* until acked and delivered to every watcher */
    if (delivered != WATCHERS)
      die("delivery", -EIO);
    lat_ack[i] = (t_last - t_ack) * 1000;
    lat_submit[i] = (t_last - t_submit) * 1000;
  }
  qsort(lat_ack, WATCH_WRITES, sizeof(double), cmp_double);
  qsort(lat_submit, WATCH_WRITES, sizeof(double), cmp_double);
  *ret_ack50 = lat_ack[WATCH_WRITES / 2];
  *ret_ack99 = lat_ack[WATCH_WRITES * 99 / 100];
  *ret_sub50 = lat_submit[WATCH_WRITES / 2];
  *ret_sub99 = lat_submit[WATCH_WRITES * 99 / 100];
  for (int i = 0; i < WATCHERS; i++)
    store_watch_stop(ws[i]);
  store_close(s);
}

/* ---- memory ---- */

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, rss = 0;
  if (!f || fscanf(f, "%ld %ld", &size, &rss) != 2)
    rss = 0;
  if (f)
    fclose(f);
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* RSS growth for 10,000 objects of 2 KiB in a fresh process (re-exec of
 * this program, so no heap is inherited): "write" fills an empty store (the
 * objects' events are also in the watch window), "load" opens the filled
 * database (the steady state after a restart). */
static int mem_child(const char *mode) {
  loop = ev_default_loop(0);
  long r0 = rss_kib();
  store_t *s = open_store("mem.db", 0);
  if (strcmp(mode, "write") == 0)
    fill(s, "/registry/core/configmaps/default/cm-", 10000, value2k, sizeof(value2k));
  long d = rss_kib() - r0;
  if (store_count(s, "/registry/core/configmaps/") != 10000)
    die("memory count", -EIO);
  store_close(s);
  printf("%ld\n", d);
  return 0;
}

static long run_mem_child(const char *self, const char *mode) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "'%s' --memory %s '%s'", self, mode, dir);
  FILE *p = popen(cmd, "r");
  long kib = -1;
  if (!p || fscanf(p, "%ld", &kib) != 1)
    die("memory child", -EIO);
  pclose(p);
  return kib;
}

static int cmp_rate(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  memset(value1k, 'x', sizeof(value1k));
  memset(value2k, 'y', sizeof(value2k));
  if (argc == 4 && strcmp(argv[1], "--memory") == 0) {
    snprintf(dir, sizeof(dir), "%s", argv[3]);
    return mem_child(argv[2]);
  }
  if (argc > 1) {
    snprintf(dir, sizeof(dir), "%s", argv[1]);
  } else {
    snprintf(dir, sizeof(dir), "/tmp/k3c-bench-store-XXXXXX");
    if (!mkdtemp(dir))
      die("mkdtemp", -errno);
  }
  loop = ev_default_loop(0);
  const double secs = 1;
  enum { REPS = 5 };
  printf("k3c store benchmark (SQLite %s, WAL, synchronous=FULL, db in %s)\n\n",
         sqlite3_libversion(), dir);
  printf("%-44s %12s %12s %8s\n", "writes/s, 1 KiB values", "store", "raw SQLite", "ratio");
  /* The disk's fsync time drifts (shared machine): alternate store and
   * raw runs and compare medians. */
  int writers[] = {1, 16, 64};
  for (int i = 0; i < 3; i++) {
    double st[REPS], raw[REPS];
    for (int r = 0; r < REPS; r++) {
      st[r] = bench_store_writes(writers[i], secs);
      raw[r] = bench_sqlite_writes(writers[i], secs);
    }
    qsort(st, REPS, sizeof(double), cmp_rate);
    qsort(raw, REPS, sizeof(double), cmp_rate);
    char label[64];
    snprintf(label, sizeof(label), "%d writer%s (raw: %d insert%s/txn)", writers[i],
             writers[i] > 1 ? "s" : "", writers[i], writers[i] > 1 ? "s" : "");
    printf("%-44s %12.0f %12.0f %8.2f\n", label, st[REPS / 2], raw[REPS / 2],
           st[REPS / 2] / raw[REPS / 2]);
    fflush(stdout);
  }
  printf("(median of %d alternating runs of %.0f s each)\n", REPS, secs);
  double full, paged, count;
  bench_list(&full, &paged, &count);
  printf("\nlist 10,000 keys of 1 KiB (of 12,000): %.2f ms in one page, %.2f ms in pages of 500,"
         " count %.2f ms\n", full, paged, count);
  double a50, a99, s50, s99;
  bench_watch(&a50, &a99, &s50, &s99);
  printf("watch, 1,000 watchers, %d writes of 2 KiB: last watcher served %.3f ms (p50) /"
         " %.3f ms (p99) after the commit;\n    %.3f ms (p50) / %.3f ms (p99) after store_write"
         " (includes the fsync)\n", WATCH_WRITES, a50, a99, s50, s99);
  long written = run_mem_child(argv[0], "write");
  long loaded = run_mem_child(argv[0], "load");
  printf("resident memory, 10,000 objects of 2 KiB: %.1f MiB loaded at start-up, %.1f MiB"
         " just written (with 10,000 watch events)\n", loaded / 1024., written / 1024.);
  if (argc <= 1) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd))
      fprintf(stderr, "could not remove %s\n", dir);
  }
  return 0;
}
