/* Compiling (parse, check, result type, cost estimate) and the typed
 * evaluation helpers of cel.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "util/alloc.h"

static void mark_uses(const cel_expr_t *e, bool *uses, size_t nvars) {
  if (!e)
    return;
  if (e->kind == CEL_E_IDENT && e->var_index >= 0 && (size_t)e->var_index < nvars)
    uses[e->var_index] = true;
  mark_uses(e->target, uses, nvars);
  for (size_t i = 0; i < e->nargs; i++)
    mark_uses(e->args[i], uses, nvars);
  mark_uses(e->range, uses, nvars);
  mark_uses(e->pred, uses, nvars);
  mark_uses(e->filter, uses, nvars);
}

cel_program_t *cel_compile(const cel_env_t *env, const char *src, cel_result_t result, cel_error_t *err) {
  err->message[0] = 0;
  size_t len = strlen(src);
  if (len > CEL__MAX_SRC) {
    snprintf(err->message, sizeof(err->message), "expression of %zu bytes is over the limit of %d bytes", len,
             CEL__MAX_SRC);
    return NULL;
  }
  cel_expr_t *root = cel__parse(src, len, err);
  if (!root)
    return NULL;
  if (cel__check(env, root, src, len, err) < 0) {
    cel__expr_free(root);
    return NULL;
  }
  /* dyn passes here and is checked when evaluated */
  if (root->type && root->type->kind != CEL_T_DYN && !cel__result_matches(root->type, result)) {
    char ts[128];
    cel__type_check_str(root->type, ts, sizeof(ts));
    snprintf(err->message, sizeof(err->message), "must evaluate to %s but got %s",
             result == CEL_RESULT_BOOL ? "bool" : "string", ts);
    cel__expr_free(root);
    return NULL;
  }
  cel_program_t *p = xcalloc(1, sizeof(*p));
  p->env = env;
  p->root = root;
  p->src = xstrdup(src);
  p->result = result;
  p->uses = xcalloc(env->nvars + 1, sizeof(bool));
  mark_uses(root, p->uses, env->nvars);
  p->cost_estimate = cel__cost_estimate(p);
  return p;
}

cel_program_t *cel_compile_unchecked(const cel_env_t *env, const char *src, cel_error_t *err) {
  err->message[0] = 0;
  size_t len = strlen(src);
  cel_expr_t *root = len <= CEL__MAX_SRC ? cel__parse(src, len, err) : NULL;
  if (!root) {
    if (!err->message[0])
      snprintf(err->message, sizeof(err->message), "expression over the limit of %d bytes", CEL__MAX_SRC);
    return NULL;
  }
  cel_program_t *p = xcalloc(1, sizeof(*p));
  p->env = env;
  p->root = root;
  p->src = xstrdup(src);
  p->result = CEL_RESULT_ANY;
  p->uses = xcalloc(env->nvars + 1, sizeof(bool));
  return p;
}

void cel_program_free(cel_program_t *p) {
  if (!p)
    return;
  cel__expr_free(p->root);
  free(p->src);
  free(p->uses);
  free(p);
}

bool cel_program_uses(const cel_program_t *p, const char *name) {
  const cel__var_t *v = cel__env_var(p->env, name);
  return v && p->uses[v - p->env->vars];
}

uint64_t cel_program_cost_estimate(const cel_program_t *p) {
  return p->cost_estimate;
}

int cel_eval_bool(const cel_program_t *p, const cel_activation_t *a, uint64_t cost_limit, uint64_t *cost_used,
                  bool *ret_bool, cel_error_t *err) {
  cel_value_t *v = NULL;
  int r = cel_eval(p, a, cost_limit, cost_used, &v, err);
  if (r < 0)
    return r;
  if (cel_value_kind(v) != CEL_BOOL) {
    snprintf(err->message, sizeof(err->message), "expected bool, got %s", cel_value_type_name(v));
    cel_value_unref(v);
    return -EINVAL;
  }
  *ret_bool = cel_value_bool(v);
  cel_value_unref(v);
  return 0;
}

int cel_eval_string(const cel_program_t *p, const cel_activation_t *a, uint64_t cost_limit, uint64_t *cost_used,
                    char **ret_str, cel_error_t *err) {
  cel_value_t *v = NULL;
  int r = cel_eval(p, a, cost_limit, cost_used, &v, err);
  if (r < 0)
    return r;
  if (cel_value_kind(v) != CEL_STRING) {
    snprintf(err->message, sizeof(err->message), "expected string, got %s", cel_value_type_name(v));
    cel_value_unref(v);
    return -EINVAL;
  }
  size_t len;
  const char *s = cel_value_str(v, &len);
  *ret_str = xmalloc(len + 1);
  memcpy(*ret_str, s, len);
  (*ret_str)[len] = 0;
  cel_value_unref(v);
  return 0;
}
