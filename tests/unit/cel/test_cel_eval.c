/* pkg/cel value.c, env.c, eval.c, cel.c: values (maps' heterogeneous
 * keys, equality, ordering, timestamps, JSON), evaluation semantics of
 * cel-spec's langdef.md (logical absorption, comprehensions' error rules,
 * optionals, type identifiers, namespaced functions), upstream's error
 * texts, the cost limit, activations (JSON through a schema, values, lazy
 * variables, the authorizer). */
#include <errno.h>
#include <math.h>

#include <cjson/cJSON.h>

#include "cel/cel.h"
#include "cel/internal.h"
#include "cel/value.h"
#include "test.h"

/* ---- values ---- */

static void test_map_heterogeneous_keys(void) {
  cel_value_t *m = cel_map_new(0);
  for (int i = 0; i < 40; i++) /* past the size where the map indexes by hash */
    cel_map_put(m, cel_int(i), cel_int(i * 10));
  cel_map_put(m, cel_stringz("k"), cel_bool(true));
  ASSERT_EQ_INT(cel_map_len(m), 41);
  cel_value_t *u = cel_uint(7), *d = cel_double(7.0), *d2 = cel_double(7.5), *s = cel_stringz("7");
  ASSERT_NOT_NULL(cel_map_get(m, u));
  ASSERT_EQ_INT(cel_value_int(cel_map_get(m, u)), 70);
  ASSERT_NOT_NULL(cel_map_get(m, d));
  ASSERT_NULL(cel_map_get(m, d2));
  ASSERT_NULL(cel_map_get(m, s));
  ASSERT_NOT_NULL(cel_map_getz(m, "k"));
  cel_map_put(m, cel_uint(7), cel_int(-1)); /* replaces int 7 */
  ASSERT_EQ_INT(cel_map_len(m), 41);
  ASSERT_EQ_INT(cel_value_int(cel_map_get(m, d)), -1);
  cel_value_unref(u);
  cel_value_unref(d);
  cel_value_unref(d2);
  cel_value_unref(s);
  cel_value_unref(m);
}

static void test_equal_compare(void) {
  cel_value_t *i1 = cel_int(1), *u1 = cel_uint(1), *d1 = cel_double(1.0), *nan = cel_double(NAN);
  cel_value_t *big = cel_int(INT64_MAX), *bigd = cel_double(9223372036854775807.0);
  cel_value_t *neg = cel_int(-1), *umax = cel_uint(UINT64_MAX);
  ASSERT_TRUE(cel_value_equal(i1, u1));
  ASSERT_TRUE(cel_value_equal(u1, d1));
  ASSERT_FALSE(cel_value_equal(nan, nan));
  ASSERT_EQ_INT(cel_value_compare(nan, d1), -2);
  /* cel-go compares an int with a double as doubles: 2^63-1 reads as 2^63 */
  ASSERT_TRUE(cel_value_equal(big, bigd));
  ASSERT_EQ_INT(cel_value_compare(big, bigd), 0);
  ASSERT_EQ_INT(cel_value_compare(neg, umax), -1);
  ASSERT_EQ_INT(cel_value_compare(umax, neg), 1);
  cel_value_t *a = cel_stringz("ab"), *b = cel_stringz("abc"), *t = cel_bool(true);
  ASSERT_EQ_INT(cel_value_compare(a, b), -1);
  ASSERT_EQ_INT(cel_value_compare(a, t), -2);
  ASSERT_FALSE(cel_value_equal(a, i1));
  cel_value_t *l1 = cel_list_new(0), *l2 = cel_list_new(0);
  cel_list_push(l1, cel_int(1));
  cel_list_push(l2, cel_double(1.0));
  ASSERT_TRUE(cel_value_equal(l1, l2));
  cel_value_t *vals[] = {i1, u1, d1, nan, big, bigd, neg, umax, a, b, t, l1, l2};
  for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++)
    cel_value_unref(vals[k]);
}

static void test_timestamp_parse(void) {
  int64_t s;
  int32_t ns;
  ASSERT_EQ_INT(cel_timestamp_parse("1970-01-01T00:00:00Z", 20, &s, &ns), 0);
  ASSERT_EQ_INT(s, 0);
  ASSERT_EQ_INT(cel_timestamp_parse("2024-02-29T12:30:00.5+01:00", 27, &s, &ns), 0);
  ASSERT_EQ_INT(s, 1709206200);
  ASSERT_EQ_INT(ns, 500000000);
  ASSERT_EQ_INT(cel_timestamp_parse("0001-01-01T00:00:00Z", 20, &s, &ns), 0);
  ASSERT_EQ_INT(s, -62135596800LL);
  ASSERT_EQ_INT(cel_timestamp_parse("9999-12-31T23:59:59.999999999Z", 30, &s, &ns), 0);
  ASSERT_EQ_INT(cel_timestamp_parse("0001-01-01T00:00:00+01:00", 25, &s, &ns), -EINVAL); /* before year 1 */
  ASSERT_EQ_INT(cel_timestamp_parse("2023-02-29T00:00:00Z", 20, &s, &ns), -EINVAL);
  ASSERT_EQ_INT(cel_timestamp_parse("2023-01-01 00:00:00Z", 20, &s, &ns), -EINVAL);
  ASSERT_EQ_INT(cel_timestamp_parse("2023-01-01T24:00:00Z", 20, &s, &ns), -EINVAL);
}

static void test_json_roundtrip(void) {
  cJSON *j = cJSON_Parse("{\"a\":[1,2.5,\"x\",true,null],\"b\":{\"c\":3}}");
  cel_value_t *v = cel_value_from_json(j, NULL);
  ASSERT_EQ_INT(cel_value_kind(cel_list_at(cel_map_getz(v, "a"), 0)), CEL_INT);
  ASSERT_EQ_INT(cel_value_kind(cel_list_at(cel_map_getz(v, "a"), 1)), CEL_DOUBLE);
  cJSON *back = cel_value_to_json(v);
  ASSERT_TRUE(cJSON_Compare(j, back, true));
  cJSON_Delete(back);
  cel_value_unref(v);
  cJSON_Delete(j);
  cel_value_t *ts = cel_timestamp(1709206200, 500000000);
  cJSON *tj = cel_value_to_json(ts);
  ASSERT_EQ_STR(tj->valuestring, "2024-02-29T11:30:00.500Z");
  cJSON_Delete(tj);
  cel_value_unref(ts);
  cel_value_t *nan = cel_double(NAN);
  ASSERT_NULL(cel_value_to_json(nan));
  cel_value_unref(nan);
}

/* ---- evaluation ---- */

static cel_env_t *new_env(void) {
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES | CEL_LIB_AUTHZ);
  cJSON *schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{"
                              "\"n\":{\"type\":\"integer\"},"
                              "\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
                              "\"for\":{\"type\":\"string\",\"format\":\"duration\"},"
                              "\"data\":{\"type\":\"string\",\"format\":\"byte\"},"
                              "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                              "\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}}}");
  ASSERT_EQ_INT(cel_env_declare(env, "self", cel_type_from_schema(schema)), 0);
  cJSON_Delete(schema);
  ASSERT_EQ_INT(cel_env_declare(env, "self", cel_type_dyn()), -EEXIST);
  cel_env_declare(env, "x", cel_type_dyn());
  cel_env_declare(env, "lazy", cel_type_dyn());
  cel_env_declare(env, "authorizer", cel_type_dyn());
  return env;
}

static const char self_json[] = "{\"n\":3,\"when\":\"2024-01-02T03:04:05Z\",\"for\":\"1h30m\",\"data\":\"aGk=\","
                                "\"tags\":[\"a\",\"b\"],\"labels\":{\"app\":\"web\"}}";

/* Evaluates src; returns 0 with *ret_bool, or the error code with err. */
static int run_bool(const char *src, bool *ret, cel_error_t *err, uint64_t limit, uint64_t *used) {
  cel_env_t *env = new_env();
  cJSON *self = cJSON_Parse(self_json);
  int r = -EINVAL;
  cel_program_t *p = cel_compile(env, src, CEL_RESULT_ANY, err);
  if (p) {
    cel_activation_t *a = cel_activation_new();
    cel_activation_set_json(a, "self", self);
    cel_value_t *xv = cel_int(5);
    cel_activation_set_value(a, "x", xv);
    cel_value_unref(xv);
    r = cel_eval_bool(p, a, limit, used, ret, err);
    cel_activation_free(a);
    cel_program_free(p);
  }
  cJSON_Delete(self);
  cel_env_free(env);
  return r;
}

static const char *const trues[] = {
  "true || (1/0 == 1)",
  "(1/0 == 1) || true",
  "!(false && (1/0 == 1))",
  "!((1/0 == 1) && false)",
  "dyn(1) == 1u && dyn(1u) == 1.0 && dyn(2) != 3.5",
  "[dyn(1), dyn(2.0)] == [dyn(1.0), dyn(2u)]",
  "{1: 'a'}[dyn(1u)] == 'a' && {1: 'a'}[dyn(1.0)] == 'a'",
  "{'a': dyn(1)} == {'a': dyn(1.0)}",
  "x == 5 && self.n == 3",
  "self.when == timestamp('2024-01-02T03:04:05Z')",
  "self.for == duration('5400s')",
  "self.data == b'hi'",
  "self.tags.all(t, t.size() == 1) && self.tags.exists(t, t == 'b') && self.tags.exists_one(t, t == 'a')",
  "self.tags.map(t, t + t) == ['aa', 'bb'] && self.tags.filter(t, t != 'a') == ['b']",
  "[1, 2, 3].map(i, i > 1, i * 10) == [20, 30]",
  "{'a': 1, 'b': 2}.all(k, k.size() == 1)",
  "[0, 1].exists(i, 1 / i == 1)",   /* an error absorbed by a true */
  "![0, 1].all(i, 1 / i == 2)",     /* an error absorbed by a false */
  "has(self.labels) && !has({'a': 1}.b) && has(self.labels.app) && !has(self.labels.db)",
  "'web' in self.labels.map(k, self.labels[k]) && 'app' in self.labels && 2 in [1, 2]",
  "type(1) == int && type('s') == string && type([]) == list && type({}) == map && type(int) == type",
  "type(null) == null_type && type(1u) == uint && type(1.0) == double && type(b'') == bytes && type(true) == bool",
  "type(self.when) == google.protobuf.Timestamp && type(self.for) == google.protobuf.Duration",
  "true ? true : 1/0 == 1",
  "false ? 1/0 == 1 : true",
  "self.labels.?db.orValue('d') == 'd' && self.?n.orValue(0) == 3",
  "{'a': 1}[?'b'].hasValue() == false && [1, 2][?1].value() == 2",
  "[?optional.of(1), 2, ?{'a': 3}[?'b']] == [1, 2]",
  "{?'a': {'x': 1}[?'y'], ?'b': optional.of(2)} == {'b': 2}",
  "optional.of(3).value() == 3",
  "self.labels.app.startsWith('w')",
};

static void test_true_expressions(void) {
  for (size_t i = 0; i < sizeof(trues) / sizeof(trues[0]); i++) {
    cel_error_t err = {{0}};
    bool b = false;
    int r = run_bool(trues[i], &b, &err, 0, NULL);
    if (r != 0 || !b)
      TEST_FAIL("%s: r=%d b=%d err=%s", trues[i], r, b, err.message);
  }
}

static const struct {
  const char *src, *msg;
} errors[] = {
  {"self.labels.db == 'x'", "no such key: db"},
  {"[1, 2][3] == 1", "index '3' out of range in list size '2'"},
  {"1 / 0 == 1", "division by zero"},
  {"(1/0 == 1) || false", "division by zero"},
  {"[1, 0].all(i, 1 / i == 1)", "division by zero"},
  {"{'a': 1, 'a': 2}.size() == 1", "Failed with repeated key"},
  {"self.tags.exists_one(t, 1 / 0 == 1)", "division by zero"},
  {"1 == 1 ? self.labels.db == 'x' : true", "no such key: db"},
};

static void test_errors(void) {
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
    cel_error_t err = {{0}};
    bool b;
    int r = run_bool(errors[i].src, &b, &err, 0, NULL);
    if (r != -EINVAL || !strstr(err.message, errors[i].msg))
      TEST_FAIL("%s: r=%d err=%s (want %s)", errors[i].src, r, err.message, errors[i].msg);
  }
}

static void test_result_type(void) {
  cel_env_t *env = new_env();
  cel_error_t err = {{0}};
  cel_program_t *p = cel_compile(env, "x", CEL_RESULT_BOOL, &err); /* dyn: passes, checked at run time */
  ASSERT_NOT_NULL(p);
  cel_activation_t *a = cel_activation_new();
  cel_value_t *s = cel_stringz("s");
  cel_activation_set_value(a, "x", s);
  cel_value_unref(s);
  bool b;
  ASSERT_EQ_INT(cel_eval_bool(p, a, 0, NULL, &b, &err), -EINVAL);
  ASSERT_CONTAINS(err.message, "expected bool");
  char *str = NULL;
  ASSERT_EQ_INT(cel_eval_string(p, a, 0, NULL, &str, &err), 0);
  ASSERT_EQ_STR(str, "s");
  free(str);
  cel_activation_free(a);
  cel_program_free(p);
  cel_env_free(env);
}

static void test_cost_limit(void) {
  cel_error_t err = {{0}};
  bool b;
  uint64_t used = 0, used_small = 0;
  const char *src = "[1,2,3,4,5,6,7,8,9,10].all(i, [1,2,3,4,5,6,7,8,9,10].all(j, i * j > 0))";
  ASSERT_EQ_INT(run_bool(src, &b, &err, 0, &used), 0);
  ASSERT_TRUE(b);
  ASSERT_GE_INT(used, 100); /* at least one unit per inner step */
  ASSERT_EQ_INT(run_bool("true", &b, &err, 0, &used_small), 0);
  ASSERT_TRUE(used_small < used);
  err.message[0] = 0;
  ASSERT_EQ_INT(run_bool(src, &b, &err, used / 2, NULL), -E2BIG);
  ASSERT_EQ_STR(err.message, "operation cancelled: actual cost limit exceeded");
  ASSERT_EQ_INT(run_bool(src, &b, &err, used, NULL), 0);
}

static void test_hostile_nesting(void) {
  /* deep nesting is a compile error, never a stack overflow */
  size_t n = 100000;
  char *src = malloc(2 * n + 2);
  for (size_t i = 0; i < n; i++)
    src[i] = '[';
  for (size_t i = 0; i < n; i++)
    src[n + i] = ']';
  src[2 * n] = 0;
  cel_env_t *env = new_env();
  cel_error_t err = {{0}};
  ASSERT_NULL(cel_compile(env, src, CEL_RESULT_ANY, &err));
  ASSERT_CONTAINS(err.message, "max recursion depth exceeded");
  free(src);
  cel_env_free(env);
}

static void test_lazy_variable(void) {
  cel_env_t *env = new_env();
  cel_error_t err = {{0}};
  cel_program_t *lazy = cel_compile(env, "x * 2", CEL_RESULT_ANY, &err);
  cel_program_t *p = cel_compile(env, "lazy + lazy == 20", CEL_RESULT_BOOL, &err);
  ASSERT_NOT_NULL(lazy);
  ASSERT_NOT_NULL(p);
  ASSERT_TRUE(cel_program_uses(p, "lazy"));
  ASSERT_FALSE(cel_program_uses(p, "self"));
  cel_activation_t *a = cel_activation_new();
  cel_value_t *xv = cel_int(5);
  cel_activation_set_value(a, "x", xv);
  cel_value_unref(xv);
  cel_activation_set_lazy(a, "lazy", lazy);
  bool b = false;
  ASSERT_EQ_INT(cel_eval_bool(p, a, 0, NULL, &b, &err), 0);
  ASSERT_TRUE(b);
  cel_activation_free(a);
  cel_program_free(p);
  cel_program_free(lazy);
  cel_env_free(env);
}

/* lazy variables that refer to each other: an error, not a stack overflow */
static void test_lazy_chain_bounded(void) {
  cel_env_t *env = cel_env_new(0);
  enum { N = 40 };
  char name[16], src[64];
  cel_program_t *ps[N] = {0};
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "v%d", i);
    cel_env_declare(env, name, cel_type_dyn());
  }
  cel_activation_t *a = cel_activation_new();
  cel_error_t err = {{0}};
  for (int i = 0; i < N; i++) {
    /* v_i = [[[...v_{i+1}...]]], 100 deep; the last is 1 */
    if (i == N - 1)
      snprintf(src, sizeof(src), "1");
    else
      snprintf(src, sizeof(src), "v%d", i + 1);
    char *deep = malloc(300);
    int n = 0;
    for (int k = 0; k < 100; k++)
      deep[n++] = '[';
    n += snprintf(deep + n, 300 - (size_t)n, "%s", src);
    for (int k = 0; k < 100; k++)
      deep[n++] = ']';
    deep[n] = 0;
    ps[i] = cel_compile(env, deep, CEL_RESULT_ANY, &err);
    free(deep);
    ASSERT_NOT_NULL(ps[i]);
    snprintf(name, sizeof(name), "v%d", i);
    cel_activation_set_lazy(a, name, ps[i]);
  }
  cel_value_t *v = NULL;
  ASSERT_EQ_INT(cel_eval(ps[0], a, 0, NULL, &v, &err), -EINVAL);
  ASSERT_CONTAINS(err.message, "max recursion depth exceeded");
  /* a cycle is an error too */
  cel_program_t *self_ref = cel_compile(env, "v0 + 1", CEL_RESULT_ANY, &err);
  cel_activation_set_lazy(a, "v0", self_ref);
  ASSERT_EQ_INT(cel_eval(self_ref, a, 0, NULL, &v, &err), -EINVAL);
  cel_program_free(self_ref);
  cel_activation_free(a);
  for (int i = 0; i < N; i++)
    cel_program_free(ps[i]);
  cel_env_free(env);
}

static int authz_calls;

static int authz_cb(void *ctx, const cel_authz_query_t *q, bool *ret_allowed, char *reason, size_t len) {
  authz_calls++;
  if (q->path) {
    *ret_allowed = !strcmp(q->path, "/healthz") && !strcmp(q->verb, "get");
    return 0;
  }
  if (!strcmp(q->resource, "broken"))
    return snprintf(reason, len, "webhook down"), -EIO;
  *ret_allowed = !strcmp(q->group, "apps") && !strcmp(q->resource, "deployments") && !strcmp(q->namespace_, "ns1") &&
                 !strcmp(q->name, "web") && !strcmp(q->verb, "update");
  snprintf(reason, len, "%s", *ret_allowed ? "rbac: allowed" : "");
  return 0;
}

static void test_authorizer(void) {
  static const char *const srcs[] = {
    "authorizer.group('apps').resource('deployments').namespace('ns1').name('web').check('update').allowed()",
    "authorizer.group('apps').resource('deployments').namespace('ns1').name('web').check('update').reason() == 'rbac: allowed'",
    "!authorizer.group('apps').resource('deployments').namespace('ns2').check('update').allowed()",
    "authorizer.path('/healthz').check('get').allowed() && !authorizer.path('/x').check('get').allowed()",
    "authorizer.group('').resource('broken').check('get').errored() && authorizer.group('').resource('broken').check('get').error() == 'webhook down'",
  };
  cel_env_t *env = new_env();
  cel_activation_t *a = cel_activation_new();
  cel_activation_set_authorizer(a, "authorizer", authz_cb, NULL);
  authz_calls = 0;
  for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
    cel_error_t err = {{0}};
    cel_program_t *p = cel_compile(env, srcs[i], CEL_RESULT_BOOL, &err);
    if (!p)
      TEST_FAIL("%s: %s", srcs[i], err.message);
    bool b = false;
    int r = cel_eval_bool(p, a, 0, NULL, &b, &err);
    cel_program_free(p);
    if (r != 0 || !b)
      TEST_FAIL("%s: r=%d b=%d %s", srcs[i], r, b, err.message);
  }
  ASSERT_EQ_INT(authz_calls, 7);
  cel_activation_free(a);
  cel_env_free(env);
}

static void test_compile_errors(void) {
  cel_env_t *env = new_env();
  cel_error_t err = {{0}};
  ASSERT_NULL(cel_compile(env, "self.n >)", CEL_RESULT_BOOL, &err));
  ASSERT_CONTAINS(err.message, "ERROR: <input>:1:9: Syntax error");
  err.message[0] = 0;
  ASSERT_NULL(cel_compile(env, "nope == 1", CEL_RESULT_BOOL, &err));
  ASSERT_CONTAINS(err.message, "undeclared reference to 'nope'");
  cel_env_free(env);
}

/* The evaluator on an AST the checker has not seen: overloads resolved at
 * run time, namespaced functions and qualified type names found there. */
static void test_unchecked_ast(void) {
  static const char *const srcs[] = {
    "optional.of(1).value() == 1",
    "type(timestamp('2024-01-01T00:00:00Z')) == google.protobuf.Timestamp",
    "[1, 2].exists(i, i == 2) && 1 + 2 == 3 && 'ab'.size() == 2",
    "1 == 1u && [1] == [1.0]", /* heterogeneous equality the checker would refuse */
  };
  cel_env_t *env = new_env();
  for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
    cel_error_t err = {{0}};
    cel_program_t *p = calloc(1, sizeof(*p));
    p->env = env;
    p->root = cel__parse(srcs[i], strlen(srcs[i]), &err);
    ASSERT_NOT_NULL(p->root);
    cel_value_t *v = NULL;
    int r = cel_eval(p, NULL, 0, NULL, &v, &err);
    bool ok = r == 0 && cel_value_kind(v) == CEL_BOOL && cel_value_bool(v);
    cel_value_unref(v);
    cel__expr_free(p->root);
    free(p);
    if (!ok)
      TEST_FAIL("%s: r=%d %s", srcs[i], r, err.message);
  }
  cel_env_free(env);
}

TEST_LIST = {
  TEST(test_unchecked_ast),
  TEST(test_map_heterogeneous_keys),
  TEST(test_equal_compare),
  TEST(test_timestamp_parse),
  TEST(test_json_roundtrip),
  TEST(test_true_expressions),
  TEST(test_errors),
  TEST(test_result_type),
  TEST(test_cost_limit),
  TEST(test_hostile_nesting),
  TEST(test_lazy_variable),
  TEST(test_lazy_chain_bounded),
  TEST(test_authorizer),
  TEST(test_compile_errors),
  {0},
};
TEST_MAIN()
