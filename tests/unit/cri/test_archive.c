/* Unit tests for pkg/cri/archive: which format a tarball is, docker-archive
 * manifest.json parsing (good input, missing and mistyped fields, path
 * traversal, oversized counts, bad tags), docker reference normalisation
 * and the schema 2 manifest written for an image. */
#include "cri/archive.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_format(void) {
  ASSERT_EQ_INT(cri_archive_format(true, true, false), CRI_ARCHIVE_OCI);
  ASSERT_EQ_INT(cri_archive_format(false, true, false), CRI_ARCHIVE_OCI);
  /* Docker 25+ writes both layouts: OCI wins */
  ASSERT_EQ_INT(cri_archive_format(true, true, true), CRI_ARCHIVE_OCI);
  ASSERT_EQ_INT(cri_archive_format(false, false, true), CRI_ARCHIVE_DOCKER);
  ASSERT_EQ_INT(cri_archive_format(false, true, true), CRI_ARCHIVE_DOCKER);
  ASSERT_EQ_INT(cri_archive_format(false, false, false), CRI_ARCHIVE_UNKNOWN);
}

static void test_gzip(void) {
  const uint8_t gz[] = {0x1f, 0x8b, 8}, tar[] = {'b', 'i', 'n'};
  ASSERT_TRUE(cri_archive_is_gzip(gz, sizeof gz));
  ASSERT_FALSE(cri_archive_is_gzip(gz, 1));
  ASSERT_FALSE(cri_archive_is_gzip(tar, sizeof tar));
  ASSERT_FALSE(cri_archive_is_gzip(NULL, 0));
}

static int norm(const char *in, char *out, size_t len) {
  return cri_archive_ref_normalise(in, out, len);
}

static void test_ref_normalise(void) {
  static const char *const good[][2] = {
      {"busybox:1.36", "docker.io/library/busybox:1.36"},
      {"busybox", "docker.io/library/busybox:latest"},
      {"foo/bar:1", "docker.io/foo/bar:1"},
      {"library/busybox:1", "docker.io/library/busybox:1"},
      {"docker.io/busybox:1", "docker.io/library/busybox:1"},
      {"index.docker.io/foo/bar:1", "docker.io/foo/bar:1"},
      {"host:5000/x:1", "host:5000/x:1"},
      {"localhost/k3c/pause:abc", "localhost/k3c/pause:abc"},
      {"localhost:5000/a/b/c", "localhost:5000/a/b/c:latest"},
      {"registry.example.com/a_b/c--d__e.f:v1.2-rc_3",
       "registry.example.com/a_b/c--d__e.f:v1.2-rc_3"},
      {"[::1]:5000/x:2", "[::1]:5000/x:2"},
      {"Host.Example/x:1", "Host.Example/x:1"},
      {"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
       "docker.io/library/"
       "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
  };
  char out[CRI_ARCHIVE_REF_MAX];
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    ASSERT_EQ_INT(norm(good[i][0], out, sizeof out), 0);
    ASSERT_EQ_STR(out, good[i][1]);
  }
  static const char *const bad[] = {
      "",
      "Busybox:1",
      "busybox:",
      "busybox:-x",
      "busybox:.x",
      "foo//bar:1",
      "/foo:1",
      "foo/:1",
      "foo/bar/",
      "foo_:1",
      "a___b",
      "a..b",
      "host:port/x:1",
      "-host.com/x",
      "host-.com/x",
      "busybox@sha256:12",
      "busybox@md5:0123",
      "x:1 2",
      "x:ta/g",
      "ho st.com/x",
      "busybox:"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* a 132-byte tag */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int r = norm(bad[i], out, sizeof out);
    if (r != -EINVAL)
      TEST_FAIL("%s: got %d (%s), want -EINVAL", bad[i], r, r ? "" : out);
  }
  /* too long: the whole reference, the name part, the output buffer */
  char big[700];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  ASSERT_EQ_INT(norm(big, out, sizeof out), -ENAMETOOLONG);
  char name256[300];
  memset(name256, 'b', 250);
  snprintf(name256 + 250, sizeof name256 - 250, ":1");
  ASSERT_EQ_INT(norm(name256, out, sizeof out), -ENAMETOOLONG); /* docker.io/library/ + 250 */
  char small[20];
  ASSERT_EQ_INT(norm("busybox:1.36", small, sizeof small), -ENAMETOOLONG);
  char fits[31];
  ASSERT_EQ_INT(norm("busybox:1.36", fits, sizeof fits), 0);
  ASSERT_EQ_STR(fits, "docker.io/library/busybox:1.36");
}

static int parse(const char *json, cri_archive_manifest_t *m, char *err, size_t errlen) {
  return cri_archive_manifest_parse(json, strlen(json), m, err, errlen);
}

static void test_manifest_good(void) {
  const char *j = "[{\"Config\":\"abc.json\",\"RepoTags\":[\"busybox:1.36\",\"host:5000/x:1\"],"
                  "\"Layers\":[\"d1/layer.tar\",\"./d2/layer.tar\"]},"
                  "{\"Config\":\"blobs/sha256/def\",\"RepoTags\":null,\"Layers\":[]},"
                  "{\"Config\":\"/ghi.json\",\"Layers\":[\"d3/layer.tar\"],\"Parent\":\"x\"}]";
  cri_archive_manifest_t m = {0};
  char err[256] = "";
  ASSERT_EQ_INT(parse(j, &m, err, sizeof err), 0);
  ASSERT_EQ_INT(m.n, 3);
  ASSERT_EQ_STR(m.v[0].config, "abc.json");
  ASSERT_EQ_INT(m.v[0].ntags, 2);
  ASSERT_EQ_STR(m.v[0].tags[0], "docker.io/library/busybox:1.36");
  ASSERT_EQ_STR(m.v[0].tags[1], "host:5000/x:1");
  ASSERT_EQ_INT(m.v[0].nlayers, 2);
  ASSERT_EQ_STR(m.v[0].layers[0], "d1/layer.tar");
  ASSERT_EQ_STR(m.v[0].layers[1], "d2/layer.tar");
  ASSERT_EQ_STR(m.v[1].config, "blobs/sha256/def");
  ASSERT_EQ_INT(m.v[1].ntags, 0);
  ASSERT_EQ_INT(m.v[1].nlayers, 0);
  ASSERT_EQ_STR(m.v[2].config, "ghi.json");
  ASSERT_EQ_INT(m.v[2].ntags, 0);
  cri_archive_manifest_done(&m);
  ASSERT_EQ_INT(m.n, 0);
  cri_archive_manifest_done(&m); /* twice is fine */
  cri_archive_manifest_done(NULL);
  ASSERT_EQ_INT(parse("[]", &m, err, sizeof err), 0);
  ASSERT_EQ_INT(m.n, 0);
  cri_archive_manifest_done(&m);
}

static void test_manifest_hostile(void) {
  static const struct {
    const char *json;
    int want;
    const char *msg;
  } cases[] = {
      {"", -EBADMSG, "not a JSON array"},
      {"{}", -EBADMSG, "not a JSON array"},
      {"[{\"Config\":\"a.json\"", -EBADMSG, "not a JSON array"},
      {"[1]", -EBADMSG, "no Config"},
      {"[{\"RepoTags\":[\"a:1\"],\"Layers\":[]}]", -EBADMSG, "no Config"},
      {"[{\"Config\":7,\"Layers\":[]}]", -EBADMSG, "no Config"},
      {"[{\"Config\":\"a.json\"}]", -EBADMSG, "no Config"},
      {"[{\"Config\":\"a.json\",\"Layers\":\"l.tar\"}]", -EBADMSG, "no Config"},
      {"[{\"Config\":\"a.json\",\"Layers\":[],\"RepoTags\":\"a:1\"}]", -EBADMSG, "no Config"},
      {"[{\"Config\":\"\",\"Layers\":[]}]", -EBADMSG, "bad Config path"},
      {"[{\"Config\":\"../a.json\",\"Layers\":[]}]", -EBADMSG, "bad Config path"},
      {"[{\"Config\":\"a.json\",\"Layers\":[\"../x\"]}]", -EBADMSG, "bad layer path 0"},
      {"[{\"Config\":\"a.json\",\"Layers\":[\"ok/layer.tar\",\"a/../../x\"]}]", -EBADMSG,
       "bad layer path 1"},
      {"[{\"Config\":\"a.json\",\"Layers\":[\"d/..\"]}]", -EBADMSG, "bad layer path 0"},
      {"[{\"Config\":\"a.json\",\"Layers\":[\"./\"]}]", -EBADMSG, "bad layer path 0"},
      {"[{\"Config\":\"a.json\",\"Layers\":[3]}]", -EBADMSG, "bad layer path 0"},
      {"[{\"Config\":\"a.json\",\"Layers\":[],\"RepoTags\":[\"Bad:1\"]}]", -EBADMSG,
       "bad RepoTag Bad:1"},
      {"[{\"Config\":\"a.json\",\"Layers\":[],\"RepoTags\":[5]}]", -EBADMSG,
       "bad RepoTag (not a string)"},
      {"[{\"Config\":\"a.json\",\"Layers\":[]},{\"Config\":\"..\",\"Layers\":[]}]", -EBADMSG,
       "entry 1: bad Config path"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cri_archive_manifest_t m = {0};
    char err[256] = "";
    int r = parse(cases[i].json, &m, err, sizeof err);
    if (r != cases[i].want || !strstr(err, cases[i].msg))
      TEST_FAIL("%s: got %d \"%s\", want %d \"%s\"", cases[i].json, r, err, cases[i].want,
                cases[i].msg);
    ASSERT_EQ_INT(m.n, 0); /* untouched on failure */
    ASSERT_TRUE(m.v == NULL);
  }
}

/* A manifest.json of n entries or one entry of n layers/tags. */
static char *many(const char *head, const char *item, const char *tail, int n) {
  size_t len = strlen(head) + strlen(tail) + (size_t)n * (strlen(item) + 1) + 1;
  char *s = malloc(len), *p = s;
  p += snprintf(p, len, "%s", head);
  for (int i = 0; i < n; i++)
    p += snprintf(p, len - (size_t)(p - s), "%s%s", i ? "," : "", item);
  snprintf(p, len - (size_t)(p - s), "%s", tail);
  return s;
}

static void test_manifest_counts(void) {
  char err[256];
  cri_archive_manifest_t m = {0};
  char *s = many("[", "{\"Config\":\"a.json\",\"Layers\":[]}", "]", CRI_ARCHIVE_IMAGES_MAX + 1);
  ASSERT_EQ_INT(parse(s, &m, err, sizeof err), -E2BIG);
  free(s);
  s = many("[", "{\"Config\":\"a.json\",\"Layers\":[]}", "]", CRI_ARCHIVE_IMAGES_MAX);
  ASSERT_EQ_INT(parse(s, &m, err, sizeof err), 0);
  ASSERT_EQ_INT(m.n, CRI_ARCHIVE_IMAGES_MAX);
  cri_archive_manifest_done(&m);
  free(s);
  s = many("[{\"Config\":\"a.json\",\"Layers\":[", "\"l.tar\"", "]}]", CRI_ARCHIVE_LAYERS_MAX + 1);
  ASSERT_EQ_INT(parse(s, &m, err, sizeof err), -E2BIG);
  free(s);
  s = many("[{\"Config\":\"a.json\",\"Layers\":[],\"RepoTags\":[", "\"a:1\"", "]}]",
           CRI_ARCHIVE_TAGS_MAX + 1);
  ASSERT_EQ_INT(parse(s, &m, err, sizeof err), -E2BIG);
  free(s);
  /* a path longer than the bound */
  char *longp = malloc(CRI_ARCHIVE_PATH_MAX + 64);
  memset(longp, 'x', CRI_ARCHIVE_PATH_MAX + 1);
  longp[CRI_ARCHIVE_PATH_MAX + 1] = 0;
  s = many("[{\"Config\":\"a.json\",\"Layers\":[\"", longp, "\"]}]", 1);
  ASSERT_EQ_INT(parse(s, &m, err, sizeof err), -EBADMSG);
  free(s);
  free(longp);
}

static void test_manifest_v2(void) {
  cri_archive_desc_t cfg = {CRI_ARCHIVE_MT_CONFIG, "sha256:c", 1234};
  cri_archive_desc_t layers[2] = {{CRI_ARCHIVE_MT_LAYER, "sha256:l0", 5000000000ull},
                                  {CRI_ARCHIVE_MT_LAYER_GZIP, "sha256:l1", 7}};
  char *s = cri_archive_manifest_v2(&cfg, layers, 2);
  cJSON *j = cJSON_Parse(s);
  ASSERT_TRUE(j != NULL);
  ASSERT_EQ_INT(cJSON_GetObjectItem(j, "schemaVersion")->valueint, 2);
  ASSERT_EQ_STR(cJSON_GetObjectItem(j, "mediaType")->valuestring, CRI_ARCHIVE_MT_MANIFEST);
  cJSON *c = cJSON_GetObjectItem(j, "config");
  ASSERT_EQ_STR(cJSON_GetObjectItem(c, "digest")->valuestring, "sha256:c");
  ASSERT_EQ_STR(cJSON_GetObjectItem(c, "mediaType")->valuestring, CRI_ARCHIVE_MT_CONFIG);
  ASSERT_EQ_INT(cJSON_GetObjectItem(c, "size")->valuedouble, 1234);
  cJSON *l = cJSON_GetObjectItem(j, "layers");
  ASSERT_EQ_INT(cJSON_GetArraySize(l), 2);
  ASSERT_EQ_INT((long long)cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "size")->valuedouble,
                5000000000ll);
  ASSERT_CONTAINS(s, "\"size\":5000000000,");
  ASSERT_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "mediaType")->valuestring,
                CRI_ARCHIVE_MT_LAYER_GZIP);
  cJSON_Delete(j);
  free(s);
  s = cri_archive_manifest_v2(&cfg, NULL, 0);
  ASSERT_CONTAINS(s, "\"layers\":[]");
  free(s);
}

TEST_LIST = {
    TEST(test_format),           TEST(test_gzip),
    TEST(test_ref_normalise),    TEST(test_manifest_good),
    TEST(test_manifest_hostile), TEST(test_manifest_counts),
    TEST(test_manifest_v2),      {0},
};
TEST_MAIN()
