/* Workload kinds (Deployment, ReplicaSet, StatefulSet, DaemonSet,
 * ReplicationController, Job, CronJob, ControllerRevision): Table cells as
 * upstream's printers compute them (k8s.io/kubernetes/pkg/printers), and the
 * defaults and validation of pkg/apis/{apps,batch,core}/v1 defaults.go and
 * pkg/apis/{apps,batch}/validation, with upstream wording. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/kinds.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"

static int num(const cJSON *obj, const char *path, int dflt) {
  const cJSON *v = obj_get(obj, path);
  return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* "name,name" of the template's containers, or their images. */
static cJSON *template_list(const cJSON *obj, const char *tmpl, const char *field) {
  char path[128];
  snprintf(path, sizeof(path), "%s.spec.containers", tmpl);
  buf_t b;
  buf_init(&b, 8192);
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(obj, path)) {
    const char *v = obj_str(c, field);
    buf_printf(&b, "%s%s", b.len ? "," : "", v ? v : "");
  }
  return api__cell_take(&b, "<none>");
}

/* Label selector in its string form (matchLabels and matchExpressions). */
cJSON *api__cell_selector(const cJSON *sel) {
  buf_t b;
  buf_init(&b, 8192);
  const cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
  const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
  const cJSON *kv;
  if (!ml && !me)
    ml = sel; /* ReplicationController: a plain map */
  cJSON_ArrayForEach(kv, ml) {
    if (cJSON_IsString(kv))
      buf_printf(&b, "%s%s=%s", b.len ? "," : "", kv->string, kv->valuestring);
  }
  cJSON_ArrayForEach(kv, me) {
    const char *key = obj_str(kv, "key"), *op = obj_str(kv, "operator");
    if (!key || !op)
      continue;
    if (!strcmp(op, "Exists")) {
      buf_printf(&b, "%s%s", b.len ? "," : "", key);
    } else if (!strcmp(op, "DoesNotExist")) {
      buf_printf(&b, "%s!%s", b.len ? "," : "", key);
    } else {
      buf_printf(&b, "%s%s %s (", b.len ? "," : "", key, !strcmp(op, "In") ? "in" : "notin");
      const cJSON *v;
      int i = 0;
      cJSON_ArrayForEach(v, obj_get(kv, "values")) {
        if (cJSON_IsString(v))
          buf_printf(&b, "%s%s", i++ ? "," : "", v->valuestring);
      }
      buf_append_str(&b, ")");
    }
  }
  return api__cell_take(&b, "<none>");
}


static bool has_condition(const cJSON *obj, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, obj_get(obj, "status.conditions")) {
    const char *t = obj_str(c, "type"), *s = obj_str(c, "status");
    if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
      return true;
  }
  return false;
}

static cJSON *job_cell(const char *col, const cJSON *obj) {
  char buf[64];
  if (!strcmp(col, "Status")) {
    const char *s = has_condition(obj, "Complete")        ? "Complete"
                    : has_condition(obj, "Failed")        ? "Failed"
                    : has_condition(obj, "FailureTarget") ? "FailureTarget"
                    : has_condition(obj, "SuccessCriteriaMet") ? "SuccessCriteriaMet"
                    : has_condition(obj, "Suspended")     ? "Suspended"
                    : obj_get(obj, "metadata.deletionTimestamp") ? "Terminating"
                                                                 : "Running";
    return cJSON_CreateString(s);
  }
  if (!strcmp(col, "Completions")) {
    const char *mode = obj_str(obj, "spec.completionMode");
    int succeeded = num(obj, "status.succeeded", 0);
    const cJSON *comp = obj_get(obj, "spec.completions");
    if (cJSON_IsNumber(comp))
      snprintf(buf, sizeof(buf), "%d/%d", succeeded, comp->valueint);
    else if (mode && !strcmp(mode, "Indexed"))
      snprintf(buf, sizeof(buf), "%d", succeeded);
    else if (num(obj, "spec.parallelism", 1) > 1)
      snprintf(buf, sizeof(buf), "%d/1 of %d", succeeded, num(obj, "spec.parallelism", 1));
    else
      snprintf(buf, sizeof(buf), "%d/1", succeeded);
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Duration")) {
    const char *start = obj_str(obj, "status.startTime");
    const char *end = obj_str(obj, "status.completionTime");
    time_t s = start ? obj_time_parse(start) : -1;
    if (s < 0)
      return cJSON_CreateString("");
    time_t e = end ? obj_time_parse(end) : time(NULL);
    obj_human_duration((int64_t)(e - s), buf, sizeof(buf));
    return cJSON_CreateString(buf);
  }
  return NULL;
}

static cJSON *cronjob_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Timezone")) {
    const char *tz = obj_str(obj, "spec.timeZone");
    return cJSON_CreateString(tz ? tz : "<none>");
  }
  if (!strcmp(col, "Suspend")) { /* upstream's printBoolPtr: a string */
    const cJSON *v = obj_get(obj, "spec.suspend");
    return cJSON_CreateString(!cJSON_IsBool(v) ? "<unset>" : cJSON_IsTrue(v) ? "True" : "False");
  }
  if (!strcmp(col, "Active"))
    return cJSON_CreateNumber(cJSON_GetArraySize(obj_get(obj, "status.active")));
  if (!strcmp(col, "Last Schedule"))
    return api__cell_age(obj_str(obj, "status.lastScheduleTime"), "<none>");
  return NULL;
}

static cJSON *workload_cell(const char *col, const cJSON *obj) {
  const char *kind = obj_str(obj, "kind");
  bool job = kind && !strcmp(kind, "Job");
  bool cron = kind && !strcmp(kind, "CronJob");
  const char *tmpl = cron ? "spec.jobTemplate.spec.template" : "spec.template";
  if (!strcmp(col, "Containers"))
    return template_list(obj, tmpl, "name");
  if (!strcmp(col, "Images"))
    return template_list(obj, tmpl, "image");
  if (!strcmp(col, "Selector"))
    return api__cell_selector(obj_get(obj, cron ? "spec.jobTemplate.spec.selector" : "spec.selector"));
  if (!strcmp(col, "Ready")) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%d/%d", num(obj, "status.readyReplicas", 0),
             num(obj, "spec.replicas", 1));
    return cJSON_CreateString(buf);
  }
  if (!strcmp(col, "Node Selector")) {
    buf_t b;
    buf_init(&b, 4096);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj_get(obj, "spec.template.spec.nodeSelector")) {
      if (cJSON_IsString(kv))
        buf_printf(&b, "%s%s=%s", b.len ? "," : "", kv->string, kv->valuestring);
    }
    return api__cell_take(&b, "<none>");
  }
  if (!strcmp(col, "Controller")) {
    const cJSON *o;
    cJSON_ArrayForEach(o, obj_get(obj, "metadata.ownerReferences")) {
      if (cJSON_IsTrue(obj_get(o, "controller"))) {
        char buf[512];
        const char *k = obj_str(o, "kind"), *n = obj_str(o, "name");
        const char *av = obj_str(o, "apiVersion");
        const char *slash = av ? strchr(av, '/') : NULL;
        char group[128] = "";
        if (slash)
          snprintf(group, sizeof(group), ".%.*s", (int)(slash - av), av);
        snprintf(buf, sizeof(buf), "%s%s/%s", k ? k : "", group, n ? n : "");
        for (char *p = buf; *p && *p != '.' && *p != '/'; p++)
          if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        return cJSON_CreateString(buf);
      }
    }
    return cJSON_CreateString("<none>");
  }
  if (job)
    return job_cell(col, obj);
  if (cron)
    return cronjob_cell(col, obj);
  return NULL;
}

cJSON *api__cell_string(const char *s, const char *empty) {
  return cJSON_CreateString(s && s[0] ? s : empty);
}

/* ---- defaults ---- */

static cJSON *child_obj(cJSON *parent, const char *key) {
  cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);
  if (!cJSON_IsObject(o)) {
    cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
    o = cJSON_AddObjectToObject(parent, key);
  }
  return o;
}

static void dflt_num(cJSON *o, const char *key, double v) {
  if (cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddNumberToObject(o, key, v);
}

static void dflt_str(cJSON *o, const char *key, const char *v) {
  if (cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddStringToObject(o, key, v);
}

static void dflt_bool(cJSON *o, const char *key, bool v) {
  if (cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddBoolToObject(o, key, v);
}

static void template_defaults(cJSON *tmpl) {
  if (!cJSON_IsObject(tmpl))
    return;
  api__pod_spec_defaults(child_obj(tmpl, "spec"));
}

/* PersistentVolumeClaims of a StatefulSet's volumeClaimTemplates. */
static void claim_template_defaults(cJSON *pvc) {
  if (!cJSON_IsObject(pvc))
    return;
  dflt_str(child_obj(pvc, "spec"), "volumeMode", "Filesystem");
  dflt_str(child_obj(pvc, "status"), "phase", "Pending");
}

/* A Job's generated selector and pod labels (upstream generateSelector,
 * unless spec.manualSelector): the job-name and controller-uid labels the
 * template lacks, and controller-uid in the selector's matchLabels, also
 * when the user gave a selector. */
static void job_selector(cJSON *obj, cJSON *spec) {
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "manualSelector")))
    return;
  const char *uid = obj_str(obj, "metadata.uid");
  const char *name = obj_str(obj, "metadata.name");
  if (!uid || !name)
    return;
  cJSON *labels = child_obj(child_obj(child_obj(spec, "template"), "metadata"), "labels");
  static const char *const name_keys[] = {"job-name", "batch.kubernetes.io/job-name"};
  static const char *const uid_keys[] = {"controller-uid", "batch.kubernetes.io/controller-uid"};
  for (int i = 0; i < 2; i++) {
    if (!cJSON_GetObjectItemCaseSensitive(labels, name_keys[i]))
      obj_set_str(labels, name_keys[i], name);
    if (!cJSON_GetObjectItemCaseSensitive(labels, uid_keys[i]))
      obj_set_str(labels, uid_keys[i], uid);
  }
  cJSON *ml = child_obj(child_obj(spec, "selector"), "matchLabels");
  if (!cJSON_GetObjectItemCaseSensitive(ml, "batch.kubernetes.io/controller-uid"))
    obj_set_str(ml, "batch.kubernetes.io/controller-uid", uid);
  cJSON *meta = obj_meta(obj);
  if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(meta, "labels")) == 0) {
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "labels");
    cJSON_AddItemToObject(meta, "labels", cJSON_Duplicate(labels, 1));
  }
}

static void job_spec_defaults(cJSON *spec) {
  if (!cJSON_GetObjectItemCaseSensitive(spec, "completions") &&
      !cJSON_GetObjectItemCaseSensitive(spec, "parallelism")) {
    cJSON_AddNumberToObject(spec, "completions", 1);
    cJSON_AddNumberToObject(spec, "parallelism", 1);
  }
  dflt_num(spec, "parallelism", 1);
  dflt_num(spec, "backoffLimit",
           cJSON_GetObjectItemCaseSensitive(spec, "backoffLimitPerIndex") ? 2147483647 : 6);
  dflt_str(spec, "completionMode", "NonIndexed");
  dflt_bool(spec, "suspend", false);
  dflt_str(spec, "podReplacementPolicy",
           cJSON_GetObjectItemCaseSensitive(spec, "podFailurePolicy") ? "Failed" : "TerminatingOrFailed");
}

/* The status a workload has from its creation on: upstream's status
 * structs serialized (integers without omitempty are 0, the rest absent). */
static void status_defaults(cJSON *obj, const char *kind) {
  static const struct {
    const char *kind;
    const char *const fields[5];
  } zero[] = {
      {"Deployment", {NULL}},
      {"Job", {NULL}},
      {"CronJob", {NULL}},
      {"ReplicaSet", {"replicas", NULL}},
      {"ReplicationController", {"replicas", NULL}},
      {"StatefulSet", {"availableReplicas", "replicas", NULL}},
      {"DaemonSet",
       {"currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady",
        NULL}},
  };
  for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
    if (strcmp(kind, zero[i].kind))
      continue;
    cJSON *status = child_obj(obj, "status");
    for (const char *const *f = zero[i].fields; *f; f++)
      dflt_num(status, *f, 0);
  }
}

static void workload_defaults(cJSON *obj) {
  const char *kind = obj_str(obj, "kind");
  if (!kind)
    return;
  status_defaults(obj, kind);
  cJSON *spec = child_obj(obj, "spec");
  if (!strcmp(kind, "Deployment")) {
    dflt_num(spec, "replicas", 1);
    cJSON *strategy = child_obj(spec, "strategy");
    dflt_str(strategy, "type", "RollingUpdate");
    const char *t = obj_str(strategy, "type");
    if (t && !strcmp(t, "RollingUpdate")) {
      cJSON *ru = child_obj(strategy, "rollingUpdate");
      dflt_str(ru, "maxUnavailable", "25%");
      dflt_str(ru, "maxSurge", "25%");
    }
    dflt_num(spec, "revisionHistoryLimit", 10);
    dflt_num(spec, "progressDeadlineSeconds", 600);
    template_defaults(cJSON_GetObjectItemCaseSensitive(spec, "template"));
  } else if (!strcmp(kind, "ReplicaSet")) {
    dflt_num(spec, "replicas", 1);
    template_defaults(cJSON_GetObjectItemCaseSensitive(spec, "template"));
  } else if (!strcmp(kind, "StatefulSet")) {
    dflt_str(spec, "podManagementPolicy", "OrderedReady");
    cJSON *us = child_obj(spec, "updateStrategy");
    dflt_str(us, "type", "RollingUpdate");
    const char *t = obj_str(us, "type");
    if (t && !strcmp(t, "RollingUpdate"))
      dflt_num(child_obj(us, "rollingUpdate"), "partition", 0);
    dflt_num(spec, "replicas", 1);
    dflt_num(spec, "revisionHistoryLimit", 10);
    cJSON *rp = child_obj(spec, "persistentVolumeClaimRetentionPolicy");
    dflt_str(rp, "whenDeleted", "Retain");
    dflt_str(rp, "whenScaled", "Retain");
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "volumeClaimTemplates"))
        claim_template_defaults(c);
    template_defaults(cJSON_GetObjectItemCaseSensitive(spec, "template"));
  } else if (!strcmp(kind, "DaemonSet")) {
    cJSON *us = child_obj(spec, "updateStrategy");
    dflt_str(us, "type", "RollingUpdate");
    const char *t = obj_str(us, "type");
    if (t && !strcmp(t, "RollingUpdate")) {
      cJSON *ru = child_obj(us, "rollingUpdate");
      dflt_num(ru, "maxUnavailable", 1);
      dflt_num(ru, "maxSurge", 0);
    }
    dflt_num(spec, "revisionHistoryLimit", 10);
    template_defaults(cJSON_GetObjectItemCaseSensitive(spec, "template"));
  } else if (!strcmp(kind, "ReplicationController")) {
    dflt_num(spec, "replicas", 1);
    cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
    const cJSON *tl = obj_get(tmpl, "metadata.labels");
    if (cJSON_GetArraySize(tl) > 0) {
      if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "selector")) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "selector");
        cJSON_AddItemToObject(spec, "selector", cJSON_Duplicate(tl, 1));
      }
      cJSON *meta = obj_meta(obj);
      if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(meta, "labels")) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "labels");
        cJSON_AddItemToObject(meta, "labels", cJSON_Duplicate(tl, 1));
      }
    }
    template_defaults(tmpl);
  } else if (!strcmp(kind, "Job")) {
    job_spec_defaults(spec);
    job_selector(obj, spec);
    template_defaults(cJSON_GetObjectItemCaseSensitive(spec, "template"));
  } else if (!strcmp(kind, "CronJob")) {
    dflt_str(spec, "concurrencyPolicy", "Allow");
    dflt_bool(spec, "suspend", false);
    dflt_num(spec, "successfulJobsHistoryLimit", 3);
    dflt_num(spec, "failedJobsHistoryLimit", 1);
    cJSON *jt = cJSON_GetObjectItemCaseSensitive(spec, "jobTemplate");
    template_defaults(obj_get(jt, "spec") ? cJSON_GetObjectItemCaseSensitive(
                                                cJSON_GetObjectItemCaseSensitive(jt, "spec"), "template")
                                          : NULL);
  }
}

/* ---- validation ---- */

void api__go_map(const cJSON *m, char *buf, size_t n) {
  /* Go prints map keys sorted. */
  const char *keys[128];
  int nk = 0;
  const cJSON *kv;
  cJSON_ArrayForEach(kv, m) {
    if (nk < 128)
      keys[nk++] = kv->string;
  }
  for (int i = 1; i < nk; i++)
    for (int j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
      const char *t = keys[j];
      keys[j] = keys[j - 1];
      keys[j - 1] = t;
    }
  buf_t b;
  buf_init(&b, n);
  buf_append_str(&b, nk ? "map[string]string{" : "map[string]string(nil)");
  for (int i = 0; i < nk; i++) {
    const cJSON *vj = cJSON_GetObjectItemCaseSensitive(m, keys[i]);
    const char *v = cJSON_IsString(vj) ? vj->valuestring : NULL;
    buf_printf(&b, "%s\"%s\":\"%s\"", i ? ", " : "", keys[i], v ? v : "");
  }
  if (nk)
    buf_append_str(&b, "}");
  char *s = buf_steal(&b, NULL);
  snprintf(buf, n, "%s", s);
  free(s);
}

static bool value_in(const cJSON *values, const char *v) {
  const cJSON *x;
  cJSON_ArrayForEach(x, values) {
    if (cJSON_IsString(x) && v && !strcmp(x->valuestring, v))
      return true;
  }
  return false;
}

static bool selector_matches(const cJSON *sel, const cJSON *labels) {
  const cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
  const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
  if (!ml && !me)
    ml = sel; /* a plain map (ReplicationController) */
  const cJSON *kv;
  cJSON_ArrayForEach(kv, ml) {
    const cJSON *hj = cJSON_GetObjectItemCaseSensitive(labels, kv->string);
    const char *have = cJSON_IsString(hj) ? hj->valuestring : NULL;
    if (!cJSON_IsString(kv) || !have || strcmp(have, kv->valuestring))
      return false;
  }
  cJSON_ArrayForEach(kv, me) {
    const char *key = obj_str(kv, "key"), *op = obj_str(kv, "operator");
    const cJSON *hj = key ? cJSON_GetObjectItemCaseSensitive(labels, key) : NULL;
    const char *have = cJSON_IsString(hj) ? hj->valuestring : NULL;
    const cJSON *vals = obj_get(kv, "values");
    if (!op)
      return false;
    if ((!strcmp(op, "In") && !value_in(vals, have)) || (!strcmp(op, "NotIn") && value_in(vals, have)) ||
        (!strcmp(op, "Exists") && !have) || (!strcmp(op, "DoesNotExist") && have))
      return false;
  }
  return true;
}

void api__validate_selector_matches(const cJSON *sel, const cJSON *labels, const char *field,
                                    api_status_t *st) {
  if (!sel || selector_matches(sel, labels))
    return;
  char m[2048];
  api__go_map(labels, m, sizeof(m));
  api__cause(st, "FieldValueInvalid", field,
             "Invalid value: %s: `selector` does not match template `labels`", m);
}

/* Go's %#v of a metav1.LabelSelector, as upstream's messages show it. */
static void go_selector(const cJSON *sel, char *buf, size_t n) {
  char m[2048];
  api__go_map(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"), m, sizeof(m));
  const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
  if (cJSON_GetArraySize(me) == 0) {
    snprintf(buf, n, "v1.LabelSelector{MatchLabels:%s, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}", m);
  } else {
    char *e = cJSON_PrintUnformatted(me);
    snprintf(buf, n, "v1.LabelSelector{MatchLabels:%s, MatchExpressions:%s}", m, e);
    free(e);
  }
}

void api__validate_immutable(const cJSON *a, const cJSON *b, const char *field, api_status_t *st) {
  if (cJSON_Compare(a, b, 1) || (!a && !b))
    return;
  char *v = a ? cJSON_PrintUnformatted(a) : NULL;
  char *msg = xasprintf("Invalid value: %s: field is immutable", v ? v : "null");
  api_status_add_cause(st, "FieldValueInvalid", field, msg);
  free(msg);
  free(v);
}

static void selector_immutable(const cJSON *obj, const cJSON *old, const char *path, api_status_t *st) {
  const cJSON *a = obj_get(obj, path), *b = obj_get(old, path);
  if (cJSON_Compare(a, b, 1))
    return;
  char s[4096];
  go_selector(a, s, sizeof(s));
  api__cause(st, "FieldValueInvalid", path, "Invalid value: %s: field is immutable", s);
}

static void nonnegative(const cJSON *obj, const char *path, api_status_t *st) {
  const cJSON *v = obj_get(obj, path);
  if (cJSON_IsNumber(v) && v->valuedouble < 0)
    api__cause(st, "FieldValueInvalid", path,
               "Invalid value: %d: must be greater than or equal to 0", v->valueint);
}

/* Selector present, non-empty and matching the template's labels; the
 * template's pod spec valid. */
static void validate_selector_template(const cJSON *obj, const char *kind, const char *sel_path,
                                       const char *tmpl_path, api_status_t *st) {
  const cJSON *sel = obj_get(obj, sel_path);
  if (!sel || cJSON_IsNull(sel)) {
    api__cause_required(st, sel_path);
  } else if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels")) == 0 &&
             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions")) == 0) {
    char s[4096], lower[64];
    go_selector(sel, s, sizeof(s));
    snprintf(lower, sizeof(lower), "%s", kind);
    for (char *p = lower; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    api__cause(st, "FieldValueInvalid", sel_path, "Invalid value: %s: empty selector is invalid for %s",
               s, lower);
  }
  const cJSON *tmpl = obj_get(obj, tmpl_path);
  char path[128];
  if (!tmpl) {
    api__cause_required(st, tmpl_path);
    return;
  }
  snprintf(path, sizeof(path), "%s.metadata.labels", tmpl_path);
  if (sel && cJSON_IsObject(sel))
    api__validate_selector_matches(sel, obj_get(tmpl, "metadata.labels"), path, st);
  snprintf(path, sizeof(path), "%s.spec", tmpl_path);
  api__pod_spec_validate(obj_get(tmpl, "spec"), path, st);
}

static void restart_policy_only(const cJSON *obj, const char *tmpl_path, const char *const *allowed,
                                api_status_t *st) {
  char path[160];
  snprintf(path, sizeof(path), "%s.spec.restartPolicy", tmpl_path);
  const char *rp = obj_str(obj, path);
  if (!rp)
    return;
  for (const char *const *a = allowed; *a; a++)
    if (!strcmp(rp, *a))
      return;
  char list[128] = "";
  for (const char *const *a = allowed; *a; a++) {
    size_t l = strlen(list);
    snprintf(list + l, sizeof(list) - l, "%s\"%s\"", l ? ", " : "", *a);
  }
  api__cause(st, "FieldValueNotSupported", path, "Unsupported value: \"%s\": supported values: %s", rp,
             list);
}

static const char *const always_only[] = {"Always", NULL};
static const char *const job_policies[] = {"OnFailure", "Never", NULL};

/* Cron: five fields or a descriptor, like the parser upstream uses. */
static const char *cron_field_ok(const char *f, int lo, int hi, const char *const *names) {
  char part[64];
  const char *p = f;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n == 0 || n >= sizeof(part))
      return "invalid field";
    memcpy(part, p, n);
    part[n] = '\0';
    p += n + (p[n] == ',');
    char *step = strchr(part, '/');
    if (step) {
      *step++ = '\0';
      char *end;
      long sv = strtol(step, &end, 10);
      if (!*step || *end || sv <= 0)
        return "invalid step";
    }
    if (!strcmp(part, "*") || !strcmp(part, "?"))
      continue;
    char *dash = strchr(part, '-');
    char *ends[2] = {part, dash ? dash + 1 : NULL};
    if (dash)
      *dash = '\0';
    for (int i = 0; i < 2 && ends[i]; i++) {
      char *end;
      long v = strtol(ends[i], &end, 10);
      if (!*ends[i] || *end) {
        bool named = false;
        for (int k = 0; names && names[k]; k++)
          if (!strcasecmp(ends[i], names[k]))
            named = true;
        if (!named)
          return "invalid value";
        continue;
      }
      if (v < lo || v > hi)
        return "value out of range";
    }
  }
  return NULL;
}

static void validate_schedule(const cJSON *obj, api_status_t *st) {
  const char *sched = obj_str(obj, "spec.schedule");
  if (!sched || !sched[0]) {
    api__cause_required(st, "spec.schedule");
    return;
  }
  const char *s = sched;
  if (!strncmp(s, "TZ=", 3) || !strncmp(s, "CRON_TZ=", 8)) {
    api__cause(st, "FieldValueInvalid", "spec.schedule",
               "Invalid value: \"%s\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
               sched);
    return;
  }
  if (s[0] == '@') {
    static const char *const desc[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                       "@daily",  "@midnight", "@hourly",  NULL};
    for (int i = 0; desc[i]; i++)
      if (!strcmp(s, desc[i]))
        return;
    if (!strncmp(s, "@every ", 7))
      return;
    api__cause(st, "FieldValueInvalid", "spec.schedule",
               "Invalid value: \"%s\": unrecognized descriptor: %s", sched, sched);
    return;
  }
  char copy[256];
  snprintf(copy, sizeof(copy), "%s", s);
  char *fields[8];
  int nf = 0;
  for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
    if (nf < 8)
      fields[nf++] = t;
    else
      nf++;
  if (nf != 5) {
    api__cause(st, "FieldValueInvalid", "spec.schedule",
               "Invalid value: \"%s\": expected exactly 5 fields, found %d: %s", sched, nf, sched);
    return;
  }
  static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec", NULL};
  static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};
  static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {59, 23, 31, 12, 6};
  const char *const *names[] = {NULL, NULL, NULL, months, days};
  for (int i = 0; i < 5; i++) {
    const char *why = cron_field_ok(fields[i], lo[i], hi[i], names[i]);
    if (why) {
      api__cause(st, "FieldValueInvalid", "spec.schedule", "Invalid value: \"%s\": %s: %s", sched,
                 why, fields[i]);
      return;
    }
  }
}

static void statefulset_update(const cJSON *obj, const cJSON *old, api_status_t *st) {
  cJSON *a = cJSON_Duplicate(obj_get(obj, "spec"), 1);
  cJSON *b = cJSON_Duplicate(obj_get(old, "spec"), 1);
  static const char *const mut[] = {"replicas", "ordinals", "template", "updateStrategy",
                                    "persistentVolumeClaimRetentionPolicy", "minReadySeconds"};
  for (size_t i = 0; i < sizeof(mut) / sizeof(mut[0]); i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(a, mut[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(b, mut[i]);
  }
  if (!cJSON_Compare(a, b, 1))
    api__cause(st, "FieldValueForbidden", "spec",
               "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
               "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
               "'minReadySeconds' are forbidden");
  cJSON_Delete(a);
  cJSON_Delete(b);
}

static void one_of(const cJSON *obj, const char *path, const char *const *allowed, api_status_t *st) {
  const char *v = obj_str(obj, path);
  if (!v)
    return;
  char list[256] = "";
  for (const char *const *a = allowed; *a; a++) {
    if (!strcmp(v, *a))
      return;
    size_t l = strlen(list);
    snprintf(list + l, sizeof(list) - l, "%s\"%s\"", l ? ", " : "", *a);
  }
  api__cause(st, "FieldValueNotSupported", path, "Unsupported value: \"%s\": supported values: %s", v,
             list);
}

static void workload_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *kind = obj_str(obj, "kind");
  if (!kind)
    return;
  bool apps = !strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet") ||
              !strcmp(kind, "StatefulSet") || !strcmp(kind, "DaemonSet");
  if (apps) {
    if (!strcmp(kind, "StatefulSet"))
      api__validate_extra_volumes(obj_get(obj, "spec.volumeClaimTemplates"));
    validate_selector_template(obj, kind, "spec.selector", "spec.template", st);
    api__validate_extra_volumes(NULL);
    restart_policy_only(obj, "spec.template", always_only, st);
    nonnegative(obj, "spec.replicas", st);
    nonnegative(obj, "spec.minReadySeconds", st);
    nonnegative(obj, "spec.revisionHistoryLimit", st);
    if (old)
      selector_immutable(obj, old, "spec.selector", st);
  }
  if (!strcmp(kind, "Deployment")) {
    static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
    one_of(obj, "spec.strategy.type", types, st);
    const char *t = obj_str(obj, "spec.strategy.type");
    if (t && !strcmp(t, "Recreate") && obj_get(obj, "spec.strategy.rollingUpdate"))
      api__cause(st, "FieldValueForbidden", "spec.strategy.rollingUpdate",
                 "Forbidden: may not be specified when strategy `type` is 'Recreate'");
    const cJSON *pd = obj_get(obj, "spec.progressDeadlineSeconds");
    const cJSON *mr = obj_get(obj, "spec.minReadySeconds");
    if (cJSON_IsNumber(pd) && cJSON_IsNumber(mr) && pd->valueint <= mr->valueint)
      api__cause(st, "FieldValueInvalid", "spec.progressDeadlineSeconds",
                 "Invalid value: %d: must be greater than minReadySeconds", pd->valueint);
  } else if (!strcmp(kind, "StatefulSet")) {
    static const char *const pmp[] = {"OrderedReady", "Parallel", NULL};
    static const char *const types[] = {"OnDelete", "RollingUpdate", NULL};
    one_of(obj, "spec.podManagementPolicy", pmp, st);
    one_of(obj, "spec.updateStrategy.type", types, st);
    if (old)
      statefulset_update(obj, old, st);
  } else if (!strcmp(kind, "DaemonSet")) {
    static const char *const types[] = {"OnDelete", "RollingUpdate", NULL};
    one_of(obj, "spec.updateStrategy.type", types, st);
  } else if (!strcmp(kind, "ReplicationController")) {
    const cJSON *sel = obj_get(obj, "spec.selector");
    if (cJSON_GetArraySize(sel) == 0)
      api__cause_required(st, "spec.selector");
    else
      api__validate_selector_matches(sel, obj_get(obj, "spec.template.metadata.labels"),
                                     "spec.template.metadata.labels", st);
    if (obj_get(obj, "spec.template"))
      api__pod_spec_validate(obj_get(obj, "spec.template.spec"), "spec.template.spec", st);
    restart_policy_only(obj, "spec.template", always_only, st);
    nonnegative(obj, "spec.replicas", st);
  } else if (!strcmp(kind, "Job")) {
    const cJSON *tmpl = obj_get(obj, "spec.template");
    if (!tmpl) {
      api__cause_required(st, "spec.template");
    } else {
      const cJSON *sel = obj_get(obj, "spec.selector");
      if (!sel)
        api__cause_required(st, "spec.selector");
      else
        api__validate_selector_matches(sel, obj_get(tmpl, "metadata.labels"),
                                       "spec.template.metadata.labels", st);
      api__pod_spec_validate(obj_get(tmpl, "spec"), "spec.template.spec", st);
      restart_policy_only(obj, "spec.template", job_policies, st);
    }
    nonnegative(obj, "spec.parallelism", st);
    nonnegative(obj, "spec.completions", st);
    nonnegative(obj, "spec.backoffLimit", st);
    static const char *const modes[] = {"NonIndexed", "Indexed", NULL};
    one_of(obj, "spec.completionMode", modes, st);
    if (old) {
      selector_immutable(obj, old, "spec.selector", st);
      api__validate_immutable(obj_get(obj, "spec.template"), obj_get(old, "spec.template"),
                              "spec.template", st);
      api__validate_immutable(obj_get(obj, "spec.completionMode"), obj_get(old, "spec.completionMode"),
                              "spec.completionMode", st);
    }
  } else if (!strcmp(kind, "CronJob")) {
    validate_schedule(obj, st);
    api__validate_timezone(obj, st);
    static const char *const cp[] = {"Allow", "Forbid", "Replace", NULL};
    one_of(obj, "spec.concurrencyPolicy", cp, st);
    const cJSON *jt = obj_get(obj, "spec.jobTemplate.spec.template");
    if (!jt) {
      api__cause_required(st, "spec.jobTemplate.spec.template");
    } else {
      api__pod_spec_validate(obj_get(jt, "spec"), "spec.jobTemplate.spec.template.spec", st);
      restart_policy_only(obj, "spec.jobTemplate.spec.template", job_policies, st);
    }
    nonnegative(obj, "spec.successfulJobsHistoryLimit", st);
    nonnegative(obj, "spec.failedJobsHistoryLimit", st);
    nonnegative(obj, "spec.startingDeadlineSeconds", st);
  }
}

const api_hooks_t api_kind_workload = {.defaults = workload_defaults,
                                       .validate = workload_validate,
                                       .cell = workload_cell,
                                       .generation = true};
const api_hooks_t api_kind_workload_core = {.defaults = workload_defaults,
                                            .validate = workload_validate,
                                            .cell = workload_cell,
                                            .generation = true};
