/* libFuzzer harness for pkg/yaml/decode.c (YAML manifests, YAML request
 * bodies and the config file): decode the input as a stream and as a single
 * document, print what comes out with cJSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  cJSON *docs = NULL;
  if (yaml_parse_stream((const char *)data, size, &docs, err, sizeof(err)) == 0) {
    if (!cJSON_IsArray(docs))
      abort();
    char *out = cJSON_PrintUnformatted(docs);
    free(out);
    cJSON_Delete(docs);
  } else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
    abort(); /* a failure must say why */
  }
  cJSON *doc = NULL;
  if (yaml_parse_one((const char *)data, size, &doc, err, sizeof(err)) == 0) {
    char *out = cJSON_Print(doc);
    free(out);
    cJSON_Delete(doc);
  }
  return 0;
}
