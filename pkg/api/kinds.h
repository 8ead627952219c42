/* Per-kind hooks (defaults, validation, Table cells, allocations) of the
 * built-in kinds; the table that joins them to registry rows is kinds.c.
 * Loop thread only where a hook takes the api_server_t. */
#pragma once

#include "api/internal.h"

extern const api_hooks_t api_kind_pod;
extern const api_hooks_t api_kind_service;
extern const api_hooks_t api_kind_workload;      /* apps and batch kinds */
extern const api_hooks_t api_kind_workload_core; /* ReplicationController */

/* Helpers shared by the kind files. */
void api__cause(api_status_t *st, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "Required value" / "Invalid value: <msg>" causes. */
void api__cause_required(api_status_t *st, const char *field);
void api__cause_invalid(api_status_t *st, const char *field, const char *msg);
cJSON *api__cell_count(const cJSON *obj, const char *a, const char *b);
