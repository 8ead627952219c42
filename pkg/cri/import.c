/* pkg/cri/import: bring an OCI image-layout tarball into containerd
 * without a registry, through containerd's own gRPC services on the CRI
 * socket (containerd 1.6 api/services: leases, content, snapshots, diff,
 * images). It does what containerd's client-side import and unpack do: the
 * blobs go to the content store under a lease, with the garbage-collection
 * labels that keep them; each layer is applied onto a snapshot named by its
 * chain ID; the image record is created, and CRI adopts it from the
 * ImageCreate event. OCI image layout: github.com/opencontainers/image-spec
 * image-layout.md; docker-archive (`docker save`: manifest.json, config, layer
 * tars) is turned into the same blobs with a manifest written here (archive.c). */
#include <cjson/cJSON.h>
#include <mbedtls/sha256.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cri/archive.h"
#include "cri/internal.h"
#include "tls/cert.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/errbuf.h"

#define NS "k8s.io"
#define JSON_MAX (4u * 1024 * 1024)
#define TAR_ENTRIES_MAX 100000
#define CHUNK (1u * 1024 * 1024)

/* --- the tarball: an index of its regular files --- */

typedef struct {
  char *name;
  uint64_t off, size;
} tar_ent_t;

typedef struct {
  int fd;
  tar_ent_t *v;
  size_t n;
} tar_t;

static uint64_t octal(const char *p, size_t n) {
  uint64_t v = 0;
  if (n && ((unsigned char)p[0] & 0x80)) { /* GNU base-256 for big sizes */
    for (size_t i = 1; i < n; i++)
      v = v << 8 | (unsigned char)p[i];
    return v;
  }
  for (size_t i = 0; i < n && p[i]; i++)
    if (p[i] >= '0' && p[i] <= '7')
      v = v * 8 + (uint64_t)(p[i] - '0');
  return v;
}

static char *clean_name(const char *s) {
  while (s[0] == '.' && s[1] == '/')
    s += 2;
  while (*s == '/')
    s++;
  return xstrdup(s);
}

static int tar_open(tar_t *t, const char *path, char *err, size_t errlen) {
  t->fd = open(path, O_RDONLY | O_CLOEXEC);
  t->v = NULL;
  t->n = 0;
  if (t->fd < 0) {
    int e = errno;
    errbuf_set(err, errlen, "open %s: %s", path, strerror(e));
    return -e;
  }
  uint64_t off = 0;
  char *longname = NULL;
  for (;;) {
    unsigned char h[512];
    ssize_t r = pread(t->fd, h, sizeof h, (off_t)off);
    if (r == 0)
      break;
    if (r != (ssize_t)sizeof h)
      goto bad;
    bool zero = true;
    for (size_t i = 0; i < sizeof h && zero; i++)
      zero = !h[i];
    if (zero)
      break;
    uint64_t size = octal((const char *)h + 124, 12);
    char type = (char)h[156];
    uint64_t data = off + 512;
    off = data + (size + 511) / 512 * 512;
    if (type == 'L') { /* GNU long name for the next entry */
      if (size > 4096)
        goto bad;
      free(longname);
      longname = xmalloc(size + 1);
      if (pread(t->fd, longname, size, (off_t)data) != (ssize_t)size)
        goto bad;
      longname[size] = 0;
      continue;
    }
    if (type != '0' && type != 0) {
      free(longname);
      longname = NULL;
      continue; /* directories, links: not needed for a layout */
    }
    char name[256 + 156];
    if (longname) {
      snprintf(name, sizeof name, "%s", longname);
      free(longname);
      longname = NULL;
    } else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
      snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
    } else {
      snprintf(name, sizeof name, "%.100s", (const char *)h);
    }
    if (t->n == TAR_ENTRIES_MAX)
      goto bad;
    t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n].name = clean_name(name);
    t->v[t->n].off = data;
    t->v[t->n].size = size;
    t->n++;
  }
  free(longname);
  return 0;
bad:
  free(longname);
  errbuf_set(err, errlen, "%s: not a readable tar archive", path);
  return -EBADMSG;
}

static void tar_close(tar_t *t) {
  for (size_t i = 0; i < t->n; i++)
    free(t->v[i].name);
  free(t->v);
  if (t->fd >= 0)
    close(t->fd);
}

static const tar_ent_t *tar_find(const tar_t *t, const char *name) {
  for (size_t i = t->n; i-- > 0;) /* the last copy of a name wins, as tar extracts */
    if (!strcmp(t->v[i].name, name))
      return &t->v[i];
  return NULL;
}

static const tar_ent_t *blob(const tar_t *t, const char *digest) {
  char name[128];
  if (strncmp(digest, "sha256:", 7) || strlen(digest) != 71)
    return NULL;
  snprintf(name, sizeof name, "blobs/sha256/%s", digest + 7);
  return tar_find(t, name);
}

/* A member's bytes, NUL-terminated, if it is at most max bytes. */
static char *read_member(const tar_t *t, const tar_ent_t *e, size_t max, char *err,
                         size_t errlen) {
  if (!e || e->size > max) {
    errbuf_set(err, errlen, "%s: missing or larger than %zu bytes", e ? e->name : "file", max);
    return NULL;
  }
  char *s = xmalloc(e->size + 1);
  if (pread(t->fd, s, e->size, (off_t)e->off) != (ssize_t)e->size) {
    free(s);
    errbuf_set(err, errlen, "%s: short read", e->name);
    return NULL;
  }
  s[e->size] = 0;
  return s;
}

static cJSON *read_json(const tar_t *t, const tar_ent_t *e, char *err, size_t errlen) {
  char *s = read_member(t, e, JSON_MAX, err, errlen);
  if (!s)
    return NULL;
  cJSON *j = cJSON_ParseWithLength(s, e->size);
  free(s);
  if (!j)
    errbuf_set(err, errlen, "%s: not JSON", e->name);
  return j;
}

/* "sha256:<hex>" of a member, read CHUNK bytes at a time (layers can be
 * larger than the memory of a small device). */
static int hash_member(const tar_t *t, const tar_ent_t *e, char ret_digest[72], char *err,
                       size_t errlen) {
  mbedtls_sha256_context c;
  mbedtls_sha256_init(&c);
  mbedtls_sha256_starts_ret(&c, 0);
  uint8_t *chunk = xmalloc(CHUNK);
  int r = 0;
  for (uint64_t off = 0; off < e->size;) {
    size_t n = e->size - off > CHUNK ? CHUNK : (size_t)(e->size - off);
    if (pread(t->fd, chunk, n, (off_t)(e->off + off)) != (ssize_t)n) {
      errbuf_set(err, errlen, "%s: short read", e->name);
      r = -EIO;
      break;
    }
    mbedtls_sha256_update_ret(&c, chunk, n);
    off += n;
  }
  unsigned char sum[32];
  mbedtls_sha256_finish_ret(&c, sum);
  mbedtls_sha256_free(&c);
  free(chunk);
  if (r < 0)
    return r;
  memcpy(ret_digest, "sha256:", 7);
  for (int i = 0; i < 32; i++)
    snprintf(ret_digest + 7 + 2 * i, 3, "%02x", sum[i]);
  return 0;
}

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- synchronous calls on a private loop --- */

typedef struct {
  struct ev_loop *loop;
  cri_client_t *c;
  const char *snapshotter;
  char lease[64];
  tar_t tar;
  char *err;
  size_t errlen;
} imp_t;

typedef struct {
  bool done;
  cri_code_t code;
  char msg[512];
  buf_t last; /* the last response message */
} wait_t;

static void wait_cb(void *data, const cri_status_t *st, const cri__msg_t *msgs, size_t n) {
  wait_t *w = data;
  w->done = true;
  w->code = st->code;
  snprintf(w->msg, sizeof w->msg, "%s", st->message);
  if (n)
    buf_append(&w->last, msgs[n - 1].data, msgs[n - 1].len);
}

static int finish_wait(imp_t *m, wait_t *w, const char *what) {
  while (!w->done)
    ev_run(m->loop, EVRUN_ONCE);
  if (w->code == CRI_OK)
    return 0;
  cri_status_t st = {w->code, w->msg};
  if (what)
    errbuf_set(m->err, m->errlen, "%s: %s", what, w->msg);
  return cri_status_errno(&st);
}

/* One unary call of containerd's API in namespace k8s.io. */
static int call(imp_t *m, const char *path, const proto_writer_t *req, wait_t *w,
                const char *what) {
  buf_init(&w->last, CRI_MSG_MAX);
  w->done = false;
  cri__call_opts_t o = {.path = path, .ns = NS, .lease = m->lease[0] ? m->lease : NULL};
  int r = cri__call(m->c, &o, req, wait_cb, w);
  if (r < 0) {
    errbuf_set(m->err, m->errlen, "%s: request too large", what);
    return r;
  }
  return finish_wait(m, w, what);
}

static int call0(imp_t *m, const char *path, const proto_writer_t *req, const char *what) {
  wait_t w;
  int r = call(m, path, req, &w, what);
  buf_done(&w.last);
  return r;
}

/* --- content --- */

/* A blob to write: a tarball member, or bytes in memory (the manifest
 * written for a docker-archive image). */
typedef struct {
  const char *media_type; /* NULL when the manifest named none */
  char digest[72];        /* "sha256:<hex>" */
  uint64_t size;
  const tar_ent_t *e; /* NULL: mem */
  const char *mem;
} blob_t;

typedef struct {
  imp_t *m;
  const blob_t *b;
  char ref[96];
  cri_map_t labels;
  uint64_t sent;
  bool committed;
  proto_writer_t msg; /* the framed message being handed out */
  size_t msg_off;
  uint8_t *chunk;
} write_t;

/* WriteContentRequest {1 action, 2 ref, 3 total, 4 expected, 5 offset,
 * 6 data, 7 labels}: WRITE (1) messages of CHUNK bytes, then COMMIT (2). */
static ssize_t write_pull(void *data, uint8_t *buf, size_t len) {
  write_t *x = data;
  const blob_t *b = x->b;
  if (x->msg_off == proto_writer_len(&x->msg)) {
    if (x->committed)
      return 0;
    proto_writer_done(&x->msg);
    proto_writer_init(&x->msg, CHUNK + 4096);
    uint8_t pre[5];
    size_t n = b->size - x->sent > CHUNK ? CHUNK : (size_t)(b->size - x->sent);
    if (n && b->e && pread(x->m->tar.fd, x->chunk, n, (off_t)(b->e->off + x->sent)) != (ssize_t)n)
      return -EIO;
    if (n && !b->e)
      memcpy(x->chunk, b->mem + x->sent, n);
    bool last = x->sent + n == b->size;
    proto_writer_t body;
    proto_writer_init(&body, CHUNK + 4096);
    proto_put_varint(&body, 1, last ? 2 : 1);
    proto_put_string(&body, 2, x->ref);
    proto_put_int64(&body, 3, (int64_t)b->size);
    proto_put_string(&body, 4, b->digest);
    proto_put_int64(&body, 5, (int64_t)x->sent);
    if (n)
      proto_put_bytes(&body, 6, x->chunk, n);
    if (last)
      cri__put_map(&body, 7, x->labels);
    cri__frame_prefix(pre, proto_writer_len(&body));
    buf_append(&x->msg.buf, pre, 5);
    buf_append(&x->msg.buf, proto_writer_data(&body), proto_writer_len(&body));
    proto_writer_done(&body);
    x->msg_off = 0;
    x->sent += n;
    x->committed = last;
  }
  size_t n = proto_writer_len(&x->msg) - x->msg_off;
  if (n > len)
    n = len;
  memcpy(buf, proto_writer_data(&x->msg) + x->msg_off, n);
  x->msg_off += n;
  return (ssize_t)n;
}

static int content_exists(imp_t *m, const char *digest) {
  proto_writer_t w;
  proto_writer_init(&w, 256);
  proto_put_string(&w, 1, digest);
  wait_t wt;
  buf_init(&wt.last, CRI_MSG_MAX);
  wt.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.content.v1.Content/Info", .ns = NS};
  int r = cri__call(m->c, &o, &w, wait_cb, &wt);
  proto_writer_done(&w);
  if (r == 0)
    r = finish_wait(m, &wt, NULL);
  buf_done(&wt.last);
  if (r == 0)
    return 1;
  if (r == -ENOENT)
    return 0;
  errbuf_set(m->err, m->errlen, "content info %s: %s", digest, wt.msg);
  return r;
}

static int content_write(imp_t *m, const blob_t *b, cri_map_t labels) {
  int r = content_exists(m, b->digest);
  if (r != 0)
    return r < 0 ? r : 0;
  write_t x = {.m = m, .b = b, .labels = labels};
  snprintf(x.ref, sizeof x.ref, "k3c-import-%s", b->digest);
  proto_writer_init(&x.msg, 16);
  x.chunk = xmalloc(CHUNK);
  wait_t w;
  buf_init(&w.last, CRI_MSG_MAX);
  w.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.content.v1.Content/Write",
                        .ns = NS,
                        .lease = m->lease,
                        .timeout_ms = 30 * 60 * 1000,
                        .max_msgs = 65536};
  char what[128];
  snprintf(what, sizeof what, "content write %s", b->digest);
  r = cri__call_stream(m->c, &o, write_pull, &x, wait_cb, &w);
  if (r == 0)
    r = finish_wait(m, &w, what);
  if (r == -EEXIST)
    r = 0; /* written meanwhile */
  buf_done(&w.last);
  proto_writer_done(&x.msg);
  free(x.chunk);
  return r;
}

/* --- snapshots and diff --- */

/* Mounts returned by Prepare (repeated containerd.types.Mount = 1) are
 * passed to Apply as they came: copy the raw fields. */
static int prepare(imp_t *m, const char *key, const char *parent, const char *chain,
                   buf_t *ret_mounts) {
  proto_writer_t w;
  proto_writer_init(&w, 4096);
  proto_put_string(&w, 1, m->snapshotter);
  proto_put_string(&w, 2, key);
  cri__put_str(&w, 3, parent);
  proto_put_map_str(&w, 4, "containerd.io/snapshot.ref", chain);
  wait_t wt;
  int r = call(m, "/containerd.services.snapshots.v1.Snapshots/Prepare", &w, &wt,
               "snapshot prepare");
  proto_writer_done(&w);
  if (r == 0) {
    proto_reader_t rd;
    proto_field_t f;
    proto_reader_init(&rd, wt.last.data, wt.last.len);
    while ((r = proto_reader_next(&rd, &f)) > 0)
      if (f.num == 1 && f.wt == PROTO_LEN) {
        uint8_t h[20];
        size_t hn = proto_varint_encode(h, 2 << 3 | PROTO_LEN); /* ApplyRequest.mounts = 2 */
        hn += proto_varint_encode(h + hn, f.len);
        buf_append(ret_mounts, h, hn);
        buf_append(ret_mounts, f.data, f.len);
      }
    if (r < 0)
      errbuf_set(m->err, m->errlen, "snapshot prepare: bad reply");
  }
  buf_done(&wt.last);
  return r;
}

static int snapshot_exists(imp_t *m, const char *key) {
  proto_writer_t w;
  proto_writer_init(&w, 1024);
  proto_put_string(&w, 1, m->snapshotter);
  proto_put_string(&w, 2, key);
  wait_t wt;
  buf_init(&wt.last, CRI_MSG_MAX);
  wt.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.snapshots.v1.Snapshots/Stat", .ns = NS};
  int r = cri__call(m->c, &o, &w, wait_cb, &wt);
  proto_writer_done(&w);
  if (r == 0)
    r = finish_wait(m, &wt, NULL);
  buf_done(&wt.last);
  if (r == 0)
    return 1;
  if (r == -ENOENT)
    return 0;
  errbuf_set(m->err, m->errlen, "snapshot stat %s: %s", key, wt.msg);
  return r;
}

static void put_descriptor(proto_writer_t *w, uint32_t num, const char *media_type,
                           const char *digest, int64_t size) {
  size_t d = proto_msg_begin(w, num);
  cri__put_str(w, 1, media_type);
  proto_put_string(w, 2, digest);
  proto_put_int64(w, 3, size);
  proto_msg_end(w, d);
}

static int unpack_layer(imp_t *m, const blob_t *layer, const char *parent, const char *chain,
                        unsigned seq) {
  int r = snapshot_exists(m, chain);
  if (r != 0)
    return r < 0 ? r : 0;
  char key[160];
  snprintf(key, sizeof key, "extract-%ld-%u %s", (long)getpid(), seq, chain);
  buf_t mounts;
  buf_init(&mounts, CRI_MSG_MAX);
  if ((r = prepare(m, key, parent, chain, &mounts)) < 0) {
    buf_done(&mounts);
    return r;
  }
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  put_descriptor(&w, 1, layer->media_type, layer->digest, (int64_t)layer->size);
  if (mounts.len)
    buf_append(&w.buf, mounts.data, mounts.len);
  buf_done(&mounts);
  r = call0(m, "/containerd.services.diff.v1.Diff/Apply", &w, "apply layer");
  proto_writer_done(&w);
  if (r == 0) {
    proto_writer_init(&w, 4096);
    proto_put_string(&w, 1, m->snapshotter);
    proto_put_string(&w, 2, chain);
    proto_put_string(&w, 3, key);
    proto_put_map_str(&w, 4, "containerd.io/snapshot.ref", chain);
    r = call0(m, "/containerd.services.snapshots.v1.Snapshots/Commit", &w, "snapshot commit");
    proto_writer_done(&w);
    if (r == -EEXIST)
      r = 0;
  }
  if (r < 0) { /* do not leave the extraction snapshot behind */
    char keep[512];
    snprintf(keep, sizeof keep, "%s", m->err ? m->err : "");
    proto_writer_init(&w, 1024);
    proto_put_string(&w, 1, m->snapshotter);
    proto_put_string(&w, 2, key);
    call0(m, "/containerd.services.snapshots.v1.Snapshots/Remove", &w, NULL);
    proto_writer_done(&w);
    if (m->err)
      errbuf_set(m->err, m->errlen, "%s", keep);
  }
  return r;
}

/* Wait (up to 10 s) for CRI to list name: it adopts images from events. */
static void cri_seen_cb(void *data, const cri_status_t *st, const cri_image_t *image) {
  int *state = data;
  *state = image ? 1 : 2;
}

static bool wait_cri_sees(imp_t *m, const char *name) {
  for (int i = 0; i < 100; i++) {
    int state = 0;
    if (cri_image_status(m->c, name, cri_seen_cb, &state) < 0)
      return false;
    while (!state)
      ev_run(m->loop, EVRUN_ONCE);
    if (state == 1)
      return true;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

/* --- one image, whatever the tarball's format --- */

/* What import_image needs: the manifest (its blob names the image), the
 * config and its parsed JSON (for the diff_ids), the layers. */
typedef struct {
  blob_t manifest, config;
  const cJSON *cfg;
  blob_t *layers;
  size_t nl;
} img_t;

/* Chain IDs (image-spec config.md "Layer ChainID") from the config's
 * rootfs.diff_ids, one per layer; caller frees *ret. */
static int chain_ids(imp_t *m, const char *name, const img_t *img, char (**ret)[72]) {
  const cJSON *diffs = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(img->cfg, "rootfs"), "diff_ids");
  if (!cJSON_IsArray(diffs) || (size_t)cJSON_GetArraySize(diffs) != img->nl) {
    errbuf_set(m->err, m->errlen, "%s: number of layers and diff_ids differ", name);
    return -EBADMSG;
  }
  char (*chain)[72] = xcalloc(img->nl + 1, sizeof *chain);
  for (size_t i = 0; i < img->nl; i++) {
    const char *d = cJSON_GetArrayItem(diffs, (int)i)->valuestring;
    if (!d || strlen(d) != 71 || strncmp(d, "sha256:", 7)) {
      errbuf_set(m->err, m->errlen, "%s: bad diff_id", name);
      free(chain);
      return -EBADMSG;
    }
    if (i == 0) {
      snprintf(chain[0], sizeof chain[0], "%s", d);
    } else {
      char in[160], hex[65];
      int n = snprintf(in, sizeof in, "%s %s", chain[i - 1], d);
      tls_sha256_hex(in, (size_t)n, hex);
      snprintf(chain[i], sizeof chain[i], "sha256:%s", hex);
    }
  }
  *ret = chain;
  return 0;
}

/* Write the blobs, unpack the layers, create an image record per name
 * (Create, or Update when the name exists) and wait until CRI lists each;
 * *count grows by the names done. */
static int import_image(imp_t *m, const img_t *img, const char *const *names, size_t nnames,
                        unsigned *seq, size_t *count) {
  char(*chain)[72] = NULL;
  int r = chain_ids(m, names[0], img, &chain);
  if (r < 0)
    return r;
  size_t nl = img->nl;
  /* Blobs: layers, then the config (keeps the unpacked snapshot), then the
   * manifest (keeps the config and layers). */
  for (size_t i = 0; i < nl && r == 0; i++)
    r = content_write(m, &img->layers[i], (cri_map_t){0});
  if (r < 0)
    goto out;
  char gckey[96];
  snprintf(gckey, sizeof gckey, "containerd.io/gc.ref.snapshot.%s", m->snapshotter);
  cri_kv_t cl[1] = {{gckey, nl ? chain[nl - 1] : ""}};
  if ((r = content_write(m, &img->config, (cri_map_t){cl, nl ? 1u : 0u})) < 0)
    goto out;
  cri_kv_t *ml = xcalloc(nl + 1, sizeof *ml);
  char(*mkeys)[64] = xcalloc(nl + 1, sizeof *mkeys);
  ml[0].key = "containerd.io/gc.ref.content.config";
  ml[0].value = img->config.digest;
  for (size_t i = 0; i < nl; i++) {
    snprintf(mkeys[i], sizeof mkeys[i], "containerd.io/gc.ref.content.l.%zu", i);
    ml[i + 1].key = mkeys[i];
    ml[i + 1].value = img->layers[i].digest;
  }
  r = content_write(m, &img->manifest, (cri_map_t){ml, nl + 1});
  free(ml);
  free(mkeys);
  for (size_t i = 0; i < nl && r == 0; i++)
    r = unpack_layer(m, &img->layers[i], i ? chain[i - 1] : "", chain[i], (*seq)++);
  for (size_t k = 0; k < nnames && r == 0; k++) {
    proto_writer_t w;
    proto_writer_init(&w, 8192);
    size_t im = proto_msg_begin(&w, 1);
    proto_put_string(&w, 1, names[k]);
    put_descriptor(&w, 3, img->manifest.media_type, img->manifest.digest,
                   (int64_t)img->manifest.size);
    proto_msg_end(&w, im);
    wait_t wt;
    buf_init(&wt.last, CRI_MSG_MAX);
    wt.done = false;
    cri__call_opts_t o = {.path = "/containerd.services.images.v1.Images/Create", .ns = NS};
    r = cri__call(m->c, &o, &w, wait_cb, &wt);
    if (r == 0)
      r = finish_wait(m, &wt, "image create");
    buf_done(&wt.last);
    if (r == -EEXIST)
      r = call0(m, "/containerd.services.images.v1.Images/Update", &w, "image update");
    proto_writer_done(&w);
    if (r == 0 && !wait_cri_sees(m, names[k])) {
      errbuf_set(m->err, m->errlen, "%s: imported, but CRI does not list it", names[k]);
      r = -ETIMEDOUT;
    }
    if (r == 0)
      (*count)++;
  }
out:
  free(chain);
  return r;
}

/* --- OCI image layout --- */

static int oci_image(imp_t *m, const char *name, const cJSON *desc, unsigned *seq,
                     size_t *count) {
  const char *mdigest = jstr(desc, "digest");
  const tar_ent_t *me = mdigest ? blob(&m->tar, mdigest) : NULL;
  int r = -EBADMSG;
  cJSON *man = NULL, *cfg = NULL;
  img_t img = {0};
  if (!me) {
    errbuf_set(m->err, m->errlen, "%s: manifest blob %s missing", name, mdigest ? mdigest : "?");
    goto out;
  }
  if (!(man = read_json(&m->tar, me, m->err, m->errlen)))
    goto out;
  const cJSON *config = cJSON_GetObjectItemCaseSensitive(man, "config");
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(man, "layers");
  const char *cdigest = jstr(config, "digest");
  const tar_ent_t *ce = cdigest ? blob(&m->tar, cdigest) : NULL;
  if (!ce || !cJSON_IsArray(layers)) {
    errbuf_set(m->err, m->errlen, "%s: manifest without config or layers", name);
    goto out;
  }
  if (!(cfg = read_json(&m->tar, ce, m->err, m->errlen)))
    goto out;
  int nl = cJSON_GetArraySize(layers);
  if (nl > CRI_ARCHIVE_LAYERS_MAX) {
    errbuf_set(m->err, m->errlen, "%s: more than %d layers", name, CRI_ARCHIVE_LAYERS_MAX);
    goto out;
  }
  const char *mtype = jstr(desc, "mediaType");
  img.manifest = (blob_t){.media_type = mtype ? mtype : "application/vnd.oci.image.manifest.v1+json",
                          .size = me->size, .e = me};
  snprintf(img.manifest.digest, sizeof img.manifest.digest, "%s", mdigest);
  img.config = (blob_t){.media_type = jstr(config, "mediaType"), .size = ce->size, .e = ce};
  snprintf(img.config.digest, sizeof img.config.digest, "%s", cdigest);
  img.cfg = cfg;
  img.layers = xcalloc((size_t)nl + 1, sizeof *img.layers);
  for (int i = 0; i < nl; i++) {
    const cJSON *l = cJSON_GetArrayItem(layers, i);
    const char *ld = jstr(l, "digest");
    const tar_ent_t *le = ld ? blob(&m->tar, ld) : NULL;
    if (!le) {
      errbuf_set(m->err, m->errlen, "%s: layer blob %s missing", name, ld ? ld : "?");
      goto out;
    }
    img.layers[i] = (blob_t){.media_type = jstr(l, "mediaType"), .size = le->size, .e = le};
    snprintf(img.layers[i].digest, sizeof img.layers[i].digest, "%s", ld);
  }
  img.nl = (size_t)nl;
  r = import_image(m, &img, &name, 1, seq, count);
out:
  free(img.layers);
  cJSON_Delete(man);
  cJSON_Delete(cfg);
  return r;
}

/* Each manifest of index.json with an io.containerd.image.name. */
static int oci_layout(imp_t *m, const cJSON *index, unsigned *seq, size_t *count) {
  const cJSON *mans = cJSON_GetObjectItemCaseSensitive(index, "manifests");
  const cJSON *d;
  int r = 0;
  cJSON_ArrayForEach(d, mans) {
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(d, "annotations");
    const char *name = jstr(ann, "io.containerd.image.name");
    if (!name)
      continue; /* a reference name alone would need a base name */
    if ((r = oci_image(m, name, d, seq, count)) < 0)
      break;
  }
  return r;
}

/* --- docker-archive (docker save) --- */

/* One manifest.json entry: the layers are blobs as they are in the
 * tarball (digest = sha256 of the member; gzip ones stay compressed, as
 * containerd's diff service decompresses them), the config as it is, and
 * a schema 2 manifest written here names the image. */
static int docker_image(imp_t *m, const cri_archive_image_t *di, unsigned *seq, size_t *count) {
  const char *name = di->tags[0];
  int r = -EBADMSG;
  cJSON *cfg = NULL;
  char *man = NULL;
  cri_archive_desc_t *descs = NULL;
  img_t img = {0};
  const tar_ent_t *ce = tar_find(&m->tar, di->config);
  if (!ce) {
    errbuf_set(m->err, m->errlen, "%s: config %s missing", name, di->config);
    goto out;
  }
  if (!(cfg = read_json(&m->tar, ce, m->err, m->errlen)))
    goto out;
  img.config = (blob_t){.media_type = CRI_ARCHIVE_MT_CONFIG, .size = ce->size, .e = ce};
  if ((r = hash_member(&m->tar, ce, img.config.digest, m->err, m->errlen)) < 0)
    goto out;
  img.cfg = cfg;
  const cJSON *diffs = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cfg, "rootfs"), "diff_ids");
  img.layers = xcalloc(di->nlayers + 1, sizeof *img.layers);
  descs = xcalloc(di->nlayers + 1, sizeof *descs);
  for (size_t i = 0; i < di->nlayers; i++) {
    const tar_ent_t *le = tar_find(&m->tar, di->layers[i]);
    blob_t *b = &img.layers[i];
    uint8_t head[2] = {0, 0};
    r = -EBADMSG;
    if (!le) {
      errbuf_set(m->err, m->errlen, "%s: layer %s missing", name, di->layers[i]);
      goto out;
    }
    if (le->size >= 2 && pread(m->tar.fd, head, 2, (off_t)le->off) != 2) {
      errbuf_set(m->err, m->errlen, "%s: short read", le->name);
      goto out;
    }
    bool gz = cri_archive_is_gzip(head, le->size >= 2 ? 2 : 0);
    *b = (blob_t){.media_type = gz ? CRI_ARCHIVE_MT_LAYER_GZIP : CRI_ARCHIVE_MT_LAYER,
                  .size = le->size, .e = le};
    if ((r = hash_member(&m->tar, le, b->digest, m->err, m->errlen)) < 0)
      goto out;
    /* An uncompressed layer is its own diff: a mismatch would commit a
     * snapshot under a chain ID it does not have. */
    const cJSON *d = cJSON_GetArrayItem(diffs, (int)i);
    if (!gz && cJSON_IsString(d) && strcmp(d->valuestring, b->digest)) {
      errbuf_set(m->err, m->errlen, "%s: layer %s is %s, the config's diff_id says %.71s", name,
                 di->layers[i], b->digest, d->valuestring);
      r = -EBADMSG;
      goto out;
    }
    descs[i] = (cri_archive_desc_t){b->media_type, b->digest, b->size};
  }
  img.nl = di->nlayers;
  cri_archive_desc_t cd = {img.config.media_type, img.config.digest, img.config.size};
  man = cri_archive_manifest_v2(&cd, descs, di->nlayers);
  img.manifest = (blob_t){.media_type = CRI_ARCHIVE_MT_MANIFEST, .size = strlen(man), .mem = man};
  char hex[65];
  tls_sha256_hex(man, strlen(man), hex);
  snprintf(img.manifest.digest, sizeof img.manifest.digest, "sha256:%s", hex);
  r = import_image(m, &img, (const char *const *)di->tags, di->ntags, seq, count);
out:
  free(descs);
  free(img.layers);
  free(man);
  cJSON_Delete(cfg);
  return r;
}

/* Each manifest.json entry with a RepoTag (an untagged image would have
 * no name to be found by). */
static int docker_archive(imp_t *m, const cri_archive_manifest_t *dm, unsigned *seq,
                          size_t *count) {
  int r = 0;
  for (size_t i = 0; i < dm->n && r == 0; i++)
    if (dm->v[i].ntags)
      r = docker_image(m, &dm->v[i], seq, count);
  return r;
}

int cri_image_import(const char *socket_path, const char *tar_path, const char *snapshotter,
                     size_t *ret_count, char *err, size_t errlen) {
  imp_t m = {.snapshotter = snapshotter ? snapshotter : "overlayfs", .err = err,
             .errlen = errlen};
  cJSON *index = NULL;
  cri_archive_manifest_t dm = {0};
  size_t count = 0;
  unsigned seq = 0;
  int r;
  if (err && errlen)
    err[0] = 0;
  m.tar.fd = -1;
  if ((r = tar_open(&m.tar, tar_path, err, errlen)) < 0)
    goto out;
  const tar_ent_t *mj = tar_find(&m.tar, "manifest.json");
  cri_archive_format_t fmt = cri_archive_format(tar_find(&m.tar, "oci-layout") != NULL,
                                                tar_find(&m.tar, "index.json") != NULL, mj != NULL);
  if (fmt == CRI_ARCHIVE_UNKNOWN) {
    errbuf_set(err, errlen,
               "%s: neither an OCI image layout (index.json) nor a docker-archive (manifest.json)",
               tar_path);
    r = -EBADMSG;
    goto out;
  }
  if (fmt == CRI_ARCHIVE_OCI &&
      !(index = read_json(&m.tar, tar_find(&m.tar, "index.json"), err, errlen))) {
    r = -EBADMSG;
    goto out;
  }
  if (fmt == CRI_ARCHIVE_DOCKER) {
    char *s = read_member(&m.tar, mj, JSON_MAX, err, errlen);
    if (!s) {
      r = -EBADMSG;
      goto out;
    }
    r = cri_archive_manifest_parse(s, mj->size, &dm, err, errlen);
    free(s);
    if (r < 0)
      goto out;
  }
  m.loop = ev_loop_new(EVFLAG_AUTO);
  if ((r = cri_client_new(m.loop, socket_path, &m.c)) < 0) {
    errbuf_set(err, errlen, "bad socket path %s", socket_path);
    goto out;
  }
  /* A lease keeps what is written from the garbage collector until the
   * image record and labels reference it; it expires by itself if this
   * process dies half-way. */
  snprintf(m.lease, sizeof m.lease, "k3c-import-%ld-%ld", (long)getpid(), (long)time(NULL));
  char expire[32];
  time_t t = time(NULL) + 3600;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(expire, sizeof expire, "%Y-%m-%dT%H:%M:%SZ", &tm);
  proto_writer_t w;
  proto_writer_init(&w, 1024);
  proto_put_string(&w, 1, m.lease);
  proto_put_map_str(&w, 3, "containerd.io/gc.expire", expire);
  char lease[64];
  snprintf(lease, sizeof lease, "%s", m.lease);
  m.lease[0] = 0; /* the lease cannot be used to create itself */
  r = call0(&m, "/containerd.services.leases.v1.Leases/Create", &w, "lease create");
  proto_writer_done(&w);
  if (r < 0)
    goto out;
  snprintf(m.lease, sizeof m.lease, "%s", lease);

  r = fmt == CRI_ARCHIVE_OCI ? oci_layout(&m, index, &seq, &count)
                             : docker_archive(&m, &dm, &seq, &count);
  /* Everything is referenced now; the lease may go. */
  char keep[512];
  snprintf(keep, sizeof keep, "%s", err ? err : "");
  m.lease[0] = 0;
  proto_writer_init(&w, 256);
  proto_put_string(&w, 1, lease);
  call0(&m, "/containerd.services.leases.v1.Leases/Delete", &w, NULL);
  proto_writer_done(&w);
  if (err && errlen)
    snprintf(err, errlen, "%s", keep);
  if (r == 0 && count == 0) {
    errbuf_set(err, errlen, "%s: %s", tar_path,
               fmt == CRI_ARCHIVE_OCI ? "no manifest with an io.containerd.image.name annotation"
                                      : "no image with a RepoTag in manifest.json");
    r = -ENOENT;
  }
out:
  cri_client_free(m.c);
  if (m.loop)
    ev_loop_destroy(m.loop);
  cJSON_Delete(index);
  cri_archive_manifest_done(&dm);
  tar_close(&m.tar);
  if (r == 0 && ret_count)
    *ret_count = count;
  return r;
}
