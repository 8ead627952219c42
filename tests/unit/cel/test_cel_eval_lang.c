/* The language through cel_compile/cel_eval (test_cel_eval covers values and the API): the evaluator (eval.c) with the
 * real libraries: arithmetic and overflow, strings, macros and their
 * error semantics, has(), optionals, timestamps, qualified names, errors
 * as upstream words them, the cost limit, JSON variables read through a
 * schema's type (cel_type_from_schema), lazy variables. */
#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cel/cel.h"
#include "cel/value.h"
#include "test.h"

/* Evaluates src in a Kubernetes environment with variable "self" of
 * schema (JSON text, NULL: no variable) bound to json (JSON text). */
static int run(const char *schema, const char *json, const char *src, cel_result_t want, cel_value_t **ret,
               uint64_t limit, uint64_t *cost, char *msg, size_t msglen) {
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES);
  cJSON *sj = schema ? cJSON_Parse(schema) : NULL, *jj = json ? cJSON_Parse(json) : NULL;
  if (schema)
    cel_env_declare(env, "self", cel_type_from_schema(sj));
  cel_error_t e = {{0}};
  cel_program_t *p = cel_compile(env, src, want, &e);
  int rc = -1000;
  *ret = NULL;
  msg[0] = 0;
  if (!p) {
    snprintf(msg, msglen, "compile: %s", e.message);
  } else {
    cel_activation_t *a = cel_activation_new();
    if (schema)
      cel_activation_set_json(a, "self", jj);
    rc = cel_eval(p, a, limit, cost, ret, &e);
    if (rc)
      snprintf(msg, msglen, "%s", e.message);
    cel_activation_free(a);
    cel_program_free(p);
  }
  cJSON_Delete(sj);
  cJSON_Delete(jj);
  cel_env_free(env);
  return rc;
}

/* Each must evaluate to true. */
static const char *const truths[] = {
  /* arithmetic, comparison, conversions */
  "1 + 2 * 3 - 4 / 2 == 5 && -(3 % 2) == -1 && 5u - 2u == 3u && 0.5 + 0.25 == 0.75",
  "-9223372036854775807 - 1 == -9223372036854775808 && 18446744073709551615u > 0u",
  "dyn(1) == 1.0 && dyn(1u) == 1 && [dyn(1), dyn(2)] == [dyn(1.0), dyn(2u)] && {'a': 1} == {'a': 1} && {'a': 1} != {'a': 2}",
  "null == null && [] != [1] && 'a' != 'b' && b'ab' == b'ab'",
  "true ? 1 == 1 : 1 / 0 == 0",
  "false ? 1 / 0 == 0 : true",
  /* logic: short circuit and error absorption */
  "!(false && 1 / 0 == 0)",
  "1 / 0 == 0 || true",
  "!(1 / 0 == 0 && false)",
  "true || {'a': 1}['b'] == 1",
  /* strings */
  "'abc'.size() == 3 && 'ab' + 'c' == 'abc' && 'abc'.startsWith('ab') && 'a.b'.split('.') == ['a', 'b']",
  "'Hello'.lowerAscii() == 'hello' && 'x=%d'.format([3]) == 'x=3'",
  /* lists, maps, in, index */
  "[1, 2, 3][2] == 3 && {'k': {'n': 'v'}}['k']['n'] == 'v' && 3 in [1, 2, 3] && !('z' in {'a': 1})",
  "{1: 'a', 2: 'b'}[2] == 'b' && {2u: 'x'}[2u] == 'x' && {true: 1}[true] == 1 && size({'a': 1, 'b': 2}) == 2",
  "[1, 2] + [3] == [1, 2, 3] && size([[], [1]]) == 2",
  /* macros */
  "[1, 2, 3].all(x, x > 0) && [1, 2, 3].exists(x, x == 2) && [1, 2, 3].exists_one(x, x > 2)",
  "![1, 2, 3].exists_one(x, x > 1) && [].all(x, false) && ![].exists(x, true)",
  "[1, 2, 3].map(x, x * 2) == [2, 4, 6] && [1, 2, 3, 4].filter(x, x % 2 == 0) == [2, 4]",
  "[1, 2, 3, 4].map(x, x % 2 == 0, x * 10) == [20, 40]",
  "{'a': 1, 'b': 2}.all(k, k in ['a', 'b']) && {'a': 1}.map(k, k + 'x') == ['ax']",
  "[[1, 2], [3]].all(l, l.all(x, x > 0)) && [1, 2].map(x, [1, 2].map(y, x * y)) == [[1, 2], [2, 4]]",
  /* error absorption in macros: all false if any false, exists true if any true */
  "![0, 1].all(x, 1 / x > 0 && false)",
  "[0, 1].exists(x, 1 / x == 1)",
  "![1, 0].all(x, 1 / x == 5)",
  /* has */
  "has({'a': 1}.a) && !has({'a': 1}.b)",
  "{'content-type': 'json'}.`content-type` == 'json' && has({'a.b': 1}.`a.b`) && !has({'x': 1}.`a/b`)",
  /* optionals */
  "optional.of(1).hasValue() && !optional.none().hasValue() && optional.of(2).value() == 2",
  "{'a': 1}.?a.value() == 1 && !{'a': 1}.?b.hasValue() && {'a': 1}.?b.orValue(5) == 5",
  "[1, 2][?1] == optional.of(2) && ![1][?4].hasValue() && {'a': {'b': 2}}.?a.b == optional.of(2)",
  "[1, ?{'a': 1}.?b, ?{'a': 3}.?a] == [1, 3] && {?'a': {'x': 1}.?x, ?'b': {'x': 1}.?y} == {'a': 1}",
  "optional.none().or(optional.of(7)).value() == 7",
  "optional.of(41).optMap(y, y + 1) == optional.of(42) && !optional.none().optMap(y, y + 1).hasValue()",
  "{'k': {'s': 'v'}}.?k.optFlatMap(m, m.?s) == optional.of('v') && !{}.?k.optFlatMap(m, m.?s).hasValue()",
  "[?{'a': 1}.?a, ?{}.?b] == [1] && has({'x': {'y': 1}}.?x.y) && !has({}.?x.y)",
  "[{'z': 0}].exists(y, y.z == 0)",
  /* types */
  "type(1) == int && type(1u) == uint && type(1.0) == double && type('') == string && type(b'') == bytes",
  "type(true) == bool && type(null) == null_type && type([]) == list && type({}) == map && type(int) == type",
  /* timestamps and durations */
  "timestamp('2024-02-29T13:14:15Z').getFullYear() == 2024 && duration('90m') == duration('1h30m')",
  "timestamp('2024-01-01T00:00:00Z') + duration('36h') == timestamp('2024-01-02T12:00:00Z')",
  "timestamp('2024-01-01T00:00:00Z') < timestamp('2024-01-01T00:00:01Z')",
};

static void test_truths(void) {
  int bad = 0;
  for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
    cel_value_t *v;
    char msg[1100];
    int rc = run(NULL, NULL, truths[i], CEL_RESULT_BOOL, &v, 0, NULL, msg, sizeof(msg));
    if (rc != 0 || cel_value_kind(v) != CEL_BOOL || !cel_value_bool(v)) {
      printf("#   %s: rc %d %s\n", truths[i], rc, rc ? msg : "not true");
      bad++;
    }
    cel_value_unref(v);
  }
  ASSERT_EQ_INT(bad, 0);
}

static const struct {
  const char *expr, *error;
} errors[] = {
  {"9223372036854775807 + 1 > 0", "integer overflow"},
  {"-9223372036854775807 - 2 > 0", "integer overflow"},
  {"9223372036854775807 * 2 > 0", "integer overflow"},
  {"0u - 1u > 0u", "unsigned integer overflow"},
  {"1 / 0 == 0", "division by zero"},
  {"5 % 0 == 0", "modulus by zero"},
  {"{'a': 1}['b'] == 1", "no such key: b"},
  {"{'a': 1}.b == 1", "no such key: b"},
  {"[1, 2][2] == 1", "index '2' out of range in list size '2'"},
  {"1 / 0 == 0 && true", "division by zero"},
  {"[1, 0].all(x, 1 / x > 0)", "division by zero"},
  {"[0, 1].exists(x, 1 / x > 5)", "division by zero"},
  {"dyn('a') + 1 == 1", "no matching overload"},
  {"{'a': 1, 'a': 2}.size() == 1", "Failed with repeated key"},
  {"timestamp('x' + 'bad') == timestamp('x' + 'bad')", "google.protobuf.Timestamp"},
};

static void test_errors(void) {
  int bad = 0;
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
    cel_value_t *v;
    char msg[1100];
    int rc = run(NULL, NULL, errors[i].expr, CEL_RESULT_BOOL, &v, 0, NULL, msg, sizeof(msg));
    if (rc != -EINVAL || !strstr(msg, errors[i].error)) {
      printf("#   %s: rc %d \"%s\", want \"%s\"\n", errors[i].expr, rc, msg, errors[i].error);
      bad++;
    }
    cel_value_unref(v);
  }
  ASSERT_EQ_INT(bad, 0);
}

/* a result of another type than asked: compile error when known, run-time
 * error through dyn */
static void test_result_types(void) {
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES);
  cel_error_t e = {{0}};
  ASSERT_NULL(cel_compile(env, "'a'", CEL_RESULT_BOOL, &e));
  /* a quoted field name is no function name */
  ASSERT_NULL(cel_compile(env, "{'a': 1}.`a`() == 1", CEL_RESULT_BOOL, &e));
  ASSERT_CONTAINS(e.message, "Syntax error: mismatched input '('");
  cel_program_t *p = cel_compile(env, "'a' + 'b'", CEL_RESULT_STRING, &e);
  ASSERT_NOT_NULL(p);
  cel_activation_t *a = cel_activation_new();
  char *s = NULL;
  ASSERT_EQ_INT(cel_eval_string(p, a, 0, NULL, &s, &e), 0);
  ASSERT_EQ_STR(s, "ab");
  free(s);
  bool b = true;
  ASSERT_EQ_INT(cel_eval_bool(p, a, 0, NULL, &b, &e), -EINVAL);
  ASSERT_CONTAINS(e.message, "expected bool, got string");
  cel_program_free(p);
  p = cel_compile(env, "1 + 1", CEL_RESULT_ANY, &e);
  ASSERT_NOT_NULL(p);
  cel_value_t *v = NULL;
  ASSERT_EQ_INT(cel_eval(p, a, 0, NULL, &v, &e), 0);
  ASSERT_EQ_INT(cel_value_kind(v), CEL_INT);
  ASSERT_EQ_INT(cel_value_int(v), 2);
  cel_value_unref(v);
  cel_program_free(p);
  cel_activation_free(a);
  cel_env_free(env);
}

/* the cost limit stops an evaluation; the cost used is reported */
static void test_cost_limit(void) {
  cel_value_t *v;
  char msg[1100];
  uint64_t used = 0;
  const char *big = "[1,2,3,4,5,6,7,8,9,10].all(x, [1,2,3,4,5,6,7,8,9,10].all(y, "
                    "[1,2,3,4,5,6,7,8,9,10].all(z, x + y + z > 0)))";
  ASSERT_EQ_INT(run(NULL, NULL, big, CEL_RESULT_BOOL, &v, 0, &used, msg, sizeof(msg)), 0);
  ASSERT_TRUE(cel_value_bool(v));
  cel_value_unref(v);
  ASSERT_TRUE(used > 1000);
  uint64_t small = 0;
  ASSERT_EQ_INT(run(NULL, NULL, "1 + 1 == 2", CEL_RESULT_BOOL, &v, 0, &small, msg, sizeof(msg)), 0);
  cel_value_unref(v);
  ASSERT_TRUE(small > 0 && small < used);
  ASSERT_EQ_INT(run(NULL, NULL, big, CEL_RESULT_BOOL, &v, 100, NULL, msg, sizeof(msg)), -E2BIG);
  ASSERT_CONTAINS(msg, "operation cancelled: actual cost limit exceeded");
  ASSERT_EQ_INT(run(NULL, NULL, big, CEL_RESULT_BOOL, &v, used, NULL, msg, sizeof(msg)), 0);
  cel_value_unref(v);
}

static const char *const schema =
  "{\"type\": \"object\", \"properties\": {"
  "\"replicas\": {\"type\": \"integer\"},"
  "\"ratio\": {\"type\": \"number\"},"
  "\"name\": {\"type\": \"string\", \"maxLength\": 63},"
  "\"created\": {\"type\": \"string\", \"format\": \"date-time\"},"
  "\"timeout\": {\"type\": \"string\", \"format\": \"duration\"},"
  "\"port\": {\"x-kubernetes-int-or-string\": true},"
  "\"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
  "\"labels\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}},"
  "\"spec\": {\"type\": \"object\", \"properties\": {\"min\": {\"type\": \"integer\"}, \"max\": {\"type\": \"integer\"}}}"
  "}}";
static const char *const object =
  "{\"replicas\": 3, \"ratio\": 2, \"name\": \"web\", \"created\": \"2024-05-01T10:00:00Z\", \"timeout\": \"90s\","
  " \"port\": \"http\", \"tags\": [\"a\", \"b\"], \"labels\": {\"app\": \"web\"}, \"spec\": {\"min\": 1, \"max\": 5}}";

static void test_json_schema(void) {
  static const char *const rules[] = {
    "self.replicas == 3 && self.ratio == 2.0 && type(self.ratio) == double",
    "self.name.startsWith('we') && size(self.name) == 3",
    "self.created < timestamp('2025-01-01T00:00:00Z') && self.created.getFullYear() == 2024",
    "self.timeout == duration('1m30s')",
    "self.port == 'http'",
    "self.tags.all(t, t.size() == 1) && self.tags.exists(t, t == 'b')",
    "self.labels['app'] == 'web' && 'app' in self.labels && !has(self.labels.other)",
    "self.spec.min <= self.spec.max && has(self.spec.min)",
    "self.?spec.?min.orValue(0) == 1",
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
    cel_value_t *v;
    char msg[1100];
    int rc = run(schema, object, rules[i], CEL_RESULT_BOOL, &v, CEL_PER_CALL_LIMIT, NULL, msg, sizeof(msg));
    if (rc != 0 || !cel_value_bool(v)) {
      printf("#   %s: rc %d %s\n", rules[i], rc, rc ? msg : "false");
      bad++;
    }
    cel_value_unref(v);
  }
  ASSERT_EQ_INT(bad, 0);
  /* a field the schema does not declare: compile error; one it declares
   * but the object lacks: run-time no such key */
  cel_value_t *v;
  char msg[1100];
  ASSERT_EQ_INT(run(schema, object, "self.nope == 1", CEL_RESULT_BOOL, &v, 0, NULL, msg, sizeof(msg)), -1000);
  ASSERT_CONTAINS(msg, "undefined field 'nope'");
  ASSERT_EQ_INT(run(schema, "{\"spec\": {}}", "self.spec.min == 1", CEL_RESULT_BOOL, &v, 0, NULL, msg, sizeof(msg)),
                -EINVAL);
  ASSERT_CONTAINS(msg, "no such key: min");
  ASSERT_EQ_INT(run(schema, object, "self.replicas + 'x' == 1", CEL_RESULT_BOOL, &v, 0, NULL, msg, sizeof(msg)), -1000);
  ASSERT_CONTAINS(msg, "found no matching overload for '_+_' applied to '(int, string)'");
}

/* variables: values, dotted names declared as one variable, lazy
 * programs, uses */
static void test_variables(void) {
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES);
  ASSERT_EQ_INT(cel_env_declare(env, "x", cel_type_dyn()), 0);
  ASSERT_EQ_INT(cel_env_declare(env, "x", cel_type_dyn()), -EEXIST);
  ASSERT_EQ_INT(cel_env_declare(env, "a.b", cel_type_dyn()), 0);
  ASSERT_EQ_INT(cel_env_declare(env, "variables.double", cel_type_dyn()), 0);
  ASSERT_EQ_INT(cel_env_declare(env, "obj", cel_type_object_dyn()), 0);
  cel_error_t e = {{0}};
  cel_program_t *dbl = cel_compile(env, "x * 2", CEL_RESULT_ANY, &e);
  ASSERT_NOT_NULL(dbl);
  cel_program_t *p = cel_compile(env, "a.b + variables.double + variables.double == 33 && obj.metadata.name == 'n' && "
                                 "[{'b': 0}].exists(a, a.b == 0)",
                                 CEL_RESULT_BOOL, &e);
  ASSERT_NOT_NULL(p);
  ASSERT_TRUE(cel_program_uses(p, "a.b"));
  ASSERT_TRUE(cel_program_uses(p, "obj"));
  ASSERT_FALSE(cel_program_uses(p, "x"));
  ASSERT_TRUE(cel_program_uses(dbl, "x"));
  cel_activation_t *a = cel_activation_new();
  cel_value_t *seven = cel_int(7), *five = cel_int(5);
  cel_activation_set_value(a, "x", seven);
  cel_activation_set_value(a, "a.b", five);
  cel_value_unref(seven);
  cel_value_unref(five);
  cel_activation_set_lazy(a, "variables.double", dbl);
  cJSON *o = cJSON_Parse("{\"metadata\": {\"name\": \"n\"}}");
  cel_activation_set_json(a, "obj", o);
  bool b = false;
  ASSERT_EQ_INT(cel_eval_bool(p, a, 0, NULL, &b, &e), 0);
  ASSERT_TRUE(b);
  cel_activation_free(a);
  /* an unbound variable is an error, not a crash */
  a = cel_activation_new();
  ASSERT_EQ_INT(cel_eval_bool(p, a, 0, NULL, &b, &e), -EINVAL);
  cel_activation_free(a);
  cJSON_Delete(o);
  cel_program_free(p);
  cel_program_free(dbl);
  ASSERT_NULL(cel_compile(env, "undeclared == 1", CEL_RESULT_BOOL, &e));
  ASSERT_CONTAINS(e.message, "undeclared reference to 'undeclared'");
  cel_env_free(env);
}

/* hostile input: deep nesting is refused by the parser, long macro chains
 * and big literals evaluate without crashing */
static void test_hostile(void) {
  char src[8192];
  size_t n = 0;
  for (int i = 0; i < 2000; i++)
    src[n++] = '(';
  src[n++] = '1';
  for (int i = 0; i < 2000; i++)
    src[n++] = ')';
  src[n] = 0;
  cel_value_t *v;
  char msg[1100];
  ASSERT_EQ_INT(run(NULL, NULL, src, CEL_RESULT_ANY, &v, 0, NULL, msg, sizeof(msg)), -1000);
  n = 0;
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(src + n, sizeof(src) - n, "[");
  n += (size_t)snprintf(src + n, sizeof(src) - n, "1");
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(src + n, sizeof(src) - n, "]");
  int rc = run(NULL, NULL, src, CEL_RESULT_ANY, &v, 0, NULL, msg, sizeof(msg));
  ASSERT_TRUE(rc == 0 || rc == -1000);
  cel_value_unref(v);
  rc = run(NULL, NULL, "[1,2,3,4,5,6,7,8].map(a, [1,2,3,4,5,6,7,8].map(b, [1,2,3,4,5,6,7,8].map(c, "
           "[1,2,3,4,5,6,7,8].map(d, [1,2,3,4,5,6,7,8].map(e, a+b+c+d+e)))))", CEL_RESULT_ANY, &v, 10000, NULL, msg,
           sizeof(msg));
  ASSERT_EQ_INT(rc, -E2BIG);
}

TEST_LIST = {
  TEST(test_truths),
  TEST(test_errors),
  TEST(test_result_types),
  TEST(test_cost_limit),
  TEST(test_json_schema),
  TEST(test_variables),
  TEST(test_hostile),
  {0},
};
TEST_MAIN()
