/* The reference side of bench/stream.sh's exec latency: ExecSync of `true`
 * in one container straight over CRI (containerd starts it with runc exec),
 * with no API server, kubelet or relay in between.
 * Prints "cri_exec n=N p50_ms=... p90_ms=... failed=F".
 *
 *   cri_exec -s SOCKET -c CONTAINER_ID [-n N]
 *
 * Needs access to containerd's socket (root). */
#include <ev.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cri/cri.h"

typedef struct {
  bool done, ok;
} call_t;

static void exec_cb(void *data, const cri_status_t *st, const cri_exec_result_t *resp) {
  call_t *c = data;
  c->done = true;
  c->ok = st->code == CRI_OK && resp && resp->exit_code == 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *sock = NULL, *cid = NULL;
  int n = 30, opt;
  while ((opt = getopt(argc, argv, "s:c:n:")) != -1) {
    if (opt == 's')
      sock = optarg;
    else if (opt == 'c')
      cid = optarg;
    else if (opt == 'n')
      n = (int)strtol(optarg, NULL, 10);
  }
  if (!sock || !cid || n < 1 || n > 10000) {
    fprintf(stderr, "usage: cri_exec -s SOCKET -c CONTAINER_ID [-n N]\n");
    return 2;
  }
  struct ev_loop *loop = ev_default_loop(0);
  cri_client_t *cli = NULL;
  if (cri_client_new(loop, sock, &cli) < 0) {
    fprintf(stderr, "cri_exec: cannot use %s\n", sock);
    return 1;
  }
  static const char *const cmd[] = {"true"};
  double *ms = calloc((size_t)n, sizeof(*ms));
  int failed = 0;
  for (int i = 0; i <= n; i++) { /* the first call warms the connection */
    call_t c = {false, false};
    double t = ev_time();
    if (cri_exec_sync(cli, cid, (cri_strv_t){cmd, 1}, 10, exec_cb, &c) < 0) {
      failed++;
      continue;
    }
    while (!c.done)
      ev_run(loop, EVRUN_ONCE);
    if (!c.ok)
      failed++;
    if (i)
      ms[i - 1] = (ev_time() - t) * 1000;
  }
  qsort(ms, (size_t)n, sizeof(*ms), cmp);
  printf("cri_exec n=%d p50_ms=%.1f p90_ms=%.1f failed=%d\n", n, ms[n / 2], ms[n * 9 / 10],
         failed);
  free(ms);
  cri_client_free(cli);
  return failed ? 1 : 0;
}
