/* pkg/agent/pause: `k3c pause`, the pod sandbox's process, and the writer
 * of the tiny OCI image that carries it (OCI image-spec image-layout.md,
 * manifest.md, config.md; tar in the POSIX ustar format). */
#include "agent/pause.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/host.h"
#include "tls/cert.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/errbuf.h"
#include "util/fsutil.h"

#define LAYER_MAX (512u * 1024 * 1024)
#define FILE_MAX (256u * 1024 * 1024)

_Noreturn void agent_pause_main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == SIGTERM || sig == SIGINT)
      _exit(0); /* _exit: no atexit handlers (a sanitizer's) in a sandbox */
    if (sig == SIGCHLD)
      while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
  }
}

/* --- ustar --- */

static void octal(char *dst, size_t n, unsigned long long v) {
  snprintf(dst, n, "%0*llo", (int)n - 1, v);
}

static int tar_header_link(buf_t *b, const char *name, char type, unsigned mode, size_t size,
                           const char *link) {
  char h[512];
  memset(h, 0, sizeof h);
  if (link) {
    if (strlen(link) > 100)
      return -ENAMETOOLONG;
    memcpy(h + 157, link, strlen(link));
  }
  size_t nl = strlen(name);
  if (nl <= 100) {
    memcpy(h, name, nl);
  } else { /* split at a '/' into prefix (155) and name (100) */
    const char *cut = name + nl - 100;
    while (*cut && *cut != '/')
      cut++;
    if (!*cut || (size_t)(cut - name) > 155)
      return -ENAMETOOLONG;
    memcpy(h + 345, name, (size_t)(cut - name));
    memcpy(h, cut + 1, nl - (size_t)(cut - name) - 1);
  }
  octal(h + 100, 8, mode);
  octal(h + 108, 8, 0);
  octal(h + 116, 8, 0);
  octal(h + 124, 12, size);
  octal(h + 136, 12, 0); /* mtime 0: the same binary gives the same digest */
  h[156] = type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof h; i++)
    sum += (unsigned char)h[i];
  snprintf(h + 148, 8, "%06o", sum);
  return buf_append(b, h, sizeof h);
}

static int tar_header(buf_t *b, const char *name, char type, unsigned mode, size_t size) {
  return tar_header_link(b, name, type, mode, size, NULL);
}

static int tar_file(buf_t *b, const char *name, unsigned mode, const void *data, size_t len) {
  static const char zeros[512];
  int r = tar_header(b, name, '0', mode, len);
  if (r == 0)
    r = buf_append(b, data, len);
  if (r == 0 && len % 512)
    r = buf_append(b, zeros, 512 - len % 512);
  return r;
}

static int tar_end(buf_t *b) {
  static const char zeros[1024];
  return buf_append(b, zeros, sizeof zeros);
}

/* Parent directories of path (relative), each once per layer. */
static int tar_parents(buf_t *b, const char *path, char ***seen, size_t *nseen) {
  char dir[4096];
  for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
    size_t n = (size_t)(p - path);
    if (n + 2 > sizeof dir)
      return -ENAMETOOLONG;
    memcpy(dir, path, n);
    dir[n] = '/';
    dir[n + 1] = 0;
    bool have = false;
    for (size_t i = 0; i < *nseen && !have; i++)
      have = !strcmp((*seen)[i], dir);
    if (have)
      continue;
    *seen = xrealloc(*seen, (*nseen + 1) * sizeof **seen);
    (*seen)[(*nseen)++] = xstrdup(dir);
    int r = tar_header(b, dir, '5', 0755, 0);
    if (r < 0)
      return r;
  }
  return 0;
}

/* --- the layer --- */

static int add_host_file(buf_t *b, const char *host, const char *name, char ***seen,
                         size_t *nseen, char *err, size_t errlen) {
  char *data = NULL;
  size_t len;
  int r = fs_read_file(host, FILE_MAX, &data, &len);
  if (r < 0) {
    errbuf_set(err, errlen, "pause image: read %s: %s", host, strerror(-r));
    return r;
  }
  if ((r = tar_parents(b, name, seen, nseen)) == 0)
    r = tar_file(b, name, 0755, data, len);
  free(data);
  if (r < 0)
    errbuf_set(err, errlen, "pause image: layer too large (%s)", host);
  return r;
}

/* The loader finds libraries by their sonames, links to the files mapped:
 * add every symlink of dir that resolves to one of the files in done. */
static int add_soname_links(buf_t *b, const char *dir, char **done, size_t ndone) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int r = 0;
  if (!d)
    return 0;
  while (r == 0 && (e = readdir(d))) {
    if (e->d_type != DT_LNK || !strstr(e->d_name, ".so"))
      continue;
    char path[PATH_MAX], real[PATH_MAX], target[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
        !realpath(path, real))
      continue;
    for (size_t i = 0; i < ndone; i++) {
      if (strcmp(done[i], real))
        continue;
      const char *base = strrchr(real, '/') + 1;
      snprintf(target, sizeof target, "%s", base);
      r = tar_header_link(b, path + 1, '2', 0777, 0, target);
      break;
    }
  }
  closedir(d);
  return r;
}

/* The shared objects this process has mapped (none for the static build). */
static int add_mapped_libraries(buf_t *b, char ***seen, size_t *nseen, char *err, size_t errlen) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f)
    return 0;
  char line[4096];
  char **done = NULL;
  size_t ndone = 0;
  int r = 0;
  while (r == 0 && fgets(line, sizeof line, f)) {
    char *path = strchr(line, '/');
    if (!path)
      continue;
    path[strcspn(path, "\n")] = 0;
    if (!strstr(path, ".so"))
      continue;
    bool have = false;
    for (size_t i = 0; i < ndone && !have; i++)
      have = !strcmp(done[i], path);
    if (have)
      continue;
    done = xrealloc(done, (ndone + 1) * sizeof *done);
    done[ndone++] = xstrdup(path);
    r = add_host_file(b, path, path + 1, seen, nseen, err, errlen);
  }
  fclose(f);
  /* each directory once */
  for (size_t i = 0; r == 0 && i < ndone; i++) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", done[i]);
    *strrchr(dir, '/') = 0;
    bool first = true;
    for (size_t j = 0; j < i && first; j++)
      first = strncmp(done[j], dir, strlen(dir)) || strchr(done[j] + strlen(dir) + 1, '/');
    if (first)
      r = add_soname_links(b, dir, done, ndone);
  }
  if (r < 0)
    errbuf_set(err, errlen, "pause image: library links: %s", strerror(-r));
  for (size_t i = 0; i < ndone; i++)
    free(done[i]);
  free(done);
  return r;
}

/* The program interpreter (PT_INTERP) of a dynamically linked build, at
 * the path the kernel looks for it. */
static int add_interpreter(buf_t *b, char ***seen, size_t *nseen, char *err, size_t errlen) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  ElfW(Ehdr) eh;
  int r = 0;
  if (fd < 0)
    return 0;
  if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && eh.e_phentsize == sizeof(ElfW(Phdr))) {
    for (unsigned i = 0; i < eh.e_phnum; i++) {
      ElfW(Phdr) ph;
      char interp[256];
      if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
        break;
      if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz >= sizeof interp)
        continue;
      if (pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
        break;
      interp[ph.p_filesz] = 0;
      if (interp[0] == '/')
        r = add_host_file(b, interp, interp + 1, seen, nseen, err, errlen);
      break;
    }
  }
  close(fd);
  return r;
}

static int blob_entry(buf_t *outer, const char *digest_hex, const void *data, size_t len) {
  char name[96];
  snprintf(name, sizeof name, "blobs/sha256/%s", digest_hex);
  return tar_file(outer, name, 0644, data, len);
}

int agent_pause_image_write(const char *path, char *ret_name, char *err, size_t errlen) {
  buf_t layer, outer;
  char **seen = NULL;
  size_t nseen = 0;
  char *config = NULL, *manifest = NULL, *index = NULL;
  char lhex[65], chex[65], mhex[65], name[AGENT_PAUSE_NAME_MAX];
  int r;
  buf_init(&layer, LAYER_MAX);
  buf_init(&outer, LAYER_MAX + 1024 * 1024);

  if ((r = add_host_file(&layer, "/proc/self/exe", "pause", &seen, &nseen, err, errlen)) < 0 ||
      (r = add_interpreter(&layer, &seen, &nseen, err, errlen)) < 0 ||
      (r = add_mapped_libraries(&layer, &seen, &nseen, err, errlen)) < 0 ||
      (r = tar_end(&layer)) < 0)
    goto out;
  tls_sha256_hex(layer.data, layer.len, lhex);
  snprintf(name, sizeof name, "localhost/k3c/pause:%.12s", lhex);

  config = xasprintf("{\"architecture\":\"%s\",\"os\":\"linux\",%s\"config\":{\"Entrypoint\":"
                     "[\"/pause\",\"pause\"],\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[\"sha256:%s\"]}}",
                     agent_host_arch(), strcmp(agent_host_arch(), "arm") ? "" : "\"variant\":\"v7\",", lhex);
  tls_sha256_hex(config, strlen(config), chex);
  manifest = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest."
                       "v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+"
                       "json\",\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
                       "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:%s\","
                       "\"size\":%zu}]}",
                       chex, strlen(config), lhex, layer.len);
  tls_sha256_hex(manifest, strlen(manifest), mhex);
  index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci."
                    "image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,"
                    "\"annotations\":{\"io.containerd.image.name\":\"%s\","
                    "\"org.opencontainers.image.ref.name\":\"%.12s\"},\"platform\":{"
                    "\"architecture\":\"%s\",\"os\":\"linux\"}}]}",
                    mhex, strlen(manifest), name, lhex, agent_host_arch());
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  if ((r = tar_file(&outer, "oci-layout", 0644, layout, strlen(layout))) < 0 ||
      (r = tar_file(&outer, "index.json", 0644, index, strlen(index))) < 0 ||
      (r = blob_entry(&outer, mhex, manifest, strlen(manifest))) < 0 ||
      (r = blob_entry(&outer, chex, config, strlen(config))) < 0 ||
      (r = blob_entry(&outer, lhex, layer.data, layer.len)) < 0 || (r = tar_end(&outer)) < 0) {
    errbuf_set(err, errlen, "pause image: too large");
    goto out;
  }
  if ((r = fs_write_atomic(path, outer.data, outer.len, 0600)) < 0) {
    errbuf_set(err, errlen, "pause image: write %s: %s", path, strerror(-r));
    goto out;
  }
  snprintf(ret_name, AGENT_PAUSE_NAME_MAX, "%s", name);
out:
  for (size_t i = 0; i < nseen; i++)
    free(seen[i]);
  free(seen);
  free(config);
  free(manifest);
  free(index);
  buf_done(&layer);
  buf_done(&outer);
  return r;
}

int agent_pause_cli(int argc, char **argv) {
  if (argc == 0)
    agent_pause_main();
  if (argc == 2 && !strcmp(argv[0], "--write-image")) {
    char name[AGENT_PAUSE_NAME_MAX], err[512];
    if (agent_pause_image_write(argv[1], name, err, sizeof err) < 0) {
      fprintf(stderr, "k3c pause: %s\n", err);
      return 1;
    }
    printf("%s\n", name);
    return 0;
  }
  bool help = argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"));
  fprintf(help ? stdout : stderr,
          "Usage: k3c pause [--write-image FILE]\n"
          "\n"
          "Without arguments: the pod sandbox's process (it waits for signals and reaps\n"
          "children), what k3c's own pause image runs.\n"
          "  --write-image FILE   write that image as an OCI layout tar to FILE and print its name\n");
  return help ? 0 : 2;
}
