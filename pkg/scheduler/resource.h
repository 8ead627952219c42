/* pkg/scheduler resource: the resources a pod requests and a node offers,
 * as integers the filters and scores add and compare in O(1): milli-CPU,
 * bytes of memory and ephemeral storage, a pod count and up to
 * SCHEDULER_SCALAR_MAX extended resources (nvidia.com/gpu, hugepages-2Mi, ...)
 * by name. A pod's requests follow upstream's PodRequests: the containers'
 * sum, at least each init container's (plus the restartable init
 * containers started before it, which also add to the sum), plus
 * spec.overhead.
 * https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
 *
 * Pure functions over caller-owned values; callable from any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define SCHEDULER_SCALAR_MAX 8
#define SCHEDULER_SCALAR_NAME_MAX 64

typedef struct {
  int64_t milli_cpu;
  int64_t memory;    /* bytes */
  int64_t ephemeral; /* bytes of ephemeral-storage */
  int64_t pods;
  int nscalar;
  struct {
    char name[SCHEDULER_SCALAR_NAME_MAX];
    int64_t value; /* whole units */
  } scalar[SCHEDULER_SCALAR_MAX];
} scheduler_resources_t;

/* A resource.Quantity (string, or a JSON number) as an integer: *ret_v is
 * value*scale rounded up (scale 1000 gives milli-units, 1 whole units),
 * clamped to 0..INT64_MAX. Returns 0 or -EINVAL (not a quantity). */
int scheduler_quantity_int(const cJSON *q, int64_t scale, int64_t *ret_v);

/* The amount of resource name ("cpu" in milli-units, the others whole)
 * in r (0 when absent). */
int64_t scheduler_resources_get(const scheduler_resources_t *r, const char *name);
/* r[name] += v (a new scalar past SCHEDULER_SCALAR_MAX is dropped). */
void scheduler_resources_add_one(scheduler_resources_t *r, const char *name, int64_t v);
/* a += b, a -= b (per resource). */
void scheduler_resources_add(scheduler_resources_t *a, const scheduler_resources_t *b);
void scheduler_resources_sub(scheduler_resources_t *a, const scheduler_resources_t *b);

/* A ResourceList object ({"cpu":"100m",...}) into *ret (zeroed first). */
void scheduler_resources_from_list(const cJSON *list, scheduler_resources_t *ret);
/* What pod requests (pods = 1). */
void scheduler_resources_pod(const cJSON *pod, scheduler_resources_t *ret);
/* What node offers: status.allocatable (status.capacity when absent). */
void scheduler_resources_node(const cJSON *node, scheduler_resources_t *ret);
