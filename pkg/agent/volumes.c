/* The kubelet's configMap, secret, downwardAPI and projected volumes:
 * what goes in them (keys or items, defaultMode/mode, optional), then the
 * atomic writer (timestamped directory, ..data symlink swapped by rename,
 * per-name symlinks). https://kubernetes.io/docs/concepts/storage/volumes/ */
#include "agent/volumes.h"

#include "agent/satokens.h"

#include "util/alloc.h"
#include "util/errbuf.h"
#include "util/fsutil.h"

#include "json/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mbedtls/base64.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILES_MAX 4096
#define MODE_DEFAULT 0644

/* One file of a volume: path relative to the volume, its bytes, mode. */
typedef struct {
  char *path;
  char *data;
  size_t len;
  mode_t mode;
} file_t;

typedef struct {
  file_t *v;
  size_t n, cap;
  char *err;
  size_t errlen;
} files_t;

static mode_t jmode(const cJSON *obj, const char *key, mode_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 0777 ? (mode_t)v->valuedouble
                                                                            : dflt;
}

static void files_done(files_t *f) {
  for (size_t i = 0; i < f->n; i++) {
    free(f->v[i].path);
    free(f->v[i].data);
  }
  free(f->v);
}

/* upstream's path rules for items: relative, no "..", not starting "..". */
static bool path_ok(const char *p) {
  if (!p || !p[0] || p[0] == '/' || !strncmp(p, "..", 2))
    return false;
  for (const char *s = p; *s;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.'))
      return false;
    s += n + (e ? 1 : 0);
  }
  return true;
}

static int add(files_t *f, const char *path, char *data, size_t len, mode_t mode) {
  if (!path_ok(path)) {
    free(data);
    errbuf_set(f->err, f->errlen, "invalid path %s: must be relative and may not contain '..'",
               path ? path : "");
    return -EINVAL;
  }
  for (size_t i = 0; i < f->n; i++) {
    if (!strcmp(f->v[i].path, path)) { /* a later source wins, as upstream's projection */
      free(f->v[i].data);
      f->v[i].data = data;
      f->v[i].len = len;
      f->v[i].mode = mode;
      return 0;
    }
  }
  if (f->n >= FILES_MAX) {
    free(data);
    errbuf_set(f->err, f->errlen, "more than %d files in one volume", FILES_MAX);
    return -E2BIG;
  }
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 8;
    f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
  }
  f->v[f->n++] = (file_t){xstrdup(path), data, len, mode};
  return 0;
}

static int b64(const char *s, char **ret, size_t *ret_len) {
  size_t len = strlen(s), out = 0;
  unsigned char *buf = xmalloc(len / 4 * 3 + 4);
  if (mbedtls_base64_decode(buf, len / 4 * 3 + 3, &out, (const unsigned char *)s, len) != 0) {
    free(buf);
    return -EINVAL;
  }
  *ret = (char *)buf;
  *ret_len = out;
  return 0;
}

/* The bytes of key in obj's data (text; base64 for secrets) or binaryData. */
static int value_of(const cJSON *obj, bool secret, const char *key, char **ret, size_t *ret_len) {
  const cJSON *v = json_get_path(obj, "data");
  v = cJSON_GetObjectItemCaseSensitive(v, key);
  if (cJSON_IsString(v)) {
    if (secret)
      return b64(v->valuestring, ret, ret_len);
    *ret = xstrdup(v->valuestring);
    *ret_len = strlen(v->valuestring);
    return 0;
  }
  v = cJSON_GetObjectItemCaseSensitive(json_get_path(obj, "binaryData"), key);
  if (!secret && cJSON_IsString(v))
    return b64(v->valuestring, ret, ret_len);
  return -ENOENT;
}

/* A configMap or secret source (a volume's, or a projected one's). */
static int from_object(files_t *f, const agent_podspec_refs_t *refs, const char *ns,
                       const cJSON *src, bool secret, mode_t mode_default) {
  const char *name = json_str(src, secret ? "secretName" : "name");
  if (!name)
    name = json_str(src, "name");
  bool optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(src, "optional"));
  const cJSON *obj =
      name ? cJSON_GetObjectItemCaseSensitive(secret ? refs->secrets : refs->configmaps, name)
           : NULL;
  mode_t dmode = jmode(src, "defaultMode", mode_default);
  if (!obj) {
    if (optional)
      return 0;
    errbuf_set(f->err, f->errlen, "%s \"%s\" not found", secret ? "secret" : "configmap",
               name ? name : "");
    return -ENOENT;
  }
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(src, "items");
  if (cJSON_GetArraySize(items) > 0) {
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
      const char *key = json_str(it, "key"), *path = json_str(it, "path");
      char *data = NULL;
      size_t len = 0;
      if (!key || value_of(obj, secret, key, &data, &len) < 0) {
        if (optional)
          continue;
        errbuf_set(f->err, f->errlen, "configmap references non-existent config key: %s",
                   key ? key : "");
        if (secret)
          errbuf_set(f->err, f->errlen, "references non-existent secret key: %s", key ? key : "");
        return -ENOENT;
      }
      int r = add(f, path, data, len, jmode(it, "mode", dmode));
      if (r < 0)
        return r;
    }
    return 0;
  }
  static const char *const maps[] = {"data", "binaryData"};
  for (size_t m = 0; m < (secret ? 1u : 2u); m++) {
    const cJSON *kv;
    cJSON_ArrayForEach(kv, json_get_path(obj, maps[m])) {
      char *data = NULL;
      size_t len = 0;
      if (value_of(obj, secret, kv->string, &data, &len) < 0)
        continue;
      int r = add(f, kv->string, data, len, dmode);
      if (r < 0)
        return r;
    }
  }
  (void)ns;
  return 0;
}

static int from_downward(files_t *f, const cJSON *pod, const agent_podspec_node_t *node,
                         const char *pod_ip, const cJSON *src, mode_t mode_default) {
  mode_t dmode = jmode(src, "defaultMode", mode_default);
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(src, "items")) {
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "fieldRef");
    if (!ref) {
      errbuf_set(f->err, f->errlen, "downwardAPI item %s: only fieldRef is supported yet",
                 json_str(it, "path") ? json_str(it, "path") : "");
      return -EINVAL;
    }
    char *value = NULL;
    int r = agent_podspec_field(pod, node, pod_ip, ref, &value, f->err, f->errlen);
    if (r < 0)
      return r;
    if ((r = add(f, json_str(it, "path"), value, strlen(value), jmode(it, "mode", dmode))) < 0)
      return r;
  }
  return 0;
}

/* A serviceAccountToken source: the token the manager fetched (satokens.h). */
static int from_token(files_t *f, const agent_podspec_refs_t *refs, const cJSON *src,
                      mode_t dmode) {
  char key[320];
  agent_satokens_source_key(src, key, sizeof(key));
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(refs->tokens, key);
  if (!cJSON_IsString(tok)) {
    errbuf_set(f->err, f->errlen, "%s",
               refs->token_err && refs->token_err[0] ? refs->token_err
                                                     : "failed to fetch token: not received yet");
    return -EAGAIN;
  }
  return add(f, json_str(src, "path"), xstrdup(tok->valuestring), strlen(tok->valuestring), dmode);
}

/* The files one volume should hold; 0 with f->n == 0 for other types. */
static int volume_files(const cJSON *pod, const cJSON *vol, const agent_podspec_refs_t *refs,
                        const agent_podspec_node_t *node, const char *pod_ip, files_t *f,
                        const char **ret_type) {
  const char *ns = json_str(pod, "metadata.namespace");
  const cJSON *src;
  if ((src = cJSON_GetObjectItemCaseSensitive(vol, "configMap"))) {
    *ret_type = "configMap";
    return from_object(f, refs, ns, src, false, MODE_DEFAULT);
  }
  if ((src = cJSON_GetObjectItemCaseSensitive(vol, "secret"))) {
    *ret_type = "secret";
    return from_object(f, refs, ns, src, true, MODE_DEFAULT);
  }
  if ((src = cJSON_GetObjectItemCaseSensitive(vol, "downwardAPI"))) {
    *ret_type = "downwardAPI";
    return from_downward(f, pod, node, pod_ip, src, MODE_DEFAULT);
  }
  if ((src = cJSON_GetObjectItemCaseSensitive(vol, "projected"))) {
    *ret_type = "projected";
    mode_t dmode = jmode(src, "defaultMode", MODE_DEFAULT);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(src, "sources")) {
      const cJSON *x;
      int r = 0;
      if ((x = cJSON_GetObjectItemCaseSensitive(s, "configMap")))
        r = from_object(f, refs, ns, x, false, dmode);
      else if ((x = cJSON_GetObjectItemCaseSensitive(s, "secret")))
        r = from_object(f, refs, ns, x, true, dmode);
      else if ((x = cJSON_GetObjectItemCaseSensitive(s, "downwardAPI")))
        r = from_downward(f, pod, node, pod_ip, x, dmode);
      else if ((x = cJSON_GetObjectItemCaseSensitive(s, "serviceAccountToken")))
        r = from_token(f, refs, x, dmode);
      else {
        errbuf_set(f->err, f->errlen, "projected volume \"%s\": %s sources are not supported yet",
                   json_str(vol, "name"), s->child && s->child->string ? s->child->string : "unknown");
        r = -ENOTSUP;
      }
      if (r < 0)
        return r;
    }
    return 0;
  }
  *ret_type = NULL;
  return 0;
}

/* ---- the atomic writer ---- */

/* a "/" b into out; -ENAMETOOLONG rather than a cut path. */
static int pjoin(char *out, size_t len, const char *a, const char *b) {
  int n = snprintf(out, len, "%s/%s", a, b);
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The writer's own entries ("..data", "..<timestamp>", "..data_tmp") and
 * "."; a key may start with one dot but never two (path_ok), so ".env"
 * is a name like any other. */
static bool internal(const char *name) {
  return !strcmp(name, ".") || !strncmp(name, "..", 2);
}

/* The regular files under dir, SIZE_MAX past FILES_MAX or on an error;
 * depth bounds the recursion (paths have at most that many parts). */
static size_t count_files(const char *dir, int depth) {
  if (depth > 64)
    return SIZE_MAX;
  DIR *d = opendir(dir);
  if (!d)
    return SIZE_MAX;
  size_t n = 0;
  struct dirent *e;
  char sub[PATH_MAX];
  while (n <= FILES_MAX && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    struct stat st;
    if (pjoin(sub, sizeof(sub), dir, e->d_name) < 0 || lstat(sub, &st) < 0) {
      n = SIZE_MAX;
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      size_t k = count_files(sub, depth + 1);
      n = k == SIZE_MAX ? SIZE_MAX : n + k;
      if (n == SIZE_MAX)
        break;
    } else {
      n++;
    }
  }
  closedir(d);
  return n > FILES_MAX ? SIZE_MAX : n;
}

/* Whether dir/..data holds exactly files (content and mode). */
static bool same(const char *dir, const files_t *f) {
  char path[PATH_MAX];
  for (size_t i = 0; i < f->n; i++) {
    int pn = snprintf(path, sizeof(path), "%s/..data/%s", dir, f->v[i].path);
    if (pn < 0 || (size_t)pn >= sizeof(path))
      return false;
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    if (stat(path, &st) < 0 || (st.st_mode & 0777) != f->v[i].mode ||
        fs_read_file(path, f->v[i].len + 1, &data, &len) < 0)
      return false;
    bool eq = len == f->v[i].len && !memcmp(data, f->v[i].data, len);
    free(data);
    if (!eq)
      return false;
  }
  /* and nothing more: as many files under ..data, as many top-level names */
  int pn = snprintf(path, sizeof(path), "%s/..data", dir);
  if (pn < 0 || (size_t)pn >= sizeof(path) || count_files(path, 0) != f->n)
    return false;
  DIR *d = opendir(dir);
  if (!d)
    return false;
  size_t names = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    names += !internal(e->d_name);
  closedir(d);
  size_t want = 0;
  for (size_t i = 0; i < f->n; i++) {
    const char *slash = strchr(f->v[i].path, '/');
    size_t n = slash ? (size_t)(slash - f->v[i].path) : strlen(f->v[i].path);
    bool dup = false;
    for (size_t j = 0; j < i && !dup; j++)
      dup = !strncmp(f->v[j].path, f->v[i].path, n) &&
            (f->v[j].path[n] == '/' || f->v[j].path[n] == 0);
    want += !dup;
  }
  return names == want;
}

static int write_file(const char *path, const file_t *fl) {
  char dir[PATH_MAX];
  if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
    return -ENAMETOOLONG;
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    int r = fs_mkdir_p(dir, 0755);
    if (r < 0)
      return r;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fl->mode);
  if (fd < 0)
    return -errno;
  ssize_t w = fl->len ? write(fd, fl->data, fl->len) : 0;
  int r = w == (ssize_t)fl->len ? 0 : -EIO;
  if (fchmod(fd, fl->mode) < 0 && r == 0)
    r = -errno;
  if (close(fd) < 0 && r == 0)
    r = -errno;
  return r;
}

static int write_atomic(const char *dir, const files_t *f, char *err, size_t errlen) {
  int r = fs_mkdir_p(dir, 0755);
  if (r < 0) {
    errbuf_set(err, errlen, "%s: %s", dir, strerror(-r));
    return r;
  }
  if (same(dir, f))
    return 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[64], tsdir[PATH_MAX], path[PATH_MAX], old[PATH_MAX] = "";
  strftime(stamp, sizeof(stamp), "..%Y_%m_%d_%H_%M_%S", &tm);
  int tn = snprintf(tsdir, sizeof(tsdir), "%s/%s.%09ld", dir, stamp, (long)ts.tv_nsec);
  if (tn < 0 || (size_t)tn >= sizeof(tsdir)) {
    errbuf_set(err, errlen, "%s: %s", dir, strerror(ENAMETOOLONG));
    return -ENAMETOOLONG;
  }
  if (mkdir(tsdir, 0755) < 0) {
    r = -errno;
    errbuf_set(err, errlen, "%s: %s", tsdir, strerror(-r));
    return r;
  }
  for (size_t i = 0; i < f->n; i++) {
    if ((r = pjoin(path, sizeof(path), tsdir, f->v[i].path)) < 0 ||
        (r = write_file(path, &f->v[i])) < 0) {
      errbuf_set(err, errlen, "%s/%s: %s", tsdir, f->v[i].path, strerror(-r));
      fs_remove_tree(tsdir);
      return r;
    }
  }
  /* The previous timestamped directory, to remove after the swap. */
  char target[PATH_MAX], tmp[PATH_MAX];
  if (pjoin(path, sizeof(path), dir, "..data") < 0 ||
      pjoin(tmp, sizeof(tmp), dir, "..data_tmp") < 0) {
    fs_remove_tree(tsdir);
    return -ENAMETOOLONG;
  }
  ssize_t tl = readlink(path, target, sizeof(target) - 1);
  if (tl > 0) {
    target[tl] = 0;
    if (pjoin(old, sizeof(old), dir, target) < 0)
      old[0] = 0;
  }
  unlink(tmp);
  const char *base = strrchr(tsdir, '/') + 1;
  if (symlink(base, tmp) < 0 || rename(tmp, path) < 0) {
    r = -errno;
    errbuf_set(err, errlen, "%s: %s", path, strerror(-r));
    unlink(tmp);
    fs_remove_tree(tsdir);
    return r;
  }
  /* Top-level names: a symlink into ..data each; stale ones go. */
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (internal(e->d_name))
      continue;
    bool keep = false;
    for (size_t i = 0; i < f->n && !keep; i++) {
      size_t n = strlen(e->d_name);
      keep =
          !strncmp(f->v[i].path, e->d_name, n) && (f->v[i].path[n] == '/' || f->v[i].path[n] == 0);
    }
    if (!keep) {
      if (pjoin(path, sizeof(path), dir, e->d_name) < 0)
        continue;
      unlink(path);
    }
  }
  if (d)
    closedir(d);
  for (size_t i = 0; i < f->n; i++) {
    const char *slash = strchr(f->v[i].path, '/');
    size_t n = slash ? (size_t)(slash - f->v[i].path) : strlen(f->v[i].path);
    char name[NAME_MAX + 1], link_target[PATH_MAX];
    int nn = snprintf(name, sizeof(name), "%.*s", (int)n, f->v[i].path);
    int ln = snprintf(link_target, sizeof(link_target), "..data/%s", name);
    if (nn < 0 || (size_t)nn >= sizeof(name) || ln < 0 || (size_t)ln >= sizeof(link_target) ||
        pjoin(path, sizeof(path), dir, name) < 0) {
      errbuf_set(err, errlen, "%s/%.*s: %s", dir, (int)n, f->v[i].path, strerror(ENAMETOOLONG));
      return -ENAMETOOLONG;
    }
    if (symlink(link_target, path) < 0 && errno != EEXIST) {
      r = -errno;
      errbuf_set(err, errlen, "%s: %s", path, strerror(-r));
      return r;
    }
  }
  if (old[0] && strcmp(old, tsdir))
    fs_remove_tree(old);
  return 0;
}

int agent_volumes_write(const cJSON *pod, const agent_podspec_refs_t *refs,
                        const agent_podspec_node_t *node, const char *pod_ip, char *err,
                        size_t errlen) {
  const cJSON *vol;
  cJSON_ArrayForEach(vol, json_get_path(pod, "spec.volumes")) {
    const char *name = json_str(vol, "name"), *type = NULL;
    if (!name)
      continue;
    char why[512] = "";
    files_t f = {.err = why, .errlen = sizeof(why)};
    int r = volume_files(pod, vol, refs, node, pod_ip, &f, &type);
    char dir[PATH_MAX];
    if (r == 0 && type &&
        (r = agent_podspec_volume_dir(pod, node, type, name, dir, sizeof(dir))) == 0)
      r = write_atomic(dir, &f, why, sizeof(why));
    files_done(&f);
    if (r < 0) {
      errbuf_set(err, errlen, "MountVolume.SetUp failed for volume \"%s\" : %s", name, why);
      return r;
    }
  }
  return 0;
}
