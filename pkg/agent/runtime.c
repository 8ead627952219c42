/* Blocking CRI calls for pod worker threads: each call starts an
 * asynchronous pkg/cri RPC on the thread's private loop and runs that loop
 * until its callback has copied the answer out (pkg/cri/cri.h allows
 * exactly this). */
#include "agent/runtime.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/podspec.h"
#include "util/alloc.h"

struct agent_runtime {
  struct ev_loop *loop;
  cri_client_t *c;
};

/* One call's outcome, written by its callback. */
typedef struct {
  agent_runtime_t *rt;
  bool done;
  int err; /* 0 or a negative errno */
  char *msg;
  size_t msglen;
  void *out; /* the call's own result */
} call_t;

static void call_status(call_t *k, const cri_status_t *st) {
  k->done = true;
  k->err = cri_status_errno(st);
  if (k->err && k->msg && k->msglen)
    snprintf(k->msg, k->msglen, "%s", st->message[0] ? st->message : cri_code_name(st->code));
}

/* Run the loop until the call's callback ran. r is what starting it
 * returned. */
static int call_wait(call_t *k, int r) {
  if (r < 0) {
    if (k->msg && k->msglen)
      snprintf(k->msg, k->msglen, "the request could not be sent: %s", strerror(-r));
    return r;
  }
  while (!k->done)
    ev_run(k->rt->loop, EVRUN_ONCE);
  return k->err;
}

static void copy(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src ? src : ""); }

int agent_runtime_new(const char *socket_path, agent_runtime_t **ret) {
  agent_runtime_t *rt = xcalloc(1, sizeof(*rt));
  rt->loop = ev_loop_new(EVFLAG_AUTO);
  if (!rt->loop) {
    free(rt);
    return -ENOMEM;
  }
  int r = cri_client_new(rt->loop, socket_path, &rt->c);
  if (r < 0) {
    ev_loop_destroy(rt->loop);
    free(rt);
    return r;
  }
  *ret = rt;
  return 0;
}

void agent_runtime_free(agent_runtime_t *rt) {
  if (!rt)
    return;
  cri_client_free(rt->c);
  ev_loop_destroy(rt->loop);
  free(rt);
}

void agent_runtime_reset(agent_runtime_t *rt) { cri_client_reset(rt->c); }

/* ---- sandboxes ---- */

typedef struct {
  agent_rt_sandbox_t *v;
  size_t n;
} sandbox_list_t;

static void sandboxes_cb(void *data, const cri_status_t *st, const cri_sandbox_t *items,
                         size_t n) {
  call_t *k = data;
  sandbox_list_t *l = k->out;
  call_status(k, st);
  if (st->code != CRI_OK)
    return;
  l->v = xcalloc(n ? n : 1, sizeof(*l->v));
  for (size_t i = 0; i < n; i++) {
    agent_rt_sandbox_t *s = &l->v[l->n++];
    copy(s->id, sizeof(s->id), items[i].id);
    s->attempt = items[i].metadata.attempt;
    s->ready = items[i].state == CRI_SANDBOX_READY;
    s->created_at = items[i].created_at;
  }
}

int agent_rt_sandboxes(agent_runtime_t *rt, const char *uid, agent_rt_sandbox_t **ret,
                       size_t *ret_n, char *err, size_t errlen) {
  sandbox_list_t l = {0};
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = &l};
  cri_kv_t sel[2] = {{AGENT_LABEL_MANAGED, "true"}, {AGENT_LABEL_POD_UID, uid}};
  cri_sandbox_filter_t f = {.id = "", .label_selector = {sel, uid ? 2 : 1}};
  int r = call_wait(&k, cri_list_pod_sandbox(rt->c, &f, sandboxes_cb, &k));
  if (r < 0) {
    free(l.v);
    return r;
  }
  *ret = l.v;
  *ret_n = l.n;
  return 0;
}

typedef struct {
  char *ip;
  size_t iplen;
  bool ready;
} sandbox_ip_t;

static void sandbox_status_cb(void *data, const cri_status_t *st, const cri_sandbox_status_t *s) {
  call_t *k = data;
  sandbox_ip_t *o = k->out;
  call_status(k, st);
  if (s) {
    copy(o->ip, o->iplen, s->ip);
    o->ready = s->state == CRI_SANDBOX_READY;
  }
}

int agent_rt_sandbox_ip(agent_runtime_t *rt, const char *id, char *ip, size_t iplen,
                        bool *ret_ready, char *err, size_t errlen) {
  sandbox_ip_t o = {ip, iplen, false};
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = &o};
  int r = call_wait(&k, cri_pod_sandbox_status(rt->c, id, sandbox_status_cb, &k));
  if (r == 0 && ret_ready)
    *ret_ready = o.ready;
  return r;
}

static void id_cb(void *data, const cri_status_t *st, const char *id) {
  call_t *k = data;
  call_status(k, st);
  if (id && k->out)
    copy(k->out, AGENT_RT_ID_MAX, id);
}

static void done_cb(void *data, const cri_status_t *st) { call_status(data, st); }

int agent_rt_run_sandbox(agent_runtime_t *rt, const cri_sandbox_config_t *cfg,
                         char ret_id[AGENT_RT_ID_MAX], char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = ret_id};
  return call_wait(&k, cri_run_pod_sandbox(rt->c, cfg, NULL, id_cb, &k));
}

int agent_rt_stop_sandbox(agent_runtime_t *rt, const char *id, char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen};
  return call_wait(&k, cri_stop_pod_sandbox(rt->c, id, done_cb, &k));
}

int agent_rt_remove_sandbox(agent_runtime_t *rt, const char *id, char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen};
  return call_wait(&k, cri_remove_pod_sandbox(rt->c, id, done_cb, &k));
}

/* ---- containers ---- */

typedef struct {
  agent_rt_container_t *v;
  size_t n;
} container_list_t;

static void containers_cb(void *data, const cri_status_t *st, const cri_container_t *items,
                          size_t n) {
  call_t *k = data;
  container_list_t *l = k->out;
  call_status(k, st);
  if (st->code != CRI_OK)
    return;
  l->v = xcalloc(n ? n : 1, sizeof(*l->v));
  for (size_t i = 0; i < n; i++) {
    agent_rt_container_t *c = &l->v[l->n++];
    copy(c->id, sizeof(c->id), items[i].id);
    copy(c->sandbox_id, sizeof(c->sandbox_id), items[i].pod_sandbox_id);
    copy(c->name, sizeof(c->name), items[i].metadata.name);
    c->attempt = items[i].metadata.attempt;
    const char *init = cri_map_get(items[i].labels, AGENT_LABEL_INIT);
    c->init = init && !strcmp(init, "true");
    c->state = items[i].state;
    c->created_at = items[i].created_at;
    copy(c->image_ref, sizeof(c->image_ref), items[i].image_ref);
  }
}

static void container_status_cb(void *data, const cri_status_t *st,
                                const cri_container_status_t *s) {
  call_t *k = data;
  agent_rt_container_t *c = k->out;
  call_status(k, st);
  if (!s)
    return;
  c->state = s->state;
  c->started_at = s->started_at;
  c->finished_at = s->finished_at;
  c->exit_code = s->exit_code;
  copy(c->reason, sizeof(c->reason), s->reason);
  copy(c->message, sizeof(c->message), s->message);
  if (s->image_ref && s->image_ref[0])
    copy(c->image_ref, sizeof(c->image_ref), s->image_ref);
}

int agent_rt_containers(agent_runtime_t *rt, const char *uid, agent_rt_container_t **ret,
                        size_t *ret_n, char *err, size_t errlen) {
  container_list_t l = {0};
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = &l};
  cri_kv_t sel[2] = {{AGENT_LABEL_MANAGED, "true"}, {AGENT_LABEL_POD_UID, uid}};
  cri_container_filter_t f = {.id = "", .pod_sandbox_id = "", .label_selector = {sel, 2}};
  int r = call_wait(&k, cri_list_containers(rt->c, &f, containers_cb, &k));
  for (size_t i = 0; r == 0 && i < l.n; i++) {
    call_t s = {.rt = rt, .msg = err, .msglen = errlen, .out = &l.v[i]};
    r = call_wait(&s, cri_container_status(rt->c, l.v[i].id, container_status_cb, &s));
    if (r == -ENOENT) { /* removed meanwhile */
      l.v[i--] = l.v[--l.n];
      r = 0;
    }
  }
  if (r < 0) {
    free(l.v);
    return r;
  }
  *ret = l.v;
  *ret_n = l.n;
  return 0;
}

int agent_rt_create_container(agent_runtime_t *rt, const char *sandbox_id,
                              const cri_container_config_t *cfg,
                              const cri_sandbox_config_t *sandbox_cfg,
                              char ret_id[AGENT_RT_ID_MAX], char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = ret_id};
  return call_wait(&k, cri_create_container(rt->c, sandbox_id, cfg, sandbox_cfg, id_cb, &k));
}

int agent_rt_start_container(agent_runtime_t *rt, const char *id, char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen};
  return call_wait(&k, cri_start_container(rt->c, id, done_cb, &k));
}

int agent_rt_stop_container(agent_runtime_t *rt, const char *id, int64_t timeout_s, char *err,
                            size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen};
  return call_wait(&k, cri_stop_container(rt->c, id, timeout_s, done_cb, &k));
}

int agent_rt_remove_container(agent_runtime_t *rt, const char *id, char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen};
  return call_wait(&k, cri_remove_container(rt->c, id, done_cb, &k));
}

typedef struct {
  int32_t *code;
  char *out;
  size_t outlen;
} exec_out_t;

static void exec_cb(void *data, const cri_status_t *st, const cri_exec_result_t *res) {
  call_t *k = data;
  call_status(k, st);
  exec_out_t *o = k->out;
  if (st->code != CRI_OK || !res)
    return;
  *o->code = res->exit_code;
  if (o->out && o->outlen) {
    size_t n = res->stdout_len < o->outlen - 1 ? res->stdout_len : o->outlen - 1;
    memcpy(o->out, res->stdout_, n);
    size_t m = res->stderr_len < o->outlen - 1 - n ? res->stderr_len : o->outlen - 1 - n;
    memcpy(o->out + n, res->stderr_, m);
    o->out[n + m] = '\0';
  }
}

int agent_rt_exec_sync(agent_runtime_t *rt, const char *id, const char *const *argv, size_t argc,
                       int64_t timeout_s, int32_t *ret_code, char *out, size_t outlen, char *err,
                       size_t errlen) {
  int32_t code = 0;
  exec_out_t o = {&code, out, outlen};
  if (out && outlen)
    out[0] = '\0';
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = &o};
  int r = call_wait(&k, cri_exec_sync(rt->c, id, (cri_strv_t){argv, argc}, timeout_s, exec_cb, &k));
  if (r == 0)
    *ret_code = code;
  return r;
}

/* ---- images ---- */

typedef struct {
  bool present;
  char *ref;
  size_t reflen;
} image_t;

static void image_status_cb(void *data, const cri_status_t *st, const cri_image_t *im) {
  call_t *k = data;
  image_t *o = k->out;
  call_status(k, st);
  o->present = im != NULL;
  if (im && o->ref)
    copy(o->ref, o->reflen, im->id);
}

int agent_rt_image_present(agent_runtime_t *rt, const char *image, bool *ret_present,
                           char *ref, size_t reflen, char *err, size_t errlen) {
  image_t o = {false, ref, reflen};
  call_t k = {.rt = rt, .msg = err, .msglen = errlen, .out = &o};
  int r = call_wait(&k, cri_image_status(rt->c, image, image_status_cb, &k));
  if (r == 0)
    *ret_present = o.present;
  return r;
}

int agent_rt_pull_image(agent_runtime_t *rt, const char *image, char *err, size_t errlen) {
  call_t k = {.rt = rt, .msg = err, .msglen = errlen};
  return call_wait(&k, cri_pull_image(rt->c, image, NULL, NULL, id_cb, &k));
}
