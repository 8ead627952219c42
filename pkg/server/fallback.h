/* A minimal request handler used until the Kubernetes API layer (pkg/api)
 * is wired in: /version (and /version/), /healthz, /livez, /readyz for
 * anyone; 401 for other paths without a client certificate; 404 otherwise.
 * Runs on the server loop. data is unused. */
#pragma once

#include "http/server.h"

void server_fallback_handle(http_req_t *req, void *data);
