/* Pod hooks: upstream defaults (pkg/apis/core/v1/defaults.go), the
 * validation users hit most (containers, names, images, update rules) and
 * the READY/STATUS/RESTARTS cells of `kubectl get pods`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/kinds.h"
#include "api/qos.h"
#include "api/object.h"
#include "util/buf.h"
#include "util/strmap.h"

static void default_str(cJSON *o, const char *key, const char *value) {
  if (!cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddStringToObject(o, key, value);
}

static void default_num(cJSON *o, const char *key, double value) {
  if (!cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddNumberToObject(o, key, value);
}

/* IfNotPresent unless the image has no tag or the tag is "latest". */
static const char *pull_policy(const char *image) {
  if (!image)
    return "IfNotPresent";
  if (strchr(image, '@'))
    return "IfNotPresent";
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (!colon || !strcmp(colon + 1, "latest"))
    return "Always";
  return "IfNotPresent";
}

static void container_defaults(cJSON *c) {
  if (!cJSON_IsObject(c))
    return;
  default_str(c, "imagePullPolicy", pull_policy(obj_str(c, "image")));
  default_str(c, "terminationMessagePath", "/dev/termination-log");
  default_str(c, "terminationMessagePolicy", "File");
  if (!cJSON_GetObjectItemCaseSensitive(c, "resources"))
    cJSON_AddObjectToObject(c, "resources");
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports")) {
    if (cJSON_IsObject(p))
      default_str(p, "protocol", "TCP");
  }
}

/* SetDefaults_PodSpec and its containers: what a pod template gets too. */
void api__pod_spec_defaults(cJSON *spec) {
  if (!cJSON_IsObject(spec))
    return;
  default_str(spec, "restartPolicy", "Always");
  default_str(spec, "dnsPolicy", "ClusterFirst");
  default_num(spec, "terminationGracePeriodSeconds", 30);
  default_str(spec, "schedulerName", "default-scheduler");
  obj_child_object(spec, "securityContext");
  /* The deprecated serviceAccount mirrors serviceAccountName (conversion). */
  const char *sa = obj_str(spec, "serviceAccountName");
  if (!sa)
    sa = obj_str(spec, "serviceAccount");
  if (sa) {
    default_str(spec, "serviceAccountName", sa);
    default_str(spec, "serviceAccount", sa);
  }
  cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers")) container_defaults(c);
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "initContainers")) container_defaults(c);
}

static void pod_defaults(cJSON *obj) {
  cJSON *spec = obj_child_object(obj, "spec");
  api__pod_spec_defaults(spec);
  /* A container's limit without a request is its request too (SetDefaults_Pod). */
  static const char *const lists[] = {"containers", "initContainers"};
  for (size_t i = 0; i < 2; i++) {
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i])) {
      cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "resources");
      const cJSON *kv;
      cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(res, "limits")) {
        cJSON *req = obj_child_object(res, "requests");
        if (!cJSON_GetObjectItemCaseSensitive(req, kv->string))
          cJSON_AddItemToObject(req, kv->string, cJSON_Duplicate(kv, 1));
      }
    }
  }
  /* priority and preemptionPolicy: Priority admission (admission_priority.c). */
  if (!cJSON_GetObjectItemCaseSensitive(spec, "enableServiceLinks"))
    cJSON_AddBoolToObject(spec, "enableServiceLinks", true);
  const char *sa = obj_str(spec, "serviceAccountName");
  if (!sa)
    sa = obj_str(spec, "serviceAccount");
  if (!sa)
    sa = "default";
  default_str(spec, "serviceAccountName", sa);
  default_str(spec, "serviceAccount", sa);
  /* tolerations for not-ready/unreachable nodes: DefaultTolerationSeconds
   * admission (admission_defaults.c). */
  cJSON *status = obj_child_object(obj, "status");
  default_str(status, "phase", "Pending");
  default_str(status, "qosClass", api_pod_qos(spec));
}

/* names: the container names seen so far (borrowed from the spec), so a
 * duplicate is found in O(1) however many containers there are. */
static void validate_containers(const cJSON *list, const char *field, bool required,
                                api_status_t *st, strmap_t *names) {
  if (required && cJSON_GetArraySize(list) == 0) {
    api__cause(st, "FieldValueRequired", field, "Required value");
    return;
  }
  int i = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, list) {
    char path[128];
    const char *name = obj_str(c, "name");
    snprintf(path, sizeof(path), "%s[%d].name", field, i);
    if (!name || !name[0]) {
      api__cause(st, "FieldValueRequired", path, "Required value");
    } else {
      const char *why = obj_check_dns1123_label(name);
      if (why)
        api__cause(st, "FieldValueInvalid", path, "Invalid value: \"%s\": %s", name, why);
      if (strmap_put(names, name, (void *)c, NULL) == -EEXIST)
        api__cause(st, "FieldValueDuplicate", path, "Duplicate value: \"%s\"", name);
    }
    const char *image = obj_str(c, "image");
    if (!image || !image[0]) {
      snprintf(path, sizeof(path), "%s[%d].image", field, i);
      api__cause(st, "FieldValueRequired", path, "Required value");
    }
    const char *pp = obj_str(c, "imagePullPolicy");
    if (pp && strcmp(pp, "Always") && strcmp(pp, "IfNotPresent") && strcmp(pp, "Never")) {
      snprintf(path, sizeof(path), "%s[%d].imagePullPolicy", field, i);
      api__cause(st, "FieldValueNotSupported", path,
                 "Unsupported value: \"%s\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                 pp);
    }
    int j = 0;
    const cJSON *port;
    cJSON_ArrayForEach(port, obj_get(c, "ports")) {
      const cJSON *cp = obj_get(port, "containerPort");
      if (!cJSON_IsNumber(cp) || cp->valueint < 1 || cp->valueint > 65535) {
        snprintf(path, sizeof(path), "%s[%d].ports[%d].containerPort", field, i, j);
        api__cause(st, "FieldValueInvalid", path,
                   "Invalid value: %d: must be between 1 and 65535, inclusive",
                   cJSON_IsNumber(cp) ? cp->valueint : 0);
      }
      j++;
    }
    i++;
  }
}

/* Only image, activeDeadlineSeconds, tolerations (additions) and
 * terminationGracePeriodSeconds may change in a running pod's spec. */
static bool spec_change_allowed(const cJSON *spec, const cJSON *old) {
  cJSON *a = cJSON_Duplicate(spec, 1);
  cJSON *b = cJSON_Duplicate(old, 1);
  static const char *const mutable_fields[] = {"activeDeadlineSeconds", "tolerations",
                                               "terminationGracePeriodSeconds", "schedulingGates"};
  for (size_t i = 0; i < 4; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(a, mutable_fields[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(b, mutable_fields[i]);
  }
  static const char *const lists[] = {"containers", "initContainers"};
  for (size_t l = 0; l < 2; l++) {
    cJSON *ca = cJSON_GetObjectItemCaseSensitive(a, lists[l]);
    cJSON *cb = cJSON_GetObjectItemCaseSensitive(b, lists[l]);
    /* walk both lists together: GetArrayItem(i) per index was quadratic */
    for (cJSON *x = ca ? ca->child : NULL, *y = cb ? cb->child : NULL; x && y; x = x->next, y = y->next) {
      cJSON_DeleteItemFromObjectCaseSensitive(x, "image");
      cJSON_DeleteItemFromObjectCaseSensitive(y, "image");
    }
  }
  /* nodeName is set only through the binding subresource (action.c). */
  bool same = cJSON_Compare(a, b, 1);
  cJSON_Delete(a);
  cJSON_Delete(b);
  return same;
}

void api__pod_spec_validate(const cJSON *spec, const char *prefix, api_status_t *st) {
  strmap_t names;
  strmap_init(&names);
  char f[256];
  snprintf(f, sizeof(f), "%s.containers", prefix);
  validate_containers(obj_get(spec, "containers"), f, true, st, &names);
  snprintf(f, sizeof(f), "%s.initContainers", prefix);
  validate_containers(obj_get(spec, "initContainers"), f, false, st, &names);
  strmap_done(&names);
  const char *rp = obj_str(spec, "restartPolicy");
  snprintf(f, sizeof(f), "%s.restartPolicy", prefix);
  if (rp && strcmp(rp, "Always") && strcmp(rp, "OnFailure") && strcmp(rp, "Never"))
    api__cause(st, "FieldValueNotSupported", f,
               "Unsupported value: \"%s\": supported values: \"Always\", \"OnFailure\", \"Never\"", rp);
  const char *dp = obj_str(spec, "dnsPolicy");
  snprintf(f, sizeof(f), "%s.dnsPolicy", prefix);
  if (dp && strcmp(dp, "ClusterFirstWithHostNet") && strcmp(dp, "ClusterFirst") &&
      strcmp(dp, "Default") && strcmp(dp, "None"))
    api__cause(st, "FieldValueNotSupported", f,
               "Unsupported value: \"%s\": supported values: \"ClusterFirstWithHostNet\", "
               "\"ClusterFirst\", \"Default\", \"None\"",
               dp);
  api__validate_pod_spec_fields(spec, prefix, st);
}

static void pod_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  api__pod_spec_validate(obj_get(obj, "spec"), "spec", st);
  if (old && !spec_change_allowed(obj_get(obj, "spec"), obj_get(old, "spec")))
    api__cause(st, "FieldValueForbidden", "spec",
               "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
               "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
               "(allow it to be set to 1 if it was previously negative)");
}

/* ---- Table cells (pkg/printers printPod) ---- */

static cJSON *pod_ready(const cJSON *obj) {
  int total = cJSON_GetArraySize(obj_get(obj, "spec.containers")), ready = 0;
  const cJSON *cs;
  cJSON_ArrayForEach(cs, obj_get(obj, "status.containerStatuses")) {
    if (cJSON_IsTrue(obj_get(cs, "ready")))
      ready++;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%d/%d", ready, total);
  return cJSON_CreateString(buf);
}

static cJSON *pod_status(const cJSON *obj) {
  const char *reason = obj_str(obj, "status.reason");
  const char *phase = obj_str(obj, "status.phase");
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", reason ? reason : phase ? phase : "Pending");
  int i = 0;
  const cJSON *cs;
  int ninit = cJSON_GetArraySize(obj_get(obj, "spec.initContainers"));
  bool initializing = false;
  cJSON_ArrayForEach(cs, obj_get(obj, "status.initContainerStatuses")) {
    const cJSON *term = obj_get(cs, "state.terminated");
    const cJSON *exit = obj_get(term, "exitCode");
    if (term && cJSON_IsNumber(exit) && exit->valueint == 0) {
      i++;
      continue;
    }
    initializing = true;
    const char *r = term ? obj_str(term, "reason") : obj_str(cs, "state.waiting.reason");
    if (r && strcmp(r, "PodInitializing"))
      snprintf(buf, sizeof(buf), "Init:%s", r);
    else
      snprintf(buf, sizeof(buf), "Init:%d/%d", i, ninit);
    break;
  }
  if (!initializing) {
    bool running = false;
    cJSON_ArrayForEach(cs, obj_get(obj, "status.containerStatuses")) {
      const char *w = obj_str(cs, "state.waiting.reason");
      const char *t = obj_str(cs, "state.terminated.reason");
      if (w && w[0])
        snprintf(buf, sizeof(buf), "%s", w);
      else if (t && t[0])
        snprintf(buf, sizeof(buf), "%s", t);
      else if (obj_get(cs, "state.terminated")) {
        const cJSON *code = obj_get(cs, "state.terminated.exitCode");
        snprintf(buf, sizeof(buf), "ExitCode:%d", cJSON_IsNumber(code) ? code->valueint : 0);
      } else if (obj_get(cs, "state.running") && cJSON_IsTrue(obj_get(cs, "ready")))
        running = true;
    }
    if (running && !strcmp(buf, "Completed"))
      snprintf(buf, sizeof(buf), "Running");
  }
  if (obj_get(obj, "metadata.deletionTimestamp"))
    snprintf(buf, sizeof(buf), "%s", obj_str(obj, "status.reason") &&
                                             !strcmp(obj_str(obj, "status.reason"), "NodeLost")
                                         ? "Unknown"
                                         : "Terminating");
  return cJSON_CreateString(buf);
}

/* The RESTARTS column: the sum over containers, as upstream's printer sums
 * into a Go int. Each count is an int32 (cJSON clamps valueint to int);
 * summed in int64 and saturated, so no stored status can overflow it. */
static cJSON *pod_restarts(const cJSON *obj) {
  int64_t restarts = 0;
  time_t last = 0;
  const cJSON *cs;
  cJSON_ArrayForEach(cs, obj_get(obj, "status.containerStatuses")) {
    const cJSON *n = obj_get(cs, "restartCount");
    if (cJSON_IsNumber(n)) {
      int64_t v = n->valueint;
      if (v > 0 && restarts > INT64_MAX - v)
        restarts = INT64_MAX;
      else if (v < 0 && restarts < INT64_MIN - v)
        restarts = INT64_MIN;
      else
        restarts += v;
    }
    const char *fin = obj_str(cs, "lastState.terminated.finishedAt");
    time_t t = fin ? obj_time_parse(fin) : -1;
    if (t > last)
      last = t;
  }
  char buf[64];
  if (restarts && last > 0) {
    char age[32];
    obj_human_duration((int64_t)(time(NULL) - last), age, sizeof(age));
    snprintf(buf, sizeof(buf), "%lld (%s ago)", (long long)restarts, age);
  } else {
    snprintf(buf, sizeof(buf), "%lld", (long long)restarts);
  }
  return cJSON_CreateString(buf);
}

static cJSON *pod_gates(const cJSON *obj) {
  int total = cJSON_GetArraySize(obj_get(obj, "spec.readinessGates"));
  if (!total)
    return cJSON_CreateString("<none>");
  int ok = 0;
  const cJSON *g;
  cJSON_ArrayForEach(g, obj_get(obj, "spec.readinessGates")) {
    const char *type = obj_str(g, "conditionType");
    const cJSON *c;
    cJSON_ArrayForEach(c, obj_get(obj, "status.conditions")) {
      const char *t = obj_str(c, "type"), *s = obj_str(c, "status");
      if (type && t && s && !strcmp(t, type) && !strcmp(s, "True"))
        ok++;
    }
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%d/%d", ok, total);
  return cJSON_CreateString(buf);
}

static cJSON *pod_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Ready"))
    return pod_ready(obj);
  if (!strcmp(col, "Status"))
    return pod_status(obj);
  if (!strcmp(col, "Restarts"))
    return pod_restarts(obj);
  if (!strcmp(col, "Readiness Gates"))
    return pod_gates(obj);
  if (!strcmp(col, "IP")) {
    const char *ip = obj_str(obj, "status.podIP");
    return cJSON_CreateString(ip ? ip : "<none>");
  }
  if (!strcmp(col, "Node") || !strcmp(col, "Nominated Node")) {
    const char *n = obj_str(obj, col[0] == 'N' && col[1] == 'o' && col[2] == 'd' ? "spec.nodeName"
                                                                             : "status.nominatedNodeName");
    return cJSON_CreateString(n ? n : "<none>");
  }
  return NULL;
}

static const char *const pod_fields[] = {
    "spec.nodeName",   "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase",      "status.podIP",       "status.nominatedNodeName",
    NULL};

const api_hooks_t api_kind_pod = {.defaults = pod_defaults,
                                  .validate = pod_validate,
                                  .cell = pod_cell,
                                  .selectable_fields = pod_fields};
