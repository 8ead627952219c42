/* The server process: prepares the data dir, then runs the control plane
 * components on one libev loop until a termination signal. */
#include "server/server.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/log.h"

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
  log_info("server", "received signal %d, shutting down", w->signum);
  ev_break(loop, EVBREAK_ALL);
}

int server_run(const k3c_config_t *cfg) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/server", cfg->data_dir);
  int r = fs_mkdir_p(path, 0700);
  if (r < 0) {
    log_error("server", "cannot create data dir %s: %s", path, strerror(-r));
    return 1;
  }
  struct ev_loop *loop = EV_DEFAULT;
  ev_signal sigterm, sigint;
  ev_signal_init(&sigterm, on_signal, SIGTERM);
  ev_signal_init(&sigint, on_signal, SIGINT);
  ev_signal_start(loop, &sigterm);
  ev_signal_start(loop, &sigint);
  signal(SIGPIPE, SIG_IGN);
  log_info("server", "k3c server starting, data dir %s", cfg->data_dir);
  ev_run(loop, 0);
  ev_signal_stop(loop, &sigterm);
  ev_signal_stop(loop, &sigint);
  return 0;
}
