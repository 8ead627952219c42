/* Removing deleted local-path volumes' directories on their node
 * (localpath.h): each cleanup annotation of the Node is acted on once
 * (in flight: not again until its patch answered), the directory removed
 * and the annotation set to null with a merge patch.
 * https://github.com/rancher/local-path-provisioner (the layout) */
#include "agent/localpath.h"

#include "controller/pvbinder.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INFLIGHT 16

typedef struct {
  agent_localpath_t *lp;
  client_req_t *req;
  char key[320];
} inflight_t;

struct agent_localpath {
  client_t *c;
  char *node;
  inflight_t *busy[MAX_INFLIGHT];
};

agent_localpath_t *agent_localpath_new(client_t *c, const char *node) {
  agent_localpath_t *lp = xcalloc(1, sizeof(*lp));
  lp->c = c;
  lp->node = xstrdup(node);
  return lp;
}

void agent_localpath_free(agent_localpath_t *lp) {
  if (!lp)
    return;
  for (size_t i = 0; i < MAX_INFLIGHT; i++) {
    if (lp->busy[i]) {
      client_req_cancel(lp->busy[i]->req);
      free(lp->busy[i]);
    }
  }
  free(lp->node);
  free(lp);
}

bool agent__localpath_dir_ok(const char *pv, const char *dir) {
  if (!pv || !dir || dir[0] != '/' || strncmp(pv, "pvc-", 4))
    return false;
  for (const char *p = dir; *p;) {
    while (*p == '/')
      p++;
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return false;
    p += n;
  }
  const char *base = strrchr(dir, '/') + 1;
  size_t pl = strlen(pv);
  /* pvc-<uid>_<ns>_<name>: the PV's name, then the claim's namespace and name */
  if (strncmp(base, pv, pl) || base[pl] != '_')
    return false;
  const char *ns = base + pl + 1, *us = strchr(ns, '_');
  return us && us > ns && us[1];
}

static void patched(const client_result_t *res, void *data) {
  inflight_t *f = data;
  agent_localpath_t *lp = f->lp;
  if (res->code >= 300 && res->code != 404)
    log_warn("agent", "dropping annotation %s of node %s: %d %s", f->key, lp->node, res->code,
             res->message ? res->message : "");
  for (size_t i = 0; i < MAX_INFLIGHT; i++)
    if (lp->busy[i] == f)
      lp->busy[i] = NULL;
  free(f);
}

void agent_localpath_node_seen(agent_localpath_t *lp, const cJSON *node) {
  if (!lp)
    return;
  const cJSON *anns = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(node, "metadata"), "annotations");
  size_t pl = strlen(CONTROLLER_ANN_LOCAL_PATH_CLEANUP);
  const cJSON *a;
  cJSON_ArrayForEach(a, anns) {
    if (!a->string || strncmp(a->string, CONTROLLER_ANN_LOCAL_PATH_CLEANUP, pl) ||
        strlen(a->string) >= sizeof(((inflight_t *)0)->key))
      continue;
    size_t slot = MAX_INFLIGHT;
    bool busy = false;
    for (size_t i = 0; i < MAX_INFLIGHT; i++) {
      if (lp->busy[i] && !strcmp(lp->busy[i]->key, a->string))
        busy = true;
      else if (!lp->busy[i] && slot == MAX_INFLIGHT)
        slot = i;
    }
    if (busy || slot == MAX_INFLIGHT)
      continue; /* a later event of the Node brings the rest */
    const char *pv = a->string + pl;
    const char *dir = cJSON_IsString(a) ? a->valuestring : NULL;
    if (!agent__localpath_dir_ok(pv, dir)) {
      log_warn("agent",
               "node %s: annotation %s names %s, not a local-path volume's directory: "
               "not removed",
               lp->node, a->string, dir ? dir : "(not a string)");
    } else {
      /* on the loop: a volume's directory is usually small; a big one
       * holds the agent's loop for as long as its removal takes */
      int r = fs_remove_tree(dir);
      if (r < 0 && r != -ENOENT) {
        log_warn("agent", "removing %s of deleted volume %s: %s (kept; the annotation stays)", dir,
                 pv, strerror(-r));
        continue;
      }
      log_info("agent", "removed the directory of deleted volume %s: %s", pv, dir);
    }
    inflight_t *f = xcalloc(1, sizeof(*f));
    f->lp = lp;
    snprintf(f->key, sizeof(f->key), "%s", a->string);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNullToObject(
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations"), a->string);
    client_ref_t ref = {.version = "v1", .resource = "nodes", .name = lp->node};
    f->req = client_patch(lp->c, &ref, CLIENT_PATCH_MERGE, p, NULL, patched, f);
    cJSON_Delete(p);
    if (!f->req) {
      free(f);
      continue;
    }
    lp->busy[slot] = f;
  }
}
