/* pkg/cri/stats: runtime.v1.RuntimeService ContainerStats and
 * ListContainerStats, the resource usage the kubelet's summary is built
 * from (k8s.io/cri-api pkg/apis/runtime/v1/api.proto: ContainerStats,
 * ContainerAttributes, CpuUsage, MemoryUsage; UInt64Value wrappers). The
 * writable layer and swap fields are not decoded. */
#include <errno.h>
#include <string.h>

#include "cri/internal.h"

#define RT "/runtime.v1.RuntimeService/"

/* UInt64Value { uint64 value = 1; } */
static int get_u64(const proto_reader_t *r, const proto_field_t *f, cri_opt_uint64_t *ret) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  ret->set = true;
  ret->value = 0;
  while ((rc = proto_reader_next(&s, &g)) > 0)
    if (g.num == 1)
      ret->value = g.v;
  return rc;
}

/* ContainerAttributes { id 1, metadata 2, labels 3, annotations 4 } */
static int get_attributes(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                          cri_container_stats_t *cs) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  if ((rc = cri__get_map(a, &s, 3, &cs->labels)) < 0 ||
      (rc = cri__get_map(a, &s, 4, &cs->annotations)) < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num == 1)
      rc = cri__get_str(a, &g, &cs->id);
    else if (g.num == 2)
      rc = cri__get_container_metadata(a, &s, &g, &cs->metadata);
    if (rc < 0)
      return rc;
  }
  return rc;
}

/* CpuUsage { timestamp 1, usage_core_nano_seconds 2, usage_nano_cores 3 } */
static int get_cpu(const proto_reader_t *r, const proto_field_t *f, cri_container_stats_t *cs) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num == 1)
      cs->cpu.timestamp = (int64_t)g.v;
    else if (g.num == 2)
      rc = get_u64(&s, &g, &cs->cpu.usage_core_nano_seconds);
    else if (g.num == 3)
      rc = get_u64(&s, &g, &cs->cpu.usage_nano_cores);
    if (rc < 0)
      return rc;
  }
  return rc;
}

/* MemoryUsage { timestamp 1, working_set_bytes 2, available_bytes 3,
 * usage_bytes 4, rss_bytes 5, page_faults 6, major_page_faults 7 } */
static int get_memory(const proto_reader_t *r, const proto_field_t *f,
                      cri_container_stats_t *cs) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    cri_opt_uint64_t *dst = g.num == 2   ? &cs->memory.working_set_bytes
                            : g.num == 3 ? &cs->memory.available_bytes
                            : g.num == 4 ? &cs->memory.usage_bytes
                            : g.num == 5 ? &cs->memory.rss_bytes
                            : g.num == 6 ? &cs->memory.page_faults
                            : g.num == 7 ? &cs->memory.major_page_faults
                                         : NULL;
    if (g.num == 1)
      cs->memory.timestamp = (int64_t)g.v;
    else if (dst)
      rc = get_u64(&s, &g, dst);
    if (rc < 0)
      return rc;
  }
  return rc;
}

/* ContainerStats { attributes 1, cpu 2, memory 3, ... } */
static int get_stats(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                     void *item) { /* cri__item_fn */
  cri_container_stats_t *cs = item;
  proto_reader_t s;
  proto_field_t g;
  cs->id = cs->metadata.name = "";
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.wt != PROTO_LEN && g.num <= 3)
      return -EBADMSG;
    if (g.num == 1)
      rc = get_attributes(a, &s, &g, cs);
    else if (g.num == 2)
      rc = get_cpu(&s, &g, cs);
    else if (g.num == 3)
      rc = get_memory(&s, &g, cs);
    if (rc < 0)
      return rc;
  }
  return rc;
}

/* Both responses carry their stats as field 1 (repeated in the list). */
static void dec_stats(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m, cri__fn_t cb,
                      void *data) {
  cri_container_stats_cb fn = (cri_container_stats_cb)cb;
  void *v = NULL;
  size_t n = 0;
  if (st->code != CRI_OK)
    fn(data, st, NULL, 0);
  else if (cri__get_repeated(a, m, 1, sizeof(cri_container_stats_t), get_stats, &v, &n) < 0)
    fn(data, &cri__bad_reply, NULL, 0);
  else
    fn(data, st, v, n);
}

int cri_container_stats(cri_client_t *c, const char *container_id, cri_container_stats_cb cb,
                        void *data) {
  if (!container_id || !*container_id)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  proto_put_string(&w, 1, container_id);
  int r = cri__rpc(c, RT "ContainerStats", 0, &w, dec_stats, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_list_container_stats(cri_client_t *c, const cri_stats_filter_t *filter,
                             cri_container_stats_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  if (filter) {
    size_t m = proto_msg_begin(&w, 1);
    cri__put_str(&w, 1, filter->id);
    cri__put_str(&w, 2, filter->pod_sandbox_id);
    cri__put_map(&w, 3, filter->label_selector);
    proto_msg_end(&w, m);
  }
  int r = cri__rpc(c, RT "ListContainerStats", 0, &w, dec_stats, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}
