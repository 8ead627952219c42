/* `k3c server`: the control plane process. */
#pragma once

#include "config/config.h"

/* Run the server until SIGTERM or SIGINT. Logs its own errors. Returns the
 * process exit status. Call from the main thread only. */
int server_run(const k3c_config_t *cfg);
