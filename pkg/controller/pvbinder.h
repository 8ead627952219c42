/* The PersistentVolume binder (upstream's persistentvolume-binder-controller,
 * pkg/controller/volume/persistentvolume) with k3s's local-path provisioner
 * built in (pvbinder.c).
 *
 * - An unbound claim is bound to the smallest Available volume that fits
 *   (controller_pv_fits); a volume whose claimRef names the claim (pre-bound)
 *   is taken first. Binding writes, one step per reconcile as upstream:
 *   pv.spec.claimRef (with the claim's uid; an update guarded by the
 *   volume's resourceVersion, so two claims cannot take one volume), the
 *   volume's status.phase Bound, pvc.spec.volumeName with the annotations
 *   pv.kubernetes.io/bind-completed and bound-by-controller, then the
 *   claim's status (Bound, capacity, accessModes).
 * - A volume without a claim is Available; one whose claim is gone (or is a
 *   new object of that name) is Released, and deleted when its reclaim
 *   policy is Delete.
 * - The StorageClass "local-path" (provisioner rancher.io/local-path,
 *   WaitForFirstConsumer, reclaimPolicy Delete, the default class) is
 *   created when the controller starts, unless it exists. A claim of a
 *   class with that provisioner and no volume that fits is provisioned once
 *   the scheduler has set volume.kubernetes.io/selected-node on it: a
 *   hostPath volume "pvc-<uid>" at <storage_dir>/pvc-<uid>_<ns>_<name>
 *   (type DirectoryOrCreate: the agent makes the directory), with a
 *   required nodeAffinity to that node and the class's reclaim policy. When
 *   the binder deletes such a volume (reclaim Delete) it removes that
 *   directory on its own host (the server's node; other nodes keep theirs).
 *
 * Threads: one libev loop; every function on that loop, except the pure
 * helpers at the end (any thread). */
#pragma once

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "client/client.h"
#include "client/informer.h"

#define CONTROLLER_LOCAL_PATH_CLASS "local-path"
#define CONTROLLER_LOCAL_PATH_PROVISIONER "rancher.io/local-path"
#define CONTROLLER_ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
/* On a Node: "<prefix><pv name>": "<directory>" asks that node's agent to
 * remove the directory of a deleted local-path volume (agent/localpath.h);
 * the agent drops the annotation once it has. */
#define CONTROLLER_ANN_LOCAL_PATH_CLEANUP "local-path.k3c.io/cleanup-"

typedef struct controller_pvbinder controller_pvbinder_t;

/* pvcs, pvs, classes: started by their owner, which must outlive the
 * binder. storage_dir: where local-path volumes go (copied; NULL:
 * /var/lib/k3c/storage). Returns 0 or a negative errno. */
int controller_pvbinder_new(client_t *c, client_informer_t *pvcs, client_informer_t *pvs,
                            client_informer_t *classes, const char *storage_dir,
                            struct ev_loop *loop, controller_pvbinder_t **ret_b);
void controller_pvbinder_free(controller_pvbinder_t *b); /* accepts NULL */

/* ---- pure parts (tests) ---- */

/* Whether volume pv can hold claim pvc, as upstream's FindMatchingVolume:
 * not being deleted, the same storageClassName ("" matches none/""), the
 * same volumeMode (Filesystem by default), every access mode of the claim
 * offered, spec.capacity.storage >= the claim's request, the claim's
 * spec.selector matching the volume's labels, and a claimRef that is
 * empty or names this claim (and, with a uid, this claim's uid). */
bool controller_pv_fits(const cJSON *pv, const cJSON *pvc);

/* The volume pvc should be bound to among the n in pvs: one pre-bound to
 * it (claimRef naming it) that fits, else the fitting Available volume
 * with the smallest capacity (the first by name among equal ones). NULL
 * when none. */
const cJSON *controller_pv_pick(const cJSON *const *pvs, size_t n, const cJSON *pvc);

/* The directory of a local-path volume: "<storage_dir>/pvc-<uid>_<ns>_<name>"
 * as k3s's local-path-provisioner names it. Returns 0 or -ENAMETOOLONG
 * (out untouched on error only partially: do not use it). */
int controller_localpath_dir(const char *storage_dir, const char *uid, const char *ns,
                             const char *name, char *out, size_t len);

/* The node a local-path volume's required nodeAffinity names
 * (kubernetes.io/hostname In [node]), borrowed from pv; NULL if none. */
const char *controller_localpath_node(const cJSON *pv);

/* A new PersistentVolume provisioned for pvc on node (caller frees), as
 * the local-path provisioner writes it; NULL when pvc lacks a uid, name,
 * namespace or storage request. reclaim: the class's policy (NULL: Delete). */
cJSON *controller_localpath_pv(const cJSON *pvc, const char *node, const char *storage_dir,
                               const char *reclaim);
