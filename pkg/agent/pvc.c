/* persistentVolumeClaim volumes on the node: the claims and volumes read
 * with GETs, the pod's volumes resolved to the bound PV's path, and the
 * (pvc.h).
 * https://kubernetes.io/docs/concepts/storage/persistent-volumes/ */
#include "agent/pvc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json/util.h"
#include "util/alloc.h"
#include "util/errbuf.h"
#include "util/log.h"

#define FETCH_MAX 64 /* claims of one pod */

bool agent_pvc_wanted(const cJSON *pod) {
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    if (json_str(v, "persistentVolumeClaim.claimName"))
      return true;
  }
  return false;
}

/* readOnly on every mount of volume name in the pod's containers. */
static void force_readonly(cJSON *pod, const char *name) {
  static const char *const lists[] = {"spec.initContainers", "spec.containers"};
  for (size_t l = 0; l < 2; l++) {
    cJSON *c;
    cJSON_ArrayForEach(c, (cJSON *)json_get_path(pod, lists[l])) {
      cJSON *m;
      cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(c, "volumeMounts")) {
        const char *n = json_str(m, "name");
        if (n && !strcmp(n, name)) {
          cJSON_DeleteItemFromObjectCaseSensitive(m, "readOnly");
          cJSON_AddTrueToObject(m, "readOnly");
        }
      }
    }
  }
}

int agent_pvc_resolve(cJSON *pod, const cJSON *claims, const cJSON *volumes, char *err,
                      size_t errlen) {
  const char *ns = json_str(pod, "metadata.namespace");
  ns = ns ? ns : "";
  cJSON *v;
  cJSON_ArrayForEach(v, (cJSON *)json_get_path(pod, "spec.volumes")) {
    const char *vn = json_str(v, "name"), *cn = json_str(v, "persistentVolumeClaim.claimName");
    if (!cn || !vn)
      continue;
    const cJSON *pvc = cJSON_GetObjectItemCaseSensitive(claims, cn);
    if (!pvc) {
      errbuf_set(err, errlen,
                 "Unable to attach or mount volumes: unmounted volumes=[%s]: error processing "
                 "PVC %s/%s: failed to fetch PVC from API server: persistentvolumeclaims \"%s\" "
                 "not found",
                 vn, ns, cn, cn);
      return -ENOENT;
    }
    const char *pvname = json_str(pvc, "spec.volumeName"), *phase = json_str(pvc, "status.phase");
    if (!pvname || !pvname[0] || !phase || strcmp(phase, "Bound")) {
      errbuf_set(err, errlen,
                 "Unable to attach or mount volumes: unmounted volumes=[%s]: error processing "
                 "PVC %s/%s: PVC %s/%s has non-bound phase (\"%s\") or empty "
                 "pvc.Spec.VolumeName (\"%s\")",
                 vn, ns, cn, ns, cn, phase ? phase : "", pvname ? pvname : "");
      return -EAGAIN;
    }
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(volumes, pvname);
    if (!pv) {
      errbuf_set(err, errlen,
                 "Unable to attach or mount volumes: unmounted volumes=[%s]: error processing "
                 "PVC %s/%s: failed to fetch PV %s from API server: persistentvolumes \"%s\" "
                 "not found",
                 vn, ns, cn, pvname, pvname);
      return -EAGAIN;
    }
    const char *path = json_str(pv, "spec.hostPath.path"), *type = json_str(pv, "spec.hostPath.type");
    if (!path) {
      path = json_str(pv, "spec.local.path");
      type = NULL;
    }
    if (!path || path[0] != '/') {
      errbuf_set(err, errlen,
                 "Unable to attach or mount volumes: unmounted volumes=[%s]: volume %s of PVC "
                 "%s/%s: only hostPath and local persistent volumes are supported",
                 vn, pvname, ns, cn);
      return -ENOTSUP;
    }
    bool ro = cJSON_IsTrue(json_get_path(v, "persistentVolumeClaim.readOnly"));
    cJSON_DeleteItemFromObjectCaseSensitive(v, "persistentVolumeClaim");
    cJSON *hp = cJSON_AddObjectToObject(v, "hostPath");
    cJSON_AddStringToObject(hp, "path", path);
    if (type)
      cJSON_AddStringToObject(hp, "type", type);
    if (ro)
      force_readonly(pod, vn);
  }
  return 0;
}

/* ---- the GETs ---- */

typedef struct {
  agent_pvc_fetch_t *f;
  client_req_t *req;
  char *name;
  bool pv;
} getreq_t;

struct agent_pvc_fetch {
  client_t *c;
  char *ns;
  agent_pvc_done_cb cb;
  void *data;
  getreq_t reqs[FETCH_MAX];
  size_t n, pending;
  bool second; /* the PV round */
  cJSON *claims, *volumes;
  ev_timer later; /* cb never runs inside start */
  struct ev_loop *loop;
};

static void fetch_free(agent_pvc_fetch_t *f) {
  for (size_t i = 0; i < f->n; i++) {
    if (f->reqs[i].req)
      client_req_cancel(f->reqs[i].req);
    free(f->reqs[i].name);
  }
  if (f->loop)
    ev_timer_stop(f->loop, &f->later);
  cJSON_Delete(f->claims);
  cJSON_Delete(f->volumes);
  free(f->ns);
  free(f);
}

void agent_pvc_fetch_cancel(agent_pvc_fetch_t *f) {
  if (f)
    fetch_free(f);
}

static void finish(agent_pvc_fetch_t *f) {
  cJSON *claims = f->claims, *volumes = f->volumes;
  f->claims = f->volumes = NULL;
  agent_pvc_done_cb cb = f->cb;
  void *data = f->data;
  fetch_free(f);
  cb(claims, volumes, data);
}

static void later_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  finish((agent_pvc_fetch_t *)((char *)w - offsetof(agent_pvc_fetch_t, later)));
}

static void get_done(const client_result_t *res, void *data);

static void add_get(agent_pvc_fetch_t *f, const char *name, bool pv) {
  if (f->n >= FETCH_MAX)
    return;
  for (size_t i = 0; i < f->n; i++)
    if (f->reqs[i].pv == pv && !strcmp(f->reqs[i].name, name))
      return;
  getreq_t *g = &f->reqs[f->n++];
  g->f = f;
  g->name = xstrdup(name);
  g->pv = pv;
  client_ref_t ref = {.version = "v1",
                      .resource = pv ? "persistentvolumes" : "persistentvolumeclaims",
                      .ns = pv ? NULL : f->ns,
                      .name = name};
  g->req = client_get(f->c, &ref, NULL, get_done, g);
  if (g->req)
    f->pending++;
}

static void get_done(const client_result_t *res, void *data) {
  getreq_t *g = data;
  agent_pvc_fetch_t *f = g->f;
  g->req = NULL;
  f->pending--;
  if (res->code == 200 && res->obj)
    cJSON_AddItemToObject(g->pv ? f->volumes : f->claims, g->name, client_result_take(res));
  if (f->pending)
    return;
  if (!f->second) {
    f->second = true;
    const cJSON *c;
    cJSON_ArrayForEach(c, f->claims) {
      const char *vn = json_str(c, "spec.volumeName");
      if (vn && vn[0])
        add_get(f, vn, true);
    }
    if (f->pending)
      return;
  }
  finish(f);
}

agent_pvc_fetch_t *agent_pvc_fetch_start(struct ev_loop *loop, client_t *c, const cJSON *pod,
                                         agent_pvc_done_cb cb, void *data) {
  agent_pvc_fetch_t *f = xcalloc(1, sizeof(*f));
  f->c = c;
  f->cb = cb;
  f->data = data;
  const char *ns = json_str(pod, "metadata.namespace");
  f->ns = xstrdup(ns ? ns : "");
  f->claims = cJSON_CreateObject();
  f->volumes = cJSON_CreateObject();
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    const char *cn = json_str(v, "persistentVolumeClaim.claimName");
    if (cn)
      add_get(f, cn, false);
  }
  if (!f->pending) {
    /* nothing started: answer from the loop, never inside this call */
    f->loop = loop;
    ev_timer_init(&f->later, later_cb, 0, 0);
    ev_timer_start(f->loop, &f->later);
  }
  return f;
}
