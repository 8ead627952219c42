/* Hooks of the smaller built-in kinds and the kind -> hooks table.
 * Defaults and messages follow upstream (k8s.io/kubernetes/pkg/apis/core
 * defaults and validation, pkg/printers for Table cells). */
#include "api/kinds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/crd.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/buf.h"

void api__cause(api_status_t *st, const char *reason, const char *field, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  api_status_add_cause(st, reason, field, msg);
}

void api__cause_required(api_status_t *st, const char *field) {
  api_status_add_cause(st, "FieldValueRequired", field, "Required value");
}

void api__cause_invalid(api_status_t *st, const char *field, const char *msg) {
  api__cause(st, "FieldValueInvalid", field, "Invalid value: %s", msg);
}

cJSON *api__cell_count(const cJSON *obj, const char *a, const char *b) {
  int n = cJSON_GetArraySize(obj_get(obj, a));
  if (b)
    n += cJSON_GetArraySize(obj_get(obj, b));
  return cJSON_CreateNumber(n);
}

/* ---- Namespace ---- */

static void ns_defaults(cJSON *obj) {
  cJSON *meta = obj_meta(obj);
  const char *name = obj_str(obj, "metadata.name");
  cJSON *labels = obj_child_object(meta, "labels");
  if (name)
    obj_set_str(labels, "kubernetes.io/metadata.name", name);
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!spec)
    spec = cJSON_AddObjectToObject(obj, "spec");
  if (!cJSON_GetObjectItemCaseSensitive(spec, "finalizers")) {
    cJSON *f = cJSON_AddArrayToObject(spec, "finalizers");
    cJSON_AddItemToArray(f, cJSON_CreateString("kubernetes"));
  }
  cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
  if (!status)
    status = cJSON_AddObjectToObject(obj, "status");
  if (!cJSON_GetObjectItemCaseSensitive(status, "phase"))
    cJSON_AddStringToObject(status, "phase", "Active");
}

static cJSON *ns_cell(const char *col, const cJSON *obj) {
  const char *phase = obj_str(obj, "status.phase");
  return cJSON_CreateString(phase ? phase : "Active");
}

static const char *const ns_fields[] = {"status.phase", NULL};
static const api_hooks_t ns_hooks = {.defaults = ns_defaults,
                                     .cell = ns_cell,
                                     .selectable_fields = ns_fields,
                                     .check_name = obj_check_dns1123_label};

/* ---- ConfigMap, Secret, ServiceAccount ---- */

static void check_data_keys(const cJSON *obj, const char *field, api_status_t *st) {
  const cJSON *data = obj_get(obj, field);
  const cJSON *kv;
  cJSON_ArrayForEach(kv, data) {
    const char *k = kv->string;
    bool ok = k[0] && strlen(k) <= 253 && strcmp(k, ".") && strcmp(k, "..");
    for (const char *p = k; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '-' || *p == '_' || *p == '.';
    if (!ok) {
      char path[512];
      snprintf(path, sizeof(path), "%s[%s]", field, k);
      api__cause(st, "FieldValueInvalid", path,
                 "Invalid value: \"%s\": a valid config key must consist of alphanumeric "
                 "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                 "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                 k);
    }
  }
}

static void immutable_data(const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (!old || !cJSON_IsTrue(obj_get(old, "immutable")))
    return;
  if (!cJSON_Compare(obj_get(obj, "data"), obj_get(old, "data"), 1) ||
      !cJSON_Compare(obj_get(obj, "binaryData"), obj_get(old, "binaryData"), 1))
    api__cause(st, "FieldValueForbidden", "data",
               "Forbidden: field is immutable when `immutable` is set");
  if (!cJSON_IsTrue(obj_get(obj, "immutable")))
    api__cause(st, "FieldValueForbidden", "immutable",
               "Forbidden: field is immutable when `immutable` is set");
}

static void cm_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  check_data_keys(obj, "data", st);
  check_data_keys(obj, "binaryData", st);
  api__validate_configmap(obj, st);
  immutable_data(obj, old, st);
}

static cJSON *cm_cell(const char *col, const cJSON *obj) {
  return api__cell_count(obj, "data", "binaryData");
}

static const api_hooks_t cm_hooks = {.validate = cm_validate, .cell = cm_cell};

static void secret_defaults(cJSON *obj) {
  if (!obj_str(obj, "type"))
    obj_set_str(obj, "type", "Opaque");
  /* stringData is write-only: fold it into data, base64-encoded. */
  cJSON *sd = cJSON_DetachItemFromObjectCaseSensitive(obj, "stringData");
  if (cJSON_IsObject(sd) && cJSON_GetArraySize(sd) > 0) {
    cJSON *data = obj_child_object(obj, "data");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, sd) {
      if (!cJSON_IsString(kv))
        continue;
      char *enc = base64_encode(kv->valuestring, strlen(kv->valuestring));
      obj_set_str(data, kv->string, enc);
      free(enc);
    }
  }
  cJSON_Delete(sd);
}

static void secret_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  check_data_keys(obj, "data", st);
  const cJSON *kv;
  cJSON_ArrayForEach(kv, obj_get(obj, "data")) {
    if (!cJSON_IsString(kv) || !base64_valid(kv->valuestring)) {
      char path[512];
      snprintf(path, sizeof(path), "data[%s]", kv->string);
      api__cause(st, "FieldValueInvalid", path, "Invalid value: must be base64-encoded bytes");
    }
  }
  if (old && strcmp(obj_str(obj, "type") ? obj_str(obj, "type") : "",
                    obj_str(old, "type") ? obj_str(old, "type") : ""))
    api__cause(st, "FieldValueInvalid", "type", "Invalid value: \"%s\": field is immutable",
               obj_str(obj, "type"));
  api__validate_secret(obj, st);
  immutable_data(obj, old, st);
}

static cJSON *secret_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Type")) {
    const char *t = obj_str(obj, "type");
    return cJSON_CreateString(t ? t : "Opaque");
  }
  return api__cell_count(obj, "data", NULL);
}

static const char *const secret_fields[] = {"type", NULL};
static const api_hooks_t secret_hooks = {.defaults = secret_defaults,
                                         .validate = secret_validate,
                                         .cell = secret_cell,
                                         .selectable_fields = secret_fields};

static cJSON *sa_cell(const char *col, const cJSON *obj) {
  return api__cell_count(obj, "secrets", NULL);
}
static const api_hooks_t sa_hooks = {.cell = sa_cell};

/* ---- Node ---- */

static const cJSON *condition(const cJSON *obj, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(obj, "status.conditions")) {
    const char *t = obj_str(c, "type");
    if (t && !strcmp(t, type))
      return c;
  }
  return NULL;
}

static const char *node_address(const cJSON *obj, const char *type) {
  const cJSON *a;
  cJSON_ArrayForEach(a, obj_get(obj, "status.addresses")) {
    const char *t = obj_str(a, "type");
    if (t && !strcmp(t, type))
      return obj_str(a, "address");
  }
  return NULL;
}

static cJSON *node_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Status")) {
    const cJSON *ready = condition(obj, "Ready");
    const char *s = ready ? obj_str(ready, "status") : NULL;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s%s",
             /* upstream's printNode: "Not" + type for any status but True */
             !s ? "Unknown" : !strcmp(s, "True") ? "Ready" : "NotReady",
             cJSON_IsTrue(obj_get(obj, "spec.unschedulable")) ? ",SchedulingDisabled" : "");
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Roles")) {
    buf_t b;
    buf_init(&b, 1024);
    const cJSON *l;
    cJSON_ArrayForEach(l, obj_get(obj, "metadata.labels")) {
      const char *k = l->string;
      if (!strncmp(k, "node-role.kubernetes.io/", 24) && k[24])
        buf_printf(&b, "%s%s", b.len ? "," : "", k + 24);
      else if (!strcmp(k, "kubernetes.io/role") && cJSON_IsString(l))
        buf_printf(&b, "%s%s", b.len ? "," : "", l->valuestring);
    }
    return api__cell_take(&b, "<none>");
  }
  if (!strcmp(col, "Internal-IP") || !strcmp(col, "External-IP")) {
    const char *ip = node_address(obj, col[0] == 'I' ? "InternalIP" : "ExternalIP");
    return cJSON_CreateString(ip ? ip : "<none>");
  }
  return NULL;
}

static const char *const node_fields[] = {"spec.unschedulable", NULL};
static const api_hooks_t node_hooks = {.cell = node_cell, .selectable_fields = node_fields};

/* ---- Event, Lease, Endpoints ---- */

static cJSON *event_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Last Seen") || !strcmp(col, "First Seen")) {
    const char *ts = obj_str(obj, col[0] == 'L' ? "lastTimestamp" : "firstTimestamp");
    if (!ts)
      ts = obj_str(obj, "eventTime");
    if (!ts)
      ts = obj_str(obj, "metadata.creationTimestamp");
    return api__cell_age(ts, "<unknown>");
  }
  if (!strcmp(col, "Object")) {
    const char *kind = obj_str(obj, "involvedObject.kind");
    const char *name = obj_str(obj, "involvedObject.name");
    char buf[512];
    snprintf(buf, sizeof(buf), "%s/%s", kind ? kind : "", name ? name : "");
    for (char *p = buf; *p && *p != '/'; p++)
      if (*p >= 'A' && *p <= 'Z')
        *p = (char)(*p - 'A' + 'a');
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Source")) {
    const char *c = obj_str(obj, "source.component");
    if (!c)
      c = obj_str(obj, "reportingComponent");
    const char *h = obj_str(obj, "source.host");
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s%s", c ? c : "", h ? ", " : "", h ? h : "");
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Count")) {
    const cJSON *n = obj_get(obj, "count");
    return cJSON_CreateNumber(cJSON_IsNumber(n) ? n->valuedouble : 1);
  }
  return NULL;
}

static const char *const event_fields[] = {
    "involvedObject.kind",       "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid",        "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath",  "reason", "reportingComponent", "source", "type", NULL};
static const api_hooks_t event_hooks = {.cell = event_cell,
                                        .selectable_fields = event_fields,
                                        .create_on_update = true};

static const api_hooks_t lease_hooks = {.create_on_update = false};

static cJSON *endpoints_cell(const char *col, const cJSON *obj) {
  buf_t b;
  buf_init(&b, 4096);
  int shown = 0, total = 0;
  const cJSON *subset;
  cJSON_ArrayForEach(subset, obj_get(obj, "subsets")) {
    const cJSON *ports = obj_get(subset, "ports");
    const cJSON *addr;
    cJSON_ArrayForEach(addr, obj_get(subset, "addresses")) {
      const char *ip = obj_str(addr, "ip");
      int np = cJSON_GetArraySize(ports);
      for (int i = 0; i < (np ? np : 1); i++) {
        total++;
        if (shown >= 3)
          continue;
        const cJSON *port = np ? obj_get(cJSON_GetArrayItem(ports, i), "port") : NULL;
        if (cJSON_IsNumber(port))
          buf_printf(&b, "%s%s:%d", shown ? "," : "", ip ? ip : "", port->valueint);
        else
          buf_printf(&b, "%s%s", shown ? "," : "", ip ? ip : "");
        shown++;
      }
    }
  }
  if (total > shown)
    buf_printf(&b, " + %d more...", total - shown);
  return api__cell_take(&b, "<none>");
}
static const api_hooks_t endpoints_hooks = {
    .validate = api__validate_endpoints, .cell = endpoints_cell, .create_on_update = true};

/* ---- the table ---- */

static const api_hooks_t no_hooks = {0};
static const api_hooks_t generation_hooks = {.generation = true};

typedef struct {
  const char *group;
  const char *kind;
  const api_hooks_t *hooks;
  const char *version; /* NULL: every version */
} kind_hooks_t;

static const kind_hooks_t table[] = {
    {"", "Namespace", &ns_hooks, NULL},
    {"", "ConfigMap", &cm_hooks, NULL},
    {"", "Secret", &secret_hooks, NULL},
    {"", "ServiceAccount", &sa_hooks, NULL},
    {"", "Service", &api_kind_service, NULL},
    {"", "Pod", &api_kind_pod, NULL},
    {"", "Node", &node_hooks, NULL},
    {"", "Event", &event_hooks, NULL},
    {"", "Endpoints", &endpoints_hooks, NULL},
    {"coordination.k8s.io", "Lease", &lease_hooks, NULL},
    {"", "ReplicationController", &api_kind_workload_core, NULL},
    {"apps", "Deployment", &api_kind_workload, NULL},
    {"apps", "ReplicaSet", &api_kind_workload, NULL},
    {"apps", "StatefulSet", &api_kind_workload, NULL},
    {"apps", "DaemonSet", &api_kind_workload, NULL},
    {"apps", "ControllerRevision", &api_kind_workload, NULL},
    {"batch", "Job", &api_kind_workload, NULL},
    {"batch", "CronJob", &api_kind_workload, NULL},
    {"", "PersistentVolumeClaim", &api_kind_pvc, NULL},
    {"", "PersistentVolume", &api_kind_pv, NULL},
    {"", "ResourceQuota", &api_kind_resourcequota, NULL},
    {"", "LimitRange", &api_kind_limitrange, NULL},
    {"", "PodTemplate", &api_kind_podtemplate, NULL},
    {"storage.k8s.io", "StorageClass", &api_kind_storageclass, NULL},
    {"storage.k8s.io", "CSIDriver", &api_kind_csidriver, NULL},
    {"storage.k8s.io", "CSINode", &api_kind_csinode, NULL},
    {"storage.k8s.io", "VolumeAttachment", &api_kind_volumeattachment, NULL},
    {"networking.k8s.io", "Ingress", &api_kind_ingress, NULL},
    {"networking.k8s.io", "IngressClass", &api_kind_ingressclass, NULL},
    {"networking.k8s.io", "NetworkPolicy", &api_kind_networkpolicy, NULL},
    {"discovery.k8s.io", "EndpointSlice", &api_kind_endpointslice, NULL},
    {"rbac.authorization.k8s.io", "Role", &api_kind_role, NULL},
    {"rbac.authorization.k8s.io", "ClusterRole", &api_kind_clusterrole, NULL},
    {"rbac.authorization.k8s.io", "RoleBinding", &api_kind_rolebinding, NULL},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", &api_kind_clusterrolebinding, NULL},
    {"policy", "PodDisruptionBudget", &api_kind_pdb, NULL},
    {"autoscaling", "HorizontalPodAutoscaler", &api_kind_hpa_v1, "v1"},
    {"autoscaling", "HorizontalPodAutoscaler", &api_kind_hpa, NULL},
    {"scheduling.k8s.io", "PriorityClass", &api_kind_priorityclass, NULL},
    {"certificates.k8s.io", "CertificateSigningRequest", &api_kind_csr, NULL},
    {"events.k8s.io", "Event", &api_kind_event_v1, NULL},
    {"apiextensions.k8s.io", "CustomResourceDefinition", &api_kind_crd, NULL},
    {"apiregistration.k8s.io", "APIService", &api_kind_apiservice, NULL},
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration", &api_kind_mwc, NULL},
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration", &api_kind_vwc, NULL},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicy", &api_kind_vap, NULL},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", &api_kind_vapb, NULL},
    {"metrics.k8s.io", "NodeMetrics", &api_kind_node_metrics, NULL},
    {"metrics.k8s.io", "PodMetrics", &api_kind_pod_metrics, NULL},
};

const api_hooks_t *api_kind_hooks(const char *group, const char *version, const char *kind) {
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (!strcmp(table[i].group, group) && !strcmp(table[i].kind, kind) &&
        (!table[i].version || !strcmp(table[i].version, version)))
      return table[i].hooks;
  /* Workloads and most non-core kinds track spec changes in generation. */
  return group[0] ? &generation_hooks : &no_hooks;
}
