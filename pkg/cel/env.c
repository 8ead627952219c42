/* Environments (cel.h): the declared variables and the overloads of the
 * libraries the environment was made with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "cel/libs.h"
#include "util/alloc.h"

cel_env_t *cel_env_new(unsigned libs) {
  cel_env_t *env = xcalloc(1, sizeof(*env));
  env->libs = libs;
  size_t cap = 0;
  for (size_t l = 0; cel_libraries[l]; l++) {
    const cel_library_t *lib = cel_libraries[l];
    if (lib->lib && !(lib->lib & libs))
      continue;
    for (size_t i = 0; i < lib->n; i++) {
      if (env->novl == cap) {
        cap = cap ? cap * 2 : 256;
        env->ovl = xrealloc(env->ovl, cap * sizeof(*env->ovl));
      }
      if (cel__overload_parse(lib->overloads[i].signature, lib->overloads[i].fn, &env->ovl[env->novl]) < 0) {
        /* a library's table is code: a bad signature is a programming error */
        fprintf(stderr, "cel: bad overload signature \"%s\"\n", lib->overloads[i].signature);
        abort();
      }
      env->novl++;
    }
  }
  return env;
}

void cel_env_free(cel_env_t *env) {
  if (!env)
    return;
  for (size_t i = 0; i < env->nvars; i++) {
    free(env->vars[i].name);
    cel_type_free(env->vars[i].type);
  }
  free(env->vars);
  for (size_t i = 0; i < env->novl; i++)
    cel__overload_done(&env->ovl[i]);
  free(env->ovl);
  free(env);
}

int cel_env_declare(cel_env_t *env, const char *name, cel_type_t *type) {
  if (cel__env_var(env, name)) {
    cel_type_free(type);
    return -EEXIST;
  }
  env->vars = xrealloc(env->vars, (env->nvars + 1) * sizeof(*env->vars));
  env->vars[env->nvars].name = xstrdup(name);
  env->vars[env->nvars].type = type ? type : cel_type_dyn();
  env->nvars++;
  return 0;
}

const cel__var_t *cel__env_var(const cel_env_t *env, const char *name) {
  for (size_t i = 0; i < env->nvars; i++)
    if (!strcmp(env->vars[i].name, name))
      return &env->vars[i];
  return NULL;
}

bool cel__env_has_function(const cel_env_t *env, const char *name) {
  for (size_t i = 0; i < env->novl; i++)
    if (!strcmp(env->ovl[i].name, name))
      return true;
  return false;
}
