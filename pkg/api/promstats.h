/* The API server's /metrics (promstats.c): request counters, latency
 * histograms, in-flight and long-running gauges, watchers and storage
 * sizes in the Prometheus text format, named as upstream's apiserver names
 * them. Loop thread only. */
#pragma once

#include <stdbool.h>

#include "api/reqinfo.h"
#include "http/server.h"

typedef struct api_promstats api_promstats_t;
struct api_server;

api_promstats_t *api__promstats_new(void);
void api__promstats_free(api_promstats_t *p); /* accepts NULL */
/* GET /metrics (an api_route_cb; data is the api_server_t). */
bool api__promstats_serve(http_req_t *req, const char *path, void *data);
