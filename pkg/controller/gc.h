/* The garbage collector (gc.c): ownerReferences between the cached kinds.
 * Loop thread only. */
#pragma once

#include <stdbool.h>

#include "client/informer.h"
#include "controller/controller.h"

typedef struct controller_gc controller_gc_t;

int controller_gc_new(client_t *c, struct ev_loop *loop, controller_gc_t **ret_gc);
/* Follow the objects of inf (group/resource/kind, served as v1, with the
 * owner index): as owners (their deletion cascades), as dependents (deleted
 * when every owner is gone), or both. At most 16 kinds, before start. */
int controller_gc_add(controller_gc_t *gc, client_informer_t *inf, const char *group,
                      const char *resource, const char *kind, bool owner, bool dependent);
void controller_gc_start(controller_gc_t *gc);
/* Cancels its requests; free before the informers. Accepts NULL. */
void controller_gc_free(controller_gc_t *gc);
