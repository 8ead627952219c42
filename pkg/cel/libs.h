/* pkg/cel/libs.h: the function libraries pkg/cel offers, for the
 * environment builder (libs.c holds the list). The standard definitions
 * (operators, conversions, size, contains, matches, timestamp and duration
 * accessors ...) have lib 0: every environment has them. */
#ifndef K3C_CEL_LIBS_H
#define K3C_CEL_LIBS_H

#include "cel/value.h"

/* NULL-terminated; an environment with CEL_LIB_* bits `libs` registers
 * every library whose lib is 0 or has a bit in libs. */
extern const cel_library_t *const cel_libraries[];

#endif
