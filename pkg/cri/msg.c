/* pkg/cri/msg: runtime.v1 message pieces shared by the RuntimeService and
 * ImageService calls (maps, string lists, PodSandboxConfig, namespace
 * options), and the typed-RPC plumbing. Field numbers are those of
 * k8s.io/cri-api pkg/apis/runtime/v1/api.proto. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/internal.h"
#include "util/alloc.h"

const cri_status_t cri__bad_reply = {CRI_INTERNAL, "grpc: failed to unmarshal the response"};

void cri__put_str(proto_writer_t *w, uint32_t num, const char *s) {
  if (s && *s)
    proto_put_string(w, num, s);
}

void cri__put_int(proto_writer_t *w, uint32_t num, int64_t v) {
  if (v)
    proto_put_int64(w, num, v);
}

void cri__put_map(proto_writer_t *w, uint32_t num, cri_map_t m) {
  for (size_t i = 0; i < m.n; i++)
    proto_put_map_str(w, num, m.v[i].key, m.v[i].value);
}

void cri__put_strv(proto_writer_t *w, uint32_t num, cri_strv_t v) {
  for (size_t i = 0; i < v.n; i++)
    proto_put_string(w, num, v.v[i] ? v.v[i] : "");
}

void cri__put_ns_options(proto_writer_t *w, uint32_t num, const cri_ns_options_t *ns) {
  size_t m = proto_msg_begin(w, num);
  cri__put_int(w, 1, ns->network);
  cri__put_int(w, 2, ns->pid);
  cri__put_int(w, 3, ns->ipc);
  cri__put_str(w, 4, ns->target_id);
  proto_msg_end(w, m);
}

void cri__put_opt_int64(proto_writer_t *w, uint32_t num, cri_opt_int64_t v) {
  if (!v.set)
    return;
  size_t m = proto_msg_begin(w, num);
  cri__put_int(w, 1, v.value);
  proto_msg_end(w, m);
}

void cri__put_int64s(proto_writer_t *w, uint32_t num, const int64_t *v, size_t n) {
  if (!n)
    return;
  uint64_t *u = xmalloc(n * sizeof *u); /* packed, as proto3 writes repeated scalars */
  for (size_t i = 0; i < n; i++)
    u[i] = (uint64_t)v[i];
  proto_put_packed_varint(w, num, u, n);
  free(u);
}

void cri__put_sandbox_config(proto_writer_t *w, uint32_t num, const cri_sandbox_config_t *cfg) {
  size_t m = proto_msg_begin(w, num);
  size_t md = proto_msg_begin(w, 1);
  cri__put_str(w, 1, cfg->metadata.name);
  cri__put_str(w, 2, cfg->metadata.uid);
  cri__put_str(w, 3, cfg->metadata.namespace_);
  cri__put_int(w, 4, cfg->metadata.attempt);
  proto_msg_end(w, md);
  cri__put_str(w, 2, cfg->hostname);
  cri__put_str(w, 3, cfg->log_directory);
  if (cfg->dns_config) {
    size_t d = proto_msg_begin(w, 4);
    cri__put_strv(w, 1, cfg->dns_config->servers);
    cri__put_strv(w, 2, cfg->dns_config->searches);
    cri__put_strv(w, 3, cfg->dns_config->options);
    proto_msg_end(w, d);
  }
  for (size_t i = 0; i < cfg->n_port_mappings; i++) {
    const cri_port_mapping_t *pm = &cfg->port_mappings[i];
    size_t p = proto_msg_begin(w, 5);
    cri__put_int(w, 1, pm->protocol);
    cri__put_int(w, 2, pm->container_port);
    cri__put_int(w, 3, pm->host_port);
    cri__put_str(w, 4, pm->host_ip);
    proto_msg_end(w, p);
  }
  cri__put_map(w, 6, cfg->labels);
  cri__put_map(w, 7, cfg->annotations);
  size_t lx = proto_msg_begin(w, 8);
  cri__put_str(w, 1, cfg->lnx.cgroup_parent);
  size_t sc = proto_msg_begin(w, 2);
  cri__put_ns_options(w, 1, &cfg->lnx.namespace_options);
  cri__put_opt_int64(w, 3, cfg->lnx.run_as_user);
  if (cfg->lnx.readonly_rootfs)
    proto_put_bool(w, 4, true);
  cri__put_int64s(w, 5, cfg->lnx.supplemental_groups, cfg->lnx.n_supplemental_groups);
  if (cfg->lnx.privileged)
    proto_put_bool(w, 6, true);
  cri__put_opt_int64(w, 8, cfg->lnx.run_as_group);
  proto_msg_end(w, sc);
  cri__put_map(w, 3, cfg->lnx.sysctls);
  proto_msg_end(w, lx);
  proto_msg_end(w, m);
}

/* --- decoding --- */

int cri__get_str(cri__arena_t *a, const proto_field_t *f, const char **ret) {
  if (f->wt != PROTO_LEN)
    return -EBADMSG;
  *ret = cri__arena_strn(a, f->data, f->len);
  return 0;
}

const char *cri_map_get(cri_map_t m, const char *key) {
  for (size_t i = 0; i < m.n; i++)
    if (!strcmp(m.v[i].key, key))
      return m.v[i].value;
  return NULL;
}

int cri__count(const proto_reader_t *msg, uint32_t num, size_t *ret_n) {
  proto_reader_t r = *msg;
  proto_field_t f;
  size_t n = 0;
  int rc;
  while ((rc = proto_reader_next(&r, &f)) > 0)
    if (f.num == num)
      n++;
  if (rc < 0)
    return rc;
  *ret_n = n;
  return 0;
}

int cri__get_repeated(cri__arena_t *a, const cri__msg_t *m, uint32_t num, size_t size,
                      cri__item_fn item, void **ret_v, size_t *ret_n) {
  proto_reader_t r;
  proto_field_t f;
  size_t n = 0, i = 0;
  proto_reader_init(&r, m->data, m->len);
  int rc = cri__count(&r, num, &n);
  if (rc < 0)
    return rc;
  char *v = cri__arena_alloc(a, (n ? n : 1) * size);
  while ((rc = proto_reader_next(&r, &f)) > 0)
    if (f.num == num && i < n && (rc = item(a, &r, &f, v + size * i++)) < 0)
      return rc;
  if (rc < 0)
    return rc;
  *ret_v = v;
  *ret_n = i;
  return 0;
}

int cri__get_map(cri__arena_t *a, const proto_reader_t *msg, uint32_t num, cri_map_t *ret) {
  size_t n;
  int rc = cri__count(msg, num, &n);
  if (rc < 0)
    return rc;
  cri_kv_t *v = n ? cri__arena_alloc(a, n * sizeof *v) : NULL;
  proto_reader_t r = *msg;
  proto_field_t f;
  size_t i = 0;
  while ((rc = proto_reader_next(&r, &f)) > 0 && i < n) {
    if (f.num != num)
      continue;
    const char *k, *val;
    size_t kl, vl;
    if ((rc = proto_map_entry_str(&r, &f, &k, &kl, &val, &vl)) < 0)
      return rc;
    v[i].key = cri__arena_strn(a, k, kl);
    v[i].value = cri__arena_strn(a, val, vl);
    i++;
  }
  if (rc < 0)
    return rc;
  ret->v = v;
  ret->n = i;
  return 0;
}

int cri__get_strv(cri__arena_t *a, const proto_reader_t *msg, uint32_t num, cri_strv_t *ret) {
  size_t n;
  int rc = cri__count(msg, num, &n);
  if (rc < 0)
    return rc;
  const char **v = n ? cri__arena_alloc(a, n * sizeof *v) : NULL;
  proto_reader_t r = *msg;
  proto_field_t f;
  size_t i = 0;
  while ((rc = proto_reader_next(&r, &f)) > 0 && i < n) {
    if (f.num != num)
      continue;
    if ((rc = cri__get_str(a, &f, &v[i])) < 0)
      return rc;
    i++;
  }
  if (rc < 0)
    return rc;
  ret->v = v;
  ret->n = i;
  return 0;
}

int cri__get_inner_str(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                       uint32_t num, const char **ret) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0)
    if (g.num == num && (rc = cri__get_str(a, &g, ret)) < 0)
      return rc;
  return rc;
}

int cri__get_sandbox_metadata(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                              cri_sandbox_metadata_t *ret) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    switch (g.num) {
    case 1:
      rc = cri__get_str(a, &g, &ret->name);
      break;
    case 2:
      rc = cri__get_str(a, &g, &ret->uid);
      break;
    case 3:
      rc = cri__get_str(a, &g, &ret->namespace_);
      break;
    case 4:
      ret->attempt = (uint32_t)g.v;
      break;
    }
    if (rc < 0)
      return rc;
  }
  return rc;
}

int cri__get_ns_options(const proto_reader_t *r, const proto_field_t *f, cri_ns_options_t *ret) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.wt != PROTO_VARINT)
      continue;
    if (g.num == 1)
      ret->network = (cri_ns_mode_t)g.v;
    else if (g.num == 2)
      ret->pid = (cri_ns_mode_t)g.v;
    else if (g.num == 3)
      ret->ipc = (cri_ns_mode_t)g.v;
  }
  return rc;
}

/* --- typed RPCs --- */

typedef struct {
  cri__decode_fn decode;
  cri__fn_t cb;
  void *data;
} rpc_t;

static void rpc_reply(void *data, const cri_status_t *st, const cri__msg_t *msgs, size_t n) {
  rpc_t *x = data;
  cri__arena_t a = {0};
  if (st->code == CRI_OK && n != 1)
    st = &cri__bad_reply;
  x->decode(&a, st, st->code == CRI_OK ? &msgs[0] : NULL, x->cb, x->data);
  cri__arena_done(&a);
  free(x);
}

int cri__rpc(cri_client_t *c, const char *path, int64_t timeout_ms, const proto_writer_t *req,
             cri__decode_fn decode, cri__fn_t cb, void *data) {
  rpc_t *x = xmalloc(sizeof *x);
  x->decode = decode;
  x->cb = cb;
  x->data = data;
  cri__call_opts_t o = {.path = path, .timeout_ms = timeout_ms};
  int r = cri__call(c, &o, req, rpc_reply, x);
  if (r < 0)
    free(x);
  return r;
}
