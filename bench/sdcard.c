/* bench/sdcard: the SD-card workload of issue #18 on pkg/store: KEYS
 * creates, then UPDATES updates of those keys (1 KiB values, INFLIGHT
 * writes in flight), then compaction; then a steady phase of updates with
 * a compaction every STEADY/4 updates. Prints file and WAL size (before
 * and after compaction, and the largest seen), live bytes, bytes written
 * per update (/proc/self/io write_bytes) and memory, one "k3c <name>
 * <value>" line each, for scripts/bench-store.sh to put next to etcd.
 *
 *   bench_sdcard DIR [UPDATES [INFLIGHT]]     (defaults 100000, 8) */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/backend.h"
#include "store/store.h"

#define KEYS 1000

static struct ev_loop *loop;
static store_t *st;
static char path[512], wal[520];
static char value[1024];
static long updates, inflight_max, submitted, completed, target;
static int inflight;
static long long wal_max, total_max;

static long long fsize(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 ? (long long)s.st_size : 0;
}

static long long proc_field(const char *file, const char *name) {
  char line[256];
  long long v = -1;
  FILE *f = fopen(file, "r");
  if (!f)
    return -1;
  size_t n = strlen(name);
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, name, n)) {
      v = strtoll(line + n, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

static long long write_bytes(void) { return proc_field("/proc/self/io", "write_bytes:"); }

static void sample(void) {
  long long w = fsize(wal), t = fsize(path) + w;
  if (w > wal_max)
    wal_max = w;
  if (t > total_max)
    total_max = t;
}

static void submit(void);

static void done(int err, const store_kv_t *kv, void *data) {
  (void)kv;
  (void)data;
  if (err) {
    fprintf(stderr, "bench_sdcard: write failed: %s\n", strerror(-err));
    exit(1);
  }
  inflight--;
  if (++completed % 1000 == 0)
    sample();
  submit();
}

static void submit(void) {
  while (inflight < inflight_max && submitted < target) {
    char key[64];
    long i = submitted++;
    snprintf(key, sizeof(key), "/registry/leases/kube-node-lease/node-%04ld", i % KEYS);
    memcpy(value, &i, sizeof(i)); /* every update differs */
    store_write_t w = {.op = i < KEYS ? STORE_OP_CREATE : STORE_OP_UPDATE, .key = key,
                       .value = value, .len = sizeof(value)};
    int r = store_write(st, &w, done, NULL);
    if (r < 0) {
      fprintf(stderr, "bench_sdcard: submit: %s\n", strerror(-r));
      exit(1);
    }
    inflight++;
  }
}

static void run_to(long n) {
  target = n;
  submit();
  while (completed < target)
    ev_run(loop, EVRUN_ONCE);
}

static void compact(void) {
  store_compact(st, store_revision(st));
  while (store_compacting(st)) {
    ev_run(loop, EVRUN_NOWAIT);
    sample();
    usleep(1000);
  }
}

static void sizes(const char *when) {
  printf("k3c file_%s %lld\nk3c wal_%s %lld\n", when, fsize(path), when, fsize(wal));
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_sdcard DIR [UPDATES [INFLIGHT]]\n");
    return 2;
  }
  updates = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
  inflight_max = argc > 3 ? strtol(argv[3], NULL, 10) : 8;
  snprintf(path, sizeof(path), "%s/state.db", argv[1]);
  snprintf(wal, sizeof(wal), "%s-wal", path);
  memset(value, 'x', sizeof(value));
  loop = ev_default_loop(0);
  char err[512];
  store_options_t o = {.path = path, .compact_interval_ms = -1};
  if (store_open(loop, &o, &st, err, sizeof(err)) < 0) {
    fprintf(stderr, "bench_sdcard: %s\n", err);
    return 1;
  }
  run_to(KEYS);
  long long w0 = write_bytes();
  double t0 = ev_time();
  run_to(KEYS + updates);
  double t1 = ev_time();
  long long w1 = write_bytes();
  printf("k3c updates %ld\nk3c updates_per_s %.0f\n", updates, updates / (t1 - t0));
  printf("k3c write_bytes_per_update %.0f\n", (double)(w1 - w0) / updates);
  sizes("before");
  printf("k3c wal_max_updates %lld\n", wal_max);
  double c0 = ev_time();
  compact();
  printf("k3c compact_s %.2f\n", ev_time() - c0);
  sizes("after");
  /* Steady state: updates continue, compaction every quarter. */
  long steady = updates / 5 > 4000 ? updates / 5 : 4000;
  wal_max = total_max = 0;
  long long after_max = 0;
  for (int q = 1; q <= 4; q++) {
    run_to(KEYS + updates + steady * q / 4);
    compact();
    long long t = fsize(path) + fsize(wal);
    if (t > after_max)
      after_max = t;
  }
  printf("k3c steady_updates %ld\nk3c steady_total_max %lld\nk3c steady_total_after_compact_max %lld\n"
         "k3c steady_wal_max %lld\n", steady, total_max, after_max, wal_max);
  printf("k3c rss_kib %lld\nk3c rss_peak_kib %lld\n", proc_field("/proc/self/status", "VmRSS:"),
         proc_field("/proc/self/status", "VmHWM:"));
  store_close(st);
  /* Live pages, read with the store closed. */
  store_backend_t *b = NULL;
  store_backend_stats_t s;
  if (store__sqlite_backend.open(path, &b, err, sizeof(err)) == 0 &&
      store__sqlite_backend.stats(b, &s) == 0)
    printf("k3c live_bytes %lld\nk3c rows %lld\n", (long long)s.live_bytes, (long long)s.rows);
  store__sqlite_backend.close(b);
  return 0;
}
