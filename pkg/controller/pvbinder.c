/* The PersistentVolume binder and the built-in local-path provisioner:
 * claims bound to volumes, volumes released or deleted with their claims,
 * local-path volumes made for claims once a node is chosen. One write per
 * reconcile; the object's next event drives the next step (pvbinder.h).
 * https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding
 * https://github.com/rancher/local-path-provisioner (the layout k3s uses) */
#include "controller/pvbinder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/quantity.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/internal.h"
#include "json/selector.h"
#include "json/util.h"
#include "util/fsutil.h"
#include "util/alloc.h"
#include "util/log.h"

#define S controller__str
#define ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define ANN_BOUND_BY_CONTROLLER "pv.kubernetes.io/bound-by-controller"
#define ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"
#define ANN_STORAGE_PROVISIONER "volume.kubernetes.io/storage-provisioner"
#define ANN_BETA_STORAGE_PROVISIONER "volume.beta.kubernetes.io/storage-provisioner"
#define ANN_DEFAULT_CLASS "storageclass.kubernetes.io/is-default-class"

typedef struct bsync bsync_t;

struct controller_pvbinder {
  client_t *c;
  client_informer_t *pvcs, *pvs, *classes;
  char *storage_dir;
  controller_t *ctl;
  controller_recorder_t *rec;
  bsync_t *syncs;
  client_req_t *class_req;
};

struct bsync {
  controller_pvbinder_t *b;
  bsync_t *prev, *next;
  char *key;
  client_req_t *req;
  char *provisioned; /* the PV a create made (its claim gets ProvisioningSucceeded) */
  char *remove_dir;  /* a local-path directory to remove once its PV is deleted */
  char *cleanup_node; /* ... and the node whose agent removes it there */
  char *cleanup_pv;
};

/* ---- pure parts ---- */

static const char *class_of(const cJSON *obj) {
  const char *sc = S(obj, "spec.storageClassName");
  if (!sc) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(json_get_path(obj, "metadata.annotations"),
                                                      "volume.beta.kubernetes.io/storage-class");
    sc = cJSON_IsString(a) ? a->valuestring : NULL;
  }
  return sc ? sc : "";
}

static int quantity_of(const cJSON *v, quantity_t *q) {
  const char *e;
  if (cJSON_IsString(v))
    return quantity_parse(v->valuestring, strlen(v->valuestring), q, &e);
  if (cJSON_IsNumber(v))
    return quantity_from_double(v->valuedouble, q, &e);
  return -EINVAL;
}

static bool has_string(const cJSON *arr, const char *s) {
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    if (cJSON_IsString(x) && !strcmp(x->valuestring, s))
      return true;
  }
  return false;
}

static bool claim_ref_is(const cJSON *pv, const cJSON *pvc) {
  const char *ns = S(pv, "spec.claimRef.namespace"), *name = S(pv, "spec.claimRef.name");
  const char *uid = S(pv, "spec.claimRef.uid");
  if (!name || strcmp(name, S(pvc, "metadata.name") ? S(pvc, "metadata.name") : "") ||
      strcmp(ns ? ns : "", S(pvc, "metadata.namespace") ? S(pvc, "metadata.namespace") : ""))
    return false;
  return !uid || !uid[0] || (S(pvc, "metadata.uid") && !strcmp(uid, S(pvc, "metadata.uid")));
}

bool controller_pv_fits(const cJSON *pv, const cJSON *pvc) {
  if (json_get_path(pv, "metadata.deletionTimestamp"))
    return false;
  if (json_get_path(pv, "spec.claimRef.name") && !claim_ref_is(pv, pvc))
    return false;
  if (strcmp(class_of(pv), class_of(pvc)))
    return false;
  const char *vm_pv = S(pv, "spec.volumeMode"), *vm_pvc = S(pvc, "spec.volumeMode");
  if (strcmp(vm_pv ? vm_pv : "Filesystem", vm_pvc ? vm_pvc : "Filesystem"))
    return false;
  const cJSON *m;
  cJSON_ArrayForEach(m, json_get_path(pvc, "spec.accessModes")) {
    if (!cJSON_IsString(m) || !has_string(json_get_path(pv, "spec.accessModes"), m->valuestring))
      return false;
  }
  quantity_t have, want;
  if (quantity_of(json_get_path(pv, "spec.capacity.storage"), &have) < 0 ||
      quantity_of(json_get_path(pvc, "spec.resources.requests.storage"), &want) < 0 ||
      quantity_cmp(&have, &want) < 0)
    return false;
  const cJSON *sel = json_get_path(pvc, "spec.selector");
  if (sel && !cJSON_IsNull(sel)) {
    label_selector_t *ls = NULL;
    char err[256];
    if (label_selector_from_json(sel, &ls, err, sizeof(err)) < 0)
      return false;
    bool ok = label_selector_match(ls, json_get_path(pv, "metadata.labels"));
    label_selector_free(ls);
    if (!ok)
      return false;
  }
  return true;
}

const cJSON *controller_pv_pick(const cJSON *const *pvs, size_t n, const cJSON *pvc) {
  const cJSON *best = NULL;
  quantity_t best_q;
  for (size_t i = 0; i < n; i++) {
    const cJSON *pv = pvs[i];
    if (!controller_pv_fits(pv, pvc))
      continue;
    if (json_get_path(pv, "spec.claimRef.name"))
      return pv; /* pre-bound to this claim */
    const char *phase = S(pv, "status.phase");
    if (phase && strcmp(phase, "Available") && strcmp(phase, "Pending"))
      continue;
    quantity_t q;
    if (quantity_of(json_get_path(pv, "spec.capacity.storage"), &q) < 0)
      continue;
    int c = best ? quantity_cmp(&q, &best_q) : -1;
    const char *nm = S(pv, "metadata.name"), *bn = best ? S(best, "metadata.name") : NULL;
    if (c < 0 || (c == 0 && nm && bn && strcmp(nm, bn) < 0)) {
      best = pv;
      best_q = q;
    }
  }
  return best;
}

int controller_localpath_dir(const char *storage_dir, const char *uid, const char *ns,
                             const char *name, char *out, size_t len) {
  int n = snprintf(out, len, "%s/pvc-%s_%s_%s", storage_dir, uid, ns, name);
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

cJSON *controller_localpath_pv(const cJSON *pvc, const char *node, const char *storage_dir,
                               const char *reclaim) {
  const char *uid = S(pvc, "metadata.uid"), *ns = S(pvc, "metadata.namespace");
  const char *name = S(pvc, "metadata.name");
  const cJSON *req = json_get_path(pvc, "spec.resources.requests.storage");
  char path[4096], pvname[300];
  if (!uid || !ns || !name || !node || !req ||
      controller_localpath_dir(storage_dir, uid, ns, name, path, sizeof(path)) < 0)
    return NULL;
  int n = snprintf(pvname, sizeof(pvname), "pvc-%s", uid);
  if (n < 0 || (size_t)n >= sizeof(pvname))
    return NULL;
  cJSON *pv = cJSON_CreateObject();
  cJSON_AddStringToObject(pv, "apiVersion", "v1");
  cJSON_AddStringToObject(pv, "kind", "PersistentVolume");
  cJSON *md = cJSON_AddObjectToObject(pv, "metadata");
  cJSON_AddStringToObject(md, "name", pvname);
  cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
  cJSON_AddStringToObject(ann, ANN_PROVISIONED_BY, CONTROLLER_LOCAL_PATH_PROVISIONER);
  cJSON_AddStringToObject(ann, "local.path.provisioner/selected-node", node);
  cJSON *spec = cJSON_AddObjectToObject(pv, "spec");
  cJSON_AddItemToObject(cJSON_AddObjectToObject(spec, "capacity"), "storage",
                        cJSON_Duplicate(req, 1));
  const cJSON *modes = json_get_path(pvc, "spec.accessModes");
  cJSON_AddItemToObject(spec, "accessModes",
                        modes ? cJSON_Duplicate(modes, 1) : cJSON_CreateArray());
  cJSON_AddStringToObject(spec, "persistentVolumeReclaimPolicy", reclaim ? reclaim : "Delete");
  cJSON_AddStringToObject(spec, "storageClassName", class_of(pvc));
  cJSON_AddStringToObject(spec, "volumeMode", "Filesystem");
  cJSON *hp = cJSON_AddObjectToObject(spec, "hostPath");
  cJSON_AddStringToObject(hp, "path", path);
  cJSON_AddStringToObject(hp, "type", "DirectoryOrCreate");
  cJSON *cr = cJSON_AddObjectToObject(spec, "claimRef");
  cJSON_AddStringToObject(cr, "apiVersion", "v1");
  cJSON_AddStringToObject(cr, "kind", "PersistentVolumeClaim");
  cJSON_AddStringToObject(cr, "namespace", ns);
  cJSON_AddStringToObject(cr, "name", name);
  cJSON_AddStringToObject(cr, "uid", uid);
  cJSON *term = cJSON_CreateObject();
  cJSON *expr = cJSON_CreateObject();
  cJSON_AddStringToObject(expr, "key", "kubernetes.io/hostname");
  cJSON_AddStringToObject(expr, "operator", "In");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(expr, "values"), cJSON_CreateString(node));
  cJSON_AddItemToArray(cJSON_AddArrayToObject(term, "matchExpressions"), expr);
  cJSON *req_aff = cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "nodeAffinity"), "required");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(req_aff, "nodeSelectorTerms"), term);
  return pv;
}

/* ---- reconcile ---- */

static void bsync_free(bsync_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->b->syncs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  if (s->req)
    client_req_cancel(s->req);
  free(s->key);
  free(s->provisioned);
  free(s->remove_dir);
  free(s->cleanup_node);
  free(s->cleanup_pv);
  free(s);
}

static void bsync_end(bsync_t *s, int err) {
  controller_t *ctl = s->b->ctl;
  char *key = s->key;
  s->key = NULL;
  s->req = NULL;
  bsync_free(s);
  controller_done(ctl, key, err);
  free(key);
}

static void start(bsync_t *s, client_req_t *req);

static void write_done(const client_result_t *res, void *data) {
  bsync_t *s = data;
  int err = 0;
  /* 404: gone meanwhile; 409 on create: provisioned already. A conflict
   * on an update is a stale cache: try again after the back-off. */
  if (res->code >= 300 && res->code != 404 && !(res->code == 409 && !strcmp(res->reason, "AlreadyExists"))) {
    log_warn("pvbinder", "%s: %d %s", s->key, res->code, res->message ? res->message : "");
    err = -EAGAIN;
  } else if (s->remove_dir) {
    int r = fs_remove_tree(s->remove_dir);
    if (r < 0)
      log_warn("pvbinder", "removing %s: %s", s->remove_dir, strerror(-r));
    else
      log_info("pvbinder", "removed the directory of deleted volume: %s", s->remove_dir);
    if (s->cleanup_node && res->code < 300) {
      /* the volume's own node removes it there (it may be another host) */
      char key[320];
      snprintf(key, sizeof(key), "%s%s", CONTROLLER_ANN_LOCAL_PATH_CLEANUP, s->cleanup_pv);
      cJSON *p = cJSON_CreateObject();
      cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
      cJSON_AddStringToObject(ann, key, s->remove_dir);
      client_ref_t ref = {.version = "v1", .resource = "nodes", .name = s->cleanup_node};
      free(s->remove_dir);
      s->remove_dir = NULL;
      client_req_t *req = client_patch(s->b->c, &ref, CLIENT_PATCH_MERGE, p, NULL, write_done, s);
      cJSON_Delete(p);
      start(s, req);
      return;
    }
  } else if (s->provisioned && res->code < 300) {
    char ns[256], name[256];
    const cJSON *pvc = NULL;
    if (controller_key_split(s->key, ns, sizeof(ns), name, sizeof(name)) == 0)
      pvc = client_informer_get(s->b->pvcs, ns, name);
    if (pvc)
      controller_recorder_eventf(s->b->rec, pvc, "Normal", "ProvisioningSucceeded",
                                 "Successfully provisioned volume %s", s->provisioned);
  }
  bsync_end(s, err);
}

static void start(bsync_t *s, client_req_t *req) {
  s->req = req;
  if (!req)
    bsync_end(s, -EINVAL);
}

static void patch(bsync_t *s, const char *ns, const char *name, bool pvc, const char *sub,
                  cJSON *p) {
  client_ref_t ref = {.version = "v1",
                      .resource = pvc ? "persistentvolumeclaims" : "persistentvolumes",
                      .ns = ns,
                      .name = name,
                      .subresource = sub};
  client_req_t *r = client_patch(s->b->c, &ref, CLIENT_PATCH_MERGE, p, NULL, write_done, s);
  cJSON_Delete(p);
  start(s, r);
}

static void set_phase(bsync_t *s, const char *ns, const char *name, bool pvc, const char *phase,
                      const cJSON *bound_pv) {
  cJSON *p = cJSON_CreateObject();
  cJSON *st = cJSON_AddObjectToObject(p, "status");
  cJSON_AddStringToObject(st, "phase", phase);
  if (bound_pv) {
    const cJSON *cap = json_get_path(bound_pv, "spec.capacity");
    const cJSON *modes = json_get_path(bound_pv, "spec.accessModes");
    cJSON_AddItemToObject(st, "capacity", cap ? cJSON_Duplicate(cap, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(st, "accessModes", modes ? cJSON_Duplicate(modes, 1) : cJSON_CreateArray());
  }
  patch(s, ns, name, pvc, "status", p);
}

const char *controller_localpath_node(const cJSON *pv) {
  const cJSON *t;
  cJSON_ArrayForEach(t, json_get_path(pv, "spec.nodeAffinity.required.nodeSelectorTerms")) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "matchExpressions")) {
      const char *k = S(e, "key"), *op = S(e, "operator");
      const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "values"), 0);
      if (k && op && !strcmp(k, "kubernetes.io/hostname") && !strcmp(op, "In") &&
          cJSON_IsString(v))
        return v->valuestring;
    }
  }
  return NULL;
}

static bool ann_is(const cJSON *obj, const char *key, const char *want) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(json_get_path(obj, "metadata.annotations"), key);
  return cJSON_IsString(a) && (!want || !strcmp(a->valuestring, want));
}

static const cJSON *class_get(controller_pvbinder_t *b, const char *name) {
  return name && name[0] ? client_informer_get(b->classes, NULL, name) : NULL;
}

/* A volume: Available, Bound or Released (and deleted under Delete). */
static void sync_pv(bsync_t *s, const char *name) {
  controller_pvbinder_t *b = s->b;
  const cJSON *pv = client_informer_get(b->pvs, NULL, name);
  if (!pv || json_get_path(pv, "metadata.deletionTimestamp")) {
    bsync_end(s, 0);
    return;
  }
  const char *phase = S(pv, "status.phase");
  phase = phase ? phase : "";
  const char *cns = S(pv, "spec.claimRef.namespace"), *cname = S(pv, "spec.claimRef.name");
  const char *cuid = S(pv, "spec.claimRef.uid");
  if (!cname) {
    if (strcmp(phase, "Available"))
      set_phase(s, NULL, name, false, "Available", NULL);
    else
      bsync_end(s, 0);
    return;
  }
  const cJSON *pvc = client_informer_get(b->pvcs, cns ? cns : "", cname);
  const char *puid = pvc ? S(pvc, "metadata.uid") : NULL;
  if (!cuid || !cuid[0]) {
    /* pre-bound by its author: waits for that claim */
    if (strcmp(phase, "Available"))
      set_phase(s, NULL, name, false, "Available", NULL);
    else
      bsync_end(s, 0);
    return;
  }
  if (pvc && puid && !strcmp(puid, cuid)) {
    const char *vn = S(pvc, "spec.volumeName");
    if (!vn || !strcmp(vn, name)) {
      if (strcmp(phase, "Bound"))
        set_phase(s, NULL, name, false, "Bound", NULL);
      else
        bsync_end(s, 0);
      return;
    }
    /* the claim went to another volume: this one was never its */
  }
  /* The claim is gone: released, then reclaimed. */
  const char *policy = S(pv, "spec.persistentVolumeReclaimPolicy");
  if (policy && !strcmp(policy, "Delete")) {
    client_ref_t ref = {.version = "v1", .resource = "persistentvolumes", .name = name};
    cJSON *opts = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
                            S(pv, "metadata.uid"));
    /* a local-path volume of ours: its directory goes too (on this host;
     * exactly the path the provisioner names for that claim) */
    char dir[4096];
    const char *hp = S(pv, "spec.hostPath.path");
    if (ann_is(pv, ANN_PROVISIONED_BY, CONTROLLER_LOCAL_PATH_PROVISIONER) && hp && cns &&
        controller_localpath_dir(b->storage_dir, cuid, cns, cname, dir, sizeof(dir)) == 0 &&
        !strcmp(dir, hp)) {
      s->remove_dir = xstrdup(dir);
      const char *node = controller_localpath_node(pv);
      /* an annotation key's name part: at most 63 characters */
      if (node && strlen(CONTROLLER_ANN_LOCAL_PATH_CLEANUP) - strlen("local-path.k3c.io/") +
                          strlen(name) <= 63) {
        s->cleanup_node = xstrdup(node);
        s->cleanup_pv = xstrdup(name);
      }
    }
    client_req_t *r = client_delete(b->c, &ref, opts, write_done, s);
    cJSON_Delete(opts);
    start(s, r);
    return;
  }
  if (strcmp(phase, "Released"))
    set_phase(s, NULL, name, false, "Released", NULL);
  else
    bsync_end(s, 0);
}

/* The cached objects of a cache, borrowed (valid until the next event). */
typedef struct {
  const cJSON **v;
  size_t n, cap;
} objs_t;

static void collect(const cJSON *obj, void *data) {
  objs_t *o = data;
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 16;
    o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
  }
  o->v[o->n++] = obj;
}

static void provision(bsync_t *s, const cJSON *pvc, const cJSON *cls) {
  controller_pvbinder_t *b = s->b;
  const cJSON *sel = cJSON_GetObjectItemCaseSensitive(json_get_path(pvc, "metadata.annotations"),
                                                      CONTROLLER_ANN_SELECTED_NODE);
  const char *mode = S(cls, "volumeBindingMode");
  if (!cJSON_IsString(sel) || !sel->valuestring[0]) {
    /* WaitForFirstConsumer: the scheduler picks the node. An Immediate
     * local-path class has no node to put the volume on: refused, as k3s's
     * provisioner does. */
    if (mode && !strcmp(mode, "WaitForFirstConsumer"))
      controller_recorder_eventf(b->rec, pvc, "Normal", "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding");
    else
      controller_recorder_eventf(b->rec, pvc, "Warning", "ProvisioningFailed",
                                 "failed to provision volume with StorageClass \"%s\": "
                                 "configuration error, no node was specified",
                                 S(cls, "metadata.name") ? S(cls, "metadata.name") : "");
    bsync_end(s, 0);
    return;
  }
  cJSON *pv = controller_localpath_pv(pvc, sel->valuestring, b->storage_dir,
                                      S(cls, "reclaimPolicy"));
  if (!pv) {
    bsync_end(s, 0);
    return;
  }
  log_info("pvbinder", "provisioning %s for claim %s on node %s",
           S(pv, "metadata.name"), s->key, sel->valuestring);
  s->provisioned = xstrdup(S(pv, "metadata.name"));
  client_ref_t ref = {.version = "v1", .resource = "persistentvolumes"};
  client_req_t *r = client_create(b->c, &ref, pv, write_done, s);
  cJSON_Delete(pv);
  start(s, r);
}

/* A claim: bound to a volume, or provisioned, one step at a time. */
static void sync_pvc(bsync_t *s, const char *ns, const char *name) {
  controller_pvbinder_t *b = s->b;
  const cJSON *pvc = client_informer_get(b->pvcs, ns, name);
  if (!pvc || json_get_path(pvc, "metadata.deletionTimestamp")) {
    bsync_end(s, 0);
    return;
  }
  const char *vn = S(pvc, "spec.volumeName"), *phase = S(pvc, "status.phase");
  phase = phase ? phase : "";
  if (vn && vn[0]) {
    const cJSON *pv = client_informer_get(b->pvs, NULL, vn);
    if (!pv) {
      if (strcmp(phase, "Lost"))
        set_phase(s, ns, name, true, "Lost", NULL);
      else
        bsync_end(s, 0);
      return;
    }
    if (!json_get_path(pv, "spec.claimRef.name")) {
      /* a claim pre-bound to a volume: the volume's side first */
      if (!controller_pv_fits(pv, pvc)) {
        bsync_end(s, 0);
        return;
      }
    } else if (!claim_ref_is(pv, pvc)) {
      bsync_end(s, 0); /* the volume is another claim's */
      return;
    }
    if (!json_get_path(pv, "spec.claimRef.uid")) {
      cJSON *upd = cJSON_Duplicate(pv, 1);
      cJSON *spec = cJSON_GetObjectItemCaseSensitive(upd, "spec");
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "claimRef");
      cJSON *cr = cJSON_AddObjectToObject(spec, "claimRef");
      cJSON_AddStringToObject(cr, "apiVersion", "v1");
      cJSON_AddStringToObject(cr, "kind", "PersistentVolumeClaim");
      cJSON_AddStringToObject(cr, "namespace", ns);
      cJSON_AddStringToObject(cr, "name", name);
      cJSON_AddStringToObject(cr, "uid", S(pvc, "metadata.uid"));
      client_ref_t ref = {.version = "v1", .resource = "persistentvolumes", .name = vn};
      client_req_t *r = client_update(b->c, &ref, upd, write_done, s);
      cJSON_Delete(upd);
      start(s, r);
      return;
    }
    if (!ann_is(pvc, ANN_BIND_COMPLETED, NULL)) {
      cJSON *p = cJSON_CreateObject();
      cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
      cJSON_AddStringToObject(ann, ANN_BIND_COMPLETED, "yes");
      patch(s, ns, name, true, NULL, p);
      return;
    }
    if (strcmp(phase, "Bound") || !json_get_path(pvc, "status.capacity")) {
      set_phase(s, ns, name, true, "Bound", pv);
      return;
    }
    bsync_end(s, 0);
    return;
  }
  /* Unbound: a volume that fits, else a new one. */
  objs_t all = {0};
  client_cache_foreach(client_informer_cache(b->pvs), collect, &all);
  const cJSON *pv = controller_pv_pick(all.v, all.n, pvc);
  free(all.v);
  if (pv) {
    const char *pvname = S(pv, "metadata.name");
    if (json_get_path(pv, "spec.claimRef.uid")) {
      /* ours already (provisioned for it, or bound a step ago): the claim's
       * side, with the annotations upstream writes */
      cJSON *p = cJSON_CreateObject();
      cJSON *md = cJSON_AddObjectToObject(p, "metadata");
      cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
      cJSON_AddStringToObject(ann, ANN_BIND_COMPLETED, "yes");
      if (!ann_is(pv, ANN_PROVISIONED_BY, NULL))
        cJSON_AddStringToObject(ann, ANN_BOUND_BY_CONTROLLER, "yes");
      cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "spec"), "volumeName", pvname);
      patch(s, ns, name, true, NULL, p);
      return;
    }
    cJSON *upd = cJSON_Duplicate(pv, 1);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(upd, "spec");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "claimRef");
    cJSON *cr = cJSON_AddObjectToObject(spec, "claimRef");
    cJSON_AddStringToObject(cr, "apiVersion", "v1");
    cJSON_AddStringToObject(cr, "kind", "PersistentVolumeClaim");
    cJSON_AddStringToObject(cr, "namespace", ns);
    cJSON_AddStringToObject(cr, "name", name);
    cJSON_AddStringToObject(cr, "uid", S(pvc, "metadata.uid"));
    cJSON *md = cJSON_GetObjectItemCaseSensitive(upd, "metadata");
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
    if (!cJSON_IsObject(ann)) {
      cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
      ann = cJSON_AddObjectToObject(md, "annotations");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_BOUND_BY_CONTROLLER);
    cJSON_AddStringToObject(ann, ANN_BOUND_BY_CONTROLLER, "yes");
    client_ref_t ref = {.version = "v1", .resource = "persistentvolumes", .name = pvname};
    client_req_t *r = client_update(b->c, &ref, upd, write_done, s);
    cJSON_Delete(upd);
    start(s, r);
    return;
  }
  const cJSON *cls = class_get(b, class_of(pvc));
  const char *prov = cls ? S(cls, "provisioner") : NULL;
  if (prov && !strcmp(prov, CONTROLLER_LOCAL_PATH_PROVISIONER)) {
    if (!ann_is(pvc, ANN_STORAGE_PROVISIONER, prov)) {
      cJSON *p = cJSON_CreateObject();
      cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
      cJSON_AddStringToObject(ann, ANN_STORAGE_PROVISIONER, prov);
      cJSON_AddStringToObject(ann, ANN_BETA_STORAGE_PROVISIONER, prov);
      patch(s, ns, name, true, NULL, p);
      return;
    }
    provision(s, pvc, cls);
    return;
  }
  if (strcmp(phase, "Pending"))
    set_phase(s, ns, name, true, "Pending", NULL);
  else
    bsync_end(s, 0);
}

static void reconcile(controller_t *ctl, const char *key, void *data) {
  controller_pvbinder_t *b = data;
  bsync_t *s = xcalloc(1, sizeof(*s));
  s->b = b;
  s->key = xstrdup(key);
  s->next = b->syncs;
  if (s->next)
    s->next->prev = s;
  b->syncs = s;
  char ns[256], name[256];
  if (controller_key_split(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
    bsync_end(s, 0);
    return;
  }
  if (strchr(key, '/'))
    sync_pvc(s, ns, name);
  else
    sync_pv(s, name);
}

/* ---- events ---- */

static void pvc_changed(const cJSON *pvc, void *data) {
  controller_pvbinder_t *b = data;
  controller_enqueue_obj(b->ctl, pvc);
  const char *vn = S(pvc, "spec.volumeName");
  if (vn && vn[0])
    controller_enqueue(b->ctl, vn);
}
static void pvc_updated(const cJSON *old, const cJSON *pvc, void *data) { pvc_changed(pvc, data); }

static void pv_changed(const cJSON *pv, void *data) {
  controller_pvbinder_t *b = data;
  controller_enqueue_obj(b->ctl, pv);
  const char *ns = S(pv, "spec.claimRef.namespace"), *name = S(pv, "spec.claimRef.name");
  char key[600];
  if (name && snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name) < (int)sizeof(key))
    controller_enqueue(b->ctl, key);
}
static void pv_updated(const cJSON *old, const cJSON *pv, void *data) { pv_changed(pv, data); }

/* A new class may let waiting claims be provisioned. */
static void class_added(const cJSON *cls, void *data) {
  controller_pvbinder_t *b = data;
  (void)cls;
  objs_t all = {0};
  client_cache_foreach(client_informer_cache(b->pvcs), collect, &all);
  for (size_t i = 0; i < all.n; i++)
    if (!S(all.v[i], "spec.volumeName"))
      controller_enqueue_obj(b->ctl, all.v[i]);
  free(all.v);
}

static void class_done(const client_result_t *res, void *data) {
  controller_pvbinder_t *b = data;
  b->class_req = NULL;
  if (res->code >= 300 && res->code != 409)
    log_warn("pvbinder", "creating StorageClass %s: %d %s", CONTROLLER_LOCAL_PATH_CLASS,
             res->code, res->message ? res->message : "");
}

/* k3s's local-storage manifest, as an object. */
static void classes_synced(void *data) {
  controller_pvbinder_t *b = data;
  if (client_informer_get(b->classes, NULL, CONTROLLER_LOCAL_PATH_CLASS))
    return;
  cJSON *sc = cJSON_CreateObject();
  cJSON_AddStringToObject(sc, "apiVersion", "storage.k8s.io/v1");
  cJSON_AddStringToObject(sc, "kind", "StorageClass");
  cJSON *md = cJSON_AddObjectToObject(sc, "metadata");
  cJSON_AddStringToObject(md, "name", CONTROLLER_LOCAL_PATH_CLASS);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), ANN_DEFAULT_CLASS, "true");
  cJSON_AddStringToObject(sc, "provisioner", CONTROLLER_LOCAL_PATH_PROVISIONER);
  cJSON_AddStringToObject(sc, "reclaimPolicy", "Delete");
  cJSON_AddStringToObject(sc, "volumeBindingMode", "WaitForFirstConsumer");
  client_ref_t ref = {.group = "storage.k8s.io", .version = "v1", .resource = "storageclasses"};
  b->class_req = client_create(b->c, &ref, sc, class_done, b);
  cJSON_Delete(sc);
}

int controller_pvbinder_new(client_t *c, client_informer_t *pvcs, client_informer_t *pvs,
                            client_informer_t *classes, const char *storage_dir,
                            struct ev_loop *loop, controller_pvbinder_t **ret_b) {
  controller_pvbinder_t *b = xcalloc(1, sizeof(*b));
  b->c = c;
  b->pvcs = pvcs;
  b->pvs = pvs;
  b->classes = classes;
  b->storage_dir = xstrdup(storage_dir ? storage_dir : "/var/lib/k3c/storage");
  controller_opts_t o = {.name = "persistentvolume-binder-controller", .sync = reconcile, .data = b};
  int r = controller_new(loop, &o, &b->ctl);
  if (r < 0) {
    free(b->storage_dir);
    free(b);
    return r;
  }
  b->rec = controller_recorder_new(c, "persistentvolume-controller");
  controller_wait_for(b->ctl, pvcs);
  controller_wait_for(b->ctl, pvs);
  controller_wait_for(b->ctl, classes);
  client_informer_handlers_t hc = {pvc_changed, pvc_updated, NULL};
  client_informer_handlers_t hv = {pv_changed, pv_updated, pv_changed};
  client_informer_handlers_t hs = {class_added, NULL, NULL};
  client_informer_add_handlers(pvcs, &hc, b);
  client_informer_add_handlers(pvs, &hv, b);
  client_informer_add_handlers(classes, &hs, b);
  /* a deleted claim: its volume's reconcile releases it */
  client_informer_handlers_t hd = {NULL, NULL, pvc_changed};
  client_informer_add_handlers(pvcs, &hd, b);
  client_informer_on_synced(classes, classes_synced, b);
  controller_start(b->ctl);
  *ret_b = b;
  return 0;
}

void controller_pvbinder_free(controller_pvbinder_t *b) {
  if (!b)
    return;
  /* the informers outlive the binder: no more calls to it */
  client_informer_remove_handlers(b->pvcs, b);
  client_informer_remove_handlers(b->pvs, b);
  client_informer_remove_handlers(b->classes, b);
  client_informer_on_synced(b->classes, NULL, NULL);
  while (b->syncs)
    bsync_free(b->syncs);
  if (b->class_req)
    client_req_cancel(b->class_req);
  controller_free(b->ctl);
  controller_recorder_free(b->rec);
  free(b->storage_dir);
  free(b);
}
