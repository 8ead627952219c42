/* libFuzzer harness for label and field selector parsing and matching. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"x\",\"labels\":{\"app\":\"web\","
                           "\"n\":\"5\",\"in\":\"\"}},\"spec\":{\"replicas\":2}}");
  char err[512];
  label_selector_t *ls = NULL;
  if (label_selector_parse(s, &ls, err, sizeof(err)) == 0) {
    label_selector_match(ls, cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "labels"));
    label_selector_empty(ls);
    label_selector_free(ls);
  }
  field_selector_t *fs = NULL;
  if (field_selector_parse(s, &fs, err, sizeof(err)) == 0) {
    for (size_t i = 0; i < field_selector_count(fs); i++)
      (void)field_selector_field(fs, i);
    field_selector_match(fs, obj);
    field_selector_free(fs);
  }
  cJSON *j = cJSON_Parse(s);
  if (j) {
    if (label_selector_from_json(j, &ls, err, sizeof(err)) == 0)
      label_selector_free(ls);
    cJSON_Delete(j);
  }
  cJSON_Delete(obj);
  free(s);
  return 0;
}
