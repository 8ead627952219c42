/* JSON merge patch, RFC 7386 (https://www.rfc-editor.org/rfc/rfc7386), as the
 * apiserver applies application/merge-patch+json. Values the patch inserts
 * have their object nulls pruned (as evanphx/json-patch does), so a null deep
 * inside a new value never reaches the stored object. */
#include <string.h>

#include "json/patch.h"
#include "json/util.h"

/* Merge patch into target in place. target is an object. */
static void merge_into(cJSON *target, const cJSON *patch) {
  strmap_t idx; /* target's keys: O(1) per patch key, not a scan of target */
  json_index_init(&idx, target);
  for (const cJSON *p = patch->child; p; p = p->next) {
    cJSON *cur = json_index_get(&idx, p->string);
    if (cJSON_IsNull(p)) {
      json_index_del(target, &idx, p->string);
      continue;
    }
    if (cJSON_IsObject(p) && cJSON_IsObject(cur)) {
      merge_into(cur, p);
      continue;
    }
    cJSON *v;
    if (cJSON_IsObject(p)) {
      v = cJSON_CreateObject();
      merge_into(v, p);
    } else {
      v = json_dup(p);
      json_prune_nulls(v);
    }
    json_index_set(target, &idx, p->string, v);
  }
  json_index_done(&idx);
}

cJSON *json_merge_patch(const cJSON *original, const cJSON *patch) {
  if (!cJSON_IsObject(patch)) {
    cJSON *v = json_dup(patch);
    json_prune_nulls(v);
    return v;
  }
  cJSON *doc = cJSON_IsObject(original) ? json_dup(original) : cJSON_CreateObject();
  merge_into(doc, patch);
  return doc;
}
