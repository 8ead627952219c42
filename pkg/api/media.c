/* Response media types beyond JSON: a client whose Accept header names
 * application/yaml first gets objects and lists as YAML, as upstream's
 * apiserver negotiates them (Table, watch and errors stay JSON here).
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#alternate-representations-of-resources */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "yaml/encode.h"

/* Whether the first media range of Accept is application/yaml. */
bool api__wants_yaml(http_req_t *req) {
  const char *accept = http_req_header(req, "Accept");
  if (!accept)
    return false;
  while (*accept == ' ')
    accept++;
  return !strncasecmp(accept, "application/yaml", 16) && strchr(",; ", accept[16]) != NULL;
}

bool api__respond_yaml(http_req_t *req, int code, const char *json, size_t len) {
  if (!api__wants_yaml(req))
    return false;
  cJSON *doc = cJSON_ParseWithLength(json, len);
  char *text = NULL;
  size_t tlen = 0;
  int r = doc ? yaml_emit_json(doc, &text, &tlen) : -1;
  cJSON_Delete(doc);
  if (r < 0)
    return false; /* answer JSON rather than nothing */
  http_respond_take(req, code, "application/yaml", text, tlen);
  return true;
}
