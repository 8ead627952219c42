/* pkg/agent/volumes.c: configMap, secret, downwardAPI and projected volume
 * files, laid out by the atomic writer (..<timestamp> dir, ..data symlink,
 * per-name symlinks), in a temporary pods_dir. */
#include "agent/volumes.h"
#include "test.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX];

/* snprintf into an array, failing the test rather than cutting a path. */
#define FMT(buf, ...)                                                                              \
  do {                                                                                             \
    int n_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                                              \
    if (n_ < 0 || (size_t)n_ >= sizeof(buf))                                                       \
      TEST_FAIL("path too long");                                                                  \
  } while (0)
static agent_podspec_node_t node = {
    .name = "n1", .host_ip = "10.0.0.1", .logs_dir = "/nonexistent", .cgroup_root = "/"};

static cJSON *json(const char *s) {
  cJSON *j = cJSON_Parse(s);
  if (!j)
    TEST_FAIL("bad test JSON: %s", s);
  return j;
}

/* A pod with uid u1 and the given spec.volumes JSON array. */
static cJSON *pod_with(const char *volumes) {
  char buf[4096];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u1\","
           "\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},"
           "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],\"volumes\":%s}}",
           volumes);
  return json(buf);
}

static void fresh_root(void) {
  FMT(root, "/tmp/k3c-test-volumes-XXXXXX");
  if (!mkdtemp(root))
    TEST_FAIL("mkdtemp: %s", strerror(errno));
  node.pods_dir = root;
}

static void rm_tree(const char *path) {
  char cmd[PATH_MAX + 16];
  if (strncmp(path, "/tmp/k3c-test-volumes-", 22))
    return;
  FMT(cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", path);
}

static const char *vdir(const char *plugin, const char *name) {
  static char d[PATH_MAX];
  FMT(d, "%s/u1/volumes/kubernetes.io~%s/%s", root, plugin, name);
  return d;
}

/* The content of dir/rel, or "(missing)"; static buffer. */
static const char *content(const char *dir, const char *rel) {
  static char out[1024];
  char path[PATH_MAX];
  FMT(path, "%s/%s", dir, rel);
  char *data = NULL;
  size_t len = 0;
  if (fs_read_file(path, sizeof(out) - 1, &data, &len) < 0)
    return "(missing)";
  memcpy(out, data, len);
  out[len] = 0;
  free(data);
  return out;
}

static int mode_of(const char *dir, const char *rel) {
  char path[PATH_MAX];
  struct stat st;
  FMT(path, "%s/%s", dir, rel);
  return stat(path, &st) < 0 ? -1 : (int)(st.st_mode & 07777);
}

/* The target of the symlink dir/rel, or "(not a link)"; static buffer. */
static const char *link_of(const char *dir, const char *rel) {
  static char t[2][PATH_MAX];
  static int k;
  char path[PATH_MAX];
  FMT(path, "%s/%s", dir, rel);
  k ^= 1;
  ssize_t n = readlink(path, t[k], sizeof(t[k]) - 1);
  if (n < 0)
    return "(not a link)";
  t[k][n] = 0;
  return t[k];
}

/* The names in dir, sorted, comma-separated ("." and ".." left out, each
 * timestamped directory shown as "..TS"). */
static const char *names_of(const char *dir) {
  static char out[1024];
  struct dirent **list = NULL;
  int n = scandir(dir, &list, NULL, alphasort);
  out[0] = 0;
  if (n < 0)
    return "(no dir)";
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    const char *nm = list[i]->d_name;
    if (!strncmp(nm, "..20", 4))
      nm = "..TS";
    if (strcmp(nm, ".") && strcmp(nm, "..")) {
      int w = snprintf(out + used, sizeof(out) - used, "%s%s", used ? "," : "", nm);
      if (w > 0 && (size_t)w < sizeof(out) - used)
        used += (size_t)w;
    }
    free(list[i]);
  }
  free(list);
  return out;
}

/* The layout every written volume has: ..data -> ..2026_* (this year) dir,
 * each top-level name -> ..data/<name>. */
static void check_layout(const char *dir, const char *const *top) {
  const char *t = link_of(dir, "..data");
  if (strncmp(t, "..20", 4) || strchr(t, '/'))
    TEST_FAIL("..data -> %s, want ..<timestamp>", t);
  struct stat st;
  char path[PATH_MAX];
  FMT(path, "%s/%s", dir, t);
  ASSERT_EQ_INT(lstat(path, &st), 0);
  ASSERT_TRUE(S_ISDIR(st.st_mode));
  for (size_t i = 0; top[i]; i++) {
    char want[PATH_MAX];
    FMT(want, "..data/%s", top[i]);
    ASSERT_EQ_STR(link_of(dir, top[i]), want);
  }
}

static agent_podspec_refs_t refs_of(cJSON *cms, cJSON *secrets) {
  return (agent_podspec_refs_t){.configmaps = cms, .secrets = secrets};
}

#define CM_CFG                                                                                     \
  "{\"cfg\":{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"greeting\":\"hello\",\"app.conf\":"       \
  "\"x=1\\n\"},\"binaryData\":{\"blob\":\"AAEC\"}}}"

static void test_configmap_all_keys(void) {
  fresh_root();
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\"}}]");
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, "10.244.0.5", err, sizeof(err)), 0);
  const char *d = vdir("configmap", "v");
  static const char *const top[] = {"app.conf", "blob", "greeting", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(content(d, "greeting"), "hello");
  ASSERT_EQ_STR(content(d, "app.conf"), "x=1\n");
  ASSERT_EQ_INT(mode_of(d, "greeting"), 0644);
  ASSERT_EQ_INT(mode_of(d, "blob"), 0644);
  char path[PATH_MAX], *data = NULL;
  size_t len = 0;
  FMT(path, "%s/blob", d);
  ASSERT_EQ_INT(fs_read_file(path, 16, &data, &len), 0);
  ASSERT_EQ_INT(len, 3);
  ASSERT_TRUE(data[0] == 0 && data[1] == 1 && data[2] == 2);
  free(data);
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

static void test_configmap_items_modes(void) {
  fresh_root();
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\",\"defaultMode\":384,"
                        "\"items\":[{\"key\":\"greeting\",\"path\":\"a/b.txt\",\"mode\":256},"
                        "{\"key\":\"app.conf\",\"path\":\"conf\"}]}}]");
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  const char *d = vdir("configmap", "v");
  static const char *const top[] = {"a", "conf", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(names_of(d), "..TS,..data,a,conf");
  ASSERT_EQ_STR(content(d, "a/b.txt"), "hello");
  ASSERT_EQ_INT(mode_of(d, "a/b.txt"), 0400);
  ASSERT_EQ_STR(content(d, "conf"), "x=1\n");
  ASSERT_EQ_INT(mode_of(d, "conf"), 0600);
  ASSERT_EQ_STR(content(d, "greeting"), "(missing)");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

static void test_secret(void) {
  fresh_root();
  cJSON *pod =
      pod_with("[{\"name\":\"s\",\"secret\":{\"secretName\":\"creds\",\"defaultMode\":256}}]");
  cJSON *secrets = json("{\"creds\":{\"metadata\":{\"name\":\"creds\"},\"type\":\"Opaque\","
                        "\"data\":{\"password\":\"czNjcjN0\",\"user\":\"YWRtaW4=\"}}}");
  agent_podspec_refs_t refs = refs_of(NULL, secrets);
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  const char *d = vdir("secret", "s");
  static const char *const top[] = {"password", "user", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(content(d, "password"), "s3cr3t");
  ASSERT_EQ_STR(content(d, "user"), "admin");
  ASSERT_EQ_INT(mode_of(d, "password"), 0400);
  ASSERT_EQ_INT(mode_of(d, "user"), 0400);
  cJSON_Delete(pod);
  cJSON_Delete(secrets);
  rm_tree(root);
}

static void test_missing_objects(void) {
  fresh_root();
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  char err[512] = "";

  /* optional: no error, no files (an empty payload, as upstream's writer
   * lays it out: ..data to an empty directory) */
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"x\",\"optional\":true}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(names_of(vdir("configmap", "v")), "..TS,..data");
  char empty[PATH_MAX];
  FMT(empty, "%s/..data", vdir("configmap", "v"));
  ASSERT_EQ_STR(names_of(empty), "");
  cJSON_Delete(pod);

  /* not optional: -ENOENT, upstream's message */
  pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"x\"}}]");
  err[0] = 0;
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), -ENOENT);
  ASSERT_EQ_STR(err, "MountVolume.SetUp failed for volume \"v\" : configmap \"x\" not found");
  cJSON_Delete(pod);

  pod = pod_with("[{\"name\":\"s\",\"secret\":{\"secretName\":\"nope\"}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), -ENOENT);
  ASSERT_EQ_STR(err, "MountVolume.SetUp failed for volume \"s\" : secret \"nope\" not found");
  ASSERT_EQ_STR(names_of(vdir("secret", "s")), "(no dir)");
  cJSON_Delete(pod);

  /* a missing key in items */
  pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\","
                 "\"items\":[{\"key\":\"nokey\",\"path\":\"n\"}]}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), -ENOENT);
  ASSERT_CONTAINS(err, "configmap references non-existent config key: nokey");
  cJSON_Delete(pod);

  /* ... which an optional source skips */
  pod = pod_with("[{\"name\":\"w\",\"configMap\":{\"name\":\"cfg\",\"optional\":true,"
                 "\"items\":[{\"key\":\"nokey\",\"path\":\"n\"},"
                 "{\"key\":\"greeting\",\"path\":\"g\"}]}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(names_of(vdir("configmap", "w")), "..TS,..data,g");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

static void test_bad_paths(void) {
  fresh_root();
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  static const char *const bad[] = {"../x", "/abs", "..x", "a/../../x", "a//b", "", "a/..", ".."};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char vols[512], err[512] = "";
    snprintf(vols, sizeof(vols),
             "[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\","
             "\"items\":[{\"key\":\"greeting\",\"path\":\"%s\"}]}}]",
             bad[i]);
    cJSON *pod = pod_with(vols);
    int r = agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err));
    cJSON_Delete(pod);
    if (r != -EINVAL)
      TEST_FAIL("path \"%s\": got %d (%s), want -EINVAL", bad[i], r, err);
    ASSERT_CONTAINS(err, "MountVolume.SetUp failed for volume \"v\"");
  }
  /* nothing escaped the volume directory */
  ASSERT_EQ_STR(names_of(root), "");
  /* names that only look like them are fine */
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\","
                        "\"items\":[{\"key\":\"greeting\",\"path\":\"x..\"},"
                        "{\"key\":\"app.conf\",\"path\":\"d/.x\"}]}}]");
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(content(vdir("configmap", "v"), "x.."), "hello");
  ASSERT_EQ_STR(content(vdir("configmap", "v"), "d/.x"), "x=1\n");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

static void test_downward(void) {
  fresh_root();
  cJSON *pod =
      pod_with("[{\"name\":\"info\",\"downwardAPI\":{\"items\":["
               "{\"path\":\"name\",\"fieldRef\":{\"fieldPath\":\"metadata.name\"}},"
               "{\"path\":\"meta/labels\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}}"
               "]}}]");
  agent_podspec_refs_t refs = refs_of(NULL, NULL);
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, "10.244.0.5", err, sizeof(err)), 0);
  const char *d = vdir("downward-api", "info");
  static const char *const top[] = {"meta", "name", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(content(d, "name"), "web");
  ASSERT_EQ_STR(content(d, "meta/labels"), "app=\"web\"\ntier=\"front\"");
  ASSERT_EQ_INT(mode_of(d, "name"), 0644);
  cJSON_Delete(pod);
  rm_tree(root);
}

static void test_projected(void) {
  fresh_root();
  cJSON *pod = pod_with(
      "[{\"name\":\"all\",\"projected\":{\"defaultMode\":416,\"sources\":["
      "{\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"greeting\",\"path\":\"greeting\"}]}},"
      "{\"secret\":{\"name\":\"creds\",\"items\":[{\"key\":\"user\",\"path\":\"sec/user\","
      "\"mode\":256}]}},"
      "{\"downwardAPI\":{\"items\":[{\"path\":\"podname\",\"fieldRef\":{\"fieldPath\":"
      "\"metadata.name\"}}]}}]}}]");
  cJSON *cms = json(CM_CFG);
  cJSON *secrets = json("{\"creds\":{\"metadata\":{\"name\":\"creds\"},"
                        "\"data\":{\"user\":\"YWRtaW4=\"}}}");
  agent_podspec_refs_t refs = refs_of(cms, secrets);
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  const char *d = vdir("projected", "all");
  static const char *const top[] = {"greeting", "podname", "sec", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(names_of(d), "..TS,..data,greeting,podname,sec");
  ASSERT_EQ_STR(content(d, "greeting"), "hello");
  ASSERT_EQ_INT(mode_of(d, "greeting"), 0640);
  ASSERT_EQ_STR(content(d, "sec/user"), "admin");
  ASSERT_EQ_INT(mode_of(d, "sec/user"), 0400);
  ASSERT_EQ_STR(content(d, "podname"), "web");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  cJSON_Delete(secrets);
  rm_tree(root);
}

/* A serviceAccountToken source: the token refs hold for its key (the
 * upstream kube-api-access shape), written with the other sources and
 * swapped atomically when it is refreshed; a missing token holds the pod
 * with the manager's reason and writes nothing. */
static void test_projected_token(void) {
  fresh_root();
  cJSON *pod = pod_with(
      "[{\"name\":\"kube-api-access-abcde\",\"projected\":{\"defaultMode\":420,\"sources\":["
      "{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},"
      "{\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"greeting\",\"path\":\"ca.crt\"}]}},"
      "{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"fieldPath\":"
      "\"metadata.namespace\"}}]}}]}}]");
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = {.configmaps = cms, .token_err = "failed to fetch token: nope"};
  char err[512] = "";
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), -EAGAIN);
  ASSERT_EQ_STR(err, "MountVolume.SetUp failed for volume \"kube-api-access-abcde\" : "
                     "failed to fetch token: nope");
  const char *d = vdir("projected", "kube-api-access-abcde");
  struct stat st;
  ASSERT_TRUE(stat(d, &st) < 0);
  cJSON *tokens = json("{\"3607/\":\"eyJ.first.sig\",\"600/other\":\"x\"}");
  refs.tokens = tokens;
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  static const char *const top[] = {"ca.crt", "namespace", "token", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(content(d, "token"), "eyJ.first.sig");
  ASSERT_EQ_INT(mode_of(d, "token"), 0644);
  ASSERT_EQ_STR(content(d, "ca.crt"), "hello");
  ASSERT_EQ_STR(content(d, "namespace"), "default");
  char before[PATH_MAX];
  FMT(before, "%s", link_of(d, "..data"));
  cJSON_ReplaceItemInObjectCaseSensitive(tokens, "3607/", cJSON_CreateString("eyJ.second.sig"));
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(content(d, "token"), "eyJ.second.sig");
  ASSERT_TRUE(strcmp(before, link_of(d, "..data")) != 0);
  cJSON_Delete(tokens);
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

/* Same content twice: nothing changes. An update: ..data swapped, the old
 * timestamped directory gone, names no longer present dropped. */
static void test_rewrite(void) {
  fresh_root();
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\"}}]");
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  char err[512] = "";
  const char *d = vdir("configmap", "v");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  char first[PATH_MAX];
  FMT(first, "%s", link_of(d, "..data"));
  char before[1024];
  FMT(before, "%s", names_of(d));

  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(link_of(d, "..data"), first);
  ASSERT_EQ_STR(names_of(d), before);

  /* greeting changes, app.conf and blob go, new appears */
  cJSON_Delete(cms);
  cms = json("{\"cfg\":{\"metadata\":{\"name\":\"cfg\"},"
             "\"data\":{\"greeting\":\"bonjour\",\"new\":\"n\"}}}");
  refs = refs_of(cms, NULL);
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  char second[PATH_MAX];
  FMT(second, "%s", link_of(d, "..data"));
  ASSERT_TRUE(strcmp(second, first) != 0);
  static const char *const top[] = {"greeting", "new", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(names_of(d), "..TS,..data,greeting,new");
  ASSERT_EQ_STR(content(d, "greeting"), "bonjour");

  /* a mode change alone is an update too */
  char keep[PATH_MAX];
  FMT(keep, "%s", second);
  cJSON_Delete(pod);
  pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\",\"defaultMode\":256}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_TRUE(strcmp(link_of(d, "..data"), keep) != 0);
  ASSERT_EQ_INT(mode_of(d, "greeting"), 0400);

  /* the ConfigMap emptied: no names left, still a ..data */
  cJSON_Delete(cms);
  cms = json("{\"cfg\":{\"metadata\":{\"name\":\"cfg\"}}}");
  refs = refs_of(cms, NULL);
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(names_of(d), "..TS,..data");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

/* A key whose name starts with a dot is a name like any other: written,
 * linked, left alone when unchanged, dropped when gone. */
static void test_dot_names(void) {
  fresh_root();
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\"}}]");
  cJSON *cms = json("{\"cfg\":{\"metadata\":{\"name\":\"cfg\"},"
                    "\"data\":{\".env\":\"A=1\",\"b\":\"2\"}}}");
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  char err[512] = "";
  const char *d = vdir("configmap", "v");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  static const char *const top[] = {".env", "b", NULL};
  check_layout(d, top);
  ASSERT_EQ_STR(content(d, ".env"), "A=1");
  char first[PATH_MAX];
  FMT(first, "%s", link_of(d, "..data"));
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(link_of(d, "..data"), first);

  cJSON_Delete(cms);
  cms = json("{\"cfg\":{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"b\":\"2\"}}}");
  refs = refs_of(cms, NULL);
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(names_of(d), "..TS,..data,b");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

/* An item dropped under a directory that stays (a/c.txt of a/b.txt and
 * a/c.txt) is an update although the top-level names are the same. */
static void test_nested_removal(void) {
  fresh_root();
  cJSON *cms = json(CM_CFG);
  agent_podspec_refs_t refs = refs_of(cms, NULL);
  char err[512] = "";
  const char *d = vdir("configmap", "v");
  cJSON *pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\",\"items\":["
                        "{\"key\":\"greeting\",\"path\":\"a/b.txt\"},"
                        "{\"key\":\"app.conf\",\"path\":\"a/c.txt\"}]}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(content(d, "a/c.txt"), "x=1\n");
  cJSON_Delete(pod);
  pod = pod_with("[{\"name\":\"v\",\"configMap\":{\"name\":\"cfg\",\"items\":["
                 "{\"key\":\"greeting\",\"path\":\"a/b.txt\"}]}}]");
  ASSERT_EQ_INT(agent_volumes_write(pod, &refs, &node, NULL, err, sizeof(err)), 0);
  ASSERT_EQ_STR(content(d, "a/b.txt"), "hello");
  ASSERT_EQ_STR(content(d, "a/c.txt"), "(missing)");
  ASSERT_EQ_STR(names_of(d), "..TS,..data,a");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  rm_tree(root);
}

TEST_LIST = {
    TEST(test_configmap_all_keys),
    TEST(test_configmap_items_modes),
    TEST(test_secret),
    TEST(test_missing_objects),
    TEST(test_bad_paths),
    TEST(test_downward),
    TEST(test_projected),
    TEST(test_projected_token),
    TEST(test_rewrite),
    TEST(test_dot_names),
    TEST(test_nested_removal),
    {0},
};
TEST_MAIN()
