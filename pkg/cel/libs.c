/* The function libraries an environment can register (libs.h). */
#include <stddef.h>

#include "cel/lib.h"
#include "cel/libs.h"

const cel_library_t *const cel_libraries[] = {
  &cel_lib_std, &cel_lib_time, &cel_lib_strings, &cel_lib_k8s, &cel_lib_k8s_net, &cel_lib_semver,
  &cel_lib_format, &cel_lib_ext, &cel_lib_optional, &cel_lib_authz, NULL,
};
