/* libFuzzer harness for pkg/yaml/decode.c (YAML manifests, YAML request
 * bodies and the config file): decode the input as a stream and as a single
 * document, print what comes out with cJSON; decode it as a request body
 * (repeated keys reported, the last kept) and check no key is left twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_dup(size_t line, const char *key, void *data) {
  if (!line || !key)
    abort();
  (*(size_t *)data)++;
}

/* -1 if an object of v repeats a key (pairwise: fuzz inputs are small) */
static int no_repeats(const cJSON *v, int depth) {
  if (depth > YAML_MAX_DEPTH + 1)
    return 0;
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next) {
    if (cJSON_IsObject(v))
      for (const cJSON *d = c->next; d; d = d->next)
        if (!strcmp(c->string, d->string))
          return -1;
    if (no_repeats(c, depth + 1) < 0)
      return -1;
  }
  return 0;
}

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
  /* request bodies: repeated keys keep the last value and are reported;
   * the result holds each key of a mapping once */
  size_t dups = 0;
  doc = NULL;
  if (yaml_parse_one_dups((const char *)data, size, &doc, count_dup, &dups, err, sizeof(err)) == 0) {
    if (no_repeats(doc, 0) < 0)
      abort();
    cJSON_Delete(doc);
  }
  return 0;
}
