/* JSON merge patch, RFC 7386 (https://www.rfc-editor.org/rfc/rfc7386), as the
 * apiserver applies application/merge-patch+json. Values the patch inserts
 * have their object nulls pruned (as evanphx/json-patch does), so a null deep
 * inside a new value never reaches the stored object. */
#include <string.h>

#include "json/patch.h"
#include "json/util.h"

/* Merge patch into target in place. target is an object. */
static void merge_into(cJSON *target, const cJSON *patch) {
  for (const cJSON *p = patch->child; p; p = p->next) {
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(target, p->string);
    if (cJSON_IsNull(p)) {
      if (cur)
        cJSON_Delete(cJSON_DetachItemViaPointer(target, cur));
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
    if (cur)
      cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, v);
    else
      cJSON_AddItemToObject(target, p->string, v);
  }
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
