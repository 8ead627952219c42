/* pkg/cel/check.c and cost.c: types, resolutions and error messages as
 * cel-go's checker gives them, and the static cost estimate Kubernetes
 * compares with its per-rule limit. The environment is built here from
 * signatures (a subset of the standard library), so the checker is tested
 * on its own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cel/internal.h"
#include "test.h"
#include "util/alloc.h"

static const char *const std_sigs[] = {
  "_+_(int, int) int",
  "_+_(double, double) double",
  "_+_(string, string) string",
  "_+_(list(A), list(A)) list(A)",
  "_-_(int, int) int",
  "_*_(int, int) int",
  "_<_(int, int) bool",
  "_<_(double, double) bool",
  "_<_(string, string) bool",
  "_>_(int, int) bool",
  "_>=_(int, int) bool",
  "_<=_(int, int) bool",
  "!_(bool) bool",
  "-_(int) int",
  "_[_](list(A), int) A",
  "_[_](map(K, V), K) V",
  "@in(A, list(A)) bool",
  "@in(K, map(K, V)) bool",
  "size(string) int",
  "string.size() int",
  "size(list(A)) int",
  "list(A).size() int",
  "map(K, V).size() int",
  "string.startsWith(string) bool",
  "string.endsWith(string) bool",
  "string.contains(string) bool",
  "int(string) int",
  "string(int) string",
  "dyn(A) dyn",
  "type(A) type(A)",
  "timestamp(string) timestamp",
  "timestamp.getFullYear() int",
  "optional.of(A) optional(A)",
  "optional.none() optional(A)",
  "optional(A).hasValue() bool",
  "optional(A).value() A",
  "optional(A).orValue(A) A",
  "_[_](optional(list(A)), int) optional(A)",
  "string.lowerAscii() string",
  "list(string).join(string) string",
  "string.split(string) list(string)",
  "_>_(double, double) bool",
  "duration.getHours() int",
  "timestamp.getDayOfMonth() int",
  "timestamp.getMinutes() int",
  "string.find(string) string",
  "list(A).isSorted() bool",
  "string.replace(string, string) string",
  "isQuantity(string) bool",
  "ip(string) net.IP",
  "net.IP.family() int",
};

/* self: {x: int, s: string(maxLength 5), l: list(int) (maxItems 10),
 * m: map(string, dyn), o: {a: bool}, ls: list(string maxLength 5) maxItems 10} */
static const char self_schema[] =
  "{\"type\":\"object\",\"properties\":{"
  "\"x\":{\"type\":\"integer\"},"
  "\"s\":{\"type\":\"string\",\"maxLength\":5},"
  "\"u\":{\"type\":\"string\"},"
  "\"l\":{\"type\":\"array\",\"maxItems\":10,\"items\":{\"type\":\"integer\"}},"
  "\"lu\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
  "\"m\":{\"type\":\"object\",\"additionalProperties\":{\"x-kubernetes-int-or-string\":true}},"
  "\"ms\":{\"type\":\"object\",\"maxProperties\":4,\"additionalProperties\":{\"type\":\"string\",\"maxLength\":8}},"
  "\"o\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"}}},"
  "\"ls\":{\"type\":\"array\",\"maxItems\":10,\"items\":{\"type\":\"string\",\"maxLength\":5}},"
  "\"t\":{\"type\":\"string\",\"format\":\"date-time\"}"
  "}}";

/* stand-ins for the libraries' functions the literal validators call */
static cel_value_t *fn_duration(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  return len > 1 && s[len - 1] == 's' ? cel_duration(1, 0) : cel_errorf("invalid duration");
}

static cel_value_t *fn_matches(cel_value_t **args, size_t n, uint64_t *cost) {
  (void)n, (void)cost;
  const char *re = cel_value_str(args[1], NULL);
  return strchr(re, '[') && !strchr(re, ']') ? cel_errorf("missing ]") : cel_bool(false);
}

static const cel_overload_t test_fns[] = {
  {"duration(string) duration", fn_duration},
  {"string.matches(string) bool", fn_matches},
};

static cel_env_t *test_env_self(unsigned libs, const char *schema_json) {
  cel_env_t *env = xcalloc(1, sizeof(*env));
  env->libs = libs;
  size_t n = sizeof(std_sigs) / sizeof(std_sigs[0]), nf = sizeof(test_fns) / sizeof(test_fns[0]);
  env->ovl = xcalloc(n + nf, sizeof(*env->ovl));
  for (size_t i = 0; i < nf; i++)
    if (cel__overload_parse(test_fns[i].signature, test_fns[i].fn, &env->ovl[env->novl]) == 0)
      env->novl++;
  for (size_t i = 0; i < n; i++)
    if (cel__overload_parse(std_sigs[i], NULL, &env->ovl[env->novl]) == 0)
      env->novl++;
    else
      printf("# bad signature %s\n", std_sigs[i]);
  cJSON *s = cJSON_Parse(schema_json);
  env->vars = xcalloc(4, sizeof(*env->vars));
  env->vars[0].name = xstrdup("self");
  env->vars[0].type = cel_type_from_schema(s);
  env->vars[1].name = xstrdup("d");
  env->vars[1].type = cel_type_dyn();
  env->vars[2].name = xstrdup("a.b");
  env->vars[2].type = cel__type_new(CEL_T_STRING);
  env->vars[3].name = xstrdup("oldSelf");
  env->vars[3].type = cel__type_ref(env->vars[0].type);
  env->nvars = 4;
  cJSON_Delete(s);
  return env;
}

static cel_env_t *test_env(unsigned libs) { return test_env_self(libs, self_schema); }

static void env_free(cel_env_t *env) {
  for (size_t i = 0; i < env->novl; i++)
    cel__overload_done(&env->ovl[i]);
  free(env->ovl);
  for (size_t i = 0; i < env->nvars; i++) {
    free(env->vars[i].name);
    cel_type_free(env->vars[i].type);
  }
  free(env->vars);
  free(env);
}

static cel_env_t *g_env, *g_env_noopt;
static cel_error_t g_err;
static char g_type[256];

/* Checks src; returns the root (caller frees) or NULL with g_err set. */
static cel_expr_t *compile_in(cel_env_t *env, const char *src) {
  memset(&g_err, 0, sizeof(g_err));
  g_type[0] = 0;
  cel_expr_t *e = cel__parse(src, strlen(src), &g_err);
  if (!e)
    return NULL;
  if (cel__check(env, e, src, strlen(src), &g_err) < 0) {
    cel__expr_free(e);
    return NULL;
  }
  cel__type_check_str(e->type, g_type, sizeof(g_type));
  return e;
}

static cel_env_t *env_opt(void) {
  if (!g_env)
    g_env = test_env(CEL_LIB_KUBERNETES);
  return g_env;
}

/* the type of src, or "ERR: <message>" */
static const char *type_of(const char *src) {
  static char out[1200];
  cel_expr_t *e = compile_in(env_opt(), src);
  if (!e) {
    snprintf(out, sizeof(out), "ERR: %s", g_err.message);
    return out;
  }
  cel__expr_free(e);
  return g_type;
}

#define ASSERT_TYPE(src, want) ASSERT_EQ_STR(type_of(src), want)
#define ASSERT_ERR(src, want)                                                  \
  do {                                                                         \
    cel_expr_t *e_ = compile_in(env_opt(), src);                               \
    if (e_) {                                                                  \
      cel__expr_free(e_);                                                      \
      TEST_FAIL("%s: checked as %s, want error %s", src, g_type, want);        \
    }                                                                          \
    ASSERT_EQ_STR(g_err.message, want);                                        \
  } while (0)

static void test_literals_and_operators(void) {
  ASSERT_TYPE("1 + 2", "int");
  ASSERT_TYPE("1u", "uint");
  ASSERT_TYPE("'a' + 'b'", "string");
  ASSERT_TYPE("1.5 + 2.0 < 3.0", "bool");
  ASSERT_TYPE("null", "null");
  ASSERT_TYPE("b'x'", "bytes");
  ASSERT_TYPE("!true", "bool");
  ASSERT_TYPE("-(1)", "int");
  ASSERT_TYPE("true ? 1 : 2", "int");
  ASSERT_TYPE("true && false || !true", "bool");
  ASSERT_TYPE("[1, 2] + [3]", "list(int)");
  ASSERT_TYPE("[]", "list(dyn)");
  ASSERT_TYPE("{}", "map(dyn, dyn)");
  ASSERT_TYPE("{'a': 1}", "map(string, int)");
  ASSERT_TYPE("[[], [1]]", "list(list(int))");
  ASSERT_TYPE("1 in [1, 2]", "bool");
  ASSERT_TYPE("'a' in {'a': 1}", "bool");
  ASSERT_TYPE("type(1) == int", "bool");
  ASSERT_TYPE("type(1)", "type(int)");
  ASSERT_TYPE("int", "type(int)");
  ASSERT_TYPE("google.protobuf.Timestamp", "type(timestamp)");
  ASSERT_TYPE("timestamp('2020-01-01T00:00:00Z').getFullYear()", "int");
  ASSERT_TYPE("[1][0]", "int");
  ASSERT_TYPE("{'a': [1]}['a'][0]", "int");
}

static void test_errors(void) {
  ASSERT_ERR("foo", "ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')\n | foo\n | ^");
  ASSERT_ERR("1 + x", "ERROR: <input>:1:5: undeclared reference to 'x' (in container '')\n | 1 + x\n | ....^");
  ASSERT_ERR("1 + 'a'",
             "ERROR: <input>:1:3: found no matching overload for '_+_' applied to '(int, string)'\n | 1 + 'a'\n | ..^");
  ASSERT_ERR("1 == 1.0",
             "ERROR: <input>:1:3: found no matching overload for '_==_' applied to '(int, double)'\n | 1 == 1.0\n | ..^");
  ASSERT_ERR("1 && true", "ERROR: <input>:1:1: expected type 'bool' but found 'int'\n | 1 && true\n | ^");
  ASSERT_ERR("1 ? 2 : 3",
             "ERROR: <input>:1:3: found no matching overload for '_?_:_' applied to '(int, int, int)'\n | 1 ? 2 : 3\n | ..^");
  /* errors are listed by position */
  ASSERT_ERR("foo + bar", "ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')\n | foo + bar\n | ^\n"
                          "ERROR: <input>:1:7: undeclared reference to 'bar' (in container '')\n | foo + bar\n | ......^");
  /* a function that exists, called in no declared style */
  /* calls are placed at their '(' */
  ASSERT_ERR("true.size()", "ERROR: <input>:1:10: found no matching overload for 'size' applied to 'bool.()'\n"
                            " | true.size()\n | .........^");
  ASSERT_ERR("'a'.startsWith(1)",
             "ERROR: <input>:1:15: found no matching overload for 'startsWith' applied to 'string.(int)'\n"
             " | 'a'.startsWith(1)\n | ..............^");
  ASSERT_ERR("'string'.fun()",
             "ERROR: <input>:1:13: undeclared reference to 'fun' (in container '')\n | 'string'.fun()\n | ............^");
  ASSERT_ERR("undef()", "ERROR: <input>:1:6: undeclared reference to 'undef' (in container '')\n | undef()\n | .....^");
  ASSERT_ERR("size(1)",
             "ERROR: <input>:1:5: found no matching overload for 'size' applied to '(int)'\n | size(1)\n | ....^");
  ASSERT_ERR("[].length",
             "ERROR: <input>:1:3: type 'list(_var0)' does not support field selection\n | [].length\n | ..^");
  ASSERT_ERR("int{}", "ERROR: <input>:1:4: 'int' is not a message type\n | int{}\n | ...^");
  ASSERT_ERR("Msg{}", "ERROR: <input>:1:4: undeclared reference to 'Msg' (in container '')\n | Msg{}\n | ...^");
}

static void test_schema_object(void) {
  ASSERT_TYPE("self.x", "int");
  ASSERT_TYPE("self.s.size() <= 5", "bool");
  ASSERT_TYPE("self.l", "list(int)");
  ASSERT_TYPE("self.l[0] + 1", "int");
  ASSERT_TYPE("self.m", "map(string, dyn)");
  ASSERT_TYPE("self.m.anything", "dyn");
  ASSERT_TYPE("self.m['k'] == 1", "bool");
  ASSERT_TYPE("self.o.a", "bool");
  ASSERT_TYPE("self.o == null", "bool");
  ASSERT_TYPE("self.t", "timestamp");
  ASSERT_TYPE("d.anything.at.all", "dyn");
  ASSERT_TYPE("d + 1", "int");
  ASSERT_TYPE("d + d", "dyn");
  ASSERT_ERR("self.y", "ERROR: <input>:1:5: undefined field 'y'\n | self.y\n | ....^");
  ASSERT_ERR("self.x.y", "ERROR: <input>:1:7: type 'int' does not support field selection\n | self.x.y\n | ......^");
  ASSERT_ERR("self.x == 'a'",
             "ERROR: <input>:1:8: found no matching overload for '_==_' applied to '(int, string)'\n"
             " | self.x == 'a'\n | .......^");
  ASSERT_ERR("self.l == null",
             "ERROR: <input>:1:8: found no matching overload for '_==_' applied to '(list(int), null)'\n"
             " | self.l == null\n | .......^");
  ASSERT_ERR("self.l[0] + 'a'", "ERROR: <input>:1:11: found no matching overload for '_+_' applied to '(int, string)'\n"
                                " | self.l[0] + 'a'\n | ..........^");
  /* a dotted variable name wins over selection */
  ASSERT_TYPE("a.b + 'x'", "string");
}

static void test_has(void) {
  ASSERT_TYPE("has(self.x)", "bool");
  ASSERT_TYPE("has(self.m.k)", "bool");
  ASSERT_TYPE("has(d.k)", "bool");
  /* a presence test is placed at has's '(' */
  ASSERT_ERR("has(self.q)", "ERROR: <input>:1:4: undefined field 'q'\n | has(self.q)\n | ...^");
  ASSERT_ERR("has(self.x.y)",
             "ERROR: <input>:1:4: type 'int' does not support field selection\n | has(self.x.y)\n | ...^");
}

static void test_macros(void) {
  ASSERT_TYPE("self.l.all(x, x > 0)", "bool");
  ASSERT_TYPE("self.l.exists(x, x > 0)", "bool");
  ASSERT_TYPE("self.l.exists_one(x, x > 0)", "bool");
  ASSERT_TYPE("self.l.map(x, x + 1)", "list(int)");
  ASSERT_TYPE("self.l.map(x, x > 1, 'a')", "list(string)");
  ASSERT_TYPE("self.l.filter(x, x > 1)", "list(int)");
  ASSERT_TYPE("self.m.all(k, k.startsWith('a'))", "bool");
  ASSERT_TYPE("d.all(k, k)", "bool");
  ASSERT_TYPE("[1].map(x, [x])[0][0] + 1", "int");
  ASSERT_TYPE("self.l.all(x, self.l.exists(y, x == y))", "bool");
  ASSERT_ERR("[1].all(x, x)", "ERROR: <input>:1:12: expected type 'bool' but found 'int'\n | [1].all(x, x)\n | ...........^");
  ASSERT_ERR("true.all(x, x)",
             "ERROR: <input>:1:1: expression of type 'bool' cannot be range of a comprehension (must be list, map, or "
             "dynamic)\n | true.all(x, x)\n | ^");
  ASSERT_ERR("self.l.exists(y, y > 10) && y < 5",
             "ERROR: <input>:1:29: undeclared reference to 'y' (in container '')\n"
             " | self.l.exists(y, y > 10) && y < 5\n | ............................^");
  ASSERT_ERR("[1].exists_one(x, 1)",
             "ERROR: <input>:1:15: found no matching overload for '_?_:_' applied to '(int, int, int)'\n"
             " | [1].exists_one(x, 1)\n | ..............^");
  cel_expr_t *e;
  e = compile_in(env_opt(), "[1].filter(x, 'a')");
  ASSERT_NULL(e);
  ASSERT_CONTAINS(g_err.message, "found no matching overload for '_?_:_' applied to '(string, list(int), list(int))'");
  /* scoping: the variable is the element, and shadows outer names */
  ASSERT_TYPE("self.ls.all(self, self.size() < 3)", "bool");
}

static void test_optionals(void) {
  ASSERT_TYPE("self.?x", "optional_type(int)");
  ASSERT_TYPE("self.?o.a", "optional_type(bool)");
  ASSERT_TYPE("self.?x.orValue(1) + 1", "int");
  ASSERT_TYPE("self.m[?'k']", "optional_type(dyn)");
  ASSERT_TYPE("self.l[?0]", "optional_type(int)");
  ASSERT_TYPE("optional.of(1).value() + 1", "int");
  ASSERT_TYPE("optional.none().orValue('a')", "string");
  ASSERT_TYPE("[2, ?optional.of(1)]", "list(int)"); /* "[?x" lexes as "[?" in parse.c (celeval) */
  ASSERT_TYPE("{?'a': optional.of(1)}", "map(string, int)");
  ASSERT_TYPE("optional.of([1])[0]", "optional_type(int)");
  ASSERT_ERR("[1, ?2]", "ERROR: <input>:1:6: expected type 'optional_type(int)' but found 'int'\n | [1, ?2]\n | .....^");
  ASSERT_ERR("self.?y", "ERROR: <input>:1:5: undefined field 'y'\n | self.?y\n | ....^");
  if (!g_env_noopt)
    g_env_noopt = test_env(CEL_LIB_STRINGS);
  cel_expr_t *e = compile_in(g_env_noopt, "self.?x");
  ASSERT_NULL(e);
  ASSERT_CONTAINS(g_err.message, "unsupported syntax '.?'");
  e = compile_in(g_env_noopt, "optional.of(1)");
  ASSERT_NOT_NULL(e); /* a function of the test environment, declared regardless */
  cel__expr_free(e);
}

static void test_homogeneous_literals(void) {
  ASSERT_ERR("[1, 'a']", "ERROR: <input>:1:5: expected type 'int' but found 'string'\n | [1, 'a']\n | ....^");
  ASSERT_ERR("{'a': 1, 'b': 'x'}",
             "ERROR: <input>:1:15: expected type 'int' but found 'string'\n | {'a': 1, 'b': 'x'}\n | ..............^");
  ASSERT_ERR("[d, 1]", "ERROR: <input>:1:5: expected type 'dyn' but found 'int'\n | [d, 1]\n | ....^");
  ASSERT_TYPE("[dyn(1), dyn('a')]", "list(dyn)");
}

static void test_literal_validators(void) {
  ASSERT_TYPE("duration('10s')", "duration");
  ASSERT_ERR("duration('1x')", "ERROR: <input>:1:10: invalid duration argument\n | duration('1x')\n | .........^");
  ASSERT_TYPE("self.s.matches('[a-z]')", "bool");
  ASSERT_ERR("self.s.matches('[a-z')",
             "ERROR: <input>:1:16: invalid matches argument\n | self.s.matches('[a-z')\n | ...............^");
  /* only literals are judged at compile time */
  ASSERT_TYPE("self.s.matches(self.s)", "bool");
  ASSERT_TYPE("duration(self.s)", "duration");
}

static void test_resolution(void) {
  cel_expr_t *e = compile_in(env_opt(), "1 + 2");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_INT(e->ncands, 1);
  ASSERT_EQ_STR(e->cands[0]->signature, "_+_(int, int) int");
  cel__expr_free(e);
  e = compile_in(env_opt(), "d + d");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_INT(e->ncands, 4); /* every _+_ may apply */
  cel__expr_free(e);
  e = compile_in(env_opt(), "self.x == 1");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_INT(e->ncands, 0); /* equality is the evaluator's own */
  ASSERT_EQ_INT(e->args[0]->target->var_index, 0);
  cel__expr_free(e);
  e = compile_in(env_opt(), "d.all(x, x)");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_INT(e->range->var_index, 1);
  ASSERT_EQ_INT(e->pred->var_index, -1);
  ASSERT_EQ_STR(e->pred->name, "x");
  cel__expr_free(e);
  /* optional.of(1): the namespaced function, not a select on "optional" */
  e = compile_in(env_opt(), "optional.of(1)");
  ASSERT_NOT_NULL(e);
  ASSERT_NULL(e->target);
  ASSERT_EQ_STR(e->name, "optional.of");
  ASSERT_EQ_INT(e->ncands, 1);
  cel__expr_free(e);
  e = compile_in(env_opt(), "a.b");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_INT(e->kind, CEL_E_IDENT);
  ASSERT_EQ_INT(e->var_index, 2);
  cel__expr_free(e);
  /* a library's overload replaces the checker's own (optional list index) */
  e = compile_in(env_opt(), "optional.of([1])[0]");
  ASSERT_NOT_NULL(e);
  ASSERT_EQ_INT(e->ncands, 1);
  ASSERT_EQ_STR(e->cands[0]->signature, "_[_](optional(list(A)), int) optional(A)");
  cel__expr_free(e);
  ASSERT_TYPE("ip('1.2.3.4').family()", "int");
  ASSERT_TYPE("type(ip('1.2.3.4')) == net.IP", "bool");
}

static void test_result_types(void) {
  cel_expr_t *e = compile_in(env_opt(), "self.x > 1");
  ASSERT_TRUE(cel__result_matches(e->type, CEL_RESULT_BOOL));
  ASSERT_FALSE(cel__result_matches(e->type, CEL_RESULT_STRING));
  cel__expr_free(e);
  e = compile_in(env_opt(), "d");
  ASSERT_FALSE(cel__result_matches(e->type, CEL_RESULT_BOOL)); /* upstream: "must evaluate to bool but got dyn" */
  ASSERT_TRUE(cel__result_matches(e->type, CEL_RESULT_ANY));
  cel__expr_free(e);
  e = compile_in(env_opt(), "self.s");
  ASSERT_TRUE(cel__result_matches(e->type, CEL_RESULT_STRING));
  cel__expr_free(e);
}


/* ---- cost ---- */

/* The estimate's maximum for rule on a CRD schema node (self, oldSelf),
 * or -1 if it does not compile. */
static long long cost_of(const char *schema_json, const char *rule) {
  cel_env_t *env = test_env_self(CEL_LIB_KUBERNETES, schema_json);
  cel_expr_t *e = compile_in(env, rule);
  long long r = -1;
  if (e) {
    cel_program_t p = {.env = env, .root = e};
    r = (long long)cel__cost_estimate(&p);
    cel__expr_free(e);
  } else
    printf("# %s: %s\n", rule, g_err.message);
  env_free(env);
  return r;
}

#define ARRAY(items, extra) "{\"type\":\"array\"" extra ",\"items\":" items "}"
#define MAP(values, extra) "{\"type\":\"object\"" extra ",\"additionalProperties\":" values "}"
#define NUMBER "{\"type\":\"number\"}"
#define INTEGER "{\"type\":\"integer\"}"
#define BOOLEAN "{\"type\":\"boolean\"}"
#define STRING "{\"type\":\"string\"}"
#define STRING_MAX(n) "{\"type\":\"string\",\"maxLength\":" #n "}"
#define DURATION "{\"type\":\"string\",\"format\":\"duration\"}"
#define DATETIME "{\"type\":\"string\",\"format\":\"date-time\"}"
#define INT_OR_STRING "{\"x-kubernetes-int-or-string\":true}"

/* The figures are those of apiextensions-apiserver's TestCostEstimation
 * (pkg/apiserver/schema/cel/compilation_test.go): unbounded sizes come
 * from the 3 MiB request limit, e.g. (3145728-2)/(1+1) numbers. */
static void test_cost_comprehensions(void) {
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ""), "self.all(x, true)"), 4718591);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.all(x, true)"), 32);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING, ""), "self.all(x, true)"), 3145727);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING_MAX(20), ",\"maxItems\":20"), "self.all(x, true)"), 62);
  ASSERT_EQ_INT(cost_of(ARRAY(BOOLEAN, ""), "self.all(x, true)"), 1887437);
  ASSERT_EQ_INT(cost_of(ARRAY(BOOLEAN, ",\"maxItems\":5"), "self.all(x, true)"), 17);
  ASSERT_EQ_INT(cost_of(ARRAY(ARRAY(NUMBER, ""), ""), "self.all(x, true)"), 3145727);
  ASSERT_EQ_INT(cost_of(ARRAY(INT_OR_STRING, ""), "self.all(x, true)"), 4718591);
  ASSERT_EQ_INT(cost_of(ARRAY(DURATION, ""), "self.all(x, true)"), 2359295);
  ASSERT_EQ_INT(cost_of(ARRAY(DATETIME, ""), "self.all(x, true)"), 428963);
  ASSERT_EQ_INT(cost_of(ARRAY(DATETIME, ",\"maxItems\":25"), "self.all(x, true)"), 77);
  ASSERT_EQ_INT(cost_of(MAP(NUMBER, ""), "self.all(x, true)"), 1348169);
  ASSERT_EQ_INT(cost_of(MAP(NUMBER, ",\"maxProperties\":10"), "self.all(x, true)"), 32);
  ASSERT_EQ_INT(cost_of(MAP(STRING, ""), "self.all(x, true)"), 1179647);
  ASSERT_EQ_INT(cost_of(MAP(BOOLEAN, ""), "self.all(x, true)"), 943718);
  ASSERT_EQ_INT(cost_of(MAP(INT_OR_STRING, ""), "self.all(x, true)"), 1348169);
  ASSERT_EQ_INT(cost_of(MAP(DURATION, ""), "self.all(x, true)"), 1048577);
  ASSERT_EQ_INT(cost_of(MAP(DATETIME, ""), "self.all(x, true)"), 349526);
  ASSERT_EQ_INT(cost_of(MAP(MAP(NUMBER, ""), ""), "self.all(x, true)"), 1179647);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.all(x, self.all(y, true))"), 352);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.all(x, self.all(y, self.all(z, true)))"), 3552);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ""), "self.all(x, x == 0.0)"), 6291454);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":6291456"), "self.all(x, x == 0.0)"), 25165826);
  ASSERT_EQ_INT(cost_of(ARRAY(MAP(NUMBER, ""), ""), "self.all(x, x.y == 25.2)"), 6291452);
  ASSERT_EQ_INT(cost_of(ARRAY(MAP(NUMBER, ""), ",\"maxItems\":12"), "self.all(x, x.y == 25.2)"), 74);
  /* a map's keys have no size of their own: x.contains() costs nothing */
  ASSERT_EQ_INT(cost_of(MAP(STRING, ""), "self.all(x, x.contains(self[x]))"), 2752507);
  ASSERT_EQ_INT(cost_of(MAP(STRING_MAX(10), ",\"maxProperties\":10"), "self.all(x, x.contains(self[x]))"), 72);
  /* the brief's example: 10 strings of at most 5 characters */
  ASSERT_EQ_INT(cost_of(ARRAY(STRING_MAX(5), ",\"maxItems\":10"), "self.all(x, x.startsWith('a'))"), 52);
  /* exists (!accu in the loop condition), exists_one, map, filter */
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.exists(x, true)"), 42);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.exists_one(x, true)"), 23);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.map(x, x).size() == 0"), 144);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":10"), "self.filter(x, true).size() == 0"), 144);
}

static void test_cost_strings_and_indexes(void) {
  ASSERT_EQ_INT(cost_of(STRING, "self.contains('test')"), 314574);
  ASSERT_EQ_INT(cost_of(STRING_MAX(10), "self.contains('test')"), 5);
  ASSERT_EQ_INT(cost_of(STRING, "self.startsWith('test')"), 2);
  ASSERT_EQ_INT(cost_of(STRING, "self.endsWith('test')"), 2);
  ASSERT_EQ_INT(cost_of(STRING, "size(self + \"hello\") > size(\"hello\")"), 314578);
  ASSERT_EQ_INT(cost_of(STRING_MAX(4), "size(self + \"hello\") > size(\"hello\")"), 7);
  ASSERT_EQ_INT(cost_of(STRING, "self.matches(\"x\")"), 314574);
  ASSERT_EQ_INT(cost_of(STRING_MAX(50), "self.matches(\"x\")"), 22);
  ASSERT_EQ_INT(cost_of(STRING, "\"\".matches(\"(((((((((())))))))))[0-9]\")"), 7);
  ASSERT_EQ_INT(cost_of(STRING, "self.matches(\"\")"), 1);
  ASSERT_EQ_INT(cost_of(STRING, "self == \"x\""), 2);
  ASSERT_EQ_INT(cost_of(STRING, "self.size() < 10"), 3);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ""), "self[1] == 0.0"), 2);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING, ""), "self[1] == self[1]"), 314577);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING, ",\"maxItems\":8"), "self[1] == self[1]"), 314577);
  ASSERT_EQ_INT(cost_of(ARRAY(INT_OR_STRING, ""), "self[0] == 5"), 3);
  ASSERT_EQ_INT(cost_of(ARRAY(BOOLEAN, ""), "self[0] == false"), 2);
  ASSERT_EQ_INT(cost_of(ARRAY(ARRAY(NUMBER, ""), ""), "self[0][0] == -1.0"), 3);
  ASSERT_EQ_INT(cost_of(ARRAY(MAP(NUMBER, ""), ""), "self[0].x > 2.0"), 4);
  ASSERT_EQ_INT(cost_of(ARRAY(DURATION, ""), "self[0].getHours() == 2"), 4);
  ASSERT_EQ_INT(cost_of(ARRAY(DATETIME, ""), "self[2].getMinutes() == 45"), 4);
  ASSERT_EQ_INT(cost_of(MAP(NUMBER, ""), "self[\"x\"] == 0.0"), 2);
  ASSERT_EQ_INT(cost_of(MAP(INTEGER, ""), "oldSelf.size() == self.size()"), 5);
  ASSERT_EQ_INT(cost_of(MAP(DATETIME, ""), "self[\"a\"] == self[\"b\"]"), 8);
  ASSERT_EQ_INT(cost_of(MAP(DURATION, ""), "self[\"c\"] == self[\"d\"]"), 8);
  ASSERT_EQ_INT(cost_of(MAP(NUMBER, ""), "has(self.x)"), 1); /* presence tests are free; the ident is not */
}

static void test_cost_library(void) {
  ASSERT_EQ_INT(cost_of(STRING, "self.find('[0-9]+') == ''"), 629147);
  ASSERT_EQ_INT(cost_of(STRING_MAX(10), "self.find('[0-9]+') == ''"), 11);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING, ""), "self.join(' ') == 'aa bb'"), 329853068905LL);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING_MAX(10), ",\"maxItems\":10"), "self.join(' ') == 'aa bb'"), 43);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING, ""), "self.isSorted() == true"), 329854432052LL);
  ASSERT_EQ_INT(cost_of(ARRAY(STRING_MAX(10), ",\"maxItems\":10"), "self.isSorted() == true"), 52);
  const char *rep = "{\"type\":\"object\",\"properties\":{\"str\":" STRING ",\"before\":" STRING_MAX(2)
                    ",\"after\":" STRING_MAX(4) "}}";
  const char *rep4 = "{\"type\":\"object\",\"properties\":{\"str\":" STRING_MAX(4) ",\"before\":" STRING_MAX(2)
                     ",\"after\":" STRING_MAX(4) "}}";
  ASSERT_EQ_INT(cost_of(rep, "self.str.replace(self.before, self.after) == 'does not matter'"), 629154);
  ASSERT_EQ_INT(cost_of(rep4, "self.str.replace(self.before, self.after) == 'does not matter'"), 12);
  const char *spl = "{\"type\":\"object\",\"properties\":{\"str\":" STRING ",\"separator\":" STRING "}}";
  const char *spl10 =
    "{\"type\":\"object\",\"properties\":{\"str\":" STRING_MAX(10) ",\"separator\":" STRING_MAX(10) "}}";
  ASSERT_EQ_INT(cost_of(spl, "self.str.split(self.separator) == []"), 629160);
  ASSERT_EQ_INT(cost_of(spl10, "self.str.split(self.separator) == []"), 22);
  ASSERT_EQ_INT(cost_of(STRING, "self.lowerAscii() == 'lower!'"), 314575);
  ASSERT_EQ_INT(cost_of(STRING_MAX(10), "self.lowerAscii() == 'lower!'"), 6);
  ASSERT_EQ_INT(cost_of(INT_OR_STRING, "isQuantity(self)"), 314574);
  ASSERT_EQ_INT(cost_of("{\"x-kubernetes-int-or-string\":true,\"maxLength\":20}", "isQuantity(self)"), 9);
}

/* sizes from the schema beyond the limits: required properties make an
 * object's smallest JSON bigger (fewer fit in a request), an enum bounds a
 * string, and a limit of 0 is a limit */
static void test_cost_schema_sizes(void) {
#define OBJ_REQ                                                                                                    \
  "{\"type\":\"object\",\"properties\":{\"required\":" STRING ",\"optional\":" STRING "},\"required\":[\"required\"]}"
  ASSERT_EQ_INT(cost_of(ARRAY(OBJ_REQ, ""), "self.all(x, true)"), 555128);
  ASSERT_EQ_INT(cost_of(ARRAY(OBJ_REQ, ",\"maxItems\":50"), "self.all(x, true)"), 152);
  ASSERT_EQ_INT(cost_of(MAP(OBJ_REQ, ""), "self.all(x, true)"), 428963);
  ASSERT_EQ_INT(cost_of(MAP(OBJ_REQ, ",\"maxProperties\":20"), "self.all(x, true)"), 62);
  /* a required property with a default does not count */
  ASSERT_EQ_INT(cost_of(ARRAY("{\"type\":\"object\",\"properties\":{\"required\":{\"type\":\"string\",\"default\":\"x\"}},"
                              "\"required\":[\"required\"]}", ""), "self.all(x, true)"),
                3145727);
  const char *en = "{\"type\":\"string\",\"enum\":[\"A\",\"B\",\"C\",\"LongValue\"]}";
  const char *en1000 = "{\"type\":\"string\",\"maxLength\":1000,\"enum\":[\"A\",\"B\",\"C\",\"LongValue\"]}";
  ASSERT_EQ_INT(cost_of(en, "self.contains('A')"), 2);
  ASSERT_EQ_INT(cost_of(en1000, "self.contains('A')"), 401);
  ASSERT_EQ_INT(cost_of(STRING_MAX(0), "self == \"x\""), 1);
  ASSERT_EQ_INT(cost_of("{\"type\":\"string\",\"format\":\"byte\",\"maxLength\":0}", "self == b\"x\""), 1);
  ASSERT_EQ_INT(cost_of("{\"type\":\"string\",\"format\":\"byte\"}", "self == b\"x\""), 2);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":0"), "self[3] == 0.0"), 2);
  ASSERT_EQ_INT(cost_of(ARRAY(NUMBER, ",\"maxItems\":0"), "self.all(x, true)"), 2);
}

/* big inputs check in linear time: a literal of 20000 empty lists (a type
 * variable each), and as many undeclared names (100 errors kept) */
static void test_big_inputs(void) {
  size_t n = 20000;
  char *src = xmalloc(n * 4 + 8);
  size_t k = 0;
  src[k++] = '[';
  for (size_t i = 0; i < n; i++) {
    memcpy(src + k, i ? ", []" : "[]", i ? 4 : 2);
    k += i ? 4 : 2;
  }
  src[k++] = ']';
  src[k] = 0;
  clock_t t0 = clock();
  ASSERT_TYPE(src, "list(list(dyn))");
  k = 0;
  src[k++] = '[';
  for (size_t i = 0; i < n; i++) {
    memcpy(src + k, i ? ", x" : "x", i ? 3 : 1);
    k += i ? 3 : 1;
  }
  src[k++] = ']';
  src[k] = 0;
  cel_expr_t *e = compile_in(env_opt(), src);
  ASSERT_NULL(e);
  static const char first[] = "ERROR: <input>:1:2: undeclared reference to 'x' (in container '')";
  ASSERT_EQ_INT(strncmp(g_err.message, first, sizeof(first) - 1), 0);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  free(src);
  if (secs > t_time_limit(5.0))
    TEST_FAIL("checking took %.1fs", secs);
}

static void test_cleanup(void) {
  env_free(g_env);
  g_env = NULL;
  if (g_env_noopt)
    env_free(g_env_noopt);
  g_env_noopt = NULL;
}

TEST_LIST = {
  TEST(test_literals_and_operators),
  TEST(test_errors),
  TEST(test_schema_object),
  TEST(test_has),
  TEST(test_macros),
  TEST(test_optionals),
  TEST(test_homogeneous_literals),
  TEST(test_literal_validators),
  TEST(test_resolution),
  TEST(test_result_types),
  TEST(test_cost_comprehensions),
  TEST(test_cost_strings_and_indexes),
  TEST(test_cost_library),
  TEST(test_cost_schema_sizes),
  TEST(test_big_inputs),
  TEST(test_cleanup),
  {0},
};
TEST_MAIN()
