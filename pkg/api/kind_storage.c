/* Storage kinds: PersistentVolume, PersistentVolumeClaim (core/v1) and
 * StorageClass, CSIDriver, CSINode, VolumeAttachment (storage.k8s.io/v1):
 * upstream defaults (pkg/apis/{core,storage}/v1/defaults.go), the checks
 * users hit (pkg/apis/{core,storage}/validation) and printer cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/object.h"
#include "util/buf.h"

static void dflt_str(cJSON *o, const char *key, const char *v) {
  if (!cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddStringToObject(o, key, v);
}

static void dflt_bool(cJSON *o, const char *key, bool v) {
  if (!cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddBoolToObject(o, key, v);
}

/* "RWO,ROX" as upstream's GetAccessModesAsString (fixed order). */
static cJSON *access_modes(const cJSON *modes) {
  static const char *const order[][2] = {{"ReadWriteOnce", "RWO"},
                                         {"ReadOnlyMany", "ROX"},
                                         {"ReadWriteMany", "RWX"},
                                         {"ReadWriteOncePod", "RWOP"}};
  buf_t b;
  buf_init(&b, 64);
  for (size_t i = 0; i < 4; i++) {
    const cJSON *m;
    cJSON_ArrayForEach(m, modes) {
      if (cJSON_IsString(m) && !strcmp(m->valuestring, order[i][0])) {
        buf_printf(&b, "%s%s", b.len ? "," : "", order[i][1]);
        break;
      }
    }
  }
  return api__cell_take(&b, "");
}

static const char *storage_class(const cJSON *obj) {
  const char *sc = obj_str(obj, "spec.storageClassName");
  if (!sc) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj_get(obj, "metadata.annotations"),
                                                      "volume.beta.kubernetes.io/storage-class");
    sc = cJSON_IsString(a) ? a->valuestring : NULL;
  }
  return sc;
}

static cJSON *quantity_cell(const cJSON *v) {
  if (cJSON_IsString(v))
    return cJSON_CreateString(v->valuestring);
  if (cJSON_IsNumber(v)) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%.0f", v->valuedouble);
    return cJSON_CreateString(buf);
  }
  return cJSON_CreateString("");
}

static void required_modes_and_storage(const cJSON *obj, const char *cap_path, const char *cap_field,
                                       api_status_t *st) {
  if (cJSON_GetArraySize(obj_get(obj, "spec.accessModes")) == 0)
    api__cause(st, "FieldValueRequired", "spec.accessModes",
               "Required value: at least 1 access mode is required");
  static const char *const ok[] = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"};
  const cJSON *m;
  cJSON_ArrayForEach(m, obj_get(obj, "spec.accessModes")) {
    bool good = false;
    for (size_t i = 0; i < 4; i++)
      good |= cJSON_IsString(m) && !strcmp(m->valuestring, ok[i]);
    if (!good)
      api__cause(st, "FieldValueNotSupported", "spec.accessModes",
                 "Unsupported value: \"%s\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", "
                 "\"ReadWriteOnce\", \"ReadWriteOncePod\"",
                 cJSON_IsString(m) ? m->valuestring : "");
  }
  if (!obj_get(obj, cap_path))
    api__cause(st, "FieldValueRequired", cap_field, "Required value");
}

static void volume_mode(const cJSON *obj, api_status_t *st) {
  const char *vm = obj_str(obj, "spec.volumeMode");
  if (vm && strcmp(vm, "Block") && strcmp(vm, "Filesystem"))
    api__cause(st, "FieldValueNotSupported", "spec.volumeMode",
               "Unsupported value: \"%s\": supported values: \"Block\", \"Filesystem\"", vm);
}

/* ---- PersistentVolumeClaim ---- */

static void pvc_defaults(cJSON *obj) {
  dflt_str(obj_child_object(obj, "spec"), "volumeMode", "Filesystem");
  dflt_str(obj_child_object(obj, "status"), "phase", "Pending");
}

static void pvc_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  required_modes_and_storage(obj, "spec.resources.requests.storage", "spec.resources[storage]", st);
  volume_mode(obj, st);
  if (!old)
    return;
  cJSON *a = cJSON_Duplicate(obj_get(obj, "spec"), 1);
  cJSON *b = cJSON_Duplicate(obj_get(old, "spec"), 1);
  static const char *const free_fields[] = {"resources", "volumeAttributesClassName"};
  for (size_t i = 0; i < 2; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(a, free_fields[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(b, free_fields[i]);
  }
  /* The binder sets volumeName once. */
  if (!obj_str(old, "spec.volumeName")) {
    cJSON_DeleteItemFromObjectCaseSensitive(a, "volumeName");
    cJSON_DeleteItemFromObjectCaseSensitive(b, "volumeName");
  }
  cJSON *la = cJSON_Duplicate(obj_get(obj, "spec.resources.limits"), 1);
  cJSON *lb = cJSON_Duplicate(obj_get(old, "spec.resources.limits"), 1);
  /* cJSON_Compare(NULL, NULL) is false: no limits on either side is equal */
  bool limits_same = (!la && !lb) || (la && lb && cJSON_Compare(la, lb, 1));
  if (!cJSON_Compare(a, b, 1) || !limits_same)
    api__cause(st, "FieldValueForbidden", "spec",
               "Forbidden: spec is immutable after creation except resources.requests and "
               "volumeAttributesClassName for bound claims");
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(la);
  cJSON_Delete(lb);
}

static cJSON *pvc_cell(const char *col, const cJSON *obj) {
  bool bound = obj_str(obj, "status.phase") && !strcmp(obj_str(obj, "status.phase"), "Bound");
  if (!strcmp(col, "Status")) {
    if (obj_get(obj, "metadata.deletionTimestamp"))
      return cJSON_CreateString("Terminating");
    return api__cell_string(obj_str(obj, "status.phase"), "");
  }
  if (!strcmp(col, "Volume"))
    return api__cell_string(obj_str(obj, "spec.volumeName"), "");
  if (!strcmp(col, "Capacity"))
    return bound ? quantity_cell(obj_get(obj, "status.capacity.storage")) : cJSON_CreateString("");
  if (!strcmp(col, "Access Modes"))
    return bound ? access_modes(obj_get(obj, "status.accessModes")) : cJSON_CreateString("");
  if (!strcmp(col, "StorageClass"))
    return api__cell_string(storage_class(obj), "<unset>");
  if (!strcmp(col, "VolumeAttributesClass"))
    return api__cell_string(obj_str(obj, "status.currentVolumeAttributesClassName"), "<unset>");
  if (!strcmp(col, "VolumeMode"))
    return api__cell_string(obj_str(obj, "spec.volumeMode"), "<unset>");
  return NULL;
}

const api_hooks_t api_kind_pvc = {.defaults = pvc_defaults, .validate = pvc_validate, .cell = pvc_cell};

/* ---- PersistentVolume ---- */

static void pv_defaults(cJSON *obj) {
  cJSON *spec = obj_child_object(obj, "spec");
  dflt_str(spec, "persistentVolumeReclaimPolicy", "Retain");
  dflt_str(spec, "volumeMode", "Filesystem");
  dflt_str(obj_child_object(obj, "status"), "phase", "Pending");
}

static const char *const pv_sources[] = {
    "gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi",
    "cinder", "cephfs", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi"};

static void pv_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  required_modes_and_storage(obj, "spec.capacity.storage", "spec.capacity", st);
  volume_mode(obj, st);
  int n = 0;
  for (size_t i = 0; i < sizeof(pv_sources) / sizeof(pv_sources[0]); i++)
    if (obj_get(obj_get(obj, "spec"), pv_sources[i]))
      n++;
  if (n == 0)
    api__cause(st, "FieldValueRequired", "spec", "Required value: must specify a volume type");
  else if (n > 1)
    api__cause(st, "FieldValueForbidden", "spec",
               "Forbidden: may not specify more than 1 volume type");
  const char *rp = obj_str(obj, "spec.persistentVolumeReclaimPolicy");
  if (rp && strcmp(rp, "Delete") && strcmp(rp, "Recycle") && strcmp(rp, "Retain"))
    api__cause(st, "FieldValueNotSupported", "spec.persistentVolumeReclaimPolicy",
               "Unsupported value: \"%s\": supported values: \"Delete\", \"Recycle\", \"Retain\"", rp);
  if (old)
    api__validate_immutable(obj_get(obj, "spec.volumeMode"), obj_get(old, "spec.volumeMode"),
                            "spec.volumeMode", st);
}

static cJSON *pv_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Capacity"))
    return quantity_cell(obj_get(obj, "spec.capacity.storage"));
  if (!strcmp(col, "Access Modes"))
    return access_modes(obj_get(obj, "spec.accessModes"));
  if (!strcmp(col, "Reclaim Policy"))
    return api__cell_string(obj_str(obj, "spec.persistentVolumeReclaimPolicy"), "");
  if (!strcmp(col, "Status")) {
    if (obj_get(obj, "metadata.deletionTimestamp"))
      return cJSON_CreateString("Terminating");
    return api__cell_string(obj_str(obj, "status.phase"), "");
  }
  if (!strcmp(col, "Claim")) {
    const char *ns = obj_str(obj, "spec.claimRef.namespace");
    const char *name = obj_str(obj, "spec.claimRef.name");
    char buf[512] = "";
    if (name)
      snprintf(buf, sizeof(buf), "%s/%s", ns ? ns : "", name);
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "StorageClass"))
    return api__cell_string(storage_class(obj), "");
  if (!strcmp(col, "VolumeAttributesClass"))
    return api__cell_string(obj_str(obj, "spec.volumeAttributesClassName"), "<unset>");
  if (!strcmp(col, "Reason"))
    return api__cell_string(obj_str(obj, "status.reason"), "");
  if (!strcmp(col, "VolumeMode"))
    return api__cell_string(obj_str(obj, "spec.volumeMode"), "<unset>");
  return NULL;
}

const api_hooks_t api_kind_pv = {.defaults = pv_defaults, .validate = pv_validate, .cell = pv_cell};

/* ---- StorageClass ---- */

static void sc_defaults(cJSON *obj) {
  dflt_str(obj, "reclaimPolicy", "Delete");
  dflt_str(obj, "volumeBindingMode", "Immediate");
}

static void sc_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *p = obj_str(obj, "provisioner");
  if (!p || !p[0])
    api__cause_required(st, "provisioner");
  const char *rp = obj_str(obj, "reclaimPolicy");
  if (rp && strcmp(rp, "Delete") && strcmp(rp, "Retain"))
    api__cause(st, "FieldValueNotSupported", "reclaimPolicy",
               "Unsupported value: \"%s\": supported values: \"Delete\", \"Retain\"", rp);
  const char *bm = obj_str(obj, "volumeBindingMode");
  if (bm && strcmp(bm, "Immediate") && strcmp(bm, "WaitForFirstConsumer"))
    api__cause(st, "FieldValueNotSupported", "volumeBindingMode",
               "Unsupported value: \"%s\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
               bm);
  if (!old)
    return;
  if (!cJSON_Compare(obj_get(obj, "parameters"), obj_get(old, "parameters"), 1) &&
      (obj_get(obj, "parameters") || obj_get(old, "parameters")))
    api__cause(st, "FieldValueForbidden", "parameters", "Forbidden: updates to parameters are forbidden.");
  if (!cJSON_Compare(obj_get(obj, "provisioner"), obj_get(old, "provisioner"), 1))
    api__cause(st, "FieldValueForbidden", "provisioner", "Forbidden: updates to provisioner are forbidden.");
  if (!cJSON_Compare(obj_get(obj, "reclaimPolicy"), obj_get(old, "reclaimPolicy"), 1))
    api__cause(st, "FieldValueForbidden", "reclaimPolicy",
               "Forbidden: updates to reclaimPolicy are forbidden.");
  api__validate_immutable(obj_get(obj, "volumeBindingMode"), obj_get(old, "volumeBindingMode"),
                          "volumeBindingMode", st);
}

static cJSON *sc_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Name")) {
    const char *name = obj_str(obj, "metadata.name");
    const cJSON *ann = obj_get(obj, "metadata.annotations");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ann, "storageclass.kubernetes.io/is-default-class");
    if (!cJSON_IsString(d))
      d = cJSON_GetObjectItemCaseSensitive(ann, "storageclass.beta.kubernetes.io/is-default-class");
    char buf[300];
    snprintf(buf, sizeof(buf), "%s%s", name ? name : "",
             cJSON_IsString(d) && !strcmp(d->valuestring, "true") ? " (default)" : "");
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "ReclaimPolicy"))
    return api__cell_string(obj_str(obj, "reclaimPolicy"), "Delete");
  if (!strcmp(col, "VolumeBindingMode"))
    return api__cell_string(obj_str(obj, "volumeBindingMode"), "Immediate");
  if (!strcmp(col, "AllowVolumeExpansion"))
    return cJSON_CreateString(cJSON_IsTrue(obj_get(obj, "allowVolumeExpansion")) ? "true" : "false");
  return NULL;
}

const api_hooks_t api_kind_storageclass = {
    .defaults = sc_defaults, .validate = sc_validate, .cell = sc_cell};

/* ---- CSIDriver, CSINode, VolumeAttachment ---- */

static void csidriver_defaults(cJSON *obj) {
  cJSON *spec = obj_child_object(obj, "spec");
  dflt_bool(spec, "attachRequired", true);
  dflt_bool(spec, "podInfoOnMount", false);
  dflt_bool(spec, "storageCapacity", false);
  dflt_str(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
  dflt_bool(spec, "requiresRepublish", false);
  dflt_bool(spec, "seLinuxMount", false);
  if (!cJSON_GetObjectItemCaseSensitive(spec, "volumeLifecycleModes")) {
    cJSON *m = cJSON_AddArrayToObject(spec, "volumeLifecycleModes");
    cJSON_AddItemToArray(m, cJSON_CreateString("Persistent"));
  }
}

static cJSON *csidriver_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "AttachRequired"))
    return cJSON_CreateBool(!obj_get(obj, "spec.attachRequired") ||
                            cJSON_IsTrue(obj_get(obj, "spec.attachRequired")));
  if (!strcmp(col, "PodInfoOnMount"))
    return cJSON_CreateBool(cJSON_IsTrue(obj_get(obj, "spec.podInfoOnMount")));
  if (!strcmp(col, "StorageCapacity"))
    return cJSON_CreateBool(cJSON_IsTrue(obj_get(obj, "spec.storageCapacity")));
  if (!strcmp(col, "RequiresRepublish"))
    return cJSON_CreateBool(cJSON_IsTrue(obj_get(obj, "spec.requiresRepublish")));
  buf_t b;
  buf_init(&b, 1024);
  const cJSON *x;
  if (!strcmp(col, "TokenRequests")) {
    cJSON_ArrayForEach(x, obj_get(obj, "spec.tokenRequests")) {
      const char *a = obj_str(x, "audience");
      buf_printf(&b, "%s%s", b.len ? "," : "", a ? a : "");
    }
  } else if (!strcmp(col, "Modes")) {
    cJSON_ArrayForEach(x, obj_get(obj, "spec.volumeLifecycleModes")) {
      if (cJSON_IsString(x))
        buf_printf(&b, "%s%s", b.len ? "," : "", x->valuestring);
    }
  }
  return api__cell_take(&b, "<unset>");
}

const api_hooks_t api_kind_csidriver = {.defaults = csidriver_defaults, .cell = csidriver_cell};

static cJSON *csinode_cell(const char *col, const cJSON *obj) {
  return api__cell_count(obj, "spec.drivers", NULL);
}

const api_hooks_t api_kind_csinode = {.cell = csinode_cell};

static cJSON *va_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "PV"))
    return api__cell_string(obj_str(obj, "spec.source.persistentVolumeName"), "");
  if (!strcmp(col, "Attached"))
    return cJSON_CreateBool(cJSON_IsTrue(obj_get(obj, "status.attached")));
  return NULL;
}

static void va_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (!obj_str(obj, "spec.attacher"))
    api__cause_required(st, "spec.attacher");
  if (!obj_str(obj, "spec.nodeName"))
    api__cause_required(st, "spec.nodeName");
  if (old)
    api__validate_immutable(obj_get(obj, "spec"), obj_get(old, "spec"), "spec", st);
}

const api_hooks_t api_kind_volumeattachment = {.validate = va_validate, .cell = va_cell};
