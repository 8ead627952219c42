/* tests/unit/cel/test_spec_reader.c: the textproto reader and the cel-spec
 * test-file reader on small snippets, and on every vendored data file. */
#include <errno.h>
#include <math.h>

#include "spec_reader.h"
#include "test.h"
#include "textproto.h"

static tp_node_t *parse(const char *s) {
  char err[256] = "";
  tp_node_t *n = tp_parse(s, strlen(s), err, sizeof(err));
  if (!n)
    TEST_FAIL("tp_parse(%s): %s", s, err);
  return n;
}

static void test_fields_and_messages(void) {
  tp_node_t *r = parse("# comment\nname: \"x\" # trailing\n a { b: 1, c: -2; } d < e: 3 >\n f: { } g: [1, 2] h {}");
  ASSERT_EQ_STR(tp_str(tp_get(r, "name"), NULL), "x");
  const tp_node_t *a = tp_get(r, "a");
  ASSERT_TRUE(a && a->is_msg);
  ASSERT_EQ_INT(a->nkids, 2);
  int64_t i = 0;
  ASSERT_EQ_INT(tp_int64(tp_get(a, "c"), &i), 0);
  ASSERT_EQ_INT(i, -2);
  ASSERT_EQ_INT(tp_get(a, "c")->line, 3);
  ASSERT_EQ_INT(tp_int64(tp_get(tp_get(r, "d"), "e"), &i), 0);
  ASSERT_EQ_INT(i, 3);
  ASSERT_TRUE(tp_get(r, "f")->is_msg);
  /* g: [1, 2] reads as two g fields */
  size_t ng = 0;
  for (size_t k = 0; k < r->nkids; k++)
    ng += strcmp(r->kids[k]->name, "g") == 0;
  ASSERT_EQ_INT(ng, 2);
  ASSERT_TRUE(tp_get(r, "h")->is_msg);
  tp_free(r);
}

static void test_strings(void) {
  tp_node_t *r = parse("a: \"x\\n\\t\\\\\\\"\\'\" 'y' \"z\"\n"
                       "b: '\\101\\0\\x41\\x7'\n"
                       "c: \"\\u00e9\\U0001F600\"\n"
                       "d: 'it''s'");
  size_t len;
  const char *a = tp_str(tp_get(r, "a"), &len);
  ASSERT_EQ_STR(a, "x\n\t\\\"'yz");
  const char *b = tp_str(tp_get(r, "b"), &len);
  ASSERT_EQ_INT(len, 4);
  ASSERT_TRUE(memcmp(b, "A\0A\x07", 4) == 0);
  ASSERT_EQ_STR(tp_str(tp_get(r, "c"), NULL), "\xc3\xa9\xf0\x9f\x98\x80");
  ASSERT_EQ_STR(tp_str(tp_get(r, "d"), NULL), "its");
  /* a string is not an identifier and vice versa */
  ASSERT_NULL(tp_ident(tp_get(r, "a")));
  tp_free(r);
}

static void test_numbers(void) {
  tp_node_t *r = parse("i: -9223372036854775808 u: 18446744073709551615 h: 0x1F o: 017\n"
                       "d: -2.5e+3 e: 1e-2 f: 1.5f n: nan m: -inf p: inf big: 9223372036854775808\n"
                       "t: true x: false e1: NULL_VALUE");
  int64_t i;
  uint64_t u;
  double d;
  bool b;
  ASSERT_EQ_INT(tp_int64(tp_get(r, "i"), &i), 0);
  ASSERT_TRUE(i == INT64_MIN);
  ASSERT_EQ_INT(tp_uint64(tp_get(r, "u"), &u), 0);
  ASSERT_TRUE(u == UINT64_MAX);
  ASSERT_EQ_INT(tp_int64(tp_get(r, "u"), &i), -EINVAL); /* out of int64 range */
  ASSERT_EQ_INT(tp_int64(tp_get(r, "big"), &i), -EINVAL);
  ASSERT_EQ_INT(tp_uint64(tp_get(r, "i"), &u), -EINVAL); /* negative */
  ASSERT_EQ_INT(tp_int64(tp_get(r, "h"), &i), 0);
  ASSERT_EQ_INT(i, 31);
  ASSERT_EQ_INT(tp_int64(tp_get(r, "o"), &i), 0);
  ASSERT_EQ_INT(i, 15);
  ASSERT_EQ_INT(tp_double(tp_get(r, "d"), &d), 0);
  ASSERT_TRUE(d == -2500.0);
  ASSERT_EQ_INT(tp_double(tp_get(r, "e"), &d), 0);
  ASSERT_TRUE(d == 0.01);
  ASSERT_EQ_INT(tp_double(tp_get(r, "f"), &d), 0);
  ASSERT_TRUE(d == 1.5);
  ASSERT_EQ_INT(tp_double(tp_get(r, "n"), &d), 0);
  ASSERT_TRUE(isnan(d));
  ASSERT_EQ_INT(tp_double(tp_get(r, "m"), &d), 0);
  ASSERT_TRUE(isinf(d) && d < 0);
  ASSERT_EQ_INT(tp_double(tp_get(r, "p"), &d), 0);
  ASSERT_TRUE(isinf(d) && d > 0);
  ASSERT_EQ_INT(tp_double(tp_get(r, "i"), &d), 0);
  ASSERT_EQ_INT(tp_bool(tp_get(r, "t"), &b), 0);
  ASSERT_TRUE(b);
  ASSERT_EQ_INT(tp_bool(tp_get(r, "x"), &b), 0);
  ASSERT_FALSE(b);
  ASSERT_EQ_INT(tp_bool(tp_get(r, "e1"), &b), -EINVAL);
  ASSERT_EQ_STR(tp_ident(tp_get(r, "e1")), "NULL_VALUE");
  ASSERT_EQ_INT(tp_double(tp_get(r, "e1"), &d), -EINVAL);
  tp_free(r);
}

static void test_syntax_errors(void) {
  static const char *const bad[] = {"a {", "a: }", "a: \"x", "a: 'x\ny'", "a: '\\q'", "a b", "[x.Y",
                                    "a: [1, 2", "a: '\\u12'", "{"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[256] = "";
    tp_node_t *n = tp_parse(bad[i], strlen(bad[i]), err, sizeof(err));
    if (n) {
      tp_free(n);
      TEST_FAIL("tp_parse(%s) succeeded", bad[i]);
    }
    ASSERT_CONTAINS(err, "line 1: ");
  }
  /* deep nesting is refused, not a stack overflow */
  char deep[2001];
  for (int i = 0; i < 1000; i++)
    memcpy(deep + 2 * i, "a{", 2);
  deep[2000] = 0;
  char err[256];
  ASSERT_NULL(tp_parse(deep, strlen(deep), err, sizeof(err)));
  ASSERT_CONTAINS(err, "nested too deeply");
}

static spec_file_t *read_file(const char *s) {
  char err[256] = "";
  spec_file_t *f = NULL;
  if (spec_file_parse(s, strlen(s), &f, err, sizeof(err)) < 0)
    TEST_FAIL("spec_file_parse: %s", err);
  return f;
}

static void test_spec_values(void) {
  spec_file_t *f = read_file(
      "name: \"f\"\n"
      "section { name: \"s\"\n"
      "  test { name: \"t1\" expr: \"x + 1\" disable_check: true\n"
      "    type_env { name: \"x\" ident { type { primitive: INT64 } } }\n"
      "    bindings { key: \"x\" value { value { int64_value: 41 } } }\n"
      "    value: { int64_value: 42 } }\n"
      "  test { name: \"t2\" expr: \"m\"\n"
      "    type_env: { name: \"m\" ident: { type: { map_type: { key_type: { primitive: STRING } value_type: { dyn: {} } } } } }\n"
      "    value { map_value { entries { key { string_value: \"a\" } value { list_value { values { uint64_value: 1 } values { null_value: NULL_VALUE } } } }\n"
      "                        entries { key { bool_value: true } value { bytes_value: \"\\377\" } } } } }\n"
      "}\n"
      "section: { name: \"s2\"\n"
      "  test: { name: \"t3\" expr: \"1/0\" eval_error: { errors: { message: \"divide by zero\" } } }\n"
      "  test: { name: \"t4\" expr: \"true\" }\n"
      "  test: { name: \"t5\" expr: \"type(1)\" value { type_value: \"int\" } }\n"
      "  test: { name: \"t6\" expr: \"d\" value { double_value: -inf } }\n"
      "  test: { name: \"t7\" expr: \"x\" any_eval_errors { errors { errors { message: \"a\" } } } }\n"
      "  test: { name: \"t8\" expr: \"x\" unknown { exprs: 1 } }\n"
      "}\n");
  ASSERT_EQ_STR(f->name, "f");
  ASSERT_EQ_INT(f->nsections, 2);
  ASSERT_EQ_STR(f->sections[0].name, "s");
  ASSERT_EQ_INT(f->sections[0].ntests, 2);
  spec_test_t *t1 = &f->sections[0].tests[0];
  ASSERT_EQ_STR(t1->name, "t1");
  ASSERT_EQ_STR(t1->expr, "x + 1");
  ASSERT_TRUE(t1->disable_check);
  ASSERT_FALSE(t1->disable_macros);
  ASSERT_EQ_INT(t1->ndecls, 1);
  ASSERT_EQ_STR(t1->decls[0].name, "x");
  ASSERT_EQ_INT(t1->decls[0].type->kind, SPEC_T_INT);
  ASSERT_EQ_INT(t1->nbindings, 1);
  ASSERT_EQ_INT(t1->bindings[0].value->kind, SPEC_INT);
  ASSERT_EQ_INT(t1->bindings[0].value->i, 41);
  ASSERT_EQ_INT(t1->expect, SPEC_EXPECT_VALUE);
  ASSERT_EQ_INT(t1->value->i, 42);
  ASSERT_NULL(spec_test_needs_proto(t1));

  spec_test_t *t2 = &f->sections[0].tests[1];
  ASSERT_EQ_INT(t2->decls[0].type->kind, SPEC_T_MAP);
  ASSERT_EQ_INT(t2->decls[0].type->key->kind, SPEC_T_STRING);
  ASSERT_EQ_INT(t2->decls[0].type->val->kind, SPEC_T_DYN);
  char *s = spec_value_str(t2->value);
  ASSERT_EQ_STR(s, "{\"a\": [1u, null], true: b\"\\xff\"}");
  free(s);
  ASSERT_EQ_INT(t2->value->items[1]->kind, SPEC_BOOL);           /* second key */
  ASSERT_EQ_INT(t2->value->items[3]->kind, SPEC_BYTES);          /* its value */

  spec_test_t *t3 = &f->sections[1].tests[0];
  ASSERT_EQ_INT(t3->expect, SPEC_EXPECT_ERROR);
  ASSERT_EQ_STR(t3->error, "divide by zero");
  spec_test_t *t4 = &f->sections[1].tests[1];
  ASSERT_EQ_INT(t4->expect, SPEC_EXPECT_VALUE);      /* no matcher: true */
  ASSERT_EQ_INT(t4->value->kind, SPEC_BOOL);
  ASSERT_TRUE(t4->value->b);
  ASSERT_EQ_INT(f->sections[1].tests[2].value->kind, SPEC_TYPE);
  ASSERT_EQ_STR(f->sections[1].tests[2].value->str, "int");
  ASSERT_TRUE(isinf(f->sections[1].tests[3].value->d));
  ASSERT_EQ_INT(f->sections[1].tests[4].expect, SPEC_EXPECT_ERROR);
  ASSERT_EQ_STR(f->sections[1].tests[4].error, "a");
  ASSERT_EQ_INT(f->sections[1].tests[5].expect, SPEC_EXPECT_UNKNOWN);
  spec_file_free(f);
}

static void test_spec_well_known_types(void) {
  spec_file_t *f = read_file(
      "section { test { name: \"w\" expr: \"x\"\n"
      "  bindings { key: \"x\" value { value { object_value {\n"
      "    [type.googleapis.com/google.protobuf.Int32Value] { value: -3 } } } } }\n"
      "  bindings { key: \"d\" value { value { object_value {\n"
      "    [type.googleapis.com/google.protobuf.Duration] { seconds: 2 nanos: 5 } } } } }\n"
      "  bindings { key: \"e\" value { value { object_value {\n"
      "    [type.googleapis.com/google.protobuf.UInt64Value] {} } } } }\n"
      "  bindings { key: \"j\" value { value { object_value {\n"
      "    [type.googleapis.com/google.protobuf.Value] { struct_value { fields { key: \"k\" value { list_value { values { number_value: 1.5 } values { string_value: \"s\" } } } } } } } } } }\n"
      "  bindings { key: \"a\" value { value { object_value {\n"
      "    [type.googleapis.com/google.protobuf.Any] { [type.googleapis.com/google.protobuf.Timestamp] { seconds: 9 } } } } } }\n"
      "  value { object_value { [type.googleapis.com/google.protobuf.StringValue] { value: \"v\" } } } }\n"
      "  test { name: \"p\" expr: \"x.single_int64\"\n"
      "    type_env { name: \"x\" ident { type { message_type: \"cel.expr.conformance.proto3.TestAllTypes\" } } }\n"
      "    bindings { key: \"x\" value { value { object_value { [type.googleapis.com/cel.expr.conformance.proto3.TestAllTypes] { single_int64: 1 } } } } } }\n"
      "  test { name: \"ts\" expr: \"t\" type_env { name: \"t\" ident { type { message_type: \"google.protobuf.Timestamp\" } } } }\n"
      "}\n");
  spec_test_t *t = &f->sections[0].tests[0];
  ASSERT_EQ_INT(t->nbindings, 5);
  ASSERT_EQ_INT(t->bindings[0].value->kind, SPEC_INT);
  ASSERT_EQ_INT(t->bindings[0].value->i, -3);
  ASSERT_EQ_INT(t->bindings[1].value->kind, SPEC_DURATION);
  ASSERT_EQ_INT(t->bindings[1].value->i, 2);
  ASSERT_EQ_INT(t->bindings[1].value->nanos, 5);
  ASSERT_EQ_INT(t->bindings[2].value->kind, SPEC_UINT);
  ASSERT_EQ_INT(t->bindings[2].value->u, 0);
  char *s = spec_value_str(t->bindings[3].value);
  ASSERT_EQ_STR(s, "{\"k\": [1.5, \"s\"]}");
  free(s);
  ASSERT_EQ_INT(t->bindings[4].value->kind, SPEC_TIMESTAMP);
  ASSERT_EQ_INT(t->bindings[4].value->i, 9);
  ASSERT_EQ_INT(t->value->kind, SPEC_STRING);
  ASSERT_EQ_STR(t->value->str, "v");
  ASSERT_NULL(spec_test_needs_proto(t));
  spec_test_t *p = &f->sections[0].tests[1];
  ASSERT_EQ_INT(p->bindings[0].value->kind, SPEC_MESSAGE);
  ASSERT_EQ_STR(p->bindings[0].value->str, "cel.expr.conformance.proto3.TestAllTypes");
  ASSERT_NOT_NULL(spec_test_needs_proto(p));
  ASSERT_EQ_INT(f->sections[0].tests[2].decls[0].type->kind, SPEC_T_TIMESTAMP);
  spec_file_free(f);
}

static void test_needs_proto(void) {
  static const struct {
    const char *expr;
    bool needs;
  } cases[] = {
      {"TestAllTypes{single_int32: 1}.single_int32 == 1", true},
      {"google.protobuf.Int64Value{value: 1}", true},
      {"x in {'a': 1}", false},
      {"{'TestAllTypes': 1}['TestAllTypes'] == 1", false},
      {"'Foo{' + \"Bar{\" == r'x{'", false},
      {"type(x) == google.protobuf.Timestamp", false},
      {"GlobalEnum.GAZ == 2", true},
      {"[1, 2].map(x, {x: x})", false},
      {"b'''a{''' == b'a{'", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec_test_t t = {.expr = (char *)cases[i].expr, .container = (char *)""};
    const char *r = spec_test_needs_proto(&t);
    if ((r != NULL) != cases[i].needs)
      TEST_FAIL("needs_proto(%s): got %s", cases[i].expr, r ? r : "(null)");
  }
  spec_test_t t = {.expr = (char *)"x", .container = (char *)"cel.expr.conformance.proto3"};
  ASSERT_NOT_NULL(spec_test_needs_proto(&t));
  t.container = (char *)"com.example";
  ASSERT_NULL(spec_test_needs_proto(&t));
}

static void test_spec_errors(void) {
  static const char *const bad[] = {
      "section { test { name: \"t\" value { int64_value: 1.5 } } }",
      "section { test { name: \"t\" value { uint64_value: -1 } } }",
      "section { test { name: \"t\" value { frob: 1 } } }",
      "section { test { name: \"t\" bogus: 1 } }",
      "section { test { name: \"t\" type_env { name: \"x\" ident { type { primitive: QUUX } } } } }",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[256] = "";
    spec_file_t *f = NULL;
    int rc = spec_file_parse(bad[i], strlen(bad[i]), &f, err, sizeof(err));
    if (rc != -EINVAL) {
      spec_file_free(f);
      TEST_FAIL("spec_file_parse(%s): rc %d", bad[i], rc);
    }
    ASSERT_CONTAINS(err, "line 1: ");
  }
}

/* Every vendored file reads, and the counts are plausible. */
static void test_vendored_files(void) {
  static const char *const files[] = {"basic", "comparisons", "conversions", "dynamic", "fields", "fp_math",
                                      "integer_math", "lists", "logic", "macros", "macros2", "namespace",
                                      "optionals", "parse", "plumbing", "proto2", "proto3", "string",
                                      "string_ext", "timestamps", "wrappers", "type_deduction",
                                      "enums", "unknowns", "bindings_ext", "block_ext", "encoders_ext",
                                      "math_ext", "network_ext", "proto2_ext"};
  size_t total = 0;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    char path[512], err[256] = "";
    snprintf(path, sizeof(path), "%s/%s.textproto", CEL_SPEC_DIR, files[i]);
    spec_file_t *f = NULL;
    if (spec_file_read(path, &f, err, sizeof(err)) < 0)
      TEST_FAIL("%s", err);
    ASSERT_TRUE(f->name[0] != 0); /* type_deduction.textproto names itself "type_deductions" */
    ASSERT_GE_INT(f->nsections, strcmp(files[i], "unknowns") ? 1 : 0); /* unknowns.textproto has none yet */
    for (size_t s = 0; s < f->nsections; s++)
      for (size_t t = 0; t < f->sections[s].ntests; t++) {
        ASSERT_TRUE(f->sections[s].tests[t].name[0] != 0);
        ASSERT_TRUE(f->sections[s].tests[t].expr[0] != 0);
        total++;
      }
    spec_file_free(f);
  }
  printf("# %zu tests in %zu files\n", total, sizeof(files) / sizeof(files[0]));
  ASSERT_GE_INT(total, 2000);
}

TEST_LIST = {
    TEST(test_fields_and_messages),
    TEST(test_strings),
    TEST(test_numbers),
    TEST(test_syntax_errors),
    TEST(test_spec_values),
    TEST(test_spec_well_known_types),
    TEST(test_needs_proto),
    TEST(test_spec_errors),
    TEST(test_vendored_files),
    {0},
};
TEST_MAIN()
