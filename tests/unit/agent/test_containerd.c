/* Unit tests for pkg/agent/containerd.c's config writer (with a registries
 * file too) and pause.c's image writer (no containerd needed:
 * tests/e2e/test_cri.sh and test_registries.sh run them for real). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/containerd.h"
#include "agent/pause.h"
#include "test.h"
#include "tls/cert.h"
#include "util/fsutil.h"

static char tmp[64];

static void make_tmp(void) {
  snprintf(tmp, sizeof tmp, "/tmp/k3c-test-agent-XXXXXX");
  ASSERT_NOT_NULL(mkdtemp(tmp));
}

static void rm_tmp(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    TEST_FAIL("rm -rf %s", tmp);
}

static char *read_config(const agent_containerd_opts_t *o) {
  char cfg[PATH_MAX], sock[PATH_MAX];
  agent_containerd_paths(o, cfg, sock);
  char *text = NULL;
  size_t len;
  if (fs_read_file(cfg, 1 << 20, &text, &len) < 0)
    return NULL;
  return text;
}

static void test_config_paths_and_keys(void) {
  make_tmp();
  char err[256];
  agent_containerd_opts_t o = {.data_dir = tmp, .sandbox_image = "localhost/k3c/pause:abc",
                               .snapshotter = "native", .restrict_oom_score_adj = 1,
                               .stream_port = 10011, .cni_bin_dir = "/opt/cni/bin"};
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), 0);
  char *t = read_config(&o);
  ASSERT_NOT_NULL(t);
  char want[512];
  snprintf(want, sizeof want, "root = \"%s/agent/containerd\"", tmp);
  ASSERT_CONTAINS(t, want);
  snprintf(want, sizeof want, "state = \"%s/agent/run/containerd\"", tmp);
  ASSERT_CONTAINS(t, want);
  snprintf(want, sizeof want, "address = \"%s/agent/run/containerd/containerd.sock\"", tmp);
  ASSERT_CONTAINS(t, want);
  snprintf(want, sizeof want, "conf_dir = \"%s/agent/etc/cni/net.d\"", tmp);
  ASSERT_CONTAINS(t, want);
  ASSERT_CONTAINS(t, "version = 2");
  ASSERT_CONTAINS(t, "sandbox_image = \"localhost/k3c/pause:abc\"");
  ASSERT_CONTAINS(t, "restrict_oom_score_adj = true");
  ASSERT_CONTAINS(t, "snapshotter = \"native\"");
  ASSERT_CONTAINS(t, "stream_server_port = \"10011\"");
  ASSERT_CONTAINS(t, "bin_dir = \"/opt/cni/bin\"");
  ASSERT_CONTAINS(t, "SystemdCgroup = false");
  ASSERT_CONTAINS(t, "runtime_type = \"io.containerd.runc.v2\"");
  free(t);
  /* the directories it names exist, the CNI one among them */
  char d[PATH_MAX];
  struct stat st;
  snprintf(d, sizeof d, "%s/agent/etc/cni/net.d", tmp);
  ASSERT_EQ_INT(stat(d, &st), 0);

  /* rewritten at every start: the option flips */
  o.restrict_oom_score_adj = 0;
  o.snapshotter = NULL; /* picked: overlayfs or native, never empty */
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), 0);
  t = read_config(&o);
  ASSERT_CONTAINS(t, "restrict_oom_score_adj = false");
  ASSERT_TRUE(strstr(t, "snapshotter = \"overlayfs\"") || strstr(t, "snapshotter = \"native\""));
  free(t);
  rm_tmp();
}

static void test_config_escapes_and_limits(void) {
  make_tmp();
  char err[256];
  agent_containerd_opts_t o = {.data_dir = tmp, .sandbox_image = "we\"ird\\name"};
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), 0);
  char *t = read_config(&o);
  ASSERT_CONTAINS(t, "sandbox_image = \"we\\\"ird\\\\name\"");
  free(t);
  /* control characters are escaped too (TOML forbids them raw) */
  o.sandbox_image = "a\nb\x01";
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), 0);
  t = read_config(&o);
  ASSERT_CONTAINS(t, "sandbox_image = \"a\\nb\\u0001\"\n");
  free(t);
  /* required options */
  agent_containerd_opts_t none = {.data_dir = tmp};
  ASSERT_EQ_INT(agent_containerd_config_write(&none, err, sizeof err), -EINVAL);
  ASSERT_CONTAINS(err, "required");
  /* a socket path a unix socket cannot hold */
  char deep[200];
  snprintf(deep, sizeof deep, "%s/%0120d", tmp, 0);
  agent_containerd_opts_t longo = {.data_dir = deep, .sandbox_image = "x"};
  ASSERT_EQ_INT(agent_containerd_config_write(&longo, err, sizeof err), -ENAMETOOLONG);
  ASSERT_CONTAINS(err, "too long");
  rm_tmp();
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ASSERT_NOT_NULL(f);
  fputs(text, f);
  fclose(f);
}

static void test_config_registries(void) {
  make_tmp();
  char err[512], reg[PATH_MAX];
  snprintf(reg, sizeof reg, "%s/registries.yaml", tmp);
  write_text(reg, "mirrors:\n  docker.io:\n    endpoint: [\"https://mirror.example:5000\"]\n"
                  "configs:\n  mirror.example:5000:\n    auth: {username: u, password: p}\n"
                  "    tls: {insecure_skip_verify: true}\n");
  agent_containerd_opts_t o = {.data_dir = tmp, .sandbox_image = "p", .snapshotter = "native",
                               .registries_file = reg};
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), 0);
  char *t = read_config(&o);
  ASSERT_NOT_NULL(t);
  ASSERT_CONTAINS(t, "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n"
                     "  endpoint = [\"https://mirror.example:5000\"]\n");
  ASSERT_CONTAINS(t, "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs."
                     "\"mirror.example:5000\".auth]\n  username = \"u\"\n  password = \"p\"\n");
  ASSERT_CONTAINS(t, "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs."
                     "\"mirror.example:5000\".tls]\n  insecure_skip_verify = true\n");
  /* the rest of the config is still there, the registries after it */
  ASSERT_TRUE(strstr(t, "max_conf_num = 1") < strstr(t, "registry.mirrors"));
  free(t);

  /* without a file: no registry tables */
  o.registries_file = NULL;
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), 0);
  t = read_config(&o);
  ASSERT_TRUE(t && !strstr(t, "registry"));
  free(t);

  /* a bad file fails with its name and the reason; the old config stays */
  write_text(reg, "mirrors:\n  docker.io:\n    endpoints: []\n");
  o.registries_file = reg;
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), -EINVAL);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s: mirrors.\"docker.io\": unknown key \"endpoints\"", reg);
  ASSERT_CONTAINS(err, want);
  t = read_config(&o);
  ASSERT_TRUE(t && !strstr(t, "registry"));
  free(t);
  /* a named file that is missing fails too */
  unlink(reg);
  ASSERT_EQ_INT(agent_containerd_config_write(&o, err, sizeof err), -ENOENT);
  ASSERT_CONTAINS(err, reg);
  rm_tmp();
}

/* Find name in a tar held in memory; returns its data and size. */
static const char *tar_lookup(const char *tar, size_t len, const char *name, size_t *ret_size) {
  for (size_t off = 0; off + 512 <= len;) {
    const char *h = tar + off;
    if (!h[0])
      return NULL;
    size_t size = strtoull(h + 124, NULL, 8);
    char full[300];
    if (h[345])
      snprintf(full, sizeof full, "%.155s/%.100s", h + 345, h);
    else
      snprintf(full, sizeof full, "%.100s", h);
    if (!strcmp(full, name)) {
      *ret_size = size;
      return h + 512;
    }
    off += 512 + (size + 511) / 512 * 512;
  }
  return NULL;
}

static void test_pause_image(void) {
  make_tmp();
  char path[128], name[AGENT_PAUSE_NAME_MAX], name2[AGENT_PAUSE_NAME_MAX], err[256];
  snprintf(path, sizeof path, "%s/pause.tar", tmp);
  ASSERT_EQ_INT(agent_pause_image_write(path, name, err, sizeof err), 0);
  ASSERT_CONTAINS(name, "localhost/k3c/pause:");
  ASSERT_EQ_INT(strlen(name), strlen("localhost/k3c/pause:") + 12);
  /* deterministic: the same binary gives the same image */
  ASSERT_EQ_INT(agent_pause_image_write(path, name2, err, sizeof err), 0);
  ASSERT_EQ_STR(name, name2);

  char *tar = NULL;
  size_t len, n;
  ASSERT_EQ_INT(fs_read_file(path, 1u << 30, &tar, &len), 0);
  ASSERT_NOT_NULL(tar_lookup(tar, len, "oci-layout", &n));
  const char *idx = tar_lookup(tar, len, "index.json", &n);
  ASSERT_NOT_NULL(idx);
  cJSON *index = cJSON_ParseWithLength(idx, n);
  ASSERT_NOT_NULL(index);
  cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(index, "manifests"), 0);
  const char *iname =
      cJSON_GetObjectItem(cJSON_GetObjectItem(m, "annotations"), "io.containerd.image.name")
          ->valuestring;
  ASSERT_EQ_STR(iname, name);
  /* every blob is stored under its own digest */
  char bname[96], hex[65];
  snprintf(bname, sizeof bname, "blobs/sha256/%s",
           cJSON_GetObjectItem(m, "digest")->valuestring + 7);
  const char *man = tar_lookup(tar, len, bname, &n);
  ASSERT_NOT_NULL(man);
  tls_sha256_hex(man, n, hex);
  ASSERT_EQ_STR(hex, cJSON_GetObjectItem(m, "digest")->valuestring + 7);
  cJSON *manifest = cJSON_ParseWithLength(man, n);
  cJSON *layer = cJSON_GetArrayItem(cJSON_GetObjectItem(manifest, "layers"), 0);
  snprintf(bname, sizeof bname, "blobs/sha256/%s",
           cJSON_GetObjectItem(layer, "digest")->valuestring + 7);
  size_t ln;
  const char *lay = tar_lookup(tar, len, bname, &ln);
  ASSERT_NOT_NULL(lay);
  tls_sha256_hex(lay, ln, hex);
  ASSERT_EQ_STR(hex, cJSON_GetObjectItem(layer, "digest")->valuestring + 7);
  ASSERT_TRUE(strstr(name, "pause:") && !strncmp(strstr(name, "pause:") + 6, hex, 12));
  /* the layer holds this binary as /pause (read, not stat()ed: qemu-user
   * maps open() of /proc/self/exe to the guest binary, not stat()) */
  char *self = NULL;
  size_t self_len;
  ASSERT_EQ_INT(fs_read_file("/proc/self/exe", 1u << 30, &self, &self_len), 0);
  const char *p = tar_lookup(lay, ln, "pause", &n);
  ASSERT_NOT_NULL(p);
  ASSERT_EQ_INT(n, self_len);
  ASSERT_TRUE(memcmp(p, self, n) == 0);
  free(self);
  /* the config runs `/pause pause` */
  snprintf(bname, sizeof bname, "blobs/sha256/%s",
           cJSON_GetObjectItem(cJSON_GetObjectItem(manifest, "config"), "digest")->valuestring +
               7);
  const char *cfg = tar_lookup(tar, len, bname, &n);
  ASSERT_NOT_NULL(cfg);
  ASSERT_TRUE(memmem(cfg, n, "\"Entrypoint\":[\"/pause\",\"pause\"]", 31) != NULL);
  cJSON_Delete(manifest);
  cJSON_Delete(index);
  free(tar);
  rm_tmp();
}

TEST_LIST = {
    TEST(test_config_paths_and_keys),
    TEST(test_config_escapes_and_limits),
    TEST(test_config_registries),
    TEST(test_pause_image),
    {0},
};
TEST_MAIN()
