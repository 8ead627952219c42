/* pkg/cri/runtime: runtime.v1.RuntimeService calls (sandboxes, containers,
 * exec) as k8s.io/cri-api pkg/apis/runtime/v1/api.proto defines them; the
 * messages are written for the fields k3c uses, with the protocol's field
 * numbers. */
#include <errno.h>
#include <string.h>

#include "cri/internal.h"

#define RT "/runtime.v1.RuntimeService/"
#define MSG_LIMIT CRI_MSG_MAX

#define DECODE_LOOP(m, r, f, rc)                                                              \
  proto_reader_t r;                                                                           \
  proto_field_t f;                                                                            \
  int rc;                                                                                     \
  proto_reader_init(&r, (m)->data, (m)->len);                                                 \
  while ((rc = proto_reader_next(&r, &f)) > 0)

/* --- decoders --- */

static void dec_empty(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m, cri__fn_t cb,
                      void *data) {
  ((cri_done_cb)cb)(data, st);
}

/* Responses whose only field is a string number 1 (an id or image ref). */
static void dec_id(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m, cri__fn_t cb,
                   void *data) {
  cri_id_cb f = (cri_id_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  const char *id = "";
  DECODE_LOOP(m, r, fl, rc) {
    if (fl.num == 1 && (rc = cri__get_str(a, &fl, &id)) < 0)
      break;
  }
  if (rc < 0)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, id);
}

static void dec_version(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                        cri__fn_t cb, void *data) {
  cri_version_cb f = (cri_version_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  cri_version_t v = {"", "", "", ""};
  DECODE_LOOP(m, r, fl, rc) {
    const char **dst = fl.num == 1   ? &v.version
                       : fl.num == 2 ? &v.runtime_name
                       : fl.num == 3 ? &v.runtime_version
                       : fl.num == 4 ? &v.runtime_api_version
                                     : NULL;
    if (dst && (rc = cri__get_str(a, &fl, dst)) < 0)
      break;
  }
  if (rc < 0)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, &v);
}

static int get_condition(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                         cri_condition_t *c) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  c->type = c->reason = c->message = "";
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num == 1)
      rc = cri__get_str(a, &g, &c->type);
    else if (g.num == 2)
      c->status = g.v != 0;
    else if (g.num == 3)
      rc = cri__get_str(a, &g, &c->reason);
    else if (g.num == 4)
      rc = cri__get_str(a, &g, &c->message);
    if (rc < 0)
      return rc;
  }
  return rc;
}

static void dec_status(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                       cri__fn_t cb, void *data) {
  cri_status_cb f = (cri_status_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  cri_runtime_status_t v = {0};
  DECODE_LOOP(m, r, fl, rc) {
    if (fl.num != 1)
      continue;
    proto_reader_t s;
    if ((rc = proto_reader_sub(&r, &fl, &s)) < 0)
      break;
    size_t n;
    if ((rc = cri__count(&s, 1, &n)) < 0)
      break;
    cri_condition_t *cv = cri__arena_alloc(a, (n ? n : 1) * sizeof *cv);
    proto_field_t g;
    size_t i = 0;
    while ((rc = proto_reader_next(&s, &g)) > 0 && i < n)
      if (g.num == 1 && (rc = get_condition(a, &s, &g, &cv[i++])) < 0)
        break;
    if (rc < 0)
      break;
    v.conditions = cv;
    v.n_conditions = i;
  }
  if (rc < 0)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, &v);
}

/* PodSandbox (ListPodSandbox items). */
static int get_sandbox(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                       void *item) { /* cri__item_fn */
  cri_sandbox_t *sb = item;
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  sb->id = sb->runtime_handler = "";
  sb->metadata.name = sb->metadata.uid = sb->metadata.namespace_ = "";
  if (rc < 0)
    return rc;
  if ((rc = cri__get_map(a, &s, 5, &sb->labels)) < 0 ||
      (rc = cri__get_map(a, &s, 6, &sb->annotations)) < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    switch (g.num) {
    case 1:
      rc = cri__get_str(a, &g, &sb->id);
      break;
    case 2:
      rc = cri__get_sandbox_metadata(a, &s, &g, &sb->metadata);
      break;
    case 3:
      sb->state = (cri_sandbox_state_t)g.v;
      break;
    case 4:
      sb->created_at = (int64_t)g.v;
      break;
    case 7:
      rc = cri__get_str(a, &g, &sb->runtime_handler);
      break;
    }
    if (rc < 0)
      return rc;
  }
  return rc;
}

static void dec_sandbox_list(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                       cri__fn_t cb, void *data) {
  cri_sandbox_list_cb fn = (cri_sandbox_list_cb)cb;
  void *v = NULL;
  size_t n = 0;
  if (st->code != CRI_OK)
    fn(data, st, NULL, 0);
  else if (cri__get_repeated(a, m, 1, sizeof(cri_sandbox_t), get_sandbox, &v, &n) < 0)
    fn(data, &cri__bad_reply, NULL, 0);
  else
    fn(data, st, v, n);
}

static int get_network(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                       cri_sandbox_status_t *v) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  size_t n;
  if ((rc = cri__count(&s, 2, &n)) < 0)
    return rc;
  const char **ips = cri__arena_alloc(a, (n ? n : 1) * sizeof *ips);
  size_t i = 0;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num == 1)
      rc = cri__get_str(a, &g, &v->ip);
    else if (g.num == 2 && i < n) {
      ips[i] = "";
      rc = cri__get_inner_str(a, &s, &g, 1, &ips[i]);
      i++;
    }
    if (rc < 0)
      return rc;
  }
  v->additional_ips.v = ips;
  v->additional_ips.n = i;
  return rc;
}

/* LinuxPodSandboxStatus { Namespace namespaces = 1 { NamespaceOption options = 2 } } */
static int get_sandbox_linux(const proto_reader_t *r, const proto_field_t *f,
                             cri_sandbox_status_t *v) {
  proto_reader_t s, t;
  proto_field_t g, h;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num != 1)
      continue;
    if ((rc = proto_reader_sub(&s, &g, &t)) < 0)
      return rc;
    while ((rc = proto_reader_next(&t, &h)) > 0)
      if (h.num == 2 && (rc = cri__get_ns_options(&t, &h, &v->namespace_options)) < 0)
        return rc;
    if (rc < 0)
      return rc;
  }
  return rc;
}

static void dec_sandbox_status(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                               cri__fn_t cb, void *data) {
  cri_sandbox_status_cb f = (cri_sandbox_status_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  cri_sandbox_status_t v = {.id = "", .ip = "", .runtime_handler = ""};
  v.metadata.name = v.metadata.uid = v.metadata.namespace_ = "";
  bool found = false;
  DECODE_LOOP(m, r, fl, rc) {
    if (fl.num != 1)
      continue;
    proto_reader_t s;
    proto_field_t g;
    found = true;
    if ((rc = proto_reader_sub(&r, &fl, &s)) < 0 || (rc = cri__get_map(a, &s, 7, &v.labels)) < 0 ||
        (rc = cri__get_map(a, &s, 8, &v.annotations)) < 0)
      break;
    while ((rc = proto_reader_next(&s, &g)) > 0) {
      switch (g.num) {
      case 1:
        rc = cri__get_str(a, &g, &v.id);
        break;
      case 2:
        rc = cri__get_sandbox_metadata(a, &s, &g, &v.metadata);
        break;
      case 3:
        v.state = (cri_sandbox_state_t)g.v;
        break;
      case 4:
        v.created_at = (int64_t)g.v;
        break;
      case 5:
        rc = get_network(a, &s, &g, &v);
        break;
      case 6:
        rc = get_sandbox_linux(&s, &g, &v);
        break;
      case 9:
        rc = cri__get_str(a, &g, &v.runtime_handler);
        break;
      }
      if (rc < 0)
        break;
    }
    if (rc < 0)
      break;
  }
  if (rc < 0 || !found)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, &v);
}

int cri__get_container_metadata(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                                  cri_container_metadata_t *md) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num == 1 && (rc = cri__get_str(a, &g, &md->name)) < 0)
      return rc;
    if (g.num == 2)
      md->attempt = (uint32_t)g.v;
  }
  return rc;
}

static int get_container(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                         void *item) { /* cri__item_fn */
  cri_container_t *ct = item;
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  ct->id = ct->pod_sandbox_id = ct->image = ct->image_ref = ct->metadata.name = "";
  if (rc < 0)
    return rc;
  if ((rc = cri__get_map(a, &s, 8, &ct->labels)) < 0 ||
      (rc = cri__get_map(a, &s, 9, &ct->annotations)) < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    switch (g.num) {
    case 1:
      rc = cri__get_str(a, &g, &ct->id);
      break;
    case 2:
      rc = cri__get_str(a, &g, &ct->pod_sandbox_id);
      break;
    case 3:
      rc = cri__get_container_metadata(a, &s, &g, &ct->metadata);
      break;
    case 4:
      rc = cri__get_inner_str(a, &s, &g, 1, &ct->image);
      break;
    case 5:
      rc = cri__get_str(a, &g, &ct->image_ref);
      break;
    case 6:
      ct->state = (cri_container_state_t)g.v;
      break;
    case 7:
      ct->created_at = (int64_t)g.v;
      break;
    }
    if (rc < 0)
      return rc;
  }
  return rc;
}

static void dec_container_list(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                         cri__fn_t cb, void *data) {
  cri_container_list_cb fn = (cri_container_list_cb)cb;
  void *v = NULL;
  size_t n = 0;
  if (st->code != CRI_OK)
    fn(data, st, NULL, 0);
  else if (cri__get_repeated(a, m, 1, sizeof(cri_container_t), get_container, &v, &n) < 0)
    fn(data, &cri__bad_reply, NULL, 0);
  else
    fn(data, st, v, n);
}

static void dec_container_status(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                                 cri__fn_t cb, void *data) {
  cri_container_status_cb f = (cri_container_status_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  cri_container_status_t v = {.id = "", .image = "", .image_ref = "", .reason = "",
                              .message = "", .log_path = ""};
  v.metadata.name = "";
  bool found = false;
  DECODE_LOOP(m, r, fl, rc) {
    if (fl.num != 1)
      continue;
    proto_reader_t s;
    proto_field_t g;
    found = true;
    if ((rc = proto_reader_sub(&r, &fl, &s)) < 0 ||
        (rc = cri__get_map(a, &s, 12, &v.labels)) < 0 ||
        (rc = cri__get_map(a, &s, 13, &v.annotations)) < 0)
      break;
    while ((rc = proto_reader_next(&s, &g)) > 0) {
      switch (g.num) {
      case 1:
        rc = cri__get_str(a, &g, &v.id);
        break;
      case 2:
        rc = cri__get_container_metadata(a, &s, &g, &v.metadata);
        break;
      case 3:
        v.state = (cri_container_state_t)g.v;
        break;
      case 4:
        v.created_at = (int64_t)g.v;
        break;
      case 5:
        v.started_at = (int64_t)g.v;
        break;
      case 6:
        v.finished_at = (int64_t)g.v;
        break;
      case 7:
        v.exit_code = (int32_t)g.v;
        break;
      case 8:
        rc = cri__get_inner_str(a, &s, &g, 1, &v.image);
        break;
      case 9:
        rc = cri__get_str(a, &g, &v.image_ref);
        break;
      case 10:
        rc = cri__get_str(a, &g, &v.reason);
        break;
      case 11:
        rc = cri__get_str(a, &g, &v.message);
        break;
      case 15:
        rc = cri__get_str(a, &g, &v.log_path);
        break;
      }
      if (rc < 0)
        break;
    }
    if (rc < 0)
      break;
  }
  if (rc < 0 || !found)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, &v);
}

static void dec_exec(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m, cri__fn_t cb,
                     void *data) {
  cri_exec_cb f = (cri_exec_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  cri_exec_result_t v = {(const uint8_t *)"", (const uint8_t *)"", 0, 0, 0};
  DECODE_LOOP(m, r, fl, rc) {
    if ((fl.num == 1 || fl.num == 2) && fl.wt != PROTO_LEN) {
      rc = -EBADMSG;
      break;
    }
    if (fl.num == 1)
      v.stdout_ = fl.data, v.stdout_len = fl.len;
    else if (fl.num == 2)
      v.stderr_ = fl.data, v.stderr_len = fl.len;
    else if (fl.num == 3)
      v.exit_code = (int32_t)fl.v;
  }
  if (rc < 0)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, &v);
}

/* --- calls --- */

/* A request of one optional string field 1 (ids) and an optional int64 2. */
static int id_call(cri_client_t *c, const char *method, const char *id, int64_t i2,
                   int64_t timeout_ms, cri__decode_fn dec, cri__fn_t cb, void *data) {
  if (!id || !*id)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, id);
  cri__put_int(&w, 2, i2);
  char path[96];
  size_t pl = strlen(RT), ml = strlen(method);
  memcpy(path, RT, pl);
  memcpy(path + pl, method, ml + 1);
  int r = cri__rpc(c, path, timeout_ms, &w, dec, cb, data);
  proto_writer_done(&w);
  return r;
}

/* The client's deadline plus extra_s seconds the runtime may take. */
static int64_t extended(const cri_client_t *c, int64_t extra_s) {
  return cri__timeout(c) + (extra_s > 0 ? extra_s * 1000 : 0);
}

int cri_version(cri_client_t *c, cri_version_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, "v1");
  int r = cri__rpc(c, RT "Version", 0, &w, dec_version, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_status(cri_client_t *c, cri_status_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  int r = cri__rpc(c, RT "Status", 0, &w, dec_status, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_run_pod_sandbox(cri_client_t *c, const cri_sandbox_config_t *config,
                        const char *runtime_handler, cri_id_cb cb, void *data) {
  if (!config)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  cri__put_sandbox_config(&w, 1, config);
  cri__put_str(&w, 2, runtime_handler);
  int r = cri__rpc(c, RT "RunPodSandbox", 0, &w, dec_id, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_stop_pod_sandbox(cri_client_t *c, const char *sandbox_id, cri_done_cb cb, void *data) {
  return id_call(c, "StopPodSandbox", sandbox_id, 0, 0, dec_empty, (cri__fn_t)cb, data);
}

int cri_remove_pod_sandbox(cri_client_t *c, const char *sandbox_id, cri_done_cb cb, void *data) {
  return id_call(c, "RemovePodSandbox", sandbox_id, 0, 0, dec_empty, (cri__fn_t)cb, data);
}

int cri_pod_sandbox_status(cri_client_t *c, const char *sandbox_id, cri_sandbox_status_cb cb,
                           void *data) {
  return id_call(c, "PodSandboxStatus", sandbox_id, 0, 0, dec_sandbox_status, (cri__fn_t)cb,
                 data);
}

int cri_list_pod_sandbox(cri_client_t *c, const cri_sandbox_filter_t *filter,
                         cri_sandbox_list_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  if (filter) {
    size_t m = proto_msg_begin(&w, 1);
    cri__put_str(&w, 1, filter->id);
    if (filter->has_state) {
      size_t s = proto_msg_begin(&w, 2);
      cri__put_int(&w, 1, filter->state);
      proto_msg_end(&w, s);
    }
    cri__put_map(&w, 3, filter->label_selector);
    proto_msg_end(&w, m);
  }
  int r = cri__rpc(c, RT "ListPodSandbox", 0, &w, dec_sandbox_list, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

static void put_resources(proto_writer_t *w, uint32_t num, const cri_resources_t *res) {
  size_t m = proto_msg_begin(w, num);
  cri__put_int(w, 1, res->cpu_period);
  cri__put_int(w, 2, res->cpu_quota);
  cri__put_int(w, 3, res->cpu_shares);
  cri__put_int(w, 4, res->memory_limit_in_bytes);
  cri__put_int(w, 5, res->oom_score_adj);
  cri__put_str(w, 6, res->cpuset_cpus);
  cri__put_str(w, 7, res->cpuset_mems);
  proto_msg_end(w, m);
}

static void put_container_config(proto_writer_t *w, uint32_t num,
                                 const cri_container_config_t *cfg) {
  size_t m = proto_msg_begin(w, num);
  size_t md = proto_msg_begin(w, 1);
  cri__put_str(w, 1, cfg->metadata.name);
  cri__put_int(w, 2, cfg->metadata.attempt);
  proto_msg_end(w, md);
  size_t im = proto_msg_begin(w, 2);
  cri__put_str(w, 1, cfg->image);
  proto_msg_end(w, im);
  cri__put_strv(w, 3, cfg->command);
  cri__put_strv(w, 4, cfg->args);
  cri__put_str(w, 5, cfg->working_dir);
  for (size_t i = 0; i < cfg->n_envs; i++) {
    size_t e = proto_msg_begin(w, 6);
    proto_put_string(w, 1, cfg->envs[i].key ? cfg->envs[i].key : "");
    proto_put_string(w, 2, cfg->envs[i].value ? cfg->envs[i].value : "");
    proto_msg_end(w, e);
  }
  for (size_t i = 0; i < cfg->n_mounts; i++) {
    const cri_mount_t *mt = &cfg->mounts[i];
    size_t k = proto_msg_begin(w, 7);
    cri__put_str(w, 1, mt->container_path);
    cri__put_str(w, 2, mt->host_path);
    if (mt->readonly)
      proto_put_bool(w, 3, true);
    if (mt->selinux_relabel)
      proto_put_bool(w, 4, true);
    cri__put_int(w, 5, mt->propagation);
    proto_msg_end(w, k);
  }
  cri__put_map(w, 9, cfg->labels);
  cri__put_map(w, 10, cfg->annotations);
  cri__put_str(w, 11, cfg->log_path);
  if (cfg->stdin_)
    proto_put_bool(w, 12, true);
  if (cfg->stdin_once)
    proto_put_bool(w, 13, true);
  if (cfg->tty)
    proto_put_bool(w, 14, true);
  size_t lx = proto_msg_begin(w, 15);
  if (cfg->lnx.resources)
    put_resources(w, 1, cfg->lnx.resources);
  size_t sc = proto_msg_begin(w, 2);
  if (cfg->lnx.add_capabilities.n || cfg->lnx.drop_capabilities.n) {
    size_t cp = proto_msg_begin(w, 1);
    cri__put_strv(w, 1, cfg->lnx.add_capabilities);
    cri__put_strv(w, 2, cfg->lnx.drop_capabilities);
    proto_msg_end(w, cp);
  }
  if (cfg->lnx.privileged)
    proto_put_bool(w, 2, true);
  cri__put_ns_options(w, 3, &cfg->lnx.namespace_options);
  cri__put_opt_int64(w, 5, cfg->lnx.run_as_user);
  cri__put_str(w, 6, cfg->lnx.run_as_username);
  if (cfg->lnx.readonly_rootfs)
    proto_put_bool(w, 7, true);
  cri__put_int64s(w, 8, cfg->lnx.supplemental_groups, cfg->lnx.n_supplemental_groups);
  if (cfg->lnx.no_new_privs)
    proto_put_bool(w, 11, true);
  cri__put_opt_int64(w, 12, cfg->lnx.run_as_group);
  cri__put_strv(w, 13, cfg->lnx.masked_paths);
  cri__put_strv(w, 14, cfg->lnx.readonly_paths);
  proto_msg_end(w, sc);
  proto_msg_end(w, lx);
  proto_msg_end(w, m);
}

int cri_create_container(cri_client_t *c, const char *sandbox_id,
                         const cri_container_config_t *config,
                         const cri_sandbox_config_t *sandbox_config, cri_id_cb cb, void *data) {
  if (!sandbox_id || !*sandbox_id || !config || !sandbox_config)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, sandbox_id);
  put_container_config(&w, 2, config);
  cri__put_sandbox_config(&w, 3, sandbox_config);
  int r = cri__rpc(c, RT "CreateContainer", 0, &w, dec_id, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_start_container(cri_client_t *c, const char *container_id, cri_done_cb cb, void *data) {
  return id_call(c, "StartContainer", container_id, 0, 0, dec_empty, (cri__fn_t)cb, data);
}

int cri_stop_container(cri_client_t *c, const char *container_id, int64_t timeout_s,
                       cri_done_cb cb, void *data) {
  return id_call(c, "StopContainer", container_id, timeout_s, extended(c, timeout_s), dec_empty,
                 (cri__fn_t)cb, data);
}

int cri_reopen_container_log(cri_client_t *c, const char *container_id, cri_done_cb cb,
                             void *data) {
  return id_call(c, "ReopenContainerLog", container_id, 0, 0, dec_empty, (cri__fn_t)cb, data);
}

int cri_remove_container(cri_client_t *c, const char *container_id, cri_done_cb cb, void *data) {
  return id_call(c, "RemoveContainer", container_id, 0, 0, dec_empty, (cri__fn_t)cb, data);
}

int cri_list_containers(cri_client_t *c, const cri_container_filter_t *filter,
                        cri_container_list_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  if (filter) {
    size_t m = proto_msg_begin(&w, 1);
    cri__put_str(&w, 1, filter->id);
    if (filter->has_state) {
      size_t s = proto_msg_begin(&w, 2);
      cri__put_int(&w, 1, filter->state);
      proto_msg_end(&w, s);
    }
    cri__put_str(&w, 3, filter->pod_sandbox_id);
    cri__put_map(&w, 4, filter->label_selector);
    proto_msg_end(&w, m);
  }
  int r = cri__rpc(c, RT "ListContainers", 0, &w, dec_container_list, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_container_status(cri_client_t *c, const char *container_id, cri_container_status_cb cb,
                         void *data) {
  return id_call(c, "ContainerStatus", container_id, 0, 0, dec_container_status, (cri__fn_t)cb,
                 data);
}

int cri_exec_sync(cri_client_t *c, const char *container_id, cri_strv_t cmd, int64_t timeout_s,
                  cri_exec_cb cb, void *data) {
  if (!container_id || !*container_id || !cmd.n)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, container_id);
  cri__put_strv(&w, 2, cmd);
  cri__put_int(&w, 3, timeout_s);
  int r = cri__rpc(c, RT "ExecSync", extended(c, timeout_s), &w, dec_exec,
                   (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

/* ExecRequest: container_id 1, cmd 2, tty 3, stdin 4, stdout 5, stderr 6. */
int cri_exec(cri_client_t *c, const char *container_id, cri_strv_t cmd,
             const cri_stream_flags_t *f, cri_id_cb cb, void *data) {
  if (!container_id || !*container_id || !cmd.n)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, container_id);
  cri__put_strv(&w, 2, cmd);
  cri__put_int(&w, 3, f->tty);
  cri__put_int(&w, 4, f->stdin_);
  cri__put_int(&w, 5, f->stdout_);
  cri__put_int(&w, 6, f->stderr_);
  int r = cri__rpc(c, RT "Exec", 0, &w, dec_id, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

/* AttachRequest: container_id 1, stdin 2, tty 3, stdout 4, stderr 5. */
int cri_attach(cri_client_t *c, const char *container_id, const cri_stream_flags_t *f,
               cri_id_cb cb, void *data) {
  if (!container_id || !*container_id)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, container_id);
  cri__put_int(&w, 2, f->stdin_);
  cri__put_int(&w, 3, f->tty);
  cri__put_int(&w, 4, f->stdout_);
  cri__put_int(&w, 5, f->stderr_);
  int r = cri__rpc(c, RT "Attach", 0, &w, dec_id, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

/* PortForwardRequest: pod_sandbox_id 1, port 2 (repeated int32, packed). */
int cri_port_forward(cri_client_t *c, const char *sandbox_id, const int32_t *ports, size_t n,
                     cri_id_cb cb, void *data) {
  if (!sandbox_id || !*sandbox_id)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, MSG_LIMIT);
  proto_put_string(&w, 1, sandbox_id);
  if (n) {
    uint64_t v[64];
    size_t k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++)
      v[i] = (uint64_t)(int64_t)ports[i];
    proto_put_packed_varint(&w, 2, v, k);
  }
  int r = cri__rpc(c, RT "PortForward", 0, &w, dec_id, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}
