/* RBAC kinds (rbac.authorization.k8s.io/v1): Role, ClusterRole and their
 * bindings. Defaults of pkg/apis/rbac/v1/defaults.go, the checks of
 * pkg/apis/rbac/validation with upstream wording, binding Table cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/object.h"
#include "util/buf.h"

/* Go's %#v of a []string. */
static void go_strings(const cJSON *list, char *buf, size_t n) {
  buf_t b;
  buf_init(&b, n);
  buf_append_str(&b, "[]string{");
  int i = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, list) {
    buf_printf(&b, "%s\"%s\"", i++ ? ", " : "", cJSON_IsString(x) ? x->valuestring : "");
  }
  buf_append_str(&b, "}");
  char *s = buf_steal(&b, NULL);
  snprintf(buf, n, "%s", s);
  free(s);
}

static void rules_validate(const cJSON *obj, bool namespaced, api_status_t *st) {
  int i = 0;
  const cJSON *r;
  cJSON_ArrayForEach(r, obj_get(obj, "rules")) {
    char f[64], v[1024];
    if (cJSON_GetArraySize(obj_get(r, "verbs")) == 0) {
      snprintf(f, sizeof(f), "rules[%d].verbs", i);
      api__cause(st, "FieldValueRequired", f, "Required value: verbs must contain at least one value");
    }
    const cJSON *urls = obj_get(r, "nonResourceURLs");
    if (cJSON_GetArraySize(urls) > 0) {
      snprintf(f, sizeof(f), "rules[%d].nonResourceURLs", i);
      go_strings(urls, v, sizeof(v));
      if (namespaced)
        api__cause(st, "FieldValueInvalid", f,
                   "Invalid value: %s: namespaced rules cannot apply to non-resource URLs", v);
      if (cJSON_GetArraySize(obj_get(r, "apiGroups")) || cJSON_GetArraySize(obj_get(r, "resources")) ||
          cJSON_GetArraySize(obj_get(r, "resourceNames")))
        api__cause(st, "FieldValueInvalid", f,
                   "Invalid value: %s: rules cannot apply to both regular resources and non-resource URLs",
                   v);
    } else {
      if (cJSON_GetArraySize(obj_get(r, "apiGroups")) == 0) {
        snprintf(f, sizeof(f), "rules[%d].apiGroups", i);
        api__cause(st, "FieldValueRequired", f,
                   "Required value: resource rules must supply at least one api group");
      }
      if (cJSON_GetArraySize(obj_get(r, "resources")) == 0) {
        snprintf(f, sizeof(f), "rules[%d].resources", i);
        api__cause(st, "FieldValueRequired", f,
                   "Required value: resource rules must supply at least one resource");
      }
    }
    i++;
  }
}

static void role_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  rules_validate(obj, true, st);
}

static void clusterrole_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  rules_validate(obj, false, st);
}

/* RBAC names are path segments (upstream's ValidatePathSegmentName), so
 * the default roles' "system:..." names are valid. */
static const char *path_segment_name(const char *name) {
  if (!name || !name[0])
    return "name or generateName is required";
  if (!strcmp(name, "."))
    return "may not be '.'";
  if (!strcmp(name, ".."))
    return "may not be '..'";
  if (strchr(name, '/'))
    return "may not contain '/'";
  if (strchr(name, '%'))
    return "may not contain '%'";
  return NULL;
}

const api_hooks_t api_kind_role = {.validate = role_validate, .check_name = path_segment_name};
const api_hooks_t api_kind_clusterrole = {.validate = clusterrole_validate,
                                          .check_name = path_segment_name};

static void binding_defaults(cJSON *obj) {
  cJSON *ref = cJSON_GetObjectItemCaseSensitive(obj, "roleRef");
  if (cJSON_IsObject(ref) && !obj_str(ref, "apiGroup"))
    obj_set_str(ref, "apiGroup", "rbac.authorization.k8s.io");
  cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(obj, "subjects")) {
    const char *kind = obj_str(s, "kind");
    if (!cJSON_IsObject(s) || !kind || obj_str(s, "apiGroup"))
      continue;
    /* a ServiceAccount's apiGroup defaults to "", which upstream omits
     * (omitempty): setting it would make every re-apply "configured" */
    if (!strcmp(kind, "User") || !strcmp(kind, "Group"))
      obj_set_str(s, "apiGroup", "rbac.authorization.k8s.io");
  }
}

static void binding_validate_common(const cJSON *obj, const cJSON *old, bool cluster, api_status_t *st) {
  const char *kind = obj_str(obj, "roleRef.kind");
  const char *name = obj_str(obj, "roleRef.name");
  const char *group = obj_str(obj, "roleRef.apiGroup");
  if (group && strcmp(group, "rbac.authorization.k8s.io"))
    api__cause(st, "FieldValueNotSupported", "roleRef.apiGroup",
               "Unsupported value: \"%s\": supported values: \"rbac.authorization.k8s.io\"", group);
  if (cluster) {
    if (!kind || strcmp(kind, "ClusterRole"))
      api__cause(st, "FieldValueNotSupported", "roleRef.kind",
                 "Unsupported value: \"%s\": supported values: \"ClusterRole\"", kind ? kind : "");
  } else if (!kind || (strcmp(kind, "Role") && strcmp(kind, "ClusterRole"))) {
    api__cause(st, "FieldValueNotSupported", "roleRef.kind",
               "Unsupported value: \"%s\": supported values: \"Role\", \"ClusterRole\"", kind ? kind : "");
  }
  if (!name || !name[0])
    api__cause_required(st, "roleRef.name");
  int i = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, obj_get(obj, "subjects")) {
    char f[64];
    const char *sk = obj_str(s, "kind"), *sn = obj_str(s, "name");
    if (!sn || !sn[0]) {
      snprintf(f, sizeof(f), "subjects[%d].name", i);
      api__cause_required(st, f);
    }
    if (!sk || (strcmp(sk, "ServiceAccount") && strcmp(sk, "User") && strcmp(sk, "Group"))) {
      snprintf(f, sizeof(f), "subjects[%d].kind", i);
      api__cause(st, "FieldValueNotSupported", f,
                 "Unsupported value: \"%s\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                 sk ? sk : "");
    } else if (!strcmp(sk, "ServiceAccount") && cluster && !obj_str(s, "namespace")) {
      snprintf(f, sizeof(f), "subjects[%d].namespace", i);
      api__cause_required(st, f);
    }
    i++;
  }
  if (old && !cJSON_Compare(obj_get(obj, "roleRef"), obj_get(old, "roleRef"), 1)) {
    api__cause(st, "FieldValueInvalid", "roleRef",
               "Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"%s\", "
               "Name:\"%s\"}: cannot change roleRef",
               kind ? kind : "", name ? name : "");
  }
}

static void rolebinding_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  binding_validate_common(obj, old, false, st);
}

static void clusterrolebinding_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  binding_validate_common(obj, old, true, st);
}

static cJSON *binding_cell(const char *col, const cJSON *obj) {
  char buf[512];
  if (!strcmp(col, "Role")) {
    const char *k = obj_str(obj, "roleRef.kind"), *n = obj_str(obj, "roleRef.name");
    snprintf(buf, sizeof(buf), "%s/%s", k ? k : "", n ? n : "");
    return cJSON_CreateString(buf);
  }
  const char *want = !strcmp(col, "Users") ? "User" : !strcmp(col, "Groups") ? "Group" : "ServiceAccount";
  buf_t b;
  buf_init(&b, 8192);
  const cJSON *s;
  cJSON_ArrayForEach(s, obj_get(obj, "subjects")) {
    const char *k = obj_str(s, "kind"), *n = obj_str(s, "name"), *ns = obj_str(s, "namespace");
    if (!k || strcmp(k, want))
      continue;
    if (!strcmp(want, "ServiceAccount"))
      buf_printf(&b, "%s%s/%s", b.len ? ", " : "", ns ? ns : "", n ? n : "");
    else
      buf_printf(&b, "%s%s", b.len ? ", " : "", n ? n : "");
  }
  return api__cell_take(&b, "");
}

const api_hooks_t api_kind_rolebinding = {.defaults = binding_defaults,
                                           .validate = rolebinding_validate,
                                           .cell = binding_cell,
                                           .check_name = path_segment_name};
const api_hooks_t api_kind_clusterrolebinding = {.defaults = binding_defaults,
                                                  .validate = clusterrolebinding_validate,
                                                  .cell = binding_cell,
                                                  .check_name = path_segment_name};
