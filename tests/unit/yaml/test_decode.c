/* Tests for pkg/yaml/decode.c: YAML 1.1 scalar typing, multi-document
 * streams, anchors and merge keys, and error positions. */
#include <errno.h>
#include <time.h>

#include "test.h"
#include "util/buf.h"
#include "yaml/decode.h"

static char err[256];

static char *to_json(const char *yaml) {
  cJSON *doc = NULL;
  if (yaml_parse_one(yaml, strlen(yaml), &doc, err, sizeof(err)) < 0)
    return NULL;
  char *s = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  return s;
}

#define ASSERT_YAML(yaml, want)                                                \
  do {                                                                         \
    char *got_ = to_json(yaml);                                                \
    if (!got_)                                                                 \
      TEST_FAIL("parse failed: %s", err);                                      \
    int ok_ = strcmp(got_, want) == 0;                                         \
    if (!ok_)                                                                  \
      printf("#   got %s\n#   want %s\n", got_, want);                         \
    free(got_);                                                                \
    ASSERT_TRUE(ok_);                                                          \
  } while (0)

static void test_scalars(void) {
  ASSERT_YAML("a: 1\nb: -2\nc: 0x1f\nd: 0o17\ne: 1.5\nf: 1e3\n",
              "{\"a\":1,\"b\":-2,\"c\":31,\"d\":15,\"e\":1.5,\"f\":1000}");
  ASSERT_YAML("a: true\nb: no\nc: On\nd: y\ne: ~\nf: null\ng:\n",
              "{\"a\":true,\"b\":false,\"c\":true,\"d\":\"y\",\"e\":null,\"f\":null,\"g\":null}");
  ASSERT_YAML("a: \"1\"\nb: '0x10'\nc: !!str 7\nd: v1.2\ne: 1.2.3\nf: 10Mi\n",
              "{\"a\":\"1\",\"b\":\"0x10\",\"c\":\"7\",\"d\":\"v1.2\",\"e\":\"1.2.3\",\"f\":\"10Mi\"}");
  ASSERT_YAML("s: |\n  line1\n  line2\n", "{\"s\":\"line1\\nline2\\n\"}");
}

/* Regression: digits beyond the conversion buffer were cut off, so 70
 * zeros and a 1 decoded as 0; such a scalar is a string. */
static void test_long_digit_string(void) {
  char y[128] = "a: ";
  size_t n = strlen(y);
  for (int i = 0; i < 70; i++)
    y[n++] = '0';
  y[n++] = '1';
  y[n] = '\0';
  cJSON *doc = NULL;
  ASSERT_EQ_INT(yaml_parse_one(y, strlen(y), &doc, err, sizeof(err)), 0);
  const cJSON *a = cJSON_GetObjectItem(doc, "a");
  ASSERT_TRUE(cJSON_IsString(a));
  ASSERT_EQ_INT(strlen(a->valuestring), 71);
  cJSON_Delete(doc);
}

static void test_nested(void) {
  ASSERT_YAML("spec:\n  containers:\n  - name: c\n    ports: [80, 443]\n",
              "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[80,443]}]}}");
}

static void test_anchors_and_merge(void) {
  ASSERT_YAML("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nref: *b\n",
              "{\"base\":{\"x\":1,\"y\":2},\"use\":{\"y\":3,\"x\":1},\"ref\":{\"x\":1,\"y\":2}}");
}

static void test_stream(void) {
  const char *y = "---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n";
  cJSON *docs = NULL;
  ASSERT_EQ_INT(yaml_parse_stream(y, strlen(y), &docs, err, sizeof(err)), 0);
  ASSERT_EQ_INT(cJSON_GetArraySize(docs), 2);
  ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(docs, 1), "b")->valueint, 2);
  cJSON_Delete(docs);
  cJSON *one = NULL;
  ASSERT_EQ_INT(yaml_parse_one(y, strlen(y), &one, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "expected one YAML document, found 2");
  ASSERT_EQ_INT(yaml_parse_one("", 0, &one, err, sizeof(err)), 0);
  ASSERT_TRUE(cJSON_IsNull(one));
  cJSON_Delete(one);
}

static void test_errors(void) {
  cJSON *doc = NULL;
  const char *bad = "a: 1\nb: [unclosed\n";
  ASSERT_EQ_INT(yaml_parse_one(bad, strlen(bad), &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "line ");
  const char *dup = "a: 1\na: 2\n";
  ASSERT_EQ_INT(yaml_parse_one(dup, strlen(dup), &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "line 2, column 1: duplicate key \"a\"");
  const char *alias = "a: *nope\n";
  ASSERT_EQ_INT(yaml_parse_one(alias, strlen(alias), &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "unknown alias");
  /* nesting bomb */
  char deep[1024];
  size_t n = 0;
  for (int i = 0; i < 300; i++)
    deep[n++] = '[';
  deep[n] = '\0';
  ASSERT_EQ_INT(yaml_parse_one(deep, n, &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "nesting too deep");
}

static void on_dup(size_t line, const char *key, void *data) {
  char *out = data;
  size_t n = strlen(out);
  snprintf(out + n, 256 - n, "%zu:%s;", line, key);
}

static void count_dup(size_t line, const char *key, void *data) {
  (void)line;
  (void)key;
  (*(int *)data)++;
}

/* With a callback, a repeated key keeps the last value (go-yaml's
 * non-strict decoding) and is reported with the line of its value. */
static void test_duplicates_reported(void) {
  char seen[256] = "";
  cJSON *doc = NULL;
  const char *y = "metadata:\n  name: a\n  name: b\n  x:\n    - 1\n  x: [2]\nkind: K\n";
  ASSERT_EQ_INT(yaml_parse_one_dups(y, strlen(y), &doc, on_dup, seen, err, sizeof(err)), 0);
  ASSERT_EQ_STR(seen, "3:name;6:x;");
  char *s = cJSON_PrintUnformatted(doc);
  ASSERT_EQ_STR(s, "{\"metadata\":{\"name\":\"b\",\"x\":[2]},\"kind\":\"K\"}");
  free(s);
  cJSON_Delete(doc);
  /* 40,000 keys, then each again: linear (it was quadratic: 75 s) */
  buf_t b;
  buf_init(&b, 8u << 20);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < 40000; i++)
      buf_printf(&b, "k%d: %d\n", i, pass);
  int dups = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ASSERT_EQ_INT(yaml_parse_one_dups(b.data, b.len, &doc, count_dup, &dups, err, sizeof(err)), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("# 80000 keys, 40000 repeated: %.3f s\n", secs);
  ASSERT_EQ_INT(dups, 40000);
  ASSERT_EQ_INT(cJSON_GetArraySize(doc), 40000);
  ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(doc, "k39999")->valueint, 1);
  ASSERT_TRUE(secs < 15.0); /* ~0.3 s unloaded; quadratic took 75 s */
  cJSON_Delete(doc);
  buf_done(&b);
  /* a NUL in a quoted scalar is refused: cJSON would cut the string there */
  const char *nul = "a: \"x\\0y\"\n";
  ASSERT_EQ_INT(yaml_parse_one(nul, strlen(nul), &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "NUL");
}

/* "Billion laughs": 9 aliases per level, 9 levels, would be 9^9 nodes. */
static void test_alias_bomb(void) {
  char y[2048];
  size_t n = (size_t)snprintf(y, sizeof(y), "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
  for (int i = 1; i < 9; i++) {
    n += (size_t)snprintf(y + n, sizeof(y) - n, "a%d: &a%d [", i, i);
    for (int k = 0; k < 9; k++)
      n += (size_t)snprintf(y + n, sizeof(y) - n, "%s*a%d", k ? ", " : "", i - 1);
    n += (size_t)snprintf(y + n, sizeof(y) - n, "]\n");
  }
  ASSERT_TRUE(n < sizeof(y));
  cJSON *doc = NULL;
  ASSERT_EQ_INT(yaml_parse_one(y, n, &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "anchors and aliases expand to too much data");
  /* the same with three levels is ordinary use and decodes */
  const char *ok = "a0: &a0 [x, y]\na1: &a1 [*a0, *a0, *a0]\na2: [*a1, *a1, *a1]\n";
  ASSERT_EQ_INT(yaml_parse_one(ok, strlen(ok), &doc, err, sizeof(err)), 0);
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "a2")), 3);
  cJSON_Delete(doc);
}

/* Time limits: the linear code takes ~0.1 s for these inputs in a release
 * build and ~1 s under ASan (its allocator dominates); the quadratic code
 * took a minute or more. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW 5.0
#else
#define SLOW 1.0
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Issue #19: alias lookup was a linear scan of the anchors, so 80,000
 * anchors with one alias each took 81 s. Now a hash map: well under 1 s
 * in a release build. */
static void test_many_aliases(void) {
  enum { N = 80000 };
  buf_t b;
  buf_init(&b, 8u << 20);
  ASSERT_EQ_INT(buf_append_str(&b, "anchors:\n"), 0);
  for (int i = 0; i < N; i++)
    ASSERT_EQ_INT(buf_printf(&b, "  k%d: &a%d v%d\n", i, i, i), 0);
  ASSERT_EQ_INT(buf_append_str(&b, "aliases:\n"), 0);
  for (int i = 0; i < N; i++)
    ASSERT_EQ_INT(buf_printf(&b, "  - *a%d\n", i), 0);
  double t0 = now_s();
  cJSON *doc = NULL;
  int r = yaml_parse_one(b.data, b.len, &doc, err, sizeof(err));
  double dt = now_s() - t0;
  printf("# %d anchors + %d aliases (%zu bytes): %.3f s\n", N, N, b.len, dt);
  buf_done(&b);
  ASSERT_EQ_INT(r, 0);
  const cJSON *al = cJSON_GetObjectItem(doc, "aliases");
  ASSERT_EQ_INT(cJSON_GetArraySize(al), N);
  ASSERT_EQ_STR(al->child->valuestring, "v0");
  ASSERT_EQ_STR(al->child->prev->valuestring, "v79999");
  cJSON_Delete(doc);
  ASSERT_TRUE(dt < t_time_limit(SLOW));
}

/* The latest definition of a redefined anchor is the one an alias names;
 * anchors do not carry over to the next document. */
static void test_anchor_redefined(void) {
  ASSERT_YAML("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", "{\"a\":1,\"b\":1,\"c\":2,\"d\":2}");
  const char *y = "a: &x 1\n---\nb: *x\n";
  cJSON *docs = NULL;
  ASSERT_EQ_INT(yaml_parse_stream(y, strlen(y), &docs, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "unknown alias");
}

/* Duplicate-key detection and merge keys used GetObjectItem per key
 * (quadratic): 100,000 keys, a duplicate at the end, and a merge of a
 * 50,000-key mapping all take well under a second. */
static void test_many_keys(void) {
  enum { N = 100000 };
  buf_t b;
  buf_init(&b, 8u << 20);
  for (int i = 0; i < N; i++)
    ASSERT_EQ_INT(buf_printf(&b, "key%d: %d\n", i, i), 0);
  double t0 = now_s();
  cJSON *doc = NULL;
  ASSERT_EQ_INT(yaml_parse_one(b.data, b.len, &doc, err, sizeof(err)), 0);
  ASSERT_EQ_INT(cJSON_GetArraySize(doc), N);
  cJSON_Delete(doc);
  ASSERT_EQ_INT(buf_append_str(&b, "key5: again\n"), 0);
  ASSERT_EQ_INT(yaml_parse_one(b.data, b.len, &doc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "line 100001, column 1: duplicate key \"key5\"");
  buf_reset(&b);
  ASSERT_EQ_INT(buf_append_str(&b, "base: &b\n"), 0);
  for (int i = 0; i < N / 2; i++)
    ASSERT_EQ_INT(buf_printf(&b, "  k%d: %d\n", i, i), 0);
  ASSERT_EQ_INT(buf_append_str(&b, "use:\n  k7: seven\n  <<: *b\n"), 0);
  ASSERT_EQ_INT(yaml_parse_one(b.data, b.len, &doc, err, sizeof(err)), 0);
  const cJSON *use = cJSON_GetObjectItem(doc, "use");
  ASSERT_EQ_INT(cJSON_GetArraySize(use), N / 2);
  ASSERT_EQ_STR(cJSON_GetObjectItem(use, "k7")->valuestring, "seven");
  ASSERT_EQ_INT(cJSON_GetObjectItem(use, "k49999")->valueint, 49999);
  cJSON_Delete(doc);
  double dt = now_s() - t0;
  printf("# 100,000 keys twice + 50,000-key merge: %.3f s\n", dt);
  buf_done(&b);
  ASSERT_TRUE(dt < t_time_limit(2 * SLOW));
}

TEST_LIST = {
    TEST(test_scalars), TEST(test_long_digit_string), TEST(test_nested), TEST(test_anchors_and_merge),
    TEST(test_stream),  TEST(test_errors), TEST(test_alias_bomb),
    TEST(test_many_aliases), TEST(test_anchor_redefined), TEST(test_many_keys),
    TEST(test_duplicates_reported), {0},
};
TEST_MAIN()
