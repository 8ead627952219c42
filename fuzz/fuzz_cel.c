/* libFuzzer harness for CEL: the input's first line is an expression,
 * the rest (if any) a JSON value bound to `self` (declared dyn) and to
 * `obj` (declared through a small schema). Parse, check and evaluate with
 * a cost limit: no input may crash, leak, or run unbounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cel/cel.h"
#include "cel/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  char *nl = strchr(s, '\n');
  cJSON *json = NULL;
  if (nl) {
    *nl = '\0';
    json = cJSON_Parse(nl + 1);
  }
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES | CEL_LIB_AUTHZ);
  cJSON *schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},"
                              "\"t\":{\"type\":\"string\",\"format\":\"date-time\"},"
                              "\"l\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                              "\"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}}}");
  cel_env_declare(env, "self", cel_type_dyn());
  cel_env_declare(env, "obj", cel_type_from_schema(schema));
  cJSON_Delete(schema);
  cel_error_t err;
  cel_program_t *p = cel_compile(env, s, CEL_RESULT_ANY, &err);
  if (p) {
    (void)cel_program_cost_estimate(p);
    cel_activation_t *a = cel_activation_new();
    cel_activation_set_json(a, "self", json);
    cel_activation_set_json(a, "obj", json);
    cel_value_t *v = NULL;
    uint64_t used = 0;
    if (cel_eval(p, a, 100000, &used, &v, &err) == 0) {
      cJSON *out = cel_value_to_json(v);
      cJSON_Delete(out);
      cel_value_unref(v);
    }
    cel_activation_free(a);
    cel_program_free(p);
  }
  cel_env_free(env);
  cJSON_Delete(json);
  free(s);
  return 0;
}
