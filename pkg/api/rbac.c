/* RBAC rules (rbac.h): the matching upstream's RBAC authorizer does
 * (verbs, API groups, resources with "*" and "* / <subresource>" (no spaces), resource
 * names, non-resource URLs with a trailing "*"), subjects, and the
 * coverage check of escalation prevention.
 * https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping */
#include "api/rbac.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* ---- parsing ---- */

static char **strings_of(const cJSON *array) {
  size_t n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, array) n += cJSON_IsString(e) ? 1 : 0;
  char **v = xcalloc(n + 1, sizeof(*v));
  size_t i = 0;
  cJSON_ArrayForEach(e, array) {
    if (cJSON_IsString(e))
      v[i++] = xstrdup(e->valuestring);
  }
  return v;
}

static void strings_free(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

void rbac_rules_add_json(rbac_rules_t *rules, const cJSON *array) {
  const cJSON *r;
  cJSON_ArrayForEach(r, array) {
    if (!cJSON_IsObject(r))
      continue;
    rules->rules = xrealloc(rules->rules, (rules->n + 1) * sizeof(*rules->rules));
    rbac_rule_t *x = &rules->rules[rules->n++];
    x->verbs = strings_of(cJSON_GetObjectItemCaseSensitive(r, "verbs"));
    x->groups = strings_of(cJSON_GetObjectItemCaseSensitive(r, "apiGroups"));
    x->resources = strings_of(cJSON_GetObjectItemCaseSensitive(r, "resources"));
    x->names = strings_of(cJSON_GetObjectItemCaseSensitive(r, "resourceNames"));
    x->urls = strings_of(cJSON_GetObjectItemCaseSensitive(r, "nonResourceURLs"));
  }
}

static char **strings_copy(char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  char **c = xcalloc(n + 1, sizeof(*c));
  for (size_t i = 0; i < n; i++)
    c[i] = xstrdup(v[i]);
  return c;
}

void rbac_rules_add(rbac_rules_t *rules, const rbac_rules_t *more) {
  for (size_t i = 0; i < more->n; i++) {
    const rbac_rule_t *m = &more->rules[i];
    rules->rules = xrealloc(rules->rules, (rules->n + 1) * sizeof(*rules->rules));
    rbac_rule_t *x = &rules->rules[rules->n++];
    x->verbs = strings_copy(m->verbs);
    x->groups = strings_copy(m->groups);
    x->resources = strings_copy(m->resources);
    x->names = strings_copy(m->names);
    x->urls = strings_copy(m->urls);
  }
}

static void rule_done(rbac_rule_t *r) {
  strings_free(r->verbs);
  strings_free(r->groups);
  strings_free(r->resources);
  strings_free(r->names);
  strings_free(r->urls);
}

void rbac_rules_done(rbac_rules_t *rules) {
  for (size_t i = 0; i < rules->n; i++)
    rule_done(&rules->rules[i]);
  free(rules->rules);
  rules->rules = NULL;
  rules->n = 0;
}

/* ---- matching ---- */

static bool has(char *const *v, const char *s) {
  for (size_t i = 0; v && v[i]; i++)
    if (!strcmp(v[i], s))
      return true;
  return false;
}

static bool has_or_all(char *const *v, const char *s) { return has(v, "*") || has(v, s); }

static bool empty(char *const *v) { return !v || !v[0]; }

static bool resource_matches(char *const *rule_res, const char *res, const char *sub) {
  for (size_t i = 0; rule_res && rule_res[i]; i++) {
    const char *r = rule_res[i];
    if (!strcmp(r, "*"))
      return true;
    size_t n = strlen(res);
    if (!sub[0] && !strcmp(r, res))
      return true;
    if (sub[0]) {
      if (!strncmp(r, res, n) && r[n] == '/' && !strcmp(r + n + 1, sub))
        return true;
      if (!strncmp(r, "*/", 2) && !strcmp(r + 2, sub))
        return true;
    }
  }
  return false;
}

static bool url_matches(char *const *urls, const char *path) {
  for (size_t i = 0; urls && urls[i]; i++) {
    const char *u = urls[i];
    size_t n = strlen(u);
    if (!strcmp(u, "*") || !strcmp(u, path))
      return true;
    if (n && u[n - 1] == '*' && !strncmp(path, u, n - 1))
      return true;
  }
  return false;
}

bool rbac_rule_allows(const rbac_rule_t *r, const rbac_attrs_t *a) {
  if (!has_or_all(r->verbs, a->verb))
    return false;
  if (!a->is_resource)
    return url_matches(r->urls, a->path ? a->path : "");
  const char *sub = a->subresource ? a->subresource : "";
  return has_or_all(r->groups, a->group ? a->group : "") &&
         resource_matches(r->resources, a->resource ? a->resource : "", sub) &&
         (empty(r->names) || has(r->names, a->name ? a->name : ""));
}

bool rbac_rules_allow(const rbac_rules_t *rules, const rbac_attrs_t *a) {
  for (size_t i = 0; i < rules->n; i++)
    if (rbac_rule_allows(&rules->rules[i], a))
      return true;
  return false;
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

bool rbac_subject_matches(const cJSON *subject, const rbac_user_t *u, const char *binding_ns) {
  const char *kind = str_of(subject, "kind"), *name = str_of(subject, "name");
  if (!strcmp(kind, "User"))
    return !strcmp(name, u->name);
  if (!strcmp(kind, "Group")) {
    for (size_t i = 0; u->groups && u->groups[i]; i++)
      if (!strcmp(u->groups[i], name))
        return true;
    return false;
  }
  if (!strcmp(kind, "ServiceAccount")) {
    const char *ns = str_of(subject, "namespace");
    if (!ns[0])
      ns = binding_ns ? binding_ns : "";
    const char *p = "system:serviceaccount:";
    size_t pl = strlen(p), nl = strlen(ns);
    return !strncmp(u->name, p, pl) && !strncmp(u->name + pl, ns, nl) && u->name[pl + nl] == ':' &&
           !strcmp(u->name + pl + nl + 1, name);
  }
  return false;
}

/* ---- coverage (escalation prevention) ---- */

/* One broken-down permission: a verb on one group/resource(/name), or on
 * one URL. */
typedef struct {
  const char *verb, *group, *resource, *name, *url;
} atom_t;

static bool resource_covers(char *const *owner, const char *res) {
  if (has(owner, "*") || has(owner, res))
    return true;
  const char *slash = strchr(res, '/');
  if (!slash)
    return false;
  for (size_t i = 0; owner && owner[i]; i++) {
    const char *o = owner[i];
    if (!strncmp(o, "*/", 2) && !strcmp(o + 2, slash + 1))
      return true; /* "* /status" (no space) covers "pods/status" */
    size_t n = (size_t)(slash - res);
    if (!strncmp(o, res, n) && !strcmp(o + n, "/*"))
      return true; /* "pods/ *" (no space) covers "pods/status" */
  }
  return false;
}

static bool atom_covered(const rbac_rule_t *o, const atom_t *a) {
  if (!has_or_all(o->verbs, a->verb))
    return false;
  if (a->url)
    return url_matches(o->urls, a->url) || has(o->urls, a->url);
  if (!has_or_all(o->groups, a->group) || !resource_covers(o->resources, a->resource))
    return false;
  if (empty(o->names))
    return true;
  return a->name && has(o->names, a->name);
}

static bool covered(const rbac_rules_t *held, const atom_t *a) {
  for (size_t i = 0; i < held->n; i++)
    if (atom_covered(&held->rules[i], a))
      return true;
  return false;
}

/* Go's %q of a []string: ["a" "b"] */
static void go_list(buf_t *b, char *const *v) {
  buf_append_str(b, "[");
  for (size_t i = 0; v && v[i]; i++) {
    buf_append_str(b, i ? " \"" : "\"");
    for (const char *c = v[i]; *c; c++) {
      if (*c == '"' || *c == '\\')
        buf_append(b, "\\", 1);
      buf_append(b, c, 1);
    }
    buf_append_str(b, "\"");
  }
  buf_append_str(b, "]");
}

/* A missing permission compacted as upstream's CompactRules does: the
 * verbs of one group/resource/name (or of one URL) in one rule. */
typedef struct {
  const char *group, *resource, *name, *url;
  char **verbs;
  size_t nverbs;
  char *text;
} missing_t;

static int text_cmp(const void *a, const void *b) {
  return strcmp(((const missing_t *)a)->text, ((const missing_t *)b)->text);
}

static bool same(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static void add_missing(missing_t **m, size_t *n, const atom_t *a) {
  for (size_t i = 0; i < *n; i++) {
    missing_t *x = &(*m)[i];
    if (same(x->group, a->group) && same(x->resource, a->resource) && same(x->name, a->name) &&
        same(x->url, a->url)) {
      for (size_t j = 0; j < x->nverbs; j++)
        if (!strcmp(x->verbs[j], a->verb))
          return;
      x->verbs = xrealloc(x->verbs, (x->nverbs + 2) * sizeof(*x->verbs));
      x->verbs[x->nverbs++] = (char *)a->verb;
      x->verbs[x->nverbs] = NULL;
      return;
    }
  }
  *m = xrealloc(*m, (*n + 1) * sizeof(**m));
  missing_t *x = &(*m)[(*n)++];
  memset(x, 0, sizeof(*x));
  x->group = a->group;
  x->resource = a->resource;
  x->name = a->name;
  x->url = a->url;
  x->verbs = xcalloc(2, sizeof(*x->verbs));
  x->verbs[0] = (char *)a->verb;
  x->nverbs = 1;
}

static void check_atom(const rbac_rules_t *held, const atom_t *a, missing_t **m, size_t *n) {
  if (!covered(held, a))
    add_missing(m, n, a);
}

size_t rbac_rules_uncovered(const rbac_rules_t *held, const rbac_rules_t *want, buf_t *out) {
  missing_t *m = NULL;
  size_t n = 0;
  for (size_t i = 0; i < want->n; i++) {
    const rbac_rule_t *r = &want->rules[i];
    for (size_t v = 0; r->verbs[v]; v++) {
      for (size_t u = 0; r->urls[u]; u++) {
        atom_t a = {.verb = r->verbs[v], .url = r->urls[u]};
        check_atom(held, &a, &m, &n);
      }
      for (size_t g = 0; r->groups[g]; g++)
        for (size_t s = 0; r->resources[s]; s++) {
          if (empty(r->names)) {
            atom_t a = {.verb = r->verbs[v], .group = r->groups[g], .resource = r->resources[s]};
            check_atom(held, &a, &m, &n);
          }
          for (size_t k = 0; r->names[k]; k++) {
            atom_t a = {.verb = r->verbs[v], .group = r->groups[g], .resource = r->resources[s],
                        .name = r->names[k]};
            check_atom(held, &a, &m, &n);
          }
        }
    }
  }
  for (size_t i = 0; i < n; i++) {
    missing_t *x = &m[i];
    buf_t b;
    buf_init(&b, 1u << 16);
    buf_append_str(&b, "{");
    char *one[2] = {NULL, NULL};
    if (x->url) {
      one[0] = (char *)x->url;
      buf_append_str(&b, "NonResourceURLs:");
      go_list(&b, one);
    } else {
      one[0] = (char *)x->group;
      buf_append_str(&b, "APIGroups:");
      go_list(&b, one);
      one[0] = (char *)x->resource;
      buf_append_str(&b, ", Resources:");
      go_list(&b, one);
      if (x->name) {
        one[0] = (char *)x->name;
        buf_append_str(&b, ", ResourceNames:");
        go_list(&b, one);
      }
    }
    buf_append_str(&b, ", Verbs:");
    go_list(&b, x->verbs);
    buf_append_str(&b, "}");
    x->text = xstrdup(b.data ? b.data : "");
    buf_done(&b);
  }
  if (n > 1)
    qsort(m, n, sizeof(*m), text_cmp);
  for (size_t i = 0; i < n; i++) {
    if (out) {
      if (i)
        buf_append_str(out, "\n");
      buf_append_str(out, m[i].text);
    }
    free(m[i].text);
    free(m[i].verbs);
  }
  free(m);
  return n;
}
