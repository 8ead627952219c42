/* The function libraries an environment can register (libs.h). Helper
 * cellib adds its libraries (lib_std.c, lib_strings.c, lib_k8s.c,
 * lib_optional.c) to this list. */
#include <stddef.h>

#include "cel/libs.h"

const cel_library_t *const cel_libraries[] = {
  NULL,
};
