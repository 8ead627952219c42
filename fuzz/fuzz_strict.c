/* libFuzzer harness for pkg/json/strict.c (every JSON request body and
 * patch): decode the input; a success must print as valid UTF-8 JSON that
 * decodes again, with no duplicates and nothing replaced, to a tree that
 * prints the same; a failure must say why and where. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_strict_result_t res;
  cJSON *doc = NULL;
  int r = json_strict_parse((const char *)data, size, &doc, &res);
  if (r < 0) {
    if (res.kind == JSON_STRICT_OK || !res.err[0] || res.err_offset > size)
      abort(); /* a failure must say why, at a byte of the input */
    json_strict_result_done(&res);
    return 0;
  }
  if (res.ndups > JSON_STRICT_MAX_DUPS || res.ndups > res.ndup_keys)
    abort();
  json_strict_result_done(&res);
  char *out = cJSON_PrintUnformatted(doc);
  if (!out)
    abort();
  size_t len = strlen(out);
  char *clean = json_utf8_sanitize(out, len);
  if (strcmp(clean, out))
    abort(); /* what k3c stores and sends is valid UTF-8 */
  free(clean);
  cJSON *again = NULL;
  if (json_strict_parse(out, len, &again, &res) < 0)
    abort();
  if (res.ndups || res.replaced)
    abort(); /* duplicates were collapsed, bad bytes replaced, once */
  json_strict_result_done(&res);
  /* printing what was decoded from the print gives the same text (not
   * json_equal: cJSON prints numbers past 1e15 with 15 digits) */
  char *out2 = cJSON_PrintUnformatted(again);
  if (!out2 || strcmp(out, out2))
    abort();
  cJSON_free(out2);
  cJSON_Delete(again);
  cJSON_free(out);
  cJSON_Delete(doc);
  return 0;
}
