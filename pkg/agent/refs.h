/* pkg/agent refs: the ConfigMaps or Secrets this node's pods use, each
 * watched on its own (list+watch with fieldSelector metadata.name=<name>
 * in its namespace), as upstream's kubelet does with its "Watch" change
 * detection: the Node authorizer lets a node read only the objects of pods
 * bound to it, never a whole namespace. An object's watch starts when the
 * first pod names it and stops when the last one that did is gone.
 *
 * Threads: the loop of its client. Objects returned are borrowed: valid
 * until the next loop iteration. */
#pragma once

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "client/client.h"

typedef struct agent_refs agent_refs_t;

/* An object named by some pod was added, changed, deleted, or its watch has
 * listed for the first time (present or not): the pods of ns that use it
 * may need a sync. */
typedef void (*agent_refs_changed_cb)(const char *ns, const char *name, void *data);

/* resource: "configmaps" or "secrets" (core v1). c must outlive the refs.
 * Returns 0 or a negative errno. */
int agent_refs_new(client_t *c, const char *resource, agent_refs_changed_cb cb, void *data,
                   agent_refs_t **ret_refs);
/* Stops every watch. Accepts NULL. */
void agent_refs_free(agent_refs_t *r);

/* The pod with key owner ("ns/name") now uses names (an array of strings,
 * may be NULL or empty) in ns: watches start for new names; names it no
 * longer uses are released. */
void agent_refs_set(agent_refs_t *r, const char *owner, const char *ns, const cJSON *names);
/* The pod is gone: release everything it used. */
void agent_refs_drop(agent_refs_t *r, const char *owner);

/* The object ns/name, or NULL (not there, or not listed yet). *ret_synced
 * (may be NULL) tells whether its watch has listed: a NULL with synced
 * true means it does not exist. An object no pod declared is never synced. */
const cJSON *agent_refs_get(const agent_refs_t *r, const char *ns, const char *name,
                            bool *ret_synced);

/* How many objects are watched (tests, metrics). */
unsigned agent_refs_count(const agent_refs_t *r);
