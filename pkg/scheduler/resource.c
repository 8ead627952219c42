/* Pod requests and node allocatable as integers (resource.h), the
 * arithmetic of upstream's resourcehelper.PodRequests and the scheduler's
 * framework.Resource. */
#include "scheduler/resource.h"

#include "util/quantity.h"

#include "json/util.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int scheduler_quantity_int(const cJSON *q, int64_t scale, int64_t *ret_v) {
  quantity_t v;
  const char *err;
  int r;
  if (cJSON_IsString(q))
    r = quantity_parse(q->valuestring, strlen(q->valuestring), &v, &err);
  else if (cJSON_IsNumber(q))
    r = quantity_from_double(q->valuedouble, &v, &err);
  else
    return -EINVAL;
  if (r < 0)
    return r;
  if (v.neg || v.n == 0) {
    *ret_v = 0;
    return 0;
  }
  int32_t shift = 0;
  for (int64_t s = scale; s >= 10; s /= 10)
    shift++;
  /* value = d[0..n) * 10^exp; the digit d[i] has weight 10^(exp+shift+n-1-i). */
  int64_t out = 0;
  bool up = false, big = false;
  for (int i = 0; i < v.n; i++) {
    int64_t p = (int64_t)v.exp + shift + (v.n - 1 - i);
    if (p < 0) {
      if (v.d[i])
        up = true;
      continue;
    }
    if (out > (INT64_MAX - v.d[i]) / 10)
      big = true;
    else
      out = out * 10 + v.d[i];
  }
  int64_t low = (int64_t)v.exp + shift; /* weight of the last digit */
  for (int64_t p = low; p > 0 && !big; p--) {
    if (out > INT64_MAX / 10)
      big = true;
    else
      out *= 10;
  }
  if (!big && up) {
    if (out == INT64_MAX)
      big = true;
    else
      out++;
  }
  *ret_v = big ? INT64_MAX : out;
  return 0;
}

static int64_t *slot(scheduler_resources_t *r, const char *name, bool create) {
  if (!strcmp(name, "cpu"))
    return &r->milli_cpu;
  if (!strcmp(name, "memory"))
    return &r->memory;
  if (!strcmp(name, "ephemeral-storage"))
    return &r->ephemeral;
  if (!strcmp(name, "pods"))
    return &r->pods;
  for (int i = 0; i < r->nscalar; i++)
    if (!strcmp(r->scalar[i].name, name))
      return &r->scalar[i].value;
  if (!create || r->nscalar >= SCHEDULER_SCALAR_MAX || strlen(name) >= SCHEDULER_SCALAR_NAME_MAX)
    return NULL;
  int i = r->nscalar++;
  snprintf(r->scalar[i].name, sizeof(r->scalar[i].name), "%s", name);
  r->scalar[i].value = 0;
  return &r->scalar[i].value;
}

static int64_t sat_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b)
    return INT64_MAX;
  return a + b;
}

int64_t scheduler_resources_get(const scheduler_resources_t *r, const char *name) {
  int64_t *p = slot((scheduler_resources_t *)r, name, false);
  return p ? *p : 0;
}

void scheduler_resources_add_one(scheduler_resources_t *r, const char *name, int64_t v) {
  int64_t *p = slot(r, name, true);
  if (p)
    *p = sat_add(*p, v);
}

void scheduler_resources_add(scheduler_resources_t *a, const scheduler_resources_t *b) {
  a->milli_cpu = sat_add(a->milli_cpu, b->milli_cpu);
  a->memory = sat_add(a->memory, b->memory);
  a->ephemeral = sat_add(a->ephemeral, b->ephemeral);
  a->pods = sat_add(a->pods, b->pods);
  for (int i = 0; i < b->nscalar; i++)
    scheduler_resources_add_one(a, b->scalar[i].name, b->scalar[i].value);
}

void scheduler_resources_sub(scheduler_resources_t *a, const scheduler_resources_t *b) {
  a->milli_cpu -= b->milli_cpu;
  a->memory -= b->memory;
  a->ephemeral -= b->ephemeral;
  a->pods -= b->pods;
  for (int i = 0; i < b->nscalar; i++) {
    int64_t *p = slot(a, b->scalar[i].name, true);
    if (p)
      *p -= b->scalar[i].value;
  }
}

void scheduler_resources_from_list(const cJSON *list, scheduler_resources_t *ret) {
  memset(ret, 0, sizeof(*ret));
  const cJSON *q;
  cJSON_ArrayForEach(q, list) {
    int64_t v;
    if (!q->string || scheduler_quantity_int(q, strcmp(q->string, "cpu") ? 1 : 1000, &v) < 0)
      continue;
    scheduler_resources_add_one(ret, q->string, v);
  }
}

/* a = max(a, b) per resource. */
static void res_max(scheduler_resources_t *a, const scheduler_resources_t *b) {
  if (b->milli_cpu > a->milli_cpu)
    a->milli_cpu = b->milli_cpu;
  if (b->memory > a->memory)
    a->memory = b->memory;
  if (b->ephemeral > a->ephemeral)
    a->ephemeral = b->ephemeral;
  for (int i = 0; i < b->nscalar; i++) {
    int64_t *p = slot(a, b->scalar[i].name, true);
    if (p && b->scalar[i].value > *p)
      *p = b->scalar[i].value;
  }
}

void scheduler_resources_pod(const cJSON *pod, scheduler_resources_t *ret) {
  scheduler_resources_t sum, c;
  memset(&sum, 0, sizeof(sum));
  const cJSON *ctr;
  cJSON_ArrayForEach(ctr, json_get_path(pod, "spec.containers")) {
    scheduler_resources_from_list(json_get_path(ctr, "resources.requests"), &c);
    scheduler_resources_add(&sum, &c);
  }
  scheduler_resources_t sidecars, init_max;
  memset(&sidecars, 0, sizeof(sidecars));
  memset(&init_max, 0, sizeof(init_max));
  cJSON_ArrayForEach(ctr, json_get_path(pod, "spec.initContainers")) {
    scheduler_resources_from_list(json_get_path(ctr, "resources.requests"), &c);
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(ctr, "restartPolicy");
    if (cJSON_IsString(rp) && !strcmp(rp->valuestring, "Always")) {
      /* A sidecar runs alongside the containers and the later init containers. */
      scheduler_resources_add(&sum, &c);
      scheduler_resources_add(&sidecars, &c);
      res_max(&init_max, &sidecars);
    } else {
      scheduler_resources_add(&c, &sidecars);
      res_max(&init_max, &c);
    }
  }
  res_max(&sum, &init_max);
  scheduler_resources_from_list(json_get_path(pod, "spec.overhead"), &c);
  scheduler_resources_add(&sum, &c);
  sum.pods = 1;
  *ret = sum;
}

void scheduler_resources_node(const cJSON *node, scheduler_resources_t *ret) {
  const cJSON *list = json_get_path(node, "status.allocatable");
  if (!cJSON_IsObject(list))
    list = json_get_path(node, "status.capacity");
  scheduler_resources_from_list(list, ret);
}
