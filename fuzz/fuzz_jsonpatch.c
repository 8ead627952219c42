/* libFuzzer harness for the pkg/json patch appliers. Input: a JSON document
 * on the first line, a patch on the rest. An array patch goes through
 * json_patch_apply; an object patch through json_merge_patch and
 * json_smp_apply (no schema, and a tiny schema with a merge list). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const void *field_cb(const void *type, const char *name, smp_field_info_t *ret_info) {
  if (strcmp(name, "containers") == 0 || strcmp(name, "env") == 0) {
    *ret_info = (smp_field_info_t){SMP_LIST_MERGE, "name", false};
    return type;
  }
  if (strcmp(name, "finalizers") == 0) {
    *ret_info = (smp_field_info_t){SMP_LIST_MERGE, NULL, false};
    return NULL;
  }
  return type;
}

static const smp_schema_t schema = {field_cb};
static const int root_type;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  char *nl = strchr(s, '\n');
  if (!nl) {
    free(s);
    return 0;
  }
  *nl = '\0';
  cJSON *doc = cJSON_Parse(s), *patch = cJSON_Parse(nl + 1);
  char err[256];
  if (doc && patch) {
    cJSON *out = NULL;
    if (cJSON_IsArray(patch)) {
      if (json_patch_apply(doc, patch, &out, err, sizeof(err)) == 0)
        cJSON_Delete(out);
    } else {
      cJSON_Delete(json_merge_patch(doc, patch));
      out = NULL;
      if (json_smp_apply(doc, patch, &schema, NULL, &out, err, sizeof(err)) == 0)
        cJSON_Delete(out);
      out = NULL;
      if (json_smp_apply(doc, patch, &schema, &root_type, &out, err, sizeof(err)) == 0)
        cJSON_Delete(out);
    }
  }
  cJSON_Delete(doc);
  cJSON_Delete(patch);
  free(s);
  return 0;
}
