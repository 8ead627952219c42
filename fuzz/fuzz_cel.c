/* libFuzzer harness for pkg/cel: any input is compiled (parser, macros,
 * checker, cost estimate) in a Kubernetes environment with a typed and a
 * dyn variable, and what compiles is evaluated with a cost limit, so a
 * hostile rule can neither crash the server nor run away. The same input
 * is also compiled unchecked and evaluated, which reaches the evaluator
 * with ASTs the checker would refuse. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cel/cel.h"
#include "cel/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const cel_program_t *p, const cel_activation_t *a) {
  cel_value_t *v = NULL;
  cel_error_t err;
  if (cel_eval(p, a, 100000, NULL, &v, &err) == 0) {
    cJSON *j = cel_value_to_json(v);
    cJSON_Delete(j);
    cel_value_unref(v);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *src = malloc(size + 1);
  if (!src)
    return 0;
  memcpy(src, data, size);
  src[size] = '\0';
  cJSON *schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},"
                              "\"s\":{\"type\":\"string\",\"maxLength\":10},\"l\":{\"type\":\"array\","
                              "\"maxItems\":5,\"items\":{\"type\":\"string\"}},\"t\":{\"type\":\"string\","
                              "\"format\":\"date-time\"}}}");
  cJSON *self = cJSON_Parse("{\"n\":3,\"s\":\"abc\",\"l\":[\"x\",\"y\"],\"t\":\"2024-01-02T03:04:05Z\"}");
  cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"replicas\":2}}");
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES | CEL_LIB_AUTHZ);
  cel_env_declare(env, "self", cel_type_from_schema(schema));
  cel_env_declare(env, "object", cel_type_dyn());
  cel_activation_t *a = cel_activation_new();
  cel_activation_set_json(a, "self", self);
  cel_activation_set_json(a, "object", obj);
  cel_error_t err;
  cel_program_t *p = cel_compile(env, src, CEL_RESULT_ANY, &err);
  if (p) {
    (void)cel_program_cost_estimate(p);
    (void)cel_program_uses(p, "self");
    run(p, a);
    cel_program_free(p);
  }
  p = cel_compile_unchecked(env, src, &err);
  if (p) {
    run(p, a);
    cel_program_free(p);
  }
  cel_activation_free(a);
  cel_env_free(env);
  cJSON_Delete(schema);
  cJSON_Delete(self);
  cJSON_Delete(obj);
  free(src);
  return 0;
}
