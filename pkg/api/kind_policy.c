/* Policy-like kinds: PodDisruptionBudget (policy/v1), HorizontalPodAutoscaler
 * (autoscaling/v2), PriorityClass (scheduling.k8s.io/v1),
 * CertificateSigningRequest (certificates.k8s.io/v1), ResourceQuota,
 * LimitRange, PodTemplate (core/v1) and events.k8s.io/v1 Event: upstream
 * defaults (pkg/apis/<group>/v1/defaults.go), validation wording
 * (pkg/apis/<group>/validation) and printer cells (pkg/printers). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/admission.h"
#include "api/kinds.h"
#include "api/object.h"
#include "util/buf.h"
#include "util/strmap.h"

/* An int-or-string or quantity as text. */
static void scalar_text(const cJSON *v, char *buf, size_t n) {
  if (cJSON_IsString(v))
    snprintf(buf, n, "%s", v->valuestring);
  else if (cJSON_IsNumber(v))
    snprintf(buf, n, "%g", v->valuedouble);
  else
    snprintf(buf, n, "<unknown>");
}

/* ---- PodDisruptionBudget ---- */

static void pdb_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const cJSON *mina = obj_get(obj, "spec.minAvailable"), *maxu = obj_get(obj, "spec.maxUnavailable");
  if (mina && maxu && !cJSON_IsNull(mina) && !cJSON_IsNull(maxu))
    api__cause(st, "FieldValueInvalid", "spec",
               "Invalid value: \"\": minAvailable and maxUnavailable cannot be both set");
  const char *p = obj_str(obj, "spec.unhealthyPodEvictionPolicy");
  if (p && strcmp(p, "IfHealthyBudget") && strcmp(p, "AlwaysAllow"))
    api__cause(st, "FieldValueNotSupported", "spec.unhealthyPodEvictionPolicy",
               "Unsupported value: \"%s\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\"", p);
}

static cJSON *pdb_cell(const char *col, const cJSON *obj) {
  const cJSON *v = obj_get(obj, !strcmp(col, "Min Available") ? "spec.minAvailable" : "spec.maxUnavailable");
  if (!v || cJSON_IsNull(v))
    return cJSON_CreateString("N/A");
  char buf[64];
  scalar_text(v, buf, sizeof(buf));
  return cJSON_CreateString(buf);
}

const api_hooks_t api_kind_pdb = {.validate = pdb_validate, .cell = pdb_cell, .generation = true};

/* ---- HorizontalPodAutoscaler (autoscaling/v2) ---- */

static cJSON *policy(const char *type, int value, int period) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", type);
  cJSON_AddNumberToObject(p, "value", value);
  cJSON_AddNumberToObject(p, "periodSeconds", period);
  return p;
}

static void hpa_rules(cJSON *behavior, const char *which, bool up) {
  cJSON *r = obj_child_object(behavior, which);
  if (up && !cJSON_GetObjectItemCaseSensitive(r, "stabilizationWindowSeconds"))
    cJSON_AddNumberToObject(r, "stabilizationWindowSeconds", 0);
  if (!cJSON_GetObjectItemCaseSensitive(r, "selectPolicy"))
    cJSON_AddStringToObject(r, "selectPolicy", "Max");
  if (!cJSON_GetObjectItemCaseSensitive(r, "policies")) {
    cJSON *ps = cJSON_AddArrayToObject(r, "policies");
    if (up)
      cJSON_AddItemToArray(ps, policy("Pods", 4, 15));
    cJSON_AddItemToArray(ps, policy("Percent", 100, 15));
  }
}

static void hpa_defaults(cJSON *obj) {
  cJSON *spec = obj_child_object(obj, "spec");
  if (!cJSON_GetObjectItemCaseSensitive(spec, "minReplicas"))
    cJSON_AddNumberToObject(spec, "minReplicas", 1);
  if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "metrics")) == 0) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "metrics");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "Resource");
    cJSON *res = cJSON_AddObjectToObject(m, "resource");
    cJSON_AddStringToObject(res, "name", "cpu");
    cJSON *t = cJSON_AddObjectToObject(res, "target");
    cJSON_AddStringToObject(t, "type", "Utilization");
    cJSON_AddNumberToObject(t, "averageUtilization", 80);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "metrics"), m);
  }
  cJSON *behavior = cJSON_GetObjectItemCaseSensitive(spec, "behavior");
  if (cJSON_IsObject(behavior)) {
    hpa_rules(behavior, "scaleUp", true);
    hpa_rules(behavior, "scaleDown", false);
  }
}

static void hpa_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (!obj_str(obj, "spec.scaleTargetRef.kind"))
    api__cause_required(st, "spec.scaleTargetRef.kind");
  if (!obj_str(obj, "spec.scaleTargetRef.name"))
    api__cause_required(st, "spec.scaleTargetRef.name");
  const cJSON *mn = obj_get(obj, "spec.minReplicas"), *mx = obj_get(obj, "spec.maxReplicas");
  if (cJSON_IsNumber(mn) && mn->valueint < 1)
    api__cause(st, "FieldValueInvalid", "spec.minReplicas",
               "Invalid value: %d: must be greater than or equal to 1", mn->valueint);
  if (!cJSON_IsNumber(mx) || mx->valueint < 1)
    api__cause(st, "FieldValueInvalid", "spec.maxReplicas",
               "Invalid value: %d: must be greater than 0", cJSON_IsNumber(mx) ? mx->valueint : 0);
  else if (cJSON_IsNumber(mn) && mx->valueint < mn->valueint)
    api__cause(st, "FieldValueInvalid", "spec.maxReplicas",
               "Invalid value: %d: must be greater than or equal to `minReplicas`", mx->valueint);
}

/* "cpu: 40%/80%" and friends, as upstream's formatHPAMetrics. */
static void hpa_target(buf_t *b, const cJSON *spec_m, const cJSON *status_m) {
  const char *type = obj_str(spec_m, "type");
  char cur[64] = "<unknown>", tgt[64] = "";
  const char *name = NULL;
  const char *section = !type                            ? NULL
                        : !strcmp(type, "Resource")          ? "resource"
                        : !strcmp(type, "ContainerResource") ? "containerResource"
                        : !strcmp(type, "Pods")              ? "pods"
                        : !strcmp(type, "Object")            ? "object"
                        : !strcmp(type, "External")          ? "external"
                                                             : NULL;
  if (!section) {
    buf_printf(b, "%s<unknown type>", b->len ? ", " : "");
    return;
  }
  const cJSON *src = obj_get(spec_m, section);
  const cJSON *t = obj_get(src, "target");
  const cJSON *cs = obj_get(status_m, section);
  const cJSON *cv = obj_get(cs, "current");
  bool resource = !strcmp(section, "resource") || !strcmp(section, "containerResource");
  name = resource ? obj_str(src, "name") : obj_str(src, "metric.name");
  const cJSON *util = obj_get(t, "averageUtilization");
  if (cJSON_IsNumber(util)) {
    snprintf(tgt, sizeof(tgt), "%d%%", util->valueint);
    const cJSON *cu = obj_get(cv, "averageUtilization");
    if (cJSON_IsNumber(cu))
      snprintf(cur, sizeof(cur), "%d%%", cu->valueint);
  } else {
    const char *key = obj_get(t, "averageValue") ? "averageValue" : "value";
    scalar_text(obj_get(t, key), tgt, sizeof(tgt));
    if (obj_get(cv, key))
      scalar_text(obj_get(cv, key), cur, sizeof(cur));
  }
  if (resource)
    buf_printf(b, "%s%s: %s/%s", b->len ? ", " : "", name ? name : "", cur, tgt);
  else
    buf_printf(b, "%s%s/%s", b->len ? ", " : "", cur, tgt);
}

static cJSON *hpa_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Reference")) {
    char buf[512];
    const char *k = obj_str(obj, "spec.scaleTargetRef.kind"), *n = obj_str(obj, "spec.scaleTargetRef.name");
    snprintf(buf, sizeof(buf), "%s/%s", k ? k : "", n ? n : "");
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Targets")) {
    buf_t b;
    buf_init(&b, 4096);
    const cJSON *metrics = obj_get(obj, "spec.metrics");
    int n = cJSON_GetArraySize(metrics);
    for (int i = 0; i < n && i < 3; i++)
      hpa_target(&b, cJSON_GetArrayItem(metrics, i),
                 cJSON_GetArrayItem(obj_get(obj, "status.currentMetrics"), i));
    if (n > 3)
      buf_printf(&b, " + %d more...", n - 3);
    return api__cell_take(&b, "<none>");
  }
  if (!strcmp(col, "MinPods")) {
    const cJSON *v = obj_get(obj, "spec.minReplicas");
    return cJSON_IsNumber(v) ? cJSON_CreateNumber(v->valuedouble) : cJSON_CreateString("<unset>");
  }
  const cJSON *v = obj_get(obj, !strcmp(col, "MaxPods") ? "spec.maxReplicas" : "status.currentReplicas");
  return cJSON_CreateNumber(cJSON_IsNumber(v) ? v->valuedouble : 0);
}

const api_hooks_t api_kind_hpa = {
    .defaults = hpa_defaults, .validate = hpa_validate, .cell = hpa_cell, .generation = true};

/* ---- PriorityClass ---- */

static void pc_defaults(cJSON *obj) {
  if (!cJSON_GetObjectItemCaseSensitive(obj, "preemptionPolicy"))
    cJSON_AddStringToObject(obj, "preemptionPolicy", "PreemptLowerPriority");
}

static void pc_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *name = obj_str(obj, "metadata.name");
  const cJSON *value = obj_get(obj, "value");
  if (!old && name && !strncmp(name, "system-", 7)) {
    if (strcmp(name, "system-node-critical") && strcmp(name, "system-cluster-critical"))
      api__cause(st, "FieldValueForbidden", "metadata.name",
                 "Forbidden: priority class names with 'system-' prefix are reserved for system use "
                 "only. error: %s is not a known system priority class",
                 name);
  } else if (cJSON_IsNumber(value) && value->valuedouble > 1000000000) {
    api__cause(st, "FieldValueForbidden", "value",
               "Forbidden: maximum allowed value of a user defined priority is 1000000000");
  }
  const char *pp = obj_str(obj, "preemptionPolicy");
  if (pp && strcmp(pp, "PreemptLowerPriority") && strcmp(pp, "Never"))
    api__cause(st, "FieldValueNotSupported", "preemptionPolicy",
               "Unsupported value: \"%s\": supported values: \"Never\", \"PreemptLowerPriority\"", pp);
  if (old) {
    if (!cJSON_Compare(value, obj_get(old, "value"), 1))
      api__cause(st, "FieldValueForbidden", "value", "Forbidden: may not be changed in an update.");
    api__validate_immutable(obj_get(obj, "preemptionPolicy"), obj_get(old, "preemptionPolicy"),
                            "preemptionPolicy", st);
  }
}

static cJSON *pc_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Global-Default"))
    return cJSON_CreateBool(cJSON_IsTrue(obj_get(obj, "globalDefault")));
  return api__cell_string(obj_str(obj, "preemptionPolicy"), "<unset>");
}

const api_hooks_t api_kind_priorityclass = {
    .defaults = pc_defaults, .validate = pc_validate, .cell = pc_cell};

/* ---- CertificateSigningRequest ---- */

/* Conditions of a type: Approved and Denied are set through the approval
 * subresource, Failed through status; none of them may be removed. */
static int count_type(const cJSON *conds, const char *type) {
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    const char *t = obj_str(c, "type");
    n += t && !strcmp(t, type);
  }
  return n;
}

static void csr_validate_conditions(const cJSON *obj, const cJSON *old, api_status_t *st) {
  static const char *const true_only[] = {"Approved", "Denied", "Failed"};
  const cJSON *conds = obj_get(obj, "status.conditions");
  const cJSON *old_conds = obj_get(old, "status.conditions");
  bool approved = false, denied = false;
  /* upstream tolerates what an old object already holds */
  bool both_ok = old && count_type(old_conds, "Approved") && count_type(old_conds, "Denied");
  strmap_t seen; /* condition types so far: duplicates in O(1), not a rescan */
  strmap_init(&seen);
  int i = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    char field[64];
    const char *type = obj_str(c, "type");
    const char *status = obj_str(c, "status");
    snprintf(field, sizeof(field), "status.conditions[%d].type", i);
    if (!type || !type[0])
      api__cause_required(st, field);
    bool only_true = false;
    for (size_t k = 0; type && k < 3; k++)
      only_true = only_true || !strcmp(type, true_only[k]);
    snprintf(field, sizeof(field), "status.conditions[%d].status", i);
    if (!status || !status[0])
      api__cause_required(st, field);
    else if (only_true && strcmp(status, "True"))
      api__cause(st, "FieldValueNotSupported", field,
                 "Unsupported value: \"%s\": supported values: \"True\"", status);
    else if (!only_true && strcmp(status, "True") && strcmp(status, "False") &&
             strcmp(status, "Unknown"))
      api__cause(st, "FieldValueNotSupported", field,
                 "Unsupported value: \"%s\": supported values: \"False\", \"True\", \"Unknown\"",
                 status);
    snprintf(field, sizeof(field), "status.conditions[%d].type", i);
    if (type && !strcmp(type, "Approved"))
      approved = true;
    if (type && !strcmp(type, "Denied"))
      denied = true;
    if (!both_ok && approved && denied && type &&
        (!strcmp(type, "Approved") || !strcmp(type, "Denied")))
      api__cause(st, "FieldValueInvalid", field,
                 "Invalid value: \"%s\": Approved and Denied conditions are mutually exclusive",
                 type);
    /* a duplicate: the same type earlier in the list */
    if (type && strmap_put(&seen, type, (void *)c, NULL) == -EEXIST)
      api__cause(st, "FieldValueDuplicate", field, "Duplicate value: \"%s\"", type);
    i++;
  }
  strmap_done(&seen);
  for (size_t k = 0; old && k < 3; k++)
    if (count_type(conds, true_only[k]) < count_type(old_conds, true_only[k]))
      api__cause(st, "FieldValueForbidden", "status.conditions",
                 "Forbidden: updates may not remove a condition of type \"%s\"", true_only[k]);
}

/* Updates other than through /approval (upstream's status strategy): the
 * Approved and Denied conditions stay as they were, instance for instance,
 * and adding one is refused; the certificate, once issued, is not replaced. */
static void csr_update_subresource(cJSON *obj, const cJSON *old, const char *sub,
                                   api_status_t *st) {
  if (sub && !strcmp(sub, "approval"))
    return;
  static const char *const decisions[] = {"Approved", "Denied"};
  cJSON *conds = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "status"),
                                                  "conditions");
  const cJSON *old_conds = obj_get(old, "status.conditions");
  for (size_t k = 0; k < 2; k++) {
    int n = count_type(conds, decisions[k]), old_n = count_type(old_conds, decisions[k]);
    if (n > old_n) {
      api__cause(st, "FieldValueForbidden", "status.conditions",
                 "Forbidden: updates may not add a condition of type \"%s\"", decisions[k]);
      continue;
    }
    if (n < old_n)
      continue; /* validation refuses the removal */
    /* the same number: each instance becomes the old one in its place */
    const cJSON *o = old_conds ? old_conds->child : NULL;
    for (int i = 0; i < cJSON_GetArraySize(conds); i++) {
      cJSON *c = cJSON_GetArrayItem(conds, i);
      const char *t = obj_str(c, "type");
      if (!t || strcmp(t, decisions[k]))
        continue;
      while (o && (!obj_str(o, "type") || strcmp(obj_str(o, "type"), decisions[k])))
        o = o->next;
      if (!o)
        break;
      cJSON_ReplaceItemInArray(conds, i, cJSON_Duplicate(o, 1));
      o = o->next;
    }
  }
  const char *cert = obj_str(obj, "status.certificate"), *old_cert = obj_str(old, "status.certificate");
  if (old_cert && old_cert[0] && (!cert || strcmp(cert, old_cert)))
    api__cause(st, "FieldValueForbidden", "status.certificate",
               "Forbidden: updates may not modify existing certificate content");
}

static void csr_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (!obj_str(obj, "spec.request"))
    api__cause_required(st, "spec.request");
  else
    api__validate_csr_request(obj, st);
  if (!obj_str(obj, "spec.signerName"))
    api__cause_required(st, "spec.signerName");
  if (cJSON_GetArraySize(obj_get(obj, "spec.usages")) == 0)
    api__cause_required(st, "spec.usages");
  if (old)
    api__validate_immutable(obj_get(obj, "spec"), obj_get(old, "spec"), "spec", st);
  csr_validate_conditions(obj, old, st);
}

/* Condition times the client left out: lastUpdateTime now; lastTransitionTime
 * kept from the old condition of the same type and status, else now
 * (upstream populateConditionTimestamps). */
static int csr_admit_update(api_server_t *srv, cJSON *obj, const cJSON *old, api_status_t *st) {
  (void)srv;
  (void)st;
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  cJSON *conds = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "status"),
                                                  "conditions");
  cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    if (!cJSON_IsObject(c))
      continue;
    if (!obj_str(c, "lastUpdateTime"))
      obj_set_str(c, "lastUpdateTime", now);
    if (obj_str(c, "lastTransitionTime"))
      continue;
    const char *since = now;
    const char *type = obj_str(c, "type"), *status = obj_str(c, "status");
    const cJSON *o;
    cJSON_ArrayForEach(o, obj_get(old, "status.conditions")) {
      const char *ot = obj_str(o, "type"), *os = obj_str(o, "status");
      const char *ots = obj_str(o, "lastTransitionTime");
      if (type && status && ot && os && ots && !strcmp(ot, type) && !strcmp(os, status)) {
        since = ots;
        break;
      }
    }
    obj_set_str(c, "lastTransitionTime", since);
  }
  return 0;
}

static cJSON *csr_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Requestor"))
    return api__cell_string(obj_str(obj, "spec.username"), "");
  if (!strcmp(col, "RequestedDuration")) {
    const cJSON *e = obj_get(obj, "spec.expirationSeconds");
    if (!cJSON_IsNumber(e))
      return cJSON_CreateString("<none>");
    char buf[32];
    obj_human_duration((int64_t)e->valuedouble, buf, sizeof(buf));
    return cJSON_CreateString(buf);
  }
  buf_t b;
  buf_init(&b, 256);
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(obj, "status.conditions")) {
    const char *t = obj_str(c, "type");
    if (t)
      buf_printf(&b, "%s%s", b.len ? "," : "", t);
  }
  if (b.len == 0)
    buf_append_str(&b, "Pending");
  if (obj_str(obj, "status.certificate"))
    buf_append_str(&b, ",Issued");
  return api__cell_take(&b, "Pending");
}

const api_hooks_t api_kind_csr = {
    .validate = csr_validate, .cell = csr_cell, .admit_update = csr_admit_update,
    .update_subresource = csr_update_subresource};

/* ---- ResourceQuota, LimitRange, PodTemplate ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *quota_cell(const char *col, const cJSON *obj) {
  bool limits = !strcmp(col, "Limit");
  const cJSON *hard = obj_get(obj, "status.hard");
  const cJSON *used = obj_get(obj, "status.used");
  const char *keys[256];
  size_t n = 0;
  const cJSON *kv;
  cJSON_ArrayForEach(kv, hard) {
    if (n < 256)
      keys[n++] = kv->string;
  }
  qsort(keys, n, sizeof(keys[0]), cmp_str);
  buf_t b;
  buf_init(&b, 8192);
  for (size_t i = 0; i < n; i++) {
    if ((strncmp(keys[i], "limits.", 7) == 0) != limits)
      continue;
    char h[64], u[64] = "0";
    scalar_text(cJSON_GetObjectItemCaseSensitive(hard, keys[i]), h, sizeof(h));
    if (cJSON_GetObjectItemCaseSensitive(used, keys[i]))
      scalar_text(cJSON_GetObjectItemCaseSensitive(used, keys[i]), u, sizeof(u));
    buf_printf(&b, "%s%s: %s/%s", b.len ? ", " : "", keys[i], u, h);
  }
  return api__cell_take(&b, "");
}

static void quota_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const cJSON *kv;
  cJSON_ArrayForEach(kv, obj_get(obj, "spec.hard")) {
    if (!cJSON_IsString(kv) && !cJSON_IsNumber(kv)) {
      char f[300];
      snprintf(f, sizeof(f), "spec.hard[%s]", kv->string);
      api__cause(st, "FieldValueInvalid", f, "Invalid value: must be a quantity");
    }
  }
}

const api_hooks_t api_kind_resourcequota = {.validate = quota_validate, .cell = quota_cell};

static void limitrange_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  int i = 0;
  const cJSON *l;
  cJSON_ArrayForEach(l, obj_get(obj, "spec.limits")) {
    const char *t = obj_str(l, "type");
    char f[64];
    snprintf(f, sizeof(f), "spec.limits[%d].type", i);
    if (!t || !t[0])
      api__cause_required(st, f);
    i++;
  }
}

const api_hooks_t api_kind_limitrange = {.defaults = api__limitrange_defaults,
                                         .validate = limitrange_validate};

static void podtemplate_defaults(cJSON *obj) {
  cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "template");
  if (cJSON_IsObject(t))
    api__pod_spec_defaults(obj_child_object(t, "spec"));
}

static cJSON *podtemplate_cell(const char *col, const cJSON *obj) {
  buf_t b;
  buf_init(&b, 8192);
  const cJSON *x;
  if (!strcmp(col, "Pod Labels")) {
    const char *keys[128];
    size_t n = 0;
    const cJSON *labels = obj_get(obj, "template.metadata.labels");
    cJSON_ArrayForEach(x, labels) {
      if (n < 128)
        keys[n++] = x->string;
    }
    qsort(keys, n, sizeof(keys[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
      const cJSON *vj = cJSON_GetObjectItemCaseSensitive(labels, keys[i]);
      const char *v = cJSON_IsString(vj) ? vj->valuestring : NULL;
      buf_printf(&b, "%s%s=%s", b.len ? "," : "", keys[i], v ? v : "");
    }
    return api__cell_take(&b, "<none>");
  }
  const char *field = !strcmp(col, "Containers") ? "name" : "image";
  cJSON_ArrayForEach(x, obj_get(obj, "template.spec.containers")) {
    const char *v = obj_str(x, field);
    buf_printf(&b, "%s%s", b.len ? "," : "", v ? v : "");
  }
  return api__cell_take(&b, "<none>");
}

static void podtemplate_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (obj_get(obj, "template"))
    api__pod_spec_validate(obj_get(obj, "template.spec"), "template.spec", st);
}

const api_hooks_t api_kind_podtemplate = {
    .defaults = podtemplate_defaults, .validate = podtemplate_validate, .cell = podtemplate_cell};

/* ---- events.k8s.io/v1 Event ---- */

static void event_v1_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (!obj_str(obj, "eventTime"))
    api__cause_required(st, "eventTime");
  const char *t = obj_str(obj, "type");
  if (!t || (strcmp(t, "Normal") && strcmp(t, "Warning")))
    api__cause(st, "FieldValueInvalid", "type", "Invalid value: \"%s\": has invalid value: %s",
               t ? t : "", t ? t : "");
  static const char *const req[] = {"reportingController", "reportingInstance", "action", "reason"};
  for (size_t i = 0; i < 4; i++)
    if (!obj_str(obj, req[i]))
      api__cause_required(st, req[i]);
  const char *note = obj_str(obj, "note");
  if (note && strlen(note) > 1024)
    api__cause(st, "FieldValueTooLong", "note", "Too long: may not be more than 1024 bytes");
}

static cJSON *event_v1_cell(const char *col, const cJSON *obj) {
  char buf[512];
  if (!strcmp(col, "Last Seen")) {
    const char *ts = obj_str(obj, "deprecatedLastTimestamp");
    if (!ts)
      ts = obj_str(obj, "series.lastObservedTime");
    if (!ts)
      ts = obj_str(obj, "eventTime");
    return api__cell_age(ts, "<unknown>");
  }
  if (!strcmp(col, "First Seen")) {
    const char *ts = obj_str(obj, "deprecatedFirstTimestamp");
    return api__cell_age(ts ? ts : obj_str(obj, "eventTime"), "<unknown>");
  }
  if (!strcmp(col, "Object")) {
    const char *kind = obj_str(obj, "regarding.kind"), *name = obj_str(obj, "regarding.name");
    snprintf(buf, sizeof(buf), "%s/%s", kind ? kind : "", name ? name : "");
    for (char *p = buf; *p && *p != '/'; p++)
      if (*p >= 'A' && *p <= 'Z')
        *p = (char)(*p - 'A' + 'a');
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Subobject"))
    return api__cell_string(obj_str(obj, "regarding.fieldPath"), "");
  if (!strcmp(col, "Source")) {
    const char *c = obj_str(obj, "deprecatedSource.component");
    const char *h = obj_str(obj, "deprecatedSource.host");
    if (!c) {
      c = obj_str(obj, "reportingController");
      h = obj_str(obj, "reportingInstance");
    }
    snprintf(buf, sizeof(buf), "%s%s%s", c ? c : "", h ? ", " : "", h ? h : "");
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Message"))
    return api__cell_string(obj_str(obj, "note"), "");
  if (!strcmp(col, "Count")) {
    const cJSON *n = obj_get(obj, "deprecatedCount");
    if (!cJSON_IsNumber(n) || n->valueint == 0)
      n = obj_get(obj, "series.count");
    snprintf(buf, sizeof(buf), "%d", cJSON_IsNumber(n) && n->valueint ? n->valueint : 1);
    return cJSON_CreateString(buf);
  }
  return NULL;
}

static const char *const event_v1_fields[] = {
    "regarding.kind",      "regarding.namespace", "regarding.name", "regarding.uid",
    "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath", "reason", "type",
    "reportingController", NULL};
const api_hooks_t api_kind_event_v1 = {.storage_version = "v1",
                                       .to_storage = api__event_to_core,
                                       .from_storage = api__event_from_core,
                                       .validate = event_v1_validate,
                                       .cell = event_v1_cell,
                                       .selectable_fields = event_v1_fields,
                                       .create_on_update = true};
