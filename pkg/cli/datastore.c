/* `k3c datastore status|compact|defrag`: the datastore's sizes (live data
 * vs file vs WAL, as `etcdctl endpoint status` shows them) and manual
 * compaction and defragmentation.
 *
 * It opens the database file itself, so it works while the server is
 * stopped. The server holds an exclusive lock on the file while it runs;
 * then `status` shows the file and WAL sizes from the file system only and
 * `compact`/`defrag` refuse (a running server compacts every 5 minutes and
 * returns the space by itself, docs/STORE.md "Disk space"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "store/backend.h"
#include "util/alloc.h"

static const char usage_text[] =
    "Usage: k3c datastore status|compact|defrag [--data-dir DIR | --db FILE]\n"
    "\n"
    "  status   revision, rows kept, live bytes, free pages, file and WAL size\n"
    "  compact  delete all history before the current revision, return the freed\n"
    "           pages to the file system and truncate the WAL\n"
    "  defrag   rebuild the file without free pages (VACUUM)\n"
    "\n"
    "The server must be stopped for compact and defrag (it compacts by itself\n"
    "every 5 minutes); status then shows only the file sizes.\n"
    "\n"
    "Flags:\n"
    "  -d, --data-dir DIR  data directory (default $K3C_DATA_DIR or /var/lib/k3c)\n"
    "      --db FILE       the database file (default DIR/server/db/state.db)\n";

static void size_print(const char *label, int64_t n) {
  const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    printf("%-10s %lld B\n", label, (long long)n);
  else
    printf("%-10s %.1f %s (%lld bytes)\n", label, v, unit[u], (long long)n);
}

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int ignore_row(const store_backend_row_t *row, void *data) {
  (void)row;
  (void)data;
  return 0;
}

static int status_print(store_backend_t *b, const char *path, int64_t rev) {
  store_backend_stats_t st;
  if (store__sqlite_backend.stats(b, &st) < 0) {
    fprintf(stderr, "k3c datastore: %s: cannot read the database's sizes\n", path);
    return 1;
  }
  printf("%-10s %s\n", "database", path);
  printf("%-10s %lld (compacted at %lld)\n", "revision", (long long)rev,
         (long long)st.compact_rev);
  printf("%-10s %lld\n", "rows", (long long)st.rows);
  size_print("live", st.live_bytes);
  size_print("free", st.free_bytes);
  size_print("file", st.file_bytes);
  size_print("wal", st.wal_bytes);
  if (st.auto_vacuum != 2)
    printf("note: auto_vacuum is off; the file shrinks only with k3c datastore defrag\n");
  return 0;
}

int cli_datastore(int argc, char **argv) {
  const char *data_dir = getenv("K3C_DATA_DIR"), *db = NULL, *cmd = NULL;
  char *path = NULL, err[1024];
  store_backend_t *b = NULL;
  int64_t rev = 0, compact_rev = 0, start = 0;
  int rc = 2, r;

  if (!data_dir || !*data_dir)
    data_dir = "/var/lib/k3c";
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_text, stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--data-dir") || !strcmp(argv[i], "-d")) && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (!strncmp(argv[i], "--data-dir=", 11)) {
      data_dir = argv[i] + 11;
    } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
      db = argv[++i];
    } else if (!strncmp(argv[i], "--db=", 5)) {
      db = argv[i] + 5;
    } else if (!cmd && argv[i][0] != '-') {
      cmd = argv[i];
    } else {
      fprintf(stderr, "k3c datastore: unexpected argument \"%s\"\n%s", argv[i], usage_text);
      return 2;
    }
  }
  if (!cmd || (strcmp(cmd, "status") && strcmp(cmd, "compact") && strcmp(cmd, "defrag"))) {
    if (cmd)
      fprintf(stderr, "k3c datastore: unknown subcommand \"%s\"\n", cmd);
    fputs(usage_text, stderr);
    return 2;
  }
  path = db ? xstrdup(db) : xasprintf("%s/server/db/state.db", data_dir);
  struct stat st;
  if (stat(path, &st) < 0) {
    fprintf(stderr, "k3c datastore: no database at %s: %s\n", path, strerror(errno));
    rc = 1;
    goto out;
  }
  rc = 1;
  r = store__sqlite_backend.open(path, &b, err, sizeof(err));
  if (r == -EBUSY) {
    char *wal = xasprintf("%s-wal", path);
    if (!strcmp(cmd, "status")) {
      printf("%-10s %s (in use by a running server: live size not shown)\n", "database", path);
      size_print("file", file_size(path));
      size_print("wal", file_size(wal));
      rc = 0;
    } else {
      fprintf(stderr, "k3c datastore %s: %s is in use by a running k3c server; stop it first "
                      "(the server compacts and returns free space every 5 minutes by itself)\n",
              cmd, path);
    }
    free(wal);
    goto out;
  }
  if (r < 0) {
    fprintf(stderr, "k3c datastore: %s\n", err);
    goto out;
  }
  r = store__sqlite_backend.load(b, 0, ignore_row, NULL, &rev, &compact_rev, &start,
                                 err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "k3c datastore: %s\n", err);
    goto out;
  }
  if (!strcmp(cmd, "compact")) {
    while ((r = store__sqlite_backend.compact(b, rev)) > 0)
      ;
    if (r < 0) {
      fprintf(stderr, "k3c datastore compact: %s: compaction failed: %s\n", path, strerror(-r));
      goto out;
    }
    printf("compacted at revision %lld\n", (long long)rev);
  } else if (!strcmp(cmd, "defrag")) {
    if ((r = store__sqlite_backend.defrag(b, err, sizeof(err))) < 0) {
      fprintf(stderr, "k3c datastore defrag: %s\n", err);
      goto out;
    }
    printf("defragmented %s\n", path);
  }
  rc = status_print(b, path, rev);
out:
  store__sqlite_backend.close(b);
  free(path);
  return rc;
}
