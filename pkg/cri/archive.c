/* pkg/cri/archive: format detection, docker-archive manifest.json and
 * docker reference normalisation for the image import. docker-archive is
 * what `docker save` writes (moby image/tarexport); references follow the
 * grammar of github.com/distribution/reference (reference.go, normalize.go). */
#include "cri/archive.h"

#include "util/alloc.h"
#include "util/errbuf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cri_archive_format_t cri_archive_format(bool has_oci_layout, bool has_index_json,
                                        bool has_manifest_json) {
  if (has_oci_layout || (has_index_json && !has_manifest_json))
    return CRI_ARCHIVE_OCI;
  if (has_manifest_json)
    return CRI_ARCHIVE_DOCKER;
  return CRI_ARCHIVE_UNKNOWN;
}

bool cri_archive_is_gzip(const uint8_t *head, size_t n) {
  return n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
}

/* --- references --- */

static bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_ok(const char *s, size_t n) {
  size_t i = 0;
  for (;;) {
    size_t a = i;
    while (i < n && is_lower_alnum(s[i]))
      i++;
    if (i == a)
      return false;
    if (i == n)
      return true;
    size_t b = i;
    while (i < n && (s[i] == '.' || s[i] == '_' || s[i] == '-'))
      i++;
    size_t sep = i - b;
    bool dashes = true;
    for (size_t k = b; k < i; k++)
      dashes = dashes && s[k] == '-';
    if (!dashes && !(sep == 1 || (sep == 2 && s[b] == '_' && s[b + 1] == '_')))
      return false;
  }
}

/* host[:port], host = labels of [A-Za-z0-9-] (not starting or ending with
 * '-') joined by '.', or an IPv6 address in brackets. */
static bool domain_ok(const char *s, size_t n) {
  size_t i = 0;
  if (n && s[0] == '[') {
    while (i < n && s[i] != ']')
      if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '[')
        return false;
      else
        i++;
    if (i == n || i < 3)
      return false;
    i++;
  } else {
    for (;;) {
      size_t a = i;
      while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
        i++;
      if (i == a || s[a] == '-' || s[i - 1] == '-')
        return false;
      if (i == n || s[i] != '.')
        break;
      i++;
    }
  }
  if (i == n)
    return true;
  if (s[i] != ':' || i + 1 == n)
    return false;
  for (i++; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

static bool tag_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
      return false;
  return true;
}

static bool digest_ok(const char *s) {
  if (strncmp(s, "sha256:", 7) || strlen(s) != 71)
    return false;
  for (const char *p = s + 7; *p; p++)
    if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
      return false;
  return true;
}

int cri_archive_ref_normalise(const char *ref, char *ret, size_t len) {
  char name[CRI_ARCHIVE_REF_MAX];
  size_t rn = strlen(ref);
  if (rn == 0 || rn >= sizeof name)
    return rn ? -ENAMETOOLONG : -EINVAL;
  memcpy(name, ref, rn + 1);
  const char *digest = NULL, *tag = NULL;
  char *at = strchr(name, '@');
  if (at) {
    *at = 0;
    digest = at + 1;
    if (!digest_ok(digest))
      return -EINVAL;
  }
  char *colon = strrchr(name, ':'), *slash = strrchr(name, '/');
  if (colon && (!slash || colon > slash)) {
    *colon = 0;
    tag = colon + 1;
    if (!tag_ok(tag))
      return -EINVAL;
  }
  /* The domain: a first component with '.' or ':', "localhost", or upper
   * case (which a path may not have) names a registry. */
  const char *domain = "docker.io", *path = name;
  bool library = false;
  char *first = strchr(name, '/');
  if (first) {
    size_t dn = (size_t)(first - name);
    bool upper = false;
    for (size_t i = 0; i < dn; i++)
      upper = upper || isupper((unsigned char)name[i]);
    if (memchr(name, '.', dn) || memchr(name, ':', dn) || upper ||
        (dn == 9 && !memcmp(name, "localhost", 9))) {
      *first = 0;
      domain = name;
      path = first + 1;
      if (!domain_ok(domain, dn))
        return -EINVAL;
      if (!strcmp(domain, "index.docker.io"))
        domain = "docker.io";
    }
  }
  if (!strcmp(domain, "docker.io") && !strchr(path, '/'))
    library = true;
  /* Every path component is valid. */
  for (const char *p = path;;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!path_component_ok(p, n))
      return -EINVAL;
    if (!e)
      break;
    p = e + 1;
  }
  if (!strncmp(path, "library/", 8) && !strcmp(domain, "docker.io"))
    library = false; /* already there */
  char out[CRI_ARCHIVE_REF_MAX + 32];
  int n = snprintf(out, sizeof out, "%s/%s%s%s%s%s%s", domain, library ? "library/" : "", path,
                   tag || !digest ? ":" : "", tag ? tag : (digest ? "" : "latest"),
                   digest ? "@" : "", digest ? digest : "");
  /* the name part (domain and path) is at most 255 bytes */
  size_t name_len = strlen(domain) + 1 + (library ? 8 : 0) + strlen(path);
  if (n < 0 || (size_t)n >= sizeof out || name_len > 255)
    return -ENAMETOOLONG;
  if ((size_t)n >= len)
    return -ENAMETOOLONG;
  memcpy(ret, out, (size_t)n + 1);
  return 0;
}

/* --- manifest.json --- */

/* A member path: cleaned like the tar index does; refused when empty, too
 * long, or with a ".." component (the index never holds one, but the name
 * should not reach anything). */
static char *member_path(const char *s) {
  while (s[0] == '.' && s[1] == '/')
    s += 2;
  while (*s == '/')
    s++;
  size_t n = strlen(s);
  if (n == 0 || n > CRI_ARCHIVE_PATH_MAX)
    return NULL;
  for (const char *p = s;;) {
    const char *e = strchr(p, '/');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k == 2 && p[0] == '.' && p[1] == '.')
      return NULL;
    if (!e)
      break;
    p = e + 1;
  }
  return xstrdup(s);
}

static void image_done(cri_archive_image_t *im) {
  free(im->config);
  for (size_t i = 0; i < im->ntags; i++)
    free(im->tags[i]);
  free(im->tags);
  for (size_t i = 0; i < im->nlayers; i++)
    free(im->layers[i]);
  free(im->layers);
}

void cri_archive_manifest_done(cri_archive_manifest_t *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->n; i++)
    image_done(&m->v[i]);
  free(m->v);
  m->v = NULL;
  m->n = 0;
}

static int parse_image(const cJSON *j, size_t idx, cri_archive_image_t *im, char *err,
                       size_t errlen) {
  const cJSON *config = cJSON_GetObjectItemCaseSensitive(j, "Config");
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "RepoTags");
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "Layers");
  if (!cJSON_IsObject(j) || !cJSON_IsString(config) || !cJSON_IsArray(layers) ||
      (tags && !cJSON_IsNull(tags) && !cJSON_IsArray(tags))) {
    errbuf_set(err, errlen, "manifest.json entry %zu: no Config string or Layers array", idx);
    return -EBADMSG;
  }
  if (!(im->config = member_path(config->valuestring))) {
    errbuf_set(err, errlen, "manifest.json entry %zu: bad Config path", idx);
    return -EBADMSG;
  }
  int nl = cJSON_GetArraySize(layers), nt = cJSON_IsArray(tags) ? cJSON_GetArraySize(tags) : 0;
  if (nl > CRI_ARCHIVE_LAYERS_MAX || nt > CRI_ARCHIVE_TAGS_MAX) {
    errbuf_set(err, errlen, "manifest.json entry %zu: more than %d layers or tags", idx,
               CRI_ARCHIVE_LAYERS_MAX);
    return -E2BIG;
  }
  im->layers = xcalloc((size_t)nl + 1, sizeof *im->layers);
  const cJSON *v;
  cJSON_ArrayForEach(v, layers) {
    char *p = cJSON_IsString(v) ? member_path(v->valuestring) : NULL;
    if (!p) {
      errbuf_set(err, errlen, "manifest.json entry %zu: bad layer path %zu", idx, im->nlayers);
      return -EBADMSG;
    }
    im->layers[im->nlayers++] = p;
  }
  im->tags = xcalloc((size_t)nt + 1, sizeof *im->tags);
  if (nt) {
    cJSON_ArrayForEach(v, tags) {
      char ref[CRI_ARCHIVE_REF_MAX];
      if (!cJSON_IsString(v) || cri_archive_ref_normalise(v->valuestring, ref, sizeof ref) < 0) {
        errbuf_set(err, errlen, "manifest.json entry %zu: bad RepoTag %.64s", idx,
                   cJSON_IsString(v) ? v->valuestring : "(not a string)");
        return -EBADMSG;
      }
      im->tags[im->ntags++] = xstrdup(ref);
    }
  }
  return 0;
}

int cri_archive_manifest_parse(const char *json, size_t len, cri_archive_manifest_t *ret, char *err,
                               size_t errlen) {
  cri_archive_manifest_t m = {0};
  cJSON *j = cJSON_ParseWithLength(json, len);
  int r = -EBADMSG;
  if (!cJSON_IsArray(j)) {
    errbuf_set(err, errlen, "manifest.json: not a JSON array");
    goto out;
  }
  int n = cJSON_GetArraySize(j);
  if (n > CRI_ARCHIVE_IMAGES_MAX) {
    errbuf_set(err, errlen, "manifest.json: more than %d images", CRI_ARCHIVE_IMAGES_MAX);
    r = -E2BIG;
    goto out;
  }
  m.v = xcalloc((size_t)n + 1, sizeof *m.v);
  const cJSON *e;
  cJSON_ArrayForEach(e, j) {
    r = parse_image(e, m.n, &m.v[m.n], err, errlen);
    m.n++; /* counted even when half-built, so done frees it */
    if (r < 0)
      goto out;
  }
  r = 0;
out:
  cJSON_Delete(j);
  if (r == 0)
    *ret = m;
  else
    cri_archive_manifest_done(&m);
  return r;
}

/* --- the manifest written for a docker-archive image --- */

static cJSON *desc_json(const cri_archive_desc_t *d) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "mediaType", d->media_type);
  cJSON_AddNumberToObject(o, "size", (double)d->size);
  cJSON_AddStringToObject(o, "digest", d->digest);
  return o;
}

char *cri_archive_manifest_v2(const cri_archive_desc_t *config, const cri_archive_desc_t *layers,
                              size_t nlayers) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddNumberToObject(m, "schemaVersion", 2);
  cJSON_AddStringToObject(m, "mediaType", CRI_ARCHIVE_MT_MANIFEST);
  cJSON_AddItemToObject(m, "config", desc_json(config));
  cJSON *l = cJSON_AddArrayToObject(m, "layers");
  for (size_t i = 0; i < nlayers; i++)
    cJSON_AddItemToArray(l, desc_json(&layers[i]));
  char *s = cJSON_PrintUnformatted(m);
  cJSON_Delete(m);
  if (!s)
    abort(); /* cJSON allocates through xmalloc; only a bug gets here */
  return s;
}
