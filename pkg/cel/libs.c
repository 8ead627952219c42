/* The function libraries an environment can register (libs.h). Helper
 * cellib adds its libraries (lib_std.c, lib_strings.c, lib_k8s.c,
 * lib_optional.c) to this list. */
#include <stddef.h>

#include "cel/lib.h"
#include "cel/libs.h"

const cel_library_t *const cel_libraries[] = {
  &cel_lib_std, &cel_lib_time, &cel_lib_strings, &cel_lib_k8s, &cel_lib_k8s_net, &cel_lib_semver, &cel_lib_format,
  &cel_lib_ext,
  &cel_lib_optional,
  NULL,
};
