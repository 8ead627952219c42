/* The function libraries an environment can register (libs.h): the
 * standard definitions (lib_std.c, lib_time.c), cel-go's strings extension
 * (lib_strings.c), Kubernetes' libraries (lib_k8s.c: lists, regex,
 * quantity; lib_k8s_net.c: url, ip, cidr; lib_semver.c; lib_format.c), the
 * cel-go sets/lists extensions Kubernetes enables (lib_ext.c) and
 * optionals (lib_optional.c). */
#include <stddef.h>

#include "cel/lib.h"
#include "cel/libs.h"

const cel_library_t *const cel_libraries[] = {
  &cel_lib_std, &cel_lib_time, &cel_lib_strings, &cel_lib_k8s, &cel_lib_k8s_net, &cel_lib_semver, &cel_lib_format,
  &cel_lib_ext,
  &cel_lib_optional,
  &cel_lib_authz,
  NULL,
};
