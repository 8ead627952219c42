/* Tests for pkg/json/selector.c: label selector string syntax, validation
 * and error text as upstream (k8s.io/apimachinery/pkg/labels), the
 * metav1.LabelSelector JSON form, and field selectors with escapes. */
#include <errno.h>

#include "jtest.h"
#include "json/selector.h"

static char err[2048];

/* Does selector text s match the labels object text? */
static bool lmatch(const char *s, const char *labels) {
  label_selector_t *sel = NULL;
  int r = label_selector_parse(s, &sel, err, sizeof(err));
  if (r != 0)
    TEST_FAIL("parse \"%s\" failed: %s", s, err);
  cJSON *l = J(labels);
  bool m = label_selector_match(sel, l);
  cJSON_Delete(l);
  label_selector_free(sel);
  return m;
}

#define CHECK_LERR(s, msg)                                                     \
  do {                                                                         \
    label_selector_t *sel_ = NULL;                                             \
    int r_ = label_selector_parse(s, &sel_, err, sizeof(err));                 \
    label_selector_free(sel_);                                                 \
    ASSERT_EQ_INT(r_, -EINVAL);                                                \
    ASSERT_NULL(sel_);                                                         \
    ASSERT_CONTAINS(err, msg);                                                 \
  } while (0)

static void test_equality(void) {
  const char *l = "{\"app\":\"web\",\"tier\":\"fe\"}";
  ASSERT_TRUE(lmatch("app=web", l));
  ASSERT_TRUE(lmatch("app==web", l));
  ASSERT_TRUE(lmatch("app = web , tier==fe", l));
  ASSERT_FALSE(lmatch("app=db", l));
  ASSERT_TRUE(lmatch("app!=db", l));
  ASSERT_FALSE(lmatch("app!=web", l));
  ASSERT_TRUE(lmatch("missing!=x", l)); /* != matches an absent label */
  ASSERT_FALSE(lmatch("missing=x", l));
  ASSERT_FALSE(lmatch("app=web,tier=be", l));
}
static void test_empty_value(void) {
  ASSERT_TRUE(lmatch("a=", "{\"a\":\"\"}"));
  ASSERT_FALSE(lmatch("a=", "{\"a\":\"x\"}"));
  ASSERT_FALSE(lmatch("a=", "{}"));
}
static void test_set_based(void) {
  const char *l = "{\"env\":\"prod\",\"tier\":\"fe\"}";
  ASSERT_TRUE(lmatch("env in (prod,qa)", l));
  ASSERT_TRUE(lmatch("env in (qa, prod)", l));
  ASSERT_FALSE(lmatch("env in (qa)", l));
  ASSERT_TRUE(lmatch("env notin (qa)", l));
  ASSERT_FALSE(lmatch("env notin (qa,prod)", l));
  ASSERT_TRUE(lmatch("missing notin (qa)", l)); /* notin matches absent */
  ASSERT_FALSE(lmatch("missing in (qa)", l));
  ASSERT_TRUE(lmatch("env in (prod),tier notin (be)", l));
  ASSERT_TRUE(lmatch("env in (,prod)", l));
  ASSERT_TRUE(lmatch("x in ()", "{\"x\":\"\"}"));  /* () is the set {""} */
  ASSERT_TRUE(lmatch("in in (in)", "{\"in\":\"in\"}")); /* keywords as values */
}
static void test_exists(void) {
  const char *l = "{\"a\":\"1\"}";
  ASSERT_TRUE(lmatch("a", l));
  ASSERT_FALSE(lmatch("b", l));
  ASSERT_TRUE(lmatch("!b", l));
  ASSERT_FALSE(lmatch("!a", l));
  ASSERT_TRUE(lmatch("a,!b", l));
  ASSERT_FALSE(lmatch("a", "null")); /* no labels at all */
  ASSERT_TRUE(lmatch("!a", "null"));
}
static void test_gt_lt(void) {
  ASSERT_TRUE(lmatch("n>3", "{\"n\":\"5\"}"));
  ASSERT_FALSE(lmatch("n>3", "{\"n\":\"3\"}"));
  ASSERT_TRUE(lmatch("n<3", "{\"n\":\"-1\"}"));
  ASSERT_FALSE(lmatch("n<3", "{\"n\":\"x\"}"));
  CHECK_LERR("n>x", "for 'Gt', 'Lt' operators, the value must be an integer");
}
static void test_empty_selects_all(void) {
  label_selector_t *sel = NULL;
  ASSERT_EQ_INT(label_selector_parse("", &sel, err, sizeof(err)), 0);
  ASSERT_TRUE(label_selector_empty(sel));
  ASSERT_TRUE(label_selector_match(sel, NULL));
  label_selector_free(sel);
  ASSERT_EQ_INT(label_selector_parse("  ", &sel, err, sizeof(err)), 0);
  ASSERT_TRUE(label_selector_empty(sel));
  label_selector_free(sel);
  ASSERT_EQ_INT(label_selector_parse("a", &sel, err, sizeof(err)), 0);
  ASSERT_FALSE(label_selector_empty(sel));
  label_selector_free(sel);
}
static void test_prefixed_keys(void) {
  ASSERT_TRUE(lmatch("app.kubernetes.io/name=web", "{\"app.kubernetes.io/name\":\"web\"}"));
  ASSERT_TRUE(lmatch("kubernetes.io/cluster-service=true",
                     "{\"kubernetes.io/cluster-service\":\"true\"}"));
}
static void test_syntax_errors(void) {
  CHECK_LERR("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt");
  CHECK_LERR("a=b c", "found 'c', expected: ',' or 'end of string'");
  CHECK_LERR("a,", "found '', expected: identifier after ','");
  CHECK_LERR(",a", "found ',', expected: !, identifier, or 'end of string'");
  CHECK_LERR("a in b", "found 'b' expected: '('");
  CHECK_LERR("a in (b", "found '', expected: ',' or ')'");
  CHECK_LERR("a in (b c)", "found 'c', expected: ',' or ')'");
  CHECK_LERR("a in (=)", "found '=', expected: ',', ')' or identifier");
  CHECK_LERR("!", "found '', expected: identifier");
  CHECK_LERR("a=(", "found '(', expected: identifier");
  CHECK_LERR("!a=b", "found '=', expected: ',' or 'end of string'");
  ASSERT_TRUE(lmatch("a==", "{\"a\":\"\"}")); /* "a==" is a valid "a equals empty" */
}
static void test_validation_errors(void) {
  CHECK_LERR("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must "
                     "consist of alphanumeric characters");
  CHECK_LERR("a/b/c", "a valid label key must consist of");
  CHECK_LERR("/a", "prefix part must be non-empty");
  CHECK_LERR("Foo.com/a", "prefix part a lowercase RFC 1123 subdomain");
  CHECK_LERR("a=b$", "values[0][a]: Invalid value: \"b$\": a valid label must be an empty "
                     "string or consist of alphanumeric characters");
  char longv[100] = "a=";
  memset(longv + 2, 'x', 64);
  longv[66] = '\0';
  CHECK_LERR(longv, "must be no more than 63 characters");
  char longk[100];
  memset(longk, 'k', 64);
  longk[64] = '\0';
  CHECK_LERR(longk, "name part must be no more than 63 characters");
}
static void test_from_json(void) {
  label_selector_t *sel = NULL;
  cJSON *j = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"env\","
               "\"operator\":\"In\",\"values\":[\"prod\",\"qa\"]},{\"key\":\"old\",\"operator\":"
               "\"DoesNotExist\"},{\"key\":\"tier\",\"operator\":\"Exists\"},{\"key\":\"x\","
               "\"operator\":\"NotIn\",\"values\":[\"1\"]}]}");
  ASSERT_EQ_INT(label_selector_from_json(j, &sel, err, sizeof(err)), 0);
  cJSON_Delete(j);
  cJSON *yes = J("{\"app\":\"web\",\"env\":\"qa\",\"tier\":\"a\"}");
  cJSON *no1 = J("{\"app\":\"web\",\"env\":\"qa\",\"tier\":\"a\",\"old\":\"1\"}");
  cJSON *no2 = J("{\"app\":\"web\",\"env\":\"dev\",\"tier\":\"a\"}");
  cJSON *no3 = J("{\"app\":\"web\",\"env\":\"qa\",\"tier\":\"a\",\"x\":\"1\"}");
  bool ok = label_selector_match(sel, yes) && !label_selector_match(sel, no1) &&
            !label_selector_match(sel, no2) && !label_selector_match(sel, no3);
  cJSON_Delete(yes);
  cJSON_Delete(no1);
  cJSON_Delete(no2);
  cJSON_Delete(no3);
  label_selector_free(sel);
  ASSERT_TRUE(ok);
}
static void test_from_json_nil_and_empty(void) {
  label_selector_t *sel = NULL;
  cJSON *l = J("{\"a\":\"b\"}");
  ASSERT_EQ_INT(label_selector_from_json(NULL, &sel, err, sizeof(err)), 0);
  bool nil_matches = label_selector_match(sel, l), nil_empty = label_selector_empty(sel);
  label_selector_free(sel);
  cJSON *e = J("{}");
  ASSERT_EQ_INT(label_selector_from_json(e, &sel, err, sizeof(err)), 0);
  bool empty_matches = label_selector_match(sel, l), empty_empty = label_selector_empty(sel);
  label_selector_free(sel);
  cJSON_Delete(e);
  cJSON_Delete(l);
  ASSERT_FALSE(nil_matches);
  ASSERT_FALSE(nil_empty);
  ASSERT_TRUE(empty_matches);
  ASSERT_TRUE(empty_empty);
}
static void test_from_json_errors(void) {
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
       "\"Gt\" is not a valid label selector operator"},
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}",
       "for 'in', 'notin' operators, values set can't be empty"},
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
       "values set must be empty for exists and does not exist"},
      {"{\"matchLabels\":{\"a b\":\"c\"}}", "key: Invalid value: \"a b\""},
      {"{\"matchLabels\":{\"a\":\"c d\"}}", "values[0][a]: Invalid value: \"c d\""},
      {"{\"matchLabels\":{\"a\":1}}", "matchLabels[a] must be a string"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    label_selector_t *sel = NULL;
    cJSON *j = J(cases[i].json);
    int r = label_selector_from_json(j, &sel, err, sizeof(err));
    cJSON_Delete(j);
    label_selector_free(sel);
    ASSERT_EQ_INT(r, -EINVAL);
    ASSERT_CONTAINS(err, cases[i].msg);
  }
}

/* ---- field selectors */

static bool fmatch(const char *s, const char *obj) {
  field_selector_t *sel = NULL;
  if (field_selector_parse(s, &sel, err, sizeof(err)) != 0)
    TEST_FAIL("parse \"%s\" failed: %s", s, err);
  cJSON *o = J(obj);
  bool m = field_selector_match(sel, o);
  cJSON_Delete(o);
  field_selector_free(sel);
  return m;
}

#define CHECK_FERR(s, msg)                                                     \
  do {                                                                         \
    field_selector_t *sel_ = NULL;                                             \
    int r_ = field_selector_parse(s, &sel_, err, sizeof(err));                 \
    field_selector_free(sel_);                                                 \
    ASSERT_EQ_INT(r_, -EINVAL);                                                \
    ASSERT_CONTAINS(err, msg);                                                 \
  } while (0)

static void test_field_match(void) {
  const char *pod = "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"},\"spec\":{"
                    "\"nodeName\":\"n1\",\"replicas\":3,\"paused\":false},\"status\":{\"phase\":"
                    "\"Running\"}}";
  ASSERT_TRUE(fmatch("metadata.name=x", pod));
  ASSERT_TRUE(fmatch("metadata.name==x,status.phase=Running", pod));
  ASSERT_FALSE(fmatch("metadata.name=y", pod));
  ASSERT_TRUE(fmatch("status.phase!=Pending", pod));
  ASSERT_FALSE(fmatch("status.phase!=Running", pod));
  ASSERT_TRUE(fmatch("spec.nodeName=n1,metadata.namespace=default", pod));
  ASSERT_TRUE(fmatch("spec.missing=", pod)); /* a missing field is "" */
  ASSERT_TRUE(fmatch("spec.missing!=x", pod));
  ASSERT_TRUE(fmatch("spec.replicas=3", pod));
  ASSERT_TRUE(fmatch("spec.paused=false", pod));
  ASSERT_TRUE(fmatch("", pod));
}
static void test_field_escapes(void) {
  ASSERT_TRUE(fmatch("metadata.name=a\\,b\\=c\\\\d", "{\"metadata\":{\"name\":\"a,b=c\\\\d\"}}"));
  CHECK_FERR("metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x");
  CHECK_FERR("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\");
  CHECK_FERR("metadata.name=a=b", "invalid field selector: unescaped character in value: 61");
  CHECK_FERR("metadata.name", "invalid selector: 'metadata.name'; can't understand "
                              "'metadata.name'");
}
static void test_field_list(void) {
  field_selector_t *sel = NULL;
  ASSERT_EQ_INT(field_selector_parse("involvedObject.name=x,involvedObject.uid!=u,,",
                                     &sel, err, sizeof(err)), 0);
  size_t n = field_selector_count(sel);
  const char *f0 = field_selector_field(sel, 0), *f1 = field_selector_field(sel, 1);
  const char *f2 = field_selector_field(sel, 2);
  bool ok = n == 2 && f0 && !strcmp(f0, "involvedObject.name") && f1 &&
            !strcmp(f1, "involvedObject.uid") && !f2;
  field_selector_free(sel);
  ASSERT_TRUE(ok);
}

TEST_LIST = {
    TEST(test_equality),
    TEST(test_empty_value),
    TEST(test_set_based),
    TEST(test_exists),
    TEST(test_gt_lt),
    TEST(test_empty_selects_all),
    TEST(test_prefixed_keys),
    TEST(test_syntax_errors),
    TEST(test_validation_errors),
    TEST(test_from_json),
    TEST(test_from_json_nil_and_empty),
    TEST(test_from_json_errors),
    TEST(test_field_match),
    TEST(test_field_escapes),
    TEST(test_field_list),
    {0},
};
TEST_MAIN()
