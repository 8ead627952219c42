/* CRD validation rules (crdrules.h). The compiled form mirrors the schema:
 * a node per schema node that has rules itself or below it. */
#include "api/crdrules.h"

#include "cel/cel.h"
#include "cel/value.h"
#include "util/alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* apiextensions' StaticEstimatedCostLimit for one rule's estimate */
#define CRD_RULE_COST_LIMIT 10000000ULL

typedef struct {
  const cJSON *def;     /* the ValidationRule (borrowed from the schema) */
  cel_program_t *prog;
  cel_program_t *msg;   /* messageExpression, or NULL */
  bool transition;      /* uses oldSelf */
  bool optional_old;    /* optionalOldSelf */
} rule_t;

typedef struct node node_t;
struct node {
  const cJSON *schema;
  cel_env_t *env, *opt_env; /* opt_env: oldSelf optional (optionalOldSelf rules) */
  rule_t *rules;
  size_t nrules;
  char **names; /* properties with rules below */
  node_t **props;
  size_t nprops;
  node_t *items, *additional;
};

struct crd_rules {
  node_t *root;
};

static const cJSON *kw(const cJSON *s, const char *k) {
  return cJSON_GetObjectItemCaseSensitive(s, k);
}

static const char *kws(const cJSON *s, const char *k) {
  const cJSON *v = kw(s, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cel_env_t *env_for(const cJSON *schema, bool optional_old) {
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES);
  cel_env_declare(env, "self", cel_type_from_schema(schema));
  cel_env_declare(env, "oldSelf", optional_old ? cel_type_dyn() : cel_type_from_schema(schema));
  return env;
}

/* ---- compiling ---- */

static void node_free(node_t *n) {
  if (!n)
    return;
  for (size_t i = 0; i < n->nrules; i++) {
    cel_program_free(n->rules[i].prog);
    cel_program_free(n->rules[i].msg);
  }
  free(n->rules);
  for (size_t i = 0; i < n->nprops; i++) {
    free(n->names[i]);
    node_free(n->props[i]);
  }
  free(n->names);
  free(n->props);
  node_free(n->items);
  node_free(n->additional);
  cel_env_free(n->env);
  cel_env_free(n->opt_env);
  free(n);
}

static node_t *compile_node(const cJSON *schema, int depth) {
  if (!cJSON_IsObject(schema) || depth > MAX_DEPTH)
    return NULL;
  node_t *n = xcalloc(1, sizeof(*n));
  n->schema = schema;
  const cJSON *rules = kw(schema, "x-kubernetes-validations");
  int nr = cJSON_GetArraySize(rules);
  if (nr > 0) {
    n->rules = xcalloc((size_t)nr, sizeof(rule_t));
    const cJSON *r;
    cJSON_ArrayForEach(r, rules) {
      bool opt = cJSON_IsTrue(kw(r, "optionalOldSelf"));
      cel_env_t **envp = opt ? &n->opt_env : &n->env;
      if (!*envp)
        *envp = env_for(schema, opt);
      cel_error_t err;
      const char *src = kws(r, "rule");
      cel_program_t *p = src ? cel_compile(*envp, src, CEL_RESULT_BOOL, &err) : NULL;
      if (!p)
        continue;
      rule_t *x = &n->rules[n->nrules++];
      x->def = r;
      x->prog = p;
      x->transition = cel_program_uses(p, "oldSelf");
      x->optional_old = opt;
      const char *m = kws(r, "messageExpression");
      if (m && m[0])
        x->msg = cel_compile(*envp, m, CEL_RESULT_STRING, &err);
    }
  }
  const cJSON *props = kw(schema, "properties");
  for (const cJSON *p = props ? props->child : NULL; p; p = p->next) {
    node_t *c = compile_node(p, depth + 1);
    if (!c)
      continue;
    n->names = xrealloc(n->names, (n->nprops + 1) * sizeof(char *));
    n->props = xrealloc(n->props, (n->nprops + 1) * sizeof(node_t *));
    n->names[n->nprops] = xstrdup(p->string);
    n->props[n->nprops++] = c;
  }
  n->items = compile_node(kw(schema, "items"), depth + 1);
  n->additional = compile_node(kw(schema, "additionalProperties"), depth + 1);
  if (!n->nrules && !n->nprops && !n->items && !n->additional) {
    node_free(n);
    return NULL;
  }
  return n;
}

crd_rules_t *crd_rules_new(const cJSON *schema) {
  node_t *root = compile_node(schema, 0);
  if (!root)
    return NULL;
  crd_rules_t *r = xcalloc(1, sizeof(*r));
  r->root = root;
  return r;
}

void crd_rules_free(crd_rules_t *r) {
  if (!r)
    return;
  node_free(r->root);
  free(r);
}

/* ---- checking at CRD creation ---- */

/* The rule as upstream prints a ValidationRule with %#v. */
static char *rule_repr(const cJSON *r) {
  const cJSON *reason = kw(r, "reason"), *oos = kw(r, "optionalOldSelf");
  char reason_s[160], oos_s[64];
  if (cJSON_IsString(reason))
    snprintf(reason_s, sizeof(reason_s), "(*apiextensions.FieldValueErrorReason)(\"%.100s\")", reason->valuestring);
  else
    snprintf(reason_s, sizeof(reason_s), "(*apiextensions.FieldValueErrorReason)(nil)");
  if (cJSON_IsBool(oos))
    snprintf(oos_s, sizeof(oos_s), "(*bool)(%s)", cJSON_IsTrue(oos) ? "true" : "false");
  else
    snprintf(oos_s, sizeof(oos_s), "(*bool)(nil)");
  const char *rule = kws(r, "rule"), *msg = kws(r, "message"), *mexpr = kws(r, "messageExpression"),
             *fp = kws(r, "fieldPath");
  return xasprintf("apiextensions.ValidationRule{Rule:\"%s\", Message:\"%s\", MessageExpression:\"%s\", "
                   "Reason:%s, FieldPath:\"%s\", OptionalOldSelf:%s}",
                   rule ? rule : "", msg ? msg : "", mexpr ? mexpr : "", reason_s, fp ? fp : "", oos_s);
}

static int check_node(const cJSON *schema, const char *field, int depth, api_status_t *st) {
  if (!cJSON_IsObject(schema) || depth > MAX_DEPTH)
    return 0;
  int n = 0;
  char f[1024];
  const cJSON *rules = kw(schema, "x-kubernetes-validations");
  int i = 0;
  const cJSON *r;
  cel_env_t *env = NULL, *opt_env = NULL;
  cJSON_ArrayForEach(r, rules) {
    bool opt = cJSON_IsTrue(kw(r, "optionalOldSelf"));
    cel_env_t **envp = opt ? &opt_env : &env;
    if (!*envp)
      *envp = env_for(schema, opt);
    const char *src = kws(r, "rule");
    snprintf(f, sizeof(f), "%s.x-kubernetes-validations[%d].rule", field, i);
    if (!src || !src[strspn(src, " \t\r\n")]) {
      api_status_add_cause(st, "FieldValueRequired", f, "Required value");
      n++;
    } else {
      cel_error_t err;
      cel_program_t *p = cel_compile(*envp, src, CEL_RESULT_BOOL, &err);
      if (!p) {
        char *repr = rule_repr(r);
        char *msg = xasprintf("Invalid value: %s: compilation failed: %s", repr, err.message);
        api_status_add_cause(st, "FieldValueInvalid", f, msg);
        free(msg);
        free(repr);
        n++;
      } else {
        /* upstream's StaticEstimatedCostLimit (the enclosing lists' and
         * maps' cardinality is not multiplied in yet: k3c is more lenient
         * for rules under unbounded lists) */
        uint64_t cost = cel_program_cost_estimate(p);
        if (cost > CRD_RULE_COST_LIMIT) {
          double ratio = (double)cost / (double)CRD_RULE_COST_LIMIT;
          char factor[64];
          if (ratio < 1.5)
            snprintf(factor, sizeof(factor), "%fx", ratio);
          else if (ratio <= 100)
            snprintf(factor, sizeof(factor), "%.1fx", ratio);
          else
            snprintf(factor, sizeof(factor), "more than 100x");
          char *msg = xasprintf("Forbidden: estimated rule cost exceeds budget by factor of %s (try "
                                "simplifying the rule, or adding maxItems, maxProperties, and maxLength "
                                "where arrays, maps, and strings are declared)",
                                factor);
          api_status_add_cause(st, "FieldValueForbidden", f, msg);
          free(msg);
          n++;
        }
        cel_program_free(p);
      }
    }
    const char *msg = kws(r, "message"), *mexpr = kws(r, "messageExpression");
    const char *reason = kws(r, "reason");
    if (msg && strpbrk(msg, "\r\n")) {
      snprintf(f, sizeof(f), "%s.x-kubernetes-validations[%d].message", field, i);
      char *m = xasprintf("Invalid value: \"%s\": message must not contain line breaks", msg);
      api_status_add_cause(st, "FieldValueInvalid", f, m);
      free(m);
      n++;
    }
    if (mexpr && mexpr[0]) {
      cel_error_t err;
      cel_program_t *p = cel_compile(*envp, mexpr, CEL_RESULT_STRING, &err);
      if (!p) {
        snprintf(f, sizeof(f), "%s.x-kubernetes-validations[%d].messageExpression", field, i);
        char *repr = rule_repr(r);
        char *m = xasprintf("Invalid value: %s: messageExpression compilation failed: %s", repr, err.message);
        api_status_add_cause(st, "FieldValueInvalid", f, m);
        free(m);
        free(repr);
        n++;
      }
      cel_program_free(p);
    }
    if (reason && strcmp(reason, "FieldValueRequired") && strcmp(reason, "FieldValueForbidden") &&
        strcmp(reason, "FieldValueInvalid") && strcmp(reason, "FieldValueDuplicate")) {
      snprintf(f, sizeof(f), "%s.x-kubernetes-validations[%d].reason", field, i);
      char *m = xasprintf("Unsupported value: \"%s\": supported values: \"FieldValueDuplicate\", "
                          "\"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\"",
                          reason);
      api_status_add_cause(st, "FieldValueNotSupported", f, m);
      free(m);
      n++;
    }
    i++;
  }
  cel_env_free(env);
  cel_env_free(opt_env);
  const cJSON *props = kw(schema, "properties");
  for (const cJSON *p = props ? props->child : NULL; p; p = p->next) {
    snprintf(f, sizeof(f), "%s.properties[%s]", field, p->string);
    n += check_node(p, f, depth + 1, st);
  }
  snprintf(f, sizeof(f), "%s.items", field);
  n += check_node(kw(schema, "items"), f, depth + 1, st);
  snprintf(f, sizeof(f), "%s.additionalProperties", field);
  n += check_node(kw(schema, "additionalProperties"), f, depth + 1, st);
  return n;
}

int crd_rules_check(const cJSON *schema, const char *field, api_status_t *st) {
  return check_node(schema, field, 0, st);
}

/* ---- validating ---- */

typedef struct {
  uint64_t budget;
  bool exhausted;
  int causes;
  api_status_t *st;
} run_t;

static void cause(run_t *r, const char *reason, const char *path, const char *msg) {
  api_status_add_cause(r->st, reason, path[0] ? path : "<nil>", msg);
  r->causes++;
}

static const char *type_name(const cJSON *schema) {
  const char *t = kws(schema, "type");
  return t ? t : "object";
}

/* The message of a failed rule: messageExpression, message, or upstream's
 * "failed rule: <rule>". Caller frees. */
static char *message_of(run_t *r, const rule_t *x, const cel_activation_t *act) {
  if (x->msg) {
    char *s = NULL;
    cel_error_t err;
    uint64_t used = 0;
    uint64_t limit = r->budget < CEL_PER_CALL_LIMIT ? r->budget : CEL_PER_CALL_LIMIT;
    int e = cel_eval_string(x->msg, act, limit, &used, &s, &err);
    r->budget = used > r->budget ? 0 : r->budget - used;
    if (e == 0 && s && s[strspn(s, " \t")] && !strpbrk(s, "\r\n"))
      return s;
    free(s);
  }
  const char *m = kws(x->def, "message");
  if (m && m[0])
    return xstrdup(m);
  const char *rule = kws(x->def, "rule");
  return xasprintf("failed rule: %s", rule ? rule : "");
}

static void run_rules(run_t *r, const node_t *n, const cJSON *v, const cJSON *old, const char *path) {
  for (size_t i = 0; i < n->nrules && !r->exhausted; i++) {
    const rule_t *x = &n->rules[i];
    if (x->transition && !old && !x->optional_old)
      continue;
    cel_activation_t *act = cel_activation_new();
    cel_activation_set_json(act, "self", v);
    if (x->optional_old) {
      cel_value_t *o = old ? cel_optional(cel_value_from_json(old, NULL)) : cel_optional(NULL);
      cel_activation_set_value(act, "oldSelf", o);
      cel_value_unref(o);
    } else {
      cel_activation_set_json(act, "oldSelf", old);
    }
    bool ok = false;
    cel_error_t err;
    uint64_t used = 0;
    uint64_t limit = r->budget < CEL_PER_CALL_LIMIT ? r->budget : CEL_PER_CALL_LIMIT;
    int e = cel_eval_bool(x->prog, act, limit, &used, &ok, &err);
    r->budget = used > r->budget ? 0 : r->budget - used;
    char fpath[1024];
    const char *fp = kws(x->def, "fieldPath");
    if (fp && fp[0])
      snprintf(fpath, sizeof(fpath), "%s%s%s", path, path[0] && fp[0] != '.' ? "." : "",
               path[0] || fp[0] != '.' ? fp : fp + 1);
    else
      snprintf(fpath, sizeof(fpath), "%s", path);
    char *msg = NULL;
    if (e == -E2BIG) {
      if (limit < CEL_PER_CALL_LIMIT) {
        msg = xasprintf("Invalid value: \"%s\": validation failed due to running out of cost budget, "
                        "no further validation rules will be run", type_name(n->schema));
        r->exhausted = true;
      } else {
        msg = xasprintf("Invalid value: \"%s\": call cost exceeds limit for rule: %s",
                        type_name(n->schema), kws(x->def, "rule"));
      }
      cause(r, "FieldValueInvalid", path, msg);
    } else if (e < 0) {
      msg = xasprintf("Invalid value: \"%s\": %s", type_name(n->schema), err.message);
      cause(r, "FieldValueInvalid", path, msg);
    } else if (!ok) {
      char *detail = message_of(r, x, act);
      const char *reason = kws(x->def, "reason");
      if (reason && !strcmp(reason, "FieldValueForbidden")) {
        msg = xasprintf("Forbidden: %s", detail);
      } else if (reason && !strcmp(reason, "FieldValueRequired")) {
        msg = xasprintf("Required value: %s", detail);
      } else if (reason && !strcmp(reason, "FieldValueDuplicate")) {
        msg = xasprintf("Duplicate value: \"%s\"", type_name(n->schema));
      } else {
        reason = "FieldValueInvalid";
        msg = xasprintf("Invalid value: \"%s\": %s", type_name(n->schema), detail);
      }
      free(detail);
      cause(r, reason, fpath, msg);
    }
    free(msg);
    cel_activation_free(act);
  }
}

/* The item of old that correlates with item v of a list-type map list. */
static const cJSON *correlate(const cJSON *schema, const cJSON *v, const cJSON *old_list) {
  const char *lt = kws(schema, "x-kubernetes-list-type");
  if (!old_list || !lt || strcmp(lt, "map"))
    return NULL;
  const cJSON *keys = kw(schema, "x-kubernetes-list-map-keys");
  const cJSON *o;
  cJSON_ArrayForEach(o, old_list) {
    bool same = cJSON_GetArraySize(keys) > 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
      if (!cJSON_IsString(k))
        continue;
      const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, k->valuestring);
      const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, k->valuestring);
      if (!(a == NULL && b == NULL) && !(a && b && cJSON_Compare(a, b, true)))
        same = false;
    }
    if (same)
      return o;
  }
  return NULL;
}

static void walk(run_t *r, const node_t *n, const cJSON *v, const cJSON *old, const char *path, int depth) {
  if (!v || cJSON_IsNull(v) || depth > MAX_DEPTH || r->exhausted)
    return;
  run_rules(r, n, v, old, path);
  char p[1024];
  for (size_t i = 0; i < n->nprops && cJSON_IsObject(v); i++) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, n->names[i]);
    const cJSON *oc = cJSON_IsObject(old) ? cJSON_GetObjectItemCaseSensitive(old, n->names[i]) : NULL;
    snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", n->names[i]);
    walk(r, n->props[i], c, oc, p, depth + 1);
  }
  if (n->additional && cJSON_IsObject(v)) {
    for (const cJSON *c = v->child; c; c = c->next) {
      const cJSON *oc = cJSON_IsObject(old) ? cJSON_GetObjectItemCaseSensitive(old, c->string) : NULL;
      snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", c->string);
      walk(r, n->additional, c, oc, p, depth + 1);
    }
  }
  if (n->items && cJSON_IsArray(v)) {
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
      snprintf(p, sizeof(p), "%s[%d]", path, i);
      walk(r, n->items, c, correlate(n->schema, c, cJSON_IsArray(old) ? old : NULL), p, depth + 1);
    }
  }
}

int crd_rules_validate(const crd_rules_t *rules, const cJSON *obj, const cJSON *old, api_status_t *st) {
  if (!rules)
    return 0;
  run_t r = {.budget = CEL_RUNTIME_BUDGET, .st = st};
  walk(&r, rules->root, obj, old, "", 0);
  return r.causes;
}
