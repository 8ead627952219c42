/* audit.k8s.io/v1 Policy rules and their matching (auditpolicy.h), after
 * upstream's apiserver/pkg/audit/policy checker: a rule matches when each
 * of its non-empty lists matches; resources/namespaces rules never match
 * non-resource requests and nonResourceURLs rules never match resource
 * requests. https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/#audit-k8s-io-v1-Policy */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auditpolicy.h"
#include "util/alloc.h"

typedef struct {
  char *group;
  char **resources, **names; /* NULL-terminated */
} gr_t;

typedef struct {
  audit_level_t level;
  char **users, **groups, **verbs, **namespaces, **urls;
  gr_t *res;
  size_t n_res;
  unsigned omit_stages;
  int omit_managed; /* -1: the policy's */
} rule_t;

struct audit_policy {
  rule_t *rules;
  size_t n;
  unsigned omit_stages;
  bool omit_managed;
};

static void strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

void audit_policy_free(audit_policy_t *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++) {
    rule_t *r = &p->rules[i];
    strv_free(r->users);
    strv_free(r->groups);
    strv_free(r->verbs);
    strv_free(r->namespaces);
    strv_free(r->urls);
    for (size_t j = 0; j < r->n_res; j++) {
      free(r->res[j].group);
      strv_free(r->res[j].resources);
      strv_free(r->res[j].names);
    }
    free(r->res);
  }
  free(p->rules);
  free(p);
}

const char *audit_level_name(audit_level_t l) {
  static const char *const names[] = {"None", "Metadata", "Request", "RequestResponse"};
  return names[l];
}

static int level_of(const char *s, audit_level_t *ret) {
  for (int i = 0; i <= AUDIT_REQUEST_RESPONSE; i++)
    if (!strcmp(s, audit_level_name((audit_level_t)i))) {
      *ret = (audit_level_t)i;
      return 0;
    }
  return -EINVAL;
}

/* A list of strings; absent is NULL. */
static int strv(const cJSON *o, const char *key, char ***ret, char *err, size_t errlen,
                const char *where) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
  *ret = NULL;
  if (!a || cJSON_IsNull(a))
    return 0;
  if (!cJSON_IsArray(a)) {
    snprintf(err, errlen, "%s.%s: a list of strings is expected", where, key);
    return -EINVAL;
  }
  size_t n = (size_t)cJSON_GetArraySize(a), i = 0;
  char **v = xcalloc(n + 1, sizeof(*v));
  const cJSON *it;
  cJSON_ArrayForEach(it, a) {
    if (!cJSON_IsString(it)) {
      strv_free(v);
      snprintf(err, errlen, "%s.%s: a list of strings is expected", where, key);
      return -EINVAL;
    }
    v[i++] = xstrdup(it->valuestring);
  }
  *ret = v;
  return 0;
}

static int stages(const cJSON *o, unsigned *ret, char *err, size_t errlen, const char *where) {
  char **v = NULL;
  int r = strv(o, "omitStages", &v, err, errlen, where);
  *ret = 0;
  for (size_t i = 0; r == 0 && v && v[i]; i++) {
    if (!strcmp(v[i], "RequestReceived"))
      *ret |= AUDIT_STAGE_RECEIVED;
    else if (!strcmp(v[i], "ResponseStarted"))
      *ret |= AUDIT_STAGE_STARTED;
    else if (!strcmp(v[i], "ResponseComplete"))
      *ret |= AUDIT_STAGE_COMPLETE;
    else if (!strcmp(v[i], "Panic"))
      *ret |= AUDIT_STAGE_PANIC;
    else {
      snprintf(err, errlen, "%s.omitStages: unknown stage \"%s\" (RequestReceived, "
                            "ResponseStarted, ResponseComplete, Panic)", where, v[i]);
      r = -EINVAL;
    }
  }
  strv_free(v);
  return r;
}

int audit_policy_parse(const cJSON *doc, audit_policy_t **ret, char *err, size_t errlen) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
  const cJSON *av = cJSON_GetObjectItemCaseSensitive(doc, "apiVersion");
  if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "Policy") || !cJSON_IsString(av) ||
      strcmp(av->valuestring, "audit.k8s.io/v1")) {
    snprintf(err, errlen, "kind Policy and apiVersion audit.k8s.io/v1 are expected");
    return -EINVAL;
  }
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(doc, "rules");
  if (!cJSON_IsArray(rules) || !cJSON_GetArraySize(rules)) {
    snprintf(err, errlen, "rules: at least one rule is required");
    return -EINVAL;
  }
  audit_policy_t *p = xcalloc(1, sizeof(*p));
  int r = stages(doc, &p->omit_stages, err, errlen, "policy");
  p->omit_managed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "omitManagedFields"));
  p->rules = xcalloc((size_t)cJSON_GetArraySize(rules), sizeof(*p->rules));
  const cJSON *it;
  cJSON_ArrayForEach(it, rules) {
    if (r < 0)
      break;
    char where[32];
    snprintf(where, sizeof(where), "rules[%zu]", p->n);
    rule_t *rl = &p->rules[p->n++];
    rl->omit_managed = -1;
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(it, "level");
    if (!cJSON_IsString(lv) || level_of(lv->valuestring, &rl->level) < 0) {
      snprintf(err, errlen, "%s.level: one of None, Metadata, Request, RequestResponse", where);
      r = -EINVAL;
      break;
    }
    const cJSON *om = cJSON_GetObjectItemCaseSensitive(it, "omitManagedFields");
    if (cJSON_IsBool(om))
      rl->omit_managed = cJSON_IsTrue(om);
    if ((r = strv(it, "users", &rl->users, err, errlen, where)) < 0 ||
        (r = strv(it, "userGroups", &rl->groups, err, errlen, where)) < 0 ||
        (r = strv(it, "verbs", &rl->verbs, err, errlen, where)) < 0 ||
        (r = strv(it, "namespaces", &rl->namespaces, err, errlen, where)) < 0 ||
        (r = strv(it, "nonResourceURLs", &rl->urls, err, errlen, where)) < 0 ||
        (r = stages(it, &rl->omit_stages, err, errlen, where)) < 0)
      break;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(it, "resources");
    if (res && !cJSON_IsArray(res)) {
      snprintf(err, errlen, "%s.resources: a list of {group, resources, resourceNames}", where);
      r = -EINVAL;
      break;
    }
    if ((rl->res || rl->namespaces) && rl->urls) {
      snprintf(err, errlen, "%s: nonResourceURLs cannot be combined with resources or namespaces",
               where);
      r = -EINVAL;
      break;
    }
    rl->res = xcalloc((size_t)cJSON_GetArraySize(res) + 1, sizeof(*rl->res));
    const cJSON *g;
    cJSON_ArrayForEach(g, res) {
      gr_t *gr = &rl->res[rl->n_res++];
      const cJSON *grp = cJSON_GetObjectItemCaseSensitive(g, "group");
      gr->group = xstrdup(cJSON_IsString(grp) ? grp->valuestring : "");
      if ((r = strv(g, "resources", &gr->resources, err, errlen, where)) < 0 ||
          (r = strv(g, "resourceNames", &gr->names, err, errlen, where)) < 0)
        break;
    }
    if (rl->n_res && rl->urls) {
      snprintf(err, errlen, "%s: nonResourceURLs cannot be combined with resources or namespaces",
               where);
      r = -EINVAL;
    }
  }
  if (r < 0) {
    audit_policy_free(p);
    return r;
  }
  *ret = p;
  return 0;
}

audit_policy_t *audit_policy_all(audit_level_t level) {
  audit_policy_t *p = xcalloc(1, sizeof(*p));
  p->rules = xcalloc(1, sizeof(*p->rules));
  p->rules[0].level = level;
  p->rules[0].omit_managed = -1;
  p->n = 1;
  return p;
}

static bool in(char **v, const char *s) {
  for (size_t i = 0; v && v[i]; i++)
    if (!strcmp(v[i], s) || !strcmp(v[i], "*"))
      return true;
  return false;
}

/* upstream ruleMatchesResource's resource forms: "pods", "pods/log", "*",
 * "*\/scale", "pods/\*" */
static bool resource_match(const gr_t *gr, const audit_attrs_t *a) {
  if (strcmp(gr->group, a->group))
    return false;
  if (gr->resources && gr->resources[0]) {
    char full[300];
    snprintf(full, sizeof(full), "%s%s%s", a->resource, a->subresource[0] ? "/" : "",
             a->subresource);
    bool ok = false;
    for (size_t i = 0; !ok && gr->resources[i]; i++) {
      const char *r = gr->resources[i];
      if (!strcmp(r, full))
        ok = true;
      else if (!strcmp(r, "*") && !a->subresource[0])
        ok = true;
      else if (!strncmp(r, "*/", 2) && a->subresource[0] && !strcmp(r + 2, a->subresource))
        ok = true;
      else if (a->subresource[0] && strlen(r) == strlen(a->resource) + 2 &&
               !strncmp(r, a->resource, strlen(a->resource)) && !strcmp(r + strlen(a->resource), "/*"))
        ok = true;
    }
    if (!ok)
      return false;
  }
  if (gr->names && gr->names[0]) {
    bool ok = false;
    for (size_t i = 0; !ok && gr->names[i]; i++)
      ok = !strcmp(gr->names[i], a->name);
    if (!ok)
      return false;
  }
  return true;
}

static bool rule_match(const rule_t *r, const audit_attrs_t *a) {
  if (r->users && r->users[0]) {
    bool ok = false;
    for (size_t i = 0; !ok && r->users[i]; i++)
      ok = !strcmp(r->users[i], a->user);
    if (!ok)
      return false;
  }
  if (r->groups && r->groups[0]) {
    bool ok = false;
    for (size_t i = 0; !ok && r->groups[i]; i++)
      for (size_t j = 0; !ok && a->groups && a->groups[j]; j++)
        ok = !strcmp(r->groups[i], a->groups[j]);
    if (!ok)
      return false;
  }
  if (r->verbs && r->verbs[0] && !in(r->verbs, a->verb))
    return false;
  bool has_res = r->n_res || (r->namespaces && r->namespaces[0]);
  bool has_urls = r->urls && r->urls[0];
  if (!has_res && !has_urls)
    return true;
  if (!a->is_resource) {
    if (!has_urls)
      return false;
    for (size_t i = 0; r->urls[i]; i++) {
      const char *u = r->urls[i];
      size_t n = strlen(u);
      if (!strcmp(u, "*") || !strcmp(u, a->path) ||
          (n && u[n - 1] == '*' && !strncmp(u, a->path, n - 1)))
        return true;
    }
    return false;
  }
  if (has_urls && !has_res)
    return false;
  if (r->namespaces && r->namespaces[0]) {
    bool ok = false;
    for (size_t i = 0; !ok && r->namespaces[i]; i++)
      ok = !strcmp(r->namespaces[i], a->ns);
    if (!ok)
      return false;
  }
  if (r->n_res) {
    bool ok = false;
    for (size_t i = 0; !ok && i < r->n_res; i++)
      ok = resource_match(&r->res[i], a);
    if (!ok)
      return false;
  }
  return true;
}

audit_decision_t audit_policy_decide(const audit_policy_t *p, const audit_attrs_t *a) {
  audit_decision_t d = {.level = AUDIT_NONE};
  for (size_t i = 0; p && i < p->n; i++) {
    const rule_t *r = &p->rules[i];
    if (!rule_match(r, a))
      continue;
    d.level = r->level;
    d.omit_stages = p->omit_stages | r->omit_stages;
    d.omit_managed_fields = r->omit_managed >= 0 ? r->omit_managed != 0 : p->omit_managed;
    break;
  }
  return d;
}
