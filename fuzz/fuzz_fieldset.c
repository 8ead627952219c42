/* libFuzzer harness for pkg/api/fieldset.c (FieldsV1 from managedFields that
 * clients send): whatever parses must print, parse back and print the same
 * from then on (the first pass may turn invalid UTF-8 into U+FFFD, as Go),
 * and obey the set laws (a ∪ a = a, a ∩ a = a, a − a = ∅). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/fieldset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text(const api_fieldset_t *s) {
  cJSON *j = api_fieldset_to_json(s);
  char *t = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  memcpy(in, data, size);
  in[size] = 0;
  cJSON *j = cJSON_Parse(in);
  free(in);
  if (!j)
    return 0;
  api_fieldset_t *s = NULL, *back = NULL;
  char err[256];
  if (api_fieldset_from_json(j, &s, err, sizeof(err)) < 0) {
    cJSON_Delete(j);
    if (!err[0])
      abort();
    return 0;
  }
  cJSON_Delete(j);
  char *t0 = text(s);
  cJSON *j1 = cJSON_Parse(t0);
  api_fieldset_free(s);
  s = NULL;
  if (!j1 || api_fieldset_from_json(j1, &s, err, sizeof(err)) < 0)
    abort();
  cJSON_Delete(j1);
  free(t0);
  char *t1 = text(s);
  cJSON *j2 = cJSON_Parse(t1);
  if (!j2 || api_fieldset_from_json(j2, &back, err, sizeof(err)) < 0)
    abort();
  cJSON_Delete(j2);
  char *t2 = text(back);
  if (strcmp(t1, t2))
    abort();
  api_fieldset_union(back, s);
  char *t3 = text(back);
  api_fieldset_t *i = api_fieldset_intersect(s, back);
  char *t4 = text(i);
  if (strcmp(t1, t3) || strcmp(t1, t4))
    abort();
  api_fieldset_subtract(back, s);
  if (!api_fieldset_empty(back))
    abort();
  free(t1), free(t2), free(t3), free(t4);
  api_fieldset_free(s), api_fieldset_free(back), api_fieldset_free(i);
  return 0;
}
