/* Tests for pkg/json/jsonpatch.c: the examples of RFC 6902 appendix A, the
 * edge cases where Kubernetes (evanphx/json-patch v4) fixes the behaviour,
 * and the error text. */
#include <errno.h>

#include "jtest.h"
#include "json/patch.h"

static char err[512];

/* Apply ops to doc; on success *ret is the result (caller frees). The
 * original must come back unchanged either way. */
static int apply(const char *doc, const char *ops, cJSON **ret) {
  cJSON *d = J(doc), *o = J(ops);
  cJSON *before = cJSON_Duplicate(d, true);
  *ret = NULL;
  err[0] = '\0';
  int r = json_patch_apply(d, o, ret, err, sizeof(err));
  bool untouched = json_equal(d, before);
  cJSON_Delete(d);
  cJSON_Delete(o);
  cJSON_Delete(before);
  if (!untouched) {
    cJSON_Delete(*ret);
    TEST_FAIL("original was modified");
  }
  return r;
}

#define CHECK_OK(doc, ops, want)                                               \
  do {                                                                         \
    cJSON *got_;                                                               \
    int r_ = apply(doc, ops, &got_);                                           \
    if (r_ != 0)                                                               \
      TEST_FAIL("apply failed (%d): %s", r_, err);                             \
    ASSERT_JSON_EQ(got_, want);                                                \
    cJSON_Delete(got_);                                                        \
  } while (0)

#define CHECK_ERR(doc, ops, msg)                                               \
  do {                                                                         \
    cJSON *got_;                                                               \
    int r_ = apply(doc, ops, &got_);                                           \
    if (r_ == 0)                                                               \
      cJSON_Delete(got_);                                                      \
    ASSERT_EQ_INT(r_, -EINVAL);                                                \
    ASSERT_NULL(got_);                                                         \
    ASSERT_CONTAINS(err, msg);                                                 \
  } while (0)

/* ---- RFC 6902 appendix A */

static void test_a1_add_object_member(void) {
  CHECK_OK("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
           "{\"baz\":\"qux\",\"foo\":\"bar\"}");
}
static void test_a2_add_array_element(void) {
  CHECK_OK("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
           "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
}
static void test_a3_remove_object_member(void) {
  CHECK_OK("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
           "{\"foo\":\"bar\"}");
}
static void test_a4_remove_array_element(void) {
  CHECK_OK("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
           "{\"foo\":[\"bar\",\"baz\"]}");
}
static void test_a5_replace_value(void) {
  CHECK_OK("{\"baz\":\"qux\",\"foo\":\"bar\"}",
           "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
           "{\"baz\":\"boo\",\"foo\":\"bar\"}");
}
static void test_a6_move_value(void) {
  CHECK_OK("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
           "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
           "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");
}
static void test_a7_move_array_element(void) {
  CHECK_OK("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
           "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
           "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
}
static void test_a8_test_success(void) {
  CHECK_OK("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
           "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
           "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
           "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}");
}
static void test_a9_test_error(void) {
  CHECK_ERR("{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]",
            "testing value /baz failed: test failed (operation 0)");
}
static void test_a10_add_nested_member(void) {
  CHECK_OK("{\"foo\":\"bar\"}",
           "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
           "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}");
}
static void test_a11_unrecognized_members_ignored(void) {
  CHECK_OK("{\"foo\":\"bar\"}",
           "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
           "{\"foo\":\"bar\",\"baz\":\"qux\"}");
}
static void test_a12_add_to_nonexistent_target(void) {
  CHECK_ERR("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]",
            "add operation does not apply: doc is missing path: \"/baz/bat\": missing value");
}
static void test_a14_escape_ordering(void) {
  CHECK_OK("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
           "{\"/\":9,\"~1\":10}");
  CHECK_OK("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~1\",\"value\":9}]",
           "{\"/\":9,\"~1\":10}");
}
static void test_a15_string_is_not_number(void) {
  CHECK_ERR("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]",
            "testing value /~01 failed");
}
static void test_a16_add_array_value(void) {
  CHECK_OK("{\"foo\":[\"bar\"]}",
           "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
           "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");
}

/* ---- edge cases fixed by upstream behaviour */

static void test_add_existing_key_replaces(void) {
  CHECK_OK("{\"a\":{\"b\":1}}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":2}]", "{\"a\":2}");
}
static void test_add_index_bounds(void) {
  CHECK_OK("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/2\",\"value\":3}]", "{\"a\":[1,2,3]}");
  CHECK_OK("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/0\",\"value\":0}]", "{\"a\":[0,1,2]}");
  CHECK_ERR("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":3}]",
            "error in add for path: '/a/3': Unable to access invalid index: 3: invalid index "
            "referenced");
  CHECK_ERR("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/x\",\"value\":3}]",
            "value was not a proper array index: 'x'");
}
static void test_negative_index(void) {
  /* upstream SupportNegativeIndices: -1 is the last element */
  CHECK_OK("{\"a\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/a/-1\"}]", "{\"a\":[1,2]}");
  CHECK_OK("{\"a\":[1,2,3]}", "[{\"op\":\"replace\",\"path\":\"/a/-3\",\"value\":9}]",
           "{\"a\":[9,2,3]}");
  CHECK_ERR("{\"a\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/a/-4\"}]", "invalid index");
}
static void test_dash_only_for_add(void) {
  CHECK_OK("{\"a\":[]}", "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":1},"
                         "{\"op\":\"add\",\"path\":\"/a/-\",\"value\":2}]",
           "{\"a\":[1,2]}");
  CHECK_ERR("{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/-\"}]", "error in remove for path");
  CHECK_ERR("{\"a\":[1]}", "[{\"op\":\"replace\",\"path\":\"/a/-\",\"value\":1}]",
            "replace operation does not apply: doc is missing key: /a/-");
}
static void test_remove_missing_is_error(void) {
  CHECK_ERR("{\"metadata\":{\"labels\":{}}}",
            "[{\"op\":\"remove\",\"path\":\"/metadata/labels/app\"}]",
            "error in remove for path: '/metadata/labels/app': Unable to remove nonexistent key: "
            "app: missing value (operation 0)");
  CHECK_ERR("{}", "[{\"op\":\"remove\",\"path\":\"/a/b\"}]",
            "remove operation does not apply: doc is missing path: \"/a/b\"");
  CHECK_ERR("{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/1\"}]",
            "Unable to access invalid index: 1");
}
static void test_replace_missing_member_adds(void) {
  /* evanphx v4 (what the apiserver runs) sets a missing object member */
  CHECK_OK("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":2}]", "{\"a\":1,\"b\":2}");
  CHECK_ERR("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/x/y\",\"value\":2}]",
            "replace operation does not apply: doc is missing path: /x/y: missing value");
}
static void test_test_deep_equality(void) {
  CHECK_OK("{\"a\":{\"x\":[1,{\"y\":true}],\"z\":null}}",
           "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"z\":null,\"x\":[1.0,{\"y\":true}]}}]",
           "{\"a\":{\"x\":[1,{\"y\":true}],\"z\":null}}");
  CHECK_ERR("{\"a\":[1,2]}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[2,1]}]",
            "testing value /a failed");
  CHECK_ERR("{\"a\":{\"x\":1}}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"x\":1,\"y\":2}}]",
            "testing value /a failed");
  CHECK_ERR("{\"a\":true}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":false}]",
            "testing value /a failed");
  CHECK_OK("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"\",\"value\":{\"a\":1}}]", "{\"a\":1}");
}
static void test_test_absent_member(void) {
  /* upstream: an absent member matches only an absent or null value */
  CHECK_OK("{}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]", "{}");
  CHECK_ERR("{}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]", "testing value /a failed");
}
static void test_copy(void) {
  CHECK_OK("{\"a\":{\"b\":[1]}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
                                  "{\"op\":\"add\",\"path\":\"/c/b/-\",\"value\":2}]",
           "{\"a\":{\"b\":[1]},\"c\":{\"b\":[1,2]}}");
  CHECK_ERR("{}", "[{\"op\":\"copy\",\"from\":\"/nope\",\"path\":\"/c\"}]",
            "copy operation does not apply: doc is missing from path: /nope");
}
static void test_copy_growth_is_capped(void) {
  /* each copy doubles the document: without a cap this would exhaust memory */
  char ops[8192] = "[{\"op\":\"add\",\"path\":\"/a\",\"value\":\"0123456789abcdef\"}";
  size_t n = strlen(ops);
  for (int i = 0; i < 40; i++)
    n += (size_t)snprintf(ops + n, sizeof(ops) - n,
                          ",{\"op\":\"copy\",\"from\":\"\",\"path\":\"/a%d\"}", i);
  snprintf(ops + n, sizeof(ops) - n, "]");
  CHECK_ERR("{}", ops, "Unable to complete the copy, the accumulated size increase of copy is");
}
static void test_move_errors(void) {
  CHECK_ERR("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]",
            "move operation does not apply: doc is missing destination path: /a/b/c");
  CHECK_ERR("{}", "[{\"op\":\"move\",\"from\":\"/x/y\",\"path\":\"/z\"}]",
            "move operation does not apply: doc is missing from path: /x/y");
  CHECK_ERR("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/b\",\"path\":\"/z\"}]",
            "error in move for path: 'b': Unable to remove nonexistent key: b");
  CHECK_OK("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}");
}
static void test_root_operations(void) {
  CHECK_OK("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"b\":2}}]", "{\"b\":2}");
  CHECK_ERR("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":3}]",
            "replace operation value must be object or array");
  CHECK_OK("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1]}]", "[1]");
}
static void test_bad_operations(void) {
  CHECK_ERR("{}", "[{\"op\":\"frobnicate\",\"path\":\"/a\"}]", "Unexpected kind: frobnicate");
  CHECK_ERR("{}", "[{\"path\":\"/a\"}]", "Unexpected kind: unknown");
  CHECK_ERR("{}", "[{\"op\":\"add\",\"value\":1}]", "add operation failed to decode path");
  CHECK_ERR("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", "missing value");
  CHECK_ERR("{}", "[{\"op\":\"move\",\"path\":\"/a\"}]", "move operation failed to decode from");
  CHECK_ERR("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", "invalid JSON pointer");
  CHECK_ERR("{}", "{\"op\":\"add\"}", "cannot unmarshal object");
  CHECK_ERR("{}", "[1]", "cannot unmarshal");
}
static void test_error_names_operation_index(void) {
  CHECK_ERR("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1},"
                         "{\"op\":\"remove\",\"path\":\"/a\"},"
                         "{\"op\":\"remove\",\"path\":\"/a\"}]",
            "(operation 2)");
}
static void test_rollout_undo(void) {
  /* what kubectl rollout undo sends */
  CHECK_OK("{\"metadata\":{\"annotations\":{\"x\":\"1\"}},\"spec\":{\"replicas\":2,"
           "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"v2\"}]}}}}",
           "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"spec\":{\"containers\":"
           "[{\"name\":\"c\",\"image\":\"v1\"}]}}},{\"op\":\"replace\",\"path\":\"/metadata/"
           "annotations\",\"value\":{\"deployment.kubernetes.io/revision\":\"1\"}}]",
           "{\"metadata\":{\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"}},"
           "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
           "\"image\":\"v1\"}]}}}}");
}
static void test_escaped_keys(void) {
  CHECK_OK("{\"metadata\":{\"labels\":{}}}",
           "[{\"op\":\"add\",\"path\":\"/metadata/labels/app.kubernetes.io~1name\","
           "\"value\":\"web\"},{\"op\":\"add\",\"path\":\"/metadata/labels/a~0b\",\"value\":\"x\"}]",
           "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"web\",\"a~b\":\"x\"}}}");
}
static void test_empty_patch(void) {
  CHECK_OK("{\"a\":1}", "[]", "{\"a\":1}");
}

TEST_LIST = {
    TEST(test_a1_add_object_member),
    TEST(test_a2_add_array_element),
    TEST(test_a3_remove_object_member),
    TEST(test_a4_remove_array_element),
    TEST(test_a5_replace_value),
    TEST(test_a6_move_value),
    TEST(test_a7_move_array_element),
    TEST(test_a8_test_success),
    TEST(test_a9_test_error),
    TEST(test_a10_add_nested_member),
    TEST(test_a11_unrecognized_members_ignored),
    TEST(test_a12_add_to_nonexistent_target),
    TEST(test_a14_escape_ordering),
    TEST(test_a15_string_is_not_number),
    TEST(test_a16_add_array_value),
    TEST(test_add_existing_key_replaces),
    TEST(test_add_index_bounds),
    TEST(test_negative_index),
    TEST(test_dash_only_for_add),
    TEST(test_remove_missing_is_error),
    TEST(test_replace_missing_member_adds),
    TEST(test_test_deep_equality),
    TEST(test_test_absent_member),
    TEST(test_copy),
    TEST(test_copy_growth_is_capped),
    TEST(test_move_errors),
    TEST(test_root_operations),
    TEST(test_bad_operations),
    TEST(test_error_names_operation_index),
    TEST(test_rollout_undo),
    TEST(test_escaped_keys),
    TEST(test_empty_patch),
    {0},
};
TEST_MAIN()
