/* Table cells of the workload kinds (Deployment, ReplicaSet, StatefulSet,
 * DaemonSet, ReplicationController, Job, CronJob, ControllerRevision), as
 * upstream's printers compute them (k8s.io/kubernetes/pkg/printers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/kinds.h"
#include "api/object.h"
#include "util/buf.h"

static int num(const cJSON *obj, const char *path, int dflt) {
  const cJSON *v = obj_get(obj, path);
  return cJSON_IsNumber(v) ? v->valueint : dflt;
}

static cJSON *take_string(buf_t *b, const char *empty) {
  char *s = buf_steal(b, NULL);
  cJSON *c = cJSON_CreateString(s[0] ? s : empty);
  free(s);
  return c;
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
  return take_string(&b, "<none>");
}

/* Label selector in its string form (matchLabels and matchExpressions). */
static cJSON *selector_text(const cJSON *sel) {
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
  return take_string(&b, "<none>");
}

static cJSON *age_since(const char *ts) {
  time_t t = ts ? obj_time_parse(ts) : -1;
  if (t < 0)
    return cJSON_CreateString("<none>");
  char buf[32];
  obj_human_duration((int64_t)(time(NULL) - t), buf, sizeof(buf));
  return cJSON_CreateString(buf);
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
    else
      snprintf(buf, sizeof(buf), "%d/1 of %d", succeeded, num(obj, "spec.parallelism", 1));
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
  if (!strcmp(col, "Suspend"))
    return cJSON_CreateBool(cJSON_IsTrue(obj_get(obj, "spec.suspend")));
  if (!strcmp(col, "Active"))
    return cJSON_CreateNumber(cJSON_GetArraySize(obj_get(obj, "status.active")));
  if (!strcmp(col, "Last Schedule"))
    return age_since(obj_str(obj, "status.lastScheduleTime"));
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
    return selector_text(obj_get(obj, cron ? "spec.jobTemplate.spec.selector" : "spec.selector"));
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
    return take_string(&b, "<none>");
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

const api_hooks_t api_kind_workload = {.cell = workload_cell, .generation = true};
const api_hooks_t api_kind_workload_core = {.cell = workload_cell, .generation = true};
